/* bench/bench_opus.c — Opus encode and decode speed on one core, as a realtime factor.
 *
 * Speech: jfk_16k_mono.wav (11 s, $VECTORS or ../shared/vectors) resampled to 48 kHz mono with
 * speexdsp, the format the live path encodes; 20 ms frames, complexity as shipped (the
 * codec_opus_enc_config_default value), FEC off. Each measurement loops over the clip until
 * at least 1.5 s of CPU time has passed and divides audio seconds by this thread's CPU seconds
 * (CLOCK_THREAD_CPUTIME_ID: one core, insensitive to other load on the machine).
 * Anchor: realtime = 1.0x. Target (issue 4): encode >= 200x realtime, reported for the shipped
 * complexity and for complexity 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/opus.h"
#include "codec/resample.h"
#include "codec/wav.h"

#define TARGET_ENCODE_RT 200.0
#define MIN_CPU_S        1.5
/* Also measured: the complexity at which libopus's SILK drops delayed-decision quantisation and
 * uses its cheapest pitch search, to show the cost of the shipped setting. */
#define FAST_COMPLEXITY 1

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct clip {
	int16_t *pcm; /* 48 kHz mono */
	size_t frames;
};

static int load(struct clip *c)
{
	const char *dir = getenv("VECTORS");
	char path[4096];
	struct codec_wav_info info;
	int16_t *pcm = NULL;
	int ret;

	snprintf(path, sizeof path, "%s/media/jfk_16k_mono.wav", dir ? dir : "../shared/vectors");
	if ((ret = codec_wav_read_file(path, &info, &pcm)) != 0) {
		fprintf(stderr, "bench_opus: %s: %s\n", path, codec_wav_strerror(ret));
		return ret;
	}
	ret = codec_resample_buffer(pcm, info.frames, info.channels, info.sample_rate, 48000,
	                            CODEC_RESAMPLE_QUALITY_DEFAULT, &c->pcm, &c->frames);
	free(pcm);
	if (ret != 0)
		fprintf(stderr, "bench_opus: resample: %s\n", codec_resample_strerror(ret));
	return ret;
}

struct result {
	double enc_rt, dec_rt;
	double kbps;
};

static int run(const struct clip *c, unsigned bps, unsigned complexity, bool decode,
               struct result *res)
{
	struct codec_opus_enc_config cfg;
	struct codec_opus_enc *e = NULL;
	struct codec_opus_dec *d = NULL;
	uint8_t(*pkts)[CODEC_OPUS_PACKET_MAX] = NULL;
	size_t *lens = NULL, frame, n, bytes = 0, passes = 0;
	int16_t out[CODEC_OPUS_FRAME_MAX];
	double t0, cpu, audio_s;
	int ret;

	codec_opus_enc_config_default(&cfg);
	cfg.bitrate_bps = bps;
	cfg.frame_ms = 20;
	cfg.complexity = complexity;
	if ((ret = codec_opus_enc_new(&e, &cfg)) != 0 || (ret = codec_opus_dec_new(&d, 48000, 1)))
		goto out;
	frame = codec_opus_enc_frame_samples(e);
	n = c->frames / frame;
	pkts = malloc(n * sizeof *pkts);
	lens = malloc(n * sizeof *lens);
	if (!pkts || !lens) {
		ret = -ENOMEM;
		goto out;
	}

	t0 = cpu_now();
	do {
		for (size_t i = 0; i < n; i++) {
			if ((ret = codec_opus_enc_encode(e, c->pcm + i * frame, pkts[i],
			                                 CODEC_OPUS_PACKET_MAX, &lens[i])) != 0)
				goto out;
			if (!passes)
				bytes += lens[i];
		}
		passes++;
	} while ((cpu = cpu_now() - t0) < MIN_CPU_S);
	audio_s = (double)(passes * n * frame) / 48000;
	res->enc_rt = audio_s / cpu;
	res->kbps = bytes * 8.0 / ((double)(n * frame) / 48000) / 1000;

	res->dec_rt = 0;
	if (!decode) {
		ret = 0;
		goto out;
	}
	passes = 0;
	t0 = cpu_now();
	do {
		for (size_t i = 0; i < n; i++) {
			size_t got;

			if ((ret = codec_opus_dec_decode(d, pkts[i], lens[i], out,
			                                 CODEC_OPUS_FRAME_MAX, &got)) != 0)
				goto out;
		}
		passes++;
	} while ((cpu = cpu_now() - t0) < MIN_CPU_S);
	audio_s = (double)(passes * n * frame) / 48000;
	res->dec_rt = audio_s / cpu;
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "bench_opus: %s\n", codec_opus_strerror(ret));
	codec_opus_enc_free(e);
	codec_opus_dec_free(d);
	free(pkts);
	free(lens);
	return ret;
}

int main(void)
{
	static const unsigned rates[] = {16000, 32000};
	struct codec_opus_enc_config def;
	struct clip c;

	if (load(&c) != 0)
		return 1;
	codec_opus_enc_config_default(&def);
	for (size_t i = 0; i < 2; i++) {
		struct result r, fast;

		if (run(&c, rates[i], def.complexity, true, &r) != 0 ||
		    run(&c, rates[i], FAST_COMPLEXITY, false, &fast) != 0)
			return 1;
		fprintf(stderr,
		        "opus %u bit/s (actual %.1f kbit/s): encode %.0fx (complexity %u: %.0fx), "
		        "decode %.0fx\n",
		        rates[i], r.kbps, r.enc_rt, FAST_COMPLEXITY, fast.enc_rt, r.dec_rt);
		printf("ROW\topus encode %u kbit/s, 48 kHz mono speech, 20 ms, complexity %u "
		       "(shipped), 1 core\t%.0fx realtime\trealtime\t1.0x\t%.0f\n",
		       rates[i] / 1000, def.complexity, r.enc_rt, r.enc_rt);
		printf("ROW\topus encode %u kbit/s, complexity %u, vs issue-4 target\t%.0fx "
		       "realtime\ttarget\t%.0fx realtime\t%.2f\n",
		       rates[i] / 1000, def.complexity, r.enc_rt, TARGET_ENCODE_RT,
		       r.enc_rt / TARGET_ENCODE_RT);
		printf("ROW\topus encode %u kbit/s, complexity %u, vs issue-4 target\t%.0fx "
		       "realtime\ttarget\t%.0fx realtime\t%.2f\n",
		       rates[i] / 1000, FAST_COMPLEXITY, fast.enc_rt, TARGET_ENCODE_RT,
		       fast.enc_rt / TARGET_ENCODE_RT);
		printf("ROW\topus decode %u kbit/s, 48 kHz mono speech, 20 ms, 1 core\t%.0fx "
		       "realtime\trealtime\t1.0x\t%.0f\n",
		       rates[i] / 1000, r.dec_rt, r.dec_rt);
	}
	free(c.pcm);
	return 0;
}
