// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KernelSockets
import LinuxKernel

/// The kernel library's CLOCK_REALTIME. It has no RTC, so it boots at the
/// epoch and counts up on the host's monotonic clock; packet sockets stamp
/// frames with it. Setting it once from the host's wall clock (what a
/// machine's boot does from its RTC) makes those stamps wall-clock times.
public enum KernelWallClock {
    /// How far the library's clock may be from the host's before it is set.
    public static let toleranceNanoseconds: UInt64 = 1_000_000

    public static func hostNanoseconds() -> UInt64 {
        var now = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    public static func kernelNanoseconds(_ kernel: Kernel) throws -> UInt64 {
        var value = (Int64(0), Int64(0))  // struct __kernel_timespec
        let result = withUnsafeMutableBytes(of: &value) { raw in
            kernel.syscall(SocketSyscall.clockGettime, Int(CLOCK_REALTIME), Int(bitPattern: raw.baseAddress))
        }
        try checkedSyscall("clock_gettime(CLOCK_REALTIME) in the kernel library", result)
        return UInt64(value.0) &* 1_000_000_000 &+ UInt64(value.1)
    }

    /// Sets the library's wall clock to the host's unless it already agrees.
    public static func alignWithHost(_ kernel: Kernel) throws {
        let kernelNow = try kernelNanoseconds(kernel)
        let hostNow = hostNanoseconds()
        let difference = kernelNow > hostNow ? kernelNow - hostNow : hostNow - kernelNow
        guard difference > toleranceNanoseconds else { return }
        let target = hostNanoseconds()
        var value = (Int64(target / 1_000_000_000), Int64(target % 1_000_000_000))
        let result = withUnsafeBytes(of: &value) { raw in
            kernel.syscall(SocketSyscall.clockSettime, Int(CLOCK_REALTIME), Int(bitPattern: raw.baseAddress))
        }
        try checkedSyscall("clock_settime(CLOCK_REALTIME) in the kernel library", result)
    }
}
