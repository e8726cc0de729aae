/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_SYSCALLS_H
#define _ASM_LKL_SYSCALLS_H

#include <asm-generic/syscalls.h>

typedef long (*lkl_syscall_fn)(long, long, long, long, long, long);
extern const lkl_syscall_fn sys_call_table[];

#endif
