#!/bin/bash
# bench/consult.sh — live consultation quality (issue 5) over the link lab, adaptive against the
# fixed-bitrate baseline.
#
# For each linksim profile in PROFILES (default: geo-sat geo-sat-steady geo-sat-256k
# geo-sat-rainfade 4g-edge 4g-policed outage) the lab
# is brought up fresh and a two-way `pirogue consult` with the reference clips runs for DURATION s
# (default 60; the 9-frame video clip plays ping-pong, as a camera would give it, not restarted
# with a scene cut every 0.75 s: codec/y4m's loop; CONSULT_VIDEO / CONSULT_AUDIO choose other
# files) through tests/integration/consult_lib.bash: once adaptive, once with
# `--fixed-bitrate FIXED_KBPS` (default 256, no adaptation, no FEC/redundancy) — the anchor.
# The baseline runs the highest ladder rung whose nominal cost fits FIXED_KBPS, unpaced at that
# rate: at 256 that is 270p-15 (245 kbit/s with its 20 ms audio frames), whose encoder overshoot
# put 259.6 kbit/s on the wire in a 60 s run, so on geo-sat-256k the baseline builds a standing
# queue (before the 20 ms frames the rung cost 232 kbit/s and sent 244.6): compare that
# profile's adaptive figures in absolute terms, not by the ratio column.
# Schedules, scaled to DURATION (times from the session's start, D = DURATION):
#   geo-sat           the uplink is cut 4x (512 -> 128 kbit/s) from D/4 to D/2 (scripted drop)
#   geo-sat-steady    geo-sat as it is, no drop: the condition of the steady-state targets
#                     (utilisation >= 80 % with queueing delay p95 <= 150 ms, mouth-to-ear p95
#                     <= 450 ms); the drop run's figures include the 15 s at a quarter of the
#                     capacity and the queue it builds, and give the time to get below it
#   geo-sat-256k      geo-sat with a steady 256 kbit/s uplink: the condition of the video target
#                     (>= 12 fps at >= 32 dB at 320x180 on a 256 kbit/s uplink); adds a row with
#                     the share of source frames the viewer saw at >= 32 dB
#   geo-sat-rainfade  one rain fade (128 kbit/s, 10 % loss) from D/4 for D/3
#   4g-edge           the profile's trace and handover gaps as they come
#   4g-policed        a 5 Mbit/s uplink behind a 512 kbit/s policer (an operator's rate limit:
#                     what exceeds it is dropped, with no queue); its capacity is the policer's
#                     rate, and it adds a row with the share of uplink packets the policer dropped.
#                     Both sides send the clip at 640x384 (consult_large_clip), unless
#                     CONSULT_VIDEO is set: the 320x192 clip's ladder stops at 360p-15, under
#                     the policer's rate
#   outage            one outage from D/4 for D/4
# (the lab's fade/outage times count from `linksim up`; the session starts a few seconds later,
# so the fade/outage is placed LAB_LEAD s, default 4, later than the session time above.)
# LINK_SETS (space-separated KEY=VALUE, default none) adds `linksim up --set` items after the
# profile's own, e.g. LINK_SETS="fade_rate=120kbit" for a deeper rain fade.
#
# Rows (one set per profile, clinic -> hub, the direction the schedules act on; every figure but
# two is the consult's own --json report): link utilisation (the clinic's wire rate from its
# report over the uplink's mean capacity during the session, sampled from `linksim stats` every
# 250 ms: the fade/outage/trace included), queueing delay p50/p95 and audio lost after recovery,
# video fps, freezes, PSNR-Y as viewed and mouth-to-ear p50/p95 (the hub's report); geo-sat only:
# time from the scripted drop until the clinic's sending rate (IP bytes entering the link
# emulator's uplink, over 500 ms windows) first falls below the new capacity ("never" = not
# while the drop lasted; the value then is the drop's length).
# Needs root, takes the lab lock. Logs and reports go to $BUILD/bench-logs/consult/. KEEP=1 keeps
# the work directory (both sides' recordings, frames.csv, psnr.csv, keys and configs) and
# prints its path at the end; by default it is removed.
set -u
cd "$(dirname "$0")/.." || exit 2
CONSULT_VIDEO_SET=${CONSULT_VIDEO:+1}
. tests/integration/lib.bash
. tests/integration/consult_lib.bash
DURATION=${DURATION:-60}
FIXED_KBPS=${FIXED_KBPS:-256}
PROFILES=${PROFILES:-geo-sat geo-sat-steady geo-sat-256k geo-sat-rainfade 4g-edge 4g-policed outage}
LAB_LEAD=${LAB_LEAD:-4}
MODES=${MODES:-adaptive fixed} # MODES=adaptive: repeat trials without the baseline (no rows)
OUT=$BUILD/bench-logs/consult
[ "$(id -u)" -eq 0 ] || { echo "bench/consult.sh: needs root" >&2; exit 1; }
[ -x "$LINKSIM" ] && [ -x "$PIROGUE" ] || { echo "bench/consult.sh: build first" >&2; exit 1; }
for t in jq awk; do
	command -v $t >/dev/null || { echo "bench/consult.sh: $t missing" >&2; exit 1; }
done
mkdir -p "$OUT"
lab_lock
"$LINKSIM" down >/dev/null 2>&1
consult_sites_init || exit 1
if [ -n "${KEEP:-}" ]; then
	trap '"$LINKSIM" down >/dev/null 2>&1; echo "bench/consult.sh: kept $CW" >&2' EXIT
else
	trap '"$LINKSIM" down >/dev/null 2>&1; rm -rf "$CW"' EXIT
fi
echo "load before: $(uptime)" >&2

q() { awk -v d="$DURATION" "BEGIN { printf \"%g\", $1 }"; } # q EXPR-of-d

# sampler FILE — one line every 250 ms: wall ms, emulator uplink in_bytes, capacity now (bit/s),
# in_packets, and the packets it dropped so far: by the policer, the air (loss), the queue (tail)
sampler() {
	while :; do
		"$LINKSIM" stats --json 2>/dev/null |
			jq -r --arg t "$(date +%s%3N)" \
				'(.up.params.police_rate_bps // 0) as $p |
				(if .up.in_outage then 0 else .up.rate_bps_now end) as $r |
				"\($t) \(.up.in_bytes) \(if $p > 0 and ($r == 0 or $p < $r) then $p else $r end)" +
				" \(.up.in_packets) \(.up.dropped_police) \(.up.dropped_loss) \(.up.dropped_queue)"'
		sleep 0.25
	done >"$1"
}

# run_mode PROFILE MODE [consult options] — one session; leaves $CW/PROFILE-MODE-* and
# $OUT/PROFILE-MODE.samples
run_mode() {
	local prof=$1 mode=$2 name=$1-$2 spid rc=0 sets=() lprof=$1
	shift 2
	case $prof in
	geo-sat-256k) lprof=geo-sat sets=(--set up.rate=256kbit) ;;
	geo-sat-steady) lprof=geo-sat ;;
	geo-sat-rainfade) sets=(--set "fade=$(q "$LAB_LEAD + d / 4")s+$(q "d / 3")s") ;;
	outage) sets=(--set "outage=$(q "$LAB_LEAD + d / 4")s+$(q "d / 4")s") ;;
	esac
	for kv in ${LINK_SETS:-}; do
		sets+=(--set "$kv")
	done
	# behind the policer, a camera that wants more than it passes: the 320x192 clip's ladder
	# stops at 360p-15, under 400 kbit/s (relay_media_camera_top)
	if [ "$prof" = 4g-policed ] && [ -z "${CONSULT_VIDEO_SET:-}" ]; then
		[ -s "$CW/large.y4m" ] || consult_large_clip "$CW/large.y4m" || return 1
		local CONSULT_VIDEO=$CW/large.y4m
	fi
	"$LINKSIM" down >/dev/null 2>&1
	"$LINKSIM" up --profile "$lprof" "${sets[@]}" >/dev/null || return 1
	sampler "$OUT/$name.samples" &
	spid=$!
	if [ "$prof" = geo-sat ]; then
		consult_run "$name" "$DURATION" "$(q "d / 4")" "$(q "d / 2")" 128kbit 512kbit "$@" || rc=1
	else
		consult_run "$name" "$DURATION" - - - - "$@" || rc=1
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	cp "$CW/$name"-*.json "$CW/$name"-*.log "$CW/$name-timeline" "$OUT/" 2>/dev/null
	return $rc
}

# metric PROFILE MODE — prints "key value" lines for one session
metrics() {
	local name=$1-$2 start end drop restore
	start=$(consult_stamp_ms "$(awk '/session started/ { print $1 }' "$CW/$name-timeline")")
	end=$((start + DURATION * 1000))
	jq -r '"wire_kbps \(.sent.wire_kbps)"' "$CW/$name-clinic.json"
	awk -v s="$start" -v e="$end" '$1 >= s && $1 <= e { c += $3; n++
			if (!n0) { p0 = $4; d0 = $5; n0 = 1 } p1 = $4; d1 = $5 }
		END { printf("capacity_kbps %.1f\n", n ? c / n / 1000 : 0)
			if (d1 > 0) printf("policed_pct %.2f\n", 100 * (d1 - d0) / (p1 - p0)) }' \
		"$OUT/$name.samples"
	jq -r '.received | "queue_p50 \(.queue_delay_p50_ms // "nan")",
		"queue_p95 \(.queue_delay_p95_ms // "nan")",
		"audio_lost_pct \(.audio.lost_pct // "nan")",
		"m2e_p50 \(.audio.mouth_to_ear_p50_ms // "nan")",
		"m2e_p95 \(.audio.mouth_to_ear_p95_ms // "nan")",
		"fps \(.video.fps // "nan")", "freezes \(.video.freezes // "nan")",
		"psnr \(.video.psnr_y_db // "nan")",
		"ge32_pct \(.video.frames_ge_32db_pct // "nan")"' "$CW/$name-hub.json"
	if grep -q "uplink -> 128kbit" "$CW/$name-timeline"; then
		drop=$(consult_stamp_ms "$(awk '/uplink -> 128kbit/ { print $1 }' "$CW/$name-timeline")")
		restore=$(consult_stamp_ms "$(awk '/uplink -> 512kbit/ { print $1 }' "$CW/$name-timeline")")
		# sending rate over 500 ms windows ending at each sample after the drop
		awk -v d="$drop" -v r="$restore" '{ t[NR] = $1; b[NR] = $2 }
			END {
				for (i = 2; i <= NR; i++) {
					if (t[i] < d + 250 || t[i] > r) continue
					for (j = i - 1; j > 1 && t[i] - t[j] < 500; j--) ;
					if (t[i] - t[j] < 300) continue
					if ((b[i] - b[j]) * 8 / (t[i] - t[j]) <= 128) {
						printf "below_s %.2f\n", (t[i] - d) / 1000; exit
					}
				}
				printf("below_s never %.2f\n", (r - d) / 1000)
			}' "$OUT/$name.samples"
	fi
}

get() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

num() { awk -v v="$1" 'BEGIN { if (v ~ /^[0-9]+$/) print v; else if (v ~ /^[0-9.eE+-]+$/)
	printf("%.1f\n", v); else print v }'; }

row() { # label unit adaptive fixed
	local label=$1 unit=$2 a f
	a=$(num "$3") f=$(num "$4")
	printf 'ROW\t%s\t%s %s\t%s\t%s %s\t%s\n' "$label" "$a" "$unit" \
		"fixed ${FIXED_KBPS} kbit/s baseline" "$f" "$unit" \
		"$(awk -v a="$a" -v f="$f" 'BEGIN { if (a ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/ && f + 0 != 0)
			printf "%.2fx", a / f; else print "-" }')"
}

status=0
for prof in $PROFILES; do
	# rows only from this run's sessions (not a glob: geo-sat-* would take geo-sat-256k's)
	rm -f "$OUT/$prof-adaptive.metrics" "$OUT/$prof-fixed.metrics"
	for mode in $MODES; do
		opts=()
		[ $mode = fixed ] && opts=(--fixed-bitrate "$FIXED_KBPS")
		echo "bench/consult: $prof $mode ${DURATION} s ... (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
		if ! run_mode "$prof" "$mode" "${opts[@]}"; then
			echo "bench/consult: $prof $mode failed:" >&2
			tail -n 3 "$CW/$prof-$mode"-*.log >&2
			status=1
			continue
		fi
		metrics "$prof" "$mode" >"$OUT/$prof-$mode.metrics"
		cat "$OUT/$prof-$mode.metrics" >&2
	done
	a=$OUT/$prof-adaptive.metrics f=$OUT/$prof-fixed.metrics
	[ -s "$a" ] && [ -s "$f" ] || continue
	util() { awk -v w="$(get "$1" wire_kbps)" -v c="$(get "$1" capacity_kbps)" \
		'BEGIN { printf("%.1f", c > 0 ? 100 * w / c : 0) }'; }
	row "consult $prof: uplink utilisation (of mean capacity)" "%" "$(util "$a")" "$(util "$f")"
	row "consult $prof: queueing delay p50" ms "$(get "$a" queue_p50)" "$(get "$f" queue_p50)"
	row "consult $prof: queueing delay p95" ms "$(get "$a" queue_p95)" "$(get "$f" queue_p95)"
	if [ "$prof" = geo-sat ]; then
		below() { awk '$1 == "below_s" { print ($2 == "never" ? "never(>" $3 ")" : $2) }' "$1"; }
		row "consult $prof: time to send below new capacity after 4x drop" s \
			"$(below "$a")" "$(below "$f")"
	fi
	row "consult $prof: audio frames lost after recovery" % \
		"$(get "$a" audio_lost_pct)" "$(get "$f" audio_lost_pct)"
	row "consult $prof: video delivered" fps "$(get "$a" fps)" "$(get "$f" fps)"
	row "consult $prof: video freezes" "" "$(get "$a" freezes)" "$(get "$f" freezes)"
	row "consult $prof: PSNR-Y as viewed (320x180)" dB "$(get "$a" psnr)" "$(get "$f" psnr)"
	if [ "$prof" = 4g-policed ]; then
		row "consult $prof: uplink packets dropped by the policer" % \
			"$(get "$a" policed_pct)" "$(get "$f" policed_pct)"
	fi
	if [ "$prof" = geo-sat-256k ]; then
		row "consult $prof: source frames seen at >= 32 dB" % \
			"$(get "$a" ge32_pct)" "$(get "$f" ge32_pct)"
	fi
	row "consult $prof: mouth-to-ear p50" ms "$(get "$a" m2e_p50)" "$(get "$f" m2e_p50)"
	row "consult $prof: mouth-to-ear p95" ms "$(get "$a" m2e_p95)" "$(get "$f" m2e_p95)"
done
echo "load after: $(uptime)" >&2
exit $status
