// SPDX-License-Identifier: GPL-2.0-only
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/sched/debug.h>
#include <asm/ptrace.h>

void show_regs(struct pt_regs *regs)
{
}

/* /proc/cpuinfo: one virtual CPU made of host threads. */
static int cpuinfo_show(struct seq_file *m, void *v)
{
	seq_puts(m, "processor\t: 0\nmodel name\t: lkl virtual CPU (host threads)\n");
	return 0;
}

static void *cpuinfo_start(struct seq_file *m, loff_t *pos)
{
	return *pos == 0 ? (void *)1 : NULL;
}

static void *cpuinfo_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return NULL;
}

static void cpuinfo_stop(struct seq_file *m, void *v)
{
}

const struct seq_operations cpuinfo_op = {
	.start	= cpuinfo_start,
	.next	= cpuinfo_next,
	.stop	= cpuinfo_stop,
	.show	= cpuinfo_show,
};
