// SPDX-License-Identifier: GPL-2.0-only

/// nl80211 numbers used by airtap, from include/uapi/linux/nl80211.h (7.3; the numbers are ABI, append-only).
public enum NL80211 {
    public static let familyName = "nl80211"

    public enum Command {
        public static let getWiphy: UInt8 = 1
        public static let setWiphy: UInt8 = 2
        public static let getInterface: UInt8 = 5
        public static let setInterface: UInt8 = 6
        public static let newInterface: UInt8 = 7
        public static let deleteInterface: UInt8 = 8
        public static let requestSetRegulatory: UInt8 = 27
        public static let getRegulatory: UInt8 = 31
    }

    public enum Attribute {
        public static let wiphy: UInt16 = 1
        public static let wiphyName: UInt16 = 2
        public static let interfaceIndex: UInt16 = 3
        public static let interfaceName: UInt16 = 4
        public static let interfaceType: UInt16 = 5
        public static let macAddress: UInt16 = 6
        public static let wiphyBands: UInt16 = 22
        public static let monitorFlags: UInt16 = 23
        public static let supportedInterfaceTypes: UInt16 = 32
        public static let regulatoryAlpha2: UInt16 = 33
        public static let regulatoryRules: UInt16 = 34
        public static let wiphyFrequency: UInt16 = 38
        public static let wiphyChannelType: UInt16 = 39
        public static let generation: UInt16 = 46
        public static let wiphyTXPowerSetting: UInt16 = 97
        public static let wiphyTXPowerLevel: UInt16 = 98
        public static let wiphyAntennaTX: UInt16 = 105
        public static let wiphyAntennaRX: UInt16 = 106
        public static let wiphyAntennaAvailableTX: UInt16 = 113
        public static let wiphyAntennaAvailableRX: UInt16 = 114
        public static let softwareInterfaceTypes: UInt16 = 121
        public static let featureFlags: UInt16 = 143
        public static let dfsRegion: UInt16 = 146
        public static let wirelessDevice: UInt16 = 153
        public static let channelWidth: UInt16 = 159
        public static let centerFrequency1: UInt16 = 160
        public static let centerFrequency2: UInt16 = 161
        public static let splitWiphyDump: UInt16 = 174
    }

    public enum BandAttribute {
        public static let frequencies: UInt16 = 1
        public static let rates: UInt16 = 2
        public static let htMCSSet: UInt16 = 3
        public static let htCapabilities: UInt16 = 4
        public static let vhtCapabilities: UInt16 = 8
    }

    public enum FrequencyAttribute {
        public static let frequency: UInt16 = 1
        public static let disabled: UInt16 = 2
        public static let noInitiatingRadiation: UInt16 = 3
        public static let radar: UInt16 = 5
        public static let maximumTXPower: UInt16 = 6
        public static let noHT40Minus: UInt16 = 9
        public static let noHT40Plus: UInt16 = 10
        public static let no80MHz: UInt16 = 11
        public static let no160MHz: UInt16 = 12
        public static let indoorOnly: UInt16 = 14
    }

    public enum BitrateAttribute {
        /// In units of 100 kbit/s.
        public static let rate: UInt16 = 1
    }

    public enum RegulatoryRuleAttribute {
        public static let flags: UInt16 = 1
        public static let rangeStart: UInt16 = 2
        public static let rangeEnd: UInt16 = 3
        public static let maximumBandwidth: UInt16 = 4
        public static let maximumEIRP: UInt16 = 6
    }

    public enum ChannelWidth {
        public static let twentyNoHT: UInt32 = 0
        public static let twenty: UInt32 = 1
        public static let forty: UInt32 = 2
        public static let eighty: UInt32 = 3
        public static let oneSixty: UInt32 = 5
    }

    public enum ChannelType {
        public static let noHT: UInt32 = 0
        public static let ht20: UInt32 = 1
        public static let ht40Minus: UInt32 = 2
        public static let ht40Plus: UInt32 = 3
    }

    /// `NL80211_FEATURE_ACTIVE_MONITOR` in NL80211_ATTR_FEATURE_FLAGS.
    public static let featureActiveMonitor: UInt32 = 1 << 17
}

/// `enum nl80211_iftype`.
public enum InterfaceType: UInt32, Sendable, CaseIterable, CustomStringConvertible, Codable {
    case unspecified = 0
    case adHoc = 1
    case station = 2
    case accessPoint = 3
    case accessPointVLAN = 4
    case wds = 5
    case monitor = 6
    case meshPoint = 7
    case p2pClient = 8
    case p2pGroupOwner = 9
    case p2pDevice = 10
    case outsideContextOfBSS = 11
    case nan = 12

    public var description: String {
        switch self {
        case .unspecified: return "unspecified"
        case .adHoc: return "IBSS"
        case .station: return "managed"
        case .accessPoint: return "AP"
        case .accessPointVLAN: return "AP/VLAN"
        case .wds: return "WDS"
        case .monitor: return "monitor"
        case .meshPoint: return "mesh point"
        case .p2pClient: return "P2P-client"
        case .p2pGroupOwner: return "P2P-GO"
        case .p2pDevice: return "P2P-device"
        case .outsideContextOfBSS: return "outside context of a BSS"
        case .nan: return "NAN"
        }
    }
}

/// `enum nl80211_mntr_flags`, as requested when entering monitor mode.
public struct MonitorFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Pass frames with a bad FCS.
    public static let fcsFail = MonitorFlags(rawValue: 1 << 1)
    /// Pass frames with a bad PLCP.
    public static let plcpFail = MonitorFlags(rawValue: 1 << 2)
    /// Pass control frames.
    public static let control = MonitorFlags(rawValue: 1 << 3)
    /// Disable BSSID filtering.
    public static let otherBSS = MonitorFlags(rawValue: 1 << 4)
    /// Acknowledge unicast frames addressed to this interface's MAC
    /// (needs NL80211_FEATURE_ACTIVE_MONITOR).
    public static let active = MonitorFlags(rawValue: 1 << 6)

    /// What a capture tool wants by default: everything that was on the air.
    public static let capture: MonitorFlags = [.fcsFail, .control, .otherBSS]

    /// nl80211 flag numbers (the bit positions) of the set flags.
    public var attributeNumbers: [UInt16] {
        (1..<32).compactMap { bit in rawValue & (1 << bit) != 0 ? UInt16(bit) : nil }
    }

    /// Parses "fcsfail,otherbss,control,active" (names as `iw` spells them).
    public init(parsing text: String) throws {
        var flags: MonitorFlags = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters() }) where !name.isEmpty {
            guard let flag = Self.names[name] else {
                throw WirelessError.invalidMonitorFlag(name, valid: Self.names.keys.sorted())
            }
            flags.insert(flag)
        }
        self = flags
    }

    static let names: [String: MonitorFlags] = [
        "fcsfail": .fcsFail, "plcpfail": .plcpFail, "control": .control, "otherbss": .otherBSS, "active": .active,
    ]

    public var names: [String] { Self.names.filter { contains($0.value) }.map(\.key).sorted() }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()).lowercased()
    }
}
