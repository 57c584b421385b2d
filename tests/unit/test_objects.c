/* SPDX-License-Identifier: MIT */
/*
 * Objects through the public API on the test provider: dispatch, lifetime,
 * the overlapped engine, and bad input for every call, each asserting the
 * exact ND status.
 */
#include "common.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct testprov tp;

struct fixture {
	struct nd_adapter *a;
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_mr *mr;
	char buf[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct nd_overlapped ov = {0};

	assert_int_equal(nd_startup(), ND_SUCCESS);
	tp = testprov_hooks();
	f->a = open_test_adapter();
	assert_int_equal(nd_adapter_create_cq(f->a, 16, 0, 0, &f->cq),
			 ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, f->cq, f->cq, f, 8, 8, 2, 2, 0, &f->qp),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_mr(f->a, &f->mr), ND_SUCCESS);
	assert_int_equal(nd_mr_register(f->mr, f->buf, sizeof(f->buf),
					ND_MR_FLAG_ALLOW_LOCAL_WRITE, &ov),
			 ND_SUCCESS);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nd_qp_release(f->qp);
	nd_cq_release(f->cq);
	nd_mr_release(f->mr);
	nd_adapter_release(f->a);
	/* Nothing may outlive its last reference. */
	assert_int_equal(tp.live_objects(), 0);
	free(f);
	tp.set_async(0);
	return nd_cleanup() == ND_SUCCESS ? 0 : -1;
}

/* --- dispatch ------------------------------------------------------------ */

static void test_dispatch_send_and_results(void **state)
{
	struct fixture *f = *state;
	struct nd_sge sge = {f->buf, 8, nd_mr_get_local_token(f->mr)};
	struct nd_result r[4];
	int ctx;

	/* Not connected: the provider's status comes back unchanged. */
	assert_int_equal(nd_qp_send(f->qp, &ctx, &sge, 1, 0),
			 ND_CONNECTION_INVALID);
	tp.qp_connect(f->qp);
	assert_int_equal(nd_qp_send(f->qp, &ctx, &sge, 1, 0), ND_SUCCESS);
	assert_int_equal(
	    nd_qp_send(f->qp, &ctx, &sge, 1, ND_OP_FLAG_SILENT_SUCCESS),
	    ND_SUCCESS);
	assert_int_equal(nd_qp_send(f->qp, NULL, NULL, 0, 0), ND_SUCCESS);
	assert_int_equal(nd_cq_get_results(f->cq, r, 4), 2);
	assert_int_equal(r[0].status, ND_SUCCESS);
	assert_ptr_equal(r[0].request_context, &ctx);
	assert_ptr_equal(r[0].qp_context, f); /* the QP's context, echoed */
	assert_int_equal(r[0].request_type, ND_REQUEST_TYPE_SEND);
	assert_null(r[1].request_context);
	assert_int_equal(nd_cq_get_results(f->cq, r, 4), 0);
}

static void test_dispatch_receive_flush(void **state)
{
	struct fixture *f = *state;
	struct nd_sge sge = {f->buf, 8, nd_mr_get_local_token(f->mr)};
	struct nd_result r[4];

	/* Receives may be posted before connecting; flush cancels them. */
	assert_int_equal(nd_qp_receive(f->qp, (void *)1, &sge, 1), ND_SUCCESS);
	assert_int_equal(nd_qp_receive(f->qp, (void *)2, NULL, 0), ND_SUCCESS);
	assert_int_equal(nd_qp_flush(f->qp), ND_SUCCESS);
	assert_int_equal(nd_cq_get_results(f->cq, r, 4), 2);
	assert_int_equal(r[0].status, ND_CANCELED);
	assert_ptr_equal(r[0].request_context, (void *)1);
	assert_ptr_equal(r[1].request_context, (void *)2);
	assert_int_equal(r[1].request_type, ND_REQUEST_TYPE_RECEIVE);
}

static void test_fast_path_bad_input(void **state)
{
	struct fixture *f = *state;
	struct nd_sge sge = {f->buf, 8, nd_mr_get_local_token(f->mr)};
	struct nd_mw *mw;
	struct nd_srq *srq;
	struct nd_result r;

	tp.qp_connect(f->qp);
	assert_int_equal(nd_adapter_create_mw(f->a, &mw), ND_SUCCESS);
	assert_int_equal(nd_adapter_create_srq(f->a, 8, 1, 0, 0, 0, &srq),
			 ND_SUCCESS);

	assert_int_equal(nd_qp_send(NULL, NULL, &sge, 1, 0), ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_send(f->qp, NULL, NULL, 1, 0),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_qp_send(f->qp, NULL, &sge, 1, 0x40),
			 ND_INVALID_PARAMETER_4);
	assert_int_equal(
	    nd_qp_send(f->qp, NULL, &sge, 1, ND_OP_FLAG_ALLOW_READ),
	    ND_INVALID_PARAMETER_4);
	assert_int_equal(nd_qp_send(f->qp, NULL, &sge, 5, 0), ND_DATA_OVERRUN);
	assert_int_equal(nd_qp_receive(NULL, NULL, &sge, 1), ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_receive(f->qp, NULL, NULL, 2),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_qp_read(NULL, NULL, &sge, 1, 0, 0, 0),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_read(f->qp, NULL, NULL, 1, 0, 0, 0),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_qp_read(f->qp, NULL, &sge, 1, 0, 0, ND_OP_FLAG_INLINE),
	    ND_INVALID_PARAMETER_6);
	assert_int_equal(nd_qp_write(NULL, NULL, &sge, 1, 0, 0, 0),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_write(f->qp, NULL, NULL, 1, 0, 0, 0),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_qp_write(f->qp, NULL, &sge, 1, 0, 0,
				     ND_OP_FLAG_SEND_AND_SOLICIT_EVENT),
			 ND_INVALID_PARAMETER_6);
	assert_int_equal(nd_qp_bind(NULL, NULL, f->mr, mw, f->buf, 8, 0),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_bind(f->qp, NULL, NULL, mw, f->buf, 8, 0),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_qp_bind(f->qp, NULL, f->mr, NULL, f->buf, 8, 0),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(
	    nd_qp_bind(f->qp, NULL, f->mr, mw, f->buf, 8, ND_OP_FLAG_INLINE),
	    ND_INVALID_PARAMETER_6);
	assert_int_equal(nd_qp_invalidate(NULL, NULL, mw, 0),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_invalidate(f->qp, NULL, NULL, 0),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_qp_invalidate(f->qp, NULL, mw, ND_OP_FLAG_ALLOW_WRITE),
	    ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_srq_receive(NULL, NULL, &sge, 1),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_srq_receive(srq, NULL, NULL, 1),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_cq_get_results(NULL, &r, 1), 0);
	assert_int_equal(nd_cq_get_results(f->cq, NULL, 1), 0);
	/* A synchronous failure posted nothing. */
	assert_int_equal(nd_cq_get_results(f->cq, &r, 1), 0);

	nd_srq_release(srq);
	nd_mw_release(mw);
}

/* --- lifetime ------------------------------------------------------------ */

static void test_release_orders(void **state)
{
	struct fixture *f = *state;
	unsigned before = tp.live_objects();
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_result r;

	/* CQ before its QP: the QP keeps it alive and usable. */
	assert_int_equal(nd_adapter_create_cq(f->a, 4, 0, 0, &cq), ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 4, 4, 1, 1, 0, &qp),
	    ND_SUCCESS);
	assert_int_equal(nd_cq_release(cq), ND_SUCCESS);
	assert_int_equal(nd_cq_release(cq), ND_INVALID_HANDLE); /* released */
	assert_int_equal(nd_qp_receive(qp, NULL, NULL, 0), ND_SUCCESS);
	assert_int_equal(nd_qp_flush(qp), ND_SUCCESS); /* pushes into cq */
	assert_int_equal(tp.live_objects(), before + 2);
	assert_int_equal(nd_qp_release(qp), ND_SUCCESS);
	assert_int_equal(tp.live_objects(), before);
	(void)r;
}

/*
 * Handles used after the last reference went (defect 9 of issue 13): each
 * call is refused ND_INVALID_HANDLE, never reads the freed object (ASan),
 * and a stale handle never reaches a new object that took the old one's
 * memory.
 */
static void test_stale_handles(void **state)
{
	struct fixture *f = *state;
	unsigned before = tp.live_objects();
	struct nd_overlapped ov = {0};
	struct nd_result r;
	struct nd_cq *cq;
	struct nd_mr *mr;
	struct nd_qp *old, *qp;

	assert_int_equal(nd_adapter_create_cq(f->a, 4, 0, 0, &cq), ND_SUCCESS);
	assert_int_equal(nd_cq_release(cq), ND_SUCCESS);
	assert_int_equal(tp.live_objects(), before); /* freed */
	assert_int_equal(nd_cq_notify(cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_get_results(cq, &r, 1), 0);
	assert_int_equal(nd_cq_release(cq), ND_INVALID_HANDLE);

	assert_int_equal(nd_adapter_create_mr(f->a, &mr), ND_SUCCESS);
	assert_int_equal(nd_mr_release(mr), ND_SUCCESS);
	assert_int_equal(nd_mr_release(mr), ND_INVALID_HANDLE);
	assert_int_equal(nd_mr_get_remote_token(mr), 0);

	/* The same size of object again, as often at the same address. */
	assert_int_equal(
	    nd_adapter_create_qp(f->a, f->cq, f->cq, NULL, 4, 4, 1, 1, 0, &old),
	    ND_SUCCESS);
	assert_int_equal(nd_qp_release(old), ND_SUCCESS);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, f->cq, f->cq, NULL, 4, 4, 1, 1, 0, &qp),
	    ND_SUCCESS);
	assert_true(qp != old);
	tp.qp_connect(qp);
	assert_int_equal(nd_qp_send(old, NULL, NULL, 0, 0), ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_receive(old, NULL, NULL, 0), ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_flush(old), ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_get_results(f->cq, &r, 1), 0); /* nothing ran */
	assert_int_equal(nd_qp_release(qp), ND_SUCCESS);
	assert_int_equal(tp.live_objects(), before);
}

/*
 * A forked child inherits handles that are dead in it (defect 11): its
 * calls are refused and never reach the parent's objects, which go on.
 */
static void test_fork_child_handles_dead(void **state)
{
	struct fixture *f = *state;
	struct nd_result r;
	int status;

	tp.qp_connect(f->qp);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad =
		    nd_qp_send(f->qp, NULL, NULL, 0, 0) != ND_INVALID_HANDLE ||
		    nd_qp_release(f->qp) != ND_INVALID_HANDLE ||
		    nd_cq_get_results(f->cq, &r, 1) != 0 ||
		    nd_mr_get_local_token(f->mr) != 0;
		/* The adapter too: a child opens its own. */
		struct nd_cq *cq;
		bad |= nd_adapter_create_cq(f->a, 4, 0, 0, &cq) !=
		       ND_INVALID_HANDLE;
		_exit(bad ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(nd_qp_send(f->qp, (void *)7, NULL, 0, 0), ND_SUCCESS);
	assert_int_equal(nd_cq_get_results(f->cq, &r, 1), 1);
	assert_ptr_equal(r.request_context, (void *)7);
}

static void test_adapter_released_first(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = test_addr4("192.0.2.1", 0);
	struct nd_adapter *a;
	struct nd_cq *cq;
	struct nd_mr *mr;
	unsigned before = tp.live_objects();

	(void)f;
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&sin, sizeof(sin), &a),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_cq(a, 4, 0, 0, &cq), ND_SUCCESS);
	assert_int_equal(nd_adapter_create_mr(a, &mr), ND_SUCCESS);
	assert_int_equal(nd_adapter_release(a), ND_SUCCESS);
	/* The adapter handle is gone; its children still work. */
	assert_int_equal(nd_adapter_create_cq(a, 4, 0, 0, &cq),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_resize(cq, 8), ND_SUCCESS);
	assert_int_equal(tp.live_objects(), before + 3);
	assert_int_equal(nd_mr_release(mr), ND_SUCCESS);
	assert_int_equal(nd_cq_release(cq), ND_SUCCESS);
	assert_int_equal(tp.live_objects(), before);
}

static void test_mr_window_keeps_busy(void **state)
{
	struct fixture *f = *state;
	struct nd_mw *mw;
	struct nd_overlapped ov = {0};
	struct nd_result r[2];

	tp.qp_connect(f->qp);
	assert_int_equal(nd_adapter_create_mw(f->a, &mw), ND_SUCCESS);
	assert_int_equal(nd_qp_bind(f->qp, NULL, f->mr, mw, f->buf, 64,
				    ND_OP_FLAG_ALLOW_READ),
			 ND_SUCCESS);
	assert_int_not_equal(nd_mw_get_remote_token(mw), 0);
	assert_int_equal(nd_mr_deregister(f->mr, &ov), ND_DEVICE_BUSY);
	assert_int_equal(nd_get_overlapped_result(f->mr, &ov, false),
			 ND_DEVICE_BUSY);
	assert_int_equal(nd_qp_invalidate(f->qp, NULL, mw, 0), ND_SUCCESS);
	assert_int_equal(nd_cq_get_results(f->cq, r, 2), 2);
	assert_int_equal(nd_mr_deregister(f->mr, &ov), ND_SUCCESS);
	assert_int_equal(nd_mw_release(mw), ND_SUCCESS);
}

/* --- overlapped engine ---------------------------------------------------- */

static bool fd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_ov_pending_complete_dequeue(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0}, *got = NULL;
	int fd;

	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	assert_false(fd_readable(fd));
	/* An idle CQ: notify is pending, not an error. */
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_PENDING);
	assert_int_equal(nd_get_overlapped_result(f->cq, &ov, false),
			 ND_PENDING);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_TIMEOUT);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 20, &got),
			 ND_TIMEOUT);

	tp.qp_connect(f->qp);
	assert_int_equal(nd_qp_send(f->qp, NULL, NULL, 0, 0), ND_SUCCESS);
	assert_true(fd_readable(fd));
	assert_int_equal(nd_get_overlapped_result(f->cq, &ov, false),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, -1, &got),
			 ND_SUCCESS);
	assert_ptr_equal(got, &ov);
	assert_false(fd_readable(fd)); /* level: empty queue, not readable */

	/* Entries already waiting satisfy a notify at once. */
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_SUCCESS);
	assert_int_equal(nd_get_overlapped_result(f->cq, &ov, true),
			 ND_SUCCESS);
	assert_false(fd_readable(fd)); /* synchronous: nothing queued */
	close(fd);
	/* Closing the caller's descriptor does not harm the adapter. */
	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	close(fd);
}

static void test_ov_cancel_order(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov[5] = {0}, *got;
	struct nd_srq *srq;
	int fd;

	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_srq(f->a, 8, 1, 2, 0, 0, &srq),
			 ND_SUCCESS);
	assert_int_equal(nd_srq_notify(srq, &ov[0]), ND_PENDING);
	for (int i = 1; i < 4; i++)
		assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov[i]),
				 ND_PENDING);
	assert_int_equal(nd_srq_notify(srq, &ov[4]), ND_PENDING);

	/* Cancel the CQ, then the SRQ: completions arrive in that order,
	 * each object's in request order, all there before cancel returns. */
	assert_int_equal(nd_cancel_overlapped(f->cq), ND_SUCCESS);
	assert_int_equal(nd_cancel_overlapped(srq), ND_SUCCESS);
	int expect[5] = {1, 2, 3, 0, 4};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
				 ND_SUCCESS);
		assert_ptr_equal(got, &ov[expect[i]]);
		assert_int_equal(got->status, ND_CANCELED);
		assert_true(ND_FAILED(got->status));
	}
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_TIMEOUT);
	nd_srq_release(srq);
	close(fd);
}

static void test_ov_release_cancels(void **state)
{
	struct fixture *f = *state;
	struct nd_listener *l;
	struct nd_connector *c;
	struct nd_overlapped ov = {0};
	struct sockaddr_in sin = test_addr4("192.0.2.1", 0);

	assert_int_equal(nd_adapter_create_listener(f->a, &l), ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(f->a, &c), ND_SUCCESS);
	assert_int_equal(
	    nd_listener_bind(l, (struct sockaddr *)&sin, sizeof(sin)),
	    ND_SUCCESS);
	assert_int_equal(nd_listener_listen(l, 0), ND_SUCCESS);
	assert_int_equal(nd_listener_get_connection_request(l, c, &ov),
			 ND_PENDING);
	assert_int_equal(nd_listener_release(l), ND_SUCCESS);
	assert_int_equal(ov.status, ND_CANCELED);
	assert_int_equal(nd_connector_release(c), ND_SUCCESS);
}

static void test_ov_no_queue_and_post(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {.flags = ND_OV_FLAG_NO_QUEUE}, mine, *got;
	int fd;

	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_PENDING);
	assert_true(tp.finish(f->cq, 0, ND_SUCCESS));
	assert_int_equal(nd_get_overlapped_result(f->cq, &ov, true),
			 ND_SUCCESS);
	assert_false(fd_readable(fd)); /* NO_QUEUE: only the status */

	mine.status = ND_SUCCESS;
	mine.flags = 0;
	assert_int_equal(nd_adapter_post_overlapped(f->a, &mine), ND_SUCCESS);
	assert_true(fd_readable(fd));
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_SUCCESS);
	assert_ptr_equal(got, &mine);
	close(fd);
}

static void test_ov_reuse_before_dequeue(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0}, *got;
	int fd;

	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_PENDING);
	tp.finish(f->cq, 0, ND_SUCCESS);
	/* Reused while its completion still waits: the stale one goes. */
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_PENDING);
	assert_false(fd_readable(fd));
	tp.finish(f->cq, 0, ND_SUCCESS);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_TIMEOUT);
	close(fd);
}

static void test_ov_freed_after_result(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped *gone = calloc(1, sizeof(*gone)), ov = {0}, *got;
	int fd;

	/* A caller may free a request once it has read its final status,
	 * even while its completion still waits in the queue: the engine
	 * must hand the pointer back without touching it (ASan checks). */
	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, gone),
			 ND_PENDING);
	tp.finish(f->cq, 0, ND_SUCCESS);
	assert_int_equal(nd_get_overlapped_result(f->cq, gone, true),
			 ND_SUCCESS);
	void *stale = gone;
	free(gone);
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, &ov),
			 ND_PENDING);
	tp.finish(f->cq, 0, ND_SUCCESS);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_SUCCESS);
	assert_ptr_equal(got, stale);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_SUCCESS);
	assert_ptr_equal(got, &ov);
	close(fd);
}

static void test_ov_queue_grows(void **state)
{
	struct fixture *f = *state;
	enum { N = 200 }; /* past the ring's first capacity */
	struct nd_overlapped ov[N], *got;
	int fd;

	memset(ov, 0, sizeof(ov));
	assert_int_equal(nd_adapter_create_overlapped_file(f->a, &fd),
			 ND_SUCCESS);
	for (int i = 0; i < N; i++) {
		ov[i].status = ND_SUCCESS;
		assert_int_equal(nd_adapter_post_overlapped(f->a, &ov[i]),
				 ND_SUCCESS);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
				 ND_SUCCESS);
		assert_ptr_equal(got, &ov[i]);
	}
	assert_false(fd_readable(fd));
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, &got),
			 ND_TIMEOUT);
	close(fd);
}

struct waiter {
	struct nd_mr *mr;
	struct nd_overlapped ov;
	nd_status result;
	char buf[64];
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->result = nd_get_overlapped_result(w->mr, &w->ov, true);
	return NULL;
}

static void test_ov_wait_from_threads(void **state)
{
	struct fixture *f = *state;
	enum { N = 4 };
	struct waiter w[N] = {0};
	pthread_t t[N];

	tp.set_async(1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(nd_adapter_create_mr(f->a, &w[i].mr),
				 ND_SUCCESS);
		assert_int_equal(nd_mr_register(w[i].mr, w[i].buf, 64,
						ND_MR_FLAG_ALLOW_LOCAL_WRITE,
						&w[i].ov),
				 ND_PENDING);
		w[i].result = ND_PENDING;
		pthread_create(&t[i], NULL, wait_thread, &w[i]);
	}
	usleep(20000); /* let them block; correctness does not depend on it */
	for (int i = 0; i < N; i++)
		assert_true(
		    tp.finish(w[i].mr, 1,
			      i == 2 ? ND_INSUFFICIENT_RESOURCES : ND_SUCCESS));
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].result, i == 2 ? ND_INSUFFICIENT_RESOURCES
						     : ND_SUCCESS);
		nd_mr_release(w[i].mr);
	}
}

static void test_ov_sync_status_written(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0};
	struct nd_mr *mr;

	/* An unzeroed overlapped, completed synchronously: its status is
	 * still readable afterwards, as ND's samples expect. */
	memset(&ov, 0x5A, sizeof(ov));
	ov.flags = 0;
	assert_int_equal(nd_adapter_create_mr(f->a, &mr), ND_SUCCESS);
	assert_int_equal(nd_mr_register(mr, f->buf, 8, 0, &ov), ND_SUCCESS);
	assert_int_equal(nd_get_overlapped_result(mr, &ov, true), ND_SUCCESS);
	assert_int_equal(nd_mr_deregister(mr, &ov), ND_SUCCESS);
	assert_int_equal(nd_get_overlapped_result(mr, &ov, false), ND_SUCCESS);
	nd_mr_release(mr);
}

static void test_ov_bad_input(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0}, *got;

	assert_int_equal(nd_get_overlapped_result(NULL, &ov, false),
			 ND_INVALID_HANDLE);
	/* A QP has no overlapped requests. */
	assert_int_equal(nd_get_overlapped_result(f->qp, &ov, false),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_get_overlapped_result(f->cq, NULL, false),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_cancel_overlapped(NULL), ND_INVALID_HANDLE);
	assert_int_equal(nd_cancel_overlapped(f->a), ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_overlapped_file(NULL, NULL),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_overlapped_file(f->a, NULL),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_adapter_dequeue_overlapped(NULL, 0, &got),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_dequeue_overlapped(f->a, 0, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_adapter_post_overlapped(NULL, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_post_overlapped(f->a, NULL),
			 ND_INVALID_PARAMETER_1);
}

/* --- bad input, per call ------------------------------------------------ */

static void test_adapter_bad_input(void **state)
{
	struct fixture *f = *state;
	struct nd_adapter_info info = {.info_version = ND_VERSION_2};
	uint32_t size = 0;
	char list_buf[256];

	assert_int_equal(nd_adapter_release(NULL), ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_release((struct nd_adapter *)f->cq),
			 ND_INVALID_HANDLE); /* wrong type */
	assert_int_equal(nd_adapter_query(NULL, &info, &size),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_query(f->a, &info, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_adapter_query(f->a, NULL, &size),
			 ND_BUFFER_OVERFLOW);
	assert_int_equal(size, 96);
	size = 95;
	assert_int_equal(nd_adapter_query(f->a, &info, &size),
			 ND_BUFFER_OVERFLOW);
	assert_int_equal(info.max_completion_queue_depth, 0); /* untouched */
	size = 96;
	info.info_version = 7;
	assert_int_equal(nd_adapter_query(f->a, &info, &size),
			 ND_INVALID_PARAMETER_1);
	info.info_version = ND_VERSION_2;
	assert_int_equal(nd_adapter_query(f->a, &info, &size), ND_SUCCESS);
	assert_int_equal(info.info_version, ND_VERSION_2);
	assert_int_equal(info.max_completion_queue_depth, 64);
	size = 200; /* larger buffers succeed and report what was used */
	assert_int_equal(nd_adapter_query(f->a, &info, &size), ND_SUCCESS);
	assert_int_equal(size, 96);

	size = 0;
	assert_int_equal(nd_adapter_query_address_list(NULL, NULL, &size),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_query_address_list(f->a, NULL, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_adapter_query_address_list(f->a, NULL, &size),
			 ND_BUFFER_OVERFLOW);
	assert_int_equal(nd_adapter_query_address_list(
			     f->a, (struct nd_address_list *)list_buf, &size),
			 ND_SUCCESS);
	assert_int_equal(((struct nd_address_list *)list_buf)->count, 2);
}

static void test_adapter_identity(void **state)
{
	struct fixture *f = *state;
	struct nd_adapter_identity id;

	assert_int_equal(nd_adapter_get_identity(NULL, &id), ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_get_identity(f->a, NULL),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_adapter_get_identity(f->a, &id), ND_SUCCESS);
	assert_string_equal(id.provider, "test");
	assert_string_equal(id.device, "test0");
	assert_string_equal(id.transport, "memory");
}

static void test_create_bad_input(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in6 v6 = test_addr6("2001:db8::1");
	struct nd_adapter *other;
	struct nd_cq *cq, *foreign_cq;
	struct nd_srq *srq;
	struct nd_qp *qp;
	struct nd_mr *mr;
	struct nd_mw *mw;
	struct nd_connector *c;
	struct nd_listener *l;

	assert_int_equal(nd_adapter_create_cq(NULL, 4, 0, 0, &cq),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_cq(f->a, 0, 0, 0, &cq),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_cq(f->a, 65, 0, 0, &cq),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_cq(f->a, 4, 0, 0, NULL),
			 ND_INVALID_PARAMETER_6);
	/* Exactly the maximum depth is legal. */
	assert_int_equal(nd_adapter_create_cq(f->a, 64, 0, 0, &cq), ND_SUCCESS);

	assert_int_equal(nd_adapter_create_mr(NULL, &mr), ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_mr(f->a, NULL),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_mw(NULL, &mw), ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_mw(f->a, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_adapter_create_connector(NULL, &c),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_connector(f->a, NULL),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_listener(NULL, &l),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_listener(f->a, NULL),
			 ND_INVALID_PARAMETER_3);

	assert_int_equal(nd_adapter_create_srq(NULL, 4, 1, 0, 0, 0, &srq),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_srq(f->a, 0, 1, 0, 0, 0, &srq),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_srq(f->a, 65, 1, 0, 0, 0, &srq),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_srq(f->a, 4, 5, 0, 0, 0, &srq),
			 ND_INVALID_PARAMETER_4);
	assert_int_equal(nd_adapter_create_srq(f->a, 4, 1, 0, 0, 0, NULL),
			 ND_INVALID_PARAMETER_8);
	assert_int_equal(nd_adapter_create_srq(f->a, 4, 1, 0, 0, 0, &srq),
			 ND_SUCCESS);

	assert_int_equal(
	    nd_adapter_create_qp(NULL, cq, cq, NULL, 4, 4, 1, 1, 0, &qp),
	    ND_INVALID_HANDLE);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, NULL, cq, NULL, 4, 4, 1, 1, 0, &qp),
	    ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, NULL, NULL, 4, 4, 1, 1, 0, &qp),
	    ND_INVALID_PARAMETER_3);
	/* Maximum + 1 fails, maximum succeeds. */
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 65, 4, 1, 1, 0, &qp),
	    ND_INVALID_PARAMETER_5);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 4, 65, 1, 1, 0, &qp),
	    ND_INVALID_PARAMETER_6);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 4, 4, 5, 1, 0, &qp),
	    ND_INVALID_PARAMETER_7);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 4, 4, 1, 5, 0, &qp),
	    ND_INVALID_PARAMETER_8);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 4, 4, 1, 1, 65, &qp),
	    ND_INVALID_PARAMETER_9);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 4, 4, 1, 1, 0, NULL),
	    ND_INVALID_PARAMETER_10);
	assert_int_equal(
	    nd_adapter_create_qp(f->a, cq, cq, NULL, 64, 64, 4, 4, 64, &qp),
	    ND_SUCCESS);
	nd_qp_release(qp);

	assert_int_equal(nd_adapter_create_qp_with_srq(NULL, cq, cq, srq, NULL,
						       4, 1, 0, &qp),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, NULL, cq, srq,
						       NULL, 4, 1, 0, &qp),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, NULL, srq,
						       NULL, 4, 1, 0, &qp),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, cq, NULL, NULL,
						       4, 1, 0, &qp),
			 ND_INVALID_PARAMETER_4);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, cq, srq, NULL,
						       65, 1, 0, &qp),
			 ND_INVALID_PARAMETER_6);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, cq, srq, NULL,
						       4, 5, 0, &qp),
			 ND_INVALID_PARAMETER_7);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, cq, srq, NULL,
						       4, 1, 65, &qp),
			 ND_INVALID_PARAMETER_8);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, cq, srq, NULL,
						       4, 1, 0, NULL),
			 ND_INVALID_PARAMETER_9);
	assert_int_equal(nd_adapter_create_qp_with_srq(f->a, cq, cq, srq, NULL,
						       4, 1, 0, &qp),
			 ND_SUCCESS);
	nd_qp_release(qp);

	/* Objects must come from the same adapter. */
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&v6, sizeof(v6), &other),
	    ND_SUCCESS);
	assert_int_equal(nd_adapter_create_cq(other, 4, 0, 0, &foreign_cq),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_qp(f->a, foreign_cq, cq, NULL, 4, 4,
					      1, 1, 0, &qp),
			 ND_INVALID_PARAMETER_2);
	nd_cq_release(foreign_cq);
	nd_adapter_release(other);
	nd_srq_release(srq);
	nd_cq_release(cq);
}

static void test_cq_bad_input(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0};
	uint16_t group;
	uint64_t affinity;

	assert_int_equal(nd_cq_release(NULL), ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_notify(NULL, 0, &ov), ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_notify(f->cq, 3, &ov), ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_cq_notify(f->cq, ND_CQ_NOTIFY_ANY, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_cq_resize(NULL, 8), ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_resize(f->cq, 0), ND_INVALID_PARAMETER);
	assert_int_equal(nd_cq_resize(f->cq, 65), ND_INVALID_PARAMETER);
	/* Smaller than what is queued: ND_BUFFER_OVERFLOW, CQ unchanged. */
	tp.qp_connect(f->qp);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nd_qp_send(f->qp, NULL, NULL, 0, 0),
				 ND_SUCCESS);
	assert_int_equal(nd_cq_resize(f->cq, 2), ND_BUFFER_OVERFLOW);
	assert_int_equal(nd_cq_resize(f->cq, 3), ND_SUCCESS);
	assert_int_equal(nd_cq_get_notify_affinity(NULL, &group, &affinity),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_cq_get_notify_affinity(f->cq, NULL, &affinity),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_cq_get_notify_affinity(f->cq, &group, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_cq_get_notify_affinity(f->cq, &group, &affinity),
			 ND_SUCCESS);
}

static void test_mr_bad_input(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0};
	struct nd_mr *mr;

	assert_int_equal(nd_adapter_create_mr(f->a, &mr), ND_SUCCESS);
	assert_int_equal(nd_mr_register(NULL, f->buf, 8, 0, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_mr_register(mr, f->buf, 8, 0, NULL),
			 ND_INVALID_PARAMETER_4);
	assert_int_equal(nd_mr_register(mr, NULL, 0, 0, &ov),
			 ND_INVALID_PARAMETER);
	assert_int_equal(nd_mr_register(mr, f->buf, 0, 0, &ov),
			 ND_INVALID_BUFFER_SIZE);
	assert_int_equal(nd_get_overlapped_result(mr, &ov, false),
			 ND_INVALID_BUFFER_SIZE);
	assert_int_equal(nd_mr_register(mr, f->buf, (1ull << 30) + 1, 0, &ov),
			 ND_INVALID_PARAMETER);
	assert_int_equal(nd_mr_register(mr, f->buf, 8, 0x40, &ov),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_mr_deregister(mr, &ov), ND_INVALID_DEVICE_STATE);
	assert_int_equal(nd_mr_deregister(NULL, &ov), ND_INVALID_HANDLE);
	assert_int_equal(nd_mr_deregister(mr, NULL), ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_mr_register(mr, f->buf, 8,
					ND_MR_FLAG_ALLOW_REMOTE_WRITE |
					    ND_MR_FLAG_RDMA_READ_SINK,
					&ov),
			 ND_SUCCESS);
	assert_int_equal(nd_mr_register(mr, f->buf, 8, 0, &ov),
			 ND_INVALID_DEVICE_STATE);
	assert_int_not_equal(nd_mr_get_local_token(mr), 0);
	assert_int_not_equal(nd_mr_get_remote_token(mr), 0);
	assert_int_equal(nd_mr_get_local_token(NULL), 0);
	assert_int_equal(nd_mr_get_remote_token(NULL), 0);
	assert_int_equal(nd_mw_get_remote_token(NULL), 0);
	/* Re-registration of one object after deregistration. */
	assert_int_equal(nd_mr_deregister(mr, &ov), ND_SUCCESS);
	assert_int_equal(nd_mr_register(mr, f->buf, 16, 0, &ov), ND_SUCCESS);
	assert_int_equal(nd_mr_release(mr), ND_SUCCESS);
	assert_int_equal(nd_mw_release(NULL), ND_INVALID_HANDLE);
	assert_int_equal(nd_mr_release(NULL), ND_INVALID_HANDLE);
}

static void test_srq_bad_input(void **state)
{
	struct fixture *f = *state;
	struct nd_overlapped ov = {0};
	struct nd_srq *srq;
	uint16_t group;
	uint64_t affinity;

	assert_int_equal(nd_adapter_create_srq(f->a, 8, 1, 0, 0, 0, &srq),
			 ND_SUCCESS);
	assert_int_equal(nd_srq_modify(NULL, 8, 0), ND_INVALID_HANDLE);
	assert_int_equal(nd_srq_modify(srq, 65, 0), ND_INVALID_PARAMETER);
	assert_int_equal(nd_srq_modify(srq, 0, 0), ND_SUCCESS);
	assert_int_equal(nd_srq_modify(srq, 16, 4), ND_SUCCESS);
	assert_int_equal(nd_srq_notify(NULL, &ov), ND_INVALID_HANDLE);
	assert_int_equal(nd_srq_notify(srq, NULL), ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_srq_get_notify_affinity(NULL, &group, &affinity),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_srq_get_notify_affinity(srq, NULL, &affinity),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_srq_get_notify_affinity(srq, &group, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_srq_get_notify_affinity(srq, &group, &affinity),
			 ND_SUCCESS);
	assert_int_equal(nd_srq_release(srq), ND_SUCCESS);
}

static void test_qp_bad_input(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(nd_qp_flush(NULL), ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_flush((struct nd_qp *)f->cq), ND_INVALID_HANDLE);
	assert_int_equal(nd_qp_release(NULL), ND_INVALID_HANDLE);
}

static void test_connector_bad_input(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in dest = test_addr4("192.0.2.1", 5000);
	struct sockaddr_in any = test_addr4("0.0.0.0", 5000);
	struct sockaddr_in6 any6 = test_addr6("::");
	struct sockaddr_in out;
	struct nd_overlapped ov = {0};
	struct nd_connector *c;
	char pd[200] = "hello";
	uint32_t len, in, outb;

	assert_int_equal(nd_adapter_create_connector(f->a, &c), ND_SUCCESS);
	assert_int_equal(
	    nd_connector_bind(NULL, (struct sockaddr *)&dest, sizeof(dest)),
	    ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_bind(c, NULL, sizeof(dest)),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_connector_bind(c, (struct sockaddr *)&dest, 3),
			 ND_INVALID_PARAMETER_2);

	/* Calls that need a connection, before there is one. */
	len = sizeof(out);
	assert_int_equal(
	    nd_connector_get_local_address(c, (struct sockaddr *)&out, &len),
	    ND_CONNECTION_INVALID);
	assert_int_equal(nd_connector_get_read_limits(c, &in, &outb),
			 ND_CONNECTION_INVALID);
	assert_int_equal(nd_connector_complete_connect(c, &ov),
			 ND_CONNECTION_INVALID);
	assert_int_equal(nd_connector_disconnect(c, &ov),
			 ND_CONNECTION_INVALID);

	assert_int_equal(nd_connector_connect(NULL, f->qp,
					      (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, NULL, 0, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_connect(c, NULL, (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, NULL, 0, &ov),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_connector_connect(c, f->qp, NULL, sizeof(dest), 0,
					      0, NULL, 0, &ov),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&dest, 2, 0, 0,
					      NULL, 0, &ov),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, NULL, 4, &ov),
			 ND_ACCESS_VIOLATION);
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, pd, 0, NULL),
			 ND_INVALID_PARAMETER_8);
	assert_int_equal(nd_connector_connect(c, f->qp, (struct sockaddr *)&any,
					      sizeof(any), 0, 0, NULL, 0, &ov),
			 ND_BAD_NETWORK_NAME);
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&any6,
					      sizeof(any6), 0, 0, NULL, 0, &ov),
			 ND_BAD_NETWORK_NAME);
	/* Private data one byte over the limit; the connector stays usable. */
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, pd, 57, &ov),
			 ND_INVALID_BUFFER_SIZE);
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, pd, 56, &ov),
			 ND_PENDING);
	assert_int_equal(nd_connector_connect(c, f->qp,
					      (struct sockaddr *)&dest,
					      sizeof(dest), 0, 0, pd, 4, &ov),
			 ND_CONNECTION_ACTIVE);
	assert_true(tp.finish(c, 1, ND_SUCCESS));
	assert_int_equal(ov.status, ND_SUCCESS);
	assert_int_equal(
	    nd_connector_bind(c, (struct sockaddr *)&dest, sizeof(dest)),
	    ND_ADDRESS_ALREADY_ASSOCIATED);

	/* Get* calls and their size protocols. */
	assert_int_equal(nd_connector_get_read_limits(NULL, &in, &outb),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_get_read_limits(c, NULL, NULL),
			 ND_SUCCESS);
	/* the provider reports the peer's 1 and 9; the adapter allows 4 */
	assert_int_equal(nd_connector_get_read_limits(c, &in, &outb),
			 ND_SUCCESS);
	assert_int_equal(in, 1);
	assert_int_equal(outb, 4);
	assert_int_equal(nd_connector_get_private_data(NULL, pd, &len),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_get_private_data(c, pd, NULL),
			 ND_INVALID_PARAMETER_2);
	len = 4;
	assert_int_equal(nd_connector_get_private_data(c, NULL, &len),
			 ND_INVALID_PARAMETER_1);
	len = 0;
	assert_int_equal(nd_connector_get_private_data(c, NULL, &len),
			 ND_BUFFER_OVERFLOW);
	assert_int_equal(len, 8);
	len = 3; /* partial copy, unlike every other size protocol */
	memset(pd, 0, sizeof(pd));
	assert_int_equal(nd_connector_get_private_data(c, pd, &len),
			 ND_BUFFER_OVERFLOW);
	assert_int_equal(len, 8);
	assert_memory_equal(pd, "pee\0", 4);
	len = 8; /* exactly enough */
	assert_int_equal(nd_connector_get_private_data(c, pd, &len),
			 ND_SUCCESS);
	assert_int_equal(len, 8);
	assert_memory_equal(pd, "peerdat", 8);
	/* A peer that sent none: no buffer is too small for 0 bytes. */
	tp.set_peer_data(NULL, 0);
	len = 0;
	assert_int_equal(nd_connector_get_private_data(c, NULL, &len),
			 ND_SUCCESS);
	assert_int_equal(len, 0);
	len = 4;
	memset(pd, 0x77, sizeof(pd));
	assert_int_equal(nd_connector_get_private_data(c, pd, &len),
			 ND_SUCCESS);
	assert_int_equal(len, 0);
	assert_int_equal(pd[0], 0x77);
	tp.set_peer_data("peerdat", 8);
	assert_int_equal(nd_connector_get_local_address(NULL, NULL, &len),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_get_local_address(c, NULL, NULL),
			 ND_INVALID_PARAMETER_2);
	len = 4;
	memset(&out, 0x77, sizeof(out));
	assert_int_equal(
	    nd_connector_get_local_address(c, (struct sockaddr *)&out, &len),
	    ND_BUFFER_OVERFLOW);
	assert_int_equal(len, sizeof(out));
	assert_int_equal(out.sin_family, 0x7777); /* untouched */
	assert_int_equal(
	    nd_connector_get_peer_address(c, (struct sockaddr *)&out, &len),
	    ND_SUCCESS);
	assert_int_equal(ntohs(out.sin_port), 4242);
	assert_int_equal(nd_connector_get_peer_address(NULL, NULL, &len),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_get_peer_address(c, NULL, NULL),
			 ND_INVALID_PARAMETER_2);

	assert_int_equal(nd_connector_complete_connect(NULL, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_complete_connect(c, NULL),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_connector_accept(NULL, f->qp, 0, 0, NULL, 0, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_accept(c, NULL, 0, 0, NULL, 0, &ov),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_connector_accept(c, f->qp, 0, 0, NULL, 0, NULL),
			 ND_INVALID_PARAMETER_6);
	assert_int_equal(nd_connector_accept(c, f->qp, 0, 0, pd, 149, &ov),
			 ND_INVALID_BUFFER_SIZE);
	assert_int_equal(nd_connector_accept(c, f->qp, 0, 0, NULL, 1, &ov),
			 ND_ACCESS_VIOLATION);
	assert_int_equal(nd_connector_reject(NULL, NULL, 0), ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_reject(c, pd, 149),
			 ND_INVALID_BUFFER_SIZE);
	assert_int_equal(nd_connector_reject(c, NULL, 3), ND_ACCESS_VIOLATION);
	assert_int_equal(nd_connector_reject(c, pd, 148), ND_SUCCESS);
	assert_int_equal(nd_connector_notify_disconnect(NULL, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_notify_disconnect(c, NULL),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_connector_disconnect(NULL, &ov), ND_INVALID_HANDLE);
	assert_int_equal(nd_connector_disconnect(c, NULL),
			 ND_INVALID_PARAMETER_1);
	/* A pending request is cancelled by release. */
	assert_int_equal(nd_connector_notify_disconnect(c, &ov), ND_PENDING);
	assert_int_equal(nd_connector_release(c), ND_SUCCESS);
	assert_int_equal(ov.status, ND_CANCELED);
}

static void test_listener_bad_input(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = test_addr4("192.0.2.1", 0), out;
	struct nd_listener *l;
	struct nd_overlapped ov = {0};
	uint32_t len = sizeof(out);

	assert_int_equal(nd_adapter_create_listener(f->a, &l), ND_SUCCESS);
	assert_int_equal(
	    nd_listener_bind(NULL, (struct sockaddr *)&sin, sizeof(sin)),
	    ND_INVALID_HANDLE);
	assert_int_equal(nd_listener_bind(l, NULL, sizeof(sin)),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_listener_bind(l, (struct sockaddr *)&sin, 1),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_listener_get_local_address(l, (struct sockaddr *)&out, &len),
	    ND_INVALID_DEVICE_STATE);
	assert_int_equal(
	    nd_listener_bind(l, (struct sockaddr *)&sin, sizeof(sin)),
	    ND_SUCCESS);
	assert_int_equal(
	    nd_listener_bind(l, (struct sockaddr *)&sin, sizeof(sin)),
	    ND_ADDRESS_ALREADY_ASSOCIATED);
	assert_int_equal(nd_listener_listen(NULL, 0), ND_INVALID_HANDLE);
	assert_int_equal(nd_listener_listen(l, 0), ND_SUCCESS);
	assert_true(ND_FAILED(nd_listener_listen(l, 0)));
	assert_int_equal(nd_listener_get_local_address(NULL, NULL, &len),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_listener_get_local_address(l, NULL, NULL),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_listener_get_local_address(l, (struct sockaddr *)&out, &len),
	    ND_SUCCESS);
	assert_int_equal(ntohs(out.sin_port), 5000);
	assert_int_equal(nd_listener_get_connection_request(NULL, NULL, &ov),
			 ND_INVALID_HANDLE);
	assert_int_equal(nd_listener_get_connection_request(l, NULL, &ov),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_listener_get_connection_request(
			     l, (struct nd_connector *)f->qp, &ov),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_listener_release(l), ND_SUCCESS);
	assert_int_equal(nd_listener_release(NULL), ND_INVALID_HANDLE);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_dispatch_send_and_results),
	    T(test_dispatch_receive_flush),
	    T(test_fast_path_bad_input),
	    T(test_release_orders),
	    T(test_stale_handles),
	    T(test_fork_child_handles_dead),
	    T(test_adapter_released_first),
	    T(test_mr_window_keeps_busy),
	    T(test_ov_pending_complete_dequeue),
	    T(test_ov_cancel_order),
	    T(test_ov_release_cancels),
	    T(test_ov_no_queue_and_post),
	    T(test_ov_reuse_before_dequeue),
	    T(test_ov_freed_after_result),
	    T(test_ov_queue_grows),
	    T(test_ov_wait_from_threads),
	    T(test_ov_sync_status_written),
	    T(test_ov_bad_input),
	    T(test_adapter_bad_input),
	    T(test_adapter_identity),
	    T(test_create_bad_input),
	    T(test_cq_bad_input),
	    T(test_mr_bad_input),
	    T(test_srq_bad_input),
	    T(test_qp_bad_input),
	    T(test_connector_bad_input),
	    T(test_listener_bad_input),
	};
	return cmocka_run_group_tests_name("objects", tests, NULL, NULL);
}
