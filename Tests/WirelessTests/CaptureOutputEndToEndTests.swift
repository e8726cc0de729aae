// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `airtap capture` output as users' tools expect it (dumpcap/tcpdump
/// conventions), checked with tshark and aircrack-ng on the real binary.
@Suite("capture output users expect (child processes)", .timeLimit(.minutes(10)))
struct CaptureOutputEndToEndTests {
    static let aircrackPath = "/usr/bin/aircrack-ng"

    static func readCapture(_ path: String) throws -> CaptureFile {
        try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test("aircrack-ng reads a -F pcap capture of the simulated air and lists its networks by ESSID")
    func aircrackReadsPcap() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.aircrackPath), "aircrack-ng is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("air.pcap").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "sim", "--channel", "6", "--count", "60", "-F", "pcap", "-w", output, "--quiet")
        try #require(run.succeeded, "\(run.diagnosis)")
        let file = try Self.readCapture(output)
        #expect(file.format == .pcap)
        #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
        #expect(file.interfaces.first?.unitsPerSecond == 1_000_000)
        #expect(file.packets.count == 60)

        // With several networks aircrack-ng lists them, then asks for one on
        // stdin; /dev/null answers, and it quits.
        let aircrack = try await ToolRunner.run(Self.aircrackPath, [output], timeoutSeconds: 60)
        #expect(!aircrack.timedOut, "\(aircrack.diagnosis)")
        #expect(aircrack.standardOutput.contains("Read 60 packets"), "\(aircrack.diagnosis)")
        for (bssid, essid) in [("02:A1:00:06:00:01", "CoffeeShop Guest"), ("02:A1:00:06:00:02", "Lab-IoT")] {
            let listed = aircrack.standardOutput.split(separator: "\n").contains { $0.contains(bssid) && $0.contains(essid) }
            #expect(listed, "\(essid) (\(bssid)) not listed\n\(aircrack.diagnosis)")
        }
        #expect(!aircrack.standardOutput.contains("Unsupported file format"), "\(aircrack.diagnosis)")
    }

    @Test("a flood keeps per-frame kernel timestamps: strictly increasing, never one per batch")
    func floodTimestampsPerFrame() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let heard = scratch.appendingPathComponent("heard.pcapng").path
        // 400 frames injected back to back arrive in batches of many frames
        // each; the peer capture records them in nanoseconds.
        let before = UInt64(Date().timeIntervalSince1970 * 1e9)
        let run = try await ToolRunner.airtap(
            "inject", "--device", "sim", "--channel", "6", "--generate", "400", "--peer-capture", heard)
        let after = UInt64(Date().timeIntervalSince1970 * 1e9)
        try #require(run.succeeded, "\(run.diagnosis)")
        let file = try Self.readCapture(heard)
        #expect(file.interfaces.first?.unitsPerSecond == 1_000_000_000)
        #expect(file.packets.count == 400, "\(run.diagnosis)")
        let stamps = file.packets.map(\.timestampNanoseconds)
        let repeats = zip(stamps, stamps.dropFirst()).filter { $0.0 >= $0.1 }.count
        #expect(repeats == 0, "\(repeats) consecutive frames share or reverse a timestamp")
        // The kernel library's clock was set from the host's: wall-clock stamps.
        let slack: UInt64 = 60_000_000_000
        #expect(stamps.allSatisfy { $0 + slack >= before && $0 <= after + slack }, "first \(stamps.first ?? 0), window \(before)...\(after)")
    }

    @Test("pcapng: microseconds by default (if_tsresol 6), nanoseconds with --time-stamp-precision nano; ordered")
    func timestampPrecision() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        for (precision, units) in [("micro", UInt64(1_000_000)), ("nano", UInt64(1_000_000_000))] {
            let output = scratch.appendingPathComponent("\(precision).pcapng").path
            let run = try await ToolRunner.airtap(
                "capture", "--device", "sim", "--channel", "6", "--count", "50", "--time-stamp-precision", precision,
                "-w", output, "--quiet")
            try #require(run.succeeded, "\(run.diagnosis)")
            let file = try Self.readCapture(output)
            #expect(file.interfaces.first?.unitsPerSecond == units, "\(precision)")
            let stamps = file.packets.map(\.timestampNanoseconds)
            #expect(stamps.count == 50)
            #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0.0 <= $0.1 }, "\(precision): timestamps out of order")
            if precision == "nano" {
                #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0.0 < $0.1 }, "two frames share a nanosecond timestamp")
            }
        }
    }

    @Test("-f \"type mgt subtype beacon\": the file holds beacons only (tshark), the filter runs in the kernel")
    func beaconFilter() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("beacons.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "sim", "--channel", "6", "--count", "20", "-f", "type mgt subtype beacon", "-w", output)
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.contains("filter \"type mgt subtype beacon\""), "\(run.diagnosis)")
        let fields = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "wlan.fc.type_subtype", "-e", "wlan.ssid"])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = fields.standardOutput.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == 20)
        #expect(rows.allSatisfy { $0.first == "0x0008" }, "subtypes: \(Set(rows.compactMap(\.first)))")
        // The kernel counts only frames that passed its filter: a beacon or
        // two may follow the 20th, but the data frames (over three times as
        // many as beacons on channel 6) never reached the socket.
        let received = try #require(try Self.readCapture(output).statistics.first?.received)
        #expect(received >= 20 && received < 30, "the socket received \(received) frames")
    }

    @Test("an invalid filter: libpcap's reason, exit non-zero, no file, the kernel never boots")
    func invalidFilter() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("never.pcapng").path
        for (filter, reason) in [
            ("type mgt subtype bacon", "unknown 802.11 subtype name \"bacon\""),
            ("type mgt and and", "can't parse filter expression: syntax error"),
        ] {
            let run = try await ToolRunner.airtap(
                "capture", "--device", "sim", "-f", filter, "-w", output, "-b", "filesize:10", "--verbose")
            #expect(!run.succeeded)
            #expect(run.standardError.contains("invalid capture filter \"\(filter)\": \(reason)"), "\(run.diagnosis)")
            #expect(!run.standardError.contains("Linux version"), "the kernel booted before the filter was checked")
            let left = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
            #expect(left.isEmpty, "files left behind: \(left)")
        }
    }

    @Test("-b filesize:4 -b files:3: three complete files tshark reads, numbered on, older ones removed")
    func ringBufferFiles() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let base = scratch.appendingPathComponent("ring.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "sim", "--channel", "6", "--count", "150", "-b", "filesize:4", "-b", "files:3", "-w", base,
            "--quiet")
        try #require(run.succeeded, "\(run.diagnosis)")
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(names.count == 3, "\(names)")
        let pattern = /ring_(\d{5})_(\d{14})\.pcapng/
        let numbers = names.compactMap { name in name.wholeMatch(of: pattern).map { Int($0.1)! } }
        #expect(numbers.count == names.count, "names not as dumpcap's: \(names)")
        #expect(numbers.first ?? 0 > 1, "the oldest files should have been removed: \(names)")
        #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $0.0 + 1 == $0.1 }, "\(names)")
        var frames = 0
        for name in names {
            let path = scratch.appendingPathComponent(name).path
            let read = try await ToolRunner.tshark(["-r", path, "-T", "fields", "-e", "frame.number"])
            #expect(read.succeeded, "\(name): \(read.diagnosis)")
            #expect(!read.standardError.contains("cut short"), "\(name): \(read.standardError)")
            frames += read.standardOutput.split(separator: "\n").count
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            if name != names.last { #expect(size >= 4000 && size < 4000 + 8192, "\(name): \(size) bytes") }
        }
        #expect(frames > 0 && frames < 150)
        #expect(try Self.readCapture(scratch.appendingPathComponent(names.last!).path).statistics.first?.delivered == 150)
    }

    @Test("SIGTERM mid-capture into -F pcap -b duration: every file complete, tshark reads them all")
    func terminatedRing() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let base = scratch.appendingPathComponent("term.pcap").path
        let (process, collect) = try ToolRunner.start(
            try ToolRunner.airtapPath(),
            ["capture", "--device", "sim", "--channel", "6", "-F", "pcap", "-b", "duration:0.3", "-w", base, "--quiet"])
        // Wait until a file switch has happened.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, ((try? FileManager.default.contentsOfDirectory(atPath: scratch.path))?.count ?? 0) < 2 {
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGTERM)
        let run = collect()
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.contains("stopped by signal"), "\(run.diagnosis)")
        let reported = try #require(run.standardError.integer(after: "captured "))
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(names.count >= 2, "\(names)")
        var frames = 0
        for name in names {
            let file = try Self.readCapture(scratch.appendingPathComponent(name).path)
            #expect(file.format == .pcap)
            frames += file.packets.count
            let read = try await ToolRunner.tshark(["-r", scratch.appendingPathComponent(name).path])
            #expect(read.succeeded && !read.standardError.contains("cut short"), "\(name): \(read.diagnosis)")
        }
        #expect(frames == reported)
    }
}
