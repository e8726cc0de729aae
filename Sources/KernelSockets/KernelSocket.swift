// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import LinuxKernel
import Synchronization
import SystemPackage

/// Socket syscall numbers of the kernel library (asm-generic numbering).
public enum SocketSyscall {
    public static let socket = Int(LKL__NR_socket)
    public static let bind = Int(LKL__NR_bind)
    public static let sendto = Int(LKL__NR_sendto)
    public static let recvfrom = Int(LKL__NR_recvfrom)
    public static let recvmmsg = Int(LKL__NR_recvmmsg)
    public static let sendmmsg = Int(LKL__NR_sendmmsg)
    public static let setsockopt = Int(LKL__NR_setsockopt)
    public static let getsockopt = Int(LKL__NR_getsockopt)
    public static let close = Int(LKL__NR_close)
    public static let clockSettime = Int(LKL__NR_clock_settime)
    public static let clockGettime = Int(LKL__NR_clock_gettime)
}

/// Socket-layer uapi constants (asm-generic values, as the library uses them).
public enum SocketABI {
    public static let addressFamilyNetlink: Int32 = 16
    public static let addressFamilyPacket: Int32 = 17
    public static let typeRaw: Int32 = 3
    public static let closeOnExec: Int32 = 0o2000000

    public static let levelSocket: Int32 = 1
    public static let optionSendBuffer: Int32 = 7
    public static let optionReceiveBuffer: Int32 = 8
    public static let optionSendBufferForce: Int32 = 32
    public static let optionReceiveBufferForce: Int32 = 33
    /// SO_RCVTIMEO_OLD: `struct timeval` of two 64-bit fields on 64-bit kernels.
    public static let optionReceiveTimeout: Int32 = 20
    /// SO_ATTACH_FILTER: a classic BPF program (`struct sock_fprog`).
    public static let optionAttachFilter: Int32 = 26
    /// SO_TIMESTAMPNS_OLD: a `struct timespec` (two 64-bit fields on 64-bit
    /// kernels, the same layout as _NEW) with each received message, as
    /// the SCM_TIMESTAMPNS control message of the same number.
    public static let optionTimestampNanoseconds: Int32 = 35
    public static let controlTimestampNanoseconds: Int32 = 35

    public static let messageDontWait: Int32 = 0x40
    public static let messageTruncate: Int32 = 0x20
    public static let messageWaitForOne: Int32 = 0x10000
}

/// Converts a raw syscall result (`-errno` on failure) into a value or a
/// `KernelError.syscall`.
@discardableResult
public func checkedSyscall(_ name: @autoclosure () -> String, _ result: Int) throws -> Int {
    guard result >= 0 else {
        throw KernelError.syscall(name: name(), errno: Errno(rawValue: Int32(truncatingIfNeeded: -result)))
    }
    return result
}

/// A socket inside the kernel library. Syscalls are made by the calling host
/// thread; one socket may be used from several threads as the kernel allows,
/// and `close()` may be called once from any of them.
public final class KernelSocket: Sendable {
    public let kernel: Kernel
    public let descriptor: Int
    private let closed = Atomic<Bool>(false)

    public init(kernel: Kernel, domain: Int32, type: Int32, protocol: Int32) throws {
        self.kernel = kernel
        let result = kernel.syscall(
            SocketSyscall.socket, Int(domain), Int(type | SocketABI.closeOnExec), Int(`protocol`))
        descriptor = try checkedSyscall("socket(domain \(domain), type \(type), protocol \(`protocol`))", result)
    }

    deinit { close() }

    /// Closes the descriptor; later calls do nothing.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = kernel.syscall(SocketSyscall.close, descriptor)
    }

    public func bind(address: [UInt8]) throws {
        let result = address.withUnsafeBytes { raw in
            kernel.syscall(SocketSyscall.bind, descriptor, Int(bitPattern: raw.baseAddress), raw.count)
        }
        try checkedSyscall("bind(fd \(descriptor))", result)
    }

    public func setOption(level: Int32, name: Int32, bytes: [UInt8]) throws {
        let result = bytes.withUnsafeBytes { raw in
            kernel.syscall(
                SocketSyscall.setsockopt, descriptor, Int(level), Int(name),
                Int(bitPattern: raw.baseAddress), raw.count)
        }
        try checkedSyscall("setsockopt(level \(level), option \(name))", result)
    }

    public func setOption(level: Int32, name: Int32, value: Int32) throws {
        try setOption(level: level, name: name, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    /// Reads an option of up to `size` bytes; returns what the kernel filled.
    public func getOption(level: Int32, name: Int32, size: Int) throws -> [UInt8] {
        var length = Int32(size)
        var buffer = [UInt8](repeating: 0, count: size)
        let result = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &length) { lengthPointer in
                kernel.syscall(
                    SocketSyscall.getsockopt, descriptor, Int(level), Int(name),
                    Int(bitPattern: raw.baseAddress), Int(bitPattern: lengthPointer))
            }
        }
        try checkedSyscall("getsockopt(level \(level), option \(name))", result)
        return Array(buffer.prefix(Int(max(0, min(length, Int32(size))))))
    }

    /// Sets how long a blocking receive waits before failing with EAGAIN, so
    /// receive loops can notice a stop request (host signals do not
    /// interrupt syscalls inside the library).
    public func setReceiveTimeout(seconds: Double) throws {
        let whole = Int64(seconds.rounded(.down))
        let micro = Int64((seconds - Double(whole)) * 1e6)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: whole.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: micro.littleEndian) { bytes += $0 }
        try setOption(level: SocketABI.levelSocket, name: SocketABI.optionReceiveTimeout, bytes: bytes)
    }

    /// Asks for a receive buffer of `bytes`, above `rmem_max` if allowed
    /// (the library's tasks run as root, so SO_RCVBUFFORCE normally works).
    public func setReceiveBuffer(bytes: Int) throws {
        let value = Int32(clamping: bytes)
        do {
            try setOption(level: SocketABI.levelSocket, name: SocketABI.optionReceiveBufferForce, value: value)
        } catch {
            try setOption(level: SocketABI.levelSocket, name: SocketABI.optionReceiveBuffer, value: value)
        }
    }

    public func setSendBuffer(bytes: Int) throws {
        let value = Int32(clamping: bytes)
        do {
            try setOption(level: SocketABI.levelSocket, name: SocketABI.optionSendBufferForce, value: value)
        } catch {
            try setOption(level: SocketABI.levelSocket, name: SocketABI.optionSendBuffer, value: value)
        }
    }

    /// `send` on a bound socket; returns the raw result (`-errno` on failure)
    /// so hot loops can handle EAGAIN/ENOBUFS without throwing.
    public func sendRaw(_ bytes: UnsafeRawBufferPointer, flags: Int32 = 0) -> Int {
        kernel.syscall(
            SocketSyscall.sendto, descriptor, Int(bitPattern: bytes.baseAddress), bytes.count, Int(flags), 0, 0)
    }

    /// `recv`; returns the raw result (`-errno` on failure).
    public func receiveRaw(into buffer: UnsafeMutableRawBufferPointer, flags: Int32 = 0) -> Int {
        kernel.syscall(
            SocketSyscall.recvfrom, descriptor, Int(bitPattern: buffer.baseAddress), buffer.count, Int(flags), 0, 0)
    }
}

extension Errno {
    /// Whether a receive failed only because nothing arrived in time.
    public var isTimeout: Bool { self == .resourceTemporarilyUnavailable || self == .wouldBlock }
}
