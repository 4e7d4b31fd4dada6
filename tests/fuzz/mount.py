#!/usr/bin/env python3
"""fuzz-mount: hlsfs serving damaged files. Copies of media files mutated
by zzuf (fixed seeds, a few bytes in a thousand changed) are put in a
source directory and mounted with hlsfs (the sanitizer build, for make
fuzz-mount); every playlist and segment of every title is read.

    python3 tests/fuzz/mount.py --hlsfs build/san/hlsfs --media ../shared/media
        [--short] [--seeds 1-4] [--ratio 0.001] [--read-timeout 90]
        [-o NAME=VALUE ...] [--keep]

What must hold: every read returns (data, or EIO) within --read-timeout
seconds; the daemon is alive after every title and exits cleanly at the
unmount; its stderr holds no sanitizer report. The mount uses 2 s
segments, one small rung, the ultrafast preset and no readahead, so that a
segment's work bound in the daemon (30 s + 10 x the media time it decodes)
stays under the read timeout and the run stays short.

Run as root (FUSE). Prints "PASS <name>" or "FAIL <name>: <reason>" per
check, then "fuzz-mount: N passed, N failed"; the campaign's numbers go to
stderr. Python 3 standard library only.
"""

import argparse
import errno
import os
import re
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from hlsit.harness import Mount, expect, fail, note, run_suite  # noqa: E402

# short, small sources of several containers and codecs
SHORT_TITLES = [
    "flv-h264-aac-1080x720-1.1s.flv",
    "mkv-h264-yuv444-aac-chapters-320x240-5s.mkv",
    "ts-dvb-mpeg2-576i-interlaced-mp2-3.3s.ts",
    "mp4-h264-2x-aac-tracks-multiaudio-320x176-10s.mp4",
    "webm-vp9-odd-dims-161x121-1s.webm",
    "avi-mpeg4part2-mp3-960x400-4s.avi",
]
SHORT_SEEDS = [1, 2]
FULL_TITLES = SHORT_TITLES + [
    "3gp-h263-qcif-176x144-1s.3gp",
    "mkv-h264-ac3-srt-subtitles-1080x720-1.2s.mkv",
    "mkv-h264-ac3-ass-subtitles-1080x720-1.1s.mkv",
    "mkv-h264high-noaudio-real-asl-640x480-3.7s.mkv",
    "mov-iphone14pro-hevc10bit-dolbyvision-rotate90-aac-5frames.mov",
    "mp4-h264high-bframes-aac-vfr-phone-geotag-518x488-5.6s.mp4",
    "mp4-android-phone-h264-aac-rotate180-vfr-720p-2.4s.mp4",
    "ts-dvb-h264-1080i-interlaced-eac3-dvbsub-1.9s.ts",
    "ts-h264high-aac-1024x576-12s.ts",
    "ts-mpeg2-1080p24-mp2-bbb-2.5s.ts",
    "webm-vp9-opus-720p-vfr-mediarecorder-noduration.webm",
    "webm-vp9-profile2-10bit-426x240-3s.webm",
    "webm-vp8-vorbis-5.1ch-bbb-1080p60-1s.webm",
]
FULL_SEEDS = [1, 2, 3]

OPTIONS = {"ladder": "144:200k", "preset": "ultrafast", "max_ahead": 0,
           "threads": 1, "max_sessions": 2}
SEGMENT_TIME = 2
SANITIZER = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer"
                       r"|runtime error:|ThreadSanitizer)")


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += range(int(lo), int(hi or lo) + 1)
    return seeds


def mutate(zzuf, src, dst, seed, ratio):
    """zzuf as a filter: a copy of src with about ratio of its bits flipped."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        r = subprocess.run([zzuf, "-s", str(seed), "-r", str(ratio)], stdin=fin,
                           stdout=fout, stderr=subprocess.PIPE, timeout=60)
    expect(r.returncode == 0, "zzuf failed on %s: %s" % (src, r.stderr.decode()[:200]))


class Stats:
    def __init__(self):
        self.titles = self.reads = self.eio = self.hangs = self.crashes = 0
        self.errors = 0
        self.slowest = (0.0, "")


class Walker:
    """Reads one title on a thread of its own, so that a read that never
    returns can be seen (and the mount aborted) by the main thread."""

    def __init__(self, root, stats):
        self.root = root
        self.stats = stats
        self.lock = threading.Lock()
        self.current = None          # (path, start time) of the call under way
        self.problems = []
        self.done = threading.Event()

    def _call(self, path, fn):
        with self.lock:
            self.current = (path, time.monotonic())
        try:
            return fn()
        finally:
            with self.lock:
                took = time.monotonic() - self.current[1]
                self.current = None
            if took > self.stats.slowest[0]:
                self.stats.slowest = (took, os.path.relpath(path, self.root))

    def _read(self, path):
        def whole():
            with open(path, "rb", buffering=0) as f:
                n = 0
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        return n
                    n += len(b)
        self.stats.reads += 1
        try:
            self._call(path, whole)
        except OSError as e:
            if e.errno == errno.EIO:
                self.stats.eio += 1
            else:
                self.stats.errors += 1
                self.problems.append("%s: %s" % (os.path.relpath(path, self.root),
                                                 os.strerror(e.errno)))

    def _walk(self, d):
        names = sorted(self._call(d, lambda: os.listdir(d)))
        # playlists and ERROR before segments, directories last
        for name in sorted(names, key=lambda n: (not n.endswith(".m3u8") and n != "ERROR", n)):
            path = os.path.join(d, name)
            if name.startswith("source."):
                continue           # the source itself, not made by hlsfs
            st = self._call(path, lambda: os.stat(path))
            if stat.S_ISDIR(st.st_mode):
                self._walk(path)
            else:
                self._read(path)

    def run(self, title_dir):
        try:
            self._walk(title_dir)
        except OSError as e:
            self.problems.append("%s: %s" % (os.path.relpath(title_dir, self.root),
                                             os.strerror(e.errno)))
        finally:
            self.done.set()

    def overdue(self, limit):
        with self.lock:
            if self.current and time.monotonic() - self.current[1] > limit:
                return self.current[0]
        return None


class Campaign:
    def __init__(self, args, results, base):
        self.args = args
        self.results = results
        self.base = base
        self.stats = Stats()
        self.source = os.path.join(base, "source")
        self.mountpoint = os.path.join(base, "mnt")
        self.mount = None
        self.mounts = []
        self.nmount = 0

    def start_mount(self):
        self.nmount += 1
        m = Mount(self.args.hlsfs, self.source, self.mountpoint,
                  os.path.join(self.base, "cache%d" % self.nmount),
                  os.path.join(self.base, "hlsfs%d.log" % self.nmount),
                  segment_time=SEGMENT_TIME, label="fuzz-mount",
                  options=dict(OPTIONS, **self.args.option))
        m.start()
        self.mounts.append(m)
        self.mount = m

    def make_sources(self, titles, seeds):
        os.makedirs(self.source)
        made = []
        missing = [t for t in titles if not os.path.exists(os.path.join(self.args.media, t))]
        expect(not missing, "not in %s: %s" % (self.args.media, ", ".join(missing)))
        for t in titles:
            stem, ext = os.path.splitext(t)
            for s in seeds:
                name = "%s.z%d%s" % (stem, s, ext)
                mutate(self.args.zzuf, os.path.join(self.args.media, t),
                       os.path.join(self.source, name), s, self.args.ratio)
                made.append(name)
        return made

    def read_title(self, name):
        """Every playlist and segment of one title, each read within the
        bound; the daemon alive afterwards."""
        self.stats.titles += 1
        w = Walker(self.mountpoint, self.stats)
        t = threading.Thread(target=w.run, args=(os.path.join(self.mountpoint, name),),
                             daemon=True)
        t.start()
        while not w.done.wait(0.25):
            late = w.overdue(self.args.read_timeout)
            if late:
                self.stats.hangs += 1
                note("%s: no answer after %d s; aborting the mount"
                     % (os.path.relpath(late, self.mountpoint), self.args.read_timeout))
                self.mount.abort("read of %s took more than %d s" % (late, self.args.read_timeout))
                w.done.wait(30)
                self.restart()
                fail("%s: no answer within %d s" % (os.path.relpath(late, self.mountpoint),
                                                   self.args.read_timeout))
        if not self.mount.alive():
            self.stats.crashes += 1
            note("hlsfs died reading %s: %s" % (name, self.mount.log_tail(30)))
            self.restart()
            fail("hlsfs died (status %s)" % self.mount.proc.returncode)
        if w.problems:
            fail("; ".join(w.problems[:6]))

    def restart(self):
        self.mount.stop()
        self.start_mount()

    def run(self):
        a = self.args
        titles = a.titles.split(",") if a.titles else (SHORT_TITLES if a.short
                                                       else FULL_TITLES)
        seeds = parse_seeds(a.seeds) if a.seeds else (SHORT_SEEDS if a.short else FULL_SEEDS)
        ok, names = self.results.run("fuzz-mount mutate", self.make_sources, titles, seeds,
                                     timeout=300)
        if not ok:
            return
        ok, _ = self.results.run("fuzz-mount mount", self.start_mount, timeout=60)
        if not ok:
            return
        started = time.monotonic()
        for name in names:
            # the harness's watchdog is a last resort behind the per-read bound
            self.results.run("fuzz-mount read %s" % name, self.read_title, name,
                             timeout=3600)
        took = time.monotonic() - started

        last = self.mount
        self.results.run("fuzz-mount daemon alive at the end",
                         lambda: expect(last.alive(), "hlsfs exited: %s" % last.log_tail()))

        def unmount():
            problems = last.stop()
            expect(not problems, "; ".join(problems))
        self.results.run("fuzz-mount clean unmount", unmount, timeout=60)

        def no_reports():
            found = []
            for m in self.mounts:
                m.stop()
                for line in m.log_text().splitlines():
                    if SANITIZER.search(line):
                        found.append("%s: %s" % (os.path.basename(m.log_path), line.strip()))
            expect(not found, "; ".join(found[:6]))
        self.results.run("fuzz-mount no sanitizer report", no_reports, timeout=60)
        s = self.stats
        note("fuzz-mount: %d titles, %d reads (%d EIO, %d other errors), %d hangs, "
             "%d crashes, %d mounts, slowest read %.1f s (%s), %.0f s of reading"
             % (s.titles, s.reads, s.eio, s.errors, s.hangs, s.crashes, self.nmount,
                s.slowest[0], s.slowest[1], took))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hlsfs", required=True, help="the hlsfs binary")
    ap.add_argument("--media", required=True, help="the media corpus directory")
    ap.add_argument("--short", action="store_true",
                    help="%d titles, seeds %s (the make check run)"
                    % (len(SHORT_TITLES), ",".join(map(str, SHORT_SEEDS))))
    ap.add_argument("--titles", help="files of --media to mutate, comma-separated "
                    "(default: %d short ones)" % len(FULL_TITLES))
    ap.add_argument("--seeds", help="zzuf seeds, e.g. 1-8 or 1,5,9 (default %s)"
                    % ",".join(map(str, FULL_SEEDS)))
    ap.add_argument("--ratio", type=float, default=0.001,
                    help="zzuf's fraction of bits flipped (default 0.001: about "
                    "8 bytes in 1000 changed)")
    ap.add_argument("--read-timeout", type=int, default=90,
                    help="seconds a read may take (default 90)")
    ap.add_argument("-o", "--option", action="append", default=[], metavar="NAME=VALUE",
                    help="another hlsfs -o option, e.g. ladder=360:800k,720:2800k")
    ap.add_argument("--zzuf", default="zzuf", help="the zzuf binary")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of crashed checks")
    args = ap.parse_args(argv)
    args.option = dict(o.partition("=")[::2] for o in args.option)
    return run_suite("fuzz-mount", "hlsfs-fuzz-",
                     lambda results, base: Campaign(args, results, base).run(),
                     keep=args.keep, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
