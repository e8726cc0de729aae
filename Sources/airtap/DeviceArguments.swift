// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import DriverTable
import LinuxKernel
import RadioDevices
import Wireless

/// Options shared by the commands that open a device.
struct DeviceArguments: ParsableArguments {
    @Option(name: .shortAndLong, help: "Device to use (\(DeviceRegistry.names.joined(separator: ", "))).")
    var device: String

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
        help: ArgumentHelp("Emulated USB devices: unplug the adapter this many seconds after the first tune (surprise-removal test).", visibility: .hidden))
    var unplugAfter: Double?

    @Option(
        name: .customLong("firmware-dir"),
        help: "USB adapters: directory the driver's firmware files are read from.")
    var firmwareDirectory = FirmwareCatalog.defaultDirectory

    @Option(
        name: .customLong("usb-max-transfer"),
        help: "USB adapters: split bulk transfers larger than this many bytes (for hosts that cannot complete large ones, e.g. 16384).")
    var maxBulkTransferBytes: Int?

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

    /// Checks everything that can be checked before the kernel boots.
    func descriptor() throws -> DeviceDescriptor {
        if let maxBulkTransferBytes, maxBulkTransferBytes < 512 {
            throw ValidationError("--usb-max-transfer must be at least 512 bytes (one high-speed bulk packet), got \(maxBulkTransferBytes)")
        }
        guard (0...100).contains(airLossPercent) else {
            throw ValidationError("--air-loss is a percentage, 0...100, got \(airLossPercent)")
        }
        return try DeviceRegistry.descriptor(named: device)
    }

    func parsedMonitorFlags() throws -> MonitorFlags {
        try MonitorFlags(parsing: monitorFlags)
    }

    /// Boots the kernel for the device and opens it.
    func open(simulatedTraffic: Bool) throws -> any RadioDevice {
        let descriptor = try descriptor()
        var options = DeviceOptions(
            monitorFlags: try parsedMonitorFlags(), regulatoryDomain: regulatoryDomain,
            simulatedTraffic: simulatedTraffic, memoryMiB: memoryMiB, usbTracePath: usbTrace, unplugAfterSeconds: unplugAfter,
            firmwareDirectory: firmwareDirectory, maxBulkTransferBytes: maxBulkTransferBytes)
        options.airAnswerLossPercent = airLossPercent
        options.extraKernelCommandLine = kernelArguments
        return try descriptor.bootAndOpen(options: options)
    }
}

/// Stops the device's helpers and the kernel.
func close(_ device: any RadioDevice) {
    device.shutdown()
    try? device.kernel.halt()
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
