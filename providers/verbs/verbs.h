/* SPDX-License-Identifier: MIT */
/*
 * The verbs provider: InfiniBand, RoCE and iWARP on libibverbs + librdmacm.
 *
 * One adapter per ibv device (its own ibv_context and one PD). Every
 * adapter runs one progress thread that sleeps in epoll on the adapter's
 * rdma_cm event channel, its completion channel (shared by all its CQs), the
 * device's async-event fd and a wake-up eventfd; it completes CM requests and
 * CQ/SRQ notifications. The data path never goes through it.
 *
 * Locking: a->cm_lock guards every connector and listener field and the
 * QP <-> connector link; it is taken before the core's engine lock (nd_ov_*).
 * A CQ's lock guards its look-ahead buffer and its arming; an SRQ's lock its
 * arming. The post/poll calls take no lock of ours.
 */
#ifndef ND_PROVIDERS_VERBS_H
#define ND_PROVIDERS_VERBS_H

#include <netdirect/nd_provider.h>
#include <netdirect/nd_util.h>

#include <infiniband/verbs.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stdint.h>

#define VERBS_LOG "verbs"

extern const struct nd_provider verbs_provider;

/* ---------------------------------------------------------------------------
 * Per-transport capabilities, consulted when objects are created.
 */
enum verbs_transport_kind {
	VERBS_TP_IB = 0,
	VERBS_TP_ROCE = 1,
	VERBS_TP_IWARP = 2,
};

struct verbs_transport {
	const char *name;
	enum verbs_transport_kind kind;
	/* QP RTR/RTS transitions are done by the kernel CM (iWARP). */
	bool cm_moves_qp;
	/* The active side gets CONNECT_RESPONSE and must rdma_establish;
	 * otherwise ESTABLISHED arrives directly (iWARP's MPA exchange). */
	bool connect_response;
	/* The active side must send first (MPA without peer-to-peer RTR). */
	bool active_sends_first;
	/* An RDMA Read sink is written remotely (iWARP tagged writes). */
	bool read_sink_remote_write;
	/* A stream that breaks under a request in progress completes it
	 * LOC_QP_OP_ERR (send queue) or GENERAL_ERR (iWARP, siw): the
	 * connection was aborted, not a local failure. */
	bool broken_stream_errors;
	/* A Read completes when its response has arrived, which can be after
	 * later Sends and Writes have completed (siw): requests posted behind
	 * an outstanding Read are fenced so completions stay in order. */
	bool reads_complete_late;
	/* A request queued behind one that a broken stream cut can be left
	 * without any completion (siw): after VERBS_STRAGGLER_MS in ERR and
	 * a poll that found the CQ empty, the provider completes it. */
	bool flush_may_lose;
	/* Read SGEs the transport allows (iWARP: one tagged sink buffer). */
	uint32_t max_read_sge;
	/* Private data: connect (REQ/MPA request), accept and reject. */
	uint32_t max_caller_data;
	uint32_t max_callee_data;
	/* rdma_connect may block for the TCP handshake (siw on Linux 6.1
	 * connects its socket synchronously, for the kernel's SYN retries:
	 * about two minutes to a silent address). It runs on a worker
	 * thread of its own, bounded by VERBS_CONNECT_MS; IB/RoCE's only
	 * sends a CM REQ and stays on the progress thread. */
	bool connect_blocks;
};

/* ---------------------------------------------------------------------------
 * Work-request slots: wr_id is a pointer to one of these.
 */
#define VERBS_SLOT_SWALLOW 0x1u /* forced-signaled silent request */
/* An SRQ's slot (free it, count it); without: a QP ring's (advance *tail) */
#define VERBS_SLOT_SRQ	   0x2u

struct verbs_slot {
	/* In nd_result's order: a completion copies the pair at once. */
	void *qp_ctx;	/* QP context (ring slots) */
	void *ctx;	/* request_context */
	uint32_t *tail; /* ring: tail counter; SRQ: completed count */
	uint32_t seq;	/* ring: this request's sequence number */
	uint8_t type;	/* enum nd_request_type */
	uint8_t flags;	/* VERBS_SLOT_*: any set takes the slow path */
	uint8_t busy;	/* SRQ slot in use */
	union {
		struct verbs_srq *srq;	 /* SRQ slots */
		struct verbs_ring *ring; /* ring slots */
	};
};

/*
 * A QP's slot rings. It outlives the QP: completions of a released QP may
 * still be polled, so the CQs keep it until they are destroyed.
 */
struct verbs_ring {
	uint32_t refs; /* CQs holding it after the QP is gone */
	uint32_t sq_tail __attribute__((aligned(64)));
	/* The QP is in error: posts complete ND_CANCELED in software (some
	 * devices lose requests posted in ERR). Set by the poller on an error
	 * completion and by the provider when it moves the QP to ERR. */
	uint32_t dead;
	uint32_t rq_tail __attribute__((aligned(64)));
	struct verbs_slot *sq;
	struct verbs_slot *rq;
	uint32_t sq_mask, rq_mask;
	/* Some request was completed in software (verbs_ring_cancel) while
	 * the device may still complete it: a completion may name the ring
	 * after every request is accounted for. Atomic (set under either
	 * CQ's lock). */
	uint32_t soft_cancelled;
	/* A completion said the transport gave up (retries exhausted): the
	 * progress thread ends the connection of the QP that owns this ring,
	 * not of a later QP given the same number. Atomic. */
	uint32_t transport_broken;
};

struct verbs_grave {
	struct verbs_grave *next;
	struct verbs_ring *ring;
};

/* ---------------------------------------------------------------------------
 * Objects
 */
struct verbs_qpn_entry {
	uint32_t qpn;
	uint32_t used;
	void *ctx;
	struct verbs_qp *qp; /* valid under qpn_lock */
};

/* QPs whose transport gave up (retries exhausted): their connections are
 * broken. The poller records them; the progress thread ends the
 * connections (it may take the CM lock, the poller may not). */
#define VERBS_BROKEN_MAX 32

struct verbs_adapter {
	struct nd_adapter_base base;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_comp_channel *comp_ch;
	struct rdma_event_channel *cm_ch;
	const struct verbs_transport *tp;
	uint64_t guid;
	uint8_t port;
	bool has_mw;
	bool cq_resize;
	bool cq_ex;
	/* Send queues post through ibv_wr_* (extended QP), which builds the
	 * device's work request directly instead of converting an
	 * ibv_send_wr: the verbs send path design.md asks for. */
	uint64_t qp_ex_ops; /* IBV_QP_EX_WITH_* to create QPs with; 0: none */
	bool srq_resize;
	bool zero_sge_quirk;   /* leave empty SGEs out (siw) */
	bool solicited_as_any; /* no solicited-only CQ events (siw) */
	bool in_order;	       /* RDMA data placed in order (rxe, siw) */
	uint32_t max_send_sge;
	uint32_t max_recv_sge;
	uint32_t max_srq_sge;
	uint32_t max_inline;
	uint32_t max_msg;

	/* progress thread */
	pthread_t thread;
	bool thread_started;
	int epfd;
	int wakefd;
	bool stop;
	bool destroy_in_thread;

	pthread_mutex_t cm_lock;
	struct rdma_cm_id **doomed; /* ids the progress thread destroys */
	unsigned ndoomed, doomed_cap;
	/* QPs moved to ERR whose device may never complete some requests
	 * (flush_may_lose): checked by the progress thread. Under cm_lock. */
	struct verbs_qp *stragglers;
	/* Connect attempts whose worker is inside rdma_connect
	 * (connect_blocks): their deadlines are checked by the progress
	 * thread. Under cm_lock. */
	struct verbs_attempt *attempts;
	/* Connectors whose Accept waits for the peer's CompleteConnect:
	 * their deadlines too. Under cm_lock. */
	struct verbs_conn *accepting;

	pthread_mutex_t broken_lock; /* a leaf: nothing is taken under it */
	uint32_t broken[VERBS_BROKEN_MAX];
	uint32_t nbroken;

	/* qp_num -> QP and its context (SRQ completions carry only the QP
	 * number; so does a broken transport) */
	pthread_rwlock_t qpn_lock;
	struct verbs_qpn_entry *qpn;
	uint32_t qpn_cap; /* power of two */
	uint32_t qpn_count;
	uint32_t qpn_tombstones; /* deleted slots; probes stop only at empty */
};

#define VERBS_LA_MAX 16

/*
 * A software completion. One that holds a slot of a QP's queue (tail
 * non-NULL) is reported only once every earlier request of that queue has
 * been (*tail == seq), and moves the tail past itself.
 */
struct verbs_soft {
	struct nd_result r;
	uint32_t *tail;
	uint32_t seq;
};

struct verbs_cq {
	struct nd_cq_base base;
	struct verbs_adapter *ad;
	struct ibv_cq *cq;
	struct ibv_cq_ex *cqx; /* non-NULL: polled with ibv_start_poll */
	uint32_t la_n;	       /* look-ahead results waiting (hint unlocked) */
	uint32_t la_head;
	struct nd_result la[VERBS_LA_MAX];
	pthread_mutex_t lock;
	struct verbs_grave *graves;
	uint32_t events_unacked;
	/* Software completions (requests posted to a dead QP, requests the
	 * device lost), reported after what the device has; under lock. */
	uint32_t soft_n; /* hint unlocked */
	uint32_t soft_cap;
	struct verbs_soft *soft;
	/* Set by a poll that found the device CQ empty; cleared by the
	 * progress thread (verbs_reap_stragglers). Relaxed atomics. */
	uint32_t polled_empty;
	bool overrun; /* the device lost a completion (CQ full); under lock */
};

struct verbs_mr {
	struct nd_mr_base base;
	struct verbs_adapter *ad;
	struct ibv_mr *mr;
	int access;
};

struct verbs_mw {
	struct nd_mw_base base;
	struct verbs_adapter *ad;
	struct ibv_mw *mw;
	struct verbs_mr *mr; /* referenced: the region of the last bind */
	uint32_t rkey;
	bool bound;
};

struct verbs_srq {
	struct nd_srq_base base;
	struct verbs_adapter *ad;
	struct ibv_srq *srq;
	uint32_t max_sge;
	uint32_t depth;	    /* ND depth (<= capacity) */
	uint32_t cap;	    /* the device queue's size */
	uint32_t posted;    /* atomic */
	uint32_t completed; /* atomic, by pollers */
	uint32_t hint;
	uint32_t nslots;
	struct verbs_slot *slots;
	void **old_slots; /* slot arrays replaced by a resize */
	unsigned nold;
	uint32_t threshold;
	pthread_mutex_t lock;
};

enum verbs_qp_state {
	VQP_INIT = 0,  /* receives may be posted */
	VQP_LINKED,    /* a connector is connecting it */
	VQP_CONNECTED, /* RTS */
	VQP_DEAD,      /* error / flushed after a connection */
	VQP_FLUSHED,   /* flushed before any connection */
};

struct verbs_qp {
	struct nd_qp_base base;
	/* fast path, read-mostly */
	struct ibv_qp *qp;
	struct ibv_qp_ex *qpx; /* the send queue's ibv_wr_* API, or NULL */
	struct verbs_ring *ring;
	uint32_t connected; /* send/read/write/bind/invalidate allowed */
	uint32_t sq_depth;
	uint32_t rq_depth;
	uint32_t sq_mask;
	uint32_t rq_mask;
	uint32_t max_send_sge;
	uint32_t max_recv_sge;
	uint32_t max_read_sge;
	uint32_t max_inline;
	uint32_t max_msg;
	uint32_t sq_head;
	uint32_t rq_head;
	uint32_t unsignaled;
	uint32_t fence_reads; /* the transport's reads_complete_late */
	uint32_t last_read;   /* sq_head after the last Read posted */
	/* slow path */
	struct verbs_adapter *ad;
	struct verbs_cq *scq, *rcq;
	struct verbs_srq *srq;
	struct verbs_conn *conn; /* under cm_lock */
	int state;		 /* enum verbs_qp_state, under cm_lock */
	/* On the adapter's straggler list (under cm_lock). */
	struct verbs_qp *straggler_next;
	uint64_t straggler_due; /* ms; 0: not listed */
	bool straggler_armed;	/* the CQs' polled_empty were cleared */
	bool closed;		/* released by the application */
};

enum verbs_conn_state {
	VC_IDLE = 0,
	VC_BOUND,
	VC_RESOLVING,  /* address / route */
	VC_CONNECTING, /* rdma_connect sent */
	VC_REPLIED,    /* active: peer accepted, CompleteConnect next */
	VC_REQUEST,    /* passive: request received */
	VC_ACCEPTING,  /* passive: accepted, waiting for ESTABLISHED */
	VC_CONNECTED,
	VC_DISCONNECTING, /* local Disconnect sent */
	VC_DISCONNECTED,
	VC_FAILED,
	VC_CLOSED,
};

/* Overlapped kinds of a connector. */
enum {
	VK_CONNECT = 1,
	VK_ACCEPT = 2,
	VK_NOTIFY_DISC = 3,
	VK_DISCONNECT = 4,
};

#define VERBS_PDATA_MAX 256

struct verbs_conn {
	struct nd_connector_base base;
	struct verbs_adapter *ad;
	struct rdma_cm_id *id;
	int state;
	bool active;
	bool iw_established;   /* iWARP: the QP is RTS since the reply */
	bool app_disconnected; /* the application called Disconnect */
	struct verbs_qp *qp;   /* referenced while linked */
	/* The QP last unlinked, still referenced until the connector goes or
	 * unlinks another: a QP handle stays valid while its connector does
	 * (as on tcp), even after the connection ended. */
	struct verbs_qp *held;
	uint32_t in_limit, out_limit;
	uint32_t peer_in, peer_out; /* as seen here: peer_out = our inbound */
	uint32_t my_plen;
	uint32_t peer_plen;
	bool has_peer_data;
	uint8_t my_pdata[VERBS_PDATA_MAX];
	uint8_t peer_pdata[VERBS_PDATA_MAX];
	/* The attempt whose worker is inside rdma_connect on `id`, if any:
	 * the id may not be destroyed before that call returns. */
	struct verbs_attempt *attempt;
	/* On the adapter's accepting list while an Accept waits for the
	 * peer's CompleteConnect (under cm_lock); 0: not listed. */
	struct verbs_conn *accept_next;
	uint64_t accept_due; /* ms, CLOCK_MONOTONIC */
};

struct verbs_req {
	struct verbs_req *next;
	struct rdma_cm_id *id;
	uint32_t plen;
	uint32_t peer_in, peer_out;
	uint8_t pdata[VERBS_PDATA_MAX];
};

enum verbs_listener_state {
	VL_IDLE = 0,
	VL_BOUND,
	VL_LISTENING,
	VL_CLOSED,
};

struct verbs_listener {
	struct nd_listener_base base;
	struct verbs_adapter *ad;
	struct rdma_cm_id *id;
	int state;
	struct verbs_req *backlog, *backlog_tail;
};

/* ---------------------------------------------------------------------------
 * Shared functions
 */

/* The status of a device that refused to create an object (CQ, QP, SRQ)
 * whose arguments the core already checked. */
nd_status verbs_create_status(int err);
/* Queue a cm_id for destruction by the progress thread. cm_lock held. */
void verbs_doom_id(struct verbs_adapter *a, struct rdma_cm_id *id);

/* QP number -> QP context (SRQ completions). */
void verbs_qpn_add(struct verbs_adapter *a, uint32_t qpn, void *ctx,
		   struct verbs_qp *qp);
void verbs_qpn_del(struct verbs_adapter *a, uint32_t qpn);
void *verbs_qpn_lookup(struct verbs_adapter *a, uint32_t qpn);
struct verbs_conn *verbs_qpn_conn(struct verbs_adapter *a, uint32_t qpn);
void verbs_transport_broken(struct verbs_adapter *a, uint32_t qpn);
void verbs_cm_reap_broken(struct verbs_adapter *a);

nd_status verbs_create_cq(struct nd_adapter_base *ab, uint32_t depth,
			  uint16_t group, uint64_t affinity,
			  struct nd_cq **out);
void verbs_cq_event(struct verbs_adapter *a);
/* The device reported the CQ full (IBV_EVENT_CQ_ERR). */
void verbs_cq_overrun(struct verbs_cq *cq);
void verbs_ring_free(struct verbs_ring *ring);
void verbs_cq_retire_ring(struct verbs_cq *cq, struct verbs_ring *ring);
/* Completes ND_CANCELED, in order, the requests of one side of a ring from
 * its tail up to `head`, and moves the tail there. cq: that side's CQ.
 * Returns how many it cancelled. */
uint32_t verbs_ring_cancel(struct verbs_cq *cq, struct verbs_ring *ring,
			   struct verbs_slot *slots, uint32_t *tail,
			   uint32_t head);
/* Queues a software completion (cq->lock may be held). tail: NULL, or the
 * queue tail that must reach seq first (struct verbs_soft). */
nd_status verbs_cq_soft_complete(struct verbs_cq *cq, void *qp_ctx, void *ctx,
				 uint32_t type, nd_status status,
				 uint32_t *tail, uint32_t seq);

nd_status verbs_create_mr(struct nd_adapter_base *ab, struct nd_mr **out);
nd_status verbs_create_mw(struct nd_adapter_base *ab, struct nd_mw **out);

nd_status verbs_create_srq(struct nd_adapter_base *ab, uint32_t depth,
			   uint32_t max_sge, uint32_t threshold, uint16_t group,
			   uint64_t affinity, struct nd_srq **out);
void verbs_srq_limit_event(struct verbs_srq *srq);
nd_status verbs_create_qp(struct nd_adapter_base *ab, struct nd_cq *rcq,
			  struct nd_cq *scq, struct nd_srq *srq, void *context,
			  uint32_t rq_depth, uint32_t sq_depth,
			  uint32_t max_recv_sge, uint32_t max_send_sge,
			  uint32_t inline_size, struct nd_qp **out);
/* Moves the QP to ERR (flush). */
void verbs_qp_to_error(struct verbs_qp *qp);
/* Progress thread: completes what devices left without a completion
 * (flush_may_lose). Returns the epoll timeout it needs (ms, -1: none). */
int verbs_reap_stragglers(struct verbs_adapter *a);
/* QP transitions driven by the connector (cm_lock held). */
int verbs_qp_prepare(struct verbs_qp *qp, struct rdma_cm_id *id);
int verbs_qp_rtr_rts(struct verbs_qp *qp, struct rdma_cm_id *id, uint32_t rd_in,
		     uint32_t rd_out);

nd_status verbs_create_connector(struct nd_adapter_base *ab,
				 struct nd_connector **out);
nd_status verbs_create_listener(struct nd_adapter_base *ab,
				struct nd_listener **out);
void verbs_cm_event(struct verbs_adapter *a);
/* Progress thread: ends the Connects whose rdma_connect worker, and the
 * Accepts whose peer's CompleteConnect, is past its deadline
 * (ND_IO_TIMEOUT). Returns the epoll timeout it needs (ms, -1: none). */
int verbs_cm_expire(struct verbs_adapter *a);
/* QP released while linked: implicit disconnect. cm_lock held. */
void verbs_conn_qp_closed(struct verbs_conn *c);

static inline struct verbs_adapter *verbs_adapter_of(struct nd_adapter_base *b)
{
	return container_of(b, struct verbs_adapter, base);
}

#endif
