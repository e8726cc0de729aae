// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import Capture
import KernelSockets
import LinuxKernel
import SystemPackage

/// Boot, banner, halt; with the host threads of the process before boot
/// and after halt (the kernel's host threads must all be gone again).
func runBootHalt() throws {
    // A sanitizer runtime starts a helper thread of its own with the
    // process's first pthread_create (ThreadSanitizer's background thread):
    // one thread started and joined first makes it part of the baseline.
    try JoinableThread {}.join()
    let threadsBefore = HostProcessStatus.threadCount
    let console = ConsoleRecorder()
    let kernel = try Kernel.boot(console: console.sink)
    ProbeOutput.result("host_threads_running", HostProcessStatus.threadCount)
    guard let banner = console.bannerLine else {
        ProbeOutput.fail("no \"Linux version\" line on the kernel console\n--- kernel log tail ---\n\(kernel.consoleLog)")
    }
    ProbeOutput.result("banner", banner)
    ProbeOutput.result("boot_ns", kernel.bootNanoseconds)
    try kernel.halt()
    ProbeOutput.result(["host_threads_before": "\(threadsBefore)", "host_threads_after": "\(HostProcessStatus.threadCount)"])
    ProbeOutput.result("halted", 1)
}

func runSyscalls() throws {
    let kernel = try Kernel.boot()

    let pid = try kernel.getpid()
    guard pid > 0 else { ProbeOutput.fail("getpid returned \(pid), expected > 0") }
    ProbeOutput.result("pid", pid)

    let name = try kernel.uname()
    guard name.sysname == "Linux" else { ProbeOutput.fail("uname sysname is \(name.sysname.debugDescription), expected \"Linux\"") }
    ProbeOutput.result("sysname", name.sysname)
    ProbeOutput.result("release", name.release)
    ProbeOutput.result("version", name.version)
    ProbeOutput.result("machine", name.machine)

    try checkFileRoundTrip(kernel)
    try checkNanosleep(kernel, seconds: 0.05)
    try checkPacketRingLending(kernel)
    // A ring capture (on lo, which is down: it never gets a frame) outlives
    // the kernel: it must let go without calling into it or touching the
    // RAM the halt gave back.
    var ringCapture: PacketCapture? = try PacketCapture(kernel: kernel, interfaceIndex: 1, receivePath: .ring)
    guard ringCapture?.receivePath == .ring else { ProbeOutput.fail("a capture on lo could not set up its receive ring") }

    try kernel.halt()
    ringCapture = nil
    ProbeOutput.result("ring_capture_after_halt", "released")
    ProbeOutput.result("syscalls", "ok")
}

/// lkl_packet_ring_lend refuses what has no receive ring to lend (the
/// lending itself is exercised by every capture: PacketReceiveRing).
private func checkPacketRingLending(_ kernel: Kernel) throws {
    var blocks = [UnsafeMutableRawPointer?](repeating: nil, count: 4)
    var size: UInt32 = 0
    func lend(_ descriptor: Int) -> Int32 {
        blocks.withUnsafeMutableBufferPointer { lkl_packet_ring_lend(Int32(descriptor), $0.baseAddress, 4, &size) }
    }
    let netlink = try KernelSocket(kernel: kernel, domain: SocketABI.addressFamilyNetlink, type: SocketABI.typeRaw, protocol: 0)
    defer { netlink.close() }
    let packet = try KernelSocket(kernel: kernel, domain: SocketABI.addressFamilyPacket, type: SocketABI.typeRaw, protocol: 0)
    defer { packet.close() }
    let file = try kernel.open("/packet-ring-not-a-socket", flags: [.create, .readWrite], mode: 0o600)
    defer { try? kernel.close(file) }
    let cases: [(what: String, got: Int32, want: Errno)] = [
        ("a descriptor that is not open", lend(987), .badFileDescriptor),
        ("a file that is not a socket", lend(file), .notSocket),
        ("a netlink socket", lend(netlink.descriptor), .protocolWrongTypeForSocket),
        ("a packet socket without a ring", lend(packet.descriptor), .noSuchAddressOrDevice),
        ("returning a ring never lent", lkl_packet_ring_return(Int32(packet.descriptor)), .noSuchAddressOrDevice),
    ]
    for check in cases where check.got != -check.want.rawValue {
        ProbeOutput.fail("lkl_packet_ring_lend on \(check.what) returned \(check.got), expected -\(check.want.rawValue) (\(check.want))")
    }
    ProbeOutput.result("packet_ring_refusals", cases.count)
}

private func checkFileRoundTrip(_ kernel: Kernel) throws {
    let directory = "/tmp-test"
    let path = directory + "/data.bin"
    let length = 1000
    let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    try kernel.mkdir(directory, mode: 0o755)
    let writeFD = try kernel.open(path, flags: [.create, .readWrite, .truncate], mode: 0o644)
    var written = 0
    while written < length {
        let count = try kernel.write(writeFD, Array(payload[written...]))
        guard count > 0 else { ProbeOutput.fail("write to \(path) made no progress at byte \(written)") }
        written += count
    }
    try kernel.close(writeFD)

    let readFD = try kernel.open(path, flags: .readOnly)
    var readBack: [UInt8] = []
    while readBack.count < length + 1 {  // ask for one byte more to see EOF
        let chunk = try kernel.read(readFD, count: length + 1 - readBack.count)
        if chunk.isEmpty { break }
        readBack += chunk
    }
    try kernel.close(readFD)
    guard readBack == payload else {
        let firstDifference = zip(readBack, payload).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ProbeOutput.fail(
            "read back \(readBack.count) bytes from \(path), expected \(length) identical bytes"
                + (firstDifference.map { "; first difference at byte \($0)" } ?? ""))
    }
    ProbeOutput.result("file_roundtrip_bytes", readBack.count)

    let entries = try kernel.directoryEntries(atPath: directory)
    guard entries.contains(where: { $0.name == "data.bin" }) else {
        ProbeOutput.fail("getdents64 on \(directory) did not list data.bin: \(entries.map(\.name))")
    }
    ProbeOutput.result("dir_entries", entries.map(\.name).sorted().joined(separator: ","))
}

private func checkNanosleep(_ kernel: Kernel, seconds: Double) throws {
    let requested = UInt64(seconds * 1e9)
    let start = HostClock.monotonicNanoseconds()
    try kernel.nanosleep(seconds: seconds)
    let elapsed = HostClock.monotonicNanoseconds() - start
    ProbeOutput.result(["nanosleep_requested_ns": "\(requested)", "nanosleep_elapsed_ns": "\(elapsed)"])
    // Allow 10% for clock granularity differences between kernel and host.
    guard elapsed * 10 >= requested * 9 else {
        ProbeOutput.fail("nanosleep(\(seconds)) returned after \(elapsed) ns, expected at least 90% of \(requested) ns")
    }
}

func runPanic(extraCommandLine: String) throws {
    // The kernel is expected to panic during boot; the panic host operation
    // then ends the process with KernelConsole.panicExitStatus.
    let kernel = try Kernel.boot(commandLine: commandLine("lkl.test_panic=1", extra: extraCommandLine))
    // A panic from a late kernel thread may come just after boot returns.
    hostSleep(seconds: 10)
    ProbeOutput.fail(
        "the kernel booted with lkl.test_panic=1 and did not panic within 10 s\n"
            + "--- kernel log tail ---\n\(kernel.consoleLog)")
}

/// A 48 MiB file in the kernel's root file system makes its page cache
/// touch that much of its RAM; once the file is gone, free page reporting
/// hands the pages back to the host within seconds, so the RAM mapping's
/// resident size falls back near where it was.
func runRAMReturn() throws {
    let kernel = try Kernel.boot(memoryMiB: 128)
    let before = HostProcessStatus.kernelRAMResidentKiB
    let path = "/ram-return.bin"
    let chunk = [UInt8](repeating: 0xA5, count: 1 << 20)
    let descriptor = try kernel.open(path, flags: [.create, .readWrite, .truncate], mode: 0o600)
    for _ in 0..<48 {
        var written = 0
        while written < chunk.count { written += try kernel.write(descriptor, Array(chunk[written...])) }
    }
    try kernel.close(descriptor)
    let filled = HostProcessStatus.kernelRAMResidentKiB
    try kernel.unlink(path)
    // Reports run a couple of seconds after free blocks gather.
    var after = filled
    let deadline = HostClock.monotonicNanoseconds() + 20_000_000_000
    while HostClock.monotonicNanoseconds() < deadline {
        HostClock.sleep(seconds: 0.5)
        after = HostProcessStatus.kernelRAMResidentKiB
        if after < before + 8 << 10 { break }
    }
    ProbeOutput.result(["ram_kib_before": "\(before)", "ram_kib_filled": "\(filled)", "ram_kib_after": "\(after)"])
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}
