// SPDX-License-Identifier: GPL-2.0-only

import Capture
import KernelSockets
import CLinuxKernel
import LinuxKernel
import RadioDevices
import SystemPackage
import USBHost
import Wireless

/// A driver bound to a model with its receive endpoint tapped, in monitor
/// mode, with a capture socket on its interface.
public struct ReceiveFuzzSession {
    public let radio: any RadioDevice
    public let tap: ReceiveEndpointTap
    public let capture: PacketCapture
    /// Receive URBs the driver keeps submitted when nothing went wrong.
    public let poolSize: Int
    /// Data shorter than this is completed as `completeShortTransfer` makes it
    /// (see `ReceiveCompletionRecord`).
    public let minimumTransferLength: Int
    public let completeShortTransfer: @Sendable (ArraySlice<UInt8>) -> [UInt8]
    /// Rewrites what would only hit known findings again (see `ReceiveTargets`).
    public let avoidKnownFindings: @Sendable (inout [UInt8]) -> Void

    public init(
        radio: any RadioDevice, tap: ReceiveEndpointTap, poolSize: Int, minimumTransferLength: Int = 0,
        completeShortTransfer: @escaping @Sendable (ArraySlice<UInt8>) -> [UInt8] = { Array($0) },
        avoidKnownFindings: @escaping @Sendable (inout [UInt8]) -> Void = { _ in }
    ) throws {
        self.avoidKnownFindings = avoidKnownFindings
        self.radio = radio
        self.tap = tap
        self.poolSize = poolSize
        self.minimumTransferLength = minimumTransferLength
        self.completeShortTransfer = completeShortTransfer
        // No coalescing wait: the harness asks (ppoll) before each receive.
        // recvmmsg: a frame is readable at once, where a ring would hold it
        // until its block retires, and every input drains right after delivery.
        capture = try PacketCapture(
            kernel: radio.kernel, interfaceIndex: radio.monitorInterface.index, receiveBufferBytes: 4 << 20,
            pollSeconds: 0.01, coalesceSeconds: 0, receivePath: .copy)
    }
}

/// How a driver gets its receive URBs back after errors used them up.
public enum ReceivePoolRefill: Sendable {
    /// Interface down and up (rtl8187: start submits a fresh set).
    case restartInterface
    /// Unplug and plug a new device (rtw88 submits its URBs at probe only).
    case replug
}

/// The receive targets' shared engine: each input is a few bulk IN
/// completions (`ReceiveCompletionRecord`) delivered into URBs the driver
/// submitted, then the kernel is given a moment to hand the frames up and
/// resubmit, and the capture socket is drained. Frames carrying the stale
/// data canary are a finding: the driver read past actual_length.
public final class ReceiveFuzzTarget: USBFuzzTarget {
    public let watchdogSeconds: Double = 20
    private let name: String
    private let openSession: () throws -> ReceiveFuzzSession
    private let refill: ReceivePoolRefill
    private let watchdog: FuzzWatchdog
    private var session: ReceiveFuzzSession
    private var counters = Counters()

    private struct Counters {
        var completions = 0
        var errorsDelivered = 0
        var bridgeRefusals = 0
        var framesCaptured = 0
        var refills = 0
        var losingEndingsHonored = 0
        var rawHonored = 0
        var losingEndingsDelivered = 0
        var deliverNanoseconds: UInt64 = 0
        var settleNanoseconds: UInt64 = 0
        var drainNanoseconds: UInt64 = 0
        var refillNanoseconds: UInt64 = 0
    }

    /// Endings that cost the driver its URB (error, overlong, unpadded
    /// short) are honored this often per process, fewer than the pool
    /// holds, and are plain transfers after that: refilling the pool costs
    /// an interface restart or a replug (0.6-1.4 s, FINDINGS.md F3), which
    /// at libFuzzer's rate of such endings would be most of the run. A
    /// crash input replayed in a fresh process has the budget again.
    public var losingEndingBudget: Int { max(session.poolSize - 1, 0) }
    /// Raw records (known findings not avoided) honored per process.
    static let rawBudget = 32

    public init(
        name: String, refill: ReceivePoolRefill, watchdog: FuzzWatchdog, open: @escaping () throws -> ReceiveFuzzSession
    ) throws {
        self.name = name
        self.refill = refill
        self.watchdog = watchdog
        openSession = open
        session = try open()
        try waitForPool(session.poolSize, seconds: 10)
    }

    public var summary: String {
        "completions \(counters.completions), error completions \(counters.errorsDelivered), "
            + "refused by the bridge \(counters.bridgeRefusals), frames captured \(counters.framesCaptured), "
            + "URB-losing endings honored \(counters.losingEndingsHonored), delivered as plain transfers "
            + "\(counters.losingEndingsDelivered) (budget \(losingEndingBudget)), raw records honored \(counters.rawHonored) (budget \(Self.rawBudget)), URB pool refills \(counters.refills) (\(refill == .replug ? "replug" : "interface restart")); time in "
            + "delivering \(Self.seconds(counters.deliverNanoseconds)) s, settling \(Self.seconds(counters.settleNanoseconds)) s, "
            + "draining \(Self.seconds(counters.drainNanoseconds)) s, refilling \(Self.seconds(counters.refillNanoseconds)) s"
    }

    static func seconds(_ nanoseconds: UInt64) -> String { String(format1: Double(nanoseconds) / 1e9) }

    public func run(_ input: [UInt8]) throws -> String? {
        let started = HostClock.monotonicNanoseconds()
        var refillTime: UInt64 = 0
        let records = ReceiveCompletionRecord.decode(input)
        let inputHasCanary = StaleDataCanary.occurs(in: input)
        // Successful transfers come back resubmitted; failed ones do not
        // (neither driver resubmits after an error status).
        var expectedHeld = session.tap.heldCount
        for var record in records {
            if record.ending == .deliveredRaw {
                // Known findings print a WARN each, and a WARN taken in a
                // kworker's softirq can crash the library (FINDINGS.md F5).
                if counters.rawHonored < Self.rawBudget { counters.rawHonored += 1 } else { record.ending = .delivered }
            }
            if losesURB(record) {
                if counters.losingEndingsHonored < losingEndingBudget {
                    counters.losingEndingsHonored += 1
                } else {
                    counters.losingEndingsDelivered += 1
                    record.ending = .delivered
                }
            }
            if session.tap.heldCount == 0 && !waitForResubmission() {
                let refillStarted = HostClock.monotonicNanoseconds()
                try refillPool()
                refillTime += HostClock.monotonicNanoseconds() - refillStarted
                expectedHeld = session.tap.heldCount
            }
            guard let request = session.tap.take(newest: record.ending == .deliveredOutOfOrder) else {
                throw FuzzHarnessError.noReceiveURB(target: name, log: KernelConsole.logTail)
            }
            let completion = fill(request, with: record)
            counters.completions += 1
            if let refusal = session.tap.completeReportingRefusal(request, completion) {
                // What .overlong is for: the bridge completed it -EOVERFLOW.
                guard case .actualLengthExceedsBuffer = refusal else { throw refusal }
                counters.bridgeRefusals += 1
            }
            if completion.error != nil || record.ending == .overlong {
                counters.errorsDelivered += 1
                expectedHeld -= 1
            }
            watchdog.progress("\(name): completed a receive URB, \(completion)")
        }
        let delivered = HostClock.monotonicNanoseconds()
        counters.refillNanoseconds += refillTime
        counters.deliverNanoseconds += delivered - started - refillTime
        // Usually done already: the completion ran the driver on this thread.
        // Drivers also drop URBs on bad data (rtl8187: shorter than its
        // trailer), so "no change for a millisecond" settles it too.
        let deadline = HostClock.monotonicNanoseconds() + 50_000_000
        var lastCount = session.tap.heldCount
        var lastChange = HostClock.monotonicNanoseconds()
        while lastCount < expectedHeld {
            HostClock.sleep(seconds: 0.0001)
            let now = HostClock.monotonicNanoseconds()
            let count = session.tap.heldCount
            if count != lastCount {
                lastCount = count
                lastChange = now
            } else if now - lastChange > 1_000_000 || now > deadline {
                break
            }
        }
        let settled = HostClock.monotonicNanoseconds()
        counters.settleNanoseconds += settled - delivered
        FuzzFeedback.hit(.completionOutcome, UInt64(session.tap.heldCount) << 8 | UInt64(records.count))
        defer { counters.drainNanoseconds += HostClock.monotonicNanoseconds() - settled }
        return try drainCapture(inputHasCanary: inputHasCanary)
    }

    private func losesURB(_ record: ReceiveCompletionRecord) -> Bool {
        switch record.ending {
        case .failed, .overlong: return true
        case .deliveredUnpadded: return record.data.count < session.minimumTransferLength
        case .delivered, .deliveredOutOfOrder, .deliveredRaw: return false
        }
    }

    /// Writes the record's data (and the canary after it) into the URB's buffer.
    private func fill(_ request: USBRequest, with record: ReceiveCompletionRecord) -> USBCompletion {
        let buffer = request.bytes
        let padded = record.ending != .deliveredUnpadded && record.data.count < session.minimumTransferLength
        var data = padded ? session.completeShortTransfer(record.data[...]) : record.data
        if record.ending != .deliveredRaw { session.avoidKnownFindings(&data) }
        let count = min(data.count, buffer.count)
        if count > 0, let base = buffer.baseAddress {
            data.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: count) }
        }
        StaleDataCanary.fill(buffer, from: count)
        switch record.ending {
        case .delivered, .deliveredUnpadded, .deliveredRaw, .deliveredOutOfOrder: return .success(actualLength: count)
        case .overlong: return .success(actualLength: buffer.count + 1)
        case .failed(let errno): return .failure(errno, actualLength: count)
        }
    }

    private func drainCapture(inputHasCanary: Bool) throws -> String? {
        var captured = 0
        var finding: String?
        while try socketReadable(session.capture.socket) {
            let batch = try session.capture.receiveBatch()
            if batch == 0 { break }
            for index in 0..<batch {
                let frame = session.capture.frame(at: index).bytes
                captured += 1
                FuzzFeedback.hit(.capturedFrame, Self.frameFeature(frame))
                if finding == nil, !inputHasCanary, StaleDataCanary.occurs(in: frame) {
                    finding = "\(name): stale data past actual_length: a captured frame (\(frame.count) bytes) holds "
                        + "the canary the harness wrote beyond the transfer's end: the driver read past the data it was given"
                }
            }
        }
        counters.framesCaptured += captured
        FuzzFeedback.hit(.capturedCount, FuzzFeedback.sizeClass(captured))
        return finding
    }

    /// Radiotap presence word, flags, rate and the 802.11 frame's type byte
    /// and length class: what mac80211 made of the received data.
    static func frameFeature(_ frame: UnsafeRawBufferPointer) -> UInt64 {
        guard frame.count >= 8 else { return UInt64(frame.count) }
        let radiotapLength = Int(frame[2]) | Int(frame[3]) << 8
        let present = frame.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let frameControl: UInt64 = radiotapLength < frame.count ? UInt64(frame[radiotapLength]) : 0xFFFF
        let flags: UInt64 = frame.count > 8 && present & 0x2 != 0 ? UInt64(frame[8]) : 0
        return UInt64(present) ^ frameControl << 32 ^ flags << 40 ^ FuzzFeedback.sizeClass(frame.count - radiotapLength) << 48
    }

    /// ppoll with a zero timeout: whether a receive would not block.
    private func socketReadable(_ socket: KernelSocket) throws -> Bool {
        var pollDescriptor: (Int32, Int16, Int16) = (Int32(socket.descriptor), 1 /* POLLIN */, 0)
        var timeout: (Int, Int) = (0, 0)
        let result = withUnsafeMutablePointer(to: &pollDescriptor) { descriptor in
            withUnsafeMutablePointer(to: &timeout) { zero in
                socket.kernel.syscall(
                    Int(LKL__NR_ppoll), Int(bitPattern: UnsafeMutableRawPointer(descriptor)), 1,
                    Int(bitPattern: UnsafeMutableRawPointer(zero)), 0, 0)
            }
        }
        guard result >= 0 else {
            throw KernelError.syscall(name: "ppoll on the capture socket", errno: Errno(rawValue: Int32(-result)))
        }
        return result > 0
    }

    /// rtw88 resubmits from a work item when an atomic allocation failed:
    /// URBs away for a moment are not lost.
    private func waitForResubmission() -> Bool {
        let deadline = HostClock.monotonicNanoseconds() + 200_000_000
        while session.tap.heldCount == 0 {
            guard HostClock.monotonicNanoseconds() < deadline else { return false }
            HostClock.sleep(seconds: 0.0005)
        }
        return true
    }

    /// Errors used up the driver's receive URBs: get a full set back.
    private func refillPool() throws {
        counters.refills += 1
        watchdog.progress("\(name): refilling the receive URB pool")
        switch refill {
        case .restartInterface:
            let radio = session.radio
            try radio.control.setLinkUp(radio.monitorInterface, up: false)
            try radio.control.setLinkUp(radio.monitorInterface, up: true)
            // The old socket saw the interface go down (ENETDOWN): a new one.
            session = try ReceiveFuzzSession(
                radio: radio, tap: session.tap, poolSize: session.poolSize, minimumTransferLength: session.minimumTransferLength,
                completeShortTransfer: session.completeShortTransfer, avoidKnownFindings: session.avoidKnownFindings)
        case .replug:
            session.radio.shutdown()
            session = try openSession()
        }
        try waitForPool(session.poolSize, seconds: 10)
    }

    private func waitForPool(_ count: Int, seconds: Double) throws {
        let deadline = HostClock.monotonicNanoseconds() + UInt64(seconds * 1e9)
        while session.tap.heldCount < count {
            guard HostClock.monotonicNanoseconds() < deadline else {
                throw FuzzHarnessError.poolNotRefilled(
                    target: name, held: session.tap.heldCount, expected: count, log: KernelConsole.logTail)
            }
            HostClock.sleep(seconds: 0.001)
        }
    }
}
