/* SPDX-License-Identifier: MIT */
/*
 * What every provider needs and none should write again (libfabric's
 * prov/util is the model): ND statuses for errno values, a monotonic
 * millisecond clock, the eventfd wake of a progress thread, socket address
 * helpers, and the list of references to drop once a lock is released.
 *
 * The small helpers are inline here; the others live in providers/util, a
 * static library linked into libnetdirect and exported with it, so that
 * out-of-tree providers use the same ones.
 */
#ifndef NETDIRECT_ND_UTIL_H
#define NETDIRECT_ND_UTIL_H

#include <errno.h>
#include <netdirect/nd_provider.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Statuses
 */

/* ND's status for a system call's errno (ND_UNSUCCESSFUL for one it does
 * not know). One map for every provider: the same errno means the same
 * status whichever provider met it. */
nd_status nd_util_errno_status(int err);

/*
 * The same for the errno of an outgoing connection (connect(2), or the
 * rdma_cm's connect on iWARP): there a reset is the peer's refusal, and
 * EADDRNOTAVAIL means no local port was left (ports held by TIME_WAIT),
 * not an address the host does not have (Bind checked that).
 */
nd_status nd_util_connect_errno_status(int err);

/* ---------------------------------------------------------------------------
 * Time
 */

/* Milliseconds on CLOCK_MONOTONIC: deadlines and timers. */
static inline uint64_t nd_util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------------------
 * Waking a progress thread
 */

/* Logs (rate-limited) a wake that could not be written. */
void nd_util_wake_failed(int err);

/*
 * Wakes the thread that polls the eventfd `efd`. EAGAIN (the counter full)
 * means a wake is pending already.
 */
static inline void nd_util_wake(int efd)
{
	uint64_t one = 1;

	if (ND_UNLIKELY(write(efd, &one, sizeof(one)) < 0) && errno != EAGAIN)
		nd_util_wake_failed(errno);
}

/* ---------------------------------------------------------------------------
 * Socket addresses (AF_INET or AF_INET6, checked by the core)
 */

static inline socklen_t nd_util_sockaddr_len(const struct sockaddr *a)
{
	return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_in);
}

/* Whether a and b name the same IP address (ports aside). */
static inline bool nd_util_sockaddr_same_ip(const struct sockaddr *a,
					    const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

/* The port, in host order. */
static inline uint16_t nd_util_sockaddr_port(const struct sockaddr *a)
{
	return ntohs(a->sa_family == AF_INET6
			 ? ((const struct sockaddr_in6 *)a)->sin6_port
			 : ((const struct sockaddr_in *)a)->sin_port);
}

/* Whether a is the wildcard address (0.0.0.0 or ::). */
static inline bool nd_util_sockaddr_is_any(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)a)->sin6_addr);
}

/* ---------------------------------------------------------------------------
 * References to drop after a lock is released
 */

/*
 * Dropping the last reference to an object runs its destroy, which may take
 * the lock the caller holds: under a lock, references are collected here
 * and dropped once it is released. Zero-initialise it; it holds any number
 * (the first few without allocating). Moving it (a struct copy, then
 * zeroing the original) moves the references with it.
 */
#define ND_UTIL_PUTS_INLINE 8
struct nd_util_puts {
	uint32_t n, cap_more;
	struct nd_object *first[ND_UTIL_PUTS_INLINE];
	struct nd_object **more; /* n - ND_UTIL_PUTS_INLINE of them */
};

/* Adds a reference; never fails short of memory for the list itself,
 * when the reference is kept (leaked, logged) rather than dropped under
 * the lock. */
void nd_util_puts_add(struct nd_util_puts *p, struct nd_object *obj);
/* Drops every reference (no lock held) and empties the list. */
void nd_util_puts_drop(struct nd_util_puts *p);

#ifdef __cplusplus
}
#endif
#endif
