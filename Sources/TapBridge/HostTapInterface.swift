// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Host (not kernel library) TUN/TAP and interface ioctls
/// (include/uapi/linux/if_tun.h, sockios.h, if.h, if_arp.h).
enum HostNetworkABI {
    static let tunSetInterface: UInt = 0x4004_54CA  // TUNSETIFF    _IOW('T', 202, int)
    static let tunSetPersist: UInt = 0x4004_54CB  // TUNSETPERSIST _IOW('T', 203, int)
    static let tunSetOwner: UInt = 0x4004_54CC  // TUNSETOWNER  _IOW('T', 204, int)
    static let tunSetLink: UInt = 0x4004_54CD  // TUNSETLINK   _IOW('T', 205, int)
    static let tunSetGroup: UInt = 0x4004_54CE  // TUNSETGROUP  _IOW('T', 206, int)
    static let tunFlagTUN: Int16 = 0x0001
    static let tunFlagTAP: Int16 = 0x0002
    static let tunFlagNoPacketInformation: Int16 = 0x1000

    static let getInterfaceFlags: UInt = 0x8913  // SIOCGIFFLAGS
    static let setInterfaceFlags: UInt = 0x8914  // SIOCSIFFLAGS
    static let setInterfaceMTU: UInt = 0x8922  // SIOCSIFMTU
    static let interfaceUp: Int16 = 0x0001
    static let interfaceNoARP: Int16 = 0x0080
    static let interfaceMulticast: Int16 = 0x1000

    /// ARPHRD_IEEE80211_RADIOTAP: libpcap maps it to DLT_IEEE802_11_RADIO (127).
    static let linkTypeRadiotap = 803
    static let interfaceNameCapacity = 16  // IFNAMSIZ, with the NUL
    static let interfaceRequestSize = 40  // sizeof(struct ifreq)
}

/// `struct ifreq`: the name, then a union (flags, MTU, ...) at byte 16.
struct InterfaceRequest {
    private(set) var bytes = [UInt8](repeating: 0, count: HostNetworkABI.interfaceRequestSize)

    init(name: String) {
        for (index, byte) in name.utf8.prefix(HostNetworkABI.interfaceNameCapacity - 1).enumerated() {
            bytes[index] = byte
        }
    }

    var name: String { String(decoding: bytes.prefix(while: { $0 != 0 }).prefix(15), as: UTF8.self) }

    var shortValue: Int16 {
        get { Int16(bitPattern: UInt16(bytes[16]) | UInt16(bytes[17]) << 8) }
        set {
            bytes[16] = UInt8(truncatingIfNeeded: newValue)
            bytes[17] = UInt8(truncatingIfNeeded: newValue >> 8)
        }
    }

    var intValue: Int32 {
        get { bytes[16..<20].reversed().reduce(0) { $0 << 8 | Int32($1) } }
        set { for index in 0..<4 { bytes[16 + index] = UInt8(truncatingIfNeeded: newValue >> (8 * index)) } }
    }

    /// Runs `request` on `descriptor`; 0 or the errno.
    mutating func perform(_ request: UInt, on descriptor: Int32) -> Int32 {
        let result = bytes.withUnsafeMutableBytes { ioctl(descriptor, request, $0.baseAddress!) }
        return result < 0 ? errno : 0
    }
}

/// What /sys/class/net says about an interface (readable by anyone, so
/// errors can say exactly what is in the way).
struct HostInterfaceState {
    var linkType: Int
    var flags: Int
    var mtu: Int
    /// IFF_TUN / IFF_TAP bits for TUN/TAP interfaces, nil for others.
    var tunFlags: Int?
    var ownerUID: Int?
    var groupGID: Int?

    var isUp: Bool { flags & Int(HostNetworkABI.interfaceUp) != 0 }
    var isTap: Bool { (tunFlags ?? 0) & Int(HostNetworkABI.tunFlagTAP) != 0 }

    /// "a TUN interface (layer 3)", "an Ethernet interface", for messages.
    var kind: String {
        if let tunFlags, tunFlags & Int(HostNetworkABI.tunFlagTUN) != 0 { return "a TUN interface (layer 3)" }
        return "an interface of link type \(HostTapError.linkTypeName(linkType))"
    }

    static func read(_ name: String) -> HostInterfaceState? {
        let directory = "/sys/class/net/\(name)/"
        guard let type = integer(directory + "type") else { return nil }
        // tun.c prints -1 for "no owner" / "no group".
        let owner = integer(directory + "owner").flatMap { $0 >= 0 ? $0 : nil }
        let group = integer(directory + "group").flatMap { $0 >= 0 ? $0 : nil }
        return HostInterfaceState(
            linkType: type, flags: integer(directory + "flags") ?? 0, mtu: integer(directory + "mtu") ?? 0,
            tunFlags: integer(directory + "tun_flags"), ownerUID: owner, groupGID: group)
    }

    /// A sysfs attribute as a number ("0x1003" or "1500").
    private static func integer(_ path: String) -> Int? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { _ = close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).filter { !$0.isWhitespace }
        if text.hasPrefix("0x") { return Int(text.dropFirst(2), radix: 16) }
        return Int(text)
    }
}

/// A TAP interface on the host whose link type is radiotap: frames written
/// to it appear on the host as received on that interface (tcpdump -i,
/// tshark, Kismet see them with DLT 127); frames host programs send on it
/// (AF_PACKET, scapy) are read here.
///
/// A TAP that airtap creates is not persistent: it disappears when its
/// descriptor closes, whichever way the process ends. A persistent TAP
/// made by root for a user (`createPersistent`) is attached without
/// privileges and stays.
public final class HostTapInterface: Sendable {
    public let name: String
    /// airtap created it (it goes away on close); false: it existed before.
    public let createdHere: Bool
    public let mtu: Int
    private let descriptor: Int32
    private let closed = Atomic<Bool>(false)

    /// Room for any 802.11 frame (MPDUs up to 7,991 bytes) plus radiotap,
    /// for frames host programs write; the kernel's TAP limit is 65,521.
    public static let preferredMTU = 8192

    private init(name: String, createdHere: Bool, mtu: Int, descriptor: Int32) {
        self.name = name
        self.createdHere = createdHere
        self.mtu = mtu
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Opens `name`: creates it (needs CAP_NET_ADMIN) or attaches to an
    /// existing TAP this user owns (needs no capability), sets link type
    /// radiotap and brings it up.
    public static func open(name: String) throws(HostTapError) -> HostTapInterface {
        try validate(name: name)
        let userName = HostTapError.currentUserName
        let descriptor = try openTunDevice(interface: name, userName: userName)
        do throws(HostTapError) {
            let before = HostInterfaceState.read(name)
            let attachedName = try attach(descriptor, name: name, before: before, userName: userName)
            try configureForRadiotap(attachedName, descriptor: descriptor, userName: userName)
            let mtu = HostInterfaceState.read(attachedName)?.mtu ?? 0
            return HostTapInterface(name: attachedName, createdHere: before == nil, mtu: mtu, descriptor: descriptor)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
    }

    /// Root, once: makes `name` a persistent radiotap TAP, up, owned by
    /// `ownerUID` (and `groupGID`), so that user's airtap opens it without
    /// CAP_NET_ADMIN. An existing TAP is converted.
    public static func createPersistent(name: String, ownerUID: UInt32, groupGID: UInt32?) throws(HostTapError) {
        try validate(name: name)
        let userName = HostTapError.currentUserName
        let descriptor = try openTunDevice(interface: name, userName: userName)
        defer { _ = Glibc.close(descriptor) }
        let before = HostInterfaceState.read(name)
        let attachedName = try attach(descriptor, name: name, before: before, userName: userName)
        if let state = HostInterfaceState.read(attachedName), state.isUp, state.linkType != HostNetworkABI.linkTypeRadiotap {
            try changeFlags(attachedName, set: 0, clear: HostNetworkABI.interfaceUp, what: "taking \(attachedName) down")
        }
        try tunIoctl(descriptor, HostNetworkABI.tunSetOwner, Int32(bitPattern: ownerUID), what: "TUNSETOWNER on \(attachedName)")
        if let groupGID {
            try tunIoctl(descriptor, HostNetworkABI.tunSetGroup, Int32(bitPattern: groupGID), what: "TUNSETGROUP on \(attachedName)")
        }
        try tunIoctl(descriptor, HostNetworkABI.tunSetPersist, 1, what: "TUNSETPERSIST on \(attachedName)")
        try configureForRadiotap(attachedName, descriptor: descriptor, userName: userName)
    }

    /// Root: removes a persistent TAP (as `ip tuntap del dev NAME mode tap`).
    public static func deletePersistent(name: String) throws(HostTapError) {
        try validate(name: name)
        guard let before = HostInterfaceState.read(name) else { throw .noSuchInterface(name) }
        let userName = HostTapError.currentUserName
        let descriptor = try openTunDevice(interface: name, userName: userName)
        defer { _ = Glibc.close(descriptor) }
        let attachedName = try attach(descriptor, name: name, before: before, userName: userName)
        // Not persistent any more: it goes when this descriptor closes.
        try tunIoctl(descriptor, HostNetworkABI.tunSetPersist, 0, what: "TUNSETPERSIST 0 on \(attachedName)")
    }

    public enum WriteOutcome: Sendable, Equatable {
        case written
        /// The interface was taken down on the host (EIO): the frame is dropped.
        case interfaceDown
        case failed(errno: Int32)
    }

    /// Hands one frame to the host, as received on the interface.
    public func write(_ frame: UnsafeRawBufferPointer) -> WriteOutcome {
        let result = Glibc.write(descriptor, frame.baseAddress, frame.count)
        if result >= 0 { return .written }
        let error = errno
        return error == EIO ? .interfaceDown : .failed(errno: error)
    }

    /// Waits up to `timeoutMilliseconds` for a frame a host program sent on
    /// the interface and reads it: its length, 0 on timeout, or -errno.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int32) -> Int {
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&waiting, 1, timeoutMilliseconds)
        if ready < 0 { return errno == EINTR ? 0 : -Int(errno) }
        if ready == 0 { return 0 }
        let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
        if count >= 0 { return count }
        return errno == EAGAIN || errno == EINTR ? 0 : -Int(errno)
    }

    /// Detaches; a TAP airtap created disappears now. Later calls do nothing.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = Glibc.close(descriptor)
    }

    // MARK: - Steps

    static func validate(name: String) throws(HostTapError) {
        guard !name.isEmpty, name.utf8.count < HostNetworkABI.interfaceNameCapacity else {
            throw .invalidInterfaceName(name, reason: "interface names have 1 to 15 bytes")
        }
        guard name != ".", name != "..",
            name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) })
        else {
            throw .invalidInterfaceName(name, reason: "it contains characters interface names cannot have")
        }
    }

    private static func openTunDevice(interface: String, userName: String) throws(HostTapError) -> Int32 {
        let descriptor = Glibc.open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)
        if descriptor >= 0 { return descriptor }
        let error = errno
        switch error {
        case ENOENT, ENODEV, ENXIO:
            throw .tunDeviceMissing
        case EACCES, EPERM:
            var status = stat()
            _ = stat("/dev/net/tun", &status)
            throw .tunDeviceNotAccessible(mode: status.st_mode, ownerUID: status.st_uid, userName: userName, interface: interface)
        default:
            throw .systemCallFailed(what: "opening /dev/net/tun", errno: error)
        }
    }

    /// TUNSETIFF: creates the TAP or attaches to it; returns its name.
    private static func attach(
        _ descriptor: Int32, name: String, before: HostInterfaceState?, userName: String
    ) throws(HostTapError) -> String {
        var request = InterfaceRequest(name: name)
        request.shortValue = HostNetworkABI.tunFlagTAP | HostNetworkABI.tunFlagNoPacketInformation
        let error = request.perform(HostNetworkABI.tunSetInterface, on: descriptor)
        guard error != 0 else { return request.name }
        switch (error, before) {
        case (EPERM, nil):
            throw .creationNeedsCapability(interface: name, userName: userName)
        case (EPERM, let state?):
            throw .notPermitted(interface: name, ownerUID: state.ownerUID, groupGID: state.groupGID, userName: userName)
        case (EBUSY, _):
            throw .busy(interface: name)
        case (EINVAL, let state?) where !state.isTap:
            throw .notATap(interface: name, kind: state.kind)
        default:
            throw .systemCallFailed(what: "TUNSETIFF \(name) (TAP, no packet information)", errno: error)
        }
    }

    /// Link type radiotap (only possible while down), room for large
    /// frames, up, without ARP or multicast so the host sends nothing of
    /// its own on it.
    private static func configureForRadiotap(_ name: String, descriptor: Int32, userName: String) throws(HostTapError) {
        guard var state = HostInterfaceState.read(name) else { throw .noSuchInterface(name) }
        if state.linkType != HostNetworkABI.linkTypeRadiotap {
            if state.isUp {
                do throws(HostTapError) {
                    try changeFlags(name, set: 0, clear: HostNetworkABI.interfaceUp, what: "taking \(name) down")
                } catch {
                    throw .wrongLinkTypeWhileUp(interface: name, linkType: state.linkType, userName: userName)
                }
                state.flags &= ~Int(HostNetworkABI.interfaceUp)
            }
            // The owner may do this without any capability: tun.c checks
            // only that the interface is down.
            try tunIoctl(
                descriptor, HostNetworkABI.tunSetLink, Int32(HostNetworkABI.linkTypeRadiotap),
                what: "TUNSETLINK \(name) radiotap (803)")
        }
        if state.mtu < preferredMTU {
            // Needs CAP_NET_ADMIN; without it the TAP keeps its MTU and the
            // bridge says what that limits.
            var request = InterfaceRequest(name: name)
            request.intValue = Int32(preferredMTU)
            _ = withControlSocket { request.perform(HostNetworkABI.setInterfaceMTU, on: $0) }
        }
        if !state.isUp || state.flags & Int(HostNetworkABI.interfaceMulticast) != 0 {
            do throws(HostTapError) {
                try changeFlags(
                    name, set: HostNetworkABI.interfaceUp | HostNetworkABI.interfaceNoARP,
                    clear: HostNetworkABI.interfaceMulticast, what: "bringing \(name) up")
            } catch {
                // An up interface that keeps its multicast flag works.
                if !state.isUp { throw .downNeedsCapability(interface: name) }
            }
        }
    }

    private static func tunIoctl(_ descriptor: Int32, _ request: UInt, _ value: Int32, what: String) throws(HostTapError) {
        guard ioctl(descriptor, request, value) == 0 else { throw .systemCallFailed(what: what, errno: errno) }
    }

    private static func changeFlags(_ name: String, set: Int16, clear: Int16, what: String) throws(HostTapError) {
        var request = InterfaceRequest(name: name)
        var error = withControlSocket { request.perform(HostNetworkABI.getInterfaceFlags, on: $0) }
        if error == 0 {
            request.shortValue = (request.shortValue & ~clear) | set
            error = withControlSocket { request.perform(HostNetworkABI.setInterfaceFlags, on: $0) }
        }
        if error != 0 { throw .systemCallFailed(what: what, errno: error) }
    }

    /// Interface ioctls go through any socket; a UDP one needs no privilege.
    private static func withControlSocket(_ body: (Int32) -> Int32) -> Int32 {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketDescriptor >= 0 else { return errno }
        defer { _ = Glibc.close(socketDescriptor) }
        return body(socketDescriptor)
    }
}
