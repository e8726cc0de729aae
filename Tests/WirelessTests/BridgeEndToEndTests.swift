// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `airtap bridge` (run as root, as CI runs tests): a host TAP interface of
/// link type radiotap that tcpdump reads live and host sockets inject on.
@Suite(
    "airtap bridge: the radio as a host interface (child processes)", .timeLimit(.minutes(10)),
    .enabled(if: geteuid() == 0, "creating host TAP interfaces needs root (CAP_NET_ADMIN)"))
struct BridgeEndToEndTests {
    /// tcpdump on the host interface while the bridge runs: `count` frames
    /// into a pcap file, parsed here.
    static func liveCapture(on interface: String, count: Int) async throws -> CaptureFile {
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("live.pcap").path
        // -Z root: tcpdump would otherwise drop to its own user and fail to
        // write into the test's directory.
        let tcpdump = try await ToolRunner.run(
            "/usr/bin/tcpdump", ["-i", interface, "-c", "\(count)", "-U", "-Z", "root", "-w", output], timeoutSeconds: 60)
        try #require(tcpdump.succeeded, "\(tcpdump.diagnosis)")
        return try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
    }

    @Test("sim: tcpdump -i on the bridge's interface sees the radio's frames with radiotap, on the tuned channel")
    func simFramesReachTcpdump() async throws {
        let interface = HostInterfaces.uniqueName()
        let bridge = try BridgeProcess(
            executable: try ToolRunner.airtapPath(),
            arguments: ["bridge", "--device", "sim", "--channel", "6", "--interface", interface, "--quiet"])
        let started = await bridge.waitForStandardError { $0.contains("<-> host interface \(interface)") }
        try #require(started, "\(bridge.standardError)")
        #expect(HostInterfaces.attribute(interface, "type") == 803, "link type ARPHRD_IEEE80211_RADIOTAP")
        #expect((HostInterfaces.attribute(interface, "flags") ?? 0) & 1 == 1, "the interface is up")

        let file = try await Self.liveCapture(on: interface, count: 25)
        #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap, "libpcap maps ARPHRD 803 to DLT 127")
        #expect(file.packets.count == 25)
        for packet in file.packets {
            let radiotap = try RadiotapHeader.parse(packet.data)
            #expect(radiotap.channelFrequency == 2437, "radiotap channel of a frame heard on channel 6")
            #expect(packet.data.count > radiotap.length + 10, "an 802.11 frame follows the radiotap header")
        }

        let run = await bridge.terminate()
        #expect(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        let delivered = try #require(run.standardError.integer(after: "to \(interface) "), "\(run.diagnosis)")
        #expect(delivered >= 25, "\(run.diagnosis)")
        #expect(run.standardError.contains("\(interface) removed"), "\(run.diagnosis)")
        #expect(!HostInterfaces.exists(interface), "a TAP airtap created is gone after it exits")
    }

    @Test("emulated:rtl8187: frames both ways; what the host sends is what the adapter model transmits")
    func emulatedRTL8187BothWays() async throws {
        let interface = HostInterfaces.uniqueName()
        let scratch = try ToolRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let transmitted = scratch.appendingPathComponent("transmitted.pcapng")
        let bridge = try BridgeProcess(
            executable: try ToolRunner.airtapPath(),
            arguments: [
                "bridge", "--device", "emulated:rtl8187", "--channel", "11", "--interface", interface,
                "--status-interval", "0.2", "--emulated-tx-capture", transmitted.path, "--verbose",
            ])
        let started = await bridge.waitForStandardError { $0.contains("to \(interface): ") }
        try #require(started, "\(bridge.standardError)")

        // Radio to host: the model's air on channel 11, through rtl8187, to tcpdump.
        let file = try await Self.liveCapture(on: interface, count: 10)
        #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
        #expect(try file.packets.allSatisfy { try RadiotapHeader.parse($0.data).channelFrequency == 2462 })

        // Host to radio: radiotap frames from a host AF_PACKET socket, and
        // one that is not radiotap (dropped, counted).
        let macFrames = markedDataFrames(count: 5, marker: 0xB7)
        let radiotap = RadiotapTransmitOptions(rate: 2, txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
        let notRadiotap: [UInt8] = [0x45, 0x00] + [UInt8](repeating: 0x11, count: 40)
        let accepted = try HostInterfaces.send(macFrames.map { radiotap + $0 } + [notRadiotap], on: interface)
        #expect(accepted == 6)
        let injected = await bridge.waitForStandardError { $0.contains("injected 5,") }
        #expect(injected, "\(bridge.standardError)")

        let run = await bridge.terminate()
        #expect(run.succeeded, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        let summary = try #require(
            run.standardError.split(separator: "\n").last { $0.contains("bridge stopped") }.map(String.init), "\(run.diagnosis)")
        #expect(summary.contains("injected 5, rejected "), "\(run.diagnosis)")
        #expect((summary.integer(after: "rejected ") ?? 0) >= 1, "the frame that is not radiotap\n\(run.diagnosis)")
        #expect(run.standardError.contains("radiotap version 69"), "the rejection names the problem\n\(run.diagnosis)")
        #expect(run.standardError.contains("the emulated RTL8187 transmitted 5 frames"), "\(run.diagnosis)")
        #expect(run.standardError.contains("\(interface) removed"), "\(run.diagnosis)")
        #expect(!HostInterfaces.exists(interface))

        let air = try CaptureFile(parsing: Array(try Data(contentsOf: transmitted)))
        #expect(air.packets.map(\.data) == macFrames, "the adapter sent exactly the host's 802.11 frames, in order")
    }

    @Test("bad arguments fail before anything is created: unknown device, bad interface name, interface that is not a TAP")
    func badInput() async throws {
        let interface = HostInterfaces.uniqueName()
        let unknown = try await ToolRunner.airtap("bridge", "--device", "nonesuch", "--interface", interface)
        #expect(!unknown.succeeded)
        #expect(unknown.standardError.contains("unknown device \"nonesuch\""), "\(unknown.diagnosis)")
        #expect(!HostInterfaces.exists(interface))

        let badName = try await ToolRunner.airtap("bridge", "--device", "sim", "--interface", "this-name-is-too-long")
        #expect(!badName.succeeded)
        #expect(badName.standardError.contains("invalid interface name"), "\(badName.diagnosis)")

        let loopback = try await ToolRunner.airtap("bridge", "--device", "sim", "--interface", "lo")
        #expect(!loopback.succeeded)
        #expect(loopback.standardError.contains("lo already exists and is not a TAP"), "\(loopback.diagnosis)")
    }
}
