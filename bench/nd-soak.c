/* SPDX-License-Identifier: MIT */
/*
 * nd-soak: does netdirect give back what it takes? Written against nd.h
 * only; bench/soak.sh compiles and runs it (docs/reliability.md).
 *
 *   nd-soak pingpong [-n N] [-a IPv4] [-S SIZE] [-t SECS]
 *       one connection, N Send/Receive ping-pongs of SIZE bytes, every
 *       message checked byte for byte on arrival
 *   nd-soak connect [-n N] [-a IPv4] [-t SECS]
 *       N cycles of: create CQs, QPs, connectors and a registered buffer on
 *       both sides, connect (the listener accepts in a loop), one message
 *       each way, disconnect (the two sides take turns hanging up first),
 *       release everything
 *
 * Both sides live in this process, driven by one thread that polls both
 * (as the conformance suite does), so everything either side leaks shows in
 * the one process measured. Samples of the process, from the kernel's point
 * of view where there is one: resident memory (VmRSS), heap in use (glibc's
 * mallinfo2), memory pinned for RDMA (VmPin: ibv_reg_mr pins pages; the tcp
 * provider pins nothing), open descriptors, mappings and threads, and the
 * bytes this program has registered through netdirect right now. They are
 * taken before nd_startup, when the run starts, after warm-up (1%), every
 * 10% and after teardown; the verdict compares the end with the warm-up
 * sample. Not a test: the exit status says only whether the run worked.
 */
#define _GNU_SOURCE
#include <netdirect/nd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * What "flat" allows between the warm-up sample and the end. The counts
 * are exact, and so is the heap when glibc's per-thread caches are off
 * (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, as bench/soak.sh runs it:
 * mallinfo2 counts cached free chunks as in use). Resident memory moves
 * with page faults, so it gets more room. A leak of one small allocation
 * (32 bytes) per iteration exceeds both slacks long before the default
 * counts end: 310 KiB over 10,000 cycles, 31 MiB over a million ping-pongs.
 */
#define HEAP_SLACK_KIB 16
#define RSS_SLACK_KIB  1024

struct sample {
	const char *label;
	uint64_t iter;
	long rss_kib, heap_kib, pinned_kib;
	long fds, maps, threads;
	uint64_t reg_bytes;
	double secs;
};

/* One side of a connection: its own CQ (receives and sends), QP,
 * connector and a registered buffer: send slot | receive slot. */
struct side {
	const char *name;
	struct nd_adapter *ad;
	struct nd_cq *cq;
	struct nd_qp *qp;
	struct nd_connector *conn;
	struct nd_mr *mr;
	uint8_t *buf;
	uint64_t sends_posted, sends_done, recvs_done;
	uint32_t last_recv_bytes;
};

static struct {
	uint32_t size;
	int timeout_ms;
	uint64_t registered; /* bytes registered through netdirect now */
	uint64_t t0_ns;
} g = {.size = 64, .timeout_ms = 10000};

#define SEND_DEPTH 4

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __attribute__((format(printf, 1, 2), noreturn)) void die(const char *fmt,
								...)
{
	va_list ap;

	fputs("nd-soak: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void check(nd_status st, const char *what)
{
	if (ND_FAILED(st))
		die("%s: %s (0x%08x)", what, nd_strerror(st), (unsigned)st);
}

/* --- samples ------------------------------------------------------------- */

static long status_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static long count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the descriptor opendir itself holds */
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int ch;

	if (!f)
		return -1;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void sample(struct sample *s, const char *label, uint64_t iter)
{
	char text[4096];
	FILE *f = fopen("/proc/self/status", "r");
	size_t len = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	struct mallinfo2 mi = mallinfo2();

	if (f)
		fclose(f);
	text[len] = '\0';
	s->label = label;
	s->iter = iter;
	s->rss_kib = status_field(text, "\nVmRSS:");
	s->pinned_kib = status_field(text, "\nVmPin:");
	s->threads = status_field(text, "\nThreads:");
	s->heap_kib = (long)((mi.uordblks + mi.hblkhd) / 1024);
	s->fds = count_dir("/proc/self/fd");
	s->maps = count_lines("/proc/self/maps");
	s->reg_bytes = g.registered;
	s->secs = (double)(now_ns() - g.t0_ns) / 1e9;
	printf("sample %-6s %10llu %8ld %8ld %10ld %4ld %5ld %7ld %9llu "
	       "%9.1f\n",
	       label, (unsigned long long)iter, s->rss_kib, s->heap_kib,
	       s->pinned_kib, s->fds, s->maps, s->threads,
	       (unsigned long long)s->reg_bytes, s->secs);
	fflush(stdout);
}

static void sample_header(void)
{
	printf(
	    "#      label        iter  rss_KiB heap_KiB pinned_KiB  fds  maps "
	    "threads   reg_B      secs\n");
}

/* The verdict: the end against the warm-up sample. */
static void verdict(const char *dev, const char *mode, const struct sample *w,
		    const struct sample *e)
{
	char grows[128] = "";

	if (e->rss_kib > w->rss_kib + RSS_SLACK_KIB)
		strcat(grows, " rss");
	if (e->heap_kib > w->heap_kib + HEAP_SLACK_KIB)
		strcat(grows, " heap");
	if (e->pinned_kib > w->pinned_kib)
		strcat(grows, " pinned");
	if (e->fds > w->fds)
		strcat(grows, " fds");
	if (e->maps > w->maps)
		strcat(grows, " maps");
	if (e->threads > w->threads)
		strcat(grows, " threads");
	printf(
	    "# start = after warm-up (iteration %llu), end = iteration %llu; "
	    "flat: heap within %d KiB, rss within %d KiB, the rest no "
	    "higher\n",
	    (unsigned long long)w->iter, (unsigned long long)e->iter,
	    HEAP_SLACK_KIB, RSS_SLACK_KIB);
	printf("soak %s %s: rss start %ld KiB end %ld KiB, fds start %ld end "
	       "%ld, pinned start %ld KiB end %ld KiB, heap start %ld KiB end "
	       "%ld KiB, maps start %ld end %ld, threads start %ld end %ld: "
	       "%s%s\n",
	       dev, mode, w->rss_kib, e->rss_kib, w->fds, e->fds, w->pinned_kib,
	       e->pinned_kib, w->heap_kib, e->heap_kib, w->maps, e->maps,
	       w->threads, e->threads, grows[0] ? "GROWS" : "flat", grows);
}

/* --- waiting, bounded ---------------------------------------------------- */

static void nap(void)
{
	struct timespec ts = {0, 20000}; /* 20 us */

	nanosleep(&ts, NULL);
}

static nd_status wait_ov(void *obj, struct nd_overlapped *ov, nd_status st,
			 const char *what)
{
	uint64_t end = now_ns() + (uint64_t)g.timeout_ms * 1000000u;

	if (st != ND_PENDING)
		return st;
	while ((st = nd_get_overlapped_result(obj, ov, false)) == ND_PENDING) {
		if (now_ns() > end)
			die("%s: no completion within %d ms", what,
			    g.timeout_ms);
		nap();
	}
	return st;
}

/* Takes every result one side's CQ holds; any failure ends the run. */
static unsigned reap(struct side *s)
{
	struct nd_result r[8];
	unsigned n = nd_cq_get_results(s->cq, r, 8);

	for (unsigned i = 0; i < n; i++) {
		if (r[i].status != ND_SUCCESS)
			die("%s: %s completed %s (0x%08x)", s->name,
			    r[i].request_type == ND_REQUEST_TYPE_RECEIVE
				? "a receive"
				: "a send",
			    nd_strerror(r[i].status), (unsigned)r[i].status);
		if (r[i].request_type == ND_REQUEST_TYPE_RECEIVE) {
			s->recvs_done++;
			s->last_recv_bytes = r[i].bytes_transferred;
		} else {
			s->sends_done++;
		}
	}
	return n;
}

/* Polls both sides until *counter reaches target. */
static void pump(struct side *a, struct side *b, const uint64_t *counter,
		 uint64_t target, const char *what)
{
	uint64_t end = now_ns() + (uint64_t)g.timeout_ms * 1000000u;

	while (*counter < target) {
		unsigned got = reap(a);

		got += reap(b);
		if (!got) {
			if (now_ns() > end)
				die("%s: nothing within %d ms", what,
				    g.timeout_ms);
			sched_yield();
		}
	}
}

/* --- data ---------------------------------------------------------------- */

static uint8_t pattern(uint64_t iter, uint32_t i, unsigned dir)
{
	uint64_t x = (iter * 2 + dir) * 0x9e3779b97f4a7c15ull + i;

	return (uint8_t)(x ^ (x >> 29));
}

static uint8_t *send_slot(struct side *s)
{
	return s->buf;
}

static uint8_t *recv_slot(struct side *s)
{
	return s->buf + g.size;
}

static void post_receive(struct side *s)
{
	struct nd_sge sge = {recv_slot(s), g.size,
			     nd_mr_get_local_token(s->mr)};

	check(nd_qp_receive(s->qp, NULL, &sge, 1), "receive");
}

/* Sends message `iter` in direction dir (0 client to server, 1 back). */
static void send_msg(struct side *from, struct side *peer, uint64_t iter,
		     unsigned dir)
{
	struct nd_sge sge = {send_slot(from), g.size,
			     nd_mr_get_local_token(from->mr)};

	pump(from, peer, &from->sends_done,
	     from->sends_posted + 1 > SEND_DEPTH
		 ? from->sends_posted + 1 - SEND_DEPTH
		 : 0,
	     "send queue");
	for (uint32_t i = 0; i < g.size; i++)
		send_slot(from)[i] = pattern(iter, i, dir);
	check(nd_qp_send(from->qp, NULL, &sge, 1, 0), "send");
	from->sends_posted++;
}

/* Waits for message `iter` at `to`, checks it and posts the receive again. */
static void receive_msg(struct side *to, struct side *peer, uint64_t iter,
			unsigned dir)
{
	pump(to, peer, &to->recvs_done, to->recvs_done + 1, to->name);
	if (to->last_recv_bytes != g.size)
		die("message %llu arrived at the %s with %u bytes, not %u",
		    (unsigned long long)iter, to->name, to->last_recv_bytes,
		    g.size);
	for (uint32_t i = 0; i < g.size; i++)
		if (recv_slot(to)[i] != pattern(iter, i, dir))
			die("message %llu differs at byte %u at the %s",
			    (unsigned long long)iter, i, to->name);
	post_receive(to);
}

/* One round trip: client to server, server back. */
static void exchange(struct side *c, struct side *s, uint64_t iter)
{
	send_msg(c, s, iter, 0);
	receive_msg(s, c, iter, 0);
	send_msg(s, c, iter, 1);
	receive_msg(c, s, iter, 1);
}

/* --- object lifetime ----------------------------------------------------- */

static void side_open(struct side *s, struct nd_adapter *ad, const char *name)
{
	struct nd_overlapped ov = {0};
	size_t len = 2 * (size_t)g.size;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->ad = ad;
	if (posix_memalign((void **)&s->buf, 4096, len))
		die("out of memory");
	memset(s->buf, 0, len);
	check(nd_adapter_create_cq(ad, 4 * SEND_DEPTH, 0, 0, &s->cq),
	      "create CQ");
	check(nd_adapter_create_qp(ad, s->cq, s->cq, s, 2, SEND_DEPTH, 1, 1, 0,
				   &s->qp),
	      "create QP");
	check(nd_adapter_create_connector(ad, &s->conn), "create connector");
	check(nd_adapter_create_mr(ad, &s->mr), "create MR");
	check(wait_ov(s->mr, &ov,
		      nd_mr_register(s->mr, s->buf, len,
				     ND_MR_FLAG_ALLOW_LOCAL_WRITE, &ov),
		      "register"),
	      "register");
	g.registered += len;
	post_receive(s);
}

static void side_close(struct side *s)
{
	struct nd_overlapped ov = {0};

	check(nd_connector_release(s->conn), "release connector");
	check(nd_qp_release(s->qp), "release QP");
	check(wait_ov(s->mr, &ov, nd_mr_deregister(s->mr, &ov), "deregister"),
	      "deregister");
	g.registered -= 2 * (size_t)g.size;
	check(nd_mr_release(s->mr), "release MR");
	check(nd_cq_release(s->cq), "release CQ");
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* Connects client to server through the listener (listening at dest). */
static void connect_pair(struct nd_listener *l, const struct sockaddr *dest,
			 uint32_t dest_len, struct side *c, struct side *s)
{
	struct nd_overlapped gov = {0}, cov = {0}, aov = {0}, ccov = {0};
	nd_status gst, cst, ast;

	gst = nd_listener_get_connection_request(l, s->conn, &gov);
	check(gst, "get connection request");
	cst = nd_connector_connect(c->conn, c->qp, dest, dest_len, 0, 0, NULL,
				   0, &cov);
	check(cst, "connect");
	check(wait_ov(l, &gov, gst, "connection request"),
	      "connection request");
	ast = nd_connector_accept(s->conn, s->qp, 0, 0, NULL, 0, &aov);
	check(ast, "accept");
	check(wait_ov(c->conn, &cov, cst, "connect"), "connect");
	check(wait_ov(c->conn, &ccov,
		      nd_connector_complete_connect(c->conn, &ccov),
		      "complete connect"),
	      "complete connect");
	check(wait_ov(s->conn, &aov, ast, "accept"), "accept");
}

/* `first` hangs up, `second` hears it (NotifyDisconnect) and hangs up too.
 * The receive each side keeps posted is flushed (ND_CANCELED). */
static void disconnect_pair(struct side *first, struct side *second)
{
	struct nd_overlapped nov = {0}, dov = {0}, dov2 = {0};
	nd_status nst = nd_connector_notify_disconnect(second->conn, &nov);

	check(nst, "notify disconnect");
	check(wait_ov(first->conn, &dov,
		      nd_connector_disconnect(first->conn, &dov), "disconnect"),
	      "disconnect");
	nst = wait_ov(second->conn, &nov, nst, "disconnect notification");
	if (nst != ND_SUCCESS && nst != ND_CONNECTION_DISCONNECTED)
		check(nst, "disconnect notification");
	check(wait_ov(second->conn, &dov2,
		      nd_connector_disconnect(second->conn, &dov2),
		      "second disconnect"),
	      "second disconnect");
}

static struct nd_listener *listen_on(struct nd_adapter *ad,
				     const struct sockaddr_in *addr,
				     struct sockaddr_storage *dest,
				     uint32_t *dest_len)
{
	struct nd_listener *l;

	check(nd_adapter_create_listener(ad, &l), "create listener");
	check(nd_listener_bind(l, (const struct sockaddr *)addr, sizeof(*addr)),
	      "bind listener");
	check(nd_listener_listen(l, 0), "listen");
	*dest_len = sizeof(*dest);
	check(
	    nd_listener_get_local_address(l, (struct sockaddr *)dest, dest_len),
	    "listener address");
	return l;
}

/* --- the two modes ------------------------------------------------------- */

/* Index of the sample due at iteration k: 0 none, else a label. */
static const char *due(uint64_t k, uint64_t n)
{
	static char label[8];
	uint64_t warm = n / 100 ? n / 100 : 1;

	if (k == 0)
		return "start";
	if (k == warm)
		return "warm";
	for (unsigned tenth = 1; tenth <= 10; tenth++)
		if (k == n * tenth / 10) {
			if (tenth == 10)
				return "end";
			snprintf(label, sizeof(label), "%u0%%", tenth);
			return label;
		}
	return NULL;
}

/* Runs n iterations of `step`, sampling as due(); the warm-up and end
 * samples go to *warm and *end. */
static void run(uint64_t n, void (*step)(void *arg, uint64_t k), void *arg,
		struct sample *warm, struct sample *end)
{
	for (uint64_t k = 0; k <= n; k++) {
		const char *label = due(k, n);
		struct sample s;

		if (label) {
			sample(&s, label, k);
			if (!strcmp(label, "warm"))
				*warm = s;
			if (!strcmp(label, "end"))
				*end = s;
		}
		if (k < n)
			step(arg, k);
	}
}

struct pingpong {
	struct side c, s;
};

static void pingpong_step(void *arg, uint64_t k)
{
	struct pingpong *p = arg;

	exchange(&p->c, &p->s, k);
}

struct cycles {
	struct nd_adapter *ad;
	struct nd_listener *l;
	struct sockaddr_storage dest;
	uint32_t dest_len;
};

static void connect_step(void *arg, uint64_t k)
{
	struct cycles *cy = arg;
	struct side c, s;

	side_open(&s, cy->ad, "server");
	side_open(&c, cy->ad, "client");
	connect_pair(cy->l, (struct sockaddr *)&cy->dest, cy->dest_len, &c, &s);
	exchange(&c, &s, k);
	if (k & 1)
		disconnect_pair(&s, &c);
	else
		disconnect_pair(&c, &s);
	side_close(&c);
	side_close(&s);
}

static void usage(void)
{
	fprintf(stderr, "usage: nd-soak pingpong|connect [-n COUNT] "
			"[-a IPv4] [-S SIZE] [-t SECS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	const char *mode = argc > 1 ? argv[1] : "";
	const char *ip = "127.0.0.1";
	bool pingpong = !strcmp(mode, "pingpong");
	uint64_t n;
	struct nd_adapter *ad;
	struct nd_adapter_identity id;
	struct sample before, warm = {0}, end = {0}, after;
	const char *tunables;
	int opt;

	if (!pingpong && strcmp(mode, "connect"))
		usage();
	n = pingpong ? 1000000 : 10000;
	optind = 2;
	while ((opt = getopt(argc, argv, "n:a:S:t:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		case 'a':
			ip = optarg;
			break;
		case 'S':
			g.size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 't':
			g.timeout_ms = atoi(optarg) * 1000;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !n || !g.size || g.timeout_ms <= 0 ||
	    inet_pton(AF_INET, ip, &addr.sin_addr) != 1)
		usage();

	g.t0_ns = now_ns();
	sample_header();
	sample(&before, "before", 0);
	check(nd_startup(), "nd_startup");
	check(nd_open_adapter((struct sockaddr *)&addr, sizeof(addr), &ad),
	      "open adapter");
	check(nd_adapter_get_identity(ad, &id), "adapter identity");
	printf("# nd-soak %s x %llu on %s (provider %s, device %s, transport "
	       "%s), %u-byte messages\n",
	       mode, (unsigned long long)n, ip, id.provider, id.device,
	       id.transport, g.size);
	tunables = getenv("GLIBC_TUNABLES");
	printf("# heap_KiB: %s\n",
	       tunables && strstr(tunables, "tcache_count=0")
		   ? "exact (glibc's per-thread caches off)"
		   : "includes glibc's per-thread caches (a few KiB of noise; "
		     "GLIBC_TUNABLES=glibc.malloc.tcache_count=0 for exact)");

	struct cycles cy = {.ad = ad};
	cy.l = listen_on(ad, &addr, &cy.dest, &cy.dest_len);
	if (pingpong) {
		struct pingpong p;

		side_open(&p.s, ad, "server");
		side_open(&p.c, ad, "client");
		connect_pair(cy.l, (struct sockaddr *)&cy.dest, cy.dest_len,
			     &p.c, &p.s);
		run(n, pingpong_step, &p, &warm, &end);
		disconnect_pair(&p.c, &p.s);
		side_close(&p.c);
		side_close(&p.s);
	} else {
		run(n, connect_step, &cy, &warm, &end);
	}
	check(nd_listener_release(cy.l), "release listener");
	check(nd_adapter_release(ad), "release adapter");
	check(nd_cleanup(), "nd_cleanup");
	sample(&after, "after", n);
	verdict(id.device, mode, &warm, &end);
	return 0;
}
