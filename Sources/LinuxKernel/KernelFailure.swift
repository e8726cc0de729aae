// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// How the kernel library can fail so that nothing in it can be trusted
/// any more, and the exit status each gives the process (distinct from a
/// command's own errors: 1 usage or setup, 3 adapter unplugged).
public enum KernelFailure: Sendable, CustomStringConvertible {
    /// panic() (BUG() ends in one too).
    case panic
    /// A fatal host signal while the library runs: a kernel oops (in this
    /// architecture a bad pointer in kernel code faults the host process)
    /// or a crash in host code; `site` is where it struck, when known.
    case fatalSignal(Int32, site: CrashSite? = nil)
    /// No syscall got through for this many seconds: the kernel's CPU is
    /// held (a spinning task with interrupts off, a deadlock).
    case stuck(seconds: Double)

    /// EX_SOFTWARE, as before.
    public static let panicExitStatus: Int32 = 70
    public static let fatalSignalExitStatus: Int32 = 71
    public static let stuckExitStatus: Int32 = 72

    public var exitStatus: Int32 {
        switch self {
        case .panic: Self.panicExitStatus
        case .fatalSignal: Self.fatalSignalExitStatus
        case .stuck: Self.stuckExitStatus
        }
    }

    public var description: String {
        switch self {
        case .panic:
            return "kernel panic inside the library"
        case .fatalSignal(let number, let site):
            let name = String(cString: strsignal(number))
            return "fatal signal \(number) (\(name)) inside the process: a kernel oops or a crash"
                + (site.map { " \($0)" } ?? "")
        case .stuck(let seconds):
            return "the kernel made no progress for \(Int(seconds)) s (a syscall could not get its CPU): it is stuck"
        }
    }
}

/// What runs when the kernel fails, before the process exits: capture
/// files are finished there (flushed, closed) so they stay complete and
/// valid. Handlers run on the failing thread, with the kernel unusable:
/// they must not make syscalls into the library, and must not wait long
/// for locks (use `withLockIfAvailable`).
public enum KernelFailureHandlers {
    private static let handlers = HostMutex<[Int: @Sendable (KernelFailure) -> Void]>([:])
    private static let nextToken = Atomic<Int>(1)
    /// The exit status of the failure being handled (0: none yet).
    private static let firstFailureStatus = Atomic<Int32>(0)

    /// Adds a handler; returns the token `remove` takes.
    @discardableResult
    public static func add(_ handler: @escaping @Sendable (KernelFailure) -> Void) -> Int {
        let token = nextToken.add(1, ordering: .relaxed).oldValue
        handlers.withLock { $0[token] = handler }
        return token
    }

    public static func remove(_ token: Int) {
        _ = handlers.withLockIfAvailable { $0.removeValue(forKey: token) }
    }

    /// Runs the handlers once, reports `failure` with the kernel log tail on
    /// standard error, and exits with its status. A second failure while
    /// the first is being handled (a fault in a handler, or another thread
    /// tripping over the dead kernel) exits at once, with the first one's
    /// status: the first is the cause.
    public static func fail(_ failure: KernelFailure) -> Never {
        let (isFirst, firstStatus) = firstFailureStatus.compareExchange(
            expected: 0, desired: failure.exitStatus, ordering: .acquiringAndReleasing)
        if !isFirst { _exit(firstStatus) }
        // The lock may be held by a thread that will never run again: take a copy if free.
        let current = handlers.withLockIfAvailable { Array($0.values) } ?? []
        for handler in current { handler(failure) }
        KernelConsole.reportFailureAndExit(failure)
    }

    // MARK: Fatal signals

    private static let fatalSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE]

    /// Catches the signals a kernel oops (or any crash) raises, on an
    /// alternate stack where the thread has one, so the handlers run and
    /// the file is finished before the process ends.
    static func installFatalSignalHandlers() {
        // Keep an alternate stack the thread already has: its owner (e.g. a
        // sanitizer runtime) frees it when the thread ends, and would free
        // ours instead. Ours is never freed: the handlers may run until exit.
        var existing = stack_t()
        if sigaltstack(nil, &existing) == 0, existing.ss_flags & Int32(SS_DISABLE) != 0 {
            let stackSize = 1 << 16
            var stack = stack_t()
            stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: stackSize, alignment: 16)
            stack.ss_size = stackSize
            stack.ss_flags = 0
            sigaltstack(&stack, nil)
        }
        for number in fatalSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { number, information, context in
                KernelFailureHandlers.fail(.fatalSignal(number, site: CrashSite(signal: number, information, context)))
            }
            action.sa_flags = Int32(SA_SIGINFO) | Int32(SA_ONSTACK) | Int32(bitPattern: UInt32(SA_NODEFER))
                | Int32(bitPattern: UInt32(SA_RESETHAND))
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }
}

/// Where a fatal signal struck: the faulting instruction, as an offset
/// into the binary that holds it (what `addr2line -f -e BINARY OFFSET`
/// resolves; the kernel library is linked into the executable), and the
/// address a bad access touched.
public struct CrashSite: Sendable, CustomStringConvertible {
    public var instructionAddress: UInt
    /// SIGSEGV and SIGBUS: the address accessed.
    public var accessedAddress: UInt?
    /// The executable or shared library holding the instruction.
    public var binary: String?
    public var offsetInBinary: UInt?

    /// glibc's REG_RIP, the index of the instruction pointer in x86-64's gregs.
    private static let x86InstructionPointerIndex = 16

    /// Reads the signal's context; nil when it holds no instruction address.
    init?(signal: Int32, _ information: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
        guard let context else { return nil }
        let machine = context.assumingMemoryBound(to: ucontext_t.self).pointee.uc_mcontext
        #if arch(x86_64)
        let instruction = withUnsafeBytes(of: machine.gregs) {
            $0.load(fromByteOffset: Self.x86InstructionPointerIndex * MemoryLayout<greg_t>.stride, as: UInt.self)
        }
        #elseif arch(arm64)
        let instruction = UInt(machine.pc)
        #else
        return nil
        #endif
        instructionAddress = instruction
        if signal == SIGSEGV || signal == SIGBUS, let information {
            accessedAddress = UInt(bitPattern: information.pointee._sifields._sigfault.si_addr)
        }
        if let (path, base) = Self.mapping(containing: instruction) {
            binary = path
            offsetInBinary = instruction &- base
        }
    }

    /// The file mapped at `address` and where its offset 0 is mapped (the
    /// load base addr2line's addresses count from), from /proc/self/maps.
    private static func mapping(containing address: UInt) -> (path: String, base: UInt)? {
        let descriptor = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            contents += chunk[0..<count]
        }
        struct Mapping { var start: UInt, end: UInt, offset: UInt, path: String }
        let mappings: [Mapping] = contents.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            guard fields.count >= 6 else { return nil }
            let range = fields[0].split(separator: UInt8(ascii: "-"))
            guard range.count == 2, let start = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                let end = UInt(String(decoding: range[1], as: UTF8.self), radix: 16),
                let offset = UInt(String(decoding: fields[2], as: UTF8.self), radix: 16)
            else { return nil }
            let path = fields[5...].map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            return Mapping(start: start, end: end, offset: offset, path: path)
        }
        guard let hit = mappings.first(where: { $0.start <= address && address < $0.end }), hit.path.hasPrefix("/") else {
            return nil
        }
        let base = mappings.first(where: { $0.path == hit.path && $0.offset == 0 })?.start ?? hit.start &- hit.offset
        return (hit.path, base)
    }

    public var description: String {
        var text = "at 0x\(String(instructionAddress, radix: 16))"
        if let binary, let offset = offsetInBinary {
            text += " (addr2line -f -e \(binary) 0x\(String(offset, radix: 16)))"
        }
        if let accessedAddress { text += ", accessing 0x\(String(accessedAddress, radix: 16))" }
        return text
    }
}
