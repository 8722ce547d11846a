# tools/demo_lib.bash — what the demo scripts share (sourced, not run): the step printer and a
# way to run one step on its own (bringing the lab up around it under the lab lock).
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
LINKSIM=$BUILD/linksim
HUB=198.51.100.2
CLINIC=198.51.100.1
n=0

title() { n=$((n + 1)); printf '\n\033[1m== Step %d: %s\033[0m\n' "$n" "$*"; }
say() { printf '   %s\n' "$*"; }
run() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; return "${PIPESTATUS[0]}"; }

# demo_standalone NAME — runs step_NAME alone on a fresh lab (profile $PROFILE, default geo-sat).
demo_standalone() {
	[ "$(id -u)" -eq 0 ] || { echo "demo_$1: needs root (the link lab)" >&2; exit 1; }
	exec 9>/run/lock/pirogue-linksim.lock
	flock 9
	"$LINKSIM" down >/dev/null 2>&1
	"$LINKSIM" up --profile "${PROFILE:-geo-sat}" >/dev/null || exit 1
	trap '"$LINKSIM" down >/dev/null 2>&1' EXIT
	"step_$1"
}
