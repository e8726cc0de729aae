// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization

/// Time an emulated chip's own work takes on whatever thread runs it (a
/// driver's submit on a kernel thread, mostly): what real hardware does in
/// silicon, so benchmarks can leave it out of the driver and capture
/// path's cost. Read from the monotonic clock (no syscall), so a
/// preemption inside counts too; the spans are microseconds long.
final class EmulationCPUMeter: Sendable {
    private let nanoseconds = Atomic<UInt64>(0)

    /// Runs `work`, charging its time to the chip.
    @inline(__always)
    func measure<Result>(_ work: () -> Result) -> Result {
        let start = HostClock.monotonicNanoseconds()
        defer { charge(since: start) }
        return work()
    }

    /// Charges the time from `start` (a `HostClock.monotonicNanoseconds()` reading) until now.
    @inline(__always)
    func charge(since start: UInt64) {
        nanoseconds.add(HostClock.monotonicNanoseconds() &- start, ordering: .relaxed)
    }

    var seconds: Double { Double(nanoseconds.load(ordering: .relaxed)) / 1e9 }
    var totalNanoseconds: UInt64 { nanoseconds.load(ordering: .relaxed) }
}
