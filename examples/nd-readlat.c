/* SPDX-License-Identifier: MIT */
/*
 * nd-readlat: RDMA Read latency, one read in flight (perftest's
 * ib_read_lat counterpart). The server fills its area with a pattern at
 * the start of each phase; the client clears its buffer before a checked
 * read and verifies it on completion.
 */
#include "common.h"

#include <string.h>

static uint64_t done;

static void layout(struct ex_conn *c)
{
	c->nrecv = 4; /* control messages */
	c->recv_slot = EX_CTRL_SIZE;
	c->params.flags |= EX_PF_READ;
	if (!c->o->server) {
		c->nsend = 1;
		c->send_slot = c->params.size_max;
		c->params.rdma_len = c->params.size_max;
		c->rdma_len = 0;
	} else {
		c->nsend = 0;
		c->rdma_len = c->params.size_max;
	}
}

static void tx_done(struct ex_conn *c, uint64_t idx)
{
	(void)c;
	(void)idx;
	done++;
}

static int client_phase(struct ex_conn *c, uint32_t size, uint64_t n,
			bool measure, struct ex_samples *s)
{
	uint8_t *buf = ex_send_buf(c, 0);
	uint64_t start;

	if (!c->read_limit)
		ex_die(
		    c,
		    "the connection grants no RDMA Read (the server's inbound read limit is 0)");
	c->tx_done = tx_done;
	ex_begin(c, size, n, measure);
	start = ex_now_ns();
	for (uint64_t k = 0; k < n; k++) {
		uint64_t t0, want = done + 1;
		int64_t bad;

		if (ex_checked(c, k, n))
			memset(buf, 0, size);
		t0 = ex_now_ns();
		ex_post_read(c, EX_CTX(EX_CTX_DATA, k), buf, size,
			     c->peer_rdma_addr, c->peer_rdma_token);
		while (done < want)
			ex_progress(c, 0);
		ex_sample_add(s, ex_now_ns() - t0);
		ex_heartbeat(c);
		if (ex_checked(c, k, n) &&
		    (bad = ex_verify(buf, size, size, 0, 1)) >= 0)
			ex_die(
			    c,
			    "data check failed: RDMA read %llu of size %u differs at byte %lld",
			    (unsigned long long)k, size, (long long)bad);
	}
	s->elapsed_ns = ex_now_ns() - start;
	s->msgs = n;
	s->bytes = (uint64_t)size * n;
	c->tx_done = NULL;
	ex_end(c);
	return 0;
}

static int server_phase(struct ex_conn *c, uint32_t size, uint64_t n)
{
	(void)n;
	if (size > c->rdma_len)
		ex_die(c, "protocol error: size %u beyond the agreed maximum",
		       size);
	ex_fill(c->rdma_area, size, size, 0, 1);
	ex_ack(c, 0);
	ex_wait_ctrl(c, EX_END, 0);
	ex_ack(c, 0);
	return 0;
}

static const struct ex_tool tool = {
    .measures = "RDMA Read latency (full read round trip, one in flight)",
    .default_iters = 1000,
    .layout = layout,
    .client_phase = client_phase,
    .server_phase = server_phase,
};

int main(int argc, char **argv)
{
	struct ex_opts o = {
	    .tool = "nd-readlat",
	    .id = EX_READLAT,
	    .default_port = 54328,
	};
	int rc = ex_parse(&o, argc, argv);

	/* The client asks for read credits in Connect. */
	o.read = true;
	return rc ? rc : ex_main(&o, &tool);
}
