#!/bin/bash
# linksim_loss: loss measured by iperf3 over >= 5,000 packets matches the configured mean within
# its statistical tolerance, for both kinds of loss, run at the same time in both directions:
#   down: geo-sat's own loss (1 %, Gilbert-Elliott bursts of mean length 3), ~27,000 packets
#   up:   5 % independent losses (burst 0), ~9,700 packets
# (packets sent after the loss is switched on, below)
#
# Tolerance. For n packets of a two-state Markov chain with stationary loss p, transition
# probabilities q = P(good->bad) = p r / (1 - p) and r = P(bad->good) = 1/burst, the loss
# indicators have lag-k autocorrelation rho^k with rho = 1 - q - r, so
#     Var(lost) ~= n p (1 - p) (1 + rho) / (1 - rho)
# (independent loss: rho = 0, the binomial variance). Bursts inflate it: for 1 %, burst 3,
# (1+rho)/(1-rho) ~= 4.9, so the sd of the count is 2.2 times the binomial one. The test
# accepts |lost - n p| <= 4 sd (two-sided false-failure probability ~6e-5 per check).
# Packets are small (100-byte payload, 128 bytes on the link) and offered below the link rate,
# and the test checks that the drop-tail queue dropped nothing, so every loss is the model's.
#
# The lab starts lossless and the loss is switched on (`linksim set`) once both flows carry
# data. On the lossy link a flow's start failed now and then (CI6: "lost 0 of 0"; a CI run of
# 7439cbd: "unable to read from stream socket" twice in a row), most likely iperf3 3.12's UDP
# start, one datagram and its reply with no retry; either way it says nothing about the
# emulator. The few packets that pass between the switch and the reading of the counters count
# as sent before it (a handful in ~27,000). n is then the number of loss draws the emulator
# made after the switch (each packet that left its serialiser: delivered or dropped for loss,
# less those already past it at the switch), and every loss iperf3 saw happened after it.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/linksim_lib.bash"
linksim_setup
tmp=$(mktemp -d)
trap '"$LINKSIM" down; rm -rf "$tmp"' EXIT

UP_LOSS=5 UP_BURST=0 # percent; 0 = independent
# draws so far in one direction: packets past the serialiser (delivered, in flight, lost)
draws() { stats_get ".$1.delivered_packets + .$1.in_flight_packets + .$1.dropped_loss"; }
flowing() {
	[ "$(stats_get '.up.delivered_packets')" -ge 300 ] &&
		[ "$(stats_get '.down.delivered_packets')" -ge 600 ]
}
run_flows() {
	"$LINKSIM" down >/dev/null 2>&1
	"$LINKSIM" up --profile geo-sat >/dev/null || return 2
	# geo-sat's own loss for the down direction, read before the lab is made lossless
	down_loss=$(stats_get '.down.params.loss * 100') down_burst=$(stats_get '.down.params.burst')
	"$LINKSIM" set loss=0 >/dev/null || return 2
	"$LINKSIM" exec hub -- iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	"$LINKSIM" exec clinic -- iperf3 -s -1 -p 5202 >/dev/null 2>&1 &
	wait_for 5 port_listening hub 5201 && wait_for 5 port_listening clinic 5202 || return 3
	"$LINKSIM" exec clinic -- iperf3 -c 198.51.100.2 -p 5201 -u -R -b 1M -l 100 -t 22 \
		--connect-timeout 5000 -J >"$tmp/down.json" 2>&1 &
	down_pid=$!
	"$LINKSIM" exec hub -- iperf3 -c 198.51.100.1 -p 5202 -u -R -b 360K -l 100 -t 22 \
		--connect-timeout 5000 -J >"$tmp/up.json" 2>&1 &
	up_pid=$!
	if wait_for 15 flowing; then
		"$LINKSIM" set down.loss="$down_loss%" down.burst="$down_burst" \
			up.loss="$UP_LOSS%" up.burst="$UP_BURST" >/dev/null || return 2
		draws_up0=$(draws up) draws_down0=$(draws down)
	else
		echo "attempt $attempt: the flows did not start within 15 s on the lossless link"
	fi
	wait $down_pid
	wait $up_pid
	for j in down up; do
		[ "$(jq '.end.sum.packets // 0' "$tmp/$j.json" 2>/dev/null)" -gt 0 ] || {
			echo "attempt $attempt: the $j flow carried no packets:" \
				"$(jq -r '.error // "no result"' "$tmp/$j.json" 2>/dev/null | head -1)"
			return 1
		}
	done
	[ -n "${draws_up0:-}" ] || return 1
}
# Datagrams the hosts dropped outside the emulator, in one direction (FROM TO): the sender's
# qdisc and TUN device (full while the emulator is not scheduled) and the receiver's UDP socket
# buffer (full while iperf3 is not scheduled), printed "qdisc tun socket". The namespaces are
# new at each `linksim up`, so their counters count this run only.
host_drops() {
	local q t r
	q=$("$LINKSIM" exec "$1" -- tc -s qdisc show dev lsim0 2>/dev/null |
		awk '/dropped/ { for (i = 1; i < NF; i++) if ($i == "(dropped") { sub(",", "", $(i + 1)); s += $(i + 1) } } END { print s + 0 }')
	t=$("$LINKSIM" exec "$1" -- cat /sys/class/net/lsim0/statistics/tx_dropped 2>/dev/null)
	r=$("$LINKSIM" exec "$2" -- awk '/^Udp:/ { if (h) print $6; h = 1 }' /proc/net/snmp 2>/dev/null)
	echo "${q:-0} ${t:-0} ${r:-0}"
}
sum3() { echo $(($1 + $2 + $3)); }
host_up=0 host_down=0
for attempt in 1 2 3; do
	draws_up0= draws_down0=
	run_flows
	rc=$?
	if [ $rc -eq 0 ]; then
		# A run in which the hosts dropped more than 1 % of a flow's datagrams (a machine
		# too busy to schedule iperf3 or the emulator: CI11 saw 591 such losses in 6,321)
		# says nothing about the emulator either: done again, like a flow that never ran.
		hd_up=$(host_drops clinic hub) hd_down=$(host_drops hub clinic)
		host_up=$(sum3 $hd_up) host_down=$(sum3 $hd_down)
		for j in up down; do
			n=$(jq '.end.sum.packets // 0' "$tmp/$j.json")
			h=host_$j hd=hd_$j
			if [ "${!h}" -gt $((n / 100)) ]; then
				echo "attempt $attempt: the hosts dropped ${!h} of the $j flow's $n" \
					"datagrams outside the emulator (qdisc, TUN, socket: ${!hd})"
				rc=1
			fi
		done
	fi
	[ $rc -eq 1 ] || break
	pkill -f 'iperf3 -s -1 -p 520[12]' 2>/dev/null
	sleep 1
done
case $rc in
1) fail flows_ran_in_3_attempts; finish ;;
2) fail linksim_up; finish ;;
3) fail iperf3_servers_start; finish ;;
esac

judge() { # judge NAME JSON DIR DRAWS_AT_SWITCH HOST_DROPS
	local name=$1 json=$2 dir=$3 d0=$4 host=$5 n lost p b tol emu
	n=$(($(draws "$dir") - d0))
	# the emulator's share of what iperf3 saw lost: less what the hosts counted dropping
	lost=$(($(jq '.end.sum.lost_packets // 0' "$json") - host))
	p=$(stats_get ".$dir.params.loss")
	b=$(stats_get ".$dir.params.burst")
	# burst 0 means independent: the same chain with burst = 1/(1-p)
	tol=$(awk -v n="$n" -v p="$p" -v b="$b" 'BEGIN {
		if (b == 0) b = 1 / (1 - p); r = 1 / b; q = p * r / (1 - p); rho = 1 - q - r
		printf "%.1f", 4 * sqrt(n * p * (1 - p) * (1 + rho) / (1 - rho)) }')
	emu=$(stats_get ".$dir.dropped_loss")
	echo "$name: hosts dropped $host (counted; not the emulator's)"
	echo "$name: loss $p burst $b: iperf3 lost $lost of the $n packets sent lossy ($(fcalc "100 * $lost / ($n + ($n == 0))") %; $(jq '.end.sum.packets' "$json") in all), expected $(fcalc "$n * $p") +/- $tol (4 sd); emulator counted $emu loss drops"
	check "${name}_over_5000_packets" fcheck "$n >= 5000"
	check "${name}_within_statistical_tolerance" fcheck "($lost - $n * $p) <= $tol && ($n * $p - $lost) <= $tol"
	# The losses iperf3 saw are the emulator's. The emulator's count is usually a little higher
	# (it also drew losses for iperf3's control packets and for datagrams still in flight when
	# the receiver stopped counting); on a busy machine a few datagrams can also be lost outside
	# it (socket buffers while a process is descheduled: seen once, 351 seen vs 299 drawn, in a
	# suite run beside a compile), so the two agree within the same tolerance either way.
	check "${name}_matches_emulator_count" fcheck "$emu - $lost <= $tol && $lost - $emu <= $tol"
}
judge loss_bursty_gilbert_elliott_down "$tmp/down.json" down "$draws_down0" "$host_down"
judge loss_independent_up "$tmp/up.json" up "$draws_up0" "$host_up"
check no_queue_drops_during_loss_test [ "$(stats_get '.up.dropped_queue + .down.dropped_queue')" = 0 ]
finish
