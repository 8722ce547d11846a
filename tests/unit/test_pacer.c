/* tests/unit/test_pacer.c — pacing rate, burst bound, priorities, limits, probing, padding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "relay/pacer.h"

static struct pacer *mk(uint32_t rate)
{
	struct pacer_config cfg = {.rate_bps = rate};
	struct pacer *p;

	assert_int_equal(pacer_new(&p, &cfg), 0);
	return p;
}

static void fill(struct pacer *p, enum pacer_class c, int n, size_t len, int64_t now)
{
	uint8_t pkt[1500];

	memset(pkt, 0xab, sizeof pkt);
	for (int i = 0; i < n; i++) {
		pkt[0] = (uint8_t)i;
		assert_int_equal(pacer_enqueue(p, c, pkt, len, (uint64_t)i, now), 0);
	}
}

/* Drives the pacer with its own next_time until `until`; records send times. */
static int drain(struct pacer *p, int64_t until, int64_t *times, size_t *lens, int max)
{
	uint8_t buf[1500];
	struct pacer_pkt out;
	int n = 0;
	int64_t t = 0;

	while (n < max) {
		t = pacer_next_time(p, t);
		if (t >= until)
			break;
		if (pacer_next(p, t, buf, sizeof buf, &out) == 1) {
			times[n] = t;
			lens[n] = out.len;
			n++;
		}
	}
	return n;
}

static void test_pacer_sends_at_target_rate_over_one_second(void **state)
{
	struct pacer *p = mk(400000);
	int64_t t[200];
	size_t l[200];
	int n;

	fill(p, PACER_VIDEO, 100, 1000, 0);
	n = drain(p, 1000000, t, l, 200);
	/* Credit: 2528 bytes of burst at start + 50000 bytes/s; each packet costs 1064 bytes on
	 * the wire and leaves while the credit is positive: ceil(52528 / 1064) = 50. */
	assert_int_equal(n, 50);
	/* The first three leave at once (burst), the rest ~21.3 ms apart (1064 B at 50 B/ms). */
	assert_int_equal(t[2], 0);
	assert_true(t[3] > 0);
	for (int i = 5; i < n; i++) {
		int64_t gap = t[i] - t[i - 1];

		assert_true(gap >= 21000 && gap <= 21400);
	}
	pacer_free(p);
}

static void test_pacer_bursts_never_exceed_credit_plus_one_packet(void **state)
{
	struct pacer_config cfg = {.rate_bps = 2000000, .queue_limit = {0, 4 << 20, 0, 0}};
	struct pacer *p;
	int64_t t[3000];
	size_t l[3000];
	int n;

	assert_int_equal(pacer_new(&p, &cfg), 0);
	fill(p, PACER_VIDEO, 2000, 1200, 0);
	n = drain(p, 5000000, t, l, 3000);
	/* 2 Mbit/s = 250 bytes/ms; burst = max(2 x 1264, 10 ms = 2500) = 2528 bytes. In any 20 ms
	 * window no more than 20 x 250 + 2528 + 1264 wire bytes leave. */
	for (int i = 0; i < n; i++) {
		size_t bytes = 0;

		for (int j = i; j < n && t[j] < t[i] + 20000; j++)
			bytes += l[j] + 64;
		assert_true(bytes <= 20 * 250 + 2528 + 1264);
	}
	/* And over 5 s the rate is 2 Mbit/s: (2528 + 5 s x 250000 B/s) / 1264 -> 991 packets. */
	assert_int_equal(n, 991);
	pacer_free(p);
}

static void test_pacer_strict_priority_audio_video_rtx_padding(void **state)
{
	struct pacer *p = mk(1000000);
	uint8_t buf[1500];
	struct pacer_pkt out;
	enum pacer_class order[6];
	int n = 0;
	int64_t t = 0;

	pacer_set_padding(p, 100000);
	fill(p, PACER_RTX, 1, 500, 0);
	fill(p, PACER_VIDEO, 2, 900, 0);
	fill(p, PACER_AUDIO, 2, 80, 1000);
	while (n < 6) {
		t = pacer_next_time(p, t);
		if (pacer_next(p, t, buf, sizeof buf, &out) == 1)
			order[n++] = out.cls;
	}
	assert_int_equal(order[0], PACER_AUDIO);
	assert_int_equal(order[1], PACER_AUDIO);
	assert_int_equal(order[2], PACER_VIDEO);
	assert_int_equal(order[3], PACER_VIDEO);
	assert_int_equal(order[4], PACER_RTX);
	assert_int_equal(order[5], PACER_PADDING);
	assert_int_equal(out.len, 200);
	pacer_free(p);
}

static void test_pacer_queue_limit_rejects_and_keeps_state(void **state)
{
	struct pacer_config cfg = {.rate_bps = 100000, .queue_limit = {0, 3000, 0, 0}};
	struct pacer *p;
	struct pacer_stats st;
	uint8_t pkt[1000] = {0}, small[10];
	struct pacer_pkt out;

	assert_int_equal(pacer_new(&p, &cfg), 0);
	fill(p, PACER_VIDEO, 3, 1000, 0);
	assert_int_equal(pacer_enqueue(p, PACER_VIDEO, pkt, 1000, 9, 0), PACER_EFULL);
	assert_int_equal(pacer_enqueue(p, PACER_VIDEO, pkt, 0, 9, 0), PACER_EINVAL);
	assert_int_equal(pacer_enqueue(p, (enum pacer_class)7, pkt, 10, 9, 0), PACER_EINVAL);
	pacer_get_stats(p, &st);
	assert_int_equal(st.queued_packets[PACER_VIDEO], 3);
	assert_int_equal(st.queued_bytes[PACER_VIDEO], 3000);
	assert_int_equal(st.dropped_full, 1);
	assert_string_equal(pacer_strerror(PACER_EFULL), "pacer queue is full");
	/* Too small a buffer leaves the packet queued. */
	assert_int_equal(pacer_next(p, 0, small, sizeof small, &out), PACER_ENOSPACE);
	pacer_get_stats(p, &st);
	assert_int_equal(st.queued_packets[PACER_VIDEO], 3);
	assert_int_equal(st.oldest_us, 0);
	pacer_free(p); /* frees the queued packets (checked under ASan) */
}

static void test_pacer_probe_tags_cluster_and_pads_at_probe_rate(void **state)
{
	struct pacer *p = mk(200000);
	uint8_t buf[1500];
	struct pacer_pkt out;
	int tagged = 0, padding = 0, untagged_after = 0;
	int64_t t = 0, last_tagged = 0;

	fill(p, PACER_VIDEO, 3, 1000, 0);
	pacer_probe(p, 7, 800000, 10, 100000, 0);
	while (t < 300000) {
		t = pacer_next_time(p, t);
		if (t >= 300000)
			break;
		if (pacer_next(p, t, buf, sizeof buf, &out) != 1)
			continue;
		if (out.cluster == 7) {
			tagged++;
			last_tagged = t;
			padding += out.cls == PACER_PADDING;
		} else {
			untagged_after++;
		}
	}
	/* The three video packets go first, then padding keeps the probe at 800 kbit/s (100 B/ms)
	 * until 10 packets and 100 ms: the cluster is exactly 10 packets or what 100 ms allows. */
	assert_true(tagged >= 10);
	assert_int_equal(padding, tagged - 3);
	assert_true(last_tagged <= 100000);
	/* After the probe, with empty queues and no padding rate, nothing else is sent. */
	assert_int_equal(untagged_after, 0);
	pacer_free(p);
}

static void test_pacer_padding_rate_limited_when_idle(void **state)
{
	struct pacer *p = mk(1000000);
	int64_t t[200];
	size_t l[200];
	int n;

	pacer_set_padding(p, 52800); /* (200 + 64) bytes x 25 per second */
	n = drain(p, 1000000, t, l, 200);
	/* 25 padding packets a second (+1: the bucket starts charging from zero credit). */
	assert_true(n >= 24 && n <= 26);
	assert_int_equal(l[0], 200);
	assert_int_equal(pacer_next_time(p, 2000000) < INT64_MAX, 1);
	pacer_set_padding(p, 0);
	pacer_free(p);
	p = mk(1000000);
	assert_int_equal(pacer_next_time(p, 0), INT64_MAX);
	pacer_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pacer_sends_at_target_rate_over_one_second),
	        cmocka_unit_test(test_pacer_bursts_never_exceed_credit_plus_one_packet),
	        cmocka_unit_test(test_pacer_strict_priority_audio_video_rtx_padding),
	        cmocka_unit_test(test_pacer_queue_limit_rejects_and_keeps_state),
	        cmocka_unit_test(test_pacer_probe_tags_cluster_and_pads_at_probe_rate),
	        cmocka_unit_test(test_pacer_padding_rate_limited_when_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
