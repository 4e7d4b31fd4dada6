/*
 * transcode: one segment of a transcoded video rung. Decodes the source
 * from the segment's cut keyframe, keeps exactly the frames the plan gives
 * the segment, scales (and rotates) them, encodes them with a fresh
 * libx264 whose first frame is an IDR, and muxes into the planned size.
 */
#ifndef HLSFS_TRANSCODE_H
#define HLSFS_TRANSCODE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>

struct source_io;
struct title;
struct title_rendition;
struct work_bound;

/* Encoder settings shared by every rung of a mount. x264's threads are
 * slice threads: each frame is cut into 'threads' slices coded in
 * parallel, which gives the same bytes every time (frame threads do not).
 * The slices shape the bytes, so the thread count is in the title key.
 * Rate control is an average bit rate with no VBV. */
struct transcode_config {
    const char *preset;      /* x264 preset, "veryfast"                    */
    int         threads;     /* x264 and decoder threads per segment       */
};

/* Make segment 'seg' of video rung r from the source at 'path' (or read
 * through io when not NULL: source_open_input). *out: exactly
 * r->sizes[seg] bytes.
 * Returns 0, -EIO (logged with the file and segment; also when the work
 * crossed its deadline), or -ECANCELED when the bound's stop flag was set
 * meanwhile (checked at every packet and frame; bound may be NULL). */
int transcode_segment(const char *path, const struct source_io *io, const struct title *t,
                      const struct title_rendition *r, long seg,
                      const struct transcode_config *cfg,
                      const struct work_bound *bound, uint8_t **out, size_t *len);

/* The rate (bit/s) segment seg of r is encoded at first: what its planned
 * size leaves for the elementary stream after the MPEG-TS framing
 * (tssize.h) of the frames its duration holds at the title's frame rate,
 * over its duration; never above r->bit_rate. From the title record's
 * fields alone, so a title read back from its record gives the same. */
int64_t transcode_segment_rate(const struct title *t, const struct title_rendition *r,
                               long seg);

/* The packets segment seg of r may send to its decoder before it fails. */
long transcode_max_packets(const struct title *t, const struct title_rendition *r,
                           long seg);

/* The ":asm=..." x264 parameter every libx264 of the mount is given (empty
 * where x264's own detection gives the same bytes), into buf. */
void transcode_x264_asm(char *buf, size_t size);

#endif
