// SPDX-License-Identifier: GPL-2.0-only

import Foundation

/// How many times slower than a plain debug build the programs under test
/// run: `AIRTAP_TEST_TIME_SCALE`, which make test-asan and make test-tsan
/// set (Tests/Sanitizers/run-tests.sh); 1 otherwise. The runners stretch
/// their hang guards by it, and tests that wait for the kernel to get
/// somewhere (a failure triggered after bring-up) their delays.
enum TestTimeScale {
    static let factor: Double = {
        guard let text = ProcessInfo.processInfo.environment["AIRTAP_TEST_TIME_SCALE"], let value = Double(text)
        else { return 1 }
        return max(1, value)
    }()

    /// `seconds` on this build's clock.
    static func seconds(_ seconds: Double) -> Double { seconds * factor }
}
