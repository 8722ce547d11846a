#!/bin/bash
# consult_policer: a 75 s two-way `pirogue consult` over 4g-policed, a 5 Mbit/s 4G uplink behind an
# operator's 512 kbit/s policer (a token bucket of 100 ms: what exceeds it is dropped at once, with
# no queue, so the delay never rises). The loss alone must tell the clinic's rate controller that
# this is a rate limit and not loss on the air (relay/cc.c, policer_check). Checks: the clinic
# says it found a policer near 512 kbit/s; over 15 s of the hold (before its test) the clinic
# puts at most 1.1x the policer's rate into the uplink and the policer drops at most 5 % of its
# packets (the controller before this ran at 1.4x, with 18 % dropped and 2.5 fps:
# bench/consult_ab.sh's means of 3 runs); both recordings decode; audio lost after recovery
# <= 2 % each way. And the controller's test of the policer once its 30 s hold is over (the
# target at 1.15x its rate for a few seconds: is it still there?) comes within the session, and
# the ladder does not climb from its start to its outcome: that is no room for a rung (climbing
# into it, the keyframe of the larger picture met a policer dropping 13 %; relay/media.c,
# ladder_update).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/consult_lib.bash"
consult_need_lab
lab_lock
"$LINKSIM" down
consult_sites_init || { fail sites_init; finish; }
# both sides send the clip at 640x384: the lab's 320x192 clip wants less than the policer passes
# (the ladder stops at 360p-15 for it: relay_media_camera_top), and a policer the sender never
# reaches is not found (a 75 s session: not found, 1.98 % dropped in its last 15 s)
consult_large_clip "$CW/large.y4m" || { fail large_clip; finish; }
CONSULT_VIDEO=$CW/large.y4m
spid=
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; "$LINKSIM" down >/dev/null; rm -rf "$CW"' EXIT
"$LINKSIM" up --profile 4g-policed >/dev/null || { fail linksim_up; finish; }

# The policer is found 10-23 s into the session (five lab runs: from how the loss answered the
# send rate by itself, or after a step down that asks, which takes ~8 s of loss), and its hold's
# test 30 s after that: the rate checks look at the 15 s before the test. Since the encoder's
# pixel cap (relay/media.h) it was found 10-18 s in five lab runs, but in one CI run more than
# 30 s in, and its test did not come within a 60 s session (whether the cap, which leaves the
# clinic's 320x192 camera less to send, made it later was not established). Hence 75 s. With the
# 640x384 clip (above): found 14 s in, in both of two runs.
DUR=75 POLICE_KBPS=512
# the uplink's counters every 250 ms: epoch ms, bytes and packets in, packets the policer dropped
while :; do
	"$LINKSIM" stats --json 2>/dev/null | jq -r --arg t "$(date +%s%3N)" \
		'"\($t) \(.up.in_bytes) \(.up.in_packets) \(.up.dropped_police)"'
	sleep 0.25
done >"$CW/up.samples" &
spid=$!
if consult_run pol "$DUR" - - - -; then
	pass consult_both_sides_ran
else
	fail consult_both_sides_ran "$(tail -n 3 "$CW"/pol-*.log)"
fi
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
spid=

sed -n 's/^.*clinic: \(the loss grows.*\)$/  clinic: \1/p' "$CW/pol-clinic.log"
found=$(sed -n 's/.*a rate limit (policer) at about \([0-9]*\) kbit\/s.*/\1/p' "$CW/pol-clinic.log" |
	tail -n 1)
check clinic_found_the_policer_near_its_rate awk "BEGIN { exit !(\"$found\" ~ /^[0-9]+\$/ &&
	$found + 0 >= 0.85 * $POLICE_KBPS && $found + 0 <= 1.1 * $POLICE_KBPS) }"

# the timeline's stamps carry the date: a session across midnight UTC reads right (one that
# began at 23:5x and was read after 00:00 was once a day off: its 15 s window came out empty)
check timeline_stamps_cross_midnight test \
	$(($(consult_stamp_ms 2026-12-08T00:00:14.500) - $(consult_stamp_ms 2026-12-07T23:59:59.500))) \
	-eq 15000
check timeline_stamps_carry_the_date grep -qE \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} session started' "$CW/pol-timeline"
# 15 s of the hold under the policer: those before its test (which sends 1.15x its rate on
# purpose for a few seconds), or the session's last 15 s when no test came; from the time
# consult_run logged its start
start=$(consult_stamp_ms "$(awk '/session started/ { print $1 }' "$CW/pol-timeline")")
end=$((start + DUR * 1000))
tested=$(awk '/clinic: testing whether the rate limit/ { print $1; exit }' "$CW/pol-clinic.log")
found_at=$(awk '/clinic: the loss grows with the send rate/ { print $1; exit }' "$CW/pol-clinic.log")
[ -n "$found_at" ] && echo "policer found $((($(consult_stamp_ms "$found_at") - start) / 1000)) s into" \
	"the session${tested:+, its test began at $((($(consult_stamp_ms "$tested") - start) / 1000)) s}"
if [ -n "$tested" ] && t=$(consult_stamp_ms "$tested") && [ "$t" -ge $((start + 15000)) ] &&
	[ "$t" -lt "$end" ]; then
	end=$t
fi
read -r kbps policed < <(awk -v a=$((end - 15000)) -v b="$end" '
	$1 >= a && $1 <= b && $2 $3 $4 ~ /^[0-9]+$/ { if (!n++) { t0 = $1; b0 = $2; p0 = $3; d0 = $4 } t1 = $1; b1 = $2; p1 = $3; d1 = $4 }
	END { if (n < 2 || t1 <= t0 || p1 <= p0) { print "nan nan"; exit }
		printf "%.1f %.2f\n", (b1 - b0) * 8 / (t1 - t0), 100 * (d1 - d0) / (p1 - p0) }' \
	"$CW/up.samples")
echo "clinic uplink over the $(((end - start) / 1000 - 15))-$(((end - start) / 1000)) s of the session:" \
	"$kbps kbit/s sent into a $POLICE_KBPS kbit/s" \
	"policer, $policed % of its packets dropped by it"
check clinic_sends_at_most_1.1x_the_policer awk "BEGIN { exit !(\"$kbps\" ~ /^[0-9.]+\$/ &&
	$kbps + 0 <= 1.1 * $POLICE_KBPS) }"
check policer_drops_at_most_5pct awk "BEGIN { exit !(\"$policed\" ~ /^[0-9.]+\$/ &&
	$policed + 0 <= 5) }"

# the clinic's ladder moves from the policer test's start to its outcome (or the session's end)
sed -n 's/^.*clinic: \(testing whether the rate limit.*\|the rate limit is.*\)$/  clinic: \1/p' \
	"$CW/pol-clinic.log"
read -r tests climbs < <(awk '
	function rank(r,  a) { split(r, a, "p-"); return a[1] * 1000 + a[2] }
	/clinic: testing whether the rate limit/ { t = 1; n++; next }
	/clinic: the rate limit is/ { t = 0; next }
	t && match($0, /clinic: ladder [^ ]+ -> [^ ]+ /) {
		split(substr($0, RSTART, RLENGTH), w, " ")
		if (rank(w[5]) > rank(w[3])) { c++; print "  climbed during the test: " w[3] " -> " w[5] > "/dev/stderr" }
	}
	END { print n + 0, c + 0 }' "$CW/pol-clinic.log")
check policer_test_came_within_the_session test "$tests" -ge 1
check ladder_does_not_climb_during_the_policer_test test "$climbs" -eq 0

for side in clinic hub; do
	check "${side}_received_video_decodes" consult_decodes "$CW/pol-$side/received.ivf"
	check "${side}_received_audio_decodes" consult_decodes "$CW/pol-$side/received.wav"
	consult_check_audio "$side" "$CW/pol-$side.json"
done
finish
