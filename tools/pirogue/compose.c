/* tools/pirogue/compose.c — see compose.h. */
#include "tools/pirogue/compose.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/pirogue/cmd.h"

const char *compose_guess_type(const char *path)
{
	static const char *const map[][2] = {
	        {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},
	        {".png", "image/png"},         {".pdf", "application/pdf"},
	        {".dcm", "application/dicom"}, {".txt", "text/plain"},
	        {".mp4", "video/mp4"},         {".webm", "video/webm"},
	        {".wav", "audio/wav"},         {".ogg", "audio/ogg"},
	        {".json", "application/json"}, {".zip", "application/zip"},
	        {".tif", "image/tiff"},        {".tiff", "image/tiff"},
	        {".heic", "image/heic"},
	};
	const char *dot = strrchr(path, '.');

	if (dot)
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
			if (!strcasecmp(dot, map[i][0]))
				return map[i][1];
	return "application/octet-stream";
}

/* Reads a text note of at most SYNC_ENV_NOTE_MAX bytes (no NUL bytes). */
static char *read_note_file(const char *path, const char *who)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!fp) {
		fprintf(stderr, "pirogue %s: --note-file %s: %s\n", who, path, strerror(errno));
		return NULL;
	}
	buf = malloc(SYNC_ENV_NOTE_MAX + 2);
	n = buf ? fread(buf, 1, SYNC_ENV_NOTE_MAX + 1, fp) : 0;
	fclose(fp);
	if (!buf) {
		fprintf(stderr, "pirogue %s: out of memory\n", who);
		return NULL;
	}
	if (n > SYNC_ENV_NOTE_MAX) {
		fprintf(stderr, "pirogue %s: --note-file %s: longer than %d bytes\n", who, path,
		        SYNC_ENV_NOTE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (strlen(buf) != n) {
		fprintf(stderr, "pirogue %s: --note-file %s: contains NUL bytes (not text)\n", who,
		        path);
		free(buf);
		return NULL;
	}
	return buf;
}

int compose_option(struct compose *c, int opt, const char *arg, const char *who)
{
	struct sync_part_src *t;

	switch (opt) {
	case 'p':
		if (sync_env_priority_parse(arg, &c->prio) != 0) {
			fprintf(stderr, "pirogue %s: --priority: urgent, normal or bulk\n", who);
			return -CMD_USAGE;
		}
		return 1;
	case 't':
		c->title = arg;
		return 1;
	case 'n':
		c->note = arg;
		return 1;
	case 'N':
		free(c->note_buf);
		if (!(c->note_buf = read_note_file(arg, who)))
			return -CMD_FAIL;
		c->note = c->note_buf;
		return 1;
	case 'f':
		t = realloc(c->parts, (c->nparts + 1) * sizeof *c->parts);
		if (!t) {
			fprintf(stderr, "pirogue %s: out of memory\n", who);
			return -CMD_FAIL;
		}
		c->parts = t;
		memset(&c->parts[c->nparts], 0, sizeof c->parts[c->nparts]);
		c->parts[c->nparts].path = arg;
		c->parts[c->nparts].type = compose_guess_type(arg);
		c->nparts++;
		return 1;
	}
	return 0;
}

int compose_check(const struct compose *c, const char *who)
{
	if (c->title && strlen(c->title) > SYNC_ENV_TITLE_MAX) {
		fprintf(stderr, "pirogue %s: --title longer than %d bytes\n", who,
		        SYNC_ENV_TITLE_MAX);
		return -CMD_USAGE;
	}
	if (c->note && strlen(c->note) > SYNC_ENV_NOTE_MAX) {
		fprintf(stderr, "pirogue %s: --note longer than %d bytes\n", who,
		        SYNC_ENV_NOTE_MAX);
		return -CMD_USAGE;
	}
	return 0;
}

void compose_free(struct compose *c)
{
	free(c->note_buf);
	free(c->parts);
	memset(c, 0, sizeof *c);
	c->prio = SYNC_PRIO_NORMAL;
}
