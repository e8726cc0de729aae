// SPDX-License-Identifier: GPL-2.0-only

import CFuzzFeedback

/// Coverage from the kernel's side. The kernel library carries no coverage
/// instrumentation (that would need KCOV and a rebuilt kernel), so libFuzzer
/// only sees the instrumented Swift code (models, bridge, harness) plus what
/// the harness feeds in here: hashes of what the kernel was observed doing,
/// counted in libFuzzer's extra counters (`CFuzzFeedback`). A feature never
/// seen before makes libFuzzer keep the input.
public enum FuzzFeedback {
    /// Keeps features of different kinds apart in the hash.
    public enum Kind: UInt32, Sendable {
        /// A control request the kernel sent (type, request, value's high byte, step).
        case controlRequest = 1
        /// A console message, with numbers and addresses taken out.
        case consoleMessage = 2
        /// A frame the capture socket received (radiotap fields, length class).
        case capturedFrame = 3
        /// How a delivered completion ended (status kind, resubmitted or not).
        case completionOutcome = 4
        /// How an enumeration input ended (bound, failed, quiet, unplugged).
        case enumerationOutcome = 5
        /// A request on a non-control endpoint (endpoint, type, length class).
        case endpointRequest = 6
        /// How many frames one input produced (log2 class).
        case capturedCount = 7
    }

    public static func hit(_ kind: Kind, _ value: UInt64) {
        airtap_fuzz_feedback_hit(UInt32(truncatingIfNeeded: mix(UInt64(kind.rawValue) << 56 ^ value)))
    }

    /// Counters that are non-zero now.
    public static var activeCounters: Int { Int(airtap_fuzz_feedback_active()) }

    /// FNV-1a, for byte strings (message templates).
    public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// splitmix64's finaliser: spreads nearby values over all counters.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0 for 0, else 1 + floor(log2(value)): length and count classes.
    public static func sizeClass(_ value: Int) -> UInt64 {
        value <= 0 ? 0 : UInt64(Int.bitWidth - value.leadingZeroBitCount)
    }
}
