// SPDX-License-Identifier: GPL-2.0-only

import SimulatedAir

/// The register file of an emulated rtw88 chip: plain storage, plus the
/// behaviours the driver polls for during power-on, efuse reads and
/// firmware download, and the RF registers where it tunes the radio.
/// Addresses and bits are those of drivers/net/wireless/realtek/rtw88
/// (reg.h, mac.c, efuse.c, rtw88xxa.c, rtw8821c.c).
struct RTW88Registers {
    let chip: RTW88Chip
    private(set) var bytes = [UInt8](repeating: 0, count: 0x10000)
    /// RF path A registers (20 bits each).
    private(set) var rf = [UInt32](repeating: 0, count: 256)
    let efuse: [UInt8]

    private(set) var macPoweredOn = false
    /// RCR (0x608) written since the MAC last powered on: the driver has
    /// started (mac80211's drv_start), so frames may be delivered.
    private(set) var receiveConfigured = false
    private(set) var tunedChannel: AirChannel?
    /// Bytes of the firmware download in progress, and the last complete one.
    private var downloading: [UInt8]?
    private(set) var lastFirmwareImage: [UInt8]?
    private(set) var firmwareDownloads = 0
    /// 8821C: bytes the DDMA engine moved from the reserved page into the CPU's memories.
    private(set) var firmwareBytesCopied = 0
    private(set) var rfWrites = 0
    private(set) var efuseReads = 0

    init(chip: RTW88Chip, macAddress: [UInt8]) {
        self.chip = chip
        efuse = chip.physicalEfuse(macAddress: macAddress)
        powerUpDefaults()
    }

    /// The state at power-up or after a USB port reset.
    mutating func powerUpDefaults() {
        bytes = [UInt8](repeating: 0, count: 0x10000)
        rf = [UInt32](repeating: 0, count: 256)
        bytes[Self.commandRegister] = 0xEA  // MAC off
        macPoweredOn = false
        receiveConfigured = false
        tunedChannel = nil
        downloading = nil
    }

    static let commandRegister = 0x100
    static let receiveConfiguration = 0x608
    static let rfChannelRegister = 0x18

    /// CR bits HCI_RXDMA_EN, RXDMA_EN, MACRXEN.
    var receiveEnabled: Bool {
        macPoweredOn && receiveConfigured && bytes[Self.commandRegister] & 0x8A == 0x8A
    }

    var receiveConfigurationValue: UInt32 { word(Self.receiveConfiguration) }

    func word(_ address: Int) -> UInt32 {
        UInt32(bytes[address]) | UInt32(bytes[address + 1]) << 8 | UInt32(bytes[address + 2]) << 16
            | UInt32(bytes[address + 3]) << 24
    }

    private mutating func storeWord(_ value: UInt32, at address: Int) {
        for index in 0..<4 { bytes[address + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    // MARK: Reads

    func read(_ address: Int) -> UInt8 {
        let stored = bytes[address]
        switch address {
        case 0x06:
            return stored | 0x02  // power-on sequence poll: the chip's supply is stable
        case 0xF0...0xF3:
            // SYS_CFG1: cut B (bits 15:12 = 1), mass-production chip, 1T1R (bit 27 = 0).
            return UInt8(truncatingIfNeeded: UInt32(0x0000_1000) >> (8 * UInt32(address - 0xF0)))
        case 0x1CC:
            return stored & 0xF0  // HMETFR: every H2C box is free at once
        case 0x41A where chip.family == .jaguar8821a:
            return stored | 0x30  // band switch: TX queues empty
        case 0xD04...0xD0B where chip.family == .jaguar8821a:
            // RF read-back (PI 0xD04, SI 0xD08) of the register 0x8B0 names.
            let value = rf[Int(bytes[0x8B0])]
            return UInt8(truncatingIfNeeded: value >> (8 * UInt32((address - 0xD04) % 4)))
        case 0x204 where chip.family == .jaguar8821a, 0x205 where chip.family == .jaguar8821a:
            return bytes[address - 4]  // queue flush: every reserved page available again
        case 0x215 where chip.family == .jaguar8821a, 0x217 where chip.family == .jaguar8821a:
            return bytes[address - 1]
        case 0x1703 where chip.family == .halmac8821c:
            return stored | 0x20  // LTE coex indirect access: always ready (bit 29)
        case 0x2800...0x2BFF where chip.family == .halmac8821c:
            // 8821C reads RF registers directly: 0x2800 + 4 x address.
            let value = rf[(address - 0x2800) / 4]
            return UInt8(truncatingIfNeeded: value >> (8 * UInt32(address % 4)))
        default:
            return stored
        }
    }

    // MARK: Writes

    /// One vendor control write of `data` at `address` (1, 2, 4 bytes, or a
    /// firmware chunk), with the side effects the hardware has.
    mutating func write(_ address: Int, _ data: UnsafeRawBufferPointer) {
        guard address + data.count <= bytes.count else { return }
        if chip.family == .halmac8821c && address == 0x4E0 { return }  // USB shadow write
        let wasCPUEnabled = bytes[0x03] & 0x04 != 0
        let oldDownloadControl = bytes[0x80]
        if (0x1000...0x1FFF).contains(address) && chip.family == .jaguar8821a && bytes[0x80] & 0x01 != 0 {
            recordFirmware(address: address, data)
        }
        for (index, byte) in data.enumerated() { bytes[address + index] = byte }
        let range = address..<(address + data.count)
        func covers(_ register: Int) -> Bool { range.contains(register) }

        if covers(0x05) { powerControl() }
        if covers(0x80) && chip.family == .jaguar8821a { downloadControl(old: oldDownloadControl) }
        if covers(0x03) && !wasCPUEnabled && bytes[0x03] & 0x04 != 0 { cpuStarted() }
        if covers(0x33) && bytes[0x33] & 0x80 == 0 { efuseRead() }
        if covers(0x1E3) { bytes[0x1E3] &= 0x3F }  // LLT write done at once
        if covers(0xC93) && address <= 0xC90 { rfWrite(word(0xC90)) }
        if covers(0x483) { retune() }
        if range.overlaps(Self.receiveConfiguration..<(Self.receiveConfiguration + 4)) && macPoweredOn {
            receiveConfigured = true
        }
        if chip.family == .halmac8821c {
            if covers(0x120B) && bytes[0x120B] & 0x80 != 0 {
                // DDMA: the copy (length in bits 17:0) is done at once (OWN clears), checksum OK.
                firmwareBytesCopied += Int(word(0x1208) & 0x3FFFF)
                bytes[0x120B] &= ~0x88
            }
            if covers(0x208) { bytes[0x208] &= ~0x01 }  // AUTO_LLT_V1 done
        }
    }

    /// 0x05 APFM_ONMAC (bit 0) / APFM_OFFMAC (bit 1): the MAC powers on or
    /// off at once and the bit clears itself.
    private mutating func powerControl() {
        let value = bytes[0x05]
        if value & 0x01 != 0 {
            bytes[0x05] &= ~0x01
            macPoweredOn = true
            receiveConfigured = false
            bytes[Self.commandRegister] = 0
        }
        if value & 0x02 != 0 {
            bytes[0x05] &= ~0x02
            macPoweredOn = false
            receiveConfigured = false
            bytes[Self.commandRegister] = 0xEA
        }
    }

    /// 0x80 MCUFWDL_EN (bit 0) opens (8821A) the 0x1000 download window;
    /// clearing it ends the download.
    private mutating func downloadControl(old: UInt8) {
        let enabled = bytes[0x80] & 0x01 != 0
        if enabled && old & 0x01 == 0 {
            downloading = []
        } else if !enabled && old & 0x01 != 0, let image = downloading {
            lastFirmwareImage = image
            firmwareDownloads += 1
            downloading = nil
        }
    }

    private mutating func recordFirmware(address: Int, _ data: UnsafeRawBufferPointer) {
        let page = Int(bytes[0x82] & 0x07)
        let offset = page * 4096 + address - 0x1000
        guard var image = downloading else { return }
        if image.count < offset + data.count { image += [UInt8](repeating: 0, count: offset + data.count - image.count) }
        for (index, byte) in data.enumerated() { image[offset + index] = byte }
        downloading = image
    }

    /// The firmware CPU started (SYS_FUNC_EN CPUEN 0 -> 1).
    private mutating func cpuStarted() {
        switch chip.family {
        case .jaguar8821a:
            // The 8051 boots the downloaded image: WINTINI_RDY and RAM_DL_SEL
            // (FW_READY_LEGACY with the driver's own MCUFWDL_RDY/FWDL_CHK_RPT).
            if bytes[0x80] & 0x02 != 0 { bytes[0x80] |= 0xC0 }
        case .halmac8821c:
            // The 3081 boots (0x80 bit 14 set by the driver): FW ready, bit 15;
            // it answers a pending hardware feature request (0x1A0 = 0xFD).
            if bytes[0x81] & 0x40 != 0 && bytes[0x81] & 0x80 == 0 {
                bytes[0x81] |= 0x80
                firmwareDownloads += 1
                if bytes[0x1A0] == 0xFD {
                    bytes[0x1A0] = 0x19
                    for address in 0x1A2...0x1AE { bytes[address] = 0 }
                }
            }
        }
    }

    /// 0x30 EFUSE_CTRL: a write with bit 31 clear reads the byte at bits
    /// 17:8 into bits 7:0 and sets bit 31 (done).
    private mutating func efuseRead() {
        let value = word(0x30)
        let index = Int((value >> 8) & 0x3FF)
        let byte = index < chip.efuseUsableBytes && index < efuse.count ? efuse[index] : 0xFF
        storeWord(value & 0xFFFF_FF00 | UInt32(byte) | 0x8000_0000, at: 0x30)
        efuseReads += 1
    }

    /// 0xC90: RF path A serial write, address in bits 27:20, data in 19:0.
    private mutating func rfWrite(_ value: UInt32) {
        let register = Int((value >> 20) & 0xFF)
        rf[register] = value & 0xFFFFF
        rfWrites += 1
        if register == Self.rfChannelRegister { retune() }
    }

    /// The channel RF 0x18 (center channel, bandwidth) and DATA_SC 0x483
    /// (where the primary 20 MHz sits in it) describe.
    private mutating func retune() {
        let rf18 = rf[Self.rfChannelRegister]
        let center = Int(rf18 & 0xFF)
        let widthBits = (rf18 >> 10) & 0x3
        let width: Int?
        switch chip.family {
        case .jaguar8821a: width = widthBits == 3 ? 20 : widthBits == 1 ? 40 : widthBits == 0 ? 80 : nil
        case .halmac8821c: width = widthBits == 3 ? 20 : widthBits == 2 ? 40 : widthBits == 1 ? 80 : nil
        }
        guard let width else {
            tunedChannel = nil
            return
        }
        let subchannel = bytes[0x483] & 0x0F
        let primary: Int
        switch (width, subchannel) {
        case (20, _): primary = center
        case (40, 1), (80, 1): primary = center + 2
        case (40, 2), (80, 2): primary = center - 2
        case (80, 3): primary = center + 6
        case (80, 4): primary = center - 6
        default:
            tunedChannel = nil
            return
        }
        tunedChannel = AirChannel(primary: primary, widthMHz: width, center: center)
    }
}
