// SPDX-License-Identifier: GPL-2.0-only

/// Where a radio listens or a frame is sent on the simulated air: the
/// primary 20 MHz channel and the width of the whole channel around it
/// (20, 40 or 80 MHz), on 2.4 or 5 GHz.
public struct AirChannel: Sendable, Hashable, CustomStringConvertible {
    /// Channel number of the primary 20 MHz channel (1-14, 36-177).
    public let primary: Int
    /// 20, 40 or 80.
    public let widthMHz: Int
    /// Channel number of the whole channel's center (= primary at 20 MHz).
    public let center: Int

    /// nil when `primary`/`center`/`width` do not describe a channel the
    /// 802.11 channel plan has (center off the primary's 40/80 MHz block).
    public init?(primary: Int, widthMHz: Int = 20, center: Int? = nil) {
        guard AirChannel.frequencyMHz(ofChannel: primary) != nil else { return nil }
        let center = center ?? AirChannel.defaultCenter(primary: primary, widthMHz: widthMHz)
        guard let center else { return nil }
        switch widthMHz {
        case 20: guard center == primary else { return nil }
        case 40: guard abs(center - primary) == 2 else { return nil }
        case 80: guard primary >= 36, abs(center - primary) == 2 || abs(center - primary) == 6 else { return nil }
        default: return nil
        }
        self.primary = primary
        self.widthMHz = widthMHz
        self.center = center
    }

    public var primaryMHz: Int { AirChannel.frequencyMHz(ofChannel: primary)! }
    public var centerMHz: Int { AirChannel.frequencyMHz(ofChannel: center)! }
    public var is5GHz: Bool { primary >= 36 }

    public var description: String {
        widthMHz == 20 ? "\(primary)" : "\(primary) (\(widthMHz) MHz around \(center))"
    }

    /// Hears a frame sent on `other`: the same primary 20 MHz channel and
    /// a frame the receiver's bandwidth covers (a 20 or 40 MHz frame inside
    /// an 80 MHz receiver is heard; an 80 MHz frame by a 20 MHz receiver is not).
    public func hears(_ other: AirChannel) -> Bool {
        other.primary == primary && abs(other.centerMHz - centerMHz) + other.widthMHz / 2 <= widthMHz / 2
    }

    /// MHz of a 2.4 or 5 GHz channel number (nil: not one).
    public static func frequencyMHz(ofChannel channel: Int) -> Int? {
        switch channel {
        case 1...13: return 2407 + 5 * channel
        case 14: return 2484
        case 32...177: return 5000 + 5 * channel
        default: return nil
        }
    }

    /// The center the 5 GHz 40/80 MHz blocks give a primary (802.11 Annex E);
    /// 2.4 GHz 40 MHz: above the primary where it fits (HT40+), else below.
    static func defaultCenter(primary: Int, widthMHz: Int) -> Int? {
        switch widthMHz {
        case 20:
            return primary
        case 40:
            if primary >= 36 { return (primary / 4) % 2 == 1 ? primary + 2 : primary - 2 }
            return primary <= 9 ? primary + 2 : primary - 2
        case 80:
            let blocks = [42, 58, 106, 122, 138, 155, 171]
            return blocks.first { abs($0 - primary) <= 6 && (abs($0 - primary) == 2 || abs($0 - primary) == 6) }
        default:
            return nil
        }
    }
}

/// The modulation a frame is sent with (what radiotap reports back).
public enum AirRate: Sendable, Hashable, CustomStringConvertible {
    /// 802.11b/g rates: 1000, 2000, 5500, 11000 (CCK), 6000...54000 (OFDM).
    case legacy(kbps: Int)
    /// HT MCS 0-31.
    case ht(mcs: Int)
    /// VHT MCS 0-9 with 1-4 spatial streams.
    case vht(mcs: Int, streams: Int)

    public static let cckKbps = [1000, 2000, 5500, 11000]
    public static let ofdmKbps = [6000, 9000, 12000, 18000, 24000, 36000, 48000, 54000]

    public var isCCK: Bool {
        if case .legacy(let kbps) = self { return AirRate.cckKbps.contains(kbps) }
        return false
    }

    public var description: String {
        switch self {
        case .legacy(let kbps): kbps % 1000 == 0 ? "\(kbps / 1000) Mb/s" : "\(Double(kbps) / 1000) Mb/s"
        case .ht(let mcs): "HT MCS \(mcs)"
        case .vht(let mcs, let streams): "VHT MCS \(mcs) NSS \(streams)"
        }
    }

    /// Whether a rate is one 802.11 defines (and a 1-stream radio can
    /// decode when `streams` > 1 is excluded by the receiver itself).
    public var isValid: Bool {
        switch self {
        case .legacy(let kbps): AirRate.cckKbps.contains(kbps) || AirRate.ofdmKbps.contains(kbps)
        case .ht(let mcs): (0...31).contains(mcs)
        case .vht(let mcs, let streams): (0...9).contains(mcs) && (1...4).contains(streams)
        }
    }
}
