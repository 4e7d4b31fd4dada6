# Mounting the two FUSE file systems under test, always fresh, always
# unmounted again with fusermount3 -u (also when a measurement fails):
#   HlsfsMount     ./hlsfs -f -o cache_dir=EMPTYDIR SRC MNT
#   FfmpegfsMount  ffmpegfs -f ... --desttype=hls ... SRC MNT (720p rung)

import os
import re
import signal
import subprocess
import threading
import time

from common import HLSFS, ProductError, fresh_dir, log, rmtree, run

# the 720p rung of hlsfs (nominal 2800k); the peers get the average bit
# rate x264 really aims at inside hlsfs, read from its stream at start-up
# (peer_rate.py); 2380k (85 % of 2800k) until then
RUNG_HEIGHT = 720
RUNG_WIDTH = 1280
RUNG_NOMINAL_K = 2800
SEGMENT_SECONDS = 6
PEER_RATE = {"k": 2380, "how": "default (85 % of 2800k)"}


def ffmpegfs_opts():
    return [
        "--desttype=hls",
        f"--videowidth={RUNG_WIDTH}", f"--videoheight={RUNG_HEIGHT}",
        f"--videobitrate={PEER_RATE['k']}K",
        f"--segment_duration={SEGMENT_SECONDS}",
    ]

MOUNT_DEADLINE = 1800  # a daemon still mounted after this is killed


def _is_mounted(mnt):
    mnt = os.path.realpath(mnt)
    try:
        with open("/proc/self/mountinfo") as f:
            for ln in f:
                parts = ln.split()
                if len(parts) > 4 and parts[4] == mnt:
                    return True
    except OSError:
        pass
    return False


class _Mount:
    """A FUSE daemon run in the foreground, mounted fresh at a new dir.

    Use as a context manager; the mount is gone when the block exits."""

    name = "?"

    def __init__(self, src, tag, cache_dir=None, keep_cache=False):
        self.src = src
        self.tag = tag
        self.base = fresh_dir(tag)
        self.mnt = os.path.join(self.base, "mnt")
        os.makedirs(self.mnt)
        self.cache_dir = cache_dir or os.path.join(self.base, "cache")
        self.own_cache = cache_dir is None
        self.keep_cache = keep_cache
        if self.own_cache:
            os.makedirs(self.cache_dir)
        self.log_path = os.path.join(self.base, "daemon.log")
        self.proc = None
        self._timer = None

    def argv(self):
        raise NotImplementedError

    def __enter__(self):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv(), stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        t = time.monotonic()
        while not _is_mounted(self.mnt):
            if self.proc.poll() is not None:
                self._cleanup()
                raise ProductError(f"{self.name} exited with status "
                                   f"{self.proc.returncode} before mounting:"
                                   f" {self.log_tail()}")
            if time.monotonic() - t > 30:
                self._cleanup()
                raise ProductError(f"{self.name} did not mount in 30 s")
            time.sleep(0.01)
        self._timer = threading.Timer(MOUNT_DEADLINE, self._deadline)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _deadline(self):
        log(f"{self.name} still mounted after {MOUNT_DEADLINE} s: killing "
            f"pid {self.proc.pid}")
        try:
            self.proc.send_signal(signal.SIGKILL)
        except OSError:
            pass

    def __exit__(self, *exc):
        self._cleanup()
        return False

    def _cleanup(self):
        if self._timer:
            self._timer.cancel()
        self.unmount()
        self._log.close()
        if self.own_cache and not self.keep_cache:
            rmtree(self.cache_dir)

    def unmount(self):
        """fusermount3 -u, wait for the daemon to exit (kill it if stuck)."""
        if self.proc is None:
            return
        for _ in range(50):
            if not _is_mounted(self.mnt):
                break
            r = run(["fusermount3", "-u", self.mnt], check=False,
                    capture=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)
        try:
            self.status = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log(f"{self.name} pid {self.proc.pid} did not exit after "
                "unmount; killing it")
            self.proc.kill()
            self.status = self.proc.wait()
        if _is_mounted(self.mnt):
            run(["fusermount3", "-u", "-z", self.mnt], check=False)
        if self.status not in (0, None) and self.status != -signal.SIGKILL:
            log(f"{self.name} exited with status {self.status}; log: "
                f"{self.log_path}")
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, n=3):
        try:
            return " | ".join(self.log_text().strip().splitlines()[-n:])
        except (OSError, ValueError):
            return ""

    def vm_hwm_kib(self):
        """Peak resident set size of the daemon so far (VmHWM), in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
        return None

    def vm_rss_kib(self):
        """Resident set size of the daemon now (VmRSS), in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
        return None

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)


class HlsfsMount(_Mount):
    name = "hlsfs"

    def __init__(self, src, tag="hlsfs", options=None, **kw):
        super().__init__(src, tag, **kw)
        self.options = options or []

    def argv(self):
        o = ",".join([f"cache_dir={self.cache_dir}"] + self.options)
        return [HLSFS, "-f", "-o", o, self.src, self.mnt]

    def index_line(self, title):
        """Parse the daemon's 'index built' log line for a title:
        (source of the index, total ms, index ms), or None."""
        pat = re.compile(re.escape(title) + r": index built from (.+?) in "
                         r"([\d.]+) ms \(([\d.]+) ms index")
        for ln in self.log_text().splitlines():
            m = pat.search(ln)
            if m:
                return m.group(1), float(m.group(2)), float(m.group(3))
        return None

    # paths of the 720p rung inside a title
    def master(self, title):
        return self.path(title, "master.m3u8")

    def playlist(self, title):
        return self.path(title, "video", f"{RUNG_HEIGHT}p", "index.m3u8")

    def segment(self, title, n):
        return self.path(title, "video", f"{RUNG_HEIGHT}p", f"{n:05d}.ts")


class FfmpegfsMount(_Mount):
    """ffmpegfs in HLS mode: TITLE/master.m3u8, TITLE/index_0_av.m3u8 and
    TITLE/000001.ts ... (numbered from 1, audio and video in one file)."""

    name = "ffmpegfs"

    def argv(self):
        return (["ffmpegfs", "-f", "--log_stderr", "--log_maxlevel=INFO"] +
                ffmpegfs_opts() + [f"--cachepath={self.cache_dir}",
                                 self.src, self.mnt])

    def master(self, title):
        return self.path(title, "master.m3u8")

    def playlist(self, title):
        return self.path(title, "index_0_av.m3u8")

    def segment(self, title, n):
        return self.path(title, f"{n + 1:06d}.ts")


def hlsfs_cmdline():
    return "./hlsfs -f -o cache_dir=EMPTYDIR SRC MNT"


def ffmpegfs_cmdline():
    return ("ffmpegfs -f --log_stderr --log_maxlevel=INFO " +
            " ".join(ffmpegfs_opts()) + " --cachepath=EMPTYDIR SRC MNT")
