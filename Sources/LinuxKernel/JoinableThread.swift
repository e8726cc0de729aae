// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A plain joinable host pthread. Threads that make syscalls get a kernel
/// task, released by a TLS destructor when the thread ends; joining is how
/// a caller knows the thread (and its task) is gone, which Foundation's
/// `Thread` cannot tell.
public final class JoinableThread: Sendable {
    private let thread: pthread_t

    /// pthread_create failed.
    public struct CreationError: Error, CustomStringConvertible {
        public let status: Int32
        public var description: String {
            "could not start a host thread: pthread_create failed with status \(status) (too many threads or too little memory?)"
        }
    }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new host thread.
    public init(_ body: @escaping @Sendable () -> Void) throws {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var created = pthread_t()
        let status = pthread_create(&created, nil, { rawContext in
            guard let rawContext else { return nil }
            Unmanaged<Body>.fromOpaque(rawContext).takeRetainedValue().run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw CreationError(status: status)
        }
        thread = created
    }

    /// Waits for the thread to end. Call once.
    public func join() {
        _ = pthread_join(thread, nil)
    }
}
