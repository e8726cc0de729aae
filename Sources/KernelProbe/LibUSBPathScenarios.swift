// SPDX-License-Identifier: GPL-2.0-only

import Capture
import HostUSB
import LinuxKernel
import USBDevices
import USBHost
import Wireless

// The real-adapter path (LibUSBAdapter: worker, descriptor cache,
// completions from a foreign event thread) through the real kernel and
// real drivers, with device models standing in for the hardware behind
// the libusb seam (ModelBackedUSBDevice).

/// usbtest-libusb [super] [tests]: the usbtest scenario with gadget zero
/// behind LibUSBAdapter. Reports the adapter's and the stand-in's
/// counters, among them the threads transfer callbacks ran on.
func runUSBTestOverLibUSB(arguments: [String]) throws {
    let parsed = GadgetZeroArguments(arguments)
    let cases = selectedUSBTestCases(parsed.selection)
    let watchdog = Watchdog(seconds: 300, message: "usbtest-libusb scenario")
    defer { watchdog.disarm() }

    let kernel = try Kernel.boot()
    try USBFS.mountDevices(kernel)
    let bench = USBTestBench(kernel: kernel, controller: VirtualHostController())
    let gadget = GadgetZero(options: parsed.gadgetOptions)
    let adapter = try LibUSBAdapter.overModel(gadget)
    guard let standIn = adapter.modelStandIn else { ProbeOutput.fail("overModel gave an adapter without its stand-in") }
    let (port, node) = try bench.attachAndWait(adapter)
    ProbeOutput.result([
        "port": "\(port)", "node": node, "device": adapter.info.summary, "presented_speed": "\(adapter.speed)",
    ])
    try bench.reportSpeed(port: port)
    let fd = try kernel.open(node, flags: .readWrite)
    try bench.waitForUSBTest(fd: fd)
    // Enumeration and binding alone: the kernel's SET_CONFIGURATION is a
    // worker job, its descriptor reads come from the cache.
    let bound = adapter.statistics
    ProbeOutput.result([
        "bind_worker_jobs": "\(bound.workerJobs)",
        "bind_descriptors_from_cache": "\(bound.descriptorsFromCache)",
        "bind_set_interface_calls": "\(standIn.statistics.setInterfaceCalls)",
    ])

    let failures = try runUSBTestCases(kernel, fd: fd, cases: cases)
    ProbeOutput.result([
        "usbtest_failures": "\(failures)",
        "sink_pattern_errors": "\(gadget.statistics.sinkPatternErrors)",
        "set_address_handled": "\(bench.controller.statistics.setAddressHandled)",
        "gadget_configuration": "\(gadget.configurationValue)",
    ])

    try kernel.close(fd)
    try bench.requireNothingInFlight("after_tests")
    try bench.controller.detach(port: port)
    try bench.requireNothingInFlight("after_detach")
    let leftInAdapter = adapter.transfersInFlight
    let leftInStandIn = standIn.requestsInFlight
    adapter.close()
    reportLibUSBPath(adapter: adapter, standIn: standIn)
    ProbeOutput.result(["adapter_in_flight": "\(leftInAdapter)", "stand_in_in_flight": "\(leftInStandIn)"])
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// rtl8187-libusb [frames]: the rtl8187 driver binds the RTL8187 model
/// behind LibUSBAdapter (wlan interface with the EEPROM's MAC, monitor
/// mode, channel 6 tuned), captures the channel-6 part of `frames` air
/// frames, then the device is pulled out: every transfer in flight ends
/// with NO_DEVICE, the adapter's onRemoval detaches the port from another
/// thread, the interface goes away and nothing stays in flight.
func runRTL8187OverLibUSB(arguments: [String]) throws {
    let airFrameCount = arguments.first.flatMap { Int($0) } ?? 90
    let watchdog = Watchdog(seconds: 120, message: "rtl8187-libusb scenario")
    defer { watchdog.disarm() }

    let kernel = try Kernel.boot(memoryMiB: 256, commandLine: "mac80211_hwsim.radios=0")
    let control = try WirelessControl(kernel: kernel)
    let model = RTL8187Model(options: RTL8187Model.Options(macAddress: rtl8187ProbeMAC))
    let adapter = try LibUSBAdapter.overModel(model)
    guard let standIn = adapter.modelStandIn else { ProbeOutput.fail("overModel gave an adapter without its stand-in") }
    let controller = VirtualHostController()
    let bench = USBTestBench(kernel: kernel, controller: controller)

    let start = HostClock.monotonicNanoseconds()
    let port = try controller.attach(adapter)
    let removal = RemovalWitness(controller: controller, port: port, standIn: standIn)
    adapter.onRemoval = { removal.deviceGone() }

    var found: WirelessInterface?
    _ = waitUntil(seconds: 20, pollInterval: 0.005) {
        found = try? control.interfaces().first
        return found != nil
    }
    guard let wlan = found else {
        ProbeOutput.fail("no wlan interface within 20 s of plugging the model in behind LibUSBAdapter\n"
            + "--- kernel log tail ---\n\(kernel.consoleLog)")
    }
    control.waitForDriverProbe(wlan)
    if try control.isLinkUp(wlan) { try control.setLinkUp(wlan, up: false) }
    try control.setMonitorMode(wlan, flags: .capture)
    try control.setLinkUp(wlan)
    let monitor = try control.interface(named: wlan.name)
    let bringUp = HostClock.monotonicNanoseconds() - start
    try control.setChannel(monitor, to: ChannelSpec(frequency: 2437))
    ProbeOutput.result([
        "interface": monitor.name,
        "interface_type": "\(monitor.type)",
        "interface_mac": macText(monitor.macAddress),
        "eeprom_mac": macText(rtl8187ProbeMAC),
        "tuned_channel": "\(model.tunedChannel ?? 0)",
        "bring_up_ms": "\(bringUp / 1_000_000)",
    ])

    let (expected, captured, byteMismatches) = try captureScriptedAir(
        kernel: kernel, interfaceIndex: monitor.index, model: model, airFrameCount: airFrameCount)
    ProbeOutput.result([
        "expected": "\(expected)", "captured": "\(captured)", "byte_mismatches": "\(byteMismatches)",
        "model_received": "\(model.statistics.framesReceived)",
        "eeprom_commands_interleaved": "\(model.statistics.eepromCommandsInterleaved)",
    ])

    // Surprise removal, seen from libusb: transfers end with NO_DEVICE.
    // First every receive URB back with the model (rtl8187_init_urbs keeps 32).
    _ = waitUntil(seconds: 5) { standIn.requestsInFlight >= 32 }
    let inFlightBeforeUnplug = standIn.requestsInFlight
    standIn.unplug()
    let handlerFired = waitUntil(seconds: 5) { removal.handlerCalls > 0 }
    removal.waitForDetach()
    let interfaceGone = waitUntil(seconds: 5) {
        (try? control.interfaces().contains { $0.index == monitor.index }) == false
    }
    ProbeOutput.result([
        "in_flight_before_unplug": "\(inFlightBeforeUnplug)",
        "removal_handler_fired": "\(handlerFired)",
        "removal_handler_calls": "\(removal.handlerCalls)",
        "removal_on_event_thread": "\(removal.handlerRanOnEventThread)",
        "detach_result": removal.detachResult,
        "adapter_removed": "\(adapter.isRemoved)",
        "interface_gone": "\(interfaceGone)",
    ])
    try bench.requireNothingInFlight("after_removal")
    let leftInAdapter = adapter.transfersInFlight
    let leftInStandIn = standIn.requestsInFlight
    adapter.close()
    reportLibUSBPath(adapter: adapter, standIn: standIn)
    let log = kernel.consoleLog
    ProbeOutput.result([
        "adapter_in_flight": "\(leftInAdapter)",
        "stand_in_in_flight": "\(leftInStandIn)",
        "kernel_warnings": "\(log.split(separator: "\n").filter { $0.contains("WARNING:") || $0.contains("BUG:") }.count)",
        "disconnect_logged": "\(log.contains("USB disconnect"))",
    ])
    try kernel.halt()
    ProbeOutput.result("halted", 1)
}

/// Puts `airFrameCount` scripted frames (channels 6 and 11) on the model's
/// air and captures on the monitor interface until every channel-6 frame
/// is in (then 300 ms more). Returns expected, captured and how many
/// captured frames differ from what was sent (radiotap and FCS stripped).
private func captureScriptedAir(
    kernel: Kernel, interfaceIndex: Int, model: RTL8187Model, airFrameCount: Int
) throws -> (expected: Int, captured: Int, byteMismatches: Int) {
    let capture = try PacketCapture(kernel: kernel, interfaceIndex: interfaceIndex)
    let air = rtl8187ScriptedAir(count: airFrameCount)
    let expected = air.filter { $0.channel == 6 }
    try model.putOnAir(air)
    var frames: [[UInt8]] = []
    let deadline = HostClock.monotonicNanoseconds() + 20_000_000_000
    var quietSince = HostClock.monotonicNanoseconds()
    while HostClock.monotonicNanoseconds() < deadline {
        let batch = try capture.receiveBatch()
        for index in 0..<batch { frames.append(Array(capture.frame(at: index).bytes)) }
        if batch > 0 { quietSince = HostClock.monotonicNanoseconds() }
        if frames.count >= expected.count && HostClock.monotonicNanoseconds() - quietSince > 300_000_000 { break }
    }
    var mismatches = 0
    for (bytes, sent) in zip(frames, expected) {
        guard let radiotap = try? RadiotapHeader.parse(bytes) else {
            mismatches += 1
            continue
        }
        let mac = Array(bytes[radiotap.length...])
        let hasFCS = radiotap.flags?.contains(RadiotapFlags(rawValue: 0x10)) ?? false
        if (hasFCS ? Array(mac.dropLast(4)) : mac) != sent.frame { mismatches += 1 }
    }
    return (expected.count, frames.count, mismatches + abs(frames.count - expected.count))
}

/// The adapter's counters and the stand-in's: which thread ran the
/// transfer callbacks, what the worker and the descriptor cache did.
private func reportLibUSBPath(adapter: LibUSBAdapter, standIn: ModelBackedUSBDevice) {
    let adapterStatistics = adapter.statistics
    let standInStatistics = standIn.statistics
    ProbeOutput.result([
        "transfers_submitted": "\(adapterStatistics.transfersSubmitted)",
        "requests_completed": "\(adapterStatistics.requestsCompleted)",
        "requests_failed": "\(adapterStatistics.requestsFailed)",
        "cancel_requests": "\(adapterStatistics.cancelRequests)",
        "descriptors_from_cache": "\(adapterStatistics.descriptorsFromCache)",
        "worker_jobs": "\(adapterStatistics.workerJobs)",
        "resets_skipped": "\(adapterStatistics.resetsSkipped)",
        "resets_performed": "\(adapterStatistics.resetsPerformed)",
    ])
    ProbeOutput.result([
        "stand_in_transfers": "\(standInStatistics.transfersSubmitted)",
        "callbacks_on_event_thread": "\(standInStatistics.callbacksOnEventThread)",
        "callbacks_off_event_thread": "\(standInStatistics.callbacksOffEventThread)",
        "callbacks_inside_submit": "\(standInStatistics.callbacksInsideSubmit)",
        "completions_during_submit": "\(standInStatistics.completionsDuringSubmit)",
        "transfers_cancelled": "\(standInStatistics.transfersCancelled)",
        "transfers_ended_by_unplug": "\(standInStatistics.transfersEndedByUnplug)",
        "synchronous_requests": "\(standInStatistics.synchronousRequests)",
        "set_configuration_calls": "\(standInStatistics.setConfigurationCalls)",
        "set_interface_calls": "\(standInStatistics.setInterfaceCalls)",
        "clear_halt_calls": "\(standInStatistics.clearHaltCalls)",
    ])
}

/// What the adapter's onRemoval did: it runs on the event thread, so it
/// only records and starts the detach on a thread of its own (detach
/// waits for the adapter's transfers, which that event thread gives back).
private final class RemovalWitness: Sendable {
    private let controller: VirtualHostController
    private let port: Int
    private let standIn: ModelBackedUSBDevice
    private let state = HostMutex(State())

    private struct State {
        var handlerCalls = 0
        var handlerRanOnEventThread = false
        var detachThread: JoinableThread?
        var detachResult = "not run"
    }

    init(controller: VirtualHostController, port: Int, standIn: ModelBackedUSBDevice) {
        self.controller = controller
        self.port = port
        self.standIn = standIn
    }

    var handlerCalls: Int { state.withLock { $0.handlerCalls } }
    var handlerRanOnEventThread: Bool { state.withLock { $0.handlerRanOnEventThread } }
    var detachResult: String { state.withLock { $0.detachResult } }

    func deviceGone() {
        let onEventThread = standIn.isEventThread
        state.withLock { witnessed in
            witnessed.handlerCalls += 1
            witnessed.handlerRanOnEventThread = onEventThread
            guard witnessed.handlerCalls == 1 else { return }
            // Started under the lock, so waitForDetach finds it once the call is counted.
            witnessed.detachThread = try? JoinableThread { [self] in
                let result: String
                do {
                    try controller.detach(port: port)
                    result = "ok"
                } catch {
                    result = "\(error)".split(separator: " ").joined(separator: "_")
                }
                state.withLock { $0.detachResult = result }
            }
        }
    }

    func waitForDetach() {
        let thread = state.withLock { state in
            defer { state.detachThread = nil }
            return state.detachThread
        }
        thread?.join()
    }
}
