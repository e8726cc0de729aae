/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The interface between the kernel library and its host.
 *
 * The kernel reaches the host only through struct lkl_host_operations; the
 * host reaches the kernel only through the lkl_* entry points below. This
 * header uses plain C types only, so host programs can include it without
 * any kernel or libc headers clashing.
 */
#ifndef _ASM_LKL_HOST_OPS_H
#define _ASM_LKL_HOST_OPS_H

/* Opaque host objects. */
struct lkl_sem;
struct lkl_mutex;
struct lkl_tls_key;
struct lkl_timer;
typedef unsigned long lkl_thread_t;

/* Large enough for a host jmp_buf on x86-64 and arm64. */
struct lkl_jmp_buf {
	unsigned long buf[64];
};

struct lkl_host_operations {
	/* Console output: @len bytes, not NUL-terminated. */
	void (*print)(const char *str, int len);
	/* The kernel panicked; must not return. */
	void (*panic)(void);

	/* Counting semaphores; any thread may up a semaphore. */
	struct lkl_sem *(*sem_alloc)(int count);
	void (*sem_free)(struct lkl_sem *sem);
	void (*sem_up)(struct lkl_sem *sem);
	void (*sem_down)(struct lkl_sem *sem);

	/* Mutexes, optionally recursive. */
	struct lkl_mutex *(*mutex_alloc)(int recursive);
	void (*mutex_free)(struct lkl_mutex *mutex);
	void (*mutex_lock)(struct lkl_mutex *mutex);
	void (*mutex_unlock)(struct lkl_mutex *mutex);

	/* Joinable host threads; 0 is never a valid thread. */
	lkl_thread_t (*thread_create)(void (*fn)(void *), void *arg);
	void (*thread_detach)(void);
	void (*thread_exit)(void);
	int (*thread_join)(lkl_thread_t tid);
	lkl_thread_t (*thread_self)(void);
	int (*thread_equal)(lkl_thread_t a, lkl_thread_t b);

	/* Thread-local storage; @destructor runs when a thread exits. */
	struct lkl_tls_key *(*tls_alloc)(void (*destructor)(void *));
	void (*tls_free)(struct lkl_tls_key *key);
	int (*tls_set)(struct lkl_tls_key *key, void *data);
	void *(*tls_get)(struct lkl_tls_key *key);

	/* Memory: any alignment suitable for C objects. */
	void *(*mem_alloc)(unsigned long size);
	void (*mem_free)(void *mem);
	/* Page-aligned, zero-filled memory (the kernel's RAM). */
	void *(*page_alloc)(unsigned long size);
	void (*page_free)(void *addr, unsigned long size);
	/*
	 * Nonzero when all of [addr, addr + size) can be read without a
	 * fault. The kernel's *_nofault accessors ask before they read
	 * memory outside its RAM, since the port cannot catch the fault.
	 * May be NULL: then only the first 64 KiB count as unreadable.
	 */
	int (*mem_readable)(const void *addr, unsigned long size);
	/*
	 * Free RAM: the kernel no longer needs these whole pages' contents
	 * (page_alloc memory), so the host may take the memory back; the
	 * pages read as zeroes when next touched. May be NULL.
	 */
	void (*page_discard)(void *addr, unsigned long size);

	/* Monotonic time in nanoseconds. */
	unsigned long long (*time)(void);

	/*
	 * One-shot timers: @fn runs on a host thread (never in kernel
	 * context) @delta_ns after the last set_oneshot; a new
	 * set_oneshot replaces the pending one. timer_free waits for a
	 * running @fn to return.
	 */
	struct lkl_timer *(*timer_alloc)(void (*fn)(void *), void *arg);
	int (*timer_set_oneshot)(struct lkl_timer *timer,
				 unsigned long long delta_ns);
	void (*timer_cancel)(struct lkl_timer *timer);
	void (*timer_free)(struct lkl_timer *timer);

	/*
	 * jmp_buf_set saves the context in @jmpb and calls @fn; when
	 * anything below @fn calls jmp_buf_longjmp(@jmpb), jmp_buf_set
	 * returns. Both must be implemented in the host's C code.
	 */
	void (*jmp_buf_set)(struct lkl_jmp_buf *jmpb, void (*fn)(void *),
			    void *arg);
	void (*jmp_buf_longjmp)(struct lkl_jmp_buf *jmpb, int val);
};

/* The POSIX implementation that ships with the library. */
extern const struct lkl_host_operations lkl_host_ops;

/*
 * Boot: lkl_init() once, then lkl_start_kernel() with the command line
 * (e.g. "mem=64M loglevel=4"). Returns 0 once the kernel is ready for
 * syscalls, or a negative errno.
 */
int lkl_init(const struct lkl_host_operations *ops);
int lkl_start_kernel(const char *cmdline);
int lkl_is_running(void);

/*
 * Syscalls from any host thread; @params holds up to 6 arguments.
 * Numbers are the asm-generic ones (LKL__NR_* in lkl/syscalls.h).
 * Returns the result or a negative errno.
 */
long lkl_syscall(long nr, long *params);

/*
 * Stop the kernel: every kernel thread is joined and kernel memory is
 * returned to the host. After it, lkl_syscall() fails with -ESHUTDOWN.
 */
long lkl_sys_halt(void);

/*
 * Interrupts. lkl_get_free_irq() reserves a line for a host device;
 * lkl_trigger_irq() may be called from any host thread, in or out of
 * kernel context, at any time: the interrupt is never lost and runs as
 * soon as the virtual CPU accepts interrupts.
 */
int lkl_get_free_irq(const char *user);
void lkl_put_irq(int irq, const char *user);
int lkl_trigger_irq(int irq);

#endif /* _ASM_LKL_HOST_OPS_H */
