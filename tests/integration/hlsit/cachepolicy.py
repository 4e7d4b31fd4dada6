"""The cache policy of SPEC §5 through a real mount: eviction behind the
reader and by least recent read under a small cache_size, clean=eager,
kill -9 and SIGTERM, options that change the bytes, and the Prometheus
metrics at MOUNT/.hlsfs/metrics.

What is in the cache is read with mdb_dump (Debian's lmdb-utils) from the
"seginfo" table, whose keys are a rendition key (ending in the rendition's
name) followed by the 4-byte big-endian segment index.
"""

import math
import os
import re
import signal
import subprocess
import threading
import time

from . import checks as ck
from .harness import CheckFailed, Collector, expect, fail, note
from .m3u8 import MediaPlaylist, segment_name
from .media import run

CAP = "16M"
CAP_BYTES = 16 << 20
LADDER = "144:400k"             # one small rung: many segments per MB
RUNG = "144p"
KEEP = 30                       # segment_keep of the eviction mounts
LONG_S = 360                    # at least 5 minutes: "behind" applies
SHORT_S = 120


# ---------------------------------------------------------------------------
# Fixtures

def make_title(path, seconds, freq):
    """A 256x144 25 fps H.264 + AAC title with a sine tone."""
    run(["ffmpeg", "-nostdin", "-y", "-v", "error",
         "-f", "lavfi", "-i", "testsrc2=size=256x144:rate=25:duration=%d" % seconds,
         "-f", "lavfi", "-i", "sine=frequency=%d:sample_rate=48000:duration=%d" % (freq, seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "96k", "-shortest", path], timeout=300)


# ---------------------------------------------------------------------------
# What the cache holds

def cached_segments(cache_dir):
    """{rendition name: set of segment indexes} stored in the cache."""
    r = subprocess.run(["mdb_dump", "-s", "seginfo", cache_dir], capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        fail("mdb_dump of %s failed: %s" % (cache_dir, r.stderr.decode(errors="replace")[:300]))
    lines = r.stdout.decode().splitlines()
    try:
        body = lines[lines.index("HEADER=END") + 1:]
    except ValueError:
        fail("mdb_dump printed no header")
    out = {}
    keys = [l.strip() for l in body[0::2] if l.startswith(" ")]
    for hexkey in keys:
        key = bytes.fromhex(hexkey)
        idx = int.from_bytes(key[-4:], "big")
        name = re.search(rb"([A-Za-z0-9_.-]+)$", key[:-4])
        out.setdefault(name.group(1).decode() if name else "?", set()).add(idx)
    return out


def cache_opens(cache_dir):
    """mdb_stat opens the environment as it is (LMDB has no repair step)."""
    r = subprocess.run(["mdb_stat", "-e", cache_dir], capture_output=True, timeout=60)
    expect(r.returncode == 0, "mdb_stat cannot open the cache: %s"
           % r.stderr.decode(errors="replace")[:300])


def data_size(cache_dir):
    return os.stat(os.path.join(cache_dir, "data.mdb")).st_size


# ---------------------------------------------------------------------------
# Metrics: a strict parser of the Prometheus text format

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"\s*(,|$)')


def parse_metrics(text):
    """{(name, ((label, value), ...)): float}. Raises CheckFailed on anything
    the text exposition format does not allow, or on a sample without its
    HELP and TYPE lines, a duplicate series, or a counter not named _total."""
    expect(text.endswith("\n"), "the text does not end with a newline")
    types, helps, out = {}, {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (n, line[:80])
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                expect(METRIC_NAME.match(name), "%s: bad metric name" % where)
                if parts[1] == "TYPE":
                    expect(len(parts) == 4 and parts[3] in
                           ("counter", "gauge", "histogram", "summary", "untyped"),
                           "%s: bad TYPE" % where)
                    expect(name not in types, "%s: second TYPE for %s" % (where, name))
                    expect(not any(k[0] == name for k in out), "%s: TYPE after samples" % where)
                    types[name] = parts[3]
                else:
                    expect(len(parts) == 4 and parts[3].strip(), "%s: empty HELP" % where)
                    expect(name not in helps, "%s: second HELP for %s" % (where, name))
                    helps[name] = parts[3]
            continue
        expect(line.strip(), "%s: empty line" % where)
        m = SAMPLE.match(line)
        expect(m, "%s: not a sample line" % where)
        name, labels_text, value = m.groups()
        expect(name in types and name in helps, "%s: %s has no HELP/TYPE" % (where, name))
        labels = []
        if labels_text:
            inner = labels_text[1:-1]
            pos = 0
            while pos < len(inner):
                lm = LABEL.match(inner, pos)
                expect(lm, "%s: bad labels" % where)
                labels.append((lm.group(1), lm.group(2)))
                pos = lm.end()
        try:
            v = float(value)
        except ValueError:
            fail("%s: value %r is not a number" % (where, value))
        expect(not math.isnan(v), "%s: NaN" % where)
        if types[name] == "counter":
            expect(name.endswith("_total"), "%s: counter not named _total" % where)
            expect(v >= 0, "%s: negative counter" % where)
        key = (name, tuple(sorted(labels)))
        expect(key not in out, "%s: duplicate series" % where)
        out[key] = v
    return out


def metrics(mnt):
    with open(os.path.join(mnt, ".hlsfs", "metrics")) as f:
        return parse_metrics(f.read())


def metric(m, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    if key not in m:
        fail("metric %s%s missing" % (name, labels or ""))
    return m[key]


# ---------------------------------------------------------------------------
# Reading a title like a player

def drop_page_cache(path):
    """Forget the kernel's copy of a file, so that the next read reaches
    hlsfs (and its counters) instead of the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Title:
    def __init__(self, mnt, rel):
        self.path = os.path.join(mnt, rel)
        audio = sorted(os.listdir(os.path.join(self.path, "audio")))
        expect(audio, "no audio rendition")
        self.audio = audio[0]
        with open(os.path.join(self.path, "video", RUNG, "index.m3u8")) as f:
            self.playlist = MediaPlaylist(f.read())
        self.n = len(self.playlist.durations_ms())
        starts = [0]
        for d in self.playlist.durations_ms():
            starts.append(starts[-1] + d)
        self.start_ms = starts

    def seg(self, kind, i):
        name = RUNG if kind == "video" else self.audio
        return os.path.join(self.path, kind, name, segment_name(i, self.n))

    def read(self, i):
        """Video then audio of segment i; each complete, of the stat size."""
        out = {}
        for kind in ("video", "audio"):
            drop_page_cache(self.seg(kind, i))
            before, data, _ = ck.read_whole(self.seg(kind, i))
            expect(len(data) == before.st_size, "%s segment %d: read %d of %d bytes"
                   % (kind, i, len(data), before.st_size))
            expect(data[:1] == b"\x47", "%s segment %d is not MPEG-TS" % (kind, i))
            out[kind] = data
        return out

    def behind_limit(self, i, keep_s):
        """Segments [0, result) end keep_s or more before segment i starts."""
        k = 0
        while k < i and self.start_ms[k + 1] <= self.start_ms[i] - keep_s * 1000:
            k += 1
        return k


# ---------------------------------------------------------------------------
# 1. a long title read start to end through a small cache

def check_behind(m, rel):
    t = Title(m.mountpoint, rel)
    expect(t.start_ms[-1] >= 300000, "the title is shorter than 5 minutes")
    c = Collector()
    peak = 0
    seen_after = {}     # index -> first read after which it was seen cached
    for i in range(t.n):
        t.read(i)
        peak = max(peak, data_size(m.cache_dir))
        held = cached_segments(m.cache_dir)
        v = held.get(RUNG, set())
        # a segment ahead of the reader, once cached, stays cached
        for k in range(i + 1, t.n):
            if k in v:
                seen_after.setdefault(k, i)
            elif k in seen_after:
                c.add("video segment %d, cached after reading %d, was evicted at %d: "
                      "ahead of the reader" % (k, seen_after[k], i))
                seen_after.pop(k)
        # what is gone is behind the reader
        limit = t.behind_limit(i, KEEP)
        for name, segs in ((RUNG, v), (t.audio, held.get(t.audio, set()))):
            gone = [k for k in range(i + 1) if k not in segs]
            wrong = [k for k in gone if k >= limit]
            c.check(not wrong, "after reading %d, %s segments %s are gone but not %d s "
                    "behind the reader" % (i, name, wrong[:6], KEEP))
    c.check(peak <= CAP_BYTES, "data.mdb reached %d bytes, over the %d-byte cap"
            % (peak, CAP_BYTES))
    mt = metrics(m.mountpoint)
    behind = metric(mt, "hlsfs_evictions_total", reason="behind_reader")
    lru = metric(mt, "hlsfs_evictions_total", reason="lru")
    c.check(behind > 0, "nothing was evicted: the test did not fill the cache")
    c.check(lru == 0, "%d segments were evicted as least recently read, with segments "
            "behind the reader left" % lru)
    c.check(metric(mt, "hlsfs_cache_bytes_used") <= CAP_BYTES * 0.9 + 1,
            "cache use above the high mark at the end")
    c.check(metric(mt, "hlsfs_errors_total", kind="not_cached") == 0,
            "segments were served without being cached")
    note("%s: %d segments read through a %s cache; data.mdb peak %d bytes; %d evicted "
         "behind the reader" % (rel, t.n, CAP, peak, behind))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# 2. clean=eager: behind-the-reader segments go without pressure

def check_eager(m, rel, stop_at):
    t = Title(m.mountpoint, rel)
    for i in range(stop_at + 1):
        t.read(i)
    limit = t.behind_limit(stop_at, KEEP)
    expect(limit > 0, "nothing is %d s behind segment %d" % (KEEP, stop_at))
    # a readahead worker drops them after the read that left them behind:
    # wait for it (bounded), then look
    deadline = time.monotonic() + 30
    while (metric(metrics(m.mountpoint), "hlsfs_evictions_total", reason="eager") < 2 * limit
           and time.monotonic() < deadline):
        time.sleep(0.1)
    held = cached_segments(m.cache_dir)
    c = Collector()
    for name in (RUNG, t.audio):
        segs = held.get(name, set())
        left = sorted(k for k in range(limit) if k in segs)
        c.check(not left, "%s segments %s are more than %d s behind the reader and still "
                "cached" % (name, left[:6], KEEP))
        missing = sorted(k for k in range(limit, stop_at + 1) if k not in segs)
        c.check(not missing, "%s segments %s within %d s of the reader were evicted"
                % (name, missing[:6], KEEP))
    mt = metrics(m.mountpoint)
    eager = metric(mt, "hlsfs_evictions_total", reason="eager")
    c.check(eager == 2 * limit, "%d eager evictions, expected %d" % (eager, 2 * limit))
    c.check(metric(mt, "hlsfs_evictions_total", reason="lru") == 0
            and metric(mt, "hlsfs_evictions_total", reason="behind_reader") == 0,
            "evictions under pressure in a cache far from full")
    c.raise_if_any()


def check_pressure_keeps(m, rel, stop_at):
    """The default (clean=pressure) with room to spare evicts nothing."""
    t = Title(m.mountpoint, rel)
    for i in range(stop_at + 1):
        t.read(i)
    held = cached_segments(m.cache_dir)
    missing = [k for k in range(stop_at + 1) if k not in held.get(RUNG, set())]
    expect(not missing, "segments %s evicted without pressure" % missing[:6])
    mt = metrics(m.mountpoint)
    total = sum(v for k, v in mt.items() if k[0] == "hlsfs_evictions_total")
    expect(total == 0, "%d evictions without pressure" % total)


# ---------------------------------------------------------------------------
# 3. two short titles read in turn: the idle one is evicted

def check_lru(m, rel_a, rel_b, idle_s):
    """Title a, then b, fill the cache: a loses segments. b read again is
    whole. Then a's remaining segments are read again first (now the most
    recent), and its missing ones are made again: the victims must be
    b's, the idle title, so that a second read of a finds all of it. A
    policy by storing time instead of reading time fails here."""
    a, b = Title(m.mountpoint, rel_a), Title(m.mountpoint, rel_b)
    c = Collector()

    def read(t, order):
        for i in order:
            t.read(i)
        time.sleep(idle_s + 0.5)    # its session ends: no reader protects it

    def count(name, **labels):
        return metric(metrics(m.mountpoint), name, **labels)

    read(a, range(a.n))
    read(b, range(b.n))
    lru = count("hlsfs_evictions_total", reason="lru")
    expect(lru > 0, "reading the second title evicted nothing: the test did not "
           "fill the cache")
    hits = count("hlsfs_segment_reads_total", result="hit")
    read(b, range(b.n))
    got = count("hlsfs_segment_reads_total", result="hit") - hits
    c.check(got == 2 * b.n, "%d of %d segments of the title read last were still cached"
            % (got, 2 * b.n))
    read(a, reversed(range(a.n)))
    misses = count("hlsfs_segment_reads_total", result="miss")
    read(a, range(a.n))
    again = count("hlsfs_segment_reads_total", result="miss") - misses
    c.check(again == 0, "%d segments of the title read last were evicted instead of the "
            "idle one's" % again)
    c.check(count("hlsfs_evictions_total", reason="behind_reader") == 0,
            "behind-the-reader evictions on titles shorter than 5 minutes")
    note("LRU: %d segments evicted in all" % count("hlsfs_evictions_total", reason="lru"))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# 4. kill -9 during a bulk read, then a remount on the same cache

def bulk_read_until_killed(t, stop):
    """Read segments in order until reads fail (the daemon is gone)."""
    for i in range(t.n):
        if stop.is_set():
            return
        try:
            t.read(i)
        except (OSError, CheckFailed):
            return


def kill_during_read(m, rel, min_cached):
    """Returns the segments cached when the daemon was killed."""
    t = Title(m.mountpoint, rel)
    stop = threading.Event()
    th = threading.Thread(target=bulk_read_until_killed, args=(t, stop), daemon=True)
    th.start()
    deadline = time.monotonic() + 240
    held = {}
    while time.monotonic() < deadline:
        held = cached_segments(m.cache_dir)
        if len(held.get(RUNG, ())) >= min_cached:
            break
        time.sleep(0.05)
    expect(len(held.get(RUNG, ())) >= min_cached,
           "fewer than %d segments cached in time" % min_cached)
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(timeout=10)
    stop.set()
    r = subprocess.run(["fusermount3", "-u", m.mountpoint], capture_output=True, text=True,
                       timeout=15)
    expect(r.returncode == 0, "fusermount3 -u after kill -9 failed: %s" % r.stderr.strip())
    th.join(timeout=30)
    expect(not th.is_alive(), "a reader still hangs after the unmount")
    cache_opens(m.cache_dir)
    return cached_segments(m.cache_dir)


def check_resume(m, rel, held, scratch):
    """Every segment cached before the kill is served with no new encode;
    then the whole title decodes."""
    t = Title(m.mountpoint, rel)
    vids = sorted(held.get(RUNG, ()))
    auds = sorted(held.get(t.audio, ()))
    expect(vids, "nothing was cached before the kill")
    for i in vids:
        drop_page_cache(t.seg("video", i))
        ck.read_whole(t.seg("video", i))
    for i in auds:
        drop_page_cache(t.seg("audio", i))
        ck.read_whole(t.seg("audio", i))
    mt = metrics(m.mountpoint)
    encodes = sum(v for k, v in mt.items() if k[0] == "hlsfs_encodes_total")
    hits = metric(mt, "hlsfs_segment_reads_total", result="hit")
    expect(encodes == 0, "%d segments encoded again after the remount (metrics)" % encodes)
    expect(hits == len(vids) + len(auds), "%d cache hits for %d segments cached before "
           "the kill" % (hits, len(vids) + len(auds)))
    # the whole title, cached and new segments together, decodes
    paths = {"video": os.path.join(scratch, "resume.v.ts"),
             "audio": os.path.join(scratch, "resume.a.ts")}
    with open(paths["video"], "wb") as fv, open(paths["audio"], "wb") as fa:
        for i in range(t.n):
            d = t.read(i)
            fv.write(d["video"])
            fa.write(d["audio"])
    for kind, path in paths.items():
        r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
                           capture_output=True, text=True, timeout=300)
        expect(r.returncode == 0 and not r.stderr.strip(),
               "%s of the resumed title does not decode cleanly: %s"
               % (kind, r.stderr.strip()[:300]))
        r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", path], capture_output=True, text=True, timeout=60)
        dur = float(r.stdout.strip() or "nan")
        expect(abs(dur - t.start_ms[-1] / 1000) < 0.5, "%s lasts %.2f s, the playlist %.2f s"
               % (kind, dur, t.start_ms[-1] / 1000))
    note("kill -9: %d video and %d audio segments were cached before the kill; all served "
         "after the remount with no encode" % (len(vids), len(auds)))


def check_sigterm(m, rel):
    """SIGTERM while an encode runs and a playlist is held open: the daemon
    exits 0 (under the sanitizers: it released the handles the kernel
    never released, so nothing leaks), the mount goes, the cache opens."""
    t = Title(m.mountpoint, rel)
    held = open(os.path.join(m.mountpoint, rel, "master.m3u8"), "rb")
    th = threading.Thread(target=lambda: _quiet_read(t, t.n - 1), daemon=True)
    th.start()
    time.sleep(0.3)
    m.proc.send_signal(signal.SIGTERM)
    try:
        status = m.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        fail("hlsfs still runs 15 s after SIGTERM")
    finally:
        try:
            held.close()
        except OSError:
            pass
    th.join(timeout=15)
    expect(status == 0, "exit status %s after SIGTERM; log: %s" % (status, m.log_tail()))
    from .harness import is_mounted
    expect(not is_mounted(m.mountpoint), "still mounted after SIGTERM")
    cache_opens(m.cache_dir)


def _quiet_read(t, i):
    try:
        t.read(i)
    except (OSError, CheckFailed):
        pass


# ---------------------------------------------------------------------------
# 5. other options never reuse the cached segments

def check_other_options(m, rel, held):
    t = Title(m.mountpoint, rel)
    cached = sorted(held.get(RUNG, ()))[:2]
    expect(cached, "nothing cached to test with")
    for i in cached:
        if i < t.n:
            t.read(i)
    mt = metrics(m.mountpoint)
    hits = metric(mt, "hlsfs_segment_reads_total", result="hit")
    encodes = metric(mt, "hlsfs_encodes_total", kind="video")
    expect(hits == 0, "%d segments served from a cache made with other options" % hits)
    expect(encodes >= len(cached), "%d video encodes for %d segments read" % (encodes, len(cached)))


# ---------------------------------------------------------------------------
# 6. metrics

def check_metrics(m):
    mnt = m.mountpoint
    expect(".hlsfs" not in os.listdir(mnt), ".hlsfs is listed in the root")
    expect(sorted(os.listdir(os.path.join(mnt, ".hlsfs"))) == ["metrics", "metrics.prom"],
           "unexpected .hlsfs listing %s" % os.listdir(os.path.join(mnt, ".hlsfs")))
    with open(os.path.join(mnt, ".hlsfs", "metrics")) as f:
        text = f.read()
    with open(os.path.join(mnt, ".hlsfs", "metrics.prom")) as f:
        parse_metrics(f.read())
    mt = parse_metrics(text)
    names = {k[0] for k in mt}
    want = ["hlsfs_segment_reads_total", "hlsfs_encodes_total", "hlsfs_encode_seconds_total",
            "hlsfs_encode_realtime_factor", "hlsfs_active_sessions", "hlsfs_waiting_readers",
            "hlsfs_cache_bytes_used", "hlsfs_cache_bytes_cap", "hlsfs_evictions_total",
            "hlsfs_errors_total"]
    missing = [n for n in want if n not in names]
    expect(not missing, "metrics missing: %s" % missing)
    expect(metric(mt, "hlsfs_cache_bytes_cap") == CAP_BYTES, "cap %s, not %d"
           % (metric(mt, "hlsfs_cache_bytes_cap"), CAP_BYTES))
    promtool = subprocess.run(["sh", "-c", "command -v promtool"], capture_output=True)
    if promtool.returncode == 0:
        r = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True, timeout=30)
        expect(r.returncode == 0, "promtool: %s" % (r.stdout + r.stderr).strip()[:300])
    # the parser itself rejects what it must
    for bad in ("x_total 1\n", "# HELP a b\n# TYPE a counter\na 1\n",
                "# HELP a b\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"1\"} 2\n",
                "# HELP a b\n# TYPE a gauge\na 1"):
        try:
            parse_metrics(bad)
        except CheckFailed:
            continue
        fail("the metrics parser accepts %r" % bad)
