# The benchmark's source media, generated once with the ffmpeg CLI into
# bench/.cache/ and reused while the recipe below is unchanged:
#   film/   film.mp4, film.mkv  1080p24 H.264 ~6 Mbit/s, 2 s GOPs, AAC stereo
#   hour/   hour.mp4, .mkv, .ts one hour at 192x108 24 fps, 2 s GOPs, AAC
#   multi/  a.mp4 .. d.mp4      four copies (cp) of film.mp4

import hashlib
import json
import os
import shutil

from common import CACHE_DIR, log, run

FILM_SECONDS = 120
HOUR_SECONDS = 3600

# testsrc2 moves, and the temporal noise keeps it from compressing to nothing
FILM_VIDEO = (f"testsrc2=s=1920x1080:r=24:d={FILM_SECONDS},"
              "noise=alls=12:allf=t+u,format=yuv420p")
HOUR_VIDEO = f"testsrc2=s=192x108:r=24:d={HOUR_SECONDS},format=yuv420p"
AUDIO = ("aevalsrc=0.2*sin(2*PI*440*t)+0.04*(random(0)-0.5)"
         "|0.2*sin(2*PI*554*t)+0.04*(random(1)-0.5):s=48000:d={d}")
GOP = ["-g", "48", "-keyint_min", "48", "-sc_threshold", "0"]

RECIPE = {
    "film": ["-f", "lavfi", "-i", FILM_VIDEO,
             "-f", "lavfi", "-i", AUDIO.format(d=FILM_SECONDS),
             "-map", "0:v", "-map", "1:a",
             "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M",
             "-maxrate", "6M", "-bufsize", "12M"] + GOP +
            ["-c:a", "aac", "-b:a", "160k", "-ac", "2"],
    "hour": ["-f", "lavfi", "-i", HOUR_VIDEO,
             "-f", "lavfi", "-i", AUDIO.format(d=HOUR_SECONDS),
             "-map", "0:v", "-map", "1:a",
             "-c:v", "libx264", "-preset", "veryfast", "-b:v", "150k"] + GOP +
            ["-c:a", "aac", "-b:a", "64k", "-ac", "2"],
}
STAMP = hashlib.sha256(json.dumps(RECIPE).encode()).hexdigest()[:16]

FILM_DIR = os.path.join(CACHE_DIR, "film")
HOUR_DIR = os.path.join(CACHE_DIR, "hour")
MULTI_DIR = os.path.join(CACHE_DIR, "multi")
MULTI_NAMES = ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]


def _ffmpeg(args, out):
    tmp = out + ".part" + os.path.splitext(out)[1]
    run(["ffmpeg", "-v", "error", "-y"] + args + [tmp])
    os.replace(tmp, out)


def _make_set(name, folder, exts):
    """Encode RECIPE[name] to name.mp4 and remux it to the other exts."""
    stamp = os.path.join(folder, ".stamp")
    want = [os.path.join(folder, f"{name}.{e}") for e in exts]
    try:
        with open(stamp) as f:
            if f.read().strip() == STAMP and all(map(os.path.exists, want)):
                return
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    mp4 = os.path.join(folder, f"{name}.mp4")
    log(f"generating {mp4} (once; reused from bench/.cache later)")
    _ffmpeg(RECIPE[name] + ["-movflags", "+faststart"], mp4)
    for e in exts:
        if e != "mp4":
            log(f"remuxing to {name}.{e}")
            _ffmpeg(["-i", mp4, "-map", "0", "-c", "copy"], os.path.join(
                folder, f"{name}.{e}"))
    with open(stamp, "w") as f:
        f.write(STAMP + "\n")


def _make_multi(film_mp4):
    """Four distinct copies (separate inodes) of the film."""
    size = os.path.getsize(film_mp4)
    os.makedirs(MULTI_DIR, exist_ok=True)
    for n in MULTI_NAMES:
        p = os.path.join(MULTI_DIR, n)
        if os.path.exists(p) and os.path.getsize(p) == size \
                and os.path.getmtime(p) >= os.path.getmtime(film_mp4):
            continue
        shutil.copyfile(film_mp4, p + ".part")
        os.replace(p + ".part", p)


def ensure_sources():
    """Generate what is missing; return the paths the measurements use."""
    _make_set("film", FILM_DIR, ["mp4", "mkv"])
    _make_set("hour", HOUR_DIR, ["mp4", "mkv", "ts"])
    film_mp4 = os.path.join(FILM_DIR, "film.mp4")
    _make_multi(film_mp4)
    return {
        "film_dir": FILM_DIR,
        "film": {e: os.path.join(FILM_DIR, f"film.{e}")
                 for e in ("mp4", "mkv")},
        "film_seconds": FILM_SECONDS,
        "hour_dir": HOUR_DIR,
        "hour": {e: os.path.join(HOUR_DIR, f"hour.{e}")
                 for e in ("mp4", "mkv", "ts")},
        "multi_dir": MULTI_DIR,
        "multi": MULTI_NAMES,
    }


def describe():
    """Lines for the report saying what the sources are."""
    return [
        f"`film.mp4`, `film.mkv`: {FILM_SECONDS} s, 1920x1080 24 fps "
        "H.264 (testsrc2 with temporal noise, x264 veryfast, 6 Mbit/s, "
        "2 s GOPs), AAC stereo 160k; the MKV is a remux of the MP4.",
        f"`hour.mp4`, `hour.mkv`, `hour.ts`: {HOUR_SECONDS} s, 192x108 "
        "24 fps H.264 (2 s GOPs), AAC stereo 64k; remuxes of one encode.",
        "`a.mp4` .. `d.mp4`: four copies (`cp`, separate inodes) of "
        "`film.mp4` in their own source directory.",
    ]


if __name__ == "__main__":
    print(json.dumps(ensure_sources(), indent=1))
