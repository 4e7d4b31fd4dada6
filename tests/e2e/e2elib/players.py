"""ffmpeg and GStreamer as players of a master playlist, and what they
decoded: the presentation times of the first and last frame."""

import re
from fractions import Fraction

from hlsit.harness import fail
from hlsit.media import run

TS_CLOCK = 90000


class Track:
    """Frames of one decoded stream: count, first pts, end (last pts +
    its duration), all in seconds; and the frame size in bytes."""

    def __init__(self):
        self.count = 0
        self.first = None
        self.end = None
        self.sizes = set()
        self.backwards = 0
        self._last_pts = None

    def add(self, pts, dur, size=None):
        self.count += 1
        if self.first is None or pts < self.first:
            self.first = pts
        e = pts + dur
        if self.end is None or e > self.end:
            self.end = e
        if self._last_pts is not None and pts < self._last_pts:
            self.backwards += 1
        self._last_pts = pts
        if size is not None:
            self.sizes.add(size)

    @property
    def span(self):
        return None if self.first is None else self.end - self.first

    def describe(self):
        if self.first is None:
            return "no frames"
        return "%d frames, %.3f s to %.3f s" % (self.count, self.first, self.end)


def ffmpeg_decode(url, maps, timeout=240):
    """Decode the streams `maps` (ffmpeg -map specifiers) of url to framecrc
    with the source timestamps kept (-copyts) and no frame dropped or
    duplicated. Returns (exit status, stderr lines, {stream: Track},
    {stream: (width, height)})."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-copyts", "-i", url]
    for m in maps:
        cmd += ["-map", m]
    cmd += ["-fps_mode", "passthrough", "-enc_time_base", "1/%d" % TS_CLOCK,
            "-f", "framecrc", "-"]
    r = run(cmd, timeout=timeout)
    tracks, dims, tbs = {}, {}, {}
    for line in r.stdout.splitlines():
        if line.startswith("#tb "):
            k, v = line[4:].split(":", 1)
            num, den = v.strip().split("/")
            tbs[int(k)] = Fraction(int(num), int(den))
        elif line.startswith("#dimensions "):
            k, v = line[12:].split(":", 1)
            w, h = v.strip().split("x")
            dims[int(k)] = (int(w), int(h))
        elif line and not line.startswith("#"):
            f = [x.strip() for x in line.split(",")]
            if len(f) < 6:
                continue
            k = int(f[0])
            tb = tbs.get(k, Fraction(1, TS_CLOCK))
            tracks.setdefault(k, Track()).add(int(f[2]) * tb, int(f[3]) * tb, int(f[4]))
    errors = [l for l in r.stderr.splitlines() if l.strip()]
    return r.returncode, errors, tracks, dims


_GST_PTS = re.compile(r"pts: (\d+):(\d\d):(\d\d)\.(\d{9}), duration: (\d+):(\d\d):(\d\d)\.(\d{9})")


def _clock(h, m, s, ns):
    return Fraction(int(h) * 3600 + int(m) * 60 + int(s)) + Fraction(int(ns), 10 ** 9)


def gst_play(pipeline_name, uri, timeout=120):
    """Play uri with playbin or playbin3 into two fake sinks (no clock
    sync), printing every buffer. Returns (exit status, output lines,
    video Track, audio Track)."""
    cmd = ["gst-launch-1.0", "-v", pipeline_name, "uri=" + uri,
           "video-sink=fakesink name=vsink sync=false silent=false",
           "audio-sink=fakesink name=asink sync=false silent=false"]
    r = run(cmd, timeout=timeout)
    lines = (r.stdout + "\n" + r.stderr).splitlines()
    video, audio = Track(), Track()
    for line in lines:
        if "last-message = chain" not in line:
            continue
        m = _GST_PTS.search(line)
        if not m:
            continue
        pts = _clock(*m.group(1, 2, 3, 4))
        dur = _clock(*m.group(5, 6, 7, 8))
        if ":vsink:" in line or "(vsink:sink)" in line:
            video.add(pts, dur)
        elif ":asink:" in line or "(asink:sink)" in line:
            audio.add(pts, dur)
    return r.returncode, lines, video, audio


def check_tool(name):
    r = run([name, "--version"], timeout=30)
    if r.returncode != 0:
        fail("%s --version failed: %s" % (name, r.stderr.strip()[-200:]))
    return (r.stdout or r.stderr).splitlines()[0] if (r.stdout or r.stderr) else name
