#!/bin/bash
# Short smoke run of every libFuzzer target built by `make fuzz` (FUZZ_SECONDS each, default 20),
# starting from its seed corpus in tests/fuzz/corpus/<target>/ when there is one.
# Crashes are saved under $BUILD/fuzz/artifacts/. Exit status: non-zero if any target crashed.
set -u
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-20}
cd "$(dirname "$0")/../.." || exit 2
mkdir -p "$BUILD/fuzz/artifacts"
bad=0 n=0
for f in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=$BUILD/fuzz/corpus/$name
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
	if "$f" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$BUILD/fuzz/artifacts/$name-" "$corpus" >"$BUILD/fuzz/$name.log" 2>&1; then
		echo "ok   $name ($(grep -Eo 'cov: [0-9]+' "$BUILD/fuzz/$name.log" | tail -1), ${SECS}s)"
	else
		echo "FAIL $name (see $BUILD/fuzz/$name.log)"
		tail -30 "$BUILD/fuzz/$name.log"
		bad=$((bad + 1))
	fi
	n=$((n + 1))
done
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
