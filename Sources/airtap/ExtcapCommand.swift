// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import RadioDevices
import SystemPackage

/// `airtap extcap` (and plain `airtap --extcap-...`, how Wireshark calls
/// it): airtap as a Wireshark extcap program, so Wireshark and tshark list
/// airtap's devices as capture interfaces and capture from them.
struct ExtcapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extcap",
        abstract: "Wireshark extcap: lets Wireshark and tshark list airtap's devices and capture from them.",
        discussion: """
            Install once: airtap extcap --install (into the folder `tshark -G folders` calls the extcap path; \
            as root the global one; --dir DIR for another, e.g. with WIRESHARK_EXTCAP_DIR=DIR for a non-root \
            Wireshark 4.0, which has no personal extcap folder). Wireshark then lists airtap-sim, \
            airtap-emulated:rtl8187 and every supported USB adapter (airtap-usb:BUS-PORT):
              tshark -D
              tshark -i airtap-sim -o extcap.airtap_sim.channel:11 -c 20 -w x.pcapng
            The rest of the arguments are Wireshark's extcap protocol (extcap(4)).
            """)

    @Flag(name: .customLong("extcap-interfaces"), help: "List the interfaces (airtap's devices).")
    var listInterfaces = false

    @Option(name: .customLong("extcap-version"), help: ArgumentHelp("Wireshark's version (ignored).", visibility: .hidden))
    var wiresharkVersion: String?

    @Option(name: .customLong("extcap-interface"), help: "The interface the other arguments are about.")
    var interface: String?

    @Flag(name: .customLong("extcap-dlts"), help: "List the interface's link types (127, radiotap).")
    var listLinkTypes = false

    @Flag(name: .customLong("extcap-config"), help: "List the interface's configuration arguments.")
    var listConfiguration = false

    @Option(name: .customLong("extcap-reload-option"), help: ArgumentHelp("Re-list one argument's values (none need it).", visibility: .hidden))
    var reloadOption: String?

    @Flag(name: .customLong("capture"), help: "Capture from --extcap-interface into --fifo.")
    var capture = false

    @Option(
        name: .customLong("extcap-capture-filter"),
        help: "Capture filter (pcap-filter(7)); without --capture: only check it (error text on stdout, as Wireshark expects).")
    var captureFilter: String?

    @Option(name: .customLong("fifo"), help: "Where --capture writes pcapng (Wireshark's pipe).")
    var fifo: String?

    @Option(name: .customLong("extcap-control-in"), help: ArgumentHelp("Wireshark's control pipe (unused).", visibility: .hidden))
    var controlIn: String?

    @Option(name: .customLong("extcap-control-out"), help: ArgumentHelp("Wireshark's control pipe (unused).", visibility: .hidden))
    var controlOut: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("Wireshark's log level (ignored).", visibility: .hidden))
    var logLevel: String?

    @Option(name: .customLong("log-file"), help: ArgumentHelp("Wireshark's log file (ignored).", visibility: .hidden))
    var logFile: String?

    // The arguments --extcap-config offers, as Wireshark passes them back.
    @Option(name: .customLong("channel"), help: "Channel(s), as airtap capture --channel.")
    var channel = ExtcapSentences.defaultChannel

    @Option(name: .customLong("hop-interval"), help: "Seconds on each channel when several are given.")
    var hopInterval = ExtcapSentences.defaultHopInterval

    @Option(name: .customLong("regdomain"), help: "Regulatory domain (ISO alpha-2); empty: the world domain.")
    var regulatoryDomain: String?

    @Option(name: .customLong("monitor-flags"), help: "Monitor flags, comma-separated (as airtap capture).")
    var monitorFlags: String?

    @Option(name: .customLong("time-stamp-precision"), help: "micro (default) or nano.")
    var precision: TimestampPrecision = .micro

    @Flag(name: .customLong("install"), help: "Install airtap into Wireshark's extcap folder (a symbolic link to this program).")
    var install = false

    @Flag(name: .customLong("uninstall"), help: "Remove what --install put there.")
    var uninstall = false

    @Option(name: .customLong("dir"), help: "With --install/--uninstall: the extcap folder (default: from tshark -G folders).")
    var directory: String?

    @Flag(name: .shortAndLong, help: "Show the kernel console on stderr.")
    var verbose = false

    /// Whether `arguments` (without the program name) are Wireshark calling
    /// airtap as an extcap: what `airtap` alone then runs as `airtap extcap`.
    static func isExtcapInvocation(_ arguments: [String]) -> Bool {
        guard arguments.first?.hasPrefix("--") == true else { return false }
        return arguments.contains { argument in
            argument == "--capture" || argument.hasPrefix("--extcap-")
        }
    }

    func validate() throws {
        guard hopInterval > 0 else { throw ValidationError("--hop-interval must be positive, got \(hopInterval)") }
        if install && uninstall { throw ValidationError("give --install or --uninstall, not both") }
    }

    func run() throws {
        bootstrapLogging(verbose: verbose)
        if install || uninstall {
            let installer = ExtcapInstaller(directory: directory)
            writeStandardOutput(try install ? installer.install() : installer.uninstall())
            return
        }
        if listInterfaces {
            let interfaces = ExtcapSentences.interfaces(usbWarning: { writeStandardError($0 + "\n") })
            writeStandardOutput(ExtcapSentences.interfaceList(interfaces))
            return
        }
        // Everything else is about one interface.
        guard let interface else {
            let steps = [
                (listLinkTypes, "--extcap-dlts"), (listConfiguration, "--extcap-config"), (capture, "--capture"),
                (captureFilter != nil, "--extcap-capture-filter"), (reloadOption != nil, "--extcap-reload-option"),
            ]
            guard let step = steps.first(where: \.0)?.1 else {
                throw ValidationError("nothing to do: give --extcap-interfaces, or see airtap extcap --help")
            }
            throw ExtcapError.missingInterface(step)
        }
        let deviceName = try ExtcapInterface.deviceName(forInterface: interface)
        do {
            _ = try DeviceRegistry.descriptor(named: deviceName)
        } catch DeviceError.unknownDevice {
            throw ExtcapError.unknownInterface(interface)
        }
        if listLinkTypes {
            writeStandardOutput(ExtcapSentences.linkTypes)
        } else if listConfiguration {
            writeStandardOutput(ExtcapSentences.configuration())
        } else if reloadOption != nil {
            return  // No argument is reloadable.
        } else if capture {
            try runExtcapCapture(deviceName: deviceName)
        } else if let captureFilter {
            // Wireshark's filter check: nothing on stdout means valid.
            do {
                _ = try CaptureFilter.compile(captureFilter)
            } catch {
                writeStandardOutput("\(error)\n")
            }
        }
    }

    /// The capture Wireshark starts: `airtap capture` into the FIFO, quiet.
    /// Wireshark stops it with SIGTERM or by closing the FIFO; either way
    /// the stream ends with complete blocks (see runCapture).
    private func runExtcapCapture(deviceName: String) throws {
        guard let fifo else { throw ExtcapError.missingArgument("--fifo PATH", for: "--capture") }
        var arguments = ["--device", deviceName]
        if let monitorFlags, !monitorFlags.isEmpty { arguments += ["--monitor-flags", monitorFlags] }
        if let regulatoryDomain, !regulatoryDomain.isEmpty { arguments += ["--regdomain", regulatoryDomain.uppercased()] }
        var deviceArguments = try DeviceArguments.parse(arguments)
        deviceArguments.verbose = verbose
        _ = try runCapture(
            deviceArguments: deviceArguments, channelList: channel, hopInterval: hopInterval, limits: CaptureLimits(),
            output: fifo, fileSettings: CaptureFileSettings(format: .pcapng, precision: precision, filterExpression: captureFilter),
            quiet: true, collectSummary: false, simulatedTraffic: true, silentOnSuccess: true)
    }
}

func writeStandardOutput(_ text: String) {
    _ = try? FileDescriptor.standardOutput.writeAll(text.utf8)
}
