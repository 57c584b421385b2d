/* SPDX-License-Identifier: MIT */
/*
 * raw-verbs-pingpong: the minimal libibverbs RC Send/Receive ping-pong that
 * bench/callgrind.sh compares nd-pingpong's post+poll path with.
 *
 *   raw-verbs-pingpong -s IP[:PORT]                    server (one client)
 *   raw-verbs-pingpong -c IP[:PORT] [-S size] [-n N] [-W N] [-I inline] [-E N]
 *                      [-X] [-T]
 *
 * Connection through rdma_cm (works on RoCE and iWARP); the client's
 * parameters travel in the connect private data. Both sides busy-poll one
 * CQ shared by both queues, every send signalled, receives reposted after
 * each message (as nd-pingpong does). The verbs calls sit in three
 * non-inlined wrappers, rv_post_send, rv_post_recv and rv_poll, so callgrind
 * can count their inclusive instructions (rv_dispatch runs once per
 * non-empty poll); -E N ends the client with N polls
 * of the empty CQ through rv_poll_empty (the cost of one empty poll).
 * -X posts the client's sends through the extended QP's builders
 * (ibv_wr_start / ibv_wr_send / ibv_wr_set_* / ibv_wr_complete, in
 * rv_post_send_ex), the path the verbs provider takes where the device has
 * it; without it, ibv_post_send. -T starts one idle thread first, so that
 * the process is multi-threaded as one using the provider (with its
 * progress thread) is: glibc's system call wrappers (rxe's doorbell
 * write()) take a longer path then.
 * Output: the nd-* tools' table, one-way time = round trip / 2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NRECV 4
#define DEPTH 64

struct params {
	uint32_t size, inl;
	uint64_t iters, warmup;
};

static const char *prog = "raw-verbs-pingpong";
static struct rdma_event_channel *ch;
static struct rdma_cm_id *id;
static struct ibv_pd *pd;
static struct ibv_cq *cq;
static struct ibv_mr *mr;
static char *mem;
static struct params P;
static bool use_wr;	      /* -X: post sends through ibv_wr_* */
static struct ibv_qp_ex *qpx; /* the QP's builders, with -X */
static uint32_t slot;	      /* bytes per buffer slot */
static int sq_out, rx_ready, rx_slot[DEPTH], rx_head, rx_tail;

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) int rv_post_send(void *buf, uint32_t len,
					   uint64_t ctx)
{
	struct ibv_sge sge = {(uintptr_t)buf, len, mr->lkey};
	struct ibv_send_wr wr = {.wr_id = ctx,
				 .sg_list = &sge,
				 .num_sge = len ? 1 : 0,
				 .opcode = IBV_WR_SEND,
				 .send_flags = IBV_SEND_SIGNALED},
			   *bad;

	if (len <= P.inl)
		wr.send_flags |= IBV_SEND_INLINE;
	return ibv_post_send(id->qp, &wr, &bad);
}

__attribute__((noinline)) int rv_post_send_ex(void *buf, uint32_t len,
					      uint64_t ctx)
{
	ibv_wr_start(qpx);
	qpx->wr_id = ctx;
	/* rxe (rdma-core 44) needs IBV_SEND_INLINE for inline data. */
	qpx->wr_flags =
	    IBV_SEND_SIGNALED | (len <= P.inl ? IBV_SEND_INLINE : 0);
	ibv_wr_send(qpx);
	if (len <= P.inl)
		ibv_wr_set_inline_data(qpx, buf, len);
	else
		ibv_wr_set_sge(qpx, mr->lkey, (uintptr_t)buf, len);
	return ibv_wr_complete(qpx);
}

__attribute__((noinline)) int rv_post_recv(uint32_t s)
{
	struct ibv_sge sge = {(uintptr_t)(mem + (size_t)(2 + s) * slot), slot,
			      mr->lkey};
	struct ibv_recv_wr wr = {.wr_id = s, .sg_list = &sge, .num_sge = 1},
			   *bad;

	return ibv_post_recv(id->qp, &wr, &bad);
}

__attribute__((noinline)) int rv_poll(struct ibv_wc *wc)
{
	return ibv_poll_cq(cq, 16, wc);
}

__attribute__((noinline)) int rv_poll_empty(struct ibv_wc *wc)
{
	return ibv_poll_cq(cq, 16, wc);
}

/* What a non-empty poll does with its completions (a function of its own
 * so that callgrind counts the non-empty polls, like nd-pingpong's
 * dispatch). */
__attribute__((noinline)) void rv_dispatch(const struct ibv_wc *wc, int n)
{
	for (int i = 0; i < n; i++) {
		if (wc[i].status != IBV_WC_SUCCESS) {
			fprintf(stderr, "%s: completion error: %s\n", prog,
				ibv_wc_status_str(wc[i].status));
			exit(1);
		}
		if (wc[i].opcode & IBV_WC_RECV) {
			rx_slot[rx_tail++ % DEPTH] = (int)wc[i].wr_id;
			rx_ready++;
		} else {
			sq_out--;
		}
	}
}

/* Poll once; account for send completions, queue received slots. */
static void progress(void)
{
	struct ibv_wc wc[16];
	int n = rv_poll(wc);

	if (n < 0)
		fail("ibv_poll_cq");
	if (n)
		rv_dispatch(wc, n);
}

static int rx_wait(void)
{
	while (!rx_ready)
		progress();
	rx_ready--;
	return rx_slot[rx_head++ % DEPTH];
}

static void send_msg(uint64_t k)
{
	while (sq_out >= DEPTH / 2)
		progress();
	if ((use_wr ? rv_post_send_ex : rv_post_send)(mem + (k & 1) * slot,
						      P.size, k))
		fail("ibv_post_send");
	sq_out++;
}

static void repost(int s)
{
	if (rv_post_recv((uint32_t)s))
		fail("ibv_post_recv");
}

static struct rdma_cm_event *expect(enum rdma_cm_event_type type)
{
	struct rdma_cm_event *ev;

	if (rdma_get_cm_event(ch, &ev))
		fail("rdma_get_cm_event");
	if (ev->event != type) {
		fprintf(stderr, "%s: expected %s, got %s (status %d)\n", prog,
			rdma_event_str(type), rdma_event_str(ev->event),
			ev->status);
		exit(1);
	}
	return ev;
}

static void setup_qp(struct rdma_cm_id *cid)
{
	struct ibv_qp_init_attr qa = {0};

	slot = P.size < 64 ? 64 : P.size;
	pd = ibv_alloc_pd(cid->verbs);
	cq = pd ? ibv_create_cq(cid->verbs, 2 * DEPTH, NULL, NULL, 0) : NULL;
	mem = calloc(2 + NRECV, slot);
	if (!cq || !mem)
		fail("pd/cq/buffer");
	mr = ibv_reg_mr(pd, mem, (size_t)(2 + NRECV) * slot,
			IBV_ACCESS_LOCAL_WRITE);
	if (!mr)
		fail("ibv_reg_mr");
	qa.send_cq = qa.recv_cq = cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = DEPTH;
	qa.cap.max_recv_wr = DEPTH;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.cap.max_inline_data = P.inl;
	if (use_wr) {
		struct ibv_qp_init_attr_ex qx = {0};
		qx.send_cq = qx.recv_cq = cq;
		qx.qp_type = IBV_QPT_RC;
		qx.cap = qa.cap;
		qx.pd = pd;
		qx.comp_mask =
		    IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
		qx.send_ops_flags = IBV_QP_EX_WITH_SEND;
		if (rdma_create_qp_ex(cid, &qx))
			fail("rdma_create_qp_ex");
		qpx = ibv_qp_to_qp_ex(cid->qp);
	} else if (rdma_create_qp(cid, pd, &qa))
		fail("rdma_create_qp");
	id = cid;
	for (int s = 0; s < NRECV; s++)
		repost(s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, uint64_t n, double p)
{
	uint64_t i = (uint64_t)ceil(p * (double)n);

	if (i)
		i--;
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

static void report(uint64_t *ns, uint64_t n)
{
	double sum = 0, sq = 0, avg;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += (double)ns[i];
	avg = sum / (double)n / 1000.0;
	for (uint64_t i = 0; i < n; i++)
		sq += (ns[i] / 1000.0 - avg) * (ns[i] / 1000.0 - avg);
	printf("%9s %11s %9s %9s %9s %9s %9s %9s %9s\n", "#bytes",
	       "#iterations", "t_min", "t_max", "t_typical", "t_avg", "t_stdev",
	       "99%", "99.9%");
	printf("%9u %11llu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", P.size,
	       (unsigned long long)n, ns[0] / 1000.0, ns[n - 1] / 1000.0,
	       n % 2 ? ns[n / 2] / 1000.0
		     : (ns[n / 2 - 1] + ns[n / 2]) / 2000.0,
	       avg, n > 1 ? sqrt(sq / (double)(n - 1)) : 0, pct(ns, n, 0.99),
	       pct(ns, n, 0.999));
}

int main(int argc, char **argv)
{
	struct rdma_addrinfo hints = {0}, *ai;
	struct rdma_conn_param cp = {0};
	struct rdma_cm_event *ev;
	char host[64] = "", *port = "54340", *colon;
	uint64_t empty = 0, *ns;
	int server = -1, opt;

	P.inl = 64;
	P.warmup = ~0ull;
	while ((opt = getopt(argc, argv, "s:c:S:n:W:I:E:XTh")) != -1) {
		switch (opt) {
		case 's':
		case 'c':
			server = opt == 's';
			snprintf(host, sizeof(host), "%s", optarg);
			break;
		case 'S':
			P.size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			P.iters = strtoull(optarg, NULL, 0);
			break;
		case 'W':
			P.warmup = strtoull(optarg, NULL, 0);
			break;
		case 'I':
			P.inl = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'X':
			use_wr = true;
			break;
		case 'T': {
			pthread_t t;
			if (pthread_create(&t, NULL, idle_thread, NULL))
				fail("pthread_create");
			pthread_detach(t);
			break;
		}
		case 'E':
			empty = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(
			    stderr,
			    "usage: %s (-s|-c) IP[:port] [-S size] [-n iters] [-W warmup] [-I inline] [-E empty_polls] [-X] [-T]\n",
			    prog);
			return 2;
		}
	}
	if (server < 0)
		return 2;
	colon = strrchr(host, ':');
	if (colon) {
		*colon = 0;
		port = colon + 1;
	}
	if (!P.size)
		P.size = 8;
	if (!P.iters)
		P.iters = 1000;
	if (P.warmup == ~0ull)
		P.warmup = P.iters / 10 < 1	? 1
			   : P.iters / 10 > 200 ? 200
						: P.iters / 10;

	ch = rdma_create_event_channel();
	if (!ch)
		fail("rdma_create_event_channel");
	hints.ai_port_space = RDMA_PS_TCP;
	if (server)
		hints.ai_flags = RAI_PASSIVE;
	if (rdma_getaddrinfo(host, port, &hints, &ai))
		fail("rdma_getaddrinfo");

	if (server) {
		struct rdma_cm_id *lid;
		struct params *cp_in;

		if (rdma_create_id(ch, &lid, NULL, RDMA_PS_TCP) ||
		    rdma_bind_addr(lid, ai->ai_src_addr) || rdma_listen(lid, 1))
			fail("listen");
		printf("# %s: listening on %s:%u\n", prog, host,
		       ntohs(rdma_get_src_port(lid)));
		fflush(stdout);
		ev = expect(RDMA_CM_EVENT_CONNECT_REQUEST);
		cp_in = (struct params *)ev->param.conn.private_data;
		P = *cp_in;
		setup_qp(ev->id);
		rdma_ack_cm_event(ev);
		cp.responder_resources = cp.initiator_depth = 1;
		if (rdma_accept(id, &cp))
			fail("rdma_accept");
		rdma_ack_cm_event(expect(RDMA_CM_EVENT_ESTABLISHED));
		for (uint64_t k = 0; k < P.warmup + P.iters; k++) {
			int s = rx_wait();

			repost(s);
			send_msg(k);
		}
		while (sq_out)
			progress();
		rdma_ack_cm_event(expect(RDMA_CM_EVENT_DISCONNECTED));
		printf("# %s: done\n", prog);
	} else {
		struct rdma_cm_id *cid;
		struct ibv_wc wc[16];

		if (rdma_create_id(ch, &cid, NULL, RDMA_PS_TCP) ||
		    rdma_resolve_addr(cid, NULL, ai->ai_dst_addr, 5000))
			fail("rdma_resolve_addr");
		rdma_ack_cm_event(expect(RDMA_CM_EVENT_ADDR_RESOLVED));
		if (rdma_resolve_route(cid, 5000))
			fail("rdma_resolve_route");
		rdma_ack_cm_event(expect(RDMA_CM_EVENT_ROUTE_RESOLVED));
		setup_qp(cid);
		cp.private_data = &P;
		cp.private_data_len = sizeof(P);
		cp.responder_resources = cp.initiator_depth = 1;
		cp.retry_count = 7;
		if (rdma_connect(id, &cp))
			fail("rdma_connect");
		rdma_ack_cm_event(expect(RDMA_CM_EVENT_ESTABLISHED));
		ns = calloc(P.iters, sizeof(*ns));
		if (!ns)
			fail("calloc");
		printf(
		    "# %s: RC Send/Receive ping-pong, polling; one-way latency = round trip / 2\n"
		    "# inline <= %u B; times in microseconds\n",
		    prog, P.inl);
		for (uint64_t k = 0; k < P.warmup + P.iters; k++) {
			uint64_t t0 = now_ns();
			int s;

			send_msg(k);
			s = rx_wait();
			if (k >= P.warmup)
				ns[k - P.warmup] = (now_ns() - t0) / 2;
			repost(s);
		}
		while (sq_out)
			progress();
		for (uint64_t i = 0; i < empty; i++)
			if (rv_poll_empty(wc))
				fail("unexpected completion");
		report(ns, P.iters);
		rdma_disconnect(id);
	}
	rdma_freeaddrinfo(ai);
	return 0;
}
