// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import SystemPackage

/// Device speeds, with the values of the kernel's `enum usb_device_speed`
/// (and of `enum lkl_usb_speed`).
public enum USBSpeed: Int32, Sendable, CaseIterable {
    case low = 1
    case full = 2
    case high = 3
    /// 5 Gb/s: plugged into the controller's SuperSpeed root hub.
    case `super` = 5
}

/// Transfer types, numbered as in endpoint descriptors (`bmAttributes & 3`)
/// and `enum lkl_usb_transfer_type`.
public enum USBTransferType: UInt8, Sendable, CaseIterable {
    case control = 0
    case isochronous = 1
    case bulk = 2
    case interrupt = 3
}

/// Flags of one URB (`struct lkl_usb_urb.flags`).
public struct USBRequestFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A short IN transfer is an error (the kernel reports `-EREMOTEIO`).
    public static let shortNotOK = USBRequestFlags(rawValue: 0x01)
    /// An OUT transfer ends with a zero-length packet.
    public static let zeroPacket = USBRequestFlags(rawValue: 0x02)
}

/// The 8-byte setup packet of a control transfer (USB 2.0 §9.3).
public struct USBSetupPacket: Sendable, Hashable, CustomStringConvertible {
    public var requestType: UInt8
    public var request: UInt8
    public var value: UInt16
    public var index: UInt16
    public var length: UInt16

    public init(requestType: UInt8, request: UInt8, value: UInt16 = 0, index: UInt16 = 0, length: UInt16 = 0) {
        self.requestType = requestType
        self.request = request
        self.value = value
        self.index = index
        self.length = length
    }

    /// Decodes the wire format (multi-byte fields little-endian).
    /// Fewer than 8 bytes are padded with zeros.
    public init<Bytes: Collection<UInt8>>(bytes: Bytes) {
        let raw = Array(bytes.prefix(8)) + [UInt8](repeating: 0, count: max(0, 8 - bytes.count))
        self = raw.withUnsafeBytes { Self(wire: $0) }
    }

    /// Decodes the 8 wire bytes in place (the per-URB path: no array).
    public init(wire: UnsafeRawBufferPointer) {
        precondition(wire.count >= 8, "a setup packet is 8 bytes")
        self.init(
            requestType: wire[0], request: wire[1],
            value: UInt16(wire[2]) | UInt16(wire[3]) << 8,
            index: UInt16(wire[4]) | UInt16(wire[5]) << 8,
            length: UInt16(wire[6]) | UInt16(wire[7]) << 8)
    }

    /// The wire format.
    public var bytes: [UInt8] {
        [
            requestType, request,
            UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: index), UInt8(truncatingIfNeeded: index >> 8),
            UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8),
        ]
    }

    /// Data stage runs device to host.
    public var isDeviceToHost: Bool { requestType & 0x80 != 0 }
    /// 0 standard, 1 class, 2 vendor (bits 6..5 of bmRequestType).
    public var kind: UInt8 { (requestType >> 5) & 0x3 }
    /// 0 device, 1 interface, 2 endpoint, 3 other.
    public var recipient: UInt8 { requestType & 0x1f }

    /// SET_ADDRESS: the host controller (this bridge) handles it itself.
    public var isSetAddress: Bool { requestType == 0x00 && request == USBStandardRequest.setAddress }

    public var description: String {
        "\(hexString(requestType, digits: 2)).\(hexString(request, digits: 2)) v\(hexString(value, digits: 4))"
            + " i\(hexString(index, digits: 4)) l\(length)"
    }
}

/// Standard request codes (USB 2.0 table 9-4).
public enum USBStandardRequest {
    public static let getStatus: UInt8 = 0
    public static let clearFeature: UInt8 = 1
    public static let setFeature: UInt8 = 3
    public static let setAddress: UInt8 = 5
    public static let getDescriptor: UInt8 = 6
    public static let setDescriptor: UInt8 = 7
    public static let getConfiguration: UInt8 = 8
    public static let setConfiguration: UInt8 = 9
    public static let getInterface: UInt8 = 10
    public static let setInterface: UInt8 = 11
}

/// One URB as the host sees it: a copy of `struct lkl_usb_urb`'s fields.
///
/// `buffer` is the kernel driver's own buffer. It may be read (OUT) or
/// written (IN, at most `length` bytes) only until the request is completed,
/// and only by the device it was submitted to.
public struct USBRequest: @unchecked Sendable {
    /// Names the URB to `VirtualHostController.complete`.
    public let handle: UInt64
    /// Root-hub port (1...8).
    public let port: Int
    /// USB device address (0 before SET_ADDRESS).
    public let address: UInt8
    /// Endpoint address: number | 0x80 for IN.
    public let endpoint: UInt8
    public let type: USBTransferType
    public let flags: USBRequestFlags
    /// Control transfers: the setup packet.
    public let setup: USBSetupPacket
    /// nil when `length` is 0.
    public let buffer: UnsafeMutableRawPointer?
    public let length: Int
    /// Interrupt transfers: polling interval in (micro)frames, as `urb->interval`.
    public let interval: Int

    public init(
        handle: UInt64, port: Int, address: UInt8, endpoint: UInt8, type: USBTransferType,
        flags: USBRequestFlags = [], setup: USBSetupPacket = USBSetupPacket(requestType: 0, request: 0),
        buffer: UnsafeMutableRawPointer?, length: Int, interval: Int = 0
    ) {
        self.handle = handle
        self.port = port
        self.address = address
        self.endpoint = endpoint
        self.type = type
        self.flags = flags
        self.setup = setup
        self.buffer = buffer
        self.length = length
        self.interval = interval
    }

    /// Data moves device to host.
    public var isIn: Bool { endpoint & 0x80 != 0 }
    public var endpointNumber: UInt8 { endpoint & 0x0f }

    /// The buffer as bytes (empty when there is none).
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: buffer, count: buffer == nil ? 0 : length)
    }

    /// Answers a control IN request with `data`: copies as much as both
    /// wLength and the buffer allow (a device never sends more than asked).
    public func reply(_ data: [UInt8]) -> USBCompletion {
        let count = min(data.count, Int(setup.length), length)
        if count > 0, let buffer {
            data.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: count) }
        }
        return .success(actualLength: count)
    }
}

/// How a request ended: success, or a Linux errno (`EPIPE` for a stall, ...).
public struct USBCompletion: Sendable, Hashable, CustomStringConvertible {
    /// nil: success.
    public var error: Errno?
    /// Bytes transferred.
    public var actualLength: Int

    public init(error: Errno?, actualLength: Int) {
        self.error = error
        self.actualLength = actualLength
    }

    public static func success(actualLength: Int) -> USBCompletion {
        USBCompletion(error: nil, actualLength: actualLength)
    }

    public static func failure(_ error: Errno, actualLength: Int = 0) -> USBCompletion {
        USBCompletion(error: error, actualLength: actualLength)
    }

    /// A protocol stall (`-EPIPE`).
    public static let stall = USBCompletion.failure(.brokenPipe)

    /// The status as the kernel sees it: 0 or `-errno`.
    public var kernelStatus: Int32 { error.map { -$0.rawValue } ?? 0 }

    public var description: String {
        "status \(kernelStatus), \(actualLength) bytes"
    }
}

/// A device's answer to a submitted request.
public enum USBSubmitResult: Sendable, Hashable {
    /// Done now; the bridge completes it before the submit callback returns.
    case completed(USBCompletion)
    /// The device keeps it and completes it later through its `USBDeviceLink`.
    case pending
    /// Not accepted: the driver's `usb_submit_urb` fails with this errno.
    /// Do not complete a refused request.
    case refused(Errno)
}

/// Linux errno values that URB completions use, by their kernel names.
/// They are the host's values on Linux; named here so device models read
/// like the kernel code they imitate.
public enum USBErrno {
    public static let stall = Errno.brokenPipe  // EPIPE 32
    public static let protocolError = Errno(rawValue: 71)  // EPROTO
    public static let timedOut = Errno(rawValue: 110)  // ETIMEDOUT
    public static let overflow = Errno(rawValue: 75)  // EOVERFLOW
    public static let noDevice = Errno(rawValue: 19)  // ENODEV
    public static let shutdown = Errno(rawValue: 108)  // ESHUTDOWN
    public static let remoteIO = Errno(rawValue: 121)  // EREMOTEIO
    public static let connectionReset = Errno(rawValue: 104)  // ECONNRESET
    public static let noEntry = Errno(rawValue: 2)  // ENOENT
    public static let inProgress = Errno(rawValue: 115)  // EINPROGRESS
    public static let notSupported = Errno(rawValue: 95)  // EOPNOTSUPP
    public static let outOfMemory = Errno(rawValue: 12)  // ENOMEM
}
