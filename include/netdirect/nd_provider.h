/* SPDX-License-Identifier: MIT */
/*
 * The netdirect provider interface (the "SPI").
 *
 * A provider is a struct nd_provider (IND2Provider: address list, resolve,
 * open adapter) plus an ops table per object type. Objects embed the base
 * structs below and are reached with container_of:
 *
 *     struct tcp_cq { struct nd_cq_base base; ... };
 *     struct tcp_cq *cq = container_of(pub, struct tcp_cq, base.pub);
 *
 * The core validates arguments against the adapter's limits before calling a
 * slow-path op, so providers see only well-formed calls there. Fast-path ops
 * (struct nd_*_fast_ops in nd.h) are called straight from the inline API and
 * check what only the provider knows (SGE count, queue space, state).
 *
 * Built-in providers are linked in. Out-of-tree providers are shared objects
 * in $libdir/netdirect/ or ND_PROVIDER_PATH exporting nd_provider_entry().
 */
#ifndef NETDIRECT_ND_PROVIDER_H
#define NETDIRECT_ND_PROVIDER_H

#include <netdirect/nd.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Bumped on any incompatible change to this header. The core accepts
 * providers built for versions ND_PROVIDER_ABI_MIN..ND_PROVIDER_ABI_VERSION
 * and refuses others with a log line naming both versions.
 */
#define ND_PROVIDER_ABI_VERSION 2u
#define ND_PROVIDER_ABI_MIN	2u

#ifndef container_of
#define container_of(ptr, type, member)                                        \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

struct nd_object;
struct nd_ov_engine;
struct nd_adapter_base;
struct nd_cq_base;
struct nd_mr_base;
struct nd_mw_base;
struct nd_srq_base;
struct nd_qp_base;
struct nd_connector_base;
struct nd_listener_base;
struct nd_provider;

/* ---------------------------------------------------------------------------
 * Objects
 */

struct nd_object_ops {
	/*
	 * The caller released its reference: stop the object's activity
	 * (implicit disconnect and flush, stop listening). Pending requests
	 * are completed ND_CANCELED by the core right after. Optional.
	 */
	void (*close)(struct nd_object *obj);
	/*
	 * nd_cancel_overlapped() is about to complete every pending request
	 * of the object with ND_CANCELED: forget any in-progress work tied
	 * to them. Called without the engine lock. Optional.
	 */
	void (*cancel)(struct nd_object *obj);
	/* The last reference is gone: free everything. Required. */
	void (*destroy)(struct nd_object *obj);
};

/* The common base of every object. Its head is the public struct nd_<x>. */
struct nd_object {
	struct nd_object_head head;
	uint32_t refs;	 /* atomic; the caller's + internal */
	uint32_t closed; /* atomic; the caller's reference is gone */
	struct nd_adapter_base *adapter; /* owner; NULL for an adapter */
	const struct nd_object_ops *ops;
	struct nd_object *parents[3]; /* kept alive until destroy */
	/* FIFO of pending requests, guarded by the adapter's engine lock. */
	struct nd_overlapped *pending_head;
	struct nd_overlapped *pending_tail;
};

/*
 * Initialises `obj` with one reference (the caller's) and takes a reference on
 * `adapter` (NULL for an adapter itself). The core adds the parents a create
 * call names (a QP's CQs and SRQ) after the provider returns.
 *
 * Providers use the per-type constructors below (nd_cq_base_init(), ...),
 * which call this and also set the base's ops; it stays for providers that
 * build a base of their own.
 */
void nd_object_init(struct nd_object *obj, enum nd_object_type type,
		    const void *fast_ops, const struct nd_object_ops *ops,
		    struct nd_adapter_base *adapter);
void nd_object_retain(struct nd_object *obj);
/* Drops a reference; the last one calls ops->destroy then the parents'. */
void nd_object_put(struct nd_object *obj);

/* ---------------------------------------------------------------------------
 * Per-type bases and slow-path ops. Out-parameters are set only on success.
 */

struct nd_adapter_ops {
	nd_status (*query_address_list)(struct nd_adapter_base *adapter,
					struct nd_address_list *list,
					uint32_t *size);
	nd_status (*create_cq)(struct nd_adapter_base *adapter, uint32_t depth,
			       uint16_t group, uint64_t affinity,
			       struct nd_cq **cq);
	nd_status (*create_mr)(struct nd_adapter_base *adapter,
			       struct nd_mr **mr);
	/* NULL: memory windows are not supported (ND_NOT_SUPPORTED). */
	nd_status (*create_mw)(struct nd_adapter_base *adapter,
			       struct nd_mw **mw);
	/* NULL or max_shared_receive_queue_depth 0: no SRQ support. */
	nd_status (*create_srq)(struct nd_adapter_base *adapter, uint32_t depth,
				uint32_t max_request_sge,
				uint32_t notify_threshold, uint16_t group,
				uint64_t affinity, struct nd_srq **srq);
	/* srq NULL: a QP with its own receive queue. */
	nd_status (*create_qp)(struct nd_adapter_base *adapter,
			       struct nd_cq *receive_cq,
			       struct nd_cq *initiator_cq, struct nd_srq *srq,
			       void *context, uint32_t receive_depth,
			       uint32_t initiator_depth,
			       uint32_t max_receive_sge,
			       uint32_t max_initiator_sge,
			       uint32_t inline_data_size, struct nd_qp **qp);
	nd_status (*create_connector)(struct nd_adapter_base *adapter,
				      struct nd_connector **connector);
	nd_status (*create_listener)(struct nd_adapter_base *adapter,
				     struct nd_listener **listener);
};

struct nd_adapter_base {
	union {
		struct nd_adapter pub;
		struct nd_object obj;
	};
	const struct nd_adapter_ops *ops;
	const struct nd_provider *provider;
	/* Filled by the provider before nd_adapter_base_init(); the core
	 * checks every create call against it. */
	struct nd_adapter_info info;
	/* Set by the provider before nd_adapter_base_init(), for
	 * nd_adapter_get_identity(): e.g. "rxe0" and "RoCE". */
	char device_name[64];
	char transport[16];
	struct nd_ov_engine *engine; /* core-private */
};

/*
 * Sets up the adapter's object base and its overlapped engine (the queue of
 * finished requests and its eventfd). `info` must be filled first.
 * ND_NO_MEMORY / ND_INSUFFICIENT_RESOURCES on failure (nothing to undo).
 */
nd_status nd_adapter_base_init(struct nd_adapter_base *adapter,
			       const struct nd_adapter_ops *ops,
			       const struct nd_object_ops *obj_ops,
			       const struct nd_provider *provider);
/* Frees what nd_adapter_base_init() set up; call from the adapter's destroy. */
void nd_adapter_base_fini(struct nd_adapter_base *adapter);

struct nd_cq_ops {
	/* NULL: the core reports group 0 and no affinity. */
	nd_status (*get_notify_affinity)(struct nd_cq_base *cq, uint16_t *group,
					 uint64_t *affinity);
	/* NULL: ND_NOT_SUPPORTED. */
	nd_status (*resize)(struct nd_cq_base *cq, uint32_t depth);
	/* Arm: nd_ov_begin(ov, kind 0) and return ND_PENDING, or ND_SUCCESS
	 * if unreported completions already wait. */
	nd_status (*notify)(struct nd_cq_base *cq, uint32_t type,
			    struct nd_overlapped *ov);
};

struct nd_cq_base {
	union {
		struct nd_cq pub;
		struct nd_object obj;
	};
	const struct nd_cq_ops *ops;
};

/*
 * The constructors, one per base: each gives the object its type, its fast
 * ops (for the types that have them), its object ops and its ops table, all
 * required, so that no base is handed out with an op table missing. Each
 * does what nd_object_init() does (one reference, the caller's, and one on
 * `adapter`, which must not be NULL) and sets every field of the base, so
 * call it before setting any of them; the rest of the provider's struct is
 * the provider's. Since it takes the adapter reference, call it last, when
 * nothing can fail any more: from then on only nd_object_put() frees.
 */
void nd_cq_base_init(struct nd_cq_base *cq, const struct nd_cq_fast_ops *fast,
		     const struct nd_object_ops *obj_ops,
		     const struct nd_cq_ops *ops,
		     struct nd_adapter_base *adapter);

struct nd_mr_ops {
	/* flags are validated; buffer non-NULL, length within limits. */
	nd_status (*register_memory)(struct nd_mr_base *mr, const void *buffer,
				     size_t length, uint32_t flags,
				     struct nd_overlapped *ov);
	nd_status (*deregister_memory)(struct nd_mr_base *mr,
				       struct nd_overlapped *ov);
};

struct nd_mr_base {
	union {
		struct nd_mr pub;
		struct nd_object obj;
	};
	const struct nd_mr_ops *ops;
	/* Set by the provider on registration; read by the token getters. */
	uint32_t local_token;
	uint32_t remote_token;
	uint32_t registered;	/* atomic: a registration is in place */
	uint32_t bound_windows; /* atomic: windows bound to this region */
};

/* No fast ops: posting goes through the QP. The tokens start at 0. */
void nd_mr_base_init(struct nd_mr_base *mr, const struct nd_object_ops *obj_ops,
		     const struct nd_mr_ops *ops,
		     struct nd_adapter_base *adapter);

struct nd_mw_base {
	union {
		struct nd_mw pub;
		struct nd_object obj;
	};
	uint32_t remote_token; /* set by the provider when bound */
};

/* No ops at all: binding and invalidating are QP requests. */
void nd_mw_base_init(struct nd_mw_base *mw, const struct nd_object_ops *obj_ops,
		     struct nd_adapter_base *adapter);

struct nd_srq_ops {
	nd_status (*get_notify_affinity)(struct nd_srq_base *srq,
					 uint16_t *group, uint64_t *affinity);
	/* 0 in an argument: unchanged (the core never passes both 0). */
	nd_status (*modify)(struct nd_srq_base *srq, uint32_t depth,
			    uint32_t notify_threshold);
	nd_status (*notify)(struct nd_srq_base *srq, struct nd_overlapped *ov);
};

struct nd_srq_base {
	union {
		struct nd_srq pub;
		struct nd_object obj;
	};
	const struct nd_srq_ops *ops;
};

void nd_srq_base_init(struct nd_srq_base *srq,
		      const struct nd_srq_fast_ops *fast,
		      const struct nd_object_ops *obj_ops,
		      const struct nd_srq_ops *ops,
		      struct nd_adapter_base *adapter);

struct nd_qp_ops {
	nd_status (*flush)(struct nd_qp_base *qp);
};

struct nd_qp_base {
	union {
		struct nd_qp pub;
		struct nd_object obj;
	};
	const struct nd_qp_ops *ops;
	void *context; /* echoed in nd_result.qp_context */
};

/* `context` is the create call's, echoed in every result of the QP. */
void nd_qp_base_init(struct nd_qp_base *qp, const struct nd_qp_fast_ops *fast,
		     const struct nd_object_ops *obj_ops,
		     const struct nd_qp_ops *ops, void *context,
		     struct nd_adapter_base *adapter);

/*
 * The most private data a provider keeps from a peer, and the size of the
 * buffer the core hands to get_private_data: MPA's limit (RFC 5044: 512
 * bytes), the largest of the transports nd-spi-v2.md §16 lists (IB's CM
 * carries at most 196, rdma_ucm at most 255). A peer's data may be longer
 * than this adapter's own max_caller_data/max_callee_data (IB pads to the
 * message's field), so this, not those, bounds it.
 */
#define ND_MAX_PRIVATE_DATA 512u

/*
 * Connector ops. The core has checked private-data sizes against the
 * adapter's max_caller_data / max_callee_data, read limits are clamped to the
 * adapter's, and qp belongs to the same adapter.
 */
struct nd_connector_ops {
	nd_status (*bind)(struct nd_connector_base *conn,
			  const struct sockaddr *addr, uint32_t len);
	nd_status (*connect)(struct nd_connector_base *conn,
			     struct nd_qp_base *qp, const struct sockaddr *dest,
			     uint32_t dest_len, uint32_t inbound_read_limit,
			     uint32_t outbound_read_limit,
			     const void *private_data,
			     uint32_t private_data_len,
			     struct nd_overlapped *ov);
	nd_status (*complete_connect)(struct nd_connector_base *conn,
				      struct nd_overlapped *ov);
	nd_status (*accept)(struct nd_connector_base *conn,
			    struct nd_qp_base *qp, uint32_t inbound_read_limit,
			    uint32_t outbound_read_limit,
			    const void *private_data, uint32_t private_data_len,
			    struct nd_overlapped *ov);
	nd_status (*reject)(struct nd_connector_base *conn,
			    const void *private_data,
			    uint32_t private_data_len);
	/* The peer's offer as it came (*inbound <- its outbound, *outbound
	 * <- its inbound), both always set on success; the core clamps them
	 * to this adapter's max_inbound/outbound_read_limit. Or
	 * ND_CONNECTION_INVALID before there is a peer. */
	nd_status (*get_read_limits)(struct nd_connector_base *conn,
				     uint32_t *inbound, uint32_t *outbound);
	/* Copy all the peer's private data into buf and its length into
	 * *len, which comes in as ND_MAX_PRIVATE_DATA (buf's size); the core
	 * does ND's size protocol. Or ND_CONNECTION_INVALID before there is
	 * a peer. */
	nd_status (*get_private_data)(struct nd_connector_base *conn, void *buf,
				      uint32_t *len);
	/* Fill *addr (a sockaddr_storage) and *len; the core does the size
	 * protocol. */
	nd_status (*get_local_address)(struct nd_connector_base *conn,
				       struct sockaddr_storage *addr,
				       uint32_t *len);
	nd_status (*get_peer_address)(struct nd_connector_base *conn,
				      struct sockaddr_storage *addr,
				      uint32_t *len);
	nd_status (*notify_disconnect)(struct nd_connector_base *conn,
				       struct nd_overlapped *ov);
	nd_status (*disconnect)(struct nd_connector_base *conn,
				struct nd_overlapped *ov);
};

struct nd_connector_base {
	union {
		struct nd_connector pub;
		struct nd_object obj;
	};
	const struct nd_connector_ops *ops;
};

void nd_connector_base_init(struct nd_connector_base *conn,
			    const struct nd_object_ops *obj_ops,
			    const struct nd_connector_ops *ops,
			    struct nd_adapter_base *adapter);

struct nd_listener_ops {
	nd_status (*bind)(struct nd_listener_base *listener,
			  const struct sockaddr *addr, uint32_t len);
	nd_status (*listen)(struct nd_listener_base *listener,
			    uint32_t backlog);
	nd_status (*get_local_address)(struct nd_listener_base *listener,
				       struct sockaddr_storage *addr,
				       uint32_t *len);
	/* nd_ov_begin(ov, 0, connector) and return ND_PENDING; when a request
	 * arrives, nd_ov_claim() the oldest, fill its connector, complete. */
	nd_status (*get_connection_request)(struct nd_listener_base *listener,
					    struct nd_connector_base *conn,
					    struct nd_overlapped *ov);
};

struct nd_listener_base {
	union {
		struct nd_listener pub;
		struct nd_object obj;
	};
	const struct nd_listener_ops *ops;
};

void nd_listener_base_init(struct nd_listener_base *listener,
			   const struct nd_object_ops *obj_ops,
			   const struct nd_listener_ops *ops,
			   struct nd_adapter_base *adapter);

/* Public handle -> base, for providers and the core alike. */
#define nd_adapter_base_of(p)	container_of(p, struct nd_adapter_base, pub)
#define nd_cq_base_of(p)	container_of(p, struct nd_cq_base, pub)
#define nd_mr_base_of(p)	container_of(p, struct nd_mr_base, pub)
#define nd_mw_base_of(p)	container_of(p, struct nd_mw_base, pub)
#define nd_srq_base_of(p)	container_of(p, struct nd_srq_base, pub)
#define nd_qp_base_of(p)	container_of(p, struct nd_qp_base, pub)
#define nd_connector_base_of(p) container_of(p, struct nd_connector_base, pub)
#define nd_listener_base_of(p)	container_of(p, struct nd_listener_base, pub)

/* ---------------------------------------------------------------------------
 * The overlapped engine: how providers complete asynchronous requests.
 *
 * A provider that returns ND_PENDING has called nd_ov_begin() first. Later it
 * finishes the request by `kind` (its own small numbers, e.g. CONNECT=1,
 * DISCONNECT=2), never by keeping the nd_overlapped pointer: after
 * nd_cancel_overlapped() or release the caller may reuse or free it.
 */

/* ov becomes ND_PENDING and joins the end of obj's FIFO. */
void nd_ov_begin(struct nd_object *obj, struct nd_overlapped *ov, uint32_t kind,
		 void *arg);
/*
 * Removes the oldest pending request of `kind` (any kind if kind is
 * ND_OV_ANY_KIND) from obj's FIFO and returns it, or NULL. A cancel no longer
 * sees it; the provider must nd_ov_complete() it promptly. *arg (if non-NULL)
 * receives the arg given to nd_ov_begin().
 */
#define ND_OV_ANY_KIND UINT32_MAX
struct nd_overlapped *nd_ov_claim(struct nd_object *obj, uint32_t kind,
				  void **arg);
/* Sets the final status, queues it on the adapter (unless NO_QUEUE), wakes
 * waiters. */
void nd_ov_complete(struct nd_object *obj, struct nd_overlapped *ov,
		    nd_status status);
/* nd_ov_claim + nd_ov_complete of the oldest of `kind`; false if none. */
bool nd_ov_finish(struct nd_object *obj, uint32_t kind, nd_status status);
/* Completes every pending request of `kind`; returns how many. */
unsigned nd_ov_finish_all(struct nd_object *obj, uint32_t kind,
			  nd_status status);
/* True if a request of `kind` is pending on obj. */
bool nd_ov_pending(struct nd_object *obj, uint32_t kind);

/* ---------------------------------------------------------------------------
 * Helpers shared by providers
 */

/*
 * Whether [addr, addr + len) lies inside [base, base + length). Written so
 * that nothing can wrap around 2^64: every bounds check of a range a caller
 * or a peer names goes through here.
 */
static inline bool nd_range_inside(uint64_t base, uint64_t length,
				   uint64_t addr, uint64_t len)
{
	return addr >= base && addr - base <= length &&
	       len <= length - (addr - base);
}

/*
 * Writes the addresses into `list` with ND's size protocol: list NULL or *size
 * too small gives ND_BUFFER_OVERFLOW with *size = needed; else ND_SUCCESS with
 * *size = bytes used. Only AF_INET and AF_INET6 entries are used.
 */
nd_status nd_address_list_build(const struct sockaddr_storage *addrs,
				uint32_t count, struct nd_address_list *list,
				size_t *size);

enum nd_log_level {
	ND_LOG_NONE = 0,
	ND_LOG_ERROR = 1,
	ND_LOG_WARN = 2,
	ND_LOG_INFO = 3,
	ND_LOG_DEBUG = 4,
};

/* The level from ND_LOG_LEVEL (a number or error/warn/info/debug; default
 * warn), read once. */
enum nd_log_level nd_log_level(void);
void nd_log(enum nd_log_level level, const char *subsystem, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

#define ND_LOG(level, subsys, ...)                                             \
	do {                                                                   \
		if (ND_UNLIKELY((level) <= nd_log_level()))                    \
			nd_log(level, subsys, __VA_ARGS__);                    \
	} while (0)
#define ND_ERR(subsys, ...)   ND_LOG(ND_LOG_ERROR, subsys, __VA_ARGS__)
#define ND_WARN(subsys, ...)  ND_LOG(ND_LOG_WARN, subsys, __VA_ARGS__)
#define ND_INFO(subsys, ...)  ND_LOG(ND_LOG_INFO, subsys, __VA_ARGS__)
#define ND_DEBUG(subsys, ...) ND_LOG(ND_LOG_DEBUG, subsys, __VA_ARGS__)

/*
 * For lines that a peer (or anything outside the process) can trigger
 * repeatedly: each call site prints at most ND_LOG_RATELIMIT_BURST lines
 * per ND_LOG_RATELIMIT_MS; the first line it prints after that says how
 * many it suppressed.
 */
#define ND_LOG_RATELIMIT_BURST 10u
#define ND_LOG_RATELIMIT_MS    5000u

struct nd_log_ratelimit {    /* one per call site, zero-initialised */
	uint64_t start_ms;   /* the current interval began (monotonic) */
	uint32_t printed;    /* lines printed in it */
	uint32_t suppressed; /* lines suppressed since the last printed */
};

void nd_log_ratelimited(struct nd_log_ratelimit *rl, enum nd_log_level level,
			const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ND_LOG_RATELIMITED(level, subsys, ...)                                 \
	do {                                                                   \
		static struct nd_log_ratelimit nd_log_rl_;                     \
		if (ND_UNLIKELY((level) <= nd_log_level()))                    \
			nd_log_ratelimited(&nd_log_rl_, level, subsys,         \
					   __VA_ARGS__);                       \
	} while (0)

/* ---------------------------------------------------------------------------
 * Registration (IND2Provider)
 */

struct nd_provider {
	uint32_t abi_version; /* ND_PROVIDER_ABI_VERSION built against */
	uint32_t size;	      /* sizeof(struct nd_provider) built against */
	const char *name;     /* "verbs", "tcp": what ND_PROVIDERS matches */
	/* When several providers serve an address the highest wins. */
	uint32_t priority;
	/* Called at the first nd_startup(); ND_SUCCESS or the provider is
	 * skipped (e.g. no devices). Optional. */
	nd_status (*init)(void);
	/* Called at the last nd_cleanup(). Optional. */
	void (*fini)(void);
	/* IND2Provider::QueryAddressList, with ND's size protocol. */
	nd_status (*query_address_list)(struct nd_address_list *list,
					size_t *size);
	/* IND2Provider::ResolveAddress: local address -> adapter id;
	 * ND_INVALID_ADDRESS if not ours. */
	nd_status (*resolve_address)(const struct sockaddr *addr, size_t len,
				     uint64_t *adapter_id);
	/* IND2Provider::OpenAdapter; ND_INVALID_PARAMETER for an unknown id. */
	nd_status (*open_adapter)(uint64_t adapter_id,
				  struct nd_adapter **adapter);
};

#define ND_PROVIDER_PRIORITY_VERBS 100u
#define ND_PROVIDER_PRIORITY_TCP   10u

/*
 * An out-of-tree provider exports this symbol. It receives the core's
 * ND_PROVIDER_ABI_VERSION and returns its descriptor, or NULL to decline.
 */
#define ND_PROVIDER_ENTRY_SYMBOL "nd_provider_entry"
typedef const struct nd_provider *(*nd_provider_entry_fn)(uint32_t core_abi);

#ifdef __cplusplus
}
#endif

#endif /* NETDIRECT_ND_PROVIDER_H */
