"""The media tree the end-to-end mount serves.

    play/two_audio.mp4   24 s, 320x180, 25 fps, H.264 High with B-frames,
                         a keyframe every second, two AAC tracks (eng, fra):
                         hls.js (levels, switches, seek, audio track),
                         GStreamer, ffmpeg, rsync
    play/subs.mp4        a copy of two_audio.mp4 (another inode) with the
                         sidecars subs.en.srt and subs.fr.forced.srt: hls.js
                         lists the subtitle tracks, a cue is active after a
                         seek; the example player's subtitle menu
    load/t0.mp4 ...t7    eight copies (eight titles: other inodes) of one
                         10 s 1280x720 clip with a single keyframe, so each
                         has one 10 s segment whose 720p encode takes a
                         while: the nginx load and stall checks
    shared/...           a few titles of the shared corpus (hard links, or
                         copies when the corpus is on another file system)

Everything is generated with the ffmpeg CLI in a few seconds.
"""

import os
import shutil

from hlsit.fixtures import link_or_copy
from hlsit.harness import fail
from hlsit.media import run

PLAY = "play/two_audio.mp4"
PLAY_SECONDS = 24
LOAD_TITLES = ["load/t%d.mp4" % i for i in range(8)]
SUBS = "play/subs.mp4"
# sidecar -> (LANGUAGE, FORCED, [(start s, end s, text)])
SUBS_SIDECARS = {
    "play/subs.en.srt": ("en", False, [(1.0, 3.0, "First cue"),
                                       (11.0, 14.5, "The cue in the middle")]),
    "play/subs.fr.forced.srt": ("fr", True, [(12.0, 13.0, "Sous-titre forc\u00e9")]),
}
SUBS_SEEK = 12.0        # a seek here shows "The cue in the middle"
LOAD_SECONDS = 10

# Titles of the shared corpus: file name -> what they are used for.
SHARED = {
    # two AAC tracks in a real file: hls.js audio switch, rsync
    "multiaudio": "mp4-h264-2x-aac-tracks-multiaudio-320x176-10s.mp4",
    # real camera content, Constrained Baseline, edit list: hls.js, GStreamer, ffmpeg
    "london": "mp4-h264-aac-real-london-640x360-17s.mp4",
    # 1080p H.264 High with B-frames and an edit list: ffmpeg on every rung
    "smpte": "mp4-h264high-aac-bframes-editlist-1080p25-10s-smptebars.mp4",
}


def shared_rel(key):
    return "shared/" + SHARED[key]


def _ffmpeg(args):
    r = run(["ffmpeg", "-nostdin", "-y", "-v", "error"] + args, timeout=180)
    if r.returncode != 0:
        fail("ffmpeg failed: %s" % r.stderr.strip()[-400:])


def generate(root, scratch, media_dir):
    """Create the tree under root. Returns the list of shared titles found."""
    os.makedirs(os.path.join(root, "play"), exist_ok=True)
    os.makedirs(os.path.join(root, "load"), exist_ok=True)
    d = PLAY_SECONDS
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=%d" % d,
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % d,
             "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=%d" % d,
             "-map", "0:v", "-map", "1:a", "-map", "2:a",
             "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
             "-pix_fmt", "yuv420p", "-bf", "3", "-g", "25", "-keyint_min", "25",
             "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "96k", "-ac", "2",
             "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
             os.path.join(root, PLAY)])
    clip = os.path.join(scratch, "load-720p.mp4")
    _ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=%d" % LOAD_SECONDS,
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-g", "1000", "-keyint_min", "1000", "-sc_threshold", "0", clip])
    for rel in LOAD_TITLES:
        shutil.copyfile(clip, os.path.join(root, rel))
    shutil.copyfile(os.path.join(root, PLAY), os.path.join(root, SUBS))
    for rel, (_, _, cues) in SUBS_SIDECARS.items():
        def ts(s):
            ms = int(round(s * 1000))
            return "%02d:%02d:%02d,%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60,
                                            ms % 1000)
        with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
            for i, (a, b, text) in enumerate(cues):
                f.write("%d\n%s --> %s\n%s\n\n" % (i + 1, ts(a), ts(b), text))
    found = []
    if media_dir:
        for key, name in SHARED.items():
            src = os.path.join(media_dir, name)
            if os.path.isfile(src):
                link_or_copy(src, os.path.join(root, shared_rel(key)))
                found.append(key)
            else:
                fail("%s is missing from %s" % (name, media_dir))
    # the daemon's workers run as root, nginx's as www-data: readable by all
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
    return found
