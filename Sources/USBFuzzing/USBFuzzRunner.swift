// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinuxKernel
import SystemPackage

/// Runs one target in this process: boots the kernel once with the finding
/// monitor on its console, sets the target up, then runs inputs one by one
/// (for libFuzzer's callback, or replaying files). A new finding prints its
/// report and aborts, which is how libFuzzer learns of it (it saves the
/// input as crash-*); a known one is counted and its first input saved.
public final class USBFuzzRunner {
    public let kind: USBFuzzTargetKind
    public let kernel: Kernel
    private let monitor: KernelFindingMonitor
    private let liveness: KernelLiveness
    private let watchdog: FuzzWatchdog
    private let target: any USBFuzzTarget
    private let findingsDirectory: String
    private var savedKnown: Set<String> = []
    public private(set) var inputsRun = 0
    private let startedAt = HostClock.monotonicNanoseconds()

    /// - Parameter findingsDirectory: where inputs hitting known findings are
    ///   saved (created if needed).
    public init(kind: USBFuzzTargetKind, findingsDirectory: String) throws {
        self.kind = kind
        self.findingsDirectory = findingsDirectory
        // Console lines would otherwise go to swift-log's default handler (stdout).
        KernelConsole.forwardsToSwiftLog = false
        monitor = KernelFindingMonitor()
        kernel = try Kernel.boot(memoryMiB: 256, commandLine: kind.kernelCommandLine, console: monitor.sink)
        liveness = KernelLiveness(kernel: kernel)
        watchdog = try FuzzWatchdog(liveness: liveness)
        watchdog.inputStarted(limitSeconds: 120, label: "\(kind.rawValue) set-up")
        monitor.beginInput()
        target = try kind.makeTarget(kernel: kernel, watchdog: watchdog)
        watchdog.inputFinished()
        if case .new(let report) = monitor.endInput() { fail("during set-up: kernel reported trouble: \(report)", input: nil) }
    }

    /// One input, start to verdict.
    public func run(_ input: [UInt8]) {
        inputsRun += 1
        monitor.beginInput()
        watchdog.inputStarted(limitSeconds: target.watchdogSeconds)
        let harnessFinding: String?
        do {
            harnessFinding = try target.run(input)
        } catch {
            fail("the harness cannot continue: \(error)", input: input, isFinding: false)
        }
        let stuck = liveness.check()
        watchdog.inputFinished()
        if let stuck { fail(stuck, input: input) }
        switch monitor.endInput(harnessFinding: harnessFinding.map { "harness: \($0)" }) {
        case .clean: break
        case .known(let ids):
            for id in ids where !savedKnown.contains(id) {
                if let finding = KnownKernelFindings.all.first(where: { $0.id == id }) { saveKnown(finding, input) }
            }
        case .new(let report): fail(report, input: input)
        }
    }

    /// The end-of-run line: inputs, rate, what the target did, known findings.
    public var summary: String {
        let seconds = Double(HostClock.monotonicNanoseconds() - startedAt) / 1e9
        let known = monitor.knownHits.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }
        return "airtap-usb-fuzz: \(kind.rawValue): \(inputsRun) inputs in \(String(format1: seconds)) s "
            + "(\(String(format1: Double(inputsRun) / max(seconds, 0.001))) exec/s incl. set-up); \(target.summary); "
            + "known findings: \(known.isEmpty ? "none" : known.joined(separator: ", ")); new findings: none"
    }

    private func saveKnown(_ finding: KnownKernelFinding, _ input: [UInt8]) {
        savedKnown.insert(finding.id)
        let path = "\(findingsDirectory)/known-\(finding.id)-\(String(FuzzFeedback.hash(input), radix: 16))"
        do {
            try makeHostDirectories(findingsDirectory)
            let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
            _ = try file.closeAfter { try file.writeAll(input) }
            writeStandardError("airtap-usb-fuzz: known finding \(finding.id) (\(finding.summary)); first input saved as \(path)\n")
        } catch {
            writeStandardError("airtap-usb-fuzz: known finding \(finding.id); cannot save the input as \(path): \(error)\n")
        }
    }

    private func fail(_ report: String, input: [UInt8]?, isFinding: Bool = true) -> Never {
        let label = isFinding ? "FINDING" : "ERROR"
        var text = "airtap-usb-fuzz: \(label): \(kind.rawValue) input #\(inputsRun): \(report)\n"
        if let input { text += "  input: \(input.count) bytes, \(input.prefix(64).map { hexByte($0) }.joined())\n" }
        writeStandardError(text)
        // libFuzzer saves the input from its SIGABRT handler.
        abort()
    }
}

func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}

/// mkdir -p on the host.
func makeHostDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component + "/"
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw Errno(rawValue: errno)
        }
    }
}
