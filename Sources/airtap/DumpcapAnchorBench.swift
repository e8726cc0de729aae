// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Capture
import Foundation
import LinuxKernel
import TapBridge

/// The anchor for the offered-load figures: the host kernel's own capture
/// path at the same rates. A host TAP of link type radiotap receives the
/// same radiotap + 802.11 frames (written into it at the offered rate, as
/// if they arrived on that interface) and Wireshark's dumpcap captures
/// them into pcapng. Two figures per frame: dumpcap's own CPU (user +
/// system), and the host path's: the whole machine's busy CPU over the run
/// less the writer's user time, so the host kernel's receive work for
/// each TAP write (charged to the writer, or done in softirq) counts too,
/// as the kernel library's counts in airtap's figure. BENCHMARKS.md states
/// airtap's cost as a ratio to both.
extension BenchCommand {
    static let dumpcapAnchorDevice = "host-dumpcap"

    func runDumpcapAnchor() throws {
        guard !offeredRates.isEmpty else { throw ValidationError("--device \(Self.dumpcapAnchorDevice) needs --offered-rates") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dumpcap") else {
            throw ValidationError("the dumpcap anchor needs Wireshark's dumpcap: sudo apt-get install -y wireshark-common")
        }
        let rates = try parsedOfferedRates()
        let tap: HostTapInterface
        do {
            tap = try HostTapInterface.open(name: "airtapanchor0")
        } catch {
            throw ValidationError("the dumpcap anchor needs a host TAP interface: \(error)")
        }
        defer { tap.close() }
        // A received frame as airtap captures it: radiotap (flags, rate, channel) + 802.11 data.
        let radiotap: [UInt8] = [0, 0, 16, 0, 0x0E, 0, 0, 0, 0x10, 108, 0x85, 0x09, 0xA0, 0x00, 0, 0]
        let frame = radiotap + FrameBuilder.data(totalLength: offeredSize, sequence: 1, marker: 0x414E_4348)
        print("anchor: host TAP \(tap.name) (radiotap) -> host kernel -> dumpcap -> pcapng, \(offeredSize)-byte frames, "
            + "\(offeredSeconds) s a run, \(offeredRuns) runs (median [min, max]):")
        // Frames neither captured nor counted by dumpcap were lost before its socket (the TAP queue, the backlog).
        print("DUMPCAP: dumpcap's own CPU; HOST PATH: the machine's busy CPU less the writer's user time (host kernel + dumpcap).")
        print("RATE/S     CAPTURED/OFFERED     DROPPED [MIN,MAX]   LOST BEFORE   DUMPCAP US/FRAME [MIN, MAX]   HOST PATH US/FRAME [MIN, MAX]")
        for rate in rates {
            var results: [(captured: Int, dropped: Int, cpuMicroseconds: Double, hostPathMicroseconds: Double)] = []
            for _ in 0..<offeredRuns {
                results.append(try measureDumpcap(tap: tap, frame: frame, framesPerSecond: rate))
            }
            guard let cpu = RunSpread(results.map(\.cpuMicroseconds)), let hostPath = RunSpread(results.map(\.hostPathMicroseconds)),
                let captured = RunSpread(results.map { Double($0.captured) }),
                let dropped = RunSpread(results.map { Double($0.dropped) })
            else { continue }
            let offered = Int(rate * offeredSeconds)
            print(String(Int(rate)).padded(to: 11) + "\(Int(captured.median))/\(offered)".padded(to: 21)
                + "\(Int(dropped.median)) [\(Int(dropped.minimum)),\(Int(dropped.maximum))]".padded(to: 20)
                + String(offered - Int(captured.median) - Int(dropped.median)).padded(to: 14)
                + "\(String(format2: cpu.median)) [\(String(format2: cpu.minimum)), \(String(format2: cpu.maximum))]".padded(to: 30)
                + "\(String(format2: hostPath.median)) [\(String(format2: hostPath.minimum)), \(String(format2: hostPath.maximum))]")
            print("RESULT dumpcap_offered rate=\(Int(rate)) size=\(offeredSize) runs=\(offeredRuns) captured_median=\(Int(captured.median)) offered=\(offered) dropped_max=\(Int(dropped.maximum)) cpu_us_median=\(String(format2: cpu.median)) cpu_us_min=\(String(format2: cpu.minimum)) cpu_us_max=\(String(format2: cpu.maximum)) host_path_us_median=\(String(format2: hostPath.median)) host_path_us_min=\(String(format2: hostPath.minimum)) host_path_us_max=\(String(format2: hostPath.maximum))")
        }
    }

    /// One run: dumpcap on the TAP, `offeredSeconds` of frames written at the
    /// rate, then dumpcap stopped; its CPU from /proc and its closing counts.
    private func measureDumpcap(
        tap: HostTapInterface, frame: [UInt8], framesPerSecond: Double
    ) throws -> (captured: Int, dropped: Int, cpuMicroseconds: Double, hostPathMicroseconds: Double) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-anchor-\(getpid()).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let dumpcap = Process()
        dumpcap.executableURL = URL(fileURLWithPath: "/usr/bin/dumpcap")
        dumpcap.arguments = ["-i", tap.name, "-w", output, "-B", "64"]
        let errors = Pipe()
        dumpcap.standardError = errors
        dumpcap.standardOutput = FileHandle.nullDevice
        try dumpcap.run()
        // dumpcap says "Capturing on ..." once its socket is open.
        var banner = Data()
        let deadline = Date().addingTimeInterval(10)
        while !String(decoding: banner, as: UTF8.self).contains("Capturing on"), Date() < deadline {
            banner += errors.fileHandleForReading.availableData
        }
        let cpuBefore = Self.otherProcessCPUSeconds(pid: dumpcap.processIdentifier)
        let machineBefore = Self.machineBusyCPUSeconds()
        let writerBefore = threadUserCPUSeconds()  // this thread writes: its pacing loop is not the host path
        let count = Int(framesPerSecond * offeredSeconds)
        let start = HostClock.monotonicNanoseconds()
        var sent = 0
        var failed: HostTapInterface.WriteOutcome?
        frame.withUnsafeBytes { bytes in
            while sent < count {
                let due = min(count, Int(Double(HostClock.monotonicNanoseconds() - start) * framesPerSecond / 1e9) + 1)
                while sent < due {
                    let outcome = tap.write(bytes)
                    if outcome != .written { failed = outcome }
                    sent += 1
                }
                if sent < count { usleep(100) }
            }
        }
        if let failed { writeStandardError("airtap bench: writing into \(tap.name) failed: \(failed)\n") }
        HostClock.sleep(seconds: 0.5)
        let cpu = Self.otherProcessCPUSeconds(pid: dumpcap.processIdentifier) - cpuBefore
        let hostPath = Self.machineBusyCPUSeconds() - machineBefore - (threadUserCPUSeconds() - writerBefore)
        kill(dumpcap.processIdentifier, SIGINT)
        dumpcap.waitUntilExit()
        let report = String(decoding: banner + errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // "Packets captured: N" (after a \r-updated counter on the same line) and
        // "Packets received/dropped on interface 'x': N/D (...)".
        func integer(after marker: String) -> Int? {
            guard let range = report.range(of: marker, options: .backwards) else { return nil }
            return Int(report[range.upperBound...].prefix { $0.isNumber })
        }
        let captured = integer(after: "Packets captured: ") ?? 0
        let dropped = report.range(of: "received/dropped on interface", options: .backwards).flatMap { range -> Int? in
            let rest = report[range.upperBound...]
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            return Int(rest[rest.index(after: slash)...].prefix { $0.isNumber })
        } ?? 0
        let perFrame = { (seconds: Double) in captured > 0 ? seconds * 1e6 / Double(captured) : 0 }
        return (captured, dropped, perFrame(cpu), perFrame(hostPath))
    }

    /// CPU time the whole machine has been busy (user, nice, system, irq,
    /// softirq; not idle, I/O wait or steal), from /proc/stat.
    static func machineBusyCPUSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return 0 }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 7 else { return 0 }
        return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// utime + stime of another process, from /proc/PID/stat.
    static func otherProcessCPUSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
