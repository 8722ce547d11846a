/* tests/unit/util/testutil.c — see testutil.h. */
#include "tests/unit/util/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

const char *tu_vectors_dir(void)
{
	const char *v = getenv("VECTORS");

	return v && *v ? v : "../shared/vectors";
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		errno = EIO;
		goto out;
	}
	buf[n] = 0;
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

uint8_t *tu_read_vector(const char *sub, const char *rel, size_t *len)
{
	char path[1024];
	uint8_t *buf;

	snprintf(path, sizeof path, "%s/%s/%s", tu_vectors_dir(), sub, rel);
	buf = tu_read_file(path, len);
	if (!buf)
		fail_msg("cannot read vector %s (set VECTORS)", path);
	return buf;
}
