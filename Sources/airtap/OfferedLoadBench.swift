// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import LinuxKernel
import RadioDevices
import SimulatedAir
import USBDevices
import Wireless

/// Paced RX through the full USB path: the chip's air offers frames at a
/// fixed rate whether or not the driver keeps up (what a real channel
/// does), and every frame not in the capture file is accounted for: lost
/// in the chip's FIFO (the driver did not return URBs in time), dropped by
/// the kernel socket, or still unread.
extension BenchCommand {
    struct OfferedLoadResult {
        var framesPerSecond: Double
        var offered: Int
        var captured: Int
        var chipLost: Int
        /// Of `chipLost`, lost while a URB waited at the chip: the emulation ran late.
        var chipLostWhileURBWaited: Int
        var kernelDrops: UInt64
        var cpuSeconds: Double
        /// Of `cpuSeconds`, the emulated chip's own work (`EmulatedChip.airEmulationCPUSeconds`).
        var chipCPUSeconds: Double

        var zeroLoss: Bool { captured == offered && chipLost == 0 && kernelDrops == 0 }
        var cpuMicrosecondsPerFrame: Double { captured > 0 ? cpuSeconds * 1e6 / Double(captured) : 0 }
        /// The driver, kernel and capture path: what runs with real hardware too.
        var pathCPUMicrosecondsPerFrame: Double { captured > 0 ? (cpuSeconds - chipCPUSeconds) * 1e6 / Double(captured) : 0 }
    }

    /// One run: `seconds` of `frameSize`-byte frames at `framesPerSecond`.
    func measureOfferedLoad(
        _ target: BenchTarget, framesPerSecond: Double, seconds: Double, frameSize: Int
    ) throws -> OfferedLoadResult {
        let device = target.device
        let chip = target.chip
        let (capture, writer, templates) = try receiveSetUp(device, frameSize: frameSize)
        defer { capture.close() }
        let count = Int(framesPerSecond * seconds)
        let lostBefore = chip.airFramesLost
        let lateBefore = chip.airFramesLostWhileURBWaited
        let startCPU = processCPUSeconds()
        let startChipCPU = chip.airEmulationCPUSeconds
        try chip.startOfferedAirLoad(templates, count: count, framesPerSecond: framesPerSecond)
        var captured = 0
        var lastArrival = HostClock.monotonicNanoseconds()
        let deadline = lastArrival + UInt64((seconds + 10) * 1e9)
        var backpressure = ReceiveBackpressure(now: lastArrival)
        defer { device.setReceiveShedding(false) }
        while true {
            let batch = try writeNextBatch(from: capture, to: writer)
            captured += batch
            let now = HostClock.monotonicNanoseconds()
            backpressure.check(capture, device: device, now: now)
            if batch > 0 { lastArrival = now }
            // Everything offered has arrived, and the pipeline is quiet.
            if chip.airOfferedRemaining == 0 && now - lastArrival > 300_000_000 { break }
            if captured + (chip.airFramesLost - lostBefore) >= count && now - lastArrival > 50_000_000 { break }
            if now > deadline { break }
        }
        let cpu = processCPUSeconds() - startCPU
        let chipCPU = chip.airEmulationCPUSeconds - startChipCPU
        chip.stopAirFlood()
        let statistics = try closeCapture(capture, writer: writer, delivered: captured)
        return OfferedLoadResult(
            framesPerSecond: framesPerSecond, offered: count, captured: captured, chipLost: chip.airFramesLost - lostBefore,
            chipLostWhileURBWaited: chip.airFramesLostWhileURBWaited - lateBefore,
            kernelDrops: statistics.dropped, cpuSeconds: cpu, chipCPUSeconds: chipCPU)
    }

    /// `runs` runs per rate, each row the median with min and max; then the
    /// highest rate held with zero loss (×1.5 steps from the best zero-loss
    /// rate, then halving the gap).
    func runOfferedLoads(_ target: BenchTarget, label: String) throws {
        let rates = try parsedOfferedRates()
        print("offered load, \(offeredSize)-byte frames, \(offeredSeconds) s a run, \(offeredRuns) runs (median [min, max]):")
        print("CPU: the whole process; PATH: less the emulated chip's own work (what real hardware does in silicon).")
        print("CHIP LATE: of CHIP LOST, frames that arrived while a receive URB waited at the chip (the emulation ran late).")
        print("RATE/S     CAPTURED/OFFERED     CHIP LOST [MIN,MAX]   KERNEL DROPS [MIN,MAX]   CPU US/FRAME [MIN, MAX]   PATH US/FRAME [MIN, MAX]   CHIP LATE [MIN,MAX]")
        var bestZeroLoss: Double?
        for rate in rates {
            var results: [OfferedLoadResult] = []
            for _ in 0..<offeredRuns {
                results.append(try measureOfferedLoad(target, framesPerSecond: rate, seconds: offeredSeconds, frameSize: offeredSize))
            }
            guard let cpu = RunSpread(results.map(\.cpuMicrosecondsPerFrame)), let path = RunSpread(results.map(\.pathCPUMicrosecondsPerFrame)),
                let captured = RunSpread(results.map { Double($0.captured) }),
                let lost = RunSpread(results.map { Double($0.chipLost) }), let drops = RunSpread(results.map { Double($0.kernelDrops) }),
                let late = RunSpread(results.map { Double($0.chipLostWhileURBWaited) })
            else { continue }
            print(String(Int(rate)).padded(to: 11) + "\(Int(captured.median))/\(results[0].offered)".padded(to: 21)
                + "\(Int(lost.median)) [\(Int(lost.minimum)),\(Int(lost.maximum))]".padded(to: 22)
                + "\(Int(drops.median)) [\(Int(drops.minimum)),\(Int(drops.maximum))]".padded(to: 25)
                + "\(String(format2: cpu.median)) [\(String(format2: cpu.minimum)), \(String(format2: cpu.maximum))]".padded(to: 26)
                + "\(String(format2: path.median)) [\(String(format2: path.minimum)), \(String(format2: path.maximum))]".padded(to: 27)
                + "\(Int(late.median)) [\(Int(late.minimum)),\(Int(late.maximum))]")
            print("RESULT \(label)_offered rate=\(Int(rate)) size=\(offeredSize) runs=\(offeredRuns) captured_median=\(Int(captured.median)) offered=\(results[0].offered) chip_lost_max=\(Int(lost.maximum)) chip_lost_late_median=\(Int(late.median)) chip_lost_late_max=\(Int(late.maximum)) kernel_drops_max=\(Int(drops.maximum)) cpu_us_median=\(String(format2: cpu.median)) cpu_us_min=\(String(format2: cpu.minimum)) cpu_us_max=\(String(format2: cpu.maximum)) path_cpu_us_median=\(String(format2: path.median)) path_cpu_us_min=\(String(format2: path.minimum)) path_cpu_us_max=\(String(format2: path.maximum))")
            if results.allSatisfy(\.zeroLoss) { bestZeroLoss = max(bestZeroLoss ?? 0, rate) }
        }
        guard offeredMaxSearch else { return }
        var low = bestZeroLoss ?? 0
        var high: Double?
        var probe = (bestZeroLoss ?? rates.min()! / 1.5) * 1.5
        for _ in 0..<8 {
            let result = try measureOfferedLoad(target, framesPerSecond: probe, seconds: offeredSeconds, frameSize: offeredSize)
            if result.zeroLoss { low = probe } else { high = probe }
            guard let high else {
                probe *= 1.5
                continue
            }
            if high - low < max(low * 0.05, 1000) { break }
            probe = (low + high) / 2
        }
        print("highest rate held with zero loss for \(offeredSeconds) s: \(Int(low)) frames/s"
            + (high.map { " (\(Int($0)) lost frames)" } ?? " (the search did not find a limit)"))
        print("RESULT \(label)_zero_loss_max fps=\(Int(low)) size=\(offeredSize) seconds=\(offeredSeconds)")
    }
}
