/* codec/metrics.h — PSNR and SSIM between two I420 pictures, defined as ffmpeg's filters are.
 *
 * PSNR (ffmpeg `psnr`): per plane MSE = mean squared difference over the plane's samples;
 * PSNR = 10 log10(255^2 / MSE) (+infinity for identical planes). The "YUV" value weights each
 * plane's MSE by its share of the samples (Y 4/6, U 1/6, V 1/6 for even sizes). Averages over
 * frames are, as in ffmpeg's summary line, the PSNR of the mean MSE (not the mean of PSNRs).
 *
 * SSIM (ffmpeg `ssim`, after x264): per plane, sums of 4x4 blocks are combined two by two into
 * 8x8 windows that overlap by 4 samples in each direction; each window's SSIM uses the
 * constants C1 = (0.01*255)^2, C2 = (0.03*255)^2 scaled to the window (64 samples) and the
 * unbiased (63) variance, computed in the same integer-then-float steps as ffmpeg; the plane's
 * SSIM is the mean over windows (a (w/4 - 1) x (h/4 - 1) grid, ragged edges left out). "All"
 * weights the planes by sample count; averages over frames are plain means.
 */
#ifndef PIROGUE_CODEC_METRICS_H
#define PIROGUE_CODEC_METRICS_H

#include <stdint.h>

#include "codec/scale.h"

/* Smallest picture measured: SSIM needs two 4x4 blocks each way in the chroma planes. */
#define CODEC_METRICS_MIN_DIM 16

/* One frame's scores. PSNRs may be INFINITY (identical planes). */
struct codec_metrics_frame {
	double mse_y, mse_u, mse_v, mse_yuv;
	double psnr_y, psnr_u, psnr_v, psnr_yuv;
	double ssim_y, ssim_u, ssim_v, ssim_all;
};

/* Running totals over a sequence (caller-owned; zero it or use codec_metrics_acc_init). */
struct codec_metrics_acc {
	uint64_t frames;
	double mse_y, mse_u, mse_v, mse_yuv;
	double ssim_y, ssim_u, ssim_v, ssim_all;
	double psnr_y_min; /* worst frame's luma PSNR */
	double ssim_all_min;
};

/* The averages (PSNR of the mean MSE; mean SSIM; SSIM in dB = -10 log10(1 - SSIM)). */
struct codec_metrics_summary {
	uint64_t frames;
	double psnr_y, psnr_u, psnr_v, psnr_yuv;
	double ssim_y, ssim_u, ssim_v, ssim_all, ssim_all_db;
	double psnr_y_min, ssim_all_min;
};

/* 10 log10(255^2 / mse), +INFINITY when mse is 0. */
double codec_metrics_psnr(double mse);

/* Scores `test` against `ref` (same width and height, both >= CODEC_METRICS_MIN_DIM).
 * Returns 0 and fills *out, -EINVAL for mismatched or too small pictures, -ENOMEM. */
int codec_metrics_frame_compute(const struct codec_i420 *ref, const struct codec_i420 *test,
                                struct codec_metrics_frame *out)
        __attribute__((warn_unused_result));

void codec_metrics_acc_init(struct codec_metrics_acc *acc);
/* Adds one frame's scores to the totals. */
void codec_metrics_acc_add(struct codec_metrics_acc *acc, const struct codec_metrics_frame *f);
/* Computes the averages so far (all fields 0 / NAN-free zeros if no frame was added). */
void codec_metrics_acc_summary(const struct codec_metrics_acc *acc,
                               struct codec_metrics_summary *out);

#endif
