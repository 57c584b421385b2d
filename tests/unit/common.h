/* SPDX-License-Identifier: MIT */
/* Shared setup for the unit tests: the test provider's adapter and hooks. */
#ifndef ND_UNIT_COMMON_H
#define ND_UNIT_COMMON_H

#include <netdirect/nd.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The test provider's hooks, looked up in the loaded provider. */
struct testprov {
	void (*set_async)(int on);
	unsigned (*live_objects)(void);
	int (*finish)(void *handle, uint32_t kind, nd_status status);
	int (*qp_connect)(struct nd_qp *qp);
	void (*set_peer_data)(const void *data, uint32_t len);
};

static inline struct testprov testprov_hooks(void)
{
	struct testprov t;
	void *dl = dlopen(TEST_PROVIDER_DIR "/nd-test-provider.so",
			  RTLD_NOW | RTLD_NOLOAD);

	assert_non_null(dl); /* loaded by nd_startup() from ND_PROVIDER_PATH */
	*(void **)&t.set_async = dlsym(dl, "testprov_set_async");
	*(void **)&t.live_objects = dlsym(dl, "testprov_live_objects");
	*(void **)&t.finish = dlsym(dl, "testprov_finish");
	*(void **)&t.qp_connect = dlsym(dl, "testprov_qp_connect");
	*(void **)&t.set_peer_data = dlsym(dl, "testprov_set_peer_data");
	assert_non_null(t.finish);
	dlclose(dl); /* drops only our extra reference */
	return t;
}

static inline struct sockaddr_in test_addr4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

static inline struct sockaddr_in6 test_addr6(const char *ip)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &sin6.sin6_addr);
	return sin6;
}

static inline struct nd_adapter *open_test_adapter(void)
{
	struct sockaddr_in sin = test_addr4("192.0.2.1", 0);
	struct nd_adapter *a = NULL;

	assert_int_equal(
	    nd_open_adapter((struct sockaddr *)&sin, sizeof(sin), &a),
	    ND_SUCCESS);
	assert_non_null(a);
	return a;
}

#endif
