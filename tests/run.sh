#!/bin/sh
# Runs every unit test program, then the integration suite, then the
# end-to-end client suite (tests/e2e), and ends with one line
# "N passed, N failed". Exit status 1 when anything failed.
# usage: tests/run.sh UNIT_BIN_DIR HLSFS_BINARY
set -u
unit_dir=$1
hlsfs=$2
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

for t in "$unit_dir"/test_*; do
    [ -x "$t" ] || continue
    "$t" >>"$log" 2>&1 || status=1
done
grep -E '^(PASS|FAIL)' "$log" | grep '^FAIL' || true
unit_pass=$(grep -c '^PASS' "$log")
unit_fail=$(grep -c '^FAIL' "$log")
echo "unit: $unit_pass passed, $unit_fail failed"

: >"$log"
media=${HLSFS_MEDIA:-$top/../shared/media}
if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    echo "FAIL integration: needs root and /dev/fuse" | tee -a "$log"
    status=1
else
    python3 "$top/tests/integration/run.py" --hlsfs "$hlsfs" --media "$media" \
        2>&1 | tee "$log" || status=1
fi
int_pass=$(grep -c '^PASS' "$log")
int_fail=$(grep -c '^FAIL' "$log")

: >"$log"
if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    echo "FAIL e2e: needs root and /dev/fuse" | tee -a "$log"
    status=1
else
    python3 "$top/tests/e2e/run.py" --hlsfs "$hlsfs" --media "$media" \
        2>&1 | tee "$log" || status=1
    grep -q '^e2e: [0-9]* passed' "$log" ||
        echo "FAIL e2e: the suite ended without its summary line" | tee -a "$log"
fi
e2e_pass=$(grep -c '^PASS' "$log")
e2e_fail=$(grep -c '^FAIL' "$log")

passed=$((unit_pass + int_pass + e2e_pass))
failed=$((unit_fail + int_fail + e2e_fail))
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
