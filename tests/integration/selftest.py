#!/usr/bin/env python3
"""Self-test of the integration harness; needs ffmpeg/ffprobe, not hlsfs.

    python3 tests/integration/selftest.py [-v]

1. Pure pieces: the segment plan, playlist parsing, log matching.
2. A reference title tree, made with the ffmpeg CLI's segment muxer (which
   keeps source PTS + 1.4 s under -copyts), laid out as hlsfs lays out a
   title. Every check must pass on it; then single faults are injected into
   copies of it and the check responsible must fail on each. This is what
   shows the checks can fail, independently of the daemon.
"""

import math
import os
import shutil
import stat
import sys
import tempfile
import unittest
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hlsit import checks as ck  # noqa: E402
from hlsit.fixtures import IRREGULAR_KEYS, Title  # noqa: E402
from hlsit.harness import CheckFailed  # noqa: E402
from hlsit.m3u8 import MasterPlaylist, MediaPlaylist, parse_attributes, segment_name  # noqa: E402
from hlsit.media import (SourceVideo, plan_cuts, round_ms, run,  # noqa: E402
                         source_audio_streams)


# ---------------------------------------------------------------------------
# 1. Pure pieces

class PlanCuts(unittest.TestCase):
    def test_regular(self):
        self.assertEqual(plan_cuts([0, 2, 4, 6, 8, 10, 12, 14], 6), [0, 6, 12])

    def test_first_keyframe_is_origin(self):
        self.assertEqual(plan_cuts([100, 102, 106, 107, 112], 6), [100, 106, 112])

    def test_at_or_after(self):
        self.assertEqual(plan_cuts([0, 5, 7, 11, 13], 6), [0, 7, 13])

    def test_several_multiples_one_cut(self):
        # 6 and 12 both fall before 13: one cut, next multiple 18
        self.assertEqual(plan_cuts([0, 5, 13, 17, 18, 19], 6), [0, 13, 18])

    def test_not_after_previous_cut(self):
        self.assertEqual(plan_cuts([0, 6, 6, 3, 12], 6), [0, 6, 12])

    def test_exact_fractions(self):
        tb = Fraction(1, 12800)
        keys = [int(Fraction(k) / tb) for k in IRREGULAR_KEYS]
        got = [float(c * tb) for c in plan_cuts(keys, Fraction(6) / tb)]
        self.assertEqual(got, [0.0, 6.04, 12.0, 20.04])
        got = [float(c * tb) for c in plan_cuts(keys, Fraction(4) / tb)]
        self.assertEqual(got, [0.0, 5.96, 11.96, 12.0, 20.04])

    def test_round_ms(self):
        self.assertEqual(round_ms(Fraction(6040, 1000)), 6040)
        self.assertEqual(round_ms(Fraction(1, 2000)), 1)
        self.assertEqual(round_ms(Fraction(1, 3000)), 0)


GOOD_MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:7
#EXTINF:6.040,
00000.ts
#EXTINF:5.96,
00001.ts
#EXT-X-ENDLIST
"""


class Playlists(unittest.TestCase):
    def test_good(self):
        pl = MediaPlaylist(GOOD_MEDIA)
        self.assertEqual(pl.durations_ms(), [6040, 5960])
        self.assertEqual(pl.target_duration, 7)

    def bad(self, text):
        with self.assertRaises(CheckFailed):
            MediaPlaylist(text)

    def test_bad(self):
        self.bad(GOOD_MEDIA.replace("#EXT-X-ENDLIST\n", ""))
        self.bad(GOOD_MEDIA.replace("#EXT-X-PLAYLIST-TYPE:VOD\n", ""))
        self.bad(GOOD_MEDIA.replace("#EXT-X-INDEPENDENT-SEGMENTS\n", ""))
        self.bad(GOOD_MEDIA.replace("TARGETDURATION:7", "TARGETDURATION:6"))
        self.bad(GOOD_MEDIA.replace("6.040", "6.0401"))
        self.bad(GOOD_MEDIA.replace("00001.ts", "00002.ts"))
        self.bad(GOOD_MEDIA.replace("00000.ts", "0.ts"))

    def test_attributes(self):
        a, q = parse_attributes('BANDWIDTH=1000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1x2')
        self.assertEqual(a["CODECS"], "avc1.64001f,mp4a.40.2")
        self.assertEqual(q, {"CODECS"})
        with self.assertRaises(CheckFailed):
            parse_attributes('A="x')

    def test_master(self):
        m = MasterPlaylist('#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="audio/0/'
                           'index.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo/original/index.m3u8\n')
        self.assertEqual(len(m.variants), 1)
        self.assertEqual(m.variants[0][2], "video/original/index.m3u8")
        self.assertEqual(len(m.media), 1)

    def test_segment_names(self):
        self.assertEqual(segment_name(7, 10), "00007.ts")
        self.assertEqual(segment_name(7, 123456), "000007.ts")


class Logs(unittest.TestCase):
    LOG = ("hlsfs: info: /bad/x.mp4: index built in 1 ms\n"
           "hlsfs: info: /a/b/c/title.mp4: index loaded from cache in 0.1 ms\n"
           "hlsfs: info: /clip.mp4.part: index built\n")

    def test_matching(self):
        self.assertTrue(ck.log_mentions(self.LOG, "index built", "bad/x.mp4"))
        self.assertFalse(ck.log_mentions(self.LOG, "index built", "x.mp4"))
        self.assertFalse(ck.log_mentions(self.LOG, "index built", "clip.mp4"))
        self.assertTrue(ck.log_mentions(self.LOG, "index loaded from cache", "a/b/c/title.mp4"))
        self.assertFalse(ck.log_mentions(self.LOG, "index built", "a/b/c/title.mp4"))

    def test_ts_diff(self):
        self.assertEqual(ck.ts_diff(5, (1 << 33) - 5), 10)
        self.assertEqual(ck.ts_diff(100, 90), 10)


# ---------------------------------------------------------------------------
# 2. A reference title tree

PROFILE_IDC = {"High": 100, "Main": 77, "Constrained Baseline": 66, "Baseline": 66}


def _segment(src, map_spec, out_pattern, times, offset=1.4, extra=()):
    """Cut src with ffmpeg's segment muxer into MPEG-TS files whose
    timestamps are the source's plus offset (no other shift: the inner
    muxer must neither add its own delay nor shift negative dts)."""
    args = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-copyts", "-i", src, "-map", map_spec,
            "-c", "copy", "-output_ts_offset", str(offset), "-f", "segment",
            "-segment_format", "mpegts", "-segment_format_options", "mpegts_copyts=1"]
    args += list(extra)
    if times:
        args += ["-segment_times", ",".join("%.6f" % (t + offset) for t in times)]
    else:
        args += ["-segment_time", "100000"]
    r = run(args + [out_pattern])
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


def build_reference(src, title_dir, segment_time):
    """Lay out src as hlsfs would serve it, with ffmpeg doing the cutting."""
    sv = SourceVideo(src)
    plan = sv.plan(segment_time)
    audio = source_audio_streams(src)
    half = sv.frame_dur / 2
    os.makedirs(os.path.join(title_dir, "video", "original"))
    shutil.copy2(src, os.path.join(title_dir, "source." + src.rsplit(".", 1)[1]))
    # video: cut just before each planned keyframe (the muxer cuts at the
    # first keyframe at or after the time)
    _segment(src, "0:v:0", os.path.join(title_dir, "video", "original", "%05d.ts"),
             [float(c - half) for c in plan.cuts[1:]])
    for a in audio:
        d = os.path.join(title_dir, "audio", str(a["ordinal"]))
        os.makedirs(d)
        # audio: every packet at or after the cut goes to the next segment
        _segment(src, "0:a:%d" % a["ordinal"], os.path.join(d, "%05d.ts"),
                 [math.ceil(c * 1000000) / 1000000 for c in plan.cuts[1:]])
    durs = plan.durations_ms()
    media = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
             "#EXT-X-INDEPENDENT-SEGMENTS",
             "#EXT-X-TARGETDURATION:%d" % math.ceil(max(durs) / 1000)]
    for i, d in enumerate(durs):
        media += ["#EXTINF:%d.%03d," % (d // 1000, d % 1000), segment_name(i, len(durs))]
    media += ["#EXT-X-ENDLIST", ""]
    rdirs = [os.path.join(title_dir, "video", "original")] + \
            [os.path.join(title_dir, "audio", str(a["ordinal"])) for a in audio]
    for rd in rdirs:
        with open(os.path.join(rd, "index.m3u8"), "w") as f:
            f.write("\n".join(media))

    def sizes(rd):
        return [os.path.getsize(os.path.join(rd, segment_name(i, len(durs))))
                for i in range(len(durs))]
    bits = [8 * sum(x) for x in zip(*[sizes(rd) for rd in rdirs[:2]])]
    secs = [d / 1000 for d in durs]
    avg = sum(bits) / sum(secs)
    peak = max(b / s for b, s in zip(bits, secs))
    codecs = "avc1.%02x00%02x" % (PROFILE_IDC[sv.profile], sv.level)
    master = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for a in audio:
        lang = a["language"] if a["language"] not in (None, "und") else None
        master.append('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Track %d",%sDEFAULT=%s,'
                      'CHANNELS="%d",URI="audio/%d/index.m3u8"'
                      % (a["ordinal"], 'LANGUAGE="%s",' % lang if lang else "",
                         "YES" if a["ordinal"] == 0 else "NO", a["channels"], a["ordinal"]))
    if audio:
        codecs += ",mp4a.40.2"
    master.append('#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,'
                  'FRAME-RATE=%.3f,CODECS="%s"%s'
                  % (peak * 1.1, avg, sv.width, sv.height, sv.fps(), codecs,
                     ',AUDIO="aud"' if audio else ""))
    master += ["video/original/index.m3u8", ""]
    with open(os.path.join(title_dir, "master.m3u8"), "w") as f:
        f.write("\n".join(master))
    set_title_attrs(src, title_dir)
    return sv, plan, audio


def set_title_attrs(src, title_dir):
    st = os.stat(src)
    mode = stat.S_IMODE(st.st_mode)
    dmode = mode | ((mode & 0o444) >> 2)
    for root, dirs, files in os.walk(title_dir, topdown=False):
        for f in files:
            p = os.path.join(root, f)
            os.chmod(p, mode)
            os.utime(p, ns=(st.st_mtime_ns, st.st_mtime_ns))
        os.chmod(root, dmode)
        os.utime(root, ns=(st.st_mtime_ns, st.st_mtime_ns))


class Reference(unittest.TestCase):
    """Checks against a reference tree; then faults, one at a time."""

    TITLES = [
        (Title("irregular.mp4", fps=25, duration=22, keys=IRREGULAR_KEYS), 6),
        (Title("two_audio.mp4", fps=24, duration=12, gop=48, tones=(440, 660),
               langs=("eng", "fra")), 4),
        (Title("matroska.mkv", fps=25, duration=10, gop=50), 6),
    ]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hlsfs-selftest-")
        cls.src = os.path.join(cls.tmp, "src")
        cls.ref = os.path.join(cls.tmp, "ref")
        os.makedirs(cls.src)
        os.makedirs(cls.ref)
        cls.info = {}
        for t, segment_time in cls.TITLES:
            path = os.path.join(cls.src, t.rel)
            r = run(t.ffmpeg_args(path))
            assert r.returncode == 0, r.stderr
            os.chmod(path, 0o640)
            os.utime(path, ns=(1_500_000_000_987_654_321,) * 2)
            sv, plan, audio = build_reference(path, os.path.join(cls.ref, t.rel), segment_time)
            frames, tolerated = ck.source_decode(sv, crc=True)
            cls.info[t.rel] = (sv, plan, audio, frames, tolerated, t)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- all checks on a tree ------------------------------------------------
    def run_checks(self, root, rel, only=None):
        """Run every title check on root/rel; returns {check: error or None}."""
        sv, plan, audio, frames, tolerated, t = self.info[rel]
        tv = ck.TitleView(root, self.src, rel)
        first = {k: st.st_size for k, st in ck.walk(root).items() if stat.S_ISREG(st.st_mode)}
        todo = {
            "layout": lambda: ck.check_serving_layout(tv, [a["ordinal"] for a in audio]),
            "attrs": lambda: ck.check_title_attrs(tv),
            "sizes": lambda: ck.check_title_sizes(tv, first, root, {}),
            "playlists": lambda: ck.check_playlists(tv, sv, plan),
            "master": lambda: ck.check_master(tv, sv, audio),
            "segments/video": lambda: ck.check_segments(tv, "video", "original", sv, plan),
            "decode": lambda: ck.check_decode(tv, sv, frames, tolerated, True),
        }
        for a in audio:
            todo["segments/audio/%d" % a["ordinal"]] = (
                lambda a=a: ck.check_segments(tv, "audio", str(a["ordinal"]), sv, plan,
                                              audio_src=a))
        out = {}
        for name, fn in todo.items():
            if only and name not in only:
                continue
            try:
                fn()
                out[name] = None
            except CheckFailed as e:
                out[name] = str(e)
        return out

    def fault(self, rel, mutate, must_fail):
        """Copy the reference, apply mutate(title_dir), and require that the
        checks in must_fail fail and the others pass."""
        root = tempfile.mkdtemp(dir=self.tmp)
        title = os.path.join(root, rel)
        shutil.copytree(os.path.join(self.ref, rel), title, copy_function=shutil.copy2)
        set_title_attrs(os.path.join(self.src, rel), title)
        mutate(title)
        res = self.run_checks(root, rel)
        for name in must_fail:
            self.assertIsNotNone(res.get(name, "not run"), "%s passed despite the fault" % name)
        others = {k: v for k, v in res.items() if k not in must_fail and v is not None}
        return others

    def test_reference_passes(self):
        for rel in self.info:
            res = self.run_checks(self.ref, rel)
            failed = {k: v for k, v in res.items() if v is not None}
            self.assertEqual(failed, {}, rel)

    # -- faults ---------------------------------------------------------------
    def test_extinf_off(self):
        def m(d):
            edit(os.path.join(d, "video/original/index.m3u8"), "#EXTINF:6.040,", "#EXTINF:6.045,")
            keep_attrs(d)
        self.fault("irregular.mp4", m, ["playlists"])

    def test_no_endlist(self):
        def m(d):
            edit(os.path.join(d, "audio/0/index.m3u8"), "#EXT-X-ENDLIST\n", "")
            keep_attrs(d)
        self.fault("irregular.mp4", m, ["playlists"])

    def test_truncated_segment(self):
        def m(d):
            p = os.path.join(d, "video/original/00001.ts")
            os.truncate(p, os.path.getsize(p) - 100)
            keep_attrs(d)
        self.fault("irregular.mp4", m, ["sizes", "segments/video"])

    def test_swapped_segments(self):
        def m(d):
            a, b = (os.path.join(d, "video/original/%05d.ts" % i) for i in (1, 2))
            os.rename(a, a + ".tmp")
            os.rename(b, a)
            os.rename(a + ".tmp", b)
            keep_attrs(d)
        self.fault("irregular.mp4", m, ["segments/video", "decode"])

    def test_swapped_audio_segments(self):
        def m(d):
            a, b = (os.path.join(d, "audio/1/%05d.ts" % i) for i in (0, 1))
            os.rename(a, a + ".tmp")
            os.rename(b, a)
            os.rename(a + ".tmp", b)
            keep_attrs(d)
        self.fault("two_audio.mp4", m, ["segments/audio/1"])

    def test_no_ts_offset(self):
        sv, plan, audio, *_ = self.info["matroska.mkv"]

        def m(d):
            vd = os.path.join(d, "video/original")
            for f in os.listdir(vd):
                if f.endswith(".ts"):
                    os.unlink(os.path.join(vd, f))
            _segment(sv.path, "0:v:0", os.path.join(vd, "%05d.ts"),
                     [float(c - sv.frame_dur / 2) for c in plan.cuts[1:]], offset=1.0)
            keep_attrs(d)
        self.fault("matroska.mkv", m, ["segments/video", "decode"])

    def test_cut_not_on_keyframe(self):
        sv, plan, audio, *_ = self.info["matroska.mkv"]

        def m(d):
            vd = os.path.join(d, "video/original")
            for f in os.listdir(vd):
                if f.endswith(".ts"):
                    os.unlink(os.path.join(vd, f))
            _segment(sv.path, "0:v:0", os.path.join(vd, "%05d.ts"),
                     [float(c + sv.frame_dur * 3 / 2) for c in plan.cuts[1:]],
                     extra=["-break_non_keyframes", "1"])
            keep_attrs(d)
        self.fault("matroska.mkv", m, ["segments/video"])

    def test_missing_frames(self):
        sv, plan, audio, *_ = self.info["matroska.mkv"]

        def m(d):
            last = os.path.join(d, "video/original/%05d.ts" % (len(plan) - 1))
            tmp = last + ".short.ts"
            r = run(["ffmpeg", "-nostdin", "-v", "error", "-copyts", "-i", last, "-map", "0",
                     "-c", "copy", "-frames:v", "20", "-f", "mpegts", "-mpegts_copyts", "1", tmp])
            assert r.returncode == 0, r.stderr
            os.replace(tmp, last)
            keep_attrs(d)
        self.fault("matroska.mkv", m, ["segments/video", "decode"])

    def test_corrupt_bytes(self):
        def m(d):
            p = os.path.join(d, "video/original/00000.ts")
            with open(p, "r+b") as f:
                data = bytearray(f.read())
                for pkt in range(200, 600):
                    off = pkt * 188
                    if off + 188 <= len(data) and data[off + 1] & 0x1F == 0x01:
                        data[off + 20:off + 188] = bytes(168)
                f.seek(0)
                f.write(data)
            keep_attrs(d)
        self.fault("irregular.mp4", m, ["decode"])

    def test_mtime_and_mode(self):
        def m(d):
            p = os.path.join(d, "audio/0/index.m3u8")
            os.utime(p, ns=(1, 1))
            os.chmod(os.path.join(d, "master.m3u8"), 0o600)
        self.fault("irregular.mp4", m, ["attrs"])

    def test_master_faults(self):
        def m_codecs(d):
            edit(os.path.join(d, "master.m3u8"), "avc1.64000c", "avc1.64001f")
            keep_attrs(d)
        self.fault("irregular.mp4", m_codecs, ["master"])

        def m_lang(d):
            edit(os.path.join(d, "master.m3u8"), 'LANGUAGE="fra"', 'LANGUAGE="deu"')
            keep_attrs(d)
        self.fault("two_audio.mp4", m_lang, ["master"])

        def m_res(d):
            edit(os.path.join(d, "master.m3u8"), "RESOLUTION=320x180", "RESOLUTION=320x176")
            keep_attrs(d)
        self.fault("two_audio.mp4", m_res, ["master"])

        def m_uri(d):
            edit(os.path.join(d, "master.m3u8"), 'URI="audio/1/', 'URI="audio/0/')
            keep_attrs(d)
        self.fault("two_audio.mp4", m_uri, ["master"])

    def test_layout_faults(self):
        def m_extra(d):
            with open(os.path.join(d, "ERROR"), "w") as f:
                f.write("oops\n")
            keep_attrs(d)
        self.fault("irregular.mp4", m_extra, ["layout"])

        def m_gap(d):
            os.unlink(os.path.join(d, "audio/0/00001.ts"))
            keep_attrs(d)
        self.fault("irregular.mp4", m_gap, ["layout", "playlists"])

    @unittest.skipUnless(os.geteuid() == 0, "a read-only bind mount needs root")
    def test_erofs_check(self):
        """check_erofs passes on a read-only bind mount, fails on a writable tree."""
        root = tempfile.mkdtemp(dir=self.tmp)
        shutil.copytree(os.path.join(self.ref, "irregular.mp4"), os.path.join(root, "irregular.mp4"))
        os.makedirs(os.path.join(root, "a", "b"))
        with open(os.path.join(root, "info.nfo"), "w") as f:
            f.write("x\n")
        ro = tempfile.mkdtemp(dir=self.tmp)
        r = run(["mount", "--bind", root, ro])
        if r.returncode != 0:
            self.skipTest("bind mount failed: %s" % r.stderr.strip())
        try:
            r = run(["mount", "-o", "remount,bind,ro", ro])
            self.assertEqual(r.returncode, 0, r.stderr)
            ck.check_erofs(ro, root, "irregular.mp4", "info.nfo", "a")
            ck.check_erofs_xattr(ro, [os.path.join(ro, "info.nfo")])
        finally:
            run(["umount", ro])
        with self.assertRaises(CheckFailed):
            ck.check_erofs(root, root, "irregular.mp4", "info.nfo", "a")

    def test_error_layout(self):
        root = tempfile.mkdtemp(dir=self.tmp)
        tv = ck.TitleView(root, self.src, "x.mp4")
        os.makedirs(tv.path)
        open(os.path.join(tv.path, "source.mp4"), "wb").close()
        for text, ok in (("no video stream\n", True), ("no video stream", True),
                         ("", False), ("\n", False), ("two\nlines\n", False)):
            with open(os.path.join(tv.path, "ERROR"), "w") as f:
                f.write(text)
            if ok:
                ck.check_error_layout(tv)
            else:
                with self.assertRaises(CheckFailed):
                    ck.check_error_layout(tv)
        open(os.path.join(tv.path, "master.m3u8"), "w").close()
        with open(os.path.join(tv.path, "ERROR"), "w") as f:
            f.write("x\n")
        with self.assertRaises(CheckFailed):
            ck.check_error_layout(tv)


def edit(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text, (old, path)
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def keep_attrs(title_dir):
    """Restore mode/mtime after a content fault, so only the fault shows."""
    rel = os.path.basename(title_dir)
    src = os.path.join(Reference.src, rel)
    set_title_attrs(src, title_dir)


if __name__ == "__main__":
    unittest.main()
