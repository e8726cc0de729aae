// SPDX-License-Identifier: GPL-2.0-only

import SystemPackage
import USBHost

/// What a fuzzed device answers during enumeration, decoded from an input.
///
/// Wire format: byte 0 picks the speed (bits 0-1: high, full, low, super)
/// and, with bit 7 set, byte 1 is an unplug time in 4 ms units after the
/// plug. Then `FuzzRecord`s:
///
/// | kind | data |
/// |------|------|
/// | 0x01 | device descriptor (any bytes: the answer to GET_DESCRIPTOR(DEVICE)) |
/// | 0x02 | data[0] configuration index, then the configuration's bytes |
/// | 0x03 | data[0] string index, then the string descriptor's bytes |
/// | 0x06 | device qualifier |
/// | 0x07 | data[0] index, then an other-speed configuration |
/// | 0x0F | BOS |
/// | 0x10 | faults: (request number, action, parameter) triples, `Fault` |
/// | 0x11 | answers to every other control IN request (vendor, class, GET_STATUS), consumed in order |
/// | 0x12 | answers to bulk and interrupt IN URBs, consumed in order |
///
/// Descriptors not given stall; other kinds are ignored.
public struct EnumerationScript: Sendable, Equatable {
    public var speed: USBSpeed = .high
    /// Unplug this long after plugging in (nil: when the kernel settles).
    public var unplugAfterMilliseconds: Int?
    public var device: [UInt8]?
    public var configurations: [UInt8: [UInt8]] = [:]
    public var strings: [UInt8: [UInt8]] = [:]
    public var qualifier: [UInt8]?
    public var otherSpeedConfigurations: [UInt8: [UInt8]] = [:]
    public var bos: [UInt8]?
    /// Keyed by the control request's number (0 = the first the device sees).
    public var faults: [Int: Fault] = [:]
    public var controlAnswers: [UInt8] = []
    public var endpointAnswers: [UInt8] = []

    public init() {}

    /// What happens to one control request instead of its normal answer.
    public enum Fault: Sendable, Equatable {
        case stall
        /// The normal answer cut to `bytes`.
        case short(bytes: Int)
        case error(Errno)
        /// The normal answer, completed `milliseconds` later from another thread.
        case late(milliseconds: Int)
        /// The normal answer, then the device is unplugged.
        case disconnectAfter
        /// More bytes claimed than the buffer has: the bridge refuses it (-EOVERFLOW).
        case overlong
        /// Success with no data.
        case empty
        /// Unplugged while this request is still pending.
        case disconnectDuring

        static let errnos: [Errno] = [
            USBErrno.protocolError, USBErrno.timedOut, USBErrno.overflow, Errno(rawValue: 84) /* EILSEQ */,
            USBErrno.shutdown, USBErrno.noDevice, USBErrno.connectionReset, Errno(rawValue: 62) /* ETIME */,
        ]

        init(action: UInt8, parameter: UInt8) {
            switch action % 8 {
            case 0: self = .stall
            case 1: self = .short(bytes: Int(parameter))
            case 2: self = .error(Self.errnos[Int(parameter) % Self.errnos.count])
            case 3: self = .late(milliseconds: Int(parameter) % 64)
            case 4: self = .disconnectAfter
            case 5: self = .overlong
            case 6: self = .empty
            default: self = .disconnectDuring
            }
        }

        var encoded: (action: UInt8, parameter: UInt8) {
            switch self {
            case .stall: return (0, 0)
            case .short(let bytes): return (1, UInt8(clamping: bytes))
            case .error(let errno): return (2, UInt8(Self.errnos.firstIndex(of: errno) ?? 0))
            case .late(let milliseconds): return (3, UInt8(clamping: milliseconds))
            case .disconnectAfter: return (4, 0)
            case .overlong: return (5, 0)
            case .empty: return (6, 0)
            case .disconnectDuring: return (7, 0)
            }
        }
    }

    static let speeds: [USBSpeed] = [.high, .full, .low, .super]

    public init<Bytes: Collection<UInt8>>(decoding bytes: Bytes) {
        var reader = FuzzInputReader(bytes)
        let header = reader.byte() ?? 0
        speed = Self.speeds[Int(header & 3)]
        if header & 0x80 != 0 { unplugAfterMilliseconds = Int(reader.byte() ?? 0) * 4 }
        for record in FuzzRecord.decodeAll(&reader, limit: 64) {
            let data = record.data
            switch record.kind {
            case 0x01: device = data
            case 0x02: if let index = data.first { configurations[index] = Array(data.dropFirst()) }
            case 0x03: if let index = data.first { strings[index] = Array(data.dropFirst()) }
            case 0x06: qualifier = data
            case 0x07: if let index = data.first { otherSpeedConfigurations[index] = Array(data.dropFirst()) }
            case 0x0F: bos = data
            case 0x10:
                for start in stride(from: 0, to: data.count - 2, by: 3) {
                    faults[Int(data[start])] = Fault(action: data[start + 1], parameter: data[start + 2])
                }
            case 0x11: controlAnswers += data
            case 0x12: endpointAnswers += data
            default: break
            }
        }
    }

    public var encoded: [UInt8] {
        var header = UInt8(Self.speeds.firstIndex(of: speed) ?? 0)
        var bytes: [UInt8] = []
        if let unplugAfterMilliseconds {
            header |= 0x80
            bytes.append(UInt8(clamping: unplugAfterMilliseconds / 4))
        }
        var records: [FuzzRecord] = []
        if let device { records.append(FuzzRecord(kind: 0x01, data: device)) }
        for (index, bytes) in configurations.sorted(by: { $0.key < $1.key }) { records.append(FuzzRecord(kind: 0x02, data: [index] + bytes)) }
        for (index, bytes) in strings.sorted(by: { $0.key < $1.key }) { records.append(FuzzRecord(kind: 0x03, data: [index] + bytes)) }
        if let qualifier { records.append(FuzzRecord(kind: 0x06, data: qualifier)) }
        for (index, bytes) in otherSpeedConfigurations.sorted(by: { $0.key < $1.key }) {
            records.append(FuzzRecord(kind: 0x07, data: [index] + bytes))
        }
        if let bos { records.append(FuzzRecord(kind: 0x0F, data: bos)) }
        if !faults.isEmpty {
            records.append(
                FuzzRecord(
                    kind: 0x10,
                    data: faults.sorted(by: { $0.key < $1.key }).flatMap { number, fault in
                        [UInt8(clamping: number), fault.encoded.action, fault.encoded.parameter]
                    }))
        }
        if !controlAnswers.isEmpty { records.append(FuzzRecord(kind: 0x11, data: controlAnswers)) }
        if !endpointAnswers.isEmpty { records.append(FuzzRecord(kind: 0x12, data: endpointAnswers)) }
        return [header] + bytes + FuzzRecord.encode(records)
    }

    /// The answer to GET_DESCRIPTOR(type, index), nil: stall.
    func descriptor(type: UInt8, index: UInt8) -> [UInt8]? {
        switch type {
        case USBDescriptorType.device: return device
        case USBDescriptorType.configuration: return configurations[index]
        case USBDescriptorType.string: return strings[index]
        case USBDescriptorType.deviceQualifier: return qualifier
        case USBDescriptorType.otherSpeedConfiguration: return otherSpeedConfigurations[index]
        case USBDescriptorType.bos: return bos
        default: return nil
        }
    }
}
