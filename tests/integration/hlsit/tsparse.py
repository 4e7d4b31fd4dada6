"""A small MPEG-TS reader, independent of ffmpeg: PAT, PMT, PES packets
with their PTS/DTS, and the H.264 NAL units of each access unit.

It is what lets the checks see what ffprobe hides: which PIDs fill a
segment (padding must be null packets), which access unit holds an IDR
slice, and the SPS bytes that the master playlist's CODECS must repeat.
"""

TS_PACKET = 188
NULL_PID = 0x1FFF
PAT_PID = 0x0000
SDT_PID = 0x0011

STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_ADTS_AAC = 0x0F

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9


class TsError(Exception):
    pass


def _pts(b):
    return (((b[0] >> 1) & 7) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) | \
           (b[3] << 7) | (b[4] >> 1)


class Pes:
    __slots__ = ("pts", "dts", "data")

    def __init__(self, pts, dts):
        self.pts = pts
        self.dts = dts
        self.data = bytearray()


class TsFile:
    """Parsed MPEG-TS bytes.

    pid_counts: packets per PID; pmt_pid; streams: {pid: stream_type} of
    the (single) program; pes: {pid: [Pes, ...]} in file order."""

    def __init__(self, data):
        if len(data) % TS_PACKET:
            raise TsError("%d bytes is not a multiple of 188" % len(data))
        self.npackets = len(data) // TS_PACKET
        self.pid_counts = {}
        self.pmt_pid = None
        self.streams = {}
        self.pes = {}
        self.programs = 0
        cur = {}
        mv = memoryview(data)
        for k in range(self.npackets):
            off = k * TS_PACKET
            if data[off] != 0x47:
                raise TsError("no sync byte at offset %d" % off)
            pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
            pusi = data[off + 1] & 0x40
            afc = (data[off + 3] >> 4) & 3
            self.pid_counts[pid] = self.pid_counts.get(pid, 0) + 1
            if pid == NULL_PID or not afc & 1:
                continue
            p = off + 4
            if afc & 2:
                p += 1 + data[p]
            end = off + TS_PACKET
            if p >= end:
                continue
            if pid == PAT_PID and pusi:
                self._pat(bytes(mv[p:end]))
            elif pid == self.pmt_pid and pusi:
                self._pmt(bytes(mv[p:end]))
            elif pid in self.streams:
                if pusi:
                    pl = mv[p:end]
                    if len(pl) < 9 or pl[0] != 0 or pl[1] != 0 or pl[2] != 1:
                        raise TsError("PID 0x%x: PES packet without start code at packet %d"
                                      % (pid, k))
                    flags = pl[7]
                    hlen = pl[8]
                    pts = _pts(pl[9:14]) if flags & 0x80 else None
                    dts = _pts(pl[14:19]) if (flags & 0xC0) == 0xC0 else pts
                    pes = Pes(pts, dts)
                    pes.data += pl[9 + hlen:]
                    self.pes.setdefault(pid, []).append(pes)
                    cur[pid] = pes
                elif pid in cur:
                    cur[pid].data += mv[p:end]

    @staticmethod
    def _section(payload):
        ptr = payload[0]
        sec = payload[1 + ptr:]
        if len(sec) < 3:
            raise TsError("short PSI section")
        length = ((sec[1] & 0x0F) << 8) | sec[2]
        return sec[:3 + length]

    def _pat(self, payload):
        sec = self._section(payload)
        body = sec[8:len(sec) - 4]
        programs = []
        for i in range(0, len(body) - 3, 4):
            num = (body[i] << 8) | body[i + 1]
            pid = ((body[i + 2] & 0x1F) << 8) | body[i + 3]
            if num != 0:
                programs.append(pid)
        self.programs = len(programs)
        if programs:
            self.pmt_pid = programs[0]

    def _pmt(self, payload):
        sec = self._section(payload)
        pil = ((sec[10] & 0x0F) << 8) | sec[11]
        i = 12 + pil
        end = len(sec) - 4
        streams = {}
        while i + 5 <= end:
            st = sec[i]
            pid = ((sec[i + 1] & 0x1F) << 8) | sec[i + 2]
            eil = ((sec[i + 3] & 0x0F) << 8) | sec[i + 4]
            streams[pid] = st
            i += 5 + eil
        self.streams = streams

    def foreign_pids(self):
        """PIDs that are neither tables, the program's streams nor padding."""
        allowed = {PAT_PID, SDT_PID, NULL_PID}
        if self.pmt_pid is not None:
            allowed.add(self.pmt_pid)
        allowed |= set(self.streams)
        return sorted(p for p in self.pid_counts if p not in allowed)

    def pid_of(self, stream_type):
        pids = [p for p, t in self.streams.items() if t == stream_type]
        return pids[0] if len(pids) == 1 else None


def nal_units(data):
    """(type, payload starting at the NAL header) of an Annex B buffer."""
    out = []
    n = len(data)
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < n:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start)
        stop = n if j < 0 else j
        # a 4-byte start code leaves a zero at the end of the previous unit
        body = data[start:stop]
        if body:
            out.append((body[0] & 0x1F, body))
        i = j
    return out


class AccessUnit:
    __slots__ = ("pts", "dts", "types", "sps")

    def __init__(self, pes):
        self.pts = pes.pts
        self.dts = pes.dts
        units = nal_units(bytes(pes.data))
        self.types = [t for t, _ in units]
        self.sps = next((b for t, b in units if t == NAL_SPS), None)

    @property
    def idr(self):
        return NAL_IDR in self.types

    def avc1(self):
        """'avc1.PPCCLL' from this access unit's SPS, or None."""
        if self.sps is None or len(self.sps) < 4:
            return None
        return "avc1.%02x%02x%02x" % (self.sps[1], self.sps[2], self.sps[3])


def h264_access_units(ts):
    pid = ts.pid_of(STREAM_TYPE_H264)
    if pid is None:
        return None
    return [AccessUnit(p) for p in ts.pes.get(pid, [])]


# H.264 Table A-1: level_idc -> (MaxMBPS, MaxFS)
H264_LEVELS = {
    10: (1485, 99), 9: (1485, 99), 11: (3000, 396), 12: (6000, 396), 13: (11880, 396),
    20: (11880, 396), 21: (19800, 792), 22: (20250, 1620), 30: (40500, 1620),
    31: (108000, 3600), 32: (216000, 5120), 40: (245760, 8192), 41: (245760, 8192),
    42: (522240, 8704), 50: (589824, 22080), 51: (983040, 36864), 52: (2073600, 36864),
    60: (4177920, 139264), 61: (8355840, 139264), 62: (16711680, 139264),
}
