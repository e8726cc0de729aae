// SPDX-License-Identifier: GPL-2.0-only

/// Facts about the RTL8187L and its RTL8225 radio, as the kernel's rtl8187
/// driver uses them (drivers/net/wireless/realtek/rtl818x/rtl818x.h,
/// rtl8187/rtl8187.h, dev.c, rtl8225.c). Register addresses are the
/// driver's: the register map starts at 0xFF00 (`priv->map`).
public enum RTL8187Hardware {
    public static let vendorID: UInt16 = 0x0BDA
    public static let productID: UInt16 = 0x8187
    /// Bulk IN endpoint the 8187L receives on (usb_rcvbulkpipe(udev, 1)).
    public static let receiveEndpoint: UInt8 = 0x81
    /// Bulk OUT endpoint the 8187L transmits on (ep = 2 in rtl8187_tx).
    public static let transmitEndpoint: UInt8 = 0x02

    /// Vendor request for register reads and writes (RTL8187_REQ_GET/SET_REG).
    public static let registerRequest: UInt8 = 0x05
    public static let readRequestType: UInt8 = 0xC0
    public static let writeRequestType: UInt8 = 0x40
    /// wIndex of a register write that is really an RTL8225 register write
    /// carried by the chip's 8051 (rtl8225_write_8051): wValue is the RF
    /// register, the 16-bit data its value.
    public static let rfWriteIndex: UInt16 = 0x8225

    // Registers (struct rtl818x_csr at 0xFF00).
    public static let macAddress: UInt16 = 0xFF00
    public static let command: UInt16 = 0xFF37  // CMD
    public static let transmitConfiguration: UInt16 = 0xFF40  // TX_CONF
    public static let receiveConfiguration: UInt16 = 0xFF44  // RX_CONF
    public static let eepromCommand: UInt16 = 0xFF50  // EEPROM_CMD
    public static let pageSelect: UInt16 = 0xFF5E  // PGSELECT
    public static let rfPinsOutput: UInt16 = 0xFF80
    public static let rfPinsInput: UInt16 = 0xFF86
    public static let gpio1: UInt16 = 0xFF92
    /// Read with PGSELECT bit 0 set: bits 1:0 are the ASIC revision ("0
    /// means B-cut: bit-bang the radio; 1 means USB requests", dev.c).
    public static let asicRevisionRegister: UInt16 = 0xFFFE

    public static let commandTransmitEnable: UInt8 = 1 << 2
    public static let commandReceiveEnable: UInt8 = 1 << 3
    public static let commandReset: UInt8 = 1 << 4

    /// TX_CONF bits 27:25: hardware version; 5 = RTL8187vD (RTL818X_TX_CONF_R8187vD).
    public static let hardwareVersion8187vD: UInt8 = 5

    public static let receiveConfigurationMonitor: UInt32 = 1 << 0
    public static let receiveConfigurationFCS: UInt32 = 1 << 5  // accept frames with a bad FCS
    public static let receiveConfigurationData: UInt32 = 1 << 18
    public static let receiveConfigurationControl: UInt32 = 1 << 19
    public static let receiveConfigurationManagement: UInt32 = 1 << 20

    /// EEPROM_CMD operating modes (bits 7:6) and Microwire pins.
    public static let eepromModeNormal: UInt8 = 0
    public static let eepromModeLoad: UInt8 = 1
    public static let eepromModeProgram: UInt8 = 2
    public static let eepromModeConfig: UInt8 = 3
    public static let eepromDataOut: UInt8 = 1 << 0  // EEPROM -> host (RTL818X_EEPROM_CMD_READ)
    public static let eepromDataIn: UInt8 = 1 << 1  // host -> EEPROM (..._WRITE)
    public static let eepromClock: UInt8 = 1 << 2
    public static let eepromChipSelect: UInt8 = 1 << 3

    /// GPIO1 bit 1: the radio switch (RFKILL_MASK_8187_89_97); 1 = radio on.
    public static let radioSwitchBit: UInt8 = 1 << 1

    // EEPROM words (rtl8187.h).
    public static let eepromTransmitPowerBase = 0x05
    public static let eepromMACAddress = 0x07
    public static let eepromTransmitPowerChannel1 = 0x16  // channels 1-6, 3 words
    public static let eepromTransmitPowerChannel7 = 0x3D  // "CHAN_4" in the driver: channels 7-10, 2 words
    public static let eepromTransmitPowerChannel11 = 0x1B  // "CHAN_6": channels 11-14, 2 words

    /// Bitrates by the hardware rate index of the RX trailer and TX
    /// descriptor (rtl818x_rates in dev.c), in kb/s.
    public static let bitratesKbps = [1000, 2000, 5500, 11000, 6000, 9000, 12000, 18000, 24000, 36000, 48000, 54000]

    /// RTL8225 register 7 value for channels 1-14 (rtl8225_chan in rtl8225.c).
    public static let rfChannelTable: [UInt16] = [
        0x085C, 0x08DC, 0x095C, 0x09DC, 0x0A5C, 0x0ADC, 0x0B5C,
        0x0BDC, 0x0C5C, 0x0CDC, 0x0D5C, 0x0DDC, 0x0E5C, 0x0F72,
    ]
    public static let rfChannelRegister = 7

    /// RX trailer (struct rtl8187_rx_hdr): flags, noise, signal, agc,
    /// reserved, mac_time.
    public static let receiveTrailerLength = 16
    /// The driver's RX buffer (RTL8187_MAX_RX).
    public static let receiveBufferLength = 0x9C4
    /// Frame + FCS lengths the 12-bit length field and the buffer allow.
    public static let maximumReceivedFrameLength = receiveBufferLength - receiveTrailerLength - 4
    public static let receiveFlagCRCError: UInt32 = 1 << 13
    public static let receiveFlagBroadcast: UInt32 = 1 << 16
    public static let receiveFlagMulticast: UInt32 = 1 << 18
    public static let receiveFlagShortPreamble: UInt32 = 1 << 25
    public static let receiveFlagLastSegment: UInt32 = 1 << 28
    public static let receiveFlagFirstSegment: UInt32 = 1 << 29

    /// TX descriptor (struct rtl8187_tx_hdr): flags, rts_duration, len, retry.
    public static let transmitHeaderLength = 12
    public static let transmitFlagNoEncryption: UInt32 = 1 << 15
    public static let transmitFlagShortPreamble: UInt32 = 1 << 16
    public static let transmitFlagMoreFragments: UInt32 = 1 << 17
    public static let transmitFlagCTS: UInt32 = 1 << 18
    public static let transmitFlagRTS: UInt32 = 1 << 23

    /// The signal the driver reports for an AGC value: `-4 - ((27 * agc) >> 6)` dBm (rtl8187_rx_cb).
    public static func reportedSignalDBm(agc: UInt8) -> Int { -4 - ((27 * Int(agc)) >> 6) }

    /// Signals the 8187L trailer can express through its AGC byte.
    public static let signalRangeDBm = reportedSignalDBm(agc: 255)...(-4)

    /// The AGC byte that makes the driver report `signalDBm` exactly
    /// (clamped to `signalRangeDBm`).
    public static func agc(forSignalDBm signalDBm: Int) -> UInt8 {
        let clamped = min(max(signalDBm, signalRangeDBm.lowerBound), signalRangeDBm.upperBound)
        let step = -4 - clamped  // (27 * agc) >> 6 must equal this
        return UInt8((step * 64 + 26) / 27)
    }

    /// The rate index for a bitrate in kb/s, if the chip has it.
    public static func rateIndex(kbps: Int) -> Int? { bitratesKbps.firstIndex(of: kbps) }
}

/// A 93C46 serial EEPROM (64 x 16 bits) behind the RTL8187's bit-banged
/// Microwire pins (EEPROM_CMD in program mode). Read-only: the driver only
/// reads (eeprom_93cx6_read); write, erase and enable commands are
/// accepted and ignored, as on a write-protected part.
struct MicrowireEEPROM {
    static let addressBits = 6
    var words: [UInt16]
    /// Words read by the host so far.
    private(set) var wordsRead = 0

    private enum Phase {
        case idle
        case waitingForStartBit
        case command(bits: UInt32, count: Int)
        case reading(word: Int, nextBit: Int)
        case ignoring
    }

    private var phase = Phase.idle
    private var chipSelect = false
    private var clock = false
    /// DO, as the host samples it (bit 0 of EEPROM_CMD).
    private(set) var dataOut = false
    /// CS is high: the host is in the middle of a transaction.
    var isSelected: Bool { chipSelect }

    init(words: [UInt16]) {
        precondition(words.count == 64, "a 93C46 holds 64 words")
        self.words = words
    }

    mutating func drive(chipSelect newChipSelect: Bool, clock newClock: Bool, dataIn: Bool) {
        defer {
            chipSelect = newChipSelect
            clock = newClock
        }
        guard newChipSelect else {
            phase = .idle
            dataOut = false
            return
        }
        if !chipSelect {
            phase = .waitingForStartBit
        }
        // Everything happens on the rising edge of SK.
        guard newClock && !clock else { return }
        switch phase {
        case .idle, .ignoring:
            break
        case .waitingForStartBit:
            if dataIn { phase = .command(bits: 0, count: 0) }
        case .command(let bits, let count):
            let shifted = bits << 1 | (dataIn ? 1 : 0)
            let total = count + 1
            guard total == 2 + Self.addressBits else {
                phase = .command(bits: shifted, count: total)
                return
            }
            let opcode = shifted >> UInt32(Self.addressBits)
            let address = Int(shifted & (1 << UInt32(Self.addressBits) - 1))
            if opcode == 0b10 {
                // READ: a dummy 0, then D15 first on the following edges.
                phase = .reading(word: address, nextBit: 15)
                dataOut = false
            } else {
                phase = .ignoring
            }
        case .reading(let word, let nextBit):
            dataOut = (words[word % words.count] >> UInt16(nextBit)) & 1 != 0
            if nextBit == 0 {
                wordsRead += 1
                // Sequential read continues with the next word.
                phase = .reading(word: (word + 1) % words.count, nextBit: 15)
            } else {
                phase = .reading(word: word, nextBit: nextBit - 1)
            }
        }
    }
}

/// The RTL8225's 3-wire serial interface, as the RTL8187 drives it through
/// RFPinsOutput (bit 0 data, bit 1 clock, bit 2 enable, active low; bit 3
/// read direction) and RFPinsInput bit 1 (data from the radio).
///
/// Writes (rtl8225_write_bitbang): enable falls, 16 bits (12 data bits then
/// the 4-bit address, most significant first) are taken on every clock
/// edge, enable rises. Reads (rtl8225_read): 5 address bits on clock edges,
/// a turnaround edge with the read bit set, then one data bit (of 12, most
/// significant first) after each rising edge.
struct RTL8225SerialBus {
    private var enable = true
    private var clock = false
    private var active = false
    private var bits: UInt32 = 0
    private var count = 0
    private var reading = false
    private var readValue: UInt16 = 0
    private var readBitsSent = 0
    private(set) var dataOut = false

    /// Returns a completed register write.
    mutating func drive(pins: UInt8, registers: [UInt16]) -> (register: Int, value: UInt16)? {
        let newEnable = pins & 0x4 != 0
        let newClock = pins & 0x2 != 0
        let data = pins & 0x1 != 0
        let readDirection = pins & 0x8 != 0
        defer {
            enable = newEnable
            clock = newClock
        }
        if enable && !newEnable {
            active = true
            bits = 0
            count = 0
            reading = false
            return nil
        }
        if !enable && newEnable {
            defer {
                active = false
                reading = false
            }
            guard active, !reading, count == 16 else { return nil }
            return (Int(bits & 0xF), UInt16((bits >> 4) & 0xFFF))
        }
        guard active, !newEnable, newClock != clock else { return nil }
        if reading {
            if newClock {
                let bit = 11 - readBitsSent
                dataOut = bit >= 0 && (readValue >> UInt16(bit)) & 1 != 0
                readBitsSent += 1
            }
        } else if readDirection && count >= 5 {
            reading = true
            readValue = registers[Int(bits & 0xF)] & 0xFFF
            readBitsSent = 0
        } else {
            bits = bits << 1 | (data ? 1 : 0)
            count += 1
        }
        return nil
    }
}
