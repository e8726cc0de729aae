// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <malloc.h>
#include <unistd.h>

#include "host_syscall.h"

long airtap_host_getpid_syscall(void)
{
	return syscall(SYS_getpid);
}

unsigned long airtap_host_heap_in_use_bytes(void)
{
	struct mallinfo2 info = mallinfo2();

	return info.uordblks + info.hblkhd;
}
