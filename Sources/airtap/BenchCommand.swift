// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Capture
import LinuxKernel
import RadioDevices
import Synchronization
import USBHost
import Wireless

/// `airtap bench`: hwsim inject -> monitor capture -> pcapng throughput.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure inject -> capture -> pcapng on the simulated radios (frames/s, CPU per frame, drops).",
        discussion: """
            One thread injects on the sim peer's monitor interface; the main thread captures on airtap's \
            radio and writes pcapng to /dev/null (real write syscalls, no disk). Unpaced runs send as fast \
            as possible; the paced run sends at --paced-rate frames/s.
            """)

    @Option(name: .long, help: "Frames per unpaced run.")
    var frames = 200_000

    @Option(
        name: .long,
        help: "Unpaced RX and TX runs per frame size; with more than one, each figure is also given as median [min, max] and its spread (max/min).")
    var runs = 1

    @Option(name: .customLong("sizes"), help: "802.11 frame sizes in bytes, comma-separated.")
    var sizes = "64,256,1500"

    @Option(name: .customLong("paced-rate"), help: "Frames per second of the paced run (0: skip it).")
    var pacedRate = 50_000

    @Option(name: .customLong("paced-seconds"), help: "Length of the paced run.")
    var pacedSeconds = 2.0

    @Option(name: .customLong("paced-size"), help: "Frame size of the paced run.")
    var pacedSize = 256

    @Option(
        name: .customLong("offered-rates"),
        help: "Paced RX runs at these offered rates (frames/s, comma-separated; empty: none): sim's hwsim peer, or an emulated rtw88 chip's air.")
    var offeredRates = ""

    @Option(name: .customLong("offered-seconds"), help: "Length of each offered-load run.")
    var offeredSeconds = 10.0

    @Option(name: .customLong("offered-size"), help: "Frame size of the offered-load runs.")
    var offeredSize = 1500

    @Option(name: .customLong("offered-runs"), help: "Runs per offered rate (the median is reported, with min and max).")
    var offeredRuns = 5

    @Flag(name: .customLong("offered-max-search"), help: "Also search the highest offered rate held with zero loss.")
    var offeredMaxSearch = false

    @Option(
        name: .customLong("receive-path"),
        help: "How the capture takes frames: ring (TPACKET_V3 ring read in place) or copy (recvmmsg).")
    var receivePath: PacketReceivePath = .ring

    @Option(
        name: .customLong("usb-read-ahead"),
        help: "Emulated USB adapters: receive transfers the host controller keeps queued per streaming endpoint beyond the driver's URBs (0: the driver's only).")
    var readAhead = ReadAheadUSBDevice.Policy.standard.depth

    @Option(
        name: .customLong("usb-read-ahead-idle"),
        help: "Of those, how many stay at the device while the driver keeps up (more go out as data waits for the driver; default: all).")
    var readAheadIdle: Int?

    @Option(name: .customLong("output"), help: "Where the pcapng goes.")
    var output = "/dev/null"

    @Option(
        name: .shortAndLong,
        help: "sim: hwsim inject -> capture; emulated:rtl8187, emulated:rtl8821au, emulated:rtl8821cu: bring-up, channel switch, RX and TX through the full USB path (kernel driver, virtual HCD, model).")
    var device = SimulatedRadios.descriptor.name

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    /// `--offered-rates` as frames per second (every bench that paces uses it).
    func parsedOfferedRates() throws -> [Double] {
        try offeredRates.split(separator: ",").map { text -> Double in
            guard let rate = Double(text), rate > 0, rate.isFinite else {
                throw ValidationError("--offered-rates: \(text) is not a positive rate")
            }
            return rate
        }
    }

    func validate() throws {
        guard (1...100).contains(runs) else { throw ValidationError("--runs must be 1...100, not \(runs)") }
        _ = try parsedOfferedRates()  // refused before the kernel boots, not after the unpaced runs
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        if device == Self.dumpcapAnchorDevice {
            try runDumpcapAnchor()
            return
        }
        guard (0...256).contains(readAhead) else {
            throw ValidationError("--usb-read-ahead \(readAhead) must be 0...256 transfers")
        }
        guard (readAheadIdle ?? 0) >= 0 else {
            throw ValidationError("--usb-read-ahead-idle \(readAheadIdle ?? 0) must be 0 or more (at most --usb-read-ahead are used)")
        }
        if let open = Self.emulatedBenchDevices[device] {
            try runEmulatedAdapterBench(open: open)
            return
        }
        guard device == SimulatedRadios.descriptor.name else {
            let names = ([SimulatedRadios.descriptor.name] + Self.emulatedBenchDevices.keys.sorted()).joined(separator: ", ")
            throw ValidationError("bench runs on \(names), not \(device)")
        }
        let frameSizes = try sizes.split(separator: ",").map { text -> Int in
            guard let size = Int(text), (24 + 8 + 4...2304).contains(size) else {
                throw ValidationError("frame size \(text) must be 36...2304 bytes")
            }
            return size
        }
        _ = try FileCaptureOutput(path: output)
        var arguments = try DeviceArguments.parse(["--device", SimulatedRadios.descriptor.name])
        arguments.verbose = verbose
        let device = try arguments.open(simulatedTraffic: false)
        defer { close(device) }
        guard let sim = device as? SimulatedRadios else { throw ValidationError("bench needs the sim device") }
        try sim.tune(ChannelSpec(frequency: 2412))

        print("airtap bench: mac80211_hwsim inject (\(sim.peerInterface.name)) -> monitor capture (\(sim.monitorInterface.name)) -> pcapng (\(output)), receive path \(receivePath.rawValue)")
        print("SIZE   FRAMES    CAPTURED/S   CPU US/FRAME   KERNEL DROPS   LOST")
        for size in frameSizes {
            var results: [Measurement] = []
            for _ in 0..<runs {
                let result = try measure(sim: sim, frameSize: size, frameCount: frames, pacedRate: nil)
                print(result.row)
                print("RESULT size=\(size) captured_fps=\(Int(result.capturedPerSecond)) cpu_us_per_frame=\(String(format2: result.cpuMicrosecondsPerFrame)) drops=\(result.kernelDrops) lost=\(result.lost) frames_per_batch=\(String(format2: result.framesPerBatch)) switches_per_frame=\(String(format2: result.switchesPerFrame))")
                results.append(result)
            }
            RunSpread.report("sim_rx", size: size, [
                ("captured_fps", results.map(\.capturedPerSecond)), ("cpu_us_per_frame", results.map(\.cpuMicrosecondsPerFrame)),
            ])
        }
        if pacedRate > 0 {
            let count = Int(Double(pacedRate) * pacedSeconds)
            let result = try measure(sim: sim, frameSize: pacedSize, frameCount: count, pacedRate: pacedRate)
            print("paced at \(pacedRate) frames/s for \(pacedSeconds) s (\(pacedSize)-byte frames):")
            print(result.row)
            print("RESULT paced_fps=\(pacedRate) paced_sent=\(result.sent) paced_captured=\(result.captured) paced_drops=\(result.kernelDrops) paced_lost=\(result.lost) paced_achieved_send_fps=\(Int(result.sentPerSecond)) paced_frames_per_batch=\(String(format2: result.framesPerBatch)) paced_switches_per_frame=\(String(format2: result.switchesPerFrame))")
        }
        try runSimulatedOfferedLoads(sim)
    }

    /// `--offered-rates` on sim: the hwsim peer sends at each rate for
    /// `--offered-seconds`, `--offered-runs` times; median [min, max] of
    /// what was captured, lost and the CPU per frame.
    func runSimulatedOfferedLoads(_ sim: SimulatedRadios) throws {
        let rates = try parsedOfferedRates().map { Int($0.rounded(.up)) }  // the hwsim sender paces whole frames/s
        guard !rates.isEmpty else { return }
        print("offered load on sim, \(offeredSize)-byte frames, \(offeredSeconds) s a run, \(offeredRuns) runs (median [min, max]):")
        print("RATE/S     SENT/S (ACHIEVED)   CAPTURED/SENT        LOST [MIN,MAX]        KERNEL DROPS [MIN,MAX]   CPU US/FRAME [MIN, MAX]")
        for rate in rates {
            var results: [Measurement] = []
            for _ in 0..<offeredRuns {
                results.append(
                    try measure(sim: sim, frameSize: offeredSize, frameCount: Int(Double(rate) * offeredSeconds), pacedRate: rate))
            }
            guard let sent = RunSpread(results.map { $0.sentPerSecond }), let cpu = RunSpread(results.map(\.cpuMicrosecondsPerFrame)),
                let lost = RunSpread(results.map { Double($0.lost) }), let drops = RunSpread(results.map { Double($0.kernelDrops) }),
                let captured = RunSpread(results.map { Double($0.captured) })
            else { continue }
            print(String(rate).padded(to: 11) + String(Int(sent.median)).padded(to: 20)
                + "\(Int(captured.median))/\(results[0].sent)".padded(to: 21)
                + "\(Int(lost.median)) [\(Int(lost.minimum)),\(Int(lost.maximum))]".padded(to: 22)
                + "\(Int(drops.median)) [\(Int(drops.minimum)),\(Int(drops.maximum))]".padded(to: 25)
                + "\(String(format2: cpu.median)) [\(String(format2: cpu.minimum)), \(String(format2: cpu.maximum))]")
            print("RESULT sim_offered rate=\(rate) size=\(offeredSize) runs=\(offeredRuns) achieved_send_fps_median=\(Int(sent.median)) captured_median=\(Int(captured.median)) lost_max=\(Int(lost.maximum)) kernel_drops_max=\(Int(drops.maximum)) cpu_us_median=\(String(format2: cpu.median)) cpu_us_min=\(String(format2: cpu.minimum)) cpu_us_max=\(String(format2: cpu.maximum)) cpu_spread=\(String(format2: cpu.ratio))")
        }
    }

    struct Measurement {
        var frameSize: Int
        var sent: Int
        var captured: Int
        var seconds: Double
        var sendSeconds: Double
        var cpuSeconds: Double
        var kernelDrops: UInt64
        /// Non-empty receives, and host context switches of the process:
        /// a capture woken once per frame shows as ~1 frame per batch and
        /// several switches per frame (each hand-off of the kernel's CPU).
        var batches = 0
        var contextSwitches = 0
        /// Of `cpuSeconds`, an emulated chip's own work (0 on sim).
        var chipCPUSeconds = 0.0

        var framesPerBatch: Double { Double(captured) / Double(max(batches, 1)) }
        var switchesPerFrame: Double { Double(contextSwitches) / Double(max(captured, 1)) }
        var capturedPerSecond: Double { Double(captured) / seconds }
        var sentPerSecond: Double { Double(sent) / sendSeconds }
        var cpuMicrosecondsPerFrame: Double { captured > 0 ? cpuSeconds * 1e6 / Double(captured) : 0 }
        /// Less the emulated chip: the driver, kernel and capture path.
        var pathCPUMicrosecondsPerFrame: Double { captured > 0 ? (cpuSeconds - chipCPUSeconds) * 1e6 / Double(captured) : 0 }
        var lost: Int { sent - captured }

        var row: String {
            String(frameSize).padded(to: 7) + String(sent).padded(to: 10)
                + String(Int(capturedPerSecond)).padded(to: 13) + String(format2: cpuMicrosecondsPerFrame).padded(to: 15)
                + String(kernelDrops).padded(to: 15) + String(lost)
        }
    }

    func measure(sim: SimulatedRadios, frameSize: Int, frameCount: Int, pacedRate: Int?) throws -> Measurement {
        let capture = try sim.makeCapture(receiveBufferBytes: 64 << 20, receivePath: receivePath)
        defer { capture.close() }
        let writer = try PcapNGWriter(
            output: try FileCaptureOutput(path: output), interfaceName: sim.monitorInterface.name,
            interfaceDescription: sim.interfaceDescription)
        let injector = try PacketInjector(kernel: sim.kernel, interfaceIndex: sim.peerInterface.index)
        defer { injector.close() }
        let radiotap = RadiotapTransmitOptions(rate: 108, txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
        // A few distinct frames, cycled: building one per send would measure Swift, not the path.
        let templates = (0..<16).map { radiotap + FrameBuilder.data(totalLength: frameSize, sequence: UInt16($0), marker: UInt32($0)) }

        let sentCount = Atomic<Int>(0)
        let senderDone = Atomic<Bool>(false)
        let sendNanoseconds = Atomic<UInt64>(0)
        let failure = HostMutex<String?>(nil)
        let startCPU = processCPUSeconds()
        let startSwitches = processContextSwitches()
        let start = HostClock.monotonicNanoseconds()
        let sender = try JoinableThread {
            let begin = HostClock.monotonicNanoseconds()
            for index in 0..<frameCount {
                // Paced: whatever is due goes out, then a 100 us sleep (as the
                // dumpcap anchor paces), so the sender's waiting is not counted as CPU.
                while let pacedRate, UInt64(index) * 1_000_000_000 / UInt64(pacedRate) > HostClock.monotonicNanoseconds() - begin {
                    usleep(100)
                }
                do {
                    try templates[index % templates.count].withUnsafeBytes { try injector.send($0) }
                } catch {
                    failure.withLock { $0 = "\(error)" }
                    break
                }
                sentCount.store(index + 1, ordering: .relaxed)
            }
            sendNanoseconds.store(HostClock.monotonicNanoseconds() - begin, ordering: .relaxed)
            senderDone.store(true, ordering: .releasing)
        }
        var captured = 0
        var batches = 0
        var lastArrival = HostClock.monotonicNanoseconds()
        while true {
            let count = try writeNextBatch(from: capture, to: writer)
            captured += count
            if count > 0 { batches += 1 }
            let now = HostClock.monotonicNanoseconds()
            if count > 0 { lastArrival = now }
            if senderDone.load(ordering: .acquiring) {
                if captured >= sentCount.load(ordering: .relaxed) || now - lastArrival > 500_000_000 { break }
            }
        }
        let end = lastArrival
        sender.join()
        let cpu = processCPUSeconds() - startCPU
        let switches = processContextSwitches() - startSwitches
        let statistics = try closeCapture(capture, writer: writer, delivered: captured)
        if let message = failure.withLock({ $0 }) { throw ValidationError("injection failed: \(message)") }
        return Measurement(
            frameSize: frameSize, sent: sentCount.load(ordering: .relaxed), captured: captured,
            seconds: Double(end - start) / 1e9, sendSeconds: Double(sendNanoseconds.load(ordering: .relaxed)) / 1e9,
            cpuSeconds: cpu, kernelDrops: statistics.dropped, batches: batches, contextSwitches: switches)
    }
}

/// Receives one batch from `capture` and writes every frame with its
/// kernel timestamp; returns how many.
func writeNextBatch(from capture: PacketCapture, to writer: PcapNGWriter) throws -> Int {
    let count = try capture.receiveBatch()
    for index in 0..<count {
        let frame = capture.frame(at: index)
        try writer.writePacket(frame.bytes, originalLength: frame.originalLength, timestampNanoseconds: frame.timestampNanoseconds)
    }
    return count
}

/// Ends a bench capture: the kernel's counters go into the closing
/// interface statistics block, and the file is closed.
func closeCapture(_ capture: PacketCapture, writer: PcapNGWriter, delivered: Int) throws -> PacketSocketStatistics {
    let statistics = try capture.statistics()
    try writer.writeStatistics(
        InterfaceStatistics(
            startNanoseconds: 0, endNanoseconds: CaptureRun.realtimeNanoseconds(), received: statistics.received,
            osDropped: statistics.dropped, delivered: UInt64(delivered)))
    try writer.close()
    return statistics
}

/// Voluntary + involuntary context switches of the whole process.
func processContextSwitches() -> Int {
    var usage = rusage()
    _ = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_nvcsw + usage.ru_nivcsw
}

/// The process's peak resident set (getrusage ru_maxrss), in KiB.
func processPeakResidentKiB() -> Int {
    var usage = rusage()
    _ = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss
}

/// User + system CPU time of the whole process (all threads).
func processCPUSeconds() -> Double {
    var usage = rusage()
    _ = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_utime.seconds + usage.ru_stime.seconds
}

/// User CPU time of the calling thread only.
func threadUserCPUSeconds() -> Double {
    var usage = rusage()
    _ = getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (1), which Swift's Glibc does not import
    return usage.ru_utime.seconds
}

extension timeval {
    var seconds: Double { Double(tv_sec) + Double(tv_usec) / 1e6 }
}

extension String {
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

extension PacketReceivePath: ExpressibleByArgument {}
