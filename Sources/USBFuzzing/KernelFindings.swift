// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinuxKernel
import Synchronization

/// An upstream kernel problem the fuzzer already found and FINDINGS.md
/// describes. Inputs that hit it are counted (and the first one saved), not
/// reported again, so the fuzzer keeps going past it.
public struct KnownKernelFinding: Sendable {
    /// The FINDINGS.md heading number ("F1").
    public let id: String
    public let summary: String
    /// A console line that identifies it (the WARNING's location).
    public let consoleSignature: String
}

public enum KnownKernelFindings {
    public static let all: [KnownKernelFinding] = [
        KnownKernelFinding(
            id: "F1",
            summary: "rtl8187 hands mac80211 the RX trailer's 4-bit rate index unchecked (12-15): WARN_ON in ieee80211_rx_list",
            // WARN lines carry file:line, not the function (no kallsyms).
            consoleSignature: "WARNING: net/mac80211/rx.c:5697 "),
        KnownKernelFinding(
            id: "F2",
            summary: "rtl8187 trims a frame to the RX trailer's 12-bit length unchecked: 0-4 bytes with RX_INCLUDES_FCS"
                + " is mac80211's \"driver bug\" WARN_ON in ieee80211_rx_monitor",
            consoleSignature: "WARNING: net/mac80211/rx.c:896 "),
        KnownKernelFinding(
            id: "F4",
            summary: "rtw88_usb's RX handler copies pkt_len + descriptor + drv_info bytes without checking they lie within"
                + " the transfer: stale buffer contents (and past the 32 KiB buffer's end) go up as frame data",
            consoleSignature: "rtw88-rx: stale data past actual_length"),
        KnownKernelFinding(
            id: "F6",
            summary: "rtw88 checks a firmware RA report's C2H length with WARN: device data triggers a kernel WARNING",
            consoleSignature: "WARNING: drivers/net/wireless/realtek/rtw88/fw.c:208 "),
    ]

    /// The known finding a trouble report (its first line) belongs to.
    static func matching(_ troubleLine: String) -> KnownKernelFinding? {
        all.first { troubleLine.contains($0.consoleSignature) }
    }
}

/// What one input did to the kernel, as its console shows it.
public enum KernelFindingVerdict: Sendable, Equatable {
    case clean
    /// Every report of the input belongs to known findings.
    case known(ids: [String])
    /// A new problem: the report to print before aborting.
    case new(report: String)
}

/// Watches the kernel console during fuzzing: every line becomes a coverage
/// feature (its template), and lines that mean trouble (WARNING, BUG, Oops,
/// lockdep, hung task, RCU stall) make the input a finding. A panic cannot
/// wait for the input to end: the monitor aborts at once, so libFuzzer saves
/// the input before the kernel's panic handler ends the process.
public final class KernelFindingMonitor: Sendable {
    /// Markers of kernel trouble, as printk starts those reports.
    static let troubleMarkers = [
        "WARNING:", "BUG:", "Oops", "kernel BUG at", "general protection fault", "Unable to handle",
        "list_add corruption", "list_del corruption", "refcount_t:", "UBSAN:", "KASAN:", "stack overflow",
        "INFO: task", "rcu: INFO:", "soft lockup", "hard LOCKUP", "possible circular locking",
        "inconsistent lock state", "double free",
    ]

    private struct State {
        var lines: [String] = []
        /// The first line of each trouble report of the input.
        var troubleLines: [String] = []
        var inputRunning = false
        var knownHits: [String: Int] = [:]
    }

    private let state = HostMutex(State())
    private let maximumLinesPerInput = 4000

    public init() {}

    public var sink: ConsoleSink {
        .lines { [self] line in receive(line) }
    }

    /// How often each known finding was hit in this process.
    public var knownHits: [String: Int] { state.withLock { $0.knownHits } }

    func receive(_ line: String) {
        FuzzFeedback.hit(.consoleMessage, Self.templateHash(line))
        if line.contains("Kernel panic - not syncing") {
            writeStandardError(
                "airtap-usb-fuzz: FINDING: kernel panic during the input (libFuzzer saves it as crash-*)\n"
                    + "--- kernel log tail ---\n\(KernelConsole.logTail)\n")
            abort()
        }
        let isTrouble = Self.troubleMarkers.contains { line.contains($0) }
        state.withLock { state in
            if state.lines.count < maximumLinesPerInput { state.lines.append(line) }
            if isTrouble { state.troubleLines.append(line) }
        }
    }

    public func beginInput() {
        state.withLock { state in
            state.lines.removeAll(keepingCapacity: true)
            state.troubleLines.removeAll()
            state.inputRunning = true
        }
    }

    /// The console lines since `beginInput`.
    public var linesOfInput: [String] { state.withLock { $0.lines } }

    /// Classifies the input just run; `harnessFinding` (a problem the
    /// harness saw itself) counts as one more trouble report. A report takes
    /// a few lines (WARN ends with "---[ end trace"), so on trouble this
    /// waits briefly for the rest before judging.
    public func endInput(harnessFinding: String? = nil) -> KernelFindingVerdict {
        guard state.withLock({ !$0.troubleLines.isEmpty }) || harnessFinding != nil else {
            state.withLock { $0.inputRunning = false }
            return .clean
        }
        let deadline = HostClock.monotonicNanoseconds() + 50_000_000
        let waitsForTrace = state.withLock { !$0.troubleLines.isEmpty }
        while waitsForTrace, HostClock.monotonicNanoseconds() < deadline,
            state.withLock({ $0.lines.last.map { !$0.contains("---[ end trace") } ?? true })
        {
            HostClock.sleep(seconds: 0.0005)
        }
        return state.withLock { state in
            state.inputRunning = false
            let reports = state.troubleLines + (harnessFinding.map { [$0] } ?? [])
            let known = reports.map(KnownKernelFindings.matching)
            if known.allSatisfy({ $0 != nil }) {
                let ids = known.compactMap { $0?.id }
                for id in ids { state.knownHits[id, default: 0] += 1 }
                return .known(ids: Array(Set(ids)).sorted())
            }
            let unknown = zip(reports, known).first { $0.1 == nil }!.0
            return .new(
                report: "\(unknown)\n--- kernel console during the input ---\n" + state.lines.joined(separator: "\n"))
        }
    }

    /// The line without its timestamp and without any word holding a digit
    /// (numbers, addresses, MACs, device names), so messages that differ only
    /// in values count as one feature.
    static func templateHash(_ line: String) -> UInt64 {
        let text = KTAPParser.strippingTimestamp(Substring(line))
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for word in text.split(separator: " ", omittingEmptySubsequences: true)
        where !word.utf8.contains(where: { (0x30...0x39).contains($0) }) {
            for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            hash = (hash ^ 0x20) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

func writeStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        offset += written
    }
}
