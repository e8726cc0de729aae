// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing
import USBHost

@testable import HostUSB

@Suite("host USB device descriptions")
struct HostUSBDeviceInfoTests {
    @Test("location is named like sysfs: bus-port.port")
    func location() {
        #expect(HostUSBDeviceInfo.location(bus: 1, ports: [2]) == "1-2")
        #expect(HostUSBDeviceInfo.location(bus: 1, ports: [2, 3]) == "1-2.3")
        #expect(HostUSBDeviceInfo.location(bus: 10, ports: [1, 4, 12]) == "10-1.4.12")
        #expect(HostUSBDeviceInfo.location(bus: 2, ports: []) == "usb2")
        let info = HostUSBDeviceInfo(busNumber: 3, portPath: [1, 2], deviceAddress: 7, vendorID: 0x0bda, productID: 0xb812)
        #expect(info.location == "3-1.2")
    }

    @Test("ID text and usbfs node are zero-padded")
    func formatting() {
        let info = HostUSBDeviceInfo(busNumber: 1, portPath: [2], deviceAddress: 7, vendorID: 0x0bda, productID: 0xb812)
        #expect(info.idText == "0bda:b812")
        #expect(info.nodePath == "/dev/bus/usb/001/007")
        let other = HostUSBDeviceInfo(busNumber: 12, portPath: [2], deviceAddress: 127, vendorID: 0x1, productID: 0xabc)
        #expect(other.idText == "0001:0abc")
        #expect(other.nodePath == "/dev/bus/usb/012/127")
    }

    @Test("speeds: libusb values, and the speed the virtual controller presents")
    func speeds() {
        #expect((0...6).map { HostUSBSpeed(libUSBSpeed: $0) } == [.unknown, .low, .full, .high, .super, .superPlus, .superPlus])
        #expect(HostUSBSpeed.low.presentedSpeed == .low)
        #expect(HostUSBSpeed.full.presentedSpeed == .full)
        #expect(HostUSBSpeed.high.presentedSpeed == .high)
        #expect(HostUSBSpeed.unknown.presentedSpeed == .high)
        #expect(HostUSBSpeed.super.presentedSpeed == .super)
        #expect(HostUSBSpeed.superPlus.presentedSpeed == .super, "the SuperSpeed root hub runs at 5 Gb/s")
        #expect(HostUSBSpeed.super.isSuperSpeed && !HostUSBSpeed.high.isSuperSpeed)
    }

    @Test("summary: location, IDs, names and host drivers without repeats")
    func summary() {
        var info = HostUSBDeviceInfo(busNumber: 1, portPath: [2], deviceAddress: 7, vendorID: 0x0bda, productID: 0xb812)
        #expect(info.summary == "1-2 0bda:b812")
        info.manufacturer = "Realtek"
        info.product = "802.11ac NIC"
        info.interfaces = [
            HostUSBInterfaceInfo(number: 0, interfaceClass: 0xff, interfaceSubClass: 0, interfaceProtocol: 0, hostDriver: "rtw88_8822bu"),
            HostUSBInterfaceInfo(number: 1, interfaceClass: 0xff, interfaceSubClass: 0, interfaceProtocol: 0, hostDriver: "rtw88_8822bu"),
            HostUSBInterfaceInfo(number: 2, interfaceClass: 0xe0, interfaceSubClass: 1, interfaceProtocol: 1, hostDriver: "btusb"),
        ]
        #expect(info.hostDrivers == ["rtw88_8822bu", "btusb"])
        #expect(info.summary == "1-2 0bda:b812 Realtek 802.11ac NIC (driver rtw88_8822bu, btusb)")
    }

    @Test("Codable round trip keeps every field")
    func codable() throws {
        let info = HostUSBDeviceInfo(
            busNumber: 2, portPath: [1, 3], deviceAddress: 4, vendorID: 0x2357, productID: 0x0120, deviceVersion: 0x0200,
            deviceClass: 0xef, deviceSubClass: 2, deviceProtocol: 1, activeConfiguration: 1,
            interfaces: [HostUSBInterfaceInfo(number: 0, interfaceClass: 0xff, interfaceSubClass: 0xff, interfaceProtocol: 0xff)],
            manufacturer: "TP-Link", product: nil, serialNumber: "00e04c000001", speed: .super,
            access: .denied("permission denied"))
        let decoded = try JSONDecoder().decode(HostUSBDeviceInfo.self, from: JSONEncoder().encode(info))
        #expect(decoded == info)
        #expect(!decoded.access.isGranted)
    }

    @Test("sysfs: strings without newline, nil when absent, interface driver from the symlink")
    func sysfs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hostusb-sysfs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: root) }
        let device = root.appendingPathComponent("1-2.3")
        try FileManager.default.createDirectory(at: device, withIntermediateDirectories: true)
        try "Realtek\n".write(to: device.appendingPathComponent("manufacturer"), atomically: true, encoding: .utf8)
        try "802.11ac NIC\n".write(to: device.appendingPathComponent("product"), atomically: true, encoding: .utf8)
        try "\n".write(to: device.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
        let interface = root.appendingPathComponent("1-2.3:1.0")
        try FileManager.default.createDirectory(at: interface, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: interface.appendingPathComponent("driver").path,
            withDestinationPath: "../../../../bus/usb/drivers/rtw88_8822bu")

        let sysfs = USBSysfs(devicesDirectory: root.path)
        #expect(sysfs.attribute("manufacturer", location: "1-2.3") == "Realtek")
        #expect(sysfs.attribute("product", location: "1-2.3") == "802.11ac NIC")
        #expect(sysfs.attribute("serial", location: "1-2.3") == nil)  // empty
        #expect(sysfs.attribute("manufacturer", location: "1-4") == nil)  // no such device
        #expect(sysfs.interfaceDriver(location: "1-2.3", configuration: 1, interface: 0) == "rtw88_8822bu")
        #expect(sysfs.interfaceDriver(location: "1-2.3", configuration: 1, interface: 1) == nil)
    }

    @Test("access: a missing node is denied with the reason")
    func access() {
        let result = HostAccessCheck.check(nodePath: "/dev/bus/usb/250/250")
        guard case .denied(let reason) = result else {
            Issue.record("a missing node cannot be accessible")
            return
        }
        #expect(reason.contains("/dev/bus/usb/250/250"))
        #expect(HostAccessCheck.check(nodePath: "/dev/null") == .granted)
    }
}
