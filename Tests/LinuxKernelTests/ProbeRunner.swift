// SPDX-License-Identifier: GPL-2.0-only

import Foundation

/// Outcome of one `airtap-kernel-probe` process.
struct ProbeRun: Sendable {
    let arguments: [String]
    /// Exit status, or the signal number if `killedBySignal`.
    let status: Int32
    let killedBySignal: Bool
    let timedOut: Bool
    let elapsedSeconds: Double
    let standardOutput: String
    let standardError: String

    var exitedSuccessfully: Bool { !timedOut && !killedBySignal && status == 0 }

    /// The kernel logged a WARN or BUG (a broken invariant, even if the run
    /// went on to finish).
    var kernelWarned: Bool {
        let output = standardOutput + standardError
        return output.contains("WARNING: CPU") || output.contains("BUG:")
            || output.contains("bad: scheduling")
    }

    /// Kernel log lines reporting a problem: a WARN, BUG or oops, or a
    /// driver or USB core error (their messages say "error", "failed",
    /// "cannot", "invalid", ...). For scenarios whose kernel log must be
    /// clean; the one warning every boot prints (no initial console) aside.
    var kernelProblems: [String] {
        let markers = [
            "WARNING", "BUG", "Oops", "Call Trace", "error", "fail", "cannot", "can't", "invalid", "bogus",
            "not accepting", "unable",
        ]
        return (standardOutput + standardError).split(separator: "\n")
            .filter { $0.contains("[LinuxKernel]") && !$0.contains("unable to open an initial console") }
            .filter { line in markers.contains { line.contains($0) } }
            .map(String.init)
    }

    /// `RESULT key=value` pairs (see ProbeOutput in the probe); later keys win.
    var results: [String: String] { ProbeOutputParser.results(in: standardOutput) }

    /// `SUITE ok|notok <name>` lines as name -> ok.
    var suites: [(name: String, ok: Bool)] { ProbeOutputParser.suites(in: standardOutput) }

    func integer(_ key: String) -> Int? { results[key].flatMap { Int($0) } }

    /// What a failed expectation should show: how the process ended and the
    /// end of both output streams.
    var diagnosis: String {
        let ending: String
        if timedOut {
            ending = "killed after the \(Int(elapsedSeconds)) s timeout"
        } else if killedBySignal {
            ending = "killed by signal \(status)"
        } else {
            ending = "exit status \(status)"
        }
        return """
            airtap-kernel-probe \(arguments.joined(separator: " ")): \(ending) after \(String(format: "%.1f", elapsedSeconds)) s
            --- stdout (tail) ---
            \(standardOutput.suffixLines(30))
            --- stderr (tail) ---
            \(standardError.suffixLines(60))
            """
    }
}

enum ProbeRunnerError: Error, CustomStringConvertible {
    case executableNotFound([String])
    case cannotCreateOutputFile(String)

    var description: String {
        switch self {
        case .executableNotFound(let candidates):
            return "airtap-kernel-probe not found (run `swift build` first); looked at:\n"
                + candidates.joined(separator: "\n")
        case .cannotCreateOutputFile(let path):
            return "cannot create \(path) for the probe's output"
        }
    }
}

/// Runs the probe executable, one scenario per process.
enum ProbeRunner {
    /// Any scenario taking longer is killed and counts as failed.
    static let defaultTimeoutSeconds: Double = 120

    /// Root of the package, derived from this file's location.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // LinuxKernelTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// `AIRTAP_PROBE` if set; otherwise next to the running test binary (the
    /// build directory actually in use), otherwise .build/debug.
    static func executablePath() throws -> String {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["AIRTAP_PROBE"], !override.isEmpty {
            candidates.append(override)
        }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // The test binary may sit inside an .xctest bundle directory.
        for _ in 0..<3 {
            candidates.append(directory.appendingPathComponent("airtap-kernel-probe").path)
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/airtap-kernel-probe").path)
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw ProbeRunnerError.executableNotFound(candidates)
    }

    /// Runs `airtap-kernel-probe <arguments>` and collects its output; kills it
    /// (SIGKILL) after `timeoutSeconds`.
    static func run(
        _ arguments: [String],
        timeoutSeconds: Double = defaultTimeoutSeconds,
        environment: [String: String] = [:]
    ) async throws -> ProbeRun {
        // Output goes to files rather than pipes: KUnit output can exceed a
        // pipe buffer, and files need no concurrent readers.
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("airtap-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let stdoutURL = scratch.appendingPathComponent("stdout")
        let stderrURL = scratch.appendingPathComponent("stderr")
        for url in [stdoutURL, stderrURL] where !FileManager.default.createFile(atPath: url.path, contents: nil) {
            throw ProbeRunnerError.cannotCreateOutputFile(url.path)
        }
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdoutHandle.close()
            try? stderrHandle.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executablePath())
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }

        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > TestTimeScale.seconds(timeoutSeconds) {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(start)

        return ProbeRun(
            arguments: arguments,
            status: process.terminationStatus,
            killedBySignal: process.terminationReason == .uncaughtSignal,
            timedOut: timedOut,
            elapsedSeconds: elapsed,
            standardOutput: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
    }

    static func run(_ scenario: String, _ extra: String...) async throws -> ProbeRun {
        try await run([scenario] + extra)
    }
}

/// Parses the probe's line protocol.
enum ProbeOutputParser {
    /// `RESULT k=v [k=v ...]`: a value runs until the next token that looks
    /// like `key=` (lowercase letters, digits, underscores), so free-text
    /// values such as the banner keep their spaces.
    static func results(in output: String) -> [String: String] {
        var results: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("RESULT ") {
            var currentKey: Substring?
            var currentValue: [Substring] = []
            func finish() {
                if let currentKey { results[String(currentKey)] = currentValue.joined(separator: " ") }
            }
            for token in line.dropFirst("RESULT ".count).split(separator: " ", omittingEmptySubsequences: false) {
                if let equals = token.firstIndex(of: "="), isKey(token[..<equals]) {
                    finish()
                    currentKey = token[..<equals]
                    currentValue = [token[token.index(after: equals)...]]
                } else {
                    currentValue.append(token)
                }
            }
            finish()
        }
        return results
    }

    static func suites(in output: String) -> [(name: String, ok: Bool)] {
        output.split(separator: "\n").compactMap { line in
            if line.hasPrefix("SUITE ok ") { return (String(line.dropFirst("SUITE ok ".count)), true) }
            if line.hasPrefix("SUITE notok ") { return (String(line.dropFirst("SUITE notok ".count)), false) }
            return nil
        }
    }

    /// The raw KTAP lines (`KTAP| ` prefix removed).
    static func ktapLines(in output: String) -> [String] {
        output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { $0.hasPrefix("KTAP| ") }
            .map { String($0.dropFirst("KTAP| ".count)) }
    }

    private static func isKey(_ text: Substring) -> Bool {
        guard let first = text.first, first.isLetter, first.isLowercase else { return false }
        return text.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }
}

extension String {
    /// The last `count` lines, for readable failure messages.
    fileprivate func suffixLines(_ count: Int) -> String {
        split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
    }
}
