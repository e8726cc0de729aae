// SPDX-License-Identifier: GPL-2.0-only
/*
 * RAM: one block from the host (mem=, default 64M), aligned so that the
 * buddy allocator's largest blocks start on their natural boundary.
 * Host memory is lazily committed, so only pages the kernel touches
 * count against the process.
 */
#include <linux/init.h>
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/pfn.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <asm/lkl.h>

unsigned long lkl_memory_start, lkl_memory_end;

static unsigned long mem_size = 64UL << 20;
static void *host_block;
static unsigned long host_block_size;

static int __init lkl_mem_param(char *p)
{
	mem_size = memparse(p, &p);
	return 0;
}
early_param("mem", lkl_mem_param);

void __init lkl_bootmem_init(void)
{
	unsigned long align = PAGE_SIZE << MAX_PAGE_ORDER;

	mem_size = ALIGN(mem_size, align);
	if (mem_size < (8UL << 20))
		mem_size = 8UL << 20;
	host_block_size = mem_size + align;
	host_block = lkl_ops->page_alloc(host_block_size);
	if (!host_block)
		panic("lkl: the host could not lend %lu bytes of RAM (mem=)",
		      host_block_size);

	lkl_memory_start = ALIGN((unsigned long)host_block, align);
	lkl_memory_end = lkl_memory_start + mem_size;
	memblock_add(__pa(lkl_memory_start), mem_size);

	min_low_pfn = PFN_UP(__pa(lkl_memory_start));
	max_low_pfn = PFN_DOWN(__pa(lkl_memory_end));
	max_pfn = max_low_pfn;
	high_memory = (void *)lkl_memory_end;
}

/* All of RAM is ZONE_NORMAL; the core builds the zones from this. */
void __init arch_zone_limits_init(unsigned long *max_zone_pfn)
{
	max_zone_pfn[ZONE_NORMAL] = max_pfn;
}

/*
 * The generic empty_zero_page is an array in the host program's image,
 * outside RAM, where virt_to_page() means nothing: give ZERO_PAGE a
 * zeroed page of RAM instead (memblock memory stays reserved).
 */
void __init arch_setup_zero_pages(void)
{
	void *zero = memblock_alloc(PAGE_SIZE, PAGE_SIZE);

	if (!zero)
		panic("lkl: no memory for the zero page");
	__zero_page = virt_to_page(zero);
}

/* Init sections are in the host's image, not in our RAM: keep them. */
void free_initmem(void)
{
}

/*
 * copy_from_kernel_nofault() and friends read with plain loads here
 * (UACCESS_MEMCPY), and the port has no exception table to recover from
 * a host SIGSEGV, so they ask first: our RAM is always readable, anything
 * else (a stale pointer a diagnostic follows, the host's image) is
 * checked by the host. Reached only on diagnostic and probing paths.
 */
bool copy_from_kernel_nofault_allowed(const void *unsafe_src, size_t size)
{
	unsigned long start = (unsigned long)unsafe_src;

	if (size == 0)
		return true;
	if (start + size < start)
		return false;
	if (start >= lkl_memory_start && start + size <= lkl_memory_end)
		return true;
	if (lkl_ops->mem_readable)
		return lkl_ops->mem_readable(unsafe_src, size);
	return start >= SZ_64K;
}

void lkl_mem_halt(void)
{
	lkl_ops->page_free(host_block, host_block_size);
	host_block = NULL;
}
