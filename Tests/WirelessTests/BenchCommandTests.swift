// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// `airtap bench` in miniature: the figures `make bench` records must be
/// there, consistent, and summarised over repeated runs. (Speed itself is
/// measured by `make bench`, never asserted here.)
@Suite("airtap bench output (child processes)", .timeLimit(.minutes(5)))
struct BenchCommandTests {
    /// `RESULT label key=value ...` lines as label -> [fields], in order.
    static func results(_ output: String) -> [(label: String, fields: [String: String])] {
        output.split(separator: "\n").filter { $0.hasPrefix("RESULT ") }.map { line in
            let words = line.split(separator: " ").dropFirst()
            var fields: [String: String] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
            return (String(words.first ?? ""), fields)
        }
    }

    /// Runs `airtap bench ARGUMENTS`, which must succeed; its RESULT lines and its whole standard output.
    static func bench(_ arguments: String...) async throws -> (results: [(label: String, fields: [String: String])], output: String) {
        let run = try await ToolRunner.run(try ToolRunner.airtapPath(), ["bench"] + arguments, timeoutSeconds: 120)
        try #require(run.succeeded, "\(run.diagnosis)")
        return (results(run.standardOutput), run.standardOutput)
    }

    @Test("emulated RTL8187L: every injected frame sent, repeated runs summarised with their spread")
    func emulatedAdapterRuns() async throws {
        let (results, output) = try await Self.bench("--device", "emulated:rtl8187", "--sizes", "64", "--frames", "2000", "--runs", "3")
        let transmits = results.filter { $0.label == "rtl8187_tx" }
        #expect(transmits.count == 3, "\(output)")
        for transmit in transmits {
            #expect(transmit.fields["adapter_sent"] == "2000", "\(transmit)")
            #expect(transmit.fields["switches_per_frame"] != nil, "\(transmit)")
        }
        #expect(results.filter { $0.label == "rtl8187_rx" }.count == 3)
        let peak = results.first { $0.label == "rtl8187_peak_rss" }?.fields["kib"].flatMap(Int.init) ?? 0
        #expect(peak > 10_000, "peak RSS \(peak) KiB")
        for label in ["rtl8187_rx_spread", "rtl8187_tx_spread"] {
            let spread = try #require(results.first { $0.label == label }, "no \(label) in \(output)")
            #expect(spread.fields["runs"] == "3")
            let median = try #require(spread.fields["cpu_us_per_frame_median"].flatMap(Double.init))
            let minimum = try #require(spread.fields["cpu_us_per_frame_min"].flatMap(Double.init))
            let maximum = try #require(spread.fields["cpu_us_per_frame_max"].flatMap(Double.init))
            let ratio = try #require(spread.fields["cpu_us_per_frame_spread"].flatMap(Double.init))
            #expect(minimum > 0 && minimum <= median && median <= maximum, "\(spread)")
            #expect(abs(ratio - maximum / minimum) < 0.02, "\(spread)")
        }
    }

    @Test("emulated rtw88: an offered load is accounted for, and the chip's own CPU is told apart from the path's")
    func emulatedOfferedLoadSeparatesChipWork() async throws {
        let (results, output) = try await Self.bench(
            "--device", "emulated:rtl8821au", "--sizes", "1500", "--frames", "500", "--offered-rates", "1000",
            "--offered-seconds", "0.5", "--offered-runs", "2")
        let row = try #require(results.first { $0.label == "rtl8821au_offered" }, "\(output)")
        #expect(row.fields["offered"] == "500", "\(row)")
        #expect(row.fields["kernel_drops_max"] == "0", "\(row)")
        // Loss the emulation's lateness caused is a part of the chip's loss, never more.
        let lost = try #require(row.fields["chip_lost_max"].flatMap(Int.init), "\(row)")
        let late = try #require(row.fields["chip_lost_late_max"].flatMap(Int.init), "\(row)")
        #expect(late >= 0 && late <= lost, "\(row)")
        let captured = try #require(row.fields["captured_median"].flatMap(Double.init))
        #expect(captured >= 475 && captured <= 500, "\(row)")
        // The chip's thread keeps the air's time and fills URBs: a real, nonzero share, never all of it.
        let whole = try #require(row.fields["cpu_us_median"].flatMap(Double.init))
        let path = try #require(row.fields["path_cpu_us_median"].flatMap(Double.init))
        #expect(path > 0 && path < whole, "\(row)")
        let receive = try #require(results.first { $0.label == "rtl8821au_rx" }, "\(output)")
        let receiveWhole = try #require(receive.fields["cpu_us_per_frame"].flatMap(Double.init))
        let receivePath = try #require(receive.fields["path_cpu_us_per_frame"].flatMap(Double.init))
        // A short flood: the chip's share is small there, and never negative.
        #expect(receivePath > 0 && receivePath <= receiveWhole, "\(receive)")
    }

    @Test("sim: a low offered load is captured whole, and stated per rate")
    func simulatedOfferedLoad() async throws {
        let (results, output) = try await Self.bench(
            "--sizes", "64", "--frames", "1000", "--paced-rate", "0", "--offered-rates", "2000,4000",
            "--offered-seconds", "0.5", "--offered-runs", "2")
        let offered = results.filter { $0.label == "sim_offered" }
        #expect(offered.map { $0.fields["rate"] } == ["2000", "4000"], "\(output)")
        for row in offered {
            #expect(row.fields["runs"] == "2")
            #expect(row.fields["lost_max"] == "0", "\(row)")
            #expect(row.fields["kernel_drops_max"] == "0", "\(row)")
            let rate = try #require(row.fields["rate"].flatMap(Double.init))
            #expect(row.fields["captured_median"].flatMap(Double.init) == rate * 0.5, "\(row)")
        }
    }

    @Test(
        "a bad --runs or --offered-rates is refused before anything runs",
        arguments: [
            (["--runs", "0"], "--runs must be 1...100"),
            (["--offered-rates", "35000,fast"], "--offered-rates: fast is not a positive rate"),
        ])
    func badArguments(arguments: [String], message: String) async throws {
        let run = try await ToolRunner.run(try ToolRunner.airtapPath(), ["bench"] + arguments, timeoutSeconds: 120)
        #expect(!run.succeeded)
        #expect(run.standardError.contains(message), "\(run.standardError)")
    }
}
