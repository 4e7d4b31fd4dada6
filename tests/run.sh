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
passed=$unit_pass
failed=$unit_fail

# mount_suite NAME: run tests/NAME/run.py on the binary and add its PASS
# and FAIL lines to the totals; a run without its summary line
# "NAME: N passed, N failed" counts as a FAIL.
mount_suite() {
    : >"$log"
    if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
        echo "FAIL $1: needs root and /dev/fuse" | tee -a "$log"
    else
        python3 "$top/tests/$1/run.py" --hlsfs "$hlsfs" --media "$media" \
            2>&1 | tee "$log"
        grep -q "^$1: [0-9]* passed" "$log" ||
            echo "FAIL $1: the suite ended without its summary line" | tee -a "$log"
    fi
    passed=$((passed + $(grep -c '^PASS' "$log")))
    failed=$((failed + $(grep -c '^FAIL' "$log")))
}

mount_suite integration
mount_suite e2e

[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
