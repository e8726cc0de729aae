// SPDX-License-Identifier: GPL-2.0-only
#ifndef AIRTAP_HOST_SYSCALL_H
#define AIRTAP_HOST_SYSCALL_H

/*
 * getpid(2) through the raw syscall(2) entry, so every call really enters the
 * host kernel (the baseline for the lkl_syscall benchmark).
 */
long airtap_host_getpid_syscall(void);

/*
 * Bytes the host's malloc has handed out and not had back, all arenas
 * (mallinfo2: <malloc.h> is not in Swift's Glibc module).
 */
unsigned long airtap_host_heap_in_use_bytes(void);

#endif
