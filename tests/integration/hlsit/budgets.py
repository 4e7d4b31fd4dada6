"""Sizes that follow the content (budget.c): a still picture and a slow
slideshow get video segments planned far below their rungs' nominal rate
(and a silent soundtrack audio far below audio_bitrate, found by its packet
sizes in AAC, by decoding in the constant-rate MP2 track that is silent
before a tone, and where that track has ended),
every segment reads back exactly its stat size and decodes to the frames
its EXTINF holds, and a remount (the title read back from its record) and
a fresh cache (the title built again) give the same sizes and bytes."""

import hashlib
import os
import re
import subprocess

from .harness import Collector, expect, note
from .media import count_frames

LADDER = "360:800k,720:2800k"
RATES = {"360p": 800000, "720p": 2800000}
FPS = 25
DURATION_S = 20
BUDGET_SHARE_MAX = 0.25         # of the nominal rate, every rung and title
AUDIO_RATE = 128000             # audio_bitrate's default
AUDIO_SHARE_MAX = 0.2           # silence: 12 bytes a silent frame and its framing (12 %; 39 % at the 24 kbit/s floor)
TITLES = ("still.mp4", "slides.mp4")
TONE_FROM_S = 10                # slides.mp4's MP2 track: silence, then a tone...
AUDIO_END_S = 14                # ...and then no packets at all
SOUND_OVER_SILENCE = 3          # a tone segment planned at least 3x a silent one


def _ffmpeg(args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL)


def make_fixtures(src, scratch):
    """still.mp4: one test picture held 20 s; slides.mp4: four pictures,
    5 s each. 1280x720 at 25 fps, a keyframe every 6 s; still.mp4 has a
    silent AAC track, slides.mp4 a 192 kbit/s MP2 track (a constant rate:
    its packet sizes tell nothing) silent until TONE_FROM_S, then a tone
    until it ends at AUDIO_END_S."""
    still = os.path.join(scratch, "still.png")
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=1:d=1", "-frames:v", "1", still])
    enc = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", str(6 * FPS),
           "-keyint_min", str(6 * FPS), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
           "-r", str(FPS)]
    _ffmpeg(["-loop", "1", "-framerate", str(FPS), "-i", still,
             "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", str(DURATION_S)] + enc +
            ["-c:a", "aac", "-b:a", "128k", os.path.join(src, "still.mp4")])
    # a new picture every 5 s: testsrc's moving parts, sampled at 0.2 fps
    tone = "aevalsrc=if(gte(t\\,%d)\\,0.3*sin(2*PI*440*t)\\,0):s=48000:c=stereo:d=%d" % (
        TONE_FROM_S, AUDIO_END_S)
    _ffmpeg(["-f", "lavfi", "-i", "testsrc=s=1280x720:r=0.2:d=%d" % DURATION_S,
             "-f", "lavfi", "-i", tone, "-vf", "fps=%d" % FPS] + enc +
            ["-c:a", "mp2", "-b:a", "192k", os.path.join(src, "slides.mp4")])


def _segments(m, title, rung):
    rd = os.path.join(m.mountpoint, title, "video", rung)
    pl = open(os.path.join(rd, "index.m3u8")).read()
    durs = [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", pl)]
    names = re.findall(r"^(\d+\.ts)$", pl, re.M)
    expect(len(durs) == len(names) and names, "%s/%s: playlist %r" % (title, rung, pl[:200]))
    return rd, list(zip(names, durs))


def check_budgets(m, seen, segments=None):
    """Every transcoded rung of both titles: planned bytes under
    BUDGET_SHARE_MAX of the ladder's nominal rate (of the smallest rung for
    one the fit added); each segment (those of 'segments', all if None) reads
    back its stat size and decodes to EXTINF x fps frames. Records each
    segment's (size, sha256) in 'seen', and checks it against an earlier
    mount's."""
    c = Collector()
    for title in TITLES:
        d = os.path.join(m.mountpoint, title)
        expect("ERROR" not in os.listdir(d), "%s: ERROR" % title)
        # the rungs the ladder fit kept (ladder.c), and any lower one it added
        rungs = sorted(x for x in os.listdir(os.path.join(d, "video")) if x not in ("original", "iframes"))
        expect(rungs, "%s: no transcoded rung" % title)
        for rung in rungs:
            rate = RATES.get(rung, min(RATES.values()))
            rd, segs = _segments(m, title, rung)
            sizes = [os.stat(os.path.join(rd, n)).st_size for n, _ in segs]
            nominal = sum(rate * dur / 8 for _, dur in segs)
            share = sum(sizes) / nominal
            note("budgets: %s/%s planned at %.1f %% of %d bit/s" % (title, rung, 100 * share, rate))
            c.check(share < BUDGET_SHARE_MAX, "%s/%s: %d bytes planned, %.0f %% of the "
                    "nominal %d bit/s" % (title, rung, sum(sizes), 100 * share, rate))
            for i, ((name, dur), size) in enumerate(zip(segs, sizes)):
                key = (title, rung, name)
                if key in seen and seen[key][0] != size:
                    c.add("%s/%s/%s: stat %d, earlier %d" % (title, rung, name, size, seen[key][0]))
                if segments is not None and i not in segments:
                    continue
                p = os.path.join(rd, name)
                data = open(p, "rb").read()
                c.check(len(data) == size, "%s/%s/%s: read %d bytes, stat %d"
                        % (title, rung, name, len(data), size))
                h = hashlib.sha256(data).hexdigest()
                if key in seen and seen[key][1] and seen[key][1] != h:
                    c.add("%s/%s/%s: bytes differ from an earlier mount's" % (title, rung, name))
                seen[key] = (size, h)
                n, want = count_frames(p), round(dur * FPS)
                c.check(n == want, "%s/%s/%s: %s frames, EXTINF %.3f s holds %d"
                        % (title, rung, name, n, dur, want))
            for (name, _), size in zip(segs, sizes):
                seen.setdefault((title, rung, name), (size, None))
    # the silent soundtracks: planned far below audio_bitrate (slides.mp4's
    # until its tone), read = stat, the same bytes in every mount
    for title in TITLES:
        ad = os.path.join(m.mountpoint, title, "audio", "0")
        apl = open(os.path.join(ad, "index.m3u8")).read()
        adurs = [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", apl)]
        anames = re.findall(r"^(\d+\.ts)$", apl, re.M)
        asizes = [os.stat(os.path.join(ad, n)).st_size for n in anames]
        shares = [8 * size / (AUDIO_RATE * dur) for size, dur in zip(asizes, adurs)]
        expect(len(shares) >= 3, "%s/audio/0: playlist %r" % (title, apl[:200]))
        if title == "still.mp4":
            share = sum(asizes) / (AUDIO_RATE * sum(adurs) / 8)
            silent, sound = share, None
        else:
            # the first segment ends before the tone, the third starts in
            # it; the last is after the track's end: silence as well
            silent, sound = max(shares[0], shares[-1]), shares[2]
        note("budgets: %s/audio/0 silence planned at %.1f %% of %d bit/s%s"
             % (title, 100 * silent, AUDIO_RATE,
                "" if sound is None else ", the tone at %.1f %%" % (100 * sound)))
        c.check(silent < AUDIO_SHARE_MAX, "%s/audio/0: silence planned at %.0f %% of %d bit/s"
                % (title, 100 * silent, AUDIO_RATE))
        if sound is not None:
            c.check(sound > SOUND_OVER_SILENCE * silent,
                    "%s/audio/0: the tone planned at %.1f %%, silence at %.1f %%"
                    % (title, 100 * sound, 100 * silent))
        for name, size in zip(anames, asizes):
            data = open(os.path.join(ad, name), "rb").read()
            c.check(len(data) == size, "%s/audio/0/%s: read %d, stat %d"
                    % (title, name, len(data), size))
            key = (title, "audio", name)
            h = hashlib.sha256(data).hexdigest()
            if key in seen and seen[key] != (size, h):
                c.add("%s/audio/0/%s: differs from an earlier mount's" % (title, name))
            seen[key] = (size, h)
    c.raise_if_any()
