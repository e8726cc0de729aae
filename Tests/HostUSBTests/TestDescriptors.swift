// SPDX-License-Identifier: GPL-2.0-only

import USBHost

/// Hand-built descriptors of a USB 3 Wi-Fi adapter (a Realtek-like layout):
/// interface 0 with bulk IN 0x81, bulk OUT 0x02 and OUT 0x03, interrupt IN
/// 0x84, each followed by its SuperSpeed companion; interface 1 altsetting
/// 1 with an isochronous IN 0x85 and its SuperSpeedPlus iso companion.
enum TestDescriptors {
    static let vendorID: UInt16 = 0x0bda
    static let productID: UInt16 = 0xb832

    static let superSpeedDevice: [UInt8] = [
        18, 1, 0x20, 0x03,  // bcdUSB 3.20
        0, 0, 0, 9,  // class/subclass/protocol, bMaxPacketSize0 = 2^9
        0xda, 0x0b, 0x32, 0xb8,  // 0bda:b832
        0x00, 0x02, 1, 2, 3, 1,  // bcdDevice 2.00, strings, 1 configuration
    ]

    static func endpoint(_ address: UInt8, _ attributes: UInt8, _ maxPacket: UInt16, interval: UInt8 = 0) -> [UInt8] {
        [7, 5, address, attributes, UInt8(maxPacket & 0xff), UInt8(maxPacket >> 8), interval]
    }

    static func companion(burst: UInt8 = 3) -> [UInt8] { [6, 0x30, burst, 0, 0, 0] }

    static let superSpeedConfigurationBody: [UInt8] =
        [9, 4, 0, 0, 4, 0xff, 0xff, 0xff, 0]  // interface 0 alt 0, 4 endpoints, vendor
        + endpoint(0x81, 2, 1024) + companion()
        + endpoint(0x02, 2, 1024) + companion()
        + endpoint(0x03, 2, 1024) + companion()
        + endpoint(0x84, 3, 64, interval: 4) + [6, 0x30, 0, 0, 64, 0]
        + [9, 4, 1, 0, 0, 0xff, 0, 0, 0]  // interface 1 alt 0, no endpoints
        + [9, 4, 1, 1, 1, 0xff, 0, 0, 0]  // interface 1 alt 1, iso IN
        + endpoint(0x85, 1, 1024, interval: 1) + [6, 0x30, 15, 0x80, 0, 0x40] + [8, 0x31, 0, 0, 0, 0, 1, 0]

    static var superSpeedConfiguration: [UInt8] {
        let total = 9 + superSpeedConfigurationBody.count
        return [9, 2, UInt8(total & 0xff), UInt8(total >> 8), 2, 1, 0, 0x80, 250] + superSpeedConfigurationBody
    }

    /// A high-speed device of the same layout, without companions.
    static var highSpeedDevice: USBDeviceDescriptor {
        var device = USBDeviceDescriptor(vendorID: vendorID, productID: productID)
        device.usbVersion = 0x0200
        return device
    }

    static var highSpeedConfiguration: USBConfigurationDescriptor {
        USBConfigurationDescriptor(
            value: 1,
            interfaces: [
                USBInterfaceDescriptor(
                    number: 0, alternateSetting: 0, interfaceClass: 0xff,
                    endpoints: [
                        USBEndpointDescriptor(address: 0x81, type: .bulk, maxPacketSize: 512),
                        USBEndpointDescriptor(address: 0x02, type: .bulk, maxPacketSize: 512),
                        USBEndpointDescriptor(address: 0x84, type: .interrupt, maxPacketSize: 64, interval: 4),
                    ]),
                USBInterfaceDescriptor(number: 1, alternateSetting: 0, interfaceClass: 0xff, endpoints: []),
            ])
    }
}
