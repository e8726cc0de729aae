// SPDX-License-Identifier: GPL-2.0-only

/// The parts of an 802.11 MAC frame the live summary and the traffic
/// generator need.
public enum FrameType: UInt8, Sendable, CaseIterable, CustomStringConvertible, Codable {
    case management = 0
    case control = 1
    case data = 2
    case extension_ = 3

    public var description: String {
        switch self {
        case .management: return "management"
        case .control: return "control"
        case .data: return "data"
        case .extension_: return "extension"
        }
    }
}

public struct IEEE80211Frame: Sendable, Equatable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The shortest frames (ACK, CTS) have frame control, duration and one address.
    public static let minimumLength = 10

    public var frameControl: UInt16 { bytes.count >= 2 ? UInt16(bytes[0]) | UInt16(bytes[1]) << 8 : 0 }
    public var type: FrameType { FrameType(rawValue: UInt8((frameControl >> 2) & 0x3))! }
    public var subtype: UInt8 { UInt8((frameControl >> 4) & 0xF) }
    public var toDS: Bool { frameControl & 0x0100 != 0 }
    public var fromDS: Bool { frameControl & 0x0200 != 0 }

    public var subtypeName: String { Self.subtypeName(type: type, subtype: subtype) }

    public static func subtypeName(type: FrameType, subtype: UInt8) -> String {
        switch type {
        case .management:
            let names = [
                "association request", "association response", "reassociation request", "reassociation response",
                "probe request", "probe response", "timing advertisement", "reserved (7)", "beacon", "ATIM",
                "disassociation", "authentication", "deauthentication", "action", "action no ack", "reserved (15)",
            ]
            return names[Int(subtype)]
        case .control:
            let names: [UInt8: String] = [
                2: "trigger", 3: "TACK", 4: "beamforming report poll", 5: "VHT/HE NDP announcement",
                6: "control frame extension", 7: "control wrapper", 8: "block ack request", 9: "block ack",
                10: "PS-poll", 11: "RTS", 12: "CTS", 13: "ACK", 14: "CF-end", 15: "CF-end + CF-ack",
            ]
            return names[subtype] ?? "reserved (\(subtype))"
        case .data:
            let names: [UInt8: String] = [
                0: "data", 4: "null", 8: "QoS data", 12: "QoS null",
                1: "data + CF-ack", 2: "data + CF-poll", 3: "data + CF-ack + CF-poll", 5: "CF-ack",
                6: "CF-poll", 7: "CF-ack + CF-poll", 9: "QoS data + CF-ack", 10: "QoS data + CF-poll",
                11: "QoS data + CF-ack + CF-poll", 14: "QoS CF-poll", 15: "QoS CF-ack + CF-poll",
            ]
            return names[subtype] ?? "reserved (\(subtype))"
        case .extension_:
            return subtype == 1 ? "DMG beacon" : subtype == 2 ? "S1G beacon" : "reserved (\(subtype))"
        }
    }

    func address(at offset: Int) -> MACAddress? {
        guard bytes.count >= offset + 6 else { return nil }
        return MACAddress(Array(bytes[offset..<(offset + 6)]))
    }

    public var address1: MACAddress? { address(at: 4) }
    public var address2: MACAddress? { type == .control && ![11, 8, 9, 10].contains(subtype) ? nil : address(at: 10) }
    public var address3: MACAddress? { type == .control ? nil : address(at: 16) }

    /// The BSSID of management frames (address 3).
    public var bssid: MACAddress? { type == .management ? address3 : nil }

    public var isBeacon: Bool { type == .management && subtype == 8 }
    public var isProbeResponse: Bool { type == .management && subtype == 5 }

    /// Information elements of beacons, probe requests and probe responses.
    public var informationElements: [InformationElement] {
        guard type == .management else { return [] }
        let bodyOffset: Int
        switch subtype {
        case 8, 5: bodyOffset = 24 + 12  // timestamp, interval, capabilities
        case 4: bodyOffset = 24
        default: return []
        }
        return InformationElement.parse(bytes, from: bodyOffset)
    }

    /// The SSID element's text ("" for a hidden or wildcard SSID).
    public var ssid: String? {
        informationElements.first { $0.id == InformationElement.ssid }.map {
            String(decoding: $0.value, as: UTF8.self)
        }
    }

    /// The DS Parameter Set's channel (where the network says it is).
    public var dsChannel: Int? {
        informationElements.first { $0.id == InformationElement.dsParameterSet && !$0.value.isEmpty }.map {
            Int($0.value[0])
        }
    }
}

public struct InformationElement: Sendable, Equatable {
    public static let ssid: UInt8 = 0
    public static let supportedRates: UInt8 = 1
    public static let dsParameterSet: UInt8 = 3
    public static let trafficIndicationMap: UInt8 = 5
    public static let robustSecurityNetwork: UInt8 = 48

    public var id: UInt8
    public var value: [UInt8]

    public init(id: UInt8, value: [UInt8]) {
        self.id = id
        self.value = value
    }

    /// The elements of a frame body from `start` on (a truncated last one is dropped).
    public static func parse(_ bytes: [UInt8], from start: Int) -> [InformationElement] {
        var elements: [InformationElement] = []
        var offset = start
        while offset + 2 <= bytes.count {
            let length = Int(bytes[offset + 1])
            guard offset + 2 + length <= bytes.count else { break }
            elements.append(InformationElement(id: bytes[offset], value: Array(bytes[(offset + 2)..<(offset + 2 + length)])))
            offset += 2 + length
        }
        return elements
    }

    var encoded: [UInt8] { [id, UInt8(value.count)] + value }
}

public struct MACAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    public var octets: [UInt8]

    public init(_ octets: [UInt8]) { self.octets = octets }

    public static let broadcast = MACAddress([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])

    /// A locally administered unicast address derived from `seed`.
    public static func local(_ seed: UInt32) -> MACAddress {
        MACAddress([0x02, 0xA1, UInt8((seed >> 24) & 0xFF), UInt8((seed >> 16) & 0xFF), UInt8((seed >> 8) & 0xFF), UInt8(seed & 0xFF)])
    }

    public var description: String {
        octets.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined(separator: ":")
    }
}

/// Builds the 802.11 frames the simulated peer transmits.
public enum FrameBuilder {
    static func header(
        frameControl: UInt16, address1: MACAddress, address2: MACAddress, address3: MACAddress, sequence: UInt16
    ) -> [UInt8] {
        [UInt8(frameControl & 0xFF), UInt8(frameControl >> 8), 0, 0]  // duration 0
            + address1.octets + address2.octets + address3.octets
            + [UInt8((sequence << 4) & 0xF0), UInt8((sequence >> 4) & 0xFF)]
    }

    static let basicRates: [UInt8] = [0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24]

    /// A beacon announcing `ssid` on `channel`; `protected` adds a minimal
    /// WPA2-PSK RSN element.
    public static func beacon(
        bssid: MACAddress, ssid: String, channel: Int, sequence: UInt16, timestampMicroseconds: UInt64,
        protected: Bool = false
    ) -> [UInt8] {
        header(frameControl: 0x0080, address1: .broadcast, address2: bssid, address3: bssid, sequence: sequence)
            + networkAnnouncement(ssid: ssid, channel: channel, timestampMicroseconds: timestampMicroseconds, protected: protected, beacon: true)
    }

    /// An AP's answer to `station`'s probe request: a beacon's body without the TIM.
    public static func probeResponse(
        bssid: MACAddress, station: MACAddress, ssid: String, channel: Int, sequence: UInt16, timestampMicroseconds: UInt64,
        protected: Bool = false
    ) -> [UInt8] {
        header(frameControl: 0x0050, address1: station, address2: bssid, address3: bssid, sequence: sequence)
            + networkAnnouncement(ssid: ssid, channel: channel, timestampMicroseconds: timestampMicroseconds, protected: protected, beacon: false)
    }

    /// Timestamp, interval, capabilities and elements of beacons and probe responses.
    static func networkAnnouncement(
        ssid: String, channel: Int, timestampMicroseconds: UInt64, protected: Bool, beacon: Bool
    ) -> [UInt8] {
        var frame: [UInt8] = []
        withUnsafeBytes(of: timestampMicroseconds.littleEndian) { frame += $0 }
        frame += [0x64, 0x00]  // beacon interval: 100 TU
        frame += protected ? [0x11, 0x04] : [0x01, 0x04]  // ESS, short slot (+ privacy)
        frame += InformationElement(id: InformationElement.ssid, value: Array(ssid.utf8.prefix(32))).encoded
        frame += InformationElement(id: InformationElement.supportedRates, value: basicRates).encoded
        frame += InformationElement(id: InformationElement.dsParameterSet, value: [UInt8(truncatingIfNeeded: channel)]).encoded
        if beacon {
            frame += InformationElement(id: InformationElement.trafficIndicationMap, value: [0, 1, 0, 0]).encoded
        }
        if protected {
            // RSN v1, group CCMP, one pairwise CCMP, one AKM PSK, no capabilities.
            frame += InformationElement(
                id: InformationElement.robustSecurityNetwork,
                value: [1, 0, 0x00, 0x0F, 0xAC, 4, 1, 0, 0x00, 0x0F, 0xAC, 4, 1, 0, 0x00, 0x0F, 0xAC, 2, 0, 0]
            ).encoded
        }
        return frame
    }

    /// A probe request from `station` (empty `ssid`: wildcard).
    public static func probeRequest(station: MACAddress, ssid: String, sequence: UInt16) -> [UInt8] {
        var frame = header(frameControl: 0x0040, address1: .broadcast, address2: station, address3: .broadcast, sequence: sequence)
        frame += InformationElement(id: InformationElement.ssid, value: Array(ssid.utf8.prefix(32))).encoded
        frame += InformationElement(id: InformationElement.supportedRates, value: basicRates).encoded
        return frame
    }

    /// A data frame from a station to its AP (to-DS) carrying an LLC/SNAP
    /// IPv4 payload of `payloadLength` bytes; `marker` is written into the
    /// payload so frames can be told apart.
    public static func data(
        station: MACAddress, bssid: MACAddress, destination: MACAddress, sequence: UInt16, payloadLength: Int,
        marker: UInt32 = 0
    ) -> [UInt8] {
        var frame = header(frameControl: 0x0108, address1: bssid, address2: station, address3: destination, sequence: sequence)
        frame += [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00]  // LLC/SNAP, IPv4
        var payload = [UInt8](repeating: 0, count: max(payloadLength, 4))
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 7 &+ 0x45) }
        payload[0] = UInt8(truncatingIfNeeded: marker >> 24)
        payload[1] = UInt8(truncatingIfNeeded: marker >> 16)
        payload[2] = UInt8(truncatingIfNeeded: marker >> 8)
        payload[3] = UInt8(truncatingIfNeeded: marker)
        return frame + payload
    }

    /// A data frame of exactly `length` 802.11 bytes (for benchmarks), with
    /// `marker` in its payload.
    public static func data(totalLength length: Int, sequence: UInt16, marker: UInt32) -> [UInt8] {
        let headerAndSNAP = 24 + 8
        return data(
            station: .local(1), bssid: .local(2), destination: .local(3), sequence: sequence,
            payloadLength: max(length - headerAndSNAP, 4), marker: marker)
    }
}
