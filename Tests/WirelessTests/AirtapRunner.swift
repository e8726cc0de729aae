// SPDX-License-Identifier: GPL-2.0-only

import Foundation

/// Outcome of one `airtap` (or tshark) process.
struct ToolRun: Sendable {
    let arguments: [String]
    let status: Int32
    let killedBySignal: Bool
    let timedOut: Bool
    let standardOutput: String
    let standardError: String

    var succeeded: Bool { !timedOut && !killedBySignal && status == 0 }

    /// The kernel logged a WARN or BUG.
    var kernelWarned: Bool {
        let output = standardOutput + standardError
        return output.contains("WARNING: CPU") || output.contains("BUG:") || output.contains("Oops")
    }

    /// Kernel log lines (with --verbose) reporting a problem: a WARN, BUG or
    /// oops, or a driver or USB core error; the boot's "no initial console" aside.
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

    var diagnosis: String {
        """
        \(arguments.joined(separator: " ")): \(timedOut ? "timed out" : killedBySignal ? "signal \(status)" : "exit \(status)")
        --- stdout ---
        \(standardOutput.split(separator: "\n", omittingEmptySubsequences: false).suffix(30).joined(separator: "\n"))
        --- airtap's own messages ---
        \(standardError.split(separator: "\n").filter { $0.hasPrefix("airtap:") }.prefix(20).joined(separator: "\n"))
        --- stderr ---
        \(standardError.split(separator: "\n", omittingEmptySubsequences: false).suffix(40).joined(separator: "\n"))
        """
    }
}

enum ToolRunnerError: Error, CustomStringConvertible {
    case notFound(String, [String])
    var description: String {
        switch self {
        case .notFound(let tool, let candidates):
            return "\(tool) not found (run `swift build --build-tests`); looked at: \(candidates.joined(separator: ", "))"
        }
    }
}

/// Runs the airtap executable and host tools in child processes (the
/// kernel library boots once per process).
enum ToolRunner {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func airtapPath() throws -> String {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["AIRTAP_BINARY"], !override.isEmpty {
            candidates.append(override)
        }
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<3 {
            candidates.append(directory.appendingPathComponent("airtap").path)
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/airtap").path)
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw ToolRunnerError.notFound("airtap", candidates)
    }

    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Starts a process with output to files; returns it and a collector.
    static func start(_ executable: String, _ arguments: [String]) throws -> (Process, () -> ToolRun) {
        let scratch = try scratchDirectory()
        let stdoutURL = scratch.appendingPathComponent("stdout")
        let stderrURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        try process.run()
        let collect: () -> ToolRun = {
            process.waitUntilExit()
            try? stdoutHandle.close()
            try? stderrHandle.close()
            defer { try? FileManager.default.removeItem(at: scratch) }
            return ToolRun(
                arguments: [executable] + arguments, status: process.terminationStatus,
                killedBySignal: process.terminationReason == .uncaughtSignal, timedOut: false,
                standardOutput: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                standardError: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
        }
        return (process, collect)
    }

    /// Runs to completion; SIGKILL after `timeoutSeconds`.
    static func run(_ executable: String, _ arguments: [String], timeoutSeconds: Double = 120) async throws -> ToolRun {
        let (process, collect) = try start(executable, arguments)
        let begin = Date()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(begin) > TestTimeScale.seconds(timeoutSeconds) {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let result = collect()
        return ToolRun(
            arguments: result.arguments, status: result.status, killedBySignal: result.killedBySignal,
            timedOut: timedOut, standardOutput: result.standardOutput, standardError: result.standardError)
    }

    static func airtap(_ arguments: String..., timeoutSeconds: Double = 120) async throws -> ToolRun {
        try await run(try airtapPath(), arguments, timeoutSeconds: timeoutSeconds)
    }

    static func tshark(_ arguments: [String]) async throws -> ToolRun {
        try await run("/usr/bin/tshark", arguments, timeoutSeconds: 60)
    }

    static var tsharkAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark") }
}

extension String {
    /// The integer after `prefix` (e.g. "captured " -> 30), if present.
    func integer(after prefix: String) -> Int? {
        guard let range = range(of: prefix) else { return nil }
        return Int(self[range.upperBound...].prefix { $0.isNumber })
    }
}
