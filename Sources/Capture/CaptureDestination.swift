// SPDX-License-Identifier: GPL-2.0-only

/// Where a capture goes: one file (a path, `-` for standard output, or a
/// FIFO a reader such as Wireshark opened), or a ring of files (`-b`).
/// Opened before the kernel boots so a bad path fails fast; the writer is
/// made once the interface is known, since pcapng's header names it.
public final class CaptureDestination {
    public let format: CaptureFileFormat
    public let precision: TimestampPrecision
    private let firstFile: FileCaptureOutput
    private let firstPath: String
    private let ring: (policy: RingBufferPolicy, naming: RingBufferNaming)?
    private var ringWriter: RingBufferWriter?

    public init(path: String, format: CaptureFileFormat, precision: TimestampPrecision, ring policy: RingBufferPolicy?) throws {
        self.format = format
        self.precision = precision
        if let policy {
            guard path != "-" else { throw RingBufferError.needsFile }
            let naming = RingBufferNaming(basePath: path)
            (firstFile, firstPath) = try RingBufferWriter.openFirstFile(naming: naming)
            ring = (policy, naming)
        } else {
            firstFile = try FileCaptureOutput(path: path)
            firstPath = firstFile.path
            ring = nil
        }
    }

    /// Writes the file header(s) and returns the writer for the frames;
    /// `additionalInterfaces` (pcapng only) describe the other devices of a
    /// capture of several, as interfaces 1, 2, ...
    public func makeWriter(
        interfaceName: String, interfaceDescription: String, linkType: UInt16 = LinkType.ieee80211Radiotap,
        snapLength: UInt32 = UInt32(CaptureFilter.defaultSnapLength), additionalInterfaces: [CaptureInterface] = []
    ) throws -> any CaptureFileWriter {
        var header = CaptureFileHeader(
            format: format, precision: precision, linkType: linkType, snapLength: snapLength,
            interfaceName: interfaceName, interfaceDescription: interfaceDescription)
        header.additionalInterfaces = additionalInterfaces
        guard let ring else { return try header.makeWriter(on: firstFile) }
        let writer = try RingBufferWriter(
            policy: ring.policy, naming: ring.naming, header: header, firstFile: firstFile, firstPath: firstPath)
        ringWriter = writer
        return writer
    }

    /// The files written, for messages: one path, or the ring's files still on disk.
    public var writtenPaths: [String] { ringWriter?.filePaths ?? [firstPath] }

    /// Closes and removes what was created, for a capture whose setup failed
    /// before any frame (nothing half-done is left behind).
    public func discard() {
        firstFile.removeFile()
    }
}
