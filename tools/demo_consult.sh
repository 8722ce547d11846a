#!/bin/bash
# tools/demo_consult.sh — the live-consultation step of `make demo` (issue 5), sourced by
# tools/demo.sh (which defines title/say/run and brings the lab up), or run on its own (then it
# brings the geo-sat lab up itself, under the lab lock).
#
# A short two-way `pirogue consult` across the satellite link: the clinic's uplink drops from
# 512 to 128 kbit/s in the middle and comes back. Run twice: adaptive (congestion control,
# ladder, FEC, redundancy) and the fixed-bitrate baseline (no adaptation, no FEC, no
# redundancy), and print the quality reports side by side.

step_consult() {
	local dur=${CONSULT_DEMO_SECONDS:-16} drop=4 restore=10 fixed=${CONSULT_DEMO_FIXED_KBPS:-256}
	local ok=0
	title "Live consultation over the satellite: adaptive vs fixed bitrate through a 4x drop"
	# shellcheck source=tests/integration/lib.bash
	. tests/integration/lib.bash
	# shellcheck source=tests/integration/consult_lib.bash
	. tests/integration/consult_lib.bash
	consult_sites_init || return 1
	say "Clinic and hub each send a video clip and speech (looped, as if live) and record what"
	say "they receive. The clinic's uplink drops to 128 kbit/s at ${drop} s and returns at ${restore} s."
	say "Run 1: adaptive (${dur} s) ..."
	consult_run adaptive "$dur" "$drop" "$restore" 128kbit 512kbit || ok=1
	say "Run 2: the baseline at a fixed ${fixed} kbit/s, no FEC, no redundancy (${dur} s) ..."
	consult_run fixed "$dur" "$drop" "$restore" 128kbit 512kbit \
		--fixed-bitrate "$fixed" || ok=1
	say ""
	say "Clinic -> hub (the uplink that dropped): the clinic's sending, what the hub got:"
	run "$PIROGUE" consult --print-report "$CW/adaptive-hub.json" "$CW/fixed-hub.json"
	say "(rows 'sent'/'ladder' are the hub's own sending; 'received' rows are clinic -> hub)"
	say "Clinic's ladder (adaptive run): $(jq -c '[.ladder.events[] | "\(.t_ms / 1000 | floor)s:\(.rung)"]' "$CW/adaptive-clinic.json" 2>/dev/null)"
	say ""
	say "Hub -> clinic (2 Mbit/s downlink): what the clinic got:"
	run "$PIROGUE" consult --print-report "$CW/adaptive-clinic.json" "$CW/fixed-clinic.json"
	if [ "$ok" -ne 0 ]; then # say why: the end of each consult's log
		for l in "$CW"/*.log; do
			say "--- $(basename "$l") (last lines):"
			tail -5 "$l" | sed 's/^/     /'
		done
	fi
	say "Recordings (received.wav/.ivf/.y4m, frames.csv) were in $CW; removed."
	rm -rf "$CW"
	return $ok
}

# A consult over a 4G uplink behind an operator's 512 kbit/s policer (profile 4g-policed): the
# clinic's rate controller must tell the policer's drops from loss on the air. Runs after the
# stats step (it replaces the satellite lab with the 4G one).
step_consult_policer() {
	local dur=${CONSULT_DEMO_POLICER_SECONDS:-25} ok=0
	title "Live consultation over 4G behind an operator's 512 kbit/s rate limit (a policer)"
	. tests/integration/lib.bash
	. tests/integration/consult_lib.bash
	run "$LINKSIM" down
	run "$LINKSIM" up --profile 4g-policed || return 1
	consult_sites_init || return 1
	# a camera that wants more than the policer passes (the 320x192 clip stops at 360p-15)
	consult_large_clip "$CW/large.y4m" || return 1
	CONSULT_VIDEO=$CW/large.y4m
	say "The policer drops what exceeds 512 kbit/s at once: no queue, so no delay to see; the"
	say "clinic must find it from how the loss answers its sending rate (${dur} s, adaptive) ..."
	consult_run policed "$dur" - - - - || ok=1
	say "$(grep -ho 'clinic: the loss grows.*' "$CW/policed-clinic.log" | head -1)"
	run "$LINKSIM" stats
	say "Clinic -> hub through the policer, what the hub got:"
	run "$PIROGUE" consult --print-report "$CW/policed-hub.json"
	if [ "$ok" -ne 0 ]; then
		for l in "$CW"/*.log; do
			say "--- $(basename "$l") (last lines):"
			tail -5 "$l" | sed 's/^/     /'
		done
	fi
	rm -rf "$CW"
	return $ok
}

# Run on its own: bring the lab up around the step.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/.." || exit 2
	. tools/demo_lib.bash
	demo_standalone consult
	PROFILE=4g-policed demo_standalone consult_policer
fi
