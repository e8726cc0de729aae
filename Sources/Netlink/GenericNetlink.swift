// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// One generic netlink reply: command, version and attributes.
public struct GenericNetlinkMessage: Sendable, Equatable {
    public var command: UInt8
    public var version: UInt8
    public var attributes: NetlinkAttributes

    /// `struct genlmsghdr { u8 cmd; u8 version; u16 reserved; }` + attributes.
    public static func encode(command: UInt8, version: UInt8, attributes: NetlinkAttributeWriter) -> [UInt8] {
        [command, version, 0, 0] + attributes.bytes
    }

    public init(command: UInt8, version: UInt8, attributes: NetlinkAttributes) {
        self.command = command
        self.version = version
        self.attributes = attributes
    }

    public init(decoding message: NetlinkMessage) throws {
        guard message.payload.count >= 4 else {
            throw NetlinkParseError.wrongPayloadSize(type: message.type, expected: ">= 4", actual: message.payload.count)
        }
        command = message.payload[0]
        version = message.payload[1]
        attributes = try NetlinkAttributes(parsing: message.payload[4...])
    }
}

public enum GenericNetlinkError: Error, Sendable, CustomStringConvertible {
    case familyNotFound(String, underlying: NetlinkError)
    case malformedFamilyReply(String)

    public var description: String {
        switch self {
        case .familyNotFound(let name, let underlying):
            return "generic netlink family \"\(name)\" is not registered in the kernel (\(underlying)); "
                + "is its subsystem built into the kernel library?"
        case .malformedFamilyReply(let name):
            return "the generic netlink controller's reply for \"\(name)\" has no family id"
        }
    }
}

/// A socket talking to one generic netlink family, resolved by name through
/// the controller (`nlctrl`).
public final class GenericNetlinkSocket {
    public let netlink: NetlinkSocket
    public let familyName: String
    public let familyID: UInt16
    public let familyVersion: UInt32
    /// Multicast group names to ids (e.g. nl80211's "config", "mlme").
    public let multicastGroups: [String: UInt32]

    static let controllerFamilyID: UInt16 = 0x10
    static let controllerGetFamily: UInt8 = 3
    static let attributeFamilyID: UInt16 = 1
    static let attributeFamilyName: UInt16 = 2
    static let attributeVersion: UInt16 = 3
    static let attributeMulticastGroups: UInt16 = 7
    static let attributeGroupName: UInt16 = 1
    static let attributeGroupID: UInt16 = 2

    public init(kernel: Kernel, family: String) throws {
        netlink = try NetlinkSocket(kernel: kernel, protocol: .generic)
        familyName = family
        var attributes = NetlinkAttributeWriter()
        attributes.append(type: Self.attributeFamilyName, string: family)
        let replies: [NetlinkMessage]
        do {
            replies = try netlink.request(
                type: Self.controllerFamilyID,
                payload: GenericNetlinkMessage.encode(command: Self.controllerGetFamily, version: 2, attributes: attributes),
                operation: "generic netlink family lookup (\(family))")
        } catch let error as NetlinkError {
            throw GenericNetlinkError.familyNotFound(family, underlying: error)
        }
        guard let reply = try replies.first.map(GenericNetlinkMessage.init(decoding:)),
            let id = try reply.attributes[Self.attributeFamilyID]?.u16()
        else { throw GenericNetlinkError.malformedFamilyReply(family) }
        familyID = id
        familyVersion = try reply.attributes[Self.attributeVersion]?.u32() ?? 1
        var groups: [String: UInt32] = [:]
        for group in try reply.attributes[Self.attributeMulticastGroups]?.nested() ?? NetlinkAttributes([]) {
            let fields = try group.nested()
            if let name = fields[Self.attributeGroupName]?.string, let groupID = try fields[Self.attributeGroupID]?.u32() {
                groups[name] = groupID
            }
        }
        multicastGroups = groups
    }

    /// Sends `command` with `attributes`; returns the decoded replies.
    public func request(
        command: UInt8, attributes: NetlinkAttributeWriter = NetlinkAttributeWriter(), dump: Bool = false,
        operation: @autoclosure () -> String
    ) throws -> [GenericNetlinkMessage] {
        let payload = GenericNetlinkMessage.encode(command: command, version: UInt8(truncatingIfNeeded: familyVersion), attributes: attributes)
        return try netlink.request(
            type: familyID, flags: dump ? .dump : [], payload: payload, operation: operation()
        ).map(GenericNetlinkMessage.init(decoding:))
    }
}
