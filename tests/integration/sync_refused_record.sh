#!/bin/bash
# A case that fails verification at the hub (one byte of its attachment damaged on the clinic's
# disk after it was queued) is refused once, with the reason, and kept at the clinic as
# "refused (chunk hash bad)" — in `case list`, `case list --json` and `case show` — while a good
# case queued with it arrives. It is not offered again: not after two clinic restarts, a link
# outage, nor a hub restart (the hub's offer and refusal counters stay put), and the retention
# purge leaves it (it removes the delivered one). A reply damaged the same way at the hub is
# refused by the clinic and shown at the hub (`case list`: "reply refused (...)", `case show`).
# `pirogue case retry` re-queues the case: offered once more, refused again. The daemons run in
# the link lab (lan profile).
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
$PIROGUE case retry --help >/dev/null 2>&1 || { echo "skipped: pirogue case retry is not available"; exit 77; }
lab_up lan
sync_sites_init "retention = 1s"
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic

# Both cases are queued before the clinic's daemon runs: the damage is done before any send.
f=$W/bad.bin g=$W/good.bin
mkfile "$f" 2000000 # > 1 MiB of chunks: they live in a spool file
mkfile "$g" 300000
bad=$(add_case normal "$f")
good=$(add_case urgent "$g")
spool=$W/clinic-store/spool/$bad.rec
check bad_case_is_spooled test -f "$spool"
# flip one bit 100 bytes into the second encrypted chunk
python3 -c "
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as fh:
    fh.seek(off); b = fh.read(1); fh.seek(off); fh.write(bytes([b[0] ^ 1]))
" "$spool" $((CHUNK_WIRE + 100)) || fail damage_spool_file

state_of() { # state_of ID — its state in the clinic's `case list --json` ("" if not listed)
	$PIROGUE case list --config "$CLINICCONF" --json |
		python3 -c "import json,sys; print(next((r['state'] for r in json.load(sys.stdin) if r['id']=='$1'), ''))"
}
is_refused() { [ "$(state_of "$bad")" = refused ]; }
num_is() { [ "$(status_num "$1" "$2")" = "$3" ]; } # num_is SIDE KEY VALUE

hub_start
clinic_start
check good_case_arrives wait_for 30 hub_has "$good"
check good_export_identical exported_equals "$good" "$g"
check bad_case_refused wait_for 30 is_refused
check bad_case_not_in_hub_inbox bash -c "! $PIROGUE inbox show $bad --config $HUBCONF >/dev/null 2>&1"
check case_list_shows_reason bash -c "$PIROGUE case list --config $CLINICCONF | grep -q '^$bad  refused (chunk hash bad) '"
check case_list_json_reason bash -c "$PIROGUE case list --config $CLINICCONF --json | python3 -c '
import json,sys
r = next(r for r in json.load(sys.stdin) if r[\"id\"] == \"$bad\")
assert r[\"state\"] == \"refused\" and r[\"refused_reason\"] == \"chunk hash bad\", r
assert r[\"refused_code\"] == -4108 and \"signed hash\" in r[\"refused_detail\"], r'"
check case_show_explains bash -c "$PIROGUE case show $bad --config $CLINICCONF | grep -q 'refused .* by the peer: chunk does not match its signed hash'"
check case_show_says_how_to_retry bash -c "$PIROGUE case show $bad --config $CLINICCONF | grep -q 'pirogue case retry $bad'"
# Offered once with the good one, refused once; the session was not dropped for it.
check hub_refused_it_once wait_for 10 num_is hub records_rejected 1
check hub_got_two_offers num_is hub offers_received 2
check hub_one_session num_is hub connects 1
check clinic_counts_the_refusal wait_for 10 num_is clinic records_refused 1

# Reconnects: two clinic restarts (the retention purge runs at each start), one link outage.
connected() { [ "$(status_num hub connects)" -ge "$1" ] 2>/dev/null && num_is hub sessions 1; }
# The good case was delivered moments ago: let its 1 s retention run out before the restart
# whose start-up purge must remove it (CI10: restarted 0.95 s after the delivery, and the next
# purge is an hour later).
sleep 1.5
clinic_stop
clinic_start
check clinic_restart_1_reconnects wait_for 30 connected 2
good_purged() { [ -z "$(state_of "$good")" ]; }
check retention_purged_the_delivered_case wait_for 10 good_purged
check retention_kept_the_refused_case is_refused
check refused_spool_file_kept test -f "$spool"
clinic_stop
clinic_start
check clinic_restart_2_reconnects wait_for 30 connected 3
link_down
nosess() { num_is hub sessions 0; }
check outage_drops_the_session wait_for 20 nosess
link_up
check outage_over_reconnects wait_for 30 connected 4
sleep 2 # the status file is rewritten once a second
check not_offered_again_after_reconnects num_is hub offers_received 2
check not_refused_again_after_reconnects num_is hub records_rejected 1
check still_refused_after_reconnects is_refused

# Hub restart (its handshake timestamps are persisted: the clinic's new handshakes still pass).
# While it is down, the specialist answers the good case with a reply whose attachment gets
# damaged the same way on the hub's disk: the clinic refuses it, the hub shows it.
hub_stop
rm -f "$W/hub-store/status.json" # so nothing below reads the old process's counters
r=$W/reply.bin
mkfile "$r" 1500000
rid=$($PIROGUE reply "$good" --note "see attachment" --file "$r" --config "$HUBCONF" | grep -Eo '[0-9a-f]{32}' | head -1)
check reply_is_spooled test -f "$W/hub-store/spool/$rid.rec"
python3 -c "
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as fh:
    fh.seek(off); b = fh.read(1); fh.seek(off); fh.write(bytes([b[0] ^ 1]))
" "$W/hub-store/spool/$rid.rec" $((CHUNK_WIRE + 100)) || fail damage_reply_spool_file
hub_start
check hub_restart_clinic_reconnects wait_for 30 connected 1
hub_shows_reply_refused() { $PIROGUE case list --config "$HUBCONF" | grep -q "^$good  reply refused (chunk hash bad) "; }
check hub_case_list_shows_refused_reply wait_for 30 hub_shows_reply_refused
check hub_case_show_reply_refused bash -c "$PIROGUE case show $good --config $HUBCONF | grep -q 'reply $rid  refused (chunk hash bad)'"
check hub_case_list_json_refused_reply bash -c "$PIROGUE case list --config $HUBCONF --json | python3 -c '
import json,sys
r = next(r for r in json.load(sys.stdin) if r[\"id\"] == \"$good\")
assert r[\"refused_reply\"] == \"$rid\" and r[\"refused_reply_reason\"] == \"chunk hash bad\", r'"
check clinic_has_no_such_reply bash -c "! $PIROGUE inbox show $rid --config $CLINICCONF >/dev/null 2>&1"
check hub_counts_the_refused_reply wait_for 10 num_is hub records_refused 1
sleep 2
check hub_restart_not_offered_again num_is hub offers_received 0
check still_refused_after_hub_restart is_refused
check hub_no_replay_refusals num_is hub replays 0

# The operator retries it: offered once more, refused again (the damage is still there).
out=$($PIROGUE case retry "${bad:0:12}" --config "$CLINICCONF")
check retry_requeues bash -c "[ '$out' = 'case $bad queued again' ]"
check retry_offered_and_refused_again wait_for 30 num_is hub records_rejected 1
check retry_offered_once num_is hub offers_received 1
check retry_ends_refused wait_for 10 is_refused
out=$($PIROGUE case retry "$good" --config "$CLINICCONF" 2>&1); rc=$?
check retry_of_unknown_or_delivered_fails test "$rc" -eq 1
check retry_of_non_refused_says_why bash -c "[[ '$out' == 'pirogue case retry: '* ]]"
finish
