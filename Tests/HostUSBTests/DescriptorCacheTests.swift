// SPDX-License-Identifier: GPL-2.0-only

import Testing
import USBHost

@testable import HostUSB

@Suite("descriptor cache")
struct DescriptorCacheTests {
    private func littleEndian16(_ bytes: [UInt8], _ offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
    }

    @Test("the test configuration is well-formed: wTotalLength matches")
    func fixture() {
        let configuration = TestDescriptors.superSpeedConfiguration
        #expect(littleEndian16(configuration, 2) == configuration.count)
        #expect(configuration.count == 9 + 9 + 4 * 7 + 4 * 6 + 9 + 9 + 7 + 6 + 8)
    }

    @Test("the walk frames every descriptor, SuperSpeed companions included, and stops at a malformed one")
    func walk() {
        let descriptors = DescriptorWalk.descriptors(in: TestDescriptors.superSpeedConfiguration)
        // Each endpoint is followed by its companion; one SSP iso companion too.
        #expect(descriptors.map(\.type) == [2, 4, 5, 0x30, 5, 0x30, 5, 0x30, 5, 0x30, 4, 4, 5, 0x30, 0x31])
        let zeroLength: [UInt8] = [9, 2, 13, 0, 1, 1, 0, 0x80, 50, 0, 4, 0, 0]  // bLength 0 after the header
        #expect(DescriptorWalk.descriptors(in: zeroLength).map(\.type) == [2])
    }

    @Test("lookups: configuration by value, interface numbers, real packet sizes")
    func lookups() throws {
        let cache = USBDescriptorCache(
            device: TestDescriptors.superSpeedDevice, configurations: [TestDescriptors.superSpeedConfiguration])
        try cache.validate()
        #expect(cache.configuration(value: 1) == TestDescriptors.superSpeedConfiguration)
        #expect(cache.configuration(value: 2) == nil)
        #expect(cache.interfaceNumbers(configurationValue: 1) == [0, 1])
        #expect(cache.interfaceNumbers(configurationValue: 0) == [])
        #expect(cache.maxPacketSize(endpoint: 0x81, configurationValue: 1) == 1024)
        #expect(cache.maxPacketSize(endpoint: 0x84, configurationValue: 1) == 64)
        #expect(cache.maxPacketSize(endpoint: 0x86, configurationValue: 1) == nil)
    }

    @Test("validate refuses short or mistyped descriptors")
    func validation() {
        #expect(throws: DescriptorProblem.self) {
            try USBDescriptorCache(device: [18, 1, 0], configurations: []).validate()
        }
        #expect(throws: DescriptorProblem.self) {
            try USBDescriptorCache(device: TestDescriptors.superSpeedDevice, configurations: [[9, 4, 9, 0, 0, 0, 0, 0, 0]]).validate()
        }
    }
}
