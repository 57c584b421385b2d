/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the tcp provider's frame checker: the input is a
 * byte stream as a peer would send it, run through the same state walk a
 * connection makes (request -> accepting -> established, or reply ->
 * established). Every header the checker accepts must satisfy the
 * invariants the receive path relies on; anything else aborts.
 */
#include "../tcp_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct tcp_wire_limits lim = {
    .max_caller_data = 196,
    .max_callee_data = 148,
    .max_transfer = 1u << 30,
};

static void check(const struct tcp_hdr *h, enum tcp_wire_state st)
{
	if (h->version != TCP_WIRE_VERSION)
		abort();
	if (h->len > lim.max_transfer)
		abort();
	switch (st) {
	case TCP_WS_REQUEST:
		if (h->type != TCP_F_CONNECT || h->len > lim.max_caller_data ||
		    h->token != TCP_WIRE_MAGIC)
			abort();
		break;
	case TCP_WS_REPLY:
	case TCP_WS_RTU:
		if (h->len > lim.max_callee_data)
			abort();
		break;
	case TCP_WS_DATA:
		if (h->type < TCP_F_SEND || h->type > TCP_F_RNR)
			abort();
		if (h->type == TCP_F_WRITE && h->addr + h->len < h->addr)
			abort();
		if (h->type == TCP_F_READ &&
		    (h->len || h->addr + h->aux < h->addr))
			abort();
		if (h->type == TCP_F_ACK && (h->len || !h->aux))
			abort();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tcp_wire_state st;
	struct tcp_hdr h;

	if (size < 1)
		return 0;
	st = (enum tcp_wire_state)(data[0] % 4 + 1);
	data++;
	size--;
	while (size >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		data += sizeof(h);
		size -= sizeof(h);
		if (tcp_wire_check(&h, st, &lim) < 0)
			return 0; /* the connection closes */
		check(&h, st);
		/* the payload follows the header */
		size_t skip = h.len < size ? h.len : size;
		data += skip;
		size -= skip;
		switch (st) {
		case TCP_WS_REQUEST:
			st = TCP_WS_RTU; /* accepted */
			break;
		case TCP_WS_REPLY:
			if (h.type == TCP_F_REJECT)
				return 0;
			st = TCP_WS_DATA; /* CompleteConnect */
			break;
		case TCP_WS_RTU:
			if (h.type == TCP_F_REJECT)
				return 0;
			st = TCP_WS_DATA;
			break;
		case TCP_WS_DATA:
			if (h.type == TCP_F_NAK)
				return 0;
			break;
		}
	}
	return 0;
}
