"""The checks themselves. Each function raises CheckFailed (via fail/expect or
a Collector) with a one-line reason, or returns normally on success."""

import errno
import hashlib
import math
import os
import re
import stat
import threading
from fractions import Fraction

from .harness import CheckFailed, Collector, expect, fail, note
from .m3u8 import MasterPlaylist, MediaPlaylist, segment_name
from .media import multichannel_copied, multichannel_name  # noqa: E402
from .media import (ffprobe_json, run, run_bytes, AAC_FRAME, AUDIO_RATE, H264_PROFILE_IDC, MPEGTS_OFFSET, TS_CLOCK, Decode,
                    Segment, audio_grid, expected_rungs, fmt_s, normalize_log_line,
                    probe_segment_streams, round_ms)
from .tsparse import H264_LEVELS, STREAM_TYPE_ADTS_AAC, TsError, TsFile, h264_access_units

DEFAULT_SEGMENT_TIME = 6

VIDEO_EXTS = {"mp4", "m4v", "mkv", "webm", "mov", "avi", "ts", "m2ts", "mts", "flv",
              "wmv", "mpg", "mpeg", "3gp", "ogv", "vob", "mxf", "divx", "asf"}

ISO639_1 = {"eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de",
            "spa": "es", "ita": "it", "jpn": "ja", "por": "pt", "rus": "ru",
            "nld": "nl", "dut": "nl", "zho": "zh", "chi": "zh"}

TS_WRAP = 1 << 33


def is_video_name(name):
    return "." in name and name.rsplit(".", 1)[1].lower() in VIDEO_EXTS


def ext_of(name):
    return name.rsplit(".", 1)[1]


def ts_diff(a, b):
    """a - b for 33-bit MPEG-TS timestamps, taking wrap-around into account."""
    d = (a - b) % TS_WRAP
    return d - TS_WRAP if d >= TS_WRAP // 2 else d


def to_ts_ticks(seconds):
    return int(math.floor(Fraction(seconds) * TS_CLOCK + Fraction(1, 2)))


OFFSET_TICKS = to_ts_ticks(MPEGTS_OFFSET)


# ---------------------------------------------------------------------------
# File access through the mount

def read_whole(path):
    """Read a file with plain open/read; returns (fstat before, data, fstat after)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        before = os.fstat(fd)
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    return before, b"".join(chunks), after


def pread(path, offset, length):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def walk(root):
    """rel -> lstat result for everything below root (root itself excluded)."""
    out = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            for entry in it:
                r = os.path.join(rel, entry.name) if rel else entry.name
                st = entry.stat(follow_symlinks=False)
                out[r] = st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(r)
    return out


def source_snapshot(root):
    snap = {}
    for rel, st in walk(root).items():
        snap[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size,
                     st.st_mtime_ns)
    return snap


def verify_file(path, expected_size, problems, label, ts=False):
    """stat == bytes read == expected size; reads at offsets agree with the
    whole read. Returns (data or None)."""
    try:
        st0 = os.stat(path)
        before, data, after = read_whole(path)
    except OSError as e:
        problems.add("%s: %s" % (label, e))
        return None
    n = len(data)
    if expected_size is not None and st0.st_size != expected_size:
        problems.add("%s: stat size %d now, %d at first stat" % (label, st0.st_size, expected_size))
    if n != st0.st_size or n != before.st_size or n != after.st_size:
        problems.add("%s: read %d bytes, stat says %d (fstat %d/%d)"
                     % (label, n, st0.st_size, before.st_size, after.st_size))
    for off in sorted({n // 2, (n // 2) | 1, max(0, n - 1000), 4097 if n > 4097 else 0}):
        want = data[off:off + 65536]
        try:
            got = pread(path, off, 65536)
        except OSError as e:
            problems.add("%s: pread at %d: %s" % (label, off, e))
            continue
        if got != want:
            problems.add("%s: pread(65536) at offset %d returned %d bytes that differ from the "
                         "whole read" % (label, off, len(got)))
            break
    if ts:
        if n % 188:
            problems.add("%s: size %d is not a multiple of 188" % (label, n))
        elif n == 0:
            problems.add("%s: empty segment" % label)
        else:
            bad = next((i for i in range(0, n, 188) if data[i] != 0x47), None)
            if bad is not None:
                problems.add("%s: no MPEG-TS sync byte at offset %d" % (label, bad))
    return data


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# A title in a mount

# trick-play entries (trick.py): video/iframes/ and thumbs/
TRICK_IFRAMES = "iframes"
TRICK_THUMBS = "thumbs"


class TitleView:
    """What the mount shows for one video source."""

    def __init__(self, mnt_root, src_root, rel):
        self.rel = rel
        self.path = os.path.join(mnt_root, rel)
        self.src = os.path.join(src_root, rel)
        self.ext = ext_of(os.path.basename(rel))
        self.source_name = "source." + self.ext

    def entries(self):
        return set(os.listdir(self.path))

    def error_text(self):
        p = os.path.join(self.path, "ERROR")
        if os.path.exists(p):
            with open(p, "rb") as f:
                return f.read().decode("utf-8", "replace")
        return None

    def require_serving(self):
        if not os.path.isdir(self.path):
            fail("%s is not a directory in the mount" % self.rel)
        err = self.error_text()
        if err is not None:
            fail("title shows ERROR: %r" % err.strip())

    def renditions(self, kind):
        d = os.path.join(self.path, kind)
        if not os.path.isdir(d):
            return []
        names = os.listdir(d)
        if kind == "video":
            # the I-frame rendition is not a variant (trick.py checks it)
            names = [n for n in names if n != TRICK_IFRAMES]
        if kind == "audio":
            return sorted(names, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))
        return sorted(names, key=lambda n: (n != "original", n))

    def rdir(self, kind, name):
        return os.path.join(self.path, kind, name)

    def read_text(self, *parts):
        with open(os.path.join(self.path, *parts), "rb") as f:
            return f.read().decode("utf-8")


def _short_list(names, limit=6):
    if len(names) <= limit:
        return "[%s]" % ", ".join(names)
    return "[%s, ... %d in all]" % (", ".join(names[:limit]), len(names))


def tolerant_extinf(text):
    """EXTINF values in ms from a playlist, without judging its format."""
    out = []
    for m in re.finditer(r"^#EXTINF:([0-9.]+)", text, re.M):
        out.append(round_ms(Fraction(m.group(1))))
    return out


# ---------------------------------------------------------------------------
# Layout and attributes

def check_serving_layout(tv, audio_expect, audio_allowed=None, require_original=True,
                         videos_expect=None):
    """A served title: exactly master, source, video (+ audio); video/NAME and
    audio/K hold index.m3u8 and contiguous NNNNN.ts. videos_expect: the
    exact set of video renditions (original and the rungs)."""
    tv.require_serving()
    c = Collector()
    want = {"master.m3u8", tv.source_name, "video"}
    if audio_expect or audio_allowed:
        want.add("audio")
    # subtitles/ (text subtitle streams, sidecar files): checked by subs.py;
    # thumbs/ by trick.py
    have = tv.entries() - {"subtitles", TRICK_THUMBS}
    optional_audio = not audio_expect and audio_allowed
    if optional_audio:
        have_cmp = have - {"audio"}
        want = want - {"audio"}
    else:
        have_cmp = have
    c.check(have_cmp == want, "title dir has %s, want %s" % (sorted(have), sorted(want)))
    c.check(os.path.isfile(os.path.join(tv.path, tv.source_name)), "%s is not a file" % tv.source_name)
    videos = tv.renditions("video")
    c.check(videos, "no video rendition")
    if videos_expect is not None:
        c.check(set(videos) == set(videos_expect),
                "video renditions %s, want %s" % (videos, list(videos_expect)))
    elif require_original:
        c.check("original" in videos, "video/original missing (have %s)" % videos)
    audios = tv.renditions("audio")
    got = set(audios)
    if audio_allowed is None:
        c.check(got == {str(k) for k in audio_expect},
                "audio renditions %s, want %s" % (audios, [str(k) for k in audio_expect]))
    else:
        c.check({str(k) for k in audio_expect} <= got <= {str(k) for k in audio_allowed},
                "audio renditions %s, want all of %s and none outside %s"
                % (audios, list(audio_expect), list(audio_allowed)))
    for kind, names in (("video", videos), ("audio", audios)):
        for name in names:
            d = tv.rdir(kind, name)
            if not os.path.isdir(d):
                c.add("%s/%s is not a directory" % (kind, name))
                continue
            files = set(os.listdir(d))
            if "index.m3u8" not in files:
                c.add("%s/%s/index.m3u8 missing" % (kind, name))
            segs = sorted(files - {"index.m3u8"})
            n = len(segs)
            c.check(n > 0, "%s/%s has no segments" % (kind, name))
            want_names = {segment_name(i, n) for i in range(n)}
            c.check(set(segs) == want_names,
                    "%s/%s has unexpected names %s" % (kind, name, sorted(set(segs) - want_names)[:5]))
    c.raise_if_any()


def check_error_layout(tv):
    """A title that cannot be served: exactly source.EXT and a one-line ERROR."""
    expect(os.path.isdir(tv.path), "%s is not a directory in the mount" % tv.rel)
    have = tv.entries()
    want = {tv.source_name, "ERROR"}
    expect(have == want, "title dir has %s, want %s" % (sorted(have), sorted(want)))
    text = tv.error_text()
    body = text[:-1] if text.endswith("\n") else text
    expect(body.strip() != "", "ERROR is empty")
    expect("\n" not in body, "ERROR has %d lines: %r" % (body.count("\n") + 1, text[:200]))
    return body


def check_source_bytes(tv, c):
    p = os.path.join(tv.path, tv.source_name)
    try:
        _, data, _ = read_whole(p)
    except OSError as e:
        c.add("%s: %s" % (tv.source_name, e))
        return
    with open(tv.src, "rb") as f:
        want = f.read()
    c.check(data == want, "%s differs from the source (%d vs %d bytes)"
            % (tv.source_name, len(data), len(want)))


def check_title_attrs(tv):
    """Every entry of a title carries the source's mtime and owner; files
    have the source's permission bits, directories its read/write bits (the
    search bits of a directory have no counterpart in a file)."""
    src = os.stat(tv.src)
    c = Collector()
    entries = {"": os.lstat(tv.path)}
    for rel, st in walk(tv.path).items():
        entries[rel] = st
    for rel, st in sorted(entries.items()):
        label = rel or "(title dir)"
        if st.st_mtime_ns != src.st_mtime_ns:
            c.add("%s: mtime %d, source %d" % (label, st.st_mtime_ns, src.st_mtime_ns))
        if (st.st_uid, st.st_gid) != (src.st_uid, src.st_gid):
            c.add("%s: owner %d:%d, source %d:%d" % (label, st.st_uid, st.st_gid,
                                                     src.st_uid, src.st_gid))
        mode = stat.S_IMODE(st.st_mode)
        smode = stat.S_IMODE(src.st_mode)
        if stat.S_ISDIR(st.st_mode):
            if mode & 0o666 != smode & 0o666:
                c.add("%s: dir mode %o, source %o" % (label, mode, smode))
        elif stat.S_ISREG(st.st_mode):
            if mode != smode:
                c.add("%s: mode %o, source %o" % (label, mode, smode))
        else:
            c.add("%s: neither file nor directory (mode %o)" % (label, st.st_mode))
    expect(stat.S_ISDIR(entries[""].st_mode), "title is not a directory")
    c.raise_if_any()


def check_passthrough(mnt_root, src_root, rel):
    p, s = os.path.join(mnt_root, rel), os.path.join(src_root, rel)
    st, sst = os.lstat(p), os.lstat(s)
    c = Collector()
    c.check(stat.S_ISREG(st.st_mode), "not a regular file (mode %o)" % st.st_mode)
    c.check(st.st_mode == sst.st_mode, "mode %o, source %o" % (st.st_mode, sst.st_mode))
    c.check(st.st_size == sst.st_size, "size %d, source %d" % (st.st_size, sst.st_size))
    c.check(st.st_mtime_ns == sst.st_mtime_ns, "mtime %d, source %d" % (st.st_mtime_ns, sst.st_mtime_ns))
    c.check((st.st_uid, st.st_gid) == (sst.st_uid, sst.st_gid), "owner differs")
    data = verify_file(p, sst.st_size, c, rel)
    if data is not None:
        with open(s, "rb") as f:
            c.check(data == f.read(), "bytes differ from the source")
    c.raise_if_any()


def check_mirrored_dir(mnt_root, src_root, rel):
    p, s = os.path.join(mnt_root, rel), os.path.join(src_root, rel)
    st, sst = os.lstat(p), os.lstat(s)
    c = Collector()
    c.check(stat.S_ISDIR(st.st_mode), "%s is not a directory" % rel)
    c.check(st.st_mode == sst.st_mode, "%s: mode %o, source %o" % (rel, st.st_mode, sst.st_mode))
    c.check(st.st_mtime_ns == sst.st_mtime_ns,
            "%s: mtime %d, source %d" % (rel, st.st_mtime_ns, sst.st_mtime_ns))
    have, want = sorted(os.listdir(p)), sorted(os.listdir(s))
    c.check(have == want, "%s lists %s, source %s" % (rel, have, want))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Read-only

def check_erofs(mnt_root, src_root, title_rel, passthrough_rel, real_dir_rel):
    T = os.path.join(mnt_root, title_rel)
    P = os.path.join(mnt_root, passthrough_rel)
    D = os.path.join(mnt_root, real_dir_rel)
    src_name = "source." + ext_of(title_rel)
    V = [os.path.join(T, "master.m3u8"), os.path.join(T, src_name),
         os.path.join(T, "video", "original", "index.m3u8"),
         os.path.join(T, "video", "original", "00000.ts")]
    VD = os.path.join(T, "video")
    before = source_snapshot(src_root)

    def op_open(path, flags):
        def f():
            fd = os.open(path, flags, 0o644)
            os.close(fd)
        return f

    ops = []
    for path in [P] + V:
        short = os.path.relpath(path, mnt_root)
        ops += [
            ("open(O_WRONLY) " + short, op_open(path, os.O_WRONLY)),
            ("open(O_RDWR) " + short, op_open(path, os.O_RDWR)),
            ("open(O_WRONLY|O_TRUNC) " + short, op_open(path, os.O_WRONLY | os.O_TRUNC)),
            ("unlink " + short, lambda p=path: os.unlink(p)),
            ("chmod " + short, lambda p=path: os.chmod(p, 0o600)),
            ("chown " + short, lambda p=path: os.chown(p, 1, 1)),
            ("truncate " + short, lambda p=path: os.truncate(p, 0)),
            ("utime " + short, lambda p=path: os.utime(p, (1, 1))),
            ("rename " + short, lambda p=path: os.rename(p, p + ".renamed")),
            ("link " + short, lambda p=path: os.link(p, os.path.join(mnt_root, "hardlink.tmp"))),
        ]
    for d in (mnt_root, D, T, VD):
        short = os.path.relpath(d, mnt_root)
        ops += [
            ("creat in " + short, op_open(os.path.join(d, "new.file"), os.O_CREAT | os.O_WRONLY)),
            ("creat O_EXCL in " + short,
             op_open(os.path.join(d, "new2.mp4"), os.O_CREAT | os.O_EXCL | os.O_RDWR)),
            ("mkdir in " + short, lambda d=d: os.mkdir(os.path.join(d, "newdir"))),
            ("symlink in " + short, lambda d=d: os.symlink("target", os.path.join(d, "newlink"))),
            ("mkfifo in " + short, lambda d=d: os.mkfifo(os.path.join(d, "newfifo"))),
        ]
    for d in (D, T, VD):
        short = os.path.relpath(d, mnt_root)
        ops += [
            ("rmdir " + short, lambda d=d: os.rmdir(d)),
            ("chmod " + short, lambda d=d: os.chmod(d, 0o700)),
            ("utime " + short, lambda d=d: os.utime(d, (1, 1))),
            ("rename " + short, lambda d=d: os.rename(d, d + ".renamed")),
        ]
    c = Collector(limit=12)
    for label, fn in ops:
        try:
            fn()
        except OSError as e:
            if e.errno != errno.EROFS:
                c.add("%s: %s, want EROFS" % (label, errno.errorcode.get(e.errno, e.errno)))
        else:
            c.add("%s succeeded" % label)
    after = source_snapshot(src_root)
    if after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))[:3]
        c.add("the source tree changed: %s" % (changed,))
    c.raise_if_any()


def check_erofs_xattr(mnt_root, paths):
    c = Collector()
    for p in paths:
        try:
            os.setxattr(p, "user.hlsfs-test", b"1")
        except OSError as e:
            if e.errno != errno.EROFS:
                c.add("setxattr %s: %s, want EROFS" % (os.path.relpath(p, mnt_root),
                                                      errno.errorcode.get(e.errno, e.errno)))
        else:
            c.add("setxattr %s succeeded" % os.path.relpath(p, mnt_root))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Exact sizes

def check_title_sizes(tv, first_sizes, mnt_root, store):
    """Every file under the title: the size of the very first stat (taken
    before anything was read) == stat now == bytes read; offset reads agree.
    Records sha256 of each file in store."""
    c = Collector()
    files = {rel: st for rel, st in walk(tv.path).items() if stat.S_ISREG(st.st_mode)}
    expect(files, "no files under the title")
    for rel in sorted(files):
        full_rel = os.path.join(tv.rel, rel)
        first = first_sizes.get(full_rel)
        if first is None:
            c.add("%s was not listed by the first walk" % rel)
        data = verify_file(os.path.join(tv.path, rel), first, c, rel, ts=rel.endswith(".ts"))
        if data is not None:
            store[full_rel] = (len(data), sha256(data))
    c.raise_if_any()


def check_title_sizes_light(tv, first_sizes, mnt_root):
    """Without reading segments: every file under the title has the size of
    the very first stat; the playlists, master and source read back as
    many bytes as stat says."""
    c = Collector()
    files = {rel: st for rel, st in walk(tv.path).items() if stat.S_ISREG(st.st_mode)}
    expect(files, "no files under the title")
    for rel, st in sorted(files.items()):
        first = first_sizes.get(os.path.join(tv.rel, rel))
        if first is None:
            c.add("%s was not listed by the first walk" % rel)
        elif st.st_size != first:
            c.add("%s: stat size %d now, %d at first stat" % (rel, st.st_size, first))
        if not rel.endswith((".ts", ".jpg")):      # made files (sprites too) are not read
            verify_file(os.path.join(tv.path, rel), first, c, rel)
    c.raise_if_any()


def unservable_reason(path):
    """Why a source cannot be served as ffprobe sees it (no video stream,
    no decoder, no picture size), or None."""
    data = ffprobe_json(path, ["-select_streams", "v", "-show_entries",
                               "stream=codec_name,width,height:stream_disposition=attached_pic"])
    vids = [s for s in data.get("streams") or []
            if not (s.get("disposition") or {}).get("attached_pic")]
    if not vids:
        return "no video stream"
    v = vids[0]
    if not v.get("codec_name") or not decoder_exists(v["codec_name"]):
        return "no decoder for %s" % v.get("codec_name")
    if not v.get("width") or not v.get("height"):
        return "no picture size"
    return None


_DECODERS = {}


def decoder_exists(codec):
    if codec not in _DECODERS:
        r = run(["ffmpeg", "-hide_banner", "-v", "error", "-h", "decoder=" + codec])
        _DECODERS[codec] = r.returncode == 0 and "is not recognized" not in r.stdout + r.stderr
    return _DECODERS[codec]


def check_concurrent_reads(tv, kinds_names, readers=4):
    """Several readers at once, in different orders, of segments nobody has
    read yet: every reader gets the same bytes, as many as stat says."""
    import threading
    paths = []
    for kind, name in kinds_names:
        d = tv.rdir(kind, name)
        paths += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".ts")]
    expect(paths, "no segments to read")
    sizes = {p: os.stat(p).st_size for p in paths}
    got = [dict() for _ in range(readers)]
    errors = []

    def reader(k):
        order = paths[k % len(paths):] + paths[:k % len(paths)]
        if k % 2:
            order.reverse()
        try:
            for p in order:
                got[k][p] = read_whole(p)[1]
        except OSError as e:
            errors.append("%s: %s" % (os.path.relpath(p, tv.path), e))

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c = Collector()
    for e in errors:
        c.add(e)
    for p in paths:
        versions = {sha256(g[p]) for g in got if p in g}
        lens = {len(g[p]) for g in got if p in g}
        rel = os.path.relpath(p, tv.path)
        c.check(len(versions) <= 1, "%s: readers got %d different contents" % (rel, len(versions)))
        c.check(lens <= {sizes[p]}, "%s: read %s bytes, stat says %d" % (rel, sorted(lens), sizes[p]))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Playlists

def check_playlists(tv, sv, plan):
    """Every media playlist is a valid VOD playlist whose EXTINFs are the
    plan's durations (ms); all renditions share them; the rendition dirs
    hold exactly the listed segments."""
    tv.require_serving()
    c = Collector()
    want_ms = plan.durations_ms()
    last_tol = int(math.ceil(sv.tolerance * 1000)) + 1
    seen = {}
    for kind in ("video", "audio"):
        for name in tv.renditions(kind):
            label = "%s/%s" % (kind, name)
            try:
                pl = MediaPlaylist(tv.read_text(kind, name, "index.m3u8"))
            except CheckFailed as e:
                c.add("%s/index.m3u8: %s" % (label, e))
                continue
            except OSError as e:
                c.add("%s/index.m3u8: %s" % (label, e))
                continue
            got = pl.durations_ms()
            seen[label] = pl.extinf
            if len(got) != len(want_ms):
                c.add("%s: %d segments, plan has %d (EXTINF %s, plan %s)"
                      % (label, len(got), len(want_ms), got[:8], want_ms[:8]))
            else:
                for i, (g, w) in enumerate(zip(got, want_ms)):
                    tol = last_tol if i == len(want_ms) - 1 else 1
                    if abs(g - w) > tol:
                        c.add("%s: EXTINF[%d] = %d ms, plan says %d ms (cut %s..%s)"
                              % (label, i, g, w, fmt_s(plan.start(i)), fmt_s(plan.stop(i))))
                        break
            files = set(os.listdir(tv.rdir(kind, name)))
            want_files = {"index.m3u8"} | set(pl.uris)
            c.check(files == want_files, "%s: directory holds %s, playlist lists %d segments"
                    % (label, _short_list(sorted(files - {"index.m3u8"})), len(pl.uris)))
    if len(set(tuple(v) for v in seen.values())) > 1:
        c.add("renditions have different EXTINF lists: %s"
              % {k: v[:4] for k, v in seen.items()})
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Master playlist

def check_master(tv, sv, audio_src, fps_tolerance=0.002, ex=None, sps_of=None):
    """The multivariant playlist: one STREAM-INF per video rendition with
    the required attributes; RESOLUTION the picture size (the source's for
    original, the rung's otherwise); CODECS one avc1.PPCCLL equal to the
    SPS of the rendition's first segment (and, for original, the source's
    profile and level) plus mp4a.40.2 when there is audio; FRAME-RATE the
    source's; audio EXT-X-MEDIA entries with LANGUAGE, NAME, DEFAULT and
    CHANNELS="2". sps_of: the video renditions whose segment 0 is read to
    compare its SPS with CODECS (default all)."""
    tv.require_serving()
    c = Collector()
    m = MasterPlaylist(tv.read_text("master.m3u8"))
    videos = tv.renditions("video")
    audios = tv.renditions("audio")
    groups = set()
    uris = []
    for attrs, quoted, uri in m.variants:
        uris.append(uri)
        for a in ("BANDWIDTH", "AVERAGE-BANDWIDTH", "RESOLUTION", "FRAME-RATE", "CODECS"):
            c.check(a in attrs, "STREAM-INF %s lacks %s" % (uri, a))
        for a in ("CODECS", "AUDIO"):
            if a in attrs:
                c.check(a in quoted, "STREAM-INF %s: %s must be a quoted string" % (uri, a))
        for a in ("BANDWIDTH", "AVERAGE-BANDWIDTH", "RESOLUTION", "FRAME-RATE"):
            if a in attrs:
                c.check(a not in quoted, "STREAM-INF %s: %s must not be quoted" % (uri, a))
        try:
            bw, avg = int(attrs.get("BANDWIDTH", "0")), int(attrs.get("AVERAGE-BANDWIDTH", "0"))
            c.check(bw > 0 and 0 < avg <= bw, "%s: BANDWIDTH %d, AVERAGE-BANDWIDTH %d" % (uri, bw, avg))
        except ValueError:
            c.add("%s: bandwidths are not integers" % uri)
        mm = re.match(r"video/([^/]+)/index\.m3u8$", uri)
        if not mm:
            c.add("variant URI %r is not video/NAME/index.m3u8" % uri)
            continue
        name = mm.group(1)
        codecs = [x.strip() for x in attrs.get("CODECS", "").split(",")]
        avc = [x for x in codecs if x.startswith("avc1.")]
        if len(avc) != 1 or not re.fullmatch(r"avc1\.[0-9A-Fa-f]{6}", avc[0]):
            c.add("%s CODECS %r lacks one avc1.PPCCLL" % (name, attrs.get("CODECS")))
            avc = None
        if audios:
            # a copied AC-3 or E-AC-3 has a group of its own, its codec named
            want_audio = {"audio-ac3": r"ac-3", "audio-ec3": r"ec-3"}.get(
                attrs.get("AUDIO"), r"mp4a\.40\.\d+")
            c.check(any(re.fullmatch(want_audio, x) for x in codecs),
                    "CODECS %r lacks %s although there is audio (group %s)"
                    % (attrs.get("CODECS"), want_audio, attrs.get("AUDIO")))
        if name == "original":
            c.check(attrs.get("RESOLUTION") == "%dx%d" % (sv.width, sv.height),
                    "original RESOLUTION %s, source %dx%d" % (attrs.get("RESOLUTION"), sv.width, sv.height))
            parts = sv.codec_tag_parts()
            if avc and parts:
                pidc, lidc = int(avc[0][5:7], 16), int(avc[0][9:11], 16)
                c.check((pidc, lidc) == parts,
                        "CODECS %s says profile %d level %d, the stream has %d level %d"
                        % (avc[0], pidc, lidc, parts[0], parts[1]))
        elif ex is not None:
            if name not in ex.rungs:
                c.add("variant %s is not a rung the ladder allows (%s)" % (name, ex.rung_names))
            else:
                res = attrs.get("RESOLUTION", "")
                want = ex.rungs[name][0]
                c.check(res in {"%dx%d" % p for p in want},
                        "%s RESOLUTION %s, want %s for a %dx%d display"
                        % (name, res, " or ".join("%dx%d" % p for p in sorted(want)),
                           ex.display[0], ex.display[1]))
        if avc and (sps_of is None or name in sps_of):
            try:
                seg0 = os.path.join(tv.path, "video", name, segment_name(0, 1))
                _, data, _ = read_whole(seg0)
                aus = h264_access_units(TsFile(data)) or []
                sps = aus[0].avc1() if aus else None
                c.check(sps == avc[0].lower(), "%s CODECS %s, the SPS of segment 0 says %s"
                        % (name, avc[0], sps))
            except (OSError, TsError) as e:
                c.add("%s segment 0: %s" % (name, e))
        try:
            fr = float(attrs.get("FRAME-RATE", "0"))
            want = float(sv.fps())
            c.check(abs(fr - want) <= max(0.0015, want * fps_tolerance),
                    "%s FRAME-RATE %s, source %.3f" % (name, attrs.get("FRAME-RATE"), want))
        except ValueError:
            c.add("FRAME-RATE %r is not a number" % attrs.get("FRAME-RATE"))
        if audios:
            c.check("AUDIO" in attrs, "%s: AUDIO missing although there are audio renditions" % uri)
            groups.add(attrs.get("AUDIO"))
        else:
            c.check("AUDIO" not in attrs, "%s: AUDIO given but there is no audio rendition" % uri)
    # every video rendition once per audio group, but for the cellular
    # one (audio-32k): the smallest video rendition once, under 192 kbit/s
    cell = [(attrs, uri) for attrs, _, uri in m.variants if attrs.get("AUDIO") == "audio-32k"]
    full = groups - {"audio-32k"}
    c.check(sorted(u for attrs, _, u in m.variants if attrs.get("AUDIO") != "audio-32k") ==
            sorted(["video/%s/index.m3u8" % v for v in videos] * max(1, len(full))),
            "variants %s, video renditions %s, audio groups %s" % (uris, videos, sorted(groups)))
    if audios:
        plain = [(int(attrs.get("BANDWIDTH", "0")), uri) for attrs, _, uri in m.variants
                 if attrs.get("AUDIO") == "audio"]
        c.check(len(cell) == 1, "%d variants with the cellular audio, want 1" % len(cell))
        if cell and plain:
            c.check(cell[0][1] == min(plain)[1], "the cellular variant is %s, the smallest %s"
                    % (cell[0][1], min(plain)[1]))
            # ladder.c plans it under 192 kbit/s for 6 s segments; a title's
            # peak, over segments of other lengths, lands up to 10 % above
            # (193 to 208 kbit/s seen on the corpus); a title shorter than
            # a segment pays its tables and headers over less time
            bw = int(cell[0][0].get("BANDWIDTH", "0"))
            long_enough = sv.end - sv.origin >= 6
            c.check(0 < bw and (bw < 192000 * 11 // 10 or not long_enough),
                    "the cellular variant's BANDWIDTH is %d" % bw)
    media_uris = []
    names = []
    defaults = 0
    for attrs, quoted in m.media:
        if attrs.get("TYPE") == "SUBTITLES":
            continue            # checked by subs.py
        c.check(attrs.get("TYPE") == "AUDIO", "EXT-X-MEDIA TYPE=%s" % attrs.get("TYPE"))
        for a in ("GROUP-ID", "NAME", "URI", "CHANNELS", "LANGUAGE"):
            if a in attrs:
                c.check(a in quoted, "EXT-X-MEDIA %s must be a quoted string" % a)
        for a in ("GROUP-ID", "NAME", "DEFAULT", "CHANNELS", "URI"):
            c.check(a in attrs, "EXT-X-MEDIA lacks %s: %s" % (a, attrs))
        c.check(attrs.get("GROUP-ID") in groups, "EXT-X-MEDIA GROUP-ID %r is not a variant's AUDIO %s"
                % (attrs.get("GROUP-ID"), sorted(groups)))
        c.check(attrs.get("DEFAULT") in ("YES", "NO"), "DEFAULT=%r" % attrs.get("DEFAULT"))
        defaults += attrs.get("DEFAULT") == "YES"
        c.check(bool(attrs.get("NAME")), "empty NAME")
        names.append(attrs.get("NAME"))
        uri = attrs.get("URI", "")
        media_uris.append(uri)
        mm = re.match(r"audio/(\d+)(-\d+ch|-32k)?/index\.m3u8$", uri)
        if not mm:
            c.add("EXT-X-MEDIA URI %r is not audio/K/index.m3u8" % uri)
            continue
        k = int(mm.group(1))
        rend = str(k) + (mm.group(2) or "")
        if k >= len(audio_src):
            c.add("EXT-X-MEDIA URI %s: the source has %d audio streams" % (uri, len(audio_src)))
            continue
        lang = audio_src[k]["language"]
        got_lang = attrs.get("LANGUAGE")
        if lang and lang != "und":
            c.check(got_lang in (lang, ISO639_1.get(lang)),
                    "audio/%d LANGUAGE=%r, source language %r" % (k, got_lang, lang))
        else:
            c.check(got_lang in (None, "und"), "audio/%d LANGUAGE=%r but the source has none"
                    % (k, got_lang))
        try:
            streams = probe_segment_streams(os.path.join(tv.path, "audio", rend, segment_name(0, 1)))
            ch = [s.get("channels") for s in streams if s.get("codec_type") == "audio"]
            c.check(ch and str(ch[0]) == attrs.get("CHANNELS"),
                    "audio/%s CHANNELS=%r, segment 0 has %s channels" % (rend, attrs.get("CHANNELS"), ch))
            c.check(attrs.get("CHANNELS") == "2" or (mm.group(2) or "").endswith("ch"), "audio/%d CHANNELS=%r, want \"2\" (AAC stereo)"
                    % (k, attrs.get("CHANNELS")))
        except CheckFailed as e:
            c.add("audio/%d segment 0: %s" % (k, e))
    c.check(defaults <= 1 * max(1, len(groups)), "%d renditions have DEFAULT=YES" % defaults)
    c.check(len(set(names)) == len(names), "NAMEs are not unique: %s" % names)
    c.check(sorted(media_uris) == sorted("audio/%s/index.m3u8" % a for a in audios),
            "EXT-X-MEDIA URIs %s, audio renditions %s" % (media_uris, audios))
    c.raise_if_any()


def check_bandwidth(tv, seg_sizes_of):
    """BANDWIDTH >= the peak segment bit rate (RFC 8216 4.3.4.2: windows of
    contiguous segments lasting 0.5 to 1.5 target durations), audio
    included; AVERAGE-BANDWIDTH near the measured average. 5 % slack."""
    tv.require_serving()
    c = Collector()
    m = MasterPlaylist(tv.read_text("master.m3u8"))
    in_group = {}
    for a, _ in m.media:
        mg = re.match(r"audio/([^/]+)/index\.m3u8$", a.get("URI", ""))
        if mg:
            in_group.setdefault(a.get("GROUP-ID"), []).append(mg.group(1))
    for attrs, _, uri in m.variants:
        mm = re.match(r"video/([^/]+)/index\.m3u8$", uri)
        if not mm:
            continue
        audios = in_group.get(attrs.get("AUDIO"), [])
        pl = MediaPlaylist(tv.read_text("video", mm.group(1), "index.m3u8"))
        durs = [d / 1000.0 for d in pl.durations_ms()]
        bits = [8 * s for s in seg_sizes_of("video", mm.group(1), len(durs))]
        for a in audios:
            abits = [8 * s for s in seg_sizes_of("audio", a, len(durs))]
            if a == audios[0]:
                audio_bits = abits
            else:
                audio_bits = [max(x, y) for x, y in zip(audio_bits, abits)]
        if audios:
            bits = [v + a for v, a in zip(bits, audio_bits)]
        td = pl.target_duration or max(durs)
        peak = 0.0
        for i in range(len(durs)):
            total_d, total_b = 0.0, 0
            for j in range(i, len(durs)):
                total_d += durs[j]
                total_b += bits[j]
                if total_d > 1.5 * td:
                    break
                if total_d >= 0.5 * td and total_d > 0:
                    peak = max(peak, total_b / total_d)
        avg = sum(bits) / sum(durs) if sum(durs) else 0
        bw, abw = int(attrs.get("BANDWIDTH", 0)), int(attrs.get("AVERAGE-BANDWIDTH", 0))
        if peak:
            c.check(bw >= 0.95 * peak, "%s: BANDWIDTH %d < peak segment bit rate %.0f"
                    % (uri, bw, peak))
        c.check(abs(abw - avg) <= 0.05 * avg + 1000, "%s: AVERAGE-BANDWIDTH %d, measured %.0f"
                % (uri, abw, avg))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# What a title must offer

class TitleExpect:
    """What a title must serve, computed from the source alone and the
    mount's options: its plan, video renditions (original only for H.264
    without rotation; the rungs the ladder allows for the displayed size),
    audio renditions (every audio stream that has packets) and the audio
    sample grid."""

    def __init__(self, sv, audio_src, segment_time, ladder, high_profile):
        self.sv = sv
        self.plan = sv.plan(segment_time)
        self.display = sv.display_size()
        self.original = sv.codec == "h264" and sv.quarter_turns == 0
        rungs = expected_rungs(ladder, *self.display, rate=sv.bit_rate, codec=sv.codec,
                               original=self.original, fps=float(sv.fps()))
        self.rungs = {name: (pics, rate) for name, pics, rate in rungs}
        self.rung_names = [name for name, _, _ in rungs]
        self.videos = (["original"] if self.original else []) + self.rung_names
        self.audio = [a for a in audio_src if a.get("start") is not None]
        self.audios = [str(a["ordinal"]) for a in self.audio]
        # multichannel renditions: {name: the source stream}
        self.multi = {multichannel_name(a, sv.path): a for a in self.audio
                      if multichannel_name(a, sv.path)}
        self.audios += sorted(self.multi)
        # every track again at 32 kbit/s for the cellular variant
        self.audios += ["%d-32k" % a["ordinal"] for a in self.audio]
        self.grid = audio_grid(self.plan, sv.end)
        self.alt_end = audio_grid(self.plan, sv.end_by_mean_step)[-1]
        self.high_profile = high_profile

    def audio_src(self, name):
        if name.endswith("-32k"):
            name = name[:-4]
        for a in self.audio:
            if str(a["ordinal"]) == name:
                return a
        return None


def master_codecs(tv):
    """{video rendition name: its avc1.PPCCLL from the master's CODECS}."""
    m = MasterPlaylist(tv.read_text("master.m3u8"))
    out = {}
    for attrs, _, uri in m.variants:
        mm = re.match(r"video/([^/]+)/index\.m3u8$", uri)
        if mm:
            avc = [x.strip() for x in attrs.get("CODECS", "").split(",")
                   if x.strip().startswith("avc1.")]
            out[mm.group(1)] = avc[0].lower() if len(avc) == 1 else None
    return out


# ---------------------------------------------------------------------------
# Segments

def segment_indexes(count, indexes):
    """Valid segment indexes from a list that may hold negative ones."""
    if indexes is None:
        return list(range(count))
    out = set()
    for i in indexes:
        j = i if i >= 0 else count + i
        if 0 <= j < count:
            out.add(j)
    return sorted(out)


def check_segments(tv, kind, name, ex, indexes=None, tolerated=(), record=None):
    """Per-segment checks of one rendition against the independently
    computed plan. indexes: which segments (default all; negative counts
    from the end). record: {segment: first PTS (90 kHz)} filled for the
    alignment check (the keyframe for video, the first frame for audio)."""
    tv.require_serving()
    rdir = tv.rdir(kind, name)
    expect(os.path.isdir(rdir), "%s/%s missing" % (kind, name))
    text = tv.read_text(kind, name, "index.m3u8")
    extinf = tolerant_extinf(text)
    plan = ex.plan
    n = len(plan)
    c = Collector()
    if len(extinf) != n:
        c.add("playlist has %d segments, plan %d" % (len(extinf), n))
    count = min(n, len(extinf)) if extinf else n
    tolerated = set(tolerated)
    codecs = None
    if kind == "video" and name != "original":
        expect(name in ex.rungs, "video/%s is not a rung the ladder allows (%s)"
               % (name, ex.rung_names))
        codecs = master_codecs(tv).get(name)
        c.check(codecs, "master.m3u8 gives no single avc1 CODECS for video/%s" % name)
    if kind == "audio" and name in ex.multi:
        _check_multichannel_segments(c, tv, name, ex.multi[name], extinf, n)
        c.raise_if_any()
        return
    if kind == "audio":
        expect(ex.audio_src(name) is not None, "audio/%s: the source has no such audio stream"
               % name)
    for i in segment_indexes(count, indexes):
        label = "%s/%s/%s" % (kind, name, segment_name(i, len(extinf) or n))
        path = os.path.join(rdir, segment_name(i, len(extinf) or n))
        data = verify_file(path, None, c, label, ts=True)
        if data is None:
            continue
        try:
            ts = TsFile(data)
        except TsError as e:
            c.add("%s: %s" % (label, e))
            continue
        foreign = ts.foreign_pids()
        c.check(not foreign, "%s: packets of PIDs %s that are neither tables, the program's "
                "streams nor null padding (0x1FFF)" % (label, ["0x%x" % p for p in foreign[:4]]))
        try:
            seg = Segment(path, decode_video=(kind == "video"))
        except CheckFailed as e:
            c.add("%s: %s" % (label, e))
            continue
        noise = [l for l in seg.stderr if normalize_log_line(l) not in tolerated]
        if noise:
            c.add("%s: ffprobe reports %s" % (label, noise[:2]))
        want_type = "video" if kind == "video" else "audio"
        types = [(s.get("codec_type"), s.get("codec_name")) for s in seg.streams]
        if not c.check(len(types) == 1 and types[0][0] == want_type,
                       "%s: streams %s, want one %s stream" % (label, types, want_type)):
            continue
        if kind == "video":
            c.check(types[0][1] == "h264", "%s: codec %s" % (label, types[0][1]))
            if name == "original":
                _check_original_segment(c, label, seg, ex, i, extinf, tv.rel, record)
            else:
                _check_rung_segment(c, label, ts, seg, ex, name, i, extinf, codecs, record,
                                    damaged=bool(tolerated), title=tv.rel)
        else:
            c.check(types[0][1] == "aac", "%s: codec %s" % (label, types[0][1]))
            _check_audio_segment(c, label, ts, seg, ex, i, last=(i == n - 1), record=record)
    c.raise_if_any()


def _check_multichannel_segments(c, tv, name, src, extinf, n):
    """A multichannel rendition: every segment reads its stat size, is
    MPEG-TS of one audio stream with the source track's channels (copied
    AC-3, E-AC-3, AAC) or six (AAC 5.1), and decodes."""
    copied = multichannel_copied(src, tv.src)
    for i in range(min(n, len(extinf)) if extinf else n):
        seg_name = segment_name(i, len(extinf) or n)
        label = "audio/%s/%s" % (name, seg_name)
        path = os.path.join(tv.rdir("audio", name), seg_name)
        data = verify_file(path, None, c, label, ts=True)
        if data is None:
            continue
        try:
            TsFile(data)
            seg = Segment(path, decode_video=False)
        except (TsError, CheckFailed) as e:
            c.add("%s: %s" % (label, e))
            continue
        types = [(st.get("codec_type"), st.get("codec_name"), st.get("channels"))
                 for st in seg.streams]
        want = (src.get("codec") if copied else "aac",
                src.get("channels") if copied else 6)
        c.check(len(types) == 1 and types[0][0] == "audio" and types[0][1:] == want,
                "%s: streams %s, want one audio stream %s" % (label, types, want))
        c.check(not seg.stderr, "%s: ffprobe reports %s" % (label, seg.stderr[:2]))


def _check_original_segment(c, label, seg, ex, i, extinf, title, record):
    """The copied H.264 stream: opens with the plan's keyframe; frames are
    exactly the source's (keyframe up to the next cut, decode order) at
    their timestamps + 1.4 s; lasts EXTINF."""
    sv, plan = ex.sv, ex.plan
    tol = sv.tolerance + Fraction(2, TS_CLOCK)
    pk = [p for p in seg.packets if p.get("pts") is not None]
    if not pk:
        c.add("%s: no video packets" % label)
        return
    c.check("K" in (seg.packets[0].get("flags") or ""),
            "%s: first packet (decode order) is not a keyframe" % label)
    frames = [f for f in seg.frames if f.get("media_type") == "video"]
    if not frames:
        c.add("%s: no frame decodes" % label)
    else:
        c.check(int(frames[0].get("key_frame") or 0) == 1,
                "%s: first decoded frame is not a keyframe (pict_type %s)"
                % (label, frames[0].get("pict_type")))
    st = seg.streams[0]
    c.check((st.get("width"), st.get("height")) == (sv.width, sv.height),
            "%s: %sx%s, the source is %dx%d" % (label, st.get("width"), st.get("height"),
                                                sv.width, sv.height))
    pts = sorted(int(p["pts"]) for p in pk)
    key = int(pk[0]["pts"])
    if record is not None:
        record[i] = key
    last = pts[-1]
    leading = [p for p in pts if ts_diff(p, key) < 0]
    if leading:
        note("%s/%s: %d pictures presented before the segment's keyframe (leading pictures "
             "of an open GOP in the source)" % (title, label, len(leading)))
    want_key = to_ts_ticks(plan.start(i)) + OFFSET_TICKS
    d = Fraction(ts_diff(key, want_key), TS_CLOCK)
    c.check(abs(d) <= tol, "%s: keyframe pts %s s - 1.4 = %s s, plan boundary %s s (off by %s ms)"
            % (label, fmt_s(Fraction(key, TS_CLOCK)), fmt_s(Fraction(key, TS_CLOCK) - MPEGTS_OFFSET),
               fmt_s(plan.start(i)), fmt_s(d * 1000)))
    if i < len(extinf):
        dur = Fraction(ts_diff(last, key), TS_CLOCK) + sv.frame_dur
        want = Fraction(extinf[i], 1000)
        c.check(abs(dur - want) <= tol + Fraction(1, 1000),
                "%s: lasts %s s (last pts + 1 frame - keyframe pts), EXTINF %s s"
                % (label, fmt_s(dur), fmt_s(want)))
    src = sv.group_pts(plan.start(i), plan.cuts[i + 1] if i + 1 < len(plan) else None)
    if src is None:
        c.add("%s: the plan boundary %s s is not a source keyframe" % (label, fmt_s(plan.start(i))))
        return
    want_ticks = sorted(to_ts_ticks(s) + OFFSET_TICKS for s in src)
    if len(want_ticks) != len(pts):
        c.add("%s: %d frames, the source has %d from the keyframe at %s s to the next cut"
              % (label, len(pts), len(want_ticks), fmt_s(plan.start(i))))
    else:
        worst = max((abs(ts_diff(a, b)) for a, b in zip(pts, want_ticks)), default=0)
        c.check(worst <= 1, "%s: frame timestamps differ from source PTS + 1.4 s by up to %d ticks"
                % (label, worst))


def profile_idc_of(name):
    return H264_PROFILE_IDC.get((name or "").lower())


def _check_rung_segment(c, label, ts, seg, ex, name, i, extinf, codecs, record,
                        damaged=False, title=""):
    """A transcoded segment: one IDR at the plan boundary and no other
    keyframe; exactly the source frames presented in [b_i, b_i+1) at their
    timestamps + 1.4 s; the rung's picture size; 8-bit 4:2:0; the SPS's
    profile and level are what CODECS says (and ffprobe agrees).

    damaged: the source's own decode reports errors (a broadcast capture
    that starts or breaks mid-stream). Pictures that reference what a fresh
    decoder from the segment's keyframe never saw may then be missing:
    the segment's frames must be a subset of the source's, with the IDR
    at the boundary, and EXTINF is not compared."""
    sv, plan = ex.sv, ex.plan
    aus = h264_access_units(ts)
    if aus is None:
        c.add("%s: the PMT lists streams %s, want one H.264 stream"
              % (label, {"0x%x" % p: t for p, t in ts.streams.items()}))
        return
    if not aus:
        c.add("%s: no access units" % label)
        return
    first = aus[0]
    if record is not None and first.pts is not None:
        record[i] = first.pts
    c.check(first.idr, "%s: the first access unit is not an IDR picture (NAL types %s)"
            % (label, first.types[:8]))
    more = [k for k, au in enumerate(aus) if k and au.idr]
    c.check(not more, "%s: %d more IDR pictures inside the segment (access units %s)"
            % (label, len(more), more[:5]))
    frames = [f for f in seg.frames if f.get("media_type") == "video"]
    keys = [k for k, f in enumerate(frames) if int(f.get("key_frame") or 0) == 1]
    c.check(len(frames) == len(aus), "%s: %d access units, %d decoded frames"
            % (label, len(aus), len(frames)))
    c.check(keys == [0], "%s: key frames at decoded frames %s, want only the first" % (label, keys[:6]))
    pics = [f.get("pict_type") for f in frames]
    c.check(pics[:1] == ["I"], "%s: first picture type %s" % (label, pics[:1]))
    # timestamps: the IDR at the boundary, then exactly the source's frames
    tol = sv.tolerance + Fraction(2, TS_CLOCK)
    want_key = to_ts_ticks(plan.start(i)) + OFFSET_TICKS
    if first.pts is None:
        c.add("%s: the IDR access unit has no PTS" % label)
        return
    d = Fraction(ts_diff(first.pts, want_key), TS_CLOCK)
    c.check(abs(d) <= tol, "%s: IDR pts - 1.4 = %s s, plan boundary %s s (off by %s ms)"
            % (label, fmt_s(Fraction(first.pts, TS_CLOCK) - MPEGTS_OFFSET), fmt_s(plan.start(i)),
               fmt_s(d * 1000)))
    got = sorted(au.pts for au in aus if au.pts is not None)
    c.check(got and got[0] == first.pts, "%s: a picture is presented before the IDR" % label)
    stop = plan.cuts[i + 1] if i + 1 < len(plan) else None
    want = [to_ts_ticks(t) + OFFSET_TICKS for t in sv.frames_from(plan.start(i), stop)]
    if damaged and len(got) < len(want):
        wset = set(want)
        stray = [g for g in got if not ({g - 1, g, g + 1} & wset)]
        c.check(not stray, "%s: %d frames at times the source has no picture (first %s s)"
                % (label, len(stray), stray and fmt_s(Fraction(stray[0], TS_CLOCK))))
        note("%s/%s: %d of the source's %d pictures in [%s, %s) s (the source decodes with "
             "errors)" % (title, label, len(got), len(want), fmt_s(plan.start(i)),
                          fmt_s(stop) if stop is not None else "end"))
    elif len(got) != len(want):
        c.add("%s: %d frames, the source has %d presented in [%s, %s) s"
              % (label, len(got), len(want), fmt_s(plan.start(i)),
                 fmt_s(stop) if stop is not None else "end"))
    else:
        worst = max((abs(ts_diff(a, b)) for a, b in zip(got, want)), default=0)
        c.check(worst <= 1, "%s: frame timestamps differ from source PTS + 1.4 s by up to %d ticks"
                % (label, worst))
    if i < len(extinf) and got and not (damaged and len(got) < len(want)):
        dur = Fraction(ts_diff(got[-1], first.pts), TS_CLOCK) + sv.frame_dur
        w = Fraction(extinf[i], 1000)
        c.check(abs(dur - w) <= tol + Fraction(1, 1000),
                "%s: lasts %s s (last pts + 1 frame - IDR pts), EXTINF %s s"
                % (label, fmt_s(dur), fmt_s(w)))
    # picture
    st = seg.streams[0]
    size = (st.get("width"), st.get("height"))
    pics_ok = ex.rungs[name][0]
    c.check(size in pics_ok, "%s: %sx%s, rung %s of a %dx%d display wants %s"
            % (label, size[0], size[1], name, ex.display[0], ex.display[1],
               " or ".join("%dx%d" % p for p in sorted(pics_ok))))
    c.check(st.get("pix_fmt") == "yuv420p", "%s: pix_fmt %s, want yuv420p (8-bit 4:2:0)"
            % (label, st.get("pix_fmt")))
    # profile and level: SPS == CODECS == ffprobe
    avc1 = first.avc1()
    if avc1 is None:
        c.add("%s: no SPS in the IDR access unit" % label)
        return
    if codecs:
        c.check(avc1 == codecs, "%s: the SPS says %s, master.m3u8 CODECS %s" % (label, avc1, codecs))
    pidc, lidc = int(avc1[5:7], 16), int(avc1[9:11], 16)
    fp = profile_idc_of(st.get("profile"))
    c.check(fp == pidc, "%s: ffprobe profile %r, the SPS profile_idc %d" % (label, st.get("profile"), pidc))
    c.check(st.get("level") == lidc, "%s: ffprobe level %s, the SPS level_idc %d"
            % (label, st.get("level"), lidc))
    if ex.high_profile:
        c.check(pidc == 100, "%s: profile_idc %d, want High (100) with the default preset"
                % (label, pidc))
    lim = H264_LEVELS.get(lidc)
    if lim is None:
        c.add("%s: level_idc %d is not an H.264 level" % (label, lidc))
    elif size[0] and size[1]:
        mbs = -(-size[0] // 16) * -(-size[1] // 16)
        c.check(mbs <= lim[1], "%s: %dx%d is %d macroblocks, more than level %d.%d allows (%d)"
                % (label, size[0], size[1], mbs, lidc // 10, lidc % 10, lim[1]))
        fps = float(sv.fps())
        if mbs * fps > lim[0] * 1.001:
            note("%s/%s: %dx%d at %.2f fps is %.0f macroblocks/s, more than level %d.%d allows "
                 "(%d)" % (title, label, size[0], size[1], fps, mbs * fps, lidc // 10, lidc % 10,
                           lim[0]))


def _check_audio_segment(c, label, ts, seg, ex, i, last, record):
    """AAC-LC stereo 48 kHz on the grid: starts at grid[i] (+1.4 s), whole
    1024-sample frames without gaps up to grid[i+1]."""
    pid = ts.pid_of(STREAM_TYPE_ADTS_AAC)
    c.check(pid is not None and len(ts.streams) == 1,
            "%s: the PMT lists streams %s, want one ADTS AAC stream"
            % (label, {"0x%x" % p: t for p, t in ts.streams.items()}))
    st = seg.streams[0]
    c.check(int(st.get("sample_rate") or 0) == AUDIO_RATE and st.get("channels") == 2
            and st.get("profile") == "LC",
            "%s: %s %s Hz %s channels, want AAC LC 48000 Hz stereo"
            % (label, st.get("profile"), st.get("sample_rate"), st.get("channels")))
    pk = [int(p["pts"]) for p in seg.packets if p.get("pts") is not None]
    if not pk:
        c.add("%s: no audio packets" % label)
        return
    if record is not None:
        record[i] = pk[0]
    start, stop = ex.grid[i], ex.grid[i + 1]
    want_first = to_ts_ticks(Fraction(start, AUDIO_RATE)) + OFFSET_TICKS
    c.check(abs(ts_diff(pk[0], want_first)) <= 1,
            "%s: first audio pts - 1.4 = %s s (sample %s), want sample %d of the grid (%s s)"
            % (label, fmt_s(Fraction(pk[0], TS_CLOCK) - MPEGTS_OFFSET),
               fmt_s((Fraction(pk[0], TS_CLOCK) - MPEGTS_OFFSET) * AUDIO_RATE), start,
               fmt_s(Fraction(start, AUDIO_RATE))))
    step = to_ts_ticks(Fraction(AAC_FRAME, AUDIO_RATE))
    gaps = [k for k in range(1, len(pk)) if abs(ts_diff(pk[k], pk[k - 1]) - step) > 1]
    c.check(not gaps, "%s: packets %s are not 1024 samples after the previous one"
            % (label, gaps[:4]))
    got_end = start + AAC_FRAME * len(pk)
    if not last:
        c.check(got_end == stop, "%s: %d frames end at sample %d, the next segment starts at %d"
                % (label, len(pk), got_end, stop))
    else:
        ok = any(abs(got_end - e) <= AAC_FRAME for e in (stop, ex.alt_end))
        c.check(ok, "%s: the audio ends at sample %d (%s s), the video at %s s (grid %d)"
                % (label, got_end, fmt_s(Fraction(got_end, AUDIO_RATE)), fmt_s(ex.sv.end), stop))


def check_alignment(records, label_of=str):
    """Segment N starts at the same PTS in every video rendition; each
    audio rendition's segment N starts within one AAC frame of it.
    records: {(kind, name): {segment: first pts}}."""
    c = Collector()
    videos = {k: v for k, v in records.items() if k[0] == "video" and v}
    audios = {k: v for k, v in records.items() if k[0] == "audio" and v}
    expect(videos, "no video segment was recorded")
    aacf = to_ts_ticks(Fraction(AAC_FRAME, AUDIO_RATE))
    segs = sorted(set().union(*[set(v) for v in videos.values()]))
    compared = 0
    for i in segs:
        have = {k: v[i] for k, v in videos.items() if i in v}
        ref_k = sorted(have)[0]
        ref = have[ref_k]
        for k, p in sorted(have.items()):
            if abs(ts_diff(p, ref)) > 1:
                c.add("segment %d starts at %s s in %s/%s, %s s in %s/%s"
                      % (i, fmt_s(Fraction(p, TS_CLOCK)), k[0], k[1],
                         fmt_s(Fraction(ref, TS_CLOCK)), ref_k[0], ref_k[1]))
        for k, v in sorted(audios.items()):
            if i in v:
                compared += 1
                if abs(ts_diff(v[i], ref)) > aacf + 1:
                    c.add("segment %d: audio/%s starts at %s s, the video at %s s (more than "
                          "one AAC frame apart)" % (i, k[1], fmt_s(Fraction(v[i], TS_CLOCK)),
                                                    fmt_s(Fraction(ref, TS_CLOCK))))
    c.check(len(videos) >= 2 or audios, "only one rendition was recorded: nothing to align")
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Full decode through the HLS demuxer

def source_decode(sv, crc):
    """Decode the source; returns (frames (pts, crc) that belong to the
    title, the normalized stderr lines of that decode).

    Pictures decoded from packets before the first keyframe (in decode
    order) belong to no segment and are left out."""
    dec = Decode(sv.path, crc=crc)
    if dec.returncode != 0:
        fail("ffmpeg cannot decode the source: %s" % dec.stderr[-3:])
    pre = sv.pre_origin_pts
    if dec.tb != sv.tb:
        fail("ffmpeg reports time base %s for the source, ffprobe %s" % (dec.tb, sv.tb))
    frames = [f for f in dec.frames if f[0] not in pre]
    return frames, {normalize_log_line(l) for l in dec.stderr}


def check_decode(tv, sv, src_frames, tolerated, crc, rendition=None):
    """ffmpeg decodes a playlist's first video stream with exit status 0,
    nothing on stderr, and the frames it must hold, at the source's
    timestamps + 1.4 s.

    rendition None: master.m3u8, as a player opens it (its first variant);
    "original": the copied stream, every source frame from the first
    keyframe on and (crc=True) the same pictures; a rung: the source frames
    presented from the first keyframe on (pictures are re-encoded, so only
    counted and timed).

    Error lines that decoding the source itself prints (damage in the source
    bitstream, which the original rendition copies faithfully) are
    tolerated; the generated fixtures decode without any, so for them any
    stderr output fails the check."""
    tv.require_serving()
    if rendition is None:
        m = MasterPlaylist(tv.read_text("master.m3u8"))
        expect(m.variants, "master.m3u8 has no variant")
        mm = re.match(r"video/([^/]+)/index\.m3u8$", m.variants[0][2])
        expect(mm, "first variant URI %r" % m.variants[0][2])
        first = mm.group(1)
        path = os.path.join(tv.path, "master.m3u8")
    else:
        first = rendition
        path = os.path.join(tv.path, "video", rendition, "index.m3u8")
    original = first == "original"
    if not original:
        origin_ticks = sv.key_pts[0]
        src_frames = [f for f in src_frames if f[0] >= origin_ticks]
    use_crc = crc and original
    dec = Decode(path, crc=use_crc)
    c = Collector()
    c.check(dec.returncode == 0, "ffmpeg exit status %d" % dec.returncode)
    noise = [l for l in dec.stderr if normalize_log_line(l) not in tolerated]
    c.check(not noise, "ffmpeg stderr: %s" % noise[:3])
    c.check(len(dec.frames) == len(src_frames),
            "decoded %d frames through %s (video/%s), %d from the source (%s)"
            % (len(dec.frames), os.path.basename(path), first, len(src_frames),
               "from its first keyframe on" if original else "presented from the first keyframe on"))
    if dec.tb is None:
        c.add("no time base in ffmpeg's framecrc output")
    if not c and dec.frames:
        got = sorted(dec.frames)
        want = sorted(src_frames, key=lambda f: f[0])
        for (gp, gcrc), (wp, wcrc) in zip(got, want):
            g_s = Fraction(gp) * dec.tb - MPEGTS_OFFSET
            w_s = Fraction(wp) * sv.tb
            if abs(g_s - w_s) > Fraction(2, TS_CLOCK):
                c.add("frame at %s s through HLS (- 1.4) vs %s s in the source"
                      % (fmt_s(g_s), fmt_s(w_s)))
                break
            # Pictures concealed after decode errors depend on what was
            # decoded before them, so CRCs are compared for clean sources only.
            if use_crc and not tolerated and gcrc != wcrc:
                c.add("picture at %s s decodes differently through HLS" % fmt_s(w_s))
                break
    c.raise_if_any()


def _gray_frame(args, w, h, timeout=120):
    r = run_bytes(["ffmpeg", "-nostdin", "-v", "error"] + args +
                  ["-frames:v", "1", "-vf", "scale=%d:%d" % (w, h), "-pix_fmt", "gray",
                   "-f", "rawvideo", "-"], timeout=timeout)
    if r.returncode != 0 or len(r.stdout) != w * h:
        fail("ffmpeg %s: %d bytes, want %d; %s" % (" ".join(args), len(r.stdout), w * h,
                                                   r.stderr.decode("utf-8", "replace")[-300:]))
    return r.stdout


def psnr(a, b):
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    if se == 0:
        return 99.0
    return 10 * math.log10(255.0 * 255.0 * len(a) / se)


def check_picture(tv, sv, name):
    """The first picture of the rung is the source's first picture as
    displayed (sample aspect ratio and rotation applied), scaled: it is
    much closer to that than to the same picture turned upside down, and,
    for a quarter-turn source, than to the unrotated picture squeezed into
    the rung's size."""
    seg0 = os.path.join(tv.rdir("video", name), segment_name(0, 1))
    st = ffprobe_json(seg0, ["-select_streams", "v:0", "-show_entries", "stream=width,height"])
    st = st.get("streams") or []
    expect(st and st[0].get("width"), "segment 0 has no picture size")
    w, h = int(st[0]["width"]), int(st[0]["height"])
    got = _gray_frame(["-i", seg0], w, h)
    shown = _gray_frame(["-i", sv.path], w, h)            # autorotated, as players show it
    wrong = {"upside down": shown[::-1]}
    if sv.quarter_turns in (90, 270):
        wrong["unrotated"] = _gray_frame(["-noautorotate", "-i", sv.path], w, h)
    good = psnr(got, shown)
    c = Collector()
    c.check(good >= 25, "PSNR %.1f dB against the source's first picture as displayed" % good)
    for what, pic in wrong.items():
        bad = psnr(got, pic)
        c.check(good >= bad + 6, "PSNR %.1f dB against the displayed source, %.1f dB against "
                "it %s" % (good, bad, what))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Logs

def log_mentions(log_text, phrase, rel, abs_path=None):
    """Lines of the log containing phrase and naming rel as a path."""
    pat = re.compile(r"(?<![\w./-])/?" + re.escape(rel) + r"(?![\w./-])")
    out = []
    for line in log_text.splitlines():
        if phrase in line and (pat.search(line) or (abs_path and abs_path in line)):
            out.append(line)
    return out


MADE_RE = re.compile(r"^hlsfs: info: (?P<path>/.*): (?P<how>encoded|copied) "
                     r"(?P<kind>video|audio)/(?P<name>[^/ ]+) segment (?P<seg>\d+) "
                     r"made in (?P<ms>\d+) ms \((?P<speed>[0-9.]+)x realtime, "
                     r"(?P<padding>[0-9.]+)% padding\)$")


def made_lines(log_text, src_path=None):
    """The "made in" lines of a log: dicts with path, how, kind, name, seg
    (int), ms; only those naming src_path (absolute) if given."""
    out = []
    for line in log_text.splitlines():
        m = MADE_RE.match(line.strip())
        if m and (src_path is None or m.group("path") == src_path):
            d = m.groupdict()
            d["seg"] = int(d["seg"])
            d["ms"] = int(d["ms"])
            out.append(d)
    return out


def made_lines_loose(log_text):
    """Lines that say "made in" at all (to catch a format drift)."""
    return [l for l in log_text.splitlines() if " made in " in l]
