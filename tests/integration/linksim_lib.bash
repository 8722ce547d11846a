# tests/integration/linksim_lib.bash — helpers shared by the linksim_*.sh tests (sourced after
# lib.bash; not a test itself).

# Takes the lab lock, starts from a clean slate and tears the lab down on exit.
linksim_setup() {
	need_root
	[ -x "$LINKSIM" ] || { echo "skipped: $LINKSIM not built"; exit 77; }
	for t in ip ping iperf3 jq; do
		command -v $t >/dev/null || { echo "skipped: $t missing (make deps)"; exit 77; }
	done
	lab_lock
	"$LINKSIM" down
	trap '"$LINKSIM" down' EXIT
}

# stats_get JQ_FILTER — one value from `linksim stats --json`.
stats_get() { "$LINKSIM" stats --json | jq -r "$1"; }

# iperf3_udp_recv RECEIVER_NS SENDER_NS SENDER_ADDR BITRATE LEN SECONDS OUT_JSON
# Runs an iperf3 UDP test whose *receiver* is the client (-R): the client runs in RECEIVER_NS
# and measures, per interval, what crossed the link; the server in SENDER_NS sends.
iperf3_udp_recv() {
	local rns=$1 sns=$2 saddr=$3 rate=$4 len=$5 secs=$6 out=$7 spid rc
	"$LINKSIM" exec "$sns" -- iperf3 -s -1 >/dev/null 2>&1 &
	spid=$!
	wait_for 5 port_listening "$sns" 5201 || { echo "iperf3 server did not start"; return 1; }
	"$LINKSIM" exec "$rns" -- iperf3 -c "$saddr" -u -R -b "$rate" -l "$len" -t "$secs" \
		--connect-timeout 5000 -J >"$out" 2>&1
	rc=$?
	# the one-shot server must be gone before the next test looks for a listening port
	wait_for 5 bash -c "! kill -0 $spid 2>/dev/null" || kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	return $rc
}
port_listening() { ip netns exec "$1" ss -ltn 2>/dev/null | grep -q ":$2 "; }

# Floating-point helpers (awk): fcheck 'EXPR' exits 0 when EXPR is true.
fcalc() { awk "BEGIN { printf \"%.6g\", $1 }"; }
fcheck() { awk "BEGIN { exit !($1) }"; }
