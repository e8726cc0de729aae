/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_STRING_H
#define _ASM_LKL_STRING_H

/* Bulk copies are hot (URB payloads, packets): see arch/lkl/lib/string.c. */
#define __HAVE_ARCH_MEMCPY
extern void *memcpy(void *dest, const void *src, __kernel_size_t count);
#define __HAVE_ARCH_MEMSET
extern void *memset(void *s, int c, __kernel_size_t count);
#define __HAVE_ARCH_MEMMOVE
extern void *memmove(void *dest, const void *src, __kernel_size_t count);

#endif
