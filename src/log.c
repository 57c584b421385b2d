/* SPDX-License-Identifier: MIT */
/* Logging to stderr, filtered by ND_LOG_LEVEL (read once). */
#include <netdirect/nd_provider.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum nd_log_level level = ND_LOG_WARN;
static pthread_once_t level_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = {"none", "error", "warn", "info",
					  "debug"};

static void level_read(void)
{
	const char *env = getenv("ND_LOG_LEVEL");

	if (!env || !*env)
		return;
	for (int i = 0; i <= ND_LOG_DEBUG; i++)
		if (strcasecmp(env, level_names[i]) == 0) {
			level = i;
			return;
		}
	char *end;
	long n = strtol(env, &end, 10);
	if (*end == '\0' && n >= 0)
		level = n > ND_LOG_DEBUG ? ND_LOG_DEBUG : (enum nd_log_level)n;
}

enum nd_log_level nd_log_level(void)
{
	pthread_once(&level_once, level_read);
	return level;
}

static void vlog(enum nd_log_level lvl, const char *subsystem,
		 uint32_t suppressed, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per line, so lines of threads do not interleave. */
	if (suppressed)
		fprintf(
		    stderr,
		    "netdirect %s [%s]: %s (%u more like this suppressed)\n",
		    level_names[lvl], subsystem, line, suppressed);
	else
		fprintf(stderr, "netdirect %s [%s]: %s\n", level_names[lvl],
			subsystem, line);
}

void nd_log(enum nd_log_level lvl, const char *subsystem, const char *fmt, ...)
{
	va_list ap;

	if (lvl > nd_log_level() || lvl <= ND_LOG_NONE)
		return;
	va_start(ap, fmt);
	vlog(lvl, subsystem, 0, fmt, ap);
	va_end(ap);
}

static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

void nd_log_ratelimited(struct nd_log_ratelimit *rl, enum nd_log_level lvl,
			const char *subsystem, const char *fmt, ...)
{
	uint32_t suppressed = 0;
	struct timespec ts;
	uint64_t now;
	va_list ap;
	bool print;

	if (lvl > nd_log_level() || lvl <= ND_LOG_NONE)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	pthread_mutex_lock(&ratelimit_lock);
	if (!rl->printed || now - rl->start_ms >= ND_LOG_RATELIMIT_MS) {
		rl->start_ms = now;
		rl->printed = 0;
	}
	print = rl->printed < ND_LOG_RATELIMIT_BURST;
	if (print) {
		rl->printed++;
		suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	if (!print)
		return;
	va_start(ap, fmt);
	vlog(lvl, subsystem, suppressed, fmt, ap);
	va_end(ap);
}
