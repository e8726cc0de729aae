// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import USBHost

/// Each input plugs an `EnumerationDevice` into the virtual host controller,
/// lets the USB core enumerate it (and whichever driver matches probe it)
/// until the kernel goes quiet, the script unplugs it, or a time cap, then
/// unplugs it and checks that nothing stays in flight.
///
/// Inputs cost what the hub driver takes: ~100 ms of connect debounce
/// before the first request, then the quiet period that ends an input.
public final class EnumerationFuzzTarget: USBFuzzTarget {
    public let watchdogSeconds: Double = 30
    /// No request for this long: the kernel is done with the device.
    static let quietSeconds = 0.2
    /// The hub should start within this after the plug.
    static let firstRequestSeconds = 1.5
    /// Drivers that poll forever end here.
    static let capSeconds = 3.0

    private let kernel: Kernel
    private let controller = VirtualHostController()
    private let watchdog: FuzzWatchdog
    private var outcomes: [String: Int] = [:]
    private var controlRequests = 0
    private var bridgeRefusals = 0

    init(kernel: Kernel, watchdog: FuzzWatchdog) throws {
        self.kernel = kernel
        self.watchdog = watchdog
    }

    public var summary: String {
        "control requests \(controlRequests), refused by the bridge \(bridgeRefusals), outcomes "
            + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    public func run(_ input: [UInt8]) throws -> String? {
        let script = EnumerationScript(decoding: input)
        let device = EnumerationDevice(script: script)
        let port = try controller.attach(device)
        let plugged = HostClock.monotonicNanoseconds()
        let unplugAt = script.unplugAfterMilliseconds.map { plugged + UInt64($0) * 1_000_000 }
        var outcome = "cap"
        while true {
            HostClock.sleep(seconds: 0.002)
            let now = HostClock.monotonicNanoseconds()
            let elapsed = Double(now - plugged) / 1e9
            if device.unplugRequested.load(ordering: .acquiring) {
                outcome = "script-unplug"
                break
            }
            if let unplugAt, now >= unplugAt {
                outcome = "timed-unplug"
                break
            }
            if elapsed > Self.capSeconds { break }
            let last = device.lastRequestAt.load(ordering: .relaxed)
            if last == 0 {
                if elapsed > Self.firstRequestSeconds {
                    outcome = "never-addressed"
                    break
                }
            } else if Double(now.subtractingClamped(last)) / 1e9 > Self.quietSeconds {
                outcome = "quiet"
                break
            }
            watchdog.progress("enumeration: \(device.controlRequestCount) control requests so far")
        }
        outcomes[outcome, default: 0] += 1
        controlRequests += device.controlRequestCount
        FuzzFeedback.hit(.enumerationOutcome, FuzzFeedback.hash(outcome.utf8) ^ FuzzFeedback.sizeClass(device.controlRequestCount))
        try controller.detach(port: port)
        bridgeRefusals += device.bridgeRefusals.load(ordering: .relaxed)
        return waitForNothingInFlight()
    }

    /// After detach the kernel has completed everything; a URB still in
    /// flight means the bridge and the kernel disagree.
    private func waitForNothingInFlight() -> String? {
        let deadline = HostClock.monotonicNanoseconds() + 2_000_000_000
        var inFlight = 0
        while HostClock.monotonicNanoseconds() < deadline {
            inFlight = (try? VirtualHostController.kernelStatistics().inFlight) ?? 0
            if inFlight == 0 && controller.pendingCount == 0 { return nil }
            HostClock.sleep(seconds: 0.002)
        }
        return "enumeration: \(inFlight) URB(s) in flight in the kernel and \(controller.pendingCount) pending in the bridge "
            + "2 s after unplugging the device"
    }
}
