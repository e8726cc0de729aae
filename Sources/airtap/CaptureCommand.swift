// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import LinuxKernel
import RadioDevices
import Wireless

/// `airtap capture`: monitor-mode capture to pcapng or pcap (file, stdout or a ring of files).
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture 802.11 frames with radiotap into a pcapng or pcap file (or - for standard output).",
        discussion: """
            Channels: a number (6, 36), a frequency in MHz (2437), 6gN for 6 GHz, optionally with a width: \
            6:ht20, 6:ht40+, 6:ht40-, 36:80 (default: 20 MHz without HT). Several channels are visited in \
            order, each for --hop-interval seconds.
            Live view: airtap capture --device sim --channel 6 -w - | wireshark -k -i -
            Each frame carries the time the kernel received it. Only beacons, as classic pcap for aircrack-ng: \
            airtap capture --device sim -f "type mgt subtype beacon" -F pcap -w beacons.pcap
            Wireshark can also start captures itself: airtap extcap --install.
            Several devices into one pcapng (one interface each, one kernel): --device emulated:rtl8187 \
            --device emulated:rtl8821au; --channel once for all, or once per --device in the same order. \
            An unplugged device ends only its part; the exit status is 3 only when every device is gone.
            """)

    @OptionGroup var deviceArguments: DeviceArguments
    @OptionGroup var fileArguments: CaptureFileArguments

    @Option(
        name: .shortAndLong,
        help: "Channel(s) to capture on, comma-separated (e.g. 1,6,11; default 6). With several --device: once for all, or once per device.")
    var channel: [String] = []

    @Option(name: .customLong("hop-interval"), help: "Seconds on each channel when several are given.")
    var hopInterval = 0.5

    @Option(name: [.customShort("n"), .long], help: "Stop after this many frames.")
    var count: Int?

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: [.customShort("w"), .customLong("write")], help: "Output file, or - for standard output.")
    var output: String

    @Flag(name: .shortAndLong, help: "No live status line.")
    var quiet = false

    @Flag(help: "Print frames by type and subtype, networks and channels at the end (to stderr).")
    var summary = false

    @Flag(name: .customLong("no-sim-traffic"), help: "sim and emulated devices: no simulated background traffic.")
    var noSimTraffic = false

    func validate() throws {
        if let count, count <= 0 { throw ValidationError("--count must be positive") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        guard hopInterval > 0 else { throw ValidationError("--hop-interval must be positive") }
    }

    func run() throws {
        bootstrapLogging(verbose: deviceArguments.verbose)
        let result = try runCapture(
            deviceArguments: deviceArguments, channelList: channel.first ?? "6", hopInterval: hopInterval,
            limits: CaptureLimits(frameCount: count, durationSeconds: duration), output: output,
            fileSettings: fileArguments.settings, quiet: quiet, collectSummary: summary, simulatedTraffic: !noSimTraffic,
            deviceChannelLists: channel.count > 1 ? channel : [])
        if let report = result.summary?.report, summary {
            writeStandardError(report + "\n")
        }
    }
}

/// The capture path shared by `capture`, `demo` and the Wireshark extcap.
/// Everything that can be checked without the kernel (device name, channel
/// syntax, filter, ring options, output path) is checked before it boots;
/// a setup that fails after the output was created removes it again.
/// Several `--device`s share one kernel and the one capture loop, each its
/// own pcapng interface; `deviceChannelLists` (one per device) override
/// `channelList`. `silentOnSuccess`: nothing on stderr unless something
/// went wrong (an extcap's stderr reaches Wireshark as an error).
func runCapture(
    deviceArguments: DeviceArguments, channelList: String, hopInterval: Double, limits: CaptureLimits,
    output: String, fileSettings: CaptureFileSettings = CaptureFileSettings(), quiet: Bool, collectSummary: Bool,
    simulatedTraffic: Bool, silentOnSuccess: Bool = false, deviceChannelLists: [String] = []
) throws -> CaptureResult {
    let descriptors = try deviceArguments.descriptors()
    _ = try deviceArguments.parsedMonitorFlags()
    let plans = try MultiDeviceCapture.channelPlans(
        channelList: channelList, perDevice: deviceChannelLists, devices: descriptors.map(\.name))
    try MultiDeviceCapture.checkFormat(fileSettings.format, deviceCount: descriptors.count)
    let filter = try CaptureFilter.compile(fileSettings.filterExpression)
    let ring = try RingBufferPolicy(parsing: fileSettings.ringOptions)
    let destination = try CaptureDestination(
        path: output, format: fileSettings.format, precision: fileSettings.precision, ring: ring)
    installStopSignalHandlers()

    let devices: [any RadioDevice]
    do {
        devices = try deviceArguments.openAll(simulatedTraffic: simulatedTraffic)
    } catch {
        destination.discard()
        throw error
    }
    defer { close(devices) }
    let device = devices[0]
    let capture: PacketCapture
    let writer: any CaptureFileWriter
    var additionalSources: [CaptureSource] = []
    do {
        for (descriptor, (opened, channels)) in zip(descriptors, zip(devices, plans)) {
            for spec in channels {
                try opened.wiphy.validate(spec, deviceName: "\(descriptor.name) (\(opened.wiphy.name))")
            }
            // Tuned before its socket opens, so no device records what it
            // heard where bring-up left it while the others are tuned (the
            // run's first tune is then a no-op).
            try opened.tune(channels[0])
        }
        capture = try device.makeCapture(filter: filter)
        for (other, channels) in zip(devices, plans).dropFirst() {
            additionalSources.append(
                CaptureSource(
                    device: other, capture: try other.makeCapture(filter: filter), channels: channels,
                    hopIntervalSeconds: hopInterval))
        }
        writer = try destination.makeWriter(
            interfaceName: device.monitorInterface.name, interfaceDescription: device.interfaceDescription,
            additionalInterfaces: devices.dropFirst().map {
                CaptureInterface(name: $0.monitorInterface.name, description: $0.interfaceDescription)
            })
    } catch {
        destination.discard()
        throw error
    }

    var status = StatusLine(quiet: quiet)
    var run = CaptureRun(
        device: device, channels: plans[0], hopIntervalSeconds: hopInterval, limits: limits,
        collectSummary: collectSummary, shouldStop: { stopRequested.load(ordering: .relaxed) })
    run.additionalSources = additionalSources
    if status.enabled {
        run.onStatus = { status.show($0) }
    }
    if devices.count > 1 {
        run.onDeviceRemoved = { part, stillCapturing in
            status.finish()
            writeStandardError(MultiDeviceCapture.removalNotice(part, stillCapturing: stillCapturing))
        }
    }
    let regulatory = (try? device.control.regulatoryDomain())?.summary ?? "unknown"
    if !quiet {
        writeStandardError(
            "airtap: capturing on \(MultiDeviceCapture.describe(devices, plans: plans)); "
                + "regulatory domain \(regulatory)" + (filter.map { "; filter \"\($0.expression)\"" } ?? "") + "\n")
    }
    let result: CaptureResult
    do {
        result = try run.run(capture: capture, writer: writer)
    } catch let error as CaptureOutputError {
        status.finish()
        if case .readerGone = error {
            if !silentOnSuccess { writeStandardError("airtap: \(error); capture stopped\n") }
            throw ExitCode.success
        }
        throw error
    }
    status.finish()
    let paths = destination.writtenPaths
    let written = paths.count == 1 ? paths[0] : "\(paths.count) files: \(paths.joined(separator: " "))"
    if !silentOnSuccess || result.stoppedByRemoval {
        writeStandardError(
            "airtap: captured \(result.frames) frames (\(result.bytes) bytes) in \(String(format1: result.elapsedSeconds)) s; "
                + "kernel received \(result.statistics.received), dropped \(result.statistics.dropped); "
                + "channels visited: \(result.channelsVisited.label); written to \(written)"
                + (result.stoppedBySignal ? " (stopped by signal)" : "") + "\n")
        if devices.count > 1 {
            for part in result.interfaces { writeStandardError(MultiDeviceCapture.report(part)) }
        }
    }
    // Exit status 3 only when every device is gone: one that stays captured to the end.
    if result.stoppedByRemoval {
        let removed = devices.count == 1 ? device.displayName : "every device (\(devices.map(\.displayName).joined(separator: ", ")))"
        writeStandardError(
            "airtap: \(DeviceError.removed(device: removed)): capture stopped; \(written) "
                + (paths.count == 1 ? "is" : "are") + " complete "
                + "(\(result.frames) frames, closing statistics written). Plug the adapter"
                + (devices.count == 1 ? "" : "s") + " back in and start a new capture.\n")
        throw ExitCode(3)
    }
    return result
}

extension String {
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
