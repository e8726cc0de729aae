// SPDX-License-Identifier: GPL-2.0-only

import CHostSyscall
import CLinuxKernel
import LinuxKernel

func runBenchBoot() throws {
    let kernel = try Kernel.boot()
    ProbeOutput.result("boot_ns", kernel.bootNanoseconds)
    ProbeOutput.result("maxrss_kib", peakResidentKiB())
    try kernel.halt()
}

func runBenchSyscall(iterations: Int) throws {
    guard iterations > 0 else { ProbeOutput.fail("iterations must be positive, got \(iterations)") }
    let kernel = try Kernel.boot()
    ProbeOutput.result("boot_ns", kernel.bootNanoseconds)

    // Straight lkl_syscall with a reused argument block: this measures the
    // library's entry path, not Kernel.syscall's argument marshalling.
    let getpidNumber = LinuxSyscall.getpid
    var parameters = [Int](repeating: 0, count: 6)
    var checksum = 0
    let kernelNanoseconds: UInt64 = parameters.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return 0 }
        let warmUp = lkl_syscall(getpidNumber, base)
        guard warmUp > 0 else { ProbeOutput.fail("lkl_syscall(getpid) returned \(warmUp)") }
        let start = HostClock.monotonicNanoseconds()
        for _ in 0..<iterations {
            checksum &+= lkl_syscall(getpidNumber, base)
        }
        return HostClock.monotonicNanoseconds() - start
    }

    let hostWarmUp = airtap_host_getpid_syscall()
    guard hostWarmUp > 0 else { ProbeOutput.fail("host getpid syscall returned \(hostWarmUp)") }
    let hostStart = HostClock.monotonicNanoseconds()
    for _ in 0..<iterations {
        checksum &+= airtap_host_getpid_syscall()
    }
    let hostNanoseconds = HostClock.monotonicNanoseconds() - hostStart

    ProbeOutput.result([
        "lkl_getpid_ns": perCallNanoseconds(total: kernelNanoseconds, count: iterations),
        "host_getpid_ns": perCallNanoseconds(total: hostNanoseconds, count: iterations),
    ])
    ProbeOutput.result(["iterations": "\(iterations)", "checksum": "\(checksum)"])
    ProbeOutput.result("maxrss_kib", peakResidentKiB())
    try kernel.halt()
}
