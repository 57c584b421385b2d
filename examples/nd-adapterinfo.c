/* SPDX-License-Identifier: MIT */
/*
 * nd-adapterinfo: every address a netdirect provider serves, and the
 * adapter behind it with its limits (ndadapterinfo's counterpart, shaped
 * like ibv_devinfo). With an address, only that one.
 */
#include "common.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static struct ex_opts o = {.tool = "nd-adapterinfo"};

/* The adapter's own addresses, comma separated. */
static void adapter_addresses(struct nd_adapter *a, char *out, size_t len)
{
	uint32_t size = 0;
	struct nd_address_list *list;
	size_t used = 0;

	out[0] = 0;
	if (nd_adapter_query_address_list(a, NULL, &size) !=
		ND_BUFFER_OVERFLOW ||
	    !size)
		return;
	list = malloc(size);
	if (!list)
		return;
	if (ND_SUCCEEDED(nd_adapter_query_address_list(a, list, &size))) {
		for (int32_t i = 0; i < list->count && used + 2 < len; i++) {
			char h[80];

			ex_host_str(list->address[i].sockaddr, h, sizeof(h));
			used += (size_t)snprintf(out + used, len - used, "%s%s",
						 i ? ", " : "", h);
		}
	}
	free(list);
}

struct field {
	const char *name;
	const char *json;
	uint64_t value;
};

/* Adapters already printed, by id and address list. */
static struct seen {
	uint64_t id;
	char addrs[1024];
	char first[80];
} seen[64];
static int nseen;

static const char *seen_before(uint64_t id, const char *addrs, const char *host)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i].id == id && !strcmp(seen[i].addrs, addrs))
			return seen[i].first;
	if (nseen < (int)(sizeof(seen) / sizeof(seen[0]))) {
		seen[nseen].id = id;
		snprintf(seen[nseen].addrs, sizeof(seen[nseen].addrs), "%s",
			 addrs);
		snprintf(seen[nseen].first, sizeof(seen[nseen].first), "%s",
			 host);
		nseen++;
	}
	return NULL;
}

static int show(const struct sockaddr *sa, uint32_t len, bool first)
{
	struct nd_adapter *a;
	struct nd_adapter_info in;
	char host[80], addrs[1024];
	const char *same;

	ex_host_str(sa, host, sizeof(host));
	if (ND_FAILED(ex_open_adapter(&o, sa, len, &a, &in)))
		return 1;
	adapter_addresses(a, addrs, sizeof(addrs));
	struct nd_adapter_identity id;
	if (ND_FAILED(nd_adapter_get_identity(a, &id)))
		memset(&id, 0, sizeof(id));
	same = seen_before(in.adapter_id, addrs, host);
	if (same && !o.json) {
		printf("\naddress: %s\n\tadapter: the same as for %s\n", host,
		       same);
		nd_adapter_release(a);
		return 0;
	}
	const struct field f[] = {
	    {"InfoVersion", "info_version", in.info_version},
	    {"VendorId", "vendor_id", in.vendor_id},
	    {"DeviceId", "device_id", in.device_id},
	    {"AdapterId", "adapter_id", in.adapter_id},
	    {"MaxRegistrationSize", "max_registration_size",
	     in.max_registration_size},
	    {"MaxWindowSize", "max_window_size", in.max_window_size},
	    {"MaxInitiatorSge", "max_initiator_sge", in.max_initiator_sge},
	    {"MaxReceiveSge", "max_receive_sge", in.max_receive_sge},
	    {"MaxReadSge", "max_read_sge", in.max_read_sge},
	    {"MaxTransferLength", "max_transfer_length",
	     in.max_transfer_length},
	    {"MaxInlineDataSize", "max_inline_data_size",
	     in.max_inline_data_size},
	    {"MaxInboundReadLimit", "max_inbound_read_limit",
	     in.max_inbound_read_limit},
	    {"MaxOutboundReadLimit", "max_outbound_read_limit",
	     in.max_outbound_read_limit},
	    {"MaxReceiveQueueDepth", "max_receive_queue_depth",
	     in.max_receive_queue_depth},
	    {"MaxInitiatorQueueDepth", "max_initiator_queue_depth",
	     in.max_initiator_queue_depth},
	    {"MaxSharedReceiveQueueDepth", "max_shared_receive_queue_depth",
	     in.max_shared_receive_queue_depth},
	    {"MaxCompletionQueueDepth", "max_completion_queue_depth",
	     in.max_completion_queue_depth},
	    {"InlineRequestThreshold", "inline_request_threshold",
	     in.inline_request_threshold},
	    {"LargeRequestThreshold", "large_request_threshold",
	     in.large_request_threshold},
	    {"MaxCallerData", "max_caller_data", in.max_caller_data},
	    {"MaxCalleeData", "max_callee_data", in.max_callee_data},
	};
	if (o.json) {
		printf("%s\n    {\"address\": \"%s\", \"adapter_addresses\": "
		       "\"%s\", \"provider\": \"%s\", \"device\": \"%s\", "
		       "\"transport\": \"%s\"",
		       first ? "" : ",", host, addrs, id.provider, id.device,
		       id.transport);
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			if (!strcmp(f[i].json, "adapter_id") ||
			    !strcmp(f[i].json, "info_version"))
				printf(", \"%s\": \"0x%" PRIx64 "\"", f[i].json,
				       f[i].value);
			else
				printf(", \"%s\": %" PRIu64, f[i].json,
				       f[i].value);
		}
		printf(", \"adapter_flags\": [");
		for (uint32_t bit = 1, n = 0; bit; bit <<= 1) {
			if (!(in.adapter_flags & bit))
				continue;
			printf("%s\"", n++ ? ", " : "");
			ex_print_flags(stdout, bit, "");
			printf("\"");
		}
		printf("]}");
	} else {
		printf("%saddress: %s\n", first ? "" : "\n", host);
		printf("\tadapter addresses: %s\n", addrs[0] ? addrs : "?");
		printf("\tprovider: %s\n\tdevice: %s\n\ttransport: %s\n",
		       id.provider, id.device[0] ? id.device : "?",
		       id.transport[0] ? id.transport : "?");
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			if (!strcmp(f[i].json, "adapter_id"))
				printf("\t%s: 0x%016" PRIx64 "\n", f[i].name,
				       f[i].value);
			else if (!strcmp(f[i].json, "info_version") ||
				 !strcmp(f[i].json, "vendor_id") ||
				 !strcmp(f[i].json, "device_id"))
				printf("\t%s: 0x%" PRIx64 "\n", f[i].name,
				       f[i].value);
			else
				printf("\t%s: %" PRIu64 "\n", f[i].name,
				       f[i].value);
		}
		printf("\tAdapterFlags: 0x%08x", in.adapter_flags);
		if (in.adapter_flags) {
			printf("\n\t\t");
			ex_print_flags(stdout, in.adapter_flags, "\n\t\t");
		}
		printf("\n");
	}
	nd_adapter_release(a);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct nd_address_list *list = NULL;
	size_t size = 0;
	nd_status st;
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o.json = true;
			break;
		case 'h':
			printf(
			    "usage: nd-adapterinfo [--json] [<ip>]\n"
			    "  Lists every address a netdirect provider serves and its adapter's\n"
			    "  limits; with <ip> (IPv4 or IPv6), only that address.\n");
			return 0;
		default:
			fprintf(stderr,
				"usage: nd-adapterinfo [--json] [<ip>]\n");
			return 2;
		}
	}
	if (argc - optind > 1) {
		ex_err(&o, "give at most one address");
		return 2;
	}
	if (optind < argc &&
	    ex_parse_addr(argv[optind], 0, &o.addr, &o.addr_len)) {
		ex_err(&o, "bad address '%s' (want IPv4 or IPv6)",
		       argv[optind]);
		return 2;
	}
	st = nd_startup();
	if (ND_FAILED(st)) {
		ex_err(&o, "nd_startup failed: %s", ex_status(st));
		return 1;
	}
	if (optind == argc) {
		st = nd_query_address_list(0, NULL, &size);
		if (st == ND_BUFFER_OVERFLOW && size) {
			list = malloc(size);
			if (!list) {
				ex_err(&o, "out of memory");
				return 1;
			}
			st = nd_query_address_list(0, list, &size);
		}
		if (ND_FAILED(st)) {
			ex_err(&o, "listing addresses failed: %s",
			       ex_status(st));
			return 1;
		}
		if (!list || !list->count) {
			ex_err(
			    &o,
			    "no netdirect adapter found (no provider serves any address%s)",
			    getenv("ND_PROVIDERS") ? "; ND_PROVIDERS is set"
						   : "");
			nd_cleanup();
			return 1;
		}
	}
	if (o.json)
		printf("{\n  \"addresses\": [");
	if (list) {
		for (int32_t i = 0; i < list->count; i++)
			rc |= show(list->address[i].sockaddr,
				   (uint32_t)list->address[i].length, i == 0);
	} else {
		rc = show((struct sockaddr *)&o.addr, o.addr_len, true);
	}
	if (o.json)
		printf("\n  ]\n}\n");
	free(list);
	nd_cleanup();
	return rc;
}
