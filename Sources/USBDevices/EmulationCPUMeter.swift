// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization

/// CPU an emulated chip's own work takes inside a driver's submit (on a
/// kernel thread): what real hardware does in silicon, so benchmarks can
/// leave it out of the driver and capture path's cost. Read from the
/// calling thread's CPU clock, so a preemption in the middle charges
/// nothing; that is one syscall each side, paid only where a submit does
/// real work (a bulk OUT transfer carrying frames).
final class EmulationCPUMeter: Sendable {
    private let nanoseconds = Atomic<UInt64>(0)

    /// Runs `work`, charging the CPU it takes to the chip.
    func measure<Result>(_ work: () -> Result) -> Result {
        let start = HostClock.threadCPUNanoseconds()
        defer { nanoseconds.add(HostClock.threadCPUNanoseconds() &- start, ordering: .relaxed) }
        return work()
    }

    var seconds: Double { Double(nanoseconds.load(ordering: .relaxed)) / 1e9 }
}
