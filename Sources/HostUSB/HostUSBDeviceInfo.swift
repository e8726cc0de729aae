// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import USBHost

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The speed a real device runs at on the host.
public enum HostUSBSpeed: String, Sendable, Hashable, Codable, CaseIterable {
    case low, full, high, `super`, superPlus, unknown

    /// libusb's `enum libusb_speed` value.
    public init(libUSBSpeed: Int32) {
        switch libUSBSpeed {
        case 1: self = .low
        case 2: self = .full
        case 3: self = .high
        case 4: self = .super
        case 5, 6: self = .superPlus  // 6: SUPER_PLUS_X2 in libusb 1.0.27+
        default: self = .unknown
        }
    }

    public var isSuperSpeed: Bool { self == .super || self == .superPlus }

    /// The speed the virtual controller presents the device at: its own.
    /// SuperSpeedPlus devices sit on the 5 Gb/s root hub (their descriptors
    /// are valid there; the device keeps its rate on the host), and a device
    /// whose speed libusb does not know is taken for a high-speed one.
    public var presentedSpeed: USBSpeed {
        switch self {
        case .low: return .low
        case .full: return .full
        case .high, .unknown: return .high
        case .super, .superPlus: return .super
        }
    }

    /// "480 Mbit/s"-style text for listings.
    public var text: String {
        switch self {
        case .low: return "1.5 Mbit/s"
        case .full: return "12 Mbit/s"
        case .high: return "480 Mbit/s"
        case .super: return "5 Gbit/s"
        case .superPlus: return "10 Gbit/s"
        case .unknown: return "unknown speed"
        }
    }
}

/// One interface of the device's active (or first) configuration.
public struct HostUSBInterfaceInfo: Sendable, Hashable, Codable {
    public var number: UInt8
    /// Class, subclass and protocol of altsetting 0.
    public var interfaceClass: UInt8
    public var interfaceSubClass: UInt8
    public var interfaceProtocol: UInt8
    /// The host kernel driver bound to it (e.g. "rtw88_8822bu"), if any.
    public var hostDriver: String?

    public init(number: UInt8, interfaceClass: UInt8, interfaceSubClass: UInt8, interfaceProtocol: UInt8, hostDriver: String? = nil) {
        self.number = number
        self.interfaceClass = interfaceClass
        self.interfaceSubClass = interfaceSubClass
        self.interfaceProtocol = interfaceProtocol
        self.hostDriver = hostDriver
    }
}

/// Whether this process can open the device's usbfs node.
public enum HostUSBAccess: Sendable, Hashable, Codable {
    case granted
    /// Why not, in words ("permission denied for user alice: ...").
    case denied(String)

    public var isGranted: Bool { self == .granted }
}

/// A real USB device as the host sees it, read without opening it.
public struct HostUSBDeviceInfo: Sendable, Hashable, Codable {
    public var busNumber: UInt8
    /// Port numbers from the root hub down (libusb_get_port_numbers).
    public var portPath: [UInt8]
    public var deviceAddress: UInt8
    public var vendorID: UInt16
    public var productID: UInt16
    /// bcdDevice: the device's release number.
    public var deviceVersion: UInt16
    public var deviceClass: UInt8
    public var deviceSubClass: UInt8
    public var deviceProtocol: UInt8
    /// bConfigurationValue of the active configuration (0: unconfigured,
    /// then `interfaces` are those of the first configuration).
    public var activeConfiguration: UInt8
    public var interfaces: [HostUSBInterfaceInfo]
    public var manufacturer: String?
    public var product: String?
    public var serialNumber: String?
    public var speed: HostUSBSpeed
    public var access: HostUSBAccess

    public init(
        busNumber: UInt8, portPath: [UInt8], deviceAddress: UInt8, vendorID: UInt16, productID: UInt16,
        deviceVersion: UInt16 = 0, deviceClass: UInt8 = 0, deviceSubClass: UInt8 = 0, deviceProtocol: UInt8 = 0,
        activeConfiguration: UInt8 = 1, interfaces: [HostUSBInterfaceInfo] = [], manufacturer: String? = nil,
        product: String? = nil, serialNumber: String? = nil, speed: HostUSBSpeed = .high, access: HostUSBAccess = .granted
    ) {
        self.busNumber = busNumber
        self.portPath = portPath
        self.deviceAddress = deviceAddress
        self.vendorID = vendorID
        self.productID = productID
        self.deviceVersion = deviceVersion
        self.deviceClass = deviceClass
        self.deviceSubClass = deviceSubClass
        self.deviceProtocol = deviceProtocol
        self.activeConfiguration = activeConfiguration
        self.interfaces = interfaces
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
        self.speed = speed
        self.access = access
    }

    /// The sysfs name: "1-2.3" (bus, then the port path joined by dots).
    public var location: String { Self.location(bus: busNumber, ports: portPath) }

    /// "0bda:b812".
    public var idText: String { hexString(vendorID, digits: 4) + ":" + hexString(productID, digits: 4) }

    /// The usbfs node, "/dev/bus/usb/001/007".
    public var nodePath: String { "/dev/bus/usb/" + decimal3(busNumber) + "/" + decimal3(deviceAddress) }

    /// Host kernel drivers bound to its interfaces, without repeats.
    public var hostDrivers: [String] {
        var seen: Set<String> = []
        return interfaces.compactMap(\.hostDriver).filter { seen.insert($0).inserted }
    }

    /// One line for listings and error messages:
    /// "1-2 0bda:b812 Realtek 802.11ac NIC (driver rtw88_8822bu)".
    public var summary: String {
        var text = location + " " + idText
        let name = [manufacturer, product].compactMap { $0 }.joined(separator: " ")
        if !name.isEmpty { text += " " + name }
        let drivers = hostDrivers
        if !drivers.isEmpty { text += " (driver " + drivers.joined(separator: ", ") + ")" }
        return text
    }

    public static func location(bus: UInt8, ports: [UInt8]) -> String {
        guard !ports.isEmpty else { return "usb\(bus)" }  // a root hub's sysfs name
        return "\(bus)-" + ports.map(String.init).joined(separator: ".")
    }
}

private func decimal3(_ value: UInt8) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, 3 - text.count)) + text
}

/// Reads what sysfs knows about USB devices, so listing needs no open.
struct USBSysfs: Sendable {
    /// /sys/bus/usb/devices, or a test directory laid out the same way.
    var devicesDirectory: String

    init(devicesDirectory: String = "/sys/bus/usb/devices") {
        self.devicesDirectory = devicesDirectory
    }

    /// An attribute of a device ("manufacturer", "product", "serial"),
    /// without its trailing newline; nil when absent or empty.
    func attribute(_ name: String, location: String) -> String? {
        guard let text = readTextFile(devicesDirectory + "/" + location + "/" + name) else { return nil }
        let trimmed = String(text.reversed().drop { $0 == "\n" || $0 == " " }.reversed())
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The driver bound to interface `interface` of configuration
    /// `configuration`: the basename of `<location>:<config>.<iface>/driver`.
    func interfaceDriver(location: String, configuration: UInt8, interface: UInt8) -> String? {
        let link = devicesDirectory + "/" + location + ":\(configuration).\(interface)/driver"
        var target = [CChar](repeating: 0, count: 4096)
        let count = readlink(link, &target, target.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.split(separator: "/").last.map(String.init)
    }

    private func readTextFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while bytes.count < 65536 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

enum HostAccessCheck {
    /// access(2) with R_OK|W_OK on the node, as libusb_open needs it.
    static func check(nodePath: String) -> HostUSBAccess {
        guard access(nodePath, R_OK | W_OK) != 0 else { return .granted }
        let error = errno
        let user = currentUserName()
        switch error {
        case EACCES, EPERM:
            return .denied("permission denied for user \(user) on \(nodePath); install packaging/udev/70-airtap.rules or run as root")
        case ENOENT:
            return .denied("\(nodePath) does not exist (usbfs not mounted at /dev/bus/usb?)")
        default:
            return .denied("\(nodePath): \(String(cString: strerror(error)))")
        }
    }

    /// The effective user's name, or "uid N" when it has none.
    static func currentUserName() -> String {
        let uid = geteuid()
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return "uid \(uid)"
    }
}
