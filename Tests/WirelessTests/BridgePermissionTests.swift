// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// `airtap bridge` as an ordinary user: what fails without CAP_NET_ADMIN
/// and how it fails, and the two documented ways that work (a persistent
/// TAP made by root, the capability on the binary).
@Suite(
    "airtap bridge without privileges (as user tester)", .serialized, .timeLimit(.minutes(10)),
    .enabled(
        if: UnprivilegedUser.available,
        "needs to run as root with a user named tester and /usr/bin/setpriv, to run airtap as that user"))
struct BridgePermissionTests {
    static var tunDeviceMode: mode_t {
        var status = stat()
        return stat("/dev/net/tun", &status) == 0 ? status.st_mode & 0o7777 : 0o666
    }

    @Test("without CAP_NET_ADMIN: exit status non-zero, the capability and the root command named, nothing left behind")
    func withoutCapability() async throws {
        let airtap = try ToolRunner.airtapPath()
        // As this host has /dev/net/tun (CI images: 0600), then as most
        // hosts have it (0666: opening works, the kernel refuses creation).
        let modes = Set([Self.tunDeviceMode, 0o666]).sorted()
        for mode in modes {
            try await withTunDeviceMode(mode) {
                let interface = HostInterfaces.uniqueName()
                let run = try await UnprivilegedUser.run([airtap, "bridge", "--device", "sim", "--interface", interface])
                #expect(!run.timedOut && !run.killedBySignal && run.status != 0, "\(run.diagnosis)")
                #expect(run.standardError.contains("CAP_NET_ADMIN"), "mode \(String(mode, radix: 8)): \(run.diagnosis)")
                #expect(
                    run.standardError.contains("bridge create-persistent --interface \(interface) --user tester"),
                    "the message gives the root command for this user\n\(run.diagnosis)")
                #expect(!run.standardError.contains("bridging"), "it stops before the kernel boots\n\(run.diagnosis)")
                #expect(!HostInterfaces.exists(interface), "nothing is left behind")
                if mode & 0o006 == 0o006 {
                    #expect(
                        run.standardError.contains("creating the TAP interface \(interface) needs CAP_NET_ADMIN"),
                        "\(run.diagnosis)")
                    #expect(run.standardError.contains("setcap cap_net_admin+ep"), "\(run.diagnosis)")
                } else {
                    #expect(run.standardError.contains("cannot open /dev/net/tun: permission denied"), "\(run.diagnosis)")
                    #expect(run.standardError.contains("chmod 0666 /dev/net/tun"), "\(run.diagnosis)")
                }
            }
        }
    }

    @Test("a persistent TAP root made for tester: tester's bridge opens it unprivileged, both ways, and it stays")
    func persistentTap() async throws {
        let airtap = try ToolRunner.airtapPath()
        let interface = HostInterfaces.uniqueName()
        defer { HostInterfaces.removeIfPresent(interface) }
        let create = try await ToolRunner.airtap("bridge", "create-persistent", "--interface", interface, "--user", "tester")
        try #require(create.succeeded, "\(create.diagnosis)")
        #expect(HostInterfaces.attribute(interface, "type") == 803, "root set the link type to radiotap")
        #expect(HostInterfaces.attribute(interface, "owner") == Int(UnprivilegedUser.uid))
        #expect(HostInterfaces.attribute(interface, "tun_flags").map { $0 & 0x0800 != 0 } == true, "IFF_PERSIST")

        try await withTunDeviceMode(0o666) {
            let bridge = try BridgeProcess(
                executable: UnprivilegedUser.setpriv,
                arguments: UnprivilegedUser.arguments([
                    airtap, "bridge", "--device", "sim", "--channel", "6", "--interface", interface, "--status-interval", "0.2",
                ]))
            let started = await bridge.waitForStandardError { $0.contains("to \(interface): ") }
            try #require(started, "\(bridge.standardError)")
            #expect(bridge.standardError.contains("(radiotap, persistent)"))

            let file = try await BridgeEndToEndTests.liveCapture(on: interface, count: 10)
            #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
            #expect(try file.packets.allSatisfy { try RadiotapHeader.parse($0.data).channelFrequency == 2437 })

            let radiotap = RadiotapTransmitOptions(rate: 2, txFlags: RadiotapTransmitOptions.txFlagNoAck).encodedHeader
            let sent = try HostInterfaces.send(markedDataFrames(count: 3, marker: 0x9E).map { radiotap + $0 }, on: interface)
            #expect(sent == 3)
            let injected = await bridge.waitForStandardError { $0.contains("injected 3,") }
            #expect(injected, "\(bridge.standardError)")

            let run = await bridge.terminate()
            #expect(run.succeeded, "\(run.diagnosis)")
            #expect(run.standardError.contains("\(interface) left in place (persistent)"), "\(run.diagnosis)")
        }
        #expect(HostInterfaces.exists(interface), "a persistent TAP outlives the bridge")

        let delete = try await ToolRunner.airtap("bridge", "delete-persistent", "--interface", interface)
        #expect(delete.succeeded, "\(delete.diagnosis)")
        #expect(!HostInterfaces.exists(interface))
    }

    @Test("a persistent TAP that belongs to someone else: refused, with whose it is and the command that fixes it")
    func someoneElsesTap() async throws {
        let airtap = try ToolRunner.airtapPath()
        let interface = HostInterfaces.uniqueName()
        defer { HostInterfaces.removeIfPresent(interface) }
        let create = try await ToolRunner.airtap("bridge", "create-persistent", "--interface", interface, "--user", "root")
        try #require(create.succeeded, "\(create.diagnosis)")
        try await withTunDeviceMode(0o666) {
            let run = try await UnprivilegedUser.run([airtap, "bridge", "--device", "sim", "--interface", interface])
            #expect(run.status != 0, "\(run.diagnosis)")
            #expect(run.standardError.contains("belongs to user root, not tester"), "\(run.diagnosis)")
            #expect(run.standardError.contains("create-persistent --interface \(interface) --user tester"), "\(run.diagnosis)")
        }
        #expect(HostInterfaces.attribute(interface, "type") == 803, "the refused attempt changed nothing")
    }

    @Test(
        "CAP_NET_ADMIN as a file capability (setcap): tester's bridge creates the TAP, which goes when airtap exits",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/setcap"), "setcap (libcap2-bin) is not installed"))
    func fileCapability() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-setcap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let copy = directory.appendingPathComponent("airtap").path
        try FileManager.default.copyItem(atPath: try ToolRunner.airtapPath(), toPath: copy)
        let setcap = try await ToolRunner.run("/usr/sbin/setcap", ["cap_net_admin+ep", copy], timeoutSeconds: 30)
        try #require(setcap.succeeded, "\(setcap.diagnosis)")

        let interface = HostInterfaces.uniqueName()
        try await withTunDeviceMode(0o666) {
            let bridge = try BridgeProcess(
                executable: UnprivilegedUser.setpriv,
                arguments: UnprivilegedUser.arguments([
                    copy, "bridge", "--device", "sim", "--interface", interface, "--status-interval", "0.2",
                ]))
            let started = await bridge.waitForStandardError { $0.contains("to \(interface): ") }
            try #require(started, "\(bridge.standardError)")
            #expect(bridge.standardError.contains("(radiotap, created)"))
            #expect(HostInterfaces.attribute(interface, "type") == 803)
            let run = await bridge.terminate()
            #expect(run.succeeded, "\(run.diagnosis)")
            #expect(run.standardError.contains("\(interface) removed"), "\(run.diagnosis)")
        }
        #expect(!HostInterfaces.exists(interface))
    }
}
