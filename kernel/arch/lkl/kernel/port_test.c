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

static struct kunit_case lkl_port_cases[] = {
	KUNIT_CASE(lkl_port_zero_page_in_ram),
	KUNIT_CASE(lkl_port_preemption_none),
	{}
};

static struct kunit_suite lkl_port_suite = {
	.name = "lkl_port",
	.test_cases = lkl_port_cases,
};
kunit_test_suite(lkl_port_suite);

MODULE_DESCRIPTION("KUnit tests for silent properties of the lkl port");
MODULE_LICENSE("GPL");
