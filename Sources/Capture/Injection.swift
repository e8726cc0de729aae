// SPDX-License-Identifier: GPL-2.0-only

public enum InjectionError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedLinkType(UInt16, frameNumber: Int)
    case truncatedCapture(frameNumber: Int, captured: Int, original: Int)
    case badRadiotap(frameNumber: Int, RadiotapError)
    case frameTooShort(frameNumber: Int, length: Int, needed: Int)
    case emptyFile

    public var description: String {
        switch self {
        case .unsupportedLinkType(let linkType, let frame):
            return "frame \(frame) has link type \(linkType); only 802.11 with radiotap (127) or plain 802.11 (105) "
                + "can be injected (capture with a monitor interface)"
        case .truncatedCapture(let frame, let captured, let original):
            return "frame \(frame) was cut short when captured (\(captured) of \(original) bytes); "
                + "re-capture without a snap length limit"
        case .badRadiotap(let frame, let error):
            return "frame \(frame): \(error)"
        case .frameTooShort(let frame, let length, let needed):
            return "frame \(frame): the 802.11 part has \(length) bytes, its header alone needs \(needed)"
        case .emptyFile:
            return "the capture file contains no frames to inject"
        }
    }
}

/// Frames checked and ready for a monitor interface.
public enum InjectionPreparation {
    /// Validates every frame before any is sent (a bad frame anywhere means
    /// nothing is sent). Radiotap frames pass unchanged; plain 802.11 frames
    /// get a radiotap header with `defaultOptions`.
    public static func prepare(
        _ packets: [CapturedPacket], defaultOptions: RadiotapTransmitOptions = RadiotapTransmitOptions()
    ) throws -> [[UInt8]] {
        guard !packets.isEmpty else { throw InjectionError.emptyFile }
        return try packets.enumerated().map { offset, packet in
            let number = offset + 1
            guard !packet.isTruncated else {
                throw InjectionError.truncatedCapture(frameNumber: number, captured: packet.data.count, original: packet.originalLength)
            }
            switch packet.linkType {
            case LinkType.ieee80211Radiotap:
                try validateRadiotapFrame(packet.data, frameNumber: number)
                return packet.data
            case LinkType.ieee80211:
                let frame = defaultOptions.encodedHeader + packet.data
                try validateRadiotapFrame(frame, frameNumber: number)
                return frame
            default:
                throw InjectionError.unsupportedLinkType(packet.linkType, frameNumber: number)
            }
        }
    }

    /// Checks what mac80211 checks before it transmits an injected frame
    /// (a well-formed radiotap header and a complete 802.11 header), so that
    /// bad input is reported instead of silently dropped by the kernel.
    public static func validateRadiotapFrame(_ frame: [UInt8], frameNumber: Int) throws {
        let radiotap: RadiotapHeader
        do {
            radiotap = try RadiotapHeader.parse(frame)
        } catch let error as RadiotapError {
            throw InjectionError.badRadiotap(frameNumber: frameNumber, error)
        }
        let macLength = frame.count - radiotap.length
        let fcsLength = radiotap.flags?.contains(.fcsIncluded) == true ? 4 : 0
        let needed = macLength >= 2
            ? IEEE80211Frame(Array(frame[radiotap.length...])).headerLength + fcsLength
            : IEEE80211Frame.minimumLength
        guard macLength >= max(needed, IEEE80211Frame.minimumLength) else {
            throw InjectionError.frameTooShort(frameNumber: frameNumber, length: macLength, needed: max(needed, IEEE80211Frame.minimumLength))
        }
    }
}

extension IEEE80211Frame {
    /// Length of the MAC header (ieee80211_hdrlen's rules).
    public var headerLength: Int {
        switch type {
        case .control:
            switch subtype {
            case 12, 13: return 10  // CTS, ACK
            default: return 16
            }
        case .management:
            return frameControl & 0x8000 != 0 ? 28 : 24
        case .data:
            var length = toDS && fromDS ? 30 : 24
            if subtype & 0x8 != 0 {  // QoS
                length += 2
                if frameControl & 0x8000 != 0 { length += 4 }  // HT control
            }
            return length
        case .extension_:
            return 10
        }
    }
}
