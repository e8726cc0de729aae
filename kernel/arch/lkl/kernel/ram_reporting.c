// SPDX-License-Identifier: GPL-2.0-only
/*
 * Free RAM goes back to the host. The host lends the kernel's RAM lazily
 * (a page counts against the process once touched), so without this a
 * burst that touches more pages keeps them resident long after the
 * kernel has freed them: a capture that ran through one load spike would
 * stay that much bigger for good. Free page reporting (as virtio-balloon
 * uses it) hands us free blocks of 2^REPORT_ORDER pages a few seconds
 * after they gather in the buddy allocator, each once until it is
 * allocated again; the host drops their memory (page_discard).
 */
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/page_reporting.h>
#include <linux/scatterlist.h>
#include <asm/lkl.h>

/*
 * 128 KiB: what a burst frees coalesces into blocks this large quickly,
 * while pages that churn every moment (per-CPU lists, slab) stay put.
 */
#define REPORT_ORDER	5

static int lkl_report_free_ram(struct page_reporting_dev_info *prdev,
			       struct scatterlist *sgl, unsigned int nents)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(sgl, sg, nents, i)
		lkl_ops->page_discard(sg_virt(sg), sg->length);
	return 0;
}

static struct page_reporting_dev_info lkl_ram_reporting = {
	.report = lkl_report_free_ram,
	.order = REPORT_ORDER,
};

static int __init lkl_ram_reporting_init(void)
{
	if (!lkl_ops->page_discard)
		return 0;
	return page_reporting_register(&lkl_ram_reporting);
}
device_initcall(lkl_ram_reporting_init);
