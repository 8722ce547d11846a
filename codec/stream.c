/* codec/stream.c — see stream.h. */
#include "codec/stream.h"

#include <errno.h>
#include <string.h>

int codec_stream_open(const char *path, bool write, FILE **f, bool *own)
{
	FILE *fp;

	if (!strcmp(path, "-")) {
		*f = write ? stdout : stdin;
		*own = false;
		return 0;
	}
	if (!(fp = fopen(path, write ? "wb" : "rb")))
		return errno ? -errno : -EIO;
	*f = fp;
	*own = true;
	return 0;
}
