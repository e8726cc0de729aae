// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Testing

/// Suites that must run and pass. Adjust as the kernel configuration changes.
enum RequiredKUnitSuites {
    /// Exact suite names.
    static let names = ["lkl_irq", "lkl_port", "list-kunit-test", "hashtable", "string", "overflow"]
    /// For each prefix, at least one suite whose name starts with it.
    static let namePrefixes = ["cfg80211", "mac80211"]
    /// Suites the configuration builds in (kernel/config/airtap.config on
    /// 7.3); a kernel that registers them but does not run them (kunit.autorun
    /// off) reports none.
    static let minimumCount = 19
}

@Suite("KUnit inside the library", .timeLimit(.minutes(10)))
struct KUnitTests {
    @Test("all built-in KUnit suites pass, including the required ones")
    func builtInSuitesPass() async throws {
        let run = try await ProbeRunner.run("kunit")
        #expect(!run.timedOut, "\(run.diagnosis)")

        let suites = run.suites
        try #require(!suites.isEmpty, "no SUITE lines\n\(run.diagnosis)")
        let okByName = Dictionary(suites.map { ($0.name, $0.ok) }, uniquingKeysWith: { $0 && $1 })
        // The suites' KTAP verdicts in the test log (what `make test` shows).
        for (index, suite) in suites.enumerated() {
            print("KUnit: \(suite.ok ? "ok" : "not ok") \(index + 1) \(suite.name)")
        }
        print("KUnit: \(suites.count) suites, \(run.integer("kunit_failed") ?? -1) failures")
        #expect(suites.count >= RequiredKUnitSuites.minimumCount,
                "only \(suites.count) suites ran: \(suites.map(\.name))")
        #expect(run.integer("kunit_planned") == suites.count, "KTAP plan vs suites\n\(run.diagnosis)")

        #expect(okByName["lkl_irq"] == true, "lkl_irq: \(okByName["lkl_irq"].map { $0 ? "ok" : "not ok" } ?? "missing")")
        for name in RequiredKUnitSuites.names {
            #expect(okByName[name] == true, "suite \(name): \(okByName[name].map { $0 ? "ok" : "not ok" } ?? "missing")")
        }
        for prefix in RequiredKUnitSuites.namePrefixes {
            let matching = suites.filter { $0.name.hasPrefix(prefix) }
            #expect(matching.contains { $0.ok }, "no passing suite named \(prefix)*; found \(matching.map(\.name))")
        }

        let failed = suites.filter { !$0.ok }.map(\.name)
        #expect(failed.isEmpty, "failed suites: \(failed)")
        #expect(run.integer("kunit_failed") == 0)
        #expect(run.integer("kunit_plan_matched") == 1, "KTAP plan not fulfilled\n\(run.diagnosis)")
        #expect(run.exitedSuccessfully, "\(run.diagnosis)")

        // The raw KTAP the probe echoed must parse to the same verdicts.
        let reparsed = KTAPParser.parse(lines: ProbeOutputParser.ktapLines(in: run.standardOutput))
        #expect(reparsed.suites.map(\.name) == suites.map(\.name))
        #expect(reparsed.suites.map(\.ok) == suites.map(\.ok))
    }
}
