// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel

/// "Is injection working?", as aireplay-ng -9 asks it: broadcast probe
/// requests find the access points in range (their probe responses prove
/// our frames went out); then directed probe requests to each measure the
/// share answered and the round trip.
public struct InjectionTest {
    public struct AccessPoint: Sendable, Codable, Equatable {
        public var bssid: String
        public var ssid: String
        /// The network's own channel (DS parameter set), if it says.
        public var channel: Int?
        public var signalDBm: Int?
        public var sent = 0
        public var answered = 0
        /// Round trips of the answered probes, milliseconds.
        public var minimumMilliseconds: Double?
        public var averageMilliseconds: Double?
        public var maximumMilliseconds: Double?

        public var percentAnswered: Int { sent > 0 ? answered * 100 / sent : 0 }
    }

    public struct Report: Sendable, Codable {
        public var device: String
        public var channel: String
        public var broadcastProbesSent: Int
        public var accessPoints: [AccessPoint]
        /// Broadcast probes got an answer: our frames reach the air.
        public var injectionWorks: Bool

        public var verdict: String {
            injectionWorks
                ? "Injection is working!"
                : "No access point answered: injection may not work here, or no access point is in range on \(channel)"
        }
    }

    /// Directed probe requests per access point (aireplay-ng sends 30).
    public var probesPerAccessPoint = 30
    /// How long to wait for each answer (real APs answer within a few ms;
    /// generous, so a loaded host does not count late answers as lost).
    public var answerTimeoutSeconds = 0.2
    /// Broadcast rounds and the time each listens for answers.
    public var broadcastRounds = 3
    public var broadcastListenSeconds = 0.3
    /// The address our probes come from: locally administered, so no
    /// station on the air has it, and every answer to it is an answer to us.
    public var sourceAddress = MACAddress([0x02, 0xA1, 0x7E, 0x57, 0x00, 0x01])

    public init() {}

    public func run(on device: any RadioDevice) throws -> Report {
        // recvmmsg: round trips are timed, and a ring holds a frame until its block retires.
        let capture = try device.makeCapture(receiveBufferBytes: 4 << 20, receivePath: .copy)
        defer { capture.close() }
        let injector = try device.makeInjector()
        defer { injector.close() }
        let radiotap = RadiotapTransmitOptions(txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
        var sequence: UInt16 = 0
        func probe(to bssid: MACAddress, ssid: String) throws {
            sequence &+= 1
            var frame = FrameBuilder.probeRequest(station: sourceAddress, ssid: ssid, sequence: sequence & 0xFFF)
            // Directed: address 1 and 3 are the AP's.
            for index in 0..<6 {
                frame[4 + index] = bssid.octets[index]
                frame[16 + index] = bssid.octets[index]
            }
            try injector.send(radiotap + frame)
        }

        var found: [String: AccessPoint] = [:]
        var order: [String] = []
        for _ in 0..<broadcastRounds {
            try probe(to: .broadcast, ssid: "")
            try listen(capture, seconds: broadcastListenSeconds) { response in
                if found[response.bssid] == nil {
                    order.append(response.bssid)
                    found[response.bssid] = AccessPoint(
                        bssid: response.bssid, ssid: response.ssid, channel: response.channel, signalDBm: response.signalDBm)
                }
                return false
            }
        }
        var accessPoints: [AccessPoint] = []
        for bssid in order {
            guard var accessPoint = found[bssid] else { continue }
            let target = MACAddress(bssid.split(separator: ":").compactMap { UInt8($0, radix: 16) })
            var roundTrips: [Double] = []
            for _ in 0..<probesPerAccessPoint {
                let sentAt = HostClock.monotonicNanoseconds()
                try probe(to: target, ssid: accessPoint.ssid)
                accessPoint.sent += 1
                var answered = false
                try listen(capture, seconds: answerTimeoutSeconds) { response in
                    guard response.bssid == bssid else { return false }
                    answered = true
                    return true
                }
                if answered {
                    accessPoint.answered += 1
                    roundTrips.append(Double(HostClock.monotonicNanoseconds() - sentAt) / 1e6)
                }
            }
            if !roundTrips.isEmpty {
                accessPoint.minimumMilliseconds = roundTrips.min()
                accessPoint.maximumMilliseconds = roundTrips.max()
                accessPoint.averageMilliseconds = roundTrips.reduce(0, +) / Double(roundTrips.count)
            }
            accessPoints.append(accessPoint)
        }
        return Report(
            device: device.name, channel: device.currentChannel?.description ?? "?", broadcastProbesSent: broadcastRounds,
            accessPoints: accessPoints, injectionWorks: !accessPoints.isEmpty)
    }

    struct Response {
        var bssid: String
        var ssid: String
        var channel: Int?
        var signalDBm: Int?
    }

    /// Reads probe responses addressed to us for `seconds` or until `handle` returns true.
    private func listen(_ capture: PacketCapture, seconds: Double, handle: (Response) -> Bool) throws {
        let deadline = HostClock.monotonicNanoseconds() + UInt64(seconds * 1e9)
        while HostClock.monotonicNanoseconds() < deadline {
            let count = try capture.receiveBatch()
            for index in 0..<count {
                let bytes = capture.frame(at: index).bytes
                guard let radiotap = try? RadiotapHeader.parse(bytes) else { continue }
                var frame = Array(bytes[radiotap.length...])
                if radiotap.flags?.contains(RadiotapFlags(rawValue: 0x10)) ?? false { frame.removeLast(min(4, frame.count)) }
                // Probe response (type 0, subtype 5) to our address.
                guard frame.count >= 36, frame[0] == 0x50, Array(frame[4..<10]) == sourceAddress.octets else { continue }
                let elements = InformationElement.parse(frame, from: 36)
                let ssid = elements.first { $0.id == InformationElement.ssid }.map { String(decoding: $0.value, as: UTF8.self) } ?? ""
                let channel = elements.first { $0.id == InformationElement.dsParameterSet && !$0.value.isEmpty }.map { Int($0.value[0]) }
                let response = Response(
                    bssid: MACAddress(Array(frame[10..<16])).description, ssid: ssid, channel: channel,
                    signalDBm: radiotap.antennaSignalDBm.map(Int.init))
                if handle(response) { return }
            }
        }
    }
}
