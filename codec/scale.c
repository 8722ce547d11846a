/* codec/scale.c — I420 views, copy and scale through libyuv (see scale.h). */
#include "codec/scale.h"

#include <errno.h>
#include <libyuv.h>

size_t codec_i420_size(int width, int height)
{
	size_t cw, ch;

	if (width < 1 || height < 1 || width > CODEC_I420_MAX_DIM || height > CODEC_I420_MAX_DIM)
		return 0;
	if ((size_t)width * (size_t)height > CODEC_I420_MAX_PIXELS)
		return 0;
	cw = ((size_t)width + 1) / 2;
	ch = ((size_t)height + 1) / 2;
	return (size_t)width * (size_t)height + 2 * cw * ch;
}

int codec_i420_view(struct codec_i420 *view, uint8_t *buf, int width, int height)
{
	int cw = (width + 1) / 2, ch = (height + 1) / 2;

	if (!view || !buf || codec_i420_size(width, height) == 0)
		return -EINVAL;
	view->width = width;
	view->height = height;
	view->y = buf;
	view->u = buf + (size_t)width * (size_t)height;
	view->v = view->u + (size_t)cw * (size_t)ch;
	view->stride_y = width;
	view->stride_u = cw;
	view->stride_v = cw;
	return 0;
}

/* A view is usable when its planes exist and its strides cover its widths. */
static int view_ok(const struct codec_i420 *v)
{
	int cw;

	if (!v || !v->y || !v->u || !v->v || codec_i420_size(v->width, v->height) == 0)
		return 0;
	cw = (v->width + 1) / 2;
	return v->stride_y >= v->width && v->stride_u >= cw && v->stride_v >= cw;
}

int codec_i420_copy(const struct codec_i420 *src, const struct codec_i420 *dst)
{
	if (!view_ok(src) || !view_ok(dst) || src->width != dst->width ||
	    src->height != dst->height)
		return -EINVAL;
	if (I420Copy(src->y, src->stride_y, src->u, src->stride_u, src->v, src->stride_v, dst->y,
	             dst->stride_y, dst->u, dst->stride_u, dst->v, dst->stride_v, src->width,
	             src->height) != 0)
		return -EINVAL;
	return 0;
}

int codec_i420_scale(const struct codec_i420 *src, const struct codec_i420 *dst)
{
	if (!view_ok(src) || !view_ok(dst))
		return -EINVAL;
	if (src->width == dst->width && src->height == dst->height)
		return codec_i420_copy(src, dst);
	/* I420Scale returns non-zero only when it cannot allocate its row buffers (or for
	 * arguments view_ok already refused). */
	if (I420Scale(src->y, src->stride_y, src->u, src->stride_u, src->v, src->stride_v,
	              src->width, src->height, dst->y, dst->stride_y, dst->u, dst->stride_u, dst->v,
	              dst->stride_v, dst->width, dst->height, kFilterBox) != 0)
		return -ENOMEM;
	return 0;
}
