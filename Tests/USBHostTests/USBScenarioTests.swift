// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import Testing

/// The virtual USB host controller end to end: each test boots the kernel
/// in a probe process (the library boots once per process) and plugs
/// software devices into it. They need liblkl.a with the virtual HCD.
@Suite("Virtual USB host controller (probe processes)", .timeLimit(.minutes(10)))
struct USBScenarioTests {
    /// Every usbtest case the issue requires, and what it must report.
    static let requiredPasses: [Int] = [9, 10, 14, 21, 1, 2, 3, 4, 5, 6, 7, 8, 17, 18, 19, 20, 11, 12, 24, 13, 25, 26]
    static let unsupported: [Int] = [15, 16, 22, 23]

    /// The usbtest battery's verdicts in a probe run (usbtest, usbtest-libusb):
    /// logs the table with the device's speed whatever happens, then requires
    /// a clean kernel log, enumeration at `speed` and every case's outcome.
    static func expectBatteryPassed(_ run: ProbeRun, speed: GadgetZeroSpeed) throws {
        print(run.standardOutput.split(separator: "\n").filter { $0.hasPrefix("TABLE| ") || $0.hasPrefix("USBDEVICE ") }
            .map { $0.hasPrefix("TABLE| ") ? $0.dropFirst("TABLE| ".count) : $0 }.joined(separator: "\n"))
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        speed.expectEnumerated(run)
        let outcomes = usbtestResults(run.standardOutput)
        for test in requiredPasses {
            #expect(outcomes[test] == "pass", "usbtest test \(test): \(outcomes[test] ?? "not run")\n\(run.diagnosis)")
        }
        for test in unsupported {
            #expect(outcomes[test] == "unsupported", "usbtest iso test \(test): \(outcomes[test] ?? "not run")")
        }
        #expect(run.integer("usbtest_failures") == 0)
        #expect(run.integer("sink_pattern_errors") == 0)
        #expect(run.integer("set_address_handled") == 1, "the bridge answers SET_ADDRESS itself, once per enumeration")
    }

    @Test(
        "usbtest: every control, bulk, unlink, halt and interrupt case passes against gadget zero, at high speed and SuperSpeed",
        arguments: [GadgetZeroSpeed.high, .super])
    func usbtest(speed: GadgetZeroSpeed) async throws {
        let run = try await ProbeRunner.run(["usbtest"] + speed.arguments, timeoutSeconds: 300)
        try Self.expectBatteryPassed(run, speed: speed)
        #expect(run.integer("after_tests_kernel_in_flight") == 0)
        #expect(run.integer("after_detach_kernel_in_flight") == 0)
        #expect(run.integer("after_detach_bridge_pending") == 0)
    }

    @Test("usb-trace: the usbmon pcap decodes with tshark, with enumeration requests in it",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func usbmonTrace() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-usb-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try await ProbeRunner.run(["usb-trace", path])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        let events = try #require(run.integer("trace_events"))
        #expect(events > 20)

        let summary = try runTshark(["-r", path])
        let lines = summary.split(separator: "\n")
        #expect(lines.count == events, "tshark decoded \(lines.count) of \(events) events")
        #expect(summary.contains("GET DESCRIPTOR Request DEVICE"), "\(summary)")
        #expect(summary.contains("GET DESCRIPTOR Response DEVICE"), "\(summary)")
        #expect(summary.contains("GET DESCRIPTOR Request CONFIGURATION"), "\(summary)")
        #expect(summary.contains("SET CONFIGURATION Request"), "\(summary)")
        #expect(summary.contains("URB_BULK in") && summary.contains("URB_BULK out"), "\(summary)")
        let malformed = try runTshark(["-r", path, "-Y", "_ws.malformed"])
        #expect(malformed.isEmpty, "malformed packets:\n\(malformed)")

        // The device's own descriptor, as the kernel read it at address 0 then 2.
        let fields = try runTshark(["-r", path, "-Y", "usb.idVendor", "-T", "fields", "-e", "usb.idVendor", "-e", "usb.idProduct"])
        #expect(fields.contains("0x0525\t0xa4a0"), "\(fields)")
        // SET_ADDRESS is in the trace although the device model never sees it.
        let setAddress = try runTshark(["-r", path, "-Y", "usb.setup.bRequest == 5"])
        #expect(!setAddress.isEmpty)
        // Every submission has its completion (detach completes leftovers).
        let submissions = try runTshark(["-r", path, "-Y", "usb.urb_type == 'S'"]).split(separator: "\n").count
        let completions = try runTshark(["-r", path, "-Y", "usb.urb_type == 'C'"]).split(separator: "\n").count
        #expect(submissions == completions)
    }

    @Test("usb-trace super: the SuperSpeed attach decodes with tshark: bus 2, bcdUSB 3.00, BOS, 1024-byte endpoints with companions",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func superSpeedTrace() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("airtap-usb-ss-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try await ProbeRunner.run(["usb-trace", path, "super"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        GadgetZeroSpeed.super.expectEnumerated(run)
        #expect(run.integer("bus") == 2)
        let events = try #require(run.integer("trace_events"))

        let summary = try runTshark(["-r", path])
        #expect(summary.split(separator: "\n").count == events, "\(summary)")
        let malformed = try runTshark(["-r", path, "-Y", "_ws.malformed || _ws.expert"])
        #expect(malformed.isEmpty, "malformed packets or expert notes:\n\(malformed)")
        // Every event is on the SuperSpeed root hub's bus.
        let buses = Set(try runTshark(["-r", path, "-T", "fields", "-e", "usb.bus_id"]).split(separator: "\n"))
        #expect(buses == ["2"], "\(buses)")
        // What a SuperSpeed enumeration has and a high-speed one has not.
        for step in ["SET ADDRESS Request", "SET ISOCH DELAY Request", "GET DESCRIPTOR Request BOS", "SET CONFIGURATION Request"] {
            #expect(summary.contains(step), "\(step)\n\(summary)")
        }
        let device = try runTshark(["-r", path, "-Y", "usb.bcdUSB", "-T", "fields", "-e", "usb.bcdUSB", "-e", "usb.bMaxPacketSize0"])
        #expect(device.split(separator: "\n").allSatisfy { $0 == "0x0300\t9" } && !device.isEmpty, "\(device)")
        // The BOS as the kernel read it: USB 2.0 extension (LPM, BESL) and SuperSpeed capability.
        let bos = try runTshark(["-r", path, "-Y", "usb.getDescriptor.Response", "-T", "fields", "-e", "usb.getDescriptor.Response"])
        #expect(bos.contains("050f160002071002060000000a1003000f000101f401"), "\(bos)")
        // Source/sink configuration: 1024-byte endpoints, each with its companion (bulk bursts of 4).
        let endpoints = try runTshark([
            "-r", path, "-Y", "usb.bMaxBurst", "-T", "fields", "-e", "usb.wMaxPacketSize", "-e", "usb.bMaxBurst",
            "-e", "usb.wBytesPerInterval",
        ])
        #expect(endpoints.contains("1024,1024,1024,1024,1024,1024,1024,1024\t3,3,0,0,3,3,0,0\t0,0,1024,1024,0,0,1024,1024"), "\(endpoints)")
        #expect(summary.contains("URB_BULK in") && summary.contains("URB_BULK out"), "\(summary)")
        let submissions = try runTshark(["-r", path, "-Y", "usb.urb_type == 'S'"]).split(separator: "\n").count
        let completions = try runTshark(["-r", path, "-Y", "usb.urb_type == 'C'"]).split(separator: "\n").count
        #expect(submissions == completions)
    }

    @Test("malformed descriptors end in kernel enumeration errors, nothing left in flight")
    func badDescriptors() async throws {
        let run = try await ProbeRunner.run("usb-bad-descriptors")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.results["total_length_lies_log"]?.contains("descriptor too short") == true, "\(run.diagnosis)")
        #expect(run.results["zero_blength_interface_log"]?.contains("invalid descriptor of length 0") == true, "\(run.diagnosis)")
        #expect(run.results["bad_ep0_maxpacket_log"] != nil, "\(run.diagnosis)")
        for name in ["total_length_lies", "zero_blength_interface", "bad_ep0_maxpacket"] {
            #expect(run.integer("\(name)_kernel_in_flight") == 0)
            #expect(run.integer("\(name)_bridge_pending") == 0)
        }
    }

    @Test("bad completions are thrown back (bridge) or refused (kernel), never crash")
    func badHost() async throws {
        let run = try await ProbeRunner.run("usb-bad-host")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.results["oversize_error"]?.contains("exceeds its 64-byte buffer") == true)
        #expect(run.integer("oversize_urb_status") == -75, "EOVERFLOW")
        #expect(run.results["unknown_error"]?.contains("no such URB is pending") == true)
        #expect(run.integer("unknown_raw_result") == -2, "lkl_usb_complete: ENOENT")
        #expect(run.results["completed_twice_error"]?.contains("already completed") == true)
        #expect(run.integer("completed_twice_raw_result") == -2)
        #expect(run.integer("cancelled_urb_status") == -2, "usbfs discard kills: ENOENT")
        #expect(run.results["after_cancel_error"]?.contains("already completed") == true)
        #expect(run.results["bad_status_error"]?.contains("not a valid completion status") == true)
        #expect(run.integer("bad_status_urb_status") == -71, "EPROTO")
        #expect(run.results["after_detach_error"]?.contains("already completed") == true)
        #expect(run.integer("after_detach_raw_result") == -2)
        #expect(run.integer("after_detach_urb_status") == -108, "ESHUTDOWN")
        #expect(run.results["detach_twice_error"]?.contains("no device is attached") == true)
        #expect(run.integer("final_kernel_in_flight") == 0)
        #expect(run.integer("final_bridge_pending") == 0)
        #expect(run.integer("kernel_bad_completions") == 3)
    }

    @Test("detach with 100 URBs in flight: all end with -ESHUTDOWN, nothing left (USB 2.0 and SuperSpeed ports)",
          arguments: [GadgetZeroSpeed.high, .super])
    func detachInFlight(speed: GadgetZeroSpeed) async throws {
        let run = try await ProbeRunner.run(["usb-detach-inflight", "100"] + speed.arguments)
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.integer("port") == (speed == .super ? 9 : 1))
        #expect(run.integer("device_speed_mbps") == (speed == .super ? 5000 : 480))
        #expect(run.integer("in_flight_before_detach") == 100)
        #expect(run.integer("reaped") == 100)
        #expect(run.results["statuses"] == "-108:100")
        #expect(run.integer("forced_at_detach") == 0, "the bridge completes its own URBs before lkl_usb_detach")
        #expect(run.integer("after_detach_kernel_in_flight") == 0)
        #expect(run.integer("after_detach_bridge_pending") == 0)
    }

    @Test("usb-ports: connectors take one device each, SuperSpeed ones on ports 9...16; a SuperSpeed port reset re-enumerates at 5 Gb/s")
    func ports() async throws {
        let run = try await ProbeRunner.run("usb-ports")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.kernelProblems.isEmpty, "\(run.kernelProblems)")
        // No controller until the first device: then both root hubs, buses 1 and 2.
        #expect(run.results["buses_at_boot"] == "none")
        #expect(run.integer("submitted_at_boot") == 0)
        #expect(run.results["buses_after_attach"] == "usb1,usb2")
        // High, SuperSpeed, high: connectors 1, 2, 3, the second on its SuperSpeed half.
        #expect(run.results["mixed_ports"] == "1,10,3")
        #expect(run.results["port1_name"] == "1-1" && run.integer("port1_speed_mbps") == 480)
        #expect(run.results["port10_name"] == "2-2" && run.integer("port10_speed_mbps") == 5000)
        #expect(run.results["port3_name"] == "1-3" && run.integer("port3_speed_mbps") == 480)
        // USBDEVFS_RESET: a hot reset of the SuperSpeed port, usbtest bound again and working.
        #expect(run.integer("reset_result") == 0)
        #expect(run.standardError.contains("usb 2-2: reset SuperSpeed USB device number 2 using lkl-virtual-hcd"), "\(run.diagnosis)")
        #expect(run.results["after_reset_test10"] == "pass")
        #expect(run.integer("after_reset_speed_mbps") == 5000)
        // A full controller: eight SuperSpeed devices, then no connector for any speed.
        #expect(run.results["super_ports"] == "9,10,11,12,13,14,15,16")
        #expect(run.results["ninth_super_attach"] == "errno 16", "EBUSY")
        #expect(run.results["ninth_high_attach"] == "errno 16", "EBUSY")
        #expect(run.integer("freed_port") == 12)
        #expect(run.integer("high_after_free") == 4, "connector 4's USB 2.0 half")
        #expect(run.integer("high_after_free_speed_mbps") == 480)
        #expect(run.integer("after_all_kernel_in_flight") == 0)
        #expect(run.integer("attached_at_end") == 0)
    }

    @Test("bench-usb reports control rate, bulk throughput and URB latency")
    func benchUSBSmoke() async throws {
        let run = try await ProbeRunner.run("bench-usb")
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        for key in ["control_per_second", "bulk_in_mb_per_s", "bulk_in_queued_mb_per_s", "urb_samples"] {
            #expect((run.integer(key) ?? 0) > 0, "\(key)\n\(run.diagnosis)")
        }
        for key in ["control_call_p50_us", "urb_latency_p50_us", "urb_latency_p99_us"] {
            #expect((run.results[key].flatMap(Double.init) ?? 0) > 0, "\(key)")
        }
    }

    /// `USBTEST test=N ... result=R` lines as test -> result.
    static func usbtestResults(_ output: String) -> [Int: String] {
        var results: [Int: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("USBTEST ") {
            let fields = Dictionary(
                line.split(separator: " ").dropFirst().compactMap { token -> (String, String)? in
                    guard let equals = token.firstIndex(of: "=") else { return nil }
                    return (String(token[..<equals]), String(token[token.index(after: equals)...]))
                }, uniquingKeysWith: { _, last in last })
            if let test = fields["test"].flatMap(Int.init), let result = fields["result"] { results[test] = result }
        }
        return results
    }
}

/// The speeds gadget zero runs the probe scenarios at, and how the kernel
/// must show each: its enumeration line, sysfs speed, usbtest's banner.
enum GadgetZeroSpeed: String, Sendable, CustomTestStringConvertible {
    case high, `super`

    var testDescription: String { rawValue }

    /// The probe's speed argument (high speed is the default).
    var arguments: [String] { self == .super ? ["super"] : [] }

    func expectEnumerated(_ run: ProbeRun, sourceLocation: SourceLocation = #_sourceLocation) {
        let log = run.standardError
        switch self {
        case .high:
            #expect(run.integer("device_speed_mbps") == 480, "\(run.diagnosis)", sourceLocation: sourceLocation)
            #expect(run.results["device_name"] == "1-1", sourceLocation: sourceLocation)
            #expect(log.contains("usb 1-1: new high-speed USB device number 2 using lkl-virtual-hcd"), sourceLocation: sourceLocation)
            #expect(log.contains("usbtest 1-1:3.0: high-speed {control in/out bulk-in bulk-out int-in int-out} tests"),
                    sourceLocation: sourceLocation)
        case .super:
            #expect(run.integer("device_speed_mbps") == 5000, "\(run.diagnosis)", sourceLocation: sourceLocation)
            #expect(run.results["device_name"] == "2-1", "the SuperSpeed root hub's bus", sourceLocation: sourceLocation)
            #expect(log.contains("usb 2-1: new SuperSpeed USB device number 2 using lkl-virtual-hcd"), "\(run.diagnosis)",
                    sourceLocation: sourceLocation)
            #expect(log.contains("usbtest 2-1:3.0: super-speed {control in/out bulk-in bulk-out int-in int-out} tests"),
                    sourceLocation: sourceLocation)
        }
    }
}
