// SPDX-License-Identifier: GPL-2.0-only

import CHostSyscall
import LinuxKernel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// This host process as the host's /proc sees it: what the boot-halt and
/// soak scenarios watch for leaks (threads, descriptors, memory).
enum HostProcessStatus {
    /// Host threads of this process (entries of /proc/self/task).
    static var threadCount: Int { numericEntries(of: "/proc/self/task") }

    /// Open file descriptors (entries of /proc/self/fd, less the one the
    /// directory listing itself holds open while reading).
    static var descriptorCount: Int { max(numericEntries(of: "/proc/self/fd") - 1, 0) }

    /// Resident set size and its peak, in KiB (VmRSS, VmHWM of /proc/self/status).
    /// Of the resident set, pages of files (the program's own code and
    /// data, faulted in as code paths first run).
    static var memoryKiB: (resident: Int, peak: Int, file: Int) {
        let fields = statusFields()
        return (fields["VmRSS"] ?? -1, fields["VmHWM"] ?? -1, fields["RssFile"] ?? -1)
    }

    /// Bytes malloc has handed out and not had back, in KiB (mallinfo2,
    /// every arena): tells a leak (this grows) from heap fragmentation
    /// (RSS grows, this does not).
    static var heapInUseKiB: Int {
        Int(airtap_host_heap_in_use_bytes() / 1024)
    }

    /// Resident KiB of the kernel library's RAM block (mincore over the
    /// block it borrowed at boot). Its pages stay resident while the kernel
    /// uses them; freed ones go back to the host within seconds (ram_reporting.c).
    static var kernelRAMResidentKiB: Int { KernelRAM.residentKiB ?? -1 }

    /// The "Key: N kB" lines of /proc/self/status, as KiB.
    private static func statusFields() -> [String: Int] {
        guard let file = fopen("/proc/self/status", "r") else { return [:] }
        defer { fclose(file) }
        var fields: [String: Int] = [:]
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { continue }
            let digits = text[text.index(after: colon)...].filter(\.isNumber)
            if let value = Int(digits) { fields[String(text[..<colon])] = value }
        }
        return fields
    }

    private static func numericEntries(of path: String) -> Int {
        guard let directory = opendir(path) else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let first = name.first, first.isNumber { count += 1 }
        }
        return count
    }
}
