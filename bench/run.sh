#!/bin/bash
# `make bench`: runs every benchmark (build/bench/bench_* programs and bench/*.sh scripts other
# than this one) and prints one table. Each benchmark prints rows as
#   ROW<TAB>metric<TAB>value<TAB>anchor<TAB>anchor value<TAB>ratio
# where the anchor is measured in the same run. Other output goes to $BUILD/bench-logs/.
# ONLY=regex selects benchmarks by file name.
set -u
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.." || exit 2
logs=$BUILD/bench-logs
mkdir -p "$logs"
rows=$logs/rows.tsv
: >"$rows"
status=0
run_one() { # name command...
	local name=$1; shift
	[ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]] && return
	echo "bench: $name ..." >&2
	if ! "$@" >"$logs/$name.out" 2>"$logs/$name.err"; then
		echo "bench: $name FAILED (see $logs/$name.err)" >&2
		tail -5 "$logs/$name.err" >&2
		printf '%s\t%s\t%s\t%s\t%s\n' "$name: FAILED" "-" "-" "-" "-" >>"$rows"
		status=1
	fi
	grep -P '^ROW\t' "$logs/$name.out" | cut -f2- >>"$rows"
}
for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] && run_one "$(basename "$b")" "$b"
done
for s in bench/*.sh; do
	[ "$(basename "$s")" = run.sh ] && continue
	[ -f "$s" ] && run_one "$(basename "$s" .sh)" bash "$s"
done
echo
printf '%s\t%s\t%s\t%s\t%s\n' "metric" "value" "anchor" "anchor value" "ratio" |
	cat - "$rows" | column -t -s $'\t'
exit $status
