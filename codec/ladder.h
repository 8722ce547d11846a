/* codec/ladder.h — the audio-first bitrate ladder: link estimate -> codec settings.
 *
 * The congestion controller estimates the rate the link can carry (bit/s, counting every byte
 * on the wire: IPv4 20 + UDP 8 + tunnel header and AEAD tag ~24 + RTP 12 = 64 bytes a packet),
 * the loss fraction and the RTT. The ladder turns that into Opus and VP8 settings, one "rung"
 * of the table below. A rung's cost (codec_ladder_rung_link_bps) is its codec bitrates plus
 * the overhead of the packets they need: audio sends 1000/frame_ms packets a second (so as the
 * rate falls, the ladder lengthens Opus frames to 40 and 60 ms: at 20 ms the overhead alone is
 * 25.6 kbit/s, more than the speech), video ceil(frame bytes / CODEC_LADDER_VIDEO_PAYLOAD)
 * packets a frame. From 180p-15 up (~150 kbit/s) frames are 20 ms although 40 would save 12.8
 * kbit/s: the frame length adds to mouth-to-ear delay four times, once to fill the frame and
 * three times in the receiver's wait for the time-spread redundant copy (relay/media sends it
 * RED_DIST = 3 packets later), so 40 ms frames cost 80 ms more than 20 ms ones. On the 256
 * kbit/s geo-sat uplink (bench/consult.sh, adaptive, 3 runs each) mouth-to-ear went from p50
 * 526-562 / p95 569-669 ms to 468-505 / 565-588 ms; video 10.8-11.9 fps either way.
 *
 * Audio first: every rung with video keeps at least CODEC_LADDER_AUDIO_FLOOR_BPS of speech at
 * 40 ms frames or shorter, and audio only shrinks below that once video is off. That floor is
 * 20 kbit/s rather than 16 because libopus (1.3, opus_encoder.c decide_fec) cannot fit in-band
 * FEC into 16 kbit/s at any loss rate; from 20 kbit/s it can (measured on jfk_16k_mono.wav at
 * 48 kHz, complexity 5: ~70 % of packets carry FEC at 6-20 % expected loss, 0 % at 16 kbit/s).
 * The audio-only rungs below (6-16 kbit/s) therefore run without FEC: losses there are
 * concealed (PLC); packet-level redundancy is the relay's tool for them. Going down,
 * video drops frame rate first (its top VP8 temporal layer: 30 -> 15 -> 7.5 fps, the base
 * layer always 7.5 fps), then resolution (640x360 -> 480x270 -> 320x180 -> 160x90), then
 * becomes "stills" (one sharp 640x360 keyframe every few seconds, so the specialist can still
 * see the wound), then stops. A 1280x720 rung tops the table for links that can afford it (the
 * hub-to-clinic downlink, the LAN). Loss and RTT pick the audio FEC: in-band FEC is on when there
 * is loss or when the RTT leaves no time to retransmit (>= CODEC_LADDER_FEC_RTT_MS), and the
 * expected loss given to Opus is then at least CODEC_LADDER_FEC_MIN_LOSS_PCT: libopus only
 * trades audio bandwidth for FEC when told the loss is above 5 %, and at satellite RTT a lost
 * frame cannot be re-sent in time, so FEC must really be on.
 *
 * Hysteresis (codec_ladder_update): downgrade at once when the estimate falls below the current
 * rung's cost, straight to the highest rung that fits; upgrade only after the estimate has
 * stayed at or above the next rung's cost plus CODEC_LADDER_UPGRADE_MARGIN_PCT for
 * max(CODEC_LADDER_UPGRADE_HOLD_MS, 4 RTTs) without a break, and then straight to the highest
 * rung whose cost plus margin the estimate stayed above all through that hold (a link that
 * comes back after a fade climbs back in one hold, not one hold per rung); the next upgrade
 * needs a hold of its own. The dead band between "cost" and "cost + margin" and the hold are
 * what keep a noisy estimate from making it flap. The lowest live rung is the exception
 * (codec_ladder_slack_bps): it is kept down to its cost less a slack, and the margin for climbing
 * onto it is counted from there (with geo-sat's protection: left below 86.4 kbit/s, climbed onto
 * from stills at 99.4 held, instead of 92.4 and 106.3). The state is a small struct the caller
 * owns; time is passed in (ms, any monotonic origin), so it is deterministic and testable.
 *
 * Protection: the sender may add to a rung what depends on the link and not on the rung table
 * (FEC repairs, redundant audio copies). The caller tells the ladder with codec_ladder_set_extra;
 * a rung's cost is then its table cost plus that extra, the same rule everywhere above (downgrade,
 * upgrade threshold, highest rung that fits). Each rung is judged with its own protection: a
 * 7.5 fps rung protects every picture, a 15 fps one only its base layer, so a budget taken at
 * the current rung's share would ask too much of the rung above (from relay/media's costs: on a 256
 * kbit/s link at a 3.5 % loss window, 180p-7.5 -> 180p-15 needed a target of 233 kbit/s that
 * way, 221 with its own).
 */
#ifndef PIROGUE_CODEC_LADDER_H
#define PIROGUE_CODEC_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/opus.h"

#define CODEC_LADDER_PACKET_OVERHEAD    64    /* bytes on the wire per packet besides payload */
#define CODEC_LADDER_VIDEO_PAYLOAD      1200  /* max VP8 payload bytes per RTP packet */
#define CODEC_LADDER_AUDIO_FLOOR_BPS    20000 /* Opus rate every rung with video keeps */
#define CODEC_LADDER_UPGRADE_MARGIN_PCT 15    /* estimate must exceed next cost by this much */
#define CODEC_LADDER_UPGRADE_HOLD_MS    2500  /* ... for this long (or 4 RTTs if longer) */
#define CODEC_LADDER_FEC_RTT_MS         250   /* at or above this RTT, audio FEC is always on */
#define CODEC_LADDER_FEC_MIN_LOSS_PCT   6     /* expected loss given to Opus when FEC is on */
#define CODEC_LADDER_FEC_MAX_LOSS_PCT   30    /* cap on the expected loss given to Opus */
#define CODEC_LADDER_VIDEO_MIN_PCT      50    /* a live rung's VP8 may be pushed back this low */
#define CODEC_LADDER_FLOOR_SLACK_PCT    25    /* of its video rate, the lowest live rung's slack */

enum codec_ladder_mode {
	CODEC_LADDER_AUDIO_ONLY = 0, /* video off */
	CODEC_LADDER_STILLS = 1,     /* one keyframe every stills_interval_ms */
	CODEC_LADDER_LIVE = 2,       /* live video with temporal layers */
};

/* THE RUNG TABLE — the one place it is defined (ladder.c expands it), lowest rung first.
 * X(name, audio_bps, audio_frame_ms, mode, width, height, fps_num, fps_den, temporal_layers,
 *   video_bps, stills_interval_ms)
 * fps_num/fps_den is the frame rate of the top temporal layer (stills: 1 frame per interval);
 * with L layers the layer rates are fps, fps/2, ..., fps/2^(L-1). video_bps is the VP8 target.
 * Cost incl. overhead (kbit/s, computed by codec_ladder_rung_link_bps) in the right column. */
/* clang-format off */
#define CODEC_LADDER_RUNGS(X)                                                                     \
	X("audio-6k", 6000, 60, CODEC_LADDER_AUDIO_ONLY, 0, 0, 0, 1, 0, 0, 0)       /*   14.5 */ \
	X("audio-8k", 8000, 60, CODEC_LADDER_AUDIO_ONLY, 0, 0, 0, 1, 0, 0, 0)       /*   16.5 */ \
	X("audio-12k", 12000, 60, CODEC_LADDER_AUDIO_ONLY, 0, 0, 0, 1, 0, 0, 0)     /*   20.5 */ \
	X("audio-16k", 16000, 40, CODEC_LADDER_AUDIO_ONLY, 0, 0, 0, 1, 0, 0, 0)     /*   28.8 */ \
	X("stills-360p", 20000, 40, CODEC_LADDER_STILLS, 640, 360, 1, 6, 1, 16000, 6000) /*   49.7 */ \
	X("90p-7.5", 20000, 40, CODEC_LADDER_LIVE, 160, 90, 15, 2, 1, 24000, 0)     /*   60.6 */ \
	X("90p-15", 20000, 40, CODEC_LADDER_LIVE, 160, 90, 15, 1, 2, 40000, 0)      /*   80.5 */ \
	X("180p-7.5", 20000, 40, CODEC_LADDER_LIVE, 320, 180, 15, 2, 1, 64000, 0)   /*  100.6 */ \
	X("180p-15", 20000, 20, CODEC_LADDER_LIVE, 320, 180, 15, 1, 2, 96000, 0)    /*  149.3 */ \
	X("270p-7.5", 24000, 20, CODEC_LADDER_LIVE, 480, 270, 15, 2, 1, 120000, 0)  /*  177.3 */ \
	X("270p-15", 24000, 20, CODEC_LADDER_LIVE, 480, 270, 15, 1, 2, 180000, 0)   /*  245.0 */ \
	X("360p-7.5", 24000, 20, CODEC_LADDER_LIVE, 640, 360, 15, 2, 1, 220000, 0)  /*  285.0 */ \
	X("360p-15", 24000, 20, CODEC_LADDER_LIVE, 640, 360, 15, 1, 2, 320000, 0)   /*  392.6 */ \
	X("360p-30", 32000, 20, CODEC_LADDER_LIVE, 640, 360, 30, 1, 3, 480000, 0)   /*  568.3 */ \
	X("720p-30", 32000, 20, CODEC_LADDER_LIVE, 1280, 720, 30, 1, 3, 1200000, 0) /* 1334.4 */
/* clang-format on */

/* One rung of the table (the X-macro's fields, in order). */
struct codec_ladder_rung {
	const char *name;
	uint32_t audio_bps;      /* Opus bitrate */
	uint16_t audio_frame_ms; /* Opus frame size: 20, 40 or 60 */
	enum codec_ladder_mode mode;
	uint16_t width, height;      /* 0 when audio only */
	uint16_t fps_num, fps_den;   /* top-layer frame rate (0/1 when audio only) */
	uint8_t temporal_layers;     /* 1..3 (0 when audio only) */
	uint32_t video_bps;          /* VP8 target bitrate (0 when audio only) */
	uint32_t stills_interval_ms; /* STILLS only: time between two keyframes */
};

/* What the ladder tells the encoders to do now. */
struct codec_ladder_settings {
	unsigned index;                /* rung index, 0 = lowest */
	struct codec_ladder_rung rung; /* copy of that rung */
	bool audio_fec;                /* Opus in-band FEC on */
	unsigned audio_loss_pct;       /* expected loss to give Opus (0 when FEC off) */
	uint32_t link_bps;             /* the rung's cost on the wire, overhead included */
};

/* Protection the sender adds to rung `index` (bit/s on the wire), given the caller's arg. */
typedef uint32_t (*codec_ladder_extra_fn)(unsigned index, void *arg);

/* Hysteresis state. Owned by the caller; initialize with codec_ladder_state_init, then only
 * touch it through codec_ladder_set_extra and codec_ladder_update. */
struct codec_ladder_state {
	codec_ladder_extra_fn extra; /* NULL: no protection beyond the table */
	void *extra_arg;
	unsigned index; /* current rung */
	bool started;   /* false until the first update */
	bool holding;   /* estimate has been above the next rung's threshold since... */
	uint64_t hold_since_ms;
	uint32_t hold_min_bps;         /* ... and its lowest value since then */
	uint64_t last_ms;              /* time of the last update */
	unsigned upgrades, downgrades; /* rung changes so far (for stats and tests) */
	unsigned top;                  /* highest rung it climbs to (0: the table's) */
};

/* Index of the floor: the lowest live rung (the rung below it is stills). The table has one. */
unsigned codec_ladder_floor(void);

/* The floor's slack: what rung i may fall short of its cost before the ladder leaves it. The
 * sender runs a live rung's VP8 below its rate when the target is short (relay/media's pushback,
 * down to CODEC_LADDER_VIDEO_MIN_PCT of it), so the lowest live rung is kept down to its cost
 * less CODEC_LADDER_FLOOR_SLACK_PCT of its video rate (6 kbit/s of 90p-7.5's 24): the rung below
 * it is one still every few seconds. 0 for every other rung (a higher rung steps down instead).
 * Not more: stills must keep a band of their own (with geo-sat's protection, stills-360p costs
 * 76.8-82.0 kbit/s and 90p-7.5 92.4-102.2: half the video rate would leave them none). */
uint32_t codec_ladder_slack_bps(unsigned i);

/* The estimate rung i needs, held for the hold time, to be climbed onto when it costs cost_bps
 * (protection counted): the margin above where it would be left again (its cost less its slack).
 */
uint64_t codec_ladder_climb_bps(unsigned i, uint32_t cost_bps);

/* Number of rungs in the table. */
unsigned codec_ladder_rung_count(void);

/* Rung i (0 = lowest), or NULL when i >= codec_ladder_rung_count(). Static storage. */
const struct codec_ladder_rung *codec_ladder_rung_get(unsigned i);

/* Cost of rung r on the wire in bit/s: codec bitrates plus CODEC_LADDER_PACKET_OVERHEAD bytes
 * per audio and video packet, rounded up. Strictly increasing along the table. */
uint32_t codec_ladder_rung_link_bps(const struct codec_ladder_rung *r);

/* Pure: index of the highest rung whose cost is <= link_bps (0 if none fits: the lowest
 * audio-only rung is the floor). */
unsigned codec_ladder_pick(uint32_t link_bps);

/* Pure: fills *out with rung `index` and the FEC choice for loss (fraction 0..1) and rtt_ms.
 * Errors: -EINVAL (index out of range, loss NaN or outside 0..1, out NULL). */
int codec_ladder_settings_for(unsigned index, double loss, uint32_t rtt_ms,
                              struct codec_ladder_settings *out)
        __attribute__((warn_unused_result));

/* Starts a ladder (at the lowest rung; the first update jumps to the highest rung that fits),
 * with no protection set (codec_ladder_set_extra after it). */
void codec_ladder_state_init(struct codec_ladder_state *s);

/* Sets (fn non-NULL) or clears the protection added to every rung's cost from now on. */
void codec_ladder_set_extra(struct codec_ladder_state *s, codec_ladder_extra_fn fn, void *arg);

/* Sets the highest rung the ladder climbs to (a rung above it buys the sender nothing: a camera
 * smaller or slower than the rungs above, say); 0 or an index past the table: no limit. A ladder
 * above it steps down to it at the next update. */
void codec_ladder_set_top(struct codec_ladder_state *s, unsigned top);

/* The highest rung the ladder may take: the top set, or the table's last rung. */
unsigned codec_ladder_top(const struct codec_ladder_state *s);

/* Rung i's cost as the ladder judges it: codec_ladder_rung_link_bps plus the protection set
 * with codec_ladder_set_extra (saturating), or UINT32_MAX when i is out of range. */
uint32_t codec_ladder_cost(const struct codec_ladder_state *s, unsigned i);

/* Feeds one estimate taken at now_ms: link_bps (bit/s incl. overhead and protection: what the
 * link carries), loss (fraction 0..1), rtt_ms. Applies the hysteresis described above, updates *s
 * and fills *out with the settings to use from now on. Errors (state untouched): -EINVAL for loss
 * NaN/outside 0..1, now_ms before the previous update's, or a NULL pointer. */
int codec_ladder_update(struct codec_ladder_state *s, uint64_t now_ms, uint32_t link_bps,
                        double loss, uint32_t rtt_ms, struct codec_ladder_settings *out)
        __attribute__((warn_unused_result));

/* Fills an Opus encoder config (mono, 48 kHz, default complexity) for settings *st: bitrate,
 * frame size, FEC and expected loss. DTX is left off (the jitter buffer prefers steady
 * packets). */
void codec_ladder_opus_config(const struct codec_ladder_settings *st,
                              struct codec_opus_enc_config *cfg);

#endif
