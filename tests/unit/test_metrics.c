/* tests/unit/test_metrics.c — PSNR/SSIM: exact values on synthetic pictures, and agreement with
 * ffmpeg's psnr and ssim filters (per frame and averaged) on the reference clips. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/metrics.h"
#include "codec/scale.h"
#include "codec/vp8.h"
#include "codec/y4m.h"
#include "tests/unit/util/testutil.h"

#define PSNR_TOL 0.05 /* dB */
#define SSIM_TOL 0.002

static void view(struct codec_i420 *v, uint8_t *buf, int w, int h)
{
	assert_int_equal(codec_i420_view(v, buf, w, h), 0);
}

static void test_identical_pictures_give_infinite_psnr_and_unit_ssim(void **state)
{
	size_t sz = codec_i420_size(64, 48);
	uint8_t *a = malloc(sz);
	struct codec_i420 va;
	struct codec_metrics_frame m;
	struct codec_metrics_acc acc;
	struct codec_metrics_summary s;

	(void)state;
	for (size_t i = 0; i < sz; i++)
		a[i] = (uint8_t)(i * 7);
	view(&va, a, 64, 48);
	assert_int_equal(codec_metrics_frame_compute(&va, &va, &m), 0);
	assert_true(isinf(m.psnr_y) && isinf(m.psnr_yuv));
	assert_true(fabs(m.ssim_all - 1.0) < 1e-9);
	codec_metrics_acc_init(&acc);
	codec_metrics_acc_add(&acc, &m);
	codec_metrics_acc_summary(&acc, &s);
	assert_int_equal(s.frames, 1);
	assert_true(isinf(s.psnr_y) && isinf(s.ssim_all_db));
	free(a);
}

static void test_known_luma_offset_gives_exact_psnr(void **state)
{
	size_t sz = codec_i420_size(64, 48);
	uint8_t *a = malloc(sz), *b = malloc(sz);
	struct codec_i420 va, vb;
	struct codec_metrics_frame m;

	(void)state;
	memset(a, 100, sz);
	memcpy(b, a, sz);
	memset(b, 103, 64 * 48); /* luma +3 everywhere: MSE 9 */
	view(&va, a, 64, 48);
	view(&vb, b, 64, 48);
	assert_int_equal(codec_metrics_frame_compute(&va, &vb, &m), 0);
	assert_true(fabs(m.mse_y - 9.0) < 1e-12);
	assert_true(fabs(m.psnr_y - 10 * log10(65025.0 / 9)) < 1e-9);
	assert_true(isinf(m.psnr_u));
	/* Y is 4/6 of the samples: YUV MSE = 9 * 4/6 = 6. */
	assert_true(fabs(m.mse_yuv - 6.0) < 1e-12);
	/* A flat offset keeps structure: SSIM only loses its luminance term, slightly. */
	assert_true(m.ssim_y < 1.0 && m.ssim_y > 0.99);
	assert_true(fabs(m.ssim_u - 1.0) < 1e-9);
	free(a);
	free(b);
}

static void test_mismatched_or_tiny_pictures_are_refused(void **state)
{
	uint8_t *a = calloc(1, codec_i420_size(64, 64));
	struct codec_i420 va, vb;
	struct codec_metrics_frame m;

	(void)state;
	view(&va, a, 64, 48);
	view(&vb, a, 48, 64);
	assert_int_equal(codec_metrics_frame_compute(&va, &vb, &m), -EINVAL);
	view(&va, a, 14, 14);
	assert_int_equal(codec_metrics_frame_compute(&va, &va, &m), -EINVAL);
	assert_int_equal(codec_metrics_frame_compute(NULL, &va, &m), -EINVAL);
	free(a);
}

/* ---- agreement with ffmpeg ---- */

struct ff_frame {
	double psnr_y, psnr_u, psnr_v, psnr_avg;
	double ssim_y, ssim_u, ssim_v, ssim_all;
};

struct ff_result {
	int n;
	struct ff_frame f[256];
	struct ff_frame avg;
};

static double field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	if (!p)
		fail_msg("no \"%s\" in ffmpeg output line: %s", key, line);
	return strtod(p + strlen(key), NULL);
}

/* Runs ffmpeg's psnr and ssim filters on (test, ref) and parses the per-frame stats files and
 * the summary lines. */
static void run_ffmpeg(const char *dir, const char *test, const char *ref, struct ff_result *r)
{
	char cmd[2048], line[1024], path[600];
	FILE *f;
	int n;

	snprintf(cmd, sizeof cmd,
	         "ffmpeg -nostdin -hide_banner -loglevel info -i %s -i %s -lavfi "
	         "\"[0:v]split[a][b];[1:v]split[c][d];[a][c]psnr=stats_file=%s/psnr.log;"
	         "[b][d]ssim=stats_file=%s/ssim.log\" -f null - 2>%s/ff.log",
	         test, ref, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	memset(r, 0, sizeof *r);
	snprintf(path, sizeof path, "%s/psnr.log", dir);
	assert_non_null(f = fopen(path, "r"));
	for (n = 0; fgets(line, sizeof line, f) && n < 256; n++) {
		r->f[n].psnr_y = field(line, "psnr_y:");
		r->f[n].psnr_u = field(line, "psnr_u:");
		r->f[n].psnr_v = field(line, "psnr_v:");
		r->f[n].psnr_avg = field(line, "psnr_avg:");
	}
	fclose(f);
	r->n = n;
	snprintf(path, sizeof path, "%s/ssim.log", dir);
	assert_non_null(f = fopen(path, "r"));
	for (n = 0; fgets(line, sizeof line, f) && n < 256; n++) {
		r->f[n].ssim_y = field(line, "Y:");
		r->f[n].ssim_u = field(line, "U:");
		r->f[n].ssim_v = field(line, "V:");
		r->f[n].ssim_all = field(line, "All:");
	}
	fclose(f);
	assert_int_equal(n, r->n);
	snprintf(path, sizeof path, "%s/ff.log", dir);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "PSNR y:")) {
			r->avg.psnr_y = field(line, "y:");
			r->avg.psnr_u = field(line, "u:");
			r->avg.psnr_v = field(line, "v:");
			r->avg.psnr_avg = field(line, "average:");
		} else if (strstr(line, "SSIM Y:")) {
			r->avg.ssim_y = field(line, "Y:");
			r->avg.ssim_u = field(line, "U:");
			r->avg.ssim_v = field(line, "V:");
			r->avg.ssim_all = field(line, "All:");
		}
	}
	fclose(f);
	assert_true(r->avg.psnr_y > 0 && r->avg.ssim_all > 0);
}

static void close_enough(const char *what, int frame, double ours, double theirs, double tol)
{
	if (!(fabs(ours - theirs) <= tol))
		fail_msg("%s frame %d: ours %.6f, ffmpeg %.6f (tolerance %g)", what, frame, ours,
		         theirs, tol);
}

/* Our metrics over (test, ref) must match ffmpeg's, frame by frame and averaged. */
static void compare_with_ffmpeg(const char *dir, const char *test, const char *ref)
{
	struct codec_y4m_reader *rt = NULL, *rr = NULL;
	struct codec_metrics_acc acc;
	struct codec_metrics_summary s;
	struct ff_result *ff = malloc(sizeof *ff);
	double worst_psnr = 0, worst_ssim = 0;
	uint8_t *a, *b;
	size_t sz;
	int n = 0, w, h;

	assert_non_null(ff);
	run_ffmpeg(dir, test, ref, ff);
	assert_int_equal(codec_y4m_reader_open(&rt, test), 0);
	assert_int_equal(codec_y4m_reader_open(&rr, ref), 0);
	w = codec_y4m_reader_info(rr)->width;
	h = codec_y4m_reader_info(rr)->height;
	sz = codec_y4m_reader_frame_size(rr);
	a = malloc(sz);
	b = malloc(sz);
	codec_metrics_acc_init(&acc);
	while (codec_y4m_reader_read(rr, a, sz) == 1) {
		struct codec_i420 va, vb;
		struct codec_metrics_frame m;
		const struct ff_frame *f = &ff->f[n];

		assert_int_equal(codec_y4m_reader_read(rt, b, sz), 1);
		view(&va, a, w, h);
		view(&vb, b, w, h);
		assert_int_equal(codec_metrics_frame_compute(&va, &vb, &m), 0);
		codec_metrics_acc_add(&acc, &m);
		assert_true(n < ff->n);
		/* The stats file prints PSNR with 2 decimals: allow its rounding on top. */
		close_enough("psnr_y", n, m.psnr_y, f->psnr_y, PSNR_TOL + 0.005);
		close_enough("psnr_u", n, m.psnr_u, f->psnr_u, PSNR_TOL + 0.005);
		close_enough("psnr_v", n, m.psnr_v, f->psnr_v, PSNR_TOL + 0.005);
		close_enough("psnr_yuv", n, m.psnr_yuv, f->psnr_avg, PSNR_TOL + 0.005);
		close_enough("ssim_y", n, m.ssim_y, f->ssim_y, SSIM_TOL);
		close_enough("ssim_u", n, m.ssim_u, f->ssim_u, SSIM_TOL);
		close_enough("ssim_v", n, m.ssim_v, f->ssim_v, SSIM_TOL);
		close_enough("ssim_all", n, m.ssim_all, f->ssim_all, SSIM_TOL);
		if (fabs(m.psnr_y - f->psnr_y) > worst_psnr)
			worst_psnr = fabs(m.psnr_y - f->psnr_y);
		if (fabs(m.ssim_all - f->ssim_all) > worst_ssim)
			worst_ssim = fabs(m.ssim_all - f->ssim_all);
		n++;
	}
	assert_int_equal(n, ff->n);
	codec_metrics_acc_summary(&acc, &s);
	close_enough("average psnr_y", -1, s.psnr_y, ff->avg.psnr_y, PSNR_TOL);
	close_enough("average psnr_u", -1, s.psnr_u, ff->avg.psnr_u, PSNR_TOL);
	close_enough("average psnr_v", -1, s.psnr_v, ff->avg.psnr_v, PSNR_TOL);
	close_enough("average psnr_yuv", -1, s.psnr_yuv, ff->avg.psnr_avg, PSNR_TOL);
	close_enough("average ssim_y", -1, s.ssim_y, ff->avg.ssim_y, SSIM_TOL);
	close_enough("average ssim_u", -1, s.ssim_u, ff->avg.ssim_u, SSIM_TOL);
	close_enough("average ssim_v", -1, s.ssim_v, ff->avg.ssim_v, SSIM_TOL);
	close_enough("average ssim_all", -1, s.ssim_all, ff->avg.ssim_all, SSIM_TOL);
	printf("# %s: %d frames, PSNR-Y ours %.4f ffmpeg %.4f, SSIM ours %.6f ffmpeg %.6f; "
	       "worst frame diff %.4f dB / %.6f\n",
	       strrchr(test, '/') + 1, n, s.psnr_y, ff->avg.psnr_y, s.ssim_all, ff->avg.ssim_all,
	       worst_psnr, worst_ssim);
	codec_y4m_reader_close(rt);
	codec_y4m_reader_close(rr);
	free(a);
	free(b);
	free(ff);
}

/* Writes `ref` through our VP8 encoder and decoder at a low rate into `out`. */
static void vp8_degrade(const char *ref, const char *out, int kbps)
{
	struct codec_y4m_reader *r = NULL;
	struct codec_y4m_writer *w = NULL;
	struct codec_vp8_enc *e = NULL;
	struct codec_vp8_dec *d = NULL;
	struct codec_vp8_enc_config cfg = {0};
	const struct codec_y4m_info *info;
	uint8_t *buf, *dec;
	size_t sz;
	int i = 0;

	assert_int_equal(codec_y4m_reader_open(&r, ref), 0);
	info = codec_y4m_reader_info(r);
	cfg.width = info->width;
	cfg.height = info->height;
	cfg.fps_num = info->fps_num;
	cfg.fps_den = info->fps_den;
	cfg.bitrate_kbps = kbps;
	cfg.layers = 1;
	assert_int_equal(codec_vp8_enc_new(&e, &cfg), 0);
	assert_int_equal(codec_vp8_dec_new(&d, 1), 0);
	assert_int_equal(codec_y4m_writer_open(&w, out, info), 0);
	sz = codec_y4m_reader_frame_size(r);
	buf = malloc(sz);
	dec = malloc(sz);
	while (codec_y4m_reader_read(r, buf, sz) == 1) {
		struct codec_i420 v, vd;
		struct codec_vp8_packet pkt;
		struct codec_vp8_picture pic;

		view(&v, buf, cfg.width, cfg.height);
		assert_int_equal(codec_vp8_enc_encode(e, &v, 3000 * i++, &pkt), 1);
		assert_int_equal(codec_vp8_dec_decode(d, pkt.data, pkt.len, &pic), 1);
		view(&vd, dec, cfg.width, cfg.height);
		assert_int_equal(codec_i420_copy(&pic.pic, &vd), 0);
		assert_int_equal(codec_y4m_writer_write(w, dec), 0);
	}
	assert_int_equal(codec_y4m_writer_close(w), 0);
	codec_y4m_reader_close(r);
	codec_vp8_enc_free(e);
	codec_vp8_dec_free(d);
	free(buf);
	free(dec);
}

static void test_psnr_and_ssim_agree_with_ffmpeg_on_reference_clips(void **state)
{
	static const char *clips[] = {"CiscoVT2people_160x96_6fps.y4m",
	                              "CiscoVT2people_320x192_12fps.y4m"};
	char dir[] = "/tmp/pirogue-metrics-XXXXXX", ref[600], out[700], cmd[2048];

	(void)state;
	if (system("command -v ffmpeg >/dev/null 2>&1") != 0) {
		printf("# SKIPPED: ffmpeg is not installed (tools/deps.sh installs it); cannot "
		       "compare PSNR/SSIM with ffmpeg's filters\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	for (size_t c = 0; c < sizeof clips / sizeof clips[0]; c++) {
		snprintf(ref, sizeof ref, "%s/media/%s", tu_vectors_dir(), clips[c]);
		/* 1: strong temporal noise from ffmpeg (low PSNR, low SSIM). */
		snprintf(out, sizeof out, "%s/noise-%zu.y4m", dir, c);
		snprintf(cmd, sizeof cmd,
		         "ffmpeg -nostdin -loglevel error -i %s -vf noise=alls=20:allf=t+u "
		         "-pix_fmt yuv420p -y %s",
		         ref, out);
		assert_int_equal(system(cmd), 0);
		compare_with_ffmpeg(dir, out, ref);
		/* 2: a mild blur (high SSIM, where rounding matters most). */
		snprintf(out, sizeof out, "%s/blur-%zu.y4m", dir, c);
		snprintf(cmd, sizeof cmd,
		         "ffmpeg -nostdin -loglevel error -i %s -vf gblur=sigma=0.6 "
		         "-pix_fmt yuv420p -y %s",
		         ref, out);
		assert_int_equal(system(cmd), 0);
		compare_with_ffmpeg(dir, out, ref);
		/* 3: our own VP8 round trip at a low rate (the case the CLI measures). */
		snprintf(out, sizeof out, "%s/vp8-%zu.y4m", dir, c);
		vp8_degrade(ref, out, c == 0 ? 40 : 120);
		compare_with_ffmpeg(dir, out, ref);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_identical_pictures_give_infinite_psnr_and_unit_ssim),
	        cmocka_unit_test(test_known_luma_offset_gives_exact_psnr),
	        cmocka_unit_test(test_mismatched_or_tiny_pictures_are_refused),
	        cmocka_unit_test(test_psnr_and_ssim_agree_with_ffmpeg_on_reference_clips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
