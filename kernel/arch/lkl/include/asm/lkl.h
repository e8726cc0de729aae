/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Arch-internal interfaces between the pieces of the LKL port: the
 * virtual CPU (cpu.c), interrupts (irq.c), threads (threads.c),
 * syscalls (syscalls.c) and boot/halt (setup.c).
 */
#ifndef _ASM_LKL_LKL_H
#define _ASM_LKL_LKL_H

#include <asm/host_ops.h>

struct task_struct;

extern const struct lkl_host_operations *lkl_ops;

/* The virtual CPU: exactly one host thread runs kernel code at a time. */
int lkl_cpu_init(void);
void lkl_cpu_free(void);
void lkl_cpu_claim_for_boot(void);
int lkl_cpu_get(void);
bool lkl_cpu_try_get(void);
void lkl_cpu_put(void);
bool lkl_cpu_is_mine(void);
void lkl_cpu_hand_to(lkl_thread_t thread);
void lkl_cpu_shutdown(void);
void lkl_sched_away(void);
struct lkl_jmp_buf *lkl_cpu_take_escape(void);
void lkl_cpu_set_escape(struct lkl_jmp_buf *escape);

/* Interrupts published by host threads, run by the CPU owner. */
bool lkl_irqs_pending(void);
void lkl_run_pending_irqs(void);

/* Threads. */
void lkl_thread_die(struct task_struct *task);
void lkl_threads_halt(void);
void lkl_init_process_run(void);
int lkl_host_task_stub(void *request);
int lkl_host_task_setup(struct task_struct *task, void *request);

/* Syscalls from host threads. */
int lkl_syscalls_init(void);
void lkl_syscalls_halt(void);

/* Memory. */
void lkl_bootmem_init(void);
void lkl_mem_halt(void);

/* Time. */
void lkl_time_start(void);
void lkl_time_halt(void);

/* Set once the kernel is ready for syscalls, cleared by halt. */
extern bool lkl_running;
extern bool lkl_halting;
void lkl_boot_complete(void);

#endif
