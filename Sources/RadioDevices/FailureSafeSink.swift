// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Capture
import LinuxKernel
import Synchronization

/// A capture's sink, finished even when the kernel fails under it: while
/// the capture runs it is registered with `KernelFailureHandlers`, and a
/// panic, oops or stuck kernel (on whatever thread) writes the closing
/// statistics from the last counters seen and closes the file, so it is
/// complete and valid with every frame captured so far. Every use of the
/// inner sink is under one lock, so the failure path never interleaves
/// with a write in progress. A capture of several devices has one set of
/// counters per interface, and each gets its statistics block.
final class FailureSafeSink: CapturedFrameSink, @unchecked Sendable {
    private struct Counters {
        var delivered: UInt64 = 0
        var kernelReceived: UInt64 = 0
        var kernelDropped: UInt64 = 0
    }

    private struct State {
        var finished = false
        var interfaces: [Counters]
    }

    private let inner: any CapturedFrameSink
    private let state: HostMutex<State>
    private let startRealtime: UInt64
    private let token = Atomic<Int>(0)

    init(_ inner: any CapturedFrameSink, startRealtime: UInt64, interfaces: Int = 1) {
        self.inner = inner
        self.startRealtime = startRealtime
        state = HostMutex(State(interfaces: Array(repeating: Counters(), count: max(interfaces, 1))))
        token.store(KernelFailureHandlers.add { [self] failure in finishAfterFailure(failure) }, ordering: .releasing)
    }

    /// The capture is over (normally or by a thrown error): no failure handling any more.
    func unregister() {
        KernelFailureHandlers.remove(token.load(ordering: .acquiring))
    }

    /// The kernel's counters as last read (the failure path cannot ask it).
    func noteKernelCounters(_ statistics: PacketSocketStatistics, interface: Int = 0) {
        state.withLock { state in
            state.interfaces[interface].kernelReceived = statistics.received
            state.interfaces[interface].kernelDropped = statistics.dropped
        }
    }

    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        try writePacket(data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds, interface: 0)
    }

    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64, interface: Int) throws {
        try state.withLock { state in
            guard !state.finished else { return }
            try inner.writePacket(
                data, originalLength: originalLength, timestampNanoseconds: timestampNanoseconds, interface: interface)
            state.interfaces[interface].delivered += 1
        }
    }

    func writeStatistics(_ statistics: InterfaceStatistics) throws {
        try writeStatistics(statistics, interface: 0)
    }

    func writeStatistics(_ statistics: InterfaceStatistics, interface: Int) throws {
        try state.withLock { state in
            guard !state.finished else { return }
            try inner.writeStatistics(statistics, interface: interface)
        }
    }

    func flush() throws {
        try state.withLock { state in
            guard !state.finished else { return }
            try inner.flush()
        }
    }

    func rotateIfDue() throws {
        try state.withLock { state in
            guard !state.finished else { return }
            try inner.rotateIfDue()
        }
    }

    func close() throws {
        try state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            try inner.close()
        }
    }

    /// Runs on the failing thread. The capture thread holds the lock only
    /// while writing host memory and files (never inside the kernel), so a
    /// short wait gets it unless that very thread is the one failing.
    private func finishAfterFailure(_ failure: KernelFailure) {
        for _ in 0..<200 {
            let done: UInt64?? = state.withLockIfAvailable { state -> UInt64? in
                guard !state.finished else { return nil }
                state.finished = true
                let end = CaptureRun.realtimeNanoseconds()
                for (interface, counters) in state.interfaces.enumerated() {
                    try? inner.writeStatistics(
                        InterfaceStatistics(
                            startNanoseconds: startRealtime, endNanoseconds: end, received: counters.kernelReceived,
                            osDropped: counters.kernelDropped, delivered: counters.delivered),
                        interface: interface)
                }
                try? inner.close()
                return state.interfaces.reduce(0) { $0 + $1.delivered }
            }
            if let done {
                if let frames = done { report("airtap: capture finished after the failure: \(frames) frames written, file complete\n") }
                return
            }
            usleep(5000)
        }
        report("airtap: the capture file could not be finished (its writer was busy when the kernel failed)\n")
    }

    private func report(_ message: String) {
        let bytes = Array(message.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
