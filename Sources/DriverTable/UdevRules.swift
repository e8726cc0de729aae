// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// The udev rule that lets a logged-in user (and group plugdev) open the
/// adapters airtap drives, generated from the driver table.
public enum UdevRules {
    /// Where the rule ships in the repository and where it is installed.
    public static let repositoryPath = "packaging/udev/70-airtap.rules"
    public static let installedPath = "/etc/udev/rules.d/70-airtap.rules"

    /// The commands that install the rule.
    public static let installCommands = """
        sudo install -m 644 \(repositoryPath) \(installedPath)
        sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=usb
        """

    /// One rule per vendor:product a Wi-Fi driver names. Entries that match
    /// a whole vendor by interface class would need a rule granting every
    /// device of that vendor, so they are only listed, as comments.
    public static func generate(from table: DriverTable) -> String {
        var products: [String: Set<String>] = [:]  // "vvvv:pppp" -> modules
        var vendorWide: [String: Set<String>] = [:]  // "vvvv" -> modules
        for driver in table.wirelessDrivers {
            for id in driver.ids where id.flags.contains(.vendor) {
                if id.flags.contains(.product) {
                    products[hexString(id.vendorID, digits: 4) + ":" + hexString(id.productID, digits: 4), default: []].insert(driver.module)
                } else {
                    vendorWide[hexString(id.vendorID, digits: 4), default: []].insert(driver.module)
                }
            }
        }
        var lines = [
            "# SPDX-License-Identifier: GPL-2.0-only",
            "# airtap: let the logged-in user (uaccess) and group plugdev open the USB",
            "# Wi-Fi adapters the kernel library's drivers support, so capture needs no root.",
            "# Generated from the library's driver ID tables by `airtap drivers --udev-rules`;",
            "# do not edit by hand. Install:",
        ]
        lines += installCommands.split(separator: "\n").map { "#   " + $0 }
        lines.append("")
        lines.append("ACTION!=\"add|change\", GOTO=\"airtap_end\"")
        lines.append("SUBSYSTEM!=\"usb\", GOTO=\"airtap_end\"")
        lines.append("ENV{DEVTYPE}!=\"usb_device\", GOTO=\"airtap_end\"")
        lines.append("")
        for key in products.keys.sorted() {
            let parts = key.split(separator: ":")
            let modules = products[key]!.sorted().joined(separator: ", ")
            lines.append(
                "ATTR{idVendor}==\"\(parts[0])\", ATTR{idProduct}==\"\(parts[1])\", "
                    + "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"  # \(modules)")
        }
        if !vendorWide.isEmpty {
            lines.append("")
            lines.append("# Drivers that also match whole vendors by interface class (add a rule for")
            lines.append("# your product if it is not listed above):")
            for vendor in vendorWide.keys.sorted() {
                lines.append("#   vendor \(vendor): \(vendorWide[vendor]!.sorted().joined(separator: ", "))")
            }
        }
        lines.append("")
        lines.append("LABEL=\"airtap_end\"")
        return lines.joined(separator: "\n") + "\n"
    }
}
