#!/usr/bin/env python3
"""Integration tests for hlsfs: mount the real daemon on generated fixtures
and on the shared media corpus, and check what it serves with ffprobe and
ffmpeg.

    python3 tests/integration/run.py --hlsfs ./hlsfs --media ../shared/media [--keep]

Run from the repository root, as root (FUSE mounts). Prints one line per
check, "PASS <name>" or "FAIL <name>: <reason>", then
"integration: N passed, N failed"; exits 1 if anything failed. Notes for a
human reader go to stderr. Python 3 standard library only.
"""

import argparse
import os
import shutil
import stat
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hlsit import checks as ck  # noqa: E402
from hlsit.checks import TitleView  # noqa: E402
from hlsit.fixtures import Fixtures, link_or_copy  # noqa: E402
from hlsit.harness import (Collector, Mount, Results, expect, fail,  # noqa: E402
                           install_cleanup_handlers, mounts_below, note, on_cleanup,
                           stop_all_mounts)
from hlsit.media import SourceVideo, has_video_stream, source_audio_streams  # noqa: E402

SEGMENT_TIME_ALT = 4            # the second plan, to show the option is followed
TOUCHED = "bframes.mp4"          # the fixture whose mtime changes between mounts
ALT_TITLES = ("irregular.mp4", "bframes.mp4")
EROFS_TITLE = "bframes.mp4"


class Suite:
    def __init__(self, args, results, base):
        self.args = args
        self.r = results
        self.base = base
        self.hlsfs = os.path.abspath(args.hlsfs)
        self.media = os.path.abspath(args.media) if args.media else None
        self.src = self._dir("src-")
        self.scratch = self._dir("scratch-")
        self.cache_a = self._dir("cache-a-")
        self.fx = Fixtures(self.src)
        self._sv = {}
        self._audio = {}
        self._decode = {}
        self.walk1 = {}            # rel -> stat of the first walk of mount 1
        self.hashes1 = {}          # rel -> (size, sha256) read in mount 1
        self.serving1 = []         # fixture titles that served in mount 1

    # -- helpers ------------------------------------------------------------
    def _dir(self, prefix):
        return tempfile.mkdtemp(prefix=prefix, dir=self.base)

    def new_mount(self, label, source, cache_dir, segment_time=None):
        return Mount(self.hlsfs, source, self._dir("mnt-%s-" % label), cache_dir,
                     os.path.join(self.base, "hlsfs-%s.log" % label),
                     segment_time=segment_time, label=label)

    def sv(self, path):
        if path not in self._sv:
            self._sv[path] = SourceVideo(path)
        return self._sv[path]

    def audio_src(self, path):
        if path not in self._audio:
            self._audio[path] = source_audio_streams(path)
        return self._audio[path]

    def source_decode(self, sv):
        """(frames, tolerated stderr lines) of decoding a source, cached.
        Pictures are compared by CRC for sources up to a minute long; longer
        ones are compared by count and timestamps only, to save time."""
        if sv.path not in self._decode:
            crc = (sv.end - sv.origin) <= 60
            frames, tolerated = ck.source_decode(sv, crc)
            self._decode[sv.path] = (frames, tolerated, crc)
        return self._decode[sv.path]

    def decode_check(self, tv, sv):
        frames, tolerated, crc = self.source_decode(sv)
        ck.check_decode(tv, sv, frames, tolerated, crc)
        if sv.rotation:
            note("%s: the source's container rotates the picture by %d degrees; MPEG-TS "
                 "segments carry no display matrix, so players show it unrotated"
                 % (tv.rel, sv.rotation))

    def run_mount(self, label, mount, body, needs):
        """Mount, run body(mount), and always unmount; then report the
        unmount as a check of its own."""
        mname = "%s/mount" % label
        ok, _ = self.r.run(mname, mount.start, needs=needs, timeout=60)
        try:
            # Every check of the body needs mname: if the mount failed they
            # are all reported as FAILs naming it, none silently skipped.
            body(mount, mname)
        except Exception as e:  # a bug of the suite: report it, go on with the next mount
            if self.args.verbose:
                traceback.print_exc()
            self.r.record("%s/suite_error" % label, False, "%s: %s" % (type(e).__name__, e))
        finally:
            problems = mount.stop() if mount.proc is not None else ["never started"]
        if ok:
            def unmount_result():
                if mount.aborted:
                    fail("the watchdog aborted the mount: %s" % mount.aborted)
                expect(not problems, "; ".join(problems) + "; log: " + mount.log_tail(4))
            self.r.run("%s/unmount" % label, unmount_result)
        else:
            self.r.record("%s/unmount" % label, False, "prerequisite failed: %s" % mname)

    # -- top level ----------------------------------------------------------
    def run(self):
        r = self.r
        r.run("setup/tools", self.check_tools)
        r.run("setup/fixtures", self.fx.generate, self.scratch, timeout=300)
        self.run_mount("fixtures", self.new_mount("fixtures", self.src, self.cache_a),
                       self.phase_fixtures, needs=("setup/tools", "setup/fixtures"))
        self.run_mount("remount", self.new_mount("remount", self.src, self.cache_a),
                       self.phase_remount, needs=("fixtures/mount",))
        _, new_ns = r.run("touch/source", self.touch_source, needs=("fixtures/mount",))
        self.run_mount("touch", self.new_mount("touch", self.src, self.cache_a),
                       lambda m, mn: self.phase_touch(m, mn, new_ns),
                       needs=("touch/source",))
        cache_b = self._dir("cache-b-")
        self.alt_hashes = {}
        self.run_mount("segtime4", self.new_mount("segtime4", self.src, cache_b,
                                                  segment_time=SEGMENT_TIME_ALT),
                       self.phase_segtime, needs=("setup/tools", "setup/fixtures"))
        self.run_mount("segtime4_cache_reuse",
                       self.new_mount("segtime4-reuse", self.src, self.cache_a,
                                      segment_time=SEGMENT_TIME_ALT),
                       self.phase_segtime_reuse, needs=("segtime4/mount", "fixtures/mount"))
        if self.args.no_shared:
            note("--no-shared: the shared media corpus is not tested")
        else:
            self.phase_shared()

    def check_tools(self):
        c = Collector()
        for tool in ("ffmpeg", "ffprobe", "fusermount3"):
            c.check(shutil.which(tool), "%s not found in PATH" % tool)
        c.check(os.geteuid() == 0, "not running as root")
        c.check(os.path.exists("/dev/fuse"), "/dev/fuse missing")
        c.check(os.path.isfile(self.hlsfs) and os.access(self.hlsfs, os.X_OK),
                "%s is not an executable file" % self.hlsfs)
        c.raise_if_any()

    # -- mount 1: the fixtures ----------------------------------------------
    def phase_fixtures(self, m, mname):
        r, fx = self.r, self.fx
        need = (mname,)
        r.run("fixtures/walk", self.first_walk, m.mountpoint, needs=need)
        need_w = (mname, "fixtures/walk")
        # before anything else reads this title, so its segments are not cached yet
        r.run("sizes/concurrent_readers", ck.check_concurrent_reads,
              TitleView(m.mountpoint, self.src, "irregular.mp4"),
              [("video", "original"), ("audio", "0")], needs=need_w)
        for t in fx.titles:
            self.title_checks(m.mountpoint, t, need_w)
        for rel in fx.passthrough:
            r.run("passthrough/%s" % rel, ck.check_passthrough, m.mountpoint, self.src, rel,
                  needs=need)
        r.run("dirs/mirrored", self.check_dirs, m.mountpoint, needs=need)
        r.run("dirs/video-named-directory", ck.check_mirrored_dir, m.mountpoint, self.src,
              fx.dir_like_video, needs=need)
        r.run("nonh264/%s" % fx.non_h264, self.check_non_h264, m.mountpoint, fx.non_h264,
              needs=need)
        r.run("erofs", ck.check_erofs, m.mountpoint, self.src, EROFS_TITLE, "info.nfo", "a",
              needs=need)
        r.run("erofs/xattr", ck.check_erofs_xattr, m.mountpoint,
              [os.path.join(m.mountpoint, p) for p in
               ("info.nfo", EROFS_TITLE, EROFS_TITLE + "/master.m3u8")], needs=need)
        r.run("log/index_built", self.check_log_built, m, needs=need_w)
        for rel in fx.bad:
            r.run("bad/%s" % os.path.basename(rel), self.check_bad, m.mountpoint, rel,
                  needs=need, timeout=60)
        r.run("bad/daemon_survives", self.check_survives, m, needs=need)

    def first_walk(self, mnt):
        """Stat everything before anything is read: the sizes to hold."""
        self.walk1 = ck.walk(mnt)
        c = Collector()
        src_top = sorted(os.listdir(self.src))
        c.check(sorted(os.listdir(mnt)) == src_top,
                "mount lists %s, source %s" % (sorted(os.listdir(mnt)), src_top))
        for t in self.fx.titles:
            if (t.rel + "/ERROR") not in self.walk1:
                self.serving1.append(t.rel)
        c.check(self.walk1, "empty mount")
        c.raise_if_any()

    def title_checks(self, mnt, t, needs):
        """layout, attrs, sizes, playlists, master, bandwidth, segments and
        decode of one fixture title."""
        r = self.r
        src_path = os.path.join(self.src, t.rel)
        tv = TitleView(mnt, self.src, t.rel)
        audio_k = list(range(t.n_audio))

        def layout():
            ck.check_serving_layout(tv, audio_k)
            c = Collector()
            ck.check_source_bytes(tv, c)
            c.raise_if_any()

        r.run("layout/%s" % t.rel, layout, needs=needs)
        r.run("attrs/%s" % t.rel, ck.check_title_attrs, tv, needs=needs)
        first_sizes = {rel: st.st_size for rel, st in self.walk1.items()
                       if stat.S_ISREG(st.st_mode)}
        r.run("sizes/%s" % t.rel, ck.check_title_sizes, tv, first_sizes, mnt, self.hashes1,
              needs=needs)
        def playlists():
            sv = self.sv(src_path)
            ck.check_playlists(tv, sv, sv.plan(ck.DEFAULT_SEGMENT_TIME))

        r.run("playlists/%s" % t.rel, playlists, needs=needs)
        r.run("master/%s" % t.rel,
              lambda: ck.check_master(tv, self.sv(src_path), self.audio_src(src_path)),
              needs=needs)
        r.run("bandwidth/%s" % t.rel, ck.check_bandwidth, tv, self.seg_sizes(tv), needs=needs)
        for kind, name in self.renditions_to_check(tv, ["original"], audio_k):
            self.segment_check("segments/%s/%s/%s" % (t.rel, kind, name), tv, kind, name,
                               src_path, ck.DEFAULT_SEGMENT_TIME, needs, sample=False)
        r.run("decode/%s" % t.rel, lambda: self.decode_check(tv, self.sv(src_path)),
              needs=needs, timeout=300)

    def renditions_to_check(self, tv, videos, audio_k):
        """The expected renditions plus any other the title offers."""
        want = [("video", v) for v in videos] + [("audio", str(k)) for k in audio_k]
        try:
            have = [("video", v) for v in tv.renditions("video")] + \
                   [("audio", a) for a in tv.renditions("audio")]
        except OSError:
            have = []
        return want + [x for x in have if x not in want]

    def segment_check(self, name, tv, kind, rend, src_path, segment_time, needs, sample):
        def body():
            sv = self.sv(src_path)
            audio = None
            if kind == "audio":
                srcs = self.audio_src(src_path)
                k = int(rend) if rend.isdigit() else -1
                expect(0 <= k < len(srcs), "audio/%s: the source has %d audio streams"
                       % (rend, len(srcs)))
                audio = srcs[k]
            # decode errors of the source itself may show up in its segments
            tolerated = self.source_decode(sv)[1]
            ck.check_segments(tv, kind, rend, sv, sv.plan(segment_time), audio_src=audio,
                              sample=sample, tolerated=tolerated)
        self.r.run(name, body, needs=needs, timeout=300)

    def seg_sizes(self, tv):
        def sizes(kind, name, n):
            return [os.stat(os.path.join(tv.rdir(kind, name), ck.segment_name(i, n))).st_size
                    for i in range(n)]
        return sizes

    def check_dirs(self, mnt):
        c = Collector()
        have, want = sorted(os.listdir(mnt)), sorted(os.listdir(self.src))
        c.check(have == want, "root lists %s, source %s" % (have, want))
        for rel in ("a", "a/b", "a/b/c", "bad", self.fx.dir_like_video):
            try:
                ck.check_mirrored_dir(mnt, self.src, rel)
            except Exception as e:
                c.add(str(e))
        c.raise_if_any()

    def check_non_h264(self, mnt, rel):
        """Not H.264: ERROR (exactly source.EXT and ERROR) until transcoding
        exists; once it serves, it must not offer 'original'."""
        tv = TitleView(mnt, self.src, rel)
        if "ERROR" in tv.entries():
            reason = ck.check_error_layout(tv)
            note("%s shows ERROR: %s" % (rel, reason))
        else:
            ck.check_serving_layout(tv, [], require_original=False)
            expect("original" not in tv.renditions("video"),
                   "MPEG-4 Part 2 offered as video/original")
        c = Collector()
        ck.check_source_bytes(tv, c)
        c.raise_if_any()
        ck.check_title_attrs(tv)

    def check_log_built(self, m):
        text = m.log_text()
        missing = [rel for rel in self.serving1
                   if not ck.log_mentions(text, "index built", rel, os.path.join(self.src, rel))]
        expect(not missing, "no 'index built' line naming %s; log: %s" % (missing, m.log_tail(6)))

    def check_bad(self, mnt, rel):
        tv = TitleView(mnt, self.src, rel)
        reason = ck.check_error_layout(tv)
        note("%s: ERROR says %r" % (rel, reason))
        c = Collector()
        ck.check_source_bytes(tv, c)
        for name in (tv.source_name, "ERROR"):
            first = self.walk1.get(os.path.join(rel, name))
            ck.verify_file(os.path.join(tv.path, name), first.st_size if first else None, c, name)
        c.raise_if_any()
        ck.check_title_attrs(tv)

    def check_survives(self, m):
        expect(m.alive(), "hlsfs is not running (exit status %s); log: %s"
               % (m.proc.poll(), m.log_tail()))
        c = Collector()
        for rel in (TOUCHED + "/master.m3u8", TOUCHED + "/video/original/00000.ts",
                    TOUCHED + "/video/original/index.m3u8"):
            data = ck.verify_file(os.path.join(m.mountpoint, rel), None, c, rel)
            if data is not None and rel in self.hashes1:
                c.check(ck.sha256(data) == self.hashes1[rel][1], "%s changed" % rel)
        c.raise_if_any()
        expect(m.alive(), "hlsfs died; log: %s" % m.log_tail())

    # -- mount 2: same cache, same source -----------------------------------
    def phase_remount(self, m, mname):
        r = self.r
        need = (mname, "fixtures/walk")
        r.run("remount/sizes", self.check_remount_sizes, m.mountpoint, needs=need)
        r.run("remount/bytes", self.check_remount_bytes, m.mountpoint, needs=need, timeout=300)
        r.run("remount/log", self.check_remount_log, m, needs=need)

    def check_remount_sizes(self, mnt):
        walk2 = ck.walk(mnt)
        c = Collector()
        files1 = {k: v for k, v in self.walk1.items() if stat.S_ISREG(v.st_mode)}
        files2 = {k: v for k, v in walk2.items() if stat.S_ISREG(v.st_mode)}
        c.check(set(files1) == set(files2), "files differ: only first %s, only second %s"
                % (sorted(set(files1) - set(files2))[:4], sorted(set(files2) - set(files1))[:4]))
        for rel in sorted(set(files1) & set(files2)):
            a, b = files1[rel], files2[rel]
            if a.st_size != b.st_size:
                c.add("%s: size %d, first mount %d" % (rel, b.st_size, a.st_size))
            if a.st_mtime_ns != b.st_mtime_ns:
                c.add("%s: mtime changed" % rel)
        c.raise_if_any()

    def check_remount_bytes(self, mnt):
        expect(self.hashes1, "nothing was read in the first mount")
        c = Collector()
        for rel, (size, digest) in sorted(self.hashes1.items()):
            data = ck.verify_file(os.path.join(mnt, rel), size, c, rel, ts=rel.endswith(".ts"))
            if data is not None and ck.sha256(data) != digest:
                c.add("%s: bytes differ from the first mount" % rel)
        c.raise_if_any()

    def check_remount_log(self, m):
        text = m.log_text()
        c = Collector()
        built = [l.strip() for l in text.splitlines() if "index built" in l]
        c.check(not built, "index rebuilt: %s" % built[:3])
        for rel in self.serving1:
            if not ck.log_mentions(text, "index loaded from cache", rel, os.path.join(self.src, rel)):
                c.add("no 'index loaded from cache' line naming %s" % rel)
        if c:
            c.add("log: %s" % m.log_tail(6))
        c.raise_if_any()

    # -- mount 3: a touched source ------------------------------------------
    def touch_source(self):
        p = os.path.join(self.src, TOUCHED)
        st = os.stat(p)
        new_ns = st.st_mtime_ns + 86_400_000_000_001
        os.utime(p, ns=(new_ns, new_ns))
        expect(os.stat(p).st_mtime_ns == new_ns, "could not set the mtime")
        return new_ns

    def phase_touch(self, m, mname, new_ns):
        r = self.r
        need = (mname,)
        r.run("touch/walk", ck.walk, m.mountpoint, needs=need)
        r.run("touch/rebuild", self.check_touch_log, m, needs=(mname, "touch/walk"))
        r.run("touch/mtime", self.check_touch_mtime, m.mountpoint, new_ns, needs=need)

    def check_touch_log(self, m):
        text = m.log_text()
        c = Collector()
        c.check(ck.log_mentions(text, "index built", TOUCHED, os.path.join(self.src, TOUCHED)),
                "no 'index built' line naming %s after its mtime changed" % TOUCHED)
        for rel in self.serving1:
            if rel == TOUCHED:
                continue
            if ck.log_mentions(text, "index built", rel, os.path.join(self.src, rel)):
                c.add("%s was rebuilt although it did not change" % rel)
            if not ck.log_mentions(text, "index loaded from cache", rel, os.path.join(self.src, rel)):
                c.add("no 'index loaded from cache' line naming %s" % rel)
        if c:
            c.add("log: %s" % m.log_tail(6))
        c.raise_if_any()

    def check_touch_mtime(self, mnt, new_ns):
        tv = TitleView(mnt, self.src, TOUCHED)
        tv.require_serving()
        entries = ck.walk(tv.path)
        entries[""] = os.lstat(tv.path)
        stale = sorted(rel or "(title dir)" for rel, st in entries.items()
                       if st.st_mtime_ns != new_ns)
        expect(not stale, "%d entries do not have the new mtime: %s" % (len(stale), stale[:5]))
        c = Collector()
        for rel, st in sorted(entries.items()):
            if rel and stat.S_ISREG(st.st_mode):
                ck.verify_file(os.path.join(tv.path, rel), st.st_size, c, rel,
                               ts=rel.endswith(".ts"))
        c.raise_if_any()

    # -- mount 4/5: segment_time=4 ------------------------------------------
    def phase_segtime(self, m, mname):
        r = self.r
        need = (mname,)
        for rel in ALT_TITLES:
            t = self.fx.title(rel)
            src_path = os.path.join(self.src, rel)
            tv = TitleView(m.mountpoint, self.src, rel)
            first = {}

            def stat_first(tv=tv, first=first):
                tv.require_serving()
                for frel, st in ck.walk(tv.path).items():
                    if stat.S_ISREG(st.st_mode):
                        first[os.path.join(tv.rel, frel)] = st.st_size
            r.run("segtime4/walk/%s" % rel, stat_first, needs=need)
            r.run("segtime4/playlists/%s" % rel,
                  lambda tv=tv, p=src_path: ck.check_playlists(
                      tv, self.sv(p), self.sv(p).plan(SEGMENT_TIME_ALT)), needs=need)
            for kind, name in self.renditions_to_check(tv, ["original"], range(t.n_audio)):
                self.segment_check("segtime4/segments/%s/%s/%s" % (rel, kind, name), tv, kind,
                                   name, src_path, SEGMENT_TIME_ALT, need, sample=False)
            r.run("segtime4/sizes/%s" % rel, ck.check_title_sizes, tv, first, m.mountpoint,
                  self.alt_hashes, needs=(mname, "segtime4/walk/%s" % rel))

    def phase_segtime_reuse(self, m, mname):
        self.r.run("segtime4_cache_reuse/same_as_fresh_cache", self.check_reuse, m.mountpoint,
                   needs=(mname, "segtime4/mount"), timeout=300)

    def check_reuse(self, mnt):
        """The cache holds segments of the 6 s plan; with segment_time=4 the
        daemon must serve the 4 s plan, byte for byte what a fresh cache gave."""
        expect(self.alt_hashes, "nothing was recorded from the fresh-cache mount")
        c = Collector()
        for rel in ALT_TITLES:
            tv = TitleView(mnt, self.src, rel)
            files = {os.path.join(rel, f) for f, st in ck.walk(tv.path).items()
                     if stat.S_ISREG(st.st_mode)}
            want = {k for k in self.alt_hashes if k.startswith(rel + "/")}
            c.check(files == want, "%s: files %s differ from the fresh-cache mount %s"
                    % (rel, sorted(files ^ want)[:4], len(want)))
        for rel, (size, digest) in sorted(self.alt_hashes.items()):
            data = ck.verify_file(os.path.join(mnt, rel), size, c, rel, ts=rel.endswith(".ts"))
            if data is not None and ck.sha256(data) != digest:
                c.add("%s: bytes differ from the fresh-cache mount" % rel)
        c.raise_if_any()

    # -- mount 6: the shared media corpus -------------------------------------
    def phase_shared(self):
        r = self.r
        shared_src = self._dir("shared-src-")
        names = []

        if self.media and os.path.isdir(self.media):
            names = sorted(n for n in os.listdir(self.media)
                           if os.path.isfile(os.path.join(self.media, n))
                           and not os.path.islink(os.path.join(self.media, n)))

        def setup():
            expect(self.media and os.path.isdir(self.media), "--media %s is not a directory"
                   % self.args.media)
            expect(names, "no files in %s" % self.media)
            for name in names:
                link_or_copy(os.path.join(self.media, name), os.path.join(shared_src, name))
        r.run("shared/setup", setup, needs=("setup/tools",))
        self.shared_src = shared_src
        self.shared_names = names
        self.run_mount("shared", self.new_mount("shared", shared_src, self._dir("cache-c-")),
                       self.phase_shared_body, needs=("shared/setup",))

    def phase_shared_body(self, m, mname):
        r = self.r
        mnt = m.mountpoint
        _, walk = r.run("shared/walk", ck.walk, mnt, needs=(mname,), timeout=300)
        walk = walk or {}
        first_sizes = {rel: st.st_size for rel, st in walk.items() if stat.S_ISREG(st.st_mode)}
        need = (mname, "shared/walk")
        for name in self.shared_names:
            if not ck.is_video_name(name):
                r.run("shared/%s" % name, ck.check_passthrough, mnt, self.shared_src, name,
                      needs=need)
                continue
            ok, serving = r.run("shared/%s" % name, self.check_shared_title, mnt, name,
                                needs=need, timeout=120)
            if not ok or not serving:
                continue
            src_path = os.path.join(self.shared_src, name)
            tv = TitleView(mnt, self.shared_src, name)
            tneed = need + ("shared/%s" % name,)
            r.run("shared/sizes/%s" % name, ck.check_title_sizes, tv, first_sizes, mnt, {},
                  needs=tneed, timeout=300)

            def analyse():
                sv = self.sv(src_path)
                return (sv, sv.plan(ck.DEFAULT_SEGMENT_TIME), tv.renditions("video"),
                        [a["ordinal"] for a in self.audio_src(src_path) if a["codec"] == "aac"])
            ok, analysis = r.run("shared/analyse/%s" % name, analyse, needs=tneed)
            if not ok:
                continue
            sv, plan, videos, aac = analysis
            if sv.codec != "h264":
                note("%s: %s video is served; plan checks are for H.264 sources" % (name, sv.codec))
                continue
            if "original" not in videos:
                note("%s: no 'original' rendition (forced boundaries?): plan checks skipped" % name)
                continue
            r.run("shared/playlists/%s" % name, ck.check_playlists, tv, sv, plan, needs=tneed)
            r.run("shared/master/%s" % name, ck.check_master, tv, sv, self.audio_src(src_path),
                  0.02, needs=tneed)
            for kind, rend in self.renditions_to_check(tv, ["original"], aac):
                self.segment_check("shared/segments/%s/%s/%s" % (name, kind, rend), tv, kind,
                                   rend, src_path, ck.DEFAULT_SEGMENT_TIME, tneed, sample=True)
            r.run("shared/decode/%s" % name, self.decode_check, tv, sv, needs=tneed, timeout=400)

    def check_shared_title(self, mnt, name):
        """Serves or shows ERROR. Must show ERROR when the file has no video
        stream or cannot be probed. Returns True when it serves."""
        src_path = os.path.join(self.shared_src, name)
        tv = TitleView(mnt, self.shared_src, name)
        expect(os.path.isdir(tv.path), "not a directory in the mount")
        has_video = has_video_stream(src_path)
        if "ERROR" in tv.entries():
            reason = ck.check_error_layout(tv)
            note("%s shows ERROR: %s" % (name, reason))
            c = Collector()
            ck.check_source_bytes(tv, c)
            c.raise_if_any()
            ck.check_title_attrs(tv)
            return False
        if has_video is None:
            fail("served, but ffprobe cannot open the file")
        if has_video is False:
            fail("served, but the file has no video stream")
        audio = self.audio_src(src_path)
        aac = [a["ordinal"] for a in audio if a["codec"] == "aac"]
        ck.check_serving_layout(tv, aac, audio_allowed=[a["ordinal"] for a in audio],
                                require_original=False)
        c = Collector()
        ck.check_source_bytes(tv, c)
        c.raise_if_any()
        ck.check_title_attrs(tv)
        return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hlsfs", required=True, help="the hlsfs binary")
    ap.add_argument("--media", help="the shared media corpus directory")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (fixtures, caches, logs)")
    ap.add_argument("--no-shared", action="store_true", help="skip the shared media corpus")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of crashed checks")
    args = ap.parse_args(argv)
    if not args.media and not args.no_shared:
        ap.error("--media is required unless --no-shared is given")

    install_cleanup_handlers()
    base = tempfile.mkdtemp(prefix="hlsfs-it-")

    def remove_base():
        left = mounts_below(base)
        if left:
            note("not removing %s: still mounted: %s" % (base, left))
        elif args.keep:
            note("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)

    on_cleanup(remove_base)
    results = Results(verbose=args.verbose)
    started = time.monotonic()
    try:
        Suite(args, results, base).run()
    finally:
        stop_all_mounts()
    note("runtime %.0f s" % (time.monotonic() - started))
    print("integration: %d passed, %d failed" % (results.passed, results.failed), flush=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
