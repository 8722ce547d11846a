/* tools/pirogue/cmd_media.c — `pirogue media encode|decode|transcode|quality`.
 *
 * encode    Y4M -> IVF (VP8) or WAV -> POPF (raw Opus packets, codec/opf.h), at a ladder rung
 *           or a bitrate; for video also --fps, --size, --layers.
 * decode    IVF -> Y4M, POPF -> WAV (the original rate and length).
 * transcode IVF -> IVF at another rung or bitrate (decode, scale, drop/repeat frames, encode).
 * quality   PSNR/SSIM of a Y4M against a reference Y4M (ffmpeg's definitions, codec/metrics.h),
 *           as text or --json (jansson).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "codec/ivf.h"
#include "codec/ladder.h"
#include "codec/metrics.h"
#include "codec/opf.h"
#include "codec/opus.h"
#include "codec/resample.h"
#include "codec/scale.h"
#include "codec/vp8.h"
#include "codec/wav.h"
#include "codec/y4m.h"
#include "tools/pirogue/cmd.h"

/* POPF input is read whole: far more than hours of speech. */
#define OPF_FILE_MAX (64u << 20)

struct opts {
	const char *in, *out, *ref, *test;
	int rung;             /* -1: none */
	double bitrate_kbps;  /* 0: none */
	int fps_num, fps_den; /* 0: from input / rung */
	int width, height;    /* 0: from input / rung */
	int layers;           /* 0: from rung (1 with --bitrate) */
	int cpu_used, threads, kf_interval;
	bool json;
};

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;

	fputs("pirogue media: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: pirogue media encode --in X.y4m|X.wav --out Y.ivf|Y.opf (--rung N|NAME | "
	        "--bitrate KBPS)\n"
	        "                            [--fps N[/D]] [--size WxH] [--layers 1-3] [--cpu-used "
	        "N]\n"
	        "                            [--threads N] [--keyframe-interval N]\n"
	        "       pirogue media decode --in Y.ivf|Y.opf --out Z.y4m|Z.wav\n"
	        "       pirogue media transcode --in A.ivf --out B.ivf (--rung N|NAME | --bitrate "
	        "KBPS)\n"
	        "                            [--fps N[/D]] [--size WxH] [--layers 1-3]\n"
	        "       pirogue media quality --ref A.y4m --test B.y4m [--json]\n"
	        "\n"
	        "encode: a Y4M (4:2:0 8-bit) becomes a VP8 IVF; a WAV (PCM s16, 8-48 kHz) becomes "
	        "a\n"
	        "  POPF file of raw Opus packets (Pirogue's length-prefixed format, codec/opf.h; "
	        "not\n"
	        "  Ogg). --rung takes a ladder rung's index or name (list below) and uses its "
	        "video or\n"
	        "  audio settings; --bitrate sets the codec rate (video keeps the input size and "
	        "rate).\n"
	        "  --cpu-used: libvpx's speed, -16 (fastest) .. 16; by default it follows the "
	        "pixel\n"
	        "  rate: -2 up to 320x192 at 15 fps, -4 up to 480x270 at 15 fps, -6 above.\n"
	        "decode: IVF -> Y4M (pictures scaled to the first frame's size if it changes), "
	        "POPF ->\n"
	        "  WAV at the original rate and length.\n"
	        "transcode: IVF -> IVF at the rung's size, frame rate and bitrate.\n"
	        "quality: PSNR (Y, U, V, YUV) and SSIM per frame averaged as ffmpeg's psnr/ssim\n"
	        "  filters do; --json prints a JSON object with per-frame values.\n"
	        "Exit status: 0 ok, 1 failed, 2 usage.\n\nrungs:\n");
	for (unsigned i = 0; i < codec_ladder_rung_count(); i++) {
		const struct codec_ladder_rung *r = codec_ladder_rung_get(i);
		if (r->mode == CODEC_LADDER_AUDIO_ONLY)
			fprintf(f, "  %2u %-12s audio %u bit/s, %u ms frames, no video\n", i,
			        r->name, r->audio_bps, r->audio_frame_ms);
		else
			fprintf(f,
			        "  %2u %-12s audio %u bit/s; video %ux%u %u/%u fps %u layer(s) %u "
			        "bit/s%s\n",
			        i, r->name, r->audio_bps, r->width, r->height, r->fps_num,
			        r->fps_den, r->temporal_layers, r->video_bps,
			        r->mode == CODEC_LADDER_STILLS ? " (stills)" : "");
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcasecmp(s + a - b, suffix);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_rung(const char *s, int *out)
{
	for (unsigned i = 0; i < codec_ladder_rung_count(); i++)
		if (!strcmp(codec_ladder_rung_get(i)->name, s)) {
			*out = (int)i;
			return 0;
		}
	return parse_int(s, 0, (int)codec_ladder_rung_count() - 1, out);
}

static long gcd(long a, long b)
{
	while (b) {
		long t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* "15", "30000/1001" or "7.5". */
static int parse_fps(const char *s, int *num, int *den)
{
	const char *slash = strchr(s, '/');
	char *end;

	if (slash) {
		char n[32];
		size_t l = (size_t)(slash - s);
		if (l == 0 || l >= sizeof n)
			return -1;
		memcpy(n, s, l);
		n[l] = '\0';
		if (parse_int(n, 1, 1000, num) || parse_int(slash + 1, 1, 1000, den))
			return -1;
	} else {
		double v;
		long a, g;
		errno = 0;
		v = strtod(s, &end);
		if (errno || end == s || *end || !(v > 0) || v > 60)
			return -1;
		a = lround(v * 100);
		if (a < 1)
			return -1;
		g = gcd(a, 100);
		*num = (int)(a / g);
		*den = (int)(100 / g);
	}
	return 0;
}

static int parse_size(const char *s, int *w, int *h)
{
	char buf[32], *x;

	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	if (!(x = strchr(buf, 'x')))
		return -1;
	*x = '\0';
	return parse_int(buf, 16, CODEC_I420_MAX_DIM, w) ||
	       parse_int(x + 1, 16, CODEC_I420_MAX_DIM, h);
}

/* Returns 0, or CMD_USAGE after printing why. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	        {"in", required_argument, NULL, 'i'},
	        {"out", required_argument, NULL, 'o'},
	        {"ref", required_argument, NULL, 'R'},
	        {"test", required_argument, NULL, 'T'},
	        {"rung", required_argument, NULL, 'r'},
	        {"bitrate", required_argument, NULL, 'b'},
	        {"fps", required_argument, NULL, 'f'},
	        {"size", required_argument, NULL, 's'},
	        {"layers", required_argument, NULL, 'l'},
	        {"cpu-used", required_argument, NULL, 'c'},
	        {"threads", required_argument, NULL, 't'},
	        {"keyframe-interval", required_argument, NULL, 'k'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.rung = -1};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->in = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'R':
			o->ref = optarg;
			break;
		case 'T':
			o->test = optarg;
			break;
		case 'r':
			if (parse_rung(optarg, &o->rung)) {
				err("--rung: no rung \"%s\" (see --help for the list)", optarg);
				return CMD_USAGE;
			}
			break;
		case 'b': {
			char *end;
			o->bitrate_kbps = strtod(optarg, &end);
			if (end == optarg || *end || !(o->bitrate_kbps >= 6) ||
			    o->bitrate_kbps > 20000) {
				err("--bitrate: \"%s\" is not a rate in kbit/s (6 .. 20000)",
				    optarg);
				return CMD_USAGE;
			}
			break;
		}
		case 'f':
			if (parse_fps(optarg, &o->fps_num, &o->fps_den)) {
				err("--fps: \"%s\" is not a frame rate (N, N/D or decimal, up to "
				    "60)",
				    optarg);
				return CMD_USAGE;
			}
			break;
		case 's':
			if (parse_size(optarg, &o->width, &o->height)) {
				err("--size: \"%s\" is not WxH (each 16 .. %d)", optarg,
				    CODEC_I420_MAX_DIM);
				return CMD_USAGE;
			}
			break;
		case 'l':
			if (parse_int(optarg, 1, CODEC_VP8_MAX_LAYERS, &o->layers)) {
				err("--layers: \"%s\" is not 1, 2 or 3", optarg);
				return CMD_USAGE;
			}
			break;
		case 'c':
			if (parse_int(optarg, -16, 16, &o->cpu_used) || o->cpu_used == 0) {
				err("--cpu-used: \"%s\" is not -16 .. 16 (not 0)", optarg);
				return CMD_USAGE;
			}
			break;
		case 't':
			if (parse_int(optarg, 1, 4, &o->threads)) {
				err("--threads: \"%s\" is not 1 .. 4", optarg);
				return CMD_USAGE;
			}
			break;
		case 'k':
			if (parse_int(optarg, 0, 100000, &o->kf_interval)) {
				err("--keyframe-interval: \"%s\" is not a frame count", optarg);
				return CMD_USAGE;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			err("unknown or incomplete option \"%s\"", argv[optind - 1]);
			return CMD_USAGE;
		}
	}
	if (optind < argc) {
		err("unexpected argument \"%s\"", argv[optind]);
		return CMD_USAGE;
	}
	return 0;
}

/* ---- frame rate conversion ---- */

/* Output frame k is shown at k * den / num seconds; it takes the first input picture shown at
 * or after that time. Returns how many output frames an input picture at t_in (seconds)
 * provides, advancing *next_k. */
static int frames_due(double t_in, int num, int den, long *next_k)
{
	int n = 0;

	while ((double)*next_k * den / num <= t_in + 1e-9) {
		(*next_k)++;
		n++;
	}
	return n;
}

/* ---- video ---- */

struct venc {
	struct codec_vp8_enc *enc;
	struct codec_ivf_writer *ivf;
	struct codec_vp8_enc_config cfg;
	uint8_t *scaled;
	long frames, keyframes;
	uint64_t bytes;
	long layer_frames[CODEC_VP8_MAX_LAYERS];
};

/* Fills the encoder config from the rung or bitrate and the overrides, for an input of
 * in_w x in_h at in_num/in_den fps. Returns 0 or CMD_USAGE after printing why. */
static int video_config(const struct opts *o, int in_w, int in_h, int in_num, int in_den,
                        struct codec_vp8_enc_config *cfg)
{
	*cfg = (struct codec_vp8_enc_config){0};
	if (o->rung >= 0) {
		const struct codec_ladder_rung *r = codec_ladder_rung_get((unsigned)o->rung);
		if (r->mode == CODEC_LADDER_AUDIO_ONLY) {
			err("rung %d (%s) has no video", o->rung, r->name);
			return CMD_USAGE;
		}
		cfg->width = r->width;
		cfg->height = r->height;
		cfg->fps_num = r->fps_num;
		cfg->fps_den = r->fps_den;
		cfg->layers = r->temporal_layers;
		cfg->bitrate_kbps = (int)((r->video_bps + 500) / 1000);
		if (r->mode == CODEC_LADDER_STILLS)
			cfg->keyframe_interval = 1;
	} else if (o->bitrate_kbps > 0) {
		cfg->width = in_w;
		cfg->height = in_h;
		cfg->fps_num = in_num;
		cfg->fps_den = in_den;
		cfg->layers = 1;
		cfg->bitrate_kbps = (int)lround(o->bitrate_kbps);
	} else {
		err("give --rung or --bitrate");
		return CMD_USAGE;
	}
	if (o->width) {
		cfg->width = o->width;
		cfg->height = o->height;
	}
	if (o->fps_num) {
		cfg->fps_num = o->fps_num;
		cfg->fps_den = o->fps_den;
	}
	if (o->layers)
		cfg->layers = o->layers;
	if (o->rung >= 0 && o->bitrate_kbps > 0)
		cfg->bitrate_kbps = (int)lround(o->bitrate_kbps);
	cfg->cpu_used = o->cpu_used;
	cfg->threads = o->threads;
	if (o->kf_interval)
		cfg->keyframe_interval = o->kf_interval;
	if (codec_vp8_enc_config_check(cfg) != 0) {
		err("these settings are out of range for VP8: %dx%d, %d/%d fps, %d kbit/s, %d "
		    "layers",
		    cfg->width, cfg->height, cfg->fps_num, cfg->fps_den, cfg->bitrate_kbps,
		    cfg->layers);
		return CMD_USAGE;
	}
	return 0;
}

static int venc_open(struct venc *v, const char *out, const struct codec_vp8_enc_config *cfg)
{
	struct codec_ivf_info info = {.fourcc = CODEC_IVF_FOURCC_VP8,
	                              .width = cfg->width,
	                              .height = cfg->height,
	                              .rate = CODEC_VP8_CLOCK,
	                              .scale = 1};
	int ret;

	memset(v, 0, sizeof *v);
	v->cfg = *cfg;
	if ((ret = codec_vp8_enc_new(&v->enc, cfg)) != 0) {
		err("VP8 encoder: %s", codec_vp8_strerror(ret));
		return CMD_FAIL;
	}
	if (!(v->scaled = malloc(codec_i420_size(cfg->width, cfg->height)))) {
		err("out of memory");
		return CMD_FAIL;
	}
	if ((ret = codec_ivf_writer_open(&v->ivf, out, &info)) != 0) {
		err("%s: %s", out, codec_ivf_strerror(ret));
		return CMD_FAIL;
	}
	return 0;
}

/* Scales `pic` to the encoder's size and encodes it as output frame k. */
static int venc_frame(struct venc *v, const struct codec_i420 *pic, long k)
{
	struct codec_vp8_packet pkt;
	struct codec_i420 dst;
	int64_t pts = (int64_t)k * CODEC_VP8_CLOCK * v->cfg.fps_den / v->cfg.fps_num;
	int ret;

	if (codec_i420_view(&dst, v->scaled, v->cfg.width, v->cfg.height) != 0 ||
	    (ret = codec_i420_scale(pic, &dst)) != 0) {
		err("scaling failed");
		return CMD_FAIL;
	}
	ret = codec_vp8_enc_encode(v->enc, &dst, pts, &pkt);
	if (ret < 0) {
		err("frame %ld: %s", k, codec_vp8_strerror(ret));
		return CMD_FAIL;
	}
	v->frames++;
	if (ret == 0)
		return 0;
	if ((ret = codec_ivf_writer_write(v->ivf, pkt.data, pkt.len, (uint64_t)pts)) != 0) {
		err("writing: %s", codec_ivf_strerror(ret));
		return CMD_FAIL;
	}
	v->bytes += pkt.len;
	v->keyframes += pkt.keyframe;
	v->layer_frames[pkt.temporal_id]++;
	return 0;
}

static int venc_close(struct venc *v, const char *out, int status)
{
	int ret = codec_ivf_writer_close(v->ivf);

	if (ret != 0 && status == 0) {
		err("%s: %s", out, codec_ivf_strerror(ret));
		status = CMD_FAIL;
	}
	if (status == 0) {
		double secs = (double)v->frames * v->cfg.fps_den / v->cfg.fps_num;
		printf("%s: %ld frames (%ld keyframes), %dx%d at %d/%d fps, %d layer(s) "
		       "[TL0 %ld, TL1 %ld, TL2 %ld]: %llu bytes, %.1f kbit/s (target %d)\n",
		       out, v->frames, v->keyframes, v->cfg.width, v->cfg.height, v->cfg.fps_num,
		       v->cfg.fps_den, v->cfg.layers, v->layer_frames[0], v->layer_frames[1],
		       v->layer_frames[2], (unsigned long long)v->bytes,
		       secs > 0 ? (double)v->bytes * 8 / 1000 / secs : 0.0, v->cfg.bitrate_kbps);
	}
	codec_vp8_enc_free(v->enc);
	free(v->scaled);
	return status;
}

static int video_encode(const struct opts *o)
{
	struct codec_y4m_reader *r = NULL;
	const struct codec_y4m_info *info;
	struct codec_vp8_enc_config cfg;
	struct venc v = {0};
	uint8_t *buf = NULL;
	long i = 0, next_k = 0;
	int ret, status = CMD_FAIL;

	if ((ret = codec_y4m_reader_open(&r, o->in)) != 0) {
		err("%s: %s: %s", o->in, codec_y4m_strerror(ret), codec_y4m_last_error());
		return CMD_FAIL;
	}
	info = codec_y4m_reader_info(r);
	if ((status = video_config(o, info->width, info->height, info->fps_num, info->fps_den,
	                           &cfg)) != 0)
		goto out;
	status = CMD_FAIL;
	if (venc_open(&v, o->out, &cfg) != 0)
		goto close;
	if (!(buf = malloc(codec_y4m_reader_frame_size(r)))) {
		err("out of memory");
		goto close;
	}
	while ((ret = codec_y4m_reader_read(r, buf, codec_y4m_reader_frame_size(r))) == 1) {
		struct codec_i420 pic;
		double t = (double)i * info->fps_den / info->fps_num;
		int n;

		i++;
		if (codec_i420_view(&pic, buf, info->width, info->height) != 0)
			goto close;
		for (n = frames_due(t, cfg.fps_num, cfg.fps_den, &next_k); n > 0; n--)
			if (venc_frame(&v, &pic, next_k - n) != 0)
				goto close;
	}
	if (ret < 0) {
		err("%s: %s: %s", o->in, codec_y4m_strerror(ret), codec_y4m_reader_error(r));
		goto close;
	}
	status = 0;
close:
	status = venc_close(&v, o->out, status);
out:
	free(buf);
	codec_y4m_reader_close(r);
	return status;
}

/* Frame rate of an IVF as a Y4M F tag: the header's time base when it is a frame rate (vpxenc
 * and the conformance vectors), else the first frame interval (our files: a 90 kHz clock). */
static void ivf_fps(const char *path, const struct codec_ivf_info *info, int *num, int *den)
{
	struct codec_ivf_reader *r = NULL;
	const uint8_t *d;
	size_t len;
	uint64_t p0 = 0, p1 = 0;
	long g;

	*num = 30;
	*den = 1;
	if (info->rate / info->scale <= 120 && info->rate <= 1000000) {
		g = gcd((long)info->rate, (long)info->scale);
		*num = (int)(info->rate / (uint32_t)g);
		*den = (int)(info->scale / (uint32_t)g);
		return;
	}
	if (codec_ivf_reader_open(&r, path) != 0)
		return;
	if (codec_ivf_reader_read(r, &d, &len, &p0) == 1 &&
	    codec_ivf_reader_read(r, &d, &len, &p1) == 1 && p1 > p0 &&
	    (p1 - p0) * info->scale < 100000000) {
		long n = (long)info->rate, dd = (long)((p1 - p0) * info->scale);
		g = gcd(n, dd);
		n /= g;
		dd /= g;
		if (n <= 1000000 && dd <= 1000000 && n > 0 && dd > 0) {
			*num = (int)n;
			*den = (int)dd;
		}
	}
	codec_ivf_reader_close(r);
}

static int video_decode(const struct opts *o)
{
	struct codec_ivf_reader *r = NULL;
	struct codec_vp8_dec *d = NULL;
	struct codec_y4m_writer *w = NULL;
	struct codec_y4m_info yi = {0};
	const uint8_t *data;
	uint8_t *buf = NULL;
	size_t len;
	uint64_t pts;
	long frames = 0, errors = 0, corrupted = 0, rescaled = 0;
	int ret, status = CMD_FAIL;

	if ((ret = codec_ivf_reader_open(&r, o->in)) != 0) {
		err("%s: %s: %s", o->in, codec_ivf_strerror(ret), codec_ivf_last_error());
		return CMD_FAIL;
	}
	if ((ret = codec_vp8_dec_new(&d, 1)) != 0) {
		err("VP8 decoder: %s", codec_vp8_strerror(ret));
		goto out;
	}
	ivf_fps(o->in, codec_ivf_reader_info(r), &yi.fps_num, &yi.fps_den);
	yi.interlace = 'p';
	while ((ret = codec_ivf_reader_read(r, &data, &len, &pts)) == 1) {
		struct codec_vp8_picture pic;
		struct codec_i420 dst;

		ret = codec_vp8_dec_decode(d, data, len, &pic);
		if (ret < 0) {
			errors++;
			continue;
		}
		if (ret == 0)
			continue;
		corrupted += pic.corrupted;
		if (!w) {
			yi.width = pic.pic.width;
			yi.height = pic.pic.height;
			if (!(buf = malloc(codec_i420_size(yi.width, yi.height))) ||
			    (ret = codec_y4m_writer_open(&w, o->out, &yi)) != 0) {
				err("%s: %s", o->out, buf ? codec_y4m_strerror(ret) : "no memory");
				goto out;
			}
		}
		rescaled += pic.pic.width != yi.width || pic.pic.height != yi.height;
		if (codec_i420_view(&dst, buf, yi.width, yi.height) != 0 ||
		    codec_i420_scale(&pic.pic, &dst) != 0 ||
		    (ret = codec_y4m_writer_write(w, buf)) != 0) {
			err("%s: write failed", o->out);
			goto out;
		}
		frames++;
	}
	if (ret < 0) {
		err("%s: %s: %s", o->in, codec_ivf_strerror(ret), codec_ivf_reader_error(r));
		goto out;
	}
	if (!w) {
		err("%s: no picture decoded (%ld undecodable frames)", o->in, errors);
		goto out;
	}
	printf("%s: %ld pictures %dx%d at %d/%d fps", o->out, frames, yi.width, yi.height,
	       yi.fps_num, yi.fps_den);
	if (rescaled)
		printf(", %ld scaled to the first picture's size", rescaled);
	if (corrupted)
		printf(", %ld corrupted (a live receiver would ask for a keyframe)", corrupted);
	printf("\n");
	if (errors) {
		err("%s: %ld frames could not be decoded", o->in, errors);
		goto out;
	}
	status = 0;
out:
	if (w && (ret = codec_y4m_writer_close(w)) != 0 && status == 0) {
		err("%s: %s", o->out, codec_y4m_strerror(ret));
		status = CMD_FAIL;
	}
	free(buf);
	codec_vp8_dec_free(d);
	codec_ivf_reader_close(r);
	return status;
}

static int video_transcode(const struct opts *o)
{
	struct codec_ivf_reader *r = NULL;
	struct codec_vp8_dec *d = NULL;
	const struct codec_ivf_info *ii;
	struct codec_vp8_enc_config cfg;
	struct venc v = {0};
	const uint8_t *data;
	size_t len;
	uint64_t pts;
	long next_k = 0, errors = 0, skipped = 0;
	int ret, status = CMD_FAIL, in_num, in_den;
	bool opened = false;

	if ((ret = codec_ivf_reader_open(&r, o->in)) != 0) {
		err("%s: %s: %s", o->in, codec_ivf_strerror(ret), codec_ivf_last_error());
		return CMD_FAIL;
	}
	ii = codec_ivf_reader_info(r);
	ivf_fps(o->in, ii, &in_num, &in_den);
	if (in_num > 60 * in_den) {
		in_num = 60;
		in_den = 1;
	}
	if ((status = video_config(o, ii->width, ii->height, in_num, in_den, &cfg)) != 0)
		goto out;
	status = CMD_FAIL;
	if ((ret = codec_vp8_dec_new(&d, 1)) != 0) {
		err("VP8 decoder: %s", codec_vp8_strerror(ret));
		goto out;
	}
	opened = true;
	if (venc_open(&v, o->out, &cfg) != 0)
		goto close;
	while ((ret = codec_ivf_reader_read(r, &data, &len, &pts)) == 1) {
		struct codec_vp8_picture pic;
		double t = (double)pts * ii->scale / ii->rate;
		int n;

		ret = codec_vp8_dec_decode(d, data, len, &pic);
		if (ret < 0) {
			errors++;
			continue;
		}
		if (ret == 0)
			continue;
		if (pic.corrupted) {
			/* Re-encoding garbage would spread it: wait for the next keyframe. */
			skipped++;
			continue;
		}
		for (n = frames_due(t, cfg.fps_num, cfg.fps_den, &next_k); n > 0; n--)
			if (venc_frame(&v, &pic.pic, next_k - n) != 0)
				goto close;
	}
	if (ret < 0) {
		err("%s: %s: %s", o->in, codec_ivf_strerror(ret), codec_ivf_reader_error(r));
		goto close;
	}
	if (errors || skipped)
		err("%s: %ld frames undecodable, %ld corrupted pictures skipped", o->in, errors,
		    skipped);
	status = errors ? CMD_FAIL : 0;
close:
	if (opened)
		status = venc_close(&v, o->out, status);
out:
	codec_vp8_dec_free(d);
	codec_ivf_reader_close(r);
	return status;
}

/* ---- audio ---- */

static int read_small_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	int ret = -EIO;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > OPF_FILE_MAX) {
		ret = st.st_size > OPF_FILE_MAX ? -EFBIG : -EINVAL;
		goto out;
	}
	if (!(p = malloc((size_t)st.st_size + 1))) {
		ret = -ENOMEM;
		goto out;
	}
	if (fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		goto out;
	*out = p;
	*len = (size_t)st.st_size;
	p = NULL;
	ret = 0;
out:
	free(p);
	fclose(f);
	return ret;
}

static int audio_encode(const struct opts *o)
{
	struct codec_opus_enc_config cfg;
	struct codec_opus_enc *e = NULL;
	struct codec_wav_info wi;
	struct codec_opf_info oi = {0};
	int16_t *pcm = NULL, *rs = NULL, *padded = NULL;
	uint8_t *pkts = NULL, hdr[CODEC_OPF_HEADER_SIZE];
	size_t rs_frames, fs, delay, total, nframes, pk_len = 0, pk_cap = 0;
	unsigned rate;
	FILE *f = NULL;
	int ret, status = CMD_FAIL;

	if ((ret = codec_wav_read_file(o->in, &wi, &pcm)) != 0) {
		err("%s: %s", o->in, codec_wav_strerror(ret));
		return CMD_FAIL;
	}
	rate = codec_resample_opus_rate(wi.sample_rate);
	if (o->rung >= 0) {
		struct codec_ladder_settings st;
		if (codec_ladder_settings_for((unsigned)o->rung, 0.0, 0, &st) != 0) {
			err("rung %d: no settings", o->rung);
			goto out;
		}
		codec_ladder_opus_config(&st, &cfg);
		if (o->bitrate_kbps > 0)
			cfg.bitrate_bps = (unsigned)lround(o->bitrate_kbps * 1000);
	} else if (o->bitrate_kbps > 0) {
		codec_opus_enc_config_default(&cfg);
		cfg.bitrate_bps = (unsigned)lround(o->bitrate_kbps * 1000);
	} else {
		err("give --rung or --bitrate");
		status = CMD_USAGE;
		goto out;
	}
	cfg.sample_rate = rate;
	cfg.channels = wi.channels;
	if ((ret = codec_opus_enc_config_check(&cfg)) != 0) {
		err("Opus settings: %s", codec_opus_strerror(ret));
		status = CMD_USAGE;
		goto out;
	}
	if ((ret = codec_resample_buffer(pcm, wi.frames, wi.channels, wi.sample_rate, rate,
	                                 CODEC_RESAMPLE_QUALITY_DEFAULT, &rs, &rs_frames)) != 0) {
		err("resampling %u -> %u Hz: %s", wi.sample_rate, rate,
		    codec_resample_strerror(ret));
		goto out;
	}
	if ((ret = codec_opus_enc_new(&e, &cfg)) != 0) {
		err("Opus encoder: %s", codec_opus_strerror(ret));
		goto out;
	}
	fs = codec_opus_enc_frame_samples(e);
	delay = codec_opus_enc_delay(e);
	/* Encode delay's worth of silence past the end so the decoder gives back all of it. */
	total = rs_frames + delay;
	nframes = (total + fs - 1) / fs;
	if (!(padded = calloc(nframes * fs * wi.channels, sizeof *padded))) {
		err("out of memory");
		goto out;
	}
	if (rs_frames)
		memcpy(padded, rs, rs_frames * wi.channels * sizeof *padded);
	for (size_t i = 0; i < nframes; i++) {
		uint8_t pkt[CODEC_OPUS_PACKET_MAX];
		size_t n;

		if ((ret = codec_opus_enc_encode(e, padded + i * fs * wi.channels, pkt, sizeof pkt,
		                                 &n)) != 0) {
			err("Opus frame %zu: %s", i, codec_opus_strerror(ret));
			goto out;
		}
		if (pk_len + n + 2 > pk_cap) {
			size_t nc = pk_cap ? 2 * pk_cap : 65536;
			uint8_t *np = realloc(pkts, nc);
			if (!np) {
				err("out of memory");
				goto out;
			}
			pkts = np;
			pk_cap = nc;
		}
		if (codec_opf_packet_prefix(n, pkts + pk_len) != 0) {
			err("Opus frame %zu: packet of %zu bytes", i, n);
			goto out;
		}
		memcpy(pkts + pk_len + 2, pkt, n);
		pk_len += n + 2;
	}
	oi.channels = wi.channels;
	oi.opus_rate = rate;
	oi.input_rate = wi.sample_rate;
	oi.pre_skip = (unsigned)delay;
	oi.input_frames = wi.frames;
	oi.packets = (uint32_t)nframes;
	if (codec_opf_header_write(&oi, hdr) != 0) {
		err("cannot describe this audio in a POPF header");
		goto out;
	}
	if (!(f = fopen(o->out, "wb")) || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr ||
	    (pk_len && fwrite(pkts, 1, pk_len, f) != pk_len)) {
		err("%s: %s", o->out, strerror(errno ? errno : EIO));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		err("%s: %s", o->out, strerror(errno));
		goto out;
	}
	f = NULL;
	printf("%s: %zu Opus packets of %u ms at %u bit/s%s (%u Hz), %zu bytes of payload, "
	       "%.1f kbit/s\n",
	       o->out, nframes, cfg.frame_ms, cfg.bitrate_bps, cfg.fec ? " with FEC" : "", rate,
	       pk_len - 2 * nframes,
	       wi.frames ? (double)(pk_len - 2 * nframes) * 8 / 1000 /
	                           ((double)nframes * cfg.frame_ms / 1000)
	                 : 0.0);
	status = 0;
out:
	if (f)
		fclose(f);
	codec_opus_enc_free(e);
	free(pcm);
	free(rs);
	free(padded);
	free(pkts);
	return status;
}

static int audio_decode(const struct opts *o)
{
	struct codec_opf_info oi;
	struct codec_opf_packet *pk = NULL;
	struct codec_opus_dec *d = NULL;
	struct codec_wav_info wi;
	uint8_t *file = NULL;
	int16_t *pcm = NULL, *out = NULL;
	size_t len = 0, n = 0, cap, out_frames;
	char why[160];
	long bad = 0;
	int ret, status = CMD_FAIL;

	if ((ret = read_small_file(o->in, &file, &len)) != 0) {
		err("%s: %s", o->in, strerror(-ret));
		return CMD_FAIL;
	}
	if ((ret = codec_opf_parse(file, len, &oi, &pk, why, sizeof why)) != 0) {
		err("%s: %s: %s", o->in, codec_opf_strerror(ret), why);
		goto out;
	}
	if ((ret = codec_opus_dec_new(&d, oi.opus_rate, oi.channels)) != 0) {
		err("Opus decoder: %s", codec_opus_strerror(ret));
		goto out;
	}
	/* Bounded by the parser: each packet is at most 120 ms. */
	cap = (size_t)oi.packets * (oi.opus_rate / 1000 * 120) + 1;
	if (!(pcm = malloc(cap * oi.channels * sizeof *pcm))) {
		err("out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < oi.packets; i++) {
		size_t got = 0, last = codec_opus_dec_last_samples(d);

		ret = codec_opus_dec_decode(d, pk[i].data, pk[i].len, pcm + n * oi.channels,
		                            cap - n, &got);
		if (ret != 0) {
			/* A corrupt packet is concealed, as a live receiver would. */
			bad++;
			ret = codec_opus_dec_lost(d, NULL, 0, last ? last : oi.opus_rate / 50,
			                          pcm + n * oi.channels, cap - n, &got, NULL);
			if (ret != 0) {
				err("packet %u: %s", i, codec_opus_strerror(ret));
				goto out;
			}
		}
		n += got;
	}
	if (n < oi.pre_skip) {
		err("%s: decoded %zu samples, fewer than the %u of encoder delay", o->in, n,
		    oi.pre_skip);
		goto out;
	}
	if ((ret = codec_resample_buffer(pcm + (size_t)oi.pre_skip * oi.channels, n - oi.pre_skip,
	                                 oi.channels, oi.opus_rate, oi.input_rate,
	                                 CODEC_RESAMPLE_QUALITY_DEFAULT, &out, &out_frames)) != 0) {
		err("resampling: %s", codec_resample_strerror(ret));
		goto out;
	}
	if (out_frames < oi.input_frames) {
		err("%s: decoded %zu frames, the source had %llu", o->in, out_frames,
		    (unsigned long long)oi.input_frames);
		goto out;
	}
	wi.sample_rate = oi.input_rate;
	wi.channels = oi.channels;
	wi.frames = (size_t)oi.input_frames;
	if ((ret = codec_wav_write_file(o->out, &wi, out)) != 0) {
		err("%s: %s", o->out, codec_wav_strerror(ret));
		goto out;
	}
	printf("%s: %zu frames at %u Hz, %u channel(s) from %u packets%s\n", o->out, wi.frames,
	       wi.sample_rate, wi.channels, oi.packets, bad ? " (some concealed)" : "");
	if (bad) {
		err("%s: %ld packets were corrupt and concealed", o->in, bad);
		goto out;
	}
	status = 0;
out:
	codec_opus_dec_free(d);
	free(pk);
	free(file);
	free(pcm);
	free(out);
	return status;
}

/* ---- quality ---- */

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void print_db(const char *label, double v)
{
	if (isinf(v))
		printf(" %s inf", label);
	else
		printf(" %s %.4f", label, v);
}

static int quality(const struct opts *o)
{
	struct codec_y4m_reader *rr = NULL, *rt = NULL;
	const struct codec_y4m_info *ir, *it;
	struct codec_metrics_acc acc;
	struct codec_metrics_summary s;
	json_t *root = NULL, *frames = NULL;
	uint8_t *a = NULL, *b = NULL;
	size_t fs;
	int ret, rt_ret = 0, status = CMD_FAIL;

	if ((ret = codec_y4m_reader_open(&rr, o->ref)) != 0) {
		err("%s: %s: %s", o->ref, codec_y4m_strerror(ret), codec_y4m_last_error());
		return CMD_FAIL;
	}
	if ((ret = codec_y4m_reader_open(&rt, o->test)) != 0) {
		err("%s: %s: %s", o->test, codec_y4m_strerror(ret), codec_y4m_last_error());
		goto out;
	}
	ir = codec_y4m_reader_info(rr);
	it = codec_y4m_reader_info(rt);
	if (ir->width != it->width || ir->height != it->height) {
		err("picture sizes differ: %s is %dx%d, %s is %dx%d", o->ref, ir->width, ir->height,
		    o->test, it->width, it->height);
		goto out;
	}
	if (ir->width < CODEC_METRICS_MIN_DIM || ir->height < CODEC_METRICS_MIN_DIM) {
		err("pictures smaller than %dx%d cannot be measured", CODEC_METRICS_MIN_DIM,
		    CODEC_METRICS_MIN_DIM);
		goto out;
	}
	fs = codec_y4m_reader_frame_size(rr);
	if (!(a = malloc(fs)) || !(b = malloc(fs)) || !(frames = json_array())) {
		err("out of memory");
		goto out;
	}
	codec_metrics_acc_init(&acc);
	while ((ret = codec_y4m_reader_read(rr, a, fs)) == 1 &&
	       (rt_ret = codec_y4m_reader_read(rt, b, fs)) == 1) {
		struct codec_i420 va, vb;
		struct codec_metrics_frame m;

		if (codec_i420_view(&va, a, ir->width, ir->height) != 0 ||
		    codec_i420_view(&vb, b, ir->width, ir->height) != 0 ||
		    codec_metrics_frame_compute(&va, &vb, &m) != 0) {
			err("cannot measure frame %llu", (unsigned long long)acc.frames);
			goto out;
		}
		codec_metrics_acc_add(&acc, &m);
		if (o->json)
			json_array_append_new(
			        frames,
			        json_pack("{s:I, s:o, s:o, s:o, s:o, s:f, s:f, s:f, s:f}", "n",
			                  (json_int_t)acc.frames, "psnr_y", num_or_null(m.psnr_y),
			                  "psnr_u", num_or_null(m.psnr_u), "psnr_v",
			                  num_or_null(m.psnr_v), "psnr_yuv",
			                  num_or_null(m.psnr_yuv), "ssim_y", m.ssim_y, "ssim_u",
			                  m.ssim_u, "ssim_v", m.ssim_v, "ssim_all", m.ssim_all));
	}
	if (ret < 0) {
		err("%s: %s: %s", o->ref, codec_y4m_strerror(ret), codec_y4m_reader_error(rr));
		goto out;
	}
	if (rt_ret < 0) {
		err("%s: %s: %s", o->test, codec_y4m_strerror(rt_ret), codec_y4m_reader_error(rt));
		goto out;
	}
	if (acc.frames == 0) {
		err("no frame to compare");
		goto out;
	}
	if (ret == 1 || (rt_ret == 1 && (rt_ret = codec_y4m_reader_read(rt, b, fs)) == 1))
		err("warning: frame counts differ; compared the first %llu",
		    (unsigned long long)acc.frames);
	codec_metrics_acc_summary(&acc, &s);
	if (o->json) {
		char *text;
		root = json_pack(
		        "{s:s, s:s, s:i, s:i, s:I, s:{s:o, s:o, s:o, s:o, s:o}, "
		        "s:{s:f, s:f, s:f, s:f, s:o, s:f}, s:O}",
		        "ref", o->ref, "test", o->test, "width", ir->width, "height", ir->height,
		        "frames", (json_int_t)s.frames, "psnr", "y", num_or_null(s.psnr_y), "u",
		        num_or_null(s.psnr_u), "v", num_or_null(s.psnr_v), "yuv",
		        num_or_null(s.psnr_yuv), "y_min", num_or_null(s.psnr_y_min), "ssim", "y",
		        s.ssim_y, "u", s.ssim_u, "v", s.ssim_v, "all", s.ssim_all, "all_db",
		        num_or_null(s.ssim_all_db), "all_min", s.ssim_all_min, "per_frame", frames);
		if (!root || !(text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10)))) {
			err("cannot build the JSON report");
			goto out;
		}
		puts(text);
		free(text);
	} else {
		printf("frames %llu (%dx%d)\nPSNR", (unsigned long long)s.frames, ir->width,
		       ir->height);
		print_db("y", s.psnr_y);
		print_db("u", s.psnr_u);
		print_db("v", s.psnr_v);
		print_db("yuv", s.psnr_yuv);
		print_db("min-y", s.psnr_y_min);
		printf(" dB\nSSIM y %.6f u %.6f v %.6f all %.6f", s.ssim_y, s.ssim_u, s.ssim_v,
		       s.ssim_all);
		print_db("(dB)", s.ssim_all_db);
		printf(" min-all %.6f\n", s.ssim_all_min);
	}
	status = 0;
out:
	json_decref(root);
	json_decref(frames);
	free(a);
	free(b);
	codec_y4m_reader_close(rr);
	codec_y4m_reader_close(rt);
	return status;
}

/* ---- dispatch ---- */

/* Sniffs the first bytes of a file: 'v' Y4M, 'i' IVF, 'w' WAV, 'o' POPF, 0 unknown/absent. */
static char sniff(const char *path)
{
	uint8_t m[9] = {0};
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(m, 1, sizeof m, f);
	fclose(f);
	if (n >= 9 && !memcmp(m, "YUV4MPEG2", 9))
		return 'v';
	if (n >= 4 && !memcmp(m, "DKIF", 4))
		return 'i';
	if (n >= 4 && !memcmp(m, "RIFF", 4))
		return 'w';
	if (n >= 4 && !memcmp(m, "POPF", 4))
		return 'o';
	return 0;
}

/* The input's kind from its content, else its name. */
static char kind_of(const char *path)
{
	char k = sniff(path);

	if (k)
		return k;
	if (ends_with(path, ".y4m"))
		return 'v';
	if (ends_with(path, ".ivf"))
		return 'i';
	if (ends_with(path, ".wav"))
		return 'w';
	if (ends_with(path, ".opf") || ends_with(path, ".opus"))
		return 'o';
	return 0;
}

int cmd_media(int argc, char **argv)
{
	struct opts o;
	const char *sub;
	char k;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		usage(stdout);
		return CMD_OK;
	}
	if ((ret = parse_opts(argc - 1, argv + 1, &o)) != 0)
		return ret < 0 ? CMD_OK : ret;
	if (!strcmp(sub, "quality")) {
		if (!o.ref || !o.test) {
			err("quality needs --ref and --test");
			return CMD_USAGE;
		}
		return quality(&o);
	}
	if (strcmp(sub, "encode") && strcmp(sub, "decode") && strcmp(sub, "transcode")) {
		err("unknown subcommand \"%s\" (encode, decode, transcode, quality)", sub);
		return CMD_USAGE;
	}
	if (!o.in || !o.out) {
		err("%s needs --in and --out", sub);
		return CMD_USAGE;
	}
	k = kind_of(o.in);
	if (!strcmp(sub, "encode")) {
		if (k == 'v')
			return video_encode(&o);
		if (k == 'w')
			return audio_encode(&o);
		err("%s: encode takes a Y4M or WAV file", o.in);
		return sniff(o.in) || ends_with(o.in, ".y4m") || ends_with(o.in, ".wav") ? CMD_USAGE
		                                                                         : CMD_FAIL;
	}
	if (!strcmp(sub, "decode")) {
		if (k == 'i')
			return video_decode(&o);
		if (k == 'o')
			return audio_decode(&o);
		err("%s: decode takes an IVF (VP8) or POPF (Opus packets) file", o.in);
		return CMD_FAIL;
	}
	if (k != 'i') {
		err("%s: transcode takes an IVF (VP8) file", o.in);
		return CMD_FAIL;
	}
	return video_transcode(&o);
}
