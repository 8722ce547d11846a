/* tests/fuzz/fuzz_vp8desc.c — VP8 payload descriptor parser (round trip through the writer)
 * and the depacketiser on the input split into up to four payloads. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "relay/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536];
	struct rtp_vp8_desc d, d2;
	uint8_t w[RTP_VP8_DESC_MAX];
	size_t dl, dl2, outlen;
	const uint8_t *pl[4];
	size_t lens[4], n = 0, off = 0;
	int wn;

	if (rtp_vp8_desc_parse(&d, &dl, data, size) == 0) {
		if (dl > RTP_VP8_DESC_MAX || dl >= size)
			__builtin_trap();
		(void)rtp_vp8_is_keyframe(&d, data + dl, size - dl);
		wn = rtp_vp8_desc_write(&d, w, sizeof w);
		if (wn <= 0)
			__builtin_trap();
		memcpy(out, w, (size_t)wn);
		out[wn] = 0;
		if (rtp_vp8_desc_parse(&d2, &dl2, out, (size_t)wn + 1) != 0 || dl2 != (size_t)wn ||
		    d2.picture_id != d.picture_id || d2.tid != d.tid || d2.start != d.start ||
		    d2.pid != d.pid)
			__builtin_trap();
	}
	/* Split at the bytes' own values into up to four payloads. */
	while (off < size && n < 4) {
		size_t l = 1 + (size_t)data[off] % 64;

		if (l > size - off)
			l = size - off;
		pl[n] = data + off;
		lens[n] = l;
		off += l;
		n++;
	}
	if (n)
		(void)rtp_vp8_depacketize(pl, lens, n, out, sizeof out, &outlen, &d);
	return 0;
}
