// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization

/// One frame on the simulated air.
public struct AirFrame: Sendable, Equatable {
    public var channel: AirChannel
    /// The 802.11 MPDU without FCS (receivers append a real CRC-32).
    public var frame: [UInt8]
    public var rate: AirRate
    /// Signal at the receiver, dBm.
    public var signalDBm: Int
    public var shortPreamble: Bool
    /// Sent with a wrong FCS (heard only by receivers that keep bad frames).
    public var corruptFCS: Bool

    public init(
        channel: AirChannel, frame: [UInt8], rate: AirRate, signalDBm: Int, shortPreamble: Bool = false,
        corruptFCS: Bool = false
    ) {
        self.channel = channel
        self.frame = frame
        self.rate = rate
        self.signalDBm = signalDBm
        self.shortPreamble = shortPreamble
        self.corruptFCS = corruptFCS
    }

    /// Frame type (0 management, 1 control, 2 data).
    public var frameType: UInt8 { frame.isEmpty ? 0 : (frame[0] >> 2) & 0x3 }
    public var frameSubtype: UInt8 { frame.isEmpty ? 0 : frame[0] >> 4 }
    /// Address 1 (nil: the frame is too short to have one).
    public var receiverAddress: ArraySlice<UInt8>? { frame.count >= 10 ? frame[4..<10] : nil }
    public var transmitterAddress: ArraySlice<UInt8>? { frame.count >= 16 ? frame[10..<16] : nil }
}

/// How a receiver treats a frame it cannot take at once.
public enum AirDelivery: Sendable {
    /// Scripted frames (tests): the receiver keeps them until the driver has
    /// room, so none on its channel is lost.
    case reliable
    /// Live traffic: a frame the receiver has no room for is lost, as when
    /// a chip's FIFO overflows.
    case live
}

/// Anything on the air that hears frames: an emulated adapter's PHY front
/// end, or the air's own stations (access points answer probe requests).
public protocol AirListener: AnyObject, Sendable {
    /// Frames someone else sent, in order. The listener decides which it
    /// hears (tuned channel, receiver on, filters). Runs on the sender's
    /// thread, possibly in kernel context: it must not block or call the kernel.
    func hear(_ frames: [AirFrame], delivery: AirDelivery)
}

/// The medium every emulated adapter shares: what one transmits, every
/// other listener hears (and keeps if tuned there). Driver-independent:
/// models translate between it and their chip's RX/TX formats.
public final class SimulatedAir: Sendable {
    private struct Entry {
        weak var listener: (any AirListener)?
        let id: Int
    }

    private let listeners = HostMutex<[Entry]>([])
    /// `listeners.count`, readable without the lock.
    private let memberCount = Atomic<Int>(0)
    private let nextID = Atomic<Int>(1)
    private let sent = Atomic<Int>(0)

    public init() {}

    /// Joins the air; returns an id for `leave`.
    @discardableResult
    public func join(_ listener: any AirListener) -> Int {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        listeners.withLock { entries in
            entries.append(Entry(listener: listener, id: id))
            memberCount.store(entries.count, ordering: .relaxed)
        }
        return id
    }

    public func leave(_ id: Int) {
        listeners.withLock { entries in
            entries.removeAll { $0.id == id || $0.listener == nil }
            memberCount.store(entries.count, ordering: .relaxed)
        }
    }

    /// Whether more than one listener has joined: what a member sends would
    /// reach someone. Models skip building air frames when it is false
    /// (a lone adapter injecting, as in the benchmarks).
    public var hasOtherMembers: Bool { memberCount.load(ordering: .relaxed) > 1 }

    /// Frames sent on the air so far.
    public var framesSent: Int { sent.load(ordering: .relaxed) }

    /// Sends frames, in order, to every listener but `sender`. Call without
    /// holding any lock a listener's `hear` could need (its own model lock).
    public func transmit(_ frames: [AirFrame], delivery: AirDelivery, from sender: (any AirListener)? = nil) {
        guard !frames.isEmpty else { return }
        // A copy of the array (a retain), not a new one per transmission.
        let entries = listeners.withLock { $0 }
        sent.add(frames.count, ordering: .relaxed)
        for entry in entries {
            guard let target = entry.listener, target !== sender else { continue }
            target.hear(frames, delivery: delivery)
        }
    }

    /// One air per process unless a test wants its own: every emulated
    /// adapter opened by name joins this one, so adapters hear each other.
    public static let shared = SimulatedAir()
}
