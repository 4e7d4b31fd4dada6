#!/bin/sh
# Runs every unit test program, the fuzz target on every regression input
# (tests/fuzz/regress, with UNIT_BIN_DIR/fuzz_replay), the layer rules of
# src/ (tests/tools/layers.py on the build's objects), the integration
# suite, a short fuzz-mount run (tests/fuzz/mount.py --short), then the
# end-to-end client suite (tests/e2e), and ends with one line
# "N passed, N failed". Exit status 1 when anything failed.
# Without root or /dev/fuse, the mounting suites each count as a FAIL;
# "make unit" runs only the unit programs (MOUNT_SUITES "").
# usage: tests/run.sh UNIT_BIN_DIR HLSFS_BINARY [MOUNT_SUITES]
# MOUNT_SUITES: the suites to mount, "integration fuzz-mount e2e" unless
# given ("" for none: the unit programs only, no fuzz regressions)
set -u
unit_dir=$1
hlsfs=$2
suites=${3-integration fuzz-mount e2e}
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

# fuzz_regress: the fuzz target on each regression input, one process
# each (a sanitizer report ends it), 120 s at most; one PASS or FAIL line
# per input, then "fuzz-regress: N passed, N failed".
fuzz_regress() {
    : >"$log"
    replay=$unit_dir/fuzz_replay
    for f in "$top"/tests/fuzz/regress/*; do
        [ -f "$f" ] || continue
        name="fuzz-regress ${f##*/}"
        if [ ! -x "$replay" ]; then
            echo "FAIL $name: $replay is not built"
        elif timeout 120 "$replay" "$f" >"$log.out" 2>&1; then
            echo "PASS $name"
        else
            echo "FAIL $name: status $?: $(grep -m1 -E 'ERROR|runtime error' "$log.out")"
            tail -n 40 "$log.out"
        fi
    done | tee "$log"
    rm -f "$log.out"
    np=$(grep -c '^PASS' "$log")
    nf=$(grep -c '^FAIL' "$log")
    echo "fuzz-regress: $np passed, $nf failed"
    passed=$((passed + np))
    failed=$((failed + nf))
}

# mount_suite NAME SCRIPT [ARGS]: run tests/SCRIPT on the binary and add
# its PASS and FAIL lines to the totals; a run without its summary line
# "NAME: N passed, N failed" counts as a FAIL.
mount_suite() {
    name=$1 script=$2
    shift 2
    : >"$log"
    if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
        echo "FAIL $name: needs root and /dev/fuse" | tee -a "$log"
    else
        python3 "$top/tests/$script" --hlsfs "$hlsfs" --media "$media" "$@" \
            2>&1 | tee "$log"
        grep -q "^$name: [0-9]* passed" "$log" ||
            echo "FAIL $name: the suite ended without its summary line" | tee -a "$log"
    fi
    passed=$((passed + $(grep -c '^PASS' "$log")))
    failed=$((failed + $(grep -c '^FAIL' "$log")))
}

# the fuzz regressions go with the mount suites (not with the unit
# programs alone)
if [ -n "$suites" ]; then
    fuzz_regress
    # the layer rules of src/, on the objects the unit programs were built
    # from (README "Architecture")
    python3 "$top/tests/tools/layers.py" "$unit_dir/.." | tee "$log"
    passed=$((passed + $(grep -c '^layers: .* 0 breaches' "$log")))
    failed=$((failed + $(grep -c '^FAIL' "$log")))
fi
for suite in $suites; do
    case $suite in
    integration) mount_suite integration integration/run.py ;;
    fuzz-mount)  mount_suite fuzz-mount fuzz/mount.py --short ;;
    e2e)         mount_suite e2e e2e/run.py ;;
    *)           echo "FAIL $suite: no such suite"; failed=$((failed + 1)) ;;
    esac
done

[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
