// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage
import USBHost

/// One bulk IN completion of a receive fuzz input: what the device puts in
/// the driver's URB and how the transfer ends.
///
/// Wire format (a `FuzzRecord` each, at most `maximumPerInput`): the kind
/// byte says how it ends, the record's data is the transfer's content.
///
/// | kind        | completion |
/// |-------------|------------|
/// | 0x00...0xED | success, actual_length = the data's length (clamped to the buffer; short data completed to the target's minimum; the target's known findings avoided) |
/// | 0xEE        | as 0x00, without avoiding known findings (raw) |
/// | 0xEF        | success with the data exactly as given, however short |
/// | 0xF0        | success claiming one byte more than the buffer: the bridge refuses it and completes -EOVERFLOW |
/// | 0xF1...0xFE | as 0x00, into the newest held URB rather than the oldest (out of order) |
/// | 0xFF        | an error status (data[0] picks the errno, `errnos`), the rest as partial data |
///
/// Why the padding: rtl8187 never resubmits a URB whose transfer is shorter
/// than its 16-byte trailer, nor one that ended in error (FINDINGS.md F3),
/// and getting a full set back costs an interface restart (~1.2 s of the
/// driver's init sleeps). Kinds that lose a URB are therefore 3 of 256, so
/// libFuzzer's byte mutations produce them rarely but do produce them.
public struct ReceiveCompletionRecord: Sendable, Equatable {
    public enum Ending: Sendable, Equatable {
        case delivered
        /// Not padded to the target's minimum length.
        case deliveredUnpadded
        /// Known findings not avoided.
        case deliveredRaw
        case deliveredOutOfOrder
        case overlong
        case failed(Errno)
    }

    public var ending: Ending
    public var data: [UInt8]

    public init(ending: Ending = .delivered, data: [UInt8]) {
        self.ending = ending
        self.data = data
    }

    public static let maximumPerInput = 16

    /// What host controllers report for failed bulk transfers, and what
    /// unlinking and unplugging look like to a driver.
    public static let errnos: [Errno] = [
        USBErrno.protocolError, USBErrno.stall, USBErrno.overflow, USBErrno.timedOut, Errno(rawValue: 84) /* EILSEQ */,
        USBErrno.connectionReset, USBErrno.shutdown, USBErrno.noEntry, USBErrno.noDevice, USBErrno.remoteIO,
        Errno(rawValue: 62) /* ETIME */, Errno(rawValue: 70) /* ECOMM */, USBErrno.inProgress, Errno(rawValue: 22) /* EINVAL */,
    ]

    public static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> [ReceiveCompletionRecord] {
        var reader = FuzzInputReader(bytes)
        return FuzzRecord.decodeAll(&reader, limit: maximumPerInput).map { record in
            switch record.kind {
            case 0xEE: return ReceiveCompletionRecord(ending: .deliveredRaw, data: record.data)
            case 0xEF: return ReceiveCompletionRecord(ending: .deliveredUnpadded, data: record.data)
            case 0xF0: return ReceiveCompletionRecord(ending: .overlong, data: record.data)
            case 0xF1...0xFE: return ReceiveCompletionRecord(ending: .deliveredOutOfOrder, data: record.data)
            case 0xFF:
                let selector = Int(record.data.first ?? 0)
                return ReceiveCompletionRecord(
                    ending: .failed(errnos[selector % errnos.count]), data: Array(record.data.dropFirst()))
            default: return ReceiveCompletionRecord(ending: .delivered, data: record.data)
            }
        }
    }

    public static func encode(_ records: [ReceiveCompletionRecord]) -> [UInt8] {
        FuzzRecord.encode(
            records.map { record in
                switch record.ending {
                case .delivered: return FuzzRecord(kind: 0x00, data: record.data)
                case .deliveredUnpadded: return FuzzRecord(kind: 0xEF, data: record.data)
                case .deliveredRaw: return FuzzRecord(kind: 0xEE, data: record.data)
                case .deliveredOutOfOrder: return FuzzRecord(kind: 0xF1, data: record.data)
                case .overlong: return FuzzRecord(kind: 0xF0, data: record.data)
                case .failed(let errno):
                    let selector = UInt8(errnos.firstIndex(of: errno) ?? 0)
                    return FuzzRecord(kind: 0xFF, data: [selector] + record.data)
                }
            })
    }
}

/// Fills the part of a receive buffer past the data with a pattern no
/// device sends, so a driver that reads beyond actual_length shows it: the
/// pattern turns up in a captured frame.
enum StaleDataCanary {
    static let pattern: [UInt8] = [0xA1, 0x7E, 0x5A, 0xC3, 0x3C, 0xA5, 0xE7, 0x18]
    /// The most a driver could read past the data (rtw88: one 11454-byte
    /// MPDU plus descriptor and PHY status), so filling stops there.
    static let reach = 12 * 1024

    static func fill(_ buffer: UnsafeMutableRawBufferPointer, from start: Int) {
        let end = min(buffer.count, start + reach)
        guard start < end, let base = buffer.baseAddress else { return }
        for offset in start..<end {
            base.storeBytes(of: pattern[offset & 7], toByteOffset: offset, as: UInt8.self)
        }
    }

    /// Whether `bytes` holds 8 consecutive pattern bytes (in any phase).
    static func occurs(in bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 8 else { return false }
        for start in 0...(bytes.count - 8) {
            // The pattern's bytes are distinct: the first byte fixes the phase.
            guard let phase = pattern.firstIndex(of: bytes[start]) else { continue }
            if (1..<8).allSatisfy({ bytes[start + $0] == pattern[(phase + $0) & 7] }) { return true }
        }
        return false
    }

    static func occurs(in bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { occurs(in: $0) }
    }
}
