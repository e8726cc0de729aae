// SPDX-License-Identifier: GPL-2.0-only

import Capture

/// Where the capture loop (`CaptureRun`) puts frames: a pcapng file, a host
/// TAP interface (`airtap bridge`), or a library client's async sequence.
/// One loop serves them all; only the destination differs.
public protocol CapturedFrameSink {
    /// One frame as captured (radiotap + 802.11), valid only during the call.
    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int?, timestampNanoseconds: UInt64) throws
    /// Called after every batch that emptied the socket, and at least every
    /// `CaptureRun.flushIntervalSeconds`.
    func flush() throws
    /// The kernel's counters, once, when the capture ends.
    func writeStatistics(_ statistics: InterfaceStatistics) throws
    /// The end of the capture (also after an error).
    func close() throws
}

extension PcapNGWriter: CapturedFrameSink {}
