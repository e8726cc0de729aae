// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// Capture files of several devices: one pcapng interface per device.
@Suite("capture files with several interfaces")
struct MultiInterfaceCaptureFileTests {
    static let radiotap: [UInt8] = [0, 0, 8, 0, 0, 0, 0, 0]

    @Test("pcapng: one interface description per device, packets and statistics tagged with theirs")
    func pcapngInterfaces() throws {
        let output = MemoryCaptureOutput()
        var header = CaptureFileHeader(interfaceName: "wlan0", interfaceDescription: "first radio")
        header.additionalInterfaces = [CaptureInterface(name: "wlan1", description: "second radio")]
        let writer = try header.makeWriter(on: output)
        let frames: [(interface: Int, bytes: [UInt8])] = [
            (0, Self.radiotap + [0x80, 0]), (1, Self.radiotap + [0x40, 0]), (1, Self.radiotap + [0x08, 1]),
        ]
        for (index, frame) in frames.enumerated() {
            try frame.bytes.withUnsafeBytes {
                try writer.writePacket(
                    $0, originalLength: frame.bytes.count, timestampNanoseconds: 1_700_000_000_000_000_000 + UInt64(index) * 1000,
                    interface: frame.interface)
            }
        }
        try writer.writeStatistics(
            InterfaceStatistics(startNanoseconds: 1, endNanoseconds: 5_000, received: 1, osDropped: 0, delivered: 1), interface: 0)
        try writer.writeStatistics(
            InterfaceStatistics(startNanoseconds: 1, endNanoseconds: 9_000, received: 2, osDropped: 0, delivered: 2), interface: 1)
        try writer.close()

        let file = try CaptureFile(parsing: output.bytes)
        #expect(file.interfaces.map(\.name) == ["wlan0", "wlan1"])
        #expect(file.interfaces.map(\.description) == ["first radio", "second radio"])
        #expect(file.interfaces.allSatisfy { $0.linkType == LinkType.ieee80211Radiotap && $0.unitsPerSecond == 1_000_000 })
        #expect(file.packets.map(\.interfaceIndex) == frames.map(\.interface))
        #expect(file.packets.map(\.data) == frames.map(\.bytes))
        #expect(file.statistics.map(\.interfaceIndex) == [0, 1])
        #expect(file.statistics.map(\.delivered) == [1, 2])
        #expect(file.statistics.map(\.endNanoseconds) == [5_000, 9_000])
    }

    @Test("classic pcap refuses several interfaces, naming pcapng as the fix")
    func pcapRefusesSeveralInterfaces() throws {
        var header = CaptureFileHeader(format: .pcap, interfaceName: "wlan0", interfaceDescription: "")
        header.additionalInterfaces = [CaptureInterface(name: "wlan1", description: "")]
        let error = #expect(throws: CaptureFileHeaderError.self) { try header.makeWriter(on: MemoryCaptureOutput()) }
        #expect(error == .pcapHoldsOneInterface(interfaces: 2))
        #expect("\(error!)".contains("pcapng"))
    }

    @Test("a ring of files: every file describes every interface")
    func ringBufferFilesDescribeAllInterfaces() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-ring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let destination = try CaptureDestination(
            path: scratch.appendingPathComponent("ring.pcapng").path, format: .pcapng, precision: .micro,
            ring: RingBufferPolicy(fileSizeBytes: 1000))
        let writer = try destination.makeWriter(
            interfaceName: "wlan0", interfaceDescription: "a",
            additionalInterfaces: [CaptureInterface(name: "wlan1", description: "b")])
        let frame = Self.radiotap + [UInt8](repeating: 0x42, count: 300)
        for index in 0..<12 {
            try frame.withUnsafeBytes {
                try writer.writePacket($0, originalLength: frame.count, timestampNanoseconds: 1_000, interface: index % 2)
            }
        }
        try writer.writeStatistics(
            InterfaceStatistics(startNanoseconds: 0, endNanoseconds: 1, received: 6, osDropped: 0, delivered: 6), interface: 1)
        try writer.close()

        let paths = destination.writtenPaths
        #expect(paths.count > 1)
        var interfacesSeen: Set<Int> = []
        for path in paths {
            let file = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            #expect(file.interfaces.map(\.name) == ["wlan0", "wlan1"], "\(path)")
            interfacesSeen.formUnion(file.packets.map(\.interfaceIndex))
        }
        #expect(interfacesSeen == [0, 1])
        let last = try CaptureFile(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: paths.last!))))
        #expect(last.statistics.map(\.interfaceIndex) == [1])
    }
}
