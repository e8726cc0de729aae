// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage

/// Everything that can go wrong between the host program and the kernel library.
public enum KernelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The library keeps global state and cannot be booted twice in one process.
    case alreadyBooted
    /// The kernel is not running (never booted, boot failed, or already halted).
    case notRunning
    /// A caller-supplied value cannot be handed to the kernel.
    case invalidArgument(String)
    /// `lkl_init` rejected the host operations.
    case initFailed(errno: Errno, logTail: String)
    /// `lkl_start_kernel` failed; `logTail` is the end of the kernel console.
    case bootFailed(errno: Errno, logTail: String)
    /// A syscall returned `-errno`.
    case syscall(name: String, errno: Errno)
    /// `lkl_sys_halt` failed.
    case haltFailed(errno: Errno)
    /// The kernel answered with data we could not make sense of.
    case malformedReply(String)

    public var description: String {
        switch self {
        case .alreadyBooted:
            return "the kernel library can be booted only once per process; start a new process to boot again"
        case .notRunning:
            return "the kernel is not running (never booted, boot failed, or already halted)"
        case .invalidArgument(let what):
            return "invalid argument: \(what)"
        case .initFailed(let errno, let logTail):
            return "lkl_init failed: \(errno.kernelDescription)" + Self.formatLogTail(logTail)
        case .bootFailed(let errno, let logTail):
            return "kernel boot failed: \(errno.kernelDescription)" + Self.formatLogTail(logTail)
        case .syscall(let name, let errno):
            return "\(name) failed: \(errno.kernelDescription)"
        case .haltFailed(let errno):
            return "kernel halt failed: \(errno.kernelDescription)"
        case .malformedReply(let what):
            return "malformed reply from the kernel: \(what)"
        }
    }

    private static func formatLogTail(_ logTail: String) -> String {
        logTail.isEmpty ? " (the kernel printed nothing)" : "\n--- kernel log tail ---\n\(logTail)"
    }
}

extension Errno {
    /// The kernel uses asm-generic errno values, which are the host's on
    /// x86-64 and arm64, so the host's names and messages apply.
    var kernelDescription: String { "errno \(rawValue) (\(description))" }

    /// Converts a negative syscall return value (`-errno`) into an `Errno`.
    init(negatedSyscallResult result: Int) {
        self.init(rawValue: Int32(truncatingIfNeeded: -result))
    }
}
