// SPDX-License-Identifier: GPL-2.0-only

import Airtap
import Foundation
import Testing

/// The Airtap library: README's example (compared with the file that
/// builds, then run), its contract (airtap-library-checks), and frame
/// parsing. Programs that open a radio run as child processes: the kernel
/// library boots once per process.
@Suite("Airtap library (README example, contract)", .timeLimit(.minutes(10)))
struct AirtapLibraryTests {
    static let examplePath = "Sources/AirtapExample/main.swift"

    /// A program built next to the airtap binary.
    static func program(_ name: String) throws -> String {
        let path = URL(fileURLWithPath: try ToolRunner.airtapPath()).deletingLastPathComponent().appendingPathComponent(name).path
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: run swift build --build-tests")
        return path
    }

    @Test("README.md quotes Sources/AirtapExample/main.swift verbatim")
    func readmeQuotesTheExample() throws {
        let readme = try String(contentsOf: ToolRunner.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: ToolRunner.packageRoot.appendingPathComponent(Self.examplePath), encoding: .utf8)
        let marker = "<!-- quoted from \(Self.examplePath): keep equal (AirtapLibraryTests) -->\n```swift\n"
        let start = try #require(readme.range(of: marker), "README.md lacks the marker line before the example")
        let end = try #require(readme.range(of: "\n```\n", range: start.upperBound..<readme.endIndex), "unterminated block")
        let quoted = String(readme[start.upperBound..<end.lowerBound]) + "\n"
        #expect(quoted == example, "README's example differs from \(Self.examplePath): copy the file into README.md")
    }

    static func expectExampleOutput(_ run: ToolRun, device: String) {
        #expect(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        let lines = run.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("listening on \(device) (") == true, "\(run.diagnosis)")
        let frameLines = lines.filter { $0.contains(" MHz  ") }
        #expect(frameLines.count == 10, "\(run.diagnosis)")
        #expect(frameLines.allSatisfy { $0.hasPrefix("2437 MHz  ") && $0.contains(" dBm  ") }, "\(run.diagnosis)")
        let summary = lines.last ?? ""
        #expect(summary.contains("injected 1,"), "\(run.diagnosis)")
        #expect((summary.integer(after: "captured ") ?? 0) >= 10, "\(run.diagnosis)")
    }

    @Test("the example captures ten frames on channel 6 from sim and injects one")
    func exampleOnSim() async throws {
        let run = try await ToolRunner.run(try Self.program("AirtapExample"), ["sim"])
        Self.expectExampleOutput(run, device: "sim")
        #expect(!run.standardError.contains("Linux version"), "the kernel's console stays quiet by default\n\(run.diagnosis)")
    }

    @Test("the example on emulated:rtl8187: the same through the USB path")
    func exampleOnEmulatedRTL8187() async throws {
        let run = try await ToolRunner.run(try Self.program("AirtapExample"), ["emulated:rtl8187"])
        Self.expectExampleOutput(run, device: "emulated:rtl8187")
    }

    static func expectAllChecksPassed(_ mode: String) async throws {
        let run = try await ToolRunner.run(try program("airtap-library-checks"), [mode])
        let failed = run.standardOutput.split(separator: "\n").filter { $0.contains("FAILED") }
        #expect(failed.isEmpty, "\(failed.joined(separator: "\n"))\n\(run.diagnosis)")
        #expect(run.succeeded && run.standardOutput.contains("ALL CHECKS PASSED"), "\(run.diagnosis)")
    }

    @Test("contract on sim: errors before tune and after close, one capture at a time, hopping, retuning from another task, inject checks, one radio per process")
    func contractOnSim() async throws {
        try await Self.expectAllChecksPassed("sim")
    }

    @Test("contract on emulated:rtl8187: unplugging mid-capture ends the sequence with RadioError.removed")
    func contractOnSurpriseRemoval() async throws {
        try await Self.expectAllChecksPassed("removal")
    }

    @Test("CapturedFrame reads channel, rate, signal and the 802.11 part from radiotap")
    func capturedFrameFields() throws {
        // Present: Flags (bit 1), Rate (2), Channel (3), Antenna signal (5).
        let radiotap: [UInt8] = [0, 0, 15, 0, 0x2E, 0, 0, 0] + [0x00, 11] + [0x6C, 0x09, 0xA0, 0x00] + [UInt8(bitPattern: -42)]
        let ack: [UInt8] = [0xD4, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01]
        let frame = CapturedFrame(bytes: radiotap + ack, originalLength: 40, timestampNanoseconds: 1_500_000_000)
        #expect(frame.frequencyMHz == 2412)
        #expect(frame.channel == 1)
        #expect(frame.rateMbps == 5.5)
        #expect(frame.rate == "5.5 Mb/s")
        #expect(frame.signalDBm == -42)
        #expect(Array(frame.ieee80211) == ack)
        #expect(frame.originalLength == 40)
        #expect(frame.timestamp == .milliseconds(1500))
        #expect(!frame.hasBadFCS)

        let notRadiotap = CapturedFrame(bytes: [0x45, 0x00, 0x00], timestampNanoseconds: 0)
        #expect(notRadiotap.radiotap == nil)
        #expect(notRadiotap.frequencyMHz == nil)
        #expect(Array(notRadiotap.ieee80211) == [0x45, 0x00, 0x00], "without radiotap the whole frame is the 802.11 part")
    }
}
