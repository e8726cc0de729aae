// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import LinuxKernel
import Logging
import SystemPackage
import USBHost


/// A real USB device, driven by the kernel library's own driver through
/// our virtual host controller: every URB becomes a libusb transfer on the
/// real device, and completes from libusb's event thread.
///
/// * The device is presented at its own speed (SuperSpeed ones on the
///   SuperSpeed root hub) with its own descriptors, unchanged.
/// * GET_DESCRIPTOR(DEVICE / CONFIGURATION) is answered from descriptors
///   read at open, at once unless earlier EP0 requests are still outstanding: then in
///   order behind them, as a device answers its control requests.
/// * SET_CONFIGURATION, SET_INTERFACE, CLEAR_FEATURE(ENDPOINT_HALT) and
///   port resets use libusb's blocking calls for them, on a per-adapter
///   worker thread (kernel callbacks must not block). EP0 requests that
///   arrive while the worker has work wait behind it, so EP0 stays in order.
/// * Other control requests, bulk and interrupt transfers are async libusb
///   transfers; bulk and interrupt ones use the kernel's buffer directly.
/// * Isochronous URBs are refused (EOPNOTSUPP).
///
/// The owner attaches it (`VirtualHostController.attach`), detaches it when
/// `onRemoval` fires (from its own thread, not from the handler), and
/// finally calls `close()`.
public final class LibUSBAdapter: USBDevice {
    public struct Options: Sendable, Equatable {
        /// Split bulk requests into libusb transfers of at most this many
        /// bytes (rounded down to whole packets); nil: no limit. For hosts
        /// that cannot complete large transfers (some Android stacks stall
        /// bulk IN reads above 16 KiB).
        public var maxBulkTransferBytes: Int?

        public init(maxBulkTransferBytes: Int? = nil) {
            self.maxBulkTransferBytes = maxBulkTransferBytes.flatMap { $0 > 0 ? $0 : nil }
        }
    }

    public struct Statistics: Sendable, Equatable {
        /// libusb transfers submitted (a chunked request counts each chunk).
        public var transfersSubmitted = 0
        /// Requests completed through the link, with any status.
        public var requestsCompleted = 0
        /// Requests completed with an error (cancellations included).
        public var requestsFailed = 0
        public var cancelRequests = 0
        /// GET_DESCRIPTOR requests answered from the cache.
        public var descriptorsFromCache = 0
        /// Requests and resets the worker ran.
        public var workerJobs = 0
        /// Port resets skipped because the device was untouched since the last one.
        public var resetsSkipped = 0
        public var resetsPerformed = 0
    }

    public let info: HostUSBDeviceInfo
    public let speed: USBSpeed
    public let options: Options
    /// The device's descriptors, which the kernel sees unchanged.
    public let descriptors: USBDescriptorCache

    let operations: any USBDeviceOperations
    private let environment: AdapterEnvironment
    let state: HostMutex<State>
    let workerWakeup = DispatchSemaphore(value: 0)
    /// Wakes the worker waiting for EP0 transfers to finish.
    let controlSettled = DispatchSemaphore(value: 0)
    private let worker = HostMutex<JoinableThread?>(nil)
    let logger = Logger(label: "airtap.usb")

    /// Longest `stop()` waits for libusb to give back cancelled transfers.
    static let stopTimeoutSeconds = 2.0

    /// An adapter over already opened `operations` whose interfaces of
    /// `configuration` are claimed. Tests pass a fake device here.
    init(
        info: HostUSBDeviceInfo, descriptors: USBDescriptorCache, configuration: UInt8,
        claimedInterfaces: [UInt8], operations: any USBDeviceOperations, environment: AdapterEnvironment,
        options: Options
    ) throws(HostUSBError) {
        self.info = info
        self.options = options
        self.operations = operations
        self.environment = environment
        speed = info.speed.presentedSpeed
        self.descriptors = descriptors
        state = HostMutex(State(configuration: configuration, claimedInterfaces: claimedInterfaces))
        do {
            let thread = try JoinableThread { [self] in runWorker() }
            worker.withLock { $0 = thread }
        } catch {
            throw .threadFailed("\(error)")
        }
        if info.speed == .superPlus {
            logger.info("\(info.location) \(info.idText) runs at \(info.speed.text); presented to the kernel at 5 Gbit/s (SuperSpeed)")
        }
    }

    /// Called when the device is gone (unplugged, or every transfer says
    /// so): at most once, on the libusb event thread. Detach the port from
    /// another thread; the handler must not block for long.
    public var onRemoval: (@Sendable () -> Void)? {
        get { state.withLock { $0.removalHandler } }
        set {
            let removedAlready = state.withLock { state in
                state.removalHandler = newValue
                return state.removed && !state.removalReported
            }
            // Gone before anyone listened: tell the new handler.
            if removedAlready { environment.performOnEventThread { [self] in reportRemoval() } }
        }
    }

    /// The device was unplugged (or stopped answering as if it was).
    public var isRemoved: Bool { state.withLock { $0.removed } }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// libusb transfers not yet given back (0 after `stop()` returned).
    public var transfersInFlight: Int { state.withLock { $0.outstandingTransfers } }

    // MARK: USBDevice

    public func attached(_ link: USBDeviceLink) {
        attach { handle, completion throws(USBHostError) in try link.complete(handle, completion) }
    }

    /// Where completions go (the link's `complete`; tests record them).
    func attach(_ sink: @escaping CompletionSink) {
        state.withLock { $0.sink = sink }
    }

    public func submit(_ request: USBRequest) -> USBSubmitResult {
        switch request.type {
        case .isochronous:
            return .refused(USBErrno.notSupported)
        case .control:
            return submitControl(request)
        case .bulk, .interrupt:
            if let refusal = refusalIfGone() { return refusal }
            return launch(request)
        }
    }

    public func cancel(_ handle: UInt64) {
        let completeNow: Bool = state.withLock { state in
            guard var record = state.requests[handle] else { return false }
            state.statistics.cancelRequests += 1
            record.cancelRequested = true
            switch record.phase {
            case .queued:
                state.requests[handle] = nil
                state.workerJobs.removeAll { $0.handle == handle }
                return true
            case .running, .submitting:
                // The worker's call or the submitter finishes it, and sees the flag.
                state.requests[handle] = record
            case .inFlight(let job):
                state.requests[handle] = record
                // Under our lock, so the callback cannot free the transfer
                // meanwhile. libusb_cancel_transfer runs no callback (the
                // event thread reports the cancellation later) and libusb
                // never calls us holding its locks, so this cannot deadlock.
                _ = operations.cancel(job.transfer)
            }
            return false
        }
        if completeNow { complete(handle, .failure(USBErrno.connectionReset)) }
    }

    /// A port reset. Resets come in pairs during enumeration (the hub
    /// driver's "new scheme" resets before and after reading 8/64 bytes of
    /// the device descriptor), and the first one after attach follows the
    /// host kernel's own enumeration of the device. A reset changes nothing
    /// for a device that nothing reached since the last one, so only a
    /// reset of a device that was used (a driver's usb_reset_device) becomes
    /// libusb_reset_device: that spares the real device pointless resets,
    /// which some Realtek chips do not survive cleanly.
    public func reset() {
        let queued: Bool = state.withLock { state in
            guard !state.stopped, !state.removed else { return false }
            guard state.deviceTouchedSinceReset else {
                state.statistics.resetsSkipped += 1
                return false
            }
            state.deviceTouchedSinceReset = false
            state.workerJobs.append(.portReset)
            return true
        }
        if queued { workerWakeup.signal() }
    }

    /// Cancels everything libusb holds and waits (at most
    /// `stopTimeoutSeconds`) until libusb gave every transfer back, so no
    /// kernel buffer is touched afterwards. Later completions are dropped.
    /// Call from the owner's thread, not from `onRemoval`.
    public func stop() {
        let alreadyStopped: Bool = state.withLock { state in
            guard !state.stopped else { return true }
            state.stopped = true
            state.workerJobs.removeAll { $0.handle != nil }
            for (handle, record) in state.requests {
                switch record.phase {
                case .queued:
                    state.requests[handle] = nil
                case .inFlight(let job):
                    state.requests[handle]?.cancelRequested = true
                    _ = operations.cancel(job.transfer)  // under the lock: see cancel(_:)
                case .running, .submitting:
                    state.requests[handle]?.cancelRequested = true
                }
            }
            return false
        }
        guard !alreadyStopped else { return }
        controlSettled.signal()  // a worker waiting on EP0 gives up
        waitForTransfers()
    }

    /// Stops, releases the interfaces (host kernel drivers bind again),
    /// closes the device and ends the worker. Call once the port is detached.
    public func close() {
        stop()
        let alreadyClosed: Bool = state.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        guard !alreadyClosed else { return }
        state.withLock { $0.workerExit = true }
        workerWakeup.signal()
        worker.withLock { thread in
            thread?.join()
            thread = nil
        }
        let (claimed, removed, outstanding) = state.withLock { state in
            defer { state.claimedInterfaces = [] }
            return (state.claimedInterfaces, state.removed, state.outstandingTransfers)
        }
        if !removed {
            for interface in claimed { _ = operations.releaseInterface(interface) }
        }
        environment.unregister()
        guard outstanding == 0 else {
            // libusb still owns transfers on kernel buffers: closing would
            // orphan them mid-flight. Leak the handle rather than risk it.
            logger.error("\(info.location): \(outstanding) USB transfer(s) never came back; leaving the device open")
            return
        }
        operations.close()
    }

    // MARK: Control requests

    private func submitControl(_ request: USBRequest) -> USBSubmitResult {
        let route = request.endpointNumber == 0 ? ControlRoute(request.setup) : .forward
        enum Decision { case refuse(Errno), queue, launch, answerFromCache }
        let decision: Decision = state.withLock { state in
            if route.isAnsweredFromCache {
                // Answered now only if it cannot overtake an earlier EP0
                // request: a device completes control requests in order.
                guard state.workerHasWork || state.controlTransfersInFlight > 0 else { return .answerFromCache }
            } else {
                if state.stopped || state.removed { return .refuse(USBErrno.noDevice) }
                // Forwarded requests keep their order on the device itself.
                guard route.isBlocking || state.workerHasWork else { return .launch }
            }
            state.requests[request.handle] = RequestRecord(phase: .queued)
            state.workerJobs.append(.request(request, route))
            return .queue
        }
        switch decision {
        case .refuse(let error):
            return .refused(error)
        case .queue:
            workerWakeup.signal()
            return .pending
        case .launch:
            return launch(request)
        case .answerFromCache:
            state.withLock { $0.statistics.descriptorsFromCache += 1 }
            return .completed(cachedAnswer(request, route))
        }
    }

    /// GET_DESCRIPTOR(DEVICE / CONFIGURATION) from the cache, into the request's buffer.
    func cachedAnswer(_ request: USBRequest, _ route: ControlRoute) -> USBCompletion {
        switch route {
        case .deviceDescriptor:
            return request.reply(descriptors.device)
        case .configurationDescriptor(let index):
            guard Int(index) < descriptors.configurations.count else { return .stall }
            return request.reply(descriptors.configurations[Int(index)])
        case .setConfiguration, .setInterface, .clearEndpointHalt, .forward:
            return .stall
        }
    }

    // MARK: Completion and removal

    /// Completes a request that has no libusb transfer (worker results).
    func finishWithoutTransfer(_ handle: UInt64, _ completion: USBCompletion) {
        let ours = state.withLock { state in
            state.requests.removeValue(forKey: handle) != nil && !state.stopped
        }
        guard ours else { return }
        if completion.error == USBErrno.noDevice {
            state.withLock { $0.removed = true }
            notifyRemovalFromEventThread()
        }
        complete(handle, completion)
    }

    func complete(_ handle: UInt64, _ completion: USBCompletion) {
        let sink: CompletionSink? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.statistics.requestsCompleted += 1
            if completion.error != nil { state.statistics.requestsFailed += 1 }
            return state.sink
        }
        guard let sink else { return }
        do {
            try sink(handle, completion)
        } catch .alreadyCompleted, .unknownRequest {
            // Detach completed it first (with -ESHUTDOWN).
        } catch {
            logger.debug("\(info.location): completion of \(handle) refused: \(error)")
        }
    }

    /// The device is gone: refuse new work, tell the owner once.
    func deviceRemoved(reason: String) {
        let first = state.withLock { state in
            defer {
                state.removed = true
                state.removalNoticed = true
            }
            return !state.removalNoticed
        }
        if first { logger.info("\(info.location) \(info.idText): \(reason)") }
        reportRemoval()
    }

    func notifyRemovalFromEventThread() {
        environment.performOnEventThread { [self] in deviceRemoved(reason: "the device no longer answers") }
    }

    private func reportRemoval() {
        let handler: (@Sendable () -> Void)? = state.withLock { state in
            guard state.removed, !state.removalReported, let handler = state.removalHandler else { return nil }
            state.removalReported = true
            return handler
        }
        handler?()
    }

    private func refusalIfGone() -> USBSubmitResult? {
        state.withLock { $0.stopped || $0.removed } ? .refused(USBErrno.noDevice) : nil
    }

    private func waitForTransfers() {
        if environment.isEventThread() {
            // Callbacks run on this very thread, after we return.
            logger.warning("\(info.location): stop() called on the libusb event thread; cannot wait for cancelled transfers")
            return
        }
        let deadline = HostClock.monotonicNanoseconds() + UInt64(Self.stopTimeoutSeconds * 1e9)
        while state.withLock({ $0.outstandingTransfers }) > 0 {
            guard HostClock.monotonicNanoseconds() < deadline else {
                logger.error("\(info.location): libusb did not give back \(state.withLock { $0.outstandingTransfers }) cancelled transfer(s) within \(Self.stopTimeoutSeconds) s")
                return
            }
            HostClock.sleep(seconds: 0.001)
        }
    }

    // MARK: State

    struct State {
        var sink: CompletionSink?
        var requests: [UInt64: RequestRecord] = [:]
        var workerJobs: [WorkerJob] = []
        var workerRunning = false
        var workerExit = false
        /// libusb transfers submitted whose callback has not finished them.
        var outstandingTransfers = 0
        /// Of those, control transfers (their URBs not yet completed).
        var controlTransfersInFlight = 0
        /// The worker waits on `controlSettled` for them to reach 0.
        var workerAwaitsControl = false
        var configuration: UInt8
        var claimedInterfaces: [UInt8]
        /// Something reached the real device since the last port reset.
        /// Starts false: the host kernel has just enumerated it.
        var deviceTouchedSinceReset = false
        var removed = false
        var stopped = false
        var closed = false
        var removalHandler: (@Sendable () -> Void)?
        var removalReported = false
        /// deviceRemoved ran (and logged why).
        var removalNoticed = false
        var statistics = Statistics()

        init(configuration: UInt8, claimedInterfaces: [UInt8]) {
            self.configuration = configuration
            self.claimedInterfaces = claimedInterfaces
        }

        var workerHasWork: Bool { workerRunning || !workerJobs.isEmpty }
    }

    struct RequestRecord {
        enum Phase {
            /// Waiting in the worker's queue.
            case queued
            /// The worker is on it.
            case running
            /// Being handed to libusb (not yet cancellable there).
            case submitting(TransferJob)
            /// libusb has it.
            case inFlight(TransferJob)
        }

        var phase: Phase
        var cancelRequested = false
    }

    enum WorkerJob {
        case request(USBRequest, ControlRoute)
        case portReset

        var handle: UInt64? {
            if case .request(let request, _) = self { return request.handle }
            return nil
        }
    }
}
