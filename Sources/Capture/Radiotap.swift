// SPDX-License-Identifier: GPL-2.0-only

/// Radiotap header parsing (https://www.radiotap.org): little-endian fields
/// in present-bit order, each aligned to its natural alignment measured from
/// the start of the header.

public enum RadiotapError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case unsupportedVersion(UInt8)
    case lengthOutOfRange(declared: Int, available: Int)
    case presentBitmapOverrun
    case fieldOverrun(field: Int)

    public var description: String {
        switch self {
        case .tooShort(let count):
            return "frame of \(count) bytes is too short for a radiotap header (needs at least 8)"
        case .unsupportedVersion(let version):
            return "radiotap version \(version) (only version 0 exists); the frame probably has no radiotap header"
        case .lengthOutOfRange(let declared, let available):
            return "radiotap header claims \(declared) bytes but the frame has \(available) (truncated or not radiotap)"
        case .presentBitmapOverrun:
            return "radiotap present bitmaps run past the header length"
        case .fieldOverrun(let field):
            return "radiotap field \(field) runs past the header length"
        }
    }
}

/// The radiotap fields airtap reads; absent fields are nil.
public struct RadiotapHeader: Sendable, Equatable {
    /// Total header length (`it_len`): the 802.11 frame starts here.
    public var length: Int
    /// All present words, in order (extended bitmaps included).
    public var presentWords: [UInt32] = []
    public var tsft: UInt64?
    public var flags: RadiotapFlags?
    /// Legacy rate in 500 kbit/s units.
    public var rate: UInt8?
    public var channelFrequency: UInt16?
    public var channelFlags: UInt16?
    public var antennaSignalDBm: Int8?
    public var antennaNoiseDBm: Int8?
    public var antenna: UInt8?
    public var rxFlags: UInt16?
    public var txFlags: UInt16?
    public var mcs: RadiotapMCS?
    public var vht: RadiotapVHT?

    public init(length: Int) { self.length = length }

    /// Legacy rate in Mbit/s (e.g. 5.5), if a rate field was present.
    public var rateMbps: Double? { rate.map { Double($0) / 2 } }

    /// Human-readable rate: "54 Mb/s", "MCS 7 40MHz SGI", "VHT MCS 9 NSS 2".
    public var rateDescription: String? {
        if let mcs { return mcs.description }
        if let vht { return vht.description }
        guard let rateMbps else { return nil }
        return rateMbps == rateMbps.rounded() ? "\(Int(rateMbps)) Mb/s" : "\(rateMbps) Mb/s"
    }

    /// Parses the radiotap header at the start of `bytes`.
    public static func parse(_ bytes: some RandomAccessCollection<UInt8>) throws -> RadiotapHeader {
        try Array(bytes).withUnsafeBytes { try parse(raw: $0) }
    }

    /// Field sizes and alignments of the radiotap namespace, by bit.
    static let fieldLayout: [Int: (alignment: Int, size: Int)] = [
        0: (8, 8), 1: (1, 1), 2: (1, 1), 3: (2, 4), 4: (2, 2), 5: (1, 1), 6: (1, 1), 7: (2, 2),
        8: (2, 2), 9: (2, 2), 10: (1, 1), 11: (1, 1), 12: (1, 1), 13: (1, 1), 14: (2, 2), 15: (2, 2),
        16: (1, 1), 17: (1, 1), 18: (4, 8), 19: (1, 3), 20: (4, 8), 21: (2, 12), 22: (8, 12),
        23: (2, 12), 24: (2, 12), 25: (2, 6), 26: (1, 1), 27: (2, 4),
    ]

    public static func parse(raw: UnsafeRawBufferPointer) throws -> RadiotapHeader {
        guard raw.count >= 8 else { throw RadiotapError.tooShort(raw.count) }
        guard raw[0] == 0 else { throw RadiotapError.unsupportedVersion(raw[0]) }
        let length = Int(raw[2]) | Int(raw[3]) << 8
        guard length >= 8, length <= raw.count else {
            throw RadiotapError.lengthOutOfRange(declared: length, available: raw.count)
        }
        var header = RadiotapHeader(length: length)
        func u16(_ at: Int) -> UInt16 { UInt16(raw[at]) | UInt16(raw[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }

        // Present words: each with bit 31 set announces another.
        var offset = 4
        repeat {
            guard offset + 4 <= length else { throw RadiotapError.presentBitmapOverrun }
            header.presentWords.append(u32(offset))
            offset += 4
        } while header.presentWords.last! & (1 << 31) != 0

        // Namespaces: words start in the radiotap namespace; bit 29 returns to
        // it for the next word, bit 30 switches to a vendor namespace whose
        // data (skip_length bytes) we step over.
        var inRadiotapNamespace = true
        var pendingVendorSkip = 0
        for word in header.presentWords {
            if !inRadiotapNamespace {
                offset += pendingVendorSkip
                pendingVendorSkip = 0
                guard offset <= length else { throw RadiotapError.fieldOverrun(field: 30) }
            }
            let wordIsRadiotap = inRadiotapNamespace
            for bit in 0..<29 where word & (1 << UInt32(bit)) != 0 {
                guard wordIsRadiotap else { continue }
                if bit == 28 { return header }  // TLVs to the end: nothing we need.
                guard let layout = fieldLayout[bit] else { return header }  // Unknown size: stop safely.
                offset = (offset + layout.alignment - 1) & ~(layout.alignment - 1)
                guard offset + layout.size <= length else { throw RadiotapError.fieldOverrun(field: bit) }
                switch bit {
                case 0: header.tsft = UInt64(u32(offset)) | UInt64(u32(offset + 4)) << 32
                case 1: header.flags = RadiotapFlags(rawValue: raw[offset])
                case 2: header.rate = raw[offset]
                case 3:
                    header.channelFrequency = u16(offset)
                    header.channelFlags = u16(offset + 2)
                case 5: header.antennaSignalDBm = Int8(bitPattern: raw[offset])
                case 6: header.antennaNoiseDBm = Int8(bitPattern: raw[offset])
                case 11: header.antenna = raw[offset]
                case 14: header.rxFlags = u16(offset)
                case 15: header.txFlags = u16(offset)
                case 19: header.mcs = RadiotapMCS(known: raw[offset], flags: raw[offset + 1], index: raw[offset + 2])
                case 21:
                    header.vht = RadiotapVHT(
                        known: u16(offset), flags: raw[offset + 2], bandwidth: raw[offset + 3],
                        mcsNSS: (raw[offset + 4], raw[offset + 5], raw[offset + 6], raw[offset + 7]))
                default: break
                }
                offset += layout.size
            }
            if word & (1 << 29) != 0 {
                inRadiotapNamespace = true
            } else if word & (1 << 30) != 0 {
                // Vendor namespace header: OUI[3], sub_namespace, skip_length (u16).
                offset = (offset + 1) & ~1
                guard offset + 6 <= length else { throw RadiotapError.fieldOverrun(field: 30) }
                pendingVendorSkip = Int(u16(offset + 4))
                offset += 6
                inRadiotapNamespace = false
            }
        }
        return header
    }
}

/// The radiotap Flags field.
public struct RadiotapFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let cfp = RadiotapFlags(rawValue: 0x01)
    public static let shortPreamble = RadiotapFlags(rawValue: 0x02)
    public static let wep = RadiotapFlags(rawValue: 0x04)
    public static let fragmented = RadiotapFlags(rawValue: 0x08)
    /// The frame ends with its 4-byte FCS.
    public static let fcsIncluded = RadiotapFlags(rawValue: 0x10)
    public static let dataPadding = RadiotapFlags(rawValue: 0x20)
    public static let badFCS = RadiotapFlags(rawValue: 0x40)
    public static let shortGuardInterval = RadiotapFlags(rawValue: 0x80)
}

/// The radiotap MCS field (802.11n).
public struct RadiotapMCS: Sendable, Equatable, CustomStringConvertible {
    public var known: UInt8
    public var flags: UInt8
    public var index: UInt8

    public init(known: UInt8, flags: UInt8, index: UInt8) {
        self.known = known
        self.flags = flags
        self.index = index
    }

    public static let knownBandwidth: UInt8 = 0x01
    public static let knownIndex: UInt8 = 0x02
    public static let knownGuardInterval: UInt8 = 0x04

    public var bandwidthMHz: Int? {
        guard known & Self.knownBandwidth != 0 else { return nil }
        return flags & 0x03 == 1 ? 40 : 20
    }

    public var shortGuardInterval: Bool { known & Self.knownGuardInterval != 0 && flags & 0x04 != 0 }

    public var description: String {
        var text = "MCS \(index)"
        if let bandwidthMHz { text += " \(bandwidthMHz)MHz" }
        if shortGuardInterval { text += " SGI" }
        return text
    }
}

/// The radiotap VHT field (802.11ac), user 0 only.
public struct RadiotapVHT: Sendable, Equatable, CustomStringConvertible {
    public var known: UInt16
    public var flags: UInt8
    public var bandwidth: UInt8
    public var mcsNSS: (UInt8, UInt8, UInt8, UInt8)

    public var mcs: Int { Int(mcsNSS.0 >> 4) }
    public var spatialStreams: Int { Int(mcsNSS.0 & 0x0F) }

    public var description: String { "VHT MCS \(mcs) NSS \(spatialStreams)" }

    public static func == (lhs: RadiotapVHT, rhs: RadiotapVHT) -> Bool {
        lhs.known == rhs.known && lhs.flags == rhs.flags && lhs.bandwidth == rhs.bandwidth
            && lhs.mcsNSS == rhs.mcsNSS
    }
}

/// The radiotap fields mac80211 honours on injection
/// (ieee80211_parse_tx_radiotap): Flags, Rate, TX flags, MCS.
public struct RadiotapTransmitOptions: Sendable, Equatable {
    public var flags: RadiotapFlags?
    /// Legacy rate in 500 kbit/s units (2 = 1 Mb/s, 12 = 6 Mb/s).
    public var rate: UInt8?
    /// IEEE80211_RADIOTAP_F_TX_* bits (0x0008 = no ACK expected).
    public var txFlags: UInt16?
    public var mcs: RadiotapMCS?

    public static let txFlagNoAck: UInt16 = 0x0008

    public init(flags: RadiotapFlags? = nil, rate: UInt8? = nil, txFlags: UInt16? = nil, mcs: RadiotapMCS? = nil) {
        self.flags = flags
        self.rate = rate
        self.txFlags = txFlags
        self.mcs = mcs
    }

    /// The radiotap header carrying these fields (all are 1- or 2-byte
    /// aligned, so the only padding is before TX flags).
    public var encodedHeader: [UInt8] {
        var present: UInt32 = 0
        var fields: [UInt8] = []
        if let flags {
            present |= 1 << 1
            fields.append(flags.rawValue)
        }
        if let rate {
            present |= 1 << 2
            fields.append(rate)
        }
        if let txFlags {
            present |= 1 << 15
            if (8 + fields.count) % 2 != 0 { fields.append(0) }
            fields += [UInt8(txFlags & 0xFF), UInt8(txFlags >> 8)]
        }
        if let mcs {
            present |= 1 << 19
            fields += [mcs.known, mcs.flags, mcs.index]
        }
        let length = 8 + fields.count
        return [0, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
            + [UInt8(present & 0xFF), UInt8((present >> 8) & 0xFF), UInt8((present >> 16) & 0xFF), UInt8(present >> 24)]
            + fields
    }
}
