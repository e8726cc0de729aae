// SPDX-License-Identifier: GPL-2.0-only

import SimulatedAir

// The receive side of the emulated RTL8187: air frames, validated and
// encoded once into the RX packets (frame + FCS + trailer) of bulk IN URBs.

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

extension RTL8187Model {
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
