/* SPDX-License-Identifier: MIT */
/*
 * Object construction and reference counting: one constructor per base
 * type, so that each object gets its type, its fast ops and its ops table in
 * one call; children keep their parents alive.
 */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

void nd_object_init(struct nd_object *obj, enum nd_object_type type,
		    const void *fast_ops, const struct nd_object_ops *ops,
		    struct nd_adapter_base *adapter)
{
	obj->head.fast_ops = fast_ops;
	obj->head.type = type;
	obj->head.magic = ND_OBJECT_MAGIC;
	obj->head.object = obj;
	obj->refs = 1;
	obj->closed = 0;
	obj->adapter = adapter;
	obj->ops = ops;
	for (unsigned i = 0; i < 3; i++)
		obj->parents[i] = NULL;
	obj->pending_head = obj->pending_tail = NULL;
	if (adapter)
		nd_object_retain(&adapter->obj);
}

/*
 * The adapter's engine lives here rather than in overlapped.c because this
 * is where every object gets its base: the adapter is one more constructor.
 */
nd_status nd_adapter_base_init(struct nd_adapter_base *adapter,
			       const struct nd_adapter_ops *ops,
			       const struct nd_object_ops *obj_ops,
			       const struct nd_provider *provider)
{
	struct nd_ov_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return ND_NO_MEMORY;
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->efd < 0) {
		ND_ERR("core", "eventfd: %s", strerror(errno));
		free(e);
		return ND_INSUFFICIENT_RESOURCES;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);

	nd_object_init(&adapter->obj, ND_OBJ_ADAPTER, NULL, obj_ops, NULL);
	adapter->ops = ops;
	adapter->provider = provider;
	adapter->engine = e;
	ndi_adapter_live(1);
	return ND_SUCCESS;
}

void nd_adapter_base_fini(struct nd_adapter_base *adapter)
{
	struct nd_ov_engine *e = adapter->engine;

	if (!e)
		return;
	close(e->efd);
	free(e->done);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
	adapter->engine = NULL;
	ndi_adapter_live(-1);
}

void nd_cq_base_init(struct nd_cq_base *cq, const struct nd_cq_fast_ops *fast,
		     const struct nd_object_ops *obj_ops,
		     const struct nd_cq_ops *ops,
		     struct nd_adapter_base *adapter)
{
	nd_object_init(&cq->obj, ND_OBJ_CQ, fast, obj_ops, adapter);
	cq->ops = ops;
}

void nd_srq_base_init(struct nd_srq_base *srq,
		      const struct nd_srq_fast_ops *fast,
		      const struct nd_object_ops *obj_ops,
		      const struct nd_srq_ops *ops,
		      struct nd_adapter_base *adapter)
{
	nd_object_init(&srq->obj, ND_OBJ_SRQ, fast, obj_ops, adapter);
	srq->ops = ops;
}

void nd_qp_base_init(struct nd_qp_base *qp, const struct nd_qp_fast_ops *fast,
		     const struct nd_object_ops *obj_ops,
		     const struct nd_qp_ops *ops, void *context,
		     struct nd_adapter_base *adapter)
{
	nd_object_init(&qp->obj, ND_OBJ_QP, fast, obj_ops, adapter);
	qp->ops = ops;
	qp->context = context;
}

void nd_mr_base_init(struct nd_mr_base *mr, const struct nd_object_ops *obj_ops,
		     const struct nd_mr_ops *ops,
		     struct nd_adapter_base *adapter)
{
	nd_object_init(&mr->obj, ND_OBJ_MR, NULL, obj_ops, adapter);
	mr->ops = ops;
	/* the core's bookkeeping: no registration, no windows yet, whatever
	 * the provider's allocator left there */
	mr->local_token = 0;
	mr->remote_token = 0;
	mr->registered = 0;
	mr->bound_windows = 0;
}

void nd_mw_base_init(struct nd_mw_base *mw, const struct nd_object_ops *obj_ops,
		     struct nd_adapter_base *adapter)
{
	nd_object_init(&mw->obj, ND_OBJ_MW, NULL, obj_ops, adapter);
	mw->remote_token = 0;
}

void nd_connector_base_init(struct nd_connector_base *conn,
			    const struct nd_object_ops *obj_ops,
			    const struct nd_connector_ops *ops,
			    struct nd_adapter_base *adapter)
{
	nd_object_init(&conn->obj, ND_OBJ_CONNECTOR, NULL, obj_ops, adapter);
	conn->ops = ops;
}

void nd_listener_base_init(struct nd_listener_base *listener,
			   const struct nd_object_ops *obj_ops,
			   const struct nd_listener_ops *ops,
			   struct nd_adapter_base *adapter)
{
	nd_object_init(&listener->obj, ND_OBJ_LISTENER, NULL, obj_ops, adapter);
	listener->ops = ops;
}

void nd_object_retain(struct nd_object *obj)
{
	__atomic_add_fetch(&obj->refs, 1, __ATOMIC_RELAXED);
}

void nd_object_put(struct nd_object *obj)
{
	if (__atomic_sub_fetch(&obj->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;

	struct nd_object *parents[3] = {obj->parents[0], obj->parents[1],
					obj->parents[2]};
	struct nd_adapter_base *adapter = obj->adapter;

	obj->head.magic = 0; /* catch use after release where we can */
	obj->ops->destroy(obj);
	for (unsigned i = 0; i < 3; i++)
		if (parents[i])
			nd_object_put(parents[i]);
	if (adapter)
		nd_object_put(&adapter->obj);
}
