#!/bin/bash
# bench/consult_ab.sh — A/B trials of the live consultation between checkouts.
#
# Usage: sudo bench/consult_ab.sh ROUNDS "PROFILES" DIR [DIR...]
#   e.g. git worktree add /tmp/base HEAD~1 && make -C /tmp/base
#        sudo bench/consult_ab.sh 3 "geo-sat-256k geo-sat-steady" /tmp/base .
#
# Runs each DIR's own bench/consult.sh (MODES=adaptive, DURATION as there, default 60 s) with
# that checkout's build, ROUNDS times, alternating between the DIRs within each round so that a
# drift in the machine's load hits them alike. Each DIR must be built (`make`); the reference
# clips come from this checkout's ../shared/vectors (VECTORS overrides).
# One 60 s session is noisy: on geo-sat-256k, six runs of one build gave 0 to 9 keyframe
# requests a run, fps with a standard deviation of 0.7 and mouth-to-ear p95 of 25 to 75 ms;
# compare the means of several rounds, with the spread of the runs printed beside them.
#
# Prints one line per session ("run ROUND DIR PROFILE key=value ..."), then for each profile and
# DIR the mean of each figure over the rounds followed by the runs' values. Figures (clinic ->
# hub, as bench/consult.sh's rows): wire_kbps, queue_p95 (ms), audio_lost_pct, m2e_p50/m2e_p95
# (mouth-to-ear, ms), fps, freezes, psnr (dB, as viewed), below_s (geo-sat: time to get below the
# capacity after the 4x drop), and from the reports: pli (keyframe requests the hub sent),
# longest (longest freeze, ms), undecodable (pictures), skew95 (lip-sync |skew| p95, ms), added95
# (audio delayed for lip sync p95, ms), bursts (lip-sync floor updates that set aside slow pictures
# that came in one burst: received.lip_sync.slow_bursts_not_followed), and
# from the clinic's: stills_s (seconds its ladder sent stills, one picture every few seconds) and
# relaxed (ladder updates that kept live video with larger FEC groups: ladder.floor_relaxed) and
# slack (ladder updates that kept the lowest live rung below its cost: ladder.floor_slack), held
# (ladder updates that kept it just after the controller's restore: ladder.floor_held_after_restore), and
# restores / unclean (drains after which the controller restored its target, and of them those
# read from lost reports' packets: sent.cc_restores, sent.cc_restores_unclean), lcaps / unfilled
# (loss windows that capped the controller's rate, and windows of very heavy loss with no queue
# that did not because the sender was well under its target: sent.cc_loss_caps, _unfilled).
# The other direction (hub -> clinic, geo-sat's 2 Mbit/s downlink), from the clinic's report:
# dn_fps, dn_undecodable, dn_pli and dn_psnr (the pictures it showed a second, those it could not
# decode, the keyframes it asked for, PSNR as viewed), dn_queue_p95 and dn_m2e_p95 (queueing delay
# and mouth-to-ear p95, ms), and from the hub's: dn_stale (video packets its pacer dropped stale:
# sent.pacer_dropped_stale_packets), dn_wire (its wire rate, kbit/s, padding included) and
# dn_upgrades (its ladder's climbs).
# Exit status: 0, 1 when a session failed (its line says so), 2 usage.
set -u
[ $# -ge 3 ] || { sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
rounds=$1 profiles=$2
shift 2
[[ $rounds =~ ^[1-9][0-9]*$ ]] ||
	{ echo "consult_ab: ROUNDS must be a positive integer" >&2; exit 2; }
dirs=()
for arg in "$@"; do
	d=$(cd "$arg" 2>/dev/null && pwd) || { echo "consult_ab: no such directory: $arg" >&2; exit 2; }
	[ -f "$d/bench/consult.sh" ] ||
		{ echo "consult_ab: $d has no bench/consult.sh" >&2; exit 2; }
	[ -x "$d/build/pirogue" ] || { echo "consult_ab: $d is not built (make)" >&2; exit 2; }
	dirs+=("$d")
done
command -v jq >/dev/null || { echo "consult_ab: jq missing (make deps)" >&2; exit 1; }
VECTORS=${VECTORS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/vectors}
[ -d "$VECTORS/media" ] || { echo "consult_ab: no reference clips in $VECTORS/media" >&2; exit 1; }
export VECTORS
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
say() { echo "$*" | tee -a "$lines"; }
status=0
for r in $(seq 1 "$rounds"); do
	for d in "${dirs[@]}"; do
		log=$d/build/bench-logs/consult-ab-$r.log
		out=$d/build/bench-logs/consult
		mkdir -p "$out"
		# a session that never ran must not show the figures a previous run left
		for p in $profiles; do
			rm -f "$out/$p-adaptive.metrics" "$out/$p-adaptive-hub.json" \
				"$out/$p-adaptive-clinic.json"
		done
		if ! (cd "$d" && MODES=adaptive PROFILES="$profiles" bash bench/consult.sh >"$log" 2>&1); then
			echo "run $r $d: bench/consult.sh failed (see $log)"
			status=1
		fi
		for p in $profiles; do
			m=$out/$p-adaptive.metrics hub=$out/$p-adaptive-hub.json
			cli=$out/$p-adaptive-clinic.json
			if [ ! -s "$m" ] || [ ! -s "$hub" ]; then
				say "run $r $d $p: no report"
				status=1
				continue
			fi
			say "run $r $d $p $(awk '$1 != "capacity_kbps" && $1 != "queue_p50" &&
				$1 != "ge32_pct" && $2 ~ /^[0-9.eE+-]+$/ { printf "%s=%.4g ", $1, $2 }' "$m")$(
				jq -r '.received.video as $v | "pli=\($v.pli_sent)" +
					" longest=\($v.longest_freeze_ms | floor) undecodable=\($v.undecodable)" +
					" skew95=\(.received.lip_sync.skew_abs_p95_ms // 0 | floor)" +
					" added95=\(.received.lip_sync.audio_delay_added_p95_ms // 0 | floor)" +
					" bursts=\(.received.lip_sync.slow_bursts_not_followed // 0)"' "$hub")$(
				jq -r '[.ladder.events[]] as $e | (.duration_s * 1000) as $stop |
					reduce range(0; $e | length) as $i (0;
						if ($e[$i].rung | startswith("stills")) then
							. + ((if $i + 1 < ($e | length) then $e[$i + 1].t_ms
							      else $stop end) - $e[$i].t_ms)
						else . end) | " stills_s=\(. / 1000)"' "$cli")$(
				jq -r '" relaxed=\(.ladder.floor_relaxed // 0)" +
					" slack=\(.ladder.floor_slack // 0)" +
					" held=\(.ladder.floor_held_after_restore // 0)" +
					" restores=\(.sent.cc_restores // 0)" +
					" unclean=\(.sent.cc_restores_unclean // 0)" +
					" lcaps=\(.sent.cc_loss_caps // 0)" +
					" unfilled=\(.sent.cc_loss_caps_unfilled // 0)" +
					" dn_fps=\(.received.video.fps // 0)" +
					" dn_undecodable=\(.received.video.undecodable // 0)" +
					" dn_pli=\(.received.video.pli_sent // 0)" +
					" dn_psnr=\(.received.video.psnr_y_db // 0)" +
					" dn_queue_p95=\(.received.queue_delay_p95_ms // 0)" +
					" dn_m2e_p95=\(.received.audio.mouth_to_ear_p95_ms // 0)"' "$cli")$(
				jq -r '" dn_stale=\(.sent.pacer_dropped_stale_packets // 0)" +
					" dn_wire=\(.sent.wire_kbps // 0)" +
					" dn_upgrades=\(.ladder.upgrades // 0)"' "$hub")"
		done
	done
done
echo
for p in $profiles; do
	for d in "${dirs[@]}"; do
		echo "== $p $d"
		awk -v p="$p" -v d="$d" '$1 == "run" && $3 == d && $4 == p {
			for (i = 5; i <= NF; i++) {
				split($i, kv, "=")
				if (!(kv[1] in sum)) keys[++nk] = kv[1]
				sum[kv[1]] += kv[2]; n[kv[1]]++; vals[kv[1]] = vals[kv[1]] " " kv[2]
			}
		} END {
			for (k = 1; k <= nk; k++)
				printf "  %-15s mean %8.2f  (%s )\n", keys[k], sum[keys[k]] / n[keys[k]], vals[keys[k]]
		}' "$lines"
	done
done
exit $status
