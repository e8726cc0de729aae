// SPDX-License-Identifier: GPL-2.0-only

import RadioDevices
import Testing

@Suite("receive backpressure: shed while the socket drops, resume after a quiet second")
struct ReceiveBackpressureTests {
    @Test("a rising drop counter switches shedding on once; a second without a new drop switches it off")
    func onAndOff() {
        var backpressure = ReceiveBackpressure(now: 0)
        let ms: UInt64 = 1_000_000
        #expect(backpressure.update(dropped: 0, now: 20 * ms) == nil)
        #expect(backpressure.update(dropped: 5, now: 40 * ms) == true)
        #expect(backpressure.update(dropped: 9, now: 60 * ms) == nil, "already shedding")
        #expect(backpressure.update(dropped: 9, now: 900 * ms) == nil, "quiet for less than a second")
        #expect(backpressure.update(dropped: 9, now: 1_061 * ms) == false)
        #expect(!backpressure.shedding)
        #expect(backpressure.update(dropped: 9, now: 2_000 * ms) == nil)
        #expect(backpressure.update(dropped: 10, now: 2_020 * ms) == true)
    }
}
