// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel

/// Why devices cannot be opened together on one kernel.
public enum DeviceCombinationError: Error, Sendable, Equatable, CustomStringConvertible {
    case needsOwnKernel(device: String, together: [String])
    case conflictingKernelParameter(parameter: String, device: String, value: String, otherDevice: String, otherValue: String)
    case sameAdapterTwice(String)

    public var description: String {
        switch self {
        case .needsOwnKernel(let device, let together):
            return "\(device) cannot be captured together with other devices (given: \(together.joined(separator: ", "))): "
                + "it is the whole kernel's radio set (sim: two mac80211_hwsim radios, mac80211_hwsim.radios=2, its "
                + "traffic peer following one channel plan); run \(device) in an airtap of its own, or combine the "
                + "emulated and USB adapters (emulated:rtl8187, emulated:rtl8821au, emulated:rtl8821cu, usb:...)"
        case .conflictingKernelParameter(let parameter, let device, let value, let otherDevice, let otherValue):
            return "\(device) needs the kernel parameter \(parameter)=\(value) but \(otherDevice) needs "
                + "\(parameter)=\(otherValue): they cannot share one kernel; capture them in separate airtap processes"
        case .sameAdapterTwice(let name):
            return "--device \(name) is given twice: a real adapter can be opened once; name different adapters "
                + "(usb:VID:PID or usb:BUS-PORT, as `airtap list` shows them)"
        }
    }
}

/// Several devices in one process share its one kernel (the library boots
/// once per process): one boot with the union of their command lines, then
/// each device opened on it in turn. Each waits for its own new wlan
/// interface, so the order of opening does not matter to them.
extension DeviceDescriptor {
    /// The kernel command line for `descriptors` together: each parameter
    /// once. Checked before the kernel boots: a device that needs a kernel
    /// of its own, a parameter two devices want with different values, or
    /// the same real adapter named twice is an error.
    public static func sharedKernelCommandLine(for descriptors: [DeviceDescriptor]) throws -> String {
        if descriptors.count > 1, let alone = descriptors.first(where: \.needsOwnKernel) {
            throw DeviceCombinationError.needsOwnKernel(device: alone.name, together: descriptors.map(\.name))
        }
        var adapterNames: Set<String> = []
        for descriptor in descriptors where DeviceRegistry.families.contains(where: { $0.claims(descriptor.name) }) {
            guard adapterNames.insert(descriptor.name).inserted else {
                throw DeviceCombinationError.sameAdapterTwice(descriptor.name)
            }
        }
        var parameters: [(key: Substring, value: Substring, device: String)] = []
        for descriptor in descriptors {
            for parameter in descriptor.kernelCommandLine.split(separator: " ") {
                let key = parameter.prefix { $0 != "=" }
                let value = parameter.dropFirst(key.count + 1)
                if let earlier = parameters.first(where: { $0.key == key }) {
                    guard earlier.value == value else {
                        throw DeviceCombinationError.conflictingKernelParameter(
                            parameter: String(key), device: earlier.device, value: String(earlier.value),
                            otherDevice: descriptor.name, otherValue: String(value))
                    }
                    continue
                }
                parameters.append((key, value, descriptor.name))
            }
        }
        return parameters.map { $0.value.isEmpty ? String($0.key) : "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Boots one kernel for `descriptors` and opens each on it, in order,
    /// with its own options (`options[i]` for `descriptors[i]`; the first
    /// one's memory size and extra command line are the kernel's). If one
    /// fails, those already open are shut down and the kernel halted before
    /// the error is thrown.
    public static func bootAndOpen(
        _ descriptors: [DeviceDescriptor], options: [DeviceOptions], console: ConsoleSink = .discard
    ) throws -> [any RadioDevice] {
        precondition(!descriptors.isEmpty && descriptors.count == options.count, "one DeviceOptions per descriptor")
        let commandLine = [try sharedKernelCommandLine(for: descriptors), options[0].extraKernelCommandLine]
            .filter { !$0.isEmpty }.joined(separator: " ")
        let kernel = try Kernel.boot(memoryMiB: options[0].memoryMiB, commandLine: commandLine, console: console)
        var devices: [any RadioDevice] = []
        do {
            for (descriptor, deviceOptions) in zip(descriptors, options) {
                devices.append(try descriptor.open(kernel, deviceOptions))
            }
        } catch {
            for device in devices.reversed() { device.shutdown() }
            try? kernel.halt()
            throw error
        }
        return devices
    }
}
