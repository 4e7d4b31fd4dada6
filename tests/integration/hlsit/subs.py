"""Text subtitles as WebVTT renditions (SPEC §9): a generated title with an
embedded SubRip and an ASS stream and sidecar files of every naming form
and in several text encodings, and an MP4 with mov_text, give
subtitles/K/index.m3u8 renditions with the right LANGUAGE, NAME, FORCED
and DEFAULT; every cue's text and times (±1 ms) equal the source's, in
the whole-track subtitles/K.vtt and in each segment whose interval it
overlaps (both, across a boundary), on the video's timeline
(X-TIMESTAMP-MAP: MPEGTS is the first video pts of the segments);
`ffmpeg -i subtitles/K/index.m3u8` reads them; sizes are exact from the
first stat, stable across a remount and byte-identical with a fresh
cache. With the shared corpus: its MKVs' SubRip and ASS tracks, and the
DVB capture's bitmap subtitles named in the log once per stream."""

import hashlib
import html
import os
import re
import shutil
import subprocess

from .harness import Collector, expect, fail

SEGMENT_TIME = 6
DURATION_S = 14
OPTIONS = {"max_ahead": 0, "preset": "ultrafast", "ladder": "180:300k"}
TOL_MS = 1

# (start ms, end ms, text in the source's own markup, expected WebVTT text)
SRT_CUES = [
    (1000, 2500, "Hello <i>world</i>", "Hello <i>world</i>"),
    (5000, 7000, "Across the first cut", "Across the first cut"),
    (8000, 9000, "Line one\nLine two", "Line one\nLine two"),
    (12500, 13000, "Fish & chips", "Fish &amp; chips"),
]
ASS_CUES = [
    (3000, 4000, "{\\i1}Forced{\\i0} text", "<i>Forced</i> text"),
    (11500, 12500, "Across the second cut", "Across the second cut"),
]
MOV_CUES = [
    (500, 1500, "Guten Tag", "Guten Tag"),
    (5500, 6500, "Quer \u00fcber den Schnitt", "Quer \u00fcber den Schnitt"),
]
# sidecar name -> (encoding, cues, LANGUAGE, FORCED, NAME)
SIDECARS = {
    "film.de.sdh.srt": ("utf-8", [(2000, 3000, "[Musik]", "[Musik]")], "de", False,
                        "German (SDH)"),
    "film.en.srt": ("utf-16", [(4000, 6500, "Utf-16 \u2014 text", "Utf-16 \u2014 text")],
                    "en", False, "English 4"),     # NAME unique: the stream is "English"
    "film.es.vtt": ("utf-8", [(11000, 12800, "<b>Negrita</b> y m\u00e1s",
                               "<b>Negrita</b> y m\u00e1s")], "es", False, "Spanish"),
    "film.fr.forced.srt": ("latin-1", [(6100, 6900, "Tr\u00e8s bien", "Tr\u00e8s bien")],
                           "fr", True, "French (forced) 6"),
    "film.it.ass": ("utf-8", [(9500, 10500, "{\\b1}Ciao{\\b0}", "<b>Ciao</b>")], "it",
                    False, "Italian"),
    "film.srt": ("utf-8-sig", [(1500, 2000, "Sans langue", "Sans langue")], None, False,
                 "Subtitles"),
}
NOT_SIDECARS = ("film.part2.srt", "other.en.srt", "film.en.txt")
# the renditions of film.mkv, in order: the streams, then the sidecars by name
FILM_TRACKS = [("en", False, True, "English", SRT_CUES), ("fr", True, False, "French (forced)",
                                                           ASS_CUES)] + \
    [(v[2], v[3], False, v[4], v[1]) for k, v in sorted(SIDECARS.items())]


def _ffmpeg(args, **kw):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL, **kw)


def _ts(ms, comma=False):
    s = "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)
    return s.replace(".", ",") if comma else s


def _srt(cues):
    return "".join("%d\n%s --> %s\n%s\n\n" % (i + 1, _ts(a, True), _ts(b, True), t)
                   for i, (a, b, t, _) in enumerate(cues))


def _ass(cues):
    def t(ms):
        return "%d:%02d:%02d.%02d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60,
                                      ms % 1000 // 10)
    head = ("[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"
            "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
            "OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
            "Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, "
            "MarginV, Encoding\nStyle: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,"
            "100,100,0,0,1,1,0,2,10,10,10,0\n\n[Events]\nFormat: Layer, Start, End, Style, "
            "Name, MarginL, MarginR, MarginV, Effect, Text\n")
    return head + "".join("Dialogue: 0,%s,%s,Default,,0,0,0,,%s\n" % (t(a), t(b), x)
                          for a, b, x, _ in cues)


def _vtt(cues):
    return "WEBVTT\n\n" + "".join("%s --> %s\n%s\n\n" % (_ts(a), _ts(b), t)
                                  for a, b, t, _ in cues)


def make_fixtures(src, scratch):
    """film.mkv: 14 s 320x240 H.264 (a keyframe every 2 s) + AAC, a SubRip
    stream (eng, default) and an ASS stream (fra, forced), with the
    sidecars of SIDECARS and some files that are not its sidecars;
    phone.mp4: the same picture with a mov_text stream (deu)."""
    srt, ass = os.path.join(scratch, "s.srt"), os.path.join(scratch, "s.ass")
    open(srt, "w", encoding="utf-8").write(_srt(SRT_CUES))
    open(ass, "w", encoding="utf-8").write(_ass(ASS_CUES))
    mov = os.path.join(scratch, "m.srt")
    open(mov, "w", encoding="utf-8").write(_srt(MOV_CUES))
    av = ["-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=%d" % DURATION_S,
          "-f", "lavfi", "-i", "sine=f=440:d=%d" % DURATION_S]
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "64k"]
    _ffmpeg(av + ["-i", srt, "-i", ass, "-map", "0:v", "-map", "1:a", "-map", "2", "-map", "3"]
            + enc + ["-c:s:0", "srt", "-c:s:1", "ass",
                     "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
                     "-disposition:s:0", "default", "-disposition:s:1", "forced",
                     os.path.join(src, "film.mkv")])
    _ffmpeg(av + ["-i", mov, "-map", "0:v", "-map", "1:a", "-map", "2"] + enc +
            ["-c:s", "mov_text", "-metadata:s:s:0", "language=deu",
             os.path.join(src, "phone.mp4")])
    for name, (encoding, cues, _, _, _) in SIDECARS.items():
        text = _vtt(cues) if name.endswith(".vtt") else \
            _ass(cues) if name.endswith(".ass") else _srt(cues)
        with open(os.path.join(src, name), "wb") as f:
            f.write(text.encode(encoding))
    for name in NOT_SIDECARS:
        open(os.path.join(src, name), "w").write(_srt(SRT_CUES[:1]))


# -- reading what the mount shows ----------------------------------------------

def parse_vtt(text):
    """(header lines, [(start ms, end ms, text)])."""
    blocks = text.replace("\r\n", "\n").split("\n\n")
    head = blocks[0].split("\n")
    expect(head[0] == "WEBVTT", "not WebVTT: %r" % text[:60])
    cues = []
    for b in blocks[1:]:
        if not b.strip():
            continue
        lines = b.split("\n")
        if "-->" not in lines[0]:
            lines = lines[1:]            # a cue identifier
        m = re.match(r"(?:(\d+):)?(\d\d):(\d\d)\.(\d{3}) --> "
                     r"(?:(\d+):)?(\d\d):(\d\d)\.(\d{3})", lines[0])
        expect(m, "bad cue timing %r" % lines[0])
        g = [int(x or 0) for x in m.groups()]
        cues.append((((g[0] * 60 + g[1]) * 60 + g[2]) * 1000 + g[3],
                     ((g[4] * 60 + g[5]) * 60 + g[6]) * 1000 + g[7], "\n".join(lines[1:])))
    return head, cues


def master_media(master):
    """The SUBTITLES EXT-X-MEDIA attributes, in order."""
    out = []
    for ln in master.splitlines():
        if ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES,"):
            out.append(dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', ln[13:])))
    for a in out:
        for k, v in a.items():
            a[k] = v.strip('"')
    return out


def first_video_pts(title_dir):
    """The lowest video pts (90 kHz) of segment 0 of the first variant."""
    master = open(os.path.join(title_dir, "master.m3u8")).read()
    uri = [ln for ln in master.splitlines() if ln and not ln.startswith("#")][0]
    seg = os.path.join(title_dir, os.path.dirname(uri), "00000.ts")
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "packet=pts", "-of", "csv=p=0", seg], capture_output=True,
                         text=True, check=True).stdout
    return min(int(x.split(",")[0]) for x in out.split() if x.strip())


def source_origin_ms(path):
    """The first video presentation time of a source, in ms."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                          "-read_intervals", "%+3", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", path], capture_output=True, text=True,
                         check=True).stdout
    return round(min(float(x) for x in out.split() if x.strip() and x != "N/A") * 1000)


def source_cue_times(path, index):
    """(start ms, end ms) of the packets of subtitle stream 'index' of a
    source, as its container times them (ffmpeg moves a muxed stream by
    the audio's priming: the times written are not the cues')."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "s:%d" % index,
                          "-show_entries", "packet=pts_time,duration_time,size",
                          "-of", "csv=p=0", path], capture_output=True, text=True,
                         check=True).stdout
    times = []
    for ln in out.split():
        pts, dur, size = ln.split(",")[:3]
        if int(size) > 2:                # mov_text's empty samples are gaps
            times.append((round(float(pts) * 1000), round((float(pts) + float(dur)) * 1000)))
    return times


def embedded_cues(path, index, cues):
    """The cues of an embedded stream: the container's times, the texts
    expected of 'cues'."""
    times = source_cue_times(path, index)
    expect(len(times) == len(cues), "%s: stream s:%d has %d cues, the fixture %d"
           % (path, index, len(times), len(cues)))
    return [(a, b, c[3]) for (a, b), c in zip(times, cues)]


def plain(text):
    return html.unescape(re.sub(r"</?[biu]>", "", text)).strip()


def check_track(c, tdir, k, want_cues, origin_ms, exact_text=True):
    """subtitles/K.vtt and every segment against the source's cues."""
    label = "%s/subtitles/%d" % (os.path.basename(tdir), k)
    whole = open(os.path.join(tdir, "subtitles", "%d.vtt" % k), encoding="utf-8").read()
    _, got = parse_vtt(whole)
    want = [(max(a - origin_ms, 0), b - origin_ms, t) for a, b, t in want_cues
            if b - origin_ms > 0]
    c.check(len(got) == len(want), "%s.vtt: %d cues, the source %d" % (label, len(got),
                                                                       len(want)))
    for g, w in zip(got, want):
        same = g[2] == w[2] if exact_text else plain(g[2]) == plain(w[2])
        c.check(abs(g[0] - w[0]) <= TOL_MS and abs(g[1] - w[1]) <= TOL_MS and same,
                "%s.vtt: cue %r, the source's %r" % (label, g, w))
    pl = open(os.path.join(tdir, "subtitles", str(k), "index.m3u8")).read()
    durs = [round(float(x) * 1000) for x in re.findall(r"#EXTINF:([\d.]+),", pl)]
    names = re.findall(r"^(\d+\.vtt)$", pl, re.M)
    c.check(durs and len(durs) == len(names), "%s: playlist %r" % (label, pl[:200]))
    vpl = [ln for ln in open(os.path.join(tdir, "master.m3u8")).read().splitlines()
           if ln and not ln.startswith("#")][0]
    vdurs = re.findall(r"#EXTINF:([\d.]+),", open(os.path.join(tdir, vpl)).read())
    c.check([round(float(x) * 1000) for x in vdurs] == durs,
            "%s: EXTINF differ from the video's" % label)
    mpegts = first_video_pts(tdir)
    starts = [sum(durs[:i]) for i in range(len(durs) + 1)]
    for i, name in enumerate(names):
        head, seg = parse_vtt(open(os.path.join(tdir, "subtitles", str(k), name),
                                   encoding="utf-8").read())
        c.check("X-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000" % mpegts in head,
                "%s/%s: header %r, the video's first pts %d" % (label, name, head, mpegts))
        lo, hi = starts[i], starts[i + 1]
        inside = [g for g in got if (i == 0 or g[1] > lo) and (i + 1 == len(names) or g[0] < hi)]
        c.check(seg == inside, "%s/%s [%d, %d) ms: cues %r, want %r" % (label, name, lo, hi,
                                                                      seg, inside))
    out = subprocess.run(["ffmpeg", "-v", "error", "-i",
                          os.path.join(tdir, "subtitles", str(k), "index.m3u8"),
                          "-f", "webvtt", "-"], capture_output=True, text=True)
    c.check(out.returncode == 0 and "-->" in out.stdout,
            "%s: ffmpeg cannot read the playlist: %s" % (label, out.stderr[-300:]))
    return got


def check_film(m):
    """film.mkv: the renditions and attributes the streams and sidecars
    name, and every cue."""
    tdir = os.path.join(m.mountpoint, "film.mkv")
    master = open(os.path.join(tdir, "master.m3u8")).read()
    media = master_media(master)
    c = Collector()
    c.check(len(media) == len(FILM_TRACKS), "%d subtitle renditions, want %d: %s"
            % (len(media), len(FILM_TRACKS), media))
    for k, (a, (lang, forced, default, name, _)) in enumerate(zip(media, FILM_TRACKS)):
        c.check(a.get("LANGUAGE") == lang and a.get("FORCED") == ("YES" if forced else "NO")
                and a.get("DEFAULT") == ("YES" if default else "NO") and
                a.get("NAME") == name and a.get("AUTOSELECT") == "YES" and
                a.get("GROUP-ID") == "subs" and a.get("URI") == "subtitles/%d/index.m3u8" % k,
                "rendition %d: %s, want LANGUAGE=%s FORCED=%s DEFAULT=%s NAME=%s"
                % (k, a, lang, forced, default, name))
    c.check(("CHARACTERISTICS" in media[2]) if len(media) > 2 else False,
            "the SDH sidecar has no CHARACTERISTICS")
    streams = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF:")]
    c.check(streams and all('SUBTITLES="subs"' in ln for ln in streams),
            "an EXT-X-STREAM-INF without SUBTITLES: %s" % streams)
    path = os.path.join(m.source, "film.mkv")
    origin = source_origin_ms(path)
    for k, (_, _, _, _, cues) in enumerate(FILM_TRACKS[:len(media)]):
        want = embedded_cues(path, k, cues) if k < 2 else [(a, b, v) for a, b, _, v in cues]
        check_track(c, tdir, k, want, origin)
    listed = sorted(os.listdir(os.path.join(tdir, "subtitles")))
    want = sorted(["%d" % k for k in range(len(FILM_TRACKS))] +
                  ["%d.vtt" % k for k in range(len(FILM_TRACKS))])
    c.check(listed == want, "subtitles/ lists %s" % listed)
    c.raise_if_any()


def check_phone(m):
    """phone.mp4: the mov_text stream (read after the sample table)."""
    tdir = os.path.join(m.mountpoint, "phone.mp4")
    media = master_media(open(os.path.join(tdir, "master.m3u8")).read())
    c = Collector()
    c.check(len(media) == 1 and media[0].get("LANGUAGE") == "de",
            "subtitle renditions %s, want one LANGUAGE=de" % media)
    if media:
        path = os.path.join(m.source, "phone.mp4")
        check_track(c, tdir, 0, embedded_cues(path, 0, MOV_CUES), source_origin_ms(path))
    c.raise_if_any()


def subtitle_files(m, titles):
    """rel -> (stat size, bytes read, sha256) of every file below the
    titles' subtitles/ folders, stat'ed all before any is read."""
    rels = []
    for t in titles:
        for dp, _, fns in os.walk(os.path.join(m.mountpoint, t, "subtitles")):
            rels += [os.path.relpath(os.path.join(dp, f), m.mountpoint) for f in fns]
    sizes = {r: os.stat(os.path.join(m.mountpoint, r)).st_size for r in sorted(rels)}
    out = {}
    for r, size in sizes.items():
        data = open(os.path.join(m.mountpoint, r), "rb").read()
        out[r] = (size, len(data), hashlib.sha256(data).hexdigest())
    return out


def check_sizes(m, seen, key):
    """Every file's first stat size is the bytes read; the same sizes and
    bytes as the mount before (a remount, a fresh cache)."""
    files = subtitle_files(m, ("film.mkv", "phone.mp4"))
    c = Collector()
    c.check(len(files) > 10, "only %d subtitle files" % len(files))
    for r, (size, n, _) in files.items():
        c.check(size == n, "%s: stat %d, read %d bytes" % (r, size, n))
    if seen:
        c.check(files == seen, "%s: files differ: %s" % (key, sorted(
            r for r in set(files) | set(seen) if files.get(r) != seen.get(r))[:6]))
    else:
        seen.update(files)
    c.raise_if_any()


ADDED = "film.ja.srt"
ADDED_CUES = [(3000, 3500, "Konnichiwa", "Konnichiwa")]


def add_sidecar(src):
    """A sidecar file that comes after the title was analysed."""
    with open(os.path.join(src, ADDED), "w", encoding="utf-8") as f:
        f.write(_srt(ADDED_CUES))


def check_added(m, seen):
    """After a remount, the new sidecar is a rendition (the title analysed
    again, the log says why); the other tracks' files are as before."""
    tdir = os.path.join(m.mountpoint, "film.mkv")
    media = master_media(open(os.path.join(tdir, "master.m3u8")).read())
    c = Collector()
    langs = [a.get("LANGUAGE") for a in media]
    c.check(len(media) == len(FILM_TRACKS) + 1 and "ja" in langs,
            "after adding %s: renditions %s" % (ADDED, langs))
    k = langs.index("ja") if "ja" in langs else None
    if k is not None:
        check_track(c, tdir, k, [(a, b, v) for a, b, _, v in ADDED_CUES],
                    source_origin_ms(os.path.join(m.source, "film.mkv")))
        files = subtitle_files(m, ("film.mkv",))
        for j in range(k):
            prefix = "film.mkv/subtitles/%d" % j
            mine = {r: v for r, v in files.items() if r.startswith(prefix)}
            old = {r: v for r, v in seen.items() if r.startswith(prefix)}
            c.check(mine and mine == old, "%s: changed by the new sidecar" % prefix)
    log = open(m.log_path, errors="replace").read()
    c.check("/film.mkv: its subtitle files changed, analysing it again" in log,
            "the log does not say why film.mkv was analysed again")
    c.raise_if_any()


# -- the shared corpus ----------------------------------------------------------

SHARED = ("mkv-h264-ac3-srt-subtitles-1080x720-1.2s.mkv",
          "mkv-h264-ac3-ass-subtitles-1080x720-1.1s.mkv",
          "ts-dvb-h264-1080i-interlaced-eac3-dvbsub-1.9s.ts")


def shared_fixtures(media, src):
    for name in SHARED:
        shutil.copyfile(os.path.join(media, name), os.path.join(src, name))


def ffmpeg_cues(path, index):
    """The cues ffmpeg reads from subtitle stream 'index' of a source."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:s:%d" % index,
                          "-f", "webvtt", "-"], capture_output=True, text=True, check=True)
    return parse_vtt(out.stdout)[1]


def check_shared(m):
    c = Collector()
    for name in SHARED[:2]:
        tdir = os.path.join(m.mountpoint, name)
        media = master_media(open(os.path.join(tdir, "master.m3u8")).read())
        c.check(len(media) == 1, "%s: %d subtitle renditions, want 1" % (name, len(media)))
        if media:
            src = os.path.join(m.source, name)
            check_track(c, tdir, 0, ffmpeg_cues(src, 0), source_origin_ms(src), False)
    ts = os.path.join(m.mountpoint, SHARED[2])
    c.check(not os.path.exists(os.path.join(ts, "subtitles")),
            "%s: bitmap subtitles offered as text" % SHARED[2])
    os.listdir(ts)
    log = open(m.log_path, errors="replace").read()
    lines = [ln for ln in log.splitlines() if SHARED[2] + ": subtitle stream" in ln]
    c.check(len(lines) == 1 and all(re.search(r"\b%d \(dvb_subtitle[^)]*pictures\)" % k,
                                              lines[0]) for k in (4, 5)),
            "%s: the log names its bitmap streams in %s, want one line naming 4 and 5"
            % (SHARED[2], lines))
    c.raise_if_any()


def dvb_stream_indexes(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "s", "-show_entries",
                          "stream=index", "-of", "csv=p=0", path], capture_output=True,
                         text=True, check=True).stdout
    return sorted(set(int(x) for x in out.split()))


def check_bitmap_streams(media):
    """The DVB capture's subtitle streams are the ones check_shared expects."""
    got = dvb_stream_indexes(os.path.join(media, SHARED[2]))
    if got != [4, 5]:
        fail("the DVB capture's subtitle streams are %s, the check expects [4, 5]" % got)
