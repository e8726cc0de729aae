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
        }
    }

    func drivers() async throws -> [DriverReport] {
        let run = try await ToolRunner.airtap("drivers", "--json")
        try #require(run.succeeded, "\(run.diagnosis)")
        return try JSONDecoder().decode([DriverReport].self, from: Data(run.standardOutput.utf8))
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
        #expect(catalog.availability(of: "rt2870.bin") == .missing(package: FirmwarePackage(debian: "firmware-misc-nonfree")), "a directory is not a firmware file")
    }

    @Test func packagesFromDebianContentsAndPrefixes() {
        #expect(FirmwareCatalog.package(for: "rtw88/rtw8822b_fw.bin").debian == "firmware-realtek")
        #expect(FirmwareCatalog.package(for: "ath9k_htc/htc_9271-1.4.0.fw").debian == "firmware-ath9k-htc")
        #expect(FirmwareCatalog.package(for: "mediatek/WIFI_RAM_CODE_MT7961_1.bin").debian == "firmware-misc-nonfree")
        #expect(FirmwareCatalog.package(for: "carl9170-1.fw").debian == "firmware-linux-free")
        // A newer rtlwifi file bookworm does not list: the directory's package.
        #expect(FirmwareCatalog.package(for: "rtlwifi/rtl8192fufw.bin").debian == "firmware-realtek")
        #expect(FirmwareCatalog.package(for: "plfxlc/lifi-x.bin").debian == nil)
        #expect(FirmwareCatalog.package(for: "plfxlc/lifi-x.bin").description.contains("linux-firmware"))
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
