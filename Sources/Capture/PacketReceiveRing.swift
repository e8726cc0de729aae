// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import KernelSockets
import LinuxKernel
import SystemPackage

/// A packet socket's TPACKET_V3 receive ring, read in place: the kernel
/// writes each frame once, into a block of its own memory, and the capture
/// reads it there (no copy, no allocation per frame). A NOMMU kernel cannot
/// mmap a socket, but the kernel library shares our address space, so it
/// lends us the blocks' addresses instead (lkl_packet_ring_lend).
///
/// The protocol is the mapped ring's: blocks are taken in order; a block is
/// ours once its status has TP_STATUS_USER (the kernel retires it when it is
/// full or its timer runs out) and goes back with TP_STATUS_KERNEL. Only the
/// thread that receives touches the ring.
final class PacketReceiveRing {
    /// Ring geometry. A block retires when full or `retireMilliseconds`
    /// after its first frame, which bounds how long a frame waits at low
    /// rates. At low rates blocks are used up by time, not by bytes, so
    /// blocks x retire time is how long the reader may look away before the
    /// kernel drops (2.5 s here, 16 MiB at high rates); small blocks keep
    /// that long and still batch ~85 frames of 1500 bytes each.
    struct Geometry {
        var blockBytes = 128 << 10
        var blockCount = 128
        var retireMilliseconds = 20
    }

    private let socket: KernelSocket
    private let blocks: [UnsafeMutableRawPointer]
    let blockBytes: Int
    /// The block to take next.
    private var current = 0
    /// The block whose frames the last batch handed out, until the next call.
    private var held: Int?
    /// Offsets of the held block's frame headers.
    private var frameOffsets: [Int]
    private var lent = true

    // <linux/if_packet.h>
    static let optionVersion: Int32 = 10
    static let optionReceiveRing: Int32 = 5
    static let version3: Int32 = 2
    static let statusKernel: UInt32 = 0
    static let statusUser: UInt32 = 1
    // struct tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1
    // { block_status, num_pkts, offset_to_first_pkt, blk_len, ... }.
    static let blockStatusOffset = 8
    static let blockPacketsOffset = 12
    static let blockFirstPacketOffset = 16
    static let blockLengthOffset = 20
    // struct tpacket3_hdr: tp_next_offset, tp_sec, tp_nsec, tp_snaplen,
    // tp_len, tp_status, tp_mac (u16), tp_net (u16), ...
    static let frameSecondsOffset = 4
    static let frameNanosecondsOffset = 8
    static let frameCapturedOffset = 12
    static let frameLengthOffset = 16
    static let frameMACOffset = 24
    static let frameHeaderBytes = 48

    /// Sets up the ring on `socket` (before it is bound) and borrows it.
    init(socket: KernelSocket, geometry: Geometry = Geometry()) throws {
        self.socket = socket
        try socket.setOption(level: PacketSocketABI.levelPacket, name: Self.optionVersion, value: Self.version3)
        // struct tpacket_req3 { block_size, block_nr, frame_size, frame_nr,
        // retire_blk_tov, sizeof_priv, feature_req_word }: in V3 frames
        // vary in size; frame_size/frame_nr only have to be consistent.
        let frameBytes = 2048
        let request = [
            geometry.blockBytes, geometry.blockCount, frameBytes,
            geometry.blockBytes / frameBytes * geometry.blockCount, geometry.retireMilliseconds, 0, 0,
        ].flatMap { value in withUnsafeBytes(of: UInt32(value).littleEndian, Array.init) }
        try socket.setOption(level: PacketSocketABI.levelPacket, name: Self.optionReceiveRing, bytes: request)

        var addresses = [UnsafeMutableRawPointer?](repeating: nil, count: geometry.blockCount)
        var size: UInt32 = 0
        let count = addresses.withUnsafeMutableBufferPointer { table in
            lkl_packet_ring_lend(Int32(socket.descriptor), table.baseAddress, UInt32(table.count), &size)
        }
        guard count == geometry.blockCount, addresses.allSatisfy({ $0 != nil }), Int(size) == geometry.blockBytes else {
            if count >= 0 { _ = lkl_packet_ring_return(Int32(socket.descriptor)) }
            throw KernelError.syscall(
                name: "lkl_packet_ring_lend (\(count) blocks of \(size) bytes, expected "
                    + "\(geometry.blockCount) of \(geometry.blockBytes))",
                errno: Errno(rawValue: count < 0 ? -count : Errno.ioError.rawValue))
        }
        blocks = addresses.map { $0! }
        blockBytes = Int(size)
        frameOffsets = []
        frameOffsets.reserveCapacity(blockBytes / Self.frameHeaderBytes)
    }

    deinit { giveBack() }

    /// Returns the ring to the kernel: the socket may close after this.
    func giveBack() {
        guard lent else { return }
        lent = false
        // A halted kernel has given its RAM, and the ring with it, back to
        // the host: nothing is left to write to or return.
        guard Kernel.isRunning else { return }
        releaseHeld()
        _ = lkl_packet_ring_return(Int32(socket.descriptor))
    }

    private func status(of block: Int) -> UInt32 {
        lkl_host_load_acquire_u32((blocks[block] + Self.blockStatusOffset).assumingMemoryBound(to: UInt32.self))
    }

    private func releaseHeld() {
        guard let held else { return }
        lkl_host_store_release_u32(
            (blocks[held] + Self.blockStatusOffset).assumingMemoryBound(to: UInt32.self), Self.statusKernel)
        self.held = nil
        frameOffsets.removeAll(keepingCapacity: true)
    }

    /// Hands back the previous batch's block, then takes the next block if
    /// the kernel has retired it, waiting up to `timeoutSeconds` for that.
    /// Returns its frame count (0: nothing within the timeout).
    func receiveBatch(timeoutSeconds: Double, interfaceIndex: Int) throws -> Int {
        releaseHeld()
        if status(of: current) & Self.statusUser == 0 {
            let ready = try KernelSocket.waitForReadable([socket], timeoutSeconds: timeoutSeconds)
            guard status(of: current) & Self.statusUser != 0 else {
                if !ready.isEmpty { try throwPendingError(interfaceIndex: interfaceIndex) }
                return 0
            }
        }
        let block = blocks[current]
        let packets = Int(block.load(fromByteOffset: Self.blockPacketsOffset, as: UInt32.self))
        let length = min(Int(block.load(fromByteOffset: Self.blockLengthOffset, as: UInt32.self)), blockBytes)
        var offset = Int(block.load(fromByteOffset: Self.blockFirstPacketOffset, as: UInt32.self))
        for _ in 0..<packets {
            guard offset >= Self.blockFirstPacketOffset, offset + Self.frameHeaderBytes <= length else { break }
            frameOffsets.append(offset)
            let next = Int(block.load(fromByteOffset: offset, as: UInt32.self))
            guard next > 0 else { break }
            offset += next
        }
        held = current
        current = (current + 1) % blocks.count
        return frameOffsets.count
    }

    /// Frame `index` of the held block: captured bytes, original length and
    /// the kernel's receive time (wall clock, nanoseconds since the epoch).
    func frame(at index: Int) -> (bytes: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) {
        guard let held else { return (UnsafeRawBufferPointer(start: nil, count: 0), 0, 0) }
        let header = blocks[held] + frameOffsets[index]
        let mac = Int(header.load(fromByteOffset: Self.frameMACOffset, as: UInt16.self))
        let captured = Int(header.load(fromByteOffset: Self.frameCapturedOffset, as: UInt32.self))
        let original = Int(header.load(fromByteOffset: Self.frameLengthOffset, as: UInt32.self))
        let available = max(0, blockBytes - frameOffsets[index] - mac)
        let seconds = UInt64(header.load(fromByteOffset: Self.frameSecondsOffset, as: UInt32.self))
        let nanoseconds = UInt64(header.load(fromByteOffset: Self.frameNanosecondsOffset, as: UInt32.self))
        return (
            UnsafeRawBufferPointer(start: header + mac, count: min(captured, available)), original,
            seconds &* 1_000_000_000 &+ nanoseconds
        )
    }

    /// A socket the poll called ready with no block retired has an error
    /// pending (its interface went away: ENETDOWN): report it as recvmmsg would.
    private func throwPendingError(interfaceIndex: Int) throws {
        let bytes = try socket.getOption(level: SocketABI.levelSocket, name: Self.optionError, size: 4)
        guard bytes.count >= 4 else { return }
        let code = bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        guard code != 0 else { return }
        throw KernelError.syscall(name: "receive ring of packet socket (interface #\(interfaceIndex))", errno: Errno(rawValue: code))
    }

    static let optionError: Int32 = 4  // SO_ERROR
}
