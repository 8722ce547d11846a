/* tests/unit/test_wav.c — WAV reader/writer (round trip, extra chunks, refusal of every kind of
 * truncated or lying header) and the speexdsp resampler (frequency, level and timing kept). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/resample.h"
#include "codec/wav.h"
#include "tests/unit/util/testutil.h"

/* ---- a small WAV builder for hand-made (and broken) files ------------------------------- */

struct blob {
	uint8_t b[4096];
	size_t n;
};

static void put(struct blob *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof w->b);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put16(struct blob *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(w, b, 2);
}

static void put32(struct blob *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(w, b, 4);
}

static void set32(struct blob *w, size_t off, uint32_t v)
{
	w->b[off] = (uint8_t)v;
	w->b[off + 1] = (uint8_t)(v >> 8);
	w->b[off + 2] = (uint8_t)(v >> 16);
	w->b[off + 3] = (uint8_t)(v >> 24);
}

static void riff_begin(struct blob *w)
{
	w->n = 0;
	put(w, "RIFF", 4);
	put32(w, 0); /* fixed by riff_end */
	put(w, "WAVE", 4);
}

static void riff_end(struct blob *w)
{
	set32(w, 4, (uint32_t)(w->n - 8));
}

struct fmt_fields {
	uint16_t tag, channels, block_align, bits;
	uint32_t rate, byte_rate;
};

static struct fmt_fields pcm_fmt(unsigned rate, unsigned channels)
{
	struct fmt_fields f = {1,    (uint16_t)channels, (uint16_t)(channels * 2), 16,
	                       rate, rate * channels * 2};

	return f;
}

static void put_fmt(struct blob *w, struct fmt_fields f)
{
	put(w, "fmt ", 4);
	put32(w, 16);
	put16(w, f.tag);
	put16(w, f.channels);
	put32(w, f.rate);
	put32(w, f.byte_rate);
	put16(w, f.block_align);
	put16(w, f.bits);
}

static void put_chunk(struct blob *w, const char *id, const void *body, uint32_t len)
{
	put(w, id, 4);
	put32(w, len);
	put(w, body, len);
	if (len & 1)
		put(w, "", 1);
}

/* data chunk with n samples 0, 1000, -1000, 2000, ... */
static void put_data(struct blob *w, size_t n)
{
	put(w, "data", 4);
	put32(w, (uint32_t)(n * 2));
	for (size_t i = 0; i < n; i++)
		put16(w, (uint16_t)(int16_t)((i & 1 ? -1 : 1) * (int)(i * 1000 % 30000)));
}

static void assert_refused(const struct blob *w, int want)
{
	struct codec_wav_info info = {1, 1, 1};
	int16_t *pcm = (int16_t *)&info;
	int ret = codec_wav_parse(w->b, w->n, &info, &pcm);

	if (ret != want)
		fail_msg("expected %d (%s), got %d (%s)", want, codec_wav_strerror(want), ret,
		         codec_wav_strerror(ret));
	/* Nothing written on refusal. */
	assert_int_equal(info.sample_rate, 1);
	assert_ptr_equal(pcm, (int16_t *)&info);
	assert_true(strlen(codec_wav_strerror(want)) > 10);
}

/* ---- round trips ------------------------------------------------------------------------- */

static void test_serialize_then_parse_round_trips_mono_and_stereo(void **state)
{
	(void)state;
	for (unsigned ch = 1; ch <= 2; ch++) {
		struct codec_wav_info in = {22050, ch, 1001}, out;
		int16_t *pcm = malloc(in.frames * ch * sizeof *pcm), *back = NULL;
		uint8_t *file = NULL;
		size_t len = 0;

		assert_non_null(pcm);
		for (size_t i = 0; i < in.frames * ch; i++)
			pcm[i] = (int16_t)(i * 7919 % 65536 - 32768);
		assert_int_equal(codec_wav_serialize(&in, pcm, &file, &len), 0);
		assert_int_equal(len, CODEC_WAV_HEADER_LEN + in.frames * ch * 2);
		assert_memory_equal(file, "RIFF", 4);
		assert_int_equal(codec_wav_parse(file, len, &out, &back), 0);
		assert_int_equal(out.sample_rate, 22050);
		assert_int_equal(out.channels, ch);
		assert_int_equal(out.frames, 1001);
		assert_memory_equal(back, pcm, in.frames * ch * sizeof *pcm);
		free(pcm);
		free(back);
		free(file);
	}
}

static void test_file_write_then_read_round_trips(void **state)
{
	struct codec_wav_info in = {8000, 2, 4000}, out;
	char path[] = "/tmp/test_wav_XXXXXX";
	int16_t *pcm = calloc(in.frames * 2, sizeof *pcm), *back = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_non_null(pcm);
	for (size_t i = 0; i < in.frames * 2; i++)
		pcm[i] = (int16_t)(i % 2 ? -(int)i : (int)i);
	assert_int_equal(codec_wav_write_file(path, &in, pcm), 0);
	assert_int_equal(codec_wav_read_file(path, &out, &back), 0);
	assert_int_equal(out.sample_rate, 8000);
	assert_int_equal(out.channels, 2);
	assert_int_equal(out.frames, 4000);
	assert_memory_equal(back, pcm, in.frames * 2 * sizeof *pcm);
	unlink(path);
	assert_int_equal(codec_wav_read_file(path, &out, &back), -ENOENT);
	assert_int_equal(codec_wav_read_file("/tmp", &out, &back), -EISDIR);
	free(pcm);
	free(back);
}

static void test_reads_the_reference_speech_vector(void **state)
{
	char path[4096];
	struct codec_wav_info info;
	int16_t *pcm = NULL;
	int ret;

	(void)state;
	snprintf(path, sizeof path, "%s/media/jfk_16k_mono.wav", tu_vectors_dir());
	ret = codec_wav_read_file(path, &info, &pcm);
	if (ret)
		fail_msg("%s: %s", path, codec_wav_strerror(ret));
	/* PROVENANCE.md: PCM s16le, 16000 Hz, mono, 176,000 samples. */
	assert_int_equal(info.sample_rate, 16000);
	assert_int_equal(info.channels, 1);
	assert_int_equal(info.frames, 176000);
	free(pcm);
}

static void test_skips_extra_chunks_and_pad_bytes(void **state)
{
	static const char list[] = "INFOISFT\x05\0\0\0Lavf\0"; /* 17 bytes: odd, padded */
	struct blob w;
	struct codec_wav_info info;
	int16_t *pcm = NULL;

	(void)state;
	riff_begin(&w);
	put_chunk(&w, "JUNK", "\0\0\0\0", 4);
	put_fmt(&w, pcm_fmt(44100, 1));
	put_chunk(&w, "LIST", list, 17);
	put_chunk(&w, "fact", "\x10\0\0\0", 4);
	put_data(&w, 9);
	put_chunk(&w, "LIST", list, 17);
	riff_end(&w);
	assert_int_equal(codec_wav_parse(w.b, w.n, &info, &pcm), 0);
	assert_int_equal(info.sample_rate, 44100);
	assert_int_equal(info.frames, 9);
	assert_int_equal(pcm[0], 0);
	assert_int_equal(pcm[1], -1000);
	assert_int_equal(pcm[2], 2000);
	free(pcm);

	/* Trailing bytes after the RIFF chunk (as some tools append) are ignored. */
	riff_begin(&w);
	put_fmt(&w, pcm_fmt(8000, 2));
	put_data(&w, 4);
	riff_end(&w);
	put(&w, "garbage", 7);
	assert_int_equal(codec_wav_parse(w.b, w.n, &info, &pcm), 0);
	assert_int_equal(info.frames, 2);
	free(pcm);

	/* An empty data chunk is a valid, empty file. */
	riff_begin(&w);
	put_fmt(&w, pcm_fmt(8000, 1));
	put_data(&w, 0);
	riff_end(&w);
	pcm = (int16_t *)&w;
	assert_int_equal(codec_wav_parse(w.b, w.n, &info, &pcm), 0);
	assert_int_equal(info.frames, 0);
	assert_null(pcm);
}

static void test_accepts_extensible_pcm_and_refuses_extensible_float(void **state)
{
	static const uint8_t pcm_guid[16] = {1,    0, 0, 0,    0, 0,    0x10, 0,
	                                     0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71};
	struct blob w;
	struct codec_wav_info info;
	int16_t *pcm = NULL;

	(void)state;
	for (int variant = 0; variant < 3; variant++) {
		uint8_t guid[16];

		memcpy(guid, pcm_guid, 16);
		if (variant == 1)
			guid[0] = 3; /* IEEE float sub-format */
		riff_begin(&w);
		put(&w, "fmt ", 4);
		put32(&w, 40);
		put16(&w, 0xfffe);
		put16(&w, 2);
		put32(&w, 48000);
		put32(&w, 48000 * 4);
		put16(&w, 4);
		put16(&w, 16);
		put16(&w, 22);
		put16(&w, variant == 2 ? 12 : 16); /* valid bits */
		put32(&w, 3);
		put(&w, guid, 16);
		put_data(&w, 8);
		riff_end(&w);
		if (variant == 0) {
			assert_int_equal(codec_wav_parse(w.b, w.n, &info, &pcm), 0);
			assert_int_equal(info.channels, 2);
			assert_int_equal(info.frames, 4);
			free(pcm);
		} else {
			assert_refused(&w, variant == 1 ? CODEC_WAV_EFORMAT : CODEC_WAV_EBITS);
		}
	}
}

/* ---- refusals: one per reason ------------------------------------------------------------ */

static void test_refuses_truncated_and_foreign_headers(void **state)
{
	struct blob w;

	(void)state;
	w.n = 0;
	put(&w, "RIFF\x10\0\0\0WA", 10);
	assert_refused(&w, CODEC_WAV_ETRUNC);
	w.n = 0;
	assert_refused(&w, CODEC_WAV_ETRUNC);
	w.n = 0;
	put(&w, "RIFX\x04\0\0\0WAVE", 12);
	assert_refused(&w, CODEC_WAV_ENOTRIFF);
	w.n = 0;
	put(&w, "RIFF\x04\0\0\0AVI ", 12);
	assert_refused(&w, CODEC_WAV_ENOTWAVE);
}

static void test_refuses_riff_and_chunk_lengths_that_lie(void **state)
{
	struct blob w;

	(void)state;
	/* RIFF length one byte longer than the file: truncated file or lying header. */
	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 1));
	put_data(&w, 10);
	riff_end(&w);
	set32(&w, 4, (uint32_t)(w.n - 8 + 1));
	assert_refused(&w, CODEC_WAV_ERIFFLEN);
	set32(&w, 4, 0xffffffff);
	assert_refused(&w, CODEC_WAV_ERIFFLEN);
	set32(&w, 4, 3);
	assert_refused(&w, CODEC_WAV_ERIFFLEN);

	/* data length claims more than there is (RIFF length consistent with the file). */
	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 1));
	put_data(&w, 10);
	riff_end(&w);
	set32(&w, 40, 22);
	assert_refused(&w, CODEC_WAV_ECHUNKLEN);
	set32(&w, 40, 0xfffffffe);
	assert_refused(&w, CODEC_WAV_ECHUNKLEN);

	/* An unknown chunk whose length runs past the end. */
	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 1));
	put(&w, "LIST", 4);
	put32(&w, 1000);
	put(&w, "INFO", 4);
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_ECHUNKLEN);

	/* Every proper prefix of a valid file is refused (cut anywhere, it is truncated). */
	riff_begin(&w);
	put_chunk(&w, "LIST", "INFOabcde", 9);
	put_fmt(&w, pcm_fmt(16000, 2));
	put_data(&w, 20);
	riff_end(&w);
	for (size_t cut = 0; cut < w.n; cut++) {
		struct codec_wav_info info;
		int16_t *pcm = NULL;

		assert_true(codec_wav_parse(w.b, cut, &info, &pcm) < 0);
		assert_null(pcm);
	}
}

static void test_refuses_missing_duplicate_or_short_fmt(void **state)
{
	struct blob w;

	(void)state;
	riff_begin(&w);
	put_data(&w, 4);
	put_fmt(&w, pcm_fmt(16000, 1));
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_ENOFMT);

	riff_begin(&w);
	put_chunk(&w, "LIST", "INFO", 4);
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_ENOFMT);

	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 1));
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_ENODATA);

	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 1));
	put_fmt(&w, pcm_fmt(8000, 1));
	put_data(&w, 4);
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_EDUPFMT);

	riff_begin(&w);
	put_chunk(&w, "fmt ", "\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0", 14);
	put_data(&w, 4);
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_EFMTLEN);

	/* WAVE_FORMAT_EXTENSIBLE needs 40 bytes of fmt. */
	riff_begin(&w);
	{
		struct fmt_fields f = pcm_fmt(16000, 1);

		f.tag = 0xfffe;
		put_fmt(&w, f);
	}
	put_data(&w, 4);
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_EFMTLEN);
}

static void test_refuses_unsupported_or_inconsistent_formats(void **state)
{
	static const struct {
		struct fmt_fields f;
		int want;
	} cases[] = {
	        {{3, 1, 4, 32, 16000, 64000}, CODEC_WAV_EFORMAT},     /* IEEE float */
	        {{6, 1, 1, 8, 8000, 8000}, CODEC_WAV_EFORMAT},        /* A-law */
	        {{1, 1, 1, 8, 16000, 16000}, CODEC_WAV_EBITS},        /* 8-bit PCM */
	        {{1, 1, 3, 24, 16000, 48000}, CODEC_WAV_EBITS},       /* 24-bit PCM */
	        {{1, 3, 6, 16, 16000, 96000}, CODEC_WAV_ECHANNELS},   /* 3 channels */
	        {{1, 0, 0, 16, 16000, 0}, CODEC_WAV_ECHANNELS},       /* no channel */
	        {{1, 1, 2, 16, 7999, 15998}, CODEC_WAV_ERATE},        /* below 8 kHz */
	        {{1, 1, 2, 16, 96000, 192000}, CODEC_WAV_ERATE},      /* above 48 kHz */
	        {{1, 2, 2, 16, 16000, 32000}, CODEC_WAV_EBLOCKALIGN}, /* stereo, align of mono */
	        {{1, 1, 2, 16, 16000, 16000}, CODEC_WAV_EBYTERATE},   /* byte rate lies */
	};
	struct blob w;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		riff_begin(&w);
		put_fmt(&w, cases[i].f);
		put_data(&w, 12);
		riff_end(&w);
		assert_refused(&w, cases[i].want);
	}
}

static void test_refuses_data_that_is_not_whole_frames(void **state)
{
	struct blob w;

	(void)state;
	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 1));
	put_chunk(&w, "data", "\1\2\3", 3);
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_EDATALEN);

	riff_begin(&w);
	put_fmt(&w, pcm_fmt(16000, 2));
	put_data(&w, 3); /* 3 samples = 1.5 stereo frames */
	riff_end(&w);
	assert_refused(&w, CODEC_WAV_EDATALEN);
}

static void test_writer_refuses_what_it_cannot_write(void **state)
{
	struct codec_wav_info info = {16000, 3, 1};
	int16_t pcm[6] = {0};
	uint8_t *out = (uint8_t *)pcm;
	size_t len = 7;

	(void)state;
	assert_int_equal(codec_wav_serialize(&info, pcm, &out, &len), CODEC_WAV_ECHANNELS);
	info.channels = 1;
	info.sample_rate = 4000;
	assert_int_equal(codec_wav_serialize(&info, pcm, &out, &len), CODEC_WAV_ERATE);
	info.sample_rate = 16000;
	info.frames = (size_t)1 << 31;
	assert_int_equal(codec_wav_serialize(&info, pcm, &out, &len), CODEC_WAV_ETOOBIG);
	info.frames = 1;
	assert_int_equal(codec_wav_serialize(&info, NULL, &out, &len), -EINVAL);
	assert_ptr_equal(out, (uint8_t *)pcm);
	assert_int_equal(len, 7);
	assert_int_equal(codec_wav_write_file("/nonexistent-dir/x.wav", &info, pcm), -ENOENT);
}

/* ---- resampling -------------------------------------------------------------------------- */

/* Frequency of a sine from its zero crossings over the middle of the signal. */
static double zc_frequency(const int16_t *x, size_t n, unsigned rate)
{
	size_t first = 0, last = 0, count = 0;

	for (size_t i = n / 10; i + 1 < n - n / 10; i++) {
		if ((x[i] < 0) != (x[i + 1] < 0)) {
			if (!count)
				first = i;
			last = i;
			count++;
		}
	}
	assert_true(count > 10);
	return (double)(count - 1) / 2.0 / ((double)(last - first) / rate);
}

static void test_resampling_keeps_a_sines_frequency_level_and_timing(void **state)
{
	static const unsigned rates[] = {8000, 11025, 22050, 44100, 32000, 16000};
	const double f = 997.0, amp = 12000; /* prime, off any bin of the rates */

	(void)state;
	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
		unsigned in_rate = rates[r];
		unsigned targets[2] = {codec_resample_opus_rate(in_rate), 48000};
		size_t n = in_rate; /* one second */
		int16_t *in = malloc(n * sizeof *in);

		assert_non_null(in);
		for (size_t i = 0; i < n; i++)
			in[i] = (int16_t)lrint(amp * sin(2 * M_PI * f * (double)i / in_rate));
		for (int t = 0; t < 2; t++) {
			unsigned out_rate = targets[t];
			int16_t *out = NULL;
			size_t m = 0;
			double fe, sig = 0, err = 0, snr;

			assert_int_equal(codec_resample_buffer(in, n, 1, in_rate, out_rate,
			                                       CODEC_RESAMPLE_QUALITY_DEFAULT, &out,
			                                       &m),
			                 0);
			assert_int_equal(m, out_rate); /* exactly one second */
			fe = zc_frequency(out, m, out_rate);
			/* Delay-compensated: matches the ideal sine sampled at the new rate. */
			for (size_t i = m / 10; i < m - m / 10; i++) {
				double ideal = amp * sin(2 * M_PI * f * (double)i / out_rate);

				sig += ideal * ideal;
				err += (out[i] - ideal) * (out[i] - ideal);
			}
			snr = 10 * log10(sig / (err + 1e-9));
			print_message("%5u -> %5u Hz: %.2f Hz, SNR vs ideal %.1f dB\n", in_rate,
			              out_rate, fe, snr);
			assert_true(fabs(fe - f) < f * 0.002);
			assert_true(snr > 30);
			free(out);
		}
		free(in);
	}
	assert_int_equal(codec_resample_opus_rate(11025), 12000);
	assert_int_equal(codec_resample_opus_rate(22050), 24000);
	assert_int_equal(codec_resample_opus_rate(44100), 48000);
	assert_int_equal(codec_resample_opus_rate(16000), 16000);
	assert_int_equal(codec_resample_opus_rate(96000), 48000);
}

static void test_streaming_resampler_matches_whole_buffer_result(void **state)
{
	struct codec_resampler *r = NULL;
	enum { N = 22050 };
	int16_t *in = malloc(N * 2 * sizeof *in), *whole = NULL, *st = calloc(60000 * 2, 2);
	size_t m = 0, made = 0, lat;

	(void)state;
	assert_non_null(in);
	assert_non_null(st);
	for (size_t i = 0; i < N; i++) {
		in[2 * i] = (int16_t)lrint(9000 * sin(2 * M_PI * 440 * (double)i / 22050));
		in[2 * i + 1] = (int16_t)lrint(9000 * sin(2 * M_PI * 660 * (double)i / 22050));
	}
	assert_int_equal(codec_resample_buffer(in, N, 2, 22050, 48000, 5, &whole, &m), 0);
	assert_int_equal(m, 48000);
	assert_int_equal(codec_resampler_new(&r, 2, 22050, 48000, 5), 0);
	lat = codec_resampler_latency(r);
	assert_true(lat > 0 && lat < 200);
	/* Feed in odd-sized pieces, then silence to flush. */
	for (size_t off = 0; off < N;) {
		size_t take = N - off < 333 ? N - off : 333, used = 0, got = 0;

		assert_int_equal(codec_resampler_process(r, in + off * 2, take, &used,
		                                         st + made * 2, 60000 - made, &got),
		                 0);
		assert_true(used > 0);
		off += used;
		made += got;
	}
	while (made < 48000 + lat) {
		size_t used = 0, got = 0;

		assert_int_equal(codec_resampler_process(r, NULL, 256, &used, st + made * 2,
		                                         60000 - made, &got),
		                 0);
		made += got;
	}
	/* The stream lags the compensated buffer by the reported latency (to within the sub-sample
	 * rounding of that figure): compare both channels with that shift. */
	for (int c = 0; c < 2; c++) {
		double sig = 0, err = 0, snr;

		for (size_t i = 1000; i < 47000; i++) {
			double a = st[(i + lat) * 2 + c], b = whole[i * 2 + c];

			sig += b * b;
			err += (a - b) * (a - b);
		}
		snr = 10 * log10(sig / (err + 1e-9));
		print_message("channel %d: stream vs buffer, lag %zu: %.1f dB\n", c, lat, snr);
		assert_true(snr > 25);
	}
	assert_int_equal(codec_resampler_new(&r, 0, 22050, 48000, 5), -EINVAL);
	assert_int_equal(codec_resampler_new(&r, 1, 22050, 48000, 11), -EINVAL);
	codec_resampler_free(r);
	codec_resampler_free(NULL);
	free(in);
	free(whole);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_serialize_then_parse_round_trips_mono_and_stereo),
	        cmocka_unit_test(test_file_write_then_read_round_trips),
	        cmocka_unit_test(test_reads_the_reference_speech_vector),
	        cmocka_unit_test(test_skips_extra_chunks_and_pad_bytes),
	        cmocka_unit_test(test_accepts_extensible_pcm_and_refuses_extensible_float),
	        cmocka_unit_test(test_refuses_truncated_and_foreign_headers),
	        cmocka_unit_test(test_refuses_riff_and_chunk_lengths_that_lie),
	        cmocka_unit_test(test_refuses_missing_duplicate_or_short_fmt),
	        cmocka_unit_test(test_refuses_unsupported_or_inconsistent_formats),
	        cmocka_unit_test(test_refuses_data_that_is_not_whole_frames),
	        cmocka_unit_test(test_writer_refuses_what_it_cannot_write),
	        cmocka_unit_test(test_resampling_keeps_a_sines_frequency_level_and_timing),
	        cmocka_unit_test(test_streaming_resampler_matches_whole_buffer_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
