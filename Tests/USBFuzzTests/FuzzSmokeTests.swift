// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// `make test`'s share of the fuzzing: each target replays its seed corpus
/// and the recorded findings' inputs through the same harness libFuzzer
/// drives (`airtap-usb-fuzz TARGET --replay`, the build without libFuzzer),
/// one kernel boot per target. Every input must end clean or as a known
/// finding; the kernel must stay alive; nothing may hang.
@Suite("USB fuzz targets, smoke replay", .serialized)
struct FuzzSmokeTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Replay {
        let status: Int32
        let output: String
    }

    /// The fuzzer next to the running test binary (the build in use), else .build/debug.
    static func fuzzerPath() throws -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        var candidates: [String] = []
        for _ in 0..<3 {
            candidates.append(directory.appendingPathComponent("airtap-usb-fuzz").path)
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/airtap-usb-fuzz").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "airtap-usb-fuzz not built; looked at \(candidates)"])
        }
        return found
    }

    static func replay(_ target: String, _ paths: [String], timeoutSeconds: Double = 45) async throws -> Replay {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-fuzz-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try fuzzerPath())
        process.arguments = [target, "--replay"] + paths.map { packageRoot.appendingPathComponent($0).path }
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.environment = ProcessInfo.processInfo.environment.merging([
            "AIRTAP_FUZZ_FINDINGS": FileManager.default.temporaryDirectory.appendingPathComponent("airtap-fuzz-findings").path
        ]) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        let start = Date()
        try process.run()
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeoutSeconds {
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        return Replay(status: process.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    @Test("each target replays its corpus and findings without a new finding", arguments: [
        ("enumeration", ["Tests/Fuzz/Corpus/enumeration"]),
        ("rtl8187-rx", ["Tests/Fuzz/Corpus/rtl8187-rx", "Tests/Fuzz/Findings/rtl8187-rx/F1-rate-index", "Tests/Fuzz/Findings/rtl8187-rx/F2-short-length"]),
        ("rtw88-rx", ["Tests/Fuzz/Corpus/rtw88-rx", "Tests/Fuzz/Findings/rtw88-rx/F4-stale-data"]),
    ])
    func replayCorpus(target: String, paths: [String]) async throws {
        let run = try await Self.replay(target, paths)
        #expect(run.status == 0, "airtap-usb-fuzz \(target): exit \(run.status)\n\(run.output.suffix(4000))")
        #expect(run.output.contains("new findings: none"), "\(run.output.suffix(4000))")
        #expect(!run.output.contains("FINDING"), "\(run.output.suffix(4000))")
    }

    @Test("the receive targets' recorded findings are recognised as known")
    func knownFindings() async throws {
        let rtl8187 = try await Self.replay(
            "rtl8187-rx", ["Tests/Fuzz/Findings/rtl8187-rx/F1-rate-index", "Tests/Fuzz/Findings/rtl8187-rx/F2-short-length"])
        #expect(rtl8187.output.contains("F1 x") && rtl8187.output.contains("F2 x"), "\(rtl8187.output.suffix(3000))")
        let rtw88 = try await Self.replay("rtw88-rx", ["Tests/Fuzz/Findings/rtw88-rx/F4-stale-data"])
        #expect(rtw88.output.contains("F4 x1"), "\(rtw88.output.suffix(3000))")
    }
}
