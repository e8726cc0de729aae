// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import DriverTable
import Foundation
import LinuxKernel

/// `airtap drivers`: the USB Wi-Fi drivers built into the kernel library,
/// the adapters each binds (from the drivers' own ID tables), the firmware
/// each needs and whether this host has it; also writes the udev rule.
struct DriversCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drivers",
        abstract: "List the USB Wi-Fi drivers built into the kernel library, their USB IDs and firmware.",
        discussion: """
            The IDs are read from the drivers' own USB ID tables in the running kernel library, \
            the firmware lists from their MODULE_FIRMWARE declarations (what modules.alias and \
            modinfo show on a normal system).
            """)

    @Flag(help: "Print JSON (every driver with every ID entry) instead of a table.")
    var json = false

    @Flag(name: .customLong("udev-rules"), help: "Print the udev rule that lets users open the supported adapters.")
    var udevRules = false

    @Option(name: .customLong("firmware-dir"), help: "Where firmware files are looked up.")
    var firmwareDirectory = FirmwareCatalog.defaultDirectory

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    struct DriverReport: Codable {
        var module: String
        var name: String
        var sourcePath: String?
        var probeOrder: Int
        /// "0bda:b812" for each entry naming a product.
        var products: [String]
        /// Every entry, as modules.alias writes it.
        var modaliases: [String]
        var firmware: [FirmwareReport]
    }

    struct FirmwareReport: Codable {
        var file: String
        /// "built-in", "present" or "missing".
        var status: String
        var path: String?
        var package: String?
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        let table = try loadDriverTable()
        if udevRules {
            print(UdevRules.generate(from: table), terminator: "")
            return
        }
        let catalog = FirmwareCatalog(directory: firmwareDirectory, builtIn: table.builtInFirmware)
        let reports = table.wirelessDrivers.map { Self.report($0, catalog: catalog) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            return
        }
        var rows = [["MODULE", "DRIVER", "IDS", "FIRMWARE (present/needed)", "MISSING FIRMWARE PACKAGE"]]
        for report in reports {
            let present = report.firmware.filter { $0.status != "missing" }.count
            let packages = Set(report.firmware.compactMap(\.package)).sorted()
            rows.append([
                report.module, report.name, "\(report.modaliases.count)",
                report.firmware.isEmpty ? "none needed" : "\(present)/\(report.firmware.count)",
                packages.joined(separator: ", "),
            ])
        }
        print(formatTable(rows))
        print("\n\(reports.count) USB Wi-Fi drivers, \(reports.reduce(0) { $0 + $1.products.count }) product IDs; "
            + "firmware looked up in \(firmwareDirectory). `airtap drivers --json` lists every ID.")
    }

    static func report(_ driver: DriverTable.Driver, catalog: FirmwareCatalog) -> DriverReport {
        DriverReport(
            module: driver.module, name: driver.name, sourcePath: driver.sourcePath, probeOrder: driver.order,
            products: driver.ids.filter(\.isProductEntry).map {
                hexString($0.vendorID, digits: 4) + ":" + hexString($0.productID, digits: 4)
            },
            modaliases: driver.ids.map(\.modalias),
            firmware: driver.firmware.map { file in
                switch catalog.availability(of: file) {
                case .builtIn:
                    return FirmwareReport(file: file, status: "built-in")
                case .present(let path):
                    return FirmwareReport(file: file, status: "present", path: path)
                case .missing(let package):
                    return FirmwareReport(file: file, status: "missing", package: package.debian ?? "linux-firmware")
                }
            })
    }
}

/// Boots the kernel library (no radios) just to read its driver table.
func loadDriverTable() throws -> DriverTable {
    let kernel = try Kernel.boot(
        memoryMiB: 64, commandLine: "mac80211_hwsim.radios=0")
    defer { try? kernel.halt() }
    return try DriverTable.load(from: kernel)
}

/// Left-aligned columns separated by two spaces.
func formatTable(_ rows: [[String]]) -> String {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
