/* SPDX-License-Identifier: MIT */
/*
 * tcp provider only: a hostile peer speaking raw TCP. After a correct
 * handshake it sends mutated frames (valid and invalid tokens, addresses
 * around the exposed region, wrong types, lengths and versions) and closes.
 * Whatever it sends it may only fail its own connection: memory around the
 * region stays untouched, the QP's receives complete (data or ND_CANCELED),
 * and a normal connection works afterwards. Deterministic (fixed seed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../providers/tcp/tcp_wire.h"
#include "conf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE   4096u
#define ROUNDS 200u

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static bool send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

static bool recv_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, TC_TIMEOUT_MS) <= 0)
			return false;
		ssize_t k = recv(fd, c, n, 0);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

static void hostile_frame(struct tcp_hdr *h, uint64_t base, uint32_t token,
			  uint8_t *payload, uint32_t *plen)
{
	static const uint8_t types[] = {
	    TCP_F_SEND, TCP_F_WRITE, TCP_F_READ, TCP_F_READ_RESP, TCP_F_ACK,
	    TCP_F_NAK,	TCP_F_RNR,   TCP_F_RTU,	 TCP_F_CONNECT};
	uint32_t r = rnd();
	uint8_t type = (r & 7) == 7 ? (uint8_t)rnd() : types[rnd() % 9];
	uint32_t len = rnd() % 8 == 0 ? rnd() : rnd() % 96;
	int64_t off = (int64_t)(rnd() % (PAGE + 256)) - 128;
	uint32_t tok = rnd() % 4 ? token : rnd();

	*plen = len > 256 ? 256 : len; /* what we really send */
	for (uint32_t i = 0; i < *plen; i++)
		payload[i] = (uint8_t)rnd();
	tcp_wire_fill(h, type, rnd() % 8 == 0 ? (uint8_t)rnd() : 0, len,
		      base + (uint64_t)off, tok,
		      rnd() % 4 ? rnd() % 200 : rnd());
	if (rnd() % 16 == 0)
		h->version = (uint16_t)rnd();
}

static void test_hostile_peer(void **state)
{
	struct tc *t = *state;
	uint8_t *mem = tc_alloc(3 * PAGE), *region = mem + PAGE;
	struct nd_mr *mr;
	struct nd_cq *cq;
	struct tc_pair lp;
	struct sockaddr_storage dest;
	uint32_t dest_len;

	memset(mem, 0xa5, 3 * PAGE);
	mr = tc_reg(t, region, PAGE,
		    ND_MR_FLAG_ALLOW_REMOTE_READ |
			ND_MR_FLAG_ALLOW_REMOTE_WRITE);
	assert_int_equal(nd_adapter_create_cq(t->ad, 64, 0, 0, &cq),
			 ND_SUCCESS);
	memset(&lp, 0, sizeof(lp));
	lp.t = t;
	tc_listen(&lp, &dest, &dest_len);

	for (uint32_t round = 0; round < ROUNDS; round++) {
		struct nd_qp *qp;
		struct nd_connector *c;
		struct nd_overlapped gov = {0}, aov = {0};
		struct nd_sge sge;
		struct tcp_hdr h;
		uint8_t payload[256];
		uint32_t plen;

		memset(&gov, 0, sizeof(gov));
		memset(&aov, 0, sizeof(aov));
		assert_int_equal(nd_adapter_create_qp(t->ad, cq, cq, NULL, 2, 2,
						      1, 1, 0, &qp),
				 ND_SUCCESS);
		assert_int_equal(nd_adapter_create_connector(t->ad, &c),
				 ND_SUCCESS);
		tc_sges(&sge, 1, region + 64 * (round % 32), 64, mr);
		assert_int_equal(nd_qp_receive(qp, (void *)1, &sge, 1),
				 ND_SUCCESS);
		assert_int_equal(nd_qp_receive(qp, (void *)2, &sge, 1),
				 ND_SUCCESS);
		nd_status gst =
		    nd_listener_get_connection_request(lp.l, c, &gov);

		int fd = socket(dest.ss_family, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(
		    connect(fd, (struct sockaddr *)&dest, dest_len), 0);
		tcp_wire_fill(&h, TCP_F_CONNECT, 0, 0, 4 | (4ull << 32),
			      TCP_WIRE_MAGIC, TCP_WIRE_VERSION);
		assert_true(send_all(fd, &h, sizeof(h)));
		assert_int_equal(tc_wait_ov(lp.l, &gov, gst, TC_TIMEOUT_MS),
				 ND_SUCCESS);
		nd_status ast = nd_connector_accept(c, qp, 4, 4, NULL, 0, &aov);
		assert_true(recv_all(fd, &h, sizeof(h)));
		assert_int_equal(h.type, TCP_F_ACCEPT);
		tcp_wire_fill(&h, TCP_F_RTU, 0, 0, 0, 0, 0);
		assert_true(send_all(fd, &h, sizeof(h)));
		assert_int_equal(tc_wait_ov(c, &aov, ast, TC_TIMEOUT_MS),
				 ND_SUCCESS);

		/* the attack: a few frames, then hang up */
		uint32_t nframes = 1 + rnd() % 6;
		for (uint32_t f = 0; f < nframes; f++) {
			hostile_frame(&h, (uintptr_t)region,
				      nd_mr_get_remote_token(mr), payload,
				      &plen);
			if (!send_all(fd, &h, sizeof(h)) ||
			    !send_all(fd, payload, plen))
				break;
		}
		shutdown(fd, SHUT_WR);
		for (;;) { /* drain until the provider closes */
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (poll(&pfd, 1, TC_TIMEOUT_MS) <= 0)
				fail_msg("round %u: the provider kept the "
					 "connection open",
					 round);
			if (recv(fd, payload, sizeof(payload), 0) <= 0)
				break;
		}
		close(fd);
		/* both receives complete: placed data or flushed */
		for (int k = 0; k < 2; k++) {
			struct nd_result r;
			assert_true(tc_wait_cq(cq, &r, TC_TIMEOUT_MS));
			assert_int_equal(r.request_type,
					 ND_REQUEST_TYPE_RECEIVE);
			assert_true(r.status == ND_SUCCESS ||
				    r.status == ND_CANCELED ||
				    r.status == ND_DATA_OVERRUN);
		}
		nd_connector_release(c);
		nd_qp_release(qp);
		for (uint32_t i = 0; i < PAGE; i++) {
			if (mem[i] != 0xa5 || mem[2 * PAGE + i] != 0xa5)
				fail_msg("round %u: memory outside the region "
					 "changed at %u",
					 round, i);
		}
	}
	nd_listener_release(lp.l);
	nd_cq_release(cq);
	tc_dereg(mr);
	free(mem);

	/* the adapter still serves a normal connection */
	struct tc_pair p;
	tc_pair_init(t, &p, NULL);
	assert_int_equal(nd_qp_receive(p.pqp, (void *)3, NULL, 0), ND_SUCCESS);
	tc_pair_connect(&p);
	assert_int_equal(nd_qp_send(p.aqp, (void *)4, NULL, 0, 0), ND_SUCCESS);
	struct nd_result r;
	assert_true(tc_wait_cq(p.pcq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	tc_pair_fini(&p);
}

/*
 * A flood of connections that never send CONNECT: the listener keeps at
 * most 64 of them waiting (the oldest are closed: their peers read EOF)
 * and still accepts a real connection that moves data.
 */
static void test_silent_connections(void **state)
{
	enum { FLOOD = 80, CLOSED = FLOOD - 64 };
	struct tc *t = *state;
	struct sockaddr_storage dest;
	uint32_t dest_len;
	struct tc_pair p;
	int fds[FLOOD];

	tc_pair_init(t, &p, NULL);
	tc_listen(&p, &dest, &dest_len);
	for (int i = 0; i < FLOOD; i++) {
		fds[i] = socket(dest.ss_family, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(
		    connect(fds[i], (struct sockaddr *)&dest, dest_len), 0);
	}
	for (int i = 0; i < CLOSED; i++) {
		struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
		char c;

		if (poll(&pfd, 1, TC_TIMEOUT_MS) != 1)
			fail_msg("silent connection %d still open after %d ms",
				 i, TC_TIMEOUT_MS);
		assert_int_equal(recv(fds[i], &c, 1, 0), 0); /* EOF */
	}
	assert_int_equal(nd_qp_receive(p.pqp, (void *)5, NULL, 0), ND_SUCCESS);
	tc_pair_connect_to(&p, &dest, dest_len);
	assert_int_equal(nd_qp_send(p.aqp, (void *)6, NULL, 0, 0), ND_SUCCESS);
	struct nd_result r;
	assert_true(tc_wait_cq(p.pcq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	assert_ptr_equal(r.request_context, (void *)5);
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
	tc_pair_fini(&p);
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	if (!t || !tc_open(t)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tc_close(*state);
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hostile_peer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_silent_connections, setup,
					    teardown),
	};
	int rc;

	if (nd_startup() != ND_SUCCESS)
		return 1;
	rc = cmocka_run_group_tests_name("tcp-hostile-peer", tests, NULL, NULL);
	nd_cleanup();
	return rc;
}
