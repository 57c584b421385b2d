/* SPDX-License-Identifier: MIT */
/* Completion queues, shared receive queues, memory regions and windows. */
#include "tcp.h"

#include <stdlib.h>
#include <string.h>

/* --- completion queue ------------------------------------------------------ */

#define NOTIFY_BIT(t) (1u << (t))

static uint32_t cq_get_results(struct nd_cq *pub, struct nd_result *res,
			       uint32_t count)
{
	struct tcp_cq *cq = container_of(pub, struct tcp_cq, base.pub);
	uint32_t n;

	/* Empty: move what the sockets of this CQ's QPs hold ourselves
	 * rather than wait for the progress thread to be scheduled. */
	if (__atomic_load_n(&cq->count, __ATOMIC_ACQUIRE) == 0) {
		tcp_adapter_drive(tcp_adapter_of(cq->base.obj.adapter), cq);
		if (__atomic_load_n(&cq->count, __ATOMIC_ACQUIRE) == 0)
			return 0;
	}
	pthread_mutex_lock(&cq->lock);
	n = count < cq->count ? count : cq->count;
	for (uint32_t i = 0; i < n; i++) {
		res[i] = cq->ring[cq->head];
		cq->head = cq->head + 1 == cq->depth ? 0 : cq->head + 1;
	}
	__atomic_store_n(&cq->count, cq->count - n, __ATOMIC_RELEASE);
	if (cq->count == 0)
		cq->has_error = false;
	pthread_mutex_unlock(&cq->lock);
	return n;
}

void tcp_cq_push(struct tcp_cq *cq, nd_status status, uint32_t bytes,
		 void *qp_context, void *request_context, int32_t type,
		 bool solicited)
{
	uint32_t fire = 0;
	nd_status nst = ND_SUCCESS;

	pthread_mutex_lock(&cq->lock);
	if (cq->count == cq->depth) {
		if (!cq->overrun)
			ND_ERR(TCP_LOG, "completion queue overrun (depth %u)",
			       cq->depth);
		cq->overrun = true;
		fire = cq->armed;
		nst = ND_BUFFER_OVERFLOW;
	} else {
		uint32_t tail = cq->head + cq->count;
		if (tail >= cq->depth)
			tail -= cq->depth;
		struct nd_result *r = &cq->ring[tail];
		r->status = status;
		r->bytes_transferred = bytes;
		r->qp_context = qp_context;
		r->request_context = request_context;
		r->request_type = type;
		r->reserved = 0;
		__atomic_store_n(&cq->count, cq->count + 1, __ATOMIC_RELEASE);
		if (status != ND_SUCCESS) {
			cq->has_error = true;
			fire = cq->armed;
		} else {
			uint32_t m = NOTIFY_BIT(ND_CQ_NOTIFY_ANY);
			if (solicited)
				m |= NOTIFY_BIT(ND_CQ_NOTIFY_SOLICITED);
			fire = cq->armed & m;
			/* one event completes every outstanding notify of
			 * the data kinds together */
			if (fire)
				fire |= cq->armed &
					(NOTIFY_BIT(ND_CQ_NOTIFY_ANY) |
					 NOTIFY_BIT(ND_CQ_NOTIFY_SOLICITED));
		}
	}
	cq->armed &= ~fire;
	pthread_mutex_unlock(&cq->lock);
	for (uint32_t t = 0; fire; t++, fire >>= 1)
		if (fire & 1)
			nd_ov_finish_all(&cq->base.obj, t, nst);
}

static nd_status cq_notify(struct nd_cq_base *b, uint32_t type,
			   struct nd_overlapped *ov)
{
	struct tcp_cq *cq = container_of(b, struct tcp_cq, base);
	nd_status st = ND_PENDING;

	/* The progress thread must watch the sockets to fire it. */
	tcp_adapter_undrive(tcp_adapter_of(cq->base.obj.adapter), cq);
	pthread_mutex_lock(&cq->lock);
	if (cq->overrun)
		st = ND_BUFFER_OVERFLOW;
	else if (cq->count && (type != ND_CQ_NOTIFY_ERRORS || cq->has_error))
		st = ND_SUCCESS; /* entries already wait */
	else {
		nd_ov_begin(&cq->base.obj, ov, type, NULL);
		cq->armed |= NOTIFY_BIT(type);
	}
	pthread_mutex_unlock(&cq->lock);
	return st;
}

static nd_status cq_resize(struct nd_cq_base *b, uint32_t depth)
{
	struct tcp_cq *cq = container_of(b, struct tcp_cq, base);
	struct nd_result *ring;
	nd_status st = ND_SUCCESS;

	ring = calloc(depth, sizeof(*ring));
	if (!ring)
		return ND_NO_MEMORY;
	pthread_mutex_lock(&cq->lock);
	if (cq->count > depth) {
		st = ND_BUFFER_OVERFLOW;
	} else {
		for (uint32_t i = 0; i < cq->count; i++)
			ring[i] = cq->ring[(cq->head + i) % cq->depth];
		free(cq->ring);
		cq->ring = ring;
		cq->head = 0;
		cq->depth = depth;
		ring = NULL;
	}
	pthread_mutex_unlock(&cq->lock);
	free(ring);
	return st;
}

static void cq_destroy(struct nd_object *obj)
{
	struct tcp_cq *cq = container_of(obj, struct tcp_cq, base.obj);

	pthread_mutex_destroy(&cq->lock);
	free(cq->ring);
	free(cq);
}

static const struct nd_cq_fast_ops cq_fast = {
    .get_results = cq_get_results,
};
static const struct nd_cq_ops cq_ops = {
    .resize = cq_resize,
    .notify = cq_notify,
};
static const struct nd_object_ops cq_obj_ops = {
    .destroy = cq_destroy,
};

nd_status tcp_create_cq(struct nd_adapter_base *a, uint32_t depth,
			uint16_t group, uint64_t affinity, struct nd_cq **out)
{
	struct tcp_cq *cq = calloc(1, sizeof(*cq));

	(void)group;
	(void)affinity;
	if (!cq)
		return ND_NO_MEMORY;
	cq->ring = calloc(depth, sizeof(*cq->ring));
	if (!cq->ring) {
		free(cq);
		return ND_NO_MEMORY;
	}
	cq->depth = depth;
	pthread_mutex_init(&cq->lock, NULL);
	nd_cq_base_init(&cq->base, &cq_fast, &cq_obj_ops, &cq_ops, a);
	*out = &cq->base.pub;
	return ND_SUCCESS;
}

/* --- shared receive queue ------------------------------------------------ */

static struct tcp_adapter *ad_of(struct nd_object *obj)
{
	return tcp_adapter_of(obj->adapter);
}

static bool srq_realloc(struct tcp_srq *srq, uint32_t cap)
{
	struct tcp_rwr *ring = calloc(cap, sizeof(*ring));
	struct nd_sge *sges =
	    calloc((size_t)cap * srq->max_sge + 1, sizeof(*sges));

	if (!ring || !sges) {
		free(ring);
		free(sges);
		return false;
	}
	for (uint32_t i = 0; i < cap; i++)
		ring[i].sge = &sges[(size_t)i * srq->max_sge];
	for (uint32_t i = 0; i < srq->count; i++) {
		struct tcp_rwr *o = &srq->ring[(srq->head + i) % srq->cap];
		struct nd_sge *keep = ring[i].sge;
		ring[i] = *o;
		ring[i].sge = keep;
		memcpy(keep, o->sge, o->nsge * sizeof(*keep));
	}
	free(srq->ring);
	free(srq->sges);
	srq->ring = ring;
	srq->sges = sges;
	srq->cap = cap;
	srq->head = 0;
	return true;
}

/* Checks a receive's SGEs against local tokens: writable registered memory. */
static nd_status check_recv_sges(struct tcp_adapter *ad,
				 const struct nd_sge *sge, uint32_t nsge,
				 uint32_t *len)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < nsge; i++) {
		struct tcp_mem *m =
		    tcp_mem_local(ad, sge[i].memory_region_token);
		uint64_t a = (uintptr_t)sge[i].buffer;

		total += sge[i].buffer_length;
		if (!sge[i].buffer_length)
			continue;
		if (!m || !(m->rights & TCP_R_LOCAL_WRITE) ||
		    !nd_range_inside(m->base, m->length, a,
				     sge[i].buffer_length))
			return ND_ACCESS_VIOLATION;
	}
	if (total > TCP_MAX_TRANSFER)
		return ND_BUFFER_OVERFLOW;
	*len = (uint32_t)total;
	return ND_SUCCESS;
}

nd_status tcp_check_recv_sges(struct tcp_adapter *ad, const struct nd_sge *sge,
			      uint32_t nsge, uint32_t *len)
{
	return check_recv_sges(ad, sge, nsge, len);
}

static nd_status srq_receive(struct nd_srq *pub, void *ctx,
			     const struct nd_sge *sge, uint32_t nsge)
{
	struct tcp_srq *srq = container_of(pub, struct tcp_srq, base.pub);
	struct tcp_adapter *ad = ad_of(&srq->base.obj);
	nd_status st, vst;
	uint32_t len = 0;

	if (ND_UNLIKELY(nsge > srq->max_sge))
		return ND_DATA_OVERRUN;
	tcp_lock(ad);
	if (srq->count == srq->depth) {
		tcp_unlock(ad);
		return ND_NO_MORE_ENTRIES;
	}
	vst = check_recv_sges(ad, sge, nsge, &len);
	if (vst == ND_BUFFER_OVERFLOW) {
		tcp_unlock(ad);
		return ND_BUFFER_OVERFLOW;
	}
	struct tcp_rwr *w = &srq->ring[(srq->head + srq->count) % srq->cap];
	w->context = ctx;
	w->nsge = nsge;
	w->length = len;
	w->status = vst;
	if (nsge)
		memcpy(w->sge, sge, nsge * sizeof(*sge));
	srq->count++;
	if (srq->stalled)
		tcp_srq_resume(srq);
	st = ND_SUCCESS;
	tcp_unlock(ad);
	return st;
}

bool tcp_srq_take(struct tcp_srq *srq, struct tcp_rwr *out)
{
	if (!srq->count)
		return false;
	*out = srq->ring[srq->head];
	srq->head = srq->head + 1 == srq->cap ? 0 : srq->head + 1;
	srq->count--;
	if (srq->armed && srq->threshold && srq->count < srq->threshold) {
		srq->armed = false;
		nd_ov_finish_all(&srq->base.obj, 0, ND_SUCCESS);
	}
	return true;
}

static nd_status srq_modify(struct nd_srq_base *b, uint32_t depth,
			    uint32_t threshold)
{
	struct tcp_srq *srq = container_of(b, struct tcp_srq, base);
	struct tcp_adapter *ad = ad_of(&srq->base.obj);
	nd_status st = ND_SUCCESS;

	if (depth > TCP_MAX_QUEUE_DEPTH)
		return ND_INVALID_PARAMETER;
	tcp_lock(ad);
	if (depth && depth < srq->count) {
		st = ND_BUFFER_OVERFLOW;
	} else {
		if (depth > srq->cap && !srq_realloc(srq, depth))
			st = ND_NO_MEMORY;
		if (st == ND_SUCCESS) {
			if (depth)
				srq->depth = depth;
			if (threshold)
				srq->threshold = threshold;
		}
	}
	tcp_unlock(ad);
	return st;
}

static nd_status srq_notify(struct nd_srq_base *b, struct nd_overlapped *ov)
{
	struct tcp_srq *srq = container_of(b, struct tcp_srq, base);
	struct tcp_adapter *ad = ad_of(&srq->base.obj);

	tcp_lock(ad);
	nd_ov_begin(&srq->base.obj, ov, 0, NULL);
	srq->armed = true;
	tcp_unlock(ad);
	return ND_PENDING;
}

static void srq_destroy(struct nd_object *obj)
{
	struct tcp_srq *srq = container_of(obj, struct tcp_srq, base.obj);

	free(srq->ring);
	free(srq->sges);
	free(srq);
}

static const struct nd_srq_fast_ops srq_fast = {
    .receive = srq_receive,
};
static const struct nd_srq_ops srq_ops = {
    .modify = srq_modify,
    .notify = srq_notify,
};
static const struct nd_object_ops srq_obj_ops = {
    .destroy = srq_destroy,
};

nd_status tcp_create_srq(struct nd_adapter_base *a, uint32_t depth,
			 uint32_t max_sge, uint32_t threshold, uint16_t group,
			 uint64_t affinity, struct nd_srq **out)
{
	struct tcp_srq *srq = calloc(1, sizeof(*srq));

	(void)group;
	(void)affinity;
	if (!srq)
		return ND_NO_MEMORY;
	srq->max_sge = max_sge ? max_sge : 1;
	if (!srq_realloc(srq, depth)) {
		free(srq);
		return ND_NO_MEMORY;
	}
	srq->depth = depth;
	srq->threshold = threshold;
	nd_srq_base_init(&srq->base, &srq_fast, &srq_obj_ops, &srq_ops, a);
	*out = &srq->base.pub;
	return ND_SUCCESS;
}

/* --- memory regions ------------------------------------------------------ */

static nd_status mr_register(struct nd_mr_base *b, const void *buffer,
			     size_t length, uint32_t flags,
			     struct nd_overlapped *ov)
{
	struct tcp_mr *mr = container_of(b, struct tcp_mr, base);
	struct tcp_adapter *ad = ad_of(&mr->base.obj);
	uint32_t rights = 0;
	nd_status st = ND_SUCCESS;

	(void)ov;
	if (flags & (ND_MR_FLAG_ALLOW_LOCAL_WRITE | ND_MR_FLAG_RDMA_READ_SINK))
		rights |= TCP_R_LOCAL_WRITE;
	if (flags & ND_MR_FLAG_ALLOW_REMOTE_READ)
		rights |= TCP_R_REMOTE_READ;
	if ((flags & ND_MR_FLAG_ALLOW_REMOTE_WRITE) ==
	    ND_MR_FLAG_ALLOW_REMOTE_WRITE)
		rights |= TCP_R_REMOTE_WRITE;
	/* The core checked that the range is mapped for these rights. */
	tcp_lock(ad);
	mr->mem.base = (uintptr_t)buffer;
	mr->mem.length = length;
	mr->mem.qp_serial = 0;
	mr->mem.rights = rights;
	if (!tcp_grant(ad, &mr->mem, true)) {
		ND_ERR(TCP_LOG, "memory table full (%u tokens)",
		       TCP_MAX_GRANTS);
		st = ND_INSUFFICIENT_RESOURCES;
	} else {
		mr->base.local_token = mr->mem.local_token;
		mr->base.remote_token = mr->mem.remote_token;
		__atomic_store_n(&mr->base.registered, 1, __ATOMIC_RELEASE);
	}
	tcp_unlock(ad);
	return st;
}

static nd_status mr_deregister(struct nd_mr_base *b, struct nd_overlapped *ov)
{
	struct tcp_mr *mr = container_of(b, struct tcp_mr, base);
	struct tcp_adapter *ad = ad_of(&mr->base.obj);

	(void)ov;
	tcp_lock(ad);
	tcp_revoke(ad, &mr->mem);
	mr->base.local_token = 0;
	mr->base.remote_token = 0;
	__atomic_store_n(&mr->base.registered, 0, __ATOMIC_RELEASE);
	tcp_unlock(ad);
	return ND_SUCCESS;
}

/* Released: the region's own tokens die now, even while a bound window
 * keeps the object (and the window's narrower grant) alive. */
static void mr_close(struct nd_object *obj)
{
	struct tcp_mr *mr = container_of(obj, struct tcp_mr, base.obj);

	mr_deregister(&mr->base, NULL);
}

static void mr_destroy(struct nd_object *obj)
{
	struct tcp_mr *mr = container_of(obj, struct tcp_mr, base.obj);
	struct tcp_adapter *ad = ad_of(obj);

	tcp_lock(ad);
	tcp_revoke(ad, &mr->mem);
	tcp_unlock(ad);
	free(mr);
}

static const struct nd_mr_ops mr_ops = {
    .register_memory = mr_register,
    .deregister_memory = mr_deregister,
};
static const struct nd_object_ops mr_obj_ops = {
    .close = mr_close,
    .destroy = mr_destroy,
};

nd_status tcp_create_mr(struct nd_adapter_base *a, struct nd_mr **out)
{
	struct tcp_mr *mr = calloc(1, sizeof(*mr));

	if (!mr)
		return ND_NO_MEMORY;
	nd_mr_base_init(&mr->base, &mr_obj_ops, &mr_ops, a);
	*out = &mr->base.pub;
	return ND_SUCCESS;
}

/* --- memory windows ------------------------------------------------------- */

bool tcp_mw_bind(struct tcp_mw *mw, struct tcp_mr *mr, struct tcp_qp *qp,
		 uint64_t base, uint64_t length, uint32_t rights)
{
	struct tcp_adapter *ad = qp->ad;

	if (mw->bound) /* rebinding: the old token dies */
		tcp_mw_unbind(mw);
	mw->mem.base = base;
	mw->mem.length = length;
	mw->mem.qp_serial = qp->serial;
	mw->mem.rights = rights;
	if (!tcp_grant(ad, &mw->mem, false))
		return false;
	nd_object_retain(&mr->base.obj);
	mw->mr = mr;
	mw->qp = qp;
	mw->qp_next = qp->windows;
	qp->windows = mw;
	mw->bound = true;
	mw->base.remote_token = mw->mem.remote_token;
	__atomic_add_fetch(&mr->base.bound_windows, 1, __ATOMIC_ACQ_REL);
	return true;
}

void tcp_mw_unbind(struct tcp_mw *mw)
{
	struct tcp_adapter *ad = tcp_adapter_of(mw->base.obj.adapter);

	if (!mw->bound)
		return;
	tcp_revoke(ad, &mw->mem);
	for (struct tcp_mw **pp = &mw->qp->windows; *pp; pp = &(*pp)->qp_next)
		if (*pp == mw) {
			*pp = mw->qp_next;
			break;
		}
	mw->qp = NULL;
	mw->qp_next = NULL;
	mw->bound = false;
	mw->base.remote_token = 0;
	__atomic_sub_fetch(&mw->mr->base.bound_windows, 1, __ATOMIC_ACQ_REL);
	nd_util_puts_add(&ad->puts, &mw->mr->base.obj);
	mw->mr = NULL;
}

static void mw_destroy(struct nd_object *obj)
{
	struct tcp_mw *mw = container_of(obj, struct tcp_mw, base.obj);
	struct tcp_adapter *ad = ad_of(obj);

	tcp_lock(ad);
	tcp_mw_unbind(mw);
	tcp_unlock(ad);
	free(mw);
}

static const struct nd_object_ops mw_obj_ops = {
    .destroy = mw_destroy,
};

nd_status tcp_create_mw(struct nd_adapter_base *a, struct nd_mw **out)
{
	struct tcp_mw *mw = calloc(1, sizeof(*mw));

	if (!mw)
		return ND_NO_MEMORY;
	nd_mw_base_init(&mw->base, &mw_obj_ops, a);
	*out = &mw->base.pub;
	return ND_SUCCESS;
}
