// SPDX-License-Identifier: GPL-2.0-only

import Testing
import USBHost

@testable import HostUSB

@Suite("descriptor cache and the SuperSpeed-to-high-speed rewrite")
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

    @Test("device descriptor: bcdUSB 2.10, bMaxPacketSize0 64, everything else kept")
    func deviceDescriptor() {
        let original = TestDescriptors.superSpeedDevice
        let rewritten = HighSpeedPresentation.deviceDescriptor(original)
        #expect(rewritten.count == 18)
        #expect(littleEndian16(rewritten, 2) == 0x0210)
        #expect(rewritten[7] == 64)
        for index in 0..<18 where ![2, 3, 7].contains(index) {
            #expect(rewritten[index] == original[index], "byte \(index)")
        }
        // Too short to be a device descriptor: left alone.
        #expect(HighSpeedPresentation.deviceDescriptor([18, 1, 0x20]) == [18, 1, 0x20])
    }

    @Test("configuration: companions dropped, bulk 512, interrupt and iso at most 1024, wTotalLength fixed")
    func configurationDescriptor() {
        let rewritten = HighSpeedPresentation.configurationDescriptor(TestDescriptors.superSpeedConfiguration)
        let descriptors = DescriptorWalk.descriptors(in: rewritten)
        // 4 + 1 companions and one SSP iso companion are gone.
        #expect(descriptors.map(\.type) == [2, 4, 5, 5, 5, 5, 4, 4, 5])
        #expect(!descriptors.contains { $0.type == 0x30 || $0.type == 0x31 })
        #expect(littleEndian16(rewritten, 2) == rewritten.count)
        #expect(rewritten.count == 9 + 9 + 4 * 7 + 9 + 9 + 7)

        let endpoints = descriptors.filter { $0.type == 5 }.map(\.bytes)
        #expect(endpoints.map { $0[2] } == [0x81, 0x02, 0x03, 0x84, 0x85])
        #expect(endpoints[0] == [7, 5, 0x81, 2, 0x00, 0x02, 0])  // bulk: 1024 -> 512
        #expect(endpoints[1] == [7, 5, 0x02, 2, 0x00, 0x02, 0])
        #expect(endpoints[2] == [7, 5, 0x03, 2, 0x00, 0x02, 0])
        #expect(endpoints[3] == [7, 5, 0x84, 3, 64, 0, 4])  // interrupt: 64 stays, bInterval kept
        #expect(endpoints[4] == [7, 5, 0x85, 1, 0x00, 0x04, 1])  // iso: 1024 stays
        // Configuration header fields other than wTotalLength are kept.
        #expect(Array(rewritten[4..<9]) == [2, 1, 0, 0x80, 250])
    }

    @Test("interrupt endpoints above 1024 bytes are capped; the mult bits are dropped")
    func interruptCap() {
        let endpoint = TestDescriptors.endpoint(0x81, 3, 0x1400)  // mult bits + 1024
        #expect(Array(HighSpeedPresentation.endpointDescriptor(endpoint)[4...5]) == [0x00, 0x04])
        let small = TestDescriptors.endpoint(0x81, 3, 16)
        #expect(Array(HighSpeedPresentation.endpointDescriptor(small)[4...5]) == [16, 0])
    }

    @Test("bytes past wTotalLength and a malformed tail are dropped")
    func malformed() {
        var configuration = TestDescriptors.superSpeedConfiguration
        configuration += [0xde, 0xad]  // beyond wTotalLength
        let rewritten = HighSpeedPresentation.configurationDescriptor(configuration)
        #expect(rewritten.suffix(2) != [0xde, 0xad])
        #expect(littleEndian16(rewritten, 2) == rewritten.count)

        let zeroLength: [UInt8] = [9, 2, 13, 0, 1, 1, 0, 0x80, 50, 0, 4, 0, 0]  // bLength 0 after the header
        let cut = HighSpeedPresentation.configurationDescriptor(zeroLength)
        #expect(cut == [9, 2, 9, 0, 1, 1, 0, 0x80, 50])
    }

    @Test("presented(at:) rewrites only SuperSpeed devices")
    func presentation() {
        let cache = USBDescriptorCache(
            device: TestDescriptors.superSpeedDevice, configurations: [TestDescriptors.superSpeedConfiguration])
        for speed in [HostUSBSpeed.low, .full, .high, .unknown] {
            #expect(cache.presented(at: speed) == cache)
        }
        for speed in [HostUSBSpeed.super, .superPlus] {
            let presented = cache.presented(at: speed)
            #expect(presented.device == HighSpeedPresentation.deviceDescriptor(cache.device))
            #expect(presented.configurations == [HighSpeedPresentation.configurationDescriptor(cache.configurations[0])])
        }
    }

    @Test("a high-speed configuration passes through the rewrite unchanged")
    func highSpeedIdentity() {
        let bytes = TestDescriptors.highSpeedConfiguration.bytes()
        #expect(HighSpeedPresentation.configurationDescriptor(bytes) == bytes)
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
        #expect(cache.presented(at: .super).maxPacketSize(endpoint: 0x81, configurationValue: 1) == 512)
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
