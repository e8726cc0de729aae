// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import RadioDevices

/// `airtap demo`: a few seconds of capture on the simulated radios, then a
/// summary of what was on the air.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Capture a few seconds on the simulated radios (sim), write a pcapng file and summarise it.")

    @Option(name: [.customShort("w"), .customLong("write")], help: "Output pcapng file.")
    var output = "demo.pcapng"

    @Option(name: .long, help: "Seconds to capture.")
    var duration = 3.0

    @Option(name: .shortAndLong, help: "Channels to hop over.")
    var channel = "1,6,11"

    @Option(name: .customLong("hop-interval"), help: "Seconds on each channel.")
    var hopInterval = 0.25

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    func validate() throws {
        guard duration > 0, hopInterval > 0 else { throw ValidationError("--duration and --hop-interval must be positive") }
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        var deviceArguments = try DeviceArguments.parse(["--device", SimulatedRadios.descriptor.name])
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
