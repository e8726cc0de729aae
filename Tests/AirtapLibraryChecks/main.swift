// SPDX-License-Identifier: GPL-2.0-only
// The Airtap library's contract, checked in a process of its own (the
// kernel library boots once per process). Prints one "CHECK name: ok" or
// "CHECK name: FAILED ..." line per check; exits 1 if any failed.
//   airtap-library-checks sim       the API on the simulated radios
//   airtap-library-checks removal   emulated:rtl8187 unplugged mid-capture

#if canImport(Glibc)
import Glibc
#endif
import Airtap

nonisolated(unsafe) var failures = 0

func check(_ name: String, _ condition: Bool, _ detail: @autoclosure () -> String = "") {
    print("CHECK \(name): " + (condition ? "ok" : "FAILED \(detail())"))
    fflush(nil)  // every line out, even if a later check crashes
    if !condition { failures += 1 }
}

/// The error `body` throws, as text (nil: it did not throw).
func thrownText(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

/// Reads `limit` frames at most until `done` says so; returns what it read.
func collect(_ frames: CapturedFrames, limit: Int, until done: ([CapturedFrame]) -> Bool) async throws -> [CapturedFrame] {
    var seen: [CapturedFrame] = []
    for try await frame in frames {
        seen.append(frame)
        if seen.count >= limit || done(seen) { break }
    }
    return seen
}

func checkSimulatedRadios() async throws {
    do {
        _ = try await Radio.open("nonesuch")
        check("unknown device name", false, "opened")
    } catch {
        check("unknown device name", "\(error)".contains("unknown device \"nonesuch\""), "\(error)")
    }

    let radio = try await Radio.open("sim")
    check("opened", radio.deviceName == "sim" && !radio.interfaceName.isEmpty, "\(radio.deviceName) \(radio.interfaceName)")
    check("frames() before tune", thrownText { _ = try radio.frames() }?.contains("is not tuned") == true)
    check("bad channel syntax", thrownText { try radio.tune("six") } != nil)

    try radio.tune("6")
    check("tuned", radio.channel?.frequency == 2437, "\(String(describing: radio.channel))")

    let first = try radio.frames()
    check(
        "a second capture while one runs",
        thrownText { _ = try radio.frames() }?.contains("already capturing") == true)
    let five = try await collect(first, limit: 5) { _ in false }
    check("five frames", five.count == 5, "\(five.count)")
    check("radiotap parsed, channel 6", five.allSatisfy { $0.radiotap != nil && $0.frequencyMHz == 2437 && $0.channel == 6 })
    check("802.11 after radiotap", five.allSatisfy { $0.ieee80211.count >= 10 && $0.bytes.count == $0.originalLength })
    check(
        "timestamps in order", zip(five, five.dropFirst()).allSatisfy { $0.timestampNanoseconds <= $1.timestampNanoseconds })
    check("signal and rate", five.allSatisfy { $0.signalDBm != nil && $0.rate != nil })

    // Leaving the loop ended that capture: a new one may start, hopping.
    let hopping = try radio.frames(channels: [ChannelSpec(parsing: "1"), ChannelSpec(parsing: "11")], hopInterval: .milliseconds(200))
    let hopped = try await collect(hopping, limit: 5000) { seen in
        Set(seen.compactMap(\.frequencyMHz)).isSuperset(of: [2412, 2462])
    }
    check("hopping 1 and 11", Set(hopped.compactMap(\.frequencyMHz)).isSuperset(of: [2412, 2462]), "\(Set(hopped.compactMap(\.frequencyMHz)))")

    // Another task tunes while this one captures (once frames flow, so
    // after the capture's own first tune): both go through the radio.
    try radio.tune("6")
    var tuner: Task<Void, any Error>?
    let seen = try await collect(try radio.frames(), limit: 5000) { seen in
        if tuner == nil { tuner = Task.detached { try radio.tune("11") } }
        return seen.last?.frequencyMHz == 2462
    }
    try await tuner?.value
    check("retuned by another task mid-capture", seen.last?.frequencyMHz == 2462, "\(Set(seen.compactMap(\.frequencyMHz)))")

    let before = radio.statistics
    let bad = thrownText { try radio.inject([0x01, 0x02, 0x03]) }
    check("malformed frame refused", bad?.contains("radiotap") == true, bad ?? "no error")
    try radio.inject(ieee80211: [0x08, 0, 0, 0] + [0x01, 0, 0x5E, 0, 0, 1] + [0x02, 0, 0, 0, 0, 1] + [0x02, 0, 0, 0, 0, 1] + [0, 0])
    let after = radio.statistics
    check(
        "injected counted", after.framesInjected == before.framesInjected + 1 && after.injectionFailures == before.injectionFailures,
        "\(before) -> \(after)")
    check("captured counted", after.framesCaptured >= UInt64(five.count + hopped.count + seen.count), "\(after)")
    check("statistics channel", after.channel?.frequency == 2462, "\(String(describing: after.channel))")

    // close() ends a running capture: its loop finishes instead of hanging.
    let open = try radio.frames()
    let reader = Task.detached { try await collect(open, limit: .max) { _ in false }.count }
    // Close once the capture is really running (a frame came), however loaded the machine is.
    let runningFrom = radio.statistics.framesCaptured
    for _ in 0..<500 where radio.statistics.framesCaptured == runningFrom {
        try await Task.sleep(for: .milliseconds(10))
    }
    radio.close()
    let readBeforeClose = try await reader.value
    check("close ends the capture", readBeforeClose > 0, "\(readBeforeClose)")
    radio.close()
    check("closed radio refuses use", thrownText { try radio.tune("1") }?.contains("is closed") == true)

    do {
        _ = try await Radio.open("sim")
        check("one radio per process", false, "opened a second")
    } catch {
        check("one radio per process", "\(error)".contains("boots once per process"), "\(error)")
    }
}

func checkSurpriseRemoval() async throws {
    let radio = try await Radio.open("emulated:rtl8187", options: RadioOptions(unplugAfterSeconds: 1))
    try radio.tune("6")
    var frames = 0
    do {
        for try await _ in try radio.frames() { frames += 1 }
        check("unplug ends the sequence with an error", false, "it finished without one after \(frames) frames")
    } catch {
        check("unplug ends the sequence with an error", "\(error)".contains("was unplugged"), "\(error)")
    }
    check("frames before the unplug", frames > 0, "\(frames)")
    check("not present", !radio.isPresent)
    radio.close()
}

do {
    switch CommandLine.arguments.dropFirst().first {
    case "sim": try await checkSimulatedRadios()
    case "removal": try await checkSurpriseRemoval()
    default:
        print("usage: airtap-library-checks sim|removal")
        exit(2)
    }
} catch {
    check("no unexpected error", false, "\(error)")
}
print(failures == 0 ? "ALL CHECKS PASSED" : "\(failures) CHECK(S) FAILED")
exit(failures == 0 ? 0 : 1)
