// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser

/// The airtap command line. Each subcommand lives in its own file.
@main
struct Airtap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airtap",
        abstract: "802.11 monitor-mode capture and injection with the Linux kernel running inside this process.",
        subcommands: [
            CaptureCommand.self, InjectCommand.self, InfoCommand.self, DemoCommand.self, BenchCommand.self,
            KernelCommand.self, ListCommand.self, DriversCommand.self, BridgeCommand.self, TestInjectionCommand.self,
            ExtcapCommand.self,
        ]
    )

    /// Wireshark runs the installed extcap link with extcap arguments and
    /// no subcommand: those go to `airtap extcap`.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        main(ExtcapCommand.isExtcapInvocation(arguments) ? ["extcap"] + arguments : arguments)
    }
}
