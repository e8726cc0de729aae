// SPDX-License-Identifier: GPL-2.0-only

import Testing

@testable import LinuxKernel

/// Console output shaped like KUnit in 6.12 (lib/kunit/test.c), with
/// timestamps, interleaved kernel messages, a parameterised test, a skip
/// and a failure.
private let sampleConsole = """
    [    0.000000] Linux version 6.12.0-airtap (builder@host) #1 SMP
    [    0.010000] Memory: 65536K available
    [    0.500000] KTAP version 1
    [    0.500001] 1..3
    [    0.500002]     KTAP version 1
    [    0.500003]     # Subtest: lkl_irq
    [    0.500004]     # module: lkl_irq_test
    [    0.500005]     1..3
    [    0.500006]     ok 1 irq_trigger_from_host
    [    0.500007] lkl: some unrelated message
    [    0.500008]         KTAP version 1
    [    0.500009]         # Subtest: irq_params
    [    0.500010]         ok 1 line 1
    [    0.500011]         ok 2 line 2 # SKIP not wired
    [    0.500012]     # irq_params: pass:1 fail:0 skip:1 total:2
    [    0.500013]     ok 2 irq_params
    [    0.500014]     ok 3 irq_nested # SKIP needs SMP
    [    0.500015] # lkl_irq: pass:2 fail:0 skip:1 total:3
    [    0.500016] # Totals: pass:2 fail:0 skip:2 total:4
    [    0.500017] ok 1 lkl_irq
    [    0.600000]     KTAP version 1
    [    0.600001]     # Subtest: string
    [    0.600002]     1..2
    [    0.600003]     # string_test_strlen: EXPECTATION FAILED at lib/string_kunit.c:42
    [    0.600004]     Expected len == 3, but
    [    0.600005]     not ok 1 string_test_strlen
    [    0.600006]     ok 2 string_test_strcmp
    [    0.600007] # string: pass:1 fail:1 skip:0 total:2
    [    0.600008] # Totals: pass:1 fail:1 skip:0 total:2
    [    0.600009] not ok 2 string
    [    0.700000]     KTAP version 1
    [    0.700001]     # Subtest: cfg80211-inform-bss
    [    0.700002]     1..1
    [    0.700003]     ok 1 test_inform_bss_ssid_only # SKIP no wiphy
    [    0.700004] ok 3 cfg80211-inform-bss # SKIP no wiphy
    [    0.800000] Freeing unused kernel memory
    """

@Suite("KTAP parser")
struct KTAPParserTests {
    @Test func parsesSuitesTestsAndDirectives() throws {
        let report = KTAPParser.parse(sampleConsole)
        #expect(report.plannedSuiteCount == 3)
        #expect(report.planMatched)
        #expect(report.suites.map(\.name) == ["lkl_irq", "string", "cfg80211-inform-bss"])
        #expect(report.suites.map(\.number) == [1, 2, 3])

        let irq = try #require(report.suite(named: "lkl_irq"))
        #expect(irq.ok)
        #expect(irq.result == .passed)
        #expect(
            irq.tests == [
                KUnitTestCase(name: "irq_trigger_from_host", result: .passed),
                KUnitTestCase(name: "irq_params", result: .passed),
                KUnitTestCase(name: "irq_nested", result: .skipped(reason: "needs SMP")),
            ])
        #expect(irq.totals == KUnitCounts(passed: 2, failed: 0, skipped: 2, total: 4))
        #expect(irq.caseCounts == KUnitCounts(passed: 2, failed: 0, skipped: 1, total: 3))
        #expect(irq.testCounts == KUnitCounts(passed: 2, failed: 0, skipped: 1, total: 3))

        let string = try #require(report.suite(named: "string"))
        #expect(!string.ok)
        #expect(string.tests.map(\.result) == [.failed, .passed])

        let cfg = try #require(report.suite(named: "cfg80211-inform-bss"))
        #expect(cfg.ok, "a skipped suite counts as ok")
        #expect(cfg.result == .skipped(reason: "no wiphy"))

        #expect(report.failedSuites.map(\.name) == ["string"])
    }

    @Test func keepsKTAPRegionWithoutTimestamps() {
        let report = KTAPParser.parse(sampleConsole)
        #expect(report.ktapLines.first == "KTAP version 1")
        #expect(report.ktapLines.last == "ok 3 cfg80211-inform-bss # SKIP no wiphy")
        #expect(report.ktapLines.contains("    ok 1 irq_trigger_from_host"))
        #expect(!report.ktapLines.contains { $0.contains("Linux version") || $0.contains("Freeing") })
        // Re-parsing the extracted lines gives the same report.
        #expect(KTAPParser.parse(lines: report.ktapLines).suites == report.suites)
    }

    @Test func acceptsLinesWithoutTimestamps() {
        let text = """
            KTAP version 1
            1..1
                # Subtest: hashtable
                1..1
                ok 1 hashtable_test_hash_init
            ok 1 hashtable
            """
        let report = KTAPParser.parse(text)
        #expect(report.planMatched)
        #expect(report.suites.count == 1)
        #expect(report.suites.first?.name == "hashtable")
        #expect(report.suites.first?.tests.count == 1)
    }

    @Test func detectsTruncatedOutput() {
        let text = """
            [    1.0] KTAP version 1
            [    1.0] 1..2
            [    1.0]     # Subtest: overflow
            [    1.0]     ok 1 u8_overflow_test
            [    1.0] ok 1 overflow
            [    1.0]     # Subtest: list-kunit-test
            [    1.0]     ok 1 list_test_list_init
            """
        let report = KTAPParser.parse(text)
        #expect(report.plannedSuiteCount == 2)
        #expect(!report.planMatched)
        #expect(report.suites.map(\.name) == ["overflow"])
    }

    @Test func ignoresEverythingBeforeTheHeader() {
        let text = """
            [    0.1] ok 1 looks-like-a-result
            [    0.1] 1..7
            """
        let report = KTAPParser.parse(text)
        #expect(report.suites.isEmpty)
        #expect(report.plannedSuiteCount == nil)
        #expect(!report.planMatched)
        #expect(report.ktapLines.isEmpty)
    }

    @Test func emptyPlanMatchesNoSuites() {
        let report = KTAPParser.parse("KTAP version 1\n1..0\n")
        #expect(report.plannedSuiteCount == 0)
        #expect(report.planMatched)
    }

    @Test func stripsPrintkPrefixes() {
        #expect(KTAPParser.strippingTimestamp("[    0.123456] ok 1 a") == "ok 1 a")
        #expect(KTAPParser.strippingTimestamp("[    0.123456]     ok 1 a") == "    ok 1 a")
        #expect(KTAPParser.strippingTimestamp("[    0.123456][    T1] ok 1 a") == "ok 1 a")
        #expect(KTAPParser.strippingTimestamp("[    0.123456][  C0]     # x") == "    # x")
        #expect(KTAPParser.strippingTimestamp("ok 1 a") == "ok 1 a")
        #expect(KTAPParser.strippingTimestamp("[not a time] ok") == "[not a time] ok")
        #expect(KTAPParser.strippingTimestamp("[") == "[")
    }

    @Test func parsesResultLineVariants() {
        #expect(
            KTAPParser.parseResultLine("ok 12 name with spaces")
                == .init(ok: true, number: 12, description: "name with spaces", skipReason: nil))
        #expect(
            KTAPParser.parseResultLine("not ok 3 - dashed")
                == .init(ok: false, number: 3, description: "dashed", skipReason: nil))
        #expect(
            KTAPParser.parseResultLine("ok 1 t # SKIP")
                == .init(ok: true, number: 1, description: "t", skipReason: ""))
        #expect(
            KTAPParser.parseResultLine("ok 1 t # skip lower case")
                == .init(ok: true, number: 1, description: "t", skipReason: "lower case"))
        #expect(
            KTAPParser.parseResultLine("ok 2 value #3 of 4")
                == .init(ok: true, number: 2, description: "value #3 of 4", skipReason: nil))
        #expect(KTAPParser.parseResultLine("ok") == nil)
        #expect(KTAPParser.parseResultLine("ok x name") == nil)
        #expect(KTAPParser.parseResultLine("ok 1x name") == nil)
        #expect(KTAPParser.parseResultLine("okay 1 name") == nil)
        #expect(KTAPParser.parseResultLine("ok 99999999999999999999999 huge") == nil)
    }

    @Test func parsesCountLines() throws {
        let totals = try #require(KTAPParser.parseCounts("# Totals: pass:5 fail:1 skip:2 total:8"))
        #expect(totals.label == "Totals")
        #expect(totals.counts == KUnitCounts(passed: 5, failed: 1, skipped: 2, total: 8))
        #expect(KTAPParser.parseCounts("# Totals: pass:x fail:1 skip:2 total:8") == nil)
        #expect(KTAPParser.parseCounts("# Totals: pass:1") == nil)
        #expect(KTAPParser.parseCounts("# Subtest: foo") == nil)
    }

    @Test func survivesGarbage() {
        let garbage = ["KTAP version 1", "1..", "1..-3", "ok", "not ok", "    ok 1", "        not ok 2 # SKIP",
                       "# : pass:", "\u{0}\u{1}", "ok 1 ", "[", "[]", "    # Subtest: ", "ok 1 # SKIP"]
        let report = KTAPParser.parse(lines: garbage)
        #expect(report.plannedSuiteCount == nil)
        #expect(report.suites.count == 2)  // "ok 1 " and "ok 1 # SKIP"
    }
}

@Suite("Console plumbing")
struct ConsolePlumbingTests {
    @Test func lineSplitterJoinsFragmentsAndSplitsLines() {
        var splitter = LineSplitter(maximumLineBytes: 1024)
        #expect(splitter.append(Array("Linux ver".utf8)).isEmpty)
        #expect(splitter.append(Array("sion 6.12\r\nsecond\nthi".utf8)) == ["Linux version 6.12", "second"])
        #expect(splitter.flush() == ["thi"])
        #expect(splitter.flush().isEmpty)
    }

    @Test func lineSplitterBoundsOverlongLines() {
        var splitter = LineSplitter(maximumLineBytes: 4)
        #expect(splitter.append(Array("abcdefghij\n".utf8)) == ["abcd", "efgh", "ij"])
    }

    @Test func byteTailKeepsTheLastBytes() {
        var tail = ByteTail(capacity: 8)
        for chunk in ["0123", "4567", "89ab", "cdefghijklmnop"] {
            Array(chunk.utf8).withUnsafeBufferPointer { tail.append($0) }
        }
        #expect(tail.text == "ijklmnop")
        var small = ByteTail(capacity: 8)
        Array("abc".utf8).withUnsafeBufferPointer { small.append($0) }
        #expect(small.text == "abc")
        // Wrapping around the ring's end, and one write longer than the ring.
        var ring = ByteTail(capacity: 5)
        for chunk in ["abc", "def", "g", "hijklmnopq", "rs"] {
            Array(chunk.utf8).withUnsafeBufferPointer { ring.append($0) }
            let all = "abcdefghijklmnopqrs"
            let sofar = all.prefix(upTo: all.index(all.startIndex, offsetBy: ["abc": 3, "def": 6, "g": 7, "hijklmnopq": 17, "rs": 19][chunk]!))
            #expect(ring.text == String(sofar.suffix(5)))
        }
    }

    @Test func bannerLineDropsTimestamp() {
        let lines = ["[    0.000000] Booting", "[    0.000000] Linux version 6.12.0 (x@y) #1", "Linux version 2"]
        #expect(KernelConsole.bannerLine(in: lines) == "Linux version 6.12.0 (x@y) #1")
        #expect(KernelConsole.bannerLine(in: ["nothing"]) == nil)
    }

    @Test func consoleRecorderKeepsEveryLine() {
        let recorder = ConsoleRecorder()
        recorder.sink.receiveLine?("[    0.0] Linux version 6.12.0")
        recorder.sink.receiveLine?("next")
        #expect(recorder.lines == ["[    0.0] Linux version 6.12.0", "next"])
        #expect(recorder.bannerLine == "Linux version 6.12.0")
    }
}

@Suite("Syscall helpers without a kernel")
struct SyscallHelperTests {
    /// Builds one linux_dirent64 record in host byte order, padded to 8 bytes.
    private func direntRecord(inode: UInt64, type: UInt8, name: String) -> [UInt8] {
        let unpadded = 19 + name.utf8.count + 1
        let length = (unpadded + 7) / 8 * 8
        var bytes = withUnsafeBytes(of: inode) { Array($0) }
        bytes += withUnsafeBytes(of: Int64(0)) { Array($0) }
        bytes += withUnsafeBytes(of: UInt16(length)) { Array($0) }
        bytes.append(type)
        bytes += Array(name.utf8) + [0]
        bytes += [UInt8](repeating: 0, count: length - unpadded)
        return bytes
    }

    @Test func parsesDirectoryEntries() throws {
        let buffer = direntRecord(inode: 1, type: 4, name: ".") + direntRecord(inode: 7, type: 8, name: "data.bin")
        let entries = try Kernel.parseDirectoryEntries(buffer[...])
        #expect(entries == [
            DirectoryEntry(inode: 1, type: 4, name: "."),
            DirectoryEntry(inode: 7, type: 8, name: "data.bin"),
        ])
    }

    @Test func rejectsMalformedDirectoryEntries() {
        let record = direntRecord(inode: 1, type: 8, name: "file")
        #expect(throws: KernelError.self) { try Kernel.parseDirectoryEntries(record.dropLast(3)) }
        var zeroLength = record
        zeroLength[16] = 0
        zeroLength[17] = 0
        #expect(throws: KernelError.self) { try Kernel.parseDirectoryEntries(zeroLength[...]) }
        #expect(throws: KernelError.self) { try Kernel.parseDirectoryEntries(record.prefix(10)) }
    }

    @Test func openFlagsUseAsmGenericValues() {
        #expect(OpenFlags.create.rawValue == 0o100)
        #expect(OpenFlags.readWrite.rawValue == 2)
        #expect(OpenFlags.directory.rawValue == 0o200000)
        #expect(LinuxABI.atFDCWD == -100)
    }
}

@Suite("Probe output protocol")
struct ProbeOutputParserTests {
    @Test func parsesResultLines() {
        let output = """
            RESULT banner=Linux version 6.12.0 (builder@host) (gcc 12) #1 SMP
            RESULT lkl_getpid_ns=85.3 host_getpid_ns=61.0
            SUITE ok lkl_irq
            SUITE notok string
            KTAP| ok 1 lkl_irq
            noise RESULT x=1
            """
        let results = ProbeOutputParser.results(in: output)
        #expect(results["banner"] == "Linux version 6.12.0 (builder@host) (gcc 12) #1 SMP")
        #expect(results["lkl_getpid_ns"] == "85.3")
        #expect(results["host_getpid_ns"] == "61.0")
        #expect(results["x"] == nil)
        let suites = ProbeOutputParser.suites(in: output)
        #expect(suites.map(\.name) == ["lkl_irq", "string"])
        #expect(suites.map(\.ok) == [true, false])
        #expect(ProbeOutputParser.ktapLines(in: output) == ["ok 1 lkl_irq"])
    }
}
