/* SPDX-License-Identifier: MIT */
/*
 * The handle table. A handle the caller holds is a slot here, never the
 * object itself, so that using a handle after its release (or in a forked
 * child) is refused with ND_INVALID_HANDLE instead of reading freed memory
 * or acting on a newer object that took the old one's address:
 *
 * - a slot is used once: handles are handed out in address order from
 *   chunks that are never freed, so no later object is ever named by an
 *   old handle;
 * - a released slot keeps its memory; once every slot of a page is
 *   released, the page is given back to the kernel (MADV_DONTNEED) and
 *   reads as zeros, i.e. as dead, at no cost in memory;
 * - a forked child drops its copy of every page, so all the handles it
 *   inherited read as dead and no call in the child reaches the parent's
 *   connections.
 */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_SIZE ((uintptr_t)2 << 20)

/* Page 0 of a chunk counts the released slots of each page; the rest are
 * slots. Chunks are CHUNK_SIZE-aligned, so a slot finds its chunk. */
struct chunk_header {
	uint16_t released[CHUNK_SIZE / 4096];
	struct chunk_header *next;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static struct chunk_header *chunks; /* every chunk, newest first */
static struct nd_object_head *next_slot, *chunk_end;
static uintptr_t page_size;
static bool forked_child;

static void table_prepare(void)
{
	pthread_mutex_lock(&table_lock);
}

static void table_parent(void)
{
	pthread_mutex_unlock(&table_lock);
}

static void table_child(void)
{
	for (struct chunk_header *c = chunks; c; c = c->next)
		madvise((char *)c + page_size, CHUNK_SIZE - page_size,
			MADV_DONTNEED);
	forked_child = true;
	pthread_mutex_init(&table_lock, NULL);
}

static void table_init(void)
{
	page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
	pthread_atfork(table_prepare, table_parent, table_child);
}

/*
 * A new chunk, aligned to its size; NULL if out of memory. From the heap,
 * not mmap, so that leak checkers scan it: the caller's objects are
 * reachable only through their handles.
 */
static struct chunk_header *chunk_new(void)
{
	struct chunk_header *c = aligned_alloc(CHUNK_SIZE, CHUNK_SIZE);

	/* Only the counts: a slot is written whole when it is handed out. */
	if (c)
		memset(c, 0, sizeof(*c));
	return c;
}

static void *ndi_handle_new(struct nd_object *obj)
{
	struct nd_object_head *slot = NULL;

	pthread_once(&table_once, table_init);
	pthread_mutex_lock(&table_lock);
	if (next_slot == chunk_end) {
		struct chunk_header *c = chunk_new();
		if (c) {
			c->next = chunks;
			chunks = c;
			next_slot =
			    (struct nd_object_head *)((char *)c + page_size);
			chunk_end =
			    (struct nd_object_head *)((char *)c + CHUNK_SIZE);
		}
	}
	if (next_slot != chunk_end) {
		slot = next_slot++;
		slot->fast_ops = obj->head.fast_ops;
		slot->type = obj->head.type;
		slot->object = obj;
		__atomic_store_n(&slot->magic, ND_OBJECT_MAGIC,
				 __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&table_lock);
	if (!slot)
		ND_ERR("core", "no memory for a new handle");
	return slot;
}

/* Ends a handle once: only the caller that turned its magic off counts it. */
static bool handle_end(struct nd_object_head *slot)
{
	const uintptr_t per_page = page_size / sizeof(*slot);
	uint32_t magic = ND_OBJECT_MAGIC;

	if (!__atomic_compare_exchange_n(&slot->magic, &magic, 0, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	struct chunk_header *c =
	    (struct chunk_header *)((uintptr_t)slot & ~(CHUNK_SIZE - 1));
	uintptr_t page = ((uintptr_t)slot & (CHUNK_SIZE - 1)) / page_size;

	pthread_mutex_lock(&table_lock);
	if (++c->released[page] == per_page)
		madvise((char *)c + page * page_size, page_size, MADV_DONTNEED);
	pthread_mutex_unlock(&table_lock);
	return true;
}

struct nd_object *ndi_object(const void *handle, enum nd_object_type type)
{
	const struct nd_object_head *slot = handle;

	if (!slot || __atomic_load_n(&slot->magic, __ATOMIC_ACQUIRE) !=
			 ND_OBJECT_MAGIC) {
		if (slot && forked_child)
			ND_INFO("core", "a handle inherited across fork is "
					"dead in the child: the objects belong "
					"to the parent");
		return NULL;
	}
	if (slot->type != (uint32_t)type)
		return NULL;
	return slot->object;
}

struct nd_object *ndi_ov_object(const void *handle)
{
	const struct nd_object_head *slot = handle;

	if (!slot ||
	    __atomic_load_n(&slot->magic, __ATOMIC_ACQUIRE) != ND_OBJECT_MAGIC)
		return NULL;
	switch (slot->type) {
	case ND_OBJ_CQ:
	case ND_OBJ_MR:
	case ND_OBJ_SRQ:
	case ND_OBJ_CONNECTOR:
	case ND_OBJ_LISTENER:
		return ndi_object(handle, slot->type);
	default:
		return NULL;
	}
}

/* The caller's reference ends: close, cancel pending, put. */
static void close_object(struct nd_object *obj)
{
	__atomic_store_n(&obj->closed, 1, __ATOMIC_RELEASE);
	if (obj->ops->close)
		obj->ops->close(obj);
	if (obj->adapter) /* an adapter has no requests of its own */
		ndi_ov_cancel_all(obj);
	nd_object_put(obj);
}

nd_status ndi_release(const void *handle, enum nd_object_type type)
{
	struct nd_object *obj = ndi_object(handle, type);

	if (!obj || !handle_end((struct nd_object_head *)handle))
		return ND_INVALID_HANDLE;
	close_object(obj);
	return ND_SUCCESS;
}

nd_status ndi_publish(nd_status st, void **out)
{
	if (st != ND_SUCCESS)
		return st;
	struct nd_object *obj = *out;
	void *handle = ndi_handle_new(obj);
	if (!handle) {
		close_object(obj);
		return ND_NO_MEMORY;
	}
	*out = handle;
	return ND_SUCCESS;
}
