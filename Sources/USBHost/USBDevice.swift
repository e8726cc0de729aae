// SPDX-License-Identifier: GPL-2.0-only

/// A USB device the kernel talks to through `VirtualHostController`: a
/// software model or (later) a real device behind libusb.
///
/// `submit`, `cancel` and `reset` run in kernel context, on a thread that
/// holds the kernel library's CPU, possibly with interrupts disabled. They
/// must not block, must not make kernel syscalls, and must not wait for a
/// lock that a thread calling into the kernel could hold (take your own
/// locks only around your own state, and never hold them while completing
/// a request or calling the kernel).
public protocol USBDevice: AnyObject, Sendable {
    /// The speed the root-hub port reports.
    var speed: USBSpeed { get }

    /// Called once by `VirtualHostController.attach`, before the kernel sees
    /// the device. Requests answered `.pending` are completed through `link`.
    func attached(_ link: USBDeviceLink)

    /// A new request. Every URB reaches the device except control
    /// SET_ADDRESS, which the bridge answers itself.
    func submit(_ request: USBRequest) -> USBSubmitResult

    /// The kernel wants the request back (unlink, kill, endpoint flush):
    /// complete it as soon as possible, with any status (the driver sees the
    /// unlink status). It may already be completed: then do nothing.
    func cancel(_ handle: UInt64)

    /// The port is being reset (before enumeration, or usb_reset_device).
    func reset()

    /// The device is being unplugged. When this returns the device must not
    /// touch any request's buffer again nor complete anything: the bridge
    /// completes whatever is still pending with `-ESHUTDOWN`.
    func stop()
}

extension USBDevice {
    public func reset() {}
}

/// What a device uses to complete the requests it kept (`.pending`).
public struct USBDeviceLink: Sendable {
    private enum Destination: Sendable {
        /// The bridge: the usual case, called directly (no closure in between).
        case controller(VirtualHostController, AttachedDevice)
        /// Whatever hosts the device instead of the bridge.
        case handler(port: @Sendable () -> Int, complete: @Sendable (UInt64, USBCompletion) throws(USBHostError) -> Void)
    }

    private let destination: Destination

    init(controller: VirtualHostController, portBox: AttachedDevice) {
        destination = .controller(controller, portBox)
    }

    /// A link whose completions go to `complete` rather than to a
    /// `VirtualHostController`: for a device hosted by something else (a
    /// model standing in for real hardware behind libusb). `complete` has
    /// the contract of `VirtualHostController.complete`: any thread, once
    /// per pending request, throwing for unknown or repeated handles.
    public init(port: Int, complete: @escaping @Sendable (UInt64, USBCompletion) throws(USBHostError) -> Void) {
        destination = .handler(port: { port }, complete: complete)
    }

    /// A link whose completions go to `complete` and whose port is
    /// `outer`'s (known only once the kernel assigned it): for a device
    /// wrapped by another (`ReadAheadUSBDevice`).
    public init(portOf outer: USBDeviceLink, complete: @escaping @Sendable (UInt64, USBCompletion) throws(USBHostError) -> Void) {
        destination = .handler(port: { outer.port }, complete: complete)
    }

    /// Root-hub port the device is plugged into (0 until the kernel assigned one).
    public var port: Int {
        switch destination {
        case .controller(_, let attached): return attached.port
        case .handler(let port, _): return port()
        }
    }

    /// Completes a pending request; see `VirtualHostController.complete`.
    public func complete(_ handle: UInt64, _ completion: USBCompletion) throws(USBHostError) {
        switch destination {
        case .controller(let controller, _): try controller.complete(handle, completion)
        case .handler(_, let complete): try complete(handle, completion)
        }
    }
}
