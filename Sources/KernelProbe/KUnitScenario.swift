// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

func runKUnit(extraCommandLine: String) throws {
    let console = ConsoleRecorder()
    let kernel = try Kernel.boot(
        commandLine: commandLine("kunit.enable=1", extra: extraCommandLine), console: console.sink)

    let report = console.ktapReport(waitingUpTo: 90)

    for line in report.ktapLines {
        ProbeOutput.emit("KTAP| \(line)")
    }
    for suite in report.suites {
        ProbeOutput.emit("SUITE \(suite.ok ? "ok" : "notok") \(suite.name)")
    }
    let failed = report.failedSuites
    let skipped = report.suites.filter { if case .skipped = $0.result { true } else { false } }
    ProbeOutput.result(["kunit_suites": "\(report.suites.count)", "kunit_failed": "\(failed.count)"])
    ProbeOutput.result(["kunit_skipped": "\(skipped.count)", "kunit_planned": "\(report.plannedSuiteCount ?? -1)"])
    ProbeOutput.result("kunit_plan_matched", report.planMatched ? 1 : 0)

    try kernel.halt()

    guard report.plannedSuiteCount != nil else {
        ProbeOutput.fail("no KTAP output on the kernel console; is KUnit built in and kunit.enable honoured?")
    }
    guard failed.isEmpty else {
        ProbeOutput.fail("\(failed.count) KUnit suites failed: " + failed.map(\.name).joined(separator: ", "))
    }
    guard report.planMatched else {
        ProbeOutput.fail(
            "KUnit planned \(report.plannedSuiteCount ?? 0) suites but reported \(report.suites.count); output cut short?")
    }
}
