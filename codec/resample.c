/* codec/resample.c — libspeexdsp resampler wrapper. */
#include "codec/resample.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <speex/speex_resampler.h>

struct codec_resampler {
	SpeexResamplerState *st;
	unsigned channels;
	unsigned in_rate, out_rate;
};

/* Chunk size for feeding speexdsp (its lengths are 32-bit) and for flushing with silence. */
#define CHUNK 4096

const char *codec_resample_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_RESAMPLE_ELIB:
		return "resample: speexdsp resampler error";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "resample: unknown error";
	}
}

unsigned codec_resample_opus_rate(unsigned in_rate)
{
	static const unsigned rates[] = {8000, 12000, 16000, 24000, 48000};

	for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
		if (in_rate <= rates[i])
			return rates[i];
	return 48000;
}

static bool args_ok(unsigned channels, unsigned in_rate, unsigned out_rate, int quality)
{
	return channels >= 1 && channels <= CODEC_RESAMPLE_CHANNELS_MAX &&
	       in_rate >= CODEC_RESAMPLE_RATE_MIN && in_rate <= CODEC_RESAMPLE_RATE_MAX &&
	       out_rate >= CODEC_RESAMPLE_RATE_MIN && out_rate <= CODEC_RESAMPLE_RATE_MAX &&
	       quality >= 0 && quality <= 10;
}

int codec_resampler_new(struct codec_resampler **out, unsigned channels, unsigned in_rate,
                        unsigned out_rate, int quality)
{
	struct codec_resampler *r;
	int err = RESAMPLER_ERR_SUCCESS;

	if (!out || !args_ok(channels, in_rate, out_rate, quality))
		return -EINVAL;
	if (!(r = calloc(1, sizeof *r)))
		return -ENOMEM;
	r->st = speex_resampler_init(channels, in_rate, out_rate, quality, &err);
	if (!r->st) {
		free(r);
		return err == RESAMPLER_ERR_ALLOC_FAILED ? -ENOMEM : CODEC_RESAMPLE_ELIB;
	}
	r->channels = channels;
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	*out = r;
	return 0;
}

void codec_resampler_free(struct codec_resampler *r)
{
	if (!r)
		return;
	if (r->st)
		speex_resampler_destroy(r->st);
	free(r);
}

int codec_resampler_process(struct codec_resampler *r, const int16_t *in, size_t in_frames,
                            size_t *in_used, int16_t *out, size_t out_cap, size_t *out_frames)
{
	size_t used = 0, made = 0;

	if (!r || !in_used || !out_frames || (!out && out_cap > 0))
		return -EINVAL;
	while (used < in_frames && made < out_cap) {
		spx_uint32_t ilen =
		        (spx_uint32_t)(in_frames - used > CHUNK ? CHUNK : in_frames - used);
		spx_uint32_t olen =
		        (spx_uint32_t)(out_cap - made > UINT32_MAX / 2 ? UINT32_MAX / 2
		                                                       : out_cap - made);
		int err = speex_resampler_process_interleaved_int(
		        r->st, in ? in + used * r->channels : NULL, &ilen, out + made * r->channels,
		        &olen);

		if (err != RESAMPLER_ERR_SUCCESS)
			return CODEC_RESAMPLE_ELIB;
		if (ilen == 0 && olen == 0)
			break;
		used += ilen;
		made += olen;
	}
	*in_used = used;
	*out_frames = made;
	return 0;
}

size_t codec_resampler_latency(const struct codec_resampler *r)
{
	return (size_t)speex_resampler_get_output_latency(r->st);
}

int codec_resample_buffer(const int16_t *in, size_t frames, unsigned channels, unsigned in_rate,
                          unsigned out_rate, int quality, int16_t **out, size_t *out_frames)
{
	struct codec_resampler *r = NULL;
	int16_t *buf = NULL;
	size_t want, made = 0, used = 0;
	unsigned stalls = 0;
	int ret;

	if (!out || !out_frames || (!in && frames > 0) ||
	    !args_ok(channels, in_rate, out_rate, quality))
		return -EINVAL;
	/* Bounds frames * out_rate and the output allocation below SIZE_MAX. */
	if (frames > SIZE_MAX / CODEC_RESAMPLE_RATE_MAX / channels / sizeof(int16_t))
		return -EINVAL;
	want = (frames * out_rate + in_rate / 2) / in_rate;
	if (want == 0) {
		*out = NULL;
		*out_frames = 0;
		return 0;
	}
	if (!(buf = malloc(want * channels * sizeof *buf))) {
		ret = -ENOMEM;
		goto out;
	}
	if (in_rate == out_rate) {
		memcpy(buf, in, want * channels * sizeof *buf);
		made = want;
	} else {
		if ((ret = codec_resampler_new(&r, channels, in_rate, out_rate, quality)) != 0)
			goto out;
		/* Drops the filter's initial delay so output sample 0 is input time 0. */
		speex_resampler_skip_zeros(r->st);
		while (made < want) {
			size_t u = 0, m = 0;
			bool flushing = used >= frames;

			/* After the input, silence pushes the last samples out of the filter. */
			ret = codec_resampler_process(r, flushing ? NULL : in + used * channels,
			                              flushing ? CHUNK : frames - used, &u,
			                              buf + made * channels, want - made, &m);
			if (ret != 0)
				goto out;
			if (!flushing)
				used += u;
			made += m;
			if (u == 0 && m == 0 && ++stalls > 4) {
				ret = CODEC_RESAMPLE_ELIB;
				goto out;
			}
		}
	}
	*out = buf;
	*out_frames = want;
	buf = NULL;
	ret = 0;
out:
	codec_resampler_free(r);
	free(buf);
	return ret;
}
