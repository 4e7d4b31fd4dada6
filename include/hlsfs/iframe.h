/*
 * iframe: one segment of a title's I-frame rendition (trick.h): the
 * picture at its time, encoded alone by a fresh libx264 as one IDR at a
 * constant quantiser, muxed as MPEG-TS with the title's timestamps. A
 * picture over its planned size is encoded again coarser, never cut.
 */
#ifndef HLSFS_IFRAME_H
#define HLSFS_IFRAME_H

#include <stddef.h>
#include <stdint.h>

struct source_io;
struct title;
struct transcode_config;
struct work_bound;

/* Segment i of t's I-frame rendition: *out, its first *len bytes (at most
 * t->trick->iframes.sizes[i]; the rest is null-packet padding readers
 * make). Returns 0, -EIO (logged), or -ECANCELED when the bound's stop
 * flag was set. */
int iframe_segment(const char *path, const struct source_io *io, const struct title *t,
                   long i, const struct transcode_config *cfg,
                   const struct work_bound *bound, uint8_t **out, size_t *len);

#endif
