#!/bin/bash
# kill -9 of the clinic or the hub at random moments while cases are transferring (22 kills),
# with more cases queued between kills: in the end every case is in the hub's inbox exactly
# once, byte-identical. Short link (lan profile) and small files keep it fast.
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up lan --set rate=20Mbit
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
hub_start
clinic_start
ids=() files=()
queue_one() {
	local f=$W/f${#ids[@]}.bin id
	mkfile "$f" $(( (RANDOM % 40 + 1) * 50000 + RANDOM ))
	id=$(add_case "$1" "$f") && [ -n "$id" ] && ids+=("$id") files+=("$f")
}
for p in urgent normal bulk normal bulk; do queue_one $p; done
kills=0
for k in $(seq 1 22); do
	# A random moment: 50..1050 ms after the previous restart.
	sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
	sleep 0.05
	if [ $((RANDOM % 2)) -eq 0 ]; then
		hub_kill9; hub_start
	else
		clinic_kill9; clinic_start
	fi
	kills=$((kills + 1))
	[ $((k % 4)) -eq 0 ] && queue_one normal
done
echo "# $kills kill -9 (random side), ${#ids[@]} cases"
check killed_at_least_20_times [ "$kills" -ge 20 ]
check every_case_arrives_after_the_kills wait_for 180 hub_has_all "${ids[@]}"
bad=0
for i in "${!ids[@]}"; do exported_equals "${ids[$i]}" "${files[$i]}" || bad=$((bad + 1)); done
check nothing_lost_exported_bytes_identical [ "$bad" -eq 0 ]
n=$($PIROGUE inbox list --config "$HUBCONF" --json | grep -Eo '[0-9a-f]{32}' | sort | uniq | wc -l)
total=$($PIROGUE inbox list --config "$HUBCONF" --json | grep -Eo '"id": *"[0-9a-f]{32}"' | wc -l)
check nothing_duplicated_inbox_has_each_once [ "$n" -eq "${#ids[@]}" -a "$total" -eq "${#ids[@]}" ]
delivered() { local id; for id in "${ids[@]}"; do
	$PIROGUE case show "$id" --config "$CLINICCONF" | grep -qiE 'delivered|answered' || return 1; done; }
check clinic_sees_every_case_delivered wait_for 30 delivered
finish
