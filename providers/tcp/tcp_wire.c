/* SPDX-License-Identifier: MIT */
/* Frame header encoding and validation: everything from the network. */
#include "tcp_wire.h"

#include <endian.h>

void tcp_wire_fill(struct tcp_hdr *h, uint8_t type, uint8_t flags, uint32_t len,
		   uint64_t addr, uint32_t token, uint32_t aux)
{
	h->type = type;
	h->flags = flags;
	h->version = htole16(TCP_WIRE_VERSION);
	h->len = htole32(len);
	h->addr = htole64(addr);
	h->token = htole32(token);
	h->aux = htole32(aux);
}

int tcp_wire_check(struct tcp_hdr *h, enum tcp_wire_state state,
		   const struct tcp_wire_limits *lim)
{
	h->version = le16toh(h->version);
	h->len = le32toh(h->len);
	h->addr = le64toh(h->addr);
	h->token = le32toh(h->token);
	h->aux = le32toh(h->aux);

	if (h->version != TCP_WIRE_VERSION)
		return -1;
	switch (state) {
	case TCP_WS_REQUEST:
		return h->type == TCP_F_CONNECT && h->flags == 0 &&
			       h->token == TCP_WIRE_MAGIC &&
			       h->len <= lim->max_caller_data
			   ? 0
			   : -1;
	case TCP_WS_REPLY:
		if (h->type != TCP_F_ACCEPT && h->type != TCP_F_REJECT)
			return -1;
		return h->flags == 0 && h->len <= lim->max_callee_data ? 0 : -1;
	case TCP_WS_RTU:
		if (h->type == TCP_F_RTU)
			return h->flags == 0 && h->len == 0 ? 0 : -1;
		if (h->type == TCP_F_REJECT)
			return h->flags == 0 && h->len <= lim->max_callee_data
				   ? 0
				   : -1;
		return -1;
	case TCP_WS_DATA:
		break;
	default:
		return -1;
	}

	switch (h->type) {
	case TCP_F_SEND:
		if (h->flags & ~TCP_FF_SOLICITED)
			return -1;
		return h->len <= lim->max_transfer ? 0 : -1;
	case TCP_F_WRITE:
		if (h->flags)
			return -1;
		if (h->len > lim->max_transfer)
			return -1;
		/* the range must not wrap */
		return h->addr + h->len >= h->addr ? 0 : -1;
	case TCP_F_READ:
		if (h->flags || h->len)
			return -1;
		if (h->aux > lim->max_transfer)
			return -1;
		return h->addr + h->aux >= h->addr ? 0 : -1;
	case TCP_F_READ_RESP:
		return h->flags == 0 && h->len <= lim->max_transfer ? 0 : -1;
	case TCP_F_ACK:
		return h->flags == 0 && h->len == 0 && h->aux > 0 ? 0 : -1;
	case TCP_F_NAK:
		/* an error status: negative as nd_status */
		return h->flags == 0 && h->len == 0 && (h->aux & 0x80000000u)
			   ? 0
			   : -1;
	case TCP_F_RNR:
		return h->flags == 0 && h->len == 0 ? 0 : -1;
	default:
		return -1;
	}
}
