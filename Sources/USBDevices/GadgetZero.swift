// SPDX-License-Identifier: GPL-2.0-only

import Dispatch
import Foundation
import LinuxKernel
import SystemPackage
import USBHost

/// A software model of Linux's "Gadget Zero" test device
/// (drivers/usb/gadget/legacy/zero.c with f_sourcesink.c and f_loopback.c),
/// as the kernel's usbtest driver (drivers/usb/misc/usbtest.c) expects it:
///
/// * 0525:a4a0, vendor-specific, two configurations: source/sink (value 3,
///   the default) and loopback (value 2). High speed (bcdUSB 2.00, 512-byte
///   bulk packets, full-speed other-speed descriptors), or SuperSpeed
///   (`Options.speed`): bcdUSB 3.00, bMaxPacketSize0 9 (2^9 = 512), 1024-byte
///   endpoints each followed by its SuperSpeed companion, and a BOS with
///   the USB 2.0 extension and SuperSpeed capability a SuperSpeed gadget
///   zero reports (composite.c's bos_desc).
/// * Source/sink interface 0, altsetting 0: bulk IN 0x81 (source) and OUT
///   0x01 (sink), plus an interrupt IN 0x82 / OUT 0x02 pair (usbtest tests
///   25/26 take interrupt endpoints only from the altsetting it uses);
///   altsetting 1 adds isochronous 0x83/0x03 (the kernel refuses iso URBs).
/// * Vendor requests 0x5b (OUT: store up to 4096 bytes) and 0x5c (IN:
///   return them): usbtest tests 14 and 21.
/// * Chapter 9 requests as usbtest tests 9 and 10 check them; requests
///   it expects to stall (GET_DESCRIPTOR of an interface, endpoint or BOS on
///   a USB 2.0 device, of the device qualifier at SuperSpeed, unknown
///   requests) stall. At SuperSpeed also SET_SEL, SET_ISOCH_DELAY and the
///   U1/U2/LTM enables, which the hub driver may send.
/// * Endpoint halt: SET_FEATURE(ENDPOINT_HALT) makes I/O on the endpoint
///   fail with -EPIPE and GET_STATUS report 1, until CLEAR_FEATURE,
///   SET_INTERFACE or SET_CONFIGURATION.
///
/// Control requests are answered inside `submit` (in order, as test 10
/// requires). Bulk and interrupt URBs are queued and completed by the
/// model's own thread, so they stay in flight for the few microseconds a
/// real transfer takes: usbtest's unlink tests (11, 12, 24) need URBs that
/// can still be unlinked after submission.
public final class GadgetZero: USBDevice {
    /// Data the source sends and the sink expects (f_sourcesink's `pattern`;
    /// usbtest's `pattern` module parameter defaults to zeros).
    public enum Pattern: Sendable {
        /// All zeroes (pattern 0).
        case zeros
        /// Byte i of each packet is `(i % maxPacketSize) % 63` (pattern 1).
        case mod63
    }

    public struct Options: Sendable {
        public var pattern: Pattern = .zeros
        /// 0xa4a0 binds usbtest; another value leaves the interface to usbfs.
        public var productID: UInt16 = 0xa4a0
        /// Keep bulk IN URBs forever (until cancelled or detached): a device
        /// that never answers, for in-flight accounting tests.
        public var holdBulkIn = false
        /// Complete bulk and interrupt URBs that can finish at once inside
        /// `submit` (a device with its data ready: no thread hand-off per
        /// URB). Off by default: usbtest's unlink tests need URBs that
        /// stay in flight after submission.
        public var completesInline = false
        /// `.high` or `.super` (lower speeds present the high-speed device).
        public var speed: USBSpeed = .high
        /// SuperSpeed bulk endpoints' bMaxBurst (packets per burst - 1; g_zero's
        /// bulk_maxburst, 0...15).
        public var bulkMaxBurst: UInt8 = 0

        public init(
            pattern: Pattern = .zeros, productID: UInt16 = 0xa4a0, holdBulkIn: Bool = false,
            completesInline: Bool = false, speed: USBSpeed = .high, bulkMaxBurst: UInt8 = 0
        ) {
            self.pattern = pattern
            self.productID = productID
            self.holdBulkIn = holdBulkIn
            self.completesInline = completesInline
            self.speed = speed == .super ? .super : .high
            self.bulkMaxBurst = min(bulkMaxBurst, 15)
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var controlRequests = 0
        public var stalls = 0
        public var sourcedBytes = 0
        public var sunkBytes = 0
        /// OUT data that did not match the pattern (f_sourcesink logs and halts).
        public var sinkPatternErrors = 0
        public var cancelled = 0
        /// Data URBs the model still holds.
        public var queued = 0
    }

    public static let vendorID: UInt16 = 0x0525
    public static let sourceSinkConfiguration: UInt8 = 3
    public static let loopbackConfiguration: UInt8 = 2
    /// f_sourcesink's ep0 buffer (USB_COMP_EP0_BUFSIZ).
    public static let controlBufferSize = 4096
    /// How much OUT data the loopback holds before OUT URBs wait (its qlen 32 x 4 KiB).
    public static let loopbackCapacity = 32 * 4096

    public let speed: USBSpeed
    public let options: Options
    public let deviceDescriptor: USBDeviceDescriptor
    /// Index order: GET_DESCRIPTOR(CONFIG, index).
    public let configurations: [USBConfigurationDescriptor]
    /// The same configurations at full speed (other-speed descriptors of a
    /// high-speed device; none at SuperSpeed, where it is not dual-speed).
    public let fullSpeedConfigurations: [USBConfigurationDescriptor]
    /// SuperSpeed only (bcdUSB 3.00 requires one).
    public let bos: USBBinaryObjectStore?
    public let strings: [UInt8: String]

    private let state = HostMutex(State())
    private let link = HostMutex<USBDeviceLink?>(nil)
    private let wakeup = DispatchSemaphore(value: 0)

    public init(options: Options = Options()) {
        self.options = options
        speed = options.speed
        let superSpeed = options.speed == .super
        var device = USBDeviceDescriptor(vendorID: Self.vendorID, productID: options.productID)
        device.deviceClass = 0xff
        // SuperSpeed: bMaxPacketSize0 is an exponent, 2^9 = 512 bytes.
        device.usbVersion = superSpeed ? 0x0300 : 0x0200
        device.maxPacketSize0 = superSpeed ? 9 : 64
        device.deviceVersion = 0x0612
        device.manufacturerIndex = 1
        device.productIndex = 2
        device.serialNumberIndex = 3
        device.configurationCount = 2
        deviceDescriptor = device
        let layout: DescriptorSpeed = superSpeed ? .super(bulkMaxBurst: options.bulkMaxBurst) : .high
        configurations = [Self.sourceSink(layout), Self.loopback(layout)]
        fullSpeedConfigurations = superSpeed ? [] : [Self.sourceSink(.full), Self.loopback(.full)]
        // composite.c's defaults: LPM and BESL at USB 2.0 speeds, all four
        // speeds, full function from full speed, U1 < 1 us, U2 < 500 us.
        bos = superSpeed
            ? USBBinaryObjectStore(capabilities: [
                .usb20Extension(attributes: 0x06),
                .superSpeed(attributes: 0, speedsSupported: 0x000f, functionalitySupport: 1, u1ExitLatency: 0x01, u2ExitLatency: 0x01f4),
            ])
            : nil
        strings = [
            1: "airtap", 2: "Gadget Zero", 3: "0123456789.0123456789.0123456789",
            4: "source and sink data", 5: "loop input to output",
        ]
        let worker = Thread { [self] in runWorker() }
        worker.name = "gadget-zero"
        worker.qualityOfService = .userInteractive
        worker.start()
    }

    public var statistics: Statistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.queued = state.queue.count
            return statistics
        }
    }

    /// The configuration value the host selected (0: unconfigured).
    public var configurationValue: UInt8 { state.withLock { $0.configuration } }

    // MARK: USBDevice

    public func attached(_ link: USBDeviceLink) {
        self.link.withLock { $0 = link }
    }

    public func submit(_ request: USBRequest) -> USBSubmitResult {
        if request.endpointNumber == 0 {
            return .completed(state.withLock { state in
                guard !state.stopped else { return .failure(USBErrno.shutdown) }
                state.statistics.controlRequests += 1
                let completion = handleControl(request, &state)
                if completion.error == USBErrno.stall { state.statistics.stalls += 1 }
                return completion
            })
        }
        let result: USBSubmitResult = state.withLock { state in
            guard !state.stopped else { return .refused(USBErrno.noDevice) }
            guard let endpoint = endpoint(request.endpoint, in: state), endpoint.type == request.type else {
                return .refused(USBErrno.noEntry)
            }
            if state.halted.contains(request.endpoint) {
                state.statistics.stalls += 1
                return .completed(.stall)
            }
            if options.completesInline, !state.queue.contains(where: { $0.endpoint == request.endpoint }),
                let completion = perform(request, &state)
            {
                return .completed(completion)
            }
            state.queue.append(request)
            return .pending
        }
        if case .pending = result { wakeup.signal() }
        return result
    }

    public func cancel(_ handle: UInt64) {
        let removed = state.withLock { state -> Bool in
            guard let index = state.queue.firstIndex(where: { $0.handle == handle }) else { return false }
            state.queue.remove(at: index)
            state.statistics.cancelled += 1
            return true
        }
        // Not queued: the worker has it and completes it now anyway.
        guard removed else { return }
        complete(handle, .failure(USBErrno.connectionReset))
    }

    public func reset() {
        state.withLock { state in
            state.configuration = 0
            state.alternateSetting = 0
            state.halted = []
            state.loopbackData = []
        }
    }

    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.queue.removeAll()
        }
        wakeup.signal()
    }

    // MARK: Bulk and interrupt endpoints

    private enum WorkerStep {
        case complete(UInt64, USBCompletion)
        case idle
        case stopped
    }

    private func runWorker() {
        while true {
            wakeup.wait()
            while true {
                let step: WorkerStep = state.withLock { state in
                    guard !state.stopped else { return .stopped }
                    guard let (handle, completion) = processNextReady(&state) else { return .idle }
                    return .complete(handle, completion)
                }
                switch step {
                case .complete(let handle, let completion):
                    // Outside the lock: completing can run the kernel's
                    // interrupt on this thread, and a driver resubmitting
                    // from its completion handler calls submit again.
                    complete(handle, completion)
                case .idle:
                    break
                case .stopped:
                    return
                }
                if case .idle = step { break }
            }
        }
    }

    private func complete(_ handle: UInt64, _ completion: USBCompletion) {
        guard let link = link.withLock({ $0 }) else { return }
        // A cancel or detach may have completed it first; nothing is lost.
        try? link.complete(handle, completion)
    }

    /// Takes the first queued URB that can finish now and does its I/O.
    /// Order within an endpoint is kept: a waiting URB blocks later ones.
    private func processNextReady(_ state: inout State) -> (UInt64, USBCompletion)? {
        var blocked: Set<UInt8> = []
        for (index, request) in state.queue.enumerated() where !blocked.contains(request.endpoint) {
            guard let completion = perform(request, &state) else {
                blocked.insert(request.endpoint)
                continue
            }
            state.queue.remove(at: index)
            return (request.handle, completion)
        }
        return nil
    }

    /// The transfer's outcome, or nil if it has to wait.
    private func perform(_ request: USBRequest, _ state: inout State) -> USBCompletion? {
        if state.halted.contains(request.endpoint) { return .stall }
        let maxPacket = Int(endpoint(request.endpoint, in: state)?.maxPacketSize ?? 512)
        let buffer = request.bytes
        switch (state.configuration, request.isIn) {
        case (Self.sourceSinkConfiguration, true):
            if options.holdBulkIn && request.type == .bulk { return nil }
            fill(buffer, pattern: options.pattern, maxPacket: maxPacket)
            state.statistics.sourcedBytes += buffer.count
            return .success(actualLength: buffer.count)
        case (Self.sourceSinkConfiguration, false):
            if !matches(UnsafeRawBufferPointer(buffer), pattern: options.pattern, maxPacket: maxPacket) {
                state.statistics.sinkPatternErrors += 1
            }
            state.statistics.sunkBytes += buffer.count
            return .success(actualLength: buffer.count)
        case (Self.loopbackConfiguration, false):
            guard state.loopbackData.count + buffer.count <= Self.loopbackCapacity else { return nil }
            state.loopbackData += buffer
            state.statistics.sunkBytes += buffer.count
            return .success(actualLength: buffer.count)
        case (Self.loopbackConfiguration, true):
            if options.holdBulkIn && request.type == .bulk { return nil }
            guard !state.loopbackData.isEmpty || buffer.isEmpty else { return nil }
            let count = min(buffer.count, state.loopbackData.count)
            state.loopbackData.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(count)))
            }
            state.loopbackData.removeFirst(count)
            state.statistics.sourcedBytes += count
            return .success(actualLength: count)
        default:
            return .stall
        }
    }

    // memset/memcpy/memcmp rather than byte loops: in debug builds a
    // per-byte Swift loop costs ~1 ns/byte, which would dominate bulk I/O.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, pattern: Pattern, maxPacket: Int) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        switch pattern {
        case .zeros:
            memset(base, 0, buffer.count)
        case .mod63:
            let packet = Self.mod63Packet(maxPacket)
            packet.withUnsafeBytes { packetBytes in
                var offset = 0
                while offset < buffer.count {
                    let count = min(packetBytes.count, buffer.count - offset)
                    memcpy(base + offset, packetBytes.baseAddress!, count)
                    offset += count
                }
            }
        }
    }

    private func matches(_ buffer: UnsafeRawBufferPointer, pattern: Pattern, maxPacket: Int) -> Bool {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return true }
        let packet: [UInt8] =
            switch pattern {
            case .zeros: [UInt8](repeating: 0, count: max(maxPacket, 1))
            case .mod63: Self.mod63Packet(maxPacket)
            }
        return packet.withUnsafeBytes { packetBytes in
            var offset = 0
            while offset < buffer.count {
                let count = min(packetBytes.count, buffer.count - offset)
                if memcmp(base + offset, packetBytes.baseAddress!, count) != 0 { return false }
                offset += count
            }
            return true
        }
    }

    /// One packet of pattern 1: byte i is (i % maxPacket) % 63.
    private static func mod63Packet(_ maxPacket: Int) -> [UInt8] {
        (0..<max(maxPacket, 1)).map { UInt8($0 % 63) }
    }

    // MARK: Control requests (chapter 9 and the vendor test requests)

    private func handleControl(_ request: USBRequest, _ state: inout State) -> USBCompletion {
        let setup = request.setup
        let reply = request.reply
        let noData = USBCompletion.success(actualLength: 0)

        switch (setup.requestType, setup.request) {
        case (0x80, USBStandardRequest.getStatus):
            return reply([0x01, 0x00])  // self-powered
        case (0x81, USBStandardRequest.getStatus):
            return hasInterface(setup.index, state) ? reply([0, 0]) : .stall
        case (0x82, USBStandardRequest.getStatus):
            let address = UInt8(truncatingIfNeeded: setup.index)
            if address & 0x7f == 0 { return reply([0, 0]) }
            guard endpoint(address, in: state) != nil else { return .stall }
            return reply([state.halted.contains(address) ? 1 : 0, 0])
        case (0x02, USBStandardRequest.clearFeature) where setup.value == 0:  // ENDPOINT_HALT
            let address = UInt8(truncatingIfNeeded: setup.index)
            if address & 0x7f == 0 { return noData }
            guard endpoint(address, in: state) != nil else { return .stall }
            state.halted.remove(address)
            return noData
        case (0x02, USBStandardRequest.setFeature) where setup.value == 0:
            let address = UInt8(truncatingIfNeeded: setup.index)
            guard address & 0x7f != 0, endpoint(address, in: state) != nil else { return .stall }
            state.halted.insert(address)
            return noData
        case (0x00, USBStandardRequest.clearFeature) where setup.value == 1,  // DEVICE_REMOTE_WAKEUP
            (0x00, USBStandardRequest.setFeature) where setup.value == 1:
            return noData
        case (0x00, USBStandardRequest.clearFeature) where speed == .super && (48...50).contains(setup.value),
            (0x00, USBStandardRequest.setFeature) where speed == .super && (48...50).contains(setup.value):
            return noData  // U1_ENABLE, U2_ENABLE, LTM_ENABLE: no link power states to manage
        case (0x00, Self.setSystemExitLatency) where speed == .super && setup.length == 6:
            return .success(actualLength: 6)
        case (0x00, Self.setIsochronousDelay) where speed == .super && setup.length == 0:
            return noData
        case (0x80, USBStandardRequest.getDescriptor):
            return descriptor(type: UInt8(setup.value >> 8), index: UInt8(truncatingIfNeeded: setup.value)).map(reply) ?? .stall
        case (0x80, USBStandardRequest.getConfiguration):
            return reply([state.configuration])
        case (0x00, USBStandardRequest.setConfiguration):
            let value = UInt8(truncatingIfNeeded: setup.value)
            guard setup.value <= 0xff, value == 0 || configurations.contains(where: { $0.value == value }) else {
                return .stall
            }
            state.configuration = value
            state.alternateSetting = 0
            state.halted = []
            state.loopbackData = []
            return noData
        case (0x81, USBStandardRequest.getInterface):
            return hasInterface(setup.index, state) ? reply([state.alternateSetting]) : .stall
        case (0x01, USBStandardRequest.setInterface):
            let alternate = UInt8(truncatingIfNeeded: setup.value)
            guard hasInterface(setup.index, state), setup.value <= 0xff,
                let configuration = currentConfiguration(state),
                configuration.endpoints(interface: 0, alternateSetting: alternate) != nil
            else { return .stall }
            state.alternateSetting = alternate
            state.halted = []
            return noData
        case (0x40, 0x5b):  // control WRITE test: keep the data
            guard setup.value == 0, setup.index == 0, Int(setup.length) <= Self.controlBufferSize,
                request.length >= Int(setup.length)
            else { return .stall }
            let count = Int(setup.length)
            if count > 0, let buffer = request.buffer {
                state.controlData = Array(UnsafeRawBufferPointer(start: buffer, count: count))
            } else {
                state.controlData = []
            }
            return .success(actualLength: count)
        case (0xc0, 0x5c):  // control READ test: return what 0x5b stored
            guard setup.value == 0, setup.index == 0, Int(setup.length) <= Self.controlBufferSize else { return .stall }
            var data = state.controlData
            if data.count < Int(setup.length) {
                data += [UInt8](repeating: 0, count: Int(setup.length) - data.count)
            }
            return reply(data)
        default:
            return .stall
        }
    }

    private func descriptor(type: UInt8, index: UInt8) -> [UInt8]? {
        switch type {
        case USBDescriptorType.device:
            return deviceDescriptor.bytes
        case USBDescriptorType.configuration:
            return Int(index) < configurations.count ? configurations[Int(index)].bytes() : nil
        case USBDescriptorType.string:
            if index == 0 { return USBStringDescriptor.languages() }
            return strings[index].map(USBStringDescriptor.text)
        case USBDescriptorType.deviceQualifier:
            // Not dual-speed at SuperSpeed: it stalls (USB 3.2 §9.6.2).
            return speed == .super ? nil : deviceDescriptor.qualifierBytes()
        case USBDescriptorType.otherSpeedConfiguration:
            return Int(index) < fullSpeedConfigurations.count
                ? fullSpeedConfigurations[Int(index)].bytes(descriptorType: USBDescriptorType.otherSpeedConfiguration)
                : nil
        case USBDescriptorType.bos:
            // Does not exist below bcdUSB 0x0201: stalls at high speed.
            return bos?.bytes
        default:
            // INTERFACE and ENDPOINT descriptors cannot be fetched on their own.
            return nil
        }
    }

    private func currentConfiguration(_ state: State) -> USBConfigurationDescriptor? {
        configurations.first { $0.value == state.configuration }
    }

    private func hasInterface(_ index: UInt16, _ state: State) -> Bool {
        index == 0 && currentConfiguration(state) != nil
    }

    private func endpoint(_ address: UInt8, in state: State) -> USBEndpointDescriptor? {
        currentConfiguration(state)?
            .endpoints(interface: 0, alternateSetting: state.alternateSetting)?
            .first { $0.address == address }
    }

    // MARK: Descriptors

    /// Standard requests only a SuperSpeed device gets (USB 3.2 table 9-4).
    static let setSystemExitLatency: UInt8 = 48
    static let setIsochronousDelay: UInt8 = 49

    /// Which speed a set of descriptors is for.
    private enum DescriptorSpeed {
        case full, high
        case `super`(bulkMaxBurst: UInt8)

        var bulkPacket: UInt16 {
            switch self {
            case .full: 64
            case .high: 512
            case .super: 1024
            }
        }

        /// f_sourcesink's companions: bulk bursts as configured, periodic
        /// endpoints one 1024-byte packet per interval.
        func companion(_ type: USBTransferType) -> USBSuperSpeedEndpointCompanion? {
            guard case .super(let bulkMaxBurst) = self else { return nil }
            return type == .bulk
                ? USBSuperSpeedEndpointCompanion(maxBurst: bulkMaxBurst)
                : USBSuperSpeedEndpointCompanion(bytesPerInterval: 1024)
        }

        func endpoint(_ address: UInt8, _ type: USBTransferType) -> USBEndpointDescriptor {
            switch (type, self) {
            case (.bulk, _):
                return USBEndpointDescriptor(address: address, type: .bulk, maxPacketSize: bulkPacket, companion: companion(.bulk))
            // Full speed: every frame (1 ms). High and SuperSpeed: bInterval 4
            // = 2^3 microframes, 1 ms too.
            case (.interrupt, .full):
                return USBEndpointDescriptor(address: address, type: .interrupt, maxPacketSize: 64, interval: 1)
            case (.isochronous, .full):
                return USBEndpointDescriptor(address: address, type: .isochronous, maxPacketSize: 1023, interval: 4)
            default:
                return USBEndpointDescriptor(address: address, type: type, maxPacketSize: 1024, interval: 4, companion: companion(type))
            }
        }
    }

    private static func sourceSink(_ speed: DescriptorSpeed) -> USBConfigurationDescriptor {
        let bulk = [speed.endpoint(0x81, .bulk), speed.endpoint(0x01, .bulk)]
        let interrupt = [speed.endpoint(0x82, .interrupt), speed.endpoint(0x02, .interrupt)]
        let isochronous = [speed.endpoint(0x83, .isochronous), speed.endpoint(0x03, .isochronous)]
        return USBConfigurationDescriptor(
            value: sourceSinkConfiguration, stringIndex: 4,
            interfaces: [
                USBInterfaceDescriptor(number: 0, alternateSetting: 0, interfaceClass: 0xff, stringIndex: 4, endpoints: bulk + interrupt),
                USBInterfaceDescriptor(number: 0, alternateSetting: 1, interfaceClass: 0xff, stringIndex: 4, endpoints: bulk + isochronous),
            ])
    }

    private static func loopback(_ speed: DescriptorSpeed) -> USBConfigurationDescriptor {
        USBConfigurationDescriptor(
            value: loopbackConfiguration, stringIndex: 5,
            interfaces: [
                USBInterfaceDescriptor(
                    number: 0, alternateSetting: 0, interfaceClass: 0xff, stringIndex: 5,
                    endpoints: [speed.endpoint(0x81, .bulk), speed.endpoint(0x01, .bulk)])
            ])
    }

    private struct State {
        var configuration: UInt8 = 0
        var alternateSetting: UInt8 = 0
        var halted: Set<UInt8> = []
        var controlData: [UInt8] = []
        var queue: [USBRequest] = []
        var loopbackData: [UInt8] = []
        var stopped = false
        var statistics = Statistics()
    }
}
