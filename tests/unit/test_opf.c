/* tests/unit/test_opf.c — POPF (raw Opus packets file): a real encode parses back packet for
 * packet, and truncated or lying files are refused with their reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/opf.h"

/* Builds a POPF file of n packets of sizes len[i] filled with i. */
static uint8_t *build(const struct codec_opf_info *info, const size_t *len, int n, size_t *out)
{
	size_t total = CODEC_OPF_HEADER_SIZE;
	uint8_t *p, *w;

	for (int i = 0; i < n; i++)
		total += 2 + len[i];
	p = malloc(total);
	assert_non_null(p);
	assert_int_equal(codec_opf_header_write(info, p), 0);
	w = p + CODEC_OPF_HEADER_SIZE;
	for (int i = 0; i < n; i++) {
		assert_int_equal(codec_opf_packet_prefix(len[i], w), 0);
		memset(w + 2, i, len[i]);
		w += 2 + len[i];
	}
	*out = total;
	return p;
}

static const struct codec_opf_info good = {.channels = 1,
                                           .opus_rate = 16000,
                                           .input_rate = 16000,
                                           .pre_skip = 104,
                                           .input_frames = 1600,
                                           .packets = 3};
static const size_t lens[] = {40, 1, 1500};

static void test_file_parses_back_packet_for_packet(void **state)
{
	struct codec_opf_info info;
	struct codec_opf_packet *pk = NULL;
	size_t n;
	uint8_t *p = build(&good, lens, 3, &n);

	(void)state;
	assert_int_equal(codec_opf_parse(p, n, &info, &pk, NULL, 0), 0);
	assert_int_equal(info.packets, 3);
	assert_int_equal(info.pre_skip, 104);
	assert_int_equal(info.input_frames, 1600);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pk[i].len, lens[i]);
		assert_int_equal(pk[i].data[0], i);
	}
	free(pk);
	free(p);
}

static void expect(const uint8_t *p, size_t n, int want, const char *why_has)
{
	struct codec_opf_info info = {0};
	struct codec_opf_packet *pk = (struct codec_opf_packet *)0x1;
	char why[200];
	int ret = codec_opf_parse(p, n, &info, &pk, why, sizeof why);

	if (ret != want)
		fail_msg("got %d (%s), want %d (%s): %s", ret, codec_opf_strerror(ret), want,
		         codec_opf_strerror(want), why);
	assert_true(pk == (struct codec_opf_packet *)0x1); /* untouched */
	if (!strstr(why, why_has))
		fail_msg("reason \"%s\" lacks \"%s\"", why, why_has);
}

static void test_truncated_and_lying_files_are_refused(void **state)
{
	struct codec_opf_info info = good;
	size_t n;
	uint8_t *p = build(&good, lens, 3, &n), *q;

	(void)state;
	expect(p, 0, CODEC_OPF_ETRUNC, "0 of 32");
	expect(p, 20, CODEC_OPF_ETRUNC, "20 of 32");
	expect(p, n - 1, CODEC_OPF_ETRUNC, "packet 2");
	expect(p, CODEC_OPF_HEADER_SIZE + 2 + 40 + 1, CODEC_OPF_ETRUNC, "packet 1");
	/* A header alone that declares packets: refused before any allocation. */
	expect(p, CODEC_OPF_HEADER_SIZE, CODEC_OPF_ECOUNT, "declares 3 packets");
	memcpy(p, "OggS", 4);
	expect(p, n, CODEC_OPF_EMAGIC, "POPF");
	free(p);
	/* A count smaller than the packets present. */
	info.packets = 2;
	p = build(&info, lens, 3, &n);
	expect(p, n, CODEC_OPF_ECOUNT, "after the 2 packets");
	free(p);
	/* A count larger than the packets present. */
	info.packets = 4;
	p = build(&info, lens, 3, &n);
	expect(p, n, CODEC_OPF_ETRUNC, "packet 3");
	free(p);
	/* More input frames than the packets could carry (120 ms each). */
	info = good;
	info.input_frames = 3 * 16000 * 120 / 1000 + 1;
	p = build(&info, lens, 3, &n);
	expect(p, n, CODEC_OPF_ECOUNT, "input frames");
	/* Header fields out of range. */
	q = malloc(n);
	memcpy(q, p, n);
	q[4] = 2;
	expect(q, n, CODEC_OPF_EHEADER, "version 2");
	memcpy(q, p, n);
	q[5] = 3;
	expect(q, n, CODEC_OPF_EHEADER, "channels");
	memcpy(q, p, n);
	q[8] = 0x45; /* opus_rate 16000 -> 16069 */
	expect(q, n, CODEC_OPF_EHEADER, "Opus rate");
	free(q);
	free(p);
	/* Packet lengths 0 and over the maximum. */
	p = build(&good, lens, 3, &n);
	p[CODEC_OPF_HEADER_SIZE + 2 + 40] = 0;
	expect(p, n, CODEC_OPF_EPACKET, "length 0");
	p[CODEC_OPF_HEADER_SIZE + 2 + 40] = 0xdd; /* 0x05dd = 1501 */
	p[CODEC_OPF_HEADER_SIZE + 2 + 40 + 1] = 0x05;
	expect(p, n, CODEC_OPF_EPACKET, "length 1501");
	free(p);
	info = good;
	assert_int_equal(codec_opf_packet_prefix(0, (uint8_t[2]){0}), -EINVAL);
	assert_int_equal(codec_opf_packet_prefix(1501, (uint8_t[2]){0}), -EINVAL);
	info.pre_skip = 16000;
	assert_int_equal(codec_opf_header_write(&info, (uint8_t[32]){0}), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_file_parses_back_packet_for_packet),
	        cmocka_unit_test(test_truncated_and_lying_files_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
