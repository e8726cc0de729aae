// SPDX-License-Identifier: GPL-2.0-only

import USBHost

// Adapters over a software model (`ModelBackedUSBDevice`), and the host
// descriptions made from a model.

extension LibUSBAdapter {
    /// An adapter over a software model standing in for the hardware
    /// behind libusb (`ModelBackedUSBDevice`): for tests and benchmarks of
    /// the libusb path without USB. As at a real open, the descriptors are
    /// read from the device (GET_DESCRIPTOR to the model) and the device is
    /// configured already: here with its first configuration, as the host
    /// kernel would have done. `info` defaults to one made from the
    /// descriptors. Attach it like any adapter; `close()` ends the stand-in.
    public static func overModel(
        _ model: any USBDevice, info: HostUSBDeviceInfo? = nil, options: Options = Options()
    ) throws(HostUSBError) -> LibUSBAdapter {
        let standIn = try ModelBackedUSBDevice(model: model, deviceAddress: info?.deviceAddress ?? 1)
        do throws(HostUSBError) {
            let provisional = info ?? HostUSBDeviceInfo(busNumber: 0, portPath: [1], deviceAddress: 1, vendorID: 0, productID: 0)
            let descriptors = try readDescriptors(info: provisional) { type, index, bytes in
                standIn.getDescriptor(type: type, index: index, into: &bytes)
            }
            let configuration = descriptors.configurations.first.map { $0[5] } ?? 0
            let result = standIn.setConfiguration(Int32(configuration))
            guard result == 0 else {
                throw openError(result, call: "SET_CONFIGURATION(\(configuration))", info: provisional)
            }
            var described = info ?? HostUSBDeviceInfo(model: model, descriptors: descriptors)
            described.activeConfiguration = configuration
            described.speed = HostUSBSpeed(model.speed)
            let environment = AdapterEnvironment(
                performOnEventThread: { standIn.perform($0) }, isEventThread: { standIn.isEventThread },
                unregister: {})
            return try LibUSBAdapter(
                info: described, descriptors: descriptors, configuration: configuration,
                claimedInterfaces: descriptors.interfaceNumbers(configurationValue: configuration), operations: standIn,
                environment: environment, options: options)
        } catch {
            standIn.close()
            throw error
        }
    }

    /// The stand-in behind an adapter made by `overModel` (nil for real hardware).
    public var modelStandIn: ModelBackedUSBDevice? { operations as? ModelBackedUSBDevice }
}

extension HostUSBSpeed {
    init(_ speed: USBSpeed) {
        switch speed {
        case .low: self = .low
        case .full: self = .full
        case .high: self = .high
        case .super: self = .super
        }
    }
}

extension HostUSBDeviceInfo {
    /// A model as a listing would show it: IDs and interfaces of its first
    /// configuration, at a made-up location (bus 0 has no real devices).
    init(model: any USBDevice, descriptors: USBDescriptorCache) {
        let device = descriptors.device
        func word(_ offset: Int) -> UInt16 { UInt16(device[offset]) | UInt16(device[offset + 1]) << 8 }
        self.init(
            busNumber: 0, portPath: [1], deviceAddress: 1, vendorID: word(8), productID: word(10), deviceVersion: word(12),
            deviceClass: device[4], deviceSubClass: device[5], deviceProtocol: device[6],
            product: "software model \(type(of: model))", speed: HostUSBSpeed(model.speed))
        guard let configuration = descriptors.configurations.first else { return }
        interfaces = DescriptorWalk.descriptors(in: configuration)
            .filter { $0.type == USBDescriptorType.interface && $0.bytes.count >= 9 && $0.bytes[3] == 0 }
            .map {
                HostUSBInterfaceInfo(
                    number: $0.bytes[2], interfaceClass: $0.bytes[5], interfaceSubClass: $0.bytes[6],
                    interfaceProtocol: $0.bytes[7])
            }
    }
}
