// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// The kernel's unmodified rtl8187 driver on the RTL8187L model, through
/// the virtual USB host controller: each test is one probe process.
@Suite("Emulated RTL8187L (probe processes)", .timeLimit(.minutes(10)))
struct RTL8187Tests {
    static var tsharkAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark") }

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-rtl8187-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("probe: rtl8187 binds as RTL8187vD + rtl8225, wlan0 appears with the EEPROM's MAC, monitor mode tunes the RF")
    func probe() async throws {
        let run = try await ProbeRunner.run(["rtl8187-probe"], environment: ["AIRTAP_LOG_LEVEL": "info"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.contains("RTL8187vD V1 + rtl8225, rfkill mask 2"), "\(run.diagnosis)")
        #expect(run.standardError.contains("rtl8187: wireless switch is on"))
        #expect(!run.standardError.contains("Invalid hwaddr"), "the driver fell back to a random MAC")
        #expect(!run.standardError.contains("RF Calibration Failed"))
        #expect(run.results["interface"] == "wlan0")
        #expect(run.results["interface_type"] == "monitor")
        let eepromMAC = try #require(run.results["eeprom_mac"])
        #expect(run.results["interface_mac"] == eepromMAC, "\(run.diagnosis)")
        #expect(run.integer("tuned_channel") == 6, "the RTL8225 register 7 write should select channel 6")
        // The MAC (3 words) and 14 TX-power bytes (7 words) came over Microwire.
        #expect((run.integer("eeprom_words_read") ?? 0) >= 10)
        // The link came up only after the probe had read its LED word.
        #expect(run.integer("eeprom_commands_interleaved") == 0, "\(run.diagnosis)")
    }

    @Test("RX: a channel-6 capture gets exactly the channel-6 air frames, in order, byte-identical, rate and signal as encoded")
    func receive() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("rx.pcapng").path
        let run = try await ProbeRunner.run(["rtl8187-rx", path, "300"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        let expected = try #require(run.integer("expected"))
        #expect(expected == 200)
        #expect(run.integer("captured") == expected, "\(run.diagnosis)")
        #expect(run.integer("byte_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("fcs_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("rate_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("signal_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("frequency_mismatches") == 0)
        #expect(run.integer("model_not_heard") == 100, "the channel-11 frames must go unheard")
        #expect((run.integer("distinct_rates") ?? 0) >= 8)
        #expect((run.integer("distinct_signals") ?? 0) >= 20)
        #expect(run.integer("kernel_drops") == 0)

        guard Self.tsharkAvailable else { return }
        // tshark agrees: frequency, rate and signal of every frame, in order, and a good FCS.
        let fields = try runTshark([
            "-r", path, "-o", "wlan.check_fcs:TRUE", "-T", "fields",
            "-e", "radiotap.channel.freq", "-e", "radiotap.datarate", "-e", "radiotap.dbm_antsignal", "-e", "wlan.fcs.status",
        ])
        let rows = fields.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let expectedRows = try String(contentsOfFile: path + ".expected", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == expectedRows.count, "tshark saw \(rows.count) frames")
        #expect(rows.map { Array($0.prefix(3)) } == expectedRows, "tshark's frequency/rate/signal differ from the model's")
        #expect(rows.allSatisfy { $0.last == "2" || $0.last == "1" }, "FCS status: \(Set(rows.compactMap(\.last)))")
    }

    @Test("TX: injected frames reach the model byte-identical, at the radiotap rate, on the tuned channel")
    func transmit() async throws {
        let run = try await ProbeRunner.run(["rtl8187-tx", "240"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.integer("recorded") == 240, "\(run.diagnosis)")
        #expect(run.integer("byte_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("rate_mismatches") == 0, "\(run.diagnosis)")
        #expect(run.integer("channel_mismatches") == 0)
        #expect(run.integer("malformed") == 0)
    }

    @Test("usbmon trace of the bring-up decodes in tshark: enumeration, vendor register requests, bulk RX URBs",
          .enabled(if: RTL8187Tests.tsharkAvailable))
    func bringUpTrace() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bringup.pcap").path
        let run = try await ProbeRunner.run(["rtl8187-probe", path])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        let summary = try runTshark(["-r", path])
        #expect(summary.contains("GET DESCRIPTOR Request DEVICE"))
        #expect(summary.contains("SET CONFIGURATION"))
        let fields = try runTshark([
            "-r", path, "-T", "fields", "-e", "usb.bmRequestType", "-e", "usb.setup.bRequest", "-e", "usb.endpoint_address",
            "-e", "usb.urb_type",
        ])
        let rows = fields.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let registerReads = rows.filter { $0.count >= 2 && $0[0] == "0xc0" && $0[1] == "5" }.count
        let registerWrites = rows.filter { $0.count >= 2 && $0[0] == "0x40" && $0[1] == "5" }.count
        let receiveSubmissions = rows.filter { $0.count >= 4 && $0[2] == "0x81" && $0[3] == "'S'" }.count
        // The model counted up to monitor-ready; the trace goes on to the unplug.
        #expect(registerReads >= (run.integer("register_reads") ?? .max), "tshark: \(registerReads) register reads")
        // RF writes through the 8051 are register-request writes too (wIndex 0x8225).
        #expect(registerWrites >= (run.integer("register_writes") ?? .max) + (run.integer("rf_writes") ?? 0),
                "tshark: \(registerWrites) register writes")
        #expect(receiveSubmissions == 32, "the driver keeps 32 RX URBs on bulk IN 1")
    }
}
