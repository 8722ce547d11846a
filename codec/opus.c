/* codec/opus.c — Opus encoder/decoder objects on libopus. */
#include "codec/opus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

struct codec_opus_enc {
	OpusEncoder *enc;
	struct codec_opus_enc_config cfg;
};

struct codec_opus_dec {
	OpusDecoder *dec;
	unsigned rate;
	unsigned channels;
	size_t last_samples;
	bool last_celt; /* last packet decoded was CELT-only: libopus then cannot use FEC */
	struct codec_opus_dec_stats stats;
};

const char *codec_opus_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_OPUS_ELIB:
		return "opus: libopus internal error";
	case CODEC_OPUS_ERATE:
		return "opus: sample rate must be 8000, 12000, 16000, 24000 or 48000 Hz";
	case CODEC_OPUS_ECHAN:
		return "opus: channels must be 1 or 2";
	case CODEC_OPUS_EBITRATE:
		return "opus: bitrate must be 6000..64000 bit/s";
	case CODEC_OPUS_EFRAME:
		return "opus: frame size must be 10, 20, 40 or 60 ms";
	case CODEC_OPUS_ELOSS:
		return "opus: expected loss must be 0..100 %";
	case CODEC_OPUS_ECOMPLEX:
		return "opus: complexity must be 0..10";
	case CODEC_OPUS_EPACKET:
		return "opus: corrupt or invalid packet";
	case CODEC_OPUS_ESPACE:
		return "opus: output buffer too small";
	case CODEC_OPUS_ERECONF:
		return "opus: sample rate and channels cannot change on a live encoder";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "opus: unknown error";
	}
}

static bool rate_ok(unsigned rate)
{
	return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

void codec_opus_enc_config_default(struct codec_opus_enc_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->sample_rate = 48000;
	cfg->channels = 1;
	cfg->bitrate_bps = 24000;
	cfg->frame_ms = 20;
	cfg->fec = false;
	cfg->expected_loss_pct = 0;
	cfg->dtx = false;
	cfg->complexity = 5;
}

int codec_opus_enc_config_check(const struct codec_opus_enc_config *cfg)
{
	if (!cfg)
		return -EINVAL;
	if (!rate_ok(cfg->sample_rate))
		return CODEC_OPUS_ERATE;
	if (cfg->channels != 1 && cfg->channels != 2)
		return CODEC_OPUS_ECHAN;
	if (cfg->bitrate_bps < CODEC_OPUS_BITRATE_MIN || cfg->bitrate_bps > CODEC_OPUS_BITRATE_MAX)
		return CODEC_OPUS_EBITRATE;
	if (cfg->frame_ms != 10 && cfg->frame_ms != 20 && cfg->frame_ms != 40 &&
	    cfg->frame_ms != 60)
		return CODEC_OPUS_EFRAME;
	if (cfg->expected_loss_pct > 100)
		return CODEC_OPUS_ELOSS;
	if (cfg->complexity > CODEC_OPUS_COMPLEXITY_MAX)
		return CODEC_OPUS_ECOMPLEX;
	return 0;
}

static int frame_duration_ctl(unsigned ms)
{
	switch (ms) {
	case 10:
		return OPUS_FRAMESIZE_10_MS;
	case 20:
		return OPUS_FRAMESIZE_20_MS;
	case 40:
		return OPUS_FRAMESIZE_40_MS;
	default:
		return OPUS_FRAMESIZE_60_MS;
	}
}

/* Applies every run-time setting of cfg to a libopus encoder. */
static int enc_apply(OpusEncoder *enc, const struct codec_opus_enc_config *cfg)
{
	if (opus_encoder_ctl(enc, OPUS_SET_BITRATE((opus_int32)cfg->bitrate_bps)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_EXPERT_FRAME_DURATION(
	                                  frame_duration_ctl(cfg->frame_ms))) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC((int)cfg->expected_loss_pct)) !=
	            OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_DTX(cfg->dtx ? 1 : 0)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY((int)cfg->complexity)) != OPUS_OK)
		return CODEC_OPUS_ELIB;
	return 0;
}

int codec_opus_enc_new(struct codec_opus_enc **out, const struct codec_opus_enc_config *cfg)
{
	struct codec_opus_enc *e = NULL;
	int ret, oerr = OPUS_OK;

	if (!out)
		return -EINVAL;
	if ((ret = codec_opus_enc_config_check(cfg)) != 0)
		return ret;
	if (!(e = calloc(1, sizeof *e))) {
		ret = -ENOMEM;
		goto out;
	}
	e->cfg = *cfg;
	e->enc = opus_encoder_create((opus_int32)cfg->sample_rate, (int)cfg->channels,
	                             OPUS_APPLICATION_VOIP, &oerr);
	if (!e->enc) {
		ret = oerr == OPUS_ALLOC_FAIL ? -ENOMEM : CODEC_OPUS_ELIB;
		goto out;
	}
	/* Speech is what the clinic sends; telling the encoder saves it guessing at start-up. */
	if (opus_encoder_ctl(e->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK) {
		ret = CODEC_OPUS_ELIB;
		goto out;
	}
	if ((ret = enc_apply(e->enc, cfg)) != 0)
		goto out;
	*out = e;
	e = NULL;
	ret = 0;
out:
	codec_opus_enc_free(e);
	return ret;
}

void codec_opus_enc_free(struct codec_opus_enc *e)
{
	if (!e)
		return;
	if (e->enc)
		opus_encoder_destroy(e->enc);
	free(e);
}

int codec_opus_enc_set(struct codec_opus_enc *e, const struct codec_opus_enc_config *cfg)
{
	int ret;

	if (!e)
		return -EINVAL;
	if ((ret = codec_opus_enc_config_check(cfg)) != 0)
		return ret;
	if (cfg->sample_rate != e->cfg.sample_rate || cfg->channels != e->cfg.channels)
		return CODEC_OPUS_ERECONF;
	if ((ret = enc_apply(e->enc, cfg)) != 0) {
		/* Put the previous settings back so that "nothing changes" holds on error. */
		(void)enc_apply(e->enc, &e->cfg);
		return ret;
	}
	e->cfg = *cfg;
	return 0;
}

void codec_opus_enc_get(const struct codec_opus_enc *e, struct codec_opus_enc_config *cfg)
{
	*cfg = e->cfg;
}

size_t codec_opus_enc_frame_samples(const struct codec_opus_enc *e)
{
	return (size_t)e->cfg.sample_rate * e->cfg.frame_ms / 1000;
}

size_t codec_opus_enc_delay(const struct codec_opus_enc *e)
{
	opus_int32 la = 0;

	if (opus_encoder_ctl(e->enc, OPUS_GET_LOOKAHEAD(&la)) != OPUS_OK || la < 0)
		return 0;
	return (size_t)la;
}

int codec_opus_enc_encode(struct codec_opus_enc *e, const int16_t *pcm, uint8_t *pkt, size_t cap,
                          size_t *pkt_len)
{
	opus_int32 n;

	if (!e || !pcm || !pkt || !pkt_len)
		return -EINVAL;
	if (cap < 3)
		return CODEC_OPUS_ESPACE;
	if (cap > CODEC_OPUS_PACKET_MAX * 4)
		cap = CODEC_OPUS_PACKET_MAX * 4;
	n = opus_encode(e->enc, pcm, (int)codec_opus_enc_frame_samples(e), pkt, (opus_int32)cap);
	if (n == OPUS_BUFFER_TOO_SMALL)
		return CODEC_OPUS_ESPACE;
	if (n < 0)
		return CODEC_OPUS_ELIB;
	*pkt_len = (size_t)n;
	return 0;
}

int codec_opus_dec_new(struct codec_opus_dec **out, unsigned sample_rate, unsigned channels)
{
	struct codec_opus_dec *d = NULL;
	int ret, oerr = OPUS_OK;

	if (!out)
		return -EINVAL;
	if (!rate_ok(sample_rate))
		return CODEC_OPUS_ERATE;
	if (channels != 1 && channels != 2)
		return CODEC_OPUS_ECHAN;
	if (!(d = calloc(1, sizeof *d))) {
		ret = -ENOMEM;
		goto out;
	}
	d->rate = sample_rate;
	d->channels = channels;
	d->dec = opus_decoder_create((opus_int32)sample_rate, (int)channels, &oerr);
	if (!d->dec) {
		ret = oerr == OPUS_ALLOC_FAIL ? -ENOMEM : CODEC_OPUS_ELIB;
		goto out;
	}
	*out = d;
	d = NULL;
	ret = 0;
out:
	codec_opus_dec_free(d);
	return ret;
}

void codec_opus_dec_free(struct codec_opus_dec *d)
{
	if (!d)
		return;
	if (d->dec)
		opus_decoder_destroy(d->dec);
	free(d);
}

int codec_opus_packet_samples(const uint8_t *pkt, size_t len, unsigned sample_rate)
{
	const unsigned char *frames[48];
	opus_int16 size[48];
	int n;

	if (!pkt || len == 0 || len > INT32_MAX || !rate_ok(sample_rate))
		return CODEC_OPUS_EPACKET;
	/* opus_packet_get_nb_samples only reads the TOC and frame count; opus_packet_parse checks
	 * the whole framing (frame count, lengths, padding) against len. */
	if (opus_packet_parse(pkt, (opus_int32)len, NULL, frames, size, NULL) <= 0)
		return CODEC_OPUS_EPACKET;
	n = opus_packet_get_nb_samples(pkt, (opus_int32)len, (opus_int32)sample_rate);
	if (n <= 0 || n > CODEC_OPUS_PACKET_SAMPLES_MAX)
		return CODEC_OPUS_EPACKET;
	return n;
}

int codec_opus_dec_decode(struct codec_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                          size_t cap, size_t *out_samples)
{
	int n;

	if (!d || !pkt || len == 0 || !pcm || !out_samples)
		return -EINVAL;
	/* Check the packet's duration against cap first: libopus would otherwise reject it with
	 * the same code as a corrupt packet, and we want the two told apart. */
	n = codec_opus_packet_samples(pkt, len, d->rate);
	if (n < 0)
		return n;
	if ((size_t)n > cap)
		return CODEC_OPUS_ESPACE;
	if (cap > (size_t)n)
		cap = (size_t)n;
	n = opus_decode(d->dec, pkt, (opus_int32)len, pcm, (int)cap, 0);
	if (n == OPUS_BUFFER_TOO_SMALL)
		return CODEC_OPUS_ESPACE;
	if (n < 0)
		return n == OPUS_ALLOC_FAIL ? -ENOMEM : CODEC_OPUS_EPACKET;
	d->last_samples = (size_t)n;
	d->last_celt = (pkt[0] >> 3) >= 16;
	d->stats.decoded++;
	*out_samples = (size_t)n;
	return 0;
}

bool codec_opus_packet_has_fec(const uint8_t *pkt, size_t len)
{
	const unsigned char *frames[48];
	opus_int16 size[48];
	unsigned char toc;
	int nframes, per_frame, silk_frames, bit;
	bool lbrr;

	if (!pkt || len == 0 || len > INT32_MAX)
		return false;
	/* TOC configs 0..11 are SILK-only, 12..15 hybrid: both carry a SILK layer that may hold
	 * LBRR. 16..31 are CELT-only: no FEC (RFC 6716 §3.1). */
	if ((pkt[0] >> 3) >= 16)
		return false;
	nframes = opus_packet_parse(pkt, (opus_int32)len, &toc, frames, size, NULL);
	if (nframes <= 0 || size[0] == 0)
		return false;
	/* Mirrors opus_packet_has_lbrr() of libopus 1.5 (not in Debian 12's 1.3.1): an Opus frame
	 * of 40 or 60 ms holds 2 or 3 SILK frames; the SILK layer starts with one VAD bit per SILK
	 * frame then the LBRR flag, each coded with probability 1/2, so they are the top bits of
	 * the first byte (RFC 6716 §4.2.3). Stereo adds the side channel's VAD+LBRR bits. */
	per_frame = opus_packet_get_samples_per_frame(pkt, 48000);
	silk_frames = per_frame > 960 ? per_frame / 960 : 1;
	bit = 7 - silk_frames;
	lbrr = (frames[0][0] >> bit) & 1;
	if (!lbrr && opus_packet_get_nb_channels(pkt) == 2)
		lbrr = (frames[0][0] >> (6 - 2 * silk_frames)) & 1;
	return lbrr;
}

int codec_opus_dec_lost(struct codec_opus_dec *d, const uint8_t *next, size_t len, size_t samples,
                        int16_t *pcm, size_t cap, size_t *out_samples, bool *recovered)
{
	size_t max, quantum;
	bool fec = false;
	int n;

	if (!d || !pcm || !out_samples)
		return -EINVAL;
	max = (size_t)CODEC_OPUS_PACKET_SAMPLES_MAX * d->rate / 48000;
	quantum = d->rate / 400; /* 2.5 ms */
	if (samples == 0 || samples > max || samples % quantum)
		return -EINVAL;
	if (cap < samples)
		return CODEC_OPUS_ESPACE;
	if (next) {
		if (len == 0 || codec_opus_packet_samples(next, len, d->rate) < 0)
			return CODEC_OPUS_EPACKET;
		/* libopus 1.3 (opus_decode_native) falls back to concealment when the gap is
		 * shorter than the next packet's frames or the last decoded packet was CELT-only.
		 */
		fec = codec_opus_packet_has_fec(next, len) && !d->last_celt &&
		      samples >=
		              (size_t)opus_packet_get_samples_per_frame(next, (opus_int32)d->rate);
	}
	/* Without usable FEC data decode_fec=1 would silently conceal instead; calling the PLC
	 * directly keeps the counters honest. */
	if (fec)
		n = opus_decode(d->dec, next, (opus_int32)len, pcm, (int)samples, 1);
	else
		n = opus_decode(d->dec, NULL, 0, pcm, (int)samples, 0);
	if (n < 0)
		return fec ? CODEC_OPUS_EPACKET : CODEC_OPUS_ELIB;
	if (fec) {
		d->stats.recovered++;
		d->last_celt = false;
	} else {
		d->stats.concealed++;
	}
	d->last_samples = (size_t)n;
	*out_samples = (size_t)n;
	if (recovered)
		*recovered = fec;
	return 0;
}

size_t codec_opus_dec_last_samples(const struct codec_opus_dec *d)
{
	return d->last_samples;
}

void codec_opus_dec_stats_get(const struct codec_opus_dec *d, struct codec_opus_dec_stats *st)
{
	*st = d->stats;
}
