// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite lkl_port: properties of the port that nothing else would
 * notice when they break, because builds and boots go on regardless
 * (each was a silent change when the kernel moved to 7.x).
 */
#include <kunit/test.h>
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/preempt.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/lkl.h>

/*
 * ZERO_PAGE must be a page of our RAM: the generic one is an array in
 * the host program's image, where virt_to_page() yields a struct page
 * outside mem_map (mm/gup hands it out for reads of untouched memory).
 */
static void lkl_port_zero_page_in_ram(struct kunit *test)
{
	struct page *zero = ZERO_PAGE(0);
	unsigned long pfn = page_to_pfn(zero);
	unsigned long addr;

	KUNIT_ASSERT_TRUE_MSG(test, pfn_valid(pfn),
			      "zero page pfn %#lx is not RAM (pfns %#lx..%#lx)",
			      pfn, ARCH_PFN_OFFSET, max_pfn);
	KUNIT_EXPECT_TRUE(test, is_zero_pfn(pfn));
	addr = (unsigned long)page_address(zero);
	KUNIT_EXPECT_GE(test, addr, lkl_memory_start);
	KUNIT_EXPECT_LT(test, addr, lkl_memory_end);
	/* Never given to the page allocator, and still all zeroes. */
	KUNIT_EXPECT_TRUE(test, PageReserved(zero));
	KUNIT_EXPECT_NULL(test, memchr_inv((void *)addr, 0, PAGE_SIZE));
}

/*
 * Nothing preempts a task on return from an interrupt here, so the
 * kernel must be built for PREEMPT_NONE; without ARCH_NO_PREEMPT a
 * default configuration quietly becomes PREEMPT_VOLUNTARY.
 */
static void lkl_port_preemption_none(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, preempt_model_str(), "NONE");
	KUNIT_EXPECT_TRUE(test, preempt_model_none());
}

/*
 * The nofault accessors must fail, not kill the process, on memory that
 * is not mapped (diagnostics such as print_worker_info follow pointers
 * that may be stale): a NULL-based pointer and a non-canonical one,
 * which no host maps. Our RAM still reads.
 */
static void lkl_port_nofault_reads(struct kunit *test)
{
	static const char *const unmapped[] = {
		(const char *)16,
		(const char *)(1UL << (BITS_PER_LONG - 1)),
	};
	char *ram = kunit_kmalloc(test, 32, GFP_KERNEL);
	char copy[32];
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ram);
	strscpy(ram, "readable", 32);
	KUNIT_EXPECT_EQ(test, copy_from_kernel_nofault(copy, ram, 32), 0);
	KUNIT_EXPECT_STREQ(test, copy, "readable");
	KUNIT_EXPECT_EQ(test, strncpy_from_kernel_nofault(copy, ram, 32), 9);

	for (i = 0; i < ARRAY_SIZE(unmapped); i++) {
		KUNIT_EXPECT_LT(test, copy_from_kernel_nofault(copy, unmapped[i], 8), 0);
		KUNIT_EXPECT_LT(test, strncpy_from_kernel_nofault(copy, unmapped[i], 8), 0);
	}
}

static struct kunit_case lkl_port_cases[] = {
	KUNIT_CASE(lkl_port_zero_page_in_ram),
	KUNIT_CASE(lkl_port_preemption_none),
	KUNIT_CASE(lkl_port_nofault_reads),
	{}
};

static struct kunit_suite lkl_port_suite = {
	.name = "lkl_port",
	.test_cases = lkl_port_cases,
};
kunit_test_suite(lkl_port_suite);

MODULE_DESCRIPTION("KUnit tests for silent properties of the lkl port");
MODULE_LICENSE("GPL");
