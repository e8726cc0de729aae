// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import LinuxKernel
import Synchronization
import SystemPackage
import USBHost

/// A USB device whose every answer comes from an `EnumerationScript`:
/// descriptors as given (however wrong), faults on chosen control requests,
/// vendor/class answers and bulk/interrupt data from the script's streams.
/// Standard requests without data (SET_CONFIGURATION, SET_INTERFACE,
/// CLEAR_FEATURE, ...) succeed unless a fault says otherwise.
final class EnumerationDevice: USBDevice {
    let speed: USBSpeed
    private let script: EnumerationScript

    private struct State {
        var link: USBDeviceLink?
        var controlRequests = 0
        var controlAnswerOffset = 0
        var endpointAnswerOffset = 0
        /// Requests held until cancel or unplug (no data for them, or disconnectDuring).
        var held: Set<UInt64> = []
        var stopped = false
    }

    private let state = HostMutex(State())
    /// When the kernel last sent a request (0: never).
    let lastRequestAt = Atomic<UInt64>(0)
    let unplugRequested = Atomic<Bool>(false)
    /// Completions the bridge refused (the script's overlong answers).
    let bridgeRefusals = Atomic<Int>(0)

    init(script: EnumerationScript) {
        self.script = script
        speed = script.speed
    }

    var controlRequestCount: Int { state.withLock { $0.controlRequests } }

    func attached(_ link: USBDeviceLink) {
        state.withLock { $0.link = link }
    }

    func submit(_ request: USBRequest) -> USBSubmitResult {
        lastRequestAt.store(HostClock.monotonicNanoseconds(), ordering: .relaxed)
        guard request.type == .control else { return submitEndpoint(request) }
        let (number, stopped) = state.withLock { state -> (Int, Bool) in
            defer { state.controlRequests += 1 }
            return (state.controlRequests, state.stopped)
        }
        guard !stopped else { return .refused(USBErrno.noDevice) }
        let setup = request.setup
        FuzzFeedback.hit(
            .controlRequest,
            UInt64(setup.requestType) | UInt64(setup.request) << 8 | UInt64(setup.value >> 8) << 16 | UInt64(min(number, 31)) << 24)
        let normal = answer(request)
        guard let fault = script.faults[number] else { return .completed(normal) }
        switch fault {
        case .stall: return .completed(.stall)
        case .short(let bytes): return .completed(.success(actualLength: min(bytes, normal.actualLength)))
        case .error(let errno): return .completed(.failure(errno))
        case .empty: return .completed(.success(actualLength: 0))
        case .disconnectAfter:
            unplugRequested.store(true, ordering: .releasing)
            return .completed(normal)
        case .disconnectDuring:
            state.withLock { _ = $0.held.insert(request.handle) }
            unplugRequested.store(true, ordering: .releasing)
            return .pending
        case .overlong:
            completeNow(request.handle, .success(actualLength: request.length + 1))
            return .pending
        case .late(let milliseconds):
            // The data is in the buffer now; only the completion waits.
            state.withLock { _ = $0.held.insert(request.handle) }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { [self] in
                let stillHeld = state.withLock { $0.held.remove(request.handle) != nil && !$0.stopped }
                if stillHeld { completeNow(request.handle, normal) }
            }
            return .pending
        }
    }

    /// The answer without faults: writes IN data into the buffer.
    private func answer(_ request: USBRequest) -> USBCompletion {
        let setup = request.setup
        let noData = USBCompletion.success(actualLength: 0)
        guard setup.isDeviceToHost else { return noData }
        if setup.kind == 0 && setup.request == USBStandardRequest.getDescriptor {
            guard let bytes = script.descriptor(type: UInt8(setup.value >> 8), index: UInt8(truncatingIfNeeded: setup.value))
            else { return .stall }
            return request.reply(bytes)
        }
        // Everything else that reads (GET_STATUS, GET_CONFIGURATION, vendor
        // and class reads) takes the next bytes of the answer stream.
        let wanted = min(Int(setup.length), request.length)
        let bytes: ArraySlice<UInt8>? = state.withLock { state in
            let start = state.controlAnswerOffset
            guard start < script.controlAnswers.count else { return nil }
            let end = min(script.controlAnswers.count, start + wanted)
            state.controlAnswerOffset = end
            return script.controlAnswers[start..<end]
        }
        guard let bytes else { return .stall }
        return request.reply(Array(bytes))
    }

    /// Bulk and interrupt: OUT data is taken, IN gets the next stream bytes
    /// or waits (until cancel or unplug) when the stream is used up.
    private func submitEndpoint(_ request: USBRequest) -> USBSubmitResult {
        FuzzFeedback.hit(
            .endpointRequest,
            UInt64(request.endpoint) | UInt64(request.type.rawValue) << 8 | FuzzFeedback.sizeClass(request.length) << 16)
        guard request.type != .isochronous else { return .refused(USBErrno.notSupported) }
        guard request.isIn else { return .completed(.success(actualLength: request.length)) }
        let chunk: ArraySlice<UInt8>? = state.withLock { state in
            guard !state.stopped else { return nil }
            let start = state.endpointAnswerOffset
            guard start < script.endpointAnswers.count else {
                state.held.insert(request.handle)
                return nil
            }
            // A length byte, then that many bytes: the transfer's size.
            let length = Int(script.endpointAnswers[start])
            let end = min(script.endpointAnswers.count, start + 1 + length)
            state.endpointAnswerOffset = end
            return script.endpointAnswers[(start + 1)..<end]
        }
        guard let chunk else { return state.withLock { $0.stopped } ? .refused(USBErrno.noDevice) : .pending }
        let count = min(chunk.count, request.length)
        if count > 0, let buffer = request.buffer {
            Array(chunk.prefix(count)).withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: count) }
        }
        return .completed(.success(actualLength: count))
    }

    private func completeNow(_ handle: UInt64, _ completion: USBCompletion) {
        guard let link = state.withLock({ $0.link }) else { return }
        do {
            try link.complete(handle, completion)
        } catch .actualLengthExceedsBuffer {
            bridgeRefusals.add(1, ordering: .relaxed)
        } catch {
            // Unplugged meanwhile: the bridge completed it with -ESHUTDOWN.
        }
    }

    func cancel(_ handle: UInt64) {
        let held = state.withLock { $0.held.remove(handle) != nil }
        if held { completeNow(handle, .failure(USBErrno.connectionReset)) }
    }

    func reset() {}

    func stop() {
        state.withLock { state in
            state.stopped = true
            state.held.removeAll()
        }
    }
}
