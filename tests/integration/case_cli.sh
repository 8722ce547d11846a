#!/bin/bash
# tests/integration/case_cli.sh — the case/inbox/reply/enroll CLI end to end on two local sites
# (no link lab: records move between the two stores through the store's sender/receiver API,
# driven by tests/integration/store_move.c; the network transfer is tested by the xfer tests).
. "$(dirname "$0")/lib.bash"

P=$PIROGUE
[ -x "$P" ] || { echo "not ok build — $P missing"; exit 1; }
T=$(mktemp -d /tmp/case_cli.XXXXXX)
cleanup() {
	mountpoint -q "$T/tiny" 2>/dev/null && umount "$T/tiny"
	rm -rf "$T"
}
trap cleanup EXIT

# The test-only mover, compiled against the library under test.
# (with the sanitizers when the library was built with them, e.g. by `make asan`)
SAN=()
nm "$BUILD/libpirogue.a" 2>/dev/null | grep -q __asan_ && SAN=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE "${SAN[@]}" -I"$TOP" -o "$T/store_move" "$TOP/tests/integration/store_move.c" \
	"$BUILD/libpirogue.a" $(pkg-config --libs libevent libevent_pthreads opus vpx lmdb libsodium jansson speexdsp) -lyuv -lm -lpthread \
	|| { echo "not ok store_move_builds"; exit 1; }
MOVE=$T/store_move

HPUB=$($P keygen "$T/hub.key") && CPUB=$($P keygen "$T/clinic.key")
check keygen_two_sites test -n "$HPUB" -a -n "$CPUB"
cat >"$T/hub.conf" <<CONF
[site]
role = hub
name = chu
key = $T/hub.key
store = $T/hubstore
CONF
cat >"$T/clinic.conf" <<CONF
[site]
role = clinic
name = ile
key = $T/clinic.key
store = $T/clinicstore
[hub]
address = 127.0.0.1
public_key = $HPUB
[sync]
chunk_size = 16K
CONF
export PIROGUE_CONFIG=$T/clinic.conf
H=(--config "$T/hub.conf")

head -c 1000 /dev/urandom >"$T/small.bin"
head -c 200000 /dev/urandom >"$T/photo1.jpg"
head -c 3000001 /dev/urandom >"$T/ecg.pdf"
: >"$T/empty.txt"

# --- case add / list / show ------------------------------------------------------------------
ID1=$($P case add --priority urgent --title "Plaie pied diabétique" --note "Patient 62 ans, J3" \
	--file "$T/photo1.jpg" --file "$T/ecg.pdf" --file "$T/empty.txt")
check case_add_prints_id bash -c "[[ '$ID1' =~ ^[0-9a-f]{32}$ ]]"
ID2=$($P case add --title "petit" --file "$T/small.bin" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check case_add_json_gives_id bash -c "[[ '$ID2' =~ ^[0-9a-f]{32}$ ]]"
ID3=$($P case add --priority bulk --note "bulk only")
check case_list_shows_queued bash -c "$P case list | grep -q '^$ID1  queued .*urgent .*Plaie pied diabétique'"
check case_list_json_has_three bash -c "$P case list --json | python3 -c 'import json,sys; a=json.load(sys.stdin); assert len(a)==3 and all(r[\"state\"]==\"queued\" for r in a)'"
check case_show_by_prefix bash -c "$P case show ${ID1:0:10} | grep -q 'file:   ecg.pdf (application/pdf, 3.0 MB)'"
check case_show_json_parts bash -c "$P case show $ID1 --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert [p[\"name\"] for p in r[\"parts\"]]==[\"photo1.jpg\",\"ecg.pdf\",\"empty.txt\"] and r[\"note\"]==\"Patient 62 ans, J3\"'"

# --- errors ----------------------------------------------------------------------------------
out=$($P case show 0123456789 2>&1); rc=$?
check case_show_unknown_exit1 test "$rc" -eq 1
check case_show_unknown_prefixed bash -c "[[ '$out' == 'pirogue case show: '* ]]"
check case_show_unknown_says_no_such_case test "$out" = 'pirogue case show: 0123456789: no such case'
out=$($P case show zz 2>&1)
check case_show_bad_id_message test "$out" = 'pirogue case show: zz: not a case id (hex, at least 8 digits)'
out=$($P case retry $ID1 2>&1); rc=$?
check case_retry_not_refused_exit1 test "$rc" -eq 1
check case_retry_not_refused_message bash -c "[[ '$out' == 'pirogue case retry: '*' is queued, not refused: nothing to retry' ]]"
out=$($P case retry 0123456789 2>&1)
check case_retry_unknown_message test "$out" = 'pirogue case retry: 0123456789: no such case or reply sent from this site'
out=$($P inbox show 0123456789 2>&1)
check inbox_show_unknown_message test "$out" = 'pirogue inbox show: 0123456789: no such record in the inbox'
$P case add >/dev/null 2>&1; check case_add_nothing_is_usage test $? -eq 2
$P case add --priority whenever --title x >/dev/null 2>&1; check bad_priority_is_usage test $? -eq 2
out=$($P case add --title x --file "$T/missing.pdf" 2>&1); rc=$?
check missing_file_exit1 test "$rc" -eq 1
check missing_file_message bash -c "[[ '$out' == 'pirogue case add: '*'No such file'* ]]"
$P case list --config "$T/nope.conf" >/dev/null 2>&1; check missing_config_exit1 test $? -eq 1
check failed_adds_left_nothing bash -c "[ \$($P case list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -eq 3 ]"

# --- the daemon is poked at once after an add ------------------------------------------------
python3 - "$T/clinicstore/control.sock" >"$T/poke" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(20)
open(sys.argv[1] + ".ready", "w").close()
print(s.recv(200).decode())
PY
PYPID=$!
wait_for 10 test -e "$T/clinicstore/control.sock.ready"
ID4=$($P case add --title "poke" --note "p")
wait $PYPID
check add_pokes_daemon_socket grep -qx "case $ID4" "$T/poke"
rm -f "$T/clinicstore/control.sock" "$T/clinicstore/control.sock.ready"

# --- the hub refuses an unenrolled clinic; enroll; move ---------------------------------------
"$MOVE" "$T/clinic.conf" "$T/hub.conf" >/dev/null 2>&1
check unenrolled_clinic_refused test $? -eq 3
check nothing_stored_from_unenrolled bash -c "[ -z \"\$($P inbox list ${H[*]} --json | python3 -c 'import json,sys; print(*json.load(sys.stdin))')\" ]"
check enroll_clinic $P enroll "${H[@]}" "$CPUB" --name ile
$P enroll "${H[@]}" "$CPUB" --name ile2 >/dev/null 2>&1; check enroll_same_key_twice_fails test $? -eq 1
check reenrol_same_key_and_name bash -c "[ \"\$($P enroll ${H[*]} '$CPUB' --name ile)\" = 'enrolled ile' ]"
$P enroll "${H[@]}" "not-a-key" --name x >/dev/null 2>&1; check enroll_bad_key_is_usage test $? -eq 2
check move_clinic_to_hub bash -c "[ \$('$MOVE' '$T/clinic.conf' '$T/hub.conf' | wc -l) -eq 4 ]"
check case_list_delivered bash -c "$P case list --json | python3 -c 'import json,sys; a=json.load(sys.stdin); assert len(a)==4 and all(r[\"state\"]==\"delivered\" and r[\"progress\"]==100 for r in a)'"
check second_move_moves_nothing bash -c "[ -z \"\$('$MOVE' '$T/clinic.conf' '$T/hub.conf')\" ]"

# --- inbox at the hub, export byte-identical -------------------------------------------------
check inbox_list_shows_case bash -c "$P inbox list ${H[*]} | grep -q '^$ID1  case .*ile .*Plaie pied diabétique'"
check inbox_show_names_sender bash -c "$P inbox show ${H[*]} $ID1 | grep -q 'from:    ile'"
check inbox_show_json bash -c "$P inbox show ${H[*]} $ID1 --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"peer_name\"]==\"ile\" and len(r[\"parts\"])==3'"
check inbox_export $P inbox export "${H[@]}" "$ID1" --to "$T/out1"
check export_photo_identical cmp "$T/photo1.jpg" "$T/out1/photo1.jpg"
check export_ecg_identical cmp "$T/ecg.pdf" "$T/out1/ecg.pdf"
check export_empty_identical cmp "$T/empty.txt" "$T/out1/empty.txt"
check export_note bash -c "[ \"\$(cat '$T/out1/note.txt')\" = 'Patient 62 ans, J3' ]"
check inbox_export_small $P inbox export "${H[@]}" "$ID2" --to "$T/out2"
check export_small_identical cmp "$T/small.bin" "$T/out2/small.bin"
out=$($P inbox export "${H[@]}" "$ID1" --to "$T/out1" 2>&1); rc=$?
check export_never_overwrites bash -c "[ $rc -eq 1 ] && [[ '$out' == 'pirogue inbox export: '*'already there'* ]] && cmp -s '$T/photo1.jpg' '$T/out1/photo1.jpg'"
$P inbox export "${H[@]}" "$ID1" >/dev/null 2>&1; check export_without_to_is_usage test $? -eq 2

# --- reply travels back; case show at the clinic shows it ------------------------------------
head -c 5000 /dev/urandom >"$T/ordonnance.pdf"
RID=$($P reply "${H[@]}" "${ID1:0:12}" --note "Débridement, antibiothérapie" --file "$T/ordonnance.pdf")
check reply_prints_id bash -c "[[ '$RID' =~ ^[0-9a-f]{32}$ ]]"
check hub_case_answered bash -c "$P inbox show ${H[*]} $ID1 --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"state\"]==\"answered\"'"
check move_reply_to_clinic bash -c "[ \$('$MOVE' '$T/hub.conf' '$T/clinic.conf' | wc -l) -eq 1 ]"
check clinic_case_answered bash -c "$P case list | grep -q '^$ID1  answered'"
check case_show_has_reply bash -c "$P case show $ID1 | grep -q 'note:   Débridement, antibiothérapie'"
check case_show_json_reply bash -c "$P case show $ID1 --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"reply_records\"][0][\"id\"]==\"$RID\"'"
check clinic_exports_reply $P inbox export "$RID" --to "$T/rep"
check reply_file_identical cmp "$T/ordonnance.pdf" "$T/rep/ordonnance.pdf"
$P reply "${H[@]}" deadbeefdeadbeef --note x >/dev/null 2>&1; check reply_unknown_case_fails test $? -eq 1

# --- revoke: refused again, nothing stored ----------------------------------------------------
check revoke_clinic $P revoke "${H[@]}" ile
ID5=$($P case add --title "after revoke" --note x)
"$MOVE" "$T/clinic.conf" "$T/hub.conf" >/dev/null 2>&1
check revoked_clinic_refused test $? -eq 3
check revoked_nothing_stored bash -c "! $P inbox list ${H[*]} | grep -q $ID5"

# --- a full disk at enqueue: clear error, outbox unchanged (needs root for the tmpfs) ---------
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$T/tiny"
	mount -t tmpfs -o size=2m tmpfs "$T/tiny"
	sed "s|store = .*|store = $T/tiny/store|" "$T/clinic.conf" >"$T/tiny.conf"
	TINY=(--config "$T/tiny.conf")
	check tiny_small_case_fits $P case add "${TINY[@]}" --title ok --file "$T/small.bin"
	before=$($P case list "${TINY[@]}" --json)
	out=$($P case add "${TINY[@]}" --title big --file "$T/ecg.pdf" 2>&1); rc=$?
	check full_disk_exit1 test "$rc" -eq 1
	check full_disk_clear_message bash -c "[[ '$out' == 'pirogue case add: not enough free disk space'*'nothing was queued' ]]"
	check full_disk_outbox_unchanged bash -c "[ '$before' = \"\$($P case list ${TINY[*]} --json)\" ]"
	check full_disk_no_spool_left bash -c "[ -z \"\$(ls '$T/tiny/store/spool')\" ]"
	check tiny_still_usable $P case add "${TINY[@]}" --title ok2 --note x
	# The disk fills up DURING the write (the free-space check is made to pass with an
	# LD_PRELOAD that lies about statvfs): the write fails with ENOSPC, the add is undone.
	cat >"$T/liar.c" <<'C'
#define _GNU_SOURCE
#include <string.h>
#include <sys/statvfs.h>
static void fill(struct statvfs *b) { memset(b, 0, sizeof *b); b->f_bsize = b->f_frsize = 4096; b->f_blocks = b->f_bfree = b->f_bavail = 1u << 30; }
int statvfs(const char *p, struct statvfs *b) { (void)p; fill(b); return 0; }
int statvfs64(const char *p, struct statvfs64 *b) { (void)p; fill((struct statvfs *)b); return 0; }
C
	if cc -shared -fPIC -o "$T/liar.so" "$T/liar.c" 2>/dev/null; then
		before=$($P case list "${TINY[@]}" --json)
		out=$(ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$T/liar.so $P case add "${TINY[@]}" --title big --file "$T/ecg.pdf" 2>&1); rc=$?
		check enospc_during_spool_write_exit1 test "$rc" -eq 1
		check enospc_during_spool_write_message bash -c "[[ '$out' == 'pirogue case add: not enough free disk space'*'nothing was queued' ]]"
		check enospc_during_spool_write_unchanged bash -c "[ '$before' = \"\$($P case list ${TINY[*]} --json)\" ]"
		check enospc_during_spool_write_no_file bash -c "[ -z \"\$(ls '$T/tiny/store/spool')\" ]"
		# an inline record (< 1 MiB) when the disk is already nearly full: LMDB's commit fails
		head -c $(( $(df -B1 --output=avail "$T/tiny" | tail -1) - 300000 )) /dev/zero >"$T/tiny/filler" 2>/dev/null
		head -c 900000 /dev/urandom >"$T/inline.bin"
		out=$(ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$T/liar.so $P case add "${TINY[@]}" --title inl --file "$T/inline.bin" 2>&1); rc=$?
		check enospc_during_lmdb_commit_exit1 test "$rc" -eq 1
		check enospc_during_lmdb_commit_message bash -c "[[ '$out' == 'pirogue case add: '*'nothing was queued' ]]"
		check enospc_during_lmdb_commit_unchanged bash -c "[ '$before' = \"\$($P case list ${TINY[*]} --json)\" ]"
		rm -f "$T/tiny/filler"
		check store_usable_after_enospc $P case add "${TINY[@]}" --title ok3 --note x
	fi
	umount "$T/tiny"
else
	echo "# full-disk checks skipped: need root for the tmpfs"
fi
finish
