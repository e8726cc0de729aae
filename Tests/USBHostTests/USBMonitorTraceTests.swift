// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import SystemPackage
import Testing
@testable import USBHost

/// The usbmon pcap encoding, against the layout of struct mon_bin_hdr
/// (drivers/usb/mon/mon_bin.c) and what tshark makes of it.
@Suite("usbmon pcap writer")
struct USBMonitorTraceTests {
    private func littleEndian<Value: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: Value.Type) -> Value {
        bytes[offset..<(offset + MemoryLayout<Value>.size)].reversed().reduce(Value(0)) { $0 << 8 | Value($1) }
    }

    @Test("file header: magic, version 2.4, LINKTYPE_USB_LINUX_MMAPPED")
    func fileHeader() {
        let header = USBMonitorPcap.fileHeader(snapLength: 1000)
        #expect(header.count == 24)
        #expect(littleEndian(header, at: 0, as: UInt32.self) == 0xa1b2_c3d4)
        #expect(littleEndian(header, at: 4, as: UInt16.self) == 2)
        #expect(littleEndian(header, at: 6, as: UInt16.self) == 4)
        #expect(littleEndian(header, at: 16, as: UInt32.self) == 1064)
        #expect(littleEndian(header, at: 20, as: UInt32.self) == 220)
    }

    @Test("control submission: 64-byte header at mon_bin_hdr offsets, setup, no IN data")
    func controlSubmission() {
        let setup = USBSetupPacket(requestType: 0x80, request: 6, value: 0x0100, index: 0, length: 18)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 18, alignment: 8)
        defer { buffer.deallocate() }
        let request = USBRequest(
            handle: 0x1122_3344_5566_7788, port: 1, address: 0, endpoint: 0x80, type: .control,
            flags: .shortNotOK, setup: setup, buffer: buffer, length: 18)
        let event = USBMonitorEvent.make(
            for: request, completion: nil, busNumber: 1, address: 0, captureLimit: 65536,
            now: (seconds: 1_700_000_000, microseconds: 123_456))
        let header = USBMonitorPcap.monitorHeader(event)
        #expect(header.count == 64)
        #expect(littleEndian(header, at: 0, as: UInt64.self) == 0x1122_3344_5566_7788)
        #expect(header[8] == UInt8(ascii: "S"))
        #expect(header[9] == 2)  // control in usbmon numbering
        #expect(header[10] == 0x80)
        #expect(header[11] == 0)
        #expect(littleEndian(header, at: 12, as: UInt16.self) == 1)
        #expect(header[14] == 0)  // setup present
        #expect(header[15] == UInt8(ascii: "<"))  // IN data comes with the completion
        #expect(littleEndian(header, at: 16, as: Int64.self) == 1_700_000_000)
        #expect(littleEndian(header, at: 24, as: Int32.self) == 123_456)
        #expect(littleEndian(header, at: 28, as: Int32.self) == -115)  // -EINPROGRESS
        #expect(littleEndian(header, at: 32, as: UInt32.self) == 18)
        #expect(littleEndian(header, at: 36, as: UInt32.self) == 0)
        #expect(Array(header[40..<48]) == setup.bytes)
        #expect(littleEndian(header, at: 56, as: UInt32.self) == 0x201)  // SHORT_NOT_OK | DIR_IN
    }

    @Test("OUT data is captured at submission, IN data at completion")
    func dataDirection() {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: [1, 2, 3, 4] as [UInt8], byteCount: 4)
        let now: (seconds: Int64, microseconds: Int32) = (1, 2)
        let out = USBRequest(handle: 1, port: 1, address: 2, endpoint: 0x01, type: .bulk, buffer: buffer, length: 4)
        let outSubmit = USBMonitorEvent.make(for: out, completion: nil, busNumber: 1, address: 2, captureLimit: 64, now: now)
        #expect(outSubmit.data == [1, 2, 3, 4])
        #expect(outSubmit.dataFlag == 0)
        let outComplete = USBMonitorEvent.make(
            for: out, completion: .success(actualLength: 4), busNumber: 1, address: 2, captureLimit: 64, now: now)
        #expect(outComplete.data.isEmpty)
        #expect(outComplete.dataFlag == UInt8(ascii: ">"))
        #expect(outComplete.urbLength == 4)

        let inRequest = USBRequest(handle: 2, port: 1, address: 2, endpoint: 0x81, type: .bulk, buffer: buffer, length: 4)
        let inComplete = USBMonitorEvent.make(
            for: inRequest, completion: .success(actualLength: 3), busNumber: 1, address: 2, captureLimit: 64, now: now)
        #expect(inComplete.data == [1, 2, 3])
        #expect(inComplete.urbLength == 3)
        #expect(inComplete.transferType == 3)
        let stalled = USBMonitorEvent.make(
            for: inRequest, completion: .stall, busNumber: 1, address: 2, captureLimit: 64, now: now)
        #expect(stalled.status == -32)
        #expect(stalled.data.isEmpty)
        // A capture limit truncates data but not len_urb.
        let truncated = USBMonitorEvent.make(
            for: out, completion: nil, busNumber: 1, address: 2, captureLimit: 2, now: now)
        #expect(truncated.data == [1, 2])
        #expect(truncated.urbLength == 4)
    }

    @Test("a written trace decodes with tshark", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func tsharkDecodes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("usbmon-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try USBMonitorTraceWriter(path: path)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 18, alignment: 8)
        defer { buffer.deallocate() }
        let descriptor = USBDeviceDescriptor(vendorID: 0x0525, productID: 0xa4a0).bytes
        let request = USBRequest(
            handle: 7, port: 1, address: 2, endpoint: 0x80, type: .control,
            setup: USBSetupPacket(requestType: 0x80, request: 6, value: 0x0100, length: 18), buffer: buffer, length: 18)
        let now = USBMonitorPcap.now()
        writer.record(.make(for: request, completion: nil, busNumber: 1, address: 2, captureLimit: 65536, now: now))
        descriptor.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: 18) }
        writer.record(.make(for: request, completion: .success(actualLength: 18), busNumber: 1, address: 2, captureLimit: 65536, now: now))
        try writer.close()
        #expect(writer.eventCount == 2)

        let output = try runTshark(["-r", path, "-T", "fields", "-e", "usb.urb_type", "-e", "usb.setup.bRequest", "-e", "usb.idVendor", "-e", "usb.idProduct"])
        let lines = output.split(separator: "\n")
        #expect(lines.count == 2, "tshark output: \(output)")
        #expect(lines.first?.contains("'S'") == true && lines.first?.contains("6") == true, "\(output)")
        #expect(lines.last?.contains("0x0525") == true && lines.last?.contains("0xa4a0") == true, "\(output)")
    }
}

extension USBMonitorTraceTests {
    @Test("SuperSpeed ports trace on the SuperSpeed root hub's bus; tshark decodes a SuperSpeed device descriptor there",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func superSpeedBus() throws {
        #expect((1...8).allSatisfy { VirtualHostController.busNumber(ofPort: $0) == 1 })
        #expect((9...16).allSatisfy { VirtualHostController.busNumber(ofPort: $0) == 2 })
        #expect(VirtualHostController.deviceName(ofPort: 9) == "2-1" && VirtualHostController.deviceName(ofPort: 3) == "1-3")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("usbmon-ss-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try USBMonitorTraceWriter(path: path)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 18, alignment: 8)
        defer { buffer.deallocate() }
        var descriptor = USBDeviceDescriptor(vendorID: 0x0525, productID: 0xa4a0)
        descriptor.usbVersion = 0x0300
        descriptor.maxPacketSize0 = 9
        let port = VirtualHostController.portCount + 1  // connector 1's SuperSpeed port
        let request = USBRequest(
            handle: 9, port: port, address: 2, endpoint: 0x80, type: .control,
            setup: USBSetupPacket(requestType: 0x80, request: 6, value: 0x0100, length: 18), buffer: buffer, length: 18)
        let bus = VirtualHostController.busNumber(ofPort: port)
        let now = USBMonitorPcap.now()
        writer.record(.make(for: request, completion: nil, busNumber: bus, address: 2, captureLimit: 65536, now: now))
        descriptor.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: 18) }
        writer.record(.make(for: request, completion: .success(actualLength: 18), busNumber: bus, address: 2, captureLimit: 65536, now: now))
        try writer.close()

        let output = try runTshark(["-r", path, "-T", "fields", "-e", "usb.bus_id", "-e", "usb.bcdUSB", "-e", "usb.bMaxPacketSize0"])
        #expect(output.split(separator: "\n") == ["2\t\t", "2\t0x0300\t9"], "\(output)")
        #expect(try runTshark(["-r", path, "-Y", "_ws.malformed || _ws.expert"]).isEmpty)
    }
}

/// Runs tshark, returning its standard output.
func runTshark(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
