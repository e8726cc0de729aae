// SPDX-License-Identifier: GPL-2.0-only

import KernelSockets
import LinuxKernel
import SystemPackage

/// A request the kernel refused, with its own explanation when it gave one.
public struct NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What we asked for, e.g. "nl80211 SET_INTERFACE (wlan0 -> monitor)".
    public var operation: String
    public var report: NetlinkErrorReport

    public init(operation: String, report: NetlinkErrorReport) {
        self.operation = operation
        self.report = report
    }

    public var errno: Errno { Errno(rawValue: report.errno) }

    public var description: String {
        var text = "\(operation) failed: \(errno) (errno \(report.errno))"
        if let message = report.message, !message.isEmpty { text += ": kernel says \"\(message)\"" }
        if let missing = report.missingAttribute { text += " (missing attribute \(missing))" }
        return text
    }
}

/// Netlink protocol numbers (`socket(AF_NETLINK, SOCK_RAW, protocol)`).
public enum NetlinkProtocol: Int32, Sendable {
    case route = 0
    case generic = 16
}

/// A request/response netlink socket. Replies that belong to other
/// sequence numbers (late answers to an abandoned request) are skipped.
/// Not for concurrent use: one request at a time.
public final class NetlinkSocket {
    public let socket: KernelSocket
    private var nextSequence: UInt32 = 1
    private var receiveBuffer: [UInt8]

    static let levelNetlink: Int32 = 270
    static let optionCapAck: Int32 = 10
    static let optionExtendedAck: Int32 = 11

    public init(kernel: Kernel, protocol netlinkProtocol: NetlinkProtocol) throws {
        socket = try KernelSocket(
            kernel: kernel, domain: SocketABI.addressFamilyNetlink, type: SocketABI.typeRaw,
            protocol: netlinkProtocol.rawValue)
        // sockaddr_nl { u16 family; u16 pad; u32 pid (0: kernel assigns); u32 groups }
        var address = NetlinkAttributeWriter.littleEndianBytes(UInt16(SocketABI.addressFamilyNetlink))
        address += [0, 0] + [UInt8](repeating: 0, count: 8)
        try socket.bind(address: address)
        // Errors then carry the kernel's text (extack) and not a copy of our request.
        try socket.setOption(level: Self.levelNetlink, name: Self.optionExtendedAck, value: 1)
        try socket.setOption(level: Self.levelNetlink, name: Self.optionCapAck, value: 1)
        // A split wiphy dump sends messages of several KiB each.
        receiveBuffer = [UInt8](repeating: 0, count: 256 * 1024)
    }

    /// Sends one request and collects the replies: for a dump, every message
    /// until NLMSG_DONE; otherwise the replies before the acknowledgement.
    /// Throws `NetlinkError` when the kernel answers with an error.
    public func request(
        type: UInt16, flags: NetlinkMessageFlags = [], payload: [UInt8], operation: @autoclosure () -> String
    ) throws -> [NetlinkMessage] {
        let sequence = nextSequence
        nextSequence &+= 1
        let isDump = flags.contains(.dump)
        let requestFlags: NetlinkMessageFlags = isDump ? flags.union(.request) : flags.union([.request, .acknowledge])
        let encoded = NetlinkMessage(type: type, flags: requestFlags, sequence: sequence, payload: payload).encoded
        let sent = encoded.withUnsafeBytes { socket.sendRaw($0) }
        try checkedSyscall("netlink send (\(operation()))", sent)

        var replies: [NetlinkMessage] = []
        while true {
            let received = receiveBuffer.withUnsafeMutableBytes { socket.receiveRaw(into: $0) }
            try checkedSyscall("netlink receive (\(operation()))", received)
            for message in try NetlinkMessage.parse(datagram: receiveBuffer[0..<received])
            where message.sequence == sequence {
                switch message.type {
                case NetlinkMessage.typeError:
                    if let report = try NetlinkErrorReport.decode(message) {
                        throw NetlinkError(operation: operation(), report: report)
                    }
                    return replies
                case NetlinkMessage.typeDone:
                    if let report = try? NetlinkErrorReport.decode(message) {
                        throw NetlinkError(operation: operation(), report: report)
                    }
                    return replies
                case NetlinkMessage.typeNoop:
                    continue
                default:
                    replies.append(message)
                }
            }
        }
    }
}
