// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import DriverTable
import LinuxKernel
import RadioDevices
import USBHost
import Wireless

/// Options shared by the commands that open a device.
struct DeviceArguments: ParsableArguments {
    @Option(
        name: [.customShort("d"), .customLong("device")],
        help: ArgumentHelp(
            "Device to use (\(DeviceRegistry.names.joined(separator: ", "))). `capture` takes several "
                + "(--device A --device B): one kernel, one pcapng interface per device."))
    var devices: [String]

    /// The device of commands that open one (`descriptor()` checks there is one).
    var device: String {
        get { devices.first ?? "" }
        set { devices = [newValue] }
    }

    @Option(
        name: .customLong("monitor-flags"),
        help: "Monitor flags, comma-separated: fcsfail, plcpfail, control, otherbss, active.")
    var monitorFlags = "fcsfail,control,otherbss"

    @Option(
        name: .customLong("regdomain"),
        help: "Regulatory domain to apply first (ISO alpha-2, e.g. US); default: the world domain (00).")
    var regulatoryDomain: String?

    @Option(name: .customLong("memory"), help: "Kernel RAM in MiB.")
    var memoryMiB = 256

    @Option(name: .customLong("usb-trace"), help: "USB devices: write every URB to this usbmon pcap file (tshark/wireshark read it).")
    var usbTrace: String?

    @Option(
        name: .customLong("unplug-after"),
        help: ArgumentHelp("Emulated USB devices: unplug the adapter this many seconds after the capture starts (surprise-removal test).", visibility: .hidden))
    var unplugAfter: Double?

    @Option(
        name: .customLong("unplug-device-after"),
        help: ArgumentHelp(
            "Emulated USB devices: unplug only this one, NAME=SECONDS after the capture starts (NAME as given to --device, "
                + "or its position: 2=1.5); repeatable (surprise-removal test of one device of several).",
            visibility: .hidden))
    var unplugDeviceAfter: [String] = []

    @Option(
        name: .customLong("firmware-dir"),
        help: "USB adapters: directory the driver's firmware files are read from.")
    var firmwareDirectory = FirmwareCatalog.defaultDirectory

    @Option(
        name: .customLong("usb-max-transfer"),
        help: "USB adapters: split bulk transfers larger than this many bytes (for hosts that cannot complete large ones, e.g. 16384).")
    var maxBulkTransferBytes: Int?

    @Option(
        name: .customLong("usb-read-ahead"),
        help: "USB adapters: receive transfers airtap keeps queued at the adapter per streaming endpoint beyond the driver's URBs (0: the driver's URBs only; each holds one URB's size, 32 KiB for rtw88).")
    var usbReadAhead = ReadAheadUSBDevice.Policy.standard.depth

    @Option(
        name: .customLong("air-loss"),
        help: "Simulated devices (sim, emulated:*): percent of probe responses the air's access points fail to send (0-100).")
    var airLossPercent = 0

    @Option(
        name: .customLong("kernel-args"),
        help: ArgumentHelp("Extra kernel command line (tests: lkl.test_panic_after=S, lkl.test_oops_after=S, lkl.test_hang_after=S).", visibility: .hidden))
    var kernelArguments = ""

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    /// Checks everything that can be checked before the kernel boots, for
    /// commands that open one device.
    func descriptor() throws -> DeviceDescriptor {
        guard devices.count == 1 else {
            throw ValidationError(
                "--device is given \(devices.count) times; only `airtap capture` opens several devices: give one --device")
        }
        return try descriptors()[0]
    }

    /// Checks everything that can be checked before the kernel boots: each
    /// device, and that they can share one kernel.
    func descriptors() throws -> [DeviceDescriptor] {
        if let maxBulkTransferBytes, maxBulkTransferBytes < 512 {
            throw ValidationError("--usb-max-transfer must be at least 512 bytes (one high-speed bulk packet), got \(maxBulkTransferBytes)")
        }
        guard (0...256).contains(usbReadAhead) else {
            throw ValidationError("--usb-read-ahead must be 0...256 transfers, got \(usbReadAhead)")
        }
        guard (0...100).contains(airLossPercent) else {
            throw ValidationError("--air-loss is a percentage, 0...100, got \(airLossPercent)")
        }
        if devices.count > 1, usbTrace != nil {
            throw ValidationError(
                "--usb-trace records one adapter's URBs, but \(devices.count) devices are given; trace an adapter in a capture of its own")
        }
        let descriptors = try devices.map(DeviceRegistry.descriptor(named:))
        _ = try DeviceDescriptor.sharedKernelCommandLine(for: descriptors)
        _ = try unplugTimes()
        return descriptors
    }

    func parsedMonitorFlags() throws -> MonitorFlags {
        try MonitorFlags(parsing: monitorFlags)
    }

    /// Boots the kernel for the device and opens it.
    func open(simulatedTraffic: Bool) throws -> any RadioDevice {
        let descriptor = try descriptor()
        return try descriptor.bootAndOpen(options: try options(forDeviceAt: 0, simulatedTraffic: simulatedTraffic))
    }

    /// Boots one kernel for all the devices and opens them, in order.
    func openAll(simulatedTraffic: Bool) throws -> [any RadioDevice] {
        let descriptors = try descriptors()
        return try DeviceDescriptor.bootAndOpen(
            descriptors,
            options: try descriptors.indices.map { try options(forDeviceAt: $0, simulatedTraffic: simulatedTraffic) })
    }

    private func options(forDeviceAt index: Int, simulatedTraffic: Bool) throws -> DeviceOptions {
        var options = DeviceOptions(
            monitorFlags: try parsedMonitorFlags(), regulatoryDomain: regulatoryDomain,
            simulatedTraffic: simulatedTraffic, memoryMiB: memoryMiB, usbTracePath: usbTrace,
            unplugAfterSeconds: try unplugTimes()[index] ?? unplugAfter,
            firmwareDirectory: firmwareDirectory, maxBulkTransferBytes: maxBulkTransferBytes)
        options.airAnswerLossPercent = airLossPercent
        options.extraKernelCommandLine = kernelArguments
        options.readAhead = ReadAheadUSBDevice.Policy(depth: usbReadAhead)
        return options
    }

    /// `--unplug-device-after NAME=SECONDS` as device index -> seconds.
    func unplugTimes() throws -> [Int: Double] {
        var times: [Int: Double] = [:]
        for entry in unplugDeviceAfter {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let seconds = Double(parts[1]), seconds >= 0 else {
                throw ValidationError("--unplug-device-after takes NAME=SECONDS (e.g. emulated:rtl8187=1.5, or 2=1.5 for the second --device), got \"\(entry)\"")
            }
            let named = devices.indices.filter { devices[$0] == parts[0] }
            let index: Int
            if let position = Int(parts[0]), devices.indices.contains(position - 1) {
                index = position - 1
            } else if named.count == 1 {
                index = named[0]
            } else {
                throw ValidationError(
                    "--unplug-device-after \(entry): \(named.isEmpty ? "no --device" : "more than one --device") is \"\(parts[0])\"; "
                        + "name a device given to --device once, or its position (1...\(devices.count))")
            }
            times[index] = seconds
        }
        return times
    }
}

/// Stops the device's helpers and the kernel.
func close(_ device: any RadioDevice) {
    close([device])
}

/// Stops every device's helpers, then their one kernel.
func close(_ devices: [any RadioDevice]) {
    for device in devices { device.shutdown() }
    try? devices.first?.kernel.halt()
}

/// Parses `--channel 1,6,11` (each entry as ChannelSpec accepts).
func parseChannelList(_ text: String) throws -> [ChannelSpec] {
    let entries = text.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
    guard !entries.isEmpty else { throw ValidationError("--channel needs at least one channel, e.g. --channel 1,6,11") }
    return try entries.map(ChannelSpec.init(parsing:))
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
