// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Capture
import LinuxKernel
import RadioDevices
import Synchronization
import Wireless

/// Frames each way through a bridge so far.
public struct BridgeTraffic: Sendable, Equatable {
    /// Captured frames handed to the host interface.
    public var framesToHost: UInt64 = 0
    public var bytesToHost: UInt64 = 0
    /// Captured frames the host did not take (interface down on the host).
    public var framesNotDelivered: UInt64 = 0
    /// Frames host programs sent on the interface.
    public var framesFromHost: UInt64 = 0
    /// Of those, sent on the radio's monitor interface.
    public var framesInjected: UInt64 = 0
    /// Not radiotap + 802.11 (what the host's own stack might send): dropped.
    public var framesRejected: UInt64 = 0
    /// Valid frames the kernel library refused to send.
    public var injectionFailures: UInt64 = 0
    /// The latest rejection or failure, for the user.
    public var lastProblem: String?
}

public struct BridgeStatus: Sendable {
    public var capture: CaptureStatus
    public var traffic: BridgeTraffic
}

public struct BridgeResult: Sendable {
    public var capture: CaptureResult
    public var traffic: BridgeTraffic
}

/// Shared by the capture thread, the host reader thread and the status line.
final class BridgeCounters: Sendable {
    let framesToHost = Atomic<UInt64>(0)
    let bytesToHost = Atomic<UInt64>(0)
    let framesNotDelivered = Atomic<UInt64>(0)
    let framesFromHost = Atomic<UInt64>(0)
    let framesInjected = Atomic<UInt64>(0)
    let framesRejected = Atomic<UInt64>(0)
    let injectionFailures = Atomic<UInt64>(0)
    let lastProblem = HostMutex<String?>(nil)
    let stopReading = Atomic<Bool>(false)

    func note(_ problem: String) { lastProblem.withLock { $0 = problem } }

    var snapshot: BridgeTraffic {
        BridgeTraffic(
            framesToHost: framesToHost.load(ordering: .relaxed), bytesToHost: bytesToHost.load(ordering: .relaxed),
            framesNotDelivered: framesNotDelivered.load(ordering: .relaxed),
            framesFromHost: framesFromHost.load(ordering: .relaxed), framesInjected: framesInjected.load(ordering: .relaxed),
            framesRejected: framesRejected.load(ordering: .relaxed),
            injectionFailures: injectionFailures.load(ordering: .relaxed), lastProblem: lastProblem.withLock { $0 })
    }
}

/// The capture loop's destination for a bridge: each frame becomes one
/// write on the TAP, i.e. one frame received on the host interface.
final class TapFrameSink: CapturedFrameSink {
    private let tap: HostTapInterface
    private let counters: BridgeCounters

    init(tap: HostTapInterface, counters: BridgeCounters) {
        self.tap = tap
        self.counters = counters
    }

    func writePacket(_ data: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: UInt64) throws {
        switch tap.write(data) {
        case .written:
            counters.framesToHost.add(1, ordering: .relaxed)
            counters.bytesToHost.add(UInt64(data.count), ordering: .relaxed)
        case .interfaceDown:
            counters.framesNotDelivered.add(1, ordering: .relaxed)
            counters.note("\(tap.name) is down on the host: captured frames are dropped until it is up again")
        case .failed(let errno):
            counters.framesNotDelivered.add(1, ordering: .relaxed)
            counters.note("writing a frame to \(tap.name): \(String(cString: strerror(errno)))")
        }
    }

    func flush() throws {}
    func writeStatistics(_ statistics: InterfaceStatistics) throws {}
    func close() throws {}
}

/// `airtap bridge`: the radio's monitor interface and a host TAP of link
/// type radiotap, joined both ways. Radio to host is the ordinary capture
/// loop (`CaptureRun`) writing into the TAP; host to radio is a host thread
/// reading the TAP and injecting through `PacketInjector`. The capture
/// socket ignores outgoing frames, so injected frames do not loop back.
public struct RadiotapBridge {
    public var device: any RadioDevice
    public var tap: HostTapInterface
    public var channels: [ChannelSpec]
    public var hopIntervalSeconds: Double
    /// Polled between batches; true ends the bridge cleanly.
    public var shouldStop: () -> Bool
    public var onStatus: ((BridgeStatus) -> Void)?
    public var statusIntervalSeconds = 0.5

    public init(
        device: any RadioDevice, tap: HostTapInterface, channels: [ChannelSpec], hopIntervalSeconds: Double = 0.5,
        shouldStop: @escaping () -> Bool
    ) {
        self.device = device
        self.tap = tap
        self.channels = channels
        self.hopIntervalSeconds = hopIntervalSeconds
        self.shouldStop = shouldStop
    }

    /// Runs until `shouldStop` or the device goes away; both directions
    /// have stopped when it returns.
    public func run() throws -> BridgeResult {
        let counters = BridgeCounters()
        let injector = try device.makeInjector()
        defer { injector.close() }
        let reader = try JoinableThread { [tap] in
            Self.injectHostFrames(from: tap, through: injector, counters: counters)
        }
        var capture = CaptureRun(
            device: device, channels: channels, hopIntervalSeconds: hopIntervalSeconds, limits: CaptureLimits(),
            collectSummary: false, shouldStop: shouldStop)
        capture.statusIntervalSeconds = statusIntervalSeconds
        if let onStatus {
            capture.onStatus = { onStatus(BridgeStatus(capture: $0, traffic: counters.snapshot)) }
        }
        let outcome = Result { try capture.run(writer: TapFrameSink(tap: tap, counters: counters)) }
        counters.stopReading.store(true, ordering: .releasing)
        reader.join()
        return BridgeResult(capture: try outcome.get(), traffic: counters.snapshot)
    }

    /// How long a read of the TAP waits, i.e. how soon the reader notices a stop.
    static let readTimeoutMilliseconds: Int32 = 100

    /// Host to radio: every radiotap frame a host program sends on the
    /// TAP, checked as `airtap inject` checks its input, then sent.
    static func injectHostFrames(from tap: HostTapInterface, through injector: PacketInjector, counters: BridgeCounters) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        defer { buffer.deallocate() }
        while !counters.stopReading.load(ordering: .acquiring) {
            let count = tap.read(into: buffer, timeoutMilliseconds: readTimeoutMilliseconds)
            if count == 0 { continue }
            if count < 0 {
                counters.note("reading \(tap.name): \(String(cString: strerror(Int32(-count))))")
                HostClock.sleep(seconds: Double(readTimeoutMilliseconds) / 1000)
                continue
            }
            let number = counters.framesFromHost.add(1, ordering: .relaxed).newValue
            let frame = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            do {
                try InjectionPreparation.validateRadiotapFrame(Array(frame), frameNumber: Int(number))
            } catch {
                counters.framesRejected.add(1, ordering: .relaxed)
                counters.note("not injected, from \(tap.name): \(error)")
                continue
            }
            do {
                try injector.send(frame)
                counters.framesInjected.add(1, ordering: .relaxed)
            } catch {
                counters.injectionFailures.add(1, ordering: .relaxed)
                counters.note("injecting frame \(number) from \(tap.name): \(error)")
            }
        }
    }
}
