// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import LinuxKernel
import USBHost

// One request's libusb transfer (`TransferJob`), the C callback libusb
// calls when it ends, and request helpers for the transfer path.

/// One request's libusb transfer, with its control bounce buffer or its
/// bulk chunk plan. The transfer's user_data points here; the adapter's
/// request table holds it until the callback finishes it.
///
/// @unchecked: `plan` and the transfer's fields are written only by the
/// thread that owns the transfer at that moment (the submitter before
/// libusb_submit_transfer, the event thread in the callback); libusb's own
/// locking orders the hand-overs.
final class TransferJob: @unchecked Sendable {
    let adapter: LibUSBAdapter
    let request: USBRequest
    let transfer: UnsafeMutablePointer<libusb_transfer>
    /// Control transfers: setup packet + data stage.
    private let bounce: UnsafeMutableRawPointer?
    var plan: BulkChunkPlan

    /// nil when libusb cannot allocate the transfer.
    init?(adapter: LibUSBAdapter, request: USBRequest, maxBulkTransferBytes: Int?) {
        self.adapter = adapter
        self.request = request
        guard let transfer = libusb_alloc_transfer(0) else { return nil }
        self.transfer = transfer
        if request.type == .control {
            let dataLength = Int(request.setup.length)
            let bounce = UnsafeMutableRawPointer.allocate(byteCount: 8 + dataLength, alignment: 8)
            bounce.initializeMemory(as: UInt8.self, repeating: 0, count: 8 + dataLength)
            self.bounce = bounce
            plan = BulkChunkPlan(totalLength: dataLength, maximum: nil, maxPacketSize: 64, zeroPacket: false)
        } else {
            bounce = nil
            let chunkable = request.type == .bulk
            let maxPacket =
                adapter.descriptors.maxPacketSize(
                    endpoint: request.endpoint, configurationValue: adapter.currentConfigurationForPlanning) ?? 512
            plan = BulkChunkPlan(
                totalLength: request.length, maximum: chunkable ? maxBulkTransferBytes : nil,
                maxPacketSize: maxPacket, zeroPacket: request.flags.contains(.zeroPacket) && !request.isIn)
        }
    }

    deinit {
        libusb_free_transfer(transfer)
        bounce?.deallocate()
    }

    /// Fills the transfer for the request (its first chunk).
    func prepare(deviceHandle: OpaquePointer?) {
        transfer.pointee.dev_handle = deviceHandle
        transfer.pointee.timeout = 0  // the kernel driver times out by unlinking
        transfer.pointee.callback = transferCallback
        transfer.pointee.user_data = Unmanaged.passUnretained(self).toOpaque()
        transfer.pointee.num_iso_packets = 0
        switch request.type {
        case .control:
            let setupBytes = request.setup.bytes
            let dataLength = Int(request.setup.length)
            guard let bounce else { return }
            setupBytes.withUnsafeBytes { bounce.copyMemory(from: $0.baseAddress!, byteCount: 8) }
            if !request.isControlIn, let buffer = request.buffer {
                (bounce + 8).copyMemory(from: buffer, byteCount: min(dataLength, request.length))
            }
            transfer.pointee.endpoint = request.endpointNumber
            transfer.pointee.type = UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue)
            transfer.pointee.flags = 0
            transfer.pointee.buffer = bounce.assumingMemoryBound(to: UInt8.self)
            transfer.pointee.length = Int32(8 + dataLength)
        case .bulk, .interrupt, .isochronous:
            transfer.pointee.endpoint = request.endpoint
            transfer.pointee.type = UInt8(
                request.type == .interrupt ? LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue : LIBUSB_TRANSFER_TYPE_BULK.rawValue)
            aim(at: plan.current)
        }
    }

    /// Points the transfer at one chunk of the kernel's buffer.
    func aim(at chunk: BulkChunkPlan.Chunk) {
        transfer.pointee.buffer = request.buffer.map { ($0 + chunk.offset).assumingMemoryBound(to: UInt8.self) }
        transfer.pointee.length = Int32(chunk.length)
        transfer.pointee.flags = chunk.zeroPacket ? UInt8(LIBUSB_TRANSFER_ADD_ZERO_PACKET.rawValue) : 0
    }

    /// Copies a control IN data stage into the kernel's buffer.
    func copyControlData(actualLength: Int, completion: USBCompletion) -> USBCompletion {
        guard actualLength > 0, let bounce else { return completion }
        guard actualLength <= request.length, let buffer = request.buffer else {
            return .failure(USBErrno.overflow)
        }
        buffer.copyMemory(from: bounce + 8, byteCount: actualLength)
        return completion
    }
}

extension LibUSBAdapter {
    /// The configuration the device is in, for endpoint lookups.
    fileprivate var currentConfigurationForPlanning: UInt8 { state.withLock { $0.configuration } }
}

extension USBRequest {
    /// A control transfer whose data stage is device to host.
    var isControlIn: Bool { setup.isDeviceToHost }

    var endpointText: String { "ep " + String(endpoint, radix: 16) }

    var setupText: String { type == .control ? "[\(setup)] " : "" }
}

/// libusb calls this on the event thread when a transfer ends.
private func transferCallback(_ transfer: UnsafeMutablePointer<libusb_transfer>?) {
    guard let userData = transfer?.pointee.user_data else { return }
    let job = Unmanaged<TransferJob>.fromOpaque(userData).takeUnretainedValue()
    job.adapter.transferFinished(job)
}
