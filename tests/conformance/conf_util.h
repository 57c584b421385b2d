/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the conformance suite. Written against nd.h only: the
 * suite runs unchanged on every provider and device.
 *
 * Environment: ND_TEST_ADDR (the local IP both sides use; default 127.0.0.1)
 * and ND_PROVIDERS (which provider the core loads).
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
	struct nd_adapter *ad;
	struct nd_adapter_info info;
	struct sockaddr_storage addr; /* ND_TEST_ADDR, port 0 */
	uint32_t addr_len;
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

/* Opens the adapter serving ND_TEST_ADDR; false (test skipped) if none. */
bool tc_open(struct tc *t);
void tc_close(struct tc *t);

/* Creates CQs and QPs (receives may be posted on pqp right after). */
void tc_pair_init(struct tc *t, struct tc_pair *p,
		  const struct tc_pair_cfg *cfg);
/* A listener on ND_TEST_ADDR (port chosen by the provider) in p->l. */
void tc_listen(struct tc_pair *p, struct sockaddr_storage *dest,
	       uint32_t *dest_len);
/* Listens, connects, accepts and completes: asserts ND_SUCCESS. */
void tc_pair_connect(struct tc_pair *p);
void tc_pair_fini(struct tc_pair *p);

/* Waits for an overlapped request: its final status, or ND_PENDING if it
 * did not finish within timeout_ms. A non-PENDING `st` is returned as is. */
nd_status tc_wait_ov(void *obj, struct nd_overlapped *ov, nd_status st,
		     int timeout_ms);
/* Waits for one completion; false on timeout. */
bool tc_wait_cq(struct nd_cq *cq, struct nd_result *r, int timeout_ms);
/* Registers `len` bytes; asserts success. */
struct nd_mr *tc_reg(struct tc *t, void *buf, size_t len, uint32_t flags);
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
