/* SPDX-License-Identifier: MIT */
/*
 * raw-tcp-pingpong: the floor any TCP transport can reach, for bench/.
 *
 *   raw-tcp-pingpong -s ADDR[:PORT]                     server (one client)
 *   raw-tcp-pingpong -c ADDR[:PORT] [-S SIZE] [-n N] [-W N] [-b] [-B]
 *
 * Latency (default): the client sends SIZE bytes, the server echoes them;
 * each sample is half a round trip (one-way, like nd-pingpong). With -p
 * (default) both sides busy-poll a non-blocking socket (send/recv in a loop
 * on EAGAIN); with -b they use blocking send/recv. TCP_NODELAY everywhere.
 *
 * Throughput (-B): the client writes N messages of SIZE bytes (default
 * 1 MiB) back to back; the server reads them all and answers one byte; the
 * timed loop ends with that byte. MB/s = 10^6 payload bytes per second.
 *
 * The server takes the mode, size and counts from the client's header. The
 * output is the nd-* tools' table (t_typical = median), so the bench
 * scripts parse both the same way. IPv4 only: this is a loopback floor.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x52545050u /* "RTPP" */

struct hdr {
	uint32_t magic, poll, bw, size;
	uint64_t iters, warmup;
};

static const char *prog = "raw-tcp-pingpong";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: %s (-s|-c) IPv4[:port] [-S size] [-n iters] [-W warmup] [-p|-b] [-B]\n"
	    "  -p busy-poll a non-blocking socket (default), -b blocking,\n"
	    "  -B throughput (default size 1M) instead of ping-pong latency\n",
	    prog);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t parse_num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end || end == s)
		usage();
	return v;
}

static void parse_addr(const char *arg, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);

	if (len >= sizeof(host))
		usage();
	memcpy(host, arg, len);
	host[len] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 54330);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "%s: bad address '%s' (want IPv4[:port])\n",
			prog, arg);
		exit(2);
	}
}

/* Move exactly len bytes; in polling mode spin on EAGAIN. */
static void xfer(int fd, void *buf, size_t len, int out)
{
	char *p = buf;

	while (len) {
		ssize_t r =
		    out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
		} else if (r == 0) {
			fprintf(stderr, "%s: peer closed the connection\n",
				prog);
			exit(1);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			   errno != EINTR) {
			die(out ? "send" : "recv");
		}
	}
}

static void setup_sock(int fd, int poll)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
	if (poll && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		die("O_NONBLOCK");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, uint64_t n, double p)
{
	uint64_t i = (uint64_t)ceil(p * (double)n);

	if (i)
		i--;
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

/* One table row: the nd-* tools' columns, times in microseconds. */
static void row(const struct hdr *h, uint64_t *ns, uint64_t n, uint64_t elapsed)
{
	double sum = 0, sq = 0, avg, med, secs = elapsed / 1e9;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += (double)ns[i];
	avg = sum / (double)n / 1000.0;
	for (uint64_t i = 0; i < n; i++)
		sq += (ns[i] / 1000.0 - avg) * (ns[i] / 1000.0 - avg);
	med = n % 2 ? ns[n / 2] / 1000.0 : (ns[n / 2 - 1] + ns[n / 2]) / 2000.0;
	printf("%9u %11llu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f", h->size,
	       (unsigned long long)n, ns[0] / 1000.0, ns[n - 1] / 1000.0, med,
	       avg, n > 1 ? sqrt(sq / (double)(n - 1)) : 0, pct(ns, n, 0.99),
	       pct(ns, n, 0.999));
	if (h->bw)
		printf(" %10.2f %11.0f", (double)h->size * n / secs / 1e6,
		       n / secs);
	printf("\n");
}

static void run(int fd, const struct hdr *h, int client)
{
	char *buf = malloc(h->size ? h->size : 1);
	uint64_t *ns = calloc(h->iters ? h->iters : 1, sizeof(*ns));
	uint64_t t0 = 0, t, start;
	char ack = 'A';

	if (!buf || !ns)
		die("malloc");
	memset(buf, 0x5a, h->size);
	if (h->bw) {
		/* warm-up and measured phase, each closed by a one-byte ack */
		for (int phase = 0; phase < 2; phase++) {
			uint64_t n = phase ? h->iters : h->warmup;

			start = t0 = now_ns();
			for (uint64_t i = 0; i < n; i++) {
				xfer(fd, buf, h->size, client);
				if (client) {
					t = now_ns();
					ns[phase ? i : 0] = t - t0;
					t0 = t;
				}
			}
			xfer(fd, &ack, 1, !client);
			if (client && phase)
				row(h, ns, n, now_ns() - start);
		}
	} else {
		for (int phase = 0; phase < 2; phase++) {
			uint64_t n = phase ? h->iters : h->warmup;

			start = now_ns();
			for (uint64_t i = 0; i < n; i++) {
				if (client) {
					t0 = now_ns();
					xfer(fd, buf, h->size, 1);
					xfer(fd, buf, h->size, 0);
					if (phase)
						ns[i] = (now_ns() - t0) / 2;
				} else {
					xfer(fd, buf, h->size, 0);
					xfer(fd, buf, h->size, 1);
				}
			}
			if (client && phase)
				row(h, ns, n, now_ns() - start);
		}
	}
	free(ns);
	free(buf);
}

int main(int argc, char **argv)
{
	struct hdr h = {.magic = MAGIC, .poll = 1, .iters = 0, .warmup = ~0ull};
	struct sockaddr_in sa;
	const char *addr = NULL;
	int server = -1, opt, fd;

	while ((opt = getopt(argc, argv, "s:c:S:n:W:pbBh")) != -1) {
		switch (opt) {
		case 's':
			server = 1;
			addr = optarg;
			break;
		case 'c':
			server = 0;
			addr = optarg;
			break;
		case 'S':
			h.size = (uint32_t)parse_num(optarg);
			break;
		case 'n':
			h.iters = parse_num(optarg);
			break;
		case 'W':
			h.warmup = parse_num(optarg);
			break;
		case 'p':
			h.poll = 1;
			break;
		case 'b':
			h.poll = 0;
			break;
		case 'B':
			h.bw = 1;
			break;
		default:
			usage();
		}
	}
	if (!addr || optind != argc)
		usage();
	parse_addr(addr, &sa);
	if (!h.size)
		h.size = h.bw ? 1u << 20 : 8;
	if (!h.iters)
		h.iters = h.bw ? 5000 : 1000;
	if (h.warmup == ~0ull) {
		h.warmup = h.iters / 10;
		h.warmup = h.warmup < 1 ? 1 : h.warmup > 200 ? 200 : h.warmup;
	}

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (server) {
		int one = 1, lfd = fd;
		socklen_t len = sizeof(sa);

		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(lfd, 1))
			die("bind/listen");
		getsockname(lfd, (struct sockaddr *)&sa, &len);
		printf("# %s: listening on %s:%u\n", prog,
		       inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
		fflush(stdout);
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept");
		close(lfd);
		setup_sock(fd, 0);
		xfer(fd, &h, sizeof(h), 0);
		if (h.magic != MAGIC) {
			fprintf(stderr, "%s: bad header from client\n", prog);
			return 1;
		}
		if (h.poll)
			setup_sock(fd, 1);
		run(fd, &h, 0);
		printf("# %s: done\n", prog);
	} else {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("connect");
		setup_sock(fd, 0);
		xfer(fd, &h, sizeof(h), 1);
		if (h.poll)
			setup_sock(fd, 1);
		printf("# %s: %s, TCP_NODELAY, %s%s\n", prog,
		       h.bw ? "throughput (client writes, server reads)"
			    : "ping-pong; one-way latency = round trip / 2",
		       h.poll ? "busy-polling a non-blocking socket"
			      : "blocking socket",
		       h.bw ? "; MB/s = 10^6 bytes per second" : "");
		printf("# times in microseconds\n");
		printf("%9s %11s %9s %9s %9s %9s %9s %9s %9s%s\n", "#bytes",
		       "#iterations", "t_min", "t_max", "t_typical", "t_avg",
		       "t_stdev", "99%", "99.9%",
		       h.bw ? "       MB/s       msg/s" : "");
		run(fd, &h, 1);
	}
	close(fd);
	return 0;
}
