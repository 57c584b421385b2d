/* SPDX-License-Identifier: MIT */
/*
 * nd-mpi-ring: RDMA Write latency around a ring of MPI ranks.
 *
 * MPI only starts the ranks and bootstraps them. Each rank opens the
 * netdirect adapter serving its address, listens on a free port, registers
 * one buffer and publishes (address and port, buffer address, remote token)
 * with MPI_Allgather. Every rank then connects to its right neighbour
 * (rank + 1) and accepts its left neighbour (rank - 1), so each connection
 * carries data one way only, from the side that connected (the iWARP rule:
 * the active side sends first). All data moves over netdirect.
 *
 * One iteration passes a token around the ring: rank 0 RDMA-writes `size`
 * bytes into rank 1's buffer; rank 1 waits until they are there, checks
 * them and writes its own `size` bytes on to rank 2; ...; the last rank
 * writes to rank 0, which times the round. The table shows one hop: the
 * round time divided by the number of ranks.
 *
 * How a rank learns that a write has arrived:
 *  - poll: the last byte of every message is a per-iteration marker and the
 *    receiver spins on it. Only valid when RDMA Write data is placed in
 *    order, so every adapter of the ring must report IN_ORDER_DMA_SUPPORTED.
 *  - send: the writer follows each write with a small send on the same
 *    connection; its receive completion cannot overtake the write's data,
 *    whatever the adapter's placement order.
 *  auto (the default) picks poll when every adapter allows it.
 *
 * Errors during setup are collective: every rank reaches the next
 * MPI_Allgather, and rank 0 prints each distinct error once. An error
 * during the timed loop prints one line and calls MPI_Abort.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <mpi.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOOL	      "nd-mpi-ring"
#define RING_MAGIC    0x4e44524eu /* "NDRN" */
#define NOTICE_SIZE   64u /* one notice slot; the notice itself is 16 B */
#define NOTICE_SLOTS  4u  /* receives kept posted for notices */
#define RING_SQ_DEPTH 16u
#define ERR_LEN	      256

enum arrival { ARRIVAL_AUTO, ARRIVAL_POLL, ARRIVAL_SEND };

struct ring_opts {
	struct ex_opts ex; /* tool name and --json, for the output helpers */
	struct sockaddr_storage addr; /* port 0: the listener picks one */
	uint32_t addr_len;
	char host[80];
	uint32_t sizes[EX_MAX_SIZES];
	int nsizes;
	uint64_t iters;
	uint64_t warmup;
	bool warmup_set;
	bool check;
	enum arrival arrival;
	int timeout_ms;
};

/* What each rank publishes with MPI_Allgather. */
struct ring_card {
	struct sockaddr_storage addr; /* the listener's, port included */
	uint32_t addr_len;
	uint32_t adapter_flags;
	uint64_t target; /* where the left neighbour writes */
	uint32_t target_len;
	uint32_t token; /* the remote token of the target */
};

/* Connect private data: who is calling. */
struct ring_hello {
	uint32_t magic;
	uint32_t rank;
};

/* "Iteration `iter` of `size` bytes is in your buffer" (send arrival). */
struct ring_notice {
	uint32_t magic;
	uint32_t size;
	uint64_t iter;
};

struct ring {
	const struct ring_opts *o;
	int rank, nranks, left, right;
	struct ring_card *cards;
	char err[ERR_LEN]; /* this rank's first error of the current step */

	struct nd_adapter *adapter;
	struct nd_adapter_info info;
	int fd;
	struct nd_listener *listener;
	struct nd_cq *cq;
	struct nd_qp *qp_left;	/* receives notices from the left */
	struct nd_qp *qp_right; /* writes (and sends) to the right */
	struct nd_connector *from_left, *to_right;
	bool left_up, right_up; /* connected */
	/* Long-lived: the library may complete them until release. */
	struct nd_overlapped req_ov, connect_ov, accept_ov, complete_ov;
	struct nd_overlapped left_gone, right_gone, disc_left, disc_right;
	struct nd_overlapped mr_ov;

	/* One registered buffer: target | source | notice out | notices in. */
	struct nd_mr *mr;
	bool registered;
	uint8_t *buf;
	size_t buf_len;
	uint32_t lkey;
	uint8_t *target, *source, *notice_out, *notices_in;
	uint32_t size_max;

	uint32_t inline_max, sq_depth, sq_out;
	bool poll_arrival;
	uint32_t arrived[NOTICE_SLOTS]; /* completed notice receives (slots) */
	uint32_t arrived_head, arrived_tail;
};

/* --- errors ------------------------------------------------------------- */

/* Records this rank's first error of a setup step; agree() reports it. */
static bool fail(struct ring *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(struct ring *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "failed");
	return false;
}

/* An error in the timed loop: one line, then the whole job ends. */
static void die(const struct ring *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void die(const struct ring *r, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: rank %d: ", TOOL, r->rank);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, 1);
	exit(1); /* not reached */
}

/*
 * Collective: true when no rank recorded an error. Otherwise rank 0 prints
 * every distinct error once, with the first rank that hit it (on one host
 * all ranks usually fail alike).
 */
static bool agree(struct ring *r)
{
	char *all = calloc((size_t)r->nranks, ERR_LEN);
	bool ok = true;

	if (!all)
		die(r, "out of memory");
	MPI_Allgather(r->err, ERR_LEN, MPI_CHAR, all, ERR_LEN, MPI_CHAR,
		      MPI_COMM_WORLD);
	for (int i = 0; i < r->nranks; i++) {
		const char *msg = all + (size_t)i * ERR_LEN;
		bool seen = false;

		if (!msg[0])
			continue;
		ok = false;
		for (int j = 0; j < i && !seen; j++)
			seen =
			    !strncmp(msg, all + (size_t)j * ERR_LEN, ERR_LEN);
		if (r->rank == 0 && !seen)
			fprintf(stderr, "%s: rank %d: %.*s\n", TOOL, i,
				ERR_LEN - 1, msg);
	}
	free(all);
	r->err[0] = 0; /* reported: the next step starts afresh */
	return ok;
}

/* --- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mpirun -np N " TOOL " [options]\n"
	    "  -a, --addr IP        this rank's address; its adapter carries the data\n"
	    "                       (default: $ND_ADDR, else 127.0.0.1)\n"
	    "  -S, --size MIN:MAX   message sizes, powers of two (default 1 64 1K 16K 256K)\n"
	    "  -n, --iters N        iterations per size (default 1000)\n"
	    "  -W, --warmup N       warm-up iterations per size (default a tenth of -n, 1..200)\n"
	    "  -A, --arrival MODE   how a rank sees a write arrive: poll (its last byte;\n"
	    "                       needs IN_ORDER_DMA on every adapter), send (a send\n"
	    "                       follows each write) or auto (default: poll if possible)\n"
	    "  -C, --check          verify the payload of every iteration\n"
	    "                       (default: the first and last of each size)\n"
	    "  -j, --json           print the results as one JSON object\n"
	    "  -t, --timeout SEC    bound on every wait (default 10)\n"
	    "  -h, --help\n");
}

static int parse_count(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

/* Returns 0, or the exit status (2: bad usage, printed by rank 0). */
static int parse(struct ring_opts *o, int argc, char **argv, bool talk)
{
	static const struct option longopts[] = {
	    {"addr", required_argument, NULL, 'a'},
	    {"size", required_argument, NULL, 'S'},
	    {"iters", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'W'},
	    {"arrival", required_argument, NULL, 'A'},
	    {"check", no_argument, NULL, 'C'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr = getenv("ND_ADDR");
	const char *bad = NULL;
	char *end;
	double d;
	int ch;

	o->ex.tool = TOOL;
	o->iters = 1000;
	o->timeout_ms = 10000;
	if (!addr || !*addr)
		addr = "127.0.0.1";
	opterr = 0; /* one line from rank 0, not getopt's from every rank */
	while (!bad && (ch = getopt_long(argc, argv, "a:S:n:W:A:Cjt:h",
					 longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'S':
			if (ex_parse_sizes(optarg, o->sizes, &o->nsizes))
				bad =
				    "bad size range (want N or MIN:MAX, powers of two up to 1G)";
			break;
		case 'n':
			if (parse_count(optarg, &o->iters) || !o->iters)
				bad = "bad iteration count";
			break;
		case 'W':
			if (parse_count(optarg, &o->warmup))
				bad = "bad warm-up count";
			o->warmup_set = true;
			break;
		case 'A':
			if (!strcmp(optarg, "auto"))
				o->arrival = ARRIVAL_AUTO;
			else if (!strcmp(optarg, "poll"))
				o->arrival = ARRIVAL_POLL;
			else if (!strcmp(optarg, "send"))
				o->arrival = ARRIVAL_SEND;
			else
				bad =
				    "bad arrival mode (want poll, send or auto)";
			break;
		case 'C':
			o->check = true;
			break;
		case 'j':
			o->ex.json = true;
			break;
		case 't':
			d = strtod(optarg, &end);
			if (*end || !(d > 0) || d > 86400)
				bad = "bad timeout (seconds)";
			o->timeout_ms = (int)(d * 1000);
			break;
		case 'h':
			if (talk)
				usage(stdout);
			return -1;
		default:
			if (talk)
				ex_err(&o->ex, "bad option '%s' (see --help)",
				       argv[optind - 1]);
			return 2;
		}
	}
	if (bad) {
		if (talk)
			ex_err(&o->ex, "%s: '%s'", bad, optarg);
		return 2;
	}
	if (optind < argc) {
		if (talk)
			ex_err(&o->ex, "unexpected argument '%s'",
			       argv[optind]);
		return 2;
	}
	if (ex_parse_addr(addr, 0, &o->addr, &o->addr_len)) {
		if (talk)
			ex_err(
			    &o->ex,
			    "bad address '%s' (want an IPv4 or IPv6 address)",
			    addr);
		return 2;
	}
	/* Every rank of a host shares the address: the port must be free. */
	if (o->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&o->addr)->sin6_port = 0;
	else
		((struct sockaddr_in *)&o->addr)->sin_port = 0;
	ex_host_str((struct sockaddr *)&o->addr, o->host, sizeof(o->host));
	if (!o->nsizes) {
		static const uint32_t def[] = {1, 64, 1024, 16384, 262144};

		memcpy(o->sizes, def, sizeof(def));
		o->nsizes = (int)(sizeof(def) / sizeof(def[0]));
	}
	if (!o->warmup_set)
		o->warmup = o->iters / 10 < 1	  ? 1
			    : o->iters / 10 > 200 ? 200
						  : o->iters / 10;
	return 0;
}

/* --- waiting for requests ------------------------------------------------- */

static void drain_queue(struct ring *r)
{
	struct nd_overlapped *ov;

	/* The statuses live in the requests themselves: just empty it. */
	while (nd_adapter_dequeue_overlapped(r->adapter, 0, &ov) == ND_SUCCESS)
		;
}

/*
 * The final status of a request on `obj` that returned `st`, waiting until
 * `deadline` at most; then its requests are cancelled and ND_IO_TIMEOUT
 * returned. The adapter's descriptor wakes us when anything finishes.
 */
static nd_status finish(struct ring *r, void *obj, struct nd_overlapped *ov,
			nd_status st, uint64_t deadline)
{
	if (st != ND_PENDING)
		return st;
	while ((st = nd_get_overlapped_result(obj, ov, false)) == ND_PENDING) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		uint64_t now = ex_now_ns();

		if (now >= deadline) {
			nd_cancel_overlapped(obj);
			nd_get_overlapped_result(obj, ov, true);
			drain_queue(r);
			return ND_IO_TIMEOUT;
		}
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			die(r, "poll: %s", strerror(errno));
		drain_queue(r);
	}
	return st;
}

static uint64_t deadline_after(const struct ring *r)
{
	return ex_now_ns() + (uint64_t)r->o->timeout_ms * 1000000ull;
}

/* --- setup ---------------------------------------------------------------- */

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t align64(uint32_t v)
{
	return (v + 63u) & ~63u;
}

static uint8_t *notice_slot(struct ring *r, uint32_t slot)
{
	return r->notices_in + (size_t)slot * NOTICE_SIZE;
}

static bool post_notice_receive(struct ring *r, uint32_t slot)
{
	struct nd_sge sge = {notice_slot(r, slot), NOTICE_SIZE, r->lkey};
	nd_status st =
	    nd_qp_receive(r->qp_left, (void *)(uintptr_t)slot, &sge, 1);

	if (ND_FAILED(st))
		return fail(r, "posting a receive failed: %s", ex_status(st));
	return true;
}

/* This rank's adapter, listener, buffer and queues: what it publishes. */
static bool setup_local(struct ring *r, struct ring_card *card)
{
	const struct ring_opts *o = r->o;
	uint32_t size = sizeof(r->info), cq_depth;
	uint64_t deadline;
	nd_status st;
	void *p;

	st = nd_open_adapter((struct sockaddr *)&o->addr, o->addr_len,
			     &r->adapter);
	if (st == ND_INVALID_ADDRESS)
		return fail(r, "no netdirect adapter serves %s", o->host);
	if (ND_FAILED(st))
		return fail(r, "cannot open the adapter serving %s: %s",
			    o->host, ex_status(st));
	r->info.info_version = ND_VERSION_2;
	st = nd_adapter_query(r->adapter, &r->info, &size);
	if (ND_FAILED(st))
		return fail(r, "cannot query the adapter serving %s: %s",
			    o->host, ex_status(st));
	st = nd_adapter_create_overlapped_file(r->adapter, &r->fd);
	if (ND_FAILED(st))
		return fail(r, "cannot create the overlapped file: %s",
			    ex_status(st));
	if (r->size_max > r->info.max_transfer_length)
		return fail(
		    r,
		    "size %u is beyond the adapter's largest transfer (%u bytes)",
		    r->size_max, r->info.max_transfer_length);
	if (sizeof(struct ring_hello) > r->info.max_caller_data)
		return fail(r,
			    "the adapter allows only %u bytes of connect data",
			    r->info.max_caller_data);

	/* Listen on a free port of the address. */
	st = nd_adapter_create_listener(r->adapter, &r->listener);
	if (ND_FAILED(st))
		return fail(r, "creating a listener failed: %s", ex_status(st));
	st = nd_listener_bind(r->listener, (struct sockaddr *)&o->addr,
			      o->addr_len);
	if (ND_FAILED(st))
		return fail(r, "cannot listen on %s: %s", o->host,
			    ex_status(st));
	st = nd_listener_listen(r->listener, 0);
	if (ND_FAILED(st))
		return fail(r, "listen on %s failed: %s", o->host,
			    ex_status(st));
	card->addr_len = sizeof(card->addr);
	st = nd_listener_get_local_address(
	    r->listener, (struct sockaddr *)&card->addr, &card->addr_len);
	if (ND_FAILED(st))
		return fail(r, "the listener has no address: %s",
			    ex_status(st));

	/* One buffer: target | source | notice out | notices in. */
	r->buf_len =
	    2 * (size_t)align64(r->size_max) + (1 + NOTICE_SLOTS) * NOTICE_SIZE;
	if (r->buf_len > r->info.max_registration_size)
		return fail(
		    r,
		    "needs to register %zu bytes; the adapter allows %" PRIu64,
		    r->buf_len, r->info.max_registration_size);
	if (posix_memalign(&p, 4096, r->buf_len))
		return fail(r, "out of memory (%zu bytes)", r->buf_len);
	memset(p, 0, r->buf_len);
	r->buf = p;
	r->target = r->buf;
	r->source = r->target + align64(r->size_max);
	r->notice_out = r->source + align64(r->size_max);
	r->notices_in = r->notice_out + NOTICE_SIZE;
	st = nd_adapter_create_mr(r->adapter, &r->mr);
	if (ND_FAILED(st))
		return fail(r, "creating a memory region failed: %s",
			    ex_status(st));
	deadline = deadline_after(r);
	st = finish(r, r->mr, &r->mr_ov,
		    nd_mr_register(r->mr, r->buf, r->buf_len,
				   ND_MR_FLAG_ALLOW_LOCAL_WRITE |
				       ND_MR_FLAG_ALLOW_REMOTE_WRITE,
				   &r->mr_ov),
		    deadline);
	if (ND_FAILED(st))
		return fail(r, "registering %zu bytes failed: %s", r->buf_len,
			    ex_status(st));
	r->registered = true;
	r->lkey = nd_mr_get_local_token(r->mr);

	/* One CQ; the left QP only receives, the right QP only initiates. */
	r->sq_depth = min32(RING_SQ_DEPTH, r->info.max_initiator_queue_depth);
	r->inline_max = min32(r->info.inline_request_threshold,
			      r->info.max_inline_data_size);
	cq_depth = r->sq_depth + NOTICE_SLOTS + 2;
	st = nd_adapter_create_cq(r->adapter, cq_depth, 0, 0, &r->cq);
	if (ND_FAILED(st))
		return fail(r, "creating a CQ of depth %u failed: %s", cq_depth,
			    ex_status(st));
	st = nd_adapter_create_qp(r->adapter, r->cq, r->cq, &r->left,
				  NOTICE_SLOTS, 1, 1, 1, 0, &r->qp_left);
	if (ND_FAILED(st))
		return fail(r, "creating a QP failed: %s", ex_status(st));
	st = nd_adapter_create_qp(r->adapter, r->cq, r->cq, &r->right, 1,
				  r->sq_depth, 1, 1, r->inline_max,
				  &r->qp_right);
	if (ND_FAILED(st))
		return fail(r, "creating a QP (depth %u, inline %u) failed: %s",
			    r->sq_depth, r->inline_max, ex_status(st));

	card->adapter_flags = r->info.adapter_flags;
	card->target = (uint64_t)(uintptr_t)r->target;
	card->target_len = r->size_max;
	card->token = nd_mr_get_remote_token(r->mr);
	return true;
}

/* From everyone's cards: how arrivals are seen (the same on every rank). */
static bool choose_arrival(struct ring *r)
{
	bool in_order = true;

	for (int i = 0; i < r->nranks; i++)
		if (!(r->cards[i].adapter_flags &
		      ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED))
			in_order = false;
	if (r->o->arrival == ARRIVAL_POLL && !in_order)
		return fail(
		    r,
		    "--arrival poll needs in-order RDMA placement (IN_ORDER_DMA_SUPPORTED) on every adapter; use --arrival send");
	r->poll_arrival = r->o->arrival == ARRIVAL_POLL ||
			  (r->o->arrival == ARRIVAL_AUTO && in_order);
	/* Receives go before Accept: the left neighbour may send at once. */
	if (!r->poll_arrival)
		for (uint32_t i = 0; i < NOTICE_SLOTS; i++)
			if (!post_notice_receive(r, i))
				return false;
	return true;
}

static const char *addr_of(const struct ring *r, int rank, char *buf,
			   size_t len)
{
	ex_addr_str((const struct sockaddr *)&r->cards[rank].addr, buf, len);
	return buf;
}

/*
 * Connects to the right neighbour and accepts the left one. Everything is
 * asynchronous: the connection request to the right goes out before this
 * rank waits for its own from the left, so no rank waits for another that
 * waits in turn.
 */
static bool connect_ring(struct ring *r)
{
	struct ring_hello hello = {RING_MAGIC, (uint32_t)r->rank}, got;
	const struct ring_card *right = &r->cards[r->right];
	struct sockaddr_storage local = r->o->addr;
	uint64_t deadline = deadline_after(r);
	nd_status st, request_st, connect_st, accept_st;
	char peer[80];
	uint32_t len;

	st = nd_adapter_create_connector(r->adapter, &r->from_left);
	if (ND_SUCCEEDED(st))
		st = nd_adapter_create_connector(r->adapter, &r->to_right);
	if (ND_FAILED(st))
		return fail(r, "creating a connector failed: %s",
			    ex_status(st));
	request_st = nd_listener_get_connection_request(
	    r->listener, r->from_left, &r->req_ov);
	if (ND_FAILED(request_st))
		return fail(r, "waiting for connections failed: %s",
			    ex_status(request_st));
	st = nd_connector_bind(r->to_right, (struct sockaddr *)&local,
			       r->o->addr_len);
	if (ND_FAILED(st))
		return fail(r, "binding a connector to %s failed: %s",
			    r->o->host, ex_status(st));
	connect_st = nd_connector_connect(
	    r->to_right, r->qp_right, (const struct sockaddr *)&right->addr,
	    right->addr_len, 0, 0, &hello, sizeof(hello), &r->connect_ov);
	addr_of(r, r->right, peer, sizeof(peer));
	if (ND_FAILED(connect_st)) /* at once: the cause, report it first */
		return fail(r, "connecting to rank %d at %s failed: %s",
			    r->right, peer, ex_status(connect_st));

	/* The left neighbour's request: check who it is, accept it. */
	st = finish(r, r->listener, &r->req_ov, request_st, deadline);
	if (st == ND_IO_TIMEOUT)
		return fail(r,
			    "no connection request from rank %d within %.1f s",
			    r->left, r->o->timeout_ms / 1e3);
	if (ND_FAILED(st))
		return fail(r, "waiting for rank %d to connect failed: %s",
			    r->left, ex_status(st));
	len = sizeof(got);
	memset(&got, 0, sizeof(got));
	st = nd_connector_get_private_data(r->from_left, &got, &len);
	if ((ND_FAILED(st) && st != ND_BUFFER_OVERFLOW) ||
	    got.magic != RING_MAGIC || got.rank != (uint32_t)r->left) {
		nd_connector_reject(r->from_left, NULL, 0);
		return fail(r,
			    "a connection that is not from rank %d; rejected",
			    r->left);
	}
	accept_st = nd_connector_accept(r->from_left, r->qp_left, 0, 0, NULL, 0,
					&r->accept_ov);
	if (ND_FAILED(accept_st))
		return fail(r, "accepting rank %d failed: %s", r->left,
			    ex_status(accept_st));

	/* Our own connection to the right. */
	connect_st =
	    finish(r, r->to_right, &r->connect_ov, connect_st, deadline);
	if (connect_st == ND_CONNECTION_REFUSED)
		return fail(r, "rank %d at %s refused the connection", r->right,
			    peer);
	if (connect_st == ND_IO_TIMEOUT || connect_st == ND_TIMEOUT)
		return fail(r, "no answer from rank %d at %s within %.1f s",
			    r->right, peer, r->o->timeout_ms / 1e3);
	if (ND_FAILED(connect_st))
		return fail(r, "connecting to rank %d at %s failed: %s",
			    r->right, peer, ex_status(connect_st));
	st = finish(r, r->to_right, &r->complete_ov,
		    nd_connector_complete_connect(r->to_right, &r->complete_ov),
		    deadline);
	if (ND_FAILED(st))
		return fail(r,
			    "completing the connection to rank %d failed: %s",
			    r->right, ex_status(st));
	r->right_up = true;

	st = finish(r, r->from_left, &r->accept_ov, accept_st, deadline);
	if (ND_FAILED(st))
		return fail(r, "accepting rank %d failed: %s", r->left,
			    st == ND_IO_TIMEOUT
				? "it did not complete the connection in time"
				: ex_status(st));
	r->left_up = true;

	/* A neighbour that goes away ends the run with a clear message. */
	if (nd_connector_notify_disconnect(r->from_left, &r->left_gone) !=
	    ND_PENDING)
		return fail(r, "rank %d disconnected at once", r->left);
	if (nd_connector_notify_disconnect(r->to_right, &r->right_gone) !=
	    ND_PENDING)
		return fail(r, "rank %d disconnected at once", r->right);
	return true;
}

/* --- the ring --------------------------------------------------------------- */

static const char *request_name(int32_t type)
{
	switch (type) {
	case ND_REQUEST_TYPE_RECEIVE:
		return "a receive from";
	case ND_REQUEST_TYPE_SEND:
		return "a send to";
	case ND_REQUEST_TYPE_WRITE:
		return "an RDMA write to";
	default:
		return "a request to";
	}
}

/* Takes what the CQ holds: notices arrive, initiator requests finish. */
static void reap(struct ring *r)
{
	struct nd_result res[8];
	uint32_t n = nd_cq_get_results(r->cq, res, 8);

	for (uint32_t i = 0; i < n; i++) {
		const struct nd_result *x = &res[i];
		int peer = *(const int *)x->qp_context;

		if (x->status != ND_SUCCESS)
			die(r, "%s rank %d failed: %s",
			    request_name(x->request_type), peer,
			    ex_status(x->status));
		if (x->request_type != ND_REQUEST_TYPE_RECEIVE) {
			r->sq_out--;
			continue;
		}
		if (x->bytes_transferred != sizeof(struct ring_notice))
			die(r, "protocol error: a %u-byte message from rank %d",
			    x->bytes_transferred, peer);
		r->arrived[r->arrived_tail++ % NOTICE_SLOTS] =
		    (uint32_t)(uintptr_t)x->request_context;
	}
}

static bool gone(void *connector, struct nd_overlapped *ov)
{
	return nd_get_overlapped_result(connector, ov, false) != ND_PENDING;
}

/* Spins until iteration k of `size` bytes from the left is here. */
static void await_arrival(struct ring *r, uint32_t size, uint64_t k)
{
	const uint8_t marker = (uint8_t)(k % 255 + 1); /* never 0 */
	uint64_t deadline = 0;

	for (uint32_t spins = 1;; spins++) {
		if (r->poll_arrival) {
			if (__atomic_load_n(&r->target[size - 1],
					    __ATOMIC_ACQUIRE) == marker)
				return;
			if (spins % 256 == 0)
				reap(r); /* write completions, errors */
		} else {
			if (r->arrived_head != r->arrived_tail)
				break;
			reap(r);
		}
		if (spins % 4096)
			continue;
		/* More busy ranks than cores (mpirun --oversubscribe): let
		 * the rank that holds the token run. Free when nobody waits. */
		sched_yield();
		if (!deadline)
			deadline = deadline_after(r);
		else if (ex_now_ns() > deadline)
			die(r,
			    "nothing arrived from rank %d within %.1f s (iteration %" PRIu64
			    " of size %u)",
			    r->left, r->o->timeout_ms / 1e3, k, size);
		if (gone(r->from_left, &r->left_gone))
			die(r, "rank %d disconnected before the run ended",
			    r->left);
	}

	/* Send arrival: the notice names the iteration. */
	uint32_t slot = r->arrived[r->arrived_head++ % NOTICE_SLOTS];
	struct ring_notice m;

	memcpy(&m, notice_slot(r, slot), sizeof(m));
	if (m.magic != RING_MAGIC || m.iter != k || m.size != size)
		die(r,
		    "protocol error: rank %d announced iteration %" PRIu64
		    " of size %u where %" PRIu64 " of size %u was due",
		    r->left, m.iter, m.size, k, size);
	if (!post_notice_receive(r, slot))
		die(r, "%s", r->err);
}

/* Room for `need` more initiator requests on the right QP. */
static void reserve(struct ring *r, uint32_t need)
{
	uint64_t deadline = deadline_after(r);

	while (r->sq_out + need > r->sq_depth) {
		reap(r);
		if (ex_now_ns() > deadline)
			die(r,
			    "RDMA writes to rank %d did not complete within %.1f s",
			    r->right, r->o->timeout_ms / 1e3);
	}
}

/* The pattern's iteration number: distinct for every (iteration, rank). */
static uint64_t pattern_iter(const struct ring *r, uint64_t k, int rank)
{
	return k * (uint64_t)r->nranks + (uint64_t)rank;
}

static bool checked(const struct ring *r, uint64_t k, uint64_t n)
{
	return k == 0 || k + 1 == n || r->o->check;
}

/* Writes this rank's iteration k into the right neighbour's target. */
static void pass_on(struct ring *r, uint32_t size, uint64_t k, uint64_t n)
{
	const struct ring_card *right = &r->cards[r->right];
	uint32_t payload = r->poll_arrival ? size - 1 : size;
	struct nd_sge sge = {r->source, size, r->lkey};
	nd_status st;

	if (checked(r, k, n))
		ex_fill(r->source, payload, size, pattern_iter(r, k, r->rank),
			0);
	if (r->poll_arrival)
		r->source[size - 1] = (uint8_t)(k % 255 + 1);
	reserve(r, r->poll_arrival ? 1 : 2);
	st =
	    nd_qp_write(r->qp_right, NULL, &sge, 1, right->target, right->token,
			size <= r->inline_max ? ND_OP_FLAG_INLINE : 0);
	if (ND_FAILED(st))
		die(r, "posting an RDMA write to rank %d failed: %s", r->right,
		    ex_status(st));
	r->sq_out++;
	if (r->poll_arrival)
		return;

	struct ring_notice m = {RING_MAGIC, size, k};

	memcpy(r->notice_out, &m, sizeof(m));
	sge.buffer = r->notice_out;
	sge.buffer_length = sizeof(m);
	st = nd_qp_send(r->qp_right, NULL, &sge, 1,
			sizeof(m) <= r->inline_max ? ND_OP_FLAG_INLINE : 0);
	if (ND_FAILED(st))
		die(r, "posting a send to rank %d failed: %s", r->right,
		    ex_status(st));
	r->sq_out++;
}

static void check_arrival(struct ring *r, uint32_t size, uint64_t k, uint64_t n)
{
	uint32_t payload = r->poll_arrival ? size - 1 : size;
	int64_t bad;

	if (checked(r, k, n) &&
	    (bad = ex_verify(r->target, payload, size,
			     pattern_iter(r, k, r->left), 0)) >= 0)
		die(r,
		    "data check failed: RDMA write %" PRIu64
		    " of size %u from rank %d differs at byte %" PRId64,
		    k, size, r->left, bad);
}

static void drain_sq(struct ring *r)
{
	reserve(r, r->sq_depth);
}

/*
 * n iterations of `size` bytes around the ring; rank 0 records one hop
 * (the round divided by the number of ranks) in s when s is given.
 */
static void run_phase(struct ring *r, uint32_t size, uint64_t n,
		      struct ex_samples *s)
{
	uint64_t start;

	/* The previous phase is over everywhere: clear the marker, and let
	 * nobody write before every rank has. */
	drain_sq(r);
	r->target[size - 1] = 0;
	MPI_Barrier(MPI_COMM_WORLD);
	start = ex_now_ns();
	for (uint64_t k = 0; k < n; k++) {
		if (r->rank == 0) {
			uint64_t t0 = ex_now_ns();

			pass_on(r, size, k, n);
			await_arrival(r, size, k);
			if (s)
				ex_sample_add(s, (ex_now_ns() - t0) /
						     (uint64_t)r->nranks);
			check_arrival(r, size, k, n);
		} else {
			await_arrival(r, size, k);
			check_arrival(r, size, k, n);
			pass_on(r, size, k, n);
		}
	}
	if (s) {
		s->elapsed_ns = ex_now_ns() - start;
		s->msgs = n;
		s->bytes = (uint64_t)size * n * (uint64_t)r->nranks;
	}
}

static void print_header(struct ring *r, const char *measures)
{
	const struct ring_opts *o = r->o;
	const char *arrival = r->poll_arrival ? "poll" : "send";
	char addr[80], identity[160], extra[256];

	addr_of(r, 0, addr, sizeof(addr));
	if (o->ex.json) {
		snprintf(extra, sizeof(extra),
			 "  \"ranks\": %d,\n  \"arrival\": \"%s\",\n"
			 "  \"check\": %s,\n",
			 r->nranks, arrival, o->check ? "true" : "false");
		ex_json_begin(&o->ex, measures, r->adapter, &r->info, addr,
			      NULL, extra);
		return;
	}
	printf("# %s: %s\n", TOOL, measures);
	for (int i = 0; i < r->nranks; i++)
		printf("# rank %d listens on %s, writes to rank %d\n", i,
		       addr_of(r, i, addr, sizeof(addr)), (i + 1) % r->nranks);
	ex_identity_str(r->adapter, identity, sizeof(identity));
	printf("# rank 0's adapter: %s; flags ", identity);
	ex_print_flags(stdout, r->info.adapter_flags, "|");
	printf(
	    "\n# arrival: %s\n",
	    r->poll_arrival
		? "poll (the receiver spins on the last byte; every adapter places writes in order)"
		: "send (a send follows each write; the receiver waits for it)");
	printf("# data checked %s; times in microseconds\n",
	       o->check ? "on every iteration"
			: "on the first and last iterations");
	ex_table_header(&o->ex, NULL, false);
}

static void run(struct ring *r)
{
	const struct ring_opts *o = r->o;
	char measures[128];

	snprintf(
	    measures, sizeof(measures),
	    "RDMA Write around a ring of %d ranks; one hop = round trip / %d",
	    r->nranks, r->nranks);
	if (r->rank == 0)
		print_header(r, measures);
	for (int i = 0; i < o->nsizes; i++) {
		uint32_t size = o->sizes[i];
		struct ex_samples s = {0};

		if (o->warmup)
			run_phase(r, size, o->warmup, NULL);
		if (r->rank == 0) {
			s.cap = o->iters;
			s.ns = calloc(o->iters, sizeof(uint32_t));
			if (!s.ns)
				die(r, "out of memory");
		}
		run_phase(r, size, o->iters, r->rank == 0 ? &s : NULL);
		if (r->rank == 0)
			ex_table_row(&o->ex, NULL, size, &s, false);
		free(s.ns);
	}
	drain_sq(r);
	if (r->rank == 0 && o->ex.json)
		ex_json_end();
}

/* --- teardown ----------------------------------------------------------------- */

/* Releases everything this rank holds; false if a disconnect hung. */
static bool teardown(struct ring *r)
{
	uint64_t deadline = deadline_after(r);
	nd_status left = ND_SUCCESS, right = ND_SUCCESS;
	bool ok = true;

	/* Both directions at once: each neighbour disconnects its side too. */
	if (r->right_up)
		right = nd_connector_disconnect(r->to_right, &r->disc_right);
	if (r->left_up)
		left = nd_connector_disconnect(r->from_left, &r->disc_left);
	if (r->right_up && finish(r, r->to_right, &r->disc_right, right,
				  deadline) == ND_IO_TIMEOUT)
		ok = fail(r, "disconnecting from rank %d took more than %.1f s",
			  r->right, r->o->timeout_ms / 1e3);
	if (r->left_up && finish(r, r->from_left, &r->disc_left, left,
				 deadline) == ND_IO_TIMEOUT)
		ok = fail(r, "disconnecting from rank %d took more than %.1f s",
			  r->left, r->o->timeout_ms / 1e3);
	if (r->to_right)
		nd_connector_release(r->to_right);
	if (r->from_left)
		nd_connector_release(r->from_left);
	if (r->qp_right)
		nd_qp_release(r->qp_right);
	if (r->qp_left)
		nd_qp_release(r->qp_left);
	if (r->cq)
		nd_cq_release(r->cq);
	if (r->registered) {
		nd_status st = finish(r, r->mr, &r->mr_ov,
				      nd_mr_deregister(r->mr, &r->mr_ov),
				      deadline_after(r));

		if (ND_FAILED(st))
			ok = fail(r, "deregistering the buffer failed: %s",
				  ex_status(st));
	}
	if (r->mr)
		nd_mr_release(r->mr);
	if (r->listener)
		nd_listener_release(r->listener);
	if (r->fd >= 0)
		close(r->fd);
	if (r->adapter)
		nd_adapter_release(r->adapter);
	free(r->buf);
	return ok;
}

int main(int argc, char **argv)
{
	static struct ring_opts o;
	static struct ring r = {.fd = -1};
	struct ring_card card;
	int rc;
	bool ok;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &r.nranks);
	r.o = &o;
	r.left = (r.rank + r.nranks - 1) % r.nranks;
	r.right = (r.rank + 1) % r.nranks;

	rc = parse(&o, argc, argv, r.rank == 0);
	if (rc) {
		MPI_Finalize();
		return rc < 0 ? 0 : rc;
	}
	for (int i = 0; i < o.nsizes; i++)
		if (o.sizes[i] > r.size_max)
			r.size_max = o.sizes[i];

	r.cards = calloc((size_t)r.nranks, sizeof(*r.cards));
	if (!r.cards)
		die(&r, "out of memory");
	memset(&card, 0, sizeof(card));
	if (ND_FAILED(nd_startup())) {
		fail(&r, "nd_startup failed");
		agree(&r);
		MPI_Finalize();
		return 1;
	}

	/* Bootstrap: set up, publish, connect around the ring. */
	setup_local(&r, &card);
	ok = agree(&r);
	if (ok) {
		MPI_Allgather(&card, sizeof(card), MPI_BYTE, r.cards,
			      sizeof(card), MPI_BYTE, MPI_COMM_WORLD);
		if (choose_arrival(&r))
			connect_ring(&r);
		ok = agree(&r);
	}

	if (ok)
		run(&r);

	/* Every rank is done with the data before anyone disconnects. */
	MPI_Barrier(MPI_COMM_WORLD);
	teardown(&r);
	nd_cleanup();
	if (!agree(&r))
		ok = false;
	free(r.cards);
	MPI_Finalize();
	return ok ? 0 : 1;
}
