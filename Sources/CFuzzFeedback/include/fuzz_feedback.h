/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Feedback for libFuzzer from what the kernel did, not only from the
 * instrumented Swift code: the kernel library is not built with coverage
 * instrumentation, so the fuzz harness hashes what it can observe of the
 * kernel (the control requests it sends, console message templates, the
 * frames it captures) into libFuzzer's "extra counters". libFuzzer clears
 * them before each input and treats a counter going non-zero (or into a
 * new power-of-two bucket) as new coverage. Without libFuzzer linked in
 * the counters are just an unused array.
 */
#ifndef AIRTAP_FUZZ_FEEDBACK_H
#define AIRTAP_FUZZ_FEEDBACK_H

#include <stdint.h>

#define AIRTAP_FUZZ_FEEDBACK_COUNTERS 16384

/* Counts one occurrence of @feature (any 32-bit hash). Any thread. */
void airtap_fuzz_feedback_hit(uint32_t feature);

/* How many counters are non-zero now (for the harness's own statistics). */
uint32_t airtap_fuzz_feedback_active(void);

#endif
