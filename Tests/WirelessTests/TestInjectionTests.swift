// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// `airtap test-injection` (aireplay-ng -9's check) against the simulated
/// air's access points, which answer probe requests.
@Suite("airtap test-injection (child processes)", .timeLimit(.minutes(5)))
struct TestInjectionTests {
    struct Report: Decodable {
        struct AccessPoint: Decodable {
            var bssid: String
            var ssid: String
            var sent: Int
            var answered: Int
            var averageMilliseconds: Double?
        }
        var accessPoints: [AccessPoint]
        var injectionWorks: Bool
        var verdict: String
    }

    static func report(_ arguments: String...) async throws -> (ToolRun, Report?) {
        let run = try await ToolRunner.run(try ToolRunner.airtapPath(), ["test-injection", "--json"] + arguments)
        let start = run.standardOutput.firstIndex(of: "{")
        let report = start.flatMap { try? JSONDecoder().decode(Report.self, from: Data(run.standardOutput[$0...].utf8)) }
        return (run, report)
    }

    @Test("emulated:rtl8187 on 6: both of the channel's APs answer all 30 directed probes when the air loses nothing")
    func noLoss() async throws {
        let (run, report) = try await Self.report("--device", "emulated:rtl8187", "--channel", "6")
        try #require(run.succeeded, "\(run.diagnosis)")
        let parsed = try #require(report, "\(run.diagnosis)")
        #expect(parsed.injectionWorks)
        #expect(parsed.verdict == "Injection is working!")
        #expect(Set(parsed.accessPoints.map(\.ssid)) == ["CoffeeShop Guest", "Lab-IoT"])
        #expect(parsed.accessPoints.allSatisfy { $0.sent == 30 && $0.answered == 30 }, "\(parsed.accessPoints)")
        #expect(parsed.accessPoints.allSatisfy { ($0.averageMilliseconds ?? 0) > 0 })
    }

    @Test("emulated:rtl8187 with --air-loss 40: answers go missing and the figures say so")
    func lossyAir() async throws {
        let (run, report) = try await Self.report("--device", "emulated:rtl8187", "--channel", "6", "--air-loss", "40")
        try #require(run.succeeded, "\(run.diagnosis)")
        let parsed = try #require(report, "\(run.diagnosis)")
        #expect(parsed.injectionWorks)
        #expect(!parsed.accessPoints.isEmpty)
        #expect(parsed.accessPoints.allSatisfy { $0.answered < 30 && $0.answered > 0 }, "\(parsed.accessPoints)")
    }

    @Test("text report on sim and on the emulated RTL8821AU; a channel without APs fails with the verdict",
          arguments: ["sim", "emulated:rtl8821au"])
    func textReport(device: String) async throws {
        let run = try await ToolRunner.airtap("test-injection", "--device", device, "--channel", "6")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardOutput.contains("Injection is working!"), "\(run.diagnosis)")
        #expect(run.standardOutput.contains("Found 2 APs"))
        #expect(run.standardOutput.contains("'CoffeeShop Guest'"))
        #expect(run.standardOutput.contains("30/30: 100%"))
        #expect(run.standardOutput.contains("Ping (min/avg/max): "))
        let empty = try await ToolRunner.airtap("test-injection", "--device", device, "--channel", "3")
        #expect(empty.status == 1, "\(empty.diagnosis)")
        #expect(empty.standardOutput.contains("No access point answered"), "\(empty.diagnosis)")
    }
}
