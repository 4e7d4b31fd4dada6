/*
 * thumbs: one thumbnail sprite of a title (trick.h): its pictures scaled
 * to tiles, laid out in rows of TRICK_SPRITE_COLS, encoded by libavcodec's
 * JPEG encoder and padded to its planned size inside comment segments
 * (jpegpad.h). A sprite over its size is encoded again coarser.
 */
#ifndef HLSFS_THUMBS_H
#define HLSFS_THUMBS_H

#include <stddef.h>
#include <stdint.h>

struct source_io;
struct title;
struct transcode_config;
struct work_bound;

/* Sprite s of t: *out, exactly t->trick->thumbs.sizes[s] bytes (*len).
 * Returns 0, -EIO (logged), or -ECANCELED when the bound's stop flag was
 * set. */
int thumbs_sprite(const char *path, const struct source_io *io, const struct title *t,
                  long s, const struct transcode_config *cfg,
                  const struct work_bound *bound, uint8_t **out, size_t *len);

#endif
