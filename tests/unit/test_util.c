/* SPDX-License-Identifier: MIT */
/* The provider util layer (nd_util.h): one errno map for every provider,
 * the address helpers, and the list of references dropped after a lock. */
#include <netdirect/nd_util.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

/* The map both providers use: before it, tcp said ND_NO_MEMORY for ENOMEM
 * and verbs ND_INSUFFICIENT_RESOURCES. */
static void test_errno_map(void **state)
{
	static const struct {
		int err;
		nd_status st;
	} rows[] = {
	    {0, ND_SUCCESS},
	    {ENOMEM, ND_NO_MEMORY},
	    {ENOBUFS, ND_NO_MEMORY},
	    {ENOSPC, ND_INSUFFICIENT_RESOURCES},
	    {EAGAIN, ND_INSUFFICIENT_RESOURCES},
	    {EMFILE, ND_INSUFFICIENT_RESOURCES},
	    {ENFILE, ND_INSUFFICIENT_RESOURCES},
	    {EINVAL, ND_INVALID_PARAMETER},
	    {EFAULT, ND_ACCESS_VIOLATION},
	    {EACCES, ND_ACCESS_VIOLATION},
	    {EPERM, ND_ACCESS_VIOLATION},
	    {EADDRINUSE, ND_SHARING_VIOLATION},
	    {EADDRNOTAVAIL, ND_INVALID_ADDRESS},
	    {EAFNOSUPPORT, ND_INVALID_ADDRESS},
	    {ENODEV, ND_DEVICE_REMOVED},
	    {ENXIO, ND_DEVICE_REMOVED},
	    {EOPNOTSUPP, ND_NOT_SUPPORTED},
	    {ENOSYS, ND_NOT_SUPPORTED},
	    {ETIMEDOUT, ND_IO_TIMEOUT},
	    {ECONNREFUSED, ND_CONNECTION_REFUSED},
	    {ECONNRESET, ND_CONNECTION_ABORTED},
	    {ECONNABORTED, ND_CONNECTION_ABORTED},
	    {EPIPE, ND_CONNECTION_ABORTED},
	    {ENOTCONN, ND_CONNECTION_INVALID},
	    {ENETUNREACH, ND_NETWORK_UNREACHABLE},
	    {ENETDOWN, ND_NETWORK_UNREACHABLE},
	    {EHOSTUNREACH, ND_HOST_UNREACHABLE},
	    {EISCONN, ND_CONNECTION_ACTIVE},
	    {EILSEQ, ND_UNSUCCESSFUL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		nd_status st = nd_util_errno_status(rows[i].err);

		if (st != rows[i].st)
			fail_msg("errno %d: 0x%08x, want 0x%08x", rows[i].err,
				 (unsigned)st, (unsigned)rows[i].st);
	}
}

/* An outgoing connection's errno: a reset is the listener's refusal and
 * EADDRNOTAVAIL the local ports used up; the rest as above. */
static void test_connect_errno_map(void **state)
{
	(void)state;
	assert_int_equal(nd_util_connect_errno_status(ECONNRESET),
			 ND_CONNECTION_REFUSED);
	assert_int_equal(nd_util_connect_errno_status(EADDRNOTAVAIL),
			 ND_INSUFFICIENT_RESOURCES);
	assert_int_equal(nd_util_connect_errno_status(ECONNREFUSED),
			 ND_CONNECTION_REFUSED);
	assert_int_equal(nd_util_connect_errno_status(ETIMEDOUT),
			 ND_IO_TIMEOUT);
	assert_int_equal(nd_util_connect_errno_status(ENOMEM), ND_NO_MEMORY);
}

/* An address of either family, as the core hands them over. */
union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static void test_sockaddr(void **state)
{
	union addr a4 = {.in = {.sin_family = AF_INET,
				.sin_port = htons(7),
				.sin_addr.s_addr = htonl(0x7f000001)}};
	union addr b4 = a4;
	union addr any4 = {.in = {.sin_family = AF_INET}};
	union addr a6 = {.in6 = {.sin6_family = AF_INET6,
				 .sin6_port = htons(54325),
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT}};
	union addr any6 = {.in6 = {.sin6_family = AF_INET6}};

	(void)state;
	b4.in.sin_port = htons(8);
	assert_true(nd_util_sockaddr_same_ip(&a4.sa, &b4.sa));
	b4.in.sin_addr.s_addr = htonl(0x7f000002);
	assert_false(nd_util_sockaddr_same_ip(&a4.sa, &b4.sa));
	assert_false(nd_util_sockaddr_same_ip(&a4.sa, &a6.sa));
	assert_true(nd_util_sockaddr_same_ip(&a6.sa, &a6.sa));
	assert_int_equal(nd_util_sockaddr_len(&a4.sa),
			 sizeof(struct sockaddr_in));
	assert_int_equal(nd_util_sockaddr_len(&a6.sa),
			 sizeof(struct sockaddr_in6));
	assert_int_equal(nd_util_sockaddr_port(&a4.sa), 7);
	assert_int_equal(nd_util_sockaddr_port(&a6.sa), 54325);
	assert_true(nd_util_sockaddr_is_any(&any4.sa));
	assert_true(nd_util_sockaddr_is_any(&any6.sa));
	assert_false(nd_util_sockaddr_is_any(&a4.sa));
	assert_false(nd_util_sockaddr_is_any(&a6.sa));
}

static unsigned destroyed;

static void count_destroy(struct nd_object *obj)
{
	(void)obj;
	destroyed++;
}

static const struct nd_object_ops count_ops = {.destroy = count_destroy};

/* More references than the inline slots (verbs' old list was a fixed 8
 * that leaked the rest): every one is dropped, once, and only by drop. */
static void test_puts_list(void **state)
{
	enum { N = 3 * ND_UTIL_PUTS_INLINE + 5 };
	static struct nd_object objs[N];
	struct nd_util_puts p = {0}, moved;

	(void)state;
	destroyed = 0;
	for (unsigned i = 0; i < N; i++) {
		nd_object_init(&objs[i], ND_OBJ_ADAPTER, NULL, &count_ops,
			       NULL);
		nd_util_puts_add(&p, &objs[i]);
	}
	assert_int_equal(p.n, N);
	assert_int_equal(destroyed, 0);
	/* moved out from under a lock, as tcp_unlock does */
	moved = p;
	p = (struct nd_util_puts){0};
	nd_util_puts_drop(&p);
	assert_int_equal(destroyed, 0);
	nd_util_puts_drop(&moved);
	assert_int_equal(destroyed, N);
	assert_int_equal(moved.n, 0);
	assert_null(moved.more);
	/* reusable once dropped */
	nd_object_init(&objs[0], ND_OBJ_ADAPTER, NULL, &count_ops, NULL);
	nd_util_puts_add(&moved, &objs[0]);
	nd_util_puts_drop(&moved);
	assert_int_equal(destroyed, N + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errno_map),
	    cmocka_unit_test(test_connect_errno_map),
	    cmocka_unit_test(test_sockaddr),
	    cmocka_unit_test(test_puts_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
