#!/bin/bash
# bench/consult_sync_yield.sh — a live consultation while the sync transfer sends a large case
# (SIZE bytes, default 20 MB) clinic -> hub over geo-sat, with the sync yielding to it (the
# default: `pirogue consult` leases the link from its site's pirogued) against `--no-yield` (sync
# and media share the link as they may), same link, same daemons, same case still in flight.
# One consult of DURATION s (default 20) without any sync first (the no-sync reference), then
# ROUNDS (default 2) pairs: yield, no-yield. Rows (means over the rounds), clinic -> hub (the
# hub's consult report) unless said: queueing delay p95, audio lost after recovery, video fps
# delivered, and the sync's goodput during the consultation (hub's xfer bytes received over the
# consult's wall time). Each run's figures go to stderr.
# Needs root, takes the lab lock. Logs in $BUILD/bench-logs/consult_sync_yield/.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/integration/sync_lib.bash
. tests/integration/consult_lib.bash
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-2}
SIZE=${SIZE:-20000000}
OUT=$BUILD/bench-logs/consult_sync_yield
[ "$(id -u)" -eq 0 ] || { echo "bench/consult_sync_yield.sh: needs root" >&2; exit 1; }
[ -x "$LINKSIM" ] && [ -x "$PIROGUE" ] && [ -x "$PIROGUED" ] ||
	{ echo "bench/consult_sync_yield.sh: build first" >&2; exit 1; }
mkdir -p "$OUT"
lab_up geo-sat
sync_sites_init "[consult]
port = 7444"
CW=$W
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || exit 1
hub_start
clinic_start
echo "load before: $(uptime)" >&2

# run NAME [consult options] — one consult; appends "NAME queue_p95 lost_pct fps sync_kbps"
run() {
	local name=$1 b0 b1 t0 t1
	shift
	b0=$(status_num hub bytes_received)
	t0=$(date +%s%N)
	consult_run "$name" "$DURATION" - - - - "$@" || echo "run $name failed" >&2
	t1=$(date +%s%N)
	b1=$(status_num hub bytes_received)
	cp "$W/$name-hub.json" "$W/$name-clinic.json" "$OUT/" 2>/dev/null
	jq -r --arg n "$name" --argjson kbps "$(( (b1 - b0) * 8 * 1000000 / (t1 - t0) ))" \
		'"\($n) \(.received.queue_delay_p95_ms) \(.received.audio.lost_pct) \(.received.video.fps) \($kbps)"' \
		"$W/$name-hub.json" | tee -a "$OUT/runs" >&2
}
: >"$OUT/runs"
run nosync
mkfile "$W/big.bin" "$SIZE"
add_case normal "$W/big.bin" >/dev/null
going() { [ "$(status_num hub bytes_received)" -ge 300000 ] 2>/dev/null; }
wait_for 60 going || { echo "sync did not start" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
	run "yield$r"
	run "noyield$r" --no-yield
done
cp "$W/clinic.log" "$W/hub.log" "$OUT/"
echo "load after: $(uptime)" >&2

mean() { # mean PREFIX FIELD
	awk -v p="^$1" -v f="$2" '$1 ~ p { s += $f; n++ } END { printf "%.3f", n ? s / n : -1 }' "$OUT/runs"
}
row() { # metric value anchor_name anchor_value
	printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
		"$(awk -v a="$2" -v b="$4" 'BEGIN { printf "%.2f", b + 0 ? a / b : 0 }')"
}
for m in "queue p95 ms:2" "audio lost %:3" "video fps:4" "sync kbit/s during consult:5"; do
	name=${m%:*} f=${m##*:}
	row "consult + ${SIZE}B sync, geo-sat, c->h $name (yield)" "$(mean yield "$f")" "no yield" "$(mean noyield "$f")"
done
row "consult, geo-sat, c->h queue p95 ms, sync yielding" "$(mean yield 2)" "no sync" "$(mean nosync 2)"
