/*
 * ladder: rendition ladder fitted to the source's rate, rung picture
 * sizes and segment byte bounds
 * (the elementary-stream budget of a rate; its MPEG-TS framing is
 * tssize.c's).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
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

int ladder_codec_cost_pct(const char *codec_name)
{
    static const struct {
        const char *name;
        int         pct;
    } costs[] = {
        { "h264", 100 }, { "hevc", 65 }, { "vp9", 65 }, { "av1", 50 },
        { "mpeg1video", 150 }, { "mpeg2video", 150 }, { "mpeg4", 150 },
        { "msmpeg4v1", 150 }, { "msmpeg4v2", 150 }, { "msmpeg4v3", 150 },
        { "h261", 150 }, { "h263", 150 }, { "h263p", 150 }, { "flv1", 150 },
        { "wmv1", 150 }, { "wmv2", 150 }, { "wmv3", 150 }, { "vc1", 150 },
        { "theora", 150 }, { "vp3", 150 }, { "vp6", 150 }, { "vp6f", 150 },
        { "rv10", 150 }, { "rv20", 150 },
    };
    for (size_t i = 0; codec_name && i < sizeof(costs) / sizeof(costs[0]); i++)
        if (!strcmp(codec_name, costs[i].name))
            return costs[i].pct;
    return 100;
}

/* The least a rung of w x h is planned at. */
static int64_t floor_bps(int w, int h)
{
    double share = (double)w * h / LADDER_FLOOR_PIXELS;
    double f = share >= 1 ? LADDER_FLOOR_BPS : LADDER_FLOOR_BPS * pow(share, LADDER_NEED_EXP);
    return f < LADDER_FLOOR_MIN_BPS ? LADDER_FLOOR_MIN_BPS : (int64_t)f;
}

int64_t ladder_rung_cap(const struct ladder_source *s, int w, int h)
{
    if (s->bit_rate <= 0 || s->display_w <= 0 || s->display_h <= 0)
        return INT64_MAX;
    int cost = s->cost_pct > 0 ? s->cost_pct : 100;
    double share = (double)w * h / ((double)s->display_w * s->display_h);
    double need = (double)s->bit_rate * 100.0 / cost * pow(share, LADDER_NEED_EXP) *
                  LADDER_NEED_MARGIN;
    int64_t fl = floor_bps(w, h);
    if (!(need < 1e15))
        return INT64_MAX;
    return need > (double)fl ? (int64_t)need : fl;
}

static int fits(const struct ladder_choice *c)
{
    return c->width_px <= LADDER_MAX_SIDE && c->height_px <= LADDER_MAX_SIDE;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int ladder_select(const struct ladder *l, const struct ladder_source *s,
                  struct ladder_choice *out)
{
    int64_t nominal[LADDER_MAX];
    int n = 0, dw = s->display_w, dh = s->display_h;
    if (dw <= 0 || dh <= 0 || l->n <= 0)
        return 0;
    int src_short = dw < dh ? dw : dh;
    for (int i = 0; i < l->n && n < LADDER_MAX; i++)
        if (l->rungs[i].height <= src_short) {
            choose(l->rungs[i].height, l->rungs[i].bit_rate, dw, dh, &out[n]);
            n += fits(&out[n]);
        }
    if (src_short < l->rungs[0].height) {
        /* smaller than every rung: its own size, the lowest rung's bits
         * per pixel, never less than 64 kbit/s */
        const struct ladder_rung *low = &l->rungs[0];
        double scale = (double)src_short * src_short / ((double)low->height * low->height);
        int64_t rate = (int64_t)(low->bit_rate * scale);
        choose(src_short & ~1 ? src_short & ~1 : 2, rate < 64000 ? 64000 : rate,
               dw, dh, &out[n]);
        n += fits(&out[n]);
    }

    /* no more than the source needs; from the largest down, a rung no
     * cheaper than the one above it is left out */
    int kept = 0;
    for (int i = n - 1; i >= 0; i--) {
        struct ladder_choice c = out[i];
        int64_t own = c.bit_rate;
        c.bit_rate = min64(own, ladder_rung_cap(s, c.width_px, c.height_px));
        if (kept && c.bit_rate >= out[n - kept].bit_rate)
            continue;
        kept++;
        out[n - kept] = c;
        nominal[n - kept] = own;
    }
    memmove(out, out + n - kept, (size_t)kept * sizeof(*out));
    memmove(nominal, nominal + n - kept, (size_t)kept * sizeof(*nominal));
    n = kept;

    /* two renditions at least, one of them for cellular */
    int64_t cell_rate = ladder_cellular_rate(s->fps);
    int cellular = n > 0 && out[0].bit_rate <= cell_rate;
    if (n > 0 && n < LADDER_MAX && (n + (s->original != 0) < 2 || !cellular)) {
        struct ladder_choice c;
        int half = (out[0].height / 2) & ~1;
        if (half >= 2) {
            choose(half, 0, dw, dh, &c);
            double share = (double)c.width_px * c.height_px /
                           ((double)out[0].width_px * out[0].height_px);
            c.bit_rate = min64((int64_t)(nominal[0] * share),
                               ladder_rung_cap(s, c.width_px, c.height_px));
            if (!cellular)
                c.bit_rate = min64(c.bit_rate, cell_rate);
            if (c.bit_rate >= out[0].bit_rate)
                c.bit_rate = out[0].bit_rate * 3 / 4;
            if (fits(&c) && c.bit_rate > 0) {
                memmove(out + 1, out, (size_t)n * sizeof(*out));
                out[0] = c;
                n++;
            }
        }
    }
    return n;
}

int64_t ladder_cellular_rate(double fps)
{
    const int64_t ms = 6000;
    long frames = (long)ceil((fps > 0 && fps < 1000 ? fps : 30) * 6);
    long aframes = (long)(48000 * 6 / 1024) + 1;
    uint64_t audio = ladder_audio_segment_bytes(LADDER_CELLULAR_AUDIO_BPS, 48000, aframes);
    int64_t lo = LADDER_FLOOR_MIN_BPS, hi = LADDER_CELLULAR_BPS;
    /* the most whose muxed bytes and the audio's stay under the line */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        uint64_t video = tssize_h264_segment_bytes(ladder_video_payload_bytes(mid, ms),
                                                   frames, ms);
        if ((video + audio) * 8000 / (uint64_t)ms < LADDER_CELLULAR_BPS)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
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
