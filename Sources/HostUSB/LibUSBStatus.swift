// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import SystemPackage
import USBHost

/// Translates libusb's results into what the kernel expects of a host
/// controller: URB statuses as Linux errnos.
public enum LibUSBStatus {
    /// How an async transfer ended, as a URB completion.
    ///
    /// A cancelled transfer reports `-ECONNRESET`; the kernel gives the
    /// driver its own unlink status anyway (`-ENOENT` for a kill), so the
    /// value only shows in traces.
    public static func completion(status: libusb_transfer_status, actualLength: Int) -> USBCompletion {
        let length = max(0, actualLength)
        switch status {
        case LIBUSB_TRANSFER_COMPLETED:
            return .success(actualLength: length)
        case LIBUSB_TRANSFER_STALL:
            return .failure(USBErrno.stall, actualLength: length)
        case LIBUSB_TRANSFER_TIMED_OUT:
            return .failure(USBErrno.timedOut, actualLength: length)
        case LIBUSB_TRANSFER_NO_DEVICE:
            return .failure(USBErrno.noDevice, actualLength: length)
        case LIBUSB_TRANSFER_OVERFLOW:
            // Data past the buffer was lost: report none, as a Linux HCD does on babble.
            return .failure(USBErrno.overflow, actualLength: length)
        case LIBUSB_TRANSFER_CANCELLED:
            return .failure(USBErrno.connectionReset, actualLength: length)
        default:  // LIBUSB_TRANSFER_ERROR and anything newer libusb may add
            return .failure(USBErrno.protocolError, actualLength: length)
        }
    }

    /// The errno for a `libusb_error` code (a negative return value of a
    /// libusb call). Codes that have no errno of their own, IO and OTHER,
    /// become `EPROTO`, what a Linux HCD reports for a failed transaction.
    public static func errno(forLibUSBError code: Int32) -> Errno {
        switch code {
        case LIBUSB_ERROR_PIPE.rawValue: return USBErrno.stall
        case LIBUSB_ERROR_NO_DEVICE.rawValue: return USBErrno.noDevice
        case LIBUSB_ERROR_TIMEOUT.rawValue: return USBErrno.timedOut
        case LIBUSB_ERROR_BUSY.rawValue: return .resourceBusy
        case LIBUSB_ERROR_ACCESS.rawValue: return .permissionDenied
        case LIBUSB_ERROR_NOT_FOUND.rawValue: return USBErrno.noEntry
        case LIBUSB_ERROR_OVERFLOW.rawValue: return USBErrno.overflow
        case LIBUSB_ERROR_INVALID_PARAM.rawValue: return .invalidArgument
        case LIBUSB_ERROR_INTERRUPTED.rawValue: return .interrupted
        case LIBUSB_ERROR_NO_MEM.rawValue: return .noMemory
        case LIBUSB_ERROR_NOT_SUPPORTED.rawValue: return USBErrno.notSupported
        default: return USBErrno.protocolError  // IO, OTHER, unknown
        }
    }

    /// libusb's own name for an error code ("LIBUSB_ERROR_PIPE"), for messages.
    public static func name(ofLibUSBError code: Int32) -> String {
        guard let name = libusb_error_name(code) else { return "libusb error \(code)" }
        return String(cString: name)
    }

    /// "LIBUSB_ERROR_PIPE (-9)".
    public static func describe(libUSBError code: Int32) -> String {
        "\(name(ofLibUSBError: code)) (\(code))"
    }
}
