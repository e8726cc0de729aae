// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage

/// Everything the bridge refuses, each with what went wrong and how to fix it.
public enum USBHostError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No URB with this handle is pending: never submitted, or from another run.
    case unknownRequest(handle: UInt64)
    /// The URB was already completed (by the device, a cancel, or detach).
    case alreadyCompleted(handle: UInt64)
    /// The device reported more bytes than the buffer holds. The URB was
    /// completed with `-EOVERFLOW` and no data.
    case actualLengthExceedsBuffer(handle: UInt64, actualLength: Int, bufferLength: Int)
    /// The status is not an errno the kernel accepts (must be 1...4095).
    case invalidStatus(handle: UInt64, errno: Int32)
    /// `lkl_usb_complete` refused a completion the bridge considered valid.
    case kernelRejectedCompletion(handle: UInt64, errno: Errno)
    /// `lkl_usb_attach` failed.
    case attachFailed(Errno)
    /// Nothing is attached to this port (through this controller).
    case portNotAttached(Int)
    /// `lkl_usb_detach` failed.
    case detachFailed(port: Int, errno: Errno)
    /// `lkl_usb_get_stats` failed.
    case statsUnavailable(Errno)
    /// The usbmon trace file could not be written.
    case traceFailed(path: String, errno: Errno)

    public var description: String {
        switch self {
        case .unknownRequest(let handle):
            return "completion for URB handle \(hex(handle)): no such URB is pending on this controller;"
                + " complete only handles passed to your device's submit"
        case .alreadyCompleted(let handle):
            return "URB handle \(hex(handle)) was already completed (by the device, a cancel or detach);"
                + " complete each URB exactly once"
        case .actualLengthExceedsBuffer(let handle, let actualLength, let bufferLength):
            return "URB handle \(hex(handle)): actual length \(actualLength) exceeds its \(bufferLength)-byte buffer;"
                + " it was completed with -EOVERFLOW. Transfer at most the request's length"
        case .invalidStatus(let handle, let errno):
            return "URB handle \(hex(handle)): errno \(errno) is not a valid completion status;"
                + " use a Linux errno between 1 and 4095 (or success)"
        case .kernelRejectedCompletion(let handle, let errno):
            return "lkl_usb_complete refused URB handle \(hex(handle)): errno \(errno.rawValue) (\(errno));"
                + " the bridge and the kernel disagree about which URBs are in flight"
        case .attachFailed(let errno):
            return "lkl_usb_attach failed: errno \(errno.rawValue) (\(errno));"
                + " EBUSY means all 8 root-hub ports are taken (detach a device), ENODEV that the kernel has no virtual host controller (boot the kernel first)"
        case .portNotAttached(let port):
            return "no device is attached on root-hub port \(port) through this controller; pass a port returned by attach"
        case .detachFailed(let port, let errno):
            return "lkl_usb_detach(\(port)) failed: errno \(errno.rawValue) (\(errno))"
        case .statsUnavailable(let errno):
            return "lkl_usb_get_stats failed: errno \(errno.rawValue) (\(errno)); is the kernel booted?"
        case .traceFailed(let path, let errno):
            return "cannot write the usbmon trace \(path): errno \(errno.rawValue) (\(errno)); check the directory exists and is writable"
        }
    }
}

func hex(_ value: UInt64) -> String {
    "0x" + String(value, radix: 16)
}
