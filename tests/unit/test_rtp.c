/* tests/unit/test_rtp.c — RTP parsing against aiortc's and mediasoup's packets, writing,
 * RFC 8285 extensions, Opus payload checks and the VP8 descriptor/packetiser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/rtp.h"
#include "tests/unit/util/testutil.h"

/* Loads a JSON vector file. Jansson cannot hold integers above INT64_MAX (the SR's 64-bit NTP
 * timestamp), so such literals are blanked to 0 here; tests needing them read the text. */
static json_t *load_json(const char *rel)
{
	size_t len, run = 0;
	char *text = (char *)tu_read_vector("rtp", rel, &len);
	json_error_t e;
	json_t *j;

	text[len] = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] >= '0' && text[i] <= '9') {
			run++;
			continue;
		}
		if (run >= 19) {
			text[i - run] = '0';
			memset(text + i - run + 1, ' ', run - 1);
		}
		run = 0;
	}
	j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("cannot load %s: %s", rel, e.text);
	free(text);
	return j;
}

static void test_rtp_parse_gives_aiortc_expected_fields(void **state)
{
	json_t *exp = load_json("aiortc/EXPECTED.json");
	const char *name;
	json_t *v;
	int checked = 0;

	json_object_foreach(exp, name, v)
	{
		char rel[256];
		struct rtp_packet p;
		uint8_t *buf;
		size_t len;
		json_t *f;

		if (strncmp(name, "rtp", 3) != 0 || strncmp(name, "rtcp", 4) == 0 ||
		    !strstr(name, ".bin"))
			continue;
		snprintf(rel, sizeof rel, "aiortc/%s", name);
		buf = tu_read_vector("rtp", rel, &len);
		assert_int_equal(json_is_true(json_object_get(v, "valid")), 1);
		assert_int_equal(rtp_packet_parse(&p, buf, len), 0);
		if ((f = json_object_get(v, "version")))
			assert_int_equal(p.version, json_integer_value(f));
		if ((f = json_object_get(v, "marker")))
			assert_int_equal(p.marker, json_integer_value(f));
		assert_int_equal(p.payload_type,
		                 json_integer_value(json_object_get(v, "payload_type")));
		assert_int_equal(p.seq, json_integer_value(json_object_get(v, "sequence_number")));
		assert_int_equal(p.timestamp, json_integer_value(json_object_get(v, "timestamp")));
		assert_int_equal(p.payload_len,
		                 json_integer_value(json_object_get(v, "payload_length")));
		if ((f = json_object_get(v, "padding_size")))
			assert_int_equal(p.padding_len, json_integer_value(f));
		if ((f = json_object_get(v, "csrc"))) {
			assert_int_equal(p.csrc_count, json_array_size(f));
			for (size_t i = 0; i < json_array_size(f); i++)
				assert_int_equal(p.csrc[i],
				                 json_integer_value(json_array_get(f, i)));
		}
		if ((f = json_object_get(v, "extensions"))) {
			json_t *ast = json_object_get(f, "id2_abs_send_time");
			json_t *mid = json_object_get(f, "id9_sdes_mid");

			if (ast) {
				uint32_t t;

				assert_int_equal(rtp_ext_get_abs_send_time(&p, 2, &t), 0);
				assert_int_equal(t, json_integer_value(ast));
			}
			if (mid) {
				const struct rtp_ext *e = rtp_ext_find(&p, 9);

				assert_non_null(e);
				assert_int_equal(e->len, strlen(json_string_value(mid)));
				assert_memory_equal(e->data, json_string_value(mid), e->len);
			}
		}
		free(buf);
		checked++;
	}
	assert_int_equal(checked, 6);
	json_decref(exp);
}

static void test_rtp_rejects_aiortc_derived_invalid_packets(void **state)
{
	size_t len, clen;
	uint8_t *pad = tu_read_vector("rtp", "aiortc/rtp_only_padding.bin", &len);
	uint8_t *csrc = tu_read_vector("rtp", "aiortc/rtp_with_csrc.bin", &clen);
	uint8_t b[13];
	struct rtp_packet p;
	int ret;

	memcpy(b, pad, 12);
	b[12] = 0x02;
	ret = rtp_packet_parse(&p, b, 13);
	assert_string_equal(rtp_strerror(ret), "RTP packet padding length is invalid");
	b[12] = 0x00;
	ret = rtp_packet_parse(&p, b, 13);
	assert_string_equal(rtp_strerror(ret), "RTP packet padding length is invalid");
	b[12] = 0x01; /* a count of one (the count byte alone) is valid */
	assert_int_equal(rtp_packet_parse(&p, b, 13), 0);
	assert_int_equal(p.payload_len, 0);

	/* rtp_with_csrc has 2 CSRCs: every cut inside the list is a truncated CSRC. */
	for (size_t n = 12; n < 20; n++) {
		ret = rtp_packet_parse(&p, csrc, n);
		assert_string_equal(rtp_strerror(ret), "RTP packet has truncated CSRC");
	}
	for (size_t n = 0; n < 12; n++)
		assert_int_equal(rtp_packet_parse(&p, csrc, n), RTP_ESHORT);
	csrc[0] = (uint8_t)((csrc[0] & 0x3f) | 0x40);
	assert_int_equal(rtp_packet_parse(&p, csrc, clen), RTP_EVERSION);
	free(pad);
	free(csrc);
}

static void test_rtp_parse_matches_header_fields_of_every_vector(void **state)
{
	json_t *hf = load_json("header_fields.json"), *arr = json_object_get(hf, "rtp"), *v;
	size_t i;
	int mediasoup = 0;

	assert_true(json_array_size(arr) >= 9);
	json_array_foreach(arr, i, v)
	{
		const char *file = json_string_value(json_object_get(v, "file"));
		json_t *ext = json_object_get(v, "header_extension"), *pl;
		struct rtp_packet p, full;
		uint8_t *buf;
		size_t len;
		int ret;

		buf = tu_read_vector("rtp", file, &len);
		assert_int_equal(rtp_header_parse(&p, buf, len), 0);
		assert_int_equal(p.version, json_integer_value(json_object_get(v, "version")));
		assert_int_equal(p.has_ext, json_integer_value(json_object_get(v, "extension")));
		assert_int_equal(p.csrc_count,
		                 json_integer_value(json_object_get(v, "csrc_count")));
		assert_int_equal(p.marker, json_integer_value(json_object_get(v, "marker")));
		assert_int_equal(p.payload_type,
		                 json_integer_value(json_object_get(v, "payload_type")));
		assert_int_equal(p.seq, json_integer_value(json_object_get(v, "sequence_number")));
		assert_int_equal(p.timestamp, json_integer_value(json_object_get(v, "timestamp")));
		assert_int_equal(p.ssrc, json_integer_value(json_object_get(v, "ssrc")));
		assert_int_equal((size_t)(p.payload - buf),
		                 json_integer_value(json_object_get(v, "payload_offset")));
		if (json_is_object(ext)) {
			assert_int_equal(p.ext_profile,
			                 strtol(json_string_value(json_object_get(ext, "profile")),
			                        NULL, 16));
			assert_int_equal(p.ext_raw_len, 4 * json_integer_value(json_object_get(
			                                            ext, "length_words")));
		}
		pl = json_object_get(v, "payload_length");
		ret = rtp_packet_parse(&full, buf, len);
		if (json_is_null(pl)) {
			/* mediasoup packet2: padding count 241 > 228 bytes available. */
			assert_int_equal(ret, RTP_EPADDING);
		} else {
			assert_int_equal(ret, 0);
			assert_int_equal(full.payload_len, json_integer_value(pl));
			assert_int_equal(full.padding_len,
			                 json_integer_value(json_object_get(v, "padding_count")));
		}
		if (strstr(file, "mediasoup/"))
			mediasoup++;
		free(buf);
	}
	assert_int_equal(mediasoup, 3);
	json_decref(hf);
}

static void test_rtp_mediasoup_extensions_decode_as_wireshark_shows(void **state)
{
	size_t len;
	uint8_t *b1 = tu_read_vector("rtp", "mediasoup/packet1.raw", &len);
	uint8_t *b3;
	struct rtp_packet p;
	bool voice;
	uint8_t level;

	assert_int_equal(rtp_packet_parse(&p, b1, len), 0);
	assert_int_equal(p.n_ext, 1);
	assert_int_equal(rtp_ext_get_audio_level(&p, 1, &voice, &level), 0);
	assert_true(voice);
	assert_int_equal(level, 127);
	b3 = tu_read_vector("rtp", "mediasoup/packet3.raw", &len);
	assert_int_equal(rtp_packet_parse(&p, b3, len), 0);
	assert_int_equal(p.n_ext, 2);
	assert_int_equal(p.ext[0].id, 3);
	assert_int_equal(p.ext[0].len, 3);
	assert_memory_equal(p.ext[0].data, "\x65\x34\x1e", 3);
	assert_int_equal(p.ext[1].id, 1);
	assert_int_equal(p.ext[1].data[0], 0xd0);
	assert_int_equal(p.payload_len, 78);
	free(b1);
	free(b3);
}

static void test_rtp_every_truncation_of_every_vector_is_handled(void **state)
{
	static const char *files[] = {
	        "aiortc/rtp.bin", "aiortc/rtp_with_csrc.bin", "aiortc/rtp_with_sdes_mid.bin",
	        "aiortc/rtp_only_padding_with_header_extensions.bin", "mediasoup/packet3.raw"};
	for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
		size_t len;
		uint8_t *b = tu_read_vector("rtp", files[f], &len);

		for (size_t n = 0; n < len; n++) {
			/* Copy so ASan sees any read past the cut. */
			uint8_t *c = malloc(n ? n : 1);
			struct rtp_packet p;
			int ret;

			memcpy(c, b, n);
			ret = rtp_packet_parse(&p, c, n);
			if (ret == 0) {
				assert_true(p.payload + p.payload_len + p.padding_len <= c + n);
				assert_true(p.payload >= c + 12);
			}
			free(c);
		}
		free(b);
	}
}

static void test_rtp_write_then_parse_round_trips_one_byte_extensions(void **state)
{
	uint8_t payload[100], out[300], twcc[2] = {0x12, 0x34}, mid[1] = {'0'};
	struct rtp_packet in = {0}, p;
	size_t len;
	uint16_t seq;

	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)i;
	in.version = 2;
	in.marker = true;
	in.payload_type = 111;
	in.seq = 65535;
	in.timestamp = 0xdeadbeef;
	in.ssrc = 42;
	in.csrc_count = 2;
	in.csrc[0] = 7;
	in.csrc[1] = 8;
	in.n_ext = 2;
	in.ext[0] = (struct rtp_ext){5, 2, twcc};
	in.ext[1] = (struct rtp_ext){9, 1, mid};
	in.payload = payload;
	in.payload_len = sizeof payload;
	in.padding_len = 3;
	assert_int_equal(rtp_packet_write(&in, out, sizeof out, &len), 0);
	/* 12 + 8 CSRC + 4 ext header + 8 ext body (3+2 = 5 -> 8) + 100 + 3 */
	assert_int_equal(len, 12 + 8 + 4 + 8 + 100 + 3);
	assert_int_equal(rtp_packet_parse(&p, out, len), 0);
	assert_int_equal(p.ext_profile, RTP_EXT_PROFILE_ONE_BYTE);
	assert_int_equal(rtp_ext_get_twcc(&p, 5, &seq), 0);
	assert_int_equal(seq, 0x1234);
	assert_int_equal(rtp_ext_get_twcc(&p, 9, &seq), RTP_EEXTELEM);
	/* The pacer renumbers at send time, in place. */
	assert_int_equal(rtp_ext_set_twcc_inplace(out, len, 5, 0xbeef), 0);
	assert_int_equal(rtp_packet_parse(&p, out, len), 0);
	assert_int_equal(rtp_ext_get_twcc(&p, 5, &seq), 0);
	assert_int_equal(seq, 0xbeef);
	assert_int_equal(rtp_ext_set_twcc_inplace(out, len, 9, 1), RTP_EEXTELEM);
	assert_int_equal(rtp_ext_set_twcc_inplace(out, 11, 5, 1), RTP_ESHORT);
	assert_int_equal(p.seq, 65535);
	assert_true(p.marker);
	assert_int_equal(p.csrc[1], 8);
	assert_int_equal(p.padding_len, 3);
	assert_int_equal(p.payload_len, 100);
	assert_memory_equal(p.payload, payload, 100);
	/* Too small an output buffer fails cleanly. */
	assert_int_equal(rtp_packet_write(&in, out, len - 1, &len), RTP_ENOSPACE);
}

static void test_rtp_two_byte_extensions_for_long_or_high_id_elements(void **state)
{
	uint8_t big[40], out[200];
	struct rtp_packet in = {0}, p;
	size_t len;

	memset(big, 0xab, sizeof big);
	in.payload_type = 96;
	in.n_ext = 2;
	in.ext[0] = (struct rtp_ext){20, 40, big};
	in.ext[1] = (struct rtp_ext){3, 0, NULL}; /* zero length only allowed in two-byte form */
	assert_int_equal(rtp_packet_write(&in, out, sizeof out, &len), 0);
	assert_int_equal(rtp_packet_parse(&p, out, len), 0);
	assert_int_equal(p.ext_profile, RTP_EXT_PROFILE_TWO_BYTE);
	assert_int_equal(p.n_ext, 2);
	assert_int_equal(rtp_ext_find(&p, 20)->len, 40);
	assert_int_equal(rtp_ext_find(&p, 3)->len, 0);
	/* An element whose length runs past the block is rejected. */
	out[12 + 4 + 1] = 200;
	assert_int_equal(rtp_packet_parse(&p, out, len), RTP_EEXTELEM);
}

static void test_rtp_seq_unwrap_crosses_wrap_both_ways(void **state)
{
	struct rtp_seq_unwrap u = {0};

	assert_int_equal(rtp_seq_unwrap(&u, 65534), 65534);
	assert_int_equal(rtp_seq_unwrap(&u, 65535), 65535);
	assert_int_equal(rtp_seq_unwrap(&u, 1), 65537);
	assert_int_equal(rtp_seq_unwrap(&u, 65533), 65533); /* late reordered packet */
	assert_int_equal(rtp_seq_diff(65535, 2), 3);
	assert_int_equal(rtp_seq_diff(2, 65535), -3);
}

static void test_rtp_opus_payload_duration_from_real_encoder(void **state)
{
	int err;
	OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	opus_int16 pcm[2880] = {0};
	uint8_t pkt[1500];
	unsigned samples;
	int n;

	assert_non_null(enc);
	n = opus_encode(enc, pcm, 960, pkt, sizeof pkt);
	assert_true(n > 0);
	assert_int_equal(rtp_opus_payload_check(pkt, (size_t)n, &samples), 0);
	assert_int_equal(samples, 960);
	n = opus_encode(enc, pcm, 2880, pkt, sizeof pkt);
	assert_true(n > 0);
	assert_int_equal(rtp_opus_payload_check(pkt, (size_t)n, &samples), 0);
	assert_int_equal(samples, 2880);
	opus_encoder_destroy(enc);
	assert_int_equal(rtp_opus_payload_check(pkt, 0, &samples), RTP_EOPUS);
	/* Code 3 (arbitrary frame count) with a count byte of 0 frames is invalid. */
	pkt[0] = 0x03;
	pkt[1] = 0x00;
	assert_int_equal(rtp_opus_payload_check(pkt, 2, &samples), RTP_EOPUS);
}

static void test_vp8_descriptor_fields_parse_and_write(void **state)
{
	/* X=1 N=0 S=1 PID=0 | I L T K | M=1 picid 0x1234 | TL0 0x56 | TID 2 Y 1 KEYIDX 5 */
	static const uint8_t d15[] = {0x90, 0xf0, 0x92, 0x34, 0x56, 0xa5, 0x9d};
	static const uint8_t d7[] = {0xa3, 0x80, 0x11, 0x00};
	struct rtp_vp8_desc d;
	uint8_t out[8];
	size_t dl;

	assert_int_equal(rtp_vp8_desc_parse(&d, &dl, d15, sizeof d15), 0);
	assert_int_equal(dl, 6);
	assert_true(d.start);
	assert_int_equal(d.pid, 0);
	assert_int_equal(d.picture_id_bits, 15);
	assert_int_equal(d.picture_id, 0x1234);
	assert_int_equal(d.tl0picidx, 0x56);
	assert_int_equal(d.tid, 2);
	assert_true(d.layer_sync);
	assert_int_equal(d.keyidx, 5);
	assert_int_equal(rtp_vp8_desc_write(&d, out, sizeof out), 6);
	assert_memory_equal(out, d15, 6);
	assert_true(rtp_vp8_is_keyframe(&d, (const uint8_t *)"\x9c\x01\x2a", 3));
	assert_false(rtp_vp8_is_keyframe(&d, (const uint8_t *)"\x9d\x01\x2a", 3));

	assert_int_equal(rtp_vp8_desc_parse(&d, &dl, d7, sizeof d7), 0);
	assert_int_equal(dl, 3);
	assert_true(d.non_reference);
	assert_false(d.start);
	assert_int_equal(d.pid, 3);
	assert_int_equal(d.picture_id_bits, 7);
	assert_int_equal(d.picture_id, 0x11);
	assert_int_equal(rtp_vp8_desc_write(&d, out, sizeof out), 3);
	assert_memory_equal(out, d7, 3);

	/* Every cut of the 15-bit descriptor before its payload byte is malformed. */
	for (size_t n = 0; n < 7; n++)
		assert_int_equal(rtp_vp8_desc_parse(&d, &dl, d15, n), RTP_EVP8);
	d.picture_id = 200; /* does not fit 7 bits */
	assert_int_equal(rtp_vp8_desc_write(&d, out, sizeof out), RTP_EINVAL);
}

static void test_vp8_packetizer_splits_evenly_and_depacketizer_restores(void **state)
{
	enum { FRAME = 3000, MTU = 1200 };
	struct rtp_vp8_desc tmpl = {.has_picture_id = true,
	                            .picture_id_bits = 15,
	                            .picture_id = 777,
	                            .has_tid = true,
	                            .tid = 0,
	                            .has_tl0picidx = true,
	                            .tl0picidx = 9};
	struct rtp_vp8_packetizer pk;
	static uint8_t frame[FRAME], pkts[4][MTU], out[FRAME];
	const uint8_t *pp[4];
	size_t lens[4], n = 0, outlen;
	struct rtp_vp8_desc got;
	bool last = false;

	for (size_t i = 0; i < FRAME; i++)
		frame[i] = (uint8_t)(i * 7);
	assert_int_equal(rtp_vp8_packetizer_init(&pk, frame, FRAME, &tmpl, MTU), 0);
	assert_int_equal(rtp_vp8_packetizer_count(&pk), 3);
	while (!last) {
		assert_int_equal(rtp_vp8_packetizer_next(&pk, pkts[n], MTU, &lens[n], &last), 0);
		pp[n] = pkts[n];
		n++;
	}
	assert_int_equal(n, 3);
	/* 3000 bytes over 3 packets = 1000 each + 6-byte descriptor. */
	assert_int_equal(lens[0], 1006);
	assert_int_equal(lens[2], 1006);
	assert_int_equal(rtp_vp8_packetizer_next(&pk, pkts[3], MTU, &lens[3], &last), RTP_EINVAL);
	assert_int_equal(rtp_vp8_depacketize(pp, lens, n, out, sizeof out, &outlen, &got), 0);
	assert_int_equal(outlen, FRAME);
	assert_memory_equal(out, frame, FRAME);
	assert_int_equal(got.picture_id, 777);
	assert_int_equal(got.tl0picidx, 9);
	/* Missing first packet: cannot assemble. */
	assert_int_equal(rtp_vp8_depacketize(pp + 1, lens + 1, 2, out, sizeof out, &outlen, NULL),
	                 RTP_EFRAGMENT);
	/* A packet of another picture mixed in. */
	pkts[1][2] ^= 1;
	assert_int_equal(rtp_vp8_depacketize(pp, lens, 3, out, sizeof out, &outlen, NULL),
	                 RTP_EFRAGMENT);
	/* Too small output. */
	pkts[1][2] ^= 1;
	assert_int_equal(rtp_vp8_depacketize(pp, lens, 3, out, 100, &outlen, NULL), RTP_ENOSPACE);
}

static void test_rtp_red_round_trip_and_malformed(void **state)
{
	static const uint8_t a[] = "older-frame", b[] = "previous", c[] = "primary!";
	struct rtp_red_block in[3] = {{111, 1920, a, sizeof a},
	                              {111, 960, b, sizeof b},
	                              {111, 0, c, sizeof c}},
	                     got[8];
	uint8_t out[200];
	size_t len, n;

	assert_int_equal(rtp_red_write(in, 3, out, sizeof out, &len), 0);
	assert_int_equal(len, 4 + 4 + 1 + sizeof a + sizeof b + sizeof c);
	assert_int_equal(rtp_red_parse(out, len, got, 8, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(got[i].pt, 111);
		assert_int_equal(got[i].ts_offset, in[i].ts_offset);
		assert_int_equal(got[i].len, in[i].len);
		assert_memory_equal(got[i].data, in[i].data, in[i].len);
	}
	/* Every cut inside the headers or the redundant data is malformed. */
	for (size_t cut = 0; cut < 9 + sizeof a + sizeof b; cut++)
		assert_int_equal(rtp_red_parse(out, cut, got, 8, &n), RTP_EINVAL);
	/* More blocks than the caller has room for. */
	assert_int_equal(rtp_red_parse(out, len, got, 2, &n), RTP_EINVAL);
	/* Out-of-range fields are refused when writing. */
	in[0].ts_offset = 0x4000;
	assert_int_equal(rtp_red_write(in, 3, out, sizeof out, &len), RTP_EINVAL);
	in[0].ts_offset = 1920;
	assert_int_equal(rtp_red_write(in, 3, out, 20, &len), RTP_ENOSPACE);
}

static void test_rtp_red_time_spread_survives_a_two_packet_burst(void **state)
{
	static struct rtp_red_history h;
	static const unsigned dist[] = {3};
	bool have[20] = {false};
	uint8_t frame[40], out[200];

	memset(&h, 0, sizeof h);
	for (unsigned k = 0; k < 20; k++) {
		struct rtp_red_block got[8];
		size_t len, n;

		memset(frame, (int)k, sizeof frame);
		assert_int_equal(rtp_red_history_build(&h, 111, 5000 + 960 * k, frame, sizeof frame,
		                                       960, dist, 1, out, sizeof out, &len),
		                 0);
		if (k == 5 || k == 6) /* burst loss */
			continue;
		assert_int_equal(rtp_red_parse(out, len, got, 8, &n), 0);
		assert_int_equal(n, k >= 3 ? 2 : 1);
		for (size_t i = 0; i < n; i++) {
			uint32_t ts = 5000 + 960 * k - got[i].ts_offset;
			unsigned f = (ts - 5000) / 960;

			assert_int_equal(got[i].data[0], f); /* the block is that frame */
			have[f] = true;
		}
	}
	for (int f = 0; f < 20; f++)
		assert_true(have[f]);
	assert_int_equal(rtp_red_history_build(&h, 111, 0, frame, 0, 960, dist, 1, out, sizeof out,
	                                       &(size_t){0}),
	                 RTP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rtp_parse_gives_aiortc_expected_fields),
	        cmocka_unit_test(test_rtp_rejects_aiortc_derived_invalid_packets),
	        cmocka_unit_test(test_rtp_parse_matches_header_fields_of_every_vector),
	        cmocka_unit_test(test_rtp_mediasoup_extensions_decode_as_wireshark_shows),
	        cmocka_unit_test(test_rtp_every_truncation_of_every_vector_is_handled),
	        cmocka_unit_test(test_rtp_write_then_parse_round_trips_one_byte_extensions),
	        cmocka_unit_test(test_rtp_two_byte_extensions_for_long_or_high_id_elements),
	        cmocka_unit_test(test_rtp_seq_unwrap_crosses_wrap_both_ways),
	        cmocka_unit_test(test_rtp_opus_payload_duration_from_real_encoder),
	        cmocka_unit_test(test_vp8_descriptor_fields_parse_and_write),
	        cmocka_unit_test(test_vp8_packetizer_splits_evenly_and_depacketizer_restores),
	        cmocka_unit_test(test_rtp_red_round_trip_and_malformed),
	        cmocka_unit_test(test_rtp_red_time_spread_survives_a_two_packet_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
