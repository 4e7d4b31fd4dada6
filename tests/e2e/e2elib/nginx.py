"""nginx started by the tests, with the configuration of examples/nginx.conf.

The test configuration is the example with only what a test must change
substituted: the listen address (a free loopback port), the root (the
mount), the pid and log paths (in the test's temporary directory), the
directory of the player page, and, when the tests do not run as root, the
user. Everything else, the thread pool and `aio threads` included, is the
example's own text. Each substitution must match exactly once, so an
edit of the example that moves one of these lines fails the setup instead
of silently testing something else.

One addition: an access log format with the Content-Length header nginx
sent and the body bytes it sent, so that the tests can compare them.
"""

import os
import re
import signal
import socket
import subprocess
import time

from hlsit.harness import fail, note

LOG_FORMAT = ('log_format hlsfs_e2e \'$status $request_method "$uri" '
              'cl=$sent_http_content_length sent=$body_bytes_sent '
              'done=$request_completion\';')
LOG_LINE_RE = re.compile(r'^(\d{3}) (\S+) "([^"]*)" cl=(\S+) sent=(\d+) done=(\S*)$')

_ACTIVE = []


def free_port():
    """A loopback TCP port that nobody listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _sub_once(text, pattern, repl, what):
    new, n = re.subn(pattern, lambda m: repl, text, flags=re.M)
    if n != 1:
        fail("examples/nginx.conf: %s: %d matches of /%s/, want exactly 1"
             % (what, n, pattern))
    return new


def derive_config(example_text, port, root, player_dir, run_dir, user=None,
                  without_aio=False):
    """The example configuration with the test's paths and port."""
    t = example_text
    if user is not None:
        t = _sub_once(t, r"^user\s+\S+;", "user %s;" % user, "user")
    t = _sub_once(t, r"^pid\s+\S+;", "pid %s;" % os.path.join(run_dir, "nginx.pid"), "pid")
    t = _sub_once(t, r"^error_log\s+\S+(\s+\w+)?;",
                  "error_log %s warn;" % os.path.join(run_dir, "error.log"), "error_log")
    t = _sub_once(t, r"^[ \t]*access_log\s+\S+;",
                  "    %s\n    access_log %s hlsfs_e2e;"
                  % (LOG_FORMAT, os.path.join(run_dir, "access.log")), "access_log")
    t = _sub_once(t, r"^[ \t]*listen\s+\S+;", "        listen 127.0.0.1:%d;" % port, "listen")
    t = _sub_once(t, r"^[ \t]*root\s+\S+;", "        root %s;" % root, "root")
    t = _sub_once(t, r"^[ \t]*alias\s+\S+;", "            alias %s/;" % player_dir.rstrip("/"),
                  "player alias")
    if not re.search(r"^[ \t]*aio\s+threads=\w+;", t, flags=re.M):
        fail("examples/nginx.conf has no 'aio threads=POOL;' line")
    if not re.search(r"^thread_pool\s+\w+", t, flags=re.M):
        fail("examples/nginx.conf has no thread_pool")
    if without_aio:
        # only to show that the stall check fails without the pool
        t = _sub_once(t, r"^[ \t]*aio\s+threads=\w+;", "", "aio threads")
    return t


class Nginx:
    """One nginx master process in the foreground (daemon off)."""

    def __init__(self, conf_text, run_dir):
        self.run_dir = run_dir
        self.conf = os.path.join(run_dir, "nginx.conf")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(conf_text)

    def command(self, *extra):
        return ["nginx", "-e", os.path.join(self.run_dir, "startup-error.log"),
                "-c", self.conf] + list(extra)

    def test_config(self):
        r = subprocess.run(self.command("-t"), capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        if r.returncode != 0:
            fail("nginx -t: " + r.stderr.strip()[-600:])

    def start(self, port, timeout=20.0):
        self.test_config()
        logf = open(os.path.join(self.run_dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(self.command("-g", "daemon off;"),
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     start_new_session=True)
        logf.close()
        _ACTIVE.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail("nginx exited with status %d: %s" % (self.proc.returncode, self.error_tail()))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        fail("nginx does not listen on port %d after %.0f s" % (port, timeout))

    def wait_workers(self, timeout=10.0):
        """The worker processes, once the master has forked them: it
        listens before it forks, so a busy machine may show none yet."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.worker_pids()
            if pids or time.monotonic() >= deadline:
                return pids
            time.sleep(0.05)

    def worker_pids(self):
        """The worker processes (children of the master)."""
        if self.proc is None:
            return []
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(name))
        return sorted(pids)

    def error_tail(self, n=6):
        out = []
        for name in ("startup-error.log", "error.log", "stderr.log"):
            try:
                with open(os.path.join(self.run_dir, name), errors="replace") as f:
                    out += [l.strip() for l in f.read().splitlines()[-n:] if l.strip()]
            except OSError:
                pass
        return " | ".join(out[-n:]) or "(no log)"

    def access_log(self):
        """Parsed access log lines: dicts status, method, uri, cl, sent,
        complete (nginx sent the whole response)."""
        entries = []
        try:
            with open(os.path.join(self.run_dir, "access.log"), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return entries
        for line in lines:
            m = LOG_LINE_RE.match(line)
            if not m:
                entries.append({"bad": line})
                continue
            entries.append({"status": int(m.group(1)), "method": m.group(2),
                            "uri": m.group(3),
                            "cl": None if m.group(4) == "-" else int(m.group(4)),
                            "sent": int(m.group(5)), "complete": m.group(6) == "OK"})
        return entries

    def error_log_errors(self):
        """Lines of the error log at level error or worse ([alert] ...)."""
        try:
            with open(os.path.join(self.run_dir, "error.log"), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        return [l for l in lines if re.search(r"\[(error|crit|alert|emerg)\]", l)]

    def stop(self):
        """Stop nginx and its workers; returns a list of problems."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            # SIGTERM is nginx's fast shutdown: it does not wait for
            # requests still waiting for a segment.
            try:
                self.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                problems.append("nginx did not stop within 15 s of SIGTERM; killed")
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait(timeout=5)
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        return problems


def stop_all():
    for n in list(_ACTIVE):
        try:
            n.stop()
        except Exception:
            pass
    if _ACTIVE:
        note("nginx processes left: %s" % [n.proc.pid for n in _ACTIVE if n.proc])
