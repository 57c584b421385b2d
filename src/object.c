/* SPDX-License-Identifier: MIT */
/* Object reference counting: children keep their parents alive. */
#include "core.h"

void nd_object_init(struct nd_object *obj, enum nd_object_type type,
		    const void *fast_ops, const struct nd_object_ops *ops,
		    struct nd_adapter_base *adapter)
{
	obj->head.fast_ops = fast_ops;
	obj->head.type = type;
	obj->head.magic = ND_OBJECT_MAGIC;
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

struct nd_object *ndi_object(const void *handle, enum nd_object_type type)
{
	struct nd_object *obj = (struct nd_object *)handle;

	if (!obj ||
	    __atomic_load_n(&obj->head.magic, __ATOMIC_ACQUIRE) !=
		ND_OBJECT_MAGIC ||
	    obj->head.type != (uint32_t)type ||
	    __atomic_load_n(&obj->closed, __ATOMIC_ACQUIRE))
		return NULL;
	return obj;
}

struct nd_object *ndi_ov_object(const void *handle)
{
	struct nd_object *obj = (struct nd_object *)handle;

	if (!obj || __atomic_load_n(&obj->head.magic, __ATOMIC_ACQUIRE) !=
			ND_OBJECT_MAGIC)
		return NULL;
	switch (obj->head.type) {
	case ND_OBJ_CQ:
	case ND_OBJ_MR:
	case ND_OBJ_SRQ:
	case ND_OBJ_CONNECTOR:
	case ND_OBJ_LISTENER:
		return ndi_object(handle, obj->head.type);
	default:
		return NULL;
	}
}

nd_status ndi_release(const void *handle, enum nd_object_type type)
{
	struct nd_object *obj = ndi_object(handle, type);

	if (!obj || __atomic_exchange_n(&obj->closed, 1, __ATOMIC_ACQ_REL))
		return ND_INVALID_HANDLE;
	/* The caller's handle ends here; the inline calls of nd.h see it in
	 * the head even while children keep the object alive. */
	__atomic_store_n(&obj->head.magic, 0, __ATOMIC_RELEASE);
	if (obj->ops->close)
		obj->ops->close(obj);
	if (obj->adapter) /* an adapter has no requests of its own */
		ndi_ov_cancel_all(obj);
	nd_object_put(obj);
	return ND_SUCCESS;
}
