/* codec/scale.h — I420 picture views, scaling and copying (libyuv underneath).
 *
 * Every picture the video code passes around is 8-bit I420 (YUV 4:2:0 planar): a luma plane of
 * width x height and two chroma planes of ((width + 1) / 2) x ((height + 1) / 2). A
 * struct codec_i420 is a borrowed view of such a picture (planes may carry row padding, as
 * libvpx's images do); a "contiguous" I420 buffer is the three planes back to back with no
 * padding, the layout of Y4M frames and of `vpxdec --i420` output. Scaling and conversion go
 * through libyuv (SIMD, maintained with Chromium): there are no hand-written pixel loops here.
 */
#ifndef PIROGUE_CODEC_SCALE_H
#define PIROGUE_CODEC_SCALE_H

#include <stddef.h>
#include <stdint.h>

/* Largest picture accepted anywhere in the video code (4096x4096 luma samples): a bound on the
 * memory a hostile header can make us allocate (a 4096x4096 frame is 24 MiB). */
#define CODEC_I420_MAX_PIXELS (4096 * 4096)
/* Largest width or height (VP8's own limit is 16383). */
#define CODEC_I420_MAX_DIM 16383

/* A borrowed view of one I420 picture; the planes belong to whoever filled the view. */
struct codec_i420 {
	int width;
	int height;
	uint8_t *y;
	uint8_t *u;
	uint8_t *v;
	int stride_y;
	int stride_u;
	int stride_v;
};

/* Bytes of a contiguous I420 picture of width x height, or 0 if either is < 1, above
 * CODEC_I420_MAX_DIM, or the picture is larger than CODEC_I420_MAX_PIXELS. */
size_t codec_i420_size(int width, int height);

/* Fills `view` to describe the contiguous I420 buffer `buf` (of at least
 * codec_i420_size(width, height) bytes; borrowed). Returns 0, or -EINVAL if the size is out of
 * range or buf is NULL (view untouched). */
int codec_i420_view(struct codec_i420 *view, uint8_t *buf, int width, int height)
        __attribute__((warn_unused_result));

/* Copies src into dst (same width and height; strides may differ) with libyuv's I420Copy.
 * Returns 0, or -EINVAL if the sizes differ or a view is malformed (dst untouched). */
int codec_i420_copy(const struct codec_i420 *src, const struct codec_i420 *dst)
        __attribute__((warn_unused_result));

/* Scales src into dst (any sizes, each within the limits above) with libyuv's I420Scale and
 * its box filter (the best quality it has for downscaling; bilinear-equivalent when
 * upscaling). Same-size input is copied. Returns 0, -EINVAL for a malformed view, or -ENOMEM
 * if libyuv could not allocate its row buffers. */
int codec_i420_scale(const struct codec_i420 *src, const struct codec_i420 *dst)
        __attribute__((warn_unused_result));

#endif
