/*
 * subtitle: text subtitle tracks as WebVTT (subtitle.c). A track is a
 * list of cues (times in ms of the source's clock, text already WebVTT
 * cue text in UTF-8), gathered at analysis time from the source's text
 * subtitle streams (SubRip, ASS/SSA, mov_text, WebVTT, decoded with
 * libavcodec as the probe reads their packets) and from sidecar files
 * beside the source (film.srt, film.en.srt, film.fr.forced.srt,
 * film.de.sdh.srt, .vtt, .ass, .ssa, in any usual text encoding). The
 * cues are kept in the title record; the WebVTT files are text made from
 * them, so their sizes are known from the first stat.
 */
#ifndef HLSFS_SUBTITLE_H
#define HLSFS_SUBTITLE_H

#include <stddef.h>
#include <stdint.h>

struct AVStream;
struct AVPacket;

/* Largest sidecar file read; bigger ones are left out (with a log line). */
#define SUBTITLE_FILE_MAX  (16u << 20)
/* Most cues a track keeps, and bytes of one cue's text. */
#define SUBTITLE_CUES_MAX  200000
#define SUBTITLE_TEXT_MAX  4096
/* A cue without an end lasts until the next one, at most this long. */
#define SUBTITLE_OPEN_END_MS 5000
/* The end of a cue whose source gives none (subtitle_track_add). */
#define SUBTITLE_END_OPEN INT64_MIN
/* No cue lasts longer (a damaged duration), none is further from 0. */
#define SUBTITLE_CUE_MAX_MS  (INT64_C(24) * 3600 * 1000)
#define SUBTITLE_TIME_MAX_MS (INT64_C(1) << 46)
/* Most subtitle tracks a title offers (streams first, then sidecars). */
#define SUBTITLE_TRACKS_MAX 64
/* The MPEG-TS segments' timestamps are the source's plus this, in 90 kHz
 * ticks (mux.c: max_delay 0.7 s, twice). */
#define SUBTITLE_TS_OFFSET 126000

struct subtitle_cue {
    int64_t start_ms, end_ms;   /* source clock; end > start            */
    char   *text;               /* WebVTT cue text, no blank line       */
};

struct subtitle_track {
    char     language[16];      /* RFC 5646 tag, "" when unknown         */
    char     name[64];          /* NAME in the master playlist           */
    int      forced;            /* FORCED=YES                            */
    int      is_default;        /* the source marks it default           */
    int      sdh;               /* for the deaf and hard of hearing      */
    struct subtitle_cue *cues;  /* by start time                         */
    size_t   ncues, cap;
    /* derived (subtitle_derive), not stored */
    uint64_t *sizes;            /* nseg: bytes of each segment's file    */
    uint64_t  whole_size;       /* bytes of the whole-track file         */
    char     *playlist;         /* media playlist text                   */
    size_t    playlist_len;
};

/* Where each segment's WebVTT file is on the video's timeline. */
struct subtitle_timing {
    long           nseg;
    const int64_t *start_ms;    /* nseg + 1: segment starts, ms from the
                                   title's start (hls.c's start_ms)      */
    int64_t        origin_ms;   /* the title's start in the source clock */
    int64_t        mpegts;      /* 90 kHz timestamp of the title's start
                                   in the segments (X-TIMESTAMP-MAP)     */
};

/* ---- reading ------------------------------------------------------------ */

/* 1 when a codec is text subtitles this module reads, 0 otherwise. */
int subtitle_codec_is_text(int codec_id);
/* 1 when a codec is bitmap subtitles (PGS, DVB, VobSub, XSUB). */
int subtitle_codec_is_bitmap(int codec_id);

/* One text stream being read: its decoder and the track it fills. */
struct subtitle_reader;

/* A reader for a text subtitle stream of a source (language, title and
 * disposition from its metadata). Returns 0, or a negative errno; a
 * stream whose decoder cannot be opened gives 0 and *out NULL. */
int subtitle_reader_open(const struct AVStream *st, struct subtitle_reader **out);
/* Decode one packet of its stream into cues. A damaged packet is skipped;
 * returns 0 or -ENOMEM. */
int subtitle_reader_packet(struct subtitle_reader *r, struct AVPacket *pkt);
/* The track read (owned by the caller from then on); frees the reader.
 * *track is NULL when no cue was read. Returns 0 or -ENOMEM. */
int subtitle_reader_finish(struct subtitle_reader **r, struct subtitle_track **track);
void subtitle_reader_free(struct subtitle_reader **r);

/* Sidecar files of the source at 'source_path': the files beside it
 * named after it ("film.mkv": "film.srt", "film.en.forced.srt" ...), in
 * name order, each read into a track. Files that cannot be read are left
 * out with a log line. Appends to *tracks (*ntracks of them). Returns 0
 * or -ENOMEM. */
int subtitle_sidecars(const char *source_path, struct subtitle_track ***tracks,
                      int *ntracks);

/* What the sidecar files of a source are now: a hash of each one's name,
 * size and mtime (0 when it has none), to tell when they changed since
 * the title was analysed. */
uint64_t subtitle_sidecar_stamp(const char *source_path);

/* Bytes a title's subtitle tracks hold in memory, roughly. */
size_t subtitle_track_bytes(const struct subtitle_track *t, long nseg);

/* ---- pure helpers (unit-tested) -------------------------------------- */

/* What a sidecar's name says: NULL when 'name' is not a sidecar of a
 * source whose name without extension is 'stem'; else its extension
 * ("srt", "vtt", "ass", "ssa") with language, forced, sdh, default filled
 * from the words between ("film.pt-BR.forced.srt"). */
const char *subtitle_sidecar_kind(const char *stem, const char *name,
                                  char *language, size_t lsize, int *forced,
                                  int *sdh, int *is_default);

/* Text in any usual encoding (UTF-8 with or without BOM, UTF-16 LE/BE
 * with BOM, or without one when it is plainly UTF-16, else Windows-1252 /
 * Latin-1) as UTF-8 without BOM, NUL-terminated, in *out (malloc'd,
 * *outlen bytes). Returns 0 or -ENOMEM. */
int subtitle_to_utf8(const uint8_t *in, size_t n, char **out, size_t *outlen);

/* The text of an ASS dialogue event ("ReadOrder,Layer,Style,Name,...,
 * Text" as libavcodec's decoders give it, or the bare text with
 * 'fields' 0) as WebVTT cue text: override blocks dropped except bold,
 * italic and underline, \N a line break, & < > escaped, blank lines and
 * "-->" removed. Returns the malloc'd text or NULL (no memory). */
char *subtitle_ass_to_vtt(const char *ass, int fields);

/* A track's cues, sorted by start (stable), ends made known and after
 * their starts, empty cues dropped. */
void subtitle_track_normalize(struct subtitle_track *t);

/* Bytes of the WebVTT file of segment i (0 <= i < nseg), or of the
 * whole track for i < 0, written to buf when buf is not NULL (buf must
 * hold the returned length + 1). */
size_t subtitle_vtt(const struct subtitle_track *t, const struct subtitle_timing *tm,
                    long i, char *buf);

/* The sizes and media playlist of a track (derived fields). Returns 0 or
 * -ENOMEM. */
int subtitle_derive(struct subtitle_track *t, const struct subtitle_timing *tm,
                    const int64_t *durations_ms);

/* Fill in empty NAMEs (from the language) and make every NAME unique. */
void subtitle_name_tracks(struct subtitle_track **tracks, int n);

/* An empty track, or NULL (no memory). */
struct subtitle_track *subtitle_track_new(void);
/* Add a cue (the text is copied; end_ms may be SUBTITLE_END_OPEN until
 * subtitle_track_normalize). Returns 0, or -ENOMEM; past
 * SUBTITLE_CUES_MAX cues are dropped. */
int subtitle_track_add(struct subtitle_track *t, int64_t start_ms, int64_t end_ms,
                       const char *text);
void subtitle_track_free(struct subtitle_track **t);

#endif
