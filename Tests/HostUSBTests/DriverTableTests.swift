// SPDX-License-Identifier: GPL-2.0-only

import DriverTable
import Foundation
import HostUSB
import Testing

/// The driver table as the built kernel library reports it, through the
/// airtap binary (each run boots its own kernel).
@Suite("driver table of the built library (child processes)", .timeLimit(.minutes(5)))
struct DriverTableEndToEndTests {
    struct DriverReport: Decodable {
        var module: String
        var name: String
        var products: [String]
        var modaliases: [String]
        var firmware: [Firmware]
        struct Firmware: Decodable {
            var file: String
            var status: String
            var package: String?
            var shippedBy: String?
            var debian: [Release]?
        }
        struct Release: Decodable, Equatable {
            var release: String
            var version: Int
            var package: String?
        }
    }

    func drivers(_ extra: String...) async throws -> [DriverReport] {
        let run = try await ToolRunner.run(try ToolRunner.airtapPath(), ["drivers", "--json"] + extra)
        try #require(run.succeeded, "\(run.diagnosis)")
        return try JSONDecoder().decode([DriverReport].self, from: Data(run.standardOutput.utf8))
    }

    /// The drivers Linux 7.3 added (not in 6.12), built in by kernel/config/airtap.config.
    static let newIn73 = [
        "rtw88_8812au", "rtw88_8821au", "rtw88_8814au",
        "rtw89_8851bu", "rtw89_8852au", "rtw89_8852bu", "rtw89_8852cu", "rtw89_8922au",
    ]

    /// The seed's three adapters: ID, driver, the firmware file it asks for.
    static let seedAdapters = [
        ("0bda:8812", "rtw88_8812au", "rtw88/rtw8812a_fw.bin"),
        ("2357:0120", "rtw88_8821au", "rtw88/rtw8821a_fw.bin"),
        ("0bda:8813", "rtw88_8814au", "rtw88/rtw8814a_fw.bin"),
    ]

    @Test func theUSBDriversNewInLinux73AreBuiltInWithTheirIDs() async throws {
        let modules = Dictionary(uniqueKeysWithValues: try await drivers().map { ($0.module, $0) })
        for module in Self.newIn73 {
            guard let report = modules[module] else {
                Issue.record("\(module) is not in the library's driver table (kernel/config/airtap.config)")
                continue
            }
            #expect(!(report.products.isEmpty), "\(module) lists no product IDs")
            #expect(report.firmware.count == 1, "\(module): \(report.firmware.map(\.file))")
            let prefix = module.hasPrefix("rtw89") ? "rtw89/" : "rtw88/"
            #expect(report.firmware.allSatisfy { $0.file.hasPrefix(prefix) }, "\(module): \(report.firmware.map(\.file))")
        }
    }

    /// 0bda:8812, 2357:0120 and 0bda:8813 go to their rtw88 drivers (first in
    /// probe order), which ask for their chip's file, which only Debian 13's
    /// firmware-realtek ships.
    @Test func theSeedsAdaptersMapToRtw88WithFirmwareAndPackage() async throws {
        let empty = try ToolRunner.scratchDirectory()
        let reports = try await drivers("--firmware-dir", empty.path)
        for (product, module, file) in Self.seedAdapters {
            let binding = reports.filter { $0.products.contains(product) }
            #expect(binding.map(\.module) == [module], "\(product): \(binding.map(\.module))")
            let firmware = try #require(binding.first?.firmware)
            #expect(firmware.map(\.file) == [file], "\(product)")
            #expect(firmware.first?.status == "missing")
            #expect(firmware.first?.package == "firmware-realtek")
            #expect(firmware.first?.shippedBy == "firmware-realtek (Debian 13 trixie or newer; not in Debian 12)")
            #expect(
                firmware.first?.debian == [
                    .init(release: "bookworm", version: 12, package: nil),
                    .init(release: "trixie", version: 13, package: "firmware-realtek"),
                ])
        }
    }

    @Test func driversNamesTheSeedsAdaptersForPeople() async throws {
        let empty = try ToolRunner.scratchDirectory()
        let run = try await ToolRunner.airtap(
            "drivers", "--firmware-dir", empty.path, "0bda:8812", "2357:0120", "usb:0BDA:8813", "ffff:fffe")
        try #require(run.succeeded, "\(run.diagnosis)")
        let lines = run.standardOutput.split(separator: "\n").map(String.init)
        let missing = "missing from \(empty.path); firmware-realtek (Debian 13 trixie or newer; not in Debian 12)"
        #expect(
            lines == [
                "0bda:8812: rtw88_8812au", "  firmware rtw88/rtw8812a_fw.bin: " + missing,
                "2357:0120: rtw88_8821au", "  firmware rtw88/rtw8821a_fw.bin: " + missing,
                "0bda:8813: rtw88_8814au", "  firmware rtw88/rtw8814a_fw.bin: " + missing,
                "ffff:fffe: no built-in Wi-Fi driver names this ID (`airtap drivers` lists them)",
            ], "\(run.diagnosis)")
        // The full table has their rows too, with the same package text.
        let table = try await ToolRunner.airtap("drivers", "--firmware-dir", empty.path)
        try #require(table.succeeded, "\(table.diagnosis)")
        for (_, module, _) in Self.seedAdapters {
            let row = table.standardOutput.split(separator: "\n").first { $0.hasPrefix(module + " ") }
            #expect(row?.hasSuffix("firmware-realtek (Debian 13 trixie or newer; not in Debian 12)") == true, "\(table.diagnosis)")
        }
        let bad = try await ToolRunner.airtap("drivers", "0bda-8812")
        #expect(bad.status != 0 && bad.standardError.contains("VID:PID"), "\(bad.diagnosis)")
    }

    /// rtw89 declares its newest firmware format and falls back to older
    /// ones: the package lookup follows the fallback, and the files it finds
    /// in the firmware directory count as present.
    @Test func rtw89FirmwareFallsBackToOlderFormats() async throws {
        let directory = try ToolRunner.scratchDirectory()
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rtw89"), withIntermediateDirectories: true)
        try Data([0]).write(to: directory.appendingPathComponent("rtw89/rtw8852b_fw-1.bin"))
        let reports = try await drivers("--firmware-dir", directory.path)
        let bu = try #require(reports.first { $0.module == "rtw89_8852bu" })
        #expect(bu.firmware.map(\.file) == ["rtw89/rtw8852b_fw-2.bin"])
        #expect(bu.firmware.first?.status == "present")
        let cu = try #require(reports.first { $0.module == "rtw89_8852cu" })
        #expect(cu.firmware.first?.status == "missing")
        #expect(cu.firmware.first?.shippedBy == "firmware-realtek", "8852C format 0 is in Debian 12, format 1 in 13")
    }

    @Test func theKernelsOwnIDTablesBindTheIssuesAdapters() async throws {
        let reports = try await drivers()
        var byProduct: [String: [String]] = [:]
        for report in reports {
            for product in report.products { byProduct[product, default: []].append(report.module) }
        }
        let expected = [
            "0bda:b812": "rtw88_8822bu", "0bda:c811": "rtw88_8821cu", "0bda:8187": "rtl8187",
            "148f:5370": "rt2800usb", "0e8d:7961": "mt7921u", "0cf3:9271": "ath9k_htc",
        ]
        for (product, module) in expected {
            #expect(byProduct[product]?.first == module, "\(product) should be bound by \(module)")
        }
    }

    @Test func everyDriverTheIssueNamesIsBuiltInWithItsIDs() async throws {
        let modules = Dictionary(uniqueKeysWithValues: try await drivers().map { ($0.module, $0) })
        let named = [
            "rtw88_8723du", "rtw88_8821cu", "rtw88_8822bu", "rtw88_8822cu", "rtl8xxxu", "rtl8187", "rtl8192cu",
            "rt2800usb", "mt76x0u", "mt76x2u", "mt7921u", "ath9k_htc", "carl9170", "zd1211rw",
        ]
        for module in named {
            guard let report = modules[module] else {
                Issue.record("\(module) is not in the library's driver table (kernel/config/airtap.config)")
                continue
            }
            #expect(!(report.modaliases.isEmpty), "\(module) lists no USB IDs")
            #expect(report.modaliases.allSatisfy { $0.hasPrefix("usb:v") }, "\(module): \(report.modaliases.prefix(3))")
        }
        // Dependencies resolved: the USB glue module declares no firmware;
        // its chip module does.
        #expect(modules["rtw88_8822bu"]?.firmware.map(\.file) == ["rtw88/rtw8822b_fw.bin"])
        #expect(modules["rt2800usb"]?.firmware.map(\.file) == ["rt2870.bin"])
        #expect(modules["rtl8187"]?.firmware.map(\.file) == [])
    }

    @Test func missingFirmwareNamesTheDebianPackage() async throws {
        let empty = try ToolRunner.scratchDirectory()
        let run = try await ToolRunner.airtap("drivers", "--json", "--firmware-dir", empty.path)
        try #require(run.succeeded, "\(run.diagnosis)")
        let reports = try JSONDecoder().decode([DriverReport].self, from: Data(run.standardOutput.utf8))
        let rtw = try #require(reports.first { $0.module == "rtw88_8822bu" })
        #expect(rtw.firmware.first?.status == "missing")
        #expect(rtw.firmware.first?.package == "firmware-realtek")
        let ath = try #require(reports.first { $0.module == "ath9k_htc" })
        #expect(Set(ath.firmware.compactMap(\.package)) == ["firmware-ath9k-htc"])
    }

    @Test func checkedInUdevRuleIsTheGeneratedOne() async throws {
        let run = try await ToolRunner.airtap("drivers", "--udev-rules")
        try #require(run.succeeded, "\(run.diagnosis)")
        let path = ToolRunner.packageRoot.appendingPathComponent(UdevRules.repositoryPath).path
        let checkedIn = try String(contentsOfFile: path, encoding: .utf8)
        #expect(checkedIn == run.standardOutput, "\(UdevRules.repositoryPath) is stale: regenerate it with `airtap drivers --udev-rules > \(UdevRules.repositoryPath)`")
        #expect(checkedIn.contains(#"ATTR{idVendor}=="0bda", ATTR{idProduct}=="b812", MODE="0660", GROUP="plugdev", TAG+="uaccess""#))
    }

    /// The acceptance check is for a machine without USB (CI's). With USB,
    /// the same commands must still succeed and agree with each other.
    @Test func listOnAMachineWithoutUSBIsAnEmptyTable() async throws {
        let table = try await ToolRunner.airtap("list")
        try #require(table.succeeded, "\(table.diagnosis)")
        let rows = table.standardOutput.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.first == "BUS-PORT ID SPEED PRODUCT DRIVER FIRMWARE ACCESS")
        let json = try await ToolRunner.airtap("list", "--json")
        try #require(json.succeeded, "\(json.diagnosis)")
        let listed = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [Any]
        if LibUSBContext.machineHasUSB {
            #expect((listed?.count ?? 0) >= 1, "\(json.diagnosis)")
        } else {
            #expect(rows.count == 1, "\(table.diagnosis)")
            #expect(json.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
            #expect(listed?.isEmpty == true)
        }
    }

    @Test func usbSelectorsFailClearly() async throws {
        // Malformed: refused before the kernel boots, USB or not.
        let bad = try await ToolRunner.airtap("capture", "-d", "usb:12345", "--duration", "1", "-w", "/dev/null")
        #expect(bad.status == 1, "\(bad.diagnosis)")
        #expect(bad.standardError.contains("usb:VID:PID"), "\(bad.diagnosis)")
        // Well-formed but absent (ffff:fffe is no adapter anyone has).
        let absent = try await ToolRunner.airtap("capture", "-d", "usb:ffff:fffe", "--duration", "1", "-w", "/dev/null")
        #expect(absent.status == 1, "\(absent.diagnosis)")
        #expect(
            absent.standardError.contains(LibUSBContext.machineHasUSB ? "ffff:fffe" : "no USB device"), "\(absent.diagnosis)")
    }
}

/// ID matching as drivers/usb/core/driver.c does it, on hand-made entries.
@Suite("driver table: ID matching and parsing")
struct DriverTableMatchingTests {
    let realtekVendorSpecific = USBDeviceIdentity(
        vendorID: 0x0bda, productID: 0xb812, bcdDevice: 0x0210, deviceClass: 0xFF,
        interfaces: [USBInterfaceIdentity(number: 0, interfaceClass: 0xFF, interfaceSubclass: 0xFF, interfaceProtocol: 0xFF)])

    @Test func productEntriesAndBCDRanges() {
        let exact = USBDeviceID(flags: [.vendor, .product], vendorID: 0x0bda, productID: 0xb812)
        #expect(exact.matchesDevice(realtekVendorSpecific))
        #expect(!(USBDeviceID(flags: [.vendor, .product], vendorID: 0x0bda, productID: 0xb813).matchesDevice(realtekVendorSpecific)))
        let ranged = USBDeviceID(flags: [.vendor, .deviceLow, .deviceHigh], vendorID: 0x0bda, bcdDeviceLow: 0x0200, bcdDeviceHigh: 0x0209)
        #expect(!(ranged.matchesDevice(realtekVendorSpecific)), "bcdDevice 0x0210 is above the range")
        #expect(exact.modalias == "usb:v0BDApB812d*dc*dsc*dp*ic*isc*ip*in*")
    }

    @Test func interfaceFieldsNeedTheVendorOnVendorSpecificDevices() {
        let interface = realtekVendorSpecific.interfaces[0]
        let classOnly = USBDeviceID(flags: [.interfaceClass], interfaceClass: 0xFF)
        #expect(!(classOnly.matches(realtekVendorSpecific, interface: interface)))
        let vendorAndClass = USBDeviceID(flags: [.vendor, .interfaceClass], vendorID: 0x0bda, interfaceClass: 0xFF)
        #expect(vendorAndClass.matches(realtekVendorSpecific, interface: interface))
        var perInterfaceClass = realtekVendorSpecific
        perInterfaceClass.deviceClass = 0
        #expect(classOnly.matches(perInterfaceClass, interface: interface))
        let numbered = USBDeviceID(flags: [.vendor, .interfaceNumber], vendorID: 0x0bda, interfaceNumber: 1)
        #expect(!(numbered.matches(realtekVendorSpecific, interface: interface)))
    }

    /// Parsed from the kernel's listing format; the first driver in probe
    /// order wins; an entry matching on no field (usbtest's generic one)
    /// predicts nothing.
    @Test func bindingFollowsProbeOrder() throws {
        let listing = """
            0 usbtest 0 0000 0000 0000 0000 00 00 00 00 00 00 00 usbtest
            1 rtl8192cu 3 0bda 8176 0000 0000 00 00 00 00 00 00 00 rtl8192cu
            2 rtl8xxxu 383 0bda 8176 0000 0000 00 00 00 ff ff ff 00 rtl8xxxu
            3 rsi_usb 3 1618 9113 0000 0000 00 00 00 00 00 00 00 RSI-USB WLAN
            """
        let firmware = """
            rtl8192cu\tdrivers/net/wireless/realtek/rtlwifi/rtl8192cu/rtl8192cu\trtlwifi/rtl8192cufw.bin
            rtl8xxxu\tdrivers/net/wireless/realtek/rtl8xxxu/rtl8xxxu\t
            rsi_usb\tdrivers/net/wireless/rsi/rsi_usb\trs9113_wlan_qspi.rps
            @builtin\t-\tregulatory.db
            """
        let table = try DriverTable(idTable: listing, moduleFirmware: firmware)
        #expect(table.drivers.map(\.module) == ["usbtest", "rtl8192cu", "rtl8xxxu", "rsi_usb"])
        #expect(table.drivers.last?.name == "RSI-USB WLAN")
        #expect(!(table.drivers[0].isWireless))
        #expect(table.builtInFirmware == ["regulatory.db"])
        let device = USBDeviceIdentity(
            vendorID: 0x0bda, productID: 0x8176, deviceClass: 0xFF,
            interfaces: [USBInterfaceIdentity(number: 0, interfaceClass: 0xFF, interfaceSubclass: 0xFF, interfaceProtocol: 0xFF)])
        #expect(table.wirelessDriver(for: device)?.module == "rtl8192cu")
        #expect(table.wirelessDriver(for: device)?.firmware == ["rtlwifi/rtl8192cufw.bin"])
        #expect(table.candidates(for: device).map(\.module) == ["rtl8192cu", "rtl8xxxu"])
        #expect(table.wirelessDriver(for: USBDeviceIdentity(vendorID: 0x1d6b, productID: 0x0002)) == nil)
    }

    @Test func malformedListingNamesTheLine() {
        let error = #expect(throws: DriverTableError.self) {
            try DriverTable(idTable: "0 rtl8187 3 0bda\n", moduleFirmware: "")
        }
        #expect(error == .malformed(source: DriverTable.procPath, line: 1, text: "0 rtl8187 3 0bda"))
        #expect(error?.description.contains("run make") == true)
    }
}

/// Firmware lookup, package names, the loader's log and the udev rule text.
@Suite("firmware lookup and udev rules")
struct FirmwareAndUdevTests {
    @Test func lookupInADirectory() throws {
        let directory = try ToolRunner.scratchDirectory()
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rtw88"), withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: directory.appendingPathComponent("rtw88/rtw8822b_fw.bin"))
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rt2870.bin"), withIntermediateDirectories: true)
        let catalog = FirmwareCatalog(directory: directory.path, builtIn: ["regulatory.db"])
        #expect(catalog.availability(of: "rtw88/rtw8822b_fw.bin") == .present(path: directory.path + "/rtw88/rtw8822b_fw.bin"))
        #expect(try catalog.contents(of: "rtw88/rtw8822b_fw.bin") == [1, 2, 3])
        #expect(catalog.availability(of: "regulatory.db") == .builtIn)
        #expect(catalog.availability(of: "rt2870.bin") == .missing(package: FirmwareCatalog.package(for: "rt2870.bin")), "a directory is not a firmware file")
    }

    @Test func rtw89LoadOrderAndFallbackLookup() throws {
        #expect(
            FirmwareCatalog.loadOrder(of: "rtw89/rtw8922a_fw-4.bin")
                == ["rtw89/rtw8922a_fw-4.bin", "rtw89/rtw8922a_fw-3.bin", "rtw89/rtw8922a_fw-2.bin", "rtw89/rtw8922a_fw-1.bin", "rtw89/rtw8922a_fw.bin"])
        #expect(FirmwareCatalog.loadOrder(of: "rtw89/rtw8851b_fw-1.bin") == ["rtw89/rtw8851b_fw-1.bin", "rtw89/rtw8851b_fw.bin"])
        #expect(FirmwareCatalog.loadOrder(of: "rtw89/rtw8852a_fw.bin") == ["rtw89/rtw8852a_fw.bin"])
        #expect(FirmwareCatalog.loadOrder(of: "rtw88/rtw8822c_fw.bin") == ["rtw88/rtw8822c_fw.bin"])
        #expect(FirmwareCatalog.loadOrder(of: "rtl_bt/rtl8852bu_fw-1.bin") == ["rtl_bt/rtl8852bu_fw-1.bin"])

        let directory = try ToolRunner.scratchDirectory()
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rtw89"), withIntermediateDirectories: true)
        try Data([7]).write(to: directory.appendingPathComponent("rtw89/rtw8922a_fw-3.bin"))
        try Data([8]).write(to: directory.appendingPathComponent("rtw89/rtw8922a_fw.bin"))
        let catalog = FirmwareCatalog(directory: directory.path)
        #expect(catalog.resolvedFile(for: "rtw89/rtw8922a_fw-4.bin") == "rtw89/rtw8922a_fw-3.bin", "the newest format the host has")
        #expect(catalog.availability(of: "rtw89/rtw8922a_fw-4.bin") == .present(path: directory.path + "/rtw89/rtw8922a_fw-3.bin"))
        #expect(catalog.resolvedFile(for: "rtw89/rtw8852b_fw-2.bin") == nil)
    }

    @Test func packagesFromDebianContentsOfEachRelease() {
        #expect(DebianRelease.indexed == [.bookworm, .trixie])
        #expect(DebianRelease.bookworm.version == 12 && DebianRelease.trixie.version == 13)
        #expect("\(DebianRelease.trixie)" == "Debian 13 trixie")

        let rtw8822b = FirmwareCatalog.package(for: "rtw88/rtw8822b_fw.bin")
        #expect(rtw8822b.debianPackage(in: .bookworm) == "firmware-realtek")
        #expect(rtw8822b.debianPackage(in: .trixie) == "firmware-realtek")
        #expect(rtw8822b.debianSummary == "firmware-realtek")
        #expect(FirmwareCatalog.package(for: "ath9k_htc/htc_9271-1.4.0.fw").debianSummary == "firmware-ath9k-htc")

        // Only in the newer release.
        for file in ["rtw88/rtw8812a_fw.bin", "rtw88/rtw8821a_fw.bin", "rtw88/rtw8814a_fw.bin"] {
            let package = FirmwareCatalog.package(for: file)
            #expect(package.debianPackage(in: .bookworm) == nil, "\(file)")
            #expect(package.debianPackage(in: .trixie) == "firmware-realtek", "\(file)")
            #expect(package.newestDebianPackage == "firmware-realtek")
            #expect(package.debianSummary == "firmware-realtek (Debian 13 trixie or newer; not in Debian 12)")
            #expect(
                package.description
                    == "Debian package firmware-realtek (Debian 13 trixie or newer; not in Debian 12), or linux-firmware upstream")
        }

        // Moved between packages: trixie split MediaTek out of firmware-misc-nonfree.
        let rt2870 = FirmwareCatalog.package(for: "rt2870.bin")
        #expect(rt2870.debianPackage(in: .bookworm) == "firmware-misc-nonfree")
        #expect(rt2870.debianPackage(in: .trixie) == "firmware-mediatek")
        #expect(rt2870.debianSummary == "firmware-misc-nonfree (Debian 12 bookworm), firmware-mediatek (Debian 13 trixie or newer)")
        #expect(FirmwareCatalog.package(for: "carl9170-1.fw").debianPackage(in: .bookworm) == "firmware-linux-free")
        #expect(FirmwareCatalog.package(for: "carl9170-1.fw").debianPackage(in: .trixie) == "firmware-carl9170")

        // rtw89: the declared newest format is in no release; older ones are.
        let rtw8922a = FirmwareCatalog.package(for: "rtw89/rtw8922a_fw-4.bin")
        #expect(rtw8922a.debianSummary == "firmware-realtek (Debian 13 trixie or newer; not in Debian 12)")
        #expect(FirmwareCatalog.package(for: "rtw89/rtw8852b_fw-2.bin").debianSummary == "firmware-realtek")

        // A file newer than every index: its directory's package, said so.
        let guessed = FirmwareCatalog.package(for: "rtlwifi/rtl9999xufw.bin")
        #expect(guessed.debian.allSatisfy { $0.package == nil })
        #expect(guessed.directoryPackage == "firmware-realtek")
        #expect(guessed.newestDebianPackage == "firmware-realtek")
        #expect(guessed.debianSummary == "firmware-realtek (likely; this file is newer than Debian 13 trixie)")

        let none = FirmwareCatalog.package(for: "plfxlc/lifi-x.bin")
        #expect(none.newestDebianPackage == nil && none.debianSummary == nil)
        #expect(none.description.hasPrefix("linux-firmware upstream"))
    }

    /// The wording for any shape of release history, on made-up releases.
    @Test func summaryNamesTheReleasesWhereTheyDiffer() {
        let r12 = DebianRelease(version: 12, codename: "bookworm")
        let r13 = DebianRelease(version: 13, codename: "trixie")
        let r14 = DebianRelease(version: 14, codename: "forky")
        func summary(_ packages: [String?]) -> String? {
            FirmwarePackage(debian: zip([r12, r13, r14], packages).map { .init(release: $0, package: $1) }).debianSummary
        }
        #expect(summary(["a", "a", "a"]) == "a")
        #expect(summary([nil, nil, "a"]) == "a (Debian 14 forky or newer; not in Debian 12 or Debian 13)")
        #expect(summary(["a", "a", nil]) == "a (Debian 12 bookworm to Debian 13 trixie; not in Debian 14)")
        #expect(summary(["a", "b", "b"]) == "a (Debian 12 bookworm), b (Debian 13 trixie or newer)")
        #expect(summary([nil, "a", "b"]) == "a (Debian 13 trixie), b (Debian 14 forky or newer; not in Debian 12)")
        #expect(summary([nil, nil, nil]) == nil)
    }

    /// Mirrors come from the machine's apt sources (debian-mirror.sh), never
    /// from a host name written into the repository's scripts.
    @Test func scriptsNameNoMirror() throws {
        for directory in ["kernel/tools", "packaging"] {
            let url = ToolRunner.packageRoot.appendingPathComponent(directory)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path) where name.hasSuffix(".sh") {
                let text = try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
                #expect(!(text.contains("://")), "\(directory)/\(name) names a URL; use kernel/tools/debian-mirror.sh")
            }
        }
    }

    @Test func missingFirmwareFromTheLoadersLog() {
        let log = """
            [    1.200000] usb 1-1: new high-speed USB device number 2 using lkl-virtual-hcd
            [    1.300000] rtw_8822bu 1-1:1.0: Direct firmware load for rtw88/rtw8822b_fw.bin failed with error -2
            [    1.300100] rtw_8822bu 1-1:1.0: failed to request firmware
            [    1.400000] rtw_8822bu 1-1:1.0: Direct firmware load for rtw88/rtw8822b_fw.bin failed with error -2
            """
        #expect(FirmwareCatalog.missingFiles(inKernelLog: log) == ["rtw88/rtw8822b_fw.bin"])
        #expect(FirmwareCatalog.missingFiles(inKernelLog: "[    0.1] usb 1-1: new device\n") == nil)
        let error = MissingFirmwareError(driver: "rtw88_8822bu", files: ["rtw88/rtw8822b_fw.bin"], directory: "/lib/firmware")
        #expect(error.description.contains("rtw88/rtw8822b_fw.bin: Debian package firmware-realtek"), "\(error.description)")
        #expect(error.description.contains("--firmware-dir"), "\(error.description)")
        let newer = MissingFirmwareError(driver: "rtw88_8812au", files: ["rtw88/rtw8812a_fw.bin"], directory: "/lib/firmware")
        #expect(
            newer.description.contains(
                "rtw88/rtw8812a_fw.bin: Debian package firmware-realtek (Debian 13 trixie or newer; not in Debian 12)"),
            "\(newer.description)")
    }

    @Test func udevRuleFromATable() throws {
        let table = try DriverTable(
            idTable: """
                0 rtw88_8822bu 3 0bda b812 0000 0000 00 00 00 00 00 00 00 rtw_8822bu
                1 rtl8xxxu 381 0bda 0000 0000 0000 00 00 00 ff ff ff 00 rtl8xxxu
                2 usbtest 3 0525 a4a0 0000 0000 00 00 00 00 00 00 00 usbtest
                """,
            moduleFirmware: """
                rtw88_8822bu\tdrivers/net/wireless/realtek/rtw88/rtw88_8822bu\trtw88/rtw8822b_fw.bin
                rtl8xxxu\tdrivers/net/wireless/realtek/rtl8xxxu/rtl8xxxu\t
                """)
        let rules = UdevRules.generate(from: table)
        #expect(rules.contains(#"ATTR{idVendor}=="0bda", ATTR{idProduct}=="b812", MODE="0660", GROUP="plugdev", TAG+="uaccess"  # rtw88_8822bu"#), "\(rules)")
        #expect(!(rules.contains("a4a0")), "usbtest is not a Wi-Fi driver")
        #expect(rules.contains("#   vendor 0bda: rtl8xxxu"), "\(rules)")
        #expect(rules.hasPrefix("# SPDX-License-Identifier: GPL-2.0-only\n"))
        #expect(rules.hasSuffix("LABEL=\"airtap_end\"\n"))
    }
}
