// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxKernel
import LinuxKernel
import Synchronization

/// Turns a stuck kernel into a finding: if one input runs longer than the
/// limit (a driver waiting forever, a lost interrupt, a deadlock), a host
/// thread of its own prints what it knows and aborts, and libFuzzer's
/// SIGABRT handler saves the input as a crash. It never calls into the
/// kernel, which may be the thing that is stuck.
public final class FuzzWatchdog: Sendable {
    private struct State {
        var inputStartedAt: UInt64?
        var inputNumber = 0
        var limitSeconds: Double = 60
        var label = ""
        var lastProgressAt: UInt64 = HostClock.monotonicNanoseconds()
        var progressNote = "none yet"
    }

    private let state = HostMutex(State())
    private let liveness: KernelLiveness

    public init(liveness: KernelLiveness) throws {
        self.liveness = liveness
        _ = try JoinableThread { [self] in watch() }
    }

    /// An input (or, with a label, a set-up step) starts and may take `limitSeconds`.
    public func inputStarted(limitSeconds: Double, label: String = "") {
        state.withLock { state in
            if label.isEmpty { state.inputNumber += 1 }
            state.label = label.isEmpty ? "input #\(state.inputNumber)" : label
            state.limitSeconds = limitSeconds
            state.inputStartedAt = HostClock.monotonicNanoseconds()
        }
    }

    public func inputFinished() {
        state.withLock { $0.inputStartedAt = nil }
    }

    /// URBs moved: when it last happened goes into the report.
    public func progress(_ note: @autoclosure () -> String) {
        let text = note()
        state.withLock { state in
            state.lastProgressAt = HostClock.monotonicNanoseconds()
            state.progressNote = text
        }
    }

    private func watch() {
        while true {
            HostClock.sleep(seconds: 0.25)
            // Snapshot first: an input starting meanwhile is then not in the future.
            let snapshot = state.withLock { $0 }
            let now = HostClock.monotonicNanoseconds()
            guard let started = snapshot.inputStartedAt else { continue }
            let running = Double(now.subtractingClamped(started)) / 1e9
            guard running > snapshot.limitSeconds else { continue }
            writeStandardError(
                "airtap-usb-fuzz: FINDING: watchdog: \(snapshot.label) has run for \(Int(running)) s "
                    + "(limit \(Int(snapshot.limitSeconds)) s): the kernel is stuck\n"
                    + "  last URB progress \(String(format1: Double(now.subtractingClamped(snapshot.lastProgressAt)) / 1e9)) s ago (\(snapshot.progressNote))\n"
                    + "  \(liveness.report(now: now))\n"
                    + "--- kernel log tail ---\n\(KernelConsole.logTail)\n")
            abort()
        }
    }
}

/// Checks after inputs that the kernel still runs: a syscall returns, and
/// jiffies (the timer tick) advance. A kernel whose tick stopped still
/// answers syscalls, so both are checked.
public final class KernelLiveness: Sendable {
    private struct State {
        var lastJiffies: Int = -1
        var lastChangeAt = HostClock.monotonicNanoseconds()
        var checks = 0
    }

    private let kernel: Kernel
    private let state = HostMutex(State())
    /// Jiffies may stand still this long (they advance 250 times a second).
    public let stillLimitSeconds: Double

    public init(kernel: Kernel, stillLimitSeconds: Double = 3) {
        self.kernel = kernel
        self.stillLimitSeconds = stillLimitSeconds
    }

    /// times(2): clock ticks derived from jiffies; also proves syscalls run.
    private func readTicks() -> Int {
        kernel.syscall(Int(LKL__NR_times), 0)
    }

    /// nil when alive, else what is wrong.
    public func check() -> String? {
        var ticks = readTicks()
        guard ticks >= 0 else { return "times() failed with errno \(-ticks): the kernel refuses syscalls" }
        let now = HostClock.monotonicNanoseconds()
        let (changedAgo, lastTicks) = state.withLock { state -> (Double, Int) in
            state.checks += 1
            if ticks != state.lastJiffies {
                state.lastJiffies = ticks
                state.lastChangeAt = now
            }
            return (Double(now.subtractingClamped(state.lastChangeAt)) / 1e9, state.lastJiffies)
        }
        guard changedAgo > stillLimitSeconds else { return nil }
        // An idle tickless kernel updates jiffies at its next interrupt: a
        // short sleep needs the timer interrupt, so it forces one.
        try? kernel.nanosleep(seconds: 0.005)
        ticks = readTicks()
        if ticks != lastTicks {
            state.withLock { state in
                state.lastJiffies = ticks
                state.lastChangeAt = HostClock.monotonicNanoseconds()
            }
            return nil
        }
        return "jiffies have not advanced for \(Int(changedAgo)) s (times() = \(ticks)): the kernel's timer tick stopped"
    }

    func report(now: UInt64) -> String {
        let snapshot = state.withLock { $0 }
        return "jiffies last seen advancing \(String(format1: Double(now.subtractingClamped(snapshot.lastChangeAt)) / 1e9)) s ago "
            + "(times() = \(snapshot.lastJiffies), \(snapshot.checks) checks)"
    }
}

extension String {
    /// One decimal: "1.5".
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

extension UInt64 {
    /// self - other, or 0 when other is later (times read on different threads).
    func subtractingClamped(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
