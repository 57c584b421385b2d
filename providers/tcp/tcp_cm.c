/* SPDX-License-Identifier: MIT */
/*
 * Connectors and listeners: ND's two-phase connection over a TCP connection.
 *
 *   active                         passive
 *   connect() ---- TCP ---------->  accept(), request read
 *   CONNECT(limits, pdata) ------>  GetConnectionRequest completes
 *            <------- ACCEPT(limits, pdata)   Accept (pending)
 *   Connect completes
 *   CompleteConnect: RTU -------->  Accept completes: established
 *
 * Either side may send REJECT instead of ACCEPT / RTU and close.
 */
#include "tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static struct tcp_connector *conn_of(struct nd_connector_base *b)
{
	return container_of(b, struct tcp_connector, base);
}

/* Bounds the handshake (TCP_USER_TIMEOUT covers SYN retries); 0 restores
 * the kernel's default once connected. */
static void set_connect_timeout(int fd, unsigned int ms)
{
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

static int new_socket(int family)
{
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	return fd;
}

/*
 * A local address has one live owner at a time and is free again as soon
 * as its connection is closed, as in rdma_cm's port space. TCP keeps a
 * closed connection's address in TIME_WAIT for a minute; Linux lets a bind
 * pass over that only if both the new socket and the closed one have
 * SO_REUSEADDR, but two live sockets that both have it may share an
 * address as well (all but listening ones). So our sockets have it only
 * while they bind, from Listen on (a listening socket is exclusive anyway,
 * and the connections it accepts inherit it) and when they are closed
 * (tcp_close_reusable): a live owner never has it, and makes every other
 * bind fail, while a TIME_WAIT remnant always has it. The first bind is
 * tried without it: a reusing bind that creates the kernel's bucket for
 * the address marks it fast-reusable, which would let the next reusing
 * bind through without looking at the owners.
 */
static int bind_exclusive(int fd, const struct sockaddr *addr, uint32_t len)
{
	int on = 1, off = 0, rc, err;

	rc = bind(fd, addr, len);
	if (rc == 0 || errno != EADDRINUSE)
		return rc;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	rc = bind(fd, addr, len);
	err = errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off));
	errno = err;
	return rc;
}

void tcp_close_reusable(int fd)
{
	int on = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	close(fd);
}

static void request_free(struct tcp_adapter *ad, struct tcp_request *r)
{
	tcp_poll_del(ad, &r->pl);
	if (r->pl.fd >= 0)
		close(r->pl.fd);
	free(r);
}

/* Ends the QP association (the reference is dropped after the lock). */
static void release_qp(struct tcp_connector *c)
{
	if (!c->qp)
		return;
	if (c->qp->conn == c)
		c->qp->conn = NULL;
	nd_util_puts_add(&c->ad->puts, &c->qp->base.obj);
	c->qp = NULL;
}

static void finish(struct tcp_connector *c, uint32_t kind, nd_status st)
{
	if (!c->closing)
		nd_ov_finish(&c->base.obj, kind, st);
}

/* --- events from the QP's socket ---------------------------------------- */

void tcp_conn_on_socket_connected(struct tcp_connector *c, int err)
{
	struct tcp_qp *qp = c->qp;

	if (!err) {
		set_connect_timeout(qp->pl.fd, 0);
		c->local_len = sizeof(c->local);
		getsockname(qp->pl.fd, (struct sockaddr *)&c->local,
			    &c->local_len);
		if (!tcp_send_ctrl(qp->pl.fd, TCP_F_CONNECT,
				   c->my_ird | (uint64_t)c->my_ord << 32,
				   TCP_WIRE_MAGIC, c->out_pdata,
				   c->out_pdata_len))
			err = ECONNRESET;
	}
	if (!err)
		return;
	ND_INFO(TCP_LOG, "connect: %s", strerror(err));
	tcp_qp_detach(qp);
	release_qp(c);
	c->state = TCP_CONN_CLOSED;
	finish(c, TCP_OV_CONNECT, nd_util_connect_errno_status(err));
}

void tcp_conn_on_reply(struct tcp_connector *c, const struct tcp_hdr *h,
		       const uint8_t *pdata, uint32_t len)
{
	struct tcp_qp *qp = c->qp;

	if (c->state == TCP_CONN_CONNECTING) {
		memcpy(c->pdata, pdata, len);
		c->pdata_len = len;
		c->have_peer_data = true;
		if (h->type == TCP_F_ACCEPT) {
			c->peer_ird =
			    min32((uint32_t)h->addr, TCP_MAX_READ_LIMIT);
			c->peer_ord = min32((uint32_t)(h->addr >> 32),
					    TCP_MAX_READ_LIMIT);
			c->state = TCP_CONN_REPLIED;
			qp->state = TCP_QP_REPLIED;
			finish(c, TCP_OV_CONNECT, ND_SUCCESS);
			return;
		}
		tcp_qp_detach(qp);
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
		finish(c, TCP_OV_CONNECT, ND_CONNECTION_REFUSED);
		return;
	}
	if (c->state == TCP_CONN_ACCEPTING && h->type == TCP_F_REJECT) {
		tcp_qp_detach(qp);
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
		finish(c, TCP_OV_ACCEPT, ND_CONNECTION_REFUSED);
		return;
	}
	tcp_qp_break(qp, ND_REMOTE_ERROR);
}

void tcp_conn_on_rtu(struct tcp_connector *c)
{
	if (c->state != TCP_CONN_ACCEPTING) {
		tcp_qp_break(c->qp, ND_REMOTE_ERROR);
		return;
	}
	c->qp->state = TCP_QP_CONNECTED;
	c->qp->ever_connected = true;
	c->state = TCP_CONN_CONNECTED;
	finish(c, TCP_OV_ACCEPT, ND_SUCCESS);
}

void tcp_conn_on_break(struct tcp_connector *c, nd_status status)
{
	/* The peer went away mid-handshake: refused; it took too long:
	 * timed out; our own QP flushed or released under it: cancelled
	 * (spec: Connect, Accept). */
	nd_status st = c->qp_flushed		 ? ND_CANCELED
		       : status == ND_IO_TIMEOUT ? ND_IO_TIMEOUT
						 : ND_CONNECTION_REFUSED;

	switch (c->state) {
	case TCP_CONN_CONNECTING:
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
		finish(c, TCP_OV_CONNECT, st);
		break;
	case TCP_CONN_REPLIED:
		/* had its reply: a connector used, as on verbs (a second
		 * Connect is ND_CONNECTION_ACTIVE) */
		release_qp(c);
		c->state = TCP_CONN_DISCONNECTED;
		break;
	case TCP_CONN_ACCEPTING:
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
		finish(c, TCP_OV_ACCEPT, st);
		break;
	case TCP_CONN_CONNECTED:
		c->state = TCP_CONN_DISCONNECTED;
		if (!c->closing)
			nd_ov_finish_all(&c->base.obj, TCP_OV_NOTIFY_DISC,
					 ND_SUCCESS);
		break;
	default:
		break;
	}
}

/* --- connector ops -------------------------------------------------------- */

static nd_status conn_bind(struct nd_connector_base *b,
			   const struct sockaddr *addr, uint32_t len)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;
	int fd;

	tcp_lock(c->ad);
	if (c->state != TCP_CONN_IDLE) {
		st = ND_ADDRESS_ALREADY_ASSOCIATED;
		goto out;
	}
	fd = new_socket(addr->sa_family);
	if (fd < 0) {
		st = nd_util_errno_status(errno);
		goto out;
	}
	/* Port 0: the kernel picks the port at connect, for the 4-tuple,
	 * as it does for a connector never bound. Picking it now, at bind,
	 * searches for a port no socket holds, TIME_WAIT ones included:
	 * under connection churn that search cost more each time (4,800
	 * connections/s fell to 260 as TIME_WAIT grew to 20,000) and ends
	 * with the ports used up. */
	if (nd_util_sockaddr_port(addr) == 0) {
		int on = 1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
			   sizeof(on));
	}
	if (bind_exclusive(fd, addr, len) < 0) {
		st = nd_util_errno_status(errno);
		ND_INFO(TCP_LOG, "connector bind: %s", strerror(errno));
		close(fd);
		goto out;
	}
	c->local_len = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &c->local_len);
	c->bound_fd = fd;
	c->state = TCP_CONN_BOUND;
out:
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_connect(struct nd_connector_base *b,
			      struct nd_qp_base *qpb,
			      const struct sockaddr *dest, uint32_t dest_len,
			      uint32_t ird, uint32_t ord, const void *pdata,
			      uint32_t pdata_len, struct nd_overlapped *ov)
{
	struct tcp_connector *c = conn_of(b);
	struct tcp_qp *qp = container_of(qpb, struct tcp_qp, base);
	nd_status st = ND_PENDING;
	int fd;

	tcp_lock(c->ad);
	switch (c->state) {
	case TCP_CONN_IDLE:
	case TCP_CONN_BOUND:
	case TCP_CONN_CLOSED:
		break;
	case TCP_CONN_REQUEST:
		st = ND_CONNECTION_INVALID;
		goto out;
	default:
		/* a connection in progress or had, and not ended by the
		 * application: as on verbs, one answer whatever the peer's
		 * timing */
		st = c->app_disconnected ? ND_CONNECTION_INVALID
					 : ND_CONNECTION_ACTIVE;
		goto out;
	}
	if (qp->state != TCP_QP_IDLE || qp->conn) {
		st = qp->state == TCP_QP_ERROR ? ND_CONNECTION_INVALID
					       : ND_CONNECTION_ACTIVE;
		goto out;
	}
	if (c->bound_fd >= 0) {
		fd = c->bound_fd;
		if (c->local.ss_family != dest->sa_family) {
			st = ND_INVALID_ADDRESS;
			goto out;
		}
	} else {
		fd = new_socket(dest->sa_family);
		if (fd < 0) {
			st = nd_util_errno_status(errno);
			goto out;
		}
	}
	/* Only the handshake (the kernel's own limit, its SYN retries, is
	 * about two minutes); waiting for the peer's Accept has no limit. */
	set_connect_timeout(fd, c->ad->connect_ms);
	if (connect(fd, dest, dest_len) < 0 && errno != EINPROGRESS) {
		st = nd_util_connect_errno_status(errno);
		ND_INFO(TCP_LOG, "connect: %s", strerror(errno));
		close(fd);
		c->bound_fd = -1;
		c->state = TCP_CONN_CLOSED;
		goto out;
	}
	c->bound_fd = -1;
	/* the port is chosen now (see conn_bind) */
	c->local_len = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &c->local_len);
	memcpy(&c->peer, dest, dest_len);
	c->peer_len = dest_len;
	c->my_ird = ird;
	c->my_ord = ord;
	if (pdata_len)
		memcpy(c->out_pdata, pdata, pdata_len);
	c->out_pdata_len = pdata_len;
	c->have_peer_data = false;
	if (!tcp_qp_attach(qp, fd, TCP_QP_CONNECTING, dest)) {
		close(fd);
		c->state = TCP_CONN_CLOSED;
		st = ND_INSUFFICIENT_RESOURCES;
		goto out;
	}
	nd_object_retain(&qp->base.obj);
	c->qp = qp;
	qp->conn = c;
	c->state = TCP_CONN_CONNECTING;
	nd_ov_begin(&c->base.obj, ov, TCP_OV_CONNECT, NULL);
out:
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_complete_connect(struct nd_connector_base *b,
				       struct nd_overlapped *ov)
{
	struct tcp_connector *c = conn_of(b);
	struct tcp_qp *qp;
	nd_status st = ND_SUCCESS;

	(void)ov;
	tcp_lock(c->ad);
	qp = c->qp;
	if (c->state != TCP_CONN_REPLIED || !qp) {
		st = ND_CONNECTION_INVALID;
		goto out;
	}
	qp->ord = min32(c->my_ord, c->peer_ird);
	qp->ird = min32(c->my_ird, c->peer_ord);
	qp->read_limit = qp->ord ? qp->ord : 1;
	if (!tcp_send_ctrl(qp->pl.fd, TCP_F_RTU, 0, 0, NULL, 0)) {
		tcp_qp_detach(qp);
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
		st = ND_CONNECTION_ABORTED;
		goto out;
	}
	qp->state = TCP_QP_CONNECTED;
	qp->ever_connected = true;
	c->state = TCP_CONN_CONNECTED;
	tcp_qp_tx(qp);
out:
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_accept(struct nd_connector_base *b,
			     struct nd_qp_base *qpb, uint32_t ird, uint32_t ord,
			     const void *pdata, uint32_t pdata_len,
			     struct nd_overlapped *ov)
{
	struct tcp_connector *c = conn_of(b);
	struct tcp_qp *qp = container_of(qpb, struct tcp_qp, base);
	struct tcp_request *r;
	nd_status st = ND_PENDING;
	int fd;

	tcp_lock(c->ad);
	if (c->state != TCP_CONN_REQUEST) {
		st = c->state == TCP_CONN_ACCEPTING ||
			     c->state == TCP_CONN_CONNECTED
			 ? ND_CONNECTION_ACTIVE
			 : ND_CONNECTION_INVALID;
		goto out;
	}
	if (qp->state != TCP_QP_IDLE || qp->conn) {
		st = ND_CONNECTION_ACTIVE;
		goto out;
	}
	r = c->req;
	c->req = NULL;
	if (r->dead) {
		request_free(c->ad, r);
		c->state = TCP_CONN_CLOSED;
		st = ND_CONNECTION_ABORTED;
		goto out;
	}
	/* §16: never more than the peer asked for */
	ird = min32(ird, c->peer_ord);
	ord = min32(ord, c->peer_ird);
	tcp_poll_del(c->ad, &r->pl);
	fd = r->pl.fd;
	r->pl.fd = -1;
	request_free(c->ad, r);
	if (!tcp_send_ctrl(fd, TCP_F_ACCEPT, ird | (uint64_t)ord << 32, 0,
			   pdata, pdata_len)) {
		close(fd);
		c->state = TCP_CONN_CLOSED;
		st = ND_CONNECTION_ABORTED;
		goto out;
	}
	qp->ird = ird;
	qp->ord = ord;
	qp->read_limit = ord ? ord : 1;
	if (!tcp_qp_attach(qp, fd, TCP_QP_ACCEPTING,
			   (const struct sockaddr *)&c->peer)) {
		close(fd);
		c->state = TCP_CONN_CLOSED;
		st = ND_INSUFFICIENT_RESOURCES;
		goto out;
	}
	nd_object_retain(&qp->base.obj);
	c->qp = qp;
	qp->conn = c;
	c->state = TCP_CONN_ACCEPTING;
	nd_ov_begin(&c->base.obj, ov, TCP_OV_ACCEPT, NULL);
out:
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_reject(struct nd_connector_base *b, const void *pdata,
			     uint32_t len)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;

	tcp_lock(c->ad);
	if (c->state == TCP_CONN_REQUEST) {
		if (!c->req->dead)
			tcp_send_ctrl(c->req->pl.fd, TCP_F_REJECT, 0, 0, pdata,
				      len);
		request_free(c->ad, c->req);
		c->req = NULL;
		c->state = TCP_CONN_CLOSED;
	} else if (c->state == TCP_CONN_REPLIED && c->qp) {
		tcp_send_ctrl(c->qp->pl.fd, TCP_F_REJECT, 0, 0, pdata, len);
		tcp_qp_detach(c->qp);
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
	} else {
		st = ND_CONNECTION_INVALID;
	}
	tcp_unlock(c->ad);
	return st;
}

static bool have_peer(struct tcp_connector *c)
{
	switch (c->state) {
	case TCP_CONN_REPLIED:
	case TCP_CONN_REQUEST:
	case TCP_CONN_ACCEPTING:
	case TCP_CONN_CONNECTED:
	case TCP_CONN_DISCONNECTED:
		return true;
	default:
		return false;
	}
}

static nd_status conn_get_read_limits(struct nd_connector_base *b, uint32_t *in,
				      uint32_t *out)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;

	tcp_lock(c->ad);
	if (have_peer(c)) {
		*in = c->peer_ord;
		*out = c->peer_ird;
	} else {
		st = ND_CONNECTION_INVALID;
	}
	tcp_unlock(c->ad);
	return st;
}

/* All of it into the core's buffer: the core does ND's size protocol. */
static nd_status conn_get_private_data(struct nd_connector_base *b, void *buf,
				       uint32_t *len)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;

	_Static_assert(sizeof(c->pdata) <= ND_MAX_PRIVATE_DATA,
		       "the peer's data must fit the core's buffer");
	tcp_lock(c->ad);
	if (!c->have_peer_data) {
		st = ND_CONNECTION_INVALID;
	} else {
		memcpy(buf, c->pdata, c->pdata_len);
		*len = c->pdata_len;
	}
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_get_local_address(struct nd_connector_base *b,
					struct sockaddr_storage *addr,
					uint32_t *len)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;

	tcp_lock(c->ad);
	switch (c->state) {
	case TCP_CONN_CONNECTING:
	case TCP_CONN_REPLIED:
	case TCP_CONN_REQUEST:
	case TCP_CONN_ACCEPTING:
	case TCP_CONN_CONNECTED:
		memcpy(addr, &c->local, sizeof(*addr));
		*len = c->local_len;
		break;
	default:
		st = ND_CONNECTION_INVALID;
	}
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_get_peer_address(struct nd_connector_base *b,
				       struct sockaddr_storage *addr,
				       uint32_t *len)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;

	tcp_lock(c->ad);
	if (have_peer(c) && c->state != TCP_CONN_DISCONNECTED) {
		memcpy(addr, &c->peer, sizeof(*addr));
		*len = c->peer_len;
	} else {
		st = ND_CONNECTION_INVALID;
	}
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_notify_disconnect(struct nd_connector_base *b,
					struct nd_overlapped *ov)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st;

	tcp_lock(c->ad);
	if (c->state == TCP_CONN_CONNECTED) {
		nd_ov_begin(&c->base.obj, ov, TCP_OV_NOTIFY_DISC, NULL);
		st = ND_PENDING;
	} else if (c->state == TCP_CONN_DISCONNECTED) {
		st = ND_SUCCESS;
	} else {
		st = ND_CONNECTION_INVALID;
	}
	tcp_unlock(c->ad);
	return st;
}

static nd_status conn_disconnect(struct nd_connector_base *b,
				 struct nd_overlapped *ov)
{
	struct tcp_connector *c = conn_of(b);
	nd_status st = ND_SUCCESS;

	(void)ov;
	tcp_lock(c->ad);
	if (c->state == TCP_CONN_CONNECTED || c->state == TCP_CONN_DISCONNECTED)
		c->app_disconnected = true;
	if (c->state == TCP_CONN_CONNECTED && c->qp) {
		c->qp->disconnected = true; /* later posts: not connected */
		tcp_qp_disconnect(c->qp);
	} else if (c->state != TCP_CONN_DISCONNECTED)
		st = ND_CONNECTION_INVALID;
	c->state = st == ND_SUCCESS ? TCP_CONN_DISCONNECTED : c->state;
	tcp_unlock(c->ad);
	return st;
}

/* Abandons whatever is in progress; completions are left to the core. */
static void conn_abandon(struct tcp_connector *c)
{
	switch (c->state) {
	case TCP_CONN_REQUEST:
		request_free(c->ad, c->req);
		c->req = NULL;
		c->state = TCP_CONN_CLOSED;
		break;
	case TCP_CONN_CONNECTING:
	case TCP_CONN_REPLIED:
	case TCP_CONN_ACCEPTING:
		if (c->qp)
			tcp_qp_detach(c->qp);
		release_qp(c);
		c->state = TCP_CONN_CLOSED;
		break;
	default:
		break;
	}
}

static void conn_close(struct nd_object *obj)
{
	struct tcp_connector *c =
	    container_of(obj, struct tcp_connector, base.obj);

	tcp_lock(c->ad);
	c->closing = true;
	conn_abandon(c);
	if (c->state == TCP_CONN_CONNECTED && c->qp) {
		c->qp->disconnected = true; /* later posts: not connected */
		tcp_qp_disconnect(c->qp);
	}
	release_qp(c);
	if (c->bound_fd >= 0) {
		close(c->bound_fd);
		c->bound_fd = -1;
	}
	tcp_unlock(c->ad);
}

static void conn_cancel(struct nd_object *obj)
{
	struct tcp_connector *c =
	    container_of(obj, struct tcp_connector, base.obj);

	tcp_lock(c->ad);
	if (c->state == TCP_CONN_CONNECTING || c->state == TCP_CONN_ACCEPTING) {
		c->closing = true;
		conn_abandon(c);
		c->closing = false;
	}
	tcp_unlock(c->ad);
}

static void conn_destroy(struct nd_object *obj)
{
	struct tcp_connector *c =
	    container_of(obj, struct tcp_connector, base.obj);

	tcp_lock(c->ad);
	if (c->req)
		request_free(c->ad, c->req);
	if (c->qp && c->qp->conn == c)
		c->qp->conn = NULL;
	if (c->bound_fd >= 0)
		close(c->bound_fd);
	struct tcp_qp *qp = c->qp;
	tcp_unlock(c->ad);
	if (qp)
		nd_object_put(&qp->base.obj);
	free(c);
}

static const struct nd_connector_ops conn_ops = {
    .bind = conn_bind,
    .connect = conn_connect,
    .complete_connect = conn_complete_connect,
    .accept = conn_accept,
    .reject = conn_reject,
    .get_read_limits = conn_get_read_limits,
    .get_private_data = conn_get_private_data,
    .get_local_address = conn_get_local_address,
    .get_peer_address = conn_get_peer_address,
    .notify_disconnect = conn_notify_disconnect,
    .disconnect = conn_disconnect,
};
static const struct nd_object_ops conn_obj_ops = {
    .close = conn_close,
    .cancel = conn_cancel,
    .destroy = conn_destroy,
};

nd_status tcp_create_connector(struct nd_adapter_base *a,
			       struct nd_connector **out)
{
	struct tcp_connector *c = calloc(1, sizeof(*c));

	if (!c)
		return ND_NO_MEMORY;
	c->ad = tcp_adapter_of(a);
	c->bound_fd = -1;
	nd_connector_base_init(&c->base, &conn_obj_ops, &conn_ops, a);
	*out = &c->base.pub;
	return ND_SUCCESS;
}

/* --- listener ------------------------------------------------------------- */

static struct tcp_listener *lis_of(struct nd_listener_base *b)
{
	return container_of(b, struct tcp_listener, base);
}

/* r is off the listener's lists. */
static void give_request(struct tcp_connector *c, struct tcp_request *r)
{
	c->req = r;
	r->listener = NULL;
	c->state = TCP_CONN_REQUEST;
	memcpy(&c->peer, &r->peer, sizeof(c->peer));
	c->peer_len = r->peer_len;
	memcpy(c->pdata, r->pdata, r->pdata_len);
	c->pdata_len = r->pdata_len;
	c->have_peer_data = true;
	c->peer_ird = min32(r->ird, TCP_MAX_READ_LIMIT);
	c->peer_ord = min32(r->ord, TCP_MAX_READ_LIMIT);
	c->local_len = sizeof(c->local);
	getsockname(r->pl.fd, (struct sockaddr *)&c->local, &c->local_len);
}

static void request_list_push(struct tcp_request_list *q, struct tcp_request *r)
{
	r->next = NULL;
	r->prev = q->tail;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->count++;
}

static void request_list_unlink(struct tcp_request_list *q,
				struct tcp_request *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		q->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		q->tail = r->prev;
	r->next = r->prev = NULL;
	q->count--;
}

static void incoming_push(struct tcp_listener *l, struct tcp_request *r)
{
	request_list_push(&l->incoming, r);
	__atomic_add_fetch(&l->ad->incoming, 1, __ATOMIC_RELAXED);
}

/* Off the listener's lists (see tcp_request.listener). */
static void request_unlink(struct tcp_request *r)
{
	struct tcp_listener *l = r->listener;

	if (!l)
		return;
	if (r->complete) {
		request_list_unlink(&l->backlog, r);
	} else {
		request_list_unlink(&l->incoming, r);
		__atomic_sub_fetch(&l->ad->incoming, 1, __ATOMIC_RELAXED);
	}
}

static void request_drop(struct tcp_request *r)
{
	request_unlink(r);
	request_free(r->ad, r);
}

/*
 * A complete request: to the oldest waiting connector, else the backlog,
 * and refused (REJECT, close) when the backlog is full, as a device's CM
 * refuses beyond Listen's backlog.
 */
static void deliver(struct tcp_listener *l, struct tcp_request *r)
{
	struct nd_overlapped *ov;
	void *arg;

	while ((ov = nd_ov_claim(&l->base.obj, 0, &arg))) {
		struct tcp_connector *c = arg;

		if (c->state == TCP_CONN_IDLE &&
		    !__atomic_load_n(&c->base.obj.closed, __ATOMIC_ACQUIRE)) {
			give_request(c, r);
			nd_ov_complete(&l->base.obj, ov, ND_SUCCESS);
			nd_util_puts_add(&l->ad->puts, &c->base.obj);
			return;
		}
		nd_ov_complete(&l->base.obj, ov, ND_CANCELED);
		nd_util_puts_add(&l->ad->puts, &c->base.obj);
	}
	if (l->backlog.count >= l->backlog_max) {
		ND_LOG_RATELIMITED(ND_LOG_INFO, TCP_LOG,
				   "backlog of %u requests full: refusing one",
				   l->backlog_max);
		tcp_send_ctrl(r->pl.fd, TCP_F_REJECT, 0, 0, NULL, 0);
		request_free(l->ad, r);
		return;
	}
	request_list_push(&l->backlog, r);
}

void tcp_request_event(struct tcp_request *r, uint32_t events)
{
	struct tcp_listener *l = r->listener;

	(void)events;
	if (r->complete) {
		/* Nothing may follow the request before ACCEPT: the peer hung
		 * up or broke the protocol. Not yet taken, it never reaches
		 * the application; taken, Accept and Reject see it dead. */
		if (l) {
			request_drop(r);
			return;
		}
		r->dead = true;
		tcp_poll_del(r->ad, &r->pl);
		close(r->pl.fd);
		r->pl.fd = -1;
		return;
	}
	for (;;) {
		uint32_t want;
		ssize_t n;
		char *dst;

		if (r->got < sizeof(r->hdr)) {
			dst = (char *)&r->hdr + r->got;
			want = sizeof(r->hdr) - r->got;
		} else {
			uint32_t p = r->got - (uint32_t)sizeof(r->hdr);
			dst = (char *)r->pdata + p;
			want = r->hdr.len - p;
		}
		n = want ? recv(r->pl.fd, dst, want, MSG_DONTWAIT) : 0;
		if (want && n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			request_drop(r);
			return;
		}
		r->got += (uint32_t)n;
		if (r->got == sizeof(r->hdr)) {
			if (tcp_wire_check(&r->hdr, TCP_WS_REQUEST,
					   &tcp_limits) < 0) {
				ND_LOG_RATELIMITED(ND_LOG_WARN, TCP_LOG,
						   "bad connection request");
				request_drop(r);
				return;
			}
		}
		if (r->got >= sizeof(r->hdr) &&
		    r->got == sizeof(r->hdr) + r->hdr.len)
			break;
	}
	request_unlink(r);
	r->complete = true;
	r->pdata_len = r->hdr.len;
	r->ird = (uint32_t)r->hdr.addr;
	r->ord = (uint32_t)(r->hdr.addr >> 32);
	deliver(l, r);
}

/*
 * Connections still to send their CONNECT frame: those waiting longer than
 * the adapter's connect_ms are closed, and the oldest beyond
 * TCP_MAX_INCOMING. Checked at every accept and every timer tick, so a
 * flood of silent or slow connections holds at most that many descriptors,
 * each for a bounded time.
 */
static void expire_incoming(struct tcp_listener *l, uint64_t now)
{
	struct tcp_request *r;

	while ((r = l->incoming.head) &&
	       (l->incoming.count > TCP_MAX_INCOMING ||
		now - r->since_ms >= l->ad->connect_ms)) {
		ND_LOG_RATELIMITED(ND_LOG_INFO, TCP_LOG,
				   "closing a connection whose CONNECT did not "
				   "come in time");
		request_drop(r);
	}
}

/* Whether accept() failed on the new connection alone (it is gone; Linux
 * passes its network errors on), not for want of resources. */
static bool accept_error_is_the_peers(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

/* Stops watching the listening socket until the timer resumes it, rather
 * than failing again at every wake-up. */
static void listener_back_off(struct tcp_listener *l, uint64_t now)
{
	tcp_poll_mod(l->ad, &l->pl, 0);
	if (!l->resume_ms)
		__atomic_add_fetch(&l->ad->timers, 1, __ATOMIC_RELAXED);
	l->resume_ms = now + TCP_ACCEPT_PAUSE_MS;
}

static void listener_resume(struct tcp_listener *l)
{
	if (!l->resume_ms)
		return;
	l->resume_ms = 0;
	__atomic_sub_fetch(&l->ad->timers, 1, __ATOMIC_RELAXED);
	if (l->pl.fd >= 0)
		tcp_poll_mod(l->ad, &l->pl, EPOLLIN);
}

void tcp_listener_timer(struct tcp_listener *l, uint64_t now)
{
	if (l->resume_ms && now >= l->resume_ms)
		listener_resume(l);
	expire_incoming(l, now);
}

void tcp_listener_event(struct tcp_listener *l, uint32_t events)
{
	uint64_t now = nd_util_now_ms();

	(void)events;
	if (l->resume_ms)
		return;
	for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int one = 1;
		int fd = accept4(l->pl.fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (accept_error_is_the_peers(errno))
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			ND_LOG_RATELIMITED(
			    ND_LOG_WARN, TCP_LOG,
			    "accept: %s; not accepting for %d ms",
			    strerror(errno), TCP_ACCEPT_PAUSE_MS);
			listener_back_off(l, now);
			return;
		}
		if (tcp_peer_refused(l->ad, (struct sockaddr *)&ss, now)) {
			/* Turned away at once, before reading anything: no
			 * request, no descriptor kept, no REJECT (that would
			 * wait for the CONNECT). Closed with a reset, so no
			 * TIME_WAIT is left here per attempt; the peer's
			 * Connect completes ND_CONNECTION_REFUSED. */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct tcp_request *r = calloc(1, sizeof(*r));
		if (!r) {
			close(fd);
			listener_back_off(l, now);
			return;
		}
		r->pl.kind = TCP_POLL_REQUEST;
		r->pl.fd = fd;
		r->pl.slot = UINT32_MAX;
		r->listener = l;
		r->ad = l->ad;
		memcpy(&r->peer, &ss, sizeof(ss));
		r->peer_len = sl;
		r->since_ms = now;
		if (!tcp_poll_add(l->ad, &r->pl, EPOLLIN)) {
			close(fd);
			free(r);
			listener_back_off(l, now);
			return;
		}
		incoming_push(l, r);
		expire_incoming(l, now);
	}
}

static nd_status lis_bind(struct nd_listener_base *b,
			  const struct sockaddr *addr, uint32_t len)
{
	struct tcp_listener *l = lis_of(b);
	nd_status st = ND_SUCCESS;
	int fd;

	tcp_lock(l->ad);
	if (l->bound) {
		st = ND_ADDRESS_ALREADY_ASSOCIATED;
		goto out;
	}
	fd = new_socket(addr->sa_family);
	if (fd < 0) {
		st = nd_util_errno_status(errno);
		goto out;
	}
	if (bind_exclusive(fd, addr, len) < 0) {
		st = nd_util_errno_status(errno);
		ND_INFO(TCP_LOG, "listener bind: %s", strerror(errno));
		close(fd);
		goto out;
	}
	l->pl.fd = fd;
	l->bound = true;
out:
	tcp_unlock(l->ad);
	return st;
}

static nd_status lis_listen(struct nd_listener_base *b, uint32_t backlog)
{
	struct tcp_listener *l = lis_of(b);
	nd_status st = ND_SUCCESS;
	int one = 1;

	tcp_lock(l->ad);
	if (!l->bound || l->listening) {
		st = ND_INVALID_DEVICE_STATE;
		goto out;
	}
	/* The kernel's queue holds connections only until the progress
	 * thread accepts them; ND's backlog bounds the requests. Listening
	 * passes over TIME_WAIT only with SO_REUSEADDR (bind_exclusive). */
	setsockopt(l->pl.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listen(l->pl.fd, SOMAXCONN) < 0) {
		st = nd_util_errno_status(errno);
		goto out;
	}
	l->backlog_max = !backlog		     ? TCP_DEFAULT_BACKLOG
			 : backlog < TCP_MAX_BACKLOG ? backlog
						     : TCP_MAX_BACKLOG;
	if (!tcp_poll_add(l->ad, &l->pl, EPOLLIN)) {
		st = ND_INSUFFICIENT_RESOURCES;
		goto out;
	}
	l->listening = true;
	l->ad_next = l->ad->listeners;
	l->ad->listeners = l;
out:
	tcp_unlock(l->ad);
	return st;
}

static nd_status lis_get_local_address(struct nd_listener_base *b,
				       struct sockaddr_storage *addr,
				       uint32_t *len)
{
	struct tcp_listener *l = lis_of(b);
	nd_status st = ND_SUCCESS;
	socklen_t sl = sizeof(*addr);

	tcp_lock(l->ad);
	if (!l->listening)
		st = ND_INVALID_DEVICE_STATE;
	else if (getsockname(l->pl.fd, (struct sockaddr *)addr, &sl) < 0)
		st = ND_UNSUCCESSFUL;
	else
		*len = sl;
	tcp_unlock(l->ad);
	return st;
}

static nd_status lis_get_connection_request(struct nd_listener_base *b,
					    struct nd_connector_base *cb,
					    struct nd_overlapped *ov)
{
	struct tcp_listener *l = lis_of(b);
	struct tcp_connector *c = conn_of(cb);
	nd_status st = ND_PENDING;

	tcp_lock(l->ad);
	if (!l->listening) {
		st = ND_INVALID_DEVICE_STATE;
	} else if (c->state != TCP_CONN_IDLE) {
		st = ND_CONNECTION_ACTIVE;
	} else if (l->backlog.head) {
		struct tcp_request *r = l->backlog.head;
		request_unlink(r);
		give_request(c, r);
		st = ND_SUCCESS;
	} else {
		nd_object_retain(&c->base.obj);
		nd_ov_begin(&l->base.obj, ov, 0, c);
	}
	tcp_unlock(l->ad);
	return st;
}

static void lis_cancel(struct nd_object *obj)
{
	struct tcp_listener *l =
	    container_of(obj, struct tcp_listener, base.obj);
	struct nd_overlapped *ov;
	void *arg;

	tcp_lock(l->ad);
	while ((ov = nd_ov_claim(&l->base.obj, ND_OV_ANY_KIND, &arg))) {
		nd_ov_complete(&l->base.obj, ov, ND_CANCELED);
		nd_util_puts_add(&l->ad->puts,
				 &((struct tcp_connector *)arg)->base.obj);
	}
	tcp_unlock(l->ad);
}

static void lis_close(struct nd_object *obj)
{
	struct tcp_listener *l =
	    container_of(obj, struct tcp_listener, base.obj);
	struct tcp_request *r;

	tcp_lock(l->ad);
	if (l->pl.fd >= 0) {
		tcp_poll_del(l->ad, &l->pl);
		close(l->pl.fd);
		l->pl.fd = -1;
	}
	if (l->listening) {
		struct tcp_listener **pp = &l->ad->listeners;
		while (*pp != l)
			pp = &(*pp)->ad_next;
		*pp = l->ad_next;
		listener_resume(l); /* disarms its timer */
	}
	while ((r = l->incoming.head))
		request_drop(r);
	while ((r = l->backlog.head))
		request_drop(r);
	l->listening = false;
	tcp_unlock(l->ad);
	lis_cancel(obj);
}

static void lis_destroy(struct nd_object *obj)
{
	struct tcp_listener *l =
	    container_of(obj, struct tcp_listener, base.obj);

	if (l->pl.fd >= 0) /* bound, never listened nor closed */
		close(l->pl.fd);
	free(l);
}

static const struct nd_listener_ops lis_ops = {
    .bind = lis_bind,
    .listen = lis_listen,
    .get_local_address = lis_get_local_address,
    .get_connection_request = lis_get_connection_request,
};
static const struct nd_object_ops lis_obj_ops = {
    .close = lis_close,
    .cancel = lis_cancel,
    .destroy = lis_destroy,
};

nd_status tcp_create_listener(struct nd_adapter_base *a,
			      struct nd_listener **out)
{
	struct tcp_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return ND_NO_MEMORY;
	l->ad = tcp_adapter_of(a);
	l->pl.kind = TCP_POLL_LISTENER;
	l->pl.fd = -1;
	l->pl.slot = UINT32_MAX;
	nd_listener_base_init(&l->base, &lis_obj_ops, &lis_ops, a);
	*out = &l->base.pub;
	return ND_SUCCESS;
}
