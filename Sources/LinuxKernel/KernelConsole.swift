// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Synchronization

/// Process-wide state behind the kernel's `print` and `panic` host operations.
///
/// Those operations are plain C function pointers without a context
/// argument, so the state they reach has to be global.
public enum KernelConsole {
    /// How much console output `logTail` keeps.
    public static let logTailCapacity = 64 * 1024

    /// Exit status of a process whose kernel panicked (EX_SOFTWARE).
    public static let panicExitStatus: Int32 = KernelFailure.panicExitStatus

    /// Longest line forwarded as a unit; longer output is split so a kernel
    /// that never prints a newline cannot grow memory without bound.
    static let maximumLineBytes = 16 * 1024

    private static let state = HostMutex(ConsoleState())

    /// The last `logTailCapacity` bytes the kernel printed, decoded as UTF-8.
    public static var logTail: String { state.withLock { $0.tail.text } }

    /// The first line of `lines` containing "Linux version", without its
    /// printk timestamp.
    public static func bannerLine<Lines: Sequence<String>>(in lines: Lines) -> String? {
        for line in lines where line.contains("Linux version") {
            return String(KTAPParser.strippingTimestamp(Substring(line)))
        }
        return nil
    }

    /// Whether console lines also go to swift-log (label `airtap.kernel`,
    /// level info); read at boot. Programs using the Airtap library turn it
    /// off unless asked: swift-log's default handler, never bootstrapped,
    /// would print the kernel's boot log on their standard output.
    public static var forwardsToSwiftLog: Bool {
        get { forwardingToSwiftLog.load(ordering: .relaxed) }
        set { forwardingToSwiftLog.store(newValue, ordering: .relaxed) }
    }
    private static let forwardingToSwiftLog = Atomic<Bool>(true)

    /// Starts routing console lines to `sink` and to swift-log.
    static func install(sink: ConsoleSink, logger: Logger) {
        let forwards = forwardsToSwiftLog
        state.withLock { state in
            state.sink = sink
            state.logger = forwards ? logger : nil
        }
    }

    /// Handles one `print` call from the kernel.
    static func receive(_ bytes: UnsafeBufferPointer<UInt8>) {
        let (lines, sink, logger) = state.withLock { state in
            state.tail.append(bytes)
            let lines = state.lineSplitter.append(bytes)
            return (lines, state.sink, state.logger)
        }
        // Deliver outside the lock: the sink may be slow, and a panic on
        // another thread must still be able to read the tail.
        deliver(lines, to: sink, logger: logger)
    }

    /// Delivers a final line that lacked its newline (at halt).
    static func flushPartialLine() {
        let (lines, sink, logger) = state.withLock { state in
            (state.lineSplitter.flush(), state.sink, state.logger)
        }
        deliver(lines, to: sink, logger: logger)
    }

    private static func deliver(_ lines: [String], to sink: ConsoleSink, logger: Logger?) {
        for line in lines {
            logger?.info("\(line)")
            sink.receiveLine?(line)
        }
    }

    /// The kernel failed (`KernelFailureHandlers.fail` ran the handlers).
    /// Report it with the log tail and leave: nothing in this process can be
    /// trusted any more.
    static func reportFailureAndExit(_ failure: KernelFailure) -> Never {
        // The lock may be held by the thread that failed: report without the tail then.
        let tail = state.withLockIfAvailable { $0.tail.text } ?? "(unavailable: the console was being written)"
        // Keep whatever the program already printed (e.g. RESULT lines).
        fflush(nil)
        writeToStandardError(
            "airtap: \(failure); last kernel console output follows\n"
                + "--- kernel log tail ---\n" + tail
                + (tail.hasSuffix("\n") ? "" : "\n") + "--- end of kernel log tail ---\n")
        // _exit rather than exit: kernel threads are still running, and atexit
        // handlers or static destructors could run concurrently with them.
        _exit(failure.exitStatus)
    }

    private static func writeToStandardError(_ message: String) {
        let bytes = Array(message.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(STDERR_FILENO, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// The kernel's `print` host operation.
let consolePrintOperation: @convention(c) (UnsafePointer<CChar>?, Int32) -> Void = { text, length in
    guard let text, length > 0 else { return }
    let count = Int(length)
    text.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
        KernelConsole.receive(UnsafeBufferPointer(start: bytes, count: count))
    }
}

/// The kernel's `panic` host operation; never returns.
let panicOperation: @convention(c) () -> Void = {
    KernelFailureHandlers.fail(.panic)
}

struct ConsoleState {
    var tail = ByteTail(capacity: KernelConsole.logTailCapacity)
    var lineSplitter = LineSplitter(maximumLineBytes: KernelConsole.maximumLineBytes)
    var sink = ConsoleSink.discard
    var logger: Logger?
}

/// Keeps the last `capacity` bytes appended, in a ring allocated once on
/// first use: a console that prints for hours neither grows the heap nor
/// reallocates.
struct ByteTail {
    let capacity: Int
    private var ring: [UInt8] = []
    /// Where the next byte goes; once `wrapped`, also the oldest byte.
    private var next = 0
    private var wrapped = false

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        if ring.isEmpty { ring = [UInt8](repeating: 0, count: capacity) }
        // Only the last `capacity` bytes of a long write can survive it.
        let keep = min(bytes.count, capacity)
        var source = base + (bytes.count - keep)
        var remaining = keep
        ring.withUnsafeMutableBufferPointer { ring in
            while remaining > 0 {
                let run = min(capacity - next, remaining)
                (ring.baseAddress! + next).update(from: source, count: run)
                source += run
                remaining -= run
                next += run
                if next == capacity {
                    next = 0
                    wrapped = true
                }
            }
        }
    }

    var bytes: [UInt8] { wrapped ? Array(ring[next...] + ring[..<next]) : Array(ring[..<next]) }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Cuts a byte stream into lines.
struct LineSplitter {
    let maximumLineBytes: Int
    private var pending: [UInt8] = []

    init(maximumLineBytes: Int) {
        self.maximumLineBytes = max(maximumLineBytes, 1)
    }

    /// Returns the lines completed by `bytes`, without line terminators.
    mutating func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(takePending())
            } else {
                pending.append(byte)
                if pending.count >= maximumLineBytes {
                    lines.append(takePending())
                }
            }
        }
        return lines
    }

    /// Returns the unterminated remainder, if any, as a line.
    mutating func flush() -> [String] {
        pending.isEmpty ? [] : [takePending()]
    }

    private mutating func takePending() -> String {
        if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
        let line = String(decoding: pending, as: UTF8.self)
        pending.removeAll(keepingCapacity: true)
        return line
    }
}
