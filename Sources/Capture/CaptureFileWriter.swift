// SPDX-License-Identifier: GPL-2.0-only

/// Timestamp units of a capture file, named as tcpdump's
/// `--time-stamp-precision` names them.
public enum TimestampPrecision: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Microseconds: what dumpcap and tcpdump write by default.
    case micro
    case nano

    public var unitsPerSecond: UInt64 { self == .micro ? 1_000_000 : 1_000_000_000 }
    /// pcapng's if_tsresol: the negative power of ten of a unit.
    public var pcapngResolution: UInt8 { self == .micro ? 6 : 9 }

    /// A nanosecond wall-clock time in this precision's units.
    public func units(fromNanoseconds nanoseconds: UInt64) -> UInt64 {
        self == .micro ? nanoseconds / 1000 : nanoseconds
    }

    public var description: String { rawValue }
}

/// Capture file formats (`-F`, dumpcap's names).
public enum CaptureFileFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case pcapng
    /// Classic libpcap format, for tools that read only it (aircrack-ng).
    case pcap

    public var fileExtension: String { rawValue }
    public var description: String { rawValue }
}

/// Where the capture loop (`CaptureRun`) puts frames: a capture file or
/// ring of them, a host TAP interface (`airtap bridge`), or a library
/// client's async sequence. One loop serves them all. Timestamps are
/// always handed over in nanoseconds.
public protocol CapturedFrameSink: AnyObject {
    /// One frame as captured (radiotap + 802.11), valid only during the call.
    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws
    /// A frame of interface `interface` (0, 1, ...: the devices of a capture
    /// of several, in order). Sinks of one interface ignore the number.
    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64, interface: Int) throws
    /// The closing counters (pcapng's interface statistics block; classic
    /// pcap has nowhere to put them).
    func writeStatistics(_ statistics: InterfaceStatistics) throws
    /// The closing counters of interface `interface`.
    func writeStatistics(_ statistics: InterfaceStatistics, interface: Int) throws
    /// Hands buffered frames on (live readers want them promptly): after
    /// every batch that emptied the socket, and at least every
    /// `CaptureRun.flushIntervalSeconds`.
    func flush() throws
    /// Time-based work between frames (a ring buffer's duration switch).
    func rotateIfDue() throws
    /// The end of the capture (also after an error); later calls do nothing.
    func close() throws
}

extension CapturedFrameSink {
    public func rotateIfDue() throws {}

    /// Sinks of one interface take every device's frames as their own.
    public func writePacket(
        _ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64, interface: Int
    ) throws {
        try writePacket(data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds)
    }

    public func writeStatistics(_ statistics: InterfaceStatistics, interface: Int) throws {
        try writeStatistics(statistics)
    }
}

/// One capture interface of a file (pcapng's interface description block):
/// a device's monitor interface when several devices share one capture.
public struct CaptureInterface: Sendable, Equatable {
    public var name: String
    public var description: String

    public init(name: String, description: String) {
        self.name = name
        self.description = description
    }
}

public enum CaptureFileHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    case pcapHoldsOneInterface(interfaces: Int)

    public var description: String {
        switch self {
        case .pcapHoldsOneInterface(let interfaces):
            return "classic pcap (-F pcap) holds one interface, but this capture has \(interfaces) devices; "
                + "write pcapng (the default, one interface per device) or capture each device into its own pcap file"
        }
    }
}

/// A sink that is one pcap or pcapng file, or a ring of them; the writer
/// stores timestamps in its file's precision.
public protocol CaptureFileWriter: CapturedFrameSink {
    /// Frames written so far (all files of a ring).
    var packetCount: UInt64 { get }
    /// Bytes of the file being written, buffered ones included.
    var fileSize: UInt64 { get }
}

/// How a capture file starts: what its header or first blocks record.
public struct CaptureFileHeader: Sendable, Equatable {
    public var format: CaptureFileFormat
    public var precision: TimestampPrecision
    public var linkType: UInt16
    /// 0 in pcapng means no limit; classic pcap needs a number.
    public var snapLength: UInt32
    public var interfaceName: String
    public var interfaceDescription: String
    /// Interfaces 1, 2, ... after the first (pcapng only): the other
    /// devices of a capture of several.
    public var additionalInterfaces: [CaptureInterface] = []

    public init(
        format: CaptureFileFormat = .pcapng, precision: TimestampPrecision = .micro,
        linkType: UInt16 = LinkType.ieee80211Radiotap, snapLength: UInt32 = UInt32(CaptureFilter.defaultSnapLength),
        interfaceName: String, interfaceDescription: String
    ) {
        self.format = format
        self.precision = precision
        self.linkType = linkType
        self.snapLength = snapLength
        self.interfaceName = interfaceName
        self.interfaceDescription = interfaceDescription
    }

    /// A writer of this header's format on `output`, its header written.
    public func makeWriter(on output: CaptureOutput) throws -> any CaptureFileWriter {
        switch format {
        case .pcapng:
            return try PcapNGWriter(
                output: output, linkType: linkType, snapLength: snapLength, interfaceName: interfaceName,
                interfaceDescription: interfaceDescription, timestampPrecision: precision,
                additionalInterfaces: additionalInterfaces)
        case .pcap:
            guard additionalInterfaces.isEmpty else {
                throw CaptureFileHeaderError.pcapHoldsOneInterface(interfaces: 1 + additionalInterfaces.count)
            }
            return try PcapWriter(output: output, linkType: linkType, snapLength: snapLength, timestampPrecision: precision)
        }
    }
}
