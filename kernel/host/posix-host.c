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
#include <sys/prctl.h>
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

static unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * One-shot timer: one host thread per timer sleeping on a condition
 * variable against CLOCK_MONOTONIC (not SIGEV_THREAD, which spawns a
 * thread per expiry).
 */
struct lkl_timer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long long deadline;	/* 0: not armed */
	int stopping;
	void (*fn)(void *);
	void *arg;
};

static void *timer_thread(void *p)
{
	struct lkl_timer *t = p;

	/* Fire when asked, not up to 50 us later (the default slack). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		unsigned long long now;
		struct timespec ts;

		if (!t->deadline) {
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		now = monotonic_ns();
		if (now >= t->deadline) {
			t->deadline = 0;
			pthread_mutex_unlock(&t->lock);
			t->fn(t->arg);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		ts.tv_sec = t->deadline / 1000000000ULL;
		ts.tv_nsec = t->deadline % 1000000000ULL;
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static struct lkl_timer *timer_alloc(void (*fn)(void *), void *arg)
{
	struct lkl_timer *t = calloc(1, sizeof(*t));
	pthread_condattr_t attr;

	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&t->thread, NULL, timer_thread, t)) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return NULL;
	}
	return t;
}

static int timer_set_oneshot(struct lkl_timer *t, unsigned long long delta)
{
	pthread_mutex_lock(&t->lock);
	t->deadline = monotonic_ns() + (delta ? delta : 1);
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void timer_cancel(struct lkl_timer *t)
{
	pthread_mutex_lock(&t->lock);
	t->deadline = 0;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void timer_free(struct lkl_timer *t)
{
	pthread_mutex_lock(&t->lock);
	t->stopping = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
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
