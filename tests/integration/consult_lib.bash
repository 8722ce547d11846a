# tests/integration/consult_lib.bash — a two-way `pirogue consult` across the link lab with a
# scripted uplink capacity drop (sourced after lib.bash by consult_geosat.sh and
# tools/demo_consult.sh; not a test itself). The caller holds the lab lock and has the lab up.
#
# consult_sites_init — $CW with both sites' keys and configs (hub listens on the lab address,
#   consultations on UDP 7444), the clinic enrolled at the hub.
# consult_run NAME DURATION DROP_AT RESTORE_AT LOW_RATE HIGH_RATE [consult options...]
#   runs hub (--listen) and clinic for DURATION s, sets the uplink to LOW_RATE at DROP_AT s
#   after both sessions started and back to HIGH_RATE at RESTORE_AT s; each side's report is
#   left in $CW/NAME-{clinic,hub}.json, recordings in $CW/NAME-{clinic,hub}/, logs in
#   $CW/NAME-{clinic,hub}.log. Utilisation is reported against the uplink's time-weighted mean
#   capacity (clinic) and the downlink's rate (hub). Returns non-zero if either side failed.
#   DROP_AT, RESTORE_AT, LOW_RATE and HIGH_RATE all "-": no scripted drop, the uplink keeps the
#   profile's own rate (or trace, fades, outages); utilisation is then against $CONSULT_UP_KBPS
#   if set, else the uplink's configured rate. $CW/NAME-timeline gets the wall-clock time (UTC,
#   date and time: YYYY-MM-DDTHH:MM:SS.mmm) the sessions started ("session started") and of each
#   scripted rate change.

CONSULT_VIDEO=${CONSULT_VIDEO:-$VECTORS/media/CiscoVT2people_320x192_12fps.y4m}
CONSULT_AUDIO=${CONSULT_AUDIO:-$VECTORS/media/jfk_16k_mono.wav}

# consult_large_clip OUT — writes OUT: the reference clip at 640x384 (encoded at that size at
#   3 Mbit/s with `pirogue media encode --size`, decoded back). The 320x192 clip leaves the
#   ladder nothing worth climbing to above 360p-15 (relay_media_camera_top), under 400 kbit/s;
#   a session that must fill a link faster than that (a 512 kbit/s policer to find) needs a
#   larger camera.
consult_large_clip() {
	local ivf=$1.ivf
	"$PIROGUE" media encode --in "$VECTORS/media/CiscoVT2people_320x192_12fps.y4m" \
		--out "$ivf" --bitrate 3000 --size 640x384 >/dev/null &&
		"$PIROGUE" media decode --in "$ivf" --out "$1" >/dev/null && rm -f "$ivf"
}

# consult_need_lab — exits 77 (skipped) unless root, jq, ffmpeg and the built pirogue and
# linksim are there.
consult_need_lab() {
	need_root
	for t in jq ffmpeg; do
		command -v $t >/dev/null || { echo "skipped: $t missing (make deps)"; exit 77; }
	done
	[ -x "$LINKSIM" ] && [ -x "$PIROGUE" ] ||
		{ echo "skipped: build pirogue and linksim first"; exit 77; }
}

consult_sites_init() {
	CW=$(mktemp -d /tmp/pirogue-consult.XXXXXX)
	local hub_pub clinic_pub
	hub_pub=$($PIROGUE keygen "$CW/hub.key") || return 1
	clinic_pub=$($PIROGUE keygen "$CW/clinic.key") || return 1
	cat >"$CW/hub.conf" <<-CONF
	[site]
	role = hub
	name = hub
	key = $CW/hub.key
	store = $CW/hub-store
	[listen]
	address = 198.51.100.2
	[consult]
	port = 7444
	CONF
	cat >"$CW/clinic.conf" <<-CONF
	[site]
	role = clinic
	name = clinic
	key = $CW/clinic.key
	store = $CW/clinic-store
	[hub]
	address = 198.51.100.2
	public_key = $hub_pub
	[consult]
	port = 7444
	CONF
	$PIROGUE enroll "$clinic_pub" --name clinic --config "$CW/hub.conf" >/dev/null
}

# consult_stamp_ms STAMP — a timeline's YYYY-MM-DDTHH:MM:SS.mmm or a log line's ISO 8601 time
# (UTC) -> epoch ms
consult_stamp_ms() { date -u -d "$1" +%s%3N; }

_consult_started() { grep -q "media session started" "$1"; }

_kbps() { # 512kbit / 2Mbit / 128000 -> kbit/s
	awk -v r="$1" 'BEGIN { v = r + 0; if (r ~ /[kK]/) v *= 1; else if (r ~ /[mM]/) v *= 1000;
		else v /= 1000; print v }'
}

# each direction's capacity (up, then down): its line rate, or its policer's rate when lower
_LINK_RATE='.up, .down | .params | if (.police_rate_bps // 0) > 0 and
	(.rate_bps == 0 or .police_rate_bps < .rate_bps) then .police_rate_bps else .rate_bps end'

consult_run() {
	local name=$1 dur=$2 drop=$3 restore=$4 low=$5 high=$6 hub_pid clinic_pid rc=0 up down
	shift 6
	# capacities for the utilisation figures: the uplink's time-weighted mean over the run
	# (clinic), the downlink's rate (hub)
	if [ "$drop" = - ]; then
		up=${CONSULT_UP_KBPS:-$(_kbps "$("$LINKSIM" stats --json | jq -r "$_LINK_RATE" | sed -n 1p)")}
	else
		up=$(awk -v d="$dur" -v a="$drop" -v b="$restore" -v lo="$(_kbps "$low")" \
			-v hi="$(_kbps "$high")" 'BEGIN { print (a * hi + (b - a) * lo + (d - b) * hi) / d }')
	fi
	down=$(_kbps "$("$LINKSIM" stats --json | jq -r "$_LINK_RATE" | sed -n 2p)")
	if [ "$high" != - ]; then
		"$LINKSIM" set "up.rate=$high" >/dev/null || return 1
	fi
	"$LINKSIM" exec hub -- "$PIROGUE" consult --config "$CW/hub.conf" --listen \
		--video "$CONSULT_VIDEO" --audio "$CONSULT_AUDIO" --record "$CW/$name-hub" \
		--duration "$dur" --wait 30 --json "$CW/$name-hub.json" \
		--peer-video "$CONSULT_VIDEO" --link-kbps "$down" "$@" >"$CW/$name-hub.log" 2>&1 &
	hub_pid=$!
	"$LINKSIM" exec clinic -- "$PIROGUE" consult --config "$CW/clinic.conf" \
		--video "$CONSULT_VIDEO" --audio "$CONSULT_AUDIO" --record "$CW/$name-clinic" \
		--duration "$dur" --wait 30 --json "$CW/$name-clinic.json" \
		--peer-video "$CONSULT_VIDEO" --link-kbps "$up" "$@" >"$CW/$name-clinic.log" 2>&1 &
	clinic_pid=$!
	if ! wait_for 30 _consult_started "$CW/$name-clinic.log"; then
		kill "$hub_pid" "$clinic_pid" 2>/dev/null
		wait "$hub_pid" "$clinic_pid"
		return 1
	fi
	echo "$(date -u +%FT%T.%N | cut -c1-23) session started" >>"$CW/$name-timeline"
	if [ "$drop" = - ]; then
		wait "$clinic_pid" || rc=1
		wait "$hub_pid" || rc=1
		return $rc
	fi
	# the scripted capacity drop: a timeline, not a wait for a condition
	sleep "$drop"
	"$LINKSIM" set "up.rate=$low" >/dev/null || rc=1
	echo "$(date -u +%FT%T.%N | cut -c1-23) uplink -> $low" >>"$CW/$name-timeline"
	sleep "$(awk "BEGIN { print $restore - $drop }")"
	"$LINKSIM" set "up.rate=$high" >/dev/null || rc=1
	echo "$(date -u +%FT%T.%N | cut -c1-23) uplink -> $high" >>"$CW/$name-timeline"
	wait "$clinic_pid" || rc=1
	wait "$hub_pid" || rc=1
	return $rc
}

# consult_decodes FILE — an outside decoder (ffmpeg) reads the file through without an error.
consult_decodes() {
	[ -s "$1" ] && ffmpeg -nostdin -v error -xerror -i "$1" -f null - 2>&1 | { ! grep -q .; }
}

# consult_check_audio SIDE JSON — prints what SIDE's report says it received, and checks that
# it lost at most 2 % of more than 200 audio frames after recovery (SIDE_audio_loss_at_most_2pct).
consult_check_audio() {
	local side=$1 json=$2 lost frames
	lost=$(jq -r '.received.audio.lost_pct' "$json" 2>/dev/null)
	frames=$(jq -r '.received.audio.frames' "$json" 2>/dev/null)
	echo "$side received: audio frames $frames, lost after recovery $lost %; video" \
		"$(jq -r '.received.video.fps' "$json" 2>/dev/null) fps"
	check "${side}_audio_loss_at_most_2pct" awk "BEGIN { exit !(\"$frames\" + 0 > 200 &&
		\"$lost\" != \"\" && $lost + 0 <= 2) }"
}
