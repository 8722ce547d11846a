/* tests/unit/test_linksim.c — the link lab's model as plain functions, on a simulated clock:
 * Gilbert-Elliott statistics, queue and serialisation timing, jitter, outages, fades, the
 * token-bucket policer, traces, schedules, value parsers and profiles. No root, no sockets.
 *
 * linksim is a program, not part of libpirogue.a, so its pure sources are compiled into this
 * test directly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/linksim/model.c"
#include "tools/linksim/parse.c"
#include "tools/linksim/profile.c"

#include "common/config.h"

#define MS LINKSIM_NS_PER_MS
#define S  LINKSIM_NS_PER_S

/* ---- helpers: a direction driven by a simulated clock ---- */

struct sink {
	uint64_t due[20000];
	uint64_t at[20000];
	uint64_t arrival[20000];
	size_t len[20000];
	size_t n;
	uint64_t now;
};

static void sink_out(struct linksim_pkt *pkt, void *arg)
{
	struct sink *s = arg;
	if (s->n < 20000) {
		s->due[s->n] = pkt->due_ns;
		s->at[s->n] = s->now;
		s->len[s->n] = pkt->len;
		s->arrival[s->n] = pkt->arrival_ns;
		s->n++;
	}
	free(pkt);
}

static void feed(struct linksim_dir *d, size_t len, uint64_t t)
{
	struct linksim_pkt *p = linksim_pkt_new(len);
	assert_non_null(p);
	memset(p->data, 0, len);
	linksim_dir_input(d, p, t);
}

static void run_at(struct linksim_dir *d, struct sink *s, uint64_t t)
{
	s->now = t;
	linksim_dir_run(d, t, sink_out, s);
}

/* Runs the direction event by event (as the emulator's timer would) up to `until`. */
static void run_until(struct linksim_dir *d, struct sink *s, uint64_t until)
{
	for (;;) {
		uint64_t due = linksim_dir_next_due(d);
		if (due == LINKSIM_INF || due > until)
			break;
		run_at(d, s, due);
	}
	run_at(d, s, until);
}

static struct linksim_dir *mkdir_params(const char *const *kv)
{
	struct linksim_params p;
	struct linksim_dir *d = NULL;
	char err[LINKSIM_ERR_MAX];

	linksim_params_default(&p);
	for (; kv && kv[0]; kv += 2) {
		int r = linksim_params_set(&p, kv[0], kv[1], "tools/linksim/profiles", err);
		if (r != 0)
			fail_msg("%s=%s: %s", kv[0], kv[1], err);
	}
	if (!p.seed)
		p.seed = 42;
	assert_int_equal(linksim_dir_new(&d, &p, 0), 0);
	linksim_params_release(&p);
	return d;
}

/* ---- Gilbert-Elliott ---- */

/* Loss statistics of a run of n packets from the model: count, bursts, and P(loss | loss). */
static void ge_sample(double loss, double burst, size_t n, uint64_t seed, double *mean,
                      double *mean_burst, double *p_ll)
{
	struct linksim_ge ge = {0};
	struct linksim_rng rng;
	size_t lost = 0, bursts = 0, ll = 0, i;
	bool prev = false;

	assert_int_equal(linksim_ge_init(&ge, loss, burst), 0);
	linksim_rng_seed(&rng, seed);
	for (i = 0; i < n; i++) {
		bool l = linksim_ge_lost(&ge, &rng);
		if (l) {
			lost++;
			if (!prev)
				bursts++;
			else
				ll++;
		}
		prev = l;
	}
	*mean = (double)lost / (double)n;
	*mean_burst = bursts ? (double)lost / (double)bursts : 0;
	*p_ll = lost ? (double)ll / (double)lost : 0;
}

static void test_ge_mean_loss_and_burst_length_match_parameters(void **state)
{
	const double p = 0.05, b = 4;
	const size_t n = 2000000;
	double mean, mb, pll, r = 1 / b, q = p * r / (1 - p), rho = 1 - r - q, sd, sd_b;

	ge_sample(p, b, n, 1, &mean, &mb, &pll);
	/* Var(mean) of a two-state Markov chain's indicator: p(1-p)/n * (1+rho)/(1-rho), rho the
	 * lag-1 autocorrelation 1 - q - r. Bursts are geometric (mean b, sd sqrt(1-r)/r). */
	sd = sqrt(p * (1 - p) / (double)n * (1 + rho) / (1 - rho));
	sd_b = sqrt(1 - r) / r / sqrt((double)n * p / b);
	assert_true(fabs(mean - p) < 5 * sd);
	assert_true(fabs(mb - b) < 5 * sd_b);
	assert_true(fabs(pll - (1 - r)) < 0.01);
}

static void test_ge_burst_zero_gives_independent_losses(void **state)
{
	double mean, mb, pll;

	ge_sample(0.1, 0, 1000000, 7, &mean, &mb, &pll);
	assert_true(fabs(mean - 0.1) < 5 * sqrt(0.09 / 1e6));
	/* independent: P(loss | previous lost) equals P(loss) */
	assert_true(fabs(pll - 0.1) < 0.005);
	assert_true(fabs(mb - 1 / 0.9) < 0.01);
}

static void test_ge_zero_loss_never_loses(void **state)
{
	double mean, mb, pll;
	ge_sample(0, 3, 100000, 3, &mean, &mb, &pll);
	assert_true(mean == 0);
}

static void test_ge_rejects_impossible_parameters(void **state)
{
	struct linksim_ge ge;
	assert_int_equal(linksim_ge_init(&ge, 1.0, 3), LINKSIM_ERANGE);
	assert_int_equal(linksim_ge_init(&ge, -0.1, 3), LINKSIM_ERANGE);
	assert_int_equal(linksim_ge_init(&ge, 0.1, 0.5), LINKSIM_ERANGE);
	/* 60 % loss needs bursts of at least 1.5 packets */
	assert_int_equal(linksim_ge_init(&ge, 0.6, 1.2), LINKSIM_ERANGE);
	assert_int_equal(linksim_ge_init(&ge, 0.6, 2), 0);
}

/* ---- queue and serialisation ---- */

static void test_serialisation_is_back_to_back_at_line_rate(void **state)
{
	const char *const kv[] = {"rate", "1Mbit", "delay", "10ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	static struct sink s;

	memset(&s, 0, sizeof s);
	/* 1250 bytes at 1 Mbit/s take 10 ms on the wire */
	feed(d, 1250, 0);
	feed(d, 1250, 0);
	feed(d, 1250, 0);
	feed(d, 1250, 35 * MS); /* arrives after the link went idle at 30 ms */
	run_until(d, &s, 1 * S);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.due[0], 20 * MS);
	assert_int_equal(s.due[1], 30 * MS);
	assert_int_equal(s.due[2], 40 * MS);
	assert_int_equal(s.due[3], 55 * MS);
	linksim_dir_free(d);
}

static void test_late_timers_do_not_change_the_rate(void **state)
{
	const char *const kv[] = {"rate", "2Mbit", "queue", "10s", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	static struct sink s;
	uint64_t t = 0;
	size_t i;

	memset(&s, 0, sizeof s);
	for (i = 0; i < 1000; i++)
		feed(d, 1000, 0); /* 4 ms each at 2 Mbit/s */
	/* wake up at irregular, late moments instead of at each due time */
	while (t < 5 * S) {
		t += 37 * MS + (t % 11) * MS;
		run_at(d, &s, t);
	}
	assert_int_equal(s.n, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(s.due[i], (i + 1) * 4 * MS);
	linksim_dir_free(d);
}

static void test_drop_tail_queue_holds_its_depth_in_line_rate_time(void **state)
{
	const char *const kv[] = {"rate", "1Mbit", "queue", "25ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_stats st;
	static struct sink s;
	int i;

	memset(&s, 0, sizeof s);
	/* 25 ms at 1 Mbit/s = 3125 bytes: three 1000-byte packets fit, the rest is dropped */
	for (i = 0; i < 5; i++)
		feed(d, 1000, 0);
	linksim_dir_stats(d, &st);
	assert_int_equal(st.drop_queue, 2);
	assert_int_equal(st.queue_pkts, 3);
	run_until(d, &s, 1 * S);
	assert_int_equal(s.n, 3);
	linksim_dir_free(d);
}

static void test_rate_change_applies_to_packets_not_yet_on_the_wire(void **state)
{
	const char *const kv[] = {"rate", "1Mbit", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_params p;
	static struct sink s;
	char err[LINKSIM_ERR_MAX];

	memset(&s, 0, sizeof s);
	feed(d, 1250, 0);
	feed(d, 1250, 0);
	run_at(d, &s, 1 * MS); /* first packet on the wire until 10 ms */
	assert_int_equal(linksim_params_copy(&p, linksim_dir_params(d)), 0);
	assert_int_equal(linksim_params_set(&p, "rate", "100kbit", NULL, err), 0);
	assert_int_equal(linksim_dir_set_params(d, &p), 0);
	linksim_params_release(&p);
	run_until(d, &s, 1 * S);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.due[0], 10 * MS);
	assert_int_equal(s.due[1], 110 * MS); /* 1250 bytes at 100 kbit/s: 100 ms */
	linksim_dir_free(d);
}

static void test_outage_drops_arrivals_and_departures_inside_its_interval(void **state)
{
	const char *const kv[] = {"rate", "1Mbit", "delay", "100ms", "outage", "1s+1s", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_stats st;
	static struct sink s;

	memset(&s, 0, sizeof s);
	feed(d, 1250, 500 * MS);
	run_until(d, &s, 995 * MS);
	feed(d, 1250, 995 * MS); /* finishes serialisation at 1005 ms, inside the outage */
	run_until(d, &s, 1500 * MS);
	feed(d, 1250, 1500 * MS); /* arrives during the outage */
	run_until(d, &s, 2000 * MS);
	feed(d, 1250, 2000 * MS); /* the link is back */
	run_until(d, &s, 3 * S);
	linksim_dir_stats(d, &st);
	assert_int_equal(st.drop_outage, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.due[0], 610 * MS);
	assert_int_equal(s.due[1], 2110 * MS);
	assert_true(linksim_dir_in_outage(d, 1500 * MS));
	assert_false(linksim_dir_in_outage(d, 2000 * MS));
	linksim_dir_free(d);
}

static void test_outage_schedule_repeats_with_its_period(void **state)
{
	const char *const kv[] = {"outage", "1s+1s", "outage_period", "10s", NULL};
	struct linksim_dir *d = mkdir_params(kv);

	assert_true(linksim_dir_in_outage(d, 11500 * MS));
	assert_false(linksim_dir_in_outage(d, 12500 * MS));
	linksim_dir_free(d);
}

static void test_jitter_keeps_order_and_mean_delay(void **state)
{
	const char *const kv[] = {"delay", "100ms", "jitter", "20ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	static struct sink s;
	double sum = 0, lo = 1e18, hi = 0;
	size_t i;

	memset(&s, 0, sizeof s);
	/* one packet every 5 ms for 100 s (unlimited rate: only delay and jitter) */
	for (i = 0; i < 20000; i++) {
		uint64_t t = (uint64_t)i * 5 * MS;
		feed(d, 100, t);
		run_at(d, &s, t);
	}
	run_until(d, &s, 200 * S);
	assert_int_equal(s.n, 20000);
	for (i = 0; i < s.n; i++) {
		double delay = (double)(s.due[i] - (uint64_t)i * 5 * MS) / 1e6;
		if (i > 0)
			assert_true(s.due[i] >= s.due[i - 1]);
		sum += delay;
		lo = delay < lo ? delay : lo;
		hi = delay > hi ? delay : hi;
	}
	assert_true(lo >= 80 - 1e-6 && hi <= 120 + 1e-6);
	assert_true(hi - lo > 30); /* the jitter is really there */
	/* 1000 control points uniform in +/-20 ms: the mean is within a few sd
	 * (20/sqrt(3)/sqrt(500)) */
	assert_true(fabs(sum / (double)s.n - 100) < 3);
	linksim_dir_free(d);
}

static void test_reorder_option_lets_later_packets_pass(void **state)
{
	const char *const kv[] = {"delay", "10ms", "reorder", "20%", "reorder_delay", "5ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	static struct sink s;
	size_t i, inversions = 0;

	memset(&s, 0, sizeof s);
	for (i = 0; i < 1000; i++)
		feed(d, 100, (uint64_t)i * MS);
	run_until(d, &s, 10 * S);
	assert_int_equal(s.n, 1000);
	for (i = 1; i < s.n; i++)
		inversions += s.due[i] < s.due[i - 1];
	assert_int_equal(inversions, 0); /* delivered in due order ... */
	for (i = 1; i < s.n; i++)
		inversions += s.arrival[i] < s.arrival[i - 1];
	/* ... which is not arrival order: about one descent per held packet (20 % of 1000) */
	assert_true(inversions > 100 && inversions < 300);
	linksim_dir_free(d);
}

static void test_fade_lowers_rate_and_raises_loss(void **state)
{
	const char *const kv[] = {"rate",      "1Mbit", "fade", "1s+1s", "fade_rate", "100kbit",
	                          "fade_loss", "50%",   "seed", "9",     NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_stats st;
	static struct sink s;
	size_t i;

	memset(&s, 0, sizeof s);
	assert_int_equal(linksim_dir_rate_at(d, 500 * MS), 1000000);
	assert_int_equal(linksim_dir_rate_at(d, 1500 * MS), 100000);
	feed(d, 1250, 1100 * MS); /* 100 ms on the wire during the fade */
	run_until(d, &s, 1300 * MS);
	linksim_dir_stats(d, &st);
	assert_int_equal(st.out_pkts + st.drop_loss, 1);
	if (s.n)
		assert_int_equal(s.due[0], 1200 * MS);
	for (i = 0; i < 400; i++) {
		feed(d, 10, 1300 * MS + i * MS);
		run_until(d, &s, 1300 * MS + i * MS);
	}
	run_until(d, &s, 3 * S);
	linksim_dir_stats(d, &st);
	/* 50 % independent loss over 400 packets: 200 +/- 10 (sd), allow 5 sd */
	assert_true(st.drop_loss > 150 && st.drop_loss < 250);
	linksim_dir_free(d);
}

/* ---- token-bucket policer ---- */

/* Feeds a packet of len bytes at t; true if the policer let it through. */
static bool police_passes(struct linksim_dir *d, size_t len, uint64_t t)
{
	struct linksim_stats before, after;

	linksim_dir_stats(d, &before);
	feed(d, len, t);
	linksim_dir_stats(d, &after);
	return after.drop_police == before.drop_police;
}

/* Sets one key of a running direction, as `linksim set` does. */
static void dir_set(struct linksim_dir *d, const char *key, const char *value)
{
	struct linksim_params p;
	char err[LINKSIM_ERR_MAX];

	assert_int_equal(linksim_params_copy(&p, linksim_dir_params(d)), 0);
	if (linksim_params_set(&p, key, value, NULL, err) != 0)
		fail_msg("%s=%s: %s", key, value, err);
	assert_int_equal(linksim_dir_set_params(d, &p), 0);
	linksim_params_release(&p);
}

/* Feeds len-byte packets every `every` ns from 0 to `until` inclusive, running the link. */
static void feed_steady(struct linksim_dir *d, struct sink *s, size_t len, uint64_t every,
                        uint64_t until)
{
	uint64_t t;

	for (t = 0; t <= until; t += every) {
		run_until(d, s, t);
		feed(d, len, t);
	}
	run_until(d, s, until + 10 * S);
}

static void test_police_passes_its_rate_plus_depth_and_drops_the_rest(void **state)
{
	const char *const kv[] = {"rate",         "2Mbit", "police_rate", "512kbit",
	                          "police_burst", "100ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_stats st;
	static struct sink s;
	/* 512 kbit/s x 10 s = 640,000 bytes, plus the 100 ms bucket (6,400 bytes) */
	const uint64_t allowed = 512000 / 8 * 10 + 6400;

	memset(&s, 0, sizeof s);
	assert_int_equal(linksim_params_police_depth(linksim_dir_params(d)), 6400);
	/* 1000-byte packets at 1 Mbit/s (one every 8 ms) over [0, 10 s]: 1251 packets */
	feed_steady(d, &s, 1000, 8 * MS, 10 * S);
	linksim_dir_stats(d, &st);
	assert_int_equal(st.in_pkts, 1251);
	assert_int_equal(st.out_pkts, s.n);
	/* a token bucket never passes more than rate x time + depth; in 1000-byte packets it
	 * passes that to within one packet (here 646 packets: 646,000 of 646,400 bytes) */
	assert_true(st.out_bytes <= allowed);
	assert_true(st.out_bytes + 1000 > allowed);
	assert_int_equal(st.drop_police, st.in_pkts - st.out_pkts);
	assert_int_equal(st.drop_queue, 0);
	assert_int_equal(st.drop_loss + st.drop_outage + st.drop_error, 0);
	linksim_dir_free(d);
}

static void test_police_below_its_rate_drops_nothing(void **state)
{
	const char *const kv[] = {"rate",         "2Mbit", "police_rate", "512kbit",
	                          "police_burst", "100ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_stats st;
	static struct sink s;

	memset(&s, 0, sizeof s);
	/* 1000-byte packets at 400 kbit/s (one every 20 ms) for 10 s */
	feed_steady(d, &s, 1000, 20 * MS, 10 * S);
	linksim_dir_stats(d, &st);
	assert_int_equal(st.in_pkts, 501);
	assert_int_equal(st.drop_police, 0);
	assert_int_equal(st.out_pkts, 501);
	assert_int_equal(st.out_bytes, 501000);
	linksim_dir_free(d);
}

static void test_police_bucket_starts_full(void **state)
{
	const char *const kv[] = {"police_rate", "512kbit", "police_burst", "100ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	struct linksim_stats st;
	int i;

	/* depth 512 kbit/s x 100 ms / 8 = 6400 bytes, all of it available at t = 0 */
	for (i = 0; i < 5; i++)
		assert_true(police_passes(d, 1280, 0));
	assert_false(police_passes(d, 20, 0));
	linksim_dir_stats(d, &st);
	assert_int_equal(st.drop_police, 1);
	assert_int_equal(st.queue_bytes, 6400);
	linksim_dir_free(d);
}

static void test_police_bucket_holds_at_least_one_full_size_packet(void **state)
{
	const char *const kv[] = {"police_rate", "64kbit", "police_burst", "10ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);

	/* 64 kbit/s x 10 ms = 80 bytes, raised to 1500 */
	assert_int_equal(linksim_params_police_depth(linksim_dir_params(d)), 1500);
	assert_true(police_passes(d, 1500, 0));
	assert_false(police_passes(d, 20, 0));
	linksim_dir_free(d);
}

static void test_police_change_at_run_time_keeps_tokens_capped_at_new_depth(void **state)
{
	const char *const kv[] = {"police_rate", "512kbit", "police_burst", "100ms", NULL};
	struct linksim_dir *d = mkdir_params(kv);
	int i;

	/* spend 6000 of the 6400 bytes, then deepen the bucket to 12800: still 400 left */
	for (i = 0; i < 6; i++)
		assert_true(police_passes(d, 1000, 0));
	dir_set(d, "police_burst", "200ms");
	assert_true(police_passes(d, 400, 0));
	assert_false(police_passes(d, 20, 0));
	/* 1 s later the bucket is full (12800, 20 taken); a 50 ms bucket caps it at 3200 */
	assert_true(police_passes(d, 20, 1 * S));
	dir_set(d, "police_burst", "50ms");
	assert_true(police_passes(d, 3200, 1 * S));
	assert_false(police_passes(d, 20, 1 * S));
	/* no policer passes everything; one switched back on starts full */
	dir_set(d, "police_rate", "0");
	for (i = 0; i < 100; i++)
		assert_true(police_passes(d, 1500, 1 * S));
	dir_set(d, "police_rate", "512kbit");
	assert_true(police_passes(d, 3200, 1 * S));
	assert_false(police_passes(d, 20, 1 * S));
	linksim_dir_free(d);
}

static void test_police_keys_parse_and_bad_values_leave_params_unchanged(void **state)
{
	const char text[] = "[link]\npolice_rate = 512kbit\n[up]\npolice_burst = 50ms\n";
	struct linksim_params p;
	struct linksim_profile prof;
	struct config *c = NULL;
	char err[LINKSIM_ERR_MAX], cerr[CONFIG_ERR_MAX];
	const char *const bad[][2] = {
	        {"police_burst", "-1"},
	        {"police_rate", "abc"},
	        {"police_burst", "soon"},
	        {"police_rate", "-512kbit"},
	};
	size_t i;

	linksim_params_default(&p);
	assert_int_equal(p.police_rate_bps, 0);
	assert_int_equal(p.police_burst_ns, 100 * MS);
	assert_int_equal(linksim_params_police_depth(&p), 0);
	assert_true(linksim_params_known("police_rate") && linksim_params_known("police_burst"));
	assert_int_equal(linksim_params_set(&p, "police_rate", "512kbit", NULL, err), 0);
	assert_int_equal(linksim_params_set(&p, "police_burst", "50ms", NULL, err), 0);
	assert_int_equal(p.police_rate_bps, 512000);
	assert_int_equal(p.police_burst_ns, 50 * MS);
	assert_int_equal(linksim_params_police_depth(&p), 3200);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (linksim_params_set(&p, bad[i][0], bad[i][1], NULL, err) != LINKSIM_ESYNTAX)
			fail_msg("%s = %s accepted", bad[i][0], bad[i][1]);
		assert_true(strlen(err) > 0);
		assert_int_equal(p.police_rate_bps, 512000);
		assert_int_equal(p.police_burst_ns, 50 * MS);
	}
	/* 100 Gbit/s with a 50 ms bucket is 625 MB; with a 2 s one 25 GB, deeper than 2 GB */
	assert_int_equal(linksim_params_set(&p, "police_rate", "100Gbit", NULL, err), 0);
	err[0] = '\0';
	assert_int_equal(linksim_params_set(&p, "police_burst", "2s", NULL, err), LINKSIM_ERANGE);
	assert_true(strlen(err) > 0);
	assert_int_equal(p.police_burst_ns, 50 * MS);

	/* in a profile ([link] for both, [up] overriding), and through --set */
	assert_int_equal(config_parse(&c, "t.ini", text, strlen(text), cerr), 0);
	linksim_profile_init(&prof);
	if (linksim_profile_apply(&prof, c, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(prof.up.police_rate_bps, 512000);
	assert_int_equal(prof.up.police_burst_ns, 50 * MS);
	assert_int_equal(prof.down.police_rate_bps, 512000);
	assert_int_equal(prof.down.police_burst_ns, 100 * MS);
	assert_int_equal(linksim_profile_set(&prof, "down.police_burst=-1", err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_profile_set(&prof, "police_rate=abc", err), LINKSIM_ESYNTAX);
	assert_int_equal(prof.up.police_rate_bps, 512000);
	assert_int_equal(prof.down.police_burst_ns, 100 * MS);
	assert_int_equal(linksim_profile_set(&prof, "up.police_rate=unlimited", err), 0);
	assert_int_equal(prof.up.police_rate_bps, 0);
	assert_int_equal(prof.down.police_rate_bps, 512000);
	linksim_profile_release(&prof);
	config_free(c);
}

/* ---- traces ---- */

static void test_trace_parse_accepts_mahimahi_format(void **state)
{
	const char text[] = "# comment\n1\n1\n3\n\n  4  \n";
	struct linksim_trace *t = NULL;
	char err[LINKSIM_ERR_MAX];

	assert_int_equal(linksim_trace_parse(&t, text, strlen(text), err), 0);
	assert_int_equal(t->n, 4);
	assert_int_equal(t->period_ms, 4);
	/* 4 opportunities of 1500 bytes every 4 ms: 12 Mbit/s */
	assert_true(fabs(linksim_trace_rate_bps(t) - 12e6) < 1);
	assert_int_equal(linksim_trace_next_opp(t, 0), 1 * MS);
	assert_int_equal(linksim_trace_next_opp(t, 2 * MS), 3 * MS);
	assert_int_equal(linksim_trace_next_opp(t, 4 * MS), 4 * MS);
	assert_int_equal(linksim_trace_next_opp(t, 4 * MS + 1), 5 * MS);
	linksim_trace_free(t);
}

static void test_trace_parse_rejects_bad_input(void **state)
{
	const char *bad[] = {"",     "# only\n", "0\n0\n",           "3\n2\n", "1\nx\n",
	                     "-1\n", "1 2\n",    "99999999999999\n", "1.5\n"};
	struct linksim_trace *t = NULL;
	char err[LINKSIM_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = linksim_trace_parse(&t, bad[i], strlen(bad[i]), err);
		if (r != LINKSIM_ETRACE)
			fail_msg("trace \"%s\" accepted", bad[i]);
		assert_null(t);
	}
}

static void test_trace_delivers_1500_bytes_per_opportunity_and_loops(void **state)
{
	struct linksim_params p;
	struct linksim_trace *t = NULL;
	struct linksim_dir *d = NULL;
	static struct sink s;
	char err[LINKSIM_ERR_MAX];
	const char text[] = "2\n4\n";
	size_t i;

	memset(&s, 0, sizeof s);
	linksim_params_default(&p);
	assert_int_equal(linksim_trace_parse(&t, text, strlen(text), err), 0);
	p.trace = t;
	p.queue_ns = 10 * S;
	p.seed = 1;
	assert_int_equal(linksim_dir_new(&d, &p, 0), 0);
	/* 750-byte packets: two per opportunity; opportunities at 2, 4, 6, 8 ... ms */
	for (i = 0; i < 6; i++)
		feed(d, 750, 0);
	/* a 3000-byte packet needs two opportunities */
	feed(d, 3000, 0);
	run_until(d, &s, 1 * S);
	assert_int_equal(s.n, 7);
	assert_int_equal(s.due[0], 2 * MS);
	assert_int_equal(s.due[1], 2 * MS);
	assert_int_equal(s.due[2], 4 * MS);
	assert_int_equal(s.due[3], 4 * MS);
	assert_int_equal(s.due[4], 6 * MS);
	assert_int_equal(s.due[5], 6 * MS);
	assert_int_equal(s.due[6], 10 * MS);
	/* idle opportunities are lost: a packet at 1001 ms waits for 1002 ms */
	feed(d, 100, 1001 * MS);
	run_until(d, &s, 2 * S);
	assert_int_equal(s.due[7], 1002 * MS);
	linksim_dir_free(d);
	linksim_params_release(&p);
}

static void test_trace_file_of_4g_edge_profile_loads(void **state)
{
	struct linksim_params p;
	char err[LINKSIM_ERR_MAX];
	double r;

	linksim_params_default(&p);
	assert_int_equal(
	        linksim_params_set(&p, "trace", "4g-edge.down", "tools/linksim/profiles", err), 0);
	r = linksim_trace_rate_bps(p.trace);
	assert_true(r > 200e3 && r < 5e6);
	linksim_params_release(&p);
}

/* ---- schedules and values ---- */

static void test_schedule_parse_and_activity(void **state)
{
	struct linksim_sched s;
	char err[LINKSIM_ERR_MAX];

	assert_int_equal(linksim_sched_parse("10s+30s, 60s+10m", &s, err), 0);
	assert_int_equal(s.n, 2);
	assert_false(linksim_sched_active(&s, 9999 * MS));
	assert_true(linksim_sched_active(&s, 10 * S));
	assert_true(linksim_sched_active(&s, 39999 * MS));
	assert_false(linksim_sched_active(&s, 40 * S));
	assert_true(linksim_sched_active(&s, 659 * S));
	assert_false(linksim_sched_active(&s, 660 * S));
	assert_int_equal(linksim_sched_parse("none", &s, err), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(linksim_sched_parse("0.5s+250ms", &s, err), 0);
	assert_int_equal(s.len_ns[0], 250 * MS);
}

static void test_schedule_rejects_overlap_disorder_and_junk(void **state)
{
	const char *bad[] = {"10s", "10s+0s", "10s+30s, 20s+5s", "60s+1s, 10s+1s",
	                     "+1s", "1s+",    "1x+1s",           "1s+1s,"};
	struct linksim_sched s;
	char err[LINKSIM_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (linksim_sched_parse(bad[i], &s, err) == 0)
			fail_msg("schedule \"%s\" accepted", bad[i]);
	}
	assert_int_equal(linksim_sched_parse("10s+30s", &s, err), 0);
	assert_int_equal(linksim_sched_set_period(&s, 30 * S, err), LINKSIM_ERANGE);
	assert_int_equal(linksim_sched_set_period(&s, 40 * S, err), 0);
}

static void test_value_parsers(void **state)
{
	uint64_t v;
	double p;
	char err[LINKSIM_ERR_MAX];

	assert_int_equal(linksim_parse_rate("2Mbit", &v, err), 0);
	assert_int_equal(v, 2000000);
	assert_int_equal(linksim_parse_rate("512kbit", &v, err), 0);
	assert_int_equal(v, 512000);
	assert_int_equal(linksim_parse_rate("1.5 Mbit/s", &v, err), 0);
	assert_int_equal(v, 1500000);
	assert_int_equal(linksim_parse_rate("unlimited", &v, err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(linksim_parse_rate("2 furlongs", &v, err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_parse_rate("-1Mbit", &v, err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_parse_rate("10bit", &v, err), LINKSIM_ERANGE);
	assert_int_equal(linksim_parse_duration("0.5ms", &v, err), 0);
	assert_int_equal(v, 500000);
	assert_int_equal(linksim_parse_duration("250", &v, err), 0);
	assert_int_equal(v, 250 * MS);
	assert_int_equal(linksim_parse_duration("10m", &v, err), 0);
	assert_int_equal(v, 600 * S);
	assert_int_equal(linksim_parse_duration("1..5s", &v, err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_parse_duration("nan", &v, err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_parse_duration("1e9s", &v, err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_parse_prob("1%", &p, err), 0);
	assert_true(fabs(p - 0.01) < 1e-12);
	assert_int_equal(linksim_parse_prob("0.25", &p, err), 0);
	assert_true(fabs(p - 0.25) < 1e-12);
	assert_int_equal(linksim_parse_prob("150%", &p, err), LINKSIM_ERANGE);
	assert_int_equal(linksim_parse_prob("5 %x", &p, err), LINKSIM_ESYNTAX);
}

/* ---- profiles ---- */

static void test_profile_geo_sat_matches_design_table(void **state)
{
	struct linksim_profile p;
	char err[LINKSIM_ERR_MAX];

	if (linksim_profile_load(&p, "tools/linksim/profiles/geo-sat.ini", err) != 0)
		fail_msg("%s", err);
	assert_int_equal(p.up.rate_bps, 512000);
	assert_int_equal(p.down.rate_bps, 2000000);
	assert_int_equal(p.up.delay_ns + p.down.delay_ns, 600 * MS);
	assert_int_equal(p.up.jitter_ns + p.down.jitter_ns, 20 * MS);
	assert_true(fabs(p.up.loss - 0.01) < 1e-12 && p.down.burst > 1);
	linksim_profile_release(&p);
}

static void test_every_shipped_profile_loads(void **state)
{
	const char *names[] = {"lan", "geo-sat", "geo-sat-rainfade", "4g-edge", "outage"};
	struct linksim_profile p;
	char path[256], err[LINKSIM_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "tools/linksim/profiles/%s.ini", names[i]);
		if (linksim_profile_load(&p, path, err) != 0)
			fail_msg("%s", err);
		linksim_profile_release(&p);
	}
}

static void test_profile_set_by_direction_and_atomic_on_error(void **state)
{
	struct linksim_profile p;
	char err[LINKSIM_ERR_MAX];

	assert_int_equal(linksim_profile_load(&p, "tools/linksim/profiles/geo-sat.ini", err), 0);
	assert_int_equal(linksim_profile_set(&p, "loss=0", err), 0);
	assert_true(p.up.loss == 0 && p.down.loss == 0);
	assert_int_equal(linksim_profile_set(&p, "up.rate=128kbit", err), 0);
	assert_int_equal(p.up.rate_bps, 128000);
	assert_int_equal(p.down.rate_bps, 2000000);
	assert_int_equal(linksim_profile_set(&p, "colour=blue", err), LINKSIM_EKEY);
	assert_int_equal(linksim_profile_set(&p, "rate", err), LINKSIM_ESYNTAX);
	assert_int_equal(linksim_profile_set(&p, "down.delay=soon", err), LINKSIM_ESYNTAX);
	assert_int_equal(p.down.delay_ns, 300 * MS);
	linksim_profile_release(&p);
}

static void test_profile_rejects_unknown_key_naming_it(void **state)
{
	const char text[] = "[link]\nrate = 1Mbit\n[up]\ndelya = 5ms\n";
	struct linksim_profile p;
	struct config *c = NULL;
	char err[LINKSIM_ERR_MAX], cerr[CONFIG_ERR_MAX];

	assert_int_equal(config_parse(&c, "t.ini", text, strlen(text), cerr), 0);
	linksim_profile_init(&p);
	assert_int_equal(linksim_profile_apply(&p, c, err), LINKSIM_EKEY);
	assert_non_null(strstr(err, "delya"));
	linksim_profile_release(&p);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ge_mean_loss_and_burst_length_match_parameters),
	        cmocka_unit_test(test_ge_burst_zero_gives_independent_losses),
	        cmocka_unit_test(test_ge_zero_loss_never_loses),
	        cmocka_unit_test(test_ge_rejects_impossible_parameters),
	        cmocka_unit_test(test_serialisation_is_back_to_back_at_line_rate),
	        cmocka_unit_test(test_late_timers_do_not_change_the_rate),
	        cmocka_unit_test(test_drop_tail_queue_holds_its_depth_in_line_rate_time),
	        cmocka_unit_test(test_rate_change_applies_to_packets_not_yet_on_the_wire),
	        cmocka_unit_test(test_outage_drops_arrivals_and_departures_inside_its_interval),
	        cmocka_unit_test(test_outage_schedule_repeats_with_its_period),
	        cmocka_unit_test(test_jitter_keeps_order_and_mean_delay),
	        cmocka_unit_test(test_reorder_option_lets_later_packets_pass),
	        cmocka_unit_test(test_fade_lowers_rate_and_raises_loss),
	        cmocka_unit_test(test_police_passes_its_rate_plus_depth_and_drops_the_rest),
	        cmocka_unit_test(test_police_below_its_rate_drops_nothing),
	        cmocka_unit_test(test_police_bucket_starts_full),
	        cmocka_unit_test(test_police_bucket_holds_at_least_one_full_size_packet),
	        cmocka_unit_test(test_police_change_at_run_time_keeps_tokens_capped_at_new_depth),
	        cmocka_unit_test(test_police_keys_parse_and_bad_values_leave_params_unchanged),
	        cmocka_unit_test(test_trace_parse_accepts_mahimahi_format),
	        cmocka_unit_test(test_trace_parse_rejects_bad_input),
	        cmocka_unit_test(test_trace_delivers_1500_bytes_per_opportunity_and_loops),
	        cmocka_unit_test(test_trace_file_of_4g_edge_profile_loads),
	        cmocka_unit_test(test_schedule_parse_and_activity),
	        cmocka_unit_test(test_schedule_rejects_overlap_disorder_and_junk),
	        cmocka_unit_test(test_value_parsers),
	        cmocka_unit_test(test_profile_geo_sat_matches_design_table),
	        cmocka_unit_test(test_every_shipped_profile_loads),
	        cmocka_unit_test(test_profile_set_by_direction_and_atomic_on_error),
	        cmocka_unit_test(test_profile_rejects_unknown_key_naming_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
