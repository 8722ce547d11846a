/* relay/jitter.h — receiver buffers: an adaptive audio jitter buffer and video frame assembly.
 *
 * Audio: packets (one Opus frame each) go in as they arrive; the player asks for one frame per
 * frame period and gets a decision: play this payload, decode the FEC (LBRR) data carried in
 * the next packet, conceal (Opus PLC), or wait (still filling). The target delay follows the
 * measured jitter: the 95th percentile of each packet's delay above the fastest recent one,
 * over the last few seconds, plus a margin, clamped. It rises as soon as jitter does (the
 * player inserts concealed frames to grow the buffer) and falls back once the jittery samples
 * age out (the player drops a frame now and then to shrink it).
 *
 * Video: RTP packets are grouped into frames by timestamp; a frame is complete when its start
 * packet (the caller says which: VP8 S=1, PID=0), its marker packet and every sequence number
 * between them are present. Frames come out in order; an incomplete frame at the head is given
 * up (reported as dropped, with its missing sequence numbers) once a later frame is complete
 * and the head has waited longer than the configured wait.
 *
 * Pure logic with explicit times (microseconds). Payloads are copied in; pointers handed out
 * stay valid until the next call on the same buffer.
 */
#ifndef PIROGUE_RELAY_JITTER_H
#define PIROGUE_RELAY_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define JB_ERR_BASE (ERR_BASE_RELAY - 590)
enum {
	JB_ELATE = JB_ERR_BASE - 0,  /* packet arrived after its playout time; dropped */
	JB_EDUP = JB_ERR_BASE - 1,   /* duplicate; dropped */
	JB_EINVAL = JB_ERR_BASE - 2, /* bad argument (empty payload, zero frame size) */
	JB_EFULL = JB_ERR_BASE - 3,  /* too far ahead of playout for the buffer; dropped */
};

/* Text for a jitter-buffer error code or a negated errno; never NULL, static. */
const char *jb_strerror(int err);

/* ---- audio ---- */
struct jb_audio_config {
	unsigned clock_rate;    /* RTP clock; 0 = 48000 */
	unsigned frame_samples; /* the unit: shortest packet duration in samples; 0 = 960 (20 ms).
	                         * Packets may last any multiple of it up to 16 (Opus 40/60 ms
	                         * frames at the low rungs of the ladder). */
	int64_t min_delay_us;   /* 0 = 40 ms */
	int64_t max_delay_us;   /* 0 = 1000 ms */
	int64_t window_us;      /* jitter history; 0 = 4 s */
	int64_t margin_us;      /* added to the percentile; 0 = 10 ms */
};

enum jb_audio_action {
	JB_WAIT = 0,    /* nothing to play yet (initial fill): play silence */
	JB_PLAY = 1,    /* decode payload */
	JB_FEC = 2,     /* frame lost: decode payload (the next packet) with decode_fec = 1 */
	JB_CONCEAL = 3, /* frame lost or buffer grows: run Opus PLC (decode NULL) */
};

struct jb_audio_frame {
	enum jb_audio_action action;
	uint32_t timestamp;     /* RTP timestamp of the audio being produced */
	unsigned samples;       /* audio this decision produces: PLAY the packet's duration, FEC
	                         * the gap's, CONCEAL one unit; 0 for WAIT */
	const uint8_t *payload; /* JB_PLAY / JB_FEC */
	size_t len;
	bool dropped_one; /* a packet was skipped before this one to shrink the delay */
};

struct jb_audio_stats {
	int64_t target_us;        /* current target delay */
	int64_t jitter_target_us; /* what the measured jitter alone asks for (no sync floor) */
	int64_t sync_floor_us;    /* floor set by jb_audio_set_sync_delay (0: none) */
	int64_t buffered_us;      /* media buffered ahead of playout */
	int64_t jitter_us;        /* RFC 3550 interarrival jitter */
	uint64_t played, fec, concealed, dropped_late, dropped_shrink, expanded;
};

struct jb_audio;

/* Creates an audio buffer (cfg NULL = defaults). Returns 0, JB_EINVAL, -ENOMEM. */
int jb_audio_new(struct jb_audio **out, const struct jb_audio_config *cfg)
        __attribute__((warn_unused_result));
void jb_audio_free(struct jb_audio *jb);
/* Inserts a packet (payload copied) lasting one unit (frame_samples). Returns 0, JB_ELATE,
 * JB_EDUP, JB_EFULL, JB_EINVAL, -ENOMEM. */
int jb_audio_put(struct jb_audio *jb, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
                 int64_t arrival_us) __attribute__((warn_unused_result));
/* As jb_audio_put for a packet lasting `samples`: a multiple of frame_samples, up to 16 of them
 * (0 = one unit); for Opus, the duration rtp_opus_payload_check gives (40/60 ms frames at the
 * low rungs of the ladder). */
int jb_audio_put_samples(struct jb_audio *jb, uint16_t seq, uint32_t ts, const uint8_t *payload,
                         size_t len, unsigned samples, int64_t arrival_us)
        __attribute__((warn_unused_result));
/* Produces the decision for the next stretch of playout; call again when f->samples (or, for
 * JB_WAIT, one unit) of audio have been played. */
void jb_audio_get(struct jb_audio *jb, int64_t now_us, struct jb_audio_frame *f);
void jb_audio_get_stats(const struct jb_audio *jb, struct jb_audio_stats *st);
/* Lip sync: the target delay becomes at least floor_us, but never more than max_extra_us above
 * what the jitter asks for as that changes (and at most max_delay_us); floor 0 removes it. The
 * buffer grows and shrinks towards the new target as it does for jitter. */
void jb_audio_set_sync_delay(struct jb_audio *jb, int64_t floor_us, int64_t max_extra_us);

/* ---- video ---- */
struct jb_video_config {
	int64_t wait_us;          /* how long an incomplete head frame waits; 0 = 200 ms */
	size_t max_packets;       /* buffered packets; 0 = 2048 */
	size_t max_frame_packets; /* packets per frame; 0 = 256 */
	/* Optional: whether the complete frame whose first packet's payload and tag (see
	 * JB_VIDEO_TAG) these are decodes without the frames in the gap before it (VP8: a frame
	 * that references only the base layer frame already decoded, or a recovery point). The
	 * gap is then given up at once, as before a key frame: nothing waits for pictures nobody
	 * needs. Asked, for every complete frame behind the gap, on each jb_video_get while the
	 * gap waits; gap_seq is the first sequence number the gap lacks (the caller may wait for
	 * a repair of it while one can still come). */
	bool (*gap_unneeded)(void *arg, const uint8_t *payload, size_t len, unsigned tag,
	                     uint16_t gap_seq);
	void *arg;
};

enum jb_video_result {
	JB_VIDEO_NONE = 0,    /* nothing ready */
	JB_VIDEO_FRAME = 1,   /* a complete frame */
	JB_VIDEO_DROPPED = 2, /* the head frame was given up (missing packets listed) */
};

struct jb_video_frame {
	uint32_t timestamp;
	uint16_t first_seq, last_seq;
	size_t n_packets;
	const uint8_t *const *payloads; /* n_packets payloads in sequence order */
	const size_t *lens;
	int64_t first_arrival_us, complete_us;
	int64_t waited_us; /* complete but held back this long by an earlier frame (arrival clock:
	                    * one repaired late, or a gap given up) */
	unsigned tag;      /* JB_VIDEO_FRAME: the tag its first packet was put with */
	size_t n_missing;  /* JB_VIDEO_DROPPED: missing sequence numbers known */
	const uint16_t *missing;
};

struct jb_video;

int jb_video_new(struct jb_video **out, const struct jb_video_config *cfg)
        __attribute__((warn_unused_result));
void jb_video_free(struct jb_video *v);
/* jb_video_put() flags */
#define JB_VIDEO_START       1u /* first packet of a frame (VP8: S=1 and PID=0) */
#define JB_VIDEO_INDEPENDENT 2u /* (with START) the frame decodes alone: a VP8 key frame */
/* The caller's tag for the packet, 0 .. 0xffff, handed back with its frame (VP8: a recovery
 * point and the frame it references) */
#define JB_VIDEO_TAG(t) (((unsigned)(t)&0xffffu) << 8)

/* Inserts a packet: flags JB_VIDEO_START / JB_VIDEO_INDEPENDENT (a bool `true` is START alone)
 * and JB_VIDEO_TAG,
 * marker = RTP marker (last packet). Returns 0, JB_EDUP, JB_ELATE (frame already output or
 * given up), JB_EFULL, JB_EINVAL, -ENOMEM. */
int jb_video_put(struct jb_video *v, uint16_t seq, uint32_t ts, unsigned flags, bool marker,
                 const uint8_t *payload, size_t len, int64_t arrival_us)
        __attribute__((warn_unused_result));
/* Returns the next frame in order if complete (JB_VIDEO_FRAME), or gives up an incomplete head
 * frame (JB_VIDEO_DROPPED: up to the first complete frame behind it) when a later frame is
 * complete and either a complete frame behind the gap is independent (nothing before it is
 * needed to decode it or what follows: waiting would only delay it), or the config's
 * gap_unneeded says so of one, or the head waited more than wait_us; else
 * JB_VIDEO_NONE. *f is valid until the next call. */
enum jb_video_result jb_video_get(struct jb_video *v, int64_t now_us, struct jb_video_frame *f);
/* Lists sequence numbers known to be missing (gaps between received packets, oldest first)
 * for NACK; returns how many were written (at most cap). */
size_t jb_video_missing(const struct jb_video *v, uint16_t *seqs, size_t cap);

/* Chooses which missing sequence numbers to NACK now, given the round-trip time: a gap is
 * asked for only if a retransmission can arrive before its frame is given up (detected +
 * wait_us), at most once per RTT and three times in all. At satellite RTTs (longer than the
 * wait) this returns nothing: FEC covers loss there. Returns how many were written (<= cap). */
size_t jb_video_nack(struct jb_video *v, int64_t now_us, int64_t rtt_us, uint16_t *seqs,
                     size_t cap);

/* Keyframe (PLI/FIR) request limiter: ask only when the decoder cannot decode, and at most once
 * per max(min_interval_us, 1.5 x RTT) so a lost request is repeated but a long RTT does not
 * trigger a storm of keyframes. */
struct jb_keyframe_limiter {
	int64_t last_us;
	bool sent;
	uint64_t requests;
};
/* True when a request should be sent now (then recorded as sent at now_us). */
bool jb_keyframe_request(struct jb_keyframe_limiter *k, int64_t now_us, int64_t rtt_us,
                         int64_t min_interval_us);

/* ---- lip sync ----
 *
 * Both streams' RTP timestamps are mapped to the sender's capture clock (RFC 3550 6.4.1: the
 * NTP/RTP pairs of its sender reports); the caller passes capture times on that clock and
 * playout times on its own. Only differences of delays are used, so the offset between the two
 * clocks cancels. The audio delay is what the player reports (capture -> playout of the latest
 * frame played); a decoded video frame is shown when audio captured at the same instant plays:
 * at capture + audio delay, at once if it is already later than that, and held no longer than
 * max_video_hold_us. When video is ready later than audio plays (over the window, its median
 * delay, or its 95th percentile less lead_ok_us, exceeds the audio delay by more than
 * threshold_us), audio is delayed instead: the typical picture is then in sync and the slow ones
 * lag by at most lead_ok_us. That is done through a floor on the audio jitter buffer's target: at
 * most step_up_us more per interval_us (the first raise in one go) and never more than
 * max_audio_extra_us above what the jitter alone asks for (mouth-to-ear matters more than lip sync
 * on a 600 ms link). When the delay wanted exceeds twice that cap (pictures behind a queue after a
 * capacity drop), the floor is removed: the cap could not close the gap, only cost mouth-to-ear.
 * The floor comes down step_down_us per interval once video is early again.
 * With persist_us, slow pictures that all came in one burst shorter than that (a keyframe and the
 * pictures queued behind it) do not raise or hold the floor: they were shown before the floor
 * could rise, and delaying the sound for the window's length after them helps no picture; the
 * typical picture (the median) still does. Like WebRTC's stream
 * synchronisation, but the video display time is set per frame, since this receiver shows the
 * frames itself. */
struct jb_sync_config {
	int64_t max_video_hold_us;  /* 0 = 1000 ms */
	int64_t max_audio_extra_us; /* 0 = 150 ms */
	int64_t threshold_us;       /* 0 = 30 ms */
	int64_t step_up_us;         /* 0 = 80 ms */
	int64_t step_down_us;       /* 0 = 40 ms (the buffer sheds delay slower than it grows) */
	int64_t interval_us;        /* 0 = 500 ms */
	int64_t window_us;          /* video delay history; 0 = 4 s */
	int64_t audio_stale_us;     /* audio delay older than this is unknown; 0 = 1 s */
	int64_t lead_ok_us;         /* the sound may lead the slow pictures (the window's 95th
	                             * percentile) by this much; 0 = none */
	int64_t persist_us;         /* the slow pictures (the window's slowest 5 %) count only
	                             * when they were ready over at least this long; 0 = always */
};

struct jb_sync;

/* Creates a synchroniser (cfg NULL = defaults). Returns 0, JB_EINVAL (negative values), -ENOMEM. */
int jb_sync_new(struct jb_sync **out, const struct jb_sync_config *cfg)
        __attribute__((warn_unused_result));
void jb_sync_free(struct jb_sync *s);
/* The audio captured at capture_us started playing at play_us. */
void jb_sync_audio_played(struct jb_sync *s, int64_t capture_us, int64_t play_us);
/* A video frame captured at capture_us is decoded and ready at ready_us (call once a frame), of
 * which it spent waited_us complete but waiting for an earlier frame (jb_video_frame.waited_us:
 * one repaired late by FEC, or given up): the floor answers the delay of the frame's own
 * packets, ready_us - waited_us.
 * A repair delays the few pictures behind it once; delaying the sound for them would come only
 * after they were shown and cost every word its delay for the window's length. */
void jb_sync_video_ready(struct jb_sync *s, int64_t capture_us, int64_t ready_us,
                         int64_t waited_us);
/* When to show that frame, on the playout clock: capture + the current audio delay, clamped to
 * [ready_us, ready_us + max_video_hold_us]; ready_us when the audio delay is unknown (no audio
 * played with a known capture time within audio_stale_us of now_us). Call again as time passes:
 * it follows the audio delay. */
int64_t jb_sync_video_due(const struct jb_sync *s, int64_t capture_us, int64_t ready_us,
                          int64_t now_us);
/* True when that frame was ready only after the sound captured with it had played (audio
 * delay known): it can only be shown late, out of sync by (ready - capture) - audio delay. */
bool jb_sync_video_late(const struct jb_sync *s, int64_t capture_us, int64_t ready_us,
                        int64_t now_us);
/* The floor for the audio jitter buffer's target (0: none), given the target the jitter alone
 * asks for; recomputed at most every interval_us. */
int64_t jb_sync_audio_floor(struct jb_sync *s, int64_t now_us, int64_t jitter_target_us);
/* Floor updates at which the slow pictures came in one burst (persist_us) and were not followed. */
uint64_t jb_sync_bursts_not_followed(const struct jb_sync *s);

/* One played frame for the skew measurement: capture time (sender's clock, < 0 unknown) and
 * playout time (receiver's clock). */
struct jb_av_event {
	int64_t capture_us, play_us;
};

/* A/V skew per shown video frame: (video playout - video capture) - (audio playout - audio
 * capture) of the latest audio frame with a known capture time that started playing at or
 * before the video frame was shown; positive when the picture lags the sound. Both arrays in
 * playout order. A video frame is left out when its capture time is unknown or no such audio
 * frame played within max_gap_us before it (no sound to be in sync with). Writes at most cap
 * values to skew_us; returns how many were written. */
size_t jb_av_skew(const struct jb_av_event *audio, size_t n_audio, const struct jb_av_event *video,
                  size_t n_video, int64_t max_gap_us, int64_t *skew_us, size_t cap);

#endif
