/* tests/fuzz/fuzz_opf.c — the POPF (raw Opus packets file) parser, and the Opus decoder on the
 * packets it yields, on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/opf.h"
#include "codec/opus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int16_t pcm[CODEC_OPUS_PACKET_SAMPLES_MAX * 2];
	struct codec_opf_info info;
	struct codec_opf_packet *pk = NULL;
	struct codec_opus_dec *d = NULL;
	char why[128];

	if (codec_opf_parse(data, size, &info, &pk, why, sizeof why) != 0)
		return 0;
	if (codec_opus_dec_new(&d, info.opus_rate, info.channels) == 0) {
		for (uint32_t i = 0; i < info.packets && i < 64; i++) {
			size_t n;
			(void)codec_opus_dec_decode(d, pk[i].data, pk[i].len, pcm,
			                            CODEC_OPUS_PACKET_SAMPLES_MAX, &n);
		}
		codec_opus_dec_free(d);
	}
	free(pk);
	return 0;
}
