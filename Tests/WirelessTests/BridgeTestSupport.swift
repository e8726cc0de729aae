// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// A long-running `airtap bridge` child whose stderr the test can watch.
final class BridgeProcess {
    let process: Process
    let arguments: [String]
    private let scratch: URL
    private let stderrURL: URL
    private let stdoutURL: URL
    private let handles: [FileHandle]

    /// Starts `executable` (airtap, or setpriv running airtap as another user).
    init(executable: String, arguments: [String]) throws {
        scratch = try ToolRunner.scratchDirectory()
        stdoutURL = scratch.appendingPathComponent("stdout")
        stderrURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        handles = [stdoutHandle, stderrHandle]
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        self.arguments = [executable] + arguments
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: scratch)
    }

    var standardError: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Polls stderr until `condition` holds (true) or the process ended or
    /// `limitSeconds` passed (false). The limit only guards against a hang.
    func waitForStandardError(limitSeconds: Double = 60, until condition: (String) -> Bool) async -> Bool {
        let begin = Date()
        while Date().timeIntervalSince(begin) < TestTimeScale.seconds(limitSeconds) {
            if condition(standardError) { return true }
            if !process.isRunning { return condition(standardError) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// SIGTERM (what Ctrl-C's sibling does), then waits for the exit.
    func terminate(limitSeconds: Double = 60) async -> ToolRun {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let begin = Date()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(begin) > TestTimeScale.seconds(limitSeconds) {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        for handle in handles { try? handle.close() }
        return ToolRun(
            arguments: arguments, status: process.terminationStatus,
            killedBySignal: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
            standardOutput: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "", standardError: standardError)
    }
}

enum HostInterfaces {
    /// A name no other test (or a leftover) uses: "attest" + 8 hex digits.
    static func uniqueName() -> String {
        "attest" + String(UInt32.random(in: 0...UInt32.max), radix: 16).padding(toLength: 8, withPad: "0", startingAt: 0)
    }

    static func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/sys/class/net/\(name)")
    }

    /// /sys/class/net/NAME/ATTRIBUTE as a number (type, owner, flags, ...).
    static func attribute(_ name: String, _ attribute: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/sys/class/net/\(name)/\(attribute)", encoding: .utf8) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.hasPrefix("0x") ? Int(trimmed.dropFirst(2), radix: 16) : Int(trimmed)
    }

    /// Removes a leftover persistent TAP (root only; ignores failures).
    static func removeIfPresent(_ name: String) {
        guard exists(name) else { return }
        let ip = Process()
        ip.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        ip.arguments = ["tuntap", "del", "dev", name, "mode", "tap"]
        guard (try? ip.run()) != nil else { return }
        ip.waitUntilExit()
    }

    /// Sends each frame on `name` from a host AF_PACKET socket, as
    /// aireplay-ng or scapy would; returns how many the host accepted.
    static func send(_ frames: [[UInt8]], on name: String) throws -> Int {
        let index = if_nametoindex(name)
        try #require(index != 0, "no host interface \(name)")
        let descriptor = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
        try #require(descriptor >= 0, "socket(AF_PACKET): errno \(errno) (tests run as root)")
        defer { close(descriptor) }
        // struct sockaddr_ll (20 bytes): family, protocol (0: the frame's
        // own), interface index, then fields only receivers use.
        var address = [UInt8](repeating: 0, count: 20)
        withUnsafeBytes(of: UInt16(AF_PACKET).littleEndian) { address.replaceSubrange(0..<2, with: $0) }
        withUnsafeBytes(of: Int32(index).littleEndian) { address.replaceSubrange(4..<8, with: $0) }
        var sent = 0
        for frame in frames {
            let result = frame.withUnsafeBytes { bytes in
                address.withUnsafeBytes { raw in
                    sendto(
                        descriptor, bytes.baseAddress, bytes.count, 0, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                        socklen_t(raw.count))
                }
            }
            if result == frame.count { sent += 1 }
        }
        return sent
    }
}

/// Running airtap as the unprivileged user `tester` (setpriv execs in
/// place, so the child's pid is airtap's own and signals reach it).
enum UnprivilegedUser {
    static let name = "tester"

    static var available: Bool { geteuid() == 0 && getpwnam(name) != nil && FileManager.default.isExecutableFile(atPath: setpriv) }

    static var uid: UInt32 { getpwnam(name)?.pointee.pw_uid ?? UInt32.max }

    static let setpriv = "/usr/bin/setpriv"

    /// setpriv's arguments that run `command` as tester with no capabilities.
    static func arguments(_ command: [String]) -> [String] {
        ["--reuid=\(name)", "--regid=\(name)", "--init-groups", "--inh-caps=-all", "--"] + command
    }

    static func run(_ command: [String], timeoutSeconds: Double = 120) async throws -> ToolRun {
        try await ToolRunner.run(setpriv, arguments(command), timeoutSeconds: timeoutSeconds)
    }
}

/// Runs `body` with /dev/net/tun at `mode`, then puts the old mode back.
/// (0666 is the mode udev gives it on most distributions; CI images may
/// have 0600, which only root can open.)
func withTunDeviceMode<Result>(_ mode: mode_t, _ body: () async throws -> Result) async rethrows -> Result {
    var status = stat()
    let known = stat("/dev/net/tun", &status) == 0
    if known { chmod("/dev/net/tun", mode) }
    defer { if known { chmod("/dev/net/tun", status.st_mode & 0o7777) } }
    return try await body()
}

/// The 802.11 frames a test injects: data frames to group addresses (so
/// mac80211 leaves their Duration field alone), each with a marker.
func markedDataFrames(count: Int, marker: UInt8) -> [[UInt8]] {
    (0..<count).map { index in
        let header: [UInt8] = [0x08, 0x00, 0x00, 0x00]
        let receiver: [UInt8] = [0x01, 0x00, 0x5E, 0x7F, marker, UInt8(index)]
        let transmitter: [UInt8] = [0x02, 0xA1, 0x7E, 0x57, 0x00, 0x01]
        let bssid: [UInt8] = [0x02, 0xA1, 0x7E, 0x57, 0x00, 0x02]
        let sequence: [UInt8] = [UInt8((index << 4) & 0xF0), UInt8(index >> 4)]
        return header + receiver + transmitter + bssid + sequence + Array("airtap bridge test \(marker)/\(index)".utf8)
    }
}
