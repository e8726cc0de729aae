// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import DriverTable
import Foundation
import HostUSB
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
            modinfo show on a normal system). Given adapters (VID:PID, as lsusb prints them), \
            shows which driver takes each and where its firmware comes from.
            """)

    @Argument(help: "Adapters to look up, as VID:PID (0bda:8812); all drivers when none.")
    var adapters: [String] = []

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
        /// Where it was found (for rtw89 possibly an older format's file).
        var path: String?
        /// Missing: the package of the newest Debian release that ships it,
        /// else "linux-firmware".
        var package: String?
        /// Missing: the same for people, naming releases where they differ
        /// ("firmware-realtek (Debian 13 trixie or newer; not in Debian 12)").
        var shippedBy: String?
        /// Missing: each Debian release's package (null where it has none).
        var debian: [DebianReport]?
    }

    struct DebianReport: Codable {
        var release: String
        var version: Int
        var package: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(release, forKey: .release)
            try container.encode(version, forKey: .version)
            try container.encode(package, forKey: .package)  // null, not absent
        }
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        let table = try loadDriverTable()
        if udevRules {
            print(UdevRules.generate(from: table), terminator: "")
            return
        }
        let catalog = FirmwareCatalog(directory: firmwareDirectory, builtIn: table.builtInFirmware)
        var reports = table.wirelessDrivers.map { Self.report($0, catalog: catalog) }
        if !adapters.isEmpty {
            let wanted = try adapters.map { try Self.productID($0) }
            reports = reports.filter { report in wanted.contains { report.products.contains($0) } }
            if !json {
                printAdapters(wanted, reports: reports)
                return
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            return
        }
        var rows = [["MODULE", "DRIVER", "IDS", "FIRMWARE (present/needed)", "MISSING FIRMWARE PACKAGE"]]
        for report in reports {
            let present = report.firmware.filter { $0.status != "missing" }.count
            let shippedBy = Set(report.firmware.compactMap(\.shippedBy))
            // "pkg (likely; ...)" says nothing more once "pkg" itself is listed.
            let packages = shippedBy.filter { text in
                !shippedBy.contains(String(text.prefix { $0 != " " })) || !text.contains(" ")
            }.sorted()
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
                    return FirmwareReport(
                        file: file, status: "missing", package: package.newestDebianPackage ?? "linux-firmware",
                        shippedBy: package.debianSummary ?? "linux-firmware",
                        debian: package.debian.map {
                            DebianReport(release: $0.release.codename, version: $0.release.version, package: $0.package)
                        })
                }
            })
    }

    /// "0bda:8812" (or "usb:0bda:8812") in lower case.
    static func productID(_ text: String) throws -> String {
        let selectorText = text.lowercased().hasPrefix("usb:") ? text : "usb:" + text
        guard case .ids(let vendor, let product) = try? USBDeviceSelector.parse(selectorText) else {
            throw ValidationError("\(text) is not a VID:PID adapter ID (four hex digits each, as lsusb prints: 0bda:8812)")
        }
        return hexString(vendor, digits: 4) + ":" + hexString(product, digits: 4)
    }

    /// One block per adapter: the drivers with an entry naming it (the one
    /// that binds first) and each firmware file with where to get it.
    private func printAdapters(_ products: [String], reports: [DriverReport]) {
        for product in products {
            let drivers = reports.filter { $0.products.contains(product) }
            guard let first = drivers.first else {
                print("\(product): no built-in Wi-Fi driver names this ID (`airtap drivers` lists them)")
                continue
            }
            let others = drivers.dropFirst().map(\.module)
            let name = first.name == first.module ? "" : " (driver \(first.name))"
            print("\(product): \(first.module)\(name)" + (others.isEmpty ? "" : "; also listed by \(others.joined(separator: ", "))"))
            if first.firmware.isEmpty { print("  firmware: none needed") }
            for file in first.firmware {
                switch file.status {
                case "missing":
                    print("  firmware \(file.file): missing from \(firmwareDirectory); \(file.shippedBy ?? "linux-firmware")")
                case "present":
                    print("  firmware \(file.file): present (\(file.path ?? firmwareDirectory))")
                default:
                    print("  firmware \(file.file): \(file.status)")
                }
            }
        }
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
