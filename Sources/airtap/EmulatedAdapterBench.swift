// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import LinuxKernel
import RadioDevices
import SimulatedAir
import USBDevices
import USBHost
import Wireless

extension BenchCommand {
    /// The emulated adapters `bench` measures, by name, opened without
    /// background traffic and without recording transmitted frames.
    static let emulatedBenchDevices: [String: @Sendable (Kernel, DeviceOptions) throws -> any RadioDevice] = [
        EmulatedRTL8187.descriptor.name: { kernel, options in
            try EmulatedRTL8187(
                kernel: kernel, options: options, modelOptions: RTL8187Model.Options(recordsTransmittedFrames: false))
        },
        "emulated:rtl8821au": { kernel, options in try openBenchRTW88(.rtl8821au, kernel: kernel, options: options) },
        "emulated:rtl8821cu": { kernel, options in try openBenchRTW88(.rtl8821cu, kernel: kernel, options: options) },
        // The real-adapter code path (LibUSBAdapter, event thread) with the model behind it.
        "emulated-libusb:rtl8821au": { kernel, options in
            try StandInUSBAdapter.descriptor(for: .rtl8821au, recordsTransmittedFrames: false).open(
                on: kernel, options: options)
        },
    ]

    static func openBenchRTW88(_ chip: RTW88Chip, kernel: Kernel, options: DeviceOptions) throws -> EmulatedRTW88 {
        try EmulatedRTW88(
            kernel: kernel, chip: chip, options: options,
            modelOptions: RTW88Model.Options(recordsTransmittedFrames: false))
    }

    /// The options every emulated adapter is benched with.
    var benchDeviceOptions: DeviceOptions {
        var options = DeviceOptions(simulatedTraffic: false)
        options.readAhead = ReadAheadUSBDevice.Policy(depth: readAhead, minimumAtDevice: readAheadIdle)
        return options
    }

    /// `airtap bench --device emulated:...`: the full USB path.
    ///
    /// * Bring-up: plugging the model in to the monitor interface being up
    ///   (enumeration, the driver's probe, firmware, ieee80211 registration,
    ///   chip and RF init), as wall time and as this process's CPU time
    ///   (software time); the difference is waiting: the hub's debounce and
    ///   the driver's own sleeps.
    /// * Channel switch: nl80211 set-channel until the model's RF registers
    ///   say the radio is there, wall and CPU per switch.
    /// * RX: the model's air floods the tuned channel as fast as the driver
    ///   returns receive URBs; the main thread captures to pcapng.
    /// * TX: the main thread injects on the monitor interface; the model
    ///   parses each bulk OUT URB and completes it (the ACK).
    func runEmulatedAdapterBench(open: @Sendable (Kernel, DeviceOptions) throws -> any RadioDevice) throws {
        _ = try FileCaptureOutput(path: output)
        let label = self.device.replacingOccurrences(of: "emulated:", with: "").replacingOccurrences(of: ":", with: "_")
        let maximumSize = self.device == EmulatedRTL8187.descriptor.name ? RTL8187Hardware.maximumReceivedFrameLength : 2304
        let frameSizes = try sizes.split(separator: ",").map { text -> Int in
            guard let size = Int(text), (24 + 8 + 4...maximumSize).contains(size) else {
                throw ValidationError("frame size \(text) must be 36...\(maximumSize) bytes for \(self.device)")
            }
            return size
        }
        let kernel = try Kernel.boot(memoryMiB: 256, commandLine: "mac80211_hwsim.radios=0")
        let cpuBefore = processCPUSeconds()
        let adapter = try open(kernel, benchDeviceOptions)
        let bringUpCPU = processCPUSeconds() - cpuBefore
        do {
            guard let chip = emulatedChip(of: adapter), let bringUp = bringUpSeconds(of: adapter) else {
                throw ValidationError("\(self.device) has no emulated chip to bench")
            }
            try measureAll(
                BenchTarget(device: adapter, chip: chip, bringUpSeconds: bringUp), label: label, frameSizes: frameSizes,
                bringUpCPU: bringUpCPU)
        } catch {
            adapter.shutdown()
            try? kernel.halt()
            throw error
        }
        adapter.shutdown()
        try kernel.halt()
        // The whole run's high-water mark: every driver is built in, and
        // the floods filled a 64 MiB socket buffer and the receive ring.
        print("peak RSS: \(String(format1: Double(processPeakResidentKiB()) / 1024)) MiB")
        print("RESULT \(label)_peak_rss kib=\(processPeakResidentKiB())")
    }

    /// A device under bench and its chip model's counters.
    struct BenchTarget {
        var device: any RadioDevice
        var chip: any EmulatedChip
        var bringUpSeconds: Double
    }

    private func measureAll(_ target: BenchTarget, label: String, frameSizes: [Int], bringUpCPU: Double) throws {
        let device = target.device
        try device.tune(ChannelSpec(frequency: 2437))
        print("airtap bench: emulated \(label) -> kernel driver (virtual USB host controller) -> \(device.monitorInterface.name) -> pcapng (\(output)), receive path \(receivePath.rawValue)")
        let wallMilliseconds = target.bringUpSeconds * 1000
        print("bring-up (attach -> monitor interface up): \(String(format2: wallMilliseconds)) ms wall, "
            + "\(String(format2: bringUpCPU * 1000)) ms software (CPU), \(String(format2: wallMilliseconds - bringUpCPU * 1000)) ms waiting "
            + "(hub debounce, driver sleeps)")
        print("RESULT \(label)_bringup wall_ms=\(String(format2: wallMilliseconds)) cpu_ms=\(String(format2: bringUpCPU * 1000)) waiting_ms=\(String(format2: wallMilliseconds - bringUpCPU * 1000))")

        let switchResult = try measureChannelSwitches(device: device, switches: 60)
        print("channel switch: \(String(format2: switchResult.wallMilliseconds)) ms wall, \(String(format2: switchResult.cpuMilliseconds)) ms software per switch (\(switchResult.channels))")
        print("RESULT \(label)_channel_switch wall_ms=\(String(format2: switchResult.wallMilliseconds)) cpu_ms=\(String(format2: switchResult.cpuMilliseconds))")
        try device.tune(ChannelSpec(frequency: 2437))

        // PATH: less the emulated chip's own work (what real hardware does in silicon).
        print("RX   " + "SIZE   FRAMES    CAPTURED/S   CPU US/FRAME   KERNEL DROPS   LOST".padded(to: 70) + "PATH US/FRAME")
        for size in frameSizes {
            var results: [Measurement] = []
            for _ in 0..<runs {
                let result = try measureReceive(target, frameSize: size, frameCount: frames)
                print("RX   " + result.row.padded(to: 70) + String(format2: result.pathCPUMicrosecondsPerFrame))
                print("RESULT \(label)_rx size=\(size) captured_fps=\(Int(result.capturedPerSecond)) cpu_us_per_frame=\(String(format2: result.cpuMicrosecondsPerFrame)) drops=\(result.kernelDrops) lost=\(result.lost) frames_per_batch=\(String(format2: result.framesPerBatch)) switches_per_frame=\(String(format2: result.switchesPerFrame)) path_cpu_us_per_frame=\(String(format2: result.pathCPUMicrosecondsPerFrame))")
                results.append(result)
            }
            RunSpread.report("\(label)_rx", size: size, [
                ("captured_fps", results.map(\.capturedPerSecond)), ("cpu_us_per_frame", results.map(\.cpuMicrosecondsPerFrame)),
                ("path_cpu_us_per_frame", results.map(\.pathCPUMicrosecondsPerFrame)),
            ])
        }
        if !offeredRates.isEmpty { try runOfferedLoads(target, label: label) }
        print("TX   SIZE   FRAMES    SENT/S       CPU US/FRAME   ADAPTER SENT   PATH US/FRAME")
        for size in frameSizes {
            var results: [TransmitMeasurement] = []
            for _ in 0..<runs {
                let result = try measureTransmit(target, frameSize: size, frameCount: frames)
                print("TX   " + String(size).padded(to: 7) + String(result.sent).padded(to: 10) + String(Int(result.perSecond)).padded(to: 13)
                    + String(format2: result.cpuMicrosecondsPerFrame).padded(to: 15) + String(result.transmitted).padded(to: 15)
                    + String(format2: result.pathCPUMicrosecondsPerFrame))
                print("RESULT \(label)_tx size=\(size) injected_fps=\(Int(result.perSecond)) cpu_us_per_frame=\(String(format2: result.cpuMicrosecondsPerFrame)) adapter_sent=\(result.transmitted) switches_per_frame=\(String(format2: result.switchesPerFrame)) path_cpu_us_per_frame=\(String(format2: result.pathCPUMicrosecondsPerFrame))")
                results.append(result)
            }
            RunSpread.report("\(label)_tx", size: size, [
                ("injected_fps", results.map(\.perSecond)), ("cpu_us_per_frame", results.map(\.cpuMicrosecondsPerFrame)),
                ("path_cpu_us_per_frame", results.map(\.pathCPUMicrosecondsPerFrame)),
                ("switches_per_frame", results.map(\.switchesPerFrame)),
            ])
        }
    }

    struct ChannelSwitchMeasurement {
        var wallMilliseconds: Double
        var cpuMilliseconds: Double
        var channels: String
    }

    /// Cycles over the device's own bands: 1, 6, 11 and, with 5 GHz, 36 and 149 at 80 MHz.
    func measureChannelSwitches(device: any RadioDevice, switches: Int) throws -> ChannelSwitchMeasurement {
        var specs = [2412, 2437, 2462].map { ChannelSpec(frequency: $0) }
        if device.wiphy.bands.contains(where: { $0.frequencies.contains { $0.mhz == 5180 } }) {
            specs += [ChannelSpec(frequency: 5180), ChannelSpec(frequency: 5745, width: .vht80)]
        }
        let startCPU = processCPUSeconds()
        let start = HostClock.monotonicNanoseconds()
        for index in 0..<switches { try device.tune(specs[index % specs.count]) }
        let wall = Double(HostClock.monotonicNanoseconds() - start) / 1e6
        let cpu = (processCPUSeconds() - startCPU) * 1000
        return ChannelSwitchMeasurement(
            wallMilliseconds: wall / Double(switches), cpuMilliseconds: cpu / Double(switches),
            channels: specs.map(\.description).joined(separator: ", "))
    }

    /// What every RX run uses: the capture socket, a pcapng writer to
    /// `output`, and a few distinct frames to cycle (54 Mb/s, -50 dBm, channel 6).
    func receiveSetUp(
        _ device: any RadioDevice, frameSize: Int
    ) throws -> (PacketCapture, PcapNGWriter, [AirFrame]) {
        let capture = try device.makeCapture(receiveBufferBytes: 64 << 20, receivePath: receivePath)
        let writer = try PcapNGWriter(
            output: try FileCaptureOutput(path: output), interfaceName: device.monitorInterface.name,
            interfaceDescription: device.interfaceDescription)
        let templates = (0..<16).map { index in
            AirFrame(
                channel: AirChannel(primary: 6)!,
                frame: FrameBuilder.data(totalLength: frameSize, sequence: UInt16(index), marker: UInt32(index)),
                rate: .legacy(kbps: 54000), signalDBm: -50)
        }
        return (capture, writer, templates)
    }

    func measureReceive(_ target: BenchTarget, frameSize: Int, frameCount: Int) throws -> Measurement {
        let device = target.device
        let chip = target.chip
        let (capture, writer, templates) = try receiveSetUp(device, frameSize: frameSize)
        defer { capture.close() }
        let deliveredBefore = chip.framesDelivered
        let startSwitches = processContextSwitches()
        let startCPU = processCPUSeconds()
        let startChipCPU = chip.airEmulationCPUSeconds
        let start = HostClock.monotonicNanoseconds()
        try chip.startAirFlood(templates, count: frameCount)
        var captured = 0
        var batches = 0
        var lastArrival = start
        var backpressure = ReceiveBackpressure(now: start)
        defer { device.setReceiveShedding(false) }
        while true {
            let count = try writeNextBatch(from: capture, to: writer)
            captured += count
            if count > 0 { batches += 1 }
            let now = HostClock.monotonicNanoseconds()
            backpressure.check(capture, device: device, now: now)
            if count > 0 { lastArrival = now }
            if captured >= frameCount || (chip.airFloodRemaining == 0 && now - lastArrival > 500_000_000) { break }
            if now - lastArrival > 5_000_000_000 { break }
        }
        let cpu = processCPUSeconds() - startCPU
        let chipCPU = chip.airEmulationCPUSeconds - startChipCPU
        let switches = processContextSwitches() - startSwitches
        chip.stopAirFlood()
        let statistics = try closeCapture(capture, writer: writer, delivered: captured)
        let delivered = chip.framesDelivered - deliveredBefore
        return Measurement(
            frameSize: frameSize, sent: delivered, captured: captured, seconds: Double(lastArrival - start) / 1e9,
            sendSeconds: Double(lastArrival - start) / 1e9, cpuSeconds: cpu, kernelDrops: statistics.dropped,
            batches: batches, contextSwitches: switches, chipCPUSeconds: chipCPU)
    }

    struct TransmitMeasurement {
        var sent: Int
        var transmitted: Int
        var perSecond: Double
        var cpuMicrosecondsPerFrame: Double
        /// Less the emulated chip's own work (its bulk OUT handling, TX reports).
        var pathCPUMicrosecondsPerFrame: Double
        /// Host context switches (every thread of the process) per frame the chip sent.
        var switchesPerFrame: Double
    }

    func measureTransmit(_ target: BenchTarget, frameSize: Int, frameCount: Int) throws -> TransmitMeasurement {
        let device = target.device
        let chip = target.chip
        let injector = try device.makeInjector()
        defer { injector.close() }
        // 54 Mb/s, no ACK wanted: what a monitor-mode injector sends.
        let radiotap = RadiotapTransmitOptions(rate: 108, txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
        let templates = (0..<16).map { radiotap + FrameBuilder.data(totalLength: frameSize, sequence: UInt16($0), marker: UInt32($0)) }
        let transmittedBefore = chip.framesTransmitted
        let startCPU = processCPUSeconds()
        let startChipCPU = chip.airEmulationCPUSeconds
        let startSwitches = processContextSwitches()
        let start = HostClock.monotonicNanoseconds()
        // Batches of sendmmsg, as `airtap inject` sends: the kernel's CPU changes hands once per batch.
        var index = 0
        while index < frameCount {
            let batch = (index..<min(index + PacketInjector.batchLimit, frameCount)).map { templates[$0 % templates.count] }
            try injector.send(batch: batch)
            index += batch.count
        }
        var transmitted = chip.framesTransmitted - transmittedBefore
        let deadline = HostClock.monotonicNanoseconds() + 2_000_000_000
        while transmitted < frameCount && HostClock.monotonicNanoseconds() < deadline {
            HostClock.sleep(seconds: 0.0005)
            transmitted = chip.framesTransmitted - transmittedBefore
        }
        let seconds = Double(HostClock.monotonicNanoseconds() - start) / 1e9
        let cpu = processCPUSeconds() - startCPU
        let chipCPU = chip.airEmulationCPUSeconds - startChipCPU
        let switches = processContextSwitches() - startSwitches
        return TransmitMeasurement(
            sent: frameCount, transmitted: transmitted, perSecond: Double(transmitted) / seconds,
            cpuMicrosecondsPerFrame: transmitted > 0 ? cpu * 1e6 / Double(transmitted) : 0,
            pathCPUMicrosecondsPerFrame: transmitted > 0 ? (cpu - chipCPU) * 1e6 / Double(transmitted) : 0,
            switchesPerFrame: transmitted > 0 ? Double(switches) / Double(transmitted) : 0)
    }
}
