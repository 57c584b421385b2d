/* SPDX-License-Identifier: MIT */
/*
 * nd-emptypoll IP [N]: opens the netdirect adapter serving IP, creates a CQ
 * and polls it, empty, N times (default 10000) with nd_cq_get_results.
 * bench/callgrind.sh runs it under callgrind to learn what one empty poll
 * costs in the provider, so that it can take nd-pingpong's busy-poll spins
 * out of the instructions per iteration.
 */
#include <netdirect/nd.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct nd_adapter *adapter;
	struct nd_cq *cq;
	struct nd_result r[16];
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 0) : 10000;
	nd_status st;

	if (argc < 2 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: nd-emptypoll IPv4 [N]\n");
		return 2;
	}
	if (ND_FAILED(st = nd_startup()) ||
	    ND_FAILED(st = nd_open_adapter((struct sockaddr *)&sa, sizeof(sa),
					   &adapter)) ||
	    ND_FAILED(st = nd_adapter_create_cq(adapter, 256, 0, 0, &cq))) {
		fprintf(stderr, "nd-emptypoll: setup failed: %s\n",
			nd_strerror(st));
		return 1;
	}
	for (unsigned long i = 0; i < n; i++)
		if (nd_cq_get_results(cq, r, 16)) {
			fprintf(stderr, "nd-emptypoll: unexpected result\n");
			return 1;
		}
	printf("# nd-emptypoll: %lu empty polls\n", n);
	nd_cq_release(cq);
	nd_adapter_release(adapter);
	nd_cleanup();
	return 0;
}
