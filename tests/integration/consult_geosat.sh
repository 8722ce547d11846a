#!/bin/bash
# consult_geosat: a 20 s two-way `pirogue consult` over geo-sat (512 kbit/s up, 2 Mbit/s down,
# RTT 600 ms, 1 % bursty loss) with the clinic's uplink cut to 128 kbit/s (4x) from 4 s to
# 8 s. Checks, from the consult's own JSON reports and recordings: both sides' recordings
# decode (ffmpeg, an outside decoder), audio frames lost after recovery <= 2 % each way, and
# the clinic's ladder stepped down during the drop and back up after it (within the 12 s left:
# measured, the first step up comes 4.8-6.4 s after the capacity returns; it came 7-15 s after
# before the controller restored its rate once the modem queue drained and probed for the
# return, which is why this test used to run 40 s). CONSULT_GEOSAT_SECONDS=N runs it longer.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/consult_lib.bash"
need_root
for t in jq ffmpeg; do
	command -v $t >/dev/null || { echo "skipped: $t missing (make deps)"; exit 77; }
done
[ -x "$LINKSIM" ] && [ -x "$PIROGUE" ] || { echo "skipped: build pirogue and linksim first"; exit 77; }
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
	fail consult_both_sides_ran "$(tail -3 "$CW"/geo-*.log)"
fi
for side in clinic hub; do
	echo "--- $side received:"
	[ -f "$CW/geo-$side.json" ] && "$PIROGUE" consult --print-report "$CW/geo-$side.json"
done

decodes() { # an outside decoder reads the file through without an error
	[ -s "$1" ] && ffmpeg -nostdin -v error -xerror -i "$1" -f null - 2>&1 | { ! grep -q .; }
}
for side in clinic hub; do
	check "${side}_received_video_decodes" decodes "$CW/geo-$side/received.ivf"
	check "${side}_received_audio_decodes" decodes "$CW/geo-$side/received.wav"
	lost=$(jq -r '.received.audio.lost_pct' "$CW/geo-$side.json" 2>/dev/null)
	frames=$(jq -r '.received.audio.frames' "$CW/geo-$side.json" 2>/dev/null)
	echo "$side: audio frames $frames, lost after recovery $lost %"
	check "${side}_audio_loss_at_most_2pct" awk "BEGIN { exit !(\"$frames\" + 0 > 200 && \"$lost\" != \"\" && $lost + 0 <= 2) }"
done

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
finish
