/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * NOMMU pages: kernel virtual addresses are host addresses. RAM is one
 * host block, given the "physical" addresses LKL_PHYS_BASE onwards. Not
 * virt == phys: host blocks sit near 2^47, and the memory-map set-up
 * walks every pageblock from pfn 0 to the first RAM pfn (~70 ms there,
 * nothing at 1 GiB).
 */
#ifndef _ASM_LKL_PAGE_H
#define _ASM_LKL_PAGE_H

#include <linux/const.h>
#include <vdso/page.h>

#ifndef __ASSEMBLY__

#include <linux/types.h>

struct page;

extern unsigned long lkl_memory_start, lkl_memory_end;

#define clear_page(page)	memset((page), 0, PAGE_SIZE)
#define copy_page(to, from)	memcpy((to), (from), PAGE_SIZE)
/* clear_user_page() is generic (linux/highmem.h). */
#define copy_user_page(to, from, vaddr, pg)	copy_page(to, from)

typedef struct { unsigned long pte; } pte_t;
typedef struct { unsigned long pmd; } pmd_t;
typedef struct { unsigned long pgd; } pgd_t;
typedef struct { unsigned long pgprot; } pgprot_t;
typedef struct page *pgtable_t;

#define pte_val(x)	((x).pte)
#define pmd_val(x)	((x).pmd)
#define pgd_val(x)	((x).pgd)
#define pgprot_val(x)	((x).pgprot)

#define __pte(x)	((pte_t) { (x) })
#define __pmd(x)	((pmd_t) { (x) })
#define __pgd(x)	((pgd_t) { (x) })
#define __pgprot(x)	((pgprot_t) { (x) })

/* Physical address of the first byte of RAM; aligned for the buddy allocator. */
#define LKL_PHYS_BASE		(_AC(1, UL) << 30)

#define PAGE_OFFSET		(lkl_memory_start)
#define ARCH_PFN_OFFSET		(LKL_PHYS_BASE >> PAGE_SHIFT)

#define __pa(x)	((unsigned long)(x) - lkl_memory_start + LKL_PHYS_BASE)
#define __va(x)	((void *)((unsigned long)(x) - LKL_PHYS_BASE + lkl_memory_start))

static inline unsigned long virt_to_pfn(const void *kaddr)
{
	return __pa(kaddr) >> PAGE_SHIFT;
}

#define virt_to_page(addr)	pfn_to_page(virt_to_pfn(addr))
#define page_to_virt(page)	__va(page_to_pfn(page) << PAGE_SHIFT)

#define virt_addr_valid(kaddr)	\
	((unsigned long)(kaddr) >= lkl_memory_start && \
	 (unsigned long)(kaddr) < lkl_memory_end)

#define pfn_valid(pfn)		\
	((pfn) >= ARCH_PFN_OFFSET && \
	 (pfn) < ARCH_PFN_OFFSET + \
		 ((lkl_memory_end - lkl_memory_start) >> PAGE_SHIFT))

/*
 * With pfn_valid() our own, the core would walk every pfn below RAM (the
 * 1 GiB under LKL_PHYS_BASE) one by one at boot: clamp the walk to RAM.
 */
static inline unsigned long lkl_ram_end_pfn(void)
{
	return ARCH_PFN_OFFSET +
	       ((lkl_memory_end - lkl_memory_start) >> PAGE_SHIFT);
}

#define for_each_valid_pfn(pfn, start_pfn, end_pfn)			\
	for ((pfn) = (start_pfn) > ARCH_PFN_OFFSET ?			\
		     (start_pfn) : ARCH_PFN_OFFSET;			\
	     (pfn) < (end_pfn) && (pfn) < lkl_ram_end_pfn(); (pfn)++)

#include <asm-generic/memory_model.h>
#include <asm-generic/getorder.h>

#endif /* __ASSEMBLY__ */

#endif /* _ASM_LKL_PAGE_H */
