/* SPDX-License-Identifier: MIT */
/* Public structs keep ND's LP64 layout; statuses keep ND's values. */
#include "common.h"

#include <stdio.h>
#if HAVE_IBVERBS
#include <infiniband/verbs.h>
#endif

static void test_sge_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct nd_sge), 16);
	assert_int_equal(offsetof(struct nd_sge, buffer), 0);
	assert_int_equal(offsetof(struct nd_sge, buffer_length), 8);
	assert_int_equal(offsetof(struct nd_sge, memory_region_token), 12);
#if HAVE_IBVERBS
	/* Handed to verbs without a copy: the layouts must be identical. */
	assert_int_equal(sizeof(struct nd_sge), sizeof(struct ibv_sge));
	assert_int_equal(offsetof(struct nd_sge, buffer),
			 offsetof(struct ibv_sge, addr));
	assert_int_equal(offsetof(struct nd_sge, buffer_length),
			 offsetof(struct ibv_sge, length));
	assert_int_equal(offsetof(struct nd_sge, memory_region_token),
			 offsetof(struct ibv_sge, lkey));
#else
	printf(
	    "note: infiniband/verbs.h absent; ibv_sge comparison not built\n");
#endif
}

static void test_result_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct nd_result), 32);
	assert_int_equal(offsetof(struct nd_result, status), 0);
	assert_int_equal(offsetof(struct nd_result, bytes_transferred), 4);
	assert_int_equal(offsetof(struct nd_result, qp_context), 8);
	assert_int_equal(offsetof(struct nd_result, request_context), 16);
	assert_int_equal(offsetof(struct nd_result, request_type), 24);
}

static void test_adapter_info_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct nd_adapter_info), 96);
	assert_int_equal(offsetof(struct nd_adapter_info, vendor_id), 4);
	assert_int_equal(offsetof(struct nd_adapter_info, device_id), 6);
	assert_int_equal(offsetof(struct nd_adapter_info, adapter_id), 8);
	assert_int_equal(
	    offsetof(struct nd_adapter_info, max_registration_size), 16);
	assert_int_equal(offsetof(struct nd_adapter_info, max_window_size), 24);
	assert_int_equal(offsetof(struct nd_adapter_info, max_initiator_sge),
			 32);
	assert_int_equal(offsetof(struct nd_adapter_info, max_read_sge), 40);
	assert_int_equal(offsetof(struct nd_adapter_info, max_inline_data_size),
			 48);
	assert_int_equal(
	    offsetof(struct nd_adapter_info, max_receive_queue_depth), 60);
	assert_int_equal(
	    offsetof(struct nd_adapter_info, max_completion_queue_depth), 72);
	assert_int_equal(offsetof(struct nd_adapter_info, max_caller_data), 84);
	assert_int_equal(offsetof(struct nd_adapter_info, adapter_flags), 92);
}

static void test_address_list_layout(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct nd_address_list, address), 8);
	assert_int_equal(sizeof(struct nd_socket_address), 16);
}

static void test_status_values(void **state)
{
	(void)state;
	assert_int_equal((uint32_t)ND_PENDING, 0x103);
	assert_int_equal((uint32_t)ND_CANCELED, 0xC0000120u);
	assert_int_equal((uint32_t)ND_INVALID_PARAMETER_10, 0xC00000F8u);
	assert_int_equal((uint32_t)ND_DEVICE_REMOVED, 0xC00002B6u);
	assert_int_equal(ND_MR_FLAG_ALLOW_REMOTE_WRITE, 5);
	/* Success-class and warning-class as ND classifies them. */
	assert_true(ND_SUCCEEDED(ND_PENDING));
	assert_true(ND_SUCCEEDED(ND_TIMEOUT));
	assert_true(ND_FAILED(ND_BUFFER_OVERFLOW));
	assert_true(ND_FAILED(ND_NO_MORE_ENTRIES));
	assert_true(ND_FAILED(ND_CANCELED));
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(nd_strerror(ND_CANCELED),
			    "ND_CANCELED: request cancelled");
	assert_non_null(strstr(nd_strerror(ND_INVALID_PARAMETER_3),
			       "ND_INVALID_PARAMETER_3"));
	assert_string_equal(nd_strerror((nd_status)0xC0001234),
			    "status 0xc0001234");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sge_layout),
	    cmocka_unit_test(test_result_layout),
	    cmocka_unit_test(test_adapter_info_layout),
	    cmocka_unit_test(test_address_list_layout),
	    cmocka_unit_test(test_status_values),
	    cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
