/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_IRQFLAGS_H
#define _ASM_LKL_IRQFLAGS_H

#define ARCH_IRQ_DISABLED	0
#define ARCH_IRQ_ENABLED	1

#ifndef __ASSEMBLY__

#include <asm/thread_info.h>

/* Runs interrupts published while they were disabled (arch/lkl/kernel/irq.c). */
void lkl_irqs_enabled_hook(void);

/* Only the CPU owner runs this code, so plain accesses are safe. */
#define arch_local_save_flags arch_local_save_flags
static inline unsigned long arch_local_save_flags(void)
{
	return current_thread_info()->irqs_enabled;
}

#define arch_local_irq_restore arch_local_irq_restore
static inline void arch_local_irq_restore(unsigned long flags)
{
	current_thread_info()->irqs_enabled = flags;
	if (flags)
		lkl_irqs_enabled_hook();
}

#endif

#include <asm-generic/irqflags.h>

#endif
