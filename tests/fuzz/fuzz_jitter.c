/* tests/fuzz/fuzz_jitter.c — the receive buffers driven by hostile packet streams: each 8-byte
 * record is (seq u16, timestamp step u16, flags u8, arrival step u8, payload length u16);
 * the audio buffer, the video assembler and the FEC decoder store see every packet, and the
 * players pull frames as time advances. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/fec.h"
#include "relay/jitter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* gap_unneeded as the tag says (the low bit), after reading the payload it is shown; not for
 * some gaps (as relay/media waits for a repair of some) */
static bool unneeded(void *arg, const uint8_t *payload, size_t len, unsigned tag, uint16_t gap_seq)
{
	(void)arg;
	return (tag & 1) && len > 0 && payload[0] != 0xff && gap_seq % 3 != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[1500], out[1500];
	struct jb_audio *a = NULL;
	struct jb_video *v = NULL;
	struct fec_decoder *d = NULL;
	struct jb_audio_frame af;
	struct jb_video_frame vf;
	struct jb_video_config vc = {.wait_us = 50000,
	                             .max_packets = 64,
	                             .max_frame_packets = 16,
	                             .gap_unneeded = unneeded};
	uint16_t miss[64];
	uint32_t ts = 0;
	int64_t t = 0;

	if (jb_audio_new(&a, NULL) != 0 || jb_video_new(&v, &vc) != 0 || fec_decoder_new(&d) != 0)
		goto out;
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *r = data + i;
		uint16_t seq = (uint16_t)(r[0] << 8 | r[1]);
		uint16_t step = (uint16_t)(r[2] << 8 | r[3]);
		uint8_t flags = r[4];
		size_t len = 1 + ((size_t)(r[6] << 8 | r[7]) % sizeof payload);
		size_t ol;
		uint16_t os;

		ts += (flags & 0x80) ? (uint32_t)step << 8 : step;
		t += (int64_t)r[5] * 1000;
		payload[0] = flags;
		(void)jb_audio_put_samples(a, seq, ts, payload, len, 960u * (flags & 3), t);
		/* r[6]'s top bit: a key frame's first packet (len uses r[6] modulo the payload
		 * size) */
		(void)jb_video_put(v, seq, ts,
		                   (flags & 1u) | (r[6] & 0x80 ? JB_VIDEO_INDEPENDENT : 0) |
		                           JB_VIDEO_TAG(r[6] & 0x41),
		                   flags & 2, payload, len, t);
		if (flags & 4)
			(void)fec_decoder_add_media(d, seq, payload, len);
		if (flags & 8)
			(void)fec_decoder_add_repair(d, r, size - i, out, sizeof out, &ol, &os);
		if (flags & 0x10)
			jb_audio_get(a, t, &af);
		if (flags & 0x20)
			while (jb_video_get(v, t, &vf) != JB_VIDEO_NONE)
				for (size_t k = 0; k < vf.n_packets; k++)
					payload[1] ^= vf.payloads[k][0];
		if (flags & 0x40) {
			(void)jb_video_missing(v, miss, 64);
			(void)jb_video_nack(v, t, (int64_t)r[5] * 1000, miss, 64);
		}
	}
out:
	jb_audio_free(a);
	jb_video_free(v);
	fec_decoder_free(d);
	return 0;
}
