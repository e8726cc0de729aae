// SPDX-License-Identifier: GPL-2.0-only

@testable import LinuxKernel
import Testing

@Suite("Kernel progress watchdog")
struct KernelProgressWatchdogTests {
    @Test("a probe newer than the monitor's clock reading is no quiet time, not a trap")
    func probeLandingBetweenTheReads() {
        #expect(KernelProgressWatchdog.quietSeconds(since: 2_000_000_000, now: 1_999_999_000) == 0)
        #expect(KernelProgressWatchdog.quietSeconds(since: 5, now: 5) == 0)
        #expect(KernelProgressWatchdog.quietSeconds(since: 1_000_000_000, now: 4_500_000_000) == 3.5)
    }
}
