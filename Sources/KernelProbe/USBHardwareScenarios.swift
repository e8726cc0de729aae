// SPDX-License-Identifier: GPL-2.0-only

import DriverTable
import HostUSB
import LinuxKernel
import USBHost

/// `make hwtest`'s USB part, for anyone with a real adapter: the device
/// goes through libusb into the virtual host controller, its Wi-Fi driver
/// binds, then its interfaces are handed to usbtest, whose chapter 9
/// control tests (9: standard requests, 10: queued control messaging) any
/// device must pass. Every completion comes from libusb's event thread.
func runUSBHardwareTest(selectorText: String) throws {
    let watchdog = Watchdog(seconds: 300, message: "usb-hw scenario")
    defer { watchdog.disarm() }

    let selector = try USBDeviceSelector.parse(selectorText.isEmpty ? "usb" : selectorText)
    let context = try LibUSBContext()
    defer { context.close() }
    // `usb` means the first device that is not a hub here: the driver table
    // needs the kernel, and usbtest needs the device's IDs at boot.
    let device = try selector.select(from: try context.devices()) { $0.deviceClass != 0x09 }
    ProbeOutput.result(["device": device.summary, "location": device.location, "speed": device.speed.text])

    let kernel = try Kernel.boot(
        memoryMiB: 128,
        commandLine: "mac80211_hwsim.radios=0 usbtest.vendor=0x\(hexString(device.vendorID, digits: 4)) usbtest.product=0x\(hexString(device.productID, digits: 4))")
    try USBFS.mountDevices(kernel)
    try kernel.mountIfNeeded("sysfs", at: "/sys")
    let table = try DriverTable.load(from: kernel)
    let driver = table.wirelessDriver(for: device.identity)
    ProbeOutput.result("wifi_driver", driver?.module ?? "none")

    let controller = VirtualHostController()
    let adapter = try context.open(device)
    let bench = USBTestBench(kernel: kernel, controller: controller)
    let (port, node) = try bench.attachAndWait(adapter, seconds: 30)
    ProbeOutput.result(["port": "\(port)", "node": node])
    try bench.reportSpeed(port: port)

    // Hand every interface to usbtest (its generic entry takes the
    // vendor/product given at boot).
    let usbDevice = VirtualHostController.deviceName(ofPort: port)
    let interfaces = try kernel.directoryEntries(atPath: "/sys/bus/usb/devices").map(\.name)
        .filter { $0.hasPrefix(usbDevice + ":") }.sorted()
    for interface in interfaces {
        let bound = try? kernel.readFile("/sys/bus/usb/devices/\(interface)/uevent")
        if let text = bound.map({ String(decoding: $0, as: UTF8.self) }), let line = text.split(separator: "\n").first(where: { $0.hasPrefix("DRIVER=") }) {
            let name = line.dropFirst("DRIVER=".count)
            try kernel.writeFile("/sys/bus/usb/drivers/\(name)/unbind", Array(interface.utf8))
            ProbeOutput.result("unbound_\(interface)", String(name))
        }
        try? kernel.writeFile("/sys/bus/usb/drivers/usbtest/bind", Array(interface.utf8))
    }
    let fd = try kernel.open(node, flags: .readWrite)
    try bench.waitForUSBTest(fd: fd)

    var failures = 0
    for parameters in [USBTestParameters(test: 9, iterations: 100), USBTestParameters(test: 10, iterations: 100)] {
        let outcome = try USBFS.usbtest(kernel, fd: fd, parameters)
        let result = outcome.errno.map { "fail(errno \($0.rawValue) \($0))" } ?? "pass"
        if outcome.errno != nil { failures += 1 }
        ProbeOutput.emit("USBTEST test=\(parameters.test) iterations=\(parameters.iterations) result=\(result) duration_us=\(outcome.kernelMicroseconds)")
    }
    let statistics = adapter.statistics
    ProbeOutput.result([
        "usbtest_failures": "\(failures)",
        "libusb_transfers": "\(statistics.transfersSubmitted)",
        "descriptors_from_cache": "\(statistics.descriptorsFromCache)",
    ])
    try kernel.close(fd)
    try bench.requireNothingInFlight("after_tests")
    try controller.detach(port: port)
    adapter.close()
    try kernel.halt()
    if failures > 0 { ProbeOutput.fail("\(failures) usbtest case(s) failed on \(device.summary)") }
    ProbeOutput.result("halted", 1)
}

