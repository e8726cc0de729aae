// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel library's public API as produced by the kernel build. The path
 * is relative to this file so the package works from any checkout location.
 */
#include "../../build/out/include/lkl/lkl.h"

/*
 * Words the kernel and the host share in place (a packet receive ring's
 * block status): the host's side of the kernel's smp_rmb()/smp_wmb().
 */
static inline unsigned int lkl_host_load_acquire_u32(const unsigned int *word)
{
	return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

static inline void lkl_host_store_release_u32(unsigned int *word, unsigned int value)
{
	__atomic_store_n(word, value, __ATOMIC_RELEASE);
}
