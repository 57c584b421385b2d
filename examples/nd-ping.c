/* SPDX-License-Identifier: MIT */
/*
 * nd-ping: one-way Send/Receive message rate and bandwidth with credit flow
 * control (ndping's counterpart).
 *
 * The client keeps up to -q sends in flight, never more than the server has
 * receives posted: it starts each phase with one credit per server receive
 * and the server returns credits in CREDIT messages every half window. One
 * credit always stays in reserve for the END message.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

struct ping {
	uint64_t done;
	uint64_t *t_post; /* per send slot */
	struct ex_samples *s;
};

static struct ping ping;

static void layout(struct ex_conn *c)
{
	uint32_t depth = c->params.depth ? c->params.depth : 128;

	if (!c->o->server) {
		c->nsend = ex_slots_for(depth, c->params.size_max);
		c->send_slot = c->params.size_max;
		c->nrecv = 8; /* CREDIT and ACK messages */
		c->recv_slot = EX_CTRL_SIZE;
	} else {
		c->nsend = 0;
		c->nrecv = ex_slots_for(depth, c->params.size_max);
		if (c->nrecv < 2)
			c->nrecv = 2;
		c->recv_slot = c->params.size_max;
	}
	c->rdma_len = 0;
}

static void tx_done(struct ex_conn *c, uint64_t idx)
{
	ex_sample_add(ping.s, ex_now_ns() - ping.t_post[idx % c->nsend]);
	ping.done++;
}

static int client_phase(struct ex_conn *c, uint32_t size, uint64_t n,
			bool measure, struct ex_samples *s)
{
	uint64_t posted = 0, credits, start;
	uint32_t pipeline = c->nsend;
	uint32_t status;

	if (pipeline > c->sq_depth - 1)
		pipeline = c->sq_depth - 1;
	if (!ping.t_post) {
		ping.t_post = calloc(c->nsend, sizeof(uint64_t));
		if (!ping.t_post)
			ex_die(c, "out of memory");
	}
	ping.done = 0;
	ping.s = s;
	c->tx_done = tx_done;
	ex_begin(c, size, n, measure);
	credits = c->reply.rx_slots; /* all reposted before the ACK */
	start = ex_now_ns();
	while (ping.done < n) {
		struct ex_rx rx;

		while (posted < n && credits > 1 &&
		       posted - ping.done < pipeline) {
			uint32_t slot = (uint32_t)(posted % c->nsend);
			uint8_t *buf = ex_send_buf(c, slot);

			if (ex_checked(c, posted, n))
				ex_fill(buf, size, size, posted, 0);
			ping.t_post[slot] = ex_now_ns();
			ex_post_send(c, EX_CTX(EX_CTX_DATA, posted), buf, size);
			posted++;
			credits--;
		}
		ex_progress(c, 0);
		while (ex_rx_pop(c, &rx)) {
			const struct ex_ctrl *m = ex_rx_ctrl(c, &rx);

			if (!m || m->op != EX_CREDIT)
				ex_die(
				    c,
				    "protocol error: unexpected message from %s",
				    c->peer_str);
			credits += m->arg;
			ex_post_recv(c, rx.slot);
		}
	}
	s->elapsed_ns = ex_now_ns() - start;
	s->msgs = n;
	s->bytes = (uint64_t)size * n;
	c->tx_done = NULL;
	/* END needs a credit: the server returns one within half a window. */
	while (credits < 1) {
		struct ex_rx rx = ex_rx_wait(c, 0);
		const struct ex_ctrl *m = ex_rx_ctrl(c, &rx);

		if (!m || m->op != EX_CREDIT)
			ex_die(c, "protocol error: unexpected message from %s",
			       c->peer_str);
		credits += m->arg;
		ex_post_recv(c, rx.slot);
	}
	status = ex_end(c);
	if (status)
		ex_die(c, "data check failed at the server (size %u): %s", size,
		       "a received message differs from what was sent");
	return 0;
}

static int server_phase(struct ex_conn *c, uint32_t size, uint64_t n)
{
	uint32_t half = c->nrecv / 2 ? c->nrecv / 2 : 1;
	uint32_t unreturned = 0, status = 0;

	ex_ack(c, 0);
	for (uint64_t k = 0; k < n; k++) {
		struct ex_rx rx = ex_rx_wait(c, 0);

		if (rx.bytes != size)
			ex_die(c,
			       "message %llu of size %u arrived with %u bytes",
			       (unsigned long long)k, size, rx.bytes);
		if (ex_checked(c, k, n) && !status &&
		    ex_verify(ex_recv_buf(c, rx.slot), size, size, k, 0) >= 0) {
			ex_err(
			    c->o,
			    "data check failed: message %llu of size %u differs",
			    (unsigned long long)k, size);
			status = 1;
		}
		ex_post_recv(c, rx.slot);
		if (++unreturned >= half) {
			ex_send_ctrl(c, EX_CREDIT, 0, 0, 0, unreturned, 0);
			unreturned = 0;
		}
	}
	ex_wait_ctrl(c, EX_END, 0);
	ex_ack(c, status);
	return status ? 1 : 0;
}

static const struct ex_tool tool = {
    .measures =
	"one-way Send message rate and bandwidth; times are post-to-completion per send",
    .bandwidth = true,
    .default_iters = 5000,
    .layout = layout,
    .client_phase = client_phase,
    .server_phase = server_phase,
};

int main(int argc, char **argv)
{
	struct ex_opts o = {
	    .tool = "nd-ping",
	    .id = EX_PING,
	    .accepts = EX_OPT_DEPTH,
	    .default_port = 54324,
	};
	int rc = ex_parse(&o, argc, argv);

	return rc ? rc : ex_main(&o, &tool);
}
