# The measurements of `make bench`, one function each, in MEASUREMENTS at
# the bottom.  A measurement takes the run context and returns table rows
# (see row()); it may leave notes and share outputs with later
# measurements through ctx.shared.  To add a measurement, write one more
# function and list it in MEASUREMENTS.

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from common import (CACHE_DIR, REPO_DIR, ProductError, WORK_DIR, fmt_samples,
                    fresh_dir, log, median, playlist_entries, read_all,
                    rmtree, run, timed, x264_brief, x264_settings)
from mounts import (PEER_RATE, RUNG_HEIGHT, SEGMENT_SECONDS, FfmpegfsMount,
                    HlsfsMount)

SEG_GOAL_S = SEGMENT_SECONDS  # "well under one segment's duration"


def ffmpeg_hls_args():
    return [
        "-vf", f"scale=-2:{RUNG_HEIGHT}", "-c:v", "libx264",
        "-preset", "veryfast", "-b:v", f"{PEER_RATE['k']}k",
        "-x264-params", "scenecut=0:open-gop=0",
        "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
        "-an", "-f", "hls", "-hls_time", str(SEGMENT_SECONDS),
        "-hls_playlist_type", "vod",
    ]


FFPROBE_SCAN = ["ffprobe", "-v", "error", "-select_streams", "v:0",
                "-show_entries", "packet=pts_time,flags", "-of", "csv"]


class Ctx:
    """What the measurements share: run count, sources, notes, outputs."""

    def __init__(self, runs, sources, mem_runs=None):
        self.runs = runs
        self.mem_runs = mem_runs or runs  # runs of the 4-reader figure
        self.src = sources
        self.shared = {}
        self.notes = {}     # measurement number -> list of lines
        self.samples = []   # (measurement, label, list of values, unit)

    def note(self, m, text):
        self.notes.setdefault(m, []).append(text)

    def sample(self, m, label, values, unit, nd=2):
        self.samples.append((m, label, fmt_samples(values, nd), unit))


def row(m, figure, hlsfs, peer="—", peer_value="—", ratio="—", goal="—",
        met="—"):
    return dict(m=m, figure=figure, hlsfs=hlsfs, peer=peer,
                peer_value=peer_value, ratio=ratio, goal=goal, met=met)


def yes(cond):
    if cond is None:
        return "—"
    return "met" if cond else "not met"


def ratio_text(a, b, label, nd=2):
    """'label = a/b' as text, or '—' when either is missing."""
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{nd}f}× ({label})"


def secs(x):
    return "failed" if x is None else f"{x:.2f} s"


def _attempt(ctx, m, fn, *a):
    """Run one timed attempt; a failure of the system under test gives
    None (a log line and a note) instead of stopping the measurement."""
    try:
        return fn(*a)
    except ProductError as e:
        log(f"FAILED: {e}")
        ctx.note(m, f"Failed attempt (left out of the median): {e}")
        return None


# --- before the measurements: the peers' bit rate --------------------------

def calibrate(ctx):
    """Read the average bit rate x264 aims at for the hlsfs 720p rung from
    its first segment's x264 settings, and give the peers that rate."""
    try:
        with HlsfsMount(ctx.src["film_dir"], tag="calibrate",
                        options=["max_ahead=0"]) as mnt:
            read_all(mnt.master("film.mp4"))
            opts = x264_settings(mnt.segment("film.mp4", 0))
    except ProductError as e:
        log(f"calibration failed: {e}")
        opts = None
    m = re.search(r"\bbitrate=(\d+)", opts or "")
    if m:
        PEER_RATE["k"] = int(m.group(1))
        PEER_RATE["how"] = ("read from the x264 settings in segment 0 of the "
                            "hlsfs 720p rung")
    ctx.note(0, f"Peers' average video bit rate: {PEER_RATE['k']}k, "
             f"{PEER_RATE['how']} (the rung's nominal rate is 2800k; hlsfs "
             "sizes each segment for that and aims x264 below it).")
    log(f"peers' video bit rate: {PEER_RATE['k']}k ({PEER_RATE['how']})")


# --- 1 and 2: cold first segment, cold seek --------------------------------

def _cold_read(mount_cls, src_dir, title, middle, tag):
    """Fresh mount, empty cache: master + media playlist + one segment of
    the 720p rendition (the first, or the middle one); seconds."""
    with mount_cls(src_dir, tag=tag) as mnt:
        t = time.perf_counter()
        read_all(mnt.master(title))
        entries = playlist_entries(mnt.playlist(title))
        if not entries:
            raise ProductError(f"{mnt.name}: empty playlist")
        seg = entries[len(entries) // 2] if middle else entries[0]
        n = read_all(os.path.join(os.path.dirname(mnt.playlist(title)), seg))
        dt = time.perf_counter() - t
        if n == 0:
            raise ProductError(f"{mnt.name}: segment {seg} read 0 bytes")
        return dt


def _cold_measure(ctx, m, middle):
    what = "seek to the middle" if middle else "first segment"
    rows = []
    for ext in ("mp4", "mkv"):
        title = f"film.{ext}"
        times = {"hlsfs": [], "ffmpegfs": []}
        for i in range(ctx.runs):
            for cls in (HlsfsMount, FfmpegfsMount):
                log(f"[{m}] cold {what}, {title}, {cls.name}, run {i + 1}")
                times[cls.name].append(_attempt(
                    ctx, m, _cold_read, cls, ctx.src["film_dir"], title, middle,
                    f"m{m}-{cls.name}"))
        h, f = median(times["hlsfs"]), median(times["ffmpegfs"])
        for k, v in times.items():
            ctx.sample(m, f"{k} {title}", v, "s")
        goal = (f"< {SEG_GOAL_S} s (one segment) and ≥ 2× faster than "
                "ffmpegfs")
        met = None if h is None else (
            h < SEG_GOAL_S and f is not None and f / h >= 2)
        fig = ("cold first segment (master + playlist + segment 0)"
               if not middle else
               "cold seek (master + playlist + middle segment)")
        rows.append(row(m, f"{fig}, {ext.upper()}", secs(h), "ffmpegfs",
                        secs(f), ratio_text(f, h, "ffmpegfs/hlsfs"), goal,
                        yes(met)))
    return rows


def m_first_segment(ctx):
    return _cold_measure(ctx, 1, middle=False)


def m_cold_seek(ctx):
    ctx.note(2, "Middle segment: entry N/2 of the media playlist (hlsfs "
             "`00010.ts`, ffmpegfs `000011.ts` for 20 segments).")
    return _cold_measure(ctx, 2, middle=True)


# --- 3: every segment in order (also feeds 5, 8 and 9) ---------------------

def _full_read(mnt, title, keep_dir=None):
    """Master, playlist and every segment in order; (seconds, bytes)."""
    t = time.perf_counter()
    read_all(mnt.master(title))
    pl = mnt.playlist(title)
    total = 0
    for seg in playlist_entries(pl):
        path = os.path.join(os.path.dirname(pl), seg)
        if keep_dir:
            n, data = read_all(path, keep=True)
            with open(os.path.join(keep_dir, seg), "wb") as f:
                f.write(data)
        else:
            n = read_all(path)
        total += n
    return time.perf_counter() - t, total


def _hlsfs_full(ctx, keep):
    src = ctx.src["film_dir"]
    with HlsfsMount(src, tag="m3-hlsfs", keep_cache=keep) as mnt:
        dt, total = _full_read(mnt, "film.mp4")
        ctx.shared.setdefault("rss1_kib", []).append(mnt.vm_hwm_kib())
        ctx.shared["hlsfs_x264"] = x264_settings(mnt.segment("film.mp4", 0))
    if keep:
        # a cache holding the whole 720p rung, for measurements 5 and 8
        dst = os.path.join(WORK_DIR, "film-cache")
        rmtree(dst)
        shutil.move(mnt.cache_dir, dst)
        ctx.shared["film_cache"] = dst
    return dt


def _ffmpegfs_full(ctx):
    with FfmpegfsMount(ctx.src["film_dir"], tag="m3-ffmpegfs") as mnt:
        dt, total = _full_read(mnt, "film.mp4")
        ctx.shared["ffmpegfs_bytes"] = total
        ctx.shared["ffmpegfs_x264"] = x264_settings(mnt.segment(
            "film.mp4", 0))
    return dt


def _ffmpeg_hls(ctx):
    out = fresh_dir("ffmpeg-hls")
    cmd = (["ffmpeg", "-v", "error", "-y", "-i", ctx.src["film"]["mp4"]] +
           ffmpeg_hls_args() +
           ["-hls_segment_filename", os.path.join(out, "%05d.ts"),
            os.path.join(out, "index.m3u8")])
    dt = timed(cmd)
    ctx.shared["ffmpeg_hls_dir"] = out
    ctx.shared["ffmpeg_x264"] = x264_settings(os.path.join(out, "00000.ts"))
    return dt


def ffmpeg_hls_cmdline():
    args = " ".join(f'"{a}"' if ("(" in a or ":" in a and "=" in a) else a
                    for a in ffmpeg_hls_args())
    return (f"ffmpeg -i film.mp4 {args} -hls_segment_filename OUT/%05d.ts "
            "OUT/index.m3u8")


def m_full_read(ctx):
    times = {"hlsfs": [], "ffmpegfs": [], "ffmpeg": []}
    for i in range(ctx.runs):
        last = i == ctx.runs - 1
        log(f"[3] full 720p read, hlsfs, run {i + 1}")
        times["hlsfs"].append(_attempt(ctx, 3, _hlsfs_full, ctx, last))
        log(f"[3] full 720p read, ffmpegfs, run {i + 1}")
        times["ffmpegfs"].append(_attempt(ctx, 3, _ffmpegfs_full, ctx))
        log(f"[3] ffmpeg -f hls, run {i + 1}")
        times["ffmpeg"].append(_ffmpeg_hls(ctx))
    for k, v in times.items():
        ctx.sample(3, k, v, "s")
    h = median(times["hlsfs"])
    f = median(times["ffmpegfs"])
    g = median(times["ffmpeg"])
    for k, label in (("hlsfs", "hlsfs: its defaults (threads, "
                      "max_sessions = cores)"),
                     ("ffmpegfs", "ffmpegfs: its own x264 settings"),
                     ("ffmpeg", "ffmpeg -f hls: x264 threads auto")):
        ctx.note(3, f"x264 settings found in the stream, {label}: "
                 f"`{x264_brief(ctx.shared.get(k + '_x264'))}`")
    ctx.note(3, "hlsfs and `ffmpeg -f hls` make video only; ffmpegfs's "
             "HLS segments also carry its AAC audio (it has no video-only "
             "HLS mode).")
    fig = f"read every 720p segment in order ({ctx.src['film_seconds']} s)"
    return [
        row(3, fig + ", vs ffmpeg -f hls", secs(h), "ffmpeg -f hls",
            secs(g), ratio_text(g, h, "ffmpeg/hlsfs"),
            "no slower than `ffmpeg -f hls`",
            yes(None if h is None else h <= g)),
        row(3, fig + ", vs ffmpegfs", secs(h), "ffmpegfs", secs(f),
            ratio_text(f, h, "ffmpegfs/hlsfs")),
    ]


# --- 4: keyframe index of the one-hour title --------------------------------

def _hlsfs_listing(ctx, title):
    """Fresh mount, empty cache: ls -l of the title + stat of master.m3u8.
    Returns (listing seconds, log total ms, log index ms, index source)."""
    with HlsfsMount(ctx.src["hour_dir"], tag="m4-hlsfs") as mnt:
        t = time.perf_counter()
        r = run(["ls", "-l", mnt.path(title) + "/"], check=False,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            os.stat(mnt.master(title))
        except OSError as e:
            raise ProductError(f"stat master.m3u8 of {title}: {e}")
        dt = time.perf_counter() - t
        if r.returncode != 0:
            raise ProductError(f"ls -l {title}: {r.stderr.strip()}")
        parsed = None
        for _ in range(100):
            parsed = mnt.index_line(title)
            if parsed:
                break
            time.sleep(0.01)
        if not parsed:
            raise ProductError(f"no 'index built' log line for {title}")
        how, total_ms, index_ms = parsed
        return dt, total_ms, index_ms, how


def m_keyframe_index(ctx):
    rows = []
    for ext, path in ctx.src["hour"].items():
        read_all(path)  # both sides start with the file in the page cache
    for ext, path in ctx.src["hour"].items():
        title = f"hour.{ext}"
        listing, total, index, probe = [], [], [], []
        how = "?"
        for i in range(ctx.runs):
            log(f"[4] keyframe index, {title}, run {i + 1}")
            res = _attempt(ctx, 4, _hlsfs_listing, ctx, title)
            if res:
                listing.append(res[0])
                total.append(res[1] / 1000)
                index.append(res[2] / 1000)
                how = res[3]
            probe.append(timed(FFPROBE_SCAN + [path],
                               stdout=subprocess.DEVNULL))
        for label, v in (("ls -l + stat", listing), ("log: built", total),
                         ("log: index", index), ("ffprobe", probe)):
            ctx.sample(4, f"{label}, {title}", v, "s", 3)
        p, li, ix, tot = (median(probe), median(listing), median(index),
                          median(total))
        if ext == "ts":
            goal, want = "no slower than ffprobe (≥ 1×)", 1
        else:
            goal, want = "≥ 50× faster than ffprobe", 50
        ms = (lambda x: "failed" if x is None else f"{x * 1000:.1f} ms")
        rows.append(row(
            4, f"keyframe index, 1 h {ext.upper()} (log: index part; "
            f"from {how})", ms(ix), "ffprobe packet scan", ms(p),
            ratio_text(p, ix, "ffprobe/hlsfs", 1), goal,
            yes(None if ix is None else p / ix >= want)))
        rows.append(row(
            4, f"first listing, 1 h {ext.upper()} (`ls -l` + stat; log: "
            f"built in {ms(tot)})", ms(li), "ffprobe packet scan", ms(p),
            ratio_text(p, li, "ffprobe/hlsfs", 1)))
    ctx.note(4, "The index part is the `M ms index` of the daemon's log "
             "line `index built from X in N ms (M ms index, the rest "
             "sizes)`; the listing is the wall time of `ls -l MNT/hour.EXT/`"
             " plus a stat of `master.m3u8` after a fresh mount with an "
             "empty cache. Sources are in the page cache for both sides.")
    return rows


# --- 5: cached segment read throughput -------------------------------------

PASSES = 5


def _warm_film_cache(ctx):
    """A cache dir holding the film's whole 720p rung (made if needed).

    One untimed read through a mount on it makes sure: ./hlsfs may have
    been rebuilt since the cache was filled, with other cache keys."""
    if "film_cache" not in ctx.shared:
        log("making a cache with the whole 720p rung (untimed)")
        _hlsfs_full(ctx, keep=True)
    cache = ctx.shared["film_cache"]
    with HlsfsMount(ctx.src["film_dir"], tag="warm-hlsfs",
                    cache_dir=cache) as mnt:
        _full_read(mnt, "film.mp4")
    return cache


def _read_passes(paths, passes):
    """MB/s (10^6 bytes per second) of each pass reading every path."""
    buf = bytearray(1 << 20)
    out = []
    for _ in range(passes):
        t = time.perf_counter()
        n = sum(read_all(p, buf) for p in paths)
        out.append(n / (time.perf_counter() - t) / 1e6)
    return out, n


def _segment_paths(mnt, title):
    pl = mnt.playlist(title)
    return [os.path.join(os.path.dirname(pl), s)
            for s in playlist_entries(pl)]


def m_cached_read(ctx):
    cache = _warm_film_cache(ctx)
    fresh, warm, plain = [], [], []
    total = 0
    for i in range(ctx.runs):
        log(f"[5] cached read, run {i + 1}")
        for p in range(PASSES):
            # a fresh mount has no page cache: every byte comes from the
            # daemon, which has it in LMDB
            with HlsfsMount(ctx.src["film_dir"], tag="m5-hlsfs",
                            cache_dir=cache) as mnt:
                paths = _segment_paths(mnt, "film.mp4")
                speeds, total = _read_passes(paths, 1)
                fresh.extend(speeds)
                if " encoded " in mnt.log_text():
                    ctx.note(5, "A timed pass found segments missing "
                             "from the cache and encoded them (./hlsfs "
                             "rebuilt during the run?).")
                if p < PASSES - 1:
                    continue
                # the same mount again: the kernel may serve these
                speeds, _ = _read_passes(paths, PASSES)
                warm.extend(speeds)
                tmp = tempfile.mkdtemp(prefix="hlsfs-bench-", dir="/tmp")
                try:
                    copies = []
                    for q in paths:
                        c = os.path.join(tmp, os.path.basename(q))
                        shutil.copyfile(q, c)
                        copies.append(c)
                    _read_passes(copies, 1)  # into the page cache
                    speeds, _ = _read_passes(copies, PASSES)
                    plain.extend(speeds)
                finally:
                    rmtree(tmp)
    ctx.sample(5, "hlsfs, one pass per fresh mount", fresh, "MB/s", 0)
    ctx.sample(5, "hlsfs, passes again on the same mount", warm, "MB/s", 0)
    ctx.sample(5, "regular files, page cache", plain, "MB/s", 0)
    h, w, p = median(fresh), median(warm), median(plain)
    ctx.note(5, f"A pass reads all {len(paths)} segments of the 720p rung "
             f"({total / 1e6:.1f} MB) with 1 MiB reads, on a cache that "
             f"already holds them: {PASSES} fresh mounts with one pass each "
             f"(bytes from the daemon, out of LMDB), then {PASSES} more "
             "passes on the last mount (the kernel's page cache may serve "
             "those). The regular files are copies of the same segments in "
             "/tmp, read from the page cache. MB = 10^6 bytes.")
    mb = (lambda x: "failed" if x is None else f"{x:.0f} MB/s")
    return [
        row(5, "cached segment read through the mount (fresh mount, "
            "from the daemon)", mb(h), "regular file (page cache)", mb(p),
            ratio_text(h, p, "hlsfs/regular"), "≥ 1 GB/s (1000 MB/s)",
            yes(None if h is None else h >= 1000)),
        row(5, "cached segment read, same mount again (page cache)",
            mb(w), "regular file (page cache)", mb(p),
            ratio_text(w, p, "hlsfs/regular")),
    ]


# --- 6 and 7: stat size vs bytes read; padding ------------------------------

def _null_bytes(data):
    """Bytes in 188-byte TS packets with PID 0x1FFF."""
    if len(data) % 188:
        return None
    hi = data[1::188]
    lo = data[2::188]
    return 188 * sum(1 for a, b in zip(hi, lo) if a & 0x1F == 0x1F and
                     b == 0xFF)


def _tree_check(mnt, title, padding=None, keep_ts=None):
    """Stat every file under a title, read it fully, stat it again.

    Returns (files, mismatches, list of mismatch texts).  With padding
    (a dict), counts TS null-packet bytes per directory; with keep_ts (a
    file), appends the bytes of every .ts file, in order."""
    root = mnt.path(title)
    files, bad = 0, []
    out = open(keep_ts, "wb") if keep_ts else None
    try:
        for d, dirs, names in os.walk(root):
            dirs.sort()
            for name in sorted(names):
                p = os.path.join(d, name)
                rel = os.path.relpath(p, root)
                try:
                    before = os.stat(p).st_size
                except OSError as e:
                    raise ProductError(f"stat {rel}: {e}")
                want_bytes = name.endswith(".ts")
                if want_bytes:
                    n, data = read_all(p, keep=True)
                else:
                    n, data = read_all(p), None
                after = os.stat(p).st_size
                files += 1
                if before != n or after != n:
                    bad.append(f"{rel}: stat {before} before the read, "
                               f"{after} after, read {n}")
                if padding is not None and want_bytes:
                    key = os.path.dirname(rel)
                    tot, nul = padding.get(key, (0, 0))
                    padding[key] = (tot + n, nul + (_null_bytes(data) or 0))
                if out and want_bytes:
                    out.write(data)
    finally:
        if out:
            out.close()
    return files, len(bad), bad


def _hlsfs_tree(ctx):
    """One full read of the film's hlsfs tree (every rendition), shared
    by measurements 6 and 7."""
    if "hlsfs_tree" not in ctx.shared:
        log("[6/7] hlsfs: stat + full read of every file of film.mp4")
        padding = {}
        with HlsfsMount(ctx.src["film_dir"], tag="m6-hlsfs") as mnt:
            t = time.perf_counter()
            files, nbad, bad = _tree_check(mnt, "film.mp4", padding)
            dt = time.perf_counter() - t
        ctx.shared["hlsfs_tree"] = (files, nbad, bad, padding, dt)
    return ctx.shared["hlsfs_tree"]


def m_size_mismatch(ctx):
    try:
        files, nbad, bad, _, dt = _hlsfs_tree(ctx)
        h = f"{nbad} of {files} files"
        ctx.note(6, f"hlsfs: every file of `film.mp4/` (all renditions, "
                 f"playlists, `source.mp4`), fresh mount and empty cache; "
                 f"stat, full read, stat again took {dt:.0f} s.")
        for b in bad[:10]:
            ctx.note(6, f"hlsfs mismatch: `{b}`")
    except ProductError as e:
        log(f"FAILED: {e}")
        h, nbad = f"failed: {e}", None
    log("[6] ffmpegfs: stat + full read of every file of film.mp4")
    keep = os.path.join(WORK_DIR, "ffmpegfs-film.ts")
    try:
        with FfmpegfsMount(ctx.src["film_dir"], tag="m6-ffmpegfs") as mnt:
            ffiles, fbad, fb, = _tree_check(mnt, "film.mp4", keep_ts=keep)
        ctx.shared["ffmpegfs_ts"] = keep
        f = f"{fbad} of {ffiles} files"
        for b in fb[:5]:
            ctx.note(6, f"ffmpegfs mismatch: `{b}`")
        if len(fb) > 5:
            ctx.note(6, f"ffmpegfs: {len(fb) - 5} more mismatches like "
                     "these.")
    except ProductError as e:
        log(f"FAILED: {e}")
        f = f"failed: {e}"
    ctx.note(6, "A file counts as a mismatch when the size stat reports "
             "before or after the full read differs from the bytes read.")
    return [row(6, "files whose stat size ≠ bytes read (film.mp4 tree)", h,
                "ffmpegfs", f, "—", "0 for hlsfs (SPEC §3)",
                yes(None if nbad is None else nbad == 0))]


def m_padding(ctx):
    try:
        padding = _hlsfs_tree(ctx)[3]
    except ProductError as e:
        log(f"FAILED: {e}")
        return [row(7, "padding", f"failed: {e}")]
    rows, shares = [], []
    tot_all = nul_all = 0
    for key in sorted(padding, key=_rendition_order):
        tot, nul = padding[key]
        share = nul / tot if tot else 0
        shares.append(share)
        tot_all += tot
        nul_all += nul
        rows.append(row(7, f"padding, `{key}/`", f"{100 * share:.1f} % "
                        f"({nul / 1e6:.2f} of {tot / 1e6:.1f} MB)"))
    mean = sum(shares) / len(shares) if shares else None
    rows.append(row(7, "padding, mean of the renditions above",
                    f"{100 * mean:.1f} %", goal="< 10 % of bytes on average",
                    met=yes(mean < 0.10)))
    rows.append(row(7, "padding, all renditions' bytes together",
                    f"{100 * nul_all / tot_all:.1f} %"))
    ctx.note(7, "Padding: 188-byte TS packets with PID 0x1FFF in the "
             "segments of each rendition of film.mp4 (1080p source).")
    return rows


def _rendition_order(key):
    kind, _, name = key.partition("/")
    m = re.match(r"(\d+)p$", name)
    return (kind != "video", name != "original",
            int(m.group(1)) if m else 0, name)


# --- 8: quality at equal bytes ---------------------------------------------

def _ssim(dist_ts, src):
    """SSIM 'All' of a TS file against the source scaled to 1280x720."""
    graph = ("[0:v]setpts=PTS-STARTPTS[d];"
             f"[1:v]scale=1280:{RUNG_HEIGHT},setpts=PTS-STARTPTS[r];"
             "[d][r]ssim")
    r = run(["ffmpeg", "-nostats", "-i", dist_ts, "-i", src, "-lavfi",
             graph, "-f", "null", "-"], capture=True)
    m = re.search(r"SSIM .*All:([\d.]+) \(([\d.inf]+)\)", r.stderr)
    if not m:
        raise ProductError(f"no SSIM from ffmpeg for {dist_ts}: "
                           f"{r.stderr.strip()[-300:]}")
    return f"{float(m.group(1)):.4f} ({float(m.group(2)):.2f} dB)"


def _ssim_ratio(a, b, label):
    return ratio_text(float(a.split()[0]), float(b.split()[0]), label, 4)


def _concat(paths, out):
    with open(out, "wb") as o:
        for p in paths:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, o, 1 << 20)
    return os.path.getsize(out)


def m_quality(ctx):
    src = ctx.src["film"]["mp4"]
    work = fresh_dir("m8")
    cache = _warm_film_cache(ctx)
    h_ts = os.path.join(work, "hlsfs-720p.ts")
    with HlsfsMount(ctx.src["film_dir"], tag="m8-hlsfs",
                    cache_dir=cache) as mnt:
        pl = mnt.playlist("film.mp4")
        segs = [os.path.join(os.path.dirname(pl), s)
                for s in playlist_entries(pl)]
        h_bytes = _concat(segs, h_ts)
    with open(h_ts, "rb") as f:
        h_null = _null_bytes(f.read()) or 0
    if "ffmpeg_hls_dir" not in ctx.shared:
        log("[8] running ffmpeg -f hls once")
        _ffmpeg_hls(ctx)
    gdir = ctx.shared["ffmpeg_hls_dir"]
    g_ts = os.path.join(work, "ffmpeg-720p.ts")
    g_bytes = _concat([os.path.join(gdir, s) for s in playlist_entries(
        os.path.join(gdir, "index.m3u8"))], g_ts)
    log("[8] SSIM of hlsfs 720p")
    hs = _ssim(h_ts, src)
    log("[8] SSIM of ffmpeg -f hls 720p")
    gs = _ssim(g_ts, src)
    rows = [row(8, "SSIM All vs source scaled to 1280x720, 720p rung "
                "(total bytes)",
                f"{hs}; {h_bytes / 1e6:.2f} MB, "
                f"{(h_bytes - h_null) / 1e6:.2f} MB without padding",
                "ffmpeg -f hls", f"{gs}; {g_bytes / 1e6:.2f} MB",
                _ssim_ratio(hs, gs, "hlsfs/ffmpeg"))]
    fts = ctx.shared.get("ffmpegfs_ts")
    if fts and os.path.exists(fts):
        log("[8] SSIM of ffmpegfs 720p")
        fs = _ssim(fts, src)
        rows.append(row(8, "SSIM All, 720p (ffmpegfs: its own x264 "
                        "settings; bytes include its audio)",
                        hs, "ffmpegfs", f"{fs}; "
                        f"{os.path.getsize(fts) / 1e6:.2f} MB",
                        _ssim_ratio(hs, fs, "hlsfs/ffmpegfs")))
    ctx.note(8, "Segments are concatenated byte for byte; both sides get "
             "`setpts=PTS-STARTPTS`; the reference is the source through "
             f"`scale=1280:{RUNG_HEIGHT}` (bicubic). hlsfs's segment bytes "
             "do not depend on timing, so quality is measured once, on the "
             "outputs of the last run of measurement 3.")
    rmtree(work)
    return rows


# --- 9: daemon memory with 1 and 4 readers ---------------------------------

def _readers(ctx, titles):
    """Fresh mount of the multi dir; one thread per title reads its 720p
    rung in order.  Returns (peak RSS KiB, seconds)."""
    errors = []

    def reader(mnt, title):
        try:
            _full_read(mnt, title)
        except ProductError as e:
            errors.append(str(e))

    with HlsfsMount(ctx.src["multi_dir"], tag="m9-hlsfs") as mnt:
        t = time.perf_counter()
        threads = [threading.Thread(target=reader, args=(mnt, ti))
                   for ti in titles]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
        if errors:
            raise ProductError("; ".join(errors))
        return mnt.vm_hwm_kib(), dt


def m_memory(ctx):
    one = ctx.shared.get("rss1_kib")
    if one:
        ctx.note(9, "1 reader: peak RSS of the hlsfs runs of measurement 3 "
                 "(the same procedure: fresh mount, empty cache, one "
                 "reader of a copy of the same film).")
    else:
        one = []
        for i in range(ctx.mem_runs):
            log(f"[9] 1 reader, run {i + 1}")
            res = _attempt(ctx, 9, _readers, ctx, ctx.src["multi"][:1])
            one.append(res and res[0])
    four, secs4 = [], []
    for i in range(ctx.mem_runs):
        log(f"[9] 4 readers, run {i + 1}")
        res = _attempt(ctx, 9, _readers, ctx, ctx.src["multi"])
        four.append(res and res[0])
        secs4.append(res and res[1])
    mib = [None if x is None else x / 1024 for x in one]
    mib4 = [None if x is None else x / 1024 for x in four]
    ctx.sample(9, "VmHWM, 1 reader", mib, "MiB", 1)
    ctx.sample(9, "VmHWM, 4 readers", mib4, "MiB", 1)
    ctx.sample(9, "4 readers, wall time", secs4, "s", 1)
    a, b = median(mib), median(mib4)
    per = None if a is None or b is None else (b - a) / 3
    ctx.note(9, f"4 readers: {ctx.mem_runs} run(s) (`BENCH_MEM_RUNS`, "
             "default `BENCH_RUNS`); threads reading a.mp4 .. d.mp4 (distinct "
             "copies) at once, each its 720p rung in order, on one fresh "
             "mount with an empty cache; VmHWM from /proc/PID/status of "
             "the daemon after the reads.")
    f1 = "failed" if a is None else f"{a:.1f} MiB"
    f4 = "failed" if b is None else f"{b:.1f} MiB"
    extra = "" if per is None else f" (+{per:.1f} MiB per extra session)"
    return [row(9, "daemon peak RSS (VmHWM), 1 reader", f1,
                goal="bounded per session; reported", met="reported"),
            row(9, "daemon peak RSS (VmHWM), 4 readers of 4 titles",
                f4 + extra, goal="bounded per session; reported",
                met="reported")]


# --- 11: daemon memory against the size of the library ---------------------

LIB_SMALL, LIB_LARGE = 100, 300


def _walk(mnt, names):
    """What a player or a crawler does to a title: list it, read its
    master and every media playlist."""
    for n in names:
        for kind in ("video", "audio"):
            d = mnt.path(n, kind)
            for rend in os.listdir(d):
                with open(os.path.join(d, rend, "index.m3u8"), "rb") as f:
                    f.read()
        with open(mnt.master(n), "rb") as f:
            f.read()


def _library_rss(ctx):
    """300 names of the one-hour title (hard links: one analysis, the rest
    from the cache, each name a title of its own in memory); VmRSS after
    walking 100 of them and after walking all 300."""
    lib = fresh_dir("m11-library")
    hour = ctx.src["hour"]["mp4"]
    names = [f"t{i:03d}.mp4" for i in range(LIB_LARGE)]
    for n in names:
        os.link(hour, os.path.join(lib, n))
    try:
        with HlsfsMount(lib, tag="m11-hlsfs") as mnt:
            _walk(mnt, names[:LIB_SMALL])
            small = mnt.vm_rss_kib()
            _walk(mnt, names[LIB_SMALL:])
            large = mnt.vm_rss_kib()
            again = time.perf_counter()
            _walk(mnt, names[:1])           # gone from memory: back from LMDB
            back_ms = (time.perf_counter() - again) * 1e3
            return small, large, back_ms
    finally:
        rmtree(lib)


def m_library_memory(ctx):
    small, large, back = [], [], []
    for i in range(ctx.mem_runs):
        log(f"[11] library walk, run {i + 1}")
        res = _attempt(ctx, 11, _library_rss, ctx)
        small.append(res and res[0] / 1024)
        large.append(res and res[1] / 1024)
        back.append(res and res[2])
    ctx.sample(11, f"VmRSS after {LIB_SMALL} titles", small, "MiB", 1)
    ctx.sample(11, f"VmRSS after {LIB_LARGE} titles", large, "MiB", 1)
    ctx.sample(11, "walk of the first title again", back, "ms", 1)
    a, b, c = median(small), median(large), median(back)
    ctx.note(11, f"{LIB_LARGE} hard links of the one-hour source in one "
             "directory, fresh mount and cache; each title is listed and its "
             "master and media playlists read; VmRSS from /proc/PID/status "
             "after the first 100 and after all 300; then the first title, "
             "no longer in memory, walked again.")
    if a is None or b is None:
        return [row(11, "daemon RSS against library size", "failed")]
    return [row(11, f"daemon RSS (VmRSS) after walking {LIB_SMALL} / "
                f"{LIB_LARGE} one-hour titles", f"{a:.1f} / {b:.1f} MiB",
                goal="a few MB more for 300 than for 100",
                met=yes(b - a <= 8)),
            row(11, "walk of a title let go from memory (from LMDB)",
                "failed" if c is None else f"{c:.0f} ms", goal="milliseconds",
                met="reported")]


# --- 12: padding on real and low-complexity content -------------------------

SHARED_MEDIA = os.path.join(REPO_DIR, "..", "shared", "media")
CONTENT_MIN_S = 10          # titles of the shared media at least this long
CONTENT_SEGMENTS = 10       # segments read of each rendition (the first ones)
LOWC_SECONDS = 20
_LOWC_AUDIO = f"anullsrc=r=48000:cl=stereo:d={LOWC_SECONDS}"
_LOWC_ENC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "50",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-t", str(LOWC_SECONDS)]
# generated sources that undershoot a fixed rate, as real titles do: their
# lavfi video inputs, and the graph that makes [v] of them
LOWC = {
    "still.mp4": (["testsrc=s=1280x720:r=25:d=0.04"],
                  f"[0]loop=loop=-1:size=1,trim=duration={LOWC_SECONDS}[v]"),
    "slideshow.mp4": ([f"testsrc=s=1280x720:r=0.2:d={LOWC_SECONDS}"], "[0]fps=25[v]"),
    "screen.mp4": ([f"color=c=white:s=1280x720:r=25:d={LOWC_SECONDS}",
                    f"testsrc=s=240x120:r=1:d={LOWC_SECONDS}"],
                   "[1]fps=25[b];[0][b]overlay=80:80[v]"),
    "cartoon.mp4": ([f"color=c=#3060c0:s=1280x720:r=25:d={LOWC_SECONDS}",
                     f"color=c=#f0c020:s=240x240:r=25:d={LOWC_SECONDS}"],
                    "[0][1]overlay=x='40+t*40':y='240+80*sin(t)'[v]"),
    "dark.mp4": ([f"testsrc2=s=1280x720:r=25:d={LOWC_SECONDS}"],
                 "[0]eq=brightness=-0.35,noise=alls=1:allf=t[v]"),
}


def _lowc_cmd(inputs, graph, out):
    cmd = ["ffmpeg", "-v", "error", "-y"]
    for i in inputs:
        cmd += ["-f", "lavfi", "-i", i]
    cmd += ["-f", "lavfi", "-i", _LOWC_AUDIO, "-filter_complex", graph,
            "-map", "[v]", "-map", f"{len(inputs)}:a"]
    return cmd + _LOWC_ENC + [out]


def _duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "default=nw=1:nk=1", path],
                         capture_output=True, text=True).stdout.strip()
    try:
        return float(out)
    except ValueError:
        return 0.0


def _content_sources(folder):
    """The shared media titles of CONTENT_MIN_S or more (linked in), and
    the generated low-complexity sources (made once into bench/.cache)."""
    names = []
    if os.path.isdir(SHARED_MEDIA):
        for n in sorted(os.listdir(SHARED_MEDIA)):
            p = os.path.join(SHARED_MEDIA, n)
            if n.endswith(".md") or not os.path.isfile(p) or _duration(p) < CONTENT_MIN_S:
                continue
            try:
                os.link(p, os.path.join(folder, n))
            except OSError:
                shutil.copyfile(p, os.path.join(folder, n))
            names.append(n)
    gen = os.path.join(CACHE_DIR, "lowc")
    os.makedirs(gen, exist_ok=True)
    for n, recipe in LOWC.items():
        out = os.path.join(gen, n)
        if not os.path.exists(out):
            log(f"[12] generating {n} (once; reused from bench/.cache later)")
            run(_lowc_cmd(recipe[0], recipe[1], out + ".part.mp4"))
            os.replace(out + ".part.mp4", out)
        os.link(out, os.path.join(folder, n))
        names.append(n)
    return names


def _rendition_padding(mnt, title):
    """{rendition: (bytes, null bytes)} over the first CONTENT_SEGMENTS
    segments of every rendition of a title."""
    got = {}
    for kind in ("video", "audio"):
        kdir = mnt.path(title, kind)
        if not os.path.isdir(kdir):
            continue
        for rend in sorted(os.listdir(kdir)):
            segs = sorted(f for f in os.listdir(os.path.join(kdir, rend)) if f.endswith(".ts"))
            tot = nul = 0
            for f in segs[:CONTENT_SEGMENTS]:
                n, data = read_all(os.path.join(kdir, rend, f), keep=True)
                tot += n
                nul += _null_bytes(data) or 0
            got[f"{kind}/{rend}"] = (tot, nul)
    return got


def m_content_padding(ctx):
    folder = fresh_dir("m12-content")
    names = _content_sources(folder)
    rows, worst_all, shares_all = [], (0.0, ""), []
    with HlsfsMount(folder, tag="m12-hlsfs") as mnt:
        for n in names:
            log(f"[12] {n}")
            try:
                pad = _rendition_padding(mnt, n)
            except ProductError as e:
                rows.append(row(12, f"padding, `{n}`", f"failed: {e}"))
                continue
            parts = []
            for key in sorted(pad, key=_rendition_order):
                tot, nul = pad[key]
                share = nul / tot if tot else 0.0
                shares_all.append(share)
                if share > worst_all[0]:
                    worst_all = (share, f"{n} {key}")
                parts.append(f"{key.split('/')[1] if key.startswith('video') else 'a' + key.split('/')[1]} "
                             f"{100 * share:.0f} %")
            tot = sum(t for t, _ in pad.values())
            nul = sum(u for _, u in pad.values())
            if not tot:
                continue            # not a title (audio only, or unreadable)
            rows.append(row(12, f"padding, `{n}` ({tot / 1e6:.1f} MB read)",
                            f"{100 * nul / tot:.1f} % of bytes",
                            peer="by rendition", peer_value=", ".join(parts)))
    rmtree(folder)
    mean = sum(shares_all) / len(shares_all) if shares_all else None
    ctx.sample(12, "null-packet share per rendition", [100 * x for x in shares_all], "%", 1)
    ctx.note(12, f"The titles of ../shared/media of {CONTENT_MIN_S} s or more and five "
             f"generated {LOWC_SECONDS} s 720p sources (a still picture, a slideshow of "
             "a picture every 5 s, a screen-recording-like white page with one region "
             "changing once a second, a flat-colour square moving over a flat background, a dark "
             "low-noise scene; silent AAC), one fresh mount; the first "
             f"{CONTENT_SEGMENTS} segments of every rendition read; the share is the "
             "bytes in TS packets of PID 0x1FFF.")
    if mean is None:
        return rows + [row(12, "padding on real content", "failed: nothing read")]
    rows.append(row(12, "padding per rendition, mean / worst over all titles",
                    f"{100 * mean:.1f} % / {100 * worst_all[0]:.1f} % ({worst_all[1]})",
                    goal="< 10 % in every rendition", met=yes(worst_all[0] < 0.10)))
    return rows


# --- 10: cache churn --------------------------------------------------------

# bench/churn.c, built by `make bench` (which passes its path)
CHURN = os.environ.get("HLSFS_CHURN") or os.path.join(
    REPO_DIR, "build", "rel", "bench", "churn")
CHURN_SEED = 1


def _churn_cap():
    """1 GiB, or 512 MiB when the work dir's disk has less than 4 GiB free
    (the file reaches about 0.9 of the cap)."""
    os.makedirs(WORK_DIR, exist_ok=True)
    free = shutil.disk_usage(WORK_DIR).free
    return (1 << 30) if free >= (4 << 30) else (512 << 20)


def _churn_run(cap):
    """One run of bench/churn on a fresh cache dir; its key=value output
    as a dict of strings.  The cache is removed afterwards."""
    d = fresh_dir("m10-churn")
    try:
        r = run([CHURN, d, str(cap), str(CHURN_SEED)], check=False,
                capture=True)
    finally:
        rmtree(d)
    out = dict(ln.split("=", 1) for ln in r.stdout.splitlines()
               if "=" in ln)
    if r.returncode not in (0, 1) or "full_mbps" not in out:
        raise ProductError(f"churn exited with {r.returncode}: "
                           f"{r.stderr.strip()[-300:]}")
    if r.stderr.strip():
        log(f"[10] churn: {r.stderr.strip()[-300:]}")
    return out


def m_cache_churn(ctx):
    if not os.access(CHURN, os.X_OK):
        raise ProductError(f"{CHURN} missing (make bench builds it)")
    cap = _churn_cap()
    keys = ("empty_mbps", "full_mbps", "ratio", "empty_cpu_mbps",
            "full_cpu_mbps", "cpu_ratio", "peak_file_bytes", "failures",
            "evictions", "final_used_bytes", "elapsed_s")
    got = {k: [] for k in keys}
    last = None
    for i in range(ctx.runs):
        log(f"[10] cache churn, cap {cap >> 20} MiB, run {i + 1}")
        out = _attempt(ctx, 10, _churn_run, cap)
        if out:
            last = out
        for k in keys:
            got[k].append(float(out[k]) if out else None)
    mb = [None if x is None else x / 1e6 for x in got["peak_file_bytes"]]
    ctx.sample(10, "write, empty cache (first cap)", got["empty_mbps"],
               "MB/s", 0)
    ctx.sample(10, "write, full cache (fourth cap)", got["full_mbps"],
               "MB/s", 0)
    ctx.sample(10, "full/empty", got["ratio"], "×", 2)
    ctx.sample(10, "write per CPU-second, empty cache",
               got["empty_cpu_mbps"], "MB/s", 0)
    ctx.sample(10, "write per CPU-second, full cache",
               got["full_cpu_mbps"], "MB/s", 0)
    ctx.sample(10, "peak data.mdb size", mb, "MB", 1)
    ctx.sample(10, "wall time of the program", got["elapsed_s"], "s", 1)
    if last is None:
        return [row(10, "cache churn", "failed")]
    e, f = median(got["empty_mbps"]), median(got["full_mbps"])
    ratio = median(got["ratio"])
    ce, cf = median(got["empty_cpu_mbps"]), median(got["full_cpu_mbps"])
    peak = max(x for x in got["peak_file_bytes"] if x is not None)
    fails = sum(x for x in got["failures"] if x is not None)
    caps = f"{cap >> 20} MiB" if cap < (1 << 30) else f"{cap >> 30} GiB"
    ctx.note(10, f"bench/churn (linked with src/cache.c, src/evict.c, "
             f"src/log.c): a fresh cache capped at {caps} "
             f"({cap / 1e6:.1f} MB); {last['segments']} segments of "
             "0.3–3 MB (uniform, seed "
             f"{CHURN_SEED}, the same in every run) of 12 renditions, "
             "stored as the scheduler stores them: put; on a full map "
             "evict (force) and put again; evict after every put. Four "
             "caps' worth are written: the first fills the empty cache, "
             "the fourth is written after three caps of churn. MB/s is "
             "segment bytes per second of wall time around put + "
             "evictions (MB = 10^6 bytes), median of the runs; the ratio "
             "is the median of each run's full/empty.")
    ctx.note(10, f"Per CPU-second of the program (user + system, less "
             f"disturbed by other load on the 2 shared cores): "
             f"{ce:.0f} MB/s empty, {cf:.0f} MB/s full "
             f"({cf / ce:.2f}×). The wall-clock figures also carry the "
             "waits for the disk (one fdatasync per transaction).")
    ctx.note(10, f"Last run: {last['evictions']} segments evicted in "
             f"{last['evict_runs']} eviction runs, "
             f"{last['enospc_retries']} puts retried after a full map, "
             f"{last['failures']} not stored; live pages at the end "
             f"{int(last['final_used_bytes']) / 1e6:.1f} MB, file "
             f"{int(last['final_file_bytes']) / 1e6:.1f} MB; MB/s per cap "
             f"written: {last['mbps_by_cap'].replace(',', ', ')}.")
    nruns = sum(1 for x in got["failures"] if x is not None)
    return [
        row(10, "cache write, empty cache (first cap written; put + "
            "eviction)", f"{e:.0f} MB/s"),
        row(10, "cache write, full cache (fourth cap written, after three "
            "caps of churn)", f"{f:.0f} MB/s", "empty cache (same run)",
            f"{e:.0f} MB/s", f"{ratio:.2f}× (full/empty)", "≥ 0.5× empty",
            yes(ratio >= 0.5)),
        row(10, "peak data.mdb size during the churn (stat after every "
            "put)", f"{peak / 1e6:.1f} MB", "cap", f"{cap / 1e6:.1f} MB "
            f"({caps})", f"{peak / cap:.2f}× (peak/cap)", "≤ cap",
            yes(peak <= cap)),
        row(10, "segments not stored (put, evict, put again)",
            f"{fails:.0f} in {nruns} run(s) of {last['segments']}"),
    ]


# -- 13. fMP4: what the copied original saves ----------------------------------

FMP4_TITLES = ("mp4-av1-aac-1080p60-363s.mp4", "mp4-hevc-main10-aac-editlist-1080p-2.5s.mp4")


def _daemon_cpu_s(mnt):
    """utime + stime of the daemon so far, from /proc/PID/stat."""
    with open(f"/proc/{mnt.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rendition_cpu(folder, title, rend, tag):
    """A fresh fMP4 mount (no readahead): every segment of video/REND of
    title read in order; (daemon CPU s, wall s, bytes, segments)."""
    with HlsfsMount(folder, tag=tag, options=["format=fmp4", "max_ahead=0"]) as mnt:
        rdir = mnt.path(title, "video", rend)
        uris = playlist_entries(os.path.join(rdir, "index.m3u8"))
        read_all(os.path.join(rdir, "init.mp4"))
        cpu0, t0 = _daemon_cpu_s(mnt), time.monotonic()
        total = sum(read_all(os.path.join(rdir, u)) for u in uris)
        return _daemon_cpu_s(mnt) - cpu0, time.monotonic() - t0, total, len(uris)


def m_fmp4_cpu(ctx):
    folder = fresh_dir("m13-fmp4")
    only = os.environ.get("BENCH_FMP4_TITLES", "").strip()
    titles = [t for t in FMP4_TITLES if not only or t in only.split(",")]
    rows = []
    for n in titles:
        p = os.path.join(SHARED_MEDIA, n)
        if not os.path.isfile(p):
            rows.append(row(13, f"`{n}`", "failed: not in ../shared/media"))
            continue
        try:
            os.link(p, os.path.join(folder, n))
        except OSError:
            shutil.copyfile(p, os.path.join(folder, n))
        try:
            log(f"[13] {n}: video/original")
            oc, ow, ob, ns = _rendition_cpu(folder, n, "original", "m13-orig")
            log(f"[13] {n}: video/{RUNG_HEIGHT}p")
            rc, rw, rb, _ = _rendition_cpu(folder, n, f"{RUNG_HEIGHT}p", "m13-rung")
        except ProductError as e:
            rows.append(row(13, f"`{n}`", f"failed: {e}"))
            continue
        rows.append(row(13, f"CPU to read every segment of `{n}` `original` (copied, "
                        f"{ns} segments, {ob / 1e6:.1f} MB, {ow:.1f} s)",
                        f"{oc:.2f} s", f"`{RUNG_HEIGHT}p` rung ({rb / 1e6:.1f} MB, {rw:.1f} s)",
                        f"{rc:.1f} s", f"{rc - oc:.1f} s saved ({rc / oc:.0f}×)" if oc > 0
                        else f"{rc - oc:.1f} s saved"))
    rmtree(folder)
    ctx.note(13, "fMP4 (`-o format=fmp4`): the daemon's CPU time (utime + stime from "
             "/proc/PID/stat) while every segment of one rendition is read in order on a "
             "fresh mount and cache without readahead: the copied AV1 or HEVC `original` "
             f"against the {RUNG_HEIGHT}p rung, which decodes the source and encodes "
             "H.264. `BENCH_FMP4_TITLES=a.mp4,b.mp4` picks titles.")
    return rows


MEASUREMENTS = [
    (1, "cold first segment", m_first_segment),
    (2, "cold seek", m_cold_seek),
    (3, "every segment in order", m_full_read),
    (4, "keyframe index", m_keyframe_index),
    (5, "cached read throughput", m_cached_read),
    (6, "stat size vs bytes read", m_size_mismatch),
    (7, "padding", m_padding),
    (8, "quality at equal bytes", m_quality),
    (9, "daemon memory", m_memory),
    (10, "cache churn", m_cache_churn),
    (11, "memory against library size", m_library_memory),
    (12, "padding on real and low-complexity content", m_content_padding),
    (13, "fMP4: CPU the copied original saves", m_fmp4_cpu),
]
