/* SPDX-License-Identifier: MIT */
/* The tcp provider entry points, the adapter and its progress thread. */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WAKE_DATA UINT64_MAX

const struct tcp_wire_limits tcp_limits = {
    .max_caller_data = TCP_MAX_CALLER_DATA,
    .max_callee_data = TCP_MAX_CALLEE_DATA,
    .max_transfer = TCP_MAX_TRANSFER,
};

/* --- small helpers --------------------------------------------------------- */

void tcp_lock(struct tcp_adapter *ad)
{
	pthread_mutex_lock(&ad->lock);
	ad->depth++;
}

void tcp_unlock(struct tcp_adapter *ad)
{
	struct nd_util_puts puts = {0};

	/* Deferred puts run at the outermost unlock, without the lock. */
	if (--ad->depth == 0 && ad->puts.n) {
		puts = ad->puts;
		ad->puts = (struct nd_util_puts){0};
	}
	pthread_mutex_unlock(&ad->lock);
	nd_util_puts_drop(&puts);
}

void tcp_adapter_drive(struct tcp_adapter *ad, struct tcp_cq *cq)
{
	bool own;

	/* Step aside while the progress thread waits for the lock: a tight
	 * polling loop would otherwise keep it out (the mutex is not fair)
	 * and with it connection events and timers. */
	if (__atomic_load_n(&ad->thread_waiting, __ATOMIC_RELAXED))
		return;
	if (pthread_mutex_trylock(&ad->lock) != 0)
		return; /* the progress thread (or a poster) is at work */
	ad->depth++;
	ad->drive_gen++;
	own = ad->drive_streak >= TCP_DRIVE_STREAK;
	if (!own)
		ad->drive_streak++;
	for (struct tcp_qp *qp = ad->qps; qp; qp = qp->ad_next)
		if (qp->rcq == cq || qp->icq == cq)
			tcp_qp_drive(qp, own);
	if (own && !ad->driving) {
		/* The progress thread must now wake to hand the sockets
		 * back if this poller stops. */
		__atomic_store_n(&ad->driving, true, __ATOMIC_RELAXED);
		ad->drive_seen = ad->drive_gen;
		nd_util_wake(ad->wakefd);
	}
	tcp_unlock(ad);
}

static void undrive_all(struct tcp_adapter *ad)
{
	for (struct tcp_qp *qp = ad->qps; qp; qp = qp->ad_next)
		tcp_qp_undrive(qp);
	__atomic_store_n(&ad->driving, false, __ATOMIC_RELAXED);
}

void tcp_adapter_undrive(struct tcp_adapter *ad, struct tcp_cq *cq)
{
	tcp_lock(ad);
	ad->drive_streak = 0;
	if (ad->driving)
		for (struct tcp_qp *qp = ad->qps; qp; qp = qp->ad_next)
			if (qp->rcq == cq || qp->icq == cq)
				tcp_qp_undrive(qp);
	tcp_unlock(ad);
}

uint32_t tcp_random32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)rand();
	}
	return v;
}

/* --- pollables ------------------------------------------------------------- */

bool tcp_poll_add(struct tcp_adapter *ad, struct tcp_pollable *pl,
		  uint32_t events)
{
	uint32_t idx;

	for (idx = 0; idx < ad->npoll; idx++)
		if (!ad->poll[idx])
			break;
	if (idx == ad->npoll) {
		uint32_t n = ad->npoll ? 2 * ad->npoll : 64;
		struct tcp_pollable **p = realloc(ad->poll, n * sizeof(*p));
		if (!p)
			return false;
		ad->poll = p;
		uint32_t *g = realloc(ad->poll_gen, n * sizeof(*g));
		if (!g)
			return false;
		ad->poll_gen = g;
		for (uint32_t i = ad->npoll; i < n; i++) {
			ad->poll[i] = NULL;
			ad->poll_gen[i] = 0;
		}
		ad->npoll = n;
	}
	struct epoll_event ev = {
	    .events = events,
	    .data.u64 = ((uint64_t)ad->poll_gen[idx] << 32) | idx,
	};
	if (epoll_ctl(ad->epfd, EPOLL_CTL_ADD, pl->fd, &ev) < 0) {
		ND_LOG_RATELIMITED(ND_LOG_ERROR, TCP_LOG, "epoll_ctl add: %s",
				   strerror(errno));
		return false;
	}
	ad->poll[idx] = pl;
	pl->slot = idx;
	pl->events = events;
	return true;
}

void tcp_poll_mod(struct tcp_adapter *ad, struct tcp_pollable *pl,
		  uint32_t events)
{
	if (pl->slot == UINT32_MAX || pl->events == events)
		return;
	struct epoll_event ev = {
	    .events = events,
	    .data.u64 = ((uint64_t)ad->poll_gen[pl->slot] << 32) | pl->slot,
	};
	if (epoll_ctl(ad->epfd, EPOLL_CTL_MOD, pl->fd, &ev) < 0)
		ND_LOG_RATELIMITED(ND_LOG_WARN, TCP_LOG, "epoll_ctl mod: %s",
				   strerror(errno));
	pl->events = events;
}

void tcp_poll_del(struct tcp_adapter *ad, struct tcp_pollable *pl)
{
	if (pl->slot == UINT32_MAX)
		return;
	epoll_ctl(ad->epfd, EPOLL_CTL_DEL, pl->fd, NULL);
	ad->poll[pl->slot] = NULL;
	ad->poll_gen[pl->slot]++;
	pl->slot = UINT32_MAX;
}

/* --- grants (the token table) ---------------------------------------- */

/* A keyed 16-bit round function: the murmur3 finaliser of the half and the
 * round's key. */
static uint32_t token_round(uint32_t half, uint32_t key)
{
	uint32_t x = half ^ key;

	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x & 0xffffu;
}

/* A permutation of the 32-bit values (a balanced Feistel network): distinct
 * counters give distinct tokens, and without the key a token says nothing
 * about the next one. */
static uint32_t token_encipher(const struct tcp_grants *g, uint32_t counter)
{
	uint32_t l = counter >> 16, r = counter & 0xffffu;

	for (uint32_t i = 0; i < TCP_TOKEN_ROUNDS; i++) {
		uint32_t t = l ^ token_round(r, g->key[i]);
		l = r;
		r = t;
	}
	return l << 16 | r;
}

nd_status tcp_grants_init(struct tcp_grants *g)
{
	g->cap = 64;
	g->count = 0;
	g->slot = calloc(g->cap, sizeof(*g->slot));
	if (!g->slot)
		return ND_NO_MEMORY;
	g->next = tcp_random32();
	for (uint32_t i = 0; i < TCP_TOKEN_ROUNDS; i++)
		g->key[i] = tcp_random32();
	return ND_SUCCESS;
}

void tcp_grants_fini(struct tcp_grants *g)
{
	free(g->slot);
	g->slot = NULL;
}

static void grant_put(struct tcp_grants *g, uint32_t token, struct tcp_mem *m)
{
	uint32_t mask = g->cap - 1, i = token & mask;

	while (g->slot[i].token)
		i = (i + 1) & mask;
	g->slot[i].token = token;
	g->slot[i].mem = m;
	g->count++;
}

/* Keeps the table at most half full: probes stay short and always end. */
static bool grants_room(struct tcp_grants *g, uint32_t more)
{
	if (g->count + more > TCP_MAX_GRANTS)
		return false;
	if ((g->count + more) * 2 <= g->cap)
		return true;

	struct tcp_grants bigger = *g;
	bigger.cap = g->cap * 2;
	bigger.count = 0;
	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (!bigger.slot)
		return false;
	for (uint32_t i = 0; i < g->cap; i++)
		if (g->slot[i].token)
			grant_put(&bigger, g->slot[i].token, g->slot[i].mem);
	free(g->slot);
	*g = bigger;
	return true;
}

static uint32_t grant_new(struct tcp_adapter *ad, struct tcp_mem *m)
{
	struct tcp_grants *g = &ad->grants;
	uint32_t t;

	/* 0 means "no token"; a value still live (only after the counter
	 * went round all 2^32) is skipped. */
	do
		t = token_encipher(g, g->next++);
	while (t == 0 || tcp_grant_find(ad, t));
	grant_put(g, t, m);
	return t;
}

static void grant_drop(struct tcp_grants *g, uint32_t token)
{
	uint32_t mask = g->cap - 1, i = token & mask;

	while (g->slot[i].token != token) {
		if (!g->slot[i].token)
			return;
		i = (i + 1) & mask;
	}
	/* Backward-shift: move up every later entry of the run whose home
	 * slot is not between the hole and itself. */
	for (uint32_t j = (i + 1) & mask; g->slot[j].token;
	     j = (j + 1) & mask) {
		uint32_t home = g->slot[j].token & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			g->slot[i] = g->slot[j];
			i = j;
		}
	}
	g->slot[i].token = 0;
	g->slot[i].mem = NULL;
	g->count--;
}

bool tcp_grant(struct tcp_adapter *ad, struct tcp_mem *m, bool local)
{
	if (!grants_room(&ad->grants, local ? 2 : 1))
		return false;
	m->remote_token = grant_new(ad, m);
	m->local_token = local ? grant_new(ad, m) : 0;
	return true;
}

void tcp_revoke(struct tcp_adapter *ad, struct tcp_mem *m)
{
	if (m->remote_token)
		grant_drop(&ad->grants, m->remote_token);
	if (m->local_token)
		grant_drop(&ad->grants, m->local_token);
	m->remote_token = 0;
	m->local_token = 0;
}

/* --- access violations by peer address ------------------------------------ */

void tcp_peer_ip(const struct sockaddr *sa, struct tcp_peer_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		ip->a.s6_addr[10] = ip->a.s6_addr[11] = 0xff;
		memcpy(&ip->a.s6_addr[12],
		       &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return;
	}
	if (sa->sa_family != AF_INET6)
		return;
	const struct in6_addr *a =
	    &((const struct sockaddr_in6 *)sa)->sin6_addr;
	/* An IPv4 peer of a dual-stack listener is its IPv4 address: its /64
	 * would be every IPv4 peer at once. */
	memcpy(&ip->a, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
}

/* The set of TCP_VIOLATION_WAYS slots an address lives in. Keyed, so that
 * a peer cannot pick addresses that crowd one set. */
static struct tcp_offender *offender_set(struct tcp_adapter *ad,
					 const struct tcp_peer_ip *ip)
{
	uint32_t h = ad->offender_key, w;

	/* the token cipher's round function, chained over the four words */
	for (int i = 0; i < 16; i += 4) {
		memcpy(&w, &ip->a.s6_addr[i], 4);
		h = token_round(h ^ w, ad->offender_key);
	}
	return &ad->offenders[(h % (TCP_VIOLATION_PEERS / TCP_VIOLATION_WAYS)) *
			      TCP_VIOLATION_WAYS];
}

static struct tcp_offender *offender_find(struct tcp_adapter *ad,
					  const struct tcp_peer_ip *ip)
{
	struct tcp_offender *set = offender_set(ad, ip);

	for (uint32_t i = 0; i < TCP_VIOLATION_WAYS; i++)
		if (set[i].used && IN6_ARE_ADDR_EQUAL(&set[i].ip.a, &ip->a))
			return &set[i];
	return NULL;
}

static void peer_name(const struct tcp_peer_ip *ip, char *buf, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED(&ip->a)) {
		inet_ntop(AF_INET, &ip->a.s6_addr[12], buf, (socklen_t)len);
		return;
	}
	inet_ntop(AF_INET6, &ip->a, buf, (socklen_t)len - 3);
	strcat(buf, "/64");
}

void tcp_violation(struct tcp_adapter *ad, const struct tcp_peer_ip *ip)
{
	uint64_t now = nd_util_now_ms();
	struct tcp_offender *e;

	ad->violations++;
	if (!ad->viol_limit)
		return;
	e = offender_find(ad, ip);
	if (!e) {
		/* A free slot of the set, else the one seen longest ago; a
		 * peer being refused gives way last. */
		struct tcp_offender *set = offender_set(ad, ip);
		e = &set[0];
		for (uint32_t i = 1; i < TCP_VIOLATION_WAYS && e->used; i++) {
			bool er = now < e->refuse_until;
			bool sr = now < set[i].refuse_until;
			if (!set[i].used || er > sr ||
			    (er == sr && set[i].seen_ms < e->seen_ms))
				e = &set[i];
		}
		*e = (struct tcp_offender){.ip = *ip, .used = true};
	}
	if (!e->count || now - e->window_ms >= TCP_VIOLATION_WINDOW_MS) {
		e->count = 0;
		e->window_ms = now;
	}
	e->seen_ms = now;
	if (++e->count < ad->viol_limit)
		return;
	/* The count starts again: after the cooldown, as many again. */
	e->count = 0;
	e->refuse_until = now + ad->viol_cooldown_ms;
	char name[INET6_ADDRSTRLEN + 3];
	peer_name(ip, name, sizeof(name));
	ND_LOG_RATELIMITED(ND_LOG_WARN, TCP_LOG,
			   "%s: %u access violations within %u s; refusing "
			   "its connections for %u ms",
			   name, ad->viol_limit, TCP_VIOLATION_WINDOW_MS / 1000,
			   ad->viol_cooldown_ms);
}

bool tcp_peer_refused(struct tcp_adapter *ad, const struct sockaddr *peer,
		      uint64_t now)
{
	struct tcp_peer_ip ip;
	struct tcp_offender *e;

	if (!ad->viol_limit)
		return false;
	tcp_peer_ip(peer, &ip);
	e = offender_find(ad, &ip);
	if (!e || now >= e->refuse_until)
		return false;
	ad->peer_refusals++;
	return true;
}

/* --- progress thread ------------------------------------------------------- */

static void dispatch(struct tcp_adapter *ad, uint64_t data, uint32_t events)
{
	uint32_t idx = (uint32_t)data, gen = (uint32_t)(data >> 32);

	if (idx >= ad->npoll || ad->poll_gen[idx] != gen || !ad->poll[idx])
		return;
	struct tcp_pollable *pl = ad->poll[idx];
	switch (pl->kind) {
	case TCP_POLL_QP:
		tcp_qp_event(container_of(pl, struct tcp_qp, pl), events);
		break;
	case TCP_POLL_LISTENER:
		tcp_listener_event(container_of(pl, struct tcp_listener, pl),
				   events);
		break;
	case TCP_POLL_REQUEST:
		tcp_request_event(container_of(pl, struct tcp_request, pl),
				  events);
		break;
	}
}

static void adapter_free(struct tcp_adapter *ad)
{
	close(ad->epfd);
	close(ad->wakefd);
	pthread_mutex_destroy(&ad->lock);
	free(ad->poll);
	free(ad->poll_gen);
	free(ad->puts.more); /* empty: the last unlock drained it */
	tcp_grants_fini(&ad->grants);
	nd_adapter_base_fini(&ad->base);
	free(ad);
}

/*
 * The adapter's one timer, as the epoll timeout: every TCP_SHORT_TICK_MS
 * while a short deadline is armed, a tick every TCP_LIVENESS_TICK_MS while
 * a longer one may fall due, else none.
 */
static int timer_timeout(struct tcp_adapter *ad)
{
	if (__atomic_load_n(&ad->driving, __ATOMIC_RELAXED))
		return 1; /* to notice a poller that stopped */
	if (__atomic_load_n(&ad->timers, __ATOMIC_RELAXED))
		return TCP_SHORT_TICK_MS;
	if (__atomic_load_n(&ad->sockets, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&ad->incoming, __ATOMIC_RELAXED))
		return TCP_LIVENESS_TICK_MS;
	return -1;
}

/* Runs the deadlines that are due; adapter locked. */
static void timer_run(struct tcp_adapter *ad)
{
	uint64_t now = nd_util_now_ms();
	bool tick = now >= ad->next_tick;
	struct tcp_qp *qp, *next;

	if (!ad->timers && !tick)
		return;
	for (qp = ad->qps; qp; qp = next) {
		next = qp->ad_next;
		tcp_qp_timer(qp, now);
		if (tick)
			tcp_qp_liveness(qp, now);
	}
	for (struct tcp_listener *l = ad->listeners; l; l = l->ad_next)
		tcp_listener_timer(l, now);
	if (tick)
		ad->next_tick = now + TCP_LIVENESS_TICK_MS;
}

static void *progress_thread(void *arg)
{
	struct tcp_adapter *ad = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(ad->epfd, evs, 64, timer_timeout(ad));

		if (n < 0 && errno != EINTR) {
			ND_ERR(TCP_LOG, "epoll_wait: %s", strerror(errno));
			n = 0;
		}
		__atomic_store_n(&ad->thread_waiting, true, __ATOMIC_RELAXED);
		tcp_lock(ad);
		__atomic_store_n(&ad->thread_waiting, false, __ATOMIC_RELAXED);
		if (ad->stop) {
			tcp_unlock(ad);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == WAKE_DATA) {
				uint64_t v;
				if (read(ad->wakefd, &v, sizeof(v)) < 0) {
					/* nothing to drain */
				}
				continue;
			}
			dispatch(ad, evs[i].data.u64, evs[i].events);
		}
		if (ad->driving) {
			/* No poll since the last look: the application
			 * stopped polling; watch its sockets again. */
			if (ad->drive_gen == ad->drive_seen) {
				undrive_all(ad);
				ad->drive_streak = 0;
			}
			ad->drive_seen = ad->drive_gen;
		}
		timer_run(ad);
		tcp_unlock(ad);
		if (__atomic_load_n(&ad->destroy_on_thread, __ATOMIC_ACQUIRE)) {
			pthread_detach(pthread_self());
			adapter_free(ad);
			return NULL;
		}
	}
	return NULL;
}

/* --- adapter ops ----------------------------------------------------------- */

static nd_status list_local(struct sockaddr_storage **out, uint32_t *count)
{
	struct ifaddrs *ifa, *p;
	uint32_t n = 0;

	if (getifaddrs(&ifa) < 0) {
		ND_ERR(TCP_LOG, "getifaddrs: %s", strerror(errno));
		return ND_INSUFFICIENT_RESOURCES;
	}
	for (p = ifa; p; p = p->ifa_next)
		if (p->ifa_addr && (p->ifa_flags & IFF_UP) &&
		    (p->ifa_addr->sa_family == AF_INET ||
		     p->ifa_addr->sa_family == AF_INET6))
			n++;
	struct sockaddr_storage *a = calloc(n ? n : 1, sizeof(*a));
	if (!a) {
		freeifaddrs(ifa);
		return ND_NO_MEMORY;
	}
	n = 0;
	for (p = ifa; p; p = p->ifa_next) {
		if (!p->ifa_addr || !(p->ifa_flags & IFF_UP))
			continue;
		if (p->ifa_addr->sa_family == AF_INET)
			memcpy(&a[n++], p->ifa_addr,
			       sizeof(struct sockaddr_in));
		else if (p->ifa_addr->sa_family == AF_INET6)
			memcpy(&a[n++], p->ifa_addr,
			       sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
	for (uint32_t i = 0; i < n; i++) { /* port 0 */
		if (a[i].ss_family == AF_INET)
			((struct sockaddr_in *)&a[i])->sin_port = 0;
		else
			((struct sockaddr_in6 *)&a[i])->sin6_port = 0;
	}
	*out = a;
	*count = n;
	return ND_SUCCESS;
}

static nd_status tcp_query_address_list(struct nd_address_list *list,
					size_t *size)
{
	struct sockaddr_storage *a;
	uint32_t n;
	nd_status st = list_local(&a, &n);

	if (ND_FAILED(st))
		return st;
	st = nd_address_list_build(a, n, list, size);
	free(a);
	return st;
}

static nd_status adapter_query_address_list(struct nd_adapter_base *base,
					    struct nd_address_list *list,
					    uint32_t *size)
{
	size_t sz = *size;
	nd_status st;

	(void)base;
	st = tcp_query_address_list(list, &sz);
	*size = (uint32_t)sz;
	return st;
}

static nd_status tcp_resolve_address(const struct sockaddr *addr, size_t len,
				     uint64_t *adapter_id)
{
	struct sockaddr_storage *a;
	uint32_t n;
	nd_status st;

	if (!addr || len < sizeof(struct sockaddr) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return ND_INVALID_ADDRESS;
	st = list_local(&a, &n);
	if (ND_FAILED(st))
		return st;
	st = ND_INVALID_ADDRESS;
	for (uint32_t i = 0; i < n; i++)
		if (nd_util_sockaddr_same_ip((struct sockaddr *)&a[i], addr))
			st = ND_SUCCESS;
	free(a);
	if (st == ND_SUCCESS)
		*adapter_id = 1;
	return st;
}

static void adapter_destroy(struct nd_object *obj)
{
	struct tcp_adapter *ad =
	    container_of(obj, struct tcp_adapter, base.obj);

	pthread_mutex_lock(&ad->lock);
	ad->stop = true;
	pthread_mutex_unlock(&ad->lock);
	if (pthread_equal(pthread_self(), ad->thread)) {
		/* The last put happened on the progress thread itself. */
		__atomic_store_n(&ad->destroy_on_thread, true,
				 __ATOMIC_RELEASE);
		return;
	}
	nd_util_wake(ad->wakefd);
	pthread_join(ad->thread, NULL);
	adapter_free(ad);
}

static const struct nd_object_ops adapter_obj_ops = {
    .destroy = adapter_destroy,
};

static const struct nd_adapter_ops adapter_ops = {
    .query_address_list = adapter_query_address_list,
    .create_cq = tcp_create_cq,
    .create_mr = tcp_create_mr,
    .create_mw = tcp_create_mw,
    .create_srq = tcp_create_srq,
    .create_qp = tcp_create_qp,
    .create_connector = tcp_create_connector,
    .create_listener = tcp_create_listener,
};

static void fill_info(struct nd_adapter_info *in)
{
	memset(in, 0, sizeof(*in));
	in->info_version = ND_VERSION_2;
	in->vendor_id = 0;
	in->device_id = 0;
	in->adapter_id = 1;
	in->max_registration_size = TCP_MAX_REGISTRATION;
	in->max_window_size = TCP_MAX_REGISTRATION;
	in->max_initiator_sge = TCP_MAX_SGE;
	in->max_receive_sge = TCP_MAX_SGE;
	in->max_read_sge = TCP_MAX_SGE;
	in->max_transfer_length = TCP_MAX_TRANSFER;
	in->max_inline_data_size = TCP_MAX_INLINE;
	in->max_inbound_read_limit = TCP_MAX_READ_LIMIT;
	in->max_outbound_read_limit = TCP_MAX_READ_LIMIT;
	in->max_receive_queue_depth = TCP_MAX_QUEUE_DEPTH;
	in->max_initiator_queue_depth = TCP_MAX_QUEUE_DEPTH;
	in->max_shared_receive_queue_depth = TCP_MAX_QUEUE_DEPTH;
	in->max_completion_queue_depth = TCP_MAX_CQ_DEPTH;
	in->inline_request_threshold = TCP_INLINE_THRESHOLD;
	in->large_request_threshold = TCP_LARGE_THRESHOLD;
	in->max_caller_data = TCP_MAX_CALLER_DATA;
	in->max_callee_data = TCP_MAX_CALLEE_DATA;
	in->adapter_flags = ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED |
			    ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED |
			    ND_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;
}

/* A number from lo to hi from the environment ("a number of `what`");
 * anything else is refused with a warning and `dflt` kept. */
static uint32_t env_num(const char *name, uint32_t dflt, uint32_t lo,
			uint32_t hi, const char *what)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v)
		return dflt;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		ND_WARN(TCP_LOG,
			"%s=%s is not a number of %s from %u to %u; "
			"using %u",
			name, v, what, lo, hi, dflt);
		return dflt;
	}
	return (uint32_t)n;
}

/* Milliseconds, up to an hour (0 only if allowed). */
static uint32_t env_ms(const char *name, uint32_t dflt, bool zero_ok)
{
	return env_num(name, dflt, zero_ok ? 0 : 1, 3600000u, "milliseconds");
}

static nd_status tcp_open_adapter(uint64_t adapter_id, struct nd_adapter **out)
{
	struct tcp_adapter *ad;
	pthread_mutexattr_t ma;
	nd_status st;

	if (adapter_id != 1)
		return ND_INVALID_PARAMETER;
	ad = calloc(1, sizeof(*ad));
	if (!ad)
		return ND_NO_MEMORY;
	fill_info(&ad->base.info);
	ad->liveness_ms = env_ms("ND_TCP_TIMEOUT_MS", TCP_LIVENESS_MS, true);
	ad->connect_ms =
	    env_ms("ND_TCP_CONNECT_TIMEOUT_MS", TCP_CONNECT_WAIT_MS, false);
	ad->viol_limit = env_num("ND_TCP_VIOLATION_LIMIT", TCP_VIOLATION_LIMIT,
				 0, 1000000u, "access violations");
	ad->viol_cooldown_ms = env_ms("ND_TCP_VIOLATION_COOLDOWN_MS",
				      TCP_VIOLATION_COOLDOWN_MS, false);
	ad->offender_key = tcp_random32();
	if (ND_FAILED(tcp_grants_init(&ad->grants))) {
		free(ad);
		return ND_NO_MEMORY;
	}
	ad->epfd = epoll_create1(EPOLL_CLOEXEC);
	ad->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ad->epfd < 0 || ad->wakefd < 0) {
		ND_ERR(TCP_LOG, "epoll/eventfd: %s", strerror(errno));
		st = ND_INSUFFICIENT_RESOURCES;
		goto err_fds;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_DATA};
	if (epoll_ctl(ad->epfd, EPOLL_CTL_ADD, ad->wakefd, &ev) < 0) {
		st = ND_INSUFFICIENT_RESOURCES;
		goto err_fds;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&ad->lock, &ma);
	pthread_mutexattr_destroy(&ma);

	snprintf(ad->base.device_name, sizeof(ad->base.device_name), "tcp");
	snprintf(ad->base.transport, sizeof(ad->base.transport), "TCP");
	st = nd_adapter_base_init(&ad->base, &adapter_ops, &adapter_obj_ops,
				  &tcp_provider);
	if (ND_FAILED(st))
		goto err_lock;
	if (pthread_create(&ad->thread, NULL, progress_thread, ad) != 0) {
		ND_ERR(TCP_LOG, "cannot start the progress thread");
		nd_adapter_base_fini(&ad->base);
		st = ND_INSUFFICIENT_RESOURCES;
		goto err_lock;
	}
	*out = &ad->base.pub;
	return ND_SUCCESS;

err_lock:
	pthread_mutex_destroy(&ad->lock);
err_fds:
	if (ad->epfd >= 0)
		close(ad->epfd);
	if (ad->wakefd >= 0)
		close(ad->wakefd);
	tcp_grants_fini(&ad->grants);
	free(ad);
	return st;
}

const struct nd_provider tcp_provider = {
    .abi_version = ND_PROVIDER_ABI_VERSION,
    .size = sizeof(struct nd_provider),
    .name = "tcp",
    .priority = ND_PROVIDER_PRIORITY_TCP,
    .query_address_list = tcp_query_address_list,
    .resolve_address = tcp_resolve_address,
    .open_adapter = tcp_open_adapter,
};
