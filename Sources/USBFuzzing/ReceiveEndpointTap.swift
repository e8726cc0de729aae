// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization
import SystemPackage
import USBHost

/// A device in front of a model that takes over one bulk IN endpoint:
/// everything else (control transfers, TX) reaches the model unchanged, but
/// the receive URBs the driver submits there are held for the fuzzer, which
/// fills and completes them with whatever it likes (`hold`), or pass through
/// to the model while their completed data is recorded (`record`: real RX
/// traffic, for seed inputs).
public final class ReceiveEndpointTap: USBDevice {
    public enum Mode: Sendable { case hold, record }

    public let inner: any USBDevice
    public let endpoint: UInt8
    public let mode: Mode
    public var speed: USBSpeed { inner.speed }

    private struct State {
        var link: USBDeviceLink?
        var held: [USBRequest] = []
        var tracked: [UInt64: USBRequest] = [:]
        var recorded: [[UInt8]] = []
        var stopped = false
        var submitted = 0
    }

    private let state = HostMutex(State())

    public init(wrapping inner: any USBDevice, endpoint: UInt8, mode: Mode = .hold) {
        self.inner = inner
        self.endpoint = endpoint
        self.mode = mode
    }

    // MARK: USBDevice

    public func attached(_ link: USBDeviceLink) {
        state.withLock { $0.link = link }
        switch mode {
        case .hold:
            inner.attached(link)
        case .record:
            inner.attached(
                USBDeviceLink(port: link.port) { [self] handle, completion throws(USBHostError) in
                    record(handle, completion)
                    try link.complete(handle, completion)
                })
        }
    }

    public func submit(_ request: USBRequest) -> USBSubmitResult {
        guard request.endpoint == endpoint, request.type == .bulk else { return inner.submit(request) }
        switch mode {
        case .hold:
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.held.append(request)
                state.submitted += 1
                return true
            }
            return accepted ? .pending : .refused(USBErrno.noDevice)
        case .record:
            state.withLock { $0.tracked[request.handle] = request }
            let result = inner.submit(request)
            switch result {
            case .completed(let completion): record(request.handle, completion)
            case .refused: state.withLock { _ = $0.tracked.removeValue(forKey: request.handle) }
            case .pending: break
            }
            return result
        }
    }

    public func cancel(_ handle: UInt64) {
        let (held, link) = state.withLock { state -> (Bool, USBDeviceLink?) in
            guard let index = state.held.firstIndex(where: { $0.handle == handle }) else { return (false, nil) }
            state.held.remove(at: index)
            return (true, state.link)
        }
        guard held else { return inner.cancel(handle) }
        try? link?.complete(handle, .failure(USBErrno.connectionReset))
    }

    public func reset() {
        inner.reset()
    }

    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.held.removeAll()
        }
        inner.stop()
    }

    // MARK: The fuzzer's side

    /// Receive URBs held now.
    public var heldCount: Int { state.withLock { $0.held.count } }
    /// Receive URBs the driver has submitted to the endpoint so far.
    public var submittedCount: Int { state.withLock { $0.submitted } }

    /// Takes a held URB out, the oldest (the order a chip fills them) or
    /// the newest; the caller must complete it.
    public func take(newest: Bool = false) -> USBRequest? {
        state.withLock { state in
            guard !state.held.isEmpty else { return nil }
            return newest ? state.held.removeLast() : state.held.removeFirst()
        }
    }

    /// Completes a URB taken with `take`; see `VirtualHostController.complete`.
    public func complete(_ request: USBRequest, _ completion: USBCompletion) throws(USBHostError) {
        guard let link = state.withLock({ $0.link }) else { throw .unknownRequest(handle: request.handle) }
        try link.complete(request.handle, completion)
    }

    /// `complete`, with the bridge's objection returned rather than thrown.
    public func completeReportingRefusal(_ request: USBRequest, _ completion: USBCompletion) -> USBHostError? {
        do {
            try complete(request, completion)
            return nil
        } catch {
            return error
        }
    }

    /// Record mode: each completed receive transfer's data, in order.
    public var recordedTransfers: [[UInt8]] { state.withLock { $0.recorded } }

    private func record(_ handle: UInt64, _ completion: USBCompletion) {
        state.withLock { state in
            guard let request = state.tracked.removeValue(forKey: handle) else { return }
            guard completion.error == nil, completion.actualLength <= request.length, let buffer = request.buffer else { return }
            state.recorded.append(Array(UnsafeRawBufferPointer(start: buffer, count: completion.actualLength)))
        }
    }
}
