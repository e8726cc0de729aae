// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts from host threads.
 *
 * A trigger first publishes its line in one atomic word, then tries for
 * the CPU without blocking. Whoever owns the CPU drains the word with an
 * atomic exchange, again and again until it reads empty, whenever the
 * context it runs accepts interrupts: on local_irq_enable/restore, in
 * cpu_relax and delays, and before releasing the CPU. So a trigger is
 * never lost and never waits behind a stale flag (see cpu.c).
 *
 * Repeated triggers of one line coalesce, as on real hardware: devices
 * keep their own completion queues and drain them in the handler.
 */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/hardirq.h>
#include <asm/irq_regs.h>
#include <linux/errno.h>
#include <asm/lkl.h>

static unsigned long irq_pending;
/* Handlers see an interrupted context (the tick needs one to run timers). */
static struct pt_regs irq_regs;
static unsigned long irq_allocated = 1UL;	/* line 0 is never handed out */

bool lkl_irqs_pending(void)
{
	return __atomic_load_n(&irq_pending, __ATOMIC_ACQUIRE) != 0;
}

/* The CPU owner runs every published interrupt. */
void lkl_run_pending_irqs(void)
{
	struct thread_info *ti = current_thread_info();
	unsigned long bits;
	bool was_enabled;

	if (!lkl_irqs_pending() || in_hardirq())
		return;

	was_enabled = ti->irqs_enabled;
	ti->irqs_enabled = false;
	while ((bits = __atomic_exchange_n(&irq_pending, 0, __ATOMIC_ACQ_REL))) {
		struct pt_regs *old_regs = set_irq_regs(&irq_regs);

		irq_enter();
		while (bits) {
			unsigned int irq = __ffs(bits);

			bits &= bits - 1;
			generic_handle_irq(irq);
		}
		irq_exit();
		set_irq_regs(old_regs);
	}
	/* irq_exit's softirqs may have switched contexts' flags: ours is ti. */
	current_thread_info()->irqs_enabled = was_enabled;
}

void lkl_irqs_enabled_hook(void)
{
	if (unlikely(lkl_irqs_pending()))
		lkl_run_pending_irqs();
}

int lkl_trigger_irq(int irq)
{
	if (irq <= 0 || irq >= NR_IRQS)
		return -EINVAL;

	__atomic_fetch_or(&irq_pending, 1UL << irq, __ATOMIC_SEQ_CST);

	if (lkl_cpu_is_mine()) {
		/* From kernel code (a handler, a kernel thread): like a CPU
		 * would, take it now if this context accepts interrupts.
		 */
		if (current_thread_info()->irqs_enabled)
			lkl_run_pending_irqs();
		return 0;
	}
	/* Owned by another thread: it drains the line (see cpu.c). */
	if (!lkl_cpu_try_get())
		return 0;
	/* Free CPU: the parked context accepts interrupts. */
	lkl_cpu_put();
	return 0;
}

int lkl_get_free_irq(const char *user)
{
	unsigned long old = __atomic_load_n(&irq_allocated, __ATOMIC_RELAXED);
	int irq;

	do {
		if (old == ~0UL)
			return -ENOSPC;
		irq = __ffs(~old);
	} while (!__atomic_compare_exchange_n(&irq_allocated, &old,
					      old | (1UL << irq), false,
					      __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	return irq;
}

void lkl_put_irq(int irq, const char *user)
{
	if (irq <= 0 || irq >= NR_IRQS)
		return;
	__atomic_fetch_and(&irq_allocated, ~(1UL << irq), __ATOMIC_ACQ_REL);
}

void __init init_IRQ(void)
{
	int irq;

	for (irq = 1; irq < NR_IRQS; irq++)
		irq_set_chip_and_handler(irq, &dummy_irq_chip,
					 handle_simple_irq);
}
