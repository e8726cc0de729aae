// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import LinuxKernel
import SystemPackage
import USBDevices
import USBHost

/// The usbtest cases the usbtest scenario runs, with their parameters:
/// testusb's defaults (1000 iterations, 1024 bytes, vary 1024, sglen 32)
/// except where they make a case meaningless or needlessly slow.
let usbtestCases: [USBTestParameters] = [
    // control
    USBTestParameters(test: 9),
    USBTestParameters(test: 10),
    // ctrl_out needs vary < length; linux-usb.org's test.sh uses 256/1.
    USBTestParameters(test: 14, length: 256, vary: 1),
    USBTestParameters(test: 21, length: 256, vary: 1),
    // bulk, simple and queued (5..8: sglists of sglen entries)
    USBTestParameters(test: 1),
    USBTestParameters(test: 2),
    // vary 1024 on 1024 bytes never varies; 421 walks odd lengths.
    USBTestParameters(test: 3, vary: 421),
    USBTestParameters(test: 4, vary: 421),
    USBTestParameters(test: 5),
    USBTestParameters(test: 6),
    USBTestParameters(test: 7, vary: 421),
    USBTestParameters(test: 8, vary: 421),
    USBTestParameters(test: 17),
    USBTestParameters(test: 18),
    USBTestParameters(test: 19),
    USBTestParameters(test: 20),
    // unlink: each iteration sleeps up to a jiffy (4 ms at HZ=250) twice.
    USBTestParameters(test: 11, iterations: 100),
    USBTestParameters(test: 12, iterations: 100),
    USBTestParameters(test: 24, iterations: 100),
    // halt
    USBTestParameters(test: 13),
    // interrupt
    USBTestParameters(test: 25),
    USBTestParameters(test: 26),
    // isochronous: the virtual controller refuses iso URBs
    USBTestParameters(test: 15),
    USBTestParameters(test: 16),
    USBTestParameters(test: 22),
    USBTestParameters(test: 23),
]

/// Isochronous tests: reported as unsupported, not failed.
let isochronousTests: Set<UInt32> = [15, 16, 22, 23]

/// The arguments of the gadget-zero scenarios: `super` (or `high`, the
/// default) picks the speed gadget zero runs at; anything else is the
/// scenario's own (test numbers, a path).
struct GadgetZeroArguments {
    var speed: USBSpeed = .high
    var rest: [String] = []

    init(_ arguments: [String]) {
        for argument in arguments {
            switch argument {
            case "super": speed = .super
            case "high": speed = .high
            default: rest.append(argument)
            }
        }
    }

    /// The usbtest case selection (comma-separated numbers).
    var selection: String { rest.joined(separator: ",") }

    var gadgetOptions: GadgetZero.Options { GadgetZero.Options(speed: speed, bulkMaxBurst: speed == .super ? 3 : 0) }
}

/// Boots, attaches gadget zero (at high speed or SuperSpeed), runs usbtest
/// cases (all, or the comma-separated numbers given) through usbfs as
/// testusb does, prints a table and one RESULT line per case.
func runUSBTest(arguments: [String]) throws {
    let parsed = GadgetZeroArguments(arguments)
    let cases = selectedUSBTestCases(parsed.selection)
    let watchdog = Watchdog(seconds: 300, message: "usbtest scenario")
    defer { watchdog.disarm() }

    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let bench = USBTestBench(kernel: kernel, controller: VirtualHostController())
    let gadget = GadgetZero(options: parsed.gadgetOptions)
    let (port, node) = try bench.attachAndWait(gadget)
    ProbeOutput.result(["port": "\(port)", "node": node])
    try bench.reportSpeed(port: port)
    let fd = try kernel.open(node, flags: .readWrite)
    try bench.waitForUSBTest(fd: fd)

    let failures = try runUSBTestCases(kernel, fd: fd, cases: cases)
    let statistics = gadget.statistics
    ProbeOutput.result([
        "usbtest_failures": "\(failures)",
        "sink_pattern_errors": "\(statistics.sinkPatternErrors)",
        "set_address_handled": "\(bench.controller.statistics.setAddressHandled)",
    ])

    try kernel.close(fd)
    try bench.requireNothingInFlight("after_tests")
    try bench.controller.detach(port: port)
    try bench.requireNothingInFlight("after_detach")
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// `usbtestCases`, or those whose numbers the comma-separated `selection` names.
func selectedUSBTestCases(_ selection: String) -> [USBTestParameters] {
    let wanted = Set(selection.split(separator: ",").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) })
    return wanted.isEmpty ? usbtestCases : usbtestCases.filter { wanted.contains($0.test) }
}

/// Runs `cases` on the usbtest-bound device open as `fd`, as testusb
/// does: one USBTEST line per case, then the table. Returns the failures
/// (isochronous cases refused with EOPNOTSUPP are unsupported, not failed).
func runUSBTestCases(_ kernel: Kernel, fd: Int, cases: [USBTestParameters]) throws -> Int {
    var rows: [(USBTestParameters, String, String)] = []
    var failures = 0
    for parameters in cases {
        let outcome = try USBFS.usbtest(kernel, fd: fd, parameters)
        let result: String
        switch outcome.errno {
        case nil:
            result = "pass"
        case .some(let errno) where errno.rawValue == USBErrno.notSupported.rawValue && isochronousTests.contains(parameters.test):
            result = "unsupported"
        case .some(let errno):
            result = "fail(errno \(errno.rawValue) \(errno))"
            failures += 1
        }
        let duration = outcome.errno == nil
            ? "\(outcome.kernelMicroseconds) us"
            : "\(outcome.hostNanoseconds / 1000) us (host)"
        rows.append((parameters, result, duration))
        ProbeOutput.emit(
            "USBTEST test=\(parameters.test) iterations=\(parameters.iterations) length=\(parameters.length)"
                + " vary=\(parameters.vary) sglen=\(parameters.sglen) result=\(result.split(separator: "(").first ?? "")"
                + " errno=\(outcome.errno?.rawValue ?? 0) duration_us=\(outcome.errno == nil ? outcome.kernelMicroseconds : Int64(outcome.hostNanoseconds / 1000))")
    }

    ProbeOutput.emit("TABLE| test | iterations | length | vary | sglen | result | duration")
    for (parameters, result, duration) in rows {
        ProbeOutput.emit(
            "TABLE| \(parameters.test) | \(parameters.iterations) | \(parameters.length) | \(parameters.vary) | \(parameters.sglen) | \(result) | \(duration)")
    }
    return failures
}

/// Attaches gadget zero (high speed, or SuperSpeed with `super`) with a
/// usbmon trace to the path given, lets it enumerate, runs a few
/// transfers, detaches and closes the trace.
func runUSBTrace(arguments: [String]) throws {
    let parsed = GadgetZeroArguments(arguments)
    guard let path = parsed.rest.first, !path.isEmpty else {
        ProbeOutput.fail("usb-trace needs the pcap path as its argument")
    }
    let watchdog = Watchdog(seconds: 60, message: "usb-trace scenario")
    defer { watchdog.disarm() }

    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let trace = try USBMonitorTraceWriter(path: path)
    let bench = USBTestBench(kernel: kernel, controller: VirtualHostController(trace: trace))
    let gadget = GadgetZero(options: parsed.gadgetOptions)
    let (port, node) = try bench.attachAndWait(gadget)
    ProbeOutput.result(["port": "\(port)", "bus": "\(VirtualHostController.busNumber(ofPort: port))"])
    try bench.reportSpeed(port: port)
    let fd = try kernel.open(node, flags: .readWrite)
    try bench.waitForUSBTest(fd: fd)
    // A little of everything: bulk OUT and IN, vendor control OUT/IN.
    for parameters in [
        USBTestParameters(test: 1, iterations: 2, length: 512),
        USBTestParameters(test: 2, iterations: 2, length: 512),
        USBTestParameters(test: 14, iterations: 2, length: 16, vary: 1),
    ] {
        let outcome = try USBFS.usbtest(kernel, fd: fd, parameters)
        if let errno = outcome.errno { ProbeOutput.fail("usbtest test \(parameters.test) failed: \(errno)") }
    }
    try kernel.close(fd)
    try bench.controller.detach(port: port)
    try trace.close()
    ProbeOutput.result(["trace_events": "\(trace.eventCount)", "trace_path": path])
    try bench.requireNothingInFlight("after_detach")
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// USB figures: control transfers per second (usbfs GET_STATUS from an
/// application thread, with per-call latency), bulk IN throughput (usbtest
/// test 2, one URB at a time, and test 28, queued), and the bridge's
/// submit-to-completion latency of small bulk URBs.
func runBenchUSB() throws {
    let watchdog = Watchdog(seconds: 300, message: "bench-usb scenario")
    defer { watchdog.disarm() }
    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let controller = VirtualHostController()
    let bench = USBTestBench(kernel: kernel, controller: controller)
    let gadget = GadgetZero()
    let (port, node) = try bench.attachAndWait(gadget)
    let fd = try kernel.open(node, flags: .readWrite)
    try bench.waitForUSBTest(fd: fd)

    // Control: GET_STATUS(device) through usbfs, timed per call.
    let controlCalls = 20_000
    let status = UnsafeMutableRawPointer.allocate(byteCount: 2, alignment: 2)
    defer { status.deallocate() }
    let getStatus = USBSetupPacket(requestType: 0x80, request: USBStandardRequest.getStatus, length: 2)
    var callNanoseconds: [UInt64] = []
    callNanoseconds.reserveCapacity(controlCalls)
    let controlStart = HostClock.monotonicNanoseconds()
    for _ in 0..<controlCalls {
        let start = HostClock.monotonicNanoseconds()
        let count = try USBFS.control(kernel, fd: fd, setup: getStatus, data: status)
        callNanoseconds.append(HostClock.monotonicNanoseconds() - start)
        guard count == 2 else { ProbeOutput.fail("GET_STATUS returned \(count) bytes, expected 2") }
    }
    let controlTotal = HostClock.monotonicNanoseconds() - controlStart
    callNanoseconds.sort()
    ProbeOutput.result([
        "control_per_second": "\(UInt64(controlCalls) * 1_000_000_000 / max(controlTotal, 1))",
        "control_call_p50_us": microseconds(callNanoseconds[callNanoseconds.count / 2]),
        "control_call_p99_us": microseconds(callNanoseconds[callNanoseconds.count * 99 / 100]),
    ])

    // Bulk IN throughput, as usbtest measures it (kernel time).
    func throughput(_ parameters: USBTestParameters, bytes: UInt64) throws -> String {
        let outcome = try USBFS.usbtest(kernel, fd: fd, parameters)
        if let errno = outcome.errno { ProbeOutput.fail("usbtest test \(parameters.test) failed: \(errno)") }
        let megabytesPerSecond = Double(bytes) / Double(max(outcome.kernelMicroseconds, 1))  // bytes/us = MB/s
        return String(Int(megabytesPerSecond.rounded()))
    }
    let single = USBTestParameters(test: 2, iterations: 2000, length: 65536, vary: 0, sglen: 0)
    let queued = USBTestParameters(test: 28, iterations: 500, length: 65536, vary: 0, sglen: 8)
    ProbeOutput.result([
        "bulk_in_mb_per_s": try throughput(single, bytes: 2000 * 65536),
        "bulk_in_queued_mb_per_s": try throughput(queued, bytes: 500 * 8 * 65536),
    ])

    // URB latency seen by the bridge: submit callback to completion.
    let samples = 10_000
    controller.recordLatencies(capacity: samples)
    let small = USBTestParameters(test: 2, iterations: UInt32(samples), length: 512, vary: 0, sglen: 0)
    let outcome = try USBFS.usbtest(kernel, fd: fd, small)
    if let errno = outcome.errno { ProbeOutput.fail("usbtest test 2 (512 bytes) failed: \(errno)") }
    let latencies = controller.takeLatencies().sorted()
    guard !latencies.isEmpty else { ProbeOutput.fail("the bridge recorded no URB latencies") }
    ProbeOutput.result([
        "urb_latency_p50_us": microseconds(latencies[latencies.count / 2]),
        "urb_latency_p99_us": microseconds(latencies[latencies.count * 99 / 100]),
        "urb_round_trip_us": String(format1(Double(outcome.kernelMicroseconds) / Double(samples))),
        "urb_samples": "\(latencies.count)",
    ])

    try kernel.close(fd)
    try controller.detach(port: port)
    try bench.requireNothingInFlight("after_detach")

    // Bulk IN through usbfs (USBDEVFS_BULK, 64 KiB per URB: usb_bulk_msg,
    // HCD, model, IRQ, giveback, copy to the caller), without usbtest's
    // byte-by-byte pattern check, from a device usbtest does not bind:
    // first one whose model thread completes URBs (one hand-off per URB),
    // then one with its data ready (completes inside submit).
    for (name, inline) in [("bulk_in_usbfs_mb_per_s", false), ("bulk_in_usbfs_inline_mb_per_s", true)] {
        let source = GadgetZero(options: .init(productID: 0xa4a1, completesInline: inline))
        let (sourcePort, sourceNode) = try bench.attachAndWait(source)
        let sourceFD = try kernel.open(sourceNode, flags: .readWrite)
        try USBFS.claim(kernel, fd: sourceFD, interface: 0)
        let chunk = 65536, transfers = 4000
        let data = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { data.deallocate() }
        let start = HostClock.monotonicNanoseconds()
        for _ in 0..<transfers {
            let count = try USBFS.bulk(kernel, fd: sourceFD, endpoint: 0x81, data: data, length: chunk)
            guard count == chunk else { ProbeOutput.fail("bulk IN returned \(count) bytes, expected \(chunk)") }
        }
        let elapsed = HostClock.monotonicNanoseconds() - start
        ProbeOutput.result(name, "\(Int((Double(chunk * transfers) * 1000 / Double(max(elapsed, 1))).rounded()))")
        try kernel.close(sourceFD)
        try controller.detach(port: sourcePort)
        try bench.requireNothingInFlight("after_\(name)")
    }

    // The same with a device that has its data ready: URBs complete inside
    // the submit callback, so no host thread hand-off per URB.
    let readyGadget = GadgetZero(options: .init(completesInline: true))
    let (readyPort, readyNode) = try bench.attachAndWait(readyGadget)
    let readyFD = try kernel.open(readyNode, flags: .readWrite)
    try bench.waitForUSBTest(fd: readyFD)
    func readyThroughput(_ parameters: USBTestParameters, bytes: UInt64) throws -> String {
        let outcome = try USBFS.usbtest(kernel, fd: readyFD, parameters)
        if let errno = outcome.errno { ProbeOutput.fail("usbtest test \(parameters.test) failed: \(errno)") }
        return String(Int((Double(bytes) / Double(max(outcome.kernelMicroseconds, 1))).rounded()))
    }
    controller.recordLatencies(capacity: samples)
    let readySmall = try USBFS.usbtest(kernel, fd: readyFD, small)
    if let errno = readySmall.errno { ProbeOutput.fail("usbtest test 2 (512 bytes, inline) failed: \(errno)") }
    let readyLatencies = controller.takeLatencies().sorted()
    ProbeOutput.result([
        "bulk_in_inline_mb_per_s": try readyThroughput(single, bytes: 2000 * 65536),
        "bulk_in_inline_queued_mb_per_s": try readyThroughput(queued, bytes: 500 * 8 * 65536),
        "urb_inline_round_trip_us": String(format1(Double(readySmall.kernelMicroseconds) / Double(samples))),
        "urb_inline_latency_p99_us": readyLatencies.isEmpty
            ? "0" : microseconds(readyLatencies[readyLatencies.count * 99 / 100]),
    ])
    try kernel.close(readyFD)
    try controller.detach(port: readyPort)
    try bench.requireNothingInFlight("after_inline_detach")
    ProbeOutput.result("maxrss_kib", peakResidentKiB())
    try kernel.halt()
}

private func microseconds(_ nanoseconds: UInt64) -> String {
    format1(Double(nanoseconds) / 1000)
}

/// One decimal, without Foundation's String(format:).
private func format1(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
