// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import SystemPackage
import Testing
@testable import USBHost

/// The read-ahead layer against a scripted streaming device: data keeps
/// its order whatever the driver's timing, unlinks stop the polling, and
/// what does not stream passes straight through.
@Suite("read-ahead on streaming bulk IN")
struct ReadAheadTests {
    /// Completes the oldest bulk IN request it holds with a numbered
    /// transfer (4-byte tag, then the tag's bytes) when told to.
    final class StreamingDevice: USBDevice, @unchecked Sendable {
        let speed = USBSpeed.high
        private let lock = HostMutex(Held())
        struct Held {
            var link: USBDeviceLink?
            var requests: [USBRequest] = []
            var cancels: [UInt64] = []
            var refuses = false
            var submitted: [USBRequest] = []
        }

        func attached(_ link: USBDeviceLink) { lock.withLock { $0.link = link } }

        func submit(_ request: USBRequest) -> USBSubmitResult {
            lock.withLock { held in
                guard !held.refuses else { return .refused(USBErrno.noDevice) }
                held.requests.append(request)
                held.submitted.append(request)
                return .pending
            }
        }

        func cancel(_ handle: UInt64) {
            let found: (USBDeviceLink, USBRequest)? = lock.withLock { held in
                held.cancels.append(handle)
                guard let index = held.requests.firstIndex(where: { $0.handle == handle }) else { return nil }
                return (held.link!, held.requests.remove(at: index))
            }
            if let (link, request) = found { try? link.complete(request.handle, .failure(USBErrno.connectionReset)) }
        }

        func stop() { lock.withLock { $0.requests.removeAll() } }
        /// As a chip does: what it held goes with the old configuration.
        func reset() { lock.withLock { $0.requests.removeAll() } }

        var waiting: [USBRequest] { lock.withLock { $0.requests } }
        var cancels: [UInt64] { lock.withLock { $0.cancels } }
        var submitted: [USBRequest] { lock.withLock { $0.submitted } }
        func refuseFromNowOn() { lock.withLock { $0.refuses = true } }

        /// Sends transfer `tag` (`length` bytes) into the oldest request; false if none waits.
        @discardableResult
        func send(tag: UInt32, length: Int = 64) -> Bool {
            let taken: (USBDeviceLink, USBRequest)? = lock.withLock { held in
                guard !held.requests.isEmpty else { return nil }
                return (held.link!, held.requests.removeFirst())
            }
            guard let (link, request) = taken else { return false }
            let count = min(length, request.length)
            let bytes = request.bytes
            for index in 0..<count { bytes[index] = UInt8(truncatingIfNeeded: tag >> (8 * UInt32(index % 4))) }
            try? link.complete(request.handle, .success(actualLength: count))
            return true
        }
    }

    /// The kernel side: URBs with their own buffers, completions recorded.
    final class Driver: @unchecked Sendable {
        struct Completed {
            let handle: UInt64
            let completion: USBCompletion
            let tag: UInt32?
        }
        private let lock = HostMutex<[Completed]>([])
        private var buffers: [UInt64: UnsafeMutableRawPointer] = [:]
        private var nextHandle: UInt64 = 0
        let length: Int

        init(length: Int) { self.length = length }

        var link: USBDeviceLink {
            USBDeviceLink(port: 1) { [self] handle, completion in
                let buffer = buffers[handle]!
                let tag: UInt32? =
                    completion.error == nil && completion.actualLength >= 4
                    ? buffer.loadUnaligned(as: UInt32.self) : nil
                lock.withLock { $0.append(Completed(handle: handle, completion: completion, tag: tag)) }
            }
        }

        func urb(endpoint: UInt8 = 0x81, length: Int? = nil, type: USBTransferType = .bulk) -> USBRequest {
            nextHandle += 1
            let size = length ?? self.length
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            buffers[nextHandle] = buffer
            return USBRequest(
                handle: nextHandle, port: 1, address: 2, endpoint: endpoint, type: type, buffer: buffer, length: size)
        }

        var completed: [Completed] { lock.withLock { $0 } }
        var tags: [UInt32] { completed.compactMap(\.tag) }
    }

    private func setUp(depth: Int = 4, length: Int = 8192) -> (ReadAheadUSBDevice, StreamingDevice, Driver) {
        let device = StreamingDevice()
        let readAhead = ReadAheadUSBDevice(wrapping: device, policy: .init(depth: depth))
        let driver = Driver(length: length)
        readAhead.attached(driver.link)
        return (readAhead, device, driver)
    }

    @Test("the device holds our transfers only, and data reaches the driver's URBs in the order it was sent")
    func orderUnderAnyTiming() {
        let (readAhead, device, driver) = setUp()
        for _ in 0..<2 { #expect(readAhead.submit(driver.urb()) == .pending) }
        #expect(device.waiting.count == 4, "depth 4: our transfers, not the driver's")
        #expect(device.waiting.allSatisfy { $0.handle >> 63 == 1 })
        #expect(readAhead.driverURBsWaiting == 2)
        // The driver is slow: the device sends 4 transfers while it holds
        // only 2 URBs, then it resubmits one URB at a time.
        var generator = SystemRandomNumberGenerator()
        var sent: UInt32 = 0
        var resubmitted = 0
        while sent < 200 {
            // A burst from the device, then the driver gives some URBs back.
            for _ in 0..<Int.random(in: 0...4, using: &generator) where device.send(tag: sent + 1) { sent += 1 }
            let returned = driver.completed.count - resubmitted
            for _ in 0..<Int.random(in: 0...returned, using: &generator) {
                resubmitted += 1
                _ = readAhead.submit(driver.urb())
            }
        }
        while driver.completed.count > resubmitted {
            resubmitted += 1
            _ = readAhead.submit(driver.urb())
        }
        #expect(driver.tags == Array(1...UInt32(driver.tags.count)), "in order, none skipped")
        #expect(driver.tags.count >= 196, "every transfer but those still waiting for a URB")
        #expect(readAhead.statistics.urbsAnsweredAtSubmit > 0, "some URBs found data waiting")
        #expect(readAhead.statistics.mostTransfersWaiting <= 4)
    }

    @Test("while no driver URB takes the data, each completed transfer puts one more at the device, up to the depth")
    func growsWhileTheDriverStalls() {
        let device = StreamingDevice()
        let readAhead = ReadAheadUSBDevice(wrapping: device, policy: .init(depth: 8, minimumAtDevice: 2))
        let driver = Driver(length: 8192)
        readAhead.attached(driver.link)
        _ = readAhead.submit(driver.urb())
        #expect(device.waiting.count == 2, "a kernel that keeps up cycles few buffers")
        device.send(tag: 1)
        #expect(device.waiting.count == 2, "taken at once: nothing more")
        var waitingAtDevice: [Int] = []
        for tag in 2...9 {
            device.send(tag: UInt32(tag))  // no driver URB: read ahead
            waitingAtDevice.append(device.waiting.count)
        }
        // 2 + ready while fewer than 8 are in use, then what is left of 8.
        #expect(waitingAtDevice == [3, 4, 5, 4, 3, 2, 1, 0])
        #expect(!device.send(tag: 10), "8 transfers read ahead: the device is no longer polled")
        for _ in 0..<8 { _ = readAhead.submit(driver.urb()) }
        #expect(driver.tags == Array(1...9))
        // Each handed-over transfer goes back while 2 + ready exceeds those
        // at the device (9, 8, 7, 6, 5 after the first five URBs); none after.
        #expect(device.waiting.count == 5)
        device.send(tag: 10)
        #expect(driver.tags.count == 9, "no driver URB waits: read ahead")
    }

    @Test("shedding: no new transfers of ours; once none is left the driver's URBs go to the device directly; order holds across")
    func shedding() {
        let (readAhead, device, driver) = setUp()
        _ = readAhead.submit(driver.urb())
        #expect(device.waiting.count == 4)
        readAhead.setShedding(true)
        device.send(tag: 1)
        #expect(device.waiting.count == 3, "not replaced")
        for tag in 2...4 {
            _ = readAhead.submit(driver.urb())
            device.send(tag: UInt32(tag))
        }
        #expect(device.waiting.isEmpty, "all of ours used up")
        let direct = driver.urb()
        _ = readAhead.submit(direct)
        #expect(device.waiting.map(\.handle) == [direct.handle], "the driver's own URB, at the device")
        // Back to read-ahead with that URB still at the device: ours queue behind it.
        readAhead.setShedding(false)
        #expect(device.waiting.count == 5 && device.waiting.first?.handle == direct.handle)
        let later = driver.urb()
        _ = readAhead.submit(later)
        device.send(tag: 5)  // into the direct URB
        device.send(tag: 6)  // into ours, handed to `later`
        #expect(driver.tags == Array(1...6))
        #expect(driver.completed.map(\.handle).suffix(2) == [direct.handle, later.handle])
        #expect(readAhead.statistics.sheddingChanges == 2)
    }

    @Test("unlinking the driver's last waiting URB cancels our transfers at the device; the next URB restarts polling")
    func unlinkStopsPolling() {
        let (readAhead, device, driver) = setUp()
        _ = readAhead.submit(driver.urb())
        device.send(tag: 1)
        #expect(driver.tags == [1])
        let waiting = driver.urb()
        _ = readAhead.submit(waiting)
        let ours = device.waiting.map(\.handle)
        #expect(ours.count == 4)
        readAhead.cancel(waiting.handle)
        #expect(driver.completed.last?.handle == waiting.handle)
        #expect(driver.completed.last?.completion.error == USBErrno.connectionReset, "the unlink status")
        #expect(Set(device.cancels) == Set(ours), "every transfer of ours at the device is cancelled")
        #expect(device.waiting.isEmpty && readAhead.transfersAtDevice == 0)
        #expect(!device.send(tag: 2), "nothing polls the device any more")

        _ = readAhead.submit(driver.urb())
        #expect(device.waiting.count == 4)
        device.send(tag: 3)
        #expect(driver.tags == [1, 3])
    }

    @Test("a port reset drops what was read ahead (counted); later URBs get only new data")
    func resetDropsReadAhead() {
        let (readAhead, device, driver) = setUp()
        _ = readAhead.submit(driver.urb())
        device.send(tag: 1)
        device.send(tag: 2, length: 300)  // read ahead: no URB waits
        readAhead.reset()
        #expect(readAhead.statistics.transfersDropped == 1)
        #expect(readAhead.statistics.bytesDropped == 300)
        _ = readAhead.submit(driver.urb())
        #expect(driver.tags == [1], "the stale transfer is not handed over")
        device.send(tag: 3)
        #expect(driver.tags == [1, 3])
    }

    @Test("small bulk IN, bulk OUT and interrupt URBs go straight to the device")
    func passThrough() {
        let (readAhead, device, driver) = setUp()
        let small = driver.urb(length: 512)
        let out = driver.urb(endpoint: 0x02)
        let interrupt = driver.urb(endpoint: 0x83, type: .interrupt)
        for request in [small, out, interrupt] { #expect(readAhead.submit(request) == .pending) }
        #expect(device.submitted.map(\.handle) == [small.handle, out.handle, interrupt.handle])
        device.send(tag: 7)
        #expect(driver.completed.first?.handle == small.handle)
        #expect(driver.tags == [7])
        readAhead.cancel(out.handle)
        #expect(device.cancels == [out.handle])
    }

    @Test("a device that refuses our transfers gets the driver's own URBs")
    func refusal() {
        let (readAhead, device, driver) = setUp()
        device.refuseFromNowOn()
        let urb = driver.urb()
        _ = readAhead.submit(urb)
        #expect(driver.completed.first?.handle == urb.handle)
        #expect(driver.completed.first?.completion.error == USBErrno.noDevice)
        #expect(readAhead.submit(driver.urb()) == .refused(USBErrno.noDevice), "from now on the device answers")
    }

    @Test("data longer than a later, shorter URB completes it with -EOVERFLOW and as much as fits")
    func shorterURB() {
        let (readAhead, device, driver) = setUp()
        _ = readAhead.submit(driver.urb())
        device.send(tag: 1, length: 6000)  // into the driver's URB
        device.send(tag: 2, length: 6000)  // read ahead
        let short = driver.urb(length: 4096)
        _ = readAhead.submit(short)
        #expect(driver.completed.last?.handle == short.handle)
        #expect(driver.completed.last?.completion == .failure(USBErrno.overflow, actualLength: 4096))
        #expect(readAhead.statistics.overflows == 1)
    }
}
