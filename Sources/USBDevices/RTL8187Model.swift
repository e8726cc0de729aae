// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import Foundation
import LinuxKernel
import SimulatedAir
import Synchronization
import SystemPackage
import USBHost

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
    let standardRequests: StandardDeviceRequests

    let state: HostMutex<State>
    let link = HostMutex<USBDeviceLink?>(nil)
    let wakeup = DispatchSemaphore(value: 0)
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
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
