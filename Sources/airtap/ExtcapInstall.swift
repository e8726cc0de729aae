// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

enum ExtcapInstallError: Error, CustomStringConvertible {
    case noFolder(String)
    case cannotWrite(String, reason: String)
    case occupied(String)
    case programUnknown

    var description: String {
        switch self {
        case .noFolder(let reason):
            return "cannot tell where Wireshark looks for extcap programs: \(reason); give the folder with --dir DIR "
                + "(Debian's global one is /usr/lib/x86_64-linux-gnu/wireshark/extcap)"
        case .cannotWrite(let path, let reason):
            return "cannot install into \(path): \(reason); run as root (sudo airtap extcap --install) for the global "
                + "folder, or use a folder of your own: airtap extcap --install --dir DIR and start Wireshark with "
                + "WIRESHARK_EXTCAP_DIR=DIR (Wireshark ignores that variable when run as root)"
        case .occupied(let path):
            return "\(path) exists and is not a link airtap made; remove it first"
        case .programUnknown:
            return "cannot find this program's own path (/proc/self/exe)"
        }
    }
}

/// Puts airtap into the folder Wireshark runs extcap programs from.
///
/// What goes there is a symbolic link named `airtap` to this binary, not a
/// copy or a wrapper script: the link follows rebuilds and upgrades of the
/// binary it names, and Wireshark runs the program itself with its own
/// arguments (no shell, no quoting). airtap recognises an extcap call by
/// its `--extcap-*`/`--capture` arguments, whatever name it runs under.
struct ExtcapInstaller {
    static let linkName = "airtap"
    var directory: String?

    /// Where Wireshark looks, as `tshark -G folders` reports it: the
    /// personal extcap folder where there is one (Wireshark 4.2 and later),
    /// else the global one (Debian 12's 4.0 has only that; a non-root
    /// Wireshark also honours WIRESHARK_EXTCAP_DIR instead).
    static func wiresharkFolder() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let override = environment["WIRESHARK_EXTCAP_DIR"], !override.isEmpty, getuid() != 0 {
            return override
        }
        let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tshark else { throw ExtcapInstallError.noFolder("tshark is not installed (Debian: apt-get install tshark)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tshark)
        process.arguments = ["-G", "folders"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return try folder(fromTsharkFolders: output)
    }

    /// Picks the extcap folder out of `tshark -G folders` output
    /// ("Extcap path:\t/usr/lib/...", or "Personal Extcap path:" and
    /// "Global Extcap path:" in newer releases).
    static func folder(fromTsharkFolders output: String) throws -> String {
        var found: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key.hasSuffix("extcap path"), !value.isEmpty { found[key] = value }
        }
        if let personal = found["personal extcap path"] { return personal }
        if let global = found["extcap path"] ?? found["global extcap path"] { return global }
        throw ExtcapInstallError.noFolder("`tshark -G folders` names no extcap path")
    }

    static func ownPath() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw ExtcapInstallError.programUnknown }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func install() throws -> String {
        let folder = try directory ?? Self.wiresharkFolder()
        let program = try Self.ownPath()
        let link = (folder as NSString).appendingPathComponent(Self.linkName)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ExtcapInstallError.cannotWrite(folder, reason: Self.reason(error))
        }
        try removeOurLink(at: link)
        guard symlink(program, link) == 0 else {
            throw ExtcapInstallError.cannotWrite(folder, reason: String(cString: strerror(errno)))
        }
        return """
            installed \(link) -> \(program)
            Wireshark and tshark now list airtap's devices as interfaces airtap-DEVICE (restart Wireshark; try tshark -D).

            """
    }

    func uninstall() throws -> String {
        let folder = try directory ?? Self.wiresharkFolder()
        let link = (folder as NSString).appendingPathComponent(Self.linkName)
        guard (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != nil else {
            return "nothing to remove: \(link) is not installed\n"
        }
        try removeOurLink(at: link)
        return "removed \(link)\n"
    }

    /// Removes an earlier link of ours; refuses to touch anything else.
    private func removeOurLink(at link: String) throws {
        var status = stat()
        guard lstat(link, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFLNK else { throw ExtcapInstallError.occupied(link) }
        guard unlink(link) == 0 else {
            throw ExtcapInstallError.cannotWrite(link, reason: String(cString: strerror(errno)))
        }
    }

    private static func reason(_ error: Error) -> String {
        if let cocoa = error as? CocoaError, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return error.localizedDescription
    }
}
