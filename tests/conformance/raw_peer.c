/* SPDX-License-Identifier: MIT */
/* A peer speaking the tcp provider's wire protocol over a plain socket. */
#include "raw_peer.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "conf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

bool send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

bool recv_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, TC_TIMEOUT_MS) <= 0)
			return false;
		ssize_t k = recv(fd, c, n, 0);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

int raw_connect(const struct sockaddr_storage *dest, uint32_t dest_len)
{
	return raw_connect_from(dest, dest_len, NULL);
}

int raw_connect_from(const struct sockaddr_storage *dest, uint32_t dest_len,
		     const char *src)
{
	int fd = socket(dest->ss_family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (src) {
		struct sockaddr_in sin = {.sin_family = AF_INET};

		assert_int_equal(dest->ss_family, AF_INET);
		assert_int_equal(inet_pton(AF_INET, src, &sin.sin_addr), 1);
		assert_int_equal(
		    bind(fd, (const struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	assert_int_equal(connect(fd, (const struct sockaddr *)dest, dest_len),
			 0);
	return fd;
}

void raw_connect_frame(struct tcp_hdr *h, uint32_t len)
{
	tcp_wire_fill(h, TCP_F_CONNECT, 0, len, 8 | (8ull << 32),
		      TCP_WIRE_MAGIC, TCP_WIRE_VERSION);
}

bool raw_closed_within(int fd, int timeout_ms)
{
	char buf[256];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}
