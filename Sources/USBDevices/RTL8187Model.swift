// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import Foundation
import LinuxKernel
import SimulatedAir
import Synchronization
import SystemPackage
import USBHost

/// One frame on the simulated air around an emulated RTL8187.
public struct RTL8187AirFrame: Sendable, Equatable {
    /// 2.4 GHz channel number (1-14) it is sent on.
    public var channel: Int
    /// The 802.11 MPDU without FCS (the model appends a real CRC-32).
    public var frame: [UInt8]
    /// Hardware rate index, 0...11 (`RTL8187Hardware.bitratesKbps`).
    public var rateIndex: Int
    /// Signal at the receiver in dBm (`RTL8187Hardware.signalRangeDBm`),
    /// encoded as the AGC byte the driver turns back into dBm.
    public var signalDBm: Int
    public var shortPreamble: Bool
    /// Sent with a wrong FCS and the trailer's CRC error flag (received
    /// only while RX_CONF accepts bad frames, i.e. monitor flag fcsfail).
    public var corruptFCS: Bool

    public init(
        channel: Int, frame: [UInt8], rateIndex: Int, signalDBm: Int, shortPreamble: Bool = false,
        corruptFCS: Bool = false
    ) {
        self.channel = channel
        self.frame = frame
        self.rateIndex = rateIndex
        self.signalDBm = signalDBm
        self.shortPreamble = shortPreamble
        self.corruptFCS = corruptFCS
    }

    /// The frame as an RTL8225 hears `frame` of the shared air; nil for
    /// what it cannot decode (5 GHz, 40/80 MHz, HT/VHT, rates it lacks).
    public init?(heard frame: AirFrame) {
        guard frame.channel.widthMHz == 20, (1...14).contains(frame.channel.primary),
            case .legacy(let kbps) = frame.rate, let rateIndex = RTL8187Hardware.rateIndex(kbps: kbps),
            (10...RTL8187Hardware.maximumReceivedFrameLength).contains(frame.frame.count)
        else { return nil }
        self.init(
            channel: frame.channel.primary, frame: frame.frame, rateIndex: rateIndex, signalDBm: frame.signalDBm,
            shortPreamble: frame.shortPreamble, corruptFCS: frame.corruptFCS)
    }

    /// The signal the driver will report for it.
    public var reportedSignalDBm: Int {
        RTL8187Hardware.reportedSignalDBm(agc: RTL8187Hardware.agc(forSignalDBm: signalDBm))
    }
}

/// What to do with an air frame the adapter cannot take right now.
public enum RTL8187AirPolicy: Sendable {
    /// Scripted frames: wait until the driver has a receive URB free, so
    /// none on the tuned channel is lost (frames on other channels still
    /// go unheard).
    case waitForReceiver
    /// Live traffic: a frame no receive URB is waiting for is lost, as in
    /// the chip's FIFO overflowing.
    case live
}

/// One frame the driver sent through the bulk OUT endpoint.
public struct RTL8187TransmittedFrame: Sendable, Equatable {
    /// The channel the radio was tuned to (nil: not tuned yet).
    public var channel: Int?
    public var rateIndex: Int
    /// TX descriptor flags word as the driver wrote it.
    public var descriptorFlags: UInt32
    /// Retry limit from the descriptor (`(count - 1) << 8`, so count).
    public var retryLimit: Int
    /// The 802.11 frame after the 12-byte descriptor.
    public var frame: [UInt8]

    public var bitrateKbps: Int? {
        RTL8187Hardware.bitratesKbps.indices.contains(rateIndex) ? RTL8187Hardware.bitratesKbps[rateIndex] : nil
    }
}

/// A software RTL8187L USB Wi-Fi adapter (0bda:8187, RTL8187vD with an
/// RTL8225 radio and a 93C46 EEPROM) for the kernel's unmodified rtl8187
/// driver:
///
/// * Registers through vendor request 0x05 (0xC0 read, 0x40 write, wValue
///   address, wIndex page), with the behaviours the driver polls for: the
///   reset bit of CMD clears itself, an EEPROM_CMD LOAD returns to normal
///   mode (reloading the MAC registers), TX_CONF reports hardware version
///   8187vD, GPIO1 reports the radio switch, PGSELECT exposes the ASIC
///   revision at 0xFFFE.
/// * The EEPROM behind EEPROM_CMD's bit-banged Microwire pins, with the MAC
///   address at word 7 and TX-power words.
/// * RTL8225 register writes, whether bit-banged through RFPinsOutput or
///   sent as 0x8225-index control writes, and bit-banged reads; a write of
///   register 7 tunes the radio (rtl8225_chan).
/// * RX: a simulated air (`putOnAir`, `startFlood`): frames on the tuned
///   channel, accepted by RX_CONF while RX is enabled in CMD, fill pending
///   bulk IN URBs as frame + FCS + the 16-byte RX trailer.
/// * TX: bulk OUT frames are parsed (12-byte descriptor) and recorded; the
///   URB completes as the ACK.
///
/// Control transfers and TX complete inside `submit`. A receive URB
/// completes inside `submit` when a frame is ready, else the model's own
/// thread completes it when one arrives.
public final class RTL8187Model: USBDevice, AirListener {
    public struct Options: Sendable {
        /// EEPROM word 7-9.
        public var macAddress: [UInt8]
        /// 1: the driver writes the radio through 0x8225-index control
        /// requests; 0: it bit-bangs RFPinsOutput (B-cut chips).
        public var asicRevision: UInt8
        /// The hardware radio switch (GPIO1 bit 1); off blocks the radio through rfkill.
        public var radioSwitchOn: Bool
        /// Keep every transmitted frame (tests); off: count only (benchmarks).
        public var recordsTransmittedFrames: Bool
        public var transmittedFrameCapacity: Int
        /// Least time between two scripted frames; 0: as fast as receive URBs come back.
        public var airPaceNanoseconds: UInt64
        /// Acknowledge each TX URB inside `submit` rather than from the
        /// model's thread in batches (costs the driver one TX-status work
        /// run, a kernel thread switch, per frame).
        public var completesTransmitInline: Bool
        /// How long the model's thread lets TX URBs gather before it
        /// acknowledges them (roughly a USB transfer plus airtime).
        public var transmitAcknowledgeDelayNanoseconds: UInt64
        /// The air to join: what others send there is heard, what the driver
        /// sends goes there (nil: frames only from `putOnAir`).
        public var air: SimulatedAir?
        /// Signal other adapters hear this one's transmissions at.
        public var transmitSignalDBm: Int

        public init(
            macAddress: [UInt8] = RTL8187Model.defaultMACAddress, asicRevision: UInt8 = 1, radioSwitchOn: Bool = true,
            recordsTransmittedFrames: Bool = true, transmittedFrameCapacity: Int = 100_000,
            airPaceNanoseconds: UInt64 = 0, completesTransmitInline: Bool = false,
            transmitAcknowledgeDelayNanoseconds: UInt64 = 200_000, air: SimulatedAir? = nil, transmitSignalDBm: Int = -30
        ) {
            self.air = air
            self.transmitSignalDBm = transmitSignalDBm
            self.macAddress = macAddress
            self.asicRevision = asicRevision
            self.radioSwitchOn = radioSwitchOn
            self.recordsTransmittedFrames = recordsTransmittedFrames
            self.transmittedFrameCapacity = transmittedFrameCapacity
            self.airPaceNanoseconds = airPaceNanoseconds
            self.completesTransmitInline = completesTransmitInline
            self.transmitAcknowledgeDelayNanoseconds = transmitAcknowledgeDelayNanoseconds
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var registerReads = 0
        public var registerWrites = 0
        public var rfWrites = 0
        public var eepromWordsRead = 0
        /// Two driver paths interleaved on EEPROM_CMD: a LOAD written in
        /// the middle of a bit-banged EEPROM read, or program mode entered
        /// before the driver saw its LOAD finish. That is the link brought
        /// up before rtl8187's probe had read its LED setting, and it ends
        /// in "eeprom reset timeout!".
        public var eepromCommandsInterleaved = 0
        public var framesReceived = 0
        /// Air frames the adapter did not hear: other channel, RX off, or filtered by RX_CONF.
        public var framesNotHeard = 0
        /// Live air frames lost because no receive URB was waiting.
        public var framesOverflowed = 0
        public var framesTransmitted = 0
        public var bytesTransmitted = 0
        public var malformedTransmissions = 0
        public var cancelled = 0
        public var stalls = 0
    }

    /// Realtek's OUI with a fixed tail, locally unique enough for a model.
    public static let defaultMACAddress: [UInt8] = [0x00, 0xE0, 0x4C, 0x81, 0x87, 0x01]

    public let speed: USBSpeed = .high
    public let options: Options
    public let deviceDescriptor: USBDeviceDescriptor
    public let configuration: USBConfigurationDescriptor
    public let strings: [UInt8: String]
    private let standardRequests: StandardDeviceRequests

    private let state: HostMutex<State>
    private let link = HostMutex<USBDeviceLink?>(nil)
    private let wakeup = DispatchSemaphore(value: 0)
    private let workerStarted = Atomic<Bool>(false)
    private let workerFinished = DispatchSemaphore(value: 0)
    /// Bulk IN 1: one frame (+ FCS + trailer, MAC time patched in) per URB.
    public let receivePipe: ReceivePipe
    /// The chip's own work on bulk OUT (parsing, the air), for benchmarks.
    let transmitEmulation = EmulationCPUMeter()
    /// Our id on `options.air` while we are on it.
    private let airMembership = HostMutex<Int?>(nil)

    public init(options: Options = Options()) {
        precondition(options.macAddress.count == 6, "a MAC address has 6 bytes")
        self.options = options
        var device = USBDeviceDescriptor(vendorID: RTL8187Hardware.vendorID, productID: RTL8187Hardware.productID)
        device.maxPacketSize0 = 64
        device.deviceVersion = 0x0100
        device.manufacturerIndex = 1
        device.productIndex = 2
        device.serialNumberIndex = 3
        deviceDescriptor = device
        var interface = USBInterfaceDescriptor(
            number: 0, alternateSetting: 0, interfaceClass: 0xFF, stringIndex: 2,
            endpoints: [
                USBEndpointDescriptor(address: RTL8187Hardware.receiveEndpoint, type: .bulk, maxPacketSize: 512),
                USBEndpointDescriptor(address: RTL8187Hardware.transmitEndpoint, type: .bulk, maxPacketSize: 512),
            ])
        interface.interfaceSubClass = 0xFF
        interface.interfaceProtocol = 0xFF
        configuration = USBConfigurationDescriptor(value: 1, attributes: 0x80, maxPower: 250, interfaces: [interface])
        let serial = options.macAddress.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        strings = [1: "Manufacturer_Realtek", 2: "RTL8187_Wireless", 3: serial]
        standardRequests = StandardDeviceRequests(deviceDescriptor: device, configuration: configuration, strings: strings)
        state = HostMutex(State(eeprom: MicrowireEEPROM(words: Self.eepromImage(options)), options: options))
        // No FIFO of its own in the model: a live frame is lost unless a URB waits for it.
        receivePipe = ReceivePipe(
            layout: ReceivePipe.Layout(
                maximumTransferBytes: RTL8187Hardware.maximumReceivedFrameLength + 4 + RTL8187Hardware.receiveTrailerLength,
                maximumPacketsPerTransfer: 1, timestampOffset: 8, timestampBytes: 8, timestampFromEnd: true),
            fifoBytes: 0, threadName: "rtl8187-rx")
        receivePipe.setPace(nanoseconds: options.airPaceNanoseconds)
        state.withLock { $0.loadFromEEPROM() }
        if let air = options.air {
            let id = air.join(self)
            airMembership.withLock { $0 = id }
        }
    }

    /// The EEPROM contents: ID, TX power base, MAC address at word 7 and one
    /// TX-power byte per channel (low nibble CCK index <= 11, high nibble
    /// OFDM index <= 15, as rtl8225_rf_set_tx_power reads them).
    public static func eepromImage(_ options: Options) -> [UInt16] {
        var words = [UInt16](repeating: 0, count: 64)
        words[0] = 0x8129  // the RTL818x EEPROM signature
        words[RTL8187Hardware.eepromTransmitPowerBase] = 0x0000
        for index in 0..<3 {
            words[RTL8187Hardware.eepromMACAddress + index] =
                UInt16(options.macAddress[2 * index]) | UInt16(options.macAddress[2 * index + 1]) << 8
        }
        let powerPair: UInt16 = 0x6868  // CCK 8, OFDM 6 on both channels of the word
        for index in 0..<3 { words[RTL8187Hardware.eepromTransmitPowerChannel1 + index] = powerPair }
        for index in 0..<2 { words[RTL8187Hardware.eepromTransmitPowerChannel7 + index] = powerPair }
        for index in 0..<2 { words[RTL8187Hardware.eepromTransmitPowerChannel11 + index] = powerPair }
        return words
    }

    // MARK: State the host can look at

    public var macAddress: [UInt8] { options.macAddress }
    /// The channel the last RTL8225 register 7 write selected (nil: none yet).
    public var tunedChannel: Int? { state.withLock { $0.tunedChannel } }
    public var receiveEnabled: Bool { state.withLock { $0.receiveEnabled } }
    public var monitorMode: Bool { state.withLock { $0.receiveConfiguration & RTL8187Hardware.receiveConfigurationMonitor != 0 } }
    public var rfRegisters: [UInt16] { state.withLock { $0.rfRegisters } }
    public var statistics: Statistics {
        let pipe = receivePipe.statistics
        return state.withLock { state in
            var statistics = state.statistics
            statistics.eepromWordsRead = state.eeprom.wordsRead
            statistics.framesReceived = pipe.packetsDelivered
            statistics.framesOverflowed = pipe.packetsOverflowed
            statistics.cancelled += pipe.cancelled
            return statistics
        }
    }
    /// Receive URBs the driver has handed to the model and it still holds.
    public var pendingReceiveRequests: Int { receivePipe.pendingRequests }
    /// Scripted frames still waiting for a receive URB.
    public var framesWaitingOnAir: Int { receivePipe.packetsWaiting }
    public var floodRemaining: Int { receivePipe.floodRemaining }

    public var transmittedFrames: [RTL8187TransmittedFrame] { state.withLock { $0.transmitted } }

    public func removeTransmittedFrames() {
        state.withLock { $0.transmitted.removeAll(keepingCapacity: true) }
    }

    public func setRadioSwitch(on: Bool) {
        state.withLock { $0.radioSwitchOn = on }
    }

    // MARK: The air

    /// Puts frames on the air, in order. Frames on the tuned channel that
    /// RX_CONF accepts reach the driver; the others are not heard. Frames
    /// are validated here, so a bad one is reported before any is sent.
    public func putOnAir(_ frames: [RTL8187AirFrame], policy: RTL8187AirPolicy = .waitForReceiver) throws(RTL8187AirError) {
        var encoded: [EncodedAirFrame] = []
        encoded.reserveCapacity(frames.count)
        for (index, frame) in frames.enumerated() {
            encoded.append(try EncodedAirFrame(frame, index: index, lossy: policy == .live))
        }
        // Heard or not as the chip is configured now; a retune drops what waits.
        let packets: [ReceivePipe.Packet] = state.withLock { state in
            var packets: [ReceivePipe.Packet] = []
            packets.reserveCapacity(encoded.count)
            for frame in encoded {
                guard state.hears(frame) else {
                    state.statistics.framesNotHeard += 1
                    continue
                }
                packets.append(ReceivePipe.Packet(bytes: frame.wire, lossy: frame.lossy))
            }
            return packets
        }
        receivePipe.enqueue(packets)
    }

    /// The shared air: frames an RTL8225 can take (2.4 GHz, 20 MHz, one of
    /// its 12 rates); HT/VHT and 5 GHz frames are noise to it.
    public func hear(_ frames: [AirFrame], delivery: AirDelivery) {
        let heard = frames.compactMap(RTL8187AirFrame.init(heard:))
        let notHeard = frames.count - heard.count
        if notHeard > 0 { state.withLock { $0.statistics.framesNotHeard += notHeard } }
        try? putOnAir(heard, policy: delivery == .live ? .live : .waitForReceiver)
    }

    /// Sends `count` frames, cycling through `templates`, on whatever
    /// channel the radio is tuned to, as fast as the driver returns
    /// receive URBs (the benchmark's unlimited air).
    public func startFlood(templates: [RTL8187AirFrame], count: Int) throws(RTL8187AirError) {
        guard !templates.isEmpty, count > 0 else { return }
        var encoded: [ReceivePipe.Packet] = []
        for (index, frame) in templates.enumerated() {
            encoded.append(ReceivePipe.Packet(bytes: try EncodedAirFrame(frame, index: index, lossy: false).wire, lossy: false))
        }
        receivePipe.startFlood(templates: encoded, count: count)
    }

    public func stopFlood() {
        receivePipe.stopFlood()
    }

    // MARK: USBDevice

    public func attached(_ link: USBDeviceLink) {
        self.link.withLock { $0 = link }
        receivePipe.attached(link)
        guard !workerStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let worker = Thread { [self] in
            runWorker()
            workerFinished.signal()
        }
        worker.name = "rtl8187-model"
        worker.start()
    }

    public func submit(_ request: USBRequest) -> USBSubmitResult {
        switch request.endpoint {
        case 0x00, 0x80:
            return .completed(state.withLock { state in
                guard !state.stopped else { return .failure(USBErrno.shutdown) }
                let wasTuned = state.tunedChannel
                let wasReceiving = state.receiveEnabled
                let completion = handleControl(request, &state)
                if completion.error == USBErrno.stall { state.statistics.stalls += 1 }
                // A retune or RX off: frames waiting for the old setting are gone.
                if wasTuned != state.tunedChannel || (wasReceiving && !state.receiveEnabled) { receivePipe.discardPackets() }
                return completion
            })
        case RTL8187Hardware.transmitEndpoint where request.type == .bulk:
            enum Decision { case refuse(Errno), completed(USBCompletion), queued(wakeWorker: Bool) }
            let decision: Decision = transmitEmulation.measure {
                var onAir: AirFrame?
                let decision: Decision = state.withLock { state in
                    guard !state.stopped else { return .refuse(USBErrno.noDevice) }
                    guard state.configuration != 0 else { return .refuse(USBErrno.noEntry) }
                    let completion = transmit(request, &state, onAir: &onAir)
                    guard !state.completesTransmitInline else { return .completed(completion) }
                    state.transmitQueue.append((request.handle, completion))
                    return .queued(wakeWorker: state.transmitQueue.count == 1)
                }
                // Outside our lock: the other adapters' hear() takes theirs.
                if let onAir { options.air?.transmit([onAir], delivery: .live, from: self) }
                return decision
            }
            switch decision {
            case .refuse(let errno): return .refused(errno)
            case .completed(let completion): return .completed(completion)
            case .queued(let wakeWorker):
                if wakeWorker { wakeup.signal() }
                return .pending
            }
        case RTL8187Hardware.receiveEndpoint where request.type == .bulk:
            let configured = state.withLock { $0.configuration != 0 && !$0.stopped }
            return configured ? receivePipe.submit(request) : .refused(USBErrno.noDevice)
        default:
            return .refused(USBErrno.noEntry)
        }
    }

    public func cancel(_ handle: UInt64) {
        if receivePipe.cancel(handle) { return }
        let removed = state.withLock { state -> Bool in
            if let index = state.transmitQueue.firstIndex(where: { $0.handle == handle }) {
                state.transmitQueue.remove(at: index)
            } else {
                return false
            }
            state.statistics.cancelled += 1
            return true
        }
        // Not queued: a delivery has it and completes it in a moment.
        guard removed else { return }
        try? link.withLock { $0 }?.complete(handle, .failure(USBErrno.connectionReset))
    }

    public func reset() {
        state.withLock { $0.configuration = 0 }
    }

    public func stop() {
        if let id = airMembership.withLock({ id in defer { id = nil }; return id }) { options.air?.leave(id) }
        state.withLock { state in
            state.stopped = true
            state.transmitQueue.removeAll()
        }
        wakeup.signal()
        // Waits for a delivery writing into a URB's buffer: after we return the
        // bridge completes that URB and the kernel frees the buffer.
        receivePipe.stop()
        if workerStarted.load(ordering: .acquiring) {
            workerFinished.wait()
            workerFinished.signal()  // a second stop() must not hang
        }
    }

    private enum WorkerStep {
        case acknowledge([(handle: UInt64, completion: USBCompletion)])
        case wait
        case stop
    }

    private func runWorker() {
        while true {
            let step: WorkerStep = state.withLock { state in
                guard !state.stopped else { return .stop }
                if !state.transmitQueue.isEmpty {
                    defer { state.transmitQueue.removeAll(keepingCapacity: true) }
                    return .acknowledge(state.transmitQueue)
                }
                return .wait
            }
            switch step {
            case .stop:
                return
            case .acknowledge(var transmissions):
                // A real adapter acknowledges after USB and air time; waiting
                // as long lets frames sent meanwhile share the wake-up.
                if options.transmitAcknowledgeDelayNanoseconds > 0 {
                    HostClock.sleep(seconds: Double(options.transmitAcknowledgeDelayNanoseconds) / 1e9)
                    transmissions += state.withLock { state in
                        defer { state.transmitQueue.removeAll(keepingCapacity: true) }
                        return state.transmitQueue
                    }
                }
                // One wake-up acknowledges everything sent meanwhile, so the
                // driver's TX-status work runs once per batch, as with a
                // real adapter's USB latency, not once per frame.
                if let link = link.withLock({ $0 }) {
                    for transmission in transmissions {
                        try? link.complete(transmission.handle, transmission.completion)
                    }
                }
            case .wait:
                wakeup.wait()
            }
        }
    }

    // MARK: Transmit path

    private func transmit(_ request: USBRequest, _ state: inout State, onAir: inout AirFrame?) -> USBCompletion {
        let bytes = UnsafeRawBufferPointer(request.bytes)
        guard bytes.count >= RTL8187Hardware.transmitHeaderLength else {
            state.statistics.malformedTransmissions += 1
            return .success(actualLength: bytes.count)
        }
        let flags = bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian
        let retry = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        let frameLength = Int(flags & 0xFFF)
        guard frameLength <= bytes.count - RTL8187Hardware.transmitHeaderLength else {
            state.statistics.malformedTransmissions += 1
            return .success(actualLength: bytes.count)
        }
        state.statistics.framesTransmitted += 1
        state.statistics.bytesTransmitted += frameLength
        let rateIndex = Int((flags >> 24) & 0xF)
        if options.air?.hasOtherMembers == true, let channel = state.tunedChannel.flatMap({ AirChannel(primary: $0) }), frameLength >= 10,
            RTL8187Hardware.bitratesKbps.indices.contains(rateIndex)
        {
            let start = RTL8187Hardware.transmitHeaderLength
            onAir = AirFrame(
                channel: channel, frame: Array(bytes[start..<(start + frameLength)]),
                rate: .legacy(kbps: RTL8187Hardware.bitratesKbps[rateIndex]), signalDBm: options.transmitSignalDBm)
        }
        if state.recordsTransmittedFrames && state.transmitted.count < state.transmittedCapacity {
            let frame = Array(bytes[RTL8187Hardware.transmitHeaderLength..<(RTL8187Hardware.transmitHeaderLength + frameLength)])
            state.transmitted.append(
                RTL8187TransmittedFrame(
                    channel: state.tunedChannel, rateIndex: Int((flags >> 24) & 0xF), descriptorFlags: flags,
                    retryLimit: Int((retry >> 8) & 0xFF) + 1, frame: frame))
        }
        // The URB's completion is the ACK (rtl8187_tx_cb).
        return .success(actualLength: bytes.count)
    }

    // MARK: Control requests

    private func handleControl(_ request: USBRequest, _ state: inout State) -> USBCompletion {
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

    private struct State {
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

public enum RTL8187AirError: Error, Sendable, Equatable, CustomStringConvertible {
    case badChannel(index: Int, channel: Int)
    case badRate(index: Int, rateIndex: Int)
    case frameTooLong(index: Int, length: Int)
    case frameTooShort(index: Int, length: Int)
    /// A frame of the shared air the RTL8225 cannot take (5 GHz, 40/80 MHz, HT/VHT).
    case notDecodable
    case offeredLoadUnsupported

    public var description: String {
        switch self {
        case .badChannel(let index, let channel):
            return "air frame \(index): channel \(channel) is not a 2.4 GHz channel the RTL8225 tunes (1-14)"
        case .badRate(let index, let rate):
            return "air frame \(index): rate index \(rate) is not one of the RTL8187's 12 rates (0-11)"
        case .frameTooLong(let index, let length):
            return "air frame \(index): \(length) bytes do not fit the driver's receive buffer "
                + "(at most \(RTL8187Hardware.maximumReceivedFrameLength) bytes without FCS)"
        case .offeredLoadUnsupported:
            return "paced offered loads run on the rtw88 chips (their receive pipe models FIFO loss); use emulated:rtl8821au"
        case .notDecodable:
            return "the RTL8187 hears only legacy-rate 20 MHz frames on 2.4 GHz channels"
        case .frameTooShort(let index, let length):
            return "air frame \(index): \(length) bytes is shorter than an 802.11 header (10 bytes)"
        }
    }
}

/// An air frame as it will sit in a receive URB: frame, FCS and RX trailer,
/// built once (off the kernel's path); only the MAC time is patched in.
struct EncodedAirFrame: Sendable {
    let channel: Int
    let frameType: UInt8
    let receiverAddress: [UInt8]?
    let corruptFCS: Bool
    let lossy: Bool
    let wire: [UInt8]

    init(_ frame: RTL8187AirFrame, index: Int, lossy: Bool) throws(RTL8187AirError) {
        guard (1...14).contains(frame.channel) else { throw .badChannel(index: index, channel: frame.channel) }
        guard RTL8187Hardware.bitratesKbps.indices.contains(frame.rateIndex) else {
            throw .badRate(index: index, rateIndex: frame.rateIndex)
        }
        guard frame.frame.count >= 10 else { throw .frameTooShort(index: index, length: frame.frame.count) }
        guard frame.frame.count <= RTL8187Hardware.maximumReceivedFrameLength else {
            throw .frameTooLong(index: index, length: frame.frame.count)
        }
        channel = frame.channel
        frameType = (frame.frame[0] >> 2) & 0x3
        receiverAddress = Array(frame.frame[4..<10])
        corruptFCS = frame.corruptFCS
        self.lossy = lossy
        var fcs = CRC32.checksum(frame.frame)
        if frame.corruptFCS { fcs = ~fcs }
        var flags = UInt32(frame.frame.count + 4) & 0xFFF
        flags |= UInt32(frame.rateIndex) << 20
        flags |= RTL8187Hardware.receiveFlagFirstSegment | RTL8187Hardware.receiveFlagLastSegment
        if frame.corruptFCS { flags |= RTL8187Hardware.receiveFlagCRCError }
        if frame.shortPreamble { flags |= RTL8187Hardware.receiveFlagShortPreamble }
        if frame.frame[4] & 1 != 0 {
            flags |= frame.frame[4..<10].allSatisfy({ $0 == 0xFF }) ? RTL8187Hardware.receiveFlagBroadcast : RTL8187Hardware.receiveFlagMulticast
        }
        var wire = frame.frame
        wire.reserveCapacity(frame.frame.count + 4 + RTL8187Hardware.receiveTrailerLength)
        wire.appendLittleEndianValue(fcs)
        wire.appendLittleEndianValue(flags)
        wire.append(0)  // noise (unused by the driver)
        wire.append(0)  // signal: bit 7 is the antenna; A
        wire.append(RTL8187Hardware.agc(forSignalDBm: frame.signalDBm))
        wire.append(0)  // reserved
        wire.appendLittleEndianValue(UInt64(0))  // mac_time, patched at delivery
        self.wire = wire
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendLittleEndianValue<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
