"""ffprobe/ffmpeg helpers and the segment plan, computed independently of hlsfs.

All times are exact: packet timestamps stay integers in their stream's time
base and are converted to seconds as fractions.Fraction, so that a keyframe
that falls exactly on a multiple of the segment target is classified the
same way the daemon's integer arithmetic classifies it.
"""

import json
import math
import os
import re
import subprocess
import sys
from fractions import Fraction

from .harness import fail

MPEGTS_OFFSET = Fraction(14, 10)   # the standard MPEG-TS mux offset, 1.4 s
TS_CLOCK = 90000                   # MPEG-TS timestamps are in 1/90000 s
AAC_FRAME = 1024                   # samples per AAC-LC frame


def run(cmd, timeout=120, input_bytes=None):
    """Run a command; returns CompletedProcess with text stdout/stderr."""
    try:
        r = subprocess.run(cmd, input=input_bytes, capture_output=True,
                           timeout=timeout,
                           stdin=None if input_bytes is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail("timed out after %d s: %s" % (timeout, " ".join(cmd)))
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def run_bytes(cmd, timeout=120):
    """Run a command; returns CompletedProcess with bytes stdout/stderr."""
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail("timed out after %d s: %s" % (timeout, " ".join(cmd)))


def count_frames(path, stream="v"):
    """Frames (pictures, or audio frames with stream "a") that ffprobe
    decodes from path; None when the stream's programs disagree or it has
    none. An MPEG-TS lists the stream once per program."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", stream,
                          "-show_entries", "stream=nb_read_frames", "-of", "default=nw=1:nk=1",
                          path], capture_output=True, text=True, check=True).stdout
    counts = set(out.replace("|", " ").split())
    if len(counts) != 1:
        return None
    n = counts.pop()
    return int(n) if n.isdigit() else None


def decode_audio(path, stream="0:a:0", timeout=300):
    """Decode one audio stream to 48 kHz stereo float samples, interleaved.
    Returns (exit status, stderr lines, array of floats)."""
    import array
    r = run_bytes(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", stream,
                   "-ac", "2", "-ar", "48000", "-f", "f32le", "-"], timeout=timeout)
    samples = array.array("f")
    data = r.stdout[: len(r.stdout) // 8 * 8]
    samples.frombytes(data)
    if sys.byteorder != "little":
        samples.byteswap()
    lines = [l for l in r.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
    return r.returncode, lines, samples


def ffprobe_json(path, args, timeout=120):
    cmd = ["ffprobe", "-v", "error", "-of", "json"] + list(args) + [path]
    r = run(cmd, timeout=timeout)
    if r.returncode != 0:
        fail("ffprobe failed on %s: %s" % (path, r.stderr.strip() or r.returncode))
    try:
        data = json.loads(r.stdout or "{}")
    except ValueError as e:
        fail("ffprobe output is not JSON for %s: %s" % (path, e))
    data["_stderr"] = r.stderr
    return data


def parse_rate(text):
    """'25/1' -> Fraction(25); None for '0/0' or missing."""
    if not text or text in ("0/0", "N/A"):
        return None
    if "/" in text:
        num, den = text.split("/", 1)
        if int(den) == 0 or int(num) == 0:
            return None
        return Fraction(int(num), int(den))
    return Fraction(text)


def parse_ratio(text):
    """'16:15' -> Fraction(16, 15); None for '0:1', 'N/A' or missing."""
    if not text or ":" not in text:
        return None
    num, den = text.split(":", 1)
    try:
        num, den = int(num), int(den)
    except ValueError:
        return None
    if num <= 0 or den <= 0:
        return None
    return Fraction(num, den)


def round_half_up(x):
    """Nearest integer, halves away from zero (av_rescale's rounding)."""
    x = Fraction(x)
    return math.floor(x + Fraction(1, 2)) if x >= 0 else -math.floor(-x + Fraction(1, 2))


def fmt_s(x):
    """Seconds with ms precision for messages."""
    return "%.3f" % float(x)


_ADDR_RE = re.compile(r"@ 0x[0-9a-fA-F]+")
_REPEAT_RE = re.compile(r"Last message repeated \d+ times")


def normalize_log_line(line):
    """Drop the context pointer ffmpeg prints ([h264 @ 0x55d...]) and repeat
    counts, so that lines of two runs can be compared."""
    line = _ADDR_RE.sub("@ ?", line.strip())
    return _REPEAT_RE.sub("Last message repeated N times", line)


# ---------------------------------------------------------------------------
# The plan

def plan_cuts(key_pts, target):
    """Cut points of the segment plan.

    key_pts: keyframe presentation times in decode order (exact numbers in
    any one unit); target: segment target in the same unit (> 0).
    The origin O is key_pts[0]. A cut is made at the first keyframe at or
    after each O + k*target (k = 1, 2, ...); when several multiples fall
    before the same keyframe there is one cut there. A keyframe that is not
    after the previous cut is never a cut. Returns the cut times, first O.
    """
    if not key_pts:
        raise ValueError("no keyframes")
    if target <= 0:
        raise ValueError("target must be positive")
    origin = key_pts[0]
    cuts = [origin]
    k = 1
    for kp in key_pts[1:]:
        if kp <= cuts[-1]:
            continue
        if kp - origin >= k * target:
            cuts.append(kp)
            k = math.floor(Fraction(kp - origin) / Fraction(target)) + 1
    return cuts


def round_ms(seconds):
    """Milliseconds, rounded to nearest (halves away from zero)."""
    ms = Fraction(seconds) * 1000
    return int(math.floor(ms + Fraction(1, 2))) if ms >= 0 else -int(math.floor(-ms + Fraction(1, 2)))


class Plan:
    """Cuts in seconds plus the end of the stream."""

    def __init__(self, cuts_s, end_s):
        self.cuts = list(cuts_s)
        self.end = end_s

    def __len__(self):
        return len(self.cuts)

    def start(self, i):
        return self.cuts[i]

    def stop(self, i):
        return self.cuts[i + 1] if i + 1 < len(self.cuts) else self.end

    def durations_ms(self):
        return [round_ms(self.stop(i) - self.start(i)) for i in range(len(self.cuts))]


# ---------------------------------------------------------------------------
# Source analysis

H264_PROFILE_IDC = {
    "baseline": 66, "constrained baseline": 66, "main": 77, "extended": 88,
    "high": 100, "high 10": 110, "high 10 intra": 110, "high 4:2:2": 122,
    "high 4:2:2 intra": 122, "high 4:4:4": 144, "high 4:4:4 predictive": 244,
    "high 4:4:4 intra": 244,
}


class SourceVideo:
    """The first video stream of a source file, from a packet scan."""

    def __init__(self, path):
        self.path = path
        data = ffprobe_json(path, [
            "-select_streams", "v:0",
            "-show_entries",
            "stream=index,codec_name,profile,level,width,height,time_base,"
            "avg_frame_rate,r_frame_rate,pix_fmt,sample_aspect_ratio"
            ":stream_side_data=rotation"
            ":packet=pts,dts,duration,size,flags",
        ], timeout=180)
        streams = data.get("streams") or []
        if not streams:
            fail("no video stream in %s" % path)
        st = streams[0]
        self.stream_index = st.get("index")
        self.codec = st.get("codec_name")
        self.profile = st.get("profile")
        self.level = st.get("level")
        self.width = st.get("width")
        self.height = st.get("height")
        self.tb = parse_rate(st.get("time_base"))
        self.pix_fmt = st.get("pix_fmt")
        self.sar = parse_ratio(st.get("sample_aspect_ratio"))
        self._rotation = 0
        for sd in st.get("side_data_list") or []:
            if sd.get("rotation"):
                self._rotation = int(sd["rotation"])
        self.avg_frame_rate = parse_rate(st.get("avg_frame_rate"))
        self.r_frame_rate = parse_rate(st.get("r_frame_rate"))
        self.packets = []  # (pts, dts, duration, flags) in decode order, ints
        self.sizes = []    # bytes of each of them
        lead = False       # an edit list discards the stream's first keyframe
        for p in data.get("packets") or []:
            pts = p.get("pts")
            dts = p.get("dts")
            flags = p.get("flags") or ""
            if "D" in flags:  # discarded by the demuxer (edit lists)
                lead = lead or ("K" in flags and not self.packets)
                continue
            if pts is None:
                pts = dts
            if pts is None:
                continue
            self.packets.append((int(pts), dts, int(p.get("duration") or 0), flags))
            self.sizes.append(int(p.get("size") or 0))
        if not self.packets:
            fail("no video packets in %s" % path)
        self.key_pts = [p[0] for p in self.packets if "K" in p[3]]
        if not self.key_pts:
            fail("no keyframes in %s" % path)
        # pictures the edit list shows before the first keyframe it keeps:
        # the title starts at the first of them (decoded from the keyframe
        # the list discards), as if a keyframe were there
        shown = min(p[0] for p in self.packets)
        self.lead = lead and shown < self.key_pts[0]
        if self.lead:
            self.key_pts.insert(0, shown)
        self.pts_sorted = sorted(p[0] for p in self.packets)
        self.shown_pts = None      # ticks of the decoded pictures, when known
        deltas = sorted(b - a for a, b in zip(self.pts_sorted, self.pts_sorted[1:]) if b > a)
        if deltas:
            self.frame_ticks = deltas[len(deltas) // 2]
            self.max_frame_ticks = deltas[min(len(deltas) - 1, (len(deltas) * 95) // 100)]
        else:
            self.frame_ticks = self.max_frame_ticks = max(1, self.packets[0][2])

    def seconds(self, ticks):
        return Fraction(ticks) * self.tb

    @property
    def origin(self):
        return self.seconds(self.key_pts[0])

    @property
    def frame_dur(self):
        """Typical frame duration in seconds (median timestamp step)."""
        return self.seconds(self.frame_ticks)

    @property
    def tolerance(self):
        """One frame, taken generously for irregular frame rates."""
        return self.seconds(max(self.frame_ticks, self.max_frame_ticks))

    @property
    def end(self):
        """End of the stream: the last presentation time plus its duration."""
        last = max(self.packets, key=lambda p: p[0])
        dur = last[2] if last[2] > 0 else self.frame_ticks
        return self.seconds(last[0] + dur)

    @property
    def bit_rate(self):
        """What the video spends, bit/s: its packets from the first keyframe
        on over the time from that keyframe to the end (title.c's measure,
        to within a frame of the end)."""
        first = 0 if self.lead else next(i for i, p in enumerate(self.packets) if "K" in p[3])
        ms = int(round_half_up((self.end - self.origin) * 1000))
        return sum(self.sizes[first:]) * 8000 // ms if ms > 0 else 0

    def fps(self):
        """Frame rate: the container's figure when it agrees (within 5 %)
        with the typical timestamp step, else the mean rate of the
        timestamps. Some muxers (FLV, Matroska made from FLV) report a bogus
        average such as 1000/1; field-coded streams have packets without
        timestamps, so the mean rate alone would be wrong for them."""
        step_rate = 1 / self.frame_dur
        for rate in (self.avg_frame_rate, self.r_frame_rate):
            if rate and abs(rate - step_rate) <= step_rate / 20:
                return rate
        span = self.pts_sorted[-1] - self.pts_sorted[0]
        if span > 0:
            return Fraction(len(self.pts_sorted) - 1) / (span * self.tb)
        return step_rate

    @property
    def rotation(self):
        return self._rotation

    @property
    def quarter_turns(self):
        """The display rotation as 0, 90, 180 or 270 degrees."""
        return (round_half_up(Fraction(-self._rotation, 90)) % 4) * 90

    def display_size(self):
        """(width, height) as displayed: sample aspect ratio applied to the
        width, then the sides swapped for a quarter turn; whole pixels
        rounded like the daemon's (int)(x + 0.5)."""
        dw = Fraction(self.width or 0)
        if self.sar:
            dw *= self.sar
        dh = Fraction(self.height or 0)
        if self.quarter_turns in (90, 270):
            dw, dh = dh, dw
        return int(math.floor(dw + Fraction(1, 2))), int(math.floor(dh + Fraction(1, 2)))

    @property
    def end_by_mean_step(self):
        """End of the stream the other common way: the latest presentation
        time from the first keyframe (decode order) on, plus the mean decode
        time step. Equal to end for constant frame rates."""
        first = 0 if self.lead else next(i for i, p in enumerate(self.packets) if "K" in p[3])
        pk = self.packets[first:]
        dts = [int(p[1]) for p in pk if p[1] is not None]
        last = max(p[0] for p in pk)
        step = (max(dts) - min(dts)) // (len(dts) - 1) if len(dts) > 1 else 0
        return self.seconds(last + (step if step > 0 else 1))

    def frames_from(self, start_s, stop_s=None):
        """Source presentation times (s) in [start_s, stop_s) (stop None:
        to the end): what a transcoded segment holds. The pictures a decode
        of the source shows when one was attached (shown_pts); else the
        packets' timestamps, which also count pictures that are never shown
        (VP8/VP9 hidden frames) or miss second fields."""
        ticks = self.shown_pts if self.shown_pts is not None else self.pts_sorted
        return [self.seconds(p) for p in ticks
                if self.seconds(p) >= start_s and (stop_s is None or self.seconds(p) < stop_s)]

    def packet_index_of_key(self, seconds):
        """Decode-order index of the keyframe packet presented at 'seconds'."""
        for i, p in enumerate(self.packets):
            if "K" in p[3] and self.seconds(p[0]) == seconds:
                return i
        return None

    def group_pts(self, start_s, stop_s):
        """Presentation times (s) of the packets that follow, in decode
        order, the keyframe at start_s up to (excluding) the keyframe at
        stop_s (None: to the end). For closed GOPs these are exactly the
        frames presented in [start_s, stop_s); with open GOPs the leading
        pictures that precede a keyframe in presentation order but follow it
        in decode order belong to that keyframe's group, as a packet copy
        must keep them."""
        a = self.packet_index_of_key(start_s)
        b = len(self.packets) if stop_s is None else self.packet_index_of_key(stop_s)
        if a is None or b is None:
            return None
        return [self.seconds(p[0]) for p in self.packets[a:b]]

    @property
    def pre_origin_pts(self):
        """Timestamps of packets before the first keyframe in decode order:
        they belong to no segment."""
        first = 0 if self.lead else next(i for i, p in enumerate(self.packets) if "K" in p[3])
        return {p[0] for p in self.packets[:first]}

    def plan(self, segment_time):
        target_ticks = Fraction(segment_time) / self.tb
        cuts = plan_cuts(self.key_pts, target_ticks)
        return Plan([self.seconds(c) for c in cuts], self.end)

    def pts_in(self, start_s, stop_s):
        """Source presentation times (s) in [start, stop)."""
        return [self.seconds(p) for p in self.pts_sorted
                if start_s <= self.seconds(p) < stop_s]

    def codec_tag_parts(self):
        """(profile_idc, level_idc) of an H.264 stream, or None if unknown."""
        if self.codec != "h264" or not self.profile:
            return None
        idc = H264_PROFILE_IDC.get(self.profile.lower())
        if idc is None or self.level in (None, -99):
            return None
        return idc, int(self.level)


DEFAULT_LADDER = "360:800k,480:1400k,720:2800k,1080:5000k,1440:8000k,2160:14000k"


def parse_ladder(spec):
    """'360:800k,720:2800k' -> [(360, 800000), (720, 2800000)] sorted by height."""
    out = []
    for item in spec.split(","):
        h, rate = item.split(":")
        mult = 1
        if rate[-1] in "kK":
            mult, rate = 1000, rate[:-1]
        elif rate[-1] in "mM":
            mult, rate = 1000000, rate[:-1]
        out.append((int(h), int(round(float(rate) * mult))))
    return sorted(out)


def _even(x):
    """Nearest even integer (halves up), at least 2."""
    v = int(math.floor(Fraction(x) / 2 + Fraction(1, 2))) * 2
    return max(2, v)


def rung_picture(n, dw, dh):
    """Picture size of rung n for a display size dw x dh: short side n,
    long side even(round(n * aspect)). Returns the set of acceptable
    (width, height): rounding the product first or not may differ by 2."""
    aspect = Fraction(max(dw, dh), min(dw, dh))
    longs = {_even(n * aspect), _even(round_half_up(n * aspect))}
    short = _even(n)
    if dw >= dh:
        return {(l, short) for l in longs}
    return {(short, l) for l in longs}


# The ladder's fit to the source (include/hlsfs/ladder.h): what the source
# needs at a size, the floor, the cellular rung.
NEED_EXP, NEED_MARGIN = 0.75, 1.3
FLOOR_BPS, FLOOR_PIXELS, FLOOR_MIN_BPS = 100000, 640 * 360, 32000
CELLULAR_BPS, CELLULAR_AUDIO_BPS = 192000, 32000


def _ts_stream_bytes(payload, pes, ms):
    """TS bytes of payload in pes PES packets (tssize.c's bound): each PES
    its header and adaptation field and maybe one partly filled packet; the
    tables once per 30 s of the span, which is a second longer."""
    packets = -(-(payload + pes * 27) // 184) + pes
    return packets * 188 + ((ms + 1000) // 30000 + 1) * 3 * 188


def cellular_rate(fps):
    """The highest video rate whose 6 s segments at fps and those of the
    32 kbit/s cellular audio, both muxed as tssize.c bounds them, stay under
    192 kbit/s (ladder_cellular_rate)."""
    frames = int(math.ceil((fps if fps and 0 < fps < 1000 else 30) * 6))
    af = 48000 * 6 // 1024 + 1
    aac = (CELLULAR_AUDIO_BPS * af * 1024 + 48000 * 8 - 1) // (48000 * 8)
    aac += aac * 5 // 100
    ams = af * 1024 * 1000 // 48000 + 1
    apay = aac + af * 7
    apes = apay // (65490 - 6151) + ams // 350 + 1
    audio = _ts_stream_bytes(apay, apes, ams)
    lo, hi = FLOOR_MIN_BPS, CELLULAR_BPS
    while lo < hi:
        mid = lo + (hi - lo + 1) // 2
        video = _ts_stream_bytes((mid * 6000 + 7999) // 8000 + frames * 6, frames, 6000)
        if (video + audio) * 8000 // 6000 < CELLULAR_BPS:
            lo = mid
        else:
            hi = mid - 1
    return lo
MAX_SIDE = 16384
CODEC_COST = dict([("h264", 100), ("hevc", 65), ("vp9", 65), ("av1", 50)] +
                  [(c, 150) for c in ("mpeg1video", "mpeg2video", "mpeg4", "msmpeg4v1",
                                      "msmpeg4v2", "msmpeg4v3", "h261", "h263", "h263p",
                                      "flv1", "wmv1", "wmv2", "wmv3", "vc1", "theora",
                                      "vp3", "vp6", "vp6f", "rv10", "rv20")])


def _picture(n, dw, dh):
    """The one picture ladder.c computes for rung n (for its pixel count)."""
    def even(v):
        return max(2, int(v / 2.0 + 0.5) * 2)
    if dw >= dh:
        return even(n * dw / dh), even(n)
    return even(n), even(n * dh / dw)


def rung_cap(w, h, dw, dh, rate, cost):
    """The most a w x h rung is planned at for a source of dw x dh spending
    rate bit/s in a codec of cost (H.264 = 100): its need, floored."""
    if not rate or rate <= 0:
        return None
    share = float(w * h) / (float(dw) * dh)
    need = rate * 100.0 / cost * share ** NEED_EXP * NEED_MARGIN
    fshare = float(w * h) / FLOOR_PIXELS
    fl = FLOOR_BPS if fshare >= 1 else FLOOR_BPS * fshare ** NEED_EXP
    fl = FLOOR_MIN_BPS if fl < FLOOR_MIN_BPS else int(fl)
    return int(need) if need > fl else fl


def expected_rungs(ladder, dw, dh, rate=0, codec=None, original=False, fps=0):
    """[(name, {acceptable (w, h)}, bit rate)] of the transcoded rungs,
    smallest first, for a source displayed at dw x dh whose video spends
    rate bit/s (0: unknown) in codec, offered copied too when original.
    The candidates: every rung up to the short side, or, when the source
    is smaller than every rung, one rung at its own short side rounded
    down to even, at the lowest rung's rate scaled by pixel count (at
    least 64k). Each is capped at what the source needs at its size
    (rung_cap); one no cheaper than the next larger is left out. When that
    leaves fewer than two video renditions (original included) or none
    whose variant with the cellular audio stays under 192 kbit/s (at most
    cellular_rate(fps)), a rung at half the smallest's short side is added,
    at its bits per pixel within the cap, at most that rate when none was
    that low, and below the smallest's rate."""
    if dw <= 0 or dh <= 0:
        return []
    cost = CODEC_COST.get(codec, 100)
    short = min(dw, dh)
    cand = [(n, r) for n, r in ladder if n <= short][:16]
    if short < ladder[0][0]:
        n = short & ~1 or 2
        low_n, low_rate = ladder[0]
        cand.append((n, max(64000, int(low_rate * (float(short) * short / (float(low_n) * low_n))))))
    cand = [(n, r, _picture(n, dw, dh)) for n, r in cand]
    cand = [(n, r, p) for n, r, p in cand if p[0] <= MAX_SIDE and p[1] <= MAX_SIDE]
    kept = []        # (n, rate, nominal, picture), largest first
    for n, nominal, pic in reversed(cand):
        cap = rung_cap(pic[0], pic[1], dw, dh, rate, cost)
        r = nominal if cap is None else min(nominal, cap)
        if kept and r >= kept[-1][1]:
            continue
        kept.append((n, r, nominal, pic))
    kept.reverse()
    cell = cellular_rate(fps)
    cellular = bool(kept) and kept[0][1] <= cell
    if kept and len(kept) < 16 and (len(kept) + (1 if original else 0) < 2 or not cellular):
        n0, r0, nom0, pic0 = kept[0]
        half = (n0 // 2) & ~1
        if half >= 2:
            pic = _picture(half, dw, dh)
            share = float(pic[0] * pic[1]) / (float(pic0[0]) * pic0[1])
            r = int(nom0 * share)
            cap = rung_cap(pic[0], pic[1], dw, dh, rate, cost)
            if cap is not None:
                r = min(r, cap)
            if not cellular:
                r = min(r, cell)
            if r >= r0:
                r = r0 * 3 // 4
            if pic[0] <= MAX_SIDE and pic[1] <= MAX_SIDE and r > 0:
                kept.insert(0, (half, r, r, pic))
    return [("%dp" % n, rung_picture(n, dw, dh), r) for n, r, _, _ in kept]


AUDIO_RATE = 48000


def audio_grid(plan, end_s, rate=AUDIO_RATE, frame=AAC_FRAME):
    """Sample positions (at rate) where each audio segment starts, plus the
    end: O = round(b0 * rate); segment i > 0 starts at the frame of the
    grid from O nearest b_i; the end is the first grid point at or after
    the end of the video."""
    origin = round_half_up(plan.start(0) * rate)
    starts = [origin]
    for i in range(1, len(plan)):
        s = round_half_up(plan.start(i) * rate) - origin
        starts.append(origin + frame * ((s + frame // 2) // frame))
    end = origin + frame * math.ceil((Fraction(end_s) * rate - origin) / frame)
    return starts + [max(end, starts[-1])]


def source_audio_streams(path):
    """Audio streams of a source, in order: dicts with ordinal, index, codec,
    sample_rate, channels, language, and start: the presentation time (s) of
    the stream's first packet, counting packets the demuxer marks to discard
    (AAC encoder priming behind an MP4 edit list is such a packet: it is in
    the file, and a packet copy keeps it)."""
    data = ffprobe_json(path, [
        "-select_streams", "a",
        "-show_entries",
        "stream=index,codec_name,profile,sample_rate,channels,time_base:stream_tags=language"
        ":packet=stream_index,pts",
    ], timeout=180)
    first = {}
    for p in data.get("packets") or []:
        if p.get("pts") is not None:
            si = p.get("stream_index")
            first[si] = min(first.get(si, p["pts"]), p["pts"])
    out = []
    for ordinal, st in enumerate(data.get("streams") or []):
        tb = parse_rate(st.get("time_base"))
        start = None
        if st.get("index") in first and tb:
            start = Fraction(int(first[st["index"]])) * tb
        lang = (st.get("tags") or {}).get("language")
        out.append({
            "ordinal": ordinal, "index": st.get("index"),
            "codec": st.get("codec_name"), "profile": st.get("profile"),
            "sample_rate": int(st.get("sample_rate") or 0),
            "channels": st.get("channels"),
            "language": lang, "start": start,
        })
    return out


def multichannel_copied(a, path):
    """Whether source audio stream a (source_audio_streams) of the file at
    path is copied into its multichannel rendition: AC-3, E-AC-3 and AAC-LC
    (not the AAC of an MPEG-TS, which has ADTS headers), up to 8 channels."""
    ts = os.path.splitext(path)[1].lower() in (".ts", ".m2ts", ".mts")
    return (a.get("channels") or 0) <= 8 and (
        a.get("codec") in ("ac3", "eac3") or
        (a.get("codec") == "aac" and a.get("profile") == "LC" and not ts))


def multichannel_name(a, path):
    """The name of the multichannel rendition of source audio stream a, or
    None up to 2 channels: "K-Nch" when copied, "K-6ch" (AAC 5.1) else."""
    ch = a.get("channels") or 0
    if ch <= 2:
        return None
    return "%d-%dch" % (a["ordinal"], ch if multichannel_copied(a, path) else 6)


def has_video_stream(path):
    r = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
             "stream=codec_name,disposition", "-of", "json", path], timeout=60)
    if r.returncode != 0:
        return None  # cannot even be probed
    try:
        streams = json.loads(r.stdout).get("streams") or []
    except ValueError:
        return None
    return any(not (s.get("disposition") or {}).get("attached_pic") for s in streams)


class Decode:
    """Decode the first video stream with the ffmpeg CLI, keeping the input
    timestamps (-copyts, encoder time base = input time base) and one CRC
    per decoded picture (framecrc of rawvideo). With crc=False the pictures
    are not hashed (wrapped_avframe), which is much faster for big sources."""

    def __init__(self, path, crc=True, timeout=400):
        # -noautorotate: compare coded pictures; a display matrix of the
        # source container has no place in MPEG-TS (see the rotation note).
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-noautorotate", "-copyts", "-i", path,
               "-map", "0:v:0",
               "-fps_mode", "passthrough", "-enc_time_base", "-1"]
        if not crc:
            cmd += ["-c:v", "wrapped_avframe"]
        cmd += ["-f", "framecrc", "-"]
        r = run(cmd, timeout=timeout)
        self.returncode = r.returncode
        self.stderr = [l for l in r.stderr.splitlines() if l.strip()]
        self.tb = None
        self.frames = []     # (pts, crc or None)
        for line in r.stdout.splitlines():
            if line.startswith("#tb 0:"):
                self.tb = parse_rate(line.split(":", 1)[1].strip())
            elif line and not line.startswith("#"):
                f = [x.strip() for x in line.split(",")]
                if len(f) >= 6 and f[0] == "0":
                    self.frames.append((int(f[2]), f[5] if crc else None))


# ---------------------------------------------------------------------------
# Segment analysis

class Segment:
    """ffprobe's view of one MPEG-TS segment."""

    def __init__(self, path, decode_video=True, timeout=120):
        entries = "stream=index,codec_type,codec_name,profile,level,pix_fmt,sample_rate," \
                  "channels,width,height,time_base" \
                  ":packet=stream_index,pts,dts,duration,flags"
        if decode_video:
            entries += ":frame=stream_index,media_type,pts,best_effort_timestamp,key_frame,pict_type"
        args = ["-show_entries", entries]
        if decode_video:
            args = ["-select_streams", "v"] + args
        data = ffprobe_json(path, args, timeout=timeout)
        self.stderr = [l for l in data["_stderr"].splitlines() if l.strip()]
        self.streams = data.get("streams") or []
        self.format = data.get("format") or {}
        items = data.get("packets_and_frames")
        if items is None:
            items = [dict(p, type="packet") for p in data.get("packets") or []]
            items += [dict(f, type="frame") for f in data.get("frames") or []]
        self.packets = [i for i in items if i.get("type") == "packet"]
        self.frames = [i for i in items if i.get("type") == "frame"]


def probe_segment_streams(path, timeout=60):
    data = ffprobe_json(path, ["-show_entries",
                               "stream=index,codec_type,codec_name,sample_rate,channels"],
                        timeout=timeout)
    return data.get("streams") or []
