// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import DriverTable
import Foundation
import HostUSB
import RadioDevices

/// `airtap list`: the USB devices on this host, the built-in driver that
/// would bind each, the firmware it needs, and whether this user may open it.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List this host's USB devices with the driver that would bind each, its firmware and access.",
        discussion: """
            Select a listed adapter with --device usb (the first supported one), \
            usb:VID:PID or usb:BUS-PORT.
            """)

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .customLong("firmware-dir"), help: "Where firmware files are looked up.")
    var firmwareDirectory = FirmwareCatalog.defaultDirectory

    @Flag(name: .shortAndLong, help: "Show debug logging on stderr.")
    var verbose = false

    struct DeviceReport: Codable {
        var location: String
        var id: String
        var speed: String
        var manufacturer: String?
        var product: String?
        /// The Wi-Fi driver that would bind it; nil when none does.
        var driver: String?
        /// Other built-in drivers with an entry for it (non-Wi-Fi ones too).
        var otherDrivers: [String]
        var firmware: [DriversCommand.FirmwareReport]
        /// Host kernel drivers bound to its interfaces now (detached while airtap uses it).
        var hostDrivers: [String]
        var node: String
        var canOpen: Bool
        var accessProblem: String?
        /// What to pass to --device.
        var selector: String
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        let context = try LibUSBContext()
        defer { context.close() }
        let devices = try context.devices()
        // The driver table needs the kernel library; without devices there is nothing to match.
        let table = devices.isEmpty ? nil : try loadDriverTable()
        let reports = devices.map { report($0, table: table) }

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(reports.isEmpty ? "[]" : String(decoding: try encoder.encode(reports), as: UTF8.self))
            return
        }
        var rows = [["BUS-PORT", "ID", "SPEED", "PRODUCT", "DRIVER", "FIRMWARE", "ACCESS"]]
        for report in reports {
            rows.append([
                report.location, report.id, report.speed,
                [report.manufacturer, report.product].compactMap { $0 }.joined(separator: " "),
                report.driver ?? "-", firmwareSummary(report.firmware),
                report.canOpen ? "yes" : "no",
            ])
        }
        print(formatTable(rows))
        if devices.isEmpty {
            FileHandle.standardError.write(
                Data((LibUSBContext.machineHasUSB ? "no USB devices found\n" : "no USB on this machine (no /dev/bus/usb)\n").utf8))
            return
        }
        printHints(reports)
    }

    private func report(_ device: HostUSBDeviceInfo, table: DriverTable?) -> DeviceReport {
        let identity = device.identity
        let driver = table?.wirelessDriver(for: identity)
        let catalog = FirmwareCatalog(directory: firmwareDirectory, builtIn: table?.builtInFirmware ?? [])
        var accessProblem: String?
        if case .denied(let reason) = device.access { accessProblem = reason }
        return DeviceReport(
            location: device.location, id: device.idText, speed: device.speed.text,
            manufacturer: device.manufacturer, product: device.product, driver: driver?.module,
            otherDrivers: (table?.candidates(for: identity) ?? []).map(\.module).filter { $0 != driver?.module },
            firmware: driver.map { DriversCommand.report($0, catalog: catalog).firmware } ?? [],
            hostDrivers: device.hostDrivers, node: device.nodePath, canOpen: device.access.isGranted,
            accessProblem: accessProblem, selector: "usb:\(device.location)")
    }

    private func firmwareSummary(_ files: [DriversCommand.FirmwareReport]) -> String {
        if files.isEmpty { return "-" }
        let present = files.filter { $0.status != "missing" }
        if files.count == 1 { return "\(files[0].file) (\(files[0].status))" }
        return "\(present.count)/\(files.count) present"
    }

    private func printHints(_ reports: [DeviceReport]) {
        var hints: [String] = []
        let supported = reports.filter { $0.driver != nil }
        if supported.isEmpty {
            hints.append("No adapter here is one a built-in driver supports (`airtap drivers` lists them).")
        }
        let closed = supported.filter { !$0.canOpen }
        if !closed.isEmpty {
            hints.append(
                "\(closed.map(\.location).joined(separator: ", ")): you cannot open the device node. Install airtap's udev rule:\n"
                    + UdevRules.installCommands.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
                    + "\n  then unplug and replug the adapter (or run airtap as root).")
        }
        let missing = Set(supported.flatMap { $0.firmware.filter { $0.status == "missing" }.compactMap(\.shippedBy) })
        if !missing.isEmpty {
            hints.append(
                "Some firmware is missing from \(firmwareDirectory); it ships in: \(missing.sorted().joined(separator: "; ")) "
                    + "(`airtap drivers VID:PID` shows each file). A driver needs only its chip's file.")
        }
        if !hints.isEmpty { print("\n" + hints.joined(separator: "\n")) }
    }
}
