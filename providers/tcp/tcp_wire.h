/* SPDX-License-Identifier: MIT */
/*
 * The tcp provider's wire protocol, version 1 (docs/providers/tcp-wire.md).
 *
 * Every frame is a 24-byte header, little-endian, followed by `len` bytes of
 * payload. This header has no dependency on the rest of the provider so the
 * frame checker can be fuzzed on its own.
 */
#ifndef TCP_WIRE_H
#define TCP_WIRE_H

#include <stdint.h>

#define TCP_WIRE_MAGIC	 0x4e445443u /* "NDTC" */
#define TCP_WIRE_VERSION 1u

enum tcp_frame_type {
	TCP_F_CONNECT = 1,    /* active -> passive: request + private data */
	TCP_F_ACCEPT = 2,     /* passive -> active: reply + private data */
	TCP_F_REJECT = 3,     /* either side: refusal + private data */
	TCP_F_RTU = 4,	      /* active -> passive: ready to use */
	TCP_F_SEND = 16,      /* payload -> the peer's next receive */
	TCP_F_WRITE = 17,     /* payload -> peer memory (addr, token) */
	TCP_F_READ = 18,      /* ask for aux bytes at (addr, token) */
	TCP_F_READ_RESP = 19, /* payload answering the oldest READ */
	TCP_F_ACK = 20,	      /* aux SEND/WRITE frames were placed */
	TCP_F_NAK = 21,	      /* the oldest request failed: aux = status */
	TCP_F_RNR = 22,	      /* the oldest SEND waits for a receive */
};

#define TCP_FF_SOLICITED 0x01u /* SEND: solicited event */

struct tcp_hdr {
	uint8_t type;
	uint8_t flags;
	uint16_t version; /* TCP_WIRE_VERSION in every frame */
	uint32_t len;	  /* payload bytes after the header */
	uint64_t addr;	  /* WRITE/READ: remote address; CM: read limits */
	uint32_t token;	  /* WRITE/READ: remote token; CONNECT: magic */
	uint32_t aux;	  /* READ: length; ACK: count; NAK: status */
};

_Static_assert(sizeof(struct tcp_hdr) == 24, "wire header is 24 bytes");

/* What a connection expects next; decides which frames are legal. */
enum tcp_wire_state {
	TCP_WS_REQUEST = 1, /* passive, before the CONNECT arrived */
	TCP_WS_REPLY,	    /* active, waiting for ACCEPT or REJECT */
	TCP_WS_RTU,	    /* passive, accepted, waiting for RTU/REJECT */
	TCP_WS_DATA,	    /* established */
};

struct tcp_wire_limits {
	uint32_t max_caller_data;
	uint32_t max_callee_data;
	uint32_t max_transfer;
	uint32_t max_read_sge_bytes; /* unused: READ length <= max_transfer */
};

/*
 * Converts a received header from wire (little-endian) order in place and
 * checks it against the connection state and limits. Returns 0 if the frame
 * is legal, or -1: the peer broke the protocol and the connection must end.
 */
int tcp_wire_check(struct tcp_hdr *h, enum tcp_wire_state state,
		   const struct tcp_wire_limits *lim);
/* Fills a header in wire order. */
void tcp_wire_fill(struct tcp_hdr *h, uint8_t type, uint8_t flags, uint32_t len,
		   uint64_t addr, uint32_t token, uint32_t aux);

#endif
