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

#include "conf_util.h"
#include "raw_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE   4096u
#define ROUNDS 200u

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
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

/* --- grants: what a token reaches, and when it stops --------------------- */

/* The target of the grant tests: a listener whose connections complete on
 * cq, a page of 0xa5 registered with `flags`, and a window if asked. */
struct target {
	struct tc_pair lp;
	struct sockaddr_storage dest;
	uint32_t dest_len;
	uint8_t *region;
	struct nd_mr *mr; /* NULL once a test released it */
	struct nd_cq *cq;
	struct nd_mw *mw;
};

/* A connection whose active side is a raw socket. */
struct raw_conn {
	int fd;
	struct nd_qp *qp;
	struct nd_connector *c;
};

/* The target's listener accepts a raw peer connecting from `src` (NULL:
 * the kernel's choice) onto a new QP (limits `ird`/`ord` for Accept, the
 * peer offering 8/8). */
static void target_accept_from(struct target *g, uint32_t ird, uint32_t ord,
			       const char *src, struct raw_conn *rc)
{
	struct tc *t = g->lp.t;
	struct nd_overlapped gov = {0}, aov = {0};
	struct tcp_hdr h;

	assert_int_equal(nd_adapter_create_qp(t->ad, g->cq, g->cq, NULL, 4, 4,
					      1, 1, 0, &rc->qp),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &rc->c),
			 ND_SUCCESS);
	nd_status gst =
	    nd_listener_get_connection_request(g->lp.l, rc->c, &gov);
	rc->fd = raw_connect_from(&g->dest, g->dest_len, src);
	raw_connect_frame(&h, 0);
	assert_true(send_all(rc->fd, &h, sizeof(h)));
	assert_int_equal(tc_wait_ov(g->lp.l, &gov, gst, TC_TIMEOUT_MS),
			 ND_SUCCESS);
	nd_status ast =
	    nd_connector_accept(rc->c, rc->qp, ird, ord, NULL, 0, &aov);
	assert_true(recv_all(rc->fd, &h, sizeof(h)));
	assert_int_equal(h.type, TCP_F_ACCEPT);
	tcp_wire_fill(&h, TCP_F_RTU, 0, 0, 0, 0, 0);
	assert_true(send_all(rc->fd, &h, sizeof(h)));
	assert_int_equal(tc_wait_ov(rc->c, &aov, ast, TC_TIMEOUT_MS),
			 ND_SUCCESS);
}

static void target_accept(struct target *g, uint32_t ird, uint32_t ord,
			  struct raw_conn *rc)
{
	target_accept_from(g, ird, ord, NULL, rc);
}

static void raw_close(struct raw_conn *rc)
{
	close(rc->fd);
	nd_connector_release(rc->c);
	nd_qp_release(rc->qp);
}

/* Sends a WRITE or READ frame as the peer. */
static void raw_access(int fd, uint8_t type, uint64_t addr, uint32_t token,
		       uint32_t len, uint8_t fill)
{
	struct tcp_hdr h;
	uint8_t payload[256];

	assert_true(len <= sizeof(payload));
	memset(payload, fill, len);
	if (type == TCP_F_WRITE)
		tcp_wire_fill(&h, TCP_F_WRITE, 0, len, addr, token, 0);
	else
		tcp_wire_fill(&h, TCP_F_READ, 0, 0, addr, token, len);
	assert_true(send_all(fd, &h, sizeof(h)));
	if (type == TCP_F_WRITE)
		assert_true(send_all(fd, payload, len));
}

/* Reads the provider's next answer frame (its payload into `data`, at most
 * 256 bytes); false at EOF. ACKs are skipped when `skip_acks`. */
static bool raw_answer(int fd, struct tcp_hdr *h, uint8_t *data, bool skip_acks)
{
	for (;;) {
		if (!recv_all(fd, h, sizeof(*h)))
			return false;
		assert_true(h->len <= 256);
		if (h->len && !recv_all(fd, data, h->len))
			return false;
		if (!(skip_acks && h->type == TCP_F_ACK))
			return true;
	}
}

static void expect_refused(int fd)
{
	struct tcp_hdr h;
	uint8_t data[256];

	assert_true(raw_answer(fd, &h, data, true));
	assert_int_equal(h.type, TCP_F_NAK);
	assert_int_equal(h.aux, (uint32_t)ND_ACCESS_VIOLATION);
}

/* Refused by the frame checker (the connection just closes) or by the
 * target (a NAK first). */
static void expect_refused_or_closed(int fd)
{
	struct tcp_hdr h;
	uint8_t data[256];

	if (!raw_answer(fd, &h, data, true))
		return;
	assert_int_equal(h.type, TCP_F_NAK);
	assert_int_equal(h.aux, (uint32_t)ND_ACCESS_VIOLATION);
}

static void bind_window(struct nd_qp *qp, struct nd_cq *cq, struct nd_mr *mr,
			struct nd_mw *mw, void *buf, size_t len, uint32_t flags)
{
	struct nd_result r;

	assert_int_equal(nd_qp_bind(qp, (void *)7, mr, mw, buf, len, flags),
			 ND_SUCCESS);
	assert_true(tc_wait_cq(cq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.request_type, ND_REQUEST_TYPE_BIND);
	assert_int_equal(r.status, ND_SUCCESS);
}

static void assert_bytes(const uint8_t *p, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			fail_msg("byte %zu is 0x%02x, not 0x%02x", i, p[i], v);
}

static void target_open(struct tc *t, struct target *g, uint32_t flags,
			bool window)
{
	*g = (struct target){.lp = {.t = t}, .region = tc_alloc(PAGE)};
	memset(g->region, 0xa5, PAGE);
	g->mr = tc_reg(t, g->region, PAGE, flags);
	assert_int_equal(nd_adapter_create_cq(t->ad, 64, 0, 0, &g->cq),
			 ND_SUCCESS);
	if (window)
		assert_int_equal(nd_adapter_create_mw(t->ad, &g->mw),
				 ND_SUCCESS);
	tc_listen(&g->lp, &g->dest, &g->dest_len);
}

static void target_close(struct target *g)
{
	if (g->mw)
		nd_mw_release(g->mw);
	nd_listener_release(g->lp.l);
	nd_cq_release(g->cq);
	if (g->mr)
		nd_mr_release(g->mr);
	free(g->region);
}

#define RW_REGION                                                              \
	(ND_MR_FLAG_ALLOW_LOCAL_WRITE | ND_MR_FLAG_ALLOW_REMOTE_READ |         \
	 ND_MR_FLAG_ALLOW_REMOTE_WRITE)

/*
 * A window bound on a QP dies with the QP: after the QP is released, the
 * next connection's QP (which may sit at the same address) cannot use the
 * window's token to read or write.
 */
static void test_window_dies_with_qp(void **state)
{
	struct target g;
	struct raw_conn c1, c2;

	target_open(*state, &g, RW_REGION, true);
	target_accept(&g, 4, 4, &c1);
	bind_window(c1.qp, g.cq, g.mr, g.mw, g.region, 16,
		    ND_OP_FLAG_ALLOW_READ | ND_OP_FLAG_ALLOW_WRITE);
	uint32_t token = nd_mw_get_remote_token(g.mw);
	assert_int_not_equal(token, 0);
	raw_close(&c1);
	struct nd_result r;
	while (tc_wait_cq(g.cq, &r, 200)) /* c1's flushed requests, if any */
		;

	for (int i = 0; i < 2; i++) {
		target_accept(&g, 4, 4, &c2);
		raw_access(c2.fd, i ? TCP_F_READ : TCP_F_WRITE,
			   (uintptr_t)g.region, token, 16, 0x5a);
		expect_refused(c2.fd);
		raw_close(&c2);
	}
	assert_bytes(g.region, 0xa5, PAGE);
	target_close(&g);
}

/*
 * Releasing a region revokes its own token at once, even while a window
 * bound to it keeps the memory reachable: the window then grants what it
 * granted (16 bytes, read only), and nothing more.
 */
static void test_released_region_keeps_window_only(void **state)
{
	struct target g;
	struct raw_conn c1, c2;
	struct tcp_hdr h;
	uint8_t data[256];

	target_open(*state, &g, RW_REGION, true);
	uint32_t mr_token = nd_mr_get_remote_token(g.mr);
	target_accept(&g, 4, 4, &c1);
	bind_window(c1.qp, g.cq, g.mr, g.mw, g.region + 64, 16,
		    ND_OP_FLAG_ALLOW_READ);
	uint32_t mw_token = nd_mw_get_remote_token(g.mw);
	assert_int_equal(nd_mr_release(g.mr), ND_SUCCESS);
	g.mr = NULL;

	/* the window still reads its 16 bytes */
	raw_access(c1.fd, TCP_F_READ, (uintptr_t)g.region + 64, mw_token, 16,
		   0);
	assert_true(raw_answer(c1.fd, &h, data, true));
	assert_int_equal(h.type, TCP_F_READ_RESP);
	assert_int_equal(h.len, 16);
	assert_bytes(data, 0xa5, 16);
	/* the region's own token writes nothing */
	raw_access(c1.fd, TCP_F_WRITE, (uintptr_t)g.region, mr_token, 64, 0x5a);
	expect_refused(c1.fd);
	raw_close(&c1);
	/* ... nor reads */
	target_accept(&g, 4, 4, &c2);
	raw_access(c2.fd, TCP_F_READ, (uintptr_t)g.region, mr_token, 64, 0);
	expect_refused(c2.fd);
	raw_close(&c2);

	assert_bytes(g.region, 0xa5, PAGE);
	target_close(&g);
}

/*
 * Ranges that end past 2^64: a receive at 2^64 - 16 of 4 KiB with a valid
 * token (its completion reports the error; the peer's send lands nowhere),
 * the peer's writes and reads there, and a bind there.
 */
static void test_ranges_near_2_64(void **state)
{
	void *high = (void *)(uintptr_t)0xfffffffffffffff0ull;
	struct target g;
	struct raw_conn c;
	struct nd_result r;
	struct nd_sge sge;
	struct tcp_hdr h;

	target_open(*state, &g, RW_REGION, true);
	uint32_t token = nd_mr_get_remote_token(g.mr);

	/* receive */
	target_accept(&g, 4, 4, &c);
	tc_sges(&sge, 1, high, PAGE, g.mr);
	assert_int_equal(nd_qp_receive(c.qp, (void *)1, &sge, 1), ND_SUCCESS);
	tcp_wire_fill(&h, TCP_F_SEND, 0, 64, 0, 0, 0);
	assert_true(send_all(c.fd, &h, sizeof(h)));
	assert_true(send_all(c.fd, g.region, 64));
	assert_true(tc_wait_cq(g.cq, &r, TC_TIMEOUT_MS));
	assert_ptr_equal(r.request_context, (void *)1);
	assert_int_equal(r.status, ND_ACCESS_VIOLATION);
	raw_close(&c);

	/* the peer's write and read, and a read that ends at 2^64 exactly */
	static const struct {
		uint8_t type;
		uint64_t addr;
		uint32_t len;
	} probes[] = {
	    {TCP_F_WRITE, 0xfffffffffffffff0ull, 32},
	    {TCP_F_READ, 0xfffffffffffffff0ull, 32},
	    {TCP_F_READ, 0xfffffffffffffff0ull, 16},
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		target_accept(&g, 4, 4, &c);
		raw_access(c.fd, probes[i].type, probes[i].addr, token,
			   probes[i].len, 0x5a);
		expect_refused_or_closed(c.fd);
		raw_close(&c);
	}

	/* a bind there */
	target_accept(&g, 4, 4, &c);
	assert_int_equal(nd_qp_bind(c.qp, (void *)2, g.mr, g.mw, high, PAGE,
				    ND_OP_FLAG_ALLOW_READ),
			 ND_ACCESS_VIOLATION);
	raw_close(&c);

	assert_bytes(g.region, 0xa5, PAGE);
	target_close(&g);
}

/*
 * Accepted with an inbound read limit of 0 (taken as 1), the target serves
 * one read at a time: a peer with 8 in flight breaks its connection, and is
 * served at most the first.
 */
static void test_inbound_read_limit(void **state)
{
	struct target g;
	struct raw_conn c;
	struct tcp_hdr h;
	uint8_t data[256];
	int served = 0;

	target_open(*state, &g, ND_MR_FLAG_ALLOW_REMOTE_READ, false);
	target_accept(&g, 0, 0, &c);
	/* one write: all 8 arrive before the provider answers the first */
	struct {
		struct tcp_hdr h;
	} reads[8];
	for (int i = 0; i < 8; i++)
		tcp_wire_fill(&reads[i].h, TCP_F_READ, 0, 0,
			      (uintptr_t)g.region, nd_mr_get_remote_token(g.mr),
			      64);
	assert_true(send_all(c.fd, reads, sizeof(reads)));
	while (raw_answer(c.fd, &h, data, true)) {
		if (h.type != TCP_F_READ_RESP)
			fail_msg("frame type %u after the reads", h.type);
		served++;
	}
	if (served > 1)
		fail_msg("%d reads served with an inbound limit of 1", served);
	raw_close(&c);
	target_close(&g);
}

/* --- a hostile target: answers the initiator never asked for ---------------- */

/* The provider's QP connected, as the active side, to a raw target. */
struct raw_target {
	int lfd, fd;
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *c;
};

static void raw_target_open(struct tc *t, struct raw_target *rt)
{
	struct sockaddr_storage ss = t->addr;
	socklen_t sl = t->addr_len;
	struct nd_overlapped cov = {0}, ccov = {0};
	struct tcp_hdr h;
	uint8_t pdata[256];

	rt->lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	assert_true(rt->lfd >= 0);
	assert_int_equal(bind(rt->lfd, (struct sockaddr *)&ss, sl), 0);
	assert_int_equal(listen(rt->lfd, 1), 0);
	assert_int_equal(getsockname(rt->lfd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(nd_adapter_create_cq(t->ad, 64, 0, 0, &rt->cq),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_qp(t->ad, rt->cq, rt->cq, NULL, 4, 4,
					      1, 1, 0, &rt->qp),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &rt->c),
			 ND_SUCCESS);
	nd_status cst = nd_connector_connect(
	    rt->c, rt->qp, (struct sockaddr *)&ss, sl, 1, 1, NULL, 0, &cov);
	rt->fd = accept(rt->lfd, NULL, NULL);
	assert_true(rt->fd >= 0);
	assert_true(recv_all(rt->fd, &h, sizeof(h)));
	assert_int_equal(h.type, TCP_F_CONNECT);
	assert_true(h.len <= sizeof(pdata));
	assert_true(!h.len || recv_all(rt->fd, pdata, h.len));
	tcp_wire_fill(&h, TCP_F_ACCEPT, 0, 0, 1 | (1ull << 32), 0, 0);
	assert_true(send_all(rt->fd, &h, sizeof(h)));
	assert_int_equal(tc_wait_ov(rt->c, &cov, cst, TC_TIMEOUT_MS),
			 ND_SUCCESS);
	assert_int_equal(tc_wait_ov(rt->c, &ccov,
				    nd_connector_complete_connect(rt->c, &ccov),
				    TC_TIMEOUT_MS),
			 ND_SUCCESS);
	assert_true(recv_all(rt->fd, &h, sizeof(h)));
	assert_int_equal(h.type, TCP_F_RTU);
}

static void raw_target_close(struct raw_target *rt)
{
	close(rt->fd);
	close(rt->lfd);
	nd_connector_release(rt->c);
	nd_qp_release(rt->qp);
	nd_cq_release(rt->cq);
}

enum forged {
	F_ACK_IN_TRANSMISSION, /* an ACK while the payload is being sent */
	F_RNR_TWICE,	       /* a second RNR for one SEND */
	F_RNR_FOR_WRITE,       /* RNR answers SENDs only */
	F_NAK_UNUSED,	       /* a NAK with no request on the wire */
};

/*
 * A target may answer NAK or RNR to a request whose payload is still being
 * sent (issue 17), but nothing else matches an answer: an ACK before the
 * payload is all sent, a second RNR, an RNR for a WRITE, or a NAK when no
 * request went out break the protocol. The connection ends, and the
 * request on its way completes ND_REMOTE_ERROR (a NAK's own status would
 * mean the forged answer was taken).
 */
static void forged_answer(struct tc *t, enum forged f)
{
	enum { SIZE = 16u << 20 };
	uint8_t *src = tc_alloc(SIZE);
	struct nd_mr *mr = tc_reg(t, src, SIZE, ND_MR_FLAG_ALLOW_LOCAL_WRITE);
	struct raw_target rt;
	struct nd_sge sge;
	struct tcp_hdr h, a[2];
	struct nd_result r;

	raw_target_open(t, &rt);
	assert_int_equal(nd_qp_receive(rt.qp, (void *)9, NULL, 0), ND_SUCCESS);
	if (f != F_NAK_UNUSED) {
		tc_sges(&sge, 1, src, SIZE, mr);
		if (f == F_RNR_FOR_WRITE)
			assert_int_equal(nd_qp_write(rt.qp, (void *)1, &sge, 1,
						     0x10000, 0x1234, 0),
					 ND_SUCCESS);
		else
			assert_int_equal(
			    nd_qp_send(rt.qp, (void *)1, &sge, 1, 0),
			    ND_SUCCESS);
		/* the header only: the payload stays on its way */
		assert_true(recv_all(rt.fd, &h, sizeof(h)));
		assert_int_equal(h.len, SIZE);
	}
	switch (f) {
	case F_ACK_IN_TRANSMISSION:
		tcp_wire_fill(&a[0], TCP_F_ACK, 0, 0, 0, 0, 1);
		break;
	case F_RNR_TWICE:
	case F_RNR_FOR_WRITE:
		tcp_wire_fill(&a[0], TCP_F_RNR, 0, 0, 0, 0, 0);
		break;
	case F_NAK_UNUSED:
		tcp_wire_fill(&a[0], TCP_F_NAK, 0, 0, 0, 0,
			      (uint32_t)ND_ACCESS_VIOLATION);
		break;
	}
	a[1] = a[0];
	assert_true(
	    send_all(rt.fd, a, f == F_RNR_TWICE ? 2 * sizeof(h) : sizeof(h)));
	assert_true(raw_closed_within(rt.fd, TC_TIMEOUT_MS));
	if (f != F_NAK_UNUSED) {
		assert_true(tc_wait_cq(rt.cq, &r, TC_TIMEOUT_MS));
		assert_ptr_equal(r.request_context, (void *)1);
		if (r.status != ND_REMOTE_ERROR)
			fail_msg("forged answer %d: the request completed %s",
				 f, nd_strerror(r.status));
	}
	assert_true(tc_wait_cq(rt.cq, &r, TC_TIMEOUT_MS));
	assert_ptr_equal(r.request_context, (void *)9);
	assert_int_equal(r.status, ND_CANCELED);
	raw_target_close(&rt);
	tc_dereg(mr);
	free(src);
}

static void test_forged_answers(void **state)
{
	forged_answer(*state, F_ACK_IN_TRANSMISSION);
	forged_answer(*state, F_RNR_TWICE);
	forged_answer(*state, F_RNR_FOR_WRITE);
	forged_answer(*state, F_NAK_UNUSED);
}

/*
 * Access violations count against the peer's address. Here the limit is 4
 * and the cooldown 1 s (violation_setup): after its fourth refused READ or
 * WRITE, 127.0.0.1's next connection is closed at once, before its CONNECT
 * is read, and never reaches the application; 127.0.0.2 (another source
 * on loopback) is served meanwhile; after the cooldown 127.0.0.1 is served
 * again.
 */
#define VIOLATION_LIMIT	   4
#define VIOLATION_COOLDOWN 1000

static int violation_setup(void **state)
{
	int rc;

	setenv("ND_TCP_VIOLATION_LIMIT", "4", 1);
	setenv("ND_TCP_VIOLATION_COOLDOWN_MS", "1000", 1);
	rc = tc_setup(state);
	unsetenv("ND_TCP_VIOLATION_LIMIT");
	unsetenv("ND_TCP_VIOLATION_COOLDOWN_MS");
	return rc;
}

/* test_hostile_peer makes access violations from 127.0.0.1 on purpose (9
 * with its seed and ROUNDS, more with others): the per-peer limit must not
 * turn its later rounds away. */
static int unlimited_setup(void **state)
{
	int rc;

	setenv("ND_TCP_VIOLATION_LIMIT", "0", 1);
	rc = tc_setup(state);
	unsetenv("ND_TCP_VIOLATION_LIMIT");
	return rc;
}

/* A READ of 16 bytes of the region: served, the bytes as they are. */
static void expect_read_served(struct target *g, struct raw_conn *c)
{
	struct tcp_hdr h;
	uint8_t data[256];

	raw_access(c->fd, TCP_F_READ, (uintptr_t)g->region,
		   nd_mr_get_remote_token(g->mr), 16, 0);
	assert_true(raw_answer(c->fd, &h, data, true));
	assert_int_equal(h.type, TCP_F_READ_RESP);
	assert_int_equal(h.len, 16);
	assert_bytes(data, 0xa5, 16);
}

/* A connection from the kernel's choice of source the listener turns away:
 * closed with no frame sent back, and no request for the application. */
static void expect_turned_away(struct target *g)
{
	struct nd_connector *c;
	struct nd_overlapped gov = {0};
	struct tcp_hdr h;
	char byte;

	assert_int_equal(nd_adapter_create_connector(g->lp.t->ad, &c),
			 ND_SUCCESS);
	nd_status gst = nd_listener_get_connection_request(g->lp.l, c, &gov);
	int fd = raw_connect(&g->dest, g->dest_len);
	raw_connect_frame(&h, 0);
	send_all(fd, &h, sizeof(h)); /* the reset may come first */
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, TC_TIMEOUT_MS) != 1)
		fail_msg("a refused peer's connection still open after %d ms",
			 TC_TIMEOUT_MS);
	ssize_t k = recv(fd, &byte, 1, 0);
	if (k > 0)
		fail_msg("a refused peer was answered");
	assert_true(k == 0 || errno == ECONNRESET);
	close(fd);
	/* still waiting: the connection never became a request */
	assert_int_equal(nd_cancel_overlapped(g->lp.l), ND_SUCCESS);
	assert_int_equal(tc_wait_ov(g->lp.l, &gov, gst, TC_TIMEOUT_MS),
			 ND_CANCELED);
	nd_connector_release(c);
}

static void test_violation_limit(void **state)
{
	struct target g;
	struct raw_conn c;
	struct timespec end;

	target_open(*state, &g, RW_REGION, false);
	if (g.dest.ss_family != AF_INET ||
	    ((struct sockaddr_in *)&g.dest)->sin_addr.s_addr !=
		htonl(INADDR_LOOPBACK)) {
		target_close(&g);
		TC_SKIP("needs the target on 127.0.0.1 (127.0.0.2 is the "
			"other source)");
	}
	uint32_t token = nd_mr_get_remote_token(g.mr);

	/* each violation costs a connection: a READ with a wrong token (the
	 * only remote token of the adapter is the region's), a WRITE past
	 * the region's end */
	for (int i = 0; i < VIOLATION_LIMIT; i++) {
		target_accept(&g, 4, 4, &c);
		if (i % 2)
			raw_access(c.fd, TCP_F_WRITE,
				   (uintptr_t)g.region + PAGE - 8, token, 16,
				   0x5a);
		else
			raw_access(c.fd, TCP_F_READ, (uintptr_t)g.region,
				   token ^ 1, 16, 0);
		expect_refused(c.fd);
		assert_true(raw_closed_within(c.fd, TC_TIMEOUT_MS));
		raw_close(&c);
	}
	/* The provider counted the last one before its NAK: the cooldown
	 * ends before this. */
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += VIOLATION_COOLDOWN / 1000;
	end.tv_nsec += VIOLATION_COOLDOWN % 1000 * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}

	expect_turned_away(&g);
	target_accept_from(&g, 4, 4, "127.0.0.2", &c);
	expect_read_served(&g, &c);
	raw_close(&c);

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL))
		;
	target_accept(&g, 4, 4, &c);
	expect_read_served(&g, &c);
	raw_close(&c);
	assert_bytes(g.region, 0xa5, PAGE);
	target_close(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hostile_peer, unlimited_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_silent_connections, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_window_dies_with_qp, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(
		test_released_region_keeps_window_only, tc_setup, tc_teardown),
	    cmocka_unit_test_setup_teardown(test_ranges_near_2_64, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_inbound_read_limit, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_answers, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_violation_limit,
					    violation_setup, tc_teardown),
	};
	int rc;

	if (nd_startup() != ND_SUCCESS)
		return 1;
	rc = cmocka_run_group_tests_name("tcp-hostile-peer", tests, NULL, NULL);
	nd_cleanup();
	return rc;
}
