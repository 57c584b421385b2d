/* SPDX-License-Identifier: MIT */
/*
 * tcp provider only: hostile peers against a listener, speaking raw TCP.
 * They flood it with connection requests the application does not take,
 * hang up behind their requests, run the process out of descriptors, send
 * their frames a byte at a time or never. The listener must stay bounded
 * (descriptors, memory, CPU), every wait must end, and a well-behaved peer
 * must still get through.
 *
 * ND_TCP_CONNECT_TIMEOUT_MS is 1000 here (set in main unless given), so
 * the connection-setup deadlines expire within about two seconds (the
 * timer checks them once a second).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "conf_util.h"
#include "raw_peer.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* --- counting the provider's accept4 calls --------------------------------
 * The test program's accept4 comes first in symbol lookup, so the
 * provider's calls land here. */
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static unsigned long accept_calls;

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	__atomic_add_fetch(&accept_calls, 1, __ATOMIC_RELAXED);
	return real_accept4(fd, addr, len, flags);
}

static unsigned long accepts(void)
{
	return __atomic_load_n(&accept_calls, __ATOMIC_RELAXED);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sends a CONNECT whose one byte of private data is `id`. */
static int raw_request(const struct sockaddr_storage *dest, uint32_t dest_len,
		       uint8_t id)
{
	int fd = raw_connect(dest, dest_len);
	struct tcp_hdr h;

	raw_connect_frame(&h, 1);
	assert_true(send_all(fd, &h, sizeof(h)));
	assert_true(send_all(fd, &id, 1));
	return fd;
}

/* The request a connector was handed: the id in its private data. */
static uint8_t request_id(struct nd_connector *c)
{
	uint8_t id = 0;
	uint32_t len = sizeof(id);

	assert_int_equal(nd_connector_get_private_data(c, &id, &len),
			 ND_SUCCESS);
	assert_int_equal(len, 1);
	return id;
}

/*
 * Ten complete requests against a backlog of 4 that the application does
 * not take: the six beyond the backlog are refused on the wire (REJECT,
 * then the connection closes), a Connect through netdirect is refused
 * with ND_CONNECTION_REFUSED, and the application later takes exactly the
 * four that were kept.
 */
static void test_backlog_is_bounded(void **state)
{
	enum { BACKLOG = 4, CLIENTS = 10 };
	struct tc *t = *state;
	struct tc_pair lp = {.t = t};
	struct sockaddr_storage dest;
	uint32_t dest_len;
	int fds[CLIENTS];
	bool refused[CLIENTS] = {false}, taken[CLIENTS] = {false};
	unsigned nrefused = 0;

	tc_listen_backlog(&lp, BACKLOG, &dest, &dest_len);
	for (int i = 0; i < CLIENTS; i++)
		fds[i] = raw_request(&dest, dest_len, (uint8_t)i);
	while (nrefused < CLIENTS - BACKLOG) {
		struct pollfd pfd[CLIENTS];

		for (int i = 0; i < CLIENTS; i++)
			pfd[i] = (struct pollfd){.fd = refused[i] ? -1 : fds[i],
						 .events = POLLIN};
		if (poll(pfd, CLIENTS, TC_TIMEOUT_MS) <= 0)
			fail_msg("%u of %d requests beyond a backlog of %d "
				 "refused after %d ms",
				 nrefused, CLIENTS - BACKLOG, BACKLOG,
				 TC_TIMEOUT_MS);
		for (int i = 0; i < CLIENTS; i++) {
			struct tcp_hdr h;

			if (!pfd[i].revents)
				continue;
			assert_true(recv_all(fds[i], &h, sizeof(h)));
			assert_int_equal(h.type, TCP_F_REJECT);
			assert_int_equal(h.len, 0);
			assert_true(raw_closed_within(fds[i], TC_TIMEOUT_MS));
			refused[i] = true;
			nrefused++;
		}
	}

	/* The backlog is full: netdirect's own Connect is refused too. */
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *ac;
	struct nd_overlapped cov = {0};

	assert_int_equal(nd_adapter_create_cq(t->ad, 8, 0, 0, &cq), ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_qp(t->ad, cq, cq, NULL, 2, 2, 1, 1, 0, &qp),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &ac), ND_SUCCESS);
	nd_status st = nd_connector_connect(ac, qp, (struct sockaddr *)&dest,
					    dest_len, 0, 0, NULL, 0, &cov);
	assert_int_equal(tc_wait_ov(ac, &cov, st, TC_TIMEOUT_MS),
			 ND_CONNECTION_REFUSED);
	nd_connector_release(ac);
	nd_qp_release(qp);
	nd_cq_release(cq);

	/* The application takes the four that were kept, and no more. */
	for (int k = 0; k < BACKLOG; k++) {
		struct nd_connector *c;
		struct nd_overlapped gov = {0};

		assert_int_equal(nd_adapter_create_connector(t->ad, &c),
				 ND_SUCCESS);
		st = nd_listener_get_connection_request(lp.l, c, &gov);
		assert_int_equal(tc_wait_ov(lp.l, &gov, st, TC_TIMEOUT_MS),
				 ND_SUCCESS);
		uint8_t id = request_id(c);
		assert_true(id < CLIENTS);
		assert_false(refused[id]);
		assert_false(taken[id]);
		taken[id] = true;
		assert_int_equal(nd_connector_reject(c, NULL, 0), ND_SUCCESS);
		nd_connector_release(c);
	}
	struct nd_connector *c;
	struct nd_overlapped gov = {0};

	assert_int_equal(nd_adapter_create_connector(t->ad, &c), ND_SUCCESS);
	assert_int_equal(nd_listener_get_connection_request(lp.l, c, &gov),
			 ND_PENDING);
	assert_int_equal(nd_cancel_overlapped(lp.l), ND_SUCCESS);
	assert_int_equal(tc_wait_ov(lp.l, &gov, ND_PENDING, TC_TIMEOUT_MS),
			 ND_CANCELED);
	nd_connector_release(c);
	for (int i = 0; i < CLIENTS; i++)
		close(fds[i]);
	nd_listener_release(lp.l);
}

/*
 * Peers that send a complete request and hang up at once, before the
 * application takes it: the provider closes their connections (they read
 * EOF) instead of keeping them, so they never reach the application, and
 * they do not use up the backlog: the live request behind them is the one
 * the application gets, and it connects.
 */
static void test_dead_requests_are_dropped(void **state)
{
	enum { BACKLOG = 4 };
	struct tc *t = *state;
	struct tc_pair lp = {.t = t};
	struct sockaddr_storage dest;
	uint32_t dest_len;
	int fds[BACKLOG];

	tc_listen_backlog(&lp, BACKLOG, &dest, &dest_len);
	for (int i = 0; i < BACKLOG; i++) {
		fds[i] = raw_request(&dest, dest_len, (uint8_t)i);
		shutdown(fds[i], SHUT_WR);
	}
	for (int i = 0; i < BACKLOG; i++)
		if (!raw_closed_within(fds[i], TC_TIMEOUT_MS))
			fail_msg("request %d: its peer hung up, the listener "
				 "still holds it after %d ms",
				 i, TC_TIMEOUT_MS);

	int fd = raw_request(&dest, dest_len, 99);
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *c;
	struct nd_overlapped gov = {0}, aov = {0};
	struct tcp_hdr h;

	assert_int_equal(nd_adapter_create_cq(t->ad, 8, 0, 0, &cq), ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_qp(t->ad, cq, cq, NULL, 2, 2, 1, 1, 0, &qp),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &c), ND_SUCCESS);
	nd_status st = nd_listener_get_connection_request(lp.l, c, &gov);
	assert_int_equal(tc_wait_ov(lp.l, &gov, st, TC_TIMEOUT_MS), ND_SUCCESS);
	assert_int_equal(request_id(c), 99);
	st = nd_connector_accept(c, qp, 4, 4, NULL, 0, &aov);
	assert_true(recv_all(fd, &h, sizeof(h)));
	assert_int_equal(h.type, TCP_F_ACCEPT);
	tcp_wire_fill(&h, TCP_F_RTU, 0, 0, 0, 0, 0);
	assert_true(send_all(fd, &h, sizeof(h)));
	assert_int_equal(tc_wait_ov(c, &aov, st, TC_TIMEOUT_MS), ND_SUCCESS);

	close(fd);
	for (int i = 0; i < BACKLOG; i++)
		close(fds[i]);
	nd_connector_release(c);
	nd_qp_release(qp);
	nd_cq_release(cq);
	nd_listener_release(lp.l);
}

/*
 * The process runs out of descriptors with a connection waiting to be
 * accepted: the progress thread backs off instead of retrying accept()
 * in a loop (it tried more than a million times in a second), and once
 * descriptors are free again the waiting peer is served.
 */
static void test_accept_backs_off_without_descriptors(void **state)
{
	enum { FILL_MAX = 256, MAX_TRIES = 100 };
	struct tc *t = *state;
	struct tc_pair lp = {.t = t};
	struct sockaddr_storage dest;
	uint32_t dest_len;
	struct rlimit old, low;
	int fill[FILL_MAX], nfill = 0;
	struct nd_connector *c;
	struct nd_overlapped gov = {0};
	struct tcp_hdr h;
	uint8_t id = 7;

	tc_listen(&lp, &dest, &dest_len);
	assert_int_equal(nd_adapter_create_connector(t->ad, &c), ND_SUCCESS);
	nd_status gst = nd_listener_get_connection_request(lp.l, c, &gov);
	int fd = socket(dest.ss_family, SOCK_STREAM, 0);
	assert_true(fd >= 0);

	/* Use up every descriptor the process may have. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	if (low.rlim_cur > FILL_MAX)
		low.rlim_cur = FILL_MAX;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfill < FILL_MAX) {
		int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (f < 0) {
			assert_int_equal(errno, EMFILE);
			break;
		}
		fill[nfill++] = f;
	}
	assert_int_equal(
	    connect(fd, (struct sockaddr *)&dest, (socklen_t)dest_len), 0);

	unsigned long start = accepts();
	for (int i = 0; i < TC_TIMEOUT_MS / 10 && accepts() == start; i++)
		sleep_ms(10);
	assert_true(accepts() > start); /* the provider tried, and failed */
	start = accepts();
	sleep_ms(1000);
	unsigned long tries = accepts() - start;
	assert_int_equal(nd_get_overlapped_result(lp.l, &gov, false),
			 ND_PENDING);

	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (tries > MAX_TRIES)
		fail_msg("accept() tried %lu times in a second without "
			 "descriptors",
			 tries);

	raw_connect_frame(&h, 1);
	assert_true(send_all(fd, &h, sizeof(h)));
	assert_true(send_all(fd, &id, 1));
	assert_int_equal(tc_wait_ov(lp.l, &gov, gst, TC_TIMEOUT_MS),
			 ND_SUCCESS);
	assert_int_equal(request_id(c), id);
	assert_int_equal(nd_connector_reject(c, NULL, 0), ND_SUCCESS);
	assert_true(recv_all(fd, &h, sizeof(h)));
	assert_int_equal(h.type, TCP_F_REJECT);
	close(fd);
	nd_connector_release(c);
	nd_listener_release(lp.l);
}

/* Takes a request from `fd` and accepts it on qp; returns the pending
 * Accept's status and reads the ACCEPT frame as the peer. */
static nd_status accept_raw(struct tc_pair *lp, int fd, struct nd_qp *qp,
			    struct nd_connector **c, struct nd_overlapped *aov)
{
	struct nd_overlapped gov = {0};
	struct tcp_hdr h;

	assert_int_equal(nd_adapter_create_connector(lp->t->ad, c), ND_SUCCESS);
	nd_status st = nd_listener_get_connection_request(lp->l, *c, &gov);
	assert_int_equal(tc_wait_ov(lp->l, &gov, st, TC_TIMEOUT_MS),
			 ND_SUCCESS);
	st = nd_connector_accept(*c, qp, 4, 4, NULL, 0, aov);
	assert_int_equal(st, ND_PENDING);
	assert_true(recv_all(fd, &h, sizeof(h)));
	assert_int_equal(h.type, TCP_F_ACCEPT);
	return st;
}

/*
 * A peer that gets the ACCEPT and never completes the handshake (sends no
 * RTU, or sends it a byte at a time): Accept completes ND_IO_TIMEOUT, the
 * connection is closed, and the QP is left as it was (its receive still
 * posted): it accepts a well-behaved peer next and receives its SEND.
 */
static void test_accept_times_out_without_rtu(void **state)
{
	struct tc *t = *state;
	struct tc_pair lp = {.t = t};
	struct sockaddr_storage dest;
	uint32_t dest_len;
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *c;
	struct nd_overlapped aov;
	struct nd_result r;
	struct tcp_hdr h;
	nd_status st;
	int fd;

	tc_listen(&lp, &dest, &dest_len);
	assert_int_equal(nd_adapter_create_cq(t->ad, 8, 0, 0, &cq), ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_qp(t->ad, cq, cq, NULL, 2, 2, 1, 1, 0, &qp),
	    ND_SUCCESS);
	assert_int_equal(nd_qp_receive(qp, (void *)1, NULL, 0), ND_SUCCESS);

	/* silent after the ACCEPT */
	fd = raw_request(&dest, dest_len, 1);
	memset(&aov, 0, sizeof(aov));
	st = accept_raw(&lp, fd, qp, &c, &aov);
	assert_int_equal(tc_wait_ov(c, &aov, st, TC_TIMEOUT_MS), ND_IO_TIMEOUT);
	assert_true(raw_closed_within(fd, TC_TIMEOUT_MS));
	close(fd);
	nd_connector_release(c);

	/* the RTU a byte every 200 ms: 4.8 s for all of it */
	fd = raw_request(&dest, dest_len, 2);
	memset(&aov, 0, sizeof(aov));
	st = accept_raw(&lp, fd, qp, &c, &aov);
	tcp_wire_fill(&h, TCP_F_RTU, 0, 0, 0, 0, 0);
	size_t sent = 0;
	while (sent < sizeof(h) &&
	       (st = tc_wait_ov(c, &aov, st, 200)) == ND_PENDING)
		if (send(fd, (char *)&h + sent++, 1, MSG_NOSIGNAL) != 1)
			break;
	assert_int_equal(tc_wait_ov(c, &aov, st, TC_TIMEOUT_MS), ND_IO_TIMEOUT);
	assert_true(sent < sizeof(h));
	assert_true(raw_closed_within(fd, TC_TIMEOUT_MS));
	close(fd);
	nd_connector_release(c);
	assert_false(tc_wait_cq(cq, &r, 0)); /* the receive is still posted */

	/* the same QP, a peer that completes */
	fd = raw_request(&dest, dest_len, 3);
	memset(&aov, 0, sizeof(aov));
	st = accept_raw(&lp, fd, qp, &c, &aov);
	assert_true(send_all(fd, &h, sizeof(h)));
	assert_int_equal(tc_wait_ov(c, &aov, st, TC_TIMEOUT_MS), ND_SUCCESS);
	tcp_wire_fill(&h, TCP_F_SEND, 0, 0, 0, 0, 0);
	assert_true(send_all(fd, &h, sizeof(h)));
	assert_true(tc_wait_cq(cq, &r, TC_TIMEOUT_MS));
	assert_ptr_equal(r.request_context, (void *)1);
	assert_int_equal(r.status, ND_SUCCESS);
	close(fd);
	nd_connector_release(c);
	nd_qp_release(qp);
	nd_cq_release(cq);
	nd_listener_release(lp.l);
}

/*
 * Connections that never finish their CONNECT (one silent, one sending
 * it a byte every 100 ms: 22 s for the whole frame) are closed at the
 * deadline by the progress thread's timer, with no other connection
 * arriving to trigger a check, and never reach the application.
 */
static void test_slow_connect_is_closed(void **state)
{
	struct tc *t = *state;
	struct tc_pair lp = {.t = t};
	struct sockaddr_storage dest;
	uint32_t dest_len;
	struct nd_connector *c;
	struct nd_overlapped gov = {0};
	uint8_t frame[sizeof(struct tcp_hdr) + 196] = {0};
	size_t sent = 0;

	tc_listen(&lp, &dest, &dest_len);
	assert_int_equal(nd_adapter_create_connector(t->ad, &c), ND_SUCCESS);
	assert_int_equal(nd_listener_get_connection_request(lp.l, c, &gov),
			 ND_PENDING);
	int silent = raw_connect(&dest, dest_len);
	int slow = raw_connect(&dest, dest_len);
	raw_connect_frame((struct tcp_hdr *)frame, 196);

	for (;;) {
		struct pollfd pfd = {.fd = slow, .events = POLLIN};

		if (sent == sizeof(frame))
			fail_msg("the whole CONNECT went through, a byte "
				 "every 100 ms");
		if (send(slow, frame + sent, 1, MSG_NOSIGNAL) != 1)
			break; /* closed under us */
		sent++;
		if (poll(&pfd, 1, 100) == 1)
			break; /* EOF (checked below) */
	}
	assert_true(raw_closed_within(slow, TC_TIMEOUT_MS));
	assert_true(raw_closed_within(silent, TC_TIMEOUT_MS));
	assert_int_equal(nd_get_overlapped_result(lp.l, &gov, false),
			 ND_PENDING);
	assert_int_equal(nd_cancel_overlapped(lp.l), ND_SUCCESS);
	assert_int_equal(tc_wait_ov(lp.l, &gov, ND_PENDING, TC_TIMEOUT_MS),
			 ND_CANCELED);
	close(silent);
	close(slow);
	nd_connector_release(c);
	nd_listener_release(lp.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_backlog_is_bounded, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_requests_are_dropped,
					    tc_setup, tc_teardown),
	    cmocka_unit_test_setup_teardown(
		test_accept_backs_off_without_descriptors, tc_setup,
		tc_teardown),
	    cmocka_unit_test_setup_teardown(test_accept_times_out_without_rtu,
					    tc_setup, tc_teardown),
	    cmocka_unit_test_setup_teardown(test_slow_connect_is_closed,
					    tc_setup, tc_teardown),
	};
	int rc;

	*(void **)&real_accept4 = dlsym(RTLD_NEXT, "accept4");
	if (!real_accept4)
		return 1;
	setenv("ND_TCP_CONNECT_TIMEOUT_MS", "1000", 0);
	if (nd_startup() != ND_SUCCESS)
		return 1;
	rc = cmocka_run_group_tests_name("tcp-hostile-cm", tests, NULL, NULL);
	nd_cleanup();
	return rc;
}
