# tests/integration/lib.bash — helpers sourced by integration scripts (not a test itself).
# Usage: . "$(dirname "$0")/lib.bash"
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
LINKSIM=$BUILD/linksim
PIROGUE=$BUILD/pirogue
PIROGUED=$BUILD/pirogued
VECTORS=${VECTORS:-$TOP/../shared/vectors}
_fails=0

# ok NAME / not ok NAME — one line per check, counted by tests/run.sh.
check() { # check NAME COMMAND...
	local name=$1; shift
	if "$@"; then echo "ok $name"; else echo "not ok $name"; _fails=$((_fails + 1)); fi
}
pass() { echo "ok $1"; }
fail() { echo "not ok $1${2:+ — $2}"; _fails=$((_fails + 1)); }
# Ends the script with the right status.
finish() { [ "$_fails" -eq 0 ]; exit $?; }
need_root() { [ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }; }
# wait_for TIMEOUT_S COMMAND... — polls a condition (every 50 ms) until true or the deadline.
wait_for() {
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	until "$@"; do
		[ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
		sleep 0.05
	done
}
# Runs the body under a lock so two suites (or two developers) never share one link lab.
lab_lock() { exec 9>/run/lock/pirogue-linksim.lock; flock 9; }
