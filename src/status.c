/* SPDX-License-Identifier: MIT */
#include <netdirect/nd_status.h>
#include <stdio.h>

static const struct {
	nd_status status;
	const char *text;
} status_text[] = {
    {ND_SUCCESS, "ND_SUCCESS: success"},
    {ND_TIMEOUT, "ND_TIMEOUT: the wait timed out"},
    {ND_PENDING, "ND_PENDING: the request completes asynchronously"},
    {ND_BUFFER_OVERFLOW, "ND_BUFFER_OVERFLOW: buffer too small"},
    {ND_DEVICE_BUSY, "ND_DEVICE_BUSY: a memory window is still bound"},
    {ND_NO_MORE_ENTRIES, "ND_NO_MORE_ENTRIES: the queue is full"},
    {ND_UNSUCCESSFUL, "ND_UNSUCCESSFUL: the operation failed"},
    {ND_ACCESS_VIOLATION, "ND_ACCESS_VIOLATION: memory access violation"},
    {ND_INVALID_HANDLE, "ND_INVALID_HANDLE: invalid or released object"},
    {ND_INVALID_PARAMETER, "ND_INVALID_PARAMETER: invalid parameter"},
    {ND_INVALID_DEVICE_REQUEST, "ND_INVALID_DEVICE_REQUEST: malformed request"},
    {ND_NO_MEMORY, "ND_NO_MEMORY: out of memory"},
    {ND_INVALID_PARAMETER_MIX,
     "ND_INVALID_PARAMETER_MIX: inconsistent parameters"},
    {ND_DATA_OVERRUN, "ND_DATA_OVERRUN: more data than the buffer or "
		      "queue allows"},
    {ND_SHARING_VIOLATION, "ND_SHARING_VIOLATION: address in use"},
    {ND_INSUFFICIENT_RESOURCES,
     "ND_INSUFFICIENT_RESOURCES: device resources exhausted"},
    {ND_DEVICE_NOT_READY, "ND_DEVICE_NOT_READY: nd_startup() not called"},
    {ND_IO_TIMEOUT, "ND_IO_TIMEOUT: transport timeout"},
    {ND_NOT_SUPPORTED, "ND_NOT_SUPPORTED: not supported by the adapter"},
    {ND_INTERNAL_ERROR, "ND_INTERNAL_ERROR: internal device error"},
    {ND_INVALID_PARAMETER_1, "ND_INVALID_PARAMETER_1: parameter 1 invalid"},
    {ND_INVALID_PARAMETER_2, "ND_INVALID_PARAMETER_2: parameter 2 invalid"},
    {ND_INVALID_PARAMETER_3, "ND_INVALID_PARAMETER_3: parameter 3 invalid"},
    {ND_INVALID_PARAMETER_4, "ND_INVALID_PARAMETER_4: parameter 4 invalid"},
    {ND_INVALID_PARAMETER_5, "ND_INVALID_PARAMETER_5: parameter 5 invalid"},
    {ND_INVALID_PARAMETER_6, "ND_INVALID_PARAMETER_6: parameter 6 invalid"},
    {ND_INVALID_PARAMETER_7, "ND_INVALID_PARAMETER_7: parameter 7 invalid"},
    {ND_INVALID_PARAMETER_8, "ND_INVALID_PARAMETER_8: parameter 8 invalid"},
    {ND_INVALID_PARAMETER_9, "ND_INVALID_PARAMETER_9: parameter 9 invalid"},
    {ND_INVALID_PARAMETER_10, "ND_INVALID_PARAMETER_10: parameter 10 invalid"},
    {ND_CANCELED, "ND_CANCELED: request cancelled"},
    {ND_REMOTE_ERROR, "ND_REMOTE_ERROR: the request failed at the peer"},
    {ND_INVALID_ADDRESS, "ND_INVALID_ADDRESS: no adapter serves the address"},
    {ND_INVALID_DEVICE_STATE,
     "ND_INVALID_DEVICE_STATE: object in the wrong state"},
    {ND_INVALID_BUFFER_SIZE, "ND_INVALID_BUFFER_SIZE: invalid length"},
    {ND_TOO_MANY_ADDRESSES, "ND_TOO_MANY_ADDRESSES: no free port"},
    {ND_ADDRESS_ALREADY_EXISTS,
     "ND_ADDRESS_ALREADY_EXISTS: connection already exists"},
    {ND_CONNECTION_REFUSED, "ND_CONNECTION_REFUSED: connection refused"},
    {ND_CONNECTION_INVALID, "ND_CONNECTION_INVALID: not connected"},
    {ND_CONNECTION_ACTIVE,
     "ND_CONNECTION_ACTIVE: already connected or connecting"},
    {ND_NETWORK_UNREACHABLE, "ND_NETWORK_UNREACHABLE: network unreachable"},
    {ND_HOST_UNREACHABLE, "ND_HOST_UNREACHABLE: host unreachable"},
    {ND_CONNECTION_ABORTED,
     "ND_CONNECTION_ABORTED: the peer abandoned the connection"},
    {ND_DEVICE_REMOVED, "ND_DEVICE_REMOVED: the adapter was removed"},
    {ND_ADDRESS_ALREADY_ASSOCIATED,
     "ND_ADDRESS_ALREADY_ASSOCIATED: already bound"},
    {ND_BAD_NETWORK_NAME,
     "ND_BAD_NETWORK_NAME: cannot connect to the unspecified address"},
    {ND_DATA_ERROR, "ND_DATA_ERROR: the peer's receive buffer was too "
		    "small"},
    {ND_CONNECTION_DISCONNECTED,
     "ND_CONNECTION_DISCONNECTED: connection disconnected"},
};

const char *nd_strerror(nd_status status)
{
	static __thread char unknown[48];

	for (size_t i = 0; i < sizeof(status_text) / sizeof(status_text[0]);
	     i++)
		if (status_text[i].status == status)
			return status_text[i].text;
	snprintf(unknown, sizeof(unknown), "status 0x%08x", (unsigned)status);
	return unknown;
}
