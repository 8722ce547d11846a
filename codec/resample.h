/* codec/resample.h — sample-rate conversion of s16 PCM with libspeexdsp's resampler.
 *
 * Used to bring WAV input at rates Opus cannot take (11025, 22050, 32000, 44100 Hz, ...) to an
 * Opus rate, and Opus output back to a file's rate. Two ways in:
 *  - a streaming object (codec_resampler_*) for live audio, which keeps filter state between
 *    calls (output lags input by the filter delay, codec_resampler_latency);
 *  - codec_resample_buffer() for a whole signal, which compensates that delay so that output
 *    sample k lines up with input time k / out_rate and the length is exactly
 *    round(frames * out_rate / in_rate).
 * Interleaved int16_t, counts in sample frames (samples per channel).
 * Errors: -EINVAL (bad argument), -ENOMEM, CODEC_RESAMPLE_ELIB. codec_resample_strerror().
 */
#ifndef PIROGUE_CODEC_RESAMPLE_H
#define PIROGUE_CODEC_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CODEC_RESAMPLE_RATE_MIN        1000
#define CODEC_RESAMPLE_RATE_MAX        192000
#define CODEC_RESAMPLE_QUALITY_DEFAULT 5 /* speexdsp 0..10; 5 is its "VoIP" default */
#define CODEC_RESAMPLE_CHANNELS_MAX    8

#define CODEC_RESAMPLE_ELIB (ERR_BASE_CODEC - 160) /* speexdsp reported an error */

struct codec_resampler;

/* Message for CODEC_RESAMPLE_ELIB, a negated errno, or any other int. Never NULL; static. */
const char *codec_resample_strerror(int err);

/* The Opus sample rate to encode a signal sampled at in_rate with: in_rate itself if Opus takes
 * it (8000, 12000, 16000, 24000, 48000), else the smallest Opus rate above it (so no band is
 * lost: 11025 -> 12000, 22050 -> 24000, 32000/44100 -> 48000), 48000 above 48 kHz. */
unsigned codec_resample_opus_rate(unsigned in_rate);

/* Creates a streaming resampler from in_rate to out_rate (both CODEC_RESAMPLE_RATE_MIN..MAX)
 * for `channels` (1..CODEC_RESAMPLE_CHANNELS_MAX) at `quality` 0..10.
 * *out written only on success. Errors: -EINVAL, -ENOMEM, CODEC_RESAMPLE_ELIB. */
int codec_resampler_new(struct codec_resampler **out, unsigned channels, unsigned in_rate,
                        unsigned out_rate, int quality) __attribute__((warn_unused_result));

/* Frees the resampler; NULL is fine. */
void codec_resampler_free(struct codec_resampler *r);

/* Converts up to in_frames frames from in (NULL = that many frames of silence, used to flush)
 * into out (capacity out_cap frames). Sets *in_used to the frames consumed and *out_frames to
 * the frames produced; call again with the rest of the input if *in_used < in_frames (output
 * was full). Errors: -EINVAL, CODEC_RESAMPLE_ELIB. */
int codec_resampler_process(struct codec_resampler *r, const int16_t *in, size_t in_frames,
                            size_t *in_used, int16_t *out, size_t out_cap, size_t *out_frames)
        __attribute__((warn_unused_result));

/* Filter delay of the streaming resampler, in output frames. */
size_t codec_resampler_latency(const struct codec_resampler *r);

/* Resamples a whole signal of `frames` frames, delay-compensated (see above). *out is malloc'd
 * (caller frees; NULL when *out_frames is 0). in_rate == out_rate makes a plain copy.
 * Errors: -EINVAL, -ENOMEM, CODEC_RESAMPLE_ELIB. */
int codec_resample_buffer(const int16_t *in, size_t frames, unsigned channels, unsigned in_rate,
                          unsigned out_rate, int quality, int16_t **out, size_t *out_frames)
        __attribute__((warn_unused_result));

#endif
