// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import LinuxKernel
import RadioDevices
import USBDevices
import Wireless

extension BenchCommand {
    /// `airtap bench --device emulated:rtl8187`: the full USB path.
    ///
    /// * Bring-up: plugging the model in to the monitor interface being up
    ///   (enumeration, the driver's probe with its EEPROM reads, ieee80211
    ///   registration, chip and RF init with the driver's own msleeps).
    /// * RX: the model's air floods the tuned channel as fast as the driver
    ///   returns receive URBs; the main thread captures to pcapng.
    /// * TX: the main thread injects on the monitor interface; the model
    ///   parses each bulk OUT URB and completes it (the ACK).
    func runRTL8187Bench() throws {
        _ = try FileCaptureOutput(path: output)
        let frameSizes = try sizes.split(separator: ",").map { text -> Int in
            guard let size = Int(text), (24 + 8 + 4...RTL8187Hardware.maximumReceivedFrameLength).contains(size) else {
                throw ValidationError("frame size \(text) must be 36...\(RTL8187Hardware.maximumReceivedFrameLength) bytes for the RTL8187")
            }
            return size
        }
        let kernel = try Kernel.boot(memoryMiB: 256, commandLine: EmulatedRTL8187.descriptor.kernelCommandLine)
        let device = try EmulatedRTL8187(
            kernel: kernel, options: DeviceOptions(simulatedTraffic: false),
            modelOptions: RTL8187Model.Options(recordsTransmittedFrames: false))
        defer {
            device.shutdown()
            try? kernel.halt()
        }
        try device.tune(ChannelSpec(frequency: 2437))
        print("airtap bench: emulated RTL8187L -> rtl8187 driver (virtual USB host controller) -> \(device.monitorInterface.name) -> pcapng (\(output))")
        print("bring-up (attach -> monitor interface up): \(String(format2: device.bringUpSeconds * 1000)) ms")
        print("RESULT rtl8187_bringup_ms=\(String(format2: device.bringUpSeconds * 1000))")

        print("RX   SIZE   FRAMES    CAPTURED/S   CPU US/FRAME   KERNEL DROPS   LOST")
        for size in frameSizes {
            let result = try measureReceive(device: device, frameSize: size, frameCount: frames)
            print("RX   " + result.row)
            print("RESULT rtl8187_rx size=\(size) captured_fps=\(Int(result.capturedPerSecond)) cpu_us_per_frame=\(String(format2: result.cpuMicrosecondsPerFrame)) drops=\(result.kernelDrops) lost=\(result.lost)")
        }
        print("TX   SIZE   FRAMES    SENT/S       CPU US/FRAME   ADAPTER SENT")
        for size in frameSizes {
            let result = try measureTransmit(device: device, frameSize: size, frameCount: frames)
            print("TX   " + String(size).padded(to: 7) + String(result.sent).padded(to: 10) + String(Int(result.perSecond)).padded(to: 13)
                + String(format2: result.cpuMicrosecondsPerFrame).padded(to: 15) + String(result.transmitted))
            print("RESULT rtl8187_tx size=\(size) injected_fps=\(Int(result.perSecond)) cpu_us_per_frame=\(String(format2: result.cpuMicrosecondsPerFrame)) adapter_sent=\(result.transmitted)")
        }
    }

    func measureReceive(device: EmulatedRTL8187, frameSize: Int, frameCount: Int) throws -> Measurement {
        let capture = try device.makeCapture(receiveBufferBytes: 64 << 20)
        defer { capture.close() }
        let writer = try PcapNGWriter(
            output: try FileCaptureOutput(path: output), interfaceName: device.monitorInterface.name,
            interfaceDescription: device.interfaceDescription)
        // A few distinct frames, cycled: 54 Mb/s, -50 dBm.
        let templates = (0..<16).map { index in
            RTL8187AirFrame(
                channel: 6, frame: FrameBuilder.data(totalLength: frameSize, sequence: UInt16(index), marker: UInt32(index)),
                rateIndex: 11, signalDBm: -50)
        }
        let receivedBefore = device.model.statistics.framesReceived
        let startCPU = processCPUSeconds()
        let start = HostClock.monotonicNanoseconds()
        try device.model.startFlood(templates: templates, count: frameCount)
        var captured = 0
        var lastArrival = start
        while true {
            let count = try writeNextBatch(from: capture, to: writer)
            captured += count
            let now = HostClock.monotonicNanoseconds()
            if count > 0 { lastArrival = now }
            if captured >= frameCount || (device.model.floodRemaining == 0 && now - lastArrival > 500_000_000) { break }
            if now - lastArrival > 5_000_000_000 { break }
        }
        let cpu = processCPUSeconds() - startCPU
        device.model.stopFlood()
        let statistics = try closeCapture(capture, writer: writer, delivered: captured)
        let delivered = device.model.statistics.framesReceived - receivedBefore
        return Measurement(
            frameSize: frameSize, sent: delivered, captured: captured, seconds: Double(lastArrival - start) / 1e9,
            sendSeconds: Double(lastArrival - start) / 1e9, cpuSeconds: cpu, kernelDrops: statistics.dropped)
    }

    struct TransmitMeasurement {
        var sent: Int
        var transmitted: Int
        var perSecond: Double
        var cpuMicrosecondsPerFrame: Double
    }

    func measureTransmit(device: EmulatedRTL8187, frameSize: Int, frameCount: Int) throws -> TransmitMeasurement {
        let injector = try device.makeInjector()
        defer { injector.close() }
        // 54 Mb/s, no ACK wanted: what a monitor-mode injector sends.
        let radiotap = RadiotapTransmitOptions(rate: 108, txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
        let templates = (0..<16).map { radiotap + FrameBuilder.data(totalLength: frameSize, sequence: UInt16($0), marker: UInt32($0)) }
        let transmittedBefore = device.model.statistics.framesTransmitted
        let startCPU = processCPUSeconds()
        let start = HostClock.monotonicNanoseconds()
        for index in 0..<frameCount {
            try templates[index % templates.count].withUnsafeBytes { try injector.send($0) }
        }
        var transmitted = device.model.statistics.framesTransmitted - transmittedBefore
        let deadline = HostClock.monotonicNanoseconds() + 2_000_000_000
        while transmitted < frameCount && HostClock.monotonicNanoseconds() < deadline {
            HostClock.sleep(seconds: 0.0005)
            transmitted = device.model.statistics.framesTransmitted - transmittedBefore
        }
        let seconds = Double(HostClock.monotonicNanoseconds() - start) / 1e9
        let cpu = processCPUSeconds() - startCPU
        return TransmitMeasurement(
            sent: frameCount, transmitted: transmitted, perSecond: Double(transmitted) / seconds,
            cpuMicrosecondsPerFrame: transmitted > 0 ? cpu * 1e6 / Double(transmitted) : 0)
    }
}
