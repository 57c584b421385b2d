/* SPDX-License-Identifier: MIT */
/*
 * nd-mrlat: memory registration latency, single process (ndmrlat's
 * counterpart). For every size, registers and deregisters the same buffer
 * with one memory region object, timing each call until its result is
 * known: by nd_get_overlapped_result(wait) by default, or with -b through
 * the adapter's overlapped file (poll, then nd_adapter_dequeue_overlapped).
 */
#include "common.h"

#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ex_opts o = {.tool = "nd-mrlat"};
static int ov_fd = -1;
static struct nd_adapter *adapter;

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: nd-mrlat [options] <ip>\n"
	    "  <ip>                 an address of the adapter to measure (IPv4 or IPv6)\n"
	    "  -S, --size MIN:MAX   sizes, powers of two (default 4K:4M)\n"
	    "  -n, --iters N        registrations per size (default 1000)\n"
	    "  -b, --block          wait through the overlapped file (poll + dequeue)\n"
	    "  -j, --json           print the results as one JSON object\n"
	    "  -t, --timeout SEC    bound on every wait (default 10)\n"
	    "  -h, --help\n");
}

/* Waits for an asynchronous registration call; returns its status. */
static nd_status finish(struct nd_mr *mr, struct nd_overlapped *ov,
			nd_status st)
{
	if (st != ND_PENDING)
		return st;
	if (!o.blocking) {
		/* Bounded: poll the status, then block once it is late. */
		uint64_t deadline =
		    ex_now_ns() + (uint64_t)o.timeout_ms * 1000000ull;

		while ((st = nd_get_overlapped_result(mr, ov, false)) ==
		       ND_PENDING) {
			if (ex_now_ns() > deadline) {
				nd_cancel_overlapped(mr);
				return ND_IO_TIMEOUT;
			}
		}
		return st;
	}
	for (;;) {
		struct pollfd pfd = {.fd = ov_fd, .events = POLLIN};
		struct nd_overlapped *got;
		int r = poll(&pfd, 1, o.timeout_ms);

		if (r == 0) {
			nd_cancel_overlapped(mr);
			return ND_IO_TIMEOUT;
		}
		while (nd_adapter_dequeue_overlapped(adapter, 0, &got) ==
		       ND_SUCCESS)
			if (got == ov)
				return nd_get_overlapped_result(mr, ov, false);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 'S'},
	    {"iters", required_argument, NULL, 'n'},
	    {"block", no_argument, NULL, 'b'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct nd_adapter_info info;
	struct ex_samples reg, dereg;
	uint32_t size_max = 0;
	uint64_t iters = 1000;
	struct nd_overlapped ov;
	struct nd_mr *mr;
	char local[80];
	uint8_t *buf;
	nd_status st;
	char *end;
	int ch;

	o.timeout_ms = 10000;
	while ((ch = getopt_long(argc, argv, "S:n:bjt:h", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'S':
			if (ex_parse_sizes(optarg, o.sizes, &o.nsizes)) {
				ex_err(
				    &o,
				    "bad size range '%s' (want N or MIN:MAX, powers of two)",
				    optarg);
				return 2;
			}
			break;
		case 'n':
			iters = strtoull(optarg, &end, 0);
			if (*end || !iters || *optarg == '-') {
				ex_err(&o, "bad iteration count '%s'", optarg);
				return 2;
			}
			break;
		case 'b':
			o.blocking = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 't': {
			double d = strtod(optarg, &end);

			if (*end || !(d > 0) || d > 86400) {
				ex_err(&o, "bad timeout '%s' (seconds)",
				       optarg);
				return 2;
			}
			o.timeout_ms = (int)(d * 1000);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		ex_err(&o, optind >= argc ? "give the adapter's address"
					  : "give exactly one address");
		return 2;
	}
	if (ex_parse_addr(argv[optind], 0, &o.addr, &o.addr_len)) {
		ex_err(&o, "bad address '%s' (want IPv4 or IPv6)",
		       argv[optind]);
		return 2;
	}
	if (!o.nsizes)
		ex_parse_sizes("4K:4M", o.sizes, &o.nsizes);
	for (int i = 0; i < o.nsizes; i++)
		if (o.sizes[i] > size_max)
			size_max = o.sizes[i];

	st = nd_startup();
	if (ND_FAILED(st)) {
		ex_err(&o, "nd_startup failed: %s", ex_status(st));
		return 1;
	}
	if (ND_FAILED(ex_open_adapter(&o, (struct sockaddr *)&o.addr,
				      o.addr_len, &adapter, &info)))
		return 1;
	if (size_max > info.max_registration_size) {
		ex_err(
		    &o,
		    "size %u exceeds the adapter's registration limit %" PRIu64,
		    size_max, info.max_registration_size);
		return 1;
	}
	if (o.blocking && ND_FAILED(st = nd_adapter_create_overlapped_file(
					adapter, &ov_fd))) {
		ex_err(&o, "cannot create the overlapped file: %s",
		       ex_status(st));
		return 1;
	}
	st = nd_adapter_create_mr(adapter, &mr);
	if (ND_FAILED(st)) {
		ex_err(&o, "creating a memory region failed: %s",
		       ex_status(st));
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, size_max)) {
		ex_err(&o, "out of memory");
		return 1;
	}
	memset(buf, 0xa5, size_max);
	ex_host_str((struct sockaddr *)&o.addr, local, sizeof(local));

	if (o.json) {
		char extra[128];

		snprintf(extra, sizeof(extra), "  \"mode\": \"%s\",\n",
			 o.blocking ? "blocking" : "get_overlapped_result");
		ex_json_begin(&o, "memory registration latency", adapter, &info,
			      local, NULL, extra);
	} else {
		printf(
		    "# nd-mrlat: memory registration latency (register and deregister, same region object)\n");
		printf(
		    "# adapter serving %s: vendor 0x%04x device 0x%04x id 0x%016" PRIx64
		    "\n",
		    local, info.vendor_id, info.device_id, info.adapter_id);
		printf("# result awaited by %s; times in microseconds\n",
		       o.blocking ? "poll on the overlapped file + dequeue"
				  : "nd_get_overlapped_result");
		ex_table_header(&o, "op         ", false);
	}

	memset(&reg, 0, sizeof(reg));
	memset(&dereg, 0, sizeof(dereg));
	reg.ns = calloc(iters, sizeof(uint32_t));
	dereg.ns = calloc(iters, sizeof(uint32_t));
	if (!reg.ns || !dereg.ns) {
		ex_err(&o, "out of memory");
		return 1;
	}
	for (int i = 0; i < o.nsizes; i++) {
		uint32_t size = o.sizes[i];
		uint64_t t0, t1, start;

		reg.n = dereg.n = 0;
		reg.cap = dereg.cap = iters;
		reg.elapsed_ns = dereg.elapsed_ns = 0;
		for (uint64_t k = 0; k < iters; k++) {
			memset(&ov, 0, sizeof(ov));
			start = t0 = ex_now_ns();
			st = finish(mr, &ov,
				    nd_mr_register(mr, buf, size,
						   ND_MR_FLAG_ALLOW_LOCAL_WRITE,
						   &ov));
			t1 = ex_now_ns();
			if (ND_FAILED(st)) {
				ex_err(&o, "registering %u bytes failed: %s",
				       size, ex_status(st));
				return 1;
			}
			ex_sample_add(&reg, t1 - t0);
			reg.elapsed_ns += t1 - start;
			memset(&ov, 0, sizeof(ov));
			t0 = ex_now_ns();
			st = finish(mr, &ov, nd_mr_deregister(mr, &ov));
			t1 = ex_now_ns();
			if (ND_FAILED(st)) {
				ex_err(&o, "deregistering %u bytes failed: %s",
				       size, ex_status(st));
				return 1;
			}
			ex_sample_add(&dereg, t1 - t0);
			dereg.elapsed_ns += t1 - t0;
		}
		reg.msgs = dereg.msgs = iters;
		ex_table_row(&o, "register", size, &reg, false);
		ex_table_row(&o, "deregister", size, &dereg, false);
	}
	if (o.json)
		ex_json_end();
	nd_mr_release(mr);
	if (ov_fd >= 0)
		close(ov_fd);
	nd_adapter_release(adapter);
	nd_cleanup();
	free(buf);
	free(reg.ns);
	free(dereg.ns);
	return 0;
}
