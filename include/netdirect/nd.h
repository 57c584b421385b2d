/* SPDX-License-Identifier: MIT */
/*
 * netdirect: the NetworkDirect SPI v2 as a flat C API.
 *
 * Every NetworkDirect framework function and interface method has exactly one
 * counterpart here (docs/api-map.md is the table). Objects are opaque and
 * reference counted; nd_<object>_release() drops the caller's reference, and
 * children keep their parents alive, so objects may be released in any order.
 *
 * Statuses: ND_INVALID_PARAMETER_<n> counts parameters as NetworkDirect does
 * (the method's own parameters, 1-based, including the interface id and
 * overlapped-file handle that the C API leaves out), so a status means the
 * same here as in ND's documentation. Each call below names its numbering.
 * A NULL object as the first argument gives ND_INVALID_HANDLE, and so does a
 * released one while something else still keeps it alive (a QP its CQ); a
 * handle must not be used at all once its last reference is gone.
 *
 * Asynchronous calls take a caller-owned struct nd_overlapped and return
 * ND_SUCCESS (finished; nothing is queued), ND_PENDING (exactly one completion
 * follows) or an error (nothing follows). See struct nd_overlapped, and
 * nd_adapter_set_completion_mode() for Windows' rule, where ND_SUCCESS is
 * queued too.
 *
 * Post and poll calls are static inline and make one indirect call into the
 * provider: no allocation, no system call, no lock, no copy of the SGE list.
 */
#ifndef NETDIRECT_ND_H
#define NETDIRECT_ND_H

#include <netdirect/nd_status.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ND_VERSION_1 0x00000001u
#define ND_VERSION_2 0x00020000u

#if defined(__GNUC__)
#define ND_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ND_UNLIKELY(x) (x)
#endif

/* ---------------------------------------------------------------------------
 * Constants (NetworkDirect's numeric values)
 */

/* struct nd_adapter_info.adapter_flags */
#define ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED		  0x00000001u
#define ND_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED 0x00000004u
#define ND_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED		  0x00000008u
#define ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED		  0x00000100u
#define ND_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED	  0x00010000u

/* nd_cq_notify() type */
#define ND_CQ_NOTIFY_ERRORS    0u
#define ND_CQ_NOTIFY_ANY       1u
#define ND_CQ_NOTIFY_SOLICITED 2u

/* nd_mr_register() flags. REMOTE_WRITE includes the LOCAL_WRITE bit. */
#define ND_MR_FLAG_ALLOW_LOCAL_WRITE  0x00000001u
#define ND_MR_FLAG_ALLOW_REMOTE_READ  0x00000002u
#define ND_MR_FLAG_ALLOW_REMOTE_WRITE 0x00000005u
#define ND_MR_FLAG_RDMA_READ_SINK     0x00000008u
#define ND_MR_FLAG_DO_NOT_SECURE_VM   0x80000000u

/* Operation flags of send, bind, invalidate, read and write. */
#define ND_OP_FLAG_SILENT_SUCCESS	  0x00000001u
#define ND_OP_FLAG_READ_FENCE		  0x00000002u
#define ND_OP_FLAG_SEND_AND_SOLICIT_EVENT 0x00000004u
#define ND_OP_FLAG_ALLOW_READ		  0x00000008u
#define ND_OP_FLAG_ALLOW_WRITE		  0x00000010u
#define ND_OP_FLAG_INLINE		  0x00000020u

/* The flags each posting call accepts; any other bit is an invalid flag. */
#define ND_SEND_FLAGS                                                          \
	(ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE |                   \
	 ND_OP_FLAG_SEND_AND_SOLICIT_EVENT | ND_OP_FLAG_INLINE)
#define ND_BIND_FLAGS                                                          \
	(ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE |                   \
	 ND_OP_FLAG_ALLOW_READ | ND_OP_FLAG_ALLOW_WRITE)
#define ND_INVALIDATE_FLAGS (ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE)
#define ND_READ_FLAGS	    (ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE)
#define ND_WRITE_FLAGS                                                         \
	(ND_OP_FLAG_SILENT_SUCCESS | ND_OP_FLAG_READ_FENCE | ND_OP_FLAG_INLINE)

/* nd_query_address_list() flags */
#define ND_QUERY_EXCLUDE_EMULATOR_ADDRESSES 0x00000001u
#define ND_QUERY_EXCLUDE_NDV1_ADDRESSES	    0x00000002u
#define ND_QUERY_EXCLUDE_NDV2_ADDRESSES	    0x00000004u

/* struct nd_result.request_type */
enum nd_request_type {
	ND_REQUEST_TYPE_RECEIVE = 0,
	ND_REQUEST_TYPE_SEND = 1,
	ND_REQUEST_TYPE_BIND = 2,
	ND_REQUEST_TYPE_INVALIDATE = 3,
	ND_REQUEST_TYPE_READ = 4,
	ND_REQUEST_TYPE_WRITE = 5,
};

/* ---------------------------------------------------------------------------
 * Structures (ND2_* layouts on LP64)
 */

/* ND2_SGE; the same layout as struct ibv_sge, so verbs takes it as is. */
struct nd_sge {
	void *buffer;
	uint32_t buffer_length;
	uint32_t
	    memory_region_token; /* nd_mr_get_local_token(); ignored inline */
};

/* ND2_RESULT */
struct nd_result {
	nd_status status;
	uint32_t bytes_transferred; /* receives only */
	void *qp_context;      /* the context given when the QP was created */
	void *request_context; /* the context given when posting */
	int32_t request_type;  /* enum nd_request_type */
	uint32_t reserved;
};

/* ND2_ADAPTER_INFO. Set info_version (ND_VERSION_2 or 1) before querying. */
struct nd_adapter_info {
	uint32_t info_version;
	uint16_t vendor_id;
	uint16_t device_id;
	uint64_t adapter_id;
	uint64_t max_registration_size;
	uint64_t max_window_size;
	uint32_t max_initiator_sge;
	uint32_t max_receive_sge;
	uint32_t max_read_sge;
	uint32_t max_transfer_length;
	uint32_t max_inline_data_size;
	uint32_t max_inbound_read_limit;
	uint32_t max_outbound_read_limit;
	uint32_t max_receive_queue_depth;
	uint32_t max_initiator_queue_depth;
	uint32_t max_shared_receive_queue_depth;
	uint32_t max_completion_queue_depth;
	uint32_t inline_request_threshold;
	uint32_t large_request_threshold;
	uint32_t max_caller_data;
	uint32_t max_callee_data;
	uint32_t adapter_flags;
};

/*
 * SOCKET_ADDRESS_LIST: `count` entries, each pointing at a sockaddr stored
 * later in the same buffer. Size: 8 + 16 n + 16 n(IPv4) + 28 n(IPv6) bytes.
 */
struct nd_socket_address {
	struct sockaddr *sockaddr;
	int32_t length;
};

struct nd_address_list {
	int32_t count;
	struct nd_socket_address address[];
};

/*
 * The OVERLAPPED of an asynchronous call. The caller owns it and keeps it
 * valid until the request completes. The caller sets `flags` (usually 0);
 * the rest need not be initialised.
 *
 * `status` is ND_PENDING while the request runs and its final status after.
 * Once the adapter's overlapped file exists (nd_adapter_create_overlapped_file)
 * a finished request is also queued on the adapter (see
 * nd_adapter_dequeue_overlapped) and makes that descriptor readable, unless
 * ND_OV_FLAG_NO_QUEUE is set (the Win32 "low bit of hEvent" analogue). Before
 * that, and with the flag, only nd_get_overlapped_result() observes it.
 * A request that returns ND_SUCCESS at once is not queued, unless the
 * adapter is in ND_COMPLETION_QUEUE_ON_SUCCESS mode (then it is, under the
 * same two conditions). Either way its status is written: ND_SUCCESS.
 */
#define ND_OV_FLAG_NO_QUEUE 0x00000001u

struct nd_overlapped {
	volatile nd_status status;
	uint32_t flags;
	void *context; /* the caller's; never touched by the library */
	struct {       /* library-private */
		struct nd_overlapped *next;
		void *owner;
		void *arg;
		uint32_t kind;
		uint32_t state;
	} internal;
};

/* ---------------------------------------------------------------------------
 * Objects. Opaque: only their first bytes are public, for the inline calls.
 */

/* nd_object_head.type */
enum nd_object_type {
	ND_OBJ_ADAPTER = 1,
	ND_OBJ_CQ,
	ND_OBJ_MR,
	ND_OBJ_MW,
	ND_OBJ_SRQ,
	ND_OBJ_QP,
	ND_OBJ_CONNECTOR,
	ND_OBJ_LISTENER,
};

/* nd_object_head.magic from creation until the caller's release. */
#define ND_OBJECT_MAGIC 0x4e444f42u /* "NDOB" */

/*
 * A handle: what the caller holds is a slot of the library's handle table,
 * which names the object behind it. Slots are never reused and their memory
 * is never freed, so a released handle (or one inherited across fork) reads
 * as dead, with no access to the object that was behind it. The inline calls
 * below read these fields; their layout is a frozen part of the ABI.
 */
struct nd_object_head {
	const void *fast_ops; /* struct nd_{qp,cq,srq}_fast_ops, or NULL */
	uint32_t type;	      /* enum nd_object_type */
	uint32_t magic;	      /* ND_OBJECT_MAGIC while the caller may use it */
	void *object;	      /* the object, as the providers' calls take it */
	uint64_t reserved;
};

struct nd_adapter {
	struct nd_object_head head;
};
struct nd_cq {
	struct nd_object_head head;
};
struct nd_mr {
	struct nd_object_head head;
};
struct nd_mw {
	struct nd_object_head head;
};
struct nd_srq {
	struct nd_object_head head;
};
struct nd_qp {
	struct nd_object_head head;
};
struct nd_connector {
	struct nd_object_head head;
};
struct nd_listener {
	struct nd_object_head head;
};

/* ---------------------------------------------------------------------------
 * Framework (ndsupport.h). Sizes here are size_t, as ND's SIZE_T.
 */

/* Reference-counted global initialisation; pair each success with nd_cleanup. */
nd_status nd_startup(void);
/* ND_DEVICE_NOT_READY without a matching nd_startup. */
nd_status nd_cleanup(void);
/* Unloads provider libraries no longer in use. No-op before nd_startup. */
void nd_flush_providers(void);
/*
 * Every local address some provider serves. No addresses: ND_SUCCESS with
 * *size = 0. list NULL or *size too small: ND_BUFFER_OVERFLOW, *size set to
 * the size needed, buffer untouched.
 */
nd_status nd_query_address_list(uint32_t flags, struct nd_address_list *list,
				size_t *size);
/* The local address (port 0) the OS routes to `remote`, if a provider serves it. */
nd_status nd_resolve_address(const struct sockaddr *remote, size_t remote_len,
			     struct sockaddr *local, size_t *local_len);
/* ND_SUCCESS if a provider serves the IP of `addr` (port ignored). */
nd_status nd_check_address(const struct sockaddr *addr, size_t len);
/* Opens the adapter serving `addr`; the best provider wins (verbs over tcp). */
nd_status nd_open_adapter(const struct sockaddr *addr, size_t len,
			  struct nd_adapter **adapter);
/* NetworkDirect v1 adapters do not exist on Linux: always ND_NOT_SUPPORTED. */
nd_status nd_open_v1_adapter(const struct sockaddr *addr, size_t len,
			     struct nd_adapter **adapter);

/* ---------------------------------------------------------------------------
 * IND2Overlapped, for CQs, SRQs, MRs, connectors and listeners (`object`
 * is any of those).
 */

/* Completes every pending request of the object with ND_CANCELED, in request
 * order, before it returns. */
nd_status nd_cancel_overlapped(void *object);
/* The request's status: ND_PENDING while it runs (wait false), else final. */
nd_status nd_get_overlapped_result(void *object, struct nd_overlapped *ov,
				   bool wait);

/* ---------------------------------------------------------------------------
 * IND2Adapter
 */

nd_status nd_adapter_release(struct nd_adapter *adapter);

/*
 * CreateOverlappedFile. Returns a new descriptor (close it when done) that is
 * readable while finished requests of this adapter wait in its queue:
 * poll/epoll it, then nd_adapter_dequeue_overlapped(). Every object of the
 * adapter completes its requests to this one queue.
 */
nd_status nd_adapter_create_overlapped_file(struct nd_adapter *adapter,
					    int *fd);
/*
 * GetQueuedCompletionStatus: the oldest finished request. timeout_ms < 0
 * waits forever, 0 polls. ND_SUCCESS (with *ov) or ND_TIMEOUT.
 */
nd_status nd_adapter_dequeue_overlapped(struct nd_adapter *adapter,
					int timeout_ms,
					struct nd_overlapped **ov);
/* PostQueuedCompletionStatus: queue `ov` as finished with its current status. */
nd_status nd_adapter_post_overlapped(struct nd_adapter *adapter,
				     struct nd_overlapped *ov);

/*
 * nd_adapter_set_completion_mode(): what an asynchronous call of this
 * adapter's objects that returns ND_SUCCESS at once does to the queue.
 *
 * ND_COMPLETION_SKIP_ON_SUCCESS (the default): nothing; the return value is
 * the completion, as after SetFileCompletionNotificationModes(file,
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) on Windows. For C programs that
 * handle both returns (done at ND_SUCCESS, dequeue after ND_PENDING).
 *
 * ND_COMPLETION_QUEUE_ON_SUCCESS: Windows' default for a handle bound to a
 * completion port. Such a request is queued as well, exactly as if it had
 * completed later, so a program that waits on the queue after every call
 * (as ND's samples do after Register, Deregister, GetConnectionRequest)
 * finds it there; it must not also treat the ND_SUCCESS return as a second
 * completion. Only ND_SUCCESS is queued: a call that fails at once queues
 * nothing, as on Windows. The usual conditions hold: the adapter's
 * overlapped file exists (no port, nothing to queue) and the request's ov
 * lacks ND_OV_FLAG_NO_QUEUE (the low bit of hEvent).
 *
 * The calls concerned: nd_cq_notify, nd_srq_notify, nd_mr_register,
 * nd_mr_deregister, nd_connector_connect, nd_connector_complete_connect,
 * nd_connector_accept, nd_connector_notify_disconnect,
 * nd_connector_disconnect and nd_listener_get_connection_request. The mode
 * may be changed either way at any time (Windows cannot clear its flag); a
 * call that races the change follows the old mode or the new one. ND
 * numbering: 1 mode (any other value: ND_INVALID_PARAMETER_1, unchanged).
 */
#define ND_COMPLETION_SKIP_ON_SUCCESS  0u
#define ND_COMPLETION_QUEUE_ON_SUCCESS 1u

nd_status nd_adapter_set_completion_mode(struct nd_adapter *adapter,
					 uint32_t mode);
/* Query(info, *size). ND_BUFFER_OVERFLOW with *size = needed if too small. */
nd_status nd_adapter_query(struct nd_adapter *adapter,
			   struct nd_adapter_info *info, uint32_t *size);
nd_status nd_adapter_query_address_list(struct nd_adapter *adapter,
					struct nd_address_list *list,
					uint32_t *size);
/*
 * Linux extension (no ND counterpart): who serves the adapter, for tools
 * such as nd-adapterinfo. Strings are NUL-terminated; "" when unknown.
 */
struct nd_adapter_identity {
	char provider[16];  /* "verbs", "tcp" */
	char device[64];    /* "rxe0", "mlx5_0", "tcp" */
	char transport[16]; /* "InfiniBand", "RoCE", "iWARP", "TCP" */
};

nd_status nd_adapter_get_identity(struct nd_adapter *adapter,
				  struct nd_adapter_identity *identity);

/* ND numbering: 3 depth, 4 group, 5 affinity, 6 cq. */
nd_status nd_adapter_create_cq(struct nd_adapter *adapter, uint32_t depth,
			       uint16_t group, uint64_t affinity,
			       struct nd_cq **cq);
/* ND numbering: 3 mr. */
nd_status nd_adapter_create_mr(struct nd_adapter *adapter, struct nd_mr **mr);
/* ND numbering: 2 mw. */
nd_status nd_adapter_create_mw(struct nd_adapter *adapter, struct nd_mw **mw);
/* ND numbering: 3 depth, 4 max_sge, 5 notify_threshold, 6 group,
 * 7 affinity, 8 srq. ND_NOT_SUPPORTED without SRQ support. */
nd_status nd_adapter_create_srq(struct nd_adapter *adapter, uint32_t depth,
				uint32_t max_request_sge,
				uint32_t notify_threshold, uint16_t group,
				uint64_t affinity, struct nd_srq **srq);
/* ND numbering: 2 receive_cq, 3 initiator_cq, 4 context, 5 receive_depth,
 * 6 initiator_depth, 7 max_receive_sge, 8 max_initiator_sge,
 * 9 inline_data_size, 10 qp. */
nd_status nd_adapter_create_qp(struct nd_adapter *adapter,
			       struct nd_cq *receive_cq,
			       struct nd_cq *initiator_cq, void *context,
			       uint32_t receive_depth, uint32_t initiator_depth,
			       uint32_t max_receive_sge,
			       uint32_t max_initiator_sge,
			       uint32_t inline_data_size, struct nd_qp **qp);
/* ND numbering: 2 receive_cq, 3 initiator_cq, 4 srq, 5 context,
 * 6 initiator_depth, 7 max_initiator_sge, 8 inline_data_size, 9 qp. */
nd_status nd_adapter_create_qp_with_srq(
    struct nd_adapter *adapter, struct nd_cq *receive_cq,
    struct nd_cq *initiator_cq, struct nd_srq *srq, void *context,
    uint32_t initiator_depth, uint32_t max_initiator_sge,
    uint32_t inline_data_size, struct nd_qp **qp);
/* ND numbering: 3 connector. */
nd_status nd_adapter_create_connector(struct nd_adapter *adapter,
				      struct nd_connector **connector);
/* ND numbering: 3 listener. */
nd_status nd_adapter_create_listener(struct nd_adapter *adapter,
				     struct nd_listener **listener);

/* ---------------------------------------------------------------------------
 * Fast-path operations, implemented by providers (see nd_provider.h).
 */

struct nd_qp_fast_ops {
	nd_status (*send)(struct nd_qp *qp, void *request_context,
			  const struct nd_sge *sge, uint32_t nsge,
			  uint32_t flags);
	nd_status (*receive)(struct nd_qp *qp, void *request_context,
			     const struct nd_sge *sge, uint32_t nsge);
	nd_status (*bind)(struct nd_qp *qp, void *request_context,
			  struct nd_mr *mr, struct nd_mw *mw,
			  const void *buffer, size_t length, uint32_t flags);
	nd_status (*invalidate)(struct nd_qp *qp, void *request_context,
				struct nd_mw *mw, uint32_t flags);
	nd_status (*read)(struct nd_qp *qp, void *request_context,
			  const struct nd_sge *sge, uint32_t nsge,
			  uint64_t remote_address, uint32_t remote_token,
			  uint32_t flags);
	nd_status (*write)(struct nd_qp *qp, void *request_context,
			   const struct nd_sge *sge, uint32_t nsge,
			   uint64_t remote_address, uint32_t remote_token,
			   uint32_t flags);
};

struct nd_cq_fast_ops {
	uint32_t (*get_results)(struct nd_cq *cq, struct nd_result *results,
				uint32_t count);
};

struct nd_srq_fast_ops {
	nd_status (*receive)(struct nd_srq *srq, void *request_context,
			     const struct nd_sge *sge, uint32_t nsge);
};

/* A handle the caller may use: a live object of that type. Refuses NULL, a
 * released handle (even one that something else keeps alive) and memory
 * that is not a handle; one compare of the head's type and magic. */
#define ND_LIVE(obj, t)                                                        \
	((obj) && (obj)->head.magic == ND_OBJECT_MAGIC &&                      \
	 (obj)->head.type == (t))
/* The object behind a live handle, in the handle's type. */
#define ND_OBJ(h) ((__typeof__(h))(h)->head.object)

#define ND_QP_FAST(qp)	((const struct nd_qp_fast_ops *)(qp)->head.fast_ops)
#define ND_CQ_FAST(cq)	((const struct nd_cq_fast_ops *)(cq)->head.fast_ops)
#define ND_SRQ_FAST(sq) ((const struct nd_srq_fast_ops *)(sq)->head.fast_ops)

/* ---------------------------------------------------------------------------
 * IND2CompletionQueue
 */

nd_status nd_cq_release(struct nd_cq *cq);
/* ND numbering: 1 group, 2 affinity. */
nd_status nd_cq_get_notify_affinity(struct nd_cq *cq, uint16_t *group,
				    uint64_t *affinity);
/* ND_BUFFER_OVERFLOW if more entries are queued than `depth`; CQ unchanged. */
nd_status nd_cq_resize(struct nd_cq *cq, uint32_t depth);
/* ND numbering: 1 type, 2 ov. ND_SUCCESS at once if unreported entries wait. */
nd_status nd_cq_notify(struct nd_cq *cq, uint32_t type,
		       struct nd_overlapped *ov);

/* Non-blocking: writes up to `count` results, returns how many. */
static inline uint32_t
nd_cq_get_results(struct nd_cq *cq, struct nd_result *results, uint32_t count)
{
	if (ND_UNLIKELY(!ND_LIVE(cq, ND_OBJ_CQ) || !results))
		return 0;
	return ND_CQ_FAST(cq)->get_results(ND_OBJ(cq), results, count);
}

/* ---------------------------------------------------------------------------
 * IND2MemoryRegion. One registration at a time; re-register after deregister.
 */

nd_status nd_mr_release(struct nd_mr *mr);
/* ND numbering: 1 buffer, 2 length, 3 flags, 4 ov. buffer NULL:
 * ND_INVALID_PARAMETER; length 0: ND_INVALID_BUFFER_SIZE. */
nd_status nd_mr_register(struct nd_mr *mr, const void *buffer, size_t length,
			 uint32_t flags, struct nd_overlapped *ov);
/* ND_DEVICE_BUSY while a window is bound to the region. */
nd_status nd_mr_deregister(struct nd_mr *mr, struct nd_overlapped *ov);
/* The token for nd_sge.memory_region_token (0 if not registered). */
uint32_t nd_mr_get_local_token(struct nd_mr *mr);
/* The token a peer gives to read/write the whole region. */
uint32_t nd_mr_get_remote_token(struct nd_mr *mr);

/* ---------------------------------------------------------------------------
 * IND2MemoryWindow
 */

nd_status nd_mw_release(struct nd_mw *mw);
/* Valid as soon as nd_qp_bind() returns. */
uint32_t nd_mw_get_remote_token(struct nd_mw *mw);

/* ---------------------------------------------------------------------------
 * IND2SharedReceiveQueue
 */

nd_status nd_srq_release(struct nd_srq *srq);
nd_status nd_srq_get_notify_affinity(struct nd_srq *srq, uint16_t *group,
				     uint64_t *affinity);
/* 0 leaves a value unchanged. ND_BUFFER_OVERFLOW if depth < receives posted. */
nd_status nd_srq_modify(struct nd_srq *srq, uint32_t depth,
			uint32_t notify_threshold);
/* Completes when fewer than notify_threshold receives remain posted. */
nd_status nd_srq_notify(struct nd_srq *srq, struct nd_overlapped *ov);

/* ND numbering: 1 context, 2 sge, 3 nsge. */
static inline nd_status nd_srq_receive(struct nd_srq *srq,
				       void *request_context,
				       const struct nd_sge *sge, uint32_t nsge)
{
	if (ND_UNLIKELY(!ND_LIVE(srq, ND_OBJ_SRQ)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY(nsge && !sge))
		return ND_INVALID_PARAMETER_2;
	return ND_SRQ_FAST(srq)->receive(ND_OBJ(srq), request_context, sge,
					 nsge);
}

/* ---------------------------------------------------------------------------
 * IND2QueuePair. A synchronous error leaves the QP usable (nothing posted);
 * an error completion ends the connection and cancels all later requests.
 */

nd_status nd_qp_release(struct nd_qp *qp);
/* Completes every outstanding request of this QP with ND_CANCELED. */
nd_status nd_qp_flush(struct nd_qp *qp);

/* ND numbering: 1 context, 2 sge, 3 nsge, 4 flags. */
static inline nd_status nd_qp_send(struct nd_qp *qp, void *request_context,
				   const struct nd_sge *sge, uint32_t nsge,
				   uint32_t flags)
{
	if (ND_UNLIKELY(!ND_LIVE(qp, ND_OBJ_QP)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY((nsge && !sge) | (flags & ~ND_SEND_FLAGS)))
		return (flags & ~ND_SEND_FLAGS) ? ND_INVALID_PARAMETER_4
						: ND_INVALID_PARAMETER_2;
	return ND_QP_FAST(qp)->send(ND_OBJ(qp), request_context, sge, nsge,
				    flags);
}

/* ND numbering: 1 context, 2 sge, 3 nsge. Allowed before connecting. */
static inline nd_status nd_qp_receive(struct nd_qp *qp, void *request_context,
				      const struct nd_sge *sge, uint32_t nsge)
{
	if (ND_UNLIKELY(!ND_LIVE(qp, ND_OBJ_QP)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY(nsge && !sge))
		return ND_INVALID_PARAMETER_2;
	return ND_QP_FAST(qp)->receive(ND_OBJ(qp), request_context, sge, nsge);
}

/* ND numbering: 1 context, 2 mr, 3 mw, 4 buffer, 5 length, 6 flags. */
static inline nd_status nd_qp_bind(struct nd_qp *qp, void *request_context,
				   struct nd_mr *mr, struct nd_mw *mw,
				   const void *buffer, size_t length,
				   uint32_t flags)
{
	if (ND_UNLIKELY(!ND_LIVE(qp, ND_OBJ_QP)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY(!ND_LIVE(mr, ND_OBJ_MR)))
		return ND_INVALID_PARAMETER_2;
	if (ND_UNLIKELY(!ND_LIVE(mw, ND_OBJ_MW)))
		return ND_INVALID_PARAMETER_3;
	if (ND_UNLIKELY(flags & ~ND_BIND_FLAGS))
		return ND_INVALID_PARAMETER_6;
	return ND_QP_FAST(qp)->bind(ND_OBJ(qp), request_context, ND_OBJ(mr),
				    ND_OBJ(mw), buffer, length, flags);
}

/* ND numbering: 1 context, 2 mw, 3 flags. */
static inline nd_status nd_qp_invalidate(struct nd_qp *qp,
					 void *request_context,
					 struct nd_mw *mw, uint32_t flags)
{
	if (ND_UNLIKELY(!ND_LIVE(qp, ND_OBJ_QP)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY(!ND_LIVE(mw, ND_OBJ_MW)))
		return ND_INVALID_PARAMETER_2;
	if (ND_UNLIKELY(flags & ~ND_INVALIDATE_FLAGS))
		return ND_INVALID_PARAMETER_3;
	return ND_QP_FAST(qp)->invalidate(ND_OBJ(qp), request_context,
					  ND_OBJ(mw), flags);
}

/* ND numbering: 1 context, 2 sge, 3 nsge, 4 remote_address,
 * 5 remote_token, 6 flags. */
static inline nd_status nd_qp_read(struct nd_qp *qp, void *request_context,
				   const struct nd_sge *sge, uint32_t nsge,
				   uint64_t remote_address,
				   uint32_t remote_token, uint32_t flags)
{
	if (ND_UNLIKELY(!ND_LIVE(qp, ND_OBJ_QP)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY((nsge && !sge) | (flags & ~ND_READ_FLAGS)))
		return (flags & ~ND_READ_FLAGS) ? ND_INVALID_PARAMETER_6
						: ND_INVALID_PARAMETER_2;
	return ND_QP_FAST(qp)->read(ND_OBJ(qp), request_context, sge, nsge,
				    remote_address, remote_token, flags);
}

/* ND numbering: 1 context, 2 sge, 3 nsge, 4 remote_address,
 * 5 remote_token, 6 flags. */
static inline nd_status nd_qp_write(struct nd_qp *qp, void *request_context,
				    const struct nd_sge *sge, uint32_t nsge,
				    uint64_t remote_address,
				    uint32_t remote_token, uint32_t flags)
{
	if (ND_UNLIKELY(!ND_LIVE(qp, ND_OBJ_QP)))
		return ND_INVALID_HANDLE;
	if (ND_UNLIKELY((nsge && !sge) | (flags & ~ND_WRITE_FLAGS)))
		return (flags & ~ND_WRITE_FLAGS) ? ND_INVALID_PARAMETER_6
						 : ND_INVALID_PARAMETER_2;
	return ND_QP_FAST(qp)->write(ND_OBJ(qp), request_context, sge, nsge,
				     remote_address, remote_token, flags);
}

/* ---------------------------------------------------------------------------
 * IND2Connector
 */

nd_status nd_connector_release(struct nd_connector *connector);
/* ND numbering: 1 addr, 2 len. Port 0 picks one. A second bind:
 * ND_ADDRESS_ALREADY_ASSOCIATED. */
nd_status nd_connector_bind(struct nd_connector *connector,
			    const struct sockaddr *addr, uint32_t len);
/* ND numbering: 1 qp, 2 dest, 3 dest_len, 4 inbound_read_limit,
 * 5 outbound_read_limit, 6 private_data, 7 private_data_len, 8 ov.
 * Completes when the peer accepts; then nd_connector_complete_connect(). */
nd_status nd_connector_connect(struct nd_connector *connector, struct nd_qp *qp,
			       const struct sockaddr *dest, uint32_t dest_len,
			       uint32_t inbound_read_limit,
			       uint32_t outbound_read_limit,
			       const void *private_data,
			       uint32_t private_data_len,
			       struct nd_overlapped *ov);
nd_status nd_connector_complete_connect(struct nd_connector *connector,
					struct nd_overlapped *ov);
/* ND numbering: 1 qp, 2 inbound_read_limit, 3 outbound_read_limit,
 * 4 private_data, 5 private_data_len, 6 ov. Completes when established. */
nd_status nd_connector_accept(struct nd_connector *connector, struct nd_qp *qp,
			      uint32_t inbound_read_limit,
			      uint32_t outbound_read_limit,
			      const void *private_data,
			      uint32_t private_data_len,
			      struct nd_overlapped *ov);
nd_status nd_connector_reject(struct nd_connector *connector,
			      const void *private_data,
			      uint32_t private_data_len);
/* The peer's offer as seen from here: *inbound <- peer's outbound limit. */
nd_status nd_connector_get_read_limits(struct nd_connector *connector,
				       uint32_t *inbound_read_limit,
				       uint32_t *outbound_read_limit);
/* Too small: ND_BUFFER_OVERFLOW, *len = full size, the first bytes copied. */
nd_status nd_connector_get_private_data(struct nd_connector *connector,
					void *private_data, uint32_t *len);
nd_status nd_connector_get_local_address(struct nd_connector *connector,
					 struct sockaddr *addr, uint32_t *len);
nd_status nd_connector_get_peer_address(struct nd_connector *connector,
					struct sockaddr *addr, uint32_t *len);
/* Completes when the peer disconnects. */
nd_status nd_connector_notify_disconnect(struct nd_connector *connector,
					 struct nd_overlapped *ov);
/* Tears the connection down and flushes its QP. */
nd_status nd_connector_disconnect(struct nd_connector *connector,
				  struct nd_overlapped *ov);

/* ---------------------------------------------------------------------------
 * IND2Listener
 */

nd_status nd_listener_release(struct nd_listener *listener);
/* Port 0 picks one; the wildcard address means every address of the adapter. */
nd_status nd_listener_bind(struct nd_listener *listener,
			   const struct sockaddr *addr, uint32_t len);
/* backlog 0: no limit. */
nd_status nd_listener_listen(struct nd_listener *listener, uint32_t backlog);
nd_status nd_listener_get_local_address(struct nd_listener *listener,
					struct sockaddr *addr, uint32_t *len);
/* ND numbering: 1 connector, 2 ov. Each incoming request completes one. */
nd_status nd_listener_get_connection_request(struct nd_listener *listener,
					     struct nd_connector *connector,
					     struct nd_overlapped *ov);

#ifdef __cplusplus
}
#endif

#endif /* NETDIRECT_ND_H */
