/* codec/vp8.c — VP8 realtime encoder and decoder over libvpx (see vp8.h). */
#include "codec/vp8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

/* One slot of a temporal layer pattern. */
struct layer_slot {
	int tid;
	bool sync;      /* references TL0 frames only */
	bool droppable; /* updates no reference buffer */
	vpx_enc_frame_flags_t flags;
};

#define NO_REF_GA  (VP8_EFLAG_NO_REF_GF | VP8_EFLAG_NO_REF_ARF)
#define NO_UPD_ALL (VP8_EFLAG_NO_UPD_LAST | VP8_EFLAG_NO_UPD_GF | VP8_EFLAG_NO_UPD_ARF)

unsigned codec_vp8_base_layer_pct(int layers)
{
	return layers >= 3 ? 40 : layers == 2 ? 60 : 100;
}

/* TL0 frames predict from and refresh LAST only, so LAST always holds the latest TL0 frame. */
static const struct layer_slot pattern1[] = {{0, true, false, 0}};
static const struct layer_slot pattern2[] = {
        {0, true, false, NO_REF_GA | VP8_EFLAG_NO_UPD_GF | VP8_EFLAG_NO_UPD_ARF},
        {1, true, true, NO_REF_GA | NO_UPD_ALL},
};
static const struct layer_slot pattern3[] = {
        {0, true, false, NO_REF_GA | VP8_EFLAG_NO_UPD_GF | VP8_EFLAG_NO_UPD_ARF},
        {2, true, true, NO_REF_GA | NO_UPD_ALL},
        {1, true, false,
         NO_REF_GA | VP8_EFLAG_NO_UPD_LAST | VP8_EFLAG_NO_UPD_ARF}, /* GOLDEN := this TL1 */
        {2, false, true, VP8_EFLAG_NO_REF_ARF | NO_UPD_ALL},        /* LAST + GOLDEN */
};

struct codec_vp8_enc {
	vpx_codec_ctx_t ctx;
	bool inited;
	vpx_codec_enc_cfg_t vcfg;
	struct codec_vp8_enc_config cfg;
	unsigned slot;     /* position in the layer pattern */
	uint8_t tl0picidx; /* of the last TL0 frame */
	bool force_kf;
	int since_kf;    /* frames since the last keyframe */
	int64_t arf_pts; /* pts of the frame in ALTREF */
	uint8_t arf_tl0; /* TL0PICIDX of the frame in ALTREF (last keyframe or recovery point) */
	int64_t last_pts;
	bool have_pts;
	uint8_t *out;
	size_t out_cap;
};

struct codec_vp8_dec {
	vpx_codec_ctx_t ctx;
	bool needs_kf;
};

const char *codec_vp8_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_VP8_EINIT:
		return "VP8 encoder/decoder configuration refused by libvpx";
	case CODEC_VP8_EENCODE:
		return "VP8 encoding failed";
	case CODEC_VP8_EDECODE:
		return "corrupt or unsupported VP8 frame";
	case CODEC_VP8_ESIZE:
		return "picture size differs from the encoder's";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown VP8 error";
	}
}

int codec_vp8_enc_config_check(const struct codec_vp8_enc_config *c)
{
	if (!c || c->width < 16 || c->height < 16 || codec_i420_size(c->width, c->height) == 0)
		return -EINVAL;
	if (c->fps_num < 1 || c->fps_num > 1000 || c->fps_den < 1 || c->fps_den > 1000 ||
	    c->fps_num > 60 * c->fps_den || 60 * c->fps_num < c->fps_den)
		return -EINVAL;
	if (c->bitrate_kbps < 10 || c->bitrate_kbps > 20000)
		return -EINVAL;
	if (c->layers < 1 || c->layers > CODEC_VP8_MAX_LAYERS || c->threads < 0 || c->threads > 4 ||
	    c->cpu_used < -16 || c->cpu_used > 16 || c->keyframe_interval < 0 ||
	    c->recovery_interval_ms < 0 || c->recovery_interval_ms > 10000)
		return -EINVAL;
	return 0;
}

static const struct layer_slot *pattern_of(int layers, unsigned *period)
{
	switch (layers) {
	case 2:
		*period = 2;
		return pattern2;
	case 3:
		*period = 4;
		return pattern3;
	default:
		*period = 1;
		return pattern1;
	}
}

/* Maps our configuration onto libvpx's. Rate-control values follow what WebRTC uses for
 * realtime VP8 (buffer 500/600/1000 ms, undershoot 100 %, overshoot 15 %, q 2..56). Frame
 * dropping is off: the ladder lowers frame rate through temporal layers instead, and a steady
 * layer pattern is what the meeting relay relies on. */
static int fill_vcfg(vpx_codec_enc_cfg_t *v, const struct codec_vp8_enc_config *c)
{
	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), v, 0) != VPX_CODEC_OK)
		return CODEC_VP8_EINIT;
	v->g_w = (unsigned)c->width;
	v->g_h = (unsigned)c->height;
	v->g_timebase.num = 1;
	v->g_timebase.den = CODEC_VP8_CLOCK;
	v->g_threads = c->threads ? (unsigned)c->threads : 1;
	v->g_lag_in_frames = 0;
	v->g_pass = VPX_RC_ONE_PASS;
	v->g_error_resilient = (c->error_resilient || c->layers > 1 || c->recovery_interval_ms > 0)
	                               ? VPX_ERROR_RESILIENT_DEFAULT
	                               : 0;
	v->rc_end_usage = VPX_CBR;
	v->rc_target_bitrate = (unsigned)c->bitrate_kbps;
	v->rc_min_quantizer = 2;
	v->rc_max_quantizer = 56;
	v->rc_undershoot_pct = 100;
	v->rc_overshoot_pct = 15;
	v->rc_buf_initial_sz = 500;
	v->rc_buf_optimal_sz = 600;
	v->rc_buf_sz = 1000;
	v->rc_dropframe_thresh = 0;
	v->rc_resize_allowed = 0;
	/* We place every keyframe ourselves (on a TL0 slot): libvpx makes none on its own. */
	v->kf_mode = VPX_KF_DISABLED;
	v->kf_min_dist = 0;
	v->kf_max_dist = 0;
	memset(v->ts_target_bitrate, 0, sizeof v->ts_target_bitrate);
	memset(v->ts_rate_decimator, 0, sizeof v->ts_rate_decimator);
	memset(v->ts_layer_id, 0, sizeof v->ts_layer_id);
	v->ts_number_layers = (unsigned)c->layers;
	if (c->layers == 1) {
		v->ts_target_bitrate[0] = (unsigned)c->bitrate_kbps;
		v->ts_rate_decimator[0] = 1;
		v->ts_periodicity = 1;
	} else if (c->layers == 2) {
		/* TL0 gets 60 % of the rate at half the frame rate (WebRTC's split). */
		v->ts_target_bitrate[0] =
		        (unsigned)c->bitrate_kbps * codec_vp8_base_layer_pct(2) / 100;
		v->ts_target_bitrate[1] = (unsigned)c->bitrate_kbps;
		v->ts_rate_decimator[0] = 2;
		v->ts_rate_decimator[1] = 1;
		v->ts_periodicity = 2;
		v->ts_layer_id[0] = 0;
		v->ts_layer_id[1] = 1;
	} else {
		/* 40 % / 20 % / 40 % at 1/4, 1/4 and 1/2 of the frame rate (cumulative 40/60/100).
		 */
		v->ts_target_bitrate[0] =
		        (unsigned)c->bitrate_kbps * codec_vp8_base_layer_pct(3) / 100;
		v->ts_target_bitrate[1] = (unsigned)c->bitrate_kbps * 60 / 100;
		v->ts_target_bitrate[2] = (unsigned)c->bitrate_kbps;
		v->ts_rate_decimator[0] = 4;
		v->ts_rate_decimator[1] = 2;
		v->ts_rate_decimator[2] = 1;
		v->ts_periodicity = 4;
		v->ts_layer_id[0] = 0;
		v->ts_layer_id[1] = 2;
		v->ts_layer_id[2] = 1;
		v->ts_layer_id[3] = 2;
	}
	return 0;
}

/* Controls that are not part of vpx_codec_enc_cfg_t; applied after every (re)initialisation. */
static int apply_controls(vpx_codec_ctx_t *ctx, const struct codec_vp8_enc_config *c)
{
	/* Keyframes may take several frames' worth of bits but not flood a 600 ms buffer:
	 * WebRTC's rule, 0.5 x optimal buffer x fps / 10, at least 300 %. */
	unsigned intra_pct = (unsigned)(600 * 0.5 * c->fps_num / c->fps_den / 10);
	int cpu = c->cpu_used ? c->cpu_used
	                      : codec_vp8_cpu_used_for(c->width, c->height, c->fps_num, c->fps_den);

	if (intra_pct < 300)
		intra_pct = 300;
	if (vpx_codec_control(ctx, VP8E_SET_CPUUSED, cpu) != VPX_CODEC_OK ||
	    vpx_codec_control(ctx, VP8E_SET_STATIC_THRESHOLD, 1u) != VPX_CODEC_OK ||
	    vpx_codec_control(ctx, VP8E_SET_NOISE_SENSITIVITY, 0u) != VPX_CODEC_OK ||
	    vpx_codec_control(ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, intra_pct) != VPX_CODEC_OK ||
	    vpx_codec_control(ctx, VP8E_SET_TOKEN_PARTITIONS,
	                      c->threads > 1 ? VP8_TWO_TOKENPARTITION : VP8_ONE_TOKENPARTITION) !=
	            VPX_CODEC_OK)
		return CODEC_VP8_EINIT;
	return 0;
}

static int enc_init(vpx_codec_ctx_t *ctx, const struct codec_vp8_enc_config *c,
                    vpx_codec_enc_cfg_t *v)
{
	int ret;

	if ((ret = fill_vcfg(v, c)) != 0)
		return ret;
	if (vpx_codec_enc_init(ctx, vpx_codec_vp8_cx(), v, 0) != VPX_CODEC_OK)
		return CODEC_VP8_EINIT;
	if ((ret = apply_controls(ctx, c)) != 0) {
		vpx_codec_destroy(ctx);
		return ret;
	}
	return 0;
}

int codec_vp8_cpu_used_for(int width, int height, int fps_num, int fps_den)
{
	double px = fps_den > 0 ? (double)width * height * fps_num / fps_den : 0;

	if (px <= 1000000)
		return -2;
	if (px <= 2100000)
		return -4;
	return CODEC_VP8_CPU_USED_DEFAULT;
}

/* cpu-used (CODEC_VP8_CPU_USED_DEFAULT = -6; negative = fixed speed, deterministic output).
 * Measured on this 2-core x86-64 machine by bench/bench_vp8 (640x360, 15 fps, 320 kbit/s,
 * 2 layers, one thread, encode CPU ms/frame best of 3, PSNR-Y):
 *   cpu-used      -4          -6          -8          -10         -12         -16
 *   talking head  3.40 37.35  1.73 37.01  1.52 36.95  1.32 36.83  1.15 36.25  1.17 35.23
 *   moving+noise  2.23 35.07  1.27 34.75  1.42 34.46  0.97 34.43  1.04 34.25  1.09 34.23
 * -6 is the knee: -4 doubles the time for +0.3 dB; -8 and beyond save at most ~25 % of an
 * already small cost and lose 0.3 dB on moving, noisy (camera-like) content. At -6 the
 * 640x360@15 rung costs ~3 % of one core and 720p30 ~17 %, which leaves the second core and
 * most of this one to the relay, audio, sync, and the hub's transcodes for several receivers.
 *
 * Small pictures are another matter (codec_vp8_cpu_used_for). The 320x192 reference clip looped
 * 20 times (180 frames, a scene cut at every loop as in a consult session), 2 layers, one
 * thread, `pirogue media encode --cpu-used N` then `media quality`, PSNR-Y dB / encode s:
 *   kbit/s   -6            -4            -3            -2            -1
 *   100      31.31         31.79                       32.37
 *   130      32.53 0.11 s  32.98 0.20 s  33.30 0.39 s  33.63 0.61 s  33.85 0.79 s
 *   180      34.11         34.57                       35.23
 * -2 buys 1.1 dB at the 100-130 kbit/s the 256 kbit/s satellite uplink leaves the video,
 * for 3.4 ms a frame: 5 % of one core at 15 fps. The same speeds at 640x360 cost 2.2 (-6),
 * 4.1 (-4), 7.8 (-3) and 10.7 (-2) ms a frame, so the pixel rate picks the speed. */
int codec_vp8_enc_new(struct codec_vp8_enc **out, const struct codec_vp8_enc_config *cfg)
{
	struct codec_vp8_enc *e = NULL;
	int ret;

	if (!out || (ret = codec_vp8_enc_config_check(cfg)) != 0)
		return -EINVAL;
	if (!(e = calloc(1, sizeof *e)))
		return -ENOMEM;
	e->cfg = *cfg;
	if ((ret = enc_init(&e->ctx, cfg, &e->vcfg)) != 0) {
		free(e);
		return ret;
	}
	e->inited = true;
	e->tl0picidx = 255; /* the first TL0 frame gets 0 */
	e->force_kf = true;
	*out = e;
	return 0;
}

void codec_vp8_enc_free(struct codec_vp8_enc *e)
{
	if (!e)
		return;
	if (e->inited)
		vpx_codec_destroy(&e->ctx);
	free(e->out);
	free(e);
}

const struct codec_vp8_enc_config *codec_vp8_enc_config(const struct codec_vp8_enc *e)
{
	return &e->cfg;
}

int codec_vp8_enc_reconfigure(struct codec_vp8_enc *e, const struct codec_vp8_enc_config *cfg)
{
	vpx_codec_enc_cfg_t v;
	bool resize, relayer;
	int ret;

	if (!e || codec_vp8_enc_config_check(cfg) != 0)
		return -EINVAL;
	resize = cfg->width != e->cfg.width || cfg->height != e->cfg.height;
	relayer = cfg->layers != e->cfg.layers;
	if ((ret = fill_vcfg(&v, cfg)) != 0)
		return ret;
	if (cfg->threads != e->cfg.threads ||
	    vpx_codec_enc_config_set(&e->ctx, &v) != VPX_CODEC_OK ||
	    apply_controls(&e->ctx, cfg) != 0) {
		/* In-place change refused: start a fresh encoder (its first frame is a keyframe).
		 * The old one is kept until the new one exists, so a failure changes nothing. */
		vpx_codec_ctx_t fresh;
		if ((ret = enc_init(&fresh, cfg, &v)) != 0) {
			/* The old encoder may have taken part of the change: put its config back.
			 */
			(void)vpx_codec_enc_config_set(&e->ctx, &e->vcfg);
			(void)apply_controls(&e->ctx, &e->cfg);
			return ret;
		}
		vpx_codec_destroy(&e->ctx);
		e->ctx = fresh;
		resize = true;
	}
	e->vcfg = v;
	e->cfg = *cfg;
	if (resize)
		e->force_kf = true;
	if (relayer || resize)
		e->slot = 0;
	return 0;
}

void codec_vp8_enc_request_keyframe(struct codec_vp8_enc *e)
{
	if (e)
		e->force_kf = true;
}

int codec_vp8_enc_encode(struct codec_vp8_enc *e, const struct codec_i420 *pic, int64_t pts,
                         struct codec_vp8_packet *pkt)
{
	const struct layer_slot *pat, *slot;
	const vpx_codec_cx_pkt_t *cx;
	vpx_codec_iter_t iter = NULL;
	vpx_enc_frame_flags_t flags;
	unsigned period;
	vpx_image_t img;
	bool key, rp, got = false;
	int ret = 0;

	if (!e || !pic || !pkt || !pic->y || !pic->u || !pic->v)
		return -EINVAL;
	if (pic->width != e->cfg.width || pic->height != e->cfg.height)
		return CODEC_VP8_ESIZE;
	if (e->have_pts && pts <= e->last_pts)
		return -EINVAL;
	if (e->cfg.keyframe_interval > 0 && e->since_kf >= e->cfg.keyframe_interval)
		e->force_kf = true;
	if (e->force_kf)
		e->slot = 0; /* a keyframe is always TL0 */
	pat = pattern_of(e->cfg.layers, &period);
	slot = &pat[e->slot % period];

	/* Wrap the caller's planes without copying (vpx_img_wrap assumes a contiguous buffer,
	 * so the plane pointers and strides are set afterwards). */
	if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, (unsigned)pic->width, (unsigned)pic->height, 1,
	                  pic->y))
		return -EINVAL;
	img.planes[VPX_PLANE_Y] = pic->y;
	img.planes[VPX_PLANE_U] = pic->u;
	img.planes[VPX_PLANE_V] = pic->v;
	img.stride[VPX_PLANE_Y] = pic->stride_y;
	img.stride[VPX_PLANE_U] = pic->stride_u;
	img.stride[VPX_PLANE_V] = pic->stride_v;

	rp = !e->force_kf && e->cfg.recovery_interval_ms > 0 && slot->tid == 0 &&
	     pts - e->arf_pts >= (int64_t)e->cfg.recovery_interval_ms * (CODEC_VP8_CLOCK / 1000);
	if (e->force_kf)
		flags = VPX_EFLAG_FORCE_KF;
	else if (rp) /* from ALTREF only, refreshing all three */
		flags = VP8_EFLAG_NO_REF_LAST | VP8_EFLAG_NO_REF_GF | VP8_EFLAG_FORCE_GF |
		        VP8_EFLAG_FORCE_ARF;
	else if (e->cfg.recovery_interval_ms > 0) /* ALTREF belongs to the recovery points (the
	                                             layer patterns leave it alone already) */
		flags = slot->flags | VP8_EFLAG_NO_UPD_ARF | VP8_EFLAG_NO_REF_ARF;
	else
		flags = slot->flags;
	if (e->cfg.layers > 1 &&
	    vpx_codec_control(&e->ctx, VP8E_SET_TEMPORAL_LAYER_ID, slot->tid) != VPX_CODEC_OK)
		return CODEC_VP8_EENCODE;
	if (vpx_codec_encode(&e->ctx, &img, pts,
	                     (unsigned long)CODEC_VP8_CLOCK * (unsigned long)e->cfg.fps_den /
	                             (unsigned long)e->cfg.fps_num,
	                     flags, VPX_DL_REALTIME) != VPX_CODEC_OK)
		return CODEC_VP8_EENCODE;
	e->last_pts = pts;
	e->have_pts = true;
	e->slot = (e->slot + 1) % period;

	while ((cx = vpx_codec_get_cx_data(&e->ctx, &iter)) != NULL) {
		if (cx->kind != VPX_CODEC_CX_FRAME_PKT)
			continue;
		if (got) {
			/* With no look-ahead libvpx emits at most one frame per input. */
			ret = CODEC_VP8_EENCODE;
			continue;
		}
		if (cx->data.frame.sz > e->out_cap) {
			uint8_t *nb = realloc(e->out, cx->data.frame.sz);
			if (!nb)
				return -ENOMEM;
			e->out = nb;
			e->out_cap = cx->data.frame.sz;
		}
		memcpy(e->out, cx->data.frame.buf, cx->data.frame.sz);
		key = (cx->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
		pkt->data = e->out;
		pkt->len = cx->data.frame.sz;
		pkt->pts = pts;
		pkt->width = e->cfg.width;
		pkt->height = e->cfg.height;
		pkt->keyframe = key;
		pkt->temporal_id = key ? 0 : slot->tid;
		pkt->layer_sync = key ? true : slot->sync;
		pkt->droppable = key ? false : slot->droppable;
		if (pkt->temporal_id == 0)
			e->tl0picidx++;
		pkt->tl0picidx = e->tl0picidx;
		pkt->recovery = rp && !key;
		pkt->recovery_ref = pkt->recovery ? e->arf_tl0 : 0;
		got = true;
	}
	if (ret != 0)
		return ret;
	if (got) {
		if (pkt->keyframe) {
			e->force_kf = false;
			e->since_kf = 0;
		}
		e->since_kf++;
		if (pkt->keyframe || pkt->recovery) {
			e->arf_tl0 = pkt->tl0picidx;
			e->arf_pts = pts;
		}
	}
	return got ? 1 : 0;
}

int codec_vp8_dec_new(struct codec_vp8_dec **out, int threads)
{
	vpx_codec_dec_cfg_t dcfg = {0};
	struct codec_vp8_dec *d;

	if (!out || threads < 0 || threads > 4)
		return -EINVAL;
	if (!(d = calloc(1, sizeof *d)))
		return -ENOMEM;
	dcfg.threads = threads ? (unsigned)threads : 1;
	if (vpx_codec_dec_init(&d->ctx, vpx_codec_vp8_dx(), &dcfg, 0) != VPX_CODEC_OK) {
		free(d);
		return CODEC_VP8_EINIT;
	}
	d->needs_kf = true; /* nothing decodable before the first keyframe */
	*out = d;
	return 0;
}

void codec_vp8_dec_free(struct codec_vp8_dec *d)
{
	if (!d)
		return;
	vpx_codec_destroy(&d->ctx);
	free(d);
}

bool codec_vp8_dec_needs_keyframe(const struct codec_vp8_dec *d)
{
	return d->needs_kf;
}

void codec_vp8_dec_frame_lost(struct codec_vp8_dec *d)
{
	if (d)
		d->needs_kf = true;
}

int codec_vp8_frame_peek(const uint8_t *data, size_t len, int *w, int *h)
{
	uint32_t tag, first_part;
	bool key;

	if (!data || len < 3)
		return CODEC_VP8_EDECODE;
	tag = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16;
	key = !(tag & 1);
	first_part = tag >> 5;
	if (((tag >> 1) & 7) > 3)
		return CODEC_VP8_EDECODE; /* versions 0-3 only */
	if (!key)
		return first_part <= len - 3 ? 0 : CODEC_VP8_EDECODE;
	if (len < 10 || data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a ||
	    first_part > len - 10)
		return CODEC_VP8_EDECODE;
	if (w)
		*w = (data[6] | data[7] << 8) & 0x3fff;
	if (h)
		*h = (data[8] | data[9] << 8) & 0x3fff;
	return 1;
}

int codec_vp8_dec_decode(struct codec_vp8_dec *d, const uint8_t *data, size_t len,
                         struct codec_vp8_picture *out)
{
	vpx_codec_iter_t iter = NULL;
	vpx_image_t *img;
	int corrupt = 0, peek;

	if (!d || !data || !out || len == 0 || len > (16u << 20))
		return -EINVAL;
	peek = codec_vp8_frame_peek(data, len, NULL, NULL);
	if (vpx_codec_decode(&d->ctx, data, (unsigned)len, NULL, 0) != VPX_CODEC_OK) {
		d->needs_kf = true;
		return CODEC_VP8_EDECODE;
	}
	/* Checked before looking for a picture: a keyframe may be decoded and not shown
	 * (show_frame = 0, as in conformance vector 018), and it still resynchronises us. */
	if (vpx_codec_control(&d->ctx, VP8D_GET_FRAME_CORRUPTED, &corrupt) != VPX_CODEC_OK)
		corrupt = 1;
	if (corrupt)
		d->needs_kf = true;
	else if (peek == 1)
		d->needs_kf = false;
	img = vpx_codec_get_frame(&d->ctx, &iter);
	if (!img)
		return 0;
	if (img->fmt != VPX_IMG_FMT_I420) {
		d->needs_kf = true;
		return CODEC_VP8_EDECODE;
	}
	out->pic.width = (int)img->d_w;
	out->pic.height = (int)img->d_h;
	out->pic.y = img->planes[VPX_PLANE_Y];
	out->pic.u = img->planes[VPX_PLANE_U];
	out->pic.v = img->planes[VPX_PLANE_V];
	out->pic.stride_y = img->stride[VPX_PLANE_Y];
	out->pic.stride_u = img->stride[VPX_PLANE_U];
	out->pic.stride_v = img->stride[VPX_PLANE_V];
	out->keyframe = peek == 1;
	out->corrupted = corrupt || d->needs_kf;
	return 1;
}
