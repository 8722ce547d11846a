/* bench/bench_stream.c — relay/stream goodput on the SIMULATED geo-sat link of
 * tests/unit/util/stream_sim.h (2 Mbit/s, 600 ms RTT +-20 ms, 1.5 s drop-tail queue,
 * Gilbert-Elliott loss with bursts of 3, loss after the serialiser), in virtual time.
 *
 * Rows: goodput (stream payload bytes delivered in order, over [20 s, 620 s) of one bulk
 * transfer) at 1 % and 2 % bursty loss, each against the physical ceiling computed for the loss
 * the run actually drew: (1443 - 15 header) / 1500 link bytes x (1 - loss). Bytes still held
 * behind a gap at the window's ends make the ratio uncertain by about +-0.2 %. This is a model
 * of the link, not the link lab: bench/sync.sh measures sync over the real lab.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "relay/stream.h"
#include "tests/unit/util/stream_sim.h"

int main(void)
{
	static const struct {
		double loss;
		uint64_t seed;
		const char *name;
	} runs[] = {
	        {0.01, 11, "relay/stream simulated geo-sat 1 % loss goodput"},
	        {0.02, 12, "relay/stream simulated geo-sat 2 % loss goodput"},
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		double busy, qa, qm, ls, g, c;
		bool bad;

		g = geosat_goodput(runs[i].loss, runs[i].seed, &busy, &qa, &qm, &ls, &bad);
		c = ceiling(ls);
		fprintf(stderr,
		        "%s: %.2f %% of 2 Mbit/s, drawn loss %.2f %%, link busy %.2f %%, queue "
		        "delay avg %.0f ms max %.0f ms%s\n",
		        runs[i].name, g * 100, ls * 100, busy * 100, qa, qm,
		        bad ? " -- BYTES CORRUPTED" : "");
		if (bad)
			ret = 1;
		printf("ROW\t%s\t%.0f kbit/s\tphysical ceiling (1428/1500 x (1 - %.2f %% drawn "
		       "loss))"
		       "\t%.0f kbit/s\t%.3f\n",
		       runs[i].name, g * 2000, ls * 100, c * 2000, g / c);
		fflush(stdout);
	}
	return ret;
}
