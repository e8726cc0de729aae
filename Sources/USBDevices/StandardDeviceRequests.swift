// SPDX-License-Identifier: GPL-2.0-only

import USBHost

/// The chapter 9 requests a single-configuration, single-interface
/// high-speed vendor device answers the same way whatever its function
/// (the Wi-Fi chip models): descriptors, status, configuration and
/// interface selection. Vendor requests stay with the model.
public struct StandardDeviceRequests: Sendable {
    public let deviceDescriptor: USBDeviceDescriptor
    public let configuration: USBConfigurationDescriptor
    public let strings: [UInt8: String]

    public init(deviceDescriptor: USBDeviceDescriptor, configuration: USBConfigurationDescriptor, strings: [UInt8: String]) {
        self.deviceDescriptor = deviceDescriptor
        self.configuration = configuration
        self.strings = strings
    }

    /// The answer to `request` if it is one of these (nil: not a standard
    /// request this device handles; the model decides, usually a stall).
    /// `selectedConfiguration` is the device's state (0: unconfigured).
    public func answer(_ request: USBRequest, selectedConfiguration: inout UInt8) -> USBCompletion? {
        let setup = request.setup
        let noData = USBCompletion.success(actualLength: 0)
        switch (setup.requestType, setup.request) {
        case (0x80, USBStandardRequest.getStatus):
            return request.reply([0x00, 0x00])  // bus-powered, no remote wake-up
        case (0x81, USBStandardRequest.getStatus), (0x82, USBStandardRequest.getStatus):
            return request.reply([0, 0])
        case (0x02, USBStandardRequest.clearFeature):
            return noData
        case (0x80, USBStandardRequest.getDescriptor):
            return descriptor(type: UInt8(setup.value >> 8), index: UInt8(truncatingIfNeeded: setup.value)).map(request.reply)
                ?? .stall
        case (0x80, USBStandardRequest.getConfiguration):
            return request.reply([selectedConfiguration])
        case (0x00, USBStandardRequest.setConfiguration):
            guard setup.value == 0 || setup.value == UInt16(configuration.value) else { return .stall }
            selectedConfiguration = UInt8(setup.value)
            return noData
        case (0x81, USBStandardRequest.getInterface):
            return setup.index == 0 && selectedConfiguration != 0 ? request.reply([0]) : .stall
        case (0x01, USBStandardRequest.setInterface):
            return setup.index == 0 && setup.value == 0 && selectedConfiguration != 0 ? noData : .stall
        default:
            return nil
        }
    }

    /// GET_DESCRIPTOR's answer (nil: the device has no such descriptor).
    public func descriptor(type: UInt8, index: UInt8) -> [UInt8]? {
        switch type {
        case USBDescriptorType.device:
            return deviceDescriptor.bytes
        case USBDescriptorType.configuration:
            return index == 0 ? configuration.bytes() : nil
        case USBDescriptorType.string:
            if index == 0 { return USBStringDescriptor.languages() }
            return strings[index].map(USBStringDescriptor.text)
        case USBDescriptorType.deviceQualifier:
            return deviceDescriptor.qualifierBytes()
        case USBDescriptorType.otherSpeedConfiguration:
            return index == 0 ? configuration.bytes(descriptorType: USBDescriptorType.otherSpeedConfiguration) : nil
        default:
            return nil
        }
    }
}
