// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization

/// One reading of everything a long run must keep flat.
struct SoakSample {
    var seconds: Double
    /// Host process (the host's /proc/self).
    var residentKiB: Int
    var peakResidentKiB: Int
    /// Of `residentKiB`, file pages: the program's code, faulted in as
    /// code paths first run (bounded by the binary's size).
    var residentFileKiB: Int
    /// Of `residentKiB`, the kernel library's RAM block: pages it has ever
    /// touched (bounded by `mem=`; what it uses now is `kernelUsedKiB`).
    var kernelRAMResidentKiB: Int
    /// Host memory outside the kernel's RAM: Swift, libc and the models.
    var residentBesideKernelRAMKiB: Int { residentKiB - kernelRAMResidentKiB }
    /// What the host's malloc has handed out (kernel RAM is not malloc's).
    var heapInUseKiB: Int
    var threads: Int
    var descriptors: Int
    /// The library's own memory (its /proc/meminfo): pages in use, slab.
    var kernelUsedKiB: Int
    var kernelSlabKiB: Int
    var kernelUnreclaimableSlabKiB: Int
    /// Tasks inside the library (its /proc), kernel threads and ours.
    var kernelTasks: Int
    /// Of those, the workqueues' kworkers: their pool grows when work
    /// blocks and shrinks after minutes idle, by design.
    var kernelWorkers: Int
    /// Host threads less the kworkers' (each kernel thread runs on one):
    /// what a leak of ours, or of any other kernel thread, would grow.
    var threadsBesideWorkers: Int { threads - kernelWorkers }
    var framesCaptured: UInt64

    /// Reads the host's and the kernel's figures now (from the capture
    /// thread, between batches: the kernel's come through syscalls).
    static func take(kernel: Kernel, seconds: Double, framesCaptured: UInt64) throws -> SoakSample {
        let memory = HostProcessStatus.memoryKiB
        let meminfo = try KernelMemoryInfo(kernel: kernel)
        return SoakSample(
            seconds: seconds, residentKiB: memory.resident, peakResidentKiB: memory.peak, residentFileKiB: memory.file,
            kernelRAMResidentKiB: HostProcessStatus.kernelRAMResidentKiB, heapInUseKiB: HostProcessStatus.heapInUseKiB,
            threads: HostProcessStatus.threadCount, descriptors: HostProcessStatus.descriptorCount,
            kernelUsedKiB: meminfo.usedKiB, kernelSlabKiB: meminfo["Slab"], kernelUnreclaimableSlabKiB: meminfo["SUnreclaim"],
            kernelTasks: try countKernelTasks(kernel).tasks, kernelWorkers: try countKernelWorkers(kernel),
            framesCaptured: framesCaptured)
    }

    /// The figures a leak would make grow, by name, for the verdict.
    var watched: [(name: String, value: Int)] {
        [
            ("host RSS KiB", residentKiB), ("host threads (less kworkers)", threadsBesideWorkers),
            ("host file descriptors", descriptors),
            ("kernel memory in use KiB", kernelUsedKiB), ("kernel slab KiB", kernelSlabKiB),
            ("kernel unreclaimable slab KiB", kernelUnreclaimableSlabKiB),
        ]
    }

    static let tableHeader =
        "   TIME s   RSS KiB   HWM KiB  FILE KiB  K-RAM RSS  HEAP KiB  THREADS  FDS  K-USED KiB  K-SLAB KiB  K-UNRECL  K-TASKS  KWORKERS     FRAMES  FRAMES/S"

    func tableRow(previous: SoakSample?) -> String {
        let interval = seconds - (previous?.seconds ?? 0)
        let rate = interval > 0 ? Double(framesCaptured - (previous?.framesCaptured ?? 0)) / interval : 0
        return pad(String(Int(seconds.rounded())), 9) + pad(residentKiB, 10) + pad(peakResidentKiB, 10) + pad(residentFileKiB, 10)
            + pad(kernelRAMResidentKiB, 11) + pad(heapInUseKiB, 10) + pad(threads, 9)
            + pad(descriptors, 5) + pad(kernelUsedKiB, 12) + pad(kernelSlabKiB, 12) + pad(kernelUnreclaimableSlabKiB, 10)
            + pad(kernelTasks, 9) + pad(kernelWorkers, 10)
            + pad(framesCaptured, 11) + pad(Int(rate.rounded()), 10)
    }

    private func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = "\(value)"
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// The library's /proc/meminfo ("Key: N kB" lines; procfs mounted once
/// beforehand: mounting again would stack another procfs instance).
struct KernelMemoryInfo {
    private let fields: [String: Int]

    init(kernel: Kernel) throws {
        let text = String(decoding: try kernel.readFile("/proc/meminfo"), as: UTF8.self)
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if let value = Int(line[line.index(after: colon)...].filter(\.isNumber)) {
                fields[String(line[..<colon])] = value
            }
        }
        self.fields = fields
    }

    subscript(key: String) -> Int { fields[key] ?? -1 }

    /// RAM the kernel has handed out: total less free.
    var usedKiB: Int { self["MemTotal"] - self["MemFree"] }
}

/// The library's kworkers (a kernel thread is a process of its own in /proc).
func countKernelWorkers(_ kernel: Kernel) throws -> Int {
    try kernel.directoryEntries(atPath: "/proc").map(\.name).filter { $0.allSatisfy(\.isNumber) }.filter { pid in
        let name = (try? kernel.readFile("/proc/\(pid)/comm")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return name.hasPrefix("kworker")
    }.count
}

/// Kernel console lines reporting a broken invariant (WARN, BUG, oops),
/// kept as they are printed: the log tail is bounded, an hour is not.
final class KernelWarningWatch: Sendable {
    static let markers = ["WARNING:", "BUG:", "Oops", "Call Trace"]
    private let found = HostMutex<[String]>([])

    /// The console sink to boot with (quick, no syscalls: it runs in kernel context).
    var sink: ConsoleSink {
        .lines { [self] line in
            guard Self.markers.contains(where: line.contains) else { return }
            found.withLock { $0.append(line) }
        }
    }

    var lines: [String] { found.withLock { $0 } }
}
