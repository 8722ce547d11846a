/* tests/unit/test_rtcp.c — RTCP parsing against aiortc's packets and expected results, and
 * round trips of every builder (SR/RR/SDES/BYE/APP/NACK/PLI/FIR/REMB/transport-wide feedback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/rtcp.h"
#include "tests/unit/util/testutil.h"

/* EXPECTED.json holds the SR's NTP timestamp as an integer above INT64_MAX, which jansson
 * cannot represent: it is read from the text with strtoull and blanked before json_loads. */
static json_t *load_expected(uint64_t *ntp)
{
	size_t len;
	char *text = (char *)tu_read_vector("rtp", "aiortc/EXPECTED.json", &len), *p;
	json_error_t e;
	json_t *j;
	char *end;

	text[len] = 0;
	p = strstr(text, "\"ntp_timestamp\":");
	assert_non_null(p);
	p += strlen("\"ntp_timestamp\":");
	while (*p == ' ')
		p++;
	*ntp = strtoull(p, &end, 10);
	p[0] = '0';
	memset(p + 1, ' ', (size_t)(end - p - 1));
	j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("cannot parse EXPECTED.json: %s", e.text);
	free(text);
	return j;
}

static void check_report(const struct rtcp_report *r, json_t *e)
{
	assert_int_equal(r->ssrc, json_integer_value(json_object_get(e, "ssrc")));
	assert_int_equal(r->fraction_lost, json_integer_value(json_object_get(e, "fraction_lost")));
	assert_int_equal(r->packets_lost, json_integer_value(json_object_get(e, "packets_lost")));
	assert_int_equal(r->highest_seq,
	                 json_integer_value(json_object_get(e, "highest_sequence")));
	assert_int_equal(r->jitter, json_integer_value(json_object_get(e, "jitter")));
	assert_int_equal(r->lsr, json_integer_value(json_object_get(e, "lsr")));
	assert_int_equal(r->dlsr, json_integer_value(json_object_get(e, "dlsr")));
}

static void check_valid(const char *name, json_t *v, uint64_t ntp)
{
	char rel[256];
	size_t len, nlost;
	uint8_t *buf;
	struct rtcp_iter it;
	static struct rtcp_packet pkt, end;
	const char *type = json_string_value(json_object_get(v, "type"));
	json_t *f;

	snprintf(rel, sizeof rel, "aiortc/%s", name);
	buf = tu_read_vector("rtp", rel, &len);
	rtcp_iter_init(&it, buf, len);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_iter_next(&it, &end), 0);
	if (!strcmp(type, "BYE")) {
		f = json_object_get(v, "sources");
		assert_int_equal(pkt.type, RTCP_BYE);
		assert_int_equal(pkt.u.bye.n_sources, json_array_size(f));
		for (size_t i = 0; i < json_array_size(f); i++)
			assert_int_equal(pkt.u.bye.sources[i],
			                 json_integer_value(json_array_get(f, i)));
		if ((f = json_object_get(v, "reserialized_without_padding"))) {
			uint8_t out[64];
			struct buf_writer w;

			buf_writer_init(&w, out, sizeof out);
			assert_int_equal(
			        rtcp_write_bye(&w, pkt.u.bye.sources, pkt.u.bye.n_sources, NULL),
			        0);
			assert_int_equal(buf_writer_len(&w), 4);
			assert_memory_equal(out, "\x80\xcb\x00\x00", 4);
		}
		if (json_is_true(json_object_get(v, "reserialize_identical"))) {
			uint8_t out[64];
			struct buf_writer w;

			buf_writer_init(&w, out, sizeof out);
			assert_int_equal(
			        rtcp_write_bye(&w, pkt.u.bye.sources, pkt.u.bye.n_sources, NULL),
			        0);
			assert_int_equal(buf_writer_len(&w), len);
			assert_memory_equal(out, buf, len);
		}
	} else if (!strcmp(type, "RR") || !strcmp(type, "SR")) {
		json_t *reps = json_object_get(v, "reports");

		assert_int_equal(pkt.type, !strcmp(type, "SR") ? RTCP_SR : RTCP_RR);
		assert_int_equal(pkt.u.sr.ssrc, json_integer_value(json_object_get(v, "ssrc")));
		assert_int_equal(pkt.u.sr.n_reports, json_array_size(reps));
		for (size_t i = 0; i < json_array_size(reps); i++)
			check_report(&pkt.u.sr.reports[i], json_array_get(reps, i));
		if ((f = json_object_get(v, "sender_info"))) {
			uint8_t out[128];
			struct buf_writer w;

			assert_true(pkt.u.sr.ntp == ntp);
			assert_int_equal(pkt.u.sr.rtp_ts,
			                 json_integer_value(json_object_get(f, "rtp_timestamp")));
			assert_int_equal(pkt.u.sr.packet_count,
			                 json_integer_value(json_object_get(f, "packet_count")));
			assert_int_equal(pkt.u.sr.octet_count,
			                 json_integer_value(json_object_get(f, "octet_count")));
			buf_writer_init(&w, out, sizeof out);
			assert_int_equal(rtcp_write_sr(&w, pkt.u.sr.ssrc, pkt.u.sr.ntp,
			                               pkt.u.sr.rtp_ts, pkt.u.sr.packet_count,
			                               pkt.u.sr.octet_count, pkt.u.sr.reports,
			                               pkt.u.sr.n_reports),
			                 0);
			assert_int_equal(buf_writer_len(&w), len);
			assert_memory_equal(out, buf, len);
		}
	} else if (!strcmp(type, "SDES")) {
		json_t *ch = json_array_get(json_object_get(v, "chunks"), 0);
		json_t *item = json_array_get(json_object_get(ch, "items"), 0);
		const char *text = json_string_value(json_array_get(item, 1));
		uint8_t out[128];
		struct buf_writer w;

		assert_int_equal(pkt.type, RTCP_SDES);
		assert_int_equal(pkt.u.sdes.n_chunks, 1);
		assert_int_equal(pkt.u.sdes.chunks[0].ssrc,
		                 json_integer_value(json_object_get(ch, "ssrc")));
		assert_int_equal(pkt.u.sdes.chunks[0].n_items, 1);
		assert_int_equal(pkt.u.sdes.chunks[0].items[0].type,
		                 json_integer_value(json_array_get(item, 0)));
		assert_int_equal(pkt.u.sdes.chunks[0].items[0].len, strlen(text));
		assert_memory_equal(pkt.u.sdes.chunks[0].items[0].data, text, strlen(text));
		buf_writer_init(&w, out, sizeof out);
		assert_int_equal(rtcp_write_sdes(&w, pkt.u.sdes.chunks[0].ssrc,
		                                 pkt.u.sdes.chunks[0].items, 1),
		                 0);
		assert_int_equal(buf_writer_len(&w), len);
		assert_memory_equal(out, buf, len);
	} else if (!strcmp(type, "PSFB")) {
		assert_int_equal(pkt.type, RTCP_PSFB);
		assert_int_equal(pkt.u.fb.fmt, json_integer_value(json_object_get(v, "fmt")));
		assert_int_equal(pkt.u.fb.ssrc, json_integer_value(json_object_get(v, "ssrc")));
		assert_int_equal(pkt.u.fb.media_ssrc,
		                 json_integer_value(json_object_get(v, "media_ssrc")));
		assert_int_equal(pkt.u.fb.fci_len, 0);
	} else if (!strncmp(type, "RTPFB", 5)) {
		uint16_t lost[64];
		uint8_t out[128];
		struct buf_writer w;

		f = json_object_get(v, "lost");
		assert_int_equal(pkt.type, RTCP_RTPFB);
		assert_int_equal(pkt.u.fb.fmt, json_integer_value(json_object_get(v, "fmt")));
		assert_int_equal(pkt.u.fb.ssrc, json_integer_value(json_object_get(v, "ssrc")));
		assert_int_equal(pkt.u.fb.media_ssrc,
		                 json_integer_value(json_object_get(v, "media_ssrc")));
		assert_int_equal(rtcp_nack_lost(&pkt, lost, 64, &nlost), 0);
		assert_int_equal(nlost, json_array_size(f));
		for (size_t i = 0; i < nlost; i++)
			assert_int_equal(lost[i], json_integer_value(json_array_get(f, i)));
		/* Rebuilding the NACK from the list gives the same bytes. */
		buf_writer_init(&w, out, sizeof out);
		assert_int_equal(
		        rtcp_write_nack(&w, pkt.u.fb.ssrc, pkt.u.fb.media_ssrc, lost, nlost), 0);
		assert_int_equal(buf_writer_len(&w), len);
		assert_memory_equal(out, buf, len);
	} else {
		fail_msg("unhandled type %s", type);
	}
	free(buf);
}

static void test_rtcp_parse_gives_aiortc_expected_results(void **state)
{
	uint64_t ntp;
	json_t *exp = load_expected(&ntp), *v;
	const char *name;
	int valid = 0, invalid = 0;

	json_object_foreach(exp, name, v)
	{
		char rel[256];
		uint8_t *buf;
		size_t len;

		if (strncmp(name, "rtcp_", 5) != 0 || strchr(name, '+'))
			continue;
		if (json_is_true(json_object_get(v, "valid"))) {
			check_valid(name, v, ntp);
			valid++;
			continue;
		}
		snprintf(rel, sizeof rel, "aiortc/%s", name);
		buf = tu_read_vector("rtp", rel, &len);
		assert_string_equal(rtcp_strerror(rtcp_compound_validate(buf, len)),
		                    json_string_value(json_object_get(v, "error")));
		free(buf);
		invalid++;
	}
	assert_int_equal(valid, 8);
	assert_int_equal(invalid, 7);
	json_decref(exp);
}

static void test_rtcp_compound_and_derived_invalid_cases(void **state)
{
	size_t l1, l2, lr;
	uint8_t *sr = tu_read_vector("rtp", "aiortc/rtcp_sr.bin", &l1),
	        *sdes = tu_read_vector("rtp", "aiortc/rtcp_sdes.bin", &l2);
	uint8_t *rr = tu_read_vector("rtp", "aiortc/rtcp_rr.bin", &lr), both[256];
	uint64_t ntp;
	json_t *exp = load_expected(&ntp), *d = json_object_get(exp, "derived_invalid_cases");

	memcpy(both, sr, l1);
	memcpy(both + l1, sdes, l2);
	assert_int_equal(rtcp_compound_validate(both, l1 + l2), 2);
	for (size_t n = 1; n < 4; n++)
		assert_string_equal(
		        rtcp_strerror(rtcp_compound_validate(rr, n)),
		        json_string_value(json_object_get(d, "rtcp_rr.bin truncated <4 bytes")));
	for (size_t n = 4; n < lr; n++)
		assert_string_equal(
		        rtcp_strerror(rtcp_compound_validate(rr, n)),
		        json_string_value(json_object_get(d, "rtcp_rr.bin truncated >=4 bytes")));
	rr[0] = 0xc0;
	assert_string_equal(
	        rtcp_strerror(rtcp_compound_validate(rr, lr)),
	        json_string_value(json_object_get(d, "rtcp_rr.bin with first byte 0xc0")));
	/* Compound with a bad second packet: the whole compound is rejected. */
	memcpy(both + l1, rr, lr);
	assert_int_equal(rtcp_compound_validate(both, l1 + lr), RTCP_EVERSION);
	assert_int_equal(rtcp_compound_validate(both, 0), RTCP_ESHORT);
	json_decref(exp);
	free(sr);
	free(sdes);
	free(rr);
}

static void test_rtcp_builders_round_trip(void **state)
{
	uint8_t out[1024];
	struct buf_writer w;
	struct rtcp_report rep = {.ssrc = 9,
	                          .fraction_lost = 3,
	                          .packets_lost = -5,
	                          .highest_seq = 70000,
	                          .jitter = 12,
	                          .lsr = 0x11223344,
	                          .dlsr = 65536};
	uint32_t srcs[2] = {1, 2}, remb_ssrcs[4];
	struct rtcp_fir_entry fir = {0xabcdef01, 7}, fe[2];
	uint16_t lost[] = {100, 101, 116, 117, 300, 65535, 0}, got[32];
	static struct rtcp_packet pkt;
	struct rtcp_iter it;
	uint64_t br;
	size_t n;

	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_write_rr(&w, 77, &rep, 1), 0);
	assert_int_equal(rtcp_write_bye(&w, srcs, 2, "done"), 0);
	assert_int_equal(rtcp_write_app(&w, 3, 77, "PIRO", (const uint8_t *)"abcd", 4), 0);
	assert_int_equal(rtcp_write_pli(&w, 77, 88), 0);
	assert_int_equal(rtcp_write_fir(&w, 77, &fir, 1), 0);
	assert_int_equal(rtcp_write_remb(&w, 77, 1234567, srcs, 2), 0);
	assert_int_equal(rtcp_write_nack(&w, 77, 88, lost, 7), 0);
	assert_int_equal(rtcp_compound_validate(out, buf_writer_len(&w)), 7);

	rtcp_iter_init(&it, out, buf_writer_len(&w));
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(pkt.type, RTCP_RR);
	assert_int_equal(pkt.u.sr.reports[0].packets_lost, -5);
	assert_int_equal(pkt.u.sr.reports[0].highest_seq, 70000);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(pkt.u.bye.n_sources, 2);
	assert_int_equal(pkt.u.bye.reason_len, 4);
	assert_memory_equal(pkt.u.bye.reason, "done", 4);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(pkt.type, RTCP_APP);
	assert_int_equal(pkt.u.app.subtype, 3);
	assert_memory_equal(pkt.u.app.name, "PIRO", 4);
	assert_int_equal(pkt.u.app.len, 4);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(pkt.type, RTCP_PSFB);
	assert_int_equal(pkt.u.fb.fmt, RTCP_PSFB_PLI);
	assert_int_equal(pkt.u.fb.media_ssrc, 88);
	assert_int_equal(rtcp_nack_lost(&pkt, got, 32, &n), RTCP_ETYPE);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_fir_parse(&pkt, fe, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fe[0].ssrc, 0xabcdef01);
	assert_int_equal(fe[0].seq, 7);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_remb_parse(&pkt, &br, remb_ssrcs, 4, &n), 0);
	assert_int_equal(n, 2);
	/* 1234567 needs 21 bits: exponent 3, mantissa 154320 -> 1234560 (REMB rounds down). */
	assert_int_equal(br, 1234560);
	assert_int_equal(remb_ssrcs[1], 2);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_nack_lost(&pkt, got, 32, &n), 0);
	/* Sorted across the wrap: 300 is far from the rest, so 65535,0 start after it. */
	assert_int_equal(n, 7);
	assert_int_equal(got[0], 65535);
	assert_int_equal(got[1], 0);
	assert_int_equal(got[2], 100);
	assert_int_equal(got[3], 101);
	assert_int_equal(got[4], 116);
	assert_int_equal(got[5], 117);
	assert_int_equal(got[6], 300);
	/* 100 covers 101 and 116 (bits 0 and 15); 117 needs a new item. */
	assert_int_equal(pkt.u.fb.fci_len, 4 * 4);
	assert_int_equal(rtcp_nack_lost(&pkt, got, 3, &n), RTCP_ENOSPACE);
	assert_int_equal(rtcp_iter_next(&it, &pkt), 0);

	/* A builder that does not fit reports it. */
	buf_writer_init(&w, out, 10);
	assert_int_equal(rtcp_write_rr(&w, 77, &rep, 1), RTCP_ENOSPACE);
}

/* A sub-packet whose content fits the buffer but whose padding to 32 bits does not is refused
 * with RTCP_ENOSPACE (the padding loop used to spin forever there: a failed write does not
 * advance the writer). A BYE with one source and a 1-byte reason is 10 bytes before padding. */
static void test_rtcp_builder_refuses_when_only_the_padding_does_not_fit(void **state)
{
	uint8_t out[16];
	struct buf_writer w;

	(void)state;
	for (size_t cap = 0; cap < 12; cap++) {
		buf_writer_init(&w, out, cap);
		assert_int_equal(rtcp_write_bye(&w, (const uint32_t[]){7}, 1, "x"), RTCP_ENOSPACE);
	}
	buf_writer_init(&w, out, 12);
	assert_int_equal(rtcp_write_bye(&w, (const uint32_t[]){7}, 1, "x"), 0);
	assert_int_equal(buf_writer_len(&w), 12);
}

static void test_rtcp_twcc_feedback_round_trips_with_losses_and_large_deltas(void **state)
{
	enum { N = 60 };
	bool recv[N];
	int64_t arr[N];
	uint8_t out[1500];
	struct buf_writer w;
	static struct rtcp_packet pkt;
	struct rtcp_iter it;
	struct rtcp_twcc_info info;
	struct rtcp_twcc_pkt got[N];
	size_t consumed;

	for (int i = 0; i < N; i++) {
		recv[i] = !(i % 9 == 4 || (i >= 20 && i < 40)); /* scattered loss and a run */
		arr[i] = 5000000 + i * 20000;                   /* 20 ms apart: 1-byte deltas */
	}
	arr[45] = arr[44] + 300000; /* 300 ms gap: 2-byte delta */
	for (int i = 46; i < N; i++)
		arr[i] = arr[45] + (i - 45) * 1000;
	arr[50] = arr[49] - 3000; /* reordered arrival: negative delta */
	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_write_twcc(&w, 1, 2, 65530, recv, arr, N, 17, &consumed), 0);
	assert_int_equal(consumed, N);
	rtcp_iter_init(&it, out, buf_writer_len(&w));
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_twcc_parse(&pkt, &info, got, N), 0);
	assert_int_equal(info.base_seq, 65530);
	assert_int_equal(info.status_count, N);
	assert_int_equal(info.fb_count, 17);
	for (int i = 0; i < N; i++) {
		assert_int_equal(got[i].seq, (uint16_t)(65530 + i));
		assert_int_equal(got[i].received, recv[i]);
		if (recv[i])
			assert_int_equal(got[i].arrival_us, arr[i] / 250 * 250);
	}
	assert_int_equal(rtcp_twcc_parse(&pkt, &info, got, N - 1), RTCP_ENOSPACE);

	/* A delta beyond the 16-bit range splits the report. */
	arr[30] = arr[29] + 9000000;
	recv[30] = true;
	for (int i = 31; i < N; i++)
		arr[i] = arr[30] + i;
	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_write_twcc(&w, 1, 2, 0, recv, arr, N, 0, &consumed), 0);
	assert_int_equal(consumed, 30);

	/* Truncated feedback is rejected at every cut of the FCI. */
	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_write_twcc(&w, 1, 2, 0, recv, arr, 30, 0, &consumed), 0);
	rtcp_iter_init(&it, out, buf_writer_len(&w));
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	{
		size_t full = pkt.u.fb.fci_len;

		/* The last chunk+delta bytes are needed; trailing zero padding (<= 3) is not. */
		for (size_t cut = 0; cut + 4 < full; cut++) {
			pkt.u.fb.fci_len = cut;
			assert_int_not_equal(rtcp_twcc_parse(&pkt, &info, got, N), 0);
		}
	}
}

static void test_rtcp_rx_stats_report_loss_wrap_and_jitter(void **state)
{
	struct rtcp_rx_stats st;
	struct rtcp_report rep;
	int k = 0;

	rtcp_rx_stats_init(&st, 99, 90000);
	/* 65530 .. 9 (16 numbers across the wrap), 65533 and 3 lost, 7 arrives after 8. */
	for (uint32_t s = 65530; s < 65530 + 16; s++) {
		uint16_t seq = (uint16_t)s;

		if (seq == 65533 || seq == 3 || seq == 7)
			continue;
		rtcp_rx_stats_update(&st, seq, 1800u * (uint32_t)k, 20000LL * k);
		k++;
		if (seq == 8)
			rtcp_rx_stats_update(&st, 7, 1800u * (uint32_t)k, 20000LL * k), k++;
	}
	rtcp_rx_stats_report(&st, &rep, 0x1234, 5);
	assert_int_equal(rep.ssrc, 99);
	assert_int_equal(rep.highest_seq, 65536 + 9);
	assert_int_equal(rep.packets_lost, 2);
	assert_int_equal(rep.fraction_lost, 2 * 256 / 16);
	assert_int_equal(rep.jitter, 0); /* constant transit */
	assert_int_equal(rep.lsr, 0x1234);
	/* Next interval: transit alternates 0 / +10 ms (900 units at 90 kHz): jitter -> 900. */
	for (int i = 0; i < 200; i++, k++)
		rtcp_rx_stats_update(&st, (uint16_t)(10 + i), 1800u * (uint32_t)k,
		                     20000LL * k + (i % 2 ? 10000 : 0));
	rtcp_rx_stats_report(&st, &rep, 0, 0);
	assert_int_equal(rep.fraction_lost, 0);
	assert_int_equal(rep.packets_lost, 2);
	assert_int_equal(rep.highest_seq, 65536 + 209);
	assert_true(rep.jitter >= 890 && rep.jitter <= 900);
}

static void test_rtcp_twcc_recorder_reports_each_packet_once(void **state)
{
	struct rtcp_twcc_recorder *r;
	uint8_t out[1500];
	struct buf_writer w;
	static struct rtcp_packet pkt;
	struct rtcp_iter it;
	struct rtcp_twcc_info info;
	struct rtcp_twcc_pkt got[16];
	size_t n;

	assert_int_equal(rtcp_twcc_recorder_new(&r), 0);
	assert_int_equal(rtcp_twcc_recorder_add(r, 65534, 1000000), 0);
	assert_int_equal(rtcp_twcc_recorder_add(r, 1, 1030000), 0);     /* 0 still missing */
	assert_int_equal(rtcp_twcc_recorder_add(r, 65535, 1020000), 0); /* reordered */
	assert_int_equal(rtcp_twcc_recorder_add(r, 2, 1040000), 0);
	assert_int_equal(rtcp_twcc_recorder_add(r, 3, -1), RTCP_EINVAL);
	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_twcc_recorder_build(r, &w, 7, 8, &n), 0);
	assert_int_equal(n, 5);
	rtcp_iter_init(&it, out, buf_writer_len(&w));
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_twcc_parse(&pkt, &info, got, 16), 0);
	assert_int_equal(info.base_seq, 65534);
	assert_int_equal(info.status_count, 5);
	assert_true(got[0].received && got[1].received && !got[2].received && got[3].received &&
	            got[4].received);
	assert_int_equal(got[1].arrival_us, 1020000);
	assert_int_equal(got[4].arrival_us, 1040000);
	/* Nothing new: nothing written. */
	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_twcc_recorder_build(r, &w, 7, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(buf_writer_len(&w), 0);
	/* 0 arrives after being reported lost: not reported again; 3 is. */
	assert_int_equal(rtcp_twcc_recorder_add(r, 0, 1050000), 0);
	assert_int_equal(rtcp_twcc_recorder_add(r, 3, 1060000), 0);
	assert_int_equal(rtcp_twcc_recorder_build(r, &w, 7, 8, &n), 0);
	assert_int_equal(n, 1);
	rtcp_iter_init(&it, out, buf_writer_len(&w));
	assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
	assert_int_equal(rtcp_twcc_parse(&pkt, &info, got, 16), 0);
	assert_int_equal(info.base_seq, 3);
	assert_int_equal(info.fb_count, 1);
	/* Too small an output: error, and the packets stay unreported. */
	assert_int_equal(rtcp_twcc_recorder_add(r, 4, 1070000), 0);
	buf_writer_init(&w, out, 12);
	assert_int_equal(rtcp_twcc_recorder_build(r, &w, 7, 8, &n), RTCP_ENOSPACE);
	buf_writer_init(&w, out, sizeof out);
	assert_int_equal(rtcp_twcc_recorder_build(r, &w, 7, 8, &n), 0);
	assert_int_equal(n, 1);
	rtcp_twcc_recorder_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rtcp_parse_gives_aiortc_expected_results),
	        cmocka_unit_test(test_rtcp_compound_and_derived_invalid_cases),
	        cmocka_unit_test(test_rtcp_builders_round_trip),
	        cmocka_unit_test(test_rtcp_builder_refuses_when_only_the_padding_does_not_fit),
	        cmocka_unit_test(test_rtcp_twcc_feedback_round_trips_with_losses_and_large_deltas),
	        cmocka_unit_test(test_rtcp_rx_stats_report_loss_wrap_and_jitter),
	        cmocka_unit_test(test_rtcp_twcc_recorder_reports_each_packet_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
