// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Foundation
import RadioDevices
import Wireless

/// `airtap test-injection`: aireplay-ng -9's check, on any device.
struct TestInjectionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-injection",
        abstract: "Check that injection works: find the access points that answer probe requests, then ping each with 30.",
        discussion: """
            Sends broadcast probe requests and lists the access points whose probe responses come back (proof \
            that the frames went out), then sends 30 directed probe requests to each and prints the share \
            answered and the round trip (min/avg/max), as aireplay-ng -9 does. On sim and the emulated \
            devices the simulated air's access points answer; --air-loss makes them drop answers.
            """)

    @OptionGroup var deviceArguments: DeviceArguments

    @Option(name: .shortAndLong, help: "Channel to test on (e.g. 6, 36).")
    var channel: String

    @Option(name: .customLong("probes"), help: "Directed probe requests per access point.")
    var probes = 30

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (1...1000).contains(probes) else { throw ValidationError("--probes must be 1...1000, got \(probes)") }
    }

    func run() throws {
        bootstrapLogging(verbose: deviceArguments.verbose)
        let spec = try ChannelSpec(parsing: channel)
        let device = try deviceArguments.open(simulatedTraffic: true)
        defer { close(device) }
        try device.tune(spec)
        var test = InjectionTest()
        test.probesPerAccessPoint = probes
        if !json { print("Trying broadcast probe requests on \(device.displayName), channel \(spec)...") }
        let report = try test.run(on: device)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            var object = try JSONSerialization.jsonObject(with: try encoder.encode(report)) as? [String: Any] ?? [:]
            object["verdict"] = report.verdict
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        } else {
            print(report.verdict)
            print("Found \(report.accessPoints.count) AP\(report.accessPoints.count == 1 ? "" : "s")")
            for accessPoint in report.accessPoints {
                let ping = accessPoint.averageMilliseconds.map { average in
                    String(format: "%.2f ms / %.2f ms / %.2f ms", accessPoint.minimumMilliseconds ?? 0, average, accessPoint.maximumMilliseconds ?? 0)
                } ?? "-"
                print("\(accessPoint.bssid) - channel: \(accessPoint.channel.map(String.init) ?? "?") - '\(accessPoint.ssid)'")
                print("  Ping (min/avg/max): \(ping)")
                print("  \(accessPoint.answered)/\(accessPoint.sent): \(accessPoint.percentAnswered)%")
            }
        }
        if !report.injectionWorks { throw ExitCode(1) }
    }
}
