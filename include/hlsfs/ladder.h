/*
 * ladder: which transcoded renditions a title gets, their frame sizes and
 * bit rates, and the byte bound of each segment (pure, no I/O).
 *
 * A rung is named by the short side of its picture ("720p" is 1280x720
 * for a 16:9 source, 720x1280 for a portrait one) and offered only when
 * the source's short side is at least that large: nothing is upscaled.
 * Its rate is fitted to what the source spends (ladder_select).
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

/* What the ladder is fitted to: the picture as displayed (after sample
 * aspect ratio and rotation), what the source's video spends and how
 * many bits its codec spends for what H.264 spends in 100. */
struct ladder_source {
    int     display_w, display_h;
    int64_t bit_rate;    /* mean rate of the video packets, bit/s; 0: unknown */
    int     cost_pct;    /* ladder_codec_cost_pct; 0 counts as 100             */
    int     original;    /* the source is also offered copied ("original")     */
    double  fps;         /* frame rate; 0: unknown (counted as 30)             */
};

/* A rung is never planned at more than the source needs at its size:
 * its rate is at most
 *     bit_rate * 100 / cost_pct * (rung pixels / source pixels)^0.75 * 1.3
 * but not below LADDER_FLOOR_BPS (at 640x360 and larger; less in
 * proportion to pixels^0.75 for smaller pictures, at least
 * LADDER_FLOOR_MIN_BPS), and never above the rung's own rate. */
#define LADDER_NEED_EXP      0.75
#define LADDER_NEED_MARGIN   1.3
#define LADDER_FLOOR_BPS     100000
#define LADDER_FLOOR_PIXELS  (640 * 360)
#define LADDER_FLOOR_MIN_BPS 32000

/* Every title has at least two video renditions (the original counts)
 * and one whose variant with the cellular audio (TITLE_CELL_AUDIO_RATE)
 * stays under LADDER_CELLULAR_BPS once muxed (Apple's HLS authoring
 * specification, 9.9 and 9.21; ladder_cellular_rate): when the ladder
 * gives fewer, or none that low, one rung is added at half the short side
 * of the smallest, at that rung's bits per pixel (within the need and
 * floor above), at most that rate when no rung is low enough, and below
 * the smallest rung's rate. */
#define LADDER_CELLULAR_BPS  192000
#define LADDER_CELLULAR_AUDIO_BPS 32000

/* The highest video rate whose 6 s segments at 'fps', muxed, leave room
 * under LADDER_CELLULAR_BPS for the cellular audio's, also muxed (at
 * least LADDER_FLOOR_MIN_BPS). */
int64_t ladder_cellular_rate(double fps);

/* Bits the codec (libavcodec's name: "h264", "hevc") spends for what
 * H.264 spends in 100: HEVC and VP9 65, AV1 50, MPEG-1/2/4 part 2,
 * H.263, VC-1 and their kin 150, anything else 100. */
int ladder_codec_cost_pct(const char *codec_name);

/* The highest rate a rung of w x h pixels is planned at for source s
 * (the need above, floored; INT64_MAX when the source's rate is
 * unknown). */
int64_t ladder_rung_cap(const struct ladder_source *s, int w, int h);

/* Rungs for source s, smallest first, strictly growing in size and rate.
 * The candidates are the ladder's rungs no larger than the source's short
 * side (when the source is smaller than every rung, one at its own short
 * side with the lowest rung's bits per pixel); a rung whose picture would
 * be longer than LADDER_MAX_SIDE is left out. Each is capped
 * (ladder_rung_cap); one whose capped rate is not below that of the
 * next larger rung is left out; then the rung for two renditions and
 * cellular is added (above). Returns the number written to out (at most
 * LADDER_MAX). */
int ladder_select(const struct ladder *l, const struct ladder_source *s,
                  struct ladder_choice *out);

/* Largest MPEG-TS segment, in bytes (a multiple of 188), of an AAC
 * segment of 'frames' frames of 1024 samples at 'sample_rate', each with a
 * 7-byte ADTS header, coded at bit_rate on average (5 % headroom):
 * tssize.h's model of such an elementary stream. */
uint64_t ladder_audio_segment_bytes(int64_t bit_rate, int sample_rate,
                                    long frames);

/* The elementary-stream budget in bytes that those bounds leave. */
uint64_t ladder_video_payload_bytes(int64_t bit_rate, int64_t duration_ms);
uint64_t ladder_audio_payload_bytes(int64_t bit_rate, int sample_rate,
                                    long frames);

#endif
