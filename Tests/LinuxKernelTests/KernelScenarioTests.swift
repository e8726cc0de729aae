// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Testing

/// Each test boots the kernel in its own probe process (the library boots
/// once per process). They need the real liblkl.a in build/out/lib.
@Suite("Kernel scenarios (probe processes)", .timeLimit(.minutes(10)))
struct KernelScenarioTests {
    @Test("boot banner reports the kernel version under test, halt succeeds")
    func bootBanner() async throws {
        let run = try await ProbeRunner.run("boot-halt")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        let banner = try #require(run.results["banner"], "no banner RESULT\n\(run.diagnosis)")
        #expect(banner.contains("Linux version \(KernelUnderTest.version)."), "banner: \(banner)")
        #expect((run.integer("boot_ns") ?? 0) > 0, "\(run.diagnosis)")
        #expect(run.integer("halted") == 1)
    }

    @Test("kernel RAM a 48 MiB file touched goes back to the host once the file is deleted")
    func freedRAMReturnsToTheHost() async throws {
        let run = try await ProbeRunner.run("ram-return")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        let before = try #require(run.integer("ram_kib_before"), "\(run.diagnosis)")
        let filled = try #require(run.integer("ram_kib_filled"))
        let after = try #require(run.integer("ram_kib_after"))
        #expect(filled >= before + 40 << 10, "the file touched only \(filled - before) KiB of kernel RAM")
        #expect(after < before + 8 << 10, "\(after - before) KiB of kernel RAM still resident after the file went (\(filled - before) at its peak)")
    }

    @Test("getpid, uname, file round trip, nanosleep")
    func basicSyscalls() async throws {
        let run = try await ProbeRunner.run("syscalls")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect((run.integer("pid") ?? 0) > 0)
        #expect(run.results["sysname"] == "Linux")
        #expect(run.results["release"]?.hasPrefix("\(KernelUnderTest.version).") == true, "release: \(run.results["release"] ?? "-")")
        #expect(run.results["machine"]?.isEmpty == false)
        // uname -v names preemptible models (PREEMPT, PREEMPT_DYNAMIC, PREEMPT_RT);
        // ours has none (lkl_port checks PREEMPT_NONE against VOLUNTARY too).
        let version = try #require(run.results["version"], "\(run.diagnosis)")
        #expect(!version.contains("PREEMPT"), "uname -v: \(version)")
        #expect(run.integer("file_roundtrip_bytes") == 1000)
        #expect(run.results["dir_entries"]?.split(separator: ",").contains("data.bin") == true)
        let requested = try #require(run.integer("nanosleep_requested_ns"))
        let elapsed = try #require(run.integer("nanosleep_elapsed_ns"))
        #expect(elapsed * 10 >= requested * 9, "slept \(elapsed) ns for a \(requested) ns request")
        #expect(run.integer("packet_ring_refusals") == 5)
        #expect(run.results["ring_capture_after_halt"] == "released")
        #expect(run.results["syscalls"] == "ok")
    }

    // 64 threads enter at once: many hand-offs through idle and parked
    // tasks (the race that once stranded the CPU, cpu.c lkl_escape).
    @Test("kernel tasks of exited host threads are reclaimed")
    func threadsAreReclaimed() async throws {
        let run = try await ProbeRunner.run("threads")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        let threadCount = try #require(run.integer("threads"))
        let before = try #require(run.integer("tasks_before"), "\(run.diagnosis)")
        let during = try #require(run.integer("tasks_during"), "\(run.diagnosis)")
        let after = try #require(run.integer("tasks_after"), "\(run.diagnosis)")
        // Each live host thread that made syscalls has its own kernel task;
        // this also shows the /proc count sees them at all.
        #expect(during >= before + threadCount, "before \(before), with \(threadCount) threads alive \(during)")
        #expect(after <= before + 2, "before \(before), after the threads exited \(after)")
    }

    @Test("a reader blocked in the kernel does not hold the CPU")
    func blockedReaderReleasesCPU() async throws {
        let run = try await ProbeRunner.run("blocking")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.integer("reader_bytes") == 5)
        #expect(run.integer("main_getpid_calls") == 100)
    }

    @Test("a kernel panic ends the process with a message and the log tail")
    func panicExitsWithMessage() async throws {
        let run = try await ProbeRunner.run("panic")
        #expect(!run.timedOut, "\(run.diagnosis)")
        #expect(!run.killedBySignal, "\(run.diagnosis)")
        #expect(run.status != 0)
        #expect(run.status == KernelConsole.panicExitStatus, "\(run.diagnosis)")
        #expect(run.standardError.contains("kernel panic inside the library"), "\(run.diagnosis)")
        // The part after the marker is the kernel's own console output.
        let tail = run.standardError.split(separator: "--- kernel log tail ---", maxSplits: 1).last ?? ""
        #expect(tail.contains("Kernel panic"), "kernel log tail lacks the kernel's panic message\n\(run.diagnosis)")
    }

    @Test("bench-syscall reports per-call costs and peak RSS")
    func benchSyscallSmoke() async throws {
        let run = try await ProbeRunner.run("bench-syscall", "10000")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(run.integer("iterations") == 10000)
        #expect((run.results["lkl_getpid_ns"].flatMap(Double.init) ?? 0) > 0)
        #expect((run.results["host_getpid_ns"].flatMap(Double.init) ?? 0) > 0)
        #expect((run.integer("maxrss_kib") ?? 0) > 0)
    }

    // Each run must end on its own (a hang is killed at the timeout and
    // fails), and halt must leave no host thread of the kernel behind: the
    // process has as many threads after halt as before boot.
    @Test("boot and halt 100 times, each in a fresh process: no hang, no leaked host thread", .timeLimit(.minutes(30)))
    func repeatedBootHalt() async throws {
        let bootCount = 100
        let concurrentProcesses = 4
        let maximumReportedFailures = 3
        let hangTimeoutSeconds: Double = 60
        var failures = 0

        try await withThrowingTaskGroup(of: (Int, ProbeRun).self) { group in
            var launched = 0
            func launchNext() {
                let index = launched
                launched += 1
                // Quiet console logging: only the outcome matters here.
                group.addTask {
                    (
                        index,
                        try await ProbeRunner.run(
                            ["boot-halt"], timeoutSeconds: hangTimeoutSeconds, environment: ["AIRTAP_LOG_LEVEL": "warning"])
                    )
                }
            }
            while launched < min(concurrentProcesses, bootCount) { launchNext() }

            for try await (index, run) in group {
                let before = run.integer("host_threads_before")
                let running = run.integer("host_threads_running")
                let after = run.integer("host_threads_after")
                // The count must see the kernel's threads at all, and all of them gone after halt.
                let threadsBack = before != nil && after == before && (running ?? 0) > (before ?? 0)
                if !run.exitedSuccessfully || run.results["banner"] == nil || !threadsBack {
                    let threads = "host threads before boot \(before.map(String.init) ?? "-"), while running "
                        + "\(running.map(String.init) ?? "-"), after halt \(after.map(String.init) ?? "-")"
                    Issue.record("boot \(index + 1) of \(bootCount) failed (\(threads))\n\(run.diagnosis)")
                    failures += 1
                    if failures >= maximumReportedFailures {
                        group.cancelAll()
                        break
                    }
                }
                if launched < bootCount { launchNext() }
            }
        }
        #expect(failures == 0)
    }
}

/// The kernel the library is built from (kernel/build.sh KERNEL_VERSION).
enum KernelUnderTest {
    static let version = "7.3"
}
