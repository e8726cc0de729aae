// SPDX-License-Identifier: GPL-2.0-only

/// What a capture contained: frames by type and subtype, networks, channels.
public struct CaptureSummary: Sendable, Equatable {
    public struct SubtypeKey: Hashable, Sendable, Comparable {
        public var type: FrameType
        public var subtype: UInt8

        public static func < (lhs: SubtypeKey, rhs: SubtypeKey) -> Bool {
            (lhs.type.rawValue, lhs.subtype) < (rhs.type.rawValue, rhs.subtype)
        }
    }

    public struct Network: Sendable, Equatable {
        public var bssid: MACAddress
        public var ssid: String
        /// Channel the network announces (DS parameter set).
        public var channel: Int?
        public var beacons: Int
        public var protected: Bool
        public var strongestSignalDBm: Int?
    }

    public private(set) var frames = 0
    public private(set) var bytes = 0
    public private(set) var bySubtype: [SubtypeKey: Int] = [:]
    public private(set) var networks: [MACAddress: Network] = [:]
    /// Frames per radiotap channel frequency (MHz).
    public private(set) var byFrequency: [Int: Int] = [:]
    public private(set) var undecodable = 0

    public init() {}

    /// Adds one captured frame (radiotap + 802.11).
    public mutating func add(_ captured: UnsafeRawBufferPointer) {
        frames += 1
        bytes += captured.count
        guard let radiotap = try? RadiotapHeader.parse(raw: captured), captured.count - radiotap.length >= 2 else {
            undecodable += 1
            return
        }
        if let frequency = radiotap.channelFrequency { byFrequency[Int(frequency), default: 0] += 1 }
        var macBytes = Array(captured[radiotap.length...])
        if radiotap.flags?.contains(.fcsIncluded) == true, macBytes.count >= 4 { macBytes.removeLast(4) }
        let frame = IEEE80211Frame(macBytes)
        bySubtype[SubtypeKey(type: frame.type, subtype: frame.subtype), default: 0] += 1
        if frame.isBeacon || frame.isProbeResponse, let bssid = frame.bssid {
            var network = networks[bssid] ?? Network(
                bssid: bssid, ssid: frame.ssid ?? "", channel: frame.dsChannel, beacons: 0, protected: false,
                strongestSignalDBm: nil)
            if frame.isBeacon { network.beacons += 1 }
            if frame.informationElements.contains(where: { $0.id == InformationElement.robustSecurityNetwork }) {
                network.protected = true
            }
            if let signal = radiotap.antennaSignalDBm.map(Int.init) {
                network.strongestSignalDBm = max(network.strongestSignalDBm ?? signal, signal)
            }
            networks[bssid] = network
        }
    }

    /// The report `airtap demo` and `--summary` print.
    public var report: String {
        var lines: [String] = []
        lines.append("\(frames) frames, \(bytes) bytes")
        lines.append("")
        lines.append("Frames by type and subtype:")
        let typeTotals = Dictionary(grouping: bySubtype, by: { $0.key.type }).mapValues { $0.reduce(0) { $0 + $1.value } }
        for type in FrameType.allCases where typeTotals[type] != nil {
            lines.append("  \(type.description.padded(to: 38)) \(String(typeTotals[type]!).leftPadded(to: 7))")
            for (key, count) in bySubtype.sorted(by: { $0.key < $1.key }) where key.type == type {
                lines.append("    \(IEEE80211Frame.subtypeName(type: key.type, subtype: key.subtype).padded(to: 36)) \(String(count).leftPadded(to: 7))")
            }
        }
        if undecodable > 0 { lines.append("  \("without a readable radiotap header".padded(to: 38)) \(String(undecodable).leftPadded(to: 7))") }
        lines.append("")
        lines.append("Networks seen (beacons / probe responses): \(networks.count)")
        if !networks.isEmpty {
            lines.append("  \("SSID".padded(to: 22)) \("BSSID".padded(to: 17))  CH  BEACONS  SIGNAL  SECURITY")
            for network in networks.values.sorted(by: { ($0.channel ?? 0, $0.ssid) < ($1.channel ?? 0, $1.ssid) }) {
                let ssid = network.ssid.isEmpty ? "<hidden>" : network.ssid
                let channel = network.channel.map(String.init) ?? "-"
                let signal = network.strongestSignalDBm.map { "\($0) dBm" } ?? "-"
                lines.append(
                    "  \(ssid.padded(to: 22)) \(network.bssid.description)  \(channel.leftPadded(to: 2))  "
                        + "\(String(network.beacons).leftPadded(to: 7))  \(signal.leftPadded(to: 6))  \(network.protected ? "WPA2" : "open")")
            }
        }
        lines.append("")
        lines.append("Channels (from radiotap):")
        for (frequency, count) in byFrequency.sorted(by: { $0.key < $1.key }) {
            let label = ChannelLabel.of(frequency)
            lines.append("  channel \(label.padded(to: 5)) \(String(frequency).leftPadded(to: 5)) MHz  \(String(count).leftPadded(to: 7)) frames")
        }
        return lines.joined(separator: "\n")
    }
}

/// Channel numbers for display without depending on the Wireless module.
enum ChannelLabel {
    static func of(_ mhz: Int) -> String {
        switch mhz {
        case 2484: return "14"
        case 2412...2472: return String((mhz - 2407) / 5)
        case 5000..<5935: return String((mhz - 5000) / 5)
        case 5935..<7200: return "6g\((mhz - 5950) / 5)"
        default: return "?"
        }
    }
}

extension String {
    public func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    public func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
