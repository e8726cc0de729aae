// SPDX-License-Identifier: GPL-2.0-only

import USBHost

/// Where a control request on EP0 is handled.
///
/// Descriptor reads the adapter already has are answered from its cache.
/// Requests that change state the host kernel tracks for the device
/// (configuration, altsettings, endpoint halt and data toggles) must go
/// through libusb's calls for them: sent raw, usbfs would refuse them or
/// the host's view of the device would go stale. Everything else goes to
/// the device as it is.
enum ControlRoute: Equatable, Sendable {
    case deviceDescriptor
    /// GET_DESCRIPTOR(CONFIGURATION) with this index (not the value).
    case configurationDescriptor(index: UInt8)
    /// SET_CONFIGURATION with this bConfigurationValue (0: unconfigured).
    case setConfiguration(UInt8)
    case setInterface(interface: UInt8, alternateSetting: UInt8)
    /// CLEAR_FEATURE(ENDPOINT_HALT) of a non-zero endpoint (number | 0x80 for IN).
    case clearEndpointHalt(endpoint: UInt8)
    /// Sent to the device as an async control transfer.
    case forward

    /// ENDPOINT_HALT feature selector (USB 2.0 table 9-6).
    static let endpointHaltFeature: UInt16 = 0

    init(_ setup: USBSetupPacket) {
        switch (setup.requestType, setup.request) {
        case (0x80, USBStandardRequest.getDescriptor) where setup.value >> 8 == UInt16(USBDescriptorType.device):
            self = .deviceDescriptor
        case (0x80, USBStandardRequest.getDescriptor) where setup.value >> 8 == UInt16(USBDescriptorType.configuration):
            self = .configurationDescriptor(index: UInt8(truncatingIfNeeded: setup.value))
        case (0x00, USBStandardRequest.setConfiguration) where setup.value <= 0xff:
            self = .setConfiguration(UInt8(setup.value))
        case (0x01, USBStandardRequest.setInterface) where setup.value <= 0xff && setup.index <= 0xff:
            self = .setInterface(interface: UInt8(setup.index), alternateSetting: UInt8(setup.value))
        case (0x02, USBStandardRequest.clearFeature)
        where setup.value == Self.endpointHaltFeature && setup.index & 0x0f != 0 && setup.index <= 0xff:
            self = .clearEndpointHalt(endpoint: UInt8(setup.index))
        default:
            self = .forward
        }
    }

    /// Answered from the descriptors read at open, without device I/O.
    var isAnsweredFromCache: Bool {
        switch self {
        case .deviceDescriptor, .configurationDescriptor: return true
        case .setConfiguration, .setInterface, .clearEndpointHalt, .forward: return false
        }
    }

    /// Needs a blocking libusb call, so it runs on the adapter's worker.
    var isBlocking: Bool {
        switch self {
        case .setConfiguration, .setInterface, .clearEndpointHalt: return true
        case .deviceDescriptor, .configurationDescriptor, .forward: return false
        }
    }
}
