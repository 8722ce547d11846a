#!/bin/bash
# Careful resume of the sync stream (relay/stream.h config.resume, pirogued's path memory): a
# stream that ends saves what it measured (rate, min RTT) in the store; the next stream to the
# same peer, after a restart, starts from half that rate if its first RTT matches, and cold
# otherwise (the clinic moved to another link). Cases arrive byte-identical either way.
# geo-sat at 2 Mbit/s both ways (600 ms RTT), then the lan profile (another RTT).
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
lab_up geo-sat --set up.rate=2Mbit
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic
up() { [ "$(status_num clinic sessions)" = 1 ]; }
send_one() { # NAME -> checks that a 1 MB case arrives intact
	local f=$W/$1.bin id
	mkfile "$f" 1000000
	id=$(add_case normal "$f")
	check "$1_delivered" wait_for 300 hub_has "$id"
	check "$1_export_identical" exported_equals "$id" "$f"
}
hub_start
clinic_start
check session_up wait_for 60 up
# Over udp the xfer window defaults to 2 MiB (at 512K a lost datagram's repair stalled the link)
check udp_window_default_2M grep -q "sync inside the tunnel, window 2048 KiB" "$W/clinic.log"
send_one first
check first_stream_cold [ "$(status_num clinic streams_resumed)" = 0 ]
clinic_stop
check path_saved_at_stop grep -q "sync: path saved: [0-9]* kbit/s, min RTT [0-9]* ms" "$W/clinic.log"
grep "path saved" "$W/clinic.log" | tail -1 | sed 's/^/# /'
clinic_start
check session_up_again wait_for 60 up
send_one second
is() { [ "$(status_num clinic "$1")" = "$2" ]; } # the status file is rewritten every second
check second_stream_resumed wait_for 5 is streams_resumed 1
check second_not_refused [ "$(status_num clinic streams_resume_refused)" = 0 ]
says_resumed() { $PIROGUE status --config "$CLINICCONF" | grep -q "1 started from the path the previous one measured"; }
check status_text_says_resumed says_resumed
grep "may resume" "$W/clinic.log" | tail -1 | sed 's/^/# /'
clinic_stop
hub_stop
# Another link (sub-millisecond RTT): the saved 600 ms path is offered and refused.
lab_up lan
hub_start
clinic_start
check session_up_lan wait_for 60 up
send_one third
check lan_stream_refused_resume wait_for 5 is streams_resume_refused 1
check lan_stream_not_resumed [ "$(status_num clinic streams_resumed)" = 0 ]
finish
