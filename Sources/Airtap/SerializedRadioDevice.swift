// SPDX-License-Identifier: GPL-2.0-only

import Capture
import LinuxKernel
import RadioDevices
import Wireless

/// A device whose every use takes one lock, so the library's threads (the
/// callers' and the capture thread running `CaptureRun`) never use the
/// device's netlink sockets or state at the same time. Devices themselves
/// are single-threaded classes; this is what makes sharing one sound.
final class SerializedRadioDevice: RadioDevice, @unchecked Sendable {
    // @unchecked: `device` is only touched inside `lock`; the remaining
    // stored properties are immutable copies of values (or the Sendable
    // kernel).
    private let device: any RadioDevice
    private let lock = HostMutex<Void>(())
    let name: String
    let kernel: Kernel
    let wiphy: WiphyInfo
    let monitorInterface: WirelessInterface
    let interfaceDescription: String

    init(_ device: any RadioDevice) {
        self.device = device
        name = device.name
        kernel = device.kernel
        wiphy = device.wiphy
        monitorInterface = device.monitorInterface
        interfaceDescription = device.interfaceDescription
    }

    /// Handed out under the lock but used outside it: only for the
    /// protocol; the library itself never calls it.
    var control: WirelessControl { lock.withLock { _ in device.control } }

    var currentChannel: ChannelSpec? { lock.withLock { _ in device.currentChannel } }

    var isPresent: Bool { lock.withLock { _ in device.isPresent } }

    func tune(_ spec: ChannelSpec) throws {
        try lock.withLock { _ in try device.tune(spec) }
    }

    func captureDidStart() throws {
        try lock.withLock { _ in try device.captureDidStart() }
    }

    /// Not serialized: the read-ahead layer has its own lock, and the
    /// capture loop calls this while another thread may hold ours.
    func setReceiveShedding(_ on: Bool) {
        device.setReceiveShedding(on)
    }

    func shutdown() {
        lock.withLock { _ in device.shutdown() }
    }
}

/// Runs `body` on a host thread of its own and returns its result: booting
/// the kernel and bringing a device up take seconds of blocking calls,
/// which do not belong on Swift concurrency's few shared threads.
func onHostThread<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    let thread = HostMutex<JoinableThread?>(nil)
    let result: Result<Value, any Error> = await withCheckedContinuation { continuation in
        do {
            // The handle is stored under the lock the thread takes before
            // resuming us: a body that returns at once (a refused open)
            // must not resume us before there is a handle to join.
            try thread.withLock { handle in
                handle = try JoinableThread {
                    let result = Result { try body() }
                    thread.withLock { _ in }
                    continuation.resume(returning: result)
                }
            }
        } catch {
            continuation.resume(returning: .failure(error))
        }
    }
    // The thread has resumed us as its last act; joining it is immediate.
    // Joined whether the body threw or not.
    thread.withLock { $0 }?.join()
    return try result.get()
}
