// SPDX-License-Identifier: GPL-2.0-only

import SimulatedAir

/// What every emulated Wi-Fi chip tells about its traffic and offers for
/// benchmarks, whatever drives it (the virtual HCD directly, or airtap's
/// libusb layer with the model standing in for hardware): one inject report
/// and one bench for all chips.
public protocol EmulatedChip: AnyObject, Sendable {
    /// Frames the driver handed the chip to send.
    var framesTransmitted: Int { get }
    /// Received frames the chip has handed the driver.
    var framesDelivered: Int { get }
    /// Where the chip's radio is tuned, as its registers say ("6", "149 (80 MHz around 155)").
    var tuningDescription: String { get }
    /// How transmissions leave the chip, for messages ("bulk OUT 2").
    var transmitPath: String { get }
    /// Sends `count` frames cycled from `templates` on the tuned channel as
    /// fast as the driver takes them (the benchmarks' air).
    func startAirFlood(_ templates: [AirFrame], count: Int) throws
    var airFloodRemaining: Int { get }
    func stopAirFlood()
    /// Offers `count` frames at `framesPerSecond` whether or not the driver
    /// keeps up (paced benchmarks); `airFramesLost` counts those the chip's
    /// FIFO had no room for.
    func startOfferedAirLoad(_ templates: [AirFrame], count: Int, framesPerSecond: Double) throws
    /// Offered frames that have not arrived yet.
    var airOfferedRemaining: Int { get }
    var airFramesLost: Int { get }
    /// Of `airFramesLost`, frames that arrived while a receive URB waited
    /// at the chip: lost to the emulation's own lateness (its thread ran
    /// late), not to the driver and capture path.
    var airFramesLostWhileURBWaited: Int { get }
    /// Host CPU spent so far on the chip's own work, receive and transmit
    /// (what real hardware does in silicon), so a benchmark can state the
    /// driver and capture path's cost without it
    /// (`ReceivePipe.emulationCPUSeconds`, `EmulationCPUMeter`).
    var airEmulationCPUSeconds: Double { get }
}

extension RTL8187Model: EmulatedChip {
    public var framesTransmitted: Int { statistics.framesTransmitted }
    public var framesDelivered: Int { statistics.framesReceived }
    public var tuningDescription: String { tunedChannel.map(String.init) ?? "nothing" }
    public var transmitPath: String { "bulk OUT 2" }
    public var airFloodRemaining: Int { floodRemaining }
    public func stopAirFlood() { stopFlood() }

    public func startAirFlood(_ templates: [AirFrame], count: Int) throws {
        let frames = templates.compactMap(RTL8187AirFrame.init(heard:))
        guard frames.count == templates.count else { throw RTL8187AirError.notDecodable }
        try startFlood(templates: frames, count: count)
    }

    /// The RTL8187 model paces its scripted air per frame, without a loss
    /// model; offered loads need a chip on the shared `ReceivePipe`.
    public func startOfferedAirLoad(_ templates: [AirFrame], count: Int, framesPerSecond: Double) throws {
        throw RTL8187AirError.offeredLoadUnsupported
    }

    public var airOfferedRemaining: Int { 0 }
    public var airFramesLost: Int { statistics.framesOverflowed }
    public var airFramesLostWhileURBWaited: Int { receivePipe.statistics.packetsOverflowedWhileURBWaited }
    public var airEmulationCPUSeconds: Double { receivePipe.emulationCPUSeconds + transmitEmulation.seconds }
}

extension RTW88Model: EmulatedChip {
    public var framesTransmitted: Int { statistics.framesTransmitted }
    public var framesDelivered: Int { receivePipe.statistics.packetsDelivered }
    public var tuningDescription: String { tunedChannel.map(String.init(describing:)) ?? "nothing" }
    public var transmitPath: String { "bulk OUT 2-4" }
    public var airFloodRemaining: Int { receivePipe.floodRemaining }
    public func stopAirFlood() { receivePipe.stopFlood() }

    public func startAirFlood(_ templates: [AirFrame], count: Int) throws {
        startFlood(templates: templates, count: count)
    }

    public func startOfferedAirLoad(_ templates: [AirFrame], count: Int, framesPerSecond: Double) throws {
        receivePipe.startOfferedLoad(templates: encodedPackets(templates), count: count, framesPerSecond: framesPerSecond)
    }

    public var airOfferedRemaining: Int { receivePipe.offeredLoadRemaining }
    public var airFramesLost: Int { receivePipe.statistics.packetsOverflowed }
    public var airFramesLostWhileURBWaited: Int { receivePipe.statistics.packetsOverflowedWhileURBWaited }
    public var airEmulationCPUSeconds: Double { receivePipe.emulationCPUSeconds + transmitEmulation.seconds }
}
