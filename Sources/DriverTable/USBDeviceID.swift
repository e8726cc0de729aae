// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// One entry of a driver's USB ID table (`struct usb_device_id`), as the
/// kernel library lists it in /proc/lkl/usb_id_table.
public struct USBDeviceID: Sendable, Hashable, Codable {
    /// `USB_DEVICE_ID_MATCH_*`: which of the fields below take part.
    public struct MatchFlags: OptionSet, Sendable, Hashable, Codable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let vendor = MatchFlags(rawValue: 0x0001)
        public static let product = MatchFlags(rawValue: 0x0002)
        public static let deviceLow = MatchFlags(rawValue: 0x0004)
        public static let deviceHigh = MatchFlags(rawValue: 0x0008)
        public static let deviceClass = MatchFlags(rawValue: 0x0010)
        public static let deviceSubclass = MatchFlags(rawValue: 0x0020)
        public static let deviceProtocol = MatchFlags(rawValue: 0x0040)
        public static let interfaceClass = MatchFlags(rawValue: 0x0080)
        public static let interfaceSubclass = MatchFlags(rawValue: 0x0100)
        public static let interfaceProtocol = MatchFlags(rawValue: 0x0200)
        public static let interfaceNumber = MatchFlags(rawValue: 0x0400)

        /// `USB_DEVICE_ID_MATCH_INT_INFO`.
        public static let interfaceInfo: MatchFlags = [.interfaceClass, .interfaceSubclass, .interfaceProtocol]
    }

    public var flags: MatchFlags
    public var vendorID: UInt16
    public var productID: UInt16
    public var bcdDeviceLow: UInt16
    public var bcdDeviceHigh: UInt16
    public var deviceClass: UInt8
    public var deviceSubclass: UInt8
    public var deviceProtocol: UInt8
    public var interfaceClass: UInt8
    public var interfaceSubclass: UInt8
    public var interfaceProtocol: UInt8
    public var interfaceNumber: UInt8

    public init(
        flags: MatchFlags, vendorID: UInt16 = 0, productID: UInt16 = 0, bcdDeviceLow: UInt16 = 0,
        bcdDeviceHigh: UInt16 = 0, deviceClass: UInt8 = 0, deviceSubclass: UInt8 = 0, deviceProtocol: UInt8 = 0,
        interfaceClass: UInt8 = 0, interfaceSubclass: UInt8 = 0, interfaceProtocol: UInt8 = 0, interfaceNumber: UInt8 = 0
    ) {
        self.flags = flags
        self.vendorID = vendorID
        self.productID = productID
        self.bcdDeviceLow = bcdDeviceLow
        self.bcdDeviceHigh = bcdDeviceHigh
        self.deviceClass = deviceClass
        self.deviceSubclass = deviceSubclass
        self.deviceProtocol = deviceProtocol
        self.interfaceClass = interfaceClass
        self.interfaceSubclass = interfaceSubclass
        self.interfaceProtocol = interfaceProtocol
        self.interfaceNumber = interfaceNumber
    }

    /// The entry names one product (vendor and product both matched).
    public var isProductEntry: Bool { flags.isSuperset(of: [.vendor, .product]) }

    /// `usb_match_device`: the device-level fields.
    public func matchesDevice(_ device: USBDeviceIdentity) -> Bool {
        if flags.contains(.vendor) && vendorID != device.vendorID { return false }
        if flags.contains(.product) && productID != device.productID { return false }
        if flags.contains(.deviceLow) && bcdDeviceLow > device.bcdDevice { return false }
        if flags.contains(.deviceHigh) && bcdDeviceHigh < device.bcdDevice { return false }
        if flags.contains(.deviceClass) && deviceClass != device.deviceClass { return false }
        if flags.contains(.deviceSubclass) && deviceSubclass != device.deviceSubclass { return false }
        if flags.contains(.deviceProtocol) && deviceProtocol != device.deviceProtocol { return false }
        return true
    }

    /// `usb_match_one_id`: the device and one of its interfaces.
    public func matches(_ device: USBDeviceIdentity, interface: USBInterfaceIdentity) -> Bool {
        guard matchesDevice(device) else { return false }
        // Interface fields never decide for a vendor-specific device unless
        // the entry also names the vendor (drivers/usb/core/driver.c).
        if device.deviceClass == USBDeviceIdentity.vendorSpecificClass && !flags.contains(.vendor)
            && !flags.isDisjoint(with: [.interfaceInfo, .interfaceNumber])
        {
            return false
        }
        if flags.contains(.interfaceClass) && interfaceClass != interface.interfaceClass { return false }
        if flags.contains(.interfaceSubclass) && interfaceSubclass != interface.interfaceSubclass { return false }
        if flags.contains(.interfaceProtocol) && interfaceProtocol != interface.interfaceProtocol { return false }
        if flags.contains(.interfaceNumber) && interfaceNumber != interface.number { return false }
        return true
    }

    /// Whether this entry makes the driver take the device. An entry that
    /// matches on no field at all (usbtest's "generic" one) matches every
    /// device in the USB core, but its probe accepts only what module
    /// parameters name: it predicts nothing.
    public func selects(_ device: USBDeviceIdentity, interface: USBInterfaceIdentity) -> Bool {
        !flags.isEmpty && matches(device, interface: interface)
    }

    /// The entry in modules.alias notation ("usb:v0BDApB812d*dc*dsc*dp*ic*isc*ip*in*").
    public var modalias: String {
        func field(_ flag: MatchFlags, _ value: some BinaryInteger, _ digits: Int) -> String {
            flags.contains(flag) ? hexString(value, digits: digits).uppercased() : "*"
        }
        var bcd = "*"
        if flags.contains(.deviceLow) && flags.contains(.deviceHigh) && bcdDeviceLow == bcdDeviceHigh {
            bcd = hexString(bcdDeviceLow, digits: 4).uppercased()
        }
        return "usb:v\(field(.vendor, vendorID, 4))p\(field(.product, productID, 4))d\(bcd)"
            + "dc\(field(.deviceClass, deviceClass, 2))dsc\(field(.deviceSubclass, deviceSubclass, 2))"
            + "dp\(field(.deviceProtocol, deviceProtocol, 2))ic\(field(.interfaceClass, interfaceClass, 2))"
            + "isc\(field(.interfaceSubclass, interfaceSubclass, 2))ip\(field(.interfaceProtocol, interfaceProtocol, 2))"
            + "in\(field(.interfaceNumber, interfaceNumber, 2))"
    }
}

/// What ID matching looks at in a device: its device descriptor fields and
/// its interfaces (alternate setting 0 of the active configuration).
public struct USBDeviceIdentity: Sendable, Hashable, Codable {
    /// `USB_CLASS_VENDOR_SPEC`.
    public static let vendorSpecificClass: UInt8 = 0xFF

    public var vendorID: UInt16
    public var productID: UInt16
    public var bcdDevice: UInt16
    public var deviceClass: UInt8
    public var deviceSubclass: UInt8
    public var deviceProtocol: UInt8
    public var interfaces: [USBInterfaceIdentity]

    public init(
        vendorID: UInt16, productID: UInt16, bcdDevice: UInt16 = 0, deviceClass: UInt8 = 0, deviceSubclass: UInt8 = 0,
        deviceProtocol: UInt8 = 0, interfaces: [USBInterfaceIdentity] = []
    ) {
        self.vendorID = vendorID
        self.productID = productID
        self.bcdDevice = bcdDevice
        self.deviceClass = deviceClass
        self.deviceSubclass = deviceSubclass
        self.deviceProtocol = deviceProtocol
        self.interfaces = interfaces
    }
}

public struct USBInterfaceIdentity: Sendable, Hashable, Codable {
    public var number: UInt8
    public var interfaceClass: UInt8
    public var interfaceSubclass: UInt8
    public var interfaceProtocol: UInt8

    public init(number: UInt8, interfaceClass: UInt8, interfaceSubclass: UInt8 = 0, interfaceProtocol: UInt8 = 0) {
        self.number = number
        self.interfaceClass = interfaceClass
        self.interfaceSubclass = interfaceSubclass
        self.interfaceProtocol = interfaceProtocol
    }
}

