#!/bin/bash
# An urgent 50 KB case queued while a large case is transferring over geo-sat (600 ms RTT,
# 512 kbit/s up, 1 % bursty loss) overtakes it at chunk granularity: it is delivered within a
# few round trips, long before the large one.
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up geo-sat
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
hub_start
clinic_start
big=$W/dicom.bin small=$W/ecg.bin
mkfile "$big" 20000000
mkfile "$small" 50000
idb=$(add_case bulk "$big")
going() { [ "$(status_num hub bytes_received)" -ge 300000 ] 2>/dev/null; }
check bulk_transfer_under_way wait_for 60 going
t0=$(date +%s%N)
idu=$(add_case urgent "$small")
check urgent_delivered wait_for 30 hub_has "$idu"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# urgent 50 KB delivered in $ms ms ($(( ms / 600 )) RTTs of 600 ms) during a 20 MB bulk transfer"
# 50 KB alone takes ~0.8 s at 512 kbit/s plus the OFFER/RESUME and DONE/DELIVERED round trips.
check urgent_within_8_rtts [ "$ms" -le 4800 ]
check bulk_still_in_flight bash -c "! $PIROGUE inbox show $idb --config $HUBCONF >/dev/null 2>&1"
check urgent_export_identical exported_equals "$idu" "$small"
finish
