/* common/log.h — leveled logging to stderr, journald-friendly.
 *
 * Each line is "<N>YYYY-mm-ddTHH:MM:SS.mmmZ prog[level] message" when stderr is not a
 * terminal and the JOURNAL_STREAM variable is set (systemd's journald reads the "<N>" syslog
 * priority prefix); otherwise the "<N>" prefix is left out. Lines below the configured level
 * are dropped before formatting. Thread-safe as far as a single write(2) per line is.
 */
#ifndef PIROGUE_COMMON_LOG_H
#define PIROGUE_COMMON_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 3, /* syslog LOG_ERR */
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Sets the program name shown on each line (not copied: pass a string literal or argv[0]). */
void log_init(const char *prog, enum log_level level);

/* Changes the threshold; lines with a level above it are dropped. */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info", "debug". Returns 0 and sets *out, or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out) __attribute__((warn_unused_result));

/* Writes one line at `level` (printf-style). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
