/* SPDX-License-Identifier: MIT */
/*
 * tcp provider only: helpers for a peer that speaks the wire protocol
 * (providers/tcp/tcp_wire.h) over a plain socket, for the hostile-peer
 * tests. Blocking sockets; every wait is bounded by TC_TIMEOUT_MS.
 */
#ifndef RAW_PEER_H
#define RAW_PEER_H

#include "../../providers/tcp/tcp_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

bool send_all(int fd, const void *p, size_t n);
/* False on EOF, error or TC_TIMEOUT_MS without data. */
bool recv_all(int fd, void *p, size_t n);
/* A TCP connection to dest; asserts success. */
int raw_connect(const struct sockaddr_storage *dest, uint32_t dest_len);
/* The same from the local IPv4 address `src` (e.g. "127.0.0.2": another
 * source on loopback); NULL lets the kernel choose. */
int raw_connect_from(const struct sockaddr_storage *dest, uint32_t dest_len,
		     const char *src);
/* The CONNECT frame (limits 8/8) and `len` bytes of private data. */
void raw_connect_frame(struct tcp_hdr *h, uint32_t len);
/* Whether the other end closed within timeout_ms (bytes before the end are
 * read and dropped). */
bool raw_closed_within(int fd, int timeout_ms);

#endif
