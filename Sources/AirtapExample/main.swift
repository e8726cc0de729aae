// SPDX-License-Identifier: GPL-2.0-only
// README.md quotes this file ("Swift library"); a test keeps the two equal.
import Airtap

// Any name `airtap --device` takes: sim, emulated:rtl8187, usb, usb:0bda:8812, ...
let radio = try await Radio.open(CommandLine.arguments.dropFirst().first ?? "sim")
try radio.tune("6")
print("listening on \(radio.deviceName) (\(radio.wiphyName)), channel \(radio.channel?.description ?? "-")")

var count = 0
for try await frame in try radio.frames() {
    let signal = frame.signalDBm.map { "\($0) dBm" } ?? "-"
    print("\(frame.frequencyMHz ?? 0) MHz  \(frame.rate ?? "-")  \(signal)  \(frame.ieee80211.count) bytes")
    count += 1
    if count == 10 { break }  // leaving the loop ends the capture
}

// A data frame to a multicast group, sent at 1 Mb/s without waiting for an ACK.
let header: [UInt8] = [0x08, 0x00, 0x00, 0x00]  // data frame, no flags, duration 0
let addresses: [UInt8] = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01] + [0x02, 0x00, 0x00, 0x00, 0x00, 0x01] + [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]
let sequence: [UInt8] = [0x00, 0x00]
try radio.inject(
    ieee80211: header + addresses + sequence + Array("hello".utf8),
    options: RadiotapTransmitOptions(rate: 2, txFlags: RadiotapTransmitOptions.txFlagNoAck))

let statistics = radio.statistics
print("captured \(statistics.framesCaptured) frames, injected \(statistics.framesInjected), kernel dropped \(statistics.kernelDropped)")
radio.close()
