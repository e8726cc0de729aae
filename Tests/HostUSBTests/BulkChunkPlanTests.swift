// SPDX-License-Identifier: GPL-2.0-only

import Testing

@testable import HostUSB

@Suite("bulk requests split under a transfer size cap")
struct BulkChunkPlanTests {
    typealias Chunk = BulkChunkPlan.Chunk

    @Test("no cap, or a request within it: one transfer")
    func single() {
        #expect(BulkChunkPlan.chunks(totalLength: 65536, maximum: nil, maxPacketSize: 512, zeroPacket: false)
            == [Chunk(offset: 0, length: 65536, zeroPacket: false)])
        #expect(BulkChunkPlan.chunks(totalLength: 16384, maximum: 16384, maxPacketSize: 512, zeroPacket: true)
            == [Chunk(offset: 0, length: 16384, zeroPacket: true)])
        #expect(BulkChunkPlan.chunks(totalLength: 0, maximum: 16384, maxPacketSize: 512, zeroPacket: true)
            == [Chunk(offset: 0, length: 0, zeroPacket: true)])
        #expect(!BulkChunkPlan(totalLength: 100, maximum: 16384, maxPacketSize: 512, zeroPacket: false).isChunked)
    }

    @Test("consecutive chunks of the cap, in order, the zero packet only on the last")
    func chunks() {
        let chunks = BulkChunkPlan.chunks(totalLength: 40000, maximum: 16384, maxPacketSize: 512, zeroPacket: true)
        #expect(chunks == [
            Chunk(offset: 0, length: 16384, zeroPacket: false),
            Chunk(offset: 16384, length: 16384, zeroPacket: false),
            Chunk(offset: 32768, length: 7232, zeroPacket: true),
        ])
        #expect(BulkChunkPlan(totalLength: 40000, maximum: 16384, maxPacketSize: 512, zeroPacket: false).isChunked)
    }

    @Test("the cap is rounded down to whole packets, and is at least one packet")
    func packetRounding() {
        let chunks = BulkChunkPlan.chunks(totalLength: 5000, maximum: 2000, maxPacketSize: 512, zeroPacket: false)
        #expect(chunks.map(\.length) == [1536, 1536, 1536, 392])
        let superSpeed = BulkChunkPlan.chunks(totalLength: 4096, maximum: 1536, maxPacketSize: 1024, zeroPacket: false)
        #expect(superSpeed.map(\.length) == [1024, 1024, 1024, 1024])
        let tiny = BulkChunkPlan.chunks(totalLength: 1024, maximum: 100, maxPacketSize: 512, zeroPacket: false)
        #expect(tiny.map(\.length) == [512, 512])
    }

    @Test("a short IN chunk ends the request with what arrived so far")
    func shortChunk() {
        var plan = BulkChunkPlan(totalLength: 40000, maximum: 16384, maxPacketSize: 512, zeroPacket: false)
        #expect(plan.current == Chunk(offset: 0, length: 16384, zeroPacket: false))
        #expect(plan.advance(actualLength: 16384) == Chunk(offset: 16384, length: 16384, zeroPacket: false))
        #expect(plan.advance(actualLength: 1000) == nil)
        #expect(plan.transferred == 17384)
    }

    @Test("every chunk full: done after the last, with the total")
    func fullRun() {
        var plan = BulkChunkPlan(totalLength: 32768, maximum: 16384, maxPacketSize: 512, zeroPacket: false)
        #expect(plan.advance(actualLength: 16384) != nil)
        #expect(plan.advance(actualLength: 16384) == nil)
        #expect(plan.transferred == 32768)
    }

    @Test("a device reporting more than a chunk counts only the chunk")
    func overlongReport() {
        var plan = BulkChunkPlan(totalLength: 1024, maximum: 512, maxPacketSize: 512, zeroPacket: false)
        _ = plan.advance(actualLength: 4096)
        #expect(plan.transferred == 512)
    }
}
