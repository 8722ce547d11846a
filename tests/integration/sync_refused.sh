#!/bin/bash
# An unenrolled clinic is refused at the first handshake message and nothing of its data is
# stored at the hub; once enrolled its case arrives; once revoked its session is closed at once
# (the CLI pokes the daemon) and its next case is refused, nothing stored.
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up lan
sync_sites_init
hub_start
clinic_start
f=$W/a.bin
mkfile "$f" 300000
id=$(add_case urgent "$f")
refused() { [ "$(status_num hub refused)" -ge "$1" ] 2>/dev/null; }
check unenrolled_clinic_refused wait_for 20 refused 2
check unenrolled_nothing_received [ "$(status_num hub bytes_received)" = 0 ]
check unenrolled_inbox_empty bash -c "! $PIROGUE inbox list --config $HUBCONF --json | grep -Eq '[0-9a-f]{32}'"
check unenrolled_no_session [ "$(status_num hub connects)" = 0 ]

$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
check enrolled_clinic_case_arrives wait_for 30 hub_has "$id"
check enrolled_export_identical exported_equals "$id" "$f"

# The status file is rewritten once a second: let it catch up with the delivery first.
rec1() { [ "$(status_num hub records_received)" -ge 1 ] 2>/dev/null; }
wait_for 10 rec1 || fail status_shows_the_delivery
$PIROGUE revoke island --config "$HUBCONF" >/dev/null || fail revoke_clinic
nosess() { [ "$(status_num hub sessions)" = 0 ]; }
check revoked_session_closed wait_for 10 nosess
r0=$(status_num hub refused) b0=$(status_num hub bytes_received)
g=$W/b.bin
mkfile "$g" 200000
id2=$(add_case urgent "$g")
check revoked_clinic_refused_again wait_for 20 refused $((r0 + 1))
check revoked_nothing_more_received [ "$(status_num hub bytes_received)" = "$b0" ]
check revoked_case_not_in_inbox bash -c "! $PIROGUE inbox show $id2 --config $HUBCONF >/dev/null 2>&1"
finish
