/* SPDX-License-Identifier: MIT */
/*
 * Completion queues: an ibv CQ on the adapter's completion channel.
 *
 * get_results converts each work completion straight into the caller's
 * nd_result array (one pass), through ibv_start_poll/ibv_next_poll when the
 * device has extended CQs, else ibv_poll_cq in small batches; the choice is
 * made when the CQ is created. A Notify peeks by polling into a small
 * look-ahead buffer of converted results that get_results drains first.
 */
#include "verbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Completion status -> ND status (spec §21). */
static const nd_status verbs_wc_status[] = {
    [IBV_WC_SUCCESS] = ND_SUCCESS,
    [IBV_WC_LOC_LEN_ERR] = ND_DATA_OVERRUN,
    [IBV_WC_LOC_QP_OP_ERR] = ND_INTERNAL_ERROR,
    [IBV_WC_LOC_EEC_OP_ERR] = ND_INTERNAL_ERROR,
    [IBV_WC_LOC_PROT_ERR] = ND_ACCESS_VIOLATION,
    [IBV_WC_WR_FLUSH_ERR] = ND_CANCELED,
    [IBV_WC_MW_BIND_ERR] = ND_ACCESS_VIOLATION,
    [IBV_WC_BAD_RESP_ERR] = ND_REMOTE_ERROR,
    [IBV_WC_LOC_ACCESS_ERR] = ND_ACCESS_VIOLATION,
    [IBV_WC_REM_INV_REQ_ERR] = ND_REMOTE_ERROR,
    [IBV_WC_REM_ACCESS_ERR] = ND_ACCESS_VIOLATION,
    [IBV_WC_REM_OP_ERR] = ND_REMOTE_ERROR,
    [IBV_WC_RETRY_EXC_ERR] = ND_IO_TIMEOUT,
    [IBV_WC_RNR_RETRY_EXC_ERR] = ND_IO_TIMEOUT,
    [IBV_WC_LOC_RDD_VIOL_ERR] = ND_ACCESS_VIOLATION,
    [IBV_WC_REM_INV_RD_REQ_ERR] = ND_REMOTE_ERROR,
    [IBV_WC_REM_ABORT_ERR] = ND_REMOTE_ERROR,
    [IBV_WC_INV_EECN_ERR] = ND_INTERNAL_ERROR,
    [IBV_WC_INV_EEC_STATE_ERR] = ND_INTERNAL_ERROR,
    [IBV_WC_FATAL_ERR] = ND_INTERNAL_ERROR,
    [IBV_WC_RESP_TIMEOUT_ERR] = ND_IO_TIMEOUT,
    [IBV_WC_GENERAL_ERR] = ND_INTERNAL_ERROR,
};

static nd_status verbs_map_error(const struct verbs_transport *tp,
				 uint32_t status, uint32_t type)
{
	nd_status st = ND_INTERNAL_ERROR;

	if (status < sizeof(verbs_wc_status) / sizeof(verbs_wc_status[0]) &&
	    verbs_wc_status[status])
		st = verbs_wc_status[status];
	/* A send the receiver could not place (its buffer was too small):
	 * IB reports an invalid request, rxe a remote operational error. */
	if ((status == IBV_WC_REM_INV_REQ_ERR || status == IBV_WC_REM_OP_ERR) &&
	    type == ND_REQUEST_TYPE_SEND)
		st = ND_DATA_ERROR;
	if (status == IBV_WC_LOC_QP_OP_ERR && type == ND_REQUEST_TYPE_RECEIVE)
		st = ND_DATA_OVERRUN; /* rxe's report of the same */
	if (tp->broken_stream_errors && ((status == IBV_WC_LOC_QP_OP_ERR &&
					  type != ND_REQUEST_TYPE_RECEIVE) ||
					 status == IBV_WC_GENERAL_ERR))
		st = ND_CONNECTION_ABORTED;
	if (type == ND_REQUEST_TYPE_INVALIDATE && st != ND_CANCELED)
		st = ND_INVALID_DEVICE_REQUEST;
	ND_DEBUG(VERBS_LOG, "completion error %s (%u) on request type %u",
		 ibv_wc_status_str(status), status, type);
	return st;
}

/* The one way an nd_result is written. */
static inline __attribute__((always_inline)) void
verbs_result(struct nd_result *r, nd_status status, uint32_t bytes,
	     void *qp_ctx, void *ctx, uint32_t type)
{
	r->status = status;
	r->bytes_transferred = bytes;
	r->qp_context = qp_ctx;
	r->request_context = ctx;
	r->request_type = (int32_t)type;
	r->reserved = 0;
}

static nd_status verbs_cq_soft_push(struct verbs_cq *cq, void *qp_ctx,
				    void *ctx, uint32_t type, nd_status status,
				    uint32_t bytes, uint32_t *tail,
				    uint32_t seq);

uint32_t verbs_ring_cancel(struct verbs_cq *cq, struct verbs_ring *ring,
			   struct verbs_slot *slots, uint32_t *tail,
			   uint32_t head)
{
	uint32_t mask = slots == ring->rq ? ring->rq_mask : ring->sq_mask;
	uint32_t t = __atomic_load_n(tail, __ATOMIC_ACQUIRE), n = 0;

	for (; (int32_t)(head - t) > 0; t++, n++) {
		struct verbs_slot *s = &slots[t & mask];
		verbs_cq_soft_complete(cq, s->qp_ctx, s->ctx, s->type,
				       ND_CANCELED, NULL, 0);
	}
	if (n)
		__atomic_store_n(&ring->soft_cancelled, 1, __ATOMIC_RELEASE);
	__atomic_store_n(tail, t, __ATOMIC_RELEASE);
	return n;
}

/*
 * A completion on a QP in error, from a device that may complete out of
 * order or not at all after an error (flush_may_lose: siw flushes queued
 * requests before the Reads in flight, and can lose one). Completions go
 * through the software list, in order: the requests before this one that
 * the device has not completed are cancelled first. Returns 0 (nothing
 * written to the caller's array now).
 */
static uint32_t verbs_cqe_in_order(struct verbs_cq *cq, struct verbs_slot *s,
				   uint32_t status, uint32_t byte_len)
{
	struct verbs_ring *ring = s->ring;
	struct verbs_slot *slots = s >= ring->rq ? ring->rq : ring->sq;
	uint32_t type = s->type;

	pthread_mutex_lock(&cq->lock);
	__atomic_store_n(&ring->dead, 1, __ATOMIC_RELEASE);
	if ((int32_t)(__atomic_load_n(s->tail, __ATOMIC_ACQUIRE) -
		      (s->seq + 1)) < 0) {
		verbs_ring_cancel(cq, ring, slots, s->tail, s->seq);
		if (status != IBV_WC_SUCCESS ||
		    !(s->flags & VERBS_SLOT_SWALLOW)) {
			bool ok = status == IBV_WC_SUCCESS;
			verbs_cq_soft_push(
			    cq, s->qp_ctx, s->ctx, type,
			    ok ? ND_SUCCESS
			       : verbs_map_error(cq->ad->tp, status, type),
			    ok ? byte_len : 0, NULL, 0);
		}
		__atomic_store_n(s->tail, s->seq + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&cq->lock);
	return 0;
}

/*
 * One work completion into *r. Returns 0 if it is swallowed (a silent
 * request the provider had to signal), else 1. The rare cases (errors,
 * SRQ receives, swallowed requests) are out of line so the common one is a
 * few loads and stores.
 */
static __attribute__((noinline)) uint32_t
verbs_cqe_slow(struct verbs_cq *cq, uint64_t wr_id, uint32_t status,
	       uint32_t byte_len, struct ibv_cq_ex *cx, uint32_t qpn,
	       struct nd_result *r)
{
	struct verbs_slot *s = (struct verbs_slot *)(uintptr_t)wr_id;
	void *ctx = s->ctx, *qp_ctx = s->qp_ctx;
	uint32_t type = s->type;
	uint8_t flags = s->flags;

	if (!(flags & VERBS_SLOT_SRQ)) {
		uint32_t tail = __atomic_load_n(s->tail, __ATOMIC_ACQUIRE);
		bool dead = __atomic_load_n(&s->ring->dead, __ATOMIC_ACQUIRE);

		/* A request completes once: a slot behind the tail was
		 * completed already (or cancelled by the provider). Nothing
		 * reuses it while the QP is in error. */
		if ((int32_t)(tail - (s->seq + 1)) >= 0) {
			ND_DEBUG(VERBS_LOG, "dropped a second completion (%s)",
				 ibv_wc_status_str(status));
			return 0;
		}
		if ((dead || status != IBV_WC_SUCCESS) &&
		    cq->ad->tp->flush_may_lose)
			return verbs_cqe_in_order(cq, s, status, byte_len);
		if (status != IBV_WC_SUCCESS)
			__atomic_store_n(&s->ring->dead, 1, __ATOMIC_RELEASE);
		__atomic_store_n(s->tail, s->seq + 1, __ATOMIC_RELEASE);
	} else {
		struct verbs_srq *srq = s->srq;
		if (cx)
			qpn = ibv_wc_read_qp_num(cx);
		qp_ctx = verbs_qpn_lookup(srq->ad, qpn);
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		__atomic_add_fetch(&srq->completed, 1, __ATOMIC_RELEASE);
	}
	if (!(flags & VERBS_SLOT_SRQ) && (status == IBV_WC_RETRY_EXC_ERR ||
					  status == IBV_WC_RNR_RETRY_EXC_ERR)) {
		__atomic_store_n(&s->ring->transport_broken, 1,
				 __ATOMIC_RELEASE);
		verbs_transport_broken(cq->ad,
				       cx ? ibv_wc_read_qp_num(cx) : qpn);
	}
	if (status == IBV_WC_SUCCESS && (flags & VERBS_SLOT_SWALLOW))
		return 0;
	verbs_result(r,
		     status == IBV_WC_SUCCESS
			 ? ND_SUCCESS
			 : verbs_map_error(cq->ad->tp, status, type),
		     byte_len, qp_ctx, ctx, type);
	return 1;
}

static inline __attribute__((always_inline)) uint32_t
verbs_cqe(struct verbs_cq *cq, uint64_t wr_id, uint32_t status,
	  uint32_t byte_len, struct ibv_cq_ex *cx, uint32_t qpn,
	  struct nd_result *r)
{
	struct verbs_slot *s = (struct verbs_slot *)(uintptr_t)wr_id;
	void *ctx, *qp_ctx;
	uint32_t type;

	/* The common case: success on a live QP's ring. */
	if (__builtin_expect(status | s->flags, 0) ||
	    __builtin_expect(__atomic_load_n(&s->ring->dead, __ATOMIC_RELAXED),
			     0))
		return verbs_cqe_slow(cq, wr_id, status, byte_len, cx, qpn, r);
	/* Read the slot before the tail frees it for the next post. */
	ctx = s->ctx;
	qp_ctx = s->qp_ctx;
	type = s->type;
	__atomic_store_n(s->tail, s->seq + 1, __ATOMIC_RELEASE);
	verbs_result(r, ND_SUCCESS, byte_len, qp_ctx, ctx, type);
	return 1;
}

/* A poll found the device CQ empty (verbs_reap_stragglers): written only
 * when it changes, so busy polling does not keep dirtying the line. */
static inline void verbs_note_empty(struct verbs_cq *cq)
{
	if (!__atomic_load_n(&cq->polled_empty, __ATOMIC_RELAXED))
		__atomic_store_n(&cq->polled_empty, 1, __ATOMIC_RELAXED);
}

static inline uint32_t verbs_poll_ex(struct verbs_cq *cq, struct nd_result *r,
				     uint32_t count)
{
	struct ibv_cq_ex *cx = cq->cqx;
	struct ibv_poll_cq_attr attr = {0};
	uint32_t n = 0;

	if (!count)
		return 0;
	if (ibv_start_poll(cx, &attr)) {
		verbs_note_empty(cq);
		return 0;
	}
	for (;;) {
		n += verbs_cqe(cq, cx->wr_id, cx->status,
			       ibv_wc_read_byte_len(cx), cx, 0, &r[n]);
		if (n == count || ibv_next_poll(cx))
			break;
	}
	ibv_end_poll(cx);
	return n;
}

#define VERBS_WC_BATCH 16

/* One batch: a caller asking for more than VERBS_WC_BATCH results gets at
 * most that many per call (GetResults may return fewer than asked). */
static inline __attribute__((always_inline)) uint32_t
verbs_poll_wc(struct verbs_cq *cq, struct nd_result *r, uint32_t count)
{
	struct ibv_wc wc[VERBS_WC_BATCH];
	int got = ibv_poll_cq(
	    cq->cq, count < VERBS_WC_BATCH ? (int)count : VERBS_WC_BATCH, wc);
	struct nd_result *out = r;

	if (__builtin_expect(got <= 0, 1)) {
		verbs_note_empty(cq);
		return 0;
	}
	for (int i = 0; i < got; i++)
		out += verbs_cqe(cq, wc[i].wr_id, wc[i].status, wc[i].byte_len,
				 NULL, wc[i].qp_num, out);
	return (uint32_t)(out - r);
}

static uint32_t verbs_poll(struct verbs_cq *cq, struct nd_result *r,
			   uint32_t count)
{
	return cq->cqx ? verbs_poll_ex(cq, r, count)
		       : verbs_poll_wc(cq, r, count);
}

/* 0: the software completion is due; > 0: earlier requests of its queue
 * are still to be reported; < 0: verbs_ring_cancel reported it already. */
static int32_t verbs_soft_due(const struct verbs_soft *e)
{
	if (!e->tail)
		return 0;
	return (int32_t)(e->seq - __atomic_load_n(e->tail, __ATOMIC_ACQUIRE));
}

/* Reports the software completions that are due, at most `room`, and keeps
 * the others in order. cq->lock held. */
static uint32_t verbs_soft_drain(struct verbs_cq *cq, struct nd_result *r,
				 uint32_t room)
{
	uint32_t n = 0, keep = 0;

	for (uint32_t i = 0; i < cq->soft_n; i++) {
		struct verbs_soft *e = &cq->soft[i];
		int32_t due = verbs_soft_due(e);

		if (due < 0)
			continue;
		if (due > 0 || n == room) {
			cq->soft[keep++] = *e;
			continue;
		}
		r[n++] = e->r;
		if (e->tail)
			__atomic_store_n(e->tail, e->seq + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&cq->soft_n, keep, __ATOMIC_RELAXED);
	return n;
}

/* A software completion is due now. cq->lock held. */
static bool verbs_soft_any_due(const struct verbs_cq *cq)
{
	for (uint32_t i = 0; i < cq->soft_n; i++)
		if (verbs_soft_due(&cq->soft[i]) == 0)
			return true;
	return false;
}

/* Drains the look-ahead buffer first, then the CQ, then what is due of the
 * software completions. */
static uint32_t verbs_get_results_slow(struct verbs_cq *cq, struct nd_result *r,
				       uint32_t count)
{
	uint32_t n = 0;

	pthread_mutex_lock(&cq->lock);
	while (cq->la_n && n < count) {
		r[n++] = cq->la[cq->la_head];
		cq->la_head = (cq->la_head + 1) % VERBS_LA_MAX;
		cq->la_n--;
	}
	if (n < count)
		n += verbs_poll(cq, r + n, count - n);
	if (cq->soft_n)
		n += verbs_soft_drain(cq, r + n, count - n);
	pthread_mutex_unlock(&cq->lock);
	return n;
}

nd_status verbs_cq_soft_complete(struct verbs_cq *cq, void *qp_ctx, void *ctx,
				 uint32_t type, nd_status status,
				 uint32_t *tail, uint32_t seq)
{
	return verbs_cq_soft_push(cq, qp_ctx, ctx, type, status, 0, tail, seq);
}

static nd_status verbs_cq_soft_push(struct verbs_cq *cq, void *qp_ctx,
				    void *ctx, uint32_t type, nd_status status,
				    uint32_t bytes, uint32_t *tail,
				    uint32_t seq)
{
	struct verbs_soft *e;

	pthread_mutex_lock(&cq->lock);
	if (cq->soft_n == cq->soft_cap) {
		uint32_t ncap = cq->soft_cap ? 2 * cq->soft_cap : 16;
		struct verbs_soft *n = realloc(cq->soft, ncap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&cq->lock);
			return ND_NO_MORE_ENTRIES;
		}
		cq->soft = n;
		cq->soft_cap = ncap;
	}
	e = &cq->soft[cq->soft_n];
	verbs_result(&e->r, status, bytes, qp_ctx, ctx, type);
	e->tail = tail;
	e->seq = seq;
	__atomic_store_n(&cq->soft_n, cq->soft_n + 1, __ATOMIC_RELEASE);
	/* One that waits is announced by the device's completion before it. */
	if (verbs_soft_due(e) == 0)
		nd_ov_finish_all(&cq->base.obj, 0, ND_SUCCESS);
	pthread_mutex_unlock(&cq->lock);
	return ND_SUCCESS;
}

static uint32_t verbs_get_results_ex(struct nd_cq *pub, struct nd_result *r,
				     uint32_t count)
{
	struct verbs_cq *cq = container_of(pub, struct verbs_cq, base.pub);

	if (__builtin_expect(__atomic_load_n(&cq->la_n, __ATOMIC_RELAXED) |
				 __atomic_load_n(&cq->soft_n, __ATOMIC_RELAXED),
			     0))
		return verbs_get_results_slow(cq, r, count);
	return verbs_poll_ex(cq, r, count);
}

static uint32_t verbs_get_results_wc(struct nd_cq *pub, struct nd_result *r,
				     uint32_t count)
{
	struct verbs_cq *cq = container_of(pub, struct verbs_cq, base.pub);

	if (__builtin_expect(__atomic_load_n(&cq->la_n, __ATOMIC_RELAXED) |
				 __atomic_load_n(&cq->soft_n, __ATOMIC_RELAXED),
			     0))
		return verbs_get_results_slow(cq, r, count);
	return verbs_poll_wc(cq, r, count);
}

static const struct nd_cq_fast_ops verbs_cq_fast_ex = {
    .get_results = verbs_get_results_ex,
};
static const struct nd_cq_fast_ops verbs_cq_fast_wc = {
    .get_results = verbs_get_results_wc,
};

/* True if a waiting look-ahead result satisfies a Notify of `type`. */
static bool verbs_la_satisfies(struct verbs_cq *cq, uint32_t type)
{
	if (verbs_soft_any_due(cq)) /* cancelled requests: errors */
		return true;
	if (type != ND_CQ_NOTIFY_ERRORS)
		return cq->la_n > 0;
	for (uint32_t i = 0; i < cq->la_n; i++)
		if (cq->la[(cq->la_head + i) % VERBS_LA_MAX].status !=
		    ND_SUCCESS)
			return true;
	return false;
}

/* Polls what fits into the look-ahead buffer. cq->lock held. */
static void verbs_la_fill(struct verbs_cq *cq)
{
	while (cq->la_n < VERBS_LA_MAX) {
		uint32_t tail = (cq->la_head + cq->la_n) % VERBS_LA_MAX;
		if (!verbs_poll(cq, &cq->la[tail], 1))
			break;
		__atomic_store_n(&cq->la_n, cq->la_n + 1, __ATOMIC_RELAXED);
	}
}

static nd_status verbs_cq_notify(struct nd_cq_base *b, uint32_t type,
				 struct nd_overlapped *ov)
{
	struct verbs_cq *cq = container_of(b, struct verbs_cq, base);
	int ret;

	pthread_mutex_lock(&cq->lock);
	if (cq->overrun) {
		pthread_mutex_unlock(&cq->lock);
		return ND_BUFFER_OVERFLOW;
	}
	if (verbs_la_satisfies(cq, type)) {
		pthread_mutex_unlock(&cq->lock);
		return ND_SUCCESS;
	}
	/* ERRORS: verbs has no errors-only arm; solicited-only also fires
	 * on an error completion. */
	ret = ibv_req_notify_cq(cq->cq, type != ND_CQ_NOTIFY_ANY &&
					    !cq->ad->solicited_as_any);
	if (ret) {
		pthread_mutex_unlock(&cq->lock);
		ND_ERR(VERBS_LOG, "ibv_req_notify_cq: %s", strerror(ret));
		return ND_INTERNAL_ERROR;
	}
	verbs_la_fill(cq);
	if (verbs_la_satisfies(cq, type)) {
		pthread_mutex_unlock(&cq->lock);
		return ND_SUCCESS;
	}
	nd_ov_begin(&cq->base.obj, ov, 0, NULL);
	pthread_mutex_unlock(&cq->lock);
	return ND_PENDING;
}

/* Progress thread: the completion channel is readable. */
void verbs_cq_event(struct verbs_adapter *a)
{
	struct ibv_cq *ibcq;
	void *ctx;

	while (!ibv_get_cq_event(a->comp_ch, &ibcq, &ctx)) {
		struct verbs_cq *cq = ctx;
		pthread_mutex_lock(&cq->lock);
		ND_DEBUG(VERBS_LOG, "CQ %p event", (void *)cq);
		nd_ov_finish_all(&cq->base.obj, 0, ND_SUCCESS);
		pthread_mutex_unlock(&cq->lock);
		ibv_ack_cq_events(ibcq, 1);
	}
}

/*
 * Progress thread: the device could not write a completion because the CQ
 * was full (IBV_EVENT_CQ_ERR). That completion is lost, so the CQ is
 * unusable (spec: Notify then fails ND_BUFFER_OVERFLOW); what it holds can
 * still be polled.
 */
void verbs_cq_overrun(struct verbs_cq *cq)
{
	pthread_mutex_lock(&cq->lock);
	if (!cq->overrun)
		ND_WARN(VERBS_LOG,
			"a completion queue overran: completions were lost "
			"(more requests outstanding than its depth)");
	cq->overrun = true;
	nd_ov_finish_all(&cq->base.obj, 0, ND_BUFFER_OVERFLOW);
	pthread_mutex_unlock(&cq->lock);
}

static nd_status verbs_cq_resize(struct nd_cq_base *b, uint32_t depth)
{
	struct verbs_cq *cq = container_of(b, struct verbs_cq, base);
	nd_status st = ND_SUCCESS;
	int ret;

	pthread_mutex_lock(&cq->lock);
	if (depth < cq->la_n + cq->soft_n) {
		st = ND_BUFFER_OVERFLOW;
	} else {
		ret = ibv_resize_cq(cq->cq, (int)depth);
		if (ret == EINVAL)
			st = ND_BUFFER_OVERFLOW; /* more entries than depth */
		else if (ret)
			st = nd_util_errno_status(ret);
	}
	pthread_mutex_unlock(&cq->lock);
	return st;
}

static const struct nd_cq_ops verbs_cq_ops_resize = {
    .resize = verbs_cq_resize,
    .notify = verbs_cq_notify,
};
static const struct nd_cq_ops verbs_cq_ops = {
    .resize = NULL,
    .notify = verbs_cq_notify,
};

void verbs_cq_retire_ring(struct verbs_cq *cq, struct verbs_ring *ring)
{
	struct verbs_grave *g = malloc(sizeof(*g));

	if (!g) {
		/* Leak rather than risk a stale completion's write. */
		ND_WARN(VERBS_LOG, "out of memory: keeping a QP ring");
		return;
	}
	g->ring = ring;
	pthread_mutex_lock(&cq->lock);
	g->next = cq->graves;
	cq->graves = g;
	pthread_mutex_unlock(&cq->lock);
}

static void verbs_cq_destroy(struct nd_object *obj)
{
	struct verbs_cq *cq = container_of(obj, struct verbs_cq, base.obj);
	struct verbs_grave *g, *next;
	int ret;

	ret = ibv_destroy_cq(cq->cq);
	if (ret)
		ND_ERR(VERBS_LOG, "ibv_destroy_cq: %s", strerror(ret));
	for (g = cq->graves; g; g = next) {
		next = g->next;
		if (!__atomic_sub_fetch(&g->ring->refs, 1, __ATOMIC_ACQ_REL))
			verbs_ring_free(g->ring);
		free(g);
	}
	pthread_mutex_destroy(&cq->lock);
	free(cq->soft);
	free(cq);
}

static const struct nd_object_ops verbs_cq_obj_ops = {
    .destroy = verbs_cq_destroy,
};

nd_status verbs_create_cq(struct nd_adapter_base *ab, uint32_t depth,
			  uint16_t group, uint64_t affinity, struct nd_cq **out)
{
	struct verbs_adapter *a = verbs_adapter_of(ab);
	struct verbs_cq *cq;
	int vec = 0;

	(void)group;
	if (affinity && a->ctx->num_comp_vectors > 1)
		vec = (__builtin_ctzll(affinity)) % a->ctx->num_comp_vectors;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return ND_NO_MEMORY;
	cq->ad = a;
	/* Recursive: a completion handled under it (look-ahead, slow
	 * path) may add software completions. */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&cq->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (a->cq_ex) {
		struct ibv_cq_init_attr_ex ca = {
		    .cqe = depth,
		    .cq_context = cq,
		    .channel = a->comp_ch,
		    .comp_vector = (uint32_t)vec,
		    .wc_flags = IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_QP_NUM,
		};
		cq->cqx = ibv_create_cq_ex(a->ctx, &ca);
		if (cq->cqx)
			cq->cq = ibv_cq_ex_to_cq(cq->cqx);
	}
	if (!cq->cq)
		cq->cq = ibv_create_cq(a->ctx, (int)depth, cq, a->comp_ch, vec);
	if (!cq->cq) {
		nd_status st = verbs_create_status(errno);
		ND_ERR(VERBS_LOG, "ibv_create_cq(%u): %s", depth,
		       strerror(errno));
		pthread_mutex_destroy(&cq->lock);
		free(cq);
		return st;
	}
	nd_cq_base_init(
	    &cq->base, cq->cqx ? &verbs_cq_fast_ex : &verbs_cq_fast_wc,
	    &verbs_cq_obj_ops,
	    a->cq_resize ? &verbs_cq_ops_resize : &verbs_cq_ops, ab);
	*out = &cq->base.pub;
	return ND_SUCCESS;
}
