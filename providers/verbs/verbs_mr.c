/* SPDX-License-Identifier: MIT */
/*
 * Memory regions (ibv_reg_mr; tokens are lkey/rkey) and type-2 memory
 * windows (ibv_alloc_mw; bound and invalidated by posts on a QP).
 */
#include "verbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/*
 * ND flags -> access, by table on the low four bits: LOCAL_WRITE (1),
 * REMOTE_READ (2), the REMOTE_WRITE bit (4; ND's value 5 carries LOCAL_WRITE
 * too) and RDMA_READ_SINK (8, a local write of read responses).
 */
#define LW IBV_ACCESS_LOCAL_WRITE
#define RR IBV_ACCESS_REMOTE_READ
#define RW (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE)
static const int verbs_mr_access[16] = {
    0,	LW, RR,	     LW | RR, RW, RW, RW | RR, RW | RR,
    LW, LW, LW | RR, LW | RR, RW, RW, RW | RR, RW | RR,
};
#undef LW
#undef RR
#undef RW

/*
 * The usual reason a registration fails ENOMEM: the pages would pass the
 * process's locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`; 8 MiB by
 * default for users without CAP_IPC_LOCK). Says so once, with the numbers.
 */
static void verbs_memlock_hint(size_t length)
{
	static bool said;
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    __atomic_exchange_n(&said, true, __ATOMIC_RELAXED))
		return;
	ND_WARN(VERBS_LOG,
		"registering %zu bytes failed: out of memory; the "
		"locked-memory limit of this process is %llu KiB (ulimit -l): "
		"registered memory is pinned and counts against it. Raise it "
		"(e.g. 'memlock unlimited' in /etc/security/limits.conf, "
		"LimitMEMLOCK=infinity for a systemd service)",
		length, (unsigned long long)(rl.rlim_cur / 1024));
}

static nd_status verbs_mr_register(struct nd_mr_base *b, const void *buffer,
				   size_t length, uint32_t flags,
				   struct nd_overlapped *ov)
{
	struct verbs_mr *mr = container_of(b, struct verbs_mr, base);
	struct verbs_adapter *a = mr->ad;
	int access = verbs_mr_access[flags & 0xf];

	(void)ov;
	if ((flags & ND_MR_FLAG_RDMA_READ_SINK) &&
	    a->tp->read_sink_remote_write)
		access |= IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
	if (a->has_mw)
		access |= IBV_ACCESS_MW_BIND;
	mr->mr = ibv_reg_mr(a->pd, (void *)buffer, length, access);
	/*
	 * The kernel pins for writing any region a window may be bound to (a
	 * window can grant remote write), so read-only memory registers only
	 * without MW_BIND: such a region then carries no windows.
	 */
	if (!mr->mr && errno == EFAULT && (access & IBV_ACCESS_MW_BIND) &&
	    !(access & IBV_ACCESS_LOCAL_WRITE)) {
		access &= ~IBV_ACCESS_MW_BIND;
		mr->mr = ibv_reg_mr(a->pd, (void *)buffer, length, access);
	}
	if (!mr->mr) {
		int err = errno;
		ND_INFO(VERBS_LOG, "ibv_reg_mr(%p, %zu, 0x%x): %s", buffer,
			length, access, strerror(err));
		if (err == EINVAL || err == EFAULT)
			return ND_ACCESS_VIOLATION;
		if (err == ENOMEM) {
			/* pinned pages, not heap: RLIMIT_MEMLOCK or the
			 * device's own limit */
			verbs_memlock_hint(length);
			return ND_INSUFFICIENT_RESOURCES;
		}
		return nd_util_errno_status(err);
	}
	mr->access = access;
	mr->base.local_token = mr->mr->lkey;
	mr->base.remote_token = mr->mr->rkey;
	__atomic_store_n(&mr->base.registered, 1, __ATOMIC_RELEASE);
	return ND_SUCCESS;
}

static nd_status verbs_mr_deregister(struct nd_mr_base *b,
				     struct nd_overlapped *ov)
{
	struct verbs_mr *mr = container_of(b, struct verbs_mr, base);
	int ret;

	(void)ov;
	ret = ibv_dereg_mr(mr->mr);
	if (ret) {
		ND_WARN(VERBS_LOG, "ibv_dereg_mr: %s", strerror(ret));
		return ret == EBUSY ? ND_DEVICE_BUSY
				    : nd_util_errno_status(ret);
	}
	mr->mr = NULL;
	mr->base.local_token = mr->base.remote_token = 0;
	__atomic_store_n(&mr->base.registered, 0, __ATOMIC_RELEASE);
	return ND_SUCCESS;
}

static const struct nd_mr_ops verbs_mr_ops = {
    .register_memory = verbs_mr_register,
    .deregister_memory = verbs_mr_deregister,
};

static void verbs_mr_destroy(struct nd_object *obj)
{
	struct verbs_mr *mr = container_of(obj, struct verbs_mr, base.obj);

	if (mr->mr) {
		int ret = ibv_dereg_mr(mr->mr);
		if (ret)
			ND_WARN(VERBS_LOG, "ibv_dereg_mr: %s", strerror(ret));
	}
	free(mr);
}

/*
 * The caller released the region while a window keeps it alive: its own
 * rkey must stop working at once (the window grants only what it grants),
 * but a region with windows bound cannot be deregistered. Dropping its
 * remote rights does it, where the device can change them in place.
 */
static void verbs_mr_close(struct nd_object *obj)
{
	struct verbs_mr *mr = container_of(obj, struct verbs_mr, base.obj);
	const int remote = IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;

	if (!mr->mr || !(mr->access & remote) ||
	    !__atomic_load_n(&mr->base.bound_windows, __ATOMIC_ACQUIRE))
		return;
	int ret = ibv_rereg_mr(mr->mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL,
			       0, mr->access & ~remote);
	if (ret) {
		ND_WARN(VERBS_LOG,
			"released a region with a window bound, but the device "
			"cannot revoke its remote rights (ibv_rereg_mr: %d): "
			"its token stays valid until the window is released",
			ret);
		return;
	}
	mr->access &= ~remote;
	mr->base.remote_token = mr->mr->rkey;
}

static const struct nd_object_ops verbs_mr_obj_ops = {
    .close = verbs_mr_close,
    .destroy = verbs_mr_destroy,
};

nd_status verbs_create_mr(struct nd_adapter_base *ab, struct nd_mr **out)
{
	struct verbs_mr *mr = calloc(1, sizeof(*mr));

	if (!mr)
		return ND_NO_MEMORY;
	mr->ad = verbs_adapter_of(ab);
	nd_mr_base_init(&mr->base, &verbs_mr_obj_ops, &verbs_mr_ops, ab);
	*out = &mr->base.pub;
	return ND_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Memory windows
 */

static void verbs_mw_destroy(struct nd_object *obj)
{
	struct verbs_mw *mw = container_of(obj, struct verbs_mw, base.obj);
	int ret = ibv_dealloc_mw(mw->mw);

	if (ret)
		ND_WARN(VERBS_LOG, "ibv_dealloc_mw: %s", strerror(ret));
	if (mw->mr) {
		if (mw->bound)
			__atomic_sub_fetch(&mw->mr->base.bound_windows, 1,
					   __ATOMIC_ACQ_REL);
		nd_object_put(&mw->mr->base.obj);
	}
	free(mw);
}

static const struct nd_object_ops verbs_mw_obj_ops = {
    .destroy = verbs_mw_destroy,
};

nd_status verbs_create_mw(struct nd_adapter_base *ab, struct nd_mw **out)
{
	struct verbs_adapter *a = verbs_adapter_of(ab);
	struct verbs_mw *mw;

	if (!a->has_mw)
		return ND_NOT_SUPPORTED;
	mw = calloc(1, sizeof(*mw));
	if (!mw)
		return ND_NO_MEMORY;
	mw->ad = a;
	mw->mw = ibv_alloc_mw(a->pd, IBV_MW_TYPE_2);
	if (!mw->mw) {
		nd_status st = nd_util_errno_status(errno);
		ND_ERR(VERBS_LOG, "ibv_alloc_mw: %s", strerror(errno));
		free(mw);
		return st == ND_NOT_SUPPORTED ? st : ND_INSUFFICIENT_RESOURCES;
	}
	mw->rkey = mw->mw->rkey;
	nd_mw_base_init(&mw->base, &verbs_mw_obj_ops, ab);
	*out = &mw->base.pub;
	return ND_SUCCESS;
}
