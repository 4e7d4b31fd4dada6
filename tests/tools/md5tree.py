#!/usr/bin/env python3
"""md5 of every file a mount shows: mounts SOURCE with a fresh cache,
reads every playlist and segment, prints "md5  size  path" lines sorted by
path, and unmounts. Two builds that must make the same bytes give the same
list (compare with diff).

    tests/tools/md5tree.py ./hlsfs SOURCE > before.txt
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import time


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    hlsfs, source = argv[1], os.path.abspath(argv[2])
    opts = argv[3:]
    base = tempfile.mkdtemp(prefix="hlsfs-md5-")
    mnt, cache = os.path.join(base, "mnt"), os.path.join(base, "cache")
    os.makedirs(mnt)
    log = open(os.path.join(base, "log"), "wb")
    o = ",".join(["cache_dir=" + cache] + opts)
    proc = subprocess.Popen([hlsfs, "-f", "-o", o, source, mnt], stderr=log)
    try:
        for _ in range(200):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        else:
            sys.exit("md5tree: the mount did not come up")
        rows = []
        for root, dirs, files in os.walk(mnt):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                rel = os.path.relpath(p, mnt)
                if rel.startswith("source") or "/source." in rel:
                    continue
                try:
                    with open(p, "rb") as fh:
                        data = fh.read()
                    rows.append("%s  %d  %s" % (hashlib.md5(data).hexdigest(), len(data), rel))
                except OSError as e:
                    rows.append("error:%s  -  %s" % (e.errno, rel))
        print("\n".join(sorted(rows, key=lambda r: r.split("  ")[-1])))
    finally:
        subprocess.run(["fusermount3", "-u", mnt], check=False)
        proc.wait(timeout=30)
        subprocess.run(["rm", "-rf", base], check=False)


if __name__ == "__main__":
    main(sys.argv)
