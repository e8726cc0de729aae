// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Synchronization
import USBHost

/// Pulls a USB adapter out of the virtual host controller once, whoever
/// asks first: the owner at shutdown, a test's unplug timer, or the device
/// reporting that it is gone. The driver's disconnect runs in the kernel.
final class AdapterRemoval: Sendable {
    let controller: VirtualHostController
    let port: Int
    let deviceName: String
    private let beforeUnplug: @Sendable () -> Void
    private let attached = Atomic<Bool>(true)
    /// The thread `unplugSoon` started.
    private let unplugThread = HostMutex<JoinableThread?>(nil)
    /// The thread `scheduleUnplug` started.
    private let unplugTimer = HostMutex<JoinableThread?>(nil)

    init(controller: VirtualHostController, port: Int, deviceName: String, beforeUnplug: @escaping @Sendable () -> Void = {}) {
        self.controller = controller
        self.port = port
        self.deviceName = deviceName
        self.beforeUnplug = beforeUnplug
    }

    var isAttached: Bool { attached.load(ordering: .acquiring) }

    /// Detaches now, on this thread (a host thread outside device callbacks).
    func unplug() throws {
        guard attached.exchange(false, ordering: .acquiringAndReleasing) else { return }
        beforeUnplug()
        do {
            try controller.detach(port: port)
        } catch {
            throw DeviceError.setupFailed(device: deviceName, reason: "unplugging failed: \(error)")
        }
    }

    /// Detaches on a thread of its own: for callers inside a device's
    /// completion path (libusb's event thread), where detaching would wait
    /// for the very thread that is calling.
    func unplugSoon() {
        unplugThread.withLock { thread in
            // One detaching thread at most; unplug() itself runs once.
            guard thread == nil, isAttached else { return }
            thread = try? JoinableThread { [self] in try? unplug() }
        }
    }

    /// `--unplug-after`: pulls the adapter out `seconds` from the first
    /// call on (later calls, or nil, do nothing). A surprise-removal test.
    func scheduleUnplug(after seconds: Double?) throws {
        guard let seconds else { return }
        try unplugTimer.withLock { timer in
            guard timer == nil else { return }
            timer = try JoinableThread { [self] in
                HostClock.sleep(seconds: seconds)
                try? unplug()
            }
        }
    }

    /// The device's shutdown: lets a scheduled unplug happen, unplugs (if it
    /// has not), and finishes the USB trace file.
    func shutDown(trace: USBMonitorTraceWriter?) {
        let timer = unplugTimer.withLock { timer in
            defer { timer = nil }
            return timer
        }
        timer?.join()
        try? unplug()
        trace?.flush()
        try? trace?.close()
    }

    /// Waits for an `unplugSoon` detach to finish.
    func waitForUnplug() {
        let thread = unplugThread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        thread?.join()
    }
}
