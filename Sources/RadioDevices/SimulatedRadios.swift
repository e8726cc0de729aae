// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import SimulatedAir
import Synchronization
import Wireless

/// `sim`: two mac80211_hwsim radios. The first is airtap's (captures and
/// injects); the second is a peer the tool drives as a traffic source,
/// following airtap's radio from channel to channel.
public final class SimulatedRadios: RadioDevice {
    public static let descriptor = DeviceDescriptor(
        name: "sim",
        summary: "two simulated radios (mac80211_hwsim): airtap's monitor plus a peer that transmits "
            + "beacons, probe requests and data of a few simulated networks",
        kernelCommandLine: "mac80211_hwsim.radios=2",
        // The kernel's only radios, and its peer follows one channel plan.
        needsOwnKernel: true,
        open: { kernel, options in try SimulatedRadios(kernel: kernel, options: options) })

    public let name = "sim"
    public let kernel: Kernel
    public let control: WirelessControl
    public let wiphy: WiphyInfo
    public let monitorInterface: WirelessInterface
    public let peerWiphy: WiphyInfo
    public let peerInterface: WirelessInterface
    public let regulatoryDomain: RegulatoryDomain
    public private(set) var currentChannel: ChannelSpec?
    private var traffic: SimulatedTrafficSource?

    public var interfaceDescription: String {
        "airtap \(name): \(wiphy.name) (mac80211_hwsim) in monitor mode"
    }

    init(kernel: Kernel, options: DeviceOptions) throws {
        self.kernel = kernel
        let control = try WirelessControl(kernel: kernel)
        self.control = control
        if let code = options.regulatoryDomain {
            regulatoryDomain = try control.setRegulatoryDomain(code)
        } else {
            regulatoryDomain = try control.regulatoryDomain()
        }
        let wiphys = try control.wiphys()
        let interfaces = try control.interfaces()
        guard wiphys.count >= 2 else {
            throw DeviceError.setupFailed(
                device: "sim", reason: "mac80211_hwsim registered \(wiphys.count) radio(s), need 2 "
                    + "(kernel command line mac80211_hwsim.radios=2; is MAC80211_HWSIM built in?)")
        }
        func monitor(on wiphy: WiphyInfo) throws -> WirelessInterface {
            guard let existing = interfaces.first(where: { $0.wiphy == wiphy.index }) else {
                return try control.addMonitorInterface(wiphy: wiphy.index, name: "mon\(wiphy.index)", flags: options.monitorFlags)
            }
            if existing.type != .monitor {
                if try control.isLinkUp(existing) { try control.setLinkUp(existing, up: false) }
                try control.setMonitorMode(existing, flags: options.monitorFlags)
            }
            try control.setLinkUp(existing)
            return try control.interface(named: existing.name)
        }
        if options.monitorFlags.contains(.active) && !wiphys[0].supportsActiveMonitor {
            throw WirelessError.activeMonitorUnsupported(wiphy: wiphys[0].name)
        }
        wiphy = wiphys[0]
        peerWiphy = wiphys[1]
        monitorInterface = try monitor(on: wiphys[0])
        peerInterface = try monitor(on: wiphys[1])
        if options.simulatedTraffic {
            traffic = try SimulatedTrafficSource(
                injector: PacketInjector(kernel: kernel, interfaceIndex: peerInterface.index),
                listener: PacketCapture(
                    kernel: kernel, interfaceIndex: peerInterface.index, receiveBufferBytes: 1 << 20, batchSize: 16,
                    pollSeconds: 0.002, coalesceSeconds: 0, receivePath: .copy),  // answers at once: no block to wait for
                answerLossPercent: options.airAnswerLossPercent)
        }
    }

    /// Tunes airtap's radio, then the peer, so the peer never transmits on
    /// a channel airtap has not reached yet.
    public func tune(_ spec: ChannelSpec) throws {
        try wiphy.validate(spec, deviceName: "\(name) (\(wiphy.name))")
        try control.setChannel(monitorInterface, to: spec)
        try tunePeer(spec)
        currentChannel = spec
        traffic?.start(on: spec.frequency)
    }

    /// Tunes only the peer radio (for injection tests: a witness on
    /// another channel).
    public func tunePeer(_ spec: ChannelSpec) throws {
        try peerWiphy.validate(spec, deviceName: "\(name) peer (\(peerWiphy.name))")
        try control.setChannel(peerInterface, to: spec)
    }

    /// Frames the traffic source has sent so far.
    public var trafficFramesSent: Int { traffic?.framesSent ?? 0 }

    public func shutdown() {
        traffic?.stop()
        traffic = nil
    }
}

/// The peer's transmitter: beacons of a few networks, probe requests from
/// roaming stations and data from associated ones, on whatever channel the
/// radios are on. Runs on its own host thread.
final class SimulatedTrafficSource: Sendable {
    struct Network: Sendable {
        let ssid: String
        let channel: Int
        let bssid: MACAddress
        let protected: Bool
        let stations: [MACAddress]
    }

    /// The simulated air's networks (the emulated adapters hear the same ones).
    static let networks: [Network] = AirNetwork.standard.map {
        Network(ssid: $0.ssid, channel: $0.channel.primary, bssid: $0.bssid, protected: $0.protected, stations: $0.clients)
    }
    static let roamingStations: [MACAddress] = AirNetwork.roamingStations

    private let injector: PacketInjector
    /// The peer's monitor socket: probe requests airtap sends, which the
    /// peer's access points answer.
    private let listener: HostMutex<PacketCapture>
    private let answerLoss: AirLoss
    private let frequency = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let sent = Atomic<Int>(0)
    private let thread = HostMutex<JoinableThread?>(nil)

    init(injector: PacketInjector, listener: sending PacketCapture, answerLossPercent: Int) throws {
        self.injector = injector
        self.listener = HostMutex(listener)
        answerLoss = AirLoss(percent: answerLossPercent)
    }

    var framesSent: Int { sent.load(ordering: .relaxed) }

    /// Starts transmitting (or switches to `frequency`).
    func start(on frequency: Int) {
        self.frequency.store(frequency, ordering: .releasing)
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let started = try? JoinableThread { [self] in run() }
        thread.withLock { $0 = started }
    }

    func stop() {
        running.store(false, ordering: .releasing)
        thread.withLock { thread in
            thread?.join()
            thread = nil
        }
        injector.close()
        listener.withLock { $0.close() }
    }

    private func run() {
        var sequence: UInt16 = 0
        var tick = 0
        let tickSeconds = 0.01
        let start = HostClock.monotonicNanoseconds()
        func send(_ frame: [UInt8], _ options: RadiotapTransmitOptions) {
            // A retune in progress or a no-IR channel can refuse a frame;
            // the source just carries on.
            if (try? injector.send(options.encodedHeader + frame)) != nil {
                sent.add(1, ordering: .relaxed)
            }
        }
        while running.load(ordering: .acquiring) {
            let frequency = self.frequency.load(ordering: .acquiring)
            let channel = ChannelPlan.channel(forFrequency: frequency) ?? 0
            let here = Self.networks.filter { $0.channel == channel }
            let micros = (HostClock.monotonicNanoseconds() - start) / 1000
            // Beacons every ~100 ms (10 ticks), 1 Mb/s like real APs.
            if tick % 10 == 0 {
                for network in here {
                    sequence &+= 1
                    send(
                        FrameBuilder.beacon(
                            bssid: network.bssid, ssid: network.ssid, channel: channel, sequence: sequence & 0xFFF,
                            timestampMicroseconds: micros, protected: network.protected),
                        RadiotapTransmitOptions(rate: frequency > 5000 ? 12 : 2, txFlags: RadiotapTransmitOptions.txFlagNoAck))
                }
            }
            // A roaming station probes every ~250 ms, alternating wildcard and named SSIDs.
            if tick % 25 == 5 {
                let station = Self.roamingStations[(tick / 25) % Self.roamingStations.count]
                let ssid = (tick / 25) % 2 == 0 ? "" : Self.networks[(tick / 50) % Self.networks.count].ssid
                sequence &+= 1
                send(
                    FrameBuilder.probeRequest(station: station, ssid: ssid, sequence: sequence & 0xFFF),
                    RadiotapTransmitOptions(rate: frequency > 5000 ? 12 : 2, txFlags: RadiotapTransmitOptions.txFlagNoAck))
            }
            // Associated stations send data every ~30 ms at HT rates.
            if tick % 3 == 1 {
                for network in here {
                    guard !network.stations.isEmpty else { continue }
                    let station = network.stations[(tick / 3) % network.stations.count]
                    sequence &+= 1
                    send(
                        FrameBuilder.data(
                            station: station, bssid: network.bssid, destination: .local(0x0E00_0001), sequence: sequence & 0xFFF,
                            payloadLength: 60 + (tick % 7) * 100, marker: UInt32(tick)),
                        RadiotapTransmitOptions(
                            mcs: RadiotapMCS(known: RadiotapMCS.knownBandwidth | RadiotapMCS.knownIndex, flags: 0, index: UInt8(tick % 8))))
                }
            }
            tick += 1
            answerProbes(until: HostClock.monotonicNanoseconds() + UInt64(tickSeconds * 1e9), frequency: frequency, sequence: &sequence, start: start)
        }
    }

    /// Listens on the peer until `deadline`: its access points answer the
    /// probe requests others send on their channel (airtap's test-injection).
    private func answerProbes(until deadline: UInt64, frequency: Int, sequence: inout UInt16, start: UInt64) {
        let channel = ChannelPlan.channel(forFrequency: frequency) ?? 0
        let ours = Set(Self.roamingStations)
        listener.withLock { listener in
            while HostClock.monotonicNanoseconds() < deadline {
                guard let count = try? listener.receiveBatch(), count > 0 else { continue }
                for index in 0..<count {
                    let bytes = listener.frame(at: index).bytes
                    guard let radiotap = try? RadiotapHeader.parse(bytes) else { continue }
                    var frame = Array(bytes[radiotap.length...])
                    if radiotap.flags?.contains(RadiotapFlags(rawValue: 0x10)) ?? false { frame.removeLast(min(4, frame.count)) }
                    guard frame.count >= 16, !ours.contains(MACAddress(Array(frame[10..<16]))) else { continue }
                    let micros = (HostClock.monotonicNanoseconds() - start) / 1000
                    let responses = AirNetwork.probeResponses(
                        to: frame, onChannel: channel, from: AirNetwork.standard, sequence: &sequence, micros: micros,
                        lose: answerLoss.lose)
                    for (_, response) in responses {
                        let options = RadiotapTransmitOptions(rate: frequency > 5000 ? 12 : 2, txFlags: RadiotapTransmitOptions.txFlagNoAck)
                        if (try? injector.send(options.encodedHeader + response)) != nil { sent.add(1, ordering: .relaxed) }
                    }
                }
            }
        }
    }
}
