// SPDX-License-Identifier: GPL-2.0-only

import SimulatedAir

/// The wire formats rtw88's USB chips share: the 24-byte RX descriptor
/// (drivers/net/wireless/realtek/rtw88/rx.h), PHY status reports, C2H
/// packets on the RX pipe, and the TX descriptor (tx.h) in front of every
/// bulk OUT frame.
public enum RTW88Formats {
    public static let receiveDescriptorLength = 24
    /// drv_info_sz 4 (8-byte units), what the driver programs into 0x60F.
    public static let phyStatusLength = 32
    /// A USB receive transfer must be shorter than the driver's 32 KiB buffer.
    public static let maximumReceiveTransfer = 32767
    /// IEEE80211_MAX_MPDU_LEN_VHT_11454: the driver drops longer packets.
    public static let maximumPacketLength = 11454

    // MARK: Rates (DESC_RATE*, main.h)

    /// The descriptor rate code of `rate` (nil: the chip has no such rate).
    public static func descriptorRate(_ rate: AirRate) -> UInt8? {
        switch rate {
        case .legacy(let kbps):
            if let index = AirRate.cckKbps.firstIndex(of: kbps) { return UInt8(index) }
            if let index = AirRate.ofdmKbps.firstIndex(of: kbps) { return UInt8(4 + index) }
            return nil
        case .ht(let mcs):
            return (0...31).contains(mcs) ? UInt8(0x0C + mcs) : nil
        case .vht(let mcs, let streams):
            return (0...9).contains(mcs) && (1...4).contains(streams) ? UInt8(0x2C + 10 * (streams - 1) + mcs) : nil
        }
    }

    /// The rate a descriptor rate code stands for.
    public static func rate(descriptorRate code: UInt8) -> AirRate? {
        switch code {
        case 0x00...0x03: return .legacy(kbps: AirRate.cckKbps[Int(code)])
        case 0x04...0x0B: return .legacy(kbps: AirRate.ofdmKbps[Int(code) - 4])
        case 0x0C...0x2B: return .ht(mcs: Int(code) - 0x0C)
        case 0x2C...0x53: return .vht(mcs: (Int(code) - 0x2C) % 10, streams: (Int(code) - 0x2C) / 10 + 1)
        default: return nil
        }
    }

    // MARK: Receive

    /// The PHY status report layout the chip's driver parses.
    public enum PhyStatusFormat: Sendable {
        /// 8821A/8812A ("Jaguar", rtw88xxa.h): OFDM gain_A in w0[6:0] =
        /// dBm + 110; CCK LNA/VGA indices in w1 against the 8821A LNA table.
        case jaguar
        /// 8821C/8822B (rtw8821c.h): page 0 CCK (w3 VGA/LNA, rfe-0 table),
        /// page 1 OFDM with PWDB_A = dBm + 110 and the RF mode as bandwidth.
        case halmac
    }

    /// One received packet as it sits in a receive transfer: RX descriptor,
    /// PHY status, the MPDU and its FCS. `tsfOffset` is where the MAC time
    /// (w5) is patched in at delivery.
    public static func receivedPacket(_ frame: AirFrame, rateCode: UInt8, format: PhyStatusFormat) -> [UInt8] {
        let length = frame.frame.count + 4
        var fcs = CRC32.checksum(frame.frame)
        if frame.corruptFCS { fcs = ~fcs }
        let bandwidth: UInt32 =
            switch frame.rate {
            case .legacy: 0
            default: frame.channel.widthMHz == 80 ? 2 : frame.channel.widthMHz == 40 ? 1 : 0
            }
        var w0 = UInt32(length) & 0x3FFF
        if frame.corruptFCS { w0 |= 1 << 14 }
        w0 |= 4 << 16  // drv_info_sz: 4 x 8 bytes of PHY status
        w0 |= 1 << 26  // PHYST
        var packet = [UInt8](repeating: 0, count: receiveDescriptorLength + phyStatusLength)
        packet.storeLittleEndian(w0, at: 0)
        packet.storeLittleEndian(UInt32(rateCode), at: 12)
        packet.storeLittleEndian(bandwidth << 4, at: 16)
        let status = receiveDescriptorLength
        let cck = rateCode <= 0x03
        switch format {
        case .jaguar:
            if cck {
                let (lna, vga) = jaguarCCKGain(signalDBm: frame.signalDBm)
                packet.storeLittleEndian(UInt32(vga) << 8 | UInt32(lna) << 13, at: status + 4)
            } else {
                packet[status] = UInt8(clamping: min(max(frame.signalDBm + 110, 0), 127))
            }
        case .halmac:
            if cck {
                let (lna, vga) = halmacCCKGain(signalDBm: frame.signalDBm)
                // page 0; w3 [12:8] VGA, [15:13] LNA low bits, [23] LNA high bit.
                packet.storeLittleEndian(UInt32(vga) << 8 | UInt32(lna & 7) << 13 | UInt32(lna >> 3) << 23, at: status + 12)
            } else {
                packet[status] = 1  // page 1
                packet[status + 1] = UInt8(clamping: min(max(frame.signalDBm + 110, 0), 255))
                // rxsc 0: the bandwidth comes from RF_MODE, w3[29:28].
                packet.storeLittleEndian(bandwidth << 28, at: status + 12)
            }
        }
        packet += frame.frame
        packet.appendLittleEndian(fcs)
        return packet
    }

    /// Byte offset of w5 (TSF low) in a packet from `receivedPacket`.
    public static let tsfOffset = 20

    /// 8821A CCK: dBm = LNA gain - 2 x VGA, LNA gains {0: 15, 1: -1, 2: -17, 4: -30, 5: -38}.
    static func jaguarCCKGain(signalDBm: Int) -> (lna: UInt8, vga: UInt8) {
        cckGain(signalDBm: signalDBm, table: [0: 15, 1: -1, 2: -17, 4: -30, 5: -38])
    }

    /// The LNA/VGA pair that reports `signalDBm` exactly (VGA 0-31), else
    /// the one 1 dB off (every table gain has one parity).
    static func cckGain(signalDBm: Int, table: [Int: Int]) -> (lna: UInt8, vga: UInt8) {
        let ordered = table.sorted { $0.key < $1.key }
        for tolerance in 0...1 {
            for (lna, gain) in ordered {
                let vga = (gain - signalDBm + tolerance) / 2
                if (0...31).contains(vga) && abs(gain - 2 * vga - signalDBm) <= tolerance { return (UInt8(lna), UInt8(vga)) }
            }
        }
        return signalDBm > (ordered.first?.value ?? 0) ? (UInt8(ordered.first!.key), 0) : (UInt8(ordered.last!.key), 31)
    }

    /// The dBm rtw88 reports for a CCK frame sent at `signalDBm` on `format`.
    public static func reportedCCKSignal(_ signalDBm: Int, format: PhyStatusFormat) -> Int {
        switch format {
        case .jaguar:
            let (lna, vga) = jaguarCCKGain(signalDBm: signalDBm)
            return [0: 15, 1: -1, 2: -17, 4: -30, 5: -38][Int(lna)]! - 2 * Int(vga)
        case .halmac:
            let (lna, vga) = halmacCCKGain(signalDBm: signalDBm)
            return halmacCCKTable[Int(lna)] - 2 * Int(vga)
        }
    }

    static let halmacCCKTable = [22, 8, -6, -22, -31, -40, -46, -52]

    /// 8821C (rfe 0) CCK: dBm = table[LNA] - 2 x VGA.
    static func halmacCCKGain(signalDBm: Int) -> (lna: UInt8, vga: UInt8) {
        cckGain(signalDBm: signalDBm, table: Dictionary(uniqueKeysWithValues: halmacCCKTable.enumerated().map { ($0, $1) }))
    }

    /// A firmware TX report (C2H_CCX_TX_RPT, id 0x03) for the frame whose
    /// descriptor carried `sequence` in SW_DEFINE: acknowledged when `acked`.
    public static func transmitReport(sequence: UInt8, acked: Bool, c2hSequence: UInt8) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: 12)
        payload[0] = acked ? 0 : 0x40
        payload[6] = sequence & 0xFC
        let body = [0x03, c2hSequence] + payload
        var packet = [UInt8](repeating: 0, count: receiveDescriptorLength)
        packet.storeLittleEndian(UInt32(body.count) & 0x3FFF, at: 0)
        packet.storeLittleEndian(UInt32(1) << 28, at: 8)  // w2 C2H
        return packet + body
    }

    // MARK: Transmit

    /// One frame of a bulk OUT transfer, as the driver described it.
    public struct TransmitDescriptor: Sendable, Equatable {
        public var packetSize: Int
        public var offset: Int
        public var queueSelect: UInt8
        public var rateCode: UInt8
        public var useRate: Bool
        public var wantsReport: Bool
        public var reportSequence: UInt8
        public var bandwidth: UInt8
        public var shortGuardInterval: Bool
        public var aggregateCount: Int
        public var checksumValid: Bool
    }

    /// Queue selectors (tx.h): TIDs 0-7, then beacon, high, management, H2C.
    public static let queueBeacon: UInt8 = 0x10
    public static let queueHigh: UInt8 = 0x11
    public static let queueManagement: UInt8 = 0x12
    public static let queueH2C: UInt8 = 0x13

    public static func transmitDescriptor(_ bytes: UnsafeRawBufferPointer, at start: Int) -> TransmitDescriptor? {
        guard start + 32 <= bytes.count else { return nil }
        func word(_ index: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: start + 4 * index, as: UInt32.self).littleEndian }
        // w7's checksum: XOR of the first 16 little-endian halfwords with the field zeroed.
        var checksum: UInt16 = 0
        for half in 0..<16 where half != 14 {
            checksum ^= bytes.loadUnaligned(fromByteOffset: start + 2 * half, as: UInt16.self).littleEndian
        }
        let w0 = word(0), w1 = word(1), w2 = word(2), w3 = word(3), w4 = word(4), w5 = word(5), w6 = word(6), w7 = word(7)
        return TransmitDescriptor(
            packetSize: Int(w0 & 0xFFFF), offset: Int((w0 >> 16) & 0xFF), queueSelect: UInt8((w1 >> 8) & 0x1F),
            rateCode: UInt8(w4 & 0x7F), useRate: w3 & (1 << 8) != 0, wantsReport: w2 & (1 << 19) != 0,
            reportSequence: UInt8(w6 & 0xFF), bandwidth: UInt8((w5 >> 5) & 0x3), shortGuardInterval: w5 & (1 << 4) != 0,
            aggregateCount: Int(w7 >> 24), checksumValid: UInt16(w7 & 0xFFFF) == checksum)
    }
}

extension Array where Element == UInt8 {
    mutating func storeLittleEndian<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { bytes in
            for (index, byte) in bytes.enumerated() { self[offset + index] = byte }
        }
    }

    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
