// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser

/// The airtap command line. Each subcommand lives in its own file.
@main
struct Airtap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airtap",
        abstract: "Linux kernel networking, running as a library inside this process.",
        subcommands: [KernelCommand.self]
    )
}
