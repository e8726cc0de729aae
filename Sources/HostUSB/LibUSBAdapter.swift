// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
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
    private let state: HostMutex<State>
    private let workerWakeup = DispatchSemaphore(value: 0)
    /// Wakes the worker waiting for EP0 transfers to finish.
    private let controlSettled = DispatchSemaphore(value: 0)
    private let worker = HostMutex<JoinableThread?>(nil)
    private let logger = Logger(label: "airtap.usb")

    /// Longest `stop()` waits for libusb to give back cancelled transfers.
    static let stopTimeoutSeconds = 2.0

    /// Opens `device`: auto-detach of host drivers, descriptors, claims of
    /// the active configuration's interfaces.
    static func open(
        device: LibUSBPointer, info: HostUSBDeviceInfo, environment: AdapterEnvironment, options: Options
    ) throws(HostUSBError) -> LibUSBAdapter {
        let hostSpeed = HostUSBSpeed(libUSBSpeed: libusb_get_device_speed(device.raw))
        var opened: OpaquePointer?
        let openResult = libusb_open(device.raw, &opened)
        guard openResult == 0, let opened else {
            throw openError(openResult, call: "libusb_open", info: info)
        }
        let operations = LibUSBDeviceHandle(handle: LibUSBPointer(raw: opened), device: device)
        var claimed: [UInt8] = []
        do throws(HostUSBError) {
            // Claiming then detaches a bound host driver, and releasing
            // (at close) binds it again.
            let detachResult = operations.setAutoDetachKernelDriver(true)
            if detachResult != 0 {
                Logger(label: "airtap.usb").debug(
                    "\(info.location): no automatic host driver detach: \(LibUSBStatus.describe(libUSBError: detachResult))")
            }
            let cache = try readDescriptors(info: info) { type, index, bytes in
                libusb_get_descriptor(opened, type, index, &bytes, Int32(bytes.count))
            }
            var active: Int32 = 0
            let configResult = libusb_get_configuration(opened, &active)
            guard configResult == 0 else {
                throw openError(configResult, call: "libusb_get_configuration", info: info)
            }
            let configuration = UInt8(truncatingIfNeeded: active)
            for interface in cache.interfaceNumbers(configurationValue: configuration) {
                let result = operations.claimInterface(interface)
                guard result == 0 else {
                    throw openError(result, call: "libusb_claim_interface(\(interface))", info: info)
                }
                claimed.append(interface)
            }
            var opened = info
            opened.speed = hostSpeed
            opened.activeConfiguration = configuration
            return try LibUSBAdapter(
                info: opened, descriptors: cache, configuration: configuration, claimedInterfaces: claimed,
                operations: operations, environment: environment, options: options)
        } catch {
            for interface in claimed { _ = operations.releaseInterface(interface) }
            libusb_close(opened)
            throw error
        }
    }

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
    private func cachedAnswer(_ request: USBRequest, _ route: ControlRoute) -> USBCompletion {
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

    // MARK: Async transfers

    /// Submits `request` as a libusb transfer (its first chunk, for a
    /// chunked bulk request). From kernel context, or from the worker for
    /// a control request that waited behind it (`fromWorker`).
    private func launch(_ request: USBRequest, fromWorker: Bool = false) -> USBSubmitResult {
        guard let job = TransferJob(adapter: self, request: request, maxBulkTransferBytes: options.maxBulkTransferBytes)
        else {
            // libusb could not allocate a transfer: the driver sees -ENOMEM, as from usb_submit_urb.
            if fromWorker {
                finishWithoutTransfer(request.handle, .failure(USBErrno.outOfMemory))
                return .pending
            }
            return .refused(USBErrno.outOfMemory)
        }
        let registered: Errno? = state.withLock { state in
            if state.stopped || state.removed { return USBErrno.noDevice }
            if fromWorker {
                // Cancelled while it waited: cancel() completed or will complete it.
                guard let record = state.requests[request.handle], !record.cancelRequested else {
                    return USBErrno.connectionReset
                }
            }
            state.requests[request.handle] = RequestRecord(phase: .submitting(job))
            state.outstandingTransfers += 1
            if request.type == .control { state.controlTransfersInFlight += 1 }
            state.deviceTouchedSinceReset = true
            return nil
        }
        if let registered {
            if fromWorker {
                // The kernel expects a completion now (the request was pending).
                if registered == USBErrno.connectionReset {
                    let stillOurs = state.withLock { $0.requests.removeValue(forKey: request.handle) != nil }
                    if stillOurs { complete(request.handle, .failure(USBErrno.connectionReset)) }
                } else {
                    finishWithoutTransfer(request.handle, .failure(registered))
                }
                return .pending
            }
            return .refused(registered)
        }
        job.prepare(deviceHandle: operations.rawHandle)
        if let error = submitPrepared(job) {
            if fromWorker {
                complete(request.handle, .failure(error))
                return .pending
            }
            return .refused(error)
        }
        return .pending
    }

    /// Hands a prepared transfer to libusb. On failure the record is gone
    /// and the caller reports the errno (refusal or completion).
    private func submitPrepared(_ job: TransferJob) -> Errno? {
        let handleValue = job.request.handle
        let result = operations.submit(job.transfer)
        let error: Errno? = state.withLock { state in
            guard result == 0 else {
                state.requests[handleValue] = nil
                state.outstandingTransfers -= 1
                if job.request.type == .control { endControlTransfer(&state) }
                if result == LIBUSB_ERROR_NO_DEVICE.rawValue { state.removed = true }
                return LibUSBStatus.errno(forLibUSBError: result)
            }
            state.statistics.transfersSubmitted += 1
            // The callback may already have run and removed the record.
            guard var record = state.requests[handleValue], case .submitting = record.phase else { return nil }
            record.phase = .inFlight(job)
            state.requests[handleValue] = record
            if record.cancelRequested { _ = operations.cancel(job.transfer) }
            return nil
        }
        if let error {
            logger.debug("\(info.location): libusb_submit_transfer \(job.request.endpointText): \(LibUSBStatus.describe(libUSBError: result))")
            if error == USBErrno.noDevice { notifyRemovalFromEventThread() }
        }
        return error
    }

    /// libusb gave a transfer back (on the event thread).
    fileprivate func transferFinished(_ job: TransferJob) {
        let transfer = job.transfer.pointee
        let status = transfer.status
        let actual = Int(max(0, transfer.actual_length))
        let request = job.request

        enum Next { case drop, resubmit, finish(USBCompletion) }
        let next: Next = state.withLock { state in
            guard var record = state.requests[request.handle] else { return .drop }
            if state.stopped {
                state.requests[request.handle] = nil
                state.outstandingTransfers -= 1
                if request.type == .control { endControlTransfer(&state) }
                return .drop
            }
            var completion: USBCompletion
            if request.type == .control {
                completion = LibUSBStatus.completion(status: status, actualLength: actual)
                if request.isControlIn {
                    // Copied under the lock: stop() cannot pass meanwhile.
                    completion = job.copyControlData(actualLength: actual, completion: completion)
                }
            } else if status == LIBUSB_TRANSFER_COMPLETED {
                let nextChunk = job.plan.advance(actualLength: actual)
                if let nextChunk, !record.cancelRequested {
                    job.aim(at: nextChunk)
                    record.phase = .submitting(job)
                    state.requests[request.handle] = record
                    return .resubmit
                }
                // More to do but unlinked: stop between chunks.
                completion =
                    nextChunk == nil
                    ? .success(actualLength: job.plan.transferred)
                    : .failure(USBErrno.connectionReset, actualLength: job.plan.transferred)
            } else {
                completion = LibUSBStatus.completion(status: status, actualLength: job.plan.transferred + actual)
            }
            state.requests[request.handle] = nil
            state.outstandingTransfers -= 1
            return .finish(completion)
        }
        switch next {
        case .drop:
            return
        case .resubmit:
            if let error = submitPrepared(job) {
                // The record is gone; what the earlier chunks moved still counts.
                complete(request.handle, .failure(error, actualLength: job.plan.transferred))
            }
        case .finish(let completion):
            if let error = completion.error, error != USBErrno.connectionReset {
                logger.debug("\(info.location): \(request.endpointText) \(request.setupText)ended with -\(error.rawValue) (\(error)), \(completion.actualLength) bytes")
            }
            complete(request.handle, completion)
            // Counted out only now that its URB is completed: what the
            // worker answers next must reach the kernel after it.
            if request.type == .control { state.withLock { endControlTransfer(&$0) } }
            if status == LIBUSB_TRANSFER_NO_DEVICE { deviceRemoved(reason: "transfer reported no device") }
        }
    }

    // MARK: Worker (blocking libusb calls)

    private func runWorker() {
        while true {
            workerWakeup.wait()
            while true {
                enum Step { case exit, idle, run(WorkerJob) }
                let step: Step = state.withLock { state in
                    if state.workerExit { return .exit }
                    guard !state.workerJobs.isEmpty else { return .idle }
                    let job = state.workerJobs.removeFirst()
                    if let handle = job.handle { state.requests[handle]?.phase = .running }
                    state.workerRunning = true
                    state.statistics.workerJobs += 1
                    return .run(job)
                }
                switch step {
                case .exit:
                    return
                case .idle:
                    break
                case .run(let job):
                    perform(job)
                    // Cleared after the completion: an EP0 request the kernel
                    // sends in reaction still queues behind this one.
                    state.withLock { $0.workerRunning = false }
                    continue
                }
                break
            }
        }
    }

    private func perform(_ job: WorkerJob) {
        switch job {
        case .portReset:
            resetDevice()
        case .request(let request, let route):
            // libusb's blocking calls return before the event thread has
            // given back earlier EP0 transfers: let those complete first.
            if route.isBlocking { waitForControlTransfers() }
            switch route {
            case .setConfiguration(let value):
                finishWithoutTransfer(request.handle, setConfiguration(value))
            case .setInterface(let interface, let alternate):
                state.withLock { $0.deviceTouchedSinceReset = true }
                let result = operations.setInterfaceAltSetting(interface: interface, alternateSetting: alternate)
                finishWithoutTransfer(request.handle, Self.standardRequestCompletion(result))
            case .clearEndpointHalt(let endpoint):
                state.withLock { $0.deviceTouchedSinceReset = true }
                let result = operations.clearHalt(endpoint: endpoint)
                finishWithoutTransfer(request.handle, Self.standardRequestCompletion(result))
            case .deviceDescriptor, .configurationDescriptor:
                waitForControlTransfers()
                // Written under the lock, as control IN data: stop() cannot pass meanwhile.
                let answer: USBCompletion? = state.withLock { state in
                    guard !state.stopped, state.requests[request.handle] != nil else { return nil }
                    state.statistics.descriptorsFromCache += 1
                    return cachedAnswer(request, route)
                }
                finishWithoutTransfer(request.handle, answer ?? .failure(USBErrno.shutdown))
            case .forward:
                _ = launch(request, fromWorker: true)
            }
        }
    }

    /// Waits until no control transfer is in libusb (or the adapter stopped),
    /// so what the worker completes next follows them on EP0.
    private func waitForControlTransfers() {
        while state.withLock({ state in
            guard state.controlTransfersInFlight > 0, !state.stopped else { return false }
            state.workerAwaitsControl = true
            return true
        }) {
            controlSettled.wait()
        }
    }

    /// A control transfer is over (under the lock); wakes a waiting worker
    /// when it was the last one.
    private func endControlTransfer(_ state: inout State) {
        state.controlTransfersInFlight -= 1
        guard state.controlTransfersInFlight == 0, state.workerAwaitsControl else { return }
        state.workerAwaitsControl = false
        controlSettled.signal()
    }

    /// SET_CONFIGURATION on the real device through libusb: usbfs refuses
    /// it while interfaces are claimed, and a raw request would leave the
    /// host kernel's view of the device stale.
    private func setConfiguration(_ value: UInt8) -> USBCompletion {
        guard value == 0 || descriptors.configuration(value: value) != nil else { return .stall }
        let (current, claimed) = state.withLock { state in
            state.deviceTouchedSinceReset = true
            return (state.configuration, state.claimedInterfaces)
        }
        // Release without letting host drivers bind in between (which
        // auto-detach would do, and which would make usbfs refuse the change).
        _ = operations.setAutoDetachKernelDriver(false)
        for interface in claimed { _ = operations.releaseInterface(interface) }
        state.withLock { $0.claimedInterfaces = [] }
        var result: Int32 = 0
        if value != current {
            // -1 is libusb's "unconfigured".
            result = operations.setConfiguration(value == 0 ? -1 : Int32(value))
        }
        _ = operations.setAutoDetachKernelDriver(true)
        guard result == 0 else {
            logger.debug("\(info.location): libusb_set_configuration(\(value)): \(LibUSBStatus.describe(libUSBError: result))")
            reclaim(claimed, configuration: current)
            return Self.standardRequestCompletion(result)
        }
        let interfaces = descriptors.interfaceNumbers(configurationValue: value)
        var nowClaimed: [UInt8] = []
        for interface in interfaces {
            let claim = operations.claimInterface(interface)
            if claim == 0 {
                nowClaimed.append(interface)
            } else {
                logger.warning("\(info.location): cannot claim interface \(interface): \(LibUSBStatus.describe(libUSBError: claim))")
                result = claim
            }
        }
        if value == current {
            // The device skipped the request, so do what it would have
            // done: every interface back to altsetting 0, data toggles reset.
            for interface in nowClaimed {
                let reset = operations.setInterfaceAltSetting(interface: interface, alternateSetting: 0)
                if reset != 0 {
                    logger.debug("\(info.location): interface \(interface) altsetting 0: \(LibUSBStatus.describe(libUSBError: reset))")
                }
            }
        }
        state.withLock { state in
            state.configuration = value
            state.claimedInterfaces = nowClaimed
        }
        return result == 0 ? .success(actualLength: 0) : Self.standardRequestCompletion(result)
    }

    private func reclaim(_ interfaces: [UInt8], configuration: UInt8) {
        var claimed: [UInt8] = []
        for interface in interfaces where operations.claimInterface(interface) == 0 {
            claimed.append(interface)
        }
        state.withLock { $0.claimedInterfaces = claimed }
    }

    private func resetDevice() {
        guard !state.withLock({ $0.stopped || $0.removed }) else { return }
        let result = operations.resetDevice()
        state.withLock { $0.statistics.resetsPerformed += 1 }
        guard result != 0 else { return }
        logger.debug("\(info.location): libusb_reset_device: \(LibUSBStatus.describe(libUSBError: result))")
        // NOT_FOUND: the device came back as a different one (or not at
        // all) and this handle is dead either way.
        if result == LIBUSB_ERROR_NO_DEVICE.rawValue || result == LIBUSB_ERROR_NOT_FOUND.rawValue {
            state.withLock { $0.removed = true }
            notifyRemovalFromEventThread()
        }
    }

    /// A failed blocking standard request, as the device would have answered
    /// it: libusb's NOT_FOUND / INVALID_PARAM mean no such interface,
    /// altsetting or endpoint, which a device answers with a stall.
    static func standardRequestCompletion(_ result: Int32) -> USBCompletion {
        switch result {
        case 0:
            return .success(actualLength: 0)
        case LIBUSB_ERROR_NOT_FOUND.rawValue, LIBUSB_ERROR_INVALID_PARAM.rawValue:
            return .stall
        default:
            return .failure(LibUSBStatus.errno(forLibUSBError: result))
        }
    }

    // MARK: Completion and removal

    /// Completes a request that has no libusb transfer (worker results).
    private func finishWithoutTransfer(_ handle: UInt64, _ completion: USBCompletion) {
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

    private func complete(_ handle: UInt64, _ completion: USBCompletion) {
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

    private func notifyRemovalFromEventThread() {
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

    // MARK: Open

    static func openError(_ code: Int32, call: String, info: HostUSBDeviceInfo) -> HostUSBError {
        switch code {
        case LIBUSB_ERROR_ACCESS.rawValue:
            return .permissionDenied(node: info.nodePath, user: HostAccessCheck.currentUserName())
        case LIBUSB_ERROR_NO_DEVICE.rawValue:
            return .deviceNotFound(info.summary)
        case LIBUSB_ERROR_NOT_FOUND.rawValue where call == "libusb_open":
            return .deviceNotFound(info.summary)
        case LIBUSB_ERROR_BUSY.rawValue:
            return .deviceBusy(device: info.summary, detail: "\(call) says another program or driver holds it")
        default:
            return .libusbFailed(call: call, device: info.summary, code: code)
        }
    }

    /// The device descriptor and every configuration, full length.
    /// `getDescriptor(type, index, &buffer)` is a GET_DESCRIPTOR of at most
    /// `buffer.count` bytes, answering as `libusb_get_descriptor` does (the
    /// byte count or a negative `libusb_error`).
    static func readDescriptors(
        info: HostUSBDeviceInfo, getDescriptor: (UInt8, UInt8, inout [UInt8]) -> Int32
    ) throws(HostUSBError) -> USBDescriptorCache {
        func read(_ type: UInt8, _ index: UInt8, _ length: Int) throws(HostUSBError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: length)
            let count = getDescriptor(type, index, &bytes)
            guard count >= 0 else {
                throw openError(count, call: "GET_DESCRIPTOR(type \(type), index \(index))", info: info)
            }
            return Array(bytes.prefix(Int(count)))
        }
        let device = try read(USBDescriptorType.device, 0, 18)
        guard device.count == 18 else {
            throw .invalidDescriptor(device: info.summary, detail: "the device descriptor has \(device.count) bytes, not 18")
        }
        var configurations: [[UInt8]] = []
        for index in 0..<device[17] {
            let header = try read(USBDescriptorType.configuration, index, 9)
            guard header.count == 9 else {
                throw .invalidDescriptor(device: info.summary, detail: "configuration \(index) header has \(header.count) bytes")
            }
            let total = Int(UInt16(header[2]) | UInt16(header[3]) << 8)
            let full = try read(USBDescriptorType.configuration, index, max(9, total))
            guard full.count == max(9, total) else {
                throw .invalidDescriptor(device: info.summary, detail: "configuration \(index) has \(full.count) of its \(total) bytes")
            }
            configurations.append(full)
        }
        let cache = USBDescriptorCache(device: device, configurations: configurations)
        do {
            try cache.validate()
        } catch {
            throw .invalidDescriptor(device: info.summary, detail: error.description)
        }
        return cache
    }

    // MARK: State

    private struct State {
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

    private struct RequestRecord {
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

    private enum WorkerJob {
        case request(USBRequest, ControlRoute)
        case portReset

        var handle: UInt64? {
            if case .request(let request, _) = self { return request.handle }
            return nil
        }
    }
}

/// One request's libusb transfer, with its control bounce buffer or its
/// bulk chunk plan. The transfer's user_data points here; the adapter's
/// request table holds it until the callback finishes it.
///
/// @unchecked: `plan` and the transfer's fields are written only by the
/// thread that owns the transfer at that moment (the submitter before
/// libusb_submit_transfer, the event thread in the callback); libusb's own
/// locking orders the hand-overs.
final class TransferJob: @unchecked Sendable {
    let adapter: LibUSBAdapter
    let request: USBRequest
    let transfer: UnsafeMutablePointer<libusb_transfer>
    /// Control transfers: setup packet + data stage.
    private let bounce: UnsafeMutableRawPointer?
    var plan: BulkChunkPlan

    /// nil when libusb cannot allocate the transfer.
    init?(adapter: LibUSBAdapter, request: USBRequest, maxBulkTransferBytes: Int?) {
        self.adapter = adapter
        self.request = request
        guard let transfer = libusb_alloc_transfer(0) else { return nil }
        self.transfer = transfer
        if request.type == .control {
            let dataLength = Int(request.setup.length)
            let bounce = UnsafeMutableRawPointer.allocate(byteCount: 8 + dataLength, alignment: 8)
            bounce.initializeMemory(as: UInt8.self, repeating: 0, count: 8 + dataLength)
            self.bounce = bounce
            plan = BulkChunkPlan(totalLength: dataLength, maximum: nil, maxPacketSize: 64, zeroPacket: false)
        } else {
            bounce = nil
            let chunkable = request.type == .bulk
            let maxPacket =
                adapter.descriptors.maxPacketSize(
                    endpoint: request.endpoint, configurationValue: adapter.currentConfigurationForPlanning) ?? 512
            plan = BulkChunkPlan(
                totalLength: request.length, maximum: chunkable ? maxBulkTransferBytes : nil,
                maxPacketSize: maxPacket, zeroPacket: request.flags.contains(.zeroPacket) && !request.isIn)
        }
    }

    deinit {
        libusb_free_transfer(transfer)
        bounce?.deallocate()
    }

    /// Fills the transfer for the request (its first chunk).
    func prepare(deviceHandle: OpaquePointer?) {
        transfer.pointee.dev_handle = deviceHandle
        transfer.pointee.timeout = 0  // the kernel driver times out by unlinking
        transfer.pointee.callback = transferCallback
        transfer.pointee.user_data = Unmanaged.passUnretained(self).toOpaque()
        transfer.pointee.num_iso_packets = 0
        switch request.type {
        case .control:
            let setupBytes = request.setup.bytes
            let dataLength = Int(request.setup.length)
            guard let bounce else { return }
            setupBytes.withUnsafeBytes { bounce.copyMemory(from: $0.baseAddress!, byteCount: 8) }
            if !request.isControlIn, let buffer = request.buffer {
                (bounce + 8).copyMemory(from: buffer, byteCount: min(dataLength, request.length))
            }
            transfer.pointee.endpoint = request.endpointNumber
            transfer.pointee.type = UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue)
            transfer.pointee.flags = 0
            transfer.pointee.buffer = bounce.assumingMemoryBound(to: UInt8.self)
            transfer.pointee.length = Int32(8 + dataLength)
        case .bulk, .interrupt, .isochronous:
            transfer.pointee.endpoint = request.endpoint
            transfer.pointee.type = UInt8(
                request.type == .interrupt ? LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue : LIBUSB_TRANSFER_TYPE_BULK.rawValue)
            aim(at: plan.current)
        }
    }

    /// Points the transfer at one chunk of the kernel's buffer.
    func aim(at chunk: BulkChunkPlan.Chunk) {
        transfer.pointee.buffer = request.buffer.map { ($0 + chunk.offset).assumingMemoryBound(to: UInt8.self) }
        transfer.pointee.length = Int32(chunk.length)
        transfer.pointee.flags = chunk.zeroPacket ? UInt8(LIBUSB_TRANSFER_ADD_ZERO_PACKET.rawValue) : 0
    }

    /// Copies a control IN data stage into the kernel's buffer.
    func copyControlData(actualLength: Int, completion: USBCompletion) -> USBCompletion {
        guard actualLength > 0, let bounce else { return completion }
        guard actualLength <= request.length, let buffer = request.buffer else {
            return .failure(USBErrno.overflow)
        }
        buffer.copyMemory(from: bounce + 8, byteCount: actualLength)
        return completion
    }
}

extension LibUSBAdapter {
    /// The configuration the device is in, for endpoint lookups.
    fileprivate var currentConfigurationForPlanning: UInt8 { state.withLock { $0.configuration } }
}

extension USBRequest {
    /// A control transfer whose data stage is device to host.
    var isControlIn: Bool { setup.isDeviceToHost }

    var endpointText: String { "ep " + String(endpoint, radix: 16) }

    var setupText: String { type == .control ? "[\(setup)] " : "" }
}

/// libusb calls this on the event thread when a transfer ends.
private func transferCallback(_ transfer: UnsafeMutablePointer<libusb_transfer>?) {
    guard let userData = transfer?.pointee.user_data else { return }
    let job = Unmanaged<TransferJob>.fromOpaque(userData).takeUnretainedValue()
    job.adapter.transferFinished(job)
}
