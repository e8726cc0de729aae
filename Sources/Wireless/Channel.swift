// SPDX-License-Identifier: GPL-2.0-only

/// Frequency bands (`enum nl80211_band`).
public enum WirelessBand: UInt16, Sendable, CaseIterable, CustomStringConvertible, Codable {
    case band2GHz = 0
    case band5GHz = 1
    case band60GHz = 2
    case band6GHz = 3
    case bandS1GHz = 4
    case bandLightCommunication = 5

    public var description: String {
        switch self {
        case .band2GHz: return "2.4 GHz"
        case .band5GHz: return "5 GHz"
        case .band60GHz: return "60 GHz"
        case .band6GHz: return "6 GHz"
        case .bandS1GHz: return "sub-1 GHz"
        case .bandLightCommunication: return "light communication"
        }
    }
}

/// Channel numbers and centre frequencies (IEEE 802.11 channel plans).
public enum ChannelPlan {
    /// The channel number of a 2.4/5/6 GHz centre frequency, if it has one.
    public static func channel(forFrequency mhz: Int) -> Int? {
        switch mhz {
        case 2484: return 14
        case 2412...2472 where (mhz - 2407) % 5 == 0: return (mhz - 2407) / 5
        case 5005...5895 where (mhz - 5000) % 5 == 0: return (mhz - 5000) / 5
        case 5955...7115 where (mhz - 5950) % 5 == 0: return (mhz - 5950) / 5
        case 4915...4980 where (mhz - 4000) % 5 == 0: return (mhz - 4000) / 5
        default: return nil
        }
    }

    /// The band of a centre frequency.
    public static func band(forFrequency mhz: Int) -> WirelessBand? {
        switch mhz {
        case 2400..<2500: return .band2GHz
        case 4900..<5935: return .band5GHz
        case 5935..<7200: return .band6GHz
        case 57000..<72000: return .band60GHz
        default: return nil
        }
    }

    /// "6", "36", or "6 GHz channel 5" for display.
    public static func label(forFrequency mhz: Int) -> String {
        guard let channel = channel(forFrequency: mhz) else { return "\(mhz) MHz" }
        return band(forFrequency: mhz) == .band6GHz ? "6g\(channel)" : "\(channel)"
    }

    /// Centre of the 80 MHz block containing a 5 GHz control channel.
    public static func eightyMHzCenter(forFrequency mhz: Int) -> Int? {
        // 5 GHz 80 MHz blocks start at channels 36, 52, 100, 116, 132, 149.
        let blockStarts = [5180, 5260, 5500, 5580, 5660, 5745]
        for start in blockStarts where mhz >= start && mhz < start + 80 { return start + 30 }
        if band(forFrequency: mhz) == .band6GHz {
            // 6 GHz blocks: channels 1-13 (5955-6015), 17-29, ...
            let offset = (mhz - 5955) / 80
            return 5955 + offset * 80 + 30
        }
        return nil
    }
}

/// Channel width and HT mode as requested for monitor mode.
public enum ChannelWidthMode: String, Sendable, CaseIterable, Codable {
    case noHT = "noht"
    case ht20 = "ht20"
    case ht40Plus = "ht40+"
    case ht40Minus = "ht40-"
    case vht80 = "80"

    public var widthMHz: Int {
        switch self {
        case .noHT, .ht20: return 20
        case .ht40Plus, .ht40Minus: return 40
        case .vht80: return 80
        }
    }
}

/// A channel to tune to: control frequency and width.
public struct ChannelSpec: Sendable, Hashable, CustomStringConvertible, Codable {
    public var frequency: Int
    public var width: ChannelWidthMode

    public init(frequency: Int, width: ChannelWidthMode = .noHT) {
        self.frequency = frequency
        self.width = width
    }

    /// Parses `6`, `6:ht40+`, `36:80`, `2437` (MHz), `6g5` (6 GHz channel 5).
    /// Widths: noht (default), ht20, ht40+, ht40-, 80.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        guard let first = parts.first, !first.isEmpty else { throw WirelessError.invalidChannelSyntax(text) }
        var width = ChannelWidthMode.noHT
        if parts.count == 2 {
            guard let parsed = ChannelWidthMode(rawValue: parts[1]) else { throw WirelessError.invalidChannelSyntax(text) }
            width = parsed
        }
        let frequency: Int
        if first.hasPrefix("6g"), let number = Int(first.dropFirst(2)), number > 0 {
            frequency = 5950 + 5 * number
        } else if let number = Int(first), number > 0 {
            if number >= 1000 {
                frequency = number
            } else if number == 14 {
                frequency = 2484
            } else if number < 14 {
                frequency = 2407 + 5 * number
            } else {
                frequency = 5000 + 5 * number
            }
        } else {
            throw WirelessError.invalidChannelSyntax(text)
        }
        self.init(frequency: frequency, width: width)
    }

    /// The nl80211 centre frequency 1 for this width.
    public var centerFrequency1: Int? {
        switch width {
        case .noHT, .ht20: return frequency
        case .ht40Plus: return frequency + 10
        case .ht40Minus: return frequency - 10
        case .vht80: return ChannelPlan.eightyMHzCenter(forFrequency: frequency)
        }
    }

    public var channelNumber: Int? { ChannelPlan.channel(forFrequency: frequency) }

    public var description: String {
        let label = ChannelPlan.label(forFrequency: frequency)
        return width == .noHT ? "\(label) (\(frequency) MHz)" : "\(label) \(width.rawValue) (\(frequency) MHz)"
    }
}
