/*
 * remux: a segment of the copied rendition (`original`: the source's
 * H.264 video), packets copied on the plan, muxed and padded to the
 * planned size.
 */
#ifndef HLSFS_REMUX_H
#define HLSFS_REMUX_H

#include <stddef.h>
#include <stdint.h>

struct source_io;
struct title;
struct title_rendition;
struct work_bound;

/* Make segment 'seg' of rendition r of title t from the source at 'path'
 * (or read through io when not NULL: source_open_input).
 * On success *out (malloc'd) holds exactly r->sizes[seg] bytes.
 * Returns 0, -EIO (logged with the file and segment; also when the work
 * crossed its bound), or -ECANCELED when the bound's stop flag was set. */
int remux_segment(const char *path, const struct source_io *io, const struct title *t,
                  const struct title_rendition *r, long seg,
                  const struct work_bound *bound, uint8_t **out, size_t *len);

#endif
