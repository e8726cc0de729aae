// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import RadioDevices

/// `airtap demo`: a few seconds of capture from the emulated RTL8821AU, the
/// seed's chip (the unmodified rtw88_8821au driver over the virtual USB host
/// controller: the full USB path), hopping over 2.4 and 5 GHz channels,
/// then a summary of what was on the air.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Capture a few seconds from the emulated RTL8821AU USB adapter on 2.4 and 5 GHz, write a pcapng file and summarise it.")

    @Option(name: .shortAndLong, help: "Device to capture from (\(DeviceRegistry.names.joined(separator: ", "))).")
    var device = "emulated:rtl8821au"

    @Option(name: [.customShort("w"), .customLong("write")], help: "Output pcapng file.")
    var output = "demo.pcapng"

    @Option(name: .long, help: "Seconds to capture.")
    var duration = 3.0

    @Option(name: .shortAndLong, help: "Channels to hop over.")
    var channel = "1,6,11,36,149:80"

    @Option(name: .customLong("hop-interval"), help: "Seconds on each channel.")
    var hopInterval = 0.25

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    func validate() throws {
        guard duration > 0, hopInterval > 0 else { throw ValidationError("--duration and --hop-interval must be positive") }
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        var deviceArguments = try DeviceArguments.parse(["--device", device])
        deviceArguments.verbose = verbose
        let result = try runCapture(
            deviceArguments: deviceArguments, channelList: channel, hopInterval: hopInterval,
            limits: CaptureLimits(durationSeconds: duration), output: output, quiet: false, collectSummary: true,
            simulatedTraffic: true)
        print("Capture written to \(output)")
        print()
        if let summary = result.summary { print(summary.report) }
        print()
        print("Kernel socket statistics: received \(result.statistics.received), dropped \(result.statistics.dropped)")
        print("Open it with: wireshark \(output)   (or: tshark -r \(output))")
    }
}
