/*
 * trick: a title's trick-play files (trick.c), derived like its playlists
 * from the stored title (nothing of it is in the record):
 *
 *   video/iframes/index.m3u8   an EXT-X-I-FRAMES-ONLY playlist
 *   video/iframes/NNNNN.ts     one IDR picture each, about one a second
 *   thumbs/thumbs.vtt          WebVTT cues "NNNNN.jpg#xywh=x,y,w,h"
 *   thumbs/NNNNN.jpg           sprites of TRICK_SPRITE_COLS x ROWS tiles
 *
 * A picture is the one the source shows at its time: decoded from the cut
 * keyframe of the plan segment that holds that time. Every size is fixed
 * here, from the plan and the picture sizes alone: an I-frame segment is
 * padded with null packets, a sprite inside JPEG comment segments.
 * The make layer reads these fields; it calls nothing of trick.c.
 */
#ifndef HLSFS_TRICK_H
#define HLSFS_TRICK_H

#include <stddef.h>
#include <stdint.h>

struct title;

#define TRICK_IFRAME_MS     1000    /* one I-frame a second              */
#define TRICK_IFRAME_BOX    320     /* its longer side at most           */
#define TRICK_THUMB_MS      10000   /* one thumbnail every 10 s          */
#define TRICK_THUMB_WIDTH   160
#define TRICK_SPRITE_COLS   10
#define TRICK_SPRITE_ROWS   10
#define TRICK_SPRITE_TILES  (TRICK_SPRITE_COLS * TRICK_SPRITE_ROWS)
/* the name of the I-frame rendition below video/ */
#define TRICK_IFRAME_NAME   "iframes"

/* The elementary-stream bytes an I-frame picture of w x h may take: the
 * parameter sets and x264's SEI, then 2 bits a pixel. */
static inline uint64_t trick_iframe_es_bound(int w, int h)
{
    return 2048 + (uint64_t)w * (uint64_t)h / 4;
}

/* The JPEG bytes a sprite of w x h may take at most, padding included:
 * headers and tables, then 1.5 bits a pixel. */
static inline uint64_t trick_sprite_bytes(int w, int h)
{
    return 4096 + (uint64_t)w * (uint64_t)h * 3 / 16;
}

/* Pictures taken from the source, each at one time. */
struct trick_pictures {
    long     n;
    int64_t *pts;       /* n: the time each shows, in the title's tb    */
    long    *seg;       /* n: the plan segment holding that time        */
};

struct trick_iframes {
    struct trick_pictures pic;  /* one per segment                     */
    int64_t  *start_ms;         /* n + 1: segment i is [start_ms[i],
                                   start_ms[i + 1]) ms of the title     */
    uint64_t *sizes;            /* n: exact bytes of each segment       */
    int       width, height;
    int       level;            /* H.264 level_idc the SPS declares     */
    char      codecs[32];
    uint64_t  peak_bps, avg_bps;
    char     *playlist;
    size_t    playlist_len;
};

struct trick_thumbs {
    struct trick_pictures pic;  /* one per tile, in order               */
    long      nsprite;
    int       tile_w, tile_h;
    int64_t  *start_ms;         /* nsprite + 1: the times each covers   */
    uint64_t *sizes;            /* nsprite: exact bytes of each sprite  */
    char     *vtt;
    size_t    vtt_len;
};

struct trick {
    int                  rend;      /* index in t->rends of the video
                                       rendition whose source stream and
                                       cut keyframes pictures come from */
    struct trick_iframes iframes;
    struct trick_thumbs  thumbs;
};

/* Tiles in sprite s and its size in pixels. */
static inline long trick_sprite_tiles(const struct trick_thumbs *th, long s)
{
    long left = th->pic.n - s * TRICK_SPRITE_TILES;
    return left > TRICK_SPRITE_TILES ? TRICK_SPRITE_TILES : left;
}

static inline void trick_sprite_size(const struct trick_thumbs *th, long s,
                                     int *w, int *h)
{
    long n = trick_sprite_tiles(th, s);
    *w = (int)(n < TRICK_SPRITE_COLS ? n : TRICK_SPRITE_COLS) * th->tile_w;
    *h = (int)((n + TRICK_SPRITE_COLS - 1) / TRICK_SPRITE_COLS) * th->tile_h;
}

/* Derive t->trick from a built or read title (t->start_ms and the master
 * made): the pictures, sizes, playlist, VTT, and the
 * EXT-X-I-FRAME-STREAM-INF line appended to t->master. A title without a
 * video rendition gets none (t->trick stays NULL). Returns 0 or -ENOMEM. */
int trick_make(struct title *t);

/* The pictures at times first_ms + k * step_ms (k = 0 .. n - 1) of a plan
 * whose segment i starts at start_ms[i] (nseg + 1 entries) and at
 * bounds[i] in the title's tb (tb_num / tb_den): each picture's pts and
 * segment. Pure; returns 0 or -ENOMEM. */
int trick_pictures(struct trick_pictures *p, const int64_t *start_ms,
                   const int64_t *bounds, long nseg, int tb_num, int tb_den,
                   int64_t step_ms, long n);

/* How many pictures a title of 'duration_ms' gets one every step_ms: a
 * remainder shorter than a step goes to the last picture (I-frames: no
 * segment is shorter than a step, so none raises the peak rate), or gets
 * a picture of its own (thumbnails, round_up). At least 1. */
long trick_count(int64_t duration_ms, int64_t step_ms, int round_up);

/* The thumbnails' WebVTT text (malloc'd, NUL-terminated), or NULL. */
char *trick_thumbs_vtt(const struct trick_thumbs *th, int64_t duration_ms);

/* The I-frame playlist text (malloc'd), or NULL. */
char *trick_iframe_playlist(const int64_t *start_ms, long n);

void trick_free(struct trick **tr);

#endif
