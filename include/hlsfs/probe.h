/*
 * probe: open a source with libavformat, pick its streams and build the
 * packet index of the first video stream and of every audio stream,
 * from the container's own sample table when it has a complete one (MP4,
 * MOV) and otherwise from a packet scan that reads no payload twice and
 * decodes nothing.
 */
#ifndef HLSFS_PROBE_H
#define HLSFS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavutil/rational.h>

struct AVFormatContext;
struct AVIOContext;

#define PROBE_PKT_KEY     1   /* a keyframe (random access point)          */
#define PROBE_PKT_DISCARD 2   /* before the start of an edit list          */

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
};

/* A source read through AVIOContexts its owner makes (a file held in
 * memory, as the fuzzer has) instead of from its path. Each open gives a
 * context of its own, positioned at the start, so that opens may overlap;
 * the demuxer on it opens nothing else (no other file or URL). */
struct probe_io {
    /* 0 and *pb, or a negative AVERROR */
    int  (*open)(void *opaque, struct AVIOContext **pb);
    /* release one that open made; *pb becomes NULL */
    void (*close)(void *opaque, struct AVIOContext **pb);
    void  *opaque;
};

/* Open a source, demuxer only, no decoder: the file at 'path', or with io
 * the bytes io gives ('path' then only names it). Returns 0 or a negative
 * AVERROR. Close with probe_close_input and the same io. */
int probe_open_input(const char *path, const struct probe_io *io,
                     struct AVFormatContext **fmt);
void probe_close_input(const struct probe_io *io, struct AVFormatContext **fmt);

/* Analyse a source (the file at 'path', or io's bytes: see
 * probe_open_input). On a source that cannot be served, returns 0 with
 * p->error set; a negative errno for resource failures and for transient
 * errors opening or reading it (probe_error_is_transient: EACCES, EIO,
 * ENOENT ...), which must not be kept as the title's ERROR. */
int probe_source(const char *path, const struct probe_io *io, struct probe **out);

void probe_free(struct probe **p);

/* Is 'err', a negative AVERROR from opening or reading a source, the
 * file's state or the system's (I/O, permissions, a file gone, no memory
 * or descriptors, an interrupted read) rather than its content's? Such an
 * error may pass: what it ends is failed, never stored as the title's
 * ERROR or as a short segment. */
int probe_error_is_transient(int err);

#endif
