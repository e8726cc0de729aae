// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Foundation
import Testing

/// The capture file writers, ring buffers and filter compiler on their own
/// (no kernel): what `-F`, `--time-stamp-precision`, `-b` and `-f` produce.
@Suite("capture output: formats, precision, ring buffers, filters")
struct CaptureOutputTests {
    static let frames: [[UInt8]] = [[0, 0, 8, 0, 0, 0, 0, 0, 0x80, 0], Array(0..<37), [1, 2, 3]]
    static let baseTime: UInt64 = 1_700_000_000_123_456_789

    static func write(_ header: CaptureFileHeader) throws -> [UInt8] {
        let output = MemoryCaptureOutput()
        let writer = try header.makeWriter(on: output)
        for (index, frame) in frames.enumerated() {
            try frame.withUnsafeBytes {
                try writer.writePacket($0, originalLength: frame.count + index, timestampNanoseconds: baseTime + UInt64(index) * 1001)
            }
        }
        try writer.writeStatistics(
            InterfaceStatistics(startNanoseconds: baseTime, endNanoseconds: baseTime + 5_000, received: 3, osDropped: 0, delivered: 3))
        try writer.close()
        #expect(writer.packetCount == 3)
        return output.bytes
    }

    @Test("pcapng in microseconds by default: if_tsresol 6, timestamps cut to whole microseconds")
    func pcapngMicroseconds() throws {
        let bytes = try Self.write(CaptureFileHeader(interfaceName: "wlan0", interfaceDescription: "test"))
        let file = try CaptureFile(parsing: bytes)
        #expect(file.format == .pcapng)
        #expect(file.interfaces.first?.unitsPerSecond == 1_000_000)
        #expect(file.interfaces.first?.snapLength == 262_144)
        #expect(file.packets.map(\.data) == Self.frames)
        #expect(file.packets.map(\.timestampNanoseconds) == [1_700_000_000_123_456_000, 1_700_000_000_123_457_000, 1_700_000_000_123_458_000])
        #expect(file.packets.map(\.originalLength) == [10, 38, 5])
        #expect(file.statistics.first?.delivered == 3)
    }

    @Test("pcapng in nanoseconds on request: if_tsresol 9, exact timestamps")
    func pcapngNanoseconds() throws {
        let bytes = try Self.write(CaptureFileHeader(precision: .nano, interfaceName: "wlan0", interfaceDescription: "test"))
        let file = try CaptureFile(parsing: bytes)
        #expect(file.interfaces.first?.unitsPerSecond == 1_000_000_000)
        #expect(file.packets.map(\.timestampNanoseconds) == (0..<3).map { Self.baseTime + UInt64($0) * 1001 })
    }

    @Test("classic pcap: microsecond magic by default, nanosecond magic for nano, link type 127")
    func classicPcap() throws {
        let micro = try Self.write(CaptureFileHeader(format: .pcap, interfaceName: "", interfaceDescription: ""))
        #expect(Array(micro.prefix(4)) == [0xD4, 0xC3, 0xB2, 0xA1])
        let microFile = try CaptureFile(parsing: micro)
        #expect(microFile.format == .pcap)
        #expect(microFile.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
        #expect(microFile.interfaces.first?.snapLength == 262_144)
        #expect(microFile.packets.map(\.data) == Self.frames)
        #expect(microFile.packets.last?.timestampNanoseconds == 1_700_000_000_123_458_000)
        #expect(microFile.packets.last?.originalLength == 5)
        #expect(micro.count == 24 + Self.frames.reduce(0) { $0 + 16 + $1.count }, "pcap has no statistics record")

        let nano = try Self.write(CaptureFileHeader(format: .pcap, precision: .nano, interfaceName: "", interfaceDescription: ""))
        #expect(Array(nano.prefix(4)) == [0x4D, 0x3C, 0xB2, 0xA1])
        let nanoFile = try CaptureFile(parsing: nano)
        #expect(nanoFile.interfaces.first?.unitsPerSecond == 1_000_000_000)
        #expect(nanoFile.packets.last?.timestampNanoseconds == Self.baseTime + 2002)
    }

    @Test("-b options parse as dumpcap's; bad ones name the problem")
    func ringBufferOptions() throws {
        #expect(try RingBufferPolicy(parsing: []) == nil)
        #expect(
            try RingBufferPolicy(parsing: ["filesize:100", "files:5"])
                == RingBufferPolicy(fileSizeBytes: 100_000, maxFiles: 5))
        #expect(try RingBufferPolicy(parsing: ["duration:0.5"]) == RingBufferPolicy(durationSeconds: 0.5))
        #expect(throws: RingBufferError.needsSwitchCondition) { try RingBufferPolicy(parsing: ["files:3"]) }
        #expect(throws: RingBufferError.invalidOption("filesize:0", reason: "the size must be a whole number of kB from 1 to 2000000000")) {
            try RingBufferPolicy(parsing: ["filesize:0"])
        }
        #expect(throws: RingBufferError.invalidOption("size:10", reason: "unknown key \"size\"")) {
            try RingBufferPolicy(parsing: ["size:10"])
        }
        #expect(throws: RingBufferError.self) { try RingBufferPolicy(parsing: ["duration"]) }
        #expect(throws: RingBufferError.self) { try RingBufferPolicy(parsing: ["files:100000", "filesize:1"]) }
    }

    @Test("ring file names: PREFIX_NNNNN_YYYYmmddHHMMSS.SUFFIX from the -w path")
    func ringBufferNames() {
        let naming = RingBufferNaming(basePath: "/tmp/dir.d/air.pcapng")
        #expect(naming.prefix == "/tmp/dir.d/air")
        #expect(naming.suffix == ".pcapng")
        let path = naming.path(number: 7, createdAt: 1_700_000_000)
        #expect(path.hasPrefix("/tmp/dir.d/air_00007_20231114"), "\(path)")
        #expect(path.hasSuffix(".pcapng"))
        #expect(path.count == "/tmp/dir.d/air_00007_".count + 14 + ".pcapng".count)
        let bare = RingBufferNaming(basePath: "/tmp/dir.d/capture")
        #expect(bare.prefix == "/tmp/dir.d/capture" && bare.suffix == "")
    }

    @Test("a ring of 3 files: each complete (own header), oldest removed, numbers continue")
    func ringBufferWriter() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-ring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for format in CaptureFileFormat.allCases {
            let naming = RingBufferNaming(basePath: directory.appendingPathComponent("ring-\(format).\(format)").path)
            let (first, firstPath) = try RingBufferWriter.openFirstFile(naming: naming)
            let writer = try RingBufferWriter(
                policy: RingBufferPolicy(fileSizeBytes: 1000, maxFiles: 3), naming: naming,
                header: CaptureFileHeader(format: format, interfaceName: "wlan0", interfaceDescription: "ring"),
                firstFile: first, firstPath: firstPath)
            let frame = [UInt8](repeating: 0xAB, count: 300)
            for index in 0..<40 {
                try frame.withUnsafeBytes {
                    try writer.writePacket($0, originalLength: 300, timestampNanoseconds: Self.baseTime + UInt64(index) * 1000)
                }
            }
            try writer.writeStatistics(
                InterfaceStatistics(startNanoseconds: Self.baseTime, endNanoseconds: Self.baseTime, received: 40, osDropped: 0, delivered: 40))
            try writer.close()

            let onDisk = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasPrefix("ring-\(format)_") }.sorted()
            #expect(onDisk.count == 3, "\(format): \(onDisk)")
            #expect(writer.filePaths.map { URL(fileURLWithPath: $0).lastPathComponent } == onDisk)
            #expect(writer.filesCreated > 3)
            #expect(onDisk.last?.hasPrefix("ring-\(format)_\(String(format: "%05d", writer.filesCreated))_") == true, "\(onDisk)")
            var packets = 0
            for name in onDisk {
                let file = try CaptureFile(parsing: Array(try Data(contentsOf: directory.appendingPathComponent(name))))
                #expect(file.format == (format == .pcap ? .pcap : .pcapng))
                #expect(file.interfaces.first?.linkType == LinkType.ieee80211Radiotap)
                #expect(!file.packets.isEmpty || name == onDisk.last, "\(name) holds no frames")
                packets += file.packets.count
            }
            #expect(packets < 40 && packets > 0)
            #expect(writer.packetCount == 40)
        }
    }

    @Test("capture filters compile with libpcap for radiotap; bad ones carry libpcap's reason")
    func filters() throws {
        let beacons = try #require(try CaptureFilter.compile("type mgt subtype beacon"))
        #expect(beacons.instructions.count > 2)
        #expect(beacons.instructions.last?.code == 0x06, "a BPF program ends in ret")
        #expect(!beacons.acceptsEverything)
        #expect(try CaptureFilter.compile(nil) == nil)
        #expect(try CaptureFilter.compile("  ") == nil)
        #expect(
            throws: CaptureFilterError.invalid(expression: "type mgt subtype bacon", reason: "unknown 802.11 subtype name \"bacon\"")
        ) { try CaptureFilter.compile("type mgt subtype bacon") }
        do {
            _ = try CaptureFilter.compile("type mgt and and")
            Issue.record("a syntax error compiled")
        } catch let error as CaptureFilterError {
            #expect(error.description.contains("invalid capture filter \"type mgt and and\": can't parse filter expression: syntax error"))
            #expect(error.description.contains("pcap-filter(7)"))
        }
    }
}
