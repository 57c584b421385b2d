/* SPDX-License-Identifier: MIT */
/*
 * Queue pairs: posting, the framing engine on the connection's socket, and
 * the target side of remote reads and writes.
 *
 * Every initiator request that goes on the wire is answered by the peer, in
 * order, on the reverse stream: ACK (sends and writes placed), READ_RESP
 * (with the data), NAK (failed: the connection ends) or RNR (a send waits for
 * a receive). Requests therefore complete in posting order, after the peer
 * has really placed the data, as on an RC queue pair.
 */
#include "tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static struct tcp_qp *qp_of(struct nd_qp *pub)
{
	return container_of(pub, struct tcp_qp, base.pub);
}

static struct tcp_swr *sq_at(struct tcp_qp *qp, uint32_t off)
{
	uint32_t i = qp->sq_head + off;

	if (i >= qp->sq_depth)
		i -= qp->sq_depth;
	return &qp->sq[i];
}

static struct tcp_rwr *rq_at(struct tcp_qp *qp, uint32_t off)
{
	uint32_t i = qp->rq_head + off;

	if (i >= qp->rq_depth)
		i -= qp->rq_depth;
	return &qp->rq[i];
}

static const int32_t op_type[] = {
    [TCP_OP_SEND] = ND_REQUEST_TYPE_SEND,
    [TCP_OP_WRITE] = ND_REQUEST_TYPE_WRITE,
    [TCP_OP_READ] = ND_REQUEST_TYPE_READ,
    [TCP_OP_BIND] = ND_REQUEST_TYPE_BIND,
    [TCP_OP_INVALIDATE] = ND_REQUEST_TYPE_INVALIDATE,
};

static void timer_clear(struct tcp_qp *qp)
{
	if (qp->rnr_deadline) {
		qp->rnr_deadline = 0;
		__atomic_sub_fetch(&qp->ad->timers, 1, __ATOMIC_RELAXED);
	}
}

/* --- socket interest ------------------------------------------------------ */

static bool connecting_tcp(struct tcp_qp *qp)
{
	return qp->tcp_connecting;
}

static void update_poll(struct tcp_qp *qp)
{
	uint32_t ev = 0;

	if (qp->pl.fd < 0 || qp->pl.slot == UINT32_MAX)
		return;
	if (connecting_tcp(qp)) {
		ev = EPOLLOUT;
	} else {
		if (qp->rx_phase == TCP_RX_HDR ||
		    qp->rx_phase == TCP_RX_PAYLOAD)
			ev |= EPOLLIN;
		else if (qp->rx_phase == TCP_RX_STALL)
			ev |= EPOLLRDHUP;
		if (qp->tx_busy)
			ev |= EPOLLOUT;
		/* The polling application moves the bytes (tcp.h, driving);
		 * errors and hang-ups are reported whatever the mask. */
		if (qp->app_driven)
			ev &= ~(uint32_t)(EPOLLIN | EPOLLOUT);
	}
	tcp_poll_mod(qp->ad, &qp->pl, ev);
}

/* --- completing ------------------------------------------------------------ */

static void complete_recv(struct tcp_qp *qp, void *ctx, nd_status st,
			  uint32_t bytes, bool solicited)
{
	tcp_cq_push(qp->rcq, st, st == ND_SUCCESS ? bytes : 0, qp->base.context,
		    ctx, ND_REQUEST_TYPE_RECEIVE, solicited);
}

static void flush_rq(struct tcp_qp *qp)
{
	while (qp->rq_count) {
		struct tcp_rwr *w = rq_at(qp, 0);
		void *ctx = w->context;

		qp->rq_head =
		    qp->rq_head + 1 == qp->rq_depth ? 0 : qp->rq_head + 1;
		qp->rq_count--;
		complete_recv(qp, ctx, ND_CANCELED, 0, false);
	}
}

/* Pops finished requests at the head, in order. */
static void sq_complete(struct tcp_qp *qp)
{
	while (qp->sq_count) {
		struct tcp_swr *w = sq_at(qp, 0);
		nd_status st = w->status;

		if (!w->done)
			return;
		if (st != ND_SUCCESS || !(w->flags & ND_OP_FLAG_SILENT_SUCCESS))
			tcp_cq_push(qp->icq, st, 0, qp->base.context,
				    w->context, op_type[w->op], false);
		qp->sq_head =
		    qp->sq_head + 1 == qp->sq_depth ? 0 : qp->sq_head + 1;
		qp->sq_count--;
		if (qp->sq_tx)
			qp->sq_tx--;
		if (st != ND_SUCCESS) {
			/* an error completion ends the connection */
			tcp_qp_break(qp, ND_CANCELED);
			return;
		}
	}
}

/* The oldest transmitted request still waiting for the peer's answer. */
static struct tcp_swr *awaiting(struct tcp_qp *qp)
{
	for (uint32_t k = 0; k < qp->sq_tx; k++) {
		struct tcp_swr *w = sq_at(qp, k);
		if (!w->done)
			return w;
	}
	return NULL;
}

/*
 * The request whose frame is being transmitted, once its header is out:
 * the target checks a header before it takes the payload, so it may answer
 * NAK or RNR while the rest is still on its way. NULL before the header
 * has gone: no peer can answer a request it has not seen.
 */
static struct tcp_swr *in_transmission(struct tcp_qp *qp)
{
	uint32_t hdr =
	    qp->tx_src == 3 ? 1 : 0; /* behind an ACK (start_frame) */

	if (!qp->tx_busy || qp->tx_src == 1 || qp->tx_idx <= hdr)
		return NULL;
	return sq_at(qp, qp->sq_tx);
}

/* The request a NAK or RNR answers: answers come in order, so the oldest
 * unanswered one, transmitted or still being transmitted. */
static struct tcp_swr *answerable_early(struct tcp_qp *qp)
{
	struct tcp_swr *w = awaiting(qp);

	return w ? w : in_transmission(qp);
}

static void close_socket(struct tcp_qp *qp)
{
	if (qp->pl.fd < 0)
		return;
	tcp_poll_del(qp->ad, &qp->pl);
	tcp_close_reusable(qp->pl.fd);
	qp->pl.fd = -1;
	__atomic_sub_fetch(&qp->ad->sockets, 1, __ATOMIC_RELAXED);
}

static void reset_stream(struct tcp_qp *qp)
{
	qp->rx_phase = TCP_RX_HDR;
	qp->rx_sink = TCP_SINK_NONE;
	qp->rx_got = 0;
	qp->rx_left = 0;
	qp->rxbuf_off = qp->rxbuf_len = 0;
	qp->tcp_connecting = false;
	qp->tx_busy = false;
	qp->resp_count = 0;
	qp->resp_head = 0;
	qp->reads_in = 0;
	qp->reads_out = 0;
	qp->break_after_tx = false;
	qp->rnr_sent = false;
}

void tcp_qp_break(struct tcp_qp *qp, nd_status status)
{
	uint32_t seen; /* requests the peer may have seen */

	if (qp->state == TCP_QP_ERROR || qp->state == TCP_QP_IDLE)
		return;
	if (qp->state != TCP_QP_CONNECTED) {
		/* a failed connection attempt leaves the QP as it was:
		 * posted receives stay posted */
		struct tcp_connector *c = qp->conn;
		tcp_qp_detach(qp);
		if (c)
			tcp_conn_on_break(c, status);
		return;
	}

	seen = qp->sq_tx + (in_transmission(qp) ? 1 : 0);
	qp->state = TCP_QP_ERROR;
	close_socket(qp);
	timer_clear(qp);
	if (qp->rx_phase == TCP_RX_STALL && qp->srq)
		qp->srq->stalled--;
	/* a receive being filled */
	if (qp->rx_phase == TCP_RX_PAYLOAD && qp->rx_sink == TCP_SINK_RECV)
		complete_recv(qp, qp->rx_wr.context, ND_CANCELED, 0, false);
	reset_stream(qp);
	qp->rx_phase = TCP_RX_DEAD;

	/* initiator queue: the first unanswered request gets `status` */
	bool first = true;
	for (uint32_t k = 0; k < qp->sq_count; k++) {
		struct tcp_swr *w = sq_at(qp, k);
		if (w->done)
			continue;
		w->done = 1;
		w->status = ND_CANCELED;
		if (first && k < seen && status != ND_CANCELED)
			w->status = status;
		first = false;
	}
	while (qp->sq_count) {
		struct tcp_swr *w = sq_at(qp, 0);
		if (w->status != ND_SUCCESS ||
		    !(w->flags & ND_OP_FLAG_SILENT_SUCCESS))
			tcp_cq_push(qp->icq, w->status, 0, qp->base.context,
				    w->context, op_type[w->op], false);
		qp->sq_head =
		    qp->sq_head + 1 == qp->sq_depth ? 0 : qp->sq_head + 1;
		qp->sq_count--;
	}
	qp->sq_tx = 0;
	flush_rq(qp);
	if (qp->conn)
		tcp_conn_on_break(qp->conn, status);
}

/*
 * An ACK owed for frames the peer sent waits for our next frame or poll
 * (tcp_qp_drive), so a Disconnect right after a receive completed would
 * take it down with the socket, and the peer's Send, delivered and
 * reported here, would complete ND_CANCELED there. A device acknowledges
 * before the receiver even sees its completion; so do we, before the
 * socket goes: at a frame boundary only, and only what the socket takes
 * now (a partly written ACK would be a broken frame, and a full socket
 * means the connection is going down in pieces anyway).
 */
void tcp_qp_disconnect(struct tcp_qp *qp)
{
	if (qp->state == TCP_QP_CONNECTED && qp->pl.fd >= 0 && !qp->tx_busy &&
	    qp->resp_count && qp->resp[qp->resp_head].kind == TCP_RESP_ACK) {
		struct tcp_hdr h;
		tcp_wire_fill(&h, TCP_F_ACK, 0, 0, 0, 0,
			      qp->resp[qp->resp_head].count);
		(void)!send(qp->pl.fd, &h, sizeof(h),
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	tcp_qp_break(qp, ND_CANCELED);
}

/* --- transmit ---------------------------------------------------------- */

static bool resp_push(struct tcp_qp *qp, uint8_t kind, uint32_t count)
{
	if (kind == TCP_RESP_ACK && qp->resp_count) {
		uint32_t last =
		    (qp->resp_head + qp->resp_count - 1) % TCP_RESP_RING;
		/* merge with a queued ACK that is not being transmitted */
		if (qp->resp[last].kind == TCP_RESP_ACK &&
		    !(qp->tx_busy && qp->tx_src != 2 && qp->resp_count == 1)) {
			qp->resp[last].count += count;
			return true;
		}
	}
	if (qp->resp_count == TCP_RESP_RING)
		return false;
	struct tcp_resp *r =
	    &qp->resp[(qp->resp_head + qp->resp_count) % TCP_RESP_RING];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->count = count;
	qp->resp_count++;
	return true;
}

static uint32_t sge_iov(struct iovec *iov, const struct nd_sge *sge,
			uint32_t nsge, uint32_t max_bytes)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < nsge && max_bytes; i++) {
		uint32_t l = sge[i].buffer_length;
		if (!l)
			continue;
		if (l > max_bytes)
			l = max_bytes;
		iov[n].iov_base = sge[i].buffer;
		iov[n].iov_len = l;
		max_bytes -= l;
		n++;
	}
	return n;
}

static bool mem_allows(struct tcp_qp *qp, struct tcp_mem *m, uint32_t right,
		       uint64_t addr, uint64_t len)
{
	if (!m || !(m->rights & right))
		return false;
	if (m->qp_serial && m->qp_serial != qp->serial)
		return false;
	return nd_range_inside(m->base, m->length, addr, len);
}

/* The frame of request w at tx_iov[at]: header, then its payload. */
static void fill_sq_frame(struct tcp_qp *qp, struct tcp_swr *w, uint32_t at)
{
	switch (w->op) {
	case TCP_OP_SEND:
		tcp_wire_fill(&qp->tx_hdr, TCP_F_SEND,
			      (w->flags & ND_OP_FLAG_SEND_AND_SOLICIT_EVENT)
				  ? TCP_FF_SOLICITED
				  : 0,
			      w->length, 0, 0, 0);
		break;
	case TCP_OP_WRITE:
		tcp_wire_fill(&qp->tx_hdr, TCP_F_WRITE, 0, w->length,
			      w->remote_addr, w->remote_token, 0);
		break;
	case TCP_OP_READ:
		tcp_wire_fill(&qp->tx_hdr, TCP_F_READ, 0, 0, w->remote_addr,
			      w->remote_token, w->length);
		break;
	}
	qp->tx_iov[at].iov_base = &qp->tx_hdr;
	qp->tx_iov[at].iov_len = sizeof(qp->tx_hdr);
	qp->tx_niov = at + 1;
	if (w->op != TCP_OP_READ && w->length) {
		if (w->is_inline) {
			qp->tx_iov[at + 1].iov_base = w->inline_buf;
			qp->tx_iov[at + 1].iov_len = w->length;
			qp->tx_niov++;
		} else {
			qp->tx_niov += sge_iov(&qp->tx_iov[at + 1], w->sge,
					       w->nsge, w->length);
		}
	}
}

/* The next request frame, if it can go at once with nothing to settle
 * first (a failed, bind or invalidate request, or the read limit). */
static struct tcp_swr *sq_ready(struct tcp_qp *qp)
{
	struct tcp_swr *w;

	if (qp->state != TCP_QP_CONNECTED || qp->sq_tx == qp->sq_count)
		return NULL;
	w = sq_at(qp, qp->sq_tx);
	if (w->status != ND_SUCCESS || w->op == TCP_OP_BIND ||
	    w->op == TCP_OP_INVALIDATE ||
	    (w->op == TCP_OP_READ && qp->reads_out >= qp->read_limit))
		return NULL;
	return w;
}

/* Picks the next frame; false if nothing can go now. */
static bool start_frame(struct tcp_qp *qp)
{
	qp->tx_idx = 0;
	if (qp->resp_count) {
		struct tcp_resp *r = &qp->resp[qp->resp_head];

		qp->tx_src = 1;
		qp->tx_resp_kind = r->kind;
		qp->tx_niov = 1;
		qp->tx_iov[0].iov_base = &qp->tx_hdr;
		qp->tx_iov[0].iov_len = sizeof(qp->tx_hdr);
		switch (r->kind) {
		case TCP_RESP_ACK:
			tcp_wire_fill(&qp->tx_ack_hdr, TCP_F_ACK, 0, 0, 0, 0,
				      r->count);
			qp->tx_iov[0].iov_base = &qp->tx_ack_hdr;
			/* A lone ACK rides in front of the next request: one
			 * system call, one segment for both. */
			if (qp->resp_count == 1) {
				struct tcp_swr *w = sq_ready(qp);
				if (w) {
					fill_sq_frame(qp, w, 1);
					qp->tx_src = 3;
				}
			}
			break;
		case TCP_RESP_RNR:
			tcp_wire_fill(&qp->tx_hdr, TCP_F_RNR, 0, 0, 0, 0, 0);
			break;
		case TCP_RESP_NAK:
			tcp_wire_fill(&qp->tx_hdr, TCP_F_NAK, 0, 0, 0, 0,
				      r->count);
			break;
		case TCP_RESP_READ:
			/* checked again: an invalidation refuses at once */
			if (tcp_mem_remote(qp->ad, r->token) != r->mem ||
			    !mem_allows(qp, r->mem, TCP_R_REMOTE_READ, r->addr,
					r->length)) {
				r->kind = TCP_RESP_NAK;
				qp->tx_resp_kind = TCP_RESP_NAK;
				tcp_wire_fill(&qp->tx_hdr, TCP_F_NAK, 0, 0, 0,
					      0, (uint32_t)ND_ACCESS_VIOLATION);
				qp->rx_phase = TCP_RX_DEAD;
				break;
			}
			tcp_wire_fill(&qp->tx_hdr, TCP_F_READ_RESP, 0,
				      r->length, 0, 0, 0);
			if (r->length) {
				qp->tx_iov[1].iov_base =
				    (void *)(uintptr_t)r->addr;
				qp->tx_iov[1].iov_len = r->length;
				qp->tx_niov = 2;
			}
			break;
		}
		return true;
	}
	if (qp->state != TCP_QP_CONNECTED)
		return false;
	while (qp->sq_tx < qp->sq_count) {
		struct tcp_swr *w = sq_at(qp, qp->sq_tx);

		if (w->status != ND_SUCCESS || w->op == TCP_OP_BIND ||
		    w->op == TCP_OP_INVALIDATE) {
			w->done = 1;
			qp->sq_tx++;
			sq_complete(qp);
			if (qp->state != TCP_QP_CONNECTED)
				return false;
			continue;
		}
		if (w->op == TCP_OP_READ && qp->reads_out >= qp->read_limit)
			return false;
		qp->tx_src = 2;
		fill_sq_frame(qp, w, 0);
		return true;
	}
	return false;
}

static void qp_rx(struct tcp_qp *qp);

static void finish_frame(struct tcp_qp *qp)
{
	qp->tx_busy = false;
	if (qp->tx_src != 2) {
		struct tcp_resp *r = &qp->resp[qp->resp_head];
		uint8_t kind = r->kind;

		qp->resp_head = (qp->resp_head + 1) % TCP_RESP_RING;
		qp->resp_count--;
		if (kind == TCP_RESP_READ)
			qp->reads_in--;
		if (kind == TCP_RESP_NAK)
			qp->break_after_tx = true;
	}
	if (qp->tx_src != 1) {
		struct tcp_swr *w = sq_at(qp, qp->sq_tx);
		if (w->op == TCP_OP_READ)
			qp->reads_out++;
		qp->sq_tx++;
	}
}

void tcp_qp_tx(struct tcp_qp *qp)
{
	while (qp->pl.fd >= 0 && !connecting_tcp(qp)) {
		if (!qp->tx_busy) {
			if (qp->break_after_tx) {
				tcp_qp_break(qp, ND_CANCELED);
				return;
			}
			if (!start_frame(qp))
				break;
			qp->tx_busy = true;
		}
		struct msghdr mh = {
		    .msg_iov = &qp->tx_iov[qp->tx_idx],
		    .msg_iovlen = qp->tx_niov - qp->tx_idx,
		};
		ssize_t n =
		    sendmsg(qp->pl.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			qp->moved++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			ND_INFO(TCP_LOG, "send: %s", strerror(errno));
			/* A target that refused the request being sent answers
			 * and closes without reading the rest: its NAK may be
			 * waiting unread, and it says why the connection
			 * ended (the first break wins). */
			qp_rx(qp);
			tcp_qp_break(qp, ND_CANCELED);
			return;
		}
		size_t left = (size_t)n;
		while (qp->tx_idx < qp->tx_niov &&
		       left >= qp->tx_iov[qp->tx_idx].iov_len) {
			left -= qp->tx_iov[qp->tx_idx].iov_len;
			qp->tx_idx++;
		}
		if (qp->tx_idx < qp->tx_niov) {
			struct iovec *v = &qp->tx_iov[qp->tx_idx];
			v->iov_base = (char *)v->iov_base + left;
			v->iov_len -= left;
		} else {
			finish_frame(qp);
		}
	}
	update_poll(qp);
}

/* --- receive ------------------------------------------------------------- */

static void protocol_error(struct tcp_qp *qp, const char *what)
{
	ND_LOG_RATELIMITED(ND_LOG_WARN, TCP_LOG,
			   "peer broke the protocol (%s): closing", what);
	tcp_qp_break(qp, ND_REMOTE_ERROR);
}

/* The target refuses the current request: NAK it and stop reading. */
static void refuse(struct tcp_qp *qp, nd_status st)
{
	qp->rx_phase = TCP_RX_DEAD;
	if (!resp_push(qp, TCP_RESP_NAK, (uint32_t)st))
		tcp_qp_break(qp, ND_CANCELED);
}

/* A peer's READ or WRITE that no grant allows (a wrong token, or outside
 * the grant or its rights): refused, and counted against the peer's
 * address, whose listeners stop taking its connections for a while if it
 * keeps guessing (tcp_violation). */
static void refuse_access(struct tcp_qp *qp, const char *what)
{
	ND_LOG_RATELIMITED(ND_LOG_INFO, TCP_LOG, "remote %s refused", what);
	tcp_violation(qp->ad, &qp->peer_ip);
	refuse(qp, ND_ACCESS_VIOLATION);
}

static bool owe_ack(struct tcp_qp *qp)
{
	if (!resp_push(qp, TCP_RESP_ACK, 1)) {
		protocol_error(qp, "response queue overflow");
		return false;
	}
	return true;
}

static void start_sink(struct tcp_qp *qp, enum tcp_rx_sink sink, uint32_t len)
{
	qp->rx_sink = sink;
	qp->rx_left = len;
	qp->rx_iov_idx = 0;
	qp->rx_phase = TCP_RX_PAYLOAD;
}

/* A SEND header is in rx_hdr: match it with a receive or stall. */
static void on_send(struct tcp_qp *qp)
{
	struct tcp_rwr w;
	bool have;

	if (qp->srq) {
		have = tcp_srq_take(qp->srq, &w);
	} else {
		have = qp->rq_count > 0;
		if (have) {
			w = *rq_at(qp, 0);
			qp->rq_head = qp->rq_head + 1 == qp->rq_depth
					  ? 0
					  : qp->rq_head + 1;
			qp->rq_count--;
		}
	}
	if (!have) {
		if (qp->rx_phase != TCP_RX_STALL && qp->srq)
			qp->srq->stalled++;
		qp->rx_phase = TCP_RX_STALL;
		if (!qp->rnr_sent) {
			qp->rnr_sent = true;
			if (!resp_push(qp, TCP_RESP_RNR, 0))
				protocol_error(qp, "response queue overflow");
		}
		return;
	}
	if (qp->rx_phase == TCP_RX_STALL && qp->srq)
		qp->srq->stalled--;
	qp->rx_phase = TCP_RX_HDR;
	qp->rnr_sent = false;
	qp->rx_wr = w;
	if (w.status != ND_SUCCESS) {
		complete_recv(qp, w.context, w.status, 0, false);
		refuse(qp, ND_REMOTE_ERROR);
		return;
	}
	if (qp->rx_hdr.len > w.length) {
		ND_INFO(TCP_LOG, "receive of %u bytes too small for %u",
			w.length, qp->rx_hdr.len);
		complete_recv(qp, w.context, ND_DATA_OVERRUN, 0, false);
		refuse(qp, ND_DATA_ERROR);
		return;
	}
	qp->rx_niov = sge_iov(qp->rx_iov, w.sge, w.nsge, qp->rx_hdr.len);
	start_sink(qp, TCP_SINK_RECV, qp->rx_hdr.len);
}

static void on_header(struct tcp_qp *qp)
{
	struct tcp_hdr *h = &qp->rx_hdr;
	struct tcp_swr *w;
	struct tcp_mem *m;

	switch (h->type) {
	case TCP_F_ACCEPT:
	case TCP_F_REJECT:
		qp->rx_iov[0].iov_base = qp->rx_pdata;
		qp->rx_iov[0].iov_len = h->len;
		qp->rx_niov = h->len ? 1 : 0;
		start_sink(qp, TCP_SINK_PDATA, h->len);
		return;
	case TCP_F_RTU:
		if (qp->conn)
			tcp_conn_on_rtu(qp->conn);
		else
			tcp_qp_break(qp, ND_CANCELED);
		return;
	case TCP_F_SEND:
		on_send(qp);
		return;
	case TCP_F_WRITE:
		m = tcp_mem_remote(qp->ad, h->token);
		if (!mem_allows(qp, m, TCP_R_REMOTE_WRITE, h->addr, h->len)) {
			refuse_access(qp, "write");
			return;
		}
		qp->rx_mem = m;
		qp->rx_token = h->token;
		qp->rx_iov[0].iov_base = (void *)(uintptr_t)h->addr;
		qp->rx_iov[0].iov_len = h->len;
		qp->rx_niov = h->len ? 1 : 0;
		start_sink(qp, TCP_SINK_WRITE, h->len);
		return;
	case TCP_F_READ:
		/* The inbound limit this side agreed to; 0 counts as 1, as
		 * it does for the initiator's read_limit (tcp_cm.c). */
		if (qp->reads_in >= (qp->ird ? qp->ird : 1)) {
			protocol_error(qp, "more reads in flight than the "
					   "inbound read limit");
			return;
		}
		m = tcp_mem_remote(qp->ad, h->token);
		if (!mem_allows(qp, m, TCP_R_REMOTE_READ, h->addr, h->aux)) {
			refuse_access(qp, "read");
			return;
		}
		if (!resp_push(qp, TCP_RESP_READ, 0)) {
			protocol_error(qp, "response queue overflow");
			return;
		}
		struct tcp_resp *r =
		    &qp->resp[(qp->resp_head + qp->resp_count - 1) %
			      TCP_RESP_RING];
		r->mem = m;
		r->token = h->token;
		r->addr = h->addr;
		r->length = h->aux;
		qp->reads_in++;
		return;
	case TCP_F_READ_RESP:
		w = awaiting(qp);
		if (!w || w->op != TCP_OP_READ || w->length != h->len) {
			protocol_error(qp, "unexpected read response");
			return;
		}
		qp->rx_niov = sge_iov(qp->rx_iov, w->sge, w->nsge, h->len);
		start_sink(qp, TCP_SINK_READ_RESP, h->len);
		return;
	case TCP_F_ACK:
		for (uint32_t i = 0; i < h->aux; i++) {
			w = awaiting(qp);
			if (!w || w->op == TCP_OP_READ) {
				protocol_error(qp, "unexpected ack");
				return;
			}
			w->done = 1;
			w->status = ND_SUCCESS;
		}
		timer_clear(qp);
		sq_complete(qp);
		return;
	case TCP_F_NAK:
		/* The rest of a payload still being sent is dropped with the
		 * connection (the target stopped reading at the header). */
		w = answerable_early(qp);
		if (!w) {
			protocol_error(qp, "unexpected nak");
			return;
		}
		ND_INFO(TCP_LOG, "peer failed a request: %s",
			nd_strerror((nd_status)h->aux));
		tcp_qp_break(qp, (nd_status)h->aux);
		return;
	case TCP_F_RNR:
		/* The target keeps the SEND's header and stops reading until
		 * a receive is posted; the rest of the payload waits in TCP
		 * meanwhile, so it arrives whole, once, and nothing is sent
		 * again. A target says RNR once per SEND. */
		w = answerable_early(qp);
		if (!w || w->op != TCP_OP_SEND || w->rnr) {
			protocol_error(qp, "unexpected rnr");
			return;
		}
		w->rnr = 1;
		if (!qp->rnr_deadline) {
			qp->rnr_deadline =
			    nd_util_now_ms() + TCP_RNR_TIMEOUT_MS;
			__atomic_add_fetch(&qp->ad->timers, 1,
					   __ATOMIC_RELAXED);
			nd_util_wake(qp->ad->wakefd);
		}
		return;
	default:
		protocol_error(qp, "unknown frame");
	}
}

static void on_payload_done(struct tcp_qp *qp)
{
	struct tcp_swr *w;

	qp->rx_phase = TCP_RX_HDR;
	switch (qp->rx_sink) {
	case TCP_SINK_PDATA:
		qp->rx_sink = TCP_SINK_NONE;
		if (qp->conn)
			tcp_conn_on_reply(qp->conn, &qp->rx_hdr, qp->rx_pdata,
					  qp->rx_hdr.len);
		else
			tcp_qp_break(qp, ND_CANCELED);
		return;
	case TCP_SINK_RECV:
		qp->rx_sink = TCP_SINK_NONE;
		complete_recv(qp, qp->rx_wr.context, ND_SUCCESS, qp->rx_hdr.len,
			      qp->rx_hdr.flags & TCP_FF_SOLICITED);
		owe_ack(qp);
		return;
	case TCP_SINK_WRITE:
		qp->rx_sink = TCP_SINK_NONE;
		owe_ack(qp);
		return;
	case TCP_SINK_READ_RESP:
		qp->rx_sink = TCP_SINK_NONE;
		w = awaiting(qp);
		w->done = 1;
		w->status = ND_SUCCESS;
		qp->reads_out--;
		sq_complete(qp);
		return;
	default:
		qp->rx_sink = TCP_SINK_NONE;
	}
}

static enum tcp_wire_state wire_state(struct tcp_qp *qp)
{
	switch (qp->state) {
	case TCP_QP_CONNECTING:
		return TCP_WS_REPLY;
	case TCP_QP_ACCEPTING:
		return TCP_WS_RTU;
	case TCP_QP_CONNECTED:
		return TCP_WS_DATA;
	default:
		return 0;
	}
}

static void on_eof(struct tcp_qp *qp, int err)
{
	if (err)
		ND_INFO(TCP_LOG, "connection lost: %s", strerror(err));
	else
		ND_DEBUG(TCP_LOG, "the peer closed the connection");
	/* ETIMEDOUT: the kernel gave up on the peer (TCP_USER_TIMEOUT or
	 * keepalive), as a device gives up after its retries. */
	tcp_qp_break(qp, err == ETIMEDOUT ? ND_IO_TIMEOUT : ND_CANCELED);
}

/* Bytes one call moves before it lets others have the lock; level-
 * triggered epoll brings the thread back for the rest. */
#define RX_BUDGET (4u << 20)

/*
 * Refills the read-ahead buffer (only when it is empty): one recv can bring
 * several small frames. 1 data, 0 nothing now, -1 the connection ended.
 */
static int rx_fill(struct tcp_qp *qp)
{
	for (;;) {
		ssize_t n =
		    recv(qp->pl.fd, qp->rxbuf, sizeof(qp->rxbuf), MSG_DONTWAIT);
		if (n > 0) {
			qp->moved++;
			qp->rxbuf_off = 0;
			qp->rxbuf_len = (uint32_t)n;
			return 1;
		}
		if (n == 0) {
			on_eof(qp, 0);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			on_eof(qp, errno);
			return -1;
		}
		return 0;
	}
}

/* Payload bytes arrived (copied or read in place): advance the sink. */
static void rx_advance(struct tcp_qp *qp, size_t n)
{
	qp->rx_left -= (uint32_t)n;
	while (qp->rx_iov_idx < qp->rx_niov &&
	       n >= qp->rx_iov[qp->rx_iov_idx].iov_len) {
		n -= qp->rx_iov[qp->rx_iov_idx].iov_len;
		qp->rx_iov_idx++;
	}
	if (n) {
		struct iovec *v = &qp->rx_iov[qp->rx_iov_idx];
		v->iov_base = (char *)v->iov_base + n;
		v->iov_len -= n;
	}
}

/* Copies buffered payload bytes into the sink. */
static void rx_copy(struct tcp_qp *qp)
{
	uint32_t avail = qp->rxbuf_len - qp->rxbuf_off;
	uint32_t n = avail < qp->rx_left ? avail : qp->rx_left;
	const uint8_t *src = qp->rxbuf + qp->rxbuf_off;
	uint32_t done = 0;

	for (uint32_t i = qp->rx_iov_idx; i < qp->rx_niov && done < n; i++) {
		size_t l = qp->rx_iov[i].iov_len;
		if (l > n - done)
			l = n - done;
		memcpy(qp->rx_iov[i].iov_base, src + done, l);
		done += (uint32_t)l;
	}
	qp->rxbuf_off += n;
	rx_advance(qp, n);
}

static void qp_rx(struct tcp_qp *qp)
{
	size_t budget = RX_BUDGET;
	/* A read that returned less than it asked for emptied the socket:
	 * another now would only say EAGAIN (a system call per message).
	 * What arrives later is read on the next call, which level-triggered
	 * epoll or the application's next poll makes. */
	bool drained = false;

	while (qp->pl.fd >= 0) {
		ssize_t n;

		if (qp->rx_phase == TCP_RX_STALL) {
			on_send(qp);
			if (qp->rx_phase == TCP_RX_STALL)
				return;
			continue;
		}
		if (qp->rx_phase == TCP_RX_HDR) {
			uint32_t avail = qp->rxbuf_len - qp->rxbuf_off;
			uint32_t want =
			    (uint32_t)sizeof(qp->rx_hdr) - qp->rx_got;

			if (!avail) {
				if (!budget || drained || rx_fill(qp) <= 0)
					return;
				drained = qp->rxbuf_len < sizeof(qp->rxbuf);
				budget -= budget < qp->rxbuf_len
					      ? budget
					      : qp->rxbuf_len;
				continue;
			}
			if (want > avail)
				want = avail;
			memcpy((char *)&qp->rx_hdr + qp->rx_got,
			       qp->rxbuf + qp->rxbuf_off, want);
			qp->rxbuf_off += want;
			qp->rx_got += want;
			if (qp->rx_got < sizeof(qp->rx_hdr))
				continue;
			qp->rx_got = 0;
			if (tcp_wire_check(&qp->rx_hdr, wire_state(qp),
					   &tcp_limits) < 0) {
				protocol_error(qp, "bad frame header");
				return;
			}
			on_header(qp);
			continue;
		}
		if (qp->rx_phase != TCP_RX_PAYLOAD)
			return;
		if (qp->rx_left == 0) {
			on_payload_done(qp);
			continue;
		}
		if (qp->rx_sink == TCP_SINK_WRITE &&
		    tcp_mem_remote(qp->ad, qp->rx_token) != qp->rx_mem) {
			/* invalidated or deregistered mid-transfer */
			refuse(qp, ND_ACCESS_VIOLATION);
			return;
		}
		if (qp->rxbuf_off < qp->rxbuf_len) {
			rx_copy(qp);
			continue;
		}
		/* out of budget (buffer empty here): level-triggered epoll
		 * or the next poll brings us back */
		if (!budget || drained)
			return;
		if (qp->rx_left < sizeof(qp->rxbuf)) {
			/* small: one recv may also bring the next frames */
			if (rx_fill(qp) <= 0)
				return;
			drained = qp->rxbuf_len < sizeof(qp->rxbuf);
			budget -=
			    budget < qp->rxbuf_len ? budget : qp->rxbuf_len;
			continue;
		}
		/* large: straight into place, never past this frame */
		n = readv(qp->pl.fd, &qp->rx_iov[qp->rx_iov_idx],
			  (int)(qp->rx_niov - qp->rx_iov_idx));
		if (n == 0) {
			on_eof(qp, 0);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				on_eof(qp, errno);
			return;
		}
		qp->moved++;
		drained = (size_t)n < qp->rx_left;
		rx_advance(qp, (size_t)n);
		budget = budget > (size_t)n ? budget - (size_t)n : 0;
	}
}

void tcp_qp_event(struct tcp_qp *qp, uint32_t events)
{
	if (qp->pl.fd < 0)
		return;
	if (connecting_tcp(qp)) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(qp->pl.fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		qp->tcp_connecting = false;
		if (qp->conn)
			tcp_conn_on_socket_connected(qp->conn, err);
		else
			tcp_qp_break(qp, ND_CANCELED);
		if (qp->pl.fd >= 0)
			update_poll(qp);
		return;
	}
	if (qp->rx_phase == TCP_RX_STALL &&
	    (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		on_eof(qp, 0);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		qp_rx(qp);
	if (qp->pl.fd >= 0)
		tcp_qp_tx(qp);
}

/* Only an ACK waits to go: nothing is being sent, no request either. */
static bool lone_ack(const struct tcp_qp *qp)
{
	return !qp->tx_busy && qp->resp_count == 1 &&
	       qp->resp[qp->resp_head].kind == TCP_RESP_ACK &&
	       qp->sq_tx == qp->sq_count;
}

void tcp_qp_drive(struct tcp_qp *qp, bool own)
{
	bool acked;

	if (qp->pl.fd < 0 || qp->tcp_connecting)
		return;
	if (own && !qp->app_driven) {
		qp->app_driven = true;
		update_poll(qp);
	}
	acked = lone_ack(qp);
	if (qp->rx_phase == TCP_RX_HDR || qp->rx_phase == TCP_RX_PAYLOAD)
		qp_rx(qp);
	/* An ACK that this poll gave rise to waits for the application's
	 * reply (it rides in front of it, start_frame) or its next poll. */
	if (qp->app_driven && !acked && lone_ack(qp))
		return;
	if (qp->pl.fd >= 0)
		tcp_qp_tx(qp);
}

void tcp_qp_undrive(struct tcp_qp *qp)
{
	if (!qp->app_driven)
		return;
	qp->app_driven = false;
	update_poll(qp);
	if (qp->pl.fd >= 0 && !qp->tcp_connecting)
		tcp_qp_tx(qp); /* an ACK the poller left */
}

void tcp_qp_timer(struct tcp_qp *qp, uint64_t now)
{
	if (qp->rnr_deadline && now >= qp->rnr_deadline) {
		ND_INFO(TCP_LOG, "send found no receive for %d ms",
			TCP_RNR_TIMEOUT_MS);
		timer_clear(qp);
		tcp_qp_break(qp, ND_IO_TIMEOUT);
	}
	if (qp->state == TCP_QP_ACCEPTING && now >= qp->rtu_deadline) {
		ND_LOG_RATELIMITED(ND_LOG_INFO, TCP_LOG,
				   "accepted, the peer sent no RTU in %u ms",
				   qp->ad->connect_ms);
		tcp_qp_break(qp, ND_IO_TIMEOUT);
	}
}

void tcp_qp_liveness(struct tcp_qp *qp, uint64_t now)
{
	uint32_t limit = qp->ad->liveness_ms;

	if (qp->pl.fd < 0 || !limit || connecting_tcp(qp))
		return;
	if (!qp->sq_count && !qp->resp_count && !qp->tx_busy) {
		qp->still_since = 0; /* nothing owed either way */
		return;
	}
	if (!qp->still_since || qp->moved != qp->moved_seen) {
		qp->moved_seen = qp->moved;
		qp->still_since = now;
		return;
	}
	if (now - qp->still_since >= limit) {
		ND_INFO(TCP_LOG,
			"the peer moved nothing for %u ms with requests "
			"outstanding: the connection is dead",
			limit);
		tcp_qp_break(qp, ND_IO_TIMEOUT);
	}
}

/* The kernel's own bound for unacknowledged data and idle connections,
 * the same as ours for an unanswered peer. */
static void set_liveness(int fd, uint32_t ms)
{
	int on = 1, idle = ms < 2000 ? 1 : (int)(ms / 2000), cnt = 2;
	int intvl = idle;
	unsigned int user = ms;

	if (!ms)
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user)) <
		0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) <
		0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) <
		0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
		ND_DEBUG(TCP_LOG, "liveness socket options: %s",
			 strerror(errno));
}

bool tcp_qp_attach(struct tcp_qp *qp, int fd, enum tcp_qp_state state,
		   const struct sockaddr *peer)
{
	tcp_peer_ip(peer, &qp->peer_ip);
	set_liveness(fd, qp->ad->liveness_ms);
	reset_stream(qp);
	qp->pl.fd = fd;
	qp->state = state;
	qp->app_driven = false;
	qp->tcp_connecting = state == TCP_QP_CONNECTING;
	if (!tcp_poll_add(qp->ad, &qp->pl,
			  state == TCP_QP_CONNECTING ? EPOLLOUT : EPOLLIN)) {
		qp->pl.fd = -1;
		qp->state = TCP_QP_IDLE;
		return false;
	}
	/* The first socket starts the timer's tick (timer_timeout). */
	if (__atomic_add_fetch(&qp->ad->sockets, 1, __ATOMIC_RELAXED) == 1)
		nd_util_wake(qp->ad->wakefd);
	qp->still_since = 0;
	qp->rtu_deadline = nd_util_now_ms() + qp->ad->connect_ms;
	return true;
}

void tcp_qp_detach(struct tcp_qp *qp)
{
	close_socket(qp);
	reset_stream(qp);
	qp->state = TCP_QP_IDLE;
}

void tcp_srq_resume(struct tcp_srq *srq)
{
	for (struct tcp_qp *qp = srq->qps; qp && srq->count;
	     qp = qp->srq_next) {
		if (qp->rx_phase != TCP_RX_STALL)
			continue;
		qp_rx(qp);
		if (qp->pl.fd >= 0) {
			tcp_qp_tx(qp);
		}
	}
}

bool tcp_send_ctrl(int fd, uint8_t type, uint64_t addr, uint32_t token,
		   const void *pdata, uint32_t len)
{
	struct tcp_hdr h;
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)pdata, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	tcp_wire_fill(&h, type, 0, len, addr, token,
		      type == TCP_F_CONNECT ? TCP_WIRE_VERSION : 0);
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)(sizeof(h) + len);
}

/* --- posting --------------------------------------------------------------- */

static nd_status check_src_sges(struct tcp_qp *qp, const struct nd_sge *sge,
				uint32_t nsge, uint32_t right, uint64_t *total)
{
	nd_status st = ND_SUCCESS;
	uint64_t t = 0;

	for (uint32_t i = 0; i < nsge; i++) {
		uint32_t l = sge[i].buffer_length;
		t += l;
		if (!l || st != ND_SUCCESS)
			continue;
		struct tcp_mem *m =
		    tcp_mem_local(qp->ad, sge[i].memory_region_token);
		uint64_t a = (uintptr_t)sge[i].buffer;
		if (!m || (m->rights & right) != right ||
		    !nd_range_inside(m->base, m->length, a, l))
			st = ND_ACCESS_VIOLATION;
	}
	*total = t;
	return st;
}

/*
 * Whether the initiator queue takes one more request: connected, with room.
 * On a connection that ended with an error (or the peer's going) the
 * request is taken and completes ND_CANCELED at once, as every later
 * request must (spec: general rules for posting); *done says so. Never
 * connected, or disconnected by this side: ND_CONNECTION_INVALID.
 * Adapter lock held.
 */
static nd_status sq_admit(struct tcp_qp *qp, uint8_t op, void *ctx, bool *done)
{
	*done = false;
	if (ND_UNLIKELY(qp->state != TCP_QP_CONNECTED)) {
		if (qp->state != TCP_QP_ERROR || qp->disconnected)
			return ND_CONNECTION_INVALID;
		tcp_cq_push(qp->icq, ND_CANCELED, 0, qp->base.context, ctx,
			    op_type[op], false);
		*done = true;
		return ND_SUCCESS;
	}
	if (ND_UNLIKELY(qp->sq_count == qp->sq_depth))
		return ND_NO_MORE_ENTRIES;
	return ND_SUCCESS;
}

/* The request filled in at the end of the initiator queue is posted: it
 * goes on the wire now if the socket is idle. Adapter lock held. */
static void sq_push(struct tcp_qp *qp)
{
	qp->sq_count++;
	if (!qp->tx_busy)
		tcp_qp_tx(qp);
}

static nd_status post_op(struct tcp_qp *qp, uint8_t op, void *ctx,
			 const struct nd_sge *sge, uint32_t nsge,
			 uint64_t raddr, uint32_t rtoken, uint32_t flags)
{
	struct tcp_adapter *ad = qp->ad;
	nd_status st = ND_SUCCESS;
	uint64_t total = 0;
	bool inl = (flags & ND_OP_FLAG_INLINE) && op != TCP_OP_READ;
	bool done;

	if (ND_UNLIKELY(!inl && nsge > qp->sq_max_sge))
		return ND_DATA_OVERRUN;
	tcp_lock(ad);
	st = sq_admit(qp, op, ctx, &done);
	if (ND_UNLIKELY(st != ND_SUCCESS || done))
		goto out;
	struct tcp_swr *w = sq_at(qp, qp->sq_count);
	w->status = ND_SUCCESS;
	if (inl) {
		for (uint32_t i = 0; i < nsge; i++)
			total += sge[i].buffer_length;
		if (total > qp->inline_size) {
			st = ND_BUFFER_OVERFLOW;
			goto out;
		}
		uint8_t *p = w->inline_buf;
		for (uint32_t i = 0; i < nsge; i++) {
			if (!sge[i].buffer_length)
				continue;
			memcpy(p, sge[i].buffer, sge[i].buffer_length);
			p += sge[i].buffer_length;
		}
		w->nsge = 0;
	} else {
		w->status = check_src_sges(
		    qp, sge, nsge, op == TCP_OP_READ ? TCP_R_LOCAL_WRITE : 0,
		    &total);
		if (total > TCP_MAX_TRANSFER) {
			st = ND_BUFFER_OVERFLOW;
			goto out;
		}
		if (nsge)
			memcpy(w->sge, sge, nsge * sizeof(*sge));
		w->nsge = nsge;
	}
	w->is_inline = inl;
	w->rnr = 0;
	w->context = ctx;
	w->op = op;
	w->done = 0;
	w->flags = flags;
	w->length = (uint32_t)total;
	w->remote_addr = raddr;
	w->remote_token = rtoken;
	sq_push(qp);
out:
	tcp_unlock(ad);
	return st;
}

static nd_status qp_send(struct nd_qp *pub, void *ctx, const struct nd_sge *sge,
			 uint32_t nsge, uint32_t flags)
{
	return post_op(qp_of(pub), TCP_OP_SEND, ctx, sge, nsge, 0, 0, flags);
}

static nd_status qp_write(struct nd_qp *pub, void *ctx,
			  const struct nd_sge *sge, uint32_t nsge,
			  uint64_t addr, uint32_t token, uint32_t flags)
{
	return post_op(qp_of(pub), TCP_OP_WRITE, ctx, sge, nsge, addr, token,
		       flags);
}

static nd_status qp_read(struct nd_qp *pub, void *ctx, const struct nd_sge *sge,
			 uint32_t nsge, uint64_t addr, uint32_t token,
			 uint32_t flags)
{
	return post_op(qp_of(pub), TCP_OP_READ, ctx, sge, nsge, addr, token,
		       flags);
}

static nd_status qp_receive(struct nd_qp *pub, void *ctx,
			    const struct nd_sge *sge, uint32_t nsge)
{
	struct tcp_qp *qp = qp_of(pub);
	struct tcp_adapter *ad = qp->ad;
	nd_status st = ND_SUCCESS, vst;
	uint32_t len = 0;

	if (ND_UNLIKELY(qp->srq))
		return ND_INVALID_DEVICE_REQUEST;
	if (ND_UNLIKELY(nsge > qp->rq_max_sge))
		return ND_DATA_OVERRUN;
	tcp_lock(ad);
	if (ND_UNLIKELY(qp->rq_count == qp->rq_depth)) {
		st = ND_NO_MORE_ENTRIES;
		goto out;
	}
	vst = tcp_check_recv_sges(ad, sge, nsge, &len);
	if (vst == ND_BUFFER_OVERFLOW) {
		st = vst;
		goto out;
	}
	if (qp->state == TCP_QP_ERROR) {
		complete_recv(qp, ctx, ND_CANCELED, 0, false);
		goto out;
	}
	struct tcp_rwr *w = rq_at(qp, qp->rq_count);
	w->context = ctx;
	w->nsge = nsge;
	w->length = len;
	w->status = vst;
	if (nsge)
		memcpy(w->sge, sge, nsge * sizeof(*sge));
	qp->rq_count++;
	if (qp->rx_phase == TCP_RX_STALL && qp->pl.fd >= 0) {
		qp_rx(qp);
		if (qp->pl.fd >= 0)
			tcp_qp_tx(qp);
	}
out:
	tcp_unlock(ad);
	return st;
}

static nd_status qp_bind(struct nd_qp *pub, void *ctx, struct nd_mr *mrpub,
			 struct nd_mw *mwpub, const void *buffer, size_t length,
			 uint32_t flags)
{
	struct tcp_qp *qp = qp_of(pub);
	struct tcp_mr *mr = container_of(mrpub, struct tcp_mr, base.pub);
	struct tcp_mw *mw = container_of(mwpub, struct tcp_mw, base.pub);
	struct tcp_adapter *ad = qp->ad;
	uint64_t a = (uintptr_t)buffer;
	nd_status st = ND_SUCCESS;
	bool done;

	tcp_lock(ad);
	st = sq_admit(qp, TCP_OP_BIND, ctx, &done);
	if (ND_UNLIKELY(st != ND_SUCCESS || done))
		goto out;
	if (!mr->base.registered || !mr->mem.remote_token ||
	    !nd_range_inside(mr->mem.base, mr->mem.length, a, length) ||
	    ((flags & ND_OP_FLAG_ALLOW_WRITE) &&
	     !(mr->mem.rights & TCP_R_LOCAL_WRITE))) {
		st = ND_ACCESS_VIOLATION;
		goto out;
	}
	if (!tcp_mw_bind(
		mw, mr, qp, a, length,
		((flags & ND_OP_FLAG_ALLOW_READ) ? TCP_R_REMOTE_READ : 0) |
		    ((flags & ND_OP_FLAG_ALLOW_WRITE) ? TCP_R_REMOTE_WRITE
						      : 0))) {
		st = ND_INSUFFICIENT_RESOURCES;
		goto out;
	}

	struct tcp_swr *w = sq_at(qp, qp->sq_count);
	memset(w, 0, offsetof(struct tcp_swr, sge));
	w->context = ctx;
	w->op = TCP_OP_BIND;
	w->flags = flags;
	w->status = ND_SUCCESS;
	sq_push(qp);
out:
	tcp_unlock(ad);
	return st;
}

static nd_status qp_invalidate(struct nd_qp *pub, void *ctx,
			       struct nd_mw *mwpub, uint32_t flags)
{
	struct tcp_qp *qp = qp_of(pub);
	struct tcp_mw *mw = container_of(mwpub, struct tcp_mw, base.pub);
	struct tcp_adapter *ad = qp->ad;
	nd_status st = ND_SUCCESS;
	bool done;

	tcp_lock(ad);
	st = sq_admit(qp, TCP_OP_INVALIDATE, ctx, &done);
	if (ND_UNLIKELY(st != ND_SUCCESS || done))
		goto out;
	struct tcp_swr *w = sq_at(qp, qp->sq_count);
	memset(w, 0, offsetof(struct tcp_swr, sge));
	w->context = ctx;
	w->op = TCP_OP_INVALIDATE;
	w->flags = flags;
	w->status = ND_SUCCESS;
	if (!mw->bound) {
		w->status = ND_INVALID_DEVICE_REQUEST;
	} else {
		/* refused from now on, even for frames already queued */
		tcp_mw_unbind(mw);
	}
	sq_push(qp);
out:
	tcp_unlock(ad);
	return st;
}

static nd_status qp_flush(struct nd_qp_base *b)
{
	struct tcp_qp *qp = container_of(b, struct tcp_qp, base);
	struct tcp_adapter *ad = qp->ad;

	tcp_lock(ad);
	if (qp->conn) /* a Connect or Accept in progress ends ND_CANCELED */
		qp->conn->qp_flushed = true;
	tcp_qp_disconnect(qp);
	flush_rq(qp);
	tcp_unlock(ad);
	return ND_SUCCESS;
}

/* Windows bound to a QP die with it (ND): nothing can reach them any
 * more, and their grants end. Adapter locked. */
static void unbind_windows(struct tcp_qp *qp)
{
	while (qp->windows)
		tcp_mw_unbind(qp->windows);
}

static void qp_close(struct nd_object *obj)
{
	struct tcp_qp *qp = container_of(obj, struct tcp_qp, base.obj);

	tcp_lock(qp->ad);
	qp_flush(&qp->base);
	unbind_windows(qp);
	tcp_unlock(qp->ad);
}

static void qp_destroy(struct nd_object *obj)
{
	struct tcp_qp *qp = container_of(obj, struct tcp_qp, base.obj);
	struct tcp_adapter *ad = qp->ad;

	tcp_lock(ad);
	close_socket(qp);
	timer_clear(qp);
	unbind_windows(qp);
	if (qp->ad_prev)
		qp->ad_prev->ad_next = qp->ad_next;
	else
		ad->qps = qp->ad_next;
	if (qp->ad_next)
		qp->ad_next->ad_prev = qp->ad_prev;
	if (qp->srq) {
		struct tcp_qp **pp = &qp->srq->qps;
		while (*pp && *pp != qp)
			pp = &(*pp)->srq_next;
		if (*pp)
			*pp = qp->srq_next;
		if (qp->rx_phase == TCP_RX_STALL)
			qp->srq->stalled--;
	}
	tcp_unlock(ad);
	free(qp->rq);
	free(qp->rq_sges);
	free(qp->sq);
	free(qp->sq_sges);
	free(qp->sq_inline);
	free(qp);
}

static const struct nd_qp_fast_ops qp_fast = {
    .send = qp_send,
    .receive = qp_receive,
    .bind = qp_bind,
    .invalidate = qp_invalidate,
    .read = qp_read,
    .write = qp_write,
};
static const struct nd_qp_ops qp_ops = {
    .flush = qp_flush,
};
static const struct nd_object_ops qp_obj_ops = {
    .close = qp_close,
    .destroy = qp_destroy,
};

nd_status tcp_create_qp(struct nd_adapter_base *a, struct nd_cq *rcq,
			struct nd_cq *icq, struct nd_srq *srq, void *context,
			uint32_t receive_depth, uint32_t initiator_depth,
			uint32_t max_receive_sge, uint32_t max_initiator_sge,
			uint32_t inline_size, struct nd_qp **out)
{
	struct tcp_adapter *ad = tcp_adapter_of(a);
	struct tcp_qp *qp = calloc(1, sizeof(*qp));

	if (!qp)
		return ND_NO_MEMORY;
	qp->ad = ad;
	qp->rcq = container_of(rcq, struct tcp_cq, base.pub);
	qp->icq = container_of(icq, struct tcp_cq, base.pub);
	qp->srq = srq ? container_of(srq, struct tcp_srq, base.pub) : NULL;
	qp->pl.kind = TCP_POLL_QP;
	qp->pl.fd = -1;
	qp->pl.slot = UINT32_MAX;
	qp->rq_depth = receive_depth ? receive_depth : 1;
	qp->rq_max_sge = max_receive_sge;
	qp->sq_depth = initiator_depth ? initiator_depth : 1;
	qp->sq_max_sge = max_initiator_sge;
	qp->inline_size = inline_size;
	qp->read_limit = 1;

	size_t rs = max_receive_sge ? max_receive_sge : 1;
	size_t ss = max_initiator_sge ? max_initiator_sge : 1;
	qp->rq = calloc(qp->rq_depth, sizeof(*qp->rq));
	qp->rq_sges = calloc(qp->rq_depth * rs, sizeof(struct nd_sge));
	qp->sq = calloc(qp->sq_depth, sizeof(*qp->sq));
	qp->sq_sges = calloc(qp->sq_depth * ss, sizeof(struct nd_sge));
	qp->sq_inline = calloc(qp->sq_depth, inline_size ? inline_size : 1);
	if (!qp->rq || !qp->rq_sges || !qp->sq || !qp->sq_sges ||
	    !qp->sq_inline) {
		free(qp->rq);
		free(qp->rq_sges);
		free(qp->sq);
		free(qp->sq_sges);
		free(qp->sq_inline);
		free(qp);
		return ND_NO_MEMORY;
	}
	for (uint32_t i = 0; i < qp->rq_depth; i++)
		qp->rq[i].sge = &qp->rq_sges[i * rs];
	for (uint32_t i = 0; i < qp->sq_depth; i++) {
		qp->sq[i].sge = &qp->sq_sges[i * ss];
		qp->sq[i].inline_buf = &qp->sq_inline[i * (size_t)inline_size];
	}

	nd_qp_base_init(&qp->base, &qp_fast, &qp_obj_ops, &qp_ops, context, a);

	tcp_lock(ad);
	qp->serial = ++ad->qp_serial;
	qp->ad_next = ad->qps;
	if (ad->qps)
		ad->qps->ad_prev = qp;
	ad->qps = qp;
	if (qp->srq) {
		qp->srq_next = qp->srq->qps;
		qp->srq->qps = qp;
	}
	tcp_unlock(ad);
	*out = &qp->base.pub;
	return ND_SUCCESS;
}
