/* SPDX-License-Identifier: MIT */
/*
 * The tcp provider: NetworkDirect semantics in user space over TCP.
 *
 * Threading model (docs/providers/tcp.md): each adapter has one progress
 * thread sleeping in epoll. All connection, queue and memory-table state of
 * an adapter is guarded by the adapter's lock (recursive); posting calls take
 * it, append the request and push bytes to the socket themselves when the
 * socket is idle, so a ping-pong costs no thread hand-off on the send side.
 * The progress thread serves incoming frames (receives, remote reads and
 * writes, acknowledgements) without any call by the application. CQs have
 * their own lock so polling never contends with the data movers for long.
 */
#ifndef TCP_PROVIDER_H
#define TCP_PROVIDER_H

#include "tcp_wire.h"

#include <netdirect/nd_provider.h>
#include <netdirect/nd_util.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define TCP_LOG "tcp"

/* Limits advertised in nd_adapter_info (docs/providers/tcp.md). */
#define TCP_MAX_SGE	     16u
#define TCP_MAX_INLINE	     512u
#define TCP_INLINE_THRESHOLD 160u
#define TCP_LARGE_THRESHOLD  65536u
#define TCP_MAX_QUEUE_DEPTH  16384u
#define TCP_MAX_CQ_DEPTH     65536u
#define TCP_MAX_TRANSFER     (1u << 30)
#define TCP_MAX_READ_LIMIT   16u
#define TCP_MAX_CALLER_DATA  196u
#define TCP_MAX_CALLEE_DATA  148u
#define TCP_MAX_REGISTRATION (1ull << 40)
/* A SEND that finds no receive waits this long, then ND_IO_TIMEOUT. */
#define TCP_RNR_TIMEOUT_MS   2000
/* A connection owing or owed something that moves no byte either way for
 * this long is dead (the counterpart of RDMA's retry count x timeout):
 * ND_IO_TIMEOUT. Also the kernel's TCP_USER_TIMEOUT and keepalive bound.
 * ND_TCP_TIMEOUT_MS changes it; 0 turns it off. */
#define TCP_LIVENESS_MS	     5000u
/* The progress thread's timer: a tick this often while some deadline
 * may fall due (liveness, connection setup), and every TCP_SHORT_TICK_MS
 * while a short one is armed (tcp_adapter.timers). */
#define TCP_LIVENESS_TICK_MS 1000
#define TCP_SHORT_TICK_MS    50
/* Each step of connection setup that waits on the peer ends after this
 * long: Connect's TCP handshake (ND_IO_TIMEOUT), an accepted connection's
 * CONNECT frame (closed), the RTU after Accept (Accept completes
 * ND_IO_TIMEOUT). ND_TCP_CONNECT_TIMEOUT_MS changes it. At most
 * TCP_MAX_INCOMING per listener may wait for their CONNECT: a peer that
 * connects and stays silent cannot hold descriptors long. */
#define TCP_CONNECT_WAIT_MS  10000u
#define TCP_MAX_INCOMING     64u
/* Complete connection requests the application has not taken yet, per
 * listener: Listen's backlog, this for 0, at most TCP_MAX_BACKLOG. More
 * are refused (REJECT). */
#define TCP_DEFAULT_BACKLOG  128u
#define TCP_MAX_BACKLOG	     4096u
/* accept() failing for want of descriptors or memory: the listener stops
 * accepting for this long (the kernel keeps the connections queued). */
#define TCP_ACCEPT_PAUSE_MS  100
/* Connections one listener event accepts before others get the lock. */
#define TCP_ACCEPT_BATCH     64
/* Polls in a row before an application owns its sockets (see driving). */
#define TCP_DRIVE_STREAK     64u
/* Live tokens (grants) an adapter holds at most: two per region, one per
 * bound window. */
#define TCP_MAX_GRANTS	     (1u << 20)
#define TCP_TOKEN_ROUNDS     8u

/*
 * A wrong token costs a guesser one connection; these make guessing cost
 * time too. A peer's READ or WRITE refused for its token or bounds is an
 * access violation, counted against the peer's address (tcp_peer_ip):
 * TCP_VIOLATION_LIMIT of them within TCP_VIOLATION_WINDOW_MS and the
 * adapter's listeners close that address's new connections at once for
 * TCP_VIOLATION_COOLDOWN_MS. ND_TCP_VIOLATION_LIMIT (0 = off) and
 * ND_TCP_VIOLATION_COOLDOWN_MS change them. At most TCP_VIOLATION_PEERS
 * addresses are remembered, in sets of TCP_VIOLATION_WAYS chosen by a
 * keyed hash, so a peer with many addresses can neither grow memory nor
 * lengthen a lookup, nor aim at one set.
 */
#define TCP_VIOLATION_LIMIT	  16u
#define TCP_VIOLATION_WINDOW_MS	  60000u
#define TCP_VIOLATION_COOLDOWN_MS 60000u
#define TCP_VIOLATION_PEERS	  256u
#define TCP_VIOLATION_WAYS	  4u

struct tcp_adapter;
struct tcp_qp;
struct tcp_cq;
struct tcp_srq;
struct tcp_connector;
struct tcp_listener;

/* Something the progress thread polls; epoll data names its slot. */
enum tcp_poll_kind {
	TCP_POLL_QP = 1,
	TCP_POLL_LISTENER,
	TCP_POLL_REQUEST,
};

struct tcp_pollable {
	enum tcp_poll_kind kind;
	int fd;
	uint32_t slot; /* index in the adapter's pollable table, or ~0 */
	uint32_t events;
};

/*
 * A registered region or a bound window: what a token names. A token is
 * valid exactly while it is in the adapter's grant table; identities are
 * never compared by address (an address is reused, a token and a QP serial
 * are not: see tcp_grants).
 */
struct tcp_mem {
	uint32_t local_token;  /* 0 for windows and while not granted */
	uint32_t remote_token; /* capability handed to peers; 0 if none */
	uint64_t base;
	uint64_t length;
	uint32_t rights;    /* TCP_R_* */
	uint64_t qp_serial; /* windows: tcp_qp.serial of their QP; else 0 */
};

/*
 * The tokens an adapter has granted, in an open-addressed table keyed by
 * the token (linear probing, backward-shift deletion, at most half full).
 * Tokens are a counter enciphered with a per-adapter random key (a Feistel
 * permutation of 32 bits): unpredictable to a peer, and a value comes again
 * only after 2^32 grants, so a token a peer kept never names a later grant.
 */
struct tcp_grant {
	uint32_t token; /* 0: empty */
	struct tcp_mem *mem;
};

struct tcp_grants {
	struct tcp_grant *slot;
	uint32_t cap, count;
	uint32_t next; /* the counter the next token enciphers */
	uint32_t key[TCP_TOKEN_ROUNDS];
};

/* What a peer is counted by: an IPv4 address, as ::ffff:a.b.c.d, or the
 * /64 prefix of an IPv6 one (what one host or site is commonly given). */
struct tcp_peer_ip {
	struct in6_addr a;
};

/* One remembered peer address (tcp_adapter.offenders). */
struct tcp_offender {
	struct tcp_peer_ip ip;
	bool used;
	uint32_t count;	       /* violations since window_ms */
	uint64_t window_ms;    /* ms: the first of them */
	uint64_t seen_ms;      /* ms: the last, for eviction */
	uint64_t refuse_until; /* ms: connections refused until then */
};

#define TCP_R_LOCAL_WRITE  0x1u
#define TCP_R_REMOTE_READ  0x2u
#define TCP_R_REMOTE_WRITE 0x4u

struct tcp_adapter {
	struct nd_adapter_base base;
	pthread_mutex_t lock; /* recursive; see the top of this file */
	uint32_t depth;	      /* lock nesting of the owner */
	int epfd;
	int wakefd;
	pthread_t thread;
	bool stop;
	bool destroy_on_thread;
	bool thread_waiting; /* atomic: the progress thread wants the lock */
	struct tcp_grants grants;
	uint64_t qp_serial;   /* last tcp_qp.serial handed out */
	uint32_t liveness_ms; /* TCP_LIVENESS_MS or ND_TCP_TIMEOUT_MS */
	uint32_t connect_ms;  /* TCP_CONNECT_WAIT_MS or its variable */
	uint32_t sockets;     /* atomic: QPs with a socket */
	uint32_t incoming;    /* atomic: requests waiting for their CONNECT */
	uint64_t next_tick;   /* ms: the next timer tick */
	/* Access violations by peer address (tcp_violation); under the lock.
	 * violations and peer_refusals count since the adapter opened. */
	struct tcp_offender offenders[TCP_VIOLATION_PEERS];
	uint32_t offender_key;	   /* random: which set an address is in */
	uint32_t viol_limit;	   /* 0 = off */
	uint32_t viol_cooldown_ms; /* TCP_VIOLATION_COOLDOWN_MS or its var */
	uint64_t violations;	   /* every one counted */
	uint64_t peer_refusals;	   /* connections closed for them */
	struct tcp_pollable **poll;
	uint32_t *poll_gen;
	uint32_t npoll;
	/* Objects to put once the lock is dropped (tcp_unlock drains). */
	struct nd_util_puts puts;
	/* Every QP and listening listener of the adapter, for timers. */
	struct tcp_qp *qps;
	struct tcp_listener *listeners;
	/* atomic: short deadlines armed (QPs' RNR waits, listeners backing
	 * off); the timer ticks every TCP_SHORT_TICK_MS while there are any */
	uint32_t timers;
	/*
	 * Application-driven sockets. An application that busy-polls a CQ
	 * moves its QPs' bytes itself (tcp_adapter_drive); once it has polled
	 * TCP_DRIVE_STREAK times without asking for a notification, the
	 * progress thread stops watching those sockets for data, so it no
	 * longer wakes (and races the poller for the lock) on every message.
	 * It watches them again when the application asks for a notification
	 * or stops polling for a millisecond. Under the adapter lock, except
	 * `driving`, which the progress thread reads for its epoll timeout.
	 */
	uint32_t drive_streak; /* empty polls since the last notify */
	uint32_t drive_gen;    /* bumped by every drive */
	uint32_t drive_seen; /* drive_gen at the progress thread's last look */
	bool driving;	     /* atomic: some QP is application-driven */
};

struct tcp_cq {
	struct nd_cq_base base;
	pthread_mutex_t lock;
	struct nd_result *ring;
	uint32_t depth, head, count;
	uint32_t armed; /* bit per notify type armed */
	bool overrun;
	bool has_error; /* an error completion waits */
};

struct tcp_rwr { /* a posted receive */
	void *context;
	uint32_t nsge;
	uint32_t length;  /* sum of SGE lengths */
	nd_status status; /* ND_SUCCESS, or a local protection error */
	struct nd_sge *sge;
};

struct tcp_srq {
	struct nd_srq_base base;
	struct tcp_rwr *ring;
	struct nd_sge *sges;
	uint32_t depth, cap, max_sge, head, count;
	uint32_t threshold;
	bool armed;
	uint32_t stalled;   /* QPs of this SRQ waiting for a receive */
	struct tcp_qp *qps; /* attached QPs (srq_next) */
};

enum tcp_op {
	TCP_OP_SEND = 0,
	TCP_OP_WRITE,
	TCP_OP_READ,
	TCP_OP_BIND,
	TCP_OP_INVALIDATE,
};

struct tcp_swr { /* a posted initiator request */
	void *context;
	uint8_t op;
	uint8_t done;
	uint8_t is_inline;
	uint8_t rnr; /* the peer answered RNR (once per SEND) */
	uint32_t flags;
	uint32_t nsge;
	uint32_t length;
	uint64_t remote_addr;
	uint32_t remote_token;
	nd_status status;
	struct nd_sge *sge; /* TCP_MAX_SGE slots */
	uint8_t *inline_buf;
};

enum tcp_qp_state {
	TCP_QP_IDLE = 0,
	TCP_QP_CONNECTING, /* active: TCP connecting or CONNECT sent */
	TCP_QP_REPLIED,	   /* active: ACCEPT received */
	TCP_QP_ACCEPTING,  /* passive: ACCEPT sent */
	TCP_QP_CONNECTED,
	TCP_QP_ERROR, /* broken: requests flush */
};

enum tcp_rx_phase {
	TCP_RX_HDR = 0,
	TCP_RX_PAYLOAD,
	TCP_RX_STALL, /* a SEND waits for a receive */
	TCP_RX_DEAD,
};

enum tcp_rx_sink {
	TCP_SINK_NONE = 0,
	TCP_SINK_PDATA,
	TCP_SINK_RECV,
	TCP_SINK_WRITE,
	TCP_SINK_READ_RESP,
};

/* Response frames this side owes the peer, in order. */
enum tcp_resp_kind {
	TCP_RESP_ACK = 1,
	TCP_RESP_RNR,
	TCP_RESP_NAK,
	TCP_RESP_READ,
};

struct tcp_resp {
	uint8_t kind;
	uint32_t count;	     /* ACK: frames; NAK: status */
	struct tcp_mem *mem; /* READ */
	uint32_t token;
	uint64_t addr;
	uint32_t length;
};

#define TCP_RESP_RING (2u * TCP_MAX_READ_LIMIT + 8u)

struct tcp_qp {
	struct nd_qp_base base;
	struct tcp_adapter *ad;
	uint64_t serial;	/* unique per adapter, never reused */
	struct tcp_mw *windows; /* bound to this QP (tcp_mw.qp_next) */
	struct tcp_qp *ad_next, *ad_prev;
	struct tcp_cq *rcq, *icq;
	struct tcp_srq *srq;
	struct tcp_qp *srq_next;
	struct tcp_connector *conn; /* weak; guarded by the adapter lock */
	enum tcp_qp_state state;
	struct tcp_pollable pl; /* fd -1 while unconnected */
	bool ever_connected;
	struct tcp_peer_ip peer_ip; /* of the connection, for tcp_violation */

	/* receive queue */
	struct tcp_rwr *rq;
	struct nd_sge *rq_sges;
	uint32_t rq_depth, rq_max_sge, rq_head, rq_count;

	/* initiator queue: [head, tx) sent or local, [tx, head+count) not */
	struct tcp_swr *sq;
	struct nd_sge *sq_sges;
	uint8_t *sq_inline;
	uint32_t sq_depth, sq_max_sge, inline_size;
	uint32_t sq_head, sq_count, sq_tx, sq_await; /* absolute counters */
	uint32_t reads_out, read_limit; /* READs awaiting a response */
	uint32_t ird, ord;		/* negotiated */
	uint64_t rnr_deadline;		/* ms, 0 = none */
	uint64_t rtu_deadline;		/* ms: while accepting */
	/* liveness: bytes moved either way, and since when they stopped */
	uint32_t moved, moved_seen;
	uint64_t still_since; /* ms, 0 = nothing outstanding or moving */

	/* responses owed */
	struct tcp_resp resp[TCP_RESP_RING];
	uint32_t resp_head, resp_count;
	uint32_t reads_in; /* READ requests being served */
	bool break_after_tx;

	/* receive side of the socket */
	enum tcp_rx_phase rx_phase;
	enum tcp_rx_sink rx_sink;
	struct tcp_hdr rx_hdr;
	uint32_t rx_got;  /* header bytes */
	uint32_t rx_left; /* payload bytes still to read */
	struct iovec rx_iov[TCP_MAX_SGE];
	uint32_t rx_niov, rx_iov_idx;
	struct tcp_mem *rx_mem; /* WRITE target, rechecked per chunk */
	uint32_t rx_token;
	struct tcp_rwr rx_wr; /* the receive being filled (copy) */
	uint8_t rx_pdata[TCP_MAX_CALLEE_DATA];
	/* read-ahead: headers and small payloads come through here */
	uint8_t rxbuf[4096];
	uint32_t rxbuf_off, rxbuf_len;
	bool tcp_connecting; /* non-blocking connect() in progress */
	bool app_driven;     /* the polling application reads (driving) */
	bool disconnected;   /* ended by this side's Disconnect */
	uint32_t acks_owed;
	bool rnr_sent;

	/* send side of the socket */
	bool tx_busy;
	uint8_t tx_src; /* 1 response, 2 sq, 3 an ACK in front of an sq frame */
	struct tcp_hdr tx_hdr;
	struct tcp_hdr tx_ack_hdr; /* ACK frames (they may precede tx_hdr) */
	struct iovec tx_iov[TCP_MAX_SGE + 2];
	uint32_t tx_niov, tx_idx;
	uint32_t tx_resp_kind;
	uint32_t tx_sq_idx;
};

enum tcp_conn_state {
	TCP_CONN_IDLE = 0,
	TCP_CONN_BOUND,
	TCP_CONN_CONNECTING,
	TCP_CONN_REPLIED,
	TCP_CONN_REQUEST,
	TCP_CONN_ACCEPTING,
	TCP_CONN_CONNECTED,
	TCP_CONN_DISCONNECTED,
	TCP_CONN_CLOSED, /* failed or rejected: single use */
};

/* Overlapped kinds of a connector. */
enum {
	TCP_OV_CONNECT = 1,
	TCP_OV_ACCEPT,
	TCP_OV_NOTIFY_DISC,
};

/* An incoming connection before a connector takes it. */
struct tcp_request {
	struct tcp_pollable pl;
	struct tcp_adapter *ad;
	/* weak; NULL once handed to a connector. While set, the request is on
	 * the listener's incoming list, or its backlog once complete. */
	struct tcp_listener *listener;
	struct tcp_request *next, *prev;
	struct tcp_hdr hdr;
	uint32_t got;
	bool complete;	   /* CONNECT fully read */
	bool dead;	   /* the active side went away (fd closed) */
	uint64_t since_ms; /* accepted at (nd_util_now_ms) */
	uint8_t pdata[TCP_MAX_CALLER_DATA];
	uint32_t pdata_len;
	uint32_t ird, ord;
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

struct tcp_connector {
	struct nd_connector_base base;
	struct tcp_adapter *ad;
	enum tcp_conn_state state;
	int bound_fd;	   /* bound socket before Connect */
	struct tcp_qp *qp; /* retained while associated */
	struct tcp_request *req;
	struct sockaddr_storage local, peer;
	socklen_t local_len, peer_len;
	uint8_t pdata[TCP_MAX_CALLER_DATA]; /* the peer's private data */
	uint32_t pdata_len;
	uint32_t peer_ird, peer_ord; /* as the peer offered them */
	uint32_t my_ird, my_ord;
	bool have_peer_data;
	bool closing;	       /* released or cancelled: the core completes */
	bool qp_flushed;       /* the QP was flushed or released mid-connect */
	bool app_disconnected; /* the application called Disconnect */
	uint8_t out_pdata[TCP_MAX_CALLER_DATA]; /* ours, for CONNECT */
	uint32_t out_pdata_len;
};

/* Requests in arrival order, oldest first. */
struct tcp_request_list {
	struct tcp_request *head, *tail;
	uint32_t count;
};

struct tcp_listener {
	struct nd_listener_base base;
	struct tcp_adapter *ad;
	struct tcp_pollable pl;
	bool bound, listening;
	struct tcp_listener *ad_next;	  /* on ad->listeners while listening */
	uint64_t resume_ms;		  /* backing off accept() until then */
	uint32_t backlog_max;		  /* from Listen's backlog */
	struct tcp_request_list backlog;  /* complete, not taken yet */
	struct tcp_request_list incoming; /* accepted, CONNECT not read yet */
};

static inline struct tcp_adapter *tcp_adapter_of(struct nd_adapter_base *a)
{
	return container_of(a, struct tcp_adapter, base);
}

/* tcp_adapter.c */
extern const struct nd_provider tcp_provider;
void tcp_lock(struct tcp_adapter *ad);
void tcp_unlock(struct tcp_adapter *ad);
/* Registers pl with epoll; false on failure. */
bool tcp_poll_add(struct tcp_adapter *ad, struct tcp_pollable *pl,
		  uint32_t events);
void tcp_poll_mod(struct tcp_adapter *ad, struct tcp_pollable *pl,
		  uint32_t events);
void tcp_poll_del(struct tcp_adapter *ad, struct tcp_pollable *pl);
uint32_t tcp_random32(void);
/* Grants: gives m a remote token (and a local one if `local`); false
 * when the table is full. Revoke takes every token of m away at once. */
bool tcp_grant(struct tcp_adapter *ad, struct tcp_mem *m, bool local);
void tcp_revoke(struct tcp_adapter *ad, struct tcp_mem *m);
nd_status tcp_grants_init(struct tcp_grants *g);
void tcp_grants_fini(struct tcp_grants *g);
void tcp_peer_ip(const struct sockaddr *sa, struct tcp_peer_ip *ip);
/* The peer at `ip` made an access violation; adapter locked. */
void tcp_violation(struct tcp_adapter *ad, const struct tcp_peer_ip *ip);
/* Whether the listeners refuse a connection from `peer` at `now` (and
 * counts it if so); adapter locked. */
bool tcp_peer_refused(struct tcp_adapter *ad, const struct sockaddr *peer,
		      uint64_t now);

static inline struct tcp_mem *tcp_grant_find(const struct tcp_adapter *ad,
					     uint32_t token)
{
	const struct tcp_grants *g = &ad->grants;
	uint32_t mask = g->cap - 1;

	/* The table is never full, so an empty slot ends every probe; an
	 * empty slot's mem is NULL, which also answers token 0. */
	for (uint32_t i = token & mask;; i = (i + 1) & mask)
		if (g->slot[i].token == token || !g->slot[i].token)
			return g->slot[i].mem;
}
static inline struct tcp_mem *tcp_mem_remote(const struct tcp_adapter *ad,
					     uint32_t token)
{
	struct tcp_mem *m = tcp_grant_find(ad, token);
	return m && m->remote_token == token ? m : NULL;
}
static inline struct tcp_mem *tcp_mem_local(const struct tcp_adapter *ad,
					    uint32_t token)
{
	struct tcp_mem *m = tcp_grant_find(ad, token);
	return m && m->local_token == token ? m : NULL;
}

/* tcp_cq.c */
nd_status tcp_create_cq(struct nd_adapter_base *a, uint32_t depth,
			uint16_t group, uint64_t affinity, struct nd_cq **out);
nd_status tcp_create_srq(struct nd_adapter_base *a, uint32_t depth,
			 uint32_t max_sge, uint32_t threshold, uint16_t group,
			 uint64_t affinity, struct nd_srq **out);
nd_status tcp_create_mr(struct nd_adapter_base *a, struct nd_mr **out);
nd_status tcp_create_mw(struct nd_adapter_base *a, struct nd_mw **out);
void tcp_cq_push(struct tcp_cq *cq, nd_status status, uint32_t bytes,
		 void *qp_context, void *request_context, int32_t type,
		 bool solicited);
/* SRQ: take the oldest receive (NULL if none) */
bool tcp_srq_take(struct tcp_srq *srq, struct tcp_rwr *out);

/* MR / MW internals used by the QP */
struct tcp_mr {
	struct nd_mr_base base;
	struct tcp_mem mem;
};
struct tcp_mw {
	struct nd_mw_base base;
	struct tcp_mem mem;
	struct tcp_mr *mr; /* retained while bound */
	struct tcp_qp *qp; /* while bound: the QP, whose list holds us */
	struct tcp_mw *qp_next;
	bool bound;
};
/* Binds mw over [base, base + length) of mr through qp; adapter locked. */
bool tcp_mw_bind(struct tcp_mw *mw, struct tcp_mr *mr, struct tcp_qp *qp,
		 uint64_t base, uint64_t length, uint32_t rights);
/* Ends mw's grant (invalidate, rebind, its QP or itself going); adapter
 * locked. */
void tcp_mw_unbind(struct tcp_mw *mw);

/* tcp_qp.c */
nd_status tcp_create_qp(struct nd_adapter_base *a, struct nd_cq *rcq,
			struct nd_cq *icq, struct nd_srq *srq, void *context,
			uint32_t receive_depth, uint32_t initiator_depth,
			uint32_t max_receive_sge, uint32_t max_initiator_sge,
			uint32_t inline_size, struct nd_qp **out);
/* Progress a QP's socket; adapter locked. */
void tcp_qp_event(struct tcp_qp *qp, uint32_t events);
/* Ends the connection: first in-flight request gets `status`, the rest and
 * every receive ND_CANCELED; the connector hears of it. Adapter locked. */
void tcp_qp_break(struct tcp_qp *qp, nd_status status);
/* A local Disconnect (or release, or Flush): acknowledges what the peer's
 * Sends and Writes placed here, then breaks with ND_CANCELED. */
void tcp_qp_disconnect(struct tcp_qp *qp);
/* Takes ownership of fd, connected to `peer`, as the QP's connection;
 * adapter locked. */
bool tcp_qp_attach(struct tcp_qp *qp, int fd, enum tcp_qp_state state,
		   const struct sockaddr *peer);
/* Pushes pending frames; adapter locked. */
void tcp_qp_tx(struct tcp_qp *qp);
/* The QP's deadlines (RNR wait, the RTU after Accept); adapter locked. */
void tcp_qp_timer(struct tcp_qp *qp, uint64_t now);
/* Ends a connection that owes or is owed something and has moved nothing
 * for the adapter's liveness_ms. Adapter locked. */
void tcp_qp_liveness(struct tcp_qp *qp, uint64_t now);
/* Moves whatever the QP's socket has, from an application's poll; with
 * `own`, the progress thread stops watching the socket for data. */
void tcp_qp_drive(struct tcp_qp *qp, bool own);
/* The progress thread watches the QP's socket again. Adapter locked. */
void tcp_qp_undrive(struct tcp_qp *qp);
/* From get_results on an empty CQ: if the adapter lock is free, drive the
 * sockets of the QPs completing to cq. */
void tcp_adapter_drive(struct tcp_adapter *ad, struct tcp_cq *cq);
/* Before a CQ notification: hand cq's QPs back to the progress thread. */
void tcp_adapter_undrive(struct tcp_adapter *ad, struct tcp_cq *cq);
/* Back to unconnected after a failed connect (receives stay posted). */
void tcp_qp_detach(struct tcp_qp *qp);
nd_status tcp_check_recv_sges(struct tcp_adapter *ad, const struct nd_sge *sge,
			      uint32_t nsge, uint32_t *len);
/* The SRQ got a receive: resume QPs waiting on it. Adapter locked. */
void tcp_srq_resume(struct tcp_srq *srq);
/* Sends a small control frame synchronously on an idle stream. */
bool tcp_send_ctrl(int fd, uint8_t type, uint64_t addr, uint32_t token,
		   const void *pdata, uint32_t len);

/* tcp_cm.c */
nd_status tcp_create_connector(struct nd_adapter_base *a,
			       struct nd_connector **out);
nd_status tcp_create_listener(struct nd_adapter_base *a,
			      struct nd_listener **out);
void tcp_listener_event(struct tcp_listener *l, uint32_t events);
/* The listener's deadlines, from the adapter's timer; adapter locked. */
void tcp_listener_timer(struct tcp_listener *l, uint64_t now);
void tcp_request_event(struct tcp_request *r, uint32_t events);
/* CM frames that arrive on a QP's socket; adapter locked. */
void tcp_conn_on_reply(struct tcp_connector *c, const struct tcp_hdr *h,
		       const uint8_t *pdata, uint32_t len);
void tcp_conn_on_rtu(struct tcp_connector *c);
void tcp_conn_on_socket_connected(struct tcp_connector *c, int err);
/* The QP's connection ended (peer, error or local). */
void tcp_conn_on_break(struct tcp_connector *c, nd_status status);

/* Closes a connection's socket so that its TIME_WAIT does not keep its
 * local address from a later Bind (tcp_cm.c, bind_exclusive). */
void tcp_close_reusable(int fd);

extern const struct tcp_wire_limits tcp_limits;

#endif
