// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import Logging
import USBHost

/// Opening a real device: claims, descriptors read at open, and the
/// errors an open reports.
extension LibUSBAdapter {
    /// Opens `device`: auto-detach of host drivers, descriptors, claims of
    /// the active configuration's interfaces.
    static func open(
        device: LibUSBPointer, info: HostUSBDeviceInfo, environment: AdapterEnvironment, options: Options
    ) throws(HostUSBError) -> LibUSBAdapter {
        let hostSpeed = HostUSBSpeed(libUSBSpeed: libusb_get_device_speed(device.raw))
        var opened: OpaquePointer?
        let openResult = libusb_open(device.raw, &opened)
        guard openResult == 0, let opened else {
            throw openError(openResult, call: "libusb_open", info: info)
        }
        let operations = LibUSBDeviceHandle(handle: LibUSBPointer(raw: opened), device: device)
        var claimed: [UInt8] = []
        do throws(HostUSBError) {
            // Claiming then detaches a bound host driver, and releasing
            // (at close) binds it again.
            let detachResult = operations.setAutoDetachKernelDriver(true)
            if detachResult != 0 {
                Logger(label: "airtap.usb").debug(
                    "\(info.location): no automatic host driver detach: \(LibUSBStatus.describe(libUSBError: detachResult))")
            }
            let cache = try readDescriptors(info: info) { type, index, bytes in
                libusb_get_descriptor(opened, type, index, &bytes, Int32(bytes.count))
            }
            var active: Int32 = 0
            let configResult = libusb_get_configuration(opened, &active)
            guard configResult == 0 else {
                throw openError(configResult, call: "libusb_get_configuration", info: info)
            }
            let configuration = UInt8(truncatingIfNeeded: active)
            for interface in cache.interfaceNumbers(configurationValue: configuration) {
                let result = operations.claimInterface(interface)
                guard result == 0 else {
                    throw openError(result, call: "libusb_claim_interface(\(interface))", info: info)
                }
                claimed.append(interface)
            }
            var opened = info
            opened.speed = hostSpeed
            opened.activeConfiguration = configuration
            return try LibUSBAdapter(
                info: opened, descriptors: cache, configuration: configuration, claimedInterfaces: claimed,
                operations: operations, environment: environment, options: options)
        } catch {
            for interface in claimed { _ = operations.releaseInterface(interface) }
            libusb_close(opened)
            throw error
        }
    }

    static func openError(_ code: Int32, call: String, info: HostUSBDeviceInfo) -> HostUSBError {
        switch code {
        case LIBUSB_ERROR_ACCESS.rawValue:
            return .permissionDenied(node: info.nodePath, user: HostAccessCheck.currentUserName())
        case LIBUSB_ERROR_NO_DEVICE.rawValue:
            return .deviceNotFound(info.summary)
        case LIBUSB_ERROR_NOT_FOUND.rawValue where call == "libusb_open":
            return .deviceNotFound(info.summary)
        case LIBUSB_ERROR_BUSY.rawValue:
            return .deviceBusy(device: info.summary, detail: "\(call) says another program or driver holds it")
        default:
            return .libusbFailed(call: call, device: info.summary, code: code)
        }
    }

    /// The device descriptor and every configuration, full length.
    /// `getDescriptor(type, index, &buffer)` is a GET_DESCRIPTOR of at most
    /// `buffer.count` bytes, answering as `libusb_get_descriptor` does (the
    /// byte count or a negative `libusb_error`).
    static func readDescriptors(
        info: HostUSBDeviceInfo, getDescriptor: (UInt8, UInt8, inout [UInt8]) -> Int32
    ) throws(HostUSBError) -> USBDescriptorCache {
        func read(_ type: UInt8, _ index: UInt8, _ length: Int) throws(HostUSBError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: length)
            let count = getDescriptor(type, index, &bytes)
            guard count >= 0 else {
                throw openError(count, call: "GET_DESCRIPTOR(type \(type), index \(index))", info: info)
            }
            return Array(bytes.prefix(Int(count)))
        }
        let device = try read(USBDescriptorType.device, 0, 18)
        guard device.count == 18 else {
            throw .invalidDescriptor(device: info.summary, detail: "the device descriptor has \(device.count) bytes, not 18")
        }
        var configurations: [[UInt8]] = []
        for index in 0..<device[17] {
            let header = try read(USBDescriptorType.configuration, index, 9)
            guard header.count == 9 else {
                throw .invalidDescriptor(device: info.summary, detail: "configuration \(index) header has \(header.count) bytes")
            }
            let total = Int(UInt16(header[2]) | UInt16(header[3]) << 8)
            let full = try read(USBDescriptorType.configuration, index, max(9, total))
            guard full.count == max(9, total) else {
                throw .invalidDescriptor(device: info.summary, detail: "configuration \(index) has \(full.count) of its \(total) bytes")
            }
            configurations.append(full)
        }
        let cache = USBDescriptorCache(device: device, configurations: configurations)
        do {
            try cache.validate()
        } catch {
            throw .invalidDescriptor(device: info.summary, detail: error.description)
        }
        return cache
    }
}
