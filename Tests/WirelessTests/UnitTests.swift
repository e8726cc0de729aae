// SPDX-License-Identifier: GPL-2.0-only

import Capture
import Netlink
import Testing
import Wireless

@Suite("Netlink attribute encoding")
struct NetlinkAttributeTests {
    @Test("integers, strings and flags are length-prefixed and padded to 4 bytes")
    func encoding() throws {
        var writer = NetlinkAttributeWriter()
        writer.append(type: 3, u32: 0x0102_0304)
        writer.append(type: 4, string: "wlan0")
        writer.appendFlag(type: 174)
        writer.append(type: 9, u8: 7)
        #expect(writer.bytes[0..<8] == [8, 0, 3, 0, 4, 3, 2, 1])
        // "wlan0\0" = 6 bytes: nla_len 10, padded to 12.
        #expect(writer.bytes[8..<20] == [10, 0, 4, 0, 0x77, 0x6C, 0x61, 0x6E, 0x30, 0, 0, 0])
        #expect(writer.bytes[20..<24] == [4, 0, 174, 0])
        #expect(writer.bytes[24..<32] == [5, 0, 9, 0, 7, 0, 0, 0])
        #expect(writer.bytes.count == 32)

        let parsed = try NetlinkAttributes(parsing: writer.bytes[...])
        #expect(try parsed[3]?.u32() == 0x0102_0304)
        #expect(parsed[4]?.string == "wlan0")
        #expect(parsed[174]?.payload == [])
        #expect(try parsed[9]?.u8() == 7)
    }

    @Test("nested attributes carry NLA_F_NESTED and parse back")
    func nesting() throws {
        var writer = NetlinkAttributeWriter()
        writer.appendNested(type: 23) { nested in
            for number in MonitorFlags([.fcsFail, .otherBSS]).attributeNumbers { nested.appendFlag(type: number) }
        }
        #expect(writer.bytes[0..<4] == [12, 0, 23, 0x80])
        let outer = try NetlinkAttributes(parsing: writer.bytes[...])
        let flags = try #require(outer[23])
        #expect(flags.isNested)
        #expect(try flags.nested().map(\.type) == [1, 4])
    }

    @Test("a length that runs past the buffer is an error, not a crash")
    func malformed() {
        #expect(throws: NetlinkParseError.self) { try NetlinkAttributes(parsing: [40, 0, 1, 0, 0, 0, 0, 0][...]) }
        #expect(throws: NetlinkParseError.self) { try NetlinkAttributes(parsing: [2, 0, 1, 0][...]) }
    }

    @Test("extended ack: the kernel's message and offset are decoded")
    func extendedAck() throws {
        var tlvs = NetlinkAttributeWriter()
        tlvs.append(type: 1, string: "invalid channel")
        tlvs.append(type: 2, u32: 36)
        // error -22, then the capped request header (16 bytes), then TLVs.
        var payload: [UInt8] = [0xEA, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 16)
        payload[4] = 40
        payload += tlvs.bytes
        let message = NetlinkMessage(
            type: NetlinkMessage.typeError, flags: [.capped, .acknowledgeTLVs], sequence: 1, payload: payload)
        let reparsed = try NetlinkMessage.parse(datagram: message.encoded[...])
        #expect(reparsed == [message])
        let report = try #require(try NetlinkErrorReport.decode(message))
        #expect(report.errno == 22)
        #expect(report.message == "invalid channel")
        #expect(report.offendingOffset == 36)
        let error = NetlinkError(operation: "nl80211 SET_WIPHY", report: report)
        #expect(error.description.contains("kernel says \"invalid channel\""))
    }
}

@Suite("Radiotap parser")
struct RadiotapTests {
    @Test("fields are read at their natural alignment")
    func alignment() throws {
        // present: TSFT(0), Flags(1), Rate(2), Channel(3), dBm signal(5), MCS(19)
        let present: UInt32 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 5 | 1 << 19
        var header: [UInt8] = [0, 0, 0, 0]
        header += withUnsafeBytes(of: present.littleEndian) { Array($0) }
        header += [1, 2, 3, 4, 5, 6, 7, 8]  // TSFT at 8 (8-aligned)
        header += [0x10]  // flags: FCS included
        header += [0x6C]  // rate 54 Mb/s
        header += [0x85, 0x09, 0xA0, 0x00]  // channel 2437 at 18 (2-aligned), flags 0x00a0
        header += [0xC4]  // -60 dBm
        header += [0x07, 0x01, 0x07]  // MCS known, flags (40 MHz), index 7
        header[2] = UInt8(header.count)
        let parsed = try RadiotapHeader.parse(header + [0x80, 0x00])
        #expect(parsed.length == header.count)
        #expect(parsed.tsft == 0x0807_0605_0403_0201)
        #expect(parsed.flags == .fcsIncluded)
        #expect(parsed.rateMbps == 54)
        #expect(parsed.channelFrequency == 2437)
        #expect(parsed.channelFlags == 0x00A0)
        #expect(parsed.antennaSignalDBm == -60)
        #expect(parsed.mcs?.index == 7)
        #expect(parsed.mcs?.bandwidthMHz == 40)
        #expect(parsed.rateDescription == "MCS 7 40MHz")
    }

    @Test("padding before a 2-byte field after an odd offset")
    func oddPadding() throws {
        // Flags (1 byte at 8), then Channel must start at 10.
        let header: [UInt8] = [0, 0, 14, 0, 0x0A, 0, 0, 0, 0x00, 0xFF, 0x6C, 0x09, 0x00, 0x00]
        let parsed = try RadiotapHeader.parse(header)
        #expect(parsed.channelFrequency == 2412)
    }

    @Test("extended present bitmaps and vendor namespaces are walked")
    func extendedBitmaps() throws {
        // word0: Flags + ext + vendor NS; word1 (vendor NS): one field + back to radiotap (29) + ext; word2: Rate.
        let word0: UInt32 = 1 << 1 | 1 << 30 | 1 << 31
        let word1: UInt32 = 1 << 0 | 1 << 29 | 1 << 31
        let word2: UInt32 = 1 << 2
        var header: [UInt8] = [0, 0, 0, 0]
        for word in [word0, word1, word2] { header += withUnsafeBytes(of: word.littleEndian) { Array($0) } }
        header += [0x02]  // Flags at 16
        header += [0x00]  // pad to 2 for the vendor header
        header += [0x00, 0x11, 0x22, 0x01, 0x03, 0x00]  // OUI, sub-namespace, skip_length 3
        header += [0xAA, 0xBB, 0xCC]  // vendor data
        header += [0x0C]  // Rate: 6 Mb/s
        header[2] = UInt8(header.count)
        let parsed = try RadiotapHeader.parse(header)
        #expect(parsed.presentWords.count == 3)
        #expect(parsed.flags == .shortPreamble)
        #expect(parsed.rate == 12)
    }

    @Test("bad headers are rejected with the reason")
    func rejects() {
        #expect(throws: RadiotapError.tooShort(4)) { try RadiotapHeader.parse([0, 0, 8, 0]) }
        #expect(throws: RadiotapError.unsupportedVersion(0x80)) { try RadiotapHeader.parse([0x80, 0, 8, 0, 0, 0, 0, 0]) }
        #expect(throws: RadiotapError.lengthOutOfRange(declared: 40, available: 8)) {
            try RadiotapHeader.parse([0, 0, 40, 0, 0, 0, 0, 0])
        }
        #expect(throws: RadiotapError.fieldOverrun(field: 3)) { try RadiotapHeader.parse([0, 0, 9, 0, 8, 0, 0, 0, 0]) }
    }

    @Test("transmit options encode what mac80211 parses")
    func transmitHeader() throws {
        let options = RadiotapTransmitOptions(
            flags: [], rate: 12, txFlags: RadiotapTransmitOptions.txFlagNoAck,
            mcs: RadiotapMCS(known: RadiotapMCS.knownIndex, flags: 0, index: 5))
        let parsed = try RadiotapHeader.parse(options.encodedHeader)
        #expect(parsed.length == options.encodedHeader.count)
        #expect(parsed.rate == 12)
        #expect(parsed.txFlags == RadiotapTransmitOptions.txFlagNoAck)
        #expect(parsed.mcs?.index == 5)
    }
}

@Suite("pcapng writer and reader")
struct PcapNGTests {
    @Test("a written file reads back: interface, nanosecond timestamps, packets, statistics")
    func roundTrip() throws {
        let output = MemoryCaptureOutput()
        let writer = try PcapNGWriter(output: output, interfaceName: "wlan0", interfaceDescription: "test radio")
        let frames: [[UInt8]] = [[0, 0, 8, 0, 0, 0, 0, 0, 0x80, 0], Array(0..<37), [1]]
        for (index, frame) in frames.enumerated() {
            try writer.writePacket(frame, timestampNanoseconds: 1_700_000_000_123_456_789 + UInt64(index))
        }
        try writer.writeStatistics(
            InterfaceStatistics(startNanoseconds: 1, endNanoseconds: 2, received: 5, osDropped: 2, delivered: 3))
        try writer.close()
        #expect(output.bytes.count % 4 == 0)

        let file = try CaptureFile(parsing: output.bytes)
        #expect(file.format == .pcapng)
        #expect(file.userApplication == "airtap")
        #expect(file.interfaces.count == 1)
        #expect(file.interfaces[0].linkType == LinkType.ieee80211Radiotap)
        #expect(file.interfaces[0].name == "wlan0")
        #expect(file.interfaces[0].description == "test radio")
        #expect(file.interfaces[0].unitsPerSecond == 1_000_000_000)
        #expect(file.packets.map(\.data) == frames)
        #expect(file.packets[2].timestampNanoseconds == 1_700_000_000_123_456_791)
        #expect(
            file.statistics == [
                CapturedStatistics(interfaceIndex: 0, received: 5, osDropped: 2, delivered: 3, endNanoseconds: 2)
            ])
    }

    @Test("a file cut short is reported as truncated")
    func truncated() throws {
        let output = MemoryCaptureOutput()
        let writer = try PcapNGWriter(output: output, interfaceName: "wlan0", interfaceDescription: "")
        try writer.writePacket([UInt8](repeating: 7, count: 100), timestampNanoseconds: 0)
        try writer.close()
        #expect(throws: CaptureFileError.self) { try CaptureFile(parsing: Array(output.bytes.dropLast(10))) }
    }

    @Test("classic pcap (big-endian, microseconds) is read too")
    func classicPcap() throws {
        var bytes: [UInt8] = [0xA1, 0xB2, 0xC3, 0xD4, 0, 2, 0, 4] + [UInt8](repeating: 0, count: 8)
        bytes += [0, 0, 0xFF, 0xFF, 0, 0, 0, 127]  // snaplen, linktype 127
        bytes += [0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 9, 8, 7]
        let file = try CaptureFile(parsing: bytes)
        #expect(file.format == .pcap)
        #expect(file.packets.first?.data == [9, 8, 7])
        #expect(file.packets.first?.linkType == 127)
        #expect(file.packets.first?.timestampNanoseconds == 2_000_003_000)
    }
}

@Suite("Injection checks and channel parsing")
struct InjectionCheckTests {
    @Test("truncated, non-radiotap and too-short frames are refused")
    func refusals() {
        let good = RadiotapTransmitOptions().encodedHeader + FrameBuilder.data(totalLength: 60, sequence: 1, marker: 1)
        func packet(_ data: [UInt8], linkType: UInt16 = LinkType.ieee80211Radiotap, original: Int? = nil) -> CapturedPacket {
            CapturedPacket(interfaceIndex: 0, linkType: linkType, data: data, originalLength: original ?? data.count, timestampNanoseconds: 0)
        }
        #expect(throws: Never.self) { try InjectionPreparation.prepare([packet(good)]) }
        #expect(throws: InjectionError.truncatedCapture(frameNumber: 2, captured: good.count, original: 500)) {
            try InjectionPreparation.prepare([packet(good), packet(good, original: 500)])
        }
        #expect(throws: InjectionError.self) { try InjectionPreparation.prepare([packet([0x45] + good)]) }
        #expect(throws: InjectionError.unsupportedLinkType(1, frameNumber: 1)) {
            try InjectionPreparation.prepare([packet(good, linkType: LinkType.ethernet)])
        }
        #expect(throws: InjectionError.self) { try InjectionPreparation.prepare([packet(Array(good.prefix(20)))]) }
    }

    @Test("channel syntax: numbers, frequencies, widths")
    func channels() throws {
        #expect(try ChannelSpec(parsing: "6") == ChannelSpec(frequency: 2437))
        #expect(try ChannelSpec(parsing: "14").frequency == 2484)
        #expect(try ChannelSpec(parsing: "36:80").centerFrequency1 == 5210)
        #expect(try ChannelSpec(parsing: "6:ht40+").centerFrequency1 == 2447)
        #expect(try ChannelSpec(parsing: "2462:ht40-").centerFrequency1 == 2452)
        #expect(throws: WirelessError.self) { try ChannelSpec(parsing: "six") }
        #expect(throws: WirelessError.self) { try ChannelSpec(parsing: "6:ht80") }
    }
}
