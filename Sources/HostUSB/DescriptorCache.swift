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
