// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture

extension CaptureFileFormat: ExpressibleByArgument {}
extension TimestampPrecision: ExpressibleByArgument {}

/// How a capture is filtered and written: dumpcap's -F, -f and -b, and
/// tcpdump's --time-stamp-precision.
struct CaptureFileSettings {
    var format: CaptureFileFormat = .pcapng
    var precision: TimestampPrecision = .micro
    var filterExpression: String?
    /// `-b` values as given ("filesize:1000").
    var ringOptions: [String] = []
}

/// The command-line form of `CaptureFileSettings` (`airtap capture`).
struct CaptureFileArguments: ParsableArguments {
    @Option(
        name: .customShort("F"),
        help: ArgumentHelp(
            "File format: pcapng (default, as dumpcap) or pcap (classic libpcap format, for aircrack-ng and other pcap-only tools).",
            valueName: "pcapng|pcap"))
    var format: CaptureFileFormat = .pcapng

    @Option(
        name: [.customLong("time-stamp-precision"), .customLong("time-precision")],
        help: ArgumentHelp(
            "Timestamp precision: micro (default, as dumpcap and tcpdump write) or nano (pcapng if_tsresol 9; pcap's "
                + "nanosecond magic, which aircrack-ng 1.7 cannot read).",
            valueName: "micro|nano"))
    var precision: TimestampPrecision = .micro

    @Option(
        name: [.customShort("f"), .customLong("filter")],
        help: ArgumentHelp(
            "Capture filter in pcap-filter(7) syntax, compiled by libpcap and run in the kernel, e.g. \"type mgt subtype beacon\".",
            valueName: "expression"))
    var filter: String?

    @Option(
        name: [.customShort("b"), .customLong("ring-buffer")], parsing: .singleValue,
        help: ArgumentHelp(
            "Multiple files as dumpcap's -b: filesize:KB (kB of 1000 bytes), duration:SECONDS, files:N (keep the newest N); repeat -b for several. "
                + "Files are named FILE_NNNNN_YYYYmmddHHMMSS.EXT after -w FILE.EXT.",
            valueName: "key:value"))
    var ringBuffer: [String] = []

    var settings: CaptureFileSettings {
        CaptureFileSettings(format: format, precision: precision, filterExpression: filter, ringOptions: ringBuffer)
    }
}
