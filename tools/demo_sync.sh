#!/bin/bash
# tools/demo_sync.sh — the deferred-cases step of `make demo` (issue 3), sourced by
# tools/demo.sh (which defines title/say/run and brings the lab up), or run on its own
# (then it brings the geo-sat lab up itself, under the lab lock).
#
# Cases are queued at the clinic while the satellite link is down; the link comes up and they
# arrive (urgent first); an outage interrupts the large one, which resumes where the hub's
# store left it (the hub counts the bytes it received twice); the specialist's reply comes back.

step_sync() {
	local w pirogue=$BUILD/pirogue pirogued=$BUILD/pirogued hubpub clinicpub hubpid clinicpid
	local small mid big idu idn idb t i
	title "Deferred cases: queued offline, synced when the link returns, resumed after an outage"
	w=$(mktemp -d /tmp/pirogue-demo.XXXXXX)
	hubpub=$("$pirogue" keygen "$w/hub.key") && clinicpub=$("$pirogue" keygen "$w/clinic.key") ||
		return 1
	printf '[site]\nrole = hub\nkey = %s/hub.key\nstore = %s/hub\n[listen]\naddress = %s\nport = 7443\n[sync]\nkeepalive = 1s\ndead_after = 4s\n' \
		"$w" "$w" "$HUB" >"$w/hub.conf"
	printf '[site]\nrole = clinic\nkey = %s/clinic.key\nstore = %s/clinic\n[hub]\naddress = %s\nport = 7443\npublic_key = %s\n[sync]\nkeepalive = 1s\ndead_after = 4s\nbackoff_min = 200ms\nbackoff_max = 2s\n' \
		"$w" "$w" "$HUB" "$hubpub" >"$w/clinic.conf"
	local C="--config $w/clinic.conf" H="--config $w/hub.conf"
	say "The hospital enrolls the island's key (nothing else is ever accepted):"
	run "$pirogue" enroll "$clinicpub" --name ile-de-sein $H
	say "The satellite link goes down; both daemons start anyway."
	"$LINKSIM" set outage=0s+100h >/dev/null
	ip netns exec hub "$pirogued" --role hub $H >"$w/hub.log" 2>&1 &
	hubpid=$!
	ip netns exec clinic "$pirogued" --role clinic $C >"$w/clinic.log" 2>&1 &
	clinicpid=$!
	small=$w/plaie.jpg mid=$w/ecg.pdf big=$w/scanner.dcm
	head -c 50000 /dev/urandom >"$small"
	head -c 200000 /dev/urandom >"$mid"
	head -c 1500000 /dev/urandom >"$big"
	say "Staff queue three cases at the island while the link is down (each returns at once):"
	idb=$("$pirogue" case add $C --priority bulk --title "Scanner thoracique" --file "$big" | grep -Eo '[0-9a-f]{32}' | head -1)
	idn=$("$pirogue" case add $C --priority normal --title "ECG de contrôle" --file "$mid" | grep -Eo '[0-9a-f]{32}' | head -1)
	idu=$("$pirogue" case add $C --priority urgent --title "Plaie pied diabétique" --note "Patient 64 ans, plaie J5" --file "$small" | grep -Eo '[0-9a-f]{32}' | head -1)
	run "$pirogue" case list $C
	say "The link comes back: the urgent case goes first, chunks interleave by priority."
	"$LINKSIM" set outage=none >/dev/null
	t=$(date +%s)
	for i in $(seq 120); do
		sleep 1
		printf '   [%3ds] ' $(($(date +%s) - t))
		"$pirogue" case list $C --json | grep -Eo '"(priority|progress|state)": *("[a-z]+"|[0-9]+)' |
			sed 's/"//g; s/: */=/' | paste -d' ' - - - |
			awk '{ split($1, a, "="); split($2, b, "="); split($3, c, "=");
			       printf "%s: %s %s%%   ", a[2], c[2], b[2] } END { print "" }'
		"$pirogue" inbox show "$idb" $H >/dev/null 2>&1 && break
		if [ "$i" -eq 12 ]; then
			say ">>> satellite outage (10 s) in the middle of the large transfer <<<"
			"$LINKSIM" set outage=0s+100h >/dev/null
			sleep 10
			"$LINKSIM" set outage=none >/dev/null
			say ">>> link back: the clinic reconnects and resumes from the hub's persisted offset"
		fi
	done
	run "$pirogue" case list $C
	run "$pirogue" status $C
	say "(after the outage the clinic's new sync stream started from the rate and round-trip"
	say " time its previous stream had measured, instead of ramping up again: careful resume)"
	run "$pirogue" status $H
	say "(duplicate bytes at the hub = what it held in memory but had not yet made durable"
	say " when the link died: at most one 64 KiB chunk per interruption)"
	run "$pirogue" inbox list $H
	"$pirogue" inbox export "$idb" --to "$w/export" $H >/dev/null &&
		cmp "$big" "$w/export/$(basename "$big")" && say "exported scanner.dcm is byte-identical to what was queued"
	say "The specialist answers the urgent case:"
	run "$pirogue" reply "$idu" --note "Débridement, antibiothérapie, contrôle J3" $H
	for i in $(seq 60); do
		"$pirogue" case show "$idu" $C 2>/dev/null | grep -q "Débridement" && break
		sleep 0.5
	done
	run "$pirogue" case show "$idu" $C
	kill "$clinicpid" "$hubpid" 2>/dev/null
	wait "$clinicpid" "$hubpid" 2>/dev/null
	rm -rf "$w"
	[ -n "$idn" ]
}

# Run on its own: bring the lab up around the step.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/.." || exit 2
	. tools/demo_lib.bash
	demo_standalone sync
fi
