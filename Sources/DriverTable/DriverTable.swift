// SPDX-License-Identifier: GPL-2.0-only

import CLinuxKernel
import LinuxKernel

/// Which of the kernel library's built-in USB drivers binds which device,
/// and the firmware each Wi-Fi driver asks for.
///
/// The ID entries come from the drivers' own `id_table`s, read back from
/// the running library (/proc/lkl/usb_id_table, arch/lkl/drivers/
/// usb_id_table.c); the firmware lists were extracted at build time from
/// the drivers' MODULE_FIRMWARE declarations and their module dependencies
/// (kernel/tools/module-firmware.sh). Nothing here is a hand-written list.
public struct DriverTable: Sendable {
    /// One USB driver of the library, in the order the USB core tries them.
    public struct Driver: Sendable, Hashable, Codable {
        /// The module name a modular kernel would load ("rtw88_8822bu").
        public var module: String
        /// The driver's registered name ("rtw_8822bu").
        public var name: String
        /// Probe order: the USB core offers a device to drivers in this order.
        public var order: Int
        public var ids: [USBDeviceID]
        /// Source path of the module ("drivers/net/wireless/realtek/rtw88/rtw88_8822bu").
        public var sourcePath: String?
        /// Files the driver (or a module it depends on) may request.
        public var firmware: [String]

        /// A Wi-Fi driver (the kind airtap captures with).
        public var isWireless: Bool { sourcePath?.hasPrefix("drivers/net/wireless/") ?? false }
    }

    /// A driver that would bind one interface of a device.
    public struct Binding: Sendable, Hashable {
        public var driver: Driver
        public var interfaceNumber: UInt8
        /// The entry that matched.
        public var id: USBDeviceID
    }

    public let drivers: [Driver]
    /// Firmware files compiled into the library (regulatory.db).
    public let builtInFirmware: Set<String>

    public init(drivers: [Driver], builtInFirmware: Set<String>) {
        self.drivers = drivers.sorted { $0.order < $1.order }
        self.builtInFirmware = builtInFirmware
    }

    /// Where the library lists its drivers' ID tables.
    public static let procPath = "/proc/lkl/usb_id_table"

    /// Reads the table from a running kernel library (mounts procfs if needed).
    public static func load(from kernel: Kernel) throws -> DriverTable {
        try kernel.mountIfNeeded("proc", at: "/proc")
        let bytes: [UInt8]
        do {
            bytes = try kernel.readFile(procPath)
        } catch {
            throw DriverTableError.unreadable(path: procPath, reason: "\(error)")
        }
        return try DriverTable(idTable: String(decoding: bytes, as: UTF8.self), moduleFirmware: embeddedModuleFirmware)
    }

    /// The firmware table built into liblkl.a (`lkl_module_firmware`).
    public static var embeddedModuleFirmware: String {
        String(cString: lkl_module_firmware_table())
    }

    /// Parses the kernel's ID listing and the build's firmware table (formats
    /// in usb_id_table.c and module-firmware.sh).
    public init(idTable: String, moduleFirmware: String) throws {
        var modules: [String: (path: String, firmware: [String])] = [:]
        var builtIn: Set<String> = []
        for (index, line) in moduleFirmware.split(separator: "\n").enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else {
                throw DriverTableError.malformed(source: "module firmware table", line: index + 1, text: String(line))
            }
            let files = fields[2].split(separator: " ").map(String.init)
            if fields[0] == "@builtin" {
                builtIn.formUnion(files)
            } else {
                modules[fields[0]] = (fields[1], files)
            }
        }

        var byOrder: [Int: Driver] = [:]
        for (index, line) in idTable.split(separator: "\n").enumerated() {
            // 14 fields, then the driver's name (which may contain spaces).
            let fields = line.split(separator: " ", maxSplits: 14).map(String.init)
            let numbers = fields.count == 15 ? fields[2..<14].compactMap { UInt16($0, radix: 16) } : []
            guard numbers.count == 12, let order = Int(fields[0]) else {
                throw DriverTableError.malformed(source: DriverTable.procPath, line: index + 1, text: String(line))
            }
            let id = USBDeviceID(
                flags: USBDeviceID.MatchFlags(rawValue: numbers[0]), vendorID: numbers[1], productID: numbers[2],
                bcdDeviceLow: numbers[3], bcdDeviceHigh: numbers[4], deviceClass: UInt8(truncatingIfNeeded: numbers[5]),
                deviceSubclass: UInt8(truncatingIfNeeded: numbers[6]), deviceProtocol: UInt8(truncatingIfNeeded: numbers[7]),
                interfaceClass: UInt8(truncatingIfNeeded: numbers[8]), interfaceSubclass: UInt8(truncatingIfNeeded: numbers[9]),
                interfaceProtocol: UInt8(truncatingIfNeeded: numbers[10]), interfaceNumber: UInt8(truncatingIfNeeded: numbers[11]))
            let module = fields[1]
            byOrder[order, default: Driver(
                module: module, name: fields[14], order: order, ids: [], sourcePath: modules[module]?.path,
                firmware: modules[module]?.firmware ?? [])].ids.append(id)
        }
        self.init(drivers: Array(byOrder.values), builtInFirmware: builtIn)
    }

    /// The drivers that would bind `device`'s interfaces, in the order the
    /// USB core would try them (each interface goes to its first match).
    public func bindings(for device: USBDeviceIdentity) -> [Binding] {
        var result: [Binding] = []
        for interface in device.matchedInterfaces {
            for driver in drivers {
                if let id = driver.ids.first(where: { $0.selects(device, interface: interface) }) {
                    result.append(Binding(driver: driver, interfaceNumber: interface.number, id: id))
                    break
                }
            }
        }
        return result
    }

    /// Every driver with an entry for `device` (the binding one first): a
    /// device several drivers know goes to the first whose probe accepts it.
    public func candidates(for device: USBDeviceIdentity) -> [Driver] {
        drivers.filter { driver in
            device.matchedInterfaces.contains { interface in driver.ids.contains { $0.selects(device, interface: interface) } }
        }
    }

    /// The Wi-Fi driver that would take `device`, if any.
    public func wirelessDriver(for device: USBDeviceIdentity) -> Driver? {
        bindings(for: device).first { $0.driver.isWireless }?.driver
    }

    public func driver(module: String) -> Driver? {
        drivers.first { $0.module == module }
    }

    public var wirelessDrivers: [Driver] { drivers.filter(\.isWireless) }
}

public enum DriverTableError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(source: String, line: Int, text: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read the kernel library's driver table \(path): \(reason); "
                + "the library must be built with CONFIG_USB=y and CONFIG_PROC_FS=y (kernel/build.sh)"
        case .malformed(let source, let line, let text):
            return "\(source), line \(line), is not in the expected format: \"\(text)\"; "
                + "the kernel library and airtap were built from different sources: run make"
        }
    }
}

extension USBDeviceIdentity {
    /// The interfaces ID entries are matched against; a device whose
    /// interfaces are unknown is matched on its device fields only.
    var matchedInterfaces: [USBInterfaceIdentity] {
        interfaces.isEmpty ? [USBInterfaceIdentity(number: 0, interfaceClass: 0)] : interfaces
    }
}
