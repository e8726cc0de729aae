// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A joinable host thread (its kernel task is released when it ends, so
/// joining guarantees it no longer makes syscalls).
final class JoinableThread {
    private var thread: pthread_t

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    init(_ body: @escaping @Sendable () -> Void) throws {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var created = pthread_t()
        let status = pthread_create(&created, nil, { rawContext in
            guard let rawContext else { return nil }
            Unmanaged<Body>.fromOpaque(rawContext).takeRetainedValue().run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw DeviceError.setupFailed(device: "host thread", reason: "pthread_create failed with status \(status)")
        }
        thread = created
    }

    func join() {
        _ = pthread_join(thread, nil)
    }
}
