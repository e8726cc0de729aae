// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization
import SystemPackage

/// Keeps receive transfers queued at a device on its streaming bulk IN
/// endpoints while the driver's own URBs are away being processed, as a
/// host controller with a deep transfer ring does: a Wi-Fi chip's FIFO
/// then drains into host memory at once instead of overflowing while the
/// kernel (one CPU, shared with capture) returns a URB late.
///
/// Data keeps its order: every transfer on such an endpoint goes through
/// our own buffers, in the order the device completed them, and each
/// driver URB gets the oldest waiting transfer (one copy). An endpoint
/// streams once the driver submits a bulk IN URB of at least
/// `Policy.minimumTransferBytes`; other requests pass straight through.
/// When the driver unlinks the last URB it has waiting on the endpoint
/// (interface down, RX off), read-ahead stops there: transfers at the
/// device are cancelled and data already taken is dropped (counted), as
/// a chip's FIFO is when nothing polls it.
public final class ReadAheadUSBDevice: USBDevice {
    public struct Policy: Sendable, Equatable {
        /// Most transfers of our own per streaming endpoint (0: off).
        public var depth: Int
        /// Transfers kept at the device while the driver keeps up (at most
        /// `depth`, the default). Below `depth`, each transfer that
        /// completes with no driver URB waiting puts one more there, so
        /// fewer buffers cycle while the kernel keeps up. Measured at
        /// 100,000 frames/s on the emulated RTL8821AU (interleaved runs):
        /// 8 lost 2,400-3,900 frames of 1M and cost no less CPU than 64,
        /// which lost 0-117: an emulated chip's own thread stalls too, and
        /// then only transfers already queued count.
        public var minimumAtDevice: Int
        /// Bulk IN URBs at least this long make their endpoint stream.
        public var minimumTransferBytes: Int

        public init(depth: Int, minimumAtDevice: Int? = nil, minimumTransferBytes: Int = 4096) {
            self.depth = depth
            self.minimumAtDevice = min(minimumAtDevice ?? depth, depth)
            self.minimumTransferBytes = minimumTransferBytes
        }

        /// 128 transfers (4 MiB of rtw88's 32 KiB ones), all at the device:
        /// a chip completes one per aggregation timeout (about 100 us) under
        /// load, so this rides out about 13 ms of a kernel that returns no
        /// URB (several host scheduler slices on a busy 2-core machine). At
        /// 100,000 frames/s, 6 runs of 10 s lost 0 at 128 and up to 157 at 64.
        public static let standard = Policy(depth: 128)
    }

    public struct Statistics: Sendable, Equatable {
        /// Our transfers the device completed with data.
        public var transfersReceived = 0
        /// Driver URBs that found data already waiting when submitted.
        public var urbsAnsweredAtSubmit = 0
        /// Most transfers waiting for a driver URB at one time.
        public var mostTransfersWaiting = 0
        /// Transfers (and their bytes) dropped when read-ahead stopped.
        public var transfersDropped = 0
        public var bytesDropped = 0
        /// Driver URBs shorter than the data they were given (-EOVERFLOW).
        public var overflows = 0
        /// Times shedding was switched on or off (`setShedding`).
        public var sheddingChanges = 0
    }

    private final class Transfer: @unchecked Sendable {
        let memory: UnsafeMutableRawPointer
        let length: Int
        init(length: Int) {
            self.length = length
            memory = .allocate(byteCount: max(length, 1), alignment: 64)
        }
        deinit { memory.deallocate() }
    }

    private struct Endpoint {
        var transferLength: Int
        /// False after the driver unlinked its last waiting URB.
        var streaming = true
        /// Driver URBs waiting for data, oldest first.
        var waiting: [USBRequest] = []
        /// Completed transfers waiting for a driver URB, oldest first.
        var ready: [(Transfer, USBCompletion)] = []
        var spare: [Transfer] = []
        /// Transfers alive for this endpoint: at the device, ready, spare or being handed over.
        var owned = 0
        /// Of those, at the device now.
        var atDevice = 0
        /// The device refused our transfer: driver URBs go straight to it from now on.
        var passThrough = false
        /// A failed transfer waits for the driver: no new transfers until it took it.
        var failureReady: Bool { ready.contains { $0.1.error != nil } }
    }

    private struct AtDevice {
        let endpoint: Int
        let transfer: Transfer
        /// Cancelled by us: its data (if any) is dropped.
        var cancelled = false
        /// From before a port reset: dropped, never reused.
        var orphaned = false
    }

    private enum Outcome {
        case data(Transfer, USBCompletion, endpoint: Int)
        case status(USBCompletion)
    }

    private struct State {
        /// By endpoint number (IN endpoints only).
        var endpoints = [Endpoint?](repeating: nil, count: 16)
        var atDevice: [UInt64: AtDevice] = [:]
        /// Driver URBs to complete, in order, by whichever thread drains.
        var handOver: [(USBRequest, Outcome)] = []
        var draining = false
        var stopped = false
        var nextHandle: UInt64 = 0
        /// The capture falls behind: no new transfers of ours, and once
        /// none is outstanding the driver's URBs go to the device directly,
        /// so the chip sheds what the host cannot take before any CPU is
        /// spent on it.
        var shedding = false
        /// Driver URBs sent to the device directly while shedding.
        var direct: Set<UInt64> = []
        var port = 0
        var address: UInt8 = 0
        var statistics = Statistics()

        /// Gives ready transfers to waiting driver URBs, oldest to oldest.
        mutating func pair(_ number: Int) {
            while let endpoint = endpoints[number], !endpoint.waiting.isEmpty, !endpoint.ready.isEmpty {
                let request = endpoints[number]!.waiting.removeFirst()
                let (transfer, completion) = endpoints[number]!.ready.removeFirst()
                handOver.append((request, .data(transfer, completion, endpoint: number)))
            }
        }

        /// Our transfers to put at the device: `minimumAtDevice` plus one
        /// for each completed transfer no driver URB has taken yet, with
        /// at most `depth` in use. Spare buffers go out most recent first
        /// (still in cache).
        mutating func refills(_ number: Int, policy: Policy) -> [USBRequest] {
            guard let endpoint = endpoints[number], endpoint.streaming, !endpoint.passThrough,
                !endpoint.failureReady, !stopped, !shedding
            else { return [] }
            var requests: [USBRequest] = []
            while endpoints[number]!.atDevice < policy.minimumAtDevice + endpoints[number]!.ready.count {
                let transfer: Transfer
                if let last = endpoints[number]!.spare.popLast() {
                    guard last.length <= endpoint.transferLength else {
                        endpoints[number]!.owned -= 1
                        continue
                    }
                    transfer = last
                } else if endpoints[number]!.owned < policy.depth {
                    transfer = Transfer(length: endpoint.transferLength)
                    endpoints[number]!.owned += 1
                } else {
                    break
                }
                nextHandle &+= 1
                let handle = ReadAheadUSBDevice.ownHandleBit | nextHandle
                atDevice[handle] = AtDevice(endpoint: number, transfer: transfer)
                endpoints[number]!.atDevice += 1
                requests.append(
                    USBRequest(
                        handle: handle, port: port, address: address, endpoint: UInt8(number) | 0x80, type: .bulk,
                        buffer: transfer.memory, length: transfer.length))
            }
            return requests
        }

        /// Shedding and nothing of ours left on the endpoint (at the device,
        /// ready or being handed over): the driver's URBs may go directly.
        func drainedForDirect(_ number: Int) -> Bool {
            guard shedding, let endpoint = endpoints[number] else { return false }
            return endpoint.atDevice == 0 && endpoint.ready.isEmpty && handOver.isEmpty && !draining
        }

        /// Takes the waiting driver URBs to send directly, if drained.
        mutating func takeForDirect(_ number: Int) -> [USBRequest] {
            guard drainedForDirect(number), let waiting = endpoints[number]?.waiting, !waiting.isEmpty else { return [] }
            endpoints[number]!.waiting.removeAll()
            for request in waiting { direct.insert(request.handle) }
            return waiting
        }

        /// Drops what is ready on an endpoint (read-ahead stopped there).
        mutating func dropReady(_ number: Int) {
            guard let ready = endpoints[number]?.ready, !ready.isEmpty else { return }
            for (transfer, completion) in ready {
                if completion.error == nil {
                    statistics.transfersDropped += 1
                    statistics.bytesDropped += completion.actualLength
                }
                endpoints[number]!.spare.append(transfer)
            }
            endpoints[number]!.ready.removeAll()
        }
    }

    private static let ownHandleBit: UInt64 = 1 << 63

    public let inner: any USBDevice
    public let policy: Policy
    private let state = HostMutex(State())
    private let outer = HostMutex<USBDeviceLink?>(nil)
    /// `State.direct.count`, read without the lock on every pass-through completion.
    private let directCount = Atomic<Int>(0)

    public init(wrapping inner: any USBDevice, policy: Policy = .standard) {
        self.inner = inner
        self.policy = policy
    }

    public var speed: USBSpeed { inner.speed }
    public var statistics: Statistics { state.withLock { $0.statistics } }
    /// Driver URBs waiting here for data, on every streaming endpoint.
    public var driverURBsWaiting: Int { state.withLock { $0.endpoints.reduce(0) { $0 + ($1?.waiting.count ?? 0) } } }
    /// Our transfers at the device now.
    public var transfersAtDevice: Int { state.withLock { state in state.atDevice.values.filter { !$0.orphaned }.count } }

    public func attached(_ link: USBDeviceLink) {
        outer.withLock { $0 = link }
        inner.attached(
            USBDeviceLink(portOf: link) { [weak self] handle, completion throws(USBHostError) in
                guard let self else { return }
                if handle & Self.ownHandleBit != 0 {
                    self.transferCompleted(handle, completion)
                } else {
                    self.directCompleted(handle)
                    try link.complete(handle, completion)
                }
            })
    }

    public func submit(_ request: USBRequest) -> USBSubmitResult {
        guard policy.depth > 0, request.type == .bulk, request.isIn, request.length > 0 else {
            return inner.submit(request)
        }
        let number = Int(request.endpointNumber)
        enum Decision { case passThrough, queued([USBRequest]), refuse }
        let decision: Decision = state.withLock { state in
            guard !state.stopped else { return .refuse }
            if state.endpoints[number] == nil {
                guard request.length >= policy.minimumTransferBytes else { return .passThrough }
                state.endpoints[number] = Endpoint(transferLength: request.length)
            }
            guard !state.endpoints[number]!.passThrough else { return .passThrough }
            if state.drainedForDirect(number), state.endpoints[number]!.waiting.isEmpty {
                state.direct.insert(request.handle)
                directCount.store(state.direct.count, ordering: .releasing)
                return .passThrough
            }
            state.port = request.port
            state.address = request.address
            // A shorter URB: new transfers fit it (older ones may still overflow it).
            state.endpoints[number]!.transferLength = min(state.endpoints[number]!.transferLength, request.length)
            state.endpoints[number]!.streaming = true
            state.endpoints[number]!.waiting.append(request)
            if !state.endpoints[number]!.ready.isEmpty { state.statistics.urbsAnsweredAtSubmit += 1 }
            state.pair(number)
            return .queued(state.refills(number, policy: policy))
        }
        switch decision {
        case .refuse:
            return .refused(USBErrno.noDevice)
        case .passThrough:
            let result = inner.submit(request)
            if case .pending = result {} else { directCompleted(request.handle) }
            return result
        case .queued(let transfers):
            submitToDevice(transfers)
            drain()
            return .pending
        }
    }

    public func cancel(_ handle: UInt64) {
        let cancelAtDevice: [UInt64]? = state.withLock { state in
            for number in state.endpoints.indices {
                guard let index = state.endpoints[number]?.waiting.firstIndex(where: { $0.handle == handle }) else {
                    continue
                }
                let request = state.endpoints[number]!.waiting.remove(at: index)
                state.handOver.append((request, .status(.failure(USBErrno.connectionReset))))
                guard state.endpoints[number]!.waiting.isEmpty else { return [] }
                // The driver stopped receiving here: stop polling the device.
                // Nothing is ready (a waiting URB takes ready data at once);
                // what our transfers still bring is dropped as it comes.
                state.endpoints[number]!.streaming = false
                var ours: [UInt64] = []
                for (own, entry) in state.atDevice where entry.endpoint == number && !entry.cancelled {
                    state.atDevice[own]!.cancelled = true
                    ours.append(own)
                }
                return ours
            }
            return nil
        }
        guard let cancelAtDevice else {
            inner.cancel(handle)
            return
        }
        for own in cancelAtDevice { inner.cancel(own) }
        drain()
    }

    public func reset() {
        inner.reset()
        // The device dropped what it held with the old configuration: start
        // over with new transfers (the old stay allocated in case it still
        // completes them).
        let transfers: [USBRequest] = state.withLock { state in
            for own in state.atDevice.keys { state.atDevice[own]!.orphaned = true }
            var refill: [USBRequest] = []
            for number in state.endpoints.indices where state.endpoints[number] != nil {
                state.dropReady(number)
                state.endpoints[number]!.spare.removeAll()
                state.endpoints[number]!.owned = 0
                state.endpoints[number]!.atDevice = 0
                refill += state.refills(number, policy: policy)
            }
            return refill
        }
        submitToDevice(transfers)
    }

    public func stop() {
        state.withLock { $0.stopped = true }
        inner.stop()
        // A hand-over in progress may still be writing a driver buffer.
        while state.withLock({ $0.draining }) {
            HostClock.sleep(seconds: 20e-6)
        }
        // The device touches no buffer any more; the bridge fails the driver's URBs.
        state.withLock { state in
            state.atDevice.removeAll()
            state.endpoints = [Endpoint?](repeating: nil, count: 16)
            state.handOver.removeAll()
            state.direct.removeAll()
            directCount.store(0, ordering: .releasing)
        }
    }

    /// The capture is dropping frames (or no longer is): shed at the
    /// device rather than in the kernel (see `State.shedding`).
    public func setShedding(_ on: Bool) {
        let transfers: [USBRequest] = state.withLock { state in
            guard state.shedding != on else { return [] }
            state.shedding = on
            state.statistics.sheddingChanges += 1
            guard !on else { return [] }
            // Ours queue behind any driver URB sent directly: the device fills in order.
            var refill: [USBRequest] = []
            for number in state.endpoints.indices where state.endpoints[number] != nil {
                refill += state.refills(number, policy: policy)
            }
            return refill
        }
        submitToDevice(transfers)
        sendDirectIfDrained()
    }

    public var isShedding: Bool { state.withLock { $0.shedding } }

    // MARK: Internals

    private func directCompleted(_ handle: UInt64) {
        guard directCount.load(ordering: .acquiring) > 0 else { return }
        state.withLock { state in
            if state.direct.remove(handle) != nil { directCount.store(state.direct.count, ordering: .releasing) }
        }
    }

    /// While shedding, once nothing of ours is outstanding on an endpoint,
    /// its waiting driver URBs go to the device directly.
    private func sendDirectIfDrained() {
        let requests: [USBRequest] = state.withLock { state in
            guard state.shedding else { return [] }
            var all: [USBRequest] = []
            for number in state.endpoints.indices where state.endpoints[number] != nil {
                all += state.takeForDirect(number)
            }
            directCount.store(state.direct.count, ordering: .releasing)
            return all
        }
        for request in requests {
            switch inner.submit(request) {
            case .pending:
                continue
            case .completed(let completion):
                directCompleted(request.handle)
                try? outer.withLock({ $0 })?.complete(request.handle, completion)
            case .refused(let error):
                directCompleted(request.handle)
                try? outer.withLock({ $0 })?.complete(request.handle, .failure(error))
            }
        }
    }

    private func submitToDevice(_ requests: [USBRequest]) {
        for request in requests {
            switch inner.submit(request) {
            case .pending:
                continue
            case .completed(let completion):
                transferCompleted(request.handle, completion)
            case .refused:
                refused(request)
            }
        }
    }

    /// The device will not take our transfers (it is going away): hand it
    /// the driver's own from now on; what was ready is stale.
    private func refused(_ request: USBRequest) {
        let number = Int(request.endpointNumber)
        let waiting: [USBRequest] = state.withLock { state in
            state.atDevice[request.handle] = nil
            guard state.endpoints[number] != nil else { return [] }
            state.endpoints[number]!.owned -= 1
            state.endpoints[number]!.atDevice -= 1
            state.endpoints[number]!.passThrough = true
            state.dropReady(number)
            defer { state.endpoints[number]!.waiting.removeAll() }
            return state.endpoints[number]!.waiting
        }
        for driverRequest in waiting {
            if case .refused(let refusal) = inner.submit(driverRequest) {
                state.withLock { $0.handOver.append((driverRequest, .status(.failure(refusal)))) }
            }
        }
        drain()
    }

    /// One of our transfers came back from the device (any thread).
    private func transferCompleted(_ handle: UInt64, _ completion: USBCompletion) {
        let transfers: [USBRequest] = state.withLock { state in
            guard let entry = state.atDevice.removeValue(forKey: handle), !entry.orphaned,
                state.endpoints[entry.endpoint] != nil
            else { return [] }
            let number = entry.endpoint
            state.endpoints[number]!.atDevice -= 1
            if entry.cancelled || !state.endpoints[number]!.streaming || state.stopped {
                if completion.error == nil, completion.actualLength > 0 {
                    state.statistics.transfersDropped += 1
                    state.statistics.bytesDropped += completion.actualLength
                }
                state.endpoints[number]!.spare.append(entry.transfer)
                return []
            }
            if completion.error == nil { state.statistics.transfersReceived += 1 }
            state.endpoints[number]!.ready.append((entry.transfer, completion))
            state.statistics.mostTransfersWaiting = max(
                state.statistics.mostTransfersWaiting, state.endpoints[number]!.ready.count)
            state.pair(number)
            return state.refills(number, policy: policy)
        }
        submitToDevice(transfers)
        drain()
        sendDirectIfDrained()
    }

    /// Completes handed-over driver URBs in order. One thread at a time:
    /// a completion can run the driver, whose resubmission lands here
    /// again and only queues.
    private func drain() {
        guard let link = outer.withLock({ $0 }) else { return }
        let start = state.withLock { state -> Bool in
            guard !state.draining, !state.handOver.isEmpty else { return false }
            state.draining = true
            return true
        }
        guard start else { return }
        while true {
            let next: (USBRequest, Outcome)? = state.withLock { state in
                guard !state.stopped, !state.handOver.isEmpty else {
                    state.draining = false
                    return nil
                }
                return state.handOver.removeFirst()
            }
            guard let (request, outcome) = next else {
                sendDirectIfDrained()
                return
            }
            switch outcome {
            case .status(let completion):
                try? link.complete(request.handle, completion)
            case .data(let transfer, var completion, let number):
                let length = min(completion.actualLength, request.length)
                if length > 0, let buffer = request.buffer {
                    buffer.copyMemory(from: transfer.memory, byteCount: length)
                }
                if completion.actualLength > request.length {
                    completion = .failure(USBErrno.overflow, actualLength: length)
                    state.withLock { $0.statistics.overflows += 1 }
                }
                try? link.complete(request.handle, completion)
                let transfers: [USBRequest] = state.withLock { state in
                    guard state.endpoints[number] != nil else { return [] }
                    state.endpoints[number]!.spare.append(transfer)
                    return state.refills(number, policy: policy)
                }
                submitToDevice(transfers)
            }
        }
    }
}
