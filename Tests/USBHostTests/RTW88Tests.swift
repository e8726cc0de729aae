// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// The kernel's unmodified rtw88 drivers (rtw88_8821au, rtw88_8821cu) on
/// the emulated Realtek chips, through the virtual USB host controller:
/// each test is one probe process, and its kernel log must be clean.
@Suite("Emulated rtw88 chips (probe processes)", .timeLimit(.minutes(10)))
struct RTW88Tests {
    static let chips = ["rtl8821au", "rtl8821cu"]
    static var tsharkAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark") }

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-rtw88-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("probe: rtw88 binds, downloads the synthetic firmware, reads the efuse MAC, monitor mode comes up", arguments: chips)
    func probe(chip: String) async throws {
        let run = try await ProbeRunner.run(["rtw88-probe", chip], environment: ["AIRTAP_LOG_LEVEL": "info"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        let module = chip == "rtl8821au" ? "rtw88_8821au" : "rtw88_8821cu"
        let version = chip == "rtl8821au" ? "42.4.0" : "24.11.0"
        #expect(run.standardError.contains("\(module) 1-1:1.0: Firmware version \(version)"), "\(run.diagnosis)")
        #expect(!run.standardError.contains("efuse MAC invalid"), "the driver fell back to a random MAC")
        #expect(run.results["interface"] == "wlan0")
        #expect(run.results["interface_type"] == "monitor")
        let efuseMAC = try #require(run.results["efuse_mac"])
        #expect(run.results["interface_mac"] == efuseMAC, "\(run.diagnosis)")
        #expect(run.results["tuned"] == "6/20")
        // Probe and interface up each download the firmware.
        #expect(run.integer("firmware_downloads") == 2, "\(run.diagnosis)")
        if chip == "rtl8821au" {
            #expect(run.results["firmware_image_matches"] == "yes", "the 8051 download must write the file's payload")
        } else {
            let perDownload = (run.integer("firmware_file_bytes") ?? 0) - 64
            #expect(run.integer("firmware_bytes_copied") == 2 * perDownload, "DDMA must move DMEM+IMEM twice")
        }
        #expect(run.integer("efuse_reads") == 512)
        #expect(run.results["receive_enabled"] == "yes")
        #expect(run.integer("pending_rx_urbs") == 4, "rtw88 keeps 4 RX URBs on bulk IN")
        // The host controller keeps its 128 receive transfers at the chip, and only those.
        #expect(run.integer("read_ahead_at_chip") == 128, "\(run.diagnosis)")
        #expect(run.integer("chip_urbs_waiting") == 128, "\(run.diagnosis)")
    }

    @Test("RX: frames on 6, 36 and 149 at 80 MHz arrive only when tuned there, byte-identical, in order; tshark agrees",
          arguments: chips)
    func receive(chip: String) async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("rx.pcapng").path
        let run = try await ProbeRunner.run(["rtw88-rx", chip, path, "160"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        #expect(run.integer("expected") == 360)
        #expect(run.integer("captured") == 360, "\(run.diagnosis)")
        #expect(run.integer("mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("model_not_heard") == 120, "the other channels' frames must go unheard")
        #expect(run.integer("kernel_drops") == 0)
        // Aggregation: several packets per bulk IN transfer.
        #expect((run.integer("rx_transfers") ?? .max) < 360)

        guard Self.tsharkAvailable else { return }
        let fields = try runTshark([
            "-r", path, "-o", "wlan.check_fcs:TRUE", "-T", "fields",
            "-e", "radiotap.channel.freq", "-e", "radiotap.datarate", "-e", "radiotap.mcs.index",
            "-e", "radiotap.vht.mcs.0", "-e", "radiotap.vht.nss.0", "-e", "radiotap.dbm_antsignal", "-e", "wlan.fcs.status",
        ])
        let rows = fields.split(separator: "\n").map { line -> String in
            let field = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let rate: String
            if !field[3].isEmpty { rate = "vht \(field[3]) \(field[4])" } else if !field[2].isEmpty { rate = "ht \(field[2])" } else { rate = "legacy \(field[1])" }
            let signal = field[5].split(separator: ",").first.map(String.init) ?? ""
            return "\(field[0])\t\(rate)\t\(signal)\t\(field[6])"
        }
        let expected = try String(contentsOfFile: path + ".expected", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(rows.count == expected.count, "tshark saw \(rows.count) frames")
        #expect(rows.map { $0.split(separator: "\t").prefix(3).joined(separator: "\t") } == expected,
                "tshark's frequency/rate/signal differ from the model's")
        #expect(rows.allSatisfy { $0.hasSuffix("\t2") || $0.hasSuffix("\t1") }, "FCS must be good")
    }

    @Test("TX: injected frames are recorded byte-identical on 6 and 36 with rtw88's rate, and every TX report is answered",
          arguments: chips)
    func transmit(chip: String) async throws {
        let run = try await ProbeRunner.run(["rtw88-tx", chip, "400"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        #expect(run.integer("recorded") == 800, "\(run.diagnosis)")
        #expect(run.integer("byte_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("rate_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("channel_mismatches") == 0)
        #expect(run.integer("reports_requested") == 800, "mac80211 asks a TX status of every injected frame")
        #expect(run.integer("bad_checksums") == 0)
        #expect(run.integer("malformed") == 0)
    }

    @Test("TX: 10,000 frames of continuous injection, no 'failed to get tx report' purge")
    func sustainedInjection() async throws {
        let run = try await ProbeRunner.run(["rtw88-tx", "rtl8821au", "5000"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        #expect(run.integer("recorded") == 10_000, "\(run.diagnosis)")
        #expect(run.integer("purge_warnings") == 0)
        #expect(run.integer("reports_requested") == 10_000)
    }

    @Test("one air, two drivers, one process: the emulated RTL8187L injects on 6, the emulated RTL8821AU captures it all")
    func sharedAir() async throws {
        let run = try await ProbeRunner.run(["rtw88-air", "200"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        #expect(run.integer("transmitted_by_rtl8187") == 200)
        #expect(run.integer("received_by_rtl8821au") == 200, "\(run.diagnosis)")
        #expect(run.integer("byte_mismatches") == 0)
        #expect(run.integer("rate_mismatches") == 0, "the RTL8821AU must report the RTL8187's legacy rates")
    }

    @Test("usbmon trace of the RTL8821AU bring-up decodes in tshark and shows the firmware download",
          .enabled(if: RTW88Tests.tsharkAvailable))
    func bringUpTrace() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bringup.pcap").path
        let run = try await ProbeRunner.run(["rtw88-probe", "rtl8821au", path])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        let summary = try runTshark(["-r", path])
        #expect(summary.contains("GET DESCRIPTOR Request DEVICE"))
        #expect(summary.contains("SET CONFIGURATION"))
        let fields = try runTshark([
            "-r", path, "-T", "fields", "-e", "usb.bmRequestType", "-e", "usb.setup.bRequest", "-e", "usb.setup.wValue",
            "-e", "usb.setup.wLength", "-e", "usb.endpoint_address", "-e", "usb.urb_type",
        ])
        let rows = fields.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        // The 8051 download: vendor writes into the 0x1000-0x1FFF page window, 196 bytes at a time.
        let firmwareWrites = rows.filter { row in
            guard row.count >= 4, row[0] == "0x40", row[1] == "5", let address = Int(row[2].dropFirst(2), radix: 16) else { return false }
            return (0x1000..<0x2000).contains(address)
        }
        let payload = 12_000
        #expect(firmwareWrites.filter { $0[3] == "196" }.count >= 2 * (payload / 196 - 4), "tshark: \(firmwareWrites.count) firmware writes")
        let firmwareBytes = firmwareWrites.compactMap { Int($0[3]) }.reduce(0, +)
        #expect(firmwareBytes == 2 * payload, "the trace carries the firmware payload twice (probe and interface up)")
        let receiveSubmissions = rows.filter { $0.count >= 6 && $0[4] == "0x81" && $0[5] == "'S'" }.count
        #expect(receiveSubmissions >= 4, "rtw88 keeps 4 RX URBs on bulk IN 1")
    }
}
