/* common/config.h — the configuration file format.
 *
 * INI style:
 *     # comment            ; comment
 *     [section]
 *     key = value          (value runs to end of line, surrounding blanks trimmed;
 *                           "double quotes" keep blanks and allow \" \\ \n \t escapes)
 * Keys before any [section] belong to the section "" (empty name). Section and key names are
 * [A-Za-z0-9_.-]+. A repeated key in one section is an error (no silent override); a repeated
 * [section] header continues that section. Lines may be up to CONFIG_LINE_MAX bytes.
 *
 * The parser streams (config_parse_init / _line / _finish) so it can be fed from a file, a
 * string or a fuzzer. Every error message names "file:line" and, where there is one, the key.
 */
#ifndef PIROGUE_COMMON_CONFIG_H
#define PIROGUE_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CONFIG_LINE_MAX 4096
#define CONFIG_ERR_MAX  320 /* size of the caller's error-message buffer */

#define CONFIG_ESYNTAX  (ERR_BASE_COMMON - 1) /* malformed line */
#define CONFIG_EDUP     (ERR_BASE_COMMON - 2) /* key given twice in a section */
#define CONFIG_ENOKEY   (ERR_BASE_COMMON - 3) /* required key missing */
#define CONFIG_EVALUE   (ERR_BASE_COMMON - 4) /* value of the wrong type or out of range */
#define CONFIG_ETOOLONG (ERR_BASE_COMMON - 5) /* line longer than CONFIG_LINE_MAX */

struct config;

/* Parses the file at `path`. On success *out owns the result (free with config_free()).
 * On failure returns a CONFIG_E* code or -errno and writes a message ("path:line: ...") to
 * err (CONFIG_ERR_MAX bytes, may be NULL). */
int config_load(struct config **out, const char *path, char *err)
        __attribute__((warn_unused_result));

/* Parses a NUL-free text buffer (name is used in messages). Same contract as config_load. */
int config_parse(struct config **out, const char *name, const char *text, size_t len, char *err)
        __attribute__((warn_unused_result));

/* Streaming interface (what config_parse is built on). */
struct config_parser;
int config_parser_new(struct config_parser **out, const char *name)
        __attribute__((warn_unused_result));
/* Feeds one line without its newline (len bytes, need not be NUL-terminated). */
int config_parser_line(struct config_parser *p, const char *line, size_t len, char *err)
        __attribute__((warn_unused_result));
/* Ends parsing; on success *out receives the config and p is freed. On failure p is freed too. */
int config_parser_finish(struct config_parser *p, struct config **out, char *err)
        __attribute__((warn_unused_result));
void config_parser_free(struct config_parser *p); /* NULL is fine */

void config_free(struct config *c); /* NULL is fine */

/* The name the config was loaded from (for messages). */
const char *config_name(const struct config *c);

/* Returns the raw value of section/key or NULL if absent. Valid until config_free(). */
const char *config_get(const struct config *c, const char *section, const char *key);

/* Typed getters: if the key is absent, *out = def and 0 is returned. If present but invalid,
 * CONFIG_EVALUE is returned and err names "file:line: [section] key: reason". */
int config_get_str(const struct config *c, const char *section, const char *key, const char *def,
                   const char **out, char *err) __attribute__((warn_unused_result));
int config_get_int(const struct config *c, const char *section, const char *key, int64_t min,
                   int64_t max, int64_t def, int64_t *out, char *err)
        __attribute__((warn_unused_result));
/* true/false, yes/no, on/off, 1/0 */
int config_get_bool(const struct config *c, const char *section, const char *key, bool def,
                    bool *out, char *err) __attribute__((warn_unused_result));
/* Sizes with optional suffix K, M, G (powers of 1024), e.g. "64K", "2G". */
int config_get_size(const struct config *c, const char *section, const char *key, uint64_t def,
                    uint64_t *out, char *err) __attribute__((warn_unused_result));
/* Durations with suffix ms, s, m, h (no suffix: seconds), result in milliseconds. */
int config_get_duration_ms(const struct config *c, const char *section, const char *key,
                           uint64_t def, uint64_t *out, char *err)
        __attribute__((warn_unused_result));
/* Like config_get_str but a missing key is CONFIG_ENOKEY with a message naming it. */
int config_require_str(const struct config *c, const char *section, const char *key,
                       const char **out, char *err) __attribute__((warn_unused_result));

/* Iterates the keys of a section in file order: returns the i-th key (and its value in *value)
 * or NULL past the end. Useful for allow-lists such as [clinics]. */
const char *config_key_at(const struct config *c, const char *section, size_t i,
                          const char **value);

const char *config_strerror(int err);

#endif
