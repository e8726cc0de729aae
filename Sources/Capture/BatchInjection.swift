// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KernelSockets
import LinuxKernel
import SystemPackage

extension PacketInjector {
    /// Most frames one `sendmmsg` carries.
    public static let batchLimit = 64

    /// Sends frames in order with one `sendmmsg` per `batchLimit`, waiting
    /// out a full transmit path (ENOBUFS) as `send` does. One syscall per
    /// batch means the kernel's CPU changes hands once per batch rather
    /// than per frame: drivers that transmit from a work item (rtw88) run
    /// it once for many frames and aggregate them into fewer USB transfers.
    public func send(batch frames: [[UInt8]]) throws {
        guard !frames.isEmpty else { return }
        let stride = PacketCapture.messageHeaderStride
        let count = min(frames.count, Self.batchLimit)
        let headers = UnsafeMutableRawPointer.allocate(byteCount: stride * count, alignment: 16)
        let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: count)
        defer {
            headers.deallocate()
            vectors.deallocate()
        }
        var start = 0
        var attempts = 0
        while start < frames.count {
            let batch = min(frames.count - start, count)
            headers.initializeMemory(as: UInt8.self, repeating: 0, count: stride * batch)
            // The frames' storage stays put while the arrays live: pin each
            // with withUnsafeBytes around the one syscall that reads them.
            let result = Self.withPinned(frames[start..<(start + batch)]) { pointers -> Int in
                for (index, pointer) in pointers.enumerated() {
                    vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: pointer.baseAddress), iov_len: pointer.count)
                    let header = headers + index * stride
                    header.storeBytes(of: UnsafeMutableRawPointer(vectors + index), toByteOffset: PacketCapture.iovOffset, as: UnsafeMutableRawPointer.self)
                    header.storeBytes(of: 1, toByteOffset: PacketCapture.iovLengthOffset, as: Int.self)
                }
                return socket.kernel.syscall(SocketSyscall.sendmmsg, socket.descriptor, Int(bitPattern: headers), batch, 0, 0, 0)
            }
            if result > 0 {
                start += result
                attempts = 0
                continue
            }
            let errno = Errno(rawValue: Int32(-result))
            if (errno == .noBufferSpace || errno.isTimeout) && attempts < 10_000 {
                attempts += 1
                HostClock.sleep(seconds: 0.0001)
                continue
            }
            throw KernelError.syscall(name: "sendmmsg on packet socket (interface #\(interfaceIndex), \(batch) frames)", errno: errno)
        }
    }

    private static func withPinned<Result>(
        _ frames: ArraySlice<[UInt8]>, _ body: ([UnsafeRawBufferPointer]) -> Result
    ) -> Result {
        var pointers: [UnsafeRawBufferPointer] = []
        pointers.reserveCapacity(frames.count)
        func pin(_ index: ArraySlice<[UInt8]>.Index) -> Result {
            guard index < frames.endIndex else { return body(pointers) }
            return frames[index].withUnsafeBytes { bytes in
                pointers.append(bytes)
                return pin(index + 1)
            }
        }
        return pin(frames.startIndex)
    }
}
