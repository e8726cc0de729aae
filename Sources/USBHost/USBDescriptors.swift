// SPDX-License-Identifier: GPL-2.0-only

/// Descriptor types (USB 2.0 table 9-5).
public enum USBDescriptorType {
    public static let device: UInt8 = 1
    public static let configuration: UInt8 = 2
    public static let string: UInt8 = 3
    public static let interface: UInt8 = 4
    public static let endpoint: UInt8 = 5
    public static let deviceQualifier: UInt8 = 6
    public static let otherSpeedConfiguration: UInt8 = 7
    public static let bos: UInt8 = 15
}

/// Standard device descriptor (18 bytes).
public struct USBDeviceDescriptor: Sendable, Hashable {
    public var usbVersion: UInt16 = 0x0200
    public var deviceClass: UInt8 = 0
    public var deviceSubClass: UInt8 = 0
    public var deviceProtocol: UInt8 = 0
    public var maxPacketSize0: UInt8 = 64
    public var vendorID: UInt16
    public var productID: UInt16
    public var deviceVersion: UInt16 = 0x0100
    public var manufacturerIndex: UInt8 = 0
    public var productIndex: UInt8 = 0
    public var serialNumberIndex: UInt8 = 0
    public var configurationCount: UInt8 = 1

    public init(vendorID: UInt16, productID: UInt16) {
        self.vendorID = vendorID
        self.productID = productID
    }

    public var bytes: [UInt8] {
        var bytes: [UInt8] = [18, USBDescriptorType.device]
        bytes.appendLittleEndian(usbVersion)
        bytes += [deviceClass, deviceSubClass, deviceProtocol, maxPacketSize0]
        bytes.appendLittleEndian(vendorID)
        bytes.appendLittleEndian(productID)
        bytes.appendLittleEndian(deviceVersion)
        bytes += [manufacturerIndex, productIndex, serialNumberIndex, configurationCount]
        return bytes
    }

    /// The device qualifier (10 bytes): what the device would report at the
    /// other speed (USB 2.0 §9.6.2).
    public func qualifierBytes(maxPacketSize0AtOtherSpeed: UInt8 = 64) -> [UInt8] {
        var bytes: [UInt8] = [10, USBDescriptorType.deviceQualifier]
        bytes.appendLittleEndian(usbVersion)
        bytes += [deviceClass, deviceSubClass, deviceProtocol, maxPacketSize0AtOtherSpeed, configurationCount, 0]
        return bytes
    }
}

/// One endpoint descriptor (7 bytes).
public struct USBEndpointDescriptor: Sendable, Hashable {
    /// Number | 0x80 for IN.
    public var address: UInt8
    public var type: USBTransferType
    public var maxPacketSize: UInt16
    /// Raw bInterval (its meaning depends on type and speed).
    public var interval: UInt8

    public init(address: UInt8, type: USBTransferType, maxPacketSize: UInt16, interval: UInt8 = 0) {
        self.address = address
        self.type = type
        self.maxPacketSize = maxPacketSize
        self.interval = interval
    }

    public var bytes: [UInt8] {
        var bytes: [UInt8] = [7, USBDescriptorType.endpoint, address, type.rawValue]
        bytes.appendLittleEndian(maxPacketSize)
        bytes.append(interval)
        return bytes
    }
}

/// One interface altsetting with its endpoints.
public struct USBInterfaceDescriptor: Sendable, Hashable {
    public var number: UInt8
    public var alternateSetting: UInt8
    public var interfaceClass: UInt8
    public var interfaceSubClass: UInt8 = 0
    public var interfaceProtocol: UInt8 = 0
    public var stringIndex: UInt8 = 0
    public var endpoints: [USBEndpointDescriptor]

    public init(
        number: UInt8, alternateSetting: UInt8, interfaceClass: UInt8, stringIndex: UInt8 = 0,
        endpoints: [USBEndpointDescriptor]
    ) {
        self.number = number
        self.alternateSetting = alternateSetting
        self.interfaceClass = interfaceClass
        self.stringIndex = stringIndex
        self.endpoints = endpoints
    }

    public var bytes: [UInt8] {
        var bytes: [UInt8] = [
            9, USBDescriptorType.interface, number, alternateSetting, UInt8(endpoints.count),
            interfaceClass, interfaceSubClass, interfaceProtocol, stringIndex,
        ]
        for endpoint in endpoints { bytes += endpoint.bytes }
        return bytes
    }
}

/// A configuration: its descriptor followed by every interface altsetting.
public struct USBConfigurationDescriptor: Sendable, Hashable {
    public var value: UInt8
    public var stringIndex: UInt8 = 0
    /// bmAttributes: 0x80 (must be set) | 0x40 self-powered | 0x20 remote wakeup.
    public var attributes: UInt8 = 0xc0
    /// In 2 mA units.
    public var maxPower: UInt8 = 1
    /// All altsettings of all interfaces, in order.
    public var interfaces: [USBInterfaceDescriptor]

    public init(value: UInt8, stringIndex: UInt8 = 0, attributes: UInt8 = 0xc0, maxPower: UInt8 = 1, interfaces: [USBInterfaceDescriptor]) {
        self.value = value
        self.stringIndex = stringIndex
        self.attributes = attributes
        self.maxPower = maxPower
        self.interfaces = interfaces
    }

    /// Number of distinct interfaces (not altsettings).
    public var interfaceCount: Int { Set(interfaces.map(\.number)).count }

    /// `descriptorType` is `configuration`, or `otherSpeedConfiguration`
    /// for the same layout at the other speed.
    public func bytes(descriptorType: UInt8 = USBDescriptorType.configuration) -> [UInt8] {
        let body = interfaces.flatMap(\.bytes)
        var bytes: [UInt8] = [9, descriptorType]
        bytes.appendLittleEndian(UInt16(9 + body.count))
        bytes += [UInt8(interfaceCount), value, stringIndex, attributes, maxPower]
        return bytes + body
    }

    /// The endpoints of one altsetting, or nil if there is no such altsetting.
    public func endpoints(interface: UInt8, alternateSetting: UInt8) -> [USBEndpointDescriptor]? {
        interfaces.first { $0.number == interface && $0.alternateSetting == alternateSetting }?.endpoints
    }
}

/// String descriptors.
public enum USBStringDescriptor {
    /// String 0: the supported language IDs.
    public static func languages(_ ids: [UInt16] = [0x0409]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(2 + 2 * ids.count), USBDescriptorType.string]
        for id in ids { bytes.appendLittleEndian(id) }
        return bytes
    }

    /// A UTF-16LE string (at most 126 code units, the descriptor's limit).
    public static func text(_ string: String) -> [UInt8] {
        let units = Array(string.utf16.prefix(126))
        var bytes: [UInt8] = [UInt8(2 + 2 * units.count), USBDescriptorType.string]
        for unit in units { bytes.appendLittleEndian(unit) }
        return bytes
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
