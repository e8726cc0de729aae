// SPDX-License-Identifier: GPL-2.0-only

/// Outcome of one KUnit test or suite.
public enum KUnitResult: Sendable, Equatable, CustomStringConvertible {
    case passed
    case failed
    case skipped(reason: String)

    public var description: String {
        switch self {
        case .passed: return "ok"
        case .failed: return "not ok"
        case .skipped(let reason): return reason.isEmpty ? "skipped" : "skipped (\(reason))"
        }
    }
}

/// `pass:X fail:Y skip:Z total:T` as printed after each suite.
public struct KUnitCounts: Sendable, Equatable {
    public var passed: Int
    public var failed: Int
    public var skipped: Int
    public var total: Int

    public init(passed: Int, failed: Int, skipped: Int, total: Int) {
        self.passed = passed
        self.failed = failed
        self.skipped = skipped
        self.total = total
    }
}

public struct KUnitTestCase: Sendable, Equatable {
    public var name: String
    public var result: KUnitResult

    public init(name: String, result: KUnitResult) {
        self.name = name
        self.result = result
    }
}

public struct KUnitSuite: Sendable, Equatable {
    public var name: String
    /// The suite's number in the top-level plan.
    public var number: Int
    public var result: KUnitResult
    /// Test cases in order (parameterised sub-cases are folded into their case).
    public var tests: [KUnitTestCase]
    /// From `# Totals:` (counts parameterised sub-cases), if printed.
    public var totals: KUnitCounts?
    /// From `# <suite>: pass:...` (counts test cases), if printed.
    public var caseCounts: KUnitCounts?

    /// Passed or skipped: nothing failed.
    public var ok: Bool { result != .failed }

    public init(
        name: String, number: Int, result: KUnitResult, tests: [KUnitTestCase],
        totals: KUnitCounts? = nil, caseCounts: KUnitCounts? = nil
    ) {
        self.name = name
        self.number = number
        self.result = result
        self.tests = tests
        self.totals = totals
        self.caseCounts = caseCounts
    }

    /// Counts derived from the test lines themselves.
    public var testCounts: KUnitCounts {
        var counts = KUnitCounts(passed: 0, failed: 0, skipped: 0, total: tests.count)
        for test in tests {
            switch test.result {
            case .passed: counts.passed += 1
            case .failed: counts.failed += 1
            case .skipped: counts.skipped += 1
            }
        }
        return counts
    }
}

public struct KTAPReport: Sendable, Equatable {
    public var suites: [KUnitSuite]
    /// Sum of the top-level `1..N` plans, or nil if no plan was seen.
    public var plannedSuiteCount: Int?
    /// The KTAP part of the console with timestamps removed, from the first
    /// `KTAP version` line to the last line that belonged to a suite.
    public var ktapLines: [String]

    /// Whether a plan was printed and exactly that many suites reported. A
    /// mismatch means output was cut short (or a suite crashed).
    public var planMatched: Bool { plannedSuiteCount == suites.count }

    public var failedSuites: [KUnitSuite] { suites.filter { !$0.ok } }

    public func suite(named name: String) -> KUnitSuite? { suites.first { $0.name == name } }
}

/// Parses KUnit's KTAP output as it appears on the kernel console.
///
/// Lines may carry a printk timestamp (`[    0.123456] `), which is removed
/// before measuring indentation. Indentation level 0 holds the suites
/// (`ok N name`), level 1 (four spaces) their test cases; deeper levels are
/// parameterised sub-cases, summarised by their level-1 line. Lines before
/// the first `KTAP version` header are ignored, as are console lines that
/// are not KTAP (other kernel messages interleave freely).
public enum KTAPParser {
    public static func parse(_ consoleText: String) -> KTAPReport {
        parse(lines: consoleText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
    }

    public static func parse<Lines: Sequence<String>>(lines: Lines) -> KTAPReport {
        var state = ParserState()
        for line in lines {
            state.consume(line)
        }
        return state.report()
    }

    /// Removes leading printk prefixes like `[    0.123456] ` or
    /// `[    0.123456][    T1] ` (CONFIG_PRINTK_CALLER), keeping indentation.
    public static func strippingTimestamp(_ line: Substring) -> Substring {
        var rest = line
        var strippedAny = false
        while rest.first == "[", let close = rest.firstIndex(of: "]") {
            let inside = rest[rest.index(after: rest.startIndex)..<close]
            guard isPrintkPrefix(inside) else { break }
            rest = rest[rest.index(after: close)...]
            strippedAny = true
        }
        if strippedAny, rest.first == " " {
            rest = rest.dropFirst()
        }
        return rest
    }

    /// `    0.123456` (time) or `    T1` / `  C0` (caller id).
    private static func isPrintkPrefix(_ text: Substring) -> Bool {
        let trimmed = text.drop { $0 == " " }
        guard let first = trimmed.first else { return false }
        if first == "T" || first == "C" {
            let digits = trimmed.dropFirst()
            return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit)
        }
        return trimmed.contains(".") && trimmed.allSatisfy { $0.isASCIIDigit || $0 == "." }
    }

    // MARK: - Line grammar

    struct ResultLine: Equatable {
        var ok: Bool
        var number: Int
        var description: String
        var skipReason: String?

        var result: KUnitResult {
            if let skipReason { return .skipped(reason: skipReason) }
            return ok ? .passed : .failed
        }
    }

    /// `ok N description [# directive]` / `not ok N ...` (an optional
    /// TAP-style `- ` before the description is dropped).
    static func parseResultLine(_ content: Substring) -> ResultLine? {
        let ok: Bool
        var rest: Substring
        if content.hasPrefix("ok ") {
            ok = true
            rest = content.dropFirst(3)
        } else if content.hasPrefix("not ok ") {
            ok = false
            rest = content.dropFirst(7)
        } else {
            return nil
        }
        let digits = rest.prefix { $0.isASCIIDigit }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        rest = rest.dropFirst(digits.count)
        guard rest.isEmpty || rest.first == " " else { return nil }
        rest = rest.drop { $0 == " " }
        if rest.hasPrefix("- ") { rest = rest.dropFirst(2) }

        // A directive is `# SKIP reason` (or `# TODO ...`) after the
        // description; a '#' elsewhere belongs to the name.
        var description = rest
        var skipReason: String?
        for hash in rest.ranges(of: "#") {
            guard hash.lowerBound == rest.startIndex || rest[rest.index(before: hash.lowerBound)] == " " else {
                continue
            }
            let directive = rest[hash.upperBound...].drop { $0 == " " }
            let keyword = directive.prefix { $0 != " " }.uppercased()
            guard keyword == "SKIP" || keyword == "TODO" else { continue }
            if keyword == "SKIP" {
                skipReason = String(directive.dropFirst(4).drop { $0 == " " })
            }
            description = rest[..<hash.lowerBound]
            break
        }
        return ResultLine(
            ok: ok, number: number,
            description: String(description.trimmingTrailingSpaces()),
            skipReason: skipReason)
    }

    /// `1..N`
    static func parsePlan(_ content: Substring) -> Int? {
        guard content.hasPrefix("1..") else { return nil }
        let count = content.dropFirst(3)
        guard !count.isEmpty, count.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(count)
    }

    /// `# <label>: pass:X fail:Y skip:Z total:T`
    static func parseCounts(_ content: Substring) -> (label: String, counts: KUnitCounts)? {
        guard content.hasPrefix("# "), let separator = content.firstRange(of: ": pass:") else { return nil }
        let label = String(content[content.index(content.startIndex, offsetBy: 2)..<separator.lowerBound])
        var values: [Substring: Int] = [:]
        for field in content[content.index(separator.lowerBound, offsetBy: 2)...].split(separator: " ") {
            let parts = field.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            values[parts[0]] = value
        }
        guard let passed = values["pass"], let failed = values["fail"], let skipped = values["skip"],
            let total = values["total"]
        else { return nil }
        return (label, KUnitCounts(passed: passed, failed: failed, skipped: skipped, total: total))
    }

    static func isVersionLine(_ content: Substring) -> Bool {
        content.hasPrefix("KTAP version ") || content.hasPrefix("TAP version ")
    }

    // MARK: - State machine

    private struct ParserState {
        var seenHeader = false
        var plannedSuiteCount: Int?
        var suites: [KUnitSuite] = []
        /// Timestamp-free lines since the first header.
        var ktapLines: [String] = []
        /// `ktapLines.count` after the last line that was part of KTAP.
        var ktapLinesEnd = 0

        // The suite currently being printed (closed by its level-0 result).
        var pendingSubtestName: String?
        var pendingTests: [KUnitTestCase] = []
        var pendingTotals: KUnitCounts?
        var pendingCaseCounts: KUnitCounts?

        mutating func consume(_ rawLine: String) {
            var line = KTAPParser.strippingTimestamp(Substring(rawLine))
            while let last = line.last, last == "\r" || last == " " || last == "\t" { line = line.dropLast() }
            let indentation = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indentation)
            let level = indentation / 4

            if !seenHeader {
                guard level == 0, KTAPParser.isVersionLine(content) else { return }
                seenHeader = true
            }
            ktapLines.append(String(line))
            if recognise(content, level: level) {
                ktapLinesEnd = ktapLines.count
            }
        }

        /// Applies one line; returns whether it was KTAP.
        mutating func recognise(_ content: Substring, level: Int) -> Bool {
            switch level {
            case 0:
                if KTAPParser.isVersionLine(content) { return true }
                if let plan = KTAPParser.parsePlan(content) {
                    plannedSuiteCount = (plannedSuiteCount ?? 0) + plan
                    return true
                }
                if let result = KTAPParser.parseResultLine(content) {
                    closeSuite(with: result)
                    return true
                }
                if let (label, counts) = KTAPParser.parseCounts(content) {
                    if label == "Totals" { pendingTotals = counts } else { pendingCaseCounts = counts }
                    return true
                }
                return content.hasPrefix("#")
            case 1:
                if content.hasPrefix("# Subtest: ") {
                    pendingSubtestName = String(content.dropFirst("# Subtest: ".count))
                    return true
                }
                if let result = KTAPParser.parseResultLine(content) {
                    pendingTests.append(KUnitTestCase(name: result.description, result: result.result))
                    return true
                }
                return KTAPParser.isVersionLine(content) || KTAPParser.parsePlan(content) != nil
                    || content.hasPrefix("#")
            default:
                // Parameterised sub-cases and their diagnostics.
                return KTAPParser.isVersionLine(content) || KTAPParser.parsePlan(content) != nil
                    || KTAPParser.parseResultLine(content) != nil || content.hasPrefix("#")
            }
        }

        mutating func closeSuite(with result: ResultLine) {
            let name = result.description.isEmpty ? (pendingSubtestName ?? "") : result.description
            suites.append(
                KUnitSuite(
                    name: name, number: result.number, result: result.result, tests: pendingTests,
                    totals: pendingTotals, caseCounts: pendingCaseCounts))
            pendingSubtestName = nil
            pendingTests = []
            pendingTotals = nil
            pendingCaseCounts = nil
        }

        func report() -> KTAPReport {
            KTAPReport(
                suites: suites, plannedSuiteCount: plannedSuiteCount,
                ktapLines: Array(ktapLines.prefix(ktapLinesEnd)))
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Substring {
    fileprivate func trimmingTrailingSpaces() -> Substring {
        var result = self
        while result.last == " " { result = result.dropLast() }
        return result
    }
}
