"""Minimal, strict parsers for the two kinds of playlist hlsfs writes."""

import math
import re

from .harness import Collector, fail

_EXTINF_RE = re.compile(r"^#EXTINF:(\d+(?:\.\d{1,3})?),(.*)$")


def parse_attributes(text):
    """Parse an HLS attribute list: A=1,B="x,y",C=0x1F -> dict of strings.
    Quoted values keep no quotes; the set of quoted names is returned too."""
    attrs, quoted = {}, set()
    i, n = 0, len(text)
    while i < n:
        m = re.match(r"([A-Z0-9-]+)=", text[i:])
        if not m:
            fail("bad attribute list at %r" % text[i:])
        name = m.group(1)
        i += m.end()
        if i < n and text[i] == '"':
            j = text.find('"', i + 1)
            if j < 0:
                fail("unterminated quoted string in %r" % text)
            value = text[i + 1:j]
            quoted.add(name)
            i = j + 1
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            value = text[i:j]
            i = j
        if name in attrs:
            fail("attribute %s repeated in %r" % (name, text))
        attrs[name] = value
        if i < n:
            if text[i] != ",":
                fail("expected ',' in attribute list %r" % text)
            i += 1
    return attrs, quoted


class MediaPlaylist:
    def __init__(self, text):
        self.text = text
        lines = [l.rstrip("\r") for l in text.split("\n")]
        while lines and lines[-1] == "":
            lines.pop()
        c = Collector()
        if not lines or lines[0] != "#EXTM3U":
            fail("media playlist does not start with #EXTM3U")
        self.tags = {}
        self.extinf = []      # seconds as text, as written
        self.uris = []
        pending = None
        for line in lines[1:]:
            if not line:
                continue
            if line.startswith("#EXTINF:"):
                m = _EXTINF_RE.match(line)
                if not m:
                    c.add("bad EXTINF line %r (want seconds with at most 3 decimals)" % line)
                    pending = "0"
                    continue
                if pending is not None:
                    c.add("two EXTINF lines without a URI")
                pending = m.group(1)
            elif line.startswith("#"):
                name, _, value = line.partition(":")
                self.tags.setdefault(name, []).append(value)
            else:
                if pending is None:
                    c.add("URI %r without EXTINF" % line)
                self.extinf.append(pending)
                self.uris.append(line)
                pending = None
        if pending is not None:
            c.add("EXTINF without URI at end")
        c.check(self.tags.get("#EXT-X-PLAYLIST-TYPE") == ["VOD"],
                "#EXT-X-PLAYLIST-TYPE:VOD missing (have %s)" % self.tags.get("#EXT-X-PLAYLIST-TYPE"))
        c.check("#EXT-X-ENDLIST" in self.tags, "#EXT-X-ENDLIST missing")
        c.check(lines[-1] == "#EXT-X-ENDLIST", "last line is %r, not #EXT-X-ENDLIST" % lines[-1])
        c.check("#EXT-X-INDEPENDENT-SEGMENTS" in self.tags, "#EXT-X-INDEPENDENT-SEGMENTS missing")
        td = self.tags.get("#EXT-X-TARGETDURATION")
        self.target_duration = None
        if not td or len(td) != 1 or not td[0].isdigit():
            c.add("#EXT-X-TARGETDURATION missing or not an integer: %s" % td)
        else:
            self.target_duration = int(td[0])
        c.check(len(self.uris) > 0, "no segments")
        # fMP4 (-o format=fmp4): .m4s segments after an EXT-X-MAP
        self.fmp4 = bool(self.uris) and self.uris[0].endswith(".m4s")
        if self.fmp4:
            c.check(self.tags.get("#EXT-X-MAP") == ['URI="init.mp4"'],
                    "fMP4 segments without #EXT-X-MAP:URI=\"init.mp4\" (have %s)"
                    % self.tags.get("#EXT-X-MAP"))
            c.check(self.tags.get("#EXT-X-VERSION") == ["7"],
                    "fMP4 segments in a playlist of version %s, want 7"
                    % self.tags.get("#EXT-X-VERSION"))
        ext = ".m4s" if self.fmp4 else ".ts"
        for i, uri in enumerate(self.uris):
            if uri != segment_name(i, len(self.uris), ext):
                c.add("segment %d has URI %r, want %s"
                      % (i, uri, segment_name(i, len(self.uris), ext)))
                break
        if self.target_duration is not None and self.extinf:
            want = math.ceil(max(self.durations_ms()) / 1000.0)
            c.check(self.target_duration == want,
                    "#EXT-X-TARGETDURATION is %d, ceil(max EXTINF) is %d"
                    % (self.target_duration, want))
        c.raise_if_any()

    def durations_ms(self):
        out = []
        for text in self.extinf:
            whole, _, frac = text.partition(".")
            out.append(int(whole) * 1000 + int((frac + "000")[:3]))
        return out


def segment_name(index, count, ext=".ts"):
    width = max(5, len(str(count - 1)))
    return "%0*d%s" % (width, index, ext)


class MasterPlaylist:
    def __init__(self, text):
        lines = [l.rstrip("\r") for l in text.split("\n")]
        while lines and lines[-1] == "":
            lines.pop()
        if not lines or lines[0] != "#EXTM3U":
            fail("master playlist does not start with #EXTM3U")
        self.variants = []   # (attrs, quoted, uri)
        self.media = []      # (attrs, quoted)
        self.other_tags = []
        i = 1
        while i < len(lines):
            line = lines[i]
            if line.startswith("#EXT-X-STREAM-INF:"):
                attrs, quoted = parse_attributes(line.split(":", 1)[1])
                j = i + 1
                while j < len(lines) and (not lines[j] or lines[j].startswith("#")):
                    if lines[j].startswith("#EXT-X-STREAM-INF"):
                        fail("EXT-X-STREAM-INF without URI")
                    j += 1
                if j >= len(lines):
                    fail("EXT-X-STREAM-INF without URI at end")
                self.variants.append((attrs, quoted, lines[j]))
                i = j + 1
                continue
            if line.startswith("#EXT-X-MEDIA:"):
                self.media.append(parse_attributes(line.split(":", 1)[1]))
            elif line.startswith("#"):
                self.other_tags.append(line)
            elif line:
                fail("URI %r outside EXT-X-STREAM-INF" % line)
            i += 1
