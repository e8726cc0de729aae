// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Dispatch
import LinuxKernel
import Synchronization

/// A network on the simulated air: its access point and associated clients.
public struct AirNetwork: Sendable {
    public let ssid: String
    /// The AP's channel (its beacons use the primary 20 MHz; data of its
    /// clients the whole width).
    public let channel: AirChannel
    public let bssid: MACAddress
    public let protected: Bool
    public let clients: [MACAddress]
    /// Signal of the AP at every receiver; its clients are a few dB weaker.
    public let signalDBm: Int
    /// What its clients' data frames use.
    public let dataRates: [AirRate]

    public init(
        ssid: String, channel: AirChannel, bssid: MACAddress, protected: Bool, clients: [MACAddress], signalDBm: Int,
        dataRates: [AirRate]
    ) {
        self.ssid = ssid
        self.channel = channel
        self.bssid = bssid
        self.protected = protected
        self.clients = clients
        self.signalDBm = signalDBm
        self.dataRates = dataRates
    }

    /// The networks every simulated device's air carries (sim's peer sends
    /// the same ones through mac80211_hwsim).
    public static let standard: [AirNetwork] = [
        AirNetwork(
            ssid: "airtap-home", channel: AirChannel(primary: 1)!, bssid: .local(0x0001_0001), protected: true,
            clients: [.local(0x0101_0001), .local(0x0101_0002)], signalDBm: -38,
            dataRates: AirRate.ofdmKbps.map { .legacy(kbps: $0) }),
        AirNetwork(
            ssid: "CoffeeShop Guest", channel: AirChannel(primary: 6)!, bssid: .local(0x0006_0001), protected: false,
            clients: [.local(0x0106_0001), .local(0x0106_0002), .local(0x0106_0003)], signalDBm: -47,
            dataRates: (0...7).map { .ht(mcs: $0) }),
        AirNetwork(
            ssid: "Lab-IoT", channel: AirChannel(primary: 6)!, bssid: .local(0x0006_0002), protected: true,
            clients: [.local(0x0106_0101)], signalDBm: -56, dataRates: AirRate.ofdmKbps.map { .legacy(kbps: $0) }),
        AirNetwork(
            ssid: "Printer-Direct", channel: AirChannel(primary: 11)!, bssid: .local(0x000B_0001), protected: false,
            clients: [], signalDBm: -65, dataRates: []),
        AirNetwork(
            ssid: "Office-5G", channel: AirChannel(primary: 36, widthMHz: 40)!, bssid: .local(0x0024_0001), protected: true,
            clients: [.local(0x0124_0001)], signalDBm: -52, dataRates: (0...7).map { .ht(mcs: $0) }),
        AirNetwork(
            ssid: "Campus-VHT", channel: AirChannel(primary: 149, widthMHz: 80)!, bssid: .local(0x0095_0001),
            protected: true, clients: [.local(0x0195_0001), .local(0x0195_0002)], signalDBm: -58,
            dataRates: (0...9).map { .vht(mcs: $0, streams: 1) }),
    ]

    /// What the APs among `networks` on `channel` answer the probe request
    /// `frame`: one probe response each whose SSID matches (or the request's
    /// is the wildcard) and that the request is addressed to (broadcast or
    /// its BSSID), unless `lose` says this answer is lost.
    public static func probeResponses(
        to frame: [UInt8], onChannel channel: Int, from networks: [AirNetwork], sequence: inout UInt16, micros: UInt64,
        lose: () -> Bool = { false }
    ) -> [(AirNetwork, [UInt8])] {
        guard frame.count >= 24, (frame[0] >> 2) & 0x3 == 0, frame[0] >> 4 == 4 else { return [] }
        let receiver = Array(frame[4..<10])
        let station = Array(frame[10..<16])
        guard let asked = InformationElement.parse(frame, from: 24).first(where: { $0.id == InformationElement.ssid }) else {
            return []
        }
        let wanted = String(decoding: asked.value, as: UTF8.self)
        var responses: [(AirNetwork, [UInt8])] = []
        for network in networks where network.channel.primary == channel {
            guard wanted.isEmpty || wanted == network.ssid else { continue }
            guard receiver.allSatisfy({ $0 == 0xFF }) || receiver == network.bssid.octets else { continue }
            guard !lose() else { continue }
            sequence &+= 1
            responses.append(
                (network,
                 FrameBuilder.probeResponse(
                    bssid: network.bssid, station: MACAddress(station), ssid: network.ssid, channel: network.channel.primary,
                    sequence: sequence & 0xFFF, timestampMicroseconds: micros, protected: network.protected)))
        }
        return responses
    }

    /// Stations that scan (probe requests on 1, 6, 11 and 36).
    public static let roamingStations: [MACAddress] = [.local(0x0F00_0001), .local(0x0F00_0002)]
}

/// The air's stations at work, on a host thread of their own: each AP
/// beacons every ~100 ms at the lowest rate of its band, clients send data
/// every ~30 ms at their network's rates, roaming stations probe every
/// ~250 ms; APs answer probe requests for their SSID (or the wildcard)
/// that anyone sends on their channel, losing `answerLossPercent` of the
/// answers.
public final class AirTraffic: AirListener {
    public let air: SimulatedAir
    public let networks: [AirNetwork]
    private let running = Atomic<Bool>(false)
    private let thread = HostMutex<JoinableThread?>(nil)
    private let pendingProbes = HostMutex<[AirFrame]>([])
    /// Wakes the stations' thread for a probe request: APs answer within
    /// microseconds, not at the next 10 ms tick.
    private let probeArrived = DispatchSemaphore(value: 0)
    private let answerLoss: AirLoss
    private let answered = Atomic<Int>(0)
    private let listenerID = Atomic<Int>(0)

    /// `answerLossPercent` 0...100 of probe responses are not sent.
    public init(air: SimulatedAir, networks: [AirNetwork] = AirNetwork.standard, answerLossPercent: Int = 0) {
        self.air = air
        self.networks = networks
        answerLoss = AirLoss(percent: answerLossPercent)
    }

    /// Probe responses sent so far.
    public var probeResponsesSent: Int { answered.load(ordering: .relaxed) }

    public func start() {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        listenerID.store(air.join(self), ordering: .relaxed)
        let started = try? JoinableThread { [self] in run() }
        thread.withLock { $0 = started }
    }

    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        probeArrived.signal()
        thread.withLock { thread in
            thread?.join()
            thread = nil
        }
        air.leave(listenerID.load(ordering: .relaxed))
    }

    public func hear(_ frames: [AirFrame], delivery: AirDelivery) {
        let probes = frames.filter { $0.frameType == 0 && $0.frameSubtype == 4 && !$0.corruptFCS }
        guard !probes.isEmpty else { return }
        pendingProbes.withLock { $0 += probes }
        probeArrived.signal()
    }

    /// The answers the APs give `probe` (nil SSID element: malformed, none).
    func answers(to probe: AirFrame, sequence: inout UInt16, micros: UInt64) -> [AirFrame] {
        AirNetwork.probeResponses(
            to: probe.frame, onChannel: probe.channel.primary, from: networks, sequence: &sequence, micros: micros,
            lose: lose
        ).map { network, frame in
            AirFrame(
                channel: AirChannel(primary: network.channel.primary)!, frame: frame,
                rate: Self.managementRate(network.channel), signalDBm: network.signalDBm)
        }
    }

    private func lose() -> Bool { answerLoss.lose() }

    static func managementRate(_ channel: AirChannel) -> AirRate {
        channel.is5GHz ? .legacy(kbps: 6000) : .legacy(kbps: 1000)
    }

    private func run() {
        var sequence: UInt16 = 0
        var tick = 0
        let start = HostClock.monotonicNanoseconds()
        let tickNanoseconds: UInt64 = 10_000_000
        var nextTick = start
        while running.load(ordering: .acquiring) {
            let now = HostClock.monotonicNanoseconds()
            let micros = (now - start) / 1000
            var frames: [AirFrame] = []
            for probe in pendingProbes.withLock({ probes in defer { probes.removeAll() }; return probes }) {
                let responses = answers(to: probe, sequence: &sequence, micros: micros)
                answered.add(responses.count, ordering: .relaxed)
                frames += responses
            }
            // The stations' own traffic runs on 10 ms ticks; probe answers in between.
            let ticking = now >= nextTick
            if ticking && tick % 10 == 0 {
                for network in networks {
                    sequence &+= 1
                    frames.append(
                        AirFrame(
                            channel: AirChannel(primary: network.channel.primary)!,
                            frame: FrameBuilder.beacon(
                                bssid: network.bssid, ssid: network.ssid, channel: network.channel.primary,
                                sequence: sequence & 0xFFF, timestampMicroseconds: micros, protected: network.protected),
                            rate: Self.managementRate(network.channel), signalDBm: network.signalDBm))
                }
            }
            if ticking && tick % 25 == 5 {
                let station = AirNetwork.roamingStations[(tick / 25) % AirNetwork.roamingStations.count]
                let ssid = (tick / 25) % 2 == 0 ? "" : networks[(tick / 50) % max(networks.count, 1)].ssid
                for channel in [1, 6, 11, 36] {
                    sequence &+= 1
                    let on = AirChannel(primary: channel)!
                    frames.append(
                        AirFrame(
                            channel: on, frame: FrameBuilder.probeRequest(station: station, ssid: ssid, sequence: sequence & 0xFFF),
                            rate: Self.managementRate(on), signalDBm: -67))
                }
            }
            if ticking && tick % 3 == 1 {
                for network in networks where !network.clients.isEmpty && !network.dataRates.isEmpty {
                    let client = network.clients[(tick / 3) % network.clients.count]
                    sequence &+= 1
                    frames.append(
                        AirFrame(
                            channel: network.channel,
                            frame: FrameBuilder.data(
                                station: client, bssid: network.bssid, destination: .local(0x0E00_0001),
                                sequence: sequence & 0xFFF, payloadLength: 60 + (tick % 7) * 100, marker: UInt32(tick)),
                            rate: network.dataRates[(tick / 3) % network.dataRates.count],
                            signalDBm: network.signalDBm - 4 - tick % 5, shortPreamble: true))
                }
            }
            air.transmit(frames, delivery: .live, from: self)
            if ticking {
                tick += 1
                nextTick += tickNanoseconds
            }
            // One clock read: a second one, past nextTick, underflowed the subtraction (a trap, exit 71).
            let clock = HostClock.monotonicNanoseconds()
            let wait = nextTick > clock ? nextTick - clock : 0
            _ = probeArrived.wait(timeout: .now() + .nanoseconds(Int(wait)))
        }
    }
}

/// Deterministic loss: `percent` of the calls to `lose` say yes, in a
/// fixed pseudo-random order (xorshift64), so a lossy run repeats.
public final class AirLoss: Sendable {
    public let percent: Int
    private let state = HostMutex<UInt64>(0x9E37_79B9_7F4A_7C15)

    public init(percent: Int) {
        self.percent = min(max(percent, 0), 100)
    }

    public func lose() -> Bool {
        guard percent > 0 else { return false }
        return state.withLock { state in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % 100) < percent
        }
    }
}
