// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// Regulatory and capability flags of one channel.
public struct FrequencyFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let disabled = FrequencyFlags(rawValue: 1 << 0)
    /// No initiating radiation (passive only): no beaconing or injection.
    public static let noInitiatingRadiation = FrequencyFlags(rawValue: 1 << 1)
    public static let radar = FrequencyFlags(rawValue: 1 << 2)
    public static let noHT40Minus = FrequencyFlags(rawValue: 1 << 3)
    public static let noHT40Plus = FrequencyFlags(rawValue: 1 << 4)
    public static let no80MHz = FrequencyFlags(rawValue: 1 << 5)
    public static let no160MHz = FrequencyFlags(rawValue: 1 << 6)
    public static let indoorOnly = FrequencyFlags(rawValue: 1 << 7)

    static let labels: [(FrequencyFlags, String)] = [
        (.disabled, "disabled"), (.noInitiatingRadiation, "no-IR"), (.radar, "radar"),
        (.noHT40Minus, "no-HT40-"), (.noHT40Plus, "no-HT40+"), (.no80MHz, "no-80MHz"),
        (.no160MHz, "no-160MHz"), (.indoorOnly, "indoor-only"),
    ]

    public var labels: [String] { Self.labels.filter { contains($0.0) }.map(\.1) }
}

public struct WiphyFrequency: Sendable, Hashable, Codable {
    public var mhz: Int
    public var flags: FrequencyFlags
    /// Maximum transmit power in mBm (100 * dBm), when reported.
    public var maximumTXPowerMBm: Int?

    public var channel: Int? { ChannelPlan.channel(forFrequency: mhz) }
}

public struct WiphyBand: Sendable, Hashable, Codable {
    public var band: WirelessBand
    public var frequencies: [WiphyFrequency]
    /// Legacy bitrates in kbit/s.
    public var bitratesKbps: [Int]
    public var htCapabilities: UInt16?
    public var vhtCapabilities: UInt32?
}

/// What `iw phy` prints: one radio's capabilities.
public struct WiphyInfo: Sendable, Hashable, Codable {
    public var index: Int
    public var name: String
    public var bands: [WiphyBand] = []
    public var supportedInterfaceTypes: [InterfaceType] = []
    public var softwareInterfaceTypes: [InterfaceType] = []
    public var featureFlags: UInt32 = 0
    public var supportsTXPowerSetting = false
    public var antennaAvailableTX: UInt32?
    public var antennaAvailableRX: UInt32?
    public var antennaTX: UInt32?
    public var antennaRX: UInt32?

    public var supportsActiveMonitor: Bool { featureFlags & NL80211.featureActiveMonitor != 0 }

    /// Monitor flags this radio accepts.
    public var supportedMonitorFlags: MonitorFlags {
        supportsActiveMonitor ? [.fcsFail, .plcpFail, .control, .otherBSS, .active] : [.fcsFail, .plcpFail, .control, .otherBSS]
    }

    public var allFrequencies: [WiphyFrequency] { bands.flatMap(\.frequencies) }

    /// Frequencies that can be tuned to (not disabled), in band order.
    public var usableFrequencies: [WiphyFrequency] { allFrequencies.filter { !$0.flags.contains(.disabled) } }

    /// Checks that `spec` can be tuned; throws with the list of valid
    /// channels otherwise.
    public func validate(_ spec: ChannelSpec, deviceName: String) throws {
        let usable = usableFrequencies
        guard let control = usable.first(where: { $0.mhz == spec.frequency }) else {
            throw WirelessError.unknownChannel(
                spec, device: deviceName, valid: usable.map { ChannelPlan.label(forFrequency: $0.mhz) })
        }
        func refuse(_ reason: String) throws -> Never {
            throw WirelessError.channelNotUsable(spec, device: deviceName, reason: reason)
        }
        switch spec.width {
        case .noHT:
            break
        case .ht20:
            if !bands.contains(where: { $0.htCapabilities != nil && $0.frequencies.contains { $0.mhz == spec.frequency } }) {
                try refuse("the radio has no HT (802.11n) support in this band")
            }
        case .ht40Plus, .ht40Minus:
            let plus = spec.width == .ht40Plus
            if control.flags.contains(plus ? .noHT40Plus : .noHT40Minus) {
                try refuse("the secondary channel \(plus ? "above" : "below") is not allowed here (\(plus ? "no-HT40+" : "no-HT40-"))")
            }
        case .vht80:
            if control.flags.contains(.no80MHz) { try refuse("80 MHz is not allowed here (no-80MHz)") }
            if spec.centerFrequency1 == nil { try refuse("80 MHz channels exist only in the 5 and 6 GHz bands") }
        }
    }
}

/// One network interface that belongs to a wiphy.
public struct WirelessInterface: Sendable, Hashable, Codable {
    public var index: Int
    public var name: String
    public var wiphy: Int
    public var type: InterfaceType
    public var macAddress: [UInt8]
    public var frequency: Int?
    public var channelWidth: UInt32?
    public var centerFrequency1: Int?
    /// Current transmit power in mBm, when reported.
    public var txPowerMBm: Int?

    public var macAddressText: String { macAddress.map { hexString($0, digits: 2) }.joined(separator: ":") }
}

/// The regulatory domain in force.
public struct RegulatoryDomain: Sendable, Hashable, Codable {
    /// "00" is the world domain.
    public var alpha2: String
    public var dfsRegion: UInt8?
    public var rules: [RegulatoryRule]

    public var isWorld: Bool { alpha2 == "00" }

    public var summary: String {
        isWorld ? "world (00), from the built-in regulatory.db" : "\(alpha2), from the built-in regulatory.db"
    }
}

public struct RegulatoryRule: Sendable, Hashable, Codable {
    public var startKHz: UInt32
    public var endKHz: UInt32
    public var maximumBandwidthKHz: UInt32
    public var maximumEIRPMBm: UInt32
    public var flags: UInt32
}

