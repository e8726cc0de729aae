// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinuxKernel
import SystemPackage

/// One usbmon event, with the fields of the kernel's `struct mon_bin_hdr`
/// (drivers/usb/mon/mon_bin.c).
public struct USBMonitorEvent: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case submission = 0x53  // 'S'
        case completion = 0x43  // 'C'
        case error = 0x45  // 'E': the submission failed
    }

    /// usbmon's transfer type numbering (`xfer_to_pipe`), not the descriptors'.
    public static func monitorTransferType(_ type: USBTransferType) -> UInt8 {
        switch type {
        case .isochronous: return 0
        case .interrupt: return 1
        case .control: return 2
        case .bulk: return 3
        }
    }

    /// `urb->transfer_flags` bits usbmon shows (include/linux/usb.h).
    public enum TransferFlag {
        public static let shortNotOK: UInt32 = 0x0001
        public static let zeroPacket: UInt32 = 0x0040
        public static let directionIn: UInt32 = 0x0200
    }

    /// URB id: the same in an URB's submission and completion.
    public var id: UInt64
    public var kind: Kind
    /// usbmon numbering: 0 iso, 1 interrupt, 2 control, 3 bulk.
    public var transferType: UInt8
    /// Endpoint number | 0x80 for IN.
    public var endpoint: UInt8
    public var deviceAddress: UInt8
    public var busNumber: UInt16
    /// Control submissions: the setup packet (flag_setup 0); otherwise nil ('-').
    public var setup: [UInt8]?
    /// 0 when `data` holds the captured bytes, else the reason there are
    /// none: '<' (IN submission), '>' (OUT completion), 'Z' (no buffer), 'E'.
    public var dataFlag: UInt8
    public var seconds: Int64
    public var microseconds: Int32
    /// `-EINPROGRESS` for submissions, else 0 or `-errno`.
    public var status: Int32
    /// Submission: the buffer length; completion: the actual length.
    public var urbLength: UInt32
    public var interval: Int32
    public var transferFlags: UInt32
    /// Captured bytes (len_cap).
    public var data: [UInt8]

    public init(
        id: UInt64, kind: Kind, transferType: UInt8, endpoint: UInt8, deviceAddress: UInt8,
        busNumber: UInt16, setup: [UInt8]?, dataFlag: UInt8, seconds: Int64, microseconds: Int32,
        status: Int32, urbLength: UInt32, interval: Int32, transferFlags: UInt32, data: [UInt8]
    ) {
        self.id = id
        self.kind = kind
        self.transferType = transferType
        self.endpoint = endpoint
        self.deviceAddress = deviceAddress
        self.busNumber = busNumber
        self.setup = setup
        self.dataFlag = dataFlag
        self.seconds = seconds
        self.microseconds = microseconds
        self.status = status
        self.urbLength = urbLength
        self.interval = interval
        self.transferFlags = transferFlags
        self.data = data
    }

    /// Builds the event usbmon would record for `request`, following
    /// mon_bin_event: OUT data at submission, IN data at completion.
    /// `completion` nil means a submission.
    public static func make(
        for request: USBRequest, completion: USBCompletion?, busNumber: UInt16,
        address: UInt8, captureLimit: Int, now: (seconds: Int64, microseconds: Int32)
    ) -> USBMonitorEvent {
        let isSubmission = completion == nil
        let urbLength = isSubmission ? request.length : min(completion?.actualLength ?? 0, request.length)
        var capturedLength = min(urbLength, captureLimit)
        var tag: UInt8 = 0
        if request.isIn {
            if isSubmission {
                capturedLength = 0
                tag = UInt8(ascii: "<")
            }
        } else if !isSubmission {
            capturedLength = 0
            tag = UInt8(ascii: ">")
        }
        var data: [UInt8] = []
        var dataFlag = tag
        if capturedLength > 0 {
            if let buffer = request.buffer {
                data = Array(UnsafeRawBufferPointer(start: buffer, count: capturedLength))
                dataFlag = 0
            } else {
                dataFlag = UInt8(ascii: "Z")
            }
        }
        var flags: UInt32 = 0
        if request.flags.contains(.shortNotOK) { flags |= TransferFlag.shortNotOK }
        if request.flags.contains(.zeroPacket) { flags |= TransferFlag.zeroPacket }
        if request.isIn { flags |= TransferFlag.directionIn }
        return USBMonitorEvent(
            id: request.handle,
            kind: isSubmission ? .submission : .completion,
            transferType: monitorTransferType(request.type),
            endpoint: request.endpoint,
            deviceAddress: address,
            busNumber: busNumber,
            setup: (request.type == .control && isSubmission) ? request.setup.bytes : nil,
            dataFlag: dataFlag,
            seconds: now.seconds, microseconds: now.microseconds,
            status: completion?.kernelStatus ?? -USBErrno.inProgress.rawValue,
            urbLength: UInt32(clamping: urbLength),
            interval: request.type == .interrupt || request.type == .isochronous ? Int32(clamping: request.interval) : 0,
            transferFlags: flags,
            data: data)
    }

    /// The submission failed (`mon_bin_error`): no data, flag_data 'E'.
    public static func submissionError(
        for request: USBRequest, error: Errno, busNumber: UInt16, address: UInt8,
        now: (seconds: Int64, microseconds: Int32)
    ) -> USBMonitorEvent {
        USBMonitorEvent(
            id: request.handle, kind: .error, transferType: monitorTransferType(request.type),
            endpoint: request.endpoint, deviceAddress: address, busNumber: busNumber, setup: nil,
            dataFlag: UInt8(ascii: "E"), seconds: now.seconds, microseconds: now.microseconds,
            status: -error.rawValue, urbLength: 0, interval: 0, transferFlags: 0, data: [])
    }
}

/// pcap encoding of usbmon events: LINKTYPE_USB_LINUX_MMAPPED (220), each
/// packet the 64-byte `struct mon_bin_hdr` (host byte order, as libpcap
/// captures it) followed by the captured data.
public enum USBMonitorPcap {
    public static let linkType: UInt32 = 220
    public static let headerLength = 64
    /// Largest data capture per event; longer transfers are truncated
    /// (len_urb keeps the full length, like usbmon's buffer limit).
    public static let defaultSnapLength = 65_536

    /// The pcap file header (microsecond timestamps, version 2.4).
    public static func fileHeader(snapLength: Int = defaultSnapLength) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(UInt32(0xa1b2_c3d4), to: &bytes)
        append(UInt16(2), to: &bytes)
        append(UInt16(4), to: &bytes)
        append(Int32(0), to: &bytes)  // thiszone
        append(UInt32(0), to: &bytes)  // sigfigs
        append(UInt32(snapLength + headerLength), to: &bytes)
        append(linkType, to: &bytes)
        return bytes
    }

    /// One pcap record: record header, mon_bin_hdr, data.
    public static func record(_ event: USBMonitorEvent) -> [UInt8] {
        let packetLength = headerLength + event.data.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + packetLength)
        append(UInt32(truncatingIfNeeded: event.seconds), to: &bytes)
        append(UInt32(bitPattern: event.microseconds), to: &bytes)
        append(UInt32(packetLength), to: &bytes)  // captured
        append(UInt32(packetLength), to: &bytes)  // on the wire: what usbmon delivered
        bytes += monitorHeader(event)
        bytes += event.data
        return bytes
    }

    /// `struct mon_bin_hdr`, 64 bytes.
    public static func monitorHeader(_ event: USBMonitorEvent) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerLength)
        append(event.id, to: &bytes)  // 0 id
        bytes.append(event.kind.rawValue)  // 8 type
        bytes.append(event.transferType)  // 9 xfer_type
        bytes.append(event.endpoint)  // 10 epnum
        bytes.append(event.deviceAddress)  // 11 devnum
        append(event.busNumber, to: &bytes)  // 12 busnum
        bytes.append(event.setup == nil ? UInt8(ascii: "-") : 0)  // 14 flag_setup
        bytes.append(event.dataFlag)  // 15 flag_data
        append(event.seconds, to: &bytes)  // 16 ts_sec
        append(event.microseconds, to: &bytes)  // 24 ts_usec
        append(event.status, to: &bytes)  // 28 status
        append(event.urbLength, to: &bytes)  // 32 len_urb
        append(UInt32(event.data.count), to: &bytes)  // 36 len_cap
        let setup = event.setup ?? []
        bytes += setup.prefix(8) + [UInt8](repeating: 0, count: 8 - min(8, setup.count))  // 40 setup
        append(event.interval, to: &bytes)  // 48 interval
        append(Int32(0), to: &bytes)  // 52 start_frame
        append(event.transferFlags, to: &bytes)  // 56 xfer_flags
        append(UInt32(0), to: &bytes)  // 60 ndesc
        return bytes
    }

    static func append<Value: FixedWidthInteger>(_ value: Value, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Wall-clock time as usbmon stamps events (ktime_get_real_ts64).
    public static func now() -> (seconds: Int64, microseconds: Int32) {
        var time = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &time)
        return (Int64(time.tv_sec), Int32(time.tv_nsec / 1000))
    }
}

/// Writes usbmon events to a pcap file (readable by Wireshark/tshark).
///
/// Thread-safe. Records are buffered and written in blocks, so recording
/// from a device callback costs a copy, not a host write per event.
public final class USBMonitorTraceWriter: Sendable {
    public let path: String
    public let snapLength: Int
    private let state: HostMutex<State>
    private static let flushThreshold = 256 * 1024

    private struct State {
        var descriptor: FileDescriptor?
        var pending: [UInt8] = []
        var eventCount = 0
        var firstError: Errno?
    }

    /// Creates (truncates) `path` and writes the pcap header.
    public init(path: String, snapLength: Int = USBMonitorPcap.defaultSnapLength) throws(USBHostError) {
        self.path = path
        self.snapLength = snapLength
        do {
            let descriptor = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            try descriptor.writeAll(USBMonitorPcap.fileHeader(snapLength: snapLength))
            state = HostMutex(State(descriptor: descriptor))
        } catch let error as Errno {
            throw .traceFailed(path: path, errno: error)
        } catch {
            throw .traceFailed(path: path, errno: .ioError)
        }
    }

    /// Events recorded so far.
    public var eventCount: Int { state.withLock { $0.eventCount } }

    public func record(_ event: USBMonitorEvent) {
        let bytes = USBMonitorPcap.record(event)
        state.withLock { state in
            guard state.descriptor != nil else { return }
            state.eventCount += 1
            state.pending += bytes
            // Written under the lock so blocks land in order; a block is a
            // page-cache copy of at most a few hundred KiB.
            if state.pending.count >= Self.flushThreshold {
                Self.writePending(&state)
            }
        }
    }

    /// Writes buffered events now.
    public func flush() {
        state.withLock { Self.writePending(&$0) }
    }

    /// Writes buffered events and closes the file; later events are dropped.
    public func close() throws(USBHostError) {
        let error: Errno? = state.withLock { state in
            guard let descriptor = state.descriptor else { return nil }
            Self.writePending(&state)
            try? descriptor.close()
            state.descriptor = nil
            return state.firstError
        }
        if let error { throw .traceFailed(path: path, errno: error) }
    }

    private static func writePending(_ state: inout State) {
        guard let descriptor = state.descriptor, !state.pending.isEmpty else { return }
        do {
            try descriptor.writeAll(state.pending)
        } catch {
            if state.firstError == nil { state.firstError = (error as? Errno) ?? .ioError }
        }
        state.pending.removeAll(keepingCapacity: true)
    }
}
