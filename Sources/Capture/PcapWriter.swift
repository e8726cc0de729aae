// SPDX-License-Identifier: GPL-2.0-only

/// Classic libpcap files (`-F pcap`): a 24-byte file header, then one
/// 16-byte record header per frame. Host byte order (little-endian), as
/// libpcap writes; the magic number says whether the fraction of a second
/// is in microseconds (0xA1B2C3D4) or nanoseconds (0xA1B23C4D).
public final class PcapWriter: CaptureFileWriter {
    public static let microsecondMagic: UInt32 = 0xA1B2_C3D4
    public static let nanosecondMagic: UInt32 = 0xA1B2_3C4D

    public let output: CaptureOutput
    public let timestampPrecision: TimestampPrecision
    public let snapLength: UInt32
    private var buffer: [UInt8] = []
    private let flushThreshold: Int
    public private(set) var packetCount: UInt64 = 0
    public private(set) var bytesWritten: UInt64 = 0
    public var fileSize: UInt64 { bytesWritten + UInt64(buffer.count) }
    private var closed = false

    public init(
        output: CaptureOutput, linkType: UInt16 = LinkType.ieee80211Radiotap,
        snapLength: UInt32 = UInt32(CaptureFilter.defaultSnapLength), timestampPrecision: TimestampPrecision = .micro,
        flushThreshold: Int = 256 * 1024
    ) throws {
        self.output = output
        self.timestampPrecision = timestampPrecision
        // Readers treat 0 as "no frames fit"; the file header needs a real limit.
        self.snapLength = snapLength == 0 ? UInt32(CaptureFilter.defaultSnapLength) : snapLength
        self.flushThreshold = flushThreshold
        buffer.reserveCapacity(flushThreshold + 4096)
        buffer.appendLittleEndian(timestampPrecision == .nano ? Self.nanosecondMagic : Self.microsecondMagic)
        buffer.appendLittleEndian(UInt16(2))  // version 2.4
        buffer.appendLittleEndian(UInt16(4))
        buffer.appendLittleEndian(Int32(0))  // thiszone: timestamps are UTC
        buffer.appendLittleEndian(UInt32(0))  // sigfigs
        buffer.appendLittleEndian(self.snapLength)
        buffer.appendLittleEndian(UInt32(linkType))
        try flush()
    }

    public func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        let captured = min(data.count, Int(snapLength))
        let seconds = timestampNanoseconds / 1_000_000_000
        let fraction = timestampPrecision.units(fromNanoseconds: timestampNanoseconds % 1_000_000_000)
        buffer.appendLittleEndian(UInt32(truncatingIfNeeded: seconds))
        buffer.appendLittleEndian(UInt32(truncatingIfNeeded: fraction))
        buffer.appendLittleEndian(UInt32(captured))
        buffer.appendLittleEndian(UInt32(originalLength))
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[0..<captured]))
        packetCount += 1
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Classic pcap has no statistics record: the counters go only to the
    /// summary airtap prints.
    public func writeStatistics(_ statistics: InterfaceStatistics) throws {}

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try output.write($0) }
        bytesWritten += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
        try output.flush()
    }

    public func close() throws {
        guard !closed else { return }
        closed = true
        try flush()
        try output.close()
    }
}
