// SPDX-License-Identifier: GPL-2.0-only

/// Netlink payloads are in host byte order; the kernel library runs on the
/// host CPU, so little-endian on every platform airtap supports.

/// Builds a sequence of netlink attributes (`struct nlattr` + payload, each
/// padded to 4 bytes).
public struct NetlinkAttributeWriter: Sendable, Equatable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// `NLA_F_NESTED`: set on attributes that contain attributes.
    public static let nestedFlag: UInt16 = 0x8000

    public mutating func append(type: UInt16, payload: some Collection<UInt8>) {
        let length = 4 + payload.count
        precondition(length <= Int(UInt16.max), "netlink attribute \(type) is too long (\(length) bytes)")
        appendInteger(UInt16(length))
        appendInteger(type)
        bytes.append(contentsOf: payload)
        padToAlignment()
    }

    public mutating func appendFlag(type: UInt16) { append(type: type, payload: EmptyCollection()) }
    public mutating func append(type: UInt16, u8 value: UInt8) { append(type: type, payload: [value]) }
    public mutating func append(type: UInt16, u16 value: UInt16) { append(type: type, payload: Self.littleEndianBytes(value)) }
    public mutating func append(type: UInt16, u32 value: UInt32) { append(type: type, payload: Self.littleEndianBytes(value)) }
    public mutating func append(type: UInt16, u64 value: UInt64) { append(type: type, payload: Self.littleEndianBytes(value)) }

    /// A NUL-terminated string (`NLA_NUL_STRING`/`NLA_STRING` both accept it).
    public mutating func append(type: UInt16, string: String) {
        append(type: type, payload: Array(string.utf8) + [0])
    }

    /// An attribute whose payload is the attributes `build` writes.
    public mutating func appendNested(type: UInt16, _ build: (inout NetlinkAttributeWriter) -> Void) {
        var inner = NetlinkAttributeWriter()
        build(&inner)
        append(type: type | Self.nestedFlag, payload: inner.bytes)
    }

    private mutating func appendInteger<Value: FixedWidthInteger>(_ value: Value) {
        bytes.append(contentsOf: Self.littleEndianBytes(value))
    }

    private mutating func padToAlignment() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    static func littleEndianBytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

public enum NetlinkParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncatedAttribute(offset: Int, remaining: Int)
    case badAttributeLength(type: UInt16, length: Int, offset: Int)
    case wrongPayloadSize(type: UInt16, expected: String, actual: Int)
    case truncatedMessage(offset: Int, remaining: Int)
    case badMessageLength(length: Int, offset: Int)

    public var description: String {
        switch self {
        case .truncatedAttribute(let offset, let remaining):
            return "netlink attribute header at offset \(offset) cut short (\(remaining) bytes left, need 4)"
        case .badAttributeLength(let type, let length, let offset):
            return "netlink attribute \(type) at offset \(offset) claims impossible length \(length)"
        case .wrongPayloadSize(let type, let expected, let actual):
            return "netlink attribute \(type) has \(actual) payload bytes, expected \(expected)"
        case .truncatedMessage(let offset, let remaining):
            return "netlink message header at offset \(offset) cut short (\(remaining) bytes left)"
        case .badMessageLength(let length, let offset):
            return "netlink message at offset \(offset) claims impossible length \(length)"
        }
    }
}

/// One received attribute.
public struct NetlinkAttribute: Sendable, Equatable {
    /// Attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
    public let type: UInt16
    public let isNested: Bool
    public let payload: [UInt8]

    public init(type: UInt16, isNested: Bool, payload: [UInt8]) {
        self.type = type
        self.isNested = isNested
        self.payload = payload
    }

    public func u8() throws -> UInt8 { try integer() }
    public func u16() throws -> UInt16 { try integer() }
    public func u32() throws -> UInt32 { try integer() }
    public func u64() throws -> UInt64 { try integer() }
    public func i32() throws -> Int32 { try integer() }

    /// The payload as text, up to the first NUL.
    public var string: String {
        String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The payload parsed as attributes. Nested attributes often lack the
    /// NLA_F_NESTED flag (nl80211 sets it inconsistently), so any attribute
    /// may be parsed this way.
    public func nested() throws -> NetlinkAttributes { try NetlinkAttributes(parsing: payload[...]) }

    private func integer<Value: FixedWidthInteger>() throws -> Value {
        let size = MemoryLayout<Value>.size
        guard payload.count >= size else {
            throw NetlinkParseError.wrongPayloadSize(type: type, expected: "\(size)", actual: payload.count)
        }
        var value: Value = 0
        for index in (0..<size).reversed() { value = (value << 8) | Value(payload[index]) }
        return value
    }
}

/// A parsed sequence of attributes, in order (types may repeat).
public struct NetlinkAttributes: Sendable, Equatable, Sequence {
    public let attributes: [NetlinkAttribute]

    static let typeMask: UInt16 = 0x3FFF

    public init(_ attributes: [NetlinkAttribute]) { self.attributes = attributes }

    public init(parsing bytes: ArraySlice<UInt8>) throws {
        var parsed: [NetlinkAttribute] = []
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let remaining = bytes.endIndex - offset
            // Trailing padding shorter than a header is allowed.
            if remaining < 4 {
                guard bytes[offset...].allSatisfy({ $0 == 0 }) else {
                    throw NetlinkParseError.truncatedAttribute(offset: offset - bytes.startIndex, remaining: remaining)
                }
                break
            }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let rawType = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard length >= 4, length <= remaining else {
                throw NetlinkParseError.badAttributeLength(
                    type: rawType & Self.typeMask, length: length, offset: offset - bytes.startIndex)
            }
            parsed.append(
                NetlinkAttribute(
                    type: rawType & Self.typeMask, isNested: rawType & NetlinkAttributeWriter.nestedFlag != 0,
                    payload: Array(bytes[(offset + 4)..<(offset + length)])))
            offset += Swift.min((length + 3) & ~3, remaining)
        }
        attributes = parsed
    }

    public func makeIterator() -> IndexingIterator<[NetlinkAttribute]> { attributes.makeIterator() }

    /// The first attribute of `type`, if present.
    public subscript(type: UInt16) -> NetlinkAttribute? { attributes.first { $0.type == type } }

    public func all(_ type: UInt16) -> [NetlinkAttribute] { attributes.filter { $0.type == type } }
}
