#!/usr/bin/env python3
"""The layer rules of src/ (README "Architecture"), checked on the object
files of a build: no function of a file calls into a layer above its own,
no call cycle between files, LMDB only in src/store, FUSE only in
src/face, no title header in src/format. Prints each breach; exit 1 when
there is one.

    tests/tools/layers.py build/rel
"""

import collections
import glob
import os
import re
import subprocess
import sys

ORDER = ["face", "title", "sched", "make", "format", "store", "base"]


def symbols(obj, defined):
    args = ["nm", "--defined-only", "-g", obj] if defined else ["nm", "-u", obj]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    for ln in out.splitlines():
        p = ln.split()
        if defined and len(p) == 3 and p[1] in "TDBRC":
            yield p[2]
        elif not defined and p:
            yield p[-1]


def main(argv):
    build = argv[1] if len(argv) > 1 else "build/rel"
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    objs = sorted(glob.glob(os.path.join(build, "*", "*.o")))
    objs = [o for o in objs if o.split(os.sep)[-2] in ORDER]
    if not objs:
        sys.exit("layers: no objects under %s/LAYER/" % build)
    name = {o: "%s/%s" % (o.split(os.sep)[-2], os.path.basename(o)[:-2]) for o in objs}
    owner = {}
    for o in objs:
        for s in symbols(o, True):
            owner[s] = name[o]
    calls = collections.defaultdict(set)
    bad = []
    for o in objs:
        for s in symbols(o, False):
            dst = owner.get(s)
            if dst and dst != name[o]:
                calls[name[o]].add(dst)
                a, b = name[o].split("/")[0], dst.split("/")[0]
                if ORDER.index(b) < ORDER.index(a):
                    bad.append("%s calls %s (%s), a layer above" % (name[o], s, dst))
    state = {}

    def visit(u, path):
        state[u] = 1
        path.append(u)
        for v in sorted(calls[u]):
            if state.get(v) == 1:
                bad.append("call cycle: " + " -> ".join(path[path.index(v):] + [v]))
            elif not state.get(v):
                visit(v, path)
        path.pop()
        state[u] = 2

    for u in sorted(calls):
        if not state.get(u):
            visit(u, [])
    rules = [(r"#include\s*<lmdb\.h>", "store", "includes LMDB"),
             (r"#include\s*<fuse", "face", "includes FUSE")]
    for src in sorted(glob.glob(os.path.join(top, "src", "*", "*.c"))) + \
            sorted(glob.glob(os.path.join(top, "include", "hlsfs", "*.h"))):
        text = open(src).read()
        layer = src.split(os.sep)[-2]
        for pat, home, what in rules:
            if re.search(pat, text) and layer != home:
                bad.append("%s %s outside src/%s" % (os.path.relpath(src, top), what, home))
        if layer == "format" and re.search(r'#include "hlsfs/(title|library|record)\.h"', text):
            bad.append("%s includes a title header" % os.path.relpath(src, top))
    for b in bad:
        print("FAIL layers: " + b)
    print("layers: %d files, %d breaches" % (len(objs), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
