#!/bin/bash
# linksim_fade: a scheduled rain fade drops the line rate and lifts it again.
# geo-sat-rainfade with its fade moved to 1 s .. 18 s after `up` (loss set to 0 inside and
# outside the fade so that only the rate is measured): iperf3 UDP offered at 1 Mbit/s hub ->
# clinic from ~1.5 s is delivered at the fade rate (128 kbit/s x 1200/1228 of payload) +/- 5 %
# over its steady intervals, and after the fade the link reports its full rate again.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/linksim_lib.bash"
linksim_setup
tmp=$(mktemp -d)
trap '"$LINKSIM" down; rm -rf "$tmp"' EXIT

"$LINKSIM" up --profile geo-sat-rainfade --set fade=1s+17s --set loss=0 --set fade_loss=0 \
	--set queue=300ms >/dev/null || { fail linksim_up; finish; }
fade_started() { [ "$(stats_get .elapsed_ms)" -ge 1200 ]; }
wait_for 5 fade_started
check fade_reported_in_stats [ "$(stats_get .down.in_fade)" = true ]
check fade_rate_reported [ "$(stats_get .down.rate_bps_now)" = 128000 ]
if iperf3_udp_recv clinic hub 198.51.100.2 1M 1200 9 "$tmp/fade.json"; then
	got=$(jq '[.intervals[2:-1][].sum] | (map(.bytes) | add) * 8 / (map(.seconds) | add)' \
		"$tmp/fade.json")
	want=$(fcalc "128000 * 1200 / 1228")
	echo "during the fade: iperf3 receiver $got bit/s, expected $want bit/s"
	check fade_delivers_at_fade_rate fcheck "$got >= $want * 0.95 && $got <= $want * 1.05"
else
	fail fade_delivers_at_fade_rate "iperf3 failed"
fi
in_fade_after() { [ "$(stats_get .down.in_fade)" = false ]; }
check fade_ends_on_schedule wait_for 14 in_fade_after
check full_rate_after_fade [ "$(stats_get .down.rate_bps_now)" = 2000000 ]
finish
