/* relay/rtcp.c — RTCP compound packets and feedback (see rtcp.h). */
#include "relay/rtcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *rtcp_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case RTCP_ESHORT:
		return "RTCP packet length is less than 4 bytes";
	case RTCP_EVERSION:
		return "RTCP packet has invalid version";
	case RTCP_ETRUNC:
		return "RTCP packet is truncated";
	case RTCP_EPADDING:
		return "RTCP packet padding length is invalid";
	case RTCP_ESR:
		return "RTCP sender report length is invalid";
	case RTCP_ERR:
		return "RTCP receiver report length is invalid";
	case RTCP_ESDES_SRC:
		return "RTCP SDES source is truncated";
	case RTCP_ESDES_ITEM:
		return "RTCP SDES item is truncated";
	case RTCP_EBYE:
		return "RTCP bye length is invalid";
	case RTCP_EAPP:
		return "RTCP APP length is invalid";
	case RTCP_ERTPFB:
		return "RTCP RTP feedback length is invalid";
	case RTCP_EPSFB:
		return "RTCP payload-specific feedback length is invalid";
	case RTCP_ETWCC:
		return "RTCP transport-wide feedback is malformed";
	case RTCP_EREMB:
		return "RTCP REMB is malformed";
	case RTCP_EFIR:
		return "RTCP FIR is malformed";
	case RTCP_ENOSPACE:
		return "RTCP output buffer is too small";
	case RTCP_EINVAL:
		return "RTCP argument out of range";
	case RTCP_ETYPE:
		return "RTCP packet is not of the expected type";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown RTCP error";
	}
}

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *data, size_t len)
{
	buf_reader_init(&it->r, data, len);
}

static void read_report(struct buf_reader *r, struct rtcp_report *rep)
{
	uint32_t lost;

	rep->ssrc = buf_read_u32(r);
	rep->fraction_lost = buf_read_u8(r);
	lost = buf_read_u24(r);
	rep->packets_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
	rep->highest_seq = buf_read_u32(r);
	rep->jitter = buf_read_u32(r);
	rep->lsr = buf_read_u32(r);
	rep->dlsr = buf_read_u32(r);
}

/* RFC 3550 6.5: chunks of SSRC + items ending with an END item, each chunk 32-bit aligned. */
static int parse_sdes(struct rtcp_packet *pkt, const uint8_t *d, size_t n)
{
	size_t pos = 0;

	pkt->u.sdes.n_chunks = pkt->count;
	for (unsigned c = 0; c < pkt->count; c++) {
		struct rtcp_sdes_chunk *ch = &pkt->u.sdes.chunks[c];
		size_t start;

		if (n - pos < 4)
			return RTCP_ESDES_SRC;
		ch->ssrc = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 |
		           (uint32_t)d[pos + 2] << 8 | d[pos + 3];
		ch->n_items = 0;
		start = pos;
		pos += 4;
		while (pos < n) {
			uint8_t type = d[pos], len;

			if (type == 0) {
				pos++;
				/* Skip the null padding to the next 32-bit boundary of the chunk.
				 */
				while ((pos - start) % 4 && pos < n)
					pos++;
				break;
			}
			if (n - pos < 2)
				return RTCP_ESDES_ITEM;
			len = d[pos + 1];
			pos += 2;
			if (n - pos < len)
				return RTCP_ESDES_ITEM;
			if (ch->n_items < RTCP_SDES_MAX_ITEMS)
				ch->items[ch->n_items++] =
				        (struct rtcp_sdes_item){type, len, d + pos};
			pos += len;
		}
	}
	return 0;
}

static int parse_body(struct rtcp_packet *pkt)
{
	struct buf_reader r;
	const uint8_t *d = pkt->body;
	size_t n = pkt->body_len;

	buf_reader_init(&r, d, n);
	switch (pkt->type) {
	case RTCP_SR:
	case RTCP_RR:
		/* Profile-specific extensions may follow the report blocks (RFC 3550 6.4.1). */
		if (pkt->type == RTCP_SR && n < 24u + 24u * pkt->count)
			return RTCP_ESR;
		if (pkt->type == RTCP_RR && n < 4u + 24u * pkt->count)
			return RTCP_ERR;
		pkt->u.sr.ssrc = buf_read_u32(&r);
		if (pkt->type == RTCP_SR) {
			pkt->u.sr.ntp = buf_read_u64(&r);
			pkt->u.sr.rtp_ts = buf_read_u32(&r);
			pkt->u.sr.packet_count = buf_read_u32(&r);
			pkt->u.sr.octet_count = buf_read_u32(&r);
		} else {
			pkt->u.sr.ntp = 0;
			pkt->u.sr.rtp_ts = pkt->u.sr.packet_count = pkt->u.sr.octet_count = 0;
		}
		pkt->u.sr.n_reports = pkt->count;
		for (unsigned i = 0; i < pkt->count; i++)
			read_report(&r, &pkt->u.sr.reports[i]);
		return 0;
	case RTCP_SDES:
		return parse_sdes(pkt, d, n);
	case RTCP_BYE:
		if (n < 4u * pkt->count)
			return RTCP_EBYE;
		pkt->u.bye.n_sources = pkt->count;
		for (unsigned i = 0; i < pkt->count; i++)
			pkt->u.bye.sources[i] = buf_read_u32(&r);
		pkt->u.bye.reason = NULL;
		pkt->u.bye.reason_len = 0;
		if (buf_reader_left(&r)) {
			uint8_t rl = buf_read_u8(&r);
			const uint8_t *reason = buf_read_view(&r, rl);

			if (!reason)
				return RTCP_EBYE;
			pkt->u.bye.reason = reason;
			pkt->u.bye.reason_len = rl;
		}
		return 0;
	case RTCP_APP:
		if (n < 8 || n % 4)
			return RTCP_EAPP;
		pkt->u.app.subtype = pkt->count;
		pkt->u.app.ssrc = buf_read_u32(&r);
		buf_read_bytes(&r, pkt->u.app.name, 4);
		pkt->u.app.data = d + 8;
		pkt->u.app.len = n - 8;
		return 0;
	case RTCP_RTPFB:
	case RTCP_PSFB:
		if (pkt->type == RTCP_RTPFB && (n < 8 || n % 4))
			return RTCP_ERTPFB;
		if (pkt->type == RTCP_PSFB && n < 8)
			return RTCP_EPSFB;
		pkt->u.fb.fmt = pkt->count;
		pkt->u.fb.ssrc = buf_read_u32(&r);
		pkt->u.fb.media_ssrc = buf_read_u32(&r);
		pkt->u.fb.fci = d + 8;
		pkt->u.fb.fci_len = n - 8;
		return 0;
	default:
		/* Unknown types (XR, ...) are skipped with their body available raw. */
		return 0;
	}
}

int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_packet *pkt)
{
	struct buf_reader *r = &it->r;
	struct rtcp_packet tmp;
	uint8_t b0;
	size_t len;
	const uint8_t *body;
	int ret;

	if (!buf_reader_ok(r))
		return RTCP_ETRUNC;
	if (buf_reader_left(r) == 0)
		return 0;
	if (buf_reader_left(r) < 4) {
		r->err = true;
		return RTCP_ESHORT;
	}
	b0 = buf_read_u8(r);
	memset(&tmp, 0, sizeof tmp);
	tmp.type = buf_read_u8(r);
	len = 4u * buf_read_u16(r);
	tmp.count = b0 & 0x1f;
	if (b0 >> 6 != 2) {
		r->err = true;
		return RTCP_EVERSION;
	}
	body = buf_read_view(r, len);
	if (!body)
		return RTCP_ETRUNC;
	if (b0 & 0x20) {
		if (len == 0 || body[len - 1] == 0 || body[len - 1] > len) {
			r->err = true;
			return RTCP_EPADDING;
		}
		len -= body[len - 1];
	}
	tmp.body = body;
	tmp.body_len = len;
	if ((ret = parse_body(&tmp)) != 0) {
		r->err = true;
		return ret;
	}
	*pkt = tmp;
	return 1;
}

int rtcp_compound_validate(const uint8_t *data, size_t len)
{
	struct rtcp_iter it;
	struct rtcp_packet *pkt;
	int n = 0, ret;

	if (len == 0)
		return RTCP_ESHORT;
	/* struct rtcp_packet is large (SDES chunks); keep it off small stacks. */
	pkt = malloc(sizeof *pkt);
	if (!pkt)
		return -ENOMEM;
	rtcp_iter_init(&it, data, len);
	while ((ret = rtcp_iter_next(&it, pkt)) == 1)
		n++;
	free(pkt);
	return ret < 0 ? ret : n;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int rtcp_nack_lost(const struct rtcp_packet *pkt, uint16_t *lost, size_t cap, size_t *n)
{
	size_t k = 0;

	if (pkt->type != RTCP_RTPFB || pkt->u.fb.fmt != RTCP_RTPFB_NACK)
		return RTCP_ETYPE;
	for (size_t i = 0; i + 4 <= pkt->u.fb.fci_len; i += 4) {
		const uint8_t *f = pkt->u.fb.fci + i;
		uint16_t pid = (uint16_t)(f[0] << 8 | f[1]), blp = (uint16_t)(f[2] << 8 | f[3]);

		if (k >= cap)
			return RTCP_ENOSPACE;
		lost[k++] = pid;
		for (unsigned b = 0; b < 16; b++) {
			if (!(blp & (1u << b)))
				continue;
			if (k >= cap)
				return RTCP_ENOSPACE;
			lost[k++] = (uint16_t)(pid + b + 1);
		}
	}
	*n = k;
	return 0;
}

int rtcp_remb_parse(const struct rtcp_packet *pkt, uint64_t *bitrate, uint32_t *ssrcs, size_t cap,
                    size_t *n)
{
	const uint8_t *f = pkt->u.fb.fci;
	size_t num;
	uint32_t v;

	if (pkt->type != RTCP_PSFB || pkt->u.fb.fmt != RTCP_PSFB_AFB)
		return RTCP_ETYPE;
	if (pkt->u.fb.fci_len < 8 || memcmp(f, "REMB", 4) != 0)
		return RTCP_EREMB;
	num = f[4];
	if (pkt->u.fb.fci_len < 8 + 4 * num || num > cap)
		return RTCP_EREMB;
	v = be32(f + 4) & 0xffffff;
	/* 6-bit exponent, 18-bit mantissa; reject values that overflow 64 bits. */
	if ((v >> 18) > 46)
		return RTCP_EREMB;
	*bitrate = (uint64_t)(v & 0x3ffff) << (v >> 18);
	for (size_t i = 0; i < num; i++)
		ssrcs[i] = be32(f + 8 + 4 * i);
	*n = num;
	return 0;
}

int rtcp_fir_parse(const struct rtcp_packet *pkt, struct rtcp_fir_entry *e, size_t cap, size_t *n)
{
	size_t num;

	if (pkt->type != RTCP_PSFB || pkt->u.fb.fmt != RTCP_PSFB_FIR)
		return RTCP_ETYPE;
	if (pkt->u.fb.fci_len == 0 || pkt->u.fb.fci_len % 8)
		return RTCP_EFIR;
	num = pkt->u.fb.fci_len / 8;
	if (num > cap)
		return RTCP_EFIR;
	for (size_t i = 0; i < num; i++) {
		e[i].ssrc = be32(pkt->u.fb.fci + 8 * i);
		e[i].seq = pkt->u.fb.fci[8 * i + 4];
	}
	*n = num;
	return 0;
}

int rtcp_twcc_parse(const struct rtcp_packet *pkt, struct rtcp_twcc_info *info,
                    struct rtcp_twcc_pkt *pkts, size_t cap)
{
	struct buf_reader r;
	struct rtcp_twcc_info in;
	size_t k = 0;
	int64_t t;
	uint32_t ref;

	if (pkt->type != RTCP_RTPFB || pkt->u.fb.fmt != RTCP_RTPFB_TWCC)
		return RTCP_ETYPE;
	buf_reader_init(&r, pkt->u.fb.fci, pkt->u.fb.fci_len);
	in.ssrc = pkt->u.fb.ssrc;
	in.media_ssrc = pkt->u.fb.media_ssrc;
	in.base_seq = buf_read_u16(&r);
	in.status_count = buf_read_u16(&r);
	ref = buf_read_u24(&r);
	in.ref_time = (ref & 0x800000) ? (int32_t)ref - 0x1000000 : (int32_t)ref;
	in.fb_count = buf_read_u8(&r);
	if (!buf_reader_ok(&r) || in.status_count == 0)
		return RTCP_ETWCC;
	if (in.status_count > cap)
		return RTCP_ENOSPACE;
	/* Packet chunks: first pass records the status symbol of each packet. */
	while (k < in.status_count) {
		uint16_t c = buf_read_u16(&r);

		if (!buf_reader_ok(&r))
			return RTCP_ETWCC;
		if (!(c & 0x8000)) {
			uint8_t sym = (c >> 13) & 3;
			size_t run = c & 0x1fff;

			if (run == 0 || sym == 3)
				return RTCP_ETWCC;
			for (size_t i = 0; i < run && k < in.status_count; i++)
				pkts[k++].arrival_us = sym; /* symbol parked here until deltas */
		} else if (!(c & 0x4000)) {
			for (int i = 13; i >= 0 && k < in.status_count; i--)
				pkts[k++].arrival_us = (c >> i) & 1;
		} else {
			for (int i = 6; i >= 0 && k < in.status_count; i--) {
				uint8_t sym = (c >> (2 * i)) & 3;

				if (sym == 3)
					return RTCP_ETWCC;
				pkts[k++].arrival_us = sym;
			}
		}
	}
	/* Receive deltas, in 250 us ticks from the reference time (64 ms units). */
	t = (int64_t)in.ref_time * 64000;
	for (size_t i = 0; i < k; i++) {
		int64_t sym = pkts[i].arrival_us;

		pkts[i].seq = (uint16_t)(in.base_seq + i);
		pkts[i].received = sym != 0;
		if (sym == 1)
			t += 250 * (int64_t)buf_read_u8(&r);
		else if (sym == 2)
			t += 250 * (int64_t)(int16_t)buf_read_u16(&r);
		pkts[i].arrival_us = sym ? t : 0;
	}
	if (!buf_reader_ok(&r))
		return RTCP_ETWCC;
	*info = in;
	return 0;
}

/* ---- building ---- */

static uint8_t *begin(struct buf_writer *w, uint8_t count, uint8_t type)
{
	uint8_t *h = buf_write_reserve(w, 4);

	if (h) {
		h[0] = (uint8_t)(0x80 | (count & 0x1f));
		h[1] = type;
	}
	return h;
}

/* Fills the length word (and padding to 32 bits) of a sub-packet that started at h. */
static int finish(struct buf_writer *w, uint8_t *h)
{
	size_t start, len;

	if (!h || !buf_writer_ok(w))
		return RTCP_ENOSPACE;
	start = (size_t)(h - w->p);
	/* a failed write does not advance the length: stop on error, or this never ends */
	while (buf_writer_ok(w) && (buf_writer_len(w) - start) % 4)
		buf_write_u8(w, 0);
	if (!buf_writer_ok(w))
		return RTCP_ENOSPACE;
	len = (buf_writer_len(w) - start) / 4 - 1;
	if (len > 0xffff)
		return RTCP_EINVAL;
	h[2] = (uint8_t)(len >> 8);
	h[3] = (uint8_t)len;
	return 0;
}

static void write_report(struct buf_writer *w, const struct rtcp_report *r)
{
	buf_write_u32(w, r->ssrc);
	buf_write_u8(w, r->fraction_lost);
	buf_write_u24(w, (uint32_t)r->packets_lost & 0xffffff);
	buf_write_u32(w, r->highest_seq);
	buf_write_u32(w, r->jitter);
	buf_write_u32(w, r->lsr);
	buf_write_u32(w, r->dlsr);
}

int rtcp_write_sr(struct buf_writer *w, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
                  uint32_t packet_count, uint32_t octet_count, const struct rtcp_report *r,
                  size_t n)
{
	uint8_t *h;

	if (n > RTCP_MAX_COUNT)
		return RTCP_EINVAL;
	h = begin(w, (uint8_t)n, RTCP_SR);
	buf_write_u32(w, ssrc);
	buf_write_u64(w, ntp);
	buf_write_u32(w, rtp_ts);
	buf_write_u32(w, packet_count);
	buf_write_u32(w, octet_count);
	for (size_t i = 0; i < n; i++)
		write_report(w, &r[i]);
	return finish(w, h);
}

int rtcp_write_rr(struct buf_writer *w, uint32_t ssrc, const struct rtcp_report *r, size_t n)
{
	uint8_t *h;

	if (n > RTCP_MAX_COUNT)
		return RTCP_EINVAL;
	h = begin(w, (uint8_t)n, RTCP_RR);
	buf_write_u32(w, ssrc);
	for (size_t i = 0; i < n; i++)
		write_report(w, &r[i]);
	return finish(w, h);
}

int rtcp_write_sdes(struct buf_writer *w, uint32_t ssrc, const struct rtcp_sdes_item *items,
                    size_t n)
{
	uint8_t *h;

	for (size_t i = 0; i < n; i++)
		if (items[i].type == 0 || (items[i].len && !items[i].data))
			return RTCP_EINVAL;
	h = begin(w, 1, RTCP_SDES);
	buf_write_u32(w, ssrc);
	for (size_t i = 0; i < n; i++) {
		buf_write_u8(w, items[i].type);
		buf_write_u8(w, items[i].len);
		buf_write_bytes(w, items[i].data, items[i].len);
	}
	buf_write_u8(w, 0); /* END; finish() pads with further nulls */
	return finish(w, h);
}

int rtcp_write_bye(struct buf_writer *w, const uint32_t *sources, size_t n, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;
	uint8_t *h;

	if (n > RTCP_MAX_COUNT || rl > 255)
		return RTCP_EINVAL;
	h = begin(w, (uint8_t)n, RTCP_BYE);
	for (size_t i = 0; i < n; i++)
		buf_write_u32(w, sources[i]);
	if (rl) {
		buf_write_u8(w, (uint8_t)rl);
		buf_write_bytes(w, reason, rl);
	}
	return finish(w, h);
}

int rtcp_write_app(struct buf_writer *w, uint8_t subtype, uint32_t ssrc, const char name[4],
                   const uint8_t *data, size_t len)
{
	uint8_t *h;

	if (subtype > 31 || len % 4 || (len && !data))
		return RTCP_EINVAL;
	h = begin(w, subtype, RTCP_APP);
	buf_write_u32(w, ssrc);
	buf_write_bytes(w, name, 4);
	buf_write_bytes(w, data, len);
	return finish(w, h);
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int rtcp_write_nack(struct buf_writer *w, uint32_t ssrc, uint32_t media_ssrc, const uint16_t *lost,
                    size_t n)
{
	uint16_t *s;
	uint8_t *h;
	size_t i = 0, start = 0;
	int ret;

	if (n == 0 || n > 0x10000)
		return RTCP_EINVAL;
	s = malloc(n * sizeof *s);
	if (!s)
		return -ENOMEM;
	memcpy(s, lost, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_u16);
	/* Sorted numerically; a list that crosses the 16-bit wrap starts after the largest gap. */
	{
		size_t best = 0;
		uint16_t gap = 0;

		for (size_t k = 0; k < n; k++) {
			uint16_t g = (uint16_t)(s[(k + 1) % n] - s[k]);

			if (n > 1 && g > gap) {
				gap = g;
				best = (k + 1) % n;
			}
		}
		start = best;
	}
	h = begin(w, RTCP_RTPFB_NACK, RTCP_RTPFB);
	buf_write_u32(w, ssrc);
	buf_write_u32(w, media_ssrc);
	while (i < n) {
		uint16_t pid = s[(start + i) % n], blp = 0;

		i++;
		while (i < n) {
			uint16_t d = (uint16_t)(s[(start + i) % n] - pid);

			if (d == 0) {
				i++;
				continue;
			}
			if (d > 16)
				break;
			blp |= (uint16_t)(1u << (d - 1));
			i++;
		}
		buf_write_u16(w, pid);
		buf_write_u16(w, blp);
	}
	ret = finish(w, h);
	free(s);
	return ret;
}

int rtcp_write_pli(struct buf_writer *w, uint32_t ssrc, uint32_t media_ssrc)
{
	uint8_t *h = begin(w, RTCP_PSFB_PLI, RTCP_PSFB);

	buf_write_u32(w, ssrc);
	buf_write_u32(w, media_ssrc);
	return finish(w, h);
}

int rtcp_write_fir(struct buf_writer *w, uint32_t ssrc, const struct rtcp_fir_entry *e, size_t n)
{
	uint8_t *h;

	if (n == 0)
		return RTCP_EINVAL;
	h = begin(w, RTCP_PSFB_FIR, RTCP_PSFB);
	buf_write_u32(w, ssrc);
	buf_write_u32(w, 0); /* media source SSRC is unused for FIR (RFC 5104 4.3.1.2) */
	for (size_t i = 0; i < n; i++) {
		buf_write_u32(w, e[i].ssrc);
		buf_write_u8(w, e[i].seq);
		buf_write_u24(w, 0);
	}
	return finish(w, h);
}

int rtcp_write_remb(struct buf_writer *w, uint32_t ssrc, uint64_t bitrate, const uint32_t *ssrcs,
                    size_t n)
{
	uint8_t *h;
	unsigned exp = 0;

	if (n > 255)
		return RTCP_EINVAL;
	while ((bitrate >> exp) > 0x3ffff)
		exp++;
	h = begin(w, RTCP_PSFB_AFB, RTCP_PSFB);
	buf_write_u32(w, ssrc);
	buf_write_u32(w, 0);
	buf_write_bytes(w, "REMB", 4);
	buf_write_u8(w, (uint8_t)n);
	buf_write_u24(w, (uint32_t)(exp << 18 | (bitrate >> exp)));
	for (size_t i = 0; i < n; i++)
		buf_write_u32(w, ssrcs[i]);
	return finish(w, h);
}

#define TWCC_MAX 0xffff

int rtcp_write_twcc(struct buf_writer *w, uint32_t ssrc, uint32_t media_ssrc, uint16_t base_seq,
                    const bool *received, const int64_t *arrival_us, size_t n, uint8_t fb_count,
                    size_t *consumed)
{
	uint8_t *sym = NULL, *h;
	int32_t *delta = NULL;
	size_t count = 0, first = n, i;
	int64_t prev, ref = 0;
	int ret;

	if (n == 0)
		return RTCP_EINVAL;
	for (i = 0; i < n; i++) {
		if (received[i] && arrival_us[i] < 0)
			return RTCP_EINVAL;
		if (received[i] && first == n)
			first = i;
	}
	sym = malloc(n);
	delta = malloc(n * sizeof *delta);
	if (!sym || !delta) {
		ret = -ENOMEM;
		goto out;
	}
	if (first < n)
		ref = arrival_us[first] / 64000;
	prev = ref * 256; /* in 250 us ticks */
	for (count = 0; count < n && count < TWCC_MAX; count++) {
		int64_t d;

		if (!received[count]) {
			sym[count] = 0;
			continue;
		}
		d = arrival_us[count] / 250 - prev;
		if (d < INT16_MIN || d > INT16_MAX)
			break;
		sym[count] = d >= 0 && d <= 255 ? 1 : 2;
		delta[count] = (int32_t)d;
		prev += d;
	}
	h = begin(w, RTCP_RTPFB_TWCC, RTCP_RTPFB);
	buf_write_u32(w, ssrc);
	buf_write_u32(w, media_ssrc);
	buf_write_u16(w, base_seq);
	buf_write_u16(w, (uint16_t)count);
	buf_write_u24(w, (uint32_t)ref & 0xffffff);
	buf_write_u8(w, fb_count);
	for (i = 0; i < count;) {
		size_t run = 1, left = count - i, k;
		bool small = true;

		while (i + run < count && sym[i + run] == sym[i] && run < 0x1fff)
			run++;
		for (k = 0; k < 14 && k < left; k++)
			if (sym[i + k] > 1)
				small = false;
		if (run >= 14 || (run == left && run >= 7)) {
			buf_write_u16(w, (uint16_t)(sym[i] << 13 | run));
			i += run;
		} else if (small) {
			uint16_t c = 0x8000;

			for (k = 0; k < 14 && k < left; k++)
				c |= (uint16_t)(sym[i + k] << (13 - k));
			buf_write_u16(w, c);
			i += k;
		} else {
			uint16_t c = 0xc000;

			for (k = 0; k < 7 && k < left; k++)
				c |= (uint16_t)(sym[i + k] << (2 * (6 - k)));
			buf_write_u16(w, c);
			i += k;
		}
	}
	for (i = 0; i < count; i++) {
		if (sym[i] == 1)
			buf_write_u8(w, (uint8_t)delta[i]);
		else if (sym[i] == 2)
			buf_write_u16(w, (uint16_t)(int16_t)delta[i]);
	}
	if ((ret = finish(w, h)) != 0)
		goto out;
	*consumed = count;
	ret = 0;
out:
	free(sym);
	free(delta);
	return ret;
}

/* ---- receiver side helpers ---- */

#define RTP_SEQ_MOD (1u << 16)

void rtcp_rx_stats_init(struct rtcp_rx_stats *s, uint32_t ssrc, unsigned clock_rate)
{
	memset(s, 0, sizeof *s);
	s->ssrc = ssrc;
	s->clock_rate = clock_rate ? clock_rate : 90000;
}

void rtcp_rx_stats_update(struct rtcp_rx_stats *s, uint16_t seq, uint32_t rtp_ts,
                          int64_t arrival_us)
{
	/* Arrival in RTP units; differences only, so the origin does not matter. */
	int64_t arrival = arrival_us * (int64_t)s->clock_rate / 1000000;
	int64_t transit = arrival - (int64_t)rtp_ts;
	uint16_t udelta;

	if (!s->started) {
		s->started = true;
		s->max_seq = seq;
		s->base_seq = seq;
		s->cycles = 0;
	} else {
		/* RFC 3550 A.1 without probation: in-order or a jump forward of < 3000 moves
		 * max_seq (counting wraps); older or far packets only count as received. */
		udelta = (uint16_t)(seq - s->max_seq);
		if (udelta < 3000) {
			if (seq < s->max_seq)
				s->cycles += RTP_SEQ_MOD;
			s->max_seq = seq;
		}
	}
	s->received++;
	/* RFC 3550 A.8; the timestamp difference is taken mod 2^32. */
	if (s->have_transit) {
		int64_t d = transit - s->transit;

		d = (int64_t)(int32_t)(uint32_t)d;
		if (d < 0)
			d = -d;
		s->jitter += ((double)d - s->jitter) / 16.0;
	}
	s->transit = transit;
	s->have_transit = true;
}

void rtcp_rx_stats_report(struct rtcp_rx_stats *s, struct rtcp_report *out, uint32_t lsr,
                          uint32_t dlsr)
{
	uint32_t ext_max = s->cycles + s->max_seq;
	int64_t expected = s->started ? (int64_t)ext_max - s->base_seq + 1 : 0;
	int64_t lost = expected - s->received;
	int64_t exp_int = expected - s->expected_prior;
	int64_t rec_int = (int64_t)s->received - s->received_prior;
	int64_t lost_int = exp_int - rec_int;

	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	memset(out, 0, sizeof *out);
	out->ssrc = s->ssrc;
	out->fraction_lost = exp_int > 0 && lost_int > 0 ? (uint8_t)((lost_int << 8) / exp_int) : 0;
	out->packets_lost = (int32_t)lost;
	out->highest_seq = ext_max;
	out->jitter = (uint32_t)s->jitter;
	out->lsr = lsr;
	out->dlsr = dlsr;
	s->expected_prior = (uint32_t)expected;
	s->received_prior = s->received;
}

#define REC_RING 4096

struct rtcp_twcc_recorder {
	bool started;
	int64_t base;    /* oldest unreported extended seq */
	int64_t highest; /* newest received extended seq (>= base - 1) */
	int64_t last_ext;
	int64_t arrival[REC_RING]; /* -1 = not received */
	uint8_t fb_count;
};

int rtcp_twcc_recorder_new(struct rtcp_twcc_recorder **out)
{
	struct rtcp_twcc_recorder *r = malloc(sizeof *r);

	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < REC_RING; i++)
		r->arrival[i] = -1;
	*out = r;
	return 0;
}

void rtcp_twcc_recorder_free(struct rtcp_twcc_recorder *r)
{
	free(r);
}

static void rec_restart(struct rtcp_twcc_recorder *r, int64_t ext)
{
	for (size_t i = 0; i < REC_RING; i++)
		r->arrival[i] = -1;
	r->base = ext;
	r->highest = ext - 1;
}

int rtcp_twcc_recorder_add(struct rtcp_twcc_recorder *r, uint16_t seq, int64_t arrival_us)
{
	int64_t ext;

	if (arrival_us < 0)
		return RTCP_EINVAL;
	if (!r->started) {
		r->started = true;
		r->last_ext = seq;
		rec_restart(r, seq);
	}
	ext = r->last_ext + (int16_t)(uint16_t)(seq - (uint16_t)r->last_ext);
	if (ext > r->last_ext)
		r->last_ext = ext;
	if (ext < r->base)
		return 0; /* already reported (as lost): too late to report now */
	if (ext - r->base >= REC_RING) {
		rec_restart(r, ext);
		r->arrival[ext % REC_RING] = arrival_us;
		r->highest = ext;
		return RTCP_ENOSPACE;
	}
	r->arrival[ext % REC_RING] = arrival_us;
	if (ext > r->highest)
		r->highest = ext;
	return 0;
}

int rtcp_twcc_recorder_build(struct rtcp_twcc_recorder *r, struct buf_writer *w, uint32_t ssrc,
                             uint32_t media_ssrc, size_t *n_reported)
{
	size_t n, off = 0;
	bool *recv = NULL;
	int64_t *arr = NULL;
	int ret = 0;

	*n_reported = 0;
	if (!r->started || r->highest < r->base)
		return 0;
	n = (size_t)(r->highest - r->base + 1);
	recv = malloc(n * sizeof *recv);
	arr = malloc(n * sizeof *arr);
	if (!recv || !arr) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t a = r->arrival[(r->base + (int64_t)i) % REC_RING];

		recv[i] = a >= 0;
		arr[i] = a >= 0 ? a : 0;
	}
	while (off < n) {
		size_t used;

		ret = rtcp_write_twcc(w, ssrc, media_ssrc, (uint16_t)(r->base + (int64_t)off),
		                      recv + off, arr + off, n - off, r->fb_count, &used);
		if (ret)
			goto out;
		r->fb_count++;
		off += used;
	}
	for (size_t i = 0; i < n; i++)
		r->arrival[(r->base + (int64_t)i) % REC_RING] = -1;
	r->base = r->highest + 1;
	*n_reported = n;
out:
	free(recv);
	free(arr);
	return ret;
}
