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

/* Frames go out in order, so one complete behind an incomplete one waits for it: the frame says
 * how long (from its last packet until the head was repaired, or given up), for lip sync. */
static void vput(struct jb_video *v, uint16_t seq, int64_t t)
{
	/* two packets a frame: even seq starts it, odd ends it */
	assert_int_equal(jb_video_put(v, seq, 3000u * (seq / 2u), seq % 2 ? 0 : JB_VIDEO_START,
	                              seq % 2, (const uint8_t *)"x", 1, t),
	                 0);
}

static void test_jitter_video_frames_say_how_long_they_waited(void **state)
{
	struct jb_video *v;
	struct jb_video_frame f;

	(void)state;
	assert_int_equal(jb_video_new(&v, &(struct jb_video_config){.wait_us = 200000}), 0);
	vput(v, 100, 10000);
	vput(v, 101, 12000);
	assert_int_equal(jb_video_get(v, 15000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.waited_us, 0);
	vput(v, 102, 20000); /* 103 lost */
	vput(v, 104, 30000);
	vput(v, 105, 32000);
	vput(v, 106, 40000);
	vput(v, 107, 42000);
	assert_int_equal(jb_video_get(v, 45000, &f), JB_VIDEO_NONE);
	vput(v, 103, 150000); /* repaired */
	assert_int_equal(jb_video_get(v, 150000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.first_seq, 102);
	assert_int_equal(f.waited_us, 0);
	assert_int_equal(jb_video_get(v, 150000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.first_seq, 104);
	assert_int_equal(f.waited_us, 118000);
	assert_int_equal(jb_video_get(v, 150000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.waited_us, 108000);
	/* on time again: no wait */
	vput(v, 108, 160000);
	vput(v, 109, 162000);
	assert_int_equal(jb_video_get(v, 163000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.waited_us, 0);
	/* a head given up: the frame behind it waited until then */
	vput(v, 110, 200000); /* 111 lost for good */
	vput(v, 112, 210000);
	vput(v, 113, 212000);
	assert_int_equal(jb_video_get(v, 300000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_get(v, 400001, &f), JB_VIDEO_DROPPED);
	assert_int_equal(jb_video_get(v, 400001, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.first_seq, 112);
	assert_int_equal(f.waited_us, 400001 - 212000);
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

/* A complete key frame behind a gap is not held back by the gap: the pictures the sender's
 * pacer dropped as stale never come, and the encoder's next picture is a key frame. */
static void test_jitter_video_gap_before_keyframe_given_up_at_once(void **state)
{
	struct jb_video *v;
	struct jb_video_frame f;
	struct jb_video_config cfg = {.wait_us = 400000};
	uint8_t p = 1;

	(void)state;
	assert_int_equal(jb_video_new(&v, &cfg), 0);
	/* frame 100: seq 10-11; seqs 12-19 (frames 200-400) dropped by the sender; frame 500, a
	 * key frame, seq 20-21 */
	assert_int_equal(jb_video_put(v, 10, 100, JB_VIDEO_START, false, &p, 1, 0), 0);
	assert_int_equal(jb_video_put(v, 11, 100, 0, true, &p, 1, 1000), 0);
	assert_int_equal(jb_video_put(v, 20, 500, JB_VIDEO_START | JB_VIDEO_INDEPENDENT, false, &p,
	                              1, 50000),
	                 0);
	assert_int_equal(jb_video_get(v, 50000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 100);
	/* the key frame is not complete yet: nothing to skip to */
	assert_int_equal(jb_video_get(v, 55000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_put(v, 21, 500, 0, true, &p, 1, 60000), 0);
	/* complete: the gap is given up at once, 10 ms after it showed, not 400 ms */
	assert_int_equal(jb_video_get(v, 60000, &f), JB_VIDEO_DROPPED);
	assert_int_equal(f.first_seq, 12);
	assert_int_equal(f.last_seq, 19);
	assert_int_equal(f.n_missing, 8);
	assert_int_equal(jb_video_get(v, 60000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 500);
	assert_int_equal(f.first_seq, 20);
	assert_int_equal(f.n_packets, 2);
	jb_video_free(v);

	/* The same gap before a frame that is not independent waits the full 400 ms: the
	 * missing pictures may be its references (a retransmission or FEC may still bring them). */
	assert_int_equal(jb_video_new(&v, &cfg), 0);
	assert_int_equal(jb_video_put(v, 10, 100, JB_VIDEO_START, true, &p, 1, 0), 0);
	assert_int_equal(jb_video_put(v, 20, 500, JB_VIDEO_START, true, &p, 1, 50000), 0);
	/* INDEPENDENT without START (not the first packet of a frame) means nothing */
	assert_int_equal(jb_video_put(v, 30, 600, JB_VIDEO_INDEPENDENT, true, &p, 1, 50000), 0);
	assert_int_equal(jb_video_get(v, 50000, &f), JB_VIDEO_FRAME);
	assert_int_equal(jb_video_get(v, 60000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_get(v, 50000 + 400000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_get(v, 50000 + 400001, &f), JB_VIDEO_DROPPED);
	assert_int_equal(jb_video_get(v, 50000 + 400001, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 500);
	/* unknown flags are refused and change nothing */
	assert_int_equal(jb_video_put(v, 40, 700, 4, true, &p, 1, 460000), JB_EINVAL);
	assert_int_equal(jb_video_put(v, 40, 700, JB_VIDEO_START, true, &p, 1, 460000), 0);
	jb_video_free(v);
}

/* gap_unneeded: the caller says which complete frames decode without the gap before them
 * (relay/media: base-layer continuity). Payload byte 'u': unneeded. */
static unsigned gap_asks;
static uint16_t gap_seq_asked; /* the gap_seq of the last call */
static bool gap_unneeded_u(void *arg, const uint8_t *payload, size_t len, unsigned tag,
                           uint16_t gap_seq)
{
	assert_ptr_equal(arg, &gap_asks);
	gap_asks++;
	gap_seq_asked = gap_seq;
	return (len == 1 && payload[0] == 'u') || tag == 0x1ab;
}

/* A gap before a frame that does not need it is given up as soon as that frame is complete;
 * before one that may need it, the gap waits wait_us as before. */
static void test_jitter_video_gap_nothing_needs_given_up_at_once(void **state)
{
	struct jb_video *v;
	struct jb_video_frame f;
	struct jb_video_config cfg = {
	        .wait_us = 500000, .gap_unneeded = gap_unneeded_u, .arg = &gap_asks};
	uint8_t n = 'n', u = 'u';

	(void)state;
	assert_int_equal(jb_video_new(&v, &cfg), 0);
	/* frame 100 seq 10; seq 11 (frame 200, an upper-layer picture) lost; frame 300 seq
	 * 12-13 decodes without it */
	assert_int_equal(jb_video_put(v, 10, 100, JB_VIDEO_START, true, &n, 1, 0), 0);
	assert_int_equal(jb_video_get(v, 0, &f), JB_VIDEO_FRAME);
	assert_int_equal(jb_video_put(v, 12, 300, JB_VIDEO_START, false, &u, 1, 70000), 0);
	assert_int_equal(jb_video_get(v, 70000, &f), JB_VIDEO_NONE); /* not complete yet */
	assert_int_equal(jb_video_put(v, 13, 300, 0, true, &n, 1, 80000), 0);
	gap_asks = 0;
	assert_int_equal(jb_video_get(v, 80000, &f), JB_VIDEO_DROPPED);
	assert_true(gap_asks >= 1);
	assert_int_equal(gap_seq_asked, 11);
	assert_int_equal(f.first_seq, 11);
	assert_int_equal(f.last_seq, 11);
	assert_int_equal(jb_video_get(v, 80000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 300);
	/* seq 14 lost (a base-layer picture); frame 500 seq 15 needs it: waits the full 500 ms,
	 * asking each time */
	assert_int_equal(jb_video_put(v, 15, 500, JB_VIDEO_START, true, &n, 1, 200000), 0);
	gap_asks = 0;
	assert_int_equal(jb_video_get(v, 200000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_get(v, 700000, &f), JB_VIDEO_NONE);
	assert_int_equal(gap_asks, 2);
	/* the FEC repair brings seq 14 in time: nothing given up */
	assert_int_equal(jb_video_put(v, 14, 400, JB_VIDEO_START, true, &n, 1, 690000), 0);
	assert_int_equal(jb_video_get(v, 700000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 400);
	assert_int_equal(jb_video_get(v, 700000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 500);
	/* and once more without it: given up just after 500 ms */
	assert_int_equal(jb_video_put(v, 17, 700, JB_VIDEO_START, true, &n, 1, 800000), 0);
	assert_int_equal(jb_video_get(v, 800000 + 500000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_get(v, 800000 + 500001, &f), JB_VIDEO_DROPPED);
	assert_int_equal(f.first_seq, 16);
	jb_video_free(v);
}

/* A gap before frames that need it is given up at once when a complete frame further behind
 * decodes without it (relay/media: a recovery point whose reference the receiver has), up to
 * the first complete frame; the frames after come out in order, each with its tag. */
static void test_jitter_video_gap_given_up_for_a_recovery_point_behind(void **state)
{
	struct jb_video *v;
	struct jb_video_frame f;
	struct jb_video_config cfg = {
	        .wait_us = 500000, .gap_unneeded = gap_unneeded_u, .arg = &gap_asks};
	uint8_t n = 'n';

	(void)state;
	assert_int_equal(jb_video_new(&v, &cfg), 0);
	assert_int_equal(jb_video_put(v, 10, 100, JB_VIDEO_START, true, &n, 1, 0), 0);
	assert_int_equal(jb_video_get(v, 0, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.tag, 0);
	/* seq 11 lost; frames 300 (seq 12) and 400 (seq 13) need it; frame 500 (seq 14-15) is
	 * a recovery point: tagged 0x1ab, unneeded once complete */
	assert_int_equal(jb_video_put(v, 12, 300, JB_VIDEO_START, true, &n, 1, 70000), 0);
	assert_int_equal(jb_video_put(v, 13, 400, JB_VIDEO_START, true, &n, 1, 140000), 0);
	assert_int_equal(jb_video_put(v, 14, 500, JB_VIDEO_START | JB_VIDEO_TAG(0x1ab), false, &n,
	                              1, 210000),
	                 0);
	assert_int_equal(jb_video_get(v, 210000, &f), JB_VIDEO_NONE); /* not complete yet */
	assert_int_equal(jb_video_put(v, 15, 500, JB_VIDEO_TAG(0x1ab), true, &n, 1, 220000), 0);
	assert_int_equal(jb_video_get(v, 220000, &f), JB_VIDEO_DROPPED);
	assert_int_equal(gap_seq_asked, 11);
	assert_int_equal(f.first_seq, 11);
	assert_int_equal(f.last_seq, 11);
	assert_int_equal(jb_video_get(v, 220000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 300);
	assert_int_equal(jb_video_get(v, 220000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 400);
	assert_int_equal(jb_video_get(v, 220000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 500);
	assert_int_equal(f.tag, 0x1ab);
	assert_int_equal(f.n_packets, 2);
	/* without such a frame behind, the gap waits: seq 16 lost, 17 needs it */
	assert_int_equal(
	        jb_video_put(v, 17, 700, JB_VIDEO_START | JB_VIDEO_TAG(0x1ac), true, &n, 1, 300000),
	        0);
	assert_int_equal(jb_video_get(v, 300000 + 500000, &f), JB_VIDEO_NONE);
	assert_int_equal(jb_video_get(v, 300000 + 500001, &f), JB_VIDEO_DROPPED);
	assert_int_equal(jb_video_get(v, 300000 + 500001, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.tag, 0x1ac);
	/* the gap the callback is told of is the first packet missing, not the head frame's
	 * first: frame 800 has seq 18 and 20, seq 19 lost; frame 900 (seq 21) is unneeded */
	assert_int_equal(jb_video_put(v, 18, 800, JB_VIDEO_START, false, &n, 1, 900000), 0);
	assert_int_equal(jb_video_put(v, 20, 800, 0, true, &n, 1, 900000), 0);
	assert_int_equal(
	        jb_video_put(v, 21, 900, JB_VIDEO_START | JB_VIDEO_TAG(0x1ab), true, &n, 1, 910000),
	        0);
	assert_int_equal(jb_video_get(v, 910000, &f), JB_VIDEO_DROPPED);
	assert_int_equal(gap_seq_asked, 19);
	assert_int_equal(f.first_seq, 18);
	assert_int_equal(f.last_seq, 20);
	assert_int_equal(jb_video_get(v, 910000, &f), JB_VIDEO_FRAME);
	assert_int_equal(f.timestamp, 900);
	/* a tag above 0xffff is not a flag the buffer knows */
	assert_int_equal(jb_video_put(v, 22, 950, JB_VIDEO_START | (1u << 24), true, &n, 1, 950000),
	                 JB_EINVAL);
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

/* The skew of each shown picture against the latest sound with a known capture time, by hand. */
static void test_jitter_av_skew_per_shown_picture(void **state)
{
	static const struct jb_av_event audio[] = {
	        {0, 300000},     /* delay 300 ms */
	        {20000, 320000}, /* delay 300 ms */
	        {-1, 340000},    /* lost: capture unknown, not used */
	        {60000, 400000}, /* delay 340 ms (the buffer grew) */
	};
	static const struct jb_av_event video[] = {
	        {0, 250000},       /* before any sound: left out */
	        {10000, 330000},   /* 320 - 300 = +20 ms */
	        {30000, 345000},   /* 315 - 300 = +15 ms (the lost frame is skipped) */
	        {100000, 400000},  /* 300 - 340 = -40 ms (sound that starts at the same instant) */
	        {-1, 420000},      /* capture unknown: left out */
	        {200000, 1500000}, /* no sound for 1.1 s: left out */
	};
	int64_t sk[8];

	(void)state;
	assert_int_equal(jb_av_skew(audio, 4, video, 6, 1000000, sk, 8), 3);
	assert_int_equal(sk[0], 20000);
	assert_int_equal(sk[1], 15000);
	assert_int_equal(sk[2], -40000);
	/* a longer gap allowed: the last picture counts against the 340 ms delay */
	assert_int_equal(jb_av_skew(audio, 4, video, 6, 2000000, sk, 8), 4);
	assert_int_equal(sk[3], 1300000 - 340000);
	/* bounded by cap; nothing without sound */
	assert_int_equal(jb_av_skew(audio, 4, video, 6, 1000000, sk, 2), 2);
	assert_int_equal(jb_av_skew(audio, 0, video, 6, 1000000, sk, 8), 0);
	assert_int_equal(jb_av_skew(audio, 4, video, 0, 1000000, sk, 8), 0);
}

/* A picture is due when the sound captured with it plays: never before it is ready, never held
 * longer than the maximum, at once when the audio delay is unknown or stale. */
static void test_jitter_sync_picture_due_with_its_sound(void **state)
{
	struct jb_sync *s;
	struct jb_sync_config bad = {.threshold_us = -1};

	(void)state;
	assert_int_equal(jb_sync_new(&s, &bad), JB_EINVAL);
	assert_int_equal(jb_sync_new(&s, NULL), 0);
	/* no sound yet */
	assert_int_equal(jb_sync_video_due(s, 1000000, 1200000, 1200000), 1200000);
	jb_sync_audio_played(s, 1000000, 1400000); /* audio delay 400 ms */
	/* early picture: held to capture + 400 ms */
	assert_int_equal(jb_sync_video_due(s, 1100000, 1300000, 1400000), 1500000);
	assert_false(jb_sync_video_late(s, 1100000, 1300000, 1400000));
	/* late picture: at once, and said to be late */
	assert_int_equal(jb_sync_video_due(s, 1100000, 1600000, 1600000), 1600000);
	assert_true(jb_sync_video_late(s, 1100000, 1600000, 1600000));
	/* ready just as its sound plays: on time */
	assert_false(jb_sync_video_late(s, 1100000, 1500000, 1500000));
	/* the audio delay grows: so does the hold */
	jb_sync_audio_played(s, 1020000, 1470000);
	assert_int_equal(jb_sync_video_due(s, 1100000, 1300000, 1470000), 1550000);
	/* a 2 s audio delay: held at most 1 s */
	jb_sync_audio_played(s, 1040000, 3040000);
	assert_int_equal(jb_sync_video_due(s, 1100000, 1300000, 3040000), 2300000);
	/* no sound played for more than 1 s: not held, and not late (nothing to be in sync with) */
	assert_int_equal(jb_sync_video_due(s, 3000000, 4100000, 4100000), 4100000);
	assert_false(jb_sync_video_late(s, 1000000, 4100000, 4100000));
	jb_sync_free(s);
}

/* Simulated receiver: the network delays sound by 200 ms, the buffer plays it `target` later
 * (target = max(jitter's 100 ms, the sync floor), reached at once); pictures are ready
 * `vdelay` after capture, 10 a second. Runs from t0 to t1 and returns the floor. */
struct sync_sim {
	struct jb_sync *s;
	int64_t t, floor, first, max_up, max_down;
	int64_t slow_us; /* every fifth picture is ready this much later than vdelay */
};

static int64_t sync_run(struct sync_sim *x, int64_t until, int64_t vdelay)
{
	for (; x->t < until; x->t += 20000) {
		int64_t target = x->floor > 100000 ? x->floor : 100000, f;

		jb_sync_audio_played(x->s, x->t - 200000 - target, x->t);
		if (x->t % 100000 == 0)
			jb_sync_video_ready(
			        x->s, x->t - vdelay - (x->t % 500000 == 100000 ? x->slow_us : 0),
			        x->t, 0);
		f = jb_sync_audio_floor(x->s, x->t, 100000);
		if (f && x->floor && f - x->floor > x->max_up)
			x->max_up = f - x->floor;
		if (f && x->floor && x->floor - f > x->max_down)
			x->max_down = x->floor - f;
		if (f && !x->first)
			x->first = f;
		x->floor = f;
	}
	return x->floor;
}

/* The audio floor: left alone within the threshold, raised (first in one go, then by at most
 * 80 ms per update) when pictures lag the sound, never beyond the cap above the jitter's target,
 * and brought down by at most 40 ms per update once pictures are early again. */
static void test_jitter_sync_audio_floor_follows_video_within_cap(void **state)
{
	struct sync_sim x = {0};
	struct jb_sync_config c = {.max_audio_extra_us = 400000};

	(void)state;
	assert_int_equal(jb_sync_new(&x.s, &c), 0);
	/* audio plays 300 ms after capture; pictures ready at 320 ms: within 30 ms, no floor */
	assert_int_equal(sync_run(&x, 3000000, 320000), 0);
	/* pictures at 420 ms: once they are more than 5 % of the window, the floor takes audio to
	 * 420 ms (target 220 ms), in one go */
	assert_int_equal(sync_run(&x, 3100000, 420000), 0);
	assert_int_equal(sync_run(&x, 5000000, 420000), 220000);
	assert_int_equal(x.first, 220000);
	assert_int_equal(sync_run(&x, 8000000, 420000), 220000);
	/* pictures at 720 ms: a 520 ms target wanted, capped at 100 + 400; by 80 ms steps */
	assert_int_equal(sync_run(&x, 8600000, 720000), 300000);
	assert_int_equal(sync_run(&x, 14000000, 720000), 500000);
	assert_true(x.max_up <= 80000);
	/* pictures early again (250 ms): once the late ones leave the 4 s window, the floor comes
	 * down 40 ms at a time, to none */
	assert_int_equal(sync_run(&x, 17000000, 250000), 500000);
	assert_true(sync_run(&x, 19000000, 250000) < 500000);
	assert_int_equal(sync_run(&x, 40000000, 250000), 0);
	assert_true(x.max_down <= 40000);
	jb_sync_free(x.s);

	/* the default cap: 150 ms above the jitter's target, from the first picture */
	memset(&x, 0, sizeof x);
	assert_int_equal(jb_sync_new(&x.s, NULL), 0);
	assert_int_equal(sync_run(&x, 20000, 470000), 250000);
	assert_int_equal(sync_run(&x, 10000000, 470000), 250000);
	/* 250 ms behind: the cap makes up what it can */
	assert_int_equal(sync_run(&x, 15000000, 550000), 250000);
	/* pictures further behind the undelayed sound than twice the cap (300 ms): the sound is
	 * not delayed for them at all */
	assert_int_equal(sync_run(&x, 20000000, 800000), 0);
	jb_sync_free(x.s);
}

/* With a lead allowance the sound may play before the slow pictures (here one in five, so the
 * 95th percentile) by up to that much, while the typical picture stays in sync. */
static void test_jitter_sync_lets_sound_lead_slow_pictures_by_the_allowance(void **state)
{
	struct sync_sim x = {0};
	struct jb_sync_config c = {.lead_ok_us = 90000};

	(void)state;
	assert_int_equal(jb_sync_new(&x.s, &(struct jb_sync_config){.lead_ok_us = -1}), JB_EINVAL);
	assert_int_equal(jb_sync_new(&x.s, &c), 0);
	/* audio plays 300 ms after capture, as do most pictures; the slow ones at 420 ms lag it
	 * by 120 ms: within 90 + 30, no floor */
	x.slow_us = 120000;
	assert_int_equal(sync_run(&x, 5000000, 300000), 0);
	/* slow ones at 470 ms: the sound goes to 380 ms (target 180 ms), 90 ms ahead of them */
	x.slow_us = 170000;
	assert_int_equal(sync_run(&x, 10000000, 300000), 180000);
	/* no slow ones: the floor comes down to none */
	x.slow_us = 0;
	assert_int_equal(sync_run(&x, 30000000, 300000), 0);
	/* all pictures at 420 ms: the typical picture must be in sync, the allowance does not
	 * apply: the sound goes to 420 ms */
	assert_int_equal(sync_run(&x, 35000000, 420000), 220000);
	jb_sync_free(x.s);

	/* the first case without the allowance: the sound waits for the slow pictures in full */
	memset(&x, 0, sizeof x);
	assert_int_equal(jb_sync_new(&x.s, NULL), 0);
	x.slow_us = 120000;
	assert_int_equal(sync_run(&x, 5000000, 300000), 220000);
	jb_sync_free(x.s);
}

/* A packet lost and repaired late holds its picture back and, since pictures go out in order,
 * the complete ones behind it: here, every 4 s, one picture is ready 700 ms after capture and
 * the three behind it with it (300 ms is the path's delay, the sound's too). Told how long those
 * three waited, the sync leaves the sound alone (one slow picture a window is within the 95th
 * percentile); not told, it counts four late pictures in forty and delays the sound. */
static int64_t sync_repairs_run(bool tell_waited)
{
	struct jb_sync *s;
	int64_t floor = 0, max_floor = 0;

	assert_int_equal(jb_sync_new(&s, &(struct jb_sync_config){.lead_ok_us = 90000}), 0);
	for (int64_t t = 0; t < 30000000; t += 20000) {
		int64_t target = floor > 100000 ? floor : 100000, cap = t - 300000;

		jb_sync_audio_played(s, t - 200000 - target, t);
		/* the picture captured at cap is complete now; k = 4 is the one repaired late
		 * (complete 400 ms later, with k = 8), k = 5..7 wait for it */
		if (t % 100000 == 0 && cap >= 0) {
			int64_t k = (cap / 100000) % 40;

			if (k == 8) {
				jb_sync_video_ready(s, cap - 400000, t, 0);
				for (int64_t i = 1; i <= 3; i++)
					jb_sync_video_ready(s, cap - 400000 + i * 100000, t,
					                    tell_waited ? 400000 - i * 100000 : 0);
			}
			if (k < 4 || k > 7)
				jb_sync_video_ready(s, cap, t, 0);
		}
		floor = jb_sync_audio_floor(s, t, 100000);
		if (floor > max_floor)
			max_floor = floor;
	}
	jb_sync_free(s);
	return max_floor;
}

static void test_jitter_sync_not_raised_by_pictures_waiting_behind_a_repair(void **state)
{
	(void)state;
	assert_int_equal(sync_repairs_run(true), 0);
	assert_true(sync_repairs_run(false) > 0);
}

/* Pictures ready 300 ms after capture (the sound's delay too), 12 a second, but in each burst
 * (bursts[i] s from the start) seven in a row are 170-420 ms later (a keyframe after a rung change
 * and the pictures queued behind it: 470-720 ms; a geo-sat-steady session had 8 at 419-720 ms
 * over 0.37 s). Returns the
 * highest floor of a 14 s run; *after: the floor at its end. */
static int64_t sync_burst_run(int64_t persist_us, const int64_t *bursts, size_t nb, int64_t *after,
                              uint64_t *not_followed)
{
	struct jb_sync *s;
	int64_t floor = 0, max_floor = 0;

	assert_int_equal(jb_sync_new(&s, &(struct jb_sync_config){.lead_ok_us = 90000,
	                                                          .persist_us = persist_us}),
	                 0);
	for (int64_t t = 0; t < 14000000; t += 20000) {
		int64_t target = floor > 100000 ? floor : 100000;

		jb_sync_audio_played(s, t - 200000 - target, t);
		if (t % 80000 == 0) {
			int64_t extra = 0;

			for (size_t b = 0; b < nb; b++)
				if (t >= bursts[b] && t < bursts[b] + 7 * 80000)
					extra = 420000 - (t - bursts[b]) / 80000 * 40000;
			jb_sync_video_ready(s, t - 300000 - extra, t, 0);
		}
		floor = jb_sync_audio_floor(s, t, 100000);
		if (floor > max_floor)
			max_floor = floor;
	}
	*after = floor;
	*not_followed = jb_sync_bursts_not_followed(s);
	jb_sync_free(s);
	return max_floor;
}

/* One burst of slow pictures does not delay the sound (they were shown before the floor could
 * rise); without persist_us it does, for the window's 4 s. Slow pictures in two bursts 3 s apart
 * are a lag that lasts: the floor rises as before. */
static void test_jitter_sync_does_not_follow_one_burst_of_slow_pictures(void **state)
{
	const int64_t one[] = {5000000}, two[] = {5000000, 8000000};
	int64_t after;
	uint64_t nf;

	(void)state;
	assert_int_equal(
	        jb_sync_new(&(struct jb_sync *){NULL}, &(struct jb_sync_config){.persist_us = -1}),
	        JB_EINVAL);
	assert_int_equal(sync_burst_run(1000000, one, 1, &after, &nf), 0);
	assert_true(nf >= 1);
	assert_true(sync_burst_run(0, one, 1, &after, &nf) > 0);
	assert_int_equal(nf, 0);
	assert_true(sync_burst_run(1000000, two, 2, &after, &nf) > 0);
	assert_true(after > 0); /* the second burst is 2 s old: still in the window */
}

/* The sync floor raises the audio buffer's target (the buffer grows by concealing), up to its
 * maximum, and the buffer sheds the delay again once the floor is removed. */
static void test_jitter_audio_sync_floor_raises_delay(void **state)
{
	struct jb_audio *jb;
	struct jb_audio_stats st;
	struct jb_audio_frame f;
	uint8_t p[4] = {1, 2, 3, 4};
	uint64_t expanded;

	(void)state;
	assert_int_equal(jb_audio_new(&jb, &(struct jb_audio_config){.max_delay_us = 500000}), 0);
	/* steady arrivals 100 ms after capture, the player every 20 ms */
	for (int64_t k = 0, t = 0; k < 1000; t += 1000) {
		if (t == 20000 * k + 100000) {
			assert_int_equal(jb_audio_put(jb, (uint16_t)k, 960u * (uint32_t)k, p, 4, t),
			                 0);
			k++;
		}
		if (t % 20000 == 5000)
			jb_audio_get(jb, t, &f);
		if (t == 5005000) {
			jb_audio_get_stats(jb, &st);
			assert_int_equal(st.target_us, 40000);
			assert_int_equal(st.jitter_target_us, 40000);
			assert_int_equal(st.expanded, 0);
			jb_audio_set_sync_delay(jb, 150000, 200000);
			jb_audio_get_stats(jb, &st);
			assert_int_equal(st.target_us, 150000);
			assert_int_equal(st.sync_floor_us, 150000);
			assert_int_equal(st.jitter_target_us, 40000);
		}
		if (t == 10005000) {
			/* grown by concealment: 110 ms more, in 20 ms frames */
			jb_audio_get_stats(jb, &st);
			assert_in_range(st.expanded, 5, 6);
			assert_int_equal(st.target_us, 150000); /* the target stays */
			expanded = st.expanded;
			jb_audio_set_sync_delay(jb, 0, 200000);
			jb_audio_get_stats(jb, &st);
			assert_int_equal(st.target_us, 40000);
		}
		if (t == 15005000) {
			jb_audio_get_stats(jb, &st);
			assert_int_equal(st.expanded, expanded);
			assert_in_range(st.dropped_shrink, 4, 6);    /* shed again */
			jb_audio_set_sync_delay(jb, 300000, 200000); /* beyond the cap */
			jb_audio_get_stats(jb, &st);
			assert_int_equal(st.target_us, 240000);
			jb_audio_set_sync_delay(jb, 900000, 900000); /* beyond the maximum */
			jb_audio_get_stats(jb, &st);
			assert_int_equal(st.target_us, 500000);
		}
	}
	jb_audio_free(jb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jitter_audio_target_adapts_up_under_jitter_and_back_down),
	        cmocka_unit_test(test_jitter_audio_loss_gives_fec_then_conceal_decisions),
	        cmocka_unit_test(test_jitter_audio_60ms_packets_play_and_fec_whole_packets),
	        cmocka_unit_test(test_jitter_video_assembles_every_frame_of_mediasoup_stream),
	        cmocka_unit_test(test_jitter_video_missing_packet_waits_then_drops_frame),
	        cmocka_unit_test(test_jitter_video_frames_say_how_long_they_waited),
	        cmocka_unit_test(test_jitter_video_gap_before_keyframe_given_up_at_once),
	        cmocka_unit_test(test_jitter_video_gap_nothing_needs_given_up_at_once),
	        cmocka_unit_test(test_jitter_video_gap_given_up_for_a_recovery_point_behind),
	        cmocka_unit_test(test_jitter_video_retransmission_completes_frame_in_time),
	        cmocka_unit_test(test_jitter_video_nack_only_when_rtt_leaves_time),
	        cmocka_unit_test(test_jitter_keyframe_requests_rate_limited_by_rtt),
	        cmocka_unit_test(test_jitter_av_skew_per_shown_picture),
	        cmocka_unit_test(test_jitter_sync_picture_due_with_its_sound),
	        cmocka_unit_test(test_jitter_sync_audio_floor_follows_video_within_cap),
	        cmocka_unit_test(test_jitter_sync_lets_sound_lead_slow_pictures_by_the_allowance),
	        cmocka_unit_test(test_jitter_sync_not_raised_by_pictures_waiting_behind_a_repair),
	        cmocka_unit_test(test_jitter_sync_does_not_follow_one_burst_of_slow_pictures),
	        cmocka_unit_test(test_jitter_audio_sync_floor_raises_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
