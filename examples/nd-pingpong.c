/* SPDX-License-Identifier: MIT */
/*
 * nd-pingpong: Send/Receive ping-pong latency (ndpingpong's counterpart).
 *
 * The client sends `size` bytes, the server answers with `size` bytes as
 * soon as the message arrives; one iteration is one round trip and the
 * reported time is half of it (one-way latency).
 */
#include "common.h"

#include <string.h>

static void layout(struct ex_conn *c)
{
	/* Two send slots used alternately; a few receives in rotation. */
	c->nsend = 2;
	c->send_slot = c->params.size_max;
	c->nrecv = 4;
	c->recv_slot = c->params.size_max;
	c->rdma_len = 0;
}

static void check_rx(struct ex_conn *c, struct ex_rx rx, uint32_t size,
		     uint64_t k, uint64_t n, unsigned dir)
{
	int64_t bad;

	if (rx.bytes != size)
		ex_die(c, "message %llu of size %u arrived with %u bytes",
		       (unsigned long long)k, size, rx.bytes);
	if (ex_checked(c, k, n) &&
	    (bad = ex_verify(ex_recv_buf(c, rx.slot), size, size, k, dir)) >= 0)
		ex_die(
		    c,
		    "data check failed: message %llu of size %u differs at byte %lld",
		    (unsigned long long)k, size, (long long)bad);
}

static int client_phase(struct ex_conn *c, uint32_t size, uint64_t n,
			bool measure, struct ex_samples *s)
{
	uint64_t start;

	ex_begin(c, size, n, measure);
	start = ex_now_ns();
	for (uint64_t k = 0; k < n; k++) {
		uint8_t *buf = ex_send_buf(c, (uint32_t)(k & 1));
		uint64_t t0, t1;
		struct ex_rx rx;

		if (ex_checked(c, k, n))
			ex_fill(buf, size, size, k, 0);
		t0 = ex_now_ns();
		ex_post_send(c, EX_CTX(EX_CTX_DATA, k), buf, size);
		rx = ex_rx_wait(c, 0);
		t1 = ex_now_ns();
		ex_sample_add(s, (t1 - t0) / 2);
		check_rx(c, rx, size, k, n, 1);
		ex_post_recv(c, rx.slot);
	}
	s->elapsed_ns = ex_now_ns() - start;
	s->msgs = n;
	s->bytes = (uint64_t)size * n * 2;
	ex_sq_drain(c, 0);
	return 0;
}

static int server_phase(struct ex_conn *c, uint32_t size, uint64_t n)
{
	ex_ack(c, 0);
	for (uint64_t k = 0; k < n; k++) {
		uint8_t *buf = ex_send_buf(c, (uint32_t)(k & 1));
		struct ex_rx rx = ex_rx_wait(c, 0);

		check_rx(c, rx, size, k, n, 0);
		ex_post_recv(c, rx.slot);
		if (ex_checked(c, k, n))
			ex_fill(buf, size, size, k, 1);
		ex_post_send(c, EX_CTX(EX_CTX_DATA, k), buf, size);
	}
	ex_sq_drain(c, 0);
	return 0;
}

static const struct ex_tool tool = {
    .measures = "Send/Receive ping-pong; one-way latency = round trip / 2",
    .default_iters = 1000,
    .layout = layout,
    .client_phase = client_phase,
    .server_phase = server_phase,
};

int main(int argc, char **argv)
{
	struct ex_opts o = {
	    .tool = "nd-pingpong",
	    .id = EX_PINGPONG,
	    .default_port = 54325,
	};
	int rc = ex_parse(&o, argc, argv);

	return rc ? rc : ex_main(&o, &tool);
}
