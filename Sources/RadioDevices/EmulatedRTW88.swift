// SPDX-License-Identifier: GPL-2.0-only

import Capture
import DriverTable
import LinuxKernel
import SimulatedAir
import USBDevices
import USBHost
import Wireless

/// `emulated:rtl8821au`, `emulated:rtl8821cu`: the kernel's unmodified
/// rtw88 driver (rtw88_8821au, rtw88_8821cu) on a software Realtek chip
/// (`RTW88Model`) plugged into the virtual USB host controller, on the
/// simulated air every emulated adapter of the process shares. Firmware is
/// a synthetic file airtap generates; Realtek's is never needed.
public final class EmulatedRTW88: RadioDevice {
    public static func descriptor(for chip: RTW88Chip) -> DeviceDescriptor {
        DeviceDescriptor(
            name: "emulated:\(chip.name)",
            summary: "an emulated \(chip.name.uppercased()) USB adapter (\(hexString(chip.vendorID, digits: 4)):"
                + "\(hexString(chip.productID, digits: 4))) driven by the kernel's rtw88 driver through the virtual USB "
                + "host controller, on 2.4 and 5 GHz at 20/40/80 MHz",
            kernelCommandLine: "mac80211_hwsim.radios=0",
            open: { kernel, options in try EmulatedRTW88(kernel: kernel, chip: chip, options: options) })
    }

    public let name: String
    public let kernel: Kernel
    public let control: WirelessControl
    public let wiphy: WiphyInfo
    public let monitorInterface: WirelessInterface
    public let model: RTW88Model
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
        "airtap \(name): \(wiphy.name) (\(Self.driverModule(model.chip)) on the virtual USB host controller) in monitor mode"
    }

    public var isPresent: Bool { removal.isAttached }

    static func driverModule(_ chip: RTW88Chip) -> String {
        switch chip.family {
        case .jaguar8821a: "rtw88_8821au"
        case .halmac8821c: "rtw88_8821cu"
        }
    }

    public convenience init(kernel: Kernel, chip: RTW88Chip, options: DeviceOptions) throws {
        try self.init(kernel: kernel, chip: chip, options: options, modelOptions: RTW88Model.Options(air: .shared))
    }

    /// Writes the synthetic firmware into the library's /lib/firmware,
    /// plugs the model in, waits for the driver's wlan interface, checks
    /// its MAC against the efuse's and brings it up in monitor mode.
    public init(
        kernel: Kernel, chip: RTW88Chip, options: DeviceOptions, modelOptions: RTW88Model.Options,
        bindTimeoutSeconds: Double = 20,
        /// What is plugged in: the model itself, or a device in front of it
        /// (the fuzzer's, which feeds the driver's receive URBs itself).
        inFrontOfModel: (@Sendable (RTW88Model) -> any USBDevice)? = nil
    ) throws {
        let name = "emulated:\(chip.name)"
        self.name = name
        self.kernel = kernel
        let control = try WirelessControl(kernel: kernel)
        self.control = control
        if let code = options.regulatoryDomain {
            _ = try control.setRegulatoryDomain(code)
        }
        do {
            let path = "/lib/firmware/" + chip.firmwarePath
            try kernel.makeDirectories(String(path[..<path.lastIndex(of: "/")!]))
            try kernel.writeFile(path, chip.syntheticFirmware())
            trace = try options.usbTracePath.map { try USBMonitorTraceWriter(path: $0) }
        } catch {
            throw DeviceError.setupFailed(device: name, reason: "\(error)")
        }
        controller = VirtualHostController(trace: trace)
        unplugAfterSeconds = options.unplugAfterSeconds
        model = RTW88Model(chip: chip, options: modelOptions)
        let existing = Set(try control.interfaces().map(\.index))

        readAhead = ReadAheadUSBDevice(
            wrapping: inFrontOfModel?(model) ?? model, policy: options.readAhead)
        let start = HostClock.monotonicNanoseconds()
        do {
            port = try controller.attach(readAhead)
        } catch {
            throw DeviceError.setupFailed(device: name, reason: "cannot plug the adapter in: \(error)")
        }
        let found = try waitForNewWirelessInterface(control: control, existing: existing, timeoutSeconds: bindTimeoutSeconds)
        guard let wlan = found else {
            throw DeviceError.setupFailed(
                device: name,
                reason: "no wlan interface appeared within \(Int(bindTimeoutSeconds)) s of plugging the \(chip.name) model "
                    + "into port \(port) (run with --verbose for the kernel log)\n"
                    + "--- kernel log tail ---\n\(kernel.consoleLog.suffixLines(25))")
        }
        guard wlan.macAddress == modelOptions.macAddress else {
            throw DeviceError.setupFailed(
                device: name,
                reason: "the driver's interface \(wlan.name) has MAC \(wlan.macAddressText), but the model's efuse holds "
                    + "\(modelOptions.macAddress.map { hexString($0, digits: 2) }.joined(separator: ":")): the efuse read went wrong")
        }
        wiphy = try control.wiphy(index: wlan.wiphy)
        monitorInterface = try enterMonitorMode(wlan, wiphy: wiphy, control: control, flags: options.monitorFlags)
        bringUpSeconds = Double(HostClock.monotonicNanoseconds() - start) / 1e9
        traffic = options.simulatedTraffic ? modelOptions.air.map { EmulatedAir.traffic(on: $0, answerLossPercent: options.airAnswerLossPercent) } : nil
        removal = AdapterRemoval(controller: controller, port: port, deviceName: name)
    }

    public func setReceiveShedding(_ on: Bool) { readAhead.setShedding(on) }

    public func tune(_ spec: ChannelSpec) throws {
        try wiphy.validate(spec, deviceName: "\(name) (\(wiphy.name))")
        try control.setChannel(monitorInterface, to: spec)
        // rtw_set_channel writes RF 0x18 and DATA_SC before nl80211 answers.
        guard let tuned = model.tunedChannel, tuned.primaryMHz == spec.frequency,
            tuned.widthMHz == spec.width.widthMHz
        else {
            throw DeviceError.setupFailed(
                device: name,
                reason: "asked for \(spec) but the \(model.chip.name) model is tuned to "
                    + "\(model.tunedChannel.map(String.init(describing:)) ?? "nothing") (RF 0x18 = 0x"
                    + "\(String(model.rfRegister(0x18), radix: 16)), DATA_SC = 0x\(String(model.register32(0x480) >> 24, radix: 16)))")
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

/// The stations of the air the emulated adapters share: one set per air,
/// started by the first adapter that tunes and running until the process ends.
enum EmulatedAir {
    private static let running = HostMutex<[ObjectIdentifier: AirTraffic]>([:])

    /// The first adapter on an air decides its answer loss.
    static func traffic(on air: SimulatedAir, answerLossPercent: Int = 0) -> AirTraffic {
        running.withLock { running in
            if let traffic = running[ObjectIdentifier(air)] { return traffic }
            let traffic = AirTraffic(air: air, answerLossPercent: answerLossPercent)
            running[ObjectIdentifier(air)] = traffic
            return traffic
        }
    }
}
