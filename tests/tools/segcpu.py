#!/usr/bin/env python3
"""CPU seconds (user + system of the hlsfs process) spent making each
listed segment: mounts SOURCE with a fresh cache and max_ahead=0, analyses
each title first (not counted), then reads the segments one at a time and
prints "path  CPU s  wall s" for each. Two builds run on the same list show
what a change costs per segment (the filters of vfilter.c, say).

    tests/tools/segcpu.py ./hlsfs SOURCE OPTIONS title/video/720p/00000.ts ...

OPTIONS: more -o options, comma-separated ("threads=2"), or "".
"""

import os
import subprocess
import sys
import tempfile
import time


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    hlsfs, source, opts, rels = argv[1], os.path.abspath(argv[2]), argv[3], argv[4:]
    base = tempfile.mkdtemp(prefix="hlsfs-cpu-")
    mnt = os.path.join(base, "mnt")
    os.makedirs(mnt)
    o = ",".join(x for x in ["cache_dir=" + os.path.join(base, "cache"), "max_ahead=0", opts] if x)
    proc = subprocess.Popen([hlsfs, "-f", "-o", o, source, mnt],
                            stderr=open(os.path.join(base, "log"), "wb"))

    def cpu():
        fields = open("/proc/%d/stat" % proc.pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        for _ in range(200):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        for rel in rels:
            os.listdir(os.path.join(mnt, rel.split("/")[0]))    # the analysis, not counted
            c0, t0 = cpu(), time.monotonic()
            with open(os.path.join(mnt, rel), "rb") as f:
                while f.read(1 << 20):
                    pass
            print("%-80s %6.2f s CPU %6.2f s wall" % (rel, cpu() - c0, time.monotonic() - t0))
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        proc.wait()


if __name__ == "__main__":
    main(sys.argv)
