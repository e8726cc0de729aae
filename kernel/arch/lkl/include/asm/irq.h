/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_IRQ_H
#define _ASM_LKL_IRQ_H

/* Line 0 is never used; pending lines fit one 64-bit word. */
#define NR_IRQS		64

#endif
