"""Robustness checks (no file, timestamp, signal or crowd of readers takes
the mount down): joined recordings whose clock jumps 10 hours ahead or
back, a file with one damaged timestamp, a VFR title's last frame, sparse
keyframes, SIGTERM while an encode runs, the titles kept in memory, and 64
readers waiting for encodes while others are served."""

import os
import re
import signal
import subprocess
import time

from .harness import expect, fail
from .media import count_frames

JOIN_GAP_S = 36000          # the second part's clock starts 10 h later


def _ffmpeg(args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL)


def make_fixtures(src, scratch):
    """joined.ts: two 8 s recordings joined with cat, the second's clock
    10 h ahead; outlier.flv: one video tag's timestamp set to 2^31 - 1;
    slow.mp4: a 1080p title with one 12 s segment (slow to encode)."""
    parts = []
    for i, offset in enumerate((0, JOIN_GAP_S)):
        p = os.path.join(scratch, "part%d.ts" % i)
        _ffmpeg(["-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=8",
                 "-f", "lavfi", "-i", "sine=d=8", "-c:v", "libx264", "-g", "25",
                 "-c:a", "aac", "-output_ts_offset", str(offset), p])
        parts.append(p)
    with open(os.path.join(src, "joined.ts"), "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                out.write(f.read())
    # the same parts the other way round: the clock jumps back 10 h
    with open(os.path.join(src, "backwards.ts"), "wb") as out:
        for p in reversed(parts):
            with open(p, "rb") as f:
                out.write(f.read())
    flv = os.path.join(scratch, "clean.flv")
    _ffmpeg(["-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=4",
             "-f", "lavfi", "-i", "sine=d=4", "-c:v", "libx264", "-g", "25",
             "-bf", "0", "-c:a", "aac", flv])
    data = bytearray(open(flv, "rb").read())
    i, n, damaged = 13, 0, False
    while i + 11 < len(data):
        size = int.from_bytes(data[i + 1:i + 4], "big")
        if data[i] == 9:
            n += 1
            if n == 40:             # a tag in the middle: 0x7fffffff ms
                data[i + 4:i + 7] = b"\xff\xff\xff"
                data[i + 7] = 0x7f
                damaged = True
        i += 11 + size + 4
    expect(damaged, "the FLV fixture has fewer than 40 video tags")
    open(os.path.join(src, "outlier.flv"), "wb").write(bytes(data))
    # vfr.mp4: B-frames, and the last frames further apart than the rest:
    # the last one shown is past what the keyframes' offset predicts
    _ffmpeg(["-f", "lavfi", "-i", "testsrc=s=320x240:r=30:d=24.8",
             "-vf", "setpts='if(gte(N,740),PTS+0.1/TB+(N-740)*0.05/TB,PTS)'",
             "-fps_mode", "vfr", "-c:v", "libx264", "-g", "60",
             os.path.join(src, "vfr.mp4")])
    # sparse.mp4: a keyframe every 30 s (screen recordings, stills)
    _ffmpeg(["-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=60",
             "-f", "lavfi", "-i", "sine=d=60", "-c:v", "libx264", "-g", "750",
             "-keyint_min", "750", "-sc_threshold", "0", "-c:a", "aac",
             os.path.join(src, "sparse.mp4")])
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=12",
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "400",
             os.path.join(src, "slow.mp4")])


def _plays_on(m, name):
    """A joined title plays as one of about 16 s: target duration small,
    every video frame in some segment, every audio segment full."""
    d = os.path.join(m.mountpoint, name)
    names = sorted(os.listdir(d))
    expect("ERROR" not in names, "%s: ERROR %r" % (name,
           open(os.path.join(d, "ERROR")).read().strip() if "ERROR" in names else ""))
    rd = os.path.join(d, "video", sorted(os.listdir(os.path.join(d, "video")))[0])
    pl = open(os.path.join(rd, "index.m3u8")).read()
    expect(_target(pl) is not None and _target(pl) <= 7, "EXT-X-TARGETDURATION %s" % _target(pl))
    total = sum(float(x) for x in re.findall(r"#EXTINF:([\d.]+),", pl))
    expect(15.9 <= total <= 16.5, "%s lasts %.3f s, not about 16" % (name, total))
    segs = sorted(f for f in os.listdir(rd) if f.endswith(".ts"))
    frames = [count_frames(os.path.join(rd, f)) for f in segs]
    expect(sum(f or 0 for f in frames) == 400, "video frames per segment %s, not 400 in all" % frames)
    ad = os.path.join(d, "audio", "0")
    apl = open(os.path.join(ad, "index.m3u8")).read()
    for f, dur in zip(sorted(x for x in os.listdir(ad) if x.endswith(".ts")),
                      (float(x) for x in re.findall(r"#EXTINF:([\d.]+),", apl))):
        n, want = count_frames(os.path.join(ad, f), "a"), dur * 48000 / 1024
        expect(n and n >= 0.95 * want, "audio/0/%s: %s AAC frames for %.3f s" % (f, n, dur))


def check_joined(m):
    """Two 8 s recordings joined with cat, the second's clock 10 h ahead:
    one continuous title, the second part re-timed to follow the first."""
    _plays_on(m, "joined.ts")
    expect("re-timed" in m.log_text(), "no log line about the re-timed part")


def check_backwards(m):
    """The same parts the other way round, the clock 10 h back: MPEG-TS
    clocks wrap (33 bits), and libavformat reads a clock that goes back
    as one that wrapped and goes on; so the title plays on as well. (A
    jump back that is no wrap gets ERROR: test_title's timeline case.)"""
    _plays_on(m, "backwards.ts")


def _target(playlist):
    mt = re.search(r"#EXT-X-TARGETDURATION:(\d+)", playlist)
    return int(mt.group(1)) if mt else None


def check_outlier(m):
    """One damaged timestamp: left out of the plan; every transcoded and
    audio segment reads back its stat size; target duration small."""
    d = os.path.join(m.mountpoint, "outlier.flv")
    master = open(os.path.join(d, "master.m3u8")).read()
    expect("#EXT-X-STREAM-INF" in master, "no variant in the master")
    read = 0
    for kind in ("video", "audio"):
        for name in sorted(os.listdir(os.path.join(d, kind))):
            rd = os.path.join(d, kind, name)
            pl = open(os.path.join(rd, "index.m3u8")).read()
            td = _target(pl)
            expect(td is not None and td <= 6,
                   "%s/%s: EXT-X-TARGETDURATION %s" % (kind, name, td))
            if name == "original":
                continue            # the copy may fail with EIO: its dts go back
            for seg in sorted(f for f in os.listdir(rd) if f.endswith(".ts")):
                p = os.path.join(rd, seg)
                size = os.stat(p).st_size
                got = len(open(p, "rb").read())
                expect(size == got, "%s/%s/%s: stat %d, read %d" % (kind, name, seg, size, got))
                expect(size < 50 << 20, "%s/%s/%s: %d bytes" % (kind, name, seg, size))
                read += 1
    expect(read >= 2, "only %d segments read" % read)


def _metric(m, name):
    text = open(os.path.join(m.mountpoint, ".hlsfs", "metrics")).read()
    mt = re.search(r"^%s (\d+)" % re.escape(name), text, re.M)
    return int(mt.group(1)) if mt else None


def check_sigterm_stops_encode(m):
    """SIGTERM while a reader waits for an encode: the encode gives up (a
    "stopped (shutting down)" line, no "made" line for it), the reader
    gets an answer, and the daemon exits. Before, the daemon finished the
    encode first."""
    seg = os.path.join(m.mountpoint, "slow.mp4", "video", "1080p", "00000.ts")
    if not os.path.exists(seg):
        seg = os.path.join(m.mountpoint, "slow.mp4", "video", "720p", "00000.ts")
    os.stat(seg)
    reader = subprocess.Popen(["cat", seg], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):        # until the encode runs (bounded)
            if _metric(m, "hlsfs_running_encodes"):
                break
            time.sleep(0.025)
        else:
            fail("the encode never showed as running")
        m.proc.send_signal(signal.SIGTERM)
        m.proc.wait(timeout=30)
        reader.wait(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
    log = m.log_text()
    rung = os.path.basename(os.path.dirname(seg))
    made = re.search(r"slow\.mp4: encoded video/%s segment 0 made" % rung, log)
    expect(not made, "the encode was finished before the daemon exited")
    expect("stopped (shutting down)" in log,
           "no 'stopped (shutting down)' line; log ends: %s" % m.log_tail(20))
    expect(m.proc.returncode == 0, "exit status %s" % m.proc.returncode)


STARVE_READERS = 64


def make_starve_fixture(src):
    """crowd.mp4: 720p, 70 s, a keyframe a second: with segment_time=1, 70
    segments to read at once."""
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=70",
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
             os.path.join(src, "crowd.mp4")])


def check_no_starvation(m):
    """64 readers wait for 64 uncached segments; a cached segment read, a
    stat, a readdir and a playlist read all complete before any of the 64
    (by order, not by a clock). The mount encodes one segment at a time
    with a slow preset, so the 64 wait for a long while."""
    import threading
    d = os.path.join(m.mountpoint, "crowd.mp4")
    rd = os.path.join(d, "video", "720p")
    segs = sorted(f for f in os.listdir(rd) if f.endswith(".ts"))
    expect(len(segs) > STARVE_READERS, "only %d segments" % len(segs))
    cached = os.path.join(d, "video", "original", "00000.ts")
    with open(cached, "rb") as f:
        f.read()                    # made and cached before the crowd comes
    order, lock = [], threading.Lock()

    def cold(i):
        try:
            with open(os.path.join(rd, segs[i + 1]), "rb") as f:
                f.read()
            what = "cold"
        except OSError:
            what = "cold-error"
        with lock:
            order.append(what)

    threads = [threading.Thread(target=cold, args=(i,), daemon=True)
               for i in range(STARVE_READERS)]
    for t in threads:
        t.start()
    try:
        waiting = 0
        for _ in range(1200):       # until all 64 wait in the scheduler (bounded)
            waiting = _metric(m, "hlsfs_waiting_readers") or 0
            if waiting >= STARVE_READERS or order:
                break
            time.sleep(0.05)
        expect(waiting >= STARVE_READERS,
               "%d readers waiting, not %d (%d done)" % (waiting, STARVE_READERS, len(order)))
        with open(cached, "rb") as f:
            f.read()
        with lock:
            order.append("cached")
        os.stat(os.path.join(rd, segs[-1]))
        with lock:
            order.append("stat")
        os.listdir(d)
        with lock:
            order.append("readdir")
        with open(os.path.join(rd, "index.m3u8")) as f:
            f.read()
        with lock:
            order.append("playlist")
        with lock:
            first = list(order[:4])
        expect(first == ["cached", "stat", "readdir", "playlist"],
               "completion order %s: a reader of the crowd came first" % first)
    finally:
        # the crowd is not waited for: the daemon stops the encodes
        m.proc.send_signal(signal.SIGTERM)
        m.proc.wait(timeout=30)
        for t in threads:
            t.join(timeout=30)


LRU_TITLES = 80                 # more than the 64 idle titles kept


def make_lru_fixture(src):
    """80 names of one short title (hard links: one analysis, the rest
    from the cache)."""
    first = os.path.join(src, "t000.mp4")
    _ffmpeg(["-f", "lavfi", "-i", "testsrc=s=160x120:r=25:d=2",
             "-c:v", "libx264", "-g", "25", first])
    for i in range(1, LRU_TITLES):
        os.link(first, os.path.join(src, "t%03d.mp4" % i))


def _titles(m, state):
    text = open(os.path.join(m.mountpoint, ".hlsfs", "metrics")).read()
    mt = re.search(r'^hlsfs_titles_in_memory\{state="%s"\} (\d+)' % state, text, re.M)
    expect(mt, "no hlsfs_titles_in_memory{state=%s} metric" % state)
    return int(mt.group(1))


def check_title_lru(m):
    """Walking 80 titles keeps at most 64 idle ones in memory; the first,
    let go, comes back from the cache when it is walked again."""
    for i in range(LRU_TITLES):
        d = os.path.join(m.mountpoint, "t%03d.mp4" % i)
        expect("master.m3u8" in os.listdir(d), "t%03d.mp4: no master" % i)
        open(os.path.join(d, "master.m3u8")).read()
    held = _titles(m, "all")
    expect(held <= 64, "%d titles in memory after walking %d" % (held, LRU_TITLES))
    line = re.compile(r"/t000\.mp4: index (loaded from cache|built)")
    before = len(line.findall(m.log_text()))
    os.listdir(os.path.join(m.mountpoint, "t000.mp4"))
    after = len(line.findall(m.log_text()))
    expect(after == before + 1, "t000.mp4 was not loaded again (%d -> %d lines)" % (before, after))


def check_sparse_keyframes(m):
    """A keyframe every 30 s with segment_time 6: the plan cuts between
    keyframes, every transcoded segment holds its 6 s (150 frames), the
    target duration stays 6, and the copied original is not offered."""
    d = os.path.join(m.mountpoint, "sparse.mp4")
    video = sorted(os.listdir(os.path.join(d, "video")))
    expect("original" not in video, "original offered with cuts between keyframes")
    expect(video, "no video rendition")
    rd = os.path.join(d, "video", video[0])
    pl = open(os.path.join(rd, "index.m3u8")).read()
    expect(_target(pl) == 6, "EXT-X-TARGETDURATION %s" % _target(pl))
    segs = sorted(f for f in os.listdir(rd) if f.endswith(".ts"))
    expect(len(segs) == 10, "%d segments, not 10" % len(segs))
    for seg in (segs[0], segs[3], segs[-1]):
        p = os.path.join(rd, seg)
        n = count_frames(p)
        expect(n == 150, "%s: %s frames, not 150" % (seg, n))
        expect(os.stat(p).st_size == len(open(p, "rb").read()), "%s: stat != read" % seg)


def check_vfr_end(m, src):
    """The playlist covers the last frame the source shows: its EXTINF
    values add up to the end of that frame (its time plus its duration),
    not to the last decoded frame plus the keyframes' offset."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                          "-show_entries", "packet=pts_time,duration_time",
                          "-of", "csv=p=0", os.path.join(src, "vfr.mp4")],
                         capture_output=True, text=True, check=True).stdout
    times = [tuple(float(x) for x in ln.split(",")[:2]) for ln in out.split()]
    first = min(t for t, _ in times)
    end = max(t + d for t, d in times) - first
    pl = open(os.path.join(m.mountpoint, "vfr.mp4", "video", "original", "index.m3u8")).read()
    total = sum(float(x) for x in re.findall(r"#EXTINF:([\d.]+),", pl))
    expect(abs(total - end) <= 0.002,
           "EXTINF add up to %.3f s, the last frame ends at %.3f s" % (total, end))
