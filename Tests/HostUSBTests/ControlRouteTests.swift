// SPDX-License-Identifier: GPL-2.0-only

import Testing
import USBHost

@testable import HostUSB

@Suite("which control requests the adapter intercepts")
struct ControlRouteTests {
    private func route(_ requestType: UInt8, _ request: UInt8, value: UInt16 = 0, index: UInt16 = 0, length: UInt16 = 0) -> ControlRoute {
        ControlRoute(USBSetupPacket(requestType: requestType, request: request, value: value, index: index, length: length))
    }

    @Test("GET_DESCRIPTOR device and configuration come from the cache")
    func descriptorsFromCache() {
        #expect(route(0x80, 6, value: 0x0100, length: 64) == .deviceDescriptor)
        #expect(route(0x80, 6, value: 0x0100, length: 18) == .deviceDescriptor)
        #expect(route(0x80, 6, value: 0x0200, length: 9) == .configurationDescriptor(index: 0))
        #expect(route(0x80, 6, value: 0x0203, length: 255) == .configurationDescriptor(index: 3))
    }

    @Test("other descriptors go to the device: string, BOS, qualifier, class and interface-recipient ones")
    func descriptorsForwarded() {
        #expect(route(0x80, 6, value: 0x0300, index: 0, length: 255) == .forward)  // string 0
        #expect(route(0x80, 6, value: 0x0302, index: 0x0409, length: 255) == .forward)
        #expect(route(0x80, 6, value: 0x0f00, length: 5) == .forward)  // BOS
        #expect(route(0x80, 6, value: 0x0600, length: 10) == .forward)  // device qualifier
        #expect(route(0x80, 6, value: 0x0700, length: 9) == .forward)  // other speed configuration
        #expect(route(0x81, 6, value: 0x2200, length: 64) == .forward)  // HID report, interface recipient
        #expect(route(0xa0, 6, value: 0x2900, length: 9) == .forward)  // class (hub) descriptor
    }

    @Test("SET_CONFIGURATION and SET_INTERFACE use libusb's calls")
    func configurationAndInterface() {
        #expect(route(0x00, 9, value: 1) == .setConfiguration(1))
        #expect(route(0x00, 9, value: 0) == .setConfiguration(0))
        #expect(route(0x01, 11, value: 2, index: 1) == .setInterface(interface: 1, alternateSetting: 2))
        #expect(route(0x00, 9, value: 1).isBlocking)
        #expect(route(0x01, 11, value: 0, index: 0).isBlocking)
        // Out-of-range values are the device's to stall.
        #expect(route(0x00, 9, value: 0x100) == .forward)
        #expect(route(0x01, 11, value: 0x100, index: 0) == .forward)
    }

    @Test("CLEAR_FEATURE(ENDPOINT_HALT) on an endpoint uses libusb_clear_halt; other CLEAR_FEATUREs are forwarded")
    func clearFeature() {
        #expect(route(0x02, 1, value: 0, index: 0x81) == .clearEndpointHalt(endpoint: 0x81))
        #expect(route(0x02, 1, value: 0, index: 0x02) == .clearEndpointHalt(endpoint: 0x02))
        #expect(route(0x02, 1, value: 0, index: 0x81).isBlocking)
        #expect(route(0x00, 1, value: 1) == .forward)  // DEVICE_REMOTE_WAKEUP to the device
        #expect(route(0x02, 1, value: 0, index: 0x00) == .forward)  // EP0 halt
        #expect(route(0x02, 1, value: 0, index: 0x80) == .forward)
        #expect(route(0x01, 1, value: 0, index: 0) == .forward)  // interface recipient
        #expect(route(0x02, 3, value: 0, index: 0x81) == .forward)  // SET_FEATURE(HALT) goes to the device
    }

    @Test("everything else goes to the device, without blocking")
    func forwarded() {
        #expect(route(0xc0, 0x05, value: 0xff00, index: 0, length: 1) == .forward)  // rtl8187 register read
        #expect(route(0x40, 0x05, value: 0xff00, index: 0, length: 1) == .forward)
        #expect(route(0x80, 0, length: 2) == .forward)  // GET_STATUS
        #expect(route(0x80, 8, length: 1) == .forward)  // GET_CONFIGURATION
        #expect(route(0x81, 10, index: 0, length: 1) == .forward)  // GET_INTERFACE
        #expect(!route(0xc0, 0x05).isBlocking)
        #expect(!ControlRoute.deviceDescriptor.isBlocking)
    }
}
