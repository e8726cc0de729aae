// SPDX-License-Identifier: GPL-2.0-only

public enum CaptureFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case notACaptureFile(firstBytes: [UInt8])
    case truncated(what: String, offset: Int)
    case malformed(String)

    public var description: String {
        switch self {
        case .notACaptureFile(let firstBytes):
            let hex = firstBytes.map { String($0, radix: 16) }.joined(separator: " ")
            return "not a pcap or pcapng file (starts with \(hex)); save captures as pcap or pcapng"
        case .truncated(let what, let offset):
            return "capture file ends inside \(what) at byte \(offset) (file cut short?)"
        case .malformed(let what):
            return "malformed capture file: \(what)"
        }
    }
}

public struct CaptureInterfaceDescription: Sendable, Equatable {
    public var linkType: UInt16
    public var snapLength: UInt32
    public var name: String?
    public var description: String?
    /// Timestamp units per second (1e6 unless if_tsresol says otherwise).
    public var unitsPerSecond: UInt64 = 1_000_000
}

public struct CapturedPacket: Sendable, Equatable {
    public var interfaceIndex: Int
    public var linkType: UInt16
    public var data: [UInt8]
    public var originalLength: Int
    public var timestampNanoseconds: UInt64

    public var isTruncated: Bool { data.count < originalLength }

    public init(interfaceIndex: Int, linkType: UInt16, data: [UInt8], originalLength: Int, timestampNanoseconds: UInt64) {
        self.interfaceIndex = interfaceIndex
        self.linkType = linkType
        self.data = data
        self.originalLength = originalLength
        self.timestampNanoseconds = timestampNanoseconds
    }
}

/// An interface statistics block (only the fields airtap writes).
public struct CapturedStatistics: Sendable, Equatable {
    public var interfaceIndex: Int
    public var received: UInt64?
    public var osDropped: UInt64?
    public var delivered: UInt64?
    /// The block's timestamp: when the interface's capture ended.
    public var endNanoseconds: UInt64?

    public init(
        interfaceIndex: Int, received: UInt64?, osDropped: UInt64?, delivered: UInt64?, endNanoseconds: UInt64? = nil
    ) {
        self.interfaceIndex = interfaceIndex
        self.received = received
        self.osDropped = osDropped
        self.delivered = delivered
        self.endNanoseconds = endNanoseconds
    }
}

/// A whole capture file read into memory.
public struct CaptureFile: Sendable, Equatable {
    public enum Format: Sendable, Equatable { case pcap, pcapng }

    public var format: Format
    public var interfaces: [CaptureInterfaceDescription] = []
    public var packets: [CapturedPacket] = []
    public var statistics: [CapturedStatistics] = []
    public var userApplication: String?

    public init(format: Format) { self.format = format }

    /// Reads a pcap (microsecond or nanosecond, either byte order) or pcapng file.
    public init(parsing bytes: [UInt8]) throws {
        guard bytes.count >= 4 else { throw CaptureFileError.notACaptureFile(firstBytes: bytes) }
        let magicLE = ByteReader(bytes: bytes, littleEndian: true).u32(0)
        switch magicLE {
        case PcapNG.sectionHeaderType:
            self = try Self.parsePcapNG(bytes)
        case 0xA1B2_C3D4, 0xA1B2_3C4D, 0xD4C3_B2A1, 0x4D3C_B2A1:
            self = try Self.parsePcap(bytes)
        default:
            throw CaptureFileError.notACaptureFile(firstBytes: Array(bytes.prefix(8)))
        }
    }

    static func parsePcap(_ bytes: [UInt8]) throws -> CaptureFile {
        guard bytes.count >= 24 else { throw CaptureFileError.truncated(what: "the pcap file header", offset: bytes.count) }
        let little = ByteReader(bytes: bytes, littleEndian: true).u32(0)
        let isLittleEndian = little == 0xA1B2_C3D4 || little == 0xA1B2_3C4D
        let reader = ByteReader(bytes: bytes, littleEndian: isLittleEndian)
        let nanosecond = reader.u32(0) == 0xA1B2_3C4D
        var file = CaptureFile(format: .pcap)
        let linkType = UInt16(truncatingIfNeeded: reader.u32(20))
        file.interfaces = [
            CaptureInterfaceDescription(
                linkType: linkType, snapLength: reader.u32(16), unitsPerSecond: nanosecond ? 1_000_000_000 : 1_000_000)
        ]
        var offset = 24
        while offset < bytes.count {
            guard offset + 16 <= bytes.count else { throw CaptureFileError.truncated(what: "a pcap record header", offset: offset) }
            let seconds = UInt64(reader.u32(offset))
            let fraction = UInt64(reader.u32(offset + 4))
            let captured = Int(reader.u32(offset + 8))
            let original = Int(reader.u32(offset + 12))
            guard offset + 16 + captured <= bytes.count else {
                throw CaptureFileError.truncated(what: "a pcap record of \(captured) bytes", offset: offset)
            }
            file.packets.append(
                CapturedPacket(
                    interfaceIndex: 0, linkType: linkType, data: Array(bytes[(offset + 16)..<(offset + 16 + captured)]),
                    originalLength: original,
                    timestampNanoseconds: seconds * 1_000_000_000 + fraction * (nanosecond ? 1 : 1000)))
            offset += 16 + captured
        }
        return file
    }

    static func parsePcapNG(_ bytes: [UInt8]) throws -> CaptureFile {
        var file = CaptureFile(format: .pcapng)
        var reader = ByteReader(bytes: bytes, littleEndian: true)
        var offset = 0
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw CaptureFileError.truncated(what: "a block header", offset: offset) }
            let type = reader.u32(offset)
            if type == PcapNG.sectionHeaderType {
                // Each section declares its own byte order.
                guard offset + 12 <= bytes.count else { throw CaptureFileError.truncated(what: "a section header", offset: offset) }
                let magicLE = ByteReader(bytes: bytes, littleEndian: true).u32(offset + 8)
                guard magicLE == PcapNG.byteOrderMagic || magicLE == PcapNG.byteOrderMagic.byteSwapped else {
                    throw CaptureFileError.malformed("bad byte-order magic in the section header at byte \(offset)")
                }
                reader = ByteReader(bytes: bytes, littleEndian: magicLE == PcapNG.byteOrderMagic)
                file.interfaces = []
            }
            let length = Int(reader.u32(offset + 4))
            guard length >= 12, length % 4 == 0 else {
                throw CaptureFileError.malformed("block at byte \(offset) has impossible length \(length)")
            }
            guard offset + length <= bytes.count else {
                throw CaptureFileError.truncated(what: "a block of \(length) bytes", offset: offset)
            }
            guard reader.u32(offset + length - 4) == UInt32(length) else {
                throw CaptureFileError.malformed("block at byte \(offset): trailing length differs from \(length)")
            }
            let body = (offset + 8)..<(offset + length - 4)
            switch type {
            case PcapNG.sectionHeaderType:
                for option in try reader.options(in: (body.lowerBound + 16)..<body.upperBound)
                where option.code == PcapNG.sectionUserApplication {
                    file.userApplication = String(decoding: option.value, as: UTF8.self)
                }
            case PcapNG.interfaceDescriptionType:
                guard body.count >= 8 else { throw CaptureFileError.malformed("interface description at \(offset) too short") }
                var interface = CaptureInterfaceDescription(
                    linkType: reader.u16(body.lowerBound), snapLength: reader.u32(body.lowerBound + 4))
                for option in try reader.options(in: (body.lowerBound + 8)..<body.upperBound) {
                    switch option.code {
                    case PcapNG.interfaceName: interface.name = String(decoding: option.value, as: UTF8.self)
                    case PcapNG.interfaceDescription: interface.description = String(decoding: option.value, as: UTF8.self)
                    case PcapNG.interfaceTimestampResolution:
                        guard let resolution = option.value.first else { break }
                        let exponent = UInt64(resolution & 0x7F)
                        interface.unitsPerSecond = resolution & 0x80 != 0 ? (1 << exponent) : power(10, exponent)
                    default: break
                    }
                }
                file.interfaces.append(interface)
            case PcapNG.enhancedPacketType:
                guard body.count >= 20 else { throw CaptureFileError.malformed("enhanced packet block at \(offset) too short") }
                let interfaceIndex = Int(reader.u32(body.lowerBound))
                guard interfaceIndex < file.interfaces.count else {
                    throw CaptureFileError.malformed("packet at byte \(offset) names interface \(interfaceIndex), which was not described")
                }
                let interface = file.interfaces[interfaceIndex]
                let units = UInt64(reader.u32(body.lowerBound + 4)) << 32 | UInt64(reader.u32(body.lowerBound + 8))
                let captured = Int(reader.u32(body.lowerBound + 12))
                let original = Int(reader.u32(body.lowerBound + 16))
                let dataStart = body.lowerBound + 20
                guard dataStart + captured <= body.upperBound else {
                    throw CaptureFileError.malformed("packet at byte \(offset) claims \(captured) bytes, more than its block")
                }
                file.packets.append(
                    CapturedPacket(
                        interfaceIndex: interfaceIndex, linkType: interface.linkType,
                        data: Array(bytes[dataStart..<(dataStart + captured)]), originalLength: original,
                        timestampNanoseconds: scaleToNanoseconds(units, unitsPerSecond: interface.unitsPerSecond)))
            case PcapNG.simplePacketType:
                guard let interface = file.interfaces.first, body.count >= 4 else { break }
                let original = Int(reader.u32(body.lowerBound))
                let captured = min(original, body.count - 4)
                file.packets.append(
                    CapturedPacket(
                        interfaceIndex: 0, linkType: interface.linkType,
                        data: Array(bytes[(body.lowerBound + 4)..<(body.lowerBound + 4 + captured)]),
                        originalLength: original, timestampNanoseconds: 0))
            case PcapNG.interfaceStatisticsType:
                guard body.count >= 12 else { break }
                var statistics = CapturedStatistics(interfaceIndex: Int(reader.u32(body.lowerBound)))
                if statistics.interfaceIndex < file.interfaces.count {
                    let units = UInt64(reader.u32(body.lowerBound + 4)) << 32 | UInt64(reader.u32(body.lowerBound + 8))
                    statistics.endNanoseconds = scaleToNanoseconds(
                        units, unitsPerSecond: file.interfaces[statistics.interfaceIndex].unitsPerSecond)
                }
                for option in try reader.options(in: (body.lowerBound + 12)..<body.upperBound) where option.value.count == 8 {
                    let value = ByteReader(bytes: option.value, littleEndian: reader.littleEndian).u64(0)
                    switch option.code {
                    case PcapNG.statisticsInterfaceReceived: statistics.received = value
                    case PcapNG.statisticsOSDropped: statistics.osDropped = value
                    case PcapNG.statisticsUserDelivered: statistics.delivered = value
                    default: break
                    }
                }
                file.statistics.append(statistics)
            default:
                break  // Blocks we do not need (name resolution, custom) are skipped.
            }
            offset += length
        }
        return file
    }

    static func power(_ base: UInt64, _ exponent: UInt64) -> UInt64 {
        (0..<exponent).reduce(1) { result, _ in result &* base }
    }

    static func scaleToNanoseconds(_ units: UInt64, unitsPerSecond: UInt64) -> UInt64 {
        guard unitsPerSecond != 1_000_000_000 else { return units }
        let seconds = units / unitsPerSecond
        let remainder = units % unitsPerSecond
        return seconds &* 1_000_000_000 &+ remainder &* 1_000_000_000 / unitsPerSecond
    }
}

extension CapturedStatistics {
    init(interfaceIndex: Int) {
        self.init(interfaceIndex: interfaceIndex, received: nil, osDropped: nil, delivered: nil)
    }
}

struct ByteReader {
    let bytes: [UInt8]
    let littleEndian: Bool

    func u16(_ at: Int) -> UInt16 {
        let value = UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
        return littleEndian ? value : value.byteSwapped
    }

    func u32(_ at: Int) -> UInt32 {
        let value = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        return littleEndian ? value : value.byteSwapped
    }

    func u64(_ at: Int) -> UInt64 {
        littleEndian
            ? UInt64(u32(at)) | UInt64(u32(at + 4)) << 32
            : UInt64(u32(at)) << 32 | UInt64(u32(at + 4))
    }

    struct Option {
        var code: UInt16
        var value: [UInt8]
    }

    func options(in range: Range<Int>) throws -> [Option] {
        var options: [Option] = []
        var offset = range.lowerBound
        while offset + 4 <= range.upperBound {
            let code = u16(offset)
            let length = Int(u16(offset + 2))
            if code == PcapNG.optionEnd { break }
            guard offset + 4 + length <= range.upperBound else {
                throw CaptureFileError.malformed("option \(code) at byte \(offset) runs past its block")
            }
            options.append(Option(code: code, value: Array(bytes[(offset + 4)..<(offset + 4 + length)])))
            offset += 4 + ((length + 3) & ~3)
        }
        return options
    }
}
