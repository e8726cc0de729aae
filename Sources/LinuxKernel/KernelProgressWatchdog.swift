// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import Synchronization

/// Turns a stuck kernel into a `KernelFailure.stuck` instead of a hang: a
/// prober thread makes a trivial syscall every `probeInterval`; a monitor
/// thread (which never enters the kernel) fails the process when no probe
/// has got through for `limitSeconds`. A syscall only waits for the
/// kernel's one CPU, so when even getpid cannot get it, the CPU is held for
/// good (a task spinning with interrupts off, a deadlock).
final class KernelProgressWatchdog: Sendable {
    let limitSeconds: Double
    private let probeIntervalSeconds: Double
    private let lastProgress = Atomic<UInt64>(HostClock.monotonicNanoseconds())
    private let stopping = Atomic<Bool>(false)
    private let wakeProber = DispatchSemaphore(value: 0)
    private let wakeMonitor = DispatchSemaphore(value: 0)
    private let threads = HostMutex<[JoinableThread]>([])

    init(kernel: Kernel, limitSeconds: Double, probeIntervalSeconds: Double = 0.5) throws {
        self.limitSeconds = limitSeconds
        self.probeIntervalSeconds = probeIntervalSeconds
        let prober = try JoinableThread { [self] in
            while !stopping.load(ordering: .acquiring) {
                _ = kernel.syscall(LinuxSyscall.getpid)
                lastProgress.store(HostClock.monotonicNanoseconds(), ordering: .releasing)
                _ = wakeProber.wait(timeout: .now() + probeIntervalSeconds)
            }
        }
        let monitor = try JoinableThread { [self] in
            while !stopping.load(ordering: .acquiring) {
                _ = wakeMonitor.wait(timeout: .now() + probeIntervalSeconds)
                guard !stopping.load(ordering: .acquiring) else { return }
                let last = lastProgress.load(ordering: .acquiring)
                let quiet = Self.quietSeconds(since: last, now: HostClock.monotonicNanoseconds())
                if quiet > limitSeconds { KernelFailureHandlers.fail(.stuck(seconds: quiet)) }
            }
        }
        threads.withLock { $0 = [prober, monitor] }
    }

    /// Seconds without a probe. The prober's thread may store a probe newer
    /// than `now` (it lands between the two reads): that is no quiet at
    /// all, and a plain unsigned difference would trap (SIGILL, reported
    /// as a fatal signal of its own).
    static func quietSeconds(since lastProgress: UInt64, now: UInt64) -> Double {
        now > lastProgress ? Double(now - lastProgress) / 1e9 : 0
    }

    /// Before halt: no probe may race the kernel going down.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wakeProber.signal()
        wakeMonitor.signal()
        for thread in threads.withLock({ $0 }) { thread.join() }
    }
}
