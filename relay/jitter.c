/* relay/jitter.c — adaptive audio jitter buffer and video frame assembly (see jitter.h). */
#include "relay/jitter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay/rtp.h"

const char *jb_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case JB_ELATE:
		return "packet arrived after its playout time";
	case JB_EDUP:
		return "duplicate packet";
	case JB_EINVAL:
		return "jitter buffer argument out of range";
	case JB_EFULL:
		return "packet too far ahead of playout";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown jitter buffer error";
	}
}

#define AUDIO_SLOTS   512
#define DELAY_SAMPLES 1024

struct aslot {
	bool valid;
	int64_t idx;
	uint32_t ts;
	unsigned units; /* duration in frame_samples units */
	uint8_t *data;
	size_t len;
};

struct jb_audio {
	struct jb_audio_config cfg;
	int64_t frame_us;
	struct aslot slots[AUDIO_SLOTS];
	bool started, playing;
	uint32_t ts0;
	int64_t ts_ext_last; /* unwrapped timestamp of the last packet (relative to ts0) */
	int64_t play_idx;    /* next frame index to produce */
	uint8_t *held;       /* payload handed out by the last JB_PLAY */
	/* delay samples: arrival - media time, for the percentile */
	struct {
		int64_t t, d;
	} ds[DELAY_SAMPLES];
	size_t ds_head, ds_n;
	int64_t target_us;
	int64_t jitter_target_us; /* target from the jitter alone */
	int64_t sync_floor_us, sync_max_extra_us;
	int64_t last_shrink_idx;
	/* RFC 3550 jitter */
	bool have_prev;
	int64_t prev_arr, prev_media;
	double jitter;
	struct jb_audio_stats st;
};

int jb_audio_new(struct jb_audio **out, const struct jb_audio_config *cfg)
{
	struct jb_audio *jb;
	struct jb_audio_config c = {0};

	if (cfg)
		c = *cfg;
	if (!c.clock_rate)
		c.clock_rate = 48000;
	if (!c.frame_samples)
		c.frame_samples = 960;
	if (!c.min_delay_us)
		c.min_delay_us = 40000;
	if (!c.max_delay_us)
		c.max_delay_us = 1000000;
	if (!c.window_us)
		c.window_us = 4000000;
	if (!c.margin_us)
		c.margin_us = 10000;
	if (c.min_delay_us > c.max_delay_us)
		return JB_EINVAL;
	jb = calloc(1, sizeof *jb);
	if (!jb)
		return -ENOMEM;
	jb->cfg = c;
	jb->frame_us = (int64_t)c.frame_samples * 1000000 / c.clock_rate;
	jb->target_us = c.min_delay_us;
	jb->jitter_target_us = c.min_delay_us;
	jb->last_shrink_idx = INT64_MIN / 2;
	*out = jb;
	return 0;
}

void jb_audio_free(struct jb_audio *jb)
{
	if (!jb)
		return;
	for (int i = 0; i < AUDIO_SLOTS; i++)
		free(jb->slots[i].data);
	free(jb->held);
	free(jb);
}

static int64_t media_us(const struct jb_audio *jb, int64_t ts_ext)
{
	return ts_ext * 1000000 / jb->cfg.clock_rate;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Minimum of the windowed delays (the fastest path seen recently). */
static int64_t delay_min(const struct jb_audio *jb)
{
	int64_t m = INT64_MAX;

	for (size_t i = 0; i < jb->ds_n; i++) {
		int64_t d = jb->ds[(jb->ds_head + i) % DELAY_SAMPLES].d;

		if (d < m)
			m = d;
	}
	return m;
}

/* 95th percentile of the delays above the minimum among samples newer than `since`. */
static int64_t delay_p95(const struct jb_audio *jb, int64_t m, int64_t since)
{
	static int64_t tmp[DELAY_SAMPLES];
	size_t n = 0;

	for (size_t i = 0; i < jb->ds_n; i++) {
		size_t k = (jb->ds_head + i) % DELAY_SAMPLES;

		if (jb->ds[k].t >= since)
			tmp[n++] = jb->ds[k].d - m;
	}
	if (!n)
		return 0;
	qsort(tmp, n, sizeof *tmp, cmp_i64);
	return tmp[(size_t)((double)(n - 1) * 0.95 + 0.5)];
}

/* The jitter's target, raised to the lip-sync floor, at most the maximum. */
static void apply_target(struct jb_audio *jb)
{
	int64_t t = jb->jitter_target_us;

	if (jb->sync_floor_us > t)
		t = jb->sync_floor_us < t + jb->sync_max_extra_us ? jb->sync_floor_us
		                                                  : t + jb->sync_max_extra_us;
	if (t > jb->cfg.max_delay_us)
		t = jb->cfg.max_delay_us;
	jb->target_us = t;
}

void jb_audio_set_sync_delay(struct jb_audio *jb, int64_t floor_us, int64_t max_extra_us)
{
	jb->sync_floor_us = floor_us > 0 ? floor_us : 0;
	jb->sync_max_extra_us = max_extra_us > 0 ? max_extra_us : 0;
	apply_target(jb);
}

/* Target = 95th percentile of delay above the minimum, + margin, clamped. The percentile over
 * the last second lets the target rise within a second of jitter appearing; the one over the
 * whole window keeps it up until the jitter has been gone for that long. */
static void update_target(struct jb_audio *jb, int64_t now)
{
	int64_t m = delay_min(jb), t, recent;

	if (!jb->ds_n)
		return;
	t = delay_p95(jb, m, INT64_MIN);
	recent = delay_p95(jb, m, now - 1000000);
	if (recent > t)
		t = recent;
	t += jb->cfg.margin_us;
	if (t < jb->cfg.min_delay_us)
		t = jb->cfg.min_delay_us;
	if (t > jb->cfg.max_delay_us)
		t = jb->cfg.max_delay_us;
	jb->jitter_target_us = t;
	apply_target(jb);
}

int jb_audio_put(struct jb_audio *jb, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
                 int64_t arrival_us)
{
	return jb_audio_put_samples(jb, seq, ts, payload, len, 0, arrival_us);
}

int jb_audio_put_samples(struct jb_audio *jb, uint16_t seq, uint32_t ts, const uint8_t *payload,
                         size_t len, unsigned samples, int64_t arrival_us)
{
	int64_t ts_ext, idx, d;
	struct aslot *s;
	uint8_t *copy;
	unsigned units;

	(void)seq;
	if (!samples)
		samples = jb->cfg.frame_samples;
	if (!payload || len == 0 || samples % jb->cfg.frame_samples ||
	    samples / jb->cfg.frame_samples > 16)
		return JB_EINVAL;
	units = samples / jb->cfg.frame_samples;
	if (!jb->started) {
		jb->started = true;
		jb->ts0 = ts;
		jb->ts_ext_last = 0;
	}
	ts_ext = jb->ts_ext_last + (int32_t)(ts - (uint32_t)(jb->ts0 + jb->ts_ext_last));
	idx = ts_ext >= 0 ? ts_ext / jb->cfg.frame_samples
	                  : -((-ts_ext + jb->cfg.frame_samples - 1) / jb->cfg.frame_samples);
	s = &jb->slots[idx & (AUDIO_SLOTS - 1)];
	if (s->valid && s->idx == idx)
		return JB_EDUP;
	if (idx - jb->play_idx >= AUDIO_SLOTS)
		return JB_EFULL;
	/* Delay statistics before the lateness check: late packets are exactly the ones the target
	 * must learn from. */
	d = arrival_us - media_us(jb, ts_ext);
	if (jb->have_prev) {
		int64_t D = (arrival_us - jb->prev_arr) - (media_us(jb, ts_ext) - jb->prev_media);

		jb->jitter += ((double)(D < 0 ? -D : D) - jb->jitter) / 16.0;
	}
	jb->have_prev = true;
	jb->prev_arr = arrival_us;
	jb->prev_media = media_us(jb, ts_ext);
	if (jb->ds_n == DELAY_SAMPLES) {
		jb->ds_head = (jb->ds_head + 1) % DELAY_SAMPLES;
		jb->ds_n--;
	}
	jb->ds[(jb->ds_head + jb->ds_n) % DELAY_SAMPLES].t = arrival_us;
	jb->ds[(jb->ds_head + jb->ds_n) % DELAY_SAMPLES].d = d;
	jb->ds_n++;
	while (jb->ds_n > 1 && jb->ds[jb->ds_head].t < arrival_us - jb->cfg.window_us) {
		jb->ds_head = (jb->ds_head + 1) % DELAY_SAMPLES;
		jb->ds_n--;
	}
	update_target(jb, arrival_us);
	if (jb->playing && idx < jb->play_idx) {
		jb->st.dropped_late++;
		return JB_ELATE;
	}
	if (!jb->playing && idx < jb->play_idx)
		jb->play_idx = idx; /* reordered before playout started */
	if (idx - jb->play_idx >= AUDIO_SLOTS)
		return JB_EFULL;
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, payload, len);
	if (ts_ext > jb->ts_ext_last)
		jb->ts_ext_last = ts_ext;
	free(s->data);
	*s = (struct aslot){true, idx, ts, units, copy, len};

	return 0;
}

static struct aslot *slot_at(struct jb_audio *jb, int64_t idx)
{
	struct aslot *s = &jb->slots[idx & (AUDIO_SLOTS - 1)];

	return s->valid && s->idx == idx ? s : NULL;
}

static uint32_t ts_of(const struct jb_audio *jb, int64_t idx)
{
	return (uint32_t)(jb->ts0 + (uint64_t)(idx * jb->cfg.frame_samples));
}

void jb_audio_get(struct jb_audio *jb, int64_t now_us, struct jb_audio_frame *f)
{
	struct aslot *s, *next;
	int64_t delay;

	free(jb->held);
	jb->held = NULL;
	memset(f, 0, sizeof *f);
	f->action = JB_WAIT;
	if (!jb->started || !jb->ds_n)
		return;
	/* Playout delay of the frame due now, relative to the fastest recent path. */
	delay = now_us - (delay_min(jb) + media_us(jb, jb->play_idx * jb->cfg.frame_samples));
	if (!jb->playing) {
		if (delay < jb->target_us)
			return;
		jb->playing = true;
	}
	f->timestamp = ts_of(jb, jb->play_idx);
	/* Grow: the delay fell short of the target (jitter rose): conceal without advancing. */
	if (delay < jb->target_us - jb->frame_us / 2) {
		f->action = JB_CONCEAL;
		f->samples = jb->cfg.frame_samples;
		jb->st.expanded++;
		jb->st.concealed++;
		return;
	}
	/* Shrink: more than a packet above target, at most one dropped packet every 10 frames. */
	s = slot_at(jb, jb->play_idx);
	if (s && delay > jb->target_us + (int64_t)s->units * jb->frame_us &&
	    jb->play_idx - jb->last_shrink_idx >= 10 && slot_at(jb, jb->play_idx + s->units)) {
		jb->play_idx += s->units;
		free(s->data);
		s->data = NULL;
		s->valid = false;
		jb->last_shrink_idx = jb->play_idx;
		jb->st.dropped_shrink++;
		f->dropped_one = true;
		f->timestamp = ts_of(jb, jb->play_idx);
	}
	s = slot_at(jb, jb->play_idx);
	if (s) {
		f->action = JB_PLAY;
		f->samples = s->units * jb->cfg.frame_samples;
		jb->held = s->data;
		f->payload = s->data;
		f->len = s->len;
		s->data = NULL;
		s->valid = false;
		jb->play_idx += s->units;
		jb->st.played++;
		return;
	}
	/* Missing: Opus carries the previous frame's LBRR (same duration as its own frames) in the
	 * next packet, so FEC fits when the gap is exactly that long. */
	for (unsigned g = 1; g <= 16; g++) {
		next = slot_at(jb, jb->play_idx + g);
		if (!next)
			continue;
		if (next->units == g) {
			f->action = JB_FEC;
			f->samples = g * jb->cfg.frame_samples;
			f->payload = next->data;
			f->len = next->len;
			jb->play_idx += g;
			jb->st.fec++;
			return;
		}
		break;
	}
	f->action = JB_CONCEAL;
	f->samples = jb->cfg.frame_samples;
	jb->st.concealed++;
	jb->play_idx++;
}

void jb_audio_get_stats(const struct jb_audio *jb, struct jb_audio_stats *st)
{
	*st = jb->st;
	st->target_us = jb->target_us;
	st->jitter_target_us = jb->jitter_target_us;
	st->sync_floor_us = jb->sync_floor_us;
	st->jitter_us = (int64_t)jb->jitter;
	st->buffered_us = 0;
	if (jb->started) {
		int64_t ahead = jb->ts_ext_last / jb->cfg.frame_samples + 1 - jb->play_idx;

		st->buffered_us = ahead > 0 ? ahead * jb->frame_us : 0;
	}
}

/* ---- video ---- */

struct vslot {
	bool valid;
	int64_t ext;
	uint32_t ts;
	bool start, marker, independent;
	uint16_t tag;
	uint8_t *data;
	size_t len;
	int64_t arrival;
};

struct jb_video {
	struct jb_video_config cfg;
	struct vslot *slots;
	struct rtp_seq_unwrap unwrap;
	bool have_next;
	int64_t next;    /* first extended seq of the next frame to output */
	int64_t highest; /* highest extended seq received */
	bool any;
	int64_t release_from, release_to; /* output last time, freed on the next call */
	int64_t out_us; /* arrival-clock time the last frame handed out could go */
	const uint8_t **payloads;
	size_t *lens;
	uint16_t *missing;
	struct nack {
		int64_t ext;
		int64_t detected, last;
		unsigned count;
		bool valid;
	} * nacks; /* by extended seq, for gaps seen */
};

int jb_video_new(struct jb_video **out, const struct jb_video_config *cfg)
{
	struct jb_video *v;
	struct jb_video_config c = {0};

	if (cfg)
		c = *cfg;
	if (!c.wait_us)
		c.wait_us = 200000;
	if (!c.max_packets)
		c.max_packets = 2048;
	if (!c.max_frame_packets)
		c.max_frame_packets = 256;
	if (c.max_frame_packets > c.max_packets)
		return JB_EINVAL;
	v = calloc(1, sizeof *v);
	if (!v)
		return -ENOMEM;
	v->cfg = c;
	v->slots = calloc(c.max_packets, sizeof *v->slots);
	v->payloads = calloc(c.max_frame_packets, sizeof *v->payloads);
	v->lens = calloc(c.max_frame_packets, sizeof *v->lens);
	v->missing = calloc(c.max_packets, sizeof *v->missing);
	v->nacks = calloc(c.max_packets, sizeof *v->nacks);
	if (!v->slots || !v->payloads || !v->lens || !v->missing || !v->nacks) {
		jb_video_free(v);
		return -ENOMEM;
	}
	v->release_from = v->release_to = 0;
	*out = v;
	return 0;
}

void jb_video_free(struct jb_video *v)
{
	if (!v)
		return;
	if (v->slots)
		for (size_t i = 0; i < v->cfg.max_packets; i++)
			free(v->slots[i].data);
	free(v->slots);
	free(v->payloads);
	free(v->lens);
	free(v->missing);
	free(v->nacks);
	free(v);
}

static struct vslot *vslot_at(const struct jb_video *v, int64_t ext)
{
	struct vslot *s = &v->slots[(uint64_t)ext % v->cfg.max_packets];

	return s->valid && s->ext == ext ? s : NULL;
}

static void vslot_free(struct jb_video *v, int64_t ext)
{
	struct vslot *s = vslot_at(v, ext);

	if (s) {
		free(s->data);
		s->data = NULL;
		s->valid = false;
	}
}

int jb_video_put(struct jb_video *v, uint16_t seq, uint32_t ts, unsigned flags, bool marker,
                 const uint8_t *payload, size_t len, int64_t arrival_us)
{
	bool start = flags & JB_VIDEO_START;
	struct rtp_seq_unwrap u = v->unwrap;
	int64_t ext;
	struct vslot *s;
	uint8_t *copy;

	if (!payload || len == 0 ||
	    (flags & ~(JB_VIDEO_START | JB_VIDEO_INDEPENDENT | JB_VIDEO_TAG(0xffff))))
		return JB_EINVAL;
	ext = rtp_seq_unwrap(&u, seq);
	if (v->have_next && ext < v->next)
		return JB_ELATE;
	if (v->have_next && ext - v->next >= (int64_t)v->cfg.max_packets)
		return JB_EFULL;
	if (!v->have_next && v->any &&
	    (ext - v->highest >= (int64_t)v->cfg.max_packets / 2 ||
	     v->highest - ext >= (int64_t)v->cfg.max_packets / 2))
		return JB_EFULL;
	if (vslot_at(v, ext))
		return JB_EDUP;
	s = &v->slots[(uint64_t)ext % v->cfg.max_packets];
	if (s->valid)
		return JB_EFULL; /* slot still held by an older packet */
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, payload, len);
	v->unwrap = u;
	*s = (struct vslot){.valid = true,
	                    .ext = ext,
	                    .ts = ts,
	                    .start = start,
	                    .marker = marker,
	                    .independent = start && (flags & JB_VIDEO_INDEPENDENT),
	                    .tag = (uint16_t)(flags >> 8),
	                    .data = copy,
	                    .len = len,
	                    .arrival = arrival_us};
	/* A jump forward reveals a gap: remember when, for the NACK deadline. */
	if (v->any && ext > v->highest + 1)
		for (int64_t e = ext - 1; e > v->highest && ext - e < (int64_t)v->cfg.max_packets;
		     e--) {
			struct nack *n = &v->nacks[(uint64_t)e % v->cfg.max_packets];

			*n = (struct nack){.ext = e, .detected = arrival_us, .valid = true};
		}
	if (!v->any || ext > v->highest)
		v->highest = ext;
	v->any = true;
	return 0;
}

static int64_t frame_end(const struct jb_video *v, int64_t ext);

/* Whether a complete frame from `from` on (the first complete one behind the head's gap)
 * decodes without the gap: an independent one, or one the config's gap_unneeded accepts. */
static bool gap_unneeded_behind(const struct jb_video *v, int64_t from)
{
	int64_t gap = v->next;

	while (gap < from && vslot_at(v, gap))
		gap++;
	for (int64_t e = from; e <= v->highest; e++) {
		struct vslot *s = vslot_at(v, e);
		int64_t end;

		if (!s || !s->start || (end = frame_end(v, e)) < 0)
			continue;
		if (s->independent ||
		    (v->cfg.gap_unneeded &&
		     v->cfg.gap_unneeded(v->cfg.arg, s->data, s->len, s->tag, (uint16_t)gap)))
			return true;
		e = end;
	}
	return false;
}

/* If the frame starting at ext is complete, returns its last extended seq, else -1. */
static int64_t frame_end(const struct jb_video *v, int64_t ext)
{
	struct vslot *s = vslot_at(v, ext);
	uint32_t ts;

	if (!s || !s->start)
		return -1;
	ts = s->ts;
	for (int64_t e = ext; e <= v->highest; e++) {
		s = vslot_at(v, e);
		if (!s || s->ts != ts)
			return -1;
		if (s->marker)
			return e;
	}
	return -1;
}

enum jb_video_result jb_video_get(struct jb_video *v, int64_t now_us, struct jb_video_frame *f)
{
	int64_t end, later = -1, first_arr = INT64_MAX;
	size_t n = 0;

	for (int64_t e = v->release_from; e < v->release_to; e++)
		vslot_free(v, e);
	v->release_from = v->release_to = 0;
	memset(f, 0, sizeof *f);
	if (!v->any)
		return JB_VIDEO_NONE;
	if (!v->have_next) {
		/* The oldest start packet buffered begins the stream. */
		for (int64_t e = v->highest - (int64_t)v->cfg.max_packets + 1; e <= v->highest;
		     e++) {
			struct vslot *s = vslot_at(v, e);

			if (s && s->start) {
				v->next = e;
				v->have_next = true;
				break;
			}
		}
		if (!v->have_next)
			return JB_VIDEO_NONE;
	}
	end = frame_end(v, v->next);
	if (end >= 0 && (size_t)(end - v->next + 1) <= v->cfg.max_frame_packets) {
		for (int64_t e = v->next; e <= end; e++) {
			struct vslot *s = vslot_at(v, e);

			v->payloads[n] = s->data;
			v->lens[n] = s->len;
			if (s->arrival < first_arr)
				first_arr = s->arrival;
			if (s->arrival > f->complete_us)
				f->complete_us = s->arrival;
			n++;
		}
		f->timestamp = vslot_at(v, v->next)->ts;
		f->tag = vslot_at(v, v->next)->tag;
		f->first_seq = (uint16_t)v->next;
		f->last_seq = (uint16_t)end;
		f->n_packets = n;
		f->payloads = v->payloads;
		f->lens = v->lens;
		f->first_arrival_us = first_arr;
		/* frames go out in order: complete behind one still incomplete, it waited */
		if (f->complete_us > v->out_us)
			v->out_us = f->complete_us;
		f->waited_us = v->out_us - f->complete_us;
		v->release_from = v->next;
		v->release_to = end + 1;
		v->next = end + 1;
		return JB_VIDEO_FRAME;
	}
	/* Head incomplete: is a later frame complete? */
	for (int64_t e = v->next + 1; e <= v->highest; e++) {
		struct vslot *s = vslot_at(v, e);

		if (s && s->start && frame_end(v, e) >= 0) {
			later = e;
			break;
		}
	}
	if (later < 0)
		return JB_VIDEO_NONE;
	for (int64_t e = v->next; e <= later; e++) {
		struct vslot *s = vslot_at(v, e);

		if (s && s->arrival < first_arr)
			first_arr = s->arrival;
	}
	/* A complete key frame behind the gap: the frames in the gap are not needed to decode it
	 * or anything after it, and showing them would only hold it back. This is the usual case
	 * after the sender's pacer dropped stale pictures (they never come; the encoder's next
	 * picture is a key frame) or after an outage answered by a keyframe request. The same for
	 * a frame gap_unneeded says decodes without the gap (the frames before it that need the
	 * gap come out and are for the caller to skip). */
	if (now_us - first_arr <= v->cfg.wait_us && !gap_unneeded_behind(v, later))
		return JB_VIDEO_NONE;
	for (int64_t e = v->next; e < later; e++) {
		struct vslot *s = vslot_at(v, e);

		if (!s)
			v->missing[f->n_missing++] = (uint16_t)e;
		else if (f->n_packets == 0)
			f->timestamp = s->ts;
		if (s)
			f->n_packets++;
	}
	f->first_seq = (uint16_t)v->next;
	f->last_seq = (uint16_t)(later - 1);
	f->missing = v->missing;
	f->first_arrival_us = first_arr;
	f->n_packets = 0; /* nothing usable is handed out for a dropped frame */
	if (v->out_us < now_us)
		v->out_us = now_us; /* what follows waited for the gap until now */
	v->release_from = v->next;
	v->release_to = later;
	v->next = later;
	return JB_VIDEO_DROPPED;
}

size_t jb_video_missing(const struct jb_video *v, uint16_t *seqs, size_t cap)
{
	size_t n = 0;
	int64_t from;

	if (!v->any)
		return 0;
	from = v->have_next ? v->next : v->highest;
	for (int64_t e = from; e <= v->highest && n < cap; e++)
		if (!vslot_at(v, e))
			seqs[n++] = (uint16_t)e;
	return n;
}

size_t jb_video_nack(struct jb_video *v, int64_t now_us, int64_t rtt_us, uint16_t *seqs, size_t cap)
{
	size_t n = 0;
	int64_t from;

	if (!v->any)
		return 0;
	from = v->have_next ? v->next : v->highest - (int64_t)v->cfg.max_packets + 1;
	for (int64_t e = from; e <= v->highest && n < cap; e++) {
		struct nack *k = &v->nacks[(uint64_t)e % v->cfg.max_packets];

		if (vslot_at(v, e) || !k->valid || k->ext != e)
			continue;
		if (k->count >= 3 || (k->count && now_us - k->last < rtt_us))
			continue;
		if (now_us + rtt_us > k->detected + v->cfg.wait_us)
			continue; /* the answer would come after the frame is given up */
		k->count++;
		k->last = now_us;
		seqs[n++] = (uint16_t)e;
	}
	return n;
}

bool jb_keyframe_request(struct jb_keyframe_limiter *k, int64_t now_us, int64_t rtt_us,
                         int64_t min_interval_us)
{
	int64_t gap = rtt_us + rtt_us / 2;

	if (gap < min_interval_us)
		gap = min_interval_us;
	if (k->sent && now_us - k->last_us < gap)
		return false;
	k->sent = true;
	k->last_us = now_us;
	k->requests++;
	return true;
}

/* ---- lip sync ---- */

#define SYNC_HIST 256

struct jb_sync {
	struct jb_sync_config cfg;
	bool have_audio;
	int64_t audio_delay, audio_at; /* latest audio delay (capture -> playout), when played */
	struct {
		int64_t t, d;
	} vd[SYNC_HIST]; /* video ready delays */
	size_t vd_head, vd_n;
	int64_t floor, next_update;
	bool updated;
	bool adjusted; /* the floor was raised once */
	uint64_t bursts_not_followed;
};

int jb_sync_new(struct jb_sync **out, const struct jb_sync_config *cfg)
{
	struct jb_sync_config c = {0};
	struct jb_sync *s;

	if (cfg)
		c = *cfg;
	if (c.max_video_hold_us < 0 || c.max_audio_extra_us < 0 || c.threshold_us < 0 ||
	    c.step_up_us < 0 || c.step_down_us < 0 || c.interval_us < 0 || c.window_us < 0 ||
	    c.audio_stale_us < 0 || c.lead_ok_us < 0 || c.persist_us < 0)
		return JB_EINVAL;
	if (!c.max_video_hold_us)
		c.max_video_hold_us = 1000000;
	if (!c.max_audio_extra_us)
		c.max_audio_extra_us = 150000;
	if (!c.threshold_us)
		c.threshold_us = 30000;
	if (!c.step_up_us)
		c.step_up_us = 80000;
	if (!c.step_down_us)
		c.step_down_us = 40000;
	if (!c.interval_us)
		c.interval_us = 500000;
	if (!c.window_us)
		c.window_us = 4000000;
	if (!c.audio_stale_us)
		c.audio_stale_us = 1000000;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->cfg = c;
	*out = s;
	return 0;
}

void jb_sync_free(struct jb_sync *s)
{
	free(s);
}

void jb_sync_audio_played(struct jb_sync *s, int64_t capture_us, int64_t play_us)
{
	s->have_audio = true;
	s->audio_delay = play_us - capture_us;
	s->audio_at = play_us;
}

void jb_sync_video_ready(struct jb_sync *s, int64_t capture_us, int64_t ready_us, int64_t waited_us)
{
	if (s->vd_n == SYNC_HIST) {
		s->vd_head = (s->vd_head + 1) % SYNC_HIST;
		s->vd_n--;
	}
	s->vd[(s->vd_head + s->vd_n) % SYNC_HIST].t = ready_us;
	s->vd[(s->vd_head + s->vd_n) % SYNC_HIST].d =
	        ready_us - capture_us - (waited_us > 0 ? waited_us : 0);
	s->vd_n++;
}

static bool sync_audio_known(const struct jb_sync *s, int64_t now_us)
{
	return s->have_audio && now_us - s->audio_at <= s->cfg.audio_stale_us;
}

int64_t jb_sync_video_due(const struct jb_sync *s, int64_t capture_us, int64_t ready_us,
                          int64_t now_us)
{
	int64_t due;

	if (!sync_audio_known(s, now_us))
		return ready_us;
	due = capture_us + s->audio_delay;
	if (due < ready_us)
		return ready_us;
	if (due > ready_us + s->cfg.max_video_hold_us)
		return ready_us + s->cfg.max_video_hold_us;
	return due;
}

bool jb_sync_video_late(const struct jb_sync *s, int64_t capture_us, int64_t ready_us,
                        int64_t now_us)
{
	return sync_audio_known(s, now_us) && capture_us + s->audio_delay < ready_us;
}

/* Whether the window's pictures at least p95_us late were all ready within persist_us of each
 * other: one burst, not a lag that lasts. */
static bool slow_burst(const struct jb_sync *s, int64_t now_us, int64_t p95_us)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	for (size_t i = 0; i < s->vd_n; i++) {
		size_t k = (s->vd_head + i) % SYNC_HIST;

		if (s->vd[k].t < now_us - s->cfg.window_us || s->vd[k].d < p95_us)
			continue;
		if (s->vd[k].t < lo)
			lo = s->vd[k].t;
		if (s->vd[k].t > hi)
			hi = s->vd[k].t;
	}
	return lo != INT64_MAX && hi - lo < s->cfg.persist_us;
}

uint64_t jb_sync_bursts_not_followed(const struct jb_sync *s)
{
	return s->bursts_not_followed;
}

int64_t jb_sync_audio_floor(struct jb_sync *s, int64_t now_us, int64_t jitter_target_us)
{
	int64_t tmp[SYNC_HIST], v, med, late, target, want,
	        cap = jitter_target_us + s->cfg.max_audio_extra_us;
	size_t n = 0;

	if (s->updated && now_us < s->next_update)
		return s->floor > cap ? cap : s->floor;
	for (size_t i = 0; i < s->vd_n; i++) {
		size_t k = (s->vd_head + i) % SYNC_HIST;

		if (s->vd[k].t >= now_us - s->cfg.window_us)
			tmp[n++] = s->vd[k].d;
	}
	if (!n || !sync_audio_known(s, now_us)) {
		s->floor = 0; /* no video (or no audio) to be in sync with */
		return 0;
	}
	s->updated = true;
	s->next_update = now_us + s->cfg.interval_us;
	qsort(tmp, n, sizeof *tmp, cmp_i64);
	/* > 0: the pictures lag the sound by more than allowed: the typical one (median) at all,
	 * or the slow ones (95th percentile) by more than lead_ok_us */
	v = tmp[(size_t)((double)(n - 1) * 0.95 + 0.5)] - s->cfg.lead_ok_us;
	med = tmp[(n - 1) / 2];
	if (v > med && s->cfg.persist_us && slow_burst(s, now_us, v + s->cfg.lead_ok_us)) {
		if (v - s->audio_delay > s->cfg.threshold_us)
			s->bursts_not_followed++; /* the slow ones would have raised or held it */
		v = med;
	}
	if (med > v)
		v = med;
	late = v - s->audio_delay;
	target = s->floor > jitter_target_us ? s->floor : jitter_target_us;
	want = s->floor;
	if (late + target - jitter_target_us > 2 * s->cfg.max_audio_extra_us) {
		/* twice as far behind the undelayed sound as the cap can make up (a queue after a
		 * capacity drop, stills): delaying the sound would cost mouth-to-ear and still
		 * leave them far apart */
		want = 0;
	} else if (late > s->cfg.threshold_us || (late < -s->cfg.threshold_us && s->floor > 0)) {
		want = target + late;
		/* the first raise in one go: it comes as the first pictures arrive, when the sound
		 * has barely started */
		if (want > target + s->cfg.step_up_us && s->adjusted)
			want = target + s->cfg.step_up_us;
		if (want < target - s->cfg.step_down_us)
			want = target - s->cfg.step_down_us;
	}
	if (want > cap)
		want = cap;
	if (want <= jitter_target_us)
		want = 0; /* the jitter alone delays audio enough */
	if (want)
		s->adjusted = true;
	s->floor = want;
	return want;
}

size_t jb_av_skew(const struct jb_av_event *audio, size_t n_audio, const struct jb_av_event *video,
                  size_t n_video, int64_t max_gap_us, int64_t *skew_us, size_t cap)
{
	size_t a = 0, n = 0;
	const struct jb_av_event *last = NULL;

	for (size_t i = 0; i < n_video && n < cap; i++) {
		const struct jb_av_event *v = &video[i];

		for (; a < n_audio && audio[a].play_us <= v->play_us; a++)
			if (audio[a].capture_us >= 0)
				last = &audio[a];
		if (v->capture_us < 0 || !last || v->play_us - last->play_us > max_gap_us)
			continue;
		skew_us[n++] = (v->play_us - v->capture_us) - (last->play_us - last->capture_us);
	}
	return n;
}
