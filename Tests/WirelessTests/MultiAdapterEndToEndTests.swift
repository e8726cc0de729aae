// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `airtap capture --device A --device B`: several emulated adapters on one
/// kernel, captured by the one loop into one pcapng, one interface each.
@Suite("airtap capture from several adapters at once (child processes)", .timeLimit(.minutes(10)))
struct MultiAdapterEndToEndTests {
    /// tshark's view of a file: interface id, interface name, radiotap frequency per frame.
    static func frameRows(_ path: String) async throws -> [(interface: Int, name: String, frequency: String)] {
        let fields = try await ToolRunner.tshark([
            "-r", path, "-T", "fields", "-e", "frame.interface_id", "-e", "frame.interface_name", "-e", "radiotap.channel.freq",
        ])
        try #require(fields.succeeded, "\(fields.diagnosis)")
        #expect(!fields.standardError.contains("cut short"), "\(fields.diagnosis)")
        return fields.standardOutput.split(separator: "\n").map { line in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return (Int(columns[0]) ?? -1, columns.count > 1 ? columns[1] : "", columns.count > 2 ? columns[2] : "")
        }
    }

    static func readFile(_ path: String) throws -> CaptureFile {
        try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test("RTL8187L and RTL8821AU on channel 6: two interfaces, frames from both, every frame on 2437 MHz")
    func twoKinds() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("two.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8187", "--device", "emulated:rtl8821au", "--channel", "6", "--count", "80",
            "-w", output, "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.integer(after: "captured ") == 80, "\(run.diagnosis)")
        #expect(run.standardError.contains("interface 0, emulated:rtl8187"), "\(run.diagnosis)")
        #expect(run.standardError.contains("interface 1, emulated:rtl8821au"), "\(run.diagnosis)")

        let file = try Self.readFile(output)
        #expect(file.interfaces.count == 2)
        #expect(file.interfaces[0].description?.contains("emulated:rtl8187") == true, "\(file.interfaces)")
        #expect(file.interfaces[1].description?.contains("emulated:rtl8821au") == true, "\(file.interfaces)")
        #expect(Set(file.interfaces.compactMap(\.name)).count == 2, "each device its own interface name")
        for interface in 0..<2 {
            let frames = file.packets.filter { $0.interfaceIndex == interface }.count
            #expect(frames > 0, "interface \(interface) has no frames")
            let statistics = file.statistics.first { $0.interfaceIndex == interface }
            #expect(statistics?.delivered == UInt64(frames), "closing statistics of interface \(interface)")
        }

        let rows = try await Self.frameRows(output)
        #expect(rows.count == 80)
        #expect(Set(rows.map(\.interface)) == [0, 1])
        #expect(rows.allSatisfy { $0.name == file.interfaces[$0.interface].name }, "tshark's interface names")
        #expect(rows.allSatisfy { $0.frequency == "2437" }, "frequencies: \(Set(rows.map(\.frequency)))")
    }

    @Test("two RTL8821AUs on channel 36: each its own wlan interface and pcapng interface")
    func twoOfTheSameKind() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("same.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8821au", "--device", "emulated:rtl8821au", "--channel", "36", "--count", "60",
            "-w", output, "--verbose")
        try #require(run.succeeded, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        let rows = try await Self.frameRows(output)
        #expect(rows.count == 60)
        #expect(Set(rows.map(\.interface)) == [0, 1], "frames from both adapters")
        #expect(Set(rows.map(\.name)).count == 2, "names: \(Set(rows.map(\.name)))")
        #expect(rows.allSatisfy { $0.frequency == "5180" }, "frequencies: \(Set(rows.map(\.frequency)))")
    }

    @Test("one of two unplugged: its frames stop, the other's go on to the end, both closing statistics, exit 0")
    func oneUnplugged() async throws {
        try #require(ToolRunner.tsharkAvailable, "tshark is not installed")
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("one-gone.pcapng").path
        // Per-device channels, in --device order: the RTL8187L on 1, the RTL8821AU on 36.
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8187", "--channel", "1", "--device", "emulated:rtl8821au", "--channel", "36",
            "--duration", "4", "--unplug-device-after", "emulated:rtl8187=1.5", "-w", output, "--quiet", "--verbose")
        #expect(run.status == 0, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.contains("emulated:rtl8187 (phy0, wlan0) was unplugged (surprise removal)"), "\(run.diagnosis)")
        #expect(run.standardError.contains("1 other device(s) capture on"), "\(run.diagnosis)")
        #expect(run.standardError.contains("USB disconnect"), "the kernel should see the adapter go")

        let file = try Self.readFile(output)
        let statistics = Dictionary(uniqueKeysWithValues: file.statistics.map { ($0.interfaceIndex, $0) })
        let unpluggedEnd = try #require(statistics[0]?.endNanoseconds, "closing statistics of the unplugged device")
        _ = try #require(statistics[1], "closing statistics of the device that stayed")
        let unplugged = file.packets.filter { $0.interfaceIndex == 0 }
        let stayed = file.packets.filter { $0.interfaceIndex == 1 }
        #expect(!unplugged.isEmpty && !stayed.isEmpty)
        #expect(statistics[0]?.delivered == UInt64(unplugged.count))
        #expect(statistics[1]?.delivered == UInt64(stayed.count))
        #expect(unplugged.allSatisfy { $0.timestampNanoseconds <= unpluggedEnd }, "frames of the unplugged adapter after its end")
        #expect(stayed.contains { $0.timestampNanoseconds > unpluggedEnd }, "the other adapter must capture on")

        let rows = try await Self.frameRows(output)
        #expect(rows.count == file.packets.count)
        #expect(rows.filter { $0.interface == 0 }.allSatisfy { $0.frequency == "2412" }, "RTL8187L on channel 1")
        #expect(rows.filter { $0.interface == 1 }.allSatisfy { $0.frequency == "5180" }, "RTL8821AU on channel 36")
    }

    @Test("every device unplugged: exit status 3, a complete file with both interfaces' statistics")
    func allUnplugged() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("all-gone.pcapng").path
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8187", "--device", "emulated:rtl8821au", "--channel", "6", "--unplug-after", "1.5",
            "-w", output, "--quiet", "--verbose")
        #expect(run.status == 3, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.standardError.contains("every device ("), "\(run.diagnosis)")
        #expect(run.standardError.contains("was unplugged (surprise removal): capture stopped"), "\(run.diagnosis)")
        let file = try Self.readFile(output)
        #expect(file.statistics.map(\.interfaceIndex).sorted() == [0, 1])
        #expect(file.statistics.reduce(0) { $0 + ($1.delivered ?? 0) } == UInt64(file.packets.count))
    }

    @Test("the kernel panics mid-capture: the file is finished with every interface's statistics block")
    func kernelFailure() async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("panicked.pcapng").path
        // 12 s after boot: both adapters are up and capturing by then, even
        // with the whole suite running alongside.
        let run = try await ToolRunner.airtap(
            "capture", "--device", "emulated:rtl8187", "--device", "emulated:rtl8821au", "--channel", "6", "--duration", "40",
            "-w", output, "--quiet", "--kernel-args", "lkl.test_panic_after=12")
        #expect(run.status == 70, "\(run.diagnosis)")
        let written = try #require(run.standardError.integer(after: "capture finished after the failure: "), "\(run.diagnosis)")
        let file = try Self.readFile(output)
        #expect(file.packets.count == written)
        #expect(file.statistics.map(\.interfaceIndex).sorted() == [0, 1], "one statistics block per interface")
        for interface in 0..<2 {
            let frames = file.packets.filter { $0.interfaceIndex == interface }.count
            #expect(frames > 0, "interface \(interface) captured before the panic")
            #expect(file.statistics.first { $0.interfaceIndex == interface }?.delivered == UInt64(frames))
        }
    }

    @Test(
        "combinations that cannot work are refused before the kernel boots, naming the fix, leaving no file",
        arguments: [
            (["--device", "emulated:rtl8187", "--device", "emulated:rtl8821au", "-F", "pcap"], "write pcapng"),
            (["--device", "sim", "--device", "emulated:rtl8187"], "run sim in an airtap of its own"),
            (["--device", "emulated:rtl8187", "--device", "emulated:rtl8821au", "--channel", "1", "--channel", "6", "--channel", "11"],
             "once per --device"),
            (["--device", "usb:1-1", "--device", "usb:1-1"], "can be opened once"),
        ])
    func refusedCombinations(arguments: [String], fix: String) async throws {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("refused.pcapng").path
        let run = try await ToolRunner.run(try ToolRunner.airtapPath(), ["capture"] + arguments + ["-w", output])
        #expect(run.status != 0 && !run.timedOut, "\(run.diagnosis)")
        #expect(run.standardError.contains(fix), "\(run.diagnosis)")
        #expect(!run.standardError.contains("Linux version"), "refused before boot")
        #expect(!FileManager.default.fileExists(atPath: output), "no file for a refused capture")
    }
}
