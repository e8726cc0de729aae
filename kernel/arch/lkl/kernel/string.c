// SPDX-License-Identifier: GPL-2.0-only
/*
 * memcpy/memset/memmove: URB payloads and packets move through these,
 * so they use the host CPU's fast string instructions where it has them
 * instead of lib/string.c's byte loops.
 */
#include <linux/types.h>
#include <linux/export.h>
#include <linux/string.h>

void *memcpy(void *dest, const void *src, size_t count)
{
#if defined(__x86_64__)
	void *ret = dest;

	asm volatile("rep movsb"
		     : "+D" (dest), "+S" (src), "+c" (count)
		     : : "memory");
	return ret;
#else
	char *d = dest;
	const char *s = src;

	while (count >= sizeof(long)) {
		*(long *)d = *(const long *)s;
		d += sizeof(long);
		s += sizeof(long);
		count -= sizeof(long);
	}
	while (count--)
		*d++ = *s++;
	return dest;
#endif
}
EXPORT_SYMBOL(memcpy);

void *memset(void *s, int c, size_t count)
{
#if defined(__x86_64__)
	void *ret = s;

	asm volatile("rep stosb"
		     : "+D" (s), "+c" (count)
		     : "a" (c) : "memory");
	return ret;
#else
	char *p = s;

	while (count--)
		*p++ = c;
	return s;
#endif
}
EXPORT_SYMBOL(memset);

void *memmove(void *dest, const void *src, size_t count)
{
	char *d = dest;
	const char *s = src;

	if (d <= s || d >= s + count)
		return memcpy(dest, src, count);
	while (count--)
		d[count] = s[count];
	return dest;
}
EXPORT_SYMBOL(memmove);
