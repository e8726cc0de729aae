// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import LinuxKernel
import RadioDevices
import SimulatedAir
import Synchronization
import USBDevices
import Wireless

/// `soak [SECONDS] [SAMPLE_SECONDS] [FRAMES_PER_SECOND] [WARMUP_SECONDS] [INJECTIONS_PER_SECOND] [HOP_SECONDS]`
/// (`make soak`; `-` for a default): a long capture from the emulated
/// RTL8821AU of frames offered at a fixed rate, with injection and channel
/// hops, watching for leaks and losses.
struct SoakSettings {
    var seconds: Double = 3600
    /// One sample a minute; shorter runs get at least a dozen.
    var sampleSeconds: Double
    var framesPerSecond = 1000
    /// Growth is measured from the first sample at or after this.
    var warmupSeconds: Double
    var hopSeconds = 5.0
    var injectionsPerSecond = 10
    /// Allowed growth from the end of warm-up to the last sample.
    static let allowedGrowth = 0.01

    init(arguments: [String]) throws {
        // "-" (or nothing) takes an argument's default.
        func number(_ index: Int, zeroAllowed: Bool = false) throws -> Double? {
            guard index < arguments.count, arguments[index] != "-" else { return nil }
            guard let value = Double(arguments[index]), value > 0 || (zeroAllowed && value == 0), value.isFinite else {
                throw KernelError.invalidArgument(
                    "soak: argument \(index + 1) (\(arguments[index])) must be a positive number (injections may be 0); "
                        + "usage: soak [SECONDS] [SAMPLE_SECONDS] [FRAMES_PER_SECOND] [WARMUP_SECONDS] "
                        + "[INJECTIONS_PER_SECOND] [HOP_SECONDS]")
            }
            return value
        }
        seconds = try number(0) ?? seconds
        sampleSeconds = try number(1) ?? min(60, max(5, seconds / 12))
        framesPerSecond = Int(try number(2) ?? Double(framesPerSecond))
        // A tenth of the run, at least two minutes, at most half of it.
        warmupSeconds = try number(3) ?? min(max(seconds / 10, 120), seconds / 2)
        injectionsPerSecond = Int(try number(4, zeroAllowed: true) ?? Double(injectionsPerSecond))
        hopSeconds = try number(5) ?? hopSeconds
        guard sampleSeconds < seconds, warmupSeconds < seconds, (1...100_000).contains(framesPerSecond) else {
            throw KernelError.invalidArgument(
                "soak: samples and warm-up must fit in the run (\(seconds) s), and the rate be 1...100000 frames/s")
        }
    }
}

/// Counts what passes on to the real sink (the soak's capture files): the
/// offered load's frames, and the injected ones mac80211 shows monitors again
/// with their TX status (told apart by the payload marker).
final class CountingFrameSink: CapturedFrameSink {
    static let injectionMarker: [UInt8] = [0x53, 0x4F, 0x41, 0x4B]  // "SOAK"
    let sink: any CapturedFrameSink
    private(set) var loadFrames: UInt64 = 0
    private(set) var injectionEchoes: UInt64 = 0

    init(_ sink: any CapturedFrameSink) { self.sink = sink }

    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        // FrameBuilder.data puts the marker after the 24-byte header and LLC/SNAP.
        let radiotapLength = data.count >= 4 ? Int(data[2]) | Int(data[3]) << 8 : data.count
        let marker = radiotapLength + 32
        if data.count >= marker + 4, Array(data[marker..<(marker + 4)]) == Self.injectionMarker {
            injectionEchoes += 1
        } else {
            loadFrames += 1
        }
        try sink.writePacket(data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds)
    }
    func writeStatistics(_ statistics: InterfaceStatistics) throws { try sink.writeStatistics(statistics) }
    func flush() throws { try sink.flush() }
    func rotateIfDue() throws { try sink.rotateIfDue() }
    func close() throws { try sink.close() }
}

/// Injects a few frames every second on a host thread of its own, as a
/// tool would while the capture runs.
final class PeriodicInjector: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let sent = Atomic<Int>(0)
    private let failure = HostMutex<String?>(nil)
    private let thread = HostMutex<JoinableThread?>(nil)

    init(_ injector: PacketInjector, perSecond: Int) throws {
        let frame = RadiotapTransmitOptions(rate: 12, txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
            + FrameBuilder.data(totalLength: 120, sequence: 7, marker: 0x534F_414B)  // CountingFrameSink.injectionMarker
        let started = try JoinableThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                do {
                    for _ in 0..<perSecond { try injector.send(frame) }
                    sent.add(perSecond, ordering: .relaxed)
                } catch {
                    failure.withLock { $0 = "\(error)" }
                    return
                }
                HostClock.sleep(seconds: 1)
            }
        }
        thread.withLock { $0 = started }
    }

    var framesSent: Int { sent.load(ordering: .relaxed) }
    var error: String? { failure.withLock { $0 } }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        thread.withLock { thread in
            thread?.join()
            thread = nil
        }
    }
}

func runSoak(arguments: [String]) throws {
    let settings = try SoakSettings(arguments: arguments)
    let watchdog = Watchdog(seconds: settings.seconds + 300, message: "soak scenario")
    defer { watchdog.disarm() }
    let warnings = KernelWarningWatch()
    let kernel = try Kernel.boot(memoryMiB: 256, commandLine: "mac80211_hwsim.radios=0", console: warnings.sink)
    try kernel.mountIfNeeded("proc", at: "/proc")
    // A private air: the paced load is all the chip hears. US: injection
    // is allowed on every channel of the plan (the world domain forbids it on 5 GHz).
    let adapter = try EmulatedRTW88(
        kernel: kernel, chip: .rtl8821au, options: DeviceOptions(regulatoryDomain: "US", simulatedTraffic: false),
        modelOptions: RTW88Model.Options(recordsTransmittedFrames: false, air: SimulatedAir()))
    let channels = try ["1", "6", "11", "36", "149:80"].map(ChannelSpec.init(parsing:))
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-soak-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // A ring of two 20 MB files: rotation and file descriptors are part of the run.
    let destination = try CaptureDestination(
        path: directory.appendingPathComponent("soak.pcapng").path, format: .pcapng, precision: .micro,
        ring: RingBufferPolicy(fileSizeBytes: 20_000_000, maxFiles: 2))
    let sink = CountingFrameSink(
        try destination.makeWriter(
            interfaceName: adapter.monitorInterface.name, interfaceDescription: adapter.interfaceDescription))
    let capture = try adapter.makeCapture()
    let pipe = adapter.model.receivePipe
    // OFDM (54 Mb/s), so the frames are valid on both bands.
    let templates = (0..<8).map { index in
        AirFrame(
            channel: AirChannel(primary: 6)!,
            frame: FrameBuilder.data(totalLength: 200 + 40 * index, sequence: UInt16(index), marker: UInt32(index)),
            rate: .legacy(kbps: 54000), signalDBm: -50)
    }
    let offered = Int(Double(settings.framesPerSecond) * settings.seconds)
    ProbeOutput.emit(
        "soak: \(Int(settings.seconds)) s of capture from emulated:rtl8821au, \(settings.framesPerSecond) frames/s offered, "
            + "\(settings.injectionsPerSecond) injections/s, hops over \(channels.map(\.description).joined(separator: " ")) "
            + "every \(settings.hopSeconds) s; a sample every \(settings.sampleSeconds) s, warm-up \(settings.warmupSeconds) s")

    let start = HostClock.monotonicNanoseconds()
    let end = start + UInt64(settings.seconds * 1e9)
    func elapsed() -> Double { Double(HostClock.monotonicNanoseconds() - start) / 1e9 }
    var samples = [try SoakSample.take(kernel: kernel, seconds: 0, framesCaptured: 0)]
    // Each sample as it is taken, so an hour's run shows where it stands.
    ProbeOutput.progress(SoakSample.tableHeader)
    ProbeOutput.progress(samples[0].tableRow(previous: nil))
    var sampleError: Error?
    func takeSample() {
        do {
            samples.append(try SoakSample.take(kernel: kernel, seconds: elapsed(), framesCaptured: sink.loadFrames))
            ProbeOutput.progress(samples[samples.count - 1].tableRow(previous: samples[samples.count - 2]))
        } catch { sampleError = sampleError ?? error }
    }
    // The air offers frames on time whether or not the capture keeps up;
    // what the chip's FIFO cannot hold is lost (counted).
    try adapter.model.startOfferedAirLoad(templates, count: offered, framesPerSecond: Double(settings.framesPerSecond))
    let injector = try PeriodicInjector(try adapter.makeInjector(), perSecond: settings.injectionsPerSecond)

    // Every offered frame is captured, lost in the FIFO, or dropped with it at a retune.
    func accountedFor() -> Bool {
        let statistics = pipe.statistics
        return pipe.offeredLoadRemaining == 0
            && Int(sink.loadFrames) + statistics.packetsOverflowed + statistics.framesDiscarded >= offered
    }
    var endedAt: UInt64?
    // Samples are taken between hops (a hop's allocations are transient),
    // every `sampleSeconds` or a little later.
    var lastHop = (channel: adapter.currentChannel, at: start)
    var nextSample = start + UInt64(settings.sampleSeconds * 1e9)
    let settleNanoseconds = UInt64(min(1, settings.hopSeconds / 4) * 1e9)
    let run = CaptureRun(
        device: adapter, channels: channels, hopIntervalSeconds: settings.hopSeconds, limits: CaptureLimits(),
        collectSummary: false,
        shouldStop: {
            let now = HostClock.monotonicNanoseconds()
            if adapter.currentChannel != lastHop.channel { lastHop = (adapter.currentChannel, now) }
            if now >= nextSample, now < end, now - lastHop.at >= settleNanoseconds {
                takeSample()
                nextSample += UInt64(settings.sampleSeconds * 1e9)
            }
            guard now >= end else { return false }
            if endedAt == nil {
                // The last sample, still under load (files open, injector running).
                if now - lastHop.at < settleNanoseconds { HostClock.sleep(seconds: Double(settleNanoseconds) / 1e9) }
                takeSample()
                injector.stop()
                endedAt = now
            }
            // Then what is in flight, for a few seconds at most.
            return accountedFor() || now - endedAt! > 3_000_000_000
        })
    let result = try run.run(capture: capture, writer: sink)
    // Read before stopping: a stopped load has nothing left to arrive.
    let arrived = offered - pipe.offeredLoadRemaining
    adapter.model.stopAirFlood()
    HostClock.sleep(seconds: 0.5)  // the last injections' TX reports
    if let sampleError { throw sampleError }

    let statistics = pipe.statistics
    // Where the receive path stood at the end (a stall shows here).
    ProbeOutput.result([
        "chip_urbs_waiting": "\(pipe.pendingRequests)", "chip_packets_waiting": "\(pipe.packetsWaiting)",
        "chip_transfers": "\(statistics.transfersCompleted)", "chip_packets_delivered": "\(statistics.packetsDelivered)",
    ])
    let verdict = SoakVerdict(
        settings: settings, samples: samples, scheduled: offered, offered: arrived, framesCaptured: sink.loadFrames,
        lostInFIFO: statistics.packetsOverflowed, discardedAtRetunes: statistics.framesDiscarded,
        kernelDrops: result.statistics.dropped, injectionEchoes: sink.injectionEchoes, injected: injector.framesSent,
        transmittedByChip: adapter.model.statistics.framesTransmitted, injectionError: injector.error,
        hops: result.channelsVisited.tunes - 1, kernelWarnings: warnings.lines)
    verdict.report()
    adapter.shutdown()
    try kernel.halt()
    if !verdict.failures.isEmpty {
        ProbeOutput.fail("soak: " + verdict.failures.joined(separator: "; "))
    }
    ProbeOutput.result("soak", "ok")
}
