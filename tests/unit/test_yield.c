/* tests/unit/test_yield.c — the sync transfer's lease to a live consultation (sync/yield):
 * message parsing (bounds, malformed input), the state machine on a test clock, and the
 * consult's allowance (what it asks for). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sync/yield.h"

static void test_parse(void **state)
{
	uint64_t b = 7;
	uint32_t l = 7;

	(void)state;
	assert_int_equal(sync_yield_parse("yield 400000 2500", &b, &l), 0);
	assert_int_equal(b, 400000);
	assert_int_equal(l, 2500);
	assert_int_equal(sync_yield_parse("yield end", &b, &l), 0);
	assert_int_equal(b, 0);
	assert_int_equal(l, 0);
	/* under the floor: raised to it (the sync session stays alive) */
	assert_int_equal(sync_yield_parse("yield 0 1000", &b, &l), 0);
	assert_int_equal(b, SYNC_YIELD_MIN_BPS);
	assert_int_equal(sync_yield_parse("yield 10000000000 60000", &b, &l), 0);
	assert_int_equal(b, SYNC_YIELD_MAX_BPS);
	assert_int_equal(l, 60000);
	b = 7;
	l = 7;
	static const char *bad[] = {
	        "yield",
	        "yield ",
	        "yield 1000",
	        "yield 1000 ",
	        "yield  1000 500",
	        "yield 1000 500 ",
	        "yield 1000 500 9",
	        "yield -1000 500",
	        "yield +1000 500",
	        "yield 1000 99",    /* lease under 100 ms */
	        "yield 1000 60001", /* over 60 s */
	        "yield 10000000001 500",
	        "yield 99999999999999999999999 500", /* overflow */
	        "yield 1000 0x500",
	        "yield ends",
	        "yield end ",
	        "yieldend",
	        "rate 1000",
	        "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(sync_yield_parse(bad[i], &b, &l), -EINVAL);
		assert_int_equal(b, 7); /* nothing set */
		assert_int_equal(l, 7);
	}
}

static void test_lease(void **state)
{
	struct sync_yield *y;
	uint64_t b, left;

	(void)state;
	assert_int_equal(sync_yield_new(&y), 0);
	assert_false(sync_yield_active(y, 0, &b, &left));
	assert_int_equal(sync_yield_cap(y, 0), 0);
	assert_int_equal(sync_yield_cap(y, 50000), 50000);
	assert_int_equal(sync_yield_tick(y, 1000), SYNC_YIELD_SAME);
	/* a release while not yielding changes nothing */
	assert_int_equal(sync_yield_apply(y, 1000, 0, 0), SYNC_YIELD_SAME);

	assert_int_equal(sync_yield_apply(y, 1000, 80000, 2000), SYNC_YIELD_START);
	assert_true(sync_yield_active(y, 1500, &b, &left));
	assert_int_equal(b, 80000);
	assert_int_equal(left, 1500);
	assert_int_equal(sync_yield_cap(y, 0), 10000);     /* bytes/s */
	assert_int_equal(sync_yield_cap(y, 50000), 10000); /* the lower */
	assert_int_equal(sync_yield_cap(y, 4000), 4000);   /* the configured cap is lower */
	assert_int_equal(sync_yield_apply(y, 1500, 80000, 2000), SYNC_YIELD_SAME); /* renewal */
	assert_int_equal(sync_yield_apply(y, 2000, 160000, 2000), SYNC_YIELD_UPDATE);
	assert_int_equal(sync_yield_cap(y, 0), 20000);
	/* renewed at 2000 for 2000 ms: still on at 3999, over at 4000 */
	assert_int_equal(sync_yield_tick(y, 3999), SYNC_YIELD_SAME);
	assert_true(sync_yield_active(y, 3999, NULL, &left));
	assert_int_equal(left, 1);
	assert_int_equal(sync_yield_tick(y, 4000), SYNC_YIELD_EXPIRED);
	assert_false(sync_yield_active(y, 4000, &b, &left));
	assert_int_equal(b, 0);
	assert_int_equal(sync_yield_cap(y, 50000), 50000); /* the configured cap is back */
	assert_int_equal(sync_yield_tick(y, 5000), SYNC_YIELD_SAME);

	/* a renewal after the lease ran out (before the tick) starts a new lease */
	assert_int_equal(sync_yield_apply(y, 6000, 80000, 500), SYNC_YIELD_START);
	assert_int_equal(sync_yield_apply(y, 7000, 80000, 500), SYNC_YIELD_START);
	assert_int_equal(sync_yield_apply(y, 7100, 0, 0), SYNC_YIELD_RELEASED);
	assert_false(sync_yield_active(y, 7100, NULL, NULL));
	assert_int_equal(sync_yield_tick(y, 9000), SYNC_YIELD_SAME); /* nothing left to expire */
	assert_int_equal(sync_yield_cap(y, 0), 0);

	/* a cap under the floor is raised to it; 1 byte/s at least */
	assert_int_equal(sync_yield_apply(y, 10000, 1, 1000), SYNC_YIELD_START);
	assert_int_equal(sync_yield_cap(y, 0), SYNC_YIELD_MIN_BPS / 8);
	sync_yield_free(y);
	sync_yield_free(NULL);
}

/* The consult's side: the allowance is the target minus the media, with a floor, and the target
 * it uses is the lowest of the last SYNC_YIELD_HOLD reports: a cut applies at once, a raise
 * (a probe) only once it has held for that many reports. */
static void test_allowance(void **state)
{
	struct sync_yield_ask a;

	(void)state;
	memset(&a, 0, sizeof a);
	/* no media rate yet: the floor (5 % of the target, at least SYNC_YIELD_MIN_BPS) */
	assert_int_equal(sync_yield_allowance(&a, 400000, UINT64_MAX), 20000);
	assert_int_equal(sync_yield_allowance(&a, 400000, 150000), 250000);
	/* media above the target: the floor */
	assert_int_equal(sync_yield_allowance(&a, 400000, 500000), 20000);
	/* a low target: SYNC_YIELD_MIN_BPS */
	memset(&a, 0, sizeof a);
	assert_int_equal(sync_yield_allowance(&a, 100000, 100000), SYNC_YIELD_MIN_BPS);
	/* a cut applies at once */
	memset(&a, 0, sizeof a);
	for (int i = 0; i < SYNC_YIELD_HOLD; i++)
		assert_int_equal(sync_yield_allowance(&a, 500000, 100000), 400000);
	assert_int_equal(sync_yield_allowance(&a, 200000, 100000), 100000);
	/* a raise waits until the low target has left the last SYNC_YIELD_HOLD reports */
	for (int i = 1; i < SYNC_YIELD_HOLD; i++)
		assert_int_equal(sync_yield_allowance(&a, 500000, 100000), 100000);
	assert_int_equal(sync_yield_allowance(&a, 500000, 100000), 400000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_lease),
	        cmocka_unit_test(test_allowance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
