/* SPDX-License-Identifier: MIT */
/*
 * Connectors and listeners on librdmacm, with QPs the provider creates.
 *
 * Active: rdma_resolve_addr -> rdma_resolve_route -> rdma_connect(qp_num),
 * no QP on the cm_id, so IB/RoCE report CONNECT_RESPONSE: Connect completes
 * with the peer's private data and read limits visible; CompleteConnect
 * moves the QP to RTR/RTS and calls rdma_establish. iWARP's MPA exchange
 * reports ESTABLISHED instead (the kernel moved the QP to RTS), so there
 * CompleteConnect only opens the QP to posts.
 * Passive: CONNECT_REQUEST completes a GetConnectionRequest (or waits in
 * the listener's backlog); Accept programs the QP (IB/RoCE) and calls
 * rdma_accept; ESTABLISHED completes the Accept.
 *
 * All state is under a->cm_lock; events are handled on the progress thread.
 * cm_ids are destroyed only by the progress thread (verbs_doom_id), so no
 * thread ever waits in rdma_destroy_id for an event it holds itself.
 */
#include "verbs.h"

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define VERBS_RESOLVE_MS    2000
/* rnr_retry asked of the peer: finite (a send with no receive fails with
 * ND_IO_TIMEOUT), infinite for QPs on an SRQ (hardware flow control). */
#define VERBS_RNR_RETRY	    6
#define VERBS_RNR_RETRY_SRQ 7
/* Transport retries asked of the peer: 6, not the IB maximum of 7, which
 * rxe takes for "retry forever" (rxe_comp.c), so a dead link never ended a
 * request. With VERBS_ACK_TIMEOUT: about 3.8 s. */
#define VERBS_RETRY	    6
/* How long a Connect may wait for rdma_connect on a transport where it
 * blocks (connect_blocks), and an Accept for the peer's CompleteConnect,
 * before it completes ND_IO_TIMEOUT: the tcp provider's handshake bound.
 * (The IB CM itself waits for a missing RTU through all its REP retries,
 * still pending after 30 s on rxe0.) */
#define VERBS_CONNECT_MS    10000

/*
 * One rdma_connect running on a worker thread (connect_blocks). The worker
 * holds a reference on the connector (which holds the adapter) and on the
 * QP the kernel was given, so nothing it uses goes away under it. While it
 * is inside rdma_connect the cm_id belongs to the attempt: a connector that
 * gives up (cancel, release, deadline) only lets go of it, and the worker
 * dooms it once the call has returned. Under cm_lock except id and cp,
 * which only the worker uses once it runs.
 */
struct verbs_attempt {
	struct verbs_attempt *next; /* a->attempts */
	struct verbs_conn *c;	    /* referenced */
	struct verbs_qp *qp;	    /* referenced */
	struct rdma_cm_id *id;
	struct rdma_conn_param cp;
	uint8_t pdata[VERBS_PDATA_MAX];
	uint64_t deadline; /* ms, CLOCK_MONOTONIC */
	bool abandoned;	   /* the connector let go: doom the id */
};

static uint32_t umin(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint64_t verbs_id_guid(struct rdma_cm_id *id)
{
	return id && id->verbs ? be64toh(ibv_get_device_guid(id->verbs->device))
			       : 0;
}

static struct verbs_conn *conn_of(struct nd_connector_base *b)
{
	return container_of(b, struct verbs_conn, base);
}

static struct verbs_listener *listener_of(struct nd_listener_base *b)
{
	return container_of(b, struct verbs_listener, base);
}

static int verbs_new_id(struct verbs_adapter *a, struct rdma_cm_id **id,
			void *ctx)
{
	if (rdma_create_id(a->cm_ch, id, ctx, RDMA_PS_TCP)) {
		int err = errno;
		ND_ERR(VERBS_LOG, "rdma_create_id: %s", strerror(err));
		return err;
	}
	return 0;
}

/*
 * The connector lets go of its cm_id: the one place that decides when the id
 * is destroyed. While a connect worker is inside rdma_connect on it,
 * destroying it would wait for that call to return (the kernel waits for
 * the id's references), up to the kernel's SYN retries, on the progress
 * thread: the attempt keeps the id (its events ignored meanwhile) and the
 * worker dooms it once the call has returned. cm_lock held.
 */
static void conn_drop_id(struct verbs_conn *c)
{
	if (c->attempt) {
		c->attempt->abandoned = true;
		c->attempt = NULL;
		if (c->id)
			c->id->context = NULL;
	} else {
		verbs_doom_id(c->ad, c->id);
	}
	c->id = NULL;
}

/* ---------------------------------------------------------------------------
 * QP link
 */

static void conn_link_qp(struct verbs_conn *c, struct verbs_qp *qp)
{
	nd_object_retain(&qp->base.obj);
	c->qp = qp;
	qp->conn = c;
	qp->state = VQP_LINKED;
}

/* Drops the connector's QP; a QP that never reached RTR stays usable. */
static void conn_unlink_qp(struct verbs_conn *c, struct nd_util_puts *p)
{
	struct verbs_qp *qp = c->qp;

	if (!qp)
		return;
	if (qp->state == VQP_LINKED) {
		if (c->ad->tp->cm_moves_qp && c->iw_established) {
			verbs_qp_to_error(qp);
			qp->state = VQP_FLUSHED;
		} else {
			qp->state = VQP_INIT;
		}
	}
	qp->conn = NULL;
	c->qp = NULL;
	if (c->held)
		nd_util_puts_add(p, &c->held->base.obj);
	c->held = qp;
}

/* After RTR/RTS the QP belongs to this connection: on failure, flush it
 * so a later connection starts over from RESET. */
static void conn_kill_qp(struct verbs_conn *c, struct nd_util_puts *p)
{
	if (c->qp) {
		verbs_qp_to_error(c->qp);
		c->qp->state = VQP_FLUSHED;
	}
	conn_unlink_qp(c, p);
}

static void conn_param_init(struct verbs_conn *c, struct rdma_conn_param *cp,
			    uint32_t in, uint32_t out)
{
	memset(cp, 0, sizeof(*cp));
	cp->private_data = c->my_plen ? c->my_pdata : NULL;
	cp->private_data_len = (uint8_t)c->my_plen;
	cp->responder_resources = (uint8_t)in;
	cp->initiator_depth = (uint8_t)out;
	cp->flow_control = 1;
	cp->retry_count = VERBS_RETRY;
	cp->rnr_retry_count =
	    c->qp && c->qp->srq ? VERBS_RNR_RETRY_SRQ : VERBS_RNR_RETRY;
	cp->srq = c->qp && c->qp->srq;
	cp->qp_num = c->qp ? c->qp->qp->qp_num : 0;
}

/* The peer's offer from an event, seen from this side: the CM reports
 * responder_resources = the peer's initiator depth (our inbound). */
static void conn_take_event_data(struct verbs_conn *c,
				 const struct rdma_cm_event *ev)
{
	const struct rdma_conn_param *cp = &ev->param.conn;
	uint32_t len = cp->private_data_len;

	if (len > VERBS_PDATA_MAX)
		len = VERBS_PDATA_MAX;
	if (len && cp->private_data)
		memcpy(c->peer_pdata, cp->private_data, len);
	else
		len = 0;
	c->peer_plen = len;
	c->has_peer_data = true;
	if (ev->event == RDMA_CM_EVENT_ESTABLISHED && c->active) {
		/* iWARP's reply reports this side's negotiated ORD/IRD */
		c->peer_out = cp->initiator_depth;
		c->peer_in = cp->responder_resources;
	} else {
		c->peer_out = cp->responder_resources;
		c->peer_in = cp->initiator_depth;
	}
}

/* ---------------------------------------------------------------------------
 * Connector calls
 */

static nd_status verbs_conn_bind(struct nd_connector_base *b,
				 const struct sockaddr *addr, uint32_t len)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_SUCCESS;
	int err;

	(void)len;
	pthread_mutex_lock(&a->cm_lock);
	if (c->state != VC_IDLE) {
		st = ND_ADDRESS_ALREADY_ASSOCIATED;
		goto out;
	}
	if (!c->id && (err = verbs_new_id(a, &c->id, c))) {
		st = nd_util_errno_status(err);
		goto out;
	}
	if (rdma_bind_addr(c->id, (struct sockaddr *)addr)) {
		err = errno;
		st = err == ENODEV ? ND_INVALID_ADDRESS
				   : nd_util_errno_status(err);
		ND_INFO(VERBS_LOG, "connector bind: %s", strerror(err));
		verbs_doom_id(a, c->id);
		c->id = NULL;
		goto out;
	}
	if (c->id->verbs && verbs_id_guid(c->id) != a->guid) {
		verbs_doom_id(a, c->id);
		c->id = NULL;
		st = ND_INVALID_ADDRESS;
		goto out;
	}
	c->state = VC_BOUND;
out:
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_conn_connect(struct nd_connector_base *b,
				    struct nd_qp_base *qpb,
				    const struct sockaddr *dest,
				    uint32_t dest_len, uint32_t in,
				    uint32_t out, const void *pdata,
				    uint32_t plen, struct nd_overlapped *ov)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	struct verbs_qp *qp = container_of(qpb, struct verbs_qp, base);
	nd_status st = ND_PENDING;
	int err;

	(void)dest_len;
	pthread_mutex_lock(&a->cm_lock);
	switch (c->state) {
	case VC_IDLE:
	case VC_BOUND:
		break;
	case VC_FAILED:
		/* A failed attempt left nothing behind: start over. */
		conn_drop_id(c);
		c->has_peer_data = false;
		c->iw_established = false;
		c->state = VC_IDLE;
		break;
	case VC_CLOSED:
		st = ND_CONNECTION_INVALID;
		goto out;
	default:
		/* A connection in progress or had, and not ended by the
		 * application: one answer whether or not the peer's
		 * disconnect has arrived yet (a new connection needs a new
		 * connector). */
		st = c->app_disconnected ? ND_CONNECTION_INVALID
					 : ND_CONNECTION_ACTIVE;
		goto out;
	}
	if (qp->conn || qp->state == VQP_CONNECTED) {
		st = ND_CONNECTION_ACTIVE;
		goto out;
	}
	if (qp->state == VQP_DEAD) {
		st = ND_CONNECTION_INVALID;
		goto out;
	}
	if (!c->id && (err = verbs_new_id(a, &c->id, c))) {
		st = nd_util_errno_status(err);
		goto out;
	}
	if (rdma_resolve_addr(c->id, NULL, (struct sockaddr *)dest,
			      VERBS_RESOLVE_MS)) {
		err = errno;
		ND_INFO(VERBS_LOG, "rdma_resolve_addr: %s", strerror(err));
		st = err == EINVAL ? ND_INVALID_ADDRESS
				   : nd_util_errno_status(err);
		goto out;
	}
	c->in_limit = in;
	c->out_limit = out;
	c->my_plen = plen;
	if (plen)
		memcpy(c->my_pdata, pdata, plen);
	c->active = true;
	conn_link_qp(c, qp);
	c->state = VC_RESOLVING;
	nd_ov_begin(&c->base.obj, ov, VK_CONNECT, NULL);
out:
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_conn_complete_connect(struct nd_connector_base *b,
					     struct nd_overlapped *ov)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	struct nd_util_puts p = {0};
	nd_status st = ND_SUCCESS;
	int err;

	(void)ov;
	pthread_mutex_lock(&a->cm_lock);
	if (c->state != VC_REPLIED || !c->qp) {
		st = ND_CONNECTION_INVALID;
		goto out;
	}
	if (!a->tp->cm_moves_qp) {
		err = verbs_qp_prepare(c->qp, c->id);
		if (!err)
			err = verbs_qp_rtr_rts(c->qp, c->id,
					       umin(c->in_limit, c->peer_out),
					       umin(c->out_limit, c->peer_in));
		if (!err && rdma_establish(c->id))
			err = errno;
		if (err) {
			ND_ERR(VERBS_LOG, "complete connect: %s",
			       strerror(err));
			rdma_reject(c->id, NULL, 0);
			conn_kill_qp(c, &p);
			c->state = VC_FAILED;
			st = ND_UNSUCCESSFUL;
			goto out;
		}
	}
	c->state = VC_CONNECTED;
	c->qp->state = VQP_CONNECTED;
	__atomic_store_n(&c->qp->connected, 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
	return st;
}

/* Puts an Accept under the deadline the progress thread enforces
 * (verbs_cm_expire), waking it if it had none to wait for. cm_lock held. */
static void accept_list(struct verbs_conn *c)
{
	struct verbs_adapter *a = c->ad;
	bool was_empty = !a->accepting;

	c->accept_due = nd_util_now_ms() + VERBS_CONNECT_MS;
	c->accept_next = a->accepting;
	a->accepting = c;
	if (was_empty)
		nd_util_wake(a->wakefd);
}

/* cm_lock held. */
static void accept_unlist(struct verbs_conn *c)
{
	if (!c->accept_due)
		return;
	for (struct verbs_conn **pp = &c->ad->accepting; *pp;
	     pp = &(*pp)->accept_next) {
		if (*pp == c) {
			*pp = c->accept_next;
			break;
		}
	}
	c->accept_next = NULL;
	c->accept_due = 0;
}

static nd_status verbs_conn_accept(struct nd_connector_base *b,
				   struct nd_qp_base *qpb, uint32_t in,
				   uint32_t out, const void *pdata,
				   uint32_t plen, struct nd_overlapped *ov)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	struct verbs_qp *qp = container_of(qpb, struct verbs_qp, base);
	struct nd_util_puts p = {0};
	struct rdma_conn_param cp;
	nd_status st = ND_PENDING;
	int err;

	pthread_mutex_lock(&a->cm_lock);
	if (c->state != VC_REQUEST) {
		st = c->state == VC_ACCEPTING || c->state == VC_CONNECTED
			 ? ND_CONNECTION_ACTIVE
			 : ND_CONNECTION_INVALID;
		goto out;
	}
	if (qp->conn || qp->state == VQP_CONNECTED) {
		st = ND_CONNECTION_ACTIVE;
		goto out;
	}
	if (qp->state == VQP_DEAD) {
		st = ND_CONNECTION_INVALID;
		goto out;
	}
	/* Clamp to what the connecting peer offered. */
	in = umin(in, c->peer_out);
	out = umin(out, c->peer_in);
	c->in_limit = in;
	c->out_limit = out;
	c->my_plen = plen;
	if (plen)
		memcpy(c->my_pdata, pdata, plen);
	conn_link_qp(c, qp);
	err = verbs_qp_prepare(qp, c->id);
	if (!err && !a->tp->cm_moves_qp)
		err = verbs_qp_rtr_rts(qp, c->id, in, out);
	if (err) {
		ND_ERR(VERBS_LOG, "accept: QP: %s", strerror(err));
		conn_kill_qp(c, &p);
		st = ND_UNSUCCESSFUL;
		goto out;
	}
	conn_param_init(c, &cp, in, out);
	if (rdma_accept(c->id, &cp)) {
		err = errno;
		ND_ERR(VERBS_LOG, "rdma_accept: %s", strerror(err));
		conn_kill_qp(c, &p);
		c->state = VC_FAILED;
		st = nd_util_errno_status(err);
		goto out;
	}
	c->state = VC_ACCEPTING;
	nd_ov_begin(&c->base.obj, ov, VK_ACCEPT, NULL);
	accept_list(c);
out:
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
	return st;
}

static nd_status verbs_conn_reject(struct nd_connector_base *b,
				   const void *pdata, uint32_t plen)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	struct nd_util_puts p = {0};
	nd_status st = ND_SUCCESS;

	pthread_mutex_lock(&a->cm_lock);
	if (c->state == VC_REQUEST) {
		if (rdma_reject(c->id, pdata, (uint8_t)plen))
			ND_WARN(VERBS_LOG, "rdma_reject: %s", strerror(errno));
		c->state = VC_FAILED;
	} else if (c->state == VC_REPLIED) {
		if (c->iw_established) {
			rdma_disconnect(c->id);
			conn_kill_qp(c, &p);
		} else {
			if (rdma_reject(c->id, pdata, (uint8_t)plen))
				ND_WARN(VERBS_LOG, "rdma_reject: %s",
					strerror(errno));
			conn_unlink_qp(c, &p);
		}
		c->state = VC_FAILED;
	} else {
		st = ND_CONNECTION_INVALID;
	}
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
	return st;
}

static bool conn_has_peer(const struct verbs_conn *c)
{
	switch (c->state) {
	case VC_REPLIED:
	case VC_REQUEST:
	case VC_ACCEPTING:
	case VC_CONNECTED:
	case VC_DISCONNECTING:
	case VC_DISCONNECTED:
		return true;
	default:
		return false;
	}
}

static nd_status verbs_conn_get_read_limits(struct nd_connector_base *b,
					    uint32_t *inbound,
					    uint32_t *outbound)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_SUCCESS;

	/* as the peer offered: the core clamps to this adapter's limits */
	pthread_mutex_lock(&a->cm_lock);
	if (!conn_has_peer(c)) {
		st = ND_CONNECTION_INVALID;
	} else {
		*inbound = c->peer_out;
		*outbound = c->peer_in;
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_conn_get_private_data(struct nd_connector_base *b,
					     void *buf, uint32_t *len)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_SUCCESS;

	/* all of it: the core does ND's size protocol */
	_Static_assert(VERBS_PDATA_MAX <= ND_MAX_PRIVATE_DATA,
		       "the peer's data must fit the core's buffer");
	pthread_mutex_lock(&a->cm_lock);
	if (!c->has_peer_data) {
		st = ND_CONNECTION_INVALID;
	} else {
		memcpy(buf, c->peer_pdata, c->peer_plen);
		*len = c->peer_plen;
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_copy_addr(const struct sockaddr *sa,
				 struct sockaddr_storage *addr, uint32_t *len)
{
	uint32_t n;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return ND_CONNECTION_INVALID;
	n = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
				      : sizeof(struct sockaddr_in);
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, sa, n);
	*len = n;
	return ND_SUCCESS;
}

static nd_status verbs_conn_get_local_address(struct nd_connector_base *b,
					      struct sockaddr_storage *addr,
					      uint32_t *len)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_CONNECTION_INVALID;

	pthread_mutex_lock(&a->cm_lock);
	if (c->id && c->state != VC_IDLE && c->state != VC_CLOSED &&
	    c->state != VC_FAILED)
		st = verbs_copy_addr(rdma_get_local_addr(c->id), addr, len);
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_conn_get_peer_address(struct nd_connector_base *b,
					     struct sockaddr_storage *addr,
					     uint32_t *len)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_CONNECTION_INVALID;

	pthread_mutex_lock(&a->cm_lock);
	if (c->id && conn_has_peer(c) && c->state != VC_DISCONNECTED)
		st = verbs_copy_addr(rdma_get_peer_addr(c->id), addr, len);
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_conn_notify_disconnect(struct nd_connector_base *b,
					      struct nd_overlapped *ov)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_PENDING;

	pthread_mutex_lock(&a->cm_lock);
	switch (c->state) {
	case VC_DISCONNECTED:
		st = ND_SUCCESS;
		break;
	case VC_CONNECTED:
	case VC_REPLIED:
	case VC_ACCEPTING:
	case VC_DISCONNECTING:
		nd_ov_begin(&c->base.obj, ov, VK_NOTIFY_DISC, NULL);
		break;
	default:
		st = ND_CONNECTION_INVALID;
		break;
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_conn_disconnect(struct nd_connector_base *b,
				       struct nd_overlapped *ov)
{
	struct verbs_conn *c = conn_of(b);
	struct verbs_adapter *a = c->ad;
	nd_status st = ND_PENDING;

	pthread_mutex_lock(&a->cm_lock);
	if (c->state == VC_CONNECTED || c->state == VC_DISCONNECTING ||
	    c->state == VC_DISCONNECTED)
		c->app_disconnected = true;
	switch (c->state) {
	case VC_CONNECTED:
		if (rdma_disconnect(c->id))
			ND_WARN(VERBS_LOG, "rdma_disconnect: %s",
				strerror(errno));
		/*
		 * Later posts: not connected (as on tcp). The QP itself goes
		 * to ERR, flushing what is in flight ND_CANCELED, when the CM
		 * reports the disconnect done (cm_peer_gone), still before
		 * Disconnect completes. Not now: rxe writes a receive's CQE
		 * before it sends the ACK, and a QP moved to ERR drops that
		 * ACK, so an application that disconnects the moment its
		 * receive completed had the peer's delivered Send flushed
		 * ND_CANCELED (issue 17, defect 3; seen in the churn on
		 * rxe0). The DREQ goes out first; the ACK is already queued.
		 */
		if (c->qp)
			__atomic_store_n(&c->qp->connected, 0,
					 __ATOMIC_RELEASE);
		c->state = VC_DISCONNECTING;
		nd_ov_begin(&c->base.obj, ov, VK_DISCONNECT, NULL);
		break;
	case VC_DISCONNECTING:
		nd_ov_begin(&c->base.obj, ov, VK_DISCONNECT, NULL);
		break;
	case VC_DISCONNECTED:
		st = ND_SUCCESS;
		break;
	default:
		st = ND_CONNECTION_INVALID;
		break;
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static const struct nd_connector_ops verbs_conn_ops = {
    .bind = verbs_conn_bind,
    .connect = verbs_conn_connect,
    .complete_connect = verbs_conn_complete_connect,
    .accept = verbs_conn_accept,
    .reject = verbs_conn_reject,
    .get_read_limits = verbs_conn_get_read_limits,
    .get_private_data = verbs_conn_get_private_data,
    .get_local_address = verbs_conn_get_local_address,
    .get_peer_address = verbs_conn_get_peer_address,
    .notify_disconnect = verbs_conn_notify_disconnect,
    .disconnect = verbs_conn_disconnect,
};

/* The QP was released while linked: implicit disconnect. cm_lock held. */
void verbs_conn_qp_closed(struct verbs_conn *c)
{
	if (c->state == VC_CONNECTED || c->state == VC_ACCEPTING ||
	    (c->state == VC_REPLIED && c->iw_established)) {
		rdma_disconnect(c->id);
		c->state = VC_DISCONNECTING;
	}
}

/* Stops whatever is in progress. cm_lock held. */
static void conn_abort(struct verbs_conn *c, struct nd_util_puts *p)
{
	switch (c->state) {
	case VC_CONNECTED:
	case VC_ACCEPTING:
	case VC_DISCONNECTING:
		rdma_disconnect(c->id);
		conn_kill_qp(c, p);
		break;
	case VC_REPLIED:
		if (c->iw_established) {
			rdma_disconnect(c->id);
			conn_kill_qp(c, p);
		} else {
			rdma_reject(c->id, NULL, 0);
			conn_unlink_qp(c, p);
		}
		break;
	case VC_REQUEST:
		rdma_reject(c->id, NULL, 0);
		break;
	case VC_RESOLVING:
	case VC_CONNECTING:
		/* Destroying the id abandons the attempt. */
		conn_drop_id(c);
		conn_unlink_qp(c, p);
		break;
	default:
		break;
	}
	conn_unlink_qp(c, p);
}

static void verbs_conn_cancel(struct nd_object *obj)
{
	struct verbs_conn *c = container_of(obj, struct verbs_conn, base.obj);
	struct verbs_adapter *a = c->ad;
	struct nd_util_puts p = {0};

	pthread_mutex_lock(&a->cm_lock);
	if (nd_ov_pending(obj, VK_CONNECT) || nd_ov_pending(obj, VK_ACCEPT)) {
		conn_abort(c, &p);
		c->state = VC_FAILED;
	}
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
}

static void verbs_conn_close(struct nd_object *obj)
{
	struct verbs_conn *c = container_of(obj, struct verbs_conn, base.obj);
	struct verbs_adapter *a = c->ad;
	struct nd_util_puts p = {0};

	pthread_mutex_lock(&a->cm_lock);
	conn_abort(c, &p);
	conn_drop_id(c);
	accept_unlist(c);
	c->state = VC_CLOSED;
	if (c->held) /* the application's handle is gone */
		nd_util_puts_add(&p, &c->held->base.obj);
	c->held = NULL;
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
}

static void verbs_conn_destroy(struct nd_object *obj)
{
	struct verbs_conn *c = container_of(obj, struct verbs_conn, base.obj);
	struct verbs_adapter *a = c->ad;
	struct nd_util_puts p = {0};

	/* Not shared any more, except with the accepting list's walk. */
	pthread_mutex_lock(&a->cm_lock);
	conn_unlink_qp(c, &p);
	conn_drop_id(c);
	accept_unlist(c);
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
	if (c->held)
		nd_object_put(&c->held->base.obj);
	free(c);
}

static const struct nd_object_ops verbs_conn_obj_ops = {
    .close = verbs_conn_close,
    .cancel = verbs_conn_cancel,
    .destroy = verbs_conn_destroy,
};

nd_status verbs_create_connector(struct nd_adapter_base *ab,
				 struct nd_connector **out)
{
	struct verbs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return ND_NO_MEMORY;
	c->ad = verbs_adapter_of(ab);
	nd_connector_base_init(&c->base, &verbs_conn_obj_ops, &verbs_conn_ops,
			       ab);
	*out = &c->base.pub;
	return ND_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Listener
 */

static nd_status verbs_listener_bind(struct nd_listener_base *b,
				     const struct sockaddr *addr, uint32_t len)
{
	struct verbs_listener *l = listener_of(b);
	struct verbs_adapter *a = l->ad;
	nd_status st = ND_SUCCESS;
	int err;

	(void)len;
	pthread_mutex_lock(&a->cm_lock);
	if (l->state != VL_IDLE) {
		st = ND_ADDRESS_ALREADY_ASSOCIATED;
		goto out;
	}
	if ((err = verbs_new_id(a, &l->id, l))) {
		st = nd_util_errno_status(err);
		goto out;
	}
	if (rdma_bind_addr(l->id, (struct sockaddr *)addr)) {
		err = errno;
		ND_INFO(VERBS_LOG, "listener bind: %s", strerror(err));
		st = err == ENODEV ? ND_INVALID_ADDRESS
				   : nd_util_errno_status(err);
		verbs_doom_id(a, l->id);
		l->id = NULL;
		goto out;
	}
	if (l->id->verbs && verbs_id_guid(l->id) != a->guid) {
		verbs_doom_id(a, l->id);
		l->id = NULL;
		st = ND_INVALID_ADDRESS;
		goto out;
	}
	l->state = VL_BOUND;
out:
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_listener_listen(struct nd_listener_base *b,
				       uint32_t backlog)
{
	struct verbs_listener *l = listener_of(b);
	struct verbs_adapter *a = l->ad;
	nd_status st = ND_SUCCESS;

	pthread_mutex_lock(&a->cm_lock);
	if (l->state != VL_BOUND) {
		st = ND_INVALID_DEVICE_STATE;
	} else if (rdma_listen(l->id, backlog > 1024 ? 1024 : (int)backlog)) {
		st = nd_util_errno_status(errno);
		ND_ERR(VERBS_LOG, "rdma_listen: %s", strerror(errno));
	} else {
		l->state = VL_LISTENING;
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static nd_status verbs_listener_get_local_address(struct nd_listener_base *b,
						  struct sockaddr_storage *addr,
						  uint32_t *len)
{
	struct verbs_listener *l = listener_of(b);
	struct verbs_adapter *a = l->ad;
	nd_status st = ND_INVALID_DEVICE_STATE;

	pthread_mutex_lock(&a->cm_lock);
	if (l->state == VL_LISTENING) {
		st = verbs_copy_addr(rdma_get_local_addr(l->id), addr, len);
		if (st != ND_SUCCESS)
			st = ND_INVALID_DEVICE_STATE;
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

/* Hands a request to a fresh connector. cm_lock held. */
static void conn_attach(struct verbs_conn *c, struct verbs_req *r)
{
	c->id = r->id;
	c->id->context = c;
	c->active = false;
	memcpy(c->peer_pdata, r->pdata, r->plen);
	c->peer_plen = r->plen;
	c->has_peer_data = true;
	c->peer_in = r->peer_in;
	c->peer_out = r->peer_out;
	c->state = VC_REQUEST;
}

static nd_status verbs_listener_get_request(struct nd_listener_base *b,
					    struct nd_connector_base *cb,
					    struct nd_overlapped *ov)
{
	struct verbs_listener *l = listener_of(b);
	struct verbs_conn *c = conn_of(cb);
	struct verbs_adapter *a = l->ad;
	nd_status st = ND_PENDING;

	pthread_mutex_lock(&a->cm_lock);
	if (l->state != VL_LISTENING) {
		st = ND_INVALID_DEVICE_STATE;
	} else if (c->state != VC_IDLE || c->id) {
		st = ND_CONNECTION_ACTIVE;
	} else if (l->backlog) {
		struct verbs_req *r = l->backlog;
		l->backlog = r->next;
		if (!l->backlog)
			l->backlog_tail = NULL;
		conn_attach(c, r);
		free(r);
		st = ND_SUCCESS;
	} else {
		nd_object_retain(&c->base.obj);
		nd_ov_begin(&l->base.obj, ov, 0, c);
	}
	pthread_mutex_unlock(&a->cm_lock);
	return st;
}

static const struct nd_listener_ops verbs_listener_ops = {
    .bind = verbs_listener_bind,
    .listen = verbs_listener_listen,
    .get_local_address = verbs_listener_get_local_address,
    .get_connection_request = verbs_listener_get_request,
};

/* Completes every pending GetConnectionRequest with ND_CANCELED. */
static void verbs_listener_cancel(struct nd_object *obj)
{
	struct verbs_listener *l =
	    container_of(obj, struct verbs_listener, base.obj);
	struct nd_util_puts p = {0};
	struct nd_overlapped *ov;
	void *arg;

	pthread_mutex_lock(&l->ad->cm_lock);
	while ((ov = nd_ov_claim(obj, 0, &arg))) {
		nd_ov_complete(obj, ov, ND_CANCELED);
		nd_util_puts_add(&p, &((struct verbs_conn *)arg)->base.obj);
	}
	pthread_mutex_unlock(&l->ad->cm_lock);
	nd_util_puts_drop(&p);
}

static void verbs_listener_close(struct nd_object *obj)
{
	struct verbs_listener *l =
	    container_of(obj, struct verbs_listener, base.obj);
	struct verbs_adapter *a = l->ad;
	struct verbs_req *r, *next;

	pthread_mutex_lock(&a->cm_lock);
	for (r = l->backlog; r; r = next) {
		next = r->next;
		rdma_reject(r->id, NULL, 0);
		verbs_doom_id(a, r->id);
		free(r);
	}
	l->backlog = l->backlog_tail = NULL;
	verbs_doom_id(a, l->id);
	l->id = NULL;
	l->state = VL_CLOSED;
	pthread_mutex_unlock(&a->cm_lock);
}

static void verbs_listener_destroy(struct nd_object *obj)
{
	struct verbs_listener *l =
	    container_of(obj, struct verbs_listener, base.obj);

	if (l->id || l->backlog)
		verbs_listener_close(obj);
	free(l);
}

static const struct nd_object_ops verbs_listener_obj_ops = {
    .close = verbs_listener_close,
    .cancel = verbs_listener_cancel,
    .destroy = verbs_listener_destroy,
};

nd_status verbs_create_listener(struct nd_adapter_base *ab,
				struct nd_listener **out)
{
	struct verbs_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return ND_NO_MEMORY;
	l->ad = verbs_adapter_of(ab);
	nd_listener_base_init(&l->base, &verbs_listener_obj_ops,
			      &verbs_listener_ops, ab);
	*out = &l->base.pub;
	return ND_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Events (progress thread, cm_lock held)
 */

static void cm_connect_request(struct verbs_adapter *a,
			       struct rdma_cm_event *ev, struct nd_util_puts *p)
{
	struct verbs_listener *l = ev->listen_id->context;
	struct verbs_req *r;
	struct nd_overlapped *ov;
	void *arg;

	ev->id->context = NULL;
	if (!l || l->state != VL_LISTENING ||
	    verbs_id_guid(ev->id) != a->guid) {
		rdma_reject(ev->id, NULL, 0);
		verbs_doom_id(a, ev->id);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rdma_reject(ev->id, NULL, 0);
		verbs_doom_id(a, ev->id);
		return;
	}
	r->id = ev->id;
	r->plen = ev->param.conn.private_data_len;
	if (r->plen > VERBS_PDATA_MAX)
		r->plen = VERBS_PDATA_MAX;
	if (r->plen && ev->param.conn.private_data)
		memcpy(r->pdata, ev->param.conn.private_data, r->plen);
	else
		r->plen = 0;
	r->peer_out = ev->param.conn.responder_resources;
	r->peer_in = ev->param.conn.initiator_depth;

	while ((ov = nd_ov_claim(&l->base.obj, 0, &arg))) {
		struct verbs_conn *c = arg;
		nd_util_puts_add(p, &c->base.obj);
		if (c->state != VC_IDLE || c->id) {
			/* released or reused meanwhile */
			nd_ov_complete(&l->base.obj, ov, ND_CANCELED);
			continue;
		}
		conn_attach(c, r);
		free(r);
		nd_ov_complete(&l->base.obj, ov, ND_SUCCESS);
		return;
	}
	if (l->backlog_tail)
		l->backlog_tail->next = r;
	else
		l->backlog = r;
	l->backlog_tail = r;
}

/* The connect attempt failed with `st`. */
static void cm_connect_failed(struct verbs_conn *c, nd_status st,
			      struct nd_util_puts *p)
{
	c->state = VC_FAILED;
	conn_unlink_qp(c, p);
	nd_ov_finish(&c->base.obj, VK_CONNECT, st);
}

static void cm_accept_failed(struct verbs_conn *c, nd_status st,
			     struct nd_util_puts *p)
{
	c->state = VC_FAILED;
	conn_kill_qp(c, p);
	nd_ov_finish(&c->base.obj, VK_ACCEPT, st);
}

/* rdma_connect failed with `err`. */
static void cm_connect_error(struct verbs_conn *c, int err,
			     struct nd_util_puts *p)
{
	/* iWARP reports a refused or unanswered TCP connect here: an
	 * outcome the caller gets as a status, not a fault of ours. */
	ND_LOG(err == ECONNREFUSED || err == ETIMEDOUT ? ND_LOG_INFO
						       : ND_LOG_ERROR,
	       VERBS_LOG, "rdma_connect: %s", strerror(err));
	cm_connect_failed(c, nd_util_connect_errno_status(err), p);
}

static void conn_worker_unlist(struct verbs_adapter *a,
			       struct verbs_attempt *at)
{
	for (struct verbs_attempt **pp = &a->attempts; *pp; pp = &(*pp)->next) {
		if (*pp == at) {
			*pp = at->next;
			break;
		}
	}
}

/* The connect worker: rdma_connect without cm_lock, then the outcome. */
static void *conn_worker(void *arg)
{
	struct verbs_attempt *at = arg;
	struct verbs_conn *c = at->c;
	struct verbs_adapter *a = c->ad;
	struct nd_util_puts p = {0};
	int err = 0;

	if (rdma_connect(at->id, &at->cp))
		err = errno;

	pthread_mutex_lock(&a->cm_lock);
	conn_worker_unlist(a, at);
	if (at->abandoned) {
		ND_DEBUG(VERBS_LOG, "abandoned rdma_connect returned: %s",
			 strerror(err));
		verbs_doom_id(a, at->id);
	} else {
		c->attempt = NULL;
		/* On success the CM's events carry on (they may already
		 * have: the state was set before the worker started). */
		if (err && c->state == VC_CONNECTING)
			cm_connect_error(c, err, &p);
	}
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
	nd_object_put(&at->qp->base.obj);
	free(at);
	/* May be the last reference of the connector and of the adapter:
	 * their teardown runs here, with no lock of ours held. */
	nd_object_put(&c->base.obj);
	return NULL;
}

/* Starts a connect worker for c (state VC_CONNECTING once this returns
 * 0). cm_lock held. */
static int conn_worker_start(struct verbs_conn *c,
			     const struct rdma_conn_param *cp,
			     struct nd_util_puts *p)
{
	struct verbs_adapter *a = c->ad;
	struct verbs_attempt *at = calloc(1, sizeof(*at));
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	int err;

	if (!at)
		return ENOMEM;
	at->c = c;
	at->qp = c->qp;
	at->id = c->id;
	at->cp = *cp;
	/* its own copy: a new Connect may reuse the connector's buffer
	 * while an abandoned worker is still inside rdma_connect */
	if (cp->private_data_len) {
		memcpy(at->pdata, cp->private_data, cp->private_data_len);
		at->cp.private_data = at->pdata;
	}
	at->deadline = nd_util_now_ms() + VERBS_CONNECT_MS;
	nd_object_retain(&c->base.obj);
	nd_object_retain(&c->qp->base.obj);
	/* Set before the worker runs: ESTABLISHED or REJECTED may reach the
	 * progress thread before the worker is back from rdma_connect. */
	c->state = VC_CONNECTING;
	c->attempt = at;
	at->next = a->attempts;
	a->attempts = at;

	/* The worker takes no signals of the application's (it inherits this
	 * thread's mask). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_attr_init(&attr);
	if (!err) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&th, &attr, conn_worker, at);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		conn_worker_unlist(a, at);
		c->attempt = NULL;
		nd_util_puts_add(p, &at->qp->base.obj);
		nd_util_puts_add(p, &c->base.obj);
		free(at);
		return err;
	}
	return 0;
}

static void cm_route_resolved(struct verbs_conn *c, struct nd_util_puts *p)
{
	struct rdma_conn_param cp;
	int err;

	err = verbs_qp_prepare(c->qp, c->id);
	if (err) {
		ND_ERR(VERBS_LOG, "connect: QP: %s", strerror(err));
		cm_connect_failed(c, ND_UNSUCCESSFUL, p);
		return;
	}
	conn_param_init(c, &cp, c->in_limit, c->out_limit);
	if (c->ad->tp->connect_blocks) {
		/* Not on this thread, which serves the whole adapter, nor
		 * under cm_lock: the call may block for minutes. */
		err = conn_worker_start(c, &cp, p);
		if (err) {
			ND_ERR(VERBS_LOG, "connect worker: %s", strerror(err));
			cm_connect_failed(c, nd_util_errno_status(err), p);
		}
		return;
	}
	if (rdma_connect(c->id, &cp)) {
		cm_connect_error(c, errno, p);
		return;
	}
	c->state = VC_CONNECTING;
}

int verbs_cm_expire(struct verbs_adapter *a)
{
	struct nd_util_puts p = {0};
	struct verbs_attempt *at;
	uint64_t now;
	int timeout = -1;

	now = nd_util_now_ms();
	pthread_mutex_lock(&a->cm_lock);
	for (at = a->attempts; at; at = at->next) {
		struct verbs_conn *c = at->c;
		/* Abandoned ones wait for nothing; a Connect that already
		 * has its outcome from the CM's events is not cut short. */
		if (at->abandoned || c->state != VC_CONNECTING)
			continue;
		if (now < at->deadline) {
			uint64_t left = at->deadline - now;
			if (timeout < 0 || left < (uint64_t)timeout)
				timeout = (int)left;
			continue;
		}
		ND_INFO(VERBS_LOG, "rdma_connect: no answer within %d ms",
			VERBS_CONNECT_MS);
		conn_drop_id(c);
		cm_connect_failed(c, ND_IO_TIMEOUT, &p);
	}
	for (struct verbs_conn **pp = &a->accepting; *pp;) {
		struct verbs_conn *c = *pp;

		if (c->state == VC_ACCEPTING && now < c->accept_due) {
			uint64_t left = c->accept_due - now;
			if (timeout < 0 || left < (uint64_t)timeout)
				timeout = (int)left;
			pp = &c->accept_next;
			continue;
		}
		accept_unlist(c);
		if (c->state != VC_ACCEPTING)
			continue; /* it has its outcome */
		ND_INFO(VERBS_LOG,
			"accept: the peer did not complete the connection "
			"within %d ms",
			VERBS_CONNECT_MS);
		/* Destroying the id rejects the connection, should the
		 * peer's CompleteConnect still come. */
		cm_accept_failed(c, ND_IO_TIMEOUT, &p);
		conn_drop_id(c);
	}
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
	return timeout;
}

static void cm_peer_gone(struct verbs_conn *c, struct nd_util_puts *p)
{
	int prior = c->state;

	if (c->qp) {
		verbs_qp_to_error(c->qp);
		c->qp->state = VQP_DEAD;
	}
	if (prior != VC_DISCONNECTING)
		rdma_disconnect(c->id); /* answer the peer's request */
	c->state = VC_DISCONNECTED;
	if (prior == VC_ACCEPTING)
		nd_ov_finish(&c->base.obj, VK_ACCEPT, ND_CONNECTION_ABORTED);
	nd_ov_finish_all(&c->base.obj, VK_NOTIFY_DISC, ND_SUCCESS);
	nd_ov_finish_all(&c->base.obj, VK_DISCONNECT, ND_SUCCESS);
	conn_unlink_qp(c, p);
}

/*
 * Progress thread: the QPs whose transport gave up (the poller's
 * verbs_transport_broken). Their connections are broken as surely as if
 * the peer had disconnected: the same end, so NotifyDisconnect completes
 * and the peer (if it hears) gets a DREQ.
 */
void verbs_cm_reap_broken(struct verbs_adapter *a)
{
	uint32_t qpns[VERBS_BROKEN_MAX], n;
	struct nd_util_puts p = {0};

	pthread_mutex_lock(&a->broken_lock);
	n = a->nbroken;
	memcpy(qpns, a->broken, n * sizeof(qpns[0]));
	a->nbroken = 0;
	pthread_mutex_unlock(&a->broken_lock);
	if (!n)
		return;
	pthread_mutex_lock(&a->cm_lock);
	for (uint32_t i = 0; i < n; i++) {
		struct verbs_conn *c = verbs_qpn_conn(a, qpns[i]);
		/* QP numbers are reused: only the QP whose own ring saw the
		 * completion is broken */
		if (!c || c->state != VC_CONNECTED || !c->qp ||
		    !__atomic_load_n(&c->qp->ring->transport_broken,
				     __ATOMIC_ACQUIRE))
			continue;
		ND_INFO(VERBS_LOG,
			"QP %u: the peer stopped answering (transport retries "
			"exhausted); ending its connection",
			qpns[i]);
		cm_peer_gone(c, &p);
	}
	pthread_mutex_unlock(&a->cm_lock);
	nd_util_puts_drop(&p);
}

static nd_status cm_error_status(const struct rdma_cm_event *ev)
{
	if (ev->status == -ETIMEDOUT)
		return ND_IO_TIMEOUT;
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_ERROR:
		return ND_HOST_UNREACHABLE;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return ND_NETWORK_UNREACHABLE;
	case RDMA_CM_EVENT_UNREACHABLE:
		return ev->status == -ECONNREFUSED ? ND_CONNECTION_REFUSED
						   : ND_HOST_UNREACHABLE;
	case RDMA_CM_EVENT_REJECTED:
		return ND_CONNECTION_REFUSED;
	default:
		return ND_CONNECTION_ABORTED;
	}
}

static void cm_conn_event(struct verbs_adapter *a, struct verbs_conn *c,
			  struct rdma_cm_event *ev, struct nd_util_puts *p)
{
	ND_DEBUG(VERBS_LOG, "connector %p state %d: %s (%d)", (void *)c,
		 c->state, rdma_event_str(ev->event), ev->status);
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		if (c->state != VC_RESOLVING)
			break;
		if (verbs_id_guid(c->id) != a->guid) {
			ND_INFO(VERBS_LOG, "destination not reachable "
					   "through this adapter");
			cm_connect_failed(c, ND_HOST_UNREACHABLE, p);
		} else if (rdma_resolve_route(c->id, VERBS_RESOLVE_MS)) {
			cm_connect_failed(c, nd_util_errno_status(errno), p);
		}
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		if (c->state == VC_RESOLVING)
			cm_route_resolved(c, p);
		break;
	case RDMA_CM_EVENT_CONNECT_RESPONSE:
	case RDMA_CM_EVENT_ESTABLISHED:
		if (c->state == VC_CONNECTING) {
			conn_take_event_data(c, ev);
			c->iw_established =
			    ev->event == RDMA_CM_EVENT_ESTABLISHED;
			c->state = VC_REPLIED;
			if (!nd_ov_finish(&c->base.obj, VK_CONNECT,
					  ND_SUCCESS)) {
				/* cancelled meanwhile */
				conn_abort(c, p);
				c->state = VC_FAILED;
			}
		} else if (c->state == VC_ACCEPTING &&
			   ev->event == RDMA_CM_EVENT_ESTABLISHED) {
			c->state = VC_CONNECTED;
			c->qp->state = VQP_CONNECTED;
			__atomic_store_n(&c->qp->connected, 1,
					 __ATOMIC_RELEASE);
			if (!nd_ov_finish(&c->base.obj, VK_ACCEPT,
					  ND_SUCCESS)) {
				conn_abort(c, p);
				c->state = VC_FAILED;
			}
		}
		break;
	case RDMA_CM_EVENT_REJECTED:
		if (c->state == VC_CONNECTING || c->state == VC_RESOLVING) {
			conn_take_event_data(c, ev);
			cm_connect_failed(c, ND_CONNECTION_REFUSED, p);
		} else if (c->state == VC_ACCEPTING) {
			cm_accept_failed(c, ND_CONNECTION_REFUSED, p);
		}
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_CONNECT_ERROR:
		if (c->state == VC_CONNECTING || c->state == VC_RESOLVING)
			cm_connect_failed(c, cm_error_status(ev), p);
		else if (c->state == VC_ACCEPTING)
			cm_accept_failed(c,
					 ev->status == -ETIMEDOUT
					     ? ND_IO_TIMEOUT
					     : ND_CONNECTION_ABORTED,
					 p);
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		if (c->state == VC_CONNECTED || c->state == VC_DISCONNECTING ||
		    c->state == VC_ACCEPTING || c->state == VC_REPLIED)
			cm_peer_gone(c, p);
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		c->state = VC_FAILED;
		conn_unlink_qp(c, p);
		nd_ov_finish_all(&c->base.obj, VK_CONNECT, ND_DEVICE_REMOVED);
		nd_ov_finish_all(&c->base.obj, VK_ACCEPT, ND_DEVICE_REMOVED);
		nd_ov_finish_all(&c->base.obj, VK_NOTIFY_DISC,
				 ND_DEVICE_REMOVED);
		nd_ov_finish_all(&c->base.obj, VK_DISCONNECT,
				 ND_DEVICE_REMOVED);
		break;
	default:
		break;
	}
}

void verbs_cm_event(struct verbs_adapter *a)
{
	struct rdma_cm_event *ev;

	while (!rdma_get_cm_event(a->cm_ch, &ev)) {
		struct nd_util_puts p = {0};
		pthread_mutex_lock(&a->cm_lock);
		if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
			cm_connect_request(a, ev, &p);
		} else if (ev->id->context) {
			struct nd_object *o = ev->id->context;
			if (o->head.type == ND_OBJ_CONNECTOR)
				cm_conn_event(a, (struct verbs_conn *)o, ev,
					      &p);
		}
		rdma_ack_cm_event(ev);
		pthread_mutex_unlock(&a->cm_lock);
		nd_util_puts_drop(&p);
	}
}
