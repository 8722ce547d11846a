/* tools/linksim/parse.c — value parsers, schedules, Mahimahi traces and per-direction
 * parameters of the link lab. Pure functions over strings and memory (the trace loader is the
 * only one that touches a file); fuzzed by tests/fuzz/fuzz_linksim_trace.c and
 * tests/fuzz/fuzz_linksim_profile.c. */
#include "tools/linksim/model.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACE_FILE_MAX (64u << 20)
#define TRACE_LINE_MAX 64

void linksim_errf(char *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, LINKSIM_ERR_MAX, fmt, ap);
	va_end(ap);
}

/* Splits "<number><unit>" (blanks allowed around and between), rejecting signs, nan, inf and
 * hex. Returns 0 and the number and the unit (trimmed, into unit[16]). */
static int split_number(const char *s, double *num, char unit[16])
{
	const char *p = s, *q;
	char nbuf[48];
	size_t n = 0;
	char *end;

	while (*p == ' ' || *p == '\t')
		p++;
	q = p;
	while (isdigit((unsigned char)*q) || *q == '.')
		q++;
	n = (size_t)(q - p);
	if (n == 0 || n >= sizeof nbuf)
		return LINKSIM_ESYNTAX;
	memcpy(nbuf, p, n);
	nbuf[n] = '\0';
	if (nbuf[0] == '.' || nbuf[n - 1] == '.' || strchr(nbuf, '.') != strrchr(nbuf, '.'))
		return LINKSIM_ESYNTAX;
	errno = 0;
	*num = strtod(nbuf, &end);
	if (errno || *end != '\0' || !isfinite(*num))
		return LINKSIM_ESYNTAX;
	while (*q == ' ' || *q == '\t')
		q++;
	n = strlen(q);
	while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
		n--;
	if (n >= 16)
		return LINKSIM_ESYNTAX;
	memcpy(unit, q, n);
	unit[n] = '\0';
	return 0;
}

int linksim_parse_rate(const char *s, uint64_t *bps, char *err)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
	        {"", 1},       {"bit", 1},    {"bps", 1},      {"k", 1e3},
	        {"kbit", 1e3}, {"kbps", 1e3}, {"kbit/s", 1e3}, {"m", 1e6},
	        {"mbit", 1e6}, {"mbps", 1e6}, {"mbit/s", 1e6}, {"g", 1e9},
	        {"gbit", 1e9}, {"gbps", 1e9}, {"gbit/s", 1e9}, {"bit/s", 1},
	};
	double v, r;
	char unit[16];
	size_t i;

	if (!strcasecmp(s, "unlimited") || !strcasecmp(s, "none")) {
		*bps = 0;
		return 0;
	}
	if (split_number(s, &v, unit) != 0) {
		linksim_errf(err, "bad rate \"%s\" (e.g. 2Mbit, 512kbit, unlimited)", s);
		return LINKSIM_ESYNTAX;
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(unit, units[i].unit) == 0)
			break;
	}
	if (i == sizeof units / sizeof units[0]) {
		linksim_errf(err, "bad rate unit \"%s\" (bit, kbit, Mbit, Gbit)", unit);
		return LINKSIM_ESYNTAX;
	}
	r = v * units[i].mult;
	if (r != 0 && (r < 1000 || r > 100e9)) {
		linksim_errf(err, "rate \"%s\" out of range (1kbit .. 100Gbit, or 0 for unlimited)",
		             s);
		return LINKSIM_ERANGE;
	}
	*bps = (uint64_t)llround(r);
	return 0;
}

int linksim_parse_duration(const char *s, uint64_t *ns, char *err)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
	        {"", 1e6},  {"ns", 1},   {"us", 1e3},   {"ms", 1e6},
	        {"s", 1e9}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9},
	};
	double v, r;
	char unit[16];
	size_t i;

	if (split_number(s, &v, unit) != 0) {
		linksim_errf(err, "bad duration \"%s\" (e.g. 300ms, 1.5s, 10m)", s);
		return LINKSIM_ESYNTAX;
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(unit, units[i].unit) == 0)
			break;
	}
	if (i == sizeof units / sizeof units[0]) {
		linksim_errf(err, "bad duration unit \"%s\" (ns, us, ms, s, m, h)", unit);
		return LINKSIM_ESYNTAX;
	}
	r = v * units[i].mult;
	if (r > 30.0 * 86400e9) {
		linksim_errf(err, "duration \"%s\" too long (at most 30 days)", s);
		return LINKSIM_ERANGE;
	}
	*ns = (uint64_t)llround(r);
	return 0;
}

int linksim_parse_prob(const char *s, double *p, char *err)
{
	double v;
	char unit[16];

	if (split_number(s, &v, unit) != 0 || (unit[0] && strcmp(unit, "%") != 0)) {
		linksim_errf(err, "bad probability \"%s\" (e.g. 1%%, 0.01)", s);
		return LINKSIM_ESYNTAX;
	}
	if (unit[0])
		v /= 100.0;
	if (v < 0 || v > 1) {
		linksim_errf(err, "probability \"%s\" out of range (0 .. 100%%)", s);
		return LINKSIM_ERANGE;
	}
	*p = v;
	return 0;
}

/* ---- schedules ---- */

int linksim_sched_parse(const char *s, struct linksim_sched *out, char *err)
{
	struct linksim_sched sc;
	char item[128];
	const char *p = s, *comma;
	uint64_t prev_end = 0;
	int ret;

	memset(&sc, 0, sizeof sc);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || !strcasecmp(p, "none")) {
		*out = sc;
		return 0;
	}
	for (;;) {
		size_t n;
		char *plus;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n >= sizeof item) {
			linksim_errf(err, "schedule item too long");
			return LINKSIM_ESYNTAX;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		plus = strchr(item, '+');
		if (!plus) {
			linksim_errf(err, "bad schedule item \"%s\" (START+DURATION, e.g. 10s+30s)",
			             item);
			return LINKSIM_ESYNTAX;
		}
		*plus = '\0';
		if (sc.n == LINKSIM_SCHED_MAX) {
			linksim_errf(err, "too many schedule items (at most %d)",
			             LINKSIM_SCHED_MAX);
			return LINKSIM_ERANGE;
		}
		if ((ret = linksim_parse_duration(item, &sc.start_ns[sc.n], err)) != 0 ||
		    (ret = linksim_parse_duration(plus + 1, &sc.len_ns[sc.n], err)) != 0)
			return ret;
		if (sc.len_ns[sc.n] == 0) {
			linksim_errf(err, "schedule item \"%s+%s\" has no duration", item,
			             plus + 1);
			return LINKSIM_ERANGE;
		}
		if (sc.n > 0 && sc.start_ns[sc.n] < prev_end) {
			linksim_errf(err, "schedule items must be sorted and must not overlap");
			return LINKSIM_ERANGE;
		}
		prev_end = sc.start_ns[sc.n] + sc.len_ns[sc.n];
		sc.n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = sc;
	return 0;
}

int linksim_sched_set_period(struct linksim_sched *s, uint64_t period_ns, char *err)
{
	if (period_ns && s->n && s->start_ns[s->n - 1] + s->len_ns[s->n - 1] > period_ns) {
		linksim_errf(err, "the schedule's last interval ends after its period");
		return LINKSIM_ERANGE;
	}
	s->period_ns = period_ns;
	return 0;
}

bool linksim_sched_active(const struct linksim_sched *s, uint64_t t)
{
	size_t i;

	if (s->n == 0)
		return false;
	if (s->period_ns)
		t %= s->period_ns;
	for (i = 0; i < s->n; i++) {
		if (t < s->start_ns[i])
			return false;
		if (t - s->start_ns[i] < s->len_ns[i])
			return true;
	}
	return false;
}

/* ---- Mahimahi traces ---- */

int linksim_trace_parse(struct linksim_trace **out, const char *text, size_t len, char *err)
{
	struct linksim_trace *t = NULL;
	size_t cap = 0, pos = 0, lineno = 0;
	uint64_t prev = 0;
	int ret = -ENOMEM;

	t = calloc(1, sizeof *t);
	if (!t)
		goto out;
	while (pos < len) {
		size_t start = pos, end, a, b;
		uint64_t v = 0;

		while (pos < len && text[pos] != '\n')
			pos++;
		end = pos;
		if (pos < len)
			pos++; /* the newline */
		lineno++;
		a = start;
		b = end;
		while (a < b && isspace((unsigned char)text[a]))
			a++;
		while (b > a && isspace((unsigned char)text[b - 1]))
			b--;
		if (a == b || text[a] == '#')
			continue;
		if (b - a > 12) {
			linksim_errf(err, "trace line %zu: number too long", lineno);
			ret = LINKSIM_ETRACE;
			goto out;
		}
		for (; a < b; a++) {
			if (!isdigit((unsigned char)text[a])) {
				linksim_errf(err, "trace line %zu: not a millisecond count",
				             lineno);
				ret = LINKSIM_ETRACE;
				goto out;
			}
			v = v * 10 + (uint64_t)(text[a] - '0');
		}
		if (v < prev) {
			linksim_errf(err, "trace line %zu: times must not decrease", lineno);
			ret = LINKSIM_ETRACE;
			goto out;
		}
		prev = v;
		if (t->n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			uint64_t *n = realloc(t->opp_ms, ncap * sizeof *n);
			if (!n) {
				ret = -ENOMEM;
				goto out;
			}
			t->opp_ms = n;
			cap = ncap;
		}
		t->opp_ms[t->n++] = v;
	}
	if (t->n == 0 || prev == 0) {
		linksim_errf(
		        err,
		        "trace: no opportunities, or its last time is 0 ms (it must span >= 1 ms)");
		ret = LINKSIM_ETRACE;
		goto out;
	}
	t->period_ms = prev;
	t->refs = 1;
	*out = t;
	t = NULL;
	ret = 0;
out:
	if (t) {
		free(t->opp_ms);
		free(t);
	}
	return ret;
}

int linksim_trace_load(struct linksim_trace **out, const char *path, char *err)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		linksim_errf(err, "trace %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > TRACE_FILE_MAX) {
		linksim_errf(err, "trace %s: not a regular file of at most %u bytes", path,
		             TRACE_FILE_MAX);
		ret = LINKSIM_ETRACE;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : LINKSIM_ETRACE;
			linksim_errf(err, "trace %s: read failed", path);
			goto out;
		}
		got += (size_t)n;
	}
	ret = linksim_trace_parse(out, text, got, err);
	if (ret != 0 && err) {
		char tmp[LINKSIM_ERR_MAX];
		snprintf(tmp, sizeof tmp, "%s", err);
		linksim_errf(err, "%s: %s", path, tmp);
	}
out:
	free(text);
	close(fd);
	return ret;
}

void linksim_trace_free(struct linksim_trace *t)
{
	if (!t || --t->refs > 0)
		return;
	free(t->opp_ms);
	free(t);
}

uint64_t linksim_trace_next_opp(const struct linksim_trace *t, uint64_t t_ns)
{
	uint64_t period = t->period_ms * LINKSIM_NS_PER_MS;
	uint64_t cycle = t_ns / period, off = t_ns % period;
	size_t lo = 0, hi = t->n;

	if (off == 0 && cycle > 0) { /* the previous cycle's last opportunity is at the boundary */
		cycle--;
		off = period;
	}
	while (lo < hi) { /* first opportunity >= off; exists since the last one is the period */
		size_t mid = lo + (hi - lo) / 2;
		if (t->opp_ms[mid] * LINKSIM_NS_PER_MS < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return cycle * period + t->opp_ms[lo] * LINKSIM_NS_PER_MS;
}

double linksim_trace_rate_bps(const struct linksim_trace *t)
{
	return (double)t->n * LINKSIM_TRACE_BYTES * 8.0 * 1000.0 / (double)t->period_ms;
}

/* ---- parameters ---- */

void linksim_params_default(struct linksim_params *p)
{
	memset(p, 0, sizeof *p);
	p->queue_ns = 1000 * LINKSIM_NS_PER_MS;
	p->police_burst_ns = 100 * LINKSIM_NS_PER_MS;
}

uint64_t linksim_params_police_depth(const struct linksim_params *p)
{
	double bytes;

	if (!p->police_rate_bps)
		return 0;
	bytes = (double)p->police_rate_bps * (double)p->police_burst_ns / 8e9;
	if (bytes > (double)LINKSIM_POLICE_DEPTH_MAX)
		return UINT64_MAX;
	return bytes < LINKSIM_TRACE_BYTES ? LINKSIM_TRACE_BYTES : (uint64_t)bytes;
}

static const char *const param_keys[] = {
        "rate",      "trace",         "delay", "jitter",      "jitter_interval",
        "loss",      "burst",         "queue", "reorder",     "reorder_delay",
        "outage",    "outage_period", "fade",  "fade_period", "fade_rate",
        "fade_loss", "fade_burst",    "seed",  "police_rate", "police_burst",
};

bool linksim_params_known(const char *key)
{
	size_t i;
	for (i = 0; i < sizeof param_keys / sizeof param_keys[0]; i++) {
		if (!strcmp(param_keys[i], key))
			return true;
	}
	return false;
}

static int parse_burst(const char *v, double *out, char *err)
{
	double b;
	char unit[16];

	if (!strcasecmp(v, "none") || !strcasecmp(v, "independent")) {
		*out = 0;
		return 0;
	}
	if (split_number(v, &b, unit) != 0 || unit[0]) {
		linksim_errf(err, "bad burst length \"%s\" (mean packets per loss burst, >= 1)", v);
		return LINKSIM_ESYNTAX;
	}
	if (b != 0 && (b < 1 || b > 1e6)) {
		linksim_errf(err, "burst length \"%s\" out of range (0 = independent, or 1 .. 1e6)",
		             v);
		return LINKSIM_ERANGE;
	}
	*out = b;
	return 0;
}

/* Checks that a loss/burst pair makes a valid Gilbert-Elliott chain. */
static int check_ge(double loss, double burst, char *err)
{
	struct linksim_ge ge;
	if (linksim_ge_init(&ge, loss, burst) != 0) {
		linksim_errf(err,
		             "loss %g with mean burst %g is not a valid Gilbert-Elliott chain "
		             "(needs loss < 1 and loss/(1-loss) <= burst)",
		             loss, burst);
		return LINKSIM_ERANGE;
	}
	return 0;
}

int linksim_params_set(struct linksim_params *p, const char *key, const char *value,
                       const char *base_dir, char *err)
{
	struct linksim_params n = *p;
	int ret = 0;

	if (!strcmp(key, "rate")) {
		ret = linksim_parse_rate(value, &n.rate_bps, err);
	} else if (!strcmp(key, "trace")) {
		struct linksim_trace *t = NULL;
		char path[512];

		if (!*value || !strcasecmp(value, "none")) {
			n.trace = NULL;
			n.trace_path[0] = '\0';
		} else {
			if (value[0] == '/' || !base_dir || !*base_dir)
				ret = snprintf(path, sizeof path, "%s", value);
			else
				ret = snprintf(path, sizeof path, "%s/%s", base_dir, value);
			if (ret < 0 || (size_t)ret >= sizeof path) {
				linksim_errf(err, "trace path too long");
				return LINKSIM_ERANGE;
			}
			if ((ret = linksim_trace_load(&t, path, err)) != 0)
				return ret;
			n.trace = t;
			snprintf(n.trace_path, sizeof n.trace_path, "%s", path);
		}
		linksim_trace_free(p->trace);
		*p = n;
		return 0;
	} else if (!strcmp(key, "delay")) {
		ret = linksim_parse_duration(value, &n.delay_ns, err);
	} else if (!strcmp(key, "jitter")) {
		ret = linksim_parse_duration(value, &n.jitter_ns, err);
	} else if (!strcmp(key, "jitter_interval")) {
		ret = linksim_parse_duration(value, &n.jitter_interval_ns, err);
	} else if (!strcmp(key, "loss")) {
		if ((ret = linksim_parse_prob(value, &n.loss, err)) == 0)
			ret = check_ge(n.loss, n.burst, err);
	} else if (!strcmp(key, "burst")) {
		if ((ret = parse_burst(value, &n.burst, err)) == 0)
			ret = check_ge(n.loss, n.burst, err);
	} else if (!strcmp(key, "fade_loss")) {
		if ((ret = linksim_parse_prob(value, &n.fade_loss, err)) == 0)
			ret = check_ge(n.fade_loss, n.fade_burst, err);
	} else if (!strcmp(key, "fade_burst")) {
		if ((ret = parse_burst(value, &n.fade_burst, err)) == 0)
			ret = check_ge(n.fade_loss, n.fade_burst, err);
	} else if (!strcmp(key, "queue")) {
		ret = linksim_parse_duration(value, &n.queue_ns, err);
	} else if (!strcmp(key, "reorder")) {
		ret = linksim_parse_prob(value, &n.reorder, err);
	} else if (!strcmp(key, "reorder_delay")) {
		ret = linksim_parse_duration(value, &n.reorder_delay_ns, err);
	} else if (!strcmp(key, "outage") || !strcmp(key, "fade")) {
		struct linksim_sched *s = key[0] == 'o' ? &n.outage : &n.fade;
		uint64_t period = s->period_ns;
		if ((ret = linksim_sched_parse(value, s, err)) == 0)
			ret = linksim_sched_set_period(s, period, err);
	} else if (!strcmp(key, "outage_period") || !strcmp(key, "fade_period")) {
		struct linksim_sched *s = key[0] == 'o' ? &n.outage : &n.fade;
		uint64_t period;
		if ((ret = linksim_parse_duration(value, &period, err)) == 0)
			ret = linksim_sched_set_period(s, period, err);
	} else if (!strcmp(key, "fade_rate")) {
		ret = linksim_parse_rate(value, &n.fade_rate_bps, err);
	} else if (!strcmp(key, "police_rate")) {
		ret = linksim_parse_rate(value, &n.police_rate_bps, err);
	} else if (!strcmp(key, "police_burst")) {
		ret = linksim_parse_duration(value, &n.police_burst_ns, err);
	} else if (!strcmp(key, "seed")) {
		char *end;
		errno = 0;
		n.seed = strtoull(value, &end, 10);
		if (errno || end == value || *end || !isdigit((unsigned char)value[0])) {
			linksim_errf(err, "bad seed \"%s\" (a decimal integer, 0 = random)", value);
			ret = LINKSIM_ESYNTAX;
		}
	} else {
		linksim_errf(err, "unknown key \"%s\"", key);
		return LINKSIM_EKEY;
	}
	if (ret != 0)
		return ret;
	if (n.jitter_ns && n.jitter_interval_ns && n.jitter_interval_ns < 2 * n.jitter_ns) {
		linksim_errf(err,
		             "jitter_interval must be at least twice the jitter (no reordering)");
		return LINKSIM_ERANGE;
	}
	if (linksim_params_police_depth(&n) > LINKSIM_POLICE_DEPTH_MAX) {
		linksim_errf(err, "police_rate x police_burst / 8 must be at most %llu bytes",
		             (unsigned long long)LINKSIM_POLICE_DEPTH_MAX);
		return LINKSIM_ERANGE;
	}
	*p = n;
	return 0;
}

int linksim_params_copy(struct linksim_params *dst, const struct linksim_params *src)
{
	*dst = *src;
	if (dst->trace)
		dst->trace->refs++;
	return 0;
}

void linksim_params_release(struct linksim_params *p)
{
	linksim_trace_free(p->trace);
	p->trace = NULL;
}

const char *linksim_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case LINKSIM_ESYNTAX:
		return "malformed value";
	case LINKSIM_ERANGE:
		return "value out of range";
	case LINKSIM_EKEY:
		return "unknown key";
	case LINKSIM_ETRACE:
		return "malformed trace";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
	}
}
