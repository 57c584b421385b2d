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
