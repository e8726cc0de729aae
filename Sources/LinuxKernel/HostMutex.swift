// SPDX-License-Identifier: GPL-2.0-only

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value protected by a host pthread mutex: the project's lock, used
/// everywhere instead of `Synchronization.Mutex`, with the same API
/// (`withLock`, `withLockIfAvailable`, a `sending` initial value).
///
/// Why not `Mutex`: on Linux its contended path waits on a raw futex inside
/// the uninstrumented standard library, so ThreadSanitizer sees no
/// happens-before edge between two holders and reports the accesses the
/// lock protects as races. ThreadSanitizer intercepts pthread_mutex_lock
/// and unlock, so `make test-tsan` sees this lock. It costs ~4 ns more than
/// `Mutex` per uncontended lock and unlock (~16 against ~12 ns, release
/// build), nothing next to the microseconds a captured frame takes.
///
/// Not recursive: locking it again on the thread holding it deadlocks.
public final class HostMutex<Value: ~Copyable>: @unchecked Sendable {
    // Both on the heap: a pthread mutex must not move, and a class's stored
    // property has no stable address; the value's pointer also spares each
    // access the class property's dynamic exclusivity check.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let value: UnsafeMutablePointer<Value>

    public init(_ initialValue: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with status \(status)")
        value = .allocate(capacity: 1)
        value.initialize(to: initialValue)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    /// Runs `body` with the value while holding the lock, waiting for it.
    @inlinable
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let status = pthread_mutex_lock(mutex)
        precondition(status == 0, "pthread_mutex_lock failed with status \(status)")
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }

    /// Runs `body` with the value if the lock is free now; nil otherwise.
    /// For code that must not wait (failure handlers, signal-time reports).
    @inlinable
    public func withLockIfAvailable<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
