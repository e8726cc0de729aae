// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Set by SIGINT/SIGTERM; long-running commands poll it and finish their
/// output (host signals do not interrupt syscalls inside the library, so
/// every wait there is bounded by a short timeout instead).
let stopRequested = Atomic<Bool>(false)

/// Installs the handlers. A second signal while stopping ends the process
/// at once (exit status 130), for a stop that hangs.
func installStopSignalHandlers() {
    let handler: @convention(c) (Int32) -> Void = { signalNumber in
        if stopRequested.exchange(true, ordering: .relaxed) {
            _exit(128 + signalNumber)
        }
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    // The mask is inherited: a parent that blocked these (some test runners
    // and service managers do) would otherwise make Ctrl-C a no-op. Done
    // before the kernel boots, so its host threads inherit the same mask.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    // A reader that goes away (wireshark closed) shows up as EPIPE on write.
    signal(SIGPIPE, SIG_IGN)
}
