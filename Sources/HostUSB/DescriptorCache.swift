// SPDX-License-Identifier: GPL-2.0-only

import USBHost

/// The raw descriptors of a real device, read once at open: the adapter
/// answers GET_DESCRIPTOR(DEVICE) and GET_DESCRIPTOR(CONFIGURATION) from
/// here, and looks up interfaces and endpoints without device I/O.
public struct USBDescriptorCache: Sendable, Hashable {
    /// The 18-byte device descriptor.
    public var device: [UInt8]
    /// Each configuration's full descriptor set (wTotalLength bytes), in
    /// GET_DESCRIPTOR index order.
    public var configurations: [[UInt8]]

    public init(device: [UInt8], configurations: [[UInt8]]) {
        self.device = device
        self.configurations = configurations
    }

    /// Checks the layout well enough that the rest of the code can index it.
    public func validate() throws(DescriptorProblem) {
        guard device.count >= 18, device[0] >= 18, device[1] == USBDescriptorType.device else {
            throw DescriptorProblem("the device descriptor is \(device.count) bytes or has a wrong type")
        }
        for (index, configuration) in configurations.enumerated() {
            guard configuration.count >= 9, configuration[1] == USBDescriptorType.configuration else {
                throw DescriptorProblem("configuration \(index) is \(configuration.count) bytes or has a wrong type")
            }
        }
    }

    /// The configuration whose bConfigurationValue is `value`.
    public func configuration(value: UInt8) -> [UInt8]? {
        configurations.first { $0.count >= 9 && $0[5] == value }
    }

    /// The distinct interface numbers of a configuration, ascending.
    public func interfaceNumbers(configurationValue: UInt8) -> [UInt8] {
        guard let configuration = configuration(value: configurationValue) else { return [] }
        let numbers = DescriptorWalk.descriptors(in: configuration)
            .filter { $0.type == USBDescriptorType.interface && $0.bytes.count >= 3 }
            .map { $0.bytes[2] }
        return Array(Set(numbers)).sorted()
    }

    /// wMaxPacketSize (bits 10..0) of an endpoint, from the first
    /// altsetting of the configuration that has it.
    public func maxPacketSize(endpoint: UInt8, configurationValue: UInt8) -> Int? {
        guard let configuration = configuration(value: configurationValue) else { return nil }
        for descriptor in DescriptorWalk.descriptors(in: configuration)
        where descriptor.type == USBDescriptorType.endpoint && descriptor.bytes.count >= 7 && descriptor.bytes[2] == endpoint {
            return Int(UInt16(descriptor.bytes[4]) | UInt16(descriptor.bytes[5]) << 8) & 0x7ff
        }
        return nil
    }

    /// The descriptors as our USB 2.0 host controller presents a device of
    /// `speed`: unchanged up to high speed; SuperSpeed devices become
    /// high-speed ones (see `HighSpeedPresentation`).
    public func presented(at speed: HostUSBSpeed) -> USBDescriptorCache {
        guard speed.isSuperSpeed else { return self }
        return USBDescriptorCache(
            device: HighSpeedPresentation.deviceDescriptor(device),
            configurations: configurations.map(HighSpeedPresentation.configurationDescriptor))
    }
}

/// A malformed descriptor.
public struct DescriptorProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Splits a configuration's descriptor set into its descriptors.
enum DescriptorWalk {
    struct Descriptor {
        var type: UInt8 { bytes[1] }
        /// A copy, indexed from 0 (bLength, bDescriptorType, ...).
        var bytes: [UInt8]
    }

    /// Each descriptor in order. Stops at a malformed one (bLength < 2 or
    /// running past the end): what follows cannot be framed.
    static func descriptors(in bytes: [UInt8]) -> [Descriptor] {
        var result: [Descriptor] = []
        var offset = 0
        while offset + 2 <= bytes.count {
            let length = Int(bytes[offset])
            guard length >= 2, offset + length <= bytes.count else { break }
            result.append(Descriptor(bytes: Array(bytes[offset..<(offset + length)])))
            offset += length
        }
        return result
    }
}

/// Our controller is USB 2.0, so a SuperSpeed device is shown to the kernel
/// as a high-speed one. Its descriptors are rewritten to be valid at high
/// speed; the real device keeps running at SuperSpeed on the host.
public enum HighSpeedPresentation {
    /// SuperSpeed endpoint companion (USB 3.2 §9.6.7).
    static let superSpeedEndpointCompanion: UInt8 = 0x30
    /// SuperSpeedPlus isochronous endpoint companion (§9.6.8).
    static let superSpeedPlusIsochronousCompanion: UInt8 = 0x31

    /// bcdUSB 2.10 (a USB 2.0 device with a BOS) and a 64-byte EP0; a
    /// SuperSpeed device's bMaxPacketSize0 is the exponent 9 (512 bytes),
    /// which means nothing at high speed.
    public static func deviceDescriptor(_ descriptor: [UInt8]) -> [UInt8] {
        guard descriptor.count >= 18 else { return descriptor }
        var result = descriptor
        result[2] = 0x10
        result[3] = 0x02
        result[7] = 64
        return result
    }

    /// Drops the SuperSpeed companions, sets bulk endpoints to 512 bytes (the
    /// only high-speed bulk size), caps interrupt and isochronous endpoints
    /// at 1024 bytes (one transaction per microframe; the burst and mult of
    /// the companion do not exist at high speed), and fixes wTotalLength.
    public static func configurationDescriptor(_ configuration: [UInt8]) -> [UInt8] {
        guard configuration.count >= 9 else { return configuration }
        let declaredLength = Int(UInt16(configuration[2]) | UInt16(configuration[3]) << 8)
        let body = Array(configuration.prefix(max(9, min(declaredLength, configuration.count))))
        var result: [UInt8] = []
        result.reserveCapacity(body.count)
        for descriptor in DescriptorWalk.descriptors(in: body) {
            switch descriptor.type {
            case superSpeedEndpointCompanion, superSpeedPlusIsochronousCompanion:
                continue
            case USBDescriptorType.endpoint where descriptor.bytes.count >= 7:
                result += endpointDescriptor(descriptor.bytes)
            default:
                result += descriptor.bytes
            }
        }
        let total = UInt16(result.count)
        result[2] = UInt8(truncatingIfNeeded: total)
        result[3] = UInt8(truncatingIfNeeded: total >> 8)
        return result
    }

    static func endpointDescriptor(_ endpoint: [UInt8]) -> [UInt8] {
        var result = endpoint
        let original = Int(UInt16(endpoint[4]) | UInt16(endpoint[5]) << 8) & 0x7ff
        let size: Int
        switch USBTransferType(rawValue: endpoint[3] & 0x3) {
        case .bulk: size = 512
        case .interrupt, .isochronous: size = min(original, 1024)
        default: size = original
        }
        result[4] = UInt8(truncatingIfNeeded: size)
        result[5] = UInt8(truncatingIfNeeded: size >> 8)
        return result
    }
}
