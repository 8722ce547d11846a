/* tests/fuzz/fuzz_rtp.c — RTP header/packet parser, extension accessors, re-serialisation,
 * and the FEC repair parser/recovery on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "relay/fec.h"
#include "relay/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	struct rtp_packet p, q;
	struct fec_repair r;
	size_t len;
	uint16_t seq;
	uint32_t v;
	bool voice;
	uint8_t level;
	unsigned samples;

	if (rtp_header_parse(&p, data, size) == 0) {
		if (rtp_ext_get_twcc(&p, 5, &seq) == 0)
			(void)seq;
		if (rtp_ext_get_abs_send_time(&p, 2, &v) == 0)
			(void)v;
		if (rtp_ext_get_audio_level(&p, 1, &voice, &level) == 0)
			(void)level;
	}
	if (size <= sizeof out) {
		memcpy(out, data, size);
		if (rtp_ext_set_twcc_inplace(out, size, 5, 0x1234) == 0 &&
		    (rtp_header_parse(&q, out, size) != 0 || rtp_ext_get_twcc(&q, 5, &seq) != 0 ||
		     seq != 0x1234))
			__builtin_trap();
	}
	if (rtp_packet_parse(&p, data, size) == 0) {
		/* What parses must write back and parse to the same fields. */
		if (rtp_packet_write(&p, out, sizeof out, &len) == 0) {
			if (rtp_packet_parse(&q, out, len) != 0 || q.seq != p.seq ||
			    q.payload_len != p.payload_len || q.n_ext != p.n_ext ||
			    memcmp(q.payload, p.payload, p.payload_len) != 0)
				__builtin_trap();
		}
		if (rtp_opus_payload_check(p.payload, p.payload_len, &samples) == 0 &&
		    samples > 5760)
			__builtin_trap();
	}
	{
		struct rtp_red_block b[RTP_RED_MAX_BLOCKS];
		size_t n, total = 0;

		if (rtp_red_parse(data, size, b, RTP_RED_MAX_BLOCKS, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				total += b[i].len;
			if (n == 0 || total > size)
				__builtin_trap();
			/* What parses writes back to the same bytes. */
			if (rtp_red_write(b, n, out, sizeof out, &len) == 0 &&
			    (len != size || memcmp(out, data, size) != 0))
				__builtin_trap();
		}
	}
	if (fec_repair_parse(&r, data, size) == 0) {
		struct fec_pkt have[2] = {{r.base, data, size > 100 ? 100 : size},
		                          {(uint16_t)(r.base + 1), data, size / 2}};
		uint16_t s;

		(void)fec_recover(&r, have, 2, out, sizeof out, &len, &s);
	}
	return 0;
}
