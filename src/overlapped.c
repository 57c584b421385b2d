/* SPDX-License-Identifier: MIT */
/*
 * The overlapped engine: asynchronous requests of an adapter's objects.
 *
 * Each object keeps a FIFO of its pending requests; a finished request goes
 * to the adapter's queue of finished requests (once the application has asked
 * for the adapter's file descriptor, the IOCP "bind") and wakes every waiter.
 * The eventfd is kept non-zero exactly while that queue is non-empty, so the
 * descriptor is level-readable as ND's completion port is. A request that
 * finished at once (ND_SUCCESS) is queued the same way only in the adapter's
 * ND_COMPLETION_QUEUE_ON_SUCCESS mode (ndi_ov_sync), Windows' default.
 *
 * Pending requests are linked through their nd_overlapped (the caller keeps
 * it valid until the request finishes); finished ones are only pointed to
 * from the queue, never dereferenced there. The structs need not be zeroed:
 * internal.state is trusted only after finding the pointer where it says.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	OV_IDLE = 0,
	OV_PENDING = 0x4f56504eu, /* in its object's FIFO */
	OV_CLAIMED = 0x4f56434cu, /* taken by the provider, completing */
	OV_QUEUED = 0x4f565155u,  /* its pointer is (or was) in the finished
				     queue: check there before trusting */
};

static struct nd_ov_engine *engine_of(struct nd_object *obj)
{
	return obj->adapter->engine;
}

static void set_status(struct nd_overlapped *ov, nd_status status)
{
	__atomic_store_n(&ov->status, status, __ATOMIC_RELEASE);
}

static nd_status get_status(const struct nd_overlapped *ov)
{
	return __atomic_load_n(&ov->status, __ATOMIC_ACQUIRE);
}

/* The eventfd follows the queue: readable exactly while it is non-empty. */
static void efd_signal(struct nd_ov_engine *e, bool readable)
{
	uint64_t v = 1;

	if (readable ? write(e->efd, &v, sizeof(v)) < 0
		     : read(e->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		ND_WARN("core", "eventfd: %s", strerror(errno));
}

static struct nd_overlapped **done_slot(struct nd_ov_engine *e, uint32_t i)
{
	return &e->done[(e->done_first + i) % e->done_cap];
}

/* Drops ov's entry, if any, comparing pointers only. Engine locked. */
static void done_remove(struct nd_ov_engine *e, struct nd_overlapped *ov)
{
	for (uint32_t i = 0; i < e->done_count; i++) {
		if (*done_slot(e, i) != ov)
			continue;
		for (; i + 1 < e->done_count; i++)
			*done_slot(e, i) = *done_slot(e, i + 1);
		if (--e->done_count == 0)
			efd_signal(e, false);
		return;
	}
}

/* Queues ov as finished; false if the ring could not grow. Engine locked. */
static bool done_push(struct nd_ov_engine *e, struct nd_overlapped *ov)
{
	if (e->done_count == e->done_cap) {
		uint32_t cap = e->done_cap ? 2 * e->done_cap : 64;
		struct nd_overlapped **ring = malloc(cap * sizeof(*ring));

		if (!ring) {
			ND_ERR("core", "out of memory queueing a finished "
				       "request; only its status reports it");
			return false;
		}
		for (uint32_t i = 0; i < e->done_count; i++)
			ring[i] = *done_slot(e, i);
		free(e->done);
		e->done = ring;
		e->done_cap = cap;
		e->done_first = 0;
	}
	*done_slot(e, e->done_count++) = ov;
	if (e->done_count == 1)
		efd_signal(e, true);
	return true;
}

/* The oldest finished request, or NULL; not dereferenced. Engine locked. */
static struct nd_overlapped *done_pop(struct nd_ov_engine *e)
{
	struct nd_overlapped *ov;

	if (e->done_count == 0)
		return NULL;
	ov = *done_slot(e, 0);
	e->done_first = (e->done_first + 1) % e->done_cap;
	if (--e->done_count == 0)
		efd_signal(e, false);
	return ov;
}

void nd_ov_begin(struct nd_object *obj, struct nd_overlapped *ov, uint32_t kind,
		 void *arg)
{
	struct nd_ov_engine *e = engine_of(obj);

	pthread_mutex_lock(&e->lock);
	/* Reused before its last completion was dequeued: drop that one. */
	if (ov->internal.state == OV_QUEUED)
		done_remove(e, ov);
	ov->internal.next = NULL;
	ov->internal.owner = obj;
	ov->internal.arg = arg;
	ov->internal.kind = kind;
	ov->internal.state = OV_PENDING;
	set_status(ov, ND_PENDING);
	if (obj->pending_tail)
		obj->pending_tail->internal.next = ov;
	else
		obj->pending_head = ov;
	obj->pending_tail = ov;
	pthread_mutex_unlock(&e->lock);
}

/* Unlinks and returns the oldest pending request of kind. Engine locked. */
static struct nd_overlapped *pending_take(struct nd_object *obj, uint32_t kind)
{
	struct nd_overlapped **pp = &obj->pending_head, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->internal.next) {
		struct nd_overlapped *ov = *pp;

		if (kind != ND_OV_ANY_KIND && ov->internal.kind != kind)
			continue;
		*pp = ov->internal.next;
		if (obj->pending_tail == ov)
			obj->pending_tail = prev;
		ov->internal.next = NULL;
		ov->internal.state = OV_CLAIMED;
		return ov;
	}
	return NULL;
}

/*
 * Publishes the final status. The status is written last: once a waiter
 * sees it the caller may free ov, so nothing touches ov afterwards.
 */
static void complete_locked(struct nd_ov_engine *e, struct nd_overlapped *ov,
			    nd_status status)
{
	bool queued = e->queue_enabled && !(ov->flags & ND_OV_FLAG_NO_QUEUE) &&
		      done_push(e, ov);

	ov->internal.state = queued ? OV_QUEUED : OV_IDLE;
	set_status(ov, status);
	pthread_cond_broadcast(&e->cond);
}

struct nd_overlapped *nd_ov_claim(struct nd_object *obj, uint32_t kind,
				  void **arg)
{
	struct nd_ov_engine *e = engine_of(obj);
	struct nd_overlapped *ov;

	pthread_mutex_lock(&e->lock);
	ov = pending_take(obj, kind);
	if (ov && arg)
		*arg = ov->internal.arg;
	pthread_mutex_unlock(&e->lock);
	return ov;
}

void nd_ov_complete(struct nd_object *obj, struct nd_overlapped *ov,
		    nd_status status)
{
	struct nd_ov_engine *e = engine_of(obj);

	pthread_mutex_lock(&e->lock);
	complete_locked(e, ov, status);
	pthread_mutex_unlock(&e->lock);
}

bool nd_ov_finish(struct nd_object *obj, uint32_t kind, nd_status status)
{
	struct nd_ov_engine *e = engine_of(obj);
	struct nd_overlapped *ov;

	pthread_mutex_lock(&e->lock);
	ov = pending_take(obj, kind);
	if (ov)
		complete_locked(e, ov, status);
	pthread_mutex_unlock(&e->lock);
	return ov != NULL;
}

unsigned nd_ov_finish_all(struct nd_object *obj, uint32_t kind,
			  nd_status status)
{
	struct nd_ov_engine *e = engine_of(obj);
	struct nd_overlapped *ov;
	unsigned n = 0;

	pthread_mutex_lock(&e->lock);
	while ((ov = pending_take(obj, kind))) {
		complete_locked(e, ov, status);
		n++;
	}
	pthread_mutex_unlock(&e->lock);
	return n;
}

bool nd_ov_pending(struct nd_object *obj, uint32_t kind)
{
	struct nd_ov_engine *e = engine_of(obj);
	bool found = false;

	pthread_mutex_lock(&e->lock);
	for (struct nd_overlapped *ov = obj->pending_head; ov && !found;
	     ov = ov->internal.next)
		found = kind == ND_OV_ANY_KIND || ov->internal.kind == kind;
	pthread_mutex_unlock(&e->lock);
	return found;
}

nd_status ndi_ov_sync(struct nd_object *obj, struct nd_overlapped *ov,
		      nd_status st)
{
	struct nd_ov_engine *e = engine_of(obj);

	if (st == ND_PENDING)
		return st; /* the provider began it: it completes later */
	if (st != ND_SUCCESS ||
	    __atomic_load_n(&e->completion_mode, __ATOMIC_RELAXED) !=
		ND_COMPLETION_QUEUE_ON_SUCCESS) {
		/* Failures are never queued (nor on Windows). */
		set_status(ov, st);
		return st;
	}
	/*
	 * Windows' default: a request that finished at once still posts its
	 * packet to the port, exactly as a later completion does. The ov may
	 * be reused before its last completion was dequeued: drop that entry
	 * first, so that it is queued once (as nd_ov_begin does).
	 */
	pthread_mutex_lock(&e->lock);
	if (ov->internal.state == OV_QUEUED)
		done_remove(e, ov);
	complete_locked(e, ov, st);
	pthread_mutex_unlock(&e->lock);
	return st;
}

void ndi_ov_cancel_all(struct nd_object *obj)
{
	if (obj->ops->cancel)
		obj->ops->cancel(obj);
	nd_ov_finish_all(obj, ND_OV_ANY_KIND, ND_CANCELED);
}

nd_status nd_cancel_overlapped(void *object)
{
	struct nd_object *obj = ndi_ov_object(object);

	if (!obj)
		return ND_INVALID_HANDLE;
	ndi_ov_cancel_all(obj);
	return ND_SUCCESS;
}

nd_status nd_get_overlapped_result(void *object, struct nd_overlapped *ov,
				   bool wait)
{
	struct nd_object *obj = ndi_ov_object(object);
	nd_status status;

	if (!obj)
		return ND_INVALID_HANDLE;
	if (!ov)
		return ND_INVALID_PARAMETER_1;
	status = get_status(ov);
	if (status != ND_PENDING || !wait)
		return status;

	struct nd_ov_engine *e = engine_of(obj);
	pthread_mutex_lock(&e->lock);
	while ((status = get_status(ov)) == ND_PENDING)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	return status;
}

/* --- the adapter's overlapped file ------------------------------------ */

static struct nd_ov_engine *adapter_engine(struct nd_adapter *adapter)
{
	struct nd_object *obj = ndi_object(adapter, ND_OBJ_ADAPTER);

	return obj ? nd_adapter_base_of((struct nd_adapter *)obj)->engine
		   : NULL;
}

nd_status nd_adapter_create_overlapped_file(struct nd_adapter *adapter, int *fd)
{
	struct nd_ov_engine *e = adapter_engine(adapter);
	int dup_fd;

	if (!e)
		return ND_INVALID_HANDLE;
	if (!fd)
		return ND_INVALID_PARAMETER_1;
	/* A duplicate: closing it must not harm the adapter. */
	dup_fd = fcntl(e->efd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		ND_ERR("core", "duplicating the adapter's eventfd: %s",
		       strerror(errno));
		return ND_INSUFFICIENT_RESOURCES;
	}
	pthread_mutex_lock(&e->lock);
	e->queue_enabled = true;
	pthread_mutex_unlock(&e->lock);
	*fd = dup_fd;
	return ND_SUCCESS;
}

nd_status nd_adapter_set_completion_mode(struct nd_adapter *adapter,
					 uint32_t mode)
{
	struct nd_ov_engine *e = adapter_engine(adapter);

	if (!e)
		return ND_INVALID_HANDLE;
	if (mode != ND_COMPLETION_SKIP_ON_SUCCESS &&
	    mode != ND_COMPLETION_QUEUE_ON_SUCCESS)
		return ND_INVALID_PARAMETER_1;
	__atomic_store_n(&e->completion_mode, mode, __ATOMIC_RELAXED);
	return ND_SUCCESS;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

nd_status nd_adapter_dequeue_overlapped(struct nd_adapter *adapter,
					int timeout_ms,
					struct nd_overlapped **ov)
{
	struct nd_ov_engine *e = adapter_engine(adapter);
	struct timespec deadline;
	struct nd_overlapped *head;

	if (!e)
		return ND_INVALID_HANDLE;
	if (!ov)
		return ND_INVALID_PARAMETER_2;
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);

	pthread_mutex_lock(&e->lock);
	while (e->done_count == 0 && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&e->cond, &e->lock);
		else if (pthread_cond_timedwait(&e->cond, &e->lock,
						&deadline) == ETIMEDOUT)
			break;
	}
	head = done_pop(e);
	pthread_mutex_unlock(&e->lock);
	if (!head)
		return ND_TIMEOUT;
	*ov = head;
	return ND_SUCCESS;
}

nd_status nd_adapter_post_overlapped(struct nd_adapter *adapter,
				     struct nd_overlapped *ov)
{
	struct nd_ov_engine *e = adapter_engine(adapter);

	if (!e)
		return ND_INVALID_HANDLE;
	if (!ov)
		return ND_INVALID_PARAMETER_1;
	pthread_mutex_lock(&e->lock);
	if (ov->internal.state == OV_QUEUED)
		done_remove(e, ov);
	bool queued = done_push(e, ov);
	ov->internal.state = queued ? OV_QUEUED : OV_IDLE;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return queued ? ND_SUCCESS : ND_NO_MEMORY;
}
