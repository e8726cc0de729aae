// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import Dispatch
import LinuxKernel
import Logging
import USBHost

/// The worker thread: the blocking libusb calls (SET_CONFIGURATION,
/// SET_INTERFACE, CLEAR_FEATURE(ENDPOINT_HALT), port resets) and EP0 ordering.
extension LibUSBAdapter {
    func runWorker() {
        while true {
            workerWakeup.wait()
            while true {
                enum Step { case exit, idle, run(WorkerJob) }
                let step: Step = state.withLock { state in
                    if state.workerExit { return .exit }
                    guard !state.workerJobs.isEmpty else { return .idle }
                    let job = state.workerJobs.removeFirst()
                    if let handle = job.handle { state.requests[handle]?.phase = .running }
                    state.workerRunning = true
                    state.statistics.workerJobs += 1
                    return .run(job)
                }
                switch step {
                case .exit:
                    return
                case .idle:
                    break
                case .run(let job):
                    perform(job)
                    // Cleared after the completion: an EP0 request the kernel
                    // sends in reaction still queues behind this one.
                    state.withLock { $0.workerRunning = false }
                    continue
                }
                break
            }
        }
    }

    private func perform(_ job: WorkerJob) {
        switch job {
        case .portReset:
            resetDevice()
        case .request(let request, let route):
            // libusb's blocking calls return before the event thread has
            // given back earlier EP0 transfers: let those complete first.
            if route.isBlocking { waitForControlTransfers() }
            switch route {
            case .setConfiguration(let value):
                finishWithoutTransfer(request.handle, setConfiguration(value))
            case .setInterface(let interface, let alternate):
                state.withLock { $0.deviceTouchedSinceReset = true }
                let result = operations.setInterfaceAltSetting(interface: interface, alternateSetting: alternate)
                finishWithoutTransfer(request.handle, Self.standardRequestCompletion(result))
            case .clearEndpointHalt(let endpoint):
                state.withLock { $0.deviceTouchedSinceReset = true }
                let result = operations.clearHalt(endpoint: endpoint)
                finishWithoutTransfer(request.handle, Self.standardRequestCompletion(result))
            case .deviceDescriptor, .configurationDescriptor:
                waitForControlTransfers()
                // Written under the lock, as control IN data: stop() cannot pass meanwhile.
                let answer: USBCompletion? = state.withLock { state in
                    guard !state.stopped, state.requests[request.handle] != nil else { return nil }
                    state.statistics.descriptorsFromCache += 1
                    return cachedAnswer(request, route)
                }
                finishWithoutTransfer(request.handle, answer ?? .failure(USBErrno.shutdown))
            case .forward:
                _ = launch(request, fromWorker: true)
            }
        }
    }

    /// Waits until no control transfer is in libusb (or the adapter stopped),
    /// so what the worker completes next follows them on EP0.
    private func waitForControlTransfers() {
        while state.withLock({ state in
            guard state.controlTransfersInFlight > 0, !state.stopped else { return false }
            state.workerAwaitsControl = true
            return true
        }) {
            controlSettled.wait()
        }
    }

    /// A control transfer is over (under the lock); wakes a waiting worker
    /// when it was the last one.
    func endControlTransfer(_ state: inout State) {
        state.controlTransfersInFlight -= 1
        guard state.controlTransfersInFlight == 0, state.workerAwaitsControl else { return }
        state.workerAwaitsControl = false
        controlSettled.signal()
    }

    /// SET_CONFIGURATION on the real device through libusb: usbfs refuses
    /// it while interfaces are claimed, and a raw request would leave the
    /// host kernel's view of the device stale.
    private func setConfiguration(_ value: UInt8) -> USBCompletion {
        guard value == 0 || descriptors.configuration(value: value) != nil else { return .stall }
        let (current, claimed) = state.withLock { state in
            state.deviceTouchedSinceReset = true
            return (state.configuration, state.claimedInterfaces)
        }
        // Release without letting host drivers bind in between (which
        // auto-detach would do, and which would make usbfs refuse the change).
        _ = operations.setAutoDetachKernelDriver(false)
        for interface in claimed { _ = operations.releaseInterface(interface) }
        state.withLock { $0.claimedInterfaces = [] }
        var result: Int32 = 0
        if value != current {
            // -1 is libusb's "unconfigured".
            result = operations.setConfiguration(value == 0 ? -1 : Int32(value))
        }
        _ = operations.setAutoDetachKernelDriver(true)
        guard result == 0 else {
            logger.debug("\(info.location): libusb_set_configuration(\(value)): \(LibUSBStatus.describe(libUSBError: result))")
            reclaim(claimed, configuration: current)
            return Self.standardRequestCompletion(result)
        }
        let interfaces = descriptors.interfaceNumbers(configurationValue: value)
        var nowClaimed: [UInt8] = []
        for interface in interfaces {
            let claim = operations.claimInterface(interface)
            if claim == 0 {
                nowClaimed.append(interface)
            } else {
                logger.warning("\(info.location): cannot claim interface \(interface): \(LibUSBStatus.describe(libUSBError: claim))")
                result = claim
            }
        }
        if value == current {
            // The device skipped the request, so do what it would have
            // done: every interface back to altsetting 0, data toggles reset.
            for interface in nowClaimed {
                let reset = operations.setInterfaceAltSetting(interface: interface, alternateSetting: 0)
                if reset != 0 {
                    logger.debug("\(info.location): interface \(interface) altsetting 0: \(LibUSBStatus.describe(libUSBError: reset))")
                }
            }
        }
        state.withLock { state in
            state.configuration = value
            state.claimedInterfaces = nowClaimed
        }
        return result == 0 ? .success(actualLength: 0) : Self.standardRequestCompletion(result)
    }

    private func reclaim(_ interfaces: [UInt8], configuration: UInt8) {
        var claimed: [UInt8] = []
        for interface in interfaces where operations.claimInterface(interface) == 0 {
            claimed.append(interface)
        }
        state.withLock { $0.claimedInterfaces = claimed }
    }

    private func resetDevice() {
        guard !state.withLock({ $0.stopped || $0.removed }) else { return }
        let result = operations.resetDevice()
        state.withLock { $0.statistics.resetsPerformed += 1 }
        guard result != 0 else { return }
        logger.debug("\(info.location): libusb_reset_device: \(LibUSBStatus.describe(libUSBError: result))")
        // NOT_FOUND: the device came back as a different one (or not at
        // all) and this handle is dead either way.
        if result == LIBUSB_ERROR_NO_DEVICE.rawValue || result == LIBUSB_ERROR_NOT_FOUND.rawValue {
            state.withLock { $0.removed = true }
            notifyRemovalFromEventThread()
        }
    }

    /// A failed blocking standard request, as the device would have answered
    /// it: libusb's NOT_FOUND / INVALID_PARAM mean no such interface,
    /// altsetting or endpoint, which a device answers with a stall.
    static func standardRequestCompletion(_ result: Int32) -> USBCompletion {
        switch result {
        case 0:
            return .success(actualLength: 0)
        case LIBUSB_ERROR_NOT_FOUND.rawValue, LIBUSB_ERROR_INVALID_PARAM.rawValue:
            return .stall
        default:
            return .failure(LibUSBStatus.errno(forLibUSBError: result))
        }
    }
}
