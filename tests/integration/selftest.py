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
from hlsit import lazy, tsparse  # noqa: E402
from hlsit.fixtures import IRREGULAR_KEYS, Title  # noqa: E402
from hlsit.harness import CheckFailed  # noqa: E402
from hlsit.m3u8 import MasterPlaylist, MediaPlaylist, parse_attributes, segment_name  # noqa: E402
from hlsit.media import (DEFAULT_LADDER, SourceVideo, audio_grid, cellular_rate, expected_rungs,  # noqa: E402
                         ffprobe_json, parse_ladder, plan_cuts, round_ms, run,
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


class Transcoding(unittest.TestCase):
    """The expectations of the transcoding contract, by hand."""

    def test_rungs(self):
        lad = parse_ladder(DEFAULT_LADDER)
        # the rate unknown: every rung up to the short side, and one at half
        # the smallest for cellular (none of them is under 192 kbit/s)
        names = [n for n, _, _ in expected_rungs(lad, 1920, 1080)]
        self.assertEqual(names, ["180p", "360p", "480p", "720p", "1080p"])
        (low, _, low_rate), (name, pics, rate) = expected_rungs(lad, 320, 180)
        self.assertEqual((name, pics), ("180p", {(320, 180)}))
        self.assertEqual(rate, 200000)
        self.assertEqual((low, low_rate), ("90p", 50000))
        (_, _, _), (name, pics, rate) = expected_rungs(lad, 176, 144)
        self.assertEqual((name, pics, rate), ("144p", {(176, 144)}, 128000))
        # the original counts as a rendition, but 144p at 128 kbit/s is too
        # much for the cellular variant: 72p is added
        self.assertEqual([n for n, _, _ in expected_rungs(lad, 176, 144, original=True)],
                         ["72p", "144p"])
        (_, _, _), (name, pics, _) = expected_rungs(lad, 161, 121)
        self.assertEqual((name, pics), ("120p", {(160, 120)}))
        small = parse_ladder("120:200k,180:300k")
        self.assertEqual(dict((n, p) for n, p, _ in expected_rungs(small, 322, 182)),
                         {"60p": {(106, 60)}, "120p": {(212, 120)}, "180p": {(318, 180)}})
        # portrait (a rotated source): the short side is the width
        self.assertEqual(dict((n, p) for n, p, _ in expected_rungs(small, 180, 320)),
                         {"60p": {(60, 106), (60, 108)}, "120p": {(120, 214)}, "180p": {(180, 320)}})
        (_, _, _), (_, _, rate) = expected_rungs(parse_ladder("360:100k"), 64, 36)
        self.assertEqual(rate, 64000)

    def test_rungs_fit_the_source(self):
        """The model agrees with test_ladder.c's table (ladder.c's rules)."""
        lad = parse_ladder(DEFAULT_LADDER)

        def fit(w, h, rate, codec, original):
            return [(n, r) for n, _, r in expected_rungs(lad, w, h, rate, codec, original)]
        self.assertEqual(fit(1920, 1080, 5000000, "h264", True),
                         [("180p", 92666), ("360p", 800000), ("480p", 1400000),
                          ("720p", 2800000), ("1080p", 5000000)])
        self.assertEqual([n for n, _ in fit(1920, 1080, 220000, "h264", True)],
                         ["240p", "480p", "720p", "1080p"])
        self.assertEqual([n for n, _ in fit(1920, 1080, 10000, "av1", False)], ["540p", "1080p"])
        self.assertEqual(fit(640, 360, 800000, "mpeg4", False), [("180p", 92666), ("360p", 693333)])
        self.assertEqual(fit(176, 144, 100000, "h264", True), [("72p", 32000), ("144p", 128000)])
        self.assertEqual(fit(176, 144, 64000, "h263", False), [("72p", 32000), ("144p", 55466)])
        for w, h, rate, codec, orig in [(1920, 1080, 220000, "h264", True),
                                        (1280, 720, 600000, "h264", True),
                                        (426, 240, 300000, "h264", True)]:
            got = fit(w, h, rate, codec, orig)
            self.assertGreaterEqual(len(got) + orig, 2)
            self.assertLessEqual(got[0][1], cellular_rate(30))
            self.assertEqual([r for _, r in got], sorted(set(r for _, r in got)))

    def test_audio_grid(self):
        from hlsit.media import Plan
        plan = Plan([Fraction(0), Fraction(604, 100), Fraction(12)], Fraction(22))
        # 6.04 s = 283.125 frames -> 283; 12 s = 562.5 frames, a tie -> 563;
        # the end, 22 s = 1031.25 frames, rounds up
        self.assertEqual(audio_grid(plan, plan.end),
                         [0, 1024 * 283, 1024 * 563, 1024 * 1032])
        # an origin off the grid of 1024: the grid starts at it
        plan = Plan([Fraction(1, 25), Fraction(2)], Fraction(4))
        g = audio_grid(plan, plan.end)
        self.assertEqual(g[0], 1920)
        self.assertEqual((g[1] - g[0]) % 1024, 0)
        self.assertEqual(g[1], 1920 + 1024 * 92)      # 94080 / 1024 = 91.875 -> 92
        self.assertEqual(g[2], 1920 + 1024 * 186)     # ceil(190080 / 1024)

    def test_scatter_and_window(self):
        self.assertEqual(lazy.scattered_order(10), [5, 1, 9, 0, 2, 8, 7, 6, 4, 3])
        self.assertEqual(lazy.scattered_order(3), [1, 0, 2])
        from hlsit.media import Plan
        plan = Plan([Fraction(2 * i) for i in range(12)], Fraction(24))
        self.assertEqual(lazy.readahead_window(plan, 0, 4), [1, 2])
        self.assertEqual(lazy.readahead_window(plan, 6, 4), [7, 8])
        self.assertEqual(lazy.readahead_window(plan, 11, 4), [])

    def test_nal_units(self):
        au = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x67\x64\x00\x1e\xac" \
             b"\x00\x00\x01\x68\xee\x00\x00\x01\x65\x88\x84"
        self.assertEqual([t for t, _ in tsparse.nal_units(au)], [9, 7, 8, 5])

    def test_made_lines(self):
        log = ("hlsfs: info: /m/a b.mp4: encoded video/180p segment 12 made in 35 ms (57.1x realtime, 6.0% padding)\n"
               "hlsfs: info: /m/x.mkv: copied video/original segment 0 made in 1 ms (600.00x realtime, 0.1% padding)\n"
               "hlsfs: info: /m/x.mkv: index built from container index in 1 ms\n")
        got = [(x["path"], x["how"], x["kind"], x["name"], x["seg"]) for x in ck.made_lines(log)]
        self.assertEqual(got, [("/m/a b.mp4", "encoded", "video", "180p", 12),
                               ("/m/x.mkv", "copied", "video", "original", 0)])
        self.assertEqual(len(ck.made_lines(log, "/m/x.mkv")), 1)


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


def _rung_segment(src, out, start, stop, frame_dur, w, h):
    """One transcoded segment made by the ffmpeg CLI the way hlsfs makes
    them: the source frames presented in [start, stop), scaled, libx264
    High with one IDR at the start and no other keyframe, timestamps kept
    (+1.4 s)."""
    half = float(frame_dur) / 2
    cond = "gte(t\\,%.6f)" % (float(start) - half)
    if stop is not None:
        cond += "*lt(t\\,%.6f)" % (float(stop) - half)
    args = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-copyts", "-i", src, "-map", "0:v:0",
            "-vf", "select='%s',scale=%d:%d,format=yuv420p" % (cond, w, h),
            "-fps_mode", "passthrough", "-enc_time_base", "-1",
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-b:v", "200k",
            "-x264-params", "keyint=infinite:scenecut=0:open-gop=0",
            "-f", "mpegts", "-mpegts_copyts", "1", "-output_ts_offset", "1.4", out]
    r = run(args)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


def _audio_segments(src, ordinal, d, grid, scratch):
    """AAC-LC stereo 48 kHz on the grid: one continuous encode of the
    source track (silence where it has no audio), cut into whole frames at
    the grid's points, each segment muxed at its grid time + 1.4 s."""
    origin, end = grid[0], grid[-1]
    assert origin >= 0, "the reference needs titles that start at 0 or later"
    adts = os.path.join(scratch, "a%d.aac" % ordinal)
    r = run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", src, "-map", "0:a:%d" % ordinal,
             "-af", "aresample=48000:async=1:first_pts=0,apad,atrim=start_sample=%d:end_sample=%d"
             % (origin, end),
             "-ac", "2", "-c:a", "aac", "-b:a", "128k", "-f", "adts", adts])
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    with open(adts, "rb") as f:
        data = f.read()
    frames, pos = [], 0
    while pos + 7 <= len(data):
        length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        frames.append(data[pos:pos + length])
        pos += length
    frames = frames[1:]          # the encoder's priming frame
    for i in range(len(grid) - 1):
        a, b = (grid[i] - origin) // 1024, (grid[i + 1] - origin) // 1024
        part = os.path.join(scratch, "a%d-%d.aac" % (ordinal, i))
        with open(part, "wb") as f:
            f.write(b"".join(frames[a:b]))
        offset = "%.9f" % (1.4 + grid[i] / 48000)
        r = run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "aac", "-i", part,
                 "-c", "copy", "-f", "mpegts", "-mpegts_copyts", "1",
                 "-output_ts_offset", offset, os.path.join(d, segment_name(i, len(grid) - 1))])
        if r.returncode != 0:
            raise RuntimeError(r.stderr)


def build_reference(src, title_dir, segment_time, scratch):
    """Lay out src as hlsfs would serve it, with ffmpeg doing the work:
    original (packet copy cut by the segment muxer), the rungs of the
    default ladder (each segment encoded on its own) and the audio on the
    sample grid."""
    sv = SourceVideo(src)
    audio = source_audio_streams(src)
    ex = ck.TitleExpect(sv, audio, segment_time, parse_ladder(DEFAULT_LADDER), True)
    plan = ex.plan
    half = sv.frame_dur / 2
    os.makedirs(os.path.join(title_dir, "video", "original"))
    shutil.copy2(src, os.path.join(title_dir, "source." + src.rsplit(".", 1)[1]))
    # video: cut just before each planned keyframe (the muxer cuts at the
    # first keyframe at or after the time)
    _segment(src, "0:v:0", os.path.join(title_dir, "video", "original", "%05d.ts"),
             [float(c - half) for c in plan.cuts[1:]])
    rung_sizes = {}
    for name in ex.rung_names:
        w, h = sorted(ex.rungs[name][0])[0]
        rung_sizes[name] = (w, h)
        d = os.path.join(title_dir, "video", name)
        os.makedirs(d)
        for i in range(len(plan)):
            _rung_segment(src, os.path.join(d, segment_name(i, len(plan))), plan.start(i),
                          plan.cuts[i + 1] if i + 1 < len(plan) else None, sv.frame_dur, w, h)
    for a in audio:
        d = os.path.join(title_dir, "audio", str(a["ordinal"]))
        os.makedirs(d)
        _audio_segments(src, a["ordinal"], d, ex.grid, scratch)
    durs = plan.durations_ms()
    media = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
             "#EXT-X-INDEPENDENT-SEGMENTS",
             "#EXT-X-TARGETDURATION:%d" % math.ceil(max(durs) / 1000)]
    for i, d in enumerate(durs):
        media += ["#EXTINF:%d.%03d," % (d // 1000, d % 1000), segment_name(i, len(durs))]
    media += ["#EXT-X-ENDLIST", ""]
    vdirs = [os.path.join(title_dir, "video", v) for v in ex.videos]
    adirs = [os.path.join(title_dir, "audio", str(a["ordinal"])) for a in audio]
    for rd in vdirs + adirs:
        with open(os.path.join(rd, "index.m3u8"), "w") as f:
            f.write("\n".join(media))

    def sizes(rd):
        return [os.path.getsize(os.path.join(rd, segment_name(i, len(durs))))
                for i in range(len(durs))]
    secs = [d / 1000 for d in durs]
    master = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for a in audio:
        lang = a["language"] if a["language"] not in (None, "und") else None
        master.append('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Track %d",%sDEFAULT=%s,'
                      'CHANNELS="2",URI="audio/%d/index.m3u8"'
                      % (a["ordinal"], 'LANGUAGE="%s",' % lang if lang else "",
                         "YES" if a["ordinal"] == 0 else "NO", a["ordinal"]))
    for v, vd in zip(ex.videos, vdirs):
        bits = [8 * sum(x) for x in zip(*[sizes(rd) for rd in [vd] + adirs[:1]])]
        avg = sum(bits) / sum(secs)
        peak = max(b / s for b, s in zip(bits, secs))
        if v == "original":
            codecs = "avc1.%02x00%02x" % (PROFILE_IDC[sv.profile], sv.level)
            res = (sv.width, sv.height)
        else:
            st = ffprobe_json(os.path.join(vd, segment_name(0, len(durs))),
                              ["-select_streams", "v:0", "-show_entries", "stream=profile,level"])
            st = st["streams"][0]
            codecs = "avc1.%02x00%02x" % (PROFILE_IDC[st["profile"]], int(st["level"]))
            res = rung_sizes[v]
        if audio:
            codecs += ",mp4a.40.2"
        master.append('#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,'
                      'FRAME-RATE=%.3f,CODECS="%s"%s'
                      % (peak * 1.1, avg, res[0], res[1], sv.fps(), codecs,
                         ',AUDIO="aud"' if audio else ""))
        master.append("video/%s/index.m3u8" % v)
    master.append("")
    with open(os.path.join(title_dir, "master.m3u8"), "w") as f:
        f.write("\n".join(master))
    set_title_attrs(src, title_dir)
    return ex


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
            scratch = tempfile.mkdtemp(dir=cls.tmp)
            ex = build_reference(path, os.path.join(cls.ref, t.rel), segment_time, scratch)
            frames, tolerated = ck.source_decode(ex.sv, crc=True)
            cls.info[t.rel] = (ex.sv, ex.plan, ex.audio, frames, tolerated, t, ex)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- all checks on a tree ------------------------------------------------
    def run_checks(self, root, rel, only=None):
        """Run every title check on root/rel; returns {check: error or None}."""
        sv, plan, audio, frames, tolerated, t, ex = self.info[rel]
        tv = ck.TitleView(root, self.src, rel)
        first = {k: st.st_size for k, st in ck.walk(root).items() if stat.S_ISREG(st.st_mode)}
        records = {}
        todo = {
            "layout": lambda: ck.check_serving_layout(tv, ex.audios, videos_expect=ex.videos),
            "attrs": lambda: ck.check_title_attrs(tv),
            "sizes": lambda: ck.check_title_sizes(tv, first, root, {}),
            "playlists": lambda: ck.check_playlists(tv, sv, plan),
            "master": lambda: ck.check_master(tv, sv, audio, ex=ex),
        }
        for v in ex.videos:
            todo["segments/video/%s" % v] = (
                lambda v=v: ck.check_segments(tv, "video", v, ex,
                                              record=records.setdefault(("video", v), {})))
        for a in ex.audios:
            todo["segments/audio/%s" % a] = (
                lambda a=a: ck.check_segments(tv, "audio", a, ex,
                                              record=records.setdefault(("audio", a), {})))
        todo["alignment"] = lambda: ck.check_alignment(records)
        for v in ex.videos:
            todo["decode/%s" % v] = lambda v=v: ck.check_decode(tv, sv, frames, tolerated, True, v)
        todo["decode/master"] = lambda: ck.check_decode(tv, sv, frames, tolerated, True)
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
        self.fault("irregular.mp4", m, ["sizes", "segments/video/original"])

    def test_swapped_segments(self):
        def m(d):
            a, b = (os.path.join(d, "video/original/%05d.ts" % i) for i in (1, 2))
            os.rename(a, a + ".tmp")
            os.rename(b, a)
            os.rename(a + ".tmp", b)
            keep_attrs(d)
        self.fault("irregular.mp4", m, ["segments/video/original", "decode/original",
                                        "decode/master"])

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
        self.fault("matroska.mkv", m, ["segments/video/original", "decode/original",
                                       "decode/master", "alignment"])

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
        self.fault("matroska.mkv", m, ["segments/video/original", "alignment"])

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
        self.fault("matroska.mkv", m, ["segments/video/original", "decode/original",
                                       "decode/master"])

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
        self.fault("irregular.mp4", m, ["decode/original", "decode/master"])

    def test_rung_faults(self):
        sv, plan, audio, frames, tolerated, t, ex = self.info["irregular.mp4"]
        rung = ex.rung_names[0]
        w, h = sorted(ex.rungs[rung][0])[0]
        n = len(plan)

        def seg(d, i):
            return os.path.join(d, "video", rung, segment_name(i, n))

        def m_extra_idr(d):
            # an encoder that puts a keyframe every 10 frames
            _rung_segment(sv.path, seg(d, 1) + ".tmp.ts", plan.start(1), plan.cuts[2],
                          sv.frame_dur, w, h)
            r = run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-copyts", "-i",
                     seg(d, 1) + ".tmp.ts", "-c:v", "libx264", "-preset", "veryfast",
                     "-x264-params", "keyint=10:min-keyint=10:scenecut=0",
                     "-fps_mode", "passthrough", "-enc_time_base", "-1",
                     "-f", "mpegts", "-mpegts_copyts", "1", seg(d, 1)])
            assert r.returncode == 0, r.stderr
            os.unlink(seg(d, 1) + ".tmp.ts")
            keep_attrs(d)
        self.fault("irregular.mp4", m_extra_idr, ["segments/video/%s" % rung])

        def m_short(d):
            # the last frame of segment 2 missing
            _rung_segment(sv.path, seg(d, 2), plan.start(2), plan.cuts[3] - sv.frame_dur,
                          sv.frame_dur, w, h)
            keep_attrs(d)
        self.fault("irregular.mp4", m_short, ["segments/video/%s" % rung, "decode/%s" % rung])

        def m_size(d):
            _rung_segment(sv.path, seg(d, 0), plan.start(0), plan.cuts[1], sv.frame_dur,
                          w - 2, h)
            keep_attrs(d)
        self.fault("irregular.mp4", m_size, ["segments/video/%s" % rung])

        def m_late(d):
            # cut one frame after the plan's boundary
            _rung_segment(sv.path, seg(d, 3), plan.start(3) + sv.frame_dur, None,
                          sv.frame_dur, w, h)
            keep_attrs(d)
        self.fault("irregular.mp4", m_late, ["segments/video/%s" % rung, "alignment"])

    def test_audio_faults(self):
        sv, plan, audio, frames, tolerated, t, ex = self.info["matroska.mkv"]
        n = len(plan)

        def remux(d, i, extra_offset_samples, drop_last=False):
            p = os.path.join(d, "audio", "0", segment_name(i, n))
            tmp = p + ".aac"
            r = run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", p, "-c", "copy",
                     "-f", "adts", tmp])
            assert r.returncode == 0, r.stderr
            if drop_last:
                with open(tmp, "rb") as f:
                    data = f.read()
                pos, last = 0, 0
                while pos + 7 <= len(data):
                    last = pos
                    pos += ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
                with open(tmp, "wb") as f:
                    f.write(data[:last])
            offset = "%.9f" % (1.4 + (ex.grid[i] + extra_offset_samples) / 48000)
            r = run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "aac", "-i", tmp,
                     "-c", "copy", "-f", "mpegts", "-mpegts_copyts", "1",
                     "-output_ts_offset", offset, p])
            assert r.returncode == 0, r.stderr
            os.unlink(tmp)
            keep_attrs(d)

        self.fault("matroska.mkv", lambda d: remux(d, 1, 1024), ["segments/audio/0"])
        self.fault("matroska.mkv", lambda d: remux(d, 0, 0, drop_last=True), ["segments/audio/0"])

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
