/* tests/fuzz/fuzz_rtcp.c — RTCP compound walk and every feedback accessor (NACK, REMB, FIR,
 * transport-wide feedback); parsed transport-wide feedback is re-encoded and re-parsed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "relay/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rtcp_packet pkt;
	static struct rtcp_twcc_pkt tw[65536];
	static bool recv[65536];
	static int64_t arr[65536];
	static uint8_t out[300000];
	struct rtcp_iter it;
	uint16_t lost[512];
	uint32_t ssrcs[256];
	struct rtcp_fir_entry fir[64];
	struct rtcp_twcc_info info;
	uint64_t br;
	size_t n;
	int ret;

	(void)rtcp_compound_validate(data, size);
	rtcp_iter_init(&it, data, size);
	while ((ret = rtcp_iter_next(&it, &pkt)) == 1) {
		(void)rtcp_nack_lost(&pkt, lost, 512, &n);
		(void)rtcp_remb_parse(&pkt, &br, ssrcs, 256, &n);
		(void)rtcp_fir_parse(&pkt, fir, 64, &n);
		if (rtcp_twcc_parse(&pkt, &info, tw, 65536) == 0) {
			struct buf_writer w;
			size_t used, k = 0;
			int64_t base = 0;

			for (size_t i = 0; i < info.status_count; i++) {
				recv[i] = tw[i].received;
				arr[i] = tw[i].arrival_us;
				if (recv[i] && arr[i] < base)
					base = arr[i];
			}
			for (size_t i = 0; i < info.status_count; i++)
				arr[i] -= base; /* the builder wants non-negative times */
			while (k < info.status_count) {
				buf_writer_init(&w, out, sizeof out);
				if (rtcp_write_twcc(&w, 1, 2, (uint16_t)(info.base_seq + k),
				                    recv + k, arr + k, info.status_count - k, 0,
				                    &used) != 0)
					break;
				if (rtcp_compound_validate(out, buf_writer_len(&w)) != 1)
					__builtin_trap();
				k += used;
			}
		}
	}
	return 0;
}
