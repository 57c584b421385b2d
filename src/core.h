/* SPDX-License-Identifier: MIT */
/* Core internals shared by the files of src/. Nothing here is exported. */
#ifndef NETDIRECT_CORE_H
#define NETDIRECT_CORE_H

#include <netdirect/nd_provider.h>
#include <netdirect/nd_util.h>
#include <pthread.h>

/* Per-adapter overlapped engine: the queue behind the adapter's fd. */
struct nd_ov_engine {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast whenever a request finishes */
	int efd;	     /* eventfd, non-zero while `done` is non-empty */
	bool queue_enabled;  /* an overlapped file was created (IOCP bind) */
	/* ND_COMPLETION_*: whether a request that returns ND_SUCCESS at once
	 * is queued too (nd_adapter_set_completion_mode). Read and written
	 * with relaxed atomics: it is a setting, not a guard of other data. */
	uint32_t completion_mode;
	/*
	 * Finished requests, oldest first: a ring of pointers owned by the
	 * engine. A queued request is never dereferenced again, since its
	 * caller may reuse it as soon as it has read the final status (a
	 * completion port also only carries the pointer).
	 */
	struct nd_overlapped **done;
	uint32_t done_cap, done_first, done_count;
};

/*
 * A create call's last step (handle.c): on ND_SUCCESS, replaces the object
 * in *out by a new handle for it, the only thing the caller ever holds; if
 * there is no memory for one, releases the object (ND_NO_MEMORY).
 */
nd_status ndi_publish(nd_status st, void **out);
#define NDI_PUBLISH(st, out) ndi_publish(st, (void **)(out))
/* The object behind a public handle if it is live and of `type`, else NULL. */
struct nd_object *ndi_object(const void *handle, enum nd_object_type type);
/* Like ndi_object, for any type that has overlapped requests. */
struct nd_object *ndi_ov_object(const void *handle);
/* Release the caller's reference: close, cancel pending, put. */
nd_status ndi_release(const void *handle, enum nd_object_type type);
/* Complete every pending request of obj with ND_CANCELED, in order. */
void ndi_ov_cancel_all(struct nd_object *obj);
/*
 * The synchronous outcome `st` of an asynchronous call of obj with `ov`,
 * which every such call of nd.h returns through: a status other than
 * ND_PENDING is written into ov (so nd_get_overlapped_result answers, as
 * ND's samples expect), and ND_SUCCESS is also queued on the adapter, as a
 * later completion would be, when the adapter is in
 * ND_COMPLETION_QUEUE_ON_SUCCESS mode. Returns st.
 */
nd_status ndi_ov_sync(struct nd_object *obj, struct nd_overlapped *ov,
		      nd_status st);

/*
 * Validates a socket address argument as ND does: a length below
 * sizeof(struct sockaddr) or below the family's size gives `bad_len`, an
 * unsupported family ND_INVALID_ADDRESS.
 */
nd_status ndi_check_sockaddr(const struct sockaddr *addr, size_t len,
			     nd_status bad_len);

/*
 * ND_SUCCESS if this process may read [buffer, buffer + length), and write
 * it when `write`; else ND_ACCESS_VIOLATION (or ND_INSUFFICIENT_RESOURCES
 * when the kernel could not tell). Faults the range in.
 */
nd_status ndi_check_mapped(const void *buffer, size_t length, bool write);

/* Registry: active providers, best (highest priority) first. */
bool ndi_started(void);
unsigned ndi_provider_count(void);
const struct nd_provider *ndi_provider(unsigned i);
void ndi_adapter_live(int delta);

#endif
