#!/bin/bash
# fuzz_smoke: every libFuzzer target still builds with clang (ASan + UBSan) and survives a short
# run from its seed corpus (`make fuzz` with FUZZ_SECONDS, default 3 here). One check per target.
# Skipped inside `make asan` (the fuzz build has its own sanitizers; building it twice is waste).
. "$(dirname "$0")/lib.bash"
case $BUILD in */build-asan) echo "skipped: fuzz targets are sanitized builds already"; exit 77 ;; esac
command -v clang >/dev/null || { fail clang_installed "clang missing (make deps)"; finish; }
out=$(make -C "$TOP" --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-3}" 2>&1)
rc=$?
echo "$out" | tail -40 | sed 's/^/# /'
n=0
while read -r status name _; do
	case $status in
	ok) pass "$name"; n=$((n + 1)) ;;
	FAIL) fail "$name"; n=$((n + 1)) ;;
	esac
done < <(echo "$out" | grep -E '^(ok|FAIL) +fuzz_')
[ "$n" -eq "$(ls "$TOP"/tests/fuzz/fuzz_*.c | wc -l)" ] || fail every_target_ran "ran $n targets"
[ "$rc" -eq 0 ] || fail make_fuzz_status "make fuzz exited $rc"
finish
