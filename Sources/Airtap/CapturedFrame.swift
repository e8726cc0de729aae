// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Wireless

/// One frame as the radio captured it: mac80211's radiotap header, then
/// the 802.11 frame.
public struct CapturedFrame: Sendable, Equatable {
    /// Radiotap header + 802.11 frame (with its FCS when the radiotap Flags
    /// say so), as captured.
    public let bytes: [UInt8]
    /// The frame's length on the air; more than `bytes.count` if it was cut.
    public let originalLength: Int
    /// Host wall-clock time (CLOCK_REALTIME) the frame was received, in
    /// nanoseconds since 1970-01-01 UTC.
    public let timestampNanoseconds: UInt64
    /// The parsed radiotap header; nil if it did not parse.
    public let radiotap: RadiotapHeader?

    public init(bytes: [UInt8], originalLength: Int? = nil, timestampNanoseconds: UInt64) {
        self.bytes = bytes
        self.originalLength = originalLength ?? bytes.count
        self.timestampNanoseconds = timestampNanoseconds
        radiotap = try? RadiotapHeader.parse(bytes)
    }

    /// `timestampNanoseconds` as a duration since the Unix epoch.
    public var timestamp: Duration { .nanoseconds(Int64(clamping: timestampNanoseconds)) }

    /// The 802.11 frame after the radiotap header.
    public var ieee80211: ArraySlice<UInt8> { bytes[min(radiotap?.length ?? 0, bytes.count)...] }

    /// Centre frequency the frame was received on (radiotap Channel).
    public var frequencyMHz: Int? { radiotap?.channelFrequency.map(Int.init) }

    /// Channel number of `frequencyMHz` (1-14, 36, ..., 6 GHz numbers).
    public var channel: Int? { frequencyMHz.flatMap(ChannelPlan.channel(forFrequency:)) }

    /// Received signal in dBm (radiotap Antenna signal).
    public var signalDBm: Int? { radiotap?.antennaSignalDBm.map(Int.init) }

    /// Legacy rate in Mb/s (nil for HT/VHT frames, which have `rate`).
    public var rateMbps: Double? { radiotap?.rateMbps }

    /// "54 Mb/s", "MCS 7 40MHz SGI", "VHT MCS 9 NSS 2".
    public var rate: String? { radiotap?.rateDescription }

    /// The FCS was checked and is wrong (only passed with the fcsFail monitor flag).
    public var hasBadFCS: Bool { radiotap?.flags?.contains(.badFCS) ?? false }
}

/// The frames of one capture, in the order they were received. Iterate it
/// once: leaving the loop (or cancelling its task) ends the capture. It
/// finishes when the radio is closed, and throws `RadioError.removed` if
/// the device goes away.
public struct CapturedFrames: AsyncSequence, Sendable {
    public typealias Element = CapturedFrame
    public typealias Failure = any Error

    let stream: AsyncThrowingStream<CapturedFrame, any Error>
    let session: CaptureSession

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: stream.makeAsyncIterator(), lifetime: IterationLifetime(session: session))
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<CapturedFrame, any Error>.Iterator
        let lifetime: IterationLifetime

        public mutating func next() async throws -> CapturedFrame? {
            try await base.next()
        }
    }
}

/// Ends the capture when its iterator goes away (a `break` out of the
/// loop), even while someone still holds the sequence.
final class IterationLifetime: Sendable {
    let session: CaptureSession

    init(session: CaptureSession) { self.session = session }

    deinit { session.stopRequested.store(true, ordering: .releasing) }
}
