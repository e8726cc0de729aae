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

/// A Debian release whose Contents indexes the firmware-package table was
/// made from (the releases themselves are generated with the table).
public struct DebianRelease: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The major version: 12 for bookworm.
    public var version: Int
    public var codename: String

    public init(version: Int, codename: String) {
        self.version = version
        self.codename = codename
    }

    /// The releases the table knows, oldest first.
    public static var indexed: [DebianRelease] { DebianFirmwarePackages.releases }

    /// "Debian 13 trixie".
    public var description: String { "Debian \(version) \(codename)" }

    public static func < (lhs: DebianRelease, rhs: DebianRelease) -> Bool { lhs.version < rhs.version }
}

/// Who ships a firmware file: the Debian package in each release the table
/// knows (a file may be only in a newer release, or move between packages),
/// else linux-firmware upstream.
public struct FirmwarePackage: Sendable, Hashable, CustomStringConvertible {
    /// One release's answer.
    public struct DebianShipment: Sendable, Hashable, Codable {
        public var release: DebianRelease
        /// The package shipping the file there; nil when that release ships none.
        public var package: String?

        public init(release: DebianRelease, package: String?) {
            self.release = release
            self.package = package
        }
    }

    /// Every release of the table, oldest first. All packages nil when no
    /// index lists the file.
    public var debian: [DebianShipment]
    /// No index lists the file, but every file of its directory is this
    /// package's (newest release): a file newer than the indexes, likely
    /// shipped by that package once Debian updates it.
    public var directoryPackage: String?

    public init(debian: [DebianShipment], directoryPackage: String? = nil) {
        self.debian = debian
        self.directoryPackage = directoryPackage
    }

    /// The package `release` ships the file in (nil: none, or a release the table does not know).
    public func debianPackage(in release: DebianRelease) -> String? {
        debian.first { $0.release == release }?.package
    }

    /// The package of the newest release that ships the file, else the
    /// directory's package; nil when Debian has nothing to offer.
    public var newestDebianPackage: String? {
        debian.last { $0.package != nil }?.package ?? directoryPackage
    }

    /// Debian's answer for people: "firmware-realtek" when every release
    /// agrees, "firmware-realtek (Debian 13 trixie or newer; not in Debian
    /// 12)", "firmware-misc-nonfree (Debian 12 bookworm), firmware-mediatek
    /// (Debian 13 trixie or newer)"; nil when Debian has nothing to offer.
    public var debianSummary: String? {
        let packages = debian.map(\.package)
        guard let newestPackage = packages.last(where: { $0 != nil }) ?? nil else {
            guard let directoryPackage, let last = debian.last else { return nil }
            return "\(directoryPackage) (likely; this file is newer than \(last.release))"
        }
        if packages.allSatisfy({ $0 == newestPackage }) {
            return newestPackage
        }
        // Runs of consecutive releases with the same package, oldest first.
        var runs: [(package: String?, releases: [DebianRelease])] = []
        for entry in debian {
            if let last = runs.last, last.package == entry.package {
                runs[runs.count - 1].releases.append(entry.release)
            } else {
                runs.append((entry.package, [entry.release]))
            }
        }
        let newestRelease = debian.last?.release
        var shipped: [String] = []
        var missing: [String] = []
        for run in runs {
            guard let package = run.package, let first = run.releases.first, let last = run.releases.last else {
                missing += run.releases.map { "Debian \($0.version)" }
                continue
            }
            let span: String
            if last == newestRelease {
                span = "\(first) or newer"
            } else if first == last {
                span = "\(first)"
            } else {
                span = "\(first) to \(last)"
            }
            shipped.append(package + " (" + span)
        }
        let note = missing.isEmpty ? "" : "; not in " + missing.joined(separator: " or ")
        // The note belongs to the last package named (the newest release's).
        return shipped.enumerated().map { index, text in
            text + (index == shipped.count - 1 ? note : "") + ")"
        }.joined(separator: ", ")
    }

    public var description: String {
        let upstream = "linux-firmware upstream (https://git.kernel.org/pub/scm/linux/kernel/git/firmware/linux-firmware.git)"
        guard let summary = debianSummary, let package = newestDebianPackage else { return upstream }
        if summary == package {
            return "Debian package \(package) (sudo apt install \(package)), or linux-firmware upstream"
        }
        return "Debian package \(summary), or linux-firmware upstream"
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

    /// Whether the driver gets `file` (or a name it falls back to, see `loadOrder`).
    public func availability(of file: String) -> FirmwareAvailability {
        if builtIn.contains(file) { return .builtIn }
        if let found = resolvedFile(for: file) { return .present(path: path(of: found)) }
        return .missing(package: FirmwareCatalog.package(for: file))
    }

    /// The first name of `loadOrder(of: file)` this directory has: the file
    /// the driver's request for `file` ends up loading.
    public func resolvedFile(for file: String) -> String? {
        FirmwareCatalog.loadOrder(of: file).first { isReadableFile(path(of: $0)) }
    }

    /// The names a driver requests, in order, when it declares `file`: the
    /// file itself; for rtw89's "rtw89/X_fw-N.bin" also the older formats
    /// N-1 ... 1 and then "rtw89/X_fw.bin" (rtw89_fw_get_filename,
    /// drivers/net/wireless/realtek/rtw89/fw.h; the driver takes the first
    /// that loads). kernel/tools/debian-firmware-packages.sh has the same rule.
    public static func loadOrder(of file: String) -> [String] {
        guard file.hasPrefix("rtw89/"), file.hasSuffix(".bin"), let dash = file.lastIndex(of: "-") else { return [file] }
        let base = file[..<dash]
        guard base.hasSuffix("_fw"),
            let format = Int(file[file.index(after: dash)..<file.index(file.endIndex, offsetBy: -4)]), format > 0
        else { return [file] }
        return [file] + stride(from: format - 1, through: 1, by: -1).map { "\(base)-\($0).bin" } + ["\(base).bin"]
    }

    /// The package that ships `file` in each Debian release the table knows
    /// (from their Contents indexes; for a name with fallbacks, the first of
    /// `loadOrder` that release has), else by the directory conventions of
    /// linux-firmware.
    public static func package(for file: String) -> FirmwarePackage {
        let names = loadOrder(of: file)
        let releases = DebianFirmwarePackages.releases
        let shipments = releases.indices.map { index in
            FirmwarePackage.DebianShipment(
                release: releases[index],
                package: names.lazy.compactMap { DebianFirmwarePackages.byFile[$0]?[index] }.first)
        }
        if shipments.contains(where: { $0.package != nil }) {
            return FirmwarePackage(debian: shipments)
        }
        let directoryPackage = DebianFirmwarePackages.byPrefix.first { file.hasPrefix($0.0) }?.1
        return FirmwarePackage(debian: shipments, directoryPackage: directoryPackage)
    }

    /// Reads the file (to copy it into the kernel library's /lib/firmware).
    public func contents(of file: String) throws -> [UInt8] {
        let descriptor = try FileDescriptor.open(path(of: file), .readOnly, options: [.closeOnExec])
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

    private func path(of file: String) -> String {
        directory.hasSuffix("/") ? directory + file : directory + "/" + file
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
