// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import LinuxKernel
import Synchronization
import SystemPackage
import USBDevices
import USBHost

/// A device that answers GET_DESCRIPTOR from fixed byte strings (however
/// wrong they are) and accepts SET_CONFIGURATION; everything else stalls.
final class ScriptedDescriptorDevice: USBDevice {
    let speed: USBSpeed = .high
    let deviceDescriptor: [UInt8]
    let configurationDescriptor: [UInt8]

    init(device: [UInt8], configuration: [UInt8]) {
        deviceDescriptor = device
        configurationDescriptor = configuration
    }

    func attached(_ link: USBDeviceLink) {}

    func submit(_ request: USBRequest) -> USBSubmitResult {
        guard request.type == .control else { return .refused(USBErrno.noEntry) }
        let setup = request.setup
        func reply(_ data: [UInt8]) -> USBSubmitResult { .completed(request.reply(data)) }
        switch (setup.requestType, setup.request, UInt8(setup.value >> 8)) {
        case (0x80, USBStandardRequest.getDescriptor, USBDescriptorType.device): return reply(deviceDescriptor)
        case (0x80, USBStandardRequest.getDescriptor, USBDescriptorType.configuration): return reply(configurationDescriptor)
        case (0x00, USBStandardRequest.setConfiguration, _): return .completed(.success(actualLength: 0))
        case (0x80, USBStandardRequest.getStatus, _): return reply([1, 0])
        default: return .completed(.stall)
        }
    }

    func cancel(_ handle: UInt64) {}
    func stop() {}
}

/// Malformed descriptors: each case must end in a kernel enumeration
/// error, not a crash, hang or WARN; nothing may stay in flight.
func runUSBBadDescriptors() throws {
    let watchdog = Watchdog(seconds: 120, message: "usb-bad-descriptors scenario")
    defer { watchdog.disarm() }
    let console = ConsoleRecorder()
    let kernel = try Kernel.boot(console: console.sink)
    let controller = VirtualHostController()
    let bench = USBTestBench(kernel: kernel, controller: controller)

    var device = USBDeviceDescriptor(vendorID: 0x1d6b, productID: 0x0bad)
    device.configurationCount = 1
    let goodInterface = USBInterfaceDescriptor(
        number: 0, alternateSetting: 0, interfaceClass: 0xff,
        endpoints: [USBEndpointDescriptor(address: 0x81, type: .bulk, maxPacketSize: 512)])
    let goodConfiguration = USBConfigurationDescriptor(value: 1, interfaces: [goodInterface]).bytes()

    // wTotalLength claims 64 bytes; the device has only its 25.
    var lyingTotal = goodConfiguration
    lyingTotal[2] = 64
    lyingTotal[3] = 0
    // The interface descriptor's bLength is 0.
    var zeroLength = goodConfiguration
    zeroLength[9] = 0
    // ep0 max packet 7: not a size USB allows (8, 16, 32, 64 at high speed).
    var badPacketSize = device.bytes
    badPacketSize[7] = 7

    let cases: [(name: String, device: ScriptedDescriptorDevice, expected: [String])] = [
        ("total_length_lies", ScriptedDescriptorDevice(device: device.bytes, configuration: lyingTotal),
         ["too short", "can't read configurations"]),
        ("zero_blength_interface", ScriptedDescriptorDevice(device: device.bytes, configuration: zeroLength),
         ["invalid descriptor of length 0"]),
        ("bad_ep0_maxpacket", ScriptedDescriptorDevice(device: badPacketSize, configuration: goodConfiguration),
         ["Invalid ep0 maxpacket", "unable to enumerate"]),
    ]
    for testCase in cases {
        let seen = console.lines.count
        let port = try controller.attach(testCase.device)
        var matched: String?
        _ = waitUntil(seconds: 30, pollInterval: 0.01) {
            matched = console.lines.dropFirst(seen).first { line in
                line.contains("usb") && testCase.expected.contains { line.contains($0) }
            }
            return matched != nil
        }
        // Let the hub finish its retries before pulling the device.
        hostSleep(seconds: 0.2)
        try controller.detach(port: port)
        try bench.requireNothingInFlight(testCase.name)
        guard let matched else {
            ProbeOutput.fail(
                "\(testCase.name): no kernel enumeration error containing one of \(testCase.expected)\n"
                    + "--- kernel log since attach ---\n\(console.lines.dropFirst(seen).joined(separator: "\n"))")
        }
        ProbeOutput.result("\(testCase.name)_log", String(KTAPParser.strippingTimestamp(Substring(matched))))
    }
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// Gadget zero that keeps bulk IN URBs, under a product id usbtest does
/// not bind, so usbfs can claim its interface and submit URBs.
private func attachHoldingGadget(_ bench: USBTestBench, speed: USBSpeed = .high) throws -> (GadgetZero, Int, Int) {
    let gadget = GadgetZero(options: .init(productID: 0xa4a1, holdBulkIn: true, speed: speed))
    let (port, node) = try bench.attachAndWait(gadget)
    let fd = try bench.kernel.open(node, flags: .readWrite)
    var interface: UInt32 = 0
    // The generic driver picks the configuration just after the node appears.
    let claimed = waitUntil(seconds: 5, pollInterval: 0.005) {
        (try? bench.kernel.ioctl(fd, USBFS.claimInterface, &interface)) != nil
    }
    guard claimed else { ProbeOutput.fail("could not claim interface 0 of the holding gadget\n\(bench.kernel.consoleLog)") }
    return (gadget, port, fd)
}

private func waitForPending(_ controller: VirtualHostController, port: Int, count: Int) -> [UInt64] {
    var handles: [UInt64] = []
    _ = waitUntil(seconds: 5) {
        handles = controller.pendingHandles(port: port)
        return handles.count >= count
    }
    guard handles.count >= count else {
        ProbeOutput.fail("expected \(count) URB(s) pending on port \(port), the bridge has \(handles.count)")
    }
    return handles
}

private func reapOne(_ kernel: Kernel, fd: Int, _ urb: USBFSAsyncURB) throws -> Int32 {
    var reaped: UnsafeMutableRawPointer?
    _ = waitUntil(seconds: 5) {
        reaped = try? USBFSAsyncURB.reapNoDelay(kernel, fd: fd)
        return reaped != nil
    }
    guard reaped == urb.urb else { ProbeOutput.fail("reaped \(String(describing: reaped)), expected the URB just completed") }
    return urb.status
}

/// Completions a broken host (device model) could make: each must come
/// back as a thrown error (bridge) or -ENOENT (kernel), never a crash.
func runUSBBadHost() throws {
    let watchdog = Watchdog(seconds: 120, message: "usb-bad-host scenario")
    defer { watchdog.disarm() }
    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let controller = VirtualHostController()
    let bench = USBTestBench(kernel: kernel, controller: controller)
    let (_, port, fd) = try attachHoldingGadget(bench)
    let before = try VirtualHostController.kernelStatistics()

    func expectThrow(_ name: String, _ body: () throws(USBHostError) -> Void, matches: (USBHostError) -> Bool) {
        do {
            try body()
            ProbeOutput.fail("\(name): the bridge accepted the completion")
        } catch {
            guard matches(error) else { ProbeOutput.fail("\(name): unexpected error \(error)") }
            ProbeOutput.result("\(name)_error", "\(error)")
        }
    }

    // 1. A completion longer than the buffer.
    let oversize = USBFSAsyncURB(endpoint: 0x81, length: 64)
    try oversize.submit(kernel, fd: fd)
    let oversizeHandle = waitForPending(controller, port: port, count: 1)[0]
    expectThrow("oversize", { () throws(USBHostError) in try controller.complete(oversizeHandle, .success(actualLength: 100)) }) {
        if case .actualLengthExceedsBuffer(_, 100, 64) = $0 { return true } else { return false }
    }
    ProbeOutput.result("oversize_urb_status", try reapOne(kernel, fd: fd, oversize))

    // 2. An unknown handle, through the bridge and straight to the kernel.
    let unknown: UInt64 = 0xdead_beef_0000_0001
    expectThrow("unknown", { () throws(USBHostError) in try controller.complete(unknown, .success(actualLength: 0)) }) {
        if case .unknownRequest = $0 { return true } else { return false }
    }
    ProbeOutput.result("unknown_raw_result", lkl_usb_complete(unknown, 0, 0))

    // 3. Completing an already completed URB again.
    expectThrow("completed_twice", { () throws(USBHostError) in try controller.complete(oversizeHandle, .success(actualLength: 0)) }) {
        if case .alreadyCompleted = $0 { return true } else { return false }
    }
    ProbeOutput.result("completed_twice_raw_result", lkl_usb_complete(oversizeHandle, 0, 0))

    // 4. Completing a cancelled URB (usbfs discard -> cancel -> -ECONNRESET).
    let cancelled = USBFSAsyncURB(endpoint: 0x81, length: 64)
    try cancelled.submit(kernel, fd: fd)
    let cancelledHandle = waitForPending(controller, port: port, count: 1)[0]
    try cancelled.discard(kernel, fd: fd)
    ProbeOutput.result("cancelled_urb_status", try reapOne(kernel, fd: fd, cancelled))
    expectThrow("after_cancel", { () throws(USBHostError) in try controller.complete(cancelledHandle, .success(actualLength: 0)) }) {
        if case .alreadyCompleted = $0 { return true } else { return false }
    }

    // 5. A status that is no errno: the URB ends with -EPROTO.
    let badStatus = USBFSAsyncURB(endpoint: 0x81, length: 64)
    try badStatus.submit(kernel, fd: fd)
    let badStatusHandle = waitForPending(controller, port: port, count: 1)[0]
    expectThrow("bad_status", { () throws(USBHostError) in try controller.complete(badStatusHandle, .failure(Errno(rawValue: 5000))) }) {
        if case .invalidStatus = $0 { return true } else { return false }
    }
    ProbeOutput.result("bad_status_urb_status", try reapOne(kernel, fd: fd, badStatus))

    // 6. Completing after detach.
    let orphan = USBFSAsyncURB(endpoint: 0x81, length: 64)
    try orphan.submit(kernel, fd: fd)
    let orphanHandle = waitForPending(controller, port: port, count: 1)[0]
    try controller.detach(port: port)
    expectThrow("after_detach", { () throws(USBHostError) in try controller.complete(orphanHandle, .success(actualLength: 0)) }) {
        if case .alreadyCompleted = $0 { return true } else { return false }
    }
    ProbeOutput.result("after_detach_raw_result", lkl_usb_complete(orphanHandle, 0, 0))
    ProbeOutput.result("after_detach_urb_status", try reapOne(kernel, fd: fd, orphan))
    expectThrow("detach_twice", { () throws(USBHostError) in try controller.detach(port: port) }) {
        if case .portNotAttached = $0 { return true } else { return false }
    }

    try kernel.close(fd)
    try bench.requireNothingInFlight("final")
    let after = try VirtualHostController.kernelStatistics()
    ProbeOutput.result("kernel_bad_completions", after.badCompletions - before.badCompletions)
    ProbeOutput.result("bridge_rejected_completions", controller.statistics.rejectedCompletions)
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// Detach with 100 URBs in flight (usbfs bulk IN that the device never
/// answers): the bridge completes them with -ESHUTDOWN; the kernel ends
/// with nothing in flight and nothing left for it to force.
func runUSBDetachInFlight(arguments: [String]) throws {
    let parsed = GadgetZeroArguments(arguments)
    let count = parsed.rest.first.flatMap { Int($0) } ?? 100
    let watchdog = Watchdog(seconds: 120, message: "usb-detach-inflight scenario")
    defer { watchdog.disarm() }
    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let controller = VirtualHostController()
    let bench = USBTestBench(kernel: kernel, controller: controller)
    let (gadget, port, fd) = try attachHoldingGadget(bench, speed: parsed.speed)
    ProbeOutput.result("port", port)
    try bench.reportSpeed(port: port)
    let before = try VirtualHostController.kernelStatistics()

    let urbs = (0..<count).map { _ in USBFSAsyncURB(endpoint: 0x81, length: 512) }
    for urb in urbs { try urb.submit(kernel, fd: fd) }
    _ = waitForPending(controller, port: port, count: count)
    let during = try VirtualHostController.kernelStatistics()
    ProbeOutput.result([
        "in_flight_before_detach": "\(during.inFlight)", "gadget_queued": "\(gadget.statistics.queued)",
    ])

    try controller.detach(port: port)

    var statuses: [Int32: Int] = [:]
    var reaped = 0
    _ = waitUntil(seconds: 5) {
        while let address = try? USBFSAsyncURB.reapNoDelay(kernel, fd: fd) {
            if let urb = urbs.first(where: { $0.urb == address }) { statuses[urb.status, default: 0] += 1 }
            reaped += 1
        }
        return reaped >= count
    }
    try kernel.close(fd)
    try bench.requireNothingInFlight("after_detach")
    let after = try VirtualHostController.kernelStatistics()
    ProbeOutput.result([
        "reaped": "\(reaped)",
        "statuses": statuses.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","),
        "forced_at_detach": "\(after.forcedAtDetach - before.forcedAtDetach)",
    ])
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}
