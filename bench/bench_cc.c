/* bench/bench_cc.c — per-core throughput of the media parsers and the congestion controller,
 * each against memcpy of the same bytes measured in the same run.
 *
 * Rows: RTP packets parsed/s (a 1200-byte VP8 packet with a transport-wide sequence number
 * extension), VP8 descriptors parsed/s, transport-wide feedback reports parsed/s (100 packets
 * each), and packets acknowledged/s through cc_on_feedback.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mtime.h"
#include "relay/cc.h"
#include "relay/rtcp.h"
#include "relay/rtp.h"

static volatile uint64_t sink;

/* Runs fn until at least 0.3 s passed; returns calls per second. */
static double rate_of(void (*fn)(void *), void *arg)
{
	uint64_t start = mtime_now_ns(), now;
	uint64_t n = 0;

	do {
		for (int i = 0; i < 1000; i++)
			fn(arg);
		n += 1000;
		now = mtime_now_ns();
	} while (now - start < 300000000ull);
	return (double)n * 1e9 / (double)(now - start);
}

struct bytes {
	const uint8_t *p;
	size_t len;
};

static void do_memcpy(void *arg)
{
	static uint8_t dst[4096];
	struct bytes *b = arg;

	memcpy(dst, b->p, b->len);
	__asm__ volatile("" : : "r"(dst) : "memory");
	sink += dst[b->len - 1];
}

static void do_rtp(void *arg)
{
	struct bytes *b = arg;
	struct rtp_packet p;
	uint16_t seq;

	if (rtp_packet_parse(&p, b->p, b->len) == 0 && rtp_ext_get_twcc(&p, 5, &seq) == 0)
		sink += seq;
}

static void do_vp8(void *arg)
{
	struct bytes *b = arg;
	struct rtp_vp8_desc d;
	size_t dl;

	if (rtp_vp8_desc_parse(&d, &dl, b->p, b->len) == 0)
		sink += d.picture_id;
}

static void do_twcc(void *arg)
{
	static struct rtcp_packet pkt;
	static struct rtcp_twcc_pkt tw[128];
	struct bytes *b = arg;
	struct rtcp_iter it;
	struct rtcp_twcc_info info;

	rtcp_iter_init(&it, b->p, b->len);
	if (rtcp_iter_next(&it, &pkt) == 1 && rtcp_twcc_parse(&pkt, &info, tw, 128) == 0)
		sink += info.status_count;
}

struct ccb {
	struct cc *cc;
	struct rtcp_twcc_pkt tw[100];
	uint16_t seq;
	int64_t t;
};

/* One round: 100 packets sent 2 ms apart, then their feedback. */
static void do_cc(void *arg)
{
	struct ccb *c = arg;

	for (int i = 0; i < 100; i++) {
		cc_on_packet_sent(c->cc, (uint16_t)(c->seq + i), 1200, c->t + i * 2000, 0);
		c->tw[i].seq = (uint16_t)(c->seq + i);
		c->tw[i].received = i % 50 != 7;
		c->tw[i].arrival_us = c->t + i * 2000 + 300000 + (i % 5) * 100;
	}
	if (cc_on_feedback(c->cc, c->tw, 100, c->t + 200000 + 600000) == 0)
		sink += cc_target_bps(c->cc);
	c->seq = (uint16_t)(c->seq + 100);
	c->t += 200000;
}

static void row(const char *metric, double v, const char *unit, const char *anchor, double a,
                const char *aunit)
{
	printf("ROW\t%s\t%.0f %s\t%s\t%.0f %s\t%.3f\n", metric, v, unit, anchor, a, aunit, v / a);
}

int main(void)
{
	uint8_t rtp[1300], payload[1200], twcc_seq[2] = {0x12, 0x34}, fb[1500];
	struct rtp_packet p = {0};
	struct bytes b_rtp, b_vp8, b_fb;
	struct buf_writer w;
	bool recv[100];
	int64_t arr[100];
	size_t len, used;
	struct ccb c = {0};
	double r, m;

	memset(payload, 0x5a, sizeof payload);
	/* VP8 descriptor: X, I (15-bit picture id), L, T */
	memcpy(payload, "\x90\xe0\x92\x34\x56\x40", 6);
	p.payload_type = 96;
	p.seq = 1;
	p.ssrc = 42;
	p.n_ext = 1;
	p.ext[0] = (struct rtp_ext){5, 2, twcc_seq};
	p.payload = payload;
	p.payload_len = sizeof payload;
	if (rtp_packet_write(&p, rtp, sizeof rtp, &len) != 0)
		return 1;
	b_rtp = (struct bytes){rtp, len};
	b_vp8 = (struct bytes){payload, sizeof payload};
	for (int i = 0; i < 100; i++) {
		recv[i] = i % 30 != 4;
		arr[i] = 1000000 + i * 3000;
	}
	buf_writer_init(&w, fb, sizeof fb);
	if (rtcp_write_twcc(&w, 1, 2, 100, recv, arr, 100, 0, &used) != 0 || used != 100)
		return 1;
	b_fb = (struct bytes){fb, buf_writer_len(&w)};

	r = rate_of(do_rtp, &b_rtp);
	m = rate_of(do_memcpy, &b_rtp);
	row("rtp_parse_1212B_twcc", r, "packets/s", "memcpy_same_bytes", m, "copies/s");
	r = rate_of(do_vp8, &b_vp8);
	m = rate_of(do_memcpy, &b_vp8);
	row("vp8_descriptor_parse", r, "packets/s", "memcpy_1200B_payload", m, "copies/s");
	r = rate_of(do_twcc, &b_fb);
	m = rate_of(do_memcpy, &b_fb);
	row("twcc_feedback_parse_100pkt", r * 100, "packet-reports/s", "memcpy_same_report",
	    m * 100, "packet-reports/s");
	if (cc_new(&c.cc, NULL) != 0)
		return 1;
	c.t = 0;
	r = rate_of(do_cc, &c);
	row("cc_send+feedback", r * 100, "packets/s", "memcpy_1212B_per_packet",
	    rate_of(do_memcpy, &b_rtp), "packets/s");
	cc_free(c.cc);
	return (int)(sink & 0);
}
