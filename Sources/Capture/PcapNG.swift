// SPDX-License-Identifier: GPL-2.0-only

/// pcapng (draft-ietf-opsawg-pcapng): written in host byte order
/// (little-endian), read in either.
public enum PcapNG {
    public static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    public static let interfaceDescriptionType: UInt32 = 0x0000_0001
    public static let simplePacketType: UInt32 = 0x0000_0003
    public static let interfaceStatisticsType: UInt32 = 0x0000_0005
    public static let enhancedPacketType: UInt32 = 0x0000_0006
    public static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    public static let optionEnd: UInt16 = 0
    public static let optionComment: UInt16 = 1
    public static let sectionUserApplication: UInt16 = 4
    public static let interfaceName: UInt16 = 2
    public static let interfaceDescription: UInt16 = 3
    public static let interfaceTimestampResolution: UInt16 = 9
    public static let statisticsStartTime: UInt16 = 2
    public static let statisticsEndTime: UInt16 = 3
    public static let statisticsInterfaceReceived: UInt16 = 4
    public static let statisticsInterfaceDropped: UInt16 = 5
    public static let statisticsOSDropped: UInt16 = 7
    public static let statisticsUserDelivered: UInt16 = 8
}

/// Link types (https://www.tcpdump.org/linktypes.html).
public enum LinkType {
    public static let ethernet: UInt16 = 1
    public static let ieee80211: UInt16 = 105
    public static let ieee80211Radiotap: UInt16 = 127
}

/// Where a capture file's bytes go.
public protocol CaptureOutput: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func flush() throws
    func close() throws
}

/// Collects output in memory (tests, benchmarks).
public final class MemoryCaptureOutput: CaptureOutput {
    public private(set) var bytes: [UInt8] = []
    /// With `keepBytes: false` only the count is kept (benchmarks).
    public private(set) var byteCount = 0
    let keepBytes: Bool

    public init(keepBytes: Bool = true) { self.keepBytes = keepBytes }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        byteCount += bytes.count
        if keepBytes { self.bytes.append(contentsOf: bytes) }
    }
    public func flush() throws {}
    public func close() throws {}
}

/// Statistics for the interface statistics block at the end of a capture.
public struct InterfaceStatistics: Sendable, Equatable {
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64
    /// Frames the kernel saw on the socket (delivered + dropped).
    public var received: UInt64
    /// Frames the kernel dropped because the socket buffer was full.
    public var osDropped: UInt64
    /// Frames written to the file.
    public var delivered: UInt64

    public init(startNanoseconds: UInt64, endNanoseconds: UInt64, received: UInt64, osDropped: UInt64, delivered: UInt64) {
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
        self.received = received
        self.osDropped = osDropped
        self.delivered = delivered
    }
}

/// Writes one pcapng section with one interface (or several: one per
/// device of a capture), buffering blocks and handing them to `output` in
/// chunks.
public final class PcapNGWriter: CaptureFileWriter {
    public let output: CaptureOutput
    public let timestampPrecision: TimestampPrecision
    private var buffer: [UInt8] = []
    private let flushThreshold: Int
    public private(set) var packetCount: UInt64 = 0
    public private(set) var closed = false
    /// Bytes handed to `output` so far (for ring buffers' size limit).
    public private(set) var bytesWritten: UInt64 = 0
    /// Bytes written and buffered: the file's size once flushed.
    public var fileSize: UInt64 { bytesWritten + UInt64(buffer.count) }
    /// Interface description blocks written (packets name one of them).
    public let interfaceCount: Int

    /// Writes the section header and the interface description:
    /// `linkType` (127 = radiotap), timestamps in `timestampPrecision`
    /// (if_tsresol 6 or 9; `airtap capture` writes microseconds as dumpcap does).
    /// `additionalInterfaces` become interfaces 1, 2, ... with the same link
    /// type and precision.
    public init(
        output: CaptureOutput, linkType: UInt16 = LinkType.ieee80211Radiotap, snapLength: UInt32 = 0,
        interfaceName: String, interfaceDescription: String, application: String = "airtap",
        flushThreshold: Int = 256 * 1024, timestampPrecision: TimestampPrecision = .nano,
        additionalInterfaces: [CaptureInterface] = []
    ) throws {
        self.output = output
        self.flushThreshold = flushThreshold
        self.timestampPrecision = timestampPrecision
        interfaceCount = 1 + additionalInterfaces.count
        buffer.reserveCapacity(flushThreshold + 4096)

        var sectionOptions = OptionWriter()
        sectionOptions.append(PcapNG.sectionUserApplication, string: application)
        var section: [UInt8] = []
        section.appendLittleEndian(PcapNG.byteOrderMagic)
        section.appendLittleEndian(UInt16(1))  // major
        section.appendLittleEndian(UInt16(0))  // minor
        section.appendLittleEndian(UInt64.max)  // section length unknown (-1)
        appendBlock(type: PcapNG.sectionHeaderType, body: section + sectionOptions.finished)

        let interfaces = [CaptureInterface(name: interfaceName, description: interfaceDescription)] + additionalInterfaces
        for described in interfaces {
            var interfaceOptions = OptionWriter()
            interfaceOptions.append(PcapNG.interfaceName, string: described.name)
            interfaceOptions.append(PcapNG.interfaceDescription, string: described.description)
            interfaceOptions.append(PcapNG.interfaceTimestampResolution, bytes: [timestampPrecision.pcapngResolution])
            var interface: [UInt8] = []
            interface.appendLittleEndian(linkType)
            interface.appendLittleEndian(UInt16(0))
            interface.appendLittleEndian(snapLength)
            appendBlock(type: PcapNG.interfaceDescriptionType, body: interface + interfaceOptions.finished)
        }
        try flush()
    }

    /// Appends one enhanced packet block (interface 0).
    public func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        try writePacket(data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds, interface: 0)
    }

    /// Appends one enhanced packet block of interface `interface`.
    public func writePacket(
        _ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64, interface: Int
    ) throws {
        precondition(interface >= 0 && interface < interfaceCount, "interface \(interface) of \(interfaceCount) written")
        let padded = (data.count + 3) & ~3
        let totalLength = 32 + padded
        let units = timestampPrecision.units(fromNanoseconds: timestampNanoseconds)
        buffer.appendLittleEndian(PcapNG.enhancedPacketType)
        buffer.appendLittleEndian(UInt32(totalLength))
        buffer.appendLittleEndian(UInt32(interface))
        buffer.appendLittleEndian(UInt32(truncatingIfNeeded: units >> 32))
        buffer.appendLittleEndian(UInt32(truncatingIfNeeded: units))
        buffer.appendLittleEndian(UInt32(data.count))
        buffer.appendLittleEndian(UInt32(originalLength))
        buffer.append(contentsOf: data)
        for _ in data.count..<padded { buffer.append(0) }
        buffer.appendLittleEndian(UInt32(totalLength))
        packetCount += 1
        if buffer.count >= flushThreshold { try flush() }
    }

    public func writePacket(_ data: [UInt8], timestampNanoseconds: UInt64) throws {
        try data.withUnsafeBytes { try writePacket($0, originalLength: data.count, timestampNanoseconds: timestampNanoseconds) }
    }

    /// Appends the interface statistics block (what the kernel counted).
    /// Its times are in the interface's units, as packet timestamps are.
    public func writeStatistics(_ statistics: InterfaceStatistics) throws {
        try writeStatistics(statistics, interface: 0)
    }

    /// Appends the statistics block of interface `interface`.
    public func writeStatistics(_ statistics: InterfaceStatistics, interface: Int) throws {
        precondition(interface >= 0 && interface < interfaceCount, "statistics of interface \(interface) of \(interfaceCount)")
        let start = timestampPrecision.units(fromNanoseconds: statistics.startNanoseconds)
        let end = timestampPrecision.units(fromNanoseconds: statistics.endNanoseconds)
        var options = OptionWriter()
        options.append(PcapNG.statisticsStartTime, timestamp: start)
        options.append(PcapNG.statisticsEndTime, timestamp: end)
        options.append(PcapNG.statisticsInterfaceReceived, u64: statistics.received)
        options.append(PcapNG.statisticsOSDropped, u64: statistics.osDropped)
        options.append(PcapNG.statisticsUserDelivered, u64: statistics.delivered)
        var body: [UInt8] = []
        body.appendLittleEndian(UInt32(interface))
        body.appendLittleEndian(UInt32(truncatingIfNeeded: end >> 32))
        body.appendLittleEndian(UInt32(truncatingIfNeeded: end))
        appendBlock(type: PcapNG.interfaceStatisticsType, body: body + options.finished)
        try flush()
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try output.write($0) }
        bytesWritten += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
        try output.flush()
    }

    /// Flushes and closes the output; later calls do nothing.
    public func close() throws {
        guard !closed else { return }
        closed = true
        try flush()
        try output.close()
    }

    private func appendBlock(type: UInt32, body: [UInt8]) {
        let totalLength = UInt32(12 + body.count)
        buffer.appendLittleEndian(type)
        buffer.appendLittleEndian(totalLength)
        buffer += body
        buffer.appendLittleEndian(totalLength)
    }
}

/// pcapng options: code, length, value padded to 4, then opt_endofopt.
struct OptionWriter {
    private var bytes: [UInt8] = []

    mutating func append(_ code: UInt16, bytes value: [UInt8]) {
        bytes.appendLittleEndian(code)
        bytes.appendLittleEndian(UInt16(value.count))
        bytes += value
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    mutating func append(_ code: UInt16, string: String) { append(code, bytes: Array(string.utf8)) }

    mutating func append(_ code: UInt16, u64 value: UInt64) {
        append(code, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    /// Timestamps in options are two 32-bit words, high first.
    mutating func append(_ code: UInt16, timestamp: UInt64) {
        var value: [UInt8] = []
        value.appendLittleEndian(UInt32(truncatingIfNeeded: timestamp >> 32))
        value.appendLittleEndian(UInt32(truncatingIfNeeded: timestamp))
        append(code, bytes: value)
    }

    var finished: [UInt8] {
        var result = bytes
        result.appendLittleEndian(PcapNG.optionEnd)
        result.appendLittleEndian(UInt16(0))
        return result
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
