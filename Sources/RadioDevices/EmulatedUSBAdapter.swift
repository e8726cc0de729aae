// SPDX-License-Identifier: GPL-2.0-only

import SimulatedAir
import USBDevices

/// What every emulated USB adapter offers beyond a radio: the model's own
/// view of the traffic (for the inject report and the benchmarks) and its
/// unlimited air for floods. One interface, so one bench and one inject
/// path serve every chip.
public protocol EmulatedUSBAdapter: RadioDevice {
    /// From plugging the adapter in to its monitor interface being up.
    var bringUpSeconds: Double { get }
    /// Frames the driver handed the chip to send.
    var adapterFramesTransmitted: Int { get }
    /// Received frames the chip has handed the driver.
    var adapterFramesDelivered: Int { get }
    /// Where the model's radio is tuned, as its registers say ("6", "149 (80 MHz around 155)").
    var adapterTuning: String { get }
    /// How transmissions leave the chip, for messages ("bulk OUT 2").
    var adapterTransmitPath: String { get }
    /// Sends `count` frames cycled from `templates` on the tuned channel as
    /// fast as the driver takes them (the benchmarks' air).
    func startAirFlood(_ templates: [AirFrame], count: Int) throws
    var airFloodRemaining: Int { get }
    func stopAirFlood()
    /// Pulls the adapter out with its URBs pending.
    func unplug() throws
}

extension EmulatedRTL8187: EmulatedUSBAdapter {
    public var adapterFramesTransmitted: Int { model.statistics.framesTransmitted }
    public var adapterFramesDelivered: Int { model.statistics.framesReceived }
    public var adapterTuning: String { model.tunedChannel.map(String.init) ?? "nothing" }
    public var adapterTransmitPath: String { "bulk OUT 2" }
    public var airFloodRemaining: Int { model.floodRemaining }
    public func stopAirFlood() { model.stopFlood() }

    public func startAirFlood(_ templates: [AirFrame], count: Int) throws {
        let frames = templates.compactMap(RTL8187AirFrame.init(heard:))
        guard frames.count == templates.count else {
            throw DeviceError.setupFailed(device: name, reason: "the RTL8187 hears only legacy-rate 20 MHz frames on 2.4 GHz")
        }
        try model.startFlood(templates: frames, count: count)
    }
}

extension EmulatedRTW88: EmulatedUSBAdapter {
    public var adapterFramesTransmitted: Int { model.statistics.framesTransmitted }
    public var adapterFramesDelivered: Int { model.receivePipe.statistics.packetsDelivered }
    public var adapterTuning: String { model.tunedChannel.map(String.init(describing:)) ?? "nothing" }
    public var adapterTransmitPath: String { "bulk OUT 2-4" }
    public var airFloodRemaining: Int { model.receivePipe.floodRemaining }
    public func stopAirFlood() { model.receivePipe.stopFlood() }

    public func startAirFlood(_ templates: [AirFrame], count: Int) throws {
        model.startFlood(templates: templates, count: count)
    }
}
