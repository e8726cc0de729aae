// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tasks and host threads.
 *
 * A kernel thread is a host thread that sleeps on its task's sched_sem
 * whenever the task is not current. A context switch sets current,
 * hands the CPU to the next task's host thread and posts its semaphore;
 * then the previous thread sleeps on its own semaphore, or, when it was
 * only running a parked context on its behalf, jumps back to the host
 * code that called into the kernel (cpu.c, lkl_sched_away).
 *
 * Application threads get tasks of their own (syscalls.c): threads of
 * the init process, created by init itself so they share its files,
 * cwd and credentials like the threads of one real process.
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/debug.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <asm/switch_to.h>
#include <asm/lkl.h>

/*
 * Every host thread the kernel created, so halt can join the ones whose
 * tasks were never released (sleeping threads, zombies awaiting RCU).
 */
struct host_thread_record {
	struct host_thread_record *next, **pprev;
	lkl_thread_t thread;
	struct task_struct *task;
};

static struct host_thread_record *host_threads;

static void record_add(struct host_thread_record *rec)
{
	rec->next = host_threads;
	if (host_threads)
		host_threads->pprev = &rec->next;
	rec->pprev = &host_threads;
	host_threads = rec;
}

static void record_del(struct host_thread_record *rec)
{
	*rec->pprev = rec->next;
	if (rec->next)
		rec->next->pprev = rec->pprev;
}

struct task_struct *__switch_to(struct task_struct *prev,
				struct task_struct *next)
{
	struct thread_struct *pt = &prev->thread, *nt = &next->thread;
	struct lkl_escape *escape = lkl_cpu_take_escape();
	lkl_thread_t self = lkl_ops->thread_self();
	struct lkl_jmp_buf *exit_jb;
	struct lkl_sem *own_sem;

	lkl_trace(LKL_TRACE_SWITCH, prev->pid, next->pid |
		  (escape ? LKL_TRACE_SWITCH_ESCAPE : 0) |
		  (READ_ONCE(prev->__state) == TASK_DEAD ?
		   LKL_TRACE_SWITCH_DEAD : 0));
	nt->switched_from = prev;
	lkl_current_ti = task_thread_info(next);

	/* An application thread switching to its own task goes on as it. */
	if (lkl_ops->thread_equal(nt->host_thread, self))
		return prev;

	lkl_cpu_hand_to(nt->host_thread);

	if (escape) {
		/* We ran prev on its behalf; back to our host code. */
		escape->taken = true;
		lkl_ops->sem_up(nt->sched_sem);
		lkl_ops->jmp_buf_longjmp(&escape->jmp, 1);
	}

	if (READ_ONCE(prev->__state) == TASK_DEAD) {
		/* A task's last switch: prev may be freed any time after
		 * the post, so read what we need first.
		 */
		exit_jb = pt->exit_jb;
		lkl_ops->sem_up(nt->sched_sem);
		lkl_ops->jmp_buf_longjmp(exit_jb, 1);
	}

	WARN_ON_ONCE(!lkl_ops->thread_equal(pt->host_thread, self));
	own_sem = pt->sched_sem;
	exit_jb = pt->exit_jb;
	lkl_ops->sem_up(nt->sched_sem);
	lkl_ops->sem_down(own_sem);
	lkl_trace(LKL_TRACE_SWITCH_RESUMED, 0, 0);

	/* Halt: kernel memory (prev included) may be gone; touch nothing. */
	if (READ_ONCE(lkl_halting))
		lkl_ops->jmp_buf_longjmp(exit_jb, 1);
	return pt->switched_from;
}

/* Leave kernel code for good (halt, or a fork that failed). */
void lkl_thread_die(struct task_struct *task)
{
	lkl_ops->jmp_buf_longjmp(task->thread.exit_jb, 1);
}

static void kernel_thread_body(void *arg)
{
	struct task_struct *task = arg;
	struct thread_struct *t = &task->thread;

	lkl_ops->sem_down(t->sched_sem);
	if (t->killed || READ_ONCE(lkl_halting))
		return;
	schedule_tail(t->switched_from);
	t->fn(t->fn_arg);
	/*
	 * Only a user-mode thread's function returns: init after its exec,
	 * now running the init process.
	 */
	lkl_init_process_run();
}

static void kernel_thread_main(void *arg)
{
	struct task_struct *task = arg;
	struct lkl_jmp_buf exit_jb;

	task->thread.exit_jb = &exit_jb;
	lkl_ops->jmp_buf_set(&exit_jb, kernel_thread_body, task);
}

int copy_thread(struct task_struct *p, const struct kernel_clone_args *args)
{
	struct thread_struct *t = &p->thread;
	struct host_thread_record *rec;

	memset(t, 0, sizeof(*t));

	if (args->fn == lkl_host_task_stub) {
		/* A task for an application thread: it brings its thread. */
		return lkl_host_task_setup(p, args->fn_arg);
	}
	if (!args->fn)
		return -EOPNOTSUPP;	/* no user-mode fork in a library */

	rec = kmalloc_obj(*rec);
	if (!rec)
		return -ENOMEM;
	t->kind = LKL_TASK_KERNEL;
	t->fn = args->fn;
	t->fn_arg = args->fn_arg;
	t->sched_sem = lkl_ops->sem_alloc(0);
	if (!t->sched_sem)
		goto fail;
	t->host_thread = lkl_ops->thread_create(kernel_thread_main, p);
	if (!t->host_thread)
		goto fail_sem;
	rec->thread = t->host_thread;
	rec->task = p;
	record_add(rec);
	t->record = rec;
	return 0;

fail_sem:
	lkl_ops->sem_free(t->sched_sem);
	t->sched_sem = NULL;
fail:
	kfree(rec);
	return -ENOMEM;
}

static void reap_host_thread(struct task_struct *task)
{
	struct thread_struct *t = &task->thread;

	/* Not dead: it never ran (failed fork), so wake it to leave. */
	if (READ_ONCE(task->__state) != TASK_DEAD) {
		t->killed = true;
		lkl_ops->sem_up(t->sched_sem);
	}
	lkl_ops->thread_join(t->host_thread);
}

void arch_release_task_struct(struct task_struct *tsk)
{
	struct thread_struct *t = &tsk->thread;

	if (t->kind != LKL_TASK_KERNEL || !t->record)
		return;
	reap_host_thread(tsk);
	record_del(t->record);
	kfree(t->record);
	t->record = NULL;
	lkl_ops->sem_free(t->sched_sem);
	t->sched_sem = NULL;
}

/*
 * Halt: every kernel host thread but ours is asleep on its semaphore
 * (or gone); wake each with killed set, so it leaves kernel code
 * without touching it, and join it. Kernel memory goes away after this.
 */
void lkl_threads_halt(void)
{
	struct host_thread_record *rec;

	for (rec = host_threads; rec; rec = rec->next) {
		lkl_ops->sem_up(rec->task->thread.sched_sem);
		lkl_ops->thread_join(rec->thread);
		lkl_ops->sem_free(rec->task->thread.sched_sem);
	}
	host_threads = NULL;
}

void flush_thread(void)
{
}

void show_stack(struct task_struct *task, unsigned long *sp,
		const char *loglvl)
{
}

unsigned long __get_wchan(struct task_struct *p)
{
	return 0;
}
