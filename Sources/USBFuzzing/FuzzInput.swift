// SPDX-License-Identifier: GPL-2.0-only

/// Reads a fuzz input front to back. Running out is never an error: every
/// byte string is a valid input, and what is missing reads as absent.
public struct FuzzInputReader {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        self.bytes = Array(bytes)
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    public mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uint16() -> UInt16? {
        guard let low = byte() else { return nil }
        guard let high = byte() else { return UInt16(low) }
        return UInt16(low) | UInt16(high) << 8
    }

    /// Up to `count` bytes (fewer at the end of the input).
    public mutating func take(_ count: Int) -> ArraySlice<UInt8> {
        let end = min(bytes.count, offset + max(count, 0))
        defer { offset = end }
        return bytes[offset..<end]
    }
}

/// The framing both input formats use: one byte of kind, a 16-bit
/// little-endian length, then that many bytes (fewer if the input ends).
public struct FuzzRecord: Sendable, Equatable {
    public var kind: UInt8
    public var data: [UInt8]

    public init(kind: UInt8, data: [UInt8]) {
        self.kind = kind
        self.data = data
    }

    public static func decodeAll(_ reader: inout FuzzInputReader, limit: Int) -> [FuzzRecord] {
        var records: [FuzzRecord] = []
        while records.count < limit, let kind = reader.byte() {
            let length = Int(reader.uint16() ?? 0)
            records.append(FuzzRecord(kind: kind, data: Array(reader.take(length))))
        }
        return records
    }

    public static func encode(_ records: [FuzzRecord]) -> [UInt8] {
        var bytes: [UInt8] = []
        for record in records {
            precondition(record.data.count <= Int(UInt16.max), "a fuzz record holds at most 65535 bytes")
            bytes.append(record.kind)
            bytes.append(UInt8(truncatingIfNeeded: record.data.count))
            bytes.append(UInt8(truncatingIfNeeded: record.data.count >> 8))
            bytes += record.data
        }
        return bytes
    }
}
