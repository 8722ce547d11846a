#!/bin/bash
# bench/linksim.sh — the link emulator's maximum forwarding rate, in packets/s.
#
# Measurement: iperf3 blasts 64-byte UDP datagrams (92 bytes on the link) as fast as it can
# (-b 0) from the clinic namespace to the hub for SECONDS (default 5); the figure is what the
# iperf3 receiver got, per second. The lab runs the `lan` profile with the rate limit, delay
# and queue limit lifted (`rate=0 delay=0`), so every packet crosses the emulator's full path
# (TUN read, queue, serialiser, delay line, TUN write) and only its speed limits the rate.
#
# Anchor: the same iperf3 command over a plain veth pair between two namespaces — the kernel's
# own forwarding path with no user-space hop. With one iperf3 sender on a shared 2-core
# machine the anchor is usually bounded by iperf3 itself, so the ratio says how much of what
# a single sending application can offer the emulator carries (100 % = the emulator is not the
# bottleneck). Needs root; takes the lab lock.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
LINKSIM=$BUILD/linksim
SECS=${SECONDS_PER_RUN:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench/linksim.sh: needs root" >&2; exit 1; }
[ -x "$LINKSIM" ] || { echo "bench/linksim.sh: $LINKSIM not built" >&2; exit 1; }
exec 9>/run/lock/pirogue-linksim.lock
flock 9
tmp=$(mktemp -d)
cleanup() {
	"$LINKSIM" down
	ip netns del lsbench-a 2>/dev/null
	ip netns del lsbench-b 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# blast NS_SERVER NS_CLIENT SERVER_ADDR — prints received packets/s (iperf3's receiver side)
blast() {
	ip netns exec "$1" iperf3 -s -1 >/dev/null 2>&1 &
	for _ in $(seq 100); do
		ip netns exec "$1" ss -ltn | grep -q ':5201 ' && break
		sleep 0.05
	done
	ip netns exec "$2" iperf3 -c "$3" -u -b 0 -l 64 -t "$SECS" -J >"$tmp/out.json" 2>&1
	wait
	jq '.end.sum | (.packets - .lost_packets) / .seconds' "$tmp/out.json"
}

"$LINKSIM" down
"$LINKSIM" up --profile lan --set rate=0 --set delay=0 >&2 || exit 1
emu=$(blast hub clinic 198.51.100.2)
"$LINKSIM" stats >&2
"$LINKSIM" down

ip netns add lsbench-a && ip netns add lsbench-b || exit 1
ip link add lsb0 netns lsbench-a type veth peer name lsb1 netns lsbench-b || exit 1
ip -n lsbench-a addr add 192.0.2.1/24 dev lsb0
ip -n lsbench-b addr add 192.0.2.2/24 dev lsb1
ip -n lsbench-a link set lsb0 up
ip -n lsbench-b link set lsb1 up
veth=$(blast lsbench-b lsbench-a 192.0.2.2)

echo "emulator $emu packets/s, veth $veth packets/s" >&2
printf 'ROW\t%s\t%.0f packets/s\t%s\t%.0f packets/s\t%s\n' \
	"linksim max forwarding rate (64-byte UDP, iperf3 -b 0)" "$emu" \
	"same iperf3 over a raw veth pair" "$veth" \
	"$(awk -v a="$emu" -v b="$veth" 'BEGIN { printf "%.0f %%", 100 * a / b }')"
