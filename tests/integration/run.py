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
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hlsit import budgets  # noqa: E402
from hlsit import fmp4  # noqa: E402
from hlsit import cachepolicy as cp  # noqa: E402
from hlsit import checks as ck  # noqa: E402
from hlsit import lazy  # noqa: E402
from hlsit import picture  # noqa: E402
from hlsit import robust  # noqa: E402
from hlsit import subs  # noqa: E402
from hlsit import trick  # noqa: E402
from hlsit.checks import TitleExpect, TitleView  # noqa: E402
from hlsit.fixtures import CodecFixtures, Fixtures, link_or_copy  # noqa: E402
from hlsit.harness import (CheckFailed, Collector, Mount, expect, fail,  # noqa: E402
                           note, run_suite)
from hlsit.media import (DEFAULT_LADDER, SourceVideo, has_video_stream,  # noqa: E402
                         parse_ladder, source_audio_streams)

SEGMENT_TIME_ALT = 4            # the second plan, to show the option is followed
TOUCHED = "bframes.mp4"          # the fixture whose mtime changes between mounts
ALT_TITLES = ("irregular.mp4", "bframes.mp4")
EROFS_TITLE = "bframes.mp4"

# The codec mount: short segments and a small, fast ladder.
CODEC_SEGMENT_TIME = 2
CODEC_LADDER = "120:200k,180:300k"
# Corpus segments read in this order by three fresh daemons (phase_sequence).
SEQUENCE = [
    "mp4-h264-aac-real-london-640x360-17s.mp4/video/360p/00001.ts",
    "mp4-h264high-aac-bframes-editlist-1080p25-10s-smptebars.mp4/video/720p/00000.ts",
    "mp4-h264-aac-rotate270-720p-5s.mp4/video/360p/00000.ts",
    "mkv-h264-yuv444-aac-chapters-320x240-5s.mkv/video/240p/00000.ts",
]
CODEC_OPTIONS = {"ladder": CODEC_LADDER, "preset": "ultrafast"}
CONCURRENT_TITLE = ("h264_bframes.mp4", "video", "180p")   # its last segment, 8 readers
GOOD_AFTER_BROKEN = ("two_audio_ac3.mp4", "video", "120p")

# The readahead mount.
AHEAD = {"max_ahead": 4, "idle_timeout": 2}
AHEAD_RUNG = "180p"
AHEAD_SECOND_READ = 6

# The shared corpus: the default ladder and preset; no readahead, which
# would encode a minute of every long title for nothing.
SHARED_OPTIONS = {"max_ahead": 0}
SHARED_DECODE_MAX_S = 30        # full decodes of 'original' only for titles this short
SOURCE_DECODE_MAX_S = 60        # sources decoded to count their pictures


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
        self._expect = {}
        self.codec_src = self._dir("codecs-")
        self.ahead_src = self._dir("ahead-")
        self.cfx = CodecFixtures(self.codec_src, self.ahead_src)
        self.codec_hashes = {}     # rel -> (size, sha256) read in the codec mount
        self.scatter_hashes = {}   # rel -> (size, sha256) of the scattered reads
        self.walk1 = {}            # rel -> stat of the first walk of mount 1
        self.hashes1 = {}          # rel -> (size, sha256) read in mount 1
        self.serving1 = []         # fixture titles that served in mount 1

    # -- helpers ------------------------------------------------------------
    def _dir(self, prefix):
        return tempfile.mkdtemp(prefix=prefix, dir=self.base)

    def new_mount(self, label, source, cache_dir, segment_time=None, options=None):
        return Mount(self.hlsfs, source, self._dir("mnt-%s-" % label), cache_dir,
                     os.path.join(self.base, "hlsfs-%s.log" % label),
                     segment_time=segment_time, label=label, options=options)

    def expect_of(self, path, segment_time, ladder=DEFAULT_LADDER, high_profile=True,
                  decode=True):
        key = (path, segment_time, ladder)
        if key not in self._expect:
            sv = self.sv(path)
            if decode and sv.shown_pts is None and sv.end - sv.origin <= SOURCE_DECODE_MAX_S:
                # what the source shows: hidden VP8/VP9 frames and second
                # fields are packets, not pictures
                frames, _, _ = self.source_decode(sv)
                sv.shown_pts = sorted(f[0] for f in frames)
            self._expect[key] = TitleExpect(sv, self.audio_src(path), segment_time,
                                            parse_ladder(ladder), high_profile)
        return self._expect[key]

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

    def decode_check(self, tv, sv, rendition=None):
        frames, tolerated, crc = self.source_decode(sv)
        ck.check_decode(tv, sv, frames, tolerated, crc, rendition)
        if sv.rotation and rendition == "original":
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
        if self.args.shared_only:
            self.phase_shared()
            return
        if self.args.cache_only:
            self.phase_cache_policy()
            return
        if self.args.robust_only:
            self.phase_robust()
            return
        if self.args.budgets_only:
            self.phase_budgets()
            return
        if self.args.picture_only:
            self.phase_picture()
            return
        if self.args.subs_only:
            self.phase_subs()
            return
        if self.args.trick_only:
            self.phase_trick()
            return
        if self.args.fmp4_only:
            self.phase_fmp4()
            return
        r.run("setup/fixtures", self.fx.generate, self.scratch, timeout=300)
        r.run("setup/codec_fixtures", self.generate_codec_fixtures, timeout=300)
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
        self.run_codec_mounts()
        self.phase_robust()
        self.phase_budgets()
        self.phase_picture()
        self.phase_subs()
        self.phase_fmp4()
        self.phase_cache_policy()
        self.phase_trick()
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
        first_sizes = {rel: st.st_size for rel, st in self.walk1.items()
                       if stat.S_ISREG(st.st_mode)}
        for t in fx.titles:
            self.title_checks(m.mountpoint, t, need_w, store=self.hashes1, first_sizes=first_sizes)
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

    def title_checks(self, mnt, t, needs, segment_time=ck.DEFAULT_SEGMENT_TIME,
                     ladder=DEFAULT_LADDER, high_profile=True, prefix="", store=None,
                     first_sizes=None, bandwidth=True, attrs=True):
        """layout, attrs, sizes, playlists, master, bandwidth, every segment
        of every rendition, their alignment, and decodes of one title."""
        r = self.r
        tv = TitleView(mnt, self.root_of(t), t.rel)
        src_path = tv.src

        def ex():
            return self.expect_of(src_path, segment_time, ladder, high_profile)

        def layout():
            e = ex()
            ck.check_serving_layout(tv, e.audios, videos_expect=e.videos)
            c = Collector()
            ck.check_source_bytes(tv, c)
            c.raise_if_any()

        r.run("%slayout/%s" % (prefix, t.rel), layout, needs=needs)
        if attrs:
            r.run("%sattrs/%s" % (prefix, t.rel), ck.check_title_attrs, tv, needs=needs)
        if first_sizes is not None:
            r.run("%ssizes/%s" % (prefix, t.rel), ck.check_title_sizes, tv, first_sizes, mnt,
                  store if store is not None else {}, needs=needs, timeout=300)
        r.run("%splaylists/%s" % (prefix, t.rel),
              lambda: ck.check_playlists(tv, self.sv(src_path), ex().plan), needs=needs)
        r.run("%smaster/%s" % (prefix, t.rel),
              lambda: ck.check_master(tv, self.sv(src_path), self.audio_src(src_path), ex=ex()),
              needs=needs)
        if bandwidth:
            r.run("%sbandwidth/%s" % (prefix, t.rel), ck.check_bandwidth, tv, self.seg_sizes(tv),
                  needs=needs)
        records = {}
        ok, e = r.run("%sanalyse/%s" % (prefix, t.rel), ex, needs=needs)
        if not ok:
            return
        for kind, name in self.renditions_to_check(tv, e.videos, e.audios):
            self.segment_check("%ssegments/%s/%s/%s" % (prefix, t.rel, kind, name), tv, kind, name,
                               src_path, e, needs, records=records)
        if len(e.videos) + len(e.audios) > 1:
            r.run("%salignment/%s" % (prefix, t.rel), ck.check_alignment, records, needs=needs)
        for name in e.videos:
            r.run("%sdecode/%s/%s" % (prefix, t.rel, name),
                  lambda name=name: self.decode_check(tv, self.sv(src_path), name),
                  needs=needs, timeout=300)
        r.run("%sdecode/%s/master" % (prefix, t.rel),
              lambda: self.decode_check(tv, self.sv(src_path)), needs=needs, timeout=300)
        if e.rung_names:
            top = e.rung_names[-1]
            r.run("%spicture/%s/%s" % (prefix, t.rel, top), ck.check_picture, tv,
                  self.sv(src_path), top, needs=needs)
        return tv

    def root_of(self, t):
        return self.codec_src if hasattr(t, "sine") else self.src

    def renditions_to_check(self, tv, videos, audios):
        """The expected renditions plus any other the title offers."""
        want = [("video", v) for v in videos] + [("audio", str(k)) for k in audios]
        try:
            have = [("video", v) for v in tv.renditions("video")] + \
                   [("audio", a) for a in tv.renditions("audio")]
        except OSError:
            have = []
        return want + [x for x in have if x not in want]

    def segment_check(self, name, tv, kind, rend, src_path, ex, needs, indexes=None,
                      records=None, source_tolerance=True):
        def body():
            # decode errors of the source itself may show up in its segments
            tolerated = self.source_decode(self.sv(src_path))[1] if source_tolerance else ()
            rec = {} if records is None else records.setdefault((kind, rend), {})
            ck.check_segments(tv, kind, rend, ex, indexes=indexes, tolerated=tolerated,
                              record=rec)
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
        """Not H.264: served, transcoded, without 'original'."""
        tv = TitleView(mnt, self.src, rel)
        e = self.expect_of(tv.src, ck.DEFAULT_SEGMENT_TIME)
        ck.check_serving_layout(tv, e.audios, videos_expect=e.videos)
        expect("original" not in tv.renditions("video"), "MPEG-4 Part 2 offered as video/original")
        expect(tv.renditions("video"), "no transcoded rung")

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
        made = ck.made_lines_loose(text)
        c.check(not made, "%d segments made again although the cache holds them: %s"
                % (len(made), made[:2]))
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
            e = self.expect_of(src_path, SEGMENT_TIME_ALT)
            records = {}
            for kind, name in self.renditions_to_check(tv, e.videos, e.audios):
                self.segment_check("segtime4/segments/%s/%s/%s" % (rel, kind, name), tv, kind,
                                   name, src_path, e, need, records=records)
            r.run("segtime4/alignment/%s" % rel, ck.check_alignment, records, needs=need)
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

    # -- mounts 6-9: transcoding, lazily --------------------------------------
    def generate_codec_fixtures(self):
        self.cfx.generate(self.scratch)
        for rel, why in sorted(self.cfx.skipped.items()):
            note("%s is not generated: %s" % (rel, why))

    def codec_mount(self, label, cache, source=None, options=None):
        opts = dict(CODEC_OPTIONS)
        opts.update(options or {})
        return self.new_mount(label, source or self.codec_src, cache,
                              segment_time=CODEC_SEGMENT_TIME, options=opts)

    def codec_expect(self, path, decode=True):
        return self.expect_of(path, CODEC_SEGMENT_TIME, CODEC_LADDER, high_profile=False,
                              decode=decode)

    def run_codec_mounts(self):
        need = ("setup/tools", "setup/codec_fixtures")
        cache_d = self._dir("cache-d-")
        self.run_mount("codecs", self.codec_mount("codecs", cache_d), self.phase_codecs,
                       needs=need)
        self.run_mount("codecs_fresh", self.codec_mount("codecs-fresh", self._dir("cache-e-")),
                       self.phase_codecs_fresh, needs=need + ("codecs/mount",))
        self.run_mount("codecs_remount", self.codec_mount("codecs-remount", cache_d),
                       self.phase_codecs_remount, needs=need + ("codecs/mount",))
        self.run_mount("readahead",
                       self.codec_mount("readahead", self._dir("cache-f-"), self.ahead_src,
                                        AHEAD),
                       self.phase_readahead, needs=need)

    def phase_codecs(self, m, mname):
        r = self.r
        mnt = m.mountpoint
        need = (mname,)
        ok, walk = r.run("codecs/walk", ck.walk, mnt, needs=need)
        first_sizes = {rel: st.st_size for rel, st in (walk or {}).items()
                       if stat.S_ISREG(st.st_mode)}
        need_w = (mname, "codecs/walk")
        titles = [t for t in self.cfx.titles if not t.broken]
        # 4. before anything is read: many readers of one segment
        rel, kind, rend = CONCURRENT_TITLE
        if any(t.rel == rel for t in titles):
            def concurrent():
                tv = TitleView(mnt, self.codec_src, rel)
                n = len(self.codec_expect(tv.src).plan)
                lazy.check_concurrent_one(m, tv, kind, rend, n - 1, n, tv.src, readers=8)
            r.run("concurrency/%s/%s/%s/last" % (rel, kind, rend), concurrent, needs=need_w)
        # 7. the damaged title, early: the daemon must go on serving the rest
        for t in self.cfx.titles:
            if t.broken:
                self.broken_checks(m, t, need_w)
        # 3. scattered reads, before anything else reads the title
        for t in titles:
            if t.scattered:
                r.run("scattered/%s" % t.rel, self.check_scattered, mnt, t, need_w,
                      needs=need_w, timeout=300)
        # 1. and 2. every segment of every rendition, alignment, decodes
        for t in titles:
            self.title_checks(mnt, t, need_w, segment_time=CODEC_SEGMENT_TIME,
                              ladder=CODEC_LADDER, high_profile=False, prefix="codecs/",
                              store=self.codec_hashes, first_sizes=first_sizes)
        # 6. a second read of everything: no segment is made again
        r.run("reencode/second_read", lazy.check_no_reencode, m, mnt, self.codec_hashes,
              "on a second read", needs=need_w, timeout=300)

    def check_scattered(self, mnt, t, needs):
        """3. One rung and one audio rendition read in scattered order; the
        concatenation decodes to the whole title."""
        tv = TitleView(mnt, self.codec_src, t.rel)
        tv.require_serving()
        e = self.codec_expect(tv.src)
        n = len(e.plan)
        rung = e.rung_names[0]
        segs = lazy.read_scattered(tv, "video", rung, n, self.scatter_hashes)
        c = Collector()
        tmp = os.path.join(self.scratch, "concat-%s" % t.rel.replace("/", "_"))
        try:
            lazy.check_concat_video(segs, e, tmp + ".v.ts")
        except CheckFailed as err:
            c.add("video/%s: %s" % (rung, err))
        if e.audios:
            k = str(t.sine[0]) if t.sine else e.audios[0]
            asegs = lazy.read_scattered(tv, "audio", k, n, self.scatter_hashes)
            sine = (t.sine[0], t.sine[1], tv.src) if t.sine else None
            try:
                lazy.check_concat_audio(asegs, e, tmp + ".a.ts", sine)
            except CheckFailed as err:
                c.add("audio/%s: %s" % (k, err))
        c.raise_if_any()

    def broken_checks(self, m, t, needs):
        r = self.r
        mnt = m.mountpoint
        tv = TitleView(mnt, self.codec_src, t.rel)

        def setup():
            tv.require_serving()
            e = self.codec_expect(tv.src, decode=False)
            ck.check_serving_layout(tv, e.audios, videos_expect=e.videos)
            return e, lazy.damaged_interval(self.cfx.intact[t.rel], t.damage)
        ok, val = r.run("broken/%s/serves" % t.rel, setup, needs=needs)

        def reads():
            e, damaged = val
            summary = lazy.check_broken(m, tv, e, damaged, tv.src)
            failed = sorted(k for k, v in summary.items() if v != "ok")
            note("%s: damaged %s..%s s; %d segments read, %s failed%s"
                 % (t.rel, ck.fmt_s(damaged[0]), ck.fmt_s(damaged[1]),
                    sum(v == "ok" for v in summary.values()), len(failed),
                    (": " + ", ".join(failed[:8])) if failed else ""))
        r.run("broken/%s/reads" % t.rel, reads, needs=needs + ("broken/%s/serves" % t.rel,),
              timeout=600)

        def survives():
            expect(m.alive(), "hlsfs is not running (exit status %s); log: %s"
                   % (m.proc.poll(), m.log_tail()))
            rel, kind, rend = GOOD_AFTER_BROKEN
            good = TitleView(mnt, self.codec_src, rel)
            n = len(self.codec_expect(good.src).plan)
            c = Collector()
            for f in ("master.m3u8", os.path.join(kind, rend, "index.m3u8"),
                      os.path.join(kind, rend, ck.segment_name(n - 1, n))):
                ck.verify_file(os.path.join(good.path, f), None, c, f, ts=f.endswith(".ts"))
            c.raise_if_any()
        r.run("broken/%s/daemon_survives" % t.rel, survives, needs=needs)

    def phase_codecs_fresh(self, m, mname):
        """Determinism: the scattered reads of the codec mount, read in order
        from a fresh cache, are byte-identical."""
        for t in self.cfx.titles:
            if not t.scattered:
                continue
            want = {k: v for k, v in self.scatter_hashes.items() if k.startswith(t.rel + "/")}
            self.r.run("determinism/%s" % t.rel, lazy.check_same_bytes, m.mountpoint, want,
                       "in order from a fresh cache", needs=(mname, "scattered/%s" % t.rel),
                       timeout=300)

    def phase_codecs_remount(self, m, mname):
        """6. After a remount on the same cache: every segment read in the
        codec mount comes back identical, and nothing is made or indexed."""
        def body():
            lazy.check_no_reencode(m, m.mountpoint, self.codec_hashes, "after a remount")
            built = [l for l in m.log_text().splitlines() if "index built" in l]
            expect(not built, "index rebuilt after a remount: %s" % built[:2])
        self.r.run("reencode/remount", body, needs=(mname, "reencode/second_read"), timeout=300)

    def phase_readahead(self, m, mname):
        """5. Readahead is bounded by max_ahead, confined to the rendition
        read, and stops when the reader goes idle."""
        r = self.r
        mnt = m.mountpoint
        t = self.cfx.ahead
        tv = TitleView(mnt, self.ahead_src, t.rel)
        idle = AHEAD["idle_timeout"]
        state = {}

        def first():
            tv.require_serving()
            ck.walk(tv.path)     # listing and stat make nothing
            e = self.codec_expect(tv.src)
            expect(e.plan.stop(len(e.plan) - 1) - e.plan.start(0) >= 20,
                   "the readahead title is shorter than 20 s")
            state["e"] = e
            state["lines"] = lazy.check_readahead(m, tv, e, AHEAD_RUNG, tv.src, 0,
                                                  AHEAD["max_ahead"], idle)
        r.run("readahead/window", first, needs=(mname,), timeout=120)
        r.run("readahead/idle_quiet", lazy.check_idle_quiet, m, tv.src, idle,
              needs=(mname, "readahead/window"), timeout=60)
        r.run("readahead/crews_niced", lazy.check_crew_priorities, m.proc.pid,
              needs=(mname,), timeout=30)

        def again():
            e = state["e"]
            already = [(x["kind"], x["name"], x["seg"]) for x in state["lines"]]
            lazy.check_readahead(m, tv, e, AHEAD_RUNG, tv.src, AHEAD_SECOND_READ,
                                 AHEAD["max_ahead"], idle, already=already)
        r.run("readahead/after_idle", again, needs=(mname, "readahead/window"), timeout=120)

    # -- robustness: damaged timelines, SIGTERM during an encode ----------------
    def phase_trick(self):
        """I-frame rendition and thumbnail sprites (hlsit/trick.py): one
        mount checks them; a remount on its cache and a mount on a fresh
        cache give the same sizes and bytes."""
        r = self.r
        src = self._dir("trick-src-")
        cache_a = self._dir("trick-cache-a-")
        r.run("trick/fixtures", trick.make_fixtures, src, self._dir("trick-scratch-"),
              needs=("setup/tools",), timeout=600)
        state = {}

        def first(m, mname):
            n = (mname,)
            ok, sizes = r.run("trick/first_stat", lambda: (ck.walk(m.mountpoint),
                                                           trick.trick_files(m.mountpoint))[1],
                              needs=n)
            state["sizes"] = sizes or {}
            r.run("trick/lazy/listing_makes_none", trick.check_lazy_listing, m,
                  needs=n + ("trick/first_stat",))
            r.run("trick/lazy/video_read_makes_none", trick.check_video_read_makes_none, m,
                  needs=n + ("trick/first_stat",), timeout=120)
            r.run("trick/one_encode_per_sprite", trick.check_one_encode_per_sprite, m,
                  needs=n + ("trick/first_stat",), timeout=300)
            for rel in trick.TITLES:
                r.run("trick/master/%s" % rel, trick.check_master, m.mountpoint, rel,
                      needs=n, timeout=120)
                r.run("trick/iframe_playlist/%s" % rel, trick.check_playlist, m.mountpoint,
                      rel, needs=n)
                r.run("trick/iframes/%s" % rel, trick.check_iframe_segments, m.mountpoint,
                      rel, state["sizes"], needs=n + ("trick/first_stat",), timeout=300)
                r.run("trick/thumbs/%s" % rel, trick.check_thumbs, m.mountpoint, rel,
                      state["sizes"], needs=n + ("trick/first_stat",), timeout=300)
            r.run("trick/tone_mapped/pq.mp4", trick.check_tone_mapped, m.mountpoint,
                  needs=n, timeout=120)
            ok, hashes = r.run("trick/read_all", trick.read_all, m.mountpoint,
                               state["sizes"], needs=n + ("trick/first_stat",), timeout=300)
            state["hashes"] = hashes or {}

        def again(label):
            def body(m, mname):
                n = (mname, "trick/read_all")
                r.run("trick/%s/sizes" % label,
                      lambda: trick.compare(state["sizes"], trick.trick_files(m.mountpoint),
                                            "sizes"), needs=n)
                r.run("trick/%s/bytes" % label,
                      lambda: trick.compare(state["hashes"],
                                            trick.read_all(m.mountpoint, state["hashes"]),
                                            "bytes"), needs=n, timeout=300)
            return body

        self.run_mount("trick", self.new_mount("trick", src, cache_a), first,
                       needs=("trick/fixtures",))
        self.run_mount("trick-remount", self.new_mount("trick-remount", src, cache_a),
                       again("remount"), needs=("trick/mount",))
        self.run_mount("trick-fresh", self.new_mount("trick-fresh", src,
                                                     self._dir("trick-cache-b-")),
                       again("fresh_cache"), needs=("trick/mount",))

    def phase_robust(self):
        r = self.r
        src = self._dir("robust-src-")
        scratch = self._dir("robust-scratch-")
        r.run("robust/fixtures", robust.make_fixtures, src, scratch,
              needs=("setup/tools",), timeout=300)
        need = ("robust/fixtures",)
        opts = {"max_ahead": 0, "preset": "ultrafast"}

        def body(m, mname):
            r.run("robust/joined_recording_plays", robust.check_joined, m,
                  needs=(mname,), timeout=120)
            r.run("robust/clock_back_plays", robust.check_backwards, m,
                  needs=(mname,), timeout=60)
            r.run("robust/outlier_timestamp", robust.check_outlier, m,
                  needs=(mname,), timeout=300)
            r.run("robust/vfr_last_frame", robust.check_vfr_end, m, src,
                  needs=(mname,), timeout=60)
            r.run("robust/sparse_keyframes", robust.check_sparse_keyframes, m,
                  needs=(mname,), timeout=120)
            r.run("robust/sigterm_stops_encode", robust.check_sigterm_stops_encode, m,
                  needs=(mname,), timeout=120)
        self.run_mount("robust", self.new_mount("robust", src, self._dir("robust-cache-"),
                                                options=opts), body, needs=need)
        lru = self._dir("robust-lru-")
        r.run("robust/lru_fixture", robust.make_lru_fixture, lru,
              needs=("setup/tools",), timeout=120)
        self.run_mount("lru", self.new_mount("lru", lru, self._dir("lru-cache-")),
                       lambda m, mname: r.run("robust/title_lru", robust.check_title_lru,
                                              m, needs=(mname,), timeout=120),
                       needs=("robust/lru_fixture",))
        # 64 readers of uncached segments, one slow encode at a time
        crowd = self._dir("robust-crowd-")
        r.run("robust/crowd_fixture", robust.make_starve_fixture, crowd,
              needs=("setup/tools",), timeout=300)
        copts = {"max_ahead": 0, "preset": "veryslow", "max_sessions": 1}
        self.run_mount("crowd", self.new_mount("crowd", crowd, self._dir("crowd-cache-"),
                                               segment_time=1, options=copts),
                       lambda m, mname: r.run("robust/no_starvation", robust.check_no_starvation,
                                              m, needs=(mname,), timeout=180),
                       needs=("robust/crowd_fixture",))

    # -- sizes that follow the content: budgets of still pictures -------------
    def phase_budgets(self):
        """Segments 0 and 1 read in a first mount, the rest after a remount
        (the title from its record), all again with a fresh cache (the
        title built again): the same sizes and bytes every time."""
        r = self.r
        src = self._dir("budgets-src-")
        r.run("budgets/fixtures", budgets.make_fixtures, src, self._dir("budgets-scratch-"),
              needs=("setup/tools",), timeout=120)
        opts = {"max_ahead": 0, "preset": "ultrafast", "ladder": budgets.LADDER}
        cache = self._dir("budgets-cache-")
        seen = {}
        steps = [("budgets1", cache, {0, 1}, "budgets/planned_low"),
                 ("budgets2", cache, None, "budgets/remount_same"),
                 ("budgets3", self._dir("budgets-cache-fresh-"), None, "budgets/fresh_same")]
        for label, cdir, segs, check in steps:
            def body(m, mname, segs=segs, check=check):
                r.run(check, budgets.check_budgets, m, seen, segs, needs=(mname,), timeout=120)
            self.run_mount(label, self.new_mount(label, src, cdir, options=opts), body,
                           needs=("budgets/fixtures",))

    # -- pictures: deinterlacing, tone mapping, edit lists ---------------------
    def phase_picture(self):
        """The generated fixtures (and the corpus' interlaced, HDR and
        edit-listed titles unless --no-shared), each checked in a first
        mount, then read again with a fresh cache: the same bytes. With
        --baseline-hlsfs, the progressive fixtures' segments are compared
        with that build's."""
        r = self.r
        src = self._dir("picture-src-")
        r.run("picture/fixtures", picture.make_fixtures, src, needs=("setup/tools",),
              timeout=300)
        figures = {}
        sets = [("picture", src, picture.OPTIONS, [
            ("deinterlaced", picture.check_deinterlaced, t, "480p", (figures,))
            for t in picture.INTERLACED] + [
            ("untouched", picture.check_untouched, t, "480p", ())
            for t in picture.PROGRESSIVE] + [
            ("tonemapped", picture.check_tonemapped, t, "360p", (figures,))
            for t in picture.HDR] + [
            ("editlist", picture.check_editlist, picture.EDITLIST, "360p", ())])]
        if self.media and not self.args.no_shared:
            opts = dict(picture.OPTIONS, ladder=picture.SHARED_LADDER)
            sets.append(("picture_shared", self.media, opts, [
                ("deinterlaced", picture.check_deinterlaced, t,
                 "1080p" if "1080i" in t else "576p", (figures, False))
                for t in picture.SHARED_INTERLACED] + [
                ("tonemapped", picture.check_tonemapped, t, "360p", (figures,))
                for t in picture.SHARED_HDR] + [
                ("editlist", picture.check_editlist, t, "360p", ())
                for t in picture.SHARED_EDITLIST]))
        for label, source, opts, checks in sets:
            read = {}

            def first(m, mname, source=source, checks=checks, read=read, label=label):
                for kind, fn, title, rung, extra in checks:
                    r.run("%s/%s/%s" % (label, kind, title), fn, m, source, title, rung,
                          *extra, needs=(mname,), timeout=300)
                    d = os.path.join(title, "video", rung)
                    if os.path.isdir(os.path.join(m.mountpoint, d)):
                        names = sorted(n for n in os.listdir(os.path.join(m.mountpoint, d))
                                       if n.endswith(".ts"))
                        read.update(picture.read_md5s(m, [os.path.join(d, n) for n in names]))

            def again(m, mname, read=read, label=label):
                r.run("%s/fresh_cache_same" % label,
                      lambda: picture.check_same(read, picture.read_md5s(m, list(read)),
                                                 "a fresh cache"),
                      needs=(mname, "%s/mount" % label), timeout=600)

            self.run_mount(label, self.new_mount(label, source, self._dir(label + "-cache-"),
                                                 options=opts),
                           first, needs=("picture/fixtures",))
            self.run_mount(label + "_fresh",
                           self.new_mount(label + "-fresh", source,
                                          self._dir(label + "-cache-fresh-"), options=opts),
                           again, needs=("picture/fixtures",))
        if self.args.baseline_hlsfs:
            self.picture_baseline(src)

    def picture_baseline(self, src):
        """The progressive fixtures' segments (every rung, and audio) as the
        baseline build makes them and as this one does: the same bytes."""
        r = self.r
        made = {}
        for label, binary in (("picture_base", os.path.abspath(self.args.baseline_hlsfs)),
                              ("picture_this", self.hlsfs)):
            def body(m, mname, label=label):
                def read():
                    paths = []
                    for t in picture.PROGRESSIVE:
                        for kind in ("video", "audio"):
                            top = os.path.join(m.mountpoint, t, kind)
                            for d in sorted(os.listdir(top)) if os.path.isdir(top) else []:
                                paths += [os.path.join(t, kind, d, n) for n in
                                          sorted(os.listdir(os.path.join(top, d)))
                                          if n.endswith(".ts")]
                    made[label] = picture.read_md5s(m, paths)
                r.run("%s/read" % label, read, needs=(mname,), timeout=300)
            mount = Mount(binary, src, self._dir("mnt-%s-" % label), self._dir(label + "-cache-"),
                          os.path.join(self.base, "hlsfs-%s.log" % label), label=label,
                          options=picture.OPTIONS)
            self.run_mount(label, mount, body, needs=("picture/fixtures",))
        r.run("picture/progressive_bytes_as_baseline",
              lambda: picture.check_same(made["picture_base"], made["picture_this"],
                                         "the baseline build"),
              needs=("picture_base/read", "picture_this/read"))

    # -- text subtitles as WebVTT (SPEC §9) -----------------------------------
    def phase_subs(self):
        """The generated titles in a first mount (sizes at first stat, then
        every rendition and cue), a remount and a fresh cache (the same
        files); the shared corpus's subtitles when it is given."""
        r = self.r
        src = self._dir("subs-src-")
        r.run("subs/fixtures", subs.make_fixtures, src, self._dir("subs-scratch-"),
              needs=("setup/tools",), timeout=120)
        cache = self._dir("subs-cache-")
        seen = {}
        steps = [("subs1", cache, "subs/sizes_first_stat"),
                 ("subs2", cache, "subs/remount_same"),
                 ("subs3", self._dir("subs-cache-fresh-"), "subs/fresh_same")]
        for label, cdir, check in steps:
            def body(m, mname, check=check, first=label == "subs1"):
                r.run(check, subs.check_sizes, m, seen, check, needs=(mname,))
                if first:
                    r.run("subs/film_renditions", subs.check_film, m, needs=(mname,))
                    r.run("subs/mov_text", subs.check_phone, m, needs=(mname,))
            self.run_mount(label, self.new_mount(label, src, cdir, options=subs.OPTIONS), body,
                           needs=("subs/fixtures",))
        r.run("subs/add_sidecar", subs.add_sidecar, src, needs=("subs/fixtures",))
        self.run_mount("subs4", self.new_mount("subs4", src, cache, options=subs.OPTIONS),
                       lambda m, mname: r.run("subs/sidecar_added", subs.check_added, m, seen,
                                              needs=(mname, "subs/add_sidecar")),
                       needs=("subs/add_sidecar",))
        if not self.media:
            note("no --media: the shared corpus's subtitles are not tested")
            return
        shared = self._dir("subs-shared-")
        r.run("subs/shared_fixtures", subs.shared_fixtures, self.media, shared,
              needs=("setup/tools",))
        r.run("subs/shared_bitmap_streams", subs.check_bitmap_streams, self.media,
              needs=("setup/tools",))
        self.run_mount("subs-shared",
                       self.new_mount("subs-shared", shared, self._dir("subs-shared-cache-"),
                                      options=subs.OPTIONS),
                       lambda m, mname: r.run("subs/shared", subs.check_shared, m,
                                              needs=(mname, "subs/shared_bitmap_streams")),
                       needs=("subs/shared_fixtures",))

    # -- fMP4 (CMAF) segments ------------------------------------------------
    def phase_fmp4(self):
        """Sizes and layout at the first stat, then every file read and
        decoded; a remount (the title from its record) shows the same
        sizes; a fresh cache read in another order gives the same bytes."""
        r = self.r
        src = self._dir("fmp4-src-")
        scratch = self._dir("fmp4-scratch-")
        r.run("fmp4/fixtures", fmp4.make_fixtures, src, needs=("setup/tools",), timeout=600)
        cache = self._dir("fmp4-cache-")
        sizes, hashes = {}, {}

        def first(m, mname):
            for t in fmp4.TITLES:
                ok, got = r.run("fmp4/layout/%s" % t, fmp4.check_layout, m, t, needs=(mname,))
                if ok:
                    sizes[t] = got
                r.run("fmp4/read/%s" % t, fmp4.check_read, m, scratch, t, sizes.get(t, {}),
                      hashes, needs=("fmp4/layout/%s" % t,), timeout=600)

        def remount(m, mname):
            for t in fmp4.TITLES:
                def same_sizes(t=t):
                    got = fmp4.check_layout(m, t)
                    expect(got == sizes.get(t), "sizes after a remount differ")
                r.run("fmp4/remount_sizes/%s" % t, same_sizes, needs=(mname, "fmp4/layout/%s" % t))

        def fresh(m, mname):
            for t in fmp4.TITLES:
                r.run("fmp4/fresh_same/%s" % t, fmp4.check_same, m, t, hashes,
                      needs=(mname, "fmp4/read/%s" % t), timeout=600)
            r.run("fmp4/audio_continuity", fmp4.check_audio_continuity, m, scratch, "h264.mp4",
                  needs=(mname,))
            for t in fmp4.MULTI:
                r.run("fmp4/multichannel/%s" % t, fmp4.check_multichannel, m, scratch, t, True,
                      needs=(mname,), timeout=300)
            r.run("fmp4/aac51", fmp4.check_aac51, m, scratch, fmp4.AAC51, True, needs=(mname,),
                  timeout=300)

        def ts(m, mname):
            for t in fmp4.MULTI:
                r.run("fmp4/multichannel_ts/%s" % t, fmp4.check_multichannel, m, scratch, t,
                      False, needs=(mname,), timeout=300)
            r.run("fmp4/aac51_ts", fmp4.check_aac51, m, scratch, fmp4.AAC51, False,
                  needs=(mname,), timeout=300)

        steps = [("fmp4", cache, first), ("fmp4_remount", cache, remount),
                 ("fmp4_fresh", self._dir("fmp4-cache-fresh-"), fresh)]
        for label, cdir, body in steps:
            self.run_mount(label, self.new_mount(label, src, cdir, segment_time=fmp4.SEGMENT_TIME,
                                                 options=fmp4.OPTIONS),
                           body, needs=("fmp4/fixtures",))
        # the multichannel renditions are not fMP4's alone
        self.run_mount("fmp4_ts", self.new_mount("fmp4_ts", src, self._dir("fmp4-cache-ts-"),
                                                 segment_time=fmp4.SEGMENT_TIME,
                                                 options=dict(fmp4.OPTIONS, format="ts")),
                       ts, needs=("fmp4/fixtures",))

    # -- the cache policy (SPEC §5) -------------------------------------------
    def phase_cache_policy(self):
        r = self.r
        src = self._dir("cachepol-src-")
        scratch = self._dir("cachepol-scratch-")

        def fixtures():
            cp.make_title(os.path.join(src, "long.mp4"), cp.LONG_S, 440)
            cp.make_title(os.path.join(src, "a.mp4"), cp.SHORT_S, 550)
            cp.make_title(os.path.join(src, "b.mp4"), cp.SHORT_S, 660)
        r.run("cache/fixtures", fixtures, needs=("setup/tools",), timeout=300)
        need = ("cache/fixtures",)
        small = {"ladder": cp.LADDER, "preset": "ultrafast", "cache_size": cp.CAP}
        roomy = dict(small, cache_size="1G")

        # 1. and 6. a small cache, a long title read start to end; metrics
        def behind(m, mname):
            r.run("cache/metrics_format", cp.check_metrics, m, needs=(mname,))
            r.run("cache/evict_behind_reader", cp.check_behind, m, "long.mp4",
                  needs=(mname,), timeout=600)
            r.run("cache/metrics_after", lambda: cp.parse_metrics(
                open(os.path.join(m.mountpoint, ".hlsfs", "metrics")).read()),
                needs=(mname,))
        self.run_mount("cache_small", self.new_mount(
            "cache-small", src, self._dir("cache-p1-"),
            options=dict(small, segment_keep=cp.KEEP, max_ahead=12)), behind, needs=need)

        # 2. clean=eager without pressure, and the default for comparison
        self.run_mount("cache_eager", self.new_mount(
            "cache-eager", src, self._dir("cache-p2-"),
            options=dict(roomy, segment_keep=cp.KEEP, clean="eager", max_ahead=0)),
            lambda m, mname: r.run("cache/clean_eager", cp.check_eager, m, "long.mp4", 15,
                                   needs=(mname,), timeout=300), needs=need)
        self.run_mount("cache_pressure", self.new_mount(
            "cache-pressure", src, self._dir("cache-p3-"),
            options=dict(roomy, segment_keep=cp.KEEP, max_ahead=0)),
            lambda m, mname: r.run("cache/clean_pressure_keeps", cp.check_pressure_keeps, m,
                                   "long.mp4", 15, needs=(mname,), timeout=300), needs=need)

        # 3. two short titles in turn under pressure
        idle = 1
        self.run_mount("cache_lru", self.new_mount(
            "cache-lru", src, self._dir("cache-p4-"),
            options=dict(small, idle_timeout=idle, max_ahead=0)),
            lambda m, mname: r.run("cache/lru_idle_title", cp.check_lru, m, "a.mp4", "b.mp4",
                                   idle, needs=(mname,), timeout=600), needs=need)

        # 4. kill -9 during a bulk read; remount; SIGTERM
        kill_cache = self._dir("cache-p5-")
        opts = dict(roomy, max_ahead=0)
        held = {}

        def killed():
            m = self.new_mount("cache-kill", src, kill_cache, options=opts)
            m.start()
            try:
                held.update(cp.kill_during_read(m, "long.mp4", 4))
            finally:
                m.stop()        # reaps the killed daemon
        r.run("cache/kill9", killed, needs=need, timeout=300)

        def resumed(m, mname):
            r.run("cache/kill9_resume", cp.check_resume, m, "long.mp4", held, scratch,
                  needs=(mname, "cache/kill9"), timeout=600)
            r.run("cache/sigterm", cp.check_sigterm, m, "long.mp4", needs=(mname,),
                  timeout=60)
        self.run_mount("cache_resume", self.new_mount("cache-resume", src, kill_cache,
                                                      options=opts),
                       resumed, needs=("cache/kill9",))

        # 5. the same cache under other options: nothing of it is served
        for label, change in (("segment_time", {"segment_time": 4}),
                              ("preset", {"preset": "superfast"})):
            self.run_mount("cache_other_%s" % label, self.new_mount(
                "cache-other-%s" % label, src, kill_cache, options=dict(opts, **change)),
                lambda m, mname: r.run("cache/other_options/%s" % label,
                                       cp.check_other_options, m, "long.mp4", held,
                                       needs=(mname, "cache/kill9")), needs=("cache/kill9",))

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
        self.run_mount("shared", self.new_mount("shared", shared_src, self._dir("cache-c-"),
                                                options=SHARED_OPTIONS),
                       self.phase_shared_body, needs=("shared/setup",))
        self.phase_sequence()

    # -- mounts 7-9: one sequence of titles, three fresh daemons ---------------
    def phase_sequence(self):
        """Segments of several corpus titles read one after another in one
        daemon come out the same in three fresh daemons with fresh caches:
        what a segment is made of must not depend on what the process made
        before it (x264's AVX-512 code broke this for the last two)."""
        present = [rel for rel in SEQUENCE
                   if rel.split("/")[0] in getattr(self, "shared_names", [])]
        if len(present) != len(SEQUENCE):
            self.r.record("sequence/titles", False, "corpus titles missing: %s"
                          % sorted(set(SEQUENCE) - set(present)))
            return
        runs = []
        for k in range(3):
            label = "sequence%d" % k
            got = {}

            def body(m, mname, got=got, label=label):
                def read_all():
                    for rel in SEQUENCE:
                        got[rel] = ck.sha256(ck.read_whole(os.path.join(m.mountpoint, rel))[1])
                self.r.run("%s/read" % label, read_all, needs=(mname,), timeout=300)
            self.run_mount(label, self.new_mount(label, self.shared_src, self._dir("cache-q-"),
                                                 options={"max_ahead": 0}),
                           body, needs=("shared/setup",))
            runs.append(got)

        def same():
            expect(all(len(g) == len(SEQUENCE) for g in runs), "a run did not read them all")
            differ = [rel for rel in SEQUENCE if len({g[rel] for g in runs}) > 1]
            expect(not differ, "bytes differ between the three daemons: %s" % differ)
        self.r.run("sequence/same_bytes", same, needs=tuple("sequence%d/read" % k for k in range(3)))

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
            ok, e = r.run("shared/analyse/%s" % name,
                          lambda: self.expect_of(src_path, ck.DEFAULT_SEGMENT_TIME), needs=tneed)
            if not ok:
                continue
            short = e.sv.end - e.sv.origin <= SHARED_DECODE_MAX_S
            r.run("shared/sizes/%s" % name, ck.check_title_sizes_light, tv, first_sizes, mnt,
                  needs=tneed, timeout=120)
            r.run("shared/playlists/%s" % name, ck.check_playlists, tv, e.sv, e.plan, needs=tneed)
            # the first and last segment of the lowest rung, original and each
            # audio rendition; the first of the highest rung
            picks = []
            if e.original:
                picks.append(("video", "original", [0, -1]))
            if e.rung_names:
                picks.append(("video", e.rung_names[0], [0, -1]))
                if len(e.rung_names) > 1:
                    picks.append(("video", e.rung_names[-1], [0]))
            picks += [("audio", a, [0, -1]) for a in e.audios]
            r.run("shared/master/%s" % name, ck.check_master, tv, e.sv, self.audio_src(src_path),
                  0.02, e, [p[1] for p in picks if p[0] == "video"], needs=tneed, timeout=300)
            records = {}
            for kind, rend, idx in picks:
                self.segment_check("shared/segments/%s/%s/%s" % (name, kind, rend), tv, kind,
                                   rend, src_path, e, tneed, indexes=idx, records=records,
                                   source_tolerance=short)
            if len(picks) > 1:
                r.run("shared/alignment/%s" % name, ck.check_alignment, records, needs=tneed)
            if e.original and short:
                r.run("shared/decode/%s/original" % name, self.decode_check, tv, e.sv, "original",
                      needs=tneed, timeout=400)

    def check_shared_title(self, mnt, name):
        """Serves or shows ERROR. ERROR only when the title cannot be served:
        ffprobe cannot open it, it has no video stream, its video codec has
        no decoder or no picture size. A served title offers exactly the
        renditions its source allows. Returns True when it serves."""
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
            if has_video:
                why = ck.unservable_reason(src_path)
                expect(why, "shows ERROR %r, but ffprobe finds a decodable video stream with a "
                       "picture size" % reason)
            return False
        if has_video is None:
            fail("served, but ffprobe cannot open the file")
        if has_video is False:
            fail("served, but the file has no video stream")
        e = self.expect_of(src_path, ck.DEFAULT_SEGMENT_TIME)
        ck.check_serving_layout(tv, e.audios, videos_expect=e.videos)
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
    ap.add_argument("--shared-only", action="store_true",
                    help="only the shared media corpus (to look into it)")
    ap.add_argument("--cache-only", action="store_true",
                    help="only the cache policy checks (to look into them)")
    ap.add_argument("--budgets-only", action="store_true",
                    help="only the per-segment budget checks (still pictures)")
    ap.add_argument("--subs-only", action="store_true",
                    help="only the text subtitle checks (WebVTT renditions)")
    ap.add_argument("--fmp4-only", action="store_true",
                    help="only the fMP4 (CMAF) segment checks")
    ap.add_argument("--robust-only", action="store_true",
                    help="only the robustness checks (to look into them)")
    ap.add_argument("--picture-only", action="store_true",
                    help="only the picture checks: deinterlacing, tone mapping, edit lists "
                         "(with the corpus' titles unless --no-shared)")
    ap.add_argument("--baseline-hlsfs",
                    help="with the picture checks: a build whose progressive segments this "
                         "one must reproduce byte for byte (a build of main)")
    ap.add_argument("--trick-only", action="store_true",
                    help="only the trick-play checks (I-frames, thumbnails)")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of crashed checks")
    args = ap.parse_args(argv)
    if not args.media and not args.no_shared:
        ap.error("--media is required unless --no-shared is given")

    return run_suite("integration", "hlsfs-it-",
                     lambda results, base: Suite(args, results, base).run(),
                     keep=args.keep, verbose=args.verbose)

if __name__ == "__main__":
    sys.exit(main())
