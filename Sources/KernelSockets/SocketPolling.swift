// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import LinuxKernel
import SystemPackage

extension SocketSyscall {
    public static let ppoll = Int(LKL__NR_ppoll)
}

extension KernelSocket {
    /// poll(2) event bits (include/uapi/asm-generic/poll.h).
    static let pollIn: Int16 = 0x0001
    static let pollError: Int16 = 0x0008
    static let pollHangUp: Int16 = 0x0010

    /// Waits up to `timeoutSeconds` until one of `sockets` (all of one
    /// kernel) has data to read or an error to report (an interface gone
    /// under a packet socket), and returns the indices of those that do:
    /// empty on timeout. One thread serving several sockets blocks here
    /// instead of in any one socket's receive.
    public static func waitForReadable(_ sockets: [KernelSocket], timeoutSeconds: Double) throws -> [Int] {
        guard let kernel = sockets.first?.kernel else { return [] }
        // struct pollfd { int fd; short events; short revents; }
        var table = [UInt8](repeating: 0, count: 8 * sockets.count)
        for (index, socket) in sockets.enumerated() {
            withUnsafeBytes(of: Int32(socket.descriptor).littleEndian) { table.replaceSubrange((8 * index)..<(8 * index + 4), with: $0) }
            withUnsafeBytes(of: pollIn.littleEndian) { table.replaceSubrange((8 * index + 4)..<(8 * index + 6), with: $0) }
        }
        let seconds = max(timeoutSeconds, 0)
        var timeout: (Int64, Int64) = (Int64(seconds), Int64((seconds - seconds.rounded(.down)) * 1e9))
        let result = table.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &timeout) { timeoutPointer in
                kernel.syscall(
                    SocketSyscall.ppoll, Int(bitPattern: raw.baseAddress), sockets.count,
                    Int(bitPattern: UnsafeRawPointer(timeoutPointer)), 0, 8)
            }
        }
        if result < 0 {
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: -result))
            if errno == .interrupted { return [] }
            throw KernelError.syscall(name: "ppoll on \(sockets.count) sockets", errno: errno)
        }
        guard result > 0 else { return [] }
        return sockets.indices.filter { index in
            let events = UInt16(table[8 * index + 6]) | UInt16(table[8 * index + 7]) << 8
            return events & UInt16(bitPattern: pollIn | pollError | pollHangUp) != 0
        }
    }
}
