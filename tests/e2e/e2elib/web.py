"""HTTP clients on loopback (http.client), MPEG-TS validation, and a view of
which nginx threads are blocked reading the mount."""

import hashlib
import http.client
import itertools
import os
import threading

from hlsit.tsparse import STREAM_TYPE_H264, TsError, TsFile

# Completion order of requests across threads: a shared counter, so that
# "A finished before B" is decided by order, never by a clock.
_SEQ = itertools.count(1)
_SEQ_LOCK = threading.Lock()


def next_seq():
    with _SEQ_LOCK:
        return next(_SEQ)


class Fetch:
    """One GET on a connection of its own. Fields after run(): status,
    headers (lower-case names), body, error, done_seq (completion order)."""

    def __init__(self, port, path, method="GET", headers=None, timeout=300):
        self.port = port
        self.path = path
        self.method = method
        self.req_headers = dict(headers or {})
        self.timeout = timeout
        self.status = None
        self.headers = {}
        self.body = None
        self.error = None
        self.done_seq = None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(self.method, self.path, headers=self.req_headers)
            resp = conn.getresponse()
            self.status = resp.status
            self.headers = {k.lower(): v for k, v in resp.getheaders()}
            self.body = resp.read()
        except Exception as e:  # recorded, judged by the caller
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            conn.close()
            self.done_seq = next_seq()
        return self

    def start(self):
        t = threading.Thread(target=self.run, name="fetch " + self.path, daemon=True)
        t.start()
        self.thread = t
        return t

    @property
    def content_length(self):
        v = self.headers.get("content-length")
        return int(v) if v is not None and v.isdigit() else None


def response_problems(f, want_size):
    """What is wrong with a finished fetch of a whole file of want_size bytes."""
    if f.error:
        return ["%s: %s" % (f.path, f.error)]
    out = []
    if f.status != 200:
        out.append("%s: status %s" % (f.path, f.status))
    if f.content_length is None:
        out.append("%s: no Content-Length" % f.path)
    elif f.content_length != len(f.body):
        out.append("%s: Content-Length %d, %d bytes received"
                   % (f.path, f.content_length, len(f.body)))
    if len(f.body) != want_size:
        out.append("%s: %d bytes received, stat says %d" % (f.path, len(f.body), want_size))
    return out


def ts_problems(data, name):
    """Not valid MPEG-TS with one H.264 stream: 188-byte packets, each
    with a sync byte, a PAT and PMT, H.264 PES packets."""
    if not data:
        return ["%s: empty" % name]
    try:
        ts = TsFile(data)   # checks the length and every sync byte
    except TsError as e:
        return ["%s: %s" % (name, e)]
    pid = ts.pid_of(STREAM_TYPE_H264)
    if ts.programs != 1 or pid is None:
        return ["%s: want one program with an H.264 stream, have %d programs, streams %s"
                % (name, ts.programs, ts.streams)]
    if not ts.pes.get(pid):
        return ["%s: no H.264 PES packets" % name]
    return []


def fmp4_problems(data, name):
    """Not an fMP4 media segment: a moof, an mdat, and at most a 'free'
    box, each of a length that fits."""
    from hlsit.fmp4 import boxes
    from hlsit.harness import CheckFailed
    if not data:
        return ["%s: empty" % name]
    try:
        kinds = [b[0] for b in boxes(data)]
    except CheckFailed as e:
        return ["%s: %s" % (name, e)]
    if kinds[:2] != ["moof", "mdat"] or kinds[2:] not in ([], ["free"]):
        return ["%s: boxes %s, want moof, mdat and at most a free box" % (name, kinds)]
    return []


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# nginx threads blocked in a read of the mount

# syscall number -> index of the argument holding the file descriptor read
_READ_SYSCALLS = {
    "x86_64": {0: 0, 17: 0, 19: 0, 40: 1, 275: 0, 295: 0, 327: 0},
    "aarch64": {63: 0, 65: 0, 67: 0, 69: 0, 71: 1, 76: 0, 286: 0},
}


def blocked_readers(pids, mountpoint):
    """[(pid, tid, path)] of the threads of pids that are inside a read,
    sendfile or splice of a file below mountpoint right now."""
    table = _READ_SYSCALLS.get(os.uname().machine)
    if table is None:
        raise RuntimeError("no syscall table for %s" % os.uname().machine)
    prefix = mountpoint.rstrip("/") + "/"
    found = []
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                    fields = f.read().split()
            except OSError:
                continue
            if not fields or not fields[0].lstrip("-").isdigit():
                continue   # "running"
            nr = int(fields[0])
            if nr not in table or len(fields) < 7:
                continue
            fd = int(fields[1 + table[nr]], 16)
            try:
                path = os.readlink("/proc/%d/fd/%d" % (pid, fd))
            except OSError:
                continue
            if path.startswith(prefix):
                found.append((pid, int(tid), path))
    return found
