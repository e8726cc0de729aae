// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a host TAP interface could not be opened or set up. Every case names
/// the fix: the capability, the file mode, or the one root command that
/// makes a persistent TAP for the user (see README, "airtap bridge").
public enum HostTapError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidInterfaceName(String, reason: String)
    /// /dev/net/tun does not exist (no tun driver, or a container without it).
    case tunDeviceMissing
    /// /dev/net/tun exists but this user may not open it.
    case tunDeviceNotAccessible(mode: UInt32, ownerUID: UInt32, userName: String, interface: String)
    /// Making a new TAP needs CAP_NET_ADMIN (tun.c: tun_set_iff).
    case creationNeedsCapability(interface: String, userName: String)
    /// The TAP exists but belongs to another user or group (tun_permitted).
    case notPermitted(interface: String, ownerUID: Int?, groupGID: Int?, userName: String)
    /// A network interface of that name exists and is not a TAP.
    case notATap(interface: String, kind: String)
    /// Another program has the TAP open (a single-queue TAP has one reader).
    case busy(interface: String)
    /// The TAP has another link type and is up: TUNSETLINK only works while
    /// it is down, and taking it down needs CAP_NET_ADMIN.
    case wrongLinkTypeWhileUp(interface: String, linkType: Int, userName: String)
    /// The TAP is down and bringing it up needs CAP_NET_ADMIN.
    case downNeedsCapability(interface: String)
    /// `create-persistent --user NAME`: no such user.
    case unknownUser(String)
    case unknownGroup(String)
    /// `delete-persistent`: nothing of that name.
    case noSuchInterface(String)
    /// A step failed for a reason not covered above.
    case systemCallFailed(what: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidInterfaceName(let name, let reason):
            return "invalid interface name \"\(name)\": \(reason); use up to 15 letters, digits, '-', '_' or '.' (e.g. airtap0)"
        case .tunDeviceMissing:
            return "/dev/net/tun does not exist: the host has no TUN/TAP driver loaded (sudo modprobe tun), "
                + "or this container was started without it (docker/podman: --device /dev/net/tun)"
        case .tunDeviceNotAccessible(let mode, let owner, let user, let interface):
            return "cannot open /dev/net/tun: permission denied for \(user) (its mode is 0\(String(mode & 0o777, radix: 8)), "
                + "owner uid \(owner)). Most systems have it mode 0666 (crw-rw-rw-), which is safe: creating or "
                + "attaching a TAP is checked by the kernel itself. Fix: sudo chmod 0666 /dev/net/tun "
                + "(CAP_NET_ADMIN alone does not bypass the file mode); then either run airtap with CAP_NET_ADMIN or "
                + "have root make a persistent TAP for you once: "
                + HostTapError.createPersistentCommand(interface: interface, userName: user)
        case .creationNeedsCapability(let interface, let user):
            return "creating the TAP interface \(interface) needs CAP_NET_ADMIN, which \(user) does not have. Either give "
                + "airtap the capability (sudo setcap cap_net_admin+ep \(HostTapError.executablePath); or run it under "
                + "capsh/systemd-run -p AmbientCapabilities=CAP_NET_ADMIN), or have root make a persistent TAP for "
                + "you once, which airtap then opens without privileges: "
                + HostTapError.createPersistentCommand(interface: interface, userName: user)
        case .notPermitted(let interface, let owner, let group, let user):
            let belongs = [owner.map { "user \(HostTapError.userName(uid: UInt32($0)))" }, group.map { "group \($0)" }]
                .compactMap { $0 }.joined(separator: " and ")
            return "the TAP interface \(interface) exists and belongs to \(belongs.isEmpty ? "root (no owner set)" : belongs), "
                + "not \(user); attaching to it needs CAP_NET_ADMIN. Use another --interface name, or give it to "
                + "yourself: " + HostTapError.createPersistentCommand(interface: interface, userName: user)
        case .notATap(let interface, let kind):
            return "a network interface named \(interface) already exists and is not a TAP (it is \(kind)); "
                + "choose another name with --interface"
        case .busy(let interface):
            return "the TAP interface \(interface) is in use by another program (a TAP has one reader): stop it "
                + "(fuser -v /dev/net/tun shows who has it open) or choose another --interface name"
        case .wrongLinkTypeWhileUp(let interface, let linkType, let user):
            return "the TAP interface \(interface) is up with link type \(HostTapError.linkTypeName(linkType)), not "
                + "radiotap (803); the kernel changes a TAP's link type only while it is down, and taking it down "
                + "needs CAP_NET_ADMIN. Fix it once as root: "
                + HostTapError.createPersistentCommand(interface: interface, userName: user)
        case .downNeedsCapability(let interface):
            return "the TAP interface \(interface) is down (its link type is now radiotap and stays so) and bringing it "
                + "up needs CAP_NET_ADMIN: sudo ip link set \(interface) up, then run airtap again"
        case .unknownUser(let name):
            return "no user named \"\(name)\" on this host (getent passwd \(name) finds nothing); give an existing "
                + "user name or a numeric uid"
        case .unknownGroup(let name):
            return "no group named \"\(name)\" on this host (getent group \(name) finds nothing); give an existing "
                + "group name or a numeric gid"
        case .noSuchInterface(let name):
            return "there is no network interface named \(name) (ip link show lists them)"
        case .systemCallFailed(let what, let errno):
            let reason = String(cString: strerror(errno))
            if errno == EPERM || errno == EACCES {
                return "\(what): \(reason): this needs CAP_NET_ADMIN (run as root, or sudo setcap cap_net_admin+ep "
                    + "\(HostTapError.executablePath))"
            }
            return "\(what): \(reason) (errno \(errno))"
        }
    }

    /// The root command that makes a persistent radiotap TAP for `userName`.
    public static func createPersistentCommand(interface: String, userName: String) -> String {
        "sudo \(executablePath) bridge create-persistent --interface \(interface) --user \(userName)"
    }

    /// This program, as the user should type it into setcap and sudo.
    public static var executablePath: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "airtap" }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The name of the user running this program (the uid if it has none).
    public static var currentUserName: String { userName(uid: geteuid()) }

    static func userName(uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return String(uid) }
        return String(cString: name)
    }

    static func linkTypeName(_ type: Int) -> String {
        switch type {
        case 1: return "Ethernet (1)"
        case 801: return "802.11 (801)"
        case 803: return "radiotap (803)"
        default: return String(type)
        }
    }
}
