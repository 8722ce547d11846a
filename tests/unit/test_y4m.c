/* tests/unit/test_y4m.c — Y4M reader/writer: the reference clips read byte-exact, round trips,
 * every kind of bad header or truncated frame refused with its own reason, and the clip loop
 * of file-driven sessions (ping-pong from memory, or restarted). */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/scale.h"
#include "codec/y4m.h"
#include "tests/unit/util/testutil.h"

static void test_reference_clips_read_byte_exact_against_raw_yuv(void **state)
{
	static const struct {
		const char *name;
		int w, h, fps, frames;
	} clips[] = {{"CiscoVT2people_160x96_6fps", 160, 96, 6, 5},
	             {"CiscoVT2people_320x192_12fps", 320, 192, 12, 9}};

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		char path[600];
		struct codec_y4m_reader *r = NULL;
		const struct codec_y4m_info *info;
		size_t rawlen, fs;
		uint8_t *raw, *buf;
		int n = 0, ret;

		snprintf(path, sizeof path, "%s/media/%s.yuv", tu_vectors_dir(), clips[c].name);
		raw = tu_read_file(path, &rawlen);
		assert_non_null(raw);
		snprintf(path, sizeof path, "%s/media/%s.y4m", tu_vectors_dir(), clips[c].name);
		assert_int_equal(codec_y4m_reader_open(&r, path), 0);
		info = codec_y4m_reader_info(r);
		assert_int_equal(info->width, clips[c].w);
		assert_int_equal(info->height, clips[c].h);
		assert_int_equal(info->fps_num, clips[c].fps);
		assert_int_equal(info->fps_den, 1);
		assert_int_equal(info->interlace, 'p');
		fs = codec_y4m_reader_frame_size(r);
		assert_int_equal(fs, (size_t)clips[c].w * clips[c].h * 3 / 2);
		buf = malloc(fs);
		while ((ret = codec_y4m_reader_read(r, buf, fs)) == 1) {
			assert_true((size_t)(n + 1) * fs <= rawlen);
			assert_memory_equal(buf, raw + (size_t)n * fs, fs);
			n++;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(n, clips[c].frames);
		assert_int_equal((size_t)n * fs, rawlen);
		codec_y4m_reader_close(r);
		free(buf);
		free(raw);
	}
}

static void test_writer_output_reads_back_identically_with_odd_sizes(void **state)
{
	char path[] = "/tmp/pirogue-y4m-XXXXXX";
	struct codec_y4m_info info = {.width = 33,
	                              .height = 17,
	                              .fps_num = 30000,
	                              .fps_den = 1001,
	                              .par_num = 1,
	                              .par_den = 1};
	struct codec_y4m_writer *w = NULL;
	struct codec_y4m_reader *r = NULL;
	size_t fs = codec_i420_size(33, 17);
	uint8_t *a = malloc(fs * 3), *b = malloc(fs);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fs, 33 * 17 + 2 * 17 * 9);
	for (size_t i = 0; i < fs * 3; i++)
		a[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(codec_y4m_writer_open(&w, path, &info), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(codec_y4m_writer_write(w, a + fs * (size_t)i), 0);
	assert_int_equal(codec_y4m_writer_close(w), 0);
	assert_int_equal(codec_y4m_reader_open(&r, path), 0);
	assert_int_equal(codec_y4m_reader_info(r)->fps_num, 30000);
	assert_int_equal(codec_y4m_reader_info(r)->fps_den, 1001);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(codec_y4m_reader_read(r, b, fs), 1);
		assert_memory_equal(b, a + fs * (size_t)i, fs);
	}
	assert_int_equal(codec_y4m_reader_read(r, b, fs), 0);
	assert_int_equal(codec_y4m_reader_read(r, b, fs - 1), -EINVAL);
	codec_y4m_reader_close(r);
	unlink(path);
	info.fps_num = 0;
	assert_int_equal(codec_y4m_writer_open(&w, path, &info), -EINVAL);
	free(a);
	free(b);
}

/* Opens `text` (+ optional frame bytes) from memory and expects `want` with a reason that
 * contains `why`. */
static void expect_open(const char *text, int want, const char *why)
{
	struct codec_y4m_reader *r = NULL;
	int ret = codec_y4m_reader_open_mem(&r, (const uint8_t *)text, strlen(text));

	if (ret != want)
		fail_msg("header \"%.60s\": got %d (%s), want %d (%s)", text, ret,
		         codec_y4m_strerror(ret), want, codec_y4m_strerror(want));
	assert_null(r);
	if (!strstr(codec_y4m_last_error(), why))
		fail_msg("header \"%.60s\": reason \"%s\" does not mention \"%s\"", text,
		         codec_y4m_last_error(), why);
}

static void test_bad_headers_are_refused_with_their_reason(void **state)
{
	char longline[2048];

	(void)state;
	expect_open("", CODEC_Y4M_EMAGIC, "empty");
	expect_open("RIFF....WAVEfmt \n", CODEC_Y4M_EMAGIC, "YUV4MPEG2");
	expect_open("YUV4MPEG2X W16 H16 F1:1\n", CODEC_Y4M_EMAGIC, "YUV4MPEG2");
	expect_open("YUV4MPEG2 W16 H16 F25:1", CODEC_Y4M_ETRUNC, "truncated");
	expect_open("YUV4", CODEC_Y4M_EMAGIC, "YUV4MPEG2");
	expect_open("YUV4MPEG2 W16 H16 F25:1 C422\n", CODEC_Y4M_EFORMAT, "C422");
	expect_open("YUV4MPEG2 W16 H16 F25:1 C444\n", CODEC_Y4M_EFORMAT, "C444");
	expect_open("YUV4MPEG2 W16 H16 F25:1 Cmono\n", CODEC_Y4M_EFORMAT, "Cmono");
	expect_open("YUV4MPEG2 W16 H16 F25:1 C420p10\n", CODEC_Y4M_EFORMAT, "4:2:0 8-bit");
	expect_open("YUV4MPEG2 W16 H16 F25:1 C444alpha\n", CODEC_Y4M_EFORMAT, "C444alpha");
	expect_open("YUV4MPEG2 H16 F25:1\n", CODEC_Y4M_ESIZE, "width");
	expect_open("YUV4MPEG2 W16 F25:1\n", CODEC_Y4M_ESIZE, "height");
	expect_open("YUV4MPEG2 W0 H16 F25:1\n", CODEC_Y4M_ESIZE, "W0");
	expect_open("YUV4MPEG2 W-5 H16 F25:1\n", CODEC_Y4M_ESIZE, "W-5");
	expect_open("YUV4MPEG2 W16x H16 F25:1\n", CODEC_Y4M_ESIZE, "W16x");
	expect_open("YUV4MPEG2 W99999999999 H16 F25:1\n", CODEC_Y4M_ESIZE, "width");
	expect_open("YUV4MPEG2 W8000 H8000 F25:1\n", CODEC_Y4M_ESIZE, "larger than");
	expect_open("YUV4MPEG2 W16 H16\n", CODEC_Y4M_ERATE, "frame rate");
	expect_open("YUV4MPEG2 W16 H16 F0:1\n", CODEC_Y4M_ERATE, "F0:1");
	expect_open("YUV4MPEG2 W16 H16 F25:0\n", CODEC_Y4M_ERATE, "F25:0");
	expect_open("YUV4MPEG2 W16 H16 F25\n", CODEC_Y4M_ERATE, "F25");
	expect_open("YUV4MPEG2 W16 H16 F25:1 Ix\n", CODEC_Y4M_ESYNTAX, "interlace");
	expect_open("YUV4MPEG2 W16 H16 F25:1 A1\n", CODEC_Y4M_ESYNTAX, "aspect");
	expect_open("YUV4MPEG2 W16 H16 F25:1 Z9\n", CODEC_Y4M_ESYNTAX, "unknown");
	memset(longline, 'X', sizeof longline);
	memcpy(longline, "YUV4MPEG2 W16 H16 F25:1 X", 25);
	longline[sizeof longline - 1] = '\0';
	expect_open(longline, CODEC_Y4M_ESYNTAX, "longer than");
}

static void test_accepted_header_variants(void **state)
{
	static const char *ok[] = {
	        "YUV4MPEG2 W16 H16 F25:1\n",
	        "YUV4MPEG2 W16 H16 F25:1 Ip A0:0 C420jpeg\n",
	        "YUV4MPEG2 W16 H16 F30000:1001 It A1:1 C420mpeg2 XYSCSS=420MPEG2\n",
	        "YUV4MPEG2  W16  H16 F25:1 C420paldv \n",
	        "YUV4MPEG2 W17 H15 F25:1 C420\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct codec_y4m_reader *r = NULL;
		int ret = codec_y4m_reader_open_mem(&r, (const uint8_t *)ok[i], strlen(ok[i]));
		if (ret != 0)
			fail_msg("\"%s\" refused: %s", ok[i], codec_y4m_last_error());
		/* A header alone is a stream with no frames. */
		uint8_t buf[1024];
		assert_int_equal(codec_y4m_reader_read(r, buf, sizeof buf), 0);
		codec_y4m_reader_close(r);
	}
}

/* Reads a stream made of `hdr` + `body` (body_len bytes) and returns the first read error. */
static int read_all(const char *hdr, const uint8_t *body, size_t body_len, int *frames, char *why,
                    size_t why_len)
{
	size_t hl = strlen(hdr), fs;
	uint8_t *p = malloc(hl + body_len + 1), *buf;
	struct codec_y4m_reader *r = NULL;
	int ret;

	memcpy(p, hdr, hl);
	memcpy(p + hl, body, body_len);
	assert_int_equal(codec_y4m_reader_open_mem(&r, p, hl + body_len), 0);
	fs = codec_y4m_reader_frame_size(r);
	buf = malloc(fs);
	*frames = 0;
	while ((ret = codec_y4m_reader_read(r, buf, fs)) == 1)
		(*frames)++;
	snprintf(why, why_len, "%s", codec_y4m_reader_error(r));
	/* Errors are sticky. */
	if (ret < 0)
		assert_int_equal(codec_y4m_reader_read(r, buf, fs), ret);
	codec_y4m_reader_close(r);
	free(buf);
	free(p);
	return ret;
}

static void test_frames_with_params_are_read_and_bad_frames_refused(void **state)
{
	const char *hdr = "YUV4MPEG2 W16 H16 F25:1\n";
	uint8_t body[2 * (6 + 384) + 2048];
	char why[200];
	int frames;
	size_t n = 0;

	(void)state;
	/* FRAME with parameters, then a plain one. */
	memcpy(body, "FRAME Ixyz\n", 11);
	n = 11;
	memset(body + n, 1, 384);
	n += 384;
	memcpy(body + n, "FRAME\n", 6);
	n += 6;
	memset(body + n, 2, 384);
	n += 384;
	assert_int_equal(read_all(hdr, body, n, &frames, why, sizeof why), 0);
	assert_int_equal(frames, 2);
	/* Last frame cut short. */
	assert_int_equal(read_all(hdr, body, n - 100, &frames, why, sizeof why), CODEC_Y4M_ETRUNC);
	assert_int_equal(frames, 1);
	assert_non_null(strstr(why, "284 of 384"));
	/* Stream ends inside a FRAME line. */
	assert_int_equal(read_all(hdr, body, 11 + 384 + 3, &frames, why, sizeof why),
	                 CODEC_Y4M_ETRUNC);
	assert_int_equal(frames, 1);
	/* Frame with a wrong marker (as if the header lied about the size). */
	memcpy(body + 11 + 384, "FRAMX\n", 6);
	assert_int_equal(read_all(hdr, body, n, &frames, why, sizeof why), CODEC_Y4M_EFRAME);
	assert_int_equal(frames, 1);
	assert_non_null(strstr(why, "FRAME"));
	/* A header that lies about the size: 16x8 frames read from 16x16 data. */
	memcpy(body + 11 + 384, "FRAME\n", 6);
	assert_int_equal(read_all("YUV4MPEG2 W16 H8 F25:1\n", body, n, &frames, why, sizeof why),
	                 CODEC_Y4M_EFRAME);
	assert_int_equal(frames, 1);
	/* An endless FRAME line. */
	memcpy(body, "FRAME ", 6);
	memset(body + 6, 'x', sizeof body - 6);
	assert_int_equal(read_all(hdr, body, sizeof body, &frames, why, sizeof why),
	                 CODEC_Y4M_ESYNTAX);
	assert_int_equal(frames, 0);
}

static void test_missing_file_reports_errno(void **state)
{
	struct codec_y4m_reader *r = NULL;

	(void)state;
	assert_int_equal(codec_y4m_reader_open(&r, "/nonexistent/x.y4m"), -ENOENT);
	assert_non_null(strstr(codec_y4m_last_error(), "/nonexistent/x.y4m"));
	codec_y4m_reader_close(NULL);
	assert_int_equal(codec_y4m_writer_close(NULL), 0);
}

#define CLIP_TEMPLATE "/tmp/pirogue-y4m-XXXXXX"

/* Writes `n` 8x8 frames, frame i filled with byte i + 1, to a new temporary file whose name it
 * puts in `path` (sizeof CLIP_TEMPLATE); with `bad_last`, the last frame's marker is broken. */
static void write_clip(char *path, int n, bool bad_last)
{
	struct codec_y4m_info info = {.width = 8, .height = 8, .fps_num = 12, .fps_den = 1};
	struct codec_y4m_writer *w = NULL;
	uint8_t frame[96];
	FILE *f;
	int fd;

	memcpy(path, CLIP_TEMPLATE, sizeof CLIP_TEMPLATE);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(codec_i420_size(8, 8), sizeof frame);
	assert_int_equal(codec_y4m_writer_open(&w, path, &info), 0);
	for (int i = 0; i < n; i++) {
		memset(frame, i + 1, sizeof frame);
		assert_int_equal(codec_y4m_writer_write(w, frame), 0);
	}
	assert_int_equal(codec_y4m_writer_close(w), 0);
	if (bad_last) { /* "FRAME" -> "FRAMX" in the last frame */
		assert_non_null(f = fopen(path, "r+b"));
		assert_int_equal(fseek(f, -(long)(sizeof frame + 2), SEEK_END), 0);
		assert_int_equal(fputc('X', f), 'X');
		assert_int_equal(fclose(f), 0);
	}
}

/* Plays `steps` pictures of the loop and checks each against want[] (file frame numbers). */
static void expect_loop(struct codec_y4m_loop *l, const size_t *want, int steps)
{
	uint8_t buf[96];
	size_t f = 99;

	for (int i = 0; i < steps; i++) {
		assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, &f), 0);
		assert_int_equal(f, want[i]);
		assert_int_equal(buf[0], want[i] + 1);
		assert_int_equal(buf[95], want[i] + 1);
	}
}

static void test_pingpong_index(void **state)
{
	(void)state;
	assert_int_equal(codec_y4m_pingpong(0, 1), 0);
	assert_int_equal(codec_y4m_pingpong(5, 1), 0);
	assert_int_equal(codec_y4m_pingpong(0, 2), 0);
	assert_int_equal(codec_y4m_pingpong(1, 2), 1);
	assert_int_equal(codec_y4m_pingpong(2, 2), 0);
	/* the 9-frame reference clips: 0..8, 7..1, then 0 again every 16 steps */
	assert_int_equal(codec_y4m_pingpong(8, 9), 8);
	assert_int_equal(codec_y4m_pingpong(9, 9), 7);
	assert_int_equal(codec_y4m_pingpong(15, 9), 1);
	assert_int_equal(codec_y4m_pingpong(16, 9), 0);
	assert_int_equal(codec_y4m_pingpong(16ull * 1000000007ull + 12, 9), 4);
}

/* A clip that fits the memory bound plays back and forth without a cut, from memory (the file
 * can go once it has been read through); one that does not starts again from its first frame;
 * a single picture repeats. */
static void test_loop_bounces_a_short_clip_and_restarts_a_long_one(void **state)
{
	char path[sizeof CLIP_TEMPLATE];
	static const size_t bounce[] = {0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1},
	                    wrap[] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1}, one[] = {0, 0, 0};
	struct codec_y4m_loop *l = NULL;

	(void)state;
	write_clip(path, 4, false);
	assert_int_equal(codec_y4m_loop_open(&l, path, 4 * 96), 0);
	assert_int_equal(codec_y4m_loop_frame_size(l), 96);
	assert_int_equal(codec_y4m_loop_info(l)->fps_num, 12);
	expect_loop(l, bounce, 4);
	unlink(path);
	expect_loop(l, bounce + 4, 10);
	codec_y4m_loop_close(l);

	write_clip(path, 4, false);
	assert_int_equal(codec_y4m_loop_open(&l, path, 4 * 96 - 1), 0);
	expect_loop(l, wrap, 10);
	codec_y4m_loop_close(l);
	unlink(path);

	write_clip(path, 12, false); /* more frames than the first allocation holds */
	assert_int_equal(codec_y4m_loop_open(&l, path, 12 * 96), 0);
	for (uint64_t i = 0; i < 40; i++) {
		size_t want = codec_y4m_pingpong(i, 12);

		expect_loop(l, &want, 1);
	}
	codec_y4m_loop_close(l);
	unlink(path);

	write_clip(path, 1, false);
	assert_int_equal(codec_y4m_loop_open(&l, path, 1 << 20), 0);
	expect_loop(l, one, 1);
	unlink(path);
	expect_loop(l, one, 3);
	codec_y4m_loop_close(l);
}

/* An empty clip, a broken frame and a clip that disappears before it could be restarted are
 * errors with their reason, and stay errors; nothing is played past them; so is a clip that
 * lost its frames before it was read again. */
static void test_loop_reports_what_stops_it(void **state)
{
	char path[sizeof CLIP_TEMPLATE];
	struct codec_y4m_loop *l = NULL;
	uint8_t buf[96];
	static const size_t first[] = {0, 1};

	(void)state;
	write_clip(path, 0, false);
	assert_int_equal(codec_y4m_loop_open(&l, path, 1 << 20), 0);
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), CODEC_Y4M_ETRUNC);
	assert_non_null(strstr(codec_y4m_loop_error(l), "no frame"));
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf - 1, NULL), -EINVAL);
	codec_y4m_loop_close(l);
	unlink(path);

	write_clip(path, 3, true);
	assert_int_equal(codec_y4m_loop_open(&l, path, 1 << 20), 0);
	expect_loop(l, first, 2);
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), CODEC_Y4M_EFRAME);
	assert_non_null(strstr(codec_y4m_loop_error(l), "FRAME"));
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), CODEC_Y4M_EFRAME);
	codec_y4m_loop_close(l);
	unlink(path);

	write_clip(path, 2, false); /* too big to keep: must be reopened, and is gone */
	assert_int_equal(codec_y4m_loop_open(&l, path, 0), 0);
	expect_loop(l, first, 2);
	unlink(path);
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), -ENOENT);
	assert_non_null(strstr(codec_y4m_loop_error(l), path));
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), -EIO);
	codec_y4m_loop_close(l);

	write_clip(path, 2, false); /* too big to keep, and has lost its frames when reopened */
	assert_int_equal(codec_y4m_loop_open(&l, path, 0), 0);
	expect_loop(l, first, 2);
	{
		size_t len = 0;
		uint8_t *text = tu_read_file(path, &len);
		uint8_t *nl;

		assert_non_null(text);
		assert_non_null(nl = memchr(text, '\n', len));
		assert_int_equal(truncate(path, (off_t)(nl - text + 1)), 0);
		free(text);
	}
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), CODEC_Y4M_ETRUNC);
	assert_non_null(strstr(codec_y4m_loop_error(l), "no frame left"));
	assert_int_equal(codec_y4m_loop_read(l, buf, sizeof buf, NULL), -EIO);
	codec_y4m_loop_close(l);
	unlink(path);

	codec_y4m_loop_close(NULL);
	assert_int_equal(codec_y4m_loop_open(&l, "/nonexistent/x.y4m", 1 << 20), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reference_clips_read_byte_exact_against_raw_yuv),
	        cmocka_unit_test(test_writer_output_reads_back_identically_with_odd_sizes),
	        cmocka_unit_test(test_bad_headers_are_refused_with_their_reason),
	        cmocka_unit_test(test_accepted_header_variants),
	        cmocka_unit_test(test_frames_with_params_are_read_and_bad_frames_refused),
	        cmocka_unit_test(test_missing_file_reports_errno),
	        cmocka_unit_test(test_pingpong_index),
	        cmocka_unit_test(test_loop_bounces_a_short_clip_and_restarts_a_long_one),
	        cmocka_unit_test(test_loop_reports_what_stops_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
