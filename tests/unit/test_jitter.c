/* tests/unit/test_jitter.c — adaptive audio jitter buffer and video frame assembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/jitter.h"
#include "tests/unit/util/testutil.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Audio scenario: 20 ms Opus frames sent at t = 20 ms x k, transit 300 ms + jitter(k). The
 * player asks for a frame every 20 ms (phase 7 ms). Arrivals are processed in time order. */
struct arrival {
	int64_t t;
	int k;
};

static int cmp_arr(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

static void test_jitter_audio_target_adapts_up_under_jitter_and_back_down(void **state)
{
	enum { FRAMES = 1750 }; /* 35 s */
	static struct arrival arr[FRAMES];
	struct jb_audio *jb;
	struct jb_audio_stats st;
	struct jb_audio_frame f;
	size_t ai = 0;
	int64_t target_quiet = 0, target_jitter_max = 0, target_end = 0, delay_end = 0;
	uint64_t late_before_adapt = 0, concealed_quiet;
	uint8_t payload[40];

	assert_int_equal(jb_audio_new(&jb, NULL), 0);
	for (int k = 0; k < FRAMES; k++) {
		int64_t jit = (k >= 500 && k < 1000) ? (int64_t)(rnd() * 100000) : 0;

		arr[k].t = 20000LL * k + 300000 + jit;
		arr[k].k = k;
	}
	qsort(arr, FRAMES, sizeof *arr, cmp_arr);
	for (int64_t t = 0; t < 20000LL * FRAMES + 400000; t += 1000) {
		while (ai < FRAMES && arr[ai].t <= t) {
			int k = arr[ai].k;
			int ret;

			memset(payload, k & 0xff, sizeof payload);
			ret = jb_audio_put(jb, (uint16_t)(1000 + k),
			                   (uint32_t)(4000000000u + 960u * k), payload,
			                   sizeof payload, arr[ai].t);
			assert_true(ret == 0 || ret == JB_ELATE);
			ai++;
		}
		if (t % 20000 != 7000)
			continue;
		jb_audio_get(jb, t, &f);
		jb_audio_get_stats(jb, &st);
		if (t == 9007000) {
			target_quiet = st.target_us;
			concealed_quiet = st.concealed;
			assert_int_equal(concealed_quiet, 0);
			assert_int_equal(st.dropped_late, 0);
		}
		if (t == 12007000)
			late_before_adapt = st.dropped_late;
		if (t > 10000000 && t < 21000000 && st.target_us > target_jitter_max)
			target_jitter_max = st.target_us;
		if (f.action == JB_PLAY && t > 33000000) {
			/* playout delay of this frame: now - its send time - 300 ms transit */
			uint32_t k = (f.timestamp - 4000000000u) / 960u;

			delay_end = t - 20000LL * k - 300000;
			target_end = st.target_us;
		}
	}
	jb_audio_get_stats(jb, &st);
	printf("jitter-audio: target quiet %lld ms, under 0-100 ms jitter max %lld ms, 15 s after "
	       "jitter stopped %lld ms (playout delay above transit %lld ms); played %llu, "
	       "concealed %llu (expanded %llu), FEC %llu, dropped late %llu, shrink drops %llu, "
	       "RFC 3550 jitter %lld us\n",
	       (long long)target_quiet / 1000, (long long)target_jitter_max / 1000,
	       (long long)target_end / 1000, (long long)delay_end / 1000,
	       (unsigned long long)st.played, (unsigned long long)st.concealed,
	       (unsigned long long)st.expanded, (unsigned long long)st.fec,
	       (unsigned long long)st.dropped_late, (unsigned long long)st.dropped_shrink,
	       (long long)st.jitter_us);
	/* No jitter: the floor of 40 ms. */
	assert_int_equal(target_quiet, 40000);
	/* Uniform 0-100 ms jitter: p95 (~95 ms) + 10 ms margin. */
	assert_true(target_jitter_max >= 95000 && target_jitter_max <= 112000);
	/* Back at the floor once the jittery samples left the 4 s window, and the playout delay
	 * shrank back to it (within one frame). */
	assert_int_equal(target_end, 40000);
	assert_true(delay_end >= 30000 && delay_end <= 60000);
	assert_true(st.dropped_shrink > 0 && st.expanded > 0);
	/* Once adapted (2 s into the jitter), nothing more comes too late: the target covers the
	 * whole 0-100 ms spread. */
	printf("jitter-audio: late packets in the first 2 s of jitter %llu, after %llu\n",
	       (unsigned long long)late_before_adapt,
	       (unsigned long long)(st.dropped_late - late_before_adapt));
	assert_true(late_before_adapt <= 10);
	assert_true(st.dropped_late - late_before_adapt <= 2);
	jb_audio_free(jb);
}

static void test_jitter_audio_loss_gives_fec_then_conceal_decisions(void **state)
{
	struct jb_audio *jb;
	struct jb_audio_frame f;
	uint8_t p[10] = {1};
	enum jb_audio_action got[8];
	int n = 0;

	assert_int_equal(jb_audio_new(&jb, NULL), 0);
	/* Frames 0..7, with 2 lost alone and 4+5 lost together. All arrive at once. */
	for (int k = 0; k < 8; k++) {
		if (k == 2 || k == 4 || k == 5)
			continue;
		p[0] = (uint8_t)k;
		assert_int_equal(jb_audio_put(jb, (uint16_t)k, 960u * k, p, 1, 0), 0);
	}
	assert_int_equal(jb_audio_put(jb, 0, 0, p, 1, 0), JB_EDUP);
	assert_int_equal(jb_audio_put(jb, 0, 0, p, 0, 0), JB_EINVAL);
	assert_int_equal(jb_audio_put_samples(jb, 9, 960u * 9, p, 1, 500, 0),
	                 JB_EINVAL); /* not a multiple */
	for (int64_t t = 0; n < 8; t += 20000) {
		jb_audio_get(jb, t, &f);
		if (f.action != JB_WAIT) {
			if (f.action == JB_FEC)
				assert_int_equal(f.payload[0],
				                 n + 1); /* FEC comes from the next packet */
			if (f.action == JB_PLAY)
				assert_int_equal(f.payload[0], n);
			got[n++] = f.action;
		}
	}
	assert_int_equal(got[0], JB_PLAY);
	assert_int_equal(got[1], JB_PLAY);
	assert_int_equal(got[2], JB_FEC);
	assert_int_equal(got[3], JB_PLAY);
	assert_int_equal(got[4], JB_CONCEAL); /* 5 is lost too: no FEC source */
	assert_int_equal(got[5], JB_FEC);
	assert_int_equal(got[6], JB_PLAY);
	assert_int_equal(got[7], JB_PLAY);
	/* A packet for an already played frame is late. */
	assert_int_equal(jb_audio_put(jb, 2, 960u * 2, p, 1, 200000), JB_ELATE);
	assert_string_equal(jb_strerror(JB_ELATE), "packet arrived after its playout time");
	jb_audio_free(jb);
}

static void test_jitter_audio_60ms_packets_play_and_fec_whole_packets(void **state)
{
	struct jb_audio *jb;
	struct jb_audio_frame f;
	uint8_t p[4];
	int64_t t;
	unsigned produced = 0;
	enum jb_audio_action got[8];
	unsigned samples[8];
	int n = 0;

	assert_int_equal(jb_audio_new(&jb, NULL), 0); /* unit 960 (20 ms) */
	/* Six 60 ms packets (2880 samples each), the third lost. */
	for (int k = 0; k < 6; k++) {
		if (k == 2)
			continue;
		p[0] = (uint8_t)k;
		assert_int_equal(jb_audio_put_samples(jb, (uint16_t)k, 2880u * k, p, 1, 2880, 0),
		                 0);
	}
	/* The player asks again once the returned samples have played. */
	for (t = 0; n < 5; t += 20000) {
		if (produced > 0) {
			produced -= 960;
			continue;
		}
		jb_audio_get(jb, t, &f);
		if (f.action == JB_WAIT)
			continue;
		got[n] = f.action;
		samples[n] = f.samples;
		produced = f.samples - 960;
		if (f.action == JB_FEC)
			assert_int_equal(f.payload[0], 3); /* LBRR of packet 2 rides in packet 3 */
		n++;
	}
	assert_int_equal(got[0], JB_PLAY);
	assert_int_equal(got[1], JB_PLAY);
	assert_int_equal(got[2], JB_FEC);
	assert_int_equal(got[3], JB_PLAY);
	assert_int_equal(got[4], JB_PLAY);
	for (int i = 0; i < 5; i++)
		assert_int_equal(samples[i], 2880);
	jb_audio_free(jb);
}

/* Reads mediasoup's rtp-stream-1.txt: (seq, timestamp) of a real VP8 stream. */
static size_t load_stream(uint16_t *seq, uint32_t *ts, size_t cap)
{
	char path[512], line[256];
	FILE *fp;
	size_t n = 0;

	snprintf(path, sizeof path, "%s/rtp/mediasoup/rtp-stream-1.txt", tu_vectors_dir());
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof line, fp) && n < cap) {
		unsigned s;
		unsigned long t;

		if (sscanf(line, "packet [seq:%u, timestamp:%lu]", &s, &t) == 2) {
			seq[n] = (uint16_t)s;
			ts[n] = (uint32_t)t;
			n++;
		}
	}
	fclose(fp);
	return n;
}

static void feed_stream(struct jb_video *v, const uint16_t *seq, const uint32_t *ts, size_t n,
                        int skip, int64_t *t_out)
{
	uint8_t p[4];

	for (size_t i = 0; i < n; i++) {
		bool start = i == 0 || ts[i] != ts[i - 1];
		bool marker = i + 1 == n || ts[i + 1] != ts[i];

		if ((int)i == skip)
			continue;
		p[0] = (uint8_t)i;
		assert_int_equal(
		        jb_video_put(v, seq[i], ts[i], start, marker, p, 1, (int64_t)i * 10000), 0);
	}
	*t_out = (int64_t)n * 10000;
}

static void test_jitter_video_assembles_every_frame_of_mediasoup_stream(void **state)
{
	uint16_t seq[256];
	uint32_t ts[256];
	size_t n = load_stream(seq, ts, 256), frames_expected = 0, frames = 0, pkts = 0;
	struct jb_video *v;
	struct jb_video_frame f;
	int64_t t;

	assert_true(n >= 100);
	for (size_t i = 0; i < n; i++)
		frames_expected += i == 0 || ts[i] != ts[i - 1];
	assert_int_equal(jb_video_new(&v, NULL), 0);
	feed_stream(v, seq, ts, n, -1, &t);
	while (jb_video_get(v, t, &f) == JB_VIDEO_FRAME) {
		frames++;
		pkts += f.n_packets;
		assert_int_equal(f.payloads[0][0], pkts - f.n_packets); /* in order */
	}
	assert_int_equal(frames, frames_expected);
	assert_int_equal(pkts, n);
	assert_int_equal(jb_video_missing(v, seq, 10), 0);
	jb_video_free(v);
}

static void test_jitter_video_missing_packet_waits_then_drops_frame(void **state)
{
	uint16_t seq[256], miss[8];
	uint32_t ts[256];
	size_t n = load_stream(seq, ts, 256), frames = 0;
	struct jb_video *v;
	struct jb_video_frame f;
	struct jb_video_config cfg = {.wait_us = 200000};
	enum jb_video_result r;
	int64_t t;
	int skip = 3; /* seq 21009: second packet of the frame at timestamp 1533793871 */

	assert_int_equal(jb_video_new(&v, &cfg), 0);
	feed_stream(v, seq, ts, n, skip, &t);
	assert_int_equal(jb_video_missing(v, miss, 8), 0); /* nothing output yet: none known */
	/* First frame (2 packets) comes out; then the incomplete one blocks. */
	assert_int_equal(jb_video_get(v, 30000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.first_seq, seq[0]);
	assert_int_equal(f.last_seq, seq[1]);
	assert_int_equal(jb_video_missing(v, miss, 8), 1);
	assert_int_equal(miss[0], seq[skip]);
	/* 20 ms after its first packet arrived: still waiting for a retransmission. */
	assert_int_equal(jb_video_get(v, 40000, &f), JB_VIDEO_NONE);
	/* A late retransmission would complete it; instead time passes beyond the wait. */
	r = jb_video_get(v, 20000 + 200001, &f);
	assert_int_equal(r, JB_VIDEO_DROPPED);
	assert_int_equal(f.n_missing, 1);
	assert_int_equal(f.missing[0], seq[skip]);
	assert_int_equal(f.first_seq, seq[2]);
	assert_int_equal(f.last_seq, seq[3]);
	/* The retransmission now arrives too late. */
	assert_int_equal(
	        jb_video_put(v, seq[skip], ts[skip], false, true, (const uint8_t *)"x", 1, t),
	        JB_ELATE);
	while (jb_video_get(v, t, &f) == JB_VIDEO_FRAME)
		frames++;
	{
		size_t expected = 0;

		for (size_t i = 0; i < n; i++)
			expected += i == 0 || ts[i] != ts[i - 1];
		assert_int_equal(frames, expected - 2);
	}
	/* Duplicates are refused. */
	jb_video_free(v);
	assert_int_equal(jb_video_new(&v, &cfg), 0);
	assert_int_equal(jb_video_put(v, 5, 1, true, true, (const uint8_t *)"a", 1, 0), 0);
	assert_int_equal(jb_video_put(v, 5, 1, true, true, (const uint8_t *)"a", 1, 0), JB_EDUP);
	assert_int_equal(jb_video_put(v, 6, 1, true, true, (const uint8_t *)"a", 0, 0), JB_EINVAL);
	jb_video_free(v);
}

static void test_jitter_video_retransmission_completes_frame_in_time(void **state)
{
	struct jb_video *v;
	struct jb_video_frame f;
	uint8_t a = 'a', b = 'b', c = 'c';

	assert_int_equal(jb_video_new(&v, NULL), 0);
	/* Frame ts 100: seqs 65534, 65535, 0 (wraps); 65535 lost at first. Frame ts 200: seq 1. */
	assert_int_equal(jb_video_put(v, 65534, 100, true, false, &a, 1, 0), 0);
	assert_int_equal(jb_video_put(v, 0, 100, false, true, &c, 1, 1000), 0);
	assert_int_equal(jb_video_put(v, 1, 200, true, true, &c, 1, 30000), 0);
	assert_int_equal(jb_video_get(v, 50000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_put(v, 65535, 100, false, false, &b, 1, 90000), 0);
	assert_int_equal(jb_video_get(v, 90000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.n_packets, 3);
	assert_int_equal(f.payloads[1][0], 'b');
	assert_int_equal(f.timestamp, 100);
	assert_int_equal(jb_video_get(v, 90000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.first_seq, 1);
	assert_int_equal(jb_video_get(v, 90000, &f), JB_VIDEO_NONE);
	jb_video_free(v);
}

static void test_jitter_video_nack_only_when_rtt_leaves_time(void **state)
{
	struct jb_video *v;
	struct jb_video_config cfg = {.wait_us = 200000};
	uint16_t seqs[8];
	uint8_t p = 1;

	assert_int_equal(jb_video_new(&v, &cfg), 0);
	/* Frame 100 = seqs 10..12; 11 is lost; the gap is seen when 12 arrives at t = 10 ms. */
	assert_int_equal(jb_video_put(v, 10, 100, true, false, &p, 1, 0), 0);
	assert_int_equal(jb_video_put(v, 12, 100, false, true, &p, 1, 10000), 0);
	/* Satellite RTT (600 ms) > wait (200 ms): never worth a NACK. */
	assert_int_equal(jb_video_nack(v, 10000, 600000, seqs, 8), 0);
	/* 50 ms RTT: NACK now, not again within an RTT, at most three times, and not when the
	 * answer would come after the 200 ms wait (deadline 210 ms). */
	assert_int_equal(jb_video_nack(v, 10000, 50000, seqs, 8), 1);
	assert_int_equal(seqs[0], 11);
	assert_int_equal(jb_video_nack(v, 30000, 50000, seqs, 8), 0);
	assert_int_equal(jb_video_nack(v, 60000, 50000, seqs, 8), 1);
	assert_int_equal(jb_video_nack(v, 110000, 50000, seqs, 8), 1);
	assert_int_equal(jb_video_nack(v, 160000, 50000, seqs, 8), 0); /* three sent */
	jb_video_free(v);

	assert_int_equal(jb_video_new(&v, &cfg), 0);
	assert_int_equal(jb_video_put(v, 10, 100, true, false, &p, 1, 0), 0);
	assert_int_equal(jb_video_put(v, 12, 100, false, true, &p, 1, 10000), 0);
	assert_int_equal(jb_video_nack(v, 170000, 50000, seqs, 8), 0); /* 220 > 210: too late */
	/* Once the packet is there, nothing to ask for. */
	assert_int_equal(jb_video_put(v, 11, 100, false, false, &p, 1, 20000), 0);
	assert_int_equal(jb_video_nack(v, 20000, 50000, seqs, 8), 0);
	jb_video_free(v);
}

static void test_jitter_keyframe_requests_rate_limited_by_rtt(void **state)
{
	struct jb_keyframe_limiter k = {0};

	/* RTT 600 ms: at most one request per 900 ms (1.5 RTT > 500 ms floor). */
	assert_true(jb_keyframe_request(&k, 1000000, 600000, 500000));
	assert_false(jb_keyframe_request(&k, 1500000, 600000, 500000));
	assert_false(jb_keyframe_request(&k, 1899999, 600000, 500000));
	assert_true(jb_keyframe_request(&k, 1900000, 600000, 500000));
	/* Short RTT: the 500 ms floor applies. */
	assert_false(jb_keyframe_request(&k, 2300000, 20000, 500000));
	assert_true(jb_keyframe_request(&k, 2400000, 20000, 500000));
	assert_int_equal(k.requests, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jitter_audio_target_adapts_up_under_jitter_and_back_down),
	        cmocka_unit_test(test_jitter_audio_loss_gives_fec_then_conceal_decisions),
	        cmocka_unit_test(test_jitter_audio_60ms_packets_play_and_fec_whole_packets),
	        cmocka_unit_test(test_jitter_video_assembles_every_frame_of_mediasoup_stream),
	        cmocka_unit_test(test_jitter_video_missing_packet_waits_then_drops_frame),
	        cmocka_unit_test(test_jitter_video_retransmission_completes_frame_in_time),
	        cmocka_unit_test(test_jitter_video_nack_only_when_rtt_leaves_time),
	        cmocka_unit_test(test_jitter_keyframe_requests_rate_limited_by_rtt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
