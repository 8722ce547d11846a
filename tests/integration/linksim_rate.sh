#!/bin/bash
# linksim_rate: iperf3 UDP offered above the link rate is delivered at the link rate +/- 5 %,
# in each direction of geo-sat (down 2 Mbit/s, up 512 kbit/s; loss set to 0 so that only the
# rate is measured). iperf3 counts UDP payload: with 1200-byte datagrams the link also carries
# 28 bytes of IP+UDP header, so the expected goodput is rate * 1200 / 1228. The first 2 s
# (queue filling, 300 ms of propagation) and the last interval are left out of the average:
# the receiver's per-second intervals between them measure the steady state.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/linksim_lib.bash"
linksim_setup
tmp=$(mktemp -d)
trap '"$LINKSIM" down; rm -rf "$tmp"' EXIT

"$LINKSIM" up --profile geo-sat --set loss=0 --set queue=300ms >/dev/null ||
	{ fail linksim_up; finish; }

measure() { # measure NAME RECEIVER_NS SENDER_NS SENDER_ADDR LINK_BPS OFFERED
	local name=$1 rns=$2 sns=$3 saddr=$4 link=$5 offered=$6 got want
	if ! iperf3_udp_recv "$rns" "$sns" "$saddr" "$offered" 1200 8 "$tmp/$name.json"; then
		fail "$name" "iperf3 failed: $(tail -3 "$tmp/$name.json")"
		return
	fi
	got=$(jq '[.intervals[2:-1][].sum] | (map(.bytes) | add) * 8 / (map(.seconds) | add)' \
		"$tmp/$name.json" 2>/dev/null)
	if ! [[ $got =~ ^[0-9.e+]+$ ]]; then
		fail "$name" "no iperf3 result: $(jq -r '.error // empty' "$tmp/$name.json" 2>/dev/null | head -1)"
		return
	fi
	want=$(fcalc "$link * 1200 / 1228")
	echo "$name: offered $offered, link $link bit/s, expected goodput $want bit/s, iperf3 receiver $got bit/s ($(fcalc "100 * $got / $want") %)"
	check "$name" fcheck "$got >= $want * 0.95 && $got <= $want * 1.05"
}
measure udp_down_delivered_at_link_rate clinic hub 198.51.100.2 \
	"$(stats_get .down.params.rate_bps)" 3M
measure udp_up_delivered_at_link_rate hub clinic 198.51.100.1 \
	"$(stats_get .up.params.rate_bps)" 1M
echo "emulator stats:"; "$LINKSIM" stats

# capacity change at run time: `linksim set up.rate=128kbit` (the live-media tests need it)
"$LINKSIM" set up.rate=128kbit || fail set_up_rate
check set_changes_the_rate_reported [ "$(stats_get .up.params.rate_bps)" = 128000 ]
measure udp_up_after_set_rate_128kbit hub clinic 198.51.100.1 128000 400K
check set_rejects_bad_value bash -c "! '$LINKSIM' set up.rate=fast 2>/dev/null"
finish
