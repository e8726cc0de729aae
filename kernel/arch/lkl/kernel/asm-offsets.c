// SPDX-License-Identifier: GPL-2.0-only
/* No assembly in this port needs structure offsets. */
#define ASM_OFFSETS_C
