/* tests/unit/test_pacer.c — pacing rate, burst bound, priorities, limits, probing, padding,
 * stale media (deadlines, whole frames, dependency chains, RTX of dropped frames). */
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

/* A credit of about one voice packet (relay/media's PACER_BURST, 300 bytes): after an idle
 * spell the voice packet goes at once, and a picture's full packets leave one at a time, a
 * packet's time at the rate apart, never two back to back: the modem's queue then holds about
 * the packet on the wire, and the next voice packet waits behind one video packet at most. With
 * the default credit (2 full packets) the first three of them leave at once. */
static void test_pacer_small_credit_sends_full_packets_one_at_a_time(void **state)
{
	struct pacer_config cfg = {.rate_bps = 256000, .burst_bytes = 300};
	struct pacer *p;
	int64_t t[16];
	size_t l[16];
	int n;

	(void)state;
	assert_int_equal(pacer_new(&p, &cfg), 0);
	fill(p, PACER_VIDEO, 4, 1226, 0);
	fill(p, PACER_AUDIO, 1, 150, 0);
	n = drain(p, 1000000, t, l, 16);
	assert_int_equal(n, 5);
	assert_int_equal(l[0], 150); /* the voice first, at once */
	assert_int_equal(t[0], 0);
	assert_int_equal(t[1], 0); /* the first video packet: the credit left */
	/* the others one full packet's time apart at 256 kbit/s (1290 bytes on the wire:
	 * 40.3 ms), the first less the credit left after the voice packet */
	for (int i = 2; i < n; i++)
		assert_true(t[i] - t[i - 1] >= 35000);
	pacer_free(p);

	/* the default credit */
	cfg.burst_bytes = 0;
	assert_int_equal(pacer_new(&p, &cfg), 0);
	fill(p, PACER_VIDEO, 4, 1226, 0);
	n = drain(p, 1000000, t, l, 16);
	assert_int_equal(n, 4);
	assert_true(t[2] < 5000);
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

/* ---- stale media ---- */

#define T_CLS(tag)   ((int)((tag) >> 56))
#define T_FRAME(tag) (((tag) >> 8) & 0xffffffffffull)
#define T_PKT(tag)   ((int)((tag)&0xff))

static uint64_t mktag(int cls, uint64_t frame, int pkt)
{
	return (uint64_t)cls << 56 | frame << 8 | (uint64_t)pkt;
}

static void put_media(struct pacer *p, enum pacer_class c, uint64_t frame, int pkts, size_t len,
                      int64_t deadline, unsigned flags, int64_t now)
{
	uint8_t pkt[1500];
	struct pacer_media pm = {frame, deadline, flags};

	memset(pkt, 0x5a, sizeof pkt);
	for (int i = 0; i < pkts; i++)
		assert_int_equal(pacer_enqueue_media(p, c, pkt, len, mktag(c, frame, i), &pm, now),
		                 0);
}

#define NFR 200

/* A live session's media (audio 20 ms packets, 400 ms deadline; video 15 fps, three packets a
 * picture, 600 ms deadline, a keyframe first and whenever the caller sees the chain broken)
 * while the rate falls to 16 kbit/s for 3 s (an outage: the controller at its floor) and then
 * comes back at 400 kbit/s. Nothing leaves after its deadline but the tail of a picture that
 * had started; pictures leave whole or not at all; no picture leaves after a dropped one until
 * a keyframe; the counters add up. */
static void test_pacer_outage_backlog_leaves_nothing_stale(void **state)
{
	struct pacer_config cfg = {.rate_bps = 400000, .queue_limit = {0, 1 << 20, 0, 0}};
	struct pacer *p;
	struct pacer_stats st;
	struct pacer_pkt out;
	uint8_t buf[1500];
	int64_t t = 0, next_audio = 0, next_video = 0, vdeadline[NFR], vqueued[NFR];
	uint64_t frame = 0, audio_n = 0, audio_sent = 0, video_sent = 0, stale_seen = 0;
	uint64_t audio_in = 0, video_in = 0, last_ok_video = 0;
	int sent_pkts[NFR] = {0};
	bool key[NFR] = {false}, broken_since_sent = false, want_key = true;
	int64_t max_audio_age = 0, recovered_at = -1;

	(void)state;
	assert_int_equal(pacer_new(&p, &cfg), 0);
	while (t < 6000000) {
		/* the caller: media as it is produced */
		if (t >= next_audio) {
			put_media(p, PACER_AUDIO, 0, 1, 100, next_audio + 400000,
			          PACER_INDEPENDENT | PACER_DROPPABLE, t);
			audio_n++;
			audio_in++;
			next_audio += 20000;
		}
		if (t >= next_video && frame + 1 < NFR) {
			pacer_get_stats(p, &st);
			if (st.chain_broken[PACER_VIDEO])
				want_key = true;
			frame++;
			key[frame] = want_key;
			vdeadline[frame] = next_video + 600000;
			vqueued[frame] = t;
			put_media(p, PACER_VIDEO, frame, 3, 1000, vdeadline[frame],
			          want_key ? PACER_INDEPENDENT : 0, t);
			video_in += 3;
			want_key = false;
			next_video += 66667;
		}
		if (t == 1000000)
			pacer_set_rate(p, 16000);
		if (t == 4000000)
			pacer_set_rate(p, 400000);
		while (pacer_next(p, t, buf, sizeof buf, &out) == 1) {
			uint64_t f = T_FRAME(out.tag);

			if (out.cls == PACER_AUDIO) {
				audio_sent++;
				if (out.queued_us > max_audio_age)
					max_audio_age = out.queued_us;
				continue;
			}
			assert_int_equal(out.cls, PACER_VIDEO);
			video_sent++;
			sent_pkts[f]++;
			/* the picture's first packet leaves by its deadline */
			if (T_PKT(out.tag) == 0) {
				assert_true(t <= vdeadline[f]);
				/* after a dropped picture, only a keyframe restarts the chain */
				pacer_get_stats(p, &st);
				if (st.stale_frames[PACER_VIDEO] > stale_seen) {
					stale_seen = st.stale_frames[PACER_VIDEO];
					broken_since_sent = true;
				}
				if (broken_since_sent) {
					assert_true(key[f]);
					broken_since_sent = false;
				} else if (last_ok_video) {
					assert_int_equal(f, last_ok_video + 1);
				}
				last_ok_video = f;
				if (t > 4000000 && recovered_at < 0)
					recovered_at = t;
			}
		}
		t += 1000;
	}
	pacer_get_stats(p, &st);
	/* audio: nothing older than its 400 ms deadline left (queued at production time) */
	assert_true(max_audio_age <= 400000);
	assert_true(st.stale_packets[PACER_AUDIO] > 50); /* 3 s at 16 kbit/s cannot carry it */
	assert_int_equal(st.stale_bytes[PACER_AUDIO], st.stale_packets[PACER_AUDIO] * 100);
	assert_int_equal(audio_sent + st.stale_packets[PACER_AUDIO] +
	                         st.queued_packets[PACER_AUDIO],
	                 audio_in);
	/* video: whole pictures or nothing (the last one may still be leaving) */
	for (uint64_t f = 1; f < frame; f++)
		assert_true(sent_pkts[f] == 0 || sent_pkts[f] == 3);
	assert_true(st.stale_frames[PACER_VIDEO] > 0);
	assert_int_equal(st.stale_bytes[PACER_VIDEO], st.stale_packets[PACER_VIDEO] * 1000);
	assert_int_equal(video_sent + st.stale_packets[PACER_VIDEO] +
	                         st.queued_packets[PACER_VIDEO],
	                 video_in);
	/* after the stall pictures flow again within a picture or two of the rate's return */
	assert_true(recovered_at >= 0 && recovered_at < 4200000);
	assert_false(st.chain_broken[PACER_VIDEO]);
	(void)vqueued;
	(void)audio_n;
	pacer_free(p);
}

/* A picture whose first packet left in time is finished even after its deadline; a stale
 * non-reference picture goes alone; a stale reference picture takes the dependent ones
 * queued behind it, up to the next keyframe. */
static void test_pacer_frames_drop_whole_and_follow_dependencies(void **state)
{
	struct pacer *p = mk(80000); /* 10 bytes/ms: a 1000-byte packet + 64 every ~106 ms */
	struct pacer_stats st;
	struct pacer_pkt out;
	uint8_t buf[1500];
	uint64_t order[32];
	int n = 0;
	int64_t t;

	(void)state;
	/* frame 1: 5 packets, deadline 100 ms: the first leaves at 0 (burst), the rest later */
	put_media(p, PACER_VIDEO, 1, 5, 1000, 100000, PACER_INDEPENDENT, 0);
	/* frame 2: non-reference, stale by the time it reaches the head */
	put_media(p, PACER_VIDEO, 2, 2, 1000, 150000, PACER_DROPPABLE, 0);
	/* frame 3: reference, fresh until 10 s */
	put_media(p, PACER_VIDEO, 3, 1, 1000, 10000000, 0, 0);
	for (t = 0; t < 2000000 && n < 32; t += 1000)
		while (pacer_next(p, t, buf, sizeof buf, &out) == 1)
			order[n++] = out.tag;
	/* frame 1 whole (5 packets over ~500 ms though its deadline was 100 ms), then frame 3 */
	assert_int_equal(n, 6);
	for (int i = 0; i < 5; i++)
		assert_int_equal(order[i], mktag(PACER_VIDEO, 1, i));
	assert_int_equal(order[5], mktag(PACER_VIDEO, 3, 0));
	pacer_get_stats(p, &st);
	assert_int_equal(st.stale_frames[PACER_VIDEO], 1);
	assert_int_equal(st.stale_packets[PACER_VIDEO], 2);
	assert_int_equal(st.stale_bytes[PACER_VIDEO], 2000);
	assert_false(st.chain_broken[PACER_VIDEO]);

	/* a stale reference frame 4 with dependent frames 5, 6 and keyframe 7 behind it */
	put_media(p, PACER_VIDEO, 4, 2, 1000, t + 1000, 0, t);
	put_media(p, PACER_VIDEO, 5, 2, 1000, t + 10000000, PACER_DROPPABLE, t);
	put_media(p, PACER_VIDEO, 6, 1, 1000, t + 10000000, 0, t);
	put_media(p, PACER_VIDEO, 7, 2, 1000, t + 10000000, PACER_INDEPENDENT, t);
	put_media(p, PACER_VIDEO, 8, 1, 1000, t + 10000000, 0, t);
	pacer_expire(p, t + 2000);
	pacer_get_stats(p, &st);
	assert_int_equal(st.stale_frames[PACER_VIDEO], 1 + 3);
	assert_int_equal(st.stale_packets[PACER_VIDEO], 2 + 5);
	assert_int_equal(st.queued_packets[PACER_VIDEO], 3);
	assert_false(st.chain_broken[PACER_VIDEO]);
	n = 0;
	for (t += 2000; n < 3; t += 1000)
		while (pacer_next(p, t, buf, sizeof buf, &out) == 1)
			order[n++] = out.tag;
	assert_int_equal(order[0], mktag(PACER_VIDEO, 7, 0));
	assert_int_equal(order[2], mktag(PACER_VIDEO, 8, 0));

	/* no keyframe queued behind a stale reference frame: the chain stays broken and
	 * dependent frames queued later are dropped as they come, until a keyframe */
	put_media(p, PACER_VIDEO, 9, 1, 1000, t + 1000, 0, t);
	pacer_expire(p, t + 2000);
	pacer_get_stats(p, &st);
	assert_true(st.chain_broken[PACER_VIDEO]);
	put_media(p, PACER_VIDEO, 10, 3, 1000, t + 10000000, 0, t + 2000);
	pacer_get_stats(p, &st);
	assert_int_equal(st.queued_packets[PACER_VIDEO], 0);
	assert_int_equal(st.stale_frames[PACER_VIDEO], 1 + 3 + 2);
	assert_int_equal(st.stale_packets[PACER_VIDEO], 2 + 5 + 1 + 3);
	put_media(p, PACER_VIDEO, 11, 2, 1000, t + 10000000, PACER_INDEPENDENT, t + 2000);
	pacer_get_stats(p, &st);
	assert_false(st.chain_broken[PACER_VIDEO]);
	assert_int_equal(st.queued_packets[PACER_VIDEO], 2);
	pacer_free(p);
}

/* Retransmissions and FEC of a dropped video frame go with it, and are refused when queued
 * for it later; those of later frames stay. A packet already past its deadline when queued
 * is not queued. */
static void test_pacer_rtx_of_dropped_frames_goes_too(void **state)
{
	struct pacer *p = mk(100000);
	struct pacer_stats st;

	(void)state;
	put_media(p, PACER_VIDEO, 1, 2, 1000, 50000, PACER_INDEPENDENT, 0);
	put_media(p, PACER_RTX, 1, 1, 500, 50000, 0, 0); /* FEC of frame 1 */
	put_media(p, PACER_RTX, 2, 1, 500, 10000000, 0, 0);
	/* nothing is sent before the video frame's deadline */
	put_media(p, PACER_AUDIO, 0, 1, 1200, 10000000, PACER_INDEPENDENT | PACER_DROPPABLE, 0);
	pacer_expire(p, 60000);
	pacer_get_stats(p, &st);
	assert_int_equal(st.stale_frames[PACER_VIDEO], 1);
	assert_int_equal(st.stale_packets[PACER_RTX], 1);
	assert_int_equal(st.stale_bytes[PACER_RTX], 500);
	assert_int_equal(st.queued_packets[PACER_RTX], 1);
	/* a NACK for frame 1 arriving now: refused at once, counted */
	put_media(p, PACER_RTX, 1, 1, 900, 10000000, 0, 60000);
	pacer_get_stats(p, &st);
	assert_int_equal(st.stale_packets[PACER_RTX], 2);
	assert_int_equal(st.queued_packets[PACER_RTX], 1);
	/* already past its deadline when queued */
	put_media(p, PACER_AUDIO, 0, 1, 80, 50000, PACER_INDEPENDENT | PACER_DROPPABLE, 60000);
	pacer_get_stats(p, &st);
	assert_int_equal(st.stale_packets[PACER_AUDIO], 1);
	assert_int_equal(st.queued_packets[PACER_AUDIO], 1);
	/* plain pacer_enqueue never expires */
	fill(p, PACER_VIDEO, 1, 700, 60000);
	pacer_expire(p, INT64_MAX - 1);
	pacer_get_stats(p, &st);
	assert_int_equal(st.queued_packets[PACER_VIDEO], 1);
	pacer_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pacer_sends_at_target_rate_over_one_second),
	        cmocka_unit_test(test_pacer_bursts_never_exceed_credit_plus_one_packet),
	        cmocka_unit_test(test_pacer_small_credit_sends_full_packets_one_at_a_time),
	        cmocka_unit_test(test_pacer_strict_priority_audio_video_rtx_padding),
	        cmocka_unit_test(test_pacer_queue_limit_rejects_and_keeps_state),
	        cmocka_unit_test(test_pacer_probe_tags_cluster_and_pads_at_probe_rate),
	        cmocka_unit_test(test_pacer_padding_rate_limited_when_idle),
	        cmocka_unit_test(test_pacer_outage_backlog_leaves_nothing_stale),
	        cmocka_unit_test(test_pacer_frames_drop_whole_and_follow_dependencies),
	        cmocka_unit_test(test_pacer_rtx_of_dropped_frames_goes_too),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
