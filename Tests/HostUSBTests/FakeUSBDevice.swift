// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import Dispatch
import LinuxKernel
import USBHost

@testable import HostUSB

#if canImport(Glibc)
import Glibc
#endif

/// A transfer pointer that tests pass between threads.
struct TransferRef: @unchecked Sendable, Equatable {
    let pointer: UnsafeMutablePointer<libusb_transfer>

    var endpoint: UInt8 { pointer.pointee.endpoint }
    var type: UInt8 { pointer.pointee.type }
    var length: Int { Int(pointer.pointee.length) }
    var flags: UInt8 { pointer.pointee.flags }
    var buffer: UnsafeMutableRawPointer? { pointer.pointee.buffer.map(UnsafeMutableRawPointer.init) }
    var bytes: [UInt8] {
        guard let buffer else { return [] }
        return Array(UnsafeRawBufferPointer(start: buffer, count: length))
    }
}

/// Stands in for an open libusb device: records every call, keeps
/// submitted transfers "in flight" until the test finishes them, and, like
/// libusb, delivers callbacks on one event thread of its own and cancels
/// only transfers still in flight.
final class FakeUSBDevice: USBDeviceOperations, @unchecked Sendable {
    enum Call: Equatable, Sendable {
        case autoDetach(Bool), claim(UInt8), release(UInt8), setConfiguration(Int32)
        case setInterface(UInt8, UInt8), clearHalt(UInt8), reset, submit(endpoint: UInt8, length: Int), cancel, close
    }

    let eventQueue = DispatchQueue(label: "fake-libusb-events")
    private let state = HostMutex(FakeState())
    /// Blocking calls wait on this while `holdBlockingCalls` is set.
    private let gate = DispatchSemaphore(value: 0)

    private struct FakeState {
        var calls: [Call] = []
        var inFlight: [TransferRef] = []
        var submitted: [TransferRef] = []
        var submitResult: Int32 = 0
        var blockingResult: Int32 = 0
        var holdBlockingCalls = false
        var blockedCallers = 0
        var callbacksDelivered = 0
        /// Deliver a CANCELLED callback after this delay on cancel (nil: never).
        var cancellationDelay: Double? = 0
    }

    var rawHandle: OpaquePointer? { nil }
    var calls: [Call] { state.withLock { $0.calls } }
    var submitted: [TransferRef] { state.withLock { $0.submitted } }
    var inFlight: [TransferRef] { state.withLock { $0.inFlight } }
    var callbacksDelivered: Int { state.withLock { $0.callbacksDelivered } }
    var blockedCallers: Int { state.withLock { $0.blockedCallers } }

    func setSubmitResult(_ result: Int32) { state.withLock { $0.submitResult = result } }
    func setBlockingResult(_ result: Int32) { state.withLock { $0.blockingResult = result } }
    func setCancellationDelay(_ delay: Double?) { state.withLock { $0.cancellationDelay = delay } }
    func holdBlockingCalls() { state.withLock { $0.holdBlockingCalls = true } }
    func releaseBlockingCalls() {
        let waiting = state.withLock { state in
            state.holdBlockingCalls = false
            return state.blockedCallers
        }
        for _ in 0..<max(waiting, 1) { gate.signal() }
    }

    // MARK: USBDeviceOperations

    func submit(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32 {
        let reference = TransferRef(pointer: transfer)
        return state.withLock { state in
            state.calls.append(.submit(endpoint: reference.endpoint, length: reference.length))
            guard state.submitResult == 0 else { return state.submitResult }
            state.inFlight.append(reference)
            state.submitted.append(reference)
            return 0
        }
    }

    func cancel(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32 {
        let reference = TransferRef(pointer: transfer)
        let delay: Double? = state.withLock { state in
            state.calls.append(.cancel)
            guard state.inFlight.contains(reference) else { return nil }
            return state.cancellationDelay
        }
        guard state.withLock({ $0.inFlight.contains(reference) }) else { return LIBUSB_ERROR_NOT_FOUND.rawValue }
        if let delay {
            eventQueue.asyncAfter(deadline: .now() + delay) { [self] in
                deliver(reference, status: LIBUSB_TRANSFER_CANCELLED, actualLength: 0, data: nil)
            }
        }
        return 0
    }

    func setAutoDetachKernelDriver(_ enabled: Bool) -> Int32 { record(.autoDetach(enabled)) }
    func claimInterface(_ number: UInt8) -> Int32 { record(.claim(number)) }
    func releaseInterface(_ number: UInt8) -> Int32 { record(.release(number)) }
    func setConfiguration(_ value: Int32) -> Int32 { blocking(.setConfiguration(value)) }
    func setInterfaceAltSetting(interface: UInt8, alternateSetting: UInt8) -> Int32 {
        blocking(.setInterface(interface, alternateSetting))
    }
    func clearHalt(endpoint: UInt8) -> Int32 { blocking(.clearHalt(endpoint)) }
    func resetDevice() -> Int32 { blocking(.reset) }
    func close() { _ = record(.close) }

    private func record(_ call: Call) -> Int32 {
        state.withLock { $0.calls.append(call) }
        return 0
    }

    private func blocking(_ call: Call) -> Int32 {
        let hold = state.withLock { state in
            state.calls.append(call)
            if state.holdBlockingCalls { state.blockedCallers += 1 }
            return state.holdBlockingCalls
        }
        if hold {
            gate.wait()
            state.withLock { $0.blockedCallers -= 1 }
        }
        return state.withLock { $0.blockingResult }
    }

    // MARK: Finishing transfers (the test plays the device)

    /// Finishes `transfer` on the event thread and waits until its callback returned.
    /// `data` is written where libusb would put IN data (after the setup
    /// packet for control transfers).
    func finish(_ transfer: TransferRef, status: libusb_transfer_status = LIBUSB_TRANSFER_COMPLETED, actualLength: Int, data: [UInt8]? = nil) {
        eventQueue.sync { deliver(transfer, status: status, actualLength: actualLength, data: data) }
    }

    private func deliver(_ transfer: TransferRef, status: libusb_transfer_status, actualLength: Int, data: [UInt8]?) {
        let wasInFlight = state.withLock { state in
            guard let index = state.inFlight.firstIndex(of: transfer) else { return false }
            state.inFlight.remove(at: index)
            state.callbacksDelivered += 1
            return true
        }
        guard wasInFlight else { return }
        if let data, let buffer = transfer.buffer {
            let offset = transfer.type == UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue) ? 8 : 0
            data.withUnsafeBytes { (buffer + offset).copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        }
        transfer.pointer.pointee.status = status
        transfer.pointer.pointee.actual_length = Int32(actualLength)
        transfer.pointer.pointee.callback?(transfer.pointer)
    }
}

/// What the adapter completed, in order.
final class CompletionLog: Sendable {
    private let entries = HostMutex<[(handle: UInt64, completion: USBCompletion)]>([])

    var all: [(handle: UInt64, completion: USBCompletion)] { entries.withLock { $0 } }
    var handles: [UInt64] { all.map(\.handle) }

    func record(_ handle: UInt64, _ completion: USBCompletion) {
        entries.withLock { $0.append((handle, completion)) }
    }

    func completion(of handle: UInt64) -> USBCompletion? {
        all.first { $0.handle == handle }?.completion
    }
}

/// Polls `condition` for up to `seconds`.
func eventually(_ seconds: Double = 3, _ condition: () -> Bool) -> Bool {
    let deadline = DispatchTime.now() + seconds
    while DispatchTime.now() < deadline {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

/// Kernel-side buffers for test requests, freed together.
final class RequestBuffers {
    private var buffers: [UnsafeMutableRawPointer] = []
    private var nextHandle: UInt64 = 0x1_0000_0001

    deinit { for buffer in buffers { buffer.deallocate() } }

    func buffer(_ length: Int, fill: UInt8 = 0) -> UnsafeMutableRawPointer? {
        guard length > 0 else { return nil }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: fill, count: length)
        buffers.append(buffer)
        return buffer
    }

    private func handle() -> UInt64 {
        defer { nextHandle += 1 }
        return nextHandle
    }

    func control(_ requestType: UInt8, _ request: UInt8, value: UInt16 = 0, index: UInt16 = 0, length: UInt16 = 0, data: [UInt8] = []) -> USBRequest {
        let buffer = self.buffer(Int(length))
        if let buffer, !data.isEmpty {
            data.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: min(data.count, Int(length))) }
        }
        let setup = USBSetupPacket(requestType: requestType, request: request, value: value, index: index, length: length)
        return USBRequest(
            handle: handle(), port: 1, address: 2, endpoint: requestType & 0x80, type: .control, setup: setup,
            buffer: buffer, length: Int(length))
    }

    func data(_ endpoint: UInt8, _ type: USBTransferType = .bulk, length: Int, flags: USBRequestFlags = []) -> USBRequest {
        USBRequest(
            handle: handle(), port: 1, address: 2, endpoint: endpoint, type: type, flags: flags,
            buffer: buffer(length), length: length)
    }
}
