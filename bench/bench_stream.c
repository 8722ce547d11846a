/* bench/bench_stream.c — relay/stream goodput on the SIMULATED geo-sat link of
 * tests/unit/util/stream_sim.h (2 Mbit/s, 600 ms RTT +-20 ms, 1.5 s drop-tail queue,
 * Gilbert-Elliott loss with bursts of 3, loss after the serialiser), in virtual time.
 *
 * Rows: goodput (stream payload bytes delivered in order, over [20 s, 620 s) of one bulk
 * transfer) at 1 % and 2 % bursty loss, each against the physical ceiling computed for the loss
 * the run actually drew: (1443 - 15 header) / 1500 link bytes x (1 - loss). Bytes still held
 * behind a gap at the window's ends make the ratio uncertain by about +-0.2 %. This is a model
 * of the link, not the link lab: bench/sync.sh measures sync over the real lab.
 * Then: 200 records of 500 KB, each on its own simulated geo-sat link at 1 % (seeds 1000-1199),
 * each a stream that resumed the link's saved path after 2 s of keepalives, timed from the write
 * to the last byte read: the mean and the slowest, against the ideal (the bytes at the 1 %
 * ceiling plus the 300 ms one-way delay). The slowest shows the tail: a burst that takes a
 * record's last datagrams and the probes after them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "relay/stream.h"
#include "tests/unit/util/stream_sim.h"

static uint64_t record_goal;

static bool record_read(struct sim *m)
{
	return m->read_bytes[1] >= record_goal;
}

/* Seconds from the write of `size` bytes to their last byte read, on seed's geo-sat 1 % link. */
static double record_time(uint64_t size, uint64_t seed)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = {0};
	const int64_t t0 = 2000000;
	double secs;

	SIM_CHECK(m != NULL);
	c.resume.bps = 2000000;
	c.resume.min_rtt_us = 600000;
	sim_init(m, seed);
	geosat(m, 0.01);
	sim_open(m, &c);
	sim_idle(m, t0);
	record_goal = m->read_bytes[1] + size;
	m->to_write[0] += size;
	sim_run(m, t0 + 100000000, record_read);
	secs = (double)(m->now_us - t0) / 1e6;
	SIM_CHECK(!m->bad_byte);
	sim_free(m);
	free(m);
	return secs;
}

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
	{
		const uint64_t size = 500000;
		const int n = 200;
		double sum = 0, worst = 0, ideal = (double)size * 8 / (ceiling(0.01) * 2e6) + 0.3;

		for (int i = 0; i < n; i++) {
			double t = record_time(size, 1000 + (uint64_t)i);

			sum += t;
			if (t > worst)
				worst = t;
		}
		fprintf(stderr,
		        "relay/stream simulated geo-sat 1 %%: %d records of 500 KB: mean %.3f s, "
		        "slowest %.3f s, ideal %.3f s\n",
		        n, sum / n, worst, ideal);
		printf("ROW\trelay/stream simulated geo-sat 1 %%: 500 KB record, mean of %d\t%.2f "
		       "s\tideal (at the ceiling + 300 ms)\t%.2f s\t%.2f\n",
		       n, sum / n, ideal, sum / n / ideal);
		printf("ROW\trelay/stream simulated geo-sat 1 %%: 500 KB record, slowest of "
		       "%d\t%.2f "
		       "s\tideal (at the ceiling + 300 ms)\t%.2f s\t%.2f\n",
		       n, worst, ideal, worst / ideal);
	}
	return ret;
}
