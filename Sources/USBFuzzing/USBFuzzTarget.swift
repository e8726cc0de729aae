// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// One fuzz target: set up once per process (one kernel boot), then one
/// call per input.
public protocol USBFuzzTarget: AnyObject {
    /// Runs one input. Returns a finding the harness itself saw (one the
    /// kernel console would not show), or nil. Throws when the harness
    /// cannot go on (a set-up step failed): that is no finding of the input.
    func run(_ input: [UInt8]) throws -> String?
    /// Longest an input may run before the watchdog calls the kernel stuck.
    var watchdogSeconds: Double { get }
    /// What the target did so far, for the end-of-run line.
    var summary: String { get }
}

/// The fuzz targets by name.
public enum USBFuzzTargetKind: String, CaseIterable, Sendable {
    /// Plug a device whose every answer comes from the input.
    case enumeration
    /// rtl8187 bound to the RTL8187 model; inputs are bulk IN completions.
    case rtl8187Receive = "rtl8187-rx"
    /// rtw88_8821au bound to the RTW88 model; inputs are RX aggregates.
    case rtw88Receive = "rtw88-rx"

    /// No hwsim radios: the driver's wiphy is the only one.
    var kernelCommandLine: String { "mac80211_hwsim.radios=0" }

    /// What a `make test` smoke run needs: a few seconds per target.
    public var summaryName: String { rawValue }

    func makeTarget(kernel: Kernel, watchdog: FuzzWatchdog) throws -> any USBFuzzTarget {
        switch self {
        case .enumeration: return try EnumerationFuzzTarget(kernel: kernel, watchdog: watchdog)
        case .rtl8187Receive: return try ReceiveTargets.rtl8187(kernel: kernel, watchdog: watchdog)
        case .rtw88Receive: return try ReceiveTargets.rtw88(kernel: kernel, watchdog: watchdog)
        }
    }
}

/// The harness cannot continue (not a finding of an input).
public enum FuzzHarnessError: Error, CustomStringConvertible {
    case noReceiveURB(target: String, log: String)
    case poolNotRefilled(target: String, held: Int, expected: Int, log: String)
    case setupFailed(target: String, reason: String)
    case badSeedDirectory(path: String, reason: String)

    public var description: String {
        switch self {
        case .noReceiveURB(let target, let log):
            return "\(target): the driver holds no receive URB even after a refill\n--- kernel log tail ---\n\(log)"
        case .poolNotRefilled(let target, let held, let expected, let log):
            return "\(target): the driver submitted \(held) of its \(expected) receive URBs within 10 s of a refill\n"
                + "--- kernel log tail ---\n\(log)"
        case .setupFailed(let target, let reason):
            return "\(target): set-up failed: \(reason)"
        case .badSeedDirectory(let path, let reason):
            return "cannot write seeds into \(path): \(reason)"
        }
    }
}
