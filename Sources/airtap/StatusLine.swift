// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RadioDevices
import SystemPackage

/// The live one-line status on stderr: only for interactive terminals.
struct StatusLine {
    let enabled: Bool
    private var shown = false

    init(quiet: Bool) {
        enabled = !quiet && isatty(STDERR_FILENO) == 1
    }

    mutating func show(_ status: CaptureStatus) {
        guard enabled else { return }
        let channel = status.channel.map { "ch \($0)" } ?? "ch -"
        let text = "\r\u{1B}[K\(status.frames) frames  \(formatBytes(status.bytes))  \(status.kernelDrops) drops  "
            + "\(channel)  \(Int(status.framesPerSecond.rounded())) frames/s"
        writeStandardError(text)
        shown = true
    }

    /// Ends the status line so later messages start on a fresh line.
    mutating func finish() {
        guard enabled, shown else { return }
        writeStandardError("\n")
        shown = false
    }
}

func formatBytes(_ bytes: UInt64) -> String {
    if bytes >= 10 << 20 { return "\(bytes >> 20) MiB" }
    if bytes >= 10 << 10 { return "\(bytes >> 10) KiB" }
    return "\(bytes) B"
}

func writeStandardError(_ text: String) {
    _ = try? FileDescriptor.standardError.writeAll(text.utf8)
}
