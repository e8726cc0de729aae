/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_PROCESSOR_H
#define _ASM_LKL_PROCESSOR_H

#ifndef __ASSEMBLY__

#include <asm/host_ops.h>

struct task_struct;

enum lkl_task_kind {
	LKL_TASK_KERNEL,	/* kernel thread: runs on a host thread we own */
	LKL_TASK_HOST,		/* stands for an application thread's syscalls */
};

/*
 * Host resources of a task. They live in task_struct (not thread_info)
 * because the THREAD_SIZE block is freed before arch_release_task_struct.
 */
struct thread_struct {
	enum lkl_task_kind kind;
	/* Posted to switch this task in; its host thread waits on it. */
	struct lkl_sem *sched_sem;
	lkl_thread_t host_thread;
	/* The task that switched to us, returned by __switch_to. */
	struct task_struct *switched_from;
	/* Set for a kernel thread that must leave without running. */
	bool killed;
	/* An application task whose thread is inside lkl_syscall. */
	bool in_kernel;
	/* Where the host thread leaves kernel code for good. */
	struct lkl_jmp_buf *exit_jb;
	/* Entry of a kernel thread. */
	int (*fn)(void *arg);
	void *fn_arg;
	/* Kernel threads: our record of the host thread (threads.c). */
	void *record;
};

#define INIT_THREAD { .kind = LKL_TASK_KERNEL }

void lkl_cpu_relax(void);
#define cpu_relax()		lkl_cpu_relax()

#define task_pt_regs(tsk)	((struct pt_regs *)0)
#define KSTK_EIP(tsk)		(0)
#define KSTK_ESP(tsk)		(0)

#define TASK_SIZE		(~0UL)
#define TASK_UNMAPPED_BASE	(0)
#define STACK_TOP		TASK_SIZE
#define STACK_TOP_MAX		STACK_TOP


unsigned long __get_wchan(struct task_struct *p);

#define current_text_addr()	({ __label__ _l; _l: &&_l; })

#endif /* __ASSEMBLY__ */

#endif
