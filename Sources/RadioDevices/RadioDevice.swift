// SPDX-License-Identifier: GPL-2.0-only

import Capture
import DriverTable
import LinuxKernel
import USBHost
import Wireless

/// A radio airtap captures from and injects on: a monitor interface inside
/// the kernel library, whatever drives it (mac80211_hwsim today; emulated
/// or real USB adapters through the virtual host controller later). The
/// capture and injection paths only use this protocol.
public protocol RadioDevice: AnyObject {
    /// The name given on the command line ("sim").
    var name: String { get }
    var kernel: Kernel { get }
    var control: WirelessControl { get }
    /// The radio's capabilities, as nl80211 reports them.
    var wiphy: WiphyInfo { get }
    /// The monitor interface frames are captured from and injected on.
    var monitorInterface: WirelessInterface { get }
    /// For the pcapng interface description.
    var interfaceDescription: String { get }
    var currentChannel: ChannelSpec? { get }

    /// Validates `spec` against the radio and tunes to it.
    func tune(_ spec: ChannelSpec) throws
    /// Stops anything the device runs in the background (traffic sources).
    func shutdown()
    /// False once the device is gone (a USB adapter unplugged).
    var isPresent: Bool { get }
    /// The capture loop has its socket and has tuned the first channel:
    /// a timed test unplug (`unplugAfterSeconds`) counts from here, so a
    /// slow machine's setup cannot outlast it.
    func captureDidStart() throws
    /// The capture is dropping frames (true) or has caught up (false):
    /// a USB adapter stops reading ahead so that its chip sheds the excess
    /// (`ReceiveBackpressure`).
    func setReceiveShedding(_ on: Bool)
}

extension RadioDevice {
    public var isPresent: Bool { true }
    public func captureDidStart() throws {}
    public func setReceiveShedding(_ on: Bool) {}

    /// "sim (phy0, wlan0)" for messages.
    public var displayName: String { "\(name) (\(wiphy.name), \(monitorInterface.name))" }

    /// A packet socket on the monitor interface; `filter` runs in the kernel.
    public func makeCapture(
        receiveBufferBytes: Int = 16 << 20, filter: CaptureFilter? = nil, receivePath: PacketReceivePath = .preferred
    ) throws -> PacketCapture {
        try PacketCapture(
            kernel: kernel, interfaceIndex: monitorInterface.index, receiveBufferBytes: receiveBufferBytes, filter: filter,
            receivePath: receivePath)
    }

    public func makeInjector() throws -> PacketInjector {
        try PacketInjector(kernel: kernel, interfaceIndex: monitorInterface.index)
    }
}

/// Choices that apply to every device.
public struct DeviceOptions: Sendable {
    public var monitorFlags: MonitorFlags
    /// Regulatory domain to request before use (nil: keep the world domain).
    public var regulatoryDomain: String?
    /// Whether a simulated device should generate background traffic.
    public var simulatedTraffic: Bool
    /// Kernel RAM in MiB (frames queue in kernel memory).
    public var memoryMiB: Int
    /// USB devices: record every URB of the device to this usbmon pcap file.
    public var usbTracePath: String?
    /// Emulated USB devices: pull the adapter out this many seconds after
    /// the capture starts (surprise removal, for testing what a capture does).
    public var unplugAfterSeconds: Double?
    /// Real USB adapters: where the driver's firmware files are read from.
    public var firmwareDirectory: String
    /// Real USB adapters: split bulk transfers above this size (nil: no cap).
    public var maxBulkTransferBytes: Int?
    /// Simulated devices: the share (0-100 %) of probe responses the air's
    /// access points fail to send (what test-injection then reports).
    public var airAnswerLossPercent: Int = 0
    /// USB devices: receive transfers of airtap's own queued at the device
    /// on streaming bulk IN endpoints beyond the driver's URBs
    /// (`ReadAheadUSBDevice`; depth 0: the driver's URBs only).
    public var readAhead = ReadAheadUSBDevice.Policy.standard
    /// Appended to the kernel command line (tests: `lkl.test_panic_after=2`, ...).
    public var extraKernelCommandLine: String = ""

    public init(
        monitorFlags: MonitorFlags = .capture, regulatoryDomain: String? = nil, simulatedTraffic: Bool = true,
        memoryMiB: Int = 256, usbTracePath: String? = nil, unplugAfterSeconds: Double? = nil,
        firmwareDirectory: String = FirmwareCatalog.defaultDirectory, maxBulkTransferBytes: Int? = nil
    ) {
        self.firmwareDirectory = firmwareDirectory
        self.maxBulkTransferBytes = maxBulkTransferBytes
        self.monitorFlags = monitorFlags
        self.regulatoryDomain = regulatoryDomain
        self.simulatedTraffic = simulatedTraffic
        self.memoryMiB = memoryMiB
        self.usbTracePath = usbTracePath
        self.unplugAfterSeconds = unplugAfterSeconds
    }
}

/// One kind of device the registry knows.
public struct DeviceDescriptor: Sendable {
    public let name: String
    public let summary: String
    /// What the kernel needs on its command line for this device.
    public let kernelCommandLine: String
    /// The device is the whole kernel's (sim: its hwsim radios are the
    /// kernel's only ones), so it cannot share a kernel with other devices.
    public let needsOwnKernel: Bool
    let open: @Sendable (Kernel, DeviceOptions) throws -> any RadioDevice

    public init(
        name: String, summary: String, kernelCommandLine: String, needsOwnKernel: Bool = false,
        open: @escaping @Sendable (Kernel, DeviceOptions) throws -> any RadioDevice
    ) {
        self.name = name
        self.summary = summary
        self.kernelCommandLine = kernelCommandLine
        self.needsOwnKernel = needsOwnKernel
        self.open = open
    }

    /// Opens the device on a kernel booted by the caller (with this
    /// descriptor's `kernelCommandLine`).
    public func open(on kernel: Kernel, options: DeviceOptions) throws -> any RadioDevice {
        try open(kernel, options)
    }

    /// Boots the kernel for this device and opens it.
    public func bootAndOpen(options: DeviceOptions, console: ConsoleSink = .discard) throws -> any RadioDevice {
        let commandLine = [kernelCommandLine, options.extraKernelCommandLine].filter { !$0.isEmpty }.joined(separator: " ")
        let kernel = try Kernel.boot(memoryMiB: options.memoryMiB, commandLine: commandLine, console: console)
        return try open(kernel, options)
    }
}

public enum DeviceError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownDevice(String, valid: [String])
    case setupFailed(device: String, reason: String)
    case removed(device: String)

    public var description: String {
        switch self {
        case .unknownDevice(let name, let valid):
            return "unknown device \"\(name)\"; valid devices: \(valid.joined(separator: ", "))"
        case .setupFailed(let device, let reason):
            return "cannot set up \(device): \(reason)"
        case .removed(let device):
            return "\(device) was unplugged (surprise removal)"
        }
    }
}

/// Devices whose name carries parameters (which USB adapter): the family
/// checks the name and makes the descriptor before the kernel boots.
public struct DeviceFamily: Sendable {
    /// The name forms, for help texts ("usb:VID:PID").
    public let forms: [String]
    /// Whether `name` is meant for this family (even if malformed).
    let claims: @Sendable (String) -> Bool
    let descriptor: @Sendable (String) throws -> DeviceDescriptor

    public init(
        forms: [String], claims: @escaping @Sendable (String) -> Bool,
        descriptor: @escaping @Sendable (String) throws -> DeviceDescriptor
    ) {
        self.forms = forms
        self.claims = claims
        self.descriptor = descriptor
    }
}

/// Every device airtap can open, by name. New kinds (real USB adapters) add
/// a descriptor here; capture and injection need no change.
public enum DeviceRegistry {
    public static let devices: [DeviceDescriptor] = [
        SimulatedRadios.descriptor, EmulatedRTL8187.descriptor, EmulatedRTW88.descriptor(for: .rtl8821au),
        EmulatedRTW88.descriptor(for: .rtl8821cu), StandInUSBAdapter.descriptor,
        StandInUSBAdapter.descriptor(for: .rtl8821au), StandInUSBAdapter.descriptor(for: .rtl8821cu),
    ]

    /// Devices named by pattern (real USB adapters: `usb:VID:PID`, ...).
    public static let families: [DeviceFamily] = [USBAdapterRadio.family]

    /// Names for help texts: the fixed devices and the families' forms.
    public static var names: [String] { devices.map(\.name) + families.flatMap(\.forms) }

    public static func descriptor(named name: String) throws -> DeviceDescriptor {
        if let family = families.first(where: { $0.claims(name) }) {
            return try family.descriptor(name)
        }
        guard let found = devices.first(where: { $0.name == name }) else {
            throw DeviceError.unknownDevice(name, valid: names)
        }
        return found
    }
}

/// Monitor-mode bring-up shared by the USB radios: sets monitor mode with
/// `flags` on the driver's interface and opens it (which runs the driver's
/// start: chip init, receive URBs). Returns the interface as it is now.
func enterMonitorMode(
    _ wlan: WirelessInterface, wiphy: WiphyInfo, control: WirelessControl, flags: MonitorFlags
) throws -> WirelessInterface {
    if flags.contains(.active) && !wiphy.supportsActiveMonitor {
        throw WirelessError.activeMonitorUnsupported(wiphy: wiphy.name)
    }
    if try control.isLinkUp(wlan) { try control.setLinkUp(wlan, up: false) }
    try control.setMonitorMode(wlan, flags: flags)
    try control.setLinkUp(wlan)
    let monitor = try control.interface(named: wlan.name)
    // mac80211 starts a monitor on the band's first channel without asking
    // the driver to tune there (rtw88's radio keeps its RF table's default,
    // center 42 at 80 MHz on the RTL8821AU), so a later request for that
    // channel would change nothing. Two real switches make the chip sit
    // where nl80211 says it is, whatever the default was.
    let usable = wiphy.bands.flatMap(\.frequencies).filter { !$0.flags.contains(.disabled) }.map(\.mhz)
    if usable.count >= 2 {
        try control.setChannel(monitor, to: ChannelSpec(frequency: usable[1]))
        try control.setChannel(monitor, to: ChannelSpec(frequency: usable[0]))
    }
    return monitor
}

/// Polls until a driver has created a wireless interface not in `existing`
/// (by interface index) and returned from its probe, `checkProgress`
/// throws (it knows none will come: the driver gave up), or the deadline
/// passes (nil).
func waitForNewWirelessInterface(
    control: WirelessControl, existing: Set<Int> = [], timeoutSeconds: Double,
    checkProgress: () throws -> Void = {}
) throws -> WirelessInterface? {
    let deadline = HostClock.monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
    while HostClock.monotonicNanoseconds() < deadline {
        if let found = try control.interfaces().first(where: { !existing.contains($0.index) }) {
            control.waitForDriverProbe(found)
            return found
        }
        try checkProgress()
        HostClock.sleep(seconds: 0.005)
    }
    return nil
}
