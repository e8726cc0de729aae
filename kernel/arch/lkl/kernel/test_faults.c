// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test-only kernel failures, armed from the command line, so the host's
 * handling of each can be tested while it is busy (a capture running):
 *
 *   lkl.test_panic_after=S   panic() from a work item S seconds after boot
 *   lkl.test_oops_after=S    a NULL pointer store in a work item (in this
 *                            architecture a real fault of the host process)
 *   lkl.test_hang_after=S    a work item spins with interrupts disabled:
 *                            the CPU never changes hands, jiffies stop
 *
 * All are off (0) unless given.
 */

#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/irqflags.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/workqueue.h>

#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "lkl."

static unsigned int test_panic_after;
module_param(test_panic_after, uint, 0444);
MODULE_PARM_DESC(test_panic_after, "Panic this many seconds after boot (tests)");

static unsigned int test_oops_after;
module_param(test_oops_after, uint, 0444);
MODULE_PARM_DESC(test_oops_after, "Fault on a NULL pointer this many seconds after boot (tests)");

static unsigned int test_hang_after;
module_param(test_hang_after, uint, 0444);
MODULE_PARM_DESC(test_hang_after, "Hang the CPU with interrupts off this many seconds after boot (tests)");

/* Read with READ_ONCE so the compiler cannot see (and drop) the fault. */
static int *lkl_test_null_pointer;

static void lkl_test_panic(struct work_struct *work)
{
	panic("lkl.test_panic_after=%u: test panic", test_panic_after);
}

static void lkl_test_oops(struct work_struct *work)
{
	pr_emerg("lkl.test_oops_after=%u: storing to a NULL pointer\n",
		 test_oops_after);
	WRITE_ONCE(*READ_ONCE(lkl_test_null_pointer), 1);
}

static void lkl_test_hang(struct work_struct *work)
{
	pr_emerg("lkl.test_hang_after=%u: spinning with interrupts off\n",
		 test_hang_after);
	local_irq_disable();
	for (;;)
		barrier();
}

static DECLARE_DELAYED_WORK(lkl_test_panic_work, lkl_test_panic);
static DECLARE_DELAYED_WORK(lkl_test_oops_work, lkl_test_oops);
static DECLARE_DELAYED_WORK(lkl_test_hang_work, lkl_test_hang);

static int __init lkl_test_faults_init(void)
{
	if (test_panic_after)
		schedule_delayed_work(&lkl_test_panic_work,
				      secs_to_jiffies(test_panic_after));
	if (test_oops_after)
		schedule_delayed_work(&lkl_test_oops_work,
				      secs_to_jiffies(test_oops_after));
	if (test_hang_after)
		schedule_delayed_work(&lkl_test_hang_work,
				      secs_to_jiffies(test_hang_after));
	return 0;
}
late_initcall(lkl_test_faults_init);
