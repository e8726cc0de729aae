// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import USBDevices
import USBHost

/// usb-ports: how attach numbers ports across the two root hubs. A
/// high-speed, a SuperSpeed and a high-speed gadget zero take connectors
/// 1, 2 and 3 (ports 1, 10, 3); a port reset of the SuperSpeed one
/// (USBDEVFS_RESET) re-enumerates it at SuperSpeed and usbtest binds again;
/// with every device gone, eight SuperSpeed devices fill ports 9...16, a
/// ninth device finds no connector (EBUSY), and once one SuperSpeed port is
/// detached its connector takes a high-speed device on its USB 2.0 port.
func runUSBPorts() throws {
    let watchdog = Watchdog(seconds: 120, message: "usb-ports scenario")
    defer { watchdog.disarm() }
    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let controller = VirtualHostController()
    let bench = USBTestBench(kernel: kernel, controller: controller)
    // The controller comes up with the first device, not at boot.
    try kernel.mountIfNeeded("sysfs", at: "/sys")
    func buses() -> String {
        let names = (try? kernel.directoryEntries(atPath: "/sys/bus/usb/devices").map(\.name)) ?? []
        return names.filter { $0.hasPrefix("usb") }.sorted().joined(separator: ",")
    }
    ProbeOutput.result("buses_at_boot", buses().isEmpty ? "none" : buses())
    ProbeOutput.result("submitted_at_boot", try VirtualHostController.kernelStatistics().submitted)

    // Devices usbtest does not bind (product 0xa4a1) except the SuperSpeed one.
    func gadget(_ speed: USBSpeed, productID: UInt16 = 0xa4a1) -> GadgetZero {
        GadgetZero(options: .init(productID: productID, speed: speed))
    }
    var mixed: [Int] = []
    var superNode = ""
    for (speed, productID) in [(USBSpeed.high, UInt16(0xa4a1)), (.super, 0xa4a0), (.high, 0xa4a1)] {
        let (port, node) = try bench.attachAndWait(gadget(speed, productID: productID))
        mixed.append(port)
        if mixed.count == 1 { ProbeOutput.result("buses_after_attach", buses()) }
        if speed == .super { superNode = node }
        try bench.reportSpeed(port: port, prefix: "port\(port)_")
    }
    ProbeOutput.result("mixed_ports", mixed.map(String.init).joined(separator: ","))

    // A driver's usb_reset_device on a SuperSpeed port: a hot reset, then
    // the core checks the descriptors are unchanged and rebinds usbtest.
    let superPort = mixed[1]
    let fd = try kernel.open(superNode, flags: .readWrite)
    try bench.waitForUSBTest(fd: fd)
    let reset = Result { try kernel.ioctl(fd, USBFS.resetDevice, nil) }
    ProbeOutput.result("reset_result", (try? reset.get()).map { "\($0)" } ?? "\(reset)")
    try bench.waitForUSBTest(fd: fd)
    let control = try USBFS.usbtest(kernel, fd: fd, USBTestParameters(test: 10, iterations: 10))
    ProbeOutput.result("after_reset_test10", control.errno.map { "errno \($0.rawValue)" } ?? "pass")
    try bench.reportSpeed(port: superPort, prefix: "after_reset_")
    try kernel.close(fd)

    for port in mixed { try controller.detach(port: port) }
    try bench.requireNothingInFlight("after_mixed")

    var superPorts: [Int] = []
    for _ in 0..<VirtualHostController.portCount {
        superPorts.append(try bench.attachAndWait(gadget(.super)).port)
    }
    ProbeOutput.result("super_ports", superPorts.map(String.init).joined(separator: ","))
    for (name, speed) in [("ninth_super", USBSpeed.super), ("ninth_high", .high)] {
        ProbeOutput.result("\(name)_attach", attachOutcome(controller, gadget(speed)))
    }
    let freed = superPorts[3]
    try controller.detach(port: freed)
    let (highPort, _) = try bench.attachAndWait(gadget(.high))
    ProbeOutput.result(["freed_port": "\(freed)", "high_after_free": "\(highPort)"])
    try bench.reportSpeed(port: highPort, prefix: "high_after_free_")

    for port in controller.attachedPorts { try controller.detach(port: port) }
    try bench.requireNothingInFlight("after_all")
    ProbeOutput.result("attached_at_end", controller.attachedPorts.count)
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// "port N", or "errno E" when attach fails.
private func attachOutcome(_ controller: VirtualHostController, _ device: any USBDevice) -> String {
    let result = Result { () throws(USBHostError) -> Int in try controller.attach(device) }
    switch result {
    case .success(let port): return "port \(port)"
    case .failure(.attachFailed(let errno)): return "errno \(errno.rawValue)"
    case .failure(let error): return "\(error)"
    }
}
