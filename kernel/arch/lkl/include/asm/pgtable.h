/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_PGTABLE_H
#define _ASM_LKL_PGTABLE_H

/*
 * NOMMU: no page tables; only the names generic code refers to (the
 * folded levels come from asm-generic).
 */
#include <asm-generic/pgtable-nopud.h>
#include <asm/page.h>


#define PAGE_NONE		__pgprot(0)
#define PAGE_SHARED		__pgprot(0)
#define PAGE_COPY		__pgprot(0)
#define PAGE_READONLY		__pgprot(0)
#define PAGE_KERNEL		__pgprot(0)

#define swapper_pg_dir ((pgd_t *)0)

/* The zero page is generic; mem.c places it inside our RAM. */

#define VMALLOC_START		0
#define VMALLOC_END		0xffffffffffffffffUL
#define KMAP_START		0
#define KMAP_END		0xffffffffffffffffUL

#endif
