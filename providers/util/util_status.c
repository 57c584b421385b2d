/* SPDX-License-Identifier: MIT */
/* ND statuses for errno values: one map for every provider. */
#include <netdirect/nd_util.h>

nd_status nd_util_errno_status(int err)
{
	switch (err) {
	case 0:
		return ND_SUCCESS;
	case ENOMEM:
	case ENOBUFS:
		return ND_NO_MEMORY;
	case ENOSPC:
	case EAGAIN:
	case EMFILE:
	case ENFILE:
		return ND_INSUFFICIENT_RESOURCES;
	case EINVAL:
		return ND_INVALID_PARAMETER;
	case EFAULT:
	case EACCES:
	case EPERM:
		return ND_ACCESS_VIOLATION;
	case EADDRINUSE:
		return ND_SHARING_VIOLATION;
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return ND_INVALID_ADDRESS;
	case ENODEV:
	case ENXIO:
		return ND_DEVICE_REMOVED;
	case EOPNOTSUPP:
	case ENOSYS:
		return ND_NOT_SUPPORTED;
	case ETIMEDOUT:
		return ND_IO_TIMEOUT;
	case ECONNREFUSED:
		return ND_CONNECTION_REFUSED;
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
		return ND_CONNECTION_ABORTED;
	case ENOTCONN:
		return ND_CONNECTION_INVALID;
	case ENETUNREACH:
	case ENETDOWN:
		return ND_NETWORK_UNREACHABLE;
	case EHOSTUNREACH:
		return ND_HOST_UNREACHABLE;
	case EISCONN:
		return ND_CONNECTION_ACTIVE;
	default:
		return ND_UNSUCCESSFUL;
	}
}

nd_status nd_util_connect_errno_status(int err)
{
	switch (err) {
	case ECONNRESET: /* a listener that resets the handshake refuses */
		return ND_CONNECTION_REFUSED;
	case EADDRNOTAVAIL:
		ND_LOG_RATELIMITED(ND_LOG_WARN, "util",
				   "connect: no local port left (ports held "
				   "in TIME_WAIT?): %s",
				   strerror(err));
		return ND_INSUFFICIENT_RESOURCES;
	default:
		return nd_util_errno_status(err);
	}
}
