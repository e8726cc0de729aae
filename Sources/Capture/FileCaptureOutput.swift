// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

public enum CaptureOutputError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Errno)
    case writeFailed(path: String, errno: Errno)
    case readerGone(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno):
            return "cannot write capture file \(path): \(errno); choose a writable path (or - for standard output)"
        case .writeFailed(let path, let errno):
            return "writing \(path) failed: \(errno)"
        case .readerGone(let path):
            return "the reader of \(path) went away (broken pipe)"
        }
    }
}

/// A capture file on the host, or standard output for `-`.
public final class FileCaptureOutput: CaptureOutput {
    public let path: String
    private let descriptor: FileDescriptor
    private let ownsDescriptor: Bool
    private var isClosed = false

    /// Opens (creates, truncates) `path`, or standard output for "-". Done
    /// before the kernel boots so a bad path fails fast.
    public init(path: String) throws {
        self.path = path == "-" ? "standard output" : path
        if path == "-" {
            descriptor = .standardOutput
            ownsDescriptor = false
        } else {
            do {
                descriptor = try FileDescriptor.open(
                    FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                    permissions: [.ownerReadWrite, .groupRead, .otherRead])
            } catch let errno as Errno {
                throw CaptureOutputError.cannotOpen(path: path, errno: errno)
            }
            ownsDescriptor = true
        }
    }

    deinit { try? close() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            _ = try descriptor.writeAll(bytes)
        } catch Errno.brokenPipe {
            throw CaptureOutputError.readerGone(path: path)
        } catch let errno as Errno {
            throw CaptureOutputError.writeFailed(path: path, errno: errno)
        }
    }

    public func flush() throws {}

    public func close() throws {
        guard !isClosed else { return }
        isClosed = true
        if ownsDescriptor { try descriptor.close() }
    }

    /// Closes and deletes the file, for a capture that never started (its
    /// setup failed): a regular file only, never a FIFO or device.
    public func removeFile() {
        try? close()
        guard ownsDescriptor else { return }
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG { _ = unlink(path) }
    }
}
