// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The host's monotonic clock, for measurements independent of the kernel.
public enum HostClock {
    /// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        // CLOCK_MONOTONIC cannot fail on Linux; a zero reading would show up
        // as an absurd measurement rather than a crash.
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}

extension HostClock {
    /// Sleeps the calling host thread (not through the kernel library).
    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        let clamped = min(seconds, 86_400)
        let wholeSeconds = clamped.rounded(.down)
        var request = timespec(tv_sec: Int(wholeSeconds), tv_nsec: Int((clamped - wholeSeconds) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR {
            request = remaining
        }
    }
}

extension HostClock {
    /// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`), in
    /// nanoseconds: for charging work to whoever asked for it, whatever
    /// thread ran it.
    public static func threadCPUNanoseconds() -> UInt64 {
        cpuNanoseconds(of: CLOCK_THREAD_CPUTIME_ID) ?? 0
    }

    /// A CPU-time clock's reading in nanoseconds (another thread's, from
    /// pthread_getcpuclockid); nil once that thread is gone.
    public static func cpuNanoseconds(of clock: clockid_t) -> UInt64? {
        var used = timespec()
        guard clock_gettime(clock, &used) == 0 else { return nil }
        return UInt64(used.tv_sec) &* 1_000_000_000 &+ UInt64(used.tv_nsec)
    }
}
