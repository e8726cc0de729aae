// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinuxKernel
import SystemPackage

/// Output protocol of the probe, parsed by the tests and benchmark scripts:
///
///     RESULT key=value [key=value ...]   measurements; a value runs until the
///                                        next " key=" token, so free text
///                                        (the banner) is printed alone
///     SUITE ok|notok <name>               one KUnit suite
///     KTAP| <line>                        raw KTAP output
///
/// Failures go to stderr as "airtap-kernel-probe: FAIL: ..." with exit status 1.
enum ProbeOutput {
    static func result(_ pairs: KeyValuePairs<String, String>) {
        let text = pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        emit("RESULT \(text)")
    }

    static func result(_ key: String, _ value: some CustomStringConvertible) {
        emit("RESULT \(key)=\(value)")
    }

    /// Writes one line to stdout, unbuffered, so nothing is lost when the
    /// process ends through `_exit` (failures, kernel panic).
    static func emit(_ line: String) {
        write(line + "\n", to: .standardOutput)
    }

    /// A line for whoever watches a long run (stderr: stdout is the report).
    static func progress(_ line: String) {
        write(line + "\n", to: .standardError)
    }

    static func warn(_ message: String) {
        write("airtap-kernel-probe: warning: \(message)\n", to: .standardError)
    }

    /// Reports a failure and leaves immediately. `_exit` because the kernel
    /// may still be running threads that exit-time cleanup would race with.
    static func fail(_ message: String) -> Never {
        write("airtap-kernel-probe: FAIL: \(message)\n", to: .standardError)
        _exit(1)
    }

    static func write(_ text: String, to descriptor: FileDescriptor) {
        // Output errors (e.g. a closed pipe) leave nothing useful to do.
        _ = try? descriptor.writeAll(text.utf8)
    }
}

/// Formats `total / count` with one decimal, e.g. "123.4".
func perCallNanoseconds(total: UInt64, count: Int) -> String {
    guard count > 0 else { return "0.0" }
    let tenths = (total &* 10) / UInt64(count)
    return "\(tenths / 10).\(tenths % 10)"
}

/// Peak resident set size of this process in KiB.
func peakResidentKiB() -> Int {
    var usage = rusage()
    guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return -1 }
    return Int(usage.ru_maxrss)
}

/// Sleeps the calling host thread without involving the kernel library.
func hostSleep(seconds: Double) {
    HostClock.sleep(seconds: seconds)
}

/// Polls `condition` on the host until it holds or `seconds` pass; returns
/// whether it held.
func waitUntil(seconds: Double, pollInterval: Double = 0.001, _ condition: () -> Bool) -> Bool {
    let deadline = HostClock.monotonicNanoseconds() + UInt64(max(seconds, 0) * 1e9)
    while !condition() {
        if HostClock.monotonicNanoseconds() >= deadline { return false }
        hostSleep(seconds: pollInterval)
    }
    return true
}

/// The probe's host thread: a `JoinableThread` whose start failure fails
/// the probe (the threads scenario joins them to know their kernel tasks
/// were released).
final class HostThread {
    private let thread: JoinableThread

    private init(thread: JoinableThread) {
        self.thread = thread
    }

    @discardableResult
    static func spawn(_ body: @escaping @Sendable () -> Void) -> HostThread {
        do {
            return HostThread(thread: try JoinableThread(body))
        } catch {
            ProbeOutput.fail("\(error)")
        }
    }

    func join() {
        thread.join()
    }
}

/// Fails the probe with `message` unless disarmed within `seconds`, so a
/// hung kernel produces a diagnosis instead of just a test timeout.
final class Watchdog {
    private let disarmed: HostMutex<Bool>
    private let thread: HostThread

    init(seconds: Double, message: String) {
        let disarmed = HostMutex(false)
        self.disarmed = disarmed
        thread = HostThread.spawn {
            let fired = !waitUntil(seconds: seconds) { disarmed.withLock { $0 } }
            if fired {
                ProbeOutput.fail("watchdog: \(message) (no progress after \(Int(seconds)) s)\n"
                    + "--- kernel log tail ---\n\(KernelConsole.logTail)")
            }
        }
    }

    /// Stops the watchdog and joins its thread (it ends within a poll), so
    /// no finished thread is left unjoined. Call once.
    func disarm() {
        disarmed.withLock { $0 = true }
        thread.join()
    }
}
