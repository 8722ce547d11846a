/* relay/media.c — live consultation media session (see media.h).
 *
 * Wire choices (private to this session, both ends run this code):
 *   RTP payload types: 111 Opus, 63 RED (RFC 2198) around Opus, 96 VP8, 97 XOR FEC repair
 *   (relay/fec.h format), 127 padding (probe filler, ignored by the receiver).
 *   Header extensions (RFC 8285 one-byte): id 1 transport-wide sequence number (every RTP
 *   packet), id 2 the 32-bit source picture index on VP8 packets (for the per-frame log).
 *   RTP timestamps are capture times since the session start (48 kHz audio, 90 kHz video);
 *   sender reports map them to the sender's wall clock.
 *   Initial sequence numbers and timestamps are 0 rather than random: the tunnel encrypts and
 *   authenticates everything, so RFC 3550's reason for random starts (known-plaintext) is moot.
 */
#include "relay/media.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codec/ivf.h"
#include "codec/ladder.h"
#include "codec/metrics.h"
#include "codec/opus.h"
#include "codec/resample.h"
#include "codec/scale.h"
#include "codec/vp8.h"
#include "codec/wav.h"
#include "codec/y4m.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mtime.h"
#include "relay/cc.h"
#include "relay/fec.h"
#include "relay/jitter.h"
#include "relay/pacer.h"
#include "relay/rtcp.h"
#include "relay/rtp.h"

#define PT_OPUS 111
#define PT_RED  63
#define PT_VP8  96
#define PT_FEC  97
#define PT_PAD  127

#define EXT_TWCC  1
#define EXT_INDEX 2
/* on a recovery point's packets, 2 bytes: the TL0PICIDX it references, and the time to the next
 * recovery point (10 ms units) */
#define EXT_RECOVERY 3

#define PKT_MAX    1443                   /* RELAY_TUNNEL_PAYLOAD_MAX */
#define REPAIR_MAX (PKT_MAX + FEC_HEADER) /* a FEC repair payload: header + a whole packet */
#define OVERHEAD   57 /* IPv4 20 + UDP 8 + tunnel 29; the RTP header is in the packet */
#define TICK_US    5000
#define RTCP_US    100000
#define SR_US      500000
#define LADDER_US  200000
/* An audio frame is repeated this many packets later. 2 (e940f93) lowered geo-sat-steady
 * mouth-to-ear p50 by ~20 ms but not its p95, and test_media's 8 s outage then showed its first
 * picture over its 10 s bound in 2 of 7 runs (10.98, 11.01 s; 6 of 6 within it at 3). */
#define RED_DIST    3
#define RED_HIST    8
#define PACER_BURST 300 /* bytes of pacer credit: about one voice packet */
#define HIST_VIDEO  512 /* sent video packets kept for NACK */
#define IDX_MAP     256 /* received video timestamp -> source index */
#define FREEZE_US   600000
/* Recovery points (codec/vp8.h): the first base-layer picture RP_INTERVAL_MS or more after the
 * last one (or the keyframe) references only that one, so a receiver that lost a base-layer
 * picture FEC could not restore resumes at the next one, within RP_INTERVAL_MS plus a base-layer
 * picture interval, instead of after a keyframe request's round trip (~600 ms at GEO) and the
 * keyframe's own transmission (in test_vp8, at 250 kbit/s, a keyframe in a recovery point's
 * place is 4.5-5.5x its size, 6.6-10.4 KB more: 200-330 ms more at 256 kbit/s). A recovery point
 * costs 1.2-1.4x a base-layer picture there: 5-10 % more base-layer bytes at 500 ms with 3-7.5
 * base-layer pictures a second. While they come, a receiver that lost one asks for no keyframe
 * before the next is due plus RP_LATE_US; it asks at once when the one that came references a
 * picture it does not have (the previous recovery point was lost too). */
#define RP_INTERVAL_MS 500
#define RP_SIZE_FACTOR 1.3 /* a recovery point's size over a base-layer picture's (above) */
#define RP_LATE_US     300000
/* ALTREF is trusted this long after the keyframe or recovery point that set it: TL0PICIDX is 8
 * bits, and after a long break (an outage) a recovery point could name a picture that merely
 * has the same number (256 base-layer pictures: 34 s at 7.5 a second) */
#define RP_ARF_MAX_US 10000000
#define TAG_RP        0x100u /* jb_video tag of a recovery point: | the TL0PICIDX it references */
/* FEC repairs count as flowing (rp_repair_may_come) while the last came within this: a group
 * closes at most FEC_SPAN_US and a picture after it opened */
#define RP_FEC_FLOWING_US 1000000
/* A picture missing a packet waits this long (from the next packet that came) for the FEC
 * repair, when what follows needs it: a group's repair leaves FEC_SPAN_US and a picture after
 * its first packet, then waits behind the video queued (at 400 ms, 1-2 repairs a session came
 * after their picture was given up). Gaps nothing needs are not waited for at all
 * (video_gap_unneeded). */
#define VIDEO_GAP_WAIT_US 500000
#define TGT_HIST          5      /* ladder updates (200 ms apart) the estimate is held over */
#define VQUEUE_MAX_US     250000 /* skip encoding a picture while the video queue is longer */
/* the encoder is sized to send the queued video within this (video_fill) */
#define PUSHBACK_DRAIN_US 1000000
/* a FEC group closes at the end of the first picture this long after it opened */
#define FEC_SPAN_US 200000
/* Anchor pictures (a recovery point, a keyframe: what every later picture needs) get a second
 * repair, the XOR of their even-numbered packets (rp_hold): with their group's, it restores any
 * two packets in a row. The repairs made while one is sent (that one, and the group's when the
 * anchor closes it) wait this long before they are queued: linksim's losses come in bursts
 * (geo-sat: Gilbert-Elliott, mean burst 3 packets), and a repair sent right behind a picture is
 * mostly lost with it. In a geo-sat-256k session the clinic sent 85 packets a second (5084 in
 * 60 s, audio included): 150 ms after the picture was queued is up to ~13 packets after it,
 * fewer while the picture itself still waits in the pacer. */
#define RP_SPREAD_US 150000
/* a recovery point of at most this many packets stays in one FEC group (video_send_frame) */
#define RP_GROUP_MAX 8
#define RP_HOLD_MAX  8
/* a video file is played ping-pong from memory up to this size, else restarted (codec/y4m) */
#define CLIP_MEMORY_MAX (64u << 20)
/* Deadlines at the pacer, from capture (relay/pacer drops what is older, whole pictures and
 * the pictures that depend on them; the encoder then makes a keyframe).
 * Audio: the receiver's jitter buffer holds at most 1 s of delay (jb_audio max_delay_us);
 * ~300 ms of it is the satellite hop's propagation and at least 90-210 ms its own target
 * (RED's reach + 30 ms at 20-60 ms frames), so audio that waited more than ~400-500 ms here
 * arrives beyond anything the buffer can hold, and every such packet played adds its wait to
 * the mouth-to-ear delay of all the audio behind it until the buffer sheds it (one frame in
 * ten). 400 ms leaves a margin for the path's own jitter.
 * Video: a picture older than a freeze (FREEZE_US) is worth less than the next keyframe; in
 * normal running the encoder keeps the video queue under VQUEUE_MAX_US at the target rate, so
 * even a halved rate (the controller's timeout cut) leaves a picture waiting under 2 x 250 ms:
 * only a stall (an outage, a deep cut) makes a picture this old. Lip sync cannot help either:
 * it stops delaying audio for pictures that lag by more than 2 x SYNC_AUDIO_MAX. */
#define AUDIO_STALE_US 400000
#define VIDEO_STALE_US 600000
/* Audio squeeze (audio_squeeze): while the controller's target is below what the rung's audio
 * costs on the wire, Opus sends SQUEEZE_FRAME_MS frames at the bitrate that fits in
 * SQUEEZE_SHARE of the target (SQUEEZE_MIN_BPS at least), with the redundant copy while both
 * fit; the rung's settings come back once the target is SQUEEZE_EXIT x their cost. */
#define SQUEEZE_FRAME_MS 60
#define SQUEEZE_SHARE    0.8
#define SQUEEZE_MIN_BPS  6000
#define SQUEEZE_EXIT     1.25
/* Receiver: when the audio buffer has run dry and the next packet is this far past the audio
 * last played, the frames between are gone (an outage; the sender dropped what went stale):
 * playout restarts at that packet instead of concealing the whole gap first. */
#define AUDIO_RESYNC_US 500000

/* Failures of these calls are counted by the callee or harmless (duplicates, late packets). */
#define IGNORE(x)                                                                                  \
	do {                                                                                       \
		if (x) {                                                                           \
		}                                                                                  \
	} while (0)

enum { K_AUDIO = 1, K_VIDEO = 2, K_FEC = 3, K_RTX = 4 };

struct i64vec {
	int64_t *v;
	size_t n, cap;
};

static int vec_push(struct i64vec *a, int64_t x)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 256;
		int64_t *nv = realloc(a->v, nc * sizeof *nv);

		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = x;
	return 0;
}

/* lip sync (receiver) */
#define VSHOW_MAX      48      /* decoded pictures held for lip sync */
#define SKEW_GAP_US    1000000 /* no sound for this long: a picture has nothing to be in sync with */
#define SYNC_AUDIO_MAX 150000  /* lip sync delays audio at most this beyond its jitter's need */
/* Lip sync lets the sound lead the slow pictures (the window's 95th percentile) by this much
 * before it delays the sound for them: Rec. ITU-R BT.1359's acceptability threshold for sound
 * before picture (+90 ms; +45 ms is where viewers begin to notice). Pictures ready in time are
 * still shown exactly in sync; the slow ones are the large frames (a keyframe, the scene
 * changes) and those repaired by FEC, and waiting the sound for all of them costs every word
 * its mouth-to-ear delay: on the 256 kbit/s geo-sat uplink it raised the audio buffer by its
 * 150 ms cap at the 95th percentile. */
#define SYNC_LEAD_OK 90000
/* ... and it does not delay the sound for slow pictures that all came in one burst shorter than
 * this: a keyframe (a rung change) and the pictures queued behind it. In a geo-sat-steady session
 * (bench/consult.sh) the step 180p-15 -> 270p-15 at 3.6 s made 8 pictures 419-720 ms late from
 * 3.97 to 4.34 s; the sound's delay then rose by about 40 ms and stayed about the window's 4 s,
 * after every slow picture had been shown: mouth-to-ear 450-461 ms from 4.5 to 8.2 s against
 * 410-438 before and after, and the session's p95 450.5 ms. */
#define SYNC_PERSIST_US 1000000

struct avvec {
	struct jb_av_event *v;
	size_t n, cap;
};

static int avvec_push(struct avvec *a, int64_t capture_us, int64_t play_us)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 256;
		struct jb_av_event *nv = realloc(a->v, nc * sizeof *nv);

		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = (struct jb_av_event){capture_us, play_us};
	return 0;
}

/* A decoded picture (scaled to the display size) waiting for its sound. */
struct vshow {
	uint32_t ts, idx;
	int64_t capture, ready; /* wall us; capture -1 when unknown */
	uint8_t *pic;
};

struct sr_map {
	bool valid;
	int64_t wall_us;
	uint32_t rtp_ts;
	unsigned clock;
};

struct red_entry {
	bool valid;
	uint32_t ts;
	size_t len;
	uint8_t data[CODEC_OPUS_PACKET_MAX];
};

struct vhist {
	bool valid;
	uint16_t seq;
	uint64_t frame;      /* pacer frame number */
	int64_t deadline_us; /* pacer deadline of its picture */
	size_t len;
	uint8_t data[PKT_MAX];
};

struct ladder_event {
	int64_t t_ms;
	unsigned rung;
	uint32_t target_bps;
	bool squeeze_end; /* made by the update at the end of an audio squeeze */
};

struct relay_media {
	struct event_base *base;
	struct relay_media_config cfg;
	char *name, *record_dir;
	struct event *tick_ev, *pace_ev;
	bool started, stopped;
	int64_t start_us; /* monotonic */
	int64_t stop_us;
	int64_t wall_off_us; /* wall = mono + wall_off */
	struct relay_media_stats st;

	/* ---- sender ---- */
	int16_t *pcm;
	size_t pcm_frames, pcm_pos;
	uint32_t audio_ts;
	uint16_t audio_seq;
	struct codec_opus_enc *oenc;
	unsigned opus_frame_ms;
	struct red_entry red[RED_HIST];
	unsigned red_head;
	bool red_on;
	unsigned lad_k;        /* FEC group size the ladder's costs count (rung_extra_bps) */
	uint32_t squeeze_bps;  /* audio squeeze (audio_squeeze): Opus bitrate, 0 = off */
	bool squeeze_red;      /* ... and the redundant copy kept */
	int64_t squeeze_since; /* when the current squeeze began */

	struct codec_y4m_loop *y4m;
	struct codec_y4m_info src;
	uint8_t *src_buf;
	size_t src_size;
	uint64_t vid_index;
	int64_t venc_next_us;
	uint32_t tl0_pts; /* RTP timestamp of the last base-layer picture sent */
	unsigned venc_rung;
	struct codec_vp8_enc *venc;
	struct codec_vp8_enc_config vcfg;
	uint8_t *enc_buf;
	size_t enc_cap;
	uint16_t video_seq, fec_seq, pad_seq, twcc_seq;
	uint16_t picture_id;
	uint64_t vframe; /* pacer frame number of the last picture sent */
	bool video_was_off;
	struct fec_encoder fec;
	int64_t fec_group_us;
	struct fec_encoder fec_even; /* an anchor picture's even-numbered packets */
	struct held_repair {
		uint8_t data[REPAIR_MAX];
		size_t len;
		uint32_t ts;
		struct pacer_media fm;
	} rp_hold[RP_HOLD_MAX]; /* repairs made while an anchor picture was sent, in send order */
	unsigned n_hold;
	int64_t hold_due_us;
	struct vhist vh[HIST_VIDEO];

	struct cc *cc;
	struct pacer *pacer;
	struct codec_ladder_state ladder;
	struct codec_ladder_settings set;
	int64_t next_ladder_us, next_rtcp_us, next_sr_us;
	bool sent_audio, sent_video;
	uint32_t audio_pkts, audio_octets, video_pkts, video_octets;
	struct ladder_event *lev;
	size_t n_lev, cap_lev;
	bool downgraded;
	unsigned min_rung_after;
	unsigned start_rung;
	int64_t last_dbg_s;
	int64_t last_rx_dbg_s;            /* receiver's debug line: last second logged */
	int64_t dbg_owd_min, dbg_owd_max; /* audio one-way delays since (wall clocks) */
	uint32_t tgt_hist[TGT_HIST];
	unsigned tgt_head;
	double loss_mem;
	unsigned queue_updates;
	uint32_t known_link;
	int64_t known_link_us;
	uint32_t padding_bps;
	int64_t pad_hold_until, pad_backoff_us, pad_trial_end;
	uint32_t cc_overuses; /* controller decreases seen by the ladder */
	int64_t cc_react_us;  /* time of the last one */
	int64_t lad_queue_us; /* queueing delay at the previous ladder update */
	unsigned drain_holds; /* ladder updates a downgrade was held off while draining */
	bool lad_squeeze_end; /* this ladder update is the one at a squeeze's end (tick_cb) */
	unsigned squeeze_end_updates; /* ladder updates made at a squeeze's end */
	int64_t restore_us;           /* when the controller last restored its target (0: never) */
	unsigned floor_held;          /* ladder updates that kept the floor after a restore */
	unsigned floor_relaxed; /* ladder updates that kept live video with larger FEC groups */
	bool floor_relaxing;    /* the last update did (logged when it starts and ends) */
	unsigned floor_slack;   /* ladder updates that kept the floor below its cost (its slack) */
	bool floor_slacking;    /* the last update did (logged when it starts and ends) */
	uint32_t policer_finds; /* the controller's, as last logged */
	bool policer_testing;   /* the controller's, as last logged */
	uint32_t cuts_logged;   /* the controller's decreases logged so far (cc_feedback) */
	uint32_t restores_seen; /* the controller's restores so far (cc_feedback: restore_us) */
	uint32_t loss_caps_logged; /* its loss caps logged so far (cc_feedback) */
	unsigned pushbacks;      /* ladder updates that sized the encoder below its rung's budget */
	unsigned pixel_capped;   /* ... that sized it at what its pictures can use (pixel cap) */
	uint32_t probes_ok_seen; /* controller probes that found room, seen by the trials */
	uint64_t keyframes_forced; /* keyframes made because the pacer dropped stale pictures */

	/* ---- receiver ---- */
	struct rtcp_twcc_recorder *twcc;
	bool twcc_pending;
	uint32_t peer_audio_ssrc, peer_video_ssrc;
	struct sr_map sr_audio, sr_video;
	struct jb_audio *jba, *jba_next;
	unsigned jba_samples, jba_next_samples;
	uint32_t jba_next_first_ts;
	struct codec_opus_dec *odec;
	bool playing;
	int64_t play_next_us;
	uint32_t last_play_ts;
	bool have_last_play_ts;
	uint32_t red_only[64]; /* timestamps that arrived only inside a RED block */
	unsigned red_only_head;
	struct jb_video *jbv;
	struct codec_vp8_dec *vdec;
	struct fec_decoder *fecd;
	struct jb_keyframe_limiter kf;
	bool need_keyframe;
	bool have_tl0;
	uint8_t last_tl0;
	/* the decoder's ALTREF holds the keyframe or recovery point with TL0PICIDX arf_tl0 */
	bool have_arf;
	uint8_t arf_tl0;
	int64_t arf_us;        /* when it was decoded */
	int64_t rp_seen_us;    /* arrival of the last recovery point packet */
	int64_t rp_gap_us;     /* to the next one, as the last one said; 0: none seen */
	int64_t rp_wait_until; /* a break waits for a recovery point (no PLI) until then */
	/* the last FEC repair received: when, and the last sequence number it protects */
	int64_t fec_rx_us;
	uint16_t fec_rx_end;
	bool fec_rx_any;
	/* the last gap a decodable recovery point waited behind for its repair (rp_repair_may_come)
	 */
	uint16_t rp_held_seq;
	bool rp_held_any;
	struct {
		uint32_t ts, idx;
		bool valid;
	} idxmap[IDX_MAP];
	uint8_t *frame_buf;
	size_t frame_cap;
	int disp_w, disp_h;
	struct jb_sync *sync; /* NULL: lip sync off */
	struct vshow vshow[VSHOW_MAX];
	unsigned vshow_head, vshow_n;
	int64_t sync_floor_us; /* floor on the audio buffer's target for lip sync */

	/* measurements */
	struct i64vec owd;      /* one-way delay per media packet (us) */
	struct i64vec m2e;      /* mouth-to-ear per played audio frame (us) */
	struct i64vec disp_t;   /* video playout times (wall us) */
	struct i64vec disp_idx; /* video source index per displayed picture */
	struct i64vec vhold;    /* how long each displayed picture was held for lip sync */
	struct i64vec aadded;   /* per played audio frame: delay added to it for lip sync */
	struct avvec av_audio;  /* played audio frames with a known capture time */
	struct avvec av_video;  /* displayed pictures */
	uint64_t audio_lost;    /* frames lost after every recovery */
	uint64_t audio_shrink;
	uint64_t audio_underrun; /* frames concealed while the buffer was empty */
	uint64_t audio_resyncs;  /* playout restarts after a gap (AUDIO_RESYNC_US) */

	/* recorder */
	int16_t *rec_pcm;
	size_t rec_n, rec_cap;
	struct codec_y4m_writer *ry4m;
	struct codec_ivf_writer *rivf;
	FILE *csv;
	int rec_err;
};

const char *relay_media_strerror(int err)
{
	if (err <= ERR_BASE_CODEC && err > ERR_BASE_CODEC - 1000) {
		if (err <= CODEC_VP8_EINIT && err >= CODEC_VP8_ESIZE)
			return codec_vp8_strerror(err);
		if (err <= CODEC_Y4M_EMAGIC && err >= CODEC_Y4M_EFRAME)
			return codec_y4m_strerror(err);
		if (err <= CODEC_WAV_ETRUNC && err >= CODEC_WAV_ETOOBIG)
			return codec_wav_strerror(err);
		if (err <= CODEC_IVF_EMAGIC && err >= CODEC_IVF_EFRAMESZ)
			return codec_ivf_strerror(err);
		return codec_opus_strerror(err);
	}
	if (err <= ERR_BASE_RELAY && err > ERR_BASE_RELAY - 1000) {
		if (err <= RTCP_ERR_BASE && err > RTCP_ERR_BASE - 40)
			return rtcp_strerror(err);
		if (err <= FEC_ERR_BASE && err > FEC_ERR_BASE - 10)
			return fec_strerror(err);
		return rtp_strerror(err);
	}
	return strerror(err < 0 ? -err : err);
}

static int64_t now_us(void)
{
	return (int64_t)mtime_now_us();
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- packet building ---- */

static int build_rtp(uint8_t *out, size_t cap, size_t *len, uint8_t pt, bool marker, uint16_t seq,
                     uint32_t ts, uint32_t ssrc, const uint8_t *payload, size_t plen,
                     bool has_index, uint32_t index, const uint8_t *rp)
{
	struct rtp_packet p;
	uint8_t twcc[2] = {0, 0}, idx[4];

	memset(&p, 0, sizeof p);
	p.version = 2;
	p.marker = marker;
	p.payload_type = pt;
	p.seq = seq;
	p.timestamp = ts;
	p.ssrc = ssrc;
	p.has_ext = true;
	p.ext_profile = RTP_EXT_PROFILE_ONE_BYTE;
	p.ext[0] = (struct rtp_ext){EXT_TWCC, 2, twcc};
	p.n_ext = 1;
	if (has_index) {
		idx[0] = (uint8_t)(index >> 24);
		idx[1] = (uint8_t)(index >> 16);
		idx[2] = (uint8_t)(index >> 8);
		idx[3] = (uint8_t)index;
		p.ext[1] = (struct rtp_ext){EXT_INDEX, 4, idx};
		p.n_ext = 2;
	}
	if (rp)
		p.ext[p.n_ext++] = (struct rtp_ext){EXT_RECOVERY, 2, rp};
	p.payload = payload;
	p.payload_len = plen;
	return rtp_packet_write(&p, out, cap, len);
}

static int send_raw(struct relay_media *m, const uint8_t *data, size_t len)
{
	int rc = m->cfg.send(data, len, m->cfg.send_arg);

	if (rc < 0)
		m->st.tx_errors++;
	m->st.tx_packets++;
	m->st.tx_wire_bytes += len + OVERHEAD;
	return rc;
}

static void schedule_pacer(struct relay_media *m);

static int enqueue(struct relay_media *m, enum pacer_class cls, const uint8_t *pkt, size_t len,
                   int kind, const struct pacer_media *pm)
{
	int rc = pacer_enqueue_media(m->pacer, cls, pkt, len, (uint64_t)kind, pm, now_us());

	schedule_pacer(m);
	return rc;
}

/* ---------------------------------------------------------------- ladder ---- */

static void ladder_event(struct relay_media *m, int64_t t)
{
	if (m->n_lev == m->cap_lev) {
		size_t nc = m->cap_lev ? m->cap_lev * 2 : 32;
		struct ladder_event *n = realloc(m->lev, nc * sizeof *n);

		if (!n)
			return;
		m->lev = n;
		m->cap_lev = nc;
	}
	m->lev[m->n_lev++] = (struct ladder_event){(t - m->start_us) / 1000, m->set.index,
	                                           cc_target_bps(m->cc), m->lad_squeeze_end};
}

static void apply_audio_settings(struct relay_media *m)
{
	struct codec_opus_enc_config oc;
	int rc;

	if (!m->oenc)
		return;
	codec_ladder_opus_config(&m->set, &oc);
	if (m->squeeze_bps) {
		oc.bitrate_bps = m->squeeze_bps;
		oc.frame_ms = SQUEEZE_FRAME_MS;
	}
	rc = codec_opus_enc_set(m->oenc, &oc);
	if (rc)
		log_warn("%s: opus settings refused: %s", m->name, codec_opus_strerror(rc));
	else
		m->opus_frame_ms = oc.frame_ms;
}

/* Wire cost (bit/s) of Opus at bitrate_bps in frame_ms packets, with the RFC 2198 copy of an
 * earlier frame when red: per packet the RTP header (12), the tunnel, UDP and IPv4 headers
 * (OVERHEAD) and the RED headers (5). */
static uint32_t audio_wire_bps(uint32_t bitrate_bps, unsigned frame_ms, bool red)
{
	uint64_t hdr = 12 + OVERHEAD + (red ? 5 : 0);

	return (uint32_t)(hdr * 8 * 1000 / frame_ms + (uint64_t)bitrate_bps * (red ? 2 : 1));
}

/* Audio squeeze. After a capacity drop the controller sends well below the new capacity until
 * the modem's queue has drained (down to 0.35 x the delivered rate, for a second or two), and
 * that is often below what the audio alone costs on the wire: a 20 ms Opus frame at 24 kbit/s
 * with its redundant copy and 74 bytes of headers is ~78 kbit/s. The pacer sends audio first,
 * but what does not fit waits and goes stale after AUDIO_STALE_US: in test_media's 4x drop the
 * clinic dropped 13-43 audio packets (five runs), up to 0.9 s of speech, per drop. The ladder
 * cannot help (it keeps its rung through a drain on purpose, and its audio-only rungs are many
 * steps down). So while the target is below the rung's audio cost, the encoder follows the target:
 * longer frames (a third of the headers) and the bitrate that fits in a share of the target;
 * the voice gets rougher for the drain instead of cut. The redundant copy stays while the
 * loss calls for it and both copies fit at SQUEEZE_MIN_BPS or more: a drain follows a queue
 * that may have overflowed. (Measured, the copy made no clear difference: the hub's audio
 * lost after recovery in the lab's consult_geosat was 0.4-1.6 % over 4 runs without it,
 * 0.3-1.5 % over 5 with it, 0.2-0.7 % over 4 before the squeeze.)
 * Not on the audio-only rungs (an outage, a link too thin for pictures): their settings are
 * already the ladder's answer to a low target, and the controller climbs back from its floor
 * on what the media sends (at most 1.5 x the delivered rate): squeezing the sound there too
 * slowed the first picture after test_media's 8 s outage from 4-8 s to over 10 s in 2 of 10
 * runs. */
static void audio_squeeze(struct relay_media *m, uint32_t target, int64_t t)
{
	uint32_t need =
	        audio_wire_bps(m->set.rung.audio_bps, m->set.rung.audio_frame_ms, m->red_on);
	uint32_t hdr, hdr_red, fit, b;
	bool red;

	if (!m->oenc)
		return;
	if (!m->squeeze_bps && (target >= need || m->set.rung.mode == CODEC_LADDER_AUDIO_ONLY))
		return;
	if (m->squeeze_bps && ((double)target >= SQUEEZE_EXIT * need ||
	                       m->set.rung.mode == CODEC_LADDER_AUDIO_ONLY)) {
		m->squeeze_bps = 0;
		m->st.audio_squeezed_us += t - m->squeeze_since;
		log_debug("%s: audio squeeze off (target %u bit/s)", m->name, target);
		apply_audio_settings(m);
		return;
	}
	hdr = audio_wire_bps(0, SQUEEZE_FRAME_MS, false);
	hdr_red = audio_wire_bps(0, SQUEEZE_FRAME_MS, true);
	fit = (uint32_t)(SQUEEZE_SHARE * target);
	red = m->red_on && fit >= hdr_red + 2 * SQUEEZE_MIN_BPS;
	if (red)
		b = (fit - hdr_red) / 2;
	else
		b = fit > hdr + SQUEEZE_MIN_BPS ? fit - hdr : SQUEEZE_MIN_BPS;
	if (b > m->set.rung.audio_bps)
		b = m->set.rung.audio_bps;
	/* follow the target down at once, up only in steps worth a new setting */
	if (m->squeeze_bps && red == m->squeeze_red && b <= m->squeeze_bps * 1.15 &&
	    b >= m->squeeze_bps)
		return;
	if (!m->squeeze_bps) {
		m->squeeze_since = t;
		m->st.audio_squeezes++;
	}
	log_debug("%s: audio squeezed to %u bit/s in %u ms frames%s (target %u, audio needs %u)",
	          m->name, b, SQUEEZE_FRAME_MS, red ? " with redundancy" : "", target, need);
	m->squeeze_bps = b;
	m->squeeze_red = red;
	apply_audio_settings(m);
}

/* Upgrade probing. The controller never lets its target run far ahead of what the link delivers
 * (1.5 x the acknowledged rate), and a rung's media only sends the rung's cost, so on its own the
 * estimate could never reach the next rung's threshold and hold it there for the ladder's hold
 * time. So, in trials, padding lifts the wire rate to what the next rung would cost (less its
 * slack: codec_ladder_slack_bps) plus the ladder's margin (+10 %), for the hold time plus 5 s (the
 * controller takes a few seconds to grow to that rate). A trial that ends without an upgrade, or
 * that builds a standing queue (over 150 ms for two updates in a row), is followed by a pause
 * twice as long as the last (3 s .. 24 s); the next trial may start 2 s after an upgrade, 1.5 s
 * after a downgrade, and only while the queue is short (< 50 ms: not while one drains). Trials
 * also run when the controller believes it knows the link's capacity (it learnt it during a drop
 * that may be over, and near a known capacity it grows slowly and hardly probes); a trial that
 * overshoots ends in a pause. Trials keep the time spent above the media's own rate (exposed to a
 * sudden capacity drop) short. A controller probe that finds room ends a pause: the trials that
 * failed during a capacity drop must not gate the climb for 12-24 s once it is over. */
static void pad_pause(struct relay_media *m, int64_t t)
{
	m->pad_backoff_us = m->pad_backoff_us ? m->pad_backoff_us * 2 : 3000000;
	if (m->pad_backoff_us > 24000000)
		m->pad_backoff_us = 24000000;
	m->pad_hold_until = t + m->pad_backoff_us;
	m->pad_trial_end = 0;
}

static void upgrade_probe(struct relay_media *m, int64_t t, const struct cc_stats *cs,
                          const struct codec_ladder_settings *s, unsigned prev)
{
	const struct codec_ladder_rung *next = s->index < codec_ladder_top(&m->ladder)
	                                               ? codec_ladder_rung_get(s->index + 1)
	                                               : NULL;
	uint32_t want = 0, have, pad = 0;
	int64_t hold = cs->rtt_us * 4 > CODEC_LADDER_UPGRADE_HOLD_MS * 1000
	                       ? cs->rtt_us * 4
	                       : CODEC_LADDER_UPGRADE_HOLD_MS * 1000;

	m->queue_updates = cs->queue_us > 150000 ? m->queue_updates + 1 : 0;
	/* A controller probe that found room (a capacity drop is over, say) ends any pause the
	 * trials that failed during the drop left: the next trial may start at once. */
	if (cs->probes_ok != m->probes_ok_seen) {
		m->probes_ok_seen = cs->probes_ok;
		if (!m->pad_trial_end) {
			m->pad_backoff_us = 0;
			if (m->pad_hold_until > t)
				m->pad_hold_until = t;
		}
	}
	if (s->index > prev) { /* upgraded */
		m->pad_backoff_us = 0;
		m->pad_trial_end = 0;
		m->pad_hold_until = t + 2000000;
	} else if (m->pad_trial_end && (m->queue_updates >= 2 || t >= m->pad_trial_end)) {
		pad_pause(m, t);
	} else if (s->index < prev) {
		m->pad_trial_end = 0;
		m->pad_hold_until = t + 1500000;
	}
	/* the ladder's climb threshold (codec_ladder_climb_bps), its margin 10 points wider */
	if (next) {
		want = (uint32_t)(codec_ladder_climb_bps(
		                          s->index + 1,
		                          codec_ladder_cost(&m->ladder, s->index + 1)) *
		                  (100 + CODEC_LADDER_UPGRADE_MARGIN_PCT + 10) /
		                  (100 + CODEC_LADDER_UPGRADE_MARGIN_PCT));
	}
	if (next && !m->pad_trial_end && t >= m->pad_hold_until && cs->queue_us < 50000)
		m->pad_trial_end = t + hold + 5000000;
	if (next && m->pad_trial_end) {
		have = codec_ladder_cost(&m->ladder, m->ladder.index);
		if (want > have)
			pad = want - have;
	}
	/* The controller's test of a policer is only a test when the link sees its rate (1.15x
	 * the policer's): padding fills what the media leaves. Without it, a 270p-15 picture
	 * stream sent 490-530 kbit/s of the 569 tested, under 512 kbit/s of policer with 100 ms
	 * of bucket that took 0-1.4 % of it, and the test took the policer for gone (lab,
	 * 4g-policed: then 9.4 and 16.5 % lost in the session's last 6 s). */
	if (cs->policer_testing && pad < cs->target_bps)
		pad = cs->target_bps;
	m->padding_bps = pad;
	pacer_set_padding(m->pacer, pad);
}

/* The rung the encoders really use for ladder rung `idx`: a live rung larger than the camera's
 * picture buys no resolution (video_configure never upscales), so when a lower live rung has a
 * higher frame rate, that one is used, with the bits the larger rung would have had (see
 * video_fill). E.g. with the 320x192 reference clip, 270p-7.5 runs as 180p-15 and 360p-7.5
 * as 270p-15 (encoded at 320x192): never fewer pictures for resolution that is not there. */
static unsigned effective_rung(const struct relay_media *m, unsigned idx)
{
	const struct codec_ladder_rung *r = codec_ladder_rung_get(idx), *b = r;
	unsigned best = idx;

	if (!r || r->mode != CODEC_LADDER_LIVE || !m->src.width ||
	    (r->width <= m->src.width && r->height <= m->src.height))
		return idx;
	for (unsigned j = idx; j-- > 0;) {
		const struct codec_ladder_rung *c = codec_ladder_rung_get(j);

		if (c->mode == CODEC_LADDER_LIVE &&
		    (uint64_t)c->fps_num * b->fps_den > (uint64_t)b->fps_num * c->fps_den) {
			best = j;
			b = c;
		}
	}
	return best;
}

/* What FEC adds to rung r's cost with groups of k: only the base temporal layer is protected
 * (its share of the VP8 rate, at fps / 2^(layers-1), no faster than the camera), and a group
 * closes at the end of the picture that ends its FEC_SPAN_US, or of a still (a keyframe). */
static uint32_t fec_cost(const struct codec_ladder_rung *r, double camera_fps, unsigned k)
{
	double fps, span, pic, anchors;
	unsigned per_group;
	uint32_t base;

	if (!k || r->mode == CODEC_LADDER_AUDIO_ONLY || !r->fps_num || !r->fps_den)
		return 0;
	if (r->mode == CODEC_LADDER_STILLS) /* every still is a keyframe: an anchor */
		return fec_repair_bps(r->video_bps, 1000.0 / r->stills_interval_ms, 1, k,
		                      CODEC_LADDER_VIDEO_PAYLOAD, CODEC_LADDER_PACKET_OVERHEAD) +
		       fec_even_repair_bps(r->video_bps / 8.0 * r->stills_interval_ms / 1000.0,
		                           1000.0 / r->stills_interval_ms,
		                           CODEC_LADDER_VIDEO_PAYLOAD,
		                           CODEC_LADDER_PACKET_OVERHEAD);
	fps = (double)r->fps_num / r->fps_den;
	if (camera_fps > 0 && camera_fps < fps)
		fps = camera_fps;
	fps /= (double)(1u << (r->temporal_layers > 1 ? r->temporal_layers - 1 : 0));
	span = FEC_SPAN_US / 1e6 * fps;
	per_group = (unsigned)ceil(span - 1e-9) + 1;
	base = (uint32_t)((uint64_t)r->video_bps * codec_vp8_base_layer_pct(r->temporal_layers) /
	                  100);
	/* and the recovery points' second repairs (RP_SPREAD_US) */
	pic = base / 8.0 / fps;
	anchors = fps < 1000.0 / RP_INTERVAL_MS ? fps : 1000.0 / RP_INTERVAL_MS;
	return fec_repair_bps(base, fps, per_group, k, CODEC_LADDER_VIDEO_PAYLOAD,
	                      CODEC_LADDER_PACKET_OVERHEAD) +
	       fec_even_repair_bps(pic * RP_SIZE_FACTOR, anchors, CODEC_LADDER_VIDEO_PAYLOAD,
	                           CODEC_LADDER_PACKET_OVERHEAD);
}

/* The camera's frame rate (0: unknown). */
static double camera_fps(const struct relay_media *m)
{
	return m->src.fps_num && m->src.fps_den ? (double)m->src.fps_num / m->src.fps_den : 0;
}

uint32_t relay_media_rung_extra_bps(const struct codec_ladder_rung *r,
                                    const struct codec_ladder_rung *eff, double fps, unsigned k,
                                    bool red)
{
	struct codec_ladder_rung e;

	if (!r)
		return 0;
	e = eff ? *eff : *r;
	e.video_bps = r->video_bps;
	return fec_cost(&e, fps, k) + (red ? r->audio_bps + 2000 : 0);
}

/* codec_ladder_extra_fn: relay_media_rung_extra_bps for ladder rung idx, at the group size and
 * redundancy ladder_update chose. */
static uint32_t rung_extra_bps(unsigned idx, void *arg)
{
	const struct relay_media *m = arg;

	return relay_media_rung_extra_bps(codec_ladder_rung_get(idx),
	                                  codec_ladder_rung_get(effective_rung(m, idx)),
	                                  camera_fps(m), m->lad_k, m->red_on);
}

uint32_t relay_media_rung_budget(uint32_t target_bps, const struct codec_ladder_rung *r,
                                 double camera_fps, unsigned k, bool red)
{
	uint64_t link = target_bps;

	if (!r)
		return target_bps;
	/* RED: every audio frame a second time, with a 4-byte block header (RFC 2198) */
	if (red && link > r->audio_bps + 2000)
		link -= r->audio_bps + 2000;
	/* FEC's share of the rest: what it adds to the rung being sent, in proportion (close
	 * enough for the rungs around it; the upgrade margin covers the rest). Not k's share of
	 * the whole link: only the base layer is protected, and at low rates groups close by time
	 * first. */
	if (k) {
		uint64_t cost = codec_ladder_rung_link_bps(r), fec = fec_cost(r, camera_fps, k);

		if (cost)
			link = link * cost / (cost + fec);
	}
	return (uint32_t)link;
}

/* The live floor before stills (relay_media_floor_group_size): protection is relaxed no further
 * than the group size a 1 % loss asks for (geo-sat's own loss) */
#define FLOOR_LOSS 0.01

/* The floor's cost on the wire with groups of k. */
static uint64_t floor_cost(unsigned k, double camera_fps, bool red)
{
	const struct codec_ladder_rung *f = codec_ladder_rung_get(codec_ladder_floor());

	return (uint64_t)codec_ladder_rung_link_bps(f) +
	       relay_media_rung_extra_bps(f, NULL, camera_fps, k, red);
}

unsigned relay_media_floor_group_size(unsigned k, uint32_t link_bps, double camera_fps, bool red,
                                      bool below)
{
	unsigned kmax = fec_group_size_for_loss(FLOOR_LOSS), fi = codec_ladder_floor();

	if (!k || codec_ladder_rung_get(fi)->mode != CODEC_LADDER_LIVE)
		return k;
	if (kmax < k) /* the loss already asks for groups this large: only k is tried */
		kmax = k;
	/* Below the floor (stills), what counts is whether the ladder would climb onto it. */
	if (below) {
		for (unsigned j = k; j <= kmax; j++)
			if (codec_ladder_climb_bps(fi, (uint32_t)floor_cost(j, camera_fps, red)) <=
			    link_bps)
				return j;
		return k;
	}
	/* On or above it, whether it stays: at its full rate first, then with the slack the
	 * ladder keeps it with (its VP8 pushed back by a quarter of its rate). */
	for (unsigned pass = 0; pass < 2; pass++) {
		uint64_t slack = pass ? codec_ladder_slack_bps(fi) : 0;

		for (unsigned j = k; j <= kmax; j++)
			if (floor_cost(j, camera_fps, red) <= link_bps + slack)
				return j;
	}
	return k;
}

uint32_t relay_media_restore_input(uint32_t link_bps, uint32_t keep_bps, int64_t since_us)
{
	if (since_us < 0 || since_us >= RELAY_MEDIA_RESTORE_HOLD_US || link_bps >= keep_bps ||
	    (uint64_t)link_bps * 100 < (uint64_t)keep_bps * (100 - RELAY_MEDIA_RESTORE_BAND_PCT))
		return link_bps;
	return keep_bps;
}

uint32_t relay_media_encoder_bps(const struct codec_ladder_rung *r, uint32_t base_bps,
                                 uint32_t budget_bps, uint32_t now_bps, size_t backlog)
{
	uint32_t cost = codec_ladder_rung_link_bps(r), v = base_bps;
	int64_t fit;

	if (budget_bps > cost)
		v += (budget_bps - cost) / 10 * 8;
	if (v > base_bps / 10 * 16)
		v = base_bps / 10 * 16;
	/* cost counts the rung's current VP8 rate; what fits now is that rate plus the rest */
	fit = (int64_t)r->video_bps + (int64_t)now_bps - (int64_t)cost -
	      (int64_t)backlog * 8 * 1000000 / PUSHBACK_DRAIN_US;
	if (fit < (int64_t)base_bps * CODEC_LADDER_VIDEO_MIN_PCT / 100)
		fit = (int64_t)base_bps * CODEC_LADDER_VIDEO_MIN_PCT / 100;
	return (int64_t)v > fit ? (uint32_t)fit : v;
}

uint32_t relay_media_pixel_cap_bps(const struct codec_ladder_rung *r, unsigned src_w,
                                   unsigned src_h, double camera_fps)
{
	double w, h, fps, cap;

	if (!r || r->mode != CODEC_LADDER_LIVE || !src_w || !src_h || !r->fps_num || !r->fps_den)
		return 0;
	w = r->width;
	h = r->height;
	if (r->width > src_w || r->height > src_h) { /* as video_configure: the camera's size */
		w = src_w;
		h = src_h;
	}
	fps = (double)r->fps_num / r->fps_den;
	if (camera_fps > 0 && camera_fps < fps)
		fps = camera_fps;
	cap = w * h * fps * RELAY_MEDIA_PIXEL_BITS_MAX;
	return cap >= UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

unsigned relay_media_camera_top(unsigned src_w, unsigned src_h, double camera_fps)
{
	if (!src_w || !src_h)
		return 0;
	for (unsigned i = codec_ladder_floor(); i < codec_ladder_rung_count(); i++) {
		const struct codec_ladder_rung *r = codec_ladder_rung_get(i);

		if (r->mode == CODEC_LADDER_LIVE && r->width >= src_w && r->height >= src_h &&
		    (camera_fps <= 0 || (double)r->fps_num / r->fps_den >= camera_fps) &&
		    r->video_bps >= relay_media_pixel_cap_bps(r, src_w, src_h, camera_fps))
			return i;
	}
	return 0;
}

/* Sets the VP8 bitrate (relay_media_encoder_bps) for the ladder's budget `link` and the
 * budget `now` at the controller's target, at most what the pictures can use
 * (relay_media_pixel_cap_bps). */
static void video_fill(struct relay_media *m, uint32_t link, uint32_t now, size_t backlog)
{
	const struct codec_ladder_rung *r = codec_ladder_rung_get(m->set.index);
	uint32_t v, base, cap;

	if (m->set.rung.mode != CODEC_LADDER_LIVE || !r)
		return;
	base = r->video_bps;
	v = relay_media_encoder_bps(&m->set.rung, base, link, now, backlog);
	if (v < relay_media_encoder_bps(&m->set.rung, base, link, UINT32_MAX / 2, 0))
		m->pushbacks++;
	cap = relay_media_pixel_cap_bps(r, m->src.width, m->src.height, camera_fps(m));
	if (cap && v > cap) {
		v = cap;
		m->pixel_capped++;
	}
	/* the encoder is reconfigured on every change: only for a change over 10 % */
	if (v > m->set.rung.video_bps / 10 * 11 || v < m->set.rung.video_bps / 10 * 9 ||
	    (m->set.rung.video_bps < base && v != m->set.rung.video_bps))
		m->set.rung.video_bps = v;
}

static void ladder_update(struct relay_media *m, int64_t t)
{
	struct cc_stats cs;
	struct codec_ladder_settings s, eff;
	uint32_t link, est;
	unsigned prev = m->set.index, lprev = m->ladder.index, k, ei;
	bool draining, slack;
	struct pacer_stats ps;

	cc_get_stats(m->cc, &cs);
	pacer_get_stats(m->pacer, &ps);
	if (t / 1000000 != m->last_dbg_s) {
		m->last_dbg_s = t / 1000000;
		log_debug(
		        "%s: cc target %u delay %u acked %u link %u loss %.3f rtt %lld queue %lld "
		        "usage %d probes %u/%u (recovery %u) rung %s (vp8 %u) pad %u drain holds "
		        "%u pushbacks %u cuts %u (queue %u, standing %u) restores %u (unclean %u) "
		        "loss caps %u "
		        "(last at %.3f; not, unfilled: %u) jitter holds %u pacer video %zu bytes "
		        "oldest %lld ms",
		        m->name, cs.target_bps, cs.delay_bps, cs.acked_bps, cs.link_bps, cs.loss,
		        (long long)cs.rtt_us / 1000, (long long)cs.queue_us / 1000, (int)cs.usage,
		        cs.probes_ok, cs.probes, cs.probes_recovery, m->set.rung.name,
		        m->set.rung.video_bps, m->padding_bps, m->drain_holds, m->pushbacks,
		        cs.overuses, cs.queue_cuts, cs.stand_cuts, cs.restores, cs.restores_unclean,
		        cs.loss_caps, cs.loss_cap_f, cs.loss_caps_unfilled, cs.jitter_holds,
		        ps.queued_bytes[PACER_VIDEO],
		        ps.oldest_us >= 0 ? (long long)(t - ps.oldest_us) / 1000 : -1LL);
	}
	if (cs.policer_finds != m->policer_finds) {
		m->policer_finds = cs.policer_finds;
		log_info(
		        "%s: the loss grows with the send rate: a rate limit (policer) at about %u "
		        "kbit/s; the rate is held under it for %d s",
		        m->name, cs.policer_bps / 1000, CC_POLICER_HOLD_S);
	}
	if (cs.policer_testing != m->policer_testing) {
		m->policer_testing = cs.policer_testing;
		if (cs.policer_testing)
			log_info("%s: testing whether the rate limit is still there (target %u "
			         "kbit/s)",
			         m->name, cs.target_bps / 1000);
		else if (cs.policer_bps)
			log_info("%s: the rate limit is still there: the rate is held under it "
			         "for %d s more",
			         m->name, CC_POLICER_HOLD_S);
		else
			log_info("%s: the rate limit is gone", m->name);
	}
	if (m->cfg.fixed_bps)
		return;
	/* The ladder sees the highest target of the last second: one overuse cut (to 0.85 x the
	 * acknowledged rate, which is the rung's own rate when the media does not fill the link)
	 * must not throw away a rung; a real drop holds for longer. The pacer follows the
	 * controller at once, so the link never sees more than the target meanwhile (the video
	 * encoder skips pictures while its queue is long). */
	est = cs.target_bps;
	/* While a queue drains after a capacity drop the controller sends well below the link's
	 * capacity for seconds; when it knows that capacity, the ladder sizes the encoders for
	 * 85 % of it (the pacer still sends at the target, and the video encoder skips pictures
	 * while its queue is long), so video steps down to what the link carries rather than off.
	 */
	if (cs.link_bps) {
		m->known_link = cs.link_bps;
		m->known_link_us = t;
	} else if (m->known_link && (t - m->known_link_us > 3000000 || cs.queue_us > 100000)) {
		m->known_link = 0;
	}
	/* The controller forgets the capacity when the link delivers more than it (the drop is
	 * over) while its own target is still climbing: the old capacity stays a floor for 3 s
	 * unless a queue builds. */
	if (m->known_link && m->known_link / 100 * 85 > est)
		est = m->known_link / 100 * 85;
	/* A policer known: the target stays under its rate, except in the controller's test
	 * (1.15x it for a few seconds, to see whether it is still there), which is no room for a
	 * rung: climbing into it, the keyframe of the larger picture met a policer dropping 13 %
	 * of the packets (lab, 4g-policed: pictures given up, a keyframe request, and 5 s later
	 * another keyframe to step back down). Padding fills the test (upgrade_probe). */
	if (cs.policer_bps && est > cs.policer_bps / 100 * 95)
		est = cs.policer_bps / 100 * 95;
	m->tgt_hist[m->tgt_head++ % TGT_HIST] = est;
	link = 0;
	for (unsigned i = 0; i < TGT_HIST && i < m->tgt_head; i++)
		if (m->tgt_hist[i] > link)
			link = m->tgt_hist[i];
	/* What FEC and redundancy will add to each rung is part of its cost (rung_extra_bps). */
	/* Loss memory: the controller measures loss over 2 s windows, which often see none on a
	 * 1 % link; protection follows the worst recent window, decaying with a ~7 s half-life. */
	m->loss_mem *= 0.98;
	if (cs.loss > m->loss_mem)
		m->loss_mem = cs.loss > 1 ? 1 : cs.loss;
	k = fec_group_size_for_loss(
	        cs.rtt_us >= CODEC_LADDER_FEC_RTT_MS * 1000 && m->loss_mem < 0.01 ? 0.01
	                                                                          : m->loss_mem);
	m->red_on = m->loss_mem >= 0.005;
	m->lad_k = k;
	/* Drain hold: once the controller has cut its rate (a decrease within the last 6 s) and
	 * the queue that made it is shrinking, the low target only drains that queue (the
	 * controller restores its rate as soon as the queue is gone): the ladder keeps its rung
	 * meanwhile instead of stepping down update after update (the pacer still sends at the
	 * target; the video encoder skips pictures while its queue is long). Not at an audio
	 * squeeze's end: that comes when the controller has restored its rate, the drain being
	 * over, while the queue it measures still lags by up to the queue itself (1.4 s seen);
	 * held there in a geo-sat session, the first picture after the squeeze was encoded at
	 * 180p-15, and the ladder stepped down to 90p-15 205 ms later. */
	if (cs.overuses != m->cc_overuses) {
		m->cc_overuses = cs.overuses;
		m->cc_react_us = t;
	}
	draining = !m->lad_squeeze_end && m->cc_react_us && t - m->cc_react_us < 6000000 &&
	           cs.queue_us > 30000 && cs.queue_us <= m->lad_queue_us && cs.usage != CC_OVERUSE;
	m->lad_queue_us = cs.queue_us;
	/* and while the test runs, the rung stays: a climb then (the loss memory decayed, say)
	 * would send the larger picture's keyframe into the policer's loss */
	if (cs.policer_testing && link > codec_ladder_cost(&m->ladder, lprev))
		link = codec_ladder_cost(&m->ladder, lprev);
	if (draining && link < codec_ladder_cost(&m->ladder, lprev)) {
		link = codec_ladder_cost(&m->ladder, lprev);
		m->drain_holds++;
	}
	/* Just after the controller's restore, the floor rather than stills on a target a little
	 * low (relay_media_restore_input). Debug sessions of a 120 kbit/s rain fade restored 83.2,
	 * 85.0, 82.6, 85.9, 86.3 and 82.8 kbit/s, under the 86.4 that keeps 90p-7.5, and the
	 * ladder sent stills (for 7.5-18.7 s), at the squeeze's end or at the regular update just
	 * before it; 2-3 s later the targets were 113.4, 94.6, 116.5 (others: a loss cap, since
	 * lifted for a sender under its target, relay/cc). Two restored under the band (76.9,
	 * 80.4). The floor's lightest protection: what relay_media_floor_group_size may take. */
	if (lprev >= codec_ladder_floor() && m->restore_us) {
		unsigned fi = codec_ladder_floor(), kf = fec_group_size_for_loss(FLOOR_LOSS);
		uint64_t cost = floor_cost(k && k < kf ? kf : k, camera_fps(m), m->red_on);
		uint32_t keep = (uint32_t)(cost - codec_ladder_slack_bps(fi));
		uint32_t in = relay_media_restore_input(link, keep, t - m->restore_us);

		if (in != link) {
			log_debug("%s: ladder: the floor kept after the restore (target %u bit/s, "
			          "input "
			          "%u, keeps at %u)",
			          m->name, cs.target_bps, link, keep);
			link = in;
			m->floor_held++;
		}
	}
	/* Live video before stills: when the protection a loss window asks for (a burst at a low
	 * rate reads 4-6 %: groups of 2) makes even the lowest live rung too dear, but that rung
	 * fits with larger groups, FEC takes those. The rung below is a still every 6 s: in a
	 * bench/consult.sh geo-sat session, one such window at the 4x drop's 101 kbit/s target sent
	 * stills for 16 s (90p-7.5 cost 102.2 kbit/s with groups of 2, 92.4 with 3), and the viewer
	 * saw 4 pictures in the 21.7 s between the drop's last late one and live video again. */
	k = relay_media_floor_group_size(k, link, camera_fps(m), m->red_on,
	                                 lprev < codec_ladder_floor());
	if ((k != m->lad_k) != m->floor_relaxing) {
		m->floor_relaxing = k != m->lad_k;
		log_debug("%s: ladder: %s (FEC groups of %u, target %u bit/s, loss %.3f)", m->name,
		          m->floor_relaxing ? "live video kept with less protection"
		                            : "protection back to the loss's",
		          k, cs.target_bps, m->loss_mem);
	}
	if (k != m->lad_k)
		m->floor_relaxed++;
	m->lad_k = k;
	if (codec_ladder_update(&m->ladder, (uint64_t)t / 1000, link, m->loss_mem,
	                        (uint32_t)(cs.rtt_us / 1000), &s))
		return;
	/* The floor kept on its slack (codec_ladder_slack_bps): its VP8 pushed back below its rate
	 * (video_fill) rather than stills. */
	slack = codec_ladder_slack_bps(s.index) && link < codec_ladder_cost(&m->ladder, s.index);
	if (slack != m->floor_slacking) {
		m->floor_slacking = slack;
		log_debug("%s: ladder: %s (target %u bit/s, link %u, cost %u)", m->name,
		          slack ? "lowest live rung kept below its cost"
		                : "lowest live rung paid again",
		          cs.target_bps, link, codec_ladder_cost(&m->ladder, s.index));
	}
	if (slack)
		m->floor_slack++;
	upgrade_probe(m, t, &cs, &s, lprev);
	fec_encoder_set_k(&m->fec, k);
	ei = effective_rung(m, s.index);
	if (ei != s.index &&
	    !codec_ladder_settings_for(ei, m->loss_mem, (uint32_t)(cs.rtt_us / 1000), &eff))
		s = eff;
	if (s.index != prev || s.audio_fec != m->set.audio_fec ||
	    s.audio_loss_pct != m->set.audio_loss_pct) {
		m->set = s;
		apply_audio_settings(m);
	}
	video_fill(
	        m, relay_media_rung_budget(link, &m->set.rung, camera_fps(m), k, m->red_on),
	        relay_media_rung_budget(cs.target_bps, &m->set.rung, camera_fps(m), k, m->red_on),
	        ps.queued_bytes[PACER_VIDEO]);
	if (s.index != prev) {
		log_info("%s: ladder %s -> %s (target %u bit/s, loss %.3f, rtt %lld ms)", m->name,
		         codec_ladder_rung_get(prev)->name, s.rung.name, cs.target_bps, cs.loss,
		         (long long)(cs.rtt_us / 1000));
		ladder_event(m, t);
		if (s.index < prev)
			m->downgraded = true;
		if (m->downgraded && s.index < m->min_rung_after)
			m->min_rung_after = s.index;
	}
}

/* ---------------------------------------------------------------- audio send ---- */

static void audio_capture(struct relay_media *m, int64_t t)
{
	size_t samples;
	int16_t frame[CODEC_OPUS_FRAME_MAX];
	uint8_t opus[CODEC_OPUS_PACKET_MAX], payload[PKT_MAX], pkt[PKT_MAX];
	size_t olen, plen, len;
	struct red_entry *r = NULL;
	struct pacer_media pm = {0, 0, PACER_INDEPENDENT | PACER_DROPPABLE};
	int rc;

	if (!m->oenc)
		return;
	for (;;) {
		samples = (size_t)m->opus_frame_ms * 48;
		/* the frame is complete when its last sample has been "captured" */
		if (m->start_us + (int64_t)(m->audio_ts + samples) * 1000000 / 48000 > t)
			return;
		for (size_t i = 0; i < samples; i++) {
			frame[i] = m->pcm[m->pcm_pos++];
			if (m->pcm_pos == m->pcm_frames)
				m->pcm_pos = 0;
		}
		rc = codec_opus_enc_encode(m->oenc, frame, opus, sizeof opus, &olen);
		if (rc) {
			log_warn("%s: opus encode: %s", m->name, codec_opus_strerror(rc));
			m->audio_ts += (uint32_t)samples;
			continue;
		}
		if (m->red_on && (!m->squeeze_bps || m->squeeze_red)) {
			r = &m->red[(m->red_head + RED_HIST - RED_DIST) % RED_HIST];
			if (!r->valid || (uint32_t)(m->audio_ts - r->ts) >= 16384 ||
			    r->len > 1023 || r->len + olen + 5 > sizeof payload - 64)
				r = NULL;
		}
		if (r) { /* RFC 2198: one redundant block header (4 bytes), the primary's (1) */
			uint32_t off = m->audio_ts - r->ts;

			payload[0] = 0x80 | PT_OPUS;
			payload[1] = (uint8_t)(off >> 6);
			payload[2] = (uint8_t)(((off & 0x3f) << 2) | (r->len >> 8));
			payload[3] = (uint8_t)r->len;
			payload[4] = PT_OPUS;
			memcpy(payload + 5, r->data, r->len);
			memcpy(payload + 5 + r->len, opus, olen);
			plen = 5 + r->len + olen;
			m->st.tx_red_frames++;
		} else {
			memcpy(payload, opus, olen);
			plen = olen;
		}
		rc = build_rtp(pkt, sizeof pkt, &len, r ? PT_RED : PT_OPUS, false, m->audio_seq++,
		               m->audio_ts, m->cfg.ssrc_base + 1, payload, plen, false, 0, NULL);
		pm.deadline_us = m->start_us + (int64_t)(m->audio_ts + samples) * 1000000 / 48000 +
		                 AUDIO_STALE_US;
		if (!rc && enqueue(m, PACER_AUDIO, pkt, len, K_AUDIO, &pm) == 0) {
			m->sent_audio = true;
			m->audio_pkts++;
			m->audio_octets += (uint32_t)plen;
		}
		m->st.tx_audio_frames++;
		m->red[m->red_head] =
		        (struct red_entry){.valid = true, .ts = m->audio_ts, .len = olen};
		memcpy(m->red[m->red_head].data, opus, olen);
		m->red_head = (m->red_head + 1) % RED_HIST;
		m->audio_ts += (uint32_t)samples;
	}
}

/* ---------------------------------------------------------------- video send ---- */

static int video_configure(struct relay_media *m)
{
	const struct codec_ladder_rung *r = &m->set.rung;
	struct codec_vp8_enc_config c = {0};
	int rc;

	c.width = r->width;
	c.height = r->height;
	/* never encode larger than the camera gives (upscaling only spends bits) */
	if (c.width > m->src.width || c.height > m->src.height) {
		c.width = m->src.width;
		c.height = m->src.height;
	}
	c.fps_num = r->fps_num;
	c.fps_den = r->fps_den;
	c.bitrate_kbps = (int)(r->video_bps / 1000);
	c.layers = r->temporal_layers ? r->temporal_layers : 1;
	c.threads = 1;
	/* the fixed-bitrate baseline runs without loss recovery; stills are keyframes */
	c.recovery_interval_ms =
	        m->cfg.fixed_bps || r->mode == CODEC_LADDER_STILLS ? 0 : RP_INTERVAL_MS;
	if (m->venc) {
		if (!memcmp(&c, &m->vcfg, sizeof c))
			return 0;
		rc = codec_vp8_enc_reconfigure(m->venc, &c);
	} else {
		rc = codec_vp8_enc_new(&m->venc, &c);
	}
	if (rc) {
		log_warn("%s: vp8 config %dx%d: %s", m->name, c.width, c.height,
		         codec_vp8_strerror(rc));
		return rc;
	}
	m->vcfg = c;
	if (m->enc_cap < codec_i420_size(c.width, c.height)) {
		uint8_t *nb = realloc(m->enc_buf, codec_i420_size(c.width, c.height));

		if (!nb)
			return -ENOMEM;
		m->enc_buf = nb;
		m->enc_cap = codec_i420_size(c.width, c.height);
	}
	return 0;
}

/* Queues a FEC repair payload (rep, rl bytes) for the picture with RTP timestamp ts, pacer frame
 * fm (dropped with it). */
static void queue_repair(struct relay_media *m, const uint8_t *rep, size_t rl, uint32_t ts,
                         const struct pacer_media *fm)
{
	uint8_t pkt[PKT_MAX];
	struct fec_repair fr;
	size_t len;

	if (build_rtp(pkt, sizeof pkt, &len, PT_FEC, false, m->fec_seq++, ts, m->cfg.ssrc_base + 3,
	              rep, rl, false, 0, NULL) ||
	    enqueue(m, PACER_RTX, pkt, len, K_FEC, fm))
		return;
	m->st.tx_fec_packets++;
	if (!fec_repair_parse(&fr, rep, rl)) /* for the debug line */
		log_debug("%s: video: FEC repair %u (seq %u, mask %#llx) queued", m->name,
		          (unsigned)(m->fec_seq - 1), (unsigned)fr.base,
		          (unsigned long long)fr.mask);
}

/* Queues the repairs held back for an anchor picture (RP_SPREAD_US), in order: when their time
 * has come, or at once (force) before any later repair, so that repairs keep their order. */
static void release_held_repairs(struct relay_media *m, int64_t t, bool force)
{
	if (!m->n_hold || (!force && t < m->hold_due_us))
		return;
	for (unsigned i = 0; i < m->n_hold; i++)
		queue_repair(m, m->rp_hold[i].data, m->rp_hold[i].len, m->rp_hold[i].ts,
		             &m->rp_hold[i].fm);
	m->n_hold = 0;
}

/* Holds a repair made while an anchor picture was sent; first puts it before those held. When
 * RP_HOLD_MAX are held already (a large keyframe, small groups), those go now: repairs keep
 * their order. */
static void hold_repair(struct relay_media *m, const uint8_t *rep, size_t rl /* <= REPAIR_MAX */,
                        uint32_t ts, const struct pacer_media *fm, bool first)
{
	struct held_repair *h;

	if (m->n_hold == RP_HOLD_MAX)
		release_held_repairs(m, 0, true);
	if (first)
		memmove(&m->rp_hold[1], &m->rp_hold[0], m->n_hold * sizeof m->rp_hold[0]);
	h = &m->rp_hold[first ? 0 : m->n_hold];
	m->n_hold++;
	memcpy(h->data, rep, rl);
	h->len = rl;
	h->ts = ts;
	h->fm = *fm;
}

/* A group's repair (rl > 0) made while sending a picture: held back with an anchor's
 * (RP_SPREAD_US), queued at once otherwise, after those held. */
static void repair_made(struct relay_media *m, const uint8_t *rep, int rl, bool anchor, uint32_t ts,
                        const struct pacer_media *fm, int64_t t)
{
	if (rl <= 0)
		return;
	if (anchor) {
		hold_repair(m, rep, (size_t)rl, ts, fm, false);
	} else {
		release_held_repairs(m, t, true);
		queue_repair(m, rep, (size_t)rl, ts, fm);
	}
}

static void video_send_frame(struct relay_media *m, const struct codec_vp8_packet *vp,
                             uint32_t index, int64_t cap, int64_t t)
{
	struct pacer_media pm = {++m->vframe, cap + VIDEO_STALE_US,
	                         (vp->keyframe ? PACER_INDEPENDENT : 0) |
	                                 (vp->droppable ? PACER_DROPPABLE : 0)};
	struct pacer_media fm = {m->vframe, pm.deadline_us, 0};
	struct rtp_vp8_packetizer pk;
	struct rtp_vp8_desc d = {0};
	uint8_t payload[PKT_MAX], pkt[PKT_MAX], rep[REPAIR_MAX];
	size_t plen, len;
	bool last = false;
	/* a picture every later one needs: protected with a second repair (RP_SPREAD_US) */
	bool anchor = vp->recovery || vp->keyframe;
	unsigned n_base = 0; /* protected packets of this picture so far */
	uint32_t ts = (uint32_t)vp->pts;
	/* the recovery extension: the reference, and the time to the next recovery point (the
	 * interval, plus up to one base-layer picture's: the last one's, in 10 ms) */
	int64_t rp_gap = (RP_INTERVAL_MS + (int64_t)(uint32_t)(ts - m->tl0_pts) / 90) / 10;
	uint8_t rp[2] = {vp->recovery_ref, (uint8_t)(rp_gap < 255 ? rp_gap : 255)};

	if (vp->temporal_id == 0)
		m->tl0_pts = ts;
	if (m->fec.hold) /* the last recovery point was cut short (a full queue): its group */
		repair_made(m, rep, fec_encoder_release(&m->fec, rep, sizeof rep), false, ts, &fm,
		            t);

	m->picture_id = (m->picture_id + 1) & 0x7fff;
	d.non_reference = vp->droppable;
	d.has_picture_id = true;
	d.picture_id_bits = 15;
	d.picture_id = m->picture_id;
	d.has_tl0picidx = true;
	d.tl0picidx = vp->tl0picidx;
	d.has_tid = true;
	d.tid = (uint8_t)vp->temporal_id;
	d.layer_sync = vp->layer_sync;
	if (rtp_vp8_packetizer_init(&pk, vp->data, vp->len, &d, CODEC_LADDER_VIDEO_PAYLOAD))
		return;
	while (!last) {
		uint16_t seq = m->video_seq++;
		struct vhist *h;
		int rl;

		if (rtp_vp8_packetizer_next(&pk, payload, sizeof payload, &plen, &last))
			return;
		if (build_rtp(pkt, sizeof pkt, &len, PT_VP8, last, seq, ts, m->cfg.ssrc_base + 2,
		              payload, plen, true, index, vp->recovery ? rp : NULL))
			return;
		if (enqueue(m, PACER_VIDEO, pkt, len, K_VIDEO, &pm)) {
			log_debug("%s: video queue full, picture cut", m->name);
			return;
		}
		m->sent_video = true;
		m->video_pkts++;
		m->video_octets += (uint32_t)plen;
		h = &m->vh[seq % HIST_VIDEO];
		h->valid = true;
		h->seq = seq;
		h->frame = pm.frame;
		h->deadline_us = pm.deadline_us;
		h->len = len;
		memcpy(h->data, pkt, len);
		if (vp->temporal_id != 0 || m->cfg.fixed_bps || m->fec.k == 0)
			continue;
		if (anchor && n_base == 0) {
			/* Held repairs go first. The anchor stays in the group open (starting one
			 * with it, its repair left 333 ms or more after it, then waited behind the
			 * video: a one-packet recovery point lost in a geo-sat-256k session was
			 * restored 234 ms after its wait ran out, 824 ms after the repair was
			 * queued) */
			release_held_repairs(m, t, true);
			fec_encoder_init(&m->fec_even, FEC_MAX_GROUP);
			/* and all of a recovery point of up to RP_GROUP_MAX packets goes into that
			 * group, past k if need be (fec_encoder_hold): with the even-numbered
			 * packets' repair, that restores any two of its packets in a row. A group
			 * reaching k at the first packet of a 4-packet one split it in a
			 * geo-sat-steady session: that packet and two of the picture before were
			 * lost, the even repair (2nd and 4th) and the next group's (2nd to 4th)
			 * had nothing to restore, and the next recovery point cost a keyframe
			 * request. A keyframe still spans several groups. */
			if (vp->recovery &&
			    vp->len <= (size_t)RP_GROUP_MAX * CODEC_LADDER_VIDEO_PAYLOAD)
				fec_encoder_hold(&m->fec);
		}
		if (!m->fec.open)
			m->fec_group_us = t;
		rl = fec_encoder_add(&m->fec, pkt, len, seq, rep, sizeof rep);
		if (last && m->fec.hold) {
			repair_made(m, rep, rl, anchor, ts, &fm, t);
			rl = fec_encoder_release(&m->fec, rep, sizeof rep);
		}
		if (rl == 0 && last && m->fec.open &&
		    (vp->keyframe || t - m->fec_group_us >= FEC_SPAN_US))
			rl = fec_encoder_flush(&m->fec, rep, sizeof rep);
		/* Repairs wait in their own class, below video, and some go stale there (28 of
		 * 128 in a 60 s geo-sat-256k run). Queued right behind their picture as video
		 * instead, none went stale but fewer pictures were sent (the encoder skips while
		 * the video queue is long) and no more packets were recovered: 4 runs with bursty
		 * 1 % loss on a fake 256 kbit/s uplink gave 10.18 fps mean against 10.95, and 3 lab
		 * runs (with codec/vp8's slower speed too) 10.55-11.69 against 11.67-11.94 before
		 * either change. The losses that cost pictures are bursts that take two or more
		 * packets of one group, which one XOR repair cannot undo.
		 * Tried again with encoder pushback: held back and queued as video behind the next
		 * picture's first packet (so that no repair goes stale - 22 of 149 did, in a
		 * geo-sat-256k run - and no burst takes a group's last packet with its repair, as
		 * in 2 of 4 keyframe episodes of another), bench/consult_ab.sh's 4 runs against
		 * 225a7ed gave fewer keyframe requests on geo-sat-256k (2.25 against 3.5) but
		 * longer queues (queueing p95 151 against 132 ms; 127 against 96 on
		 * geo-sat-steady) and mouth-to-ear p95 571 against 546 ms. Dealing the packets
		 * to two interleaved groups (a 2-packet picture lost whole comes back) doubles the
		 * repairs while groups close by time: on 256 kbit/s the ladder stepped down to
		 * 180p-7.5 (8.0 and 8.5 fps in 2 runs).
		 * Tried a third time: the pacer serving video and repairs in the order queued
		 * (audio still first). A geo-sat-256k clinic's repairs had waited 126-172 ms at
		 * the median, up to 560-579 ms (video, one run: 35, at most 135); then 67-76, at
		 * most 246-296. bench/consult_ab.sh's 4 runs against this code (with the
		 * recovery point kept in one group in both) on geo-sat-256k: no keyframe
		 * request (1.0), 2.25 undecodable (11.25), 11.85 fps (11.69), 33.7 dB (32.4),
		 * but queueing p95 161 ms (124) and mouth-to-ear p95 505 (487): video came later
		 * behind its repairs and lip sync delayed the audio (p95 59 ms added, 7.5);
		 * on geo-sat-steady 10.25 undecodable (2.5), queueing p95 90 (69). */
		repair_made(m, rep, rl, anchor, ts, &fm, t);
		if (anchor && n_base++ % 2 == 1) {
			/* the even-numbered packets' XOR: with the group's repair, it restores any
			 * two packets in a row of the picture (one odd, one even). A repair comes
			 * out here only past 64 sequence numbers: the mask is full, a new XOR
			 * starts */
			rl = fec_encoder_add(&m->fec_even, pkt, len, seq, rep, sizeof rep);
			if (rl > 0)
				hold_repair(m, rep, (size_t)rl, ts, &fm, false);
		}
		if (anchor && last) {
			rl = fec_encoder_flush(&m->fec_even, rep, sizeof rep);
			if (rl > 0)
				hold_repair(m, rep, (size_t)rl, ts, &fm, true);
			m->hold_due_us = t + RP_SPREAD_US;
		}
	}
}

static void video_capture(struct relay_media *m, int64_t t)
{
	const struct codec_ladder_rung *r;
	int64_t cap;
	struct codec_i420 src, dst;
	struct codec_vp8_packet vp;
	struct pacer_stats ps;
	int rc;

	if (!m->y4m)
		return;
	for (;;) {
		cap = m->start_us + (int64_t)(m->vid_index * 1000000ull * (uint64_t)m->src.fps_den /
		                              (uint64_t)m->src.fps_num);
		if (cap > t)
			return;
		if (codec_y4m_loop_read(m->y4m, m->src_buf, m->src_size, NULL)) {
			log_warn("%s: video source unreadable (%s), video stops", m->name,
			         codec_y4m_loop_error(m->y4m));
			codec_y4m_loop_close(m->y4m);
			m->y4m = NULL;
			return;
		}
		uint64_t index = m->vid_index++;
		r = &m->set.rung;
		if (r->mode == CODEC_LADDER_AUDIO_ONLY) {
			m->video_was_off = true;
			continue;
		}
		if (m->set.index != m->venc_rung) { /* new rung: its frame rate starts now */
			m->venc_rung = m->set.index;
			m->venc_next_us = cap;
		}
		if (cap < m->venc_next_us)
			continue;
		/* The sound is squeezed into the controller's rate (audio_squeeze): what is left
		 * would carry a picture in seconds, after its time to be shown, and every picture
		 * after it would wait. Pictures pause until the squeeze ends, as they did when the
		 * sound took all the rate (then the pacer dropped them stale); the next one
		 * references the last one encoded. (Letting them trickle: 2 bench/consult.sh
		 * geo-sat sessions had 8 keyframe requests each, 71 and 40 undecodable pictures.)
		 */
		if (m->squeeze_bps) {
			m->st.video_paused++;
			continue;
		}
		pacer_expire(m->pacer, t);
		pacer_get_stats(m->pacer, &ps);
		if (ps.queued_bytes[PACER_VIDEO] * 8ull * 1000000 /
		                    (cc_target_bps(m->cc) ? cc_target_bps(m->cc) : 1) >
		            VQUEUE_MAX_US &&
		    !m->cfg.fixed_bps)
			continue; /* the pacer is still busy with earlier pictures */
		if (r->mode == CODEC_LADDER_STILLS)
			m->venc_next_us = cap + (int64_t)r->stills_interval_ms * 1000;
		else {
			int64_t period = 1000000ll * r->fps_den / r->fps_num;

			m->venc_next_us += period;
			if (m->venc_next_us < cap - period || m->venc_next_us > cap + period)
				m->venc_next_us = cap + period - 2000;
		}
		if (video_configure(m))
			continue;
		if (r->mode == CODEC_LADDER_STILLS || m->video_was_off)
			codec_vp8_enc_request_keyframe(m->venc);
		/* the pacer dropped a stale picture that later ones depend on: it drops dependent
		 * pictures until a keyframe, so this one must be one (no PLI round trip) */
		if (ps.chain_broken[PACER_VIDEO])
			codec_vp8_enc_request_keyframe(m->venc);
		m->video_was_off = false;
		if (codec_i420_view(&src, m->src_buf, m->src.width, m->src.height) ||
		    codec_i420_view(&dst, m->enc_buf, m->vcfg.width, m->vcfg.height) ||
		    codec_i420_scale(&src, &dst))
			continue;
		rc = codec_vp8_enc_encode(m->venc, &dst, (cap - m->start_us) * 9 / 100, &vp);
		if (rc < 0) {
			log_warn("%s: vp8 encode: %s", m->name, codec_vp8_strerror(rc));
			continue;
		}
		if (rc == 0)
			continue;
		m->st.tx_video_frames++;
		if (vp.keyframe)
			m->st.tx_keyframes++;
		if (vp.recovery)
			m->st.tx_recovery_points++;
		if (vp.keyframe && ps.chain_broken[PACER_VIDEO])
			m->keyframes_forced++;
		video_send_frame(m, &vp, (uint32_t)index, cap, t);
	}
}

/* ---------------------------------------------------------------- pacer ---- */

static void pace_cb(evutil_socket_t fd, short what, void *arg);

static void schedule_pacer(struct relay_media *m)
{
	int64_t t = now_us(), next = pacer_next_time(m->pacer, t);
	struct timeval tv;

	if (next == INT64_MAX || m->stopped)
		return;
	next -= t;
	if (next < 0)
		next = 0;
	tv.tv_sec = next / 1000000;
	tv.tv_usec = next % 1000000;
	if (evtimer_pending(m->pace_ev, NULL))
		evtimer_del(m->pace_ev);
	evtimer_add(m->pace_ev, &tv);
}

static void pace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_media *m = arg;
	uint8_t buf[PKT_MAX], pad[PKT_MAX];
	struct pacer_pkt pp;
	int64_t t = now_us();
	int n = 0;

	(void)fd;
	(void)what;
	while (n++ < 64 && pacer_next(m->pacer, t, buf, sizeof buf, &pp) == 1) {
		uint16_t seq = m->twcc_seq++;
		const uint8_t *out = buf;
		size_t len = pp.len;

		if (pp.cls == PACER_PADDING) {
			static const uint8_t zeros[PKT_MAX];
			size_t pl = len > 1200 ? 1200 : (len < 32 ? 32 : len);

			if (build_rtp(pad, sizeof pad, &len, PT_PAD, false, m->pad_seq++, 0,
			              m->cfg.ssrc_base + 4, zeros, pl - 20, false, 0, NULL))
				continue;
			out = pad;
		}
		if (rtp_ext_set_twcc_inplace((uint8_t *)out, len, EXT_TWCC, seq))
			continue;
		cc_on_packet_sent(m->cc, seq, len, t, pp.cluster);
		(void)send_raw(m, out, len);
	}
	schedule_pacer(m);
}

/* ---------------------------------------------------------------- RTCP out ---- */

static uint64_t ntp_of_wall(int64_t w)
{
	uint64_t sec = (uint64_t)(w / 1000000) + 2208988800ull;
	uint64_t frac = ((uint64_t)(w % 1000000) << 32) / 1000000;

	return sec << 32 | frac;
}

static int64_t wall_of_ntp(uint64_t ntp)
{
	int64_t sec = (int64_t)(ntp >> 32) - 2208988800ll;

	return sec * 1000000 + (int64_t)(((ntp & 0xffffffffull) * 1000000) >> 32);
}

uint32_t relay_media_rtp_ts(int64_t elapsed_us, unsigned clock_hz)
{
	/* 64 bits: elapsed_us x clock_hz overflows after ~6 years at 90 kHz; the RTP timestamp
	 * itself wraps modulo 2^32 as the media's own do */
	uint64_t e = elapsed_us > 0 ? (uint64_t)elapsed_us : 0;

	return (uint32_t)(e * clock_hz / 1000000);
}

static void send_rtcp(struct relay_media *m, int64_t t, bool with_sr)
{
	uint8_t buf[PKT_MAX];
	struct buf_writer w;
	size_t n = 0;
	bool any = false;

	buf_writer_init(&w, buf, sizeof buf);
	if (with_sr) {
		int64_t wall = t + m->wall_off_us;

		if (m->sent_audio && !rtcp_write_sr(&w, m->cfg.ssrc_base + 1, ntp_of_wall(wall),
		                                    relay_media_rtp_ts(t - m->start_us, 48000),
		                                    m->audio_pkts, m->audio_octets, NULL, 0))
			any = true;
		if (m->sent_video && !rtcp_write_sr(&w, m->cfg.ssrc_base + 2, ntp_of_wall(wall),
		                                    relay_media_rtp_ts(t - m->start_us, 90000),
		                                    m->video_pkts, m->video_octets, NULL, 0))
			any = true;
	}
	if (m->twcc_pending) {
		if (rtcp_twcc_recorder_build(m->twcc, &w, m->cfg.ssrc_base + 1, 0, &n) == 0 && n)
			any = true;
		m->twcc_pending = false;
	}
	if (any && buf_writer_ok(&w))
		(void)send_raw(m, buf, buf_writer_len(&w));
}

static void send_pli(struct relay_media *m, int64_t t)
{
	uint8_t buf[64];
	struct buf_writer w;
	struct cc_stats cs;

	cc_get_stats(m->cc, &cs);
	if (!jb_keyframe_request(&m->kf, t, cs.rtt_us ? cs.rtt_us : 600000, 500000))
		return;
	buf_writer_init(&w, buf, sizeof buf);
	if (rtcp_write_pli(&w, m->cfg.ssrc_base + 2, m->peer_video_ssrc))
		return;
	m->st.pli_sent++;
	(void)send_raw(m, buf, buf_writer_len(&w));
}

static void send_nacks(struct relay_media *m, int64_t t)
{
	uint16_t seqs[64];
	uint8_t buf[512];
	struct buf_writer w;
	struct cc_stats cs;
	size_t n;

	if (!m->jbv || m->cfg.fixed_bps)
		return;
	cc_get_stats(m->cc, &cs);
	if (!cs.rtt_us)
		return;
	n = jb_video_nack(m->jbv, t, cs.rtt_us, seqs, 64);
	if (!n)
		return;
	buf_writer_init(&w, buf, sizeof buf);
	if (rtcp_write_nack(&w, m->cfg.ssrc_base + 2, m->peer_video_ssrc, seqs, n))
		return;
	m->st.nack_sent += n;
	(void)send_raw(m, buf, buf_writer_len(&w));
}

/* ---------------------------------------------------------------- RTCP in ---- */

/* Feeds a transport-wide feedback report to the controller, and logs (debug) each
 * decrease it made (what it cut from and to, the delivery rate it scaled and the queue that
 * set its depth), each restore after a drain (from which readings) and each loss cap: the
 * once-a-second line shows only their counts. */
static void cc_feedback(struct relay_media *m, const struct rtcp_twcc_pkt *tw, size_t n, int64_t t)
{
	struct cc_stats cs;

	IGNORE(cc_on_feedback(m->cc, tw, n, t));
	cc_get_stats(m->cc, &cs);
	if (cs.restores != m->restores_seen) {
		/* not only logged: the floor's hold after a restore (ladder_update) counts from
		 * here */
		m->restores_seen = cs.restores;
		m->restore_us = t;
		log_debug("%s: cc restore to %u (capacity %u: of the drain's %u readings %u clean, "
		          "all %u on average, their low quartile %u)",
		          m->name, cs.delay_bps, cs.restore_cap_bps, cs.restore_reads,
		          cs.restore_clean, cs.restore_mean_bps, cs.restore_low_bps);
	}
	if (cs.loss_caps != m->loss_caps_logged) {
		m->loss_caps_logged = cs.loss_caps;
		log_debug("%s: cc loss cap: target %u (a window lost %.3f; queue %lld ms)", m->name,
		          cs.target_bps, cs.loss_cap_f, (long long)cs.queue_us / 1000);
	}
	if (cs.overuses == m->cuts_logged)
		return;
	m->cuts_logged = cs.overuses;
	log_debug("%s: cc cut %u -> %u (target %u; %s; delivered %u over the short window; "
	          "queue %lld ms%s; loss %.3f, link %u)",
	          m->name, cs.cut_from_bps, cs.delay_bps, cs.target_bps,
	          cs.cut_gradient ? "gradient" : "queue", cs.cut_recent_bps,
	          (long long)cs.cut_queue_us / 1000, cs.cut_predicted ? " predicted" : "", cs.loss,
	          cs.link_bps);
}

static void rtcp_input(struct relay_media *m, const uint8_t *data, size_t len, int64_t t)
{
	struct rtcp_iter it;
	struct rtcp_packet p;
	static struct rtcp_twcc_pkt tw[4096];
	struct rtcp_twcc_info info;
	uint16_t lost[256];
	size_t n;
	int rc;

	rtcp_iter_init(&it, data, len);
	while ((rc = rtcp_iter_next(&it, &p)) == 1) {
		if (p.type == RTCP_SR) {
			struct sr_map *s = NULL;

			/* the peer's SSRCs are its base + 1 (audio), + 2 (video) */
			if ((p.u.sr.ssrc & 3) == 1)
				s = &m->sr_audio;
			if ((p.u.sr.ssrc & 3) == 2)
				s = &m->sr_video;
			if (s) {
				s->valid = true;
				s->wall_us = wall_of_ntp(p.u.sr.ntp);
				s->rtp_ts = p.u.sr.rtp_ts;
				s->clock = s == &m->sr_audio ? 48000 : 90000;
			}
		} else if (p.type == RTCP_RTPFB && p.count == RTCP_RTPFB_TWCC) {
			if (rtcp_twcc_parse(&p, &info, tw, 4096) == 0 && info.status_count)
				cc_feedback(m, tw, info.status_count, t);
		} else if (p.type == RTCP_RTPFB && p.count == RTCP_RTPFB_NACK) {
			if (rtcp_nack_lost(&p, lost, 256, &n))
				continue;
			m->st.nack_received += n;
			for (size_t i = 0; i < n; i++) {
				struct vhist *h = &m->vh[lost[i] % HIST_VIDEO];

				if (h->valid && h->seq == lost[i]) {
					struct pacer_media rm = {h->frame, h->deadline_us, 0};

					(void)enqueue(m, PACER_RTX, h->data, h->len, K_RTX, &rm);
				}
			}
		} else if (p.type == RTCP_PSFB && p.count == RTCP_PSFB_PLI) {
			m->st.pli_received++;
			if (m->venc)
				codec_vp8_enc_request_keyframe(m->venc);
		}
	}
	if (rc < 0)
		m->st.rx_bad++;
}

/* ---------------------------------------------------------------- receive ---- */

static int64_t capture_wall(const struct sr_map *s, uint32_t ts)
{
	if (!s->valid)
		return -1;
	return s->wall_us + (int64_t)(int32_t)(ts - s->rtp_ts) * 1000000 / (int64_t)s->clock;
}

/* Records a packet's one-way delay; returns it, or -1 before the sender's first report. */
static int64_t note_owd(struct relay_media *m, const struct sr_map *s, uint32_t ts,
                        int64_t arr_wall)
{
	int64_t c = capture_wall(s, ts);

	if (c < 0)
		return -1;
	(void)vec_push(&m->owd, arr_wall - c);
	return arr_wall - c;
}

static int audio_jb_for(struct relay_media *m, unsigned samples, uint32_t ts, struct jb_audio **out)
{
	struct jb_audio_config c = {0};
	struct jb_audio *jb;
	int rc;

	if (m->jba && m->jba_samples == samples) {
		*out = m->jba;
		return 0;
	}
	if (m->jba_next && m->jba_next_samples == samples) {
		*out = m->jba_next;
		return 0;
	}
	c.frame_samples = samples;
	/* Room for the time-spread redundant copy (RED_DIST packets later) to arrive in time. */
	c.min_delay_us =
	        m->cfg.fixed_bps ? 60000 : (int64_t)samples * RED_DIST * 1000000 / 48000 + 30000;
	rc = jb_audio_new(&jb, &c);
	if (rc)
		return rc;
	jb_audio_set_sync_delay(jb, m->sync_floor_us, SYNC_AUDIO_MAX);
	if (!m->jba) {
		m->jba = jb;
		m->jba_samples = samples;
	} else { /* the sender changed its frame length: play the old buffer out first */
		jb_audio_free(m->jba_next);
		m->jba_next = jb;
		m->jba_next_samples = samples;
		m->jba_next_first_ts = ts;
	}
	*out = jb;
	return 0;
}

/* The audio buffer has run dry (the player conceals without advancing, waiting for the next
 * frame) and a packet arrives far past what was played last: the frames between will not
 * come (an outage, and the sender dropped what went stale meanwhile). Playing on from where
 * playout stopped would conceal the whole gap first and then play everything that late; a
 * fresh buffer starts from this packet instead. */
static void audio_resync(struct relay_media *m, uint32_t ts)
{
	struct jb_audio_stats st;

	if (!m->jba || !m->playing || !m->have_last_play_ts ||
	    (int32_t)(ts - m->last_play_ts) <= (int32_t)(AUDIO_RESYNC_US * 48 / 1000))
		return;
	jb_audio_get_stats(m->jba, &st);
	if (st.buffered_us)
		return;
	if (m->jba_next) {
		jb_audio_get_stats(m->jba_next, &st);
		if (st.buffered_us)
			return;
	}
	jb_audio_free(m->jba);
	jb_audio_free(m->jba_next);
	m->jba = m->jba_next = NULL;
	m->have_last_play_ts = false;
	m->audio_resyncs++;
}

static void audio_input(struct relay_media *m, const struct rtp_packet *p, int64_t t)
{
	const uint8_t *prim = p->payload;
	size_t plen = p->payload_len;
	unsigned samples;
	struct jb_audio *jb;

	m->peer_audio_ssrc = p->ssrc;
	audio_resync(m, p->timestamp);
	if (p->payload_type == PT_RED) { /* RFC 2198 */
		struct buf_reader r;
		uint32_t hdr[4], offs[4];
		size_t lens[4], nb = 0, off;

		buf_reader_init(&r, p->payload, p->payload_len);
		for (;;) {
			uint8_t b = buf_read_u8(&r);

			if (!buf_reader_ok(&r))
				goto bad;
			if (!(b & 0x80))
				break;
			if (nb == 4)
				goto bad;
			hdr[nb] = ((uint32_t)b << 24) | buf_read_u24(&r);
			offs[nb] = (hdr[nb] >> 10) & 0x3fff;
			lens[nb] = hdr[nb] & 0x3ff;
			nb++;
		}
		off = r.off;
		for (size_t i = 0; i < nb; i++) {
			const uint8_t *d = buf_read_view(&r, lens[i]);

			if (!d)
				goto bad;
			if (rtp_opus_payload_check(d, lens[i], &samples))
				continue;
			if (audio_jb_for(m, samples, p->timestamp - offs[i], &jb))
				continue;
			if (jb_audio_put(jb, (uint16_t)(p->seq - RED_DIST), p->timestamp - offs[i],
			                 d, lens[i], t) == 0) {
				m->red_only[m->red_only_head++ % 64] = p->timestamp - offs[i];
			}
			off += lens[i];
		}
		prim = p->payload + off;
		plen = p->payload_len - off;
	}
	if (rtp_opus_payload_check(prim, plen, &samples))
		goto bad;
	if (audio_jb_for(m, samples, p->timestamp, &jb))
		return;
	IGNORE(jb_audio_put(jb, p->seq, p->timestamp, prim, plen, t));
	return;
bad:
	m->st.rx_bad++;
}

/* Returns what jb_video_put said (JB_ELATE: the packet's picture is already played or given up),
 * or JB_EINVAL for a packet that does not parse (counted). */
static int video_input(struct relay_media *m, const uint8_t *pkt, size_t len, int64_t t,
                       bool recovered)
{
	struct rtp_packet p;
	struct rtp_vp8_desc d;
	size_t dl;
	const struct rtp_ext *e;
	unsigned flags;

	if (rtp_packet_parse(&p, pkt, len) || p.payload_type != PT_VP8 ||
	    rtp_vp8_desc_parse(&d, &dl, p.payload, p.payload_len)) {
		m->st.rx_bad++;
		return JB_EINVAL;
	}
	m->peer_video_ssrc = p.ssrc;
	e = rtp_ext_find(&p, EXT_INDEX);
	if (e && e->len == 4) {
		unsigned slot = (p.timestamp / 3) % IDX_MAP;

		m->idxmap[slot].ts = p.timestamp;
		m->idxmap[slot].idx = (uint32_t)e->data[0] << 24 | (uint32_t)e->data[1] << 16 |
		                      (uint32_t)e->data[2] << 8 | e->data[3];
		m->idxmap[slot].valid = true;
	}
	if (!recovered) {
		uint8_t copy[PKT_MAX];

		/* FEC covers packets as built, before the pacer numbered them */
		if (len <= sizeof copy) {
			memcpy(copy, pkt, len);
			if (!rtp_ext_set_twcc_inplace(copy, len, EXT_TWCC, 0))
				IGNORE(fec_decoder_add_media(m->fecd, p.seq, copy, len));
		}
	}
	flags = d.start && d.pid == 0 ? JB_VIDEO_START : 0;
	if (rtp_vp8_is_keyframe(&d, p.payload + dl, p.payload_len - dl))
		flags |= JB_VIDEO_INDEPENDENT;
	e = rtp_ext_find(&p, EXT_RECOVERY);
	if (e && e->len == 2) {
		flags |= JB_VIDEO_TAG(TAG_RP | e->data[0]);
		m->rp_gap_us = (int64_t)e->data[1] * 10000;
		m->rp_seen_us = t;
	}
	return jb_video_put(m->jbv, p.seq, p.timestamp, flags, p.marker, p.payload, p.payload_len,
	                    t);
}

void relay_media_input(struct relay_media *m, const uint8_t *data, size_t len)
{
	relay_media_input_at(m, data, len, 0);
}

void relay_media_input_at(struct relay_media *m, const uint8_t *data, size_t len, int64_t rx_us)
{
	struct rtp_packet p;
	int64_t t = now_us(), wall = t + m->wall_off_us, owd;
	uint16_t tw;

	if (!m->started || m->stopped)
		return;
	m->st.rx_packets++;
	if (len >= 2 && data[1] >= 192 && data[1] <= 223) { /* RFC 5761 demultiplexing */
		rtcp_input(m, data, len, t);
		return;
	}
	if (rtp_packet_parse(&p, data, len)) {
		m->st.rx_bad++;
		return;
	}
	if (rtp_ext_get_twcc(&p, EXT_TWCC, &tw) == 0) {
		/* when the packet came, not when this loop got to it (the arrival times make the
		 * peer's delivery rate and delay gradient) */
		IGNORE(rtcp_twcc_recorder_add(m->twcc, tw, rx_us > 0 && rx_us <= t ? rx_us : t));
		m->twcc_pending = true;
	}
	switch (p.payload_type) {
	case PT_OPUS:
	case PT_RED:
		owd = note_owd(m, &m->sr_audio, p.timestamp, wall);
		if (owd >= 0) {
			if (!m->dbg_owd_max || owd > m->dbg_owd_max)
				m->dbg_owd_max = owd;
			if (!m->dbg_owd_min || owd < m->dbg_owd_min)
				m->dbg_owd_min = owd;
		}
		audio_input(m, &p, t);
		break;
	case PT_VP8:
		(void)note_owd(m, &m->sr_video, p.timestamp, wall);
		video_input(m, data, len, t, false);
		break;
	case PT_FEC: {
		uint8_t out[FEC_MAX_PACKET];
		size_t ol;
		uint16_t os;
		int rc;
		struct fec_repair fr;
		bool parsed = !fec_repair_parse(&fr, p.payload, p.payload_len);

		m->st.video_fec_repairs++;
		if (parsed) { /* what rp_repair_may_come needs */
			m->fec_rx_us = t;
			m->fec_rx_end = (uint16_t)(fr.base + 63 - __builtin_clzll(fr.mask));
			m->fec_rx_any = true;
		}
		rc = fec_decoder_add_repair(m->fecd, p.payload, p.payload_len, out, sizeof out, &ol,
		                            &os);
		if (rc == 0) {
			int vr = video_input(m, out, ol, t, true);

			m->st.video_fec_recovered++;
			if (vr == JB_ELATE)
				m->st.video_fec_late++;
			else if (vr == 0 && m->rp_held_any && os == m->rp_held_seq)
				m->st.video_rp_held_restored++;
		} else if (rc == FEC_ETOOMANY) {
			m->st.video_fec_too_many++;
		}
		if (parsed) /* debug line */
			log_debug("%s: video: FEC repair %u (seq %u, mask %#llx): %s %u", m->name,
			          (unsigned)p.seq, (unsigned)fr.base, (unsigned long long)fr.mask,
			          rc == 0              ? "restored seq"
			          : rc == FEC_ENOTHING ? "nothing missing, group of"
			          : rc == FEC_ETOOMANY ? "two or more lost, group of"
			                               : "unusable, group of",
			          rc == 0 ? (unsigned)os : (unsigned)__builtin_popcountll(fr.mask));
		break;
	}
	case PT_PAD:
		break;
	default:
		m->st.rx_bad++;
	}
}

/* ---------------------------------------------------------------- playout ---- */

static void rec_audio(struct relay_media *m, const int16_t *pcm, size_t n)
{
	if (!m->record_dir)
		return;
	if (m->rec_n + n > m->rec_cap) {
		size_t nc = (m->rec_cap ? m->rec_cap * 2 : 48000 * 8) + n;
		int16_t *nb = realloc(m->rec_pcm, nc * sizeof *nb);

		if (!nb) {
			m->rec_err = -ENOMEM;
			return;
		}
		m->rec_pcm = nb;
		m->rec_cap = nc;
	}
	memcpy(m->rec_pcm + m->rec_n, pcm, n * sizeof *pcm);
	m->rec_n += n;
}

static void log_frame(struct relay_media *m, char kind, uint32_t idx, uint32_t ts, int64_t cap,
                      int64_t play, const char *how)
{
	if (m->csv)
		fprintf(m->csv, "%c,%u,%u,%lld,%lld,%s\n", kind, idx, ts, (long long)cap,
		        (long long)play, how);
}

static bool red_only_has(struct relay_media *m, uint32_t ts)
{
	for (unsigned i = 0; i < 64; i++)
		if (m->red_only[i] == ts && ts)
			return true;
	return false;
}

static void audio_play_one(struct relay_media *m, int64_t t)
{
	struct jb_audio_frame f;
	struct jb_audio_stats before, after;
	int16_t pcm[CODEC_OPUS_PACKET_SAMPLES_MAX];
	size_t ns = 0, samples;
	bool rec = false, lost = false;
	const char *how = "play";
	int64_t wall = t + m->wall_off_us;

	/* switch to the buffer of the new frame length once the old one is played out */
	jb_audio_get_stats(m->jba, &before);
	if (m->jba_next && ((m->have_last_play_ts && (int32_t)(m->last_play_ts + m->jba_samples -
	                                                       m->jba_next_first_ts) >= 0) ||
	                    (m->playing && before.buffered_us == 0))) {
		jb_audio_free(m->jba);
		m->jba = m->jba_next;
		m->jba_samples = m->jba_next_samples;
		m->jba_next = NULL;
	}
	samples = m->jba_samples;
	jb_audio_get_stats(m->jba, &before);
	if (m->playing && before.buffered_us == 0) {
		/* Underrun: nothing at or after the next frame has arrived, so the path's delay
		 * grew (a queue builds after a capacity drop) rather than this frame being lost
		 * (a loss leaves later frames buffered). Conceal without advancing, as the
		 * buffer does to grow, so the frame still plays when it comes; the delay this
		 * adds shows in the mouth-to-ear figures and is shed later by the buffer. */
		bool rcv;

		if (codec_opus_dec_lost(m->odec, NULL, 0, samples, pcm,
		                        CODEC_OPUS_PACKET_SAMPLES_MAX, &ns, &rcv)) {
			memset(pcm, 0, samples * sizeof *pcm);
			ns = samples;
		}
		m->audio_underrun++;
		log_frame(m, 'a', 0, 0, -1, wall, "underrun");
		rec_audio(m, pcm, ns);
		m->play_next_us += (int64_t)ns * 1000000 / 48000;
		return;
	}
	jb_audio_get(m->jba, t, &f);
	jb_audio_get_stats(m->jba, &after);
	if (f.dropped_one)
		m->audio_shrink++;
	switch (f.action) {
	case JB_WAIT: {
		/* A fresh buffer still filling while playout runs: the one for a new frame
		 * length took over when the old one ran dry (a queue building), or playout
		 * restarted after a gap. Every frame it holds will play: this is delay inserted
		 * while it fills, concealed and counted as underrun, not source audio lost. */
		bool rcv;

		if (!m->playing)
			return;
		if (codec_opus_dec_lost(m->odec, NULL, 0, samples, pcm,
		                        CODEC_OPUS_PACKET_SAMPLES_MAX, &ns, &rcv)) {
			memset(pcm, 0, samples * sizeof *pcm);
			ns = samples;
		}
		m->audio_underrun++;
		how = "underrun";
		break;
	}
	case JB_PLAY:
		if (codec_opus_dec_decode(m->odec, f.payload, f.len, pcm,
		                          CODEC_OPUS_PACKET_SAMPLES_MAX, &ns) == 0) {
			if (red_only_has(m, f.timestamp)) {
				m->st.audio_red++;
				how = "red";
			} else
				m->st.audio_played++;
			rec = true;
			break;
		}
		/* a corrupt packet is concealed */
		/* fall through */
	case JB_FEC:
	case JB_CONCEAL: {
		bool recovered = false;
		const uint8_t *next = f.action == JB_FEC ? f.payload : NULL;

		if (codec_opus_dec_lost(m->odec, next, next ? f.len : 0, samples, pcm,
		                        CODEC_OPUS_PACKET_SAMPLES_MAX, &ns, &recovered) &&
		    codec_opus_dec_lost(m->odec, NULL, 0, samples, pcm,
		                        CODEC_OPUS_PACKET_SAMPLES_MAX, &ns, &recovered)) {
			memset(pcm, 0, samples * sizeof *pcm);
			ns = samples;
		}
		if (recovered) {
			m->st.audio_fec++;
			rec = true;
			how = "fec";
		} else if (after.expanded > before.expanded) {
			how = "stretch";
		} else {
			lost = true;
			how = "lost";
		}
		break;
	}
	}
	m->playing = true;
	if (lost) {
		m->audio_lost++;
		m->st.audio_concealed++;
	}
	if (rec) {
		int64_t c = capture_wall(&m->sr_audio, f.timestamp);

		if (c >= 0) {
			(void)vec_push(&m->m2e, wall - c);
			(void)avvec_push(&m->av_audio, c, wall);
			(void)vec_push(&m->aadded,
			               after.target_us > after.jitter_target_us
			                       ? after.target_us - after.jitter_target_us
			                       : 0);
			if (m->sync)
				jb_sync_audio_played(m->sync, c, wall);
		}
		log_frame(m, 'a', f.timestamp, f.timestamp, c, wall, how);
	} else {
		log_frame(m, 'a', f.timestamp, f.timestamp, -1, wall, how);
	}
	if (f.action != JB_WAIT) {
		m->last_play_ts = f.timestamp;
		m->have_last_play_ts = true;
	}
	rec_audio(m, pcm, ns);
	m->play_next_us += (int64_t)(ns ? ns : samples) * 1000000 / 48000;
}

static void audio_play(struct relay_media *m, int64_t t)
{
	if (!m->jba)
		return;
	if (t / 1000000 != m->last_rx_dbg_s) {
		struct jb_audio_stats st;

		jb_audio_get_stats(m->jba, &st);
		m->last_rx_dbg_s = t / 1000000;
		log_debug(
		        "%s: audio one-way %lld-%lld ms, buffer target %lld ms (jitter asks %lld, "
		        "sync floor %lld), buffered %lld ms",
		        m->name, (long long)m->dbg_owd_min / 1000, (long long)m->dbg_owd_max / 1000,
		        (long long)st.target_us / 1000, (long long)st.jitter_target_us / 1000,
		        (long long)st.sync_floor_us / 1000, (long long)st.buffered_us / 1000);
		m->dbg_owd_min = m->dbg_owd_max = 0;
	}
	if (!m->playing) {
		m->play_next_us = t;
		audio_play_one(m, t);
		return;
	}
	for (int i = 0; i < 8 && m->play_next_us <= t; i++)
		audio_play_one(m, t);
	if (m->play_next_us < t - 200000) /* far behind (stalled loop): resynchronise */
		m->play_next_us = t;
}

static uint32_t index_of_ts(const struct relay_media *m, uint32_t ts, bool *ok)
{
	unsigned slot = (ts / 3) % IDX_MAP;

	*ok = m->idxmap[slot].valid && m->idxmap[slot].ts == ts;
	return *ok ? m->idxmap[slot].idx : 0;
}

/* Shows the oldest held picture now: the per-frame log, the freeze and skew figures, the
 * recording. */
static void video_show_head(struct relay_media *m, int64_t wall)
{
	struct vshow *v = &m->vshow[m->vshow_head];
	int rc;

	m->vshow_head = (m->vshow_head + 1) % VSHOW_MAX;
	m->vshow_n--;
	m->st.video_decoded++;
	(void)vec_push(&m->disp_t, wall);
	(void)vec_push(&m->disp_idx, v->idx);
	(void)vec_push(&m->vhold, wall - v->ready);
	if (v->capture >= 0)
		(void)avvec_push(&m->av_video, v->capture, wall);
	/* "late": decoded only after its sound played, so shown out of sync (a picture that
	 * waited for a retransmission or behind a queue); "show": shown with its sound */
	log_frame(m, 'v', v->idx, v->ts, v->capture, wall,
	          m->sync && v->capture >= 0 &&
	                          jb_sync_video_late(m->sync, v->capture, v->ready, wall)
	                  ? "late"
	                  : "show");
	if (m->ry4m && v->pic) {
		rc = codec_y4m_writer_write(m->ry4m, v->pic);
		if (rc && !m->rec_err)
			m->rec_err = rc;
	}
}

/* Shows the held pictures whose time has come: when the sound captured with them plays (lip
 * sync), or at once without it. */
static void video_show_due(struct relay_media *m, int64_t t)
{
	int64_t wall = t + m->wall_off_us;

	while (m->vshow_n) {
		const struct vshow *v = &m->vshow[m->vshow_head];

		if (m->sync && v->capture >= 0 &&
		    jb_sync_video_due(m->sync, v->capture, v->ready, wall) > wall)
			break;
		video_show_head(m, wall);
	}
}

/* A decoded picture: scaled to the display size and held until its time to be shown. */
static void video_display(struct relay_media *m, const struct codec_vp8_picture *pic, uint32_t ts,
                          int64_t waited_us, int64_t t)
{
	struct codec_i420 dst;
	struct vshow *v;
	bool ok;
	uint32_t idx = index_of_ts(m, ts, &ok);
	int64_t wall = t + m->wall_off_us;

	if (!ok)
		return; /* cannot say which source frame it is: not shown in the log */
	if (m->vshow_n == VSHOW_MAX)
		video_show_head(m, wall); /* held too many: the oldest goes now */
	v = &m->vshow[(m->vshow_head + m->vshow_n) % VSHOW_MAX];
	if (!v->pic)
		v->pic = malloc(codec_i420_size(m->disp_w, m->disp_h));
	if (v->pic && (codec_i420_view(&dst, v->pic, m->disp_w, m->disp_h) ||
	               codec_i420_scale(&pic->pic, &dst))) {
		free(v->pic);
		v->pic = NULL;
	}
	v->ts = ts;
	v->idx = idx;
	v->capture = capture_wall(&m->sr_video, ts);
	v->ready = wall;
	m->vshow_n++;
	if (m->sync && v->capture >= 0)
		jb_sync_video_ready(m->sync, v->capture, wall, waited_us);
	video_show_due(m, t);
}

/* Lip sync's floor on the audio buffer's target, recomputed as the sync asks. */
static void lip_sync_update(struct relay_media *m, int64_t t)
{
	struct jb_audio_stats st;
	int64_t f;

	if (!m->sync || !m->jba)
		return;
	jb_audio_get_stats(m->jba, &st);
	f = jb_sync_audio_floor(m->sync, t + m->wall_off_us, st.jitter_target_us);
	if (f != m->sync_floor_us) {
		log_debug("%s: lip sync: audio target floor %lld ms (jitter asks %lld ms)", m->name,
		          (long long)f / 1000, (long long)st.jitter_target_us / 1000);
		m->sync_floor_us = f;
		jb_audio_set_sync_delay(m->jba, f, SYNC_AUDIO_MAX);
		if (m->jba_next)
			jb_audio_set_sync_delay(m->jba_next, f, SYNC_AUDIO_MAX);
	}
}

/* Whether a recovery point tagged `tag` (TAG_RP | the TL0PICIDX it references) decodes here:
 * after a keyframe, when ALTREF holds the picture it references (set within RP_ARF_MAX_US). */
static bool rp_decodable(const struct relay_media *m, unsigned tag)
{
	return m->have_tl0 && m->have_arf && (uint8_t)tag == m->arf_tl0 &&
	       now_us() - m->arf_us < RP_ARF_MAX_US;
}

/* Whether the FEC repair of the packet gap_seq may still come, so that a recovery point behind
 * it should not end the wait yet: repairs are flowing (one came within RP_FEC_FLOWING_US) and
 * none has come yet for gap_seq or a later packet (the sender sends them in order: once one
 * did, the gap's own was lost, or could not restore it). Given up at once, the gap lost the
 * pictures between it and the recovery point: in one lab session (geo-sat-256k) all 3 resumes
 * at a recovery point came 17-51 ms before the repair that restored exactly the packet given
 * up. The wait stays bounded by VIDEO_GAP_WAIT_US. */
static bool rp_repair_may_come(const struct relay_media *m, uint16_t gap_seq)
{
	return m->fec_rx_any && now_us() - m->fec_rx_us < RP_FEC_FLOWING_US &&
	       (int16_t)(m->fec_rx_end - gap_seq) < 0;
}

/* jb_video's gap_unneeded: a frame after a gap decodes without it when it is a base-layer frame
 * that follows the last one decoded, or a layer-sync frame (Y: references the base layer only)
 * of that base-layer frame; the gap then held only pictures nothing references (the upper
 * layers). Waiting for them would only stall the pictures behind (up to VIDEO_GAP_WAIT_US).
 * Or it is a recovery point the decoder can take: what the gap held no longer matters. */
static bool video_gap_unneeded(void *arg, const uint8_t *payload, size_t len, unsigned tag,
                               uint16_t gap_seq)
{
	struct relay_media *m = arg;
	struct rtp_vp8_desc d;
	size_t dl;

	if (tag & TAG_RP) {
		if (!rp_decodable(m, tag))
			return false;
		if (rp_repair_may_come(m, gap_seq)) {
			if (!m->rp_held_any || m->rp_held_seq != gap_seq) /* once per gap */
				m->st.video_rp_held++;
			m->rp_held_seq = gap_seq;
			m->rp_held_any = true;
			return false;
		}
	} else if (!m->have_tl0 || m->need_keyframe || rtp_vp8_desc_parse(&d, &dl, payload, len) ||
	           !d.has_tl0picidx || !d.has_tid ||
	           (d.tid == 0 ? d.tl0picidx != (uint8_t)(m->last_tl0 + 1)
	                       : !d.layer_sync || d.tl0picidx != m->last_tl0)) {
		return false;
	}
	m->st.video_gaps_unneeded++; /* jb_video gives the gap up now: once per gap */
	return true;
}

/* A picture cannot be decoded: the decoder lost its chain. Asks for a keyframe, unless it may
 * wait (a base-layer picture is missing), recovery points are coming and ALTREF holds what the
 * next one needs; then the tick asks only if none came by its time plus RP_LATE_US (send_pli
 * limits the rate). */
static void video_broken(struct relay_media *m, int64_t t, bool may_wait)
{
	m->st.video_corrupt++;
	if (!may_wait) {
		m->rp_wait_until = 0;
	} else if (!m->need_keyframe) { /* the chain breaks now: is a recovery point coming? */
		int64_t due = m->rp_seen_us + m->rp_gap_us;

		m->rp_wait_until = 0;
		if (m->have_arf && m->rp_gap_us > 0 && t - due < m->rp_gap_us + RP_LATE_US)
			m->rp_wait_until = (due > t ? due : t) + RP_LATE_US;
	}
	m->need_keyframe = true;
	if (t >= m->rp_wait_until)
		send_pli(m, t);
}

static void video_play(struct relay_media *m, int64_t t)
{
	struct jb_video_frame f;
	enum jb_video_result r;
	struct rtp_vp8_desc d;
	struct codec_vp8_picture pic;
	size_t len;
	int rc;

	if (!m->jbv)
		return;
	while ((r = jb_video_get(m->jbv, t, &f)) != JB_VIDEO_NONE) {
		if (r == JB_VIDEO_DROPPED) {
			m->st.video_dropped++;
			log_debug("%s: video: picture ts %u (seq %u-%u, %zu missing) given up",
			          m->name, f.timestamp, f.first_seq, f.last_seq, f.n_missing);
			continue; /* a later frame tells whether the decoder can go on */
		}
		if (f.n_packets * CODEC_LADDER_VIDEO_PAYLOAD + 64 > m->frame_cap) {
			size_t nc = f.n_packets * CODEC_LADDER_VIDEO_PAYLOAD + 64;
			uint8_t *nb = realloc(m->frame_buf, nc);

			if (!nb)
				return;
			m->frame_buf = nb;
			m->frame_cap = nc;
		}
		if (rtp_vp8_depacketize(f.payloads, f.lens, f.n_packets, m->frame_buf, m->frame_cap,
		                        &len, &d)) {
			m->st.video_dropped++;
			continue;
		}
		bool key = codec_vp8_frame_peek(m->frame_buf, len, NULL, NULL) == 1;
		int kw, kh;

		key = codec_vp8_frame_peek(m->frame_buf, len, &kw, &kh) == 1;
		/* Reference check from the layer fields: a TL0 frame needs the previous TL0 frame,
		 * a higher-layer frame the TL0 frame it belongs to. With three layers a TL2 frame
		 * that is not layer-sync also references its group's TL1 frame (GOLDEN); when that
		 * one was lost it is still decoded, on the GOLDEN of an earlier group: nothing
		 * references it, and slightly wrong beats a repeated picture. Skipping it instead
		 * gave PSNR-Y as viewed 27.6 dB against 32.2 in test_media's
		 * lost_tl1_costs_no_keyframe session (6 TL1 frames lost, 5 skipped). */
		/* A recovery point references only ALTREF: it decodes when that holds the picture
		 * it names, whatever was lost since. */
		bool rp = !key && (f.tag & TAG_RP);

		if (rp && !rp_decodable(m, f.tag)) {
			log_debug("%s: video: recovery point ts %u references tl0 %u, ALTREF %s%u: "
			          "keyframe requested",
			          m->name, f.timestamp, f.tag & 0xffu,
			          m->have_arf ? "holds " : "unknown, ", (unsigned)m->arf_tl0);
			video_broken(m, t, false);
			continue;
		}
		if (!key && !rp) {
			bool ok = m->have_tl0 && !m->need_keyframe &&
			          (d.tid == 0 ? d.tl0picidx == (uint8_t)(m->last_tl0 + 1)
			                      : d.tl0picidx == m->last_tl0);

			if (!ok) {
				bool first = !m->need_keyframe;

				video_broken(m, t, true);
				if (first)
					log_debug("%s: video: picture ts %u (tid %u, tl0 %u, last "
					          "tl0 %u%s) cannot be decoded: %s",
					          m->name, f.timestamp, (unsigned)d.tid,
					          (unsigned)d.tl0picidx, (unsigned)m->last_tl0,
					          m->have_tl0 ? "" : " none",
					          t < m->rp_wait_until
					                  ? "waiting for a recovery point"
					                  : "keyframe requested");
				continue;
			}
		}
		if (m->rivf && !m->rec_err) {
			rc = codec_ivf_writer_write(m->rivf, m->frame_buf, len, f.timestamp);
			if (rc)
				m->rec_err = rc;
		} else if (!m->rivf && key && m->record_dir) {
			char path[4096];
			struct codec_ivf_info ii = {CODEC_IVF_FOURCC_VP8, kw, kh, 90000, 1, 0};

			snprintf(path, sizeof path, "%s/received.ivf", m->record_dir);
			if (codec_ivf_writer_open(&m->rivf, path, &ii) == 0)
				IGNORE(codec_ivf_writer_write(m->rivf, m->frame_buf, len,
				                              f.timestamp));
		}
		rc = codec_vp8_dec_decode(m->vdec, m->frame_buf, len, &pic);
		if (rc < 0 || (rc == 1 && pic.corrupted)) {
			m->have_arf = false; /* the decoder's buffers are unknown now */
			video_broken(m, t, false);
			continue;
		}
		if (d.tid == 0) {
			m->last_tl0 = d.tl0picidx;
			m->have_tl0 = true;
		}
		if (key || rp) {
			m->have_arf = true;
			m->arf_tl0 = d.tl0picidx;
			m->arf_us = t;
		}
		if (rp && m->need_keyframe) {
			m->st.video_rp_resumed++;
			log_debug("%s: video: resumed at recovery point ts %u (tl0 %u)", m->name,
			          f.timestamp, (unsigned)d.tl0picidx);
		}
		if (key || rp)
			m->need_keyframe = false;
		if (rc == 1)
			video_display(m, &pic, f.timestamp, f.waited_us, t);
	}
}

/* ---------------------------------------------------------------- the tick ---- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_media *m = arg;
	int64_t t = now_us();
	int cl;
	uint32_t prate;
	unsigned pmin;
	int64_t pdur;

	(void)fd;
	(void)what;
	if (m->stopped)
		return;
	cc_on_tick(m->cc, t);
	if (t >= m->next_ladder_us) {
		ladder_update(m, t);
		m->next_ladder_us = t + LADDER_US;
	}
	if (!m->cfg.fixed_bps) {
		bool squeezed = m->squeeze_bps != 0;

		pacer_set_rate(m->pacer, cc_target_bps(m->cc));
		audio_squeeze(m, cc_target_bps(m->cc), t);
		/* The squeeze is over (the drain is, and the controller's target is back): the
		 * pictures resume now, so the ladder picks their rung for that target now, not at
		 * its next update. Waiting, the first picture after the squeeze was encoded at the
		 * rung kept through the drain (a keyframe when that rung's picture size differed
		 * from the last one sent), and the ladder moved 110-136 ms later, in each of 5
		 * bench/consult.sh geo-sat sessions. In one, the pacer held 10.7 KB of video 0.7 s
		 * after the squeeze, and the hub showed the first picture 2.4 s after it; with this
		 * update, 1.68-1.70 s in 3 sessions. */
		if (squeezed && !m->squeeze_bps) {
			m->squeeze_end_updates++;
			m->lad_squeeze_end = true;
			ladder_update(m, t);
			m->lad_squeeze_end = false;
			m->next_ladder_us = t + LADDER_US;
		}
		cl = cc_probe_next(m->cc, t, &prate, &pmin, &pdur);
		if (cl > 0)
			pacer_probe(m->pacer, cl, prate, pmin, pdur, t);
	}
	audio_capture(m, t);
	video_capture(m, t);
	release_held_repairs(m, t, false);
	audio_play(m, t);
	video_play(m, t);
	video_show_due(m, t);
	lip_sync_update(m, t);
	if (t >= m->next_rtcp_us) {
		bool sr = t >= m->next_sr_us;

		send_rtcp(m, t, sr);
		send_nacks(m, t);
		if (sr)
			m->next_sr_us = t + SR_US;
		m->next_rtcp_us = t + RTCP_US;
	}
	if (m->need_keyframe && t >= m->rp_wait_until)
		send_pli(m, t);
	schedule_pacer(m);
}

/* ---------------------------------------------------------------- lifecycle ---- */

static int load_audio(struct relay_media *m, const char *path)
{
	struct codec_wav_info wi;
	int16_t *pcm = NULL, *mono = NULL, *out = NULL;
	size_t outn = 0;
	int rc = codec_wav_read_file(path, &wi, &pcm);

	if (rc)
		return rc;
	if (!wi.frames) {
		free(pcm);
		return -EINVAL;
	}
	mono = malloc(wi.frames * sizeof *mono);
	if (!mono) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < wi.frames; i++)
		mono[i] = wi.channels == 2 ? (int16_t)(((int)pcm[2 * i] + pcm[2 * i + 1]) / 2)
		                           : pcm[i];
	rc = codec_resample_buffer(mono, wi.frames, 1, wi.sample_rate, 48000,
	                           CODEC_RESAMPLE_QUALITY_DEFAULT, &out, &outn);
	if (rc)
		goto out;
	if (outn < CODEC_OPUS_FRAME_MAX) {
		free(out);
		rc = -EINVAL;
		goto out;
	}
	m->pcm = out;
	m->pcm_frames = outn;
out:
	free(pcm);
	free(mono);
	return rc;
}

int relay_media_new(struct relay_media **out, struct event_base *base,
                    const struct relay_media_config *cfg)
{
	struct relay_media *m;
	struct cc_config cc;
	struct pacer_config pc = {0};
	char path[4096];
	int rc;

	if (!out || !base || !cfg || !cfg->send || (!cfg->video_path && !cfg->audio_path) ||
	    (cfg->ssrc_base & 3))
		return -EINVAL;
	m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->base = base;
	m->cfg = *cfg;
	m->name = strdup(cfg->name ? cfg->name : "media");
	if (!m->name) {
		rc = -ENOMEM;
		goto fail;
	}
	m->cfg.name = m->name;
	if (!m->cfg.display_width || !m->cfg.display_height) {
		m->cfg.display_width = 320;
		m->cfg.display_height = 180;
	}
	m->disp_w = m->cfg.display_width;
	m->disp_h = m->cfg.display_height;
	if (!codec_i420_size(m->disp_w, m->disp_h)) {
		rc = -EINVAL;
		goto fail;
	}
	if (cfg->audio_path && (rc = load_audio(m, cfg->audio_path)) != 0) {
		log_error("%s: %s: %s", m->name, cfg->audio_path, relay_media_strerror(rc));
		goto fail;
	}
	if (cfg->video_path) {
		rc = codec_y4m_loop_open(&m->y4m, cfg->video_path, CLIP_MEMORY_MAX);
		if (rc) {
			log_error("%s: %s: %s", m->name, cfg->video_path, codec_y4m_last_error());
			goto fail;
		}
		m->src = *codec_y4m_loop_info(m->y4m);
		m->src_size = codec_y4m_loop_frame_size(m->y4m);
		m->src_buf = malloc(m->src_size);
		if (!m->src_buf) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	cc_config_default(&cc);
	cc.start_bps = cfg->start_bps ? cfg->start_bps : 200000;
	cc.max_bps = cfg->max_bps ? cfg->max_bps : 2000000;
	cc.overhead_bytes = OVERHEAD;
	if (cc.start_bps > cc.max_bps)
		cc.start_bps = cc.max_bps;
	if ((rc = cc_new(&m->cc, &cc)) != 0)
		goto fail;
	pc.rate_bps = cfg->fixed_bps ? cfg->fixed_bps + cfg->fixed_bps / 2 : cc.start_bps;
	pc.overhead_bytes = OVERHEAD;
	/* About one voice packet of credit, not the pacer's default of two full packets: a
	 * picture's packets then leave one at a time, the modem's queue holds about the packet on
	 * the wire, and a voice packet waits behind one video packet at most (40 ms at 256
	 * kbit/s), not three. Lab A/B (bench/consult_ab.sh, geo-sat-steady and geo-sat-256k):
	 * mouth-to-ear p95 over 5 runs of the default 489 and 535 ms, over 7 of one full packet
	 * (1264 bytes: two leave together) 468 and 514, over 4 of this 462 and 510; queueing
	 * p95 and fps within the runs' spread. */
	if (!cfg->fixed_bps)
		pc.burst_bytes = PACER_BURST;
	pc.queue_limit[PACER_AUDIO] = 16 << 10;
	pc.queue_limit[PACER_VIDEO] = 96 << 10;
	pc.queue_limit[PACER_RTX] = 32 << 10;
	if ((rc = pacer_new(&m->pacer, &pc)) != 0)
		goto fail;
	if ((rc = rtcp_twcc_recorder_new(&m->twcc)) != 0 ||
	    (rc = codec_opus_dec_new(&m->odec, 48000, 1)) != 0 ||
	    (rc = jb_video_new(&m->jbv,
	                       &(struct jb_video_config){.wait_us = VIDEO_GAP_WAIT_US,
	                                                 .gap_unneeded = video_gap_unneeded,
	                                                 .arg = m})) != 0 ||
	    (!cfg->no_lip_sync &&
	     (rc = jb_sync_new(&m->sync,
	                       &(struct jb_sync_config){.max_audio_extra_us = SYNC_AUDIO_MAX,
	                                                .lead_ok_us = SYNC_LEAD_OK,
	                                                .persist_us = SYNC_PERSIST_US})) != 0) ||
	    (rc = codec_vp8_dec_new(&m->vdec, 1)) != 0 || (rc = fec_decoder_new(&m->fecd)) != 0)
		goto fail;
	fec_encoder_init(&m->fec, 0);
	m->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, m);
	m->pace_ev = evtimer_new(base, pace_cb, m);
	if (!m->tick_ev || !m->pace_ev) {
		rc = -ENOMEM;
		goto fail;
	}
	if (cfg->record_dir) {
		struct codec_y4m_info yi = {0};

		m->record_dir = strdup(cfg->record_dir);
		if (!m->record_dir) {
			rc = -ENOMEM;
			goto fail;
		}
		if (mkdir(cfg->record_dir, 0755) && errno != EEXIST) {
			rc = -errno;
			goto fail;
		}
		yi.width = m->disp_w;
		yi.height = m->disp_h;
		yi.fps_num = 30;
		yi.fps_den = 1;
		snprintf(path, sizeof path, "%s/received.y4m", cfg->record_dir);
		if ((rc = codec_y4m_writer_open(&m->ry4m, path, &yi)) != 0)
			goto fail;
		snprintf(path, sizeof path, "%s/frames.csv", cfg->record_dir);
		m->csv = fopen(path, "w");
		if (!m->csv) {
			rc = -errno;
			goto fail;
		}
		fprintf(m->csv, "kind,source_index,rtp_ts,capture_us,playout_us,how\n");
	}
	*out = m;
	return 0;
fail:
	relay_media_free(m);
	return rc;
}

int relay_media_start(struct relay_media *m)
{
	struct timeval tv = {0, TICK_US};
	struct codec_opus_enc_config oc;
	int rc;

	if (m->started)
		return -EINVAL;
	m->start_us = now_us();
	m->wall_off_us = wall_us() - m->start_us;
	codec_ladder_state_init(&m->ladder);
	codec_ladder_set_extra(&m->ladder, rung_extra_bps, m);
	codec_ladder_set_top(&m->ladder,
	                     relay_media_camera_top(m->src.width, m->src.height, camera_fps(m)));
	if (codec_ladder_top(&m->ladder) + 1 < codec_ladder_rung_count())
		log_info("%s: camera %ux%u at %.1f fps: the ladder climbs no higher than %s",
		         m->name, m->src.width, m->src.height, camera_fps(m),
		         codec_ladder_rung_get(codec_ladder_top(&m->ladder))->name);
	if (m->cfg.fixed_bps) {
		rc = codec_ladder_settings_for(codec_ladder_pick(m->cfg.fixed_bps), 0, 0, &m->set);
	} else {
		rc = codec_ladder_update(&m->ladder, (uint64_t)m->start_us / 1000,
		                         cc_target_bps(m->cc), 0, 0, &m->set);
	}
	if (rc)
		return rc;
	m->start_rung = m->set.index;
	m->min_rung_after = m->set.index;
	ladder_event(m, m->start_us);
	if (m->pcm) {
		codec_ladder_opus_config(&m->set, &oc);
		if ((rc = codec_opus_enc_new(&m->oenc, &oc)) != 0)
			return rc;
		m->opus_frame_ms = oc.frame_ms;
	}
	m->next_ladder_us = m->start_us + LADDER_US;
	m->next_rtcp_us = m->start_us;
	m->next_sr_us = m->start_us;
	m->venc_next_us = m->start_us;
	m->started = true;
	if (event_add(m->tick_ev, &tv))
		return -ENOMEM;
	log_info("%s: media session started at rung %s (%s)", m->name, m->set.rung.name,
	         m->cfg.fixed_bps ? "fixed" : "adaptive");
	return 0;
}

int relay_media_stop(struct relay_media *m)
{
	int rc;
	char path[4096];

	if (!m || m->stopped)
		return m ? m->rec_err : 0;
	m->stopped = true;
	m->stop_us = now_us();
	m->st.rung = m->set.index;
	if (m->tick_ev)
		event_del(m->tick_ev);
	if (m->pace_ev)
		event_del(m->pace_ev);
	if (m->record_dir && m->rec_n) {
		struct codec_wav_info wi = {48000, 1, m->rec_n};

		snprintf(path, sizeof path, "%s/received.wav", m->record_dir);
		rc = codec_wav_write_file(path, &wi, m->rec_pcm);
		if (rc && !m->rec_err)
			m->rec_err = rc;
	}
	rc = codec_y4m_writer_close(m->ry4m);
	m->ry4m = NULL;
	if (rc && !m->rec_err)
		m->rec_err = rc;
	rc = codec_ivf_writer_close(m->rivf);
	m->rivf = NULL;
	if (rc && !m->rec_err)
		m->rec_err = rc;
	if (m->csv && fclose(m->csv) && !m->rec_err)
		m->rec_err = -EIO;
	m->csv = NULL;
	return m->rec_err;
}

void relay_media_stats(const struct relay_media *m, struct relay_media_stats *out)
{
	struct cc_stats cs;
	struct pacer_stats ps;

	*out = m->st;
	cc_get_stats(m->cc, &cs);
	out->rung = m->set.index;
	out->rung_name = m->set.rung.name;
	out->ladder_downgrades = m->ladder.downgrades;
	out->ladder_upgrades = m->ladder.upgrades;
	out->min_rung_after_top = m->min_rung_after;
	out->target_bps = cs.target_bps;
	out->rtt_us = cs.rtt_us;
	out->loss = cs.loss;
	pacer_get_stats(m->pacer, &ps);
	out->pacer_stale_packets = 0;
	out->pacer_stale_bytes = 0;
	for (int c = 0; c < PACER_NCLASS; c++) {
		out->pacer_stale_packets += ps.stale_packets[c];
		out->pacer_stale_bytes += ps.stale_bytes[c];
	}
	out->pacer_stale_pictures = ps.stale_frames[PACER_VIDEO];
	out->pacer_stale_audio = ps.stale_packets[PACER_AUDIO];
	out->keyframes_forced = m->keyframes_forced;
	if (m->squeeze_bps)
		out->audio_squeezed_us += (m->stopped ? m->stop_us : now_us()) - m->squeeze_since;
}

void relay_media_free(struct relay_media *m)
{
	if (!m)
		return;
	IGNORE(relay_media_stop(m));
	if (m->tick_ev)
		event_free(m->tick_ev);
	if (m->pace_ev)
		event_free(m->pace_ev);
	codec_opus_enc_free(m->oenc);
	codec_opus_dec_free(m->odec);
	codec_vp8_enc_free(m->venc);
	codec_vp8_dec_free(m->vdec);
	codec_y4m_loop_close(m->y4m);
	cc_free(m->cc);
	pacer_free(m->pacer);
	rtcp_twcc_recorder_free(m->twcc);
	jb_audio_free(m->jba);
	jb_audio_free(m->jba_next);
	jb_video_free(m->jbv);
	jb_sync_free(m->sync);
	for (unsigned i = 0; i < VSHOW_MAX; i++)
		free(m->vshow[i].pic);
	fec_decoder_free(m->fecd);
	free(m->pcm);
	free(m->src_buf);
	free(m->enc_buf);
	free(m->frame_buf);
	free(m->rec_pcm);
	free(m->owd.v);
	free(m->m2e.v);
	free(m->disp_t.v);
	free(m->disp_idx.v);
	free(m->vhold.v);
	free(m->aadded.v);
	free(m->av_audio.v);
	free(m->av_video.v);
	free(m->lev);
	free(m->record_dir);
	free(m->name);
	free(m);
}

/* ---------------------------------------------------------------- report ---- */

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts a vector ascending; an empty one may have no storage (qsort must not see NULL). */
static void vec_sort(struct i64vec *a)
{
	if (a->n)
		qsort(a->v, a->n, sizeof *a->v, cmp64);
}

/* p-th percentile (0..100, nearest rank) of a sorted vector. */
static int64_t pct(const struct i64vec *v, double p)
{
	size_t k;

	if (!v->n)
		return 0;
	k = (size_t)ceil(p / 100.0 * (double)v->n);
	if (k < 1)
		k = 1;
	return v->v[k - 1];
}

static int psnr_as_viewed(struct relay_media *m, const char *peer_video, json_t *vj)
{
	struct codec_y4m_loop *ref = NULL;
	const struct codec_y4m_info *ri;
	struct codec_y4m_reader *rec = NULL;
	uint8_t *refbuf = NULL, *refpic = NULL, *recbuf = NULL;
	size_t fsz = codec_i420_size(m->disp_w, m->disp_h), j = 0;
	struct codec_metrics_acc acc;
	struct codec_metrics_summary sum;
	uint64_t good = 0, frames = 0;
	int64_t step = 0;
	char path[4096];
	FILE *csv = NULL;
	int rc;

	codec_metrics_acc_init(&acc);
	if (!m->disp_idx.n || !m->record_dir)
		return 0;
	/* the reference played as the peer's sender plays it (codec_y4m_loop, same memory
	 * bound), so source index i is the picture the sender read at its step i */
	if ((rc = codec_y4m_loop_open(&ref, peer_video, CLIP_MEMORY_MAX)) != 0)
		goto out;
	ri = codec_y4m_loop_info(ref);
	refbuf = malloc(codec_y4m_loop_frame_size(ref));
	refpic = malloc(fsz);
	recbuf = malloc(fsz);
	if (!refbuf || !refpic || !recbuf) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(path, sizeof path, "%s/received.y4m", m->record_dir);
	if ((rc = codec_y4m_reader_open(&rec, path)) != 0)
		goto out;
	if (codec_y4m_reader_read(rec, recbuf, fsz) != 1) {
		rc = -EIO;
		goto out;
	}
	snprintf(path, sizeof path, "%s/psnr.csv", m->record_dir);
	csv = fopen(path, "w");
	if (csv)
		fprintf(csv, "source_index,shown_index,psnr_y\n");
	/* Each source picture from the first shown to the last is compared with the picture the
	 * viewer had on screen for it: the latest one shown whose index is not later. */
	for (int64_t i = m->disp_idx.v[0]; i <= m->disp_idx.v[m->disp_idx.n - 1]; i++) {
		struct codec_i420 a, b, s;
		struct codec_metrics_frame f;

		while (j + 1 < m->disp_idx.n && m->disp_idx.v[j + 1] <= i) {
			j++;
			if (codec_y4m_reader_read(rec, recbuf, fsz) != 1) {
				rc = -EIO;
				goto out;
			}
		}
		for (; step <= i; step++)
			if ((rc = codec_y4m_loop_read(ref, refbuf, codec_y4m_loop_frame_size(ref),
			                              NULL)) != 0)
				goto out;
		if ((rc = codec_i420_view(&s, refbuf, ri->width, ri->height)) != 0 ||
		    (rc = codec_i420_view(&a, refpic, m->disp_w, m->disp_h)) != 0 ||
		    (rc = codec_i420_scale(&s, &a)) != 0 ||
		    (rc = codec_i420_view(&b, recbuf, m->disp_w, m->disp_h)) != 0 ||
		    (rc = codec_metrics_frame_compute(&a, &b, &f)) != 0)
			goto out;
		codec_metrics_acc_add(&acc, &f);
		frames++;
		if (f.psnr_y >= 32)
			good++;
		if (csv)
			fprintf(csv, "%lld,%lld,%.2f\n", (long long)i, (long long)m->disp_idx.v[j],
			        f.psnr_y);
	}
	codec_metrics_acc_summary(&acc, &sum);
	json_object_set_new(vj, "psnr_frames", json_integer((json_int_t)frames));
	json_object_set_new(vj, "psnr_y_db", json_real(isfinite(sum.psnr_y) ? sum.psnr_y : 99));
	json_object_set_new(vj, "psnr_y_min_db",
	                    json_real(isfinite(sum.psnr_y_min) ? sum.psnr_y_min : 99));
	json_object_set_new(vj, "frames_ge_32db_pct",
	                    json_real(frames ? 100.0 * (double)good / (double)frames : 0));
	rc = 0;
out:
	if (csv)
		fclose(csv);
	free(refbuf);
	free(refpic);
	free(recbuf);
	codec_y4m_loop_close(ref);
	codec_y4m_reader_close(rec);
	return rc;
}

/* Lip sync as played: the A/V skew of every shown picture (jb_av_skew), its magnitude's
 * median and 95th percentile, its signed median (positive: the picture lags the sound), and
 * how much each stream was delayed for the other. */
static int lip_sync_report(struct relay_media *m, json_t *rx)
{
	json_t *ls = json_object();
	struct i64vec sk = {0}, ab = {0};
	size_t n;

	if (!ls)
		return -ENOMEM;
	json_object_set_new(ls, "enabled", json_boolean(m->sync != NULL));
	if (m->av_video.n) {
		sk.v = malloc(m->av_video.n * sizeof *sk.v);
		ab.v = malloc(m->av_video.n * sizeof *ab.v);
		if (!sk.v || !ab.v) {
			free(sk.v);
			free(ab.v);
			json_decref(ls);
			return -ENOMEM;
		}
	}
	n = jb_av_skew(m->av_audio.v, m->av_audio.n, m->av_video.v, m->av_video.n, SKEW_GAP_US,
	               sk.v, m->av_video.n);
	sk.n = ab.n = n;
	for (size_t i = 0; i < n; i++)
		ab.v[i] = sk.v[i] < 0 ? -sk.v[i] : sk.v[i];
	vec_sort(&sk);
	vec_sort(&ab);
	json_object_set_new(ls, "frames", json_integer((json_int_t)n));
	if (n) {
		json_object_set_new(ls, "skew_abs_p50_ms", json_real((double)pct(&ab, 50) / 1000));
		json_object_set_new(ls, "skew_abs_p95_ms", json_real((double)pct(&ab, 95) / 1000));
		json_object_set_new(ls, "skew_p50_ms", json_real((double)pct(&sk, 50) / 1000));
	}
	vec_sort(&m->vhold);
	if (m->vhold.n)
		json_object_set_new(ls, "video_hold_p50_ms",
		                    json_real((double)pct(&m->vhold, 50) / 1000));
	vec_sort(&m->aadded);
	if (m->aadded.n) {
		json_object_set_new(ls, "audio_delay_added_p50_ms",
		                    json_real((double)pct(&m->aadded, 50) / 1000));
		json_object_set_new(ls, "audio_delay_added_p95_ms",
		                    json_real((double)pct(&m->aadded, 95) / 1000));
	}
	json_object_set_new(
	        ls, "audio_delay_added_max_ms",
	        json_real(m->aadded.n ? (double)m->aadded.v[m->aadded.n - 1] / 1000 : 0));
	json_object_set_new(
	        ls, "slow_bursts_not_followed",
	        json_integer(m->sync ? (json_int_t)jb_sync_bursts_not_followed(m->sync) : 0));
	free(sk.v);
	free(ab.v);
	json_object_set_new(rx, "lip_sync", ls);
	return 0;
}

int relay_media_report(struct relay_media *m, uint32_t link_bps, const char *peer_video,
                       json_t **out)
{
	json_t *r = json_object(), *tx = json_object(), *rx = json_object(), *au = json_object(),
	       *vi = json_object(), *la = json_object(), *ev = json_array();
	struct relay_media_stats st;
	struct cc_stats cs;
	int64_t end = m->stopped ? m->stop_us : now_us(), dur_us = end - m->start_us, minowd = 0;
	double dur = (double)dur_us / 1e6, wire_bps;
	uint64_t afr;
	unsigned freezes = 0;
	int64_t longest = 0;
	int rc = 0;

	if (!r || !tx || !rx || !au || !vi || !la || !ev) {
		rc = -ENOMEM;
		goto out;
	}
	relay_media_stats(m, &st);
	json_object_set_new(r, "side", json_string(m->name));
	json_object_set_new(r, "mode", json_string(m->cfg.fixed_bps ? "fixed" : "adaptive"));
	json_object_set_new(r, "duration_s", json_real(dur));
	/* what this side sent */
	wire_bps = dur > 0 ? (double)st.tx_wire_bytes * 8 / dur : 0;
	json_object_set_new(tx, "wire_kbps", json_real(wire_bps / 1000));
	if (link_bps)
		json_object_set_new(tx, "link_utilisation_pct",
		                    json_real(100 * wire_bps / link_bps));
	json_object_set_new(tx, "packets", json_integer((json_int_t)st.tx_packets));
	json_object_set_new(tx, "audio_frames", json_integer((json_int_t)st.tx_audio_frames));
	json_object_set_new(tx, "video_frames", json_integer((json_int_t)st.tx_video_frames));
	json_object_set_new(tx, "keyframes", json_integer((json_int_t)st.tx_keyframes));
	json_object_set_new(tx, "recovery_points", json_integer((json_int_t)st.tx_recovery_points));
	json_object_set_new(tx, "fec_packets", json_integer((json_int_t)st.tx_fec_packets));
	json_object_set_new(tx, "red_frames", json_integer((json_int_t)st.tx_red_frames));
	json_object_set_new(tx, "send_errors", json_integer((json_int_t)st.tx_errors));
	json_object_set_new(tx, "cc_target_kbps", json_real(st.target_bps / 1000.0));
	json_object_set_new(tx, "rtt_ms", json_real((double)st.rtt_us / 1000));
	json_object_set_new(tx, "loss_pct", json_real(st.loss * 100));
	json_object_set_new(tx, "pli_received", json_integer((json_int_t)st.pli_received));
	json_object_set_new(tx, "nack_received", json_integer((json_int_t)st.nack_received));
	json_object_set_new(tx, "pacer_dropped_stale_packets",
	                    json_integer((json_int_t)st.pacer_stale_packets));
	json_object_set_new(tx, "pacer_dropped_stale_bytes",
	                    json_integer((json_int_t)st.pacer_stale_bytes));
	json_object_set_new(tx, "pacer_dropped_stale_pictures",
	                    json_integer((json_int_t)st.pacer_stale_pictures));
	json_object_set_new(tx, "pacer_dropped_stale_audio",
	                    json_integer((json_int_t)st.pacer_stale_audio));
	json_object_set_new(tx, "keyframes_forced", json_integer((json_int_t)st.keyframes_forced));
	json_object_set_new(tx, "audio_squeezes", json_integer((json_int_t)st.audio_squeezes));
	json_object_set_new(tx, "audio_squeezed_s", json_real((double)st.audio_squeezed_us / 1e6));
	json_object_set_new(tx, "pictures_paused_for_squeeze",
	                    json_integer((json_int_t)st.video_paused));
	json_object_set_new(tx, "encoder_pushbacks", json_integer((json_int_t)m->pushbacks));
	json_object_set_new(tx, "encoder_pixel_capped", json_integer((json_int_t)m->pixel_capped));
	cc_get_stats(m->cc, &cs);
	json_object_set_new(tx, "cc_restores", json_integer((json_int_t)cs.restores));
	json_object_set_new(tx, "cc_restores_unclean",
	                    json_integer((json_int_t)cs.restores_unclean));
	json_object_set_new(tx, "cc_loss_caps", json_integer((json_int_t)cs.loss_caps));
	json_object_set_new(tx, "cc_loss_caps_unfilled",
	                    json_integer((json_int_t)cs.loss_caps_unfilled));
	json_object_set_new(r, "sent", tx);
	/* ladder */
	json_object_set_new(la, "start", json_string(codec_ladder_rung_get(m->start_rung)->name));
	json_object_set_new(la, "final", json_string(m->set.rung.name));
	json_object_set_new(la, "lowest_after_downgrade",
	                    json_string(codec_ladder_rung_get(m->min_rung_after)->name));
	json_object_set_new(la, "downgrades", json_integer(st.ladder_downgrades));
	json_object_set_new(la, "upgrades", json_integer(st.ladder_upgrades));
	json_object_set_new(la, "floor_relaxed", json_integer(m->floor_relaxed));
	json_object_set_new(la, "floor_slack", json_integer(m->floor_slack));
	json_object_set_new(la, "updates_at_squeeze_end", json_integer(m->squeeze_end_updates));
	json_object_set_new(la, "floor_held_after_restore", json_integer(m->floor_held));
	for (size_t i = 0; i < m->n_lev; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "t_ms", json_integer(m->lev[i].t_ms));
		json_object_set_new(e, "rung",
		                    json_string(codec_ladder_rung_get(m->lev[i].rung)->name));
		json_object_set_new(e, "index", json_integer(m->lev[i].rung));
		json_object_set_new(e, "target_kbps", json_real(m->lev[i].target_bps / 1000.0));
		json_object_set_new(e, "at_squeeze_end", json_boolean(m->lev[i].squeeze_end));
		json_array_append_new(ev, e);
	}
	json_object_set_new(la, "events", ev);
	ev = NULL;
	json_object_set_new(r, "ladder", la);
	la = NULL;
	/* what this side received */
	vec_sort(&m->owd);
	if (m->owd.n) {
		struct i64vec q = m->owd;

		minowd = m->owd.v[0];
		json_object_set_new(rx, "one_way_delay_min_ms", json_real((double)minowd / 1000));
		json_object_set_new(rx, "queue_delay_p50_ms",
		                    json_real((double)(pct(&q, 50) - minowd) / 1000));
		json_object_set_new(rx, "queue_delay_p95_ms",
		                    json_real((double)(pct(&q, 95) - minowd) / 1000));
	}
	json_object_set_new(rx, "packets", json_integer((json_int_t)st.rx_packets));
	json_object_set_new(rx, "malformed", json_integer((json_int_t)st.rx_bad));
	afr = st.audio_played + st.audio_fec + st.audio_red + m->audio_lost;
	json_object_set_new(au, "frames", json_integer((json_int_t)afr));
	json_object_set_new(au, "played", json_integer((json_int_t)st.audio_played));
	json_object_set_new(au, "recovered_fec", json_integer((json_int_t)st.audio_fec));
	json_object_set_new(au, "recovered_redundancy", json_integer((json_int_t)st.audio_red));
	json_object_set_new(au, "lost_after_recovery", json_integer((json_int_t)m->audio_lost));
	json_object_set_new(au, "lost_pct",
	                    json_real(afr ? 100.0 * (double)m->audio_lost / (double)afr : 100));
	json_object_set_new(au, "dropped_to_shrink", json_integer((json_int_t)m->audio_shrink));
	json_object_set_new(au, "underrun_concealed", json_integer((json_int_t)m->audio_underrun));
	json_object_set_new(au, "resyncs_after_gap", json_integer((json_int_t)m->audio_resyncs));
	vec_sort(&m->m2e);
	if (m->m2e.n) {
		json_object_set_new(au, "mouth_to_ear_p50_ms",
		                    json_real((double)pct(&m->m2e, 50) / 1000));
		json_object_set_new(au, "mouth_to_ear_p95_ms",
		                    json_real((double)pct(&m->m2e, 95) / 1000));
	}
	json_object_set_new(rx, "audio", au);
	au = NULL;
	json_object_set_new(vi, "frames_shown", json_integer((json_int_t)st.video_decoded));
	if (m->disp_t.n) {
		int64_t endw = end + m->wall_off_us, first = m->disp_t.v[0];

		for (size_t i = 0; i <= m->disp_t.n; i++) {
			int64_t a = i ? m->disp_t.v[i - 1] : first;
			int64_t b = i < m->disp_t.n ? m->disp_t.v[i] : endw;

			if (b - a > FREEZE_US) {
				freezes++;
				if (b - a > longest)
					longest = b - a;
			}
		}
		json_object_set_new(
		        vi, "fps",
		        json_real(endw > first ? (double)m->disp_t.n * 1e6 / (double)(endw - first)
		                               : 0));
		json_object_set_new(
		        vi, "first_frame_after_ms",
		        json_real((double)(first - m->wall_off_us - m->start_us) / 1000));
	}
	json_object_set_new(vi, "freezes", json_integer(freezes));
	json_object_set_new(vi, "longest_freeze_ms", json_real((double)longest / 1000));
	json_object_set_new(vi, "frames_dropped", json_integer((json_int_t)st.video_dropped));
	json_object_set_new(vi, "fec_recovered_packets",
	                    json_integer((json_int_t)st.video_fec_recovered));
	json_object_set_new(vi, "fec_repairs", json_integer((json_int_t)st.video_fec_repairs));
	json_object_set_new(vi, "fec_two_or_more_lost",
	                    json_integer((json_int_t)st.video_fec_too_many));
	json_object_set_new(vi, "fec_recovered_too_late",
	                    json_integer((json_int_t)st.video_fec_late));
	json_object_set_new(vi, "gaps_not_waited_for",
	                    json_integer((json_int_t)st.video_gaps_unneeded));
	json_object_set_new(vi, "undecodable", json_integer((json_int_t)st.video_corrupt));
	json_object_set_new(vi, "resumed_at_recovery_point",
	                    json_integer((json_int_t)st.video_rp_resumed));
	json_object_set_new(vi, "recovery_point_held_for_repair",
	                    json_integer((json_int_t)st.video_rp_held));
	json_object_set_new(vi, "held_gap_restored",
	                    json_integer((json_int_t)st.video_rp_held_restored));
	json_object_set_new(vi, "pli_sent", json_integer((json_int_t)st.pli_sent));
	json_object_set_new(vi, "nack_sent", json_integer((json_int_t)st.nack_sent));
	if (peer_video && (rc = psnr_as_viewed(m, peer_video, vi)) != 0)
		goto out;
	json_object_set_new(rx, "video", vi);
	vi = NULL;
	if ((rc = lip_sync_report(m, rx)) != 0)
		goto out;
	json_object_set_new(r, "received", rx);
	rx = NULL;
	tx = NULL;
	*out = r;
	r = NULL;
out:
	json_decref(r);
	json_decref(rx);
	json_decref(au);
	json_decref(vi);
	json_decref(la);
	json_decref(ev);
	if (rc)
		json_decref(tx);
	return rc;
}

/* The report's label column: the longest label (39 characters) and a space. A longer label
 * pushes its values right of the others' (test_media's report_columns_line_up). */
#define REPORT_LABEL_W 40

static void row(FILE *f, const json_t *a, const json_t *b, const char *label, const char *path)
{
	char k[3][64];
	const json_t *va = a, *vb = b;
	char sa[64] = "-", sb[64] = "-";
	int n = 0;
	const char *p = path, *dot;

	while (p && n < 3) {
		dot = strchr(p, '.');
		snprintf(k[n], sizeof k[n], "%.*s", dot ? (int)(dot - p) : (int)strlen(p), p);
		n++;
		p = dot ? dot + 1 : NULL;
	}
	for (int i = 0; i < n; i++) {
		va = va ? json_object_get(va, k[i]) : NULL;
		vb = vb ? json_object_get(vb, k[i]) : NULL;
	}
	if (json_is_real(va))
		snprintf(sa, sizeof sa, "%.1f", json_real_value(va));
	else if (json_is_integer(va))
		snprintf(sa, sizeof sa, "%lld", (long long)json_integer_value(va));
	else if (json_is_string(va))
		snprintf(sa, sizeof sa, "%s", json_string_value(va));
	if (json_is_real(vb))
		snprintf(sb, sizeof sb, "%.1f", json_real_value(vb));
	else if (json_is_integer(vb))
		snprintf(sb, sizeof sb, "%lld", (long long)json_integer_value(vb));
	else if (json_is_string(vb))
		snprintf(sb, sizeof sb, "%s", json_string_value(vb));
	if (b)
		fprintf(f, "  %-*s %14s %14s\n", REPORT_LABEL_W, label, sa, sb);
	else
		fprintf(f, "  %-*s %14s\n", REPORT_LABEL_W, label, sa);
}

void relay_media_report_print(const json_t *a, const json_t *b, void *file)
{
	FILE *f = file;

	row(f, a, b, "side", "side");
	row(f, a, b, "mode", "mode");
	row(f, a, b, "duration (s)", "duration_s");
	row(f, a, b, "sent wire rate (kbit/s)", "sent.wire_kbps");
	row(f, a, b, "link utilisation (%)", "sent.link_utilisation_pct");
	row(f, a, b, "FEC packets sent", "sent.fec_packets");
	row(f, a, b, "audio frames with redundancy", "sent.red_frames");
	row(f, a, b, "pacer: stale packets dropped", "sent.pacer_dropped_stale_packets");
	row(f, a, b, "pacer: stale bytes dropped", "sent.pacer_dropped_stale_bytes");
	row(f, a, b, "pacer: stale pictures dropped", "sent.pacer_dropped_stale_pictures");
	row(f, a, b, "pacer: stale audio packets dropped", "sent.pacer_dropped_stale_audio");
	row(f, a, b, "keyframes forced by stale drops", "sent.keyframes_forced");
	row(f, a, b, "keyframes sent", "sent.keyframes");
	row(f, a, b, "recovery points sent", "sent.recovery_points");
	row(f, a, b, "audio squeezed into a drain (times)", "sent.audio_squeezes");
	row(f, a, b, "audio squeezed into a drain (s)", "sent.audio_squeezed_s");
	row(f, a, b, "pictures paused for the squeeze", "sent.pictures_paused_for_squeeze");
	row(f, a, b, "encoder pushbacks (ladder updates)", "sent.encoder_pushbacks");
	row(f, a, b, "encoder at pixel cap (ladder updates)", "sent.encoder_pixel_capped");
	row(f, a, b, "cc: restored after a drain", "sent.cc_restores");
	row(f, a, b, "cc: ... from lost-report readings", "sent.cc_restores_unclean");
	row(f, a, b, "cc: loss windows that capped it", "sent.cc_loss_caps");
	row(f, a, b, "cc: heavy loss, sender under target", "sent.cc_loss_caps_unfilled");
	row(f, a, b, "ladder: start rung", "ladder.start");
	row(f, a, b, "ladder: lowest after a downgrade", "ladder.lowest_after_downgrade");
	row(f, a, b, "ladder: final rung", "ladder.final");
	row(f, a, b, "ladder: downgrades", "ladder.downgrades");
	row(f, a, b, "ladder: upgrades", "ladder.upgrades");
	row(f, a, b, "ladder: live kept, less FEC (updates)", "ladder.floor_relaxed");
	row(f, a, b, "ladder: floor kept below cost (updates)", "ladder.floor_slack");
	row(f, a, b, "ladder: floor kept after a restore", "ladder.floor_held_after_restore");
	row(f, a, b, "queueing delay p50 (ms)", "received.queue_delay_p50_ms");
	row(f, a, b, "queueing delay p95 (ms)", "received.queue_delay_p95_ms");
	row(f, a, b, "audio frames", "received.audio.frames");
	row(f, a, b, "audio recovered by Opus FEC", "received.audio.recovered_fec");
	row(f, a, b, "audio recovered by redundancy", "received.audio.recovered_redundancy");
	row(f, a, b, "audio lost after recovery", "received.audio.lost_after_recovery");
	row(f, a, b, "audio lost after recovery (%)", "received.audio.lost_pct");
	row(f, a, b, "audio frames dropped to cut delay", "received.audio.dropped_to_shrink");
	row(f, a, b, "audio underrun concealment (frames)", "received.audio.underrun_concealed");
	row(f, a, b, "audio playout restarts after a gap", "received.audio.resyncs_after_gap");
	row(f, a, b, "mouth-to-ear p50 (ms)", "received.audio.mouth_to_ear_p50_ms");
	row(f, a, b, "mouth-to-ear p95 (ms)", "received.audio.mouth_to_ear_p95_ms");
	row(f, a, b, "video frames shown", "received.video.frames_shown");
	row(f, a, b, "video fps delivered", "received.video.fps");
	row(f, a, b, "freezes (> 600 ms)", "received.video.freezes");
	row(f, a, b, "longest freeze (ms)", "received.video.longest_freeze_ms");
	row(f, a, b, "PSNR-Y as viewed (dB)", "received.video.psnr_y_db");
	row(f, a, b, "PSNR-Y worst frame (dB)", "received.video.psnr_y_min_db");
	row(f, a, b, "frames >= 32 dB (%)", "received.video.frames_ge_32db_pct");
	row(f, a, b, "keyframe requests sent", "received.video.pli_sent");
	row(f, a, b, "resumed at a recovery point", "received.video.resumed_at_recovery_point");
	row(f, a, b, "A/V skew |p50| (ms)", "received.lip_sync.skew_abs_p50_ms");
	row(f, a, b, "A/V skew |p95| (ms)", "received.lip_sync.skew_abs_p95_ms");
	row(f, a, b, "A/V skew median (ms, + = video late)", "received.lip_sync.skew_p50_ms");
	row(f, a, b, "video held for lip sync p50 (ms)", "received.lip_sync.video_hold_p50_ms");
	row(f, a, b, "audio delayed for lip sync p50 (ms)",
	    "received.lip_sync.audio_delay_added_p50_ms");
	row(f, a, b, "audio delayed for lip sync p95 (ms)",
	    "received.lip_sync.audio_delay_added_p95_ms");
	row(f, a, b, "audio delayed for lip sync max (ms)",
	    "received.lip_sync.audio_delay_added_max_ms");
	row(f, a, b, "lip sync: slow bursts not followed",
	    "received.lip_sync.slow_bursts_not_followed");
}
