// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import Wireless

/// Live figures for the status line.
public struct CaptureStatus: Sendable {
    public var frames: UInt64
    public var bytes: UInt64
    public var kernelDrops: UInt64
    public var channel: ChannelSpec?
    public var framesPerSecond: Double
    public var elapsedSeconds: Double
}

/// What a finished capture reports.
public struct CaptureResult: Sendable {
    public var frames: UInt64
    public var bytes: UInt64
    public var statistics: PacketSocketStatistics
    /// The run's device's channel tunes: the first ones in order, and how many.
    public var channelsVisited: ChannelVisits
    public var elapsedSeconds: Double
    public var stoppedBySignal: Bool
    /// The device went away mid-capture (USB surprise removal).
    public var stoppedByRemoval: Bool
    public var summary: CaptureSummary?
    /// Each device's part, in interface order (one entry for one device).
    public var interfaces: [CaptureInterfaceResult] = []
}

/// The channels a capture tuned, in order: a bounded record, so a capture
/// that hops for days keeps the same memory (and a readable report).
public struct ChannelVisits: Sendable {
    /// How many tunes are kept in order; later ones are only counted.
    public static let kept = 64
    /// The first `kept` tunes, in order.
    public private(set) var first: [ChannelSpec] = []
    /// Every tune, the first included.
    public private(set) var tunes = 0

    public init() {}

    public mutating func record(_ channel: ChannelSpec) {
        if first.count < Self.kept { first.append(channel) }
        tunes += 1
    }

    /// "1 6 11", or "1 6 11 ... (first 64 of 530 tunes)" once past `kept`.
    public var label: String {
        let listed = first.map { ChannelPlan.label(forFrequency: $0.frequency) }.joined(separator: " ")
        return tunes > first.count ? "\(listed) ... (first \(first.count) of \(tunes) tunes)" : listed
    }
}

/// What one device of a capture contributed (its pcapng interface).
public struct CaptureInterfaceResult: Sendable {
    /// Its interface in the file: 0 for the run's device, then the additional sources in order.
    public var interface: Int
    /// The device's `displayName` ("emulated:rtl8187 (phy0, wlan0)").
    public var deviceName: String
    public var frames: UInt64
    public var bytes: UInt64
    public var statistics: PacketSocketStatistics
    public var channelsVisited: ChannelVisits
    /// The device went away mid-capture (its part ended there; the others went on).
    public var removed: Bool
}

/// Another device captured by the same loop as a run's own
/// (`CaptureRun.additionalSources`): its radio, socket and channel plan.
public struct CaptureSource {
    public var device: any RadioDevice
    public var capture: PacketCapture
    public var channels: [ChannelSpec]
    public var hopIntervalSeconds: Double

    public init(device: any RadioDevice, capture: PacketCapture, channels: [ChannelSpec], hopIntervalSeconds: Double) {
        self.device = device
        self.capture = capture
        self.channels = channels
        self.hopIntervalSeconds = hopIntervalSeconds
    }
}

/// When a capture ends (whichever comes first; neither: until stopped).
public struct CaptureLimits: Sendable {
    public var frameCount: Int?
    public var durationSeconds: Double?

    public init(frameCount: Int? = nil, durationSeconds: Double? = nil) {
        self.frameCount = frameCount
        self.durationSeconds = durationSeconds
    }
}

/// Monitor capture from a device into a capture file writer, hopping channels.
public struct CaptureRun {
    public var device: any RadioDevice
    public var channels: [ChannelSpec]
    public var hopIntervalSeconds: Double
    public var limits: CaptureLimits
    public var collectSummary: Bool
    /// Polled between batches; true ends the capture cleanly.
    public var shouldStop: () -> Bool
    /// Called about every `statusIntervalSeconds`.
    public var onStatus: ((CaptureStatus) -> Void)?
    public var statusIntervalSeconds = 0.5
    /// Longest time captured frames may sit in the writer's buffer (live
    /// readers of a pipe want to see them promptly).
    public var flushIntervalSeconds = 0.2
    /// Capture filter for the socket `run(writer:)` opens.
    public var filter: CaptureFilter?
    /// More devices captured by the same loop into the same writer, as
    /// interfaces 1, 2, ... (`airtap capture --device A --device B`). A
    /// device that goes away ends only its own part; the capture ends when
    /// the limits say, or when every device is gone.
    public var additionalSources: [CaptureSource] = []
    /// Called when a device goes away mid-capture, with its part's figures
    /// and how many devices still capture.
    public var onDeviceRemoved: ((_ part: CaptureInterfaceResult, _ stillCapturing: Int) -> Void)?
    /// With several sources, how long one wait for any of them lasts (a
    /// lone source waits in its own receive for as long).
    static let pollSeconds = 0.05

    public init(
        device: any RadioDevice, channels: [ChannelSpec], hopIntervalSeconds: Double, limits: CaptureLimits,
        collectSummary: Bool, shouldStop: @escaping () -> Bool, onStatus: ((CaptureStatus) -> Void)? = nil
    ) {
        self.device = device
        self.channels = channels
        self.hopIntervalSeconds = hopIntervalSeconds
        self.limits = limits
        self.collectSummary = collectSummary
        self.shouldStop = shouldStop
        self.onStatus = onStatus
    }

    /// Opens the device's capture socket (with `filter`), then runs as
    /// `run(capture:writer:)`.
    public func run(writer: any CapturedFrameSink) throws -> CaptureResult {
        let capture = try device.makeCapture(filter: filter)
        return try run(capture: capture, writer: writer)
    }

    /// Runs to the end, writes the interface statistics block(s) and closes
    /// the writer (also when an error ends the capture early), `capture`
    /// and the additional sources' captures. Every frame carries the time
    /// the kernel received it. The writer is a capture file (or ring of
    /// them) or any other `CapturedFrameSink`.
    public func run(capture: PacketCapture, writer fileWriter: any CapturedFrameSink) throws -> CaptureResult {
        let sources =
            [CaptureSource(device: device, capture: capture, channels: channels, hopIntervalSeconds: hopIntervalSeconds)]
            + additionalSources
        precondition(sources.allSatisfy { !$0.channels.isEmpty }, "a capture needs at least one channel per device")
        defer { for source in sources { source.capture.close() } }
        // Finished (statistics, close) even if the kernel panics, faults or hangs meanwhile.
        let writer = FailureSafeSink(fileWriter, startRealtime: Self.realtimeNanoseconds(), interfaces: sources.count)
        defer { writer.unregister() }
        var parts = sources.enumerated().map { SourceProgress(source: $0.element, interface: $0.offset) }
        for index in parts.indices { try parts[index].tuneFirstChannel() }
        for part in parts { try part.source.device.captureDidStart() }

        let startMonotonic = HostClock.monotonicNanoseconds()
        let startRealtime = Self.realtimeNanoseconds()
        for index in parts.indices { parts[index].lastHop = startMonotonic }
        var lastStatus = startMonotonic
        var lastFlush = startMonotonic
        var framesAtLastStatus: UInt64 = 0
        var frames: UInt64 = 0
        var bytes: UInt64 = 0
        var summary = collectSummary ? CaptureSummary() : nil
        var stoppedBySignal = false
        var stoppedByRemoval = false
        var failure: Error?

        // A device gone: its part ends with the counters it has now.
        func endPart(_ index: Int) {
            guard parts[index].ended == nil else { return }
            let statistics = (try? parts[index].source.capture.statistics()) ?? PacketSocketStatistics()
            parts[index].ended = (statistics, Self.realtimeNanoseconds(), byRemoval: true)
            onDeviceRemoved?(parts[index].result, parts.filter { $0.ended == nil }.count)
        }

        capturing: while true {
            if shouldStop() {
                stoppedBySignal = true
                break
            }
            let now = HostClock.monotonicNanoseconds()
            let elapsed = Double(now - startMonotonic) / 1e9
            if let duration = limits.durationSeconds, elapsed >= duration { break }
            for index in parts.indices where parts[index].ended == nil && !parts[index].source.device.isPresent {
                endPart(index)
            }
            let active = parts.indices.filter { parts[$0].ended == nil }
            if active.isEmpty {
                stoppedByRemoval = true
                break
            }
            do {
                // One source waits in its own receive; several wait for any.
                let ready =
                    active.count == 1
                    ? active
                    : try PacketCapture.waitForFrames(
                        in: active.map { parts[$0].source.capture }, timeoutSeconds: Self.pollSeconds
                    ).map { active[$0] }
                var received = 0
                for index in ready {
                    let capture = parts[index].source.capture
                    let count: Int
                    do {
                        count = try capture.receiveBatch()
                    } catch _ where !parts[index].source.device.isPresent {
                        // An unplugged adapter's interface goes away under
                        // the socket (ENETDOWN): that ends its part, it is no bug.
                        endPart(index)
                        continue
                    }
                    received += count
                    for slot in 0..<count {
                        let frame = capture.frame(at: slot)
                        try writer.writePacket(
                            frame.bytes, originalLength: frame.originalLength, timestampNanoseconds: frame.timestampNanoseconds,
                            interface: index)
                        summary?.add(frame.bytes)
                        parts[index].frames += 1
                        parts[index].bytes += UInt64(frame.bytes.count)
                        frames += 1
                        bytes += UInt64(frame.bytes.count)
                        if let limit = limits.frameCount, frames >= UInt64(limit) { break capturing }
                    }
                }
                try writer.rotateIfDue()
                let afterBatch = HostClock.monotonicNanoseconds()
                for index in parts.indices where parts[index].ended == nil {
                    parts[index].backpressure.check(
                        parts[index].source.capture, device: parts[index].source.device, now: afterBatch)
                }
                if received == 0 || Double(afterBatch - lastFlush) / 1e9 >= flushIntervalSeconds {
                    try writer.flush()
                    lastFlush = afterBatch
                }
                for index in parts.indices where parts[index].ended == nil {
                    do {
                        try parts[index].hopIfDue(now: afterBatch)
                    } catch _ where !parts[index].source.device.isPresent {
                        endPart(index)
                    }
                }
                if let onStatus, Double(afterBatch - lastStatus) / 1e9 >= statusIntervalSeconds {
                    let interval = Double(afterBatch - lastStatus) / 1e9
                    var drops: UInt64 = 0
                    for part in parts {
                        guard let counters = part.ended?.statistics ?? (try? part.source.capture.statistics()) else { continue }
                        writer.noteKernelCounters(counters, interface: part.interface)
                        drops += counters.dropped
                    }
                    let tuned = parts.first { $0.ended == nil }?.source.device ?? device
                    onStatus(
                        CaptureStatus(
                            frames: frames, bytes: bytes, kernelDrops: drops, channel: tuned.currentChannel,
                            framesPerSecond: Double(frames - framesAtLastStatus) / interval,
                            elapsedSeconds: Double(afterBatch - startMonotonic) / 1e9))
                    lastStatus = afterBatch
                    framesAtLastStatus = frames
                }
            } catch {
                // Unplugged adapters' errors end the capture as removals.
                if parts.allSatisfy({ !$0.source.device.isPresent }) {
                    stoppedByRemoval = true
                } else {
                    failure = error
                }
                break
            }
        }

        // Finish the file on every path: statistics blocks, flush, close.
        let endRealtime = Self.realtimeNanoseconds()
        var finishError: Error?
        for index in parts.indices {
            if parts[index].ended == nil {
                let statistics = (try? parts[index].source.capture.statistics()) ?? PacketSocketStatistics()
                parts[index].ended = (statistics, endRealtime, byRemoval: false)
            }
            let (statistics, endedAt, _) = parts[index].ended!
            do {
                try writer.writeStatistics(
                    InterfaceStatistics(
                        startNanoseconds: startRealtime, endNanoseconds: endedAt, received: statistics.received,
                        osDropped: statistics.dropped, delivered: parts[index].frames),
                    interface: index)
            } catch { finishError = finishError ?? error }
        }
        do { try writer.close() } catch { finishError = finishError ?? error }
        if let failure { throw failure }
        if let finishError { throw finishError }
        let interfaces = parts.map(\.result)
        return CaptureResult(
            frames: frames, bytes: bytes,
            statistics: PacketSocketStatistics(
                received: interfaces.reduce(0) { $0 + $1.statistics.received },
                dropped: interfaces.reduce(0) { $0 + $1.statistics.dropped }),
            channelsVisited: parts[0].visited,
            elapsedSeconds: Double(HostClock.monotonicNanoseconds() - startMonotonic) / 1e9,
            stoppedBySignal: stoppedBySignal, stoppedByRemoval: stoppedByRemoval, summary: summary, interfaces: interfaces)
    }

    /// Host wall-clock time (statistics block start and end).
    public static func realtimeNanoseconds() -> UInt64 { KernelWallClock.hostNanoseconds() }
}

/// One source's place in a running capture: its channel plan and counters.
private struct SourceProgress {
    let source: CaptureSource
    let interface: Int
    var channelIndex = 0
    var lastHop: UInt64 = 0
    var visited = ChannelVisits()
    var frames: UInt64 = 0
    var bytes: UInt64 = 0
    var backpressure = ReceiveBackpressure()
    /// Set when its part ended: the socket's counters, the wall-clock time,
    /// and whether the device went away (rather than the run ending).
    var ended: (statistics: PacketSocketStatistics, realtime: UInt64, byRemoval: Bool)?

    init(source: CaptureSource, interface: Int) {
        self.source = source
        self.interface = interface
    }

    mutating func tuneFirstChannel() throws {
        try source.device.tune(source.channels[0])
        visited.record(source.channels[0])
    }

    mutating func hopIfDue(now: UInt64) throws {
        guard source.channels.count > 1, Double(now - lastHop) / 1e9 >= source.hopIntervalSeconds else { return }
        channelIndex = (channelIndex + 1) % source.channels.count
        try source.device.tune(source.channels[channelIndex])
        visited.record(source.channels[channelIndex])
        lastHop = now
    }

    var result: CaptureInterfaceResult {
        CaptureInterfaceResult(
            interface: interface, deviceName: source.device.displayName, frames: frames, bytes: bytes,
            statistics: ended?.statistics ?? PacketSocketStatistics(), channelsVisited: visited,
            removed: ended?.byRemoval ?? false)
    }
}
