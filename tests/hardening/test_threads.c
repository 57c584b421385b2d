/* SPDX-License-Identifier: MIT */
/*
 * The threading model of docs/threading.md, under load. Written against
 * nd.h only; runs on tcp (host) and verbs (VM), and under ThreadSanitizer
 * and AddressSanitizer.
 *
 * - Several threads each drive their own connected QP on one adapter, and
 *   all of them share one CQ for their initiator completions: every thread
 *   polls it, takes whatever completed and routes it to its owner by the
 *   request context. Data is checked byte for byte.
 * - Threads block in nd_get_overlapped_result(wait=true) while another
 *   thread cancels the requests they wait for: each wakes with ND_CANCELED.
 * - Threads block in nd_adapter_dequeue_overlapped while another releases
 *   the listeners, connectors and CQs whose requests they wait for: every
 *   request arrives, ND_CANCELED. A thread waiting on a CQ that a QP keeps
 *   alive wakes when the CQ is released.
 *
 * Threads other than cmocka's never assert: they record what went wrong and
 * the main thread fails the test. Every wait is bounded; a thread that does
 * not finish in time is reported as hung and the program stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../conformance/conf_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
#define WINDOW	 4 /* sends in flight per thread */
#define MSG	 1024
#define ROUNDS	 8 /* of each cancel / release scenario */

static unsigned iterations =
    300; /* messages per thread; ND_STRESS_ITERATIONS */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Joins t, or reports it hung and stops the program: a hung thread still
 * uses objects that the test would otherwise go on to release. */
static void join_or_die(pthread_t t, const char *what)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += TC_LONG_TIMEOUT_MS / 1000;
	if (pthread_timedjoin_np(t, NULL, &deadline) != 0) {
		print_error("%s did not finish within %d ms: hung\n", what,
			    TC_LONG_TIMEOUT_MS);
		fflush(NULL);
		_exit(1);
	}
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	assert_int_equal(pthread_create(t, NULL, fn, arg), 0);
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	if (!t || !tc_open(t)) {
		free(t);
		return -1;
	}
	if (tc_peer_adapter(t) != t->ad) {
		/* The stress runs on one adapter, as docs/threading.md
		 * describes; two-host runs are the conformance suite's. */
		print_error("ND_TEST_PEER_ADDR is set: these tests use one "
			    "adapter\n");
		tc_close(t);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tc *t = *state;

	tc_close(t);
	free(t);
	return 0;
}

/* --- several QPs, one shared CQ ------------------------------------------ */

struct worker;

/* The request context of a send: whose it is and which message. */
struct send_req {
	struct worker *owner;
	uint32_t seq;
};

struct shared_cq {
	struct nd_cq *cq;
	/* Whether concurrent nd_cq_get_results on one CQ needs the
	 * application's lock (docs/threading.md: tcp no, verbs yes). */
	bool lock_polls;
	pthread_mutex_t lock;
};

struct worker {
	unsigned id;
	struct tc_pair pair; /* pair.acq is the shared CQ */
	struct shared_cq *shared;
	uint8_t *src, *dst; /* WINDOW slots of MSG bytes each */
	struct nd_mr *smr, *dmr;
	struct send_req req[WINDOW];
	uint32_t sends_done; /* atomic: routed here by whichever thread */
	uint32_t recvs_done;
	uint32_t routed; /* completions this thread took for others */
	char err[256];
};

static void fail_worker(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
}

static void pattern(uint8_t *p, unsigned id, uint32_t seq)
{
	tc_fill(p, MSG, id * 1000003u + seq);
}

/* Takes completions from the shared CQ and routes each to its owner. */
static void poll_shared(struct worker *w)
{
	struct shared_cq *s = w->shared;
	struct nd_result r[4];
	uint32_t n;

	if (s->lock_polls)
		pthread_mutex_lock(&s->lock);
	n = nd_cq_get_results(s->cq, r, 4);
	if (s->lock_polls)
		pthread_mutex_unlock(&s->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct send_req *q = r[i].request_context;
		struct worker *owner = q ? q->owner : NULL;

		if (!owner || r[i].qp_context != owner) {
			fail_worker(w, "completion routed nowhere (context %p)",
				    r[i].request_context);
			continue;
		}
		if (r[i].status != ND_SUCCESS ||
		    r[i].request_type != ND_REQUEST_TYPE_SEND) {
			fail_worker(w, "send %u of thread %u: %s", q->seq,
				    owner->id, nd_strerror(r[i].status));
			continue;
		}
		if (owner != w)
			w->routed++;
		__atomic_add_fetch(&owner->sends_done, 1, __ATOMIC_ACQ_REL);
	}
}

/* Takes this thread's receives, in order, and checks their bytes. */
static void poll_receives(struct worker *w)
{
	struct nd_result r;
	uint8_t want[MSG];

	while (nd_cq_get_results(w->pair.pcq, &r, 1) == 1) {
		uint32_t seq = w->recvs_done;
		uint8_t *got = w->dst + (seq % WINDOW) * MSG;

		if (r.status != ND_SUCCESS || r.bytes_transferred != MSG ||
		    r.request_context != got) {
			fail_worker(w, "receive %u: %s, %u bytes", seq,
				    nd_strerror(r.status), r.bytes_transferred);
			return;
		}
		pattern(want, w->id, seq);
		if (memcmp(got, want, MSG) != 0) {
			fail_worker(w, "receive %u: data differs", seq);
			return;
		}
		w->recvs_done++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t deadline = now_ms() + TC_LONG_TIMEOUT_MS;
	uint32_t posted = 0;
	struct nd_sge s, d;

	while (!w->err[0]) {
		uint32_t sent =
		    __atomic_load_n(&w->sends_done, __ATOMIC_ACQUIRE);
		uint32_t freed = sent < w->recvs_done ? sent : w->recvs_done;

		if (freed == iterations)
			break;
		/* A slot is free again once its send and receive are done. */
		while (posted < iterations && posted - freed < WINDOW) {
			unsigned slot = posted % WINDOW;
			nd_status st;

			tc_sges(&d, 1, w->dst + slot * MSG, MSG, w->dmr);
			st = nd_qp_receive(w->pair.pqp, d.buffer, &d, 1);
			if (st != ND_SUCCESS) {
				fail_worker(w, "receive: %s", nd_strerror(st));
				break;
			}
			pattern(w->src + slot * MSG, w->id, posted);
			tc_sges(&s, 1, w->src + slot * MSG, MSG, w->smr);
			w->req[slot].seq = posted;
			st = nd_qp_send(w->pair.aqp, &w->req[slot], &s, 1, 0);
			if (st != ND_SUCCESS) {
				fail_worker(w, "send: %s", nd_strerror(st));
				break;
			}
			posted++;
		}
		poll_shared(w);
		poll_receives(w);
		if (now_ms() > deadline)
			fail_worker(w,
				    "no end within %d ms: %u of %u sent, "
				    "%u received",
				    TC_LONG_TIMEOUT_MS, sent, iterations,
				    w->recvs_done);
	}
	return NULL;
}

static bool provider_is(struct tc *t, const char *name)
{
	struct nd_adapter_identity id;

	return nd_adapter_get_identity(t->ad, &id) == ND_SUCCESS &&
	       strcmp(id.provider, name) == 0;
}

static void test_qps_share_one_cq(void **state)
{
	struct tc *t = *state;
	struct shared_cq shared = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	pthread_t th[NTHREADS];
	uint32_t depth = NTHREADS * WINDOW * 2;
	unsigned routed = 0;

	assert_non_null(w);
	shared.lock_polls = !provider_is(t, "tcp");
	if (shared.lock_polls)
		print_message("# note: %s polls the shared CQ under a lock, as "
			      "docs/threading.md asks for verbs\n",
			      __func__);
	assert_int_equal(nd_adapter_create_cq(t->ad, depth, 0, 0, &shared.cq),
			 ND_SUCCESS);
	for (unsigned i = 0; i < NTHREADS; i++) {
		struct tc_pair_cfg cfg = {
		    .depth = WINDOW, .acq = shared.cq, .actx = &w[i]};

		w[i].id = i;
		w[i].shared = &shared;
		for (unsigned k = 0; k < WINDOW; k++)
			w[i].req[k].owner = &w[i];
		w[i].src = tc_alloc(WINDOW * MSG);
		w[i].dst = tc_alloc(WINDOW * MSG);
		w[i].smr = tc_reg(t, w[i].src, WINDOW * MSG, 0);
		w[i].dmr = tc_reg(t, w[i].dst, WINDOW * MSG,
				  ND_MR_FLAG_ALLOW_LOCAL_WRITE);
		tc_pair_init(t, &w[i].pair, &cfg);
		tc_pair_connect(&w[i].pair);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		start(&th[i], worker_main, &w[i]);
	for (unsigned i = 0; i < NTHREADS; i++)
		join_or_die(th[i], "a worker thread");
	/* A thread that finished early stopped polling; what it did not take
	 * is still in the CQ and must belong to nobody. */
	struct nd_result extra;
	assert_int_equal(nd_cq_get_results(shared.cq, &extra, 1), 0);
	for (unsigned i = 0; i < NTHREADS; i++) {
		if (w[i].err[0])
			fail_msg("thread %u: %s", i, w[i].err);
		assert_int_equal(w[i].sends_done, iterations);
		assert_int_equal(w[i].recvs_done, iterations);
		routed += w[i].routed;
	}
	print_message("# %u threads x %u messages; %u completions were taken "
		      "by another thread than their owner\n",
		      NTHREADS, iterations, routed);
	for (unsigned i = 0; i < NTHREADS; i++) {
		tc_pair_fini(&w[i].pair);
		tc_dereg(w[i].smr);
		tc_dereg(w[i].dmr);
		free(w[i].src);
		free(w[i].dst);
	}
	assert_int_equal(nd_cq_release(shared.cq), ND_SUCCESS);
	free(w);
}

/* --- waiters woken by cancel ---------------------------------------------- */

/* One overlapped request that some thread waits for. */
struct request {
	void *obj; /* the object it was started on */
	struct nd_overlapped ov;
	nd_status started;  /* what the call returned */
	nd_status returned; /* what the waiter got */
	const char *what;
	uint32_t *ready; /* waiters count themselves in before they block */
};

static void *wait_for_request(void *arg)
{
	struct request *q = arg;

	__atomic_add_fetch(q->ready, 1, __ATOMIC_ACQ_REL);
	q->returned = nd_get_overlapped_result(q->obj, &q->ov, true);
	return NULL;
}

/* Requests that stay pending until cancelled: connection requests on a
 * listener, a connect that nobody accepts, notifications on an idle CQ and
 * on both ends of a quiet connection, and an SRQ notification. */
struct pending_set {
	struct tc *t;
	struct tc_pair pair;	       /* connected, quiet */
	struct nd_listener *l, *deaf;  /* deaf: nobody takes its requests */
	struct nd_connector *c[2], *x; /* x connects to deaf */
	struct nd_qp *xqp;
	struct nd_cq *cq;
	struct nd_srq *srq;
	struct request q[8];
	unsigned n;
	uint32_t ready;
};

static void add_request(struct pending_set *s, void *obj, const char *what,
			nd_status st)
{
	struct request *q = &s->q[s->n++];

	q->obj = obj;
	q->what = what;
	q->started = st;
	q->ready = &s->ready;
	if (st != ND_PENDING)
		fail_msg("%s returned %s, not ND_PENDING", what,
			 nd_strerror(st));
}

static void listen_on(struct tc *t, struct nd_listener **l,
		      struct sockaddr_storage *dest, uint32_t *dest_len)
{
	assert_int_equal(nd_adapter_create_listener(t->ad, l), ND_SUCCESS);
	assert_int_equal(
	    nd_listener_bind(*l, (struct sockaddr *)&t->addr, t->addr_len),
	    ND_SUCCESS);
	assert_int_equal(nd_listener_listen(*l, 0), ND_SUCCESS);
	*dest_len = sizeof(*dest);
	assert_int_equal(nd_listener_get_local_address(
			     *l, (struct sockaddr *)dest, dest_len),
			 ND_SUCCESS);
}

static void make_pending(struct tc *t, struct pending_set *s)
{
	struct sockaddr_storage dest;
	uint32_t dest_len;
	struct request *q;

	memset(s, 0, sizeof(*s));
	s->t = t;
	tc_pair_init(t, &s->pair, NULL);
	tc_pair_connect(&s->pair);
	listen_on(t, &s->l, &dest, &dest_len);
	listen_on(t, &s->deaf, &dest, &dest_len);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(nd_adapter_create_connector(t->ad, &s->c[i]),
				 ND_SUCCESS);
		q = &s->q[s->n];
		add_request(
		    s, s->l, "nd_listener_get_connection_request",
		    nd_listener_get_connection_request(s->l, s->c[i], &q->ov));
	}
	assert_int_equal(nd_adapter_create_qp(t->ad, s->pair.acq, s->pair.acq,
					      NULL, 1, 1, 1, 1, 0, &s->xqp),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &s->x), ND_SUCCESS);
	q = &s->q[s->n];
	add_request(s, s->x, "nd_connector_connect",
		    nd_connector_connect(s->x, s->xqp, (struct sockaddr *)&dest,
					 dest_len, 0, 0, NULL, 0, &q->ov));
	assert_int_equal(nd_adapter_create_cq(t->ad, 4, 0, 0, &s->cq),
			 ND_SUCCESS);
	for (unsigned i = 0; i < 2; i++) {
		q = &s->q[s->n];
		add_request(s, s->cq, "nd_cq_notify",
			    nd_cq_notify(s->cq, ND_CQ_NOTIFY_ANY, &q->ov));
	}
	q = &s->q[s->n];
	add_request(s, s->pair.ac, "nd_connector_notify_disconnect",
		    nd_connector_notify_disconnect(s->pair.ac, &q->ov));
	q = &s->q[s->n];
	add_request(s, s->pair.pc, "nd_connector_notify_disconnect",
		    nd_connector_notify_disconnect(s->pair.pc, &q->ov));
	if (t->info.max_shared_receive_queue_depth &&
	    nd_adapter_create_srq(t->ad, 4, 1, 1, 0, 0, &s->srq) ==
		ND_SUCCESS) {
		/* Two receives posted, threshold 1: nothing to report. */
		for (unsigned i = 0; i < 2; i++)
			assert_int_equal(nd_srq_receive(s->srq, NULL, NULL, 0),
					 ND_SUCCESS);
		q = &s->q[s->n];
		add_request(s, s->srq, "nd_srq_notify",
			    nd_srq_notify(s->srq, &q->ov));
	}
}

static void release_pending(struct pending_set *s)
{
	for (unsigned i = 0; i < 2; i++)
		if (s->c[i])
			nd_connector_release(s->c[i]);
	if (s->x)
		nd_connector_release(s->x);
	if (s->l)
		nd_listener_release(s->l);
	if (s->deaf)
		nd_listener_release(s->deaf);
	if (s->xqp)
		nd_qp_release(s->xqp);
	if (s->cq)
		nd_cq_release(s->cq);
	if (s->srq)
		nd_srq_release(s->srq);
	tc_pair_fini(&s->pair);
}

static void *cancel_all(void *arg)
{
	struct pending_set *s = arg;
	void *objs[] = {s->l, s->x, s->cq, s->srq, s->pair.ac, s->pair.pc};

	/* Let every waiter get as far as its wait (it may not be blocked
	 * yet; either way it must end with ND_CANCELED). */
	while (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) < s->n)
		sched_yield();
	for (unsigned i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		if (objs[i])
			nd_cancel_overlapped(objs[i]);
	return NULL;
}

static void test_cancel_wakes_waiters(void **state)
{
	struct tc *t = *state;
	struct pending_set *s = calloc(1, sizeof(*s));
	pthread_t waiters[8], canceller;

	assert_non_null(s);
	for (unsigned round = 0; round < ROUNDS; round++) {
		make_pending(t, s);
		for (unsigned i = 0; i < s->n; i++)
			start(&waiters[i], wait_for_request, &s->q[i]);
		start(&canceller, cancel_all, s);
		join_or_die(canceller, "the cancelling thread");
		for (unsigned i = 0; i < s->n; i++)
			join_or_die(waiters[i], s->q[i].what);
		for (unsigned i = 0; i < s->n; i++)
			if (s->q[i].returned != ND_CANCELED)
				fail_msg("round %u: a thread waiting for %s "
					 "woke with %s, not ND_CANCELED",
					 round, s->q[i].what,
					 nd_strerror(s->q[i].returned));
		release_pending(s);
	}
	free(s);
}

/* --- waiters woken by release --------------------------------------------- */

/* Dequeues finished requests from the adapter's queue until `expected`
 * have arrived in total (or the deadline passes). */
struct dequeuer {
	struct nd_adapter *ad;
	uint32_t *arrived;
	uint32_t expected;
	uint32_t *ready;
};

static void *dequeue_until_all(void *arg)
{
	struct dequeuer *d = arg;
	uint64_t deadline = now_ms() + TC_LONG_TIMEOUT_MS;
	struct nd_overlapped *ov;

	__atomic_add_fetch(d->ready, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(d->arrived, __ATOMIC_ACQUIRE) < d->expected &&
	       now_ms() < deadline) {
		if (nd_adapter_dequeue_overlapped(d->ad, 100, &ov) !=
		    ND_SUCCESS)
			continue;
		struct request *q = ov->context;
		q->returned = ov->status;
		__atomic_add_fetch(d->arrived, 1, __ATOMIC_ACQ_REL);
	}
	return NULL;
}

struct releaser {
	struct pending_set *s;
	uint32_t *ready;
	uint32_t waiters;
};

/* Releases every object whose requests the dequeuing threads wait for. */
static void *release_all(void *arg)
{
	struct releaser *r = arg;
	struct pending_set *s = r->s;

	while (__atomic_load_n(r->ready, __ATOMIC_ACQUIRE) < r->waiters)
		sched_yield();
	nd_listener_release(s->l);
	s->l = NULL;
	nd_connector_release(s->x);
	s->x = NULL;
	nd_cq_release(s->cq);
	s->cq = NULL;
	if (s->srq) {
		nd_srq_release(s->srq);
		s->srq = NULL;
	}
	return NULL;
}

static void test_release_wakes_waiters(void **state)
{
	struct pending_set *s = calloc(1, sizeof(*s));
	pthread_t deq[3], rel;
	struct tc t;
	int fd;

	(void)state;
	assert_non_null(s);
	/* An adapter of its own: its queue is enabled for this test only. */
	assert_true(tc_open(&t));
	assert_int_equal(nd_adapter_create_overlapped_file(t.ad, &fd),
			 ND_SUCCESS);
	for (unsigned round = 0; round < ROUNDS; round++) {
		uint32_t arrived = 0, ready = 0;
		struct dequeuer d;
		struct releaser r = {.s = s, .ready = &ready, .waiters = 3};

		make_pending(&t, s);
		/* Setting up queued the connection's own requests (on
		 * tc_pair_connect's stack, gone now): discard them unread. */
		struct nd_overlapped *stale;
		while (nd_adapter_dequeue_overlapped(t.ad, 0, &stale) ==
		       ND_SUCCESS)
			;
		for (unsigned i = 0; i < s->n; i++)
			s->q[i].ov.context = &s->q[i];
		/* Releasing one end of the quiet connection would complete the
		 * other end's notification (a disconnect); cancel those two
		 * instead. They arrive in the queue like the others. */
		nd_cancel_overlapped(s->pair.ac);
		nd_cancel_overlapped(s->pair.pc);
		d = (struct dequeuer){t.ad, &arrived, s->n, &ready};
		for (unsigned i = 0; i < 3; i++)
			start(&deq[i], dequeue_until_all, &d);
		start(&rel, release_all, &r);
		join_or_die(rel, "the releasing thread");
		for (unsigned i = 0; i < 3; i++)
			join_or_die(deq[i], "a dequeuing thread");
		if (arrived != s->n)
			fail_msg("round %u: %u of %u requests arrived", round,
				 arrived, s->n);
		for (unsigned i = 0; i < s->n; i++)
			if (s->q[i].returned != ND_CANCELED)
				fail_msg("round %u: %s arrived with %s, not "
					 "ND_CANCELED",
					 round, s->q[i].what,
					 nd_strerror(s->q[i].returned));
		/* The listener's connectors may go now; nothing is pending. */
		release_pending(s);
	}
	close(fd);
	tc_close(&t);
	free(s);
}

/* A CQ that a QP keeps alive, released while threads wait on its
 * notifications: they wake. A waiter that only got to call after the
 * release is told the handle is gone; the request itself is cancelled
 * either way. */
static void test_release_cq_under_waiters(void **state)
{
	struct tc *t = *state;
	struct request q[4];
	uint32_t ready = 0;
	pthread_t th[4];

	for (unsigned round = 0; round < ROUNDS; round++) {
		struct nd_cq *cq;
		struct nd_qp *qp;

		assert_int_equal(nd_adapter_create_cq(t->ad, 4, 0, 0, &cq),
				 ND_SUCCESS);
		assert_int_equal(nd_adapter_create_qp(t->ad, cq, cq, NULL, 1, 1,
						      1, 1, 0, &qp),
				 ND_SUCCESS);
		ready = 0;
		memset(q, 0, sizeof(q));
		for (unsigned i = 0; i < 4; i++) {
			q[i].obj = cq;
			q[i].what = "nd_cq_notify";
			q[i].ready = &ready;
			assert_int_equal(
			    nd_cq_notify(cq, ND_CQ_NOTIFY_ANY, &q[i].ov),
			    ND_PENDING);
			start(&th[i], wait_for_request, &q[i]);
		}
		while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < 4)
			sched_yield();
		assert_int_equal(nd_cq_release(cq), ND_SUCCESS);
		for (unsigned i = 0; i < 4; i++)
			join_or_die(th[i], "a thread waiting on a CQ");
		for (unsigned i = 0; i < 4; i++) {
			assert_int_equal(q[i].ov.status, ND_CANCELED);
			if (q[i].returned != ND_CANCELED &&
			    q[i].returned != ND_INVALID_HANDLE)
				fail_msg("a waiter woke with %s",
					 nd_strerror(q[i].returned));
		}
		assert_int_equal(nd_qp_release(qp), ND_SUCCESS);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_qps_share_one_cq),
	    T(test_cancel_wakes_waiters),
	    T(test_release_wakes_waiters),
	    T(test_release_cq_under_waiters),
	};
	const char *n = getenv("ND_STRESS_ITERATIONS");
	int rc;

	if (n && atoi(n) > 0)
		iterations = (unsigned)atoi(n);
	if (tc_nothing_to_test("threads"))
		return 0;
	if (nd_startup() != ND_SUCCESS) {
		fprintf(stderr, "nd_startup failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests_name("threads", tests, NULL, NULL);
	nd_cleanup();
	return rc;
}
