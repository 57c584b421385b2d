/* SPDX-License-Identifier: MIT */
/*
 * netdirect status codes: NetworkDirect's 32-bit NTSTATUS values, unchanged.
 *
 * Success-class values are >= 0 (ND_SUCCESS, ND_TIMEOUT, ND_PENDING); warnings
 * (0x8000xxxx) and errors (0xC000xxxx) are negative as int32_t, so ND_FAILED()
 * is true for both, exactly as FAILED() is on Windows.
 */
#ifndef NETDIRECT_ND_STATUS_H
#define NETDIRECT_ND_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t nd_status;

#define ND_SUCCEEDED(s) ((nd_status)(s) >= 0)
#define ND_FAILED(s)	((nd_status)(s) < 0)

/* Success class */
#define ND_SUCCESS ((nd_status)0x00000000)
#define ND_TIMEOUT ((nd_status)0x00000102)
#define ND_PENDING ((nd_status)0x00000103)

/* Warning class */
#define ND_BUFFER_OVERFLOW ((nd_status)0x80000005)
#define ND_DEVICE_BUSY	   ((nd_status)0x80000011)
#define ND_NO_MORE_ENTRIES ((nd_status)0x8000001A)

/* Error class */
#define ND_UNSUCCESSFUL		  ((nd_status)0xC0000001)
#define ND_ACCESS_VIOLATION	  ((nd_status)0xC0000005)
#define ND_INVALID_HANDLE	  ((nd_status)0xC0000008)
#define ND_INVALID_PARAMETER	  ((nd_status)0xC000000D)
#define ND_INVALID_DEVICE_REQUEST ((nd_status)0xC0000010)
#define ND_NO_MEMORY		  ((nd_status)0xC0000017)
#define ND_INVALID_PARAMETER_MIX  ((nd_status)0xC0000030)
#define ND_DATA_OVERRUN		  ((nd_status)0xC000003C)
#define ND_SHARING_VIOLATION	  ((nd_status)0xC0000043)
#define ND_INSUFFICIENT_RESOURCES ((nd_status)0xC000009A)
#define ND_DEVICE_NOT_READY	  ((nd_status)0xC00000A3)
#define ND_IO_TIMEOUT		  ((nd_status)0xC00000B5)
#define ND_NOT_SUPPORTED	  ((nd_status)0xC00000BB)
#define ND_INTERNAL_ERROR	  ((nd_status)0xC00000E5)
#define ND_INVALID_PARAMETER_1	  ((nd_status)0xC00000EF)
#define ND_INVALID_PARAMETER_2	  ((nd_status)0xC00000F0)
#define ND_INVALID_PARAMETER_3	  ((nd_status)0xC00000F1)
#define ND_INVALID_PARAMETER_4	  ((nd_status)0xC00000F2)
#define ND_INVALID_PARAMETER_5	  ((nd_status)0xC00000F3)
#define ND_INVALID_PARAMETER_6	  ((nd_status)0xC00000F4)
#define ND_INVALID_PARAMETER_7	  ((nd_status)0xC00000F5)
#define ND_INVALID_PARAMETER_8	  ((nd_status)0xC00000F6)
#define ND_INVALID_PARAMETER_9	  ((nd_status)0xC00000F7)
#define ND_INVALID_PARAMETER_10	  ((nd_status)0xC00000F8)
#define ND_CANCELED		  ((nd_status)0xC0000120)
#define ND_REMOTE_ERROR		  ((nd_status)0xC000013D)
#define ND_INVALID_ADDRESS	  ((nd_status)0xC0000141)
#define ND_INVALID_DEVICE_STATE	  ((nd_status)0xC0000184)
#define ND_INVALID_BUFFER_SIZE	  ((nd_status)0xC0000206)
#define ND_TOO_MANY_ADDRESSES	  ((nd_status)0xC0000209)
#define ND_ADDRESS_ALREADY_EXISTS ((nd_status)0xC000020A)
#define ND_CONNECTION_REFUSED	  ((nd_status)0xC0000236)
#define ND_CONNECTION_INVALID	  ((nd_status)0xC000023A)
#define ND_CONNECTION_ACTIVE	  ((nd_status)0xC000023B)
#define ND_NETWORK_UNREACHABLE	  ((nd_status)0xC000023C)
#define ND_HOST_UNREACHABLE	  ((nd_status)0xC000023D)
#define ND_CONNECTION_ABORTED	  ((nd_status)0xC0000241)
#define ND_DEVICE_REMOVED	  ((nd_status)0xC00002B6)

/* NetworkDirect v1 aliases */
#define ND_LOCAL_LENGTH	      ND_DATA_OVERRUN
#define ND_INVALIDATION_ERROR ND_INVALID_DEVICE_REQUEST

/*
 * NTSTATUS values outside ndstatus.mc that ND's own tests expect from
 * providers; netdirect returns them in the same places.
 */
/* Second Bind on a bound, connected or listening connector/listener. */
#define ND_ADDRESS_ALREADY_ASSOCIATED ((nd_status)0xC0000328)
/* Connect to the unspecified address 0.0.0.0 / ::. */
#define ND_BAD_NETWORK_NAME	      ((nd_status)0xC00000CC)
/* Sender's completion when the receiver's buffer was too small (IB). */
#define ND_DATA_ERROR		      ((nd_status)0xC000003E)
/* Tolerated failure status of a NotifyDisconnect request. */
#define ND_CONNECTION_DISCONNECTED    ((nd_status)0xC000020C)

/*
 * The symbolic name and a one-line description of a status, e.g.
 * "ND_CANCELED: request cancelled". Never NULL; unknown values are printed
 * in hex into a thread-local buffer.
 */
const char *nd_strerror(nd_status status);

#ifdef __cplusplus
}
#endif

#endif /* NETDIRECT_ND_STATUS_H */
