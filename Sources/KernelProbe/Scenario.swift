// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// One probe run. Each boots its own kernel, so each needs its own process.
enum Scenario: String, CaseIterable {
    /// Boot, report the banner and boot time, halt; host threads before boot and after halt.
    case bootHalt = "boot-halt"
    /// Basic syscalls: getpid, uname, files, nanosleep.
    case syscalls
    /// 64 short-lived host threads making syscalls; their kernel tasks must be reclaimed.
    case threads
    /// A thread blocked in read() must not keep other threads out of the kernel.
    case blocking
    /// Run the built-in KUnit suites; extra argument: more command line (e.g. a filter).
    case kunit
    /// Boot with lkl.test_panic=1; must end through the panic handler.
    case panic
    /// Boot time and memory.
    case benchBoot = "bench-boot"
    /// lkl_syscall(getpid) against the host's getpid syscall; extra argument: iterations.
    case benchSyscall = "bench-syscall"
    /// Gadget zero on the virtual host controller, driven by usbtest through
    /// usbfs like testusb; extra arguments: `super` (SuperSpeed gadget zero
    /// on the SuperSpeed root hub), comma-separated test numbers.
    case usbtest
    /// Gadget zero with a usbmon pcap trace; extra arguments: the pcap path, `super`.
    case usbTrace = "usb-trace"
    /// Malformed descriptors: enumeration errors in the kernel log, no hang.
    case usbBadDescriptors = "usb-bad-descriptors"
    /// Bad completions (oversize, unknown, twice, cancelled, after detach).
    case usbBadHost = "usb-bad-host"
    /// Detach with URBs in flight; extra arguments: how many (default 100), `super`.
    case usbDetachInFlight = "usb-detach-inflight"
    /// Port numbering of the two root hubs: connectors, SuperSpeed ports,
    /// a full controller, a port reset of a SuperSpeed device.
    case usbPorts = "usb-ports"
    /// Control transfers/s, bulk IN MB/s, URB latency through gadget zero.
    case benchUSB = "bench-usb"
    /// The rtl8187 driver on the RTL8187 model: binds, wlan with the
    /// EEPROM's MAC, monitor mode; extra argument: a usbmon trace path.
    case rtl8187Probe = "rtl8187-probe"
    /// Monitor capture of the model's scripted air; extra: pcapng path, frame count.
    case rtl8187Receive = "rtl8187-rx"
    /// Injection recorded by the model; extra: frame count.
    case rtl8187Transmit = "rtl8187-tx"
    /// A real USB device over libusb through usbtest's control tests
    /// (`make hwtest`); extra: a device selector (default usb).
    case usbHardware = "usb-hw"
    /// usbtest against gadget zero behind LibUSBAdapter, a model standing
    /// in for the hardware behind libusb; extra: `super`, comma-separated test numbers.
    case usbtestOverLibUSB = "usbtest-libusb"
    /// The rtl8187 driver on the RTL8187 model behind LibUSBAdapter: bind,
    /// monitor mode, RX, surprise removal; extra: air frame count.
    case rtl8187OverLibUSB = "rtl8187-libusb"
    /// rtw88 on an emulated Realtek chip: bind, firmware, efuse MAC, monitor;
    /// extra: chip (rtl8821au, rtl8821cu), a usbmon trace path.
    case rtw88Probe = "rtw88-probe"
    /// Monitor capture on 6, 36 and 149/80 of a scripted air; extra: chip, pcapng path, frames per channel.
    case rtw88Receive = "rtw88-rx"
    /// Injection on 6 and 36 recorded by the model, TX reports; extra: chip, frames per channel.
    case rtw88Transmit = "rtw88-tx"
    /// The RTL8187L model injects, the RTL8821AU model captures: one air, two drivers; extra: count.
    case rtw88SharedAir = "rtw88-air"
    /// `make soak`: a long paced capture with injection and hops, checked for
    /// growth, losses and kernel warnings; extra: seconds, sample seconds, frames/s, warm-up seconds.
    case soak
    /// Kernel RAM a burst used goes back to the host once freed (free page reporting).
    case ramReturn = "ram-return"

    func run(extraArguments: [String]) throws {
        let extra = extraArguments.joined(separator: " ")
        switch self {
        case .bootHalt: try runBootHalt()
        case .syscalls: try runSyscalls()
        case .threads: try runThreads()
        case .blocking: try runBlocking()
        case .kunit: try runKUnit(extraCommandLine: extra)
        case .panic: try runPanic(extraCommandLine: extra)
        case .benchBoot: try runBenchBoot()
        case .benchSyscall: try runBenchSyscall(iterations: extraArguments.first.flatMap { Int($0) } ?? 1_000_000)
        case .usbtest: try runUSBTest(arguments: extraArguments)
        case .usbTrace: try runUSBTrace(arguments: extraArguments)
        case .usbBadDescriptors: try runUSBBadDescriptors()
        case .usbBadHost: try runUSBBadHost()
        case .benchUSB: try runBenchUSB()
        case .rtl8187Probe: try runRTL8187Probe(tracePath: extra)
        case .rtw88Probe: try runRTW88Probe(arguments: extraArguments)
        case .rtw88Receive: try runRTW88Receive(arguments: extraArguments)
        case .rtw88Transmit: try runRTW88Transmit(arguments: extraArguments)
        case .rtw88SharedAir: try runRTW88SharedAir(arguments: extraArguments)
        case .rtl8187Receive: try runRTL8187Receive(arguments: extraArguments)
        case .rtl8187Transmit: try runRTL8187Transmit(arguments: extraArguments)
        case .usbHardware: try runUSBHardwareTest(selectorText: extra)
        case .usbtestOverLibUSB: try runUSBTestOverLibUSB(arguments: extraArguments)
        case .rtl8187OverLibUSB: try runRTL8187OverLibUSB(arguments: extraArguments)
        case .usbDetachInFlight: try runUSBDetachInFlight(arguments: extraArguments)
        case .usbPorts: try runUSBPorts()
        case .soak: try runSoak(arguments: extraArguments)
        case .ramReturn: try runRAMReturn()
        }
    }
}

/// Joins the fixed part of a command line with a caller-supplied extra part.
func commandLine(_ base: String, extra: String) -> String {
    extra.isEmpty ? base : "\(base) \(extra)"
}
