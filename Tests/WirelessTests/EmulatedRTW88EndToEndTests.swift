// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `--device emulated:rtl8821au` / `emulated:rtl8821cu` (and their libusb
/// stand-ins): the airtap commands over the unmodified rtw88 drivers, the
/// virtual USB host controller and the Realtek models on the shared air.
@Suite("airtap on the emulated rtw88 chips (child processes)", .timeLimit(.minutes(10)))
struct EmulatedRTW88EndToEndTests {
    static let devices = ["emulated:rtl8821au", "emulated:rtl8821cu", "emulated-libusb:rtl8821au"]

    @Test("capture on 36 (5 GHz): frames of the air's 5 GHz network, tshark reads them, clean kernel log", arguments: devices)
    func capture(device: String) async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("rtw.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", device, "--channel", "36", "--count", "20", "-w", output, "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        #expect(run.standardError.integer(after: "captured ") == 20, "\(run.diagnosis)")
        let fields = try await ToolRunner.tshark([
            "-r", output, "-o", "wlan.check_fcs:TRUE", "-T", "fields", "-e", "radiotap.channel.freq", "-e", "wlan.bssid",
            "-e", "wlan.fcs.status",
        ])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = fields.standardOutput.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 20)
        #expect(rows.allSatisfy { $0.first == "5180" }, "frequencies: \(Set(rows.compactMap(\.first)))")
        #expect(rows.contains { $0[1] == "02:a1:00:24:00:01" }, "Office-5G (channel 36) must be on the air")
        #expect(rows.allSatisfy { $0.last == "2" || $0.last == "1" }, "FCS: \(Set(rows.compactMap(\.last)))")
    }

    @Test("hopping 1, 6, 11, 36, 149: every channel visited, each beacon heard only on its own channel")
    func hopping() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("hop.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8821au", "--channel", "1,6,11,36,149", "--hop-interval", "0.35",
            "--duration", "4", "-w", output, "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        let fields = try await ToolRunner.tshark([
            "-r", output, "-T", "fields", "-e", "radiotap.channel.freq", "-e", "wlan.fc.type_subtype", "-e", "wlan.ds.current_channel",
        ])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = fields.standardOutput.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let frequencies = Set(rows.compactMap(\.first))
        #expect(frequencies == ["2412", "2437", "2462", "5180", "5745"], "frequencies: \(frequencies)")
        let beacons = rows.filter { $0.count >= 3 && $0[1] == "0x0008" }
        let channelOf: [String: String] = ["2412": "1", "2437": "6", "2462": "11", "5180": "36", "5745": "149"]
        #expect(beacons.count >= 10, "\(beacons.count) beacons")
        // rtw88 labels a frame with the channel current when its RX work runs
        // (rx.c: hw->conf.chandef), so a frame received just before a hop can
        // carry the next channel's frequency; the model drops its FIFO at each
        // retune, so such frames can only lead the new channel's run. And
        // mac80211 7.3 moves a monitor through its default channel (1) on every
        // hop (cfg.c ieee80211_set_monitor_channel releases the chanctx before
        // taking the new one; with none, hw.conf falls back to dflt_chandef),
        // so the radio really is on 1 for a moment: frames from 1 may lead a
        // run too, and short runs on 2412 between hops are real. Anything else
        // is heard off its channel.
        var misplaced: [[String]] = []
        var previousFrequency: String?
        var runFrequency: String?
        var runStillLeading = false
        for row in rows where row.count >= 3 {
            if row[0] != runFrequency {
                previousFrequency = runFrequency
                runFrequency = row[0]
                runStillLeading = true
            }
            guard row[1] == "0x0008" else { continue }
            if channelOf[row[0]] == row[2] {
                runStillLeading = false
            } else if !(runStillLeading && (previousFrequency.flatMap { channelOf[$0] } == row[2] || row[2] == "1")) {
                misplaced.append(row)
            }
        }
        #expect(misplaced.isEmpty, "beacons heard off their channel: \(misplaced.prefix(5))")
        #expect(Set(beacons.map(\.[2])) == ["1", "6", "11", "36", "149"], "every channel's network")
    }

    @Test("surprise removal mid-capture: a clear message, exit status 3, a complete file tshark reads", arguments: devices)
    func surpriseRemoval(device: String) async throws {
        try await expectCleanSurpriseRemoval(device: device)
    }

    @Test("inject: the model transmits every frame on the tuned channel", arguments: ["emulated:rtl8821au", "emulated:rtl8821cu"])
    func inject(device: String) async throws {
        let run = try await ToolRunner.airtap("inject", "--device", device, "--channel", "11", "--generate", "50", "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        #expect(run.standardError.integer(after: "injected ") == 50, "\(run.diagnosis)")
        #expect(run.standardError.contains("the \(device) model transmitted 50 frames on channel 11"), "\(run.diagnosis)")
    }

    @Test("info: 2.4 and 5 GHz bands with HT and VHT, the efuse MAC, monitor mode")
    func info() async throws {
        let run = try await ToolRunner.airtap("info", "--device", "emulated:rtl8821au")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardOutput.contains("Band 2.4 GHz (HT cap"))
        #expect(run.standardOutput.contains("Band 5 GHz (HT cap"))
        #expect(run.standardOutput.contains("VHT cap"))
        #expect(run.standardOutput.contains("5745 MHz"))
        #expect(run.standardOutput.contains("00:e0:4c:88:21:a1"), "the efuse's MAC address")
        #expect(run.standardOutput.contains("monitor"))
    }

    @Test("demo: the emulated RTL8821AU over 2.4 and 5 GHz channels, every network of the air in the summary")
    func demo() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("demo.pcapng").path
        let run = try await ToolRunner.airtap("demo", "-w", output, "--duration", "5")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.contains("capturing on emulated:rtl8821au"), "\(run.diagnosis)")
        for ssid in ["airtap-home", "CoffeeShop Guest", "Printer-Direct", "Office-5G", "Campus-VHT"] {
            #expect(run.standardOutput.contains(ssid), "\(ssid) missing from the summary\n\(run.diagnosis)")
        }
        let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(file.packets.count > 20)
    }
}
