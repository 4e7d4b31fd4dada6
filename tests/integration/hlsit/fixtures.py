"""Small media fixtures, generated at test time with the ffmpeg CLI.

Every title is 320x180, a few seconds long, H.264 High with B-frames from
libx264 (preset veryfast) and AAC audio from sine tones, so the whole set is
made in a few seconds on two cores. Modes and mtimes are set to distinct,
unusual values (mtimes with nanoseconds) so that mirroring them is tested.
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
                 langs=None, fmt=None, mode=0o644):
        self.rel = rel
        self.fps = fps
        self.duration = duration
        self.gop = gop
        self.keys = keys
        self.tones = list(tones)
        self.langs = langs
        self.fmt = fmt
        self.mode = mode

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
        args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
                 "-pix_fmt", "yuv420p", "-bf", "3"]
        if self.keys:
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
]

# A video that is not H.264: served once transcoding exists, ERROR until then.
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
        rels = [t.rel for t in self.titles] + [self.non_h264]
        rels += list(self.passthrough) + list(self.bad)
        return rels

    def generate(self, scratch):
        """Create every fixture under self.root; scratch is a private dir."""
        os.makedirs(self.root, exist_ok=True)
        for t in self.titles:
            os.makedirs(os.path.dirname(self.path(t.rel)), exist_ok=True)
            _ffmpeg(t.ffmpeg_args(self.path(t.rel)))
        _ffmpeg(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
                 "testsrc2=size=320x180:rate=25:duration=6", "-c:v", "mpeg4",
                 "-g", "25", "-q:v", "5", self.path(self.non_h264)])

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
