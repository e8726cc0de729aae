// SPDX-License-Identifier: GPL-2.0-only
/*
 * Boot and halt of the library kernel.
 *
 * lkl_start_kernel() runs start_kernel() on a host thread of its own
 * (it becomes the idle task) and waits until the init process is up:
 * init "execs" /init through a binary format that accepts only that
 * exec, then serves the application threads (syscalls.c).
 *
 * lkl_sys_halt() powers off through the reboot syscall; power-off
 * joins every kernel host thread and returns here with a jump, and
 * the kernel's RAM goes back to the host.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/console.h>
#include <linux/panic_notifier.h>
#include <linux/binfmts.h>
#include <linux/fs.h>
#include <linux/task_work.h>
#include <linux/err.h>
#include <linux/moduleparam.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/start_kernel.h>
#include <linux/string.h>
#include <linux/stat.h>
#include <linux/pm.h>
#include <asm/setup.h>
#include <asm/lkl.h>

const struct lkl_host_operations *lkl_ops;
struct thread_info *lkl_current_ti = &init_thread_info;
bool lkl_running;
bool lkl_halting;

static struct lkl_sem *boot_done;
static lkl_thread_t boot_thread;	/* idle's host thread, joined at halt */
static struct lkl_jmp_buf *halt_jump;
static bool started;

static void lkl_console_write(struct console *con, const char *str,
			      unsigned int len)
{
	lkl_ops->print(str, len);
}

static struct console lkl_console = {
	.name	= "lkl",
	.write	= lkl_console_write,
	.flags	= CON_PRINTBUFFER | CON_ANYTIME,
	.index	= -1,
};

static int lkl_panic_notify(struct notifier_block *nb, unsigned long event,
			    void *msg)
{
	console_flush_on_panic(CONSOLE_FLUSH_PENDING);
	lkl_ops->panic();
	return NOTIFY_DONE;
}

static struct notifier_block lkl_panic_notifier = {
	.notifier_call = lkl_panic_notify,
};

void __init setup_arch(char **cmdline_p)
{
	register_console(&lkl_console);
	atomic_notifier_chain_register(&panic_notifier_list,
				       &lkl_panic_notifier);
	*cmdline_p = boot_command_line;
	parse_early_param();
	lkl_bootmem_init();
}

int lkl_init(const struct lkl_host_operations *ops)
{
	if (lkl_ops)
		return -EBUSY;
	lkl_ops = ops;
	return 0;
}

int lkl_is_running(void)
{
	return READ_ONCE(lkl_running);
}

void lkl_boot_complete(void)
{
	lkl_ops->sem_up(boot_done);
}

static void __ref boot_thread_body(void *unused)
{
	lkl_cpu_claim_for_boot();
	start_kernel();
}

/* The boot thread runs start_kernel and then stays as the idle task. */
static void boot_thread_main(void *unused)
{
	struct lkl_jmp_buf exit_jb;

	/*
	 * Set here, not from thread_create's return value: this thread may
	 * reach its first context switch before the creator runs again.
	 */
	init_task.thread.host_thread = lkl_ops->thread_self();
	init_task.thread.exit_jb = &exit_jb;
	lkl_ops->jmp_buf_set(&exit_jb, boot_thread_body, NULL);
}

int __ref lkl_start_kernel(const char *cmdline)
{
	int err;

	if (!lkl_ops)
		return -EINVAL;
	if (started)
		return -EBUSY;	/* one kernel per process */
	started = true;

	strscpy(boot_command_line, cmdline ? cmdline : "", COMMAND_LINE_SIZE);
	lkl_time_start();

	err = lkl_cpu_init();
	if (err)
		return err;
	err = lkl_syscalls_init();
	if (err)
		return err;
	boot_done = lkl_ops->sem_alloc(0);
	init_task.thread.sched_sem = lkl_ops->sem_alloc(0);
	if (!boot_done || !init_task.thread.sched_sem)
		return -ENOMEM;

	boot_thread = lkl_ops->thread_create(boot_thread_main, NULL);
	if (!boot_thread)
		return -ENOMEM;

	lkl_ops->sem_down(boot_done);
	return 0;
}

static void halt_syscall(void *arg)
{
	long params[6] = { LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			   LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0 };

	*(long *)arg = lkl_syscall(__NR_reboot, params);
}

long lkl_sys_halt(void)
{
	struct lkl_jmp_buf jump;
	long err = 0;

	if (!READ_ONCE(lkl_running))
		return -ESHUTDOWN;

	halt_jump = &jump;
	lkl_ops->jmp_buf_set(&jump, halt_syscall, &err);
	if (!READ_ONCE(lkl_halting))
		return err;	/* the reboot syscall failed */

	/* Every kernel thread is joined: give back what the host lent. */
	lkl_ops->thread_join(boot_thread);
	lkl_ops->sem_free(init_task.thread.sched_sem);
	lkl_ops->sem_free(boot_done);
	lkl_mem_halt();
	return 0;
}

/* Reached from kernel_power_off(), on the halting application thread. */
void machine_power_off(void)
{
	WRITE_ONCE(lkl_running, false);
	WRITE_ONCE(lkl_halting, true);
	lkl_cpu_shutdown();
	lkl_time_halt();
	lkl_syscalls_halt();
	lkl_threads_halt();
	lkl_ops->sem_up(init_task.thread.sched_sem);
	lkl_ops->jmp_buf_longjmp(halt_jump, 1);
}

void machine_halt(void)
{
	machine_power_off();
}

void machine_restart(char *cmd)
{
	machine_power_off();
}

/*
 * The init process's exec: there is no program to load, the process
 * goes on in lkl_init_process_run(). Nothing else may exec.
 */
static int lkl_load_init(struct linux_binprm *bprm)
{
	static bool init_loaded;

	if (init_loaded || current->pid != 1)
		return -ENOEXEC;
	init_loaded = true;
	return 0;
}

static struct linux_binfmt lkl_init_format = {
	.load_binary = lkl_load_init,
};

static bool test_panic;
#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "lkl."
module_param(test_panic, bool, 0444);
MODULE_PARM_DESC(test_panic, "Panic at the end of boot (tests the host's panic path)");

static int __init lkl_init_program(void)
{
	struct file *init;

	if (test_panic)
		panic("lkl.test_panic=1 was given on the command line");

	register_binfmt(&lkl_init_format);
	init = filp_open("/init", O_CREAT | O_WRONLY, 0700);
	if (IS_ERR(init)) {
		pr_err("lkl: cannot create /init: %ld\n", PTR_ERR(init));
		return PTR_ERR(init);
	}
	/* exec refuses a file still open for writing: finish the close. */
	filp_close(init, NULL);
	task_work_run();
	return 0;
}
late_initcall(lkl_init_program);
