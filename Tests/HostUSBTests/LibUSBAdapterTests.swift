// SPDX-License-Identifier: GPL-2.0-only

import CLibUSB
import Synchronization
import Testing
import USBHost

@testable import HostUSB

/// LibUSBAdapter's bookkeeping against a fake device: what is answered
/// from the cache, what runs on the worker and in which order, zero-copy
/// and chunked bulk transfers, cancellation, removal, stop and close.
@Suite("LibUSBAdapter with a fake device")
struct LibUSBAdapterTests {
    let device = FakeUSBDevice()
    let completions = CompletionLog()
    let buffers = RequestBuffers()
    let removals = Counter()

    private func makeAdapter(speed: HostUSBSpeed = .super, maxBulkTransferBytes: Int? = nil) throws -> LibUSBAdapter {
        let info = HostUSBDeviceInfo(
            busNumber: 1, portPath: [2], deviceAddress: 3, vendorID: TestDescriptors.vendorID,
            productID: TestDescriptors.productID, speed: speed)
        let cache = USBDescriptorCache(
            device: TestDescriptors.superSpeedDevice, configurations: [TestDescriptors.superSpeedConfiguration])
        let queue = device.eventQueue
        let environment = AdapterEnvironment(
            performOnEventThread: { work in queue.async(execute: work) }, isEventThread: { false }, unregister: {})
        let adapter = try LibUSBAdapter(
            info: info, descriptors: cache, configuration: 1, claimedInterfaces: [0, 1], operations: device,
            environment: environment, options: .init(maxBulkTransferBytes: maxBulkTransferBytes))
        let completions = completions
        adapter.attach { handle, completion in completions.record(handle, completion) }
        let removals = removals
        adapter.onRemoval = { removals.increment() }
        return adapter
    }

    private func bytes(_ request: USBRequest, _ count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: request.buffer, count: count))
    }

    // MARK: Control requests

    @Test("a SuperSpeed device is presented at SuperSpeed, other speeds at their own")
    func presentedSpeed() throws {
        let adapter = try makeAdapter(speed: .super)
        #expect(adapter.speed == .super)
        #expect(adapter.info.speed == .super)
        #expect(adapter.descriptors.device == TestDescriptors.superSpeedDevice)
        #expect(adapter.descriptors.configurations == [TestDescriptors.superSpeedConfiguration])
        adapter.close()
        for (host, presented) in [(HostUSBSpeed.superPlus, USBSpeed.super), (.high, .high), (.full, .full), (.low, .low)] {
            let other = try makeAdapter(speed: host)
            #expect(other.speed == presented, "\(host)")
            other.close()
        }
    }

    @Test("GET_DESCRIPTOR device and configuration: the device's own, answered at once from the cache, nothing sent")
    func descriptorsFromCache() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }

        let deviceRequest = buffers.control(0x80, 6, value: 0x0100, length: 64)
        #expect(adapter.submit(deviceRequest) == .completed(.success(actualLength: 18)))
        let deviceBytes = bytes(deviceRequest, 18)
        #expect(deviceBytes == TestDescriptors.superSpeedDevice)
        #expect(deviceBytes[2] == 0x20 && deviceBytes[3] == 0x03 && deviceBytes[7] == 9, "bcdUSB 3.20, 2^9-byte EP0")

        let header = buffers.control(0x80, 6, value: 0x0200, length: 9)
        #expect(adapter.submit(header) == .completed(.success(actualLength: 9)))
        let presented = TestDescriptors.superSpeedConfiguration
        #expect(bytes(header, 9) == Array(presented.prefix(9)))

        let full = buffers.control(0x80, 6, value: 0x0200, length: 1024)
        #expect(adapter.submit(full) == .completed(.success(actualLength: presented.count)))
        #expect(bytes(full, presented.count) == presented)

        let missing = buffers.control(0x80, 6, value: 0x0201, length: 9)
        #expect(adapter.submit(missing) == .completed(.stall))
        #expect(device.submitted.isEmpty)
        #expect(adapter.statistics.descriptorsFromCache == 4)
    }

    @Test("a string descriptor goes to the device as an async control transfer; IN data lands in the kernel buffer")
    func stringForwarded() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let request = buffers.control(0x80, 6, value: 0x0302, index: 0x0409, length: 255)
        #expect(adapter.submit(request) == .pending)
        try #require(device.submitted.count == 1)
        let transfer = device.submitted[0]
        #expect(transfer.type == UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue))
        #expect(transfer.endpoint == 0)
        #expect(transfer.length == 8 + 255)
        #expect(Array(transfer.bytes.prefix(8)) == request.setup.bytes)
        #expect(transfer.pointer.pointee.timeout == 0)

        let string = USBStringDescriptor.text("NIC")
        device.finish(transfer, actualLength: string.count, data: string)
        #expect(completions.all.count == 1)
        #expect(completions.completion(of: request.handle) == .success(actualLength: string.count))
        #expect(bytes(request, string.count) == string)
    }

    @Test("a vendor OUT request carries its data stage")
    func controlOut() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let request = buffers.control(0x40, 0x05, value: 0xff00, index: 0, length: 4, data: [1, 2, 3, 4])
        #expect(adapter.submit(request) == .pending)
        let transfer = try #require(device.submitted.first)
        #expect(transfer.bytes == request.setup.bytes + [1, 2, 3, 4])
        device.finish(transfer, actualLength: 4)
        #expect(completions.completion(of: request.handle) == .success(actualLength: 4))
    }

    @Test("stalls and other failures of forwarded requests reach the kernel as errnos")
    func controlFailure() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let request = buffers.control(0xc0, 0x05, value: 0xff00, length: 1)
        #expect(adapter.submit(request) == .pending)
        device.finish(try #require(device.submitted.first), status: LIBUSB_TRANSFER_STALL, actualLength: 0)
        #expect(completions.completion(of: request.handle) == .stall)
    }

    @Test("SET_INTERFACE and CLEAR_FEATURE(HALT) use libusb calls on the worker")
    func blockingRequests() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let setInterface = buffers.control(0x01, 11, value: 1, index: 1)
        #expect(adapter.submit(setInterface) == .pending)
        #expect(eventually { completions.all.count == 1 })
        #expect(completions.completion(of: setInterface.handle) == .success(actualLength: 0))

        let clearHalt = buffers.control(0x02, 1, value: 0, index: 0x81)
        #expect(adapter.submit(clearHalt) == .pending)
        #expect(eventually { completions.all.count == 2 })
        #expect(completions.completion(of: clearHalt.handle) == .success(actualLength: 0))
        #expect(device.calls.contains(.setInterface(1, 1)))
        #expect(device.calls.contains(.clearHalt(0x81)))
        #expect(device.submitted.isEmpty)

        // CLEAR_FEATURE to the device itself is an ordinary request.
        let wakeup = buffers.control(0x00, 1, value: 1)
        #expect(adapter.submit(wakeup) == .pending)
        #expect(eventually { device.submitted.count == 1 })
        #expect(Array(device.submitted[0].bytes.prefix(8)) == wakeup.setup.bytes)
    }

    @Test("a missing altsetting (libusb NOT_FOUND) is a stall")
    func setInterfaceNotFound() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        device.setBlockingResult(LIBUSB_ERROR_NOT_FOUND.rawValue)
        let request = buffers.control(0x01, 11, value: 5, index: 0)
        #expect(adapter.submit(request) == .pending)
        #expect(eventually { completions.all.count == 1 })
        #expect(completions.completion(of: request.handle) == .stall)
    }

    @Test("SET_CONFIGURATION: same value keeps the configuration, a new one calls libusb; interfaces are re-claimed")
    func setConfiguration() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let same = buffers.control(0x00, 9, value: 1)
        #expect(adapter.submit(same) == .pending)
        #expect(eventually { completions.all.count == 1 })
        #expect(completions.completion(of: same.handle) == .success(actualLength: 0))
        #expect(device.calls == [
            .autoDetach(false), .release(0), .release(1), .autoDetach(true), .claim(0), .claim(1),
            .setInterface(0, 0), .setInterface(1, 0),
        ])

        let unconfigure = buffers.control(0x00, 9, value: 0)
        #expect(adapter.submit(unconfigure) == .pending)
        #expect(eventually { completions.all.count == 2 })
        #expect(completions.completion(of: unconfigure.handle) == .success(actualLength: 0))
        #expect(Array(device.calls.dropFirst(8)) == [
            .autoDetach(false), .release(0), .release(1), .setConfiguration(-1), .autoDetach(true),
        ])

        let configure = buffers.control(0x00, 9, value: 1)
        #expect(adapter.submit(configure) == .pending)
        #expect(eventually { completions.all.count == 3 })
        #expect(Array(device.calls.dropFirst(13)) == [
            .autoDetach(false), .setConfiguration(1), .autoDetach(true), .claim(0), .claim(1),
        ])

        let unknown = buffers.control(0x00, 9, value: 7)
        #expect(adapter.submit(unknown) == .pending)
        #expect(eventually { completions.all.count == 4 })
        #expect(completions.completion(of: unknown.handle) == .stall)
        #expect(device.calls.count == 18)
    }

    @Test("EP0 requests wait behind the worker; bulk transfers do not")
    func ordering() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        device.holdBlockingCalls()
        let setInterface = buffers.control(0x01, 11, value: 1, index: 0)
        #expect(adapter.submit(setInterface) == .pending)
        #expect(eventually { device.blockedCallers == 1 })

        let vendor = buffers.control(0xc0, 0x05, value: 0xff00, length: 1)
        #expect(adapter.submit(vendor) == .pending)
        let bulk = buffers.data(0x81, length: 512)
        #expect(adapter.submit(bulk) == .pending)
        #expect(device.submitted.map(\.endpoint) == [0x81])  // the vendor request waits

        device.releaseBlockingCalls()
        #expect(eventually { device.submitted.count == 2 })
        #expect(device.submitted[1].endpoint == 0)
        #expect(completions.handles == [setInterface.handle])
        let setInterfaceIndex = try #require(device.calls.firstIndex(of: .setInterface(0, 1)))
        let vendorIndex = try #require(device.calls.firstIndex(of: .submit(endpoint: 0, length: 9)))
        #expect(setInterfaceIndex < vendorIndex)

        // Worker idle again: EP0 requests go straight to libusb.
        device.finish(device.submitted[1], actualLength: 1, data: [0x42])
        #expect(completions.completion(of: vendor.handle) == .success(actualLength: 1))
        let direct = buffers.control(0xc0, 0x05, value: 0xff01, length: 1)
        #expect(eventually { adapter.submit(direct) == .pending && device.submitted.count == 3 })
    }

    @Test("EP0 completes in order: cache answers and blocking requests wait for control transfers still in libusb")
    func controlOrder() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let status = buffers.control(0x80, 0, length: 2)
        #expect(adapter.submit(status) == .pending)
        let descriptor = buffers.control(0x80, 6, value: 0x0100, length: 18)
        #expect(adapter.submit(descriptor) == .pending, "answering now would overtake GET_STATUS")
        let setInterface = buffers.control(0x01, 11, value: 1, index: 0)
        #expect(adapter.submit(setInterface) == .pending)
        #expect(eventually(0.2) { false } == false)  // time for a wrongly early completion to show
        #expect(completions.all.isEmpty)
        #expect(!device.calls.contains(.setInterface(0, 1)), "libusb's call would pass the transfer on EP0")

        device.finish(try #require(device.submitted.first), actualLength: 2, data: [1, 0])
        #expect(eventually { completions.all.count == 3 })
        #expect(completions.handles == [status.handle, descriptor.handle, setInterface.handle])
        #expect(completions.completion(of: descriptor.handle) == .success(actualLength: 18))
        #expect(bytes(descriptor, 18) == TestDescriptors.superSpeedDevice)
        #expect(adapter.statistics.descriptorsFromCache == 1)

        // EP0 idle again: the cache answers at once.
        let again = buffers.control(0x80, 6, value: 0x0100, length: 18)
        #expect(eventually { adapter.submit(again) == .completed(.success(actualLength: 18)) })
    }

    @Test("cancelling a request that waits for the worker completes it at once, and it never reaches the device")
    func cancelQueued() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        device.holdBlockingCalls()
        let setInterface = buffers.control(0x01, 11, value: 1, index: 0)
        #expect(adapter.submit(setInterface) == .pending)
        #expect(eventually { device.blockedCallers == 1 })
        let vendor = buffers.control(0xc0, 0x05, value: 0xff00, length: 1)
        #expect(adapter.submit(vendor) == .pending)

        adapter.cancel(vendor.handle)
        #expect(completions.completion(of: vendor.handle) == .failure(USBErrno.connectionReset))
        device.releaseBlockingCalls()
        #expect(eventually { completions.all.count == 2 })
        #expect(eventually(0.2) { false } == false)  // give a wrongly queued submit time to show
        #expect(device.submitted.isEmpty)
        #expect(completions.handles.sorted() == [setInterface.handle, vendor.handle].sorted())
    }

    @Test("cancelling an in-flight transfer cancels it in libusb; it completes once, with -ECONNRESET")
    func cancelInFlight() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let bulk = buffers.data(0x81, length: 2048)
        #expect(adapter.submit(bulk) == .pending)
        adapter.cancel(bulk.handle)
        #expect(eventually { completions.all.count == 1 })
        #expect(completions.completion(of: bulk.handle)?.error == USBErrno.connectionReset)
        #expect(device.calls.filter { $0 == .cancel }.count == 1)

        adapter.cancel(bulk.handle)  // already completed: nothing happens
        #expect(device.calls.filter { $0 == .cancel }.count == 1)
        #expect(completions.all.count == 1)
    }

    @Test("a transfer that finished before the cancel arrived is not completed twice")
    func cancelAfterFinish() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let bulk = buffers.data(0x81, length: 512)
        #expect(adapter.submit(bulk) == .pending)
        device.finish(device.submitted[0], actualLength: 512)
        adapter.cancel(bulk.handle)
        #expect(completions.all.count == 1)
        #expect(completions.completion(of: bulk.handle) == .success(actualLength: 512))
    }

    // MARK: Bulk and interrupt

    @Test("bulk and interrupt transfers use the kernel's buffer; URB_ZERO_PACKET becomes ADD_ZERO_PACKET on OUT")
    func zeroCopy() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let out = buffers.data(0x02, length: 1024, flags: .zeroPacket)
        let input = buffers.data(0x81, length: 4096, flags: [.zeroPacket, .shortNotOK])
        let interrupt = buffers.data(0x84, .interrupt, length: 64)
        for request in [out, input, interrupt] { #expect(adapter.submit(request) == .pending) }
        let transfers = device.submitted
        try #require(transfers.count == 3)

        #expect(transfers[0].buffer == out.buffer && transfers[0].length == 1024 && transfers[0].endpoint == 0x02)
        #expect(transfers[0].type == UInt8(LIBUSB_TRANSFER_TYPE_BULK.rawValue))
        #expect(transfers[0].flags == UInt8(LIBUSB_TRANSFER_ADD_ZERO_PACKET.rawValue))
        #expect(transfers[1].buffer == input.buffer && transfers[1].length == 4096 && transfers[1].endpoint == 0x81)
        // No libusb SHORT_NOT_OK: a short read succeeds here and the kernel turns it into -EREMOTEIO.
        #expect(transfers[1].flags == 0)
        #expect(transfers[2].type == UInt8(LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue) && transfers[2].endpoint == 0x84)

        device.finish(transfers[1], actualLength: 100)
        #expect(completions.completion(of: input.handle) == .success(actualLength: 100))
    }

    @Test("isochronous URBs are refused with EOPNOTSUPP")
    func isochronous() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        #expect(adapter.submit(buffers.data(0x85, .isochronous, length: 1024)) == .refused(USBErrno.notSupported))
        #expect(device.submitted.isEmpty)
    }

    @Test("with a cap, a bulk request runs as consecutive transfers on the same buffer and completes once")
    func chunked() throws {
        let adapter = try makeAdapter(maxBulkTransferBytes: 16384)
        defer { adapter.close() }
        let request = buffers.data(0x81, length: 40000)
        let base = try #require(request.buffer)
        #expect(adapter.submit(request) == .pending)

        for (index, (offset, length)) in [(0, 16384), (16384, 16384), (32768, 7232)].enumerated() {
            try #require(device.inFlight.count == 1, "chunk \(index)")
            let transfer = device.inFlight[0]
            #expect(transfer.buffer == base + offset, "chunk \(index)")
            #expect(transfer.length == length, "chunk \(index)")
            #expect(completions.all.isEmpty)
            device.finish(transfer, actualLength: length)
        }
        #expect(completions.all.count == 1)
        #expect(completions.completion(of: request.handle) == .success(actualLength: 40000))
        #expect(adapter.statistics.transfersSubmitted == 3)
    }

    @Test("a short chunk ends the request; an error keeps the bytes moved before it")
    func chunkedShortAndError() throws {
        let adapter = try makeAdapter(maxBulkTransferBytes: 16384)
        defer { adapter.close() }
        let short = buffers.data(0x81, length: 40000)
        #expect(adapter.submit(short) == .pending)
        device.finish(device.inFlight[0], actualLength: 16384)
        device.finish(device.inFlight[0], actualLength: 1000)
        #expect(device.inFlight.isEmpty)
        #expect(completions.completion(of: short.handle) == .success(actualLength: 17384))

        let stalled = buffers.data(0x81, length: 40000)
        #expect(adapter.submit(stalled) == .pending)
        device.finish(device.inFlight[0], actualLength: 16384)
        device.finish(device.inFlight[0], status: LIBUSB_TRANSFER_STALL, actualLength: 0)
        #expect(completions.completion(of: stalled.handle) == .failure(USBErrno.stall, actualLength: 16384))
    }

    @Test("a chunked OUT request sends its zero-length packet only after the last chunk")
    func chunkedOutZeroPacket() throws {
        let adapter = try makeAdapter(maxBulkTransferBytes: 4096)
        defer { adapter.close() }
        let request = buffers.data(0x02, length: 8192, flags: .zeroPacket)
        #expect(adapter.submit(request) == .pending)
        #expect(device.inFlight[0].flags == 0)
        device.finish(device.inFlight[0], actualLength: 4096)
        #expect(device.inFlight[0].flags == UInt8(LIBUSB_TRANSFER_ADD_ZERO_PACKET.rawValue))
        device.finish(device.inFlight[0], actualLength: 4096)
        #expect(completions.completion(of: request.handle) == .success(actualLength: 8192))
    }

    @Test("cancelled between chunks: no further chunk is submitted")
    func chunkedCancel() throws {
        let adapter = try makeAdapter(maxBulkTransferBytes: 16384)
        defer { adapter.close() }
        device.setCancellationDelay(nil)  // the chunk finishes normally despite the cancel
        let request = buffers.data(0x81, length: 40000)
        #expect(adapter.submit(request) == .pending)
        adapter.cancel(request.handle)
        device.finish(device.inFlight[0], actualLength: 16384)
        #expect(device.inFlight.isEmpty)
        #expect(completions.completion(of: request.handle) == .failure(USBErrno.connectionReset, actualLength: 16384))
    }

    // MARK: Removal, stop, reset, close

    @Test("NO_DEVICE: the request fails with ENODEV, onRemoval runs once, new submissions are refused")
    func removal() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let first = buffers.data(0x81, length: 512)
        let second = buffers.data(0x81, length: 512)
        #expect(adapter.submit(first) == .pending)
        #expect(adapter.submit(second) == .pending)
        device.finish(device.submitted[0], status: LIBUSB_TRANSFER_NO_DEVICE, actualLength: 0)
        device.finish(device.submitted[1], status: LIBUSB_TRANSFER_NO_DEVICE, actualLength: 0)
        #expect(completions.completion(of: first.handle)?.error == USBErrno.noDevice)
        #expect(adapter.isRemoved)
        #expect(removals.value == 1)
        #expect(adapter.submit(buffers.data(0x81, length: 512)) == .refused(USBErrno.noDevice))
        #expect(adapter.submit(buffers.control(0xc0, 5, length: 1)) == .refused(USBErrno.noDevice))
        adapter.deviceRemoved(reason: "hotplug")  // a late hotplug event
        #expect(removals.value == 1)
    }

    @Test("a submission libusb refuses with NO_DEVICE is refused with ENODEV and reported as a removal")
    func submitNoDevice() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        device.setSubmitResult(LIBUSB_ERROR_NO_DEVICE.rawValue)
        #expect(adapter.submit(buffers.data(0x81, length: 512)) == .refused(USBErrno.noDevice))
        #expect(eventually { removals.value == 1 })
        #expect(adapter.transfersInFlight == 0)
    }

    @Test("a removal handler set after the unplug still hears about it, once")
    func lateHandler() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        adapter.onRemoval = nil
        adapter.deviceRemoved(reason: "hotplug")
        let late = Counter()
        adapter.onRemoval = { late.increment() }
        #expect(eventually { late.value == 1 })
        adapter.onRemoval = { late.increment() }
        #expect(eventually(0.1) { late.value > 1 } == false)
    }

    @Test("stop cancels everything, waits until libusb gave each transfer back, and forwards nothing after")
    func stop() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        device.setCancellationDelay(0.05)
        #expect(adapter.submit(buffers.data(0x81, length: 512)) == .pending)
        #expect(adapter.submit(buffers.data(0x81, length: 512)) == .pending)
        #expect(adapter.submit(buffers.control(0xc0, 5, length: 1)) == .pending)
        adapter.stop()
        #expect(device.callbacksDelivered == 3)
        #expect(adapter.transfersInFlight == 0)
        #expect(completions.all.isEmpty)
        #expect(adapter.submit(buffers.data(0x81, length: 512)) == .refused(USBErrno.noDevice))
    }

    @Test("stop drops requests waiting for the worker without completing them (detach does)")
    func stopWithQueue() throws {
        let adapter = try makeAdapter()
        device.holdBlockingCalls()
        #expect(adapter.submit(buffers.control(0x01, 11, value: 1, index: 0)) == .pending)
        #expect(eventually { device.blockedCallers == 1 })
        #expect(adapter.submit(buffers.control(0xc0, 5, length: 1)) == .pending)
        adapter.stop()
        device.releaseBlockingCalls()
        adapter.close()
        #expect(completions.all.isEmpty)
        #expect(device.submitted.isEmpty)
    }

    @Test("resets: skipped while the device is untouched (enumeration), real once it was used")
    func resets() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        adapter.reset()  // the first: the host just enumerated the device
        let descriptor = buffers.control(0x80, 6, value: 0x0100, length: 64)
        _ = adapter.submit(descriptor)  // from the cache: the device is still untouched
        adapter.reset()  // the hub driver's second enumeration reset
        #expect(adapter.statistics.resetsSkipped == 2)

        let bulk = buffers.data(0x81, length: 512)
        #expect(adapter.submit(bulk) == .pending)
        device.finish(device.submitted[0], actualLength: 512)
        adapter.reset()
        #expect(eventually { device.calls.contains(.reset) })
        adapter.reset()
        #expect(adapter.statistics.resetsSkipped == 3)
        #expect(eventually { adapter.statistics.resetsPerformed == 1 })
    }

    @Test("EP0 requests after a reset wait for it")
    func requestAfterReset() throws {
        let adapter = try makeAdapter()
        defer { adapter.close() }
        let bulk = buffers.data(0x81, length: 512)
        #expect(adapter.submit(bulk) == .pending)
        device.finish(device.submitted[0], actualLength: 512)
        device.holdBlockingCalls()
        adapter.reset()
        #expect(eventually { device.blockedCallers == 1 })
        let vendor = buffers.control(0xc0, 5, length: 1)
        #expect(adapter.submit(vendor) == .pending)
        #expect(device.submitted.count == 1)
        device.releaseBlockingCalls()
        #expect(eventually { device.submitted.count == 2 })
        #expect(device.calls.firstIndex(of: .reset)! < device.calls.firstIndex(of: .submit(endpoint: 0, length: 9))!)
    }

    @Test("close releases the interfaces (host drivers rebind) and closes the device, once")
    func close() throws {
        let adapter = try makeAdapter()
        adapter.close()
        #expect(device.calls == [.release(0), .release(1), .close])
        adapter.close()
        #expect(device.calls.count == 3)
    }

    @Test("close after a removal does not touch the interfaces of the vanished device")
    func closeAfterRemoval() throws {
        let adapter = try makeAdapter()
        adapter.deviceRemoved(reason: "hotplug")
        adapter.close()
        #expect(device.calls == [.close])
    }
}

final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    func increment() { count.add(1, ordering: .acquiringAndReleasing) }
}
