/* SPDX-License-Identifier: MIT */
/* The eventfd wake of a progress thread: the rare failure's log line. */
#include <netdirect/nd_util.h>

void nd_util_wake_failed(int err)
{
	/* An eventfd write fails only if the descriptor is gone: a bug of
	 * ours, which would repeat on every post. */
	ND_LOG_RATELIMITED(ND_LOG_WARN, "util", "progress wake: %s",
			   strerror(err));
}
