// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel library's public API as produced by the kernel build. The path
 * is relative to this file so the package works from any checkout location.
 */
#include "../../build/out/include/lkl/lkl.h"
