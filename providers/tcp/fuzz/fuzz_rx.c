/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the tcp provider's real receive path: each input is
 * what a hostile peer sends over a real connection to a real adapter on
 * 127.0.0.1, through the listener, the handshake and the progress thread.
 *
 * The first byte picks what the rest is:
 *   even: the frame stream of an established connection (after a correct
 *         CONNECT / ACCEPT / RTU), towards a QP with receives posted and a
 *         4 KiB region open to remote read and write;
 *   odd:  the bytes of a connection request, straight to the listener.
 * So that frames can reach memory at all, a frame header whose token is 1
 * gets the region's remote token and an address below 8 KiB is taken
 * relative to the region (a peer that knows the token). Everything else
 * is the fuzzer's.
 *
 * The provider must never crash, read or write outside what it granted
 * (ASan), hang (libFuzzer's -timeout) or leak; each input ends when the
 * provider has seen all of it (NotifyDisconnect after our FIN).
 */
#include "../tcp_wire.h"

#include <netdirect/nd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REGION 4096
#define NRECV  4

static struct nd_adapter *ad;
static struct nd_cq *cq;
static struct nd_listener *lis;
static struct nd_mr *mr;
static struct sockaddr_in where;
static uint8_t region[REGION] __attribute__((aligned(64)));
static uint32_t remote_token;

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x)) {                                                    \
			fprintf(stderr, "fuzz-tcp-rx: %s failed (line %d)\n",  \
				#x, __LINE__);                                 \
			abort();                                               \
		}                                                              \
	} while (0)

/* Waits for a request; ND_PENDING is resolved by blocking on it. */
static nd_status finish(void *obj, struct nd_overlapped *ov, nd_status st)
{
	return st == ND_PENDING ? nd_get_overlapped_result(obj, ov, true) : st;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in any = {.sin_family = AF_INET};
	struct nd_overlapped ov = {0};
	uint32_t len = sizeof(where);

	(void)argc;
	(void)argv;
	setenv("ND_PROVIDERS", "tcp", 0);
	setenv("ND_LOG_LEVEL", "none", 0);
	/* Every input connects from 127.0.0.1 and many make access
	 * violations: with the per-peer limit the listener would soon turn
	 * them all away, and established() would wait for a request that
	 * never comes. */
	setenv("ND_TCP_VIOLATION_LIMIT", "0", 0);
	any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(nd_startup() == ND_SUCCESS);
	CHECK(nd_open_adapter((struct sockaddr *)&any, sizeof(any), &ad) ==
	      ND_SUCCESS);
	CHECK(nd_adapter_create_cq(ad, 64, 0, 0, &cq) == ND_SUCCESS);
	CHECK(nd_adapter_create_mr(ad, &mr) == ND_SUCCESS);
	CHECK(finish(mr, &ov,
		     nd_mr_register(mr, region, sizeof(region),
				    ND_MR_FLAG_ALLOW_LOCAL_WRITE |
					ND_MR_FLAG_ALLOW_REMOTE_READ |
					ND_MR_FLAG_ALLOW_REMOTE_WRITE,
				    &ov)) == ND_SUCCESS);
	remote_token = nd_mr_get_remote_token(mr);
	CHECK(nd_adapter_create_listener(ad, &lis) == ND_SUCCESS);
	CHECK(nd_listener_bind(lis, (struct sockaddr *)&any, sizeof(any)) ==
	      ND_SUCCESS);
	CHECK(nd_listener_listen(lis, 0) == ND_SUCCESS);
	CHECK(nd_listener_get_local_address(lis, (struct sockaddr *)&where,
					    &len) == ND_SUCCESS);
	return 0;
}

/* poll() on one descriptor, again when a signal interrupts it. */
static int wait_for(int fd, short events, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	while ((n = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
		;
	return n == 1 ? pfd.revents : 0;
}

static bool send_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p = (const uint8_t *)p + k;
		n -= (size_t)k;
	}
	return true;
}

static bool recv_all(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t k = recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p = (uint8_t *)p + k;
		n -= (size_t)k;
	}
	return true;
}

/* Reads and drops what the provider sends, for at most `ms`; true at EOF. */
static bool drain(int fd, int ms)
{
	uint8_t buf[65536];

	while (wait_for(fd, POLLIN, ms)) {
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
	return false;
}

/* Sends the input, reading answers meanwhile so neither side blocks. */
static void send_stream(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		int revents = wait_for(fd, POLLIN | POLLOUT, 1000);
		if (!revents)
			return;
		if (revents & POLLIN)
			drain(fd, 0);
		if (revents & (POLLERR | POLLHUP))
			return;
		if (revents & POLLOUT) {
			ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (k > 0) {
				p += k;
				n -= (size_t)k;
			}
		}
	}
}

/* The stream with tokens and addresses made to name the region. */
static uint8_t *aim(const uint8_t *data, size_t size)
{
	uint8_t *s = malloc(size ? size : 1);
	size_t at = 0;

	memcpy(s, data, size);
	while (at + sizeof(struct tcp_hdr) <= size) {
		struct tcp_hdr h;

		memcpy(&h, s + at, sizeof(h));
		if (le32toh(h.token) == 1)
			h.token = htole32(remote_token);
		if (le64toh(h.addr) < 2 * REGION)
			h.addr = htole64((uintptr_t)region + le64toh(h.addr));
		memcpy(s + at, &h, sizeof(h));
		at += sizeof(h) + le32toh(h.len);
	}
	return s;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	/* libFuzzer's watchdog (SIGALRM) interrupts blocking calls. */
	while (connect(fd, (struct sockaddr *)&where, sizeof(where)) != 0 &&
	       errno != EISCONN) {
		if (errno != EINTR && errno != EALREADY) {
			fprintf(stderr, "fuzz-tcp-rx: connect: %s\n",
				strerror(errno));
			abort();
		}
		wait_for(fd, POLLOUT, 1000);
	}
	return fd;
}

static void established(const uint8_t *data, size_t size)
{
	struct nd_overlapped gov = {0}, aov = {0}, dov = {0};
	struct nd_connector *c;
	struct nd_qp *qp;
	struct nd_sge sge;
	struct tcp_hdr h;
	uint8_t reply[256];

	CHECK(nd_adapter_create_qp(ad, cq, cq, NULL, NRECV, 4, 1, 1, 0, &qp) ==
	      ND_SUCCESS);
	CHECK(nd_adapter_create_connector(ad, &c) == ND_SUCCESS);
	for (int i = 0; i < NRECV; i++) {
		sge =
		    (struct nd_sge){region + i * (REGION / NRECV),
				    REGION / NRECV, nd_mr_get_local_token(mr)};
		CHECK(nd_qp_receive(qp, NULL, &sge, 1) == ND_SUCCESS);
	}
	nd_status gst = nd_listener_get_connection_request(lis, c, &gov);
	int fd = dial();
	tcp_wire_fill(&h, TCP_F_CONNECT, 0, 0, 8 | (8ull << 32), TCP_WIRE_MAGIC,
		      TCP_WIRE_VERSION);
	CHECK(send_all(fd, &h, sizeof(h)));
	CHECK(finish(lis, &gov, gst) == ND_SUCCESS);
	nd_status ast = nd_connector_accept(c, qp, 4, 4, NULL, 0, &aov);
	CHECK(recv_all(fd, &h, sizeof(h)) && h.type == TCP_F_ACCEPT &&
	      le32toh(h.len) <= sizeof(reply) &&
	      recv_all(fd, reply, le32toh(h.len)));
	tcp_wire_fill(&h, TCP_F_RTU, 0, 0, 0, 0, 0);
	CHECK(send_all(fd, &h, sizeof(h)));
	CHECK(finish(c, &aov, ast) == ND_SUCCESS);
	nd_status dst = nd_connector_notify_disconnect(c, &dov);

	uint8_t *s = aim(data, size);
	send_stream(fd, s, size);
	free(s);
	shutdown(fd, SHUT_WR);
	/* The provider has seen every byte once it reports the disconnect. */
	finish(c, &dov, dst);
	drain(fd, 0);
	close(fd);
	nd_connector_release(c);
	nd_qp_release(qp);

	struct nd_result r[16];
	while (nd_cq_get_results(cq, r, 16))
		;
}

static void request(const uint8_t *data, size_t size)
{
	struct nd_overlapped gov = {0};
	struct nd_connector *c;

	CHECK(nd_adapter_create_connector(ad, &c) == ND_SUCCESS);
	nd_status gst = nd_listener_get_connection_request(lis, c, &gov);
	int fd = dial();
	send_stream(fd, data, size);
	shutdown(fd, SHUT_WR);
	/* The listener closes what it refuses; give it a moment otherwise. */
	bool closed = drain(fd, 50);
	if (gst == ND_PENDING && !closed)
		gst = nd_get_overlapped_result(lis, &gov, false);
	if (gst == ND_PENDING) {
		nd_cancel_overlapped(lis);
		gst = nd_get_overlapped_result(lis, &gov, true);
	}
	if (gst == ND_SUCCESS) {
		nd_connector_reject(c, NULL, 0);
	}
	close(fd);
	nd_connector_release(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		request(data + 1, size - 1);
	else
		established(data + 1, size - 1);
	return 0;
}
