// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import Foundation
import LinuxKernel
import RadioDevices
import USBDevices
import Wireless

/// `airtap inject`: send radiotap + 802.11 frames on the monitor interface.
struct InjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract: "Inject 802.11 frames (radiotap + 802.11) from a pcap/pcapng file, or generated ones.",
        discussion: """
            Frames keep their radiotap header; mac80211 honours its Flags, Rate, TX flags and MCS fields. \
            Plain 802.11 captures (link type 105) get a header from --rate/--mcs. Every frame is checked \
            before any is sent. Injection is refused by the kernel on channels the regulatory domain marks \
            no-IR (in the world domain: 12-14 and 5 GHz); use --regdomain.
            With --device sim the peer radio listens (on --peer-channel, default the same channel) and \
            reports how many frames it heard; --peer-capture saves them.
            """)

    @OptionGroup var deviceArguments: DeviceArguments

    @Option(name: .shortAndLong, help: "Channel to transmit on (e.g. 6, 36:80).")
    var channel: String

    @Option(name: .long, help: "pcap or pcapng file with the frames to send.")
    var from: String?

    @Option(name: .long, help: "Without --from: send this many generated data frames.")
    var generate: Int?

    @Option(name: .long, help: "Legacy rate in Mb/s for frames without radiotap and generated frames (e.g. 1, 6, 54).")
    var rate: Double?

    @Option(name: .long, help: "HT MCS index for frames without radiotap and generated frames.")
    var mcs: Int?

    @Option(name: .customLong("peer-channel"), help: "sim only: channel the peer listens on.")
    var peerChannel: String?

    @Option(name: .customLong("peer-capture"), help: "sim only: write what the peer heard to this pcapng file (nanosecond timestamps).")
    var peerCapture: String?

    @Flag(name: .shortAndLong, help: "No progress messages.")
    var quiet = false

    func validate() throws {
        guard (from == nil) != (generate == nil) else {
            throw ValidationError("give either --from FILE or --generate N")
        }
        if let generate, generate <= 0 { throw ValidationError("--generate must be positive") }
        if let mcs, !(0...31).contains(mcs) { throw ValidationError("--mcs must be 0...31") }
        if let rate, !(rate > 0 && rate <= 127.5) { throw ValidationError("--rate must be between 0.5 and 127.5 Mb/s") }
    }

    var transmitOptions: RadiotapTransmitOptions {
        RadiotapTransmitOptions(
            rate: rate.map { UInt8(($0 * 2).rounded()) },
            txFlags: RadiotapTransmitOptions.txFlagNoAck,
            mcs: mcs.map {
                RadiotapMCS(known: RadiotapMCS.knownBandwidth | RadiotapMCS.knownIndex, flags: 0, index: UInt8($0))
            })
    }

    func run() throws {
        bootstrapLogging(verbose: deviceArguments.verbose)
        // Everything is read and checked before the kernel boots: a bad
        // frame means nothing is sent.
        let descriptor = try deviceArguments.descriptor()
        let spec = try ChannelSpec(parsing: channel)
        let peerSpec = try peerChannel.map(ChannelSpec.init(parsing:)) ?? spec
        let frames: [[UInt8]]
        if let from {
            let bytes: [UInt8]
            do {
                bytes = Array(try Data(contentsOf: URL(fileURLWithPath: from)))
            } catch {
                throw ValidationError("cannot read \(from): \(error.localizedDescription)")
            }
            let file = try CaptureFile(parsing: bytes)
            frames = try InjectionPreparation.prepare(file.packets, defaultOptions: transmitOptions)
        } else {
            let packets = (0..<(generate ?? 0)).map { index in
                CapturedPacket(
                    interfaceIndex: 0, linkType: LinkType.ieee80211,
                    data: FrameBuilder.data(totalLength: 100, sequence: UInt16(index & 0xFFF), marker: UInt32(index)),
                    originalLength: 100, timestampNanoseconds: 0)
            }
            frames = try InjectionPreparation.prepare(packets, defaultOptions: transmitOptions)
        }
        let peerOutput = try peerCapture.map { try FileCaptureOutput(path: $0) }
        if (peerChannel != nil || peerCapture != nil) && descriptor.name != SimulatedRadios.descriptor.name {
            throw ValidationError("--peer-channel and --peer-capture need --device sim")
        }
        installStopSignalHandlers()

        let device = try deviceArguments.open(simulatedTraffic: false)
        defer { close(device) }
        try device.tune(spec)
        let sim = device as? SimulatedRadios
        var witness: PacketCapture?
        if let sim {
            try sim.tunePeer(peerSpec)
            witness = try PacketCapture(kernel: device.kernel, interfaceIndex: sim.peerInterface.index)
        }

        let injector = try device.makeInjector()
        defer { injector.close() }
        // Drivers may send frames of their own at bring-up; count only ours.
        let chip = emulatedChip(of: device)
        let transmittedBeforeInjection = chip?.framesTransmitted ?? 0
        var sent = 0
        // One sendmmsg per batch: the kernel's CPU changes hands once per batch, not per frame.
        while sent < frames.count && !stopRequested.load(ordering: .relaxed) {
            let batch = Array(frames[sent..<min(sent + PacketInjector.batchLimit, frames.count)])
            try injector.send(batch: batch)
            sent += batch.count
        }
        writeStandardError("airtap: injected \(sent) of \(frames.count) frames on \(device.displayName), channel \(spec)\n")
        if let chip {
            // The URB completion is the adapter's ACK: wait for the last one.
            let before = transmittedBeforeInjection
            var transmitted = chip.framesTransmitted - before
            let deadline = HostClock.monotonicNanoseconds() + 2_000_000_000
            while transmitted < sent && HostClock.monotonicNanoseconds() < deadline {
                HostClock.sleep(seconds: 0.005)
                transmitted = chip.framesTransmitted - before
            }
            writeStandardError(
                "airtap: the \(device.name) model transmitted \(transmitted) frames on channel "
                    + "\(chip.tuningDescription) (\(chip.transmitPath))\n")
        }

        guard let sim, let witness else { return }
        let writer = try peerOutput.map {
            try PcapNGWriter(
                output: $0, interfaceName: sim.peerInterface.name,
                interfaceDescription: "airtap sim peer: \(sim.peerWiphy.name) (mac80211_hwsim) in monitor mode",
                timestampPrecision: .nano)
        }
        // Frames cross from one radio to the other through the kernel's
        // softirq; wait until they stop arriving.
        var heard = 0
        var idleSince = HostClock.monotonicNanoseconds()
        while HostClock.monotonicNanoseconds() - idleSince < 300_000_000 {
            let count = try witness.receiveBatch()
            for index in 0..<count {
                let frame = witness.frame(at: index)
                try writer?.writePacket(
                    frame.bytes, originalLength: frame.originalLength, timestampNanoseconds: frame.timestampNanoseconds)
            }
            heard += count
            if count > 0 { idleSince = HostClock.monotonicNanoseconds() }
        }
        let statistics = try witness.statistics()
        try writer?.writeStatistics(
            InterfaceStatistics(
                startNanoseconds: 0, endNanoseconds: CaptureRun.realtimeNanoseconds(), received: statistics.received,
                osDropped: statistics.dropped, delivered: UInt64(heard)))
        try writer?.close()
        writeStandardError(
            "airtap: the sim peer (\(sim.peerInterface.name), channel \(peerSpec)) heard \(heard) of \(sent) frames"
                + (peerCapture.map { "; written to \($0)" } ?? "") + "\n")
    }
}
