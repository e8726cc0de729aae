// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxKernel
import Logging
import SystemPackage

/// The Linux kernel running as a library inside this process.
///
/// There is at most one per process: boot it with `Kernel.boot`, talk to it
/// with syscalls from any thread, and stop it with `halt()`.
public final class Kernel: Sendable {
    /// Nanoseconds `lkl_start_kernel` took, i.e. until the kernel accepted syscalls.
    public let bootNanoseconds: UInt64
    /// The full command line the kernel was started with.
    public let commandLine: String
    private let watchdog: KernelProgressWatchdog?

    private init(bootNanoseconds: UInt64, commandLine: String, watchdog: KernelProgressWatchdog?) {
        self.bootNanoseconds = bootNanoseconds
        self.commandLine = commandLine
        self.watchdog = watchdog
    }

    /// How long no syscall may get through before the process fails as
    /// `KernelFailure.stuck` (exit status 72); `AIRTAP_STUCK_SECONDS`
    /// overrides it, 0 turns the watchdog off.
    public static var defaultStuckSeconds: Double {
        getenv("AIRTAP_STUCK_SECONDS").flatMap { Double(String(cString: $0)) } ?? 20
    }

    /// Boots the kernel with `memoryMiB` of RAM and `commandLine` appended to
    /// the `mem=` option. Returns once the kernel accepts syscalls.
    ///
    /// Console output goes to the log tail (`consoleLog`), to swift-log
    /// (label `airtap.kernel`, level info) and to `console`.
    ///
    /// - Throws: `KernelError.alreadyBooted` on a second call in the same
    ///   process, `KernelError.bootFailed` (with the log tail) if the kernel
    ///   does not come up.
    public static func boot(
        memoryMiB: Int = 64,
        commandLine: String = "",
        console: ConsoleSink = .discard,
        stuckAfterSeconds: Double = Kernel.defaultStuckSeconds
    ) throws -> Kernel {
        guard memoryMiB > 0 else {
            throw KernelError.invalidArgument("memoryMiB must be positive, got \(memoryMiB)")
        }
        guard !commandLine.utf8.contains(0) else {
            throw KernelError.invalidArgument("the kernel command line contains a NUL byte")
        }
        try lifecycle.withLock { state in
            guard state == .neverBooted else { throw KernelError.alreadyBooted }
            state = .booting
        }

        KernelConsole.install(sink: console, logger: Logger(label: "airtap.kernel"))
        // A kernel oops faults the host process: finish files and report it.
        KernelFailureHandlers.installFatalSignalHandlers()

        // The library keeps this pointer for the life of the process, so it
        // lives on the heap and is deliberately never freed.
        let operations = UnsafeMutablePointer<lkl_host_operations>.allocate(capacity: 1)
        operations.initialize(to: lkl_host_ops)
        operations.pointee.print = consolePrintOperation
        operations.pointee.panic = panicOperation
        KernelRAM.hostPageAlloc = operations.pointee.page_alloc
        operations.pointee.page_alloc = KernelRAM.recordingPageAlloc

        let initResult = lkl_init(operations)
        guard initResult >= 0 else {
            lifecycle.withLock { $0 = .failed }
            throw KernelError.initFailed(
                errno: Errno(negatedSyscallResult: Int(initResult)), logTail: KernelConsole.logTail)
        }

        let fullCommandLine = commandLine.isEmpty ? "mem=\(memoryMiB)M" : "mem=\(memoryMiB)M \(commandLine)"
        let startTime = HostClock.monotonicNanoseconds()
        let startResult = lkl_start_kernel(fullCommandLine)
        let bootNanoseconds = HostClock.monotonicNanoseconds() &- startTime
        guard startResult >= 0 else {
            lifecycle.withLock { $0 = .failed }
            KernelConsole.flushPartialLine()
            throw KernelError.bootFailed(
                errno: Errno(negatedSyscallResult: Int(startResult)), logTail: KernelConsole.logTail)
        }

        lifecycle.withLock { $0 = .running }
        let kernel = Kernel(bootNanoseconds: bootNanoseconds, commandLine: fullCommandLine, watchdog: nil)
        guard stuckAfterSeconds > 0 else { return kernel }
        let watchdog = try KernelProgressWatchdog(kernel: kernel, limitSeconds: stuckAfterSeconds)
        return Kernel(bootNanoseconds: bootNanoseconds, commandLine: fullCommandLine, watchdog: watchdog)
    }

    /// Stops the kernel: every kernel thread is joined and its memory returned.
    /// Syscalls fail with `ESHUTDOWN` afterwards; the kernel cannot be booted
    /// again in this process.
    public func halt() throws {
        try Self.lifecycle.withLock { state in
            guard state == .running else { throw KernelError.notRunning }
            state = .halting
        }
        watchdog?.stop()
        let result = lkl_sys_halt()
        KernelConsole.flushPartialLine()
        Self.lifecycle.withLock { $0 = result < 0 ? .failed : .halted }
        if result < 0 {
            throw KernelError.haltFailed(errno: Errno(negatedSyscallResult: result))
        }
    }

    /// Whether the library reports the kernel as running.
    public static var isRunning: Bool { lkl_is_running() != 0 }

    /// The last 64 KiB of kernel console output.
    public var consoleLog: String { KernelConsole.logTail }

    /// Raw syscall: `number` is an asm-generic number (`LinuxSyscall`), at most
    /// six arguments. Returns the result, or `-errno` on failure. Pointer
    /// arguments are host addresses (the kernel has no MMU of its own).
    public func syscall(_ number: Int, _ arguments: Int...) -> Int {
        syscall(number, arguments: arguments)
    }

    /// `syscall(_:_:)` with the arguments in an array.
    public func syscall(_ number: Int, arguments: [Int]) -> Int {
        let maximumArguments = 6
        guard arguments.count <= maximumArguments else { return -Int(Errno.invalidArgument.rawValue) }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: maximumArguments) { parameters in
            guard let base = parameters.baseAddress else { return -Int(Errno.noMemory.rawValue) }
            parameters.initialize(repeating: 0)
            for (index, argument) in arguments.enumerated() {
                parameters[index] = argument
            }
            return lkl_syscall(number, base)
        }
    }

    private enum Lifecycle: Equatable, Sendable {
        case neverBooted, booting, running, halting, halted, failed
    }

    private static let lifecycle = HostMutex(Lifecycle.neverBooted)
}
