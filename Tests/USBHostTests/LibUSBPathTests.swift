// SPDX-License-Identifier: GPL-2.0-only

import Testing

/// The real-adapter path end to end: LibUSBAdapter (worker, descriptor
/// cache, completions from a foreign event thread) between the real
/// kernel's drivers and a device model standing in for the hardware
/// behind libusb (ModelBackedUSBDevice). Each test is one probe process.
@Suite("LibUSBAdapter over device models (probe processes)", .timeLimit(.minutes(10)))
struct LibUSBPathTests {
    @Test(
        "usbtest-libusb: every usbtest case passes against gadget zero behind LibUSBAdapter, presented at its own speed",
        arguments: [GadgetZeroSpeed.high, .super])
    func usbtestOverLibUSB(speed: GadgetZeroSpeed) async throws {
        let run = try await ProbeRunner.run(["usbtest-libusb"] + speed.arguments, timeoutSeconds: 300)
        try USBScenarioTests.expectBatteryPassed(run, speed: speed)
        // The stand-in reports the model's speed, as libusb would; the adapter presents it unchanged.
        #expect(run.results["presented_speed"] == speed.rawValue)

        // Binding alone: the kernel's descriptor reads came from the cache,
        // its SET_CONFIGURATION ran on the worker (same configuration as at
        // open: altsettings reset through libusb's call).
        #expect((run.integer("bind_descriptors_from_cache") ?? 0) >= 4, "\(run.diagnosis)")
        #expect((run.integer("bind_worker_jobs") ?? 0) >= 1, "\(run.diagnosis)")
        #expect((run.integer("bind_set_interface_calls") ?? 0) >= 1, "\(run.diagnosis)")
        // Test 13's 1000 CLEAR_FEATURE(HALT)s: libusb_clear_halt, each a worker job.
        let clearHalts = try #require(run.integer("clear_halt_calls"))
        #expect(clearHalts >= 1000)
        #expect((run.integer("worker_jobs") ?? 0) >= clearHalts)
        #expect((run.integer("descriptors_from_cache") ?? 0) > 0)
        // Unlinks became libusb cancellations.
        #expect((run.integer("cancel_requests") ?? 0) > 0)
        #expect((run.integer("transfers_cancelled") ?? 0) > 0)

        // Every libusb transfer came back through a callback on the
        // stand-in's event thread, never inside a submission, even those
        // the model answered at once.
        let transfers = try #require(run.integer("transfers_submitted"))
        #expect(transfers > 10_000)
        #expect(run.integer("stand_in_transfers") == transfers)
        #expect(run.integer("callbacks_on_event_thread") == transfers)
        #expect(run.integer("callbacks_off_event_thread") == 0)
        #expect(run.integer("callbacks_inside_submit") == 0)
        #expect((run.integer("completions_during_submit") ?? 0) > 0)

        #expect(run.integer("after_tests_kernel_in_flight") == 0)
        #expect(run.integer("after_detach_kernel_in_flight") == 0)
        #expect(run.integer("after_detach_bridge_pending") == 0)
        #expect(run.integer("adapter_in_flight") == 0)
        #expect(run.integer("stand_in_in_flight") == 0)
    }

    @Test("rtl8187-libusb: the driver binds the model behind LibUSBAdapter, receives, and survives a surprise removal")
    func rtl8187OverLibUSB() async throws {
        let run = try await ProbeRunner.run(["rtl8187-libusb"], environment: ["AIRTAP_LOG_LEVEL": "info"])
        try #require(run.exitedSuccessfully, "\(run.diagnosis)")
        #expect(!run.kernelWarned, "\(run.diagnosis)")
        #expect(run.integer("kernel_warnings") == 0)
        #expect(run.standardError.contains("RTL8187vD V1 + rtl8225"), "\(run.diagnosis)")
        #expect(!run.standardError.contains("Invalid hwaddr"))

        // Bound, with the EEPROM read over the libusb path, monitor mode up.
        #expect(run.results["interface"] == "wlan0")
        #expect(run.results["interface_type"] == "monitor")
        let eepromMAC = try #require(run.results["eeprom_mac"])
        #expect(run.results["interface_mac"] == eepromMAC, "\(run.diagnosis)")
        #expect(run.integer("tuned_channel") == 6)
        #expect((run.integer("descriptors_from_cache") ?? 0) > 0)
        #expect((run.integer("worker_jobs") ?? 0) > 0)
        // The link came up only after the probe had read its LED word
        // (it raced the probe under load: "eeprom reset timeout!").
        #expect(run.integer("eeprom_commands_interleaved") == 0, "\(run.diagnosis)")

        // Received: every channel-6 air frame, byte-identical.
        #expect(run.integer("expected") == 60)
        #expect(run.integer("captured") == 60, "\(run.diagnosis)")
        #expect(run.integer("byte_mismatches") == 0)

        // Surprise removal: the driver's 32 receive URBs end with NO_DEVICE,
        // onRemoval fires once on the event thread, the port is detached
        // from another thread, the interface goes, nothing stays in flight.
        #expect(run.integer("in_flight_before_unplug") == 32, "\(run.diagnosis)")
        #expect(run.integer("transfers_ended_by_unplug") == 32)
        // At least the first reached the kernel through the adapter (and told
        // it the device is gone); once detach has stopped the adapter, the
        // controller completes the rest with -ESHUTDOWN itself.
        #expect((run.integer("requests_failed") ?? 0) >= 1)
        #expect(run.results["removal_handler_fired"] == "true")
        #expect(run.integer("removal_handler_calls") == 1)
        #expect(run.results["removal_on_event_thread"] == "true")
        #expect(run.results["detach_result"] == "ok", "\(run.diagnosis)")
        #expect(run.results["adapter_removed"] == "true")
        #expect(run.results["interface_gone"] == "true", "\(run.diagnosis)")
        #expect(run.results["disconnect_logged"] == "true")
        #expect(run.integer("after_removal_kernel_in_flight") == 0)
        #expect(run.integer("after_removal_bridge_pending") == 0)
        #expect(run.integer("adapter_in_flight") == 0)
        #expect(run.integer("stand_in_in_flight") == 0)

        let transfers = try #require(run.integer("transfers_submitted"))
        #expect(transfers > 1000, "the EEPROM and RF set-up are thousands of register requests")
        #expect(run.integer("callbacks_on_event_thread") == transfers)
        #expect(run.integer("callbacks_off_event_thread") == 0)
        #expect(run.integer("callbacks_inside_submit") == 0)
    }
}
