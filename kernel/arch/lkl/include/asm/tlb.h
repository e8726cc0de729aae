/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_TLB_H
#define _ASM_LKL_TLB_H

/* NOMMU: no TLB. */
#include <linux/pagemap.h>
#define tlb_flush(tlb)	((void)(tlb))
#include <asm-generic/tlb.h>

#endif
