// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtual CPU.
 *
 * Every kernel task runs on a host thread, and exactly one host thread
 * runs kernel code at a time: the CPU owner. Ownership moves in three
 * ways only:
 *
 *  - a context switch hands it to the next task's host thread
 *    (__switch_to in threads.c);
 *  - a thread leaving the kernel releases it, with the current task
 *    "parked": the idle task waiting for work, or an application
 *    thread's task back in host code. A parked context always accepts
 *    interrupts (the sti; hlt of a real CPU, or user mode);
 *  - a thread entering the kernel (syscall, interrupt from a host
 *    thread) takes it when free, or waits for a hand-off.
 *
 * Because a free CPU always means "a parked context that accepts
 * interrupts", a host thread that finds the CPU free may deliver an
 * interrupt at once, and a host thread that finds it owned leaves the
 * interrupt pending for the owner, who runs it when its own context
 * enables interrupts or when it releases the CPU. No thread ever reads
 * the interrupt flag of a context it is not running.
 */
#include <linux/sched.h>
#include <linux/sched/stat.h>
#include <linux/cpu.h>
#include <linux/sched/task.h>
#include <linux/errno.h>
#include <asm/lkl.h>

/* No host thread is 0 or 1: 0 = free, 1 = being handed to a waiter. */
#define CPU_FREE	0UL
#define CPU_HANDOFF	1UL

static struct {
	struct lkl_mutex *lock;
	lkl_thread_t owner;
	unsigned int waiters;
	struct lkl_sem *waiters_sem;
	bool shutdown;
	/* Where __switch_to sends the owner that runs a parked context. */
	struct lkl_escape *escape;
} cpu;

int lkl_cpu_init(void)
{
	cpu.lock = lkl_ops->mutex_alloc(0);
	cpu.waiters_sem = lkl_ops->sem_alloc(0);
	if (!cpu.lock || !cpu.waiters_sem)
		return -ENOMEM;
	return 0;
}

void lkl_cpu_free(void)
{
	lkl_ops->sem_free(cpu.waiters_sem);
	lkl_ops->mutex_free(cpu.lock);
}

void lkl_cpu_claim_for_boot(void)
{
	WRITE_ONCE(cpu.owner, lkl_ops->thread_self());
}

bool lkl_cpu_is_mine(void)
{
	return lkl_ops->thread_equal(READ_ONCE(cpu.owner),
				     lkl_ops->thread_self());
}

/* Called by the owner only, during a context switch. */
void lkl_cpu_hand_to(lkl_thread_t thread)
{
	WRITE_ONCE(cpu.owner, thread);
}

struct lkl_escape *lkl_cpu_take_escape(void)
{
	struct lkl_escape *escape = cpu.escape;

	cpu.escape = NULL;
	return escape;
}

/* Blocks until the CPU is ours; fails once the kernel is halting. */
int lkl_cpu_get(void)
{
	lkl_thread_t self = lkl_ops->thread_self();

	lkl_ops->mutex_lock(cpu.lock);
	if (cpu.shutdown) {
		lkl_ops->mutex_unlock(cpu.lock);
		return -ESHUTDOWN;
	}
	if (cpu.owner == CPU_FREE) {
		WRITE_ONCE(cpu.owner, self);
		lkl_ops->mutex_unlock(cpu.lock);
		lkl_trace(LKL_TRACE_GET_FREE, 0, 0);
		return 0;
	}
	cpu.waiters++;
	lkl_trace(LKL_TRACE_GET_WAIT, cpu.owner, cpu.waiters);
	lkl_ops->mutex_unlock(cpu.lock);

	lkl_ops->sem_down(cpu.waiters_sem);

	lkl_ops->mutex_lock(cpu.lock);
	if (cpu.shutdown) {
		lkl_ops->mutex_unlock(cpu.lock);
		return -ESHUTDOWN;
	}
	WRITE_ONCE(cpu.owner, self);
	lkl_ops->mutex_unlock(cpu.lock);
	lkl_trace(LKL_TRACE_GET_HANDED, 0, 0);
	return 0;
}

bool lkl_cpu_try_get(void)
{
	bool got = false;

	lkl_ops->mutex_lock(cpu.lock);
	if (!cpu.shutdown && cpu.owner == CPU_FREE) {
		WRITE_ONCE(cpu.owner, lkl_ops->thread_self());
		got = true;
	}
	lkl_ops->mutex_unlock(cpu.lock);
	if (got)
		lkl_trace(LKL_TRACE_TRY_GET, 0, 0);
	return got;
}

static void cpu_release(void)
{
	lkl_ops->mutex_lock(cpu.lock);
	if (cpu.waiters) {
		cpu.waiters--;
		lkl_trace(LKL_TRACE_HANDOFF, cpu.waiters, 0);
		WRITE_ONCE(cpu.owner, CPU_HANDOFF);
		lkl_ops->mutex_unlock(cpu.lock);
		lkl_ops->sem_up(cpu.waiters_sem);
		return;
	}
	lkl_trace(LKL_TRACE_RELEASE, 0, 0);
	WRITE_ONCE(cpu.owner, CPU_FREE);
	lkl_ops->mutex_unlock(cpu.lock);
}

/* Refuse new owners and wake every waiter with an error. */
void lkl_cpu_shutdown(void)
{
	unsigned int waiters;

	lkl_ops->mutex_lock(cpu.lock);
	cpu.shutdown = true;
	waiters = cpu.waiters;
	cpu.waiters = 0;
	lkl_ops->mutex_unlock(cpu.lock);
	while (waiters--)
		lkl_ops->sem_up(cpu.waiters_sem);
}

static void run_schedule(void *unused)
{
	schedule();
}

/*
 * Switch a parked application task away so that runnable tasks run.
 * The caller owns the CPU but is not running the task's code (it is
 * an interrupting host thread, or an application thread leaving or
 * entering the kernel), so the switch must not block this thread:
 * __switch_to hands the CPU to the next task and jumps back here.
 * Returns true if the CPU is still ours: nothing else was runnable, or
 * the next task is ours (an application thread entering as its own
 * task). On false, our thread must not assume anything about the CPU.
 */
bool lkl_sched_away(void)
{
	struct lkl_escape escape = { .taken = false };

	lkl_trace(LKL_TRACE_SCHED_AWAY, 0, 0);
	/* Only lkl_wake_parked() wakes it: the task's thread is away. */
	set_current_state(TASK_PARKED);
	cpu.escape = &escape;
	lkl_ops->jmp_buf_set(&escape.jmp, run_schedule, NULL);
	if (escape.taken)
		return false;
	cpu.escape = NULL;
	return true;
}

/* An application thread is back for its parked, switched-out task. */
void lkl_wake_parked(struct task_struct *task)
{
	wake_up_state(task, TASK_PARKED);
}

/* Does the parked current context have to make way for other tasks? */
static bool parked_must_yield(void)
{
	if (need_resched())
		return true;
	if (current->thread.kind == LKL_TASK_HOST)
		return nr_running() > 1;
	return is_idle_task(current) && nr_running() > 0;
}

/*
 * Idle must leave its idle loop itself (do_idle's exit path restarts
 * the tick), so a thread that finds idle parked with work to do hands
 * the CPU to idle's thread instead of switching idle out.
 */
static void wake_idle(void)
{
	lkl_trace(LKL_TRACE_WAKE_IDLE, 0, 0);
	lkl_cpu_hand_to(init_task.thread.host_thread);
	lkl_ops->sem_up(init_task.thread.sched_sem);
}

/*
 * Leave the kernel; current is parked and accepts interrupts. Pending
 * interrupts run first; if that (or anything earlier) made tasks
 * runnable they get the CPU; otherwise it is released. An interrupt
 * published while we released is picked up again here: the trigger
 * that found the CPU still ours left it to us.
 */
void lkl_cpu_put(void)
{
	do {
		current_thread_info()->irqs_enabled = true;
		lkl_run_pending_irqs();
		if (parked_must_yield()) {
			if (is_idle_task(current)) {
				wake_idle();
				return;
			}
			if (!lkl_sched_away())
				return;
		}
		cpu_release();
	} while (lkl_irqs_pending() && lkl_cpu_try_get());
}

/*
 * The idle task's wait: called with interrupts disabled, returns with
 * them disabled. Idle parks (accepting interrupts: any thread that
 * takes the CPU may run them in idle's context) and its host thread
 * sleeps until a thread hands the CPU back because tasks are runnable.
 */
void arch_cpu_idle(void)
{
	struct task_struct *idle = current;

	current_thread_info()->irqs_enabled = true;
	lkl_run_pending_irqs();
	if (!need_resched()) {
		lkl_trace(LKL_TRACE_IDLE_SLEEP, 0, 0);
		lkl_cpu_put();
		lkl_ops->sem_down(idle->thread.sched_sem);
		lkl_trace(LKL_TRACE_IDLE_WOKEN, 0, 0);
		if (READ_ONCE(lkl_halting))
			lkl_thread_die(idle);
	}
	current_thread_info()->irqs_enabled = false;
}

void lkl_cpu_relax(void)
{
	if (lkl_irqs_pending() && current_thread_info()->irqs_enabled &&
	    !in_hardirq())
		lkl_run_pending_irqs();
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	asm volatile("yield" ::: "memory");
#endif
}
