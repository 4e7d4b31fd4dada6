/*
 * ladder: which transcoded renditions a title gets, their frame sizes and
 * bit rates, and the byte bound of each segment (pure, no I/O).
 *
 * A rung is named by the short side of its picture ("720p" is 1280x720
 * for a 16:9 source, 720x1280 for a portrait one) and offered only when
 * the source's short side is at least that large: nothing is upscaled.
 */
#ifndef HLSFS_LADDER_H
#define HLSFS_LADDER_H

#include <stdint.h>

#define LADDER_MAX 16

/* The longest picture side a rung may have: libx264 (and H.264's levels)
 * take no more. */
#define LADDER_MAX_SIDE 16384

struct ladder_rung {
    int     height;      /* short side in pixels                      */
    int64_t bit_rate;    /* bit/s: the rate bound of its segments     */
};

struct ladder {
    struct ladder_rung rungs[LADDER_MAX];
    int                n;
};

/* The default ladder: 360p 800k, 480p 1400k, 720p 2800k, 1080p 5000k,
 * 1440p 8000k, 2160p 14000k. */
void ladder_default(struct ladder *l);

/* Parse "360:800k,720:2800k,1080:5M" (heights ascending after parsing,
 * duplicates rejected, 2..8640 px, 64k..200M). Returns 0 or -EINVAL. */
int ladder_parse(const char *spec, struct ladder *l);

/* Canonical text of a ladder ("360:800000,720:2800000"), for cache keys. */
int ladder_format(const struct ladder *l, char *buf, int size);

struct ladder_choice {
    int     height;      /* rung name, e.g. 720                       */
    int     width_px, height_px;   /* output picture, even, square pixels */
    int64_t bit_rate;
};

/* Rungs for a source of display size w x h (after sample aspect ratio
 * and rotation). When the source is smaller than every rung, one rung at
 * the source's own short side with the lowest rung's bits per pixel. A
 * rung whose picture would be longer than LADDER_MAX_SIDE is left out.
 * Returns the number written to out (at most LADDER_MAX). */
int ladder_select(const struct ladder *l, int display_w, int display_h,
                  struct ladder_choice *out);

/* Largest MPEG-TS segment, in bytes (a multiple of 188), that a video
 * segment of 'duration_ms' with at most 'frames' frames can take when its
 * elementary stream stays within bit_rate * duration (tssize.h's model
 * of the muxer). */
uint64_t ladder_video_segment_bytes(int64_t bit_rate, int64_t duration_ms,
                                    long frames);

/* The same for an AAC segment of 'frames' frames of 1024 samples at
 * 'sample_rate', each with a 7-byte ADTS header, coded at bit_rate on
 * average (5 % headroom): tssize.h's model of such an elementary stream. */
uint64_t ladder_audio_segment_bytes(int64_t bit_rate, int sample_rate,
                                    long frames);

/* The elementary-stream budget in bytes that those bounds leave. */
uint64_t ladder_video_payload_bytes(int64_t bit_rate, int64_t duration_ms);
uint64_t ladder_audio_payload_bytes(int64_t bit_rate, int sample_rate,
                                    long frames);

#endif
