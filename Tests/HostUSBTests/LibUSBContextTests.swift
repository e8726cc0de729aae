// SPDX-License-Identifier: GPL-2.0-only

import Testing

@testable import HostUSB

@Suite("libusb context on this machine")
struct LibUSBContextTests {
    @Test("without USB, devices() is empty and nothing throws", .enabled(if: !LibUSBContext.machineHasUSB))
    func noUSB() throws {
        let context = try LibUSBContext()
        #expect(!context.isAvailable)
        #expect(try context.devices() == [])
        #expect(try context.devices() == [])  // again: nothing was consumed
        context.close()
        context.close()  // idempotent
    }

    @Test("without USB, opening a device says there is none", .enabled(if: !LibUSBContext.machineHasUSB))
    func openWithoutUSB() throws {
        let context = try LibUSBContext()
        let info = HostUSBDeviceInfo(busNumber: 1, portPath: [2], deviceAddress: 3, vendorID: 0x0bda, productID: 0xb812)
        #expect(throws: HostUSBError.noUSBDevices) { try context.open(info) }
    }

    @Test("with USB, listing works and leaves root hubs out", .enabled(if: LibUSBContext.machineHasUSB))
    func withUSB() throws {
        let context = try LibUSBContext()
        defer { context.close() }
        for device in try context.devices() {
            #expect(!device.portPath.isEmpty)
            #expect(device.location.hasPrefix("\(device.busNumber)-"))
        }
    }

    @Test("error texts name the fix")
    func errorTexts() {
        let permission = HostUSBError.permissionDenied(node: "/dev/bus/usb/001/007", user: "alice").description
        #expect(permission.contains("/dev/bus/usb/001/007"))
        #expect(permission.contains("alice"))
        #expect(permission.contains("packaging/udev/70-airtap.rules"))
        #expect(permission.contains(
            "sudo install -m 644 packaging/udev/70-airtap.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger"))
        #expect(permission.contains("run as root"))
        #expect(HostUSBError.deviceBusy(device: "1-2 0bda:b812", detail: "x").description.contains("1-2 0bda:b812 is busy"))
        #expect(HostUSBError.libusbUnavailable(code: -99).description.contains("LIBUSB_ERROR_OTHER (-99)"))
        #expect(HostUSBError.deviceNotFound("1-2 0bda:b812").description.contains("unplugged"))
        #expect(HostUSBError.libusbFailed(call: "libusb_claim_interface(0)", device: "1-2", code: -6).description
            == "libusb_claim_interface(0) failed for USB device 1-2: LIBUSB_ERROR_BUSY (-6)")
    }
}
