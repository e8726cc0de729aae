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
            """)

    @OptionGroup var deviceArguments: DeviceArguments
    @OptionGroup var fileArguments: CaptureFileArguments

    @Option(name: .shortAndLong, help: "Channel(s) to capture on, comma-separated (e.g. 1,6,11).")
    var channel = "6"

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
            deviceArguments: deviceArguments, channelList: channel, hopInterval: hopInterval,
            limits: CaptureLimits(frameCount: count, durationSeconds: duration), output: output,
            fileSettings: fileArguments.settings, quiet: quiet, collectSummary: summary, simulatedTraffic: !noSimTraffic)
        if let report = result.summary?.report, summary {
            writeStandardError(report + "\n")
        }
    }
}

/// The capture path shared by `capture`, `demo` and the Wireshark extcap.
/// Everything that can be checked without the kernel (device name, channel
/// syntax, filter, ring options, output path) is checked before it boots;
/// a setup that fails after the output was created removes it again.
/// `silentOnSuccess`: nothing on stderr unless something went wrong (an
/// extcap's stderr reaches Wireshark as an error).
func runCapture(
    deviceArguments: DeviceArguments, channelList: String, hopInterval: Double, limits: CaptureLimits,
    output: String, fileSettings: CaptureFileSettings = CaptureFileSettings(), quiet: Bool, collectSummary: Bool,
    simulatedTraffic: Bool, silentOnSuccess: Bool = false
) throws -> CaptureResult {
    let descriptor = try deviceArguments.descriptor()
    _ = try deviceArguments.parsedMonitorFlags()
    let channels = try parseChannelList(channelList)
    let filter = try CaptureFilter.compile(fileSettings.filterExpression)
    let ring = try RingBufferPolicy(parsing: fileSettings.ringOptions)
    let destination = try CaptureDestination(
        path: output, format: fileSettings.format, precision: fileSettings.precision, ring: ring)
    installStopSignalHandlers()

    let device: any RadioDevice
    do {
        device = try deviceArguments.open(simulatedTraffic: simulatedTraffic)
    } catch {
        destination.discard()
        throw error
    }
    defer { close(device) }
    let capture: PacketCapture
    let writer: any CaptureFileWriter
    do {
        for spec in channels {
            try device.wiphy.validate(spec, deviceName: "\(descriptor.name) (\(device.wiphy.name))")
        }
        capture = try device.makeCapture(filter: filter)
        writer = try destination.makeWriter(
            interfaceName: device.monitorInterface.name, interfaceDescription: device.interfaceDescription)
    } catch {
        destination.discard()
        throw error
    }

    var status = StatusLine(quiet: quiet)
    var run = CaptureRun(
        device: device, channels: channels, hopIntervalSeconds: hopInterval, limits: limits,
        collectSummary: collectSummary, shouldStop: { stopRequested.load(ordering: .relaxed) })
    if status.enabled {
        run.onStatus = { status.show($0) }
    }
    let regulatory = (try? device.control.regulatoryDomain())?.summary ?? "unknown"
    if !quiet {
        writeStandardError(
            "airtap: capturing on \(device.displayName), channels \(channels.map(\.description).joined(separator: ", ")); "
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
    let visited = result.channelsVisited.map { ChannelPlan.label(forFrequency: $0.frequency) }
    let paths = destination.writtenPaths
    let written = paths.count == 1 ? paths[0] : "\(paths.count) files: \(paths.joined(separator: " "))"
    if !silentOnSuccess || result.stoppedByRemoval {
        writeStandardError(
            "airtap: captured \(result.frames) frames (\(result.bytes) bytes) in \(String(format1: result.elapsedSeconds)) s; "
                + "kernel received \(result.statistics.received), dropped \(result.statistics.dropped); "
                + "channels visited: \(visited.joined(separator: " ")); written to \(written)"
                + (result.stoppedBySignal ? " (stopped by signal)" : "") + "\n")
    }
    if result.stoppedByRemoval {
        writeStandardError(
            "airtap: \(DeviceError.removed(device: device.displayName)): capture stopped; \(written) "
                + (paths.count == 1 ? "is" : "are") + " complete "
                + "(\(result.frames) frames, closing statistics written). Plug the adapter back in and start a new capture.\n")
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
