// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite lkl_irq: interrupts triggered by real host threads (made
 * with the host operations, never entering kernel context, like
 * libusb's event thread or a timer thread).
 *
 * The seed's hang: such a thread read the interrupt flag of whatever
 * context ran last (usually idle, inside its interrupts-off idle path)
 * and parked the interrupt where nobody drained it.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <asm/lkl.h>

#define STORM_THREADS		4
#define STORM_TRIGGERS		100000
#define LATENCY_SAMPLES		2000
#define DEADLINE_NS		(500 * NSEC_PER_MSEC)

struct irq_test {
	int irq;
	atomic_t handled;
	struct completion done;
	bool handled_in_idle;
	/* storm: what each host thread published, what the handler saw */
	unsigned long published[STORM_THREADS];
	unsigned long observed[STORM_THREADS];
	int storm_threads_done;
	/* latency */
	u64 triggered_at;
	u64 handled_at;
	/* host thread control */
	u64 host_delay_ns;
	bool host_triggered;
};

static unsigned long load_acquire(unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static irqreturn_t test_handler(int irq, void *arg)
{
	struct irq_test *t = arg;
	int i;

	t->handled_at = lkl_ops->time();
	t->handled_in_idle = is_idle_task(current);
	for (i = 0; i < STORM_THREADS; i++)
		t->observed[i] = load_acquire(&t->published[i]);
	atomic_inc(&t->handled);
	complete(&t->done);
	return IRQ_HANDLED;
}

static struct irq_test *irq_test_setup(struct kunit *test)
{
	struct irq_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	init_completion(&t->done);
	t->irq = lkl_get_free_irq("lkl_irq test");
	KUNIT_ASSERT_GT(test, t->irq, 0);
	KUNIT_ASSERT_EQ(test, 0, request_irq(t->irq, test_handler, 0,
					     "lkl_irq test", t));
	return t;
}

static void irq_test_teardown(struct irq_test *t)
{
	free_irq(t->irq, t);
	lkl_put_irq(t->irq, "lkl_irq test");
}

/* Host-thread code: only lkl_* entry points and host operations. */
static void host_spin_ns(u64 ns)
{
	u64 end = lkl_ops->time() + ns;

	while (lkl_ops->time() < end)
		;
}

static void host_trigger_once(void *arg)
{
	struct irq_test *t = arg;

	host_spin_ns(t->host_delay_ns);
	lkl_trigger_irq(t->irq);
	__atomic_store_n(&t->host_triggered, true, __ATOMIC_RELEASE);
}

static lkl_thread_t start_host_thread(struct kunit *test,
				      void (*fn)(void *), void *arg)
{
	lkl_thread_t thread = lkl_ops->thread_create(fn, arg);

	KUNIT_ASSERT_NE(test, thread, 0UL);
	return thread;
}

/* The seed's contract: one trigger, one handler run, within 500 ms. */
static void lkl_irq_host_thread_trigger(struct kunit *test)
{
	struct irq_test *t = irq_test_setup(test);
	lkl_thread_t thread;
	unsigned long left;

	thread = start_host_thread(test, host_trigger_once, t);
	left = wait_for_completion_timeout(&t->done,
					   nsecs_to_jiffies(DEADLINE_NS));
	lkl_ops->thread_join(thread);
	msleep(20);	/* a second run would show up by now */

	KUNIT_EXPECT_GT(test, left, 0UL);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->handled), 1);
	irq_test_teardown(t);
}

/*
 * The exact state that hung upstream: the kernel has gone idle (idle's
 * own interrupt flag is off inside arch_cpu_idle) when the host thread
 * triggers. The interrupt must still run, in idle's context.
 */
static void lkl_irq_after_idle(struct kunit *test)
{
	struct irq_test *t = irq_test_setup(test);
	lkl_thread_t thread;
	unsigned long left;

	msleep(30);
	t->host_delay_ns = 50 * NSEC_PER_MSEC;
	thread = start_host_thread(test, host_trigger_once, t);
	left = wait_for_completion_timeout(&t->done,
					   nsecs_to_jiffies(DEADLINE_NS));
	lkl_ops->thread_join(thread);
	msleep(20);

	KUNIT_EXPECT_GT(test, left, 0UL);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->handled), 1);
	KUNIT_EXPECT_TRUE_MSG(test, t->handled_in_idle,
			      "the trigger did not find the kernel idle");
	irq_test_teardown(t);
}

/*
 * A context that disabled interrupts holds them back, and gets them the
 * moment it enables them again: not later, not never.
 */
static void lkl_irq_deferred_until_enabled(struct kunit *test)
{
	struct irq_test *t = irq_test_setup(test);
	lkl_thread_t thread;
	unsigned long flags;
	u64 deadline;

	local_irq_save(flags);
	thread = start_host_thread(test, host_trigger_once, t);
	deadline = lkl_ops->time() + DEADLINE_NS;
	while (!__atomic_load_n(&t->host_triggered, __ATOMIC_ACQUIRE) &&
	       lkl_ops->time() < deadline)
		;
	KUNIT_EXPECT_TRUE(test, t->host_triggered);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&t->handled), 0,
			    "ran while interrupts were disabled");
	local_irq_restore(flags);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&t->handled), 1,
			    "did not run when interrupts were enabled");

	lkl_ops->thread_join(thread);
	irq_test_teardown(t);
}

struct storm_worker {
	struct irq_test *t;
	int index;
};

static void host_storm(void *arg)
{
	struct storm_worker *w = arg;
	unsigned long n;

	for (n = 1; n <= STORM_TRIGGERS; n++) {
		__atomic_store_n(&w->t->published[w->index], n,
				 __ATOMIC_RELEASE);
		lkl_trigger_irq(w->t->irq);
	}
	__atomic_fetch_add(&w->t->storm_threads_done, 1, __ATOMIC_RELEASE);
}

static DEFINE_SPINLOCK(storm_lock);

/* Kernel threads that keep toggling the interrupt state all along. */
static int storm_kthread(void *arg)
{
	unsigned long flags, loops = 0;

	while (!kthread_should_stop()) {
		local_irq_save(flags);
		loops++;
		local_irq_restore(flags);
		spin_lock_irqsave(&storm_lock, flags);
		loops++;
		spin_unlock_irqrestore(&storm_lock, flags);
		cond_resched();
	}
	return 0;
}

static bool storm_all_observed(struct irq_test *t)
{
	int i;

	for (i = 0; i < STORM_THREADS; i++)
		if (READ_ONCE(t->observed[i]) != STORM_TRIGGERS)
			return false;
	return true;
}

/*
 * 4 host threads x 100,000 triggers against kernel threads toggling
 * interrupts: within 500 ms of the last trigger returning, the handler
 * has seen every thread's final sequence number.
 */
static void lkl_irq_storm(struct kunit *test)
{
	struct irq_test *t = irq_test_setup(test);
	struct storm_worker workers[STORM_THREADS];
	lkl_thread_t threads[STORM_THREADS];
	struct task_struct *kthreads[2];
	u64 last_returned, deadline;
	int i;

	for (i = 0; i < 2; i++) {
		kthreads[i] = kthread_run(storm_kthread, NULL, "lkl_irq_storm/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(kthreads[i]));
	}
	for (i = 0; i < STORM_THREADS; i++) {
		workers[i].t = t;
		workers[i].index = i;
		threads[i] = start_host_thread(test, host_storm, &workers[i]);
	}
	while (__atomic_load_n(&t->storm_threads_done, __ATOMIC_ACQUIRE) <
	       STORM_THREADS)
		usleep_range(500, 1000);
	last_returned = lkl_ops->time();
	deadline = last_returned + DEADLINE_NS;
	while (!storm_all_observed(t) && lkl_ops->time() < deadline)
		usleep_range(500, 1000);

	for (i = 0; i < STORM_THREADS; i++) {
		lkl_ops->thread_join(threads[i]);
		KUNIT_EXPECT_EQ_MSG(test, t->observed[i],
				    (unsigned long)STORM_TRIGGERS,
				    "host thread %d's last trigger was lost", i);
	}
	for (i = 0; i < 2; i++)
		kthread_stop(kthreads[i]);
	kunit_info(test, "storm: %d triggers ran the handler %d times (coalesced)\n",
		   STORM_THREADS * STORM_TRIGGERS, atomic_read(&t->handled));
	irq_test_teardown(t);
}

static u64 latency_samples[LATENCY_SAMPLES];

static void host_latency(void *arg)
{
	struct irq_test *t = arg;
	u64 deadline;
	int i, seen;

	for (i = 0; i < LATENCY_SAMPLES; i++) {
		seen = atomic_read(&t->handled);
		host_spin_ns(20 * NSEC_PER_USEC);	/* let the kernel park */
		t->triggered_at = lkl_ops->time();
		lkl_trigger_irq(t->irq);
		deadline = lkl_ops->time() + DEADLINE_NS;
		while (atomic_read(&t->handled) == seen &&
		       lkl_ops->time() < deadline)
			;
		latency_samples[i] = t->handled_at - t->triggered_at;
	}
	__atomic_store_n(&t->host_triggered, true, __ATOMIC_RELEASE);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* From a host thread's trigger to the handler, kernel idle (make bench). */
static void lkl_irq_latency(struct kunit *test)
{
	struct irq_test *t = irq_test_setup(test);
	lkl_thread_t thread;

	thread = start_host_thread(test, host_latency, t);
	while (!__atomic_load_n(&t->host_triggered, __ATOMIC_ACQUIRE))
		usleep_range(5000, 10000);
	lkl_ops->thread_join(thread);

	KUNIT_EXPECT_EQ(test, atomic_read(&t->handled), LATENCY_SAMPLES);
	sort(latency_samples, LATENCY_SAMPLES, sizeof(u64), cmp_u64, NULL);
	kunit_info(test, "irq_latency_ns p50=%llu p99=%llu max=%llu samples=%d\n",
		   latency_samples[LATENCY_SAMPLES / 2],
		   latency_samples[LATENCY_SAMPLES * 99 / 100],
		   latency_samples[LATENCY_SAMPLES - 1], LATENCY_SAMPLES);
	irq_test_teardown(t);
}

static struct kunit_case lkl_irq_cases[] = {
	KUNIT_CASE(lkl_irq_host_thread_trigger),
	KUNIT_CASE(lkl_irq_after_idle),
	KUNIT_CASE(lkl_irq_deferred_until_enabled),
	KUNIT_CASE(lkl_irq_storm),
	KUNIT_CASE(lkl_irq_latency),
	{}
};

static struct kunit_suite lkl_irq_suite = {
	.name = "lkl_irq",
	.test_cases = lkl_irq_cases,
};
kunit_test_suite(lkl_irq_suite);

MODULE_DESCRIPTION("KUnit tests for interrupts triggered from host threads");
MODULE_LICENSE("GPL");
