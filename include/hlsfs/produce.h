/*
 * produce: make one segment of any rendition, whichever way it is made
 * (copied by remux.c, video encoded by transcode.c, audio by audio.c),
 * with a log line per segment made.
 */
#ifndef HLSFS_PRODUCE_H
#define HLSFS_PRODUCE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hlsfs/session.h"

struct source_io;
struct title;
struct title_rendition;
struct title_options;
struct work_bound;

/* Segment seg of rendition r, from the source at 'path' (or read through
 * io when not NULL: source_open_input), within the segment's work bound
 * (workbound.h). *out: the segment's first *len bytes (malloc'd, *len <=
 * r->sizes[seg]); the rest up to r->sizes[seg] is null-packet padding,
 * which readers make with mux_padding(). Returns 0, -EIO, or -ECANCELED
 * when *stop (may be NULL) became non-zero meanwhile. */
int produce_segment(const char *path, const struct source_io *io,
                    const struct title *t, const struct title_rendition *r,
                    long seg, const struct title_options *o,
                    const atomic_int *stop, uint8_t **out, size_t *len);

/* The same within a bound the caller sets instead (may be NULL: none). */
int produce_segment_within(const char *path, const struct source_io *io,
                           const struct title *t,
                           const struct title_rendition *r, long seg,
                           const struct title_options *o,
                           const struct work_bound *bound, uint8_t **out,
                           size_t *len);

/* The scheduler's view of rendition r of t. 'key' receives the key bytes
 * (at least PRODUCE_KEY_MAX); out points into it and into t. */
#define PRODUCE_KEY_MAX 128
void produce_rendition(const struct title *t, const struct title_rendition *r,
                       uint8_t *key, struct sched_rendition *out);

/* The trick-play files of a title (trick.h), as the scheduler sees them:
 * the I-frame rendition (read ahead like any), the thumbnail sprites
 * (made only when read). */
enum produce_trick { PRODUCE_IFRAMES, PRODUCE_THUMBS };
void produce_trick_rendition(const struct title *t, enum produce_trick which,
                             uint8_t *key, struct sched_rendition *out);

/* Item i of a trick-play rendition: produce_segment's contract, with the
 * sizes of t->trick. */
int produce_trick_item(const char *path, const struct source_io *io,
                       const struct title *t, enum produce_trick which, long i,
                       const struct title_options *o, const atomic_int *stop,
                       uint8_t **out, size_t *len);

/* How a segment is made: the "kind" label of the metrics. */
enum produce_kind { PRODUCE_VIDEO, PRODUCE_AUDIO, PRODUCE_COPY, PRODUCE_TRICK, PRODUCE_NKINDS };
const char *produce_kind_name(enum produce_kind k);   /* "video", ... */

/* Counters of the segments made by produce_scheduled, of one kind. */
struct produce_counter {
    atomic_uint_least64_t made;       /* segments made                   */
    atomic_uint_least64_t failed;     /* segments that could not be made */
    atomic_uint_least64_t busy_us;    /* time spent making them          */
    atomic_uint_least64_t media_ms;   /* media time of those made        */
};

/* The produce callback of struct sched_config, with a struct produce_ctx
 * as ctx (the owners' hold and release are the library's). */
struct produce_ctx {
    const struct title_options *opts;
    /* Set when the mount goes: encodes in progress give up at their next
     * frame, so that unmounting does not wait for them. */
    atomic_int                  stop;
    struct produce_counter      count[PRODUCE_NKINDS];
};
int  produce_scheduled(void *ctx, const struct sched_rendition *r, long seg,
                       uint8_t **out, size_t *len);

#endif
