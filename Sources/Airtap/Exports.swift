// SPDX-License-Identifier: GPL-2.0-only

// The value types of airtap's lower layers that appear in this library's
// API, so `import Airtap` is all a program needs.
@_exported import struct Capture.RadiotapFlags
@_exported import struct Capture.RadiotapHeader
@_exported import struct Capture.RadiotapMCS
@_exported import struct Capture.RadiotapTransmitOptions
@_exported import struct Capture.RadiotapVHT
@_exported import enum Wireless.ChannelPlan
@_exported import struct Wireless.ChannelSpec
@_exported import enum Wireless.ChannelWidthMode
@_exported import struct Wireless.MonitorFlags
