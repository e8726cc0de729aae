// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `--device emulated:rtl8187`: the airtap commands over the full USB path
/// (the rtl8187 driver, the virtual USB host controller, the RTL8187 model).
@Suite("airtap on the emulated RTL8187 (child processes)", .timeLimit(.minutes(10)))
struct EmulatedRTL8187EndToEndTests {
    @Test("capture: frames from the adapter's air on the tuned channel, tshark reads them")
    func capture() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("rtl.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8187", "--channel", "6", "--count", "30", "-w", output, "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "captured ") == 30, "\(run.diagnosis)")
        let fields = try await ToolRunner.tshark([
            "-r", output, "-o", "wlan.check_fcs:TRUE", "-T", "fields", "-e", "radiotap.channel.freq", "-e", "wlan.fcs.status",
        ])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = fields.standardOutput.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == 30)
        #expect(rows.allSatisfy { $0.first == "2437" }, "frequencies: \(Set(rows.compactMap(\.first)))")
        #expect(rows.allSatisfy { $0.last == "2" || $0.last == "1" }, "FCS: \(Set(rows.compactMap(\.last)))")
    }

    @Test("surprise removal mid-capture: a clear message, exit status 3, a complete file tshark reads")
    func surpriseRemoval() async throws {
        try await expectCleanSurpriseRemoval(device: "emulated:rtl8187")
    }

    @Test("inject: the adapter transmits every frame on the tuned channel")
    func inject() async throws {
        let run = try await ToolRunner.airtap(
            "inject", "--device", "emulated:rtl8187", "--channel", "11", "--generate", "50", "--rate", "54", "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "injected ") == 50, "\(run.diagnosis)")
        #expect(run.standardError.contains("the emulated:rtl8187 model transmitted 50 frames on channel 11"), "\(run.diagnosis)")
    }

    @Test("info: the RTL8187's band, its 12 rates and 14 channels, monitor mode")
    func info() async throws {
        let run = try await ToolRunner.airtap("info", "--device", "emulated:rtl8187")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardOutput.contains("Band 2.4 GHz"))
        #expect(run.standardOutput.contains("bitrates (Mb/s): 1 2 5.5 11 6 9 12 18 24 36 48 54"))
        #expect(run.standardOutput.contains("2484 MHz"))
        #expect(run.standardOutput.contains("00:e0:4c:81:87:01"), "the EEPROM's MAC address")
        #expect(run.standardOutput.contains("monitor"))
    }

    @Test("demo: captures from the emulated RTL8187 over channels 1, 6, 11 and summarises the networks")
    func demo() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("demo.pcapng").path
        let run = try await ToolRunner.airtap(
            "demo", "--device", "emulated:rtl8187", "--channel", "1,6,11", "-w", output, "--duration", "4")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.contains("capturing on emulated:rtl8187"), "\(run.diagnosis)")
        for ssid in ["airtap-home", "CoffeeShop Guest", "Printer-Direct"] {
            #expect(run.standardOutput.contains(ssid), "\(ssid) missing from the summary\n\(run.diagnosis)")
        }
        let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(file.packets.count > 20)
    }
}

/// Captures from `device` until `--unplug-after` pulls the adapter out, and
/// checks what a user must get: exit status 3, the message, the kernel's
/// disconnect, and a complete pcapng (closing statistics, tshark reads it).
func expectCleanSurpriseRemoval(device: String) async throws {
    try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
    let scratch = try ToolRunner.scratchDirectory()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let output = scratch.appendingPathComponent("unplugged.pcapng").path
    let run = try await ToolRunner.airtap(
        "capture", "--device", device, "--channel", "6", "--unplug-after", "1.5", "-w", output, "--quiet", "--verbose")
    #expect(run.status == 3, "\(run.diagnosis)")
    #expect(!run.kernelWarned, "\(run.diagnosis)")
    #expect(run.standardError.contains("was unplugged (surprise removal): capture stopped"), "\(run.diagnosis)")
    #expect(run.standardError.contains("USB disconnect"), "the kernel should see the adapter go")
    let reported = try #require(run.standardError.integer(after: "captured "), "\(run.diagnosis)")
    #expect(reported > 0)
    let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
    #expect(file.packets.count == reported)
    #expect(file.statistics.first?.delivered == UInt64(reported), "the closing statistics block is missing")
    let tshark = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "frame.number"])
    #expect(tshark.succeeded, "\(tshark.diagnosis)")
    #expect(tshark.standardOutput.split(separator: "\n").count == reported)
    #expect(!tshark.standardError.contains("cut short"))
}
