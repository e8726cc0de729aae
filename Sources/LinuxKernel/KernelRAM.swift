// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxKernel

/// The host memory the kernel runs in: the block its `page_alloc` host
/// operation lends at boot (`mem=` and alignment), recorded on the way
/// through so its resident pages can be counted (mincore) wherever the
/// mapping lands, a sanitizer's runtime included.
public enum KernelRAM {
    /// The POSIX host's page_alloc, set once before boot.
    nonisolated(unsafe) static var hostPageAlloc: (@convention(c) (UInt) -> UnsafeMutableRawPointer?)?
    private static let block = HostMutex<(address: UInt, bytes: UInt)?>(nil)

    static let recordingPageAlloc: @convention(c) (UInt) -> UnsafeMutableRawPointer? = { size in
        let memory = KernelRAM.hostPageAlloc?(size)
        // The first block is the kernel's RAM (mem.c asks for nothing else).
        if let memory { KernelRAM.block.withLock { $0 = $0 ?? (UInt(bitPattern: memory), size) } }
        return memory
    }

    /// Resident KiB of the kernel's RAM block (nil before boot).
    public static var residentKiB: Int? {
        guard let (address, bytes) = block.withLock({ $0 }) else { return nil }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: Int((bytes + page - 1) / page))
        guard mincore(UnsafeMutableRawPointer(bitPattern: address), Int(bytes), &vector) == 0 else { return nil }
        return vector.reduce(0) { $0 + Int($1 & 1) } * Int(page) / 1024
    }
}
