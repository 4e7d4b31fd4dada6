/*
 * picture: single pictures of a title's video, for trick play (iframe.c,
 * thumbs.c). The picture at a time is the one the source shows then: the
 * last frame whose pts is at or before it, decoded by a fresh decoder
 * from the cut keyframe of the plan segment holding that time, so it
 * depends on that time alone, never on what was decoded before. Scaled to
 * the size asked and turned upright as the title's rungs are.
 */
#ifndef HLSFS_PICTURE_H
#define HLSFS_PICTURE_H

#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

struct source_io;
struct title;
struct title_rendition;
struct work_bound;
struct picture_source;

/* Open the source of t for pictures of rendition r's stream, with
 * 'threads' decoder threads, within bound (may be NULL). Returns 0 or a
 * negative AVERROR; *out NULL on failure. */
int picture_open(struct picture_source **out, const char *path,
                 const struct source_io *io, const struct title *t,
                 const struct title_rendition *r, int threads,
                 const struct work_bound *bound);

/* The picture shown at 'pts' (the title's tb), which lies in plan segment
 * 'seg', scaled to w x h (even) in 'format' (AV_PIX_FMT_YUV420P with
 * limited range, or AV_PIX_FMT_YUVJ420P, full range), into a new *pic
 * whose pts is 'pts'. Returns 0 or a negative AVERROR. */
int picture_at(struct picture_source *ps, int64_t pts, long seg, int w, int h,
               enum AVPixelFormat format, AVFrame **pic);

/* What failed last: "open", "seek", "decode", "scale". */
const char *picture_step(const struct picture_source *ps);

void picture_close(struct picture_source **ps);

#endif
