/* tests/unit/test_fec.c — XOR FEC: any single loss in a group comes back byte for byte, two
 * losses are reported as unrecoverable, malformed repairs are rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "relay/fec.h"
#include "relay/rtp.h"

#define K 8

static uint8_t pkts[K][1300];
static size_t lens[K];
static uint16_t seqs[K];

/* Builds K real RTP packets of different lengths; sequence numbers base + i * step. */
static void make_group(uint16_t base, unsigned step)
{
	for (int i = 0; i < K; i++) {
		uint8_t payload[1200];
		struct rtp_packet p = {0};

		for (size_t j = 0; j < sizeof payload; j++)
			payload[j] = (uint8_t)(i * 31 + j * 7);
		p.payload_type = 96;
		p.marker = i == K - 1;
		seqs[i] = (uint16_t)(base + i * step);
		p.seq = seqs[i];
		p.timestamp = 90000u * (unsigned)(i / 3);
		p.ssrc = 0x11223344;
		p.payload = payload;
		p.payload_len = 100 + (size_t)i * 137; /* 100 .. 1059 bytes */
		assert_int_equal(rtp_packet_write(&p, pkts[i], sizeof pkts[i], &lens[i]), 0);
	}
}

static size_t encode_group(uint8_t *repair, size_t cap)
{
	struct fec_encoder e;
	int ret = 0;

	fec_encoder_init(&e, K);
	for (int i = 0; i < K; i++) {
		ret = fec_encoder_add(&e, pkts[i], lens[i], seqs[i], repair, cap);
		if (i < K - 1)
			assert_int_equal(ret, 0);
	}
	assert_true(ret > 0);
	return (size_t)ret;
}

static void test_fec_recovers_any_single_loss_in_group_exactly(void **state)
{
	static const unsigned steps[] = {1, 3}; /* consecutive, and base layer of 3 layers */
	static const uint16_t bases[] = {100, 65530};

	for (size_t s = 0; s < 2; s++) {
		uint8_t repair[1400], out[1500];
		struct fec_repair r;
		size_t rl, out_len;
		uint16_t out_seq;

		make_group(bases[s], steps[s]);
		rl = encode_group(repair, sizeof repair);
		/* header + longest packet (12 RTP + 1059) */
		assert_int_equal(rl, FEC_HEADER + 12 + 1059);
		assert_int_equal(fec_repair_parse(&r, repair, rl), 0);
		assert_int_equal(r.base, bases[s]);
		for (int lost = 0; lost < K; lost++) {
			struct fec_pkt have[K];
			struct rtp_packet p;
			size_t n = 0;

			for (int i = 0; i < K; i++)
				if (i != lost)
					have[n++] = (struct fec_pkt){seqs[i], pkts[i], lens[i]};
			assert_int_equal(
			        fec_recover(&r, have, n, out, sizeof out, &out_len, &out_seq), 0);
			assert_int_equal(out_seq, seqs[lost]);
			assert_int_equal(out_len, lens[lost]);
			assert_memory_equal(out, pkts[lost], lens[lost]);
			assert_int_equal(rtp_packet_parse(&p, out, out_len), 0);
			assert_int_equal(p.seq, seqs[lost]);
		}
	}
}

static void test_fec_two_losses_cannot_recover_and_none_needs_nothing(void **state)
{
	uint8_t repair[1400], out[1500];
	struct fec_repair r;
	struct fec_pkt have[K];
	size_t rl, out_len, n = 0;
	uint16_t out_seq = 7;

	make_group(1000, 1);
	rl = encode_group(repair, sizeof repair);
	assert_int_equal(fec_repair_parse(&r, repair, rl), 0);
	for (int i = 0; i < K; i++)
		have[n++] = (struct fec_pkt){seqs[i], pkts[i], lens[i]};
	assert_int_equal(fec_recover(&r, have, K, out, sizeof out, &out_len, &out_seq),
	                 FEC_ENOTHING);
	for (int a = 0; a < K; a++)
		for (int b = a + 1; b < K; b++) {
			n = 0;
			for (int i = 0; i < K; i++)
				if (i != a && i != b)
					have[n++] = (struct fec_pkt){seqs[i], pkts[i], lens[i]};
			assert_int_equal(
			        fec_recover(&r, have, n, out, sizeof out, &out_len, &out_seq),
			        FEC_ETOOMANY);
		}
	assert_int_equal(out_seq, 7); /* untouched on failure */
	assert_string_equal(fec_strerror(FEC_ETOOMANY), "FEC group lost more than one packet");
}

static void test_fec_rejects_malformed_repairs(void **state)
{
	uint8_t repair[1400], out[1500];
	struct fec_repair r;
	struct fec_pkt have[K];
	size_t rl, out_len;
	uint16_t out_seq;

	make_group(1, 1);
	rl = encode_group(repair, sizeof repair);
	for (size_t cut = 0; cut <= FEC_HEADER; cut++)
		assert_int_equal(fec_repair_parse(&r, repair, cut), FEC_EMALFORMED);
	/* Repair shorter than a protected packet: the XOR cannot cover it. */
	assert_int_equal(fec_repair_parse(&r, repair, FEC_HEADER + 200), 0);
	for (int i = 1; i < K; i++)
		have[i - 1] = (struct fec_pkt){seqs[i], pkts[i], lens[i]};
	assert_int_equal(fec_recover(&r, have, K - 1, out, sizeof out, &out_len, &out_seq),
	                 FEC_EMALFORMED);
	/* Output too small. */
	assert_int_equal(fec_repair_parse(&r, repair, rl), 0);
	assert_int_equal(fec_recover(&r, have, K - 1, out, 100, &out_len, &out_seq), FEC_ENOSPACE);
	/* A mask without its base bit is malformed. */
	repair[9] &= 0xfe;
	assert_int_equal(fec_repair_parse(&r, repair, rl), FEC_EMALFORMED);
}

static void test_fec_group_size_follows_measured_loss(void **state)
{
	/* Largest k with P(>= 2 of k+1 lost) <= loss/4 for independent loss. */
	assert_int_equal(fec_group_size_for_loss(0.0), 0);
	assert_int_equal(fec_group_size_for_loss(0.004), 0);
	assert_int_equal(fec_group_size_for_loss(0.005), 9);
	assert_int_equal(fec_group_size_for_loss(0.01), 6);
	assert_int_equal(fec_group_size_for_loss(0.02), 4);
	assert_int_equal(fec_group_size_for_loss(0.05), 2);
	assert_int_equal(fec_group_size_for_loss(0.3), 2);
}

/* Runs the encoder the way relay/media does: pictures of pic_bytes at fps, each cut into packets
 * of at most payload bytes (plus an RTP header), a group flushed at the end of its
 * per_group-th picture; returns the repair packets' wire rate (bit/s) over 60 s with `ovh` bytes
 * of headers each. */
static double repair_rate_measured(double fps, size_t pic_bytes, unsigned per_group, unsigned k,
                                   size_t payload, size_t ovh)
{
	static uint8_t pkt[FEC_MAX_PACKET], repair[FEC_MAX_PACKET + FEC_HEADER];
	struct fec_encoder e;
	uint64_t bytes = 0;
	unsigned pics = (unsigned)(fps * 60), in_group = 0;
	uint16_t seq = 0;

	fec_encoder_init(&e, k);
	for (unsigned p = 0; p < pics; p++) {
		size_t left = pic_bytes, n = (pic_bytes + payload - 1) / payload;

		for (size_t i = 0; i < n; i++) {
			size_t len = left / (n - i);
			int rl;

			left -= len;
			memset(pkt, (int)(p + i), RTP_HEADER_MIN + len);
			rl = fec_encoder_add(&e, pkt, RTP_HEADER_MIN + len, seq++, repair,
			                     sizeof repair);
			assert_true(rl >= 0);
			if (rl > 0) {
				bytes += (uint64_t)rl + ovh;
				in_group = 0;
			}
		}
		if (e.open && ++in_group >= per_group) {
			int rl = fec_encoder_flush(&e, repair, sizeof repair);

			assert_true(rl > 0);
			bytes += (uint64_t)rl + ovh;
			in_group = 0;
		}
	}
	return bytes * 8.0 / 60.0;
}

static void test_fec_repair_rate_matches_the_encoder(void **state)
{
	/* The ladder's estimate of what FEC adds agrees with what the encoder really emits (within
	 * 3 %): 180p-15 on a 12 fps camera (base layer 6 pictures/s of 1200 B, groups closed by
	 * time at 3 pictures, far below k = 6), a high rate where k closes the groups (4 packets a
	 * picture), a still every 6 s (one group per still, 10 packets, k = 4). */
	static const struct {
		double fps;
		size_t pic;
		unsigned per_group, k;
	} c[] = {{6, 1200, 3, 6}, {7.5, 4400, 3, 2}, {1.0 / 6, 12000, 1, 4}, {15, 300, 4, 9}};

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		double want =
		        repair_rate_measured(c[i].fps, c[i].pic, c[i].per_group, c[i].k, 1200, 64);
		uint32_t got = fec_repair_bps((uint32_t)(c[i].pic * 8 * c[i].fps), c[i].fps,
		                              c[i].per_group, c[i].k, 1200, 64);

		if (fabs(got - want) > want * 0.03)
			fail_msg("case %zu: estimate %u bit/s, encoder %.0f bit/s", i, got, want);
	}
	assert_int_equal(fec_repair_bps(57600, 6, 3, 0, 1200, 64), 0);
	assert_int_equal(fec_repair_bps(0, 6, 3, 6, 1200, 64), 0);
	assert_int_equal(fec_repair_bps(57600, 0, 3, 6, 1200, 64), 0);
}

static void test_fec_decoder_store_recovers_and_encoder_closes_on_gap(void **state)
{
	struct fec_decoder *d;
	struct fec_encoder e;
	uint8_t repair[1400], out[1500];
	size_t out_len;
	uint16_t out_seq;
	int ret;

	make_group(65533, 1); /* wraps through 0 */
	assert_int_equal(fec_decoder_new(&d), 0);
	for (int i = 0; i < K; i++)
		if (i != 4)
			assert_int_equal(fec_decoder_add_media(d, seqs[i], pkts[i], lens[i]), 0);
	ret = (int)encode_group(repair, sizeof repair);
	assert_int_equal(
	        fec_decoder_add_repair(d, repair, (size_t)ret, out, sizeof out, &out_len, &out_seq),
	        0);
	assert_int_equal(out_seq, 1); /* 65533 + 4 */
	assert_memory_equal(out, pkts[4], lens[4]);
	/* Applying it again: the packet is now stored, nothing missing. */
	assert_int_equal(
	        fec_decoder_add_repair(d, repair, (size_t)ret, out, sizeof out, &out_len, &out_seq),
	        FEC_ENOTHING);
	fec_decoder_free(d);

	/* A sequence jump of 64 or more closes the open group early (3 packets protected). */
	fec_encoder_init(&e, K);
	make_group(10, 1);
	assert_int_equal(fec_encoder_add(&e, pkts[0], lens[0], 10, repair, sizeof repair), 0);
	assert_int_equal(fec_encoder_add(&e, pkts[1], lens[1], 11, repair, sizeof repair), 0);
	assert_int_equal(fec_encoder_add(&e, pkts[2], lens[2], 12, repair, sizeof repair), 0);
	ret = fec_encoder_add(&e, pkts[3], lens[3], 200, repair, sizeof repair);
	assert_true(ret > 0);
	{
		struct fec_repair r;

		assert_int_equal(fec_repair_parse(&r, repair, (size_t)ret), 0);
		assert_int_equal(r.base, 10);
		assert_true(r.mask == 0x7);
	}
	/* Protection off: nothing produced. */
	fec_encoder_init(&e, 0);
	assert_int_equal(fec_encoder_add(&e, pkts[0], lens[0], 1, repair, sizeof repair), 0);
	assert_int_equal(fec_encoder_flush(&e, repair, sizeof repair), 0);
}

/* relay/media's anchor pictures: packets 0..n-1 of a picture open a group that also holds
 * packet n (the next base-layer picture's), and a second repair XORs the picture's
 * even-numbered packets (the 2nd, 4th, ...: indexes 1, 3, ...). Any two packets in a row of the
 * picture lost together come back, the second repair applied first (relay/media sends it
 * first); fec_even_repair_bps is what that repair costs on the wire. */
static void test_fec_even_repair_restores_two_in_a_row(void **state)
{
	uint8_t rg[1400], re[1400], out[1500];
	size_t out_len;
	uint16_t out_seq;

	(void)state;
	make_group(40, 1);
	for (unsigned n = 2; n < K; n++) {
		struct fec_encoder g, ev;
		int lg = 0, le;

		fec_encoder_init(&g, FEC_MAX_GROUP);
		fec_encoder_init(&ev, FEC_MAX_GROUP);
		for (unsigned i = 0; i <= n; i++) {
			assert_int_equal(
			        fec_encoder_add(&g, pkts[i], lens[i], seqs[i], rg, sizeof rg), 0);
			if (i < n && i % 2 == 1)
				assert_int_equal(fec_encoder_add(&ev, pkts[i], lens[i], seqs[i], re,
				                                 sizeof re),
				                 0);
		}
		lg = fec_encoder_flush(&g, rg, sizeof rg);
		le = fec_encoder_flush(&ev, re, sizeof re);
		assert_true(lg > 0 && le > 0);
		for (unsigned a = 0; a + 1 < n; a++) {
			struct fec_decoder *d;
			bool got[2] = {false, false};

			assert_int_equal(fec_decoder_new(&d), 0);
			for (unsigned i = 0; i <= n; i++)
				if (i != a && i != a + 1)
					assert_int_equal(
					        fec_decoder_add_media(d, seqs[i], pkts[i], lens[i]),
					        0);
			/* the group's repair alone cannot: two are missing */
			assert_int_equal(fec_decoder_add_repair(d, rg, (size_t)lg, out, sizeof out,
			                                        &out_len, &out_seq),
			                 FEC_ETOOMANY);
			assert_int_equal(fec_decoder_add_repair(d, re, (size_t)le, out, sizeof out,
			                                        &out_len, &out_seq),
			                 0);
			for (unsigned r = 0; r < 2; r++) {
				unsigned i = out_seq == seqs[a] ? a : a + 1;

				assert_true(out_seq == seqs[a] || out_seq == seqs[a + 1]);
				assert_int_equal(out_len, lens[i]);
				assert_memory_equal(out, pkts[i], lens[i]);
				got[i - a] = true;
				if (r == 0)
					assert_int_equal(fec_decoder_add_repair(d, rg, (size_t)lg,
					                                        out, sizeof out,
					                                        &out_len, &out_seq),
					                 0);
			}
			assert_true(got[0] && got[1]);
			fec_decoder_free(d);
		}
	}
	/* the cost: one picture a second, on the wire with the repair's RTP header and 64 bytes */
	assert_int_equal(fec_even_repair_bps(1000, 1, 1200, 64), 0); /* one packet: none */
	{
		struct fec_encoder ev;
		uint8_t pic[2][1300];
		int le;

		memset(pic, 0xa5, sizeof pic);
		fec_encoder_init(&ev, FEC_MAX_GROUP);
		assert_int_equal(
		        fec_encoder_add(&ev, pic[1], RTP_HEADER_MIN + 700, 2, re, sizeof re), 0);
		le = fec_encoder_flush(&ev, re, sizeof re);
		/* 1900 bytes of payload in packets of at most 1200: the 2nd carries 700; the
		 * repair goes with 64 bytes of headers (its own RTP header among them) */
		assert_int_equal(fec_even_repair_bps(1900, 1, 1200, 64), (le + 64) * 8);
		/* three or more packets: a full one, at 2 pictures a second */
		assert_int_equal(fec_even_repair_bps(3000, 2, 1200, 64),
		                 2 * (1200 + FEC_HEADER + RTP_HEADER_MIN + 64) * 8);
		assert_int_equal(fec_even_repair_bps(3000, 0, 1200, 64), 0);
	}
}

/* A held group stays open past k (a recovery point's packets all in one group), closes when
 * released if it has reached k, and its one repair restores any single loss of it; released
 * short of k it stays open for the next packets; a packet past the 64-bit mask still closes it. */
static void test_fec_held_group_stays_whole(void **state)
{
	uint8_t repair[1400], out[1500];
	struct fec_encoder e;
	struct fec_repair r;
	size_t out_len;
	uint16_t out_seq;
	int rl;

	(void)state;
	make_group(7, 1);
	fec_encoder_init(&e, 3);
	for (int i = 0; i < 2; i++) /* two packets of the picture before */
		assert_int_equal(
		        fec_encoder_add(&e, pkts[i], lens[i], seqs[i], repair, sizeof repair), 0);
	fec_encoder_hold(&e);
	for (int i = 2; i < 6; i++) /* the recovery point: 4 packets, past k = 3 */
		assert_int_equal(
		        fec_encoder_add(&e, pkts[i], lens[i], seqs[i], repair, sizeof repair), 0);
	rl = fec_encoder_release(&e, repair, sizeof repair);
	assert_true(rl > 0);
	assert_int_equal(fec_repair_parse(&r, repair, (size_t)rl), 0);
	assert_int_equal(r.base, seqs[0]);
	assert_int_equal(r.mask, 0x3f);
	for (int lost = 0; lost < 6; lost++) {
		struct fec_pkt have[6];
		size_t n = 0;

		for (int i = 0; i < 6; i++)
			if (i != lost)
				have[n++] = (struct fec_pkt){seqs[i], pkts[i], lens[i]};
		assert_int_equal(fec_recover(&r, have, n, out, sizeof out, &out_len, &out_seq), 0);
		assert_int_equal(out_seq, seqs[lost]);
		assert_memory_equal(out, pkts[lost], lens[lost]);
	}
	/* after the release, groups close at k again */
	assert_int_equal(fec_encoder_add(&e, pkts[6], lens[6], seqs[6], repair, sizeof repair), 0);
	fec_encoder_hold(&e);
	/* released short of k: nothing yet, the group goes on */
	assert_int_equal(fec_encoder_release(&e, repair, sizeof repair), 0);
	assert_int_equal(fec_encoder_add(&e, pkts[7], lens[7], seqs[7], repair, sizeof repair), 0);
	make_group(15, 1);
	rl = fec_encoder_add(&e, pkts[0], lens[0], seqs[0], repair, sizeof repair);
	assert_true(rl > 0); /* the third packet: k */
	assert_int_equal(fec_repair_parse(&r, repair, (size_t)rl), 0);
	assert_int_equal(r.mask, 0x7);
	/* held, a packet past the mask closes the group all the same */
	fec_encoder_hold(&e);
	assert_int_equal(fec_encoder_add(&e, pkts[1], lens[1], 100, repair, sizeof repair), 0);
	rl = fec_encoder_add(&e, pkts[2], lens[2], 100 + FEC_MAX_GROUP, repair, sizeof repair);
	assert_true(rl > 0);
	assert_int_equal(fec_repair_parse(&r, repair, (size_t)rl), 0);
	assert_int_equal(r.base, 100);
	assert_int_equal(r.mask, 1);
	/* k = 0: no protection, held or not */
	fec_encoder_init(&e, 0);
	fec_encoder_hold(&e);
	assert_int_equal(fec_encoder_add(&e, pkts[3], lens[3], 5, repair, sizeof repair), 0);
	assert_int_equal(fec_encoder_release(&e, repair, sizeof repair), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fec_recovers_any_single_loss_in_group_exactly),
	        cmocka_unit_test(test_fec_two_losses_cannot_recover_and_none_needs_nothing),
	        cmocka_unit_test(test_fec_rejects_malformed_repairs),
	        cmocka_unit_test(test_fec_group_size_follows_measured_loss),
	        cmocka_unit_test(test_fec_repair_rate_matches_the_encoder),
	        cmocka_unit_test(test_fec_even_repair_restores_two_in_a_row),
	        cmocka_unit_test(test_fec_held_group_stays_whole),
	        cmocka_unit_test(test_fec_decoder_store_recovers_and_encoder_closes_on_gap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
