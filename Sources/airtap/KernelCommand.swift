// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import LinuxKernel

/// `airtap kernel`: boot, show the banner (and optionally KUnit results), halt.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Boot the built-in Linux kernel, print its banner and halt it."
    )

    @Flag(help: "Run the kernel's built-in KUnit suites and print a summary.")
    var kunit = false

    @Option(name: .customLong("kunit-filter"), help: "Only run KUnit suites matching this glob (implies --kunit).")
    var kunitFilter: String?

    @Option(name: .customLong("memory"), help: "Kernel RAM in MiB.")
    var memoryMiB = 64

    @Option(name: .customLong("cmdline"), help: "Extra kernel command line.")
    var extraCommandLine = ""

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    func validate() throws {
        guard memoryMiB > 0 else { throw ValidationError("--memory must be positive") }
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        let runKUnit = kunit || kunitFilter != nil

        var commandLineParts: [String] = []
        if runKUnit { commandLineParts.append("kunit.enable=1") }
        if let kunitFilter { commandLineParts.append("kunit.filter_glob=\(kunitFilter)") }
        if !extraCommandLine.isEmpty { commandLineParts.append(extraCommandLine) }

        let console = ConsoleRecorder()
        let kernel = try Kernel.boot(
            memoryMiB: memoryMiB, commandLine: commandLineParts.joined(separator: " "), console: console.sink)
        print(console.bannerLine ?? "(the kernel printed no \"Linux version\" banner)")

        var failedSuites = 0
        if runKUnit {
            let report = console.ktapReport(waitingUpTo: 90)
            print()
            print(KUnitSummaryTable(report: report).rendered)
            failedSuites = report.failedSuites.count
            if report.plannedSuiteCount == nil {
                print("No KUnit output: is KUnit built into the kernel?")
                failedSuites = max(failedSuites, 1)
            }
        }

        try kernel.halt()
        if failedSuites > 0 { throw ExitCode.failure }
    }
}

/// Per-suite pass/fail/skip counts as a text table.
struct KUnitSummaryTable {
    let report: KTAPReport

    var rendered: String {
        let header = ["SUITE", "PASS", "FAIL", "SKIP", "RESULT"]
        let rows = report.suites.map { suite -> [String] in
            // Prefer the individual test lines; fall back to the suite's own
            // summary line if the suite reported no tests (e.g. init failed).
            let counts = suite.tests.isEmpty ? (suite.caseCounts ?? suite.testCounts) : suite.testCounts
            return [suite.name, "\(counts.passed)", "\(counts.failed)", "\(counts.skipped)", suite.result.description]
        }
        let nameWidth = ([header[0]] + rows.map { $0[0] }).map(\.count).max() ?? 0
        func format(_ row: [String]) -> String {
            row[0].padding(to: nameWidth) + "  "
                + row[1...3].map { $0.leftPadding(to: 5) }.joined() + "  " + row[4]
        }
        var lines = [format(header)]
        lines += rows.map(format)
        let planned = report.plannedSuiteCount.map { " of \($0) planned" } ?? ""
        lines.append("\(report.suites.count) suites\(planned), \(report.failedSuites.count) failed")
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    fileprivate func leftPadding(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
