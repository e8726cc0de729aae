// SPDX-License-Identifier: GPL-2.0-only

/// `nlmsghdr.nlmsg_flags` bits.
public struct NetlinkMessageFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = NetlinkMessageFlags(rawValue: 0x1)
    public static let multipart = NetlinkMessageFlags(rawValue: 0x2)
    public static let acknowledge = NetlinkMessageFlags(rawValue: 0x4)
    public static let dump = NetlinkMessageFlags(rawValue: 0x300)
    /// On NLMSG_ERROR: the request was not echoed back (NETLINK_CAP_ACK).
    public static let capped = NetlinkMessageFlags(rawValue: 0x100)
    /// On NLMSG_ERROR/DONE: extended-ack attributes follow.
    public static let acknowledgeTLVs = NetlinkMessageFlags(rawValue: 0x200)
}

/// One netlink message: header fields and the payload after the 16-byte header.
public struct NetlinkMessage: Sendable, Equatable {
    public static let headerLength = 16
    public static let typeNoop: UInt16 = 1
    public static let typeError: UInt16 = 2
    public static let typeDone: UInt16 = 3

    public var type: UInt16
    public var flags: NetlinkMessageFlags
    public var sequence: UInt32
    public var portID: UInt32
    public var payload: [UInt8]

    public init(type: UInt16, flags: NetlinkMessageFlags, sequence: UInt32, portID: UInt32 = 0, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// The message as sent: header, payload, padding to 4 bytes.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerLength + payload.count + 3)
        bytes += NetlinkAttributeWriter.littleEndianBytes(UInt32(Self.headerLength + payload.count))
        bytes += NetlinkAttributeWriter.littleEndianBytes(type)
        bytes += NetlinkAttributeWriter.littleEndianBytes(flags.rawValue)
        bytes += NetlinkAttributeWriter.littleEndianBytes(sequence)
        bytes += NetlinkAttributeWriter.littleEndianBytes(portID)
        bytes += payload
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    /// Splits one datagram into messages.
    public static func parse(datagram bytes: ArraySlice<UInt8>) throws -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = bytes.startIndex
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        while offset < bytes.endIndex {
            let remaining = bytes.endIndex - offset
            guard remaining >= headerLength else {
                throw NetlinkParseError.truncatedMessage(offset: offset - bytes.startIndex, remaining: remaining)
            }
            let length = Int(u32(offset))
            guard length >= headerLength, length <= remaining else {
                throw NetlinkParseError.badMessageLength(length: length, offset: offset - bytes.startIndex)
            }
            messages.append(
                NetlinkMessage(
                    type: u16(offset + 4), flags: NetlinkMessageFlags(rawValue: u16(offset + 6)),
                    sequence: u32(offset + 8), portID: u32(offset + 12),
                    payload: Array(bytes[(offset + headerLength)..<(offset + length)])))
            offset += min((length + 3) & ~3, remaining)
        }
        return messages
    }
}

/// What the kernel said when it refused a request: `NLMSG_ERROR` with the
/// extended acknowledgement (NETLINK_EXT_ACK) when present.
public struct NetlinkErrorReport: Sendable, Equatable {
    /// Positive errno.
    public var errno: Int32
    /// NLMSGERR_ATTR_MSG: the kernel's human-readable reason.
    public var message: String?
    /// NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in the request.
    public var offendingOffset: UInt32?
    /// NLMSGERR_ATTR_MISS_TYPE: a required attribute that was missing.
    public var missingAttribute: UInt32?

    /// Decodes an NLMSG_ERROR (or NLMSG_DONE) payload; nil for a plain ACK.
    public static func decode(_ message: NetlinkMessage) throws -> NetlinkErrorReport? {
        let payload = message.payload
        guard payload.count >= 4 else {
            throw NetlinkParseError.wrongPayloadSize(type: message.type, expected: ">= 4", actual: payload.count)
        }
        let code = Int32(bitPattern: UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16
            | UInt32(payload[3]) << 24)
        guard code != 0 else { return nil }
        var report = NetlinkErrorReport(errno: -code)
        guard message.flags.contains(.acknowledgeTLVs) else { return report }
        // NLMSG_ERROR carries the request's header (and, unless capped, its
        // payload) before the attributes; NLMSG_DONE carries only the code.
        var attributesStart = 4
        if message.type == NetlinkMessage.typeError {
            guard payload.count >= 4 + NetlinkMessage.headerLength else { return report }
            let echoedLength = Int(payload[4]) | Int(payload[5]) << 8 | Int(payload[6]) << 16 | Int(payload[7]) << 24
            attributesStart += message.flags.contains(.capped) ? NetlinkMessage.headerLength : ((echoedLength + 3) & ~3)
        }
        guard attributesStart <= payload.count else { return report }
        let attributes = try NetlinkAttributes(parsing: payload[attributesStart...])
        report.message = attributes[1].map(\.string)
        report.offendingOffset = try attributes[2]?.u32()
        report.missingAttribute = try attributes[5]?.u32()
        return report
    }
}
