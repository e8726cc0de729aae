// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// Which real USB device to use, as given on the command line.
///
/// * `usb`: the first plugged-in device the program has a driver for
/// * `usb:VID:PID`: by IDs, four hex digits each (`usb:0bda:b812`)
/// * `usb:BUS-PORT[.PORT...]`: by where it is plugged in (`usb:1-2.3`),
///   the name sysfs and `lsusb -t` use; stable across replugs into the
///   same port, unlike the device address
public enum USBDeviceSelector: Sendable, Equatable, Hashable, CustomStringConvertible {
    case firstSupported
    case ids(vendorID: UInt16, productID: UInt16)
    case location(bus: UInt8, ports: [UInt8])

    /// Parses one of the three forms; throws `.invalidSelector` naming the text.
    public static func parse(_ text: String) throws(HostUSBError) -> USBDeviceSelector {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard fields.first?.lowercased() == "usb" else { throw .invalidSelector(text) }
        switch fields.count {
        case 1:
            return .firstSupported
        case 2:
            guard let (bus, ports) = parseLocation(fields[1]) else { throw .invalidSelector(text) }
            return .location(bus: bus, ports: ports)
        case 3:
            guard let vendor = parseID(fields[1]), let product = parseID(fields[2]) else { throw .invalidSelector(text) }
            return .ids(vendorID: vendor, productID: product)
        default:
            throw .invalidSelector(text)
        }
    }

    /// Whether `text` is meant as a USB selector (starts with "usb"), so a
    /// caller can tell it from other device names before parsing.
    public static func looksLikeSelector(_ text: String) -> Bool {
        text.lowercased() == "usb" || text.lowercased().hasPrefix("usb:")
    }

    public var description: String {
        switch self {
        case .firstSupported: return "usb"
        case .ids(let vendor, let product): return "usb:" + hexString(vendor, digits: 4) + ":" + hexString(product, digits: 4)
        case .location(let bus, let ports): return "usb:" + HostUSBDeviceInfo.location(bus: bus, ports: ports)
        }
    }

    public func matches(_ device: HostUSBDeviceInfo) -> Bool {
        switch self {
        case .firstSupported: return true
        case .ids(let vendor, let product): return device.vendorID == vendor && device.productID == product
        case .location(let bus, let ports): return device.busNumber == bus && device.portPath == ports
        }
    }

    /// The device this selector names among `devices` (in their order).
    /// `isSupported` decides what `usb` may pick; the explicit forms take
    /// any matching device, supported or not (the caller checks drivers).
    public func select(
        from devices: [HostUSBDeviceInfo], isSupported: (HostUSBDeviceInfo) -> Bool
    ) throws(HostUSBError) -> HostUSBDeviceInfo {
        guard !devices.isEmpty else { throw .noUSBDevices }
        let candidates = devices.filter(matches)
        switch self {
        case .firstSupported:
            guard let device = candidates.first(where: isSupported) else {
                throw .noSupportedDevice(present: devices.map(\.summary))
            }
            return device
        case .ids, .location:
            guard let device = candidates.first else {
                throw .noMatchingDevice(selector: description, present: devices.map(\.summary))
            }
            return device
        }
    }

    /// Exactly four hex digits.
    private static func parseID(_ text: String) -> UInt16? {
        guard text.count == 4, text.allSatisfy(\.isHexDigit) else { return nil }
        return UInt16(text, radix: 16)
    }

    /// "1-2.3": bus 1...255, then 1 to 7 ports (USB's hub depth limit) of 1...255.
    private static func parseLocation(_ text: String) -> (UInt8, [UInt8])? {
        let halves = text.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2, let bus = decimalByte(halves[0]), bus > 0 else { return nil }
        let portTexts = halves[1].split(separator: ".", omittingEmptySubsequences: false)
        guard (1...7).contains(portTexts.count) else { return nil }
        var ports: [UInt8] = []
        for portText in portTexts {
            guard let port = decimalByte(portText), port > 0 else { return nil }
            ports.append(port)
        }
        return (bus, ports)
    }

    private static func decimalByte(_ text: Substring) -> UInt8? {
        guard (1...3).contains(text.count), text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return nil }
        return UInt8(text)
    }
}
