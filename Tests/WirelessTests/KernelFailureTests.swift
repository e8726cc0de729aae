// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// A kernel panic, oops or hang in the library while `airtap capture` runs
/// (test triggers on the kernel command line) ends airtap with the failure
/// named, the kernel log tail, its own exit status, and a complete file.
@Suite("Kernel failures inside the library are contained (child processes)", .timeLimit(.minutes(5)))
struct KernelFailureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var trigger: String
        var status: Int32
        var message: String
        var logLine: String
        /// Also in the message: where the fault struck.
        var site: [String] = []
        var testDescription: String { trigger }
    }

    // 10 s after boot: the adapter is up and capturing by then even on a loaded machine (make test runs everything at once).
    static let after = Int(TestTimeScale.seconds(10))
    static let cases = [
        Case(trigger: "lkl.test_panic_after=\(after)", status: 70, message: "airtap: kernel panic inside the library",
             logLine: "Kernel panic - not syncing: lkl.test_panic_after=\(after): test panic"),
        Case(trigger: "lkl.test_oops_after=\(after)", status: 71, message: "airtap: fatal signal 11 (Segmentation fault)",
             logLine: "lkl.test_oops_after=\(after): storing to a NULL pointer",
             site: ["(addr2line -f -e /", ", accessing 0x0"]),
        Case(trigger: "lkl.test_hang_after=\(after)", status: 72, message: "the kernel made no progress for",
             logLine: "lkl.test_hang_after=\(after): spinning with interrupts off"),
    ]

    @Test("capture on the emulated RTL8821AU, then the kernel fails: message, log tail, exit status, complete file",
          arguments: cases)
    func failureDuringCapture(_ failure: Case) async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("failed.pcapng").path
        let run = try await ToolRunner.run(
            "/usr/bin/env",
            ["AIRTAP_STUCK_SECONDS=\(TestTimeScale.seconds(3))", try ToolRunner.airtapPath(), "capture", "--device", "emulated:rtl8821au",
             "--channel", "6", "--duration", "\(Int(TestTimeScale.seconds(30)))", "-w", output, "--quiet", "--kernel-args", failure.trigger])
        #expect(run.status == failure.status, "\(run.diagnosis)")
        #expect(!run.killedBySignal, "\(run.diagnosis)")
        #expect(run.standardError.contains(failure.message), "\(run.diagnosis)")
        for text in failure.site { #expect(run.standardError.contains(text), "\(run.diagnosis)") }
        #expect(run.standardError.contains("--- kernel log tail ---"))
        #expect(run.standardError.contains(failure.logLine), "the tail must show the failure\n\(run.diagnosis)")
        let written = try #require(run.standardError.integer(after: "capture finished after the failure: "), "\(run.diagnosis)")
        #expect(written > 0, "the air's frames before the failure")
        let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(file.packets.count == written)
        #expect(file.statistics.first?.delivered == UInt64(written), "the closing statistics block is missing")
        let tshark = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "frame.number"])
        #expect(tshark.succeeded, "\(tshark.diagnosis)")
        #expect(tshark.standardOutput.split(separator: "\n").count == written)
        #expect(!tshark.standardError.contains("cut short"))
    }
}
