/* codec/ladder.c — the audio-first bitrate ladder (table in codec/ladder.h). */
#include "codec/ladder.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define RUNG(name, abps, ams, mode, w, h, fnum, fden, layers, vbps, still_ms)                      \
	{name, abps, ams, mode, w, h, fnum, fden, layers, vbps, still_ms},
static const struct codec_ladder_rung rungs[] = {CODEC_LADDER_RUNGS(RUNG)};
#undef RUNG

#define NRUNGS        ((unsigned)(sizeof rungs / sizeof rungs[0]))
#define OVERHEAD_BITS (CODEC_LADDER_PACKET_OVERHEAD * 8ull)

unsigned codec_ladder_rung_count(void)
{
	return NRUNGS;
}

const struct codec_ladder_rung *codec_ladder_rung_get(unsigned i)
{
	return i < NRUNGS ? &rungs[i] : NULL;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

uint32_t codec_ladder_rung_link_bps(const struct codec_ladder_rung *r)
{
	/* Everything in bit/s, scaled by 1000 ms or by fps_num to stay in integers. */
	uint64_t bps = r->audio_bps + div_up(1000 * OVERHEAD_BITS, r->audio_frame_ms);

	if (r->mode == CODEC_LADDER_LIVE) {
		/* Average frame: video_bps / fps bytes/8; packets per frame rounded up. */
		uint64_t frame_bytes =
		        div_up((uint64_t)r->video_bps * r->fps_den, 8ull * r->fps_num);
		uint64_t pkts = div_up(frame_bytes, CODEC_LADDER_VIDEO_PAYLOAD);

		bps += r->video_bps + div_up(pkts * OVERHEAD_BITS * r->fps_num, r->fps_den);
	} else if (r->mode == CODEC_LADDER_STILLS) {
		uint64_t still_bytes = div_up((uint64_t)r->video_bps * r->stills_interval_ms, 8000);
		uint64_t pkts = div_up(still_bytes, CODEC_LADDER_VIDEO_PAYLOAD);

		bps += r->video_bps + div_up(pkts * OVERHEAD_BITS * 1000, r->stills_interval_ms);
	}
	return bps > UINT32_MAX ? UINT32_MAX : (uint32_t)bps;
}

void codec_ladder_set_extra(struct codec_ladder_state *s, codec_ladder_extra_fn fn, void *arg)
{
	s->extra = fn;
	s->extra_arg = fn ? arg : NULL;
}

uint32_t codec_ladder_cost(const struct codec_ladder_state *s, unsigned i)
{
	uint64_t c;

	if (i >= NRUNGS)
		return UINT32_MAX;
	c = codec_ladder_rung_link_bps(&rungs[i]);
	if (s->extra)
		c += s->extra(i, s->extra_arg);
	return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

_Static_assert(CODEC_LADDER_FLOOR_SLACK_PCT <= 100 - CODEC_LADDER_VIDEO_MIN_PCT,
               "the floor's slack must be within what the encoder's pushback can take");

unsigned codec_ladder_floor(void)
{
	unsigned i = 0;

	while (i + 1 < NRUNGS && rungs[i].mode != CODEC_LADDER_LIVE)
		i++;
	return i;
}

uint32_t codec_ladder_slack_bps(unsigned i)
{
	if (i != codec_ladder_floor() || rungs[i].mode != CODEC_LADDER_LIVE)
		return 0;
	return (uint32_t)((uint64_t)rungs[i].video_bps * CODEC_LADDER_FLOOR_SLACK_PCT / 100);
}

/* Whether rung i, protection counted, can stay at link_bps: its cost less its slack fits. */
static bool fits(const struct codec_ladder_state *s, unsigned i, uint32_t link_bps)
{
	return (uint64_t)codec_ladder_cost(s, i) <= (uint64_t)link_bps + codec_ladder_slack_bps(i);
}

/* The highest rung the ladder may take (codec_ladder_set_top; 0: the table's). */
static unsigned top_of(const struct codec_ladder_state *s)
{
	return s->top && s->top < NRUNGS ? s->top : NRUNGS - 1;
}

/* The highest rung up to the top that fits link_bps (0 if none). With slack: the floor is taken
 * rather than stills wherever it could be kept (a downgrade from 90p-15 to the floor at its
 * slack's rate). */
static unsigned pick(const struct codec_ladder_state *s, uint32_t link_bps, bool slack)
{
	unsigned i = top_of(s) + 1;

	while (i-- > 1)
		if (slack ? fits(s, i, link_bps) : codec_ladder_cost(s, i) <= link_bps)
			return i;
	return 0;
}

unsigned codec_ladder_pick(uint32_t link_bps)
{
	static const struct codec_ladder_state none; /* no protection */

	return pick(&none, link_bps, false);
}

static bool loss_ok(double loss)
{
	return !isnan(loss) && loss >= 0.0 && loss <= 1.0;
}

int codec_ladder_settings_for(unsigned index, double loss, uint32_t rtt_ms,
                              struct codec_ladder_settings *out)
{
	unsigned pct;

	if (!out || index >= NRUNGS || !loss_ok(loss))
		return -EINVAL;
	memset(out, 0, sizeof *out);
	out->index = index;
	out->rung = rungs[index];
	out->link_bps = codec_ladder_rung_link_bps(&rungs[index]);
	/* Opus FEC re-sends the previous frame at low rate inside the same bitrate: worth it as
	 * soon as packets get lost, and always when the RTT is too long to recover any other way
	 * (no time for a retransmission before the playout deadline). */
	pct = (unsigned)ceil(loss * 100.0 - 1e-9);
	out->audio_fec = pct > 0 || rtt_ms >= CODEC_LADDER_FEC_RTT_MS;
	if (out->audio_fec) {
		if (pct < CODEC_LADDER_FEC_MIN_LOSS_PCT)
			pct = CODEC_LADDER_FEC_MIN_LOSS_PCT;
		if (pct > CODEC_LADDER_FEC_MAX_LOSS_PCT)
			pct = CODEC_LADDER_FEC_MAX_LOSS_PCT;
		out->audio_loss_pct = pct;
	}
	return 0;
}

void codec_ladder_state_init(struct codec_ladder_state *s)
{
	memset(s, 0, sizeof *s);
}

void codec_ladder_set_top(struct codec_ladder_state *s, unsigned top)
{
	s->top = top;
}

unsigned codec_ladder_top(const struct codec_ladder_state *s)
{
	return top_of(s);
}

uint64_t codec_ladder_climb_bps(unsigned i, uint32_t cost_bps)
{
	uint64_t c = cost_bps, slack = codec_ladder_slack_bps(i);

	c = c > slack ? c - slack : 0;
	return c * (100 + CODEC_LADDER_UPGRADE_MARGIN_PCT) / 100;
}

/* Threshold the estimate must hold to climb onto rung i (codec_ladder_climb_bps at its cost). */
static uint64_t upgrade_threshold(const struct codec_ladder_state *s, unsigned i)
{
	return codec_ladder_climb_bps(i, codec_ladder_cost(s, i));
}

int codec_ladder_update(struct codec_ladder_state *s, uint64_t now_ms, uint32_t link_bps,
                        double loss, uint32_t rtt_ms, struct codec_ladder_settings *out)
{
	uint64_t hold = CODEC_LADDER_UPGRADE_HOLD_MS;
	unsigned idx;

	if (!s || !out || !loss_ok(loss) || s->index >= NRUNGS)
		return -EINVAL;
	if (s->started && now_ms < s->last_ms)
		return -EINVAL;
	if ((uint64_t)rtt_ms * 4 > hold)
		hold = (uint64_t)rtt_ms * 4;

	idx = s->index;
	if (!s->started) {
		/* First estimate: nothing to be stable against yet, take what fits. */
		idx = pick(s, link_bps, true);
		s->started = true;
		s->holding = false;
	} else if (idx > top_of(s) || (idx > 0 && !fits(s, idx, link_bps))) {
		/* Downgrade at once, as far as needed: a satellite modem's queue grows fast. */
		idx = pick(s, link_bps, true);
		s->holding = false;
		s->downgrades++;
	} else if (idx < top_of(s) && link_bps >= upgrade_threshold(s, idx + 1)) {
		if (!s->holding) {
			s->holding = true;
			s->hold_since_ms = now_ms;
			s->hold_min_bps = link_bps;
		} else {
			if (link_bps < s->hold_min_bps)
				s->hold_min_bps = link_bps;
			if (now_ms - s->hold_since_ms >= hold) {
				/* As high as the estimate held all through the hold: a link that
				 * came back climbs in one step, not one hold per rung. */
				while (idx < top_of(s) &&
				       s->hold_min_bps >= upgrade_threshold(s, idx + 1))
					idx++;
				s->upgrades++;
				/* The next rung up has to earn its own hold from now on. */
				s->holding = false;
			}
		}
	} else {
		s->holding = false;
	}
	s->index = idx;
	s->last_ms = now_ms;
	return codec_ladder_settings_for(idx, loss, rtt_ms, out);
}

void codec_ladder_opus_config(const struct codec_ladder_settings *st,
                              struct codec_opus_enc_config *cfg)
{
	codec_opus_enc_config_default(cfg);
	cfg->sample_rate = CODEC_OPUS_RTP_RATE;
	cfg->channels = 1;
	cfg->bitrate_bps = st->rung.audio_bps;
	cfg->frame_ms = st->rung.audio_frame_ms;
	cfg->fec = st->audio_fec;
	cfg->expected_loss_pct = st->audio_loss_pct;
	cfg->dtx = false;
}
