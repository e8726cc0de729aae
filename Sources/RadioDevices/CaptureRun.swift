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
    /// Channels in the order they were tuned.
    public var channelsVisited: [ChannelSpec]
    public var elapsedSeconds: Double
    public var stoppedBySignal: Bool
    /// The device went away mid-capture (USB surprise removal).
    public var stoppedByRemoval: Bool
    public var summary: CaptureSummary?
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

    /// Runs to the end, writes the interface statistics block and closes
    /// the writer (also when an error ends the capture early) and `capture`.
    /// Every frame carries the time the kernel received it. The writer is a
    /// capture file (or ring of them) or any other `CapturedFrameSink`.
    public func run(capture: PacketCapture, writer fileWriter: any CapturedFrameSink) throws -> CaptureResult {
        precondition(!channels.isEmpty, "a capture needs at least one channel")
        defer { capture.close() }
        // Finished (statistics, close) even if the kernel panics, faults or hangs meanwhile.
        let writer = FailureSafeSink(fileWriter, startRealtime: Self.realtimeNanoseconds())
        defer { writer.unregister() }
        var visited: [ChannelSpec] = []
        var channelIndex = 0
        try device.tune(channels[0])
        visited.append(channels[0])

        let startMonotonic = HostClock.monotonicNanoseconds()
        let startRealtime = Self.realtimeNanoseconds()
        var lastHop = startMonotonic
        var lastStatus = startMonotonic
        var lastFlush = startMonotonic
        var framesAtLastStatus: UInt64 = 0
        var frames: UInt64 = 0
        var bytes: UInt64 = 0
        var summary = collectSummary ? CaptureSummary() : nil
        var stoppedBySignal = false
        var stoppedByRemoval = false
        var failure: Error?

        capturing: while true {
            if shouldStop() {
                stoppedBySignal = true
                break
            }
            let now = HostClock.monotonicNanoseconds()
            let elapsed = Double(now - startMonotonic) / 1e9
            if let duration = limits.durationSeconds, elapsed >= duration { break }
            if !device.isPresent {
                stoppedByRemoval = true
                break
            }
            do {
                let count = try capture.receiveBatch()
                for index in 0..<count {
                    let frame = capture.frame(at: index)
                    try writer.writePacket(
                        frame.bytes, originalLength: frame.originalLength, timestampNanoseconds: frame.timestampNanoseconds)
                    summary?.add(frame.bytes)
                    frames += 1
                    bytes += UInt64(frame.bytes.count)
                    if let limit = limits.frameCount, frames >= UInt64(limit) { break capturing }
                }
                try writer.rotateIfDue()
                let afterBatch = HostClock.monotonicNanoseconds()
                if count == 0 || Double(afterBatch - lastFlush) / 1e9 >= flushIntervalSeconds {
                    try writer.flush()
                    lastFlush = afterBatch
                }
                if channels.count > 1, Double(afterBatch - lastHop) / 1e9 >= hopIntervalSeconds {
                    channelIndex = (channelIndex + 1) % channels.count
                    try device.tune(channels[channelIndex])
                    visited.append(channels[channelIndex])
                    lastHop = afterBatch
                }
                if let onStatus, Double(afterBatch - lastStatus) / 1e9 >= statusIntervalSeconds {
                    let interval = Double(afterBatch - lastStatus) / 1e9
                    let counters = try? capture.statistics()
                    if let counters { writer.noteKernelCounters(counters) }
                    let drops = counters?.dropped ?? 0
                    onStatus(
                        CaptureStatus(
                            frames: frames, bytes: bytes, kernelDrops: drops, channel: device.currentChannel,
                            framesPerSecond: Double(frames - framesAtLastStatus) / interval,
                            elapsedSeconds: Double(afterBatch - startMonotonic) / 1e9))
                    lastStatus = afterBatch
                    framesAtLastStatus = frames
                }
            } catch {
                // An unplugged adapter's interface goes away under the
                // socket (ENETDOWN): that ends the capture, it is no bug.
                if !device.isPresent {
                    stoppedByRemoval = true
                } else {
                    failure = error
                }
                break
            }
        }

        // Finish the file on every path: statistics block, flush, close.
        let statistics = (try? capture.statistics()) ?? PacketSocketStatistics()
        let endRealtime = Self.realtimeNanoseconds()
        var finishError: Error?
        do {
            try writer.writeStatistics(
                InterfaceStatistics(
                    startNanoseconds: startRealtime, endNanoseconds: endRealtime, received: statistics.received,
                    osDropped: statistics.dropped, delivered: frames))
        } catch { finishError = error }
        do { try writer.close() } catch { finishError = finishError ?? error }
        if let failure { throw failure }
        if let finishError { throw finishError }
        return CaptureResult(
            frames: frames, bytes: bytes, statistics: statistics, channelsVisited: visited,
            elapsedSeconds: Double(HostClock.monotonicNanoseconds() - startMonotonic) / 1e9,
            stoppedBySignal: stoppedBySignal, stoppedByRemoval: stoppedByRemoval, summary: summary)
    }

    /// Host wall-clock time (statistics block start and end).
    public static func realtimeNanoseconds() -> UInt64 { KernelWallClock.hostNanoseconds() }
}
