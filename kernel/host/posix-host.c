// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host operations on POSIX threads: what the kernel library needs
 * from the process it lives in. Everything here is static except
 * lkl_host_ops, so the library exports nothing but the host API.
 *
 * Written to avoid the names memcpy/memset/strlen, so that no libc
 * string routine shows up among the library's symbols next to the
 * kernel's own (which are all local).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "host_ops.h"

_Static_assert(sizeof(jmp_buf) <= sizeof(struct lkl_jmp_buf),
	       "struct lkl_jmp_buf is too small for this host's jmp_buf");

static void host_print(const char *str, int len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, str, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		str += n;
		len -= n;
	}
}

static void host_panic(void)
{
	static const char msg[] = "lkl: kernel panic inside the library\n";

	host_print(msg, sizeof(msg) - 1);
	_exit(70);
}

/* Semaphores: futex-backed sem_t; any thread may post. */
struct lkl_sem {
	sem_t sem;
};

static struct lkl_sem *sem_alloc(int count)
{
	struct lkl_sem *s = malloc(sizeof(*s));

	if (s && sem_init(&s->sem, 0, count)) {
		free(s);
		return NULL;
	}
	return s;
}

static void sem_free(struct lkl_sem *s)
{
	sem_destroy(&s->sem);
	free(s);
}

static void sem_up(struct lkl_sem *s)
{
	sem_post(&s->sem);
}

static void sem_down(struct lkl_sem *s)
{
	while (sem_wait(&s->sem) && errno == EINTR)
		;
}

struct lkl_mutex {
	pthread_mutex_t mutex;
};

static struct lkl_mutex *mutex_alloc(int recursive)
{
	struct lkl_mutex *m = malloc(sizeof(*m));
	pthread_mutexattr_t attr;

	if (!m)
		return NULL;
	pthread_mutexattr_init(&attr);
	if (recursive)
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	return m;
}

static void mutex_free(struct lkl_mutex *m)
{
	pthread_mutex_destroy(&m->mutex);
	free(m);
}

static void mutex_lock(struct lkl_mutex *m)
{
	pthread_mutex_lock(&m->mutex);
}

static void mutex_unlock(struct lkl_mutex *m)
{
	pthread_mutex_unlock(&m->mutex);
}

struct thread_start {
	void (*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start start = *(struct thread_start *)p;

	free(p);
	start.fn(start.arg);
	return NULL;
}

static lkl_thread_t thread_create(void (*fn)(void *), void *arg)
{
	struct thread_start *start = malloc(sizeof(*start));
	pthread_t thread;

	if (!start)
		return 0;
	start->fn = fn;
	start->arg = arg;
	if (pthread_create(&thread, NULL, thread_trampoline, start)) {
		free(start);
		return 0;
	}
	return (lkl_thread_t)thread;
}

static void thread_detach(void)
{
	pthread_detach(pthread_self());
}

static void thread_exit(void)
{
	pthread_exit(NULL);
}

static int thread_join(lkl_thread_t tid)
{
	return pthread_join((pthread_t)tid, NULL) ? -1 : 0;
}

static lkl_thread_t thread_self(void)
{
	return (lkl_thread_t)pthread_self();
}

static int thread_equal(lkl_thread_t a, lkl_thread_t b)
{
	return a == b;
}

struct lkl_tls_key {
	pthread_key_t key;
};

static struct lkl_tls_key *tls_alloc(void (*destructor)(void *))
{
	struct lkl_tls_key *k = malloc(sizeof(*k));

	if (k && pthread_key_create(&k->key, destructor)) {
		free(k);
		return NULL;
	}
	return k;
}

static void tls_free(struct lkl_tls_key *k)
{
	pthread_key_delete(k->key);
	free(k);
}

static int tls_set(struct lkl_tls_key *k, void *data)
{
	return pthread_setspecific(k->key, data) ? -1 : 0;
}

static void *tls_get(struct lkl_tls_key *k)
{
	return pthread_getspecific(k->key);
}

static void *mem_alloc(unsigned long size)
{
	return malloc(size);
}

static void mem_free(void *p)
{
	free(p);
}

/* Anonymous mappings are zeroed and committed only as pages are used. */
static void *page_alloc(unsigned long size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void page_free(void *p, unsigned long size)
{
	munmap(p, size);
}

/* The mapping stays; its pages are dropped and come back zeroed. */
static void page_discard(void *p, unsigned long size)
{
	madvise(p, size, MADV_DONTNEED);
}

/*
 * Readability is per page, so one byte of each page is enough. The host
 * kernel reports EFAULT instead of raising SIGSEGV when process_vm_readv
 * (on ourselves) or write (to a pipe) meets an unreadable address; the
 * pipe is the fallback where a seccomp filter refuses process_vm_readv.
 */
static int byte_readable(const char *p)
{
	static int pipe_fds[2] = { -1, -1 };
	static pthread_mutex_t pipe_lock = PTHREAD_MUTEX_INITIALIZER;
	struct iovec local, remote;
	char byte;
	ssize_t n;

	local.iov_base = &byte;
	local.iov_len = 1;
	remote.iov_base = (void *)p;
	remote.iov_len = 1;
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n == 1)
		return 1;
	if (n < 0 && errno == EFAULT)
		return 0;

	pthread_mutex_lock(&pipe_lock);
	if (pipe_fds[0] < 0 && pipe(pipe_fds) < 0) {
		pthread_mutex_unlock(&pipe_lock);
		return 0;
	}
	n = write(pipe_fds[1], p, 1);
	if (n == 1 && read(pipe_fds[0], &byte, 1) != 1)
		n = -1;
	pthread_mutex_unlock(&pipe_lock);
	return n == 1;
}

static int mem_readable(const void *addr, unsigned long size)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr, last;

	if (size == 0)
		return 1;
	if (start + size - 1 < start)
		return 0;
	last = start + size - 1;
	for (uintptr_t p = start; ; p = (p | (page - 1)) + 1) {
		if (!byte_readable((const char *)p))
			return 0;
		if ((p | (page - 1)) >= last)
			return 1;
	}
}

static unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * One-shot timer: a timerfd (the host kernel keeps the deadline, so no
 * wake-up can be lost between arming and sleeping) watched by one host
 * thread per timer, plus an eventfd to stop that thread. Not
 * SIGEV_THREAD, which spawns a thread per expiry.
 */
struct lkl_timer {
	pthread_t thread;
	int timer_fd;
	int stop_fd;
	void (*fn)(void *);
	void *arg;
};

static void *timer_thread(void *p)
{
	struct lkl_timer *t = p;
	struct pollfd fds[2] = {
		{ .fd = t->timer_fd, .events = POLLIN },
		{ .fd = t->stop_fd, .events = POLLIN },
	};
	uint64_t expirations;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents &&
		    read(t->timer_fd, &expirations, sizeof(expirations)) > 0)
			t->fn(t->arg);
	}
	return NULL;
}

static struct lkl_timer *timer_alloc(void (*fn)(void *), void *arg)
{
	struct lkl_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (t->timer_fd < 0 || t->stop_fd < 0 ||
	    pthread_create(&t->thread, NULL, timer_thread, t)) {
		if (t->timer_fd >= 0)
			close(t->timer_fd);
		if (t->stop_fd >= 0)
			close(t->stop_fd);
		free(t);
		return NULL;
	}
	return t;
}

static int timer_arm(struct lkl_timer *t, unsigned long long ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ns / 1000000000ULL,
			      .tv_nsec = ns % 1000000000ULL },
	};

	return timerfd_settime(t->timer_fd, 0, &its, NULL) ? -errno : 0;
}

static int timer_set_oneshot(struct lkl_timer *t, unsigned long long delta)
{
	return timer_arm(t, delta ? delta : 1);	/* 0 would disarm */
}

static void timer_cancel(struct lkl_timer *t)
{
	timer_arm(t, 0);
}

static void timer_free(struct lkl_timer *t)
{
	uint64_t one = 1;

	if (write(t->stop_fd, &one, sizeof(one)) != sizeof(one))
		return;	/* cannot stop the thread: leak rather than crash */
	pthread_join(t->thread, NULL);
	close(t->timer_fd);
	close(t->stop_fd);
	free(t);
}

/* _setjmp/_longjmp: no signal mask to save, so a syscall stays cheap. */
static void jmp_buf_set(struct lkl_jmp_buf *jmpb, void (*fn)(void *),
			void *arg)
{
	if (!_setjmp(*(jmp_buf *)jmpb->buf))
		fn(arg);
}

static void jmp_buf_longjmp(struct lkl_jmp_buf *jmpb, int val)
{
	_longjmp(*(jmp_buf *)jmpb->buf, val);
}

const struct lkl_host_operations lkl_host_ops = {
	.print = host_print,
	.panic = host_panic,
	.sem_alloc = sem_alloc,
	.sem_free = sem_free,
	.sem_up = sem_up,
	.sem_down = sem_down,
	.mutex_alloc = mutex_alloc,
	.mutex_free = mutex_free,
	.mutex_lock = mutex_lock,
	.mutex_unlock = mutex_unlock,
	.thread_create = thread_create,
	.thread_detach = thread_detach,
	.thread_exit = thread_exit,
	.thread_join = thread_join,
	.thread_self = thread_self,
	.thread_equal = thread_equal,
	.tls_alloc = tls_alloc,
	.tls_free = tls_free,
	.tls_set = tls_set,
	.tls_get = tls_get,
	.mem_alloc = mem_alloc,
	.mem_free = mem_free,
	.mem_readable = mem_readable,
	.page_discard = page_discard,
	.page_alloc = page_alloc,
	.page_free = page_free,
	.time = monotonic_ns,
	.timer_alloc = timer_alloc,
	.timer_set_oneshot = timer_set_oneshot,
	.timer_cancel = timer_cancel,
	.timer_free = timer_free,
	.jmp_buf_set = jmp_buf_set,
	.jmp_buf_longjmp = jmp_buf_longjmp,
};
