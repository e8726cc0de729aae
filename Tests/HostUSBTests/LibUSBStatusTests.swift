// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import SystemPackage
import Testing
import USBHost

@testable import HostUSB

@Suite("libusb results as URB statuses")
struct LibUSBStatusTests {
    @Test("every transfer status maps to the errno a Linux HCD reports")
    func transferStatuses() {
        let expected: [(libusb_transfer_status, Errno?)] = [
            (LIBUSB_TRANSFER_COMPLETED, nil),
            (LIBUSB_TRANSFER_STALL, Errno(rawValue: 32)),  // EPIPE
            (LIBUSB_TRANSFER_TIMED_OUT, Errno(rawValue: 110)),  // ETIMEDOUT
            (LIBUSB_TRANSFER_NO_DEVICE, Errno(rawValue: 19)),  // ENODEV
            (LIBUSB_TRANSFER_OVERFLOW, Errno(rawValue: 75)),  // EOVERFLOW
            (LIBUSB_TRANSFER_ERROR, Errno(rawValue: 71)),  // EPROTO
            (LIBUSB_TRANSFER_CANCELLED, Errno(rawValue: 104)),  // ECONNRESET
        ]
        for (status, errno) in expected {
            let completion = LibUSBStatus.completion(status: status, actualLength: 12)
            #expect(completion.error == errno, "status \(status.rawValue)")
            #expect(completion.actualLength == 12)
        }
        // A status newer libusb versions might add is still an error.
        #expect(LibUSBStatus.completion(status: libusb_transfer_status(rawValue: 99), actualLength: 0).error == USBErrno.protocolError)
        #expect(LibUSBStatus.completion(status: LIBUSB_TRANSFER_COMPLETED, actualLength: -1).actualLength == 0)
    }

    @Test("every libusb_error code maps to an errno")
    func errorCodes() {
        let expected: [(libusb_error, Int32)] = [
            (LIBUSB_ERROR_IO, 71),  // EPROTO
            (LIBUSB_ERROR_INVALID_PARAM, 22),  // EINVAL
            (LIBUSB_ERROR_ACCESS, 13),  // EACCES
            (LIBUSB_ERROR_NO_DEVICE, 19),  // ENODEV
            (LIBUSB_ERROR_NOT_FOUND, 2),  // ENOENT
            (LIBUSB_ERROR_BUSY, 16),  // EBUSY
            (LIBUSB_ERROR_TIMEOUT, 110),  // ETIMEDOUT
            (LIBUSB_ERROR_OVERFLOW, 75),  // EOVERFLOW
            (LIBUSB_ERROR_PIPE, 32),  // EPIPE
            (LIBUSB_ERROR_INTERRUPTED, 4),  // EINTR
            (LIBUSB_ERROR_NO_MEM, 12),  // ENOMEM
            (LIBUSB_ERROR_NOT_SUPPORTED, 95),  // EOPNOTSUPP
            (LIBUSB_ERROR_OTHER, 71),  // EPROTO
        ]
        for (code, errno) in expected {
            #expect(LibUSBStatus.errno(forLibUSBError: code.rawValue).rawValue == errno, "\(code.rawValue)")
        }
        #expect(LibUSBStatus.errno(forLibUSBError: -1234).rawValue == 71)
    }

    @Test("error texts carry libusb's name and the code")
    func names() {
        #expect(LibUSBStatus.describe(libUSBError: LIBUSB_ERROR_PIPE.rawValue) == "LIBUSB_ERROR_PIPE (-9)")
        #expect(LibUSBStatus.name(ofLibUSBError: LIBUSB_ERROR_ACCESS.rawValue) == "LIBUSB_ERROR_ACCESS")
    }

    @Test("failed blocking standard requests: a missing interface or endpoint is a stall")
    func standardRequests() {
        #expect(LibUSBAdapter.standardRequestCompletion(0) == .success(actualLength: 0))
        #expect(LibUSBAdapter.standardRequestCompletion(LIBUSB_ERROR_NOT_FOUND.rawValue) == .stall)
        #expect(LibUSBAdapter.standardRequestCompletion(LIBUSB_ERROR_INVALID_PARAM.rawValue) == .stall)
        #expect(LibUSBAdapter.standardRequestCompletion(LIBUSB_ERROR_PIPE.rawValue) == .stall)
        #expect(LibUSBAdapter.standardRequestCompletion(LIBUSB_ERROR_NO_DEVICE.rawValue).error == USBErrno.noDevice)
        #expect(LibUSBAdapter.standardRequestCompletion(LIBUSB_ERROR_TIMEOUT.rawValue).error == USBErrno.timedOut)
        #expect(LibUSBAdapter.standardRequestCompletion(LIBUSB_ERROR_BUSY.rawValue).error == .resourceBusy)
    }
}
