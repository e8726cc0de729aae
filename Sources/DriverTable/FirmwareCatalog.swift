// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage

/// Where a driver's firmware file stands on this host.
public enum FirmwareAvailability: Sendable, Hashable {
    /// Compiled into the kernel library.
    case builtIn
    /// Found in the firmware directory, at this path.
    case present(path: String)
    /// Not found; `package` ships it.
    case missing(package: FirmwarePackage)
}

/// Who ships a firmware file.
public struct FirmwarePackage: Sendable, Hashable, CustomStringConvertible {
    /// Debian's package (bookworm), nil when Debian does not ship the file.
    public var debian: String?

    public init(debian: String?) {
        self.debian = debian
    }

    public var description: String {
        if let debian {
            return "Debian package \(debian) (sudo apt install \(debian)), or linux-firmware upstream"
        }
        return "linux-firmware upstream (https://git.kernel.org/pub/scm/linux/kernel/git/firmware/linux-firmware.git)"
    }
}

/// Firmware lookup in the host's firmware directory, the way the kernel's
/// loader searches its own (the file's path relative to the directory).
public struct FirmwareCatalog: Sendable {
    public static let defaultDirectory = "/lib/firmware"

    public let directory: String
    public let builtIn: Set<String>

    public init(directory: String = FirmwareCatalog.defaultDirectory, builtIn: Set<String> = []) {
        self.directory = directory
        self.builtIn = builtIn
    }

    public func availability(of file: String) -> FirmwareAvailability {
        if builtIn.contains(file) { return .builtIn }
        let path = directory.hasSuffix("/") ? directory + file : directory + "/" + file
        if isReadableFile(path) { return .present(path: path) }
        return .missing(package: FirmwareCatalog.package(for: file))
    }

    /// The package that ships `file`: Debian's own contents list where the
    /// file is in it, else by the directory conventions of linux-firmware.
    public static func package(for file: String) -> FirmwarePackage {
        if let debian = DebianFirmwarePackages.byFile[file] {
            return FirmwarePackage(debian: debian)
        }
        for (prefix, debian) in DebianFirmwarePackages.byPrefix where file.hasPrefix(prefix) {
            return FirmwarePackage(debian: debian)
        }
        return FirmwarePackage(debian: nil)
    }

    /// Reads the file (to copy it into the kernel library's /lib/firmware).
    public func contents(of file: String) throws -> [UInt8] {
        let path = directory.hasSuffix("/") ? directory + file : directory + "/" + file
        let descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// Files the kernel's firmware loader could not find, in the order its
    /// log reports them ("Direct firmware load for X failed with error -2").
    public static func missingFiles(inKernelLog log: String) -> [String]? {
        let marker = "Direct firmware load for "
        var files: [String] = []
        for line in log.split(separator: "\n") {
            guard let range = line.firstRange(of: marker) else { continue }
            let rest = line[range.upperBound...]
            guard let end = rest.firstRange(of: " failed with error ") else { continue }
            let file = String(rest[..<end.lowerBound])
            if !files.contains(file) { files.append(file) }
        }
        return files.isEmpty ? nil : files
    }

    private func isReadableFile(_ path: String) -> Bool {
        guard let descriptor = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) else { return false }
        defer { try? descriptor.close() }
        // A directory opens too; reading it fails with EISDIR.
        var byte: UInt8 = 0
        return (try? withUnsafeMutableBytes(of: &byte) { try descriptor.read(into: $0) }) != nil
    }
}

/// A missing firmware file, named with the package that ships it.
public struct MissingFirmwareError: Error, Sendable, Equatable, CustomStringConvertible {
    public var driver: String
    public var files: [String]
    public var directory: String

    public init(driver: String, files: [String], directory: String) {
        self.driver = driver
        self.files = files
        self.directory = directory
    }

    public var description: String {
        let lines = files.map { "  \($0): \(FirmwareCatalog.package(for: $0))" }
        return "\(driver) needs firmware that is not in \(directory):\n" + lines.joined(separator: "\n")
            + "\nInstall the package, or point --firmware-dir at a directory holding these files."
    }
}
