// SPDX-License-Identifier: GPL-2.0-only

import USBHost

// The register file of the emulated RTL8187: its vendor control requests
// and the mutable State (registers, EEPROM, RF bus, TX queue, statistics).

extension RTL8187Model {
    // MARK: Control requests

    func handleControl(_ request: USBRequest, _ state: inout State) -> USBCompletion {
        let setup = request.setup

        switch (setup.requestType, setup.request) {
        case (RTL8187Hardware.readRequestType, RTL8187Hardware.registerRequest):
            guard setup.index <= 3, (1...4).contains(setup.length), request.length >= Int(setup.length),
                let buffer = request.buffer
            else { return .stall }
            state.statistics.registerReads += 1
            for offset in 0..<Int(setup.length) {
                let value = state.readRegister(page: Int(setup.index), address: setup.value &+ UInt16(offset))
                buffer.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
            }
            return .success(actualLength: Int(setup.length))
        case (RTL8187Hardware.writeRequestType, RTL8187Hardware.registerRequest):
            guard (1...4).contains(setup.length), request.length >= Int(setup.length), let buffer = request.buffer else {
                return .stall
            }
            let data = UnsafeRawBufferPointer(start: buffer, count: Int(setup.length))
            if setup.index == RTL8187Hardware.rfWriteIndex {
                guard data.count >= 2 else { return .stall }
                state.statistics.rfWrites += 1
                state.writeRF(register: Int(setup.value & 0xF), value: UInt16(data[0]) | UInt16(data[1]) << 8)
                return .success(actualLength: data.count)
            }
            guard setup.index <= 3 else { return .stall }
            state.statistics.registerWrites += 1
            for (offset, byte) in data.enumerated() {
                state.writeRegister(page: Int(setup.index), address: setup.value &+ UInt16(offset), value: byte)
            }
            return .success(actualLength: data.count)
        default:
            return standardRequests.answer(request, selectedConfiguration: &state.configuration) ?? .stall
        }
    }

    // MARK: State

    struct State {
        var registers = [UInt8](repeating: 0, count: 4 << 16)
        /// 0xFFF0...0xFFFF as seen while PGSELECT bit 0 is set.
        var pageOneTail = [UInt8](repeating: 0, count: 16)
        var eeprom: MicrowireEEPROM
        var rfBus = RTL8225SerialBus()
        var rfRegisters = [UInt16](repeating: 0, count: 16)
        var tunedChannel: Int?
        var radioSwitchOn: Bool
        /// A LOAD the driver has not yet seen finish (it polls EEPROM_CMD).
        var eepromReloadUnobserved = false
        let asicRevision: UInt8
        let recordsTransmittedFrames: Bool
        let transmittedCapacity: Int
        let completesTransmitInline: Bool
        var configuration: UInt8 = 0
        var stopped = false

        /// Transmitted URBs waiting for their acknowledgement from the worker.
        var transmitQueue: [(handle: UInt64, completion: USBCompletion)] = []

        var transmitted: [RTL8187TransmittedFrame] = []
        var statistics = Statistics()

        init(eeprom: MicrowireEEPROM, options: Options) {
            self.eeprom = eeprom
            radioSwitchOn = options.radioSwitchOn
            asicRevision = options.asicRevision & 0x3
            recordsTransmittedFrames = options.recordsTransmittedFrames
            transmittedCapacity = options.transmittedFrameCapacity
            completesTransmitInline = options.completesTransmitInline
        }

        // Registers

        private func index(_ page: Int, _ address: UInt16) -> Int { page << 16 | Int(address) }

        func register8(_ address: UInt16) -> UInt8 { registers[index(0, address)] }

        func register32(_ address: UInt16) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(registers[index(0, address + UInt16($1))]) << (8 * UInt32($1)) }
        }

        var receiveConfiguration: UInt32 { register32(RTL8187Hardware.receiveConfiguration) }
        var receiveEnabled: Bool { register8(RTL8187Hardware.command) & RTL8187Hardware.commandReceiveEnable != 0 }
        private var pageOneSelected: Bool { register8(RTL8187Hardware.pageSelect) & 1 != 0 }

        /// The autoload a reset or an EEPROM_CMD LOAD does: MAC registers from EEPROM words 7-9.
        mutating func loadFromEEPROM() {
            for index in 0..<3 {
                let word = eeprom.words[RTL8187Hardware.eepromMACAddress + index]
                registers[self.index(0, RTL8187Hardware.macAddress + UInt16(2 * index))] = UInt8(truncatingIfNeeded: word)
                registers[self.index(0, RTL8187Hardware.macAddress + UInt16(2 * index + 1))] = UInt8(truncatingIfNeeded: word >> 8)
            }
        }

        mutating func readRegister(page: Int, address: UInt16) -> UInt8 {
            let stored = registers[index(page, address)]
            guard page == 0 else { return stored }
            switch address {
            case RTL8187Hardware.transmitConfiguration + 3:
                // Bits 27:25 (1...3 of this byte) are the read-only hardware version.
                return stored & ~0x0E | RTL8187Hardware.hardwareVersion8187vD << 1
            case RTL8187Hardware.eepromCommand:
                if stored >> 6 == RTL8187Hardware.eepromModeNormal { eepromReloadUnobserved = false }
                return stored & ~RTL8187Hardware.eepromDataOut | (eeprom.dataOut ? RTL8187Hardware.eepromDataOut : 0)
            case RTL8187Hardware.rfPinsInput:
                return stored & ~0x02 | (rfBus.dataOut ? 0x02 : 0)
            case RTL8187Hardware.gpio1:
                return stored & ~RTL8187Hardware.radioSwitchBit | (radioSwitchOn ? RTL8187Hardware.radioSwitchBit : 0)
            case 0xFFF0...0xFFFF where pageOneSelected:
                let value = pageOneTail[Int(address - 0xFFF0)]
                return address == RTL8187Hardware.asicRevisionRegister ? value & ~0x03 | asicRevision : value
            default:
                return stored
            }
        }

        mutating func writeRegister(page: Int, address: UInt16, value: UInt8) {
            guard page == 0 else {
                registers[index(page, address)] = value
                return
            }
            switch address {
            case RTL8187Hardware.command:
                // The reset bit clears itself once the (instant) reset is done.
                registers[index(0, address)] = value & ~RTL8187Hardware.commandReset
            case RTL8187Hardware.eepromCommand:
                let mode = value >> 6
                switch mode {
                case RTL8187Hardware.eepromModeLoad:
                    if eeprom.isSelected { statistics.eepromCommandsInterleaved += 1 }
                    eepromReloadUnobserved = true
                    loadFromEEPROM()
                    eeprom.drive(chipSelect: false, clock: false, dataIn: false)
                    registers[index(0, address)] = RTL8187Hardware.eepromModeNormal << 6
                case RTL8187Hardware.eepromModeProgram:
                    if eepromReloadUnobserved {
                        statistics.eepromCommandsInterleaved += 1
                        eepromReloadUnobserved = false
                    }
                    registers[index(0, address)] = value
                    eeprom.drive(
                        chipSelect: value & RTL8187Hardware.eepromChipSelect != 0,
                        clock: value & RTL8187Hardware.eepromClock != 0,
                        dataIn: value & RTL8187Hardware.eepromDataIn != 0)
                default:
                    registers[index(0, address)] = value
                    eeprom.drive(chipSelect: false, clock: false, dataIn: false)
                }
            case RTL8187Hardware.rfPinsOutput:
                registers[index(0, address)] = value
                if let write = rfBus.drive(pins: value, registers: rfRegisters) {
                    statistics.rfWrites += 1
                    writeRF(register: write.register, value: write.value)
                }
            case 0xFFF0...0xFFFF where pageOneSelected:
                pageOneTail[Int(address - 0xFFF0)] = value
            default:
                registers[index(0, address)] = value
            }
        }

        mutating func writeRF(register: Int, value: UInt16) {
            rfRegisters[register & 0xF] = value & 0xFFF
            if register == RTL8187Hardware.rfChannelRegister {
                // rtl8225_rf_set_channel; other values (the init's 0x82A) leave the synthesizer untuned.
                tunedChannel = RTL8187Hardware.rfChannelTable.firstIndex(of: value & 0xFFF).map { $0 + 1 }
            }
        }

        // Air

        /// Would the adapter, as configured now, receive this frame?
        func hears(_ frame: EncodedAirFrame) -> Bool {
            guard receiveEnabled, let tunedChannel, frame.channel == tunedChannel else { return false }
            let configuration = receiveConfiguration
            let typeBit: UInt32 =
                switch frame.frameType {
                case 0: RTL8187Hardware.receiveConfigurationManagement
                case 1: RTL8187Hardware.receiveConfigurationControl
                default: RTL8187Hardware.receiveConfigurationData
                }
            guard configuration & typeBit != 0 else { return false }
            if frame.corruptFCS && configuration & RTL8187Hardware.receiveConfigurationFCS == 0 { return false }
            if configuration & RTL8187Hardware.receiveConfigurationMonitor != 0 { return true }
            // Not in monitor mode: only frames for us or for a group.
            guard let receiver = frame.receiverAddress else { return true }
            return receiver[0] & 1 != 0 || receiver == Array(registers[index(0, RTL8187Hardware.macAddress)..<index(0, RTL8187Hardware.macAddress + 6)])
        }

    }
}
