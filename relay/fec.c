/* relay/fec.c — XOR parity FEC over groups of RTP packets (see fec.h). */
#include "relay/fec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "relay/rtp.h"

const char *fec_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case FEC_EMALFORMED:
		return "FEC repair packet is malformed";
	case FEC_ENOTHING:
		return "FEC group has no missing packet";
	case FEC_ETOOMANY:
		return "FEC group lost more than one packet";
	case FEC_ENOSPACE:
		return "FEC output buffer is too small";
	case FEC_EINVAL:
		return "FEC argument out of range";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown FEC error";
	}
}

unsigned fec_group_size_for_loss(double loss)
{
	unsigned best = 2;

	if (!(loss >= 0.005))
		return 0;
	if (loss >= 1)
		return 2;
	for (unsigned k = 2; k <= 24; k++) {
		double n = k + 1;
		double p2 = 1 - pow(1 - loss, n) - n * loss * pow(1 - loss, n - 1);

		if (p2 <= loss / 4)
			best = k;
	}
	return best;
}

uint32_t fec_repair_bps(uint32_t base_bps, double pictures_per_s, unsigned pictures_per_group,
                        unsigned k, unsigned payload_max, unsigned pkt_overhead)
{
	double pic_bytes, per_pic, repairs, bps;

	if (!k || !base_bps || !payload_max || !(pictures_per_s > 0))
		return 0;
	if (k > FEC_MAX_GROUP)
		k = FEC_MAX_GROUP;
	if (!pictures_per_group)
		pictures_per_group = 1;
	pic_bytes = base_bps / 8.0 / pictures_per_s;
	per_pic = ceil(pic_bytes / payload_max);
	if (per_pic < 1)
		per_pic = 1;
	/* repairs per span of pictures_per_group pictures: one per k packets, the last partial */
	repairs = ceil(per_pic * pictures_per_group / k);
	/* each a protected packet (its RTP header inside the XOR) plus the FEC header, in its own
	 * packet with the same headers on the wire */
	bps = repairs * pictures_per_s / pictures_per_group *
	      (pic_bytes / per_pic + RTP_HEADER_MIN + FEC_HEADER + pkt_overhead) * 8.0;
	return bps >= UINT32_MAX ? UINT32_MAX : (uint32_t)ceil(bps);
}

uint32_t fec_even_repair_bps(double anchor_bytes, double anchors_per_s, unsigned payload_max,
                             unsigned pkt_overhead)
{
	double n, covered, bps;

	if (!payload_max || !(anchor_bytes > 0) || !(anchors_per_s > 0))
		return 0;
	n = ceil(anchor_bytes / payload_max);
	if (n < 2)
		return 0;
	covered = n > 2 ? payload_max : anchor_bytes - payload_max;
	bps = anchors_per_s * (covered + RTP_HEADER_MIN + FEC_HEADER + pkt_overhead) * 8.0;
	return bps >= UINT32_MAX ? UINT32_MAX : (uint32_t)ceil(bps);
}

void fec_encoder_init(struct fec_encoder *e, unsigned k)
{
	memset(e, 0, sizeof *e);
	e->k = k > FEC_MAX_GROUP ? FEC_MAX_GROUP : k == 1 ? 2 : k;
}

void fec_encoder_set_k(struct fec_encoder *e, unsigned k)
{
	e->k = k > FEC_MAX_GROUP ? FEC_MAX_GROUP : k == 1 ? 2 : k;
}

static int emit(struct fec_encoder *e, uint8_t *out, size_t cap)
{
	struct buf_writer w;

	if (!e->open || e->n == 0)
		return 0;
	e->open = false;
	buf_writer_init(&w, out, cap);
	buf_write_u16(&w, e->base);
	buf_write_u64(&w, e->mask);
	buf_write_u16(&w, e->len_xor);
	buf_write_bytes(&w, e->xor_, e->max_len);
	if (!buf_writer_ok(&w))
		return FEC_ENOSPACE;
	return (int)buf_writer_len(&w);
}

int fec_encoder_add(struct fec_encoder *e, const uint8_t *pkt, size_t len, uint16_t seq,
                    uint8_t *out, size_t cap)
{
	uint16_t off;
	int ret = 0;

	if (!pkt || len == 0 || len > FEC_MAX_PACKET)
		return FEC_EINVAL;
	if (e->k == 0)
		return 0;
	off = (uint16_t)(seq - e->base);
	/* A packet that does not fit the current group's mask closes the group first. */
	if (e->open && (off >= FEC_MAX_GROUP || (e->mask >> off) & 1)) {
		ret = emit(e, out, cap);
		if (ret < 0)
			return ret;
		/* This packet starts the next group; its repair comes later. The caller gets
		 * the closed group's repair now. */
	}
	if (!e->open) {
		e->open = true;
		e->base = seq;
		e->mask = 0;
		e->n = 0;
		e->max_len = 0;
		e->len_xor = 0;
		memset(e->xor_, 0, sizeof e->xor_);
		off = 0;
	}
	e->mask |= 1ull << off;
	e->n++;
	e->len_xor ^= (uint16_t)len;
	for (size_t i = 0; i < len; i++)
		e->xor_[i] ^= pkt[i];
	if (len > e->max_len)
		e->max_len = len;
	if (ret > 0)
		return ret;
	if (e->n >= e->k && !e->hold)
		return emit(e, out, cap);
	return 0;
}

void fec_encoder_hold(struct fec_encoder *e)
{
	e->hold = true;
}

int fec_encoder_release(struct fec_encoder *e, uint8_t *out, size_t cap)
{
	e->hold = false;
	if (e->k == 0 || !e->open || e->n < e->k)
		return 0;
	return emit(e, out, cap);
}

int fec_encoder_flush(struct fec_encoder *e, uint8_t *out, size_t cap)
{
	return emit(e, out, cap);
}

int fec_repair_parse(struct fec_repair *r, const uint8_t *data, size_t len)
{
	struct buf_reader rd;
	struct fec_repair t;

	buf_reader_init(&rd, data, len);
	t.base = buf_read_u16(&rd);
	t.mask = buf_read_u64(&rd);
	t.len_xor = buf_read_u16(&rd);
	if (!buf_reader_ok(&rd) || t.mask == 0 || !(t.mask & 1))
		return FEC_EMALFORMED;
	t.xor_len = buf_reader_left(&rd);
	t.xor_ = data + FEC_HEADER;
	if (t.xor_len == 0 || t.xor_len > FEC_MAX_PACKET)
		return FEC_EMALFORMED;
	*r = t;
	return 0;
}

int fec_recover(const struct fec_repair *r, const struct fec_pkt *have, size_t n, uint8_t *out,
                size_t cap, size_t *out_len, uint16_t *out_seq)
{
	uint64_t got = 0;
	unsigned missing = 0, miss_off = 0;
	uint16_t len;

	for (size_t i = 0; i < n; i++) {
		uint16_t off = (uint16_t)(have[i].seq - r->base);

		if (off < FEC_MAX_GROUP && ((r->mask >> off) & 1))
			got |= 1ull << off;
	}
	for (unsigned i = 0; i < FEC_MAX_GROUP; i++)
		if (((r->mask >> i) & 1) && !((got >> i) & 1)) {
			missing++;
			miss_off = i;
		}
	if (missing == 0)
		return FEC_ENOTHING;
	if (missing > 1)
		return FEC_ETOOMANY;
	if (cap < r->xor_len)
		return FEC_ENOSPACE;
	memcpy(out, r->xor_, r->xor_len);
	len = r->len_xor;
	got = 0;
	for (size_t i = 0; i < n; i++) {
		uint16_t off = (uint16_t)(have[i].seq - r->base);

		if (off >= FEC_MAX_GROUP || !((r->mask >> off) & 1) || ((got >> off) & 1))
			continue;
		got |= 1ull << off;
		if (have[i].len > r->xor_len)
			return FEC_EMALFORMED;
		for (size_t j = 0; j < have[i].len; j++)
			out[j] ^= have[i].data[j];
		len ^= (uint16_t)have[i].len;
	}
	if (len == 0 || len > r->xor_len)
		return FEC_EMALFORMED;
	*out_len = len;
	*out_seq = (uint16_t)(r->base + miss_off);
	return 0;
}

#define STORE 256

struct fec_decoder {
	struct {
		bool valid;
		uint16_t seq;
		size_t len;
		uint8_t data[FEC_MAX_PACKET];
	} slot[STORE];
};

int fec_decoder_new(struct fec_decoder **out)
{
	struct fec_decoder *d = calloc(1, sizeof *d);

	if (!d)
		return -ENOMEM;
	*out = d;
	return 0;
}

void fec_decoder_free(struct fec_decoder *d)
{
	free(d);
}

int fec_decoder_add_media(struct fec_decoder *d, uint16_t seq, const uint8_t *pkt, size_t len)
{
	if (!pkt || len == 0 || len > FEC_MAX_PACKET)
		return FEC_EINVAL;
	d->slot[seq % STORE].valid = true;
	d->slot[seq % STORE].seq = seq;
	d->slot[seq % STORE].len = len;
	memcpy(d->slot[seq % STORE].data, pkt, len);
	return 0;
}

int fec_decoder_add_repair(struct fec_decoder *d, const uint8_t *repair, size_t len, uint8_t *out,
                           size_t cap, size_t *out_len, uint16_t *out_seq)
{
	struct fec_repair r;
	struct fec_pkt have[FEC_MAX_GROUP];
	size_t n = 0;
	int ret;

	if ((ret = fec_repair_parse(&r, repair, len)) != 0)
		return ret;
	for (unsigned i = 0; i < FEC_MAX_GROUP; i++) {
		uint16_t seq = (uint16_t)(r.base + i);

		if (!((r.mask >> i) & 1) || !d->slot[seq % STORE].valid ||
		    d->slot[seq % STORE].seq != seq)
			continue;
		have[n].seq = seq;
		have[n].data = d->slot[seq % STORE].data;
		have[n].len = d->slot[seq % STORE].len;
		n++;
	}
	if ((ret = fec_recover(&r, have, n, out, cap, out_len, out_seq)) != 0)
		return ret;
	return fec_decoder_add_media(d, *out_seq, out, *out_len);
}
