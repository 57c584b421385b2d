/* SPDX-License-Identifier: MIT */
/*
 * The verbs provider: device discovery, addresses, adapters and their
 * progress thread.
 *
 * Addresses: an IP belongs to the device rdma_cm binds it to (RoCE: the
 * netdev behind the GID, iWARP: the netdev, IB: IPoIB), so discovery binds a
 * throwaway cm_id to each local address and reads its device. Adapter ids are
 * node GUIDs.
 */
#include "verbs.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Queue depths advertised at most: the "create with every maximum"
 * rule must hold in a small VM, and no ND application needs more. */
#define VERBS_MAX_QUEUE_DEPTH 32768u
#define VERBS_MAX_CQ_DEPTH    262144u
#define VERBS_LARGE_REQUEST   (64u * 1024u)

/*
 * Transport capability table. Private data: IB/RoCE carry 92 bytes in a CM
 * REQ of which rdma_cm's header takes 36, 196 in a REP and 148 in a REJ (one
 * limit covers accept and reject); iWARP's MPA private data goes through
 * rdma_ucm's u8 length (255) and MPA v2 takes 4 bytes of it for IRD/ORD.
 */
static const struct verbs_transport verbs_transports[] = {
    [VERBS_TP_IB] =
	{
	    .name = "InfiniBand",
	    .kind = VERBS_TP_IB,
	    .connect_response = true,
	    .max_read_sge = UINT32_MAX,
	    .max_caller_data = 56,
	    .max_callee_data = 148,
	},
    [VERBS_TP_ROCE] =
	{
	    .name = "RoCE",
	    .kind = VERBS_TP_ROCE,
	    .connect_response = true,
	    .max_read_sge = UINT32_MAX,
	    .max_caller_data = 56,
	    .max_callee_data = 148,
	},
    [VERBS_TP_IWARP] =
	{
	    .name = "iWARP",
	    .kind = VERBS_TP_IWARP,
	    .cm_moves_qp = true,
	    .active_sends_first = true,
	    .read_sink_remote_write = true,
	    .broken_stream_errors = true,
	    .reads_complete_late = true,
	    .flush_may_lose = true,
	    .max_read_sge = 1,
	    .max_caller_data = 251,
	    .max_callee_data = 251,
	    /* siw connects its TCP socket inside rdma_connect */
	    .connect_blocks = true,
	},
};

static struct ibv_device **dev_list;
static int ndevs;

/*
 * A device that refuses an object whose arguments are within the limits it
 * reported has run out of something, whatever errno it says it with: rxe
 * EINVAL past a count, siw ENOSPC or ENOMEM, a library's EOPNOTSUPP from a
 * path it could not take. ND's status for that is
 * ND_INSUFFICIENT_RESOURCES; only a device that is gone is told apart.
 */
nd_status verbs_create_status(int err)
{
	nd_status st = nd_util_errno_status(err);

	return st == ND_DEVICE_REMOVED ? st : ND_INSUFFICIENT_RESOURCES;
}

/* ---------------------------------------------------------------------------
 * Address discovery
 */

struct verbs_addr {
	struct sockaddr_storage ss;
	uint64_t guid;
};

static uint64_t verbs_guid_of(struct ibv_context *ctx)
{
	return ctx ? be64toh(ibv_get_device_guid(ctx->device)) : 0;
}

/* Every local IP an RDMA device serves: *out (malloc'd), count returned. */
static int verbs_addr_map(struct verbs_addr **out)
{
	struct ifaddrs *ifa_list, *ifa;
	struct verbs_addr *v = NULL;
	int n = 0, cap = 0;

	*out = NULL;
	if (getifaddrs(&ifa_list))
		return 0;
	for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
		struct rdma_cm_id *id;
		struct sockaddr_storage ss;

		if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK) ||
		    !(ifa->ifa_flags & IFF_UP))
			continue;
		if (ifa->ifa_addr->sa_family != AF_INET &&
		    ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(
			&((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr))
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, ifa->ifa_addr, nd_util_sockaddr_len(ifa->ifa_addr));
		if (rdma_create_id(NULL, &id, NULL, RDMA_PS_TCP))
			continue;
		if (!rdma_bind_addr(id, (struct sockaddr *)&ss) && id->verbs) {
			if (n == cap) {
				int ncap = cap ? 2 * cap : 8;
				struct verbs_addr *nv =
				    realloc(v, ncap * sizeof(*v));
				if (!nv) {
					rdma_destroy_id(id);
					break;
				}
				v = nv;
				cap = ncap;
			}
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = 0;
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = 0;
			v[n].ss = ss;
			v[n].guid = verbs_guid_of(id->verbs);
			n++;
		}
		rdma_destroy_id(id);
	}
	freeifaddrs(ifa_list);
	*out = v;
	return n;
}

/* The addresses of one adapter (guid) or of all (guid 0), ND's list. */
static nd_status verbs_list(uint64_t guid, struct nd_address_list *list,
			    size_t *size)
{
	struct verbs_addr *v;
	struct sockaddr_storage *ss;
	int n = verbs_addr_map(&v), m = 0;
	nd_status st;

	ss = calloc(n ? n : 1, sizeof(*ss));
	if (!ss) {
		free(v);
		return ND_NO_MEMORY;
	}
	for (int i = 0; i < n; i++)
		if (!guid || v[i].guid == guid)
			ss[m++] = v[i].ss;
	st = nd_address_list_build(ss, m, list, size);
	free(ss);
	free(v);
	return st;
}

static nd_status verbs_query_address_list(struct nd_address_list *list,
					  size_t *size)
{
	return verbs_list(0, list, size);
}

static nd_status verbs_resolve_address(const struct sockaddr *addr, size_t len,
				       uint64_t *adapter_id)
{
	struct verbs_addr *v;
	int n = verbs_addr_map(&v);
	nd_status st = ND_INVALID_ADDRESS;

	(void)len;
	for (int i = 0; i < n; i++) {
		if (nd_util_sockaddr_same_ip((struct sockaddr *)&v[i].ss,
					     addr)) {
			*adapter_id = v[i].guid;
			st = ND_SUCCESS;
			break;
		}
	}
	free(v);
	return st;
}

static nd_status verbs_init(void)
{
	dev_list = ibv_get_device_list(&ndevs);
	if (!dev_list || ndevs <= 0) {
		if (dev_list)
			ibv_free_device_list(dev_list);
		dev_list = NULL;
		ndevs = 0;
		ND_INFO(VERBS_LOG, "no RDMA devices");
		return ND_DEVICE_NOT_READY;
	}
	return ND_SUCCESS;
}

static void verbs_fini(void)
{
	if (dev_list)
		ibv_free_device_list(dev_list);
	dev_list = NULL;
	ndevs = 0;
}

/* ---------------------------------------------------------------------------
 * QP number map (SRQ completions carry only the QP number)
 */

/* The live entry for qpn, or NULL. Under qpn_lock. */
static struct verbs_qpn_entry *qpn_find(struct verbs_adapter *a, uint32_t qpn)
{
	for (uint32_t j = a->qpn_cap ? qpn & (a->qpn_cap - 1) : 0;
	     a->qpn_cap && a->qpn[j].used; j = (j + 1) & (a->qpn_cap - 1))
		if (a->qpn[j].used == 1 && a->qpn[j].qpn == qpn)
			return &a->qpn[j];
	return NULL;
}

void verbs_qpn_add(struct verbs_adapter *a, uint32_t qpn, void *ctx,
		   struct verbs_qp *qp)
{
	pthread_rwlock_wrlock(&a->qpn_lock);
	/* Lookups probe until an empty slot, so at least half the table stays
	 * empty counting tombstones: it is rebuilt without them (twice as
	 * large only if the live entries need it). Without this, QP numbers
	 * that only grow (rxe) filled it with tombstones and a lookup of an
	 * absent QP number never ended. */
	if ((a->qpn_count + a->qpn_tombstones + 1) * 2 > a->qpn_cap) {
		uint32_t ncap = a->qpn_cap ? a->qpn_cap : 64;
		while ((a->qpn_count + 1) * 4 > ncap)
			ncap *= 2;
		struct verbs_qpn_entry *n = calloc(ncap, sizeof(*n));
		if (!n) {
			pthread_rwlock_unlock(&a->qpn_lock);
			return;
		}
		for (uint32_t i = 0; i < a->qpn_cap; i++) {
			if (a->qpn[i].used != 1)
				continue;
			uint32_t j = a->qpn[i].qpn & (ncap - 1);
			while (n[j].used)
				j = (j + 1) & (ncap - 1);
			n[j] = a->qpn[i];
		}
		free(a->qpn);
		a->qpn = n;
		a->qpn_cap = ncap;
		a->qpn_tombstones = 0;
	}
	uint32_t j = qpn & (a->qpn_cap - 1);
	while (a->qpn[j].used == 1)
		j = (j + 1) & (a->qpn_cap - 1);
	if (a->qpn[j].used == 2)
		a->qpn_tombstones--;
	a->qpn[j].qpn = qpn;
	a->qpn[j].ctx = ctx;
	a->qpn[j].qp = qp;
	a->qpn[j].used = 1;
	a->qpn_count++;
	pthread_rwlock_unlock(&a->qpn_lock);
}

void verbs_qpn_del(struct verbs_adapter *a, uint32_t qpn)
{
	struct verbs_qpn_entry *e;

	pthread_rwlock_wrlock(&a->qpn_lock);
	e = qpn_find(a, qpn);
	if (e) {
		e->used = 2; /* tombstone */
		a->qpn_count--;
		a->qpn_tombstones++;
	}
	pthread_rwlock_unlock(&a->qpn_lock);
}

void *verbs_qpn_lookup(struct verbs_adapter *a, uint32_t qpn)
{
	struct verbs_qpn_entry *e;
	void *ctx = NULL;

	pthread_rwlock_rdlock(&a->qpn_lock);
	e = qpn_find(a, qpn);
	if (e)
		ctx = e->ctx;
	pthread_rwlock_unlock(&a->qpn_lock);
	return ctx;
}

/* The connection QP qpn is linked to, or NULL. Under cm_lock: a linked QP
 * is held by its connection and unlinking takes cm_lock, so both stay
 * while the caller holds it; the QP cannot go while qpn_lock is held. */
struct verbs_conn *verbs_qpn_conn(struct verbs_adapter *a, uint32_t qpn)
{
	struct verbs_qpn_entry *e;
	struct verbs_conn *c = NULL;

	pthread_rwlock_rdlock(&a->qpn_lock);
	e = qpn_find(a, qpn);
	if (e)
		c = e->qp->conn;
	pthread_rwlock_unlock(&a->qpn_lock);
	return c;
}

/* Poller: QP `qpn` exhausted its transport retries; the progress thread
 * ends its connection. Recorded once; if the list is full, the connection
 * ends when the application disconnects or releases it. */
void verbs_transport_broken(struct verbs_adapter *a, uint32_t qpn)
{
	bool added = false;

	pthread_mutex_lock(&a->broken_lock);
	for (uint32_t i = 0; i < a->nbroken; i++)
		if (a->broken[i] == qpn)
			goto out;
	if (a->nbroken < VERBS_BROKEN_MAX) {
		a->broken[a->nbroken++] = qpn;
		added = true;
	}
out:
	pthread_mutex_unlock(&a->broken_lock);
	if (added)
		nd_util_wake(a->wakefd);
}

/* ---------------------------------------------------------------------------
 * Progress thread
 */

enum { EP_WAKE = 1, EP_CM, EP_COMP, EP_ASYNC };

void verbs_doom_id(struct verbs_adapter *a, struct rdma_cm_id *id)
{
	if (!id)
		return;
	id->context = NULL;
	if (a->ndoomed == a->doomed_cap) {
		unsigned ncap = a->doomed_cap ? 2 * a->doomed_cap : 16;
		struct rdma_cm_id **n =
		    realloc(a->doomed, ncap * sizeof(*a->doomed));
		if (!n) {
			ND_ERR(VERBS_LOG, "out of memory: leaking a cm_id");
			return;
		}
		a->doomed = n;
		a->doomed_cap = ncap;
	}
	a->doomed[a->ndoomed++] = id;
	nd_util_wake(a->wakefd);
}

static void verbs_reap_doomed(struct verbs_adapter *a)
{
	struct rdma_cm_id **ids;
	unsigned n;

	pthread_mutex_lock(&a->cm_lock);
	ids = a->doomed;
	n = a->ndoomed;
	a->doomed = NULL;
	a->ndoomed = a->doomed_cap = 0;
	pthread_mutex_unlock(&a->cm_lock);
	for (unsigned i = 0; i < n; i++)
		rdma_destroy_id(ids[i]);
	free(ids);
}

static void verbs_async_event(struct verbs_adapter *a)
{
	struct ibv_async_event ev;

	while (!ibv_get_async_event(a->ctx, &ev)) {
		switch (ev.event_type) {
		case IBV_EVENT_SRQ_LIMIT_REACHED:
			verbs_srq_limit_event(ev.element.srq->srq_context);
			break;
		case IBV_EVENT_CQ_ERR:
			/* The CQ stays until the event is acknowledged
			 * (ibv_destroy_cq waits for that). */
			verbs_cq_overrun(ev.element.cq->cq_context);
			break;
		case IBV_EVENT_QP_FATAL:
		case IBV_EVENT_QP_REQ_ERR:
		case IBV_EVENT_QP_ACCESS_ERR: {
			/* The QP is in error; later posts complete in
			 * software (siw drops what is posted now). */
			struct verbs_qp *qp = ev.element.qp->qp_context;
			ND_DEBUG(VERBS_LOG, "QP %u: %s", ev.element.qp->qp_num,
				 ibv_event_type_str(ev.event_type));
			if (qp)
				__atomic_store_n(&qp->ring->dead, 1,
						 __ATOMIC_RELEASE);
			break;
		}
		default:
			ND_DEBUG(VERBS_LOG, "async event: %s",
				 ibv_event_type_str(ev.event_type));
			break;
		}
		ibv_ack_async_event(&ev);
	}
}

static void verbs_adapter_teardown(struct verbs_adapter *a);

static void *verbs_progress(void *arg)
{
	struct verbs_adapter *a = arg;
	struct epoll_event evs[8];

	int timeout = -1;

	for (;;) {
		int n = epoll_wait(a->epfd, evs, 8, timeout);
		if (n < 0 && errno != EINTR) {
			ND_ERR(VERBS_LOG, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EP_WAKE: {
				uint64_t v;
				if (read(a->wakefd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					ND_WARN(VERBS_LOG, "wake read: %s",
						strerror(errno));
				break;
			}
			case EP_CM:
				verbs_cm_event(a);
				break;
			case EP_COMP:
				verbs_cq_event(a);
				break;
			case EP_ASYNC:
				verbs_async_event(a);
				break;
			}
		}
		verbs_reap_doomed(a);
		verbs_cm_reap_broken(a);
		timeout = verbs_reap_stragglers(a);
		/* the nearer of the two; -1 (idle) only if neither waits */
		int cm_timeout = verbs_cm_expire(a);
		if (cm_timeout >= 0 && (timeout < 0 || cm_timeout < timeout))
			timeout = cm_timeout;
		if (__atomic_load_n(&a->destroy_in_thread, __ATOMIC_ACQUIRE)) {
			/* The last reference went away on this thread. */
			pthread_detach(pthread_self());
			a->thread_started = false;
			verbs_adapter_teardown(a);
			return NULL;
		}
		if (__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE))
			break;
	}
	return NULL;
}

static int verbs_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int verbs_ep_add(struct verbs_adapter *a, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (verbs_nonblock(fd))
		return -1;
	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---------------------------------------------------------------------------
 * Adapter
 */

static nd_status verbs_adapter_query_address_list(struct nd_adapter_base *ab,
						  struct nd_address_list *list,
						  uint32_t *size)
{
	size_t sz = *size;
	nd_status st = verbs_list(verbs_adapter_of(ab)->guid, list, &sz);

	*size = (uint32_t)sz;
	return st;
}

static const struct nd_adapter_ops verbs_adapter_ops_mw = {
    .query_address_list = verbs_adapter_query_address_list,
    .create_cq = verbs_create_cq,
    .create_mr = verbs_create_mr,
    .create_mw = verbs_create_mw,
    .create_srq = verbs_create_srq,
    .create_qp = verbs_create_qp,
    .create_connector = verbs_create_connector,
    .create_listener = verbs_create_listener,
};

static const struct nd_adapter_ops verbs_adapter_ops_nomw = {
    .query_address_list = verbs_adapter_query_address_list,
    .create_cq = verbs_create_cq,
    .create_mr = verbs_create_mr,
    .create_mw = NULL,
    .create_srq = verbs_create_srq,
    .create_qp = verbs_create_qp,
    .create_connector = verbs_create_connector,
    .create_listener = verbs_create_listener,
};

/* Frees everything; the progress thread is gone or is the caller. */
static void verbs_adapter_teardown(struct verbs_adapter *a)
{
	if (a->thread_started) {
		__atomic_store_n(&a->stop, true, __ATOMIC_RELEASE);
		nd_util_wake(a->wakefd);
		pthread_join(a->thread, NULL);
		a->thread_started = false;
	}
	for (unsigned i = 0; i < a->ndoomed; i++)
		rdma_destroy_id(a->doomed[i]);
	free(a->doomed);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->wakefd >= 0)
		close(a->wakefd);
	if (a->cm_ch)
		rdma_destroy_event_channel(a->cm_ch);
	if (a->comp_ch)
		ibv_destroy_comp_channel(a->comp_ch);
	if (a->pd)
		ibv_dealloc_pd(a->pd);
	if (a->ctx)
		ibv_close_device(a->ctx);
	free(a->qpn);
	pthread_rwlock_destroy(&a->qpn_lock);
	pthread_mutex_destroy(&a->broken_lock);
	pthread_mutex_destroy(&a->cm_lock);
	if (a->base.engine)
		nd_adapter_base_fini(&a->base);
	free(a);
}

static void verbs_adapter_destroy(struct nd_object *obj)
{
	struct verbs_adapter *a =
	    container_of(obj, struct verbs_adapter, base.obj);

	if (a->thread_started && pthread_equal(pthread_self(), a->thread)) {
		__atomic_store_n(&a->destroy_in_thread, true, __ATOMIC_RELEASE);
		return;
	}
	verbs_adapter_teardown(a);
}

static const struct nd_object_ops verbs_adapter_obj_ops = {
    .destroy = verbs_adapter_destroy,
};

/*
 * Extended QPs: posting through ibv_wr_* where the device builds every
 * request type the provider posts that way. Not with the zero-SGE quirk
 * (its workaround edits the SGE list of an ibv_send_wr). ND_VERBS_NO_QP_EX
 * forces ibv_post_send (comparisons, device bugs).
 */
static void verbs_probe_qp_ex(struct verbs_adapter *a, struct ibv_cq *cq)
{
	uint64_t ops = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_RDMA_WRITE |
		       IBV_QP_EX_WITH_RDMA_READ;
	struct ibv_qp_init_attr_ex ix = {
	    .send_cq = cq,
	    .recv_cq = cq,
	    .cap = {.max_send_wr = 1,
		    .max_recv_wr = 1,
		    .max_send_sge = 1,
		    .max_recv_sge = 1},
	    .qp_type = IBV_QPT_RC,
	    .comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
	    .pd = a->pd,
	};
	struct ibv_qp *qp;

	if (a->zero_sge_quirk || getenv("ND_VERBS_NO_QP_EX"))
		return;
	if (a->has_mw)
		ops |= IBV_QP_EX_WITH_BIND_MW | IBV_QP_EX_WITH_LOCAL_INV;
	ix.send_ops_flags = ops;
	qp = ibv_create_qp_ex(a->ctx, &ix);
	if (!qp)
		return;
	a->qp_ex_ops = ops;
	ibv_destroy_qp(qp);
}

/* What the device can really do, found by trying it. */
static void verbs_probe(struct verbs_adapter *a,
			const struct ibv_device_attr_ex *dx)
{
	struct ibv_cq *cq = ibv_create_cq(a->ctx, 4, NULL, NULL, 0);
	static const uint32_t inl[] = {1024, 512, 256, 128, 64, 32, 0};

	a->max_send_sge = dx->orig_attr.max_sge;
	a->max_recv_sge = dx->orig_attr.max_sge;
	if (!cq)
		return;
	a->cq_resize = !ibv_resize_cq(cq, 16);
	for (uint32_t sge = a->max_send_sge; sge >= 1; sge /= 2) {
		struct ibv_qp *qp = NULL;
		for (unsigned i = 0; i < sizeof(inl) / sizeof(inl[0]); i++) {
			struct ibv_qp_init_attr ia = {
			    .send_cq = cq,
			    .recv_cq = cq,
			    .cap = {.max_send_wr = 1,
				    .max_recv_wr = 1,
				    .max_send_sge = sge,
				    .max_recv_sge = a->max_recv_sge,
				    .max_inline_data = inl[i]},
			    .qp_type = IBV_QPT_RC,
			};
			qp = ibv_create_qp(a->pd, &ia);
			if (qp) {
				a->max_inline = ia.cap.max_inline_data;
				break;
			}
		}
		if (qp) {
			a->max_send_sge = sge;
			ibv_destroy_qp(qp);
			break;
		}
	}
	if (a->has_mw) {
		struct ibv_mw *mw = ibv_alloc_mw(a->pd, IBV_MW_TYPE_2);
		if (mw)
			ibv_dealloc_mw(mw);
		else
			a->has_mw = false;
	}
	verbs_probe_qp_ex(a, cq);
	ibv_destroy_cq(cq);
	if (a->cq_ex) {
		struct ibv_cq_init_attr_ex ca = {
		    .cqe = 4,
		    .wc_flags = IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_QP_NUM,
		};
		struct ibv_cq_ex *cx = ibv_create_cq_ex(a->ctx, &ca);
		if (cx)
			ibv_destroy_cq(ibv_cq_ex_to_cq(cx));
		else
			a->cq_ex = false;
	}
}

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	uint64_t m = a < b ? a : b;
	return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

static void verbs_fill_info(struct verbs_adapter *a,
			    const struct ibv_device_attr_ex *dx)
{
	const struct ibv_device_attr *d = &dx->orig_attr;
	struct nd_adapter_info *info = &a->base.info;

	memset(info, 0, sizeof(*info));
	info->info_version = ND_VERSION_2;
	info->vendor_id = (uint16_t)d->vendor_id;
	info->device_id = (uint16_t)d->vendor_part_id;
	info->adapter_id = a->guid;
	info->max_registration_size = d->max_mr_size;
	info->max_window_size = a->has_mw ? d->max_mr_size : 0;
	info->max_initiator_sge = a->max_send_sge;
	info->max_receive_sge = a->max_recv_sge;
	info->max_read_sge =
	    min_u32(d->max_sge_rd ? d->max_sge_rd : 1, a->tp->max_read_sge);
	if (info->max_read_sge > a->max_send_sge)
		info->max_read_sge = a->max_send_sge;
	info->max_transfer_length = a->max_msg;
	info->max_inline_data_size = a->max_inline;
	info->max_inbound_read_limit = min_u32(d->max_qp_rd_atom, 255);
	info->max_outbound_read_limit = min_u32(d->max_qp_init_rd_atom, 255);
	info->max_receive_queue_depth =
	    min_u32(d->max_qp_wr, VERBS_MAX_QUEUE_DEPTH);
	info->max_initiator_queue_depth =
	    min_u32(d->max_qp_wr, VERBS_MAX_QUEUE_DEPTH);
	info->max_shared_receive_queue_depth =
	    d->max_srq ? min_u32(d->max_srq_wr, VERBS_MAX_QUEUE_DEPTH) : 0;
	info->max_completion_queue_depth =
	    min_u32(d->max_cqe, VERBS_MAX_CQ_DEPTH);
	info->inline_request_threshold = a->max_inline;
	info->large_request_threshold = VERBS_LARGE_REQUEST;
	info->max_caller_data = a->tp->max_caller_data;
	info->max_callee_data = a->tp->max_callee_data;
	info->adapter_flags = ND_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;
	if (a->cq_resize)
		info->adapter_flags |= ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED;
	if (a->in_order)
		info->adapter_flags |= ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED;
	a->max_srq_sge = d->max_srq_sge;
	a->srq_resize = d->device_cap_flags & IBV_DEVICE_SRQ_RESIZE;
}

static nd_status verbs_open_adapter(uint64_t adapter_id,
				    struct nd_adapter **out)
{
	struct ibv_device *dev = NULL;
	struct verbs_adapter *a;
	struct ibv_device_attr_ex dx;
	struct ibv_port_attr pa;
	nd_status st;

	for (int i = 0; i < ndevs; i++) {
		if (be64toh(ibv_get_device_guid(dev_list[i])) == adapter_id) {
			dev = dev_list[i];
			break;
		}
	}
	if (!dev)
		return ND_INVALID_PARAMETER;

	a = calloc(1, sizeof(*a));
	if (!a)
		return ND_NO_MEMORY;
	a->epfd = a->wakefd = -1;
	pthread_mutex_init(&a->cm_lock, NULL);
	pthread_rwlock_init(&a->qpn_lock, NULL);
	pthread_mutex_init(&a->broken_lock, NULL);
	a->guid = adapter_id;

	st = ND_INSUFFICIENT_RESOURCES;
	a->ctx = ibv_open_device(dev);
	if (!a->ctx) {
		ND_ERR(VERBS_LOG, "ibv_open_device %s: %s",
		       ibv_get_device_name(dev), strerror(errno));
		goto err;
	}
	if (ibv_query_device_ex(a->ctx, NULL, &dx)) {
		ND_ERR(VERBS_LOG, "ibv_query_device_ex: %s", strerror(errno));
		goto err;
	}
	a->port = 1;
	for (uint8_t p = 1; p <= dx.orig_attr.phys_port_cnt; p++) {
		if (!ibv_query_port(a->ctx, p, &pa) &&
		    pa.state == IBV_PORT_ACTIVE) {
			a->port = p;
			break;
		}
	}
	if (ibv_query_port(a->ctx, a->port, &pa)) {
		ND_ERR(VERBS_LOG, "ibv_query_port: %s", strerror(errno));
		goto err;
	}
	a->max_msg = pa.max_msg_sz ? pa.max_msg_sz : UINT32_MAX;
	if (dev->transport_type == IBV_TRANSPORT_IWARP)
		a->tp = &verbs_transports[VERBS_TP_IWARP];
	else if (pa.link_layer == IBV_LINK_LAYER_ETHERNET)
		a->tp = &verbs_transports[VERBS_TP_ROCE];
	else
		a->tp = &verbs_transports[VERBS_TP_IB];

	a->pd = ibv_alloc_pd(a->ctx);
	if (!a->pd)
		goto err;
	a->has_mw =
	    dx.orig_attr.max_mw > 0 &&
	    (dx.orig_attr.device_cap_flags &
	     (IBV_DEVICE_MEM_WINDOW_TYPE_2A | IBV_DEVICE_MEM_WINDOW_TYPE_2B));
	/* rxe's extended CQ (rdma-core 44) advances its consumer index twice
	 * when ibv_next_poll finds the queue empty, then returns stale
	 * entries: poll it with ibv_poll_cq. */
	a->cq_ex = !getenv("ND_VERBS_NO_CQ_EX") &&
		   dx.orig_attr.vendor_id != 0xffffff &&
		   strncmp(ibv_get_device_name(dev), "rxe", 3) != 0;
	/* siw: vendor id "bmt" */
	a->zero_sge_quirk = dx.orig_attr.vendor_id == 0x626d74 ||
			    !strncmp(ibv_get_device_name(dev), "siw", 3);
	/* The software devices place RDMA data in order (rxe in PSN order,
	 * siw from a TCP stream); hardware does not promise it. */
	a->in_order = a->zero_sge_quirk || dx.orig_attr.vendor_id == 0xffffff ||
		      !strncmp(ibv_get_device_name(dev), "rxe", 3);
	/* siw never raises a solicited-only event for a received SE
	 * message: arm for any completion instead (a spurious wake-up is
	 * harmless, a missed one hangs the application). */
	a->solicited_as_any = a->zero_sge_quirk;
	verbs_probe(a, &dx);
	verbs_fill_info(a, &dx);

	a->comp_ch = ibv_create_comp_channel(a->ctx);
	a->cm_ch = rdma_create_event_channel();
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->comp_ch || !a->cm_ch || a->epfd < 0 || a->wakefd < 0)
		goto err;
	if (verbs_ep_add(a, a->wakefd, EP_WAKE) ||
	    verbs_ep_add(a, a->cm_ch->fd, EP_CM) ||
	    verbs_ep_add(a, a->comp_ch->fd, EP_COMP) ||
	    verbs_ep_add(a, a->ctx->async_fd, EP_ASYNC)) {
		ND_ERR(VERBS_LOG, "epoll: %s", strerror(errno));
		goto err;
	}

	snprintf(a->base.device_name, sizeof(a->base.device_name), "%s",
		 ibv_get_device_name(dev));
	snprintf(a->base.transport, sizeof(a->base.transport), "%s",
		 a->tp->name);
	st = nd_adapter_base_init(&a->base,
				  a->has_mw ? &verbs_adapter_ops_mw
					    : &verbs_adapter_ops_nomw,
				  &verbs_adapter_obj_ops, &verbs_provider);
	if (ND_FAILED(st))
		goto err;
	if (pthread_create(&a->thread, NULL, verbs_progress, a)) {
		/* base is set up: the object's destroy does the rest */
		ND_ERR(VERBS_LOG, "progress thread: %s", strerror(errno));
		nd_object_put(&a->base.obj);
		return ND_INSUFFICIENT_RESOURCES;
	}
	a->thread_started = true;
	ND_INFO(VERBS_LOG, "opened %s (%s)", ibv_get_device_name(dev),
		a->tp->name);
	*out = &a->base.pub;
	return ND_SUCCESS;

err:
	verbs_adapter_teardown(a);
	return st;
}

const struct nd_provider verbs_provider = {
    .abi_version = ND_PROVIDER_ABI_VERSION,
    .size = sizeof(struct nd_provider),
    .name = "verbs",
    .priority = ND_PROVIDER_PRIORITY_VERBS,
    .init = verbs_init,
    .fini = verbs_fini,
    .query_address_list = verbs_query_address_list,
    .resolve_address = verbs_resolve_address,
    .open_adapter = verbs_open_adapter,
};
