/* SPDX-License-Identifier: MIT */
/*
 * What a registration may cover: memory this process can read, and write
 * when a right to write it is asked. One rule for every provider, so a
 * region is refused the same way on tcp (which copies with the CPU and
 * would crash on the first remote write into it) and on verbs (whose kernel
 * pins PROT_NONE memory for a read-only region and lets the device read it).
 */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ  22
#define MADV_POPULATE_WRITE 23
#endif

/* Before Linux 5.14 (no MADV_POPULATE_*): the ranges of /proc/self/maps. */
static bool maps_allow(uintptr_t lo, uintptr_t hi, bool write)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	uintptr_t at = lo;

	if (!f)
		return false;
	while (at < hi && fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char perm[5];

		if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) != 3)
			continue;
		if (e <= at)
			continue;
		if (s > at || perm[0] != 'r' || (write && perm[1] != 'w'))
			break;
		at = e;
	}
	fclose(f);
	return at >= hi;
}

nd_status ndi_check_mapped(const void *buffer, size_t length, bool write)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)buffer & ~(page - 1);
	uintptr_t end = (uintptr_t)buffer + length;

	if (end < (uintptr_t)buffer || end > UINTPTR_MAX - page)
		return ND_ACCESS_VIOLATION;
	uintptr_t hi = (end + page - 1) & ~(page - 1);
	/* Faults the range in as ibv_reg_mr would, failing where it cannot. */
	if (madvise((void *)lo, hi - lo,
		    write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
		return ND_SUCCESS;
	int err = errno;
	if (err == EINVAL && maps_allow(lo, hi, write))
		return ND_SUCCESS;
	if (err == EINTR || err == EAGAIN)
		return ND_INSUFFICIENT_RESOURCES;
	if (err == EINVAL || err == ENOMEM || err == EFAULT) {
		ND_INFO("core",
			"registration of %p + %zu refused: the range is not "
			"all mapped%s",
			buffer, length, write ? " and writable" : "");
		return ND_ACCESS_VIOLATION;
	}
	ND_INFO("core", "registration of %p + %zu: %s", buffer, length,
		strerror(err));
	return ND_INSUFFICIENT_RESOURCES;
}
