// SPDX-License-Identifier: GPL-2.0-only
/*
 * Syscalls straight from application threads.
 *
 * The calling thread takes the CPU and runs the syscall itself, as its
 * own task: no kernel thread is woken, so a null syscall costs a mutex
 * round trip. Each application thread gets a task on its first syscall
 * (a thread of the init process, created by init) and keeps it until
 * the thread exits (host TLS destructor). After a syscall the task
 * stays current while nothing else wants the CPU, so the next syscall
 * from the same thread needs no context switch at all.
 */
#include <linux/syscalls.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/signal.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <asm/syscalls.h>
#include <asm/unistd.h>
#include <asm/lkl.h>

/* Arch-specific entries of the generic table that a library lacks. */
#define sys_rt_sigreturn	sys_ni_syscall
#define sys_mmap		sys_ni_syscall

#undef __SYSCALL
#define __SYSCALL(nr, sym)	[nr] = (lkl_syscall_fn)sym,

/* The uapi list has no include guard: expand it once more, as a table. */
const lkl_syscall_fn sys_call_table[__NR_syscalls] = {
	[0 ... __NR_syscalls - 1] = (lkl_syscall_fn)sys_ni_syscall,
#include <uapi/asm-generic/unistd.h>
};

/* An application thread that makes syscalls (host memory). */
struct app_thread {
	struct task_struct *task;
	/* The task's sched_sem: owned here, lent to the task. */
	struct lkl_sem *sched_sem;
	lkl_thread_t thread;
};

/* A request to the init process for a new application task. */
struct host_task_request {
	struct list_head node;
	struct app_thread *app;
	int error;
};

static struct lkl_tls_key *app_thread_key;
static LIST_HEAD(host_task_requests);
static struct task_struct *init_process;

/* Never runs: marks a clone as an application thread's task. */
int lkl_host_task_stub(void *request)
{
	return 0;
}

int lkl_host_task_setup(struct task_struct *task, void *request)
{
	struct host_task_request *req = request;
	struct thread_struct *t = &task->thread;

	t->kind = LKL_TASK_HOST;
	t->in_kernel = true;
	t->sched_sem = req->app->sched_sem;
	t->host_thread = req->app->thread;
	req->app->task = task;
	return 0;
}

/*
 * The init process after its exec: it creates application threads'
 * tasks as threads of itself, so they share files, cwd and credentials.
 */
void lkl_init_process_run(void)
{
	struct kernel_clone_args args = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			 CLONE_THREAD | CLONE_SYSVSEM,
		.fn = lkl_host_task_stub,
	};
	struct host_task_request *req;
	pid_t pid;

	init_process = current;
	lkl_running = true;
	lkl_boot_complete();

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (list_empty(&host_task_requests))
			schedule();
		__set_current_state(TASK_RUNNING);

		while (!list_empty(&host_task_requests)) {
			req = list_first_entry(&host_task_requests,
					       struct host_task_request, node);
			list_del(&req->node);
			args.fn_arg = req;
			pid = kernel_clone(&args);
			if (pid < 0) {
				/* The requester waits for its task: tell it. */
				req->error = pid;
				lkl_ops->sem_up(req->app->sched_sem);
			}
		}
	}
}

/*
 * Make @app's task current; the caller owns the CPU and current is
 * parked. Returns 0 owning the CPU as the task, or an error without
 * the CPU.
 */
static int switch_to_app_task(struct app_thread *app)
{
	struct host_task_request req = { .app = app };
	bool own_cpu;

	if (app->task) {
		/* Parked while its thread was out in the host. */
		app->task->thread.in_kernel = true;
		lkl_wake_parked(app->task);
	} else {
		list_add_tail(&req.node, &host_task_requests);
		wake_up_process(init_process);
	}

	do {
		if (is_idle_task(current)) {
			/* Idle's own thread schedules (cpu.c, wake_idle). */
			lkl_cpu_put();
			own_cpu = false;
			break;
		}
		own_cpu = lkl_sched_away();
	} while (own_cpu && current != app->task);

	if (!own_cpu) {
		/*
		 * Others run first; wait for our task to be switched in.
		 * Always wait, even if the CPU already looks ours: that
		 * hand-off came with a post on this semaphore.
		 */
		lkl_trace(LKL_TRACE_APP_WAIT, 0, 0);
		lkl_ops->sem_down(app->sched_sem);
		lkl_trace(LKL_TRACE_APP_WOKEN, current->pid, 0);
		if (READ_ONCE(lkl_halting))
			return -ESHUTDOWN;	/* kernel memory is going away */
		if (req.error)
			return req.error;
		schedule_tail(current->thread.switched_from);
	}
	return 0;
}

static struct app_thread *app_thread_get(void)
{
	struct app_thread *app = lkl_ops->tls_get(app_thread_key);

	if (app)
		return app;
	app = lkl_ops->mem_alloc(sizeof(*app));
	if (!app)
		return NULL;
	app->task = NULL;
	app->thread = lkl_ops->thread_self();
	app->sched_sem = lkl_ops->sem_alloc(0);
	if (!app->sched_sem) {
		lkl_ops->mem_free(app);
		return NULL;
	}
	if (lkl_ops->tls_set(app_thread_key, app)) {
		lkl_ops->sem_free(app->sched_sem);
		lkl_ops->mem_free(app);
		return NULL;
	}
	return app;
}

/* Kernel code to run for an application thread, in its own task. */
struct task_call {
	long (*fn)(void *arg);
	void *arg;
	long ret;
};

static void run_task_call(void *arg)
{
	struct task_call *call = arg;

	call->ret = call->fn(call->arg);
	/* What a real kernel does on the way back to user mode: the last
	 * fput of close(), for one, waits for this.
	 */
	if (task_work_pending(current))
		task_work_run();
}

/*
 * Run @fn in the calling host thread's task, holding the CPU: the path
 * of every syscall, and of host API calls that need kernel context
 * (attaching a USB device, for one). Returns @fn's result, or
 * -ESHUTDOWN/-ENOMEM when the thread cannot enter the kernel.
 */
long lkl_call_in_task(long (*fn)(void *arg), void *arg)
{
	struct task_call call = { .fn = fn, .arg = arg, .ret = -ESHUTDOWN };
	struct lkl_jmp_buf killed;
	struct app_thread *app;
	int err;

	if (!READ_ONCE(lkl_running))
		return -ESHUTDOWN;
	app = app_thread_get();
	if (!app)
		return -ENOMEM;

	err = lkl_cpu_get();
	if (err)
		return err;
	lkl_trace(LKL_TRACE_ENTER, (long)fn, app->task ? app->task->pid : 0);
	if (current != app->task) {
		lkl_run_pending_irqs();
		err = switch_to_app_task(app);
		if (err)
			return err;
	}
	current->thread.in_kernel = true;

	/* Halt wakes a task blocked in here and it jumps to @killed. */
	current->thread.exit_jb = &killed;
	lkl_ops->jmp_buf_set(&killed, run_task_call, &call);
	if (READ_ONCE(lkl_halting))
		return -ESHUTDOWN;	/* the CPU is the halting thread's */

	current->thread.in_kernel = false;
	lkl_cpu_put();
	return call.ret;
}

struct syscall_args {
	long nr;
	long *params;
};

static long run_syscall(void *arg)
{
	struct syscall_args *args = arg;
	long *p = args->params;

	if ((unsigned long)args->nr >= __NR_syscalls)
		return -ENOSYS;
	return sys_call_table[args->nr](p[0], p[1], p[2], p[3], p[4], p[5]);
}

long lkl_syscall(long nr, long *params)
{
	struct syscall_args args = { .nr = nr, .params = params };

	return lkl_call_in_task(run_syscall, &args);
}

static void exit_task(void *unused)
{
	do_exit(0);
}

/* TLS destructor: the application thread exits, so does its task. */
static void app_thread_exit(void *arg)
{
	struct app_thread *app = arg;
	struct lkl_jmp_buf escape;

	if (READ_ONCE(lkl_halting) || !app->task)
		goto out;
	if (lkl_cpu_get())
		goto out;
	if (current != app->task) {
		lkl_run_pending_irqs();
		if (switch_to_app_task(app))
			goto out;
	}
	/*
	 * do_exit may sleep on the way (a normal switch-out of this thread);
	 * only its last switch, with the task dead, jumps back here.
	 */
	current->thread.exit_jb = &escape;
	lkl_ops->jmp_buf_set(&escape, exit_task, NULL);
out:
	lkl_ops->sem_free(app->sched_sem);
	lkl_ops->mem_free(app);
}

int lkl_syscalls_init(void)
{
	app_thread_key = lkl_ops->tls_alloc(app_thread_exit);
	return app_thread_key ? 0 : -ENOMEM;
}

/*
 * Wake application threads waiting inside the kernel (blocked in a
 * syscall, or entering); seeing lkl_halting they return -ESHUTDOWN
 * without touching kernel memory.
 */
void lkl_syscalls_halt(void)
{
	struct host_task_request *req, *tmp;
	struct task_struct *g, *t;

	list_for_each_entry_safe(req, tmp, &host_task_requests, node) {
		list_del(&req->node);
		lkl_ops->sem_up(req->app->sched_sem);
	}
	for_each_process_thread(g, t) {
		if (t == current || t->thread.kind != LKL_TASK_HOST ||
		    !t->thread.in_kernel)
			continue;
		lkl_ops->sem_up(t->thread.sched_sem);
	}
}
