/* codec/vp8.h — VP8 realtime encoder and decoder (libvpx).
 *
 * Encoder: one-pass CBR, no look-ahead (one packet out per picture in, or none if rate control
 * drops it), timestamps on the 90 kHz RTP video clock. Everything in struct
 * codec_vp8_enc_config can change on the fly with codec_vp8_enc_reconfigure(): bitrate, frame
 * rate and layer count take effect on the next frame without a keyframe (libvpx's
 * vpx_codec_enc_config_set); a new picture size makes the next frame a keyframe (a smaller size
 * is applied in place, a size larger than the encoder's first makes us re-create the encoder,
 * as libvpx cannot grow in place). Rate control never drops frames. Keyframes are made only on
 * demand (codec_vp8_enc_request_keyframe), every keyframe_interval frames, or after a size
 * change, and always on a base-layer (TL0) slot.
 *
 * Temporal layers (1-3) follow fixed patterns, chosen so that every frame of layer N references
 * only layers <= N (what lets the meeting relay drop layers without breaking the rest; with
 * one layer libvpx chooses references freely and every frame is TL0):
 *   2 layers, period 2:  TL0 TL1          (TL1 references LAST=TL0 only, updates nothing)
 *   3 layers, period 4:  TL0 TL2 TL1 TL2  (TL1 references LAST, updates GOLDEN; the first TL2
 *                        references LAST only, the second LAST and GOLDEN; TL2 updates nothing)
 * Recovery points (recovery_interval_ms > 0): the first TL0 frame that long after a keyframe or
 * recovery point references only ALTREF, which holds that keyframe or recovery point, and refreshes
 * LAST, GOLDEN and ALTREF; no other frame refreshes ALTREF. A receiver that lost base-layer
 * frames since the previous recovery point (but has that one) resumes decoding at the next, with
 * no keyframe and no round trip; what it decodes from there is bit-identical to what a receiver
 * that lost nothing decodes; one that lost a recovery point cannot resume at a later one. Recovery
 * points cost little more than a TL0 frame (a 320x192 clip at 250 kbit/s, 400-533 ms
 * apart: 1.2-1.4x a TL0 frame; a keyframe in its place is 4.5-5.5x the recovery point). With one
 * layer and recovery points, frames reference LAST and GOLDEN only. With more than one layer, or
 * recovery points, error-resilient mode is forced on (entropy contexts are not carried from frame
 * to frame, so a dropped frame does not desynchronise the decoder). Each packet reports its layer
 * id, the layer-sync flag (the frame references base-layer frames only: a receiver may start
 * decoding that layer there) and TL0PICIDX (8-bit, +1 per TL0 frame), i.e. the TID, Y and TL0PICIDX
 * fields of the RFC 7741 payload descriptor.
 *
 * Decoder: decodes any VP8 frame into a decoder-owned picture, and tells whether it is
 * corrupted (libvpx's VP8D_GET_FRAME_CORRUPTED, or anything decoded since a decode error before
 * the next intact keyframe) so the receiver knows to ask for a keyframe.
 */
#ifndef PIROGUE_CODEC_VP8_H
#define PIROGUE_CODEC_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/scale.h"
#include "common/err.h"

#define CODEC_VP8_MAX_LAYERS 3
/* RTP video clock: packet and input timestamps count 1/90000 s. */
#define CODEC_VP8_CLOCK 90000
/* cpu-used for the 2-core appliance when the config leaves it 0: CODEC_VP8_CPU_USED_DEFAULT, or
 * slower and sharper for small pictures (codec_vp8_cpu_used_for). See the measurements above
 * codec_vp8_enc_new in vp8.c. */
#define CODEC_VP8_CPU_USED_DEFAULT -6

#define CODEC_VP8_EINIT   (ERR_BASE_CODEC - 540) /* libvpx refused the configuration */
#define CODEC_VP8_EENCODE (ERR_BASE_CODEC - 541) /* libvpx failed to encode */
#define CODEC_VP8_EDECODE (ERR_BASE_CODEC - 542) /* corrupt or unsupported bitstream */
#define CODEC_VP8_ESIZE   (ERR_BASE_CODEC - 543) /* picture size differs from the config */

struct codec_vp8_enc_config {
	int width; /* 16 .. 4096, even not required */
	int height;
	int fps_num;           /* frame rate fps_num / fps_den, 1/60 .. 60 fps (15/2 = 7.5 fps); */
	int fps_den;           /* both 1 .. 1000 */
	int bitrate_kbps;      /* 10 .. 20000, the whole stream (all layers) */
	int layers;            /* temporal layers 1 .. 3 */
	bool error_resilient;  /* forced on when layers > 1 */
	int threads;           /* encoder threads 1 .. 4 (0 = 1) */
	int cpu_used;          /* libvpx speed -16 .. 16 (0 = codec_vp8_cpu_used_for the size) */
	int keyframe_interval; /* frames between automatic keyframes; 0 = only on demand */
	int recovery_interval_ms; /* the first TL0 frame at least this long (by pts) after the
	                             last keyframe or recovery point is a recovery point (see the
	                             top); 0 = none, 1 .. 10000 (forces error-resilient mode) */
};

/* The cpu-used an encoder of this size and frame rate gets when its config says 0: -2 up to
 * 1,000,000 pixels/s (320x192 at 15 fps), -4 up to 2,100,000 (480x270 at 15 fps), else
 * CODEC_VP8_CPU_USED_DEFAULT. -2 and -4 keep the encoder near 5 % of one core or less at the
 * sizes they get; -6 above as before (720p30: ~15 %). */
int codec_vp8_cpu_used_for(int width, int height, int fps_num, int fps_den);

/* Share (%) of the stream's bitrate the encoder gives the base temporal layer (TL0) with this
 * many layers: 100, 60 (WebRTC's split) or 40 (cumulative 40/60/100 for 3 layers). */
unsigned codec_vp8_base_layer_pct(int layers);

/* One encoded frame. `data` belongs to the encoder: valid until its next encode or free. */
struct codec_vp8_packet {
	const uint8_t *data;
	size_t len;
	int64_t pts; /* the input picture's timestamp (90 kHz) */
	int width;
	int height;
	bool keyframe;
	int temporal_id;   /* 0 .. layers-1 */
	bool layer_sync;   /* RFC 7741 Y bit: references TL0 frames only (true for TL0 frames) */
	uint8_t tl0picidx; /* TL0PICIDX of the TL0 frame this one belongs to */
	bool droppable;    /* no later frame references this one */
	bool recovery;     /* a recovery point (see the top): references only ALTREF, which holds */
	uint8_t recovery_ref; /* the TL0 frame with this TL0PICIDX (the previous recovery point or
	                         keyframe); refreshes every buffer */
};

/* Decoded picture; `pic` planes belong to the decoder, valid until its next decode or free. */
struct codec_vp8_picture {
	struct codec_i420 pic;
	bool keyframe;
	bool corrupted; /* ask the sender for a keyframe */
};

struct codec_vp8_enc;
struct codec_vp8_dec;

/* Message for a CODEC_VP8_* code or a negated errno. Never NULL; static. */
const char *codec_vp8_strerror(int err);

/* Checks a configuration without creating anything: 0 or -EINVAL. */
int codec_vp8_enc_config_check(const struct codec_vp8_enc_config *cfg)
        __attribute__((warn_unused_result));

/* Creates an encoder. Errors: -EINVAL (config out of range), CODEC_VP8_EINIT, -ENOMEM. */
int codec_vp8_enc_new(struct codec_vp8_enc **out, const struct codec_vp8_enc_config *cfg)
        __attribute__((warn_unused_result));
/* NULL is fine. */
void codec_vp8_enc_free(struct codec_vp8_enc *e);

/* Applies a new configuration for the next frame (see the top of this file). Uses libvpx's
 * vpx_codec_enc_config_set; if libvpx refuses the change in place (it cannot grow a picture
 * beyond its first size in every version) the encoder is re-created. On error the old
 * configuration stays in force. Errors: -EINVAL, CODEC_VP8_EINIT, -ENOMEM. */
int codec_vp8_enc_reconfigure(struct codec_vp8_enc *e, const struct codec_vp8_enc_config *cfg)
        __attribute__((warn_unused_result));
/* The configuration in force. */
const struct codec_vp8_enc_config *codec_vp8_enc_config(const struct codec_vp8_enc *e);

/* Makes the next encoded frame a keyframe (on the TL0 slot: the layer pattern restarts). */
void codec_vp8_enc_request_keyframe(struct codec_vp8_enc *e);

/* Encodes `pic` (the configured width and height) taken at `pts` (90 kHz, increasing).
 * Returns 1 with *pkt filled, 0 if rate control dropped the frame (the layer pattern still
 * advances), or CODEC_VP8_ESIZE, -EINVAL (pts not increasing), CODEC_VP8_EENCODE, -ENOMEM. */
int codec_vp8_enc_encode(struct codec_vp8_enc *e, const struct codec_i420 *pic, int64_t pts,
                         struct codec_vp8_packet *pkt) __attribute__((warn_unused_result));

/* Creates a decoder using `threads` threads (1 .. 4; 0 = 1). Errors: CODEC_VP8_EINIT, -ENOMEM,
 * -EINVAL. */
int codec_vp8_dec_new(struct codec_vp8_dec **out, int threads) __attribute__((warn_unused_result));
/* NULL is fine. */
void codec_vp8_dec_free(struct codec_vp8_dec *d);

/* Decodes one frame of `len` bytes. Returns 1 with *out filled, 0 if the frame produced no
 * picture (libvpx shows nothing for it), or CODEC_VP8_EDECODE (then, until an intact keyframe
 * arrives, every picture is reported corrupted and codec_vp8_dec_needs_keyframe is true),
 * -EINVAL (len 0 or above 16 MiB). */
int codec_vp8_dec_decode(struct codec_vp8_dec *d, const uint8_t *data, size_t len,
                         struct codec_vp8_picture *out) __attribute__((warn_unused_result));
/* True after a decode error or a corrupted frame, until an intact keyframe has been decoded. */
bool codec_vp8_dec_needs_keyframe(const struct codec_vp8_dec *d);
/* Tells the decoder a frame was lost (e.g. an RTP sequence gap): later pictures are reported
 * corrupted until an intact keyframe, as they are predicted from a picture we do not have. */
void codec_vp8_dec_frame_lost(struct codec_vp8_dec *d);

/* Reads the keyframe bit and, for a keyframe, the picture size from a VP8 frame's first bytes
 * (RFC 6386 §9.1). Returns 1 for a keyframe (*w, *h set), 0 for an inter frame,
 * CODEC_VP8_EDECODE if the bytes are not a plausible VP8 frame. Bounded; never reads past len. */
int codec_vp8_frame_peek(const uint8_t *data, size_t len, int *w, int *h)
        __attribute__((warn_unused_result));

#endif
