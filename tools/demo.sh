#!/bin/bash
# tools/demo.sh — `make demo`: what Pirogue does, shown step by step on the emulated link.
#
# Each step is a function `step_<name>` listed in STEPS with a title; later issues add their
# own steps (the product on the link) between the link lab's steps. Needs root (the link lab
# uses network namespaces); takes the lab lock, so it never collides with a test run.
# Environment: BUILD (build dir, default build), PROFILE (default geo-sat).
set -u
cd "$(dirname "$0")/.." || exit 2
PROFILE=${PROFILE:-geo-sat}
. tools/demo_lib.bash

step_lab_up() {
	title "Bring up the link lab on the '$PROFILE' profile"
	say "Two network namespaces, 'clinic' ($CLINIC) and 'hub' ($HUB), joined by a"
	say "user-space emulator of a geostationary satellite link (tools/linksim)."
	run "$LINKSIM" up --profile "$PROFILE"
}

step_ping() {
	title "Ping the hub from the clinic: ~600 ms round trip"
	run "$LINKSIM" exec clinic -- ping -n -c 5 -i 0.3 "$HUB"
}

step_iperf() {
	title "Offer 3 Mbit/s of UDP hub -> clinic: the 2 Mbit/s downlink delivers 2 Mbit/s"
	"$LINKSIM" exec hub -- iperf3 -s -1 >/dev/null 2>&1 &
	for _ in $(seq 100); do
		ip netns exec hub ss -ltn | grep -q ':5201 ' && break
		sleep 0.05
	done
	run "$LINKSIM" exec clinic -- iperf3 -c "$HUB" -u -R -b 3M -l 1200 -t 5 -f k
	wait
	say "(iperf3 counts UDP payload: 1200 of every 1228 bytes, so ~1950 kbit/s at 2 Mbit/s;"
	say " the rest was dropped by the satellite modem's queue or lost in bursts on the way.)"
}

step_stats() {
	title "What the link did: per-direction counters"
	run "$LINKSIM" stats
}

step_lab_down() {
	title "Tear the link lab down"
	run "$LINKSIM" down && say "namespaces left: $(ip netns list | grep -Ec '^(clinic|hub)( |$)')"
}

STEPS="lab_up ping iperf stats lab_down"
# Issue 3 (deferred cases): the sync step lives in tools/demo_sync.sh; runs before the stats.
. tools/demo_sync.sh && STEPS=${STEPS/stats/sync stats}
# Issue 5 (live consultation): adaptive vs fixed-bitrate consult through a 4x uplink drop.
. tools/demo_consult.sh && STEPS=${STEPS/stats/consult stats}
# ... and over 4G behind an operator's policer (after the stats: it replaces the satellite lab).
STEPS=${STEPS/lab_down/consult_policer lab_down}

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (the link lab uses network namespaces)" >&2; exit 1; }
[ -x "$LINKSIM" ] || { echo "demo: $LINKSIM is not built (run make)" >&2; exit 1; }
exec 9>/run/lock/pirogue-linksim.lock
flock 9
"$LINKSIM" down
trap '"$LINKSIM" down' EXIT
status=0
for s in $STEPS; do
	"step_$s" || { echo "demo: step '$s' failed" >&2; status=1; break; }
done
exit $status
