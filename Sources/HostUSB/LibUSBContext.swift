// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import LinuxKernel
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A libusb pointer that may cross threads; libusb itself is thread-safe.
struct LibUSBPointer: @unchecked Sendable, Hashable {
    let raw: OpaquePointer
}

/// One libusb session: lists real USB devices, opens them as
/// `LibUSBAdapter`s, and runs the one thread on which libusb delivers
/// every transfer completion and hotplug event.
///
/// That event thread is a plain host thread that never entered the kernel
/// library: completions it hands to `VirtualHostController` raise the
/// virtual host controller's interrupt from outside kernel context, the
/// path the design exists to exercise.
///
/// On a machine without USB (no /dev/bus/usb and no /sys/bus/usb, as in
/// most containers) libusb is not started: `devices()` returns [] and
/// `isAvailable` is false.
public final class LibUSBContext: Sendable {
    /// nil without USB.
    let context: LibUSBPointer?
    private let eventLoop: LibUSBEventLoop?
    private let eventThread: HostMutex<JoinableThread?>
    private let hotplugHandle: HostMutex<libusb_hotplug_callback_handle?>
    let removals: RemovalWatch
    private let sysfs: USBSysfs
    private let logger = Logger(label: "airtap.usb")

    /// Whether this machine shows any sign of USB support.
    public static var machineHasUSB: Bool {
        access("/dev/bus/usb", F_OK) == 0 || access("/sys/bus/usb", F_OK) == 0
    }

    /// Starts libusb and its event thread, or, without USB, an empty session.
    public init() throws(HostUSBError) {
        sysfs = USBSysfs()
        removals = RemovalWatch()
        eventThread = HostMutex(nil)
        hotplugHandle = HostMutex(nil)
        guard Self.machineHasUSB else {
            context = nil
            eventLoop = nil
            return
        }
        var created: OpaquePointer?
        let result = libusb_init(&created)
        guard result == 0, let created else { throw .libusbUnavailable(code: result) }
        let pointer = LibUSBPointer(raw: created)
        context = pointer
        let loop = LibUSBEventLoop(context: pointer)
        eventLoop = loop
        do {
            let thread = try JoinableThread { loop.run() }
            eventThread.withLock { $0 = thread }
        } catch {
            libusb_exit(created)
            throw .threadFailed("\(error)")
        }
        registerHotplug(pointer)
    }

    deinit {
        close()
    }

    /// libusb is running (the machine has USB).
    public var isAvailable: Bool { context != nil }

    /// Hotplug events are delivered: unplugs are noticed even when no
    /// transfer is in flight.
    public var hasHotplug: Bool { hotplugHandle.withLock { $0 != nil } }

    /// Ends the event thread and libusb. Close every adapter first.
    public func close() {
        guard let thread = eventThread.withLock({ state -> JoinableThread? in
            defer { state = nil }
            return state
        }) else { return }
        if let context, let handle = hotplugHandle.withLock({ $0 }) {
            libusb_hotplug_deregister_callback(context.raw, handle)
            hotplugHandle.withLock { $0 = nil }
        }
        eventLoop?.stop()
        thread.join()
        if let context { libusb_exit(context.raw) }
    }

    // MARK: Enumeration

    /// Every USB device plugged into the host, root hubs left out, ordered
    /// by bus and port path. Empty without USB.
    public func devices() throws(HostUSBError) -> [HostUSBDeviceInfo] {
        guard let context else { return [] }
        return try withDeviceList(context) { list in
            list.compactMap { describe($0) }.sorted { first, second in
                first.busNumber != second.busNumber
                    ? first.busNumber < second.busNumber
                    : first.portPath.lexicographicallyPrecedes(second.portPath)
            }
        }
    }

    /// Opens `device` (from `devices()`): claims its interfaces, detaching
    /// host kernel drivers, and reads its descriptors. Attach the result
    /// with `VirtualHostController.attach`, close it with `close()`.
    public func open(_ device: HostUSBDeviceInfo, options: LibUSBAdapter.Options = .init()) throws(HostUSBError) -> LibUSBAdapter {
        guard let context, let eventLoop else { throw .noUSBDevices }
        let found: LibUSBPointer? = try withDeviceList(context) { list in
            guard let match = list.first(where: { same(device, $0) }) else { return nil }
            libusb_ref_device(match.raw)
            return match
        }
        guard let found else { throw .deviceNotFound(device.summary) }
        do {
            let environment = AdapterEnvironment(
                performOnEventThread: { eventLoop.perform($0) },
                isEventThread: { eventLoop.isCurrentThread },
                // Holds the context: libusb must outlive its open devices.
                unregister: { self.removals.unregister(device: found) })
            let adapter = try LibUSBAdapter.open(device: found, info: device, environment: environment, options: options)
            removals.register(adapter, device: found)
            return adapter
        } catch {
            libusb_unref_device(found.raw)
            throw error
        }
    }

    private func withDeviceList<Result>(
        _ context: LibUSBPointer, _ body: ([LibUSBPointer]) throws(HostUSBError) -> Result
    ) throws(HostUSBError) -> Result {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context.raw, &list)
        guard count >= 0, let list else {
            throw .libusbFailed(call: "libusb_get_device_list", device: "(all)", code: Int32(truncatingIfNeeded: count))
        }
        defer { libusb_free_device_list(list, 1) }
        let devices = (0..<Int(count)).compactMap { list[$0].map(LibUSBPointer.init) }
        return try body(devices)
    }

    private func portPath(_ device: LibUSBPointer) -> [UInt8] {
        var ports = [UInt8](repeating: 0, count: 8)  // USB allows at most 7 tiers
        let count = libusb_get_port_numbers(device.raw, &ports, Int32(ports.count))
        return count > 0 ? Array(ports.prefix(Int(count))) : []
    }

    private func same(_ info: HostUSBDeviceInfo, _ device: LibUSBPointer) -> Bool {
        var descriptor = libusb_device_descriptor()
        guard libusb_get_device_descriptor(device.raw, &descriptor) == 0 else { return false }
        return libusb_get_bus_number(device.raw) == info.busNumber && portPath(device) == info.portPath
            && libusb_get_device_address(device.raw) == info.deviceAddress
            && descriptor.idVendor == info.vendorID && descriptor.idProduct == info.productID
    }

    /// Everything `HostUSBDeviceInfo` holds, from libusb's cached
    /// descriptors and sysfs: no device I/O, no open.
    private func describe(_ device: LibUSBPointer) -> HostUSBDeviceInfo? {
        let ports = portPath(device)
        guard !ports.isEmpty else { return nil }  // root hubs are the host's, never an adapter
        var descriptor = libusb_device_descriptor()
        guard libusb_get_device_descriptor(device.raw, &descriptor) == 0 else { return nil }
        var info = HostUSBDeviceInfo(
            busNumber: libusb_get_bus_number(device.raw), portPath: ports,
            deviceAddress: libusb_get_device_address(device.raw), vendorID: descriptor.idVendor,
            productID: descriptor.idProduct, deviceVersion: descriptor.bcdDevice, deviceClass: descriptor.bDeviceClass,
            deviceSubClass: descriptor.bDeviceSubClass, deviceProtocol: descriptor.bDeviceProtocol,
            activeConfiguration: 0, speed: HostUSBSpeed(libUSBSpeed: libusb_get_device_speed(device.raw)))

        var configuration: UnsafeMutablePointer<libusb_config_descriptor>?
        if libusb_get_active_config_descriptor(device.raw, &configuration) == 0, let active = configuration {
            info.activeConfiguration = active.pointee.bConfigurationValue
        } else if libusb_get_config_descriptor(device.raw, 0, &configuration) != 0 {
            configuration = nil
        }
        if let configuration {
            defer { libusb_free_config_descriptor(configuration) }
            let location = info.location
            for index in 0..<Int(configuration.pointee.bNumInterfaces) {
                let interface = configuration.pointee.interface[index]
                guard interface.num_altsetting > 0, let first = interface.altsetting else { continue }
                let number = first.pointee.bInterfaceNumber
                info.interfaces.append(
                    HostUSBInterfaceInfo(
                        number: number, interfaceClass: first.pointee.bInterfaceClass,
                        interfaceSubClass: first.pointee.bInterfaceSubClass,
                        interfaceProtocol: first.pointee.bInterfaceProtocol,
                        hostDriver: info.activeConfiguration == 0
                            ? nil
                            : sysfs.interfaceDriver(location: location, configuration: info.activeConfiguration, interface: number)))
            }
        }
        let location = info.location
        info.manufacturer = sysfs.attribute("manufacturer", location: location)
        info.product = sysfs.attribute("product", location: location)
        info.serialNumber = sysfs.attribute("serial", location: location)
        info.access = HostAccessCheck.check(nodePath: info.nodePath)
        return info
    }

    // MARK: Event thread

    /// Runs `work` on the event thread (soon, after the current round of
    /// events), so it is ordered with completions and hotplug events.
    func performOnEventThread(_ work: @escaping @Sendable () -> Void) {
        eventLoop?.perform(work)
    }

    /// The caller is the event thread (inside a libusb callback).
    var isEventThread: Bool { eventLoop?.isCurrentThread ?? false }

    private func registerHotplug(_ context: LibUSBPointer) {
        guard libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 else {
            logger.debug("libusb has no hotplug support here: unplugs are noticed through failing transfers")
            return
        }
        var handle: libusb_hotplug_callback_handle = 0
        let result = libusb_hotplug_register_callback(
            context.raw, Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue), 0,
            LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
            deviceLeftCallback, Unmanaged.passUnretained(removals).toOpaque(), &handle)
        if result == 0 {
            hotplugHandle.withLock { $0 = handle }
        } else {
            logger.debug("libusb hotplug registration failed: \(LibUSBStatus.describe(libUSBError: result))")
        }
    }
}

/// The event thread's loop, apart from `LibUSBContext` so the thread does
/// not keep the context alive.
final class LibUSBEventLoop: Sendable {
    private let context: LibUSBPointer
    private let stopping = Atomic<Bool>(false)
    /// pthread_self of the event thread (0 before it started).
    private let threadIdentity = Atomic<UInt>(0)
    private let pendingWork = HostMutex<[@Sendable () -> Void]>([])

    init(context: LibUSBPointer) {
        self.context = context
    }

    func run() {
        threadIdentity.store(UInt(pthread_self()), ordering: .releasing)
        while !stopping.load(ordering: .acquiring) {
            // The timeout only bounds how long a missed wake-up could delay
            // stopping; libusb_interrupt_event_handler normally ends the wait.
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            _ = libusb_handle_events_timeout_completed(context.raw, &timeout, nil)
            runPendingWork()
        }
        runPendingWork()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        libusb_interrupt_event_handler(context.raw)
    }

    func perform(_ work: @escaping @Sendable () -> Void) {
        pendingWork.withLock { $0.append(work) }
        libusb_interrupt_event_handler(context.raw)
    }

    var isCurrentThread: Bool {
        let identity = threadIdentity.load(ordering: .acquiring)
        return identity != 0 && pthread_equal(pthread_t(identity), pthread_self()) != 0
    }

    private func runPendingWork() {
        let work = pendingWork.withLock { pending in
            defer { pending = [] }
            return pending
        }
        for item in work { item() }
    }
}

/// Which open adapter belongs to which libusb device, for hotplug's
/// device-left events.
final class RemovalWatch: Sendable {
    private struct Entry: @unchecked Sendable {
        weak var adapter: LibUSBAdapter?
    }

    private let adapters = HostMutex<[LibUSBPointer: Entry]>([:])

    func register(_ adapter: LibUSBAdapter, device: LibUSBPointer) {
        adapters.withLock { $0[device] = Entry(adapter: adapter) }
    }

    func unregister(device: LibUSBPointer) {
        _ = adapters.withLock { $0.removeValue(forKey: device) }
    }

    func deviceLeft(_ device: LibUSBPointer) {
        guard let adapter = adapters.withLock({ $0[device]?.adapter }) else { return }
        adapter.deviceRemoved(reason: "unplugged (hotplug event)")
    }
}

/// libusb calls this on the event thread, for every device that left.
private func deviceLeftCallback(
    _ context: OpaquePointer?, _ device: OpaquePointer?, _ event: libusb_hotplug_event, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let device, let userData, event == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT else { return 0 }
    Unmanaged<RemovalWatch>.fromOpaque(userData).takeUnretainedValue().deviceLeft(LibUSBPointer(raw: device))
    return 0  // stay registered
}
