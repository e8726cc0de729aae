/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_THREAD_INFO_H
#define _ASM_LKL_THREAD_INFO_H

#include <linux/const.h>

#define THREAD_SIZE_ORDER	0
#define THREAD_SIZE		(_AC(4096, UL) << THREAD_SIZE_ORDER)

#ifndef __ASSEMBLY__
#include <asm/types.h>
#include <asm/processor.h>

/*
 * Kernel stacks are never run on (every task runs on its host thread's
 * stack); the THREAD_SIZE block only holds this struct.
 *
 * @irqs_enabled is the interrupt flag of the context this thread_info
 * belongs to: it is saved and restored with the context, like a real
 * CPU's flags register, so no context can ever read another's state.
 */
struct thread_info {
	struct task_struct *task;
	unsigned long flags;
	int preempt_count;
	bool irqs_enabled;
};

#define INIT_THREAD_INFO(tsk)				\
{							\
	.task		= &tsk,				\
	.flags		= 0,				\
	.preempt_count	= INIT_PREEMPT_COUNT,		\
	.irqs_enabled	= false,			\
}

/* The thread_info of the context that owns the virtual CPU. */
extern struct thread_info *lkl_current_ti;

static inline struct thread_info *current_thread_info(void)
{
	return lkl_current_ti;
}

#endif /* __ASSEMBLY__ */

#define TIF_SYSCALL_TRACE	0
#define TIF_NOTIFY_RESUME	1
#define TIF_SIGPENDING		2
#define TIF_NEED_RESCHED	3
#define TIF_RESTORE_SIGMASK	4
#define TIF_MEMDIE		5
#define TIF_NOTIFY_SIGNAL	6
#define TIF_POLLING_NRFLAG	7

#define _TIF_SYSCALL_TRACE	(1 << TIF_SYSCALL_TRACE)
#define _TIF_NOTIFY_RESUME	(1 << TIF_NOTIFY_RESUME)
#define _TIF_SIGPENDING		(1 << TIF_SIGPENDING)
#define _TIF_NEED_RESCHED	(1 << TIF_NEED_RESCHED)
#define _TIF_NOTIFY_SIGNAL	(1 << TIF_NOTIFY_SIGNAL)
#define _TIF_POLLING_NRFLAG	(1 << TIF_POLLING_NRFLAG)

#endif
