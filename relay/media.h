/* relay/media.h — a live consultation media session (two-way audio + video) on an event_base.
 *
 * Sender: audio (WAV) and video (Y4M) files are read "as if captured live": each audio frame and
 * each video picture is taken at its real capture time (files loop when shorter than the
 * session). The congestion controller's estimate (relay/cc) drives the bitrate ladder
 * (codec/ladder), which sets the Opus encoder (bitrate, frame length, in-band FEC) and the VP8
 * encoder (size, frame rate via temporal layers, bitrate, stills, off). Packets get RTP headers
 * with a transport-wide sequence number (set as they leave the pacer), the VP8 base layer gets
 * XOR FEC (relay/fec) scaled to the measured loss, and audio frames are repeated a few packets
 * later (RFC 2198 RED, time-spread redundancy) when there is loss. Everything leaves through the
 * pacer (relay/pacer) at the controller's rate, via the caller's send callback.
 *
 * Receiver: RTP/RTCP demultiplexing (RFC 5761), transport-wide feedback back to the peer,
 * audio jitter buffer + Opus decode (FEC, PLC, redundancy), video frame assembly + FEC recovery
 * + VP8 decode with a corruption check and rate-limited PLI, NACK only when the RTT allows
 * (relay/jitter decides), and a recorder: received audio (WAV, 48 kHz mono), received video
 * (IVF as received, Y4M of the decoded pictures scaled to the display size) and a per-frame log
 * frames.csv: kind (a/v), source index (video: the sender's picture number in its looped
 * source, codec/y4m's loop, ping-pong when the clip fits 64 MiB; audio: the frame's first
 * sample at 48 kHz, i.e. its RTP timestamp), RTP timestamp, capture and playout times (wall-clock
 * microseconds; capture -1 when unknown) and how it was played (video: show, or late when decoded
 * only after its sound had played; audio: play / fec / red / lost / gap / stretch / underrun). With
 * a reference clip the report also writes psnr.csv (source index, index shown, PSNR-Y).
 *
 * Lip sync (relay/jitter's jb_sync): both streams' RTP timestamps are mapped to the sender's
 * capture clock through its sender reports; a decoded picture is held until the audio captured
 * at the same instant plays (at most 1 s), and when pictures are ready later than the sound
 * plays, audio is delayed to match, at most 150 ms beyond what its jitter needs (not at all
 * when pictures lag by more than twice that, as during a queue). The report's
 * lip_sync figures: per shown picture, (video playout - video capture) - (audio playout - audio
 * capture) of the sound playing then, as in frames.csv; positive when the picture lags.
 *
 * Transport: the session does not own a socket. The caller passes a send callback and feeds
 * every datagram from the peer to relay_media_input(); `pirogue consult` joins it to a
 * relay_tunnel, the unit test to an in-memory link. (Hosting the session inside pirogued, on the
 * daemon's one UDP flow, is left for later.)
 *
 * Times: monotonic microseconds for every rate and timer; capture and playout times in the log
 * and the one-way delays are CLOCK_REALTIME microseconds (the sender's capture time travels in
 * RTCP sender reports, RFC 3550), exact when both ends share a clock (the link lab, the test).
 *
 * Errors: 0, -errno, or the codec/relay error codes of the modules used (relay_media_strerror).
 * Not thread-safe; do not free a session from inside its send callback.
 */
#ifndef PIROGUE_RELAY_MEDIA_H
#define PIROGUE_RELAY_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct codec_ladder_rung;
struct event_base;
struct relay_media;
typedef struct json_t json_t;

/* Sends one datagram (RTP or RTCP, len <= 1443) to the peer. Returns 0 or a negative error
 * (counted; the packet is lost). */
typedef int relay_media_send_h(const uint8_t *data, size_t len, void *arg);

struct relay_media_config {
	const char *name;       /* for logs ("clinic", "hub"); copied */
	const char *video_path; /* Y4M to send (NULL: no video); opened at relay_media_new */
	const char *audio_path; /* WAV to send (NULL: no audio); read at relay_media_new */
	const char *record_dir; /* where to record what is received (NULL: nothing written) */
	int display_width;      /* size of the recorded Y4M; 0 = 320 */
	int display_height;     /* 0 = 180 */
	uint32_t fixed_bps;     /* 0: adaptive; else a fixed wire rate, no ladder moves, no FEC,
	                           no redundancy (the baseline) */
	uint32_t start_bps;     /* initial controller target; 0 = 200 kbit/s */
	uint32_t max_bps;       /* controller ceiling; 0 = 2 Mbit/s */
	bool no_lip_sync;       /* receiver: show video as soon as it is decoded and never delay
	                           audio for it (for comparisons; default: lip sync on) */
	uint32_t ssrc_base;     /* a multiple of 4 (-EINVAL otherwise); SSRCs used: base+1
	                           audio, +2 video, +3 FEC, +4 padding (the receiver tells the
	                           peer's audio and video sender reports apart by ssrc & 3) */
	relay_media_send_h *send;
	void *send_arg;
};

/* Live counters (a snapshot, see relay_media_stats). */
struct relay_media_stats {
	uint64_t tx_packets, tx_wire_bytes, tx_errors;
	uint64_t tx_audio_frames, tx_video_frames, tx_fec_packets, tx_red_frames, tx_keyframes;
	uint64_t tx_recovery_points; /* base-layer pictures referencing only the last one (vp8.h) */
	uint64_t rx_packets, rx_bad;
	uint64_t audio_played, audio_fec, audio_red, audio_concealed;
	uint64_t video_decoded, video_dropped, video_fec_recovered, video_corrupt;
	/* FEC repairs received; of them, groups that lost two or more (XOR restores one); packets
	 * restored after their picture was played or given up (no use) */
	uint64_t video_fec_repairs, video_fec_too_many, video_fec_late;
	/* gaps given up without waiting: the picture after them did not need them */
	uint64_t video_gaps_unneeded;
	/* decoding broke (a base-layer picture lost) and resumed at a recovery point, no keyframe
	 */
	uint64_t video_rp_resumed;
	/* gaps a decodable recovery point waited behind because their FEC repair might still come;
	 * of them, those the repair then restored in time (only the latest gap held is followed:
	 * one still held when a later one is restores uncounted) */
	uint64_t video_rp_held, video_rp_held_restored;
	uint64_t pli_sent, pli_received, nack_sent, nack_received;
	/* sender: media the pacer dropped unsent because it went stale (audio older than 400 ms,
	 * video pictures older than 600 ms or depending on one that was, their FEC and
	 * retransmissions), and the keyframes made so the receiver can decode again */
	uint64_t pacer_stale_packets, pacer_stale_bytes, pacer_stale_pictures, keyframes_forced;
	uint64_t pacer_stale_audio; /* of the stale packets, audio (each one frame) */
	/* times the audio was squeezed below its rung's settings to fit a controller target
	 * below its cost (a queue draining after a capacity drop), and for how long in all */
	uint64_t audio_squeezes;
	int64_t audio_squeezed_us;
	uint64_t video_paused; /* pictures not captured meanwhile (their turn came in a squeeze) */
	unsigned rung;         /* current ladder rung index */
	const char *rung_name; /* static */
	unsigned ladder_downgrades, ladder_upgrades;
	unsigned min_rung_after_top; /* lowest rung reached after the first downgrade */
	uint32_t target_bps;         /* controller target */
	int64_t rtt_us;
	double loss;
};

/* Creates a session (nothing is sent until relay_media_start). Reads the WAV (any rate the WAV
 * reader takes, resampled to 48 kHz mono), opens the Y4M, creates the record directory's files.
 * Errors: -EINVAL (no send callback, no source), -ENOMEM, -errno, codec file errors. */
int relay_media_new(struct relay_media **out, struct event_base *base,
                    const struct relay_media_config *cfg) __attribute__((warn_unused_result));

/* Starts capturing and sending now. Errors: -EINVAL (already started), -ENOMEM. */
int relay_media_start(struct relay_media *m) __attribute__((warn_unused_result));

/* Feeds one datagram received from the peer (untrusted; malformed ones are counted, dropped). */
void relay_media_input(struct relay_media *m, const uint8_t *data, size_t len);
/* The same, with the time the datagram was received (mtime_now_us's clock; from the kernel,
 * relay_tunnel_rx_us): the arrival time reported to the peer's congestion controller. 0, or a
 * time in the future, means now. */
void relay_media_input_at(struct relay_media *m, const uint8_t *data, size_t len, int64_t rx_us);

/* Stops sending and playing, and finishes the recording (WAV, Y4M, IVF, CSV closed). Returns 0
 * or the first write error. Idempotent. */
int relay_media_stop(struct relay_media *m) __attribute__((warn_unused_result));

void relay_media_stats(const struct relay_media *m, struct relay_media_stats *out);

/* The quality report of what this side sent and received so far (call after stop), as a new
 * JSON object (caller decrefs). link_bps: the uplink capacity for the utilisation figure (0:
 * left out). peer_video: the Y4M the peer sent, for PSNR as viewed (NULL: left out).
 * Errors: -ENOMEM, file errors reading peer_video or the recorded Y4M. */
int relay_media_report(struct relay_media *m, uint32_t link_bps, const char *peer_video,
                       json_t **out) __attribute__((warn_unused_result));

/* Prints the report as a human table (two columns when baseline is not NULL). */
void relay_media_report_print(const json_t *report, const json_t *baseline, void *file);

const char *relay_media_strerror(int err);

/* The RTP timestamp (clock_hz: 48000 audio, 90000 video) of the instant elapsed_us after the
 * session's start, as the sender stamps its media and its sender reports: modulo 2^32, right
 * for any session length (elapsed_us x clock_hz is computed in 64 bits). */
uint32_t relay_media_rtp_ts(int64_t elapsed_us, unsigned clock_hz);

/* What the ladder may spend on rungs when the controller's target is target_bps and rung r is
 * being sent from a camera of camera_fps (0: unknown): the target minus what protection adds,
 * XOR FEC on r's base layer with groups of k (0: off; relay/fec's fec_repair_bps under the
 * session's flush rule) and, when red, every audio frame a second time. */
uint32_t relay_media_rung_budget(uint32_t target_bps, const struct codec_ladder_rung *r,
                                 double camera_fps, unsigned k, bool red);

/* What protection adds to ladder rung r's cost on the wire (the ladder's extra, see
 * codec_ladder_set_extra) when its encoders run as rung eff (r itself, or NULL, unless the camera's
 * picture is smaller than r's: then the lower rung with more pictures, at r's video rate), from a
 * camera of camera_fps (0: unknown): XOR FEC repairs on eff's base layer with groups of k (0: off)
 * and, when red, every audio frame a second time with its 4-byte RFC 2198 block header. */
uint32_t relay_media_rung_extra_bps(const struct codec_ladder_rung *r,
                                    const struct codec_ladder_rung *eff, double camera_fps,
                                    unsigned k, bool red);

/* The FEC group size for the ladder and the encoder when the loss asks for groups of k and the
 * ladder's input is link_bps: k, unless the lowest live rung (its cost, the protection counted as
 * relay_media_rung_extra_bps does from a camera of camera_fps, RED when red) does not fit in
 * link_bps with groups of k but does with larger ones, up to the size a 1 % loss asks for: then
 * the smallest of those. When it fits with none of them, the same with its slack
 * (codec_ladder_slack_bps: the ladder keeps it down to its cost less a quarter of its video
 * rate). When the ladder is below that rung (below: on stills), the test is instead whether
 * link_bps reaches the rung's climb threshold (codec_ladder_climb_bps). Below that rung the ladder
 * sends stills, one picture every few seconds: weaker protection of live pictures costs the
 * viewer less. */
unsigned relay_media_floor_group_size(unsigned k, uint32_t link_bps, double camera_fps, bool red,
                                      bool below);

/* The ladder's input just after the controller's restore (the target back from a deep cut once
 * its queue has drained, at 0.85x what the link delivered meanwhile), when the ladder is live:
 * within RELAY_MEDIA_RESTORE_HOLD_US of the restore, an input link_bps at most
 * RELAY_MEDIA_RESTORE_BAND_PCT % below keep_bps (what keeps the lowest live rung at its lightest
 * protection: its cost with the largest FEC groups it may take, less its slack) is taken as
 * keep_bps; otherwise link_bps. That first target is often a little low and rises within
 * seconds, and a step to stills costs a keyframe and seconds without motion. since_us < 0: no
 * restore yet. The band stays above stills' own (with geo-sat's protection stills cost up to
 * 82.0 kbit/s, and 95 % of the 86.4 that keeps 90p-7.5 is 82.08). */
#define RELAY_MEDIA_RESTORE_HOLD_US  3000000
#define RELAY_MEDIA_RESTORE_BAND_PCT 5
uint32_t relay_media_restore_input(uint32_t link_bps, uint32_t keep_bps, int64_t since_us);

/* The VP8 bitrate for rung r (r->video_bps: the encoder's rate now; base_bps: the ladder's
 * nominal rate for it). The rung's rate plus 80 % of what budget_bps (what the ladder sized the
 * rung for: the highest recent target, less protection) leaves over r's cost, at most 1.6 x
 * base_bps; then the encoder pushback: at most what now_bps (the same budget at the
 * controller's current target, the pacer's rate) leaves for video, less what sends the
 * backlog (video bytes queued at the pacer) within 1 s, and no less than
 * CODEC_LADDER_VIDEO_MIN_PCT (half) of base_bps.
 * Without the pushback, an encoder sized above the pacer's rate after a cut (the ladder holds
 * the higher target for a second, a known capacity's 85 % for 3 s) filled the video queue
 * until the encoder skipped pictures at 250 ms: every picture, and with lip sync the sound,
 * came that much later. */
uint32_t relay_media_encoder_bps(const struct codec_ladder_rung *r, uint32_t base_bps,
                                 uint32_t budget_bps, uint32_t now_bps, size_t backlog);

/* The densest live rung of the ladder at the fill's 1.6x (90p-7.5: 38.4 kbit/s for 108,000 pixels
 * a second): no rung gets more bits per pixel it encodes (relay_media_pixel_cap_bps). */
#define RELAY_MEDIA_PIXEL_BITS_MAX 0.36

/* The most VP8 rate rung r can use from a camera of src_w x src_h at camera_fps (0: the rung's
 * rate): RELAY_MEDIA_PIXEL_BITS_MAX bits per pixel it encodes (its size, no larger than the
 * camera's, at its frame rate, no faster than the camera's). A rung larger than the camera
 * encodes the camera's pictures at the rung's rate: the lab's 320x192 12 fps clip at 720p-30
 * went out at 1.2-1.5 Mbit/s on geo-sat's downlink, 13-packet pictures that 1 % bursty loss
 * hit several times a second (README). 0 when r is not live video or the camera is unknown. */
uint32_t relay_media_pixel_cap_bps(const struct codec_ladder_rung *r, unsigned src_w,
                                   unsigned src_h, double camera_fps);

/* The highest rung worth climbing to for a camera of src_w x src_h at camera_fps (0: unknown):
 * the lowest live rung at least as large and as fast as the camera whose own VP8 rate reaches
 * its pixel cap (relay_media_pixel_cap_bps). Every rung above it encodes the same pictures at
 * the same capped rate: climbing there bought nothing but the padding of the ladder's trials
 * (the lab's 320x192 12 fps clip: 360p-15; 360p-30 and 720p-30 above it). 0 when no rung is
 * (a camera as large as the top rung): no limit. */
unsigned relay_media_camera_top(unsigned src_w, unsigned src_h, double camera_fps);

/* Stops (if needed) and frees; NULL is fine. */
void relay_media_free(struct relay_media *m);

#endif
