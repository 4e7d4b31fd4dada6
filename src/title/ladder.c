/*
 * ladder: rendition ladder, rung picture sizes and segment byte bounds
 * (the elementary-stream budget of a rate; its MPEG-TS framing is
 * tssize.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlsfs/ladder.h"
#include "hlsfs/tssize.h"

#define AUDIO_HEADROOM_PCT 5

void ladder_default(struct ladder *l)
{
    static const struct ladder_rung def[] = {
        { 360, 800000 }, { 480, 1400000 }, { 720, 2800000 },
        { 1080, 5000000 }, { 1440, 8000000 }, { 2160, 14000000 },
    };
    l->n = (int)(sizeof(def) / sizeof(def[0]));
    memcpy(l->rungs, def, sizeof(def));
}

static int parse_rate(const char *s, const char *end, int64_t *out)
{
    char buf[32];
    size_t n = (size_t)(end - s);
    if (!n || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *e;
    double v = strtod(buf, &e);
    if (e == buf)
        return -EINVAL;
    if (*e == 'k' || *e == 'K')
        v *= 1e3, e++;
    else if (*e == 'm' || *e == 'M')
        v *= 1e6, e++;
    if (*e || !(v >= 64e3 && v <= 200e6))
        return -EINVAL;
    *out = (int64_t)(v + 0.5);
    return 0;
}

static int cmp_rung(const void *a, const void *b)
{
    return ((const struct ladder_rung *)a)->height - ((const struct ladder_rung *)b)->height;
}

int ladder_parse(const char *spec, struct ladder *l)
{
    const char *p = spec;
    l->n = 0;
    if (!spec || !*spec)
        return -EINVAL;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        char *e;
        if (!colon || l->n == LADDER_MAX)
            return -EINVAL;
        long h = strtol(p, &e, 10);
        if (e != colon || h < 2 || h > 8640)
            return -EINVAL;
        if (parse_rate(colon + 1, end, &l->rungs[l->n].bit_rate) < 0)
            return -EINVAL;
        l->rungs[l->n++].height = (int)h;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return -EINVAL;
    }
    qsort(l->rungs, (size_t)l->n, sizeof(l->rungs[0]), cmp_rung);
    for (int i = 1; i < l->n; i++)
        if (l->rungs[i].height == l->rungs[i - 1].height)
            return -EINVAL;
    return 0;
}

int ladder_format(const struct ladder *l, char *buf, int size)
{
    int off = 0;
    if (size > 0)
        buf[0] = '\0';
    for (int i = 0; i < l->n; i++) {
        int n = snprintf(buf + off, (size_t)(size > off ? size - off : 0), "%s%d:%lld",
                         i ? "," : "", l->rungs[i].height,
                         (long long)l->rungs[i].bit_rate);
        if (n < 0 || n >= size - off)
            return -ENAMETOOLONG;
        off += n;
    }
    return off;
}

static int even(double v)
{
    int i = (int)(v / 2.0 + 0.5) * 2;
    return i < 2 ? 2 : i;
}

static void choose(int short_side, int64_t rate, int dw, int dh,
                   struct ladder_choice *c)
{
    c->height = short_side;
    c->bit_rate = rate;
    if (dw >= dh) {
        c->height_px = even(short_side);
        c->width_px = even((double)short_side * dw / dh);
    } else {
        c->width_px = even(short_side);
        c->height_px = even((double)short_side * dh / dw);
    }
}

int ladder_select(const struct ladder *l, int dw, int dh,
                  struct ladder_choice *out)
{
    int n = 0;
    if (dw <= 0 || dh <= 0 || l->n <= 0)
        return 0;
    int src_short = dw < dh ? dw : dh;
    for (int i = 0; i < l->n && n < LADDER_MAX; i++)
        if (l->rungs[i].height <= src_short) {
            choose(l->rungs[i].height, l->rungs[i].bit_rate, dw, dh, &out[n]);
            n += out[n].width_px <= LADDER_MAX_SIDE && out[n].height_px <= LADDER_MAX_SIDE;
        }
    if (src_short < l->rungs[0].height) {
        /* smaller than every rung: its own size, the lowest rung's bits
         * per pixel, never less than 64 kbit/s */
        const struct ladder_rung *low = &l->rungs[0];
        double scale = (double)src_short * src_short / ((double)low->height * low->height);
        int64_t rate = (int64_t)(low->bit_rate * scale);
        choose(src_short & ~1 ? src_short & ~1 : 2, rate < 64000 ? 64000 : rate,
               dw, dh, &out[n]);
        n += out[n].width_px <= LADDER_MAX_SIDE && out[n].height_px <= LADDER_MAX_SIDE;
    }
    return n;
}

uint64_t ladder_video_payload_bytes(int64_t bit_rate, int64_t duration_ms)
{
    return (uint64_t)((bit_rate * duration_ms + 7999) / 8000);
}

uint64_t ladder_audio_payload_bytes(int64_t bit_rate, int sample_rate, long frames)
{
    /* frames * 1024 / sample_rate seconds at bit_rate */
    return (uint64_t)((bit_rate * frames * 1024 + (int64_t)sample_rate * 8 - 1) /
                      ((int64_t)sample_rate * 8));
}

uint64_t ladder_video_segment_bytes(int64_t bit_rate, int64_t duration_ms,
                                    long frames)
{
    return tssize_h264_segment_bytes(ladder_video_payload_bytes(bit_rate, duration_ms),
                                     frames, duration_ms);
}

uint64_t ladder_audio_segment_bytes(int64_t bit_rate, int sample_rate, long frames)
{
    uint64_t f = frames > 0 ? (uint64_t)frames : 1;
    /* the AAC encoder's average lands within a few percent of its rate; a
     * short segment where loud sound follows silence can be up to 12 %
     * over, and is then encoded again at a lower rate (produce.c) */
    uint64_t aac = ladder_audio_payload_bytes(bit_rate, sample_rate, frames);
    return tssize_aac_segment_bytes(aac + aac * AUDIO_HEADROOM_PCT / 100, frames,
                                    (int64_t)(f * 1024 * 1000 / (uint64_t)sample_rate) + 1);
}
