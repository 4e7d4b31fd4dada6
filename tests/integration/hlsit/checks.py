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
from .media import (AAC_FRAME, MPEGTS_OFFSET, TS_CLOCK, Decode, Segment, fmt_s,
                    normalize_log_line, probe_segment_streams, round_ms)

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

def check_serving_layout(tv, audio_expect, audio_allowed=None, require_original=True):
    """A served title: exactly master, source, video (+ audio); video/NAME and
    audio/K hold index.m3u8 and contiguous NNNNN.ts."""
    tv.require_serving()
    c = Collector()
    want = {"master.m3u8", tv.source_name, "video"}
    if audio_expect or audio_allowed:
        want.add("audio")
    have = tv.entries()
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
    if require_original:
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

def check_master(tv, sv, audio_src, fps_tolerance=0.002):
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
        if name == "original":
            c.check(attrs.get("RESOLUTION") == "%dx%d" % (sv.width, sv.height),
                    "original RESOLUTION %s, source %dx%d" % (attrs.get("RESOLUTION"), sv.width, sv.height))
            codecs = [x.strip() for x in attrs.get("CODECS", "").split(",")]
            avc = [x for x in codecs if x.startswith("avc1.")]
            parts = sv.codec_tag_parts()
            if len(avc) != 1 or not re.fullmatch(r"avc1\.[0-9A-Fa-f]{6}", avc[0]):
                c.add("original CODECS %r lacks one avc1.PPCCLL" % attrs.get("CODECS"))
            elif parts:
                pidc, lidc = int(avc[0][5:7], 16), int(avc[0][9:11], 16)
                c.check((pidc, lidc) == parts,
                        "CODECS %s says profile %d level %d, the stream has %d level %d"
                        % (avc[0], pidc, lidc, parts[0], parts[1]))
            if audios:
                c.check(any(re.fullmatch(r"mp4a\.40\.\d+", x) for x in codecs),
                        "CODECS %r lacks mp4a.40.x although there is audio" % attrs.get("CODECS"))
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
    c.check(sorted(uris) == sorted("video/%s/index.m3u8" % v for v in videos),
            "variants %s, video renditions %s" % (uris, videos))
    media_uris = []
    names = []
    defaults = 0
    for attrs, quoted in m.media:
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
        mm = re.match(r"audio/(\d+)/index\.m3u8$", uri)
        if not mm:
            c.add("EXT-X-MEDIA URI %r is not audio/K/index.m3u8" % uri)
            continue
        k = int(mm.group(1))
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
            streams = probe_segment_streams(os.path.join(tv.path, "audio", str(k), segment_name(0, 1)))
            ch = [s.get("channels") for s in streams if s.get("codec_type") == "audio"]
            c.check(ch and str(ch[0]) == attrs.get("CHANNELS"),
                    "audio/%d CHANNELS=%r, segment 0 has %s channels" % (k, attrs.get("CHANNELS"), ch))
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
    audios = tv.renditions("audio")
    for attrs, _, uri in m.variants:
        mm = re.match(r"video/([^/]+)/index\.m3u8$", uri)
        if not mm:
            continue
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
# Segments

def check_segments(tv, kind, name, sv, plan, audio_src=None, sample=False,
                   tolerated=(), strict_pts=None):
    """Per-segment checks of one rendition against the independently
    computed plan (see module docstring of media.py for exactness)."""
    tv.require_serving()
    rdir = tv.rdir(kind, name)
    expect(os.path.isdir(rdir), "%s/%s missing" % (kind, name))
    text = tv.read_text(kind, name, "index.m3u8")
    extinf = tolerant_extinf(text)
    n = len(plan)
    c = Collector()
    if len(extinf) != n:
        c.add("playlist has %d segments, plan %d" % (len(extinf), n))
    count = min(n, len(extinf)) if extinf else n
    indexes = list(range(count))
    if sample and count > 4:
        indexes = [0, 1, 2, count - 1]
    tol = sv.tolerance + Fraction(2, TS_CLOCK)
    tolerated = set(tolerated)
    if strict_pts is None:
        strict_pts = (kind == "video" and name == "original")
    for i in indexes:
        label = "%s/%s/%s" % (kind, name, segment_name(i, len(extinf) or n))
        path = os.path.join(rdir, segment_name(i, len(extinf) or n))
        data = verify_file(path, None, c, label, ts=True)
        if data is None:
            continue
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
        c.check(len(types) == 1 and types[0][0] == want_type,
                "%s: streams %s, want one %s stream" % (label, types, want_type))
        if kind == "video":
            c.check(all(t[1] == "h264" for t in types), "%s: codec %s" % (label, types))
            _check_video_segment(c, label, seg, sv, plan, i, extinf, tol, strict_pts, tv.rel)
        else:
            c.check(all(t[1] == "aac" for t in types), "%s: codec %s" % (label, types))
            _check_audio_segment(c, label, seg, sv, plan, i, audio_src, last=(i == n - 1))
    c.raise_if_any()


def _check_video_segment(c, label, seg, sv, plan, i, extinf, tol, strict_pts, title):
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
    pts = sorted(int(p["pts"]) for p in pk)
    # The keyframe that opens the segment: the first packet in decode order.
    key = int(pk[0]["pts"])
    last = pts[-1]
    leading = [p for p in pts if ts_diff(p, key) < 0]
    if leading:
        note("%s/%s: %d pictures presented before the segment's keyframe (leading pictures "
             "of an open GOP in the source)" % (title, label, len(leading)))
    # timestamps: segment PTS = source PTS + 1.4 s
    want_key = to_ts_ticks(plan.start(i)) + OFFSET_TICKS
    d = Fraction(ts_diff(key, want_key), TS_CLOCK)
    c.check(abs(d) <= tol, "%s: keyframe pts %s s - 1.4 = %s s, plan boundary %s s (off by %s ms)"
            % (label, fmt_s(Fraction(key, TS_CLOCK)), fmt_s(Fraction(key, TS_CLOCK) - MPEGTS_OFFSET),
               fmt_s(plan.start(i)), fmt_s(d * 1000)))
    # duration vs EXTINF: from the keyframe to the end of the last frame
    if i < len(extinf):
        dur = Fraction(ts_diff(last, key), TS_CLOCK) + sv.frame_dur
        want = Fraction(extinf[i], 1000)
        c.check(abs(dur - want) <= tol + Fraction(1, 1000),
                "%s: lasts %s s (last pts + 1 frame - keyframe pts), EXTINF %s s"
                % (label, fmt_s(dur), fmt_s(want)))
    if strict_pts:
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


def _check_audio_segment(c, label, seg, sv, plan, i, audio_src, last):
    pk = [p for p in seg.packets if p.get("pts") is not None]
    if not pk:
        c.add("%s: no audio packets" % label)
        return
    rates = [int(s.get("sample_rate") or 0) for s in seg.streams if s.get("codec_type") == "audio"]
    rate = rates[0] if rates and rates[0] else 48000
    aacf = Fraction(AAC_FRAME, rate)
    eps = Fraction(2, TS_CLOCK)
    first = min(int(p["pts"]) for p in pk)
    if i == 0:
        starts = [plan.start(0)]
        if audio_src and audio_src.get("start") is not None:
            starts.append(audio_src["start"])
        lo, hi = min(starts), max(starts)
    else:
        lo = hi = plan.start(i)
    d_lo = Fraction(ts_diff(first, to_ts_ticks(lo) + OFFSET_TICKS), TS_CLOCK)
    d_hi = Fraction(ts_diff(first, to_ts_ticks(hi) + OFFSET_TICKS), TS_CLOCK)
    c.check(d_lo >= -eps and d_hi <= aacf + eps,
            "%s: first audio pts - 1.4 = %s s, want within one AAC frame (%s ms) at or after %s s"
            % (label, fmt_s(Fraction(first, TS_CLOCK) - MPEGTS_OFFSET), fmt_s(aacf * 1000),
               fmt_s(lo) if lo == hi else "%s..%s" % (fmt_s(lo), fmt_s(hi))))
    if not last:
        end_pkt = max(pk, key=lambda p: int(p["pts"]))
        dur = int(end_pkt.get("duration") or 0) or to_ts_ticks(aacf)
        end = int(end_pkt["pts"]) + dur
        d = Fraction(ts_diff(end, to_ts_ticks(plan.stop(i)) + OFFSET_TICKS), TS_CLOCK)
        c.check(-aacf - eps <= d <= aacf + eps,
                "%s: audio ends at %s s (- 1.4), the segment at %s s"
                % (label, fmt_s(Fraction(end, TS_CLOCK) - MPEGTS_OFFSET), fmt_s(plan.stop(i))))


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


def check_decode(tv, sv, src_frames, tolerated, crc):
    """ffmpeg decodes master.m3u8's first video stream with exit status 0,
    nothing on stderr, and the same frames as the source: as many, at the
    source's timestamps + 1.4 s, and (crc=True) the same pictures.

    Error lines that decoding the source itself prints (damage in the source
    bitstream, which the original rendition copies faithfully) are
    tolerated; the generated fixtures decode without any, so for them any
    stderr output fails the check."""
    tv.require_serving()
    dec = Decode(os.path.join(tv.path, "master.m3u8"), crc=crc)
    c = Collector()
    c.check(dec.returncode == 0, "ffmpeg exit status %d" % dec.returncode)
    noise = [l for l in dec.stderr if normalize_log_line(l) not in tolerated]
    c.check(not noise, "ffmpeg stderr: %s" % noise[:3])
    c.check(len(dec.frames) == len(src_frames),
            "decoded %d frames through HLS, %d from the source (from its first keyframe on)"
            % (len(dec.frames), len(src_frames)))
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
            if crc and not tolerated and gcrc != wcrc:
                c.add("picture at %s s decodes differently through HLS" % fmt_s(w_s))
                break
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
