"""Trick play: the I-frame rendition (video/iframes/) and the thumbnail
sprites (thumbs/) of a title.

The fixtures show one flat grey picture per frame whose level says which
frame it is (LEVEL(n)), so a picture served at a time can be checked to be
the frame the source shows then, not one next to it:

  gray.mp4   640x360, 25 fps, 25 s, 2 s GOPs with B-frames, AAC: 25
             I-frames, 3 thumbnails in one sprite
  long.mkv   160x90, 2 fps, 1010 s, 10 s GOPs, Matroska (no decode
             times): 101 thumbnails in two sprites, 1010 I-frames
  rot.mp4    320x180 turned 90 degrees by its display matrix, 6 s: the
             pictures are upright (portrait) as the rungs are
  pq.mp4     HDR10 (PQ, BT.2020, HEVC 10-bit), 2 s: the pictures are
             tone-mapped as the rungs are (their mean luma the rung's)

Checks: the master's EXT-X-I-FRAME-STREAM-INF; the I-frame playlist; every
I-frame segment (a sample of the long title's) decodes as one keyframe at
its listed time showing the right picture; the thumbnails' WebVTT cues
cover the title and their regions lie inside sprites that decode as JPEG
and show the right pictures; exact sizes from the first stat on, across a
remount and a fresh cache, with the same bytes; nothing of it is made by
listing or by reading other renditions, sprites are not read ahead, and
readers of one sprite cause one encode."""

import os
import re
import subprocess
import threading

from .checks import read_whole, sha256, verify_file, walk
from .harness import Collector, expect, fail
from .m3u8 import MasterPlaylist, MediaPlaylist, parse_attributes
from .media import ffprobe_json, run_bytes
from .tsparse import TsFile, h264_access_units

TITLES = ("gray.mp4", "long.mkv", "rot.mp4")
FPS = {"gray.mp4": 25, "long.mkv": 2, "rot.mp4": 25}
IFRAME_MS = 1000
THUMB_MS = 10000
TILE_W = 160
SPRITE_COLS = 10
SPRITE_TILES = 100
LONG_SAMPLE = (0, 1, 9, 10, 11, 499, 500, 998, 999, 1000, 1001, 1009)
LEVEL_TOLERANCE = 3      # grey levels; neighbouring frames differ by 7


def level(n):
    """The luma (limited range) of frame n of a fixture."""
    return 20 + (n * 7) % 200


def full_range(y):
    return (y - 16) * 255.0 / 219


def _ffmpeg(args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL, timeout=600)


def make_fixtures(src, scratch):
    geq = "geq=lum='20+mod(N*7\\,200)':cb=128:cr=128"
    _ffmpeg(["-f", "lavfi", "-i", "color=c=black:s=640x360:r=25:d=25,format=yuv420p," + geq,
             "-f", "lavfi", "-i", "sine=d=25", "-c:v", "libx264", "-g", "50", "-bf", "3",
             "-pix_fmt", "yuv420p", "-c:a", "aac", os.path.join(src, "gray.mp4")])
    _ffmpeg(["-f", "lavfi", "-i", "color=c=black:s=160x90:r=2:d=1010,format=yuv420p," + geq,
             "-c:v", "libx264", "-g", "20", "-pix_fmt", "yuv420p",
             os.path.join(src, "long.mkv")])
    tmp = os.path.join(scratch, "unrotated.mp4")
    _ffmpeg(["-f", "lavfi", "-i", "color=c=black:s=320x180:r=25:d=6,format=yuv420p," + geq,
             "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", tmp])
    # ffmpeg 5 writes the display matrix of a "rotate" tag on a stream copy
    _ffmpeg(["-i", tmp, "-c", "copy", "-metadata:s:v:0", "rotate=90",
             os.path.join(src, "rot.mp4")])
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2", "-vf",
             "zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=smpte2084:m=bt2020nc:p=bt2020:"
             "r=tv:npl=100,format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast",
             "-x265-params", "log-level=error", "-color_primaries", "bt2020", "-color_trc",
             "smpte2084", "-colorspace", "bt2020nc", os.path.join(src, "pq.mp4")])


def _luma_mean(path, w, h, x=0, y=0, tw=None, th=None, pix_fmt="yuv420p"):
    """Mean luma of the region (x, y, tw, th) of the first picture of path."""
    r = run_bytes(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-frames:v", "1",
                   "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"])
    expect(r.returncode == 0 and len(r.stdout) >= w * h,
           "%s does not decode to a %dx%d picture: %s" % (path, w, h, r.stderr[-300:]))
    tw, th = tw or w, th or h
    total = 0
    for row in range(y + 2, y + th - 2):          # away from the edges
        line = r.stdout[row * w + x + 2:row * w + x + tw - 2]
        total += sum(line)
    return total / float((th - 4) * (tw - 4))


class TitleTrick:
    def __init__(self, mnt, rel):
        self.rel = rel
        self.path = os.path.join(mnt, rel)

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def text(self, *parts):
        with open(self.p(*parts), "rb") as f:
            return f.read().decode("utf-8")

    def rung(self):
        """A transcoded rung: the plan's durations and first timestamp."""
        names = sorted(n for n in os.listdir(self.p("video")) if n not in ("original", "iframes"))
        expect(names, "%s: no transcoded rung" % self.rel)
        return names[0]

    def duration_ms(self):
        return sum(MediaPlaylist(self.text("video", self.rung(), "index.m3u8")).durations_ms())

    def first_pts(self):
        """The title's first video pts (90 kHz), from a rung's segment 0."""
        _, data, _ = read_whole(self.p("video", self.rung(), "00000.ts"))
        aus = h264_access_units(TsFile(data)) or []
        expect(aus, "%s: no access unit in segment 0" % self.rel)
        return min(a.pts for a in aus)


# -- the master and the I-frame playlist ------------------------------------

def check_master(mnt, rel):
    t = TitleTrick(mnt, rel)
    m = MasterPlaylist(t.text("master.m3u8"))
    lines = [l for l in m.other_tags if l.startswith("#EXT-X-I-FRAME-STREAM-INF:")]
    expect(len(lines) == 1, "%d EXT-X-I-FRAME-STREAM-INF lines" % len(lines))
    attrs, quoted = parse_attributes(lines[0].split(":", 1)[1])
    c = Collector()
    for a in ("BANDWIDTH", "CODECS", "RESOLUTION", "URI"):
        c.check(a in attrs, "lacks %s: %s" % (a, lines[0]))
    c.check({"CODECS", "URI"} <= quoted and "BANDWIDTH" not in quoted, "quoting: %s" % lines[0])
    c.raise_if_any()
    expect(attrs["URI"] == "video/iframes/index.m3u8", "URI %s" % attrs["URI"])
    pl = MediaPlaylist(t.text("video", "iframes", "index.m3u8"))
    durs = pl.durations_ms()
    peak = max(os.stat(t.p("video", "iframes", u)).st_size * 8000.0 / d
               for u, d in zip(pl.uris, durs))
    c.check(int(attrs["BANDWIDTH"]) >= peak * 0.999,
            "BANDWIDTH %s under the peak %.0f" % (attrs["BANDWIDTH"], peak))
    _, data, _ = read_whole(t.p("video", "iframes", pl.uris[0]))
    aus = h264_access_units(TsFile(data)) or []
    c.check(aus and aus[0].avc1() == attrs["CODECS"].lower(),
            "CODECS %s, the SPS says %s" % (attrs["CODECS"], aus and aus[0].avc1()))
    info = ffprobe_json(t.p("video", "iframes", pl.uris[0]),
                        ["-show_entries", "stream=width,height"])["streams"][0]
    c.check(attrs["RESOLUTION"] == "%dx%d" % (info["width"], info["height"]),
            "RESOLUTION %s, the picture is %dx%d" % (attrs["RESOLUTION"], info["width"],
                                                     info["height"]))
    # the rungs' shape (upright), at most 320 on the longer side
    rung = ffprobe_json(t.p("video", t.rung(), "00000.ts"),
                        ["-select_streams", "v", "-show_entries", "stream=width,height"])["streams"][0]
    w, h = info["width"], info["height"]
    c.check(max(w, h) <= 320 and (w > h) == (rung["width"] > rung["height"]) and
            abs(w / float(h) - rung["width"] / float(rung["height"])) < 0.05,
            "I-frames %dx%d, the rung %dx%d" % (w, h, rung["width"], rung["height"]))
    c.raise_if_any()


def check_playlist(mnt, rel):
    t = TitleTrick(mnt, rel)
    pl = MediaPlaylist(t.text("video", "iframes", "index.m3u8"))
    c = Collector()
    c.check("#EXT-X-I-FRAMES-ONLY" in pl.tags, "no #EXT-X-I-FRAMES-ONLY")
    ver = pl.tags.get("#EXT-X-VERSION", ["0"])[0]
    c.check(ver.isdigit() and int(ver) >= 4, "EXT-X-VERSION %s (I-FRAMES-ONLY needs 4)" % ver)
    durs = pl.durations_ms()
    total = t.duration_ms()
    c.check(sum(durs) == total, "EXTINFs add up to %d ms, the title lasts %d" % (sum(durs), total))
    c.check(all(d >= IFRAME_MS for d in durs) and all(d == IFRAME_MS for d in durs[:-1]),
            "EXTINFs %s..., want one a second" % durs[:5])
    c.check(abs(len(durs) - total / 1000.0) < 1.01, "%d I-frames for %d ms" % (len(durs), total))
    files = set(os.listdir(t.p("video", "iframes")))
    c.check(files == {"index.m3u8"} | set(pl.uris), "directory holds %d files, playlist lists %d"
            % (len(files), len(pl.uris)))
    c.raise_if_any()


def check_iframe_segments(mnt, rel, first_sizes):
    """Every I-frame segment (a sample for long titles): its first stat's
    size, read whole; one picture, a keyframe (IDR), at its listed time;
    the frame the source shows then."""
    t = TitleTrick(mnt, rel)
    pl = MediaPlaylist(t.text("video", "iframes", "index.m3u8"))
    durs = pl.durations_ms()
    base = t.first_pts()
    idx = range(len(pl.uris)) if len(pl.uris) <= 60 else [i for i in LONG_SAMPLE if i < len(pl.uris)]
    c = Collector()
    start = [sum(durs[:i]) for i in range(len(durs))]
    for i in idx:
        name = os.path.join("video", "iframes", pl.uris[i])
        data = verify_file(t.p(name), first_sizes.get(os.path.join(rel, name)), c, name, ts=True)
        if data is None:
            continue
        aus = h264_access_units(TsFile(data)) or []
        if len(aus) != 1 or not aus[0].idr:
            c.add("%s: %d access units, IDR %s" % (name, len(aus), aus and aus[0].idr))
            continue
        want = base + start[i] * 90
        if abs(aus[0].pts - want) > 90:
            c.add("%s: pts %d, listed time %d ms after the title's first pts %d is %d"
                  % (name, aus[0].pts, start[i], base, want))
        frames = ffprobe_json(t.p(name), ["-show_frames", "-show_entries",
                                          "frame=key_frame,pict_type,width,height"])
        fr = frames.get("frames", [])
        if len(fr) != 1 or fr[0].get("key_frame") != 1 or fr[0].get("pict_type") != "I":
            c.add("%s: ffprobe decodes %s" % (name, fr))
            continue
        w, h = fr[0]["width"], fr[0]["height"]
        got = _luma_mean(t.p(name), w, h)
        n = start[i] * FPS[rel] // 1000
        if abs(got - level(n)) > LEVEL_TOLERANCE:
            c.add("%s: shows level %.1f, frame %d at %d ms has %d" % (name, got, n, start[i],
                                                                    level(n)))
    c.raise_if_any()


# -- thumbnails ----------------------------------------------------------------

_CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def _ms(g):
    return ((int(g[0]) * 60 + int(g[1])) * 60 + int(g[2])) * 1000 + int(g[3])


def parse_vtt(text):
    """[(from_ms, to_ms, file, x, y, w, h)]"""
    lines = text.split("\n")
    expect(lines[0] == "WEBVTT", "first line %r" % lines[0])
    cues = []
    i = 1
    while i < len(lines):
        m = _CUE.match(lines[i])
        if not m:
            expect(lines[i] == "", "line %d: %r" % (i + 1, lines[i]))
            i += 1
            continue
        g = m.groups()
        mm = re.match(r"^(\d{5,}\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$", lines[i + 1]
                      if i + 1 < len(lines) else "")
        expect(mm, "cue at line %d: %r is not NNNNN.jpg#xywh=x,y,w,h" % (i + 1, lines[i + 1:i + 2]))
        cues.append((_ms(g[:4]), _ms(g[4:]), mm.group(1)) + tuple(int(x) for x in mm.groups()[1:]))
        i += 2
    return cues


def check_thumbs(mnt, rel, first_sizes):
    t = TitleTrick(mnt, rel)
    cues = parse_vtt(t.text("thumbs", "thumbs.vtt"))
    total = t.duration_ms()
    expect(cues, "no cue")
    c = Collector()
    c.check(cues[0][0] == 0 and cues[-1][1] == total,
            "cues run from %d to %d ms, the title from 0 to %d" % (cues[0][0], cues[-1][1], total))
    for a, b in zip(cues, cues[1:]):
        if a[1] != b[0]:
            c.add("a gap or overlap between cues at %d and %d ms" % (a[1], b[0]))
            break
    c.check(all(x[0] == k * THUMB_MS for k, x in enumerate(cues)), "not one cue every 10 s")
    files = set(os.listdir(t.p("thumbs")))
    sprites = sorted({x[2] for x in cues})
    c.check(files == {"thumbs.vtt"} | set(sprites),
            "thumbs/ holds %s, the cues name %s" % (sorted(files), sprites))
    vw = ffprobe_json(t.p("video", t.rung(), "00000.ts"),
                      ["-select_streams", "v", "-show_entries", "stream=width,height"])["streams"][0]
    tile_h = int(round(TILE_W * vw["height"] / float(vw["width"]) / 2)) * 2
    dims = {}
    for s in sprites:
        name = os.path.join("thumbs", s)
        data = verify_file(t.p(name), first_sizes.get(os.path.join(rel, name)), c, name)
        if data is None:
            continue
        c.check(data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9", "%s: not a JPEG" % name)
        info = ffprobe_json(t.p(name), ["-show_entries", "stream=codec_name,width,height"])
        st = info["streams"][0]
        c.check(st["codec_name"] == "mjpeg", "%s: codec %s" % (name, st["codec_name"]))
        dims[s] = (st["width"], st["height"])
        r = run_bytes(["ffmpeg", "-nostdin", "-v", "error", "-i", t.p(name), "-f", "null", "-"])
        c.check(r.returncode == 0 and not r.stderr.strip(), "%s: decode: %s" % (name, r.stderr[-200:]))
    for k, (a, b, s, x, y, w, h) in enumerate(cues):
        if s not in dims:
            continue
        sw, sh = dims[s]
        if not (w == TILE_W and h == tile_h and x + w <= sw and y + h <= sh):
            c.add("cue %d: %s#xywh=%d,%d,%d,%d outside the %dx%d sprite or not a %dx%d tile"
                  % (k, s, x, y, w, h, sw, sh, TILE_W, tile_h))
            continue
        if k % 7 and k != len(cues) - 1 and len(cues) > 12:
            continue                    # a sample of the tiles of long titles
        got = _luma_mean(t.p("thumbs", s), sw, sh, x, y, w, h, pix_fmt="yuvj420p")
        n = a * FPS[rel] // 1000
        if abs(got - full_range(level(n))) > LEVEL_TOLERANCE:
            c.add("cue %d: its tile shows level %.1f, frame %d at %d ms has %.1f"
                  % (k, got, n, a, full_range(level(n))))
    c.raise_if_any()


def _mean_scaled(path, w, h, pix_fmt="yuv420p"):
    """Mean luma of the first picture of path scaled to w x h."""
    r = run_bytes(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-frames:v", "1", "-vf",
                   "scale=%d:%d" % (w, h), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"])
    expect(r.returncode == 0 and len(r.stdout) >= w * h, "%s does not decode" % path)
    return sum(r.stdout[:w * h]) / float(w * h)


def check_tone_mapped(mnt, rel="pq.mp4"):
    """An HDR10 source: the I-frame at 0 and the first thumbnail look like
    the rung's first picture (tone-mapped), not like the PQ signal."""
    t = TitleTrick(mnt, rel)
    rung = t.p("video", t.rung(), "00000.ts")
    info = ffprobe_json(t.p("video", "iframes", "00000.ts"),
                        ["-show_entries", "stream=width,height"])["streams"][0]
    w, h = info["width"], info["height"]
    want = _mean_scaled(rung, w, h)
    got = _mean_scaled(t.p("video", "iframes", "00000.ts"), w, h)
    c = Collector()
    c.check(abs(got - want) < LEVEL_TOLERANCE, "the I-frame's mean luma %.1f, the rung's %.1f"
            % (got, want))
    tile_h = int(round(TILE_W * h / float(w) / 2)) * 2
    got = _luma_mean(t.p("thumbs", "00000.jpg"), TILE_W, tile_h, pix_fmt="yuvj420p")
    want = _mean_scaled(rung, TILE_W, tile_h, pix_fmt="yuvj420p")
    c.check(abs(got - want) < 2 * LEVEL_TOLERANCE,
            "the thumbnail's mean luma %.1f, the rung's %.1f" % (got, want))
    c.raise_if_any()


# -- laziness -----------------------------------------------------------------

MADE = re.compile(r"made (video/iframes segment|thumbs sprite) (\d+)")


def made(m, rel):
    out = []
    for line in m.log_text().splitlines():
        if rel in line:
            mm = MADE.search(line)
            if mm:
                out.append((mm.group(1), int(mm.group(2))))
    return out


def check_lazy_listing(m):
    """A walk of the whole mount (stat of every file) makes none of it."""
    got = [x for rel in TITLES for x in made(m, rel)]
    expect(not got, "made by listing: %s" % got[:4])


def check_video_read_makes_none(m):
    """Reading a rung's first segment makes no trick-play file."""
    t = TitleTrick(m.mountpoint, "gray.mp4")
    read_whole(t.p("video", t.rung(), "00000.ts"))
    got = made(m, "gray.mp4")
    expect(not got, "reading video made %s" % got[:4])


def check_one_encode_per_sprite(m):
    """Eight readers of one sprite at once: one encode, the same bytes;
    the next sprite is not read ahead."""
    t = TitleTrick(m.mountpoint, "long.mkv")
    path = t.p("thumbs", "00000.jpg")
    out = [None] * 8

    def reader(k):
        try:
            out[k] = sha256(read_whole(path)[1])
        except OSError as e:
            out[k] = "error %s" % e

    th = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for x in th:
        x.start()
    for x in th:
        x.join(300)
    expect(len(set(out)) == 1 and not out[0].startswith("error"), "readers got %s" % set(out))
    sprites = [i for kind, i in made(m, "long.mkv") if kind == "thumbs sprite"]
    expect(sprites == [0], "sprites made: %s (want sprite 0 once, no readahead)" % sprites)


# -- sizes and bytes ------------------------------------------------------------

def trick_files(mnt):
    """rel -> size of every trick-play file under the fixtures."""
    out = {}
    for rel in TITLES:
        for sub in ("video/iframes", "thumbs"):
            for name, st in walk(os.path.join(mnt, rel, sub)).items():
                out[os.path.join(rel, sub, name)] = st.st_size
    return out


def read_all(mnt, names, sample_long=True):
    """rel -> (size, sha256) of the files named (the long title's I-frames:
    a sample)."""
    out = {}
    for rel in sorted(names):
        if sample_long and rel.startswith("long.mkv/video/iframes/") and rel.endswith(".ts"):
            k = int(os.path.basename(rel)[:-3])
            if k not in LONG_SAMPLE:
                continue
        _, data, _ = read_whole(os.path.join(mnt, rel))
        out[rel] = (len(data), sha256(data))
    return out


def compare(first, second, what):
    c = Collector()
    c.check(set(first) == set(second), "%s: files differ: %s" % (
        what, sorted(set(first) ^ set(second))[:4]))
    for rel in sorted(set(first) & set(second)):
        if first[rel] != second[rel]:
            c.add("%s: %s: %s, before %s" % (what, rel, second[rel], first[rel]))
    c.raise_if_any()
