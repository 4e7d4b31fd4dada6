"""fMP4 (CMAF) segments (-o format=fmp4): every rendition holds init.mp4
and NNNNN.m4s named by an EXT-X-MAP playlist; 'original' copies H.264,
HEVC (8 and 10 bit), AV1, VP9 and rotated video with the CODECS and
VIDEO-RANGE its sample entry holds and the rotation in its track header;
every file reads exactly its stat size (before anything was made, and
after a remount); every rendition decodes to the end with the source's
frame count; segment N has the same tfdt (presentation start) in every
video rendition and audio within an AAC frame of it; every video segment
starts with a sync sample; the bytes after a segment's moof and mdat are
a 'free' box or nothing; a fresh cache read in another order gives the
same bytes; audio decodes without gap or click across segments."""

import array
import hashlib
import math
import os
import re
import struct
import subprocess

from .harness import Collector, expect, fail, note
from .media import count_frames, decode_audio, ffprobe_json

SEGMENT_TIME = 2
LADDER = "180:300k"
OPTIONS = {"format": "fmp4", "max_ahead": 0, "preset": "ultrafast", "ladder": LADDER}
DURATION_S = 7
FPS = 25
SINE_HZ = 440

# name: (sample entry, CODECS prefix, VIDEO-RANGE or None, rotation)
TITLES = {
    "h264.mp4": ("avc1", "avc1.64", None, 0),
    "hevc8.mp4": ("hvc1", "hvc1.1.", None, 0),
    "hevc10.mp4": ("hvc1", "hvc1.2.", "HLG", 0),
    "av1.mp4": ("av01", "av01.0.", "PQ", 0),
    "vp9.webm": ("vp09", "vp09.00.", None, 0),
    "rot90.mp4": ("avc1", "avc1.64", None, 90),
}


# 5.1 tracks: (codec, CODECS, group) of each, in source order
MULTI = ("multi.mp4", "multi.mkv")
AAC51 = "flac51.mkv"
MULTI_TRACKS = (("ac3", "ac-3", "audio-ac3", "en"), ("eac3", "ec-3", "audio-ec3", "fr"),
                ("aac", "mp4a.40.2", "audio", "de"))


def _ffmpeg(args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL, timeout=300)


def make_fixtures(src):
    """7 s each, a keyframe every second (so the 2 s plan cuts on them),
    B-frames where the codec has them, a 440 Hz tone for audio."""
    v = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=%d:d=%d" % (FPS, DURATION_S)]
    a = ["-f", "lavfi", "-i", "sine=f=%d:r=48000:d=%d" % (SINE_HZ, DURATION_S)]
    g = ["-g", str(FPS), "-keyint_min", str(FPS)]
    aac = ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    _ffmpeg(v + a + ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2"] + g + aac +
            [os.path.join(src, "h264.mp4")])
    _ffmpeg(v + a + ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                     "-x265-params", "keyint=%d:min-keyint=%d:bframes=2:log-level=error"
                     % (FPS, FPS)] + aac + [os.path.join(src, "hevc8.mp4")])
    _ffmpeg(v + a + ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                     "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020",
                     "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc",
                     "-x265-params", "keyint=%d:min-keyint=%d:log-level=error" % (FPS, FPS)] +
            aac + [os.path.join(src, "hevc10.mp4")])
    _ffmpeg(v + a + ["-c:v", "libsvtav1", "-preset", "12", "-pix_fmt", "yuv420p10le",
                     "-color_primaries", "bt2020", "-color_trc", "smpte2084",
                     "-colorspace", "bt2020nc"] + g + aac + [os.path.join(src, "av1.mp4")])
    _ffmpeg(v + a + ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                     "-b:v", "300k"] + g + ["-c:a", "libopus", "-b:a", "64k"] +
            [os.path.join(src, "vp9.webm")])
    # the rotation tag is taken when copying, not when encoding
    upright = os.path.join(src, "upright.tmp.mp4")
    _ffmpeg(v + a + ["-c:v", "libx264", "-preset", "veryfast"] + g + aac + [upright])
    _ffmpeg(["-i", upright, "-c", "copy", "-metadata:s:v:0", "rotate=90",
             os.path.join(src, "rot90.mp4")])
    os.unlink(upright)
    # three 5.1 tracks: AC-3, E-AC-3 and AAC-LC, in MP4 and in Matroska
    _ffmpeg(v + a + ["-filter_complex",
                     "[1:a]pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0,asplit=3[a][b][c]",
                     "-map", "0:v", "-map", "[a]", "-map", "[b]", "-map", "[c]",
                     "-c:v", "libx264", "-preset", "veryfast"] + g +
            ["-c:a:0", "ac3", "-b:a:0", "384k", "-c:a:1", "eac3", "-b:a:1", "384k",
             "-c:a:2", "aac", "-b:a:2", "256k", "-metadata:s:a:0", "language=eng",
             "-metadata:s:a:1", "language=fra", "-metadata:s:a:2", "language=deu",
             os.path.join(src, MULTI[0])])
    _ffmpeg(["-i", os.path.join(src, MULTI[0]), "-map", "0", "-c", "copy",
             os.path.join(src, MULTI[1])])
    # a 5.1 track of a codec that is not copied: FLAC
    _ffmpeg(v + a + ["-filter_complex", "[1:a]pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0[a]",
                     "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast"] +
            g + ["-c:a", "flac", os.path.join(src, AAC51)])


# -- boxes --------------------------------------------------------------------

def boxes(data, start=0, end=None):
    """(type, offset, size) of the boxes in data[start:end]; fails on a box
    that does not fit."""
    end = len(data) if end is None else end
    out = []
    at = start
    while at < end:
        expect(end - at >= 8, "%d stray bytes at %d" % (end - at, at))
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        expect(size >= 8 and at + size <= end, "box %r of %d bytes at %d overruns %d"
               % (kind, size, at, end))
        out.append((kind.decode("latin-1"), at, size))
        at += size
    return out


def child(data, parent, kind):
    _, at, size = parent
    header = 8
    for b in boxes(data, at + header, at + size):
        if b[0] == kind:
            return b
    fail("no %s in %s" % (kind, parent[0]))


def init_info(data):
    """timescale, sample entry type and tkhd matrix of an init segment."""
    top = boxes(data)
    expect([b[0] for b in top] == ["ftyp", "moov"], "init boxes %s" % [b[0] for b in top])
    moov = top[1]
    trak = child(data, moov, "trak")
    tkhd = child(data, trak, "tkhd")
    matrix = struct.unpack(">9i", data[tkhd[1] + 48:tkhd[1] + 84])
    mdia = child(data, trak, "mdia")
    mdhd = child(data, mdia, "mdhd")
    timescale = struct.unpack(">I", data[mdhd[1] + 20:mdhd[1] + 24])[0]
    stbl = child(data, child(data, child(data, mdia, "minf"), "stbl"), "stsd")
    entry = data[stbl[1] + 20:stbl[1] + 24].decode("latin-1")
    child(data, moov, "mvex")
    return timescale, entry, matrix


def segment_info(data):
    """tfdt, the first sample's flags (video trun), and what follows the
    mdat, of a media segment."""
    top = boxes(data)
    kinds = [b[0] for b in top]
    expect(kinds[:2] == ["moof", "mdat"], "segment boxes %s" % kinds)
    expect(all(k == "free" for k in kinds[2:]) and len(kinds) <= 3,
           "after moof and mdat: %s" % kinds[2:])
    traf = child(data, top[0], "traf")
    tfdt = child(data, traf, "tfdt")
    version = data[tfdt[1] + 8]
    base = struct.unpack(">Q" if version else ">I",
                         data[tfdt[1] + 12:tfdt[1] + (20 if version else 16)])[0]
    trun = child(data, traf, "trun")
    flags = struct.unpack(">I", data[trun[1] + 8:trun[1] + 12])[0] & 0xffffff
    count = struct.unpack(">I", data[trun[1] + 12:trun[1] + 16])[0]
    first_flags = None
    if count and flags & 0x400:
        off = trun[1] + 20 + (4 if flags & 0x100 else 0) + (4 if flags & 0x200 else 0)
        first_flags = struct.unpack(">I", data[off:off + 4])[0]
    return base, first_flags, count, kinds


# -- the title on the mount ---------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def playlist_segments(text):
    return re.findall(r"^(\d+\.m4s)$", text, re.M)


def renditions(tdir):
    """The fMP4 renditions of a title: all but video/iframes/, the I-frame
    rendition, which is MPEG-TS in either format (trick.py checks it)."""
    out = []
    for kind in ("video", "audio"):
        d = os.path.join(tdir, kind)
        if os.path.isdir(d):
            out += [(kind, n) for n in sorted(os.listdir(d))
                    if not (kind == "video" and n == "iframes")]
    return out


def check_layout(m, title):
    """Playlists: VERSION:7 and EXT-X-MAP; each rendition lists init.mp4 and
    its .m4s segments, no .ts name resolves; the original's CODECS,
    VIDEO-RANGE; sizes at the first stat (nothing made yet)."""
    entry, prefix, vrange, _ = TITLES[title]
    tdir = os.path.join(m.mountpoint, title)
    c = Collector()
    master = read(os.path.join(tdir, "master.m3u8")).decode()
    orig = re.search(r"#EXT-X-STREAM-INF:([^\n]*)\nvideo/original/index.m3u8", master)
    c.check(orig, "no original variant in %r" % master[:400])
    if orig:
        codecs = re.search(r'CODECS="([^"]*)"', orig.group(1))
        c.check(codecs and codecs.group(1).startswith(prefix),
                "original CODECS %s, want %s..." % (codecs and codecs.group(1), prefix))
        got_range = re.search(r"VIDEO-RANGE=(\w+)", orig.group(1))
        c.check((got_range.group(1) if got_range else None) == vrange,
                "VIDEO-RANGE %s, want %s" % (got_range and got_range.group(1), vrange))
    c.check(re.search(r'CODECS="avc3\.', master), "no avc3 rung in the master")
    sizes = {}
    for kind, name in renditions(tdir):
        rdir = os.path.join(tdir, kind, name)
        pl = read(os.path.join(rdir, "index.m3u8")).decode()
        c.check("#EXT-X-VERSION:7\n" in pl and '#EXT-X-MAP:URI="init.mp4"\n' in pl,
                "%s/%s playlist %r" % (kind, name, pl[:200]))
        segs = playlist_segments(pl)
        listed = sorted(os.listdir(rdir))
        c.check(listed == sorted(["index.m3u8", "init.mp4"] + segs),
                "%s/%s lists %s" % (kind, name, listed[:6]))
        c.check(not os.path.exists(os.path.join(rdir, "00000.ts")), "00000.ts exists")
        for n in ["init.mp4"] + segs:
            sizes[(kind, name, n)] = os.stat(os.path.join(rdir, n)).st_size
    c.raise_if_any()
    return sizes


def check_read(m, scratch, title, sizes, hashes):
    """Every file reads its stat size; init and segments parse as boxes;
    tfdt aligned; sync sample first; each video rendition decodes to the
    source's frames; the original keeps the codec and rotation."""
    entry, _, _, rotation = TITLES[title]
    tdir = os.path.join(m.mountpoint, title)
    src = os.path.join(m.source, title)
    c = Collector()
    starts = {}                 # rendition -> [presentation start s]
    want_frames = count_frames(src)
    for kind, name in renditions(tdir):
        rdir = os.path.join(tdir, kind, name)
        segs = playlist_segments(read(os.path.join(rdir, "index.m3u8")).decode())
        init = read(os.path.join(rdir, "init.mp4"))
        timescale, got_entry, matrix = init_info(init)
        whole = [init]
        for n in ["init.mp4"] + segs:
            data = init if n == "init.mp4" else read(os.path.join(rdir, n))
            c.check(len(data) == sizes[(kind, name, n)],
                    "%s/%s/%s: read %d bytes, stat said %d" % (kind, name, n, len(data),
                                                              sizes[(kind, name, n)]))
            hashes[(title, kind, name, n)] = hashlib.sha256(data).hexdigest()
            if n == "init.mp4":
                continue
            whole.append(data)
            base, first_flags, count, _ = segment_info(data)
            starts.setdefault((kind, name), []).append(base / timescale)
            if kind == "video":
                c.check(first_flags is not None and first_flags & 0x00010000 == 0 and
                        first_flags >> 24 == 2,
                        "%s/%s/%s: first sample flags %s" % (kind, name, n, first_flags))
        path = os.path.join(scratch, "%s-%s-%s.mp4" % (title, kind, name))
        with open(path, "wb") as f:
            f.write(b"".join(whole))
        r = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-"],
                           capture_output=True, text=True, timeout=300)
        c.check(r.returncode == 0 and not r.stderr.strip(),
                "%s/%s: ffmpeg decode: %s" % (kind, name, r.stderr.strip()[:300]))
        if kind == "video":
            got = count_frames(path)
            c.check(got == want_frames, "%s/%s: %s frames, the source %s"
                    % (kind, name, got, want_frames))
        if kind == "video" and name == "original":
            c.check(got_entry == entry, "original sample entry %s, want %s" % (got_entry, entry))
            c.check((matrix[:2] != (0x10000, 0)) == bool(rotation),
                    "tkhd matrix %s for a rotation of %d" % (matrix, rotation))
            sd = ffprobe_json(path, ["-select_streams", "v", "-show_entries",
                                     "stream_side_data=rotation"])
            src_sd = ffprobe_json(src, ["-select_streams", "v", "-show_entries",
                                        "stream_side_data=rotation"])
            c.check(sd.get("streams") == src_sd.get("streams"),
                    "rotation %s, the source %s" % (sd.get("streams"), src_sd.get("streams")))
    videos = [v for k, v in starts.items() if k[0] == "video"]
    for k, v in starts.items():
        ref = videos[0]
        c.check(len(v) == len(ref), "%s: %d segments, video %d" % (k, len(v), len(ref)))
        tol = 1e-6 if k[0] == "video" else 1024 / 48000 / 2 + 1e-6
        for i, (a, b) in enumerate(zip(v, ref)):
            c.check(abs(a - b) <= tol, "%s segment %d starts at %.6f, video at %.6f"
                    % (k, i, a, b))
    c.raise_if_any()


def check_same(m, title, hashes):
    """A fresh cache, the segments read last to first: the same bytes."""
    tdir = os.path.join(m.mountpoint, title)
    c = Collector()
    for kind, name in renditions(tdir):
        rdir = os.path.join(tdir, kind, name)
        segs = playlist_segments(read(os.path.join(rdir, "index.m3u8")).decode())
        for n in reversed(["init.mp4"] + segs):
            h = hashlib.sha256(read(os.path.join(rdir, n))).hexdigest()
            c.check(h == hashes.get((title, kind, name, n)),
                    "%s/%s/%s differs from the first run" % (kind, name, n))
    c.raise_if_any()


def check_audio_continuity(m, scratch, title):
    """The audio rendition decoded whole: the segments' frames, no
    more, no less, and at every boundary the tone steps no more than it
    does anywhere else (a gap or a primed frame would click)."""
    rdir = os.path.join(m.mountpoint, title, "audio", "0")
    segs = playlist_segments(read(os.path.join(rdir, "index.m3u8")).decode())
    parts = [read(os.path.join(rdir, "init.mp4"))]
    frames = []
    for n in segs:
        data = read(os.path.join(rdir, n))
        frames.append(segment_info(data)[2])
        parts.append(data)
    path = os.path.join(scratch, "%s-audio.mp4" % title)
    with open(path, "wb") as f:
        f.write(b"".join(parts))
    rc, lines, s = decode_audio(path)
    expect(rc == 0 and not lines, "decode: %s" % lines[:3])
    left = s[0::2]
    expect(abs(len(left) - sum(frames) * 1024) <= 1024,
           "%d samples decoded, the segments hold %d" % (len(left), sum(frames) * 1024))
    step = 2 * math.pi * SINE_HZ / 48000
    amp = max(abs(x) for x in left[48000:96000]) if len(left) > 96000 else 0.1
    worst = 0
    at = 0
    for k in frames[:-1]:
        at += k * 1024
        for i in range(max(1, at - 4), min(len(left), at + 4)):
            worst = max(worst, abs(left[i] - left[i - 1]))
    expect(worst <= amp * step * 1.5 + 1e-3,
           "a step of %.4f at a boundary, the tone steps %.4f at most" % (worst, amp * step))


def ffmpeg_pts_shift(rdir):
    """The seconds ffmpeg's MP4 demuxer moves the presentation times of an
    fMP4 rendition by: with no edit list it keeps decode times and adds
    the most negative composition offset of the track to every
    presentation time (its dts_shift), so a B-frame track whose tfdt is
    its presentation start is shown that much later. 0 without negative
    offsets."""
    timescale = init_info(read(os.path.join(rdir, "init.mp4")))[0]
    worst = 0
    for n in sorted(os.listdir(rdir)):
        if not n.endswith(".m4s"):
            continue
        data = read(os.path.join(rdir, n))
        traf = child(data, boxes(data)[0], "traf")
        trun = child(data, traf, "trun")
        flags = struct.unpack(">I", data[trun[1] + 8:trun[1] + 12])[0] & 0xffffff
        if not flags & 0x800:
            continue
        count = struct.unpack(">I", data[trun[1] + 12:trun[1] + 16])[0]
        at = trun[1] + 16 + (4 if flags & 1 else 0) + (4 if flags & 4 else 0)
        per = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
        skip = 4 * sum(1 for bit in (0x100, 0x200, 0x400) if flags & bit)
        for i in range(count):
            cto = struct.unpack(">i", data[at + i * per + skip:at + i * per + skip + 4])[0]
            worst = min(worst, cto)
    return -worst / timescale


def _media_lines(master):
    out = []
    for line in master.splitlines():
        if line.startswith("#EXT-X-MEDIA:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line[len("#EXT-X-MEDIA:"):]))
            out.append({k: v.strip('"') for k, v in attrs.items()})
    return out


def check_multichannel(m, scratch, title, fmp4_format):
    """Each 5.1 track: its stereo AAC rendition K (group "audio", CHANNELS 2)
    and K-6ch, the source's AC-3, E-AC-3 or AAC copied (CHANNELS 6, the
    track's LANGUAGE, AC-3 and E-AC-3 in groups of their own that variants
    with their CODECS name, one DEFAULT per group); every audio rendition
    reads its stat size and decodes with its channels and the source
    track's frames (all but those before the first video keyframe)."""
    tdir = os.path.join(m.mountpoint, title)
    src = os.path.join(m.source, title)
    master = read(os.path.join(tdir, "master.m3u8")).decode()
    media = _media_lines(master)
    c = Collector()
    by_uri = {x.get("URI"): x for x in media}
    for k, (codec, codecs, group, lang) in enumerate(MULTI_TRACKS):
        st = by_uri.get("audio/%d/index.m3u8" % k)
        mc = by_uri.get("audio/%d-6ch/index.m3u8" % k)
        c.check(st and st.get("CHANNELS") == "2" and st.get("GROUP-ID") == "audio",
                "track %d stereo: %s" % (k, st))
        c.check(mc and mc.get("CHANNELS") == "6" and mc.get("GROUP-ID") == group and
                mc.get("LANGUAGE") == lang, "track %d 5.1: %s" % (k, mc))
        if group != "audio":
            c.check(re.search(r'CODECS="[^"]*,%s",AUDIO="%s"' % (re.escape(codecs), group), master),
                    "no variant of CODECS ...,%s in group %s" % (codecs, group))
    for g in set(x.get("GROUP-ID") for x in media):
        n = sum(1 for x in media if x.get("GROUP-ID") == g and x.get("DEFAULT") == "YES")
        c.check(n == 1, "group %s has %d DEFAULT=YES renditions" % (g, n))
    src_frames = [count_frames(src, "a:%d" % k) for k in range(len(MULTI_TRACKS))]
    for k, (codec, _, _, _) in enumerate(MULTI_TRACKS):
        for name, channels, want_codec in (("%d" % k, 2, "aac"), ("%d-6ch" % k, 6, codec)):
            rdir = os.path.join(tdir, "audio", name)
            pl = read(os.path.join(rdir, "index.m3u8")).decode()
            names = (["init.mp4"] + playlist_segments(pl)) if fmp4_format else \
                re.findall(r"^(\d+\.ts)$", pl, re.M)
            parts = []
            for n in names:
                data = read(os.path.join(rdir, n))
                size = os.stat(os.path.join(rdir, n)).st_size
                c.check(len(data) == size, "audio/%s/%s: read %d, stat %d" % (name, n, len(data), size))
                parts.append(data)
            path = os.path.join(scratch, "%s-%s.%s" % (title, name, "mp4" if fmp4_format else "ts"))
            with open(path, "wb") as f:
                f.write(b"".join(parts))
            info = ffprobe_json(path, ["-select_streams", "a", "-show_entries",
                                       "stream=codec_name,channels"]).get("streams") or [{}]
            c.check(info[0].get("codec_name") == want_codec and info[0].get("channels") == channels,
                    "audio/%s: %s, want %s with %d channels" % (name, info[0], want_codec, channels))
            r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"],
                               capture_output=True, text=True, timeout=300)
            c.check(r.returncode == 0 and not r.stderr.strip(),
                    "audio/%s: decode: %s" % (name, r.stderr.strip()[:200]))
            if name.endswith("ch"):
                got = count_frames(path, "a")
                c.check(got is not None and src_frames[k] is not None and
                        0 <= src_frames[k] - got <= 1,
                        "audio/%s: %s frames, the source track %s" % (name, got, src_frames[k]))
    c.raise_if_any()


def _rendition_file(tdir, scratch, title, name, fmp4_format):
    rdir = os.path.join(tdir, "audio", name)
    pl = read(os.path.join(rdir, "index.m3u8")).decode()
    names = (["init.mp4"] + playlist_segments(pl)) if fmp4_format else \
        re.findall(r"^(\d+\.ts)$", pl, re.M)
    parts = []
    for n in names:
        data = read(os.path.join(rdir, n))
        expect(len(data) == os.stat(os.path.join(rdir, n)).st_size,
               "audio/%s/%s: read size differs from stat" % (name, n))
        parts.append(data)
    path = os.path.join(scratch, "%s-%s-%d.%s" % (title, name, fmp4_format,
                                                 "mp4" if fmp4_format else "ts"))
    with open(path, "wb") as f:
        f.write(b"".join(parts))
    return path


def check_aac51(m, scratch, title, fmp4_format):
    """A 5.1 track of a codec not copied (FLAC): audio/0-6ch is AAC 5.1 in
    the "audio" group with CHANNELS 6, on the stereo rendition's grid (the
    same number of AAC frames), and decodes."""
    tdir = os.path.join(m.mountpoint, title)
    media = {x.get("URI"): x for x in _media_lines(read(os.path.join(tdir, "master.m3u8")).decode())}
    mc = media.get("audio/0-6ch/index.m3u8")
    expect(mc and mc.get("CHANNELS") == "6" and mc.get("GROUP-ID") == "audio" and
           mc.get("DEFAULT") == "NO", "5.1 rendition: %s" % mc)
    six = _rendition_file(tdir, scratch, title, "0-6ch", fmp4_format)
    two = _rendition_file(tdir, scratch, title, "0", fmp4_format)
    info = ffprobe_json(six, ["-select_streams", "a", "-show_entries",
                              "stream=codec_name,channels"]).get("streams") or [{}]
    expect(info[0].get("codec_name") == "aac" and info[0].get("channels") == 6,
           "audio/0-6ch: %s" % info[0])
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", six, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    expect(r.returncode == 0 and not r.stderr.strip(), "decode: %s" % r.stderr.strip()[:200])
    n6, n2 = count_frames(six, "a"), count_frames(two, "a")
    expect(n6 == n2 and n6, "AAC frames: 5.1 %s, stereo %s" % (n6, n2))
