/* common/mtime.h — monotonic and wall-clock time helpers.
 *
 * Monotonic time (CLOCK_MONOTONIC) is for every timeout, rate and interval; wall time
 * (CLOCK_REALTIME) only for timestamps shown to people or stored in records.
 */
#ifndef PIROGUE_COMMON_MTIME_H
#define PIROGUE_COMMON_MTIME_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds / microseconds / milliseconds since an arbitrary origin. */
uint64_t mtime_now_ns(void);
uint64_t mtime_now_us(void);
uint64_t mtime_now_ms(void);
/* Wall-clock time in nanoseconds / milliseconds since the Unix epoch. */
uint64_t mtime_wall_ns(void);
uint64_t mtime_wall_ms(void);
/* Converts between a duration in nanoseconds and a struct timespec. */
struct timespec mtime_ns_to_ts(uint64_t ns);
uint64_t mtime_ts_to_ns(const struct timespec *ts);
/* Formats an epoch-ms timestamp as ISO 8601 UTC with milliseconds ("2026-11-23T18:36:23.123Z")
 * into out (at least MTIME_ISO_LEN bytes). Returns out. */
#define MTIME_ISO_LEN 32
char *mtime_iso8601(uint64_t wall_ms, char *out);

#endif
