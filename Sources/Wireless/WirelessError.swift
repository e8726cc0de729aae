// SPDX-License-Identifier: GPL-2.0-only

public enum WirelessError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidChannelSyntax(String)
    case invalidMonitorFlag(String, valid: [String])
    case unknownChannel(ChannelSpec, device: String, valid: [String])
    case channelNotUsable(ChannelSpec, device: String, reason: String)
    case interfaceNotFound(String)
    case wiphyNotFound(Int)
    case activeMonitorUnsupported(wiphy: String)
    case regulatoryChangeTimedOut(requested: String, current: String)
    case invalidRegulatoryCode(String)

    public var description: String {
        switch self {
        case .invalidChannelSyntax(let text):
            return "cannot read channel \"\(text)\": use a channel number (6, 36), a frequency in MHz (2437), "
                + "6 GHz as 6gN, optionally with a width: 6:ht20, 6:ht40+, 6:ht40-, 36:80 (default no-HT 20 MHz)"
        case .invalidMonitorFlag(let name, let valid):
            return "unknown monitor flag \"\(name)\"; valid flags: \(valid.joined(separator: ", "))"
        case .unknownChannel(let spec, let device, let valid):
            return "channel \(spec) is not available on \(device); valid channels: \(valid.joined(separator: " "))"
        case .channelNotUsable(let spec, let device, let reason):
            return "channel \(spec) cannot be used on \(device): \(reason)"
        case .interfaceNotFound(let name):
            return "no wireless interface \(name) in the kernel"
        case .wiphyNotFound(let index):
            return "no wiphy #\(index) in the kernel"
        case .activeMonitorUnsupported(let wiphy):
            return "\(wiphy) does not support active monitor mode (NL80211_FEATURE_ACTIVE_MONITOR); drop the 'active' flag"
        case .regulatoryChangeTimedOut(let requested, let current):
            return "the kernel did not switch to regulatory domain \(requested) (still \(current)); "
                + "is it in the built-in regulatory.db?"
        case .invalidRegulatoryCode(let code):
            return "regulatory domain \"\(code)\" must be two letters (ISO 3166 alpha-2, e.g. US, DE) or 00 for world"
        }
    }
}
