/* tests/unit/test_ivf.c — IVF reader/writer: conformance files parse, round trips, and every
 * kind of bad or lying header and frame size is refused with its reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/ivf.h"
#include "tests/unit/util/testutil.h"

static void le16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A valid 176x144 30/1 VP8 header into h[32]. */
static void good_header(uint8_t *h)
{
	memset(h, 0, 32);
	memcpy(h, "DKIF", 4);
	le16(h + 6, 32);
	memcpy(h + 8, "VP80", 4);
	le16(h + 12, 176);
	le16(h + 14, 144);
	le32(h + 16, 30);
	le32(h + 20, 1);
	le32(h + 24, 2);
}

static void test_conformance_files_parse_with_catalogue_sizes(void **state)
{
	/* From the vectors' README.txt catalogue. */
	static const struct {
		int num, w, h, frames;
	} cat[] = {{1, 176, 144, 29},
	           {6, 175, 143, 48},
	           {8, 1432, 888, 2},
	           {10, 320, 240, 57},
	           {15, 320, 240, 260}};

	(void)state;
	for (size_t i = 0; i < sizeof cat / sizeof cat[0]; i++) {
		char path[600];
		struct codec_ivf_reader *r = NULL;
		const uint8_t *d;
		size_t len;
		uint64_t pts, last = 0;
		int n = 0, ret;

		snprintf(path, sizeof path, "%s/conformance/vp8/vp80-00-comprehensive-%03d.ivf",
		         tu_vectors_dir(), cat[i].num);
		ret = codec_ivf_reader_open(&r, path);
		if (ret != 0)
			fail_msg("%s: %s", path, codec_ivf_last_error());
		assert_int_equal(codec_ivf_reader_info(r)->fourcc, CODEC_IVF_FOURCC_VP8);
		assert_int_equal(codec_ivf_reader_info(r)->width, cat[i].w);
		assert_int_equal(codec_ivf_reader_info(r)->height, cat[i].h);
		while ((ret = codec_ivf_reader_read(r, &d, &len, &pts)) == 1) {
			assert_true(len > 0);
			assert_true(n == 0 || pts > last);
			last = pts;
			n++;
		}
		assert_int_equal(ret, 0);
		/* Vector 018 has a hidden frame; the others one IVF frame per picture. */
		assert_int_equal(n, cat[i].frames);
		codec_ivf_reader_close(r);
	}
}

static void test_writer_output_reads_back_with_count_patched(void **state)
{
	char path[] = "/tmp/pirogue-ivf-XXXXXX";
	struct codec_ivf_info info = {.width = 640, .height = 360, .rate = 90000, .scale = 1};
	struct codec_ivf_writer *w = NULL;
	struct codec_ivf_reader *r = NULL;
	uint8_t frame[3000];
	const uint8_t *d;
	size_t len;
	uint64_t pts;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof frame; i++)
		frame[i] = (uint8_t)(i ^ 0x55);
	assert_int_equal(codec_ivf_writer_open(&w, path, &info), 0);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(
		        codec_ivf_writer_write(w, frame, (size_t)i * 500, (uint64_t)i * 6000), 0);
	assert_int_equal(codec_ivf_writer_write(w, frame, 0, 1), -EINVAL);
	assert_int_equal(codec_ivf_writer_close(w), 0);
	assert_int_equal(codec_ivf_reader_open(&r, path), 0);
	assert_int_equal(codec_ivf_reader_info(r)->frame_count, 5);
	assert_int_equal(codec_ivf_reader_info(r)->rate, 90000);
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(codec_ivf_reader_read(r, &d, &len, &pts), 1);
		assert_int_equal(len, (size_t)i * 500);
		assert_int_equal(pts, (uint64_t)i * 6000);
		assert_memory_equal(d, frame, len);
	}
	assert_int_equal(codec_ivf_reader_read(r, &d, &len, &pts), 0);
	codec_ivf_reader_close(r);
	unlink(path);
	info.rate = 0;
	assert_int_equal(codec_ivf_writer_open(&w, path, &info), -EINVAL);
}

static void expect_header(const uint8_t *h, size_t len, int want, const char *why)
{
	struct codec_ivf_reader *r = NULL;
	int ret = codec_ivf_reader_open_mem(&r, h, len);

	if (ret != want)
		fail_msg("got %d (%s), want %d (%s)", ret, codec_ivf_strerror(ret), want,
		         codec_ivf_strerror(want));
	assert_null(r);
	if (!strstr(codec_ivf_last_error(), why))
		fail_msg("reason \"%s\" does not mention \"%s\"", codec_ivf_last_error(), why);
}

static void test_bad_headers_are_refused_with_their_reason(void **state)
{
	uint8_t h[32];

	(void)state;
	good_header(h);
	expect_header(h, 0, CODEC_IVF_ETRUNC, "empty");
	expect_header(h, 20, CODEC_IVF_ETRUNC, "20 of 32");
	expect_header(h, 3, CODEC_IVF_ETRUNC, "3 of 32");
	memcpy(h, "RIFF", 4);
	expect_header(h, 32, CODEC_IVF_EMAGIC, "DKIF");
	good_header(h);
	le16(h + 4, 1);
	expect_header(h, 32, CODEC_IVF_EHEADER, "version 1");
	good_header(h);
	le16(h + 6, 64);
	expect_header(h, 32, CODEC_IVF_EHEADER, "64 bytes");
	good_header(h);
	memcpy(h + 8, "VP90", 4);
	expect_header(h, 32, CODEC_IVF_EFOURCC, "VP90");
	good_header(h);
	le16(h + 12, 0);
	expect_header(h, 32, CODEC_IVF_EHEADER, "0x144");
	good_header(h);
	le32(h + 16, 0);
	expect_header(h, 32, CODEC_IVF_EHEADER, "time base");
	good_header(h);
	le32(h + 20, 0);
	expect_header(h, 32, CODEC_IVF_EHEADER, "time base");
}

/* Reads header + frames from memory; returns the first non-frame result and the reason. */
static int read_mem(const uint8_t *p, size_t len, int *frames, char *why, size_t why_len)
{
	struct codec_ivf_reader *r = NULL;
	const uint8_t *d;
	size_t dl;
	uint64_t pts;
	int ret;

	assert_int_equal(codec_ivf_reader_open_mem(&r, p, len), 0);
	*frames = 0;
	while ((ret = codec_ivf_reader_read(r, &d, &dl, &pts)) == 1)
		(*frames)++;
	snprintf(why, why_len, "%s", codec_ivf_reader_error(r));
	if (ret < 0)
		assert_int_equal(codec_ivf_reader_read(r, &d, &dl, &pts), ret);
	codec_ivf_reader_close(r);
	return ret;
}

static void test_lying_and_truncated_frames_are_refused(void **state)
{
	uint8_t f[32 + 12 + 100 + 12 + 100];
	char why[200];
	int frames;

	(void)state;
	good_header(f);
	le32(f + 32, 100);
	memset(f + 32 + 4, 0, 8);
	memset(f + 44, 0xaa, 100);
	le32(f + 144, 100);
	memset(f + 148, 0, 8);
	le32(f + 148, 1);
	memset(f + 156, 0xbb, 100);
	assert_int_equal(read_mem(f, sizeof f, &frames, why, sizeof why), 0);
	assert_int_equal(frames, 2);
	/* Second frame's data cut short. */
	assert_int_equal(read_mem(f, sizeof f - 1, &frames, why, sizeof why), CODEC_IVF_EFRAMESZ);
	assert_int_equal(frames, 1);
	assert_non_null(strstr(why, "only 99 bytes are left"));
	/* Second frame header cut short. */
	assert_int_equal(read_mem(f, 144 + 5, &frames, why, sizeof why), CODEC_IVF_ETRUNC);
	assert_int_equal(frames, 1);
	assert_non_null(strstr(why, "5 of 12"));
	/* A size that lies: larger than the file. */
	le32(f + 144, 5000);
	assert_int_equal(read_mem(f, sizeof f, &frames, why, sizeof why), CODEC_IVF_EFRAMESZ);
	assert_non_null(strstr(why, "declared size 5000"));
	/* A size over the hard limit (refused before any allocation). */
	le32(f + 144, 0xfffffff0u);
	assert_int_equal(read_mem(f, sizeof f, &frames, why, sizeof why), CODEC_IVF_EFRAMESZ);
	assert_non_null(strstr(why, "limit"));
	/* An empty frame. */
	le32(f + 144, 0);
	assert_int_equal(read_mem(f, sizeof f, &frames, why, sizeof why), CODEC_IVF_EFRAMESZ);
	assert_non_null(strstr(why, "empty"));
}

static void test_lying_size_on_a_pipe_is_caught_as_truncation(void **state)
{
	char path[] = "/tmp/pirogue-ivf-XXXXXX", cmd[200];
	uint8_t f[32 + 12 + 10];
	struct codec_ivf_reader *r = NULL;
	const uint8_t *d;
	size_t len;
	uint64_t pts;
	FILE *fp;
	int fd = mkstemp(path);

	(void)state;
	good_header(f);
	le32(f + 32, 1000); /* 1000 declared, 10 present */
	memset(f + 36, 0, 18);
	assert_int_equal(write(fd, f, sizeof f), (ssize_t)sizeof f);
	close(fd);
	/* Through stdin from a pipe: no file size to check against. */
	snprintf(cmd, sizeof cmd, "cat %s", path);
	assert_non_null(fp = popen(cmd, "r"));
	assert_int_equal(dup2(fileno(fp), 0), 0);
	assert_int_equal(codec_ivf_reader_open(&r, "-"), 0);
	assert_int_equal(codec_ivf_reader_read(r, &d, &len, &pts), CODEC_IVF_ETRUNC);
	assert_non_null(strstr(codec_ivf_reader_error(r), "10 of 1000"));
	codec_ivf_reader_close(r);
	pclose(fp);
	unlink(path);
}

static void test_frame_header_parser_bounds(void **state)
{
	uint8_t fh[12] = {0};
	uint32_t size = 7;
	uint64_t pts = 9;

	(void)state;
	assert_int_equal(codec_ivf_frame_header_parse(fh, 11, &size, &pts), CODEC_IVF_ETRUNC);
	assert_int_equal(codec_ivf_frame_header_parse(fh, 12, &size, &pts), CODEC_IVF_EFRAMESZ);
	assert_int_equal(size, 7); /* untouched on error */
	le32(fh, CODEC_IVF_FRAME_MAX + 1);
	assert_int_equal(codec_ivf_frame_header_parse(fh, 12, &size, &pts), CODEC_IVF_EFRAMESZ);
	le32(fh, 42);
	fh[11] = 0x80;
	assert_int_equal(codec_ivf_frame_header_parse(fh, 12, &size, &pts), 0);
	assert_int_equal(size, 42);
	assert_true(pts == 0x8000000000000000ull);
	assert_int_equal(codec_ivf_reader_open(&(struct codec_ivf_reader *){NULL}, "/nonexistent"),
	                 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_conformance_files_parse_with_catalogue_sizes),
	        cmocka_unit_test(test_writer_output_reads_back_with_count_patched),
	        cmocka_unit_test(test_bad_headers_are_refused_with_their_reason),
	        cmocka_unit_test(test_lying_and_truncated_frames_are_refused),
	        cmocka_unit_test(test_lying_size_on_a_pipe_is_caught_as_truncation),
	        cmocka_unit_test(test_frame_header_parser_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
