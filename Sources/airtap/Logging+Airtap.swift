// SPDX-License-Identifier: GPL-2.0-only

import Logging

/// Sends log output to stderr, so stdout carries only command output.
/// Kernel console lines are logged at info level: shown only with --verbose.
func bootstrapLogging(verbose: Bool) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = verbose ? .debug : .warning
        return handler
    }
}
