/* SPDX-License-Identifier: MIT */
/*
 * nd-rping: one-way RDMA Write (-w, default) or RDMA Read (-r) bandwidth
 * (ndrping's counterpart, with -w meaning write).
 *
 * The server exposes a target area of one slot per client pipeline entry;
 * the client keeps up to -q operations in flight, operation k using slot
 * k mod slots on both sides. The server follows the client's mode.
 *
 * Data check. Write: the client writes the pattern of k for the first and
 * the last `slots` operations (all with --check), and the server verifies
 * every slot at END against the last operation that targeted it. Read: the
 * server fills slot j with pattern j at BEGIN; the client clears its slot
 * before a checked read and verifies it on completion.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

struct rping {
	uint64_t done;
	uint64_t n;
	uint32_t size;
	uint64_t *t_post;
	struct ex_samples *s;
};

static struct rping rp;

static bool is_read(const struct ex_conn *c)
{
	return c->params.flags & EX_PF_READ;
}

static void layout(struct ex_conn *c)
{
	uint32_t depth = c->params.depth ? c->params.depth : 128;

	c->nrecv = 4; /* control messages */
	c->recv_slot = EX_CTRL_SIZE;
	if (!c->o->server) {
		c->nsend = ex_slots_for(depth, c->params.size_max);
		c->send_slot = c->params.size_max;
		c->params.rdma_len = c->nsend * c->params.size_max;
		c->rdma_len = 0;
	} else {
		c->nsend = 0;
		c->rdma_len = c->params.rdma_len;
	}
}

/* Whether the client writes a fresh pattern for operation k. */
static bool stamped(const struct ex_conn *c, uint64_t k, uint64_t n,
		    uint32_t slots)
{
	return k < slots || k + slots >= n || (c->params.flags & EX_PF_CHECK);
}

static void tx_done(struct ex_conn *c, uint64_t idx)
{
	uint32_t slot = (uint32_t)(idx % c->nsend);

	ex_sample_add(rp.s, ex_now_ns() - rp.t_post[slot]);
	rp.done++;
	if (is_read(c) && ex_checked(c, idx, rp.n)) {
		int64_t bad =
		    ex_verify(ex_send_buf(c, slot), rp.size, rp.size, slot, 1);
		if (bad >= 0)
			ex_die(
			    c,
			    "data check failed: RDMA read %llu of size %u differs at byte %lld",
			    (unsigned long long)idx, rp.size, (long long)bad);
	}
}

static int client_phase(struct ex_conn *c, uint32_t size, uint64_t n,
			bool measure, struct ex_samples *s)
{
	uint32_t pipeline = c->nsend, status;
	uint64_t posted = 0, start;
	bool rd = is_read(c);

	if (pipeline > c->sq_depth - 1)
		pipeline = c->sq_depth - 1; /* room for a heartbeat */
	if (rd) {
		if (!c->read_limit)
			ex_die(
			    c,
			    "the connection grants no RDMA Read (the server's inbound read limit is 0)");
		if (pipeline > c->read_limit)
			pipeline = c->read_limit;
	}
	if (!rp.t_post) {
		rp.t_post = calloc(c->nsend, sizeof(uint64_t));
		if (!rp.t_post)
			ex_die(c, "out of memory");
	}
	rp.done = 0;
	rp.n = n;
	rp.size = size;
	rp.s = s;
	c->tx_done = tx_done;
	ex_begin(c, size, n, measure);
	start = ex_now_ns();
	while (rp.done < n) {
		while (posted < n && posted - rp.done < pipeline) {
			uint32_t slot = (uint32_t)(posted % c->nsend);
			uint8_t *buf = ex_send_buf(c, slot);
			uint64_t raddr = c->peer_rdma_addr +
					 (uint64_t)slot * c->params.size_max;

			if (rd && ex_checked(c, posted, n))
				memset(buf, 0, size);
			else if (!rd && stamped(c, posted, n, c->nsend))
				ex_fill(buf, size, size, posted, 0);
			rp.t_post[slot] = ex_now_ns();
			if (rd)
				ex_post_read(c, EX_CTX(EX_CTX_DATA, posted),
					     buf, size, raddr,
					     c->peer_rdma_token);
			else
				ex_post_write(c, EX_CTX(EX_CTX_DATA, posted),
					      buf, size, raddr,
					      c->peer_rdma_token);
			posted++;
		}
		ex_progress(c, 0);
		ex_heartbeat(c);
	}
	s->elapsed_ns = ex_now_ns() - start;
	s->msgs = n;
	s->bytes = (uint64_t)size * n;
	c->tx_done = NULL;
	status = ex_end(c);
	if (status)
		ex_die(
		    c,
		    "data check failed at the server: RDMA write data of size %u differs",
		    size);
	return 0;
}

static int server_phase(struct ex_conn *c, uint32_t size, uint64_t n)
{
	uint32_t slots =
	    c->params.size_max ? c->params.rdma_len / c->params.size_max : 0;
	uint32_t status = 0;

	if (!slots || size > c->params.size_max)
		ex_die(c, "protocol error: size %u beyond the agreed maximum",
		       size);
	if (is_read(c))
		for (uint32_t j = 0; j < slots; j++)
			ex_fill(c->rdma_area + (size_t)j * c->params.size_max,
				size, size, j, 1);
	ex_ack(c, 0);
	ex_wait_ctrl(c, EX_END, 0);
	if (!is_read(c)) {
		for (uint32_t j = 0; j < slots && j < n; j++) {
			uint64_t k =
			    j + (uint64_t)slots * ((n - 1 - j) / slots);
			int64_t bad = ex_verify(
			    c->rdma_area + (size_t)j * c->params.size_max, size,
			    size, k, 0);

			if (bad >= 0) {
				ex_err(
				    c->o,
				    "data check failed: RDMA write %llu of size %u differs at byte %lld",
				    (unsigned long long)k, size,
				    (long long)bad);
				status = 1;
				break;
			}
		}
	}
	ex_ack(c, status);
	return status ? 1 : 0;
}

static struct ex_tool tool = {
    .bandwidth = true,
    .default_iters = 5000,
    .layout = layout,
    .client_phase = client_phase,
    .server_phase = server_phase,
};

int main(int argc, char **argv)
{
	struct ex_opts o = {
	    .tool = "nd-rping",
	    .id = EX_RPING,
	    .accepts = EX_OPT_RW | EX_OPT_DEPTH,
	    .default_port = 54326,
	};
	int rc = ex_parse(&o, argc, argv);

	if (rc)
		return rc;
	tool.measures =
	    o.read
		? "one-way RDMA Read bandwidth; times are post-to-completion per read"
		: "one-way RDMA Write bandwidth; times are post-to-completion per write";
	return ex_main(&o, &tool);
}
