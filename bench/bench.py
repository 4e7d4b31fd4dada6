#!/usr/bin/env python3
# Driver of `make bench`: installs what is missing, generates the sources
# once, runs the measurements of measures.py and writes bench/RESULTS.md.
#
#   BENCH_RUNS=N      runs per timed figure (default 3)
#   BENCH_MEM_RUNS=N  runs of the 4-reader memory figure (default: BENCH_RUNS)
#   BENCH_ONLY=1,4    run only these measurements; the report then goes to
#                     bench/.cache/RESULTS.partial.md, not RESULTS.md
#
# Benchmarks report numbers and never pass or fail: the exit status is 0
# unless the harness itself broke.

import os
import resource
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report  # noqa: E402
import sources  # noqa: E402
from common import (BENCH_DIR, CACHE_DIR, HLSFS, WORK_DIR, ProductError,  # noqa: E402
                    ensure_packages, log, machine_facts, rmtree)
from measures import (FFPROBE_SCAN, MEASUREMENTS, Ctx, calibrate,  # noqa: E402
                      ffmpeg_hls_cmdline, row)
from mounts import ffmpegfs_cmdline, hlsfs_cmdline  # noqa: E402

PACKAGES = ["ffmpeg", "ffmpegfs", "fuse3", "python3"]


def _cpu_busy_seconds():
    """Busy CPU time of the whole machine so far (from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    """CPU time of this driver and every process it waited for (the
    daemons, ffmpeg, ffprobe, ls ...)."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _binary_id():
    st = os.stat(HLSFS)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _selected():
    only = os.environ.get("BENCH_ONLY", "").strip()
    if not only:
        return [m for m, _, _ in MEASUREMENTS], False
    want = {int(x) for x in only.replace(" ", "").split(",") if x}
    return [m for m, _, _ in MEASUREMENTS if m in want], True


def main():
    runs = max(1, int(os.environ.get("BENCH_RUNS", "3")))
    selected, partial = _selected()
    if not os.access(HLSFS, os.X_OK):
        sys.exit(f"bench: {HLSFS} missing; run make first")
    ensure_packages(PACKAGES)
    os.makedirs(CACHE_DIR, exist_ok=True)
    rmtree(WORK_DIR)
    os.makedirs(WORK_DIR)
    src = sources.ensure_sources()

    started = time.strftime("%Y-%m-%d %H:%M %Z")
    machine = machine_facts()
    binary = _binary_id()
    t0 = time.monotonic()
    busy0, own0 = _cpu_busy_seconds(), _own_cpu_seconds()
    mem_runs = max(1, int(os.environ.get("BENCH_MEM_RUNS", str(runs))))
    ctx = Ctx(runs, src, mem_runs)
    rows, errors = [], []
    calibrate(ctx)
    for m, name, fn in MEASUREMENTS:
        if m not in selected:
            continue
        log(f"measurement {m}: {name}")
        try:
            rows.extend(fn(ctx))
        except ProductError as e:
            log(f"measurement {m} failed: {e}")
            rows.append(row(m, name, f"failed: {e}"))
        except Exception as e:  # a fault of the harness: report and go on
            traceback.print_exc()
            errors.append(f"measurement {m} ({name}): "
                          f"{type(e).__name__}: {e}")
            rows.append(row(m, name, "harness error"))
    wall = time.monotonic() - t0
    other = (_cpu_busy_seconds() - busy0) - (_own_cpu_seconds() - own0)
    cores = os.cpu_count() or 1
    load = (f"{max(other, 0):.0f} CPU-seconds used by processes outside "
            f"the benchmark, {100 * max(other, 0) / (wall * cores):.0f} % "
            f"of the machine's {cores} cores over the run (timings are "
            "disturbed when this is high)")

    if _binary_id() != binary:
        ctx.note(0, "./hlsfs was rebuilt while the benchmark ran (another "
                 "build in this tree): later figures may come from the "
                 "newer binary; the git revision above is the one at the "
                 "start.")
    info = dict(
        machine=machine,
        commands=[
            ("hlsfs", hlsfs_cmdline()),
            ("ffmpegfs", ffmpegfs_cmdline()),
            ("ffmpeg -f hls", ffmpeg_hls_cmdline()),
            ("ffprobe packet scan", " ".join(FFPROBE_SCAN) +
             " FILE > /dev/null"),
        ],
        sources=sources.describe(), rows=rows, samples=ctx.samples,
        notes=ctx.notes, runs=runs, selected=selected, started=started,
        wall=wall, load=load, errors=errors)
    out = (os.path.join(CACHE_DIR, "RESULTS.partial.md") if partial
           else os.path.join(BENCH_DIR, "RESULTS.md"))
    text = report.write(out, info)
    print(text)
    log(f"wrote {out} in {wall / 60:.1f} min")
    rmtree(WORK_DIR)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
