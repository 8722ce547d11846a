#!/bin/bash
# tests/soak_sync.sh — long sync soak (not part of `make test`): KILLS (default 200) kill -9 of
# the clinic or the hub at random moments, outages and link changes, while cases of random
# sizes and priorities keep being queued; at the end every case is in the hub's inbox exactly
# once and byte-identical. PROFILE (default lan) and RATE (default 20Mbit) shape the link.
# Usage: sudo BUILD=build tests/soak_sync.sh     (prints ok/not ok lines like the suite)
. "$(dirname "$0")/integration/sync_lib.bash"
KILLS=${KILLS:-200}
need_root
need_sync_cli
lab_up "${PROFILE:-lan}" --set "rate=${RATE:-20Mbit}"
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
hub_start
clinic_start
ids=() files=()
prios=(urgent normal bulk)
queue_one() {
	local f=$W/f${#ids[@]}.bin id
	mkfile "$f" $(( (RANDOM % 100 + 1) * 30000 + RANDOM ))
	id=$(add_case "${prios[$((RANDOM % 3))]}" "$f") && [ -n "$id" ] && ids+=("$id") files+=("$f")
}
for _ in 1 2 3 4 5; do queue_one; done
t0=$(date +%s)
for k in $(seq 1 "$KILLS"); do
	sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
	case $((RANDOM % 10)) in
	0) link_down; sleep "$((RANDOM % 6))"; link_up ;;
	1 | 2 | 3 | 4) hub_kill9; hub_start ;;
	*) clinic_kill9; clinic_start ;;
	esac
	[ $((k % 3)) -eq 0 ] && queue_one
	[ $((k % 50)) -eq 0 ] && echo "# $k/$KILLS disruptions, ${#ids[@]} cases queued, $(($(date +%s) - t0)) s"
done
check every_case_arrives wait_for 900 hub_has_all "${ids[@]}"
bad=0
for i in "${!ids[@]}"; do exported_equals "${ids[$i]}" "${files[$i]}" || bad=$((bad + 1)); done
check nothing_lost_exported_bytes_identical [ "$bad" -eq 0 ]
n=$($PIROGUE inbox list --config "$HUBCONF" --json | grep -Eo '"id": *"[0-9a-f]{32}"' | wc -l)
check nothing_duplicated [ "$n" -eq "${#ids[@]}" ]
echo "# hub duplicate bytes $(status_num hub dup_bytes_received) (counted since its last restart)"
finish
