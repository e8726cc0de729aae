// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import SimulatedAir
import USBHost

// The transmit side of the emulated RTL8187: bulk OUT frames parsed and
// recorded, and the worker thread that acknowledges them.

/// One frame the driver sent through the bulk OUT endpoint.
public struct RTL8187TransmittedFrame: Sendable, Equatable {
    /// The channel the radio was tuned to (nil: not tuned yet).
    public var channel: Int?
    public var rateIndex: Int
    /// TX descriptor flags word as the driver wrote it.
    public var descriptorFlags: UInt32
    /// Retry limit from the descriptor (`(count - 1) << 8`, so count).
    public var retryLimit: Int
    /// The 802.11 frame after the 12-byte descriptor.
    public var frame: [UInt8]

    public var bitrateKbps: Int? {
        RTL8187Hardware.bitratesKbps.indices.contains(rateIndex) ? RTL8187Hardware.bitratesKbps[rateIndex] : nil
    }
}

extension RTL8187Model {
    private enum WorkerStep {
        case acknowledge([(handle: UInt64, completion: USBCompletion)])
        case wait
        case stop
    }

    func runWorker() {
        while true {
            let step: WorkerStep = state.withLock { state in
                guard !state.stopped else { return .stop }
                if !state.transmitQueue.isEmpty {
                    defer { state.transmitQueue.removeAll(keepingCapacity: true) }
                    return .acknowledge(state.transmitQueue)
                }
                return .wait
            }
            switch step {
            case .stop:
                return
            case .acknowledge(var transmissions):
                // A real adapter acknowledges after USB and air time; waiting
                // as long lets frames sent meanwhile share the wake-up.
                if options.transmitAcknowledgeDelayNanoseconds > 0 {
                    HostClock.sleep(seconds: Double(options.transmitAcknowledgeDelayNanoseconds) / 1e9)
                    transmissions += state.withLock { state in
                        defer { state.transmitQueue.removeAll(keepingCapacity: true) }
                        return state.transmitQueue
                    }
                }
                // One wake-up acknowledges everything sent meanwhile, so the
                // driver's TX-status work runs once per batch, as with a
                // real adapter's USB latency, not once per frame.
                if let link = link.withLock({ $0 }) {
                    for transmission in transmissions {
                        try? link.complete(transmission.handle, transmission.completion)
                    }
                }
            case .wait:
                wakeup.wait()
            }
        }
    }

    // MARK: Transmit path

    func transmit(_ request: USBRequest, _ state: inout State, onAir: inout AirFrame?) -> USBCompletion {
        let bytes = UnsafeRawBufferPointer(request.bytes)
        guard bytes.count >= RTL8187Hardware.transmitHeaderLength else {
            state.statistics.malformedTransmissions += 1
            return .success(actualLength: bytes.count)
        }
        let flags = bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian
        let retry = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        let frameLength = Int(flags & 0xFFF)
        guard frameLength <= bytes.count - RTL8187Hardware.transmitHeaderLength else {
            state.statistics.malformedTransmissions += 1
            return .success(actualLength: bytes.count)
        }
        state.statistics.framesTransmitted += 1
        state.statistics.bytesTransmitted += frameLength
        let rateIndex = Int((flags >> 24) & 0xF)
        if options.air?.hasOtherMembers == true, let channel = state.tunedChannel.flatMap({ AirChannel(primary: $0) }), frameLength >= 10,
            RTL8187Hardware.bitratesKbps.indices.contains(rateIndex)
        {
            let start = RTL8187Hardware.transmitHeaderLength
            onAir = AirFrame(
                channel: channel, frame: Array(bytes[start..<(start + frameLength)]),
                rate: .legacy(kbps: RTL8187Hardware.bitratesKbps[rateIndex]), signalDBm: options.transmitSignalDBm)
        }
        if state.recordsTransmittedFrames && state.transmitted.count < state.transmittedCapacity {
            let frame = Array(bytes[RTL8187Hardware.transmitHeaderLength..<(RTL8187Hardware.transmitHeaderLength + frameLength)])
            state.transmitted.append(
                RTL8187TransmittedFrame(
                    channel: state.tunedChannel, rateIndex: Int((flags >> 24) & 0xF), descriptorFlags: flags,
                    retryLimit: Int((retry >> 8) & 0xFF) + 1, frame: frame))
        }
        // The URB's completion is the ACK (rtl8187_tx_cb).
        return .success(actualLength: bytes.count)
    }
}
