/* codec/opf.c — POPF raw Opus packet files (see opf.h). */
#include "codec/opf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/msg.h"

const char *codec_opf_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_OPF_EMAGIC:
		return "not a POPF (Pirogue Opus packets) file";
	case CODEC_OPF_ETRUNC:
		return "POPF file truncated";
	case CODEC_OPF_EHEADER:
		return "POPF header field out of range";
	case CODEC_OPF_EPACKET:
		return "POPF packet length invalid";
	case CODEC_OPF_ECOUNT:
		return "POPF packet count or length disagrees with the packets";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown POPF error";
	}
}

static bool opus_rate(unsigned r)
{
	return r == 8000 || r == 12000 || r == 16000 || r == 24000 || r == 48000;
}

/* Checks the header fields; returns a reason or NULL. */
static const char *info_bad(const struct codec_opf_info *in)
{
	if (in->channels != 1 && in->channels != 2)
		return "channels not 1 or 2";
	if (!opus_rate(in->opus_rate))
		return "Opus rate not 8/12/16/24/48 kHz";
	if (in->input_rate < 8000 || in->input_rate > 48000)
		return "input rate outside 8000..48000 Hz";
	if (in->pre_skip > in->opus_rate / 10)
		return "pre-skip longer than 100 ms";
	return NULL;
}

int codec_opf_parse(const uint8_t *p, size_t len, struct codec_opf_info *info,
                    struct codec_opf_packet **packets, char *why, size_t why_len)
{
	struct codec_opf_packet *pk = NULL;
	struct codec_opf_info in;
	struct buf_reader r;
	uint8_t magic[4], version;
	const char *bad;
	uint32_t i;
	int ret;

	msg_set(why, why_len, "%s", "");
	if (!info || !packets || (!p && len))
		return -EINVAL;
	buf_reader_init(&r, p, len);
	if (!buf_read_bytes(&r, magic, 4) || memcmp(magic, "POPF", 4) != 0) {
		if (len < 4 && (!len || !memcmp(p, "POPF", len))) {
			msg_set(why, why_len, "header cut short: %zu of 32 bytes", len);
			return CODEC_OPF_ETRUNC;
		}
		msg_set(why, why_len, "does not start with \"POPF\"");
		return CODEC_OPF_EMAGIC;
	}
	version = buf_read_u8(&r);
	in.channels = buf_read_u8(&r);
	(void)buf_read_u16_le(&r);
	in.opus_rate = buf_read_u32_le(&r);
	in.input_rate = buf_read_u32_le(&r);
	in.pre_skip = buf_read_u32_le(&r);
	in.input_frames = buf_read_u64_le(&r);
	in.packets = buf_read_u32_le(&r);
	if (!buf_reader_ok(&r)) {
		msg_set(why, why_len, "header cut short: %zu of 32 bytes", len);
		return CODEC_OPF_ETRUNC;
	}
	if (version != 1) {
		msg_set(why, why_len, "unsupported version %u (only 1)", version);
		return CODEC_OPF_EHEADER;
	}
	if ((bad = info_bad(&in)) != NULL) {
		msg_set(why, why_len, "%s", bad);
		return CODEC_OPF_EHEADER;
	}
	/* Each packet takes at least 3 bytes: a count beyond that is a lie, caught before
	 * allocating the array. */
	if (in.packets > buf_reader_left(&r) / 3) {
		msg_set(why, why_len, "header declares %u packets but the file holds at most %zu",
		        in.packets, buf_reader_left(&r) / 3);
		return CODEC_OPF_ECOUNT;
	}
	/* 120 ms per packet at most: a longer source cannot have come from these packets. */
	if (in.input_frames > (uint64_t)in.packets * in.input_rate * 120 / 1000) {
		msg_set(why, why_len,
		        "header declares %llu input frames, more than %u packets can hold",
		        (unsigned long long)in.input_frames, in.packets);
		return CODEC_OPF_ECOUNT;
	}
	if (in.packets && !(pk = calloc(in.packets, sizeof *pk)))
		return -ENOMEM;
	for (i = 0; i < in.packets; i++) {
		uint16_t n = buf_read_u16_le(&r);
		const uint8_t *d;

		if (!buf_reader_ok(&r)) {
			msg_set(why, why_len, "packet %u: length cut short", i);
			ret = CODEC_OPF_ETRUNC;
			goto fail;
		}
		if (n == 0 || n > CODEC_OPF_PACKET_MAX) {
			msg_set(why, why_len, "packet %u: length %u outside 1..%d", i, n,
			        CODEC_OPF_PACKET_MAX);
			ret = CODEC_OPF_EPACKET;
			goto fail;
		}
		if (!(d = buf_read_view(&r, n))) {
			msg_set(why, why_len, "packet %u: declares %u bytes, file ends first", i,
			        n);
			ret = CODEC_OPF_ETRUNC;
			goto fail;
		}
		pk[i].data = d;
		pk[i].len = n;
	}
	if (buf_reader_left(&r) != 0) {
		msg_set(why, why_len, "%zu bytes after the %u packets the header declares",
		        buf_reader_left(&r), in.packets);
		ret = CODEC_OPF_ECOUNT;
		goto fail;
	}
	*info = in;
	*packets = pk;
	return 0;
fail:
	free(pk);
	return ret;
}

int codec_opf_header_write(const struct codec_opf_info *info, uint8_t out[CODEC_OPF_HEADER_SIZE])
{
	struct buf_writer w;

	if (!info || !out || info_bad(info))
		return -EINVAL;
	buf_writer_init(&w, out, CODEC_OPF_HEADER_SIZE);
	buf_write_bytes(&w, "POPF", 4);
	buf_write_u8(&w, 1);
	buf_write_u8(&w, (uint8_t)info->channels);
	buf_write_u16_le(&w, 0);
	buf_write_u32_le(&w, info->opus_rate);
	buf_write_u32_le(&w, info->input_rate);
	buf_write_u32_le(&w, info->pre_skip);
	buf_write_u64_le(&w, info->input_frames);
	buf_write_u32_le(&w, info->packets);
	return buf_writer_ok(&w) ? 0 : -EINVAL;
}

int codec_opf_packet_prefix(size_t len, uint8_t out[2])
{
	if (!out || len == 0 || len > CODEC_OPF_PACKET_MAX)
		return -EINVAL;
	out[0] = (uint8_t)len;
	out[1] = (uint8_t)(len >> 8);
	return 0;
}
