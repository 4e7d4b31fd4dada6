/*
 * trick: a title's trick-play files, derived from the stored title after
 * its playlists (hls.c): which pictures the I-frame rendition and the
 * thumbnail sprites show, their exact sizes, the I-frame playlist, the
 * thumbnails' WebVTT index and the master's EXT-X-I-FRAME-STREAM-INF line.
 * Nothing here is stored; a title read back from its record derives the
 * same. Numbers are written with integer arithmetic only (no locale).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mathematics.h>

#include "hlsfs/budget.h"
#include "hlsfs/h264.h"
#include "hlsfs/title.h"
#include "hlsfs/trick.h"
#include "hlsfs/tssize.h"
#include "hlsfs/vpath.h"

long trick_count(int64_t duration_ms, int64_t step_ms, int round_up)
{
    long n;
    if (duration_ms <= 0 || step_ms <= 0)
        return 1;
    n = (long)(round_up ? (duration_ms + step_ms - 1) / step_ms : duration_ms / step_ms);
    return n > 0 ? n : 1;
}

int trick_pictures(struct trick_pictures *p, const int64_t *start_ms,
                   const int64_t *bounds, long nseg, int tb_num, int tb_den,
                   int64_t step_ms, long n)
{
    long seg = 0;

    memset(p, 0, sizeof(*p));
    if (n < 1 || nseg < 1 || tb_num <= 0 || tb_den <= 0)
        return -EINVAL;
    if (!(p->pts = malloc((size_t)n * sizeof(*p->pts))) ||
        !(p->seg = malloc((size_t)n * sizeof(*p->seg)))) {
        free(p->pts);
        p->pts = NULL;
        return -ENOMEM;
    }
    p->n = n;
    for (long k = 0; k < n; k++) {
        int64_t ms = k * step_ms;
        if (ms > start_ms[nseg])
            ms = start_ms[nseg];
        p->pts[k] = bounds[0] + av_rescale(ms, tb_den, (int64_t)tb_num * 1000);
        if (p->pts[k] >= bounds[nseg])
            p->pts[k] = bounds[nseg] - 1 > bounds[0] ? bounds[nseg] - 1 : bounds[0];
        /* times only grow: the segment search goes on from the last */
        while (seg + 1 < nseg && bounds[seg + 1] <= p->pts[k])
            seg++;
        p->seg[k] = seg;
    }
    return 0;
}

static void pictures_free(struct trick_pictures *p)
{
    free(p->pts);
    free(p->seg);
    memset(p, 0, sizeof(*p));
}

/* "HH:MM:SS.mmm" */
static void vtt_time(FILE *f, int64_t ms)
{
    fprintf(f, "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
            (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60),
            (long long)(ms % 1000));
}

/* The text of an open_memstream, or NULL when writing it failed. */
static char *memstream_done(FILE *f, char **buf, size_t *len)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*buf);
        *buf = NULL;
    }
    (void)len;
    return *buf;
}

char *trick_thumbs_vtt(const struct trick_thumbs *th, int64_t duration_ms)
{
    char *buf = NULL, name[32];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fputs("WEBVTT\n", f);
    for (long k = 0; k < th->pic.n; k++) {
        long s = k / TRICK_SPRITE_TILES, tile = k % TRICK_SPRITE_TILES;
        int64_t from = k * (int64_t)TRICK_THUMB_MS;
        int64_t to = k + 1 < th->pic.n ? from + TRICK_THUMB_MS : duration_ms;
        if (to <= from)
            to = from + 1;
        snprintf(name, sizeof(name), "%05ld.jpg", s);
        fputs("\n", f);
        vtt_time(f, from);
        fputs(" --> ", f);
        vtt_time(f, to);
        fprintf(f, "\n%s#xywh=%ld,%ld,%d,%d\n", name,
                tile % TRICK_SPRITE_COLS * th->tile_w, tile / TRICK_SPRITE_COLS * th->tile_h,
                th->tile_w, th->tile_h);
    }
    return memstream_done(f, &buf, &len);
}

char *trick_iframe_playlist(const int64_t *start_ms, long n)
{
    char *buf = NULL, name[32];
    size_t len = 0;
    int64_t max_ms = 0;
    FILE *f;

    for (long i = 0; i < n; i++)
        if (start_ms[i + 1] - start_ms[i] > max_ms)
            max_ms = start_ms[i + 1] - start_ms[i];
    if (n < 1 || !(f = open_memstream(&buf, &len)))
        return NULL;
    fprintf(f, "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
               "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-I-FRAMES-ONLY\n"
               "#EXT-X-TARGETDURATION:%lld\n#EXT-X-MEDIA-SEQUENCE:0\n",
            (long long)(max_ms > 0 ? (max_ms + 999) / 1000 : 1));
    for (long i = 0; i < n; i++) {
        int64_t ms = start_ms[i + 1] - start_ms[i];
        if (vpath_segment_name(name, sizeof(name), i, n) < 0)
            break;
        fprintf(f, "#EXTINF:%lld.%03d,\n%s\n", (long long)(ms / 1000), (int)(ms % 1000), name);
    }
    fputs("#EXT-X-ENDLIST\n", f);
    return memstream_done(f, &buf, &len);
}

/* v scaled by num / den to the nearest even number, at least 2. */
static int even_scale(int v, int num, int den)
{
    int64_t x = ((int64_t)v * num + den) / (2 * (int64_t)den) * 2;
    return x < 2 ? 2 : (int)x;
}

/* The video rendition pictures are taken from: the largest transcoded
 * one (its sizes are upright, as displayed, and the most exact shape),
 * else the first video one. */
static int picture_rendition(const struct title *t)
{
    int first = -1, best = -1;
    for (int i = 0; i < t->nrends; i++) {
        const struct title_rendition *r = &t->rends[i];
        if (r->kind != REND_VIDEO)
            continue;
        if (first < 0)
            first = i;
        if (r->mode == REND_ENCODE &&
            (best < 0 || (int64_t)r->width * r->height >
                             (int64_t)t->rends[best].width * t->rends[best].height))
            best = i;
    }
    return best >= 0 ? best : first;
}

static int make_iframes(struct title *t, struct trick *tr)
{
    struct trick_iframes *f = &tr->iframes;
    const struct title_rendition *r = &t->rends[tr->rend];
    int64_t total = t->start_ms[t->nseg];
    long n = trick_count(total, TRICK_IFRAME_MS, 0);
    int longer = r->width > r->height ? r->width : r->height;
    uint64_t sum = 0;
    int ret;

    if (longer > TRICK_IFRAME_BOX) {
        f->width = even_scale(r->width, TRICK_IFRAME_BOX, longer);
        f->height = even_scale(r->height, TRICK_IFRAME_BOX, longer);
    } else {
        f->width = even_scale(r->width, 1, 1);
        f->height = even_scale(r->height, 1, 1);
    }
    if ((ret = trick_pictures(&f->pic, t->start_ms, t->bounds, t->nseg, t->tb.num,
                              t->tb.den, TRICK_IFRAME_MS, n)) < 0)
        return ret;
    if (!(f->start_ms = malloc(((size_t)n + 1) * sizeof(*f->start_ms))) ||
        !(f->sizes = malloc((size_t)n * sizeof(*f->sizes))))
        return -ENOMEM;
    for (long i = 0; i < n; i++)
        f->start_ms[i] = i * (int64_t)TRICK_IFRAME_MS;
    f->start_ms[n] = total > f->start_ms[n - 1] ? total : f->start_ms[n - 1] + 1;
    f->peak_bps = 0;
    for (long i = 0; i < n; i++) {
        int64_t ms = f->start_ms[i + 1] - f->start_ms[i];
        /* what the source's keyframe there took, as the rungs' budgets */
        long seg = f->pic.seg[i];
        uint64_t key = t->key_bytes && seg >= 0 && seg < t->nseg ? t->key_bytes[seg] : 0;
        uint64_t es = budget_iframe_payload_bytes(key, t->key_px, f->width, f->height,
                                                  trick_iframe_es_bound(f->width, f->height));
        f->sizes[i] = tssize_h264_segment_bytes(es, 1, ms);
        uint64_t bps = (f->sizes[i] * 8000 + (uint64_t)ms - 1) / (uint64_t)ms;
        if (bps > f->peak_bps)
            f->peak_bps = bps;
        sum += f->sizes[i];
    }
    f->avg_bps = (sum * 8000 + (uint64_t)(f->start_ms[n]) - 1) / (uint64_t)f->start_ms[n];
    /* the profile of the rungs (the preset decides it), the level of
     * one small picture a second at the peak rate */
    f->level = h264_level(f->width, f->height, 1, (int64_t)f->peak_bps, 1);
    snprintf(f->codecs, sizeof(f->codecs), "avc1.%.4s%02x",
             strncmp(r->codecs, "avc1.", 5) || strlen(r->codecs) < 9 || r->mode != REND_ENCODE
                 ? "6400" : r->codecs + 5, f->level);
    if (!(f->playlist = trick_iframe_playlist(f->start_ms, n)))
        return -ENOMEM;
    f->playlist_len = strlen(f->playlist);
    return 0;
}

static int make_thumbs(struct title *t, struct trick *tr)
{
    struct trick_thumbs *th = &tr->thumbs;
    const struct title_rendition *r = &t->rends[tr->rend];
    int64_t total = t->start_ms[t->nseg];
    long n = trick_count(total, TRICK_THUMB_MS, 1);
    int ret;

    th->tile_w = TRICK_THUMB_WIDTH;
    th->tile_h = r->width > 0 ? even_scale(r->height, TRICK_THUMB_WIDTH, r->width) : 90;
    if ((ret = trick_pictures(&th->pic, t->start_ms, t->bounds, t->nseg, t->tb.num,
                              t->tb.den, TRICK_THUMB_MS, n)) < 0)
        return ret;
    th->nsprite = (n + TRICK_SPRITE_TILES - 1) / TRICK_SPRITE_TILES;
    if (!(th->start_ms = malloc(((size_t)th->nsprite + 1) * sizeof(*th->start_ms))) ||
        !(th->sizes = malloc((size_t)th->nsprite * sizeof(*th->sizes))))
        return -ENOMEM;
    for (long s = 0; s < th->nsprite; s++) {
        int w, h;
        trick_sprite_size(th, s, &w, &h);
        th->sizes[s] = trick_sprite_bytes(w, h);
        th->start_ms[s] = s * (int64_t)TRICK_SPRITE_TILES * TRICK_THUMB_MS;
    }
    th->start_ms[th->nsprite] = total > th->start_ms[th->nsprite - 1]
                                ? total : th->start_ms[th->nsprite - 1] + 1;
    if (!(th->vtt = trick_thumbs_vtt(th, total)))
        return -ENOMEM;
    th->vtt_len = strlen(th->vtt);
    return 0;
}

/* The master's line for the I-frame rendition, appended. */
static int master_line(struct title *t, const struct trick_iframes *f)
{
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%llu,AVERAGE-BANDWIDTH=%llu,"
                     "RESOLUTION=%dx%d,CODECS=\"%s\",URI=\"video/" TRICK_IFRAME_NAME
                     "/index.m3u8\"\n",
                     (unsigned long long)f->peak_bps, (unsigned long long)f->avg_bps,
                     f->width, f->height, f->codecs);
    char *m;
    if (n < 0 || (size_t)n >= sizeof(line))
        return -EINVAL;
    if (!(m = realloc(t->master, t->master_len + (size_t)n + 1)))
        return -ENOMEM;
    memcpy(m + t->master_len, line, (size_t)n + 1);
    t->master = m;
    t->master_len += (size_t)n;
    return 0;
}

int trick_make(struct title *t)
{
    struct trick *tr;
    int ret;

    if (t->error || t->nseg < 1 || !t->start_ms || !t->master || t->trick)
        return 0;
    if (picture_rendition(t) < 0)
        return 0;
    if (!(tr = calloc(1, sizeof(*tr))))
        return -ENOMEM;
    tr->rend = picture_rendition(t);
    if ((ret = make_iframes(t, tr)) < 0 || (ret = make_thumbs(t, tr)) < 0 ||
        (ret = master_line(t, &tr->iframes)) < 0) {
        trick_free(&tr);
        return ret;
    }
    t->trick = tr;
    return 0;
}

void trick_free(struct trick **ptr)
{
    struct trick *tr = ptr ? *ptr : NULL;
    if (!tr)
        return;
    pictures_free(&tr->iframes.pic);
    free(tr->iframes.start_ms);
    free(tr->iframes.sizes);
    free(tr->iframes.playlist);
    pictures_free(&tr->thumbs.pic);
    free(tr->thumbs.start_ms);
    free(tr->thumbs.sizes);
    free(tr->thumbs.vtt);
    free(tr);
    *ptr = NULL;
}
