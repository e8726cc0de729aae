// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import LinuxKernel
import SimulatedAir
import USBHost

/// One frame the driver sent through a bulk OUT endpoint.
public struct RTW88TransmittedFrame: Sendable, Equatable {
    /// Where the radio was tuned (nil: not yet).
    public var channel: AirChannel?
    public var queueSelect: UInt8
    /// The descriptor's rate (the driver's choice: rtw88 picks management
    /// and injected rates itself, tx.c rtw_tx_pkt_info_update_rate).
    public var rate: AirRate?
    public var useRate: Bool
    public var wantsReport: Bool
    /// The 802.11 frame after the descriptor.
    public var frame: [UInt8]
}

/// A software Realtek rtw88-family USB Wi-Fi chip (RTL8821AU, RTL8821CU)
/// for the kernel's unmodified rtw88 driver, on the simulated air:
///
/// * registers through vendor request 0x05 with what the driver polls
///   (`RTW88Registers`): power sequence, efuse engine with a valid map
///   holding our MAC address, firmware download handshakes, RF registers;
/// * RX: frames of the simulated air on the tuned channel (primary 20 MHz
///   and width from RF 0x18 and DATA_SC), once the driver has started the
///   MAC, aggregated into bulk IN transfers as RX descriptor + PHY status +
///   MPDU + FCS (`ReceivePipe`);
/// * TX: bulk OUT transfers parsed (TX descriptors, aggregation), recorded,
///   put on the air, and answered with firmware TX reports (C2H 0x03) when
///   the descriptor asks for one.
public final class RTW88Model: USBDevice, AirListener {
    public struct Options: Sendable {
        public var macAddress: [UInt8]
        /// Keep every transmitted frame (tests); off: count only (benchmarks).
        public var recordsTransmittedFrames: Bool
        public var transmittedFrameCapacity: Int
        /// Signal other adapters hear this one's transmissions at.
        public var transmitSignalDBm: Int
        /// The air to join (nil: none; frames only from `putOnAir`).
        public var air: SimulatedAir?

        public init(
            macAddress: [UInt8] = RTW88Model.defaultMACAddress, recordsTransmittedFrames: Bool = true,
            transmittedFrameCapacity: Int = 100_000, transmitSignalDBm: Int = -30, air: SimulatedAir? = nil
        ) {
            self.macAddress = macAddress
            self.recordsTransmittedFrames = recordsTransmittedFrames
            self.transmittedFrameCapacity = transmittedFrameCapacity
            self.transmitSignalDBm = transmitSignalDBm
            self.air = air
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var registerReads = 0
        public var registerWrites = 0
        public var framesTransmitted = 0
        public var bytesTransmitted = 0
        public var transmitReports = 0
        public var malformedTransmissions = 0
        public var badChecksums = 0
        /// Reserved-page and H2C packets (firmware chunks, commands), not frames.
        public var firmwarePackets = 0
        /// Air frames the chip did not hear (other channel, RX off, rate it cannot decode).
        public var framesNotHeard = 0
        public var stalls = 0
    }

    /// Realtek's OUI with a fixed tail.
    public static let defaultMACAddress: [UInt8] = [0x00, 0xE0, 0x4C, 0x88, 0x21, 0xA1]

    /// How long after a frame goes out its firmware TX report arrives (USB
    /// and air time on hardware): reports of frames sent meanwhile share one
    /// bulk IN transfer, so the driver handles them in one pass.
    public static let transmitReportDelayNanoseconds: UInt64 = 200_000

    public static let receiveEndpoint: UInt8 = 0x81
    public static let transmitEndpoints: [UInt8] = [0x02, 0x03, 0x04]
    public static let interruptEndpoint: UInt8 = 0x85

    public let speed: USBSpeed = .high
    public let chip: RTW88Chip
    public let options: Options
    public let deviceDescriptor: USBDeviceDescriptor
    public let configuration: USBConfigurationDescriptor
    public let strings: [UInt8: String]
    private let standardRequests: StandardDeviceRequests
    public let receivePipe: ReceivePipe
    /// The chip's own work on bulk OUT (parsing, reports, the air), for benchmarks.
    let transmitEmulation = EmulationCPUMeter()

    private struct State {
        var registers: RTW88Registers
        var configuration: UInt8 = 0
        var stopped = false
        var transmitted: [RTW88TransmittedFrame] = []
        var statistics = Statistics()
        var c2hSequence: UInt8 = 0
    }

    private let state: HostMutex<State>
    /// Our id on `options.air` while we are on it.
    private let airMembership = HostMutex<Int?>(nil)

    public init(chip: RTW88Chip, options: Options = Options()) {
        precondition(options.macAddress.count == 6, "a MAC address has 6 bytes")
        self.chip = chip
        self.options = options
        var device = USBDeviceDescriptor(vendorID: chip.vendorID, productID: chip.productID)
        device.maxPacketSize0 = 64
        device.deviceVersion = 0x0200
        device.manufacturerIndex = 1
        device.productIndex = 2
        device.serialNumberIndex = 3
        deviceDescriptor = device
        var endpoints = [USBEndpointDescriptor(address: Self.receiveEndpoint, type: .bulk, maxPacketSize: 512)]
        endpoints += Self.transmitEndpoints.map { USBEndpointDescriptor(address: $0, type: .bulk, maxPacketSize: 512) }
        var interrupt = USBEndpointDescriptor(address: Self.interruptEndpoint, type: .interrupt, maxPacketSize: 64)
        interrupt.interval = 3
        endpoints.append(interrupt)
        var interface = USBInterfaceDescriptor(
            number: 0, alternateSetting: 0, interfaceClass: 0xFF, stringIndex: 2, endpoints: endpoints)
        interface.interfaceSubClass = 0xFF
        interface.interfaceProtocol = 0xFF
        configuration = USBConfigurationDescriptor(value: 1, attributes: 0x80, maxPower: 250, interfaces: [interface])
        let serial = options.macAddress.map { byte in
            let digits = Array("0123456789ABCDEF")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
        strings = [1: "Realtek", 2: chip.product, 3: serial]
        standardRequests = StandardDeviceRequests(deviceDescriptor: device, configuration: configuration, strings: strings)
        state = HostMutex(State(registers: RTW88Registers(chip: chip, macAddress: options.macAddress)))
        receivePipe = ReceivePipe(
            layout: ReceivePipe.Layout(
                maximumTransferBytes: RTW88Formats.maximumReceiveTransfer, maximumPacketsPerTransfer: 64, alignment: 8,
                timestampOffset: RTW88Formats.tsfOffset, timestampBytes: 4),
            fifoBytes: chip.receiveFIFOBytes, threadName: "\(chip.name)-rx")
        if let air = options.air {
            let id = air.join(self)
            airMembership.withLock { $0 = id }
        }
    }

    private func leaveAir() {
        if let id = airMembership.withLock({ id in defer { id = nil }; return id }) { options.air?.leave(id) }
    }

    // MARK: What the host can look at

    public var macAddress: [UInt8] { options.macAddress }
    public var tunedChannel: AirChannel? { state.withLock { $0.registers.tunedChannel } }
    public var receiveEnabled: Bool { state.withLock { $0.registers.receiveEnabled } }
    public var firmwareDownloads: Int { state.withLock { $0.registers.firmwareDownloads } }
    /// The bytes the last (8821A) firmware download wrote, for comparing with the file.
    public var lastFirmwareImage: [UInt8]? { state.withLock { $0.registers.lastFirmwareImage } }
    /// 8821C: bytes the firmware download's DDMA copies moved (all downloads).
    public var firmwareBytesCopied: Int { state.withLock { $0.registers.firmwareBytesCopied } }
    public var efuseReads: Int { state.withLock { $0.registers.efuseReads } }
    public var statistics: Statistics { state.withLock { $0.statistics } }
    public var transmittedFrames: [RTW88TransmittedFrame] { state.withLock { $0.transmitted } }
    public func removeTransmittedFrames() { state.withLock { $0.transmitted.removeAll(keepingCapacity: true) } }
    public func register32(_ address: Int) -> UInt32 { state.withLock { $0.registers.word(address) } }
    public func rfRegister(_ address: Int) -> UInt32 { state.withLock { $0.registers.rf[address & 0xFF] } }

    // MARK: The air

    /// Frames on the air around this adapter alone (tests' scripted air).
    public func putOnAir(_ frames: [AirFrame], delivery: AirDelivery = .reliable) {
        hear(frames, delivery: delivery)
    }

    public func hear(_ frames: [AirFrame], delivery: AirDelivery) {
        let packets: [ReceivePipe.Packet] = state.withLock { state in
            guard !state.stopped, state.registers.receiveEnabled, let tuned = state.registers.tunedChannel else {
                state.statistics.framesNotHeard += frames.count
                return []
            }
            let keepsBadFCS = state.registers.receiveConfigurationValue & (1 << 8) != 0  // RCR ACRC32
            var packets: [ReceivePipe.Packet] = []
            for frame in frames {
                guard tuned.hears(frame.channel), let code = Self.decodableRate(frame, on: tuned),
                    !frame.corruptFCS || keepsBadFCS, frame.frame.count + 4 <= RTW88Formats.maximumPacketLength,
                    frame.frame.count >= 10
                else {
                    state.statistics.framesNotHeard += 1
                    continue
                }
                packets.append(
                    ReceivePipe.Packet(
                        bytes: RTW88Formats.receivedPacket(frame, rateCode: code, format: chip.phyStatusFormat),
                        lossy: delivery == .live))
            }
            return packets
        }
        receivePipe.enqueue(packets)
    }

    /// The descriptor rate of a frame this 1T1R chip can decode on `channel`.
    static func decodableRate(_ frame: AirFrame, on channel: AirChannel) -> UInt8? {
        if frame.rate.isCCK && channel.is5GHz { return nil }
        switch frame.rate {
        case .ht(let mcs) where mcs > 7: return nil
        case .vht(_, let streams) where streams > 1: return nil
        case .vht where !channel.is5GHz: return nil
        default: return RTW88Formats.descriptorRate(frame.rate)
        }
    }

    /// Benchmarks: `count` received frames built from `templates`, as fast
    /// as the driver takes them.
    public func startFlood(templates: [AirFrame], count: Int) {
        receivePipe.startFlood(templates: encodedPackets(templates), count: count)
    }

    /// `templates` in the chip's RX format (frames with a rate it lacks are left out).
    func encodedPackets(_ templates: [AirFrame]) -> [ReceivePipe.Packet] {
        templates.compactMap { frame -> ReceivePipe.Packet? in
            guard let code = RTW88Formats.descriptorRate(frame.rate) else { return nil }
            return ReceivePipe.Packet(
                bytes: RTW88Formats.receivedPacket(frame, rateCode: code, format: chip.phyStatusFormat), lossy: true)
        }
    }

    // MARK: USBDevice

    public func attached(_ link: USBDeviceLink) {
        receivePipe.attached(link)
    }

    public func submit(_ request: USBRequest) -> USBSubmitResult {
        switch request.endpoint {
        case 0x00, 0x80:
            return .completed(state.withLock { state in
                guard !state.stopped else { return .failure(USBErrno.shutdown) }
                let completion = handleControl(request, &state)
                if completion.error == USBErrno.stall { state.statistics.stalls += 1 }
                return completion
            })
        case Self.receiveEndpoint where request.type == .bulk:
            let configured = state.withLock { $0.configuration != 0 && !$0.stopped }
            return configured ? receivePipe.submit(request) : .refused(USBErrno.noDevice)
        case let endpoint where Self.transmitEndpoints.contains(endpoint) && request.type == .bulk:
            return transmitEmulation.measure { transmit(request) }
        case Self.interruptEndpoint where request.type == .interrupt:
            // The driver never submits it; a URB here would wait forever, as on hardware without events.
            return .refused(USBErrno.notSupported)
        default:
            return .refused(USBErrno.noEntry)
        }
    }

    public func cancel(_ handle: UInt64) {
        _ = receivePipe.cancel(handle)
    }

    /// Port reset (usb_reset_device at disconnect, enumeration): the chip
    /// starts over, powered down, with identical descriptors.
    public func reset() {
        state.withLock { state in
            state.configuration = 0
            state.registers.powerUpDefaults()
        }
        receivePipe.reset()
    }

    public func stop() {
        state.withLock { $0.stopped = true }
        receivePipe.stop()
        leaveAir()
    }

    // MARK: Transmit

    private func transmit(_ request: USBRequest) -> USBSubmitResult {
        let bytes = UnsafeRawBufferPointer(request.bytes)
        let descriptorLength = chip.transmitDescriptorLength
        var reports: [ReceivePipe.Packet] = []
        var onAir: [AirFrame] = []
        let refused: Bool = state.withLock { state in
            guard !state.stopped, state.configuration != 0 else { return true }
            var offset = 0
            var remaining = 1
            while offset + descriptorLength <= bytes.count && remaining > 0 {
                guard let descriptor = RTW88Formats.transmitDescriptor(bytes, at: offset) else { break }
                if offset == 0 { remaining = max(descriptor.aggregateCount, 1) }
                remaining -= 1
                // H2C packets have offset 0, yet their payload follows the descriptor too.
                let payloadStart = offset + descriptorLength
                guard payloadStart + descriptor.packetSize <= bytes.count else {
                    state.statistics.malformedTransmissions += 1
                    break
                }
                if !descriptor.checksumValid { state.statistics.badChecksums += 1 }
                let payload = bytes[payloadStart..<(payloadStart + descriptor.packetSize)]
                switch descriptor.queueSelect {
                case RTW88Formats.queueBeacon, RTW88Formats.queueH2C:
                    state.statistics.firmwarePackets += 1
                default:
                    state.statistics.framesTransmitted += 1
                    state.statistics.bytesTransmitted += descriptor.packetSize
                    let tuned = state.registers.tunedChannel
                    let rate = RTW88Formats.rate(descriptorRate: descriptor.rateCode)
                    if options.recordsTransmittedFrames && state.transmitted.count < options.transmittedFrameCapacity {
                        state.transmitted.append(
                            RTW88TransmittedFrame(
                                channel: tuned, queueSelect: descriptor.queueSelect, rate: rate, useRate: descriptor.useRate,
                                wantsReport: descriptor.wantsReport, frame: Array(payload)))
                    }
                    if options.air?.hasOtherMembers == true, let tuned, let rate, payload.count >= 10 {
                        onAir.append(
                            AirFrame(
                                channel: AirChannel(primary: tuned.primary)!, frame: Array(payload), rate: rate,
                                signalDBm: options.transmitSignalDBm))
                    }
                    if descriptor.wantsReport {
                        state.statistics.transmitReports += 1
                        state.c2hSequence &+= 1
                        reports.append(
                            ReceivePipe.Packet(
                                bytes: RTW88Formats.transmitReport(
                                    sequence: descriptor.reportSequence, acked: true, c2hSequence: state.c2hSequence),
                                lossy: false, stamped: false))
                    }
                }
                offset = (payloadStart + descriptor.packetSize + 7) / 8 * 8
            }
            return false
        }
        if refused { return .refused(USBErrno.noDevice) }
        // Outside our lock: other adapters' hear() takes theirs.
        options.air?.transmit(onAir, delivery: .live, from: self)
        receivePipe.enqueue(reports, after: Self.transmitReportDelayNanoseconds)
        return .completed(.success(actualLength: bytes.count))
    }

    // MARK: Control requests

    private func handleControl(_ request: USBRequest, _ state: inout State) -> USBCompletion {
        let setup = request.setup
        switch (setup.requestType, setup.request) {
        case (0xC0, 0x05):
            guard setup.index == 0, setup.length >= 1, request.length >= Int(setup.length), let buffer = request.buffer,
                Int(setup.value) + Int(setup.length) <= 0x10000
            else { return .stall }
            state.statistics.registerReads += 1
            for offset in 0..<Int(setup.length) {
                buffer.storeBytes(of: state.registers.read(Int(setup.value) + offset), toByteOffset: offset, as: UInt8.self)
            }
            return .success(actualLength: Int(setup.length))
        case (0x40, 0x05):
            guard setup.index == 0, setup.length >= 1, request.length >= Int(setup.length), let buffer = request.buffer,
                Int(setup.value) + Int(setup.length) <= 0x10000
            else { return .stall }
            state.statistics.registerWrites += 1
            let wasReceiving = state.registers.receiveEnabled
            let wasTuned = state.registers.tunedChannel
            state.registers.write(Int(setup.value), UnsafeRawBufferPointer(start: buffer, count: Int(setup.length)))
            // RX off, or a retune (the baseband restarts): what the FIFO held is gone.
            if (wasReceiving && !state.registers.receiveEnabled) || wasTuned != state.registers.tunedChannel {
                receivePipe.discardPackets()
            }
            return .success(actualLength: Int(setup.length))
        default:
            return standardRequests.answer(request, selectedConfiguration: &state.configuration) ?? .stall
        }
    }
}
