#!/bin/bash
# linksim_outage: an outage blocks all traffic for its duration and traffic resumes after it.
# geo-sat (loss 0, jitter 0: RTT exactly 600 ms) with an outage from 4 s to 8 s after `up`;
# ping every 100 ms from the clinic with reception timestamps (-D). A reply received at time T
# (relative to the emulator's start) crossed the up link at about T - 0.6 s and the down link
# at about T - 0.3 s, so no reply can arrive in [4.3 s, 8.6 s) and replies must arrive before
# and resume right after (the first request sent after 8 s is answered at ~8.6 s).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/linksim_lib.bash"
linksim_setup

"$LINKSIM" up --profile geo-sat --set loss=0 --set jitter=0 --set outage=4s+4s >/dev/null ||
	{ fail linksim_up; finish; }
t0=$(stats_get '.started_wall_ms')
out=$("$LINKSIM" exec clinic -- ping -n -D -c 120 -i 0.1 -W 2 198.51.100.2)
rel=$(echo "$out" | awk -v t0="$t0" -F'[][]' '/bytes from/ { printf "%.3f\n", $2 - t0 / 1000 }')
before=$(echo "$rel" | awk '$1 >= 1 && $1 < 4.25' | wc -l)
during=$(echo "$rel" | awk '$1 >= 4.35 && $1 < 8.55' | wc -l)
after=$(echo "$rel" | awk '$1 >= 8.55' | wc -l)
first_after=$(echo "$rel" | awk '$1 >= 4.35 { print; exit }')
echo "replies: $before before the outage, $during during, $after after; first reply after it at ${first_after:-none} s"
check outage_replies_before [ "$before" -ge 25 ]
check outage_blocks_all_traffic [ "$during" -eq 0 ]
check outage_traffic_resumes_after [ "$after" -ge 25 ]
check outage_resumes_on_time fcheck "${first_after:-99} >= 8.55 && ${first_after:-99} <= 8.85"
check outage_counted_by_emulator fcheck "$(stats_get .up.dropped_outage) >= 35"
check outage_over_in_stats [ "$(stats_get .up.in_outage)" = false ]
finish
