/* SPDX-License-Identifier: MIT */
/*
 * A provider for unit tests, loaded from ND_PROVIDER_PATH like any
 * out-of-tree provider. It serves 192.0.2.1 and 2001:db8::1 (documentation
 * addresses: nothing real), keeps everything in memory, and lets tests drive
 * asynchronous requests through testprov_*() (found with dlsym).
 *
 * Asynchronous calls go ND_PENDING with these kinds, finished by tests:
 *   MR register/deregister 1/2 (only while testprov_set_async(1)),
 *   CQ/SRQ notify 0, connector connect 1, complete_connect 2, accept 3,
 *   notify_disconnect 4, disconnect 5, listener get_connection_request 0.
 * testprov_set_peer_data() sets what a connector reports as the peer's
 * private data.
 */
#include <netdirect/nd_provider.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH 64

static unsigned live_objects;
static int async_mr;
static uint32_t next_token = 0x100;

struct tp_cq {
	struct nd_cq_base base;
	struct nd_result ring[DEPTH];
	uint32_t head, count, depth;
};

struct tp_qp {
	struct nd_qp_base base;
	struct tp_cq *rcq, *icq;
	void *recv_ctx[DEPTH];
	uint32_t nrecv;
	int connected;
};

struct tp_obj { /* MR, MW, SRQ, connector, listener: no state needed */
	union {
		struct nd_mr_base mr;
		struct nd_mw_base mw;
		struct nd_srq_base srq;
		struct nd_connector_base conn;
		struct nd_listener_base lis;
		struct nd_object obj;
	};
	struct tp_obj *bound_mr; /* MW: the region it is bound to */
	struct sockaddr_in addr;
	int state;
};

static void tp_destroy(struct nd_object *obj)
{
	if (obj->head.type == ND_OBJ_ADAPTER)
		nd_adapter_base_fini(
		    container_of(obj, struct nd_adapter_base, obj));
	live_objects--;
	free(obj);
}

static const struct nd_object_ops tp_obj_ops = {.destroy = tp_destroy};

/* --- control interface for the tests -------------------------------- */

void testprov_set_async(int on);
unsigned testprov_live_objects(void);
int testprov_finish(void *handle, uint32_t kind, nd_status status);
int testprov_qp_connect(struct nd_qp *qp);

void testprov_set_async(int on)
{
	async_mr = on;
}

unsigned testprov_live_objects(void)
{
	return live_objects;
}

/* The tests pass the handles they hold; the object is behind them. */
int testprov_finish(void *handle, uint32_t kind, nd_status status)
{
	struct nd_object *obj = ((struct nd_object_head *)handle)->object;

	if (obj->head.type == ND_OBJ_MR && status == ND_SUCCESS) {
		struct nd_mr_base *mr = (struct nd_mr_base *)obj;
		mr->registered = kind == 1;
	}
	return nd_ov_finish(obj, kind, status);
}

int testprov_qp_connect(struct nd_qp *qp)
{
	container_of(ND_OBJ(qp), struct tp_qp, base.pub)->connected = 1;
	return 0;
}

/* --- CQ ---------------------------------------------------------------- */

static void cq_push(struct tp_cq *cq, nd_status st, void *qp_ctx, void *ctx,
		    int type)
{
	if (cq->count == cq->depth)
		return;
	cq->ring[(cq->head + cq->count++) % DEPTH] = (struct nd_result){
	    .status = st,
	    .qp_context = qp_ctx,
	    .request_context = ctx,
	    .request_type = type,
	};
	nd_ov_finish_all(&cq->base.obj, 0, ND_SUCCESS);
}

static uint32_t cq_get_results(struct nd_cq *pub, struct nd_result *res,
			       uint32_t n)
{
	struct tp_cq *cq = container_of(pub, struct tp_cq, base.pub);
	uint32_t i = 0;

	for (; i < n && cq->count; i++, cq->count--) {
		res[i] = cq->ring[cq->head];
		cq->head = (cq->head + 1) % DEPTH;
	}
	return i;
}

static nd_status cq_notify(struct nd_cq_base *b, uint32_t type,
			   struct nd_overlapped *ov)
{
	struct tp_cq *cq = container_of(b, struct tp_cq, base);

	(void)type;
	if (cq->count)
		return ND_SUCCESS;
	nd_ov_begin(&b->obj, ov, 0, NULL);
	return ND_PENDING;
}

static nd_status cq_resize(struct nd_cq_base *b, uint32_t depth)
{
	struct tp_cq *cq = container_of(b, struct tp_cq, base);

	if (depth < cq->count)
		return ND_BUFFER_OVERFLOW;
	cq->depth = depth > DEPTH ? DEPTH : depth;
	return ND_SUCCESS;
}

static const struct nd_cq_fast_ops cq_fast = {.get_results = cq_get_results};
static const struct nd_cq_ops cq_ops = {.notify = cq_notify,
					.resize = cq_resize};

/* --- QP ------------------------------------------------------------------ */

static struct tp_qp *tpqp(struct nd_qp *qp)
{
	return container_of(qp, struct tp_qp, base.pub);
}

/* Sends complete at once on the initiator CQ: enough to test dispatch. */
static nd_status qp_send(struct nd_qp *pub, void *ctx, const struct nd_sge *sge,
			 uint32_t nsge, uint32_t flags)
{
	struct tp_qp *qp = tpqp(pub);

	(void)sge;
	if (!qp->connected)
		return ND_CONNECTION_INVALID;
	if (nsge > 4)
		return ND_DATA_OVERRUN;
	if (!(flags & ND_OP_FLAG_SILENT_SUCCESS))
		cq_push(qp->icq, ND_SUCCESS, qp->base.context, ctx,
			ND_REQUEST_TYPE_SEND);
	return ND_SUCCESS;
}

static nd_status qp_receive(struct nd_qp *pub, void *ctx,
			    const struct nd_sge *sge, uint32_t nsge)
{
	struct tp_qp *qp = tpqp(pub);

	(void)sge;
	if (nsge > 4)
		return ND_DATA_OVERRUN;
	if (qp->nrecv == DEPTH)
		return ND_NO_MORE_ENTRIES;
	qp->recv_ctx[qp->nrecv++] = ctx;
	return ND_SUCCESS;
}

static nd_status qp_bind(struct nd_qp *pub, void *ctx, struct nd_mr *mr,
			 struct nd_mw *mw, const void *buf, size_t len,
			 uint32_t flags)
{
	struct tp_obj *w = container_of(mw, struct tp_obj, mw.pub);
	struct tp_obj *m = container_of(mr, struct tp_obj, mr.pub);

	(void)buf;
	(void)len;
	if (!tpqp(pub)->connected)
		return ND_CONNECTION_INVALID;
	w->bound_mr = m;
	w->mw.remote_token = next_token++;
	__atomic_add_fetch(&m->mr.bound_windows, 1, __ATOMIC_RELEASE);
	if (!(flags & ND_OP_FLAG_SILENT_SUCCESS))
		cq_push(tpqp(pub)->icq, ND_SUCCESS, tpqp(pub)->base.context,
			ctx, ND_REQUEST_TYPE_BIND);
	return ND_SUCCESS;
}

static nd_status qp_invalidate(struct nd_qp *pub, void *ctx, struct nd_mw *mw,
			       uint32_t flags)
{
	struct tp_obj *w = container_of(mw, struct tp_obj, mw.pub);
	nd_status st = ND_SUCCESS;

	if (!tpqp(pub)->connected)
		return ND_CONNECTION_INVALID;
	if (w->bound_mr)
		__atomic_sub_fetch(&w->bound_mr->mr.bound_windows, 1,
				   __ATOMIC_RELEASE);
	else
		st = ND_INVALID_DEVICE_REQUEST;
	w->bound_mr = NULL;
	if (!(flags & ND_OP_FLAG_SILENT_SUCCESS) || st)
		cq_push(tpqp(pub)->icq, st, tpqp(pub)->base.context, ctx,
			ND_REQUEST_TYPE_INVALIDATE);
	return ND_SUCCESS;
}

static nd_status qp_rdma(struct nd_qp *pub, void *ctx, const struct nd_sge *sge,
			 uint32_t nsge, uint64_t addr, uint32_t token,
			 uint32_t flags)
{
	(void)ctx;
	(void)sge;
	(void)nsge;
	(void)addr;
	(void)token;
	(void)flags;
	return tpqp(pub)->connected ? ND_SUCCESS : ND_CONNECTION_INVALID;
}

static nd_status qp_flush(struct nd_qp_base *b)
{
	struct tp_qp *qp = container_of(b, struct tp_qp, base);

	for (uint32_t i = 0; i < qp->nrecv; i++)
		cq_push(qp->rcq, ND_CANCELED, b->context, qp->recv_ctx[i],
			ND_REQUEST_TYPE_RECEIVE);
	qp->nrecv = 0;
	return ND_SUCCESS;
}

static const struct nd_qp_fast_ops qp_fast = {
    .send = qp_send,
    .receive = qp_receive,
    .bind = qp_bind,
    .invalidate = qp_invalidate,
    .read = qp_rdma,
    .write = qp_rdma,
};
static const struct nd_qp_ops qp_ops = {.flush = qp_flush};

/* --- MR, SRQ ------------------------------------------------------------- */

static nd_status mr_register(struct nd_mr_base *mr, const void *buf, size_t len,
			     uint32_t flags, struct nd_overlapped *ov)
{
	(void)buf;
	(void)len;
	(void)flags;
	mr->local_token = next_token++;
	mr->remote_token = htonl(mr->local_token);
	if (async_mr) {
		nd_ov_begin(&mr->obj, ov, 1, NULL);
		return ND_PENDING;
	}
	mr->registered = 1;
	return ND_SUCCESS;
}

static nd_status mr_deregister(struct nd_mr_base *mr, struct nd_overlapped *ov)
{
	if (async_mr) {
		nd_ov_begin(&mr->obj, ov, 2, NULL);
		return ND_PENDING;
	}
	mr->registered = 0;
	return ND_SUCCESS;
}

static const struct nd_mr_ops mr_ops = {.register_memory = mr_register,
					.deregister_memory = mr_deregister};

static nd_status srq_receive(struct nd_srq *srq, void *ctx,
			     const struct nd_sge *sge, uint32_t nsge)
{
	(void)srq;
	(void)ctx;
	(void)sge;
	return nsge > 4 ? ND_DATA_OVERRUN : ND_SUCCESS;
}

static nd_status srq_modify(struct nd_srq_base *b, uint32_t depth,
			    uint32_t threshold)
{
	(void)b;
	(void)depth;
	(void)threshold;
	return ND_SUCCESS;
}

static nd_status srq_notify(struct nd_srq_base *b, struct nd_overlapped *ov)
{
	nd_ov_begin(&b->obj, ov, 0, NULL);
	return ND_PENDING;
}

static const struct nd_srq_fast_ops srq_fast = {.receive = srq_receive};
static const struct nd_srq_ops srq_ops = {.modify = srq_modify,
					  .notify = srq_notify};

/* --- connector, listener -------------------------------------------------- */

static struct tp_obj *tpc(struct nd_connector_base *b)
{
	return container_of(b, struct tp_obj, conn);
}

static nd_status conn_bind(struct nd_connector_base *b,
			   const struct sockaddr *addr, uint32_t len)
{
	(void)addr;
	(void)len;
	if (tpc(b)->state)
		return ND_ADDRESS_ALREADY_ASSOCIATED;
	tpc(b)->state = 1;
	return ND_SUCCESS;
}

static nd_status conn_connect(struct nd_connector_base *b,
			      struct nd_qp_base *qp,
			      const struct sockaddr *dest, uint32_t dest_len,
			      uint32_t in, uint32_t out, const void *pd,
			      uint32_t pd_len, struct nd_overlapped *ov)
{
	(void)qp;
	(void)dest;
	(void)dest_len;
	(void)in;
	(void)out;
	(void)pd;
	(void)pd_len;
	if (tpc(b)->state > 1)
		return ND_CONNECTION_ACTIVE;
	tpc(b)->state = 2;
	nd_ov_begin(&b->obj, ov, 1, NULL);
	return ND_PENDING;
}

static nd_status conn_async(struct nd_connector_base *b,
			    struct nd_overlapped *ov, uint32_t kind)
{
	if (tpc(b)->state < 2)
		return ND_CONNECTION_INVALID;
	nd_ov_begin(&b->obj, ov, kind, NULL);
	return ND_PENDING;
}

static nd_status conn_complete(struct nd_connector_base *b,
			       struct nd_overlapped *ov)
{
	return conn_async(b, ov, 2);
}

static nd_status conn_accept(struct nd_connector_base *b, struct nd_qp_base *qp,
			     uint32_t in, uint32_t out, const void *pd,
			     uint32_t pd_len, struct nd_overlapped *ov)
{
	(void)qp;
	(void)in;
	(void)out;
	(void)pd;
	(void)pd_len;
	return conn_async(b, ov, 3);
}

static nd_status conn_notify_disconnect(struct nd_connector_base *b,
					struct nd_overlapped *ov)
{
	return conn_async(b, ov, 4);
}

static nd_status conn_disconnect(struct nd_connector_base *b,
				 struct nd_overlapped *ov)
{
	return conn_async(b, ov, 5);
}

static nd_status conn_reject(struct nd_connector_base *b, const void *pd,
			     uint32_t len)
{
	(void)pd;
	(void)len;
	return tpc(b)->state >= 2 ? ND_SUCCESS : ND_CONNECTION_INVALID;
}

/* The peer's offer as it came: the outbound one above the adapter's 4, which
 * the core must clamp. */
static nd_status conn_limits(struct nd_connector_base *b, uint32_t *in,
			     uint32_t *out)
{
	if (tpc(b)->state < 2)
		return ND_CONNECTION_INVALID;
	*in = 1;
	*out = 9;
	return ND_SUCCESS;
}

/* The peer's private data: "peerdat\0" unless a test sets other. */
static uint8_t peer_data[ND_MAX_PRIVATE_DATA] = "peerdat";
static uint32_t peer_data_len = 8;

void testprov_set_peer_data(const void *data, uint32_t len);
void testprov_set_peer_data(const void *data, uint32_t len)
{
	if (len)
		memcpy(peer_data, data, len);
	peer_data_len = len;
}

static nd_status conn_pdata(struct nd_connector_base *b, void *buf,
			    uint32_t *len)
{
	if (tpc(b)->state < 2)
		return ND_CONNECTION_INVALID;
	memcpy(buf, peer_data, peer_data_len);
	*len = peer_data_len;
	return ND_SUCCESS;
}

static nd_status conn_address(struct nd_connector_base *b,
			      struct sockaddr_storage *ss, uint32_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	if (tpc(b)->state < 1)
		return ND_CONNECTION_INVALID;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(4242);
	inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
	*len = sizeof(*sin);
	return ND_SUCCESS;
}

static const struct nd_connector_ops conn_ops = {
    .bind = conn_bind,
    .connect = conn_connect,
    .complete_connect = conn_complete,
    .accept = conn_accept,
    .reject = conn_reject,
    .get_read_limits = conn_limits,
    .get_private_data = conn_pdata,
    .get_local_address = conn_address,
    .get_peer_address = conn_address,
    .notify_disconnect = conn_notify_disconnect,
    .disconnect = conn_disconnect,
};

static struct tp_obj *tpl(struct nd_listener_base *b)
{
	return container_of(b, struct tp_obj, lis);
}

static nd_status lis_bind(struct nd_listener_base *b,
			  const struct sockaddr *addr, uint32_t len)
{
	(void)addr;
	(void)len;
	if (tpl(b)->state)
		return ND_ADDRESS_ALREADY_ASSOCIATED;
	tpl(b)->state = 1;
	return ND_SUCCESS;
}

static nd_status lis_listen(struct nd_listener_base *b, uint32_t backlog)
{
	(void)backlog;
	if (tpl(b)->state != 1)
		return ND_INVALID_DEVICE_STATE;
	tpl(b)->state = 2;
	return ND_SUCCESS;
}

static nd_status lis_address(struct nd_listener_base *b,
			     struct sockaddr_storage *ss, uint32_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	if (tpl(b)->state != 2)
		return ND_INVALID_DEVICE_STATE;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(5000);
	*len = sizeof(*sin);
	return ND_SUCCESS;
}

static nd_status lis_get_request(struct nd_listener_base *b,
				 struct nd_connector_base *conn,
				 struct nd_overlapped *ov)
{
	nd_ov_begin(&b->obj, ov, 0, conn);
	return ND_PENDING;
}

static const struct nd_listener_ops lis_ops = {
    .bind = lis_bind,
    .listen = lis_listen,
    .get_local_address = lis_address,
    .get_connection_request = lis_get_request,
};

/* --- adapter -------------------------------------------------------------- */

static const struct nd_provider test_provider;

/* The caller gives it its base with the library's constructor, as an
 * out-of-tree provider would: they are part of what these tests load. */
static void *obj_new(size_t size)
{
	void *obj = calloc(1, size);

	if (obj)
		live_objects++;
	return obj;
}

static nd_status addresses(struct sockaddr_storage ss[2])
{
	memset(ss, 0, 2 * sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss[0];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss[1];
	v4->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &v4->sin_addr);
	v6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &v6->sin6_addr);
	return ND_SUCCESS;
}

static nd_status ad_address_list(struct nd_adapter_base *a,
				 struct nd_address_list *list, uint32_t *size)
{
	struct sockaddr_storage ss[2];
	size_t sz = *size;
	nd_status st;

	(void)a;
	addresses(ss);
	st = nd_address_list_build(ss, 2, list, &sz);
	*size = (uint32_t)sz;
	return st;
}

static nd_status ad_create_cq(struct nd_adapter_base *a, uint32_t depth,
			      uint16_t group, uint64_t affinity,
			      struct nd_cq **out)
{
	struct tp_cq *cq = obj_new(sizeof(*cq));

	(void)group;
	(void)affinity;
	if (!cq)
		return ND_NO_MEMORY;
	nd_cq_base_init(&cq->base, &cq_fast, &tp_obj_ops, &cq_ops, a);
	cq->depth = depth;
	*out = &cq->base.pub;
	return ND_SUCCESS;
}

static nd_status ad_create_mr(struct nd_adapter_base *a, struct nd_mr **out)
{
	struct tp_obj *o = obj_new(sizeof(*o));

	if (!o)
		return ND_NO_MEMORY;
	nd_mr_base_init(&o->mr, &tp_obj_ops, &mr_ops, a);
	*out = &o->mr.pub;
	return ND_SUCCESS;
}

static nd_status ad_create_mw(struct nd_adapter_base *a, struct nd_mw **out)
{
	struct tp_obj *o = obj_new(sizeof(*o));

	if (!o)
		return ND_NO_MEMORY;
	nd_mw_base_init(&o->mw, &tp_obj_ops, a);
	*out = &o->mw.pub;
	return ND_SUCCESS;
}

static nd_status ad_create_srq(struct nd_adapter_base *a, uint32_t depth,
			       uint32_t sge, uint32_t threshold, uint16_t group,
			       uint64_t affinity, struct nd_srq **out)
{
	struct tp_obj *o = obj_new(sizeof(*o));

	(void)depth;
	(void)sge;
	(void)threshold;
	(void)group;
	(void)affinity;
	if (!o)
		return ND_NO_MEMORY;
	nd_srq_base_init(&o->srq, &srq_fast, &tp_obj_ops, &srq_ops, a);
	*out = &o->srq.pub;
	return ND_SUCCESS;
}

static nd_status ad_create_qp(struct nd_adapter_base *a, struct nd_cq *rcq,
			      struct nd_cq *icq, struct nd_srq *srq,
			      void *context, uint32_t rdepth, uint32_t idepth,
			      uint32_t rsge, uint32_t isge, uint32_t inl,
			      struct nd_qp **out)
{
	struct tp_qp *qp = obj_new(sizeof(*qp));

	(void)srq;
	(void)rdepth;
	(void)idepth;
	(void)rsge;
	(void)isge;
	(void)inl;
	if (!qp)
		return ND_NO_MEMORY;
	nd_qp_base_init(&qp->base, &qp_fast, &tp_obj_ops, &qp_ops, context, a);
	qp->rcq = container_of(rcq, struct tp_cq, base.pub);
	qp->icq = container_of(icq, struct tp_cq, base.pub);
	*out = &qp->base.pub;
	return ND_SUCCESS;
}

static nd_status ad_create_connector(struct nd_adapter_base *a,
				     struct nd_connector **out)
{
	struct tp_obj *o = obj_new(sizeof(*o));

	if (!o)
		return ND_NO_MEMORY;
	nd_connector_base_init(&o->conn, &tp_obj_ops, &conn_ops, a);
	*out = &o->conn.pub;
	return ND_SUCCESS;
}

static nd_status ad_create_listener(struct nd_adapter_base *a,
				    struct nd_listener **out)
{
	struct tp_obj *o = obj_new(sizeof(*o));

	if (!o)
		return ND_NO_MEMORY;
	nd_listener_base_init(&o->lis, &tp_obj_ops, &lis_ops, a);
	*out = &o->lis.pub;
	return ND_SUCCESS;
}

static const struct nd_adapter_ops adapter_ops = {
    .query_address_list = ad_address_list,
    .create_cq = ad_create_cq,
    .create_mr = ad_create_mr,
    .create_mw = ad_create_mw,
    .create_srq = ad_create_srq,
    .create_qp = ad_create_qp,
    .create_connector = ad_create_connector,
    .create_listener = ad_create_listener,
};

static nd_status tp_query_address_list(struct nd_address_list *list,
				       size_t *size)
{
	struct sockaddr_storage ss[2];

	addresses(ss);
	return nd_address_list_build(ss, 2, list, size);
}

static nd_status tp_resolve(const struct sockaddr *addr, size_t len,
			    uint64_t *id)
{
	struct sockaddr_storage ss[2];

	(void)len;
	addresses(ss);
	if (addr->sa_family == AF_INET &&
	    ((const struct sockaddr_in *)addr)->sin_addr.s_addr ==
		((struct sockaddr_in *)&ss[0])->sin_addr.s_addr)
		*id = 1;
	else if (addr->sa_family == AF_INET6 &&
		 !memcmp(&((const struct sockaddr_in6 *)addr)->sin6_addr,
			 &((struct sockaddr_in6 *)&ss[1])->sin6_addr, 16))
		*id = 1;
	else
		return ND_INVALID_ADDRESS;
	return ND_SUCCESS;
}

static nd_status tp_open(uint64_t id, struct nd_adapter **out)
{
	struct nd_adapter_base *a;
	nd_status st;

	if (id != 1)
		return ND_INVALID_PARAMETER;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ND_NO_MEMORY;
	a->info = (struct nd_adapter_info){
	    .vendor_id = 0x1234,
	    .device_id = 1,
	    .adapter_id = 1,
	    .max_registration_size = 1ull << 30,
	    .max_window_size = 1ull << 30,
	    .max_initiator_sge = 4,
	    .max_receive_sge = 4,
	    .max_read_sge = 1,
	    .max_transfer_length = 1u << 30,
	    .max_inline_data_size = 64,
	    .max_inbound_read_limit = 4,
	    .max_outbound_read_limit = 4,
	    .max_receive_queue_depth = DEPTH,
	    .max_initiator_queue_depth = DEPTH,
	    .max_shared_receive_queue_depth = DEPTH,
	    .max_completion_queue_depth = DEPTH,
	    .inline_request_threshold = 64,
	    .large_request_threshold = 4096,
	    .max_caller_data = 56,
	    .max_callee_data = 148,
	    .adapter_flags = ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED |
			     ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED |
			     ND_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
	};
	snprintf(a->device_name, sizeof(a->device_name), "test0");
	snprintf(a->transport, sizeof(a->transport), "memory");
	st = nd_adapter_base_init(a, &adapter_ops, &tp_obj_ops, &test_provider);
	if (st != ND_SUCCESS) {
		free(a);
		return st;
	}
	live_objects++;
	*out = &a->pub;
	return ND_SUCCESS;
}

static const struct nd_provider test_provider = {
    .abi_version = ND_PROVIDER_ABI_VERSION,
    .size = sizeof(struct nd_provider),
    .name = "test",
    .priority = 50,
    .query_address_list = tp_query_address_list,
    .resolve_address = tp_resolve,
    .open_adapter = tp_open,
};

const struct nd_provider *nd_provider_entry(uint32_t core_abi);

const struct nd_provider *nd_provider_entry(uint32_t core_abi)
{
	(void)core_abi;
	return &test_provider;
}
