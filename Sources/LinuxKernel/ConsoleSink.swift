// SPDX-License-Identifier: GPL-2.0-only


/// Where complete kernel console lines go, in addition to the log tail and
/// swift-log (label `airtap.kernel`).
///
/// The handler runs on whichever host thread the kernel printed from, often
/// inside kernel context: it must be quick and must never call back into the
/// kernel (no syscalls), or the kernel deadlocks.
public struct ConsoleSink: Sendable {
    public let receiveLine: (@Sendable (String) -> Void)?

    public init(_ receiveLine: (@Sendable (String) -> Void)?) {
        self.receiveLine = receiveLine
    }

    /// Only the log tail and swift-log see the console.
    public static let discard = ConsoleSink(nil)

    /// Calls `handler` with each complete line (without the newline).
    public static func lines(_ handler: @escaping @Sendable (String) -> Void) -> ConsoleSink {
        ConsoleSink(handler)
    }
}

/// Keeps every console line in memory. The log tail is bounded, but KUnit
/// output can be far larger, so parsers should read from a recorder.
public final class ConsoleRecorder: Sendable {
    private let recorded = HostMutex<[String]>([])

    public init() {}

    /// A sink that appends to this recorder.
    public var sink: ConsoleSink {
        .lines { [self] line in recorded.withLock { $0.append(line) } }
    }

    /// All lines received so far, in order.
    public var lines: [String] { recorded.withLock { $0 } }

    /// The first line announcing the kernel ("Linux version ..."), without
    /// its printk timestamp.
    public var bannerLine: String? { KernelConsole.bannerLine(in: lines) }
}

extension ConsoleRecorder {
    /// Parses the recorded console as KUnit KTAP output.
    ///
    /// KUnit normally finishes before boot returns; should the kernel still
    /// be running it, this waits up to `seconds` for the announced plan to be
    /// fulfilled (only briefly when no KTAP header has appeared at all).
    public func ktapReport(waitingUpTo seconds: Double = 0) -> KTAPReport {
        let start = HostClock.monotonicNanoseconds()
        let headerGrace = min(seconds, 2)
        while true {
            let report = KTAPParser.parse(lines: lines)
            let waited = Double(HostClock.monotonicNanoseconds() - start) / 1e9
            let limit = report.plannedSuiteCount == nil ? headerGrace : seconds
            if report.planMatched || waited >= limit { return report }
            HostClock.sleep(seconds: 0.1)
        }
    }
}
