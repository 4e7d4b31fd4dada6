"""Check bookkeeping, a watchdog, and the lifetime of hlsfs mounts.

Every check prints exactly one line, "PASS <name>" or "FAIL <name>: <reason>",
flushed at once. A check whose prerequisite failed is reported as a FAIL
naming that prerequisite, never silently skipped.

A FUSE read that the daemon never answers blocks the reading thread in the
kernel, and signals do not help (the kernel waits for the daemon's reply).
The watchdog therefore does the only thing that unblocks such a reader: it
aborts the FUSE connection and kills the daemon, so the blocked call fails
with ENOTCONN and the check reports the timeout.
"""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback


class CheckFailed(Exception):
    """Raised by a check to report a failure with a one-line reason."""


def fail(reason):
    raise CheckFailed(reason)


def expect(cond, reason):
    if not cond:
        raise CheckFailed(reason)


def one_line(text, limit=1500):
    text = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def note(text):
    """Context for a human reader; stderr, so stdout stays PASS/FAIL lines."""
    print("note: " + one_line(text, 4000), file=sys.stderr, flush=True)


class Collector:
    """Gathers several problems so that one check can report all of them."""

    def __init__(self, limit=8):
        self.problems = []
        self.limit = limit

    def add(self, text):
        self.problems.append(text)

    def check(self, cond, text):
        if not cond:
            self.add(text)
        return cond

    def __bool__(self):
        return bool(self.problems)

    def raise_if_any(self):
        if self.problems:
            shown = self.problems[: self.limit]
            more = len(self.problems) - len(shown)
            reason = "; ".join(shown)
            if more > 0:
                reason += "; (+%d more)" % more
            raise CheckFailed(reason)


# ---------------------------------------------------------------------------
# Mount tracking and cleanup

_ACTIVE_MOUNTS = []
_ACTIVE_LOCK = threading.Lock()


def _unescape_mountinfo(field):
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountinfo_entry(path):
    """The /proc/self/mountinfo fields for a mount point, or None.

    Reading mountinfo never sends a request to a FUSE daemon, unlike
    os.path.ismount, which stats the mount point and hangs if the daemon
    does."""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and _unescape_mountinfo(fields[4]) == path:
            found = fields  # the last one is the topmost mount
    return found


def is_mounted(path):
    return mountinfo_entry(path) is not None


def mounts_below(path):
    prefix = path.rstrip("/") + "/"
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4:
                    mp = _unescape_mountinfo(fields[4])
                    if mp == path or mp.startswith(prefix):
                        found.append(mp)
    except OSError:
        pass
    return found


class Mount:
    """One hlsfs process in the foreground and its mount point."""

    def __init__(self, hlsfs, source, mountpoint, cache_dir, log_path,
                 segment_time=None, label="mount", options=None):
        self.hlsfs = hlsfs
        self.source = source
        self.mountpoint = os.path.realpath(mountpoint)
        self.cache_dir = cache_dir
        self.log_path = log_path
        self.segment_time = segment_time
        self.options = dict(options or {})   # more -o NAME=VALUE, in order
        self.label = label
        self.proc = None
        self.exit_status = None
        self.aborted = None
        self._logf = None

    # -- start ------------------------------------------------------------
    def command(self):
        opts = ["cache_dir=" + self.cache_dir]
        if self.segment_time is not None:
            opts.append("segment_time=%s" % self.segment_time)
        opts += ["%s=%s" % kv for kv in self.options.items()]
        return [self.hlsfs, "-f", "-o", ",".join(opts), self.source, self.mountpoint]

    def start(self, timeout=20.0):
        os.makedirs(self.mountpoint, exist_ok=True)
        self._logf = open(self.log_path, "ab")
        # A new session keeps a terminal's ^C away from the daemon: the test
        # unmounts it itself, in order, from its own signal handler.
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=self._logf,
                                     start_new_session=True)
        with _ACTIVE_LOCK:
            _ACTIVE_MOUNTS.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if is_mounted(self.mountpoint):
                return
            rc = self.proc.poll()
            if rc is not None:
                self.exit_status = rc
                fail("hlsfs exited with status %d before mounting; log: %s"
                     % (rc, self.log_tail()))
            time.sleep(0.05)
        fail("%s not mounted after %.0f s; log: %s"
             % (self.mountpoint, timeout, self.log_tail()))

    # -- state ------------------------------------------------------------
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=12):
        text = self.log_text().splitlines()
        return one_line(" | ".join(text[-lines:]) or "(empty log)", 1200)

    # -- stop -------------------------------------------------------------
    def abort(self, why):
        """Abort the FUSE connection and kill the daemon (watchdog path)."""
        self.aborted = why
        entry = mountinfo_entry(self.mountpoint)
        if entry is not None:
            minor = entry[2].split(":")[-1]
            try:
                with open("/sys/fs/fuse/connections/%s/abort" % minor, "w") as f:
                    f.write("1")
            except OSError:
                pass
        if self.alive():
            try:
                self.proc.kill()
            except OSError:
                pass

    def stop(self):
        """Unmount and reap the daemon. Returns a list of problems (empty
        when the unmount was clean and the daemon exited with status 0)."""
        problems = []
        if is_mounted(self.mountpoint):
            try:
                r = subprocess.run(["fusermount3", "-u", self.mountpoint],
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, timeout=15)
                if r.returncode != 0:
                    problems.append("fusermount3 -u failed: " + one_line(r.stderr))
            except subprocess.TimeoutExpired:
                problems.append("fusermount3 -u timed out")
            if is_mounted(self.mountpoint):
                subprocess.run(["umount", "-l", self.mountpoint],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=15)
                if is_mounted(self.mountpoint):
                    self.abort("could not unmount")
                    subprocess.run(["umount", "-l", self.mountpoint],
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=15)
                    problems.append("still mounted after umount -l")
        if self.proc is not None:
            try:
                self.exit_status = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                problems.append("hlsfs did not exit within 10 s of the unmount; killed")
                self.proc.kill()
                try:
                    self.exit_status = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    problems.append("hlsfs survived SIGKILL for 5 s")
            if self.exit_status not in (0, None) and not self.aborted:
                problems.append("hlsfs exit status %s" % self.exit_status)
        if self._logf is not None:
            self._logf.close()
            self._logf = None
        with _ACTIVE_LOCK:
            if self in _ACTIVE_MOUNTS:
                _ACTIVE_MOUNTS.remove(self)
        return problems


def stop_all_mounts():
    with _ACTIVE_LOCK:
        mounts = list(_ACTIVE_MOUNTS)
    for m in reversed(mounts):
        try:
            m.stop()
        except Exception:  # cleanup must go on for the others
            pass


def abort_all_mounts(why):
    with _ACTIVE_LOCK:
        mounts = list(_ACTIVE_MOUNTS)
    for m in mounts:
        m.abort(why)


_CLEANUPS = []
_EARLY_CLEANUPS = []


def on_cleanup(fn, before_unmount=False):
    """Run fn at exit, also on SIGTERM/SIGINT/SIGHUP: after unmounting, or
    before it (servers and clients that hold files of a mount)."""
    (_EARLY_CLEANUPS if before_unmount else _CLEANUPS).append(fn)


def _run_list(fns):
    while fns:
        fn = fns.pop()
        try:
            fn()
        except Exception:
            pass


def _run_cleanups():
    _run_list(_EARLY_CLEANUPS)
    stop_all_mounts()
    _run_list(_CLEANUPS)


def _on_signal(signum, frame):
    print("note: signal %d, unmounting and exiting" % signum, file=sys.stderr, flush=True)
    _run_cleanups()
    os._exit(128 + signum)


def install_cleanup_handlers():
    atexit.register(_run_cleanups)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)


# ---------------------------------------------------------------------------
# Watchdog

class Watchdog:
    """Aborts every active mount when the armed deadline passes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._deadline = None
        self._label = None
        self.fired = None
        t = threading.Thread(target=self._loop, name="watchdog", daemon=True)
        t.start()

    def arm(self, seconds, label):
        with self._lock:
            self._deadline = time.monotonic() + seconds
            self._label = "%s exceeded %d s" % (label, seconds)
            self.fired = None

    def disarm(self):
        with self._lock:
            self._deadline = None

    def _loop(self):
        while True:
            time.sleep(0.25)
            with self._lock:
                due = self._deadline is not None and time.monotonic() > self._deadline
                if due:
                    self._deadline = None
                    self.fired = self._label
                    label = self._label
            if due:
                print("note: watchdog: %s; aborting the FUSE connection" % label,
                      file=sys.stderr, flush=True)
                abort_all_mounts(label)


# ---------------------------------------------------------------------------
# Results

class Results:
    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.status = {}
        self.verbose = verbose
        self.watchdog = Watchdog()

    def record(self, name, ok, reason=None):
        if name in self.status:
            # names are unique by construction; keep the output parseable anyway
            name = "%s#%d" % (name, sum(1 for n in self.status if n.startswith(name)))
        self.status[name] = ok
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, one_line(reason or "failed")), flush=True)
        return ok

    def ok(self, name):
        return self.status.get(name) is True

    def run(self, name, fn, *args, needs=(), timeout=180, **kwargs):
        """Run one check. Returns (passed, value returned by fn or None)."""
        for prereq in needs:
            if not self.ok(prereq):
                self.record(name, False, "prerequisite failed: %s" % prereq)
                return False, None
        self.watchdog.arm(timeout, name)
        try:
            value = fn(*args, **kwargs)
        except CheckFailed as e:
            self.watchdog.disarm()
            return self._failed(name, str(e)), None
        except Exception as e:  # any crash of a check is that check's failure
            self.watchdog.disarm()
            if self.verbose:
                traceback.print_exc()
            return self._failed(name, "%s: %s" % (type(e).__name__, e)), None
        self.watchdog.disarm()
        if self.watchdog.fired:
            return self._failed(name, "completed only after the watchdog fired"), None
        self.record(name, True)
        return True, value

    def _failed(self, name, reason):
        if self.watchdog.fired:
            reason = "timed out (%s; FUSE connection aborted): %s" % (self.watchdog.fired, reason)
        self.record(name, False, reason)
        return False

    def fail_all(self, names, reason):
        for n in names:
            self.record(n, False, reason)


# ---------------------------------------------------------------------------
# A suite's main

def run_suite(label, prefix, body, keep=False, verbose=False, base_mode=None):
    """Run body(results, base) in a new temporary directory 'base', always
    unmounting what it mounted; remove base unless keep (or something is
    still mounted below it); print "<label>: N passed, N failed" and return
    the exit status."""
    install_cleanup_handlers()
    base = tempfile.mkdtemp(prefix=prefix)
    if base_mode is not None:
        os.chmod(base, base_mode)

    def remove_base():
        left = mounts_below(base)
        if left:
            note("not removing %s: still mounted: %s" % (base, left))
        elif keep:
            note("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)

    on_cleanup(remove_base)
    results = Results(verbose=verbose)
    started = time.monotonic()
    try:
        body(results, base)
    finally:
        _run_list(_EARLY_CLEANUPS)
        stop_all_mounts()
    note("runtime %.0f s" % (time.monotonic() - started))
    print("%s: %d passed, %d failed" % (label, results.passed, results.failed), flush=True)
    return 1 if results.failed else 0
