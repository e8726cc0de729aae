// SPDX-License-Identifier: GPL-2.0-only

import DriverTable
import HostUSB
import RadioDevices

/// One airtap device as Wireshark sees it: an extcap interface.
struct ExtcapInterface: Equatable {
    /// The extcap interface name: "airtap-" + the --device name.
    var value: String
    var display: String
    var deviceName: String

    static let prefix = "airtap-"

    init(deviceName: String, display: String) {
        self.deviceName = deviceName
        value = Self.prefix + deviceName
        self.display = display
    }

    /// The --device name an interface value stands for.
    static func deviceName(forInterface value: String) throws -> String {
        guard value.hasPrefix(prefix), value.count > prefix.count else {
            throw ExtcapError.unknownInterface(value)
        }
        return String(value.dropFirst(prefix.count))
    }
}

enum ExtcapError: Error, CustomStringConvertible {
    case unknownInterface(String)
    case missingArgument(String, for: String)
    case missingInterface(String)

    var description: String {
        switch self {
        case .unknownInterface(let value):
            return "\"\(value)\" is not an airtap interface (they are named \(ExtcapInterface.prefix)DEVICE, "
                + "e.g. \(ExtcapInterface.prefix)sim; airtap --extcap-interfaces lists them)"
        case .missingArgument(let argument, let step):
            return "\(step) needs \(argument) (Wireshark passes it; to run by hand see airtap extcap --help)"
        case .missingInterface(let step):
            return "\(step) needs --extcap-interface NAME (one of airtap --extcap-interfaces)"
        }
    }
}

/// The sentences of the extcap protocol (extcap(4), Wireshark's
/// doc/extcap.adoc): interfaces, link types and configuration arguments.
enum ExtcapSentences {
    /// The extcap protocol version airtap speaks, for Wireshark's About box.
    static let version = "1.0"

    /// Every device airtap can open now: the fixed ones of the registry,
    /// and each USB adapter on this host that a built-in driver supports.
    static func interfaces(usbWarning: (String) -> Void) -> [ExtcapInterface] {
        var interfaces = DeviceRegistry.devices.map {
            ExtcapInterface(deviceName: $0.name, display: "airtap \($0.name): 802.11 monitor mode")
        }
        interfaces += usbAdapters(warning: usbWarning)
        return interfaces
    }

    /// Supported USB adapters present, as `usb:BUS-PORT` (stable while
    /// plugged in, unlike VID:PID with two alike adapters).
    static func usbAdapters(warning: (String) -> Void) -> [ExtcapInterface] {
        guard LibUSBContext.machineHasUSB else { return [] }
        do {
            let context = try LibUSBContext()
            defer { context.close() }
            let devices = try context.devices()
            guard !devices.isEmpty else { return [] }
            // The driver table comes from the library itself (one short boot;
            // Wireshark runs this listing in its own process).
            let table = try loadDriverTable()
            return devices.compactMap { device in
                guard let driver = table.wirelessDriver(for: device.identity) else { return nil }
                let product = [device.manufacturer, device.product].compactMap { $0 }.joined(separator: " ")
                return ExtcapInterface(
                    deviceName: "usb:\(device.location)",
                    display: "airtap \(product.isEmpty ? "USB adapter" : product) \(device.idText) at \(device.location): \(driver.module)")
            }
        } catch {
            warning("airtap: cannot list USB adapters: \(error)")
            return []
        }
    }

    static func interfaceList(_ interfaces: [ExtcapInterface]) -> String {
        var lines = ["extcap {version=\(version)}"]
        for interface in interfaces {
            lines.append("interface {value=\(escape(interface.value))}{display=\(escape(interface.display))}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Radiotap is the only link type airtap captures.
    static let linkTypes = "dlt {number=127}{name=IEEE802_11_RADIO}{display=802.11 plus radiotap header}\n"

    static let defaultChannel = "6"
    static let defaultHopInterval = 0.5

    static let monitorFlagChoices: [(value: String, display: String, onByDefault: Bool)] = [
        ("fcsfail", "Frames with a bad FCS", true),
        ("plcpfail", "Frames with a bad PLCP", false),
        ("control", "Control frames", true),
        ("otherbss", "Other networks' frames (no BSSID filter)", true),
        ("active", "Active monitor (acknowledge frames to this MAC)", false),
    ]

    /// The configuration dialog: what `--capture` is then called with.
    static func configuration() -> String {
        var lines: [String] = []
        // A string, not a selector: any `--channel` syntax may be typed (and
        // Wireshark 4.0 has no editable selector); the device checks it.
        lines.append(
            "arg {number=0}{call=--channel}{display=Channel(s)}{type=string}{default=\(defaultChannel)}"
                + "{tooltip=A channel (6, 36), a frequency in MHz (2437), with a width (6:ht40+, 36:80), or several to hop: 1,6,11}"
                + "{validation=^[0-9a-zA-Z:+,-]+$}{required=true}{group=Capture}")
        lines.append(
            "arg {number=1}{call=--hop-interval}{display=Hop interval (s)}{type=double}{default=\(defaultHopInterval)}"
                + "{range=0.01,3600}{tooltip=Seconds on each channel when several are given}{group=Capture}")
        lines.append(
            "arg {number=2}{call=--regdomain}{display=Regulatory domain}{type=string}{placeholder=00 (world)}"
                + "{tooltip=ISO 3166 alpha-2 country code (US, DE, JP) applied before tuning; empty: the world domain}"
                + "{validation=^([A-Za-z]{2}|00)?$}{group=Radio}")
        lines.append(
            "arg {number=3}{call=--monitor-flags}{display=Monitor flags}{type=multicheck}"
                + "{tooltip=What the monitor interface passes up (iw's monitor flags)}{group=Radio}")
        for choice in monitorFlagChoices {
            lines.append("value {arg=3}{value=\(choice.value)}{display=\(choice.display)}{default=\(choice.onByDefault)}")
        }
        lines.append(
            "arg {number=4}{call=--time-stamp-precision}{display=Timestamp precision}{type=selector}"
                + "{tooltip=pcapng timestamp units}{group=Capture}")
        lines.append("value {arg=4}{value=micro}{display=Microseconds (as dumpcap)}{default=true}")
        lines.append("value {arg=4}{value=nano}{display=Nanoseconds}{default=false}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Braces end a field in these sentences; keep them out of values.
    static func escape(_ text: String) -> String {
        String(text.map { $0 == "{" ? "(" : $0 == "}" ? ")" : $0 })
    }
}
