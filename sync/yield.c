/* sync/yield.c — the lease the sync transfer yields to a live consultation (see yield.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync/yield.h"

struct sync_yield {
	bool active;
	uint64_t bps;      /* the cap asked for, bits/s */
	uint64_t until_ms; /* lease end */
};

int sync_yield_new(struct sync_yield **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void sync_yield_free(struct sync_yield *y)
{
	free(y);
}

/* A decimal number of 1..20 digits ending at a space or the end; *p moves past it. */
static int parse_u64(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9') {
		if (++n > 19 || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	if (!n)
		return -EINVAL;
	*out = v;
	return 0;
}

int sync_yield_parse(const char *msg, uint64_t *bps, uint32_t *lease_ms)
{
	const char *p;
	uint64_t b, l;

	if (strncmp(msg, "yield ", 6))
		return -EINVAL;
	p = msg + 6;
	if (!strcmp(p, "end")) {
		*bps = 0;
		*lease_ms = 0;
		return 0;
	}
	if (parse_u64(&p, &b) || *p++ != ' ' || parse_u64(&p, &l) || *p)
		return -EINVAL;
	if (b > SYNC_YIELD_MAX_BPS || l < SYNC_YIELD_LEASE_MIN_MS || l > SYNC_YIELD_LEASE_MAX_MS)
		return -EINVAL;
	*bps = b < SYNC_YIELD_MIN_BPS ? SYNC_YIELD_MIN_BPS : b;
	*lease_ms = (uint32_t)l;
	return 0;
}

enum sync_yield_change sync_yield_apply(struct sync_yield *y, uint64_t now_ms, uint64_t bps,
                                        uint32_t lease_ms)
{
	enum sync_yield_change ch;

	if (!bps) {
		ch = y->active ? SYNC_YIELD_RELEASED : SYNC_YIELD_SAME;
		y->active = false;
		return ch;
	}
	if (bps < SYNC_YIELD_MIN_BPS)
		bps = SYNC_YIELD_MIN_BPS;
	/* A renewal that comes after the lease ran out (no tick yet) starts a new one. */
	if (!y->active || now_ms >= y->until_ms)
		ch = SYNC_YIELD_START;
	else
		ch = bps != y->bps ? SYNC_YIELD_UPDATE : SYNC_YIELD_SAME;
	y->active = true;
	y->bps = bps;
	y->until_ms = now_ms + lease_ms;
	return ch;
}

enum sync_yield_change sync_yield_tick(struct sync_yield *y, uint64_t now_ms)
{
	if (!y->active || now_ms < y->until_ms)
		return SYNC_YIELD_SAME;
	y->active = false;
	return SYNC_YIELD_EXPIRED;
}

bool sync_yield_active(const struct sync_yield *y, uint64_t now_ms, uint64_t *bps,
                       uint64_t *left_ms)
{
	if (bps)
		*bps = y->active ? y->bps : 0;
	if (left_ms)
		*left_ms = y->active && y->until_ms > now_ms ? y->until_ms - now_ms : 0;
	return y->active;
}

uint64_t sync_yield_cap(const struct sync_yield *y, uint64_t configured)
{
	uint64_t c;

	if (!y->active)
		return configured;
	c = y->bps / 8 ? y->bps / 8 : 1;
	return configured && configured < c ? configured : c;
}

uint64_t sync_yield_allowance(struct sync_yield_ask *a, uint32_t target_bps, uint64_t media_bps)
{
	uint32_t target = target_bps;
	uint64_t floor, bps;

	a->target[a->n++ % SYNC_YIELD_HOLD] = target_bps;
	for (unsigned i = 0; i < SYNC_YIELD_HOLD && i < a->n; i++)
		if (a->target[i] < target)
			target = a->target[i];
	floor = (uint64_t)target * SYNC_YIELD_FLOOR_PCT / 100;
	if (floor < SYNC_YIELD_MIN_BPS)
		floor = SYNC_YIELD_MIN_BPS;
	bps = media_bps < target ? target - media_bps : 0;
	return bps > floor ? bps : floor;
}
