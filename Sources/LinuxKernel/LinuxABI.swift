// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel

/// Syscall numbers of the kernel library (asm-generic numbering, from
/// `lkl/syscalls.h`). They differ from the host's x86-64 numbers.
public enum LinuxSyscall {
    public static let getpid = Int(LKL__NR_getpid)
    public static let uname = Int(LKL__NR_uname)
    public static let openat = Int(LKL__NR_openat)
    public static let read = Int(LKL__NR_read)
    public static let write = Int(LKL__NR_write)
    public static let close = Int(LKL__NR_close)
    public static let mkdirat = Int(LKL__NR_mkdirat)
    public static let unlinkat = Int(LKL__NR_unlinkat)
    public static let nanosleep = Int(LKL__NR_nanosleep)
    public static let pipe2 = Int(LKL__NR_pipe2)
    public static let getdents64 = Int(LKL__NR_getdents64)
    public static let mount = Int(LKL__NR_mount)
    public static let ioctl = Int(LKL__NR_ioctl)
}

/// uapi constants of the kernel library. They are the asm-generic values,
/// written out here because the library headers carry only syscall numbers
/// and the host's <fcntl.h> may disagree (e.g. O_DIRECTORY on arm64).
public enum LinuxABI {
    /// `dirfd` meaning "relative to the current working directory".
    public static let atFDCWD = -100
    /// `struct new_utsname`: six NUL-padded fields of 65 bytes each.
    public static let utsnameFieldLength = 65
    public static let utsnameFieldCount = 6
}

/// `open(2)` flags with asm-generic values.
public struct OpenFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let readOnly: OpenFlags = []
    public static let writeOnly = OpenFlags(rawValue: 0o1)
    public static let readWrite = OpenFlags(rawValue: 0o2)
    public static let create = OpenFlags(rawValue: 0o100)
    public static let exclusive = OpenFlags(rawValue: 0o200)
    public static let truncate = OpenFlags(rawValue: 0o1000)
    public static let append = OpenFlags(rawValue: 0o2000)
    public static let nonBlocking = OpenFlags(rawValue: 0o4000)
    public static let directory = OpenFlags(rawValue: 0o200000)
    public static let closeOnExec = OpenFlags(rawValue: 0o2000000)
}

/// `mount(2)` flags with asm-generic values.
public struct MountFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let readOnly = MountFlags(rawValue: 1)
    public static let noSetUID = MountFlags(rawValue: 2)
    public static let noDevices = MountFlags(rawValue: 4)
    public static let noExec = MountFlags(rawValue: 8)
}

/// The kernel's answer to `uname(2)`.
public struct KernelUTSName: Sendable, Equatable {
    public var sysname: String
    public var nodename: String
    public var release: String
    public var version: String
    public var machine: String
    public var domainname: String
}

/// One record of `getdents64(2)`.
public struct DirectoryEntry: Sendable, Equatable {
    public var inode: UInt64
    /// `DT_*` value (4 = directory, 8 = regular file, 0 = unknown).
    public var type: UInt8
    public var name: String
}
