/* relay/rtp.c — RTP packets, RFC 8285 extensions, Opus and VP8 payloads (see rtp.h). */
#include "relay/rtp.h"

#include <errno.h>
#include <opus.h>
#include <string.h>

#include "common/buf.h"

const char *rtp_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case RTP_ESHORT:
		return "RTP packet length is less than 12 bytes";
	case RTP_EVERSION:
		return "RTP packet has invalid version";
	case RTP_ECSRC:
		return "RTP packet has truncated CSRC";
	case RTP_EEXTHDR:
		return "RTP packet has truncated extension profile / length";
	case RTP_EEXTVAL:
		return "RTP packet has truncated extension value";
	case RTP_EEXTELEM:
		return "RTP header extension element is malformed";
	case RTP_EPADDING:
		return "RTP packet padding length is invalid";
	case RTP_EVP8:
		return "VP8 payload descriptor is malformed";
	case RTP_EOPUS:
		return "Opus payload is malformed";
	case RTP_ENOSPACE:
		return "RTP output buffer is too small";
	case RTP_EINVAL:
		return "RTP field out of range";
	case RTP_EFRAGMENT:
		return "VP8 fragments do not form one frame";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown RTP error";
	}
}

/* RFC 8285 section 4.2: one-byte elements; id 0 is a padding byte, id 15 stops parsing. */
static int parse_one_byte(struct rtp_packet *p, const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t id = d[i] >> 4, len = (uint8_t)((d[i] & 0x0f) + 1);

		if (d[i] == 0) {
			i++;
			continue;
		}
		if (id == 15)
			break;
		if (id == 0 || len > n - i - 1 || p->n_ext >= RTP_MAX_EXT)
			return RTP_EEXTELEM;
		p->ext[p->n_ext++] = (struct rtp_ext){id, len, d + i + 1};
		i += 1u + len;
	}
	return 0;
}

/* RFC 8285 section 4.3: two-byte elements (id, length); id 0 is a padding byte. */
static int parse_two_byte(struct rtp_packet *p, const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t id, len;

		if (d[i] == 0) {
			i++;
			continue;
		}
		if (n - i < 2)
			return RTP_EEXTELEM;
		id = d[i];
		len = d[i + 1];
		if (len > n - i - 2 || p->n_ext >= RTP_MAX_EXT)
			return RTP_EEXTELEM;
		p->ext[p->n_ext++] = (struct rtp_ext){id, len, d + i + 2};
		i += 2u + len;
	}
	return 0;
}

static int parse_header(struct rtp_packet *p, struct buf_reader *r, bool *padding)
{
	uint8_t b0, b1;
	int ret;

	if (buf_reader_left(r) < RTP_HEADER_MIN)
		return RTP_ESHORT;
	memset(p, 0, sizeof *p);
	b0 = buf_read_u8(r);
	b1 = buf_read_u8(r);
	p->version = b0 >> 6;
	if (p->version != 2)
		return RTP_EVERSION;
	*padding = (b0 >> 5) & 1;
	p->has_ext = (b0 >> 4) & 1;
	p->csrc_count = b0 & 0x0f;
	p->marker = b1 >> 7;
	p->payload_type = b1 & 0x7f;
	p->seq = buf_read_u16(r);
	p->timestamp = buf_read_u32(r);
	p->ssrc = buf_read_u32(r);
	if (buf_reader_left(r) < 4u * p->csrc_count)
		return RTP_ECSRC;
	for (unsigned i = 0; i < p->csrc_count; i++)
		p->csrc[i] = buf_read_u32(r);
	if (p->has_ext) {
		size_t words;

		if (buf_reader_left(r) < 4)
			return RTP_EEXTHDR;
		p->ext_profile = buf_read_u16(r);
		words = buf_read_u16(r);
		p->ext_raw_len = words * 4;
		p->ext_raw = buf_read_view(r, p->ext_raw_len);
		if (!p->ext_raw)
			return RTP_EEXTVAL;
		if (p->ext_profile == RTP_EXT_PROFILE_ONE_BYTE)
			ret = parse_one_byte(p, p->ext_raw, p->ext_raw_len);
		else if ((p->ext_profile & 0xfff0) == RTP_EXT_PROFILE_TWO_BYTE)
			ret = parse_two_byte(p, p->ext_raw, p->ext_raw_len);
		else
			ret = 0;
		if (ret)
			return ret;
	}
	return buf_reader_ok(r) ? 0 : RTP_ESHORT;
}

int rtp_header_parse(struct rtp_packet *p, const uint8_t *data, size_t len)
{
	struct rtp_packet tmp;
	struct buf_reader r;
	bool padding;
	int ret;

	buf_reader_init(&r, data, len);
	if ((ret = parse_header(&tmp, &r, &padding)) != 0)
		return ret;
	tmp.payload = data + r.off;
	tmp.payload_len = buf_reader_left(&r);
	*p = tmp;
	return 0;
}

int rtp_packet_parse(struct rtp_packet *p, const uint8_t *data, size_t len)
{
	struct rtp_packet tmp;
	struct buf_reader r;
	bool padding;
	size_t left;
	int ret;

	buf_reader_init(&r, data, len);
	if ((ret = parse_header(&tmp, &r, &padding)) != 0)
		return ret;
	left = buf_reader_left(&r);
	if (padding) {
		/* The count includes itself, so it must be 1..left (aiortc and RFC 3550 5.1). */
		uint8_t count = left ? data[len - 1] : 0;

		if (count == 0 || count > left)
			return RTP_EPADDING;
		tmp.padding_len = count;
		left -= count;
	}
	tmp.payload = data + r.off;
	tmp.payload_len = left;
	*p = tmp;
	return 0;
}

static bool ext_fits_one_byte(const struct rtp_packet *p)
{
	for (size_t i = 0; i < p->n_ext; i++)
		if (p->ext[i].id < 1 || p->ext[i].id > 14 || p->ext[i].len < 1 ||
		    p->ext[i].len > 16)
			return false;
	return true;
}

int rtp_packet_write(const struct rtp_packet *p, uint8_t *out, size_t cap, size_t *out_len)
{
	struct buf_writer w;

	if (p->payload_type > 127 || p->csrc_count > RTP_MAX_CSRC || p->n_ext > RTP_MAX_EXT ||
	    (p->payload_len && !p->payload))
		return RTP_EINVAL;
	buf_writer_init(&w, out, cap);
	buf_write_u8(&w, (uint8_t)(0x80 | (p->padding_len ? 0x20 : 0) |
	                           (p->has_ext || p->n_ext ? 0x10 : 0) | p->csrc_count));
	buf_write_u8(&w, (uint8_t)((p->marker ? 0x80 : 0) | p->payload_type));
	buf_write_u16(&w, p->seq);
	buf_write_u32(&w, p->timestamp);
	buf_write_u32(&w, p->ssrc);
	for (unsigned i = 0; i < p->csrc_count; i++)
		buf_write_u32(&w, p->csrc[i]);
	if (p->n_ext) {
		bool one = ext_fits_one_byte(p);
		size_t body = 0, words;

		for (size_t i = 0; i < p->n_ext; i++) {
			if (p->ext[i].id == 0 || (p->ext[i].len && !p->ext[i].data))
				return RTP_EINVAL;
			body += (one ? 1u : 2u) + p->ext[i].len;
		}
		words = (body + 3) / 4;
		if (words > 0xffff)
			return RTP_EINVAL;
		buf_write_u16(&w, one ? RTP_EXT_PROFILE_ONE_BYTE : RTP_EXT_PROFILE_TWO_BYTE);
		buf_write_u16(&w, (uint16_t)words);
		for (size_t i = 0; i < p->n_ext; i++) {
			if (one) {
				buf_write_u8(&w,
				             (uint8_t)(p->ext[i].id << 4 | (p->ext[i].len - 1)));
			} else {
				buf_write_u8(&w, p->ext[i].id);
				buf_write_u8(&w, p->ext[i].len);
			}
			buf_write_bytes(&w, p->ext[i].data, p->ext[i].len);
		}
		for (size_t i = body; i < words * 4; i++)
			buf_write_u8(&w, 0);
	} else if (p->has_ext) {
		if (p->ext_raw_len % 4 || p->ext_raw_len / 4 > 0xffff ||
		    (p->ext_raw_len && !p->ext_raw))
			return RTP_EINVAL;
		buf_write_u16(&w, p->ext_profile);
		buf_write_u16(&w, (uint16_t)(p->ext_raw_len / 4));
		buf_write_bytes(&w, p->ext_raw, p->ext_raw_len);
	}
	buf_write_bytes(&w, p->payload, p->payload_len);
	if (p->padding_len) {
		for (unsigned i = 1; i < p->padding_len; i++)
			buf_write_u8(&w, 0);
		buf_write_u8(&w, p->padding_len);
	}
	if (!buf_writer_ok(&w))
		return RTP_ENOSPACE;
	*out_len = buf_writer_len(&w);
	return 0;
}

const struct rtp_ext *rtp_ext_find(const struct rtp_packet *p, uint8_t id)
{
	for (size_t i = 0; i < p->n_ext; i++)
		if (p->ext[i].id == id)
			return &p->ext[i];
	return NULL;
}

int rtp_ext_get_twcc(const struct rtp_packet *p, uint8_t id, uint16_t *seq)
{
	const struct rtp_ext *e = rtp_ext_find(p, id);

	if (!e || e->len != 2)
		return RTP_EEXTELEM;
	*seq = (uint16_t)(e->data[0] << 8 | e->data[1]);
	return 0;
}

int rtp_ext_set_twcc_inplace(uint8_t *pkt, size_t len, uint8_t id, uint16_t seq)
{
	struct rtp_packet p;
	const struct rtp_ext *e;
	size_t off;
	int ret;

	if ((ret = rtp_header_parse(&p, pkt, len)) != 0)
		return ret;
	e = rtp_ext_find(&p, id);
	if (!e || e->len != 2)
		return RTP_EEXTELEM;
	off = (size_t)(e->data - pkt);
	pkt[off] = (uint8_t)(seq >> 8);
	pkt[off + 1] = (uint8_t)seq;
	return 0;
}

int rtp_ext_get_abs_send_time(const struct rtp_packet *p, uint8_t id, uint32_t *v)
{
	const struct rtp_ext *e = rtp_ext_find(p, id);

	if (!e || e->len != 3)
		return RTP_EEXTELEM;
	*v = (uint32_t)e->data[0] << 16 | (uint32_t)e->data[1] << 8 | e->data[2];
	return 0;
}

int rtp_ext_get_audio_level(const struct rtp_packet *p, uint8_t id, bool *voice, uint8_t *level)
{
	const struct rtp_ext *e = rtp_ext_find(p, id);

	if (!e || e->len != 1)
		return RTP_EEXTELEM;
	*voice = e->data[0] >> 7;
	*level = e->data[0] & 0x7f;
	return 0;
}

int rtp_seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(b - a);
}

int64_t rtp_seq_unwrap(struct rtp_seq_unwrap *u, uint16_t seq)
{
	if (!u->started) {
		u->started = true;
		u->last = seq;
		return seq;
	}
	u->last += rtp_seq_diff((uint16_t)u->last, seq);
	return u->last;
}

int rtp_opus_payload_check(const uint8_t *payload, size_t len, unsigned *samples)
{
	int n;

	if (!payload || len == 0 || len > 1275 * 48)
		return RTP_EOPUS;
	/* opus_packet_parse validates the framing (code 0-3, padding, frame lengths). */
	{
		const unsigned char *frames[48];
		opus_int16 sizes[48];
		unsigned char toc;
		int off;

		if (opus_packet_parse(payload, (opus_int32)len, &toc, frames, sizes, &off) < 0)
			return RTP_EOPUS;
	}
	n = opus_packet_get_nb_samples(payload, (opus_int32)len, RTP_OPUS_CLOCK);
	if (n <= 0 || n > RTP_OPUS_CLOCK / 1000 * 120)
		return RTP_EOPUS;
	*samples = (unsigned)n;
	return 0;
}

int rtp_red_parse(const uint8_t *payload, size_t len, struct rtp_red_block *blocks, size_t cap,
                  size_t *n)
{
	struct rtp_red_block tmp[RTP_RED_MAX_BLOCKS + 1];
	struct buf_reader r;
	size_t k = 0, data_len = 0;
	const uint8_t *d;

	buf_reader_init(&r, payload, len);
	/* Headers: 4 bytes while F is set, then one final byte. */
	for (;;) {
		uint8_t b = buf_read_u8(&r);

		if (!buf_reader_ok(&r) || k >= cap || k >= RTP_RED_MAX_BLOCKS)
			return RTP_EINVAL;
		tmp[k].pt = b & 0x7f;
		if (!(b & 0x80)) {
			tmp[k].ts_offset = 0;
			k++;
			break;
		}
		{
			uint32_t v = buf_read_u24(&r);

			tmp[k].ts_offset = (uint16_t)(v >> 10);
			tmp[k].len = v & 0x3ff;
			data_len += tmp[k].len;
		}
		if (!buf_reader_ok(&r))
			return RTP_EINVAL;
		k++;
	}
	if (buf_reader_left(&r) < data_len)
		return RTP_EINVAL;
	for (size_t i = 0; i + 1 < k; i++) {
		d = buf_read_view(&r, tmp[i].len);
		tmp[i].data = d;
	}
	tmp[k - 1].len = buf_reader_left(&r);
	tmp[k - 1].data = payload + r.off;
	memcpy(blocks, tmp, k * sizeof *tmp);
	*n = k;
	return 0;
}

int rtp_red_write(const struct rtp_red_block *blocks, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len)
{
	struct buf_writer w;

	if (n == 0 || n > RTP_RED_MAX_BLOCKS)
		return RTP_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (blocks[i].pt > 127 || (blocks[i].len && !blocks[i].data) ||
		    (i + 1 < n && (blocks[i].ts_offset > 0x3fff || blocks[i].len > 1023)))
			return RTP_EINVAL;
	buf_writer_init(&w, out, cap);
	for (size_t i = 0; i + 1 < n; i++) {
		buf_write_u8(&w, (uint8_t)(0x80 | blocks[i].pt));
		buf_write_u24(&w, (uint32_t)blocks[i].ts_offset << 10 | (uint32_t)blocks[i].len);
	}
	buf_write_u8(&w, blocks[n - 1].pt);
	for (size_t i = 0; i < n; i++)
		buf_write_bytes(&w, blocks[i].data, blocks[i].len);
	if (!buf_writer_ok(&w))
		return RTP_ENOSPACE;
	*out_len = buf_writer_len(&w);
	return 0;
}

int rtp_red_history_build(struct rtp_red_history *h, uint8_t pt, uint32_t ts,
                          const uint8_t *primary, size_t len, unsigned frame_samples,
                          const unsigned *dist, size_t ndist, uint8_t *out, size_t cap,
                          size_t *out_len)
{
	struct rtp_red_block b[RTP_RED_MAX_BLOCKS];
	size_t n = 0;
	int ret;

	if (!primary || len == 0 || len > 1023 || ndist >= RTP_RED_MAX_BLOCKS || pt > 127)
		return RTP_EINVAL;
	/* Oldest first, as RFC 2198 lists them. */
	for (size_t i = ndist; i-- > 0;) {
		uint32_t want;

		if (dist[i] == 0 || dist[i] >= RTP_RED_HISTORY ||
		    (uint64_t)dist[i] * frame_samples > 0x3fff)
			return RTP_EINVAL;
		want = ts - dist[i] * frame_samples;
		for (unsigned k = 0; k < RTP_RED_HISTORY; k++)
			if (h->f[k].valid && h->f[k].ts == want) {
				b[n++] = (struct rtp_red_block){h->f[k].pt,
				                                (uint16_t)(dist[i] * frame_samples),
				                                h->f[k].data, h->f[k].len};
				break;
			}
	}
	b[n++] = (struct rtp_red_block){pt, 0, primary, len};
	if ((ret = rtp_red_write(b, n, out, cap, out_len)) != 0)
		return ret;
	h->f[h->pos].valid = true;
	h->f[h->pos].ts = ts;
	h->f[h->pos].pt = pt;
	h->f[h->pos].len = len;
	memcpy(h->f[h->pos].data, primary, len);
	h->pos = (h->pos + 1) % RTP_RED_HISTORY;
	return 0;
}

int rtp_vp8_desc_parse(struct rtp_vp8_desc *desc, size_t *desc_len, const uint8_t *payload,
                       size_t len)
{
	struct rtp_vp8_desc d;
	struct buf_reader r;
	uint8_t b;

	memset(&d, 0, sizeof d);
	buf_reader_init(&r, payload, len);
	b = buf_read_u8(&r);
	d.non_reference = (b >> 5) & 1;
	d.start = (b >> 4) & 1;
	d.pid = b & 7;
	if (b & 0x80) {
		uint8_t x = buf_read_u8(&r);

		d.has_picture_id = x & 0x80;
		d.has_tl0picidx = x & 0x40;
		d.has_tid = x & 0x20;
		d.has_keyidx = x & 0x10;
		if (d.has_picture_id) {
			uint8_t m = buf_read_u8(&r);

			if (m & 0x80) {
				d.picture_id_bits = 15;
				d.picture_id = (uint16_t)((m & 0x7f) << 8 | buf_read_u8(&r));
			} else {
				d.picture_id_bits = 7;
				d.picture_id = m;
			}
		}
		if (d.has_tl0picidx)
			d.tl0picidx = buf_read_u8(&r);
		if (d.has_tid || d.has_keyidx) {
			uint8_t t = buf_read_u8(&r);

			if (d.has_tid) {
				d.tid = t >> 6;
				d.layer_sync = (t >> 5) & 1;
			}
			if (d.has_keyidx)
				d.keyidx = t & 0x1f;
		}
	}
	/* A descriptor must be followed by at least one byte of VP8 data. */
	if (!buf_reader_ok(&r) || buf_reader_left(&r) == 0)
		return RTP_EVP8;
	*desc = d;
	*desc_len = r.off;
	return 0;
}

int rtp_vp8_desc_write(const struct rtp_vp8_desc *d, uint8_t *out, size_t cap)
{
	struct buf_writer w;
	bool x = d->has_picture_id || d->has_tl0picidx || d->has_tid || d->has_keyidx;

	if (d->pid > 7 || d->tid > 3 || d->keyidx > 31 ||
	    (d->has_picture_id && d->picture_id_bits != 7 && d->picture_id_bits != 15) ||
	    (d->has_picture_id && d->picture_id >= (1u << d->picture_id_bits)))
		return RTP_EINVAL;
	buf_writer_init(&w, out, cap);
	buf_write_u8(&w, (uint8_t)((x ? 0x80 : 0) | (d->non_reference ? 0x20 : 0) |
	                           (d->start ? 0x10 : 0) | d->pid));
	if (x) {
		buf_write_u8(&w, (uint8_t)((d->has_picture_id ? 0x80 : 0) |
		                           (d->has_tl0picidx ? 0x40 : 0) | (d->has_tid ? 0x20 : 0) |
		                           (d->has_keyidx ? 0x10 : 0)));
		if (d->has_picture_id) {
			if (d->picture_id_bits == 15)
				buf_write_u16(&w, (uint16_t)(0x8000 | d->picture_id));
			else
				buf_write_u8(&w, (uint8_t)d->picture_id);
		}
		if (d->has_tl0picidx)
			buf_write_u8(&w, d->tl0picidx);
		if (d->has_tid || d->has_keyidx)
			buf_write_u8(&w, (uint8_t)((d->has_tid ? d->tid << 6 : 0) |
			                           (d->has_tid && d->layer_sync ? 0x20 : 0) |
			                           (d->has_keyidx ? d->keyidx : 0)));
	}
	if (!buf_writer_ok(&w))
		return RTP_ENOSPACE;
	return (int)buf_writer_len(&w);
}

bool rtp_vp8_is_keyframe(const struct rtp_vp8_desc *desc, const uint8_t *vp8, size_t len)
{
	/* RFC 7741 4.3: the VP8 payload header's P bit (bit 0 of byte 0) is 0 for key frames. */
	return desc->start && desc->pid == 0 && len >= 3 && (vp8[0] & 1) == 0;
}

int rtp_vp8_packetizer_init(struct rtp_vp8_packetizer *pk, const uint8_t *frame, size_t len,
                            const struct rtp_vp8_desc *desc, size_t max_payload)
{
	uint8_t tmp[RTP_VP8_DESC_MAX];
	struct rtp_vp8_desc d = *desc;
	size_t room;
	int n;

	if (!frame || len == 0)
		return RTP_EINVAL;
	d.start = true;
	d.pid = 0;
	n = rtp_vp8_desc_write(&d, tmp, sizeof tmp);
	if (n < 0)
		return n;
	if (max_payload <= (size_t)n)
		return RTP_EINVAL;
	room = max_payload - (size_t)n;
	memset(pk, 0, sizeof *pk);
	pk->frame = frame;
	pk->len = len;
	pk->desc = d;
	pk->desc_len = (size_t)n;
	pk->n_packets = (len + room - 1) / room;
	return 0;
}

size_t rtp_vp8_packetizer_count(const struct rtp_vp8_packetizer *pk)
{
	return pk->n_packets;
}

int rtp_vp8_packetizer_next(struct rtp_vp8_packetizer *pk, uint8_t *out, size_t cap,
                            size_t *out_len, bool *last)
{
	size_t left_pk, chunk;
	int n;

	if (pk->index >= pk->n_packets)
		return RTP_EINVAL;
	/* Balance: spread the remaining bytes evenly over the remaining packets. */
	left_pk = pk->n_packets - pk->index;
	chunk = (pk->len - pk->off + left_pk - 1) / left_pk;
	pk->desc.start = pk->index == 0;
	n = rtp_vp8_desc_write(&pk->desc, out, cap);
	if (n < 0)
		return n;
	if (cap - (size_t)n < chunk)
		return RTP_ENOSPACE;
	memcpy(out + n, pk->frame + pk->off, chunk);
	pk->off += chunk;
	pk->index++;
	*out_len = (size_t)n + chunk;
	*last = pk->index == pk->n_packets;
	return 0;
}

int rtp_vp8_depacketize(const uint8_t *const *payloads, const size_t *lens, size_t n, uint8_t *out,
                        size_t cap, size_t *out_len, struct rtp_vp8_desc *desc)
{
	struct rtp_vp8_desc first = {0}, d;
	size_t off = 0, dl;
	int ret;

	if (n == 0)
		return RTP_EFRAGMENT;
	for (size_t i = 0; i < n; i++) {
		if ((ret = rtp_vp8_desc_parse(&d, &dl, payloads[i], lens[i])) != 0)
			return ret;
		if (i == 0) {
			if (!d.start || d.pid != 0)
				return RTP_EFRAGMENT;
			first = d;
		} else if (d.has_picture_id != first.has_picture_id ||
		           (d.has_picture_id && d.picture_id != first.picture_id) ||
		           (d.start && d.pid == 0)) {
			return RTP_EFRAGMENT;
		}
		if (cap - off < lens[i] - dl)
			return RTP_ENOSPACE;
		memcpy(out + off, payloads[i] + dl, lens[i] - dl);
		off += lens[i] - dl;
	}
	*out_len = off;
	if (desc)
		*desc = first;
	return 0;
}
