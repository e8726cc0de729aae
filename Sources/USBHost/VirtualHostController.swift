// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import LinuxKernel
import Logging
import Synchronization
import SystemPackage

/// The bridge between the kernel's virtual USB host controller
/// (arch/lkl/drivers/virtual_hcd.c, `lkl/virtual_usb.h`) and `USBDevice`s in
/// this process.
///
/// It plugs devices into root-hub ports, forwards every URB to its device,
/// keeps the table of URBs the host still owes the kernel, checks each
/// completion against it (unknown, repeated or oversized completions are
/// thrown back as `USBHostError`, never passed on), answers SET_ADDRESS
/// itself, and records every submission and completion to an optional
/// usbmon pcap trace. Usable from any thread.
public final class VirtualHostController: Sendable {
    /// Bus numbers of the controller's two root hubs (usbmon, usbfs and
    /// sysfs use them): the USB 2.0 one registers first, the SuperSpeed one
    /// next, and the library has no other USB controller.
    public static let busNumber: UInt16 = 1
    public static let superSpeedBusNumber: UInt16 = 2
    /// Connectors: each has a USB 2.0 port (1...portCount) and a SuperSpeed
    /// port (portCount + connector), and holds one device (`lkl/virtual_usb.h`).
    public static let portCount = Int(LKL_USB_PORTS)
    /// Ports as `attach` numbers them: 1...allPortsCount.
    public static let allPortsCount = 2 * portCount

    /// A port of the SuperSpeed root hub (SuperSpeed devices attach there).
    public static func isSuperSpeedPort(_ port: Int) -> Bool { port > portCount }

    /// The bus the device on `port` is on.
    public static func busNumber(ofPort port: Int) -> UInt16 {
        isSuperSpeedPort(port) ? superSpeedBusNumber : busNumber
    }

    /// The port's number on its own root hub.
    public static func rootHubPort(ofPort port: Int) -> Int {
        isSuperSpeedPort(port) ? port - portCount : port
    }

    /// The kernel's name of the device on `port` (sysfs /sys/bus/usb/devices): "2-1".
    public static func deviceName(ofPort port: Int) -> String {
        "\(busNumber(ofPort: port))-\(rootHubPort(ofPort: port))"
    }

    private let state = HostMutex(State())
    private let trace: HostMutex<USBMonitorTraceWriter?>
    /// Mirrors `trace != nil` and `latencyCapacity > 0`, so the per-URB
    /// path takes no lock and reads no clock for what is off.
    private let tracing: Atomic<Bool>
    private let timingLatencies = Atomic<Bool>(false)
    private let logger = Logger(label: "airtap.usb")

    public init(trace: USBMonitorTraceWriter? = nil) {
        self.trace = HostMutex(trace)
        tracing = Atomic(trace != nil)
    }

    /// Starts (or, with nil, stops) recording usbmon events.
    public func setTrace(_ writer: USBMonitorTraceWriter?) {
        trace.withLock { trace in
            trace = writer
            tracing.store(writer != nil, ordering: .releasing)
        }
    }

    // MARK: Ports

    /// Plugs `device` into a free connector and returns the port: a
    /// SuperSpeed one (`isSuperSpeedPort`) for a `.super` device, a USB 2.0
    /// one otherwise. The kernel enumerates it asynchronously. Call from a
    /// host thread (not from a device callback).
    public func attach(_ device: any USBDevice) throws(USBHostError) -> Int {
        let attached = AttachedDevice(controller: self, device: device)
        device.attached(USBDeviceLink(controller: self, portBox: attached))
        let context = Unmanaged.passRetained(attached)
        let port = lkl_usb_attach(
            lkl_usb_speed(rawValue: UInt32(device.speed.rawValue)), Self.deviceOperations, context.toOpaque())
        guard port > 0 else {
            context.release()
            throw .attachFailed(Errno(rawValue: -port))
        }
        attached.portNumber.store(Int(port), ordering: .releasing)
        state.withLock { $0.devices[Int(port)] = PortEntry(device: attached, context: context) }
        return Int(port)
    }

    /// Unplugs the device on `port` (surprise removal): stops the device,
    /// completes what it still owed with `-ESHUTDOWN` (so the trace shows
    /// them), then detaches the port in the kernel. Call from a host thread.
    public func detach(port: Int) throws(USBHostError) {
        let entry: PortEntry? = state.withLock { state in
            guard let entry = state.devices.removeValue(forKey: port) else { return nil }
            // Set under the lock that submissions take: no URB is added for
            // this device after this point.
            entry.device.detaching.store(true, ordering: .releasing)
            return entry
        }
        guard let entry else { throw .portNotAttached(port) }

        entry.device.device.stop()

        let leftovers: [PendingRequest] = state.withLock { state in
            let handles = state.pending.filter { $0.value.device === entry.device }.map(\.key)
            return handles.compactMap { handle in
                guard let pending = state.pending.removeValue(forKey: handle) else { return nil }
                state.completed(pending, now: 0)
                return pending
            }
        }
        for pending in leftovers.sorted(by: { $0.sequence < $1.sequence }) {
            _ = try? deliver(pending, .failure(USBErrno.shutdown))
        }
        // A completion that took its URB out of the table just before us may
        // still be reading the buffer; the kernel frees it at detach.
        while entry.device.completionsInFlight.load(ordering: .acquiring) > 0 {
            HostClock.sleep(seconds: 50e-6)
        }

        let result = lkl_usb_detach(Int32(port))
        // The kernel no longer calls the device's callbacks: drop its context.
        entry.context.release()
        guard result == 0 else { throw .detachFailed(port: port, errno: Errno(rawValue: -result)) }
    }

    /// Ports with a device attached through this controller.
    public var attachedPorts: [Int] { state.withLock { $0.devices.keys.sorted() } }

    /// The address the kernel gave the device on `port` (0 before SET_ADDRESS).
    public func address(ofPort port: Int) -> UInt8? {
        state.withLock { $0.devices[port]?.device.address.load(ordering: .acquiring) }
    }

    // MARK: Completion

    /// Completes a pending URB, from any thread. Throws, without touching
    /// the kernel, for a handle that is not pending (unknown, or already
    /// completed); for an actual length beyond the buffer it completes the
    /// URB with `-EOVERFLOW` and then throws.
    public func complete(_ handle: UInt64, _ completion: USBCompletion) throws(USBHostError) {
        let now = timingLatencies.load(ordering: .relaxed) ? HostClock.monotonicNanoseconds() : 0
        let pending: PendingRequest = try state.withLock { (state) throws(USBHostError) -> PendingRequest in
            guard let pending = state.pending.removeValue(forKey: handle) else {
                state.counters.rejectedCompletions += 1
                if state.recentlyCompleted.contains(handle) { throw .alreadyCompleted(handle: handle) }
                throw .unknownRequest(handle: handle)
            }
            state.completed(pending, now: now)
            // Taken under the lock that removed it: detach cannot miss it.
            pending.device.completionsInFlight.add(1, ordering: .relaxed)
            return pending
        }
        defer { pending.device.completionsInFlight.subtract(1, ordering: .releasing) }
        try deliver(pending, completion)
    }

    /// Checks `completion`, records it and hands it to the kernel. The caller
    /// already took `pending` out of the table (and counted it, `State.completed`).
    @discardableResult
    private func deliver(_ pending: PendingRequest, _ completion: USBCompletion) throws(USBHostError) -> USBCompletion {
        let request = pending.request
        var final = completion
        var problem: USBHostError?
        if let error = completion.error, error.rawValue <= 0 || error.rawValue > 4095 {
            problem = .invalidStatus(handle: request.handle, errno: error.rawValue)
            final = .failure(USBErrno.protocolError)
        } else if completion.actualLength < 0 || completion.actualLength > request.length {
            problem = .actualLengthExceedsBuffer(
                handle: request.handle, actualLength: completion.actualLength, bufferLength: request.length)
            final = .failure(USBErrno.overflow)
        }
        // What the kernel will report (virtual_hcd applies the same rule), so
        // the trace shows the status the driver sees.
        if final.error == nil, request.isIn, request.flags.contains(.shortNotOK), final.actualLength < request.length {
            final.error = USBErrno.remoteIO
        }
        recordEvent(for: request, completion: final)
        let result = lkl_usb_complete(request.handle, final.kernelStatus, UInt32(final.actualLength))
        if result < 0 {
            throw .kernelRejectedCompletion(handle: request.handle, errno: Errno(rawValue: -result))
        }
        if let problem { throw problem }
        return final
    }

    // MARK: Statistics

    /// URBs submitted to devices of this controller and not yet completed.
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    public func pendingCount(port: Int) -> Int {
        state.withLock { state in state.pending.values.filter { $0.request.port == port }.count }
    }

    /// Handles of the URBs pending on `port`, oldest first.
    public func pendingHandles(port: Int) -> [UInt64] {
        state.withLock { state in
            state.pending.values.filter { $0.request.port == port }.sorted { $0.sequence < $1.sequence }
                .map(\.request.handle)
        }
    }

    public var statistics: USBBridgeStatistics { state.withLock { $0.counters } }

    /// The kernel's own bookkeeping (`lkl_usb_get_stats`).
    public static func kernelStatistics() throws(USBHostError) -> USBKernelStatistics {
        var stats = lkl_usb_stats()
        let result = lkl_usb_get_stats(&stats)
        guard result == 0 else { throw .statsUnavailable(Errno(rawValue: -result)) }
        return USBKernelStatistics(
            inFlight: Int(stats.in_flight), submitted: stats.submitted, completed: stats.completed,
            badCompletions: stats.bad_completions, forcedAtDetach: stats.forced_at_detach)
    }

    /// Keeps the submit-to-completion time of the next `capacity` URBs.
    public func recordLatencies(capacity: Int) {
        state.withLock { state in
            state.latencySamples = []
            state.latencySamples.reserveCapacity(capacity)
            state.latencyCapacity = capacity
            timingLatencies.store(capacity > 0, ordering: .relaxed)
        }
    }

    /// The recorded latencies in nanoseconds; stops recording.
    public func takeLatencies() -> [UInt64] {
        state.withLock { state in
            defer {
                state.latencySamples = []
                state.latencyCapacity = 0
                timingLatencies.store(false, ordering: .relaxed)
            }
            return state.latencySamples
        }
    }

    // MARK: Kernel callbacks

    /// The kernel keeps this pointer while any device is attached: allocated
    /// once, never freed.
    nonisolated(unsafe) private static let deviceOperations: UnsafePointer<lkl_usb_device_ops> = {
        let operations = UnsafeMutablePointer<lkl_usb_device_ops>.allocate(capacity: 1)
        operations.initialize(
            to: lkl_usb_device_ops(submit: submitCallback, cancel: cancelCallback, reset: resetCallback))
        return UnsafePointer(operations)
    }()

    fileprivate func handleSubmit(_ device: AttachedDevice, _ urb: lkl_usb_urb) -> Int32 {
        let request = USBRequest(urb)
        let now = timingLatencies.load(ordering: .relaxed) ? HostClock.monotonicNanoseconds() : 0
        let accepted: Bool = state.withLock { state in
            guard !device.detaching.load(ordering: .acquiring) else { return false }
            state.sequence &+= 1
            state.pending[request.handle] = PendingRequest(
                request: request, device: device, submittedAt: now, sequence: state.sequence)
            state.counters.submitted += 1
            return true
        }
        guard accepted else {
            recordSubmissionError(for: request, error: USBErrno.noDevice)
            return -USBErrno.noDevice.rawValue
        }
        recordEvent(for: request, completion: nil)

        if request.type == .control && request.setup.isSetAddress {
            // The controller's business, as on real hardware: devices (and
            // libusb-backed ones in particular) never see it.
            device.address.store(UInt8(truncatingIfNeeded: request.setup.value & 0x7f), ordering: .releasing)
            state.withLock { $0.counters.setAddressHandled += 1 }
            completeFromCallback(request.handle, .success(actualLength: 0))
            return 0
        }

        switch device.device.submit(request) {
        case .pending:
            return 0
        case .completed(let completion):
            completeFromCallback(request.handle, completion)
            return 0
        case .refused(let error):
            let stillOurs = state.withLock { state in
                guard state.pending.removeValue(forKey: request.handle) != nil else { return false }
                state.counters.submitted -= 1
                state.counters.refused += 1
                return true
            }
            // If detach already completed it with -ESHUTDOWN, it counts as accepted.
            guard stillOurs else { return 0 }
            recordSubmissionError(for: request, error: error)
            let status = error.rawValue > 0 && error.rawValue <= 4095 ? error.rawValue : USBErrno.protocolError.rawValue
            return -status
        }
    }

    private func completeFromCallback(_ handle: UInt64, _ completion: USBCompletion) {
        do {
            try complete(handle, completion)
        } catch .alreadyCompleted, .unknownRequest {
            // Detach got there first: it completed the URB with -ESHUTDOWN.
        } catch {
            logger.error("\(error)")
        }
    }

    fileprivate func handleCancel(_ device: AttachedDevice, _ handle: UInt64) {
        let isPending = state.withLock { $0.pending[handle] != nil }
        guard isPending else { return }
        state.withLock { $0.counters.cancelsForwarded += 1 }
        device.device.cancel(handle)
    }

    private func recordEvent(for request: USBRequest, completion: USBCompletion?) {
        guard tracing.load(ordering: .acquiring), let writer = trace.withLock({ $0 }) else { return }
        writer.record(
            USBMonitorEvent.make(
                for: request, completion: completion, busNumber: Self.busNumber(ofPort: request.port),
                address: request.address,
                captureLimit: writer.snapLength, now: USBMonitorPcap.now()))
    }

    private func recordSubmissionError(for request: USBRequest, error: Errno) {
        guard let writer = trace.withLock({ $0 }) else { return }
        writer.record(
            USBMonitorEvent.submissionError(
                for: request, error: error, busNumber: Self.busNumber(ofPort: request.port), address: request.address,
                now: USBMonitorPcap.now()))
    }

    // MARK: State

    private struct PendingRequest: Sendable {
        let request: USBRequest
        let device: AttachedDevice
        let submittedAt: UInt64
        /// Submission order, so detach completes leftovers in order.
        let sequence: UInt64
    }

    private struct PortEntry: Sendable {
        let device: AttachedDevice
        /// The retain the kernel's `void *device` holds.
        let context: Unmanaged<AttachedDevice>
    }

    private struct State {
        var pending: [UInt64: PendingRequest] = [:]
        var devices: [Int: PortEntry] = [:]
        var recentlyCompleted = RecentHandles(capacity: 4096)
        var counters = USBBridgeStatistics()
        var sequence: UInt64 = 0
        var latencySamples: [UInt64] = []
        var latencyCapacity = 0

        /// `pending` has left the table for good: counted, its handle
        /// remembered, its latency kept (`now` 0: not timed).
        mutating func completed(_ pending: PendingRequest, now: UInt64) {
            recentlyCompleted.insert(pending.request.handle)
            counters.completed += 1
            if now != 0, pending.submittedAt != 0, latencySamples.count < latencyCapacity {
                latencySamples.append(now &- pending.submittedAt)
            }
        }
    }
}

/// What the bridge has seen (all URBs of all its devices).
public struct USBBridgeStatistics: Sendable, Equatable {
    public var submitted = 0
    public var completed = 0
    public var refused = 0
    public var setAddressHandled = 0
    public var cancelsForwarded = 0
    /// Completions thrown back: unknown or already completed handles.
    public var rejectedCompletions = 0
}

/// `struct lkl_usb_stats`.
public struct USBKernelStatistics: Sendable, Equatable {
    public var inFlight: Int
    public var submitted: UInt64
    public var completed: UInt64
    public var badCompletions: UInt64
    public var forcedAtDetach: UInt64
}

/// The kernel's context pointer for one attached device.
final class AttachedDevice: Sendable {
    let controller: VirtualHostController
    let device: any USBDevice
    let portNumber = Atomic<Int>(0)
    let address = Atomic<UInt8>(0)
    let detaching = Atomic<Bool>(false)
    /// Completions taken out of the table and still being delivered
    /// (reading the URB's buffer); detach waits for none.
    let completionsInFlight = Atomic<Int>(0)

    init(controller: VirtualHostController, device: any USBDevice) {
        self.controller = controller
        self.device = device
    }

    var port: Int { portNumber.load(ordering: .acquiring) }
}

/// The handles most recently completed, to tell "completed twice" from
/// "never existed" in error messages. Bounded: a ring, searched only on
/// that error path, so the per-URB cost is one store. The kernel's
/// handles never repeat (each carries its slot's generation), so a
/// repeat is not looked for: it simply takes a slot.
struct RecentHandles {
    /// Marks an empty slot: no handle has slot index 0xFFFFFFFF.
    private static let empty = UInt64.max
    private var ring: [UInt64]
    private var next = 0

    init(capacity: Int) {
        ring = Array(repeating: Self.empty, count: max(capacity, 1))
    }

    func contains(_ handle: UInt64) -> Bool { handle != Self.empty && ring.contains(handle) }

    mutating func insert(_ handle: UInt64) {
        ring[next] = handle
        next = next + 1 == ring.count ? 0 : next + 1
    }
}

extension USBRequest {
    init(_ urb: lkl_usb_urb) {
        // Only control transfers have a setup packet (decoded without an allocation).
        let setup =
            urb.type == USBTransferType.control.rawValue
            ? withUnsafeBytes(of: urb.setup) { USBSetupPacket(wire: $0) } : USBSetupPacket(requestType: 0, request: 0)
        self.init(
            handle: urb.handle, port: Int(urb.port), address: urb.address, endpoint: urb.endpoint,
            type: USBTransferType(rawValue: urb.type) ?? .isochronous,
            flags: USBRequestFlags(rawValue: urb.flags), setup: setup,
            buffer: urb.buffer, length: Int(urb.length), interval: Int(urb.interval))
    }
}

private func submitCallback(_ context: UnsafeMutableRawPointer?, _ urb: UnsafePointer<lkl_usb_urb>?) -> Int32 {
    guard let context, let urb else { return -USBErrno.noDevice.rawValue }
    let device = Unmanaged<AttachedDevice>.fromOpaque(context).takeUnretainedValue()
    return device.controller.handleSubmit(device, urb.pointee)
}

private func cancelCallback(_ context: UnsafeMutableRawPointer?, _ handle: UInt64) {
    guard let context else { return }
    let device = Unmanaged<AttachedDevice>.fromOpaque(context).takeUnretainedValue()
    device.controller.handleCancel(device, handle)
}

private func resetCallback(_ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let device = Unmanaged<AttachedDevice>.fromOpaque(context).takeUnretainedValue()
    device.address.store(0, ordering: .releasing)
    device.device.reset()
}
