// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import RadioDevices
import SimulatedAir
import Synchronization
import USBDevices
import USBHost
import Wireless

/// The rtl8187 and rtw88 receive targets: the real bring-up of each
/// emulated adapter (`EmulatedRTL8187`, `EmulatedRTW88`), with a
/// `ReceiveEndpointTap` in front of the model.
enum ReceiveTargets {
    /// rtl8187_init_urbs keeps 32 receive URBs submitted.
    static let rtl8187PoolSize = 32
    /// RTW_USB_RXCB_NUM.
    static let rtw88PoolSize = 4

    static func rtl8187(kernel: Kernel, watchdog: FuzzWatchdog) throws -> ReceiveFuzzTarget {
        try ReceiveFuzzTarget(name: "rtl8187-rx", refill: .restartInterface, watchdog: watchdog) {
            let (radio, tap) = try openRTL8187(kernel: kernel, mode: .hold)
            return try ReceiveFuzzSession(
                radio: radio, tap: tap, poolSize: rtl8187PoolSize, minimumTransferLength: RTL8187Hardware.receiveTrailerLength,
                completeShortTransfer: rtl8187Frame, avoidKnownFindings: avoidRTL8187Findings)
        }
    }

    static func rtw88(kernel: Kernel, watchdog: FuzzWatchdog) throws -> ReceiveFuzzTarget {
        try ReceiveFuzzTarget(name: "rtw88-rx", refill: .replug, watchdog: watchdog) {
            let (radio, tap) = try openRTW88(kernel: kernel, mode: .hold)
            return try ReceiveFuzzSession(radio: radio, tap: tap, poolSize: rtw88PoolSize)
        }
    }

    /// Short data as a frame of its own: the data, 4 bytes for the FCS and
    /// an RX trailer saying so (length, rate index 0, one segment), so a
    /// short record still reaches mac80211 instead of costing a URB.
    @Sendable static func rtl8187Frame(_ data: ArraySlice<UInt8>) -> [UInt8] {
        let flags = UInt32(data.count + 4) | RTL8187Hardware.receiveFlagFirstSegment | RTL8187Hardware.receiveFlagLastSegment
        var transfer = Array(data) + [0, 0, 0, 0]
        withUnsafeBytes(of: flags.littleEndian) { transfer += $0 }
        return transfer + [UInt8](repeating: 0, count: RTL8187Hardware.receiveTrailerLength - 4)
    }

    /// Keeps the RX trailer's rate index below 12 (F1) and its length above
    /// the FCS (F2): found, recorded, and each hit is a WARN (which can
    /// take the library down, F5), so ordinary records stay clear of them
    /// and raw ones (kind 0xEE) still reach them.
    @Sendable static func avoidRTL8187Findings(_ transfer: inout [UInt8]) {
        let at = transfer.count - RTL8187Hardware.receiveTrailerLength
        guard at >= 0 else { return }
        var flags = transfer[at..<(at + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        let rate = (flags >> 20) & 0xF
        if rate > 11 { flags = flags & ~(0xF << 20) | (rate % 12) << 20 }
        if flags & 0xFFF <= 4 { flags = flags & ~0xFFF | 5 }
        for index in 0..<4 { transfer[at + index] = UInt8(truncatingIfNeeded: flags >> (8 * index)) }
    }

    /// The tap must see the driver's own receive URBs: no read-ahead layer
    /// in between (it would pass the tap's transfers on with a copy).
    static var fuzzDeviceOptions: DeviceOptions {
        var options = DeviceOptions(simulatedTraffic: false)
        options.readAhead.depth = 0
        return options
    }

    static func openRTL8187(kernel: Kernel, mode: ReceiveEndpointTap.Mode) throws -> (EmulatedRTL8187, ReceiveEndpointTap) {
        let tapBox = HostMutex<ReceiveEndpointTap?>(nil)
        let radio = try EmulatedRTL8187(
            kernel: kernel, options: fuzzDeviceOptions, modelOptions: RTL8187Model.Options(),
            inFrontOfModel: { model in
                let tap = ReceiveEndpointTap(wrapping: model, endpoint: RTL8187Hardware.receiveEndpoint, mode: mode)
                tapBox.withLock { $0 = tap }
                return tap
            })
        try radio.tune(ChannelSpec(frequency: 2437))
        return (radio, tapBox.withLock { $0! })
    }

    static func openRTW88(kernel: Kernel, mode: ReceiveEndpointTap.Mode) throws -> (EmulatedRTW88, ReceiveEndpointTap) {
        let tapBox = HostMutex<ReceiveEndpointTap?>(nil)
        let radio = try EmulatedRTW88(
            kernel: kernel, chip: .rtl8821au, options: fuzzDeviceOptions,
            modelOptions: RTW88Model.Options(),
            inFrontOfModel: { model in
                let tap = ReceiveEndpointTap(wrapping: model, endpoint: RTW88Model.receiveEndpoint, mode: mode)
                tapBox.withLock { $0 = tap }
                return tap
            })
        return (radio, tapBox.withLock { $0! })
    }

    // MARK: Seeds: the models' real receive transfers

    /// Frames of a small air: beacons, probe requests, data of several
    /// lengths; `index` varies addresses and sequence numbers.
    static func airFrames(count: Int) -> [[UInt8]] {
        (0..<count).map { index in
            switch index % 4 {
            case 0:
                return FrameBuilder.beacon(
                    bssid: .local(0x0600_0000 | UInt32(index)), ssid: "fuzz-\(index)", channel: 6,
                    sequence: UInt16(index), timestampMicroseconds: UInt64(index) * 102_400, protected: index % 8 == 0)
            case 1:
                return FrameBuilder.probeRequest(station: .local(0x0700_0000 | UInt32(index)), ssid: "", sequence: UInt16(index))
            default:
                return FrameBuilder.data(
                    station: .local(0x0800_0000 | UInt32(index)), bssid: .local(0x0600_0001), destination: .local(0x0D00),
                    sequence: UInt16(index), payloadLength: [0, 40, 300, 1400][index % 4], marker: UInt32(index))
            }
        }
    }

    /// rtl8187 as the driver configured the model: every rate index, a
    /// short-preamble frame and one with a bad FCS, each in its own URB.
    static func recordRTL8187Transfers(kernel: Kernel) throws -> [[UInt8]] {
        let (radio, tap) = try openRTL8187(kernel: kernel, mode: .record)
        defer { radio.shutdown() }
        let frames = airFrames(count: 14).enumerated().map { index, frame in
            RTL8187AirFrame(
                channel: 6, frame: frame, rateIndex: index % 12, signalDBm: -20 - index * 5, shortPreamble: index == 12,
                corruptFCS: index == 13)
        }
        try radio.model.putOnAir(frames)
        return try waitForTransfers(tap, count: frames.count)
    }

    /// rtw88 (RTL8821AU): single frames and aggregates on 2.4 GHz (CCK,
    /// OFDM, HT) and 5 GHz at 80 MHz (OFDM, VHT), and a firmware TX report
    /// (C2H).
    static func recordRTW88Transfers(kernel: Kernel) throws -> [[UInt8]] {
        let (radio, tap) = try openRTW88(kernel: kernel, mode: .record)
        defer { radio.shutdown() }
        var expected = 0
        func air(_ channel: AirChannel, _ rates: [AirRate], aggregate: Int) throws {
            let frames = airFrames(count: rates.count * aggregate)
            for (rateIndex, rate) in rates.enumerated() {
                let batch = frames[(rateIndex * aggregate)..<((rateIndex + 1) * aggregate)].map { frame in
                    AirFrame(channel: channel, frame: frame, rate: rate, signalDBm: -30 - rateIndex * 9)
                }
                radio.model.putOnAir(batch)
                expected += 1
                _ = try waitForTransfers(tap, count: expected)
            }
        }
        try radio.tune(ChannelSpec(frequency: 2412))
        let channel1 = AirChannel(primary: 1)!
        try air(channel1, [.legacy(kbps: 1000), .legacy(kbps: 11000), .legacy(kbps: 54000), .ht(mcs: 7)], aggregate: 1)
        try air(channel1, [.legacy(kbps: 6000), .ht(mcs: 3)], aggregate: 5)
        try radio.tune(ChannelSpec(frequency: 5180, width: .vht80))
        let channel36 = radio.model.tunedChannel ?? AirChannel(primary: 36, widthMHz: 80)!
        try air(channel36, [.legacy(kbps: 24000), .vht(mcs: 9, streams: 1), .ht(mcs: 0)], aggregate: 1)
        try air(channel36, [.vht(mcs: 4, streams: 1)], aggregate: 8)
        // The firmware's TX report (C2H 0x03), as the model encodes it for
        // frames that ask for one: alone, and aggregated behind a frame.
        let report = RTW88Formats.transmitReport(sequence: 0x24, acked: true, c2hSequence: 1)
        var transfers = try waitForTransfers(tap, count: expected)
        let padded = transfers[0] + [UInt8](repeating: 0, count: (8 - transfers[0].count % 8) % 8)
        transfers += [report, padded + report]
        return transfers
    }

    private static func waitForTransfers(_ tap: ReceiveEndpointTap, count: Int) throws -> [[UInt8]] {
        let deadline = HostClock.monotonicNanoseconds() + 5_000_000_000
        while tap.recordedTransfers.count < count {
            guard HostClock.monotonicNanoseconds() < deadline else {
                throw FuzzHarnessError.setupFailed(
                    target: "seeds",
                    reason: "the model delivered \(tap.recordedTransfers.count) of \(count) receive transfers within 5 s")
            }
            HostClock.sleep(seconds: 0.002)
        }
        return tap.recordedTransfers
    }

    /// Seed inputs from recorded transfers: each alone, runs of three, and
    /// one of each other ending (out of order, an error, overlong).
    static func seedInputs(_ transfers: [[UInt8]], prefix: String) -> [(name: String, bytes: [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        for (index, transfer) in transfers.enumerated() {
            seeds.append(("\(prefix)-transfer-\(index)", ReceiveCompletionRecord.encode([.init(data: transfer)])))
        }
        for start in stride(from: 0, to: transfers.count - 2, by: 3) {
            let run = transfers[start..<(start + 3)].map { ReceiveCompletionRecord(data: $0) }
            seeds.append(("\(prefix)-run-\(start)", ReceiveCompletionRecord.encode(run)))
        }
        if transfers.count >= 2 {
            seeds.append((
                "\(prefix)-endings",
                ReceiveCompletionRecord.encode([
                    .init(ending: .deliveredOutOfOrder, data: transfers[0]),
                    .init(ending: .failed(USBErrno.protocolError), data: Array(transfers[1].prefix(16))),
                    .init(ending: .overlong, data: []),
                    .init(ending: .deliveredUnpadded, data: Array(transfers[1].suffix(8))),
                    .init(data: transfers[1]),
                ])))
        }
        return seeds
    }
}
