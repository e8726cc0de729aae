// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual-CPU hand-off trace (CONFIG_LKL_CPU_TRACE): a lock-free ring
 * of recent events, read from a debugger attached to a hung process
 * (kernel/debug/cpu-trace.gdb prints it in order).
 */
#include <linux/sched.h>
#include <asm/lkl.h>

#define CPU_TRACE_ENTRIES	8192

struct cpu_trace_entry {
	long seq;
	lkl_thread_t thread;
	int event;
	int pid;		/* current task's, -1 before boot */
	long a, b;
};

struct cpu_trace_entry cpu_trace_ring[CPU_TRACE_ENTRIES];
long cpu_trace_next;

void lkl_trace(enum lkl_trace_event event, long a, long b)
{
	long seq = __atomic_fetch_add(&cpu_trace_next, 1, __ATOMIC_RELAXED);
	struct cpu_trace_entry *e = &cpu_trace_ring[seq % CPU_TRACE_ENTRIES];

	e->seq = seq;
	e->thread = lkl_ops->thread_self();
	e->event = event;
	e->pid = lkl_current_ti ? lkl_current_ti->task->pid : -1;
	e->a = a;
	e->b = b;
}
