#!/bin/bash
# Runs the whole suite: every unit-test binary (cmocka), then every integration script.
# Counts individual test cases and ends with one line "N passed, N failed, N skipped".
#
# Integration scripts (tests/integration/*.sh) print "ok NAME" / "not ok NAME" per check and
# exit non-zero if any failed; exit 77 means skipped (e.g. not root). A script that dies
# without reporting any "not ok" counts as one failure.
#
# Environment: BUILD (build dir), ONLY=regex to select tests by file name.
set -u
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.." || exit 2
passed=0 failed=0 skipped=0
failures=()
log_dir=$BUILD/test-logs
mkdir -p "$log_dir"

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]] && continue
	out=$log_dir/$name.log
	timeout 600 "$t" >"$out" 2>&1
	rc=$?
	p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$4} END {print s+0}')
	f=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name (see $out)")
		echo "FAIL $name: $p passed, $f failed"
		grep -E '^\[  (FAILED|ERROR)|Failure|error:|ERROR' "$out" | head -20 | sed 's/^/    /'
	else
		echo "ok   $name: $p passed"
	fi
done

for s in tests/integration/*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" .sh)
	[ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]] && continue
	out=$log_dir/$name.log
	timeout 1800 bash "$s" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "skip $name: $(tail -1 "$out")"
		continue
	fi
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name (see $out)")
		echo "FAIL $name: $p passed, $f failed (exit $rc)"
		grep -E '^not ok ' "$out" | head -20 | sed 's/^/    /'
		tail -15 "$out" | sed 's/^/    | /'
	else
		echo "ok   $name: $p passed"
	fi
done

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
