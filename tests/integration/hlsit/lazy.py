"""Checks of lazy production: reading order, determinism, concurrent
readers, readahead, the segment cache, and sources that break mid-file.

They look at what the daemon logs: one line per segment it makes,

    <absolute source path>: encoded video/<name> segment <N> made in <ms> ms (<x>x realtime, <p>% padding)
    <absolute source path>: encoded audio/<K> segment <N> made in ...
    <absolute source path>: copied video/original segment <N> made in ...

and nothing for a segment served from the cache.
"""

import errno
import os
import re
import threading
import time
from fractions import Fraction

from .checks import (OFFSET_TICKS, made_lines, read_whole, sha256, to_ts_ticks,
                     tolerant_extinf, ts_diff, verify_file)
from .harness import Collector, expect
from .m3u8 import segment_name
from .media import AUDIO_RATE, Decode, decode_audio, ffprobe_json, fmt_s, run

SCATTER_HEAD = (5, 1, 9, 0, 2)


def scattered_order(n):
    """5, 1, 9, 0, 2 (those that exist), then the others from the last down."""
    head = [i for i in SCATTER_HEAD if i < n]
    return head + [i for i in reversed(range(n)) if i not in head]


def timed_read(path, timeout):
    """Read a file in a thread. Returns (outcome, value, seconds): ("ok",
    bytes), ("error", OSError) or ("hang", None) when it did not return in
    time (the thread stays blocked until the mount goes away)."""
    box = {}

    def body():
        t0 = time.monotonic()
        try:
            box["data"] = read_whole(path)[1]
        except OSError as e:
            box["err"] = e
        box["secs"] = time.monotonic() - t0

    th = threading.Thread(target=body, name="timed-read", daemon=True)
    t0 = time.monotonic()
    th.start()
    th.join(timeout)
    if th.is_alive():
        return "hang", None, time.monotonic() - t0
    if "err" in box:
        return "error", box["err"], box["secs"]
    return "ok", box["data"], box["secs"]


# ---------------------------------------------------------------------------
# 3. Scattered reads: concatenation decodes to the whole title

def read_scattered(tv, kind, name, n, store):
    """Read every segment of a rendition in scattered order; returns
    {index: bytes}; records (size, sha256) per file in store."""
    d = tv.rdir(kind, name)
    out = {}
    c = Collector()
    for i in scattered_order(n):
        rel = os.path.join(tv.rel, kind, name, segment_name(i, n))
        data = verify_file(os.path.join(d, segment_name(i, n)), None, c, rel, ts=True)
        if data is not None:
            out[i] = data
            store[rel] = (len(data), sha256(data))
    c.raise_if_any()
    return out


def check_concat_video(segs, ex, tmp_path):
    """The concatenated segments decode without a message and hold exactly
    the source's frames presented from the first keyframe on, at their
    timestamps + 1.4 s."""
    n = len(ex.plan)
    expect(sorted(segs) == list(range(n)), "segments %s missing" % sorted(set(range(n)) - set(segs)))
    with open(tmp_path, "wb") as f:
        for i in range(n):
            f.write(segs[i])
    dec = Decode(tmp_path, crc=False)
    c = Collector()
    c.check(dec.returncode == 0, "ffmpeg exit status %d" % dec.returncode)
    c.check(not dec.stderr, "decoding the concatenation: %s" % dec.stderr[:3])
    want = [to_ts_ticks(t) + OFFSET_TICKS for t in ex.sv.frames_from(ex.plan.start(0))]
    c.check(len(dec.frames) == len(want), "%d frames decode from the concatenated segments, the "
            "source has %d from its first keyframe on" % (len(dec.frames), len(want)))
    if not c and dec.tb is not None:
        got = sorted(round(Fraction(p) * dec.tb * 90000) for p, _ in dec.frames)
        bad = [(g, w) for g, w in zip(got, want) if abs(ts_diff(g, w)) > 1]
        c.check(not bad, "%d frames are not at source PTS + 1.4 s (first: %s s, want %s s)"
                % (len(bad), bad and fmt_s(Fraction(bad[0][0], 90000)),
                   bad and fmt_s(Fraction(bad[0][1], 90000))))
    c.raise_if_any()


def check_concat_audio(segs, ex, tmp_path, sine=None):
    """The concatenated audio segments decode without a message to exactly
    grid end - O samples (within one AAC frame of the other reading of the
    video's end). For a tone fixture: the signal is the source's where the
    source has audio, silence elsewhere, and steps no more across a
    segment boundary than the tone itself does."""
    n = len(ex.plan)
    expect(sorted(segs) == list(range(n)), "segments %s missing" % sorted(set(range(n)) - set(segs)))
    with open(tmp_path, "wb") as f:
        for i in range(n):
            f.write(segs[i])
    rc, lines, samples = decode_audio(tmp_path)
    c = Collector()
    c.check(rc == 0, "ffmpeg exit status %d" % rc)
    c.check(not lines, "decoding the concatenation: %s" % lines[:3])
    frames = len(samples) // 2
    want = ex.grid[-1] - ex.grid[0]
    alt = ex.alt_end - ex.grid[0]
    c.check(frames == want or abs(frames - alt) <= 1024,
            "%d samples decode from the concatenated segments, want %d (grid from %d to %d)"
            % (frames, want, ex.grid[0], ex.grid[-1]))
    c.raise_if_any()
    if sine is not None:
        check_sine(samples, ex, sine)


def check_sine(samples, ex, sine):
    """samples: the decoded concatenation (stereo, interleaved), sample j at
    (O + j) / 48000 s. sine: (ordinal, freq, source path)."""
    ordinal, freq, src_path = sine
    a = ex.audio_src(str(ordinal))
    expect(a is not None and a.get("start") is not None, "the source has no audio %d" % ordinal)
    rc, lines, ref = decode_audio(src_path, "0:a:%d" % ordinal)
    expect(rc == 0 and len(ref) > 4096, "cannot decode the source's audio: %s" % lines[:2])
    left = samples[0::2]
    rleft = ref[0::2]
    amp = max(abs(x) for x in rleft)
    expect(amp > 0.01, "the source tone is silent")
    max_step = max(abs(rleft[k + 1] - rleft[k]) for k in range(min(len(rleft) - 1, 48000)))
    # ref sample r is at source time start + r / 48000: j = r + shift
    shift = int(round(a["start"] * AUDIO_RATE)) - ex.grid[0]
    lo, hi = shift, shift + len(rleft)
    margin = 2048
    c = Collector(limit=6)
    worst, worst_j = 0.0, None
    for j in range(max(0, lo + margin), min(len(left), hi - margin)):
        e = abs(left[j] - rleft[j - shift])
        if e > worst:
            worst, worst_j = e, j
    c.check(worst <= 0.1 * amp,
            "differs from the source tone by up to %.4f (amplitude %.4f) at %s s"
            % (worst, amp, worst_j is not None and fmt_s(Fraction(ex.grid[0] + worst_j, AUDIO_RATE))))
    loud = 0.0
    for rng in (range(0, max(0, lo - margin)), range(max(0, hi + margin), len(left))):
        for j in rng:
            if abs(left[j]) > loud:
                loud = abs(left[j])
    c.check(loud <= 0.01 * amp, "where the source has no audio the output reaches %.4f, "
            "want silence" % loud)
    limit = 1.5 * max_step + 0.002
    for i in range(1, len(ex.plan)):
        k = ex.grid[i] - ex.grid[0]
        if not (lo + margin <= k <= hi - margin):
            continue
        step = max(abs(left[j + 1] - left[j]) for j in range(k - 64, k + 64))
        c.check(step <= limit, "a step of %.4f at the boundary of segment %d (%s s); the tone "
                "steps at most %.4f" % (step, i, fmt_s(Fraction(ex.grid[i], AUDIO_RATE)), max_step))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# Determinism

def check_same_bytes(mnt, want, order_note="in order"):
    """Read want's files (rel -> (size, sha256)) in order of name; every
    one must be byte-identical."""
    expect(want, "nothing was recorded to compare with")
    c = Collector()
    same = 0
    for rel in sorted(want):
        size, digest = want[rel]
        data = verify_file(os.path.join(mnt, rel), size, c, rel, ts=rel.endswith(".ts"))
        if data is None:
            continue
        if sha256(data) != digest:
            c.add("%s: bytes differ (read %s here)" % (rel, order_note))
        else:
            same += 1
    c.raise_if_any()
    return same


# ---------------------------------------------------------------------------
# 4. Concurrent readers of one segment

def check_concurrent_one(m, tv, kind, name, index, n, src_abs, readers=8, timeout=120):
    """readers threads read one segment nobody has read yet, all at once:
    identical bytes, as many as stat says, and exactly one "made" line."""
    path = os.path.join(tv.rdir(kind, name), segment_name(index, n))
    before = [x for x in made_lines(m.log_text(), src_abs)
              if (x["kind"], x["name"], x["seg"]) == (kind, name, index)]
    expect(not before, "the segment was made before the test: %s" % before)
    size = os.stat(path).st_size
    barrier = threading.Barrier(readers)
    results = [None] * readers

    def reader(k):
        try:
            barrier.wait(30)
            results[k] = read_whole(path)[1]
        except (OSError, threading.BrokenBarrierError) as e:
            results[k] = e

    threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(readers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    c = Collector()
    hung = sum(t.is_alive() for t in threads)
    c.check(not hung, "%d of %d readers did not return within %d s" % (hung, readers, timeout))
    errs = [r for r in results if isinstance(r, Exception)]
    c.check(not errs, "readers failed: %s" % errs[:3])
    datas = [r for r in results if isinstance(r, bytes)]
    c.check(len({sha256(d) for d in datas}) <= 1, "readers got %d different contents"
            % len({sha256(d) for d in datas}))
    c.check(all(len(d) == size for d in datas), "read %s bytes, stat says %d"
            % (sorted({len(d) for d in datas}), size))
    time.sleep(0.3)
    made = [x for x in made_lines(m.log_text(), src_abs)
            if (x["kind"], x["name"], x["seg"]) == (kind, name, index)]
    c.check(len(made) == 1, "%d \"made\" lines for %s/%s segment %d (want exactly 1); log: %s"
            % (len(made), kind, name, index, m.log_tail(4)))
    c.raise_if_any()


# ---------------------------------------------------------------------------
# 5. Readahead

def wait_quiet(m, src_abs, quiet, since, limit):
    """Poll the log until no "made" line for src_abs has appeared for
    'quiet' seconds and at least 'quiet' seconds have passed since 'since'
    (monotonic); at most 'limit' seconds. Returns the lines."""
    deadline = time.monotonic() + limit
    last_n, last_change = -1, time.monotonic()
    while True:
        lines = made_lines(m.log_text(), src_abs)
        now = time.monotonic()
        if len(lines) != last_n:
            last_n, last_change = len(lines), now
        if now - last_change >= quiet and now - since >= quiet:
            return lines, True
        if now >= deadline:
            return lines, False
        time.sleep(0.2)


def readahead_window(plan, furthest, max_ahead):
    """Segments readahead must make after a read of 'furthest': those that
    start less than max_ahead seconds after its end."""
    horizon = plan.stop(furthest) + Fraction(max_ahead)
    return [i for i in range(furthest + 1, len(plan)) if plan.start(i) < horizon]


def check_readahead(m, tv, ex, rung, src_abs, index, max_ahead, idle, already=()):
    """Read segment 'index' of one rung; once the log is quiet, the made
    segments are exactly 'index' and the readahead window after it, of
    that rung only (besides 'already', made before). Returns the lines."""
    n = len(ex.plan)
    before = made_lines(m.log_text(), src_abs)
    expect([(x["kind"], x["name"], x["seg"]) for x in before] == list(already),
           "made before this read: %s, expected %s"
           % ([(x["kind"], x["name"], x["seg"]) for x in before], list(already)))
    path = os.path.join(tv.rdir("video", rung), segment_name(index, n))
    t0 = time.monotonic()
    outcome, val, secs = timed_read(path, 60)
    expect(outcome == "ok", "reading video/%s/%s: %s" % (rung, segment_name(index, n),
                                                        outcome if outcome != "error" else val))
    lines, quiet = wait_quiet(m, src_abs, idle + 1, t0, 20)
    expect(quiet, "the log did not go quiet within 20 s of the read: %d \"made\" lines"
           % len(lines))
    new = [(x["kind"], x["name"], x["seg"]) for x in lines[len(before):]]
    want = [index] + readahead_window(ex.plan, index, max_ahead)
    c = Collector()
    others = [x for x in new if x[:2] != ("video", rung)]
    c.check(not others, "other renditions were made: %s" % others[:6])
    segs = [x[2] for x in new if x[:2] == ("video", rung)]
    c.check(len(segs) == len(set(segs)), "segments made twice: %s" % segs)
    c.check(sorted(set(segs)) == want,
            "after reading segment %d, video/%s made %s; want exactly %s (segment %d ends at "
            "%s s; max_ahead %s s: segments starting before %s s)"
            % (index, rung, sorted(set(segs)), want, index, fmt_s(ex.plan.stop(index)), max_ahead,
               fmt_s(ex.plan.stop(index) + max_ahead)))
    c.raise_if_any()
    return lines


def check_idle_quiet(m, src_abs, idle):
    """Nothing more is made for 2 x idle_timeout once readahead stopped."""
    n0 = len(made_lines(m.log_text(), src_abs))
    time.sleep(2 * idle)
    lines = made_lines(m.log_text(), src_abs)
    expect(len(lines) == n0, "%d segments made while nobody read: %s"
           % (len(lines) - n0, [(x["kind"], x["name"], x["seg"]) for x in lines[n0:]][:6]))


# ---------------------------------------------------------------------------
# 6. No re-encode

def check_no_reencode(m, mnt, want, label):
    """Every file of want reads back identical and no "made" line appears."""
    n0 = len(made_lines(m.log_text()))
    same = check_same_bytes(mnt, want, label)
    time.sleep(0.3)
    lines = made_lines(m.log_text())
    expect(len(lines) == n0, "%d segments were made again (%s): %s"
           % (len(lines) - n0, label,
              ["%s/%s %d" % (x["kind"], x["name"], x["seg"]) for x in lines[n0:]][:6]))
    return same


# ---------------------------------------------------------------------------
# 7. A source that breaks mid-file

def damaged_interval(intact_path, damage):
    """Presentation interval (s) of the packets of the intact copy that the
    damaged bytes overwrote (or straddle)."""
    off, length = damage
    data = ffprobe_json(intact_path, ["-show_entries",
                                      "stream=index,time_base:packet=stream_index,pts,dts,pos,size"])
    tbs = {}
    for st in data.get("streams") or []:
        num, den = st["time_base"].split("/")
        tbs[st["index"]] = Fraction(int(num), int(den))
    times = []
    # a PES of an MPEG-TS source spans more bytes than its payload: widen by 64 KB
    lo, hi = off - 65536, off + length
    for p in data.get("packets") or []:
        pos = int(p.get("pos") or -1)
        t = p.get("pts") if p.get("pts") is not None else p.get("dts")
        if pos < 0 or t is None:
            continue
        if lo <= pos < hi:
            times.append(Fraction(int(t)) * tbs[p["stream_index"]])
    expect(times, "no packet of the intact copy lies in the damaged bytes")
    return min(times), max(times)


def check_broken(m, tv, ex, damaged, src_abs, read_timeout=20, eio_limit=10):
    """Every segment of every rendition either reads fully (stat size, valid
    MPEG-TS) or fails with EIO within eio_limit seconds, with an error line
    naming the file and the segment; a read that does not return within
    read_timeout is a hang. Segments at least a second away from the
    damage read and decode without a message. Returns a summary."""
    t0, t1 = damaged
    c = Collector(limit=10)
    summary = {}
    rends = [("video", v) for v in tv.renditions("video")] + \
            [("audio", a) for a in tv.renditions("audio")]
    expect(rends, "no renditions")
    # The daemon's segments, timed from its playlist: where the damage hides
    # keyframes, a plan from ffprobe's packet scan need not be the daemon's.
    durs = [Fraction(ms, 1000) for ms in tolerant_extinf(tv.read_text(*rends[0], "index.m3u8"))]
    expect(durs, "no segments in %s/%s/index.m3u8" % rends[0])
    n = len(durs)
    starts = [ex.plan.start(0)]
    for d in durs:
        starts.append(starts[-1] + d)
    for kind, name in rends:
        for i in range(n):
            label = "%s/%s/%s" % (kind, name, segment_name(i, n))
            path = os.path.join(tv.rdir(kind, name), segment_name(i, n))
            clean = starts[i + 1] < t0 - 1 or starts[i] > t1 + 1
            try:
                size = os.stat(path).st_size
            except OSError as e:
                c.add("%s: stat: %s" % (label, e))
                continue
            outcome, val, secs = timed_read(path, read_timeout)
            if outcome == "hang":
                c.add("%s: the read did not return within %d s" % (label, read_timeout))
                summary[label] = "hang"
                # the daemon is stuck on this title: the rest would hang too
                c.raise_if_any()
            if outcome == "error":
                summary[label] = "EIO" if val.errno == errno.EIO else errno.errorcode.get(val.errno)
                if val.errno != errno.EIO:
                    c.add("%s: %s, want the data or EIO" % (label, val))
                elif secs > eio_limit:
                    c.add("%s: EIO after %.1f s, want it within %d s" % (label, secs, eio_limit))
                if clean:
                    c.add("%s: %s, although its interval [%s, %s) s is away from the damage "
                          "(%s..%s s)" % (label, val, fmt_s(starts[i]), fmt_s(starts[i + 1]),
                                          fmt_s(t0), fmt_s(t1)))
                pat = re.compile(r"%s: .*%s/%s segment %d\b" % (re.escape(src_abs), kind,
                                                                re.escape(name), i))
                if not any(pat.search(l) for l in m.log_text().splitlines()):
                    c.add("%s failed but no log line names %s and %s/%s segment %d"
                          % (label, src_abs, kind, name, i))
                continue
            data = val
            summary[label] = "ok"
            if len(data) != size:
                c.add("%s: read %d bytes, stat says %d" % (label, len(data), size))
            if len(data) % 188 or any(data[k] != 0x47 for k in range(0, len(data), 188)):
                c.add("%s: not MPEG-TS packets" % label)
            if clean:
                r = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
                        timeout=60)
                msgs = [l for l in r.stderr.splitlines() if l.strip()]
                if r.returncode != 0 or msgs:
                    c.add("%s (away from the damage) does not decode cleanly: %s"
                          % (label, msgs[:2] or r.returncode))
    c.raise_if_any()
    return summary


def check_crew_priorities(pid):
    """The scheduler's workers: threads named hlsfs-wait* (segments a
    reader waits for) run at the daemon's own nice value, hlsfs-ahead*
    (readahead) 10 above it. Codec threads a worker starts carry its name
    and its nice value, so they pass the same check."""
    task_dir = "/proc/%d/task" % pid
    base = os.getpriority(os.PRIO_PROCESS, pid)
    wait, ahead = [], []
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                comm = f.read().strip()
            nice = os.getpriority(os.PRIO_PROCESS, int(tid))
        except (FileNotFoundError, ProcessLookupError):
            continue            # a thread that just ended
        if comm.startswith("hlsfs-wait"):
            wait.append(nice)
        elif comm.startswith("hlsfs-ahead"):
            ahead.append(nice)
    expect(wait and ahead, "no worker threads found (wait %s, ahead %s)" % (wait, ahead))
    expect(all(n == base for n in wait), "waiting crew at nice %s, want %d" % (wait, base))
    want = min(base + 10, 19)
    expect(all(n == want for n in ahead), "readahead crew at nice %s, want %d" % (ahead, want))
