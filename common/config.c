/* common/config.c — INI configuration parser and typed getters (see config.h). */
#include "common/config.h"
#include "common/msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct config_entry {
	char *section;
	char *key;
	char *value;
	unsigned line;
};

struct config {
	char *name;
	struct config_entry *v;
	size_t n, cap;
};

struct config_parser {
	struct config *c;
	char *section;
	unsigned line;
};

static bool is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static char *dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void entry_clear(struct config_entry *e)
{
	free(e->section);
	free(e->key);
	free(e->value);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_clear(&c->v[i]);
	free(c->v);
	free(c->name);
	free(c);
}

void config_parser_free(struct config_parser *p)
{
	if (!p)
		return;
	config_free(p->c);
	free(p->section);
	free(p);
}

int config_parser_new(struct config_parser **out, const char *name)
{
	struct config_parser *p = calloc(1, sizeof *p);

	if (!p)
		return -ENOMEM;
	p->c = calloc(1, sizeof *p->c);
	p->section = strdup("");
	if (p->c)
		p->c->name = strdup(name ? name : "(config)");
	if (!p->c || !p->section || !p->c->name) {
		config_parser_free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

static const struct config_entry *find(const struct config *c, const char *section, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].section, section) && !strcmp(c->v[i].key, key))
			return &c->v[i];
	return NULL;
}

/* Decodes a double-quoted value starting after the opening quote; the rest of the line after the
 * closing quote may only hold blanks or a comment. */
static int unquote(const char *s, size_t n, char **out)
{
	char *d = malloc(n + 1);
	size_t i = 0, j = 0;

	if (!d)
		return -ENOMEM;
	for (; i < n && s[i] != '"'; i++) {
		char ch = s[i];

		if (ch == '\\') {
			if (++i >= n)
				goto bad;
			switch (s[i]) {
			case 'n':
				ch = '\n';
				break;
			case 't':
				ch = '\t';
				break;
			case '\\':
			case '"':
				ch = s[i];
				break;
			default:
				goto bad;
			}
		}
		d[j++] = ch;
	}
	if (i >= n)
		goto bad; /* no closing quote */
	for (i++; i < n && is_blank(s[i]); i++)
		;
	if (i < n && s[i] != '#' && s[i] != ';')
		goto bad;
	d[j] = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return CONFIG_ESYNTAX;
}

int config_parser_line(struct config_parser *p, const char *line, size_t len, char *err)
{
	struct config *c = p->c;
	size_t i = 0, ks, ke, vs, ve;
	char *key = NULL, *value = NULL;
	int ret;

	p->line++;
	if (len > CONFIG_LINE_MAX) {
		msg_set(err, CONFIG_ERR_MAX, "%s:%u: line longer than %d bytes", c->name, p->line,
		        CONFIG_LINE_MAX);
		return CONFIG_ETOOLONG;
	}
	if (memchr(line, '\0', len)) {
		msg_set(err, CONFIG_ERR_MAX, "%s:%u: NUL byte in line", c->name, p->line);
		return CONFIG_ESYNTAX;
	}
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len || line[i] == '#' || line[i] == ';')
		return 0;
	if (line[i] == '[') {
		size_t s = ++i;
		char *sec;

		while (i < len && is_name_char(line[i]))
			i++;
		if (i == s || i >= len || line[i] != ']') {
			msg_set(err, CONFIG_ERR_MAX,
			        "%s:%u: malformed section header (expected [name])", c->name,
			        p->line);
			return CONFIG_ESYNTAX;
		}
		ke = i++;
		while (i < len && is_blank(line[i]))
			i++;
		if (i < len && line[i] != '#' && line[i] != ';') {
			msg_set(err, CONFIG_ERR_MAX, "%s:%u: unexpected text after section header",
			        c->name, p->line);
			return CONFIG_ESYNTAX;
		}
		if (!(sec = dup_range(line + s, ke - s)))
			return -ENOMEM;
		free(p->section);
		p->section = sec;
		return 0;
	}
	ks = i;
	while (i < len && is_name_char(line[i]))
		i++;
	ke = i;
	while (i < len && is_blank(line[i]))
		i++;
	if (ke == ks || i >= len || line[i] != '=') {
		msg_set(err, CONFIG_ERR_MAX, "%s:%u: expected 'key = value'", c->name, p->line);
		return CONFIG_ESYNTAX;
	}
	for (i++; i < len && is_blank(line[i]); i++)
		;
	vs = i;
	if (!(key = dup_range(line + ks, ke - ks)))
		return -ENOMEM;
	if (vs < len && line[vs] == '"') {
		ret = unquote(line + vs + 1, len - vs - 1, &value);
		if (ret == CONFIG_ESYNTAX)
			msg_set(err, CONFIG_ERR_MAX, "%s:%u: [%s] %s: malformed quoted value",
			        c->name, p->line, p->section, key);
		if (ret)
			goto out;
	} else {
		/* An unquoted value ends at " #" / " ;" (a comment after blanks) or the line end.
		 */
		ve = vs;
		for (size_t k = vs; k < len; k++) {
			if ((line[k] == '#' || line[k] == ';') && k > vs && is_blank(line[k - 1]))
				break;
			if (!is_blank(line[k]))
				ve = k + 1;
		}
		if (!(value = dup_range(line + vs, ve - vs))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (find(c, p->section, key)) {
		msg_set(err, CONFIG_ERR_MAX, "%s:%u: [%s] %s: key given twice (line %u)", c->name,
		        p->line, p->section, key, find(c, p->section, key)->line);
		ret = CONFIG_EDUP;
		goto out;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct config_entry *nv = realloc(c->v, ncap * sizeof *nv);

		if (!nv) {
			ret = -ENOMEM;
			goto out;
		}
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n].section = strdup(p->section);
	if (!c->v[c->n].section) {
		ret = -ENOMEM;
		goto out;
	}
	c->v[c->n].key = key;
	c->v[c->n].value = value;
	c->v[c->n].line = p->line;
	c->n++;
	return 0;
out:
	free(key);
	free(value);
	return ret;
}

int config_parser_finish(struct config_parser *p, struct config **out, char *err)
{
	(void)err;
	*out = p->c;
	p->c = NULL;
	config_parser_free(p);
	return 0;
}

int config_parse(struct config **out, const char *name, const char *text, size_t len, char *err)
{
	struct config_parser *p;
	size_t start = 0;
	int ret;

	if ((ret = config_parser_new(&p, name)) != 0)
		return ret;
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;

		if ((ret = config_parser_line(p, text + start, end - start, err)) != 0) {
			config_parser_free(p);
			return ret;
		}
		start = end + 1;
	}
	return config_parser_finish(p, out, err);
}

int config_load(struct config **out, const char *path, char *err)
{
	FILE *f = fopen(path, "r");
	struct config_parser *p = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret;

	if (!f) {
		ret = -errno;
		msg_set(err, CONFIG_ERR_MAX, "%s: %s", path, strerror(errno));
		return ret;
	}
	if ((ret = config_parser_new(&p, path)) != 0)
		goto out;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if ((ret = config_parser_line(p, line, (size_t)n, err)) != 0)
			goto out;
	}
	if (ferror(f)) {
		ret = -EIO;
		msg_set(err, CONFIG_ERR_MAX, "%s: read error", path);
		goto out;
	}
	ret = config_parser_finish(p, out, err);
	p = NULL;
out:
	config_parser_free(p);
	free(line);
	fclose(f);
	return ret;
}

const char *config_name(const struct config *c)
{
	return c->name;
}

const char *config_get(const struct config *c, const char *section, const char *key)
{
	const struct config_entry *e = find(c, section ? section : "", key);

	return e ? e->value : NULL;
}

static int bad_value(const struct config *c, const struct config_entry *e, char *err,
                     const char *why)
{
	msg_set(err, CONFIG_ERR_MAX, "%s:%u: [%s] %s: %s (got \"%s\")", c->name, e->line,
	        e->section, e->key, why, e->value);
	return CONFIG_EVALUE;
}

int config_get_str(const struct config *c, const char *section, const char *key, const char *def,
                   const char **out, char *err)
{
	const struct config_entry *e = find(c, section ? section : "", key);

	(void)err;
	*out = e ? e->value : def;
	return 0;
}

int config_require_str(const struct config *c, const char *section, const char *key,
                       const char **out, char *err)
{
	const struct config_entry *e = find(c, section ? section : "", key);

	if (!e) {
		msg_set(err, CONFIG_ERR_MAX, "%s: [%s] %s: required key missing", c->name,
		        section ? section : "", key);
		return CONFIG_ENOKEY;
	}
	if (!e->value[0])
		return bad_value(c, e, err, "must not be empty");
	*out = e->value;
	return 0;
}

/* Parses a decimal integer with an optional suffix whose multiplier is looked up in `units`
 * (NULL-terminated pairs), e.g. size or duration. */
struct unit {
	const char *suffix;
	uint64_t mult;
};

static int parse_scaled(const char *s, const struct unit *units, uint64_t defmult, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = defmult;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	while (*end == ' ')
		end++;
	if (*end) {
		size_t i;

		for (i = 0; units[i].suffix; i++)
			if (!strcasecmp(end, units[i].suffix))
				break;
		if (!units[i].suffix)
			return -EINVAL;
		mult = units[i].mult;
	}
	if (mult && v > UINT64_MAX / mult)
		return -ERANGE;
	*out = (uint64_t)v * mult;
	return 0;
}

int config_get_int(const struct config *c, const char *section, const char *key, int64_t min,
                   int64_t max, int64_t def, int64_t *out, char *err)
{
	const struct config_entry *e = find(c, section ? section : "", key);
	char *end;
	long long v;
	char why[96];

	if (!e) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtoll(e->value, &end, 10);
	if (errno || end == e->value || *end)
		return bad_value(c, e, err, "not an integer");
	if (v < min || v > max) {
		snprintf(why, sizeof why, "out of range [%" PRId64 ", %" PRId64 "]", min, max);
		return bad_value(c, e, err, why);
	}
	*out = v;
	return 0;
}

int config_get_bool(const struct config *c, const char *section, const char *key, bool def,
                    bool *out, char *err)
{
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	const struct config_entry *e = find(c, section ? section : "", key);

	if (!e) {
		*out = def;
		return 0;
	}
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(e->value, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(e->value, no[i])) {
			*out = false;
			return 0;
		}
	}
	return bad_value(c, e, err, "expected true/false, yes/no, on/off or 1/0");
}

int config_get_size(const struct config *c, const char *section, const char *key, uint64_t def,
                    uint64_t *out, char *err)
{
	static const struct unit units[] = {
	        {"K", 1ull << 10}, {"KiB", 1ull << 10}, {"M", 1ull << 20}, {"MiB", 1ull << 20},
	        {"G", 1ull << 30}, {"GiB", 1ull << 30}, {"T", 1ull << 40}, {"TiB", 1ull << 40},
	        {"B", 1},          {NULL, 0},
	};
	const struct config_entry *e = find(c, section ? section : "", key);

	if (!e) {
		*out = def;
		return 0;
	}
	if (parse_scaled(e->value, units, 1, out))
		return bad_value(c, e, err, "expected a size such as 4096, 64K, 512M or 2G");
	return 0;
}

int config_get_duration_ms(const struct config *c, const char *section, const char *key,
                           uint64_t def, uint64_t *out, char *err)
{
	static const struct unit units[] = {
	        {"ms", 1},      {"s", 1000},     {"m", 60000}, {"min", 60000},
	        {"h", 3600000}, {"d", 86400000}, {NULL, 0},
	};
	const struct config_entry *e = find(c, section ? section : "", key);

	if (!e) {
		*out = def;
		return 0;
	}
	if (parse_scaled(e->value, units, 1000, out))
		return bad_value(c, e, err, "expected a duration such as 500ms, 30s, 10m or 2h");
	return 0;
}

const char *config_key_at(const struct config *c, const char *section, size_t i, const char **value)
{
	for (size_t k = 0; k < c->n; k++) {
		if (strcmp(c->v[k].section, section ? section : ""))
			continue;
		if (i-- == 0) {
			if (value)
				*value = c->v[k].value;
			return c->v[k].key;
		}
	}
	return NULL;
}

const char *config_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CONFIG_ESYNTAX:
		return "config syntax error";
	case CONFIG_EDUP:
		return "config key given twice";
	case CONFIG_ENOKEY:
		return "required config key missing";
	case CONFIG_EVALUE:
		return "invalid config value";
	case CONFIG_ETOOLONG:
		return "config line too long";
	}
	return err < 0 && err > -4096 ? strerror(-err) : "unknown config error";
}
