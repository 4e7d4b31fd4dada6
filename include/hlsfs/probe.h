/*
 * probe: open a source with libavformat, pick its streams and build the
 * packet index of the first video stream and of every audio stream,
 * from the container's own sample table when it has a complete one (MP4,
 * MOV) and otherwise from a packet scan that reads no payload twice and
 * decodes nothing, but for the constant-rate audio decoded once to find
 * its silence (PROBE_PKT_SILENT).
 */
#ifndef HLSFS_PROBE_H
#define HLSFS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavutil/rational.h>

struct AVFormatContext;
struct source_io;
struct AVIOContext;
struct subtitle_reader;
struct subtitle_track;

#define PROBE_PKT_KEY     1   /* a keyframe (random access point)          */
#define PROBE_PKT_DISCARD 2   /* before the start of an edit list          */
#define PROBE_PKT_SILENT  4   /* audio: decodes to zeros, as does the next */

struct probe_packet {
    int64_t  dts;             /* stream time base; never AV_NOPTS_VALUE    */
    int64_t  pts;             /* AV_NOPTS_VALUE when the index lacks it    */
    uint32_t size;
    uint32_t flags;
};

struct probe_stream {
    int                  index;      /* in the source                      */
    AVRational           tb;
    AVCodecParameters   *par;        /* owned copy                         */
    struct probe_packet *pkts;       /* decode order                       */
    size_t               npkts, cap;
    int                  no_dts;     /* the container gives no decode times
                                        (Matroska): dts[] holds pts        */
    int64_t              pts_offset; /* pts - dts of a keyframe (index)    */
    int                  rotation;   /* video: clockwise degrees to upright */
    AVRational           sar;        /* video: the container's, else codec's */
    AVRational           avg_rate;   /* video: the container's frame rate   */
    AVRational           r_rate;     /* video: libavformat's base rate      */
    int                  dovi_compat; /* video: a Dolby Vision record's base
                                        layer signal compatibility, or -1 */
    char                *language;   /* owned, may be NULL                 */
    char                *name;       /* owned, may be NULL                 */
    int                  is_default;
};

struct probe {
    char                *format;     /* libavformat short name             */
    const char          *method;     /* "container index" / "packet scan"  */
    struct probe_stream *video;      /* NULL when none                     */
    struct probe_stream *audio;      /* every audio stream, source order   */
    int                  naudio;
    char                *error;      /* why the title cannot be served     */
    int                  error_not_kept; /* error may be the system's (an
                                        out-of-memory the demuxer also gives
                                        for a lying header): shown, never
                                        stored in the cache              */
    struct probe_text {              /* a text subtitle stream being read  */
        int                     index;
        struct subtitle_reader *reader;
    }                   *text;
    int                  ntext;
    struct subtitle_track **subs;    /* text subtitles read (subtitle.h):
                                        the streams', then sidecar files'
                                        (with a path only); title_build
                                        takes them                         */
    int                  nsubs;
    uint64_t             sidecar_stamp;  /* subtitle_sidecar_stamp, taken
                                        before they were read              */
};

/* Analyse a source (the file at 'path', or io's bytes: see
 * source_open_input). On a source that cannot be served, returns 0 with
 * p->error set; a negative errno for resource failures and for transient
 * errors opening or reading it (source_error_is_transient: EACCES, EIO,
 * ENOENT ...), which must not be kept as the title's ERROR. */
int probe_source(const char *path, const struct source_io *io, struct probe **out);

void probe_free(struct probe **p);

#endif
