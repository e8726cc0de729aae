// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization

/// CPU an emulated chip's own work takes inside a driver's submit (on a
/// kernel thread): what real hardware does in silicon, so benchmarks can
/// leave it out of the driver and capture path's cost.
///
/// Timed with the monotonic clock (vDSO, no syscall): a thread CPU clock
/// read is a syscall here, and two per bulk OUT transfer more than doubled
/// RTL8187L's TX cost (one frame a transfer). A span longer than
/// `preemptedNanoseconds` was preempted and is charged nothing, so the
/// driver's share errs high, not low.
final class EmulationCPUMeter: Sendable {
    /// Far above a transfer's handling (a few microseconds).
    static let preemptedNanoseconds: UInt64 = 200_000

    private let nanoseconds = Atomic<UInt64>(0)

    /// Runs `work`, charging the time it takes to the chip.
    func measure<Result>(_ work: () -> Result) -> Result {
        let start = HostClock.monotonicNanoseconds()
        defer {
            let span = HostClock.monotonicNanoseconds() &- start
            if span < Self.preemptedNanoseconds { nanoseconds.add(span, ordering: .relaxed) }
        }
        return work()
    }

    var seconds: Double { Double(nanoseconds.load(ordering: .relaxed)) / 1e9 }
}
