/* tests/fuzz/fuzz_wav.c — libFuzzer target for the WAV parser (codec/wav.c).
 * Whatever parses must be self-consistent (no more samples than bytes in the input, format in
 * range) and must survive a serialize/parse round trip unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_wav_info info, again;
	int16_t *pcm = NULL, *back = NULL;
	uint8_t *file = NULL;
	size_t len = 0;

	if (codec_wav_parse(data, size, &info, &pcm) != 0)
		return 0;
	if (info.channels < 1 || info.channels > 2 || info.sample_rate < CODEC_WAV_RATE_MIN ||
	    info.sample_rate > CODEC_WAV_RATE_MAX || info.frames * info.channels * 2 > size ||
	    (info.frames > 0) != (pcm != NULL))
		abort();
	if (codec_wav_serialize(&info, pcm, &file, &len) != 0)
		abort();
	if (codec_wav_parse(file, len, &again, &back) != 0 || again.frames != info.frames ||
	    again.channels != info.channels || again.sample_rate != info.sample_rate ||
	    (info.frames && memcmp(back, pcm, info.frames * info.channels * 2) != 0))
		abort();
	free(pcm);
	free(back);
	free(file);
	return 0;
}
