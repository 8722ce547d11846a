#!/bin/bash
# The UDP tunnel's replay protection survives a hub restart: the clinic's first tunnel
# initiation is recorded on the wire, the hub restarts (its memory is gone), the recording is
# replayed to it: no answer, counted (status tunnel_replays), and the hub's log names the clinic
# and says how to reset it. Re-enrolling the clinic (`pirogue enroll` again, hub still running)
# forgets its timestamps: the same old initiation is answered then (what a clinic whose clock
# went back needs), and the real clinic syncs again.
. "$(dirname "$0")/sync_lib.bash"
need_root
need_sync_cli
[ "$SYNC_TRANSPORT" = udp ] || { echo "skipped: udp transport only"; exit 77; }
lab_up lan
sync_sites_init
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null || fail enroll_clinic

# Records the first tunnel initiation (141 bytes, type 1) that reaches the hub's UDP port.
ip netns exec hub python3 - "$W/init.bin" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.settimeout(30)
while True:
    p = s.recv(4096)
    ihl = (p[0] & 15) * 4
    if p[9] != 17:
        continue
    dport = struct.unpack('!H', p[ihl + 2:ihl + 4])[0]
    pl = p[ihl + 8:]
    if dport == 7443 and len(pl) == 141 and pl[0] == 1:
        open(sys.argv[1], 'wb').write(pl)
        break
PY
SNIFF=$!
sleep 0.5
hub_start
clinic_start
wait $SNIFF
check initiation_recorded test -s "$W/init.bin"
up() { $PIROGUE status --config "$CLINICCONF" --json 2>/dev/null | grep -Eq '"tunnel_up": *true'; }
check tunnel_up wait_for 20 up
sessions_is() { [ "$(status_num clinic sessions)" = "$1" ]; }
check clinic_status_one_session wait_for 10 sessions_is 1
clinic_stop
# The last status a stopped daemon leaves says it has no session (it said 1 before).
check stopped_clinic_status_no_session sessions_is 0
check stopped_clinic_status_not_running bash -c "$PIROGUE status --config $CLINICCONF --json | grep -Eq '\"running\": *false'"

# replay: sends the recording to the hub from the clinic's namespace, prints the length and type
# of the answer (or "none" within 3 s).
replay() {
	ip netns exec clinic python3 - "$W/init.bin" "$HUB_IP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(open(sys.argv[1], 'rb').read(), (sys.argv[2], 7443))
try:
    d = s.recv(2048)
    print(len(d), d[0])
except socket.timeout:
    print("none")
PY
}
hub_stop
hub_start
hub_ready() { [ -n "$(status_num hub tunnel_replays)" ]; }
check hub_restarted wait_for 10 hub_ready
ans=$(replay)
echo "# replay after the hub restart: answer: $ans"
check replay_after_restart_not_answered [ "$ans" = none ]
replays() { [ "$(status_num hub tunnel_replays)" -ge 1 ] 2>/dev/null; }
check replay_counted wait_for 5 replays
warn="clinic island: tunnel handshake timestamp older than the last accepted one: replay, or the clinic's clock went back; re-enrol it to reset"
check hub_log_names_the_clinic grep -qF "$warn" "$W/hub.log"

# Re-enrolment resets the record on the running hub: the old initiation is answered now.
$PIROGUE enroll "$CLINIC_PUB" --name island --config "$HUBCONF" >/dev/null
check reenrol_of_enrolled_clinic_succeeds test $? -eq 0
ans=$(replay)
echo "# replay after re-enrolment: answer: $ans"
check old_initiation_answered_after_reenrol [ "$ans" = "89 2" ]
check still_one_replay_counted [ "$(status_num hub tunnel_replays)" = 1 ]

# The real clinic (newer timestamps) syncs again.
starts=$(grep -c 'pirogued clinic started' "$W/clinic.log")
clinic_start
# The new daemon replaces the status file before it logs that it started, not at its first
# tick 1 s later (until then the stopped one's status showed).
started() { [ "$(grep -c 'pirogued clinic started' "$W/clinic.log")" -gt "$starts" ]; }
wait_for 20 started
check restarted_clinic_status_is_its_own [ "$(status_num clinic pid)" = "$CLINIC_PID" ]
f=$W/a.bin
mkfile "$f" 200000
id=$(add_case urgent "$f")
check case_arrives_after_reenrol wait_for 60 hub_has "$id"
finish
