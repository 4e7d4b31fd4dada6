# Shared helpers of the benchmark harness: paths, logging, running
# commands, installing missing Debian packages, medians, reading files
# through a mount, and the facts about the machine.

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
CACHE_DIR = os.path.join(BENCH_DIR, ".cache")   # generated sources, scratch
WORK_DIR = os.path.join(CACHE_DIR, "work")       # per-run mounts and caches
HLSFS = os.environ.get("HLSFS_BIN") or os.path.join(REPO_DIR, "hlsfs")

READ_CHUNK = 1 << 20  # 1 MiB reads everywhere

_T0 = time.monotonic()


def log(msg):
    """Progress line on stderr, prefixed with the elapsed time."""
    el = time.monotonic() - _T0
    print(f"[bench {int(el) // 60:3d}:{int(el) % 60:02d}] {msg}",
          file=sys.stderr, flush=True)


class ProductError(Exception):
    """The system under test failed (read error, daemon died, no mount).

    A finding to report, not a fault of the harness."""


def run(cmd, check=True, capture=False, **kw):
    """Run a command (list), raising on a non-zero status when check."""
    if capture:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
    return subprocess.run(cmd, check=check, **kw)


def timed(cmd, **kw):
    """Wall time in seconds of one run of a command (list)."""
    t = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - t


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_samples(xs, nd=2):
    return ", ".join("-" if x is None else f"{x:.{nd}f}" for x in xs)


# --- packages -------------------------------------------------------------

def _installed(pkg):
    r = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False,
            capture=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_packages(pkgs):
    """apt-get install the Debian packages of pkgs that are missing."""
    missing = [p for p in pkgs if not _installed(p)]
    if not missing:
        return
    log("installing: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq"] + missing, env=env)


# --- reading ----------------------------------------------------------------

def read_all(path, buf=None, keep=False):
    """Read a file to its end with 1 MiB reads.

    Returns the byte count, or (count, bytes) when keep.  A failing read
    of the system under test raises ProductError."""
    if buf is None:
        buf = bytearray(READ_CHUNK)
    mv = memoryview(buf)
    parts = [] if keep else None
    n = 0
    try:
        with open(path, "rb", buffering=0) as f:
            while True:
                k = f.readinto(mv)
                if not k:
                    break
                n += k
                if keep:
                    parts.append(bytes(mv[:k]))
    except OSError as e:
        raise ProductError(f"reading {path}: {e}") from e
    return (n, b"".join(parts)) if keep else n


def playlist_entries(path):
    """The URIs of a media playlist, in order (read through the mount)."""
    try:
        with open(path, "r") as f:
            text = f.read()
    except OSError as e:
        raise ProductError(f"reading {path}: {e}") from e
    return [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.startswith("#")]


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def fresh_dir(name):
    """An empty directory under the work folder."""
    path = os.path.join(WORK_DIR, name)
    rmtree(path)
    os.makedirs(path)
    return path


# --- machine ---------------------------------------------------------------

def _first_line(cmd):
    try:
        r = run(cmd, check=False, capture=True)
        out = (r.stdout or r.stderr).strip().splitlines()
        return out[0] if out else "?"
    except OSError:
        return "?"


def machine_facts():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    rev = _first_line(["git", "-C", REPO_DIR, "describe", "--always",
                       "--dirty"])
    ffmpegfs_ver = _first_line(["dpkg-query", "-W", "-f=${Version}",
                                "ffmpegfs"]) + " (Debian package)"
    return [
        ("Cores", str(os.cpu_count())),
        ("CPU", cpu),
        ("Memory", mem),
        ("Kernel", platform.release()),
        ("OS", _os_name()),
        ("hlsfs", f"{_first_line([HLSFS, '--version'])} (git {rev})"),
        ("ffmpeg",
         _first_line(["ffmpeg", "-version"]).split(" Copyright")[0]),
        ("ffmpegfs", ffmpegfs_ver),
        ("Python", platform.python_version()),
    ]


def _os_name():
    try:
        with open("/etc/os-release") as f:
            for ln in f:
                if ln.startswith("PRETTY_NAME="):
                    return ln.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def x264_settings(ts_path):
    """The x264 option string an encoder wrote into a TS file's stream."""
    r = run(["ffmpeg", "-v", "error", "-i", ts_path, "-map", "0:v:0",
             "-c", "copy", "-f", "h264", "-"], check=False,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    m = re.search(rb"options: ([ -~]+)", r.stdout)
    return m.group(1).decode() if m else None


def x264_brief(opts):
    """A few telling fields of an x264 option string."""
    if not opts:
        return "?"
    fields = dict(kv.split("=", 1) for kv in opts.split() if "=" in kv)
    keys = ["threads", "cabac", "ref", "me", "subme", "bframes", "keyint",
            "rc", "bitrate", "aq"]
    return " ".join(f"{k}={fields[k]}" for k in keys if k in fields)
