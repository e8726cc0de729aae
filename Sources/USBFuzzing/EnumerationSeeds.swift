// SPDX-License-Identifier: GPL-2.0-only

import USBDevices
import USBHost

/// Seed inputs of the enumeration target: the real descriptor sets of the
/// device models (gadget zero at high and SuperSpeed, the RTL8187L, the
/// rtw88 chips), the malformed sets of the usb-bad-descriptors scenario,
/// and a few with faults on the first requests.
enum EnumerationSeeds {
    static func script(
        speed: USBSpeed, device: USBDeviceDescriptor, configurations: [USBConfigurationDescriptor],
        otherSpeed: [USBConfigurationDescriptor] = [], bos: USBBinaryObjectStore? = nil, strings: [UInt8: String]
    ) -> EnumerationScript {
        var script = EnumerationScript()
        script.speed = speed
        script.device = device.bytes
        for (index, configuration) in configurations.enumerated() { script.configurations[UInt8(index)] = configuration.bytes() }
        for (index, configuration) in otherSpeed.enumerated() {
            script.otherSpeedConfigurations[UInt8(index)] =
                configuration.bytes(descriptorType: USBDescriptorType.otherSpeedConfiguration)
        }
        if speed != .super { script.qualifier = device.qualifierBytes() }
        script.bos = bos?.bytes
        script.strings[0] = USBStringDescriptor.languages()
        for (index, text) in strings { script.strings[index] = USBStringDescriptor.text(text) }
        script.controlAnswers = [0, 0]  // GET_STATUS: bus-powered
        return script
    }

    static func all() -> [(name: String, bytes: [UInt8])] {
        var scripts: [(String, EnumerationScript)] = []
        for speed in [USBSpeed.high, .super] {
            let gadget = GadgetZero(options: .init(speed: speed))
            scripts.append((
                "gadget-zero-\(speed == .super ? "super" : "high")",
                script(
                    speed: speed, device: gadget.deviceDescriptor, configurations: gadget.configurations,
                    otherSpeed: gadget.fullSpeedConfigurations, bos: gadget.bos, strings: gadget.strings)))
        }
        let rtl8187 = RTL8187Model()
        scripts.append((
            "rtl8187",
            script(speed: .high, device: rtl8187.deviceDescriptor, configurations: [rtl8187.configuration], strings: rtl8187.strings)))
        for chip in [RTW88Chip.rtl8821au, .rtl8821cu] {
            let model = RTW88Model(chip: chip)
            scripts.append((
                chip.name, script(speed: .high, device: model.deviceDescriptor, configurations: [model.configuration], strings: model.strings)))
            model.stop()
        }
        rtl8187.stop()

        // usb-bad-descriptors' cases (USBBadInputScenarios).
        var device = USBDeviceDescriptor(vendorID: 0x1d6b, productID: 0x0bad)
        device.configurationCount = 1
        let interface = USBInterfaceDescriptor(
            number: 0, alternateSetting: 0, interfaceClass: 0xff,
            endpoints: [USBEndpointDescriptor(address: 0x81, type: .bulk, maxPacketSize: 512)])
        let good = script(speed: .high, device: device, configurations: [USBConfigurationDescriptor(value: 1, interfaces: [interface])], strings: [:])
        var lyingTotal = good
        lyingTotal.configurations[0]![2] = 64
        var zeroLength = good
        zeroLength.configurations[0]![9] = 0
        var badPacketSize = good
        badPacketSize.device![7] = 7
        scripts += [("total-length-lies", lyingTotal), ("zero-blength-interface", zeroLength), ("bad-ep0-maxpacket", badPacketSize)]

        // Faults on the first requests; an unplug mid-enumeration.
        for (name, fault) in [
            ("stall-first", EnumerationScript.Fault.stall), ("eproto-first", .error(USBErrno.protocolError)),
            ("short-first", .short(bytes: 8)), ("late-first", .late(milliseconds: 20)), ("overlong-first", .overlong),
        ] {
            var faulty = good
            faulty.faults[0] = fault
            scripts.append((name, faulty))
        }
        var unplugMidway = good
        unplugMidway.faults[3] = .disconnectDuring
        scripts.append(("unplug-at-request-3", unplugMidway))
        var timed = good
        timed.unplugAfterMilliseconds = 120
        scripts.append(("unplug-after-120ms", timed))
        // A bulk IN answer stream for whichever driver binds.
        var withData = good
        withData.endpointAnswers = [4, 1, 2, 3, 4, 0]
        scripts.append(("bulk-in-data", withData))
        return scripts.map { ($0.0, $0.1.encoded) }
    }
}
