"""Pictures that look right (vfilter.c, the edit-list start in title.c):
interlaced sources come out deinterlaced (ffmpeg's idet on the rung finds
progressive frames where it finds interlaced ones in the source), one
frame per frame; PQ and HLG sources come out tone-mapped, tagged BT.709
and close to the ffmpeg CLI's reference tone mapping of the same frames,
far from the plain conversion; an MP4 whose edit list starts between
keyframes serves every frame it presents and its audio from the plan's
start; progressive SDR titles go through no filter (and, given a baseline
build, keep their bytes); a fresh cache gives the same bytes."""

import hashlib
import os
import re
import subprocess

from .harness import Collector, expect, fail, note
from .media import count_frames

# The fixtures' mount: short titles, the rungs the checks read.
LADDER = "360:800k,480:1400k,720:2800k"
OPTIONS = {"max_ahead": 0, "preset": "veryfast", "ladder": LADDER}
# The shared corpus' interlaced titles also get a rung at their own height,
# where idet sees the lines as the source has them (a downscaled rung
# blends the fields: idet finds no combing in it, deinterlaced or not).
SHARED_LADDER = "360:800k,480:1400k,576:2500k,1080:5000k"

INTERLACED = ("i_mpeg2.ts", "i_h264.mp4")      # 720x480, 29.97i, top field first
PROGRESSIVE = ("p_h264.mp4", "p_mpeg2.ts")
HDR = {"pq.mp4": "PQ", "hlg.mkv": "HLG"}
EDITLIST = "editlist.mp4"
SHARED_INTERLACED = ("ts-dvb-h264-1080i-interlaced-eac3-dvbsub-1.9s.ts",
                     "ts-dvb-mpeg2-576i-interlaced-mp2-3.3s.ts",
                     "ts-dvbt-mux-multiprogram-mpeg2-576i-multi-mp2-teletext.ts")
SHARED_HDR = {"mp4-av1-10bit-hdr10-aac-portrait-720x1280-4s.mp4": "PQ",
              "mov-iphone14pro-hevc10bit-dolbyvision-rotate90-aac-5frames.mov": "HLG"}
SHARED_EDITLIST = ("mp4-hevc-main10-aac-editlist-1080p-2.5s.mp4",
                   "mp4-h264high-aac-bframes-editlist-1080p25-10s-smptebars.mp4")

# idet's multi-frame verdicts on a deinterlaced rung: at least this share
# progressive, and on the source at least this share interlaced (else the
# fixture would prove nothing)
PROGRESSIVE_SHARE = 0.9
# Tone mapping. The rung against the reference (the same frames through
# the CLI's zscale/tonemap recipe, scaled to the rung): x264 at the rung's
# rate costs 34-41 dB here (measured 34.2 on the 5-frame iPhone clip, 35.5
# on the generated PQ, 40.6 on the HLG); 30 dB leaves room for the rate
# while a wrong curve or wrong primaries give 20-23 dB (measured with the
# plain conversion on PQ and on generated HLG). And in at least one plane
# the rung is this much closer to the reference than to the plain
# conversion (4 times less squared error): HLG is made to look
# acceptable on SDR in luma, its colours are what go wrong, so a plane.
REF_PSNR_MIN = 30.0
FAR_GAP_DB = 6.0
TONEMAP = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
           "tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p")


def _ffmpeg(args, timeout=300):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL, timeout=timeout)


def make_fixtures(src):
    """Interlaced: a Mandelbrot zoom at 59.94 fps woven into 29.97 fps
    frames (top field first: real combing on every frame), coded as
    interlaced (+ilme+ildct) MPEG-2 in TS and H.264 in MP4 (where only the
    codec's parser can tell). Progressive: the same zoom at 29.97 fps.
    HDR: testsrc2 converted by zscale to PQ (HEVC 10-bit MP4) and HLG
    (HEVC 10-bit Matroska), tagged BT.2020. Edit list: a copy cut 1.3 s
    into an H.264 + AAC title, so the list starts after a keyframe."""
    zoom = "mandelbrot=s=720x480:r=60000/1001,trim=duration=3"
    weave = ["-vf", "tinterlace=interleave_top,fieldorder=tff", "-flags", "+ilme+ildct",
             "-top", "1"]
    _ffmpeg(["-f", "lavfi", "-i", zoom] + weave +
            ["-c:v", "mpeg2video", "-b:v", "6M", os.path.join(src, "i_mpeg2.ts")])
    _ffmpeg(["-f", "lavfi", "-i", zoom] + weave +
            ["-c:v", "libx264", "-b:v", "4M", "-x264-params", "tff=1",
             os.path.join(src, "i_h264.mp4")])
    prog = "mandelbrot=s=720x480:r=30000/1001,trim=duration=3"
    _ffmpeg(["-f", "lavfi", "-i", prog, "-c:v", "libx264", "-b:v", "3M",
             os.path.join(src, "p_h264.mp4")])
    _ffmpeg(["-f", "lavfi", "-i", prog, "-c:v", "mpeg2video", "-b:v", "5M",
             os.path.join(src, "p_mpeg2.ts")])
    for name, trc in (("pq.mp4", "smpte2084"), ("hlg.mkv", "arib-std-b67")):
        _ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=2", "-vf",
                 "zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=%s:m=bt2020nc:p=bt2020:"
                 "r=tv:npl=100,format=yuv420p10le" % trc,
                 "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                 "-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc",
                 os.path.join(src, name)])
    base = os.path.join(src, ".editlist-base.mp4")
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=6", "-f", "lavfi",
             "-i", "sine=f=440:r=48000:d=6", "-c:v", "libx264", "-g", "50", "-bf", "2",
             "-c:a", "aac", "-b:a", "128k", base])
    _ffmpeg(["-ss", "1.3", "-i", base, "-c", "copy", "-t", "3", os.path.join(src, EDITLIST)])
    os.unlink(base)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=flags", "-read_intervals", "%+#1", "-of", "csv=p=0",
                          os.path.join(src, EDITLIST)], capture_output=True, text=True).stdout
    expect("K" in out and "D" in out, "the edit-list fixture's first keyframe is not "
           "discarded (%r): it tests nothing" % out.strip())


def idet(path):
    """ffmpeg idet's multi-frame counts on path's first video stream."""
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", path, "-map", "0:v:0",
                          "-vf", "idet", "-f", "null", "-"], capture_output=True, text=True,
                         timeout=300).stderr
    m = re.search(r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+) "
                  r"Undetermined:\s*(\d+)", err)
    if not m:
        fail("idet gave no counts for %s: %s" % (path, err[-300:]))
    return dict(zip(("tff", "bff", "progressive", "undetermined"), map(int, m.groups())))


def _stream(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,pix_fmt,color_primaries,color_transfer,"
                          "color_space", "-of", "default=nw=1", path],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.split() if "=" in line)


def psnr(rung, source, chain):
    """PSNR of rung's pictures against the source's through chain (then
    scaled to the rung's size), both from their first frame on."""
    s = _stream(rung)
    graph = ("[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS,%s%sscale=%s:%s:"
             "flags=bicubic,format=yuv420p[b];[a][b]psnr=shortest=1"
             % (chain, "," if chain else "", s["width"], s["height"]))
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", rung, "-i", source,
                          "-lavfi", graph, "-f", "null", "-"], capture_output=True, text=True,
                         timeout=300).stderr
    m = re.search(r"PSNR y:(\S+) u:(\S+) v:(\S+) average:(\S+)", err)
    if not m:
        fail("no PSNR for %s: %s" % (rung, err[-300:]))
    return dict(zip("yuva", (float(x) for x in m.groups())))


def _segments(m, title, rung):
    d = os.path.join(m.mountpoint, title, "video", rung)
    pl = open(os.path.join(d, "index.m3u8")).read()
    names = re.findall(r"^(\d+\.ts)$", pl, re.M)
    expect(names, "%s/%s: no segments in %r" % (title, rung, pl[:200]))
    return [os.path.join(d, n) for n in names]


def _log_says(m, title):
    """The filters the mount's log names for title's analysis."""
    os.listdir(os.path.join(m.mountpoint, title))        # analysed, if not yet
    for line in m.log_text().splitlines():
        if "/%s: index built" % title in line:
            return ("deinterlaced" in line, "tone-mapped" in line)
    fail("no analysis line for %s in the log" % title)


def _count(path):
    n = count_frames(path)
    expect(n is not None, "%s: no frame count" % path)
    return n


def check_deinterlaced(m, src, title, rung, figures, need_source_interlaced=True):
    """idet on the rung: progressive frames, none interlaced; one frame per
    source frame; the log names the deinterlacer."""
    segs = _segments(m, title, rung)
    before = idet(os.path.join(src, title))
    after = [idet(s) for s in segs]
    total = {k: sum(a[k] for a in after) for k in before}
    figures[title] = (before, total)
    note("picture: %s idet source %s, %s rung %s" % (title, before, rung, total))
    c = Collector()
    c.check(_log_says(m, title)[0], "%s: the analysis did not choose deinterlacing" % title)
    frames = sum(before.values())
    if need_source_interlaced:
        c.check(before["tff"] + before["bff"] >= PROGRESSIVE_SHARE * frames,
                "%s: idet finds the source itself mostly progressive (%s)" % (title, before))
        shown = sum(total.values())
        c.check(total["progressive"] >= PROGRESSIVE_SHARE * shown,
                "%s/%s: idet finds %s (progressive under %d %%)"
                % (title, rung, total, PROGRESSIVE_SHARE * 100))
        src_frames = _count(os.path.join(src, title))
        got = sum(_count(s) for s in segs)
        c.check(got == src_frames, "%s/%s: %d frames for the source's %d (one per frame)"
                % (title, rung, got, src_frames))
    else:
        # the corpus' captures: progressive content in interlaced coding,
        # or too damaged to show combing; no frame may come out combed
        c.check(total["tff"] + total["bff"] == 0, "%s/%s: idet finds interlaced frames: %s"
                % (title, rung, total))
    c.raise_if_any()


def check_untouched(m, src, title, rung):
    """A progressive SDR title: no filter chosen; its frames are the
    source's, scaled (no deinterlacer's blur, no colour change)."""
    deint, tone = _log_says(m, title)
    expect(not deint and not tone, "%s: filters chosen for a progressive SDR source" % title)
    seg = _segments(m, title, rung)[0]
    p = psnr(seg, os.path.join(src, title), "")
    expect(p["a"] >= REF_PSNR_MIN, "%s/%s: %.1f dB from the plainly scaled source"
           % (title, rung, p["a"]))


def check_tonemapped(m, src, title, rung, figures):
    """The rung is 8-bit 4:2:0 tagged BT.709; its pictures are close to
    the CLI's reference tone mapping of the same frames and far from the
    plain conversion (the source's samples taken as BT.709)."""
    seg = _segments(m, title, rung)[0]
    s = _stream(seg)
    c = Collector()
    c.check(_log_says(m, title)[1], "%s: the analysis did not choose tone mapping" % title)
    for key in ("color_primaries", "color_transfer", "color_space"):
        c.check(s.get(key) == "bt709", "%s/%s: %s is %s, not bt709" % (title, rung, key, s.get(key)))
    c.check(s.get("pix_fmt") == "yuv420p", "%s/%s: pix_fmt %s" % (title, rung, s.get("pix_fmt")))
    source = os.path.join(src, title)
    ref = psnr(seg, source, TONEMAP)
    plain = psnr(seg, source, "")
    figures[title] = (ref, plain)
    note("picture: %s/%s PSNR against the reference tone mapping %s, against the plain "
         "conversion %s" % (title, rung, ref, plain))
    c.check(ref["a"] >= REF_PSNR_MIN, "%s/%s: %.1f dB from the reference tone mapping (under %.0f)"
            % (title, rung, ref["a"], REF_PSNR_MIN))
    gap = max(ref[p] - plain[p] for p in "yuv")
    c.check(gap >= FAR_GAP_DB, "%s/%s: at most %.1f dB closer to the reference than to the "
            "plain conversion in any plane (%s / %s)" % (title, rung, gap, ref, plain))
    c.raise_if_any()


def _first_pts(path, stream):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                          "frame=pts_time", "-read_intervals", "%+#1", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout.split()
    vals = [float(x.strip(",")) for x in out if x.strip(",")]
    expect(vals, "%s: no %s frame" % (path, stream))
    return vals[0]


def check_editlist(m, src, title, rung):
    """Every picture the source presents (ffprobe applies the edit list) is
    served; the audio's first frame is at the plan's start (the video's
    first), not before it (no priming packet)."""
    source = os.path.join(src, title)
    want = _count(source)
    segs = _segments(m, title, rung)
    got = sum(_count(s) for s in segs)
    c = Collector()
    c.check(got == want, "%s/%s: %d frames served, the source presents %d"
            % (title, rung, got, want))
    audio = os.path.join(m.mountpoint, title, "audio", "0", "00000.ts")
    if os.path.exists(audio):
        v0, a0 = _first_pts(segs[0], "v:0"), _first_pts(audio, "a:0")
        c.check(abs(a0 - v0) <= 0.001, "%s: audio starts at %.3f s, the plan (video) at %.3f s"
                % (title, a0, v0))
    c.raise_if_any()


def read_md5s(m, paths):
    out = {}
    for rel in paths:
        with open(os.path.join(m.mountpoint, rel), "rb") as f:
            out[rel] = hashlib.md5(f.read()).hexdigest()
    return out


def check_same(first, second, what):
    diff = [k for k in first if second.get(k) != first[k]]
    expect(first and not diff, "%s: %d of %d segments differ: %s"
           % (what, len(diff), len(first), ", ".join(diff[:4])))
