/* SPDX-License-Identifier: MIT */
/* Logging to stderr, filtered by ND_LOG_LEVEL (read once). */
#include <netdirect/nd_provider.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void nd_log(enum nd_log_level lvl, const char *subsystem, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (lvl > nd_log_level() || lvl <= ND_LOG_NONE)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so lines of threads do not interleave. */
	fprintf(stderr, "netdirect %s [%s]: %s\n", level_names[lvl], subsystem,
		line);
}
