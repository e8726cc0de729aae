// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import SystemPackage

// MARK: - threads

private final class ThreadProgress: Sendable {
    struct State {
        var finishedSyscalls = 0
        var released = false
        var failures: [String] = []
    }
    let state = HostMutex(State())
}

func runThreads() throws {
    let threadCount = 64
    let syscallsPerThread = 10

    let kernel = try Kernel.boot()
    let watchdog = Watchdog(seconds: 60, message: "threads scenario stuck")
    try kernel.mountIfNeeded("proc", at: "/proc")
    let before = try countKernelTasks(kernel)

    let progress = ThreadProgress()
    let threads = (0..<threadCount).map { index in
        HostThread.spawn {
            for call in 0..<syscallsPerThread {
                do {
                    if call.isMultiple(of: 2) {
                        let pid = try kernel.getpid()
                        if pid <= 0 { throw KernelError.malformedReply("getpid returned \(pid)") }
                    } else {
                        let sysname = try kernel.uname().sysname
                        if sysname != "Linux" { throw KernelError.malformedReply("uname sysname \(sysname)") }
                    }
                } catch {
                    progress.state.withLock { $0.failures.append("thread \(index), call \(call): \(error)") }
                }
            }
            progress.state.withLock { $0.finishedSyscalls += 1 }
            // Stay alive until the main thread has counted tasks with every
            // thread present, so the count shows their kernel tasks exist.
            _ = waitUntil(seconds: 30) { progress.state.withLock { $0.released } }
        }
    }

    let allFinished = waitUntil(seconds: 30) {
        progress.state.withLock { $0.finishedSyscalls } == threadCount
    }
    guard allFinished else { ProbeOutput.fail("not all \(threadCount) threads finished their syscalls within 30 s") }
    let during = try countKernelTasks(kernel)
    progress.state.withLock { $0.released = true }
    for thread in threads { thread.join() }

    let failures = progress.state.withLock { $0.failures }
    guard failures.isEmpty else {
        ProbeOutput.fail("\(failures.count) syscalls failed in threads:\n" + failures.prefix(10).joined(separator: "\n"))
    }

    // Exited tasks are released asynchronously inside the kernel; allow it
    // up to 2 s to catch up before reporting.
    let settleStart = HostClock.monotonicNanoseconds()
    var after = try countKernelTasks(kernel)
    while after.tasks > before.tasks + 2, HostClock.monotonicNanoseconds() - settleStart < 2_000_000_000 {
        hostSleep(seconds: 0.01)
        after = try countKernelTasks(kernel)
    }
    let settleMilliseconds = (HostClock.monotonicNanoseconds() - settleStart) / 1_000_000

    ProbeOutput.result(["threads": "\(threadCount)", "syscalls_per_thread": "\(syscallsPerThread)"])
    ProbeOutput.result(["processes_before": "\(before.processes)", "processes_after": "\(after.processes)"])
    ProbeOutput.result("tasks_before", before.tasks)
    ProbeOutput.result("tasks_during", during.tasks)
    ProbeOutput.result("tasks_after", after.tasks)
    ProbeOutput.result("settle_ms", settleMilliseconds)

    watchdog.disarm()
    try kernel.halt()
}

/// Counts kernel processes (numeric /proc entries) and tasks (entries of
/// each /proc/<pid>/task), so threads are counted whatever their grouping.
func countKernelTasks(_ kernel: Kernel) throws -> (processes: Int, tasks: Int) {
    let pids = try kernel.directoryEntries(atPath: "/proc").map(\.name).filter(isNumeric)
    var tasks = 0
    for pid in pids {
        do {
            tasks += try kernel.directoryEntries(atPath: "/proc/\(pid)/task").map(\.name).filter(isNumeric).count
        } catch KernelError.syscall(_, let errno) where errno == .noSuchFileOrDirectory {
            // Exited between the two listings.
        }
    }
    return (pids.count, tasks)
}

private func isNumeric(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
}

// MARK: - blocking

private final class ReaderProgress: Sendable {
    struct State {
        var started = false
        var finished = false
        var received: [UInt8] = []
        var failure: String?
        var waitNanoseconds: UInt64 = 0
    }
    let state = HostMutex(State())
}

func runBlocking() throws {
    let kernel = try Kernel.boot()
    let watchdog = Watchdog(
        seconds: 30, message: "blocking scenario stuck: a blocked reader may be holding the kernel")
    let pipe = try kernel.pipe()
    let message: [UInt8] = Array("hello".utf8)

    let progress = ReaderProgress()
    let reader = HostThread.spawn {
        progress.state.withLock { $0.started = true }
        let start = HostClock.monotonicNanoseconds()
        var received: [UInt8] = []
        var failure: String?
        do {
            while received.count < message.count {
                let chunk = try kernel.read(pipe.readEnd, count: message.count - received.count)
                if chunk.isEmpty { break }
                received += chunk
            }
        } catch {
            failure = "\(error)"
        }
        let waited = HostClock.monotonicNanoseconds() - start
        progress.state.withLock {
            $0.received = received
            $0.failure = failure
            $0.waitNanoseconds = waited
            $0.finished = true
        }
    }

    guard waitUntil(seconds: 10, { progress.state.withLock { $0.started } }) else {
        ProbeOutput.fail("reader thread did not start within 10 s")
    }
    // The sleep gives the reader ample time to block in read(); that this
    // thread's syscalls proceed meanwhile shows the reader released the CPU.
    let sleepStart = HostClock.monotonicNanoseconds()
    try kernel.nanosleep(seconds: 0.02)
    let sleepNanoseconds = HostClock.monotonicNanoseconds() - sleepStart
    let getpidCount = 100
    let getpidStart = HostClock.monotonicNanoseconds()
    for _ in 0..<getpidCount {
        _ = try kernel.getpid()
    }
    let getpidNanoseconds = HostClock.monotonicNanoseconds() - getpidStart

    if let early = progress.state.withLock({ $0.finished ? $0 : nil }) {
        ProbeOutput.fail(
            "reader returned before anything was written (\(early.received.count) bytes, error: \(early.failure ?? "none"))")
    }

    let written = try kernel.write(pipe.writeEnd, message)
    guard written == message.count else { ProbeOutput.fail("pipe write accepted \(written) of \(message.count) bytes") }
    guard waitUntil(seconds: 10, { progress.state.withLock { $0.finished } }) else {
        ProbeOutput.fail("reader did not wake up within 10 s of the pipe write")
    }
    reader.join()

    let outcome = progress.state.withLock { $0 }
    if let failure = outcome.failure { ProbeOutput.fail("reader failed: \(failure)") }
    guard outcome.received == message else {
        ProbeOutput.fail("reader got \(outcome.received), expected \(message)")
    }

    ProbeOutput.result("main_getpid_calls", getpidCount)
    ProbeOutput.result("main_getpid_ns", getpidNanoseconds)
    ProbeOutput.result("main_nanosleep_ns", sleepNanoseconds)
    ProbeOutput.result("reader_bytes", outcome.received.count)
    ProbeOutput.result("reader_wait_ns", outcome.waitNanoseconds)

    try kernel.close(pipe.readEnd)
    try kernel.close(pipe.writeEnd)
    watchdog.disarm()
    try kernel.halt()
}
