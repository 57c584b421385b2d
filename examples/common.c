/* SPDX-License-Identifier: MIT */
/*
 * The shared part of the nd-* tools: see common.h for the protocol.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EX_CTRL_SLOTS 16u
#define EX_MEM_CAP    (256u << 20) /* slots of one area stay below this */

/* --- errors ---------------------------------------------------------------- */

void ex_err(const struct ex_opts *o, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", o ? o->tool : "nd");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *ex_status(nd_status st)
{
	return nd_strerror(st);
}

void ex_die(struct ex_conn *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", c && c->o ? c->o->tool : "nd");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* Process exit closes everything; the peer sees the connection go. */
	exit(1);
}

uint64_t ex_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- addresses and options --------------------------------------------------- */

void ex_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char port[8];

	if (getnameinfo(sa,
			sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in),
			host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
}

void ex_host_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char *e;

	ex_addr_str(sa, buf, len);
	e = strrchr(buf, ':');
	if (e)
		*e = 0;
	if (buf[0] == '[') {
		memmove(buf, buf + 1, strlen(buf));
		e = strrchr(buf, ']');
		if (e)
			*e = 0;
	}
}

int ex_parse_addr(const char *text, uint16_t default_port,
		  struct sockaddr_storage *ss, uint32_t *len)
{
	char host[256], port[16];
	const char *colon;
	struct addrinfo hints, *res;

	snprintf(port, sizeof(port), "%u", default_port);
	if (!text || !*text || strlen(text) >= sizeof(host))
		return -1;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || end == text + 1)
			return -1;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = 0;
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
		else if (end[1])
			return -1;
	} else if ((colon = strchr(text, ':')) && !strchr(colon + 1, ':')) {
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = 0;
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", text); /* bare IPv6 too */
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    atoi(port) > 65535)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) || !res)
		return -1;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (uint32_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		x <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		x <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		x <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -1;
	*v = x;
	return 0;
}

int ex_parse_sizes(const char *text, uint32_t *sizes, int *n)
{
	uint64_t lo, hi;
	const char *colon = strchr(text, ':');
	char buf[64];

	*n = 0;
	if (colon) {
		if ((size_t)(colon - text) >= sizeof(buf))
			return -1;
		memcpy(buf, text, (size_t)(colon - text));
		buf[colon - text] = 0;
		if (parse_u64(buf, &lo) || parse_u64(colon + 1, &hi))
			return -1;
	} else {
		if (parse_u64(text, &lo))
			return -1;
		hi = lo;
	}
	if (!lo || lo > hi || hi > (1u << 30) || (lo & (lo - 1)) ||
	    (hi & (hi - 1)))
		return -1;
	for (uint64_t s = lo; s <= hi && *n < EX_MAX_SIZES; s <<= 1)
		sizes[(*n)++] = (uint32_t)s;
	return 0;
}

static void usage(const struct ex_opts *o, FILE *f)
{
	fprintf(
	    f,
	    "usage: %s (-s|-c) <ip>[:port] [options]\n"
	    "  -s, --server ADDR    listen on ADDR (port %u by default; 0 picks one)\n"
	    "  -c, --client ADDR    connect to the server at ADDR ([v6]:port for IPv6)\n"
	    "  -S, --size MIN:MAX   message sizes, powers of two (default 1 64 1K 16K 256K)\n"
	    "  -n, --iters N        iterations per size (default %s)\n"
	    "  -D, --duration SEC   run each size for about SEC seconds instead\n"
	    "  -W, --warmup N       warm-up iterations per size\n"
	    "  -b, --block          wait for completions (CQ notify + overlapped fd)\n"
	    "  -p, --poll           busy-poll the CQ (default)\n"
	    "  -g, --sge N          scatter/gather entries per message (default 1)\n"
	    "  -I, --inline N       largest message sent inline (default: adapter's threshold)\n"
	    "  -q, --depth N        queue depth%s (default 128)\n"
	    "%s"
	    "  -C, --check          verify the payload of every iteration\n"
	    "  -j, --json           print the results as one JSON object\n"
	    "  -t, --timeout SEC    bound on every wait (default 10)\n"
	    "      --wait SEC       server: how long to wait for a client (default forever)\n"
	    "  -h, --help\n",
	    o->tool, o->default_port,
	    o->id == EX_PING || o->id == EX_RPING ? "5000" : "1000",
	    (o->accepts & EX_OPT_DEPTH) ? " and pipeline" : "",
	    (o->accepts & EX_OPT_RW)
		? "  -w, --write          measure RDMA Write (default)\n"
		  "  -r, --read           measure RDMA Read\n"
		: "");
}

int ex_parse(struct ex_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"client", required_argument, NULL, 'c'},
	    {"size", required_argument, NULL, 'S'},
	    {"iters", required_argument, NULL, 'n'},
	    {"duration", required_argument, NULL, 'D'},
	    {"warmup", required_argument, NULL, 'W'},
	    {"block", no_argument, NULL, 'b'},
	    {"poll", no_argument, NULL, 'p'},
	    {"sge", required_argument, NULL, 'g'},
	    {"inline", required_argument, NULL, 'I'},
	    {"depth", required_argument, NULL, 'q'},
	    {"write", no_argument, NULL, 'w'},
	    {"read", no_argument, NULL, 'r'},
	    {"check", no_argument, NULL, 'C'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"wait", required_argument, NULL, 1},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr = NULL;
	bool have_s = false, have_c = false, have_b = false, have_p = false;
	bool have_w = false;
	uint64_t v;
	double d;
	char *end;
	int ch;

	o->nsge = 1;
	o->inline_max = -1;
	o->timeout_ms = 10000;
	while ((ch = getopt_long(argc, argv, "s:c:S:n:D:W:bpg:I:q:wrCjt:h",
				 longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
		case 'c':
			if (ch == 's')
				have_s = true;
			else
				have_c = true;
			addr = optarg;
			break;
		case 'S':
			if (ex_parse_sizes(optarg, o->sizes, &o->nsizes)) {
				ex_err(
				    o,
				    "bad size range '%s' (want N or MIN:MAX, powers of two up to 1G)",
				    optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_u64(optarg, &v) || !v) {
				ex_err(o, "bad iteration count '%s'", optarg);
				return 2;
			}
			o->iters = v;
			o->iters_set = true;
			break;
		case 'D':
			d = strtod(optarg, &end);
			if (*end || !(d > 0) || d > 3600) {
				ex_err(o, "bad duration '%s' (seconds)",
				       optarg);
				return 2;
			}
			o->duration = d;
			break;
		case 'W':
			if (parse_u64(optarg, &v)) {
				ex_err(o, "bad warm-up count '%s'", optarg);
				return 2;
			}
			o->warmup = v;
			o->warmup_set = true;
			break;
		case 'b':
			have_b = true;
			o->blocking = true;
			break;
		case 'p':
			have_p = true;
			o->blocking = false;
			break;
		case 'g':
			if (parse_u64(optarg, &v) || !v || v > 64) {
				ex_err(o, "bad SGE count '%s' (1..64)", optarg);
				return 2;
			}
			o->nsge = (uint32_t)v;
			break;
		case 'I':
			if (parse_u64(optarg, &v) || v > (1u << 20)) {
				ex_err(o, "bad inline size '%s'", optarg);
				return 2;
			}
			o->inline_max = (int64_t)v;
			break;
		case 'q':
			if (parse_u64(optarg, &v) || !v || v > 65536) {
				ex_err(o, "bad queue depth '%s' (1..65536)",
				       optarg);
				return 2;
			}
			o->depth = (uint32_t)v;
			break;
		case 'w':
		case 'r':
			if (!(o->accepts & EX_OPT_RW)) {
				ex_err(o, "-%c is only for nd-rping", ch);
				return 2;
			}
			if (have_w && o->read != (ch == 'r')) {
				ex_err(o, "-w and -r exclude each other");
				return 2;
			}
			have_w = true;
			o->read = ch == 'r';
			break;
		case 'C':
			o->check = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
		case 1:
			d = strtod(optarg, &end);
			if (*end || d < 0 || d > 86400 ||
			    (ch == 't' && !(d > 0))) {
				ex_err(o, "bad timeout '%s' (seconds)", optarg);
				return 2;
			}
			if (ch == 't')
				o->timeout_ms = (int)(d * 1000);
			else
				o->wait_ms = (int)(d * 1000);
			break;
		case 'h':
			usage(o, stdout);
			exit(0);
		default:
			usage(o, stderr);
			return 2;
		}
	}
	if (optind < argc && !addr && !have_s && !have_c) {
		ex_err(o, "give -s or -c before the address");
		return 2;
	}
	if (optind < argc) {
		ex_err(o, "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (have_s == have_c) {
		ex_err(
		    o,
		    "give exactly one of -s ADDR (server) or -c ADDR (client)");
		return 2;
	}
	if (have_b && have_p) {
		ex_err(o, "-b and -p exclude each other");
		return 2;
	}
	o->server = have_s;
	if (ex_parse_addr(addr, o->default_port, &o->addr, &o->addr_len)) {
		ex_err(o,
		       "bad address '%s' (want IPv4[:port] or [IPv6][:port])",
		       addr);
		return 2;
	}
	ex_addr_str((struct sockaddr *)&o->addr, o->addr_str,
		    sizeof(o->addr_str));
	if (!o->nsizes) {
		static const uint32_t def[] = {1, 64, 1024, 16384, 262144};

		memcpy(o->sizes, def, sizeof(def));
		o->nsizes = (int)(sizeof(def) / sizeof(def[0]));
	}
	return 0;
}

nd_status ex_open_adapter(const struct ex_opts *o, const struct sockaddr *addr,
			  uint32_t len, struct nd_adapter **adapter,
			  struct nd_adapter_info *info)
{
	char s[80];
	uint32_t size = sizeof(*info);
	nd_status st;

	ex_addr_str(addr, s, sizeof(s));
	/* Print the address without its port. */
	if (addr->sa_family == AF_INET6) {
		char *e = strrchr(s, ']');
		if (e) {
			*e = 0;
			memmove(s, s + 1, strlen(s));
		}
	} else {
		char *e = strrchr(s, ':');
		if (e)
			*e = 0;
	}
	st = nd_open_adapter(addr, len, adapter);
	if (st == ND_INVALID_ADDRESS) {
		ex_err(o, "no netdirect adapter serves %s", s);
		return st;
	}
	if (ND_FAILED(st)) {
		ex_err(o, "cannot open the adapter serving %s: %s", s,
		       ex_status(st));
		return st;
	}
	memset(info, 0, sizeof(*info));
	info->info_version = ND_VERSION_2;
	st = nd_adapter_query(*adapter, info, &size);
	if (ND_FAILED(st)) {
		ex_err(o, "cannot query the adapter serving %s: %s", s,
		       ex_status(st));
		nd_adapter_release(*adapter);
		*adapter = NULL;
	}
	return st;
}

void ex_print_flags(FILE *f, uint32_t flags, const char *sep)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
	    {ND_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED, "IN_ORDER_DMA_SUPPORTED"},
	    {ND_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED,
	     "CQ_INTERRUPT_MODERATION_SUPPORTED"},
	    {ND_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED, "MULTI_ENGINE_SUPPORTED"},
	    {ND_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, "CQ_RESIZE_SUPPORTED"},
	    {ND_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
	     "LOOPBACK_CONNECTIONS_SUPPORTED"},
	};
	const char *s = "";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (flags & names[i].bit) {
			fprintf(f, "%s%s", s, names[i].name);
			s = sep;
			flags &= ~names[i].bit;
		}
	}
	if (flags)
		fprintf(f, "%s0x%08x", s, flags);
}

/* --- patterns --------------------------------------------------------------- */

static uint64_t pattern_seed(uint32_t size, uint64_t iter, unsigned dir)
{
	uint64_t x = ((uint64_t)size << 32) ^ (iter * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)dir << 63) ^ 0x5a5a5a5a12345678ull;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return x;
}

static inline uint64_t pattern_word(uint64_t seed, uint64_t i)
{
	return seed ^ (i * 0xd6e8feb86659fd93ull);
}

void ex_fill(void *buf, uint32_t len, uint32_t size, uint64_t iter,
	     unsigned dir)
{
	uint64_t seed = pattern_seed(size, iter, dir);
	uint8_t *p = buf;
	uint32_t words = len / 8, i;

	for (i = 0; i < words; i++) {
		uint64_t w = pattern_word(seed, i);
		memcpy(p + 8 * i, &w, 8);
	}
	if (len % 8) {
		uint64_t w = pattern_word(seed, i);
		memcpy(p + 8 * i, &w, len % 8);
	}
}

int64_t ex_verify(const void *buf, uint32_t len, uint32_t size, uint64_t iter,
		  unsigned dir)
{
	uint64_t seed = pattern_seed(size, iter, dir);
	const uint8_t *p = buf;
	uint32_t words = len / 8, i;

	for (i = 0; i < words; i++) {
		uint64_t w = pattern_word(seed, i), got;
		memcpy(&got, p + 8 * i, 8);
		if (got != w) {
			for (uint32_t b = 0; b < 8; b++)
				if (((got ^ w) >> (8 * b)) & 0xff)
					return 8 * i + b;
		}
	}
	if (len % 8) {
		uint64_t w = pattern_word(seed, i);
		if (memcmp(p + 8 * i, &w, len % 8)) {
			const uint8_t *wb = (const uint8_t *)&w;
			for (uint32_t b = 0; b < len % 8; b++)
				if (p[8 * i + b] != wb[b])
					return 8 * i + b;
		}
	}
	return -1;
}

/* --- statistics and output ---------------------------------------------------- */

void ex_sample_add(struct ex_samples *s, uint64_t ns)
{
	if (s->n < s->cap)
		s->ns[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

struct ex_stats {
	double min, max, median, avg, stdev, p99, p999;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, uint64_t n, double p)
{
	uint64_t i = (uint64_t)ceil(p * (double)n);

	if (i)
		i--;
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

static void stats_compute(struct ex_samples *s, struct ex_stats *st)
{
	double sum = 0, sq = 0;

	memset(st, 0, sizeof(*st));
	if (!s->n)
		return;
	qsort(s->ns, s->n, sizeof(s->ns[0]), cmp_u32);
	for (uint64_t i = 0; i < s->n; i++)
		sum += s->ns[i];
	st->avg = sum / (double)s->n / 1000.0;
	for (uint64_t i = 0; i < s->n; i++) {
		double d = s->ns[i] / 1000.0 - st->avg;
		sq += d * d;
	}
	st->stdev = s->n > 1 ? sqrt(sq / (double)(s->n - 1)) : 0;
	st->min = s->ns[0] / 1000.0;
	st->max = s->ns[s->n - 1] / 1000.0;
	st->median = s->n % 2
			 ? s->ns[s->n / 2] / 1000.0
			 : (s->ns[s->n / 2 - 1] + s->ns[s->n / 2]) / 2000.0;
	st->p99 = pct(s->ns, s->n, 0.99);
	st->p999 = pct(s->ns, s->n, 0.999);
}

static int json_rows;

void ex_table_header(const struct ex_opts *o, const char *first, bool bw)
{
	if (o->json)
		return;
	printf("%s%9s %11s %9s %9s %9s %9s %9s %9s %9s", first ? first : "",
	       "#bytes", "#iterations", "t_min", "t_max", "t_typical", "t_avg",
	       "t_stdev", "99%", "99.9%");
	if (bw)
		printf(" %10s %11s", "MB/s", "msg/s");
	printf("\n");
	fflush(stdout);
}

void ex_table_row(const struct ex_opts *o, const char *op, uint32_t size,
		  struct ex_samples *s, bool bw)
{
	struct ex_stats st;
	double secs = s->elapsed_ns / 1e9;
	double mbps = secs > 0 ? s->bytes / secs / 1e6 : 0;
	double mps = secs > 0 ? s->msgs / secs : 0;

	stats_compute(s, &st);
	if (o->json) {
		printf("%s\n    {", json_rows++ ? "," : "");
		if (op)
			printf("\"op\": \"%s\", ", op);
		printf("\"bytes\": %u, \"iterations\": %" PRIu64
		       ", \"t_min_us\": %.3f, \"t_max_us\": %.3f, "
		       "\"t_typical_us\": %.3f, \"t_avg_us\": %.3f, "
		       "\"t_stdev_us\": %.3f, \"t_99_us\": %.3f, "
		       "\"t_999_us\": %.3f",
		       size, s->msgs, st.min, st.max, st.median, st.avg,
		       st.stdev, st.p99, st.p999);
		if (bw)
			printf(", \"mb_per_s\": %.3f, \"msg_per_s\": %.1f",
			       mbps, mps);
		printf("}");
	} else {
		if (op)
			printf("%-11s", op);
		printf("%9u %11" PRIu64
		       " %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f",
		       size, s->msgs, st.min, st.max, st.median, st.avg,
		       st.stdev, st.p99, st.p999);
		if (bw)
			printf(" %10.2f %11.0f", mbps, mps);
		printf("\n");
	}
	fflush(stdout);
}

/* Writes a JSON string (the values here never need escaping beyond this). */
static void json_str(const char *key, const char *v, bool comma)
{
	printf("  \"%s\": \"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar(*v);
	}
	printf("\"%s\n", comma ? "," : "");
}

void ex_identity_str(struct nd_adapter *adapter, char *out, size_t len)
{
	struct nd_adapter_identity id;

	if (ND_FAILED(nd_adapter_get_identity(adapter, &id)))
		snprintf(out, len, "provider unknown");
	else
		snprintf(out, len, "provider %s, device %s, transport %s",
			 id.provider, id.device[0] ? id.device : "?",
			 id.transport[0] ? id.transport : "?");
}

void ex_json_begin(const struct ex_opts *o, const char *measures,
		   struct nd_adapter *adapter,
		   const struct nd_adapter_info *info, const char *local,
		   const char *peer, const char *mode_extra)
{
	struct nd_adapter_identity id;

	if (ND_FAILED(nd_adapter_get_identity(adapter, &id)))
		memset(&id, 0, sizeof(id));
	printf("{\n");
	json_str("tool", o->tool, true);
	json_str("measures", measures, true);
	json_str("local", local, true);
	if (peer)
		json_str("peer", peer, true);
	if (mode_extra)
		printf("%s", mode_extra);
	printf("  \"adapter\": {\"provider\": \"%s\", \"device\": \"%s\", "
	       "\"transport\": \"%s\", \"vendor_id\": %u, \"device_id\": %u, "
	       "\"adapter_id\": \"0x%016" PRIx64 "\", \"flags\": \"",
	       id.provider, id.device, id.transport, info->vendor_id,
	       info->device_id, info->adapter_id);
	ex_print_flags(stdout, info->adapter_flags, "|");
	printf("\"},\n  \"results\": [");
	json_rows = 0;
}

void ex_json_end(void)
{
	printf("\n  ]\n}\n");
	fflush(stdout);
}

/* --- waiting --------------------------------------------------------------- */

/* Drains the adapter's finished-request queue: the statuses live in the
 * nd_overlapped structs themselves, which the waiters check. */
static void drain_queue(struct ex_conn *c)
{
	struct nd_overlapped *ov;

	while (nd_adapter_dequeue_overlapped(c->adapter, 0, &ov) == ND_SUCCESS)
		;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = ex_now_ns();

	if (!deadline)
		return -1;
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

/*
 * Waits for an asynchronous call to finish, for at most timeout_ms
 * (<= 0: forever). On timeout the object's requests are cancelled and
 * ND_IO_TIMEOUT returned.
 */
static nd_status wait_ov(struct ex_conn *c, void *obj, struct nd_overlapped *ov,
			 nd_status st, int timeout_ms)
{
	uint64_t deadline =
	    timeout_ms > 0 ? ex_now_ns() + (uint64_t)timeout_ms * 1000000ull
			   : 0;

	if (st != ND_PENDING)
		return st;
	while ((st = nd_get_overlapped_result(obj, ov, false)) == ND_PENDING) {
		int ms = remaining_ms(deadline);
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

		if (ms == 0) {
			nd_cancel_overlapped(obj);
			nd_get_overlapped_result(obj, ov, true);
			drain_queue(c);
			return ND_IO_TIMEOUT;
		}
		if (poll(&pfd, 1, ms < 0 || ms > 1000 ? 1000 : ms) < 0 &&
		    errno != EINTR)
			ex_die(c, "poll: %s", strerror(errno));
		drain_queue(c);
	}
	return st;
}

static bool peer_disconnected(struct ex_conn *c)
{
	return c->connected && __atomic_load_n(&c->disc_ov.status,
					       __ATOMIC_ACQUIRE) != ND_PENDING;
}

static const char *request_name(int32_t type)
{
	switch (type) {
	case ND_REQUEST_TYPE_RECEIVE:
		return "receive";
	case ND_REQUEST_TYPE_SEND:
		return "send";
	case ND_REQUEST_TYPE_READ:
		return "RDMA read";
	case ND_REQUEST_TYPE_WRITE:
		return "RDMA write";
	case ND_REQUEST_TYPE_BIND:
		return "bind";
	default:
		return "request";
	}
}

static void dispatch(struct ex_conn *c, const struct nd_result *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, r++) {
		if (ND_UNLIKELY(r->status != ND_SUCCESS)) {
			if (c->closing && r->status == ND_CANCELED) {
				if (r->request_type != ND_REQUEST_TYPE_RECEIVE)
					c->sq_out--;
				continue;
			}
			if (r->status == ND_CANCELED)
				ex_die(
				    c,
				    "connection to %s lost: the peer disconnected or went away (%s flushed)",
				    c->peer_str, request_name(r->request_type));
			ex_die(c, "%s failed: %s (connection to %s)",
			       request_name(r->request_type),
			       ex_status(r->status), c->peer_str);
		}
		if (r->request_type == ND_REQUEST_TYPE_RECEIVE) {
			struct ex_rx *rx = &c->rx[c->rx_tail++ % EX_RX_RING];

			rx->slot = (uint32_t)EX_CTX_IDX(r->request_context);
			rx->bytes = r->bytes_transferred;
			continue;
		}
		c->sq_out--;
		if (EX_CTX_KIND(r->request_context) == EX_CTX_CTRL)
			c->ctrl_done++;
		else if (EX_CTX_KIND(r->request_context) == EX_CTX_DATA &&
			 c->tx_done)
			c->tx_done(c, EX_CTX_IDX(r->request_context));
	}
}

void ex_progress_poll(struct ex_conn *c)
{
	struct nd_result r[16];
	uint32_t n = nd_cq_get_results(c->cq, r, 16);

	if (n)
		dispatch(c, r, n);
}

/* The peer disconnected: an error unless the run is over, when whatever
 * is still outstanding no longer matters. */
static void peer_gone(struct ex_conn *c)
{
	if (!c->closing)
		ex_die(c, "%s disconnected before the run ended", c->peer_str);
	c->sq_out = 0;
}

static void no_progress(struct ex_conn *c, int timeout_ms)
{
	ex_die(c, "no completion within %.1f s: %s stopped responding",
	       timeout_ms / 1000.0, c->peer_str);
}

void ex_progress(struct ex_conn *c, int timeout_ms)
{
	struct nd_result r[16];
	uint64_t deadline;
	uint32_t n;

	if (timeout_ms <= 0)
		timeout_ms = c->o->timeout_ms;
	n = nd_cq_get_results(c->cq, r, 16);
	if (n) {
		dispatch(c, r, n);
		return;
	}
	deadline = ex_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	if (!c->o->blocking) {
		for (uint32_t spins = 1;; spins++) {
			n = nd_cq_get_results(c->cq, r, 16);
			if (n) {
				dispatch(c, r, n);
				return;
			}
			if (spins % 1024)
				continue;
			if (peer_disconnected(c)) {
				peer_gone(c);
				return;
			}
			if (ex_now_ns() > deadline)
				no_progress(c, timeout_ms);
		}
	}
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		nd_status st;
		int ms;

		if (!c->notify_armed) {
			st = nd_cq_notify(c->cq, ND_CQ_NOTIFY_ANY,
					  &c->notify_ov);
			if (st == ND_PENDING)
				c->notify_armed = true;
			else if (ND_FAILED(st))
				ex_die(c, "CQ notify failed: %s",
				       ex_status(st));
		}
		if (c->notify_armed) {
			ms = remaining_ms(deadline);
			if (ms == 0)
				no_progress(c, timeout_ms);
			if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
				ex_die(c, "poll: %s", strerror(errno));
			drain_queue(c);
			st = nd_get_overlapped_result(c->cq, &c->notify_ov,
						      false);
			if (st != ND_PENDING) {
				c->notify_armed = false;
				if (ND_FAILED(st))
					ex_die(c, "CQ notify failed: %s",
					       ex_status(st));
			}
		}
		n = nd_cq_get_results(c->cq, r, 16);
		if (n) {
			dispatch(c, r, n);
			return;
		}
		if (peer_disconnected(c)) {
			peer_gone(c);
			return;
		}
	}
}

bool ex_rx_pop(struct ex_conn *c, struct ex_rx *rx)
{
	if (c->rx_head == c->rx_tail)
		return false;
	*rx = c->rx[c->rx_head++ % EX_RX_RING];
	return true;
}

struct ex_rx ex_rx_wait(struct ex_conn *c, int timeout_ms)
{
	struct ex_rx rx;

	while (!ex_rx_pop(c, &rx))
		ex_progress(c, timeout_ms);
	return rx;
}

uint8_t *ex_recv_buf(struct ex_conn *c, uint32_t slot)
{
	return c->recv_area + (size_t)slot * c->recv_slot;
}

uint8_t *ex_send_buf(struct ex_conn *c, uint32_t slot)
{
	return c->send_area + (size_t)slot * c->send_slot;
}

/* Splits [buf, buf+len) into at most max SGEs. */
static uint32_t make_sge(struct ex_conn *c, struct nd_sge *sge, uint32_t max,
			 void *buf, uint32_t len)
{
	uint32_t n = len < max ? len : max, chunk, off = 0;

	if (!n)
		return 0;
	chunk = len / n;
	for (uint32_t i = 0; i < n; i++) {
		sge[i].buffer = (uint8_t *)buf + off;
		sge[i].buffer_length = i + 1 == n ? len - off : chunk;
		sge[i].memory_region_token = c->lkey;
		off += chunk;
	}
	return n;
}

void ex_post_recv(struct ex_conn *c, uint32_t slot)
{
	struct nd_sge sge[64];
	uint32_t n =
	    make_sge(c, sge, c->rsge, ex_recv_buf(c, slot), c->recv_slot);
	nd_status st = nd_qp_receive(c->qp, EX_CTX(EX_CTX_DATA, slot), sge, n);

	if (ND_FAILED(st))
		ex_die(c, "posting a receive failed: %s", ex_status(st));
}

void ex_sq_reserve(struct ex_conn *c)
{
	while (c->sq_out >= c->sq_depth)
		ex_progress(c, 0);
}

void ex_sq_drain(struct ex_conn *c, int timeout_ms)
{
	while (c->sq_out)
		ex_progress(c, timeout_ms);
}

static void post_checked(struct ex_conn *c, nd_status st, const char *what)
{
	if (ND_FAILED(st))
		ex_die(c, "posting %s failed: %s", what, ex_status(st));
	c->sq_out++;
}

static uint32_t inline_flag(struct ex_conn *c, uint32_t len)
{
	return len && len <= c->inline_max ? ND_OP_FLAG_INLINE : 0;
}

void ex_post_send(struct ex_conn *c, void *ctx, void *buf, uint32_t len)
{
	struct nd_sge sge[64];
	uint32_t n;

	ex_sq_reserve(c);
	n = make_sge(c, sge, c->ssge, buf, len);
	post_checked(c, nd_qp_send(c->qp, ctx, sge, n, inline_flag(c, len)),
		     "a send");
}

void ex_post_write(struct ex_conn *c, void *ctx, void *buf, uint32_t len,
		   uint64_t raddr, uint32_t rtoken)
{
	struct nd_sge sge[64];
	uint32_t n;

	ex_sq_reserve(c);
	n = make_sge(c, sge, c->ssge, buf, len);
	post_checked(
	    c,
	    nd_qp_write(c->qp, ctx, sge, n, raddr, rtoken, inline_flag(c, len)),
	    "an RDMA write");
}

void ex_post_read(struct ex_conn *c, void *ctx, void *buf, uint32_t len,
		  uint64_t raddr, uint32_t rtoken)
{
	struct nd_sge sge[64];
	uint32_t n;

	ex_sq_reserve(c);
	n = make_sge(c, sge, c->read_sge, buf, len);
	post_checked(c, nd_qp_read(c->qp, ctx, sge, n, raddr, rtoken, 0),
		     "an RDMA read");
}

void ex_send_ctrl(struct ex_conn *c, uint32_t op, uint32_t size, uint32_t flags,
		  uint64_t iters, uint64_t arg, uint32_t status)
{
	uint32_t slot = c->ctrl_next++ % EX_CTRL_SLOTS;
	struct ex_ctrl *m =
	    (struct ex_ctrl *)(c->ctrl_area + slot * EX_CTRL_SIZE);
	struct nd_sge sge;
	uint32_t len = EX_CTRL_SIZE;

	/* A ring slot is reused only once its last send has completed. */
	while (c->sq_out >= c->sq_depth ||
	       c->ctrl_next - c->ctrl_done >= EX_CTRL_SLOTS)
		ex_progress(c, 0);
	memset(m, 0, sizeof(*m));
	m->magic = EX_MAGIC;
	m->op = op;
	m->size = size;
	m->flags = flags;
	m->iters = iters;
	m->arg = arg;
	m->status = status;
	sge.buffer = m;
	sge.buffer_length = len;
	sge.memory_region_token = c->lkey;
	post_checked(c,
		     nd_qp_send(c->qp, EX_CTX(EX_CTX_CTRL, slot), &sge, 1,
				inline_flag(c, len)),
		     "a control message");
}

const struct ex_ctrl *ex_rx_ctrl(struct ex_conn *c, const struct ex_rx *rx)
{
	const struct ex_ctrl *m = (const void *)ex_recv_buf(c, rx->slot);

	if (rx->bytes != EX_CTRL_SIZE || m->magic != EX_MAGIC)
		return NULL;
	return m;
}

static const char *op_name(uint32_t op)
{
	static const char *const names[] = {"?",   "BEGIN", "ACK",
					    "END", "DONE",  "CREDIT"};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

struct ex_ctrl ex_wait_ctrl(struct ex_conn *c, uint32_t op, int timeout_ms)
{
	for (;;) {
		struct ex_rx rx = ex_rx_wait(c, timeout_ms);
		const struct ex_ctrl *m = ex_rx_ctrl(c, &rx);
		struct ex_ctrl copy;

		if (!m)
			ex_die(
			    c,
			    "protocol error: a %u-byte data message from %s where a control message was due",
			    rx.bytes, c->peer_str);
		copy = *m;
		ex_post_recv(c, rx.slot);
		if (copy.op == EX_CREDIT && op != EX_CREDIT)
			continue;
		if (op ? copy.op != op
		       : copy.op != EX_BEGIN && copy.op != EX_DONE)
			ex_die(c, "protocol error: %s from %s where %s was due",
			       op_name(copy.op), c->peer_str,
			       op ? op_name(op) : "BEGIN or DONE");
		return copy;
	}
}

/* --- connection setup -------------------------------------------------------- */

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Slots of `size` bytes that fit the memory cap, at least 1. */
uint32_t ex_slots_for(uint32_t want, uint32_t size)
{
	uint32_t fit = EX_MEM_CAP / (size ? size : 1);

	return max32(1, min32(want, fit));
}

static uint32_t align64(uint32_t v)
{
	return (v + 63u) & ~63u;
}

/* Queue depths, SGE counts and inline size from the options, the client's
 * parameters and the adapter's limits. */
static void size_queues(struct ex_conn *c)
{
	const struct nd_adapter_info *in = &c->info;
	uint32_t depth = c->params.depth ? c->params.depth : 128;
	uint32_t nsge = c->params.nsge ? c->params.nsge : 1;

	c->sq_depth = min32(max32(depth, 4), in->max_initiator_queue_depth);
	c->rq_depth = min32(c->nrecv, in->max_receive_queue_depth);
	if (c->rq_depth > EX_RX_RING / 2)
		c->rq_depth = EX_RX_RING / 2;
	c->cq_depth = c->sq_depth + c->rq_depth;
	if (c->cq_depth > in->max_completion_queue_depth) {
		/* Share the CQ: shrink both queues proportionally. */
		uint32_t cq = in->max_completion_queue_depth;

		c->rq_depth = max32(2, min32(c->rq_depth, cq / 2));
		c->sq_depth = max32(2, cq - c->rq_depth);
		c->cq_depth = c->sq_depth + c->rq_depth;
	}
	c->nrecv = min32(c->nrecv, c->rq_depth);
	c->ssge = max32(1, min32(nsge, in->max_initiator_sge));
	c->rsge = max32(1, min32(nsge, in->max_receive_sge));
	c->read_sge = max32(
	    1, min32(nsge, min32(in->max_read_sge, in->max_initiator_sge)));
	if (c->o->inline_max >= 0)
		c->inline_max = (uint32_t)c->o->inline_max;
	else
		c->inline_max = in->inline_request_threshold;
	c->inline_max = min32(c->inline_max, in->max_inline_data_size);
}

static void setup_buffer(struct ex_conn *c)
{
	struct nd_overlapped ov;
	size_t off = 0;
	nd_status st;
	void *p;

	c->send_slot = align64(c->send_slot);
	c->recv_slot = align64(max32(c->recv_slot, EX_CTRL_SIZE));
	c->rdma_len = align64(c->rdma_len);
	c->buf_len = EX_CTRL_SLOTS * EX_CTRL_SIZE +
		     (size_t)c->nsend * c->send_slot +
		     (size_t)c->nrecv * c->recv_slot + c->rdma_len;
	if (c->buf_len > c->info.max_registration_size)
		ex_die(
		    c,
		    "needs to register %zu bytes; the adapter allows %" PRIu64
		    " (use a smaller -S or -q)",
		    c->buf_len, c->info.max_registration_size);
	if (posix_memalign(&p, 4096, c->buf_len))
		ex_die(c, "out of memory (%zu bytes)", c->buf_len);
	memset(p, 0, c->buf_len);
	c->buf = p;
	c->ctrl_area = c->buf;
	off += EX_CTRL_SLOTS * EX_CTRL_SIZE;
	c->send_area = c->buf + off;
	off += (size_t)c->nsend * c->send_slot;
	c->recv_area = c->buf + off;
	off += (size_t)c->nrecv * c->recv_slot;
	c->rdma_area = c->buf + off;

	st = nd_adapter_create_mr(c->adapter, &c->mr);
	if (ND_FAILED(st))
		ex_die(c, "creating a memory region failed: %s", ex_status(st));
	memset(&ov, 0, sizeof(ov));
	st = wait_ov(c, c->mr, &ov,
		     nd_mr_register(c->mr, c->buf, c->buf_len,
				    ND_MR_FLAG_ALLOW_LOCAL_WRITE |
					ND_MR_FLAG_ALLOW_REMOTE_WRITE |
					ND_MR_FLAG_ALLOW_REMOTE_READ |
					ND_MR_FLAG_RDMA_READ_SINK,
				    &ov),
		     c->o->timeout_ms);
	if (ND_FAILED(st))
		ex_die(c, "registering %zu bytes failed: %s", c->buf_len,
		       ex_status(st));
	c->lkey = nd_mr_get_local_token(c->mr);
}

static void setup_queues(struct ex_conn *c)
{
	nd_status st;

	st = nd_adapter_create_cq(c->adapter, c->cq_depth, 0, 0, &c->cq);
	if (ND_FAILED(st))
		ex_die(c, "creating a CQ of depth %u failed: %s", c->cq_depth,
		       ex_status(st));
	st = nd_adapter_create_qp(
	    c->adapter, c->cq, c->cq, c, c->rq_depth, c->sq_depth, c->rsge,
	    max32(c->ssge, c->read_sge), c->inline_max, &c->qp);
	if (ND_FAILED(st))
		ex_die(
		    c,
		    "creating a QP (depths %u/%u, SGEs %u/%u, inline %u) failed: %s",
		    c->rq_depth, c->sq_depth, c->rsge, c->ssge, c->inline_max,
		    ex_status(st));
	for (uint32_t i = 0; i < c->nrecv; i++)
		ex_post_recv(c, i);
}

static void adapter_open(struct ex_conn *c, const struct sockaddr *local,
			 uint32_t len)
{
	nd_status st;

	if (ND_FAILED(ex_open_adapter(c->o, local, len, &c->adapter, &c->info)))
		exit(1);
	st = nd_adapter_create_overlapped_file(c->adapter, &c->fd);
	if (ND_FAILED(st))
		ex_die(c, "cannot create the overlapped file: %s",
		       ex_status(st));
}

static void arm_disconnect(struct ex_conn *c)
{
	nd_status st;

	memset(&c->disc_ov, 0, sizeof(c->disc_ov));
	st = nd_connector_notify_disconnect(c->conn, &c->disc_ov);
	/* Anything but pending: no notification; rely on completions. */
	c->connected = st == ND_PENDING;
}

static void setup_server(struct ex_conn *c, const struct ex_tool *t)
{
	struct sockaddr_storage ss;
	struct nd_overlapped ov;
	uint32_t len = sizeof(ss), n;
	nd_status st;

	adapter_open(c, (struct sockaddr *)&c->o->addr, c->o->addr_len);
	st = nd_adapter_create_listener(c->adapter, &c->listener);
	if (ND_FAILED(st))
		ex_die(c, "creating a listener failed: %s", ex_status(st));
	st = nd_listener_bind(c->listener, (struct sockaddr *)&c->o->addr,
			      c->o->addr_len);
	if (ND_FAILED(st))
		ex_die(c, "cannot listen on %s: %s", c->o->addr_str,
		       st == ND_SHARING_VIOLATION ||
			       st == ND_ADDRESS_ALREADY_EXISTS
			   ? "the port is in use"
			   : ex_status(st));
	st = nd_listener_listen(c->listener, 0);
	if (ND_FAILED(st))
		ex_die(c, "listen on %s failed: %s", c->o->addr_str,
		       ex_status(st));
	if (ND_SUCCEEDED(nd_listener_get_local_address(
		c->listener, (struct sockaddr *)&ss, &len)))
		ex_addr_str((struct sockaddr *)&ss, c->local_str,
			    sizeof(c->local_str));
	else
		snprintf(c->local_str, sizeof(c->local_str), "%s",
			 c->o->addr_str);
	if (!c->o->json) {
		printf("# %s: listening on %s\n", c->o->tool, c->local_str);
		fflush(stdout);
	}

	st = nd_adapter_create_connector(c->adapter, &c->conn);
	if (ND_FAILED(st))
		ex_die(c, "creating a connector failed: %s", ex_status(st));
	memset(&ov, 0, sizeof(ov));
	st = wait_ov(
	    c, c->listener, &ov,
	    nd_listener_get_connection_request(c->listener, c->conn, &ov),
	    c->o->wait_ms);
	if (st == ND_IO_TIMEOUT)
		ex_die(c, "no client came within %.1f s", c->o->wait_ms / 1e3);
	if (ND_FAILED(st))
		ex_die(c, "waiting for a client failed: %s", ex_status(st));
	len = sizeof(ss);
	if (ND_SUCCEEDED(nd_connector_get_peer_address(
		c->conn, (struct sockaddr *)&ss, &len)))
		ex_addr_str((struct sockaddr *)&ss, c->peer_str,
			    sizeof(c->peer_str));
	else
		snprintf(c->peer_str, sizeof(c->peer_str), "the client");

	n = sizeof(c->params);
	memset(&c->params, 0, sizeof(c->params));
	st = nd_connector_get_private_data(c->conn, &c->params, &n);
	memset(&c->reply, 0, sizeof(c->reply));
	c->reply.magic = EX_MAGIC;
	if ((ND_FAILED(st) && st != ND_BUFFER_OVERFLOW) ||
	    c->params.magic != EX_MAGIC) {
		nd_connector_reject(c->conn, NULL, 0);
		ex_die(c, "%s is not an nd-* tool client; rejected",
		       c->peer_str);
	}
	if (c->params.version != EX_VERSION || c->params.tool != c->o->id) {
		c->reply.status = c->params.version != EX_VERSION
				      ? EX_ERR_VERSION
				      : EX_ERR_TOOL | ((uint32_t)c->o->id << 8);
		nd_connector_reject(
		    c->conn, &c->reply,
		    min32(sizeof(c->reply), c->info.max_callee_data));
		ex_die(c, "%s runs another tool or version; rejected",
		       c->peer_str);
	}

	t->layout(c);
	size_queues(c);
	setup_buffer(c);
	setup_queues(c);
	c->reply.rx_slots = c->nrecv;
	c->reply.rdma_len = c->rdma_len;
	c->reply.rdma_token = c->rdma_len ? nd_mr_get_remote_token(c->mr) : 0;
	c->reply.rdma_addr = (uint64_t)(uintptr_t)c->rdma_area;
	c->reply.inbound_read_limit =
	    (c->params.flags & EX_PF_READ) ? c->info.max_inbound_read_limit : 0;
	c->peer_rdma_addr = c->params.my_rdma_addr;
	c->peer_rdma_token = c->params.my_rdma_token;
	c->peer_rdma_len = c->params.my_rdma_len;
	if (sizeof(c->reply) > c->info.max_callee_data)
		ex_die(c, "the adapter allows only %u bytes of accept data",
		       c->info.max_callee_data);
	memset(&ov, 0, sizeof(ov));
	st = wait_ov(c, c->conn, &ov,
		     nd_connector_accept(c->conn, c->qp,
					 c->reply.inbound_read_limit, 0,
					 &c->reply, sizeof(c->reply), &ov),
		     c->o->timeout_ms);
	if (ND_FAILED(st))
		ex_die(
		    c, "accepting %s failed: %s", c->peer_str,
		    st == ND_IO_TIMEOUT
			? "the client did not complete the connection in time"
			: ex_status(st));
	arm_disconnect(c);
}

static void setup_client(struct ex_conn *c, const struct ex_tool *t)
{
	struct sockaddr_storage local;
	size_t llen = sizeof(local);
	struct nd_overlapped ov;
	uint32_t n, in = 0, out = 0;
	nd_status st;

	snprintf(c->peer_str, sizeof(c->peer_str), "%s", c->o->addr_str);
	st = nd_resolve_address((struct sockaddr *)&c->o->addr, c->o->addr_len,
				(struct sockaddr *)&local, &llen);
	if (ND_FAILED(st)) {
		char host[80];
		char *e;

		snprintf(host, sizeof(host), "%s", c->o->addr_str);
		e = strrchr(host, ':');
		if (e)
			*e = 0;
		if (st == ND_INVALID_ADDRESS)
			ex_die(c, "no netdirect adapter serves a route to %s",
			       host);
		ex_die(c, "cannot reach %s: %s", host, ex_status(st));
	}
	adapter_open(c, (struct sockaddr *)&local, (uint32_t)llen);

	c->params.magic = EX_MAGIC;
	c->params.version = EX_VERSION;
	c->params.tool = (uint8_t)c->o->id;
	c->params.flags = (uint8_t)((c->o->check ? EX_PF_CHECK : 0) |
				    (c->o->read ? EX_PF_READ : 0));
	c->params.nsge = (uint8_t)c->o->nsge;
	c->params.depth = c->o->depth;
	c->params.size_max = 0;
	for (int i = 0; i < c->o->nsizes; i++)
		c->params.size_max = max32(c->params.size_max, c->o->sizes[i]);
	t->layout(c);
	size_queues(c);
	setup_buffer(c);
	setup_queues(c);
	c->params.my_rdma_len = c->rdma_len;
	c->params.my_rdma_token =
	    c->rdma_len ? nd_mr_get_remote_token(c->mr) : 0;
	c->params.my_rdma_addr = (uint64_t)(uintptr_t)c->rdma_area;
	if (sizeof(c->params) > c->info.max_caller_data)
		ex_die(c, "the adapter allows only %u bytes of connect data",
		       c->info.max_caller_data);

	st = nd_adapter_create_connector(c->adapter, &c->conn);
	if (ND_FAILED(st))
		ex_die(c, "creating a connector failed: %s", ex_status(st));
	st = nd_connector_bind(c->conn, (struct sockaddr *)&local,
			       (uint32_t)llen);
	if (ND_FAILED(st))
		ex_die(c, "binding the connector failed: %s", ex_status(st));
	memset(&ov, 0, sizeof(ov));
	st = wait_ov(
	    c, c->conn, &ov,
	    nd_connector_connect(
		c->conn, c->qp, (struct sockaddr *)&c->o->addr, c->o->addr_len,
		/* Also offered inbound: the tcp
					   * provider clamps the server's
					   * inbound limit by it. */
		c->o->read ? c->sq_depth : 0, c->o->read ? c->sq_depth : 0,
		&c->params, sizeof(c->params), &ov),
	    c->o->timeout_ms);
	if (st == ND_CONNECTION_REFUSED) {
		struct ex_reply r;

		n = sizeof(r);
		memset(&r, 0, sizeof(r));
		nd_connector_get_private_data(c->conn, &r, &n);
		if (r.magic == EX_MAGIC && (r.status & 0xff) == EX_ERR_TOOL) {
			static const char *const names[] = {
			    "?",       "nd-pingpong", "nd-rpingpong",
			    "nd-ping", "nd-rping",    "nd-readlat"};
			uint32_t id = r.status >> 8;

			ex_die(c, "the server at %s runs %s, not %s",
			       c->peer_str, id < 6 ? names[id] : "another tool",
			       c->o->tool);
		}
		if (r.magic == EX_MAGIC && r.status)
			ex_die(c, "the server at %s rejected us (error %u)",
			       c->peer_str, r.status);
		ex_die(c, "connection to %s refused: nobody is listening there",
		       c->peer_str);
	}
	if (st == ND_IO_TIMEOUT || st == ND_TIMEOUT)
		ex_die(c, "no answer from %s within %.1f s", c->peer_str,
		       c->o->timeout_ms / 1e3);
	if (st == ND_NETWORK_UNREACHABLE || st == ND_HOST_UNREACHABLE)
		ex_die(c, "%s is unreachable", c->peer_str);
	if (ND_FAILED(st))
		ex_die(c, "connecting to %s failed: %s", c->peer_str,
		       ex_status(st));

	n = sizeof(c->reply);
	memset(&c->reply, 0, sizeof(c->reply));
	st = nd_connector_get_private_data(c->conn, &c->reply, &n);
	if ((ND_FAILED(st) && st != ND_BUFFER_OVERFLOW) ||
	    c->reply.magic != EX_MAGIC) {
		nd_connector_reject(c->conn, NULL, 0);
		ex_die(c, "%s is not an nd-* tool server", c->peer_str);
	}
	if (ND_SUCCEEDED(nd_connector_get_read_limits(c->conn, &in, &out)))
		c->read_limit = min32(out, c->reply.inbound_read_limit);
	c->peer_rdma_addr = c->reply.rdma_addr;
	c->peer_rdma_token = c->reply.rdma_token;
	c->peer_rdma_len = c->reply.rdma_len;
	memset(&ov, 0, sizeof(ov));
	st = wait_ov(c, c->conn, &ov,
		     nd_connector_complete_connect(c->conn, &ov),
		     c->o->timeout_ms);
	if (ND_FAILED(st))
		ex_die(c, "completing the connection to %s failed: %s",
		       c->peer_str, ex_status(st));
	n = sizeof(local);
	if (ND_SUCCEEDED(nd_connector_get_local_address(
		c->conn, (struct sockaddr *)&local, &n)))
		ex_addr_str((struct sockaddr *)&local, c->local_str,
			    sizeof(c->local_str));
	arm_disconnect(c);
}

static void teardown(struct ex_conn *c)
{
	struct nd_overlapped ov;
	nd_status st;

	if (c->conn) {
		memset(&ov, 0, sizeof(ov));
		st = wait_ov(c, c->conn, &ov,
			     nd_connector_disconnect(c->conn, &ov),
			     c->o->timeout_ms);
		(void)st; /* the peer may have gone first: fine */
		c->connected = false;
		nd_connector_release(c->conn);
	}
	if (c->qp)
		nd_qp_release(c->qp);
	if (c->cq)
		nd_cq_release(c->cq);
	if (c->mr) {
		memset(&ov, 0, sizeof(ov));
		wait_ov(c, c->mr, &ov, nd_mr_deregister(c->mr, &ov),
			c->o->timeout_ms);
		nd_mr_release(c->mr);
	}
	if (c->listener)
		nd_listener_release(c->listener);
	if (c->fd >= 0)
		close(c->fd);
	if (c->adapter)
		nd_adapter_release(c->adapter);
	free(c->buf);
}

/* --- the driver ------------------------------------------------------------ */

void ex_begin(struct ex_conn *c, uint32_t size, uint64_t iters, bool measure)
{
	c->last_beat = ex_now_ns();
	ex_send_ctrl(c, EX_BEGIN, size, measure ? EX_PH_MEASURE : 0, iters, 0,
		     0);
	ex_wait_ctrl(c, EX_ACK, 0);
}

void ex_heartbeat(struct ex_conn *c)
{
	uint64_t now = ex_now_ns();

	if (now - c->last_beat < 1000000000ull)
		return;
	c->last_beat = now;
	ex_send_ctrl(c, EX_CREDIT, 0, 0, 0, 0, 0);
}

void ex_ack(struct ex_conn *c, uint32_t status)
{
	ex_send_ctrl(c, EX_ACK, 0, 0, 0, 0, status);
}

/* Client side of END / ACK: returns the server's data-check status. */
uint32_t ex_end(struct ex_conn *c)
{
	struct ex_ctrl m;

	ex_send_ctrl(c, EX_END, 0, 0, 0, 0, 0);
	m = ex_wait_ctrl(c, EX_ACK, 0);
	return m.status;
}

static uint64_t default_iters(const struct ex_opts *o, const struct ex_tool *t,
			      uint32_t size)
{
	uint64_t n = t->default_iters, cap;

	if (o->iters_set)
		return o->iters;
	/* Keep large sizes to about 1 GiB per size. */
	cap = (1ull << 30) / size;
	if (cap < 100)
		cap = 100;
	return n < cap ? n : cap;
}

static void print_header(struct ex_conn *c, const struct ex_tool *t)
{
	const struct ex_opts *o = c->o;
	char extra[512];

	snprintf(extra, sizeof(extra),
		 "  \"mode\": \"%s\",\n  \"sge\": %u,\n  \"inline_max\": %u,\n"
		 "  \"depth\": %u,\n  \"check\": %s,\n",
		 o->blocking ? "blocking" : "polling", c->ssge, c->inline_max,
		 c->sq_depth,
		 (c->params.flags & EX_PF_CHECK) ? "true" : "false");
	if (o->json) {
		ex_json_begin(o, t->measures, c->adapter, &c->info,
			      c->local_str, c->peer_str, extra);
		return;
	}
	printf("# %s: %s\n", o->tool, t->measures);
	printf("# %s %s -> %s %s\n", o->server ? "server" : "client",
	       c->local_str, o->server ? "client" : "server", c->peer_str);
	printf("# adapter: vendor 0x%04x device 0x%04x id 0x%016" PRIx64
	       " flags ",
	       c->info.vendor_id, c->info.device_id, c->info.adapter_id);
	ex_print_flags(stdout, c->info.adapter_flags, "|");
	char identity[160];
	ex_identity_str(c->adapter, identity, sizeof(identity));
	printf("\n# %s\n", identity);
	printf("# %s; %u SGE; inline <= %u B; depth %u; data checked %s\n",
	       o->blocking ? "blocking (CQ notify + overlapped fd)" : "polling",
	       c->ssge, c->inline_max, c->sq_depth,
	       (c->params.flags & EX_PF_CHECK)
		   ? "on every iteration"
		   : "on the first and last iterations");
	printf("# times in microseconds%s\n",
	       t->bandwidth ? "; MB/s = 10^6 bytes per second" : "");
	ex_table_header(o, NULL, t->bandwidth);
}

static int run_client(struct ex_conn *c, const struct ex_tool *t)
{
	const struct ex_opts *o = c->o;

	print_header(c, t);
	for (int i = 0; i < o->nsizes; i++) {
		uint32_t size = o->sizes[i];
		uint64_t n = default_iters(o, t, size);
		uint64_t w = o->warmup_set ? o->warmup
					   : (n / 10 < 1     ? 1
					      : n / 10 > 200 ? 200
							     : n / 10);
		struct ex_samples s;

		if (o->duration > 0 && w == 0)
			w = 10;
		memset(&s, 0, sizeof(s));
		if (w) {
			s.cap = w;
			s.ns = calloc(w, sizeof(uint32_t));
			if (!s.ns)
				ex_die(c, "out of memory");
			if (t->client_phase(c, size, w, false, &s))
				return 1;
			free(s.ns);
			if (o->duration > 0) {
				double per = (double)s.elapsed_ns / (double)w;
				double want =
				    o->duration * 1e9 / (per > 1 ? per : 1);

				n = want < 1	 ? 1
				    : want > 1e7 ? 10000000
						 : (uint64_t)want;
			}
		}
		memset(&s, 0, sizeof(s));
		s.cap = n;
		s.ns = calloc(n, sizeof(uint32_t));
		if (!s.ns)
			ex_die(c, "out of memory");
		if (t->client_phase(c, size, n, true, &s))
			return 1;
		ex_table_row(o, NULL, size, &s, t->bandwidth);
		free(s.ns);
	}
	ex_send_ctrl(c, EX_DONE, 0, 0, 0, 0, 0);
	ex_wait_ctrl(c, EX_ACK, 0);
	if (o->json)
		ex_json_end();
	return 0;
}

static int run_server(struct ex_conn *c, const struct ex_tool *t)
{
	if (!c->o->json) {
		printf("# %s: client %s connected\n", c->o->tool, c->peer_str);
		fflush(stdout);
	}
	for (;;) {
		/* Between phases the client is quick: BEGIN or DONE follows
		 * within the timeout unless it is gone. */
		struct ex_ctrl m = ex_wait_ctrl(c, 0, 0);

		if (m.op == EX_DONE) {
			c->closing = true;
			break;
		}
		if (t->server_phase(c, m.size, m.iters))
			return 1;
	}
	ex_ack(c, 0);
	ex_sq_drain(c, 0);
	/* Let the client disconnect first, so it never sees us vanish. */
	if (c->connected) {
		uint64_t deadline =
		    ex_now_ns() + (uint64_t)c->o->timeout_ms * 1000000ull;

		while (!peer_disconnected(c) && ex_now_ns() < deadline) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

			poll(&pfd, 1, 100);
			drain_queue(c);
		}
	}
	if (!c->o->json) {
		printf("# %s: done\n", c->o->tool);
		fflush(stdout);
	}
	return 0;
}

int ex_main(struct ex_opts *o, const struct ex_tool *t)
{
	struct ex_conn *c = calloc(1, sizeof(*c));
	nd_status st;
	int rc;

	if (!c) {
		ex_err(o, "out of memory");
		return 1;
	}
	c->o = o;
	c->fd = -1;
	st = nd_startup();
	if (ND_FAILED(st)) {
		ex_err(o, "nd_startup failed: %s", ex_status(st));
		return 1;
	}
	if (o->server)
		setup_server(c, t);
	else
		setup_client(c, t);
	rc = o->server ? run_server(c, t) : run_client(c, t);
	teardown(c);
	nd_cleanup();
	free(c);
	return rc;
}
