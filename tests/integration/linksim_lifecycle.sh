#!/bin/bash
# linksim_lifecycle: the lab's commands do what they say and never leave anything behind.
# - not root: a clear error, exit 1, nothing created
# - a bad profile / bad --set: exit 1, nothing created
# - a second `up`: refused while the first lab keeps working
# - `linksim down` after `kill -9` of the emulator (and with a process left in a namespace):
#   no namespace, no TUN device, no emulator, no state files; `down` again is a no-op
# - `linksim run`: the lab is up while CMD runs, CMD's exit status comes back, and the lab is
#   torn down afterwards, also when CMD fails
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/linksim_lib.bash"
linksim_setup

nothing_left() {
	! ip netns list | grep -Eq '^(clinic|hub)( |$)' &&
		! ip -o link show | grep -q lsim0 &&
		[ ! -e /run/pirogue-linksim/emu.pid ] && [ ! -e /run/pirogue-linksim/ctl.sock ] &&
		! live_emulator
}
# A stopped emulator may stay a zombie for a while (this machine's init reaps lazily): only
# live ones count.
live_emulator() {
	local p
	for p in $(pgrep -x linksim-emu); do
		[[ $(ps -o stat= -p "$p") == Z* ]] || return 0
	done
	return 1
}

if command -v setpriv >/dev/null; then
	err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$LINKSIM" up --profile lan 2>&1)
	rc=$?
	check not_root_fails_with_status_1 [ "$rc" -eq 1 ]
	check not_root_error_says_root grep -q "must run as root" <<<"$err"
fi
"$LINKSIM" up --profile no-such-profile >/dev/null 2>&1
check unknown_profile_fails [ $? -eq 1 ]
"$LINKSIM" up --profile geo-sat --set rate=fast >/dev/null 2>&1
check bad_set_fails [ $? -eq 1 ]
"$LINKSIM" up >/dev/null 2>&1
check missing_profile_is_usage_error [ $? -eq 2 ]
check nothing_created_by_failed_up nothing_left

"$LINKSIM" up --profile lan >/dev/null || fail up_lan
"$LINKSIM" up --profile lan >/dev/null 2>&1
check second_up_refused [ $? -eq 1 ]
check lab_still_works_after_refused_up "$LINKSIM" exec clinic -- ping -n -c 2 -i 0.2 -W 2 -q 198.51.100.2
# a duration no other process on the machine uses (the pgrep below looks machine-wide)
SLEEPER="sleep 300.$$"
"$LINKSIM" exec hub -- $SLEEPER &
# wait until it has entered the namespace and exec'd (else `down` can run before it is there)
wait_for 5 pgrep -f "^$SLEEPER\$" >/dev/null || fail sleeper_started
pid=$(cat /run/pirogue-linksim/emu.pid)
kill -9 "$pid"
wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
check lab_broken_after_kill9 bash -c "! '$LINKSIM' exec clinic -- ping -n -c 1 -W 1 -q 198.51.100.2 >/dev/null"
"$LINKSIM" down
check down_after_kill9_succeeds [ $? -eq 0 ]
check down_after_kill9_leaves_nothing nothing_left
check down_killed_processes_in_namespace bash -c "! pgrep -f '^$SLEEPER\$' >/dev/null"
"$LINKSIM" down
check down_is_idempotent [ $? -eq 0 ]

"$LINKSIM" run --profile lan -- bash -c "'$LINKSIM' exec clinic -- ping -n -c 1 -W 2 -q 198.51.100.2 >/dev/null && exit 3" >/dev/null
check run_returns_command_status [ $? -eq 3 ]
check run_tears_down nothing_left
"$LINKSIM" run --profile lan -- false >/dev/null
check run_returns_failure_status [ $? -eq 1 ]
check run_tears_down_after_failure nothing_left
"$LINKSIM" run --profile lan -- /nonexistent/command >/dev/null 2>&1
check run_missing_command_is_127 [ $? -eq 127 ]
check run_tears_down_after_exec_failure nothing_left
"$LINKSIM" exec elsewhere -- true 2>/dev/null
check exec_bad_namespace_is_usage_error [ $? -eq 2 ]
finish
