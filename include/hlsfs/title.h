/*
 * title: one source title: its identity, the segment plan, its renditions
 * with every segment's exact size, and its playlists. A title is built
 * once from a probe (title.c) and stored in the cache as its record
 * (record.h), or read back from that record; its playlists are derived
 * (hls.h). After that it is immutable and shared read-only between
 * threads. The inline accessors below are what the make layer uses.
 */
#ifndef HLSFS_TITLE_H
#define HLSFS_TITLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <math.h>

#include <libavutil/mathematics.h>
#include <libavutil/rational.h>

#include "hlsfs/ladder.h"
#include "hlsfs/plan.h"
#include "hlsfs/timeline.h"
#include "hlsfs/transcode.h"
#include "hlsfs/vpath.h"

struct probe;
struct subtitle_track;
struct trick;

/* A step between video timestamps longer than this many seconds is a jump
 * (or, for one packet, a damaged timestamp), not a long frame. */
#define TITLE_JUMP_S(segment_time) ((segment_time) * 50 > 300 ? (segment_time) * 50 : 300)
/* No planned segment is larger: beyond it the plan is wrong, not big. */
#define TITLE_SEGMENT_MAX_BYTES ((uint64_t)512 << 20)
/* Seconds past which a segment between two cut keyframes is too long: the
 * plan then cuts between keyframes (on the segment_time grid), decoding
 * each such segment from the keyframe before it, and the copied original,
 * which cannot cut there, is not offered. */
#define TITLE_FORCE_S(segment_time) \
    ((segment_time) * 3 > (segment_time) + 10 ? (segment_time) * 3 : (segment_time) + 10)

/* Each audio track is also offered at this AAC rate, as audio/K-32k (in
 * an audio group of its own), for a variant of the smallest video
 * rendition under the 192 kbit/s that cellular networks need (Apple's HLS
 * authoring spec 9.21); not when audio_bitrate is no higher. */
#define TITLE_CELL_AUDIO_RATE   LADDER_CELLULAR_AUDIO_BPS
#define TITLE_CELL_AUDIO_SUFFIX "-32k"

/* Everything besides the source that shapes a title's bytes. */
struct title_options {
    double                  segment_time;   /* seconds                    */
    struct ladder           ladder;
    struct transcode_config video;
    int64_t                 audio_bit_rate;  /* AAC, bit/s                */
    int                     audio_sample_rate;
    int                     format;          /* enum title_format          */
};

/* The segment format of every rendition of a title (-o format=). */
enum title_format {
    TITLE_FORMAT_TS,       /* MPEG-TS: NNNNN.ts                         */
    TITLE_FORMAT_FMP4,     /* fragmented MP4 (CMAF): init.mp4, NNNNN.m4s */
};

/* Bytes owned by the struct they are in. */
struct title_blob {
    uint8_t *data;
    size_t   len;
};

/* The version of the title record (record.h), the fourth byte of a
 * key's magic: a record of another version is never read. */
#define TITLE_RECORD_VERSION 'B'

/* What makes a title: the source's identity and the options that shape
 * the plan. A changed source or option is a different title. */
struct title_key {
    char     magic[4];          /* "HTI" + record version                 */
    uint32_t reserved0;         /* 0; every byte of the key is a field    */
    uint64_t dev, ino, size;
    int64_t  mtime_ns;
    uint32_t segment_ms;
    uint32_t reserved;
    uint64_t options_hash;      /* ladder, encoder and audio settings     */
};

struct title_rendition {
    enum rend_kind kind;
    enum {
        REND_COPY,        /* source packets copied (remux.c)               */
        REND_ENCODE,      /* decoded and encoded (transcode.c, audio.c)    */
    }           mode;
    int64_t     bit_rate; /* REND_ENCODE: the rate bound of its segments   */
    int         rotation; /* video: clockwise degrees to display upright   */
    char        name[VPATH_NAME_MAX];   /* "original", "0", "1" ...        */
    int         src_index;              /* stream index in the source      */
    AVRational  tb;                     /* of range[]                      */
    int64_t    *range;    /* nseg + 1: segment i = packets with dts in
                             [range[i], range[i + 1]) of that stream;
                             encoded audio: sample positions at tb 1/rate  */
    uint64_t   *sizes;    /* nseg: exact bytes of each segment             */
    int         ps_bound; /* video: bytes of parameter sets a keyframe may
                             gain                                          */
    int         length_size; /* video: AVCC NAL length size, 0 if Annex B  */
    int         key_by_pts;  /* video without decode times (Matroska):
                                range[] holds the pts of each segment's
                                first keyframe; segment i runs from that
                                keyframe to the next cut keyframe, and
                                decode times are made by mux_decode_times */
    int64_t     dts_shift;   /* for key_by_pts                             */
    int         width, height;
    int         filters;  /* video, encoded: VFILTER_* its pictures need   */
    int         channels;
    int         is_default;
    char        codecs[48];
    char        language[16];
    char        label[64];
    uint64_t    peak_bps, avg_bps;
    char       *playlist;               /* media playlist text             */
    size_t      playlist_len;
    /* fMP4 (TITLE_FORMAT_FMP4) only */
    struct title_blob init;             /* init.mp4, made at analysis      */
    char        video_range[8];         /* "PQ", "HLG", or "" (SDR)        */
};

struct title {
    struct title_key        key;
    char                   *error;       /* "reason\n" or NULL             */
    size_t                  error_len;
    AVRational              tb;          /* of bounds[]                    */
    long                    nseg;
    int64_t                *bounds;      /* nseg + 1 presentation times    */
    double                  frame_rate;
    struct title_rendition *rends;
    int                     nrends;
    char                   *master;
    size_t                  master_len;
    int64_t                *start_ms;    /* nseg + 1: segment starts,
                                            ms from the first (derived) */
    struct timeline         timeline;    /* a joined source's parts,
                                            re-timed (n == 0: none)     */
    char                   *source_path; /* set by library.c on load    */
    void                   *holder;      /* library.c's record of it   */
    struct subtitle_track **subs;        /* text subtitles (subtitle.h):
                                            embedded, then sidecars     */
    int                     nsubs;
    uint64_t                sidecar_stamp; /* subtitle_sidecar_stamp when
                                            analysed (0: none)          */
    struct trick           *trick;       /* trick-play files (trick.h),
                                            derived; NULL: none        */
    int                     format;      /* enum title_format            */
    uint64_t               *key_bytes;   /* nseg: the source's largest
                                            keyframe of each segment, in
                                            H.264 bytes (budget.h); 0 or
                                            NULL: not known             */
    int64_t                 key_px;      /* the pixels of those pictures  */
};

void title_make_key(struct title_key *key, const struct stat *st,
                    const struct title_options *o);

/* Build a title from a probe: plan, renditions, sizes, playlists. The
 * probe's packets are re-timed in place when the source's clock jumps
 * ahead (t->timeline). */
int title_build(struct probe *p, const struct title_key *key,
                const struct title_options *o, struct title **out);

/* A title with only an ERROR file. */
int title_build_error(const struct title_key *key, const char *reason,
                      struct title **out);


/* The rendition of a virtual path, or NULL. */
const struct title_rendition *title_find(const struct title *t,
                                         enum rend_kind kind,
                                         const char *name);

/* TITLE_JUMP_S of the title's segment time, in time base tb. */
static inline int64_t title_jump(const struct title *t, AVRational tb)
{
    return av_rescale_q(llround(TITLE_JUMP_S(t->key.segment_ms / 1000.0) * 1000),
                        (AVRational){ 1, 1000 }, tb);
}

/* Duration of segment i in ms, from the plan. */
static inline int64_t title_segment_ms(const struct title *t, long i)
{
    return plan_ms(t->bounds[i], t->bounds[i + 1], t->tb.num, t->tb.den);
}

/* The H.264 level_idc a video rendition's CODECS ("avc1.PPCCLL", or
 * "avc3.PPCCLL" in fMP4) names,
 * which its encoder is told; -1 when CODECS names none. */
static inline int title_rendition_level(const struct title_rendition *r)
{
    const char *c = r->codecs;
    int level = 0;
    if ((strncmp(c, "avc1.", 5) && strncmp(c, "avc3.", 5)) || strlen(c) != 11)
        return -1;
    for (int i = 9; i < 11; i++) {
        int d = c[i] >= '0' && c[i] <= '9' ? c[i] - '0'
              : c[i] >= 'a' && c[i] <= 'f' ? c[i] - 'a' + 10
              : c[i] >= 'A' && c[i] <= 'F' ? c[i] - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        level = level * 16 + d;
    }
    return level > 0 ? level : -1;
}

/* The filters (VFILTER_*) the title's transcoded video rungs use. */
static inline int title_video_filters(const struct title *t)
{
    for (int i = 0; i < t->nrends; i++)
        if (t->rends[i].kind == REND_VIDEO && t->rends[i].mode == REND_ENCODE)
            return t->rends[i].filters;
    return 0;
}

void title_free(struct title **t);

#endif
