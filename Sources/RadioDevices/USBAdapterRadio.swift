// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import DriverTable
import HostUSB
import USBDevices
import LinuxKernel
import SimulatedAir
import USBHost
import Wireless

/// `usb`, `usb:VID:PID`, `usb:BUS-PORT`: a real USB Wi-Fi adapter on this
/// host, driven by the kernel's own driver. libusb claims the device from
/// the host (detaching the host's driver), `LibUSBAdapter` plugs it into
/// the virtual host controller with its real descriptors, and its transfers
/// complete from libusb's event thread as the controller's interrupt.
public final class USBAdapterRadio: RadioDevice {
    /// `usb`, `usb:VID:PID`, `usb:BUS-PORT` for the device registry.
    public static let family = DeviceFamily(
        forms: ["usb", "usb:VID:PID", "usb:BUS-PORT"], claims: USBDeviceSelector.looksLikeSelector,
        descriptor: descriptor(selector:))

    /// The descriptor for one selector (checked before the kernel boots).
    public static func descriptor(selector text: String) throws -> DeviceDescriptor {
        let selector = try USBDeviceSelector.parse(text)
        return DeviceDescriptor(
            name: text,
            summary: "a USB Wi-Fi adapter on this host (\(selector)) driven by the kernel's own driver over libusb",
            kernelCommandLine: "mac80211_hwsim.radios=0",
            open: { kernel, options in try USBAdapterRadio(kernel: kernel, selector: selector, options: options) })
    }

    public let name: String
    public let kernel: Kernel
    public let control: WirelessControl
    public let wiphy: WiphyInfo
    public let monitorInterface: WirelessInterface
    public let device: HostUSBDeviceInfo
    /// The driver that bound it (module name, "rtw88_8822bu").
    public let driver: DriverTable.Driver
    public let adapter: LibUSBAdapter
    /// What the controller talks to: the read-ahead layer in front of the adapter.
    public let readAhead: ReadAheadUSBDevice
    public let controller: VirtualHostController
    public let port: Int
    /// From plugging the adapter in to its monitor interface being up.
    public let bringUpSeconds: Double
    public private(set) var currentChannel: ChannelSpec?
    private let context: LibUSBContext?
    /// Stand-in hardware only (`emulated-libusb:rtl8187`): the model's air,
    /// and a way to pull the "device" out behind libusb for --unplug-after.
    private let standInAir: AirTraffic?
    /// Stand-in hardware only: the chip model behind the libusb seam.
    public let standInChip: (any EmulatedChip)?
    private let standInUnplug: (@Sendable () -> Void)?
    private let unplugAfterSeconds: Double?
    private var unplugTimer: JoinableThread?
    private let trace: USBMonitorTraceWriter?
    private let removal: AdapterRemoval

    public var interfaceDescription: String {
        "airtap \(device.idText) \(device.product ?? "USB adapter") at \(device.location): \(wiphy.name) (\(driver.module)) in monitor mode"
    }

    public var isPresent: Bool { removal.isAttached }

    static let firmwareGraceNanoseconds: UInt64 = 5_000_000_000

    /// Opens the adapter `selector` names among this host's USB devices.
    convenience init(kernel: Kernel, selector: USBDeviceSelector, options: DeviceOptions) throws {
        let context = try LibUSBContext()
        try self.init(
            kernel: kernel, selector: selector, options: options, devices: try context.devices(), context: context,
            openAdapter: { device, adapterOptions in try context.open(device, options: adapterOptions) })
    }

    /// Picks the device among `devices`, stages its driver's firmware, opens
    /// it with `openAdapter`, plugs it in and brings the driver's interface
    /// up in monitor mode. `context` (closed at shutdown) owns the devices.
    init(
        kernel: Kernel, selector: USBDeviceSelector, options: DeviceOptions, devices: [HostUSBDeviceInfo],
        context: LibUSBContext?,
        openAdapter: (HostUSBDeviceInfo, LibUSBAdapter.Options) throws -> LibUSBAdapter,
        standInAir: AirTraffic? = nil, standInChip: (any EmulatedChip)? = nil, standInUnplug: (@Sendable () -> Void)? = nil,
        displayName: String? = nil,
        bindTimeoutSeconds: Double = 30
    ) throws {
        self.kernel = kernel
        self.context = context
        self.standInAir = standInAir
        self.standInChip = standInChip
        self.standInUnplug = standInUnplug
        unplugAfterSeconds = options.unplugAfterSeconds
        let table = try DriverTable.load(from: kernel)
        let chosen = try selector.select(from: devices) { table.wirelessDriver(for: $0.identity) != nil }
        guard let driver = table.wirelessDriver(for: chosen.identity) else {
            let known = table.candidates(for: chosen.identity).map(\.module)
            throw DeviceError.setupFailed(
                device: selector.description,
                reason: "\(chosen.summary) is not a USB Wi-Fi adapter any built-in driver binds"
                    + (known.isEmpty ? "" : " (drivers that know it: \(known.joined(separator: ", ")))")
                    + "; `airtap list` shows which adapters are supported")
        }
        name = displayName ?? "usb:\(chosen.location)"
        device = chosen
        self.driver = driver

        // Firmware: the driver asks for files by name through the kernel's
        // loader, which reads the library's own /lib/firmware. Copy there
        // what the host has of what the driver declares.
        let catalog = FirmwareCatalog(directory: options.firmwareDirectory, builtIn: table.builtInFirmware)
        try Self.stageFirmware(driver.firmware, from: catalog, into: kernel, deviceName: name)

        control = try WirelessControl(kernel: kernel)
        if let code = options.regulatoryDomain {
            _ = try control.setRegulatoryDomain(code)
        }
        do {
            trace = try options.usbTracePath.map { try USBMonitorTraceWriter(path: $0) }
        } catch {
            throw DeviceError.setupFailed(device: name, reason: "\(error)")
        }
        controller = VirtualHostController(trace: trace)
        // Other devices on this kernel have interfaces already: wait for ours.
        let existing = Set(try control.interfaces().map(\.index))
        adapter = try openAdapter(chosen, LibUSBAdapter.Options(maxBulkTransferBytes: options.maxBulkTransferBytes))

        readAhead = ReadAheadUSBDevice(wrapping: adapter, policy: options.readAhead)
        let start = HostClock.monotonicNanoseconds()
        do {
            port = try controller.attach(readAhead)
        } catch {
            adapter.close()
            throw DeviceError.setupFailed(device: name, reason: "cannot plug the adapter into the virtual host controller: \(error)")
        }
        let removal = AdapterRemoval(
            controller: controller, port: port, deviceName: name)
        self.removal = removal
        adapter.onRemoval = { removal.unplugSoon() }

        let deviceName = name
        let kernelLog = { kernel.consoleLog }
        let found: WirelessInterface?
        // A driver may try another file after a failed one (older firmware
        // names): a failure decides only if nothing binds within a grace period.
        var firstFirmwareFailure: UInt64?
        do {
            found = try waitForNewWirelessInterface(control: control, existing: existing, timeoutSeconds: bindTimeoutSeconds) {
                if let missing = FirmwareCatalog.missingFiles(inKernelLog: kernelLog()) {
                    let now = HostClock.monotonicNanoseconds()
                    if now - (firstFirmwareFailure ?? now) > Self.firmwareGraceNanoseconds {
                        throw MissingFirmwareError(driver: driver.module, files: missing, directory: catalog.directory)
                    }
                    firstFirmwareFailure = firstFirmwareFailure ?? now
                }
                if !removal.isAttached { throw DeviceError.removed(device: deviceName) }
            }
        } catch {
            Self.release(removal: removal, adapter: adapter)
            throw error
        }
        guard let wlan = found else {
            Self.release(removal: removal, adapter: adapter)
            if let missing = FirmwareCatalog.missingFiles(inKernelLog: kernel.consoleLog) {
                throw MissingFirmwareError(driver: driver.module, files: missing, directory: catalog.directory)
            }
            throw DeviceError.setupFailed(
                device: name,
                reason: "\(driver.module) created no wlan interface within \(Int(bindTimeoutSeconds)) s of plugging "
                    + "\(chosen.summary) in (run with --verbose for the kernel log)\n"
                    + "--- kernel log tail ---\n\(kernel.consoleLog.suffixLines(25))")
        }
        do {
            wiphy = try control.wiphy(index: wlan.wiphy)
            monitorInterface = try enterMonitorMode(wlan, wiphy: wiphy, control: control, flags: options.monitorFlags)
        } catch {
            Self.release(removal: removal, adapter: adapter)
            throw error
        }
        bringUpSeconds = Double(HostClock.monotonicNanoseconds() - start) / 1e9
    }

    public func setReceiveShedding(_ on: Bool) { readAhead.setShedding(on) }

    public func tune(_ spec: ChannelSpec) throws {
        try wiphy.validate(spec, deviceName: "\(name) (\(wiphy.name))")
        try control.setChannel(monitorInterface, to: spec)
        currentChannel = spec
        standInAir?.start()
    }

    public func captureDidStart() throws {
        if let unplugAfterSeconds, let standInUnplug, unplugTimer == nil {
            unplugTimer = try JoinableThread {
                HostClock.sleep(seconds: unplugAfterSeconds)
                standInUnplug()
            }
        }
    }

    public func shutdown() {
        unplugTimer?.join()
        unplugTimer = nil
        Self.release(removal: removal, adapter: adapter)
        trace?.flush()
        try? trace?.close()
        context?.close()
    }

    /// Unplugs from the virtual controller (the driver's disconnect runs),
    /// then gives the device back to the host.
    private static func release(removal: AdapterRemoval, adapter: LibUSBAdapter) {
        try? removal.unplug()
        removal.waitForUnplug()
        adapter.close()
    }

    /// Copies the driver's firmware files the host has into the library's
    /// /lib/firmware (the kernel loader's search path): for each declared
    /// file, the name in its load order the host has (rtw89 falls back to
    /// older firmware formats, FirmwareCatalog.loadOrder).
    static func stageFirmware(_ files: [String], from catalog: FirmwareCatalog, into kernel: Kernel, deviceName: String) throws {
        for declared in files where !catalog.builtIn.contains(declared) {
            guard let file = catalog.resolvedFile(for: declared) else { continue }
            let target = "/lib/firmware/" + file
            do {
                let bytes = try catalog.contents(of: file)
                if let slash = target.lastIndex(of: "/") { try kernel.makeDirectories(String(target[..<slash])) }
                try kernel.writeFile(target, bytes)
            } catch {
                throw DeviceError.setupFailed(
                    device: deviceName, reason: "cannot copy firmware \(file) from \(catalog.directory): \(error)")
            }
        }
    }
}

/// `emulated-libusb:rtl8187`, `emulated-libusb:rtl8821au`, ...: the
/// real-adapter path (`USBAdapterRadio`, `LibUSBAdapter`, completions from
/// a libusb-style event thread, removal reported as NO_DEVICE, firmware
/// staged from a firmware directory) with a device model standing in for
/// the hardware behind the libusb seam. For tests of that path without USB.
public enum StandInUSBAdapter {
    public static let descriptor = descriptor(
        name: "emulated-libusb:rtl8187", modelName: "the RTL8187L model",
        makeModel: { RTL8187Model(options: RTL8187Model.Options(air: .shared)) })

    /// `recordsTransmittedFrames` off for benchmarks (counting only).
    public static func descriptor(for chip: RTW88Chip, recordsTransmittedFrames: Bool = true) -> DeviceDescriptor {
        descriptor(
            name: "emulated-libusb:\(chip.name)", modelName: "the \(chip.name.uppercased()) model",
            makeModel: {
                RTW88Model(chip: chip, options: RTW88Model.Options(recordsTransmittedFrames: recordsTransmittedFrames, air: .shared))
            },
            firmware: [chip.firmwarePath: chip.syntheticFirmware()])
    }

    /// `firmware`: files (path below /lib/firmware -> bytes) the driver
    /// will ask for; they are staged the way a real adapter's are, from a
    /// firmware directory made for this run.
    static func descriptor(
        name: String, modelName: String, makeModel: @escaping @Sendable () -> any USBDevice & EmulatedChip,
        firmware: [String: [UInt8]] = [:]
    ) -> DeviceDescriptor {
        DeviceDescriptor(
            name: name,
            summary: "\(modelName) behind airtap's libusb adapter layer (the real-adapter code path without hardware)",
            kernelCommandLine: "mac80211_hwsim.radios=0",
            open: { kernel, options in
                var options = options
                if !firmware.isEmpty { options.firmwareDirectory = try standInFirmwareDirectory(firmware, deviceName: name) }
                // Staged into the kernel's /lib/firmware before the adapter binds: not needed after.
                defer { if !firmware.isEmpty { try? FileManager.default.removeItem(atPath: options.firmwareDirectory) } }
                let model = makeModel()
                let adapter = try LibUSBAdapter.overModel(
                    model, options: LibUSBAdapter.Options(maxBulkTransferBytes: options.maxBulkTransferBytes))
                let standIn = adapter.modelStandIn
                return try USBAdapterRadio(
                    kernel: kernel, selector: .firstSupported, options: options, devices: [adapter.info], context: nil,
                    openAdapter: { _, _ in adapter },
                    standInAir: options.simulatedTraffic ? EmulatedAir.traffic(on: .shared, answerLossPercent: options.airAnswerLossPercent) : nil,
                    standInChip: model, standInUnplug: { standIn?.unplug() }, displayName: name)
            })
    }

    /// A private directory holding `files`, as a host's /lib/firmware would.
    static func standInFirmwareDirectory(_ files: [String: [UInt8]], deviceName: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-firmware-\(getpid())")
        do {
            for (path, bytes) in files {
                let url = directory.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(bytes).write(to: url)
            }
        } catch {
            throw DeviceError.setupFailed(device: deviceName, reason: "cannot write the synthetic firmware into \(directory.path): \(error)")
        }
        return directory.path
    }
}

extension HostUSBDeviceInfo {
    /// What the kernel's ID matching looks at.
    public var identity: USBDeviceIdentity {
        USBDeviceIdentity(
            vendorID: vendorID, productID: productID, bcdDevice: deviceVersion, deviceClass: deviceClass,
            deviceSubclass: deviceSubClass, deviceProtocol: deviceProtocol,
            interfaces: interfaces.map {
                USBInterfaceIdentity(
                    number: $0.number, interfaceClass: $0.interfaceClass, interfaceSubclass: $0.interfaceSubClass,
                    interfaceProtocol: $0.interfaceProtocol)
            })
    }
}
