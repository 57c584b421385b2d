/* SPDX-License-Identifier: MIT */
/* Framework calls and the provider registry, with ND's exact statuses. */
#include "common.h"

#include <stdlib.h>

static void test_not_started(void **state)
{
	struct sockaddr_in sin = test_addr4("192.0.2.1", 0);
	struct nd_adapter *a = NULL;
	size_t size = 0, local_len = sizeof(sin);

	(void)state;
	assert_int_equal(nd_cleanup(), ND_DEVICE_NOT_READY);
	assert_int_equal(nd_query_address_list(0, NULL, &size),
			 ND_DEVICE_NOT_READY);
	assert_int_equal(nd_check_address((struct sockaddr *)&sin, sizeof(sin)),
			 ND_DEVICE_NOT_READY);
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&sin, sizeof(sin), &a),
	    ND_DEVICE_NOT_READY);
	assert_null(a);
	assert_int_equal(
	    nd_resolve_address((struct sockaddr *)&sin, sizeof(sin),
			       (struct sockaddr *)&sin, &local_len),
	    ND_DEVICE_NOT_READY);
	nd_flush_providers(); /* a no-op before startup, must not crash */
}

static void test_startup_refcount(void **state)
{
	(void)state;
	assert_int_equal(nd_startup(), ND_SUCCESS);
	assert_int_equal(nd_startup(), ND_SUCCESS);
	assert_int_equal(nd_cleanup(), ND_SUCCESS);
	/* Still started: one reference left. */
	assert_int_equal(
	    nd_check_address(
		(struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET},
		sizeof(struct sockaddr_in)),
	    ND_INVALID_ADDRESS);
	assert_int_equal(nd_cleanup(), ND_SUCCESS);
	assert_int_equal(nd_cleanup(), ND_DEVICE_NOT_READY);
}

static int started(void **state)
{
	(void)state;
	return nd_startup() == ND_SUCCESS ? 0 : -1;
}

static int stopped(void **state)
{
	(void)state;
	return nd_cleanup() == ND_SUCCESS ? 0 : -1;
}

static void test_query_address_list(void **state)
{
	size_t size = 0, need;
	struct nd_address_list *list;

	(void)state;
	assert_int_equal(nd_query_address_list(0, NULL, &size),
			 ND_BUFFER_OVERFLOW);
	/* 8 + two entries of 16 + one IPv4 body (16) + one IPv6 body (28) */
	assert_int_equal(size, 8 + 2 * 16 + 16 + 28);
	need = size;

	list = malloc(need);
	size = need - 1;
	memset(list, 0xAB, need);
	assert_int_equal(nd_query_address_list(0, list, &size),
			 ND_BUFFER_OVERFLOW);
	assert_int_equal(size, need);
	assert_int_equal(((unsigned char *)list)[0], 0xAB); /* untouched */

	assert_int_equal(nd_query_address_list(0, list, &size), ND_SUCCESS);
	assert_int_equal(list->count, 2);
	for (int i = 0; i < list->count; i++)
		assert_int_equal(nd_check_address(list->address[i].sockaddr,
						  list->address[i].length),
				 ND_SUCCESS);
	assert_int_equal(list->address[0].sockaddr->sa_family, AF_INET);
	assert_int_equal(list->address[1].sockaddr->sa_family, AF_INET6);
	free(list);

	/* Every provider is v2: excluding v2 leaves nothing. */
	size = 123;
	assert_int_equal(
	    nd_query_address_list(ND_QUERY_EXCLUDE_NDV2_ADDRESSES, NULL, &size),
	    ND_SUCCESS);
	assert_int_equal(size, 0);
}

static void test_query_address_list_bad_input(void **state)
{
	size_t size = 0;

	(void)state;
	assert_int_equal(nd_query_address_list(0, NULL, NULL),
			 ND_INVALID_PARAMETER_3);
	assert_int_equal(nd_query_address_list(0x80, NULL, &size),
			 ND_INVALID_PARAMETER_1);
}

static void test_check_address(void **state)
{
	struct sockaddr_in v4 = test_addr4("192.0.2.1", 999);
	struct sockaddr_in6 v6 = test_addr6("2001:db8::1");
	struct sockaddr_in other = test_addr4("192.0.2.77", 0);
	struct sockaddr bad_family = {.sa_family = AF_UNIX};

	(void)state;
	assert_int_equal(nd_check_address((struct sockaddr *)&v4, sizeof(v4)),
			 ND_SUCCESS);
	assert_int_equal(nd_check_address((struct sockaddr *)&v6, sizeof(v6)),
			 ND_SUCCESS);
	assert_int_equal(
	    nd_check_address((struct sockaddr *)&other, sizeof(other)),
	    ND_INVALID_ADDRESS);
	/* ND's validation: short lengths are parameter 2, bad families
	 * ND_INVALID_ADDRESS. */
	assert_int_equal(nd_check_address(NULL, sizeof(v4)),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_check_address((struct sockaddr *)&v4, 15),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_check_address((struct sockaddr *)&v6, 27),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_check_address((struct sockaddr *)&v4, (size_t)UINT32_MAX + 1),
	    ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_check_address(&bad_family, sizeof(struct sockaddr)),
			 ND_INVALID_ADDRESS);
}

static void test_open_adapter(void **state)
{
	struct sockaddr_in v4 = test_addr4("192.0.2.1", 0);
	struct sockaddr_in6 v6 = test_addr6("2001:db8::1");
	struct sockaddr_in other = test_addr4("192.0.2.77", 0);
	struct nd_adapter *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&v4, sizeof(v4), &a),
	    ND_SUCCESS);
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&v6, sizeof(v6), &b),
	    ND_SUCCESS);
	assert_ptr_not_equal(a, b);
	assert_int_equal(nd_adapter_release(a), ND_SUCCESS);
	assert_int_equal(nd_adapter_release(b), ND_SUCCESS);

	a = NULL;
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&other, sizeof(other), &a),
	    ND_INVALID_ADDRESS);
	assert_null(a);
	assert_int_equal(nd_open_adapter(NULL, sizeof(v4), &a),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_open_adapter((struct sockaddr *)&v4, 8, &a),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&v4, sizeof(v4), NULL),
	    ND_INVALID_PARAMETER_3);
	assert_int_equal(
	    nd_open_v1_adapter((struct sockaddr *)&v4, sizeof(v4), &a),
	    ND_NOT_SUPPORTED);
	assert_null(a);
}

static void test_resolve_address(void **state)
{
	struct sockaddr_in remote = test_addr4("127.0.0.1", 80);
	struct sockaddr_in6 local;
	size_t len = sizeof(local);

	(void)state;
	/* The route to 127.0.0.1 leaves from 127.0.0.1, which the test
	 * provider does not serve. */
	assert_int_equal(nd_resolve_address((struct sockaddr *)&remote,
					    sizeof(remote),
					    (struct sockaddr *)&local, &len),
			 ND_INVALID_ADDRESS);
	assert_int_equal(nd_resolve_address(NULL, sizeof(remote),
					    (struct sockaddr *)&local, &len),
			 ND_INVALID_PARAMETER_1);
	assert_int_equal(nd_resolve_address((struct sockaddr *)&remote, 4,
					    (struct sockaddr *)&local, &len),
			 ND_INVALID_PARAMETER_2);
	assert_int_equal(nd_resolve_address((struct sockaddr *)&remote,
					    sizeof(remote),
					    (struct sockaddr *)&local, NULL),
			 ND_INVALID_PARAMETER_4);
}

static void test_future_abi_refused(void **state)
{
	/* future_abi_provider.so sits in ND_PROVIDER_PATH and claims
	 * 203.0.113.9; the core must have refused it at load. */
	struct sockaddr_in sin = test_addr4("203.0.113.9", 0);
	struct nd_adapter *a = NULL;

	(void)state;
	assert_int_equal(nd_check_address((struct sockaddr *)&sin, sizeof(sin)),
			 ND_INVALID_ADDRESS);
	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&sin, sizeof(sin), &a),
	    ND_INVALID_ADDRESS);
}

static void test_provider_selection(void **state)
{
	struct sockaddr_in sin = test_addr4("192.0.2.1", 0);

	(void)state;
	/* Selection is read at the first startup. */
	assert_int_equal(nd_cleanup(), ND_SUCCESS);
	setenv("ND_PROVIDERS", "^test", 1);
	assert_int_equal(nd_startup(), ND_SUCCESS);
	assert_int_equal(nd_check_address((struct sockaddr *)&sin, sizeof(sin)),
			 ND_INVALID_ADDRESS);
	assert_int_equal(nd_cleanup(), ND_SUCCESS);
	setenv("ND_PROVIDERS", "nosuchprovider", 1);
	assert_int_equal(nd_startup(), ND_SUCCESS);
	assert_int_equal(nd_check_address((struct sockaddr *)&sin, sizeof(sin)),
			 ND_INVALID_ADDRESS);
	assert_int_equal(nd_cleanup(), ND_SUCCESS);
	setenv("ND_PROVIDERS", "test", 1);
	assert_int_equal(nd_startup(), ND_SUCCESS);
	assert_int_equal(nd_check_address((struct sockaddr *)&sin, sizeof(sin)),
			 ND_SUCCESS);
}

int main(void)
{
#define STARTED(name) cmocka_unit_test_setup_teardown(name, started, stopped)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_started),
	    cmocka_unit_test(test_startup_refcount),
	    STARTED(test_query_address_list),
	    STARTED(test_query_address_list_bad_input),
	    STARTED(test_check_address),
	    STARTED(test_open_adapter),
	    STARTED(test_resolve_address),
	    STARTED(test_future_abi_refused),
	    STARTED(test_provider_selection),
	};
	return cmocka_run_group_tests_name("framework", tests, NULL, NULL);
}
