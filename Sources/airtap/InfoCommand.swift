// SPDX-License-Identifier: GPL-2.0-only

import ArgumentParser
import Foundation
import RadioDevices
import Wireless

/// `airtap info`: what the device's radio can do.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a device's wireless capabilities (bands, channels, interface types, monitor flags).")

    @OptionGroup var deviceArguments: DeviceArguments

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    struct Report: Codable {
        var device: String
        var summary: String
        var wiphy: WiphyInfo
        var monitorInterface: WirelessInterface
        var regulatoryDomain: RegulatoryDomain
        var supportedMonitorFlags: [String]
    }

    func run() throws {
        bootstrapLogging(verbose: deviceArguments.verbose)
        let descriptor = try deviceArguments.descriptor()
        let device = try deviceArguments.open(simulatedTraffic: false)
        defer { close(device) }
        let report = Report(
            device: descriptor.name, summary: descriptor.summary, wiphy: device.wiphy,
            monitorInterface: try device.control.interface(named: device.monitorInterface.name),
            regulatoryDomain: try device.control.regulatoryDomain(),
            supportedMonitorFlags: device.wiphy.supportedMonitorFlags.names)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.table(report))
        }
    }

    static func table(_ report: Report) -> String {
        let wiphy = report.wiphy
        let interface = report.monitorInterface
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append(label.padded(to: 18) + value) }
        row("Device", "\(report.device): \(report.summary)")
        row("Radio", "\(wiphy.name) (wiphy \(wiphy.index))")
        row("Interface", "\(interface.name) (ifindex \(interface.index), \(interface.type), \(interface.macAddressText))")
        if let frequency = interface.frequency {
            row("Current channel", ChannelSpec(frequency: frequency).description)
        }
        row("Regulatory domain", report.regulatoryDomain.summary)
        row("Interface types", wiphy.supportedInterfaceTypes.map(\.description).joined(separator: ", "))
        row("Monitor flags", report.supportedMonitorFlags.joined(separator: ", "))
        var power = wiphy.supportsTXPowerSetting ? "settable" : "fixed"
        if let current = interface.txPowerMBm { power += ", current \(formatMBm(current))" }
        row("TX power", power)
        if let tx = wiphy.antennaAvailableTX, let rx = wiphy.antennaAvailableRX {
            var antennas = "available TX 0x\(String(tx, radix: 16)) RX 0x\(String(rx, radix: 16))"
            if let currentTX = wiphy.antennaTX, let currentRX = wiphy.antennaRX {
                antennas += ", configured TX 0x\(String(currentTX, radix: 16)) RX 0x\(String(currentRX, radix: 16))"
            }
            row("Antennas", antennas)
        } else {
            row("Antennas", "not reported")
        }
        for band in wiphy.bands {
            lines.append("")
            var capabilities: [String] = []
            if let ht = band.htCapabilities { capabilities.append("HT cap 0x\(String(ht, radix: 16))") }
            if let vht = band.vhtCapabilities { capabilities.append("VHT cap 0x\(String(vht, radix: 16))") }
            lines.append("Band \(band.band)" + (capabilities.isEmpty ? "" : " (\(capabilities.joined(separator: ", ")))"))
            let rates = band.bitratesKbps.map { rate in
                rate % 1000 == 0 ? "\(rate / 1000)" : "\(Double(rate) / 1000)"
            }
            lines.append("  bitrates (Mb/s): \(rates.joined(separator: " "))")
            lines.append("  " + "CHANNEL".padded(to: 9) + "FREQ".padded(to: 10) + "MAX POWER".padded(to: 11) + "FLAGS")
            for frequency in band.frequencies {
                let power = frequency.maximumTXPowerMBm.map(formatMBm) ?? "-"
                lines.append(
                    "  " + ChannelPlan.label(forFrequency: frequency.mhz).padded(to: 9) + "\(frequency.mhz) MHz".padded(to: 10)
                        + power.padded(to: 11) + frequency.flags.labels.joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n")
    }
}

func formatMBm(_ mBm: Int) -> String {
    "\(mBm / 100).\(abs(mBm % 100) / 10) dBm"
}
