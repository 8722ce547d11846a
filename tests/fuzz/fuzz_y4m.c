/* tests/fuzz/fuzz_y4m.c — the Y4M header parser and the streaming reader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/y4m.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_y4m_info info;
	struct codec_y4m_reader *r = NULL;
	char why[128];
	uint8_t *buf;
	size_t fs;
	int frames = 0;

	(void)codec_y4m_header_parse(data, size, &info, why, sizeof why);
	if (codec_y4m_reader_open_mem(&r, data, size) != 0)
		return 0;
	fs = codec_y4m_reader_frame_size(r);
	buf = malloc(fs);
	/* Bounded: a frame needs at least 6 bytes of input, so this ends. */
	while (buf && codec_y4m_reader_read(r, buf, fs) == 1 && frames++ < 1000)
		;
	free(buf);
	codec_y4m_reader_close(r);
	return 0;
}
