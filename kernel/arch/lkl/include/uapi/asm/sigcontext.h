/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
#ifndef _ASM_LKL_SIGCONTEXT_H
#define _ASM_LKL_SIGCONTEXT_H

/* No user-mode register file: signals are never delivered to host code. */
struct sigcontext {
	unsigned long unused;
};

#endif
