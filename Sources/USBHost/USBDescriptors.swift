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
    /// A capability inside the BOS (USB 3.2 table 9-6).
    public static let deviceCapability: UInt8 = 16
    /// Follows each endpoint descriptor of a SuperSpeed configuration.
    public static let superSpeedEndpointCompanion: UInt8 = 48
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

/// One endpoint descriptor (7 bytes), with its SuperSpeed companion if it has one.
public struct USBEndpointDescriptor: Sendable, Hashable {
    /// Number | 0x80 for IN.
    public var address: UInt8
    public var type: USBTransferType
    public var maxPacketSize: UInt16
    /// Raw bInterval (its meaning depends on type and speed).
    public var interval: UInt8
    /// Every endpoint of a SuperSpeed configuration has one, right after it.
    public var companion: USBSuperSpeedEndpointCompanion?

    public init(
        address: UInt8, type: USBTransferType, maxPacketSize: UInt16, interval: UInt8 = 0,
        companion: USBSuperSpeedEndpointCompanion? = nil
    ) {
        self.address = address
        self.type = type
        self.maxPacketSize = maxPacketSize
        self.interval = interval
        self.companion = companion
    }

    public var bytes: [UInt8] {
        var bytes: [UInt8] = [7, USBDescriptorType.endpoint, address, type.rawValue]
        bytes.appendLittleEndian(maxPacketSize)
        bytes.append(interval)
        return bytes + (companion?.bytes ?? [])
    }
}

/// SuperSpeed endpoint companion (6 bytes, USB 3.2 §9.6.7): how many
/// packets the endpoint moves per burst, and per service interval.
public struct USBSuperSpeedEndpointCompanion: Sendable, Hashable {
    /// Packets per burst minus one (0...15).
    public var maxBurst: UInt8
    /// Bulk: log2 of the streams; isochronous: Mult (bursts per interval minus one).
    public var attributes: UInt8
    /// Periodic endpoints: bytes moved per service interval; 0 for bulk.
    public var bytesPerInterval: UInt16

    public init(maxBurst: UInt8 = 0, attributes: UInt8 = 0, bytesPerInterval: UInt16 = 0) {
        self.maxBurst = maxBurst
        self.attributes = attributes
        self.bytesPerInterval = bytesPerInterval
    }

    public var bytes: [UInt8] {
        var bytes: [UInt8] = [6, USBDescriptorType.superSpeedEndpointCompanion, maxBurst, attributes]
        bytes.appendLittleEndian(bytesPerInterval)
        return bytes
    }
}

/// One device capability of a BOS descriptor (USB 3.2 §9.6.2).
public enum USBDeviceCapability: Sendable, Hashable {
    /// USB 2.0 extension (7 bytes): bmAttributes bit 1 LPM, bit 2 BESL.
    case usb20Extension(attributes: UInt32)
    /// SuperSpeed USB device capability (10 bytes). `speedsSupported`:
    /// bit 0 low, 1 full, 2 high, 3 5 Gb/s; `functionalitySupport`: the
    /// lowest speed (that bit's number) with full functionality; exit
    /// latencies in microseconds.
    case superSpeed(
        attributes: UInt8, speedsSupported: UInt16, functionalitySupport: UInt8, u1ExitLatency: UInt8,
        u2ExitLatency: UInt16)

    public static let usb20ExtensionType: UInt8 = 2
    public static let superSpeedType: UInt8 = 3

    public var bytes: [UInt8] {
        switch self {
        case .usb20Extension(let attributes):
            var bytes: [UInt8] = [7, USBDescriptorType.deviceCapability, Self.usb20ExtensionType]
            bytes.appendLittleEndian(attributes)
            return bytes
        case .superSpeed(let attributes, let speeds, let functionality, let u1, let u2):
            var bytes: [UInt8] = [10, USBDescriptorType.deviceCapability, Self.superSpeedType, attributes]
            bytes.appendLittleEndian(speeds)
            bytes += [functionality, u1]
            bytes.appendLittleEndian(u2)
            return bytes
        }
    }
}

/// Binary device object store: the BOS header and its capabilities, as
/// GET_DESCRIPTOR(BOS) returns them (devices of bcdUSB 2.01 and later).
public struct USBBinaryObjectStore: Sendable, Hashable {
    public var capabilities: [USBDeviceCapability]

    public init(capabilities: [USBDeviceCapability]) {
        self.capabilities = capabilities
    }

    public var bytes: [UInt8] {
        let body = capabilities.flatMap(\.bytes)
        var bytes: [UInt8] = [5, USBDescriptorType.bos]
        bytes.appendLittleEndian(UInt16(5 + body.count))
        bytes.append(UInt8(capabilities.count))
        return bytes + body
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
