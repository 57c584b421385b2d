/* SPDX-License-Identifier: MIT */
/*
 * A provider built against a newer, unknown ABI: the core must refuse it
 * cleanly (it serves 203.0.113.9, which must then stay unserved).
 */
#include <netdirect/nd_provider.h>

#include <arpa/inet.h>

static nd_status fa_list(struct nd_address_list *list, size_t *size)
{
	(void)list;
	*size = 0;
	return ND_SUCCESS;
}

static nd_status fa_resolve(const struct sockaddr *addr, size_t len,
			    uint64_t *id)
{
	(void)len;
	if (addr->sa_family != AF_INET ||
	    ((const struct sockaddr_in *)addr)->sin_addr.s_addr !=
		htonl(0xcb007109)) /* 203.0.113.9 */
		return ND_INVALID_ADDRESS;
	*id = 1;
	return ND_SUCCESS;
}

static nd_status fa_open(uint64_t id, struct nd_adapter **out)
{
	(void)id;
	(void)out;
	return ND_NO_MEMORY;
}

static const struct nd_provider future_provider = {
    .abi_version = ND_PROVIDER_ABI_VERSION + 1,
    .size = sizeof(struct nd_provider) + 8,
    .name = "future",
    .query_address_list = fa_list,
    .resolve_address = fa_resolve,
    .open_adapter = fa_open,
};

const struct nd_provider *nd_provider_entry(uint32_t core_abi);

const struct nd_provider *nd_provider_entry(uint32_t core_abi)
{
	(void)core_abi;
	return &future_provider;
}
