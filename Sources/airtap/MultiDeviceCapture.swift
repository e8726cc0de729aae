// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Capture
import RadioDevices
import Wireless

/// `airtap capture --device A --device B`: what differs from a capture of
/// one device is only planning and reporting; the capture itself is
/// `runCapture` and the one loop (`CaptureRun` with additional sources).
enum MultiDeviceCapture {
    /// Each device's channels: `channelList` for all of them, or one list
    /// per device (`perDevice`, in `--device` order).
    static func channelPlans(channelList: String, perDevice: [String], devices: [String]) throws -> [[ChannelSpec]] {
        guard !perDevice.isEmpty else {
            let channels = try parseChannelList(channelList)
            return devices.map { _ in channels }
        }
        guard perDevice.count == devices.count else {
            throw ValidationError(
                "--channel is given \(perDevice.count) times for \(devices.count) device(s): give it once (for every device, "
                    + "a comma-separated list such as --channel 1,6,11) or once per --device, in the same order")
        }
        return try perDevice.map(parseChannelList)
    }

    /// Checked before the kernel boots: a classic pcap file has one link
    /// interface, so it cannot hold several devices.
    static func checkFormat(_ format: CaptureFileFormat, deviceCount: Int) throws {
        if deviceCount > 1, format == .pcap {
            throw CaptureFileHeaderError.pcapHoldsOneInterface(interfaces: deviceCount)
        }
    }

    /// "emulated:rtl8187 (phy0, wlan0), channels 6" for each device.
    static func describe(_ devices: [any RadioDevice], plans: [[ChannelSpec]]) -> String {
        zip(devices, plans).map { device, channels in
            "\(device.displayName), channels \(channels.map(\.description).joined(separator: ", "))"
        }.joined(separator: " and ")
    }

    /// One line per device of a capture of several (its pcapng interface).
    static func report(_ part: CaptureInterfaceResult) -> String {
        return "airtap: interface \(part.interface), \(part.deviceName): \(part.frames) frames (\(part.bytes) bytes); "
            + "kernel received \(part.statistics.received), dropped \(part.statistics.dropped); "
            + "channels visited: \(part.channelsVisited.label)" + (part.removed ? " (unplugged)" : "") + "\n"
    }

    /// Said when one device of several goes away mid-capture.
    static func removalNotice(_ part: CaptureInterfaceResult, stillCapturing: Int) -> String {
        "airtap: \(DeviceError.removed(device: part.deviceName)): its part of the capture (interface \(part.interface)) "
            + "ended after \(part.frames) frames (its closing statistics are written at the end); "
            + (stillCapturing > 0 ? "\(stillCapturing) other device(s) capture on\n" : "no device is left\n")
    }
}
