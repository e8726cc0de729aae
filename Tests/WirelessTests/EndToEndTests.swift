// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// Each test runs the real `airtap` binary (one kernel per process) on the
/// simulated radios.
@Suite("airtap on simulated radios (child processes)", .timeLimit(.minutes(10)))
struct AirtapEndToEndTests {
    /// N distinct data frames with radiotap, as a pcapng file, all to group
    /// addresses: even ones at 6 Mb/s, odd ones at HT MCS (index % 8). The
    /// last `unicastTail` frames go to a unicast address instead: mac80211
    /// writes the Duration/ID field of unicast frames itself, injected or
    /// not (ieee80211_tx_h_calculate_duration), so only those two bytes
    /// may differ for them.
    static func writeInjectionFile(count: Int, unicastTail: Int = 0, to url: URL) throws -> [[UInt8]] {
        let output = MemoryCaptureOutput()
        let writer = try PcapNGWriter(output: output, interfaceName: "test", interfaceDescription: "frames to inject")
        var macFrames: [[UInt8]] = []
        for index in 0..<count {
            let legacyRate = index % 2 == 0
            let receiver = index >= count - unicastTail
                ? MACAddress.local(0x0B55_0000) : MACAddress([0x01, 0x00, 0x5E, 0x00, UInt8(index >> 8), UInt8(index & 0xFF)])
            let mac = FrameBuilder.data(
                station: .local(0x0500_0000 | UInt32(index)), bssid: receiver, destination: .local(0x0D57),
                sequence: UInt16(index & 0xFFF), payloadLength: 50 + index, marker: 0xA17A_0000 | UInt32(index))
            macFrames.append(mac)
            let radiotap = legacyRate
                ? RadiotapTransmitOptions(rate: 12, txFlags: RadiotapTransmitOptions.txFlagNoAck)
                : RadiotapTransmitOptions(
                    txFlags: RadiotapTransmitOptions.txFlagNoAck,
                    mcs: RadiotapMCS(known: RadiotapMCS.knownIndex | RadiotapMCS.knownBandwidth, flags: 0, index: UInt8(index % 8)))
            try writer.writePacket(radiotap.encodedHeader + mac, timestampNanoseconds: UInt64(index))
        }
        try writer.close()
        try Data(output.bytes).write(to: url)
        return macFrames
    }

    static func macPart(_ captured: [UInt8]) throws -> [UInt8] {
        let radiotap = try RadiotapHeader.parse(captured)
        return Array(captured[radiotap.length...])
    }

    @Test("frames injected on radio A all arrive on radio B on the same channel, 802.11 bytes identical")
    func injectThenCaptureSameChannel() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("inject.pcapng")
        let heard = scratch.appendingPathComponent("heard.pcapng")
        let unicastTail = 10
        let sent = try Self.writeInjectionFile(count: 200, unicastTail: unicastTail, to: input)

        let run = try await ToolRunner.airtap(
            "inject", "--device", "sim", "--channel", "6", "--from", input.path, "--peer-capture", heard.path)
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "injected ") == 200, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "heard ") == 200, "\(run.diagnosis)")

        let file = try CaptureFile(parsing: Array(try Data(contentsOf: heard)))
        #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
        #expect(file.packets.count == sent.count)
        var received = try file.packets.map { try Self.macPart($0.data) }
        for index in received.indices.suffix(unicastTail) where received[index].count >= 4 {
            #expect(received[index][2...3] != [0, 0], "mac80211 should have set the unicast frame's duration")
            received[index][2] = 0
            received[index][3] = 0
        }
        let mismatches = zip(received, sent).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        let firstDifference = mismatches.first.map { index in
            (0..<min(received[index].count, sent[index].count)).filter { received[index][$0] != sent[index][$0] }
                .map { "byte \($0): sent \(sent[index][$0]) got \(received[index][$0])" }
        }
        #expect(
            received.count == sent.count && mismatches.isEmpty,
            "802.11 parts differ at frames \(mismatches.prefix(10)); first: \(firstDifference ?? [])")
        for (index, packet) in file.packets.enumerated() {
            let radiotap = try RadiotapHeader.parse(packet.data)
            #expect(radiotap.channelFrequency == 2437)
            if index % 2 == 0 {
                #expect(radiotap.rate == 12, "frame \(index): the injected 6 Mb/s should come through hwsim")
            } else {
                #expect(radiotap.mcs?.index == UInt8(index % 8), "frame \(index): the injected MCS should come through hwsim")
            }
        }
    }

    @Test("frames injected on another channel do not arrive")
    func injectThenCaptureOtherChannel() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("inject.pcapng")
        let heard = scratch.appendingPathComponent("heard.pcapng")
        _ = try Self.writeInjectionFile(count: 50, to: input)
        let run = try await ToolRunner.airtap(
            "inject", "--device", "sim", "--channel", "6", "--peer-channel", "1", "--from", input.path,
            "--peer-capture", heard.path)
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "injected ") == 50, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "heard ") == 0, "\(run.diagnosis)")
        let file = try CaptureFile(parsing: Array(try Data(contentsOf: heard)))
        #expect(file.packets.isEmpty)
    }

    @Test("tshark reads the capture: frame count as reported, tuned frequency, interface name")
    func tsharkReadsCapture() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("capture.pcapng").path
        let run = try await ToolRunner.airtap("capture", "--device", "sim", "--channel", "11", "--count", "40", "-w", output)
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        let reported = try #require(run.standardError.integer(after: "captured "), "\(run.diagnosis)")
        #expect(reported == 40)

        let fields = try await ToolRunner.tshark([
            "-r", output, "-T", "fields", "-e", "radiotap.channel.freq", "-e", "frame.interface_name",
        ])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        let rows = fields.standardOutput.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == reported)
        #expect(rows.allSatisfy { $0.first == "2462" }, "frequencies: \(Set(rows.compactMap(\.first)))")
        #expect(rows.allSatisfy { $0.last == "wlan0" }, "interface names: \(Set(rows.compactMap(\.last)))")
    }

    @Test("channel hopping visits every listed channel, in order")
    func channelHopping() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("hop.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "sim", "--channel", "1,6,11", "--hop-interval", "0.3", "--duration", "2.2", "-w", output)
        try #require(run.succeeded, "\(run.diagnosis)")
        let visitedLine = try #require(run.standardError.split(separator: "\n").first { $0.contains("channels visited:") })
        let visited = visitedLine.split(separator: "channels visited: ")[1].split(separator: ";")[0].split(separator: " ").map(String.init)
        #expect(visited.count >= 6, "visited: \(visited)")
        for (index, channel) in visited.enumerated() {
            #expect(channel == ["1", "6", "11"][index % 3], "visited: \(visited)")
        }

        // The frames themselves: consecutive runs of one frequency follow the same cycle.
        let fields = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "radiotap.channel.freq"])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        var runs: [String] = []
        for frequency in fields.standardOutput.split(separator: "\n").map(String.init) where runs.last != frequency {
            runs.append(frequency)
        }
        let cycle = ["2412", "2437", "2462"]
        #expect(Set(runs) == Set(cycle), "runs: \(runs)")
        #expect(runs.first == "2412")
        for (previous, next) in zip(runs, runs.dropFirst()) {
            let expected = cycle[(cycle.firstIndex(of: previous)! + 1) % 3]
            #expect(next == expected, "frequency runs out of order: \(runs)")
        }
    }

    @Test("Ctrl-C mid-capture leaves a complete file")
    func interruptedCapture() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("interrupted.pcapng").path
        let (process, collect) = try ToolRunner.start(
            try ToolRunner.airtapPath(), ["capture", "--device", "sim", "--channel", "6", "-w", output])
        // Wait for frames to reach the file (the writer flushes every 0.2 s).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            if size > 2000 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGINT)
        let run = collect()
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.standardError.contains("stopped by signal"), "\(run.diagnosis)")
        let reported = try #require(run.standardError.integer(after: "captured "))
        #expect(reported > 0)

        let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(file.packets.count == reported)
        #expect(file.statistics.first?.delivered == UInt64(reported), "the interface statistics block is missing")
        let tshark = try await ToolRunner.tshark(["-r", output, "-T", "fields", "-e", "frame.number"])
        #expect(tshark.succeeded, "\(tshark.diagnosis)")
        #expect(tshark.standardOutput.split(separator: "\n").count == reported)
        #expect(!tshark.standardError.contains("appears to have been cut short"))
    }

    @Test("info lists bands, channels and monitor flags; --json parses")
    func info() async throws {
        let table = try await ToolRunner.airtap("info", "--device", "sim")
        try #require(table.succeeded, "\(table.diagnosis)")
        #expect(table.standardOutput.contains("Band 2.4 GHz"))
        #expect(table.standardOutput.contains("2437 MHz"))
        #expect(table.standardOutput.contains("Regulatory domain world (00)"))
        #expect(table.standardOutput.contains("monitor"))
        let json = try await ToolRunner.airtap("info", "--device", "sim", "--json")
        try #require(json.succeeded, "\(json.diagnosis)")
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect(object?["device"] as? String == "sim")
        #expect((object?["regulatoryDomain"] as? [String: Any])?["alpha2"] as? String == "00")
    }
}

@Suite("airtap refuses bad input with a useful error", .timeLimit(.minutes(5)))
struct AirtapBadInputTests {
    @Test("unknown channel: the error lists the device's valid channels")
    func unknownChannel() async throws {
        let run = try await ToolRunner.airtap("capture", "--device", "sim", "--channel", "15", "--count", "1", "-w", "/dev/null")
        #expect(!run.succeeded)
        #expect(run.standardError.contains("channel 15"), "\(run.diagnosis)")
        #expect(run.standardError.contains("valid channels: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 36"), "\(run.diagnosis)")
    }

    @Test("unknown device: the error lists the devices")
    func unknownDevice() async throws {
        let run = try await ToolRunner.airtap("capture", "--device", "wifi9000", "-w", "/dev/null", "--verbose")
        #expect(!run.succeeded)
        #expect(run.standardError.contains("unknown device \"wifi9000\"; valid devices: sim, emulated:rtl8187"), "\(run.diagnosis)")
        #expect(!run.standardError.contains("Linux version"), "the kernel should not boot")
    }

    @Test("an out-of-range --usb-read-ahead names the range, before the kernel boots")
    func badReadAhead() async throws {
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8821au", "--usb-read-ahead", "300", "-w", "/dev/null", "--verbose")
        #expect(!run.succeeded)
        #expect(run.standardError.contains("--usb-read-ahead must be 0...256 transfers, got 300"), "\(run.diagnosis)")
        #expect(!run.standardError.contains("Linux version"), "the kernel should not boot")
    }

    @Test("unwritable output path: error before the kernel boots")
    func unwritableOutput() async throws {
        let run = try await ToolRunner.airtap(
            "capture", "--device", "sim", "--channel", "6", "-w", "/nonexistent-dir/x.pcapng", "--verbose")
        #expect(!run.succeeded)
        #expect(run.standardError.contains("cannot write capture file /nonexistent-dir/x.pcapng"), "\(run.diagnosis)")
        #expect(!run.standardError.contains("Linux version"), "the kernel booted before the path was checked")
    }

    @Test("a truncated frame or one without radiotap is refused and nothing is sent")
    func badInjectionFrames() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let good = RadiotapTransmitOptions().encodedHeader + FrameBuilder.data(totalLength: 60, sequence: 1, marker: 1)
        let cases: [(name: String, frame: [UInt8], original: Int, expected: String)] = [
            ("truncated", good, good.count + 100, "cut short when captured"),
            ("not-radiotap", [0x08, 0x02] + Array(good.dropFirst(2)), good.count, "radiotap"),
            ("short-80211", Array(good.prefix(8 + 12)), 20, "header alone needs"),
        ]
        for testCase in cases {
            let output = MemoryCaptureOutput()
            let writer = try PcapNGWriter(output: output, interfaceName: "x", interfaceDescription: "")
            try writer.writePacket(good, timestampNanoseconds: 0)
            try testCase.frame.withUnsafeBytes {
                try writer.writePacket($0, originalLength: testCase.original, timestampNanoseconds: 1)
            }
            try writer.close()
            let url = scratch.appendingPathComponent("\(testCase.name).pcapng")
            try Data(output.bytes).write(to: url)
            let run = try await ToolRunner.airtap(
                "inject", "--device", "sim", "--channel", "6", "--from", url.path, "--verbose")
            #expect(!run.succeeded, "\(testCase.name): \(run.diagnosis)")
            #expect(run.standardError.contains("frame 2"), "\(testCase.name): \(run.diagnosis)")
            #expect(run.standardError.contains(testCase.expected), "\(testCase.name): \(run.diagnosis)")
            #expect(!run.standardError.contains("injected"), "\(testCase.name): frames were sent")
            #expect(!run.standardError.contains("Linux version"), "\(testCase.name): checked only after boot")
        }
    }
}
