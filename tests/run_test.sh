#!/bin/sh
# Checks tests/run.sh's counting of unit programs: a program that crashes
# before its summary, or exits non-zero without one, is a failure.
# Prints "PASS run.sh/..." or "FAIL run.sh/..." lines; exit status 1 when
# any failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
status=0

# prog NAME BODY: a fake unit program
prog() {
    printf '#!/bin/sh\n%s\n' "$2" >"$dir/$1"
    chmod +x "$dir/$1"
}

# expect CASE WANT_LINE WANT_STATUS: run.sh on the programs in $dir
expect() {
    out=$("$top/tests/run.sh" "$dir" /nonexistent "" 2>&1)
    rc=$?
    if printf '%s\n' "$out" | grep -qx "$2" && [ "$rc" -eq "$3" ]; then
        echo "PASS run.sh/$1"
    else
        echo "FAIL run.sh/$1: want \"$2\" and status $3, got status $rc:"
        printf '%s\n' "$out" | sed 's/^/    /'
        status=1
    fi
    rm -f "$dir"/test_*
}

prog test_ok 'echo "PASS a"; echo "test_ok: 1 passed, 0 failed"'
expect all-pass "unit: 1 passed, 0 failed" 0

prog test_ok 'echo "PASS a"; echo "test_ok: 1 passed, 0 failed"'
prog test_crash 'echo "PASS b"; kill -SEGV $$'
expect crash-before-summary "unit: 2 passed, 1 failed" 1

prog test_exit 'echo "PASS c"; exit 1'
expect exit-without-summary "unit: 1 passed, 1 failed" 1

prog test_leak 'echo "PASS d"; echo "test_leak: 1 passed, 0 failed"; exit 23'
expect nonzero-after-summary "unit: 1 passed, 1 failed" 1

prog test_fail 'echo "FAIL e: why"; echo "test_fail: 0 passed, 1 failed"; exit 1'
expect failed-case "unit: 0 passed, 1 failed" 1

prog test_skip 'echo "PASS f"; echo "SKIP g: needs root"; echo "test_skip: 1 passed, 0 failed"'
expect skipped-case "unit: 1 passed, 0 failed, 1 skipped" 0

exit $status
