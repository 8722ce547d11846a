#!/bin/bash
# consult_geosat: a 20 s two-way `pirogue consult` over geo-sat (512 kbit/s up, 2 Mbit/s down,
# RTT 600 ms, 1 % bursty loss) with the clinic's uplink cut to 128 kbit/s (4x) from 4 s to
# 8 s. Checks, from the consult's own JSON reports and recordings: both sides' recordings
# decode (ffmpeg, an outside decoder), audio frames lost after recovery <= 2 % each way, the
# clinic's ladder stepped down during the drop and back up after it (within the 12 s left:
# measured, the first step up comes 4.8-6.4 s after the capacity returns; it came 7-15 s after
# before the controller restored its rate once the modem queue drained and probed for the
# return, which is why this test used to run 40 s; CONSULT_GEOSAT_SECONDS=N runs it longer),
# and lip sync (the A/V skew, recomputed here from frames.csv to check the report's figure):
# |skew| p50 <= 80 ms each way, and on the hub->clinic direction, whose capacity stays put,
# |skew| p95 <= 150 ms over the pictures decoded before the sound captured with them played
# (the aim is 80 ms, ITU-R BT.1359 detectability being about +45/-125 ms; the check allows for a
# loaded machine; test_media/test_jitter check the sync itself tightly). A picture decoded only
# after its sound played ("late" in frames.csv: it waited for a retransmission, a 600 ms round
# trip, or for the CPU) can only be shown out of sync; lip sync then delays audio by at most
# 150 ms. Those are counted and printed, with the p95 over all pictures, but not held to 150 ms:
# 20 s at 1 % bursty loss has ~200 pictures, so the 10 worst set that p95, and a single lost
# keyframe or CPU stall moved it from 7-12 ms to 223 ms (CI, full suite on 2 busy cores).
# On the clinic->hub direction, the one with the drop, the p95 is printed but not checked:
# there pictures arrive 1-4 s late during and after the drop (queue, stills), and lip sync
# deliberately delays audio by at most 150 ms for video; measured over seven 40 s runs:
# 7.3-172 ms (one above 80 ms).
# And the clinic's pacer drops at most 5 audio packets stale (its audio squeeze; see the end).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/consult_lib.bash"
consult_need_lab
"$PIROGUE" consult --help >/dev/null 2>&1 || { echo "skipped: pirogue consult missing"; exit 77; }
lab_lock
"$LINKSIM" down
consult_sites_init || { fail sites_init; finish; }
trap '"$LINKSIM" down >/dev/null; rm -rf "$CW"' EXIT
"$LINKSIM" up --profile geo-sat >/dev/null || { fail linksim_up; finish; }

DROP=4 RESTORE=8 DUR=${CONSULT_GEOSAT_SECONDS:-20}
if consult_run geo "$DUR" $DROP $RESTORE 128kbit 512kbit; then
	pass consult_both_sides_ran
else
	fail consult_both_sides_ran "$(tail -n 3 "$CW"/geo-*.log)"
fi
for side in clinic hub; do
	echo "--- $side received:"
	[ -f "$CW/geo-$side.json" ] && "$PIROGUE" consult --print-report "$CW/geo-$side.json"
done

for side in clinic hub; do
	check "${side}_received_video_decodes" consult_decodes "$CW/geo-$side/received.ivf"
	check "${side}_received_audio_decodes" consult_decodes "$CW/geo-$side/received.wav"
	consult_check_audio "$side" "$CW/geo-$side.json"
done

# Lip sync, from frames.csv (kind,source_index,rtp_ts,capture_us,playout_us,how): per shown
# picture, (video playout - capture) - (audio playout - capture) of the latest audio frame with a
# known capture time played at most 1 s before it; prints the nearest-rank p95 of |skew| in ms
# and the count, over every picture ($2 = all) or only those shown with their sound ($2 = show:
# not "late", i.e. decoded before the sound captured with them had played).
skew_p95() {
	awk -F, -v only="$2" 'NR > 1 && $1 == "a" && $4 >= 0 { ad = $5 - $4; at = $5; have = 1 }
		NR > 1 && $1 == "v" && $4 >= 0 && have && $5 - at <= 1000000 && (only == "all" || $6 == only) {
			s = ($5 - $4) - ad; print (s < 0 ? -s : s) }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) exit 1; k = int(0.95 * NR); if (k < 0.95 * NR) k++;
			printf "%.1f %d\n", v[k] / 1000, NR }'
}
for side in clinic hub; do
	read -r csv_p95 csv_n < <(skew_p95 "$CW/geo-$side/frames.csv" all)
	read -r sync_p95 sync_n < <(skew_p95 "$CW/geo-$side/frames.csv" show)
	p50=$(jq -r '.received.lip_sync.skew_abs_p50_ms' "$CW/geo-$side.json" 2>/dev/null)
	[ "$side" = clinic ] && { sync_p95_clinic=$sync_p95; sync_n_clinic=$sync_n; }
	json_p95=$(jq -r '.received.lip_sync.skew_abs_p95_ms' "$CW/geo-$side.json" 2>/dev/null)
	echo "$side: A/V skew |p95| $json_p95 ms (report), $csv_p95 ms over $csv_n pictures (frames.csv)," \
		"median $(jq -r '.received.lip_sync.skew_p50_ms' "$CW/geo-$side.json" 2>/dev/null) ms;" \
		"$sync_p95 ms over the $sync_n pictures decoded before their sound played" \
		"($(awk -F, '$1 == "v" && $6 == "late"' "$CW/geo-$side/frames.csv" | wc -l) late)"
	check "${side}_av_skew_report_matches_frames_csv" awk "BEGIN { d = \"$json_p95\" - \"$csv_p95\";
		exit !(\"$csv_n\" + 0 >= 30 && \"$json_p95\" != \"\" && d < 0.1 && d > -0.1) }"
	check "${side}_av_skew_p50_at_most_80ms" awk "BEGIN { exit !(\"$p50\" ~ /^[0-9.]+\$/ && \"$p50\" + 0 <= 80) }"
done
check clinic_av_skew_p95_at_most_150ms awk "BEGIN { exit !(\"$sync_p95_clinic\" ~ /^[0-9.]+\$/ && \"$sync_p95_clinic\" + 0 <= 150 && \"$sync_n_clinic\" + 0 >= 30) }"

# The clinic's ladder: a step down after the drop and a step up after the capacity returned
# (event times are ms since the session started; the drop lands a little after DROP s).
echo "clinic ladder events: $(jq -c '[.ladder.events[] | [.t_ms, .rung]]' "$CW/geo-clinic.json" 2>/dev/null)"
steps=$(jq -r --argjson d $((DROP * 1000)) --argjson r $((RESTORE * 1000)) '
	.ladder.events as $e | [range(1; $e | length)] |
	(map(select($e[.].index < $e[. - 1].index and $e[.].t_ms >= $d)) | first) as $down |
	if $down == null then "none"
	else (map(select(. > $down and $e[.].index > $e[. - 1].index and $e[.].t_ms >= $r)) | length) as $up
	     | "down@\($e[$down].t_ms) up=\($up)" end' "$CW/geo-clinic.json" 2>/dev/null)
echo "clinic ladder: $steps"
check clinic_ladder_stepped_down_during_drop [ "${steps:-none}" != none ]
check clinic_ladder_stepped_back_up_after_drop bash -c "[[ '$steps' =~ up=[1-9] ]]"

# The clinic's sound through the drop: the controller drains the drop's queue at a target below
# what the audio costs on the wire; the clinic squeezes its audio into that target (longer
# frames, lower bitrate, the redundant copy only while both fit) instead of letting its pacer
# drop it stale (9-43 audio packets per drop in four runs before the squeeze).
stale=$(jq -r '.sent.pacer_dropped_stale_audio' "$CW/geo-clinic.json" 2>/dev/null)
echo "clinic audio: squeezed $(jq -r '.sent.audio_squeezes' "$CW/geo-clinic.json" 2>/dev/null)" \
	"time(s) for $(jq -r '.sent.audio_squeezed_s' "$CW/geo-clinic.json" 2>/dev/null) s;" \
	"$stale audio packets dropped stale by its pacer"
check clinic_audio_not_dropped_stale_in_drop awk "BEGIN { exit !(\"$stale\" ~ /^[0-9]+\$/ && $stale + 0 <= 5) }"

# No hub listening: the clinic gives up after --wait with exit status 1 and says what its tunnel
# saw (its handshakes went out, none completed), so a session that never starts can be told
# apart from a refused key or a dead path.
rc=0
"$LINKSIM" exec clinic -- "$PIROGUE" consult --config "$CW/clinic.conf" --audio "$CONSULT_AUDIO" \
	--record "$CW/alone" --duration 5 --wait 2 >"$CW/alone.log" 2>&1 || rc=$?
sed -n 's/^/  /; /did not come/p' "$CW/alone.log"
check no_hub_exit_status_1 [ "$rc" = 1 ]
check no_hub_says_what_the_tunnel_saw grep -Eq \
	"the peer did not come \(tunnel: [1-9][0-9]* handshakes sent, 0 answered, 0 completed" \
	"$CW/alone.log"

# The same, stopped (SIGTERM) while it waits: it says what the tunnel saw, and exits with status
# 1 (no session took place), as README says.
rc=0
"$LINKSIM" exec clinic -- "$PIROGUE" consult --config "$CW/clinic.conf" --audio "$CONSULT_AUDIO" \
	--record "$CW/alone-term" --duration 5 --wait 60 >"$CW/alone-term.log" 2>&1 &
tpid=$!
# its first handshake goes out as it logs "calling the hub, waiting for the hub"
wait_for 20 grep -q "waiting for" "$CW/alone-term.log"
sleep 1
# the consult itself, not the `linksim exec` around it (whose command line holds the same words)
pkill -TERM -f -- "^$PIROGUE consult .*--record $CW/alone-term" || true
wait_for 20 sh -c "! kill -0 $tpid 2>/dev/null"
wait "$tpid" || rc=$?
sed -n 's/^/  /; /stopped before/p' "$CW/alone-term.log"
echo "  exit status $rc"
check stopped_alone_exit_status_1 [ "$rc" = 1 ]
check stopped_alone_says_what_the_tunnel_saw grep -Eq \
	"stopped before the peer came \(tunnel: [1-9][0-9]* handshakes sent, 0 answered, 0 completed" \
	"$CW/alone-term.log"
finish
