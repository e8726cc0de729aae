// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage

/// Whole-file helpers on the kernel's own file systems (its rootfs, procfs).
extension Kernel {
    /// Creates `path` and any missing parents (like `mkdir -p`).
    public func makeDirectories(_ path: String, mode: Int = 0o755) throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            do {
                try mkdir(prefix, mode: mode)
            } catch KernelError.syscall(_, let errno) where errno == .fileExists {
                // Already there.
            }
        }
    }

    /// Mounts `filesystemType` at `target` unless something is mounted there
    /// already (procfs at /proc, devtmpfs at /dev: the library boots without).
    public func mountIfNeeded(_ filesystemType: String, at target: String, source: String? = nil) throws {
        try makeDirectories(target, mode: 0o555)
        do {
            try mount(source: source ?? filesystemType, target: target, filesystemType: filesystemType)
        } catch KernelError.syscall(_, let errno) where errno == .resourceBusy {
            // Already mounted.
        }
    }

    /// The whole contents of `path` (procfs files report size 0: read to EOF).
    public func readFile(_ path: String, chunkBytes: Int = 64 << 10) throws -> [UInt8] {
        let fd = try open(path, flags: [.readOnly, .closeOnExec])
        defer { try? close(fd) }
        var contents: [UInt8] = []
        while true {
            let chunk = try read(fd, count: chunkBytes)
            if chunk.isEmpty { return contents }
            contents += chunk
        }
    }

    /// Creates or replaces `path` with `bytes`.
    public func writeFile(_ path: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
        let fd = try open(path, flags: [.writeOnly, .create, .truncate, .closeOnExec], mode: mode)
        defer { try? close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = try write(fd, Array(bytes[offset..<min(bytes.count, offset + (1 << 20))]))
            guard written > 0 else {
                throw KernelError.invalidArgument("write to \(path) made no progress at byte \(offset) of \(bytes.count)")
            }
            offset += written
        }
    }
}
