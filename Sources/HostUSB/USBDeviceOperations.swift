// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import USBHost

/// The libusb calls `LibUSBAdapter` makes on its open device. A seam, so
/// the adapter's bookkeeping (ordering, cancellation, chunking, removal)
/// can be tested without hardware; `LibUSBDeviceHandle` is the real one.
/// Results are libusb return codes (0 or a negative `libusb_error`).
protocol USBDeviceOperations: Sendable {
    /// For `libusb_transfer.dev_handle`.
    var rawHandle: OpaquePointer? { get }
    func submit(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32
    /// Must not run transfer callbacks (libusb's does not: the event thread
    /// reports the cancellation).
    func cancel(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32
    func setAutoDetachKernelDriver(_ enabled: Bool) -> Int32
    func claimInterface(_ number: UInt8) -> Int32
    func releaseInterface(_ number: UInt8) -> Int32
    /// bConfigurationValue, or -1 for unconfigured.
    func setConfiguration(_ value: Int32) -> Int32
    func setInterfaceAltSetting(interface: UInt8, alternateSetting: UInt8) -> Int32
    func clearHalt(endpoint: UInt8) -> Int32
    func resetDevice() -> Int32
    /// libusb_close, and drops the device reference open took.
    func close()
}

/// An open libusb device.
struct LibUSBDeviceHandle: USBDeviceOperations {
    let handle: LibUSBPointer
    let device: LibUSBPointer

    var rawHandle: OpaquePointer? { handle.raw }

    func submit(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32 { libusb_submit_transfer(transfer) }
    func cancel(_ transfer: UnsafeMutablePointer<libusb_transfer>) -> Int32 { libusb_cancel_transfer(transfer) }
    func setAutoDetachKernelDriver(_ enabled: Bool) -> Int32 {
        libusb_set_auto_detach_kernel_driver(handle.raw, enabled ? 1 : 0)
    }
    func claimInterface(_ number: UInt8) -> Int32 { libusb_claim_interface(handle.raw, Int32(number)) }
    func releaseInterface(_ number: UInt8) -> Int32 { libusb_release_interface(handle.raw, Int32(number)) }
    func setConfiguration(_ value: Int32) -> Int32 { libusb_set_configuration(handle.raw, value) }
    func setInterfaceAltSetting(interface: UInt8, alternateSetting: UInt8) -> Int32 {
        libusb_set_interface_alt_setting(handle.raw, Int32(interface), Int32(alternateSetting))
    }
    func clearHalt(endpoint: UInt8) -> Int32 { libusb_clear_halt(handle.raw, endpoint) }
    func resetDevice() -> Int32 { libusb_reset_device(handle.raw) }
    func close() {
        libusb_close(handle.raw)
        libusb_unref_device(device.raw)
    }
}

/// What the adapter needs from its `LibUSBContext`.
struct AdapterEnvironment: Sendable {
    /// Queues work on the libusb event thread.
    var performOnEventThread: @Sendable (@escaping @Sendable () -> Void) -> Void
    var isEventThread: @Sendable () -> Bool
    /// Forget the adapter for hotplug (at close).
    var unregister: @Sendable () -> Void
}

/// Where completions go: the link's `complete` once attached.
typealias CompletionSink = @Sendable (UInt64, USBCompletion) throws(USBHostError) -> Void
