/*
 * source: opening a source with libavformat (demuxer only), from its path
 * or from the bytes a struct source_io gives, with the work bound attached
 * before the open; and the errors that are the system's, not the file's.
 */
#ifndef HLSFS_SOURCE_H
#define HLSFS_SOURCE_H

struct AVFormatContext;
struct AVIOContext;
struct work_bound;

/* A source read through AVIOContexts its owner makes (a file held in
 * memory, as the fuzzer has) instead of from its path. Each open gives a
 * context of its own, positioned at the start, so that opens may overlap;
 * the demuxer on it opens nothing else (no other file or URL). */
struct source_io {
    /* 0 and *pb, or a negative AVERROR */
    int  (*open)(void *opaque, struct AVIOContext **pb);
    /* release one that open made; *pb becomes NULL */
    void (*close)(void *opaque, struct AVIOContext **pb);
    void  *opaque;
};

/* Open a source, demuxer only, no decoder: the file at 'path', or with io
 * the bytes io gives ('path' then only names it). With a bound (may be
 * NULL), libavformat's blocking reads give up when it is crossed, from
 * the open on. Returns 0 or a negative AVERROR. Close with
 * source_close_input and the same io. */
int source_open_input(const char *path, const struct source_io *io,
                      const struct work_bound *bound,
                      struct AVFormatContext **fmt);
void source_close_input(const struct source_io *io, struct AVFormatContext **fmt);

/* Is 'err', a negative AVERROR from opening or reading a source, the
 * file's state or the system's (I/O, permissions, a file gone, no memory
 * or descriptors, an interrupted read) rather than its content's? Such an
 * error may pass: what it ends is failed, never stored as the title's
 * ERROR or as a short segment. */
int source_error_is_transient(int err);

#endif
