/* SPDX-License-Identifier: MIT */
/* The framework calls of ndsupport.h: address list, resolve, check, open. */
#include "core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

nd_status ndi_check_sockaddr(const struct sockaddr *addr, size_t len,
			     nd_status bad_len)
{
	if (len < sizeof(struct sockaddr) || len > UINT32_MAX)
		return bad_len;
	switch (addr->sa_family) {
	case AF_INET:
		return ND_SUCCESS; /* 16 bytes, checked above */
	case AF_INET6:
		return len < sizeof(struct sockaddr_in6) ? bad_len : ND_SUCCESS;
	default:
		return ND_INVALID_ADDRESS;
	}
}

nd_status nd_address_list_build(const struct sockaddr_storage *addrs,
				uint32_t count, struct nd_address_list *list,
				size_t *size)
{
	size_t need = offsetof(struct nd_address_list, address);
	uint32_t n = 0;

	for (uint32_t i = 0; i < count; i++) {
		int family = addrs[i].ss_family;
		if (family != AF_INET && family != AF_INET6)
			continue;
		need +=
		    sizeof(struct nd_socket_address) +
		    nd_util_sockaddr_len((const struct sockaddr *)&addrs[i]);
		n++;
	}
	if (!list || *size < need) {
		*size = need;
		return ND_BUFFER_OVERFLOW;
	}

	char *body = (char *)&list->address[n];
	uint32_t at = 0;
	for (uint32_t i = 0; i < count; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i];
		socklen_t len;

		if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
			continue;
		len = nd_util_sockaddr_len(sa);
		memcpy(body, sa, len);
		list->address[at].sockaddr = (struct sockaddr *)body;
		list->address[at].length = (int32_t)len;
		body += len;
		at++;
	}
	list->count = (int32_t)n;
	*size = need;
	return ND_SUCCESS;
}

/*
 * One provider's addresses, through its own size protocol (retried: the
 * list may change between the calls). Returns a malloc'd list or NULL.
 */
static struct nd_address_list *provider_addresses(const struct nd_provider *p)
{
	struct nd_address_list *list = NULL;
	size_t size = 0;

	for (int attempt = 0; attempt < 4; attempt++) {
		nd_status st = p->query_address_list(list, &size);

		if (st == ND_SUCCESS)
			return list;
		free(list);
		list = NULL;
		if (st != ND_BUFFER_OVERFLOW || size == 0)
			return NULL;
		list = calloc(1, size);
		if (!list)
			return NULL;
	}
	free(list);
	return NULL;
}

nd_status nd_query_address_list(uint32_t flags, struct nd_address_list *list,
				size_t *size)
{
	const uint32_t known = ND_QUERY_EXCLUDE_EMULATOR_ADDRESSES |
			       ND_QUERY_EXCLUDE_NDV1_ADDRESSES |
			       ND_QUERY_EXCLUDE_NDV2_ADDRESSES;
	struct sockaddr_storage *addrs = NULL;
	uint32_t n = 0, cap = 0;
	nd_status st;

	if (!ndi_started())
		return ND_DEVICE_NOT_READY;
	if (flags & ~known)
		return ND_INVALID_PARAMETER_1;
	if (!size)
		return ND_INVALID_PARAMETER_3;

	/* Every provider here is a v2 provider. */
	for (unsigned p = 0;
	     !(flags & ND_QUERY_EXCLUDE_NDV2_ADDRESSES) && ndi_provider(p);
	     p++) {
		struct nd_address_list *pl =
		    provider_addresses(ndi_provider(p));

		for (int i = 0; pl && i < pl->count; i++) {
			const struct sockaddr *sa = pl->address[i].sockaddr;
			bool dup = false;

			for (uint32_t j = 0; j < n && !dup; j++)
				dup = nd_util_sockaddr_same_ip(
				    (struct sockaddr *)&addrs[j], sa);
			if (dup)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				void *grown =
				    realloc(addrs, cap * sizeof(*addrs));
				if (!grown) {
					free(pl);
					free(addrs);
					return ND_NO_MEMORY;
				}
				addrs = grown;
			}
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n++], sa, nd_util_sockaddr_len(sa));
		}
		free(pl);
	}

	if (n == 0) {
		*size = 0;
		free(addrs);
		return ND_SUCCESS;
	}
	st = nd_address_list_build(addrs, n, list, size);
	free(addrs);
	return st;
}

nd_status nd_check_address(const struct sockaddr *addr, size_t len)
{
	nd_status st;
	uint64_t id;

	if (!ndi_started())
		return ND_DEVICE_NOT_READY;
	if (!addr)
		return ND_INVALID_PARAMETER_1;
	st = ndi_check_sockaddr(addr, len, ND_INVALID_PARAMETER_2);
	if (ND_FAILED(st))
		return st;
	for (unsigned p = 0; ndi_provider(p); p++)
		if (ndi_provider(p)->resolve_address(addr, len, &id) ==
		    ND_SUCCESS)
			return ND_SUCCESS;
	return ND_INVALID_ADDRESS;
}

nd_status nd_open_adapter(const struct sockaddr *addr, size_t len,
			  struct nd_adapter **adapter)
{
	nd_status st, last = ND_INVALID_ADDRESS;
	uint64_t id;

	if (!ndi_started())
		return ND_DEVICE_NOT_READY;
	if (!addr)
		return ND_INVALID_PARAMETER_1;
	if (!adapter)
		return ND_INVALID_PARAMETER_3;
	st = ndi_check_sockaddr(addr, len, ND_INVALID_PARAMETER_2);
	if (ND_FAILED(st))
		return st;

	/* Best provider first; one that fails to open is skipped. */
	for (unsigned p = 0; ndi_provider(p); p++) {
		const struct nd_provider *prov = ndi_provider(p);

		if (prov->resolve_address(addr, len, &id) != ND_SUCCESS)
			continue;
		st = prov->open_adapter(id, adapter);
		if (ND_SUCCEEDED(st))
			return NDI_PUBLISH(ND_SUCCESS, adapter);
		ND_INFO("core", "provider %s could not open adapter %llu: %s",
			prov->name, (unsigned long long)id, nd_strerror(st));
		last = st;
	}
	return last;
}

nd_status nd_open_v1_adapter(const struct sockaddr *addr, size_t len,
			     struct nd_adapter **adapter)
{
	(void)addr;
	(void)len;
	(void)adapter;
	ND_WARN("core", "NetworkDirect v1 adapters are not supported");
	return ND_NOT_SUPPORTED;
}

static nd_status errno_to_route_status(int err)
{
	switch (err) {
	case ENETUNREACH:
	case ENETDOWN:
		return ND_NETWORK_UNREACHABLE;
	case EHOSTUNREACH:
		return ND_HOST_UNREACHABLE;
	case EAFNOSUPPORT:
	case EADDRNOTAVAIL:
	case EINVAL:
		return ND_INVALID_ADDRESS;
	default:
		return ND_UNSUCCESSFUL;
	}
}

nd_status nd_resolve_address(const struct sockaddr *remote, size_t remote_len,
			     struct sockaddr *local, size_t *local_len)
{
	struct sockaddr_storage dst, src;
	socklen_t src_len = sizeof(src);
	nd_status st;
	uint64_t id;
	int fd;

	if (!ndi_started())
		return ND_DEVICE_NOT_READY;
	if (!remote)
		return ND_INVALID_PARAMETER_1;
	st = ndi_check_sockaddr(remote, remote_len, ND_INVALID_PARAMETER_2);
	if (ND_FAILED(st))
		return st;
	if (!local_len)
		return ND_INVALID_PARAMETER_4;
	if (nd_util_sockaddr_is_any(remote))
		return ND_INVALID_ADDRESS;

	/* A connected UDP socket asks the kernel's routing table, sending
	 * nothing; the port only has to be non-zero. */
	memset(&dst, 0, sizeof(dst));
	memcpy(&dst, remote, nd_util_sockaddr_len(remote));
	if (dst.ss_family == AF_INET)
		((struct sockaddr_in *)&dst)->sin_port = htons(9);
	else
		((struct sockaddr_in6 *)&dst)->sin6_port = htons(9);
	fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno_to_route_status(errno);
	if (connect(fd, (struct sockaddr *)&dst,
		    nd_util_sockaddr_len((struct sockaddr *)&dst)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&src, &src_len) < 0) {
		st = errno_to_route_status(errno);
		close(fd);
		return st;
	}
	close(fd);

	if (src.ss_family == AF_INET)
		((struct sockaddr_in *)&src)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&src)->sin6_port = 0;
	st = ND_INVALID_ADDRESS;
	for (unsigned p = 0; ndi_provider(p) && st != ND_SUCCESS; p++)
		if (ndi_provider(p)->resolve_address(
			(struct sockaddr *)&src, src_len, &id) == ND_SUCCESS)
			st = ND_SUCCESS;
	if (st != ND_SUCCESS)
		return st;

	size_t need = nd_util_sockaddr_len((struct sockaddr *)&src);
	if (!local || *local_len < need) {
		*local_len = need;
		return ND_BUFFER_OVERFLOW;
	}
	memcpy(local, &src, need);
	*local_len = need;
	return ND_SUCCESS;
}
