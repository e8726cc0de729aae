/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * The asm-generic syscall numbers (as arm64 and riscv use), so the table
 * needs no core patch: arch/lkl/kernel/syscalls.c expands the same list.
 */
#define __ARCH_WANT_NEW_STAT
#define __ARCH_WANT_SET_GET_RLIMIT
#define __ARCH_WANT_RENAMEAT
#define __ARCH_WANT_SYS_CLONE
#define __ARCH_WANT_SYS_CLONE3

#include <asm-generic/unistd.h>
