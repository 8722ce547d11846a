/* common/mtime.c — monotonic and wall-clock time helpers (see mtime.h). */
#include "common/mtime.h"

#include <stdio.h>

uint64_t mtime_ts_to_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

struct timespec mtime_ns_to_ts(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
	                      .tv_nsec = (long)(ns % 1000000000ull)};
	return ts;
}

uint64_t mtime_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return mtime_ts_to_ns(&ts);
}

uint64_t mtime_now_us(void)
{
	return mtime_now_ns() / 1000u;
}

uint64_t mtime_now_ms(void)
{
	return mtime_now_ns() / 1000000u;
}

uint64_t mtime_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return mtime_ts_to_ns(&ts);
}

uint64_t mtime_wall_ms(void)
{
	return mtime_wall_ns() / 1000000u;
}

char *mtime_iso8601(uint64_t wall_ms, char *out)
{
	time_t secs = (time_t)(wall_ms / 1000u);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&secs, &tm)) {
		snprintf(out, MTIME_ISO_LEN, "?");
		return out;
	}
	n = strftime(out, MTIME_ISO_LEN - 6, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, MTIME_ISO_LEN - n, ".%03uZ", (unsigned)(wall_ms % 1000u));
	return out;
}
