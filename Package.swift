// SPDX-License-Identifier: GPL-2.0-only
// swift-tools-version:6.0
// (Tools version 6.0 allows this declaration after leading comments.)

import PackageDescription

/// Directory holding this manifest; the kernel build drops liblkl.a below it.
let packageDirectory: String = {
    let manifestPath = #filePath
    guard let lastSlash = manifestPath.lastIndex(of: "/") else { return "." }
    return String(manifestPath[..<lastSlash])
}()

/// Where `make` puts liblkl.a (see kernel/). The linker needs an absolute path
/// because SwiftPM runs it from inside .build/.
let kernelLibraryDirectory = packageDirectory + "/build/out/lib"

let package = Package(
    name: "airtap",
    platforms: [.macOS(.v15)],  // Mutex (Synchronization); the kernel itself is Linux-only
    products: [
        .executable(name: "airtap", targets: ["airtap"]),
        .executable(name: "airtap-kernel-probe", targets: ["KernelProbe"]),
        .library(name: "LinuxKernel", targets: ["LinuxKernel"]),
        .library(name: "USBHost", targets: ["USBHost"]),
        .library(name: "USBDevices", targets: ["USBDevices"]),
        // For Swift programs: open a radio by name, tune, capture as an
        // AsyncSequence, inject (README, "Swift library").
        .library(name: "Airtap", targets: ["Airtap"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // The kernel library's C API (lkl/lkl.h); links -llkl.
        .systemLibrary(name: "CLinuxKernel", path: "Sources/CLinuxKernel"),

        // syscall(2) is variadic and therefore invisible to Swift; this wraps
        // the one raw host syscall the benchmarks compare against.
        .target(name: "CHostSyscall", path: "Sources/CHostSyscall"),

        .target(
            name: "LinuxKernel",
            dependencies: [
                "CLinuxKernel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/LinuxKernel",
            linkerSettings: [
                .unsafeFlags(["-L", kernelLibraryDirectory]),
                .linkedLibrary("pthread"),
            ]
        ),

        // The host side of the virtual USB host controller: the bridge
        // (VirtualHostController), the USBDevice protocol, usbmon traces.
        .target(
            name: "USBHost",
            dependencies: [
                "CLinuxKernel",
                "LinuxKernel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/USBHost"
        ),

        // The simulated air every emulated adapter shares: channels, rates,
        // frames, and the stations on it (APs beacon and answer probes).
        .target(
            name: "SimulatedAir",
            dependencies: ["Capture", "LinuxKernel"],
            path: "Sources/SimulatedAir"
        ),

        // Software USB device models (gadget zero, the RTL8187L and rtw88
        // Wi-Fi adapters), PHY front ends on the simulated air.
        .target(
            name: "USBDevices",
            dependencies: [
                "USBHost",
                "SimulatedAir",
                "LinuxKernel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/USBDevices"
        ),

        // libusb-1.0 from Debian (libusb-1.0-0-dev): the header by its full path
        // under /usr/include, so the build does not need pkg-config.
        .systemLibrary(
            name: "CLibUSB", path: "Sources/CLibUSB",
            providers: [.apt(["libusb-1.0-0-dev"])]),

        // libpcap from Debian (libpcap-dev): its filter compiler turns -f
        // expressions into the classic BPF the kernel's socket filter runs.
        .systemLibrary(
            name: "CLibPcap", path: "Sources/CLibPcap",
            providers: [.apt(["libpcap-dev"])]),

        // Real USB devices through libusb: enumeration, device selectors, and
        // LibUSBAdapter, a USBDevice whose transfers go to the real hardware
        // and complete from libusb's event thread.
        .target(
            name: "HostUSB",
            dependencies: [
                "CLibUSB",
                "USBHost",
                "LinuxKernel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/HostUSB"
        ),

        // Which built-in driver binds which USB device (read from the kernel's
        // own ID tables), the firmware each driver needs, udev rules.
        .target(
            name: "DriverTable",
            dependencies: [
                "CLinuxKernel",
                "LinuxKernel",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/DriverTable"
        ),

        .executableTarget(
            name: "KernelProbe",
            dependencies: [
                "LinuxKernel",
                "CLinuxKernel",
                "CHostSyscall",
                "USBHost",
                "USBDevices",
                "HostUSB",
                "DriverTable",
                "Capture",
                "Wireless",
                "RadioDevices",
                "SimulatedAir",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/KernelProbe"
        ),

        // Sockets inside the kernel library (socket, bind, options, send, receive).
        .target(
            name: "KernelSockets",
            dependencies: [
                "CLinuxKernel",
                "LinuxKernel",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/KernelSockets"
        ),

        // Netlink: attributes, generic netlink family resolution, rtnetlink links.
        .target(
            name: "Netlink",
            dependencies: ["KernelSockets", "LinuxKernel", .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/Netlink"
        ),

        // nl80211: wiphys, interfaces, monitor mode, channels, regulatory domain.
        .target(
            name: "Wireless",
            dependencies: ["Netlink", "LinuxKernel"],
            path: "Sources/Wireless"
        ),

        // AF_PACKET capture and injection, pcapng/pcap, radiotap, 802.11 frames.
        .target(
            name: "Capture",
            dependencies: [
                "KernelSockets", "LinuxKernel", "CLinuxKernel", "CLibPcap",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/Capture"
        ),

        // Radios airtap can open (sim = mac80211_hwsim; emulated:rtl8187 = the
        // rtl8187 driver on a USB device model) and the capture loop.
        .target(
            name: "RadioDevices",
            dependencies: [
                "Capture", "Wireless", "LinuxKernel", "USBHost", "USBDevices", "HostUSB", "DriverTable", "SimulatedAir",
            ],
            path: "Sources/RadioDevices"
        ),

        // `airtap bridge`: a host TAP interface of link type radiotap joined to
        // a radio's monitor interface both ways.
        .target(
            name: "TapBridge",
            dependencies: ["Capture", "RadioDevices", "Wireless", "LinuxKernel"],
            path: "Sources/TapBridge"
        ),

        .executableTarget(
            name: "airtap",
            dependencies: [
                "TapBridge",
                "LinuxKernel",
                "Netlink",
                "Wireless",
                "Capture",
                "RadioDevices",
                "USBDevices",
                "HostUSB",
                "DriverTable",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/airtap"
        ),

        // The library for Swift programs, over the same devices and capture loop.
        .target(
            name: "Airtap",
            dependencies: ["Capture", "Wireless", "RadioDevices", "LinuxKernel"],
            path: "Sources/Airtap"
        ),

        // libFuzzer "extra counters": kernel-observable features as coverage.
        .target(name: "CFuzzFeedback", path: "Sources/CFuzzFeedback"),

        // USB fuzz targets (enumeration, rtl8187 RX, rtw88 RX): fuzzing device
        // models behind the virtual host controller, findings, watchdog, seeds.
        .target(
            name: "USBFuzzing",
            dependencies: [
                "CFuzzFeedback", "CLinuxKernel", "LinuxKernel", "USBHost", "USBDevices", "RadioDevices", "Capture",
                "Wireless", "SimulatedAir", "KernelSockets",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/USBFuzzing"
        ),

        // The fuzzer: libFuzzer's driver when built with -sanitize=fuzzer
        // (`make fuzz`), else a replay/seed tool over the same harness.
        .executableTarget(
            name: "airtap-usb-fuzz",
            dependencies: ["USBFuzzing", "LinuxKernel"],
            path: "Sources/USBFuzzer"
        ),

        // README's library example, verbatim (a test compares and runs it).
        .executableTarget(
            name: "AirtapExample",
            dependencies: ["Airtap"],
            path: "Sources/AirtapExample"
        ),

        // The library's contract, one process per run (tests launch it).
        .executableTarget(
            name: "airtap-library-checks",
            dependencies: ["Airtap"],
            path: "Tests/AirtapLibraryChecks"
        ),

        .testTarget(
            name: "LinuxKernelTests",
            dependencies: [
                "LinuxKernel",
                // Not imported: the dependency makes `swift test` build the probe
                // binary that the boot tests launch.
                "KernelProbe",
            ],
            path: "Tests/LinuxKernelTests"
        ),

        .testTarget(
            name: "USBHostTests",
            dependencies: [
                "USBHost",
                "USBDevices",
                // Not imported: makes `swift test` build the probe the scenario tests launch.
                "KernelProbe",
            ],
            path: "Tests/USBHostTests"
        ),

        .testTarget(
            name: "USBFuzzTests",
            dependencies: [
                "USBFuzzing",
                // Not imported: makes `swift test` build the fuzzer the smoke tests launch.
                "airtap-usb-fuzz",
            ],
            path: "Tests/USBFuzzTests"
        ),

        .testTarget(
            name: "HostUSBTests",
            dependencies: [
                "HostUSB",
                "DriverTable",
                "USBHost",
                // Not imported: makes `swift test` build the airtap binary the
                // driver-table tests launch.
                "airtap",
            ],
            path: "Tests/HostUSBTests"
        ),

        .testTarget(
            name: "WirelessTests",
            dependencies: [
                "Netlink",
                "Wireless",
                "Capture",
                // Not imported: makes `swift test` build the airtap binary the
                // end-to-end tests launch.
                "airtap",
                // The same for the library's example and checks programs.
                "AirtapExample",
                "airtap-library-checks",
                "Airtap",
            ],
            path: "Tests/WirelessTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
