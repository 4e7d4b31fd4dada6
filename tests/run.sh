#!/bin/sh
# Runs every unit test program, then the integration suite, then the
# end-to-end client suite (tests/e2e), and ends with one line
# "N passed, N failed". Exit status 1 when anything failed.
# Without root or /dev/fuse, the mounting suites each count as a FAIL;
# "make unit" runs only the unit programs (MOUNT_SUITES "").
# usage: tests/run.sh UNIT_BIN_DIR HLSFS_BINARY [MOUNT_SUITES]
# MOUNT_SUITES: the suites under tests/ to mount, "integration e2e" unless
# given ("" for none: the unit programs only)
set -u
unit_dir=$1
hlsfs=$2
suites=${3-integration e2e}
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log" "${one:-}"' EXIT
status=0

# a program's PASS and FAIL lines count; one that exits non-zero without
# a FAIL line of its own (a crash, an abort, a sanitizer report, a leak
# found at exit) or ends without its summary line "test_x: N passed, N
# failed" counts as one more FAIL
one=$(mktemp)
for t in "$unit_dir"/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" >"$one" 2>&1
    rc=$?
    cat "$one" >>"$log"
    if ! grep -q "^$name: [0-9]* passed, [0-9]* failed" "$one"; then
        echo "FAIL $name: ended without its summary line (exit status $rc)" >>"$log"
    elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$one"; then
        echo "FAIL $name: exit status $rc with no failed case" >>"$log"
    fi
done
rm -f "$one"
grep -E '^(FAIL|SKIP)' "$log" || true
unit_pass=$(grep -c '^PASS' "$log")
unit_fail=$(grep -c '^FAIL' "$log")
unit_skip=$(grep -c '^SKIP' "$log")
# a SKIP line (a case this run cannot make, e.g. as a user other than
# root) is shown and counted apart
if [ "$unit_skip" -gt 0 ]; then
    echo "unit: $unit_pass passed, $unit_fail failed, $unit_skip skipped"
else
    echo "unit: $unit_pass passed, $unit_fail failed"
fi

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

for suite in $suites; do
    mount_suite "$suite"
done

[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
