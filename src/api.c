/* SPDX-License-Identifier: MIT */
/*
 * The object calls: each validates its arguments once, here, with the status
 * ND names, then makes one call into the provider. Fast-path calls are inline
 * in nd.h and do not come through here.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

/* Resolves `handle` to its object or returns ND_INVALID_HANDLE; from here
 * on `handle` names the object, as the providers' calls take it. */
#define LIVE_OR_RETURN(var, handle, type)                                      \
	struct nd_object *var = ndi_object(handle, type);                      \
	if (!var)                                                              \
		return ND_INVALID_HANDLE;                                      \
	handle = (void *)var

/* The adapter an object belongs to; an adapter belongs to itself. */
static struct nd_adapter_base *adapter_of(struct nd_object *obj)
{
	return obj->head.type == ND_OBJ_ADAPTER
		   ? container_of(obj, struct nd_adapter_base, obj)
		   : obj->adapter;
}

/* A child object argument: live, of its type, and of the same adapter. */
static struct nd_object *child_of(struct nd_object *owner, const void *handle,
				  enum nd_object_type type)
{
	struct nd_object *obj = ndi_object(handle, type);

	return obj && obj->adapter == adapter_of(owner) ? obj : NULL;
}

/* child_of for an argument passed on: it then names the object (or NULL). */
#define CHILD_OF(owner, handle, type)                                          \
	((handle) = (void *)child_of(owner, handle, type))

static nd_status check_private_data(const void *data, uint32_t len,
				    uint32_t max)
{
	if (len && !data)
		return ND_ACCESS_VIOLATION;
	if (len > max) {
		ND_INFO("core", "private data of %u bytes exceeds the limit %u",
			len, max);
		return ND_INVALID_BUFFER_SIZE;
	}
	return ND_SUCCESS;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Size protocol of the Get*Address calls: untouched buffer if too small. */
static nd_status copy_address(nd_status st, const struct sockaddr_storage *ss,
			      uint32_t len, struct sockaddr *addr,
			      uint32_t *addr_len)
{
	if (ND_FAILED(st))
		return st;
	if (!addr || *addr_len < len) {
		*addr_len = len;
		return ND_BUFFER_OVERFLOW;
	}
	memcpy(addr, ss, len);
	*addr_len = len;
	return ND_SUCCESS;
}

/* GetNotifyAffinity's checks, and its answer where the provider has no
 * preference: group 0, no affinity. */
static nd_status default_affinity(uint16_t *group, uint64_t *affinity)
{
	if (!group)
		return ND_INVALID_PARAMETER_1;
	if (!affinity)
		return ND_INVALID_PARAMETER_2;
	*group = 0;
	*affinity = 0;
	return ND_SUCCESS;
}

/* --- adapter ------------------------------------------------------------ */

nd_status nd_adapter_release(struct nd_adapter *adapter)
{
	return ndi_release(adapter, ND_OBJ_ADAPTER);
}

nd_status nd_adapter_query(struct nd_adapter *adapter,
			   struct nd_adapter_info *info, uint32_t *size)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!size)
		return ND_INVALID_PARAMETER_2;
	if (!info || *size < sizeof(*info)) {
		*size = sizeof(*info);
		return ND_BUFFER_OVERFLOW;
	}
	uint32_t version = info->info_version;
	if (version != ND_VERSION_2 && version != ND_VERSION_1) {
		ND_INFO("core",
			"nd_adapter_query: info_version 0x%x; set it "
			"to ND_VERSION_2",
			version);
		return ND_INVALID_PARAMETER_1;
	}
	*info = nd_adapter_base_of(adapter)->info;
	info->info_version = version;
	*size = sizeof(*info);
	return ND_SUCCESS;
}

nd_status nd_adapter_get_identity(struct nd_adapter *adapter,
				  struct nd_adapter_identity *identity)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!identity)
		return ND_INVALID_PARAMETER_1;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	memset(identity, 0, sizeof(*identity));
	snprintf(identity->provider, sizeof(identity->provider), "%s",
		 a->provider->name);
	snprintf(identity->device, sizeof(identity->device), "%.*s",
		 (int)sizeof(a->device_name), a->device_name);
	snprintf(identity->transport, sizeof(identity->transport), "%.*s",
		 (int)sizeof(a->transport), a->transport);
	return ND_SUCCESS;
}

nd_status nd_adapter_query_address_list(struct nd_adapter *adapter,
					struct nd_address_list *list,
					uint32_t *size)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!size)
		return ND_INVALID_PARAMETER_2;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	return a->ops->query_address_list(a, list, size);
}

nd_status nd_adapter_create_cq(struct nd_adapter *adapter, uint32_t depth,
			       uint16_t group, uint64_t affinity,
			       struct nd_cq **cq)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);

	if (depth == 0 || depth > a->info.max_completion_queue_depth)
		return ND_INVALID_PARAMETER_3;
	if (!cq)
		return ND_INVALID_PARAMETER_6;
	return NDI_PUBLISH(a->ops->create_cq(a, depth, group, affinity, cq),
			   cq);
}

nd_status nd_adapter_create_mr(struct nd_adapter *adapter, struct nd_mr **mr)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!mr)
		return ND_INVALID_PARAMETER_3;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	return NDI_PUBLISH(a->ops->create_mr(a, mr), mr);
}

nd_status nd_adapter_create_mw(struct nd_adapter *adapter, struct nd_mw **mw)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!mw)
		return ND_INVALID_PARAMETER_2;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	if (!a->ops->create_mw)
		return ND_NOT_SUPPORTED;
	return NDI_PUBLISH(a->ops->create_mw(a, mw), mw);
}

nd_status nd_adapter_create_srq(struct nd_adapter *adapter, uint32_t depth,
				uint32_t max_request_sge,
				uint32_t notify_threshold, uint16_t group,
				uint64_t affinity, struct nd_srq **srq)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);

	if (!a->ops->create_srq || a->info.max_shared_receive_queue_depth == 0)
		return ND_NOT_SUPPORTED;
	if (depth == 0 || depth > a->info.max_shared_receive_queue_depth)
		return ND_INVALID_PARAMETER_3;
	if (max_request_sge > a->info.max_receive_sge)
		return ND_INVALID_PARAMETER_4;
	if (!srq)
		return ND_INVALID_PARAMETER_8;
	return NDI_PUBLISH(a->ops->create_srq(a, depth, max_request_sge,
					      notify_threshold, group, affinity,
					      srq),
			   srq);
}

/* Adds a created QP's CQs and SRQ as parents it keeps alive. */
static void qp_hold_parents(struct nd_qp *qp, struct nd_object *rcq,
			    struct nd_object *icq, struct nd_object *srq)
{
	struct nd_object *obj = &nd_qp_base_of(qp)->obj;
	struct nd_object *parents[3] = {rcq, icq, srq};

	for (unsigned i = 0; i < 3; i++) {
		if (parents[i])
			nd_object_retain(parents[i]);
		obj->parents[i] = parents[i];
	}
}

nd_status nd_adapter_create_qp(struct nd_adapter *adapter,
			       struct nd_cq *receive_cq,
			       struct nd_cq *initiator_cq, void *context,
			       uint32_t receive_depth, uint32_t initiator_depth,
			       uint32_t max_receive_sge,
			       uint32_t max_initiator_sge,
			       uint32_t inline_data_size, struct nd_qp **qp)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	struct nd_object *rcq = child_of(obj, receive_cq, ND_OBJ_CQ);
	struct nd_object *icq = child_of(obj, initiator_cq, ND_OBJ_CQ);
	const struct nd_adapter_info *in = &a->info;
	nd_status st;

	if (!rcq)
		return ND_INVALID_PARAMETER_2;
	if (!icq)
		return ND_INVALID_PARAMETER_3;
	if (receive_depth > in->max_receive_queue_depth)
		return ND_INVALID_PARAMETER_5;
	if (initiator_depth > in->max_initiator_queue_depth)
		return ND_INVALID_PARAMETER_6;
	if (max_receive_sge > in->max_receive_sge)
		return ND_INVALID_PARAMETER_7;
	if (max_initiator_sge > in->max_initiator_sge)
		return ND_INVALID_PARAMETER_8;
	if (inline_data_size > in->max_inline_data_size)
		return ND_INVALID_PARAMETER_9;
	if (!qp)
		return ND_INVALID_PARAMETER_10;
	st = a->ops->create_qp(a, (struct nd_cq *)rcq, (struct nd_cq *)icq,
			       NULL, context, receive_depth, initiator_depth,
			       max_receive_sge, max_initiator_sge,
			       inline_data_size, qp);
	if (st == ND_SUCCESS)
		qp_hold_parents(*qp, rcq, icq, NULL);
	return NDI_PUBLISH(st, qp);
}

nd_status nd_adapter_create_qp_with_srq(
    struct nd_adapter *adapter, struct nd_cq *receive_cq,
    struct nd_cq *initiator_cq, struct nd_srq *srq, void *context,
    uint32_t initiator_depth, uint32_t max_initiator_sge,
    uint32_t inline_data_size, struct nd_qp **qp)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	struct nd_object *rcq = child_of(obj, receive_cq, ND_OBJ_CQ);
	struct nd_object *icq = child_of(obj, initiator_cq, ND_OBJ_CQ);
	struct nd_object *sobj = child_of(obj, srq, ND_OBJ_SRQ);
	const struct nd_adapter_info *in = &a->info;
	nd_status st;

	if (!a->ops->create_srq || in->max_shared_receive_queue_depth == 0)
		return ND_NOT_SUPPORTED;
	if (!rcq)
		return ND_INVALID_PARAMETER_2;
	if (!icq)
		return ND_INVALID_PARAMETER_3;
	if (!sobj)
		return ND_INVALID_PARAMETER_4;
	if (initiator_depth > in->max_initiator_queue_depth)
		return ND_INVALID_PARAMETER_6;
	if (max_initiator_sge > in->max_initiator_sge)
		return ND_INVALID_PARAMETER_7;
	if (inline_data_size > in->max_inline_data_size)
		return ND_INVALID_PARAMETER_8;
	if (!qp)
		return ND_INVALID_PARAMETER_9;
	st = a->ops->create_qp(a, (struct nd_cq *)rcq, (struct nd_cq *)icq,
			       (struct nd_srq *)sobj, context, 0,
			       initiator_depth, 0, max_initiator_sge,
			       inline_data_size, qp);
	if (st == ND_SUCCESS)
		qp_hold_parents(*qp, rcq, icq, sobj);
	return NDI_PUBLISH(st, qp);
}

nd_status nd_adapter_create_connector(struct nd_adapter *adapter,
				      struct nd_connector **connector)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!connector)
		return ND_INVALID_PARAMETER_3;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	return NDI_PUBLISH(a->ops->create_connector(a, connector), connector);
}

nd_status nd_adapter_create_listener(struct nd_adapter *adapter,
				     struct nd_listener **listener)
{
	LIVE_OR_RETURN(obj, adapter, ND_OBJ_ADAPTER);
	(void)obj;
	if (!listener)
		return ND_INVALID_PARAMETER_3;
	struct nd_adapter_base *a = nd_adapter_base_of(adapter);
	return NDI_PUBLISH(a->ops->create_listener(a, listener), listener);
}

/* --- completion queue ---------------------------------------------------- */

nd_status nd_cq_release(struct nd_cq *cq)
{
	return ndi_release(cq, ND_OBJ_CQ);
}

nd_status nd_cq_get_notify_affinity(struct nd_cq *cq, uint16_t *group,
				    uint64_t *affinity)
{
	LIVE_OR_RETURN(obj, cq, ND_OBJ_CQ);
	(void)obj;
	struct nd_cq_base *b = nd_cq_base_of(cq);
	if (!group || !affinity || !b->ops->get_notify_affinity)
		return default_affinity(group, affinity);
	return b->ops->get_notify_affinity(b, group, affinity);
}

nd_status nd_cq_resize(struct nd_cq *cq, uint32_t depth)
{
	LIVE_OR_RETURN(obj, cq, ND_OBJ_CQ);
	struct nd_cq_base *b = nd_cq_base_of(cq);

	if (!b->ops->resize || !(obj->adapter->info.adapter_flags &
				 ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED))
		return ND_NOT_SUPPORTED;
	if (depth == 0 || depth > obj->adapter->info.max_completion_queue_depth)
		return ND_INVALID_PARAMETER;
	return b->ops->resize(b, depth);
}

nd_status nd_cq_notify(struct nd_cq *cq, uint32_t type,
		       struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, cq, ND_OBJ_CQ);
	if (type > ND_CQ_NOTIFY_SOLICITED)
		return ND_INVALID_PARAMETER_1;
	if (!ov)
		return ND_INVALID_PARAMETER_2;
	struct nd_cq_base *b = nd_cq_base_of(cq);
	return ndi_ov_sync(obj, ov, b->ops->notify(b, type, ov));
}

/* --- memory region and window ------------------------------------------- */

nd_status nd_mr_release(struct nd_mr *mr)
{
	return ndi_release(mr, ND_OBJ_MR);
}

nd_status nd_mr_register(struct nd_mr *mr, const void *buffer, size_t length,
			 uint32_t flags, struct nd_overlapped *ov)
{
	const uint32_t known =
	    ND_MR_FLAG_ALLOW_LOCAL_WRITE | ND_MR_FLAG_ALLOW_REMOTE_READ |
	    ND_MR_FLAG_ALLOW_REMOTE_WRITE | ND_MR_FLAG_RDMA_READ_SINK |
	    ND_MR_FLAG_DO_NOT_SECURE_VM;
	LIVE_OR_RETURN(obj, mr, ND_OBJ_MR);
	struct nd_mr_base *b = nd_mr_base_of(mr);

	if (!ov)
		return ND_INVALID_PARAMETER_4;
	if (!buffer)
		return ndi_ov_sync(obj, ov, ND_INVALID_PARAMETER);
	if (length == 0)
		return ndi_ov_sync(obj, ov, ND_INVALID_BUFFER_SIZE);
	if (length > obj->adapter->info.max_registration_size)
		return ndi_ov_sync(obj, ov, ND_INVALID_PARAMETER);
	if (flags & ~known)
		return ndi_ov_sync(obj, ov, ND_INVALID_PARAMETER_3);
	if (__atomic_load_n(&b->registered, __ATOMIC_ACQUIRE))
		return ndi_ov_sync(obj, ov, ND_INVALID_DEVICE_STATE);
	/* Any of these asks for the right to write the memory. */
	nd_status st = ndi_check_mapped(buffer, length,
					flags & (ND_MR_FLAG_ALLOW_LOCAL_WRITE |
						 ND_MR_FLAG_ALLOW_REMOTE_WRITE |
						 ND_MR_FLAG_RDMA_READ_SINK));
	if (st != ND_SUCCESS)
		return ndi_ov_sync(obj, ov, st);
	return ndi_ov_sync(
	    obj, ov, b->ops->register_memory(b, buffer, length, flags, ov));
}

nd_status nd_mr_deregister(struct nd_mr *mr, struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, mr, ND_OBJ_MR);
	struct nd_mr_base *b = nd_mr_base_of(mr);

	if (!ov)
		return ND_INVALID_PARAMETER_1;
	if (!__atomic_load_n(&b->registered, __ATOMIC_ACQUIRE))
		return ndi_ov_sync(obj, ov, ND_INVALID_DEVICE_STATE);
	if (__atomic_load_n(&b->bound_windows, __ATOMIC_ACQUIRE))
		return ndi_ov_sync(obj, ov, ND_DEVICE_BUSY);
	return ndi_ov_sync(obj, ov, b->ops->deregister_memory(b, ov));
}

uint32_t nd_mr_get_local_token(struct nd_mr *mr)
{
	struct nd_object *obj = ndi_object(mr, ND_OBJ_MR);

	return obj ? nd_mr_base_of((struct nd_mr *)obj)->local_token : 0;
}

uint32_t nd_mr_get_remote_token(struct nd_mr *mr)
{
	struct nd_object *obj = ndi_object(mr, ND_OBJ_MR);

	return obj ? nd_mr_base_of((struct nd_mr *)obj)->remote_token : 0;
}

nd_status nd_mw_release(struct nd_mw *mw)
{
	return ndi_release(mw, ND_OBJ_MW);
}

uint32_t nd_mw_get_remote_token(struct nd_mw *mw)
{
	struct nd_object *obj = ndi_object(mw, ND_OBJ_MW);

	return obj ? nd_mw_base_of((struct nd_mw *)obj)->remote_token : 0;
}

/* --- shared receive queue ----------------------------------------------- */

nd_status nd_srq_release(struct nd_srq *srq)
{
	return ndi_release(srq, ND_OBJ_SRQ);
}

nd_status nd_srq_get_notify_affinity(struct nd_srq *srq, uint16_t *group,
				     uint64_t *affinity)
{
	LIVE_OR_RETURN(obj, srq, ND_OBJ_SRQ);
	(void)obj;
	struct nd_srq_base *b = nd_srq_base_of(srq);
	if (!group || !affinity || !b->ops->get_notify_affinity)
		return default_affinity(group, affinity);
	return b->ops->get_notify_affinity(b, group, affinity);
}

nd_status nd_srq_modify(struct nd_srq *srq, uint32_t depth,
			uint32_t notify_threshold)
{
	LIVE_OR_RETURN(obj, srq, ND_OBJ_SRQ);
	if (depth > obj->adapter->info.max_shared_receive_queue_depth)
		return ND_INVALID_PARAMETER;
	if (depth == 0 && notify_threshold == 0)
		return ND_SUCCESS;
	struct nd_srq_base *b = nd_srq_base_of(srq);
	return b->ops->modify(b, depth, notify_threshold);
}

nd_status nd_srq_notify(struct nd_srq *srq, struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, srq, ND_OBJ_SRQ);
	if (!ov)
		return ND_INVALID_PARAMETER_1;
	struct nd_srq_base *b = nd_srq_base_of(srq);
	return ndi_ov_sync(obj, ov, b->ops->notify(b, ov));
}

/* --- queue pair ----------------------------------------------------------- */

nd_status nd_qp_release(struct nd_qp *qp)
{
	return ndi_release(qp, ND_OBJ_QP);
}

nd_status nd_qp_flush(struct nd_qp *qp)
{
	LIVE_OR_RETURN(obj, qp, ND_OBJ_QP);
	(void)obj;
	struct nd_qp_base *b = nd_qp_base_of(qp);
	return b->ops->flush(b);
}

/* --- connector ------------------------------------------------------------ */

nd_status nd_connector_release(struct nd_connector *connector)
{
	return ndi_release(connector, ND_OBJ_CONNECTOR);
}

nd_status nd_connector_bind(struct nd_connector *connector,
			    const struct sockaddr *addr, uint32_t len)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	(void)obj;
	if (!addr)
		return ND_INVALID_PARAMETER_1;
	nd_status st = ndi_check_sockaddr(addr, len, ND_INVALID_PARAMETER_2);
	if (ND_FAILED(st))
		return st;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	return b->ops->bind(b, addr, len);
}

nd_status nd_connector_connect(struct nd_connector *connector, struct nd_qp *qp,
			       const struct sockaddr *dest, uint32_t dest_len,
			       uint32_t inbound_read_limit,
			       uint32_t outbound_read_limit,
			       const void *private_data,
			       uint32_t private_data_len,
			       struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	const struct nd_adapter_info *in = &obj->adapter->info;
	nd_status st;

	if (!CHILD_OF(obj, qp, ND_OBJ_QP))
		return ND_INVALID_PARAMETER_1;
	if (!dest)
		return ND_INVALID_PARAMETER_2;
	st = ndi_check_sockaddr(dest, dest_len, ND_INVALID_PARAMETER_3);
	if (ND_FAILED(st))
		return st;
	if (!ov)
		return ND_INVALID_PARAMETER_8;
	st = check_private_data(private_data, private_data_len,
				in->max_caller_data);
	if (ND_FAILED(st))
		return ndi_ov_sync(obj, ov, st);
	if (nd_util_sockaddr_is_any(dest))
		return ndi_ov_sync(obj, ov, ND_BAD_NETWORK_NAME);

	struct nd_connector_base *b = nd_connector_base_of(connector);
	return ndi_ov_sync(
	    obj, ov,
	    b->ops->connect(
		b, nd_qp_base_of(qp), dest, dest_len,
		min_u32(inbound_read_limit, in->max_inbound_read_limit),
		min_u32(outbound_read_limit, in->max_outbound_read_limit),
		private_data, private_data_len, ov));
}

nd_status nd_connector_complete_connect(struct nd_connector *connector,
					struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	if (!ov)
		return ND_INVALID_PARAMETER_1;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	return ndi_ov_sync(obj, ov, b->ops->complete_connect(b, ov));
}

nd_status nd_connector_accept(struct nd_connector *connector, struct nd_qp *qp,
			      uint32_t inbound_read_limit,
			      uint32_t outbound_read_limit,
			      const void *private_data,
			      uint32_t private_data_len,
			      struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	const struct nd_adapter_info *in = &obj->adapter->info;
	nd_status st;

	if (!CHILD_OF(obj, qp, ND_OBJ_QP))
		return ND_INVALID_PARAMETER_1;
	if (!ov)
		return ND_INVALID_PARAMETER_6;
	st = check_private_data(private_data, private_data_len,
				in->max_callee_data);
	if (ND_FAILED(st))
		return ndi_ov_sync(obj, ov, st);

	struct nd_connector_base *b = nd_connector_base_of(connector);
	return ndi_ov_sync(
	    obj, ov,
	    b->ops->accept(
		b, nd_qp_base_of(qp),
		min_u32(inbound_read_limit, in->max_inbound_read_limit),
		min_u32(outbound_read_limit, in->max_outbound_read_limit),
		private_data, private_data_len, ov));
}

nd_status nd_connector_reject(struct nd_connector *connector,
			      const void *private_data,
			      uint32_t private_data_len)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	nd_status st = check_private_data(private_data, private_data_len,
					  obj->adapter->info.max_callee_data);
	if (ND_FAILED(st))
		return st;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	return b->ops->reject(b, private_data, private_data_len);
}

nd_status nd_connector_get_read_limits(struct nd_connector *connector,
				       uint32_t *inbound_read_limit,
				       uint32_t *outbound_read_limit)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	const struct nd_adapter_info *info = &obj->adapter->info;
	uint32_t in = 0, out = 0;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	nd_status st = b->ops->get_read_limits(b, &in, &out);

	/* "each already clamped by both adapters' capabilities" (the spec):
	 * the peer clamped its offer to its adapter, this is ours. */
	if (st == ND_SUCCESS) {
		if (inbound_read_limit)
			*inbound_read_limit =
			    min_u32(in, info->max_inbound_read_limit);
		if (outbound_read_limit)
			*outbound_read_limit =
			    min_u32(out, info->max_outbound_read_limit);
	}
	return st;
}

nd_status nd_connector_get_private_data(struct nd_connector *connector,
					void *private_data, uint32_t *len)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	uint8_t buf[ND_MAX_PRIVATE_DATA];
	uint32_t have = sizeof(buf);

	if (!len)
		return ND_INVALID_PARAMETER_2;
	if (!private_data && *len)
		return ND_INVALID_PARAMETER_1;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	nd_status st = b->ops->get_private_data(b, buf, &have);
	if (st != ND_SUCCESS)
		return st;
	if (have > sizeof(buf)) {
		ND_ERR("core",
		       "provider %s reported %u bytes of private data, "
		       "more than the %zu it was given",
		       obj->adapter->provider->name, have, sizeof(buf));
		return ND_UNSUCCESSFUL;
	}
	/*
	 * ND's size protocol for this call (nd-spi-v2.md, GetPrivateData):
	 * "too small => ND_BUFFER_OVERFLOW, *pcb = full size, and the first
	 * *pcb_in bytes ARE copied". A buffer is too small only if it holds
	 * fewer bytes than there are, so when there are none, even NULL and
	 * 0 get ND_SUCCESS and 0.
	 */
	uint32_t room = *len;
	if (room && have)
		memcpy(private_data, buf, min_u32(room, have));
	*len = have;
	return room < have ? ND_BUFFER_OVERFLOW : ND_SUCCESS;
}

nd_status nd_connector_get_local_address(struct nd_connector *connector,
					 struct sockaddr *addr, uint32_t *len)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	(void)obj;
	struct sockaddr_storage ss;
	uint32_t ss_len = 0;

	if (!len)
		return ND_INVALID_PARAMETER_2;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	nd_status st = b->ops->get_local_address(b, &ss, &ss_len);
	return copy_address(st, &ss, ss_len, addr, len);
}

nd_status nd_connector_get_peer_address(struct nd_connector *connector,
					struct sockaddr *addr, uint32_t *len)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	(void)obj;
	struct sockaddr_storage ss;
	uint32_t ss_len = 0;

	if (!len)
		return ND_INVALID_PARAMETER_2;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	nd_status st = b->ops->get_peer_address(b, &ss, &ss_len);
	return copy_address(st, &ss, ss_len, addr, len);
}

nd_status nd_connector_notify_disconnect(struct nd_connector *connector,
					 struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	if (!ov)
		return ND_INVALID_PARAMETER_1;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	return ndi_ov_sync(obj, ov, b->ops->notify_disconnect(b, ov));
}

nd_status nd_connector_disconnect(struct nd_connector *connector,
				  struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, connector, ND_OBJ_CONNECTOR);
	if (!ov)
		return ND_INVALID_PARAMETER_1;
	struct nd_connector_base *b = nd_connector_base_of(connector);
	return ndi_ov_sync(obj, ov, b->ops->disconnect(b, ov));
}

/* --- listener ------------------------------------------------------------- */

nd_status nd_listener_release(struct nd_listener *listener)
{
	return ndi_release(listener, ND_OBJ_LISTENER);
}

nd_status nd_listener_bind(struct nd_listener *listener,
			   const struct sockaddr *addr, uint32_t len)
{
	LIVE_OR_RETURN(obj, listener, ND_OBJ_LISTENER);
	(void)obj;
	if (!addr)
		return ND_INVALID_PARAMETER_1;
	nd_status st = ndi_check_sockaddr(addr, len, ND_INVALID_PARAMETER_2);
	if (ND_FAILED(st))
		return st;
	struct nd_listener_base *b = nd_listener_base_of(listener);
	return b->ops->bind(b, addr, len);
}

nd_status nd_listener_listen(struct nd_listener *listener, uint32_t backlog)
{
	LIVE_OR_RETURN(obj, listener, ND_OBJ_LISTENER);
	(void)obj;
	struct nd_listener_base *b = nd_listener_base_of(listener);
	return b->ops->listen(b, backlog);
}

nd_status nd_listener_get_local_address(struct nd_listener *listener,
					struct sockaddr *addr, uint32_t *len)
{
	LIVE_OR_RETURN(obj, listener, ND_OBJ_LISTENER);
	(void)obj;
	struct sockaddr_storage ss;
	uint32_t ss_len = 0;

	if (!len)
		return ND_INVALID_PARAMETER_2;
	struct nd_listener_base *b = nd_listener_base_of(listener);
	nd_status st = b->ops->get_local_address(b, &ss, &ss_len);
	return copy_address(st, &ss, ss_len, addr, len);
}

nd_status nd_listener_get_connection_request(struct nd_listener *listener,
					     struct nd_connector *connector,
					     struct nd_overlapped *ov)
{
	LIVE_OR_RETURN(obj, listener, ND_OBJ_LISTENER);
	if (!CHILD_OF(obj, connector, ND_OBJ_CONNECTOR))
		return ND_INVALID_PARAMETER_1;
	if (!ov)
		return ND_INVALID_PARAMETER_2;
	struct nd_listener_base *b = nd_listener_base_of(listener);
	return ndi_ov_sync(obj, ov,
			   b->ops->get_connection_request(
			       b, nd_connector_base_of(connector), ov));
}
