/* tests/unit/test_cc.c — the congestion controller against a simulated GEO bottleneck.
 *
 * The simulation: a saturating video source (1200-byte payloads + 64 bytes overhead) feeds the
 * real pacer (relay/pacer) at the controller's target, probes included; packets enter a FIFO
 * bottleneck of capacity C (drop-tail, 3 s of buffer as a satellite modem has), then propagate
 * one way (300 ms unless a test says otherwise), with optional Gilbert-Elliott air loss after
 * the queue. The receiver records arrivals with the real transport-wide feedback recorder and
 * sends feedback every 100 ms, built and parsed through the real RTCP code; it reaches the
 * sender one propagation delay later. Time advances in 1 ms steps; everything is
 * deterministic. Each scenario prints its measured figures ("cc-sim: ..."); CC_TRACE=1 in the
 * environment prints the controller's state every 250 ms (CC_TRACE_MS=n: every n ms).
 * CC_SEED=n runs the single-seed scenarios with seed n instead of 0: the simulations are
 * chaotic (any change to the controller moves every figure), so a change is judged over
 * several seeds, e.g. `for n in 0 1 2 3 4 5 6 7; do CC_SEED=$n build/tests/test_cc; done`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/cc.h"
#include "relay/pacer.h"
#include "relay/rtcp.h"

#define PAYLOAD     1200
#define ONE_WAY_US  300000
#define FEEDBACK_US 100000
#define BUFFER_US   3000000
#define RING        65536
#define MAX_SAMPLES 200000

struct cap_step {
	int64_t t_us;
	double bps;
};

struct flight {
	uint16_t seq;
	int64_t arrive;
	bool lost;
};

struct fb_msg {
	int64_t deliver;
	uint8_t bytes[1500];
	size_t len;
};

struct sim {
	struct cc *cc;
	const struct cap_step *caps;
	size_t n_caps;
	double loss_p_gb, loss_p_bg; /* Gilbert-Elliott transition probabilities (0 = no loss) */
	bool ge_bad;
	uint64_t rng;
	int64_t t;
	uint16_t seq;
	int64_t busy_until;
	struct flight fl[RING];
	size_t fl_head, fl_n;
	struct rtcp_twcc_recorder *rec; /* the receiver's transport-wide feedback recorder */
	struct pacer *pacer;            /* the sender's pacer */
	int64_t next_fb;
	struct fb_msg fbq[64];
	size_t fbq_head, fbq_n;
	/* measurements over [m_start, m_end) */
	int64_t m_start, m_end;
	double served_bits, cap_bits;
	int64_t qdelay[MAX_SAMPLES];
	size_t n_q;
	uint64_t sent_pkts, air_lost, tail_dropped;
	bool trace;
	int64_t one_way;
	int64_t down_from, down_to; /* outage interval */
	size_t payload;             /* media packet size (default 1200) */
	int64_t jitter_us;          /* extra one-way delay, uniform 0..jitter_us per packet */
	int64_t buffer_us;          /* modem buffer (default BUFFER_US) */
	int64_t fade_from, fade_to; /* rain fade: other loss parameters meanwhile */
	double fade_p_gb, fade_p_bg;
	/* the reverse path congested too (the fade hits both directions and the far side
	 * overshoots): feedback delayed and lost over [fb_bad_from, fb_bad_to) */
	int64_t fb_bad_from, fb_bad_to, fb_extra_us;
	double fb_loss;
	/* linksim's jitter (tools/linksim/model.c): the one-way delay follows a piecewise-linear
	 * curve through random points in [-jitter_pl_us, +jitter_pl_us] every 4 x jitter_pl_us
	 * (linksim's default spacing: 40 ms for geo-sat's 10 ms), so it rises and falls
	 * at slopes up to 0.5 (a delay gradient) without reordering. Until 2026-12-06 these
	 * scenarios put the points 100 ms apart (slopes up to 0.2), gentler than the lab's: the
	 * lab's probes read capacities 5-12 % high that the simulation never showed. */
	int64_t jitter_pl_us;
	/* a path that squeezes arrivals: packets leaving the link in [squeeze_from, squeeze_to)
	 * arrive sooner by squeeze x their time since squeeze_from (and all later ones by the
	 * whole step), as a link layer that delivers in bursts or a busy emulator can */
	int64_t squeeze_from, squeeze_to;
	double squeeze;
	double jpl_a, jpl_b;
	int64_t jpl_seg;
	/* an application-limited source from app_from on: media at app_bps at most (a low ladder
	 * rung after a drop), not saturating; probes still fill with padding */
	int64_t app_from;
	double app_bps, app_credit;
	/* a consult's media instead of a saturating source: a 100-byte audio packet every 20 ms
	 * and 15 video frames/s sized from the target (the encoder follows the controller), each
	 * split into 1200-byte packets handed to the pacer at once, a keyframe 4x the size every
	 * 5 s */
	bool media;
	int64_t next_audio, next_frame;
	unsigned frames;
	/* a policer in front of the link (a 4G operator's rate limit): a token bucket of
	 * police_depth bytes at police_bps; what exceeds it is dropped at once, without taking
	 * the link's time */
	double police_bps, police_depth, police_tokens;
	int64_t police_t;
	uint64_t policed;
};

static const uint8_t payload_bytes[PAYLOAD]; /* what every simulated media packet carries */
static uint64_t sim_seed;          /* varies the random draws (loss, jitter) between runs */
static struct cc_stats last_stats; /* steady_src's or rain_fade's controller at the end */
static uint64_t base_seed;         /* CC_SEED: the seed of the single-seed scenarios */

static double cap_at(const struct sim *s, int64_t t)
{
	double c = s->caps[0].bps;

	for (size_t i = 0; i < s->n_caps; i++)
		if (t >= s->caps[i].t_us)
			c = s->caps[i].bps;
	return c;
}

static double rnd(struct sim *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (double)(s->rng >> 11) / 9007199254740992.0;
}

/* Gilbert-Elliott loss in bursts of 3 packets on average (bad -> good 1/3) with a stationary
 * loss fraction `loss`: the transition probabilities for sim.loss_p_* or sim.fade_p_*. */
static void bursty_loss(double loss, double *p_gb, double *p_bg)
{
	*p_bg = 1.0 / 3.0;
	*p_gb = loss * *p_bg / (1 - loss);
}

static void send_packet(struct sim *s, int cluster, size_t len)
{
	double c = cap_at(s, s->t), wire = (double)(len + CC_OVERHEAD_DEFAULT);
	int64_t ser = (int64_t)(wire * 8.0 * 1e6 / c), start, depart;
	struct flight *f;
	bool lost = false;

	cc_on_packet_sent(s->cc, s->seq, len, s->t, cluster);
	s->sent_pkts++;
	if (s->police_bps > 0) {
		s->police_tokens += (double)(s->t - s->police_t) * s->police_bps / 8e6;
		if (s->police_tokens > s->police_depth)
			s->police_tokens = s->police_depth;
		s->police_t = s->t;
		if (s->police_tokens < wire) {
			s->policed++;
			s->seq++;
			return;
		}
		s->police_tokens -= wire;
	}
	start = s->busy_until > s->t ? s->busy_until : s->t;
	if (s->t >= s->down_from && s->t < s->down_to) {
		s->tail_dropped++; /* link down: everything is lost */
		s->seq++;
		return;
	}
	if (start - s->t > s->buffer_us) {
		s->tail_dropped++; /* modem buffer full */
		s->seq++;
		return;
	}
	depart = start + ser;
	s->busy_until = depart;
	if (s->t >= s->m_start && s->t < s->m_end) {
		s->served_bits += wire * 8.0;
		if (s->n_q < MAX_SAMPLES)
			s->qdelay[s->n_q++] = start - s->t;
	}
	if (s->t >= s->fade_from && s->t < s->fade_to) {
		s->ge_bad = s->ge_bad ? rnd(s) >= s->fade_p_bg : rnd(s) < s->fade_p_gb;
		lost = s->ge_bad;
	} else if (s->loss_p_gb > 0) {
		s->ge_bad = s->ge_bad ? rnd(s) >= s->loss_p_bg : rnd(s) < s->loss_p_gb;
		lost = s->ge_bad;
	}
	if (lost)
		s->air_lost++;
	assert_true(s->fl_n < RING);
	f = &s->fl[(s->fl_head + s->fl_n++) % RING];
	f->seq = s->seq;
	f->arrive =
	        depart + s->one_way + (s->jitter_us ? (int64_t)(rnd(s) * (double)s->jitter_us) : 0);
	if (s->jitter_pl_us) {
		int64_t iv = 4 * s->jitter_pl_us;
		int64_t seg = depart / iv;

		while (s->jpl_seg < seg) {
			s->jpl_a = s->jpl_b;
			s->jpl_b = (2 * rnd(s) - 1) * (double)s->jitter_pl_us;
			s->jpl_seg++;
		}
		f->arrive += (int64_t)(s->jpl_a + (s->jpl_b - s->jpl_a) *
		                                          (double)(depart - seg * iv) / (double)iv);
	}
	if (s->squeeze > 0 && depart >= s->squeeze_from)
		f->arrive -= (int64_t)(s->squeeze *
		                       (double)((depart < s->squeeze_to ? depart : s->squeeze_to) -
		                                s->squeeze_from));
	f->lost = lost;
	s->seq++;
}

/* The receiver's feedback every 100 ms, through the real recorder and RTCP writer. */
static void receiver_feedback(struct sim *s)
{
	struct fb_msg *m;
	struct buf_writer w;
	size_t n;

	assert_true(s->fbq_n < 64);
	m = &s->fbq[(s->fbq_head + s->fbq_n) % 64];
	buf_writer_init(&w, m->bytes, sizeof m->bytes);
	assert_int_equal(rtcp_twcc_recorder_build(s->rec, &w, 1, 2, &n), 0);
	if (n == 0)
		return;
	m->len = buf_writer_len(&w);
	m->deliver = s->t + s->one_way;
	if (s->t >= s->fb_bad_from && s->t < s->fb_bad_to) {
		if (rnd(s) < s->fb_loss)
			return; /* reported, never heard of again */
		m->deliver += s->fb_extra_us;
	}
	s->fbq_n++;
}

static void deliver_feedback(struct sim *s)
{
	static struct rtcp_packet pkt;
	static struct rtcp_twcc_pkt pk[4096];

	while (s->fbq_n && s->fbq[s->fbq_head].deliver <= s->t) {
		struct fb_msg *m = &s->fbq[s->fbq_head];
		struct rtcp_iter it;
		struct rtcp_twcc_info info;

		rtcp_iter_init(&it, m->bytes, m->len);
		while (rtcp_iter_next(&it, &pkt) == 1) {
			assert_int_equal(rtcp_twcc_parse(&pkt, &info, pk, 4096), 0);
			assert_int_equal(cc_on_feedback(s->cc, pk, info.status_count, s->t), 0);
		}
		s->fbq_head = (s->fbq_head + 1) % 64;
		s->fbq_n--;
	}
}

static void sim_init(struct sim *s, const struct cap_step *caps, size_t n_caps, uint32_t start)
{
	struct cc_config cfg;

	memset(s, 0, sizeof *s);
	cc_config_default(&cfg);
	cfg.start_bps = start;
	assert_int_equal(cc_new(&s->cc, &cfg), 0);
	s->caps = caps;
	s->n_caps = n_caps;
	s->rng = 0x9e3779b97f4a7c15ull + sim_seed * 7919;
	s->seq = 65000; /* exercise the 16-bit wrap early */
	assert_int_equal(rtcp_twcc_recorder_new(&s->rec), 0);
	assert_int_equal(pacer_new(&s->pacer, NULL), 0);
	s->next_fb = FEEDBACK_US;
	s->trace = getenv("CC_TRACE") != NULL;
	s->one_way = ONE_WAY_US;
	s->payload = PAYLOAD;
	s->buffer_us = BUFFER_US;
}

static void sim_free(struct sim *s)
{
	cc_free(s->cc);
	rtcp_twcc_recorder_free(s->rec);
	pacer_free(s->pacer);
}

static void media_source(struct sim *s, uint32_t target)
{
	if (s->t >= s->next_audio) {
		assert_int_equal(pacer_enqueue(s->pacer, PACER_AUDIO, payload_bytes, 100, 0, s->t),
		                 0);
		s->next_audio = s->t + 20000;
	}
	if (s->t >= s->next_frame) {
		double video = cc_payload_bps(s->cc, PAYLOAD) - 100 * 8 * 50.0;
		size_t bytes = video > 0 ? (size_t)(video / 8 / 15) : 0;

		if (s->frames++ % 75 == 0)
			bytes *= 4;
		for (size_t left = bytes; left > 0;) {
			size_t n = left > PAYLOAD ? PAYLOAD : left;

			assert_int_equal(
			        pacer_enqueue(s->pacer, PACER_VIDEO, payload_bytes, n, 0, s->t), 0);
			left -= n;
		}
		s->next_frame = s->t + 66667;
	}
}

/* Runs the simulation up to `until`, calling probe/pacing/feedback logic every millisecond. */
static void sim_run(struct sim *s, int64_t until)
{
	for (; s->t < until; s->t += 1000) {
		uint32_t target = cc_target_bps(s->cc);

		if (s->trace &&
		    s->t % (getenv("CC_TRACE_MS") ? 1000 * atoll(getenv("CC_TRACE_MS")) : 250000) ==
		            0) {
			struct cc_stats st;

			cc_get_stats(s->cc, &st);
			fprintf(stderr,
			        "t=%6.2f C=%7.0f tgt=%7u dly=%7u ack=%7u link=%7u use=%d "
			        "trend=%6.1f "
			        "thr=%5.1f q=%4lld rtt=%4lld loss=%.3f ovr=%u probes=%u/%u\n",
			        s->t / 1e6, cap_at(s, s->t), st.target_bps, st.delay_bps,
			        st.acked_bps, st.link_bps, st.usage, st.trend, st.threshold,
			        (long long)st.queue_us / 1000, (long long)st.rtt_us / 1000, st.loss,
			        st.overuses, st.probes_ok, st.probes);
		}

		/* arrivals at the receiver */
		while (s->fl_n && s->fl[s->fl_head].arrive <= s->t) {
			struct flight *f = &s->fl[s->fl_head];

			if (!f->lost) {
				assert_int_equal(rtcp_twcc_recorder_add(s->rec, f->seq, f->arrive),
				                 0);
			}
			s->fl_head = (s->fl_head + 1) % RING;
			s->fl_n--;
		}
		if (s->t >= s->next_fb) {
			receiver_feedback(s);
			s->next_fb += FEEDBACK_US;
		}
		deliver_feedback(s);
		cc_on_tick(s->cc, s->t);
		/* The real pacer at the target rate; probes go through it too (padding fills a
		 * probe when the source has nothing). A saturating video source keeps two
		 * packets queued. */
		pacer_set_rate(s->pacer, target);
		if (s->app_bps > 0 && s->t >= s->app_from) {
			s->app_credit += s->app_bps / 1000.0;
			if (s->app_credit > 2.0 * (double)s->payload * 8)
				s->app_credit = 2.0 * (double)s->payload * 8;
		}
		{
			uint32_t rate;
			unsigned min_packets;
			int64_t dur;
			int id = cc_probe_next(s->cc, s->t, &rate, &min_packets, &dur);

			if (id)
				pacer_probe(s->pacer, id, rate, min_packets, dur, s->t);
		}
		if (s->media)
			media_source(s, target);
		for (;;) {
			static uint8_t buf[1500];
			struct pacer_stats ps;
			struct pacer_pkt out;

			pacer_get_stats(s->pacer, &ps);
			if (s->app_bps > 0 && s->t >= s->app_from &&
			    ps.queued_packets[PACER_VIDEO] < 2 &&
			    s->app_credit >= (double)s->payload * 8) {
				assert_int_equal(pacer_enqueue(s->pacer, PACER_VIDEO, payload_bytes,
				                               s->payload, 0, s->t),
				                 0);
				s->app_credit -= (double)s->payload * 8;
			}
			while (!s->media && !(s->app_bps > 0 && s->t >= s->app_from) &&
			       ps.queued_packets[PACER_VIDEO] < 2) {
				assert_int_equal(pacer_enqueue(s->pacer, PACER_VIDEO, payload_bytes,
				                               s->payload, 0, s->t),
				                 0);
				ps.queued_packets[PACER_VIDEO]++;
			}
			if (pacer_next_time(s->pacer, s->t) > s->t ||
			    pacer_next(s->pacer, s->t, buf, sizeof buf, &out) != 1)
				break;
			send_packet(s, out.cluster, out.len);
		}
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double q_percentile(struct sim *s, double p)
{
	size_t i;

	if (!s->n_q)
		return 0;
	qsort(s->qdelay, s->n_q, sizeof *s->qdelay, cmp_i64);
	i = (size_t)(p * (double)(s->n_q - 1));
	return (double)s->qdelay[i] / 1000.0;
}

/* Steady state on capacity c with the given one-way delay: utilisation and queueing delay
 * p95 over 60 s after 15 s of start-up. */
static void steady_src(double c, int64_t one_way, double loss, int64_t jitter, int64_t jitter_pl,
                       bool media, const char *name)
{
	static struct cap_step caps[1];
	static struct sim s;
	uint32_t min_target = UINT32_MAX, max_target = 0, cuts_before;
	double util, p50, p95, target_sum = 0;
	unsigned n_target = 0;
	struct cc_stats st;

	caps[0] = (struct cap_step){0, c};
	sim_init(&s, caps, 1, 100000);
	s.one_way = one_way;
	s.jitter_us = jitter;
	s.jitter_pl_us = jitter_pl;
	s.media = media;
	if (loss > 0)
		bursty_loss(loss, &s.loss_p_gb, &s.loss_p_bg);
	s.m_start = 15000000;
	s.m_end = 75000000;
	sim_run(&s, 15000000);
	cc_get_stats(s.cc, &st);
	cuts_before = st.overuses;
	while (s.t < 75000000) {
		sim_run(&s, s.t + 1000);
		target_sum += cc_target_bps(s.cc);
		n_target++;
		if (cc_target_bps(s.cc) < min_target)
			min_target = cc_target_bps(s.cc);
		if (cc_target_bps(s.cc) > max_target)
			max_target = cc_target_bps(s.cc);
	}
	util = s.served_bits / (c * 60.0);
	p50 = q_percentile(&s, 0.5);
	p95 = q_percentile(&s, 0.95);
	cc_get_stats(s.cc, &st);
	printf("cc-sim: %s: C=%.0fk RTT=%lldms (+0..%lld ms jitter) loss %.2f %% (%llu/%llu) "
	       "t=15..75s: utilisation "
	       "%.1f %%, queue delay p50 %.0f ms p95 %.0f ms, min target %.0f %% of C, mean %.0f "
	       "%%, max %.0f %%, %u cuts (%u jitter holds)\n",
	       name, c / 1000, (long long)(2 * one_way / 1000), (long long)(jitter / 1000),
	       s.sent_pkts ? 100.0 * (double)s.air_lost / (double)s.sent_pkts : 0.0,
	       (unsigned long long)s.air_lost, (unsigned long long)s.sent_pkts, util * 100, p50,
	       p95, 100.0 * min_target / c, 100.0 * target_sum / n_target / c,
	       100.0 * max_target / c, st.overuses - cuts_before, st.jitter_holds);
	assert_true(util >= 0.80);
	assert_true(p95 <= 150.0);
	/* Near the capacity it found, the target holds short of it: no sawtooth through a
	 * standing queue (before, growing on until the queue showed: 6 cuts a minute to 0.85 x,
	 * the target up to 1.05-1.07 x the capacity). Without the path's jitter and loss, which
	 * still cut it now and then. */
	if (loss <= 0 && !jitter && !jitter_pl && !media) {
		assert_int_equal(st.overuses - cuts_before, 0);
		assert_true(max_target <= 0.97 * c);
	}
	/* With linksim's jitter, no probe reading squeezed by it takes the target past the
	 * link (before the periodic probes' recheck and averaging: up to 1.15x at seed 0). */
	if (jitter_pl)
		assert_true(max_target <= c);
	/* a steady link has no capacity drop to recover from */
	assert_int_equal(st.probes_recovery, 0);
	if (loss > 0) {
		assert_true(s.air_lost > 0);
		assert_true(min_target >= 0.70 * c);
	}
	cc_get_stats(s.cc, &last_stats);
	sim_free(&s);
}

static void steady(double c, int64_t one_way, double loss, int64_t jitter, int64_t jitter_pl,
                   const char *name)
{
	steady_src(c, one_way, loss, jitter, jitter_pl, false, name);
}

/* The consult as the lab runs it on geo-sat-256k: audio every 20 ms and video frames sized from
 * the target (app-limited, bursty) over linksim's jitter and 1 % bursty loss. The jitter's
 * 100 ms delay slopes read as overuse with no queue behind them: without the gradient's queue
 * gate, cuts to 0.85x every few seconds left the target as low as 37 % of the link (8 seeds:
 * mean utilisation 80 %, 13.5 cuts a minute); the lab showed the same (160-225 kbit/s on a
 * 256 kbit/s uplink). Six seeds, each must keep >= 80 % utilisation, its target >= 70 % of
 * the link and the queue p95 <= 150 ms (steady_src's checks). */
static void test_cc_media_256k_linksim_jitter_is_not_congestion(void **state)
{
	(void)state;
	for (sim_seed = 1; sim_seed <= 6; sim_seed++)
		steady_src(256000, 300000, 0.01, 0, 10000, true,
		           "consult media 256k linksim jitter+loss");
}

/* A probe the link delivered (almost) whole may still have been over its capacity: the lab's
 * clinic sent a periodic probe at 1.5x a target of 0.72x its 512 kbit/s uplink (368 kbit/s,
 * after a cut), the link delivered 0.93 of it (more, with linksim's jitter squeezing the
 * cluster's arrivals), and the target became 536 kbit/s: 190 ms of queue, which the hub's
 * audio buffer kept for its 4 s window. A periodic probe delivered whole sets the target to
 * 0.9x the rate it delivered. Here: consult media on 512 kbit/s with linksim's jitter and 1 %
 * bursty loss, 1 s dips to 300 kbit/s at 20 s and 50 s (a cut, then the periodic probes). */
static void test_cc_periodic_probe_delivered_whole_gives_nine_tenths(void **state)
{
	static const struct cap_step caps[] = {{0, 512000},
	                                       {20000000, 300000},
	                                       {21000000, 512000},
	                                       {50000000, 300000},
	                                       {51000000, 512000}};
	static struct sim s;
	unsigned whole = 0;
	uint32_t ok;
	struct cc_stats st;

	(void)state;
	sim_init(&s, caps, 5, 100000);
	s.jitter_pl_us = 10000;
	bursty_loss(0.01, &s.loss_p_gb, &s.loss_p_bg);
	s.media = true;
	sim_run(&s, 21000000);
	cc_get_stats(s.cc, &st);
	ok = st.probes_ok;
	while (s.t < 80000000) {
		sim_run(&s, s.t + 1000);
		cc_get_stats(s.cc, &st);
		if (st.probes_ok == ok)
			continue;
		ok = st.probes_ok;
		if (!st.probe_periodic || !st.probe_whole)
			continue;
		whole++;
		printf("cc-sim: periodic probe delivered whole at %u bps: target %u bps (%.3f of "
		       "it)\n",
		       st.probe_est_bps, st.target_bps, (double)st.target_bps / st.probe_est_bps);
		/* 0.9x, and the increase the same report may add */
		assert_in_range(st.target_bps, st.probe_est_bps / 100 * 85,
		                st.probe_est_bps / 100 * 92);
	}
	assert_true(whole >= 1);
	sim_free(&s);
}

/* The other scenarios run with CC_SEED (0), also after a failed check left the loop above
 * early. */
static int seed_reset(void **state)
{
	(void)state;
	sim_seed = base_seed;
	return 0;
}

static void test_cc_steady_state_uses_80_percent_with_low_queue(void **state)
{
	steady(500000, 300000, 0, 0, 0, "steady");
}

static void test_cc_steady_state_geo_uplink_256k_rtt_800ms(void **state)
{
	steady(256000, 400000, 0, 0, 0, "steady-256k-800ms");
}

static void test_cc_steady_state_geo_downlink_2M_rtt_600ms(void **state)
{
	steady(2000000, 300000, 0, 0, 0, "steady-2M-600ms");
}

static void test_cc_path_jitter_20ms_with_1pct_loss_like_geo_sat(void **state)
{
	/* geo-sat: 512 kbit/s uplink, 600 ms +- 20 ms, 1 % bursty loss. */
	steady(512000, 290000, 0.01, 20000, 0, "geo-sat-like jitter+loss");
}

/* geo-sat as the lab makes it: linksim's jitter (+-10 ms each way along a piecewise-linear
 * curve through a new point every 40 ms) and 1 % bursty loss. Seeds 0-7: the probe readings
 * the jitter squeezes or stretches vary with them (steady_src's checks, the target at most
 * the link's rate among them). */
static void test_cc_linksim_jitter_geo_sat(void **state)
{
	(void)state;
	for (sim_seed = base_seed; sim_seed < base_seed + 8; sim_seed++)
		steady(512000, 300000, 0.01, 0, 10000, "geo-sat linksim jitter+loss");
}

/* Two periodic probes in a row that read more than the link (the jitter squeezed both
 * clusters' arrivals): seed 31 of the scenario above read 553 then 582 kbit/s on 512, both
 * delivered whole. Taking the second's 0.9x and forgetting the capacity, the target went to
 * 1.05x the link and grew on to 1.12x before a cut (a 233 ms queue). Now the lower reading is
 * taken and the capacity stays known, so growth stops short of it (steady_src's checks: the
 * target at most the link's rate; either rule alone fails them, at 1.02x and 1.08x). Seed 25
 * of the geo-sat-like jitter (+0-20 ms) with those rules: a follow-up probe read 541 kbit/s on
 * 512 and the target stood at 1.004x the link; the queue grew a few ms a second, under the
 * gradient's threshold and the 400 ms of a standing queue, 85 ms at 14 s and 171 ms at 39 s
 * (p95 246 ms), until a queue that stands and does not shrink for 1.5 s is overuse too
 * (steady_src's checks: queueing delay p95 at most 150 ms). Chaotic, as every seeded scenario
 * here: each seed must still meet the case it is for (the counters). */
static void test_cc_probes_squeezed_twice_and_a_standing_queue(void **state)
{
	(void)state;
	sim_seed = 31;
	steady(512000, 300000, 0.01, 0, 10000, "geo-sat linksim jitter+loss, seed 31");
	assert_true(last_stats.probe_rechecks_first >= 1);
	sim_seed = 25;
	steady(512000, 290000, 0.01, 20000, 0, "geo-sat-like jitter+loss, seed 25");
	assert_true(last_stats.stand_cuts >= 1);
}

static void test_cc_random_bursty_loss_2pct_rtt_700ms_keeps_rate(void **state)
{
	steady(512000, 350000, 0.02, 0, 0, "2 % bursty loss");
}

static void test_cc_small_packets_count_per_packet_overhead(void **state)
{
	/* 150-byte payloads (audio-sized) on a 96 kbit/s link: 64 of every 214 wire bytes are
	 * overhead. The controller's wire rate must still fill the link without a queue, and the
	 * payload rate it offers the encoder is the wire rate x 150/214. */
	static const struct cap_step caps[] = {{0, 96000}};
	static struct sim s;
	double util, p95, payload_share;

	sim_init(&s, caps, 1, 32000);
	s.payload = 150;
	s.m_start = 15000000;
	s.m_end = 75000000;
	sim_run(&s, 75000000);
	util = s.served_bits / (96000.0 * 60.0);
	p95 = q_percentile(&s, 0.95);
	payload_share = (double)cc_payload_bps(s.cc, 150) / cc_target_bps(s.cc);
	printf("cc-sim: small packets: C=96k, 150 B payload + 64 B overhead: utilisation %.1f %%, "
	       "queue delay p95 %.0f ms, target %u bps wire = %u bps payload\n",
	       util * 100, p95, cc_target_bps(s.cc), cc_payload_bps(s.cc, 150));
	assert_true(util >= 0.80);
	assert_true(p95 <= 150.0);
	assert_true(payload_share > 0.700 && payload_share < 0.702); /* 150/214 = 0.7009 */
	sim_free(&s);
}

/* The link goes down both ways for 30 s: no feedback, so the target is halved every silent
 * period down to the floor. When it comes back, the controller probes straight back to the
 * rate before the silence (an outage says nothing about the capacity): back to 80 % of the
 * link within 4 s of the return (2.1 s here; 7.5 s before, climbing from the floor). The
 * outage's losses are not the air's: the loss fraction the media sizes FEC by stays low (it
 * read 89 % after an 8 s outage in test_media, and the ladder went to audio-only for it). */
static void test_cc_outage_30s_then_recovers_quickly(void **state)
{
	/* geo-sat uplink; the link is down from 20 s to 50 s. */
	static const struct cap_step caps[] = {{0, 512000}};
	static struct sim s;
	uint32_t during_min = UINT32_MAX;
	int64_t back = -1;
	double loss_max = 0;
	struct cc_stats st;

	(void)state;
	sim_init(&s, caps, 1, 100000);
	s.down_from = 20000000;
	s.down_to = 50000000;
	while (s.t < 60000000) {
		sim_run(&s, s.t + 1000);
		if (s.t > 21000000 && s.t < 50000000 && cc_target_bps(s.cc) < during_min)
			during_min = cc_target_bps(s.cc);
		if (s.t > 50000000 && back < 0 && cc_target_bps(s.cc) >= 0.8 * 512000)
			back = s.t - 50000000;
		cc_get_stats(s.cc, &st);
		if (s.t > 50000000 && st.loss > loss_max)
			loss_max = st.loss;
	}
	printf("cc-sim: outage 30 s: target during outage down to %u bps; back to >= 80 %% of "
	       "512k %.2f s after the link returned; loss fraction reported after it at most "
	       "%.3f\n",
	       during_min, back / 1e6, loss_max);
	assert_true(during_min <= 64000);
	assert_true(back >= 0 && back <= 4000000);
	assert_true(loss_max < 0.05);
	sim_free(&s);
}

/* An outage that ends on a slower path (the clinic's router roams from satellite to a 4G link a
 * quarter as fast): the probe back to the rate before the outage fills the new link, and what
 * it delivered becomes the capacity. The target is at 70 % of the new capacity within 3 s of
 * the return (2.1 s here; climbing from the floor, it was at 27 kbit/s 5 s after the return
 * and still below 70 % 15 s after it), the queue stays short and the target does not fall
 * back. */
static void test_cc_outage_ends_on_a_slower_path(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}, {30000000, 128000}};
	static struct sim s;
	int64_t found = -1;
	uint32_t min_late = UINT32_MAX;
	double p95;

	(void)state;
	sim_init(&s, caps, 2, 100000);
	s.down_from = 20000000;
	s.down_to = 30000000;
	sim_run(&s, 30000000);
	s.m_start = 30000000;
	s.m_end = 45000000;
	while (s.t < 45000000) {
		uint32_t tg;

		sim_run(&s, s.t + 1000);
		tg = cc_target_bps(s.cc);
		if (found < 0 && tg >= 0.7 * 128000)
			found = s.t - 30000000;
		if (s.t >= 35000000 && tg < min_late)
			min_late = tg;
	}
	p95 = q_percentile(&s, 0.95);
	printf("cc-sim: outage 10 s, back at 128k instead of 512k: target at 70 %% of the new "
	       "capacity %.2f s after the return; queue p95 over 15 s %.0f ms; from 5 s on, min "
	       "target %u bps\n",
	       found / 1e6, p95, min_late);
	assert_true(found >= 0 && found <= 3000000);
	assert_true(p95 <= 200.0);
	assert_true(min_late >= 0.7 * 128000);
	sim_free(&s);
}

static void test_cc_step_down_4x_gets_below_capacity_within_2s(void **state)
{
	static const struct cap_step caps[] = {{0, 1000000}, {30000000, 250000}};
	static struct sim s;
	int64_t below = -1, recovered = -1, peak_q = 0;
	struct cc_stats st, cut = {0};
	bool have_cut = false;

	sim_init(&s, caps, 2, 300000);
	sim_run(&s, 30000000);
	cc_get_stats(s.cc, &st);
	printf("cc-sim: step-down: target before drop %u bps (C=1M)\n", st.target_bps);
	assert_true(st.target_bps >= 700000);
	s.m_start = 30000000;
	s.m_end = 60000000;
	while (s.t < 60000000) {
		sim_run(&s, s.t + 1000);
		if (!have_cut) { /* the drop's first decrease, as cc_get_stats reports it */
			cc_get_stats(s.cc, &cut);
			have_cut = cut.overuses != st.overuses;
		}
		if (cc_target_bps(s.cc) < 250000 && below < 0)
			below = s.t - 30000000;
		if (below >= 0 && recovered < 0 && s.t - 30000000 > below + 1000000 &&
		    cc_target_bps(s.cc) >= 200000)
			recovered = s.t - 30000000;
	}
	for (size_t i = 0; i < s.n_q; i++)
		if (s.qdelay[i] > peak_q)
			peak_q = s.qdelay[i];
	printf("cc-sim: step-down 1M->250k: target below new capacity after %.2f s, back to >= 80 "
	       "%% of it after %.2f s; peak queueing delay %.0f ms; %llu tail drops\n",
	       below / 1e6, recovered / 1e6, peak_q / 1000.0, (unsigned long long)s.tail_dropped);
	printf("cc-sim: step-down: first cut %u -> %u bps (%s), from a delivery rate of %u over "
	       "the short window, queue %lld ms%s\n",
	       cut.cut_from_bps, cut.delay_bps, cut.cut_gradient ? "gradient" : "queue",
	       cut.cut_recent_bps, (long long)cut.cut_queue_us / 1000,
	       cut.cut_predicted ? " (predicted)" : "");
	assert_true(below >= 0 && below <= 2000000);
	assert_true(recovered >= 0 && recovered <= 20000000);
	assert_true(have_cut);
	/* the cut's record: from the rate before the drop, scaled from what the link delivered
	 * after it, because of a queue */
	assert_true(cut.cut_from_bps >= 700000);
	assert_true(cut.delay_bps < cut.cut_from_bps);
	assert_in_range(cut.cut_recent_bps, 150000, 700000);
	assert_true(cut.delay_bps <= cut.cut_recent_bps);
	assert_true(cut.cut_queue_us > 0);
	sim_free(&s);
}

static void test_cc_step_up_4x_reaches_80_percent_within_15s(void **state)
{
	static const struct cap_step caps[] = {{0, 250000}, {30000000, 1000000}};
	static struct sim s;
	int64_t reached = -1;

	sim_init(&s, caps, 2, 100000);
	sim_run(&s, 30000000);
	printf("cc-sim: step-up: target before rise %u bps (C=250k)\n", cc_target_bps(s.cc));
	while (s.t < 60000000 && reached < 0) {
		sim_run(&s, s.t + 1000);
		if (cc_target_bps(s.cc) >= 800000)
			reached = s.t - 30000000;
	}
	printf("cc-sim: step-up 250k->1M: target >= 80 %% of new capacity after %.2f s\n",
	       reached / 1e6);
	assert_true(reached >= 0 && reached <= 15000000);
	sim_free(&s);
}

/* A consult's start on geo-sat: the media (audio + video sized from the target) from the
 * consult's start rate, 200 kbit/s, on 512 kbit/s with linksim's jitter and 1 % bursty loss.
 * The start-up probe must find the link at once (target >= 75 % of it at 2 s: 427-505 kbit/s
 * over seeds 0-15; without start-up probes, growing from the start rate, 261-317 kbit/s at
 * seeds 0-3) and stay near it (>= 75 % at 8 s), without a queue the audio buffer then carries
 * for its 4 s window: peak <= 100 ms. At
 * c542a1d, seeds 0-15: peak 148-196 ms. The link estimate the first probe measured was
 * forgotten while the delivery rate still showed the start rate, and the second start-up probe
 * went out at 3x the target the first had set (1.5 Mbit/s on 512 kbit/s), or the target grew
 * multiplicatively past the link. Now 55-76 ms. */
static void test_cc_start_finds_the_link_without_a_queue_spike(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}};
	static struct sim s;
	double peak;
	uint32_t early, tgt;

	(void)state;
	sim_init(&s, caps, 1, 200000);
	s.media = true;
	s.buffer_us = 1500000;
	s.jitter_pl_us = 10000;
	bursty_loss(0.01, &s.loss_p_gb, &s.loss_p_bg);
	s.m_start = 0;
	s.m_end = 8000000;
	sim_run(&s, 2000000);
	early = cc_target_bps(s.cc);
	sim_run(&s, 8000000);
	tgt = cc_target_bps(s.cc);
	peak = q_percentile(&s, 1.0);
	printf("cc-sim: start 200k on 512k: queue peak %.0f ms, p95 %.0f ms over the first 8 s; "
	       "target at 2 s %u bps, at 8 s %u bps\n",
	       peak, q_percentile(&s, 0.95), early, tgt);
	assert_true(early >= 0.75 * 512000);
	assert_true(tgt >= 0.75 * 512000);
	assert_true(peak <= 100.0);
	sim_free(&s);
}

/* The lab's consult start on geo-sat (512 kbit/s uplink, start rate 200 kbit/s): the first
 * start-up probe read 529-619 kbit/s (the path squeezed its arrivals), and the target set from
 * it held while the media's low rung and padding sent less than the link: no queue, nothing
 * to cut, until the ladder climbed on it (to 360p-15 at 3.4 s; the cut came 0.8 s later, in 2
 * of 3 debug runs of bench/consult.sh on geo-sat-steady). A second look at the link (a probe
 * just above the target a filled start-up probe set) brings the target down to what it
 * reads. Here: arrivals squeezed by 25 % over the first 300 ms, the
 * media at 350 kbit/s until 3.4 s (probes fill with padding) and all the target allows after.
 * Before: target 649 kbit/s at 3.4 s, a queue peak of 256 ms after. */
static void test_cc_start_probe_read_high_is_corrected_by_a_second_look(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}};
	static struct sim s;
	uint32_t peak = 0, at_climb;
	double q;

	(void)state;
	sim_init(&s, caps, 1, 200000);
	s.buffer_us = 1500000;
	s.squeeze_from = 0;
	s.squeeze_to = 300000;
	s.squeeze = 0.25;
	s.app_from = 0;
	s.app_bps = 350000;
	while (s.t < 3400000) {
		sim_run(&s, s.t + 1000);
		if (cc_target_bps(s.cc) > peak)
			peak = cc_target_bps(s.cc);
	}
	at_climb = cc_target_bps(s.cc);
	s.app_bps = 0;
	s.media = true;
	s.m_start = s.t;
	s.m_end = 8000000;
	sim_run(&s, 8000000);
	q = q_percentile(&s, 1.0);
	printf("cc-sim: start 200k on 512k, first probe squeezed 25 %%: target peak %u bps, at "
	       "3.4 s %u bps; queue peak from 3.4 to 8 s %.0f ms\n",
	       peak, at_climb, q);
	assert_true(peak > 512000); /* the scenario: the first probe did read high */
	assert_true(at_climb <= 512000);
	assert_true(q <= 100.0);
	sim_free(&s);
}

/* geo-sat as the consult bench runs it: 512 kbit/s, RTT 600 ms, a 1.5 s modem buffer, the
 * uplink cut 4x from 20 s to 35 s. The controller must get below the new capacity within 2 s,
 * drain the queue and come back to the new capacity at once rather than creep up from its deep
 * cut (from 6 s into the drop on: no second collapse, no standing queue), and find the returned
 * capacity within a few seconds (probing, not the additive sawtooth). */
static void test_cc_geo_drop_4x_drains_then_restores_and_finds_the_return(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}, {20000000, 128000}, {35000000, 512000}};
	static struct sim s;
	int64_t below = -1, restored = -1, back = -1, peak_q = 0;
	uint32_t min_late = UINT32_MAX;
	double p95;

	(void)state;
	sim_init(&s, caps, 3, 100000);
	s.buffer_us = 1500000;
	s.one_way = 300000;
	sim_run(&s, 20000000);
	s.m_start = 26000000;
	s.m_end = 35000000;
	while (s.t < 50000000) {
		uint32_t tg;

		sim_run(&s, s.t + 1000);
		tg = cc_target_bps(s.cc);
		if (s.t < 35000000) {
			if (tg < 128000 && below < 0)
				below = s.t - 20000000;
			if (below >= 0 && restored < 0 && s.t - 20000000 > below &&
			    tg >= 0.8 * 128000)
				restored = s.t - 20000000;
			if (s.t >= 26000000 && tg < min_late)
				min_late = tg;
		} else if (back < 0 && tg >= 0.8 * 512000) {
			back = s.t - 35000000;
		}
	}
	for (size_t i = 0; i < s.n_q; i++)
		if (s.qdelay[i] > peak_q)
			peak_q = s.qdelay[i];
	p95 = q_percentile(&s, 0.95);
	printf("cc-sim: geo drop 512k->128k->512k: below new capacity after %.2f s, back to >= 80 "
	       "%% of it after %.2f s; 6-15 s into the drop: min target %u bps, queue p95 %.0f ms "
	       "(peak %.0f ms); capacity back: >= 80 %% of 512k after %.2f s\n",
	       below / 1e6, restored / 1e6, min_late, p95, peak_q / 1000.0, back / 1e6);
	assert_true(below >= 0 && below <= 2000000);
	assert_true(restored >= 0 && restored <= 6000000);
	assert_true(min_late >= 0.7 * 128000);
	/* no standing queue: at 128 kbit/s one 1264-byte packet takes 79 ms on the link, so
	 * 200 ms is about two packets waiting (before the restore it stood at 270-600 ms) */
	assert_true(p95 <= 200.0);
	assert_true(back >= 0 && back <= 3500000); /* 4.8 s before the recovery probes */
	sim_free(&s);
}

/* geo-sat as the consult meets a drop: RTT 600 ms, a 1.5 s modem buffer, 1 % loss in bursts
 * of 3, and (the ladder having stepped down) media application-limited at app_bps from 21 s,
 * 1 s into the drop at 20 s. caps: 3 steps. */
static void app_limited_drop_init(struct sim *s, const struct cap_step *caps, double app_bps)
{
	sim_init(s, caps, 3, 100000);
	s->buffer_us = 1500000;
	s->one_way = 300000;
	bursty_loss(0.01, &s->loss_p_gb, &s->loss_p_bg);
	s->app_from = 21000000;
	s->app_bps = app_bps;
}

/* The consult's case: the uplink cut 4x for 4 s (20-24 s), and the ladder stepped down during
 * the drop, so from 21 s the media is application-limited at 90 kbit/s (a low rung, no padding
 * here), with geo-sat's 1 % bursty loss. The media cannot show that the capacity came back;
 * only probes can, and the ladder climbs once the estimate holds above the next rung for 2.5 s.
 * So the estimate must be back near the capacity soon after the queue of the drop has drained
 * (the delivery rate to probe back to is the one before the drop, the capacity the link had).
 * Returns the time from the capacity's return to a target >= 80 % of it (-1: never). */
static int64_t short_drop_app_limited(void)
{
	static const struct cap_step caps[] = {{0, 512000}, {20000000, 128000}, {24000000, 512000}};
	static struct sim s;
	int64_t back = -1, peak_q = 0;
	uint32_t before;
	struct cc_stats st;

	app_limited_drop_init(&s, caps, 90000);
	sim_run(&s, 20000000);
	before = cc_target_bps(s.cc);
	s.m_start = 20000000;
	s.m_end = 40000000;
	while (s.t < 40000000 && back < 0) {
		sim_run(&s, s.t + 1000);
		if (s.t >= 24000000 && cc_target_bps(s.cc) >= 0.8 * 512000)
			back = s.t - 24000000;
	}
	for (size_t i = 0; i < s.n_q; i++)
		if (s.qdelay[i] > peak_q)
			peak_q = s.qdelay[i];
	cc_get_stats(s.cc, &st);
	printf("cc-sim: 4 s drop 512k->128k, media 90 kbit/s from 1 s into it (seed %llu): target "
	       "before the drop %u bps; >= 80 %% of 512k %.2f s after the capacity returned (peak "
	       "queue %.0f ms), %u recovery probe(s)\n",
	       (unsigned long long)sim_seed, before, back / 1e6, peak_q / 1000.0,
	       st.probes_recovery);
	assert_true(before >= 0.8 * 512000);
	assert_true(st.probes_recovery >= 1);
	sim_free(&s);
	return back;
}

/* Over 16 seeds (the loss draws), the capacity is found within 3.5 s. Two ways it was not,
 * before the probe rules in relay/cc.c's probe_evaluate: seed 11, a follow-up probe that lost
 * packets to the bursty loss read as the capacity (417 kbit/s), and the app-limited media held
 * the target there until it decayed, found after 8.8 s; seed 14, a loss burst took all 5
 * packets of the first recovery probe, and the next try waited 2 s (3.6 s). */
static void test_cc_short_drop_app_limited_probes_back(void **state)
{
	int64_t worst = 0;

	(void)state;
	for (sim_seed = 0; sim_seed < 16; sim_seed++) {
		int64_t back = short_drop_app_limited();

		assert_true(back >= 0);
		if (back > worst)
			worst = back;
	}
	printf("cc-sim: 4 s drop, seeds 0-15: capacity found within %.2f s at worst\n",
	       worst / 1e6);
	assert_true(worst <= 3500000);
}

/* The consult bench's geo-sat drop: the uplink cut 4x for 15 s (20-35 s), and the ladder down
 * to audio and stills, so from 21 s the media is application-limited at 30 kbit/s of 300-byte
 * packets; 1 % bursty loss. The capacity's return must be found within 3 s: the recovery
 * probes do it in 1.3 s here; without them (RECOVER_TRIES 0) it took 4.5 s. */
static void test_cc_long_drop_app_limited_finds_the_return(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}, {20000000, 128000}, {35000000, 512000}};
	static struct sim s;
	int64_t back = -1;
	struct cc_stats st;

	(void)state;
	app_limited_drop_init(&s, caps, 30000);
	s.payload = 300;
	while (s.t < 65000000 && back < 0) {
		sim_run(&s, s.t + 1000);
		if (s.t >= 35000000 && cc_target_bps(s.cc) >= 0.8 * 512000)
			back = s.t - 35000000;
	}
	cc_get_stats(s.cc, &st);
	printf("cc-sim: 15 s drop 512k->128k, media 30 kbit/s from 1 s into it: >= 80 %% of 512k "
	       "%.2f s after the capacity returned, %u recovery probe(s)\n",
	       back / 1e6, st.probes_recovery);
	assert_true(st.probes_recovery >= 1);
	assert_true(back >= 0 && back <= 3000000);
	sim_free(&s);
}

/* geo-sat-rainfade's fade: 512k -> 128k with 10 % loss in bursts of 3 (1 % outside the fade)
 * for 20 s. The fade's loss is on the air, behind no queue: it must not hold the rate far
 * below the fade's capacity (a loss bound compounding every 2 s window took the target to
 * 40-50 kbit/s, or to the 16 kbit/s floor, where audio alone no longer fits). The fade hits
 * both directions, and the far side's media fills the queue our feedback waits in: with
 * bad_reverse, for the fade's first 5 s feedback comes 1.5 s late and 3 reports in 4 are
 * lost (as seen in the lab); reports lost on the way back must not read as the link
 * delivering a quarter of its rate. When the first report that shows the queue comes depends
 * on which reports are lost (22.3-23.4 s over seeds 0-15), so with bad_reverse the bound is
 * on the controller's reaction: below the fade's capacity within 1 s of the first report
 * that shows 200 ms of queue (the cut is immediate at seeds 1, 2, 11 and 13, where that
 * report came 3.2-3.4 s into the fade), and within 4 s of the fade in all. From 8 s into the
 * fade the target stays above min_frac x the fade's capacity. */

static void rain_fade(bool bad_reverse, double min_frac)
{
	static const struct cap_step caps[] = {{0, 512000}, {20000000, 128000}, {40000000, 512000}};
	static struct sim s;
	int64_t below = -1, seen = -1;
	uint32_t min_late = UINT32_MAX;
	double util, p95;

	sim_init(&s, caps, 3, 100000);
	s.buffer_us = 1500000;
	s.one_way = 325000;
	bursty_loss(0.01, &s.loss_p_gb, &s.loss_p_bg);
	s.fade_from = 20000000;
	s.fade_to = 40000000;
	bursty_loss(0.10, &s.fade_p_gb, &s.fade_p_bg);
	if (bad_reverse) {
		s.fb_bad_from = 20000000;
		s.fb_bad_to = 25000000;
		s.fb_extra_us = 1500000;
		s.fb_loss = 0.75;
	}
	sim_run(&s, 20000000);
	s.m_start = 26000000;
	s.m_end = 40000000;
	while (s.t < 40000000) {
		struct cc_stats st;
		uint32_t tg;

		sim_run(&s, s.t + 1000);
		tg = cc_target_bps(s.cc);
		cc_get_stats(s.cc, &st);
		if (st.queue_us >= 200000 && seen < 0)
			seen = s.t - 20000000;
		if (tg < 128000 && below < 0)
			below = s.t - 20000000;
		if (s.t >= 28000000 && tg < min_late)
			min_late = tg;
	}
	util = s.served_bits / (128000.0 * 14.0);
	p95 = q_percentile(&s, 0.95);
	printf("cc-sim: rain fade 512k->128k, 10 %% bursty loss%s: below the fade capacity after "
	       "%.2f s (a 200 ms queue seen after %.2f s); 6-20 s into the fade: utilisation "
	       "%.1f %%, queue p95 %.0f ms; 8-20 s: min target %u bps\n",
	       bad_reverse ? ", reverse path late and lossy for 5 s" : "", below / 1e6, seen / 1e6,
	       util * 100, p95, min_late);
	if (bad_reverse) {
		assert_true(seen >= 0 && below >= 0 && below <= seen + 1000000);
		assert_true(below <= 4000000);
	} else {
		assert_true(below >= 0 && below <= 2000000);
	}
	assert_true(util >= 0.75);
	assert_true(min_late >= min_frac * 128000);
	assert_true(p95 <= 300.0);
	cc_get_stats(s.cc, &last_stats);
	sim_free(&s);
}

static void test_cc_rain_fade_10pct_air_loss_keeps_the_fade_capacity(void **state)
{
	(void)state;
	rain_fade(false, 0.5);
	rain_fade(true, 0.5);
}

/* After the deep cut at the fade's start has drained the queue, the target goes back to what
 * the link delivered meanwhile, and stays there: for a round trip and more, the delivery rate
 * still shows the cut, and capping the target at 1.5 x that rate pulled it back down (seed 3:
 * 78 kbit/s on 128 at c542a1d; seed 6: from 110 to 73 kbit/s). Over seeds 0-3, from 8 s into
 * the fade, the target stays at or above 75 % of the fade's capacity. */
static void test_cc_rain_fade_restore_is_not_pulled_back_by_the_cut(void **state)
{
	(void)state;
	for (sim_seed = 0; sim_seed <= 3; sim_seed++)
		rain_fade(false, 0.75);
}

/* With the reverse path late and lossy, most of the drain's delivery readings count lost
 * reports' packets as arrivals (145-190 kbit/s on 128 on average), and too few are clean to take
 * alone. The restore then took the rate delivered at that moment: 20 kbit/s at seed 39, where
 * the target stayed at 37-39 kbit/s on 128 for 3 s until a probe; 182 at seed 18, restored to
 * 155 (queueing p95 642 ms), the target then down to 59. The low quartile of the readings is the
 * capacity:
 * 128000 in 14 of the 16 unclean drains of seeds 0-63, 106-113 kbit/s in the other two. Seeds
 * 18 and 39 are the two of 0-63 where the old restore broke the bound. The simulation is chaotic
 * (see the top): if a change to the controller moves these seeds off an unclean drain, the
 * restores_unclean check fails rather than passing without testing it; pick two seeds again
 * (those of 0-63 whose reverse-path run ends a drain with fewer than 3 clean readings). */
static void test_cc_rain_fade_unclean_drain_restores_to_the_capacity(void **state)
{
	static const uint64_t seeds[] = {18, 39};

	(void)state;
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		sim_seed = seeds[i];
		rain_fade(true, 0.5);
		assert_true(last_stats.restores_unclean >= 1);
	}
}

/* Very heavy air loss (30 % in bursts of 3, no queue) for 10 s while the media sends well under
 * the target (application-limited at 100 kbit/s on a 512 kbit/s link: the sound squeezed into a
 * drain, a low rung). The loss-based bound caps only a sender that filled what it was allowed:
 * here the cap, a fraction of the 100 kbit/s delivered, held the target under what the media
 * sent (in a lab rain fade, 26 kbit/s against the 83 just restored, for 3.4 s; the ladder went
 * to stills). So the windows do not cap it (loss_caps_unfilled counts them). Seeds 0-7 pass;
 * without the rule 1-2 of the heavy windows capped it at each of them. Over seeds 0-63, 7 fail:
 * the policer's question (two lossy windows with no queue: a step to 0.8x the send rate,
 * policer_check) took the target under the media's rate, the sender then filled it, and the
 * next heavy window capped it (down to 47 kbit/s at seed 28); seed 17 had no window over 20 %. */
static void test_cc_heavy_loss_under_an_unfilled_target_is_not_capped(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}};
	static struct sim s;
	uint32_t min_tg = UINT32_MAX, caps_before;
	struct cc_stats st;

	(void)state;
	sim_init(&s, caps, 1, 100000);
	s.buffer_us = 1500000;
	s.one_way = 300000;
	bursty_loss(0.01, &s.loss_p_gb, &s.loss_p_bg);
	s.app_from = 10000000;
	s.app_bps = 100000;
	s.fade_from = 20000000;
	s.fade_to = 30000000;
	bursty_loss(0.30, &s.fade_p_gb, &s.fade_p_bg);
	sim_run(&s, 20000000);
	cc_get_stats(s.cc, &st);
	caps_before = st.loss_caps;
	while (s.t < 32000000) {
		sim_run(&s, s.t + 1000);
		if (cc_target_bps(s.cc) < min_tg)
			min_tg = cc_target_bps(s.cc);
	}
	cc_get_stats(s.cc, &st);
	printf("cc-sim: 30 %% air loss for 10 s under media at 100 kbit/s on 512k (seed %llu): min "
	       "target %u bps; loss windows that capped it %u (%u before), heavy-loss windows "
	       "not (sender under target) %u\n",
	       (unsigned long long)sim_seed, min_tg, st.loss_caps, caps_before,
	       st.loss_caps_unfilled);
	assert_true(st.loss_caps_unfilled >= 1);
	assert_int_equal(st.loss_caps, caps_before);
	/* the policer's question (a step to 0.8x the send rate: relay/cc.c's policer_check) may
	 * come, but no cap under the media's own rate */
	assert_true(min_tg >= 80000);
	sim_free(&s);
}

/* A policer (512 kbit/s, 100 ms of bucket) in front of a 2 Mbit/s link, no other loss: what
 * exceeds it is dropped at once, with no queue. Loss with no queue reads as the air's (the rain
 * fade's rule in rate_update) unless it grows with the send rate (policer_check): before that
 * check the controller ran at ~1.4x the policer (target mean 668665 bps, max 959652, 24.4 % of
 * the packets policed over 20-60 s). Found, the policer holds the target under it for 30 s
 * without probes, then the target tests 1.15x the bound: lifted there instead, the target ran
 * to 1.6x the policer (max 814904) and it was found 5 times. Then the policer goes (at 60 s):
 * at the next test the controller must see that and find the 2 Mbit/s link. */
static int64_t policer(double depth_s, double air_after)
{
	static const struct cap_step caps[] = {{0, 2000000}};
	static struct sim s;
	uint32_t max_target = 0;
	uint64_t sent0, policed0;
	double mean = 0, policed;
	unsigned n = 0;
	int64_t found_1m = -1;
	struct cc_stats st;
	uint32_t probes0, probe_n;

	sim_init(&s, caps, 1, 200000);
	s.police_bps = 512000;
	s.police_depth = 512000 / 8 * depth_s;
	s.police_tokens = s.police_depth;
	sim_run(&s, 20000000);
	sent0 = s.sent_pkts;
	policed0 = s.policed;
	cc_get_stats(s.cc, &st);
	probes0 = st.probes;
	while (s.t < 60000000) {
		uint32_t tg;

		sim_run(&s, s.t + 100000);
		tg = cc_target_bps(s.cc);
		mean += tg;
		n++;
		if (tg > max_target)
			max_target = tg;
	}
	mean /= n;
	policed = (double)(s.policed - policed0) / (double)(s.sent_pkts - sent0);
	cc_get_stats(s.cc, &st);
	probe_n = st.probes - probes0;
	s.police_bps = 0;
	if (air_after > 0)
		bursty_loss(air_after, &s.loss_p_gb, &s.loss_p_bg);
	while (s.t < 120000000 && found_1m < 0) {
		sim_run(&s, s.t + 100000);
		if (cc_target_bps(s.cc) >= 1000000)
			found_1m = s.t - 60000000;
	}
	printf("cc-sim: policer 512k (%.0f ms bucket) on a 2M link, 20-60 s: target mean %.0f bps, "
	       "max %u bps; %.2f %% of packets policed; policer found %u time(s), at 60 s at %u "
	       "bps; "
	       "policer gone%s: 1 Mbit/s %.1f s later; %u probe(s) over 20-60 s\n",
	       depth_s * 1000, mean, max_target, policed * 100, st.policer_finds, st.policer_bps,
	       air_after > 0 ? " (6 % air loss from then)" : "", found_1m / 1e6, probe_n);
	assert_true(st.policer_finds >= 1);
	/* the highest receive rate of the windows, not their mean (485376 with 500 ms of bucket) */
	assert_in_range(st.policer_bps, 0.97 * 512000, 1.05 * 512000);
	assert_true(mean >= 0.85 * 512000 && mean <= 1.05 * 512000);
	assert_true(max_target <= 1.2 * 512000);
	assert_true(policed <= 0.02);
	/* a probe cluster fits in the bucket: none while a policer is known */
	assert_int_equal(probe_n, 0);
	sim_free(&s);
	return found_1m;
}

/* 100 ms of bucket, 500 ms and 1 s: the last passes the excess of the test's 1.15x for 6.6 s, so
 * the test's first loss windows read as clean (POLICE_TEST_WINDOWS: with one, the target went
 * to 1568391 bps and 18.2 % of the packets were policed). And the policer replaced by 6 % air
 * loss: the test must not take that loss for the policer (what arrives still grows with what
 * is sent). */
static void test_cc_policer_is_found_and_its_rate_kept(void **state)
{
	static const double depth[] = {0.1, 0.5, 1.0};
	unsigned found = 0;

	(void)state;
	/* the bound holds 30 s; then the link is found as after any drop that ended */
	for (size_t i = 0; i < sizeof depth / sizeof depth[0]; i++) {
		int64_t t = policer(depth[i], 0);

		assert_true(t >= 0 && t <= 45000000);
	}
	/* with air loss, over seeds 0-15: 14 (at seeds 1 and 12, two test windows in a row lose
	 * 13-22 %); 9 when one window read as the policer (see relay/cc.c's policer_check) */
	for (sim_seed = 0; sim_seed < 16; sim_seed++) {
		int64_t t = policer(0.1, 0.06);

		found += t >= 0 && t <= 45000000;
	}
	sim_seed = base_seed;
	printf("cc-sim: policer gone, 6 %% air loss: 1 Mbit/s within 45 s at %u of 16 seeds\n",
	       found);
	assert_true(found >= 14);
}

/* Media that sends a steady 600 kbit/s at most (its top rung) through a 512 kbit/s policer: the
 * send rate never varies by itself, so the loss (15 %, below the loss bound's 20 %) must be
 * answered by varying it on purpose (policer_check's step down). */
static void test_cc_policer_under_steady_media_is_found(void **state)
{
	static const struct cap_step caps[] = {{0, 2000000}};
	static struct sim s;
	uint64_t sent0, policed0;
	double policed;
	struct cc_stats st;

	(void)state;
	sim_init(&s, caps, 1, 200000);
	s.police_bps = 512000;
	s.police_depth = 6400;
	s.police_tokens = s.police_depth;
	s.app_from = 0;
	s.app_bps = 600000;
	sim_run(&s, 30000000);
	sent0 = s.sent_pkts;
	policed0 = s.policed;
	sim_run(&s, 60000000);
	policed = (double)(s.policed - policed0) / (double)(s.sent_pkts - sent0);
	cc_get_stats(s.cc, &st);
	printf("cc-sim: media capped at 600k through a 512k policer: policer found %u time(s), "
	       "%.2f %% of packets policed over 30-60 s, target at 60 s %u bps\n",
	       st.policer_finds, policed * 100, cc_target_bps(s.cc));
	assert_true(st.policer_finds >= 1);
	assert_true(policed <= 0.025);
	sim_free(&s);
}

/* Found, then the media sends less than the policer passes (a low rung) when the hold's test
 * comes: the test learns nothing, and the policer stays held. Lifted instead, in the lab the
 * target ran to 1.4x the policer with 16-20 % loss once the ladder climbed again. The same when
 * the media sends just over the policer's rate (500 kbit/s of payload, ~525 on the wire, on
 * 512): too little over it to show it, and with windows counted as a test from 1.05x the held
 * ones (0.95x the policer) the test took it for gone (here at 490-505k of payload; in the lab's
 * 4g-policed, a rung sent 490-530 of the 569 kbit/s tested, then 9.4 and 16.5 % was lost in
 * the session's last 6 s). */
static void policer_test_unfilled(uint32_t app_bps)
{
	static const struct cap_step caps[] = {{0, 2000000}};
	static struct sim s;
	struct cc_stats st;
	uint32_t probes0;

	sim_init(&s, caps, 1, 200000);
	s.police_bps = 512000;
	s.police_depth = 6400;
	s.police_tokens = s.police_depth;
	sim_run(&s, 30000000);
	cc_get_stats(s.cc, &st);
	assert_true(st.policer_bps > 0);
	probes0 = st.probes;
	s.app_from = s.t;
	s.app_bps = app_bps;
	sim_run(&s, 80000000);
	cc_get_stats(s.cc, &st);
	printf("cc-sim: policer found, media at %uk from 30 s: at 80 s the policer held at %u "
	       "bps, %u probe(s) over 30-80 s\n",
	       app_bps / 1000, st.policer_bps, st.probes - probes0);
	assert_true(st.policer_bps > 0);
	assert_int_equal(st.probes - probes0, 0);
	sim_free(&s);
}

static void test_cc_policer_test_the_media_does_not_fill_keeps_it(void **state)
{
	(void)state;
	policer_test_unfilled(430000);
	policer_test_unfilled(500000);
}

/* The policer's mirror image: 10 % air loss in bursts of 3 on a 1 Mbit/s link (a fade at a rate
 * where each loss window holds 20 and more lost packets). What arrives follows what is sent, so
 * this is not a policer, however steady the receive rate looks while the send rate is, and the
 * step down that asks (policer_check) reads a burst's luck: over 16 seeds, one window before and
 * one after the step read as a policer at 4 and 1 of them (so two are pooled on each side). Each
 * step costs a little: mean utilisation 91.4 %, against 96.0 % without steps, and 86.0 %
 * without the target restored after one. */
static void test_cc_air_loss_10pct_is_not_a_policer(void **state)
{
	static const struct cap_step caps[] = {{0, 1000000}};
	static struct sim s;
	unsigned policers = 0, n = 0;
	double util = 0;

	(void)state;
	for (sim_seed = 0; sim_seed < 16; sim_seed++, n++) {
		struct cc_stats st;

		sim_init(&s, caps, 1, 200000);
		bursty_loss(0.10, &s.loss_p_gb, &s.loss_p_bg);
		s.m_start = 20000000;
		s.m_end = 60000000;
		sim_run(&s, 60000000);
		cc_get_stats(s.cc, &st);
		util += s.served_bits / (1000000.0 * 40.0);
		policers += st.policer_finds;
		sim_free(&s);
	}
	util /= n;
	printf("cc-sim: 10 %% bursty air loss on 1M, 20-60 s, 16 seeds: mean utilisation %.1f %%, "
	       "read as a policer %u time(s)\n",
	       util * 100, policers);
	assert_int_equal(policers, 0);
	assert_true(util >= 0.88);
}

/* One probe cluster, read directly: 10 packets (1200 B on the wire) at the start-up probe's
 * rate (3x 200 kbit/s) into a 400 kbit/s link. Their arrivals are spaced by the link, the ones
 * lost on the air included: linksim, like the satellite, loses a packet after the modem has
 * sent it (`policed`: lost_mask's packets are dropped before the link instead). The
 * probe fills the link, and the target it sets (0.95x the capacity it shows) must count the
 * time a lost packet took. */
static uint32_t probe_capacity(unsigned lost_mask, bool policed)
{
	struct cc *cc;
	struct cc_config cfg;
	struct cc_stats st;
	struct rtcp_twcc_pkt pk[10];
	uint32_t rate;
	unsigned min_packets;
	int64_t dur, t = 1000000, depart = 0;
	int id;

	cc_config_default(&cfg);
	cfg.start_bps = 200000;
	assert_int_equal(cc_new(&cc, &cfg), 0);
	id = cc_probe_next(cc, t, &rate, &min_packets, &dur);
	assert_true(id > 0);
	assert_true(rate > 400000);
	for (uint16_t i = 0; i < 10; i++) {
		bool lost = (lost_mask >> i) & 1;

		cc_on_packet_sent(cc, i, 1200 - CC_OVERHEAD_DEFAULT, t, id);
		if (!lost || !policed) /* a policer's drop never reaches the link */
			depart = (depart > t ? depart : t) + 1200 * 8 * 1000000ll / 400000;
		pk[i] = (struct rtcp_twcc_pkt){i, !lost, depart + 300000};
		t += 1200 * 8 * 1000000ll / rate;
	}
	assert_int_equal(cc_on_feedback(cc, pk, 10, depart + 600000), 0);
	cc_get_stats(cc, &st);
	cc_free(cc);
	return st.target_bps;
}

/* With packets 3 and 6 lost on the air, the probe shows the link's 400 kbit/s, not 7/9 of it
 * (test_cc's short drop at seed 11 set the capacity at 417 kbit/s on 512 that way). With 5 of
 * the 10 lost (a policer dropping what exceeds its rate: their time was never the link's),
 * only what arrived counts. */
static void test_cc_probe_capacity_counts_air_losses(void **state)
{
	uint32_t whole = probe_capacity(0, false), air = probe_capacity(1u << 3 | 1u << 6, false),
	         policed = probe_capacity(0x155, true);

	(void)state;
	printf("cc-sim: probe into 400 kbit/s: target after it %u bps whole, %u with 2 of 10 lost "
	       "on the air, %u with 5 of 10 policed\n",
	       whole, air, policed);
	assert_in_range(whole, 360000, 400000);
	assert_in_range(air, 360000, 400000);
	assert_true(policed < 360000);
}

static void test_cc_random_bursty_loss_1pct_does_not_collapse_rate(void **state)
{
	static const struct cap_step caps[] = {{0, 500000}};
	static struct sim s;
	uint32_t min_target = UINT32_MAX;
	struct cc_stats st;
	double util;

	sim_init(&s, caps, 1, 100000);
	/* Gilbert-Elliott: mean burst 3 packets (p_bg 1/3), stationary loss 1 %. */
	bursty_loss(0.01, &s.loss_p_gb, &s.loss_p_bg);
	s.m_start = 20000000;
	s.m_end = 80000000;
	sim_run(&s, 20000000);
	while (s.t < 80000000) {
		sim_run(&s, s.t + 1000);
		if (cc_target_bps(s.cc) < min_target)
			min_target = cc_target_bps(s.cc);
	}
	util = s.served_bits / (500000.0 * 60.0);
	printf("cc-sim: 1 %% bursty loss C=500k t=20..80s: air loss %.2f %% (%llu of %llu), "
	       "utilisation %.1f %%, min target %u bps (%.0f %% of C), queue p95 %.0f ms\n",
	       100.0 * (double)s.air_lost / (double)s.sent_pkts, (unsigned long long)s.air_lost,
	       (unsigned long long)s.sent_pkts, util * 100, min_target, min_target / 5000.0,
	       q_percentile(&s, 0.95));
	assert_true(s.air_lost > 0);
	assert_true(min_target >= 350000);
	assert_true(util >= 0.70);
	cc_get_stats(s.cc, &st);
	assert_int_equal(st.policer_finds, 0); /* nor from the start-up (policer_check) */
	sim_free(&s);
}

/* Feedback lost on the way back: the receiver reports each packet once, so packets 10-29
 * are never reported. They crossed the link; the delivery rate must not read as half of it. */
static void test_cc_lost_feedback_is_not_a_capacity_drop(void **state)
{
	struct cc *cc;
	struct cc_config cfg;
	struct rtcp_twcc_pkt p[10];
	struct cc_stats st;

	(void)state;
	cc_config_default(&cfg);
	cfg.probing = false;
	assert_int_equal(cc_new(&cc, &cfg), 0);
	/* 1264 wire bytes every 10 ms: 1.0112 Mbit/s; 300 ms each way */
	for (int i = 0; i < 40; i++)
		cc_on_packet_sent(cc, (uint16_t)(65530 + i), 1200, i * 10000, 0);
	for (int r = 0; r < 4; r++) {
		if (r == 1 || r == 2)
			continue; /* these two reports are lost */
		for (int j = 0; j < 10; j++) {
			int i = r * 10 + j;

			p[j] = (struct rtcp_twcc_pkt){.seq = (uint16_t)(65530 + i),
			                              .received = true,
			                              .arrival_us = 300000 + i * 10000};
		}
		assert_int_equal(cc_on_feedback(cc, p, 10, 600000 + r * 100000 + 90000), 0);
	}
	cc_get_stats(cc, &st);
	printf("cc-sim: 2 of 4 reports lost: delivery rate %u bps (sent at 1011200)\n",
	       st.acked_bps);
	assert_true(st.acked_bps >= 0.95 * 1011200 && st.acked_bps <= 1.05 * 1011200);
	cc_free(cc);
}

static void test_cc_feedback_timeout_halves_target(void **state)
{
	struct cc *cc;
	struct cc_config cfg;
	struct rtcp_twcc_pkt p = {.seq = 0, .received = true, .arrival_us = 300000};

	cc_config_default(&cfg);
	cfg.start_bps = 400000;
	cfg.probing = false;
	assert_int_equal(cc_new(&cc, &cfg), 0);
	cc_on_packet_sent(cc, 0, 1000, 0, 0);
	assert_int_equal(cc_on_feedback(cc, &p, 1, 600000), 0);
	cc_on_packet_sent(cc, 1, 1000, 700000, 0);
	/* RTT 600 ms: silence longer than max(1 s, 2 RTT) = 1.2 s after the last feedback. */
	cc_on_tick(cc, 1700000);
	assert_int_equal(cc_target_bps(cc), 400000);
	cc_on_tick(cc, 1900000);
	assert_int_equal(cc_target_bps(cc), 200000);
	cc_on_tick(cc, 2000000); /* at most once per period */
	assert_int_equal(cc_target_bps(cc), 200000);
	/* payload rate counts 64 bytes of overhead per packet: 200k * 100/164 */
	assert_int_equal(cc_payload_bps(cc, 100), 121951);
	assert_int_equal(cc_on_feedback(cc, NULL, 0, 0), -EINVAL);
	cc_free(cc);
	cfg.min_bps = 500000;
	assert_int_equal(cc_new(&cc, &cfg), -EINVAL);
}

/* The loss fraction the media sizes FEC and redundancy by, at a low rate: 40 kbit/s of
 * 200-byte packets (a low rung after a drop) over a 1 % link with bursts of 3. One 2 s window
 * holds 50 packets there, and one burst reads as 6 %: before the windows were pooled to 200
 * packets, 13 % of the values reported were 6 % or more (42 of 332 over these 5 x 300 s), and
 * the ladder stepped down to stills after a drop for it. At most 4 % of them now, and their
 * mean stays near the link's 1 %. */
static void test_cc_low_rate_loss_fraction_is_not_one_burst(void **state)
{
	static const struct cap_step caps[] = {{0, 512000}};
	static struct sim s;
	unsigned values = 0, high = 0, policers = 0;
	double sum = 0;

	(void)state;
	for (sim_seed = 0; sim_seed < 5; sim_seed++) {
		struct cc_stats end;
		double last = -1;

		sim_init(&s, caps, 1, 100000);
		s.payload = 200;
		bursty_loss(0.01, &s.loss_p_gb, &s.loss_p_bg);
		s.app_from = 0;
		s.app_bps = 40000;
		while (s.t < 300000000) {
			struct cc_stats st;

			sim_run(&s, s.t + 100000);
			cc_get_stats(s.cc, &st);
			if (st.loss != last && s.t > 10000000) {
				values++;
				high += st.loss >= 0.06;
				sum += st.loss;
			}
			last = st.loss;
		}
		cc_get_stats(s.cc, &end);
		policers += end.policer_finds;
		sim_free(&s);
	}
	printf("cc-sim: 40 kbit/s of 200 B packets, 1 %% bursty loss, 5 x 300 s: %u loss values "
	       "reported, %u of them >= 6 %%, mean %.2f %%; read as a policer %u time(s)\n",
	       values, high, 100.0 * sum / values, policers);
	/* air loss in bursts is not a policer (policer_check): one burst is 6-14 % of a window */
	assert_int_equal(policers, 0);
	assert_true(values >= 200);
	assert_true(high <= 0.04 * values);
	assert_true(sum / values >= 0.005 && sum / values <= 0.025);
}

int main(void)
{
	const char *seed = getenv("CC_SEED");
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cc_steady_state_uses_80_percent_with_low_queue),
	        cmocka_unit_test(test_cc_steady_state_geo_uplink_256k_rtt_800ms),
	        cmocka_unit_test(test_cc_steady_state_geo_downlink_2M_rtt_600ms),
	        cmocka_unit_test(test_cc_random_bursty_loss_2pct_rtt_700ms_keeps_rate),
	        cmocka_unit_test_teardown(test_cc_linksim_jitter_geo_sat, seed_reset),
	        cmocka_unit_test_teardown(test_cc_probes_squeezed_twice_and_a_standing_queue,
	                                  seed_reset),
	        cmocka_unit_test_teardown(test_cc_media_256k_linksim_jitter_is_not_congestion,
	                                  seed_reset),
	        cmocka_unit_test(test_cc_periodic_probe_delivered_whole_gives_nine_tenths),
	        cmocka_unit_test(test_cc_path_jitter_20ms_with_1pct_loss_like_geo_sat),
	        cmocka_unit_test(test_cc_small_packets_count_per_packet_overhead),
	        cmocka_unit_test(test_cc_outage_30s_then_recovers_quickly),
	        cmocka_unit_test(test_cc_outage_ends_on_a_slower_path),
	        cmocka_unit_test(test_cc_step_down_4x_gets_below_capacity_within_2s),
	        cmocka_unit_test(test_cc_step_up_4x_reaches_80_percent_within_15s),
	        cmocka_unit_test(test_cc_start_finds_the_link_without_a_queue_spike),
	        cmocka_unit_test(test_cc_start_probe_read_high_is_corrected_by_a_second_look),
	        cmocka_unit_test(test_cc_geo_drop_4x_drains_then_restores_and_finds_the_return),
	        cmocka_unit_test_teardown(test_cc_short_drop_app_limited_probes_back, seed_reset),
	        cmocka_unit_test(test_cc_long_drop_app_limited_finds_the_return),
	        cmocka_unit_test(test_cc_random_bursty_loss_1pct_does_not_collapse_rate),
	        cmocka_unit_test_teardown(test_cc_low_rate_loss_fraction_is_not_one_burst,
	                                  seed_reset),
	        cmocka_unit_test(test_cc_rain_fade_10pct_air_loss_keeps_the_fade_capacity),
	        cmocka_unit_test_teardown(test_cc_rain_fade_restore_is_not_pulled_back_by_the_cut,
	                                  seed_reset),
	        cmocka_unit_test_teardown(test_cc_rain_fade_unclean_drain_restores_to_the_capacity,
	                                  seed_reset),
	        cmocka_unit_test(test_cc_heavy_loss_under_an_unfilled_target_is_not_capped),
	        cmocka_unit_test(test_cc_feedback_timeout_halves_target),
	        cmocka_unit_test(test_cc_lost_feedback_is_not_a_capacity_drop),
	        cmocka_unit_test(test_cc_policer_is_found_and_its_rate_kept),
	        cmocka_unit_test_teardown(test_cc_air_loss_10pct_is_not_a_policer, seed_reset),
	        cmocka_unit_test(test_cc_policer_under_steady_media_is_found),
	        cmocka_unit_test(test_cc_policer_test_the_media_does_not_fill_keeps_it),
	        cmocka_unit_test(test_cc_probe_capacity_counts_air_losses),
	};
	if (seed)
		base_seed = sim_seed = strtoull(seed, NULL, 10);
	if (getenv("CC_ONLY")) /* one scenario by name (a glob) */
		cmocka_set_test_filter(getenv("CC_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
