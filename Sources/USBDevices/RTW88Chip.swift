// SPDX-License-Identifier: GPL-2.0-only

/// What differs between the rtw88 USB chips airtap emulates: IDs, the
/// driver's firmware file and its format, efuse layout, TX descriptor size,
/// PHY status format and the register behaviours (RTW88Registers).
public struct RTW88Chip: Sendable, Equatable {
    public enum Family: Sendable, Equatable {
        /// RTL8821A/8812A: 8051 firmware CPU, control-transfer download.
        case jaguar8821a
        /// RTL8821C: 3081 firmware CPU, reserved-page + DDMA download.
        case halmac8821c
    }

    public let name: String
    public let family: Family
    public let vendorID: UInt16
    public let productID: UInt16
    public let product: String
    /// The file the driver requests (kernel /lib/firmware relative).
    public let firmwarePath: String
    public let transmitDescriptorLength: Int
    public let phyStatusFormat: RTW88Formats.PhyStatusFormat
    /// Logical efuse offset of the MAC address (USB parts).
    public let efuseMACOffset: Int
    /// Physical efuse bytes the driver parses (the rest is protected).
    public let efuseUsableBytes: Int
    /// rxff size in bytes: how much the chip buffers before it drops live frames.
    public let receiveFIFOBytes: Int

    /// TP-Link Archer T2U (2357:0120), the seed's adapter: rtw88_8821au.
    public static let rtl8821au = RTW88Chip(
        name: "rtl8821au", family: .jaguar8821a, vendorID: 0x2357, productID: 0x0120,
        product: "Archer T2U", firmwarePath: "rtw88/rtw8821a_fw.bin", transmitDescriptorLength: 40,
        phyStatusFormat: .jaguar, efuseMACOffset: 0x107, efuseUsableBytes: 512, receiveFIFOBytes: 16128)

    /// Realtek RTL8811CU/8821CU reference design (0bda:c811): rtw88_8821cu.
    public static let rtl8821cu = RTW88Chip(
        name: "rtl8821cu", family: .halmac8821c, vendorID: 0x0BDA, productID: 0xC811,
        product: "802.11ac NIC", firmwarePath: "rtw88/rtw8821c_fw.bin", transmitDescriptorLength: 48,
        phyStatusFormat: .halmac, efuseMACOffset: 0x107, efuseUsableBytes: 416, receiveFIFOBytes: 16384)

    /// The logical efuse map: 0xFF everywhere (the driver's defaults) but the
    /// MAC address, VID/PID and, on 8821C, a supported RFE option (0).
    public func logicalEfuse(macAddress: [UInt8]) -> [UInt8] {
        var map = [UInt8](repeating: 0xFF, count: 512)
        for (index, byte) in macAddress.enumerated() { map[efuseMACOffset + index] = byte }
        map[0x100] = UInt8(truncatingIfNeeded: vendorID)
        map[0x101] = UInt8(truncatingIfNeeded: vendorID >> 8)
        map[0x102] = UInt8(truncatingIfNeeded: productID)
        map[0x103] = UInt8(truncatingIfNeeded: productID >> 8)
        if family == .halmac8821c { map[0xCA] = 0 }
        return map
    }

    /// The physical efuse: the logical map's non-blank 8-byte blocks as
    /// header + present words (efuse.c's decoder), then 0xFF.
    public func physicalEfuse(macAddress: [UInt8]) -> [UInt8] {
        RTW88Chip.encodeEfuse(logicalEfuse(macAddress: macAddress), capacity: 512)
    }

    static func encodeEfuse(_ logical: [UInt8], capacity: Int) -> [UInt8] {
        var physical: [UInt8] = []
        for block in 0..<(logical.count / 8) {
            var wordEnable: UInt8 = 0x0F  // bit i = 0: word i present
            for word in 0..<4 {
                let first = block * 8 + 2 * word
                if logical[first] != 0xFF || logical[first + 1] != 0xFF { wordEnable &= ~(UInt8(1) << UInt8(word)) }
            }
            guard wordEnable != 0x0F else { continue }
            if block < 16 {
                physical.append(UInt8(truncatingIfNeeded: block << 4) | wordEnable)
            } else {
                let low = UInt8(truncatingIfNeeded: (block & 7) << 5)
                let high = UInt8(truncatingIfNeeded: (block >> 3) << 4)
                physical.append(low | 0x0F)
                physical.append(high | wordEnable)
            }
            for word in 0..<4 where wordEnable & (UInt8(1) << UInt8(word)) == 0 {
                let first = block * 8 + 2 * word
                physical += logical[first..<(first + 2)]
            }
        }
        return physical + [UInt8](repeating: 0xFF, count: max(0, capacity - physical.count))
    }

    /// A firmware file the driver accepts, generated (Realtek's is never
    /// needed): the header fields the driver reads and a deterministic
    /// payload of `payloadBytes`.
    public func syntheticFirmware(payloadBytes: Int = 12_000) -> [UInt8] {
        var state: UInt32 = 0x2101_8821
        func nextByte() -> UInt8 {
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        switch family {
        case .jaguar8821a:
            // rtw_fw_hdr_legacy: signature, category, function, version, subversion.
            var header = [UInt8](repeating: 0, count: 32)
            header.storeLittleEndian(UInt16(0x2101), at: 0)
            header.storeLittleEndian(UInt16(42), at: 4)
            header[6] = 4
            return header + (0..<payloadBytes).map { _ in nextByte() }
        case .halmac8821c:
            // rtw_fw_hdr: version, subversion, feature, sizes and addresses of
            // DMEM and IMEM (each section is followed by an 8-byte checksum).
            let dmemSize = (payloadBytes / 3) & ~7
            let imemSize = (payloadBytes - dmemSize) & ~7
            var header = [UInt8](repeating: 0, count: 64)
            header.storeLittleEndian(UInt16(0x8821), at: 0)  // signature
            header.storeLittleEndian(UInt16(24), at: 4)  // version
            header[6] = 11  // subversion
            header[0x18] = 0  // mem_usage: no EMEM
            header.storeLittleEndian(UInt32(0x8020_0000), at: 0x20)  // dmem_addr
            header.storeLittleEndian(UInt32(dmemSize), at: 0x24)
            header.storeLittleEndian(UInt32(imemSize), at: 0x30)
            header.storeLittleEndian(UInt32(0x8003_0000), at: 0x3C)  // imem_addr
            var file = header
            file += (0..<(dmemSize + 8)).map { _ in nextByte() }
            file += (0..<(imemSize + 8)).map { _ in nextByte() }
            return file
        }
    }
}
