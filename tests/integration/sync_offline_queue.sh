#!/bin/bash
# 20 cases (1 KB … 50 MB, mixed priorities) queued at the clinic while the link is down arrive
# intact at the hub once it comes up (exported bytes compared with cmp); then a reply travels
# back and `pirogue case show` shows it. Both daemons run in the link lab (lan profile).
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up lan
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null ||
	{ fail enroll_clinic; finish; }

link_down
hub_start
clinic_start
sizes=(1000 2000 4096 10000 30000 65536 65537 100000 200000 500000 1000000 1500000 2000000
	3000000 4000000 5000000 8000000 10000000 20000000 50000000)
prios=(urgent normal bulk)
ids=() files=()
t0=$(date +%s%N)
for i in "${!sizes[@]}"; do
	f=$W/file$i.bin
	mkfile "$f" "${sizes[$i]}"
	id=$(add_case "${prios[$((i % 3))]}" "$f")
	[ -n "$id" ] || { fail "queue_case_$i"; continue; }
	ids+=("$id") files+=("$f")
done
check queued_20_cases_while_link_down [ "${#ids[@]}" -eq 20 ]
echo "# queued $(( $(du -cb "$W"/file*.bin | tail -1 | cut -f1) / 1000000 )) MB in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
# The link is down: nothing can have arrived (the clinic keeps retrying with backoff).
check nothing_arrives_while_link_down bash -c "! $PIROGUE inbox show ${ids[0]} --config $HUBCONF >/dev/null 2>&1"

link_up
t0=$(date +%s%N)
if wait_for 300 hub_has_all "${ids[@]}"; then
	pass all_20_cases_arrive_after_link_up
	echo "# all arrived $(( ($(date +%s%N) - t0) / 1000000 )) ms after the link came up"
else
	fail all_20_cases_arrive_after_link_up
fi
bad=0
for i in "${!ids[@]}"; do
	exported_equals "${ids[$i]}" "${files[$i]}" || { bad=$((bad + 1)); echo "# differs: ${ids[$i]} (${sizes[$i]} bytes)"; }
done
check exported_bytes_identical_for_all_20 [ "$bad" -eq 0 ]
n=$($PIROGUE inbox list --config "$HUBCONF" --json | grep -Eo '[0-9a-f]{32}' | sort -u | wc -l)
check inbox_holds_each_case_once [ "$n" -eq 20 ]
check case_list_shows_delivered bash -c "$PIROGUE case show ${ids[0]} --config $CLINICCONF | grep -qiE 'delivered|answered'"

# The specialist answers the first case; the answer reaches the island.
$PIROGUE reply "${ids[0]}" --note "Débridement, antibiotiques, contrôle J3" --config "$HUBCONF" >/dev/null ||
	fail reply_queued_at_hub
answered() { $PIROGUE case show "${ids[0]}" --config "$CLINICCONF" 2>/dev/null | grep -q "Débridement"; }
check reply_travels_back_and_case_show_shows_it wait_for 60 answered
check case_state_answered bash -c "$PIROGUE case show ${ids[0]} --config $CLINICCONF | grep -qi answered"
dup=$(status_num hub dup_bytes_received)
check hub_received_no_duplicate_bytes [ "${dup:-x}" = 0 ]
# status.json names the transport; over udp it has the stream's figures (rate, rtt, re-sent).
stj() { $PIROGUE status --config "$CLINICCONF" --json 2>/dev/null; }
has_transport() { stj | grep -Eq "\"transport\": *\"$SYNC_TRANSPORT\""; }
check status_shows_transport has_transport
if [ "$SYNC_TRANSPORT" = udp ]; then
	check status_shows_stream_rate [ "$(status_num clinic rate_bps)" -gt 0 ]
	has_rtt() { stj | grep -Eq '"rtt_ms": *[0-9]+'; }
	check status_shows_stream_rtt has_rtt
	check status_shows_stream_bytes_sent [ "$(status_num clinic stream_bytes_sent)" -gt 50000000 ]
	has_resent() { stj | grep -Eq '"stream_bytes_resent": *[0-9]+'; }
	check status_shows_stream_bytes_resent has_resent
fi
# A transport pirogued does not know is refused with a message naming the key.
sed -e 's/^transport = .*/transport = quic/' -e "s|^store = .*|store = $W/bad-store|" \
	"$CLINICCONF" >"$W/bad.conf"
bad_refused() {
	! "$PIROGUED" --role clinic --config "$W/bad.conf" >"$W/bad.log" 2>&1 &&
		grep -q 'transport must be udp or tcp' "$W/bad.log"
}
check unknown_transport_refused bad_refused
finish
