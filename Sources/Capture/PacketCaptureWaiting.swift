// SPDX-License-Identifier: GPL-2.0-only

import KernelSockets

extension PacketCapture {
    /// Waits up to `timeoutSeconds` until one of `captures` has frames (or
    /// an error: its interface went away) and returns the indices of those
    /// that do, empty on timeout. One thread serving several captures waits
    /// here, then receives only from the ready ones, so a quiet device never
    /// holds up a busy one.
    public static func waitForFrames(in captures: [PacketCapture], timeoutSeconds: Double) throws -> [Int] {
        try KernelSocket.waitForReadable(captures.map(\.socket), timeoutSeconds: timeoutSeconds)
    }
}
