/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the conformance suite. Written against nd.h only: the
 * suite runs unchanged on every provider and device.
 *
 * Environment: ND_TEST_ADDR (the active side's local IP; default 127.0.0.1),
 * ND_TEST_PEER_ADDR (the passive side's; default ND_TEST_ADDR),
 * ND_TEST_PEER_NETNS (a network namespace, a name under /run/netns or a
 * path, in which the passive side creates its sockets; default none) and
 * ND_PROVIDERS (which provider the core loads).
 *
 * Two hosts in one process: when ND_TEST_PEER_ADDR differs from
 * ND_TEST_ADDR, the passive side (listener, passive connector, QP, CQ, SRQ,
 * the MRs and windows it exposes) lives on an adapter of its own, opened on
 * that address. With ND_TEST_PEER_NETNS, that adapter is opened and every
 * listener bound from inside the peer namespace (setns(2) on the calling
 * thread, then back), so the sockets the provider creates for the passive
 * side belong to the other network stack; tests/conformance/netns.sh sets
 * this up across a veth pair.
 */
#ifndef CONF_UTIL_H
#define CONF_UTIL_H

#include <netdirect/nd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Every wait is bounded; a test that times out fails, it never hangs. */
#define TC_TIMEOUT_MS	   15000
#define TC_LONG_TIMEOUT_MS 60000

struct tc {
	struct nd_adapter *ad; /* the active side's adapter */
	struct nd_adapter_info info;
	struct sockaddr_storage addr; /* ND_TEST_ADDR, port 0 */
	uint32_t addr_len;
	/* The passive side: ND_TEST_PEER_ADDR, port 0, and its adapter (ad
	 * itself when the two addresses are the same). */
	struct nd_adapter *pad;
	struct sockaddr_storage paddr;
	uint32_t paddr_len;
	/* ND_TEST_PEER_NETNS: the peer namespace and ours (to come back). */
	bool peer_netns;
	int peer_netns_fd, own_netns_fd;
};

/* One connected QP pair inside this process: a = active, p = passive. */
struct tc_pair {
	struct tc *t;
	struct nd_cq *acq, *pcq; /* each used for receive and initiator */
	struct nd_qp *aqp, *pqp;
	struct nd_connector *ac, *pc;
	struct nd_listener *l;
	bool own_acq, own_pcq;
};

struct tc_pair_cfg {
	uint32_t depth;		 /* queue depths (default 16) */
	uint32_t sge;		 /* SGEs per request (default 1) */
	uint32_t inline_size;	 /* default 0 */
	struct nd_srq *psrq;	 /* passive QP takes receives from this SRQ */
	struct nd_cq *acq, *pcq; /* shared CQs instead of new ones */
	void *actx, *pctx;	 /* QP contexts */
	uint32_t a_ird, a_ord, p_ird, p_ord;
};

/* For programs also listed in the rdma suite: no ND_TEST_ADDR and no
 * adapter serves 127.0.0.1. True after printing TAP's "1..0 # SKIP" plan. */
bool tc_nothing_to_test(const char *program);
/* Opens the adapters serving ND_TEST_ADDR and ND_TEST_PEER_ADDR (entering
 * ND_TEST_PEER_NETNS for the latter); false, saying why, if either fails. */
/* An IPv4 or IPv6 address (port 0) into *ss; false if a is neither. */
bool tc_parse_addr(const char *a, struct sockaddr_storage *ss, uint32_t *len);
bool tc_open(struct tc *t);
void tc_close(struct tc *t);
/* cmocka setup and teardown: *state is a struct tc, opened (setup fails,
 * saying which addresses, if the adapters cannot be opened) and closed. */
int tc_setup(void **state);
int tc_teardown(void **state);
/* The passive side's adapter and address (the active side's if unset). */
struct nd_adapter *tc_peer_adapter(struct tc *t);
/* Runs the calling thread in the peer namespace (enter = true) or back in
 * its own; nothing without ND_TEST_PEER_NETNS. Asserts success. */
void tc_peer_netns(struct tc *t, bool enter);

/* Creates CQs and QPs (receives may be posted on pqp right after): the
 * active ones on t->ad, the passive ones on tc_peer_adapter(t). */
void tc_pair_init(struct tc *t, struct tc_pair *p,
		  const struct tc_pair_cfg *cfg);
/* A listener on the passive side's address (port chosen by the provider),
 * bound in the peer namespace if there is one, in p->l. */
void tc_listen(struct tc_pair *p, struct sockaddr_storage *dest,
	       uint32_t *dest_len);
/* The same with Listen's backlog (0: the provider's default). */
void tc_listen_backlog(struct tc_pair *p, uint32_t backlog,
		       struct sockaddr_storage *dest, uint32_t *dest_len);
/* Listens, connects, accepts and completes: asserts ND_SUCCESS. */
void tc_pair_connect(struct tc_pair *p);
/* The same through the listener tc_listen() made (p->l) at dest. */
void tc_pair_connect_to(struct tc_pair *p, const struct sockaddr_storage *dest,
			uint32_t dest_len);
void tc_pair_fini(struct tc_pair *p);

/* Waits for an overlapped request: its final status, or ND_PENDING if it
 * did not finish within timeout_ms. A non-PENDING `st` is returned as is. */
nd_status tc_wait_ov(void *obj, struct nd_overlapped *ov, nd_status st,
		     int timeout_ms);
/* Waits for one completion; false on timeout. */
bool tc_wait_cq(struct nd_cq *cq, struct nd_result *r, int timeout_ms);
/* Registers `len` bytes on the active side's adapter; asserts success. */
struct nd_mr *tc_reg(struct tc *t, void *buf, size_t len, uint32_t flags);
/* The same on a given adapter (tc_peer_adapter(t) for the passive side). */
struct nd_mr *tc_reg_on(struct nd_adapter *ad, void *buf, size_t len,
			uint32_t flags);
void tc_dereg(struct nd_mr *mr);
/* Splits [buf, buf+len) into n SGEs with the MR's local token. */
void tc_sges(struct nd_sge *sge, uint32_t n, void *buf, uint32_t len,
	     struct nd_mr *mr);
void tc_fill(void *buf, size_t len, uint32_t seed);
void *tc_alloc(size_t len);

/* Prints "SKIP <test>: <reason>" and skips the cmocka test. */
#define TC_SKIP(reason)                                                        \
	do {                                                                   \
		print_message("# SKIP %s: %s\n", __func__, reason);            \
		skip();                                                        \
	} while (0)

#endif
