/* bench/bench_vp8.c — VP8 encode/decode cost per ladder rung on one core, the cpu-used choice,
 * and the PSNR–bitrate curve of the talking-head reference clip.
 *
 * Times are the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) with one encoder and one
 * decoder thread, best of three runs, so other users of this shared 2-core machine inflate them
 * as little as possible. The input
 * is the talking-head clip (../shared/vectors or $VECTORS) played forwards and backwards and
 * scaled to each rung's size before the clock starts.
 *
 * Rows (ROW<TAB>metric<TAB>value<TAB>anchor<TAB>anchor value<TAB>ratio):
 *   per rung: encode ms/frame against the frame interval (ratio = share of one core), decode
 *   ms/frame likewise, and the 640x360@15 target (encode <= 25 % of one core);
 *   per cpu-used at 640x360@15: encode ms/frame and PSNR-Y (ratio = time vs the default);
 *   the PSNR–bitrate curve at 320x192@12 (ratio = achieved / target bitrate).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/ladder.h"
#include "codec/metrics.h"
#include "codec/scale.h"
#include "codec/vp8.h"
#include "codec/y4m.h"

struct clip {
	int w, h, n;
	size_t fsz;
	uint8_t *data;
};

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int clip_load(const char *path, struct clip *c)
{
	struct codec_y4m_reader *r = NULL;
	int ret;

	if ((ret = codec_y4m_reader_open(&r, path)) != 0) {
		fprintf(stderr, "bench_vp8: %s: %s\n", path, codec_y4m_last_error());
		return -1;
	}
	c->w = codec_y4m_reader_info(r)->width;
	c->h = codec_y4m_reader_info(r)->height;
	c->fsz = codec_y4m_reader_frame_size(r);
	c->n = 0;
	c->data = NULL;
	for (;;) {
		uint8_t *nd = realloc(c->data, c->fsz * (size_t)(c->n + 1));
		if (!nd)
			return -1;
		c->data = nd;
		ret = codec_y4m_reader_read(r, c->data + c->fsz * (size_t)c->n, c->fsz);
		if (ret < 0)
			return -1;
		if (ret == 0)
			break;
		c->n++;
	}
	codec_y4m_reader_close(r);
	return c->n > 0 ? 0 : -1;
}

/* `frames` pictures of the clip (ping-pong looped) scaled to w x h, back to back. */
static uint8_t *prepare(const struct clip *c, int w, int h, int frames)
{
	size_t sz = codec_i420_size(w, h);
	uint8_t *out = malloc(sz * (size_t)frames);

	if (!out)
		return NULL;
	for (int i = 0; i < frames; i++) {
		struct codec_i420 s, d;
		size_t idx = codec_y4m_pingpong((uint64_t)i, (size_t)c->n);

		if (codec_i420_view(&s, c->data + c->fsz * idx, c->w, c->h) != 0 ||
		    codec_i420_view(&d, out + sz * (size_t)i, w, h) != 0 ||
		    codec_i420_scale(&s, &d) != 0) {
			free(out);
			return NULL;
		}
	}
	return out;
}

struct run {
	double enc_ms, dec_ms; /* per frame */
	double psnr_y, kbps;
};

static int run_codec(const uint8_t *pics, int frames, const struct codec_vp8_enc_config *cfg,
                     struct run *res)
{
	struct codec_vp8_enc *e = NULL;
	struct codec_vp8_dec *d = NULL;
	struct codec_metrics_acc acc;
	struct codec_metrics_summary s;
	size_t sz = codec_i420_size(cfg->width, cfg->height);
	double enc = 0, dec = 0;
	uint64_t bytes = 0;
	int ret = -1;

	if (codec_vp8_enc_new(&e, cfg) != 0 || codec_vp8_dec_new(&d, 1) != 0)
		goto out;
	codec_metrics_acc_init(&acc);
	for (int i = 0; i < frames; i++) {
		struct codec_i420 v;
		struct codec_vp8_packet pkt;
		struct codec_vp8_picture pic;
		struct codec_metrics_frame m;
		double t0;

		if (codec_i420_view(&v, (uint8_t *)pics + sz * (size_t)i, cfg->width,
		                    cfg->height) != 0)
			goto out;
		t0 = cpu_ms();
		if (codec_vp8_enc_encode(e, &v,
		                         (int64_t)i * CODEC_VP8_CLOCK * cfg->fps_den / cfg->fps_num,
		                         &pkt) != 1)
			goto out;
		enc += cpu_ms() - t0;
		bytes += pkt.len;
		t0 = cpu_ms();
		if (codec_vp8_dec_decode(d, pkt.data, pkt.len, &pic) != 1)
			goto out;
		dec += cpu_ms() - t0;
		if (codec_metrics_frame_compute(&v, &pic.pic, &m) != 0)
			goto out;
		codec_metrics_acc_add(&acc, &m);
	}
	codec_metrics_acc_summary(&acc, &s);
	res->enc_ms = enc / frames;
	res->dec_ms = dec / frames;
	res->psnr_y = s.psnr_y;
	res->kbps = (double)bytes * 8 / 1000 / ((double)frames * cfg->fps_den / cfg->fps_num);
	ret = 0;
out:
	codec_vp8_enc_free(e);
	codec_vp8_dec_free(d);
	return ret;
}

/* Best (lowest CPU time) of three runs: this machine is shared, and the minimum is the
 * figure least disturbed by the neighbours. Quality and size are identical across runs. */
static int run_best(const uint8_t *pics, int frames, const struct codec_vp8_enc_config *cfg,
                    struct run *res)
{
	struct run r;

	if (run_codec(pics, frames, cfg, res) != 0)
		return -1;
	for (int k = 1; k < 3; k++) {
		if (run_codec(pics, frames, cfg, &r) != 0)
			return -1;
		if (r.enc_ms < res->enc_ms)
			res->enc_ms = r.enc_ms;
		if (r.dec_ms < res->dec_ms)
			res->dec_ms = r.dec_ms;
	}
	return 0;
}

int main(void)
{
	const char *vec = getenv("VECTORS");
	char path[512];
	struct clip c;
	int status = 0;

	snprintf(path, sizeof path, "%s/media/CiscoVT2people_320x192_12fps.y4m",
	         vec && *vec ? vec : "../shared/vectors");
	if (clip_load(path, &c) != 0)
		return 1;

	/* Per live rung (stills are one keyframe every few seconds: not a per-frame budget). */
	for (unsigned i = 0; i < codec_ladder_rung_count(); i++) {
		const struct codec_ladder_rung *r = codec_ladder_rung_get(i);
		struct codec_vp8_enc_config cfg = {0};
		struct run res;
		uint8_t *pics;
		double interval;
		int frames;

		if (r->mode != CODEC_LADDER_LIVE)
			continue;
		cfg.width = r->width;
		cfg.height = r->height;
		cfg.fps_num = r->fps_num;
		cfg.fps_den = r->fps_den;
		cfg.bitrate_kbps = (int)(r->video_bps / 1000);
		cfg.layers = r->temporal_layers;
		cfg.threads = 1;
		interval = 1000.0 * r->fps_den / r->fps_num;
		frames = r->width >= 1280 ? 60 : 90;
		if (!(pics = prepare(&c, r->width, r->height, frames)) ||
		    run_best(pics, frames, &cfg, &res) != 0) {
			fprintf(stderr, "bench_vp8: rung %s failed\n", r->name);
			free(pics);
			status = 1;
			continue;
		}
		printf("ROW\tvp8 encode %s %dx%d@%.4g fps, 1 core\t%.2f ms/frame\tframe interval\t"
		       "%.1f ms\t%.1f%%\n",
		       r->name, r->width, r->height, (double)r->fps_num / r->fps_den, res.enc_ms,
		       interval, 100 * res.enc_ms / interval);
		printf("ROW\tvp8 encode %s realtime factor, 1 core\t%.1fx realtime\tframe "
		       "interval\t"
		       "%.1f ms\t%.1f\n",
		       r->name, interval / res.enc_ms, interval, interval / res.enc_ms);
		printf("ROW\tvp8 decode %s %dx%d@%.4g fps, 1 core\t%.2f ms/frame\tframe interval\t"
		       "%.1f ms\t%.1f%%\n",
		       r->name, r->width, r->height, (double)r->fps_num / r->fps_den, res.dec_ms,
		       interval, 100 * res.dec_ms / interval);
		if (r->width == 640 && r->height == 360 && r->fps_num == 15 * r->fps_den)
			printf("ROW\tvp8 encode 640x360@15 share of one core vs 25%% "
			       "target\t%.1f%% "
			       "of a core\ttarget\t25%%\t%.2f\n",
			       100 * res.enc_ms / interval, 100 * res.enc_ms / interval / 25);
		fprintf(stderr, "%-9s psnr_y %.2f dB at %.1f kbit/s\n", r->name, res.psnr_y,
		        res.kbps);
		free(pics);
	}

	/* cpu-used at 640x360@15, 320 kbit/s, 2 layers (rung 360p-15): the choice of the default.
	 * On the talking head (little motion) and, when ffmpeg is there to make it, on a moving
	 * test pattern with camera-like noise (testsrc2 + temporal noise), harder to encode. */
	for (int src = 0; src < 2; src++) {
		static const int speeds[] = {-4, -6, -8, -10, -12, -16};
		struct codec_vp8_enc_config cfg = {.width = 640,
		                                   .height = 360,
		                                   .fps_num = 15,
		                                   .fps_den = 1,
		                                   .bitrate_kbps = 320,
		                                   .layers = 2,
		                                   .threads = 1};
		struct run res[sizeof speeds / sizeof speeds[0]];
		char tmp[] = "/tmp/pirogue-bench-XXXXXX", cmd[900], mpath[600];
		struct clip moving = {0};
		uint8_t *pics = NULL;
		double ref_ms = 0;
		const char *name = src ? "moving noisy pattern" : "talking head";

		if (src == 1) {
			if (!mkdtemp(tmp))
				continue;
			snprintf(mpath, sizeof mpath, "%s/moving.y4m", tmp);
			snprintf(cmd, sizeof cmd,
			         "ffmpeg -nostdin -loglevel error -f lavfi -i "
			         "testsrc2=size=640x360:rate=15 -vf noise=alls=6:allf=t -frames:v "
			         "90 "
			         "-pix_fmt yuv420p -y %s 2>/dev/null",
			         mpath);
			if (system(cmd) == 0 && clip_load(mpath, &moving) == 0)
				pics = prepare(&moving, 640, 360, 90);
			else
				fprintf(stderr,
				        "bench_vp8: no ffmpeg: moving pattern sweep skipped\n");
			snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
			if (system(cmd) != 0)
				fprintf(stderr, "bench_vp8: could not remove %s\n", tmp);
			free(moving.data);
			if (!pics)
				continue;
		} else {
			pics = prepare(&c, 640, 360, 90);
		}
		for (size_t k = 0; pics && k < sizeof speeds / sizeof speeds[0]; k++) {
			cfg.cpu_used = speeds[k];
			if (run_best(pics, 90, &cfg, &res[k]) != 0)
				status = 1;
			if (speeds[k] == CODEC_VP8_CPU_USED_DEFAULT)
				ref_ms = res[k].enc_ms;
		}
		for (size_t k = 0; pics && k < sizeof speeds / sizeof speeds[0]; k++)
			printf("ROW\tvp8 encode 640x360@15 320 kbit/s %s cpu-used %d (PSNR-Y %.2f "
			       "dB)\t%.2f ms/frame\tcpu-used %d (default)\t%.2f ms/frame\t%.2f\n",
			       name, speeds[k], res[k].psnr_y, res[k].enc_ms,
			       CODEC_VP8_CPU_USED_DEFAULT, ref_ms,
			       ref_ms > 0 ? res[k].enc_ms / ref_ms : 0);
		if (!pics)
			status = 1;
		free(pics);
	}

	/* The speed small pictures get (codec_vp8_cpu_used_for) against the 640x360 default, at the
	 * clip's size, 15 fps and the 120 kbit/s or so the 256 kbit/s uplink leaves the video. */
	{
		uint8_t *pics = prepare(&c, c.w, c.h, 90);
		struct codec_vp8_enc_config cfg = {.width = c.w,
		                                   .height = c.h,
		                                   .fps_num = 15,
		                                   .fps_den = 1,
		                                   .bitrate_kbps = 120,
		                                   .layers = 2,
		                                   .threads = 1};
		struct run fast, chosen;
		int speed = codec_vp8_cpu_used_for(c.w, c.h, 15, 1);

		cfg.cpu_used = CODEC_VP8_CPU_USED_DEFAULT;
		if (!pics || run_best(pics, 90, &cfg, &fast) != 0) {
			status = 1;
		} else {
			cfg.cpu_used = speed;
			if (run_best(pics, 90, &cfg, &chosen) != 0) {
				status = 1;
			} else {
				printf("ROW\tvp8 PSNR-Y talking head %dx%d@15 120 kbit/s, cpu-used "
				       "%d "
				       "(%.2f ms/frame)\t%.2f dB\tcpu-used %d (%.2f "
				       "ms/frame)\t%.2f "
				       "dB\t%+.2f dB\n",
				       c.w, c.h, speed, chosen.enc_ms, chosen.psnr_y,
				       CODEC_VP8_CPU_USED_DEFAULT, fast.enc_ms, fast.psnr_y,
				       chosen.psnr_y - fast.psnr_y);
			}
		}
		free(pics);
	}

	/* PSNR–bitrate curve of the reference clip at its own size and rate. */
	{
		static const int rates[] = {50, 100, 200, 400, 800, 1600};
		uint8_t *pics = prepare(&c, c.w, c.h, 72);

		for (size_t k = 0; pics && k < sizeof rates / sizeof rates[0]; k++) {
			struct codec_vp8_enc_config cfg = {.width = c.w,
			                                   .height = c.h,
			                                   .fps_num = 12,
			                                   .fps_den = 1,
			                                   .bitrate_kbps = rates[k],
			                                   .layers = 1,
			                                   .threads = 1};
			struct run res;

			if (run_codec(pics, 72, &cfg, &res) != 0) {
				status = 1;
				continue;
			}
			printf("ROW\tvp8 PSNR-Y talking head %dx%d@12 at %d kbit/s\t%.2f dB\t"
			       "achieved bitrate\t%.1f kbit/s\t%.2f\n",
			       c.w, c.h, rates[k], res.psnr_y, res.kbps, res.kbps / rates[k]);
		}
		if (!pics)
			status = 1;
		free(pics);
	}
	free(c.data);
	return status;
}
