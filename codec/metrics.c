/* codec/metrics.c — PSNR and SSIM as ffmpeg's filters compute them (see metrics.h).
 *
 * libyuv has PSNR/SSIM helpers (compare.h), but its SSIM uses a different window (8x8 with a
 * Gaussian-like weighting) and so disagrees with ffmpeg's by more than our 0.002 tolerance;
 * that is why the loops below are written out: they reproduce ffmpeg's definition. The sum of
 * squared errors does come from libyuv (ComputeSumSquareErrorPlane, SIMD).
 */
#include "codec/metrics.h"

#include <errno.h>
#include <libyuv.h>
#include <math.h>
#include <stdlib.h>

double codec_metrics_psnr(double mse)
{
	if (mse <= 0.0)
		return INFINITY;
	return 10.0 * log10(255.0 * 255.0 / mse);
}

/* Sums over one row of 4x4 blocks: s1 = sum a, s2 = sum b, ss = sum a^2 + b^2, s12 = sum ab. */
static void block_row_sums(const uint8_t *a, int sa, const uint8_t *b, int sb, int blocks,
                           int (*sums)[4])
{
	for (int z = 0; z < blocks; z++) {
		int s1 = 0, s2 = 0, ss = 0, s12 = 0;

		for (int y = 0; y < 4; y++)
			for (int x = 0; x < 4; x++) {
				int pa = a[4 * z + x + y * sa], pb = b[4 * z + x + y * sb];
				s1 += pa;
				s2 += pb;
				ss += pa * pa + pb * pb;
				s12 += pa * pb;
			}
		sums[z][0] = s1;
		sums[z][1] = s2;
		sums[z][2] = ss;
		sums[z][3] = s12;
	}
}

/* SSIM of one 8x8 window from its sums (64 samples), in ffmpeg's integer-then-float steps. */
static float window_ssim(int s1, int s2, int ss, int s12)
{
	const int c1 = (int)(.01 * .01 * 255 * 255 * 64 + .5);
	const int c2 = (int)(.03 * .03 * 255 * 255 * 64 * 63 + .5);
	int vars = ss * 64 - s1 * s1 - s2 * s2;
	int covar = s12 * 64 - s1 * s2;

	return (float)(2 * s1 * s2 + c1) * (float)(2 * covar + c2) /
	       ((float)(s1 * s1 + s2 * s2 + c1) * (float)(vars + c2));
}

static int plane_ssim(const uint8_t *a, int sa, const uint8_t *b, int sb, int w, int h, double *out)
{
	int bw = w >> 2, bh = h >> 2;
	int(*prev)[4], (*cur)[4], (*tmp)[4];
	double total = 0.0;

	if (bw < 2 || bh < 2)
		return -EINVAL;
	prev = calloc((size_t)bw * 2, sizeof *prev);
	if (!prev)
		return -ENOMEM;
	cur = prev + bw;
	block_row_sums(a, sa, b, sb, bw, prev);
	for (int y = 1; y < bh; y++) {
		block_row_sums(a + (size_t)4 * y * sa, sa, b + (size_t)4 * y * sb, sb, bw, cur);
		for (int x = 0; x < bw - 1; x++) {
			int s[4];
			for (int k = 0; k < 4; k++)
				s[k] = prev[x][k] + prev[x + 1][k] + cur[x][k] + cur[x + 1][k];
			total += window_ssim(s[0], s[1], s[2], s[3]);
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	free(prev < cur ? prev : cur);
	*out = total / ((double)(bh - 1) * (bw - 1));
	return 0;
}

int codec_metrics_frame_compute(const struct codec_i420 *ref, const struct codec_i420 *test,
                                struct codec_metrics_frame *out)
{
	struct codec_metrics_frame f;
	int w, h, cw, ch, ret;
	double ny, nc;

	if (!ref || !test || !out || ref->width != test->width || ref->height != test->height ||
	    ref->width < CODEC_METRICS_MIN_DIM || ref->height < CODEC_METRICS_MIN_DIM ||
	    codec_i420_size(ref->width, ref->height) == 0)
		return -EINVAL;
	w = ref->width;
	h = ref->height;
	cw = (w + 1) / 2;
	ch = (h + 1) / 2;
	ny = (double)w * h;
	nc = (double)cw * ch;
	f.mse_y = (double)ComputeSumSquareErrorPlane(ref->y, ref->stride_y, test->y, test->stride_y,
	                                             w, h) /
	          ny;
	f.mse_u = (double)ComputeSumSquareErrorPlane(ref->u, ref->stride_u, test->u, test->stride_u,
	                                             cw, ch) /
	          nc;
	f.mse_v = (double)ComputeSumSquareErrorPlane(ref->v, ref->stride_v, test->v, test->stride_v,
	                                             cw, ch) /
	          nc;
	f.mse_yuv = (f.mse_y * ny + (f.mse_u + f.mse_v) * nc) / (ny + 2 * nc);
	f.psnr_y = codec_metrics_psnr(f.mse_y);
	f.psnr_u = codec_metrics_psnr(f.mse_u);
	f.psnr_v = codec_metrics_psnr(f.mse_v);
	f.psnr_yuv = codec_metrics_psnr(f.mse_yuv);
	/* ffmpeg's SSIM takes the reference as the first ("main") input; the formula is
	 * symmetric in the two pictures, so the order does not matter. */
	if ((ret = plane_ssim(ref->y, ref->stride_y, test->y, test->stride_y, w, h, &f.ssim_y)) ||
	    (ret = plane_ssim(ref->u, ref->stride_u, test->u, test->stride_u, cw, ch, &f.ssim_u)) ||
	    (ret = plane_ssim(ref->v, ref->stride_v, test->v, test->stride_v, cw, ch, &f.ssim_v)))
		return ret;
	f.ssim_all = (f.ssim_y * ny + (f.ssim_u + f.ssim_v) * nc) / (ny + 2 * nc);
	*out = f;
	return 0;
}

void codec_metrics_acc_init(struct codec_metrics_acc *acc)
{
	*acc = (struct codec_metrics_acc){.psnr_y_min = INFINITY, .ssim_all_min = 1.0};
}

void codec_metrics_acc_add(struct codec_metrics_acc *acc, const struct codec_metrics_frame *f)
{
	if (acc->frames == 0) {
		acc->psnr_y_min = INFINITY;
		acc->ssim_all_min = 1.0;
	}
	acc->frames++;
	acc->mse_y += f->mse_y;
	acc->mse_u += f->mse_u;
	acc->mse_v += f->mse_v;
	acc->mse_yuv += f->mse_yuv;
	acc->ssim_y += f->ssim_y;
	acc->ssim_u += f->ssim_u;
	acc->ssim_v += f->ssim_v;
	acc->ssim_all += f->ssim_all;
	if (f->psnr_y < acc->psnr_y_min)
		acc->psnr_y_min = f->psnr_y;
	if (f->ssim_all < acc->ssim_all_min)
		acc->ssim_all_min = f->ssim_all;
}

void codec_metrics_acc_summary(const struct codec_metrics_acc *acc,
                               struct codec_metrics_summary *out)
{
	double n = (double)acc->frames;

	*out = (struct codec_metrics_summary){0};
	if (acc->frames == 0)
		return;
	out->frames = acc->frames;
	out->psnr_y = codec_metrics_psnr(acc->mse_y / n);
	out->psnr_u = codec_metrics_psnr(acc->mse_u / n);
	out->psnr_v = codec_metrics_psnr(acc->mse_v / n);
	out->psnr_yuv = codec_metrics_psnr(acc->mse_yuv / n);
	out->ssim_y = acc->ssim_y / n;
	out->ssim_u = acc->ssim_u / n;
	out->ssim_v = acc->ssim_v / n;
	out->ssim_all = acc->ssim_all / n;
	out->ssim_all_db = out->ssim_all >= 1.0 ? INFINITY : -10.0 * log10(1.0 - out->ssim_all);
	out->psnr_y_min = acc->psnr_y_min;
	out->ssim_all_min = acc->ssim_all_min;
}
