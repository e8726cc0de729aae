// SPDX-License-Identifier: GPL-2.0-only

import Testing
import USBDevices
@testable import USBHost

/// Descriptor builders and gadget zero's control-request answers, without
/// the kernel (control requests are answered inside submit).
@Suite("descriptors and gadget zero")
struct GadgetZeroTests {
    /// Submits one control request with a fresh buffer; returns the outcome and the data.
    private func control(_ gadget: GadgetZero, _ setup: USBSetupPacket, out: [UInt8] = []) -> (USBSubmitResult, [UInt8]) {
        let length = max(Int(setup.length), out.count)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0xa5, count: max(length, 1))
        out.withUnsafeBytes { if !out.isEmpty { buffer.copyMemory(from: $0.baseAddress!, byteCount: out.count) } }
        let request = USBRequest(
            handle: 1, port: 1, address: 2, endpoint: setup.isDeviceToHost ? 0x80 : 0x00, type: .control,
            setup: setup, buffer: length == 0 ? nil : buffer, length: length)
        let result = gadget.submit(request)
        var data: [UInt8] = []
        if case .completed(let completion) = result, setup.isDeviceToHost {
            data = Array(UnsafeRawBufferPointer(start: buffer, count: completion.actualLength))
        }
        return (result, data)
    }

    private func getDescriptor(_ type: UInt8, _ index: UInt8 = 0, length: UInt16 = 255) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x80, request: 6, value: UInt16(type) << 8 | UInt16(index), length: length)
    }

    @Test("device descriptor: 18 bytes, 0525:a4a0, two configurations")
    func deviceDescriptor() {
        let gadget = GadgetZero()
        defer { gadget.stop() }
        let (result, data) = control(gadget, getDescriptor(1, length: 18))
        #expect(result == .completed(.success(actualLength: 18)))
        #expect(data == [18, 1, 0x00, 0x02, 0xff, 0, 0, 64, 0x25, 0x05, 0xa0, 0xa4, 0x12, 0x06, 1, 2, 3, 2])
    }

    @Test("configuration descriptors: wTotalLength is the real length; short reads truncate")
    func configurationDescriptors() {
        let gadget = GadgetZero()
        defer { gadget.stop() }
        for (index, value) in [(0, 3), (1, 2)] {
            let (_, data) = control(gadget, getDescriptor(2, UInt8(index)))
            #expect(data.count >= 9)
            #expect(Int(data[2]) | Int(data[3]) << 8 == data.count)
            #expect(data[5] == UInt8(value))
            #expect(data[7] & 0x1f == 0 && data[7] & 0x80 != 0)
        }
        let (_, header) = control(gadget, getDescriptor(2, 0, length: 9))
        #expect(header.count == 9)
        // Source/sink: interface 0 alt 0 has bulk 0x81/0x01 and interrupt 0x82/0x02.
        let (_, full) = control(gadget, getDescriptor(2, 0))
        let endpoints = stride(from: 0, to: full.count - 1, by: 1).filter { full[$0] == 7 && full[$0 + 1] == 5 }
            .map { (full[$0 + 2], full[$0 + 3]) }
        #expect(endpoints.prefix(4).map(\.0) == [0x81, 0x01, 0x82, 0x02])
        #expect(endpoints.prefix(4).map(\.1) == [2, 2, 3, 3])
        let (_, otherSpeed) = control(gadget, getDescriptor(7, 0))
        #expect(otherSpeed[1] == 7)
        #expect(Int(otherSpeed[2]) | Int(otherSpeed[3]) << 8 == otherSpeed.count)
    }

    @Test("requests usbtest expects to stall do stall")
    func stalls() {
        let gadget = GadgetZero()
        defer { gadget.stop() }
        for type: UInt8 in [4, 5, 15] {  // interface, endpoint, BOS
            #expect(control(gadget, getDescriptor(type, length: 9)).0 == .completed(.stall))
        }
        #expect(control(gadget, getDescriptor(2, 2)).0 == .completed(.stall))  // no third configuration
        #expect(control(gadget, USBSetupPacket(requestType: 0x80, request: 0x42, length: 2)).0 == .completed(.stall))
    }

    @Test("SuperSpeed: bcdUSB 3.00, EP0 2^9, 1024-byte endpoints each followed by its companion")
    func superSpeedDescriptors() {
        let gadget = GadgetZero(options: .init(speed: .super, bulkMaxBurst: 3))
        defer { gadget.stop() }
        #expect(gadget.speed == .super)
        let (_, device) = control(gadget, getDescriptor(1, length: 18))
        #expect(device == [18, 1, 0x00, 0x03, 0xff, 0, 0, 9, 0x25, 0x05, 0xa0, 0xa4, 0x12, 0x06, 1, 2, 3, 2])

        let (_, sourceSink) = control(gadget, getDescriptor(2, 0, length: 1024))
        #expect(Int(sourceSink[2]) | Int(sourceSink[3]) << 8 == sourceSink.count)
        // Walk it: every endpoint (type 5) is followed at once by a companion (type 0x30).
        var offset = 0
        var pairs: [(endpoint: [UInt8], companion: [UInt8])] = []
        while offset + 1 < sourceSink.count {
            let length = Int(sourceSink[offset])
            if sourceSink[offset + 1] == 5 {
                let next = offset + length
                #expect(sourceSink[next + 1] == 0x30, "endpoint at \(offset) without its companion")
                pairs.append((Array(sourceSink[offset..<next]), Array(sourceSink[next..<(next + 6)])))
            }
            offset += length
        }
        #expect(pairs.map { $0.endpoint[2] } == [0x81, 0x01, 0x82, 0x02, 0x81, 0x01, 0x83, 0x03])
        for pair in pairs {
            #expect(Int(pair.endpoint[4]) | Int(pair.endpoint[5]) << 8 == 1024)
            let type = pair.endpoint[3] & 3
            // Bulk: bMaxBurst as configured, no bytes per interval; periodic: one 1024-byte packet.
            #expect(pair.companion == (type == 2 ? [6, 0x30, 3, 0, 0, 0] : [6, 0x30, 0, 0, 0x00, 0x04]))
        }
        let (_, loopback) = control(gadget, getDescriptor(2, 1, length: 1024))
        #expect(loopback.count == 9 + 9 + 2 * (7 + 6))
    }

    @Test("SuperSpeed: BOS with the USB 2.0 extension and SuperSpeed capability; no qualifier or other-speed")
    func superSpeedBOS() {
        let gadget = GadgetZero(options: .init(speed: .super))
        defer { gadget.stop() }
        let (header, five) = control(gadget, getDescriptor(15, length: 5))
        #expect(header == .completed(.success(actualLength: 5)))
        #expect(five == [5, 15, 22, 0, 2])
        let (_, bos) = control(gadget, getDescriptor(15, length: 22))
        #expect(bos == [5, 15, 22, 0, 2, 7, 16, 2, 0x06, 0, 0, 0, 10, 16, 3, 0, 0x0f, 0, 1, 0x01, 0xf4, 0x01])
        #expect(control(gadget, getDescriptor(6, length: 10)).0 == .completed(.stall))
        #expect(control(gadget, getDescriptor(7, length: 9)).0 == .completed(.stall))
        // What the hub driver sends a SuperSpeed device: SET_ISOCH_DELAY, SET_SEL, U1/U2 enables.
        #expect(control(gadget, USBSetupPacket(requestType: 0, request: 49, value: 40)).0 == .completed(.success(actualLength: 0)))
        #expect(control(gadget, USBSetupPacket(requestType: 0, request: 48, length: 6), out: [1, 2, 3, 0, 4, 0]).0
            == .completed(.success(actualLength: 6)))
        #expect(control(gadget, USBSetupPacket(requestType: 0, request: 3, value: 48)).0 == .completed(.success(actualLength: 0)))
        // A high-speed gadget zero knows none of them.
        let high = GadgetZero()
        defer { high.stop() }
        #expect(control(high, USBSetupPacket(requestType: 0, request: 49, value: 40)).0 == .completed(.stall))
    }

    @Test("strings: language list and UTF-16LE text")
    func strings() {
        #expect(USBStringDescriptor.languages() == [4, 3, 0x09, 0x04])
        #expect(USBStringDescriptor.text("Hi") == [6, 3, 0x48, 0, 0x69, 0])
        let gadget = GadgetZero()
        defer { gadget.stop() }
        let (_, product) = control(gadget, getDescriptor(3, 2))
        #expect(product == USBStringDescriptor.text("Gadget Zero"))
    }

    @Test("vendor requests 0x5b/0x5c store and return data")
    func vendorRoundTrip() {
        let gadget = GadgetZero()
        defer { gadget.stop() }
        let payload = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        let (written, _) = control(gadget, USBSetupPacket(requestType: 0x40, request: 0x5b, length: 100), out: payload)
        #expect(written == .completed(.success(actualLength: 100)))
        let (_, read) = control(gadget, USBSetupPacket(requestType: 0xc0, request: 0x5c, length: 100))
        #expect(read == payload)
        // f_sourcesink refuses nonzero wValue/wIndex and more than its 4 KiB buffer.
        #expect(control(gadget, USBSetupPacket(requestType: 0x40, request: 0x5b, value: 1, length: 1), out: [0]).0 == .completed(.stall))
        #expect(control(gadget, USBSetupPacket(requestType: 0xc0, request: 0x5c, length: 4097)).0 == .completed(.stall))
    }

    @Test("endpoint halt: GET_STATUS reports it, bulk I/O stalls, CLEAR_FEATURE clears it")
    func endpointHalt() {
        let gadget = GadgetZero()
        defer { gadget.stop() }
        #expect(control(gadget, USBSetupPacket(requestType: 0x00, request: 9, value: 3)).0 == .completed(.success(actualLength: 0)))
        #expect(gadget.configurationValue == 3)
        #expect(control(gadget, USBSetupPacket(requestType: 0x02, request: 3, value: 0, index: 0x81)).0 == .completed(.success(actualLength: 0)))
        #expect(control(gadget, USBSetupPacket(requestType: 0x82, request: 0, index: 0x81, length: 2)).1 == [1, 0])
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 8)
        defer { buffer.deallocate() }
        let bulkIn = USBRequest(handle: 9, port: 1, address: 2, endpoint: 0x81, type: .bulk, buffer: buffer, length: 512)
        #expect(gadget.submit(bulkIn) == .completed(.stall))
        #expect(control(gadget, USBSetupPacket(requestType: 0x02, request: 1, value: 0, index: 0x81)).0 == .completed(.success(actualLength: 0)))
        #expect(control(gadget, USBSetupPacket(requestType: 0x82, request: 0, index: 0x81, length: 2)).1 == [0, 0])
        // Unknown endpoints stall.
        #expect(control(gadget, USBSetupPacket(requestType: 0x82, request: 0, index: 0x85, length: 2)).0 == .completed(.stall))
    }

    @Test("interfaces and configurations: GET/SET_INTERFACE and GET_CONFIGURATION")
    func interfaces() {
        let gadget = GadgetZero()
        defer { gadget.stop() }
        // Unconfigured: interface requests stall.
        #expect(control(gadget, USBSetupPacket(requestType: 0x81, request: 10, length: 1)).0 == .completed(.stall))
        _ = control(gadget, USBSetupPacket(requestType: 0x00, request: 9, value: 3))
        #expect(control(gadget, USBSetupPacket(requestType: 0x80, request: 8, length: 1)).1 == [3])
        #expect(control(gadget, USBSetupPacket(requestType: 0x01, request: 11, value: 1)).0 == .completed(.success(actualLength: 0)))
        #expect(control(gadget, USBSetupPacket(requestType: 0x81, request: 10, length: 1)).1 == [1])
        #expect(control(gadget, USBSetupPacket(requestType: 0x01, request: 11, value: 2)).0 == .completed(.stall))
        #expect(control(gadget, USBSetupPacket(requestType: 0x00, request: 9, value: 7)).0 == .completed(.stall))
    }

    @Test("setup packet round trip")
    func setupPacket() {
        let setup = USBSetupPacket(requestType: 0xc0, request: 0x5c, value: 0x1234, index: 0xabcd, length: 0x0102)
        #expect(setup.bytes == [0xc0, 0x5c, 0x34, 0x12, 0xcd, 0xab, 0x02, 0x01])
        #expect(USBSetupPacket(bytes: setup.bytes) == setup)
        #expect(USBSetupPacket(requestType: 0, request: 5, value: 2).isSetAddress)
    }
}

@Suite("bridge bookkeeping")
struct RecentHandlesTests {
    @Test("recently completed handles are remembered up to capacity, oldest forgotten first")
    func boundedMemory() {
        var recent = RecentHandles(capacity: 3)
        for handle: UInt64 in 1...3 { recent.insert(handle) }
        #expect(recent.contains(1) && recent.contains(3))
        recent.insert(4)
        #expect(!recent.contains(1))
        #expect(recent.contains(2) && recent.contains(4))
        #expect(recent.contains(0) == false)
        // Kernel handles never repeat (slot generation << 32 | index); a
        // repeat is not searched for on this per-URB path, it takes a slot.
        recent.insert(4)
        #expect(recent.contains(3) && recent.contains(4) && !recent.contains(2))
        #expect(!RecentHandles(capacity: 2).contains(.max), "the empty mark is never reported as a handle")
    }
}
