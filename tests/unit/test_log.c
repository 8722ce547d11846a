/* tests/unit/test_log.c — log level filtering, line format, and time helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mtime.h"

/* Runs fn with stderr redirected into a pipe and returns what it wrote. */
static char captured[4096];
static void capture(void (*fn)(void))
{
	int fds[2], saved;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], captured, sizeof captured - 1);
	captured[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static void emit_all_levels(void)
{
	log_error("e %d", 1);
	log_warn("w %d", 2);
	log_info("i %d", 3);
	log_debug("d %d", 4);
}

static void test_level_filters_lower_priorities(void **state)
{
	unsetenv("JOURNAL_STREAM");
	log_init("unit", LOG_LVL_WARN);
	capture(emit_all_levels);
	assert_non_null(strstr(captured, "unit[error] e 1\n"));
	assert_non_null(strstr(captured, "unit[warn] w 2\n"));
	assert_null(strstr(captured, "i 3"));
	assert_null(strstr(captured, "d 4"));
	log_set_level(LOG_LVL_DEBUG);
	capture(emit_all_levels);
	assert_non_null(strstr(captured, "unit[debug] d 4\n"));
}

static void test_journald_priority_prefix(void **state)
{
	setenv("JOURNAL_STREAM", "8:1234", 1);
	log_init("/usr/bin/pirogued", LOG_LVL_INFO);
	capture(emit_all_levels);
	unsetenv("JOURNAL_STREAM");
	/* stderr is a pipe here, as under systemd: lines start with the syslog priority */
	assert_int_equal(strncmp(captured, "<3>", 3), 0);
	assert_non_null(strstr(captured, "\n<4>"));
	assert_non_null(strstr(captured, "pirogued[info] i 3"));
}

static void test_level_names_parse(void **state)
{
	enum log_level l;

	assert_int_equal(log_level_parse("DEBUG", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("loud", &l), -EINVAL);
}

static void test_monotonic_clock_advances_and_iso_format(void **state)
{
	uint64_t a = mtime_now_ns(), b;
	char iso[MTIME_ISO_LEN];
	struct timespec ts = mtime_ns_to_ts(1500000000ull);

	usleep(2000);
	b = mtime_now_ns();
	assert_true(b - a >= 2000000ull);
	assert_int_equal(ts.tv_sec, 1);
	assert_int_equal(ts.tv_nsec, 500000000);
	assert_true(mtime_ts_to_ns(&ts) == 1500000000ull);
	assert_string_equal(mtime_iso8601(1795459583123ull, iso), "2026-11-23T18:46:23.123Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_level_filters_lower_priorities),
	        cmocka_unit_test(test_journald_priority_prefix),
	        cmocka_unit_test(test_level_names_parse),
	        cmocka_unit_test(test_monotonic_clock_advances_and_iso_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
