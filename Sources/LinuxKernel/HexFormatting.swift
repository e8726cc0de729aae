// SPDX-License-Identifier: GPL-2.0-only

/// `value` in lowercase hexadecimal, zero-padded to at least `digits`
/// ("0bda", "0e"): how IDs, registers and MAC bytes are written everywhere.
public func hexString(_ value: some BinaryInteger, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}
