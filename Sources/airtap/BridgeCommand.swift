// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Capture
import LinuxKernel
import RadioDevices
import TapBridge
import Wireless

/// `airtap bridge`: the radio as a radiotap network interface on the host.
struct BridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Make a host network interface (TAP, link type radiotap) that carries the radio's frames both ways.",
        discussion: """
            Every frame the radio captures appears on the interface (tcpdump -i airtap0, tshark, Wireshark, \
            Kismet); every radiotap frame a host program sends on it (a raw AF_PACKET socket, scapy) is \
            injected. The channel is airtap's --channel: tools cannot retune the interface.
            Creating the interface needs CAP_NET_ADMIN (root, sudo setcap cap_net_admin+ep airtap, or \
            systemd-run -p AmbientCapabilities=CAP_NET_ADMIN). Without it, have root make a persistent \
            interface for you once (airtap bridge create-persistent --user NAME), which airtap then opens \
            unprivileged. /dev/net/tun must be readable and writable by you (mode 0666 on most systems).
            """,
        subcommands: [BridgeRunCommand.self, CreatePersistentTapCommand.self, DeletePersistentTapCommand.self],
        defaultSubcommand: BridgeRunCommand.self)
}

struct BridgeRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Bridge a radio to a host TAP interface until Ctrl-C (the default of airtap bridge).")

    @OptionGroup var deviceArguments: DeviceArguments

    @Option(name: .shortAndLong, help: "Channel(s), comma-separated; several are visited in turn (--hop-interval).")
    var channel = "6"

    @Option(name: .customLong("hop-interval"), help: "Seconds on each channel when several are given.")
    var hopInterval = 0.5

    @Option(name: .shortAndLong, help: "Host interface name: created, or a persistent TAP you own.")
    var interface = "airtap0"

    @Option(
        name: .customLong("status-interval"),
        help: "Seconds between status lines (default: a live line on a terminal, every 10 s otherwise).")
    var statusInterval: Double?

    @Flag(name: .shortAndLong, help: "No status lines (the start and end lines remain).")
    var quiet = false

    @Flag(name: .customLong("no-sim-traffic"), help: "sim and emulated devices: no simulated background traffic.")
    var noSimTraffic = false

    @Option(
        name: .customLong("emulated-tx-capture"),
        help: ArgumentHelp("Emulated USB devices: at the end, write what the adapter model transmitted (802.11, link type 105) to this pcapng file.", visibility: .hidden))
    var emulatedTransmitCapture: String?

    func validate() throws {
        guard hopInterval > 0 else { throw ValidationError("--hop-interval must be positive") }
        if let statusInterval, !(statusInterval > 0) { throw ValidationError("--status-interval must be positive") }
    }

    func run() throws {
        bootstrapLogging(verbose: deviceArguments.verbose)
        let descriptor = try deviceArguments.descriptor()
        _ = try deviceArguments.parsedMonitorFlags()
        let channels = try parseChannelList(channel)
        let transmitOutput = try emulatedTransmitCapture.map { try FileCaptureOutput(path: $0) }
        installStopSignalHandlers()
        // The TAP first: a permission problem is reported before the kernel
        // boots, and a TAP made here vanishes with its descriptor on every
        // way out, including this function throwing.
        let tap = try HostTapInterface.open(name: interface)
        defer { tap.close() }
        let device = try deviceArguments.open(simulatedTraffic: !noSimTraffic)
        defer { close(device) }
        for spec in channels {
            try device.wiphy.validate(spec, deviceName: "\(descriptor.name) (\(device.wiphy.name))")
        }

        writeStandardError(
            "airtap: bridging \(device.displayName), channels \(channels.map(\.description).joined(separator: ", ")) "
                + "<-> host interface \(tap.name) (radiotap, \(tap.createdHere ? "created" : "persistent")); "
                + "try: tcpdump -i \(tap.name)\n")
        if tap.mtu < HostTapInterface.preferredMTU {
            writeStandardError(
                "airtap: \(tap.name) has MTU \(tap.mtu): host programs cannot send frames longer than \(tap.mtu + 14) "
                    + "bytes on it; sudo ip link set \(tap.name) mtu \(HostTapInterface.preferredMTU) lifts that\n")
        }

        let live = isatty(STDERR_FILENO) == 1
        let reporter = BridgeStatusLine(interface: tap.name, live: live && statusInterval == nil)
        var bridge = RadiotapBridge(
            device: device, tap: tap, channels: channels, hopIntervalSeconds: hopInterval,
            shouldStop: { stopRequested.load(ordering: .relaxed) })
        bridge.statusIntervalSeconds = statusInterval ?? (live ? 0.5 : 10)
        if !quiet {
            bridge.onStatus = { reporter.show($0) }
        }
        let result = try bridge.run()
        reporter.finish()

        let traffic = result.traffic
        let statistics = result.capture.statistics
        writeStandardError(
            "airtap: bridge stopped\(result.capture.stoppedBySignal ? " (signal)" : ""): to \(tap.name) "
                + "\(traffic.framesToHost) frames (\(traffic.bytesToHost) bytes), \(traffic.framesNotDelivered) not delivered; "
                + "from \(tap.name) \(traffic.framesFromHost) frames: injected \(traffic.framesInjected), "
                + "rejected \(traffic.framesRejected), failed \(traffic.injectionFailures); kernel received "
                + "\(statistics.received), dropped \(statistics.dropped); \(tap.name) "
                + (tap.createdHere ? "removed" : "left in place (persistent)") + "\n")
        if let problem = traffic.lastProblem {
            writeStandardError("airtap: last problem: \(problem)\n")
        }
        if let emulated = device as? EmulatedRTL8187 {
            try reportTransmissions(of: emulated, injected: traffic.framesInjected, to: transmitOutput)
        }
        if result.capture.stoppedByRemoval {
            writeStandardError("airtap: \(DeviceError.removed(device: device.displayName)): bridge stopped\n")
            throw ExitCode(3)
        }
    }

    /// What the emulated adapter put on its air (the model records bulk OUT 2).
    private func reportTransmissions(of emulated: EmulatedRTL8187, injected: UInt64, to output: FileCaptureOutput?) throws {
        // A URB's completion is the adapter's acknowledgement: wait for the last.
        let deadline = HostClock.monotonicNanoseconds() + 2_000_000_000
        while emulated.model.statistics.framesTransmitted < Int(injected) && HostClock.monotonicNanoseconds() < deadline {
            HostClock.sleep(seconds: 0.005)
        }
        let frames = emulated.model.transmittedFrames
        writeStandardError("airtap: the emulated RTL8187 transmitted \(emulated.model.statistics.framesTransmitted) frames (bulk OUT 2)\n")
        guard let output else { return }
        let writer = try PcapNGWriter(
            output: output, linkType: LinkType.ieee80211, interfaceName: "rtl8187-air",
            interfaceDescription: "frames the emulated RTL8187 transmitted")
        for (index, frame) in frames.enumerated() {
            try writer.writePacket(frame.frame, timestampNanoseconds: UInt64(index))
        }
        try writer.close()
    }
}

/// The bridge's status: a live line on a terminal, else one line per report.
final class BridgeStatusLine {
    let interface: String
    let live: Bool
    private var shown = false

    init(interface: String, live: Bool) {
        self.interface = interface
        self.live = live
    }

    func show(_ status: BridgeStatus) {
        let traffic = status.traffic
        let channel = status.capture.channel.map { "ch \($0)" } ?? "ch -"
        let text = "to \(interface): \(traffic.framesToHost) frames \(formatBytes(traffic.bytesToHost)) | from \(interface): "
            + "\(traffic.framesFromHost) frames, injected \(traffic.framesInjected), rejected \(traffic.framesRejected) | "
            + "kernel drops \(status.capture.kernelDrops) | \(channel)"
        if live {
            writeStandardError("\r\u{1B}[K" + text)
            shown = true
        } else {
            writeStandardError("airtap: " + text + "\n")
        }
    }

    func finish() {
        guard live, shown else { return }
        writeStandardError("\n")
        shown = false
    }
}

/// `airtap bridge create-persistent`: root's one-time set-up for a user.
struct CreatePersistentTapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-persistent",
        abstract: "As root, once: make a persistent TAP interface of link type radiotap, up, owned by a user.",
        discussion: """
            The user's `airtap bridge --interface NAME` then opens it without any capability (the kernel lets \
            a TAP's owner attach to it). An existing TAP of that name is converted. It lasts until reboot or \
            `airtap bridge delete-persistent` (or ip tuntap del dev NAME mode tap). \
            `ip tuntap add dev NAME mode tap user USER` alone is not enough: it leaves the link type Ethernet \
            and the interface down, and bringing it up needs CAP_NET_ADMIN.
            """)

    @Option(name: .shortAndLong, help: "Interface name.")
    var interface = "airtap0"

    @Option(help: "The user (name or uid) who may open it.")
    var user: String

    @Option(help: "Also (or instead of one user) a group whose members may open it.")
    var group: String?

    func run() throws {
        let uid = try resolveUser(user)
        let gid = try group.map(resolveGroup)
        try HostTapInterface.createPersistent(name: interface, ownerUID: uid, groupGID: gid)
        print(
            "airtap: \(interface) is a persistent radiotap TAP, up, owned by \(user) (uid \(uid))"
                + (gid.map { ", group \($0)" } ?? "") + ". As \(user): airtap bridge --device DEVICE --interface \(interface)\n"
                + "Remove it with: sudo airtap bridge delete-persistent --interface \(interface)")
    }

    private func resolveUser(_ text: String) throws -> UInt32 {
        if let entry = getpwnam(text) { return entry.pointee.pw_uid }
        if let uid = UInt32(text) { return uid }
        throw HostTapError.unknownUser(text)
    }

    private func resolveGroup(_ text: String) throws -> UInt32 {
        if let entry = getgrnam(text) { return entry.pointee.gr_gid }
        if let gid = UInt32(text) { return gid }
        throw HostTapError.unknownGroup(text)
    }
}

/// `airtap bridge delete-persistent`: undoes create-persistent.
struct DeletePersistentTapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-persistent",
        abstract: "As root: remove a persistent TAP interface (what ip tuntap del dev NAME mode tap does).")

    @Option(name: .shortAndLong, help: "Interface name.")
    var interface = "airtap0"

    func run() throws {
        try HostTapInterface.deletePersistent(name: interface)
        print("airtap: \(interface) removed")
    }
}
