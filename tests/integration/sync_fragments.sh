#!/bin/bash
# [sync] udp_datagram = 4432: the sync tunnel's datagrams leave the clinic as three IP fragments
# of 1500-byte packets (linksim's TUN has MTU 1500 and emulates per IP packet), the hub's
# kernel reassembles them, and a 4 MB case over geo-sat (2 Mbit/s both ways here, 1 % bursty
# loss: some fragments are lost, so whole datagrams are, and the stream re-sends them) arrives
# byte-identical. Out-of-range values are refused with a message naming the key.
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up geo-sat --set up.rate=2Mbit
sync_sites_init "udp_datagram = 4432"
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
mtu() { ip -n "$1" link show | grep -Eo 'mtu [0-9]+' | grep -v 'mtu 65536' | head -1; }
check lab_links_mtu_1500 [ "$(mtu clinic)" = "mtu 1500" ]
fc0=$(ip_snmp clinic FragCreates) ro0=$(ip_snmp hub ReasmOKs)
hub_start
clinic_start
size=4000000
f=$W/ct.bin
mkfile "$f" $size
id=$(add_case normal "$f")
check case_delivered wait_for 300 hub_has "$id"
check export_identical exported_equals "$id" "$f"
frags=$(($(ip_snmp clinic FragCreates) - fc0)) reasm=$(($(ip_snmp hub ReasmOKs) - ro0))
sent=$(status_num clinic datagrams_sent) lost=$(status_num clinic datagrams_lost)
resent=$(status_num clinic stream_bytes_resent)
echo "# $size bytes: clinic created $frags IP fragments, hub reassembled $reasm datagrams;" \
	"stream sent $sent datagrams, $lost lost, $resent bytes re-sent"
# 4388 payload bytes per full datagram: >= 911 datagrams of 3 fragments each.
full=$((size / 4388))
check fragments_created [ "$frags" -ge $((3 * full)) ]
check hub_reassembled [ "$reasm" -ge "$full" ]
# One packet per datagram would take >= 2802 datagrams (1428 bytes each).
check fewer_datagrams_than_packets [ "$sent" -lt $((size / 1428)) ]
lost_resent() { [ "$lost" -gt 0 ] && [ "$resent" -gt 0 ]; }
check lost_datagrams_resent lost_resent
has_size() { $PIROGUE status --config "$1" --json | grep -Eq '"udp_datagram": *4432'; }
check status_shows_udp_datagram has_size "$CLINICCONF"
check hub_dropped_no_oversize [ "$(status_num hub tunnel_drop_oversize)" = 0 ]
clinic_stop
hub_stop
# Out of range: refused at start with the key and the range named.
for v in 1231 5913 big; do
	sed -e "s/^udp_datagram = .*/udp_datagram = $v/" -e "s|^store = .*|store = $W/bad-store|" \
		"$CLINICCONF" >"$W/bad.conf"
	refused() {
		! timeout 10 "$PIROGUED" --role clinic --config "$W/bad.conf" >"$W/bad.log" 2>&1 &&
			grep -q 'udp_datagram' "$W/bad.log"
	}
	check "udp_datagram_${v}_refused" refused
	sed 's/^/# /' "$W/bad.log" | head -2
done
finish
