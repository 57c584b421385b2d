/* SPDX-License-Identifier: MIT */
/*
 * Bad input, as a table: one row per (public call, bad argument or wrong
 * state), each with the exact status ND names for it (spec/nd-spi-v2.md,
 * docs/api-map.md, the comments in nd.h). Where the spec says a failed call
 * leaves the object usable, the row's `then` step proves it (a request that
 * completes, a connection that is made).
 *
 * Written against nd.h only, on a real provider: tcp on the host, verbs in
 * the VM (ND_TEST_ADDR names the device's address). Every row is one TAP
 * test. "Dangling-looking" handles are a released object that something
 * else keeps alive, zeroed memory and garbage memory; never freed memory,
 * whose use no test can assert anything about.
 *
 * check-rows.py checks that every call declared in nd.h appears in ROWS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../conformance/conf_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define DEPTH 4 /* queue depth of the QPs whose queues are filled */

/* What a row needs from the device; a row whose needs are not met skips. */
enum need {
	ANY = 0,
	BEFORE_STARTUP = 1 << 0, /* runs before nd_startup */
	MW = 1 << 1,		 /* memory windows */
	SRQ = 1 << 2,		 /* shared receive queues */
	RESIZE = 1 << 3,	 /* CQ resize */
	SMALL_MAX = 1 << 4, /* queue, SGE and inline limits below 2^32 - 1 */
	REG_MAX = 1 << 6,   /* max_registration_size below SIZE_MAX */
	XFER_MAX = 1 << 7,  /* max_transfer_length below 2^32 - 1 */
	/* The inline calls of nd.h check the handle's head (ND_LIVE): without
	 * that they would call through whatever the pointer points at. */
	FAST_CHECKS = 1 << 5,
};

/* Everything the rows use, made once, in the states the rows need. */
struct world {
	bool started, made;
	struct sockaddr_storage addr; /* ND_TEST_ADDR, port 0 */
	uint32_t addr_len;
	struct sockaddr_in unserved, any4, short4;
	struct sockaddr_in6 short6; /* AF_INET6 with a 16-byte length */
	struct sockaddr_un unix_addr;
	struct tc t;
	uint32_t caps;

	struct tc_pair live; /* connected */
	struct tc_pair idle; /* created, never connected */
	struct tc_pair gone; /* connected, then disconnected */
	struct tc_pair rel;  /* connected; its active QP released */
	struct tc_pair spare;
	struct sockaddr_storage live_dest; /* live.l's address */
	uint32_t live_dest_len;
	struct nd_listener *fresh_listener; /* created, not bound */
	struct nd_connector *fresh_connector;

	uint8_t *buf;
	struct nd_mr *mr;	/* registered over buf, every right */
	struct nd_mr *mr_ro;	/* registered over buf, remote read only */
	struct nd_mr *mr_empty; /* never registered */
	struct nd_mr *mr_busy;	/* a window is bound to it */
	struct nd_mw *mw, *mw_busy;
	struct nd_srq *srq;
	struct nd_sge sge[2];
	struct nd_sge huge; /* one SGE of 4 GiB - 1 bytes */

	/* Handles that are not (or no longer) the caller's to use. */
	void *zeroed, *garbage;
	struct nd_adapter *released_adapter;
	struct nd_cq *released_cq, *foreign_cq;
	struct nd_qp *released_qp, *holder_qp;
	struct nd_mr *released_mr;
	struct nd_mw *released_mr_holder; /* the window keeping it alive */
	struct nd_srq *released_srq;
	struct nd_qp *srq_qp;

	/* Out-parameters of calls that must fail (and must not set them). */
	struct nd_adapter *new_adapter;
	struct nd_cq *new_cq;
	struct nd_mr *new_mr;
	struct nd_mw *new_mw;
	struct nd_srq *new_srq;
	struct nd_qp *new_qp;
	struct nd_connector *new_connector;
	struct nd_listener *new_listener;

	struct nd_overlapped ov;
	struct sockaddr_storage out;
	uint32_t len;
	size_t size;
	uint16_t group;
	uint64_t affinity;
	int fd;
	struct nd_overlapped *got;
	struct nd_result results[4];
	uint8_t pdata[512];
	struct nd_adapter_info info;
	struct nd_adapter_identity id;

	/* The pair a queue-full row filled, for its `then` step. */
	struct tc_pair full;
};

static struct world W;

static nd_status wait(void *obj, struct nd_overlapped *ov, nd_status st)
{
	return tc_wait_ov(obj, ov, st, TC_TIMEOUT_MS);
}

/* For calls that return a token or a count: 0 is their "invalid" answer. */
static nd_status zero(uint64_t v)
{
	return v == 0 ? ND_SUCCESS : ND_UNSUCCESSFUL;
}

/* --- the world ------------------------------------------------------------ */

static void parse_addr(struct world *w)
{
	const char *a = getenv("ND_TEST_ADDR");

	if (!a || !*a)
		a = "127.0.0.1";
	if (strchr(a, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&w->addr;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
		w->addr_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&w->addr;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, a, &s4->sin_addr), 1);
		w->addr_len = sizeof(*s4);
	}
	w->unserved.sin_family = AF_INET;
	w->unserved.sin_port = htons(5000);
	inet_pton(AF_INET, "192.0.2.1", &w->unserved.sin_addr); /* TEST-NET */
	w->any4.sin_family = AF_INET;
	w->any4.sin_port = htons(5000);
	w->short4 = w->unserved;
	w->short6.sin6_family = AF_INET6;
	w->unix_addr.sun_family = AF_UNIX;
	strcpy(w->unix_addr.sun_path, "/nd-bad-input");
}

static void *aligned_block(size_t len, int fill)
{
	void *p = tc_alloc(len);

	memset(p, fill, len);
	return p;
}

/* Sets caps from the adapter's limits. */
static void read_caps(struct world *w)
{
	const struct nd_adapter_info *in = &w->t.info;

	w->caps = ANY;
#ifdef ND_LIVE
	w->caps |= FAST_CHECKS;
#endif
	if (in->max_shared_receive_queue_depth)
		w->caps |= SRQ;
	if (in->adapter_flags & ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED)
		w->caps |= RESIZE;
	if (in->max_completion_queue_depth < UINT32_MAX &&
	    in->max_receive_queue_depth < UINT32_MAX &&
	    in->max_initiator_queue_depth < UINT32_MAX &&
	    in->max_receive_sge < UINT32_MAX &&
	    in->max_initiator_sge < UINT32_MAX &&
	    in->max_inline_data_size < UINT32_MAX &&
	    in->max_shared_receive_queue_depth < UINT32_MAX)
		w->caps |= SMALL_MAX;
	if (in->max_registration_size < SIZE_MAX)
		w->caps |= REG_MAX;
	if (in->max_transfer_length < UINT32_MAX)
		w->caps |= XFER_MAX;
}

static void bind_window(struct world *w, struct nd_mw *mw, struct nd_mr *mr)
{
	struct nd_result r;

	assert_int_equal(nd_qp_bind(w->live.aqp, mw, mr, mw, w->buf, 64,
				    ND_OP_FLAG_ALLOW_READ),
			 ND_SUCCESS);
	assert_true(tc_wait_cq(w->live.acq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	assert_ptr_equal(r.request_context, mw);
}

static void make_world(struct world *w)
{
	struct tc_pair_cfg depth = {.depth = DEPTH};
	struct nd_overlapped ov = {0};
	struct nd_adapter *second;

	if (!w->started) {
		assert_int_equal(nd_startup(), ND_SUCCESS);
		w->started = true;
	}
	if (!tc_open(&w->t))
		fail_msg("no adapter serves ND_TEST_ADDR");
	if (tc_peer_adapter(&w->t) != w->t.ad)
		fail_msg("ND_TEST_PEER_ADDR is set: the table runs on one "
			 "adapter");
	read_caps(w);
	w->buf = tc_alloc(4096);
	w->mr = tc_reg(&w->t, w->buf, 4096,
		       ND_MR_FLAG_ALLOW_REMOTE_WRITE |
			   ND_MR_FLAG_ALLOW_REMOTE_READ |
			   ND_MR_FLAG_RDMA_READ_SINK);
	w->mr_ro = tc_reg(&w->t, w->buf, 4096, ND_MR_FLAG_ALLOW_REMOTE_READ);
	assert_int_equal(nd_adapter_create_mr(w->t.ad, &w->mr_empty),
			 ND_SUCCESS);
	tc_sges(w->sge, 2, w->buf, 128, w->mr);
	w->huge = w->sge[0];
	w->huge.buffer_length = UINT32_MAX;

	tc_pair_init(&w->t, &w->live, &depth);
	tc_pair_connect(&w->live);
	w->live_dest_len = sizeof(w->live_dest);
	assert_int_equal(
	    nd_listener_get_local_address(
		w->live.l, (struct sockaddr *)&w->live_dest, &w->live_dest_len),
	    ND_SUCCESS);
	tc_pair_init(&w->t, &w->idle, &depth);
	tc_pair_init(&w->t, &w->gone, NULL);
	tc_pair_connect(&w->gone);
	assert_int_equal(
	    wait(w->gone.ac, &ov, nd_connector_disconnect(w->gone.ac, &ov)),
	    ND_SUCCESS);
	assert_int_equal(
	    wait(w->gone.pc, &ov, nd_connector_disconnect(w->gone.pc, &ov)),
	    ND_SUCCESS);
	/* A released QP that its connector keeps alive. */
	tc_pair_init(&w->t, &w->rel, NULL);
	tc_pair_connect(&w->rel);
	w->released_qp = w->rel.aqp;
	assert_int_equal(nd_qp_release(w->rel.aqp), ND_SUCCESS);
	w->rel.aqp = NULL;

	assert_int_equal(
	    nd_adapter_create_listener(w->t.ad, &w->fresh_listener),
	    ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_connector(w->t.ad, &w->fresh_connector),
	    ND_SUCCESS);

	/* Windows, where the device has them. */
	if (nd_adapter_create_mw(w->t.ad, &w->mw) == ND_SUCCESS) {
		w->caps |= MW;
		assert_int_equal(nd_adapter_create_mw(w->t.ad, &w->mw_busy),
				 ND_SUCCESS);
		w->mr_busy =
		    tc_reg(&w->t, w->buf, 4096, ND_MR_FLAG_ALLOW_REMOTE_READ);
		bind_window(w, w->mw_busy, w->mr_busy);
		/* A released region that its bound window keeps alive. */
		w->released_mr =
		    tc_reg(&w->t, w->buf, 4096, ND_MR_FLAG_ALLOW_REMOTE_READ);
		assert_int_equal(
		    nd_adapter_create_mw(w->t.ad, &w->released_mr_holder),
		    ND_SUCCESS);
		bind_window(w, w->released_mr_holder, w->released_mr);
		assert_int_equal(nd_mr_release(w->released_mr), ND_SUCCESS);
		/* The window stays bound until the end (world_teardown). */
	}

	/* A released CQ that a QP keeps alive. */
	assert_int_equal(
	    nd_adapter_create_cq(w->t.ad, 8, 0, 0, &w->released_cq),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_qp(w->t.ad, w->released_cq,
					      w->released_cq, NULL, 1, 1, 1, 1,
					      0, &w->holder_qp),
			 ND_SUCCESS);
	assert_int_equal(nd_cq_release(w->released_cq), ND_SUCCESS);

	if (w->caps & SRQ) {
		assert_int_equal(
		    nd_adapter_create_srq(w->t.ad, DEPTH, 1, 0, 0, 0, &w->srq),
		    ND_SUCCESS);
		assert_int_equal(nd_adapter_create_srq(w->t.ad, 4, 1, 0, 0, 0,
						       &w->released_srq),
				 ND_SUCCESS);
		assert_int_equal(
		    nd_adapter_create_qp_with_srq(w->t.ad, w->live.acq,
						  w->live.acq, w->released_srq,
						  NULL, 1, 1, 0, &w->srq_qp),
		    ND_SUCCESS);
		assert_int_equal(nd_srq_release(w->released_srq), ND_SUCCESS);
	}

	/* A released adapter that its CQ keeps alive; the CQ is foreign to
	 * the adapter under test. */
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&w->addr, w->addr_len, &second),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_cq(second, 4, 0, 0, &w->foreign_cq),
			 ND_SUCCESS);
	w->released_adapter = second;
	assert_int_equal(nd_adapter_release(second), ND_SUCCESS);

	w->zeroed = aligned_block(256, 0);
	w->garbage = aligned_block(256, 0xa5);
	w->made = true;
}

static int world_teardown(void **state)
{
	struct world *w = &W;

	(void)state;
	if (w->made) {
		tc_pair_fini(&w->live);
		tc_pair_fini(&w->idle);
		tc_pair_fini(&w->gone);
		tc_pair_fini(&w->rel);
		nd_listener_release(w->fresh_listener);
		nd_connector_release(w->fresh_connector);
		nd_qp_release(w->holder_qp);
		nd_cq_release(w->foreign_cq);
		if (w->srq_qp)
			nd_qp_release(w->srq_qp);
		if (w->srq)
			nd_srq_release(w->srq);
		if (w->mw) {
			nd_mw_release(w->mw);
			nd_mw_release(w->mw_busy);
			nd_mr_release(w->mr_busy);
			nd_mw_release(w->released_mr_holder);
		}
		nd_mr_release(w->mr);
		nd_mr_release(w->mr_ro);
		nd_mr_release(w->mr_empty);
		tc_close(&w->t);
		free(w->buf);
		free(w->zeroed);
		free(w->garbage);
	}
	if (w->started)
		nd_cleanup();
	return 0;
}

/* --- rows that need a state of their own -------------------------------- */

/*
 * A connected pair whose initiator queue holds DEPTH requests, then one
 * more request of kind `op`. What keeps the first DEPTH in the queue: the
 * tcp provider frees a slot when the peer answers, so there the peer posts
 * no receive and its receiver-not-ready holds every send; on an RDMA device
 * a completion holds its slot until it is polled, so there the peer posts
 * receives (iWARP ends the connection on a send with no receive) and the
 * sends complete, unpolled.
 */
enum op { OP_SEND, OP_WRITE, OP_READ, OP_BIND, OP_INVALIDATE };

static bool transport_is(struct world *w, const char *name)
{
	struct nd_adapter_identity id;

	return nd_adapter_get_identity(w->t.ad, &id) == ND_SUCCESS &&
	       strcmp(id.transport, name) == 0;
}

static nd_status post_on_full_queue(struct world *w, enum op op)
{
	struct tc_pair_cfg cfg = {.depth = DEPTH};
	struct nd_sge *s = &w->sge[0];
	uint64_t addr = (uintptr_t)w->buf;
	uint32_t token = nd_mr_get_remote_token(w->mr);
	void *ctx = (void *)(uintptr_t)DEPTH;

	tc_pair_init(&w->t, &w->full, &cfg);
	for (uintptr_t i = 0; i < DEPTH && !transport_is(w, "TCP"); i++)
		assert_int_equal(nd_qp_receive(w->full.pqp, NULL, NULL, 0),
				 ND_SUCCESS);
	tc_pair_connect(&w->full);
	for (uintptr_t i = 0; i < DEPTH; i++)
		assert_int_equal(nd_qp_send(w->full.aqp, (void *)i, NULL, 0, 0),
				 ND_SUCCESS);
	switch (op) {
	case OP_SEND:
		return nd_qp_send(w->full.aqp, ctx, s, 1, 0);
	case OP_WRITE:
		return nd_qp_write(w->full.aqp, ctx, s, 1, addr, token, 0);
	case OP_READ:
		return nd_qp_read(w->full.aqp, ctx, s, 1, addr, token, 0);
	case OP_BIND:
		return nd_qp_bind(w->full.aqp, ctx, w->mr, w->mw, w->buf, 8, 0);
	case OP_INVALIDATE:
		return nd_qp_invalidate(w->full.aqp, ctx, w->mw, 0);
	}
	return ND_INTERNAL_ERROR;
}

/* Receive queue of a never-connected QP, filled. */
static nd_status receive_on_full_queue(struct world *w)
{
	for (uintptr_t i = 0; i < DEPTH; i++)
		assert_int_equal(nd_qp_receive(w->idle.pqp, (void *)i, NULL, 0),
				 ND_SUCCESS);
	return nd_qp_receive(w->idle.pqp, (void *)(uintptr_t)DEPTH, NULL, 0);
}

static nd_status srq_receive_on_full_queue(struct world *w)
{
	for (uintptr_t i = 0; i < DEPTH; i++)
		assert_int_equal(nd_srq_receive(w->srq, (void *)i, NULL, 0),
				 ND_SUCCESS);
	return nd_srq_receive(w->srq, (void *)(uintptr_t)DEPTH, NULL, 0);
}

/* Connect with private data one byte over the limit. */
static nd_status connect_oversize_pdata(struct world *w)
{
	tc_pair_init(&w->t, &w->spare, NULL);
	return nd_connector_connect(w->spare.ac, w->spare.aqp,
				    (struct sockaddr *)&w->live_dest,
				    w->live_dest_len, 0, 0, w->pdata,
				    w->t.info.max_caller_data + 1, &w->ov);
}

/* A passive connector holding a request, then Accept with private data one
 * byte over the limit. The active side's Connect stays pending in w->ov. */
static struct nd_overlapped accept_ov;

static nd_status accept_oversize_pdata(struct world *w)
{
	struct sockaddr_storage dest;
	uint32_t dest_len;
	struct nd_overlapped gov = {0};

	tc_pair_init(&w->t, &w->spare, NULL);
	tc_listen(&w->spare, &dest, &dest_len);
	nd_status gst =
	    nd_listener_get_connection_request(w->spare.l, w->spare.pc, &gov);
	nd_status cst = nd_connector_connect(w->spare.ac, w->spare.aqp,
					     (struct sockaddr *)&dest, dest_len,
					     0, 0, NULL, 0, &accept_ov);
	assert_true(cst == ND_PENDING || cst == ND_SUCCESS);
	assert_int_equal(wait(w->spare.l, &gov, gst), ND_SUCCESS);
	return nd_connector_accept(w->spare.pc, w->spare.pqp, 0, 0, w->pdata,
				   w->t.info.max_callee_data + 1, &w->ov);
}

/* Bind a fresh listener to the address live.l listens on. */
static nd_status listener_bind_in_use(struct world *w)
{
	struct nd_listener *l;
	nd_status st;

	assert_int_equal(nd_adapter_create_listener(w->t.ad, &l), ND_SUCCESS);
	st = nd_listener_bind(l, (struct sockaddr *)&w->live_dest,
			      w->live_dest_len);
	nd_listener_release(l);
	return st;
}

static nd_status connector_bind_in_use(struct world *w)
{
	struct nd_connector *c;
	nd_status st;

	assert_int_equal(nd_adapter_create_connector(w->t.ad, &c), ND_SUCCESS);
	st = nd_connector_bind(c, (struct sockaddr *)&w->live_dest,
			       w->live_dest_len);
	nd_connector_release(c);
	return st;
}

/* The address protocol with a buffer too small: *len gets the size
 * needed, the buffer is untouched. */
static nd_status local_address_too_small(struct world *w, bool listener)
{
	nd_status st;

	memset(&w->out, 0x77, sizeof(w->out));
	w->len = 4;
	st = listener ? nd_listener_get_local_address(
			    w->live.l, (struct sockaddr *)&w->out, &w->len)
		      : nd_connector_get_local_address(
			    w->live.ac, (struct sockaddr *)&w->out, &w->len);
	assert_int_equal(w->len, w->addr_len);
	assert_int_equal(((uint8_t *)&w->out)[0], 0x77);
	return st;
}

/* GetConnectionRequest on a listener that is not listening. Should it be
 * queued after all (a known difference), it is cancelled here, so no
 * request stays pending on memory the next rows reuse. */
static nd_status connection_request_before_listen(struct world *w)
{
	struct nd_overlapped ov = {0};
	nd_status st = nd_listener_get_connection_request(
	    w->fresh_listener, w->fresh_connector, &ov);

	if (st == ND_PENDING) {
		assert_int_equal(nd_cancel_overlapped(w->fresh_listener),
				 ND_SUCCESS);
		assert_int_equal(ov.status, ND_CANCELED);
	}
	return st;
}

/*
 * An unknown completion mode is refused and leaves the mode as it was: on
 * an adapter of its own, in queue-on-success mode, where a Register then
 * still arrives on the queue (at once or later: queued either way).
 */
static nd_status unknown_mode_keeps_mode(struct world *w)
{
	struct nd_overlapped ov = {0}, *got = NULL;
	void *buf = aligned_block(4096, 0);
	struct nd_adapter *ad;
	struct nd_mr *mr;
	nd_status st;
	int fd;

	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&w->addr, w->addr_len, &ad),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_overlapped_file(ad, &fd),
			 ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_set_completion_mode(ad, ND_COMPLETION_QUEUE_ON_SUCCESS),
	    ND_SUCCESS);
	st = nd_adapter_set_completion_mode(ad, 2);
	assert_int_equal(nd_adapter_create_mr(ad, &mr), ND_SUCCESS);
	assert_int_equal(
	    wait(mr, &ov,
		 nd_mr_register(mr, buf, 4096, ND_MR_FLAG_ALLOW_LOCAL_WRITE,
				&ov)),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_dequeue_overlapped(ad, TC_TIMEOUT_MS, &got),
			 ND_SUCCESS);
	assert_ptr_equal(got, &ov);
	assert_int_equal(nd_mr_release(mr), ND_SUCCESS);
	assert_int_equal(nd_adapter_release(ad), ND_SUCCESS);
	close(fd);
	free(buf);
	return st;
}

static nd_status flush_providers_before_startup(void)
{
	nd_flush_providers(); /* a no-op: nothing to assert but survival */
	return ND_SUCCESS;
}

static nd_status strerror_of_unknown(void)
{
	const char *s = nd_strerror((nd_status)0x12345678);

	return s && strstr(s, "12345678") ? ND_SUCCESS : ND_UNSUCCESSFUL;
}

/* --- `then` steps: the object is still usable ---------------------------- */

/* The live pair moves a message, data checked. */
static void then_live_pair_works(struct world *w)
{
	uint8_t *src = tc_alloc(64), *dst = tc_alloc(64);
	struct nd_mr *smr = tc_reg(&w->t, src, 64, 0);
	struct nd_mr *dmr =
	    tc_reg(&w->t, dst, 64, ND_MR_FLAG_ALLOW_LOCAL_WRITE);
	struct nd_sge s, d;
	struct nd_result r;

	tc_fill(src, 64, 7);
	tc_sges(&s, 1, src, 64, smr);
	tc_sges(&d, 1, dst, 64, dmr);
	assert_int_equal(nd_qp_receive(w->live.pqp, dst, &d, 1), ND_SUCCESS);
	assert_int_equal(nd_qp_send(w->live.aqp, src, &s, 1, 0), ND_SUCCESS);
	assert_true(tc_wait_cq(w->live.acq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	assert_ptr_equal(r.request_context, src);
	assert_true(tc_wait_cq(w->live.pcq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	assert_ptr_equal(r.request_context, dst);
	assert_int_equal(r.bytes_transferred, 64);
	assert_memory_equal(src, dst, 64);
	tc_dereg(smr);
	tc_dereg(dmr);
	free(src);
	free(dst);
}

/* Exactly the n accepted requests (contexts 0 .. n-1) complete, in order;
 * a refused one was never queued. Flushing makes them complete in bounded
 * time, whatever the transport did with them. */
static void then_only_accepted_complete(struct nd_cq *cq, struct nd_qp *qp,
					uintptr_t n)
{
	struct nd_result r;

	assert_int_equal(nd_qp_flush(qp), ND_SUCCESS);
	for (uintptr_t i = 0; i < n; i++) {
		if (!tc_wait_cq(cq, &r, TC_TIMEOUT_MS))
			fail_msg("request %u of %u never completed",
				 (unsigned)i, (unsigned)n);
		assert_ptr_equal(r.request_context, (void *)i);
	}
	assert_int_equal(nd_cq_get_results(cq, &r, 1), 0);
}

static void then_full_queue_drains(struct world *w)
{
	then_only_accepted_complete(w->full.acq, w->full.aqp, DEPTH);
	tc_pair_fini(&w->full);
}

/* The receive queue drains and takes receives again. */
static void then_receive_queue_drains(struct world *w)
{
	then_only_accepted_complete(w->idle.pcq, w->idle.pqp, DEPTH);
	assert_int_equal(nd_qp_receive(w->idle.pqp, (void *)0, NULL, 0),
			 ND_SUCCESS);
	then_only_accepted_complete(w->idle.pcq, w->idle.pqp, 1);
}

/* The SRQ's receives are still there: a QP on it takes one. */
static void then_srq_serves(struct world *w)
{
	struct tc_pair p;
	struct tc_pair_cfg cfg = {.psrq = w->srq};
	struct nd_result r;

	tc_pair_init(&w->t, &p, &cfg);
	tc_pair_connect(&p);
	assert_int_equal(nd_qp_send(p.aqp, (void *)0x51, NULL, 0, 0),
			 ND_SUCCESS);
	assert_true(tc_wait_cq(p.acq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	assert_true(tc_wait_cq(p.pcq, &r, TC_TIMEOUT_MS));
	assert_int_equal(r.status, ND_SUCCESS);
	assert_ptr_equal(r.request_context, (void *)0); /* the oldest */
	tc_pair_fini(&p);
}

/* After a refused Connect the same connector connects. */
static void then_connect_succeeds(struct world *w)
{
	struct tc_pair *p = &w->spare;
	struct nd_overlapped gov = {0}, cov = {0}, aov = {0}, ccov = {0};
	struct nd_connector *pc;
	uint32_t len = sizeof(w->pdata);
	uint8_t got[512];

	assert_int_equal(nd_adapter_create_connector(w->t.ad, &pc), ND_SUCCESS);
	nd_status gst = nd_listener_get_connection_request(w->live.l, pc, &gov);
	memset(w->pdata, 0x5a, sizeof(w->pdata));
	nd_status cst = nd_connector_connect(
	    p->ac, p->aqp, (struct sockaddr *)&w->live_dest, w->live_dest_len,
	    0, 0, w->pdata, w->t.info.max_caller_data, &cov);
	assert_int_equal(wait(w->live.l, &gov, gst), ND_SUCCESS);
	assert_int_equal(nd_connector_get_private_data(pc, got, &len),
			 ND_SUCCESS);
	assert_true(len >= w->t.info.max_caller_data);
	assert_memory_equal(got, w->pdata, w->t.info.max_caller_data);
	nd_status ast = nd_connector_accept(pc, p->pqp, 0, 0, NULL, 0, &aov);
	assert_int_equal(wait(p->ac, &cov, cst), ND_SUCCESS);
	assert_int_equal(
	    wait(p->ac, &ccov, nd_connector_complete_connect(p->ac, &ccov)),
	    ND_SUCCESS);
	assert_int_equal(wait(pc, &aov, ast), ND_SUCCESS);
	nd_connector_release(pc);
	tc_pair_fini(p);
}

/* After a refused Accept the same connector accepts. */
static void then_accept_succeeds(struct world *w)
{
	struct tc_pair *p = &w->spare;
	struct nd_overlapped aov = {0}, ccov = {0};

	nd_status ast = nd_connector_accept(p->pc, p->pqp, 0, 0, w->pdata,
					    w->t.info.max_callee_data, &aov);
	assert_int_equal(wait(p->ac, &accept_ov, ND_PENDING), ND_SUCCESS);
	assert_int_equal(
	    wait(p->ac, &ccov, nd_connector_complete_connect(p->ac, &ccov)),
	    ND_SUCCESS);
	assert_int_equal(wait(p->pc, &aov, ast), ND_SUCCESS);
	tc_pair_fini(p);
}

/* The live listener still hands out connections. */
static void then_listener_accepts(struct world *w)
{
	tc_pair_init(&w->t, &w->spare, NULL);
	then_connect_succeeds(w);
}

/* A registration on the region works, and so does its deregistration. */
static void then_mr_registers(struct world *w)
{
	struct nd_overlapped ov = {0};

	assert_int_equal(wait(w->mr_empty, &ov,
			      nd_mr_register(w->mr_empty, w->buf, 64, 0, &ov)),
			 ND_SUCCESS);
	assert_int_not_equal(nd_mr_get_local_token(w->mr_empty), 0);
	assert_int_equal(
	    wait(w->mr_empty, &ov, nd_mr_deregister(w->mr_empty, &ov)),
	    ND_SUCCESS);
}

/* The CQ takes a notify request, which a cancel completes. */
static void then_cq_notifies(struct world *w)
{
	struct nd_overlapped ov = {0};
	struct nd_cq *cq = w->idle.acq;

	assert_int_equal(nd_cq_notify(cq, ND_CQ_NOTIFY_ANY, &ov), ND_PENDING);
	assert_int_equal(nd_cancel_overlapped(cq), ND_SUCCESS);
	assert_int_equal(nd_get_overlapped_result(cq, &ov, false), ND_CANCELED);
}

/* The adapter still answers. */
static void then_adapter_answers(struct world *w)
{
	struct nd_adapter_info info = {.info_version = ND_VERSION_2};
	uint32_t size = sizeof(info);

	assert_int_equal(nd_adapter_query(w->t.ad, &info, &size), ND_SUCCESS);
	assert_int_equal(info.max_completion_queue_depth,
			 w->t.info.max_completion_queue_depth);
}

/* nd_startup works after the calls made before it. */
static void then_startup_works(struct world *w)
{
	(void)w;
	assert_int_equal(nd_startup(), ND_SUCCESS);
	assert_int_equal(nd_cleanup(), ND_SUCCESS);
}

/* A size protocol: the size reported is enough for a second call. */
static void then_query_list_fits(struct world *w)
{
	struct nd_address_list *list = malloc(w->size);
	size_t size = w->size;

	assert_non_null(list);
	assert_int_equal(nd_query_address_list(0, list, &size), ND_SUCCESS);
	assert_true(list->count >= 1);
	free(list);
}

static void then_adapter_list_fits(struct world *w)
{
	struct nd_address_list *list = malloc(w->len);
	uint32_t len = w->len;

	assert_non_null(list);
	assert_int_equal(nd_adapter_query_address_list(w->t.ad, list, &len),
			 ND_SUCCESS);
	assert_true(list->count >= 1);
	free(list);
}

static void then_query_fits(struct world *w)
{
	assert_int_equal(w->len, sizeof(struct nd_adapter_info));
	then_adapter_answers(w);
}

static void then_resolve_fits(struct world *w)
{
	struct sockaddr_storage local;
	size_t len = w->size;

	assert_int_equal(w->size, w->addr_len);
	assert_int_equal(nd_resolve_address((struct sockaddr *)&w->addr,
					    w->addr_len,
					    (struct sockaddr *)&local, &len),
			 ND_SUCCESS);
	assert_int_equal(local.ss_family, w->addr.ss_family);
}

/* --- the table -------------------------------------------------------------
 * X(name, needs, expected status, call, then)
 * `call` is an expression over `w` (struct world *); `then`, if not NULL,
 * runs after the call returned the expected status.
 */
#define NUL_SA	((struct sockaddr *)NULL)
#define SA(x)	((struct sockaddr *)(x))
#define ADDR	SA(&w->addr), w->addr_len
#define OUT	SA(&w->out), &w->len
#define QP(x)	((struct nd_qp *)(x))
#define CQ(x)	((struct nd_cq *)(x))
#define MR(x)	((struct nd_mr *)(x))
#define MW_(x)	((struct nd_mw *)(x))
#define SRQ_(x) ((struct nd_srq *)(x))
#define AD(x)	((struct nd_adapter *)(x))
#define CN(x)	((struct nd_connector *)(x))
#define LS(x)	((struct nd_listener *)(x))
#define MAXI	w->t.info
#define A	w->t.ad
#define TOKEN	nd_mr_get_remote_token(w->mr)
#define BUFA	((uintptr_t)w->buf)

#define ROWS(X)                                                                \
	/* framework, before nd_startup */                                     \
	X(cleanup_before_startup, BEFORE_STARTUP, ND_DEVICE_NOT_READY,         \
	  nd_cleanup(), NULL)                                                  \
	X(query_list_before_startup, BEFORE_STARTUP, ND_DEVICE_NOT_READY,      \
	  nd_query_address_list(0, NULL, &w->size), NULL)                      \
	X(resolve_before_startup, BEFORE_STARTUP, ND_DEVICE_NOT_READY,         \
	  nd_resolve_address(ADDR, SA(&w->out), &w->size), NULL)               \
	X(check_before_startup, BEFORE_STARTUP, ND_DEVICE_NOT_READY,           \
	  nd_check_address(ADDR), NULL)                                        \
	X(open_before_startup, BEFORE_STARTUP, ND_DEVICE_NOT_READY,            \
	  nd_open_adapter(ADDR, &w->new_adapter), NULL)                        \
	X(flush_providers_before_startup, BEFORE_STARTUP, ND_SUCCESS,          \
	  flush_providers_before_startup(), then_startup_works)                \
	/* framework */                                                        \
	X(query_list_unknown_flag, ANY, ND_INVALID_PARAMETER_1,                \
	  nd_query_address_list(0x10, NULL, &w->size), NULL)                   \
	X(query_list_null_size, ANY, ND_INVALID_PARAMETER_3,                   \
	  nd_query_address_list(0, NULL, NULL), NULL)                          \
	X(query_list_no_buffer, ANY, ND_BUFFER_OVERFLOW,                       \
	  nd_query_address_list(0, NULL, (w->size = 0, &w->size)),             \
	  then_query_list_fits)                                                \
	X(resolve_null_remote, ANY, ND_INVALID_PARAMETER_1,                    \
	  nd_resolve_address(NULL, 16, SA(&w->out), &w->size), NULL)           \
	X(resolve_short_remote, ANY, ND_INVALID_PARAMETER_2,                   \
	  nd_resolve_address(ADDR - 12, SA(&w->out), &w->size), NULL)          \
	X(resolve_unix_family, ANY, ND_INVALID_ADDRESS,                        \
	  nd_resolve_address(SA(&w->unix_addr), sizeof(w->unix_addr),          \
			     SA(&w->out), &w->size),                           \
	  NULL)                                                                \
	X(resolve_null_local_len, ANY, ND_INVALID_PARAMETER_4,                 \
	  nd_resolve_address(ADDR, SA(&w->out), NULL), NULL)                   \
	X(resolve_unspecified, ANY, ND_INVALID_ADDRESS,                        \
	  nd_resolve_address(SA(&w->any4), sizeof(w->any4), SA(&w->out),       \
			     &w->size),                                        \
	  NULL)                                                                \
	X(resolve_small_buffer, ANY, ND_BUFFER_OVERFLOW,                       \
	  nd_resolve_address(ADDR, SA(&w->out), (w->size = 4, &w->size)),      \
	  then_resolve_fits)                                                   \
	X(check_null, ANY, ND_INVALID_PARAMETER_1, nd_check_address(NULL, 16), \
	  NULL)                                                                \
	X(check_short, ANY, ND_INVALID_PARAMETER_2,                            \
	  nd_check_address(SA(&w->short4), 8), NULL)                           \
	X(check_short_ipv6, ANY, ND_INVALID_PARAMETER_2,                       \
	  nd_check_address(SA(&w->short6), 16), NULL)                          \
	X(check_unix_family, ANY, ND_INVALID_ADDRESS,                          \
	  nd_check_address(SA(&w->unix_addr), sizeof(w->unix_addr)), NULL)     \
	X(check_unserved, ANY, ND_INVALID_ADDRESS,                             \
	  nd_check_address(SA(&w->unserved), sizeof(w->unserved)), NULL)       \
	X(open_null_addr, ANY, ND_INVALID_PARAMETER_1,                         \
	  nd_open_adapter(NULL, 16, &w->new_adapter), NULL)                    \
	X(open_short, ANY, ND_INVALID_PARAMETER_2,                             \
	  nd_open_adapter(SA(&w->short4), 15, &w->new_adapter), NULL)          \
	X(open_null_out, ANY, ND_INVALID_PARAMETER_3,                          \
	  nd_open_adapter(ADDR, NULL), NULL)                                   \
	X(open_unserved, ANY, ND_INVALID_ADDRESS,                              \
	  nd_open_adapter(SA(&w->unserved), sizeof(w->unserved),               \
			  &w->new_adapter),                                    \
	  NULL)                                                                \
	X(open_v1, ANY, ND_NOT_SUPPORTED,                                      \
	  nd_open_v1_adapter(ADDR, &w->new_adapter), NULL)                     \
	X(strerror_unknown_status, ANY, ND_SUCCESS, strerror_of_unknown(),     \
	  NULL)                                                                \
	/* overlapped requests and the adapter's queue */                      \
	X(cancel_null, ANY, ND_INVALID_HANDLE, nd_cancel_overlapped(NULL),     \
	  NULL)                                                                \
	X(cancel_adapter, ANY, ND_INVALID_HANDLE, nd_cancel_overlapped(A),     \
	  then_adapter_answers)                                                \
	X(cancel_qp, ANY, ND_INVALID_HANDLE,                                   \
	  nd_cancel_overlapped(w->live.aqp), then_live_pair_works)             \
	X(cancel_zeroed, ANY, ND_INVALID_HANDLE,                               \
	  nd_cancel_overlapped(w->zeroed), NULL)                               \
	X(cancel_garbage, ANY, ND_INVALID_HANDLE,                              \
	  nd_cancel_overlapped(w->garbage), NULL)                              \
	X(cancel_released_cq, ANY, ND_INVALID_HANDLE,                          \
	  nd_cancel_overlapped(w->released_cq), NULL)                          \
	X(result_null_object, ANY, ND_INVALID_HANDLE,                          \
	  nd_get_overlapped_result(NULL, &w->ov, false), NULL)                 \
	X(result_null_ov, ANY, ND_INVALID_PARAMETER_1,                         \
	  nd_get_overlapped_result(w->live.acq, NULL, true), NULL)             \
	X(result_qp, ANY, ND_INVALID_HANDLE,                                   \
	  nd_get_overlapped_result(w->live.aqp, &w->ov, false), NULL)          \
	X(result_garbage, ANY, ND_INVALID_HANDLE,                              \
	  nd_get_overlapped_result(w->garbage, &w->ov, true), NULL)            \
	X(ov_file_null_adapter, ANY, ND_INVALID_HANDLE,                        \
	  nd_adapter_create_overlapped_file(NULL, &w->fd), NULL)               \
	X(ov_file_null_fd, ANY, ND_INVALID_PARAMETER_1,                        \
	  nd_adapter_create_overlapped_file(A, NULL), then_adapter_answers)    \
	X(ov_file_released_adapter, ANY, ND_INVALID_HANDLE,                    \
	  nd_adapter_create_overlapped_file(w->released_adapter, &w->fd),      \
	  NULL)                                                                \
	X(dequeue_null_adapter, ANY, ND_INVALID_HANDLE,                        \
	  nd_adapter_dequeue_overlapped(NULL, 0, &w->got), NULL)               \
	X(dequeue_null_out, ANY, ND_INVALID_PARAMETER_2,                       \
	  nd_adapter_dequeue_overlapped(A, 0, NULL), NULL)                     \
	X(dequeue_zeroed_adapter, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_dequeue_overlapped(AD(w->zeroed), -1, &w->got), NULL)     \
	X(dequeue_nothing_finished, ANY, ND_TIMEOUT,                           \
	  nd_adapter_dequeue_overlapped(A, 0, &w->got), NULL)                  \
	X(post_null_adapter, ANY, ND_INVALID_HANDLE,                           \
	  nd_adapter_post_overlapped(NULL, &w->ov), NULL)                      \
	X(post_null_ov, ANY, ND_INVALID_PARAMETER_1,                           \
	  nd_adapter_post_overlapped(A, NULL), NULL)                           \
	X(post_garbage_adapter, ANY, ND_INVALID_HANDLE,                        \
	  nd_adapter_post_overlapped(AD(w->garbage), &w->ov), NULL)            \
	X(completion_mode_null_adapter, ANY, ND_INVALID_HANDLE,                \
	  nd_adapter_set_completion_mode(NULL,                                 \
					 ND_COMPLETION_QUEUE_ON_SUCCESS),      \
	  NULL)                                                                \
	X(completion_mode_cq, ANY, ND_INVALID_HANDLE,                          \
	  nd_adapter_set_completion_mode(AD(w->idle.acq), 0),                  \
	  then_cq_notifies)                                                    \
	X(completion_mode_released_adapter, ANY, ND_INVALID_HANDLE,            \
	  nd_adapter_set_completion_mode(w->released_adapter, 0), NULL)        \
	X(completion_mode_garbage_adapter, ANY, ND_INVALID_HANDLE,             \
	  nd_adapter_set_completion_mode(AD(w->garbage), 0), NULL)             \
	X(completion_mode_unknown, ANY, ND_INVALID_PARAMETER_1,                \
	  nd_adapter_set_completion_mode(A, 2), then_adapter_answers)          \
	X(completion_mode_unknown_kept, ANY, ND_INVALID_PARAMETER_1,           \
	  unknown_mode_keeps_mode(w), NULL)                                    \
	X(completion_mode_all_bits, ANY, ND_INVALID_PARAMETER_1,               \
	  nd_adapter_set_completion_mode(A, UINT32_MAX), then_adapter_answers) \
	X(completion_mode_default, ANY, ND_SUCCESS,                            \
	  nd_adapter_set_completion_mode(A, ND_COMPLETION_SKIP_ON_SUCCESS),    \
	  then_adapter_answers)                                                \
	/* adapter */                                                          \
	X(adapter_release_null, ANY, ND_INVALID_HANDLE,                        \
	  nd_adapter_release(NULL), NULL)                                      \
	X(adapter_release_cq, ANY, ND_INVALID_HANDLE,                          \
	  nd_adapter_release(AD(w->idle.acq)), then_cq_notifies)               \
	X(adapter_release_released, ANY, ND_INVALID_HANDLE,                    \
	  nd_adapter_release(w->released_adapter), NULL)                       \
	X(adapter_release_zeroed, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_release(AD(w->zeroed)), NULL)                             \
	X(query_null_adapter, ANY, ND_INVALID_HANDLE,                          \
	  nd_adapter_query(NULL, &w->info, &w->len), NULL)                     \
	X(query_released_adapter, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_query(w->released_adapter, &w->info,                      \
			   (w->len = sizeof(w->info), &w->len)),               \
	  NULL)                                                                \
	X(query_null_size, ANY, ND_INVALID_PARAMETER_2,                        \
	  nd_adapter_query(A, &w->info, NULL), NULL)                           \
	X(query_no_buffer, ANY, ND_BUFFER_OVERFLOW,                            \
	  nd_adapter_query(A, NULL, (w->len = 0, &w->len)), then_query_fits)   \
	X(query_short_buffer, ANY, ND_BUFFER_OVERFLOW,                         \
	  nd_adapter_query(A, &w->info, (w->len = 95, &w->len)),               \
	  then_query_fits)                                                     \
	X(query_unknown_version, ANY, ND_INVALID_PARAMETER_1,                  \
	  nd_adapter_query(A, (w->info.info_version = 7, &w->info),            \
			   (w->len = sizeof(w->info), &w->len)),               \
	  then_adapter_answers)                                                \
	X(address_list_null_adapter, ANY, ND_INVALID_HANDLE,                   \
	  nd_adapter_query_address_list(NULL, NULL, &w->len), NULL)            \
	X(address_list_null_size, ANY, ND_INVALID_PARAMETER_2,                 \
	  nd_adapter_query_address_list(A, NULL, NULL), NULL)                  \
	X(address_list_no_buffer, ANY, ND_BUFFER_OVERFLOW,                     \
	  nd_adapter_query_address_list(A, NULL, (w->len = 0, &w->len)),       \
	  then_adapter_list_fits)                                              \
	X(identity_null_adapter, ANY, ND_INVALID_HANDLE,                       \
	  nd_adapter_get_identity(NULL, &w->id), NULL)                         \
	X(identity_garbage_adapter, ANY, ND_INVALID_HANDLE,                    \
	  nd_adapter_get_identity(AD(w->garbage), &w->id), NULL)               \
	X(identity_null_out, ANY, ND_INVALID_PARAMETER_1,                      \
	  nd_adapter_get_identity(A, NULL), NULL)                              \
	X(create_cq_null_adapter, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_create_cq(NULL, 4, 0, 0, &w->new_cq), NULL)               \
	X(create_cq_released_adapter, ANY, ND_INVALID_HANDLE,                  \
	  nd_adapter_create_cq(w->released_adapter, 4, 0, 0, &w->new_cq),      \
	  NULL)                                                                \
	X(create_cq_zero_depth, ANY, ND_INVALID_PARAMETER_3,                   \
	  nd_adapter_create_cq(A, 0, 0, 0, &w->new_cq), then_adapter_answers)  \
	X(create_cq_oversize_depth, SMALL_MAX, ND_INVALID_PARAMETER_3,         \
	  nd_adapter_create_cq(A, MAXI.max_completion_queue_depth + 1, 0, 0,   \
			       &w->new_cq),                                    \
	  NULL)                                                                \
	X(create_cq_null_out, ANY, ND_INVALID_PARAMETER_6,                     \
	  nd_adapter_create_cq(A, 4, 0, 0, NULL), NULL)                        \
	X(create_mr_null_adapter, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_create_mr(NULL, &w->new_mr), NULL)                        \
	X(create_mr_null_out, ANY, ND_INVALID_PARAMETER_3,                     \
	  nd_adapter_create_mr(A, NULL), NULL)                                 \
	X(create_mw_null_adapter, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_create_mw(NULL, &w->new_mw), NULL)                        \
	X(create_mw_null_out, ANY, ND_INVALID_PARAMETER_2,                     \
	  nd_adapter_create_mw(A, NULL), NULL)                                 \
	X(create_srq_null_adapter, ANY, ND_INVALID_HANDLE,                     \
	  nd_adapter_create_srq(NULL, 4, 1, 0, 0, 0, &w->new_srq), NULL)       \
	X(create_srq_zero_depth, SRQ, ND_INVALID_PARAMETER_3,                  \
	  nd_adapter_create_srq(A, 0, 1, 0, 0, 0, &w->new_srq), NULL)          \
	X(create_srq_oversize_depth, SRQ | SMALL_MAX, ND_INVALID_PARAMETER_3,  \
	  nd_adapter_create_srq(A, MAXI.max_shared_receive_queue_depth + 1, 1, \
				0, 0, 0, &w->new_srq),                         \
	  NULL)                                                                \
	X(create_srq_too_many_sges, SRQ | SMALL_MAX, ND_INVALID_PARAMETER_4,   \
	  nd_adapter_create_srq(A, 4, MAXI.max_receive_sge + 1, 0, 0, 0,       \
				&w->new_srq),                                  \
	  NULL)                                                                \
	X(create_srq_null_out, SRQ, ND_INVALID_PARAMETER_8,                    \
	  nd_adapter_create_srq(A, 4, 1, 0, 0, 0, NULL), NULL)                 \
	X(create_qp_null_adapter, ANY, ND_INVALID_HANDLE,                      \
	  nd_adapter_create_qp(NULL, w->live.acq, w->live.acq, NULL, 1, 1, 1,  \
			       1, 0, &w->new_qp),                              \
	  NULL)                                                                \
	X(create_qp_null_receive_cq, ANY, ND_INVALID_PARAMETER_2,              \
	  nd_adapter_create_qp(A, NULL, w->live.acq, NULL, 1, 1, 1, 1, 0,      \
			       &w->new_qp),                                    \
	  NULL)                                                                \
	X(create_qp_released_receive_cq, ANY, ND_INVALID_PARAMETER_2,          \
	  nd_adapter_create_qp(A, w->released_cq, w->live.acq, NULL, 1, 1, 1,  \
			       1, 0, &w->new_qp),                              \
	  NULL)                                                                \
	X(create_qp_foreign_receive_cq, ANY, ND_INVALID_PARAMETER_2,           \
	  nd_adapter_create_qp(A, w->foreign_cq, w->live.acq, NULL, 1, 1, 1,   \
			       1, 0, &w->new_qp),                              \
	  NULL)                                                                \
	X(create_qp_zeroed_initiator_cq, ANY, ND_INVALID_PARAMETER_3,          \
	  nd_adapter_create_qp(A, w->live.acq, CQ(w->zeroed), NULL, 1, 1, 1,   \
			       1, 0, &w->new_qp),                              \
	  NULL)                                                                \
	X(create_qp_qp_as_cq, ANY, ND_INVALID_PARAMETER_3,                     \
	  nd_adapter_create_qp(A, w->live.acq, CQ(w->live.aqp), NULL, 1, 1, 1, \
			       1, 0, &w->new_qp),                              \
	  NULL)                                                                \
	X(create_qp_oversize_receive_depth, SMALL_MAX, ND_INVALID_PARAMETER_5, \
	  nd_adapter_create_qp(A, w->live.acq, w->live.acq, NULL,              \
			       MAXI.max_receive_queue_depth + 1, 1, 1, 1, 0,   \
			       &w->new_qp),                                    \
	  NULL)                                                                \
	X(create_qp_oversize_initiator_depth, SMALL_MAX,                       \
	  ND_INVALID_PARAMETER_6,                                              \
	  nd_adapter_create_qp(A, w->live.acq, w->live.acq, NULL, 1,           \
			       MAXI.max_initiator_queue_depth + 1, 1, 1, 0,    \
			       &w->new_qp),                                    \
	  NULL)                                                                \
	X(create_qp_too_many_receive_sges, SMALL_MAX, ND_INVALID_PARAMETER_7,  \
	  nd_adapter_create_qp(A, w->live.acq, w->live.acq, NULL, 1, 1,        \
			       MAXI.max_receive_sge + 1, 1, 0, &w->new_qp),    \
	  NULL)                                                                \
	X(create_qp_too_many_initiator_sges, SMALL_MAX,                        \
	  ND_INVALID_PARAMETER_8,                                              \
	  nd_adapter_create_qp(A, w->live.acq, w->live.acq, NULL, 1, 1, 1,     \
			       MAXI.max_initiator_sge + 1, 0, &w->new_qp),     \
	  NULL)                                                                \
	X(create_qp_oversize_inline, SMALL_MAX, ND_INVALID_PARAMETER_9,        \
	  nd_adapter_create_qp(A, w->live.acq, w->live.acq, NULL, 1, 1, 1, 1,  \
			       MAXI.max_inline_data_size + 1, &w->new_qp),     \
	  NULL)                                                                \
	X(create_qp_null_out, ANY, ND_INVALID_PARAMETER_10,                    \
	  nd_adapter_create_qp(A, w->live.acq, w->live.acq, NULL, 1, 1, 1, 1,  \
			       0, NULL),                                       \
	  then_live_pair_works)                                                \
	X(create_qp_srq_null_adapter, ANY, ND_INVALID_HANDLE,                  \
	  nd_adapter_create_qp_with_srq(NULL, w->live.acq, w->live.acq,        \
					w->srq, NULL, 1, 1, 0, &w->new_qp),    \
	  NULL)                                                                \
	X(create_qp_srq_null_receive_cq, SRQ, ND_INVALID_PARAMETER_2,          \
	  nd_adapter_create_qp_with_srq(A, NULL, w->live.acq, w->srq, NULL, 1, \
					1, 0, &w->new_qp),                     \
	  NULL)                                                                \
	X(create_qp_srq_null_initiator_cq, SRQ, ND_INVALID_PARAMETER_3,        \
	  nd_adapter_create_qp_with_srq(A, w->live.acq, NULL, w->srq, NULL, 1, \
					1, 0, &w->new_qp),                     \
	  NULL)                                                                \
	X(create_qp_srq_null_srq, SRQ, ND_INVALID_PARAMETER_4,                 \
	  nd_adapter_create_qp_with_srq(A, w->live.acq, w->live.acq, NULL,     \
					NULL, 1, 1, 0, &w->new_qp),            \
	  NULL)                                                                \
	X(create_qp_srq_released_srq, SRQ, ND_INVALID_PARAMETER_4,             \
	  nd_adapter_create_qp_with_srq(A, w->live.acq, w->live.acq,           \
					w->released_srq, NULL, 1, 1, 0,        \
					&w->new_qp),                           \
	  NULL)                                                                \
	X(create_qp_srq_garbage_srq, SRQ, ND_INVALID_PARAMETER_4,              \
	  nd_adapter_create_qp_with_srq(A, w->live.acq, w->live.acq,           \
					SRQ_(w->garbage), NULL, 1, 1, 0,       \
					&w->new_qp),                           \
	  NULL)                                                                \
	X(create_qp_srq_oversize_depth, SRQ | SMALL_MAX,                       \
	  ND_INVALID_PARAMETER_6,                                              \
	  nd_adapter_create_qp_with_srq(                                       \
	      A, w->live.acq, w->live.acq, w->srq, NULL,                       \
	      MAXI.max_initiator_queue_depth + 1, 1, 0, &w->new_qp),           \
	  NULL)                                                                \
	X(create_qp_srq_too_many_sges, SRQ | SMALL_MAX,                        \
	  ND_INVALID_PARAMETER_7,                                              \
	  nd_adapter_create_qp_with_srq(A, w->live.acq, w->live.acq, w->srq,   \
					NULL, 1, MAXI.max_initiator_sge + 1,   \
					0, &w->new_qp),                        \
	  NULL)                                                                \
	X(create_qp_srq_oversize_inline, SRQ | SMALL_MAX,                      \
	  ND_INVALID_PARAMETER_8,                                              \
	  nd_adapter_create_qp_with_srq(                                       \
	      A, w->live.acq, w->live.acq, w->srq, NULL, 1, 1,                 \
	      MAXI.max_inline_data_size + 1, &w->new_qp),                      \
	  NULL)                                                                \
	X(create_qp_srq_null_out, SRQ, ND_INVALID_PARAMETER_9,                 \
	  nd_adapter_create_qp_with_srq(A, w->live.acq, w->live.acq, w->srq,   \
					NULL, 1, 1, 0, NULL),                  \
	  NULL)                                                                \
	X(create_connector_null_adapter, ANY, ND_INVALID_HANDLE,               \
	  nd_adapter_create_connector(NULL, &w->new_connector), NULL)          \
	X(create_connector_null_out, ANY, ND_INVALID_PARAMETER_3,              \
	  nd_adapter_create_connector(A, NULL), NULL)                          \
	X(create_listener_null_adapter, ANY, ND_INVALID_HANDLE,                \
	  nd_adapter_create_listener(NULL, &w->new_listener), NULL)            \
	X(create_listener_null_out, ANY, ND_INVALID_PARAMETER_3,               \
	  nd_adapter_create_listener(A, NULL), NULL)                           \
	/* completion queue */                                                 \
	X(cq_release_null, ANY, ND_INVALID_HANDLE, nd_cq_release(NULL), NULL)  \
	X(cq_release_released, ANY, ND_INVALID_HANDLE,                         \
	  nd_cq_release(w->released_cq), NULL)                                 \
	X(cq_release_qp, ANY, ND_INVALID_HANDLE,                               \
	  nd_cq_release(CQ(w->live.aqp)), then_live_pair_works)                \
	X(cq_release_garbage, ANY, ND_INVALID_HANDLE,                          \
	  nd_cq_release(CQ(w->garbage)), NULL)                                 \
	X(cq_affinity_null_cq, ANY, ND_INVALID_HANDLE,                         \
	  nd_cq_get_notify_affinity(NULL, &w->group, &w->affinity), NULL)      \
	X(cq_affinity_null_group, ANY, ND_INVALID_PARAMETER_1,                 \
	  nd_cq_get_notify_affinity(w->idle.acq, NULL, &w->affinity), NULL)    \
	X(cq_affinity_null_affinity, ANY, ND_INVALID_PARAMETER_2,              \
	  nd_cq_get_notify_affinity(w->idle.acq, &w->group, NULL),             \
	  then_cq_notifies)                                                    \
	X(cq_resize_null_cq, ANY, ND_INVALID_HANDLE, nd_cq_resize(NULL, 8),    \
	  NULL)                                                                \
	X(cq_resize_zero, RESIZE, ND_INVALID_PARAMETER,                        \
	  nd_cq_resize(w->idle.acq, 0), then_cq_notifies)                      \
	X(cq_resize_oversize, RESIZE | SMALL_MAX, ND_INVALID_PARAMETER,        \
	  nd_cq_resize(w->idle.acq, MAXI.max_completion_queue_depth + 1),      \
	  then_cq_notifies)                                                    \
	X(cq_notify_null_cq, ANY, ND_INVALID_HANDLE,                           \
	  nd_cq_notify(NULL, ND_CQ_NOTIFY_ANY, &w->ov), NULL)                  \
	X(cq_notify_released_cq, ANY, ND_INVALID_HANDLE,                       \
	  nd_cq_notify(w->released_cq, ND_CQ_NOTIFY_ANY, &w->ov), NULL)        \
	X(cq_notify_unknown_type, ANY, ND_INVALID_PARAMETER_1,                 \
	  nd_cq_notify(w->idle.acq, 3, &w->ov), then_cq_notifies)              \
	X(cq_notify_null_ov, ANY, ND_INVALID_PARAMETER_2,                      \
	  nd_cq_notify(w->idle.acq, ND_CQ_NOTIFY_ANY, NULL), then_cq_notifies) \
	X(cq_results_null_cq, ANY, ND_SUCCESS,                                 \
	  zero(nd_cq_get_results(NULL, w->results, 4)), NULL)                  \
	X(cq_results_released_cq, FAST_CHECKS, ND_SUCCESS,                     \
	  zero(nd_cq_get_results(w->released_cq, w->results, 4)), NULL)        \
	X(cq_results_garbage_cq, FAST_CHECKS, ND_SUCCESS,                      \
	  zero(nd_cq_get_results(CQ(w->garbage), w->results, 4)), NULL)        \
	X(cq_results_null_array, ANY, ND_SUCCESS,                              \
	  zero(nd_cq_get_results(w->live.acq, NULL, 4)), then_live_pair_works) \
	/* memory region and window */                                         \
	X(mr_release_null, ANY, ND_INVALID_HANDLE, nd_mr_release(NULL), NULL)  \
	X(mr_release_released, MW, ND_INVALID_HANDLE,                          \
	  nd_mr_release(w->released_mr), NULL)                                 \
	X(mr_release_cq, ANY, ND_INVALID_HANDLE,                               \
	  nd_mr_release(MR(w->idle.acq)), then_cq_notifies)                    \
	X(mr_register_null_mr, ANY, ND_INVALID_HANDLE,                         \
	  nd_mr_register(NULL, w->buf, 64, 0, &w->ov), NULL)                   \
	X(mr_register_zeroed_mr, ANY, ND_INVALID_HANDLE,                       \
	  nd_mr_register(MR(w->zeroed), w->buf, 64, 0, &w->ov), NULL)          \
	X(mr_register_released_mr, MW, ND_INVALID_HANDLE,                      \
	  nd_mr_register(w->released_mr, w->buf, 64, 0, &w->ov), NULL)         \
	X(mr_register_null_ov, ANY, ND_INVALID_PARAMETER_4,                    \
	  nd_mr_register(w->mr_empty, w->buf, 64, 0, NULL), then_mr_registers) \
	X(mr_register_null_buffer, ANY, ND_INVALID_PARAMETER,                  \
	  nd_mr_register(w->mr_empty, NULL, 0, 0, &w->ov), then_mr_registers)  \
	X(mr_register_zero_length, ANY, ND_INVALID_BUFFER_SIZE,                \
	  nd_mr_register(w->mr_empty, w->buf, 0, 0, &w->ov),                   \
	  then_mr_registers)                                                   \
	X(mr_register_oversize, REG_MAX, ND_INVALID_PARAMETER,                 \
	  nd_mr_register(w->mr_empty, w->buf,                                  \
			 (size_t)MAXI.max_registration_size + 1, 0, &w->ov),   \
	  then_mr_registers)                                                   \
	X(mr_register_unknown_flag, ANY, ND_INVALID_PARAMETER_3,               \
	  nd_mr_register(w->mr_empty, w->buf, 64, 0x40, &w->ov),               \
	  then_mr_registers)                                                   \
	X(mr_register_twice, ANY, ND_INVALID_DEVICE_STATE,                     \
	  nd_mr_register(w->mr, w->buf, 64, 0, &w->ov), then_live_pair_works)  \
	X(mr_deregister_null_mr, ANY, ND_INVALID_HANDLE,                       \
	  nd_mr_deregister(NULL, &w->ov), NULL)                                \
	X(mr_deregister_null_ov, ANY, ND_INVALID_PARAMETER_1,                  \
	  nd_mr_deregister(w->mr, NULL), then_live_pair_works)                 \
	X(mr_deregister_unregistered, ANY, ND_INVALID_DEVICE_STATE,            \
	  nd_mr_deregister(w->mr_empty, &w->ov), then_mr_registers)            \
	X(mr_deregister_window_bound, MW, ND_DEVICE_BUSY,                      \
	  nd_mr_deregister(w->mr_busy, &w->ov), NULL)                          \
	X(mr_local_token_null, ANY, ND_SUCCESS,                                \
	  zero(nd_mr_get_local_token(NULL)), NULL)                             \
	X(mr_local_token_garbage, ANY, ND_SUCCESS,                             \
	  zero(nd_mr_get_local_token(MR(w->garbage))), NULL)                   \
	X(mr_local_token_unregistered, ANY, ND_SUCCESS,                        \
	  zero(nd_mr_get_local_token(w->mr_empty)), NULL)                      \
	X(mr_remote_token_null, ANY, ND_SUCCESS,                               \
	  zero(nd_mr_get_remote_token(NULL)), NULL)                            \
	X(mr_remote_token_released, MW, ND_SUCCESS,                            \
	  zero(nd_mr_get_remote_token(w->released_mr)), NULL)                  \
	X(mw_release_null, ANY, ND_INVALID_HANDLE, nd_mw_release(NULL), NULL)  \
	X(mw_release_mr, ANY, ND_INVALID_HANDLE, nd_mw_release(MW_(w->mr)),    \
	  then_live_pair_works)                                                \
	X(mw_remote_token_null, ANY, ND_SUCCESS,                               \
	  zero(nd_mw_get_remote_token(NULL)), NULL)                            \
	X(mw_remote_token_zeroed, ANY, ND_SUCCESS,                             \
	  zero(nd_mw_get_remote_token(MW_(w->zeroed))), NULL)                  \
	/* shared receive queue */                                             \
	X(srq_release_null, ANY, ND_INVALID_HANDLE, nd_srq_release(NULL),      \
	  NULL)                                                                \
	X(srq_release_released, SRQ, ND_INVALID_HANDLE,                        \
	  nd_srq_release(w->released_srq), NULL)                               \
	X(srq_affinity_null_srq, ANY, ND_INVALID_HANDLE,                       \
	  nd_srq_get_notify_affinity(NULL, &w->group, &w->affinity), NULL)     \
	X(srq_affinity_null_group, SRQ, ND_INVALID_PARAMETER_1,                \
	  nd_srq_get_notify_affinity(w->srq, NULL, &w->affinity), NULL)        \
	X(srq_affinity_null_affinity, SRQ, ND_INVALID_PARAMETER_2,             \
	  nd_srq_get_notify_affinity(w->srq, &w->group, NULL), NULL)           \
	X(srq_modify_null_srq, ANY, ND_INVALID_HANDLE,                         \
	  nd_srq_modify(NULL, 4, 0), NULL)                                     \
	X(srq_modify_released_srq, SRQ, ND_INVALID_HANDLE,                     \
	  nd_srq_modify(w->released_srq, 4, 0), NULL)                          \
	X(srq_modify_oversize, SRQ | SMALL_MAX, ND_INVALID_PARAMETER,          \
	  nd_srq_modify(w->srq, MAXI.max_shared_receive_queue_depth + 1, 0),   \
	  NULL)                                                                \
	X(srq_notify_null_srq, ANY, ND_INVALID_HANDLE,                         \
	  nd_srq_notify(NULL, &w->ov), NULL)                                   \
	X(srq_notify_null_ov, SRQ, ND_INVALID_PARAMETER_1,                     \
	  nd_srq_notify(w->srq, NULL), NULL)                                   \
	X(srq_receive_null_srq, ANY, ND_INVALID_HANDLE,                        \
	  nd_srq_receive(NULL, NULL, w->sge, 1), NULL)                         \
	X(srq_receive_released_srq, SRQ | FAST_CHECKS, ND_INVALID_HANDLE,      \
	  nd_srq_receive(w->released_srq, NULL, NULL, 0), NULL)                \
	X(srq_receive_garbage_srq, FAST_CHECKS, ND_INVALID_HANDLE,             \
	  nd_srq_receive(SRQ_(w->garbage), NULL, NULL, 0), NULL)               \
	X(srq_receive_null_sges, SRQ, ND_INVALID_PARAMETER_2,                  \
	  nd_srq_receive(w->srq, NULL, NULL, 1), NULL)                         \
	X(srq_receive_too_many_sges, SRQ, ND_DATA_OVERRUN,                     \
	  nd_srq_receive(w->srq, NULL, w->sge, 2), NULL)                       \
	X(srq_receive_full, SRQ, ND_NO_MORE_ENTRIES,                           \
	  srq_receive_on_full_queue(w), then_srq_serves)                       \
	/* queue pair: posts */                                                \
	X(qp_flush_null, ANY, ND_INVALID_HANDLE, nd_qp_flush(NULL), NULL)      \
	X(qp_flush_released, ANY, ND_INVALID_HANDLE,                           \
	  nd_qp_flush(w->released_qp), NULL)                                   \
	X(qp_flush_cq, ANY, ND_INVALID_HANDLE, nd_qp_flush(QP(w->live.acq)),   \
	  then_live_pair_works)                                                \
	X(qp_flush_garbage, ANY, ND_INVALID_HANDLE,                            \
	  nd_qp_flush(QP(w->garbage)), NULL)                                   \
	X(qp_release_null, ANY, ND_INVALID_HANDLE, nd_qp_release(NULL), NULL)  \
	X(qp_release_released, ANY, ND_INVALID_HANDLE,                         \
	  nd_qp_release(w->released_qp), NULL)                                 \
	X(qp_release_zeroed, ANY, ND_INVALID_HANDLE,                           \
	  nd_qp_release(QP(w->zeroed)), NULL)                                  \
	X(send_null_qp, ANY, ND_INVALID_HANDLE,                                \
	  nd_qp_send(NULL, NULL, w->sge, 1, 0), NULL)                          \
	X(send_null_sges, ANY, ND_INVALID_PARAMETER_2,                         \
	  nd_qp_send(w->live.aqp, NULL, NULL, 1, 0), then_live_pair_works)     \
	X(send_unknown_flag, ANY, ND_INVALID_PARAMETER_4,                      \
	  nd_qp_send(w->live.aqp, NULL, w->sge, 1, 0x40),                      \
	  then_live_pair_works)                                                \
	X(send_bind_flag, ANY, ND_INVALID_PARAMETER_4,                         \
	  nd_qp_send(w->live.aqp, NULL, w->sge, 1, ND_OP_FLAG_ALLOW_WRITE),    \
	  then_live_pair_works)                                                \
	X(send_too_many_sges, ANY, ND_DATA_OVERRUN,                            \
	  nd_qp_send(w->live.aqp, NULL, w->sge, 2, 0), then_live_pair_works)   \
	X(send_oversize, XFER_MAX, ND_BUFFER_OVERFLOW,                         \
	  nd_qp_send(w->live.aqp, NULL, &w->huge, 1, 0), then_live_pair_works) \
	X(send_inline_oversize, ANY, ND_BUFFER_OVERFLOW,                       \
	  nd_qp_send(w->live.aqp, NULL, w->sge, 1, ND_OP_FLAG_INLINE),         \
	  then_live_pair_works)                                                \
	X(send_before_connect, ANY, ND_CONNECTION_INVALID,                     \
	  nd_qp_send(w->idle.aqp, NULL, NULL, 0, 0), NULL)                     \
	X(send_after_disconnect, ANY, ND_CONNECTION_INVALID,                   \
	  nd_qp_send(w->gone.aqp, NULL, NULL, 0, 0), NULL)                     \
	X(send_released_qp, FAST_CHECKS, ND_INVALID_HANDLE,                    \
	  nd_qp_send(w->released_qp, NULL, NULL, 0, 0), NULL)                  \
	X(send_zeroed_qp, FAST_CHECKS, ND_INVALID_HANDLE,                      \
	  nd_qp_send(QP(w->zeroed), NULL, NULL, 0, 0), NULL)                   \
	X(send_garbage_qp, FAST_CHECKS, ND_INVALID_HANDLE,                     \
	  nd_qp_send(QP(w->garbage), NULL, NULL, 0, 0), NULL)                  \
	X(send_cq_as_qp, FAST_CHECKS, ND_INVALID_HANDLE,                       \
	  nd_qp_send(QP(w->live.acq), NULL, NULL, 0, 0), then_live_pair_works) \
	X(send_queue_full, ANY, ND_NO_MORE_ENTRIES,                            \
	  post_on_full_queue(w, OP_SEND), then_full_queue_drains)              \
	X(receive_null_qp, ANY, ND_INVALID_HANDLE,                             \
	  nd_qp_receive(NULL, NULL, w->sge, 1), NULL)                          \
	X(receive_released_qp, FAST_CHECKS, ND_INVALID_HANDLE,                 \
	  nd_qp_receive(w->released_qp, NULL, NULL, 0), NULL)                  \
	X(receive_garbage_qp, FAST_CHECKS, ND_INVALID_HANDLE,                  \
	  nd_qp_receive(QP(w->garbage), NULL, NULL, 0), NULL)                  \
	X(receive_null_sges, ANY, ND_INVALID_PARAMETER_2,                      \
	  nd_qp_receive(w->live.pqp, NULL, NULL, 1), then_live_pair_works)     \
	X(receive_too_many_sges, ANY, ND_DATA_OVERRUN,                         \
	  nd_qp_receive(w->live.pqp, NULL, w->sge, 2), then_live_pair_works)   \
	X(receive_queue_full, ANY, ND_NO_MORE_ENTRIES,                         \
	  receive_on_full_queue(w), then_receive_queue_drains)                 \
	X(receive_on_srq_qp, SRQ, ND_INVALID_DEVICE_REQUEST,                   \
	  nd_qp_receive(w->srq_qp, NULL, NULL, 0), NULL)                       \
	X(bind_null_qp, ANY, ND_INVALID_HANDLE,                                \
	  nd_qp_bind(NULL, NULL, w->mr, w->mw, w->buf, 8, 0), NULL)            \
	X(bind_null_mr, ANY, ND_INVALID_PARAMETER_2,                           \
	  nd_qp_bind(w->live.aqp, NULL, NULL, w->mw, w->buf, 8, 0), NULL)      \
	X(bind_null_mw, ANY, ND_INVALID_PARAMETER_3,                           \
	  nd_qp_bind(w->live.aqp, NULL, w->mr, NULL, w->buf, 8, 0),            \
	  then_live_pair_works)                                                \
	X(bind_garbage_mr, MW | FAST_CHECKS, ND_INVALID_PARAMETER_2,           \
	  nd_qp_bind(w->live.aqp, NULL, MR(w->garbage), w->mw, w->buf, 8, 0),  \
	  then_live_pair_works)                                                \
	X(bind_released_mr, MW | FAST_CHECKS, ND_INVALID_PARAMETER_2,          \
	  nd_qp_bind(w->live.aqp, NULL, w->released_mr, w->mw, w->buf, 8, 0),  \
	  then_live_pair_works)                                                \
	X(bind_cq_as_mw, MW | FAST_CHECKS, ND_INVALID_PARAMETER_3,             \
	  nd_qp_bind(w->live.aqp, NULL, w->mr, MW_(w->live.acq), w->buf, 8,    \
		     0),                                                       \
	  then_live_pair_works)                                                \
	X(bind_unknown_flag, MW, ND_INVALID_PARAMETER_6,                       \
	  nd_qp_bind(w->live.aqp, NULL, w->mr, w->mw, w->buf, 8, 0x40),        \
	  then_live_pair_works)                                                \
	X(bind_inline_flag, MW, ND_INVALID_PARAMETER_6,                        \
	  nd_qp_bind(w->live.aqp, NULL, w->mr, w->mw, w->buf, 8,               \
		     ND_OP_FLAG_INLINE),                                       \
	  then_live_pair_works)                                                \
	X(bind_outside_region, MW, ND_ACCESS_VIOLATION,                        \
	  nd_qp_bind(w->live.aqp, NULL, w->mr, w->mw, w->buf + 4000, 4096, 0), \
	  then_live_pair_works)                                                \
	X(bind_unregistered_region, MW, ND_ACCESS_VIOLATION,                   \
	  nd_qp_bind(w->live.aqp, NULL, w->mr_empty, w->mw, w->buf, 8, 0),     \
	  then_live_pair_works)                                                \
	X(bind_write_without_local_write, MW, ND_ACCESS_VIOLATION,             \
	  nd_qp_bind(w->live.aqp, NULL, w->mr_ro, w->mw, w->buf, 8,            \
		     ND_OP_FLAG_ALLOW_WRITE),                                  \
	  then_live_pair_works)                                                \
	X(bind_before_connect, MW, ND_CONNECTION_INVALID,                      \
	  nd_qp_bind(w->idle.aqp, NULL, w->mr, w->mw, w->buf, 8, 0), NULL)     \
	X(bind_queue_full, MW, ND_NO_MORE_ENTRIES,                             \
	  post_on_full_queue(w, OP_BIND), then_full_queue_drains)              \
	X(invalidate_null_qp, ANY, ND_INVALID_HANDLE,                          \
	  nd_qp_invalidate(NULL, NULL, w->mw, 0), NULL)                        \
	X(invalidate_null_mw, ANY, ND_INVALID_PARAMETER_2,                     \
	  nd_qp_invalidate(w->live.aqp, NULL, NULL, 0), then_live_pair_works)  \
	X(invalidate_zeroed_mw, FAST_CHECKS, ND_INVALID_PARAMETER_2,           \
	  nd_qp_invalidate(w->live.aqp, NULL, MW_(w->zeroed), 0),              \
	  then_live_pair_works)                                                \
	X(invalidate_write_flag, MW, ND_INVALID_PARAMETER_3,                   \
	  nd_qp_invalidate(w->live.aqp, NULL, w->mw, ND_OP_FLAG_ALLOW_WRITE),  \
	  then_live_pair_works)                                                \
	X(invalidate_before_connect, MW, ND_CONNECTION_INVALID,                \
	  nd_qp_invalidate(w->idle.aqp, NULL, w->mw, 0), NULL)                 \
	X(invalidate_queue_full, MW, ND_NO_MORE_ENTRIES,                       \
	  post_on_full_queue(w, OP_INVALIDATE), then_full_queue_drains)        \
	X(read_null_qp, ANY, ND_INVALID_HANDLE,                                \
	  nd_qp_read(NULL, NULL, w->sge, 1, BUFA, TOKEN, 0), NULL)             \
	X(read_garbage_qp, FAST_CHECKS, ND_INVALID_HANDLE,                     \
	  nd_qp_read(QP(w->garbage), NULL, NULL, 0, BUFA, TOKEN, 0), NULL)     \
	X(read_null_sges, ANY, ND_INVALID_PARAMETER_2,                         \
	  nd_qp_read(w->live.aqp, NULL, NULL, 1, BUFA, TOKEN, 0),              \
	  then_live_pair_works)                                                \
	X(read_inline_flag, ANY, ND_INVALID_PARAMETER_6,                       \
	  nd_qp_read(w->live.aqp, NULL, w->sge, 1, BUFA, TOKEN,                \
		     ND_OP_FLAG_INLINE),                                       \
	  then_live_pair_works)                                                \
	X(read_too_many_sges, ANY, ND_DATA_OVERRUN,                            \
	  nd_qp_read(w->live.aqp, NULL, w->sge, 2, BUFA, TOKEN, 0),            \
	  then_live_pair_works)                                                \
	X(read_oversize, XFER_MAX, ND_BUFFER_OVERFLOW,                         \
	  nd_qp_read(w->live.aqp, NULL, &w->huge, 1, BUFA, TOKEN, 0),          \
	  then_live_pair_works)                                                \
	X(read_before_connect, ANY, ND_CONNECTION_INVALID,                     \
	  nd_qp_read(w->idle.aqp, NULL, NULL, 0, BUFA, TOKEN, 0), NULL)        \
	X(read_queue_full, ANY, ND_NO_MORE_ENTRIES,                            \
	  post_on_full_queue(w, OP_READ), then_full_queue_drains)              \
	X(write_null_qp, ANY, ND_INVALID_HANDLE,                               \
	  nd_qp_write(NULL, NULL, w->sge, 1, BUFA, TOKEN, 0), NULL)            \
	X(write_released_qp, FAST_CHECKS, ND_INVALID_HANDLE,                   \
	  nd_qp_write(w->released_qp, NULL, NULL, 0, BUFA, TOKEN, 0), NULL)    \
	X(write_null_sges, ANY, ND_INVALID_PARAMETER_2,                        \
	  nd_qp_write(w->live.aqp, NULL, NULL, 1, BUFA, TOKEN, 0),             \
	  then_live_pair_works)                                                \
	X(write_solicit_flag, ANY, ND_INVALID_PARAMETER_6,                     \
	  nd_qp_write(w->live.aqp, NULL, w->sge, 1, BUFA, TOKEN,               \
		      ND_OP_FLAG_SEND_AND_SOLICIT_EVENT),                      \
	  then_live_pair_works)                                                \
	X(write_too_many_sges, ANY, ND_DATA_OVERRUN,                           \
	  nd_qp_write(w->live.aqp, NULL, w->sge, 2, BUFA, TOKEN, 0),           \
	  then_live_pair_works)                                                \
	X(write_oversize, XFER_MAX, ND_BUFFER_OVERFLOW,                        \
	  nd_qp_write(w->live.aqp, NULL, &w->huge, 1, BUFA, TOKEN, 0),         \
	  then_live_pair_works)                                                \
	X(write_inline_oversize, ANY, ND_BUFFER_OVERFLOW,                      \
	  nd_qp_write(w->live.aqp, NULL, w->sge, 1, BUFA, TOKEN,               \
		      ND_OP_FLAG_INLINE),                                      \
	  then_live_pair_works)                                                \
	X(write_before_connect, ANY, ND_CONNECTION_INVALID,                    \
	  nd_qp_write(w->idle.aqp, NULL, NULL, 0, BUFA, TOKEN, 0), NULL)       \
	X(write_after_disconnect, ANY, ND_CONNECTION_INVALID,                  \
	  nd_qp_write(w->gone.aqp, NULL, NULL, 0, BUFA, TOKEN, 0), NULL)       \
	X(write_queue_full, ANY, ND_NO_MORE_ENTRIES,                           \
	  post_on_full_queue(w, OP_WRITE), then_full_queue_drains)             \
	/* connector */                                                        \
	X(connector_release_null, ANY, ND_INVALID_HANDLE,                      \
	  nd_connector_release(NULL), NULL)                                    \
	X(connector_release_listener, ANY, ND_INVALID_HANDLE,                  \
	  nd_connector_release(CN(w->live.l)), then_listener_accepts)          \
	X(connector_release_garbage, ANY, ND_INVALID_HANDLE,                   \
	  nd_connector_release(CN(w->garbage)), NULL)                          \
	X(connector_bind_null_connector, ANY, ND_INVALID_HANDLE,               \
	  nd_connector_bind(NULL, ADDR), NULL)                                 \
	X(connector_bind_null_addr, ANY, ND_INVALID_PARAMETER_1,               \
	  nd_connector_bind(w->fresh_connector, NULL, 16), NULL)               \
	X(connector_bind_short_addr, ANY, ND_INVALID_PARAMETER_2,              \
	  nd_connector_bind(w->fresh_connector, ADDR - 13), NULL)              \
	X(connector_bind_unix_family, ANY, ND_INVALID_ADDRESS,                 \
	  nd_connector_bind(w->fresh_connector, SA(&w->unix_addr),             \
			    sizeof(w->unix_addr)),                             \
	  NULL)                                                                \
	X(connector_bind_in_use, ANY, ND_SHARING_VIOLATION,                    \
	  connector_bind_in_use(w), NULL)                                      \
	X(connector_bind_twice, ANY, ND_ADDRESS_ALREADY_ASSOCIATED,            \
	  nd_connector_bind(w->live.ac, ADDR), then_live_pair_works)           \
	X(connect_null_connector, ANY, ND_INVALID_HANDLE,                      \
	  nd_connector_connect(NULL, w->idle.aqp, SA(&w->live_dest),           \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  NULL)                                                                \
	X(connect_null_qp, ANY, ND_INVALID_PARAMETER_1,                        \
	  nd_connector_connect(w->idle.ac, NULL, SA(&w->live_dest),            \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  NULL)                                                                \
	X(connect_released_qp, ANY, ND_INVALID_PARAMETER_1,                    \
	  nd_connector_connect(w->idle.ac, w->released_qp, SA(&w->live_dest),  \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  NULL)                                                                \
	X(connect_garbage_qp, ANY, ND_INVALID_PARAMETER_1,                     \
	  nd_connector_connect(w->idle.ac, QP(w->garbage), SA(&w->live_dest),  \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  NULL)                                                                \
	X(connect_null_dest, ANY, ND_INVALID_PARAMETER_2,                      \
	  nd_connector_connect(w->idle.ac, w->idle.aqp, NULL, 16, 0, 0, NULL,  \
			       0, &w->ov),                                     \
	  NULL)                                                                \
	X(connect_short_dest, ANY, ND_INVALID_PARAMETER_3,                     \
	  nd_connector_connect(w->idle.ac, w->idle.aqp, SA(&w->live_dest), 2,  \
			       0, 0, NULL, 0, &w->ov),                         \
	  NULL)                                                                \
	X(connect_null_ov, ANY, ND_INVALID_PARAMETER_8,                        \
	  nd_connector_connect(w->idle.ac, w->idle.aqp, SA(&w->live_dest),     \
			       w->live_dest_len, 0, 0, NULL, 0, NULL),         \
	  NULL)                                                                \
	X(connect_null_private_data, ANY, ND_ACCESS_VIOLATION,                 \
	  nd_connector_connect(w->idle.ac, w->idle.aqp, SA(&w->live_dest),     \
			       w->live_dest_len, 0, 0, NULL, 4, &w->ov),       \
	  NULL)                                                                \
	X(connect_unspecified_dest, ANY, ND_BAD_NETWORK_NAME,                  \
	  nd_connector_connect(w->idle.ac, w->idle.aqp, SA(&w->any4),          \
			       sizeof(w->any4), 0, 0, NULL, 0, &w->ov),        \
	  NULL)                                                                \
	X(connect_oversize_private_data, ANY, ND_INVALID_BUFFER_SIZE,          \
	  connect_oversize_pdata(w), then_connect_succeeds)                    \
	X(connect_connected, ANY, ND_CONNECTION_ACTIVE,                        \
	  nd_connector_connect(w->live.ac, w->live.aqp, SA(&w->live_dest),     \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  then_live_pair_works)                                                \
	X(connect_connected_qp, ANY, ND_CONNECTION_ACTIVE,                     \
	  nd_connector_connect(w->idle.ac, w->live.aqp, SA(&w->live_dest),     \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  then_live_pair_works)                                                \
	X(connect_after_disconnect, ANY, ND_CONNECTION_INVALID,                \
	  nd_connector_connect(w->gone.ac, w->gone.aqp, SA(&w->live_dest),     \
			       w->live_dest_len, 0, 0, NULL, 0, &w->ov),       \
	  NULL)                                                                \
	X(complete_connect_null_connector, ANY, ND_INVALID_HANDLE,             \
	  nd_connector_complete_connect(NULL, &w->ov), NULL)                   \
	X(complete_connect_null_ov, ANY, ND_INVALID_PARAMETER_1,               \
	  nd_connector_complete_connect(w->live.ac, NULL), NULL)               \
	X(complete_connect_idle, ANY, ND_CONNECTION_INVALID,                   \
	  nd_connector_complete_connect(w->idle.ac, &w->ov), NULL)             \
	X(complete_connect_connected, ANY, ND_CONNECTION_INVALID,              \
	  nd_connector_complete_connect(w->live.ac, &w->ov),                   \
	  then_live_pair_works)                                                \
	X(complete_connect_passive, ANY, ND_CONNECTION_INVALID,                \
	  nd_connector_complete_connect(w->live.pc, &w->ov),                   \
	  then_live_pair_works)                                                \
	X(accept_null_connector, ANY, ND_INVALID_HANDLE,                       \
	  nd_connector_accept(NULL, w->idle.pqp, 0, 0, NULL, 0, &w->ov), NULL) \
	X(accept_null_qp, ANY, ND_INVALID_PARAMETER_1,                         \
	  nd_connector_accept(w->idle.pc, NULL, 0, 0, NULL, 0, &w->ov), NULL)  \
	X(accept_cq_as_qp, ANY, ND_INVALID_PARAMETER_1,                        \
	  nd_connector_accept(w->idle.pc, QP(w->foreign_cq), 0, 0, NULL, 0,    \
			      &w->ov),                                         \
	  NULL)                                                                \
	X(accept_null_ov, ANY, ND_INVALID_PARAMETER_6,                         \
	  nd_connector_accept(w->idle.pc, w->idle.pqp, 0, 0, NULL, 0, NULL),   \
	  NULL)                                                                \
	X(accept_null_private_data, ANY, ND_ACCESS_VIOLATION,                  \
	  nd_connector_accept(w->idle.pc, w->idle.pqp, 0, 0, NULL, 1, &w->ov), \
	  NULL)                                                                \
	X(accept_without_request, ANY, ND_CONNECTION_INVALID,                  \
	  nd_connector_accept(w->idle.pc, w->idle.pqp, 0, 0, NULL, 0, &w->ov), \
	  NULL)                                                                \
	X(accept_twice, ANY, ND_CONNECTION_ACTIVE,                             \
	  nd_connector_accept(w->live.pc, w->live.pqp, 0, 0, NULL, 0, &w->ov), \
	  then_live_pair_works)                                                \
	X(accept_oversize_private_data, ANY, ND_INVALID_BUFFER_SIZE,           \
	  accept_oversize_pdata(w), then_accept_succeeds)                      \
	X(reject_null_connector, ANY, ND_INVALID_HANDLE,                       \
	  nd_connector_reject(NULL, NULL, 0), NULL)                            \
	X(reject_oversize_private_data, ANY, ND_INVALID_BUFFER_SIZE,           \
	  nd_connector_reject(w->idle.pc, w->pdata, MAXI.max_callee_data + 1), \
	  NULL)                                                                \
	X(reject_null_private_data, ANY, ND_ACCESS_VIOLATION,                  \
	  nd_connector_reject(w->idle.pc, NULL, 3), NULL)                      \
	X(reject_without_request, ANY, ND_CONNECTION_INVALID,                  \
	  nd_connector_reject(w->idle.pc, NULL, 0), NULL)                      \
	X(read_limits_null_connector, ANY, ND_INVALID_HANDLE,                  \
	  nd_connector_get_read_limits(NULL, NULL, NULL), NULL)                \
	X(read_limits_idle, ANY, ND_CONNECTION_INVALID,                        \
	  nd_connector_get_read_limits(w->idle.ac, NULL, NULL), NULL)          \
	X(private_data_null_connector, ANY, ND_INVALID_HANDLE,                 \
	  nd_connector_get_private_data(NULL, w->pdata, &w->len), NULL)        \
	X(private_data_null_len, ANY, ND_INVALID_PARAMETER_2,                  \
	  nd_connector_get_private_data(w->live.ac, w->pdata, NULL), NULL)     \
	X(private_data_null_buffer, ANY, ND_INVALID_PARAMETER_1,               \
	  nd_connector_get_private_data(w->live.ac, NULL,                      \
					(w->len = 4, &w->len)),                \
	  NULL)                                                                \
	X(private_data_idle, ANY, ND_CONNECTION_INVALID,                       \
	  nd_connector_get_private_data(w->idle.ac, w->pdata,                  \
					(w->len = 4, &w->len)),                \
	  NULL)                                                                \
	X(local_address_null_connector, ANY, ND_INVALID_HANDLE,                \
	  nd_connector_get_local_address(NULL, OUT), NULL)                     \
	X(local_address_null_len, ANY, ND_INVALID_PARAMETER_2,                 \
	  nd_connector_get_local_address(w->live.ac, SA(&w->out), NULL), NULL) \
	X(local_address_idle, ANY, ND_CONNECTION_INVALID,                      \
	  nd_connector_get_local_address(w->idle.ac, SA(&w->out),              \
					 (w->len = sizeof(w->out), &w->len)),  \
	  NULL)                                                                \
	X(local_address_small_buffer, ANY, ND_BUFFER_OVERFLOW,                 \
	  local_address_too_small(w, false), then_live_pair_works)             \
	X(peer_address_null_connector, ANY, ND_INVALID_HANDLE,                 \
	  nd_connector_get_peer_address(NULL, OUT), NULL)                      \
	X(peer_address_null_len, ANY, ND_INVALID_PARAMETER_2,                  \
	  nd_connector_get_peer_address(w->live.ac, SA(&w->out), NULL), NULL)  \
	X(peer_address_idle, ANY, ND_CONNECTION_INVALID,                       \
	  nd_connector_get_peer_address(w->idle.ac, SA(&w->out),               \
					(w->len = sizeof(w->out), &w->len)),   \
	  NULL)                                                                \
	X(peer_address_no_buffer, ANY, ND_BUFFER_OVERFLOW,                     \
	  nd_connector_get_peer_address(w->live.ac, NULL,                      \
					(w->len = 0, &w->len)),                \
	  then_live_pair_works)                                                \
	X(notify_disconnect_null_connector, ANY, ND_INVALID_HANDLE,            \
	  nd_connector_notify_disconnect(NULL, &w->ov), NULL)                  \
	X(notify_disconnect_null_ov, ANY, ND_INVALID_PARAMETER_1,              \
	  nd_connector_notify_disconnect(w->live.ac, NULL),                    \
	  then_live_pair_works)                                                \
	X(notify_disconnect_idle, ANY, ND_CONNECTION_INVALID,                  \
	  nd_connector_notify_disconnect(w->idle.ac, &w->ov), NULL)            \
	X(disconnect_null_connector, ANY, ND_INVALID_HANDLE,                   \
	  nd_connector_disconnect(NULL, &w->ov), NULL)                         \
	X(disconnect_null_ov, ANY, ND_INVALID_PARAMETER_1,                     \
	  nd_connector_disconnect(w->live.ac, NULL), then_live_pair_works)     \
	X(disconnect_idle, ANY, ND_CONNECTION_INVALID,                         \
	  nd_connector_disconnect(w->idle.ac, &w->ov), NULL)                   \
	/* listener */                                                         \
	X(listener_release_null, ANY, ND_INVALID_HANDLE,                       \
	  nd_listener_release(NULL), NULL)                                     \
	X(listener_release_connector, ANY, ND_INVALID_HANDLE,                  \
	  nd_listener_release(LS(w->live.ac)), then_live_pair_works)           \
	X(listener_release_zeroed, ANY, ND_INVALID_HANDLE,                     \
	  nd_listener_release(LS(w->zeroed)), NULL)                            \
	X(listener_bind_null_listener, ANY, ND_INVALID_HANDLE,                 \
	  nd_listener_bind(NULL, ADDR), NULL)                                  \
	X(listener_bind_null_addr, ANY, ND_INVALID_PARAMETER_1,                \
	  nd_listener_bind(w->fresh_listener, NULL, 16), NULL)                 \
	X(listener_bind_short_addr, ANY, ND_INVALID_PARAMETER_2,               \
	  nd_listener_bind(w->fresh_listener, SA(&w->addr), 1), NULL)          \
	X(listener_bind_unix_family, ANY, ND_INVALID_ADDRESS,                  \
	  nd_listener_bind(w->fresh_listener, SA(&w->unix_addr),               \
			   sizeof(w->unix_addr)),                              \
	  NULL)                                                                \
	X(listener_bind_in_use, ANY, ND_SHARING_VIOLATION,                     \
	  listener_bind_in_use(w), then_listener_accepts)                      \
	X(listener_bind_twice, ANY, ND_ADDRESS_ALREADY_ASSOCIATED,             \
	  nd_listener_bind(w->live.l, ADDR), then_listener_accepts)            \
	X(listen_null_listener, ANY, ND_INVALID_HANDLE,                        \
	  nd_listener_listen(NULL, 0), NULL)                                   \
	X(listen_twice, ANY, ND_INVALID_DEVICE_STATE,                          \
	  nd_listener_listen(w->live.l, 0), then_listener_accepts)             \
	X(listener_address_null_listener, ANY, ND_INVALID_HANDLE,              \
	  nd_listener_get_local_address(NULL, OUT), NULL)                      \
	X(listener_address_null_len, ANY, ND_INVALID_PARAMETER_2,              \
	  nd_listener_get_local_address(w->live.l, SA(&w->out), NULL), NULL)   \
	X(listener_address_not_listening, ANY, ND_INVALID_DEVICE_STATE,        \
	  nd_listener_get_local_address(w->fresh_listener, SA(&w->out),        \
					(w->len = sizeof(w->out), &w->len)),   \
	  NULL)                                                                \
	X(listener_address_small_buffer, ANY, ND_BUFFER_OVERFLOW,              \
	  local_address_too_small(w, true), then_listener_accepts)             \
	X(connection_request_null_listener, ANY, ND_INVALID_HANDLE,            \
	  nd_listener_get_connection_request(NULL, w->fresh_connector,         \
					     &w->ov),                          \
	  NULL)                                                                \
	X(connection_request_null_connector, ANY, ND_INVALID_PARAMETER_1,      \
	  nd_listener_get_connection_request(w->live.l, NULL, &w->ov),         \
	  then_listener_accepts)                                               \
	X(connection_request_qp_as_connector, ANY, ND_INVALID_PARAMETER_1,     \
	  nd_listener_get_connection_request(w->live.l, CN(w->live.aqp),       \
					     &w->ov),                          \
	  then_listener_accepts)                                               \
	X(connection_request_null_ov, ANY, ND_INVALID_PARAMETER_2,             \
	  nd_listener_get_connection_request(w->live.l, w->fresh_connector,    \
					     NULL),                            \
	  then_listener_accepts)                                               \
	X(connection_request_before_listen, ANY, ND_INVALID_DEVICE_STATE,      \
	  connection_request_before_listen(w), NULL)

/* One function per row: its call. */
#define ROW_CALL(name, needs, expect, call, then)                              \
	static nd_status call_##name(struct world *w)                          \
	{                                                                      \
		(void)w;                                                       \
		return call;                                                   \
	}
ROWS(ROW_CALL)

struct row {
	const char *name;
	uint32_t needs;
	nd_status expect;
	nd_status (*call)(struct world *w);
	const char *call_text;
	void (*then)(struct world *w);
};

#define ROW_ENTRY(name, needs, expect, call, then)                             \
	{#name, needs, expect, call_##name, #call, then},
static const struct row rows[] = {ROWS(ROW_ENTRY)};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/*
 * Where the providers answer differently and the spec does not settle it
 * (reported): the table says what we think is right; the other answer makes
 * the row skip, loudly, naming it. Any third answer fails.
 */
static const struct known_difference {
	const char *row;
	nd_status status;
	const char *what;
} known_differences[] = {
    {NULL, 0, NULL}, /* none left: both providers answer alike */
};

static const struct known_difference *known_difference(const struct row *r,
						       nd_status st)
{
	for (size_t i = 0;
	     i < sizeof(known_differences) / sizeof(known_differences[0]); i++)
		if (known_differences[i].row &&
		    strcmp(known_differences[i].row, r->name) == 0 &&
		    known_differences[i].status == st)
			return &known_differences[i];
	return NULL;
}

static const char *need_text(uint32_t missing)
{
	if (missing & MW)
		return "the device has no memory windows";
	if (missing & SRQ)
		return "the device has no shared receive queues";
	if (missing & RESIZE)
		return "the device cannot resize CQs";
	if (missing & FAST_CHECKS)
		return "KNOWN BUG: the inline calls of nd.h do not check the "
		       "handle (no ND_LIVE), so this call would use memory "
		       "that is not an object";
	if (missing & REG_MAX)
		return "max_registration_size is the whole address space, so "
		       "no registration is larger";
	if (missing & XFER_MAX)
		return "max_transfer_length is 2^32 - 1, so no SGE list is "
		       "longer";
	return "a limit is 2^32 - 1, so there is no limit + 1";
}

static void run_row(void **state)
{
	const struct row *r = *state;
	struct world *w = &W;
	nd_status st;

	if (!(r->needs & BEFORE_STARTUP) && !w->made)
		make_world(w);
	if (r->needs & ~w->caps & ~BEFORE_STARTUP) {
		print_message("# SKIP %s: %s\n", r->name,
			      need_text(r->needs & ~w->caps));
		skip();
	}
	memset(&w->ov, 0, sizeof(w->ov));
	st = r->call(w);
	const struct known_difference *d = known_difference(r, st);
	if (st != r->expect && d) {
		print_message("# SKIP %s: KNOWN DIFFERENCE: %s (%s; the table "
			      "says %s)\n",
			      r->name, d->what, nd_strerror(st),
			      nd_strerror(r->expect));
		skip();
	}
	if (st != r->expect)
		fail_msg("%s\n  returned %s\n  expected %s", r->call_text,
			 nd_strerror(st), nd_strerror(r->expect));
	if (r->then)
		r->then(w);
}

int main(void)
{
	struct CMUnitTest *tests = calloc(NROWS, sizeof(*tests));
	int rc;

	assert_non_null(tests);
	if (tc_nothing_to_test("bad-input")) {
		free(tests);
		return 0;
	}
	parse_addr(&W);
	W.caps = ANY;
	for (size_t i = 0; i < NROWS; i++) {
		tests[i].name = rows[i].name;
		tests[i].test_func = run_row;
		tests[i].initial_state = (void *)&rows[i];
	}
	rc = _cmocka_run_group_tests("bad-input", tests, NROWS, NULL,
				     world_teardown);
	free(tests);
	return rc;
}
