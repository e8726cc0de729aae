// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// The few rtnetlink link operations airtap needs.
public final class RouteNetlinkSocket {
    public let netlink: NetlinkSocket

    static let messageNewLink: UInt16 = 16
    static let messageGetLink: UInt16 = 18
    static let interfaceFlagUp: UInt32 = 0x1
    static let attributeInterfaceName: UInt16 = 3

    public init(kernel: Kernel) throws {
        netlink = try NetlinkSocket(kernel: kernel, protocol: .route)
    }

    /// `struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }`
    static func interfaceInfo(index: Int32, flags: UInt32, change: UInt32) -> [UInt8] {
        [0, 0, 0, 0] + NetlinkAttributeWriter.littleEndianBytes(index)
            + NetlinkAttributeWriter.littleEndianBytes(flags) + NetlinkAttributeWriter.littleEndianBytes(change)
    }

    /// Brings the link up or down (IFF_UP), like `ip link set dev X up`.
    public func setLink(index: Int, up: Bool, name: String? = nil) throws {
        let payload = Self.interfaceInfo(
            index: Int32(index), flags: up ? Self.interfaceFlagUp : 0, change: Self.interfaceFlagUp)
        _ = try netlink.request(
            type: Self.messageNewLink, payload: payload,
            operation: "rtnetlink set link \(name ?? "#\(index)") \(up ? "up" : "down")")
    }

    /// The flags (IFF_*) of a link.
    public func linkFlags(index: Int) throws -> UInt32 {
        let replies = try netlink.request(
            type: Self.messageGetLink, payload: Self.interfaceInfo(index: Int32(index), flags: 0, change: 0),
            operation: "rtnetlink get link #\(index)")
        guard let reply = replies.first, reply.payload.count >= 16 else {
            throw KernelError.malformedReply("RTM_GETLINK for link #\(index) returned no ifinfomsg")
        }
        let bytes = reply.payload
        return UInt32(bytes[8]) | UInt32(bytes[9]) << 8 | UInt32(bytes[10]) << 16 | UInt32(bytes[11]) << 24
    }
}
