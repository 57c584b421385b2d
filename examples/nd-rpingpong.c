/* SPDX-License-Identifier: MIT */
/*
 * nd-rpingpong: RDMA Write ping-pong latency, polling on memory
 * (ndrpingpong's counterpart).
 *
 * Each side exposes a target area. The client writes `size` bytes whose
 * last byte is a marker for iteration k into the server's area; the server
 * spins on that byte, then writes `size` bytes back the same way. This
 * relies on in-order placement of RDMA Write data, so the adapter must
 * report ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED. The reported time is half
 * the round trip (one-way latency).
 */
#include "common.h"

#include <string.h>

static void layout(struct ex_conn *c)
{
	if (!(c->info.adapter_flags & ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED))
		ex_die(
		    c,
		    "the adapter does not guarantee in-order RDMA placement "
		    "(no IN_ORDER_DMA_SUPPORTED flag); nd-rpingpong needs it");
	c->nrecv = 4; /* control messages */
	c->recv_slot = EX_CTRL_SIZE;
	c->nsend = 1;
	c->send_slot = c->params.size_max;
	c->rdma_len = c->params.size_max;
}

static uint8_t marker(uint64_t k)
{
	return (uint8_t)(k % 255 + 1); /* never 0, changes every iteration */
}

/* Spins until the last byte of a `size`-byte message is m. */
static void await_marker(struct ex_conn *c, uint32_t size, uint8_t m)
{
	const uint8_t *flag = c->rdma_area + size - 1;
	uint64_t deadline = 0;

	for (uint32_t spins = 1; __atomic_load_n(flag, __ATOMIC_ACQUIRE) != m;
	     spins++) {
		if (spins % 256)
			continue;
		/* Reap write completions; an error completion ends the run. */
		ex_progress_poll(c);
		if (spins % 65536)
			continue;
		if (!deadline)
			deadline = ex_now_ns() +
				   (uint64_t)c->o->timeout_ms * 1000000ull;
		else if (ex_now_ns() > deadline)
			ex_die(c, "no RDMA write from %s within %.1f s",
			       c->peer_str, c->o->timeout_ms / 1e3);
		if (c->connected &&
		    __atomic_load_n(&c->disc_ov.status, __ATOMIC_ACQUIRE) !=
			ND_PENDING)
			ex_die(c, "%s disconnected before the run ended",
			       c->peer_str);
	}
}

static void send_marked(struct ex_conn *c, uint32_t size, uint64_t k,
			uint64_t n, unsigned dir)
{
	uint8_t *buf = ex_send_buf(c, 0);

	if (ex_checked(c, k, n))
		ex_fill(buf, size - 1, size, k, dir);
	buf[size - 1] = marker(k);
	ex_post_write(c, EX_CTX(EX_CTX_DATA, k), buf, size, c->peer_rdma_addr,
		      c->peer_rdma_token);
}

static void check_payload(struct ex_conn *c, uint32_t size, uint64_t k,
			  uint64_t n, unsigned dir)
{
	int64_t bad;

	if (ex_checked(c, k, n) &&
	    (bad = ex_verify(c->rdma_area, size - 1, size, k, dir)) >= 0)
		ex_die(
		    c,
		    "data check failed: RDMA write %llu of size %u differs at byte %lld",
		    (unsigned long long)k, size, (long long)bad);
}

static int client_phase(struct ex_conn *c, uint32_t size, uint64_t n,
			bool measure, struct ex_samples *s)
{
	uint64_t start;

	if (size > c->peer_rdma_len)
		ex_die(c, "size %u beyond the server's area", size);
	c->rdma_area[size - 1] = 0;
	ex_begin(c, size, n, measure);
	start = ex_now_ns();
	for (uint64_t k = 0; k < n; k++) {
		uint64_t t0 = ex_now_ns();

		send_marked(c, size, k, n, 0);
		await_marker(c, size, marker(k));
		ex_sample_add(s, (ex_now_ns() - t0) / 2);
		check_payload(c, size, k, n, 1);
	}
	s->elapsed_ns = ex_now_ns() - start;
	s->msgs = n;
	s->bytes = (uint64_t)size * n * 2;
	ex_sq_drain(c, 0);
	return 0;
}

static int server_phase(struct ex_conn *c, uint32_t size, uint64_t n)
{
	if (size > c->rdma_len || size > c->peer_rdma_len)
		ex_die(c, "protocol error: size %u beyond the agreed maximum",
		       size);
	c->rdma_area[size - 1] = 0;
	ex_ack(c, 0);
	for (uint64_t k = 0; k < n; k++) {
		await_marker(c, size, marker(k));
		check_payload(c, size, k, n, 0);
		send_marked(c, size, k, n, 1);
	}
	ex_sq_drain(c, 0);
	return 0;
}

static const struct ex_tool tool = {
    .measures =
	"RDMA Write ping-pong polling on memory; one-way latency = round trip / 2",
    .default_iters = 1000,
    .layout = layout,
    .client_phase = client_phase,
    .server_phase = server_phase,
};

int main(int argc, char **argv)
{
	struct ex_opts o = {
	    .tool = "nd-rpingpong",
	    .id = EX_RPINGPONG,
	    .default_port = 54327,
	};
	int rc = ex_parse(&o, argc, argv);

	if (rc)
		return rc;
	if (o.blocking) {
		ex_err(&o, "-b does not apply: nd-rpingpong polls memory");
		return 2;
	}
	return ex_main(&o, &tool);
}
