/* SPDX-License-Identifier: GPL-2.0-only */
#include "fuzz_feedback.h"

/*
 * libFuzzer finds this section through the linker's __start_/__stop_
 * symbols (its "extra counters", Linux only). Races between threads
 * bumping a counter only lose counts, which libFuzzer tolerates.
 */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t counters[AIRTAP_FUZZ_FEEDBACK_COUNTERS];

void airtap_fuzz_feedback_hit(uint32_t feature)
{
	uint8_t *counter = &counters[feature % AIRTAP_FUZZ_FEEDBACK_COUNTERS];
	if (*counter != 255)
		(*counter)++;
}

uint32_t airtap_fuzz_feedback_active(void)
{
	uint32_t active = 0;
	for (uint32_t i = 0; i < AIRTAP_FUZZ_FEEDBACK_COUNTERS; i++)
		active += counters[i] != 0;
	return active;
}
