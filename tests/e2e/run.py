#!/usr/bin/env python3
"""End-to-end tests of hlsfs with real clients: nginx serving the mount to
hls.js in headless Chromium, GStreamer, ffmpeg and rsync, and nginx under a
load of concurrent uncached requests.

    python3 tests/e2e/run.py --hlsfs ./hlsfs --media ../shared/media

Run from anywhere, as root (FUSE mounts, nginx). Prints one line per check,
"PASS <name>" or "FAIL <name>: <reason>", then "e2e: N passed, N failed";
exits 1 if anything failed. Notes for a human reader go to stderr. Python 3
standard library only; the browser side needs `npm ci` in tests/e2e (make
e2e does it).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, HERE)

from hlsit import fmp4 as fmp4lib  # noqa: E402
from hlsit import harness  # noqa: E402
from hlsit.harness import (Collector, Mount, expect, fail,  # noqa: E402
                           note, on_cleanup, run_suite)
from hlsit.m3u8 import MasterPlaylist, MediaPlaylist  # noqa: E402
from hlsit.media import SourceVideo  # noqa: E402

from e2elib import fixtures as fx  # noqa: E402
from e2elib import nginx as ngx  # noqa: E402
from e2elib import players, web  # noqa: E402

# One mount for everything: 2 s segments, a small and fast ladder (the
# default ladder is not what these tests are about), readahead bounded.
MOUNT_OPTIONS = {
    "segment_time": "2",
    "ladder": "120:150k,180:300k,720:1500k",
    "preset": "ultrafast",
    "max_ahead": "8",
}
CHROMIUM = "/usr/bin/chromium"
BROWSER_WAIT_MS = 60000          # hang guard of each wait in the page, not a threshold
NODE_MODULES = os.path.join(HERE, "node_modules")
HLS_JS = os.path.join(NODE_MODULES, "hls.js", "dist", "hls.min.js")
EXAMPLES = os.path.join(TOP, "examples")

# Tolerances of the decoded durations (stated in README.md): the first and
# the last decoded video frame within 2 frame durations of the source's;
# audio within that plus one AAC frame (1024 samples at 48 kHz).
FRAMES_TOLERANCE = 2
AAC_FRAME_S = 1024 / 48000
MPEGTS_OFFSET = 1.4
# GStreamer's times have a base of their own, so only the span from the
# first to the end of the last frame is compared with the title's duration.
# Its demuxers place a fragment by its first DTS: after a switch between
# renditions whose decoding delay differs (the copied original with
# B-frames, ultrafast rungs without) the pictures shift by that delay, two
# frames here. A quarter second allows that and still fails on a missing
# segment (2 s) or a playback that stops early.
GST_TOLERANCE_S = 0.25


class E2EMount(Mount):
    """An hlsfs mount that nginx's workers (www-data) may read."""

    def command(self):
        cmd = super().command()
        i = cmd.index("-o")
        cmd[i + 1] = "allow_other," + cmd[i + 1]
        return cmd


def audio_in_group(m, group="audio"):
    """The audio renditions of a master's group: a player picks its audio
    from the group of the variant it plays (stereo AAC: "audio"; the
    cellular variant's "audio-32k", copied AC-3 "audio-ac3" ...)."""
    return sum(1 for a, _ in m.media if a.get("TYPE") == "AUDIO" and a.get("GROUP-ID") == group)


def quote(rel):
    return "/" + urllib.parse.quote(rel)


class Suite:
    def __init__(self, args, results, base):
        self.args = args
        self.r = results
        self.base = base
        self.hlsfs = os.path.abspath(args.hlsfs)
        self.media = os.path.abspath(args.media) if args.media else None
        self.src = self._dir("src-")
        self.scratch = self._dir("scratch-")
        self.cache = self._dir("cache-")
        self.player_dir = self._dir("player-")
        self.nginx_dir = self._dir("nginx-")
        self.copies = self._dir("rsync-")
        self.shared = []
        self.mount = None
        self.nginx = None
        self.port = None
        self.browser = None
        self.load = None
        self._sv = {}
        self.fmp4 = args.format == "fmp4"
        self.seg_ext = ".m4s" if self.fmp4 else ".ts"

    def _dir(self, prefix):
        d = tempfile.mkdtemp(prefix=prefix, dir=self.base)
        os.chmod(d, 0o755)
        return d

    @property
    def mnt(self):
        return self.mount.mountpoint

    def mpath(self, rel):
        return os.path.join(self.mnt, rel)

    def sv(self, rel):
        if rel not in self._sv:
            self._sv[rel] = SourceVideo(os.path.join(self.src, rel))
        return self._sv[rel]

    def master(self, rel):
        with open(os.path.join(self.mnt, rel, "master.m3u8")) as f:
            return MasterPlaylist(f.read())

    # -- top level ----------------------------------------------------------
    def run(self):
        r = self.r
        r.run("setup/tools", self.check_tools)
        r.run("setup/fixtures", self.make_fixtures, timeout=300)
        options = dict(MOUNT_OPTIONS, format=self.args.format)
        self.mount = E2EMount(self.hlsfs, self.src, self._dir("mnt-"), self.cache,
                              os.path.join(self.base, "hlsfs.log"), label="e2e",
                              options=options)
        ok, _ = r.run("mount", self.mount.start, needs=("setup/tools", "setup/fixtures"),
                      timeout=60)
        try:
            if ok:
                self.body()
        except Exception as e:  # a bug of the suite: report it
            if self.args.verbose:
                traceback.print_exc()
            r.record("suite_error", False, "%s: %s" % (type(e).__name__, e))
        finally:
            nginx_problems = self.nginx.stop() if self.nginx else []
            problems = self.mount.stop() if self.mount.proc is not None else ["never started"]
        if self.nginx is not None and r.ok("nginx/start"):
            r.run("nginx/stop", self.check_nginx_stop, nginx_problems)
        if ok:
            def unmount_result():
                if self.mount.aborted:
                    fail("the watchdog aborted the mount: %s" % self.mount.aborted)
                expect(not problems, "; ".join(problems) + "; log: " + self.mount.log_tail(4))
            r.run("unmount", unmount_result)
        else:
            r.record("unmount", False, "prerequisite failed: mount")

    def body(self):
        r = self.r
        r.run("nginx/start", self.start_nginx, needs=("mount",), timeout=60)
        web_ok = ("mount", "nginx/start")
        r.run("nginx/headers", self.check_headers, needs=web_ok)

        # first, while their titles are uncached
        r.run("load/parallel_uncached", self.check_load, needs=web_ok, timeout=300)
        r.run("load/cached_not_stalled", self.check_not_stalled,
              needs=("load/parallel_uncached",))

        titles = [(fx.PLAY, True)]
        if "london" in self.shared:
            titles.append((fx.shared_rel("london"), False))
        if self.fmp4 and "av1" in self.shared:
            titles.append((fx.shared_rel("av1"), False))
        if "multiaudio" in self.shared:
            titles.append((fx.shared_rel("multiaudio"), True))
        r.run("browser/run", self.run_browser, titles, needs=web_ok, timeout=400)
        for rel, audio_switch in titles:
            self.browser_checks(rel, audio_switch)
        r.run("browser/example_player", self.check_example_player, needs=("browser/run",))
        r.run("browser/subtitles", self.check_subtitles, needs=("browser/run",))

        # playbin (hlsdemux) reads file:// URIs; playbin3 (hlsdemux2) only
        # http(s), so it plays through nginx. playbin's hlsdemux is not given
        # a title with two audio renditions: it feeds both to an
        # input-selector, and now and then the unselected one stops the
        # pipeline with "not-linked", after which gst-launch hangs (a
        # GStreamer 1.22 race: 1 run in 6 of play/two_audio.mp4 here).
        # playbin3 selects streams itself and plays them reliably.
        if "london" in self.shared:
            rel = fx.shared_rel("london")
            r.run("gstreamer/playbin/%s" % rel, self.check_gst, "playbin",
                  "file://" + urllib.parse.quote(self.mpath(rel) + "/master.m3u8"), rel,
                  needs=("mount",), timeout=300)
        for rel in [fx.PLAY] + ([fx.shared_rel("multiaudio")]
                                if "multiaudio" in self.shared else []):
            r.run("gstreamer/playbin3_http/%s" % rel, self.check_gst, "playbin3",
                  "http://127.0.0.1:%d%s/master.m3u8" % (self.port, quote(rel)), rel,
                  needs=web_ok, timeout=300)

        ff_titles = [fx.PLAY] + [fx.shared_rel(k) for k in ("london", "smpte")
                                 if k in self.shared]
        for rel in ff_titles:
            self.ffmpeg_checks(rel)

        if self.fmp4:
            for rel in [fx.PLAY] + [fx.shared_rel(k) for k in ("london",) if k in self.shared]:
                self.parser_checks(rel)
            # of the 6-minute AV1 title only what plays without an encode
            if "av1" in self.shared:
                self.parser_checks(fx.shared_rel("av1"), only=("original", "0"))

        rs_titles = [fx.PLAY] + ([fx.shared_rel("multiaudio")]
                                 if "multiaudio" in self.shared else [])
        for rel in rs_titles:
            self.rsync_checks(rel)

        r.run("nginx/content_length", self.check_access_log, needs=web_ok)

    # -- setup --------------------------------------------------------------
    def check_tools(self):
        c = Collector()
        for tool in ("ffmpeg", "ffprobe", "fusermount3", "nginx", "node", "rsync",
                     "gst-launch-1.0", "gst-inspect-1.0"):
            c.check(shutil.which(tool), "%s not found in PATH" % tool)
        c.check(os.access(CHROMIUM, os.X_OK), "%s missing (Debian package chromium)" % CHROMIUM)
        if self.fmp4:
            c.check(shutil.which("mediainfo"), "mediainfo not found in PATH (Debian package "
                    "mediainfo), needed with --format fmp4")
        for mod in ("playwright-core", "hls.js") + (("mp4box",) if self.fmp4 else ()):
            c.check(os.path.isdir(os.path.join(NODE_MODULES, mod)),
                    "%s not installed in %s (run: make e2e-deps, or npm ci in tests/e2e)"
                    % (mod, NODE_MODULES))
        c.check(os.geteuid() == 0, "not running as root")
        c.check(os.path.exists("/dev/fuse"), "/dev/fuse missing")
        c.check(os.path.isfile(self.hlsfs) and os.access(self.hlsfs, os.X_OK),
                "%s is not an executable file" % self.hlsfs)
        c.raise_if_any()
        for el in ("hlsdemux", "hlsdemux2", "avdec_h264", "tsdemux", "fakesink"):
            r = subprocess.run(["gst-inspect-1.0", el], capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60)
            c.check(r.returncode == 0, "GStreamer element %s missing" % el)
        c.raise_if_any()

    def make_fixtures(self):
        self.shared = fx.generate(self.src, self.scratch, self.media)
        if not self.media:
            note("--no-shared: no title of the shared corpus is played")

    def start_nginx(self):
        with open(os.path.join(EXAMPLES, "nginx.conf")) as f:
            example = f.read()
        for name in ("player.html",):
            shutil.copyfile(os.path.join(EXAMPLES, name), os.path.join(self.player_dir, name))
        shutil.copyfile(os.path.join(HERE, "page", "e2e.html"),
                        os.path.join(self.player_dir, "e2e.html"))
        shutil.copyfile(HLS_JS, os.path.join(self.player_dir, "hls.min.js"))
        for name in os.listdir(self.player_dir):
            os.chmod(os.path.join(self.player_dir, name), 0o644)
        self.port = ngx.free_port()
        conf = ngx.derive_config(example, self.port, self.mnt, self.player_dir, self.nginx_dir,
                                 without_aio=self.args.nginx_without_aio)
        if self.args.nginx_without_aio:
            note("--nginx-without-aio: 'aio threads' removed from the configuration; "
                 "load/cached_not_stalled is expected to FAIL")
        self.nginx = ngx.Nginx(conf, self.nginx_dir)
        self.nginx.start(self.port)
        expect(self.nginx.wait_workers(), "nginx has no worker process")

    # -- nginx: headers -----------------------------------------------------
    def check_headers(self):
        """The example's promises: HLS MIME types, CORS, preflight."""
        c = Collector()
        rel = fx.PLAY
        seg = rel + "/audio/0/00000" + self.seg_ext
        files = [(rel + "/master.m3u8", "application/vnd.apple.mpegurl"),
                 (rel + "/video/120p/index.m3u8", "application/vnd.apple.mpegurl"),
                 (seg, "video/iso.segment" if self.fmp4 else "video/mp2t")]
        if self.fmp4:
            files.append((rel + "/audio/0/init.mp4", "video/mp4"))
        for path, ctype in files:
            f = web.Fetch(self.port, quote(path), headers={"Origin": "http://example.test"}).run()
            for p in web.response_problems(f, os.stat(self.mpath(path)).st_size):
                c.add(p)
            c.check(f.headers.get("content-type") == ctype,
                    "%s: Content-Type %r, want %r" % (path, f.headers.get("content-type"), ctype))
            c.check(f.headers.get("access-control-allow-origin") == "*",
                    "%s: Access-Control-Allow-Origin %r"
                    % (path, f.headers.get("access-control-allow-origin")))
        pre = web.Fetch(self.port, quote(seg), method="OPTIONS",
                        headers={"Origin": "http://example.test",
                                 "Access-Control-Request-Method": "GET",
                                 "Access-Control-Request-Headers": "range"}).run()
        c.check(pre.error is None and pre.status in (200, 204),
                "preflight OPTIONS: status %s %s" % (pre.status, pre.error or ""))
        c.check(pre.headers.get("access-control-allow-origin") == "*",
                "preflight: no Access-Control-Allow-Origin: *")
        rng = web.Fetch(self.port, quote(seg), headers={"Range": "bytes=188-375"}).run()
        with open(self.mpath(seg), "rb") as fh:
            fh.seek(188)
            want = fh.read(188)
        c.check(rng.status == 206 and rng.body == want,
                "range request bytes=188-375: status %s, %s bytes, same bytes as the mount: %s"
                % (rng.status, len(rng.body or b""), rng.body == want))
        c.raise_if_any()

    # -- nginx under load ---------------------------------------------------
    def check_load(self):
        """8 parallel clients, each the first reader of a segment of its own
        title; and, while they all wait, one client for a cached segment."""
        port, mnt = self.port, self.mnt
        uncached = [rel + "/video/720p/00000" + self.seg_ext for rel in fx.LOAD_TITLES]
        # the last segment of a rung: reading it queues no readahead
        pl = MediaPlaylist(open(self.mpath(fx.PLAY + "/video/180p/index.m3u8")).read())
        cached_rel = "%s/video/180p/%s" % (fx.PLAY, pl.uris[-1])
        made_before = self.made_lines()
        sizes = {rel: os.stat(self.mpath(rel)).st_size for rel in uncached}
        cached_bytes = web.read_file(self.mpath(cached_rel))   # now it is in the cache
        fetches = [web.Fetch(port, quote(rel)) for rel in uncached]
        for f in fetches:
            f.start()
        workers = self.nginx.worker_pids()
        # Wait until every request is in flight: all 8 files are being read
        # by nginx threads, or every nginx worker's event loop is itself
        # stuck in a read of the mount (then nobody else can be served).
        how = None
        early = []
        guard = time.monotonic() + 120     # hang guard only
        while how is None and time.monotonic() < guard:
            blocked = web.blocked_readers(workers, mnt)
            files = {p for _, _, p in blocked}
            loops = {pid for pid, tid, _ in blocked if pid == tid}
            early = [f.path for f in fetches if f.done_seq is not None]
            if early:
                break
            if all(self.mpath(rel) in files for rel in uncached):
                how = "all 8 files in reads on nginx threads"
            elif workers and loops == set(workers):
                how = "every nginx worker's event loop blocked in a read of the mount"
            else:
                time.sleep(0.005)
        marker = web.next_seq()
        cached = web.Fetch(port, quote(cached_rel)).run() if how else None
        for f in fetches:
            f.thread.join(timeout=240)
        self.load = dict(uncached=uncached, fetches=fetches, cached=cached,
                         cached_rel=cached_rel, cached_bytes=cached_bytes, how=how,
                         early=early, marker=marker)
        if how:
            note("load: in flight when the cached request was sent: %s" % how)

        c = Collector()
        made_after = self.made_lines()
        for rel, f in zip(uncached, fetches):
            if f.done_seq is None or f.thread.is_alive():
                c.add("%s: no answer" % rel)
                continue
            probs = web.response_problems(f, sizes[rel])
            if not probs:
                probs = (web.fmp4_problems if self.fmp4 else web.ts_problems)(f.body, rel)
            if not probs:
                again = web.read_file(self.mpath(rel))
                if again != f.body:
                    probs = ["%s: the bytes served differ from a read of the mount" % rel]
            for p in probs:
                c.add(p)
            src = os.path.join(self.src, rel.split("/video/")[0])
            key = "%s: encoded video/720p segment 0 made" % src
            n_before = sum(1 for l in made_before if key in l)
            n_after = sum(1 for l in made_after if key in l)
            c.check(n_before == 0 and n_after == 1,
                    "%s: %d 'made' lines before the request, %d after (want 0, 1)"
                    % (rel, n_before, n_after))
        c.raise_if_any()

    def check_not_stalled(self):
        L = self.load
        if L["early"]:
            fail("inconclusive: %s was answered before all 8 requests were in flight "
                 "(the uncached encodes were too quick to show a stall)" % L["early"])
        expect(L["how"] is not None,
               "the 8 requests were never all in flight (no nginx thread reading them)")
        cached = L["cached"]
        expect(cached is not None and cached.error is None and cached.status == 200
               and cached.body == L["cached_bytes"],
               "the cached segment was not served whole: status %s, %s"
               % (cached and cached.status, cached and cached.error))
        first_uncached = min(f.done_seq for f in L["fetches"])
        expect(first_uncached > L["marker"],
               "an uncached request was answered before the cached one was sent")
        if cached.done_seq > first_uncached:
            done_before = sum(1 for f in L["fetches"] if f.done_seq < cached.done_seq)
            fail("the cached segment %s was answered only after %d of the 8 uncached "
                 "requests (%s): a slow encode stalled it"
                 % (L["cached_rel"], done_before, L["how"]))

    def made_lines(self):
        return [l for l in self.mount.log_text().splitlines() if " made in " in l]

    # -- hls.js in Chromium -------------------------------------------------
    def run_browser(self, titles):
        spec = {"base": "http://127.0.0.1:%d" % self.port, "chromium": CHROMIUM,
                "waitMs": BROWSER_WAIT_MS,
                "titles": [{"name": rel, "src": quote(rel) + "/master.m3u8",
                            "audioSwitch": audio} for rel, audio in titles],
                "player": {"name": fx.SUBS, "src": quote(fx.SUBS) + "/master.m3u8"},
                "subtitles": {"name": fx.SUBS, "src": quote(fx.SUBS) + "/master.m3u8",
                              "seekTo": fx.SUBS_SEEK}}
        spec_path = os.path.join(self.base, "browser-spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        out_path = os.path.join(self.base, "browser-out.json")
        err_path = os.path.join(self.base, "browser-stderr.log")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen(["node", os.path.join(HERE, "browser.js"), spec_path],
                                 cwd=HERE, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
            _CHILDREN.append(p)
            try:
                rc = p.wait(timeout=380)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                fail("the browser driver did not finish within 380 s")
            finally:
                _CHILDREN.remove(p)
        with open(out_path) as f:
            text = f.read()
        try:
            self.browser = json.loads(text)
        except ValueError:
            with open(err_path, errors="replace") as f:
                fail("node browser.js exited %d without a result: %s"
                     % (rc, harness.one_line(f.read()[-800:])))
        expect("exception" not in self.browser,
               "browser: %s" % self.browser.get("exception", "")[:600])
        note("browser: Chromium %s" % self.browser.get("version"))

    def browser_result(self, rel):
        for t in self.browser["titles"]:
            if t["name"] == rel:
                return t
        fail("no browser result for %s" % rel)

    def browser_checks(self, rel, audio_switch):
        r = self.r
        need = ("browser/run",)
        name = "browser/%s" % rel
        r.run(name + "/mse_h264_aac", self.b_mse, rel, needs=need)
        need = ("browser/run", name + "/mse_h264_aac")
        r.run(name + "/levels", self.b_levels, rel, needs=need)
        r.run(name + "/plays", self.b_plays, rel, needs=need)
        r.run(name + "/level_switch", self.b_level_switch, rel, needs=need)
        r.run(name + "/seek_middle", self.b_seek, rel, needs=need)
        if audio_switch:
            r.run(name + "/audio_switch", self.b_audio_switch, rel, needs=need)
        r.run(name + "/no_fatal_error", self.b_errors, rel, needs=need)
        r.run(name + "/content_length", self.b_content_length, rel, needs=need)

    def b_mse(self, rel):
        t = self.browser_result(rel)
        mse = t.get("mse") or {}
        expect(t.get("supported"), "Hls.isSupported() is false in %s (MSE: %s)" % (CHROMIUM, mse))
        expect(mse.get("h264") and mse.get("h264Baseline") and mse.get("aac"),
               "MediaSource.isTypeSupported: %s" % mse)

    def _rel_url(self, rel, url):
        prefix = "http://127.0.0.1:%d%s/" % (self.port, quote(rel))
        return urllib.parse.unquote(url[len(prefix):]) if url and url.startswith(prefix) else url

    def b_levels(self, rel):
        t = self.browser_result(rel)
        expect(t.get("manifest"), "hls.js never parsed the manifest: %s" % t.get("timeouts"))
        m = self.master(rel)
        c = Collector()
        # a list, not a map: the smallest video rendition is a variant twice
        # (with the stereo audio and with the cellular one)
        want = []
        for attrs, _, uri in m.variants:
            w, h = (int(x) for x in attrs["RESOLUTION"].split("x"))
            want.append((uri, w, h, int(attrs["BANDWIDTH"])))
        want.sort()
        have = sorted((self._rel_url(rel, lv["url"]), lv["width"], lv["height"], lv["bitrate"])
                      for lv in t["manifest"]["levels"])
        c.check(len(t["manifest"]["levels"]) == len(m.variants),
                "hls.js lists %d levels, the master %d"
                % (len(t["manifest"]["levels"]), len(m.variants)))
        c.check(have == want, "hls.js levels %s, master variants %s" % (have, want))
        audio = [a for a, _ in m.media if a.get("TYPE") == "AUDIO"]
        tracks = t["manifest"]["audioTracks"]
        c.check(sorted(self._rel_url(rel, a["url"]) for a in tracks) ==
                sorted(a["URI"] for a in audio),
                "hls.js audio tracks %s, master %s"
                % ([a["url"] for a in tracks], [a["URI"] for a in audio]))
        c.raise_if_any()

    def b_plays(self, rel):
        t = self.browser_result(rel)
        s = t["steps"].get("play")
        expect(s and s.get("reached") is not None,
               "currentTime did not advance %.1f s after 'playing': %s"
               % (1.0, t.get("timeouts")))

    def b_level_switch(self, rel):
        t = self.browser_result(rel)
        s = t["steps"].get("levelSwitch")
        expect(s, "no level switch (%d levels)" % len(t["manifest"]["levels"]))
        expect(s.get("switchedAt") is not None,
               "LEVEL_SWITCHED to level %s never fired: %s" % (s["to"], t.get("timeouts")))
        expect(s.get("reached") is not None,
               "currentTime stuck after the switch to level %s at %.3f s: %s"
               % (s["to"], s["switchedAt"], t.get("timeouts")))
        level_dir = self._rel_url(rel, t["manifest"]["levels"][s["to"]]["url"]).rsplit("/", 1)[0]
        frags = s.get("mainFragsAfter") or []
        expect(frags, "no fragment loaded after the level switch")
        wrong = [f for f in frags if f["level"] != s["to"]
                 or not self._rel_url(rel, f["url"]).startswith(level_dir + "/")]
        expect(not wrong, "fragments of another level after switching to %s (%s): %s"
               % (s["to"], level_dir, wrong[:3]))

    def b_seek(self, rel):
        t = self.browser_result(rel)
        s = t["steps"].get("seek")
        expect(s and s.get("seekedAt") is not None,
               "'seeked' never fired after a seek to %s: %s"
               % (s and s.get("target"), t.get("timeouts")))
        target = s["target"]
        expect(abs(s["seekedAt"] - target) <= 0.25,
               "seeked at %.3f s, the seek was to %.3f s" % (s["seekedAt"], target))
        expect(s.get("reached") is not None,
               "currentTime did not advance from the middle (%.3f s): %s"
               % (target, t.get("timeouts")))
        back = [x for x in s.get("timesAfter") or [] if x < target - 0.25]
        expect(not back, "currentTime went back to %.3f s after the seek to %.3f s"
               % (min(back) if back else 0, target))
        main = [f for f in s.get("fragsAfter") or [] if f["type"] == "main"]
        if main:
            f = main[0]
            expect(f["start"] <= target + 0.01 < f["start"] + f["duration"],
                   "first fragment after the seek to %.3f s covers %.3f-%.3f s (%s)"
                   % (target, f["start"], f["start"] + f["duration"], f["url"]))

    def b_audio_switch(self, rel):
        t = self.browser_result(rel)
        s = t["steps"].get("audioSwitch")
        m = self.master(rel)
        n_audio = audio_in_group(m)
        expect(n_audio >= 2, "the master has %d audio renditions, want 2" % n_audio)
        expect(s and s["tracks"] == n_audio,
               "hls.js has %s audio tracks, the master %d" % (s and s["tracks"], n_audio))
        expect(s.get("switchedAt") is not None,
               "AUDIO_TRACK_SWITCHED to %d never fired: %s" % (s["to"], t.get("timeouts")))
        expect(s.get("reached") is not None,
               "currentTime stuck after the audio switch at %.3f s: %s"
               % (s["switchedAt"], t.get("timeouts")))
        url = [a for a in t["manifest"]["audioTracks"] if a["id"] == s["to"]][0]["url"]
        track_dir = self._rel_url(rel, url).rsplit("/", 1)[0]
        frags = s.get("audioFragsAfter") or []
        expect(frags, "no audio fragment loaded after the switch")
        # the same track in the cellular group (audio/K-32k) when hls.js
        # plays the cellular variant
        dirs = (track_dir + "/", track_dir + "-32k/")
        wrong = [f["url"] for f in frags
                 if not self._rel_url(rel, f["url"]).startswith(dirs)]
        expect(not wrong, "audio fragments of another track after switching to %s: %s"
               % (track_dir, wrong[:3]))

    def b_errors(self, rel):
        t = self.browser_result(rel)
        c = Collector()
        fatal = [e for e in t.get("errors") or [] if e.get("fatal")]
        c.check(not fatal, "fatal hls.js errors: %s" % fatal[:3])
        c.check(not t.get("exception"), "driver exception: %s" % (t.get("exception") or "")[:300])
        c.check(not t.get("pageErrors"), "page errors: %s" % t.get("pageErrors"))
        c.check(not t.get("timeouts"), "waits that never ended: %s" % t.get("timeouts"))
        other = [e for e in t.get("errors") or [] if not e.get("fatal")]
        if other:
            note("%s: non-fatal hls.js errors: %s" % (rel, other[:4]))
        c.raise_if_any()

    def b_content_length(self, rel):
        """Every playlist and segment the page received: status 200,
        Content-Length == bytes received == size stat reports."""
        t = self.browser_result(rel)
        c = Collector()
        good = set()
        aborted = []
        prefix = "http://127.0.0.1:%d/" % self.port
        for resp in t.get("responses") or []:
            url = resp["url"]
            if not url.startswith(prefix) or "/_player/" in url:
                continue
            if resp.get("bodyError"):
                aborted.append(url)
                continue
            path = self.mpath(urllib.parse.unquote(url[len(prefix):].split("?")[0]))
            size = os.stat(path).st_size
            cl = resp.get("contentLength")
            c.check(resp["status"] == 200, "%s: status %s" % (url, resp["status"]))
            c.check(cl is not None and int(cl) == resp["bodyLength"] == size,
                    "%s: Content-Length %s, %s bytes received, stat %d"
                    % (url, cl, resp["bodyLength"], size))
            good.add(url)
        missing = [u for u in t.get("frags") or [] if u not in good]
        c.check(not missing, "fragments hls.js loaded without a whole response seen: %s"
                % missing[:3])
        c.check(any(u.endswith(self.seg_ext) for u in good), "no segment response seen")
        if aborted:
            note("%s: %d responses whose body the page did not take (requests hls.js "
                 "cancelled): %s" % (rel, len(aborted), aborted[:3]))
        c.raise_if_any()

    def check_example_player(self):
        p = self.browser.get("player")
        expect(p, "no result for examples/player.html")
        c = Collector()
        c.check(not p.get("exception"), "exception: %s" % (p.get("exception") or "")[:300])
        c.check(not p.get("pageErrors"), "page errors: %s" % p.get("pageErrors"))
        m = self.master(fx.SUBS)
        quality = p.get("quality") or []
        c.check(len(quality) == len(m.variants) + 1 and quality and quality[0][0] == "-1",
                "quality menu %s, want Auto and %d levels" % (quality, len(m.variants)))
        n_audio = audio_in_group(m)
        c.check(len(p.get("audio") or []) == n_audio,
                "audio menu %s, want %d tracks" % (p.get("audio"), n_audio))
        n_subs = sum(1 for a, _ in m.media if a.get("TYPE") == "SUBTITLES")
        subs = p.get("subtitles") or []
        c.check(n_subs == len(fx.SUBS_SIDECARS) and len(subs) == n_subs + 1 and
                subs[0][0] == "-1", "subtitle menu %s, want Off and %d tracks" % (subs, n_subs))
        c.check(p.get("reached") is not None, "the video did not play: %s" % p.get("timeouts"))
        c.check(not p.get("status"), "status line: %r" % p.get("status"))
        c.raise_if_any()

    def check_subtitles(self):
        """hls.js lists the sidecars as subtitle tracks (language, forced)
        and, after a seek, shows the cue of that time at its time."""
        s = self.browser.get("subtitles")
        expect(s, "no subtitle result")
        c = Collector()
        c.check(not s.get("exception"), "exception: %s" % (s.get("exception") or "")[:300])
        c.check(not s.get("pageErrors"), "page errors: %s" % s.get("pageErrors"))
        want = [(lang, forced) for _, (lang, forced, _) in sorted(fx.SUBS_SIDECARS.items())]
        got = [(t.get("lang"), t.get("forced")) for t in s.get("tracks") or []]
        c.check(got == want, "hls.js lists subtitle tracks %s, want (lang, forced) %s"
                % (s.get("tracks"), want))
        cue = s.get("cue")
        first = sorted(fx.SUBS_SIDECARS.items())[0][1][2]
        at = [x for x in first if x[0] <= fx.SUBS_SEEK < x[1]]
        if not cue:
            c.add("no cue active after the seek to %.1f s: %s" % (fx.SUBS_SEEK, s.get("timeouts")))
        elif at:
            a, b, text = at[0]
            c.check(cue.get("text") == text, "active cue %r, want %r" % (cue.get("text"), text))
            c.check(abs(cue.get("start", 0) - a) <= 0.1 and abs(cue.get("end", 0) - b) <= 0.1,
                    "the cue runs %.3f..%.3f s on the video's timeline, the sidecar's %.3f..%.3f"
                    % (cue.get("start", 0), cue.get("end", 0), a, b))
        c.raise_if_any()

    # -- GStreamer ----------------------------------------------------------
    def check_gst(self, element, uri, rel):
        rc, lines, video, audio = players.gst_play(element, uri)
        c = Collector()
        errors = [l for l in lines if l.startswith("ERROR") or "CRITICAL" in l]
        c.check(rc == 0, "gst-launch-1.0 exit status %d: %s" % (rc, errors[:3]))
        c.check(not errors, "errors: %s" % errors[:3])
        c.check(any(l.startswith("Got EOS") for l in lines), "no EOS")
        warnings = [l for l in lines if l.startswith("WARNING")]
        if warnings:
            note("%s %s: %s" % (element, rel, warnings[:3]))
        sv = self.sv(rel)
        want = float(sv.end - sv.origin)
        c.check(video.span is not None and abs(float(video.span) - want) <= GST_TOLERANCE_S,
                "video: %s, span %s s, want %.3f s within %.3f s"
                % (video.describe(), video.span and "%.3f" % video.span, want,
                   GST_TOLERANCE_S))
        if self.master(rel).media:
            c.check(audio.span is not None and abs(float(audio.span) - want) <= GST_TOLERANCE_S,
                    "audio: %s, span %s s, want %.3f s within %.3f s"
                    % (audio.describe(), audio.span and "%.3f" % audio.span, want,
                       GST_TOLERANCE_S))
        c.raise_if_any()

    # -- ffmpeg -------------------------------------------------------------
    def ffmpeg_checks(self, rel):
        try:
            m = self.master(rel)
        except Exception as e:
            self.r.record("ffmpeg/%s" % rel, False, "master.m3u8: %s" % e)
            return
        for i, (attrs, _, uri) in enumerate(m.variants):
            name = uri.split("/")[1] if uri.startswith("video/") else uri
            if attrs.get("AUDIO") == "audio-32k":
                name += "+cellular"
            self.r.run("ffmpeg/%s/%s" % (rel, name), self.check_ffmpeg_variant,
                       os.path.join(self.mpath(rel), "master.m3u8"), rel, i, attrs,
                       needs=("mount",), timeout=300)
        if m.media:
            self.r.run("ffmpeg/%s/audio" % rel, self.check_ffmpeg_audio,
                       os.path.join(self.mpath(rel), "master.m3u8"), rel,
                       audio_in_group(m, m.variants[0][0].get("AUDIO")),
                       needs=("mount",), timeout=300)

    def ffmpeg_shift(self, rdir):
        """fMP4: how much later ffmpeg presents the rendition in rdir than
        its times say (fmp4lib.ffmpeg_pts_shift); 0 for MPEG-TS."""
        return fmp4lib.ffmpeg_pts_shift(rdir) if self.fmp4 else 0.0

    def expect_video(self, c, rel, track, what, shift=0.0):
        """The decoded frames of a video track against the source: the same
        number of frames, the first at the first keyframe + 1.4 s and the
        end at the source's end + 1.4 s (+ shift, ffmpeg's own offset of
        an fMP4 track), within FRAMES_TOLERANCE frames."""
        sv = self.sv(rel)
        tol = FRAMES_TOLERANCE * float(sv.tolerance)
        want_first = float(sv.origin) + MPEGTS_OFFSET + shift
        want_end = float(sv.end) + MPEGTS_OFFSET + shift
        n_src = sum(1 for p in sv.packets if p[0] >= sv.key_pts[0])
        if track is None or track.first is None:
            c.add("%s: no video frame decoded" % what)
            return
        c.check(abs(float(track.first) - want_first) <= tol
                and abs(float(track.end) - want_end) <= tol,
                "%s: decoded %s; the source (+1.4 s) %.3f s to %.3f s, tolerance %.3f s"
                % (what, track.describe(), want_first, want_end, tol))
        c.check(track.count == n_src, "%s: %d frames decoded, the source has %d"
                % (what, track.count, n_src))

    def check_ffmpeg_variant(self, master, rel, index, attrs):
        rc, errors, tracks, dims = players.ffmpeg_decode(master, ["0:p:%d:v:0" % index])
        c = Collector()
        c.check(rc == 0 and not errors, "ffmpeg exit %d: %s" % (rc, errors[:3]))
        w, h = (int(x) for x in attrs["RESOLUTION"].split("x"))
        c.check(dims.get(0) == (w, h), "decoded %s, RESOLUTION %dx%d" % (dims.get(0), w, h))
        rdir = os.path.join(os.path.dirname(master), os.path.dirname(self.master(rel).variants[index][2]))
        shift = self.ffmpeg_shift(rdir)
        if shift:
            note("%s program %d: ffmpeg presents it %.3f s late (negative composition "
                 "offsets, no edit list)" % (rel, index, shift))
        self.expect_video(c, rel, tracks.get(0), "program %d" % index, shift)
        c.raise_if_any()

    def check_ffmpeg_audio(self, master, rel, n_audio):
        rc, errors, tracks, _ = players.ffmpeg_decode(master, ["0:p:0:a"])
        c = Collector()
        c.check(rc == 0 and not errors, "ffmpeg exit %d: %s" % (rc, errors[:3]))
        c.check(len(tracks) == n_audio, "%d audio streams decoded, the master has %d"
                % (len(tracks), n_audio))
        sv = self.sv(rel)
        tol = FRAMES_TOLERANCE * float(sv.tolerance) + AAC_FRAME_S
        want_first = float(sv.origin) + MPEGTS_OFFSET
        want_end = float(sv.end) + MPEGTS_OFFSET
        for k, tr in sorted(tracks.items()):
            c.check(tr.first is not None and abs(float(tr.first) - want_first) <= tol
                    and abs(float(tr.end) - want_end) <= tol,
                    "audio stream %d: decoded %s; the video (+1.4 s) %.3f s to %.3f s, "
                    "tolerance %.3f s" % (k, tr.describe(), want_first, want_end, tol))
        c.raise_if_any()

    # -- MP4 parsers (fMP4) ---------------------------------------------------
    def parser_checks(self, rel, only=None):
        tdir = self.mpath(rel)
        for kind in ("video", "audio"):
            for name in sorted(os.listdir(os.path.join(tdir, kind))):
                if only is not None and name not in only:
                    continue
                rdir = os.path.join(tdir, kind, name)
                self.r.run("mp4box/%s/%s/%s" % (rel, kind, name), self.check_mp4box, rdir,
                           needs=("mount",), timeout=300)
                self.r.run("mediainfo/%s/%s/%s" % (rel, kind, name), self.check_mediainfo,
                           rdir, kind, needs=("mount",), timeout=300)

    def _rendition_files(self, rdir):
        pl = MediaPlaylist(open(os.path.join(rdir, "index.m3u8")).read())
        return [os.path.join(rdir, "init.mp4")] + [os.path.join(rdir, u) for u in pl.uris]

    def check_mp4box(self, rdir):
        """GPAC's JavaScript parser (npm mp4box) takes the init segment and
        every segment in order without an error, finds one track of the
        CODECS the sample entry holds, and extracts every sample the
        segments' truns list."""
        files = self._rendition_files(rdir)
        r = subprocess.run(["node", os.path.join(HERE, "mp4check.js")] + files,
                           capture_output=True, text=True, timeout=240, cwd=HERE)
        expect(r.returncode == 0, "node mp4check.js exit %d: %s" % (r.returncode, r.stderr[-300:]))
        out = json.loads(r.stdout)
        expect(not out["errors"] and out["ready"], "mp4box: %s" % out)
        expect(len(out["tracks"]) == 1, "tracks %s" % out["tracks"])
        want = sum(fmp4lib.segment_info(web.read_file(f))[2] for f in files[1:])
        expect(sum(out["samples"]) == want, "mp4box extracted %d samples, the truns list %d"
               % (sum(out["samples"]), want))

    def check_mediainfo(self, rdir, kind):
        """mediainfo (Debian) reads the init segment (one track of its
        kind) and the whole rendition (init and segments: for video, the
        source's frames from its first keyframe), and every bare segment,
        without an error."""
        files = self._rendition_files(rdir)
        whole = os.path.join(self.scratch, "mediainfo-%s.mp4" % abs(hash(rdir)))
        with open(whole, "wb") as f:
            for p in files:
                f.write(web.read_file(p))
        c = Collector()
        tracks = {}
        for label, path in [("init.mp4", files[0]), ("whole", whole)] + \
                [(os.path.basename(p), p) for p in files[1:]]:
            r = subprocess.run(["mediainfo", "--Output=JSON", path], capture_output=True,
                               text=True, timeout=120)
            if not c.check(r.returncode == 0 and not r.stderr.strip(),
                           "%s: mediainfo exit %d %s" % (label, r.returncode, r.stderr[:200])):
                continue
            tracks[label] = [t for t in json.loads(r.stdout)["media"]["track"]
                             if t.get("@type") != "General"]
        want_type = "Video" if kind == "video" else "Audio"
        for label in ("init.mp4", "whole"):
            t = tracks.get(label) or []
            c.check(len(t) == 1 and t[0].get("@type") == want_type,
                    "%s: mediainfo tracks %s" % (label, [x.get("@type") for x in t]))
        if kind == "video" and tracks.get("whole"):
            rel = os.path.relpath(os.path.dirname(os.path.dirname(rdir)), self.mnt)
            sv = self.sv(rel)
            n_src = sum(1 for p in sv.packets if p[0] >= sv.key_pts[0])
            got = tracks["whole"][0].get("FrameCount")
            c.check(got == str(n_src), "mediainfo FrameCount %s, the source %d" % (got, n_src))
        c.raise_if_any()

    # -- rsync --------------------------------------------------------------
    def rsync_checks(self, rel):
        r = self.r
        name = "rsync/%s" % rel
        dest = os.path.join(self.copies, os.path.basename(rel))
        r.run(name + "/copy", self.rsync_copy, rel, dest, needs=("mount",), timeout=300)
        need = (name + "/copy",)
        r.run(name + "/sizes", self.rsync_sizes, rel, dest, needs=need)
        r.run(name + "/identical", self.rsync_identical, rel, dest, needs=need, timeout=300)
        r.run(name + "/decode_copy", self.rsync_decode, rel, dest, needs=need, timeout=300)

    def rsync_copy(self, rel, dest):
        p = subprocess.run(["rsync", "-a", self.mpath(rel) + "/", dest + "/"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=280)
        expect(p.returncode == 0 and not p.stderr.strip(),
               "rsync exit %d: %s" % (p.returncode, harness.one_line(p.stderr)[:600]))

    @staticmethod
    def _tree(root):
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for fn in filenames:
                full = os.path.join(dirpath, fn)
                out[os.path.relpath(full, root)] = full
        return out

    def rsync_sizes(self, rel, dest):
        src_tree = self._tree(self.mpath(rel))
        dst_tree = self._tree(dest)
        c = Collector()
        c.check(set(src_tree) == set(dst_tree), "files only on the mount: %s; only in the copy: %s"
                % (sorted(set(src_tree) - set(dst_tree))[:3],
                   sorted(set(dst_tree) - set(src_tree))[:3]))
        n_ts = sum(1 for k in dst_tree if k.endswith(self.seg_ext))
        c.check(n_ts > 0, "no segment copied")
        for k in sorted(set(src_tree) & set(dst_tree)):
            a, b = os.stat(src_tree[k]), os.stat(dst_tree[k])
            c.check(a.st_size == b.st_size, "%s: %d bytes copied, stat on the mount says %d"
                    % (k, b.st_size, a.st_size))
            c.check(a.st_mtime_ns // 1000000000 == b.st_mtime_ns // 1000000000,
                    "%s: mtime not kept" % k)
        c.raise_if_any()

    def rsync_identical(self, rel, dest):
        src_tree = self._tree(self.mpath(rel))
        c = Collector()
        for k, full in sorted(src_tree.items()):
            copy = os.path.join(dest, k)
            if not os.path.exists(copy):
                c.add("%s missing in the copy" % k)
                continue
            c.check(web.read_file(full) == web.read_file(copy),
                    "%s: the copy differs from a second read of the mount" % k)
        ext = os.path.splitext(rel)[1]
        c.check(web.read_file(os.path.join(dest, "source" + ext)) ==
                web.read_file(os.path.join(self.src, rel)),
                "source%s differs from the source file" % ext)
        c.raise_if_any()

    def rsync_decode(self, rel, dest):
        master = os.path.join(dest, "master.m3u8")
        with open(master) as f:
            m = MasterPlaylist(f.read())
        c = Collector()
        maps = ["0:p:0:v:0"] + (["0:p:0:a"] if m.media else [])
        rc, errors, tracks, _ = players.ffmpeg_decode(master, maps)
        c.check(rc == 0 and not errors, "ffmpeg exit %d: %s" % (rc, errors[:3]))
        shift = self.ffmpeg_shift(os.path.join(dest, os.path.dirname(m.variants[0][2])))
        self.expect_video(c, rel, tracks.get(0), "copy, first variant", shift)
        want = 1 + audio_in_group(m, m.variants[0][0].get("AUDIO"))
        c.check(len(tracks) == want, "%d streams decoded, want %d" % (len(tracks), want))
        c.raise_if_any()

    # -- nginx: the access log ----------------------------------------------
    def check_access_log(self):
        """Every playlist and segment nginx sent whole: Content-Length ==
        bytes sent == size stat reports."""
        c = Collector()
        entries = self.nginx.access_log()
        bad = [e["bad"] for e in entries if "bad" in e]
        c.check(not bad, "unparsed access log lines: %s" % bad[:2])
        n = 0
        incomplete = []
        revalidated = []
        for e in entries:
            if "bad" in e or e["method"] != "GET" or e["uri"].startswith("/_player/"):
                continue
            if not e["uri"].endswith((self.seg_ext, ".m3u8", "/init.mp4")):
                continue
            if e["status"] == 206:
                continue
            if e["status"] == 304:
                # a conditional request the source's mtime answered: no body
                revalidated.append(e["uri"])
                continue
            if not e["complete"]:
                incomplete.append(e["uri"])
                continue
            n += 1
            size = os.stat(self.mpath(e["uri"].lstrip("/"))).st_size
            c.check(e["status"] == 200 and e["cl"] == e["sent"] == size,
                    "%s: status %d, Content-Length %s, %d bytes sent, stat %d"
                    % (e["uri"], e["status"], e["cl"], e["sent"], size))
        c.check(n > 0, "no complete segment or playlist response in the access log")
        if revalidated:
            note("nginx: %d responses 304 Not Modified (the browser revalidating what it "
                 "had): %s" % (len(revalidated), revalidated[:3]))
        if incomplete:
            note("nginx: %d responses the client closed before the end (players "
                 "cancelling requests): %s" % (len(incomplete), incomplete[:3]))
        note("nginx: %d complete playlist and segment responses checked" % n)
        c.raise_if_any()

    def check_nginx_stop(self, problems):
        c = Collector()
        for p in problems:
            c.add(p)
        errors = self.nginx.error_log_errors()
        c.check(not errors, "nginx error log: %s" % errors[:3])
        c.raise_if_any()


_CHILDREN = []


def _stop_children():
    for p in list(_CHILDREN):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    ngx.stop_all()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hlsfs", required=True, help="the hlsfs binary")
    ap.add_argument("--media", help="the shared media corpus directory")
    ap.add_argument("--no-shared", action="store_true", help="no title of the shared corpus")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (fixtures, cache, logs)")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of crashed checks")
    ap.add_argument("--format", choices=("ts", "fmp4"), default="ts",
                    help="the mount's segment format (-o format=); fmp4 also plays the "
                         "AV1 title of the shared corpus, copied, in Chromium")
    ap.add_argument("--nginx-without-aio", action="store_true",
                    help="leave 'aio threads' out of the nginx configuration, to see "
                         "load/cached_not_stalled fail")
    args = ap.parse_args(argv)
    if not args.media and not args.no_shared:
        ap.error("--media is required unless --no-shared is given")
    if args.no_shared:
        args.media = None

    # nginx and the browser go before the mounts, also on a signal
    on_cleanup(_stop_children, before_unmount=True)
    # nginx's workers (www-data) go through the base directory
    return run_suite("e2e", "hlsfs-e2e-",
                     lambda results, base: Suite(args, results, base).run(),
                     keep=args.keep, verbose=args.verbose, base_mode=0o755)

if __name__ == "__main__":
    sys.exit(main())
