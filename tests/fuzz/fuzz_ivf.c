/* tests/fuzz/fuzz_ivf.c — the IVF header/frame parsers, the streaming reader, and the VP8 frame
 * peek on each frame it yields, on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "codec/ivf.h"
#include "codec/vp8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_ivf_info info;
	struct codec_ivf_reader *r = NULL;
	const uint8_t *frame;
	size_t len;
	uint64_t pts;
	uint32_t fsz;
	char why[128];
	int w, h, frames = 0;

	(void)codec_ivf_header_parse(data, size, &info, why, sizeof why);
	(void)codec_ivf_frame_header_parse(data, size, &fsz, &pts);
	(void)codec_vp8_frame_peek(data, size, &w, &h);
	if (codec_ivf_reader_open_mem(&r, data, size) != 0)
		return 0;
	while (codec_ivf_reader_read(r, &frame, &len, &pts) == 1 && frames++ < 10000)
		(void)codec_vp8_frame_peek(frame, len, &w, &h);
	codec_ivf_reader_close(r);
	return 0;
}
