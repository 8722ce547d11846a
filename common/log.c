/* common/log.c — leveled logging to stderr (see log.h). */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/mtime.h"

static const char *log_prog = "pirogue";
static enum log_level log_threshold = LOG_LVL_INFO;
static int log_journal = -1; /* -1: not yet decided */

void log_init(const char *prog, enum log_level level)
{
	const char *slash;

	if (prog) {
		slash = strrchr(prog, '/');
		log_prog = slash ? slash + 1 : prog;
	}
	log_threshold = level;
	log_journal = -1;
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
	        {"error", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN},   {"warning", LOG_LVL_WARN},
	        {"info", LOG_LVL_INFO},   {"debug", LOG_LVL_DEBUG},
	};

	for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LVL_ERROR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
		return "debug";
	}
	return "?";
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	char ts[MTIME_ISO_LEN];
	int n = 0, m;
	int saved = errno;

	if (level > log_threshold)
		return;
	/* journald reads a leading "<N>" as the syslog priority when it owns our stderr. */
	if (log_journal < 0)
		log_journal = getenv("JOURNAL_STREAM") != NULL && !isatty(STDERR_FILENO);
	if (log_journal)
		n = snprintf(line, sizeof line, "<%d>", (int)level);
	m = snprintf(line + n, sizeof line - n, "%s %s[%s] ", mtime_iso8601(mtime_wall_ms(), ts),
	             log_prog, level_name(level));
	if (m > 0)
		n += m;
	m = vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof line - 1)
		n = sizeof line - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per line so lines from several processes do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing sensible to do when stderr is gone */
	}
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
