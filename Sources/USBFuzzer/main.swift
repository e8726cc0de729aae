// SPDX-License-Identifier: GPL-2.0-only
//
// airtap-usb-fuzz: fuzzes the kernel's USB stack and Wi-Fi drivers through
// the virtual host controller (Sources/USBFuzzing).
//
//     airtap-usb-fuzz TARGET [libFuzzer options] [CORPUS_DIR ...]   (built with -sanitize=fuzzer: make fuzz)
//     airtap-usb-fuzz TARGET --replay FILE_OR_DIR ...                each input once, no libFuzzer (make test)
//     airtap-usb-fuzz TARGET --write-seeds DIR                       seed corpus from the models
//
// TARGET: enumeration, rtl8187-rx, rtw88-rx. Known findings' inputs are
// saved under AIRTAP_FUZZ_FINDINGS (default .build/fuzz/findings/TARGET).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LinuxKernel
import USBFuzzing

func usage() -> Never {
    let names = USBFuzzTargetKind.allCases.map(\.rawValue).joined(separator: "|")
    writeError(
        "usage: airtap-usb-fuzz <\(names)> [libFuzzer options] [corpus dirs]\n"
            + "       airtap-usb-fuzz <\(names)> --replay <file or dir>...\n"
            + "       airtap-usb-fuzz <\(names)> --write-seeds <dir>\n")
    exit(64)  // EX_USAGE
}

func writeError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Files to replay: each argument, or the regular files of a directory, sorted.
func inputFiles(_ paths: [String]) -> [String] {
    paths.flatMap { path -> [String] in
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append("\(path)/\(name)") }
        }
        return names.sorted()
    }
}

func readHostFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return bytes
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let kind = USBFuzzTargetKind(rawValue: arguments[1]) else { usage() }
let options = Array(arguments.dropFirst(2))
let findingsDirectory = getenv("AIRTAP_FUZZ_FINDINGS").map { String(cString: $0) } ?? ".build/fuzz/findings/\(kind.rawValue)"

do {
    if options.first == "--write-seeds" {
        guard options.count == 2 else { usage() }
        let seeds = try FuzzSeeds.make(kind)
        try FuzzSeeds.write(seeds, to: options[1])
        print("airtap-usb-fuzz: \(kind.rawValue): wrote \(seeds.count) seed inputs to \(options[1])")
        fflush(nil)
        _exit(0)  // kernel threads may still run: no exit-time cleanup
    }
    if options.first == "--replay" {
        let files = inputFiles(Array(options.dropFirst()))
        guard !files.isEmpty else { usage() }
        let runner = try USBFuzzRunner(kind: kind, findingsDirectory: findingsDirectory)
        for file in files {
            guard let input = readHostFile(file) else {
                writeError("airtap-usb-fuzz: cannot read \(file)\n")
                _exit(66)  // EX_NOINPUT
            }
            runner.run(input)
        }
        print(runner.summary)
        fflush(nil)
        _exit(0)
    }
} catch {
    writeError("airtap-usb-fuzz: \(kind.rawValue): \(error)\n")
    _exit(1)
}

#if AIRTAP_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The runner libFuzzer's callback drives (one per process, main thread only).
nonisolated(unsafe) var activeRunner: USBFuzzRunner?

do {
    activeRunner = try USBFuzzRunner(kind: kind, findingsDirectory: findingsDirectory)
} catch {
    writeError("airtap-usb-fuzz: \(kind.rawValue): \(error)\n")
    _exit(1)
}
// libFuzzer keeps a crash handler that is already there, and the Swift
// runtime's backtracer would be one: it must not catch the abort() that
// reports a finding, or libFuzzer never saves the input.
for deadlySignal in [SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP] {
    signal(deadlySignal, SIG_DFL)
}
// libFuzzer ends with exit(): the summary comes from an exit handler.
atexit {
    if let runner = activeRunner { writeError(runner.summary + "\n") }
}
// libFuzzer sees argv without the target name.
var fuzzerArguments: [UnsafeMutablePointer<CChar>?] = [strdup(arguments[0])] + options.map { strdup($0) } + [nil]
var fuzzerArgumentCount = Int32(fuzzerArguments.count - 1)
let status = fuzzerArguments.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv = buffer.baseAddress!
    return LLVMFuzzerRunDriver(&fuzzerArgumentCount, &argv) { data, size in
        let input = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        activeRunner?.run(input)
        return 0
    }
}
exit(status)
#else
writeError(
    "airtap-usb-fuzz was built without libFuzzer: `make fuzz` builds it with -sanitize=fuzzer;"
        + " this build can only --replay inputs or --write-seeds\n")
exit(64)
#endif
