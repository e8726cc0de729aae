// SPDX-License-Identifier: GPL-2.0-only

/// Why a real USB device could not be found, opened or used; each text
/// says what to do about it.
public enum HostUSBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libusb_init failed although the machine has USB.
    case libusbUnavailable(code: Int32)
    /// The machine has no USB devices at all (or no USB support).
    case noUSBDevices
    /// A `--device usb...` text that is none of the accepted forms.
    case invalidSelector(String)
    /// Nothing matches the selector; `present` lists what is plugged in.
    case noMatchingDevice(selector: String, present: [String])
    /// `usb` was asked for, but no plugged-in device has a driver here.
    case noSupportedDevice(present: [String])
    /// The device was listed but is gone by the time it was opened.
    case deviceNotFound(String)
    /// The usbfs node cannot be opened by this user.
    case permissionDenied(node: String, user: String)
    /// Another program (or a host kernel driver we may not detach) holds it.
    case deviceBusy(device: String, detail: String)
    /// A libusb call failed.
    case libusbFailed(call: String, device: String, code: Int32)
    /// The device returned descriptors that cannot be used.
    case invalidDescriptor(device: String, detail: String)
    /// A helper thread could not be started.
    case threadFailed(String)

    /// The command that installs the project's udev rule.
    public static let udevInstallCommand =
        "sudo install -m 644 packaging/udev/70-airtap.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger"

    public var description: String {
        switch self {
        case .libusbUnavailable(let code):
            return "libusb could not start: \(LibUSBStatus.describe(libUSBError: code)). Check that libusb-1.0 is installed"
                + " (Debian: sudo apt install libusb-1.0-0) and that /dev/bus/usb is mounted (in a container: pass --device /dev/bus/usb)"
        case .noUSBDevices:
            return "no USB device is present on this machine (no /dev/bus/usb or /sys/bus/usb, or nothing plugged in);"
                + " plug in a USB Wi-Fi adapter (in a container or VM: pass the USB device through)"
        case .invalidSelector(let text):
            return "'\(text)' is not a USB device selector; use one of: usb (the first supported adapter),"
                + " usb:VID:PID (hex, e.g. usb:0bda:b812), usb:BUS-PORT[.PORT...] (e.g. usb:1-2 or usb:1-2.3, as `lsusb -t` and /sys/bus/usb/devices name it)"
        case .noMatchingDevice(let selector, let present):
            return "no USB device matches \(selector). " + Self.presentList(present)
        case .noSupportedDevice(let present):
            return "no supported USB Wi-Fi adapter is plugged in. " + Self.presentList(present)
                + " If yours is one of them, name it with usb:VID:PID or usb:BUS-PORT"
        case .deviceNotFound(let device):
            return "USB device \(device) is no longer present; was it unplugged? List devices again and retry"
        case .permissionDenied(let node, let user):
            return "permission denied opening \(node) as user \(user). Install the udev rule packaging/udev/70-airtap.rules"
                + " (\(Self.udevInstallCommand)), then unplug and replug the adapter; or run as root"
        case .deviceBusy(let device, let detail):
            return "USB device \(device) is busy: \(detail). Close other programs using it (another airtap, a VM with"
                + " USB passthrough, wpa_supplicant through usbfs), or unload the host driver (sudo modprobe -r <driver>)"
        case .libusbFailed(let call, let device, let code):
            return "\(call) failed for USB device \(device): \(LibUSBStatus.describe(libUSBError: code))"
        case .invalidDescriptor(let device, let detail):
            return "USB device \(device) returned unusable descriptors: \(detail). Unplug and replug it; if it persists the adapter may be faulty"
        case .threadFailed(let detail):
            return "could not start a USB helper thread: \(detail)"
        }
    }

    private static func presentList(_ present: [String]) -> String {
        guard !present.isEmpty else { return "No USB device is present at all." }
        return "Present: " + present.joined(separator: "; ") + "."
    }
}
