/* tests/unit/util/testutil.h — helpers shared by the unit tests (linked into every test binary). */
#ifndef PIROGUE_TESTS_TESTUTIL_H
#define PIROGUE_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The outside test data: $VECTORS if set, else "../shared/vectors" (tests run from the repo
 * root; CI clones the repo with shared/ beside it). */
const char *tu_vectors_dir(void);

/* Reads a whole file into a malloc'd buffer (one spare NUL byte after the end), sets *len.
 * Returns NULL (errno set) if it cannot be read. The caller frees. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* Like tu_read_file for "<vectors>/<sub>/<rel>", failing the current cmocka test when missing. */
uint8_t *tu_read_vector(const char *sub, const char *rel, size_t *len);

#endif
