#!/bin/bash
# An outage in the middle of a transfer: the session dies (keepalives), the clinic reconnects
# when the link is back, and the transfer resumes from the hub's persisted offset. The hub
# counts the bytes it received twice: at most one chunk per interruption. Three outages.
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up lan --set rate=8Mbit
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
hub_start
clinic_start
f=$W/scan.bin
mkfile "$f" 12000000
id=$(add_case normal "$f")
hub_bytes() { status_num hub bytes_received; }
over() { [ "$(hub_bytes)" -ge "$1" ] 2>/dev/null; }
disc() { status_num clinic disconnects; }
outages=3
for k in $(seq 1 $outages); do
	wait_for 60 over $((k * 3000000)) || { fail "progress_before_outage_$k"; break; }
	d0=$(disc)
	link_down
	# The clinic must notice the dead link (dead_after = 3 s) before the link comes back.
	gone() { [ "$(disc)" -gt "$d0" ]; }
	wait_for 20 gone || fail "session_dropped_in_outage_$k"
	link_up
done
check transfer_completes_after_3_outages wait_for 120 hub_has "$id"
check exported_bytes_identical exported_equals "$id" "$f"
dup=$(status_num hub dup_bytes_received)
dupc=$(status_num hub dup_chunks_received)
resent=$(status_num clinic bytes_resent)
disc_n=$(status_num clinic disconnects)
echo "# $disc_n interruptions: hub re-received $dup bytes ($dupc messages); clinic re-sent $resent bytes (incl. bytes lost in flight)"
check resends_at_most_one_chunk_per_interruption [ "$dup" -le $((disc_n * CHUNK_WIRE)) ]
check at_least_3_interruptions [ "$disc_n" -ge 3 ]
finish
