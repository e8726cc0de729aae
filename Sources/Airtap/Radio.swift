// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import RadioDevices
import Synchronization
import Wireless

/// How to open a radio; the defaults are the command line's.
public struct RadioOptions: Sendable {
    /// ISO alpha-2 code applied first (nil: the world domain, 00). Injection
    /// on channels the domain marks no-IR is dropped by mac80211.
    public var regulatoryDomain: String?
    public var monitorFlags: MonitorFlags
    /// `sim` and emulated devices: generate their background traffic.
    public var simulatedTraffic: Bool
    /// Kernel RAM in MiB (captured frames queue in kernel memory).
    public var memoryMiB: Int
    /// USB devices: record every URB to this usbmon pcap file.
    public var usbTracePath: String?
    /// Real USB adapters: where firmware files are read (nil: /lib/firmware).
    public var firmwareDirectory: String?
    /// Real USB adapters: split bulk transfers above this many bytes.
    public var maxBulkTransferBytes: Int?
    /// Emulated USB devices: pull the adapter out this many seconds after
    /// `frames()` starts capturing, to test how a program handles surprise removal.
    public var unplugAfterSeconds: Double?
    /// Called with each line the kernel prints (boot log, driver messages).
    public var kernelConsole: (@Sendable (String) -> Void)?
    /// Also log kernel lines through swift-log (label airtap.kernel, info).
    /// Off by default: an un-bootstrapped swift-log prints them on stdout.
    public var kernelLogToSwiftLog: Bool

    public init(
        regulatoryDomain: String? = nil, monitorFlags: MonitorFlags = .capture, simulatedTraffic: Bool = true,
        memoryMiB: Int = 256, usbTracePath: String? = nil, firmwareDirectory: String? = nil,
        maxBulkTransferBytes: Int? = nil, unplugAfterSeconds: Double? = nil,
        kernelConsole: (@Sendable (String) -> Void)? = nil, kernelLogToSwiftLog: Bool = false
    ) {
        self.regulatoryDomain = regulatoryDomain
        self.monitorFlags = monitorFlags
        self.simulatedTraffic = simulatedTraffic
        self.memoryMiB = memoryMiB
        self.usbTracePath = usbTracePath
        self.firmwareDirectory = firmwareDirectory
        self.maxBulkTransferBytes = maxBulkTransferBytes
        self.unplugAfterSeconds = unplugAfterSeconds
        self.kernelConsole = kernelConsole
        self.kernelLogToSwiftLog = kernelLogToSwiftLog
    }

    var deviceOptions: DeviceOptions {
        var options = DeviceOptions(
            monitorFlags: monitorFlags, regulatoryDomain: regulatoryDomain, simulatedTraffic: simulatedTraffic,
            memoryMiB: memoryMiB, usbTracePath: usbTracePath, unplugAfterSeconds: unplugAfterSeconds,
            maxBulkTransferBytes: maxBulkTransferBytes)
        if let firmwareDirectory { options.firmwareDirectory = firmwareDirectory }
        return options
    }
}

public enum RadioError: Error, Sendable, Equatable, CustomStringConvertible {
    case closed(device: String)
    case notTuned(device: String)
    case captureAlreadyRunning(device: String)
    case onlyOneRadioPerProcess
    case removed(device: String)

    public var description: String {
        switch self {
        case .closed(let device):
            return "\(device) is closed; a closed radio cannot be used again"
        case .notTuned(let device):
            return "\(device) is not tuned: call tune(_:) first, or pass the channels to frames(channels:)"
        case .captureAlreadyRunning(let device):
            return "\(device) is already capturing into another frames() sequence: stop iterating that one first "
                + "(one capture at a time; each frame goes to one consumer)"
        case .onlyOneRadioPerProcess:
            return "the kernel library was already booted in this process (by an earlier Radio.open, even one that "
                + "failed later): it boots once per process, so a program opens one radio (start another process for another)"
        case .removed(let device):
            return "\(device) was unplugged (surprise removal); open it again in a new process once it is back"
        }
    }
}

/// What a radio has done since it was opened.
public struct RadioStatistics: Sendable, Equatable {
    /// Frames put into `frames()` sequences.
    public var framesCaptured: UInt64 = 0
    public var bytesCaptured: UInt64 = 0
    /// Frames lost because a sequence's buffer was full (a slow consumer).
    public var framesDroppedByConsumer: UInt64 = 0
    /// Frames the kernel dropped because the capture socket was full
    /// (updated about twice a second while capturing).
    public var kernelDropped: UInt64 = 0
    public var framesInjected: UInt64 = 0
    public var injectionFailures: UInt64 = 0
    public var channel: ChannelSpec?
}

final class RadioCounters: Sendable {
    let framesCaptured = Atomic<UInt64>(0)
    let bytesCaptured = Atomic<UInt64>(0)
    let framesDroppedByConsumer = Atomic<UInt64>(0)
    /// Kernel drops of finished captures, and of the running one so far.
    let kernelDroppedBefore = Atomic<UInt64>(0)
    let kernelDroppedNow = Atomic<UInt64>(0)
    let framesInjected = Atomic<UInt64>(0)
    let injectionFailures = Atomic<UInt64>(0)
}

/// One `frames()` capture: its thread and how it is told to stop.
final class CaptureSession: Sendable {
    let stopRequested = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let thread = HostMutex<JoinableThread?>(nil)

    /// Nobody will read it any more, or it ended by itself.
    var isOver: Bool { stopRequested.load(ordering: .acquiring) || finished.load(ordering: .acquiring) }

    func stopAndJoin() {
        stopRequested.store(true, ordering: .releasing)
        thread.withLock { thread in
            thread?.join()
            thread = nil
        }
    }
}

/// The capture loop's destination for a library client: each frame is
/// copied into a `CapturedFrame` and handed to the async sequence.
final class StreamFrameSink: CapturedFrameSink {
    private let continuation: AsyncThrowingStream<CapturedFrame, any Error>.Continuation
    private let counters: RadioCounters
    private let session: CaptureSession

    init(continuation: AsyncThrowingStream<CapturedFrame, any Error>.Continuation, counters: RadioCounters, session: CaptureSession) {
        self.continuation = continuation
        self.counters = counters
        self.session = session
    }

    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        let frame = CapturedFrame(bytes: Array(data), originalLength: originalLength, timestampNanoseconds: timestampNanoseconds)
        // Counted before the consumer can see the frame, so statistics read
        // after receiving it include it; taken back if it was not enqueued.
        counters.framesCaptured.add(1, ordering: .relaxed)
        counters.bytesCaptured.add(UInt64(data.count), ordering: .relaxed)
        let result = continuation.yield(frame)
        if case .enqueued = result { return }
        counters.framesCaptured.subtract(1, ordering: .relaxed)
        counters.bytesCaptured.subtract(UInt64(data.count), ordering: .relaxed)
        switch result {
        case .enqueued:
            break
        case .dropped:
            counters.framesDroppedByConsumer.add(1, ordering: .relaxed)
        case .terminated:
            session.stopRequested.store(true, ordering: .releasing)
        @unknown default:
            break
        }
    }

    func flush() throws {}
    func writeStatistics(_ statistics: InterfaceStatistics) throws {}
    func close() throws {}
}

/// A radio in monitor mode, for Swift programs: the devices of the airtap
/// command (`sim`, `emulated:rtl8187`, `usb`, `usb:VID:PID`, ...), the
/// same capture loop and injection. Safe to use from any thread or task.
///
/// The kernel library boots once per process, so a process opens one
/// radio; `close()` (or the last reference going away) halts it.
public final class Radio: Sendable {
    /// The name it was opened by ("sim").
    public let deviceName: String
    /// The monitor interface inside the kernel library ("wlan0").
    public let interfaceName: String
    /// The radio's wiphy inside the kernel library ("phy0").
    public let wiphyName: String
    private let device: SerializedRadioDevice
    private let injector: PacketInjector
    private let counters = RadioCounters()
    private let state = HostMutex<State>(State())

    private struct State {
        var closed = false
        var capture: CaptureSession?
    }

    /// Boots the kernel library and opens `name`, as `airtap --device NAME`
    /// does; returns once the radio is in monitor mode (not yet tuned).
    public static func open(_ name: String, options: RadioOptions = RadioOptions()) async throws -> Radio {
        // A bad name fails here, before anything boots.
        let descriptor = try DeviceRegistry.descriptor(named: name)
        return try await onHostThread { try Radio(descriptor: descriptor, options: options) }
    }

    private init(descriptor: DeviceDescriptor, options: RadioOptions) throws {
        KernelConsole.forwardsToSwiftLog = options.kernelLogToSwiftLog
        let opened: any RadioDevice
        do {
            opened = try descriptor.bootAndOpen(options: options.deviceOptions, console: ConsoleSink(options.kernelConsole))
        } catch KernelError.alreadyBooted {
            throw RadioError.onlyOneRadioPerProcess
        }
        do {
            injector = try opened.makeInjector()
        } catch {
            opened.shutdown()
            try? opened.kernel.halt()
            throw error
        }
        device = SerializedRadioDevice(opened)
        deviceName = descriptor.name
        interfaceName = opened.monitorInterface.name
        wiphyName = opened.wiphy.name
    }

    deinit { close() }

    /// The channel the radio is on (nil before the first tune).
    public var channel: ChannelSpec? { device.currentChannel }

    /// False once the device is gone (a USB adapter unplugged).
    public var isPresent: Bool { device.isPresent }

    /// Tunes the radio; a running capture continues on the new channel.
    public func tune(_ channel: ChannelSpec) throws {
        try checkOpen()
        try device.tune(channel)
    }

    /// Tunes to a channel written as on the command line: "6", "36:80",
    /// "6:ht40+", "2437" (MHz), "6g5" (6 GHz channel 5).
    public func tune(_ channel: String) throws {
        try tune(ChannelSpec(parsing: channel))
    }

    /// Starts a capture and returns its frames. Without `channels` it
    /// stays on the current channel; with several it visits each for
    /// `hopInterval` in turn. Stop iterating (break) to end the capture;
    /// frames arriving while the buffer holds `bufferLimit` are dropped
    /// and counted (`statistics.framesDroppedByConsumer`).
    public func frames(
        channels: [ChannelSpec]? = nil, hopInterval: Duration = .milliseconds(500), bufferLimit: Int = 4096
    ) throws -> CapturedFrames {
        try state.withLock { state in
            guard !state.closed else { throw RadioError.closed(device: deviceName) }
            if let previous = state.capture {
                guard previous.isOver else { throw RadioError.captureAlreadyRunning(device: deviceName) }
                previous.stopAndJoin()
                state.capture = nil
            }
            guard let visit = channels ?? device.currentChannel.map({ [$0] }), !visit.isEmpty else {
                throw RadioError.notTuned(device: deviceName)
            }
            let session = CaptureSession()
            let (stream, continuation) = AsyncThrowingStream<CapturedFrame, any Error>.makeStream(
                bufferingPolicy: .bufferingOldest(max(bufferLimit, 1)))
            continuation.onTermination = { _ in session.stopRequested.store(true, ordering: .releasing) }
            let (device, counters) = (self.device, self.counters)
            let hopSeconds = Double(hopInterval.components.seconds) + Double(hopInterval.components.attoseconds) / 1e18
            let thread = try JoinableThread {
                Self.capture(
                    on: device, channels: visit, hopSeconds: hopSeconds, counters: counters, session: session,
                    continuation: continuation)
            }
            session.thread.withLock { $0 = thread }
            state.capture = session
            return CapturedFrames(stream: stream, session: session)
        }
    }

    /// The capture thread: the one capture loop (`CaptureRun`), whose
    /// frames go into the sequence.
    private static func capture(
        on device: SerializedRadioDevice, channels: [ChannelSpec], hopSeconds: Double, counters: RadioCounters,
        session: CaptureSession, continuation: AsyncThrowingStream<CapturedFrame, any Error>.Continuation
    ) {
        defer { session.finished.store(true, ordering: .releasing) }
        var run = CaptureRun(
            device: device, channels: channels, hopIntervalSeconds: hopSeconds, limits: CaptureLimits(),
            collectSummary: false, shouldStop: { session.stopRequested.load(ordering: .acquiring) })
        run.onStatus = { counters.kernelDroppedNow.store($0.kernelDrops, ordering: .relaxed) }
        do {
            let result = try run.run(writer: StreamFrameSink(continuation: continuation, counters: counters, session: session))
            counters.kernelDroppedBefore.add(result.statistics.dropped, ordering: .relaxed)
            counters.kernelDroppedNow.store(0, ordering: .relaxed)
            if result.stoppedByRemoval {
                continuation.finish(throwing: RadioError.removed(device: device.name))
            } else {
                continuation.finish()
            }
        } catch {
            continuation.finish(throwing: error)
        }
    }

    /// Sends a radiotap + 802.11 frame; mac80211 honours the radiotap
    /// Flags, Rate, TX flags and MCS fields. The frame is checked first
    /// (a malformed one is an error, not a silent drop).
    public func inject(_ frame: [UInt8]) throws {
        try checkOpen()
        try InjectionPreparation.validateRadiotapFrame(frame, frameNumber: 1)
        do {
            try injector.send(frame)
            counters.framesInjected.add(1, ordering: .relaxed)
        } catch {
            counters.injectionFailures.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// Sends a plain 802.11 frame with a radiotap header made of `options`
    /// (default: no ACK expected, the driver's rate).
    public func inject(
        ieee80211 frame: [UInt8],
        options: RadiotapTransmitOptions = RadiotapTransmitOptions(txFlags: RadiotapTransmitOptions.txFlagNoAck)
    ) throws {
        try inject(options.encodedHeader + frame)
    }

    public var statistics: RadioStatistics {
        RadioStatistics(
            framesCaptured: counters.framesCaptured.load(ordering: .relaxed),
            bytesCaptured: counters.bytesCaptured.load(ordering: .relaxed),
            framesDroppedByConsumer: counters.framesDroppedByConsumer.load(ordering: .relaxed),
            kernelDropped: counters.kernelDroppedBefore.load(ordering: .relaxed)
                + counters.kernelDroppedNow.load(ordering: .relaxed),
            framesInjected: counters.framesInjected.load(ordering: .relaxed),
            injectionFailures: counters.injectionFailures.load(ordering: .relaxed), channel: device.currentChannel)
    }

    /// Ends a running capture (its sequence finishes), stops the device and
    /// halts the kernel library. Later calls do nothing; other methods
    /// throw `RadioError.closed`.
    public func close() {
        let (wasOpen, capture) = state.withLock { state -> (Bool, CaptureSession?) in
            defer {
                state.closed = true
                state.capture = nil
            }
            return (!state.closed, state.capture)
        }
        guard wasOpen else { return }
        capture?.stopAndJoin()
        injector.close()
        device.shutdown()
        try? device.kernel.halt()
    }

    private func checkOpen() throws {
        if state.withLock({ $0.closed }) { throw RadioError.closed(device: deviceName) }
    }
}
