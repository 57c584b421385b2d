/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "conf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nap(void)
{
	struct timespec ts = {0, 200000}; /* 0.2 ms */

	nanosleep(&ts, NULL);
}

bool tc_parse_addr(const char *a, struct sockaddr_storage *ss, uint32_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(a, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, a, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	*len = sizeof(*s4);
	return inet_pton(AF_INET, a, &s4->sin_addr) == 1;
}

static void parse_addr(const char *a, struct sockaddr_storage *ss,
		       uint32_t *len)
{
	if (!tc_parse_addr(a, ss, len))
		fail_msg("%s: not an IPv4 or IPv6 address", a);
}

/* ND_TEST_PEER_NETNS: a name under /run/netns (as `ip netns` makes them)
 * or a path to a namespace file. */
static bool open_peer_netns(struct tc *t, const char *ns)
{
	char path[4096];

	if (strchr(ns, '/'))
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	t->peer_netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->peer_netns_fd < 0) {
		print_error("ND_TEST_PEER_NETNS: %s: %s\n", path,
			    strerror(errno));
		return false;
	}
	t->own_netns_fd =
	    open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (t->own_netns_fd < 0) {
		print_error("/proc/thread-self/ns/net: %s\n", strerror(errno));
		return false;
	}
	t->peer_netns = true;
	return true;
}

void tc_peer_netns(struct tc *t, bool enter)
{
	if (!t->peer_netns)
		return;
	if (setns(enter ? t->peer_netns_fd : t->own_netns_fd, CLONE_NEWNET) < 0)
		fail_msg("setns(%s): %s",
			 enter ? "ND_TEST_PEER_NETNS" : "back to our own",
			 strerror(errno));
}

struct nd_adapter *tc_peer_adapter(struct tc *t)
{
	return t->pad ? t->pad : t->ad;
}

/* The passive side's address (the active side's if tc_open did not set
 * it, e.g. a struct tc filled by hand). */
static const struct sockaddr *peer_addr(struct tc *t, uint32_t *len)
{
	if (!t->paddr_len) {
		*len = t->addr_len;
		return (const struct sockaddr *)&t->addr;
	}
	*len = t->paddr_len;
	return (const struct sockaddr *)&t->paddr;
}

bool tc_open(struct tc *t)
{
	const char *a = getenv("ND_TEST_ADDR");
	const char *pa = getenv("ND_TEST_PEER_ADDR");
	const char *ns = getenv("ND_TEST_PEER_NETNS");
	uint32_t size = sizeof(t->info);
	nd_status st;

	memset(t, 0, sizeof(*t));
	t->peer_netns_fd = t->own_netns_fd = -1;
	if (!a || !*a)
		a = "127.0.0.1";
	if (!pa || !*pa)
		pa = a;
	parse_addr(a, &t->addr, &t->addr_len);
	parse_addr(pa, &t->paddr, &t->paddr_len);
	if (nd_open_adapter((struct sockaddr *)&t->addr, t->addr_len, &t->ad) !=
	    ND_SUCCESS)
		return false;
	t->info.info_version = ND_VERSION_2;
	assert_int_equal(nd_adapter_query(t->ad, &t->info, &size), ND_SUCCESS);
	if (t->addr_len == t->paddr_len &&
	    memcmp(&t->addr, &t->paddr, t->addr_len) == 0) {
		if (ns && *ns) {
			print_error("ND_TEST_PEER_NETNS needs a "
				    "ND_TEST_PEER_ADDR of its own\n");
			tc_close(t);
			return false;
		}
		t->pad = t->ad; /* one host: one adapter, as always */
		return true;
	}
	if (ns && *ns && !open_peer_netns(t, ns)) {
		tc_close(t);
		return false;
	}
	/* The provider looks the address up in the calling thread's
	 * namespace (getifaddrs), and the adapter's threads start there. */
	tc_peer_netns(t, true);
	st = nd_open_adapter((struct sockaddr *)&t->paddr, t->paddr_len,
			     &t->pad);
	tc_peer_netns(t, false);
	if (st != ND_SUCCESS) {
		print_error("no adapter serves ND_TEST_PEER_ADDR=%s%s%s: %s\n",
			    pa, t->peer_netns ? " in ND_TEST_PEER_NETNS=" : "",
			    t->peer_netns ? ns : "", nd_strerror(st));
		t->pad = NULL;
		tc_close(t);
		return false;
	}
	return true;
}

void tc_close(struct tc *t)
{
	if (t->pad && t->pad != t->ad)
		assert_int_equal(nd_adapter_release(t->pad), ND_SUCCESS);
	t->pad = NULL;
	if (t->ad)
		assert_int_equal(nd_adapter_release(t->ad), ND_SUCCESS);
	t->ad = NULL;
	if (t->peer_netns_fd >= 0)
		close(t->peer_netns_fd);
	if (t->own_netns_fd >= 0)
		close(t->own_netns_fd);
	t->peer_netns_fd = t->own_netns_fd = -1;
	t->peer_netns = false;
}

nd_status tc_wait_ov(void *obj, struct nd_overlapped *ov, nd_status st,
		     int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	if (st != ND_PENDING)
		return st;
	while ((st = nd_get_overlapped_result(obj, ov, false)) == ND_PENDING &&
	       now_ms() < end)
		nap();
	return st;
}

bool tc_wait_cq(struct nd_cq *cq, struct nd_result *r, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (nd_cq_get_results(cq, r, 1) == 1)
			return true;
		nap();
	} while (now_ms() < end);
	return false;
}

struct nd_mr *tc_reg(struct tc *t, void *buf, size_t len, uint32_t flags)
{
	return tc_reg_on(t->ad, buf, len, flags);
}

struct nd_mr *tc_reg_on(struct nd_adapter *ad, void *buf, size_t len,
			uint32_t flags)
{
	struct nd_mr *mr;
	struct nd_overlapped ov = {0};

	assert_int_equal(nd_adapter_create_mr(ad, &mr), ND_SUCCESS);
	assert_int_equal(tc_wait_ov(mr, &ov,
				    nd_mr_register(mr, buf, len, flags, &ov),
				    TC_TIMEOUT_MS),
			 ND_SUCCESS);
	return mr;
}

void tc_dereg(struct nd_mr *mr)
{
	struct nd_overlapped ov = {0};

	assert_int_equal(
	    tc_wait_ov(mr, &ov, nd_mr_deregister(mr, &ov), TC_TIMEOUT_MS),
	    ND_SUCCESS);
	assert_int_equal(nd_mr_release(mr), ND_SUCCESS);
}

void tc_sges(struct nd_sge *sge, uint32_t n, void *buf, uint32_t len,
	     struct nd_mr *mr)
{
	uint32_t per = n ? len / n : 0, off = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t l = i + 1 == n ? len - off : per;
		sge[i].buffer = (char *)buf + off;
		sge[i].buffer_length = l;
		sge[i].memory_region_token = mr ? nd_mr_get_local_token(mr) : 0;
		off += l;
	}
}

void tc_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

void *tc_alloc(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len ? len : 1), 0);
	memset(p, 0, len ? len : 1);
	return p;
}

static uint32_t or_default(uint32_t v, uint32_t d)
{
	return v ? v : d;
}

void tc_pair_init(struct tc *t, struct tc_pair *p,
		  const struct tc_pair_cfg *cfg)
{
	static const struct tc_pair_cfg none;
	struct nd_adapter *pad = tc_peer_adapter(t);
	uint32_t depth, sge, cqd;

	if (!cfg)
		cfg = &none;
	memset(p, 0, sizeof(*p));
	p->t = t;
	depth = or_default(cfg->depth, 16);
	sge = or_default(cfg->sge, 1);
	cqd = 4 * depth;
	if (cqd > t->info.max_completion_queue_depth)
		cqd = t->info.max_completion_queue_depth;
	if (cfg->acq) {
		p->acq = cfg->acq;
	} else {
		assert_int_equal(
		    nd_adapter_create_cq(t->ad, cqd, 0, 0, &p->acq),
		    ND_SUCCESS);
		p->own_acq = true;
	}
	if (cfg->pcq) {
		p->pcq = cfg->pcq;
	} else {
		assert_int_equal(nd_adapter_create_cq(pad, cqd, 0, 0, &p->pcq),
				 ND_SUCCESS);
		p->own_pcq = true;
	}
	assert_int_equal(nd_adapter_create_qp(t->ad, p->acq, p->acq, cfg->actx,
					      depth, depth, sge, sge,
					      cfg->inline_size, &p->aqp),
			 ND_SUCCESS);
	if (cfg->psrq)
		assert_int_equal(nd_adapter_create_qp_with_srq(
				     pad, p->pcq, p->pcq, cfg->psrq, cfg->pctx,
				     depth, sge, cfg->inline_size, &p->pqp),
				 ND_SUCCESS);
	else
		assert_int_equal(
		    nd_adapter_create_qp(pad, p->pcq, p->pcq, cfg->pctx, depth,
					 depth, sge, sge, cfg->inline_size,
					 &p->pqp),
		    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &p->ac),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(pad, &p->pc), ND_SUCCESS);
}

/* A listener on the passive side's address, port chosen by the provider;
 * *dest gets it. Created in the peer namespace, whichever of these calls
 * makes the socket; the thread is back in its own before any assert. */
void tc_listen(struct tc_pair *p, struct sockaddr_storage *dest,
	       uint32_t *dest_len)
{
	tc_listen_backlog(p, 0, dest, dest_len);
}

void tc_listen_backlog(struct tc_pair *p, uint32_t backlog,
		       struct sockaddr_storage *dest, uint32_t *dest_len)
{
	struct tc *t = p->t;
	uint32_t len;
	const struct sockaddr *addr = peer_addr(t, &len);
	nd_status cst, bst = ND_UNSUCCESSFUL, lst = ND_UNSUCCESSFUL;

	tc_peer_netns(t, true);
	cst = nd_adapter_create_listener(tc_peer_adapter(t), &p->l);
	if (cst == ND_SUCCESS)
		bst = nd_listener_bind(p->l, addr, len);
	if (bst == ND_SUCCESS)
		lst = nd_listener_listen(p->l, backlog);
	tc_peer_netns(t, false);
	assert_int_equal(cst, ND_SUCCESS);
	assert_int_equal(bst, ND_SUCCESS);
	assert_int_equal(lst, ND_SUCCESS);
	*dest_len = sizeof(*dest);
	assert_int_equal(nd_listener_get_local_address(
			     p->l, (struct sockaddr *)dest, dest_len),
			 ND_SUCCESS);
}

void tc_pair_connect(struct tc_pair *p)
{
	struct sockaddr_storage dest;
	uint32_t dest_len;

	tc_listen(p, &dest, &dest_len);
	tc_pair_connect_to(p, &dest, dest_len);
}

void tc_pair_connect_to(struct tc_pair *p, const struct sockaddr_storage *dest,
			uint32_t dest_len)
{
	struct nd_overlapped gov = {0}, cov = {0}, aov = {0}, ccov = {0};
	nd_status gst = nd_listener_get_connection_request(p->l, p->pc, &gov);
	nd_status cst =
	    nd_connector_connect(p->ac, p->aqp, (const struct sockaddr *)dest,
				 dest_len, 4, 4, NULL, 0, &cov);
	assert_int_equal(tc_wait_ov(p->l, &gov, gst, TC_TIMEOUT_MS),
			 ND_SUCCESS);
	nd_status ast = nd_connector_accept(p->pc, p->pqp, 4, 4, NULL, 0, &aov);
	assert_int_equal(tc_wait_ov(p->ac, &cov, cst, TC_TIMEOUT_MS),
			 ND_SUCCESS);
	assert_int_equal(tc_wait_ov(p->ac, &ccov,
				    nd_connector_complete_connect(p->ac, &ccov),
				    TC_TIMEOUT_MS),
			 ND_SUCCESS);
	assert_int_equal(tc_wait_ov(p->pc, &aov, ast, TC_TIMEOUT_MS),
			 ND_SUCCESS);
}

void tc_pair_fini(struct tc_pair *p)
{
	if (p->ac)
		nd_connector_release(p->ac);
	if (p->pc)
		nd_connector_release(p->pc);
	if (p->l)
		nd_listener_release(p->l);
	if (p->aqp)
		nd_qp_release(p->aqp);
	if (p->pqp)
		nd_qp_release(p->pqp);
	if (p->own_acq)
		nd_cq_release(p->acq);
	if (p->own_pcq)
		nd_cq_release(p->pcq);
	memset(p, 0, sizeof(*p));
}

/* No address given and no adapter serves the default: nothing to test on
 * this machine. True after printing TAP's "skip everything" plan. */
bool tc_nothing_to_test(const char *program)
{
	struct tc probe;
	bool none;

	if (getenv("ND_TEST_ADDR"))
		return false;
	assert_int_equal(nd_startup(), ND_SUCCESS);
	none = !tc_open(&probe);
	if (none)
		printf("1..0 # SKIP %s: ND_TEST_ADDR is not set and no %s "
		       "adapter serves 127.0.0.1\n",
		       program,
		       getenv("ND_PROVIDERS") ? getenv("ND_PROVIDERS") : "");
	else
		tc_close(&probe);
	nd_cleanup();
	return none;
}

int tc_setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	if (!t || !tc_open(t)) {
		const char *a = getenv("ND_TEST_ADDR");
		const char *pa = getenv("ND_TEST_PEER_ADDR");
		print_error("cannot open the adapters of ND_TEST_ADDR=%s "
			    "ND_TEST_PEER_ADDR=%s\n",
			    a ? a : "127.0.0.1", pa ? pa : "(the same)");
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int tc_teardown(void **state)
{
	struct tc *t = *state;

	tc_close(t);
	free(t);
	return 0;
}
