// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// A scratch extcap folder with airtap installed (`airtap extcap --install
/// --dir`), and tshark pointed at it.
///
/// tshark 4.0 has no personal extcap folder and ignores HOME and
/// XDG_CONFIG_HOME for extcaps; WIRESHARK_EXTCAP_DIR replaces the folder,
/// but only for an unprivileged user (`tshark -G folders` shows the global
/// folder to root whatever the variable says). So as root, tshark runs as
/// `nobody` (setpriv), with the scratch folder world-writable for its output.
struct ExtcapHarness {
    let scratch: URL
    let extcapFolder: URL
    let installRun: ToolRun

    static var runningAsRoot: Bool { getuid() == 0 }

    init() async throws {
        scratch = try ToolRunner.scratchDirectory()
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: scratch.path)
        extcapFolder = scratch.appendingPathComponent("extcap")
        installRun = try await ToolRunner.airtap("extcap", "--install", "--dir", extcapFolder.path)
    }

    func remove() { try? FileManager.default.removeItem(at: scratch) }

    /// `command` with tshark's environment, as an unprivileged user if we are root.
    func prefix(_ command: [String]) -> (String, [String]) {
        // --default-signal also unblocks: test runners start children with
        // SIGINT/SIGTERM blocked, and tshark (unlike airtap) keeps the mask.
        let environment = [
            "/usr/bin/env", "--default-signal=INT,TERM", "HOME=\(scratch.path)", "WIRESHARK_EXTCAP_DIR=\(extcapFolder.path)",
        ]
        guard Self.runningAsRoot else { return (environment[0], Array(environment.dropFirst()) + command) }
        return ("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups"] + environment + command)
    }

    func tshark(_ arguments: [String], timeoutSeconds: Double = 120) async throws -> ToolRun {
        let (executable, all) = prefix(["/usr/bin/tshark"] + arguments)
        return try await ToolRunner.run(executable, all, timeoutSeconds: timeoutSeconds)
    }

    /// Whether the unprivileged user can run the airtap binary at all (its
    /// build folder must be reachable); a clear precondition, not a failure
    /// deep inside tshark.
    func airtapReachable() async throws -> Bool {
        guard Self.runningAsRoot else { return true }
        let (executable, all) = prefix(["/usr/bin/test", "-x", try ToolRunner.airtapPath()])
        return try await ToolRunner.run(executable, all, timeoutSeconds: 10).succeeded
    }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// Waits for `process` without blocking a test thread (collect() would:
    /// tests share a small thread pool), SIGKILL after `timeoutSeconds`.
    static func awaitExit(_ process: Process, timeoutSeconds: Double = 60) async {
        let deadline = Date().addingTimeInterval(TestTimeScale.seconds(timeoutSeconds))
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Processes whose command line mentions `text` (the extcap folder
    /// names the airtap that tshark started).
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
        }
    }

    static func rows(_ run: ToolRun) -> [[String]] {
        run.standardOutput.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }
}

@Suite("Wireshark extcap: tshark captures through airtap (child processes)", .timeLimit(.minutes(10)))
struct ExtcapEndToEndTests {
    @Test("--install links airtap into the folder tshark searches; tshark -D lists one interface per device")
    func installAndList() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let harness = try await ExtcapHarness()
        defer { harness.remove() }
        try #require(harness.installRun.succeeded, "\(harness.installRun.diagnosis)")
        let link = harness.extcapFolder.appendingPathComponent("airtap").path
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: link)
        #expect(
            URL(fileURLWithPath: target).resolvingSymlinksInPath().path
                == URL(fileURLWithPath: try ToolRunner.airtapPath()).resolvingSymlinksInPath().path)
        #expect(harness.installRun.standardOutput.contains("installed \(link) -> "), "\(harness.installRun.diagnosis)")
        try #require(try await harness.airtapReachable(), "the unprivileged user cannot run the airtap binary (its build folder must be world-readable)")

        let folders = try await harness.tshark(["-G", "folders"])
        try #require(folders.succeeded, "\(folders.diagnosis)")
        let extcapLine = folders.standardOutput.split(separator: "\n").first { $0.contains("Extcap path") }
        #expect(extcapLine?.hasSuffix(harness.extcapFolder.path) == true, "tshark does not search the folder: \(folders.diagnosis)")

        let list = try await harness.tshark(["-D"])
        try #require(list.succeeded, "\(list.diagnosis)")
        for device in ["sim", "emulated:rtl8187", "emulated-libusb:rtl8187"] {
            #expect(
                list.standardOutput.contains(". airtap-\(device) (airtap \(device): 802.11 monitor mode)"),
                "airtap-\(device) missing\n\(list.diagnosis)")
        }
        #expect(!list.standardError.contains("airtap"), "\(list.diagnosis)")

        // Installing again replaces the link; uninstall removes it.
        let again = try await ToolRunner.airtap("extcap", "--install", "--dir", harness.extcapFolder.path)
        #expect(again.succeeded, "\(again.diagnosis)")
        let removed = try await ToolRunner.airtap("extcap", "--uninstall", "--dir", harness.extcapFolder.path)
        #expect(removed.succeeded && removed.standardOutput.contains("removed \(link)"), "\(removed.diagnosis)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == nil)
    }

    @Test("tshark -i airtap-sim -c 20 captures 20 frames on the configured channel (11: 2462 MHz)")
    func tsharkCapturesSim() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let harness = try await ExtcapHarness()
        defer { harness.remove() }
        try #require(harness.installRun.succeeded, "\(harness.installRun.diagnosis)")
        try #require(try await harness.airtapReachable(), "the unprivileged user cannot run airtap")
        let output = harness.path("sim.pcapng")
        let capture = try await harness.tshark([
            "-i", "airtap-sim", "-o", "extcap.airtap_sim.channel:11", "-c", "20", "-w", output,
        ])
        try #require(capture.succeeded, "\(capture.diagnosis)")
        #expect(!capture.standardError.contains("Error by extcap"), "airtap wrote to stderr: \(capture.diagnosis)")
        let fields = try await ToolRunner.tshark([
            "-r", output, "-T", "fields", "-e", "radiotap.channel.freq", "-e", "frame.interface_description",
        ])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = ExtcapHarness.rows(fields)
        #expect(rows.count == 20)
        #expect(rows.allSatisfy { $0.first == "2462" }, "frequencies: \(Set(rows.compactMap(\.first)))")
        // dumpcap keeps the interface block airtap streamed (the library's monitor interface).
        #expect(rows.allSatisfy { $0.last?.hasPrefix("airtap sim:") == true }, "interfaces: \(Set(rows.compactMap(\.last)))")
    }

    @Test("tshark -i airtap-emulated:rtl8187 with a capture filter: 20 beacons on channel 1 (2412 MHz), over USB")
    func tsharkCapturesEmulatedWithFilter() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let harness = try await ExtcapHarness()
        defer { harness.remove() }
        try #require(harness.installRun.succeeded, "\(harness.installRun.diagnosis)")
        try #require(try await harness.airtapReachable(), "the unprivileged user cannot run airtap")
        let output = harness.path("rtl.pcapng")
        let capture = try await harness.tshark([
            "-i", "airtap-emulated:rtl8187", "-o", "extcap.airtap_emulated_rtl8187.channel:1", "-f", "type mgt subtype beacon",
            "-c", "20", "-w", output,
        ])
        try #require(capture.succeeded, "\(capture.diagnosis)")
        #expect(!capture.standardError.contains("Error by extcap"), "\(capture.diagnosis)")
        let fields = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "radiotap.channel.freq", "-e", "wlan.fc.type_subtype"])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = ExtcapHarness.rows(fields)
        #expect(rows.count == 20)
        #expect(rows.allSatisfy { $0 == ["2412", "0x0008"] }, "frames: \(Set(rows.map { $0.joined(separator: " ") }))")
    }

    @Test("stopping tshark early (SIGINT) leaves a readable file and stops airtap")
    func tsharkStoppedEarly() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let harness = try await ExtcapHarness()
        defer { harness.remove() }
        try #require(harness.installRun.succeeded, "\(harness.installRun.diagnosis)")
        try #require(try await harness.airtapReachable(), "the unprivileged user cannot run airtap")
        let output = harness.path("early.pcapng")
        let (executable, arguments) = harness.prefix(["/usr/bin/tshark", "-i", "airtap-sim", "-w", output])
        let (process, collect) = try ToolRunner.start(executable, arguments)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            if size > 3000 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        // setpriv and env exec tshark, so the process is tshark itself.
        kill(process.processIdentifier, SIGINT)
        await ExtcapHarness.awaitExit(process)
        let run = collect()
        #expect(!run.timedOut && run.status == 0, "\(run.diagnosis)")
        #expect(!run.killedBySignal, "\(run.diagnosis)")
        #expect(!run.standardError.contains("Error by extcap"), "\(run.diagnosis)")
        let read = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "frame.number"])
        #expect(read.succeeded, "\(read.diagnosis)")
        #expect(!read.standardError.contains("cut short"), "\(read.diagnosis)")
        #expect(read.standardOutput.split(separator: "\n").count > 0)
        // The airtap tshark started has gone too (given a moment to exit).
        let extcap = harness.extcapFolder.appendingPathComponent("airtap").path
        let exitDeadline = Date().addingTimeInterval(20)
        while Date() < exitDeadline, !ExtcapHarness.processes(mentioning: extcap).isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(ExtcapHarness.processes(mentioning: extcap).isEmpty, "airtap still runs after tshark stopped")
    }

    @Test("an unusable extcap argument reaches tshark as an error: stderr text and a non-zero exit")
    func unusableArgument() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let harness = try await ExtcapHarness()
        defer { harness.remove() }
        try #require(harness.installRun.succeeded, "\(harness.installRun.diagnosis)")
        try #require(try await harness.airtapReachable(), "the unprivileged user cannot run airtap")
        let capture = try await harness.tshark([
            "-i", "airtap-sim", "-o", "extcap.airtap_sim.channel:15", "-c", "5", "-w", harness.path("never.pcapng"),
        ])
        #expect(!capture.succeeded, "\(capture.diagnosis)")
        #expect(capture.standardError.contains("Error by extcap pipe"), "\(capture.diagnosis)")
        #expect(capture.standardError.contains("channel 15"), "\(capture.diagnosis)")
        #expect(capture.standardError.contains("valid channels: 1 2 3"), "\(capture.diagnosis)")
    }
}

/// The extcap protocol on the airtap binary itself, as Wireshark drives it.
@Suite("airtap's extcap protocol (child processes)", .timeLimit(.minutes(5)))
struct ExtcapProtocolTests {
    @Test("--extcap-interfaces, --extcap-dlts and --extcap-config print extcap(4) sentences")
    func sentences() async throws {
        let interfaces = try await ToolRunner.airtap("--extcap-interfaces", "--extcap-version=4.0")
        try #require(interfaces.succeeded, "\(interfaces.diagnosis)")
        let lines = interfaces.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("extcap {version=") == true, "\(interfaces.diagnosis)")
        #expect(lines.contains("interface {value=airtap-sim}{display=airtap sim: 802.11 monitor mode}"))
        #expect(lines.contains("interface {value=airtap-emulated:rtl8187}{display=airtap emulated:rtl8187: 802.11 monitor mode}"))
        #expect(interfaces.standardError.isEmpty, "\(interfaces.diagnosis)")

        // The same through the explicit subcommand.
        let explicit = try await ToolRunner.airtap("extcap", "--extcap-interfaces")
        #expect(explicit.standardOutput == interfaces.standardOutput)

        let dlts = try await ToolRunner.airtap("--extcap-interface", "airtap-sim", "--extcap-dlts")
        try #require(dlts.succeeded, "\(dlts.diagnosis)")
        #expect(dlts.standardOutput == "dlt {number=127}{name=IEEE802_11_RADIO}{display=802.11 plus radiotap header}\n")

        let config = try await ToolRunner.airtap("--extcap-interface", "airtap-emulated:rtl8187", "--extcap-config")
        try #require(config.succeeded, "\(config.diagnosis)")
        for call in ["--channel", "--hop-interval", "--regdomain", "--monitor-flags", "--time-stamp-precision"] {
            #expect(config.standardOutput.contains("{call=\(call)}"), "\(call) missing\n\(config.diagnosis)")
        }
        #expect(config.standardOutput.contains("value {arg=3}{value=otherbss}"), "\(config.diagnosis)")
    }

    @Test("capture filter check: nothing on stdout when valid, libpcap's reason when not")
    func filterCheck() async throws {
        let valid = try await ToolRunner.airtap("--extcap-interface", "airtap-sim", "--extcap-capture-filter", "type mgt subtype beacon")
        #expect(valid.succeeded && valid.standardOutput.isEmpty, "\(valid.diagnosis)")
        let invalid = try await ToolRunner.airtap("--extcap-interface", "airtap-sim", "--extcap-capture-filter", "type mgt subtype bacon")
        #expect(invalid.succeeded, "\(invalid.diagnosis)")
        #expect(invalid.standardOutput.contains("unknown 802.11 subtype name \"bacon\""), "\(invalid.diagnosis)")
    }

    @Test("bad extcap calls: a stderr line naming the problem and a non-zero exit")
    func badCalls() async throws {
        let unknown = try await ToolRunner.airtap("--extcap-interface", "airtap-wifi9000", "--extcap-config")
        #expect(!unknown.succeeded)
        #expect(unknown.standardError.contains("\"airtap-wifi9000\" is not an airtap interface"), "\(unknown.diagnosis)")
        let noFifo = try await ToolRunner.airtap("--capture", "--extcap-interface", "airtap-sim")
        #expect(!noFifo.succeeded)
        #expect(noFifo.standardError.contains("--capture needs --fifo PATH"), "\(noFifo.diagnosis)")
        let badHop = try await ToolRunner.airtap(
            "--capture", "--extcap-interface", "airtap-sim", "--fifo", "/nonexistent/fifo", "--hop-interval", "0")
        #expect(!badHop.succeeded)
        #expect(badHop.standardError.contains("--hop-interval must be positive"), "\(badHop.diagnosis)")
    }

    /// Starts `airtap --capture` on a FIFO with a shell reading it into a file.
    static func startCapture(into scratch: URL, reader: String) throws -> (airtap: (Process, () -> ToolRun), reader: (Process, () -> ToolRun), stream: String) {
        let fifo = scratch.appendingPathComponent("wireshark_extcap_fifo").path
        let stream = scratch.appendingPathComponent("stream.pcapng").path
        try #require(mkfifo(fifo, 0o600) == 0, "mkfifo failed")
        // The reader opens first, as Wireshark does.
        let readerProcess = try ToolRunner.start("/bin/sh", ["-c", reader, "reader", fifo, stream])
        let airtap = try ToolRunner.start(
            try ToolRunner.airtapPath(), ["--capture", "--extcap-interface", "airtap-sim", "--fifo", fifo, "--channel", "6"])
        return (airtap, readerProcess, stream)
    }

    @Test("SIGTERM (Wireshark's stop) ends the FIFO stream with complete blocks and the statistics block; airtap is silent")
    func stopBySignal() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let started = try Self.startCapture(into: scratch, reader: "cat \"$1\" > \"$2\"")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, started.airtap.0.isRunning {
            if ((try? FileManager.default.attributesOfItem(atPath: started.stream)[.size] as? Int) ?? 0) > 3000 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(started.airtap.0.processIdentifier, SIGTERM)
        await ExtcapHarness.awaitExit(started.airtap.0)
        await ExtcapHarness.awaitExit(started.reader.0)
        let run = started.airtap.1()
        _ = started.reader.1()
        #expect(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.isEmpty, "stderr reaches Wireshark as an error: \(run.diagnosis)")
        let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: started.stream))))
        #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
        #expect(file.interfaces.first?.unitsPerSecond == 1_000_000)
        #expect(!file.packets.isEmpty)
        #expect(file.statistics.first?.delivered == UInt64(file.packets.count), "the closing statistics block is missing")
    }

    @Test("the reader closing the FIFO ends airtap cleanly: exit 0, nothing on stderr")
    func stopByClosedFifo() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let started = try Self.startCapture(into: scratch, reader: "head -c 2000 \"$1\" > \"$2\"")
        await ExtcapHarness.awaitExit(started.reader.0)
        let reader = started.reader.1()
        #expect(reader.succeeded, "\(reader.diagnosis)")
        await ExtcapHarness.awaitExit(started.airtap.0, timeoutSeconds: 30)
        let run = started.airtap.1()
        #expect(run.succeeded, "airtap should stop by itself once the FIFO's reader is gone: \(run.diagnosis)")
        #expect(run.standardError.isEmpty, "\(run.diagnosis)")
    }
}
