/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Arch-internal interfaces between the pieces of the LKL port: the
 * virtual CPU (cpu.c), interrupts (irq.c), threads (threads.c),
 * syscalls (syscalls.c) and boot/halt (setup.c).
 */
#ifndef _ASM_LKL_LKL_H
#define _ASM_LKL_LKL_H

#include <asm/host_ops.h>

struct task_struct;

extern const struct lkl_host_operations *lkl_ops;

/* The virtual CPU: exactly one host thread runs kernel code at a time. */
int lkl_cpu_init(void);
void lkl_cpu_free(void);
void lkl_cpu_claim_for_boot(void);
int lkl_cpu_get(void);
bool lkl_cpu_try_get(void);
void lkl_cpu_put(void);
bool lkl_cpu_is_mine(void);
void lkl_cpu_hand_to(lkl_thread_t thread);
void lkl_cpu_shutdown(void);
bool lkl_sched_away(void);
void lkl_wake_parked(struct task_struct *task);

/*
 * Where __switch_to sends a thread that ran a parked context on its
 * behalf. @taken is written by that thread itself just before the jump,
 * so it alone tells whether the CPU was given away: ownership seen
 * later may be a new hand-off whose semaphore post is still pending.
 */
struct lkl_escape {
	struct lkl_jmp_buf jmp;
	bool taken;
};

struct lkl_escape *lkl_cpu_take_escape(void);

/* Interrupts published by host threads, run by the CPU owner. */
bool lkl_irqs_pending(void);
void lkl_run_pending_irqs(void);

/* Threads. */
void lkl_thread_die(struct task_struct *task);
void lkl_threads_halt(void);
void lkl_init_process_run(void);
int lkl_host_task_stub(void *request);
int lkl_host_task_setup(struct task_struct *task, void *request);

/* Syscalls from host threads. */
long lkl_call_in_task(long (*fn)(void *arg), void *arg);
int lkl_syscalls_init(void);
void lkl_syscalls_halt(void);

/* Memory. */
void lkl_bootmem_init(void);
void lkl_mem_halt(void);

/* Time. */
void lkl_time_start(void);
void lkl_time_halt(void);

/* Set once the kernel is ready for syscalls, cleared by halt. */
extern bool lkl_running;
extern bool lkl_halting;
void lkl_boot_complete(void);

/* Hand-off tracing for debugging (CONFIG_LKL_CPU_TRACE, cpu_trace.c). */
enum lkl_trace_event {
	LKL_TRACE_GET_FREE = 1,		/* took a free CPU */
	LKL_TRACE_GET_WAIT,		/* a: owner, b: waiters */
	LKL_TRACE_GET_HANDED,		/* woken with the CPU */
	LKL_TRACE_TRY_GET,		/* took a free CPU, not waiting */
	LKL_TRACE_RELEASE,		/* CPU left free */
	LKL_TRACE_HANDOFF,		/* CPU given to a waiter */
	LKL_TRACE_WAKE_IDLE,		/* CPU given to idle's thread */
	LKL_TRACE_SWITCH,		/* a: prev pid, b: next pid | flags */
	LKL_TRACE_IDLE_SLEEP,
	LKL_TRACE_IDLE_WOKEN,
	LKL_TRACE_SCHED_AWAY,		/* a parked task switched out */
	LKL_TRACE_APP_WAIT,		/* app thread waits for its task */
	LKL_TRACE_APP_WOKEN,		/* a: its task's pid */
	LKL_TRACE_ENTER,		/* a: function run, b: own task's pid */
	LKL_TRACE_SWITCH_RESUMED,	/* a switched-out thread runs again */
};

#define LKL_TRACE_SWITCH_ESCAPE	0x10000
#define LKL_TRACE_SWITCH_DEAD	0x20000

#ifdef CONFIG_LKL_CPU_TRACE
void lkl_trace(enum lkl_trace_event event, long a, long b);
#else
static inline void lkl_trace(enum lkl_trace_event event, long a, long b)
{
}
#endif
#endif
