/* SPDX-License-Identifier: MIT */
/*
 * What the nd-* tools share: option parsing, connection setup over the
 * public API, a small control protocol, completion waiting (polling or
 * blocking on the adapter's overlapped file), data patterns, statistics
 * and output (text like perftest, or --json).
 *
 * Protocol. The client's parameters travel in the Connect private data
 * (struct ex_params), the server's answer in the Accept private data
 * (struct ex_reply). The server posts its receives before Accept and the
 * client always sends first (iWARP). For every message size the client
 * runs two phases, warm-up then measurement: it sends BEGIN {size, iters},
 * the server answers ACK, both run the tool's data loop, and tools whose
 * last data operation does not synchronise the peers exchange END / ACK
 * (the ACK carries the server's data check). DONE / ACK ends the run.
 */
#ifndef ND_EXAMPLES_COMMON_H
#define ND_EXAMPLES_COMMON_H

#include <netdirect/nd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum ex_tool_id {
	EX_PINGPONG = 1,
	EX_RPINGPONG,
	EX_PING,
	EX_RPING,
	EX_READLAT,
};

/* Which options a tool accepts beyond the common ones. */
#define EX_OPT_RW    0x1u /* -w / -r */
#define EX_OPT_DEPTH 0x2u /* -q is a pipeline depth */

#define EX_MAX_SIZES 32
#define EX_CTRL_SIZE 64u

struct ex_opts {
	const char *tool;
	enum ex_tool_id id;
	unsigned accepts;
	uint16_t default_port;
	bool server;
	struct sockaddr_storage addr;
	uint32_t addr_len;
	char addr_str[80];
	uint32_t sizes[EX_MAX_SIZES];
	int nsizes;
	uint64_t iters; /* 0: the tool's default (capped for large sizes) */
	bool iters_set;
	double duration; /* seconds per size; 0: count iterations */
	uint64_t warmup;
	bool warmup_set;
	bool blocking;
	uint32_t nsge;
	int64_t inline_max; /* < 0: the adapter's inline request threshold */
	uint32_t depth;	    /* 0: default */
	bool json;
	bool check;
	bool read; /* rping: RDMA Read instead of Write */
	int timeout_ms;
	int wait_ms; /* server: how long to wait for a client; 0 forever */
};

/* Connect private data: the client's parameters. */
struct ex_params {
	uint32_t magic;
	uint8_t version;
	uint8_t tool;
	uint8_t flags; /* EX_PF_* */
	uint8_t nsge;
	uint32_t depth;
	uint32_t size_max;
	uint32_t rdma_len; /* the target area the client wants at the server */
	uint32_t my_rdma_len;
	uint32_t my_rdma_token;
	uint32_t pad;
	uint64_t my_rdma_addr;
};

#define EX_PF_CHECK 0x1u
#define EX_PF_READ  0x2u

/* Accept private data: the server's answer. */
struct ex_reply {
	uint32_t magic;
	uint32_t status; /* 0, or an EX_ERR_* the client reports */
	uint32_t rx_slots;
	uint32_t rdma_len;
	uint32_t rdma_token;
	uint32_t inbound_read_limit;
	uint64_t rdma_addr;
};

#define EX_MAGIC	0x4e445831u /* "NDX1" */
#define EX_VERSION	1
#define EX_ERR_TOOL	1 /* the client runs another tool */
#define EX_ERR_VERSION	2
#define EX_ERR_RESOURCE 3 /* the server could not set up */

enum ex_op {
	EX_BEGIN = 1,
	EX_ACK,
	EX_END,
	EX_DONE,
	EX_CREDIT,
};

/* A control message (sent inline when the adapter allows). */
struct ex_ctrl {
	uint32_t magic;
	uint32_t op;
	uint32_t size;
	uint32_t flags; /* EX_PH_* on BEGIN */
	uint64_t iters;
	uint64_t arg;	 /* CREDIT: credits (0: heartbeat) */
	uint32_t status; /* ACK: 0 or a data-check failure */
	uint32_t pad[7];
};

#define EX_PH_MEASURE 0x1u

/* Request contexts: kind in the top byte, index below. */
#define EX_CTX_DATA    0x01u
#define EX_CTX_CTRL    0x02u
#define EX_CTX(k, i)   ((void *)(((uintptr_t)(k) << 56) | (uintptr_t)(i)))
#define EX_CTX_KIND(c) ((unsigned)((uintptr_t)(c) >> 56))
#define EX_CTX_IDX(c)  ((uint64_t)((uintptr_t)(c) & ((1ull << 56) - 1)))

/* A receive waiting to be consumed by the tool. */
struct ex_rx {
	uint32_t slot;
	uint32_t bytes;
};

#define EX_RX_RING 4096u

struct ex_conn;
typedef void (*ex_tx_done_fn)(struct ex_conn *c, uint64_t idx);

struct ex_conn {
	const struct ex_opts *o;
	struct nd_adapter *adapter;
	struct nd_adapter_info info;
	int fd;
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_mr *mr;
	struct nd_listener *listener;
	struct nd_connector *conn;
	struct nd_overlapped disc_ov;
	struct nd_overlapped notify_ov;
	bool notify_armed;
	bool connected;
	bool closing; /* the run is over: flushes and disconnects expected */
	char peer_str[80];
	char local_str[80];

	/* One registered buffer: ctrl ring | send slots | receive slots |
	 * RDMA area (the peer's target). */
	uint8_t *buf;
	size_t buf_len;
	uint32_t lkey;
	uint8_t *ctrl_area;
	uint32_t ctrl_next;
	uint32_t ctrl_done;
	uint8_t *send_area;
	uint32_t send_slot, nsend;
	uint8_t *recv_area;
	uint32_t recv_slot, nrecv;
	uint8_t *rdma_area;
	uint32_t rdma_len;

	uint32_t sq_depth, rq_depth, cq_depth;
	uint32_t ssge, rsge, read_sge;
	uint32_t inline_max;
	uint32_t sq_out; /* initiator requests not yet completed */

	/* The peer. */
	struct ex_params params; /* client's (both sides) */
	struct ex_reply reply;	 /* server's (both sides) */
	uint64_t peer_rdma_addr;
	uint32_t peer_rdma_token;
	uint32_t peer_rdma_len;
	uint32_t read_limit; /* Reads this side may have in flight */

	/* Receives completed, not yet consumed. */
	struct ex_rx rx[EX_RX_RING];
	uint32_t rx_head, rx_tail;

	uint64_t last_beat; /* see ex_heartbeat() */
	ex_tx_done_fn tx_done;
	void *tool_state;
};

/* Per-phase results. */
struct ex_samples {
	uint32_t *ns; /* per-iteration (or per-operation) time, ns */
	uint64_t n;
	uint64_t cap;
	uint64_t elapsed_ns;
	uint64_t bytes; /* payload moved, for MB/s */
	uint64_t msgs;
};

/* What a tool plugs into the common driver. */
struct ex_tool {
	const char *measures; /* header: what a row's times are */
	bool bandwidth;	      /* MB/s and msg/s columns */
	uint32_t default_iters;
	/* Sizes the buffer layout before the QP exists (both sides; the
	 * server sees the client's params in c->params). */
	void (*layout)(struct ex_conn *c);
	/* Client: run one phase of `iters` iterations of `size` bytes. */
	int (*client_phase)(struct ex_conn *c, uint32_t size, uint64_t iters,
			    bool measure, struct ex_samples *s);
	/* Server: serve one phase (send the BEGIN's ACK when ready). */
	int (*server_phase)(struct ex_conn *c, uint32_t size, uint64_t iters);
};

/* --- options and output -------------------------------------------------- */

int ex_parse(struct ex_opts *o, int argc, char **argv);
int ex_parse_addr(const char *text, uint16_t default_port,
		  struct sockaddr_storage *ss, uint32_t *len);
void ex_addr_str(const struct sockaddr *sa, char *buf, size_t len);
/* The address without port or brackets. */
void ex_host_str(const struct sockaddr *sa, char *buf, size_t len);
int ex_parse_sizes(const char *text, uint32_t *sizes, int *n);
/* One line on stderr: "<tool>: <message>". */
void ex_err(const struct ex_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *ex_status(nd_status st);
/* Adapter-opening errors, with the user-facing wording. */
nd_status ex_open_adapter(const struct ex_opts *o, const struct sockaddr *addr,
			  uint32_t len, struct nd_adapter **adapter,
			  struct nd_adapter_info *info);
void ex_print_flags(FILE *f, uint32_t flags, const char *sep);

/* --- the driver ---------------------------------------------------------- */

/* Runs the whole tool: connection, phases, output, teardown. Exit code. */
int ex_main(struct ex_opts *o, const struct ex_tool *t);

/* --- helpers for the tools' data loops ------------------------------------ */

uint64_t ex_now_ns(void);
/* Waits up to timeout_ms for at least one completion and dispatches it:
 * receives go to the rx ring, initiator completions call c->tx_done. Any
 * error completion or a peer disconnect prints one line and exits(1). */
void ex_progress(struct ex_conn *c, int timeout_ms);
/* Non-blocking: dispatches whatever the CQ holds. */
void ex_progress_poll(struct ex_conn *c);
bool ex_rx_pop(struct ex_conn *c, struct ex_rx *rx);
/* Waits for the next receive. */
struct ex_rx ex_rx_wait(struct ex_conn *c, int timeout_ms);
void ex_post_recv(struct ex_conn *c, uint32_t slot);
/* Makes room for one more initiator request. */
void ex_sq_reserve(struct ex_conn *c);
void ex_sq_drain(struct ex_conn *c, int timeout_ms);
void ex_post_send(struct ex_conn *c, void *ctx, void *buf, uint32_t len);
void ex_post_write(struct ex_conn *c, void *ctx, void *buf, uint32_t len,
		   uint64_t raddr, uint32_t rtoken);
void ex_post_read(struct ex_conn *c, void *ctx, void *buf, uint32_t len,
		  uint64_t raddr, uint32_t rtoken);
void ex_send_ctrl(struct ex_conn *c, uint32_t op, uint32_t size, uint32_t flags,
		  uint64_t iters, uint64_t arg, uint32_t status);
/* Waits for a control message of op (CREDIT messages are skipped and
 * counted in *credits if given). */
struct ex_ctrl ex_wait_ctrl(struct ex_conn *c, uint32_t op, int timeout_ms);
const struct ex_ctrl *ex_rx_ctrl(struct ex_conn *c, const struct ex_rx *rx);
uint8_t *ex_recv_buf(struct ex_conn *c, uint32_t slot);
uint8_t *ex_send_buf(struct ex_conn *c, uint32_t slot);
void ex_die(struct ex_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Data patterns: a function of (size, iteration, direction). */
void ex_fill(void *buf, uint32_t len, uint32_t size, uint64_t iter,
	     unsigned dir);
/* Returns the first mismatching offset, or -1. */
int64_t ex_verify(const void *buf, uint32_t len, uint32_t size, uint64_t iter,
		  unsigned dir);
/* Whether iteration k of n is verified: first, last, or all with --check. */
static inline bool ex_checked(const struct ex_conn *c, uint64_t k, uint64_t n)
{
	return k == 0 || k + 1 == n || (c->params.flags & EX_PF_CHECK);
}

void ex_sample_add(struct ex_samples *s, uint64_t ns);

/* Slots of `size` bytes within the tools' memory cap (at least 1). */
uint32_t ex_slots_for(uint32_t want, uint32_t size);

/* Phase handshakes. Client: BEGIN, wait ACK; END, wait ACK (returns the
 * server's check status). Server: ACK. */
void ex_begin(struct ex_conn *c, uint32_t size, uint64_t iters, bool measure);
uint32_t ex_end(struct ex_conn *c);
void ex_ack(struct ex_conn *c, uint32_t status);
/* Client, during phases the server only watches (RDMA Write/Read): a
 * control message every second, so the server's wait for END stays
 * bounded by the timeout however long the phase. Needs one free send
 * queue entry. */
void ex_heartbeat(struct ex_conn *c);

/* Output: a table (text) or rows of the JSON "results" array. */
void ex_table_header(const struct ex_opts *o, const char *first, bool bw);
void ex_table_row(const struct ex_opts *o, const char *op, uint32_t size,
		  struct ex_samples *s, bool bw);
void ex_json_begin(const struct ex_opts *o, const char *measures,
		   struct nd_adapter *adapter,
		   const struct nd_adapter_info *info, const char *local,
		   const char *peer, const char *extra);
/* "provider tcp, device tcp, transport TCP", from nd_adapter_get_identity. */
void ex_identity_str(struct nd_adapter *adapter, char *out, size_t len);
void ex_json_end(void);

#endif /* ND_EXAMPLES_COMMON_H */
