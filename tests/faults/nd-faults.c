/* SPDX-License-Identifier: MIT */
/*
 * Fault injection: what the survivor of a broken connection sees.
 *
 * The peer is a real second process (this program, exec'd again with
 * "--peer"), so SIGKILL is a real process death: the kernel closes its
 * sockets and destroys its QPs. Survivor and peer talk over a socketpair
 * (one text line per message) to synchronise; data moves only through nd.h.
 *
 * After each fault the survivor checks that every request it has
 * outstanding completes exactly once, in order, within FAULT_BOUND_MS, with
 * a success only before the first error of its queue and an error from the
 * list the scenario allows; that data it did receive or read is right byte
 * for byte; that it can release everything (ASan builds check the memory;
 * every build checks that released buffers stay untouched); and that it can
 * open a new connection and move data.
 *
 * Environment: ND_TEST_ADDR (local address of the device under test),
 * ND_PROVIDERS, and for verbs ND_TEST_SILENT_ADDR (an address on the
 * device's network that nobody answers).
 *
 * A dead link needs a peer on another host (or network namespace) whose
 * link can be cut: there, "nd-faults --serve" runs each peer the survivor
 * asks for over TCP (port FAULTS_CTL_PORT on the serving host's
 * ND_TEST_ADDR), and cuts and later restores its own link with the shell
 * commands ND_TEST_CUT_LINK and ND_TEST_RESTORE_LINK. The survivor is told
 * where by ND_TEST_REMOTE_PEER (that address); it then runs the dead-link
 * tests only, which otherwise skip. tests/conformance/netns.sh (tcp, two
 * namespaces) and tests/vm/two-host.sh (tcp and rxe0, two VMs) run them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "conf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024u * 1024u)

/* The bound: after a fault, every outstanding request completes
 * within it. */
#define FAULT_BOUND_MS	 10000
/* Steps of the survivor/peer protocol (slow under TCG emulation). */
#define STEP_MS		 30000
/* A connect to a silent address must end within the provider's connect
 * timeout; this is how long the test waits for it. */
#define SILENT_BOUND_MS	 30000
/* A cancel or release that must not wait for the network. */
#define PROMPT_MS	 3000
/* A peer that is never killed exits on its own after this long. */
#define PEER_LIFETIME_MS 120000
/* After cutting its link the peer keeps it down this long (or until the
 * survivor, if it still can, says "restore"): past the bound, so whatever
 * was still outstanding when the link came back has already failed the
 * test. Each dead-link test waits this out before the next can start. */
#define CUT_HOLD_MS	 (FAULT_BOUND_MS + 1000)
/* Requests posted this long after the peer reported the cut cannot have
 * crossed the link (the cut itself takes milliseconds). */
#define CUT_GRACE_MS	 1000
/* How long a survivor tries to reach a remote peer's server: a link the
 * previous test cut comes back CUT_HOLD_MS after the cut. */
#define REMOTE_WAIT_MS	 (CUT_HOLD_MS + STEP_MS)
#define FAULTS_CTL_PORT	 54390

#define QD	     64 /* queue depths */
#define STREAM_MSG   (32u * 1024u)
#define WINDOW	     16		 /* requests in flight while streaming */
#define FLOWING	     8		 /* completions that prove the stream flows */
#define RQ_PRE	     56		 /* receives the survivor posts up front */
#define SR_PEER_SEND 24		 /* messages the peer sends (sendrecv) */
#define SR_MAX_SEND  60		 /* survivor's sends (< the peer's receives) */
#define LARGE_TOTAL  (16u * MiB) /* the large transfer */
#define HELLO_LEN    64u
#define TGT_SEED     0x7a7a7a
#define CANARY	     0x5a
#define MAXREQ	     1024

/* --- small tools ------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void nap(void)
{
	struct timespec ts = {0, 200000};

	nanosleep(&ts, NULL);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static bool is_provider(struct tc *t, const char *name)
{
	struct nd_adapter_identity id;

	return nd_adapter_get_identity(t->ad, &id) == ND_SUCCESS &&
	       strcmp(id.provider, name) == 0;
}

/* iWARP acknowledges neither Sends nor Writes end to end: the initiator
 * completes them once they are handed to TCP (docs/providers/verbs.md). */
static bool no_end_to_end_ack(struct tc *t)
{
	struct nd_adapter_identity id;

	return nd_adapter_get_identity(t->ad, &id) == ND_SUCCESS &&
	       strcmp(id.transport, "iWARP") == 0;
}

/* Waits for an overlapped request through its status field (the object
 * may already be released). ND_PENDING if it did not finish in time. */
static nd_status wait_ov_status(struct nd_overlapped *ov, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (ov->status == ND_PENDING && now_ms() < end)
		nap();
	return ov->status;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static uint32_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* --- the control channel: one text line per message --------------------- */

struct ctl {
	int fd;
	char buf[256];
	size_t len;
};

static void ctl_put(struct ctl *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	/* a dead peer is an expected outcome here, not an error */
	(void)!send(c->fd, line, (size_t)n, MSG_NOSIGNAL);
}

/* The next line (without '\n'): true, or false on timeout or EOF. */
static bool ctl_get(struct ctl *c, char *out, size_t n, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t l = (size_t)(nl - c->buf);
			snprintf(out, n, "%.*s", (int)l, c->buf);
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return true;
		}
		uint64_t now = now_ms();
		struct pollfd p = {c->fd, POLLIN, 0};
		int left = now < end ? (int)(end - now) : 0;
		if (poll(&p, 1, left) <= 0)
			return false;
		ssize_t r = recv(c->fd, c->buf + c->len,
				 sizeof(c->buf) - c->len - 1, 0);
		if (r <= 0)
			return false;
		c->len += (size_t)r;
	}
}

/* Waits for a line starting with `word`; fails the test on anything
 * else ("fail ..." reports of the peer included). */
static void ctl_expect(struct ctl *c, const char *word, char *out, size_t n)
{
	char line[256];

	if (!ctl_get(c, line, sizeof(line), STEP_MS))
		fail_msg("peer: no \"%s\" within %d ms (it failed or ended: "
			 "see its messages above)",
			 word, STEP_MS);
	if (strncmp(line, word, strlen(word)) != 0)
		fail_msg("peer: expected \"%s\", got \"%s\"", word, line);
	if (out)
		snprintf(out, n, "%s", line);
}

/* --- the peer process, seen from the survivor -------------------------- */

struct peer {
	pid_t pid; /* 0: a remote peer, reached through ctl only */
	struct ctl ctl;
	bool gone;
};

static struct peer *live_peer; /* for teardown after a failed test */

/* ND_TEST_REMOTE_PEER: the host whose "nd-faults --serve" runs the peers. */
static struct sockaddr_storage remote_host;
static bool remote_peer;

/* Asks the remote server for a peer: one line of its arguments. The link
 * may still be down after the previous test's cut: retried meanwhile. */
static void peer_start_remote(struct peer *p, const char *const *args)
{
	struct sockaddr_storage ss = remote_host;
	uint64_t end = now_ms() + REMOTE_WAIT_MS;
	char line[256];
	size_t n = 0;
	int fd;

	set_port(&ss, FAULTS_CTL_PORT);
	for (;;) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&ss, ss_len(&ss)) == 0)
			break;
		close(fd);
		if (now_ms() >= end)
			fail_msg("ND_TEST_REMOTE_PEER: no nd-faults --serve "
				 "answers within %d ms: %s",
				 REMOTE_WAIT_MS, strerror(errno));
		nap_ms(200);
	}
	for (; *args; args++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s",
				      n ? " " : "", *args);
	p->ctl.fd = fd;
	live_peer = p;
	ctl_put(&p->ctl, "%s", line);
}

static void peer_start(struct peer *p, const char *const *args)
{
	const char *argv[12];
	char fdstr[16];
	int sv[2], n = 0;

	memset(p, 0, sizeof(*p));
	if (remote_peer) {
		peer_start_remote(p, args);
		return;
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int fd = dup(sv[1]); /* without CLOEXEC: the peer's end */
		snprintf(fdstr, sizeof(fdstr), "%d", fd);
		argv[n++] = "nd-faults";
		argv[n++] = "--peer";
		argv[n++] = fdstr;
		while (*args && n < 11)
			argv[n++] = *args++;
		argv[n] = NULL;
		dup2(2, 1); /* stdout carries the survivor's TAP */
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	p->ctl.fd = sv[0];
	live_peer = p;
}

/* Reaps the peer; its wait status, or fails after timeout_ms. */
static int peer_reap(struct peer *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int ws = 0;

	for (;;) {
		pid_t r = waitpid(p->pid, &ws, WNOHANG);
		if (r == p->pid)
			break;
		if (now_ms() >= end)
			fail_msg("peer %d did not exit within %d ms", p->pid,
				 timeout_ms);
		nap_ms(1);
	}
	p->gone = true;
	live_peer = NULL;
	return ws;
}

/* Freezes the peer: every one of its threads stops. */
static void peer_stop(struct peer *p)
{
	uint64_t end = now_ms() + STEP_MS;
	int ws = 0;

	assert_int_equal(kill(p->pid, SIGSTOP), 0);
	while (waitpid(p->pid, &ws, WNOHANG | WUNTRACED) != p->pid) {
		if (now_ms() >= end)
			fail_msg("peer did not stop");
		nap();
	}
	if (!WIFSTOPPED(ws))
		fail_msg("peer ended (status %#x) before it was stopped", ws);
}

static void peer_kill(struct peer *p)
{
	int ws;

	assert_int_equal(kill(p->pid, SIGKILL), 0);
	ws = peer_reap(p, STEP_MS);
	if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL)
		fail_msg("peer ended with status %#x before SIGKILL", ws);
}

/* The peer exits on its own with status 0. */
static void peer_expect_exit(struct peer *p)
{
	int ws = peer_reap(p, STEP_MS);

	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		fail_msg("peer failed: wait status %#x", ws);
}

static void peer_end(struct peer *p)
{
	if (!p->gone && p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->gone = true;
	}
	if (p->ctl.fd >= 0)
		close(p->ctl.fd);
	p->ctl.fd = -1;
	live_peer = NULL;
}

/* --- a connection with one registered buffer -------------------------- */

/*
 * Layout of the buffer: the hello receive and send, then `rslots`
 * receive slots and `sslots` send / read-sink slots of `msg` bytes, then
 * the target region that the peer writes and reads.
 */
struct link {
	struct tc *t;
	bool active;
	uint32_t msg, rslots, sslots;
	size_t tgt_len, len;
	uint8_t *buf, *hello_rx, *hello_tx, *rx, *tx, *tgt;
	struct nd_mr *mr;
	uint32_t ltok;
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *conn;
	struct nd_listener *lis;
	uint64_t raddr; /* the peer's target region */
	uint32_t rtok, rlen;
	uint32_t nsent; /* data messages sent: their sequence numbers */
	struct nd_overlapped disc_ov; /* NotifyDisconnect */
	nd_status disc_st;
	struct nd_result stash[2 * QD]; /* results seen while waiting */
	uint32_t nstash;
};

/* Request contexts: a tag and a sequence number. */
enum { TAG_HELLO_RECV = 1, TAG_HELLO_SEND, TAG_RECV, TAG_INIT };

static void *ctx_of(uint32_t tag, uint32_t seq)
{
	return (void *)(uintptr_t)((uint64_t)tag << 32 | seq);
}

static uint32_t ctx_tag(void *ctx)
{
	return (uint32_t)((uintptr_t)ctx >> 32);
}

static uint32_t ctx_seq(void *ctx)
{
	return (uint32_t)(uintptr_t)ctx;
}

struct msg_hdr {
	uint32_t magic;
	uint32_t seq;
	uint64_t addr;
	uint32_t token;
	uint32_t len;
};

#define MSG_MAGIC 0x4e444654u

static void link_init(struct link *l, struct tc *t, uint32_t msg,
		      uint32_t rslots, uint32_t sslots, size_t tgt_len)
{
	memset(l, 0, sizeof(*l));
	l->t = t;
	l->msg = msg;
	l->rslots = rslots;
	l->sslots = sslots;
	l->tgt_len = tgt_len;
	l->len = 2 * 4096 + (size_t)msg * (rslots + sslots) + tgt_len;
	l->buf = tc_alloc(l->len);
	l->hello_rx = l->buf;
	l->hello_tx = l->buf + 4096;
	l->rx = l->buf + 2 * 4096;
	l->tx = l->rx + (size_t)msg * rslots;
	l->tgt = l->tx + (size_t)msg * sslots;
	tc_fill(l->tgt, tgt_len, TGT_SEED);
	l->mr = tc_reg(
	    t, l->buf, l->len,
	    ND_MR_FLAG_ALLOW_LOCAL_WRITE | ND_MR_FLAG_ALLOW_REMOTE_READ |
		ND_MR_FLAG_ALLOW_REMOTE_WRITE | ND_MR_FLAG_RDMA_READ_SINK);
	l->ltok = nd_mr_get_local_token(l->mr);
	assert_int_equal(nd_adapter_create_cq(t->ad, 4 * QD, 0, 0, &l->cq),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_qp(t->ad, l->cq, l->cq, l, QD, QD, 1,
					      1, 0, &l->qp),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &l->conn),
			 ND_SUCCESS);
	l->disc_st = ND_CONNECTION_INVALID;
}

static nd_status post_recv(struct link *l, uint32_t tag, uint32_t seq)
{
	struct nd_sge sge = {l->rx + (size_t)(seq % l->rslots) * l->msg, l->msg,
			     l->ltok};

	if (tag == TAG_HELLO_RECV) {
		sge.buffer = l->hello_rx;
		sge.buffer_length = HELLO_LEN;
	}
	return nd_qp_receive(l->qp, ctx_of(tag, seq), &sge, 1);
}

/* The data message `seq`: a header, then a pattern seeded by seq. */
static void fill_msg(uint8_t *p, uint32_t len, uint32_t seq)
{
	struct msg_hdr h = {MSG_MAGIC, seq, 0, 0, len};

	memcpy(p, &h, sizeof(h));
	tc_fill(p + sizeof(h), len - sizeof(h), seq + 1);
}

/* NULL if the message is data message `seq`, else what is wrong. */
static const char *check_msg(const uint8_t *p, uint32_t len, uint32_t seq)
{
	static __thread uint8_t *want;
	static __thread uint32_t want_len;
	struct msg_hdr h;

	memcpy(&h, p, sizeof(h));
	if (h.magic != MSG_MAGIC || h.seq != seq || h.len != len)
		return "wrong header";
	if (want_len < len) {
		free(want);
		want = malloc(len);
		assert_non_null(want);
		want_len = len;
	}
	tc_fill(want, len - sizeof(h), seq + 1);
	return memcmp(p + sizeof(h), want, len - sizeof(h)) ? "wrong bytes"
							    : NULL;
}

/* The region pattern at [off, off+len) of a target filled with TGT_SEED. */
static bool check_tgt(const uint8_t *p, size_t off, uint32_t len,
		      size_t tgt_len)
{
	uint8_t *full = malloc(tgt_len);
	bool ok;

	assert_non_null(full);
	tc_fill(full, tgt_len, TGT_SEED);
	ok = memcmp(p, full + off, len) == 0;
	free(full);
	return ok;
}

/* One result: stashed ones first. */
static bool link_poll(struct link *l, struct nd_result *r)
{
	if (l->nstash) {
		*r = l->stash[0];
		memmove(l->stash, l->stash + 1, --l->nstash * sizeof(*r));
		return true;
	}
	return nd_cq_get_results(l->cq, r, 1) == 1;
}

/* Waits for the completion with context `ctx`; others are stashed. */
static nd_status link_wait(struct link *l, void *ctx)
{
	uint64_t end = now_ms() + STEP_MS;
	struct nd_result r;

	for (uint32_t i = 0; i < l->nstash; i++) {
		if (l->stash[i].request_context == ctx) {
			nd_status st = l->stash[i].status;
			memmove(l->stash + i, l->stash + i + 1,
				(--l->nstash - i) * sizeof(r));
			return st;
		}
	}
	while (now_ms() < end) {
		if (nd_cq_get_results(l->cq, &r, 1) != 1) {
			nap();
			continue;
		}
		if (r.request_context == ctx)
			return r.status;
		if (l->nstash == sizeof(l->stash) / sizeof(l->stash[0]))
			fail_msg("too many results while waiting");
		l->stash[l->nstash++] = r;
	}
	fail_msg("no completion for request %#lx within %d ms",
		 (unsigned long)(uintptr_t)ctx, STEP_MS);
	return ND_PENDING;
}

/* Passive side: a listener on ND_TEST_ADDR; returns its port. */
static uint16_t link_listen(struct link *l)
{
	struct sockaddr_storage ss;
	uint32_t len = sizeof(ss);

	assert_int_equal(nd_adapter_create_listener(l->t->ad, &l->lis),
			 ND_SUCCESS);
	assert_int_equal(nd_listener_bind(l->lis,
					  (struct sockaddr *)&l->t->addr,
					  l->t->addr_len),
			 ND_SUCCESS);
	assert_int_equal(nd_listener_listen(l->lis, 0), ND_SUCCESS);
	assert_int_equal(
	    nd_listener_get_local_address(l->lis, (struct sockaddr *)&ss, &len),
	    ND_SUCCESS);
	return get_port(&ss);
}

static void link_accept(struct link *l)
{
	struct nd_overlapped gov = {.flags = ND_OV_FLAG_NO_QUEUE};
	struct nd_overlapped aov = {.flags = ND_OV_FLAG_NO_QUEUE};

	assert_int_equal(tc_wait_ov(l->lis, &gov,
				    nd_listener_get_connection_request(
					l->lis, l->conn, &gov),
				    STEP_MS),
			 ND_SUCCESS);
	assert_int_equal(tc_wait_ov(l->conn, &aov,
				    nd_connector_accept(l->conn, l->qp, 16, 16,
							NULL, 0, &aov),
				    STEP_MS),
			 ND_SUCCESS);
}

static void link_connect(struct link *l, uint16_t port)
{
	struct nd_overlapped cov = {.flags = ND_OV_FLAG_NO_QUEUE};
	struct nd_overlapped ccov = {.flags = ND_OV_FLAG_NO_QUEUE};
	/* the peer listens on our own address unless it is remote */
	struct sockaddr_storage dest = remote_peer ? remote_host : l->t->addr;

	set_port(&dest, port);
	assert_int_equal(
	    tc_wait_ov(
		l->conn, &cov,
		nd_connector_connect(l->conn, l->qp, (struct sockaddr *)&dest,
				     ss_len(&dest), 16, 16, NULL, 0, &cov),
		STEP_MS),
	    ND_SUCCESS);
	assert_int_equal(
	    tc_wait_ov(l->conn, &ccov,
		       nd_connector_complete_connect(l->conn, &ccov), STEP_MS),
	    ND_SUCCESS);
	l->active = true;
}

/*
 * Each side tells the other where its target region is. The active side
 * sends first and the passive side answers once it has received (the
 * iWARP rule). The hello receive must be posted before connecting.
 */
static void link_hello(struct link *l)
{
	struct msg_hdr h = {MSG_MAGIC, UINT32_MAX, (uintptr_t)l->tgt,
			    nd_mr_get_remote_token(l->mr),
			    (uint32_t)l->tgt_len};
	struct nd_sge sge = {l->hello_tx, sizeof(h), l->ltok};
	void *sctx = ctx_of(TAG_HELLO_SEND, 0);
	void *rctx = ctx_of(TAG_HELLO_RECV, 0);

	memcpy(l->hello_tx, &h, sizeof(h));
	if (l->active) {
		assert_int_equal(nd_qp_send(l->qp, sctx, &sge, 1, 0),
				 ND_SUCCESS);
		assert_int_equal(link_wait(l, sctx), ND_SUCCESS);
		assert_int_equal(link_wait(l, rctx), ND_SUCCESS);
	} else {
		assert_int_equal(link_wait(l, rctx), ND_SUCCESS);
		assert_int_equal(nd_qp_send(l->qp, sctx, &sge, 1, 0),
				 ND_SUCCESS);
		assert_int_equal(link_wait(l, sctx), ND_SUCCESS);
	}
	memcpy(&h, l->hello_rx, sizeof(h));
	assert_int_equal(h.magic, MSG_MAGIC);
	l->raddr = h.addr;
	l->rtok = h.token;
	l->rlen = h.len;
}

static void link_notify_disconnect(struct link *l)
{
	l->disc_ov.flags = ND_OV_FLAG_NO_QUEUE;
	l->disc_st = nd_connector_notify_disconnect(l->conn, &l->disc_ov);
	if (l->disc_st != ND_PENDING && l->disc_st != ND_SUCCESS)
		fail_msg("NotifyDisconnect: %s", nd_strerror(l->disc_st));
}

/* The NotifyDisconnect status now (ND_PENDING while it runs). */
static nd_status link_disconnected(struct link *l)
{
	if (l->disc_st == ND_PENDING)
		return nd_get_overlapped_result(l->conn, &l->disc_ov, false);
	return l->disc_st;
}

/* Posts initiator request `seq` of kind `type` (send, write or read)
 * from local slot `slot`, at offset `roff` of the peer's region. */
static nd_status post_at(struct link *l, int32_t type, uint32_t seq,
			 uint32_t slot, uint64_t roff)
{
	uint8_t *p = l->tx + (size_t)slot * l->msg;
	struct nd_sge sge = {p, l->msg, l->ltok};
	void *ctx = ctx_of(TAG_INIT, seq);

	switch (type) {
	case ND_REQUEST_TYPE_SEND:
		fill_msg(p, l->msg, l->nsent++);
		return nd_qp_send(l->qp, ctx, &sge, 1, 0);
	case ND_REQUEST_TYPE_WRITE:
		fill_msg(p, l->msg, seq);
		return nd_qp_write(l->qp, ctx, &sge, 1, l->raddr + roff,
				   l->rtok, 0);
	default:
		memset(p, 0, l->msg);
		return nd_qp_read(l->qp, ctx, &sge, 1, l->raddr + roff, l->rtok,
				  0);
	}
}

/* Where streaming request `seq` goes: slots and regions used round robin. */
static uint32_t stream_slot(const struct link *l, uint32_t seq)
{
	return seq % l->sslots;
}

static uint64_t stream_roff(const struct link *l, uint32_t seq)
{
	uint32_t nslots = l->rlen / l->msg;

	return (uint64_t)(nslots ? seq % nslots : 0) * l->msg;
}

/* A successful read from `roff` brought the peer's pattern into `slot`. */
static bool check_read(struct link *l, uint32_t slot, uint64_t roff)
{
	return check_tgt(l->tx + (size_t)slot * l->msg, (size_t)roff, l->msg,
			 l->rlen);
}

/*
 * Releases every object. The buffer and the overlapped structures are then
 * filled with a canary that nothing may change any more (checked later by
 * link_check_untouched, after the survivor moved other data).
 */
static void link_release(struct link *l)
{
	if (l->lis)
		assert_int_equal(nd_listener_release(l->lis), ND_SUCCESS);
	assert_int_equal(nd_connector_release(l->conn), ND_SUCCESS);
	assert_int_equal(nd_qp_release(l->qp), ND_SUCCESS);
	assert_int_equal(nd_cq_release(l->cq), ND_SUCCESS);
	tc_dereg(l->mr);
	l->lis = NULL;
	l->conn = NULL;
	l->qp = NULL;
	l->cq = NULL;
	l->mr = NULL;
	memset(l->buf, CANARY, l->len);
	memset(&l->disc_ov, CANARY, sizeof(l->disc_ov));
}

static void link_check_untouched(struct link *l)
{
	const uint8_t *ov = (const uint8_t *)&l->disc_ov;

	for (size_t i = 0; i < l->len; i++)
		if (l->buf[i] != CANARY)
			fail_msg("released buffer changed at offset %zu", i);
	for (size_t i = 0; i < sizeof(l->disc_ov); i++)
		if (ov[i] != CANARY)
			fail_msg("completed overlapped changed after release");
	free(l->buf);
	l->buf = NULL;
}

/* --- the survivor moves data on a new connection ----------------------- */

/*
 * Connects a new pair on the adapter, moves data both ways and releases it.
 * ac, aqp, acq: objects of the caller's for the active side instead of new
 * ones (the pair releases them), or NULL.
 */
static void moves_data_with(struct tc *t, struct nd_connector *ac,
			    struct nd_qp *aqp, struct nd_cq *acq)
{
	const uint32_t len = min_u32(MiB, t->info.max_transfer_length);
	uint8_t *a = tc_alloc(3 * (size_t)len), *p = tc_alloc(2 * (size_t)len);
	const uint32_t rw =
	    ND_MR_FLAG_ALLOW_LOCAL_WRITE | ND_MR_FLAG_ALLOW_REMOTE_READ |
	    ND_MR_FLAG_ALLOW_REMOTE_WRITE | ND_MR_FLAG_RDMA_READ_SINK;
	struct nd_mr *amr = tc_reg(t, a, 3 * (size_t)len, rw);
	struct nd_mr *pmr = tc_reg(t, p, 2 * (size_t)len, rw);
	struct nd_sge s = {a, len, nd_mr_get_local_token(amr)};
	struct nd_sge r = {p, len, nd_mr_get_local_token(pmr)};
	struct nd_result res;
	struct tc_pair pair;

	tc_pair_init(t, &pair, NULL);
	if (ac) {
		assert_int_equal(nd_connector_release(pair.ac), ND_SUCCESS);
		pair.ac = ac;
	}
	if (aqp) {
		assert_int_equal(nd_qp_release(pair.aqp), ND_SUCCESS);
		pair.aqp = aqp;
	}
	if (acq) {
		assert_int_equal(nd_cq_release(pair.acq), ND_SUCCESS);
		pair.acq = acq;
	}
	assert_int_equal(nd_qp_receive(pair.pqp, NULL, &r, 1), ND_SUCCESS);
	r.buffer = p + len;
	r.buffer_length = 0;
	assert_int_equal(nd_qp_receive(pair.pqp, NULL, &r, 0), ND_SUCCESS);
	tc_pair_connect(&pair);

	/* send */
	tc_fill(a, len, 1);
	assert_int_equal(nd_qp_send(pair.aqp, NULL, &s, 1, 0), ND_SUCCESS);
	assert_true(tc_wait_cq(pair.acq, &res, TC_TIMEOUT_MS));
	assert_int_equal(res.status, ND_SUCCESS);
	assert_true(tc_wait_cq(pair.pcq, &res, TC_TIMEOUT_MS));
	assert_int_equal(res.status, ND_SUCCESS);
	assert_int_equal(res.bytes_transferred, len);
	assert_memory_equal(a, p, len);

	/* write, then a zero-byte send: its receive follows the placement */
	s.buffer = a + len;
	tc_fill(a + len, len, 2);
	assert_int_equal(nd_qp_write(pair.aqp, NULL, &s, 1,
				     (uintptr_t)(p + len),
				     nd_mr_get_remote_token(pmr), 0),
			 ND_SUCCESS);
	assert_int_equal(nd_qp_send(pair.aqp, NULL, NULL, 0, 0), ND_SUCCESS);
	for (int i = 0; i < 2; i++) {
		assert_true(tc_wait_cq(pair.acq, &res, TC_TIMEOUT_MS));
		assert_int_equal(res.status, ND_SUCCESS);
	}
	assert_true(tc_wait_cq(pair.pcq, &res, TC_TIMEOUT_MS));
	assert_int_equal(res.status, ND_SUCCESS);
	assert_memory_equal(a + len, p + len, len);

	/* read back what the send placed */
	s.buffer = a + 2 * (size_t)len;
	assert_int_equal(nd_qp_read(pair.aqp, NULL, &s, 1, (uintptr_t)p,
				    nd_mr_get_remote_token(pmr), 0),
			 ND_SUCCESS);
	assert_true(tc_wait_cq(pair.acq, &res, TC_TIMEOUT_MS));
	assert_int_equal(res.status, ND_SUCCESS);
	assert_memory_equal(a + 2 * (size_t)len, p, len);

	tc_pair_fini(&pair);
	tc_dereg(amr);
	tc_dereg(pmr);
	free(a);
	free(p);
}

static void survivor_moves_data(struct tc *t)
{
	moves_data_with(t, NULL, NULL, NULL);
}

/* --- bookkeeping of the survivor's requests ---------------------------- */

enum phase {
	PH_RUN = 0, /* posted while the peer ran */
	PH_STOPPED, /* posted while the peer was frozen, or its link cut */
	PH_DEAD,    /* posted after the peer was reaped */
};

struct req {
	uint8_t phase, done;
	int32_t type;
	nd_status st;
	uint32_t slot; /* reads: where the data lands, from where */
	uint64_t roff;
};

/* One queue (initiator or receive): requests complete in posting order. */
struct track {
	const char *name;
	struct req r[MAXREQ];
	uint32_t posted, done, ok, failed;
	uint32_t refused;  /* posts after the death that failed at once */
	int64_t first_err; /* seq of the first error, or -1 */
	uint32_t data_ok;  /* receives: data messages checked so far */
};

static void track_init(struct track *tr, const char *name)
{
	memset(tr, 0, sizeof(*tr));
	tr->name = name;
	tr->first_err = -1;
}

static struct req *track_post(struct track *tr, uint32_t seq, int32_t type,
			      enum phase ph)
{
	assert_true(seq < MAXREQ);
	tr->r[seq] = (struct req){(uint8_t)ph, 0, type, ND_PENDING, 0, 0};
	tr->posted = seq + 1;
	return &tr->r[seq];
}

/* What a request outstanding when the connection broke may complete with. */
static bool fault_status_ok(nd_status st)
{
	return st == ND_CANCELED || st == ND_IO_TIMEOUT ||
	       st == ND_CONNECTION_ABORTED || st == ND_CONNECTION_DISCONNECTED;
}

static void track_done(struct track *tr, const struct nd_result *r)
{
	uint32_t seq = ctx_seq(r->request_context);
	struct req *q = &tr->r[seq];

	if (seq >= tr->posted || q->done)
		fail_msg("%s: unexpected completion (%s) of request %u: %s",
			 tr->name, nd_strerror(r->status), seq,
			 seq >= tr->posted
			     ? (seq < tr->posted + tr->refused
				    ? "its post failed at once, so nothing "
				      "may follow"
				    : "never posted")
			     : "completed twice");
	if (seq != tr->done)
		fail_msg("%s: request %u completed before request %u", tr->name,
			 seq, tr->done);
	if (r->request_type != q->type)
		fail_msg("%s: request %u completed as type %d, posted as %d",
			 tr->name, seq, r->request_type, q->type);
	q->done = 1;
	q->st = r->status;
	tr->done++;
	if (r->status == ND_SUCCESS) {
		if (tr->first_err >= 0)
			fail_msg("%s: request %u succeeded after request %ld "
				 "failed",
				 tr->name, seq, (long)tr->first_err);
		tr->ok++;
		return;
	}
	if (!fault_status_ok(r->status))
		fail_msg("%s: request %u completed %s", tr->name, seq,
			 nd_strerror(r->status));
	if (tr->first_err < 0)
		tr->first_err = seq;
	tr->failed++;
}

/* --- the survivor's side of a stream broken by SIGKILL ----------------- */

struct stream {
	struct link l;
	struct peer peer;
	struct track init, recv;
	int32_t type;	   /* what the survivor posts, or -1: nothing */
	uint32_t max_init; /* the survivor's initiator budget */
	uint32_t run_cap;  /* of which it posts while the peer runs */
	uint32_t outstanding;
	bool ready;
};

static void stream_result(struct stream *s, const struct nd_result *r)
{
	struct link *l = &s->l;
	uint32_t tag = ctx_tag(r->request_context);
	uint32_t seq = ctx_seq(r->request_context);

	if (tag == TAG_RECV) {
		track_done(&s->recv, r);
		if (r->status == ND_SUCCESS) {
			const char *bad = check_msg(
			    l->rx + (size_t)(seq % l->rslots) * l->msg,
			    r->bytes_transferred, s->recv.data_ok);
			if (bad)
				fail_msg("receive %u: %s", seq, bad);
			s->recv.data_ok++;
		}
	} else if (tag == TAG_INIT) {
		track_done(&s->init, r);
		s->outstanding--;
		struct req *q = &s->init.r[seq];
		if (r->status == ND_SUCCESS &&
		    r->request_type == ND_REQUEST_TYPE_READ &&
		    !check_read(l, q->slot, q->roff))
			fail_msg("read %u brought wrong bytes", seq);
	} else {
		fail_msg("unexpected completion, context %#lx",
			 (unsigned long)(uintptr_t)r->request_context);
	}
}

static void stream_poll(struct stream *s)
{
	struct nd_result r;

	while (link_poll(&s->l, &r))
		stream_result(s, &r);
}

/* Posts initiator requests while below `outstanding` and the budget.
 * After the peer's death a post may fail at once (nothing follows). */
static void stream_fill(struct stream *s, uint32_t outstanding, enum phase ph)
{
	uint32_t cap = ph == PH_RUN ? s->run_cap : s->max_init;

	while (s->type >= 0 && s->outstanding < outstanding &&
	       s->init.posted < cap) {
		uint32_t seq = s->init.posted;
		uint32_t slot = stream_slot(&s->l, seq);
		uint64_t roff = stream_roff(&s->l, seq);
		nd_status st = post_at(&s->l, s->type, seq, slot, roff);

		if (st == ND_CONNECTION_INVALID && ph == PH_DEAD) {
			s->init.refused++;
			return;
		}
		if (st != ND_SUCCESS)
			fail_msg("posting request %u: %s", seq,
				 nd_strerror(st));
		struct req *q = track_post(&s->init, seq, s->type, ph);
		q->slot = slot;
		q->roff = roff;
		s->outstanding++;
	}
}

static void stream_post_recv(struct stream *s, enum phase ph)
{
	uint32_t seq = s->recv.posted;
	nd_status st = post_recv(&s->l, TAG_RECV, seq);

	if (st == ND_CONNECTION_INVALID && ph == PH_DEAD) {
		s->recv.refused++;
		return;
	}
	assert_int_equal(st, ND_SUCCESS);
	track_post(&s->recv, seq, ND_REQUEST_TYPE_RECEIVE, ph);
}

static const char *kind_name(int32_t type)
{
	switch (type) {
	case ND_REQUEST_TYPE_SEND:
		return "send";
	case ND_REQUEST_TYPE_WRITE:
		return "write";
	default:
		return "read";
	}
}

/*
 * A frozen process's RDMA device serves its memory: the writes and reads
 * posted while it is frozen complete, and succeed, within the bound.
 */
static void device_serves_frozen(struct stream *s, uint64_t since)
{
	while (s->init.done < s->init.posted) {
		if (now_ms() - since > FAULT_BOUND_MS)
			fail_msg("frozen peer: %u of %u requests completed "
				 "within %u ms",
				 s->init.done, s->init.posted, FAULT_BOUND_MS);
		stream_poll(s);
		nap();
	}
	if (s->init.failed)
		fail_msg("frozen peer: %u requests failed, though its device "
			 "serves it",
			 s->init.failed);
}

/*
 * A frozen peer on a device posts no more receives: once the ones it has
 * are used up, the next send fails ND_IO_TIMEOUT after the device's
 * receiver-not-ready retries, and that breaks the connection (on iWARP
 * the peer's device ends it at once).
 */
static void device_rnr(struct stream *s, uint64_t since)
{
	while (s->init.failed == 0) {
		if (now_ms() - since > FAULT_BOUND_MS)
			fail_msg("frozen peer: no send failed within %u ms "
				 "(%u of %u sends completed)",
				 FAULT_BOUND_MS, s->init.done, s->init.posted);
		stream_fill(s, 2 * WINDOW, PH_STOPPED);
		stream_poll(s);
		nap();
	}
	/* iWARP has no receiver-not-ready: the receiver ends the stream */
	if (!no_end_to_end_ack(s->l.t))
		assert_int_equal(s->init.r[s->init.first_err].st,
				 ND_IO_TIMEOUT);
}

/* What breaks a stream. */
enum fault {
	FAULT_KILL,   /* the peer is frozen, then SIGKILLed */
	FAULT_FREEZE, /* the peer stays frozen (SIGSTOP) */
	FAULT_CUT,    /* the peer's link goes down (a remote peer) */
};

static const char *const fault_name[] = {"SIGKILL", "SIGSTOP",
					 "the link was cut"};

/* Whether a request posted in phase `ph` may still succeed. */
static bool may_succeed(struct tc *t, enum fault f, const struct req *q)
{
	if (q->phase == PH_RUN)
		return true;
	/* iWARP completes sends and writes once handed to TCP */
	if (q->type != ND_REQUEST_TYPE_READ && no_end_to_end_ack(t))
		return true;
	/* a frozen process's RDMA device still serves it; on tcp the
	 * peer process itself acknowledges */
	return q->phase == PH_STOPPED && f != FAULT_CUT &&
	       !is_provider(t, "tcp");
}

/*
 * kind: the stream (send = both directions; write or read: one side is
 * the initiator). s_initiator: the survivor posts the writes or reads.
 * After FAULT_FREEZE and FAULT_CUT the survivor's liveness bound must end
 * the connection.
 */
static void run_stream_as(struct tc *t, int32_t kind, bool s_active,
			  bool s_initiator, enum fault f)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct link *l = &s->l;
	bool sendrecv = kind == ND_REQUEST_TYPE_SEND;
	bool p_initiator = sendrecv || !s_initiator;
	const char *args[] = {"stream", kind_name(kind),
			      s_active ? "passive" : "active",
			      p_initiator ? "initiator" : "target", NULL};
	uint32_t msg = min_u32(STREAM_MSG, t->info.max_transfer_length);
	char line[256];
	uint64_t end, fault_at = 0;

	assert_non_null(s);
	track_init(&s->init, "initiator queue");
	track_init(&s->recv, "receive queue");
	s->type = sendrecv || s_initiator ? kind : -1;
	s->max_init = sendrecv ? SR_MAX_SEND : MAXREQ;
	/* leave room for the requests posted after the freeze and death */
	s->run_cap = sendrecv ? SR_MAX_SEND - 2 * WINDOW - 4 : MAXREQ;
	/* a frozen peer on a device: more sends than it has receives */
	if (f == FAULT_FREEZE && sendrecv)
		s->max_init = QD + 2 * WINDOW;
	peer_start(&s->peer, args);
	link_init(l, t, msg, QD, QD, (size_t)QD * msg);
	assert_int_equal(post_recv(l, TAG_HELLO_RECV, 0), ND_SUCCESS);
	for (uint32_t i = 0; i < RQ_PRE; i++)
		stream_post_recv(s, PH_RUN);
	if (s_active) {
		ctl_expect(&s->peer.ctl, "port", line, sizeof(line));
		link_connect(l, (uint16_t)atoi(line + 5));
	} else {
		ctl_put(&s->peer.ctl, "port %u", link_listen(l));
		link_accept(l);
	}
	link_hello(l);
	link_notify_disconnect(l);

	/* stream until the peer says it flows and so do we */
	end = now_ms() + STEP_MS;
	for (;;) {
		bool flowing = (s->type < 0 || s->init.ok >= FLOWING) &&
			       (!sendrecv || s->recv.data_ok >= FLOWING);
		stream_fill(s, WINDOW, PH_RUN);
		stream_poll(s);
		if (!s->ready && ctl_get(&s->peer.ctl, line, sizeof(line), 0)) {
			if (strcmp(line, "ready") != 0)
				fail_msg("peer: %s", line);
			s->ready = true;
		}
		if (s->ready && flowing)
			break;
		if (now_ms() > end)
			fail_msg("stream did not flow: %u/%u initiator, %u "
				 "receive completions, peer %sready",
				 s->init.ok, s->init.posted, s->recv.data_ok,
				 s->ready ? "" : "not ");
		if (s->init.failed || s->recv.failed)
			fail_msg("a request failed while the peer lived");
		nap();
	}

	switch (f) {
	case FAULT_CUT:
		ctl_put(&s->peer.ctl, "cut");
		ctl_expect(&s->peer.ctl, "cutting", NULL, 0);
		fault_at = now_ms();
		/* what was in flight may still cross before the cut */
		while (now_ms() - fault_at < CUT_GRACE_MS) {
			stream_poll(s);
			nap();
		}
		stream_fill(s, 2 * WINDOW, PH_STOPPED);
		stream_post_recv(s, PH_STOPPED);
		break;
	case FAULT_FREEZE:
		peer_stop(&s->peer);
		fault_at = now_ms();
		stream_fill(s, 2 * WINDOW, PH_STOPPED);
		stream_post_recv(s, PH_STOPPED);
		if (is_provider(t, "tcp"))
			break;
		if (sendrecv) {
			device_rnr(s, fault_at);
			break;
		}
		device_serves_frozen(s, fault_at);
		peer_kill(&s->peer);
		f = FAULT_KILL;
		fault_at = now_ms();
		stream_fill(s, 2 * WINDOW + 4, PH_DEAD);
		stream_post_recv(s, PH_DEAD);
		break;
	case FAULT_KILL:
		/* freeze the peer, fill the pipeline, kill it */
		peer_stop(&s->peer);
		stream_fill(s, 2 * WINDOW, PH_STOPPED);
		peer_kill(&s->peer);
		fault_at = now_ms();
		/* requests posted after the death */
		stream_fill(s, 2 * WINDOW + 4, PH_DEAD);
		stream_post_recv(s, PH_DEAD);
		stream_post_recv(s, PH_DEAD);
		break;
	}

	/* every request completes within the bound, and so does
	 * NotifyDisconnect */
	while (s->init.done < s->init.posted || s->recv.done < s->recv.posted ||
	       link_disconnected(l) == ND_PENDING) {
		if (now_ms() - fault_at > FAULT_BOUND_MS)
			fail_msg("%u ms after %s: initiator %u/%u, "
				 "receive %u/%u completed, NotifyDisconnect "
				 "%s",
				 FAULT_BOUND_MS, fault_name[f], s->init.done,
				 s->init.posted, s->recv.done, s->recv.posted,
				 nd_strerror(link_disconnected(l)));
		stream_poll(s);
		nap();
	}
	assert_int_equal(link_disconnected(l), ND_SUCCESS);
	print_message("# every request completed %llu ms after %s\n",
		      (unsigned long long)(now_ms() - fault_at), fault_name[f]);

	/* what could not have succeeded did not */
	for (uint32_t i = 0; i < s->init.posted; i++) {
		struct req *q = &s->init.r[i];
		if (q->st == ND_SUCCESS && !may_succeed(t, f, q))
			fail_msg("%s %u posted %s succeeded",
				 kind_name(q->type), i,
				 q->phase == PH_DEAD ? "after the peer died"
				 : f == FAULT_CUT    ? "after the link was cut"
						     : "while the peer was "
						       "frozen");
	}
	/* the peer sent at most SR_PEER_SEND messages */
	if (s->recv.ok > (sendrecv ? SR_PEER_SEND : 0))
		fail_msg("%u receives succeeded", s->recv.ok);
	assert_true(s->recv.failed > 0);
	print_message("# %s: initiator %u ok %u failed; receives %u ok %u "
		      "failed\n",
		      kind_name(kind), s->init.ok, s->init.failed, s->recv.ok,
		      s->recv.failed);

	/* disconnecting after the peer's death still succeeds */
	{
		struct nd_overlapped ov = {.flags = ND_OV_FLAG_NO_QUEUE};
		assert_int_equal(
		    tc_wait_ov(l->conn, &ov,
			       nd_connector_disconnect(l->conn, &ov),
			       FAULT_BOUND_MS),
		    ND_SUCCESS);
	}
	link_release(l);
	if (f == FAULT_CUT)
		ctl_put(&s->peer.ctl, "restore"); /* if the channel survived */
	peer_end(&s->peer);
	survivor_moves_data(t);
	link_check_untouched(l);
	free(s);
}

static void run_stream(struct tc *t, int32_t kind, bool s_active,
		       bool s_initiator)
{
	run_stream_as(t, kind, s_active, s_initiator, FAULT_KILL);
}

/* --- the peer's side of a stream ---------------------------------------- */

static void peer_fail(struct ctl *c, const char *what, nd_status st)
{
	ctl_put(c, "fail %s: %s", what, nd_strerror(st));
	fprintf(stderr, "nd-faults peer: %s: %s\n", what, nd_strerror(st));
	exit(1);
}

/* Runs the shell command in environment variable `var`; false if unset
 * or it failed. */
static bool run_env_command(const char *var)
{
	const char *cmd = getenv(var);
	int ws;

	if (!cmd || !*cmd) {
		fprintf(stderr, "nd-faults peer: %s is not set\n", var);
		return false;
	}
	ws = system(cmd);
	if (ws == -1 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		fprintf(stderr, "nd-faults peer: %s (%s) failed: status %#x\n",
			var, cmd, ws);
		return false;
	}
	return true;
}

/*
 * The survivor asked for a dead link: cut it (ND_TEST_CUT_LINK), leave
 * everything of ours as it is, and restore the link (ND_TEST_RESTORE_LINK)
 * when the survivor says so or CUT_HOLD_MS have passed. "cutting" goes out
 * before the cut: across the cut link nothing would arrive.
 */
static void peer_cut(struct ctl *c)
{
	char line[64];
	int rc = 0;

	ctl_put(c, "cutting");
	if (!run_env_command("ND_TEST_CUT_LINK"))
		exit(1);
	(void)ctl_get(c, line, sizeof(line), CUT_HOLD_MS);
	if (!run_env_command("ND_TEST_RESTORE_LINK"))
		rc = 1;
	exit(rc);
}

/* A line from the survivor while the peer runs. */
static void peer_command(struct ctl *c, const char *line)
{
	if (strcmp(line, "cut") == 0)
		peer_cut(c);
	fprintf(stderr, "nd-faults peer: unexpected \"%s\"\n", line);
	exit(1);
}

/* The peer has nothing left to do but wait for its end. */
static void peer_idle(struct link *l, struct ctl *c)
{
	uint64_t end = now_ms() + PEER_LIFETIME_MS;
	struct nd_result r;
	char line[64];

	while (now_ms() < end) {
		while (nd_cq_get_results(l->cq, &r, 1) == 1)
			if (r.status != ND_SUCCESS)
				peer_fail(c, "idle", r.status);
		if (ctl_get(c, line, sizeof(line), 1))
			peer_command(c, line);
		else if (recv(c->fd, line, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			exit(0); /* the survivor is gone */
	}
	exit(2);
}

static void peer_connect(struct link *l, struct ctl *c, bool active)
{
	char line[64];

	if (active) {
		if (!ctl_get(c, line, sizeof(line), STEP_MS) ||
		    strncmp(line, "port ", 5) != 0)
			exit(3);
		link_connect(l, (uint16_t)atoi(line + 5));
	} else {
		ctl_put(c, "port %u", link_listen(l));
		link_accept(l);
	}
	link_hello(l);
}

static int peer_stream(struct tc *t, struct ctl *c, const char *kind,
		       bool active, bool initiator)
{
	int32_t type = strcmp(kind, "send") == 0    ? ND_REQUEST_TYPE_SEND
		       : strcmp(kind, "write") == 0 ? ND_REQUEST_TYPE_WRITE
						    : ND_REQUEST_TYPE_READ;
	uint32_t msg = min_u32(STREAM_MSG, t->info.max_transfer_length);
	uint32_t posted = 0, done = 0, got = 0, ok = 0;
	uint64_t end = now_ms() + PEER_LIFETIME_MS;
	struct nd_result r;
	struct link l;
	bool ready = false;
	char line[64];

	link_init(&l, t, msg, QD, QD, (size_t)QD * msg);
	/* receives complete in posting order: the hello comes first */
	assert_int_equal(post_recv(&l, TAG_HELLO_RECV, 0), ND_SUCCESS);
	if (type == ND_REQUEST_TYPE_SEND)
		for (uint32_t i = 0; i < QD - 1; i++)
			assert_int_equal(post_recv(&l, TAG_RECV, i),
					 ND_SUCCESS);
	peer_connect(&l, c, active);
	if (!initiator) {
		ctl_put(c, "ready");
		peer_idle(&l, c);
	}
	while (now_ms() < end) {
		uint32_t window = type == ND_REQUEST_TYPE_SEND ? 8 : WINDOW;
		uint32_t limit =
		    type == ND_REQUEST_TYPE_SEND ? SR_PEER_SEND : UINT32_MAX;
		nd_status st;

		while (posted - done < window && posted < limit) {
			st = post_at(&l, type, posted, stream_slot(&l, posted),
				     stream_roff(&l, posted));
			if (st != ND_SUCCESS)
				peer_fail(c, "post", st);
			posted++;
		}
		while (link_poll(&l, &r)) {
			uint32_t seq = ctx_seq(r.request_context);
			if (r.status != ND_SUCCESS)
				peer_fail(c, "completion", r.status);
			if (ctx_tag(r.request_context) == TAG_RECV) {
				if (check_msg(l.rx + (size_t)(seq % l.rslots) *
							 l.msg,
					      r.bytes_transferred, got))
					peer_fail(c, "received data",
						  ND_DATA_ERROR);
				got++;
				continue;
			}
			done++;
			ok++;
			if (r.request_type == ND_REQUEST_TYPE_READ &&
			    !check_read(&l, stream_slot(&l, seq),
					stream_roff(&l, seq)))
				peer_fail(c, "read data", ND_DATA_ERROR);
		}
		if (ready && ctl_get(c, line, sizeof(line), 0))
			peer_command(c, line);
		if (!ready &&
		    ok >= (type == ND_REQUEST_TYPE_SEND ? SR_PEER_SEND
							: FLOWING) &&
		    (type != ND_REQUEST_TYPE_SEND || got >= FLOWING)) {
			ctl_put(c, "ready");
			ready = true;
		}
		nap();
	}
	return 2;
}

/* --- tests: SIGKILL during streams -------------------------------------- */

/*
 * A frozen peer (SIGSTOP; its kernel still acknowledges TCP): on tcp the
 * survivor's liveness bound (docs/providers/tcp.md) ends the connection
 * and every request outstanding, within FAULT_BOUND_MS. An RDMA device
 * serves a frozen process's memory itself: there its writes and reads
 * succeed, and its sends fail once the peer's receives are used up
 * (receiver not ready; docs/providers/verbs.md).
 */
static void run_frozen(struct tc *t, int32_t kind)
{
	if (remote_peer)
		TC_SKIP("a remote peer cannot be frozen from here");
	run_stream_as(t, kind, true, true, FAULT_FREEZE);
}

/*
 * A dead link: the remote peer's link goes down in the middle of a stream
 * (its end of the cable pulled; nothing is sent or answered any more).
 * The survivor's bound ends every outstanding request: on tcp the
 * kernel's TCP_USER_TIMEOUT and the liveness bound, on verbs the
 * device's transport retries (docs/reliability.md).
 */
static void run_dead_link(struct tc *t, int32_t kind)
{
	if (!remote_peer)
		TC_SKIP("needs a peer across a link it can cut: "
			"ND_TEST_REMOTE_PEER, as tests/conformance/netns.sh "
			"and tests/vm/two-host.sh set it");
	run_stream_as(t, kind, true, true, FAULT_CUT);
}

static void test_dead_link_sendrecv(void **state)
{
	run_dead_link(*state, ND_REQUEST_TYPE_SEND);
}

static void test_dead_link_write(void **state)
{
	run_dead_link(*state, ND_REQUEST_TYPE_WRITE);
}

static void test_dead_link_read(void **state)
{
	run_dead_link(*state, ND_REQUEST_TYPE_READ);
}

static void test_frozen_peer_sendrecv(void **state)
{
	run_frozen(*state, ND_REQUEST_TYPE_SEND);
}

static void test_frozen_peer_write(void **state)
{
	run_frozen(*state, ND_REQUEST_TYPE_WRITE);
}

static void test_frozen_peer_read(void **state)
{
	run_frozen(*state, ND_REQUEST_TYPE_READ);
}

static void test_kill_sendrecv_active(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_SEND, true, true);
}

static void test_kill_sendrecv_passive(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_SEND, false, true);
}

static void test_kill_write_initiator_active(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_WRITE, true, true);
}

static void test_kill_write_initiator_passive(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_WRITE, false, true);
}

static void test_kill_write_target_active(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_WRITE, true, false);
}

static void test_kill_write_target_passive(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_WRITE, false, false);
}

static void test_kill_read_initiator_active(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_READ, true, true);
}

static void test_kill_read_initiator_passive(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_READ, false, true);
}

static void test_kill_read_target_active(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_READ, true, false);
}

static void test_kill_read_target_passive(void **state)
{
	run_stream(*state, ND_REQUEST_TYPE_READ, false, false);
}

/* --- disconnect during a large transfer ---------------------------------- */

/*
 * The initiator posts LARGE_TOTAL bytes each of sends, writes (into the
 * second half of the target's region) and reads (from the first half, so
 * they see the target's pattern), then one side disconnects. Everything
 * either side has outstanding completes within the bound: sends, writes
 * and reads may finish first, the rest and every spare receive fail.
 */
struct large {
	uint32_t len, n; /* n requests of len bytes per kind */
};

static struct large large_of(struct tc *t)
{
	struct large g;

	g.len = min_u32(LARGE_TOTAL, t->info.max_transfer_length);
	g.n = (LARGE_TOTAL + g.len - 1) / g.len;
	return g;
}

/* Sets up one side: the target has a receive per send plus two spare,
 * the initiator two spare receives and a slot per request. */
static void large_init(struct stream *s, struct tc *t, bool initiator)
{
	struct large g = large_of(t);

	track_init(&s->init, "initiator queue");
	track_init(&s->recv, "receive queue");
	if (initiator)
		link_init(&s->l, t, g.len, 2, 3 * g.n, 0);
	else
		link_init(&s->l, t, g.len, g.n + 2, 1, 2 * (size_t)g.n * g.len);
	assert_int_equal(post_recv(&s->l, TAG_HELLO_RECV, 0), ND_SUCCESS);
	for (uint32_t i = 0; i < (initiator ? 2 : g.n + 2); i++)
		stream_post_recv(s, PH_RUN);
}

static void large_post(struct stream *s)
{
	struct link *l = &s->l;
	struct large g = large_of(l->t);
	const int32_t order[] = {ND_REQUEST_TYPE_READ, ND_REQUEST_TYPE_SEND,
				 ND_REQUEST_TYPE_WRITE};

	for (uint32_t k = 0; k < 3; k++) {
		for (uint32_t i = 0; i < g.n; i++) {
			uint32_t seq = s->init.posted;
			uint64_t roff =
			    (uint64_t)(order[k] == ND_REQUEST_TYPE_WRITE
					   ? g.n + i
					   : i) *
			    g.len;
			struct req *q =
			    track_post(&s->init, seq, order[k], PH_RUN);
			q->slot = seq;
			q->roff = roff;
			assert_int_equal(post_at(l, order[k], seq, seq, roff),
					 ND_SUCCESS);
		}
	}
}

/* Everything posted completes within the bound from `from`. */
static void large_drain(struct stream *s, uint64_t from)
{
	while (s->init.done < s->init.posted || s->recv.done < s->recv.posted) {
		if (now_ms() - from > FAULT_BOUND_MS)
			fail_msg("%u ms after the disconnect: initiator "
				 "%u/%u, receive %u/%u completed",
				 FAULT_BOUND_MS, s->init.done, s->init.posted,
				 s->recv.done, s->recv.posted);
		stream_poll(s);
		nap();
	}
}

static void large_disconnect(struct stream *s)
{
	struct nd_overlapped ov = {.flags = ND_OV_FLAG_NO_QUEUE};

	assert_int_equal(tc_wait_ov(s->l.conn, &ov,
				    nd_connector_disconnect(s->l.conn, &ov),
				    FAULT_BOUND_MS),
			 ND_SUCCESS);
}

static void run_large(struct tc *t, bool s_initiator, bool s_disconnects)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct link *l = &s->l;
	const char *args[] = {"large", s_initiator ? "passive" : "active",
			      s_initiator ? "target" : "initiator",
			      s_disconnects ? "survivor" : "peer", NULL};
	char line[256];
	uint64_t from;

	assert_non_null(s);
	peer_start(&s->peer, args);
	large_init(s, t, s_initiator);
	if (s_initiator) {
		ctl_expect(&s->peer.ctl, "port", line, sizeof(line));
		link_connect(l, (uint16_t)atoi(line + 5));
	} else {
		ctl_put(&s->peer.ctl, "port %u", link_listen(l));
		link_accept(l);
	}
	link_hello(l);
	if (!s_disconnects)
		link_notify_disconnect(l);
	if (s_initiator)
		large_post(s);
	else
		ctl_expect(&s->peer.ctl, "posted", NULL, 0);
	from = now_ms();
	if (s_disconnects) {
		large_disconnect(s);
	} else {
		ctl_put(&s->peer.ctl, "go");
	}
	large_drain(s, from);
	if (!s_disconnects) {
		while (link_disconnected(l) == ND_PENDING &&
		       now_ms() - from < FAULT_BOUND_MS)
			nap();
		assert_int_equal(link_disconnected(l), ND_SUCCESS);
		large_disconnect(s);
	}
	/* the spare receives never had a message */
	if (s->recv.failed < 2)
		fail_msg("%u receives failed, expected at least the 2 spare",
			 s->recv.failed);
	print_message("# initiator %u ok %u failed; receives %u ok %u "
		      "failed\n",
		      s->init.ok, s->init.failed, s->recv.ok, s->recv.failed);
	ctl_expect(&s->peer.ctl, "ok", NULL, 0);
	peer_expect_exit(&s->peer);
	link_release(l);
	peer_end(&s->peer);
	survivor_moves_data(t);
	link_check_untouched(l);
	free(s);
}

static int peer_large(struct tc *t, struct ctl *c, bool active, bool initiator,
		      bool disconnects)
{
	struct stream *s = calloc(1, sizeof(*s));
	char line[64];
	uint64_t from;

	assert_non_null(s);
	large_init(s, t, initiator);
	if (active) {
		if (!ctl_get(c, line, sizeof(line), STEP_MS) ||
		    strncmp(line, "port ", 5) != 0)
			return 3;
		link_connect(&s->l, (uint16_t)atoi(line + 5));
	} else {
		ctl_put(c, "port %u", link_listen(&s->l));
		link_accept(&s->l);
	}
	link_hello(&s->l);
	if (!disconnects)
		link_notify_disconnect(&s->l);
	if (initiator) {
		large_post(s);
		ctl_put(c, "posted");
	}
	if (disconnects) {
		if (!ctl_get(c, line, sizeof(line), STEP_MS) ||
		    strcmp(line, "go") != 0)
			return 3;
		from = now_ms();
		large_disconnect(s);
	} else {
		/* the survivor disconnects: we hear of it */
		uint64_t end = now_ms() + STEP_MS;
		while (link_disconnected(&s->l) == ND_PENDING &&
		       now_ms() < end) {
			stream_poll(s);
			nap();
		}
		assert_int_equal(link_disconnected(&s->l), ND_SUCCESS);
		from = now_ms();
	}
	large_drain(s, from);
	ctl_put(c, "ok");
	link_release(&s->l);
	free(s->l.buf);
	free(s);
	return 0;
}

static void test_disconnect_large_by_initiator(void **state)
{
	run_large(*state, true, true);
}

static void test_disconnect_large_by_target(void **state)
{
	run_large(*state, false, true);
}

static void test_peer_disconnects_large_initiator(void **state)
{
	run_large(*state, true, false);
}

static void test_peer_disconnects_large_target(void **state)
{
	run_large(*state, false, false);
}

/* --- listeners released, ports closed, silent addresses ----------------- */

/* A connection attempt that could not succeed ends with one of these. */
static bool connect_failure_ok(nd_status st)
{
	return st == ND_CONNECTION_REFUSED || st == ND_CONNECTION_ABORTED ||
	       st == ND_IO_TIMEOUT;
}

/* A pending GetConnectionRequest completes ND_CANCELED when its listener
 * is released; the connector stays usable. */
static void test_listener_release_cancels_request(void **state)
{
	struct tc *t = *state;
	struct nd_overlapped ov = {.flags = ND_OV_FLAG_NO_QUEUE};
	struct nd_listener *lis;
	struct nd_connector *c;
	struct link l;

	memset(&l, 0, sizeof(l));
	l.t = t;
	link_listen(&l);
	lis = l.lis;
	assert_int_equal(nd_adapter_create_connector(t->ad, &c), ND_SUCCESS);
	assert_int_equal(nd_listener_get_connection_request(lis, c, &ov),
			 ND_PENDING);
	assert_int_equal(nd_listener_release(lis), ND_SUCCESS);
	assert_int_equal(wait_ov_status(&ov, FAULT_BOUND_MS), ND_CANCELED);
	assert_int_equal(nd_connector_release(c), ND_SUCCESS);
	survivor_moves_data(t);
}

/* The survivor listens; the peer connects twice. The first request is
 * taken (never accepted), the second waits in the backlog (or is still
 * on its way); then the listener and the connector are released. Both
 * of the peer's Connects fail, and a third is refused. */
static void test_listener_release_with_requests(void **state)
{
	struct tc *t = *state;
	const char *args[] = {"connect-twice", NULL};
	struct nd_overlapped ov = {.flags = ND_OV_FLAG_NO_QUEUE};
	struct nd_connector *c;
	nd_status r1, r2, r3;
	struct peer peer;
	char line[256];
	struct link l;

	memset(&l, 0, sizeof(l));
	l.t = t;
	peer_start(&peer, args);
	ctl_put(&peer.ctl, "port %u", link_listen(&l));
	assert_int_equal(nd_adapter_create_connector(t->ad, &c), ND_SUCCESS);
	assert_int_equal(
	    tc_wait_ov(l.lis, &ov,
		       nd_listener_get_connection_request(l.lis, c, &ov),
		       STEP_MS),
	    ND_SUCCESS);
	ctl_put(&peer.ctl, "got");
	ctl_expect(&peer.ctl, "sent", NULL, 0);
	nap_ms(100); /* most likely in the backlog now; either way it fails */
	assert_int_equal(nd_listener_release(l.lis), ND_SUCCESS);
	assert_int_equal(nd_connector_release(c), ND_SUCCESS);
	ctl_put(&peer.ctl, "released");
	ctl_expect(&peer.ctl, "result", line, sizeof(line));
	assert_int_equal(sscanf(line, "result %x %x %x", (unsigned *)&r1,
				(unsigned *)&r2, (unsigned *)&r3),
			 3);
	if (!connect_failure_ok(r1) || !connect_failure_ok(r2))
		fail_msg("the peer's connects ended %s and %s", nd_strerror(r1),
			 nd_strerror(r2));
	assert_int_equal(r3, ND_CONNECTION_REFUSED);
	peer_expect_exit(&peer);
	peer_end(&peer);
	survivor_moves_data(t);
}

/* Connects `n` QPs to `port`: each attempt's status after `bound_ms`
 * (ND_PENDING if it is still running). */
struct attempt {
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *c;
	struct nd_overlapped ov;
	nd_status st;
};

static void attempt_start(struct tc *t, struct attempt *a,
			  const struct sockaddr_storage *dest)
{
	memset(a, 0, sizeof(*a));
	a->ov.flags = ND_OV_FLAG_NO_QUEUE;
	assert_int_equal(nd_adapter_create_cq(t->ad, 16, 0, 0, &a->cq),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_qp(t->ad, a->cq, a->cq, NULL, 4, 4,
					      1, 1, 0, &a->qp),
			 ND_SUCCESS);
	assert_int_equal(nd_adapter_create_connector(t->ad, &a->c), ND_SUCCESS);
	a->st = nd_connector_connect(a->c, a->qp, (const struct sockaddr *)dest,
				     ss_len(dest), 0, 0, NULL, 0, &a->ov);
}

static nd_status attempt_wait(struct attempt *a, int bound_ms)
{
	if (a->st == ND_PENDING)
		a->st = tc_wait_ov(a->c, &a->ov, ND_PENDING, bound_ms);
	return a->st;
}

static void attempt_end(struct attempt *a)
{
	assert_int_equal(nd_connector_release(a->c), ND_SUCCESS);
	assert_int_equal(nd_qp_release(a->qp), ND_SUCCESS);
	assert_int_equal(nd_cq_release(a->cq), ND_SUCCESS);
}

static int peer_connect_twice(struct tc *t, struct ctl *c)
{
	struct sockaddr_storage dest = t->addr;
	struct attempt a[3];
	char line[64];

	if (!ctl_get(c, line, sizeof(line), STEP_MS) ||
	    strncmp(line, "port ", 5) != 0)
		return 3;
	set_port(&dest, (uint16_t)atoi(line + 5));
	attempt_start(t, &a[0], &dest);
	if (!ctl_get(c, line, sizeof(line), STEP_MS) || strcmp(line, "got"))
		return 3;
	attempt_start(t, &a[1], &dest);
	ctl_put(c, "sent");
	if (!ctl_get(c, line, sizeof(line), STEP_MS) ||
	    strcmp(line, "released"))
		return 3;
	attempt_wait(&a[0], FAULT_BOUND_MS);
	attempt_wait(&a[1], FAULT_BOUND_MS);
	attempt_start(t, &a[2], &dest);
	attempt_wait(&a[2], FAULT_BOUND_MS);
	ctl_put(c, "result %x %x %x", (unsigned)a[0].st, (unsigned)a[1].st,
		(unsigned)a[2].st);
	for (int i = 0; i < 3; i++)
		attempt_end(&a[i]);
	return 0;
}

/* The peer listens and takes the survivor's first request without
 * accepting it; the second waits. Then the peer releases its listener and
 * connector (release) or dies (kill): both Connects fail in time. */
static void run_listener_gone(struct tc *t, bool kill_it)
{
	const char *args[] = {"listen", kill_it ? "kill" : "release", NULL};
	struct sockaddr_storage dest = t->addr;
	struct attempt a[2];
	struct peer peer;
	char line[256];

	peer_start(&peer, args);
	ctl_expect(&peer.ctl, "port", line, sizeof(line));
	set_port(&dest, (uint16_t)atoi(line + 5));
	attempt_start(t, &a[0], &dest);
	ctl_expect(&peer.ctl, "got", NULL, 0);
	attempt_start(t, &a[1], &dest);
	ctl_put(&peer.ctl, "sent");
	if (kill_it) {
		nap_ms(100); /* most likely in the peer's backlog by now */
		peer_kill(&peer);
	} else {
		ctl_expect(&peer.ctl, "released", NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		nd_status st = attempt_wait(&a[i], FAULT_BOUND_MS);
		if (!connect_failure_ok(st))
			fail_msg("connect %d ended %s", i, nd_strerror(st));
		attempt_end(&a[i]);
	}
	peer_end(&peer);
	survivor_moves_data(t);
}

static int peer_listen(struct tc *t, struct ctl *c, const char *mode)
{
	struct nd_overlapped ov = {.flags = ND_OV_FLAG_NO_QUEUE};
	struct nd_connector *conn;
	struct link l;
	char line[64];

	memset(&l, 0, sizeof(l));
	l.t = t;
	ctl_put(c, "port %u", link_listen(&l));
	if (strcmp(mode, "idle") == 0) {
		/* wait to be killed */
		while (ctl_get(c, line, sizeof(line), PEER_LIFETIME_MS))
			;
		return 0;
	}
	assert_int_equal(nd_adapter_create_connector(t->ad, &conn), ND_SUCCESS);
	assert_int_equal(
	    tc_wait_ov(l.lis, &ov,
		       nd_listener_get_connection_request(l.lis, conn, &ov),
		       STEP_MS),
	    ND_SUCCESS);
	ctl_put(c, "got");
	if (!ctl_get(c, line, sizeof(line), STEP_MS) || strcmp(line, "sent"))
		return 3;
	if (strcmp(mode, "kill") == 0) {
		while (ctl_get(c, line, sizeof(line), PEER_LIFETIME_MS))
			;
		return 0;
	}
	nap_ms(100);
	assert_int_equal(nd_listener_release(l.lis), ND_SUCCESS);
	assert_int_equal(nd_connector_release(conn), ND_SUCCESS);
	ctl_put(c, "released");
	while (ctl_get(c, line, sizeof(line), PEER_LIFETIME_MS))
		;
	return 0;
}

static void test_peer_releases_listener_with_requests(void **state)
{
	run_listener_gone(*state, false);
}

static void test_peer_killed_with_requests(void **state)
{
	run_listener_gone(*state, true);
}

/* A port whose listener was released refuses. */
static void test_connect_closed_port(void **state)
{
	struct tc *t = *state;
	struct sockaddr_storage dest = t->addr;
	struct attempt a;
	struct link l;

	memset(&l, 0, sizeof(l));
	l.t = t;
	set_port(&dest, link_listen(&l));
	assert_int_equal(nd_listener_release(l.lis), ND_SUCCESS);
	attempt_start(t, &a, &dest);
	assert_int_equal(attempt_wait(&a, FAULT_BOUND_MS),
			 ND_CONNECTION_REFUSED);
	attempt_end(&a);
	survivor_moves_data(t);
}

/* The port of a listening process that was killed refuses. */
static void test_connect_killed_listener(void **state)
{
	struct tc *t = *state;
	const char *args[] = {"listen", "idle", NULL};
	struct sockaddr_storage dest = t->addr;
	struct attempt a;
	struct peer peer;
	char line[256];

	peer_start(&peer, args);
	ctl_expect(&peer.ctl, "port", line, sizeof(line));
	set_port(&dest, (uint16_t)atoi(line + 5));
	peer_kill(&peer);
	peer_end(&peer);
	attempt_start(t, &a, &dest);
	assert_int_equal(attempt_wait(&a, FAULT_BOUND_MS),
			 ND_CONNECTION_REFUSED);
	attempt_end(&a);
	survivor_moves_data(t);
}

/*
 * An address that never answers. tcp: a local TCP listener whose accept
 * queue is full (backlog 0 and one connection nobody accepts), so the
 * kernel drops every further SYN. verbs: ND_TEST_SILENT_ADDR, an address
 * on the device's network that no host has (ARP goes unanswered).
 */
struct silent {
	struct sockaddr_storage dest;
	int lfd, cfd;
};

/* NULL, or why there is no silent address to test with. */
static const char *silent_open(struct tc *t, struct silent *s)
{
	struct sockaddr_storage *dest = &s->dest;
	const char *addr;

	s->lfd = s->cfd = -1;
	*dest = t->addr;
	if (is_provider(t, "tcp")) {
		socklen_t len = sizeof(*dest);
		s->lfd = socket(dest->ss_family, SOCK_STREAM, 0);
		assert_true(s->lfd >= 0);
		assert_int_equal(
		    bind(s->lfd, (struct sockaddr *)dest, ss_len(dest)), 0);
		assert_int_equal(listen(s->lfd, 0), 0);
		assert_int_equal(
		    getsockname(s->lfd, (struct sockaddr *)dest, &len), 0);
		s->cfd = socket(dest->ss_family, SOCK_STREAM, 0);
		assert_int_equal(
		    connect(s->cfd, (struct sockaddr *)dest, ss_len(dest)), 0);
		return NULL;
	}
	addr = getenv("ND_TEST_SILENT_ADDR");
	if (!addr || !*addr)
		return "ND_TEST_SILENT_ADDR is not set (an address on the "
		       "device's network that nobody answers)";
	memset(dest, 0, sizeof(*dest));
	if (strchr(addr, ':')) {
		dest->ss_family = AF_INET6;
		assert_int_equal(
		    inet_pton(AF_INET6, addr,
			      &((struct sockaddr_in6 *)dest)->sin6_addr),
		    1);
	} else {
		dest->ss_family = AF_INET;
		assert_int_equal(
		    inet_pton(AF_INET, addr,
			      &((struct sockaddr_in *)dest)->sin_addr),
		    1);
	}
	set_port(dest, 4791);
	return NULL;
}

static void silent_close(struct silent *s)
{
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->lfd >= 0)
		close(s->lfd);
}

/* How a Connect to a silent address may end. */
static bool silent_status_ok(nd_status st)
{
	return st == ND_IO_TIMEOUT || st == ND_TIMEOUT ||
	       st == ND_HOST_UNREACHABLE || st == ND_NETWORK_UNREACHABLE;
}

static void test_connect_silent_address(void **state)
{
	struct tc *t = *state;
	const char *why;
	struct silent s;
	struct attempt a;
	nd_status st;

	if ((why = silent_open(t, &s)))
		TC_SKIP(why);
	attempt_start(t, &a, &s.dest);
	st = attempt_wait(&a, SILENT_BOUND_MS);
	if (st == ND_PENDING)
		fail_msg("connect to a silent address still pending after %d "
			 "ms: no bounded connect timeout",
			 SILENT_BOUND_MS);
	if (!silent_status_ok(st))
		fail_msg("connect to a silent address ended %s",
			 nd_strerror(st));
	attempt_end(&a);
	silent_close(&s);
	survivor_moves_data(t);
}

/*
 * While a Connect to a silent address is pending, the adapter serves
 * everything else: a loopback connection on it connects and moves data
 * (siw's rdma_connect blocks in the kernel's TCP connect; a provider that
 * waited for it on the adapter's own thread would hold everything up).
 */
static void test_silent_connect_adapter_responsive(void **state)
{
	struct tc *t = *state;
	const char *why;
	struct silent s;
	struct attempt a;
	uint64_t t0, ms;
	nd_status st;

	if ((why = silent_open(t, &s)))
		TC_SKIP(why);
	attempt_start(t, &a, &s.dest);
	nap_ms(500); /* resolution done: the connect itself is under way */
	t0 = now_ms();
	survivor_moves_data(t);
	ms = now_ms() - t0;
	st = a.st == ND_PENDING ? nd_get_overlapped_result(a.c, &a.ov, false)
				: a.st;
	print_message("# loopback connection moved data in %llu ms; the "
		      "silent connect %s\n",
		      (unsigned long long)ms,
		      st == ND_PENDING ? "was still pending"
				       : "had ended before");
	if (ms >= SILENT_BOUND_MS)
		fail_msg("a loopback connection took %llu ms while a connect "
			 "to a silent address was pending",
			 (unsigned long long)ms);
	st = attempt_wait(&a, SILENT_BOUND_MS);
	if (!silent_status_ok(st))
		fail_msg("connect to a silent address ended %s",
			 nd_strerror(st));
	attempt_end(&a);
	silent_close(&s);
}

/*
 * Cancelling a pending Connect to a silent address returns at once, and
 * the connector and its QP then connect to a listener on the adapter and
 * move data; releasing a connector with such a Connect pending (and its QP
 * and CQ) returns at once too.
 */
static void test_silent_connect_cancel_release(void **state)
{
	struct tc *t = *state;
	const char *why;
	struct silent s;
	struct attempt a;
	uint64_t t0, ms;
	nd_status st;

	if ((why = silent_open(t, &s)))
		TC_SKIP(why);
	attempt_start(t, &a, &s.dest);
	nap_ms(500); /* resolution done: the connect itself is under way */
	t0 = now_ms();
	assert_int_equal(nd_cancel_overlapped(a.c), ND_SUCCESS);
	st = attempt_wait(&a, PROMPT_MS);
	ms = now_ms() - t0;
	if (st != ND_CANCELED && !silent_status_ok(st))
		fail_msg("cancelled connect to a silent address ended %s",
			 nd_strerror(st));
	if (ms >= PROMPT_MS)
		fail_msg("cancelling a connect to a silent address took %llu "
			 "ms",
			 (unsigned long long)ms);
	/* the pair releases the connector, QP and CQ */
	moves_data_with(t, a.c, a.qp, a.cq);

	attempt_start(t, &a, &s.dest);
	nap_ms(500);
	t0 = now_ms();
	attempt_end(&a);
	ms = now_ms() - t0;
	st = wait_ov_status(&a.ov, PROMPT_MS);
	if (st != ND_CANCELED && !silent_status_ok(st))
		fail_msg("connect to a silent address ended %s after its "
			 "connector was released",
			 nd_strerror(st));
	if (ms >= PROMPT_MS)
		fail_msg("releasing a connector with a connect to a silent "
			 "address pending took %llu ms",
			 (unsigned long long)ms);
	silent_close(&s);
	survivor_moves_data(t);
}

/* --- peer dispatch, setup, main --------------------------------------------- */

/* One peer: its role in argv[0..argc), the survivor on control fd. */
static int peer_run(int fd, int argc, char **argv)
{
	struct ctl c = {.fd = fd};
	struct tc t;
	int rc = 2;

	if (nd_startup() != ND_SUCCESS || !tc_open(&t)) {
		ctl_put(&c, "fail no adapter");
		return 1;
	}
	if (argc >= 4 && strcmp(argv[0], "stream") == 0)
		rc =
		    peer_stream(&t, &c, argv[1], strcmp(argv[2], "active") == 0,
				strcmp(argv[3], "initiator") == 0);
	else if (argc >= 4 && strcmp(argv[0], "large") == 0)
		rc = peer_large(&t, &c, strcmp(argv[1], "active") == 0,
				strcmp(argv[2], "initiator") == 0,
				strcmp(argv[3], "peer") == 0);
	else if (argc >= 1 && strcmp(argv[0], "connect-twice") == 0)
		rc = peer_connect_twice(&t, &c);
	else if (argc >= 2 && strcmp(argv[0], "listen") == 0)
		rc = peer_listen(&t, &c, argv[1]);
	else
		fprintf(stderr, "nd-faults: unknown peer role %s\n",
			argc ? argv[0] : "(none)");
	tc_close(&t);
	nd_cleanup();
	return rc;
}

/*
 * nd-faults --serve: peers for survivors on other hosts. Listens on
 * ND_TEST_ADDR, port FAULTS_CTL_PORT; each connection's first line is a
 * peer's role, run in a child of its own with that connection as its
 * control channel. Serves one at a time (a cut link outlives its peer
 * anyway) until a survivor sends "quit".
 */
static int serve_main(void)
{
	const char *a = getenv("ND_TEST_ADDR");
	struct sockaddr_storage ss;
	uint32_t len;
	int one = 1, lfd;

	if (!a || !tc_parse_addr(a, &ss, &len)) {
		fprintf(stderr, "nd-faults --serve: ND_TEST_ADDR must be an "
				"IPv4 or IPv6 address\n");
		return 2;
	}
	set_port(&ss, FAULTS_CTL_PORT);
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 4)) {
		perror("nd-faults --serve: listening");
		return 1;
	}
	fprintf(stderr, "nd-faults: serving peers on %s port %u\n", a,
		FAULTS_CTL_PORT);
	for (;;) {
		struct ctl c = {.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)};
		char line[256], *args[8], *save = NULL;
		int n = 0, ws;
		pid_t pid;

		if (c.fd < 0) {
			perror("nd-faults --serve: accept");
			return 1;
		}
		if (!ctl_get(&c, line, sizeof(line), STEP_MS)) {
			close(c.fd);
			continue;
		}
		if (strcmp(line, "quit") == 0) {
			close(c.fd);
			return 0;
		}
		for (char *w = strtok_r(line, " ", &save); w && n < 8;
		     w = strtok_r(NULL, " ", &save))
			args[n++] = w;
		fprintf(stderr, "nd-faults: peer %s %s\n", n ? args[0] : "",
			n > 1 ? args[1] : "");
		pid = fork();
		if (pid == 0) {
			close(lfd);
			_exit(peer_run(c.fd, n, args));
		}
		close(c.fd);
		if (pid < 0 || waitpid(pid, &ws, 0) != pid)
			return 1;
		fprintf(stderr, "nd-faults: peer ended, status %#x\n", ws);
	}
}

/* ND_TEST_REMOTE_PEER: the address of a host running --serve. */
static bool parse_remote_peer(void)
{
	const char *a = getenv("ND_TEST_REMOTE_PEER");
	uint32_t len;

	if (!a || !*a)
		return true;
	if (!tc_parse_addr(a, &remote_host, &len)) {
		fprintf(stderr, "ND_TEST_REMOTE_PEER=%s: not an address\n", a);
		return false;
	}
	remote_peer = true;
	return true;
}

/* Tells the remote server its survivor is done. */
static void remote_quit(void)
{
	struct peer p;
	const char *quit[] = {"quit", NULL};

	peer_start_remote(&p, quit);
	close(p.ctl.fd);
	live_peer = NULL;
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	if (!t || !tc_open(t)) {
		print_error("no adapter serves ND_TEST_ADDR=%s\n",
			    getenv("ND_TEST_ADDR") ? getenv("ND_TEST_ADDR")
						   : "127.0.0.1");
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tc *t = *state;

	if (live_peer)
		peer_end(live_peer);
	tc_close(t);
	free(t);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    T(test_kill_sendrecv_active),
	    T(test_kill_sendrecv_passive),
	    T(test_kill_write_initiator_active),
	    T(test_kill_write_initiator_passive),
	    T(test_kill_write_target_active),
	    T(test_kill_write_target_passive),
	    T(test_kill_read_initiator_active),
	    T(test_kill_read_initiator_passive),
	    T(test_kill_read_target_active),
	    T(test_kill_read_target_passive),
	    T(test_frozen_peer_sendrecv),
	    T(test_frozen_peer_write),
	    T(test_frozen_peer_read),
	    T(test_dead_link_sendrecv),
	    T(test_dead_link_write),
	    T(test_dead_link_read),
	    T(test_disconnect_large_by_initiator),
	    T(test_disconnect_large_by_target),
	    T(test_peer_disconnects_large_initiator),
	    T(test_peer_disconnects_large_target),
	    T(test_listener_release_cancels_request),
	    T(test_listener_release_with_requests),
	    T(test_peer_releases_listener_with_requests),
	    T(test_peer_killed_with_requests),
	    T(test_connect_closed_port),
	    T(test_connect_killed_listener),
	    T(test_connect_silent_address),
	    T(test_silent_connect_adapter_responsive),
	    T(test_silent_connect_cancel_release),
	};
	struct tc probe;
	int rc;

	if (argc >= 4 && strcmp(argv[1], "--peer") == 0)
		return peer_run(atoi(argv[2]), argc - 3, argv + 3);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "--serve") == 0)
		return serve_main();
	if (!parse_remote_peer())
		return 1;
	if (nd_startup() != ND_SUCCESS) {
		fprintf(stderr, "nd_startup failed\n");
		return 1;
	}
	if (!getenv("ND_TEST_ADDR") && !tc_open(&probe)) {
		printf("1..0 # SKIP faults: ND_TEST_ADDR is not set and no "
		       "%s adapter serves 127.0.0.1\n",
		       getenv("ND_PROVIDERS") ? getenv("ND_PROVIDERS") : "");
		nd_cleanup();
		return 0;
	}
	if (!getenv("ND_TEST_ADDR"))
		tc_close(&probe);
	/* ND_FAULTS_ONLY=pattern runs the matching tests only (cmocka's
	 * wildcards), for chasing one scenario */
	if (getenv("ND_FAULTS_ONLY"))
		cmocka_set_test_filter(getenv("ND_FAULTS_ONLY"));
	else if (remote_peer) /* the other tests need a local peer */
		cmocka_set_test_filter("test_dead_link_*");
	rc = cmocka_run_group_tests_name("faults", tests, NULL, NULL);
	if (remote_peer)
		remote_quit();
	nd_cleanup();
	return rc;
}
