/*
 * record: a title to bytes and back (the title record of record.h).
 *
 * Each stored field is one row of a table (title_fields, rend_fields):
 * its type and where it lives in the struct. record_write and record_read
 * walk the same rows, so the two directions cannot drift apart. Every
 * number is stored as 8 bytes; text as a u32 length and its bytes; the
 * per-segment arrays as nseg + 1 or nseg numbers. A joined source's
 * re-timing follows the renditions, only when it has one (the tag
 * RECORD_TIMELINE_TAG, the count, then at and delta of each part), so a
 * record of any other title is what it was before parts existed. Text
 * subtitle tracks follow the same way (RECORD_SUBS_TAG, the count, then
 * each track's language, name, flags and cues: start, end, text), and
 * the stamp of the sidecar files read (RECORD_SIDECARS_TAG, the stamp)
 * when there were any, and the source's keyframe bytes of each segment
 * (RECORD_KEYS_TAG, the pixels, then nseg numbers) when they are known.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>

#include "hlsfs/hls.h"
#include "hlsfs/record.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/title.h"

/* limits a record must keep to be read */
#define RECORD_NSEG_MAX  10000000
#define RECORD_RENDS_MAX 256
#define RECORD_ERROR_MAX 512
#define RECORD_BLOB_MAX  (1 << 20)
#define RECORD_TIMELINE_TAG 0x314c4d4954ll      /* "TIML1" */
#define RECORD_SUBS_TAG     0x3153425553ll        /* "SUBS1" */
#define RECORD_SUBS_MAX     SUBTITLE_TRACKS_MAX
#define RECORD_SIDECARS_TAG 0x3145444953ll        /* "SIDE1" */
#define RECORD_KEYS_TAG     0x3153594545ll        /* "KEYS1" */

enum field_type {
    F_I64,          /* int64_t                                        */
    F_INT,          /* int                                            */
    F_LONG,         /* long                                           */
    F_MICRO,        /* double, stored in millionths                   */
    F_KIND,         /* enum rend_kind: REND_AUDIO, anything else video */
    F_MODE,         /* the mode: REND_ENCODE, anything else copy      */
    F_TEXT,         /* char[size], NUL-terminated                     */
    F_EDGES,        /* int64_t *, nseg + 1 (allocated on reading)     */
    F_SIZES,        /* uint64_t *, nseg (allocated on reading)        */
    F_BLOB,         /* struct title_blob: a u32 length and its bytes  */
};

struct field {
    enum field_type type;
    size_t          off, size;
};

#define FIELD(type, s, m) { type, offsetof(s, m), sizeof(((s *)0)->m) }
#define T(type, m) FIELD(type, struct title, m)
#define R(type, m) FIELD(type, struct title_rendition, m)

/* after the key and the error text; nrends is how many renditions follow */
static const struct field title_fields[] = {
    T(F_INT, tb.num), T(F_INT, tb.den), T(F_LONG, nseg), T(F_MICRO, frame_rate),
    T(F_INT, nrends), T(F_EDGES, bounds), T(F_INT, format),
};

static const struct field rend_fields[] = {
    R(F_KIND, kind),         R(F_MODE, mode),        R(F_I64, bit_rate),
    R(F_INT, rotation),      R(F_TEXT, name),        R(F_INT, src_index),
    R(F_INT, tb.num),        R(F_INT, tb.den),       R(F_INT, ps_bound),
    R(F_INT, length_size),   R(F_INT, key_by_pts),   R(F_I64, dts_shift),
    R(F_INT, width),         R(F_INT, height),       R(F_INT, channels),
    R(F_INT, is_default),    R(F_TEXT, codecs),      R(F_TEXT, language),
    R(F_TEXT, label),        R(F_EDGES, range),      R(F_SIZES, sizes),
    R(F_INT, filters),
    R(F_TEXT, video_range),  R(F_BLOB, init),
};

/* the mode's enum is read and written as an int */
_Static_assert(sizeof(((struct title_rendition *)0)->mode) == sizeof(int),
               "a rendition's mode is an int");

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- writing ------------------------------------------------------------ */

struct wbuf { uint8_t *p; size_t len, cap; int err; };

static void put(struct wbuf *w, const void *data, size_t n)
{
    if (w->err)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np) {
            w->err = -ENOMEM;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put_i64(struct wbuf *w, int64_t v)
{
    uint8_t b[8];
    AV_WL64(b, (uint64_t)v);
    put(w, b, 8);
}

static void put_text(struct wbuf *w, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    uint8_t b[4];
    AV_WL32(b, n);
    put(w, b, 4);
    put(w, s ? s : "", n);
}

static void put_fields(struct wbuf *w, const struct field *f, size_t n,
                       const void *base, long nseg)
{
    const char *b = base;
    for (size_t i = 0; i < n; i++) {
        const void *at = b + f[i].off;
        switch (f[i].type) {
        case F_I64:   put_i64(w, *(const int64_t *)at); break;
        case F_INT:   put_i64(w, *(const int *)at); break;
        case F_LONG:  put_i64(w, *(const long *)at); break;
        case F_MICRO: put_i64(w, llround(*(const double *)at * 1e6)); break;
        case F_KIND:  put_i64(w, *(const enum rend_kind *)at); break;
        case F_MODE:  put_i64(w, *(const int *)at); break;
        case F_TEXT:  put_text(w, at); break;
        case F_EDGES: {
            const int64_t *v = *(int64_t *const *)at;
            for (long k = 0; v && k <= nseg; k++)
                put_i64(w, v[k]);
            break;
        }
        case F_SIZES: {
            const uint64_t *v = *(uint64_t *const *)at;
            for (long k = 0; v && k < nseg; k++)
                put_i64(w, (int64_t)v[k]);
            break;
        }
        case F_BLOB: {
            const struct title_blob *v = at;
            uint8_t lenb[4];
            AV_WL32(lenb, (uint32_t)v->len);
            put(w, lenb, 4);
            if (v->len)
                put(w, v->data, v->len);
            break;
        }
        }
    }
}

static void put_subs(struct wbuf *w, const struct title *t)
{
    put_i64(w, RECORD_SUBS_TAG);
    put_i64(w, t->nsubs);
    for (int i = 0; i < t->nsubs; i++) {
        const struct subtitle_track *s = t->subs[i];
        put_text(w, s->language);
        put_text(w, s->name);
        put_i64(w, s->forced);
        put_i64(w, s->is_default);
        put_i64(w, s->sdh);
        put_i64(w, (int64_t)s->ncues);
        for (size_t k = 0; k < s->ncues; k++) {
            put_i64(w, s->cues[k].start_ms);
            put_i64(w, s->cues[k].end_ms);
            put_text(w, s->cues[k].text);
        }
    }
}

int record_write(const struct title *t, uint8_t **buf, size_t *len)
{
    struct wbuf w = { 0 };
    put(&w, &t->key, sizeof(t->key));
    put_text(&w, t->error);
    put_fields(&w, title_fields, NFIELDS(title_fields), t, t->nseg);
    for (int k = 0; k < t->nrends; k++)
        put_fields(&w, rend_fields, NFIELDS(rend_fields), &t->rends[k], t->nseg);
    if (!t->error && t->timeline.n > 0) {
        put_i64(&w, RECORD_TIMELINE_TAG);
        put_i64(&w, t->timeline.n);
        for (int k = 0; k < t->timeline.n; k++) {
            put_i64(&w, t->timeline.jump[k].at_us);
            put_i64(&w, t->timeline.jump[k].delta_us);
        }
    }
    if (!t->error && t->nsubs > 0)
        put_subs(&w, t);
    if (!t->error && t->sidecar_stamp) {
        put_i64(&w, RECORD_SIDECARS_TAG);
        put_i64(&w, (int64_t)t->sidecar_stamp);
    }
    if (!t->error && t->key_bytes && t->key_px > 0) {
        put_i64(&w, RECORD_KEYS_TAG);
        put_i64(&w, t->key_px);
        for (long k = 0; k < t->nseg; k++)
            put_i64(&w, (int64_t)t->key_bytes[k]);
    }
    if (w.err) {
        free(w.p);
        return w.err;
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

struct rbuf { const uint8_t *p; size_t len, pos; int err; };

static int64_t get_i64(struct rbuf *r)
{
    if (r->err || r->len - r->pos < 8) {
        r->err = r->err ? r->err : -EINVAL;
        return 0;
    }
    int64_t v = (int64_t)AV_RL64(r->p + r->pos);
    r->pos += 8;
    return v;
}

static void get_text(struct rbuf *r, char *out, size_t size)
{
    uint32_t n;
    if (r->err || r->len - r->pos < 4) {
        r->err = r->err ? r->err : -EINVAL;
        return;
    }
    n = AV_RL32(r->p + r->pos);
    r->pos += 4;
    if (r->len - r->pos < n || n >= size) {
        r->err = -EINVAL;
        return;
    }
    memcpy(out, r->p + r->pos, n);
    out[n] = '\0';
    r->pos += n;
}

/* An array of n numbers, allocated here (its owner is the struct read). */
static void *get_array(struct rbuf *r, long nseg, size_t n)
{
    if (r->err)
        return NULL;
    if (nseg < 1 || nseg > RECORD_NSEG_MAX) {
        r->err = -EINVAL;
        return NULL;
    }
    int64_t *v = malloc(n * sizeof(*v));
    if (!v) {
        r->err = -ENOMEM;
        return NULL;
    }
    for (size_t k = 0; k < n; k++)
        v[k] = get_i64(r);
    return v;
}

/* A blob, allocated here (its owner is the struct read). */
static void get_blob(struct rbuf *r, struct title_blob *out)
{
    uint32_t n;
    if (r->err || r->len - r->pos < 4) {
        r->err = r->err ? r->err : -EINVAL;
        return;
    }
    n = AV_RL32(r->p + r->pos);
    r->pos += 4;
    if (r->len - r->pos < n || n > RECORD_BLOB_MAX) {
        r->err = -EINVAL;
        return;
    }
    if (n && !(out->data = malloc(n))) {
        r->err = -ENOMEM;
        return;
    }
    if (n)
        memcpy(out->data, r->p + r->pos, n);
    out->len = n;
    r->pos += n;
}

static void get_fields(struct rbuf *r, const struct field *f, size_t n,
                       void *base, const long *nseg)
{
    char *b = base;
    for (size_t i = 0; i < n && !r->err; i++) {
        void *at = b + f[i].off;
        switch (f[i].type) {
        case F_I64:   *(int64_t *)at = get_i64(r); break;
        case F_INT: {
            int64_t v = get_i64(r);
            if (v < INT_MIN || v > INT_MAX)
                r->err = -EINVAL;
            *(int *)at = (int)v;
            break;
        }
        case F_LONG:  *(long *)at = (long)get_i64(r); break;
        case F_MICRO: *(double *)at = (double)get_i64(r) / 1e6; break;
        case F_KIND:
            *(enum rend_kind *)at = get_i64(r) == REND_AUDIO ? REND_AUDIO : REND_VIDEO;
            break;
        case F_MODE:
            *(int *)at = get_i64(r) == REND_ENCODE ? REND_ENCODE : REND_COPY;
            break;
        case F_TEXT:  get_text(r, at, f[i].size); break;
        case F_EDGES: *(int64_t **)at = get_array(r, *nseg, (size_t)*nseg + 1); break;
        case F_SIZES: *(uint64_t **)at = get_array(r, *nseg, (size_t)*nseg); break;
        case F_BLOB:  get_blob(r, at); break;
        }
    }
}

/* The subtitle tracks after RECORD_SUBS_TAG, into t. */
static void get_subs(struct rbuf *r, struct title *t)
{
    int64_t n = get_i64(r);
    char text[SUBTITLE_TEXT_MAX + 1];
    if (r->err || n < 1 || n > RECORD_SUBS_MAX || !(t->subs = calloc((size_t)n, sizeof(*t->subs)))) {
        r->err = r->err ? r->err : n < 1 || n > RECORD_SUBS_MAX ? -EINVAL : -ENOMEM;
        return;
    }
    for (int64_t i = 0; i < n && !r->err; i++) {
        struct subtitle_track *s = subtitle_track_new();
        if (!s) {
            r->err = -ENOMEM;
            return;
        }
        t->subs[t->nsubs++] = s;
        get_text(r, s->language, sizeof(s->language));
        get_text(r, s->name, sizeof(s->name));
        s->forced = get_i64(r) != 0;
        s->is_default = get_i64(r) != 0;
        s->sdh = get_i64(r) != 0;
        int64_t ncues = get_i64(r);
        if (ncues < 0 || ncues > SUBTITLE_CUES_MAX)
            r->err = r->err ? r->err : -EINVAL;
        for (int64_t k = 0; k < ncues && !r->err; k++) {
            int64_t start = get_i64(r), end = get_i64(r);
            get_text(r, text, sizeof(text));
            if (!r->err && (end <= start || !text[0]))
                r->err = -EINVAL;
            if (!r->err && subtitle_track_add(s, start, end, text) < 0)
                r->err = -ENOMEM;
        }
    }
}

int record_read(const uint8_t *buf, size_t len, struct title **out)
{
    struct rbuf r = { buf, len, 0, 0 };
    struct title_key key;
    char error[RECORD_ERROR_MAX];
    struct title *t;
    int ret;

    *out = NULL;
    if (len < sizeof(key))
        return -EINVAL;
    memcpy(&key, buf, sizeof(key));
    if (memcmp(key.magic, "HTI", 3) || key.magic[3] != TITLE_RECORD_VERSION)
        return -EINVAL;             /* another version's layout */
    r.pos = sizeof(key);
    get_text(&r, error, sizeof(error));
    if (r.err)
        return r.err;
    if (*error) {
        error[strcspn(error, "\n")] = '\0';
        return title_build_error(&key, error, out);
    }
    if (!(t = calloc(1, sizeof(*t))))
        return -ENOMEM;
    t->key = key;
    get_fields(&r, title_fields, NFIELDS(title_fields), t, &t->nseg);
    /* the renditions are counted as they are read: title_free sees those */
    int nrends = t->nrends;
    t->nrends = 0;
    if (r.err || nrends < 1 || nrends > RECORD_RENDS_MAX ||
        t->tb.num <= 0 || t->tb.den <= 0 ||
        (t->format != TITLE_FORMAT_TS && t->format != TITLE_FORMAT_FMP4)) {
        ret = r.err == -ENOMEM ? -ENOMEM : -EINVAL;
        goto fail;
    }
    if (!(t->rends = calloc((size_t)nrends, sizeof(*t->rends)))) {
        ret = -ENOMEM;
        goto fail;
    }
    for (int k = 0; k < nrends && !r.err; k++) {
        struct title_rendition *rd = &t->rends[t->nrends++];
        get_fields(&r, rend_fields, NFIELDS(rend_fields), rd, &t->nseg);
        if (!r.err && (rd->tb.num <= 0 || rd->tb.den <= 0))
            r.err = -EINVAL;
    }
    int64_t tag = !r.err && r.pos != len ? get_i64(&r) : 0;
    if (tag == RECORD_TIMELINE_TAG) {
        int64_t n = get_i64(&r);
        if (n < 1 || n > TIMELINE_JUMPS_MAX)
            r.err = r.err ? r.err : -EINVAL;
        for (int64_t k = 0; k < n && !r.err; k++) {
            t->timeline.jump[k].at_us = get_i64(&r);
            t->timeline.jump[k].delta_us = get_i64(&r);
        }
        t->timeline.n = r.err ? 0 : (int)n;
        tag = !r.err && r.pos != len ? get_i64(&r) : 0;
    }
    if (tag == RECORD_SUBS_TAG) {
        get_subs(&r, t);
        tag = !r.err && r.pos != len ? get_i64(&r) : 0;
    }
    if (tag == RECORD_SIDECARS_TAG) {
        t->sidecar_stamp = (uint64_t)get_i64(&r);
        if (!t->sidecar_stamp)
            r.err = r.err ? r.err : -EINVAL;
        tag = !r.err && r.pos != len ? get_i64(&r) : 0;
    }
    if (tag == RECORD_KEYS_TAG) {
        t->key_px = get_i64(&r);
        if (t->key_px <= 0)
            r.err = r.err ? r.err : -EINVAL;
        t->key_bytes = get_array(&r, t->nseg, (size_t)t->nseg);
    } else if (tag) {
        r.err = r.err ? r.err : -EINVAL;
    }
    if (r.err || r.pos != len) {
        ret = r.err == -ENOMEM ? -ENOMEM : -EINVAL;
        goto fail;
    }
    if ((ret = hls_make_playlists(t)) < 0)
        goto fail;
    *out = t;
    return 0;
fail:
    title_free(&t);
    return ret;
}
