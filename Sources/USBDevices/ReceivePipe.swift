// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import Foundation
import LinuxKernel
import Synchronization
import USBHost

/// The bulk IN side of an emulated Wi-Fi chip: the receive URBs the driver
/// keeps submitted and the packets (already in the chip's RX format)
/// waiting for them. Packets go out in order, as many per URB as the chip
/// aggregates; a URB completes inside `submit` when data is ready, else
/// from the pipe's own thread when some arrives (as a chip's USB engine
/// answers an IN token).
///
/// Reliable packets (scripted frames, firmware reports) wait for a URB;
/// live ones are lost when the chip's FIFO (`fifoBytes`) is full, as on
/// hardware.
public final class ReceivePipe: Sendable {
    public struct Layout: Sendable {
        /// Most bytes one transfer may carry.
        public var maximumTransferBytes: Int
        /// Most packets in one transfer (1: no aggregation).
        public var maximumPacketsPerTransfer: Int
        /// Each packet starts at a multiple of this from the previous one.
        public var alignment: Int
        /// Where in a packet the 64-bit (width `timestampBytes`) MAC time goes, if anywhere.
        public var timestampOffset: Int?
        /// 4 (rtw88's 32-bit TSF) or 8 (the RTL8187 trailer's 64-bit MAC time).
        public var timestampBytes: Int
        /// Counted from the end of the packet rather than its start.
        public var timestampFromEnd: Bool

        public init(
            maximumTransferBytes: Int, maximumPacketsPerTransfer: Int, alignment: Int = 1, timestampOffset: Int? = nil,
            timestampBytes: Int = 8, timestampFromEnd: Bool = false
        ) {
            self.maximumTransferBytes = maximumTransferBytes
            self.maximumPacketsPerTransfer = maximumPacketsPerTransfer
            self.alignment = alignment
            self.timestampOffset = timestampOffset
            self.timestampBytes = timestampBytes
            self.timestampFromEnd = timestampFromEnd
        }
    }

    public struct Packet: Sendable {
        public var bytes: [UInt8]
        /// Dropped when the FIFO is full; otherwise it waits.
        public var lossy: Bool
        /// Carries a MAC time to patch (received frames; not firmware reports).
        public var stamped: Bool

        public init(bytes: [UInt8], lossy: Bool, stamped: Bool = true) {
            self.bytes = bytes
            self.lossy = lossy
            self.stamped = stamped
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var packetsDelivered = 0
        public var transfersCompleted = 0
        /// Live packets lost to a full FIFO.
        public var packetsOverflowed = 0
        /// Of those, packets that arrived while a receive URB was waiting
        /// at the chip: the pipe's thread ran late (a chip's USB engine
        /// would have filled that URB in time), so the emulation lost
        /// them. The rest arrived with every URB with the driver.
        public var packetsOverflowedWhileURBWaited = 0
        /// Received frames (not firmware reports) dropped with the FIFO at a
        /// retune or RX off (`discardPackets`), as a chip's baseband restart drops them.
        public var framesDiscarded = 0
        public var cancelled = 0
    }

    private struct Flood {
        var templates: [Packet]
        var remaining: Int
        var next = 0
    }

    /// Frames arriving at a fixed rate whatever the driver does (a paced
    /// benchmark's air): each arrival goes into the FIFO, or is lost if the
    /// FIFO is full, as on hardware.
    private struct OfferedLoad {
        var templates: [Packet]
        var total: Int
        let start: UInt64
        let nanosecondsPerFrame: Double
        var arrived = 0

        func due(at now: UInt64) -> Int {
            min(total, Int(Double(now &- start) / nanosecondsPerFrame) + 1)
        }

        var nextArrival: UInt64 { start + UInt64(Double(arrived) * nanosecondsPerFrame) }
    }

    private struct State {
        var requests: [USBRequest] = []
        /// Since when at least one receive URB has waited at the chip
        /// without a break (nil: every URB is with the driver).
        var urbWaitingSince: UInt64?
        var offered: OfferedLoad?
        var packets: [Packet] = []
        /// Packets queued for later (`enqueue(_:after:)`), oldest first.
        var deferred: [(due: UInt64, packets: [Packet])] = []
        var head = 0
        var queuedBytes = 0
        var flood: Flood?
        var paceNanoseconds: UInt64 = 0
        var nextReleaseNanoseconds: UInt64 = 0
        /// A fill + complete is running; one at a time keeps packets in order.
        var delivering = false
        var stopped = false
        var statistics = Statistics()

        var hasPackets: Bool { head < packets.count || (flood?.remaining ?? 0) > 0 }

        /// Lets the offered load's frames that have arrived by `now` in: into
        /// the receive URBs waiting (the host controller's pending IN tokens
        /// take data as it comes), then the FIFO; the rest are lost.
        mutating func admitOfferedLoad(now: UInt64, fifoBytes: Int, urbBytes: Int, extraURBs: Int = 0) {
            let capacity = fifoBytes + (requests.count + extraURBs) * urbBytes
            guard var load = offered else { return }
            let due = load.due(at: now)
            if due > load.arrived {
                compact()
                packets.reserveCapacity(packets.count + due - load.arrived)
            }
            while load.arrived < due {
                let packet = load.templates[load.arrived % load.templates.count]
                let arrival = load.nextArrival
                load.arrived += 1
                if queuedBytes + packet.bytes.count > capacity {
                    statistics.packetsOverflowed += 1
                    if let since = urbWaitingSince, since <= arrival { statistics.packetsOverflowedWhileURBWaited += 1 }
                    continue
                }
                packets.append(packet)
                queuedBytes += packet.bytes.count
            }
            offered = load.arrived < load.total ? load : nil
        }

        /// Moves deferred packets that are due into the queue.
        mutating func promoteDeferred(now: UInt64) {
            while let first = deferred.first, first.due <= now {
                packets += first.packets
                queuedBytes += first.packets.reduce(0) { $0 + $1.bytes.count }
                deferred.removeFirst()
            }
        }

        mutating func addRequest(_ request: USBRequest, now: UInt64) {
            if requests.isEmpty { urbWaitingSince = now }
            requests.append(request)
        }

        /// The oldest waiting URB, which the next transfer completes.
        mutating func takeOldestRequest() -> USBRequest {
            defer { if requests.isEmpty { urbWaitingSince = nil } }
            return requests.removeFirst()
        }

        mutating func removeAllRequests() {
            requests.removeAll()
            urbWaitingSince = nil
        }

        mutating func compact() {
            if head > 0 && head * 2 >= packets.count {
                packets.removeFirst(head)
                head = 0
            }
        }

        /// The packets the next transfer carries (nil: none due yet).
        mutating func takeBatch(layout: Layout, now: UInt64) -> [Packet]? {
            guard hasPackets else { return nil }
            if paceNanoseconds > 0 {
                guard now >= nextReleaseNanoseconds else { return nil }
                nextReleaseNanoseconds = now + paceNanoseconds
            }
            var batch: [Packet] = []
            var bytes = 0
            while batch.count < (paceNanoseconds > 0 ? 1 : layout.maximumPacketsPerTransfer) {
                let packet: Packet
                if head < packets.count {
                    packet = packets[head]
                } else if let flood, flood.remaining > 0 {
                    packet = flood.templates[flood.next]
                } else {
                    break
                }
                let start = bytes == 0 ? 0 : (bytes + layout.alignment - 1) / layout.alignment * layout.alignment
                guard start + packet.bytes.count <= layout.maximumTransferBytes else { break }
                bytes = start + packet.bytes.count
                batch.append(packet)
                if head < packets.count {
                    head += 1
                    queuedBytes -= packet.bytes.count
                } else if var flood = self.flood {
                    flood.next = (flood.next + 1) % flood.templates.count
                    flood.remaining -= 1
                    self.flood = flood.remaining > 0 ? flood : nil
                }
            }
            return batch.isEmpty ? nil : batch
        }
    }

    public let layout: Layout
    private let fifoBytes: Int
    /// How long an offered load's arrivals gather before the pipe collects
    /// them (rtw88 chips aggregate RX by a timeout of this order).
    static let aggregationNanoseconds: UInt64 = 100_000
    private let state = HostMutex(State())
    private let link = HostMutex<USBDeviceLink?>(nil)
    private let wakeup = DispatchSemaphore(value: 0)
    private let workerStarted = Atomic<Bool>(false)
    private let workerFinished = DispatchSemaphore(value: 0)
    private let threadName: String
    private let startNanoseconds = HostClock.monotonicNanoseconds()
    /// The pipe thread's CPU clock (pthread_getcpuclockid), once it runs.
    private let workerClock = HostMutex<clockid_t?>(nil)
    /// CPU the pipe's thread spent inside completions, running the driver
    /// when it found the kernel's CPU free: not the chip's work. From the
    /// thread's CPU clock (a wall clock would count a preemption there).
    private let workerKernelNanoseconds = Atomic<UInt64>(0)
    /// The highest total reported: read while the pipe's thread is inside a
    /// completion, the estimate still holds that completion's driver work
    /// (subtracted when it returns), and work done never shrinks.
    private let reportedEmulationNanoseconds = Atomic<Int64>(0)

    public init(layout: Layout, fifoBytes: Int, threadName: String) {
        self.layout = layout
        self.fifoBytes = fifoBytes
        self.threadName = threadName
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Host CPU spent emulating the chip rather than running the driver:
    /// the pipe's thread (keeping the air's time, admitting arrivals,
    /// filling URBs) less the kernel work it ran inside completions. A
    /// benchmark subtracts it: real hardware does this work in silicon.
    /// Counting costs two clock reads per URB the pipe's thread completes,
    /// none on kernel threads. URBs filled inside a driver's submit are
    /// left in the driver's share: timing them would cost syscalls on the
    /// driver's own path, and a wall clock would charge a preemption.
    public var emulationCPUSeconds: Double {
        // Before the thread runs, 0; after it is gone, the last total.
        guard let clock = workerClock.withLock({ $0 }), let used = HostClock.cpuNanoseconds(of: clock) else {
            return Double(reportedEmulationNanoseconds.load(ordering: .relaxed)) / 1e9
        }
        let worker = Int64(used)
        let kernel = Int64(workerKernelNanoseconds.load(ordering: .relaxed))
        let estimate = max(0, worker - kernel)
        let reported = reportedEmulationNanoseconds.max(estimate, ordering: .relaxed).newValue
        return Double(reported) / 1e9
    }
    public var pendingRequests: Int { state.withLock { $0.requests.count } }
    public var packetsWaiting: Int { state.withLock { $0.packets.count - $0.head } }
    public var floodRemaining: Int { state.withLock { $0.flood?.remaining ?? 0 } }

    /// Least time between two transfers (0: as fast as URBs come back).
    public func setPace(nanoseconds: UInt64) {
        state.withLock { $0.paceNanoseconds = nanoseconds }
    }

    public func attached(_ link: USBDeviceLink) {
        self.link.withLock { $0 = link }
        guard !workerStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let worker = Thread { [self] in
            runWorker()
            workerFinished.signal()
        }
        worker.name = threadName
        worker.start()
    }

    /// Queues packets in order (any thread; never blocks on the kernel).
    public func enqueue(_ packets: [Packet]) {
        guard !packets.isEmpty else { return }
        let wake = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.compact()
            for packet in packets {
                // Room: the FIFO, and the receive URBs waiting (the host controller's IN tokens take data at once).
                if packet.lossy && state.queuedBytes + packet.bytes.count > fifoBytes + state.requests.count * layout.maximumTransferBytes {
                    state.statistics.packetsOverflowed += 1
                    if !state.requests.isEmpty { state.statistics.packetsOverflowedWhileURBWaited += 1 }
                    continue
                }
                state.packets.append(packet)
                state.queuedBytes += packet.bytes.count
            }
            return !state.requests.isEmpty && !state.delivering
        }
        if wake { wakeup.signal() }
    }

    /// Queues packets that become deliverable `delayNanoseconds` from now:
    /// what a chip's firmware reports a little after the event (TX status),
    /// so reports of frames sent meanwhile share one transfer and the
    /// driver's report handling runs once for all of them.
    public func enqueue(_ packets: [Packet], after delayNanoseconds: UInt64) {
        guard !packets.isEmpty else { return }
        let due = HostClock.monotonicNanoseconds() + delayNanoseconds
        let wake = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            if let last = state.deferred.last, last.due + delayNanoseconds / 4 >= due {
                // Close enough to the batch before: join it (fewer wake-ups).
                state.deferred[state.deferred.count - 1].packets += packets
                return false
            }
            state.deferred.append((due, packets))
            return state.deferred.count == 1
        }
        if wake { wakeup.signal() }
    }

    /// Sends `count` packets cycling through `templates` as fast as the
    /// driver returns URBs (benchmarks' unlimited air).
    public func startFlood(templates: [Packet], count: Int) {
        guard !templates.isEmpty, count > 0 else { return }
        state.withLock { $0.flood = Flood(templates: templates, remaining: count) }
        wakeup.signal()
    }

    /// Offers `count` packets cycled from `templates` at `framesPerSecond`
    /// (paced benchmarks): they arrive on time whether or not the driver
    /// keeps up; what the FIFO cannot hold is counted in
    /// `statistics.packetsOverflowed`.
    public func startOfferedLoad(templates: [Packet], count: Int, framesPerSecond: Double) {
        guard !templates.isEmpty, count > 0, framesPerSecond > 0 else { return }
        state.withLock { state in
            state.offered = OfferedLoad(
                templates: templates, total: count, start: HostClock.monotonicNanoseconds(),
                nanosecondsPerFrame: 1e9 / framesPerSecond)
        }
        wakeup.signal()
    }

    /// Offered frames that have not arrived yet.
    public var offeredLoadRemaining: Int { state.withLock { $0.offered.map { $0.total - $0.arrived } ?? 0 } }

    public func stopFlood() {
        state.withLock { state in
            state.flood = nil
            state.offered = nil
        }
    }

    /// Drops what waits (the chip's MAC was powered off or reset).
    public func discardPackets() {
        state.withLock { state in
            state.statistics.framesDiscarded += state.packets[state.head...].filter(\.stamped).count
            state.packets.removeAll()
            state.head = 0
            state.queuedBytes = 0
        }
    }

    /// A receive URB from the driver (kernel context: never blocks). When
    /// data is ready it is delivered here, on this thread, into the oldest
    /// waiting URB (URBs complete in submission order, as a host controller
    /// completes an endpoint's): no hand-off to the pipe's thread.
    public func submit(_ request: USBRequest) -> USBSubmitResult {
        let now = HostClock.monotonicNanoseconds()
        enum Decision { case refuse, queued(wake: Bool), deliver([Packet], USBRequest) }
        let decision: Decision = state.withLock { state in
            guard !state.stopped else { return .refuse }
            state.addRequest(request, now: now)
            state.admitOfferedLoad(now: now, fifoBytes: fifoBytes, urbBytes: layout.maximumTransferBytes)
            if !state.delivering, let batch = state.takeBatch(layout: layout, now: now) {
                state.delivering = true
                return .deliver(batch, state.takeOldestRequest())
            }
            return .queued(wake: state.hasPackets && !state.delivering)
        }
        switch decision {
        case .refuse:
            return .refused(USBErrno.noDevice)
        case .queued(let wake):
            if wake { wakeup.signal() }
            return .pending
        case .deliver(let batch, let oldest):
            // The bridge has already entered this URB (and the oldest) in its table.
            deliver(batch, into: oldest)
            return .pending
        }
    }

    /// The kernel wants `handle` back; true if the pipe held it.
    public func cancel(_ handle: UInt64) -> Bool {
        let removed = state.withLock { state -> Bool in
            guard let index = state.requests.firstIndex(where: { $0.handle == handle }) else { return false }
            state.requests.remove(at: index)
            if state.requests.isEmpty { state.urbWaitingSince = nil }
            state.statistics.cancelled += 1
            return true
        }
        if removed { try? link.withLock { $0 }?.complete(handle, .failure(USBErrno.connectionReset)) }
        return removed
    }

    /// Port reset: URBs are gone with the old configuration; packets too.
    public func reset() {
        state.withLock { state in
            state.removeAllRequests()
            state.deferred.removeAll()
            state.offered = nil
            state.packets.removeAll()
            state.head = 0
            state.queuedBytes = 0
            state.flood = nil
        }
    }

    /// Unplug: after this no buffer is touched and nothing completes.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.removeAllRequests()
        }
        wakeup.signal()
        while state.withLock({ $0.delivering }) {
            HostClock.sleep(seconds: 20e-6)
        }
        if workerStarted.load(ordering: .acquiring) {
            workerFinished.wait()
            workerFinished.signal()  // a second stop() must not hang
        }
    }

    /// `fromWorker`: on the pipe's thread (see `emulationCPUSeconds`).
    private func deliver(_ batch: [Packet], into request: USBRequest, fromWorker: Bool = false) {
        let mactime = (HostClock.monotonicNanoseconds() - startNanoseconds) / 1000
        let length = fill(request.bytes, with: batch, mactime: mactime)
        let completeStart = fromWorker ? HostClock.threadCPUNanoseconds() : 0
        if let link = link.withLock({ $0 }) {
            // Detach may have completed it first (-ESHUTDOWN): nothing lost.
            try? link.complete(request.handle, length.map { .success(actualLength: $0) } ?? .failure(USBErrno.overflow))
        }
        if fromWorker {
            workerKernelNanoseconds.add(HostClock.threadCPUNanoseconds() &- completeStart, ordering: .relaxed)
        }
        let more = state.withLock { state -> Bool in
            state.delivering = false
            state.statistics.packetsDelivered += batch.count
            state.statistics.transfersCompleted += 1
            return state.hasPackets && !state.requests.isEmpty
        }
        if more { wakeup.signal() }
    }

    /// Copies the batch into the URB buffer; nil when it does not fit.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, with batch: [Packet], mactime: UInt64) -> Int? {
        guard let base = buffer.baseAddress else { return nil }
        var offset = 0
        for packet in batch {
            let start = offset == 0 ? 0 : (offset + layout.alignment - 1) / layout.alignment * layout.alignment
            guard start + packet.bytes.count <= buffer.count else { return nil }
            if start > offset { (base + offset).initializeMemory(as: UInt8.self, repeating: 0, count: start - offset) }
            packet.bytes.withUnsafeBytes { source in
                (base + start).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
            if packet.stamped, let stampOffset = layout.timestampOffset {
                let at = start + (layout.timestampFromEnd ? packet.bytes.count - stampOffset : stampOffset)
                if layout.timestampBytes == 4 {
                    (base + at).storeBytes(of: UInt32(truncatingIfNeeded: mactime).littleEndian, as: UInt32.self)
                } else {
                    (base + at).storeBytes(of: mactime.littleEndian, as: UInt64.self)
                }
            }
            offset = start + packet.bytes.count
        }
        return offset
    }

    private func runWorker() {
        var clock = clockid_t()
        if pthread_getcpuclockid(pthread_self(), &clock) == 0 {
            workerClock.withLock { $0 = clock }
        }
        while true {
            let now = HostClock.monotonicNanoseconds()
            enum Step { case deliver([Packet], USBRequest), wait(UInt64?), stop }
            let step: Step = state.withLock { state in
                guard !state.stopped else { return .stop }
                state.promoteDeferred(now: now)
                state.admitOfferedLoad(now: now, fifoBytes: fifoBytes, urbBytes: layout.maximumTransferBytes)
                // An offered load is collected every aggregation interval, as a
                // chip's RX aggregation timer does, not per frame.
                let nextArrival = state.offered.map { max($0.nextArrival, now + Self.aggregationNanoseconds) }
                let nextDue = [state.deferred.first?.due, nextArrival].compactMap { $0 }.min()
                // While a delivery runs (here or inside a submit), still wake
                // for the next arrival or report: a delivery that ends with
                // the FIFO empty signals nobody, and arrivals are let in only
                // here once every URB waits at the chip (the soak stalled so).
                guard !state.delivering, !state.requests.isEmpty else { return .wait(nextDue) }
                if let batch = state.takeBatch(layout: layout, now: now) {
                    state.delivering = true
                    return .deliver(batch, state.takeOldestRequest())
                }
                let release = state.hasPackets ? state.nextReleaseNanoseconds : nil
                return .wait([release, nextDue].compactMap { $0 }.min())
            }
            switch step {
            case .stop:
                return
            case .deliver(let batch, let request):
                deliver(batch, into: request, fromWorker: true)
            case .wait(let until):
                if let until, until > now {
                    _ = wakeup.wait(timeout: .now() + .nanoseconds(Int(min(until - now, 1_000_000_000))))
                } else if until != nil {
                    continue
                } else {
                    wakeup.wait()
                }
            }
        }
    }
}
