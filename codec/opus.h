/* codec/opus.h — Opus speech encoder and decoder objects (libopus, RFC 6716 / RFC 7587).
 *
 * The encoder is set up for live speech: OPUS_APPLICATION_VOIP, 48 kHz RTP clock (RFC 7587
 * always counts 48 kHz), mono or stereo, frame sizes 10/20/40/60 ms (longer frames pay the
 * ~64 bytes of per-packet IPv4+UDP+tunnel+RTP overhead less often), bitrate 6–64 kbit/s,
 * in-band FEC (LBRR) tuned by the expected loss percentage, DTX and complexity. Every setting
 * can change between two frames (codec_opus_enc_set) without recreating the encoder.
 *
 * The decoder turns packets back into PCM and, for a packet that never arrived, either
 * conceals it (PLC) or — when the following packet carries in-band FEC data — rebuilds it from
 * that FEC (opus_decode with decode_fec=1). It counts decoded, concealed and recovered frames.
 *
 * PCM is interleaved signed 16-bit native-endian at the object's sample rate, which must be one
 * of Opus's native rates (8000, 12000, 16000, 24000, 48000 Hz); convert other rates with
 * codec/resample.h first. Sample counts in this API are always per channel ("frames" in the
 * audio sense): 20 ms at 48 kHz is 960 samples whether mono or stereo.
 *
 * Error codes of this file: CODEC_OPUS_E* (range -2100 .. -2119 inside ERR_BASE_CODEC), plus
 * -EINVAL for a bad argument and -ENOMEM. codec_opus_strerror() maps any of them to text.
 * Neither object is thread-safe; distinct objects may be used from distinct threads.
 */
#ifndef PIROGUE_CODEC_OPUS_H
#define PIROGUE_CODEC_OPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CODEC_OPUS_RTP_RATE       48000 /* RTP timestamp clock for Opus (RFC 7587) */
#define CODEC_OPUS_BITRATE_MIN    6000  /* bit/s, accepted by codec_opus_enc_new/_set */
#define CODEC_OPUS_BITRATE_MAX    64000 /* bit/s */
#define CODEC_OPUS_COMPLEXITY_MAX 10
/* Largest packet the encoder can produce into a buffer of this size for any setting above
 * (RFC 6716 caps one frame at 1275 bytes; 60 ms at 64 kbit/s is 480 bytes). */
#define CODEC_OPUS_PACKET_MAX 1500
/* Samples per channel in the longest frame (60 ms) at 48 kHz: the PCM capacity a decoder
 * output buffer needs per channel. (120 ms packets from a foreign encoder need twice this.) */
#define CODEC_OPUS_FRAME_MAX          2880
#define CODEC_OPUS_PACKET_SAMPLES_MAX 5760 /* 120 ms at 48 kHz: longest legal Opus packet */

#define CODEC_OPUS_ELIB     (ERR_BASE_CODEC - 100) /* libopus reported an internal error */
#define CODEC_OPUS_ERATE    (ERR_BASE_CODEC - 101) /* sample rate not 8/12/16/24/48 kHz */
#define CODEC_OPUS_ECHAN    (ERR_BASE_CODEC - 102) /* channels not 1 or 2 */
#define CODEC_OPUS_EBITRATE (ERR_BASE_CODEC - 103) /* bitrate outside 6000..64000 */
#define CODEC_OPUS_EFRAME   (ERR_BASE_CODEC - 104) /* frame size not 10/20/40/60 ms */
#define CODEC_OPUS_ELOSS    (ERR_BASE_CODEC - 105) /* expected loss outside 0..100 % */
#define CODEC_OPUS_ECOMPLEX (ERR_BASE_CODEC - 106) /* complexity outside 0..10 */
#define CODEC_OPUS_EPACKET  (ERR_BASE_CODEC - 107) /* packet is corrupt or not Opus */
#define CODEC_OPUS_ESPACE   (ERR_BASE_CODEC - 108) /* output buffer too small */
#define CODEC_OPUS_ERECONF  (ERR_BASE_CODEC - 109) /* _set tried to change rate or channels */

/* Encoder settings. Fill with codec_opus_enc_config_default() and change what you need. */
struct codec_opus_enc_config {
	unsigned sample_rate; /* input PCM rate: 8000/12000/16000/24000/48000 (default 48000) */
	unsigned channels;    /* 1 or 2 (default 1) */
	unsigned bitrate_bps; /* 6000..64000 (default 24000) */
	unsigned frame_ms;    /* 10, 20, 40 or 60 (default 20) */
	bool fec;             /* in-band FEC (LBRR) on (default false) */
	unsigned
	        expected_loss_pct; /* 0..100, tells the encoder how much FEC to spend (default 0) */
	bool dtx;                  /* discontinuous transmission on silence (default false) */
	unsigned complexity;       /* 0..10 (default 5: a 2-core appliance with video too) */
};

/* Decoder counters since codec_opus_dec_new. */
struct codec_opus_dec_stats {
	uint64_t decoded;   /* packets decoded normally */
	uint64_t concealed; /* lost frames filled by packet loss concealment */
	uint64_t recovered; /* lost frames rebuilt from the next packet's in-band FEC */
};

struct codec_opus_enc;
struct codec_opus_dec;

/* Message for a CODEC_OPUS_E* code, a negated errno, or any other int. Never NULL; static. */
const char *codec_opus_strerror(int err);

/* Fills *cfg with the defaults documented in struct codec_opus_enc_config. */
void codec_opus_enc_config_default(struct codec_opus_enc_config *cfg);

/* Checks every field of *cfg. Returns 0 or the CODEC_OPUS_E* code of the first bad field. */
int codec_opus_enc_config_check(const struct codec_opus_enc_config *cfg)
        __attribute__((warn_unused_result));

/* Creates an encoder with the settings in *cfg (copied). *out is written only on success.
 * Errors: a CODEC_OPUS_E* code for a bad setting, -ENOMEM, CODEC_OPUS_ELIB. */
int codec_opus_enc_new(struct codec_opus_enc **out, const struct codec_opus_enc_config *cfg)
        __attribute__((warn_unused_result));

/* Frees the encoder; NULL is fine. */
void codec_opus_enc_free(struct codec_opus_enc *e);

/* Changes bitrate, frame size, FEC, expected loss, DTX and complexity from the next frame on.
 * sample_rate and channels must equal the encoder's (CODEC_OPUS_ERECONF otherwise). On any
 * error nothing changes. Errors: as codec_opus_enc_new, CODEC_OPUS_ERECONF. */
int codec_opus_enc_set(struct codec_opus_enc *e, const struct codec_opus_enc_config *cfg)
        __attribute__((warn_unused_result));

/* Copies the encoder's current settings into *cfg. */
void codec_opus_enc_get(const struct codec_opus_enc *e, struct codec_opus_enc_config *cfg);

/* Samples per channel the encoder takes per frame at its input rate (rate * frame_ms / 1000). */
size_t codec_opus_enc_frame_samples(const struct codec_opus_enc *e);

/* The encoder's algorithmic delay (lookahead) in samples per channel at its input rate: decoded
 * sample k + delay lines up with input sample k. Used to align decoded speech for quality
 * measurements. Returns 0 if libopus cannot tell (it always can in 1.3). */
size_t codec_opus_enc_delay(const struct codec_opus_enc *e);

/* Encodes exactly one frame: codec_opus_enc_frame_samples(e) * channels interleaved samples
 * from pcm. Writes the packet to pkt (capacity cap; CODEC_OPUS_PACKET_MAX is always enough)
 * and its length to *pkt_len. With DTX on, a packet of 1 or 2 bytes means "silence, no need
 * to transmit" (RFC 7587 §3.3); sending it anyway is harmless.
 * Errors: -EINVAL (NULL pointers), CODEC_OPUS_ESPACE (cap too small), CODEC_OPUS_ELIB. */
int codec_opus_enc_encode(struct codec_opus_enc *e, const int16_t *pcm, uint8_t *pkt, size_t cap,
                          size_t *pkt_len) __attribute__((warn_unused_result));

/* Creates a decoder producing `channels` (1 or 2) channels at `sample_rate` (an Opus rate, as
 * above). Any Opus packet (mono or stereo, any frame size) decodes on it.
 * Errors: CODEC_OPUS_ERATE, CODEC_OPUS_ECHAN, -ENOMEM, CODEC_OPUS_ELIB. */
int codec_opus_dec_new(struct codec_opus_dec **out, unsigned sample_rate, unsigned channels)
        __attribute__((warn_unused_result));

/* Frees the decoder; NULL is fine. */
void codec_opus_dec_free(struct codec_opus_dec *d);

/* Decodes one received packet into pcm (capacity cap samples per channel; a packet holds at
 * most CODEC_OPUS_PACKET_SAMPLES_MAX at 48 kHz, scaled by rate/48000) and writes the number of
 * samples per channel produced to *out_samples. Counts one "decoded".
 * Errors: -EINVAL (NULL/empty packet), CODEC_OPUS_EPACKET (corrupt packet; the decoder state
 * is unchanged, conceal the frame instead), CODEC_OPUS_ESPACE (cap smaller than the packet). */
int codec_opus_dec_decode(struct codec_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                          size_t cap, size_t *out_samples) __attribute__((warn_unused_result));

/* Fills in one lost packet of `samples` samples per channel (the lost packet's duration at the
 * decoder rate — normally the previous packet's; a multiple of 2.5 ms, at most
 * CODEC_OPUS_PACKET_SAMPLES_MAX scaled to the rate). If `next` (the packet that follows the
 * lost one, len bytes) is given and carries in-band FEC data, the lost audio is rebuilt from it
 * (counted as "recovered"); otherwise (next NULL, no FEC in it, a CELT-only packet, the last
 * packet decoded was CELT-only, or `samples` is shorter than one frame of `next` — the cases
 * where libopus cannot use FEC) the decoder conceals it (counted as "concealed"). FEC data
 * covers one Opus frame (up to 60 ms of SILK): when `samples` is longer, libopus conceals the
 * part before it and rebuilds the end. `next` is not consumed: decode it normally
 * afterwards with codec_opus_dec_decode. Writes `samples` samples per channel to pcm
 * (capacity cap) and sets *recovered (may be NULL) to whether FEC was used.
 * Errors: -EINVAL (bad samples count), CODEC_OPUS_ESPACE, CODEC_OPUS_EPACKET (next is corrupt:
 * nothing is written; call again with next = NULL to conceal). */
int codec_opus_dec_lost(struct codec_opus_dec *d, const uint8_t *next, size_t len, size_t samples,
                        int16_t *pcm, size_t cap, size_t *out_samples, bool *recovered)
        __attribute__((warn_unused_result));

/* Samples per channel of the last packet decoded or filled in (0 before the first). */
size_t codec_opus_dec_last_samples(const struct codec_opus_dec *d);

/* Copies the decoder's counters into *st. */
void codec_opus_dec_stats_get(const struct codec_opus_dec *d, struct codec_opus_dec_stats *st);

/* Number of samples per channel in packet pkt at `sample_rate`, or CODEC_OPUS_EPACKET
 * (returned as a negative value) if the packet's table of contents is invalid. */
int codec_opus_packet_samples(const uint8_t *pkt, size_t len, unsigned sample_rate)
        __attribute__((warn_unused_result));

/* True if the packet carries in-band FEC (SILK LBRR) data for the packet before it: what
 * codec_opus_dec_lost uses to tell recovery from concealment. False for corrupt, CELT-only or
 * empty packets. (libopus 1.5 has opus_packet_has_lbrr; Debian 12 ships 1.3.1.) */
bool codec_opus_packet_has_fec(const uint8_t *pkt, size_t len);

#endif
