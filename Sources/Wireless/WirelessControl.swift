// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import Netlink

/// nl80211 and rtnetlink operations on the kernel library's radios: the
/// control plane `iw` and `ip link` would provide. One request at a time.
public final class WirelessControl {
    public let kernel: Kernel
    private let nl80211: GenericNetlinkSocket
    private let route: RouteNetlinkSocket

    public init(kernel: Kernel) throws {
        self.kernel = kernel
        nl80211 = try GenericNetlinkSocket(kernel: kernel, family: NL80211.familyName)
        route = try RouteNetlinkSocket(kernel: kernel)
    }

    // MARK: - Wiphys

    /// Every radio with its full capabilities (split dump, merged per wiphy).
    public func wiphys() throws -> [WiphyInfo] {
        var attributes = NetlinkAttributeWriter()
        attributes.appendFlag(type: NL80211.Attribute.splitWiphyDump)
        let replies = try nl80211.request(
            command: NL80211.Command.getWiphy, attributes: attributes, dump: true, operation: "nl80211 GET_WIPHY dump")
        var byIndex: [Int: WiphyInfo] = [:]
        var order: [Int] = []
        for reply in replies {
            guard let index = try reply.attributes[NL80211.Attribute.wiphy]?.u32().intValue else { continue }
            if byIndex[index] == nil {
                order.append(index)
                byIndex[index] = WiphyInfo(index: index, name: "phy\(index)")
            }
            try Self.merge(reply.attributes, into: &byIndex[index]!)
        }
        // cfg80211 lists the newest radio first; callers expect phy0 first.
        return order.sorted().compactMap { byIndex[$0] }
    }

    public func wiphy(index: Int) throws -> WiphyInfo {
        guard let found = try wiphys().first(where: { $0.index == index }) else { throw WirelessError.wiphyNotFound(index) }
        return found
    }

    /// Folds one message of a split dump into `info`: bands and their
    /// channels arrive spread over several messages.
    static func merge(_ attributes: NetlinkAttributes, into info: inout WiphyInfo) throws {
        if let name = attributes[NL80211.Attribute.wiphyName]?.string { info.name = name }
        if let bands = attributes[NL80211.Attribute.wiphyBands] {
            for bandAttribute in try bands.nested() {
                guard let band = WirelessBand(rawValue: bandAttribute.type) else { continue }
                let bandIndex: Int
                if let existing = info.bands.firstIndex(where: { $0.band == band }) {
                    bandIndex = existing
                } else {
                    info.bands.append(WiphyBand(band: band, frequencies: [], bitratesKbps: []))
                    bandIndex = info.bands.count - 1
                }
                let fields = try bandAttribute.nested()
                if let capabilities = try fields[NL80211.BandAttribute.htCapabilities]?.u16() {
                    info.bands[bandIndex].htCapabilities = capabilities
                }
                if let capabilities = try fields[NL80211.BandAttribute.vhtCapabilities]?.u32() {
                    info.bands[bandIndex].vhtCapabilities = capabilities
                }
                for frequency in try fields[NL80211.BandAttribute.frequencies]?.nested() ?? NetlinkAttributes([]) {
                    let parsed = try parseFrequency(frequency.nested())
                    if let parsed, !info.bands[bandIndex].frequencies.contains(where: { $0.mhz == parsed.mhz }) {
                        info.bands[bandIndex].frequencies.append(parsed)
                    }
                }
                for rate in try fields[NL80211.BandAttribute.rates]?.nested() ?? NetlinkAttributes([]) {
                    if let value = try rate.nested()[NL80211.BitrateAttribute.rate]?.u32() {
                        info.bands[bandIndex].bitratesKbps.append(Int(value) * 100)
                    }
                }
            }
        }
        if let types = attributes[NL80211.Attribute.supportedInterfaceTypes] {
            info.supportedInterfaceTypes = try types.nested().compactMap { InterfaceType(rawValue: UInt32($0.type)) }
        }
        if let types = attributes[NL80211.Attribute.softwareInterfaceTypes] {
            info.softwareInterfaceTypes = try types.nested().compactMap { InterfaceType(rawValue: UInt32($0.type)) }
        }
        if let flags = try attributes[NL80211.Attribute.featureFlags]?.u32() { info.featureFlags = flags }
        if attributes[NL80211.Attribute.wiphyTXPowerSetting] != nil { info.supportsTXPowerSetting = true }
        if let value = try attributes[NL80211.Attribute.wiphyAntennaAvailableTX]?.u32() { info.antennaAvailableTX = value }
        if let value = try attributes[NL80211.Attribute.wiphyAntennaAvailableRX]?.u32() { info.antennaAvailableRX = value }
        if let value = try attributes[NL80211.Attribute.wiphyAntennaTX]?.u32() { info.antennaTX = value }
        if let value = try attributes[NL80211.Attribute.wiphyAntennaRX]?.u32() { info.antennaRX = value }
    }

    static func parseFrequency(_ fields: NetlinkAttributes) throws -> WiphyFrequency? {
        guard let mhz = try fields[NL80211.FrequencyAttribute.frequency]?.u32() else { return nil }
        var flags: FrequencyFlags = []
        let flagAttributes: [(UInt16, FrequencyFlags)] = [
            (NL80211.FrequencyAttribute.disabled, .disabled),
            (NL80211.FrequencyAttribute.noInitiatingRadiation, .noInitiatingRadiation),
            (NL80211.FrequencyAttribute.radar, .radar),
            (NL80211.FrequencyAttribute.noHT40Minus, .noHT40Minus),
            (NL80211.FrequencyAttribute.noHT40Plus, .noHT40Plus),
            (NL80211.FrequencyAttribute.no80MHz, .no80MHz),
            (NL80211.FrequencyAttribute.no160MHz, .no160MHz),
            (NL80211.FrequencyAttribute.indoorOnly, .indoorOnly),
        ]
        for (attribute, flag) in flagAttributes where fields[attribute] != nil { flags.insert(flag) }
        let power = try fields[NL80211.FrequencyAttribute.maximumTXPower]?.u32()
        return WiphyFrequency(mhz: Int(mhz), flags: flags, maximumTXPowerMBm: power.map { Int($0) })
    }

    // MARK: - Interfaces

    public func interfaces() throws -> [WirelessInterface] {
        try nl80211.request(command: NL80211.Command.getInterface, dump: true, operation: "nl80211 GET_INTERFACE dump")
            .compactMap { try Self.parseInterface($0.attributes) }
    }

    public func interface(named name: String) throws -> WirelessInterface {
        guard let found = try interfaces().first(where: { $0.name == name }) else {
            throw WirelessError.interfaceNotFound(name)
        }
        return found
    }

    /// Returns once the driver behind `interface` is out of its probe.
    ///
    /// Drivers register their wiphy, and so the interface, before their
    /// probe ends: rtl8187 still reads its LED setting from the EEPROM
    /// after that, and bringing the link up meanwhile interleaves rtl8187's
    /// EEPROM reload with that bit-banged read ("eeprom reset timeout!").
    /// usbcore probes a device's interfaces holding the device's lock, and
    /// reading the device's bConfigurationValue takes that lock, so the
    /// read returns only after every interface's probe has. Not a USB
    /// device (mac80211_hwsim), or gone: returns at once. Mounts sysfs at
    /// /sys if nothing has.
    public func waitForDriverProbe(_ interface: WirelessInterface) {
        try? kernel.mountIfNeeded("sysfs", at: "/sys")
        _ = try? kernel.readFile("/sys/class/net/\(interface.name)/device/../bConfigurationValue")
    }

    static func parseInterface(_ attributes: NetlinkAttributes) throws -> WirelessInterface? {
        guard let index = try attributes[NL80211.Attribute.interfaceIndex]?.u32(),
            let wiphy = try attributes[NL80211.Attribute.wiphy]?.u32()
        else { return nil }
        let type = try attributes[NL80211.Attribute.interfaceType]?.u32()
        return WirelessInterface(
            index: Int(index),
            name: attributes[NL80211.Attribute.interfaceName]?.string ?? "",
            wiphy: Int(wiphy),
            type: type.flatMap(InterfaceType.init(rawValue:)) ?? .unspecified,
            macAddress: attributes[NL80211.Attribute.macAddress]?.payload ?? [],
            frequency: try attributes[NL80211.Attribute.wiphyFrequency]?.u32().intValue,
            channelWidth: try attributes[NL80211.Attribute.channelWidth]?.u32(),
            centerFrequency1: try attributes[NL80211.Attribute.centerFrequency1]?.u32().intValue,
            txPowerMBm: try attributes[NL80211.Attribute.wiphyTXPowerLevel]?.u32().signedIntValue)
    }

    /// Switches an existing interface to monitor mode (`iw dev X set type
    /// monitor` + `set monitor <flags>`). The interface must be down.
    public func setMonitorMode(_ interface: WirelessInterface, flags: MonitorFlags) throws {
        var attributes = NetlinkAttributeWriter()
        attributes.append(type: NL80211.Attribute.interfaceIndex, u32: UInt32(interface.index))
        attributes.append(type: NL80211.Attribute.interfaceType, u32: InterfaceType.monitor.rawValue)
        Self.appendMonitorFlags(flags, to: &attributes)
        _ = try nl80211.request(
            command: NL80211.Command.setInterface, attributes: attributes,
            operation: "nl80211 SET_INTERFACE (\(interface.name) -> monitor \(flags.names.joined(separator: ",")))")
    }

    /// Adds a monitor interface to a wiphy (`iw phy X interface add NAME type
    /// monitor flags ...`); returns it.
    public func addMonitorInterface(wiphy: Int, name: String, flags: MonitorFlags) throws -> WirelessInterface {
        var attributes = NetlinkAttributeWriter()
        attributes.append(type: NL80211.Attribute.wiphy, u32: UInt32(wiphy))
        attributes.append(type: NL80211.Attribute.interfaceName, string: name)
        attributes.append(type: NL80211.Attribute.interfaceType, u32: InterfaceType.monitor.rawValue)
        Self.appendMonitorFlags(flags, to: &attributes)
        let replies = try nl80211.request(
            command: NL80211.Command.newInterface, attributes: attributes,
            operation: "nl80211 NEW_INTERFACE (\(name), monitor on phy\(wiphy))")
        if let reply = replies.first, let parsed = try Self.parseInterface(reply.attributes) { return parsed }
        return try interface(named: name)
    }

    public func deleteInterface(_ interface: WirelessInterface) throws {
        var attributes = NetlinkAttributeWriter()
        attributes.append(type: NL80211.Attribute.interfaceIndex, u32: UInt32(interface.index))
        _ = try nl80211.request(
            command: NL80211.Command.deleteInterface, attributes: attributes,
            operation: "nl80211 DEL_INTERFACE (\(interface.name))")
    }

    static func appendMonitorFlags(_ flags: MonitorFlags, to attributes: inout NetlinkAttributeWriter) {
        attributes.appendNested(type: NL80211.Attribute.monitorFlags) { nested in
            for number in flags.attributeNumbers { nested.appendFlag(type: number) }
        }
    }

    /// Tunes the interface's radio (`iw dev X set freq F [width] [center]`).
    public func setChannel(_ interface: WirelessInterface, to spec: ChannelSpec) throws {
        var attributes = NetlinkAttributeWriter()
        attributes.append(type: NL80211.Attribute.interfaceIndex, u32: UInt32(interface.index))
        attributes.append(type: NL80211.Attribute.wiphyFrequency, u32: UInt32(spec.frequency))
        let width: UInt32
        switch spec.width {
        case .noHT: width = NL80211.ChannelWidth.twentyNoHT
        case .ht20: width = NL80211.ChannelWidth.twenty
        case .ht40Plus, .ht40Minus: width = NL80211.ChannelWidth.forty
        case .vht80: width = NL80211.ChannelWidth.eighty
        }
        attributes.append(type: NL80211.Attribute.channelWidth, u32: width)
        if let center = spec.centerFrequency1 {
            attributes.append(type: NL80211.Attribute.centerFrequency1, u32: UInt32(center))
        }
        _ = try nl80211.request(
            command: NL80211.Command.setWiphy, attributes: attributes,
            operation: "nl80211 SET_WIPHY (\(interface.name) channel \(spec))")
    }

    // MARK: - Links

    public func setLinkUp(_ interface: WirelessInterface, up: Bool = true) throws {
        try route.setLink(index: interface.index, up: up, name: interface.name)
    }

    public func isLinkUp(_ interface: WirelessInterface) throws -> Bool {
        try route.linkFlags(index: interface.index) & 1 != 0
    }

    // MARK: - Regulatory

    /// The global regulatory domain ("00" = world).
    public func regulatoryDomain() throws -> RegulatoryDomain {
        let replies = try nl80211.request(command: NL80211.Command.getRegulatory, operation: "nl80211 GET_REG")
        guard let attributes = replies.first?.attributes else {
            throw KernelError.malformedReply("nl80211 GET_REG returned no message")
        }
        var rules: [RegulatoryRule] = []
        for rule in try attributes[NL80211.Attribute.regulatoryRules]?.nested() ?? NetlinkAttributes([]) {
            let fields = try rule.nested()
            rules.append(
                RegulatoryRule(
                    startKHz: try fields[NL80211.RegulatoryRuleAttribute.rangeStart]?.u32() ?? 0,
                    endKHz: try fields[NL80211.RegulatoryRuleAttribute.rangeEnd]?.u32() ?? 0,
                    maximumBandwidthKHz: try fields[NL80211.RegulatoryRuleAttribute.maximumBandwidth]?.u32() ?? 0,
                    maximumEIRPMBm: try fields[NL80211.RegulatoryRuleAttribute.maximumEIRP]?.u32() ?? 0,
                    flags: try fields[NL80211.RegulatoryRuleAttribute.flags]?.u32() ?? 0))
        }
        return RegulatoryDomain(
            alpha2: attributes[NL80211.Attribute.regulatoryAlpha2]?.string ?? "??",
            dfsRegion: try attributes[NL80211.Attribute.dfsRegion]?.u8(), rules: rules)
    }

    /// Asks for a regulatory domain (`iw reg set XX`) and waits until the
    /// kernel has applied it from the built-in regulatory.db.
    public func setRegulatoryDomain(_ alpha2: String, timeoutSeconds: Double = 3) throws -> RegulatoryDomain {
        let code = alpha2.uppercased()
        guard code.count == 2, code.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "0") }) else {
            throw WirelessError.invalidRegulatoryCode(alpha2)
        }
        var attributes = NetlinkAttributeWriter()
        attributes.append(type: NL80211.Attribute.regulatoryAlpha2, string: code)
        _ = try nl80211.request(
            command: NL80211.Command.requestSetRegulatory, attributes: attributes,
            operation: "nl80211 REQ_SET_REG (\(code))")
        let deadline = HostClock.monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        while true {
            let current = try regulatoryDomain()
            if current.alpha2 == code { return current }
            if HostClock.monotonicNanoseconds() > deadline {
                throw WirelessError.regulatoryChangeTimedOut(requested: code, current: current.alpha2)
            }
            HostClock.sleep(seconds: 0.02)
        }
    }
}

extension UInt32 {
    var intValue: Int { Int(self) }
    /// nl80211 carries some signed values (mBm) in u32 attributes.
    var signedIntValue: Int { Int(Int32(bitPattern: self)) }
}
