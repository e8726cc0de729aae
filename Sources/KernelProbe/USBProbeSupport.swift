// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import SystemPackage
import USBHost

/// usbfs (`/dev/bus/usb/BBB/DDD`) and usbtest ioctls, with the layouts of
/// include/uapi/linux/usbdevice_fs.h and drivers/usb/misc/usbtest.c on a
/// 64-bit kernel. `_IOC(dir, type, nr, size)` = dir << 30 | size << 16 | type << 8 | nr.
enum USBFS {
    private static func ioc(_ direction: UInt32, _ number: UInt32, _ size: UInt32) -> UInt32 {
        direction << 30 | size << 16 | UInt32(UInt8(ascii: "U")) << 8 | number
    }
    private static let write: UInt32 = 1
    private static let read: UInt32 = 2

    /// struct usbdevfs_ctrltransfer (24 bytes).
    static let control = ioc(read | write, 0, 24)
    /// struct usbdevfs_bulktransfer (24 bytes).
    static let bulkTransfer = ioc(read | write, 2, 24)
    /// struct usbdevfs_urb (56 bytes).
    static let submitURB = ioc(read, 10, 56)
    static let discardURB = ioc(0, 11, 0)
    static let reapURB = ioc(write, 12, 8)
    static let reapURBNoDelay = ioc(write, 13, 8)
    static let claimInterface = ioc(read, 15, 4)
    static let resetDevice = ioc(0, 20, 0)
    static let releaseInterface = ioc(read, 16, 4)
    /// struct usbdevfs_ioctl { int ifno; int ioctl_code; void *data; } (16 bytes).
    static let driverIoctl = ioc(read | write, 18, 16)
    /// usbtest's USBTEST_REQUEST_64: struct usbtest_param_64 (five u32,
    /// then s64 duration_sec and duration_usec: 40 bytes). testusb.c's
    /// struct with a `struct timeval` has this layout on 64-bit hosts.
    static let usbtestRequest = ioc(read | write, 100, 40)

    static let urbTypeBulk: UInt8 = 3

    /// Mounts devtmpfs on /dev (the kernel's ramfs root has no /dev yet).
    static func mountDevices(_ kernel: Kernel) throws {
        try kernel.mountIfNeeded("devtmpfs", at: "/dev")
    }

    /// The usbfs nodes of devices (root hubs, 001, left out) on both of the
    /// controller's buses, sorted.
    static func deviceNodes(_ kernel: Kernel) -> [String] {
        [VirtualHostController.busNumber, VirtualHostController.superSpeedBusNumber].flatMap { bus in
            let digits = String(bus)
            let directory = "/dev/bus/usb/" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
            let names = (try? kernel.directoryEntries(atPath: directory).map(\.name)) ?? []
            return names.filter { $0 != "." && $0 != ".." && $0 != "001" }.sorted().map { "\(directory)/\($0)" }
        }
    }

    /// Waits for a device's usbfs node (on either bus) not in `excluding`.
    static func waitForDeviceNode(_ kernel: Kernel, excluding: Set<String> = [], seconds: Double) -> String? {
        var found: String?
        _ = waitUntil(seconds: seconds, pollInterval: 0.005) {
            found = deviceNodes(kernel).first { !excluding.contains($0) }
            return found != nil
        }
        return found
    }

    /// USBDEVFS_IOCTL to interface `interface`'s driver.
    static func driverIoctl(
        _ kernel: Kernel, fd: Int, interface: Int32, code: UInt32, data: UnsafeMutableRawPointer
    ) throws -> Int {
        let wrapper = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
        defer { wrapper.deallocate() }
        wrapper.initializeMemory(as: UInt8.self, repeating: 0, count: 16)
        wrapper.storeBytes(of: interface, toByteOffset: 0, as: Int32.self)
        wrapper.storeBytes(of: Int32(bitPattern: code), toByteOffset: 4, as: Int32.self)
        wrapper.storeBytes(of: UInt(bitPattern: data), toByteOffset: 8, as: UInt.self)
        return try kernel.ioctl(fd, USBFS.driverIoctl, wrapper)
    }

    /// One usbtest run, as testusb.c issues it.
    static func usbtest(_ kernel: Kernel, fd: Int, _ parameters: USBTestParameters) throws -> USBTestOutcome {
        let param = UnsafeMutableRawPointer.allocate(byteCount: 40, alignment: 8)
        defer { param.deallocate() }
        param.initializeMemory(as: UInt8.self, repeating: 0, count: 40)
        for (offset, value) in [
            parameters.test, parameters.iterations, parameters.length, parameters.vary, parameters.sglen,
        ].enumerated() {
            param.storeBytes(of: value, toByteOffset: offset * 4, as: UInt32.self)
        }
        let start = HostClock.monotonicNanoseconds()
        do {
            _ = try driverIoctl(kernel, fd: fd, interface: 0, code: usbtestRequest, data: param)
        } catch KernelError.syscall(_, let errno) {
            return USBTestOutcome(
                errno: errno, kernelMicroseconds: 0, hostNanoseconds: HostClock.monotonicNanoseconds() - start)
        }
        let host = HostClock.monotonicNanoseconds() - start
        let seconds = param.load(fromByteOffset: 24, as: Int64.self)
        let microseconds = param.load(fromByteOffset: 32, as: Int64.self)
        return USBTestOutcome(errno: nil, kernelMicroseconds: seconds * 1_000_000 + microseconds, hostNanoseconds: host)
    }

    /// USBDEVFS_CONTROL; returns the bytes transferred.
    static func control(
        _ kernel: Kernel, fd: Int, setup: USBSetupPacket, data: UnsafeMutableRawPointer?, timeoutMilliseconds: UInt32 = 1000
    ) throws -> Int {
        let transfer = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
        defer { transfer.deallocate() }
        transfer.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
        transfer.storeBytes(of: setup.requestType, toByteOffset: 0, as: UInt8.self)
        transfer.storeBytes(of: setup.request, toByteOffset: 1, as: UInt8.self)
        transfer.storeBytes(of: setup.value, toByteOffset: 2, as: UInt16.self)
        transfer.storeBytes(of: setup.index, toByteOffset: 4, as: UInt16.self)
        transfer.storeBytes(of: setup.length, toByteOffset: 6, as: UInt16.self)
        transfer.storeBytes(of: timeoutMilliseconds, toByteOffset: 8, as: UInt32.self)
        transfer.storeBytes(of: UInt(bitPattern: data), toByteOffset: 16, as: UInt.self)
        return try kernel.ioctl(fd, USBFS.control, transfer)
    }
}

extension USBFS {
    /// USBDEVFS_BULK on a claimed interface; returns the bytes transferred.
    static func bulk(
        _ kernel: Kernel, fd: Int, endpoint: UInt8, data: UnsafeMutableRawPointer, length: Int,
        timeoutMilliseconds: UInt32 = 1000
    ) throws -> Int {
        let transfer = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
        defer { transfer.deallocate() }
        transfer.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
        transfer.storeBytes(of: UInt32(endpoint), toByteOffset: 0, as: UInt32.self)
        transfer.storeBytes(of: UInt32(length), toByteOffset: 4, as: UInt32.self)
        transfer.storeBytes(of: timeoutMilliseconds, toByteOffset: 8, as: UInt32.self)
        transfer.storeBytes(of: UInt(bitPattern: data), toByteOffset: 16, as: UInt.self)
        return try kernel.ioctl(fd, USBFS.bulkTransfer, transfer)
    }

    static func claim(_ kernel: Kernel, fd: Int, interface: UInt32) throws {
        var number = interface
        _ = try withUnsafeMutablePointer(to: &number) { pointer in
            try kernel.ioctl(fd, USBFS.claimInterface, UnsafeMutableRawPointer(pointer))
        }
    }
}

/// One asynchronous usbfs URB (struct usbdevfs_urb) and its buffer; they
/// must stay allocated until reaped.
final class USBFSAsyncURB {
    let urb: UnsafeMutableRawPointer
    let buffer: UnsafeMutableRawPointer
    let length: Int

    init(endpoint: UInt8, length: Int) {
        self.length = length
        urb = UnsafeMutableRawPointer.allocate(byteCount: 56, alignment: 8)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 16)
        urb.initializeMemory(as: UInt8.self, repeating: 0, count: 56)
        urb.storeBytes(of: USBFS.urbTypeBulk, toByteOffset: 0, as: UInt8.self)
        urb.storeBytes(of: endpoint, toByteOffset: 1, as: UInt8.self)
        urb.storeBytes(of: UInt(bitPattern: buffer), toByteOffset: 16, as: UInt.self)
        urb.storeBytes(of: Int32(length), toByteOffset: 24, as: Int32.self)
    }

    var status: Int32 { urb.load(fromByteOffset: 4, as: Int32.self) }
    var actualLength: Int32 { urb.load(fromByteOffset: 28, as: Int32.self) }

    func submit(_ kernel: Kernel, fd: Int) throws {
        try kernel.ioctl(fd, USBFS.submitURB, urb)
    }

    func discard(_ kernel: Kernel, fd: Int) throws {
        try kernel.ioctl(fd, USBFS.discardURB, urb)
    }

    /// Reaps one completed URB without waiting; returns its address, or nil
    /// when none is ready (EAGAIN) or the device is gone with none left (ENODEV).
    static func reapNoDelay(_ kernel: Kernel, fd: Int) throws -> UnsafeMutableRawPointer? {
        var reaped: UnsafeMutableRawPointer?
        do {
            try withUnsafeMutablePointer(to: &reaped) { pointer in
                _ = try kernel.ioctl(fd, USBFS.reapURBNoDelay, UnsafeMutableRawPointer(pointer))
            }
        } catch KernelError.syscall(_, let errno) where errno == .resourceTemporarilyUnavailable || errno == USBErrno.noDevice {
            return nil
        }
        return reaped
    }

    deinit {
        urb.deallocate()
        buffer.deallocate()
    }
}

struct USBTestParameters: Sendable {
    var test: UInt32
    var iterations: UInt32 = 1000
    var length: UInt32 = 1024
    var vary: UInt32 = 1024
    var sglen: UInt32 = 32
}

struct USBTestOutcome {
    /// nil: passed.
    var errno: Errno?
    /// usbtest's own measurement (duration_sec/usec).
    var kernelMicroseconds: Int64
    var hostNanoseconds: UInt64
}

/// Boots nothing: the USB set-up shared by the USB scenarios, given a
/// booted kernel.
struct USBTestBench {
    let kernel: Kernel
    let controller: VirtualHostController

    /// Attaches `device`, waits for its usbfs node (enumeration done and a
    /// configuration chosen), returns the port and node path.
    func attachAndWait(_ device: any USBDevice, seconds: Double = 10) throws -> (port: Int, node: String) {
        let before = Set(existingNodes())
        let port = try controller.attach(device)
        guard let node = USBFS.waitForDeviceNode(kernel, excluding: before, seconds: seconds) else {
            ProbeOutput.fail(
                "no /dev/bus/usb node appeared within \(Int(seconds)) s of attaching on port \(port)\n"
                    + "--- kernel log tail ---\n\(kernel.consoleLog)")
        }
        return (port, node)
    }

    func existingNodes() -> [String] { USBFS.deviceNodes(kernel) }

    /// The speed the kernel runs the device on `port` at (sysfs `speed`, in
    /// Mb/s: 480, 5000), as RESULT `<prefix>speed_mbps` and a log line.
    @discardableResult
    func reportSpeed(port: Int, prefix: String = "device_") throws -> Int {
        try kernel.mountIfNeeded("sysfs", at: "/sys")
        let name = VirtualHostController.deviceName(ofPort: port)
        let text = String(decoding: try kernel.readFile("/sys/bus/usb/devices/\(name)/speed"), as: UTF8.self)
        let speed = Int(text.filter(\.isNumber)) ?? 0
        ProbeOutput.emit("USBDEVICE \(name) on port \(port) at \(speed) Mb/s")
        ProbeOutput.result(["\(prefix)speed_mbps": "\(speed)", "\(prefix)name": name])
        return speed
    }

    /// Waits until usbtest is bound to interface 0 (test 0, NOP, succeeds).
    func waitForUSBTest(fd: Int, seconds: Double = 10) throws {
        var lastError: Errno?
        let bound = waitUntil(seconds: seconds, pollInterval: 0.005) {
            let outcome = try? USBFS.usbtest(kernel, fd: fd, USBTestParameters(test: 0, iterations: 1))
            lastError = outcome?.errno
            return outcome != nil && outcome?.errno == nil
        }
        guard bound else {
            ProbeOutput.fail(
                "usbtest did not bind to gadget zero within \(Int(seconds)) s (last NOP: \(lastError.map { "\($0)" } ?? "?"))\n"
                    + "--- kernel log tail ---\n\(kernel.consoleLog)")
        }
    }

    /// Fails unless the bridge and the kernel agree that nothing is in flight.
    func requireNothingInFlight(_ what: String, seconds: Double = 5) throws {
        var kernelStats = try VirtualHostController.kernelStatistics()
        let settled = waitUntil(seconds: seconds) {
            kernelStats = (try? VirtualHostController.kernelStatistics()) ?? kernelStats
            return kernelStats.inFlight == 0 && controller.pendingCount == 0
        }
        ProbeOutput.result([
            "\(what)_kernel_in_flight": "\(kernelStats.inFlight)",
            "\(what)_bridge_pending": "\(controller.pendingCount)",
        ])
        guard settled else {
            ProbeOutput.fail(
                "\(what): \(kernelStats.inFlight) URB(s) in flight in the kernel, \(controller.pendingCount) pending in the bridge\n"
                    + "--- kernel log tail ---\n\(kernel.consoleLog)")
        }
    }
}
