// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KernelSockets
import LinuxKernel
import SystemPackage

/// AF_PACKET constants (include/uapi/linux/if_packet.h, if_ether.h).
public enum PacketSocketABI {
    public static let levelPacket: Int32 = 263
    public static let optionStatistics: Int32 = 6
    public static let optionIgnoreOutgoing: Int32 = 23
    /// ETH_P_ALL in network byte order, as socket() and sockaddr_ll want it.
    public static let allProtocolsNetworkOrder: UInt16 = 0x0300

    /// `struct sockaddr_ll` bound to `interfaceIndex` for `protocolNetworkOrder`.
    static func linkLayerAddress(interfaceIndex: Int, protocolNetworkOrder: UInt16) -> [UInt8] {
        var address: [UInt8] = []
        address.appendLittleEndian(UInt16(SocketABI.addressFamilyPacket))
        address.appendLittleEndian(protocolNetworkOrder)  // stored as the raw 16-bit value
        address.appendLittleEndian(Int32(interfaceIndex))
        address += [UInt8](repeating: 0, count: 12)  // hatype, pkttype, halen, addr[8]
        return address
    }
}

/// Kernel counters of a packet socket since it was opened.
public struct PacketSocketStatistics: Sendable, Equatable {
    /// Frames that reached the socket (delivered + dropped).
    public var received: UInt64 = 0
    /// Frames dropped because the receive buffer was full.
    public var dropped: UInt64 = 0

    public init(received: UInt64 = 0, dropped: UInt64 = 0) {
        self.received = received
        self.dropped = dropped
    }
}

/// How a capture takes frames from its packet socket.
public enum PacketReceivePath: String, Sendable, CaseIterable {
    /// A TPACKET_V3 ring read in place (`PacketReceiveRing`): no copy.
    case ring
    /// recvmmsg into our buffers: one copy a frame.
    case copy

    /// The ring, unless AIRTAP_RECEIVE_PATH=copy says otherwise (to rule
    /// the ring out when chasing a capture problem).
    public static var preferred: PacketReceivePath {
        getenv("AIRTAP_RECEIVE_PATH").flatMap { PacketReceivePath(rawValue: String(cString: $0)) } ?? .ring
    }
}

/// Receives every frame of one interface (monitor: radiotap + 802.11) in
/// batches, from a receive ring read in place or with recvmmsg, each frame
/// with the kernel's own receive timestamp. One thread at a time.
public final class PacketCapture {
    public let socket: KernelSocket
    public let interfaceIndex: Int
    public let slotSize: Int
    public let batchSize: Int
    /// The capture filter running in the kernel, if any.
    public let filter: CaptureFilter?
    private let storage: UnsafeMutableRawPointer
    /// `struct mmsghdr[batchSize]`, laid out by hand (glibc hides the type
    /// behind _GNU_SOURCE): msghdr { name, namelen, iov, iovlen, control,
    /// controllen, flags } in 56 bytes, then `unsigned msg_len`, padded to 64.
    private let headers: UnsafeMutableRawPointer
    private let vectors: UnsafeMutablePointer<iovec>
    /// One control buffer per message, for its SCM_TIMESTAMPNS.
    private let controls: UnsafeMutableRawPointer
    static let messageHeaderStride = 64
    static let iovOffset = 16
    static let iovLengthOffset = 24
    static let controlOffset = 32
    static let controlLengthOffset = 40
    static let messageLengthOffset = 56
    /// Room for a few control messages; SCM_TIMESTAMPNS takes CMSG_SPACE(16) = 32.
    static let controlSize = 128
    private var totals = PacketSocketStatistics()
    private let coalesceNanoseconds: UInt64
    /// When the last batch that left the socket empty was received.
    private var drainedAt: UInt64?
    /// Host wall-clock time of the last batch, for a frame that came
    /// without a kernel timestamp (not expected: see `frame(at:)`).
    private var batchReceivedAt: UInt64 = 0
    /// The ring, when frames come that way (`receivePath == .ring`).
    private let ring: PacketReceiveRing?
    private let pollSeconds: Double
    /// The path this capture really uses: a ring that cannot be set up
    /// (too little kernel memory for it) leaves recvmmsg.
    public var receivePath: PacketReceivePath { ring == nil ? .copy : .ring }

    /// - Parameters:
    ///   - receiveBufferBytes: socket buffer, or the receive ring's size;
    ///     large enough to ride out a slow consumer (writing to a pipe)
    ///     without drops.
    ///   - pollSeconds: how long one `receiveBatch` waits for the first frame.
    ///   - coalesceSeconds: after a batch that emptied the socket, how long
    ///     frames may gather before the next receive (see `receiveBatch`).
    ///   - filter: a capture filter, attached before the socket is bound so
    ///     no unfiltered frame is ever queued.
    public init(
        kernel: Kernel, interfaceIndex: Int, receiveBufferBytes: Int = 16 << 20, batchSize: Int = 64,
        slotSize: Int = 8192, pollSeconds: Double = 0.05, coalesceSeconds: Double = 0.0002, filter: CaptureFilter? = nil,
        receivePath: PacketReceivePath = .preferred
    ) throws {
        // Protocol 0: the socket receives nothing until bind names the
        // interface and ETH_P_ALL, after its options and filter are set.
        socket = try KernelSocket(
            kernel: kernel, domain: SocketABI.addressFamilyPacket, type: SocketABI.typeRaw, protocol: 0)
        self.interfaceIndex = interfaceIndex
        self.slotSize = slotSize
        self.batchSize = batchSize
        self.filter = filter
        self.pollSeconds = pollSeconds
        coalesceNanoseconds = UInt64(max(coalesceSeconds, 0) * 1e9)
        storage = UnsafeMutableRawPointer.allocate(byteCount: slotSize * batchSize, alignment: 64)
        headers = UnsafeMutableRawPointer.allocate(byteCount: Self.messageHeaderStride * batchSize, alignment: 64)
        vectors = UnsafeMutablePointer<iovec>.allocate(capacity: batchSize)
        controls = UnsafeMutableRawPointer.allocate(byteCount: Self.controlSize * batchSize, alignment: 64)
        for index in 0..<batchSize {
            vectors[index] = iovec(iov_base: storage + index * slotSize, iov_len: slotSize)
        }
        try socket.setReceiveBuffer(bytes: receiveBufferBytes)
        try socket.setReceiveTimeout(seconds: pollSeconds)
        // Per-frame receive times: the kernel stamps each frame as it
        // enters the network stack (netif_receive_skb) and hands the stamp
        // over with the frame, so batching receives does not blur them.
        try KernelWallClock.alignWithHost(kernel)
        try socket.setOption(level: SocketABI.levelSocket, name: SocketABI.optionTimestampNanoseconds, value: 1)
        // Frames this host injects on the same interface are not captures.
        try? socket.setOption(level: PacketSocketABI.levelPacket, name: PacketSocketABI.optionIgnoreOutgoing, value: 1)
        if let filter, !filter.acceptsEverything { try filter.attach(to: socket) }
        // The ring replaces the socket's queue: it must exist before bind
        // lets the first frame in.
        // As much room as the socket buffer would have had.
        let blockBytes = PacketReceiveRing.Geometry().blockBytes
        let geometry = PacketReceiveRing.Geometry(blockCount: min(max(receiveBufferBytes / blockBytes, 8), 512))
        ring = receivePath == .ring ? try? PacketReceiveRing(socket: socket, geometry: geometry) : nil
        try socket.bind(
            address: PacketSocketABI.linkLayerAddress(
                interfaceIndex: interfaceIndex, protocolNetworkOrder: PacketSocketABI.allProtocolsNetworkOrder))
    }

    deinit {
        ring?.giveBack()
        socket.close()
        storage.deallocate()
        headers.deallocate()
        vectors.deallocate()
        controls.deallocate()
    }

    /// Waits up to the poll interval for frames; returns how many arrived
    /// (0 on timeout). Read them with `frame(at:)` before the next call.
    ///
    /// After a batch that emptied the socket, the next call first sleeps in
    /// the host for what is left of the coalescing interval. A capture that
    /// keeps up with its traffic would otherwise block in recvmmsg once per
    /// frame, and in the kernel library every such wake-up moves the one CPU
    /// between host threads about four times (our task blocks and idle's
    /// thread runs; the next sender or interrupt finds idle parked, so idle's
    /// thread switches to it; that switches to our woken task), each a host
    /// futex wake of tens of microseconds on a VM. While we sleep out here
    /// our task is parked, not waiting, so arriving frames only queue, and
    /// the next call takes them in one batch. Each frame keeps the time the
    /// kernel received it, so the wait delays frames, not their timestamps.
    public func receiveBatch() throws -> Int {
        // The ring's blocks retire on a timer, which coalesces by itself.
        if let ring { return try ring.receiveBatch(timeoutSeconds: pollSeconds, interfaceIndex: interfaceIndex) }
        if let drainedAt {
            let due = drainedAt &+ coalesceNanoseconds
            let now = HostClock.monotonicNanoseconds()
            if now < due { HostClock.sleep(seconds: Double(due - now) / 1e9) }
        }
        let count = try receiveAvailable()
        batchReceivedAt = KernelWallClock.hostNanoseconds()
        drainedAt = count > 0 && count < batchSize ? HostClock.monotonicNanoseconds() : nil
        return count
    }

    private func receiveAvailable() throws -> Int {
        headers.initializeMemory(as: UInt8.self, repeating: 0, count: Self.messageHeaderStride * batchSize)
        for index in 0..<batchSize {
            let header = headers + index * Self.messageHeaderStride
            header.storeBytes(of: UInt(bitPattern: vectors + index), toByteOffset: Self.iovOffset, as: UInt.self)
            header.storeBytes(of: UInt(1), toByteOffset: Self.iovLengthOffset, as: UInt.self)
            header.storeBytes(
                of: UInt(bitPattern: controls + index * Self.controlSize), toByteOffset: Self.controlOffset, as: UInt.self)
            header.storeBytes(of: UInt(Self.controlSize), toByteOffset: Self.controlLengthOffset, as: UInt.self)
        }
        // MSG_TRUNC: msg_len reports the frame's full length even when the
        // slot was too small, so truncation is recorded honestly.
        let result = socket.kernel.syscall(
            SocketSyscall.recvmmsg, socket.descriptor, Int(bitPattern: UnsafeRawPointer(headers)), batchSize,
            Int(SocketABI.messageWaitForOne | SocketABI.messageTruncate), 0)
        if result < 0 {
            let errno = Errno(rawValue: Int32(-result))
            if errno.isTimeout || errno == .interrupted { return 0 }
            throw KernelError.syscall(name: "recvmmsg on packet socket (interface #\(interfaceIndex))", errno: errno)
        }
        return result
    }

    /// Frame `index` of the last batch: captured bytes, original length and
    /// the kernel's receive time (wall clock, nanoseconds since the epoch).
    public func frame(at index: Int) -> (bytes: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) {
        if let ring { return ring.frame(at: index) }
        let header = headers + index * Self.messageHeaderStride
        let original = Int(header.load(fromByteOffset: Self.messageLengthOffset, as: UInt32.self))
        let bytes = UnsafeRawBufferPointer(start: storage + index * slotSize, count: min(original, slotSize))
        return (bytes, original, kernelTimestamp(of: header) ?? batchReceivedAt)
    }

    /// The SCM_TIMESTAMPNS among message `header`'s control messages
    /// (`struct cmsghdr { size_t len; int level; int type; }`, data 8-aligned).
    private func kernelTimestamp(of header: UnsafeMutableRawPointer) -> UInt64? {
        let control = UnsafeRawPointer(bitPattern: header.load(fromByteOffset: Self.controlOffset, as: UInt.self))
        let length = min(Int(header.load(fromByteOffset: Self.controlLengthOffset, as: UInt.self)), Self.controlSize)
        guard let control else { return nil }
        var offset = 0
        while offset + 16 <= length {
            let messageLength = Int(control.load(fromByteOffset: offset, as: UInt.self))
            let level = control.load(fromByteOffset: offset + 8, as: Int32.self)
            let type = control.load(fromByteOffset: offset + 12, as: Int32.self)
            guard messageLength >= 16, offset + messageLength <= length else { return nil }
            if level == SocketABI.levelSocket, type == SocketABI.controlTimestampNanoseconds, messageLength >= 32 {
                let seconds = control.load(fromByteOffset: offset + 16, as: Int64.self)
                let nanoseconds = control.load(fromByteOffset: offset + 24, as: Int64.self)
                guard seconds > 0 else { return nil }
                return UInt64(seconds) &* 1_000_000_000 &+ UInt64(nanoseconds)
            }
            offset += (messageLength + 7) & ~7
        }
        return nil
    }

    /// Counters since the socket was opened. (PACKET_STATISTICS resets the
    /// kernel's counters on every read, so they are accumulated here.)
    public func statistics() throws -> PacketSocketStatistics {
        let bytes = try socket.getOption(level: PacketSocketABI.levelPacket, name: PacketSocketABI.optionStatistics, size: 8)
        guard bytes.count >= 8 else {
            throw KernelError.malformedReply("PACKET_STATISTICS returned \(bytes.count) bytes, expected 8")
        }
        let reader = ByteReader(bytes: bytes, littleEndian: true)
        // tp_packets already includes tp_drops.
        totals.received += UInt64(reader.u32(0))
        totals.dropped += UInt64(reader.u32(4))
        return totals
    }

    /// Closes the socket (the ring goes back to the kernel first).
    public func close() {
        ring?.giveBack()
        socket.close()
    }
}

/// Sends complete frames (radiotap + 802.11 on a monitor interface).
public final class PacketInjector: Sendable {
    public let socket: KernelSocket
    public let interfaceIndex: Int

    public init(kernel: Kernel, interfaceIndex: Int, sendBufferBytes: Int = 4 << 20) throws {
        // Protocol 0: this socket receives nothing, so it costs the receive
        // path nothing.
        socket = try KernelSocket(
            kernel: kernel, domain: SocketABI.addressFamilyPacket, type: SocketABI.typeRaw, protocol: 0)
        self.interfaceIndex = interfaceIndex
        try socket.setSendBuffer(bytes: sendBufferBytes)
        // No PACKET_QDISC_BYPASS: mac80211's interfaces have one TX queue
        // and no qdisc (IFF_NO_QUEUE) anyway, and the bypass asks the
        // monitor's select_queue for an access category the device does
        // not have, logging a warning for frame after frame (FINDINGS F7).
        try socket.bind(address: PacketSocketABI.linkLayerAddress(interfaceIndex: interfaceIndex, protocolNetworkOrder: 0))
    }

    /// Sends one frame, waiting out a full transmit path (ENOBUFS).
    public func send(_ frame: UnsafeRawBufferPointer) throws {
        var attempts = 0
        while true {
            let result = socket.sendRaw(frame)
            if result >= 0 { return }
            let errno = Errno(rawValue: Int32(-result))
            if (errno == .noBufferSpace || errno.isTimeout) && attempts < 10_000 {
                attempts += 1
                HostClock.sleep(seconds: 0.0001)
                continue
            }
            throw KernelError.syscall(name: "send on packet socket (interface #\(interfaceIndex), \(frame.count) bytes)", errno: errno)
        }
    }

    public func send(_ frame: [UInt8]) throws {
        try frame.withUnsafeBytes { try send($0) }
    }

    public func close() { socket.close() }
}
