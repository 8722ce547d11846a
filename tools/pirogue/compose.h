/* tools/pirogue/compose.h — what `pirogue case add` and `pirogue reply` share: the options that
 * compose a record (--priority, --title, --note, --note-file, --file) and their checks.
 *
 * Usage: put COMPOSE_LONGOPTS in the getopt_long table and COMPOSE_SHORTOPTS in the option
 * string, hand every option to compose_option() first, then call compose_check() once the
 * command line is read, and compose_free() on every exit path.
 */
#ifndef PIROGUE_TOOLS_COMPOSE_H
#define PIROGUE_TOOLS_COMPOSE_H

#include <stddef.h>

#include "sync/store.h"

struct compose {
	enum sync_env_priority prio; /* SYNC_PRIO_NORMAL unless --priority */
	const char *title;           /* NULL unless --title */
	const char *note;            /* NULL unless --note / --note-file */
	char *note_buf;              /* owned: the text read by --note-file */
	struct sync_part_src *parts; /* owned array; paths point into argv */
	size_t nparts;
};

#define COMPOSE_SHORTOPTS "p:t:n:N:f:"
#define COMPOSE_LONGOPTS                                                                           \
	{"priority", required_argument, NULL, 'p'}, {"title", required_argument, NULL, 't'},       \
	        {"note", required_argument, NULL, 'n'},                                            \
	        {"note-file", required_argument, NULL, 'N'},                                       \
	{                                                                                          \
		"file", required_argument, NULL, 'f'                                               \
	}

/* Handles getopt option `opt` with argument `arg` if it is one of the compose options.
 * Returns 1 when handled, 0 when `opt` is not a compose option, CMD_USAGE or CMD_FAIL (negated)
 * after printing "pirogue <who>: ..." on stderr. */
int compose_option(struct compose *c, int opt, const char *arg, const char *who);

/* Checks lengths once the command line is read. Returns 0 or -CMD_USAGE (message printed). */
int compose_check(const struct compose *c, const char *who);

/* A content type from a file name's extension (what staff attach most), else
 * application/octet-stream. */
const char *compose_guess_type(const char *path);

/* Releases what compose_option() allocated; the struct may be reused after. */
void compose_free(struct compose *c);

#endif
