// SPDX-License-Identifier: GPL-2.0-only

import USBDevices

/// An emulated USB adapter plugged straight into the virtual HCD: its chip
/// model (counters, floods) and the bring-up time; the inject report and
/// the bench use these.
public protocol EmulatedUSBAdapter: RadioDevice {
    /// From plugging the adapter in to its monitor interface being up.
    var bringUpSeconds: Double { get }
    var chip: any EmulatedChip { get }
    /// Pulls the adapter out with its URBs pending.
    func unplug() throws
}

extension EmulatedRTL8187: EmulatedUSBAdapter {
    public var chip: any EmulatedChip { model }
}

extension EmulatedRTW88: EmulatedUSBAdapter {
    public var chip: any EmulatedChip { model }
}

/// The chip model behind a device, if it has one: an emulated adapter, or
/// a model standing in for hardware behind the libusb layer.
public func emulatedChip(of device: any RadioDevice) -> (any EmulatedChip)? {
    (device as? any EmulatedUSBAdapter)?.chip ?? (device as? USBAdapterRadio)?.standInChip
}

/// From plugging in to monitor-ready, for devices that measure it.
public func bringUpSeconds(of device: any RadioDevice) -> Double? {
    (device as? any EmulatedUSBAdapter)?.bringUpSeconds ?? (device as? USBAdapterRadio)?.bringUpSeconds
}
