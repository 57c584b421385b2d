/* SPDX-License-Identifier: MIT */
/* The rate-limited log: at most a burst per interval per call site, then a
 * count of what was suppressed. Lines are captured from stderr. */
#include <netdirect/nd_provider.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct capture {
	FILE *file;
	int saved;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restores stderr; returns the captured lines (NUL-separated) and their
 * count in *n. */
static char *capture_end(struct capture *c, unsigned *n)
{
	static char buf[1 << 16];
	size_t len;

	fflush(stderr);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	rewind(c->file);
	len = fread(buf, 1, sizeof(buf) - 1, c->file);
	fclose(c->file);
	buf[len] = '\0';
	*n = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n') {
			buf[i] = '\0';
			(*n)++;
		}
	return buf;
}

static const char *line_at(const char *buf, unsigned i)
{
	while (i--)
		buf += strlen(buf) + 1;
	return buf;
}

static void log_from_one_site(unsigned times)
{
	for (unsigned i = 0; i < times; i++)
		ND_LOG_RATELIMITED(ND_LOG_ERROR, "test", "site A line %u", i);
}

/* A thousand lines from one call site print the burst only; another call
 * site has its own budget. */
static void test_burst_per_call_site(void **state)
{
	struct capture c;
	unsigned n;
	char *out;

	(void)state;
	capture_start(&c);
	log_from_one_site(1000);
	for (unsigned i = 0; i < 3; i++)
		ND_LOG_RATELIMITED(ND_LOG_ERROR, "test", "site B line %u", i);
	out = capture_end(&c, &n);
	assert_int_equal(n, ND_LOG_RATELIMIT_BURST + 3);
	for (unsigned i = 0; i < ND_LOG_RATELIMIT_BURST; i++) {
		char want[64];
		snprintf(want, sizeof(want),
			 "netdirect error [test]: site A line %u", i);
		assert_string_equal(line_at(out, i), want);
	}
	assert_string_equal(line_at(out, ND_LOG_RATELIMIT_BURST),
			    "netdirect error [test]: site B line 0");
}

/* When the interval is over, the next line prints and counts the lines
 * suppressed before it; the count starts again from zero. */
static void test_next_interval_counts_suppressed(void **state)
{
	struct nd_log_ratelimit rl = {0};
	struct capture c;
	unsigned n;
	char *out;

	(void)state;
	capture_start(&c);
	for (unsigned i = 0; i < ND_LOG_RATELIMIT_BURST + 25; i++)
		nd_log_ratelimited(&rl, ND_LOG_ERROR, "test", "x %u", i);
	rl.start_ms -= ND_LOG_RATELIMIT_MS; /* the interval has passed */
	nd_log_ratelimited(&rl, ND_LOG_ERROR, "test", "later");
	nd_log_ratelimited(&rl, ND_LOG_ERROR, "test", "later still");
	out = capture_end(&c, &n);
	assert_int_equal(n, ND_LOG_RATELIMIT_BURST + 2);
	assert_string_equal(line_at(out, ND_LOG_RATELIMIT_BURST),
			    "netdirect error [test]: later (25 more like this "
			    "suppressed)");
	assert_string_equal(line_at(out, ND_LOG_RATELIMIT_BURST + 1),
			    "netdirect error [test]: later still");
}

/* Lines below ND_LOG_LEVEL neither print nor use up the budget. */
static void test_filtered_lines_cost_nothing(void **state)
{
	struct nd_log_ratelimit rl = {0};
	struct capture c;
	unsigned n;
	char *out;

	(void)state;
	assert_true(nd_log_level() < ND_LOG_DEBUG);
	capture_start(&c);
	for (unsigned i = 0; i < 100; i++)
		nd_log_ratelimited(&rl, ND_LOG_DEBUG, "test", "hidden");
	nd_log_ratelimited(&rl, ND_LOG_ERROR, "test", "shown");
	out = capture_end(&c, &n);
	assert_int_equal(n, 1);
	assert_string_equal(out, "netdirect error [test]: shown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_per_call_site),
	    cmocka_unit_test(test_next_interval_counts_suppressed),
	    cmocka_unit_test(test_filtered_lines_cost_nothing),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
