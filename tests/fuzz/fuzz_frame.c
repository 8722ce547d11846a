/* tests/fuzz/fuzz_frame.c — libFuzzer target for the sync message decoder (sync/frame.c).
 * Every message that decodes must re-encode to exactly the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[SYNC_FRAME_MSG_MAX];
	struct sync_frame f;
	size_t len = 0;

	if (sync_frame_decode(data, size, &f) != 0)
		return 0;
	if (sync_frame_encode(&f, out, sizeof out, &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	return 0;
}
