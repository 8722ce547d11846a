/* tests/unit/test_scale.c — I420 sizes and views, libyuv copy and scale through our wrappers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/scale.h"

static void test_sizes_include_rounded_up_chroma_and_refuse_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(codec_i420_size(640, 360), 640 * 360 * 3 / 2);
	assert_int_equal(codec_i420_size(175, 143), 175 * 143 + 2 * 88 * 72);
	assert_int_equal(codec_i420_size(1, 1), 3);
	assert_int_equal(codec_i420_size(0, 10), 0);
	assert_int_equal(codec_i420_size(10, -1), 0);
	assert_int_equal(codec_i420_size(CODEC_I420_MAX_DIM + 1, 16), 0);
	assert_int_equal(codec_i420_size(4097, 4096), 0); /* over CODEC_I420_MAX_PIXELS */
	assert_true(codec_i420_size(4096, 4096) > 0);
}

static void test_view_lays_planes_back_to_back(void **state)
{
	uint8_t buf[64];
	struct codec_i420 v;

	(void)state;
	assert_int_equal(codec_i420_view(&v, buf, 5, 3), 0);
	assert_ptr_equal(v.u, buf + 15);
	assert_ptr_equal(v.v, buf + 15 + 3 * 2);
	assert_int_equal(v.stride_u, 3);
	assert_int_equal(codec_i420_view(&v, NULL, 5, 3), -EINVAL);
	assert_int_equal(codec_i420_view(&v, buf, 0, 3), -EINVAL);
}

static void test_copy_handles_padded_strides_and_refuses_mismatches(void **state)
{
	enum { W = 33, H = 17, PAD = 64 };
	size_t sz = codec_i420_size(W, H);
	uint8_t *src = malloc(sz), *back = malloc(sz), *padded = calloc(3, (size_t)PAD * H);
	struct codec_i420 s, p, b;

	(void)state;
	for (size_t i = 0; i < sz; i++)
		src[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(codec_i420_view(&s, src, W, H), 0);
	p = (struct codec_i420){W,   H,   padded, padded + PAD * H, padded + 2 * PAD * H,
	                        PAD, PAD, PAD};
	assert_int_equal(codec_i420_copy(&s, &p), 0);
	assert_int_equal(codec_i420_view(&b, back, W, H), 0);
	assert_int_equal(codec_i420_copy(&p, &b), 0);
	assert_memory_equal(src, back, sz);
	b.width = W - 1;
	assert_int_equal(codec_i420_copy(&p, &b), -EINVAL);
	p.stride_y = W - 1;
	assert_int_equal(codec_i420_scale(&p, &s), -EINVAL);
	free(src);
	free(back);
	free(padded);
}

static void test_scale_keeps_flat_colour_and_changes_size(void **state)
{
	size_t a = codec_i420_size(320, 192), b = codec_i420_size(160, 90),
	       c = codec_i420_size(1280, 720);
	uint8_t *src = malloc(a), *small = malloc(b), *big = malloc(c);
	struct codec_i420 vs, vsm, vb;

	(void)state;
	memset(src, 77, 320 * 192);
	memset(src + 320 * 192, 140, a - 320 * 192);
	assert_int_equal(codec_i420_view(&vs, src, 320, 192), 0);
	assert_int_equal(codec_i420_view(&vsm, small, 160, 90), 0);
	assert_int_equal(codec_i420_view(&vb, big, 1280, 720), 0);
	assert_int_equal(codec_i420_scale(&vs, &vsm), 0);
	assert_int_equal(codec_i420_scale(&vs, &vb), 0);
	for (size_t i = 0; i < b; i++)
		assert_int_equal(small[i], i < 160 * 90 ? 77 : 140);
	for (size_t i = 0; i < c; i++)
		assert_int_equal(big[i], i < 1280 * 720 ? 77 : 140);
	free(src);
	free(small);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sizes_include_rounded_up_chroma_and_refuse_out_of_range),
	        cmocka_unit_test(test_view_lays_planes_back_to_back),
	        cmocka_unit_test(test_copy_handles_padded_strides_and_refuses_mismatches),
	        cmocka_unit_test(test_scale_keeps_flat_colour_and_changes_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
