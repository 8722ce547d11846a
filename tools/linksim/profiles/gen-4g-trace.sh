#!/bin/sh
# Generates a synthetic Mahimahi trace for the 4g-edge profile (the committed files are the
# reference: awk implementations differ in their random generators).
#   usage: gen-4g-trace.sh SEED MIN_KBIT MAX_KBIT SECONDS > FILE
# Model: the rate does a random walk in log space, one step per second (x e^U, U uniform in
# [-0.7, 0.7]), clipped to [MIN, MAX]; a delivery opportunity (one line, its time in ms) is
# written whenever 1500 bytes of credit have accumulated at that rate. The last line is the
# trace's period (Mahimahi loops the trace with the last timestamp as its length).
set -eu
awk -v seed="$1" -v lo="$2" -v hi="$3" -v secs="$4" 'BEGIN {
	srand(seed); r = sqrt(lo * hi); c = 0
	for (ms = 1; ms <= secs * 1000; ms++) {
		if (ms % 1000 == 1) {
			r = r * exp(1.4 * rand() - 0.7)
			if (r < lo) r = lo
			if (r > hi) r = hi
		}
		c += r * 1000 / 8 / 1000 / 1500   # opportunities per ms at r kbit/s
		while (c >= 1) { if (ms < secs * 1000) print ms; c -= 1 }
	}
	print secs * 1000
}'
