// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage

/// Typed wrappers: each throws `KernelError.syscall(name:errno:)` when the
/// kernel returns `-errno`.
extension Kernel {
    /// Process id of the calling thread's kernel task group.
    public func getpid() throws -> Int {
        try checked("getpid", syscall(LinuxSyscall.getpid))
    }

    public func uname() throws -> KernelUTSName {
        let fieldLength = LinuxABI.utsnameFieldLength
        let byteCount = fieldLength * LinuxABI.utsnameFieldCount
        var buffer = [UInt8](repeating: 0, count: byteCount)
        let result = buffer.withUnsafeMutableBytes { raw in
            syscall(LinuxSyscall.uname, Int(bitPattern: raw.baseAddress))
        }
        try checked("uname", result)
        let fields = (0..<LinuxABI.utsnameFieldCount).map { index -> String in
            let field = buffer[(index * fieldLength)..<((index + 1) * fieldLength)]
            return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
        }
        return KernelUTSName(
            sysname: fields[0], nodename: fields[1], release: fields[2],
            version: fields[3], machine: fields[4], domainname: fields[5])
    }

    public func mkdir(_ path: String, mode: Int = 0o755) throws {
        try withKernelPath(path) { pathAddress in
            try checked("mkdir(\(path))", syscall(LinuxSyscall.mkdirat, LinuxABI.atFDCWD, pathAddress, mode))
        }
    }

    /// Removes the file at `path` (not a directory).
    public func unlink(_ path: String) throws {
        try withKernelPath(path) { pathAddress in
            try checked("unlink(\(path))", syscall(LinuxSyscall.unlinkat, LinuxABI.atFDCWD, pathAddress, 0))
        }
    }

    /// Opens `path` relative to the kernel's working directory; returns the fd.
    public func open(_ path: String, flags: OpenFlags, mode: Int = 0) throws -> Int {
        try withKernelPath(path) { pathAddress in
            try checked(
                "open(\(path))",
                syscall(LinuxSyscall.openat, LinuxABI.atFDCWD, pathAddress, flags.rawValue, mode))
        }
    }

    /// Reads up to `count` bytes; an empty result means end of file.
    public func read(_ fd: Int, count: Int) throws -> [UInt8] {
        // The kernel never transfers more than about INT_MAX bytes per call.
        guard count >= 0, count <= Int(Int32.max) else {
            throw KernelError.invalidArgument("read count must be between 0 and \(Int32.max), got \(count)")
        }
        var result = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            result = syscall(LinuxSyscall.read, fd, Int(bitPattern: buffer.baseAddress), count)
            initializedCount = min(max(result, 0), count)
        }
        try checked("read(fd \(fd))", result)
        return bytes
    }

    /// Writes `bytes`; returns how many the kernel accepted (may be fewer).
    @discardableResult
    public func write(_ fd: Int, _ bytes: [UInt8]) throws -> Int {
        let result = bytes.withUnsafeBytes { raw in
            syscall(LinuxSyscall.write, fd, Int(bitPattern: raw.baseAddress), raw.count)
        }
        return try checked("write(fd \(fd))", result)
    }

    public func close(_ fd: Int) throws {
        try checked("close(fd \(fd))", syscall(LinuxSyscall.close, fd))
    }

    /// Sleeps in the kernel (on the kernel's clock and timers).
    public func nanosleep(seconds: Double) throws {
        guard seconds.isFinite, seconds >= 0, seconds < Double(Int64.max / 2) else {
            throw KernelError.invalidArgument("sleep duration must be finite and non-negative, got \(seconds)")
        }
        let wholeSeconds = seconds.rounded(.down)
        // struct __kernel_timespec { s64 tv_sec; s64 tv_nsec; }
        var request: (Int64, Int64) = (
            Int64(wholeSeconds), min(Int64((seconds - wholeSeconds) * 1e9), 999_999_999)
        )
        let result = withUnsafeMutablePointer(to: &request) { pointer in
            syscall(LinuxSyscall.nanosleep, Int(bitPattern: pointer), 0)
        }
        try checked("nanosleep", result)
    }

    /// Creates a pipe; returns (read end, write end).
    public func pipe() throws -> (readEnd: Int, writeEnd: Int) {
        var fds: (Int32, Int32) = (-1, -1)
        let result = withUnsafeMutablePointer(to: &fds) { pointer in
            syscall(LinuxSyscall.pipe2, Int(bitPattern: pointer), 0)
        }
        try checked("pipe2", result)
        return (Int(fds.0), Int(fds.1))
    }

    public func mount(
        source: String, target: String, filesystemType: String,
        flags: MountFlags = [], data: String? = nil
    ) throws {
        let name = "mount(\(filesystemType) on \(target))"
        try withKernelPath(source) { sourceAddress in
            try withKernelPath(target) { targetAddress in
                try withKernelPath(filesystemType) { typeAddress in
                    try withOptionalKernelString(data) { dataAddress in
                        try checked(
                            name,
                            syscall(
                                LinuxSyscall.mount, sourceAddress, targetAddress, typeAddress,
                                flags.rawValue, dataAddress))
                    }
                }
            }
        }
    }

    /// `ioctl(fd, request, argument)`; `argument` is a host address (or a
    /// plain integer for requests that take one). Returns the result.
    @discardableResult
    public func ioctl(_ fd: Int, _ request: UInt32, _ argument: UnsafeMutableRawPointer?) throws -> Int {
        try checked(
            "ioctl(fd \(fd), 0x\(String(request, radix: 16)))",
            syscall(LinuxSyscall.ioctl, fd, Int(request), Int(bitPattern: argument)))
    }

    /// One `getdents64` call on an open directory; empty at the end.
    public func getdents64(_ fd: Int, bufferSize: Int = 4096) throws -> [DirectoryEntry] {
        guard bufferSize > 0 else { throw KernelError.invalidArgument("bufferSize must be positive") }
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        let result = buffer.withUnsafeMutableBytes { raw in
            syscall(LinuxSyscall.getdents64, fd, Int(bitPattern: raw.baseAddress), raw.count)
        }
        let filled = try checked("getdents64(fd \(fd))", result)
        return try Self.parseDirectoryEntries(buffer.prefix(min(filled, bufferSize)))
    }

    /// All entries of the directory at `path`, including "." and "..".
    public func directoryEntries(atPath path: String) throws -> [DirectoryEntry] {
        let fd = try open(path, flags: [.readOnly, .directory, .closeOnExec])
        defer { try? close(fd) }
        var entries: [DirectoryEntry] = []
        while true {
            let batch = try getdents64(fd)
            if batch.isEmpty { return entries }
            entries.append(contentsOf: batch)
        }
    }

    /// Decodes `struct linux_dirent64` records (host byte order):
    /// u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[] (NUL-terminated).
    static func parseDirectoryEntries(_ bytes: ArraySlice<UInt8>) throws -> [DirectoryEntry] {
        let headerLength = 19
        return try bytes.withUnsafeBytes { raw in
            var entries: [DirectoryEntry] = []
            var offset = 0
            while offset < raw.count {
                guard raw.count - offset >= headerLength else {
                    throw KernelError.malformedReply("truncated getdents64 record at offset \(offset)")
                }
                let inode = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                let recordLength = Int(raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt16.self))
                let type = raw[offset + 18]
                guard recordLength > headerLength, recordLength <= raw.count - offset else {
                    throw KernelError.malformedReply("getdents64 record length \(recordLength) out of range")
                }
                let nameBytes = raw[(offset + headerLength)..<(offset + recordLength)].prefix { $0 != 0 }
                entries.append(
                    DirectoryEntry(inode: inode, type: type, name: String(decoding: nameBytes, as: UTF8.self)))
                offset += recordLength
            }
            return entries
        }
    }

    /// Converts a raw result into a value or `KernelError.syscall`.
    @discardableResult
    private func checked(_ name: String, _ result: Int) throws -> Int {
        guard result >= 0 else {
            throw KernelError.syscall(name: name, errno: Errno(negatedSyscallResult: result))
        }
        return result
    }

    /// Passes `string` as a NUL-terminated C string; it stays valid for the
    /// duration of `body`, which covers the syscall.
    @discardableResult
    private func withKernelPath<Result>(_ string: String, _ body: (Int) throws -> Result) throws -> Result {
        guard !string.utf8.contains(0) else {
            throw KernelError.invalidArgument("string passed to the kernel contains a NUL byte: \(string.debugDescription)")
        }
        return try string.withCString { pointer in try body(Int(bitPattern: pointer)) }
    }

    @discardableResult
    private func withOptionalKernelString<Result>(_ string: String?, _ body: (Int) throws -> Result) throws -> Result {
        guard let string else { return try body(0) }
        return try withKernelPath(string, body)
    }
}
