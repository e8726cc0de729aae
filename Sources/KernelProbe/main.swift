// SPDX-License-Identifier: GPL-2.0-only
//
// airtap-kernel-probe: boots the kernel library and runs one scenario per
// process (the library can boot only once per process).
//
//     airtap-kernel-probe <scenario> [extra]
//
// See ProbeOutput for the output format and Scenario for the scenarios.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

// Kernel console lines are logged at info level; stderr keeps stdout clean
// for RESULT lines. AIRTAP_LOG_LEVEL=warning (etc.) quietens it.
let logLevel = getenv("AIRTAP_LOG_LEVEL").flatMap { Logger.Level(rawValue: String(cString: $0)) } ?? .info
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = logLevel
    return handler
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let scenario = Scenario(rawValue: arguments[1]) else {
    let names = Scenario.allCases.map(\.rawValue).joined(separator: "|")
    ProbeOutput.write("usage: airtap-kernel-probe <\(names)> [extra]\n", to: .standardError)
    exit(64)  // EX_USAGE
}

do {
    try scenario.run(extraArguments: Array(arguments.dropFirst(2)))
} catch {
    ProbeOutput.fail("\(scenario.rawValue): \(error)")
}
