// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import LinuxKernel
import Logging
import SystemPackage
import USBHost

/// The async-transfer path: requests submitted as libusb transfers, and
/// their completion on the libusb event thread.
extension LibUSBAdapter {
    /// Submits `request` as a libusb transfer (its first chunk, for a
    /// chunked bulk request). From kernel context, or from the worker for
    /// a control request that waited behind it (`fromWorker`).
    func launch(_ request: USBRequest, fromWorker: Bool = false) -> USBSubmitResult {
        guard let job = TransferJob(adapter: self, request: request, maxBulkTransferBytes: options.maxBulkTransferBytes)
        else {
            // libusb could not allocate a transfer: the driver sees -ENOMEM, as from usb_submit_urb.
            if fromWorker {
                finishWithoutTransfer(request.handle, .failure(USBErrno.outOfMemory))
                return .pending
            }
            return .refused(USBErrno.outOfMemory)
        }
        let registered: Errno? = state.withLock { state in
            if state.stopped || state.removed { return USBErrno.noDevice }
            if fromWorker {
                // Cancelled while it waited: cancel() completed or will complete it.
                guard let record = state.requests[request.handle], !record.cancelRequested else {
                    return USBErrno.connectionReset
                }
            }
            state.requests[request.handle] = RequestRecord(phase: .submitting(job))
            state.outstandingTransfers += 1
            if request.type == .control { state.controlTransfersInFlight += 1 }
            state.deviceTouchedSinceReset = true
            return nil
        }
        if let registered {
            if fromWorker {
                // The kernel expects a completion now (the request was pending).
                if registered == USBErrno.connectionReset {
                    let stillOurs = state.withLock { $0.requests.removeValue(forKey: request.handle) != nil }
                    if stillOurs { complete(request.handle, .failure(USBErrno.connectionReset)) }
                } else {
                    finishWithoutTransfer(request.handle, .failure(registered))
                }
                return .pending
            }
            return .refused(registered)
        }
        job.prepare(deviceHandle: operations.rawHandle)
        if let error = submitPrepared(job) {
            if fromWorker {
                complete(request.handle, .failure(error))
                return .pending
            }
            return .refused(error)
        }
        return .pending
    }

    /// Hands a prepared transfer to libusb. On failure the record is gone
    /// and the caller reports the errno (refusal or completion).
    private func submitPrepared(_ job: TransferJob) -> Errno? {
        let handleValue = job.request.handle
        let result = operations.submit(job.transfer)
        let error: Errno? = state.withLock { state in
            guard result == 0 else {
                state.requests[handleValue] = nil
                state.outstandingTransfers -= 1
                if job.request.type == .control { endControlTransfer(&state) }
                if result == LIBUSB_ERROR_NO_DEVICE.rawValue { state.removed = true }
                return LibUSBStatus.errno(forLibUSBError: result)
            }
            state.statistics.transfersSubmitted += 1
            // The callback may already have run and removed the record.
            guard var record = state.requests[handleValue], case .submitting = record.phase else { return nil }
            record.phase = .inFlight(job)
            state.requests[handleValue] = record
            if record.cancelRequested { _ = operations.cancel(job.transfer) }
            return nil
        }
        if let error {
            logger.debug("\(info.location): libusb_submit_transfer \(job.request.endpointText): \(LibUSBStatus.describe(libUSBError: result))")
            if error == USBErrno.noDevice { notifyRemovalFromEventThread() }
        }
        return error
    }

    /// libusb gave a transfer back (on the event thread).
    func transferFinished(_ job: TransferJob) {
        let transfer = job.transfer.pointee
        let status = transfer.status
        let actual = Int(max(0, transfer.actual_length))
        let request = job.request

        enum Next { case drop, resubmit, finish(USBCompletion) }
        let next: Next = state.withLock { state in
            guard var record = state.requests[request.handle] else { return .drop }
            if state.stopped {
                state.requests[request.handle] = nil
                state.outstandingTransfers -= 1
                if request.type == .control { endControlTransfer(&state) }
                return .drop
            }
            var completion: USBCompletion
            if request.type == .control {
                completion = LibUSBStatus.completion(status: status, actualLength: actual)
                if request.isControlIn {
                    // Copied under the lock: stop() cannot pass meanwhile.
                    completion = job.copyControlData(actualLength: actual, completion: completion)
                }
            } else if status == LIBUSB_TRANSFER_COMPLETED {
                let nextChunk = job.plan.advance(actualLength: actual)
                if let nextChunk, !record.cancelRequested {
                    job.aim(at: nextChunk)
                    record.phase = .submitting(job)
                    state.requests[request.handle] = record
                    return .resubmit
                }
                // More to do but unlinked: stop between chunks.
                completion =
                    nextChunk == nil
                    ? .success(actualLength: job.plan.transferred)
                    : .failure(USBErrno.connectionReset, actualLength: job.plan.transferred)
            } else {
                completion = LibUSBStatus.completion(status: status, actualLength: job.plan.transferred + actual)
            }
            state.requests[request.handle] = nil
            state.outstandingTransfers -= 1
            return .finish(completion)
        }
        switch next {
        case .drop:
            return
        case .resubmit:
            if let error = submitPrepared(job) {
                // The record is gone; what the earlier chunks moved still counts.
                complete(request.handle, .failure(error, actualLength: job.plan.transferred))
            }
        case .finish(let completion):
            if let error = completion.error, error != USBErrno.connectionReset {
                logger.debug("\(info.location): \(request.endpointText) \(request.setupText)ended with -\(error.rawValue) (\(error)), \(completion.actualLength) bytes")
            }
            complete(request.handle, completion)
            // Counted out only now that its URB is completed: what the
            // worker answers next must reach the kernel after it.
            if request.type == .control { state.withLock { endControlTransfer(&$0) } }
            if status == LIBUSB_TRANSFER_NO_DEVICE { deviceRemoved(reason: "transfer reported no device") }
        }
    }
}
