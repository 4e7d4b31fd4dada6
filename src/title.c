/*
 * title: from a probe to a servable title, and back and forth from bytes.
 *
 * The plan (plan.c) cuts the video at keyframes; every rendition uses the
 * same cuts. A copied rendition's segment i holds that stream's packets
 * whose dts lies in [range[i], range[i + 1]). Its exact size is found by
 * muxing, with the very muxer that will make the segment, stand-in packets
 * of each real packet's largest possible size (the muxer and the Annex B
 * filter may add an access unit delimiter and parameter sets). The real
 * segment is never larger and is padded up to that size.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>

#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/plan.h"
#include "hlsfs/playlist.h"
#include "hlsfs/probe.h"
#include "hlsfs/title.h"

#define TITLE_RECORD_VERSION '7'
#define AUD_BYTES 6             /* access unit delimiter the muxer adds */

static uint64_t options_hash(const struct title_options *o)
{
    char text[512], ladder[400];
    uint64_t h = 1469598103934665603ull;
    ladder_format(&o->ladder, ladder, sizeof(ladder));
    snprintf(text, sizeof(text), "ladder=%s;preset=%s;threads=%d;aac=%lld@%d",
             ladder, o->video.preset, o->video.threads,
             (long long)o->audio_bit_rate, o->audio_sample_rate);
    for (const char *c = text; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

void title_make_key(struct title_key *key, const struct stat *st,
                    const struct title_options *o)
{
    double segment_time = o->segment_time;
    memset(key, 0, sizeof(*key));
    memcpy(key->magic, "HTI", 3);
    key->magic[3] = TITLE_RECORD_VERSION;
    key->dev = st->st_dev;
    key->ino = st->st_ino;
    key->size = (uint64_t)st->st_size;
    key->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    key->segment_ms = (uint32_t)llround(segment_time * 1000);
    key->options_hash = options_hash(o);
}

/* ---- codec strings and labels ---------------------------------------- */

static void h264_codecs(const AVCodecParameters *par, char *out, size_t size)
{
    const uint8_t *x = par->extradata;
    int n = par->extradata_size;
    snprintf(out, size, "avc1.640028");     /* when nothing better is known */
    if (n >= 4 && x[0] == 1) {
        snprintf(out, size, "avc1.%02x%02x%02x", x[1], x[2], x[3]);
        return;
    }
    for (int i = 0; i + 7 < n; i++)         /* Annex B: find the SPS */
        if (x[i] == 0 && x[i + 1] == 0 && x[i + 2] == 1 && (x[i + 3] & 0x1f) == 7) {
            snprintf(out, size, "avc1.%02x%02x%02x", x[i + 4], x[i + 5], x[i + 6]);
            return;
        }
}

/* ISO 639-2 (as containers store it) to the RFC 5646 tag HLS wants. */
static const char *language_tag(const char *lang)
{
    static const char *const map[][2] = {
        { "eng", "en" }, { "fra", "fr" }, { "fre", "fr" }, { "deu", "de" },
        { "ger", "de" }, { "spa", "es" }, { "ita", "it" }, { "por", "pt" },
        { "rus", "ru" }, { "jpn", "ja" }, { "zho", "zh" }, { "chi", "zh" },
        { "kor", "ko" }, { "nld", "nl" }, { "dut", "nl" }, { "swe", "sv" },
        { "nor", "no" }, { "dan", "da" }, { "fin", "fi" }, { "pol", "pl" },
        { "tur", "tr" }, { "ara", "ar" }, { "hin", "hi" }, { "ces", "cs" },
        { "cze", "cs" }, { "ell", "el" }, { "gre", "el" }, { "heb", "he" },
        { "hun", "hu" }, { "ukr", "uk" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(lang, map[i][0]))
            return map[i][1];
    return lang;
}

/* ---- sizes ------------------------------------------------------------ */

/* Bytes of Annex B parameter sets the Annex B filter or the muxer may put
 * before a keyframe, and the AVCC NAL length size (0 for Annex B). */
static int h264_insert_bound(const AVCodecParameters *par, int *length_size)
{
    *length_size = 0;
    if (par->extradata_size < 7 || par->extradata[0] != 1)
        return par->extradata_size;          /* Annex B: extradata as is */
    *length_size = (par->extradata[4] & 3) + 1;
    const AVBitStreamFilter *f = av_bsf_get_by_name("h264_mp4toannexb");
    AVBSFContext *bsf = NULL;
    int bound = -1;
    if (f && av_bsf_alloc(f, &bsf) >= 0 &&
        avcodec_parameters_copy(bsf->par_in, par) >= 0 && av_bsf_init(bsf) >= 0)
        bound = bsf->par_out->extradata_size;
    av_bsf_free(&bsf);
    return bound;
}

static uint64_t video_packet_bound(const struct title_rendition *r,
                                   const struct probe_packet *pk)
{
    uint64_t b = (uint64_t)pk->size + AUD_BYTES;
    if (pk->flags & PROBE_PKT_KEY)
        b += (uint64_t)r->ps_bound;
    if (r->length_size && r->length_size < 4)   /* start codes outgrow lengths */
        b += (uint64_t)(4 - r->length_size) * (pk->size / (r->length_size + 1) + 1);
    return b;
}

/* Which segment a dts falls in, or -1. */
static long segment_of(const int64_t *range, long nseg, int64_t dts)
{
    long lo = 0, hi = nseg;                  /* range[lo] <= dts < range[hi] */
    if (dts < range[0] || dts >= range[nseg])
        return -1;
    while (hi - lo > 1) {
        long mid = lo + (hi - lo) / 2;
        if (range[mid] <= dts)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Segment of every packet (-1: none), in decode order. */
static void assign_segments(const struct title_rendition *r, long nseg,
                            const struct probe_stream *s, long *seg)
{
    long cur = -1;
    for (size_t i = 0; i < s->npkts; i++) {
        const struct probe_packet *pk = &s->pkts[i];
        if (!r->key_by_pts) {
            /* decode times rise: the segment of the previous packet or
             * the next one, mostly; a search otherwise */
            long p = i ? seg[i - 1] : -1;
            if (p >= 0 && pk->dts >= r->range[p] && pk->dts < r->range[p + 1])
                seg[i] = p;
            else if (p + 1 < nseg && pk->dts >= r->range[p + 1] && pk->dts < r->range[p + 2])
                seg[i] = p + 1;
            else
                seg[i] = segment_of(r->range, nseg, pk->dts);
            continue;
        }
        if ((pk->flags & PROBE_PKT_KEY) && cur + 1 < nseg && pk->pts == r->range[cur + 1])
            cur++;
        seg[i] = cur;
    }
}

/* Presentation times of one segment's packets, for decode-time synthesis. */
static void segment_pts(const struct probe_stream *s, const size_t *order,
                        size_t from, size_t to, int64_t *pts)
{
    for (size_t k = from; k < to; k++)
        pts[k - from] = s->pkts[order[k]].pts;
}

/* Sizes of the copied video, in closed form: the muxer writes each frame
 * as one PES, so a segment takes at most its tables plus, for every
 * packet, the TS bytes of one PES of that packet's largest Annex B size
 * (ladder_ts_pes_bytes) and, for a keyframe, the PAT and PMT the muxer
 * repeats before it. For Matroska-style streams (keyframes by pts) it
 * also finds the decode-time shift the remuxer applies. */
static int plan_sizes(struct title_rendition *r, const struct title *t,
                      const struct probe_stream *s)
{
    size_t n = s->npkts;
    long nseg = t->nseg;
    long *seg = malloc((n ? n : 1) * sizeof(*seg));
    int64_t *pts = NULL;
    size_t *start = NULL, *order = NULL;
    int ret = 0;

    if (!seg)
        return -ENOMEM;
    assign_segments(r, nseg, s, seg);
    for (long i = 0; i < nseg; i++)
        r->sizes[i] = ladder_ts_table_bytes(title_segment_ms(t, i));
    for (size_t i = 0; i < n; i++)
        if (seg[i] >= 0)
            r->sizes[seg[i]] += ladder_ts_pes_bytes(video_packet_bound(r, &s->pkts[i])) +
                                (s->pkts[i].flags & PROBE_PKT_KEY ? ladder_ts_keyframe_bytes() : 0);
    if (!r->key_by_pts)
        goto done;

    /* bucket packets by segment, keeping decode order inside each */
    start = calloc((size_t)nseg + 1, sizeof(*start));
    order = malloc((n ? n : 1) * sizeof(*order));
    pts = malloc((n ? n : 1) * sizeof(*pts));
    if (!start || !order || !pts) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (seg[i] >= 0)
            start[seg[i] + 1]++;
    for (long i = 0; i < nseg; i++)
        start[i + 1] += start[i];
    {
        size_t *fillpos = malloc(((size_t)nseg + 1) * sizeof(*fillpos));
        if (!fillpos) {
            ret = -ENOMEM;
            goto done;
        }
        memcpy(fillpos, start, ((size_t)nseg + 1) * sizeof(*fillpos));
        for (size_t i = 0; i < n; i++)
            if (seg[i] >= 0)
                order[fillpos[seg[i]]++] = i;
        free(fillpos);
    }
    r->dts_shift = 0;
    for (long i = 0; i < nseg; i++) {
        int64_t shift;
        segment_pts(s, order, start[i], start[i + 1], pts);
        if ((ret = mux_dts_shift(pts, start[i + 1] - start[i], &shift)) < 0) {
            ret = -EIO;
            goto done;
        }
        if (shift > r->dts_shift)
            r->dts_shift = shift;
    }
done:
    free(seg);
    free(start);
    free(order);
    free(pts);
    return ret;
}

/* ---- building ----------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sort timestamps that are sorted already, or nearly (presentation times
 * in decode order are out of order by a few frames at most): insertion
 * sort while it stays cheap, qsort otherwise. */
static void sort_timestamps(int64_t *v, size_t n)
{
    size_t moves = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
            if (++moves > 16 * n) {
                qsort(v, n, sizeof(*v), cmp_i64);
                return;
            }
        }
        v[j] = x;
    }
}

/* The k-th smallest of v[0..n) (v is reordered): quickselect. */
static int64_t select_kth(int64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                int64_t t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* FRAME-RATE: the container's average or libavformat's base rate when one
 * is within 5 % of the rate of the typical (median) step between
 * timestamps (they are exact where timestamps are rounded, and some
 * containers report a bogus average); else the mean rate of the frames. */
static double frame_rate(const struct probe_stream *v, size_t from)
{
    size_t n = v->npkts - from, k = 0;
    int64_t *ts = malloc((n ? n : 1) * sizeof(*ts));
    double step_rate = 0, mean_rate = 0, tb = av_q2d(v->tb);
    if (!ts)
        return 0;
    int all_pts = 1;        /* a sample table gives decode times only */
    for (size_t i = from; i < v->npkts; i++)
        all_pts &= v->pkts[i].pts != AV_NOPTS_VALUE;
    for (size_t i = from; i < v->npkts; i++)
        ts[i - from] = all_pts ? v->pkts[i].pts : v->pkts[i].dts;
    sort_timestamps(ts, n);
    if (n > 1 && ts[n - 1] > ts[0])
        mean_rate = (double)(n - 1) / ((double)(ts[n - 1] - ts[0]) * tb);
    for (size_t i = 1; i < n; i++)
        if (ts[i] > ts[i - 1])
            ts[k++] = ts[i] - ts[i - 1];
    if (k)
        step_rate = 1.0 / ((double)select_kth(ts, k, k / 2) * tb);
    free(ts);
    const AVRational cand[2] = { v->avg_rate, v->r_rate };
    for (int i = 0; i < 2; i++)
        if (cand[i].num > 0 && cand[i].den > 0 &&
            (step_rate <= 0 || fabs(av_q2d(cand[i]) - step_rate) <= step_rate * 0.05))
            return av_q2d(cand[i]);
    return mean_rate > 0 ? mean_rate : step_rate;
}

static struct title *title_alloc(const struct title_key *key)
{
    struct title *t = calloc(1, sizeof(*t));
    if (t)
        t->key = *key;
    return t;
}

static int set_error_text(struct title *t, const char *reason)
{
    size_t n = strlen(reason);
    if (!(t->error = malloc(n + 2)))
        return -ENOMEM;
    memcpy(t->error, reason, n);
    t->error[n] = '\n';
    t->error[n + 1] = '\0';
    t->error_len = n + 1;
    return 0;
}

int64_t title_jump(const struct title *t, AVRational tb)
{
    return av_rescale_q(llround(TITLE_JUMP_S(t->key.segment_ms / 1000.0) * 1000),
                        (AVRational){ 1, 1000 }, tb);
}

int64_t title_segment_ms(const struct title *t, long i)
{
    return plan_ms(t->bounds[i], t->bounds[i + 1], t->tb.num, t->tb.den);
}

static void rendition_rates(struct title *t, struct title_rendition *r)
{
    uint64_t total = 0;
    int64_t total_ms = 0;
    r->peak_bps = 0;
    for (long i = 0; i < t->nseg; i++) {
        int64_t ms = title_segment_ms(t, i);
        total += r->sizes[i];
        total_ms += ms;
        if (ms > 0) {
            uint64_t bps = (r->sizes[i] * 8000 + (uint64_t)ms - 1) / (uint64_t)ms;
            if (bps > r->peak_bps)
                r->peak_bps = bps;
        }
    }
    r->avg_bps = total_ms > 0 ? (total * 8000 + (uint64_t)total_ms - 1) / (uint64_t)total_ms : 0;
}

/* Playlists are derived text: made after building and after reading. */
static int make_playlists(struct title *t)
{
    int64_t *ms = malloc((size_t)t->nseg * sizeof(*ms));
    struct playlist_audio audios[64];
    struct playlist_variant variants[8];
    char uris[72][VPATH_NAME_MAX + 32];
    int naudio = 0, nvideo = 0, default_done = 0;
    uint64_t audio_peak = 0, audio_avg = 0;
    char codecs[8][80];

    if (!ms)
        return -ENOMEM;
    if (!(t->start_ms = malloc(((size_t)t->nseg + 1) * sizeof(*t->start_ms)))) {
        free(ms);
        return -ENOMEM;
    }
    t->start_ms[0] = 0;
    for (long i = 0; i < t->nseg; i++) {
        ms[i] = title_segment_ms(t, i);
        t->start_ms[i + 1] = t->start_ms[i] + ms[i];
    }
    for (int i = 0; i < t->nrends; i++) {
        struct title_rendition *r = &t->rends[i];
        rendition_rates(t, r);
        if (!(r->playlist = playlist_media(ms, t->nseg))) {
            free(ms);
            return -ENOMEM;
        }
        r->playlist_len = strlen(r->playlist);
    }
    free(ms);

    for (int i = 0; i < t->nrends && naudio < 64; i++) {
        struct title_rendition *r = &t->rends[i];
        if (r->kind != REND_AUDIO)
            continue;
        snprintf(uris[naudio], sizeof(uris[0]), "audio/%s/index.m3u8", r->name);
        int is_default = r->is_default && !default_done;
        default_done |= is_default;
        audios[naudio] = (struct playlist_audio){
            .group = "audio", .language = r->language, .name = r->label,
            .is_default = is_default, .channels = r->channels, .uri = uris[naudio],
        };
        naudio++;
        if (r->peak_bps > audio_peak)
            audio_peak = r->peak_bps;
        if (r->avg_bps > audio_avg)
            audio_avg = r->avg_bps;
    }
    if (naudio && !default_done)
        audios[0].is_default = 1;
    const char *audio_codecs = NULL;
    for (int i = 0; i < t->nrends; i++)
        if (t->rends[i].kind == REND_AUDIO) {
            audio_codecs = t->rends[i].codecs;
            break;
        }
    for (int i = 0; i < t->nrends && nvideo < 8; i++) {
        struct title_rendition *r = &t->rends[i];
        if (r->kind != REND_VIDEO)
            continue;
        snprintf(uris[64 + nvideo], sizeof(uris[0]), "video/%s/index.m3u8", r->name);
        if (audio_codecs)
            snprintf(codecs[nvideo], sizeof(codecs[0]), "%s,%s", r->codecs, audio_codecs);
        else
            snprintf(codecs[nvideo], sizeof(codecs[0]), "%s", r->codecs);
        variants[nvideo] = (struct playlist_variant){
            .bandwidth = r->peak_bps + audio_peak,
            .avg_bandwidth = r->avg_bps + audio_avg,
            .width = r->width, .height = r->height, .frame_rate = t->frame_rate,
            .codecs = codecs[nvideo], .audio_group = naudio ? "audio" : NULL,
            .uri = uris[64 + nvideo],
        };
        nvideo++;
    }
    if (!(t->master = playlist_master(variants, nvideo, audios, naudio)))
        return -ENOMEM;
    t->master_len = strlen(t->master);
    return 0;
}

static int init_rendition(struct title_rendition *r, long nseg)
{
    r->range = calloc((size_t)nseg + 1, sizeof(*r->range));
    r->sizes = calloc((size_t)nseg ? (size_t)nseg : 1, sizeof(*r->sizes));
    return r->range && r->sizes ? 0 : -ENOMEM;
}

static struct title_rendition *new_rendition(struct title *t, enum rend_kind kind,
                                             int mode, int src_index, AVRational tb)
{
    struct title_rendition *r = &t->rends[t->nrends];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->mode = mode;
    r->src_index = src_index;
    r->tb = tb;
    if (init_rendition(r, t->nseg) < 0)
        return NULL;
    t->nrends++;
    return r;
}

/* Where each video segment starts: its cut keyframe's dts (or pts). */
static void video_ranges(struct title_rendition *r, const struct title *t,
                         const struct probe_stream *v, const size_t *key_pkt,
                         const size_t *cuts)
{
    r->key_by_pts = v->no_dts;
    for (long i = 0; i < t->nseg; i++)
        r->range[i] = r->key_by_pts ? v->pkts[key_pkt[cuts[i]]].pts
                                    : v->pkts[key_pkt[cuts[i]]].dts;
    r->range[t->nseg] = INT64_MAX;
}

/* The source's H.264 stream, copied; not offered when its parameter
 * sets cannot be put in front of its keyframes (damaged avcC). */
static int build_original(struct title *t, const struct probe_stream *v,
                          const size_t *key_pkt, const size_t *cuts)
{
    int length_size, ps_bound = h264_insert_bound(v->par, &length_size);
    if (ps_bound < 0) {
        log_warn("title: the H.264 stream's avcC is damaged: no original rendition");
        return 0;
    }
    struct title_rendition *r = new_rendition(t, REND_VIDEO, REND_COPY, v->index, v->tb);

    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "original");
    r->width = v->par->width;
    r->height = v->par->height;
    r->ps_bound = ps_bound;
    r->length_size = length_size;
    h264_codecs(v->par, r->codecs, sizeof(r->codecs));
    video_ranges(r, t, v, key_pkt, cuts);

    return plan_sizes(r, t, v);
}

/* Frames of each video segment, for the byte bound of encoded rungs. */
static int segment_frames(const struct title *t, const struct title_rendition *shape,
                          const struct probe_stream *v, long *frames)
{
    long *seg = malloc((v->npkts ? v->npkts : 1) * sizeof(*seg));
    if (!seg)
        return -ENOMEM;
    assign_segments(shape, t->nseg, v, seg);
    memset(frames, 0, (size_t)t->nseg * sizeof(*frames));
    for (size_t i = 0; i < v->npkts; i++)
        if (seg[i] >= 0)
            frames[seg[i]]++;
    free(seg);
    return 0;
}

/* One encoded rung of the ladder. */
static int build_rung(struct title *t, const struct probe_stream *v,
                      const size_t *key_pkt, const size_t *cuts,
                      const struct ladder_choice *c, const struct title_options *o,
                      const long *frames)
{
    struct title_rendition *r = new_rendition(t, REND_VIDEO, REND_ENCODE, v->index, v->tb);
    int ret;

    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "%dp", c->height);
    r->width = c->width_px;
    r->height = c->height_px;
    r->bit_rate = c->bit_rate;
    r->rotation = v->rotation;
    video_ranges(r, t, v, key_pkt, cuts);
    if ((ret = transcode_codecs(r, &o->video, r->codecs, sizeof(r->codecs))) < 0)
        return -EIO;
    for (long i = 0; i < t->nseg; i++)
        /* a few frames of slack: reordered pictures near the cuts */
        r->sizes[i] = ladder_video_segment_bytes(r->bit_rate, title_segment_ms(t, i),
                                                 frames[i] + 4);
    return 0;
}

/* The video renditions: the copied original (H.264) and the ladder. */
static int build_video(struct title *t, const struct probe_stream *v,
                       const size_t *key_pkt, const size_t *cuts,
                       const struct title_options *o)
{
    struct ladder_choice choice[LADDER_MAX];
    long *frames = malloc((size_t)t->nseg * sizeof(*frames));
    int ret = 0;

    if (!frames)
        return -ENOMEM;
    /* MPEG-TS cannot say "rotate on display": a rotated source is only
     * offered upright, in the transcoded rungs */
    if (v->par->codec_id == AV_CODEC_ID_H264 && !v->rotation &&
        (ret = build_original(t, v, key_pkt, cuts)) < 0)
        goto done;

    /* the picture as displayed: sample aspect ratio and rotation applied */
    AVRational sar = v->sar;
    double dw = v->par->width, dh = v->par->height;
    if (sar.num > 0 && sar.den > 0)
        dw = dw * sar.num / sar.den;
    if (v->rotation == 90 || v->rotation == 270) {
        double tmp = dw;
        dw = dh;
        dh = tmp;
    }
    int n = ladder_select(&o->ladder, (int)(dw + 0.5), (int)(dh + 0.5), choice);
    if (n > 0) {
        struct title_rendition shape = { .range = NULL };
        int64_t *range = malloc(((size_t)t->nseg + 1) * sizeof(*range));
        if (!range) {
            ret = -ENOMEM;
            goto done;
        }
        shape.range = range;
        video_ranges(&shape, t, v, key_pkt, cuts);
        ret = segment_frames(t, &shape, v, frames);
        free(range);
        if (ret < 0)
            goto done;
    }
    for (int i = 0; i < n; i++)
        if ((ret = build_rung(t, v, key_pkt, cuts, &choice[i], o, frames)) < 0)
            goto done;
done:
    free(frames);
    return ret;
}

/* One AAC-LC stereo rendition of a source audio track, on the plan: its
 * segments are whole 1024-sample frames on a grid that starts at the
 * title's first video keyframe, cut at the frame nearest each boundary. */
static int build_audio(struct title *t, const struct probe_stream *a,
                       int ordinal, int first_default, const struct title_options *o)
{
    int rate = o->audio_sample_rate;
    struct title_rendition *r = new_rendition(t, REND_AUDIO, REND_ENCODE, a->index,
                                              (AVRational){ 1, rate });
    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "%d", ordinal);
    r->channels = 2;
    r->bit_rate = o->audio_bit_rate;
    r->is_default = first_default;
    snprintf(r->codecs, sizeof(r->codecs), "mp4a.40.2");
    if (a->language)
        snprintf(r->language, sizeof(r->language), "%s", language_tag(a->language));
    if (a->name && *a->name)
        snprintf(r->label, sizeof(r->label), "%s", a->name);
    else if (a->language)
        snprintf(r->label, sizeof(r->label), "%s", language_tag(a->language));
    else
        snprintf(r->label, sizeof(r->label), "Audio");

    AVRational out_tb = { 1, rate };
    int64_t origin = av_rescale_q(t->bounds[0], t->tb, out_tb);
    int64_t end = av_rescale_q(t->bounds[t->nseg], t->tb, out_tb);
    r->range[0] = origin;
    for (long i = 1; i < t->nseg; i++) {
        int64_t s = av_rescale_q(t->bounds[i], t->tb, out_tb) - origin;
        int64_t frame = (s + 512) / 1024;
        r->range[i] = origin + frame * 1024;
        if (r->range[i] < r->range[i - 1])
            r->range[i] = r->range[i - 1];
    }
    int64_t last = (end - origin + 1023) / 1024;
    r->range[t->nseg] = origin + last * 1024;
    if (r->range[t->nseg] < r->range[t->nseg - 1])
        r->range[t->nseg] = r->range[t->nseg - 1];
    for (long i = 0; i < t->nseg; i++)
        r->sizes[i] = ladder_audio_segment_bytes(r->bit_rate, rate,
                                                 (long)((r->range[i + 1] - r->range[i]) / 1024));
    return 0;
}

/* Make NAME attributes unique inside the audio group. */
static void unique_labels(struct title *t)
{
    for (int i = 0; i < t->nrends; i++)
        for (int j = 0; j < i; j++)
            if (t->rends[i].kind == REND_AUDIO && t->rends[j].kind == REND_AUDIO &&
                !strcmp(t->rends[i].label, t->rends[j].label)) {
                char tmp[sizeof(t->rends[i].label)];
                snprintf(tmp, sizeof(tmp), "%.50s %d", t->rends[i].label, i + 1);
                memcpy(t->rends[i].label, tmp, sizeof(tmp));
                break;
            }
}

static int64_t i64_dist(int64_t a, int64_t b)
{
    uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
    return d > INT64_MAX ? INT64_MAX : (int64_t)d;
}

/* The video's decode times, with packets marked in outlier[] left out:
 * a packet whose time is more than 'jump' from the packet before it, while
 * the packets around it agree with each other (a damaged timestamp), or
 * whose presentation time is that far from its decode time. Returns 1 with
 * a reason in why when the times that remain still jump (a joined
 * recording, a clock that restarts): a plan would have a segment of hours. */
static int timeline_check(const struct probe_stream *v, int64_t jump,
                          uint8_t *outlier, char *why, size_t size)
{
    size_t n = v->npkts, prev = SIZE_MAX, marked = 0;
    double tb = av_q2d(v->tb);

    for (size_t i = 0; i < n; i++) {
        const struct probe_packet *pk = &v->pkts[i];
        if (pk->pts != AV_NOPTS_VALUE && i64_dist(pk->pts, pk->dts) > jump) {
            outlier[i] = 1;
            continue;
        }
        if (prev == SIZE_MAX || i64_dist(pk->dts, v->pkts[prev].dts) <= jump) {
            prev = i;
            continue;
        }
        /* off from the one before: an outlier if the next packet agrees
         * with the one before (or it is the last), else a jump */
        if (i + 1 >= n || i64_dist(v->pkts[i + 1].dts, v->pkts[prev].dts) <= jump) {
            outlier[i] = 1;
            continue;
        }
        if (prev == 0 && i == 1 && n > 2 &&
            i64_dist(v->pkts[2].dts, pk->dts) <= jump) {
            outlier[0] = 1;         /* the first packet was the odd one */
            prev = i;
            continue;
        }
        snprintf(why, size, "timestamps jump by %.0f s at packet %zu of %zu (a "
                 "joined recording or a damaged file): the timeline cannot be "
                 "planned", (double)(pk->dts - v->pkts[prev].dts) * tb, i, n);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        marked += outlier[i];
    if (marked)
        log_warn("title: %zu video packet(s) with timestamps far off their "
                 "neighbours left out of the plan", marked);
    if (marked * 2 > n) {
        snprintf(why, size, "most video timestamps are far off each other: the "
                 "timeline cannot be planned");
        return 1;
    }
    return 0;
}

int title_build_error(const struct title_key *key, const char *reason,
                      struct title **out)
{
    struct title *t = title_alloc(key);
    *out = NULL;
    if (!t || set_error_text(t, reason) < 0) {
        title_free(&t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

int title_build(const struct probe *p, const struct title_key *key,
                const struct title_options *o, struct title **out)
{
    double segment_time = o->segment_time;
    const struct probe_stream *v = p->video;
    struct title *t = NULL;
    size_t *key_pkt = NULL, *cuts = NULL, nkeys = 0;
    int64_t *key_pts = NULL;
    uint8_t *outlier = NULL;
    int ret;

    *out = NULL;
    if (p->error)
        return title_build_error(key, p->error, out);
    if (!avcodec_find_decoder(v->par->codec_id)) {
        char why[160];
        snprintf(why, sizeof(why), "video codec %s cannot be decoded",
                 avcodec_get_name(v->par->codec_id));
        return title_build_error(key, why, out);
    }
    if (!(t = title_alloc(key)) ||
        !(key_pkt = malloc(v->npkts * sizeof(*key_pkt))) ||
        !(key_pts = malloc(v->npkts * sizeof(*key_pts))) ||
        !(cuts = malloc(v->npkts * sizeof(*cuts)))) {
        ret = -ENOMEM;
        goto fail;
    }
    t->tb = v->tb;

    /* timestamps are evidence, not truth: a packet far off from both of
     * its neighbours is an outlier, left out of the plan; a jump that the
     * packets after it confirm cannot be planned (ERROR) */
    int64_t jump = av_rescale_q(llround(TITLE_JUMP_S(segment_time) * 1000),
                                (AVRational){ 1, 1000 }, v->tb);
    if (!(outlier = calloc(v->npkts ? v->npkts : 1, 1))) {
        ret = -ENOMEM;
        goto fail;
    }
    char why[200];
    if (timeline_check(v, jump, outlier, why, sizeof(why))) {
        free(outlier);
        free(key_pkt);
        free(key_pts);
        free(cuts);
        title_free(&t);
        return title_build_error(key, why, out);
    }

    /* keyframes and their presentation times */
    /* a keyframe an edit list discards is not shown: no cut there, as
     * long as the stream has another keyframe */
    int skip_discarded = 0;
    for (size_t i = 0; i < v->npkts; i++)
        if ((v->pkts[i].flags & PROBE_PKT_KEY) && !(v->pkts[i].flags & PROBE_PKT_DISCARD) &&
            !outlier[i])
            skip_discarded = 1;
    for (size_t i = 0; i < v->npkts; i++)
        if ((v->pkts[i].flags & PROBE_PKT_KEY) && !outlier[i] &&
            !(skip_discarded && (v->pkts[i].flags & PROBE_PKT_DISCARD))) {
            const struct probe_packet *pk = &v->pkts[i];
            key_pkt[nkeys] = i;
            key_pts[nkeys++] = pk->pts != AV_NOPTS_VALUE ? pk->pts
                                                         : pk->dts + v->pts_offset;
        }
    if (!nkeys) {
        free(outlier);
        free(key_pkt);
        free(key_pts);
        free(cuts);
        title_free(&t);
        return title_build_error(key, "no video keyframe has a timestamp in line with "
                                 "the packets around it", out);
    }
    int64_t target = av_rescale_q(llround(segment_time * 1000), (AVRational){ 1, 1000 }, v->tb);
    long nseg = plan_cuts(key_pts, nkeys, target > 0 ? target : 1, cuts);
    if (nseg < 1) {
        ret = -EINVAL;
        goto fail;
    }
    t->nseg = nseg;

    /* frame rate, and the end: the latest presentation time plus a frame */
    size_t nframes = v->npkts - key_pkt[0];
    int64_t lo = INT64_MAX, hi = INT64_MIN, end = INT64_MIN;
    for (size_t i = key_pkt[0]; i < v->npkts; i++) {
        const struct probe_packet *pk = &v->pkts[i];
        int64_t pts = pk->pts != AV_NOPTS_VALUE ? pk->pts : pk->dts + v->pts_offset;
        if (outlier[i]) {
            nframes--;
            continue;
        }
        lo = pk->dts < lo ? pk->dts : lo;
        hi = pk->dts > hi ? pk->dts : hi;
        end = pts > end ? pts : end;
    }
    int64_t frame = nframes > 1 ? (hi - lo) / (int64_t)(nframes - 1) : 0;
    end += frame > 0 ? frame : 1;
    t->frame_rate = frame_rate(v, key_pkt[0]);

    if (!(t->bounds = malloc(((size_t)nseg + 1) * sizeof(*t->bounds))) ||
        !(t->rends = calloc((size_t)p->naudio + 1 + LADDER_MAX, sizeof(*t->rends)))) {
        ret = -ENOMEM;
        goto fail;
    }
    for (long i = 0; i < nseg; i++)
        t->bounds[i] = key_pts[cuts[i]];
    t->bounds[nseg] = end > t->bounds[nseg - 1] ? end : t->bounds[nseg - 1] + 1;

    if ((ret = build_video(t, v, key_pkt, cuts, o)) < 0)
        goto fail;
    if (!t->nrends) {
        free(outlier);
        free(key_pkt);
        free(key_pts);
        free(cuts);
        title_free(&t);
        return title_build_error(key, "video has no usable picture size", out);
    }
    int want_default = 1;
    for (int i = 0; i < p->naudio; i++)
        if (p->audio[i].is_default)
            want_default = 0;
    for (int i = 0; i < p->naudio; i++) {
        const struct probe_stream *a = &p->audio[i];
        if (!a->npkts || !avcodec_find_decoder(a->par->codec_id))
            continue;       /* nothing to decode */
        int is_default = a->is_default || want_default;
        want_default = 0;
        if ((ret = build_audio(t, a, i, is_default, o)) < 0)
            goto fail;
    }
    unique_labels(t);
    for (int k = 0; k < t->nrends; k++)
        for (long i = 0; i < t->nseg; i++)
            if (t->rends[k].sizes[i] > TITLE_SEGMENT_MAX_BYTES) {
                snprintf(why, sizeof(why), "segment %ld of %s/%s would take %" PRIu64
                         " MB: the timeline cannot be planned", i,
                         t->rends[k].kind == REND_VIDEO ? "video" : "audio",
                         t->rends[k].name, t->rends[k].sizes[i] >> 20);
                free(outlier);
                free(key_pkt);
                free(key_pts);
                free(cuts);
                title_free(&t);
                return title_build_error(key, why, out);
            }
    if ((ret = make_playlists(t)) < 0)
        goto fail;
    free(outlier);
    free(key_pkt);
    free(key_pts);
    free(cuts);
    *out = t;
    return 0;
fail:
    free(outlier);
    free(key_pkt);
    free(key_pts);
    free(cuts);
    title_free(&t);
    return ret;
}

/* ---- serialization ---------------------------------------------------- */

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
static void put_i64(struct wbuf *w, int64_t v) { uint8_t b[8]; AV_WL64(b, (uint64_t)v); put(w, b, 8); }
static void put_str(struct wbuf *w, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    uint8_t b[4];
    AV_WL32(b, n);
    put(w, b, 4);
    put(w, s ? s : "", n);
}

struct rbuf { const uint8_t *p; size_t len, pos; int err; };

static int64_t get_i64(struct rbuf *r)
{
    if (r->err || r->len - r->pos < 8) {
        r->err = -EINVAL;
        return 0;
    }
    int64_t v = (int64_t)AV_RL64(r->p + r->pos);
    r->pos += 8;
    return v;
}
static void get_str(struct rbuf *r, char *out, size_t size)
{
    uint32_t n;
    if (r->err || r->len - r->pos < 4) {
        r->err = -EINVAL;
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

int title_serialize(const struct title *t, uint8_t **buf, size_t *len)
{
    struct wbuf w = { 0 };
    put(&w, &t->key, sizeof(t->key));
    put_str(&w, t->error);
    put_i64(&w, t->tb.num);
    put_i64(&w, t->tb.den);
    put_i64(&w, t->nseg);
    put_i64(&w, llround(t->frame_rate * 1e6));
    put_i64(&w, t->nrends);
    for (long i = 0; t->bounds && i <= t->nseg; i++)
        put_i64(&w, t->bounds[i]);
    for (int k = 0; k < t->nrends; k++) {
        const struct title_rendition *r = &t->rends[k];
        put_i64(&w, r->kind);
        put_i64(&w, r->mode);
        put_i64(&w, r->bit_rate);
        put_i64(&w, r->rotation);
        put_str(&w, r->name);
        put_i64(&w, r->src_index);
        put_i64(&w, r->tb.num);
        put_i64(&w, r->tb.den);
        put_i64(&w, r->ps_bound);
        put_i64(&w, r->length_size);
        put_i64(&w, r->key_by_pts);
        put_i64(&w, r->dts_shift);
        put_i64(&w, r->width);
        put_i64(&w, r->height);
        put_i64(&w, r->channels);
        put_i64(&w, r->is_default);
        put_str(&w, r->codecs);
        put_str(&w, r->language);
        put_str(&w, r->label);
        for (long i = 0; i <= t->nseg; i++)
            put_i64(&w, r->range[i]);
        for (long i = 0; i < t->nseg; i++)
            put_i64(&w, (int64_t)r->sizes[i]);
    }
    if (w.err) {
        free(w.p);
        return w.err;
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}

int title_deserialize(const uint8_t *buf, size_t len, struct title **out)
{
    struct rbuf r = { buf, len, 0, 0 };
    struct title_key key;
    char error[512];
    struct title *t;
    int ret;

    *out = NULL;
    if (len < sizeof(key))
        return -EINVAL;
    memcpy(&key, buf, sizeof(key));
    r.pos = sizeof(key);
    get_str(&r, error, sizeof(error));
    if (r.err)
        return r.err;
    if (*error) {
        error[strcspn(error, "\n")] = '\0';
        return title_build_error(&key, error, out);
    }
    if (!(t = title_alloc(&key)))
        return -ENOMEM;
    t->tb.num = (int)get_i64(&r);
    t->tb.den = (int)get_i64(&r);
    t->nseg = (long)get_i64(&r);
    t->frame_rate = (double)get_i64(&r) / 1e6;
    int64_t nrends = get_i64(&r);
    if (r.err || t->nseg < 1 || t->nseg > 10000000 || nrends < 1 || nrends > 256 ||
        t->tb.num <= 0 || t->tb.den <= 0) {
        ret = -EINVAL;
        goto fail;
    }
    if (!(t->bounds = malloc(((size_t)t->nseg + 1) * sizeof(*t->bounds))) ||
        !(t->rends = calloc((size_t)nrends, sizeof(*t->rends)))) {
        ret = -ENOMEM;
        goto fail;
    }
    for (long i = 0; i <= t->nseg; i++)
        t->bounds[i] = get_i64(&r);
    for (int k = 0; k < nrends && !r.err; k++) {
        struct title_rendition *rd = &t->rends[k];
        rd->kind = get_i64(&r) == REND_AUDIO ? REND_AUDIO : REND_VIDEO;
        rd->mode = get_i64(&r) == REND_ENCODE ? REND_ENCODE : REND_COPY;
        rd->bit_rate = get_i64(&r);
        rd->rotation = (int)get_i64(&r);
        get_str(&r, rd->name, sizeof(rd->name));
        rd->src_index = (int)get_i64(&r);
        rd->tb.num = (int)get_i64(&r);
        rd->tb.den = (int)get_i64(&r);
        rd->ps_bound = (int)get_i64(&r);
        rd->length_size = (int)get_i64(&r);
        rd->key_by_pts = (int)get_i64(&r);
        rd->dts_shift = get_i64(&r);
        rd->width = (int)get_i64(&r);
        rd->height = (int)get_i64(&r);
        rd->channels = (int)get_i64(&r);
        rd->is_default = (int)get_i64(&r);
        get_str(&r, rd->codecs, sizeof(rd->codecs));
        get_str(&r, rd->language, sizeof(rd->language));
        get_str(&r, rd->label, sizeof(rd->label));
        if ((ret = init_rendition(rd, t->nseg)) < 0)
            goto fail;
        t->nrends++;
        for (long i = 0; i <= t->nseg; i++)
            rd->range[i] = get_i64(&r);
        for (long i = 0; i < t->nseg; i++)
            rd->sizes[i] = (uint64_t)get_i64(&r);
        if (rd->tb.num <= 0 || rd->tb.den <= 0)
            r.err = -EINVAL;
    }
    if (r.err || r.pos != len) {
        ret = -EINVAL;
        goto fail;
    }
    if ((ret = make_playlists(t)) < 0)
        goto fail;
    *out = t;
    return 0;
fail:
    title_free(&t);
    return ret;
}

const struct title_rendition *title_find(const struct title *t,
                                         enum rend_kind kind, const char *name)
{
    for (int i = 0; i < t->nrends; i++)
        if (t->rends[i].kind == kind && !strcmp(t->rends[i].name, name))
            return &t->rends[i];
    return NULL;
}

void title_free(struct title **pt)
{
    struct title *t = pt ? *pt : NULL;
    if (!t)
        return;
    for (int i = 0; i < t->nrends; i++) {
        free(t->rends[i].range);
        free(t->rends[i].sizes);
        free(t->rends[i].playlist);
    }
    free(t->rends);
    free(t->bounds);
    free(t->start_ms);
    free(t->source_path);
    free(t->master);
    free(t->error);
    free(t);
    *pt = NULL;
}
