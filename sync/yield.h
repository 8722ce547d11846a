/* sync/yield.h — the sync transfer yields the link to a live consultation, under a lease.
 *
 * `pirogue consult` tells its site's pirogued (sync/notify control socket), about every 500 ms
 * while media flows, how much of the link the sync may use: "yield BITS_PER_S LEASE_MS". The
 * daemon caps its transfer at that (sync_xfer_set_rate, the lower of it and the configured
 * [sync] rate_cap) until the lease runs out: a renewal extends it, "yield end" ends it at once,
 * and a consult that died (crash, kill -9) stops renewing, so the configured cap comes back by
 * itself LEASE_MS later. This module is the state machine and the message parser; the daemon
 * owns the timer (it calls sync_yield_tick when the lease may have run out) and the xfer.
 *
 * Times are monotonic milliseconds (mtime_now_ms) passed in, so tests drive it with any clock.
 * Not thread-safe.
 */
#ifndef PIROGUE_SYNC_YIELD_H
#define PIROGUE_SYNC_YIELD_H

#include <stdbool.h>
#include <stdint.h>

/* Bounds of a lease request. The cap never goes under SYNC_YIELD_MIN_BPS (the sync session
 * keeps its keepalives and acknowledgements going; 0 would mean "no cap" to sync_xfer). */
#define SYNC_YIELD_MIN_BPS      8000u
#define SYNC_YIELD_MAX_BPS      10000000000ull
#define SYNC_YIELD_LEASE_MIN_MS 100u
#define SYNC_YIELD_LEASE_MAX_MS 60000u

/* What a message or a tick changed. */
enum sync_yield_change {
	SYNC_YIELD_SAME = 0, /* nothing (a renewal at the same cap, a tick before expiry) */
	SYNC_YIELD_START,    /* yielding began: apply the cap */
	SYNC_YIELD_UPDATE,   /* still yielding, at another cap */
	SYNC_YIELD_RELEASED, /* "yield end": back to the configured cap */
	SYNC_YIELD_EXPIRED,  /* the lease ran out without renewal: back to the configured cap */
};

struct sync_yield;

/* 0 or -ENOMEM. Starts not yielding. */
int sync_yield_new(struct sync_yield **out) __attribute__((warn_unused_result));
void sync_yield_free(struct sync_yield *y); /* NULL is fine */

/* Parses a control message (untrusted): "yield BITS_PER_S LEASE_MS" (decimal, one space
 * each) sets *bps and *lease_ms; "yield end" sets both to 0. BITS_PER_S under
 * SYNC_YIELD_MIN_BPS is raised to it; above SYNC_YIELD_MAX_BPS, or a lease outside
 * [SYNC_YIELD_LEASE_MIN_MS, SYNC_YIELD_LEASE_MAX_MS], or anything else: -EINVAL (nothing set). */
int sync_yield_parse(const char *msg, uint64_t *bps, uint32_t *lease_ms)
        __attribute__((warn_unused_result));

/* Applies a parsed message at now_ms (bps 0: the release). Returns the change. */
enum sync_yield_change sync_yield_apply(struct sync_yield *y, uint64_t now_ms, uint64_t bps,
                                        uint32_t lease_ms);

/* The lease ran out by now_ms? Then yielding ends: SYNC_YIELD_EXPIRED, else SYNC_YIELD_SAME. */
enum sync_yield_change sync_yield_tick(struct sync_yield *y, uint64_t now_ms);

/* Yielding now: *bps the cap asked for and *left_ms until the lease runs out at now_ms (either
 * may be NULL). */
bool sync_yield_active(const struct sync_yield *y, uint64_t now_ms, uint64_t *bps,
                       uint64_t *left_ms);

/* The sync cap to apply in bytes/s (0: none): the configured cap `configured` (bytes/s, 0 =
 * none) while not yielding, else the lower of it and the lease's cap (at least 1). */
uint64_t sync_yield_cap(const struct sync_yield *y, uint64_t configured);

/* ---- the consult's side: what to ask for ----
 * The allowance: the media controller's target minus what the media sent over the last period,
 * at least SYNC_YIELD_FLOOR_PCT % of the target and SYNC_YIELD_MIN_BPS. The target used is the
 * lowest of the last SYNC_YIELD_HOLD reports (one per period, 500 ms in `pirogue consult`), so
 * a probe that lifts the target does not hand the sync room before the ladder (whose upgrade
 * hold is 2.5 s) has had time to use it, while a cut applies at once. The floor keeps the sync
 * session alive (keepalives, acknowledgements, its own RTT and loss estimates) and costs the
 * media at most 5 %, less than one ladder step. */
#define SYNC_YIELD_HOLD      6
#define SYNC_YIELD_FLOOR_PCT 5

struct sync_yield_ask { /* zero it to start; fields private */
	uint32_t target[SYNC_YIELD_HOLD];
	unsigned n;
};

/* Records this period's controller target and returns the allowance in bit/s; media_bps is
 * what the media sent over the period (UINT64_MAX if not known yet: the floor is asked for). */
uint64_t sync_yield_allowance(struct sync_yield_ask *a, uint32_t target_bps, uint64_t media_bps);

#endif
