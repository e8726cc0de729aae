// SPDX-License-Identifier: GPL-2.0-only

import Foundation
import LinuxKernel
import Testing

@Suite("HostMutex")
struct HostMutexTests {
    @Test("two threads incrementing under the lock lose no update")
    func exclusion() throws {
        let counter = HostMutex(0)
        let perThread = 100_000
        let threads = try (0..<2).map { _ in
            try JoinableThread { for _ in 0..<perThread { counter.withLock { $0 += 1 } } }
        }
        threads.forEach { $0.join() }
        #expect(counter.withLock { $0 } == 2 * perThread)
    }

    @Test("withLockIfAvailable gives nil while another thread holds the lock")
    func tryLock() throws {
        let value = HostMutex("free")
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holder = try JoinableThread {
            value.withLock { _ in
                held.signal()
                release.wait()
            }
        }
        held.wait()
        #expect(value.withLockIfAvailable { $0 } == nil)
        release.signal()
        holder.join()
        #expect(value.withLockIfAvailable { $0 } == "free")
    }

    @Test("an error thrown by the body unlocks and reaches the caller")
    func throwingBody() {
        struct Refused: Error {}
        let value = HostMutex(1)
        #expect(throws: Refused.self) { try value.withLock { _ throws(Refused) in throw Refused() } }
        #expect(value.withLock { $0 } == 1)
    }

    /// ThreadSanitizer cannot see Synchronization.Mutex on Linux (see
    /// HostMutex), so one in our code would make `make test-tsan` report
    /// false races.
    @Test("our sources lock with HostMutex, not Synchronization.Mutex")
    func noSynchronizationMutex() throws {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let pattern = try Regex(#"(?:^|[^A-Za-z0-9_])Mutex\s*[<(]"#)
        var offenders: [String] = []
        for folder in ["Sources", "Tests"] {
            let root = packageRoot.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
            while let file = files?.nextObject() as? URL {
                // This file names the pattern it looks for.
                guard file.pathExtension == "swift", file.path != #filePath else { continue }
                let text = try String(contentsOf: file, encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains(pattern) {
                    offenders.append("\(file.path):\(number + 1): \(line)")
                }
            }
        }
        #expect(offenders.isEmpty, "use HostMutex (LinuxKernel) instead:\n\(offenders.joined(separator: "\n"))")
    }
}
