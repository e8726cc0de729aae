// SPDX-License-Identifier: GPL-2.0-only

/// Splits one bulk request into consecutive libusb transfers of at most a
/// cap, on the same buffer, for hosts that cannot do large transfers (some
/// Android host stacks never complete bulk IN reads above 16 KiB).
///
/// Chunks are whole packets: a chunk that ended mid-packet would make the
/// device's next full packet overflow an IN transfer, or look like the end
/// of an OUT transfer to the device. A short IN chunk ends the request,
/// exactly as a short packet ends one big transfer.
struct BulkChunkPlan: Sendable, Equatable {
    struct Chunk: Sendable, Equatable {
        var offset: Int
        var length: Int
        /// End this chunk with a zero-length packet (only ever the last one).
        var zeroPacket: Bool
    }

    let totalLength: Int
    /// Bytes per chunk; the whole request when there is no cap.
    let chunkLength: Int
    let zeroPacket: Bool
    private(set) var current: Chunk
    /// Bytes done by the chunks before `current`.
    private(set) var transferred = 0

    /// - Parameters:
    ///   - maximum: the cap, or nil for one transfer.
    ///   - maxPacketSize: the endpoint's real packet size; the chunk is the
    ///     cap rounded down to whole packets, and at least one packet.
    ///   - zeroPacket: URB_ZERO_PACKET on an OUT request.
    init(totalLength: Int, maximum: Int?, maxPacketSize: Int, zeroPacket: Bool) {
        self.totalLength = max(0, totalLength)
        self.zeroPacket = zeroPacket
        if let maximum, self.totalLength > maximum {
            let packet = max(1, maxPacketSize)
            chunkLength = max(packet, maximum / packet * packet)
        } else {
            chunkLength = max(1, self.totalLength)
        }
        current = Chunk(offset: 0, length: 0, zeroPacket: false)
        current = chunk(at: 0)
    }

    /// More than one transfer may be needed.
    var isChunked: Bool { chunkLength < totalLength }

    /// Records how many bytes `current` moved; returns the next chunk, or
    /// nil when the request is done (all of it, or a short chunk).
    mutating func advance(actualLength: Int) -> Chunk? {
        let moved = max(0, min(actualLength, current.length))
        transferred += moved
        guard moved == current.length, transferred < totalLength else { return nil }
        current = chunk(at: transferred)
        return current
    }

    private func chunk(at offset: Int) -> Chunk {
        let length = min(chunkLength, totalLength - offset)
        return Chunk(offset: offset, length: length, zeroPacket: zeroPacket && offset + length == totalLength)
    }

    /// Every chunk of a request that moves all its bytes, in order.
    static func chunks(totalLength: Int, maximum: Int?, maxPacketSize: Int, zeroPacket: Bool) -> [Chunk] {
        var plan = BulkChunkPlan(
            totalLength: totalLength, maximum: maximum, maxPacketSize: maxPacketSize, zeroPacket: zeroPacket)
        var result = [plan.current]
        while let next = plan.advance(actualLength: plan.current.length) { result.append(next) }
        return result
    }
}
