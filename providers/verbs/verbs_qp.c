/* SPDX-License-Identifier: MIT */
/*
 * Queue pairs and shared receive queues, and the post calls.
 *
 * The provider creates RC QPs itself (independently of any cm_id) and moves
 * them to INIT at once so receives can be posted before connecting. Every
 * post hands the caller's nd_sge array to verbs as its ibv_sge array and
 * records the request in a slot whose address is the wr_id; the slot rings
 * also give the exact queue occupancy for ND_NO_MORE_ENTRIES.
 */
#include "verbs.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* struct nd_sge is handed to verbs as struct ibv_sge, unchanged. */
_Static_assert(sizeof(struct nd_sge) == sizeof(struct ibv_sge), "sge size");
_Static_assert(offsetof(struct nd_sge, buffer) ==
		   offsetof(struct ibv_sge, addr),
	       "sge addr");
_Static_assert(offsetof(struct nd_sge, buffer_length) ==
		   offsetof(struct ibv_sge, length),
	       "sge length");
_Static_assert(offsetof(struct nd_sge, memory_region_token) ==
		   offsetof(struct ibv_sge, lkey),
	       "sge lkey");
_Static_assert(sizeof(void *) == sizeof(uint64_t), "LP64");

/* The flag arithmetic below relies on these values. */
_Static_assert(IBV_SEND_FENCE == 1 && IBV_SEND_SIGNALED == 2 &&
		   IBV_SEND_SOLICITED == 4 && IBV_SEND_INLINE == 8,
	       "ibv send flags");
_Static_assert(ND_OP_FLAG_SILENT_SUCCESS == 1 && ND_OP_FLAG_READ_FENCE == 2 &&
		   ND_OP_FLAG_SEND_AND_SOLICIT_EVENT == 4 &&
		   ND_OP_FLAG_INLINE == 0x20,
	       "nd op flags");

/*
 * The post calls are one function per variant (compact or not), each with
 * its body inlined whole: a post is one frame around the device's post.
 */
#define VERBS_FAST static inline __attribute__((always_inline))

/*
 * ND op flags -> ibv send flags: one table load, indexed by the flag bits
 * as they are (the four that matter: silent success, read fence, solicit,
 * inline; nd.h refuses the others). A request is signaled unless it is
 * silent.
 */
#define VERBS_FLAG_MASK                                                        \
	(ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE |                   \
	 ND_OP_FLAG_SEND_AND_SOLICIT_EVENT | ND_OP_FLAG_INLINE)
#define VERBS_SEND_FLAGS(i)                                                    \
	(((i)&1u ? 0 : IBV_SEND_SIGNALED) | ((i)&2u ? IBV_SEND_FENCE : 0) |    \
	 ((i)&4u ? IBV_SEND_SOLICITED : 0) |                                   \
	 ((i)&0x20u ? IBV_SEND_INLINE : 0))
#define VERBS_SEND_FLAGS8(i)                                                   \
	VERBS_SEND_FLAGS(i), VERBS_SEND_FLAGS(i + 1), VERBS_SEND_FLAGS(i + 2), \
	    VERBS_SEND_FLAGS(i + 3), VERBS_SEND_FLAGS(i + 4),                  \
	    VERBS_SEND_FLAGS(i + 5), VERBS_SEND_FLAGS(i + 6),                  \
	    VERBS_SEND_FLAGS(i + 7)
static const uint8_t verbs_send_flag_table[VERBS_FLAG_MASK + 1] = {
    VERBS_SEND_FLAGS8(0),  VERBS_SEND_FLAGS8(8),  VERBS_SEND_FLAGS8(16),
    VERBS_SEND_FLAGS8(24), VERBS_SEND_FLAGS8(32),
};

VERBS_FAST unsigned verbs_send_flags(uint32_t f)
{
	return verbs_send_flag_table[f & VERBS_FLAG_MASK];
}

static inline struct verbs_qp *verbs_qp_of(struct nd_qp *pub)
{
	return container_of(pub, struct verbs_qp, base.pub);
}

VERBS_FAST uint64_t verbs_sge_bytes(const struct nd_sge *sge, uint32_t nsge)
{
	uint64_t bytes = 0;

	if (__builtin_expect(nsge == 1, 1)) /* the common case, no loop */
		return sge[0].buffer_length;
	for (uint32_t i = 0; i < nsge; i++)
		bytes += sge[i].buffer_length;
	return bytes;
}

/*
 * siw (Debian's 6.1) dereferences a NULL memory object for a zero-length
 * SGE: on such devices empty SGEs are left out of the list verbs gets.
 * They carry no data, so the request is the same.
 */
#define VERBS_SGE_TMP 64

static inline const struct nd_sge *
verbs_sge_compact(const struct nd_sge *sge, uint32_t *nsge, struct nd_sge *tmp)
{
	uint32_t n = 0, i;

	for (i = 0; i < *nsge; i++)
		if (!sge[i].buffer_length)
			break;
	if (i == *nsge || *nsge > VERBS_SGE_TMP)
		return sge;
	for (i = 0; i < *nsge; i++)
		if (sge[i].buffer_length)
			tmp[n++] = sge[i];
	*nsge = n;
	return tmp;
}

/* siw also refuses a receive without SGEs: give it one empty SGE. */
static inline const struct nd_sge *
verbs_rsge_compact(const struct nd_sge *sge, uint32_t *nsge, struct nd_sge *tmp)
{
	sge = verbs_sge_compact(sge, nsge, tmp);
	if (!*nsge) {
		tmp[0].buffer = tmp;
		tmp[0].buffer_length = 0;
		tmp[0].memory_region_token = 0;
		*nsge = 1;
		return tmp;
	}
	return sge;
}

static __attribute__((noinline, cold)) nd_status verbs_post_error(int ret)
{
	if (ret < 0) /* siw's library returns -errno */
		ret = -ret;
	switch (ret) {
	case ENOMEM:
		return ND_NO_MORE_ENTRIES;
	case EINVAL:
		return ND_INVALID_PARAMETER;
	default:
		ND_WARN(VERBS_LOG, "post: %s", strerror(ret));
		return nd_util_errno_status(ret);
	}
}

/*
 * The QP is in error: the request completes ND_CANCELED in software (some
 * devices lose requests posted in ERR). It takes the next slot of its queue
 * like any request and is reported once every earlier one has been: the
 * device may report its flushed requests a while after the QP went to
 * error, and one queue's completions stay in posting order. (The caller
 * checked that the queue has room; a QP on an SRQ never gets here with a
 * receive: it has no receive queue of its own.)
 */
static __attribute__((noinline, cold)) nd_status
verbs_post_dead(struct verbs_qp *qp, void *ctx, uint32_t type)
{
	bool recv = type == ND_REQUEST_TYPE_RECEIVE;
	struct verbs_cq *cq = recv ? qp->rcq : qp->scq;
	struct verbs_ring *r = qp->ring;
	uint32_t *head = recv ? &qp->rq_head : &qp->sq_head;
	uint32_t *tail = recv ? &r->rq_tail : &r->sq_tail;
	struct verbs_slot *s =
	    recv ? &r->rq[*head & r->rq_mask] : &r->sq[*head & r->sq_mask];
	nd_status st;

	pthread_mutex_lock(&cq->lock);
	/* Where the device may not follow (flush_may_lose), what is still
	 * outstanding completes first, in order. */
	if (qp->ad->tp->flush_may_lose)
		verbs_ring_cancel(cq, r, recv ? r->rq : r->sq, tail, *head);
	s->ctx = ctx;
	s->seq = *head;
	s->type = (uint8_t)type;
	s->flags = 0;
	st = verbs_cq_soft_complete(cq, qp->base.context, ctx, type,
				    ND_CANCELED, tail, *head);
	if (st == ND_SUCCESS)
		(*head)++;
	pthread_mutex_unlock(&cq->lock);
	return st;
}

/*
 * Claims the next send slot for a request: records it, returns it and the
 * ibv send flags in *send_flags. The caller posts the request with wr_id =
 * the slot and advances qp->sq_head once the device has taken it. NULL: the
 * post ends here with *st (queue full, or a dead QP completed it in
 * software).
 */
VERBS_FAST struct verbs_slot *verbs_sq_claim(struct verbs_qp *qp, void *ctx,
					     uint32_t type, uint32_t flags,
					     unsigned *send_flags,
					     nd_status *st)
{
	struct verbs_ring *ring = qp->ring;
	uint32_t head = qp->sq_head;
	/* Acquire: the poller has read the slot before moving the tail. */
	uint32_t tail = __atomic_load_n(&ring->sq_tail, __ATOMIC_ACQUIRE);
	struct verbs_slot *s;
	unsigned sf;

	if (__builtin_expect(head - tail >= qp->sq_depth, 0)) {
		*st = ND_NO_MORE_ENTRIES;
		return NULL;
	}
	if (__builtin_expect(__atomic_load_n(&ring->dead, __ATOMIC_RELAXED),
			     0)) {
		*st = verbs_post_dead(qp, ctx, type);
		return NULL;
	}
	s = &ring->sq[head & qp->sq_mask];
	s->ctx = ctx;
	s->seq = head;
	s->type = (uint8_t)type;
	s->flags = 0;
	sf = verbs_send_flags(flags);
	if (flags & ND_OP_FLAG_SILENT_SUCCESS) {
		/* Signal one in depth/2 silent requests so the ring moves;
		 * its success is not reported. */
		if (++qp->unsignaled >= (qp->sq_depth + 1) / 2) {
			sf |= IBV_SEND_SIGNALED;
			s->flags = VERBS_SLOT_SWALLOW;
			qp->unsignaled = 0;
		}
	} else {
		qp->unsignaled = 0;
	}
	/* Behind a Read that has not completed (reads_complete_late). */
	if (__builtin_expect(qp->fence_reads, 0) &&
	    type != ND_REQUEST_TYPE_READ && (int32_t)(qp->last_read - tail) > 0)
		sf |= IBV_SEND_FENCE;
	*send_flags = sf;
	return s;
}

/* Claims the next send slot, posts wr with ibv_post_send, advances the
 * head. */
VERBS_FAST nd_status verbs_post_sq(struct verbs_qp *qp, struct ibv_send_wr *wr,
				   void *ctx, uint32_t type, uint32_t flags)
{
	struct ibv_send_wr *bad;
	unsigned sf;
	nd_status st = ND_SUCCESS; /* set by verbs_sq_claim when it fails */
	struct verbs_slot *s = verbs_sq_claim(qp, ctx, type, flags, &sf, &st);
	int ret;

	if (__builtin_expect(!s, 0))
		return st;
	wr->send_flags = sf;
	wr->wr_id = (uintptr_t)s;
	wr->next = NULL;
	ret = ibv_post_send(qp->qp, wr, &bad);
	if (__builtin_expect(ret, 0))
		return verbs_post_error(ret);
	qp->sq_head++;
	return ND_SUCCESS;
}

/* Claims the next send slot and starts its request on the extended QP
 * (qp->qpx). NULL: the post ends here with *st. */
VERBS_FAST struct ibv_qp_ex *verbs_x_begin(struct verbs_qp *qp, void *ctx,
					   uint32_t type, uint32_t flags,
					   nd_status *st)
{
	struct ibv_qp_ex *x = qp->qpx;
	unsigned sf;
	struct verbs_slot *s = verbs_sq_claim(qp, ctx, type, flags, &sf, st);

	if (__builtin_expect(!s, 0))
		return NULL;
	/* Set before ibv_wr_start, which does not touch them (the builders
	 * read them): neither s nor sf has to live across its call. */
	x->wr_id = (uintptr_t)s;
	/* IBV_SEND_INLINE stays in wr_flags: rxe (rdma-core 44) reads the
	 * inline data only with it (it is not among the documented
	 * wr_flags, which the builders of other devices look at). */
	x->wr_flags = sf;
	ibv_wr_start(x);
	return x;
}

/* Hands the request built since verbs_x_begin to the device. */
VERBS_FAST nd_status verbs_x_end(struct verbs_qp *qp, struct ibv_qp_ex *x)
{
	int ret = ibv_wr_complete(x);

	if (__builtin_expect(ret, 0))
		return verbs_post_error(ret);
	qp->sq_head++;
	return ND_SUCCESS;
}

/*
 * A Send, Write or Read of at most one SGE through the extended QP's
 * builders. `type` is a constant at every call site, so the opcode choice
 * folds away.
 */
VERBS_FAST nd_status verbs_post_x(struct verbs_qp *qp, void *ctx, uint32_t type,
				  uint32_t flags, const struct nd_sge *sge,
				  uint32_t nsge, uint64_t raddr, uint32_t rkey)
{
	nd_status st = ND_SUCCESS; /* set by verbs_x_begin when it fails */
	struct ibv_qp_ex *x = verbs_x_begin(qp, ctx, type, flags, &st);

	if (__builtin_expect(!x, 0))
		return st;
	if (type == ND_REQUEST_TYPE_SEND)
		ibv_wr_send(x);
	else if (type == ND_REQUEST_TYPE_WRITE)
		ibv_wr_rdma_write(x, rkey, raddr);
	else
		ibv_wr_rdma_read(x, rkey, raddr);
	if (!nsge)
		ibv_wr_set_sge_list(x, 0, NULL);
	else if (flags & ND_OP_FLAG_INLINE)
		ibv_wr_set_inline_data(x, sge->buffer, sge->buffer_length);
	else
		ibv_wr_set_sge(x, sge->memory_region_token,
			       (uintptr_t)sge->buffer, sge->buffer_length);
	return verbs_x_end(qp, x);
}

/* Bind and Invalidate: through the builders on an extended QP, else
 * ibv_post_send. Not the fast path. */
static nd_status verbs_post_sq_any(struct verbs_qp *qp, struct ibv_send_wr *wr,
				   void *ctx, uint32_t type, uint32_t flags)
{
	nd_status st = ND_SUCCESS; /* set by verbs_x_begin when it fails */
	struct ibv_qp_ex *x;

	if (!qp->qpx)
		return verbs_post_sq(qp, wr, ctx, type, flags);
	x = verbs_x_begin(qp, ctx, type, flags, &st);
	if (!x)
		return st;
	if (wr->opcode == IBV_WR_BIND_MW)
		ibv_wr_bind_mw(x, wr->bind_mw.mw, wr->bind_mw.rkey,
			       &wr->bind_mw.bind_info);
	else
		ibv_wr_local_inv(x, wr->invalidate_rkey);
	return verbs_x_end(qp, x);
}

/* The synchronous checks of a Send, Write or Read (max_sge: the QP's
 * limit for the request type), with ND's statuses. */
VERBS_FAST nd_status verbs_check_out(const struct verbs_qp *qp,
				     const struct nd_sge *sge, uint32_t nsge,
				     uint32_t max_sge, uint32_t flags)
{
	uint64_t bytes;

	if (__builtin_expect(!qp->connected, 0))
		return ND_CONNECTION_INVALID;
	if (__builtin_expect(nsge > max_sge, 0))
		return ND_DATA_OVERRUN;
	bytes = verbs_sge_bytes(sge, nsge);
	if (__builtin_expect(bytes > qp->max_msg, 0))
		return ND_BUFFER_OVERFLOW;
	if (__builtin_expect(
		(flags & ND_OP_FLAG_INLINE) && bytes > qp->max_inline, 0))
		return ND_BUFFER_OVERFLOW;
	return ND_SUCCESS;
}

/*
 * How a QP's requests reach the device, fixed when it is created:
 * ibv_post_send, the same leaving out empty SGEs (zero_sge_quirk), or the
 * extended QP's builders. Requests of several SGEs take ibv_post_send on
 * an extended QP too: rxe (rdma-core 44) computes the length of a request
 * built with ibv_wr_set_sge_list / ibv_wr_set_inline_data_list wrong, and
 * one SGE is the case the builders make fast.
 */
enum verbs_post_mode {
	VERBS_POST_WR,
	VERBS_POST_WR_COMPACT,
	VERBS_POST_X,
};

/* A request through ibv_post_send. */
VERBS_FAST nd_status verbs_post_wr(struct verbs_qp *qp, void *ctx,
				   uint32_t type, const struct nd_sge *sge,
				   uint32_t nsge, uint64_t raddr, uint32_t rkey,
				   uint32_t flags, bool compact)
{
	struct nd_sge tmp[VERBS_SGE_TMP];
	struct ibv_send_wr wr;

	if (compact)
		sge = verbs_sge_compact(sge, &nsge, tmp);
	wr.sg_list = (struct ibv_sge *)(uintptr_t)sge;
	wr.num_sge = (int)nsge;
	wr.opcode = type == ND_REQUEST_TYPE_SEND    ? IBV_WR_SEND
		    : type == ND_REQUEST_TYPE_WRITE ? IBV_WR_RDMA_WRITE
						    : IBV_WR_RDMA_READ;
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	return verbs_post_sq(qp, &wr, ctx, type, flags);
}

VERBS_FAST nd_status verbs_post_out(struct verbs_qp *qp, void *ctx,
				    uint32_t type, const struct nd_sge *sge,
				    uint32_t nsge, uint64_t raddr,
				    uint32_t rkey, uint32_t flags,
				    enum verbs_post_mode mode)
{
	if (mode == VERBS_POST_X)
		return verbs_post_x(qp, ctx, type, flags, sge, nsge, raddr,
				    rkey);
	return verbs_post_wr(qp, ctx, type, sge, nsge, raddr, rkey, flags,
			     mode == VERBS_POST_WR_COMPACT);
}

static nd_status verbs_out_list(struct nd_qp *pub, void *ctx, uint32_t type,
				const struct nd_sge *sge, uint32_t nsge,
				uint64_t raddr, uint32_t rkey, uint32_t flags);

/* A Send, Write or Read: the checks, then the post in the QP's mode.
 * `type` and `mode` are constants at every call site. */
VERBS_FAST nd_status verbs_out_body(struct nd_qp *pub, void *ctx, uint32_t type,
				    const struct nd_sge *sge, uint32_t nsge,
				    uint64_t raddr, uint32_t rkey,
				    uint32_t flags, enum verbs_post_mode mode)
{
	struct verbs_qp *qp = verbs_qp_of(pub);
	bool read = type == ND_REQUEST_TYPE_READ;
	nd_status st;

	/* Several SGEs on an extended QP: ibv_post_send, out of line, so
	 * that the builders' path knows it has at most one SGE and keeps a
	 * small frame. */
	if (mode == VERBS_POST_X && __builtin_expect(nsge > 1, 0))
		return verbs_out_list(pub, ctx, type, sge, nsge, raddr, rkey,
				      flags);
	if (read) {
		/* A Read has no inline data, and its SGEs stay as they are
		 * (empty ones are left out only of what is sent). */
		flags &= ~ND_OP_FLAG_INLINE;
		if (mode == VERBS_POST_WR_COMPACT)
			mode = VERBS_POST_WR;
	}
	st = verbs_check_out(qp, sge, nsge,
			     read ? qp->max_read_sge : qp->max_send_sge, flags);
	if (__builtin_expect(st != ND_SUCCESS, 0))
		return st;
	st = verbs_post_out(qp, ctx, type, sge, nsge, raddr, rkey, flags, mode);
	if (read && st == ND_SUCCESS)
		qp->last_read = qp->sq_head;
	return st;
}

static __attribute__((noinline)) nd_status
verbs_out_list(struct nd_qp *pub, void *ctx, uint32_t type,
	       const struct nd_sge *sge, uint32_t nsge, uint64_t raddr,
	       uint32_t rkey, uint32_t flags)
{
	return verbs_out_body(pub, ctx, type, sge, nsge, raddr, rkey, flags,
			      VERBS_POST_WR);
}

/* One entry point per mode for each (the fast-ops tables below). */
#define VERBS_OUT_ENTRIES(suffix, mode)                                        \
	static nd_status verbs_qp_send##suffix(struct nd_qp *pub, void *ctx,   \
					       const struct nd_sge *sge,       \
					       uint32_t nsge, uint32_t flags)  \
	{                                                                      \
		return verbs_out_body(pub, ctx, ND_REQUEST_TYPE_SEND, sge,     \
				      nsge, 0, 0, flags, mode);                \
	}                                                                      \
	static nd_status verbs_qp_write##suffix(                               \
	    struct nd_qp *pub, void *ctx, const struct nd_sge *sge,            \
	    uint32_t nsge, uint64_t raddr, uint32_t rkey, uint32_t flags)      \
	{                                                                      \
		return verbs_out_body(pub, ctx, ND_REQUEST_TYPE_WRITE, sge,    \
				      nsge, raddr, rkey, flags, mode);         \
	}                                                                      \
	static nd_status verbs_qp_read##suffix(                                \
	    struct nd_qp *pub, void *ctx, const struct nd_sge *sge,            \
	    uint32_t nsge, uint64_t raddr, uint32_t rkey, uint32_t flags)      \
	{                                                                      \
		return verbs_out_body(pub, ctx, ND_REQUEST_TYPE_READ, sge,     \
				      nsge, raddr, rkey, flags, mode);         \
	}
VERBS_OUT_ENTRIES(, VERBS_POST_WR)
VERBS_OUT_ENTRIES(_q, VERBS_POST_WR_COMPACT)
VERBS_OUT_ENTRIES(_x, VERBS_POST_X)

static nd_status verbs_qp_bind(struct nd_qp *pub, void *ctx, struct nd_mr *mrp,
			       struct nd_mw *mwp, const void *buffer,
			       size_t length, uint32_t flags)
{
	struct verbs_qp *qp = verbs_qp_of(pub);
	struct verbs_mr *mr =
	    container_of(nd_mr_base_of(mrp), struct verbs_mr, base);
	struct verbs_mw *mw =
	    container_of(nd_mw_base_of(mwp), struct verbs_mw, base);
	struct ibv_send_wr wr;
	uint32_t rkey;
	uintptr_t lo, hi;
	nd_status st;

	if (__builtin_expect(!qp->connected, 0))
		return ND_CONNECTION_INVALID;
	if (!mr->mr || !(mr->access & IBV_ACCESS_MW_BIND))
		return ND_ACCESS_VIOLATION;
	if ((flags & ND_OP_FLAG_ALLOW_WRITE) &&
	    !(mr->access & IBV_ACCESS_LOCAL_WRITE))
		return ND_ACCESS_VIOLATION;
	lo = (uintptr_t)mr->mr->addr;
	hi = lo + mr->mr->length;
	if ((uintptr_t)buffer < lo || length > hi - (uintptr_t)buffer)
		return ND_ACCESS_VIOLATION;
	rkey = ibv_inc_rkey(mw->rkey);
	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_BIND_MW;
	wr.bind_mw.mw = mw->mw;
	wr.bind_mw.rkey = rkey;
	wr.bind_mw.bind_info.mr = mr->mr;
	wr.bind_mw.bind_info.addr = (uintptr_t)buffer;
	wr.bind_mw.bind_info.length = length;
	wr.bind_mw.bind_info.mw_access_flags =
	    ((flags & ND_OP_FLAG_ALLOW_READ) ? IBV_ACCESS_REMOTE_READ : 0) |
	    ((flags & ND_OP_FLAG_ALLOW_WRITE) ? IBV_ACCESS_REMOTE_WRITE : 0);
	st = verbs_post_sq_any(
	    qp, &wr, ctx, ND_REQUEST_TYPE_BIND,
	    flags & (ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE));
	if (st != ND_SUCCESS)
		return st;
	/* The new key is valid as soon as the bind is posted. */
	mw->rkey = rkey;
	mw->mw->rkey = rkey;
	__atomic_store_n(&mw->base.remote_token, rkey, __ATOMIC_RELEASE);
	if (mw->bound)
		__atomic_sub_fetch(&mw->mr->base.bound_windows, 1,
				   __ATOMIC_ACQ_REL);
	if (mw->mr != mr) {
		nd_object_retain(&mr->base.obj);
		if (mw->mr)
			nd_object_put(&mw->mr->base.obj);
		mw->mr = mr;
	}
	__atomic_add_fetch(&mr->base.bound_windows, 1, __ATOMIC_ACQ_REL);
	mw->bound = true;
	return ND_SUCCESS;
}

static nd_status verbs_qp_invalidate(struct nd_qp *pub, void *ctx,
				     struct nd_mw *mwp, uint32_t flags)
{
	struct verbs_qp *qp = verbs_qp_of(pub);
	struct verbs_mw *mw =
	    container_of(nd_mw_base_of(mwp), struct verbs_mw, base);
	struct ibv_send_wr wr;
	nd_status st;

	if (__builtin_expect(!qp->connected, 0))
		return ND_CONNECTION_INVALID;
	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_LOCAL_INV;
	wr.invalidate_rkey = mw->rkey;
	st = verbs_post_sq_any(qp, &wr, ctx, ND_REQUEST_TYPE_INVALIDATE, flags);
	if (st != ND_SUCCESS)
		return st;
	if (mw->bound) {
		mw->bound = false;
		__atomic_sub_fetch(&mw->mr->base.bound_windows, 1,
				   __ATOMIC_ACQ_REL);
	}
	return ND_SUCCESS;
}

VERBS_FAST nd_status verbs_receive_body(struct nd_qp *pub, void *ctx,
					const struct nd_sge *sge, uint32_t nsge,
					bool compact)
{
	struct verbs_qp *qp = verbs_qp_of(pub);
	struct verbs_ring *ring = qp->ring;
	struct nd_sge tmp[VERBS_SGE_TMP];
	struct ibv_recv_wr wr, *bad;
	uint32_t head = qp->rq_head;
	struct verbs_slot *s;
	int ret;

	if (__builtin_expect(nsge > qp->max_recv_sge, 0))
		return ND_DATA_OVERRUN;
	if (__builtin_expect(
		head - __atomic_load_n(&ring->rq_tail, __ATOMIC_ACQUIRE) >=
		    qp->rq_depth,
		0))
		return ND_NO_MORE_ENTRIES;
	if (__builtin_expect(verbs_sge_bytes(sge, nsge) > qp->max_msg, 0))
		return ND_BUFFER_OVERFLOW;
	if (__builtin_expect(__atomic_load_n(&ring->dead, __ATOMIC_RELAXED), 0))
		return verbs_post_dead(qp, ctx, ND_REQUEST_TYPE_RECEIVE);
	if (compact)
		sge = verbs_rsge_compact(sge, &nsge, tmp);
	s = &ring->rq[head & qp->rq_mask];
	s->ctx = ctx;
	s->seq = head;
	wr.wr_id = (uintptr_t)s;
	wr.next = NULL;
	wr.sg_list = (struct ibv_sge *)(uintptr_t)sge;
	wr.num_sge = (int)nsge;
	ret = ibv_post_recv(qp->qp, &wr, &bad);
	if (__builtin_expect(ret, 0))
		return verbs_post_error(ret);
	qp->rq_head = head + 1;
	return ND_SUCCESS;
}

static nd_status verbs_qp_receive(struct nd_qp *pub, void *ctx,
				  const struct nd_sge *sge, uint32_t nsge)
{
	return verbs_receive_body(pub, ctx, sge, nsge, false);
}

static nd_status verbs_qp_receive_q(struct nd_qp *pub, void *ctx,
				    const struct nd_sge *sge, uint32_t nsge)
{
	return verbs_receive_body(pub, ctx, sge, nsge, true);
}

/* A QP on an SRQ takes its receives from the SRQ. */
static nd_status verbs_qp_receive_srq(struct nd_qp *pub, void *ctx,
				      const struct nd_sge *sge, uint32_t nsge)
{
	(void)pub;
	(void)ctx;
	(void)sge;
	(void)nsge;
	return ND_INVALID_DEVICE_REQUEST;
}

/* A QP's fast ops: its posting mode's Send/Write/Read (suffix: none, _q,
 * _x) and its receive (own queue, compacted, or the SRQ's refusal). */
#define VERBS_QP_FAST(name, out, recv)                                         \
	static const struct nd_qp_fast_ops name = {                            \
	    .send = verbs_qp_send##out,                                        \
	    .receive = recv,                                                   \
	    .bind = verbs_qp_bind,                                             \
	    .invalidate = verbs_qp_invalidate,                                 \
	    .read = verbs_qp_read##out,                                        \
	    .write = verbs_qp_write##out,                                      \
	}
VERBS_QP_FAST(verbs_qp_fast, , verbs_qp_receive);
VERBS_QP_FAST(verbs_qp_fast_srq, , verbs_qp_receive_srq);
VERBS_QP_FAST(verbs_qp_fast_q, _q, verbs_qp_receive_q);
VERBS_QP_FAST(verbs_qp_fast_srq_q, _q, verbs_qp_receive_srq);
VERBS_QP_FAST(verbs_qp_fast_x, _x, verbs_qp_receive);
VERBS_QP_FAST(verbs_qp_fast_srq_x, _x, verbs_qp_receive_srq);

/* ---------------------------------------------------------------------------
 * QP state (slow path)
 */

#define VERBS_STRAGGLER_MS 2000

/* Some request posted to the device has not been reported yet (a QP on an
 * SRQ has no receive queue of its own: its heads and tails stay 0). */
static bool verbs_qp_outstanding(const struct verbs_qp *qp)
{
	const struct verbs_ring *r = qp->ring;

	return __atomic_load_n(&r->sq_tail, __ATOMIC_ACQUIRE) != qp->sq_head ||
	       __atomic_load_n(&r->rq_tail, __ATOMIC_ACQUIRE) != qp->rq_head;
}

/* cm_lock held. */
void verbs_qp_to_error(struct verbs_qp *qp)
{
	struct ibv_qp_attr attr = {.qp_state = IBV_QPS_ERR};
	int ret = ibv_modify_qp(qp->qp, &attr, IBV_QP_STATE);

	__atomic_store_n(&qp->ring->dead, 1, __ATOMIC_RELEASE);
	if (ret)
		ND_WARN(VERBS_LOG, "QP %u to ERR: %s", qp->qp->qp_num,
			strerror(ret));
	/* Watched only while something is outstanding (a QP that holds no
	 * request is released at once: siw refuses new QPs while many
	 * linger). */
	if (qp->ad->tp->flush_may_lose && !qp->closed &&
	    verbs_qp_outstanding(qp)) {
		if (!qp->straggler_due) {
			/* The list holds a reference: the QP outlives it. */
			nd_object_retain(&qp->base.obj);
			qp->straggler_next = qp->ad->stragglers;
			qp->ad->stragglers = qp;
			nd_util_wake(
			    qp->ad->wakefd); /* take it into the timeout */
		}
		qp->straggler_due = nd_util_now_ms() + VERBS_STRAGGLER_MS;
		qp->straggler_armed = false;
	}
}

/* warn: the device had its chance (the reaper), not a release. */
static void verbs_qp_cancel_stragglers(struct verbs_qp *qp, bool warn)
{
	struct verbs_ring *r = qp->ring;
	uint32_t n;

	pthread_mutex_lock(&qp->scq->lock);
	n = verbs_ring_cancel(qp->scq, r, r->sq, &r->sq_tail, qp->sq_head);
	pthread_mutex_unlock(&qp->scq->lock);
	if (!qp->srq) {
		pthread_mutex_lock(&qp->rcq->lock);
		n += verbs_ring_cancel(qp->rcq, r, r->rq, &r->rq_tail,
				       qp->rq_head);
		pthread_mutex_unlock(&qp->rcq->lock);
	}
	if (n && warn)
		ND_WARN(VERBS_LOG,
			"QP %u: the device never completed %u request(s) "
			"after the QP went to error; completed ND_CANCELED",
			qp->qp->qp_num, n);
}

/*
 * A listed QP is checked once its grace period is over: the CQs' empty-poll
 * flags are cleared (armed); when a poll has since found them empty, any
 * request the device has not completed never will be. A QP the application
 * released is finished at once; one reused for a new connection (no longer
 * dead) just leaves the list.
 */
int verbs_reap_stragglers(struct verbs_adapter *a)
{
	struct verbs_qp *done = NULL;
	uint64_t now = nd_util_now_ms();
	int timeout = -1;

	pthread_mutex_lock(&a->cm_lock);
	for (struct verbs_qp **pp = &a->stragglers; *pp;) {
		struct verbs_qp *qp = *pp;
		bool dead = __atomic_load_n(&qp->ring->dead, __ATOMIC_ACQUIRE);

		if (dead && now >= qp->straggler_due && !qp->closed &&
		    !qp->straggler_armed) {
			__atomic_store_n(&qp->scq->polled_empty, 0,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&qp->rcq->polled_empty, 0,
					 __ATOMIC_RELAXED);
			qp->straggler_armed = true;
		} else if (!dead || (now >= qp->straggler_due &&
				     (qp->closed ||
				      (__atomic_load_n(&qp->scq->polled_empty,
						       __ATOMIC_RELAXED) &&
				       __atomic_load_n(&qp->rcq->polled_empty,
						       __ATOMIC_RELAXED))))) {
			if (dead)
				verbs_qp_cancel_stragglers(qp, !qp->closed);
			*pp = qp->straggler_next;
			qp->straggler_due = 0;
			qp->straggler_next = done;
			done = qp;
			continue;
		}
		timeout = 250;
		pp = &qp->straggler_next;
	}
	pthread_mutex_unlock(&a->cm_lock);
	while (done) {
		struct verbs_qp *qp = done;
		done = qp->straggler_next;
		nd_object_put(&qp->base.obj);
	}
	return timeout;
}

static int verbs_qp_init(struct verbs_qp *qp, uint8_t port)
{
	struct ibv_qp_attr attr = {
	    .qp_state = IBV_QPS_INIT,
	    .pkey_index = 0,
	    .port_num = port,
	    .qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
			       IBV_ACCESS_REMOTE_WRITE,
	};
	int mask = IBV_QP_STATE | IBV_QP_ACCESS_FLAGS;

	if (!qp->ad->tp->cm_moves_qp)
		mask |= IBV_QP_PKEY_INDEX | IBV_QP_PORT;
	return ibv_modify_qp(qp->qp, &attr, mask);
}

/*
 * Before Connect/Accept: a QP flushed while idle goes back to INIT, and on
 * IB/RoCE takes the port and P_Key of the cm_id's path. cm_lock held.
 */
int verbs_qp_prepare(struct verbs_qp *qp, struct rdma_cm_id *id)
{
	struct ibv_qp_attr attr;
	int mask, ret;

	if (qp->state == VQP_FLUSHED) {
		attr.qp_state = IBV_QPS_RESET;
		ret = ibv_modify_qp(qp->qp, &attr, IBV_QP_STATE);
		if (!ret)
			ret = verbs_qp_init(qp, qp->ad->port);
		if (ret)
			return ret;
		/* What the device left without a completion ends now
		 * (the straggler list lets go of a QP no longer dead). */
		verbs_qp_cancel_stragglers(qp, false);
		__atomic_store_n(&qp->ring->dead, 0, __ATOMIC_RELEASE);
		qp->state = VQP_INIT;
	}
	if (qp->ad->tp->cm_moves_qp)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_INIT;
	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return errno;
	attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
			       IBV_ACCESS_REMOTE_WRITE;
	return ibv_modify_qp(qp->qp, &attr, mask);
}

/* Local ACK timeout, 4.096 us * 2^17 = 537 ms: with the 6 retries asked
 * in the CM's parameters (VERBS_RETRY), a peer that stops answering (a
 * dead link, a dead host) fails the request after about 3.8 s, within the
 * tcp provider's liveness bound. */
#define VERBS_ACK_TIMEOUT 17

/* IB/RoCE: INIT -> RTR -> RTS from the cm_id's attributes. */
int verbs_qp_rtr_rts(struct verbs_qp *qp, struct rdma_cm_id *id, uint32_t rd_in,
		     uint32_t rd_out)
{
	struct ibv_qp_attr attr;
	int mask, ret;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTR;
	if (rdma_init_qp_attr(id, &attr, &mask))
		return errno;
	/* A read limit of 0 would stall reads forever: at least one. */
	attr.max_dest_rd_atomic = (uint8_t)(rd_in ? rd_in : 1);
	/* RNR NAK timer 163.84 ms: with the peer's 6 retries, a send that
	 * finds no receive fails ND_IO_TIMEOUT after about a second. */
	attr.min_rnr_timer = 28;
	mask |= IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
	ret = ibv_modify_qp(qp->qp, &attr, mask);
	if (ret) {
		ND_ERR(VERBS_LOG, "QP %u to RTR: %s", qp->qp->qp_num,
		       strerror(ret));
		return ret;
	}
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTS;
	if (rdma_init_qp_attr(id, &attr, &mask))
		return errno;
	attr.max_rd_atomic = (uint8_t)(rd_out ? rd_out : 1);
	/* The liveness bound of a connection: a request unanswered after
	 * retry_cnt retries of this timeout fails ND_IO_TIMEOUT and ends the
	 * connection (docs/reliability.md). */
	attr.timeout = VERBS_ACK_TIMEOUT;
	mask |= IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_TIMEOUT;
	ret = ibv_modify_qp(qp->qp, &attr, mask);
	if (ret)
		ND_ERR(VERBS_LOG, "QP %u to RTS: %s", qp->qp->qp_num,
		       strerror(ret));
	return ret;
}

static nd_status verbs_qp_flush(struct nd_qp_base *b)
{
	struct verbs_qp *qp = container_of(b, struct verbs_qp, base);
	struct verbs_adapter *a = qp->ad;

	pthread_mutex_lock(&a->cm_lock);
	verbs_qp_to_error(qp);
	if (qp->state == VQP_INIT)
		qp->state = VQP_FLUSHED;
	else if (qp->state == VQP_CONNECTED)
		qp->state = VQP_DEAD;
	pthread_mutex_unlock(&a->cm_lock);
	return ND_SUCCESS;
}

static const struct nd_qp_ops verbs_qp_ops = {
    .flush = verbs_qp_flush,
};

static void verbs_qp_close(struct nd_object *obj)
{
	struct verbs_qp *qp = container_of(obj, struct verbs_qp, base.obj);
	struct verbs_adapter *a = qp->ad;

	pthread_mutex_lock(&a->cm_lock);
	if (qp->conn)
		verbs_conn_qp_closed(qp->conn);
	qp->closed = true;
	verbs_qp_to_error(qp);
	qp->state = VQP_DEAD;
	if (a->tp->flush_may_lose) {
		/* Released: nobody waits for the device's order any more,
		 * and lingering QPs exhaust siw (it refuses new CQs and QPs):
		 * what is outstanding completes now, and the straggler list
		 * lets go of the QP at once. */
		verbs_qp_cancel_stragglers(qp, false);
		if (qp->straggler_due) {
			qp->straggler_due = 1;
			nd_util_wake(a->wakefd);
		}
	}
	pthread_mutex_unlock(&a->cm_lock);
}

void verbs_ring_free(struct verbs_ring *ring)
{
	free(ring->sq); /* and the receive slots after them */
	free(ring);
}

/*
 * Every request of a destroyed QP has been reported from the device (the
 * pollers moved both tails to the heads and nothing was completed in
 * software ahead of the device): no completion in a CQ can name its ring
 * any more, so it need not outlive the QP. A server that connects and
 * releases QPs on one long-lived CQ would otherwise keep every ring.
 */
static bool verbs_ring_reported(const struct verbs_qp *qp)
{
	return !__atomic_load_n(&qp->ring->soft_cancelled, __ATOMIC_ACQUIRE) &&
	       !verbs_qp_outstanding(qp);
}

static void verbs_qp_destroy(struct nd_object *obj)
{
	struct verbs_qp *qp = container_of(obj, struct verbs_qp, base.obj);
	uint32_t qpn = qp->qp->qp_num;
	int ret;

	ret = ibv_destroy_qp(qp->qp);
	if (ret)
		ND_ERR(VERBS_LOG, "ibv_destroy_qp: %s", strerror(ret));
	verbs_qpn_del(qp->ad, qpn);
	if (verbs_ring_reported(qp)) {
		verbs_ring_free(qp->ring);
	} else {
		/* Completions still in the CQs may name the ring: they keep
		 * it until they are destroyed. */
		qp->ring->refs = qp->scq == qp->rcq ? 1 : 2;
		verbs_cq_retire_ring(qp->scq, qp->ring);
		if (qp->rcq != qp->scq)
			verbs_cq_retire_ring(qp->rcq, qp->ring);
	}
	free(qp);
}

static const struct nd_object_ops verbs_qp_obj_ops = {
    .close = verbs_qp_close,
    .destroy = verbs_qp_destroy,
};

static uint32_t verbs_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static struct verbs_ring *verbs_ring_new(struct verbs_qp *qp, void *context)
{
	uint32_t ns = verbs_pow2(qp->sq_depth ? qp->sq_depth : 1);
	uint32_t nr = qp->srq ? 0 : verbs_pow2(qp->rq_depth ? qp->rq_depth : 1);
	struct verbs_ring *r;

	if (posix_memalign((void **)&r, 64, sizeof(*r)))
		return NULL;
	memset(r, 0, sizeof(*r));
	r->sq = calloc(ns + nr, sizeof(struct verbs_slot));
	if (!r->sq) {
		free(r);
		return NULL;
	}
	r->rq = r->sq + ns;
	r->sq_mask = ns - 1;
	r->rq_mask = nr ? nr - 1 : 0;
	for (uint32_t i = 0; i < ns; i++) {
		r->sq[i].ring = r;
		r->sq[i].qp_ctx = context;
		r->sq[i].tail = &r->sq_tail;
	}
	for (uint32_t i = 0; i < nr; i++) {
		r->rq[i].ring = r;
		r->rq[i].qp_ctx = context;
		r->rq[i].tail = &r->rq_tail;
		r->rq[i].type = ND_REQUEST_TYPE_RECEIVE;
	}
	qp->sq_mask = ns - 1;
	qp->rq_mask = nr ? nr - 1 : 0;
	return r;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* An extended QP where the adapter has one (*qpx set), else a plain one. */
static struct ibv_qp *verbs_qp_create(struct verbs_adapter *a,
				      struct ibv_qp_init_attr *ia,
				      struct ibv_qp_ex **qpx)
{
	struct ibv_qp_init_attr_ex ix;
	struct ibv_qp *qp;

	*qpx = NULL;
	if (!a->qp_ex_ops)
		return ibv_create_qp(a->pd, ia);
	memset(&ix, 0, sizeof(ix));
	ix.qp_context = ia->qp_context;
	ix.send_cq = ia->send_cq;
	ix.recv_cq = ia->recv_cq;
	ix.srq = ia->srq;
	ix.cap = ia->cap;
	ix.qp_type = ia->qp_type;
	ix.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	ix.pd = a->pd;
	ix.send_ops_flags = a->qp_ex_ops;
	qp = ibv_create_qp_ex(a->ctx, &ix);
	if (qp) {
		ia->cap = ix.cap;
		*qpx = ibv_qp_to_qp_ex(qp);
	}
	return qp;
}

nd_status verbs_create_qp(struct nd_adapter_base *ab, struct nd_cq *rcqp,
			  struct nd_cq *scqp, struct nd_srq *srqp,
			  void *context, uint32_t rq_depth, uint32_t sq_depth,
			  uint32_t max_recv_sge, uint32_t max_send_sge,
			  uint32_t inline_size, struct nd_qp **out)
{
	struct verbs_adapter *a = verbs_adapter_of(ab);
	const struct nd_qp_fast_ops *fast;
	struct verbs_qp *qp;
	struct ibv_qp_init_attr ia;
	nd_status st = ND_INSUFFICIENT_RESOURCES;
	int ret;

	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return ND_NO_MEMORY;
	qp->ad = a;
	qp->rcq = container_of(nd_cq_base_of(rcqp), struct verbs_cq, base);
	qp->scq = container_of(nd_cq_base_of(scqp), struct verbs_cq, base);
	qp->srq =
	    srqp ? container_of(nd_srq_base_of(srqp), struct verbs_srq, base)
		 : NULL;
	qp->sq_depth = sq_depth;
	qp->rq_depth = qp->srq ? 0 : rq_depth;
	qp->max_send_sge = max_send_sge;
	qp->max_recv_sge = max_recv_sge;
	qp->max_read_sge = max_send_sge < a->base.info.max_read_sge
			       ? max_send_sge
			       : a->base.info.max_read_sge;
	qp->max_msg = a->max_msg;

	memset(&ia, 0, sizeof(ia));
	ia.qp_context = qp;
	ia.send_cq = qp->scq->cq;
	ia.recv_cq = qp->rcq->cq;
	ia.srq = qp->srq ? qp->srq->srq : NULL;
	ia.cap.max_send_wr = max_u32(sq_depth, 1);
	ia.cap.max_recv_wr = qp->srq ? 0 : max_u32(rq_depth, 1);
	ia.cap.max_send_sge = max_u32(max_send_sge, 1);
	ia.cap.max_recv_sge = qp->srq ? 0 : max_u32(max_recv_sge, 1);
	ia.cap.max_inline_data = inline_size;
	ia.qp_type = IBV_QPT_RC;
	qp->qp = verbs_qp_create(a, &ia, &qp->qpx);
	if (!qp->qp) {
		ND_ERR(VERBS_LOG,
		       "ibv_create_qp(rq %u sq %u sge %u/%u "
		       "inline %u): %s",
		       rq_depth, sq_depth, max_recv_sge, max_send_sge,
		       inline_size, strerror(errno));
		st = verbs_create_status(errno);
		free(qp);
		return st;
	}
	qp->max_inline = ia.cap.max_inline_data;
	qp->fence_reads = a->tp->reads_complete_late;
	qp->ring = verbs_ring_new(qp, context);
	if (!qp->ring)
		goto err_qp;
	ret = verbs_qp_init(qp, a->port);
	if (ret) {
		ND_ERR(VERBS_LOG, "QP %u to INIT: %s", qp->qp->qp_num,
		       strerror(ret));
		goto err_ring;
	}
	/* every QP: a broken transport names its QP by number */
	verbs_qpn_add(a, qp->qp->qp_num, context, qp);
	if (qp->qpx)
		fast = qp->srq ? &verbs_qp_fast_srq_x : &verbs_qp_fast_x;
	else if (a->zero_sge_quirk)
		fast = qp->srq ? &verbs_qp_fast_srq_q : &verbs_qp_fast_q;
	else
		fast = qp->srq ? &verbs_qp_fast_srq : &verbs_qp_fast;
	nd_qp_base_init(&qp->base, fast, &verbs_qp_obj_ops, &verbs_qp_ops,
			context, ab);
	*out = &qp->base.pub;
	return ND_SUCCESS;

err_ring:
	verbs_ring_free(qp->ring);
err_qp:
	ibv_destroy_qp(qp->qp);
	free(qp);
	return st;
}

/* ---------------------------------------------------------------------------
 * Shared receive queues
 */

static nd_status verbs_srq_receive(struct nd_srq *pub, void *ctx,
				   const struct nd_sge *sge, uint32_t nsge)
{
	struct verbs_srq *srq = container_of(pub, struct verbs_srq, base.pub);
	struct nd_sge tmp[VERBS_SGE_TMP];
	struct ibv_recv_wr wr, *bad;
	struct verbs_slot *slots, *s = NULL;
	uint32_t n, i, idx = 0;
	int ret;

	if (__builtin_expect(nsge > srq->max_sge, 0))
		return ND_DATA_OVERRUN;
	if (__builtin_expect(
		__atomic_load_n(&srq->posted, __ATOMIC_RELAXED) -
			__atomic_load_n(&srq->completed, __ATOMIC_ACQUIRE) >=
		    __atomic_load_n(&srq->depth, __ATOMIC_RELAXED),
		0))
		return ND_NO_MORE_ENTRIES;
	if (__builtin_expect(verbs_sge_bytes(sge, nsge) > srq->ad->max_msg, 0))
		return ND_BUFFER_OVERFLOW;
	slots = __atomic_load_n(&srq->slots, __ATOMIC_ACQUIRE);
	n = __atomic_load_n(&srq->nslots, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		uint8_t zero = 0;
		idx = (srq->hint + i) % n;
		if (!__atomic_load_n(&slots[idx].busy, __ATOMIC_ACQUIRE) &&
		    __atomic_compare_exchange_n(&slots[idx].busy, &zero, 1,
						false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			s = &slots[idx];
			break;
		}
	}
	if (__builtin_expect(!s, 0))
		return ND_NO_MORE_ENTRIES;
	if (srq->ad->zero_sge_quirk)
		sge = verbs_rsge_compact(sge, &nsge, tmp);
	s->ctx = ctx;
	wr.wr_id = (uintptr_t)s;
	wr.next = NULL;
	wr.sg_list = (struct ibv_sge *)(uintptr_t)sge;
	wr.num_sge = (int)nsge;
	ret = ibv_post_srq_recv(srq->srq, &wr, &bad);
	if (__builtin_expect(ret, 0)) {
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		return verbs_post_error(ret);
	}
	srq->hint = idx + 1;
	__atomic_add_fetch(&srq->posted, 1, __ATOMIC_RELEASE);
	return ND_SUCCESS;
}

static const struct nd_srq_fast_ops verbs_srq_fast = {
    .receive = verbs_srq_receive,
};

static uint32_t verbs_srq_count(struct verbs_srq *srq)
{
	return __atomic_load_n(&srq->posted, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&srq->completed, __ATOMIC_ACQUIRE);
}

/* Arms the SRQ limit event. srq->lock held. */
static int verbs_srq_arm(struct verbs_srq *srq)
{
	struct ibv_srq_attr attr = {.srq_limit = srq->threshold};

	return ibv_modify_srq(srq->srq, &attr, IBV_SRQ_LIMIT);
}

static nd_status verbs_srq_notify(struct nd_srq_base *b,
				  struct nd_overlapped *ov)
{
	struct verbs_srq *srq = container_of(b, struct verbs_srq, base);
	nd_status st = ND_PENDING;
	int ret;

	pthread_mutex_lock(&srq->lock);
	if (srq->threshold && verbs_srq_count(srq) < srq->threshold) {
		st = ND_SUCCESS;
	} else {
		if (srq->threshold) {
			ret = verbs_srq_arm(srq);
			if (ret) {
				ND_ERR(VERBS_LOG, "ibv_modify_srq(limit): %s",
				       strerror(ret));
				pthread_mutex_unlock(&srq->lock);
				return nd_util_errno_status(ret);
			}
		}
		nd_ov_begin(&srq->base.obj, ov, 0, NULL);
	}
	pthread_mutex_unlock(&srq->lock);
	return st;
}

void verbs_srq_limit_event(struct verbs_srq *srq)
{
	pthread_mutex_lock(&srq->lock);
	nd_ov_finish_all(&srq->base.obj, 0, ND_SUCCESS);
	pthread_mutex_unlock(&srq->lock);
}

static nd_status verbs_srq_grow_slots(struct verbs_srq *srq, uint32_t n)
{
	struct verbs_slot *ns = calloc(n, sizeof(*ns));
	void **old =
	    realloc(srq->old_slots, (srq->nold + 1) * sizeof(*srq->old_slots));

	if (!ns || !old) {
		free(ns);
		if (old)
			srq->old_slots = old;
		return ND_NO_MEMORY;
	}
	srq->old_slots = old;
	for (uint32_t i = 0; i < n; i++) {
		ns[i].flags = VERBS_SLOT_SRQ;
		ns[i].type = ND_REQUEST_TYPE_RECEIVE;
		ns[i].srq = srq;
	}
	if (srq->slots)
		srq->old_slots[srq->nold++] = srq->slots;
	__atomic_store_n(&srq->nslots, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&srq->slots, ns, __ATOMIC_RELEASE);
	__atomic_store_n(&srq->nslots, n, __ATOMIC_RELEASE);
	return ND_SUCCESS;
}

static nd_status verbs_srq_modify(struct nd_srq_base *b, uint32_t depth,
				  uint32_t threshold)
{
	struct verbs_srq *srq = container_of(b, struct verbs_srq, base);
	nd_status st = ND_SUCCESS;

	pthread_mutex_lock(&srq->lock);
	if (depth) {
		if (depth < verbs_srq_count(srq)) {
			st = ND_BUFFER_OVERFLOW;
			goto out;
		}
		if (depth > srq->cap) {
			struct ibv_srq_attr attr = {.max_wr = depth};
			int ret;
			if (!srq->ad->srq_resize) {
				st = ND_INSUFFICIENT_RESOURCES;
				goto out;
			}
			ret = ibv_modify_srq(srq->srq, &attr, IBV_SRQ_MAX_WR);
			if (ret) {
				st = nd_util_errno_status(ret);
				goto out;
			}
			if (!ibv_query_srq(srq->srq, &attr))
				srq->cap = attr.max_wr;
			else
				srq->cap = depth;
		}
		if (2 * depth > srq->nslots) {
			st = verbs_srq_grow_slots(srq, 2 * depth);
			if (st != ND_SUCCESS)
				goto out;
		}
		__atomic_store_n(&srq->depth, depth, __ATOMIC_RELEASE);
	}
	if (threshold) {
		srq->threshold = threshold;
		if (nd_ov_pending(&srq->base.obj, 0)) {
			if (verbs_srq_count(srq) < threshold)
				nd_ov_finish_all(&srq->base.obj, 0, ND_SUCCESS);
			else
				verbs_srq_arm(srq);
		}
	}
out:
	pthread_mutex_unlock(&srq->lock);
	return st;
}

static const struct nd_srq_ops verbs_srq_ops = {
    .get_notify_affinity = NULL,
    .modify = verbs_srq_modify,
    .notify = verbs_srq_notify,
};

static void verbs_srq_destroy(struct nd_object *obj)
{
	struct verbs_srq *srq = container_of(obj, struct verbs_srq, base.obj);
	int ret = ibv_destroy_srq(srq->srq);

	if (ret)
		ND_ERR(VERBS_LOG, "ibv_destroy_srq: %s", strerror(ret));
	for (unsigned i = 0; i < srq->nold; i++)
		free(srq->old_slots[i]);
	free(srq->old_slots);
	free(srq->slots);
	pthread_mutex_destroy(&srq->lock);
	free(srq);
}

static const struct nd_object_ops verbs_srq_obj_ops = {
    .destroy = verbs_srq_destroy,
};

nd_status verbs_create_srq(struct nd_adapter_base *ab, uint32_t depth,
			   uint32_t max_sge, uint32_t threshold, uint16_t group,
			   uint64_t affinity, struct nd_srq **out)
{
	struct verbs_adapter *a = verbs_adapter_of(ab);
	struct ibv_srq_init_attr ia;
	struct verbs_srq *srq;

	(void)group;
	(void)affinity;
	if (depth == 0 || depth > a->base.info.max_shared_receive_queue_depth)
		return ND_INVALID_PARAMETER_3;
	if (max_sge > a->max_srq_sge)
		return ND_INVALID_PARAMETER_4;
	srq = calloc(1, sizeof(*srq));
	if (!srq)
		return ND_NO_MEMORY;
	srq->ad = a;
	srq->max_sge = max_sge;
	srq->depth = depth;
	srq->threshold = threshold;
	pthread_mutex_init(&srq->lock, NULL);
	if (verbs_srq_grow_slots(srq, 2 * depth) != ND_SUCCESS) {
		pthread_mutex_destroy(&srq->lock);
		free(srq);
		return ND_NO_MEMORY;
	}
	memset(&ia, 0, sizeof(ia));
	ia.srq_context = srq;
	/* Without SRQ resize, room for Modify to grow the depth later. */
	ia.attr.max_wr = depth;
	if (!a->srq_resize)
		ia.attr.max_wr = depth * 4 > 4096 ? depth * 4 : 4096;
	if (ia.attr.max_wr > a->base.info.max_shared_receive_queue_depth)
		ia.attr.max_wr = a->base.info.max_shared_receive_queue_depth;
	ia.attr.max_sge = max_sge ? max_sge : 1;
	srq->srq = ibv_create_srq(a->pd, &ia);
	if (!srq->srq) {
		nd_status st = verbs_create_status(errno);
		ND_ERR(VERBS_LOG, "ibv_create_srq(%u, %u): %s", depth, max_sge,
		       strerror(errno));
		free(srq->slots);
		pthread_mutex_destroy(&srq->lock);
		free(srq);
		return st;
	}
	srq->cap = ia.attr.max_wr > depth ? ia.attr.max_wr : depth;
	nd_srq_base_init(&srq->base, &verbs_srq_fast, &verbs_srq_obj_ops,
			 &verbs_srq_ops, ab);
	*out = &srq->base.pub;
	return ND_SUCCESS;
}
