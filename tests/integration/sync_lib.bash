# tests/integration/sync_lib.bash — shared setup of the sync_*.sh integration tests (not a test
# itself): two sites (clinic, hub) with their keys, configs and stores in a temporary directory,
# the daemons run inside the link lab's namespaces, helpers to queue cases and look at both ends.
# Usage: . "$(dirname "$0")/sync_lib.bash"   (sources lib.bash)
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

HUB_IP=198.51.100.2
# Which [sync] transport the daemons use: udp (the sync stream inside the encrypted UDP tunnel)
# or tcp. A test's wrapper may set it (e.g. sync_outage_resume_tcp.sh).
SYNC_TRANSPORT=${SYNC_TRANSPORT:-udp}
CHUNK_WIRE=$((65536 + 17)) # one envelope chunk (64 KiB plaintext + secretstream overhead)
HUB_PID= CLINIC_PID=

# Skips (77) unless every CLI command the tests drive exists.
need_sync_cli() {
	local c
	for c in "case add" "case show" "case list" "inbox list" "inbox show" "inbox export" \
		"reply" "enroll" "revoke" "status"; do
		# shellcheck disable=SC2086
		$PIROGUE $c --help >/dev/null 2>&1 || { echo "skipped: pirogue $c is not available"; exit 77; }
	done
	[ -x "$PIROGUED" ] && [ -x "$LINKSIM" ] || { echo "skipped: build pirogued and linksim first"; exit 77; }
}

# sync_sites_init [EXTRA_SYNC_LINES] — makes $W with both sites; the hub listens on the lab
# address; the clinic pins the hub's key. Short keepalives so dead links are seen quickly.
# Both use [sync] transport = $SYNC_TRANSPORT.
sync_sites_init() {
	W=$(mktemp -d /tmp/pirogue-sync.XXXXXX)
	echo "# sync transport: $SYNC_TRANSPORT" >&2
	HUB_PUB=$($PIROGUE keygen "$W/hub.key") || return 1
	CLINIC_PUB=$($PIROGUE keygen "$W/clinic.key") || return 1
	HUBCONF=$W/hub.conf CLINICCONF=$W/clinic.conf
	cat >"$HUBCONF" <<-CONF
	[site]
	role = hub
	name = hub
	key = $W/hub.key
	store = $W/hub-store
	[listen]
	address = $HUB_IP
	port = 7443
	[sync]
	transport = $SYNC_TRANSPORT
	keepalive = 500ms
	dead_after = 3s
	${1:-}
	CONF
	cat >"$CLINICCONF" <<-CONF
	[site]
	role = clinic
	name = clinic
	key = $W/clinic.key
	store = $W/clinic-store
	[hub]
	address = $HUB_IP
	port = 7443
	public_key = $HUB_PUB
	[sync]
	transport = $SYNC_TRANSPORT
	keepalive = 500ms
	dead_after = 3s
	backoff_min = 100ms
	backoff_max = 1s
	${1:-}
	CONF
	trap sync_cleanup EXIT
}

hub_start() {
	ip netns exec hub "$PIROGUED" --role hub --config "$HUBCONF" --log-level debug >>"$W/hub.log" 2>&1 &
	HUB_PID=$!
}
clinic_start() {
	ip netns exec clinic "$PIROGUED" --role clinic --config "$CLINICCONF" --log-level debug \
		>>"$W/clinic.log" 2>&1 &
	CLINIC_PID=$!
}
hub_kill9() { [ -n "$HUB_PID" ] && kill -9 "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null; HUB_PID=; }
clinic_kill9() { [ -n "$CLINIC_PID" ] && kill -9 "$CLINIC_PID" 2>/dev/null; wait "$CLINIC_PID" 2>/dev/null; CLINIC_PID=; }
hub_stop() { [ -n "$HUB_PID" ] && kill -TERM "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null; HUB_PID=; }
clinic_stop() { [ -n "$CLINIC_PID" ] && kill -TERM "$CLINIC_PID" 2>/dev/null; wait "$CLINIC_PID" 2>/dev/null; CLINIC_PID=; }

sync_cleanup() {
	local rc=$?
	clinic_stop
	hub_stop
	"$LINKSIM" down >/dev/null 2>&1
	if [ "$_fails" -ne 0 ] || [ "$rc" -ne 0 ]; then
		echo "# logs kept in $W"
		tail -30 "$W/hub.log" "$W/clinic.log" 2>/dev/null | sed 's/^/# /'
	else
		rm -rf "$W"
	fi
}

# lab_up PROFILE [--set k=v ...] — the lab under the lock, torn down at exit.
lab_up() {
	lab_lock
	"$LINKSIM" down >/dev/null 2>&1
	"$LINKSIM" up --profile "$@" >/dev/null
}
link_down() { "$LINKSIM" set outage=0s+100h >/dev/null; }
link_up() { "$LINKSIM" set outage=none >/dev/null; }

# add_case PRIORITY FILE — queues a case at the clinic, prints its id.
add_case() {
	$PIROGUE case add --config "$CLINICCONF" --priority "$1" --title "case $(basename "$2")" \
		--note "note for $(basename "$2")" --file "$2" | grep -Eo '[0-9a-f]{32}' | head -1
}
# Has the hub imported (verified and stored) this case?
hub_has() { $PIROGUE inbox show "$1" --config "$HUBCONF" >/dev/null 2>&1; }
hub_has_all() { local id; for id in "$@"; do hub_has "$id" || return 1; done; }
# exported_equals ID FILE — exports the case at the hub and compares the attachment.
exported_equals() {
	local d=$W/export-$1
	rm -rf "$d"
	$PIROGUE inbox export "$1" --to "$d" --config "$HUBCONF" >/dev/null &&
		cmp -s "$d/$(basename "$2")" "$2"
}
# status_num SIDE KEY — a counter from `pirogue status --json` (xfer section or top level).
status_num() {
	local conf=$CLINICCONF
	[ "$1" = hub ] && conf=$HUBCONF
	$PIROGUE status --config "$conf" --json 2>/dev/null | grep -Eo "\"$2\": *[0-9]+" | head -1 |
		grep -Eo '[0-9]+$'
}
# ip_snmp NS FIELD — a counter of the Ip: line of the namespace's /proc/net/snmp (FragCreates,
# ReasmOKs, ...).
ip_snmp() {
	ip netns exec "$1" cat /proc/net/snmp | awk -v f="$2" '
		$1 == "Ip:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		$1 == "Ip:" { for (i = 2; i <= NF; i++) if (n[i] == f) print $i }'
}
# mkfile PATH SIZE_BYTES — random content.
mkfile() { head -c "$2" /dev/urandom >"$1"; }
