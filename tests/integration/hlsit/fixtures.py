"""Small media fixtures, generated at test time with the ffmpeg CLI.

The main tree: every title is 320x180, a few seconds long, H.264 High with
B-frames from libx264 (preset veryfast) and AAC audio from sine tones (one
MPEG-4 Part 2 title without audio), so the whole set is made in a few
seconds on two cores. Modes and mtimes are set to distinct, unusual values
(mtimes with nanoseconds) so that mirroring them is tested.

The codec tree (CODEC_TITLES): 12-20 s titles with one keyframe a second,
in several codecs and containers, for the transcoding checks; plus a title
damaged in the middle and, in a tree of its own, the readahead title.
"""

import os
import random
import shutil

from .harness import fail
from .media import run

# Keyframe times of the irregular fixture (25 fps, so all are whole frames).
# With segment_time=6 the plan is [0, 6.04) [6.04, 12.0) [12.0, 20.04)
# [20.04, 22): a keyframe just after a multiple, one exactly on a multiple.
# With segment_time=4 it is [0, 5.96) [5.96, 11.96) [11.96, 12.0)
# [12.0, 20.04) [20.04, 22): a one-frame segment, and 16 and 20 both falling
# before the keyframe at 20.04, which makes a single cut.
IRREGULAR_KEYS = ["0", "1.2", "3.0", "5.96", "6.04", "7.0", "11.96", "12.0",
                  "15.96", "20.04", "21.0"]

BASE_MTIME_NS = 1_600_000_000_123_456_789


class Title:
    """A video fixture that hlsfs is expected to serve."""

    def __init__(self, rel, fps, duration, gop=None, keys=None, tones=(440,),
                 langs=None, fmt=None, mode=0o644, vcodec="h264"):
        self.rel = rel
        self.fps = fps
        self.duration = duration
        self.gop = gop
        self.keys = keys
        self.tones = list(tones)
        self.langs = langs
        self.fmt = fmt
        self.mode = mode
        self.vcodec = vcodec

    @property
    def ext(self):
        return self.rel.rsplit(".", 1)[1]

    @property
    def n_audio(self):
        return len(self.tones)

    def ffmpeg_args(self, out):
        args = ["ffmpeg", "-nostdin", "-y", "-v", "error",
                "-f", "lavfi", "-i",
                "testsrc2=size=320x180:rate=%d:duration=%d" % (self.fps, self.duration)]
        for tone in self.tones:
            args += ["-f", "lavfi", "-i",
                     "sine=frequency=%d:sample_rate=48000:duration=%d" % (tone, self.duration)]
        args += ["-map", "0:v"]
        for i in range(len(self.tones)):
            args += ["-map", "%d:a" % (i + 1)]
        if self.vcodec == "mpeg4":
            args += ["-c:v", "mpeg4", "-q:v", "5"]
        else:
            args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
                     "-pix_fmt", "yuv420p", "-bf", "3"]
        if self.vcodec == "mpeg4":
            args += ["-g", str(self.gop)]
        elif self.keys:
            args += ["-x264-params", "keyint=1000:min-keyint=1000:scenecut=0",
                     "-force_key_frames", ",".join(self.keys)]
        else:
            args += ["-g", str(self.gop), "-keyint_min", str(self.gop), "-sc_threshold", "0"]
        if self.tones:
            args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
        for i, lang in enumerate(self.langs or []):
            args += ["-metadata:s:a:%d" % i, "language=%s" % lang]
        if self.fmt:
            args += ["-f", self.fmt]
        return args + [out]


# The titles of the main fixture tree.
TITLES = [
    Title("bframes.mp4", fps=25, duration=16, gop=50, mode=0o640),
    Title("two_audio.mp4", fps=24, duration=12, gop=48, tones=(440, 660),
          langs=("eng", "fra")),
    Title("matroska.mkv", fps=25, duration=14, gop=50, tones=(550,)),
    Title("transport.ts", fps=25, duration=12, gop=50, tones=(330,), fmt="mpegts"),
    Title("irregular.mp4", fps=25, duration=22, keys=IRREGULAR_KEYS),
    Title("a/b/c/title.mp4", fps=24, duration=8, gop=48, tones=(), mode=0o600),
    Title("a/short.MOV", fps=25, duration=5, gop=25, fmt="mov"),
    Title("mpeg4.avi", fps=25, duration=6, gop=25, tones=(), vcodec="mpeg4"),
]

# The title that is not H.264: it is transcoded, with no 'original'.
NON_H264 = "mpeg4.avi"

# Files that must pass through byte for byte: rel -> mode.
PASSTHROUGH = {
    "subs.srt": 0o600,
    "poster.jpg": 0o644,
    "info.nfo": 0o444,
    "a/b/c/title.nfo": 0o644,
    "clip.mp4.part": 0o644,          # last extension decides: not a video
    "folder.mp4/readme.txt": 0o644,  # inside a directory named like a video
}

# A real directory whose name has a video extension: stays a directory.
DIR_LIKE_VIDEO = "folder.mp4"

# Bad inputs: rel -> what it is.
BAD = {
    "bad/x.mp4": "zero-byte file",
    "bad/trunc.mp4": "first 60% of a good MP4",
    "bad/y.mkv": "random bytes",
    "bad/z.mp4": "audio only (AAC), no video stream",
}

SRT_TEXT = """1
00:00:01,000 --> 00:00:03,000
Hello from the fixture.

2
00:00:04,000 --> 00:00:06,500
Second line, with UTF-8: caf\u00e9.
"""

NFO_TEXT = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<movie>
  <title>Fixture</title>
  <plot>Generated test pattern.</plot>
</movie>
"""


def _ffmpeg(args):
    r = run(args, timeout=120)
    if r.returncode != 0:
        fail("ffmpeg failed (%s): %s" % (" ".join(args[-3:]), r.stderr.strip()[-400:]))


class Fixtures:
    def __init__(self, root):
        self.root = root
        self.titles = list(TITLES)
        self.non_h264 = NON_H264
        self.passthrough = dict(PASSTHROUGH)
        self.dir_like_video = DIR_LIKE_VIDEO
        self.bad = dict(BAD)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def title(self, rel):
        for t in self.titles:
            if t.rel == rel:
                return t
        raise KeyError(rel)

    def all_rels(self):
        rels = [t.rel for t in self.titles]
        rels += list(self.passthrough) + list(self.bad)
        return rels

    def generate(self, scratch):
        """Create every fixture under self.root; scratch is a private dir."""
        os.makedirs(self.root, exist_ok=True)
        for t in self.titles:
            os.makedirs(os.path.dirname(self.path(t.rel)), exist_ok=True)
            _ffmpeg(t.ffmpeg_args(self.path(t.rel)))

        _ffmpeg(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
                 "testsrc2=size=320x180:rate=1", "-frames:v", "1",
                 self.path("poster.jpg")])
        with open(self.path("subs.srt"), "w", encoding="utf-8") as f:
            f.write(SRT_TEXT)
        with open(self.path("info.nfo"), "w", encoding="utf-8") as f:
            f.write(NFO_TEXT)
        with open(self.path("a/b/c/title.nfo"), "w", encoding="utf-8") as f:
            f.write(NFO_TEXT.replace("Fixture", "Nested fixture"))
        with open(self.path("bframes.mp4"), "rb") as src:
            head = src.read(100_000)
        with open(self.path("clip.mp4.part"), "wb") as f:
            f.write(head)
        os.makedirs(self.path(self.dir_like_video), exist_ok=True)
        with open(self.path("folder.mp4/readme.txt"), "w") as f:
            f.write("A directory, not a video.\n")

        os.makedirs(self.path("bad"), exist_ok=True)
        open(self.path("bad/x.mp4"), "wb").close()
        good = os.path.join(scratch, "good-for-trunc.mp4")
        _ffmpeg(Title("t.mp4", fps=25, duration=8, gop=50).ffmpeg_args(good))
        with open(good, "rb") as f:
            data = f.read()
        if data[4:8] != b"ftyp":
            fail("unexpected MP4 layout for the truncation fixture")
        with open(self.path("bad/trunc.mp4"), "wb") as f:
            f.write(data[: len(data) * 6 // 10])
        with open(self.path("bad/y.mkv"), "wb") as f:
            f.write(random.Random(20240601).randbytes(200_000))
        _ffmpeg(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
                 "sine=frequency=440:sample_rate=48000:duration=5", "-c:a", "aac",
                 "-b:a", "96k", self.path("bad/z.mp4")])

        self._set_attributes()

    def _set_attributes(self):
        """Distinct modes and nanosecond mtimes, files first, then dirs
        bottom-up (writing a file changes its directory's mtime)."""
        rels = self.all_rels()
        for t in self.titles:
            os.chmod(self.path(t.rel), t.mode)
        for rel, mode in self.passthrough.items():
            os.chmod(self.path(rel), mode)
        for i, rel in enumerate(sorted(rels)):
            ns = BASE_MTIME_NS + i * 1_000_003_000
            os.utime(self.path(rel), ns=(ns, ns))
        dirs = set()
        for rel in rels:
            d = os.path.dirname(rel)
            while d:
                dirs.add(d)
                d = os.path.dirname(d)
        os.chmod(self.path("a/b"), 0o750)
        for i, d in enumerate(sorted(dirs, key=lambda d: -d.count("/"))):
            ns = BASE_MTIME_NS - (i + 1) * 7_777_777_777
            os.utime(self.path(d), ns=(ns, ns))


def link_or_copy(src, dst):
    """Hard link when possible (same file system), else a copy with metadata."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# ---------------------------------------------------------------------------
# The codec tree: transcoding fixtures, one keyframe a second, so that the
# codec mount's segment_time=2 gives 6-10 segments per title.

FF = ["ffmpeg", "-nostdin", "-y", "-v", "error"]


def _src(size="320x180", rate=25, duration=12):
    return ["-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d:duration=%d" % (size, rate, duration)]


def _sine(freq, duration, rate=48000, offset=None):
    pre = ["-itsoffset", str(offset)] if offset is not None else []
    return pre + ["-f", "lavfi", "-i",
                  "sine=frequency=%d:sample_rate=%d:duration=%d" % (freq, rate, duration)]


X264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p"]


class CodecTitle:
    """A transcoding fixture: how to make it and what is special about it.

    sine: (audio ordinal, frequency, first second, last second) of a pure
    tone track whose decode must be continuous; broken: "random" (300 KB
    in the middle overwritten with random bytes) or "zero_tail" (the last
    45 % zeroed, behind an intact index); damage: (offset, length) of the
    bytes overwritten (set when generated)."""

    def __init__(self, rel, make, duration, sine=None, broken=False, scattered=True):
        self.rel = rel
        self.make = make
        self.duration = duration
        self.sine = sine
        self.broken = broken
        self.scattered = scattered
        self.damage = None

    @property
    def ext(self):
        return self.rel.rsplit(".", 1)[1]


def _make_h264_bframes(out, scratch):
    _ffmpeg(FF + _src(duration=16) + _sine(440, 16) + X264 +
            ["-bf", "3", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "96k", "-ac", "2", out])


def _make_mpeg4_mp3(out, scratch):
    _ffmpeg(FF + _src() + _sine(523, 12, rate=44100) +
            ["-c:v", "mpeg4", "-q:v", "5", "-g", "25",
             "-c:a", "libmp3lame", "-b:a", "96k", "-ac", "2", out])


def _make_vp9_opus(out, scratch):
    _ffmpeg(FF + _src(rate=24) + _sine(587, 12) +
            ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
             "-g", "24", "-keyint_min", "24", "-c:a", "libopus", "-b:a", "64k", "-ac", "2", out])


def _make_hevc10(out, scratch):
    # x265's default open GOPs: CRA keyframes with leading pictures
    _ffmpeg(FF + _src() + _sine(659, 12, rate=44100) +
            ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
             "-x265-params", "keyint=25:min-keyint=25:scenecut=0:log-level=error",
             "-c:a", "libvorbis", "-ac", "2", out])


def _make_two_audio_ac3(out, scratch):
    _ffmpeg(FF + _src() + _sine(440, 12) + _sine(330, 12) +
            ["-map", "0:v", "-map", "1:a", "-map", "2:a"] + X264 +
            ["-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a:0", "aac", "-b:a:0", "96k", "-ac:a:0", "2",
             "-c:a:1", "ac3", "-b:a:1", "384k", "-ac:a:1", "6",
             "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", out])


def _make_odd(out, scratch):
    _ffmpeg(FF + _src(size="322x182") + _sine(440, 12) + X264 +
            ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-ac", "2", out])


def _make_rotated(out, scratch):
    # ffmpeg 5 writes the display matrix of a "rotate" tag on a stream copy
    tmp = os.path.join(scratch, "unrotated.mp4")
    _ffmpeg(FF + _src() + _sine(440, 12) + X264 +
            ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-ac", "2", tmp])
    _ffmpeg(FF + ["-i", tmp, "-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate=90", out])
    r = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream_side_data=rotation", "-of", "csv=p=0", out])
    if "90" not in r.stdout:
        fail("could not make a rotated MP4 (ffprobe says %r)" % r.stdout.strip())


def _make_vfr(out, scratch):
    # 30 fps with frames dropped in an irregular pattern, a keyframe each second
    _ffmpeg(FF + _src(rate=30, duration=14) + _sine(440, 14) +
            ["-vf", "select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,11)\\,5))'",
             "-fps_mode", "vfr"] + X264 +
            ["-bf", "2", "-force_key_frames", "expr:gte(t,n_forced)",
             "-x264-params", "keyint=1000:min-keyint=1000:scenecut=0",
             "-c:a", "aac", "-ac", "2", out])


SINE_FREQ = 440
SINE_START = 1      # the tone starts 1 s after the video...
SINE_STOP = 17      # ...and ends 3 s before it: silence must fill both ends


def _make_sine(out, scratch):
    _ffmpeg(FF + _src(duration=20) + _sine(SINE_FREQ, SINE_STOP - SINE_START, offset=SINE_START) +
            X264 + ["-bf", "3", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
                    "-c:a", "flac", "-ac", "2", out])


def _make_broken(out, scratch):
    _ffmpeg(FF + _src(duration=20) + _sine(440, 20) + X264 +
            ["-b:v", "1M", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-ac", "2", "-f", "mpegts", out])


def _make_tail(out, scratch):
    # the index (moov) first: the plan covers the zeroed part too
    _ffmpeg(FF + _src() + _sine(440, 12) + X264 +
            ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-ac", "2", "-movflags", "+faststart", out])


def _make_ahead(out, scratch):
    _ffmpeg(FF + _src(duration=24) + _sine(440, 24) + X264 +
            ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-ac", "2", out])


CODEC_TITLES = [
    CodecTitle("h264_bframes.mp4", _make_h264_bframes, 16),
    CodecTitle("mpeg4_mp3.avi", _make_mpeg4_mp3, 12),
    CodecTitle("vp9_opus.webm", _make_vp9_opus, 12),
    CodecTitle("hevc10.mkv", _make_hevc10, 12),
    CodecTitle("two_audio_ac3.mp4", _make_two_audio_ac3, 12),
    CodecTitle("odd_322x182.mp4", _make_odd, 12),
    CodecTitle("rotated.mp4", _make_rotated, 12),
    CodecTitle("vfr.mp4", _make_vfr, 14),
    CodecTitle("sine.mkv", _make_sine, 20, sine=(0, SINE_FREQ, SINE_START, SINE_STOP)),
    CodecTitle("broken.ts", _make_broken, 20, broken="random", scattered=False),
    CodecTitle("zeroed_tail.mp4", _make_tail, 12, broken="zero_tail", scattered=False),
]

AHEAD_TITLE = CodecTitle("ahead.mp4", _make_ahead, 24)

DAMAGE_BYTES = 300_000


def have_encoder(name):
    r = run(["ffmpeg", "-hide_banner", "-v", "error", "-h", "encoder=" + name])
    return r.returncode == 0 and "is not recognized" not in r.stdout + r.stderr


class CodecFixtures:
    """The codec tree and the readahead tree."""

    def __init__(self, root, ahead_root):
        self.root = root
        self.ahead_root = ahead_root
        self.titles = []
        self.skipped = {}        # rel -> why
        self.ahead = AHEAD_TITLE
        self.intact = {}         # rel of a damaged title -> path of its intact copy

    def path(self, rel):
        return os.path.join(self.root, rel)

    def generate(self, scratch):
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(self.ahead_root, exist_ok=True)
        needs = {"hevc10.mkv": ["libx265", "libvorbis"], "vp9_opus.webm": ["libvpx-vp9", "libopus"],
                 "mpeg4_mp3.avi": ["libmp3lame"], "two_audio_ac3.mp4": ["ac3"]}
        for t in CODEC_TITLES:
            missing = [e for e in needs.get(t.rel, []) if not have_encoder(e)]
            if missing:
                self.skipped[t.rel] = "the ffmpeg CLI has no %s encoder" % ", ".join(missing)
                continue
            t.make(self.path(t.rel), scratch)
            if t.broken:
                intact = os.path.join(scratch, "intact-" + t.rel)
                shutil.copy2(self.path(t.rel), intact)
                self.intact[t.rel] = intact
                size = os.path.getsize(intact)
                if t.broken == "zero_tail":
                    off = size * 55 // 100
                    junk = bytes(size - off)
                else:
                    off = (size // 2 - DAMAGE_BYTES // 2) // 188 * 188 + 57  # mid-packet
                    junk = random.Random(20240607).randbytes(DAMAGE_BYTES)
                with open(self.path(t.rel), "r+b") as f:
                    f.seek(off)
                    f.write(junk)
                if os.path.getsize(self.path(t.rel)) != size:
                    fail("the damaged copy changed size")
                t.damage = (off, len(junk))
            self.titles.append(t)
        self.ahead.make(os.path.join(self.ahead_root, self.ahead.rel), scratch)

    def title(self, rel):
        for t in self.titles:
            if t.rel == rel:
                return t
        raise KeyError(rel)
