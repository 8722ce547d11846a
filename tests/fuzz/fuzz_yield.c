/* tests/fuzz/fuzz_yield.c — the control socket's "yield" message parser on arbitrary bytes (as
 * sync_notify_recv hands them over: NUL-terminated, at most SYNC_NOTIFY_MSG_MAX), then the
 * lease state machine with what it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync/notify.h"
#include "sync/yield.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[SYNC_NOTIFY_MSG_MAX + 1];
	struct sync_yield *y;
	uint64_t bps;
	uint32_t lease;

	if (size > SYNC_NOTIFY_MSG_MAX)
		size = SYNC_NOTIFY_MSG_MAX;
	memcpy(msg, data, size);
	msg[size] = '\0';
	if (sync_yield_parse(msg, &bps, &lease) != 0)
		return 0;
	if ((bps && (bps < SYNC_YIELD_MIN_BPS || bps > SYNC_YIELD_MAX_BPS)) ||
	    (bps && (lease < SYNC_YIELD_LEASE_MIN_MS || lease > SYNC_YIELD_LEASE_MAX_MS)))
		abort();
	if (sync_yield_new(&y) != 0)
		return 0;
	(void)sync_yield_apply(y, 1000, bps, lease);
	if (sync_yield_cap(y, 0) == 0 && bps)
		abort();
	(void)sync_yield_tick(y, 1000 + (uint64_t)lease);
	if (sync_yield_active(y, 1000 + (uint64_t)lease, NULL, NULL))
		abort();
	sync_yield_free(y);
	return 0;
}
