// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `--device emulated-libusb:rtl8187`: the code a real USB adapter runs
/// (driver table, firmware staging, LibUSBAdapter, completions from a
/// libusb-style event thread, removal reported as NO_DEVICE), with the
/// RTL8187L model standing in for the hardware behind the libusb seam.
@Suite("airtap on the real-adapter path with a stand-in device (child processes)", .timeLimit(.minutes(10)))
struct StandInUSBAdapterEndToEndTests {
    @Test("capture: the rtl8187 driver through LibUSBAdapter, tshark reads the frames")
    func capture() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("libusb.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated-libusb:rtl8187", "--channel", "11", "--count", "25", "-w", output,
            "--usb-max-transfer", "1024", "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.contains("capturing on emulated-libusb:rtl8187"), "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "captured ") == 25, "\(run.diagnosis)")
        let fields = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "radiotap.channel.freq"])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = fields.standardOutput.split(separator: "\n")
        #expect(rows.count == 25)
        #expect(rows.allSatisfy { $0 == "2462" }, "frequencies: \(Set(rows))")
    }

    @Test("surprise removal behind libusb: NO_DEVICE, disconnect, exit status 3, a complete file")
    func surpriseRemoval() async throws {
        try await expectCleanSurpriseRemoval(device: "emulated-libusb:rtl8187")
    }
}
