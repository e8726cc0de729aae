// SPDX-License-Identifier: GPL-2.0-only

import Testing
import USBHost

@testable import USBFuzzing

@Suite("Fuzz input formats")
struct FuzzInputTests {
    @Test("receive records survive encode and decode, every ending")
    func receiveRoundTrip() {
        let records: [ReceiveCompletionRecord] = [
            .init(data: [1, 2, 3]), .init(ending: .deliveredOutOfOrder, data: []),
            .init(ending: .overlong, data: [9]), .init(ending: .deliveredUnpadded, data: [7]), .init(ending: .failed(USBErrno.stall), data: [4, 5]),
        ]
        #expect(ReceiveCompletionRecord.decode(ReceiveCompletionRecord.encode(records)) == records)
    }

    @Test("any bytes decode, truncated lengths read what is there")
    func truncatedInput() {
        let records = ReceiveCompletionRecord.decode([0x00, 0x10, 0x00, 0xAA, 0xBB])
        #expect(records == [.init(data: [0xAA, 0xBB])])
        #expect(ReceiveCompletionRecord.decode([]).isEmpty)
        #expect(ReceiveCompletionRecord.decode([UInt8](repeating: 0, count: 100)).count == ReceiveCompletionRecord.maximumPerInput)
    }

    @Test("enumeration scripts survive encode and decode")
    func enumerationRoundTrip() {
        for (name, bytes) in EnumerationSeeds.all() {
            let script = EnumerationScript(decoding: bytes)
            #expect(script.encoded == bytes, "seed \(name)")
        }
        var script = EnumerationScript()
        script.speed = .super
        script.unplugAfterMilliseconds = 40
        script.faults = [0: .late(milliseconds: 5), 7: .disconnectDuring, 9: .error(USBErrno.timedOut)]
        #expect(EnumerationScript(decoding: script.encoded) == script)
    }

    @Test("the stale-data canary is found in any phase, not in model data")
    func canary() {
        var buffer = [UInt8](repeating: 0, count: 64)
        buffer.withUnsafeMutableBytes { StaleDataCanary.fill($0, from: 13) }
        #expect(StaleDataCanary.occurs(in: Array(buffer[20..<40])))
        #expect(!StaleDataCanary.occurs(in: Array(buffer[0..<18])))
        #expect(!StaleDataCanary.occurs(in: [UInt8](0...255)))
    }
}
