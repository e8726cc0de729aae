// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import RadioDevices
import SimulatedAir
import SystemPackage
import USBDevices
import USBHost
import Wireless

/// A MAC address no default would produce: the probe shows the driver read the efuse.
let rtw88ProbeMAC: [UInt8] = [0x00, 0xE0, 0x4C, 0x21, 0xAB, 0x5E]

func rtw88Chip(named name: String?) -> RTW88Chip {
    switch name ?? "rtl8821au" {
    case "rtl8821au": return .rtl8821au
    case "rtl8821cu": return .rtl8821cu
    default: ProbeOutput.fail("unknown rtw88 chip \(name ?? ""): rtl8821au or rtl8821cu")
    }
}

/// Boots and opens the emulated chip on an air of its own (so a scenario
/// sees only its scripted frames), in monitor mode.
func openEmulatedRTW88(
    _ chip: RTW88Chip, tracePath: String? = nil, air: SimulatedAir = SimulatedAir(), kernel: Kernel? = nil,
    regulatoryDomain: String? = nil
) throws -> EmulatedRTW88 {
    let kernel = try kernel ?? Kernel.boot(memoryMiB: 256, commandLine: "mac80211_hwsim.radios=0")
    return try EmulatedRTW88(
        kernel: kernel, chip: chip,
        options: DeviceOptions(regulatoryDomain: regulatoryDomain, simulatedTraffic: false, usbTracePath: tracePath),
        modelOptions: RTW88Model.Options(macAddress: rtw88ProbeMAC, air: air))
}

/// rtw88-probe CHIP [trace.pcap]: the driver binds, downloads the synthetic
/// firmware, reads the efuse MAC, and monitor mode comes up on channel 6.
func runRTW88Probe(arguments: [String]) throws {
    let chip = rtw88Chip(named: arguments.first)
    let tracePath = arguments.dropFirst().first
    let watchdog = Watchdog(seconds: 60, message: "rtw88-probe scenario")
    defer { watchdog.disarm() }
    let device = try openEmulatedRTW88(chip, tracePath: tracePath)
    try device.tune(ChannelSpec(frequency: 2437))
    let firmware = chip.syntheticFirmware()
    // The 8051 download writes everything after the 32-byte header; 3081 chips go through DDMA.
    let downloaded = device.model.lastFirmwareImage
    let statistics = device.model.statistics
    ProbeOutput.result([
        "interface": device.monitorInterface.name,
        "interface_type": "\(device.monitorInterface.type)",
        "interface_mac": macText(device.monitorInterface.macAddress),
        "efuse_mac": macText(rtw88ProbeMAC),
        "bring_up_ms": "\(Int(device.bringUpSeconds * 1000))",
        "tuned": device.model.tunedChannel.map { "\($0.primary)/\($0.widthMHz)" } ?? "none",
        "firmware_downloads": "\(device.model.firmwareDownloads)",
        "firmware_image_matches": downloaded.map { $0 == Array(firmware.dropFirst(32)) ? "yes" : "no" } ?? "n/a",
        "firmware_bytes_copied": "\(device.model.firmwareBytesCopied)",
        "firmware_file_bytes": "\(firmware.count)",
        "efuse_reads": "\(device.model.efuseReads)",
        "register_reads": "\(statistics.registerReads)",
        "register_writes": "\(statistics.registerWrites)",
        "receive_enabled": device.model.receiveEnabled ? "yes" : "no",
        // The driver's URBs wait in the read-ahead layer; its own transfers at the chip.
        "pending_rx_urbs": "\(device.readAhead.driverURBsWaiting)",
        "read_ahead_at_chip": "\(device.readAhead.transfersAtDevice)",
        "chip_urbs_waiting": "\(device.model.receivePipe.pendingRequests)",
    ])
    device.shutdown()
    try device.kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// One phase of the RX scenario: where the radio is tuned and the frames
/// of the scripted air meant to arrive there.
struct RTW88ReceivePhase {
    let spec: ChannelSpec
    let channel: AirChannel
    let rates: [AirRate]
}

let rtw88ReceivePhases: [RTW88ReceivePhase] = [
    RTW88ReceivePhase(
        spec: ChannelSpec(frequency: 2437), channel: AirChannel(primary: 6)!,
        rates: AirRate.cckKbps.map { .legacy(kbps: $0) } + AirRate.ofdmKbps.map { .legacy(kbps: $0) } + (0...7).map { .ht(mcs: $0) }),
    RTW88ReceivePhase(
        spec: ChannelSpec(frequency: 5180), channel: AirChannel(primary: 36)!,
        rates: AirRate.ofdmKbps.map { .legacy(kbps: $0) } + (0...7).map { .ht(mcs: $0) }),
    RTW88ReceivePhase(
        spec: ChannelSpec(frequency: 5745, width: .vht80), channel: AirChannel(primary: 149, widthMHz: 80)!,
        rates: (0...9).map { .vht(mcs: $0, streams: 1) } + [.legacy(kbps: 6000), .ht(mcs: 3)]),
]

/// The scripted air around one phase: frames on that channel (its rates,
/// signals -20...-99 dBm) interleaved with frames on the other phases'
/// channels, which must go unheard.
func rtw88ScriptedAir(phase index: Int, count: Int) -> (all: [AirFrame], heard: [AirFrame]) {
    let phase = rtw88ReceivePhases[index]
    var all: [AirFrame] = []
    var heard: [AirFrame] = []
    for number in 0..<count {
        let elsewhere = number % 4 == 3
        let target = elsewhere ? rtw88ReceivePhases[(index + 1 + number % 2) % rtw88ReceivePhases.count] : phase
        let rate = target.rates[number % target.rates.count]
        // VHT/HT frames of a wide channel use its width; legacy ones 20 MHz.
        let channel: AirChannel =
            switch rate {
            case .legacy: AirChannel(primary: target.channel.primary)!
            case .ht: target.channel.widthMHz >= 40 ? AirChannel(primary: target.channel.primary, widthMHz: 40)! : target.channel
            case .vht: target.channel
            }
        let frame = FrameBuilder.data(
            station: .local(0x0A00_0000 | UInt32(number)), bssid: .local(0x0B00_0000 | UInt32(index)),
            destination: .local(0x0C00), sequence: UInt16(number & 0xFFF), payloadLength: 20 + (number * 53) % 1400,
            marker: 0x5257_0000 | UInt32(index << 12 | number))
        let air = AirFrame(channel: channel, frame: frame, rate: rate, signalDBm: -20 - (number * 2) % 80)
        all.append(air)
        if !elsewhere { heard.append(air) }
    }
    return (all, heard)
}

/// "frequency<TAB>rate<TAB>signal" as tshark's fields show them (see the test).
func rtw88ExpectedLine(_ frame: AirFrame, frequency: Int, format: RTW88Formats.PhyStatusFormat) -> String {
    let signal = frame.rate.isCCK ? RTW88Formats.reportedCCKSignal(frame.signalDBm, format: format) : frame.signalDBm
    let rate: String
    switch frame.rate {
    case .legacy(let kbps): rate = "legacy \(kbps % 1000 == 0 ? "\(kbps / 1000)" : "\(Double(kbps) / 1000)")"
    case .ht(let mcs): rate = "ht \(mcs)"
    case .vht(let mcs, let streams): rate = "vht \(mcs) \(streams)"
    }
    return "\(frequency)\t\(rate)\t\(signal)"
}

/// rtw88-rx CHIP out.pcapng [per-phase]: tunes to 6, 36 and 149 at 80 MHz;
/// in each phase the air carries frames for all three; exactly that
/// channel's must arrive, in order, byte-identical with a good FCS, rate
/// and signal as sent. Writes the capture and out.pcapng.expected.
func runRTW88Receive(arguments: [String]) throws {
    let chip = rtw88Chip(named: arguments.first)
    guard let path = arguments.dropFirst().first else { ProbeOutput.fail("rtw88-rx needs CHIP and the pcapng path") }
    let perPhase = arguments.dropFirst(2).first.flatMap { Int($0) } ?? 160
    let watchdog = Watchdog(seconds: 120, message: "rtw88-rx scenario")
    defer { watchdog.disarm() }
    let device = try openEmulatedRTW88(chip)
    let writer = try PcapNGWriter(
        output: try FileCaptureOutput(path: path), interfaceName: device.monitorInterface.name,
        interfaceDescription: device.interfaceDescription)
    var expectedLines: [String] = []
    var mismatches: [String] = []
    var captured = 0
    var expectedTotal = 0
    var drops: UInt64 = 0
    for index in rtw88ReceivePhases.indices {
        let phase = rtw88ReceivePhases[index]
        try device.tune(phase.spec)
        // Both receive paths, each checked byte for byte: the ring read in
        // place on even phases, recvmmsg copies on odd ones.
        let path: PacketReceivePath = index % 2 == 0 ? .ring : .copy
        let capture = try device.makeCapture(receivePath: path)
        if capture.receivePath != path {
            mismatches.append("channel \(phase.channel): capture took the \(capture.receivePath) path, not \(path)")
        }
        let (all, heard) = rtw88ScriptedAir(phase: index, count: perPhase)
        expectedTotal += heard.count
        device.model.putOnAir(all)
        var frames: [[UInt8]] = []
        let deadline = HostClock.monotonicNanoseconds() + 15_000_000_000
        var quietSince = HostClock.monotonicNanoseconds()
        while HostClock.monotonicNanoseconds() < deadline {
            let batch = try capture.receiveBatch()
            let now = CaptureRun.realtimeNanoseconds()
            for slot in 0..<batch {
                let frame = capture.frame(at: slot)
                // The kernel's receive time: within the last few seconds.
                if frame.timestampNanoseconds > now || now - frame.timestampNanoseconds > 5_000_000_000 {
                    mismatches.append("channel \(phase.channel) (\(path)): frame timestamp \(frame.timestampNanoseconds) vs now \(now)")
                }
                if frame.originalLength != frame.bytes.count {
                    mismatches.append("channel \(phase.channel) (\(path)): \(frame.bytes.count) of \(frame.originalLength) bytes")
                }
                try writer.writePacket(frame.bytes, originalLength: frame.originalLength, timestampNanoseconds: CaptureRun.realtimeNanoseconds())
                frames.append(Array(frame.bytes))
            }
            if batch > 0 { quietSince = HostClock.monotonicNanoseconds() }
            if frames.count >= heard.count && HostClock.monotonicNanoseconds() - quietSince > 300_000_000 { break }
        }
        drops += try capture.statistics().dropped
        capture.close()
        captured += frames.count
        if frames.count != heard.count { mismatches.append("channel \(phase.channel): \(frames.count) of \(heard.count) frames") }
        for (number, (bytes, sent)) in zip(frames, heard).enumerated() {
            let radiotap = try RadiotapHeader.parse(bytes)
            let mac = Array(bytes[radiotap.length...])
            let hasFCS = radiotap.flags?.contains(RadiotapFlags(rawValue: 0x10)) ?? false
            let body = hasFCS ? Array(mac.dropLast(4)) : mac
            let where_ = "channel \(phase.channel.primary) frame \(number)"
            if body != sent.frame { mismatches.append("\(where_): bytes differ") }
            if !hasFCS || Array(mac.suffix(4)) != CRC32.frameCheckSequence(sent.frame) { mismatches.append("\(where_): FCS") }
            if Int(radiotap.channelFrequency ?? 0) != phase.channel.primaryMHz { mismatches.append("\(where_): frequency") }
            let signal = sent.rate.isCCK ? RTW88Formats.reportedCCKSignal(sent.signalDBm, format: chip.phyStatusFormat) : sent.signalDBm
            if radiotap.antennaSignalDBm.map(Int.init) != signal {
                mismatches.append("\(where_): signal \(radiotap.antennaSignalDBm.map(String.init) ?? "none") != \(signal)")
            }
            let rateOK: Bool
            switch sent.rate {
            case .legacy(let kbps): rateOK = radiotap.rate.map { Int($0) * 500 } == kbps
            case .ht(let mcs): rateOK = radiotap.mcs.map { Int($0.index) } == mcs
            case .vht(let mcs, let streams): rateOK = radiotap.vht.map { $0.mcs == mcs && $0.spatialStreams == streams } ?? false
            }
            if !rateOK { mismatches.append("\(where_): rate \(radiotap.rateDescription ?? "none") != \(sent.rate)") }
            expectedLines.append(rtw88ExpectedLine(sent, frequency: phase.channel.primaryMHz, format: chip.phyStatusFormat))
        }
    }
    try writer.close()
    let expectedFile = try FileDescriptor.open(
        path + ".expected", .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
    _ = try expectedFile.closeAfter { try expectedFile.writeAll(Array((expectedLines.joined(separator: "\n") + "\n").utf8)) }
    let statistics = device.model.statistics
    ProbeOutput.result([
        "expected": "\(expectedTotal)",
        "captured": "\(captured)",
        "mismatches": "\(mismatches.count)",
        "model_not_heard": "\(statistics.framesNotHeard)",
        "kernel_drops": "\(drops)",
        "rx_transfers": "\(device.model.receivePipe.statistics.transfersCompleted)",
        "rx_packets": "\(device.model.receivePipe.statistics.packetsDelivered)",
    ])
    for line in mismatches.prefix(8) { ProbeOutput.warn("mismatch \(line)") }
    device.shutdown()
    try device.kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// rtw88-tx CHIP [count]: injects `count` frames on channel 6 and then on
/// 36 with radiotap rates cycling through legacy and HT rates; the model
/// must record each byte-identical on the tuned channel with the rate
/// rtw88 chooses (it ignores radiotap rates: management and group frames
/// go at the band's lowest rate), and answer each TX report.
func runRTW88Transmit(arguments: [String]) throws {
    let chip = rtw88Chip(named: arguments.first)
    let count = arguments.dropFirst().first.flatMap { Int($0) } ?? 400
    let watchdog = Watchdog(seconds: 180, message: "rtw88-tx scenario")
    defer { watchdog.disarm() }
    // The world domain makes 5 GHz no-IR: mac80211 would drop every injected frame on 36.
    let device = try openEmulatedRTW88(chip, regulatoryDomain: "US")
    var byteMismatches = 0
    var rateMismatches: [String] = []
    var channelMismatches = 0
    var recordedTotal = 0
    for spec in [ChannelSpec(frequency: 2437), ChannelSpec(frequency: 5180)] {
        try device.tune(spec)
        device.model.removeTransmittedFrames()
        let injector = try device.makeInjector()
        let is5GHz = spec.frequency > 5000
        var sent: [[UInt8]] = []
        for index in 0..<count {
            let frame: [UInt8]
            if index % 2 == 0 {
                frame = FrameBuilder.probeRequest(station: .local(0x0900_0000 | UInt32(index)), ssid: "tx-\(index)", sequence: UInt16(index & 0xFFF))
            } else {
                frame = FrameBuilder.data(
                    station: .local(0x0900_0000 | UInt32(index)),
                    bssid: MACAddress([0x01, 0x00, 0x5E, 0x00, UInt8(index >> 8), UInt8(index & 0xFF)]), destination: .local(0x0D57),
                    sequence: UInt16(index & 0xFFF), payloadLength: 40 + index % 900, marker: 0x5458_0000 | UInt32(index))
            }
            let radiotap: RadiotapTransmitOptions =
                index % 3 == 0
                ? RadiotapTransmitOptions(mcs: RadiotapMCS(known: RadiotapMCS.knownIndex, flags: 0, index: UInt8(index % 8)))
                : RadiotapTransmitOptions(rate: UInt8((is5GHz ? AirRate.ofdmKbps : AirRate.cckKbps + AirRate.ofdmKbps)[index % 8] / 500))
            try injector.send(radiotap.encodedHeader + frame)
            sent.append(frame)
        }
        _ = waitUntil(seconds: 10) { device.model.transmittedFrames.count >= count }
        injector.close()
        let recorded = device.model.transmittedFrames
        recordedTotal += recorded.count
        for (index, (frame, expected)) in zip(recorded, sent).enumerated() {
            if frame.frame != expected { byteMismatches += 1 }
            // tx.c: management frames at the lowest rate of the band; group data at 6 Mb/s.
            let expectedRate: AirRate = index % 2 == 0 ? (is5GHz ? .legacy(kbps: 6000) : .legacy(kbps: 1000)) : .legacy(kbps: 6000)
            if frame.rate != expectedRate { rateMismatches.append("\(spec.frequency) #\(index): \(frame.rate.map(String.init(describing:)) ?? "none")") }
            if frame.channel?.primaryMHz != spec.frequency { channelMismatches += 1 }
        }
    }
    // The reports go back through the RX pipe; give the driver a moment.
    HostClock.sleep(seconds: 0.7)
    let statistics = device.model.statistics
    let log = device.kernel.consoleLog
    ProbeOutput.result([
        "sent": "\(2 * count)",
        "recorded": "\(recordedTotal)",
        "byte_mismatches": "\(byteMismatches)",
        "rate_mismatches": "\(rateMismatches.count)",
        "channel_mismatches": "\(channelMismatches)",
        "reports_requested": "\(statistics.transmitReports)",
        "bad_checksums": "\(statistics.badChecksums)",
        "malformed": "\(statistics.malformedTransmissions)",
        "purge_warnings": "\(log.components(separatedBy: "failed to get tx report").count - 1)",
    ])
    for line in rateMismatches.prefix(5) { ProbeOutput.warn("rate mismatch \(line)") }
    device.shutdown()
    try device.kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// rtw88-air [count]: one kernel, one air, two drivers: the emulated
/// RTL8187L injects on channel 6 and the emulated RTL8821AU captures every
/// frame, byte-identical, at the rate the RTL8187 sent it.
func runRTW88SharedAir(arguments: [String]) throws {
    let count = arguments.first.flatMap { Int($0) } ?? 200
    let watchdog = Watchdog(seconds: 90, message: "rtw88-air scenario")
    defer { watchdog.disarm() }
    let air = SimulatedAir()
    let kernel = try Kernel.boot(memoryMiB: 256, commandLine: "mac80211_hwsim.radios=0")
    let sender = try EmulatedRTL8187(
        kernel: kernel, options: DeviceOptions(simulatedTraffic: false), modelOptions: RTL8187Model.Options(air: air))
    let receiver = try openEmulatedRTW88(.rtl8821au, air: air, kernel: kernel)
    try sender.tune(ChannelSpec(frequency: 2437))
    try receiver.tune(ChannelSpec(frequency: 2437))
    let capture = try receiver.makeCapture()
    let injector = try sender.makeInjector()
    var sent: [(frame: [UInt8], kbps: Int)] = []
    for index in 0..<count {
        let kbps = RTL8187Hardware.bitratesKbps[index % 12]
        let frame = FrameBuilder.data(
            station: .local(0x0E00_0000 | UInt32(index)), bssid: MACAddress([0x01, 0x00, 0x5E, 0, 0, UInt8(index & 0xFF)]),
            destination: .local(0x0E57), sequence: UInt16(index & 0xFFF), payloadLength: 30 + index * 7 % 1200,
            marker: 0x4149_0000 | UInt32(index))
        try injector.send(RadiotapTransmitOptions(rate: UInt8(kbps / 500), txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader + frame)
        sent.append((frame, kbps))
        // The RTL8821AU's FIFO holds 16 KiB of live air: pace like a real link.
        if index % 8 == 7 { HostClock.sleep(seconds: 0.002) }
    }
    var received: [[UInt8]] = []
    let deadline = HostClock.monotonicNanoseconds() + 10_000_000_000
    while received.count < count && HostClock.monotonicNanoseconds() < deadline {
        let batch = try capture.receiveBatch()
        for slot in 0..<batch { received.append(Array(capture.frame(at: slot).bytes)) }
    }
    var byteMismatches = 0
    var rateMismatches = 0
    for (bytes, expected) in zip(received, sent) {
        let radiotap = try RadiotapHeader.parse(bytes)
        let mac = Array(bytes[radiotap.length...])
        let hasFCS = radiotap.flags?.contains(RadiotapFlags(rawValue: 0x10)) ?? false
        if (hasFCS ? Array(mac.dropLast(4)) : mac) != expected.frame { byteMismatches += 1 }
        if radiotap.rate.map({ Int($0) * 500 }) != expected.kbps { rateMismatches += 1 }
    }
    ProbeOutput.result([
        "sent": "\(count)",
        "transmitted_by_rtl8187": "\(sender.model.statistics.framesTransmitted)",
        "received_by_rtl8821au": "\(received.count)",
        "byte_mismatches": "\(byteMismatches)",
        "rate_mismatches": "\(rateMismatches)",
        "overflowed": "\(receiver.model.receivePipe.statistics.packetsOverflowed)",
    ])
    injector.close()
    capture.close()
    sender.shutdown()
    receiver.shutdown()
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}
