// SPDX-License-Identifier: GPL-2.0-only

import Testing

@testable import HostUSB

@Suite("USB device selectors")
struct USBDeviceSelectorTests {
    private static let realtek = HostUSBDeviceInfo(
        busNumber: 1, portPath: [2], deviceAddress: 5, vendorID: 0x0bda, productID: 0xb812,
        interfaces: [HostUSBInterfaceInfo(number: 0, interfaceClass: 0xff, interfaceSubClass: 0xff, interfaceProtocol: 0xff, hostDriver: "rtw88_8822bu")],
        manufacturer: "Realtek", product: "802.11ac NIC")
    private static let keyboard = HostUSBDeviceInfo(
        busNumber: 1, portPath: [1], deviceAddress: 3, vendorID: 0x046d, productID: 0xc31c,
        interfaces: [HostUSBInterfaceInfo(number: 0, interfaceClass: 3, interfaceSubClass: 1, interfaceProtocol: 1, hostDriver: "usbhid")],
        product: "USB Keyboard")
    private static let behindHub = HostUSBDeviceInfo(
        busNumber: 3, portPath: [2, 3], deviceAddress: 9, vendorID: 0x0bda, productID: 0x8187, speed: .full)
    private static let all = [keyboard, realtek, behindHub]

    @Test("the three accepted forms parse")
    func valid() throws {
        #expect(try USBDeviceSelector.parse("usb") == .firstSupported)
        #expect(try USBDeviceSelector.parse("USB") == .firstSupported)
        #expect(try USBDeviceSelector.parse("usb:0bda:b812") == .ids(vendorID: 0x0bda, productID: 0xb812))
        #expect(try USBDeviceSelector.parse("usb:0BDA:B812") == .ids(vendorID: 0x0bda, productID: 0xb812))
        #expect(try USBDeviceSelector.parse("usb:1-2") == .location(bus: 1, ports: [2]))
        #expect(try USBDeviceSelector.parse("usb:1-2.3") == .location(bus: 1, ports: [2, 3]))
        #expect(try USBDeviceSelector.parse("usb:12-1.4.2") == .location(bus: 12, ports: [1, 4, 2]))
    }

    @Test("descriptions read back as the same selector", arguments: ["usb", "usb:0bda:b812", "usb:1-2", "usb:3-2.3"])
    func roundTrip(text: String) throws {
        let selector = try USBDeviceSelector.parse(text)
        #expect(selector.description == text)
        #expect(try USBDeviceSelector.parse(selector.description) == selector)
    }

    @Test(
        "malformed texts are refused",
        arguments: [
            "", "usb:", "usbx", "sim", "usb:bda:b812", "usb:0bda:b81", "usb:0bda:b8122", "usb:0bdg:b812",
            "usb:0bda", "usb:0bda:b812:1", "usb:1", "usb:1-", "usb:-2", "usb:1-2.", "usb:1-.2", "usb:0-2",
            "usb:1-0", "usb:256-1", "usb:1-256", "usb:1-2.3.4.5.6.7.8.9", "usb:a-2", "usb:1-2-3", "usb: 1-2",
        ])
    func invalid(text: String) {
        #expect(throws: HostUSBError.invalidSelector(text)) { try USBDeviceSelector.parse(text) }
    }

    @Test("the parse error names the text and shows all three forms")
    func errorWording() {
        let text = HostUSBError.invalidSelector("usb:12345").description
        #expect(text.contains("'usb:12345'"))
        #expect(text.contains("usb (the first supported adapter)"))
        #expect(text.contains("usb:VID:PID"))
        #expect(text.contains("usb:0bda:b812"))
        #expect(text.contains("usb:1-2.3"))
    }

    @Test("only texts starting with usb look like selectors")
    func looksLike() {
        #expect(USBDeviceSelector.looksLikeSelector("usb"))
        #expect(USBDeviceSelector.looksLikeSelector("usb:1-2"))
        #expect(!USBDeviceSelector.looksLikeSelector("usbfoo"))
        #expect(!USBDeviceSelector.looksLikeSelector("emulated:rtl8187"))
    }

    @Test("usb picks the first supported device in list order")
    func firstSupported() throws {
        let chosen = try USBDeviceSelector.firstSupported.select(from: Self.all) { $0.vendorID == 0x0bda }
        #expect(chosen == Self.realtek)
        let last = try USBDeviceSelector.firstSupported.select(from: Self.all) { $0.productID == 0x8187 }
        #expect(last == Self.behindHub)
    }

    @Test("usb with nothing supported lists what is present")
    func noneSupported() {
        do {
            _ = try USBDeviceSelector.firstSupported.select(from: Self.all) { _ in false }
            Issue.record("selection should fail")
        } catch {
            guard case .noSupportedDevice(let present) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(present.count == 3)
            let text = error.description
            #expect(text.contains("1-2 0bda:b812 Realtek 802.11ac NIC (driver rtw88_8822bu)"))
            #expect(text.contains("1-1 046d:c31c USB Keyboard (driver usbhid)"))
            #expect(text.contains("3-2.3 0bda:8187"))
        }
    }

    @Test("by IDs and by location, supported or not")
    func explicit() throws {
        let byIDs = try USBDeviceSelector.parse("usb:046d:c31c").select(from: Self.all) { _ in false }
        #expect(byIDs == Self.keyboard)
        let byLocation = try USBDeviceSelector.parse("usb:3-2.3").select(from: Self.all) { _ in false }
        #expect(byLocation == Self.behindHub)
        // 1-2 is not 1-2.x: a prefix is not a match.
        let exact = try USBDeviceSelector.parse("usb:1-2").select(from: Self.all) { _ in false }
        #expect(exact == Self.realtek)
    }

    @Test("no match: the error says what was looked for and what is present")
    func noMatch() {
        #expect(throws: HostUSBError.noMatchingDevice(selector: "usb:2357:0120", present: Self.all.map(\.summary))) {
            try USBDeviceSelector.parse("usb:2357:0120").select(from: Self.all) { _ in true }
        }
        let text = HostUSBError.noMatchingDevice(selector: "usb:1-4", present: [Self.realtek.summary]).description
        #expect(text.contains("usb:1-4"))
        #expect(text.contains("Present: 1-2 0bda:b812"))
    }

    @Test("no USB device at all is its own error, for every selector")
    func nothingPresent() {
        for selector in [USBDeviceSelector.firstSupported, .ids(vendorID: 1, productID: 2), .location(bus: 1, ports: [1])] {
            #expect(throws: HostUSBError.noUSBDevices) { try selector.select(from: []) { _ in true } }
        }
        #expect(HostUSBError.noUSBDevices.description.contains("no USB device is present"))
    }
}
