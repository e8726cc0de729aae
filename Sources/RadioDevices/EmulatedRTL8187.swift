// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import SimulatedAir
import Synchronization
import USBDevices
import USBHost
import Wireless

/// `emulated:rtl8187`: the kernel's own rtl8187 driver on a software
/// RTL8187L (`RTL8187Model`) plugged into the virtual USB host controller,
/// the whole USB path without hardware. Its air carries the same kind of
/// traffic as sim's peer (beacons, probe requests, data of a few networks),
/// each network on its own channel.
public final class EmulatedRTL8187: RadioDevice {
    public static let descriptor = DeviceDescriptor(
        name: "emulated:rtl8187",
        summary: "an emulated RTL8187L USB adapter (0bda:8187) driven by the kernel's rtl8187 driver through the "
            + "virtual USB host controller; its air carries beacons, probe requests and data of a few networks",
        // No hwsim radios: the adapter's wiphy is the only one.
        kernelCommandLine: "mac80211_hwsim.radios=0",
        open: { kernel, options in try EmulatedRTL8187(kernel: kernel, options: options) })

    public let name = "emulated:rtl8187"
    public let kernel: Kernel
    public let control: WirelessControl
    public let wiphy: WiphyInfo
    public let monitorInterface: WirelessInterface
    public let model: RTL8187Model
    public let controller: VirtualHostController
    /// What the controller talks to: the read-ahead layer in front of the model.
    public let readAhead: ReadAheadUSBDevice
    public let port: Int
    /// From plugging the adapter in to its monitor interface being up.
    public let bringUpSeconds: Double
    public private(set) var currentChannel: ChannelSpec?
    private let trace: USBMonitorTraceWriter?
    private let traffic: AirTraffic?
    private let removal: AdapterRemoval
    private let unplugAfterSeconds: Double?

    public var interfaceDescription: String {
        "airtap \(name): \(wiphy.name) (rtl8187 on the virtual USB host controller) in monitor mode"
    }

    public var isPresent: Bool { removal.isAttached }

    public convenience init(kernel: Kernel, options: DeviceOptions) throws {
        try self.init(kernel: kernel, options: options, modelOptions: RTL8187Model.Options(air: .shared))
    }

    /// Plugs a model in, waits for the driver's wlan interface, checks its
    /// MAC address against the EEPROM's, and brings it up in monitor mode.
    public init(
        kernel: Kernel, options: DeviceOptions, modelOptions: RTL8187Model.Options,
        bindTimeoutSeconds: Double = 15,
        /// What is plugged in: the model itself, or a device in front of it
        /// (the fuzzer's, which feeds the driver's receive URBs itself).
        inFrontOfModel: (@Sendable (RTL8187Model) -> any USBDevice)? = nil
    ) throws {
        self.kernel = kernel
        let control = try WirelessControl(kernel: kernel)
        self.control = control
        if let code = options.regulatoryDomain {
            _ = try control.setRegulatoryDomain(code)
        }
        do {
            trace = try options.usbTracePath.map { try USBMonitorTraceWriter(path: $0) }
        } catch {
            throw DeviceError.setupFailed(device: "emulated:rtl8187", reason: "\(error)")
        }
        controller = VirtualHostController(trace: trace)
        unplugAfterSeconds = options.unplugAfterSeconds
        model = RTL8187Model(options: modelOptions)

        let existing = Set(try control.interfaces().map(\.index))
        readAhead = ReadAheadUSBDevice(
            wrapping: inFrontOfModel?(model) ?? model, policy: options.readAhead)
        let start = HostClock.monotonicNanoseconds()
        do {
            port = try controller.attach(readAhead)
        } catch {
            throw DeviceError.setupFailed(device: "emulated:rtl8187", reason: "cannot plug the adapter in: \(error)")
        }
        let found = try waitForNewWirelessInterface(control: control, existing: existing, timeoutSeconds: bindTimeoutSeconds)
        guard let wlan = found else {
            throw DeviceError.setupFailed(
                device: "emulated:rtl8187",
                reason: "no wlan interface appeared within \(Int(bindTimeoutSeconds)) s of plugging the RTL8187 model into "
                    + "port \(port) (is CONFIG_RTL8187=y in the kernel library? run with --verbose for the kernel log)\n"
                    + "--- kernel log tail ---\n\(kernel.consoleLog.suffixLines(25))")
        }
        guard wlan.macAddress == modelOptions.macAddress else {
            throw DeviceError.setupFailed(
                device: "emulated:rtl8187",
                reason: "the driver's interface \(wlan.name) has MAC \(wlan.macAddressText), but the model's EEPROM holds "
                    + "\(modelOptions.macAddress.map { hexString($0, digits: 2) }.joined(separator: ":")): the EEPROM read went wrong")
        }
        wiphy = try control.wiphy(index: wlan.wiphy)
        monitorInterface = try enterMonitorMode(wlan, wiphy: wiphy, control: control, flags: options.monitorFlags)
        bringUpSeconds = Double(HostClock.monotonicNanoseconds() - start) / 1e9
        traffic = options.simulatedTraffic ? modelOptions.air.map { EmulatedAir.traffic(on: $0, answerLossPercent: options.airAnswerLossPercent) } : nil
        removal = AdapterRemoval(controller: controller, port: port, deviceName: "emulated:rtl8187")
    }

    public func setReceiveShedding(_ on: Bool) { readAhead.setShedding(on) }

    public func tune(_ spec: ChannelSpec) throws {
        try wiphy.validate(spec, deviceName: "\(name) (\(wiphy.name))")
        try control.setChannel(monitorInterface, to: spec)
        // rtl8187_config writes RTL8225 register 7 before nl80211 answers.
        let expected = spec.channelNumber
        guard model.tunedChannel == expected else {
            throw DeviceError.setupFailed(
                device: name,
                reason: "asked for channel \(spec) but the RTL8225 model was tuned to "
                    + "\(model.tunedChannel.map(String.init) ?? "nothing") (RF register 7 = 0x\(String(model.rfRegisters[7], radix: 16)))")
        }
        currentChannel = spec
        traffic?.start()
    }

    public func captureDidStart() throws {
        try removal.scheduleUnplug(after: unplugAfterSeconds)
    }

    /// Surprise removal: pulls the adapter out with its URBs pending.
    public func unplug() throws {
        try removal.unplug()
    }

    public func shutdown() {
        removal.shutDown(trace: trace)
    }
}

extension String {
    func suffixLines(_ count: Int) -> String {
        split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
    }
}
