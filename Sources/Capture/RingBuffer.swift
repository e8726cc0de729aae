// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinuxKernel
import SystemPackage

public enum RingBufferError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidOption(String, reason: String)
    case needsSwitchCondition
    case needsFile

    public var description: String {
        switch self {
        case .invalidOption(let option, let reason):
            return "-b \(option): \(reason); use -b filesize:KB, -b duration:SECONDS or -b files:N (dumpcap's ring buffer options)"
        case .needsSwitchCondition:
            return "-b files:N needs a condition for switching to the next file: add -b filesize:KB or -b duration:SECONDS"
        case .needsFile:
            return "-b writes several files, so it needs -w FILE (not standard output); names are FILE's name with _NNNNN_YYYYmmddHHMMSS added"
        }
    }
}

/// dumpcap's "multiple files" mode (`-b`): when to switch to the next
/// file, and how many to keep.
public struct RingBufferPolicy: Sendable, Equatable {
    /// filesize:KB, in dumpcap's kB of 1000 bytes.
    public var fileSizeBytes: UInt64?
    /// duration:SECONDS (fractions allowed, as dumpcap allows).
    public var durationSeconds: Double?
    /// files:N: keep the newest N files, removing older ones.
    public var maxFiles: Int?

    public init(fileSizeBytes: UInt64? = nil, durationSeconds: Double? = nil, maxFiles: Int? = nil) {
        self.fileSizeBytes = fileSizeBytes
        self.durationSeconds = durationSeconds
        self.maxFiles = maxFiles
    }

    /// Parses `-b` values ("filesize:1000", "duration:60", "files:10"); nil
    /// when there are none.
    public init?(parsing options: [String]) throws {
        guard !options.isEmpty else { return nil }
        self.init()
        for option in options {
            let parts = option.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty else {
                throw RingBufferError.invalidOption(option, reason: "expected KEY:VALUE")
            }
            let (key, value) = (parts[0], parts[1])
            switch key {
            case "filesize":
                guard let kilobytes = UInt64(value), kilobytes > 0, kilobytes <= 2_000_000_000 else {
                    throw RingBufferError.invalidOption(option, reason: "the size must be a whole number of kB from 1 to 2000000000")
                }
                fileSizeBytes = kilobytes * 1000
            case "duration":
                guard let seconds = Double(value), seconds > 0, seconds.isFinite else {
                    throw RingBufferError.invalidOption(option, reason: "the duration must be a positive number of seconds")
                }
                durationSeconds = seconds
            case "files":
                guard let count = Int(value), (1..<100_000).contains(count) else {
                    throw RingBufferError.invalidOption(option, reason: "the number of files must be from 1 to 99999")
                }
                maxFiles = count
            case "interval", "packets", "printname", "nametimenum":
                throw RingBufferError.invalidOption(option, reason: "\(key) is not supported by airtap")
            default:
                throw RingBufferError.invalidOption(option, reason: "unknown key \"\(key)\"")
            }
        }
        if maxFiles != nil && fileSizeBytes == nil && durationSeconds == nil {
            throw RingBufferError.needsSwitchCondition
        }
    }
}

/// The names of a ring's files: dumpcap's PREFIX_NNNNN_YYYYmmddHHMMSS.SUFFIX,
/// from the `-w` path (`/tmp/air.pcapng` -> `/tmp/air_00001_20240714120117.pcapng`).
public struct RingBufferNaming: Sendable, Equatable {
    public var prefix: String
    public var suffix: String

    public init(basePath: String) {
        let slash = basePath.lastIndex(of: "/")
        let nameStart = slash.map { basePath.index(after: $0) } ?? basePath.startIndex
        if let dot = basePath[nameStart...].lastIndex(of: "."), dot > nameStart {
            prefix = String(basePath[..<dot])
            suffix = String(basePath[dot...])
        } else {
            prefix = basePath
            suffix = ""
        }
    }

    public func path(number: Int, createdAt secondsSinceEpoch: Int) -> String {
        let digits = String(number)
        let padded = String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        return "\(prefix)_\(padded)_\(Self.localTimestamp(secondsSinceEpoch))\(suffix)"
    }

    /// YYYYmmddHHMMSS in local time, as dumpcap names files.
    static func localTimestamp(_ secondsSinceEpoch: Int) -> String {
        var time = time_t(secondsSinceEpoch)
        var parts = tm()
        localtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)" + two(parts.tm_mon + 1) + two(parts.tm_mday) + two(parts.tm_hour)
            + two(parts.tm_min) + two(parts.tm_sec)
    }
}

/// Writes a capture into a series of files, each a complete capture file
/// of its own (pcapng: section header and interface description; pcap:
/// file header), switching as `policy` says and removing the oldest
/// beyond `maxFiles`. The closing statistics go into the last file, as
/// dumpcap's do.
public final class RingBufferWriter: CaptureFileWriter {
    public let policy: RingBufferPolicy
    public let naming: RingBufferNaming
    public let header: CaptureFileHeader
    /// Files still on disk, oldest first; the last is being written.
    public private(set) var filePaths: [String] = []
    public private(set) var filesCreated = 0
    private var current: any CaptureFileWriter
    private var currentStartedAt: UInt64
    private var packetsBefore: UInt64 = 0
    private var closed = false

    /// Starts with `firstFile` (opened before the kernel booted, so a bad
    /// path fails early) at `firstPath`.
    public init(
        policy: RingBufferPolicy, naming: RingBufferNaming, header: CaptureFileHeader, firstFile: FileCaptureOutput,
        firstPath: String
    ) throws {
        self.policy = policy
        self.naming = naming
        self.header = header
        current = try header.makeWriter(on: firstFile)
        currentStartedAt = HostClock.monotonicNanoseconds()
        filePaths = [firstPath]
        filesCreated = 1
    }

    /// Opens the first file of a ring: FileCaptureOutput and its name.
    public static func openFirstFile(naming: RingBufferNaming) throws -> (FileCaptureOutput, String) {
        let path = naming.path(number: 1, createdAt: Int(KernelWallClock.hostNanoseconds() / 1_000_000_000))
        return (try FileCaptureOutput(path: path), path)
    }

    public var packetCount: UInt64 { packetsBefore + current.packetCount }
    /// The size of the file being written.
    public var fileSize: UInt64 { current.fileSize }

    public func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        try writePacket(data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds, interface: 0)
    }

    /// Every file of the ring describes all interfaces, so a frame of any
    /// of them may start the next file.
    public func writePacket(
        _ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64, interface: Int
    ) throws {
        try rotateIfDue()
        try current.writePacket(
            data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds, interface: interface)
        // dumpcap switches once a file has reached the size: the frame that
        // crossed it stays in the file, the next one starts a new file.
        if let limit = policy.fileSizeBytes, current.fileSize >= limit { try switchFile() }
    }

    public func rotateIfDue() throws {
        guard let duration = policy.durationSeconds else { return }
        if Double(HostClock.monotonicNanoseconds() - currentStartedAt) / 1e9 >= duration { try switchFile() }
    }

    public func writeStatistics(_ statistics: InterfaceStatistics) throws { try current.writeStatistics(statistics) }

    public func writeStatistics(_ statistics: InterfaceStatistics, interface: Int) throws {
        try current.writeStatistics(statistics, interface: interface)
    }

    public func flush() throws { try current.flush() }

    public func close() throws {
        guard !closed else { return }
        closed = true
        try current.close()
    }

    /// Closes the current file (complete as it is) and starts the next.
    private func switchFile() throws {
        packetsBefore += current.packetCount
        try current.close()
        let path = naming.path(
            number: filesCreated + 1, createdAt: Int(KernelWallClock.hostNanoseconds() / 1_000_000_000))
        current = try header.makeWriter(on: try FileCaptureOutput(path: path))
        currentStartedAt = HostClock.monotonicNanoseconds()
        filesCreated += 1
        filePaths.append(path)
        if let maxFiles = policy.maxFiles {
            while filePaths.count > maxFiles {
                let oldest = filePaths.removeFirst()
                _ = unlink(oldest)
            }
        }
    }
}
