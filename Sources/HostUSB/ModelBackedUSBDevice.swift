// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import Dispatch
import LinuxKernel
import Synchronization
import SystemPackage
import USBHost

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The hardware stand-in for tests and benchmarks of the libusb path: a
/// software `USBDevice` model (gadget zero, the RTL8187L) plays an open
/// libusb device behind `USBDeviceOperations`, so `LibUSBAdapter` runs
/// unchanged (worker, descriptor cache, cancellation, removal) through the
/// real kernel and its real drivers on a machine without USB.
///
/// It keeps libusb's threading: every transfer callback runs on one event
/// thread of its own (a plain host pthread that never entered the kernel),
/// never inside `submit` or `cancel`, even when the model answers at once.
/// Cancelling a transfer still in flight asks the model to give it back
/// and ends it with `LIBUSB_TRANSFER_CANCELLED`. The blocking calls send the
/// equivalent standard request to the model and wait for its answer.
///
/// `LibUSBAdapter.overModel` builds an adapter over one; `unplug()` plays
/// a surprise removal.
public final class ModelBackedUSBDevice: USBDeviceOperations, Sendable {
    public struct Statistics: Sendable, Equatable {
        /// Transfers the model accepted.
        public var transfersSubmitted = 0
        /// Transfer callbacks run on the stand-in's event thread.
        public var callbacksOnEventThread = 0
        /// Transfer callbacks run on any other thread (libusb never does that).
        public var callbacksOffEventThread = 0
        /// Transfer callbacks run while a `submit` was on the event thread's
        /// stack (libusb never calls back from inside a submission).
        public var callbacksInsideSubmit = 0
        /// Transfers the model finished before its `submit` returned
        /// (their callbacks still came later, from the event thread).
        public var completionsDuringSubmit = 0
        /// Transfers ended with `LIBUSB_TRANSFER_CANCELLED`.
        public var transfersCancelled = 0
        /// Transfers ended with `LIBUSB_TRANSFER_NO_DEVICE` by `unplug()`.
        public var transfersEndedByUnplug = 0
        /// Standard requests the blocking calls (and descriptor reads) sent.
        public var synchronousRequests = 0
        /// The blocking calls (the adapter makes them on its worker; the
        /// first configuration at open is one too).
        public var setConfigurationCalls = 0
        public var setInterfaceCalls = 0
        public var clearHaltCalls = 0
        public var resets = 0
    }

    /// How long a blocking call waits for the model before it cancels.
    static let synchronousTimeoutSeconds = 5.0

    public let model: any USBDevice
    /// The address the host gave the device (what requests to the model carry).
    let deviceAddress: UInt8
    private let state = HostMutex(State())
    private let eventWakeup = DispatchSemaphore(value: 0)
    private let eventThread = HostMutex<JoinableThread?>(nil)
    /// pthread_self of the event thread (0 before it started).
    private let eventThreadIdentity = Atomic<UInt>(0)
    /// How deep the event thread is inside `submit` (a completion handler
    /// in the kernel resubmits from there).
    private let eventThreadSubmitDepth = Atomic<Int>(0)

    /// Starts the event thread and attaches `model` to this stand-in.
    public init(model: any USBDevice, deviceAddress: UInt8 = 1) throws(HostUSBError) {
        self.model = model
        self.deviceAddress = deviceAddress
        do {
            let thread = try JoinableThread { [self] in runEventLoop() }
            eventThread.withLock { $0 = thread }
        } catch {
            throw .threadFailed("\(error)")
        }
        // Weak: the model keeps its link for its lifetime.
        model.attached(
            USBDeviceLink(port: 0) { [weak self] handle, completion throws(USBHostError) in
                guard let self else { throw .unknownRequest(handle: handle) }
                try finish(handle, completion)
            })
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Transfers and blocking requests the model still holds.
    public var requestsInFlight: Int { state.withLock { $0.inFlight.count } }

    /// The caller is the stand-in's event thread.
    public var isEventThread: Bool {
        let identity = eventThreadIdentity.load(ordering: .acquiring)
        return identity != 0 && pthread_equal(pthread_t(identity), pthread_self()) != 0
    }

    /// Runs `work` on the event thread, after the callbacks queued before it.
    func perform(_ work: @escaping @Sendable () -> Void) {
        state.withLock { $0.events.append(.work(work)) }
        eventWakeup.signal()
    }

    /// Surprise removal: the model stops (it lets go of every buffer), every
    /// transfer in flight ends with `LIBUSB_TRANSFER_NO_DEVICE`, and every
    /// later call fails with `LIBUSB_ERROR_NO_DEVICE`, as libusb reports an
    /// unplugged device.
    public func unplug() {
        let first = state.withLock { state in
            defer { state.gone = true }
            return !state.gone
        }
        guard first else { return }
        // Not under our lock: the model may be completing through finish().
        model.stop()
        let waiters: [SynchronousCompletion] = state.withLock { state in
            var waiters: [SynchronousCompletion] = []
            for entry in state.inFlight.values {
                switch entry {
                case .transfer(let transfer):
                    state.statistics.transfersEndedByUnplug += 1
                    state.events.append(.callback(transfer.pointer, LIBUSB_TRANSFER_NO_DEVICE, actualLength: 0))
                case .synchronous(let waiter):
                    waiters.append(waiter)
                }
            }
            state.inFlight = [:]
            state.handleOfTransfer = [:]
            return waiters
        }
        for waiter in waiters { waiter.deliver(.failure(USBErrno.noDevice)) }
        eventWakeup.signal()
    }

    // MARK: USBDeviceOperations

    var rawHandle: OpaquePointer? { nil }

    func submit(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32 {
        let pointer = TransferPointer(transfer)
        let handle: UInt64? = state.withLock { state in
            guard !state.gone else { return nil }
            defer { state.nextHandle += 1 }
            return state.nextHandle
        }
        guard let handle else { return LIBUSB_ERROR_NO_DEVICE.rawValue }
        guard let request = Self.request(for: transfer, handle: handle, address: deviceAddress) else {
            return transfer.pointee.type == UInt8(LIBUSB_TRANSFER_TYPE_ISOCHRONOUS.rawValue)
                ? LIBUSB_ERROR_NOT_SUPPORTED.rawValue : LIBUSB_ERROR_INVALID_PARAM.rawValue
        }
        // Entered before the model sees it: the model may complete it inside submit.
        let registered = state.withLock { state in
            guard !state.gone else { return false }
            state.inFlight[handle] = .transfer(InFlightTransfer(pointer: pointer))
            state.handleOfTransfer[pointer] = handle
            return true
        }
        guard registered else { return LIBUSB_ERROR_NO_DEVICE.rawValue }

        let onEventThread = isEventThread
        if onEventThread { eventThreadSubmitDepth.add(1, ordering: .relaxed) }
        let result = model.submit(request)
        if onEventThread { eventThreadSubmitDepth.subtract(1, ordering: .relaxed) }

        switch result {
        case .pending:
            state.withLock { state in
                state.statistics.transfersSubmitted += 1
                if case .transfer(var entry) = state.inFlight[handle] {
                    entry.submitting = false
                    state.inFlight[handle] = .transfer(entry)
                }
            }
            return 0
        case .completed(let completion):
            state.withLock { $0.statistics.transfersSubmitted += 1 }
            try? finish(handle, completion)
            return 0
        case .refused(let error):
            let stillOurs = state.withLock { state in
                guard state.inFlight.removeValue(forKey: handle) != nil else { return false }
                state.handleOfTransfer[pointer] = nil
                return true
            }
            // unplug() ended it meanwhile and queued its callback: it counts
            // as submitted (failing now would let the caller free it first).
            return stillOurs ? Self.submissionError(for: error) : 0
        }
    }

    func cancel(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32 {
        let pointer = TransferPointer(transfer)
        let handle: UInt64? = state.withLock { state in
            guard let handle = state.handleOfTransfer[pointer], case .transfer(var entry) = state.inFlight[handle],
                !entry.cancelRequested
            else { return nil }
            entry.cancelRequested = true
            state.inFlight[handle] = .transfer(entry)
            return handle
        }
        // Done, already cancelled, or never submitted: as libusb_cancel_transfer.
        guard let handle else { return LIBUSB_ERROR_NOT_FOUND.rawValue }
        // Not under our lock: the model may give it back at once, through finish().
        model.cancel(handle)
        return 0
    }

    func setAutoDetachKernelDriver(_ enabled: Bool) -> Int32 { 0 }

    func claimInterface(_ number: UInt8) -> Int32 {
        state.withLock { $0.gone } ? LIBUSB_ERROR_NO_DEVICE.rawValue : 0
    }

    func releaseInterface(_ number: UInt8) -> Int32 {
        state.withLock { $0.gone } ? LIBUSB_ERROR_NO_DEVICE.rawValue : 0
    }

    func setConfiguration(_ value: Int32) -> Int32 {
        let configuration = UInt8(clamping: max(value, 0))  // -1: unconfigured
        state.withLock { $0.statistics.setConfigurationCalls += 1 }
        let result = standardRequest(
            USBSetupPacket(requestType: 0x00, request: USBStandardRequest.setConfiguration, value: UInt16(configuration)))
        if result == 0 {
            state.withLock { state in
                state.configuration = configuration
                state.alternateSettings = [:]
            }
        }
        return result
    }

    func setInterfaceAltSetting(interface: UInt8, alternateSetting: UInt8) -> Int32 {
        state.withLock { $0.statistics.setInterfaceCalls += 1 }
        let result = standardRequest(
            USBSetupPacket(
                requestType: 0x01, request: USBStandardRequest.setInterface, value: UInt16(alternateSetting),
                index: UInt16(interface)))
        if result == 0 { state.withLock { $0.alternateSettings[interface] = alternateSetting } }
        return result
    }

    func clearHalt(endpoint: UInt8) -> Int32 {
        state.withLock { $0.statistics.clearHaltCalls += 1 }
        return standardRequest(
            USBSetupPacket(
                requestType: 0x02, request: USBStandardRequest.clearFeature, value: ControlRoute.endpointHaltFeature,
                index: UInt16(endpoint)))
    }

    /// A port reset, then what the host kernel does after one for usbfs:
    /// the configuration and altsettings in use are set again.
    func resetDevice() -> Int32 {
        let restore: (UInt8, [UInt8: UInt8])? = state.withLock { state in
            guard !state.gone else { return nil }
            state.statistics.resets += 1
            return (state.configuration, state.alternateSettings)
        }
        guard let restore else { return LIBUSB_ERROR_NO_DEVICE.rawValue }
        let (configuration, alternateSettings) = restore
        model.reset()
        guard configuration != 0 else { return 0 }
        let result = setConfiguration(Int32(configuration))
        guard result == 0 else { return result }
        for (interface, alternate) in alternateSettings.sorted(by: { $0.key < $1.key }) where alternate != 0 {
            let restored = setInterfaceAltSetting(interface: interface, alternateSetting: alternate)
            guard restored == 0 else { return restored }
        }
        return 0
    }

    /// Ends the event thread (after the callbacks already queued). Not
    /// from the event thread itself.
    func close() {
        state.withLock { $0.eventLoopExit = true }
        eventWakeup.signal()
        let thread = eventThread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        thread?.join()
    }

    // MARK: Synchronous requests

    /// GET_DESCRIPTOR as `libusb_get_descriptor`: the bytes read, or a
    /// negative `libusb_error`.
    func getDescriptor(type: UInt8, index: UInt8, into buffer: inout [UInt8]) -> Int32 {
        let setup = USBSetupPacket(
            requestType: 0x80, request: USBStandardRequest.getDescriptor, value: UInt16(type) << 8 | UInt16(index),
            length: UInt16(clamping: buffer.count))
        return buffer.withUnsafeMutableBytes { bytes in
            controlSynchronously(setup, data: bytes.baseAddress, length: Int(setup.length))
        }
    }

    /// A control request without data stage; 0 or a negative `libusb_error`.
    private func standardRequest(_ setup: USBSetupPacket) -> Int32 {
        let result = controlSynchronously(setup, data: nil, length: 0)
        return min(result, 0)
    }

    /// Sends a control request to the model and waits for its answer: the
    /// bytes transferred or a negative `libusb_error`. Blocking calls run
    /// on the adapter's worker (or at open), never in kernel context.
    private func controlSynchronously(_ setup: USBSetupPacket, data: UnsafeMutableRawPointer?, length: Int) -> Int32 {
        let waiter = SynchronousCompletion()
        let handle: UInt64? = state.withLock { state in
            guard !state.gone else { return nil }
            defer { state.nextHandle += 1 }
            state.inFlight[state.nextHandle] = .synchronous(waiter)
            state.statistics.synchronousRequests += 1
            return state.nextHandle
        }
        guard let handle else { return LIBUSB_ERROR_NO_DEVICE.rawValue }
        let request = USBRequest(
            handle: handle, port: 0, address: deviceAddress, endpoint: setup.isDeviceToHost ? 0x80 : 0x00, type: .control,
            setup: setup, buffer: length > 0 ? data : nil, length: length)
        var completion: USBCompletion
        switch model.submit(request) {
        case .completed(let answer):
            _ = state.withLock { $0.inFlight.removeValue(forKey: handle) }
            completion = answer
        case .refused(let error):
            _ = state.withLock { $0.inFlight.removeValue(forKey: handle) }
            return Self.submissionError(for: error)
        case .pending:
            if let answer = waiter.wait(seconds: Self.synchronousTimeoutSeconds) {
                completion = answer
            } else {
                // The model may still write `data`: take it back before returning.
                model.cancel(handle)
                _ = waiter.wait(seconds: nil)
                return LIBUSB_ERROR_TIMEOUT.rawValue
            }
        }
        guard let error = completion.error else { return Int32(clamping: min(completion.actualLength, length)) }
        switch error {
        case USBErrno.stall: return LIBUSB_ERROR_PIPE.rawValue
        case USBErrno.noDevice, USBErrno.shutdown: return LIBUSB_ERROR_NO_DEVICE.rawValue
        case USBErrno.overflow: return LIBUSB_ERROR_OVERFLOW.rawValue
        case USBErrno.timedOut: return LIBUSB_ERROR_TIMEOUT.rawValue
        default: return LIBUSB_ERROR_IO.rawValue
        }
    }

    // MARK: Completion

    /// The model finished request `handle` (from any thread, possibly
    /// inside `submit` or `cancel`): transfers go to the event thread,
    /// blocking requests to their waiter.
    private func finish(_ handle: UInt64, _ completion: USBCompletion) throws(USBHostError) {
        let waiter: SynchronousCompletion? = try state.withLock { (state) throws(USBHostError) -> SynchronousCompletion? in
            guard let entry = state.inFlight.removeValue(forKey: handle) else {
                throw .unknownRequest(handle: handle)
            }
            switch entry {
            case .synchronous(let waiter):
                return waiter
            case .transfer(let transfer):
                state.handleOfTransfer[transfer.pointer] = nil
                if transfer.submitting { state.statistics.completionsDuringSubmit += 1 }
                let capacity = Self.dataCapacity(of: transfer.pointer.raw)
                var status = Self.transferStatus(for: completion, cancelRequested: transfer.cancelRequested)
                var actualLength = completion.actualLength
                if actualLength < 0 || actualLength > capacity {
                    // What the host controller reports for babble.
                    status = LIBUSB_TRANSFER_OVERFLOW
                    actualLength = 0
                }
                if status == LIBUSB_TRANSFER_CANCELLED { state.statistics.transfersCancelled += 1 }
                state.events.append(.callback(transfer.pointer, status, actualLength: Int32(actualLength)))
                return nil
            }
        }
        if let waiter {
            waiter.deliver(completion)
        } else {
            eventWakeup.signal()
        }
    }

    /// How a model's completion reads as a libusb transfer status (as
    /// libusb's Linux backend maps usbfs statuses).
    static func transferStatus(for completion: USBCompletion, cancelRequested: Bool) -> libusb_transfer_status {
        guard let error = completion.error else { return LIBUSB_TRANSFER_COMPLETED }
        switch error {
        case USBErrno.connectionReset, USBErrno.noEntry:
            return cancelRequested ? LIBUSB_TRANSFER_CANCELLED : LIBUSB_TRANSFER_ERROR
        case USBErrno.stall: return LIBUSB_TRANSFER_STALL
        case USBErrno.noDevice, USBErrno.shutdown: return LIBUSB_TRANSFER_NO_DEVICE
        case USBErrno.overflow: return LIBUSB_TRANSFER_OVERFLOW
        default: return LIBUSB_TRANSFER_ERROR
        }
    }

    /// What libusb_submit_transfer returns when the device refuses a
    /// submission (libusb's usbfs backend: ENODEV, else an I/O error).
    static func submissionError(for error: Errno) -> Int32 {
        switch error {
        case USBErrno.noDevice, USBErrno.shutdown: return LIBUSB_ERROR_NO_DEVICE.rawValue
        case USBErrno.notSupported: return LIBUSB_ERROR_NOT_SUPPORTED.rawValue
        case .noMemory: return LIBUSB_ERROR_NO_MEM.rawValue
        default: return LIBUSB_ERROR_IO.rawValue
        }
    }

    /// The request the model sees for a libusb transfer: control transfers
    /// carry their setup packet in the first 8 bytes of the buffer.
    static func request(for transfer: UnsafeMutablePointer<libusb_transfer>, handle: UInt64, address: UInt8) -> USBRequest? {
        let fields = transfer.pointee
        let length = Int(max(fields.length, 0))
        let buffer = fields.buffer.map(UnsafeMutableRawPointer.init)
        switch UInt32(fields.type) {
        case LIBUSB_TRANSFER_TYPE_CONTROL.rawValue:
            guard length >= 8, let buffer else { return nil }
            let setup = USBSetupPacket(bytes: UnsafeRawBufferPointer(start: buffer, count: 8))
            let dataLength = min(Int(setup.length), length - 8)
            return USBRequest(
                handle: handle, port: 0, address: address,
                endpoint: fields.endpoint & 0x0f | (setup.isDeviceToHost ? 0x80 : 0), type: .control, setup: setup,
                buffer: dataLength > 0 ? buffer + 8 : nil, length: dataLength)
        case LIBUSB_TRANSFER_TYPE_BULK.rawValue, LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue:
            var flags: USBRequestFlags = []
            if fields.flags & UInt8(LIBUSB_TRANSFER_ADD_ZERO_PACKET.rawValue) != 0 { flags.insert(.zeroPacket) }
            if fields.flags & UInt8(LIBUSB_TRANSFER_SHORT_NOT_OK.rawValue) != 0 { flags.insert(.shortNotOK) }
            return USBRequest(
                handle: handle, port: 0, address: address, endpoint: fields.endpoint,
                type: UInt32(fields.type) == LIBUSB_TRANSFER_TYPE_BULK.rawValue ? .bulk : .interrupt, flags: flags,
                buffer: length > 0 ? buffer : nil, length: length)
        default:
            return nil
        }
    }

    /// Data bytes a transfer can take (without a control setup packet).
    private static func dataCapacity(of transfer: UnsafeMutablePointer<libusb_transfer>) -> Int {
        let length = Int(max(transfer.pointee.length, 0))
        return UInt32(transfer.pointee.type) == LIBUSB_TRANSFER_TYPE_CONTROL.rawValue ? max(length - 8, 0) : length
    }

    // MARK: Event thread

    private func runEventLoop() {
        eventThreadIdentity.store(UInt(pthread_self()), ordering: .releasing)
        while true {
            let (events, exit) = state.withLock { state in
                defer { state.events = [] }
                return (state.events, state.eventLoopExit)
            }
            for event in events {
                switch event {
                case .callback(let transfer, let status, let actualLength):
                    runCallback(transfer, status: status, actualLength: actualLength)
                case .work(let work):
                    work()
                }
            }
            if events.isEmpty {
                if exit { return }
                eventWakeup.wait()
            }
        }
    }

    /// As libusb hands a finished transfer back: status and length set,
    /// then the callback, which may free the transfer.
    private func runCallback(_ transfer: TransferPointer, status: libusb_transfer_status, actualLength: Int32) {
        let onEventThread = isEventThread
        let insideSubmit = eventThreadSubmitDepth.load(ordering: .relaxed) > 0
        state.withLock { state in
            if onEventThread {
                state.statistics.callbacksOnEventThread += 1
            } else {
                state.statistics.callbacksOffEventThread += 1
            }
            if insideSubmit { state.statistics.callbacksInsideSubmit += 1 }
        }
        transfer.raw.pointee.status = status
        transfer.raw.pointee.actual_length = actualLength
        transfer.raw.pointee.callback?(transfer.raw)
    }

    // MARK: State

    private struct State {
        var nextHandle: UInt64 = 1
        var inFlight: [UInt64: InFlight] = [:]
        var handleOfTransfer: [TransferPointer: UInt64] = [:]
        var events: [Event] = []
        var eventLoopExit = false
        var gone = false
        /// What a reset restores (the host kernel re-applies them).
        var configuration: UInt8 = 0
        var alternateSettings: [UInt8: UInt8] = [:]
        var statistics = Statistics()
    }

    private enum InFlight {
        case transfer(InFlightTransfer)
        case synchronous(SynchronousCompletion)
    }

    private struct InFlightTransfer {
        let pointer: TransferPointer
        /// The model's submit has not returned yet.
        var submitting = true
        var cancelRequested = false
    }

    private enum Event {
        case callback(TransferPointer, libusb_transfer_status, actualLength: Int32)
        case work(@Sendable () -> Void)
    }
}

/// A libusb transfer crossing threads; libusb's rules say who may touch it when.
private struct TransferPointer: @unchecked Sendable, Hashable {
    let raw: UnsafeMutablePointer<libusb_transfer>
    init(_ raw: UnsafeMutablePointer<libusb_transfer>) { self.raw = raw }
}

/// The answer to one blocking request, handed from the model's thread to
/// the waiting caller.
private final class SynchronousCompletion: Sendable {
    private let answer = HostMutex<USBCompletion?>(nil)
    private let arrived = DispatchSemaphore(value: 0)

    func deliver(_ completion: USBCompletion) {
        answer.withLock { $0 = completion }
        arrived.signal()
    }

    /// The answer, or nil if none came within `seconds` (nil: wait for ever).
    func wait(seconds: Double?) -> USBCompletion? {
        if let seconds {
            guard arrived.wait(timeout: .now() + seconds) == .success else { return nil }
        } else {
            arrived.wait()
        }
        return answer.withLock { $0 }
    }
}
