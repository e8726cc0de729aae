// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel

/// Tells a device when its capture falls behind: the socket's drop counter
/// rose since the last look (every `checkNanoseconds`). The device then
/// sheds at the adapter (`RadioDevice.setReceiveShedding`) instead of
/// spending the kernel's CPU on frames the socket would drop anyway; after
/// `quietNanoseconds` without a new drop it takes everything again. Every
/// capture loop (airtap capture, the benches) runs one per socket.
public struct ReceiveBackpressure {
    public static let checkNanoseconds: UInt64 = 20_000_000
    public static let quietNanoseconds: UInt64 = 1_000_000_000

    private var lastCheck: UInt64
    private var lastDropped: UInt64 = 0
    private var lastDrop: UInt64 = 0
    public private(set) var shedding = false

    public init(now: UInt64 = HostClock.monotonicNanoseconds()) {
        lastCheck = now
    }

    /// Looks at the counters when due and tells `device` of a change.
    public mutating func check(_ capture: PacketCapture, device: any RadioDevice, now: UInt64) {
        guard now &- lastCheck >= Self.checkNanoseconds, let counters = try? capture.statistics() else { return }
        lastCheck = now
        if let change = update(dropped: counters.dropped, now: now) { device.setReceiveShedding(change) }
    }

    /// The new shedding state when it changes (nil: unchanged).
    public mutating func update(dropped: UInt64, now: UInt64) -> Bool? {
        defer { lastDropped = dropped }
        if dropped > lastDropped {
            lastDrop = now
            guard !shedding else { return nil }
            shedding = true
            return true
        }
        guard shedding, now &- lastDrop >= Self.quietNanoseconds else { return nil }
        shedding = false
        return false
    }
}
