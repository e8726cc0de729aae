// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import RadioDevices
import SystemPackage
import USBDevices
import USBHost
import Wireless

/// A MAC address no default would produce, so the probe test shows the
/// driver really read the EEPROM.
let rtl8187ProbeMAC: [UInt8] = [0x00, 0xE0, 0x4C, 0x5A, 0x17, 0x3C]

func macText(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let text = String(byte, radix: 16)
        return text.count == 1 ? "0" + text : text
    }.joined(separator: ":")
}

/// Boots, plugs in the RTL8187 model (EEPROM MAC `rtl8187ProbeMAC`), waits
/// for the rtl8187 driver's wlan interface and brings it up in monitor
/// mode. With a path, the bring-up is recorded as a usbmon trace there.
func openEmulatedRTL8187(tracePath: String? = nil, modelOptions: RTL8187Model.Options) throws -> EmulatedRTL8187 {
    let kernel = try Kernel.boot(memoryMiB: 256, commandLine: EmulatedRTL8187.descriptor.kernelCommandLine)
    return try EmulatedRTL8187(
        kernel: kernel, options: DeviceOptions(simulatedTraffic: false, usbTracePath: tracePath), modelOptions: modelOptions)
}

/// rtl8187-probe [trace.pcap]: the driver binds, the wlan interface
/// appears with the EEPROM's MAC, monitor mode comes up.
func runRTL8187Probe(tracePath: String) throws {
    let watchdog = Watchdog(seconds: 60, message: "rtl8187-probe scenario")
    defer { watchdog.disarm() }
    let device = try openEmulatedRTL8187(
        tracePath: tracePath.isEmpty ? nil : tracePath, modelOptions: RTL8187Model.Options(macAddress: rtl8187ProbeMAC))
    let log = device.kernel.consoleLog
    let chipLine = log.split(separator: "\n").first { $0.contains("hwaddr") && $0.contains("RTL8187") }
    try device.tune(ChannelSpec(frequency: 2437))
    let statistics = device.model.statistics
    ProbeOutput.result([
        "interface": device.monitorInterface.name,
        "interface_type": "\(device.monitorInterface.type)",
        "interface_mac": macText(device.monitorInterface.macAddress),
        "eeprom_mac": macText(rtl8187ProbeMAC),
        "chip": chipLine.map { String($0.split(separator: "hwaddr ").last ?? "") } ?? "none",
        "bring_up_ms": "\(Int(device.bringUpSeconds * 1000))",
        "tuned_channel": "\(device.model.tunedChannel ?? 0)",
        "eeprom_words_read": "\(statistics.eepromWordsRead)",
        "eeprom_commands_interleaved": "\(statistics.eepromCommandsInterleaved)",
        "register_reads": "\(statistics.registerReads)",
        "register_writes": "\(statistics.registerWrites)",
        "rf_writes": "\(statistics.rfWrites)",
        "radio_switch": log.contains("rtl8187: wireless switch is on") ? "on" : "off",
    ])
    device.shutdown()
    try device.kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// The scripted air of the RX scenario: `count` frames, alternating runs
/// on channels 6 and 11, each with its own rate index and signal.
func rtl8187ScriptedAir(count: Int) -> [RTL8187AirFrame] {
    (0..<count).map { index in
        let channel = index % 3 == 2 ? 11 : 6
        let frame: [UInt8]
        switch index % 4 {
        case 0:
            frame = FrameBuilder.beacon(
                bssid: .local(0x0600_0000 | UInt32(index)), ssid: "rx-test-\(index)", channel: channel,
                sequence: UInt16(index & 0xFFF), timestampMicroseconds: UInt64(index) * 102_400, protected: index % 8 == 0)
        case 1:
            frame = FrameBuilder.probeRequest(station: .local(0x0700_0000 | UInt32(index)), ssid: index % 2 == 0 ? "" : "x", sequence: UInt16(index & 0xFFF))
        default:
            frame = FrameBuilder.data(
                station: .local(0x0800_0000 | UInt32(index)), bssid: .local(0x0600_0001), destination: .local(0x0D00),
                sequence: UInt16(index & 0xFFF), payloadLength: 20 + (index * 37) % 1400, marker: 0x5258_0000 | UInt32(index))
        }
        return RTL8187AirFrame(
            channel: channel, frame: frame, rateIndex: (index + index / 12) % 12, signalDBm: -20 - (index * 7) % 80,
            shortPreamble: index % 5 == 1)
    }
}

/// rtl8187-rx <out.pcapng> [count]: monitor capture on channel 6 while the
/// model's air carries `count` frames on channels 6 and 11. Checks that
/// exactly the channel-6 frames arrive, in order, byte-identical, with the
/// rate and signal the model encoded; writes the capture to the pcapng
/// file and, next to it (.expected), one line per expected frame
/// "frequency<TAB>rate Mb/s<TAB>signal dBm" for tshark to be compared with.
func runRTL8187Receive(arguments: [String]) throws {
    guard let path = arguments.first, !path.isEmpty else { ProbeOutput.fail("rtl8187-rx needs the pcapng path") }
    let count = arguments.dropFirst().first.flatMap { Int($0) } ?? 300
    let watchdog = Watchdog(seconds: 90, message: "rtl8187-rx scenario")
    defer { watchdog.disarm() }
    let device = try openEmulatedRTL8187(modelOptions: RTL8187Model.Options())
    try device.tune(ChannelSpec(frequency: 2437))
    let capture = try device.makeCapture()
    let writer = try PcapNGWriter(
        output: try FileCaptureOutput(path: path), interfaceName: device.monitorInterface.name,
        interfaceDescription: device.interfaceDescription)

    let air = rtl8187ScriptedAir(count: count)
    let expected = air.filter { $0.channel == 6 }
    try device.model.putOnAir(air)

    var captured: [[UInt8]] = []
    let deadline = HostClock.monotonicNanoseconds() + 20_000_000_000
    var quietSince = HostClock.monotonicNanoseconds()
    // Until every expected frame is in, then 300 ms more: nothing else may come.
    while HostClock.monotonicNanoseconds() < deadline {
        let batch = try capture.receiveBatch()
        for index in 0..<batch {
            let frame = capture.frame(at: index)
            try writer.writePacket(frame.bytes, originalLength: frame.originalLength, timestampNanoseconds: frame.timestampNanoseconds)
            captured.append(Array(frame.bytes))
        }
        if batch > 0 { quietSince = HostClock.monotonicNanoseconds() }
        if captured.count >= expected.count && HostClock.monotonicNanoseconds() - quietSince > 300_000_000 { break }
    }
    let socketStatistics = try capture.statistics()
    try writer.writeStatistics(
        InterfaceStatistics(
            startNanoseconds: 0, endNanoseconds: CaptureRun.realtimeNanoseconds(), received: socketStatistics.received,
            osDropped: socketStatistics.dropped, delivered: UInt64(captured.count)))
    try writer.close()

    var byteMismatches: [Int] = []
    var fcsMismatches: [Int] = []
    var rateMismatches: [String] = []
    var signalMismatches: [String] = []
    var frequencyMismatches = 0
    for (index, (bytes, sent)) in zip(captured, expected).enumerated() {
        let radiotap = try RadiotapHeader.parse(bytes)
        let mac = Array(bytes[radiotap.length...])
        // RX_INCLUDES_FCS: monitor frames keep the FCS (radiotap flag 0x10).
        let hasFCS = radiotap.flags?.contains(RadiotapFlags(rawValue: 0x10)) ?? false
        let body = hasFCS ? Array(mac.dropLast(4)) : mac
        if body != sent.frame { byteMismatches.append(index) }
        if !hasFCS || Array(mac.suffix(4)) != CRC32.frameCheckSequence(sent.frame) { fcsMismatches.append(index) }
        let expectedRate = UInt8(RTL8187Hardware.bitratesKbps[sent.rateIndex] / 500)
        if radiotap.rate != expectedRate { rateMismatches.append("\(index): \(radiotap.rate.map(String.init) ?? "none") != \(expectedRate)") }
        if radiotap.antennaSignalDBm.map(Int.init) != sent.reportedSignalDBm {
            signalMismatches.append("\(index): \(radiotap.antennaSignalDBm.map(String.init) ?? "none") != \(sent.reportedSignalDBm)")
        }
        if radiotap.channelFrequency != 2437 { frequencyMismatches += 1 }
    }
    let expectedLines = expected.map { frame in
        let kbps = RTL8187Hardware.bitratesKbps[frame.rateIndex]
        let rate = kbps % 1000 == 0 ? "\(kbps / 1000)" : "\(Double(kbps) / 1000)"
        return "2437\t\(rate)\t\(frame.reportedSignalDBm)"
    }
    let expectedFile = try FileDescriptor.open(
        path + ".expected", .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
    _ = try expectedFile.closeAfter { try expectedFile.writeAll(Array((expectedLines.joined(separator: "\n") + "\n").utf8)) }
    let statistics = device.model.statistics
    ProbeOutput.result([
        "air_frames": "\(air.count)",
        "expected": "\(expected.count)",
        "captured": "\(captured.count)",
        "byte_mismatches": "\(byteMismatches.count)",
        "fcs_mismatches": "\(fcsMismatches.count)",
        "rate_mismatches": "\(rateMismatches.count)",
        "signal_mismatches": "\(signalMismatches.count)",
        "frequency_mismatches": "\(frequencyMismatches)",
        "distinct_rates": "\(Set(expected.map(\.rateIndex)).count)",
        "distinct_signals": "\(Set(expected.map(\.reportedSignalDBm)).count)",
        "model_received": "\(statistics.framesReceived)",
        "model_not_heard": "\(statistics.framesNotHeard)",
        "kernel_drops": "\(socketStatistics.dropped)",
    ])
    if let first = byteMismatches.first { ProbeOutput.warn("first byte mismatch at captured frame \(first)") }
    for line in (rateMismatches + signalMismatches).prefix(5) { ProbeOutput.warn("mismatch \(line)") }
    device.shutdown()
    try device.kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// rtl8187-tx [count]: injects `count` group-addressed data frames on
/// channel 6 with radiotap rates cycling through the 12 legacy rates;
/// the model must record each, byte-identical, at that rate, on channel 6.
func runRTL8187Transmit(arguments: [String]) throws {
    let count = arguments.first.flatMap { Int($0) } ?? 240
    let watchdog = Watchdog(seconds: 60, message: "rtl8187-tx scenario")
    defer { watchdog.disarm() }
    let device = try openEmulatedRTL8187(modelOptions: RTL8187Model.Options())
    try device.tune(ChannelSpec(frequency: 2437))
    device.model.removeTransmittedFrames()
    let injector = try device.makeInjector()
    var sent: [(frame: [UInt8], rateIndex: Int)] = []
    for index in 0..<count {
        let rateIndex = index % 12
        let frame = FrameBuilder.data(
            station: .local(0x0900_0000 | UInt32(index)),
            bssid: MACAddress([0x01, 0x00, 0x5E, 0x00, UInt8(index >> 8), UInt8(index & 0xFF)]), destination: .local(0x0D57),
            sequence: UInt16(index & 0xFFF), payloadLength: 40 + index % 900, marker: 0x5458_0000 | UInt32(index))
        let radiotap = RadiotapTransmitOptions(
            rate: UInt8(RTL8187Hardware.bitratesKbps[rateIndex] / 500), txFlags: RadiotapTransmitOptions.txFlagNoAck)
        try injector.send(radiotap.encodedHeader + frame)
        sent.append((frame, rateIndex))
    }
    _ = waitUntil(seconds: 5) { device.model.statistics.framesTransmitted >= count }
    let recorded = device.model.transmittedFrames
    var byteMismatches = 0
    var rateMismatches: [String] = []
    var channelMismatches = 0
    for (index, (frame, expected)) in zip(recorded, sent).enumerated() {
        if frame.frame != expected.frame { byteMismatches += 1 }
        if frame.rateIndex != expected.rateIndex { rateMismatches.append("\(index): \(frame.rateIndex) != \(expected.rateIndex)") }
        if frame.channel != 6 { channelMismatches += 1 }
    }
    let statistics = device.model.statistics
    ProbeOutput.result([
        "sent": "\(count)",
        "recorded": "\(recorded.count)",
        "byte_mismatches": "\(byteMismatches)",
        "rate_mismatches": "\(rateMismatches.count)",
        "channel_mismatches": "\(channelMismatches)",
        "malformed": "\(statistics.malformedTransmissions)",
    ])
    for line in rateMismatches.prefix(5) { ProbeOutput.warn("rate mismatch \(line)") }
    if byteMismatches > 0, let (index, pair) = zip(recorded, sent).enumerated().first(where: { $0.element.0.frame != $0.element.1.frame }) {
        let differing = (0..<min(pair.0.frame.count, pair.1.frame.count)).filter { pair.0.frame[$0] != pair.1.frame[$0] }.prefix(8)
        ProbeOutput.warn("frame \(index) differs at bytes \(Array(differing)); lengths \(pair.0.frame.count) / \(pair.1.frame.count)")
    }
    injector.close()
    device.shutdown()
    try device.kernel.halt()
    ProbeOutput.result("halted", 1)
}
