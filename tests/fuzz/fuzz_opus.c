/* tests/fuzz/fuzz_opus.c — libFuzzer target for Opus packets from the network (codec/opus.c):
 * the TOC/framing checks, the FEC (LBRR) probe, decoding, and FEC recovery from a packet.
 * The first input byte picks the decoder's rate and channels; the rest is the packet. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/opus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned rates[] = {8000, 12000, 16000, 24000, 48000};
	static int16_t pcm[CODEC_OPUS_PACKET_SAMPLES_MAX * 2];
	struct codec_opus_dec *d = NULL;
	struct codec_opus_dec_stats st;
	unsigned rate, ch;
	size_t got = 0;
	bool rec = false;
	int n, ret;

	if (size < 2)
		return 0;
	rate = rates[data[0] % 5];
	ch = 1 + ((data[0] >> 3) & 1);
	data++;
	size--;
	if (codec_opus_dec_new(&d, rate, ch) != 0)
		abort();
	n = codec_opus_packet_samples(data, size, rate);
	(void)codec_opus_packet_has_fec(data, size);
	ret = codec_opus_dec_decode(d, data, size, pcm, CODEC_OPUS_PACKET_SAMPLES_MAX, &got);
	/* A packet whose framing is valid decodes to exactly its announced duration. */
	if (ret == 0 && (n < 0 || got != (size_t)n))
		abort();
	ret = codec_opus_dec_lost(d, data, size, rate / 50, pcm, CODEC_OPUS_PACKET_SAMPLES_MAX,
	                          &got, &rec);
	if (ret == 0 && got != rate / 50)
		abort();
	codec_opus_dec_stats_get(d, &st);
	if (st.decoded + st.concealed + st.recovered > 2)
		abort();
	codec_opus_dec_free(d);
	return 0;
}
