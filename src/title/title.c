/*
 * title: from a probe to a servable title (or an ERROR-only one).
 *
 * The video's timestamps are checked first (a packet far off its
 * neighbours is left out; a jump the packets after it confirm makes the
 * title an error). The plan (plan.c) cuts the video at keyframes; where no
 * keyframe comes for too long, cuts are forced between keyframes and the
 * copied original is not offered. Every rendition uses the same cuts. A
 * copied rendition's segment i holds that stream's packets whose dts lies
 * in [range[i], range[i + 1]); its size is bounded in closed form by the
 * MPEG-TS size model (tssize.h) from each packet's size, and the real
 * segment, never larger, is padded up to it. An encoded rung's segment is
 * planned at the budget budget.c predicts from the source's bytes for it,
 * capped by the rung's rate bound (ladder.c); audio likewise, from the
 * source's audio packets.
 * A rung's CODECS comes from h264.c. The
 * record (record.c) and the playlists (hls.c) are made elsewhere.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/mathematics.h>

#include "hlsfs/budget.h"
#include "hlsfs/cmaf.h"
#include "hlsfs/fmp4.h"
#include "hlsfs/framerate.h"
#include "hlsfs/h264.h"
#include "hlsfs/hls.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/plan.h"
#include "hlsfs/probe.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/title.h"
#include "hlsfs/trick.h"
#include "hlsfs/tssize.h"
#include "hlsfs/vfilter.h"


static uint64_t options_hash(const struct title_options *o)
{
    char text[512], ladder[400];
    uint64_t h = 1469598103934665603ull;
    ladder_format(&o->ladder, ladder, sizeof(ladder));
    /* budget= names the model of budget.h: planned sizes follow it */
    snprintf(text, sizeof(text), "ladder=%s;budget=1;preset=%s;threads=%d;aac=%lld@%d",
             ladder, o->video.preset, o->video.threads,
             (long long)o->audio_bit_rate, o->audio_sample_rate);
    if (o->format == TITLE_FORMAT_FMP4)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), ";format=fmp4");
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

/* ---- sizes ------------------------------------------------------------ */

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

/* Audio sound runs (build_audio): output samples a sound packet's
 * neighbours take from it, and the most a packet before a hole covers. */
#define SOUND_REACH    2048
#define SOUND_SPAN_MAX (4 * 2048)

/* Adds the samples of [lo, hi) that fall in each segment to sound[]. */
static void add_sound(const int64_t *range, long nseg, int64_t lo, int64_t hi, int64_t *sound)
{
    long first = segment_of(range, nseg, lo);
    for (long s = first < 0 ? 0 : first; s < nseg && range[s] < hi; s++) {
        int64_t a = lo > range[s] ? lo : range[s];
        int64_t b = hi < range[s + 1] ? hi : range[s + 1];
        if (b > a)
            sound[s] += b - a;
    }
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

/* Sizes of the copied video, in closed form (tssize.h): a segment takes
 * at most its tables plus, for every packet, the TS bytes of that frame. For Matroska-style streams (keyframes by pts) it
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
        r->sizes[i] = t->format == TITLE_FORMAT_FMP4 ? fmp4_segment_bytes(FMP4_VIDEO, 0, 0)
                                                     : tssize_table_bytes(title_segment_ms(t, i));
    for (size_t i = 0; i < n; i++)
        if (seg[i] >= 0 && t->format == TITLE_FORMAT_FMP4) {
            /* exact: a trun entry and the packet's bytes */
            r->sizes[seg[i]] += fmp4_segment_bytes(FMP4_VIDEO, 1, s->pkts[i].size) -
                                fmp4_segment_bytes(FMP4_VIDEO, 0, 0);
        } else if (seg[i] >= 0) {
            const struct probe_packet *pk = &s->pkts[i];
            r->sizes[seg[i]] += tssize_h264_frame_bytes((uint64_t)pk->size,
                                                        !!(pk->flags & PROBE_PKT_KEY),
                                                        r->ps_bound, r->length_size);
        }
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

static int init_rendition(struct title_rendition *r, long nseg)
{
    r->range = calloc((size_t)nseg + 1, sizeof(*r->range));
    r->sizes = calloc((size_t)nseg ? (size_t)nseg : 1, sizeof(*r->sizes));
    if (r->range && r->sizes)
        return 0;
    /* not counted in nrends yet: title_free would not see them */
    free(r->range);
    free(r->sizes);
    r->range = NULL;
    r->sizes = NULL;
    return -ENOMEM;
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
    int length_size, ps_bound = tssize_h264_insert_bound(v->par, &length_size);
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
    h264_stream_codecs(v->par, r->codecs, sizeof(r->codecs));
    video_ranges(r, t, v, key_pkt, cuts);

    return plan_sizes(r, t, v);
}

/* fMP4: the source's video copied, whatever codec fMP4 carries (H.264 in
 * avcC form, HEVC, AV1, VP9), with its rotation in the track header; not
 * offered when its decoder configuration cannot be written. */
static int build_original_fmp4(struct title *t, const struct probe_stream *v,
                               const size_t *key_pkt, const size_t *cuts)
{
    struct title_rendition *r = new_rendition(t, REND_VIDEO, REND_COPY, v->index, v->tb);
    int ret;

    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "original");
    r->width = v->par->width;
    r->height = v->par->height;
    if (v->rotation == 90 || v->rotation == 270) {
        r->width = v->par->height;
        r->height = v->par->width;
    }
    r->rotation = v->rotation;
    if ((ret = cmaf_copy_init(t, r, v)) < 0) {
        log_info("title: %s video cannot be carried in fMP4 as it is: no original rendition",
                 avcodec_get_name(v->par->codec_id));
        t->nrends--;
        free(r->range);
        free(r->sizes);
        free(r->init.data);
        memset(r, 0, sizeof(*r));
        return ret == AVERROR(ENOMEM) ? -ENOMEM : 0;
    }
    video_ranges(r, t, v, key_pkt, cuts);
    return plan_sizes(r, t, v);
}

/* Frames of each video segment and the source's bytes for it, for the
 * budgets of encoded rungs: by decode range, or with forced cuts
 * (segments that share a keyframe) by presentation time; a segment cut
 * after its keyframe also counts that keyframe's bytes, since the rung
 * starts it with an IDR of its own; keyframes past the first are counted
 * as the segment's other pictures. */
static int segment_frames(struct title *t, const struct title_rendition *shape,
                          const struct probe_stream *v, const size_t *key_pkt,
                          const size_t *cuts, int forced, long *frames, uint64_t *bytes)
{
    long *seg = malloc((v->npkts ? v->npkts : 1) * sizeof(*seg));
    if (!seg)
        return -ENOMEM;
    if (forced)
        for (size_t i = 0; i < v->npkts; i++) {
            const struct probe_packet *pk = &v->pkts[i];
            seg[i] = segment_of(t->bounds, t->nseg, pk->pts != AV_NOPTS_VALUE
                                ? pk->pts : pk->dts + v->pts_offset);
        }
    else
        assign_segments(shape, t->nseg, v, seg);
    uint64_t *keys = calloc((size_t)t->nseg * 3, sizeof(*keys));
    free(t->key_bytes);
    t->key_bytes = calloc((size_t)t->nseg, sizeof(*t->key_bytes));
    if (!keys || !t->key_bytes) {
        free(keys);
        free(seg);
        return -ENOMEM;
    }
    t->key_px = (int64_t)v->par->width * v->par->height;
    /* per segment: keyframes, their bytes, the largest */
    uint64_t *nkey = keys, *key_bytes = keys + t->nseg, *key_max = keys + 2 * t->nseg;
    memset(frames, 0, (size_t)t->nseg * sizeof(*frames));
    memset(bytes, 0, (size_t)t->nseg * sizeof(*bytes));
    for (size_t i = 0; i < v->npkts; i++)
        if (seg[i] >= 0) {
            long s = seg[i];
            frames[s]++;
            bytes[s] += v->pkts[i].size;
            if (v->pkts[i].flags & PROBE_PKT_KEY) {
                nkey[s]++;
                key_bytes[s] += v->pkts[i].size;
                if (v->pkts[i].size > key_max[s])
                    key_max[s] = v->pkts[i].size;
            }
        }
    for (long i = 0; i < t->nseg; i++) {
        size_t k = key_pkt[cuts[i]];
        if (seg[k] != i)
            bytes[i] += v->pkts[k].size;
        /* the rung has one keyframe a segment: the source's others are
         * counted at the mean of its other pictures (a picture that
         * changes as little costs as little), its largest one in full */
        uint64_t key = key_max[i] > v->pkts[k].size ? key_max[i] : v->pkts[k].size;
        t->key_bytes[i] = key * (uint64_t)budget_codec_percent(v->par->codec_id) / 100;
        if (nkey[i] > 1 && (uint64_t)frames[i] > nkey[i]) {
            uint64_t other = (bytes[i] - key_bytes[i]) / ((uint64_t)frames[i] - nkey[i]);
            bytes[i] -= key_bytes[i] - key_max[i];
            bytes[i] += (nkey[i] - 1) * other;
        }
    }
    free(keys);
    free(seg);
    return 0;
}

/* Where the source has no keyframe for longer than 'force', cut between
 * keyframes: at each multiple of 'target' from the origin inside such a
 * segment (none within half a target of its ends). Each new segment is
 * decoded from the latest keyframe at or before its start; *cuts (the
 * keyframe each segment is decoded from) and t->bounds are replaced. */
static int force_cuts(struct title *t, const int64_t *key_pts, size_t nkeys,
                      int64_t target, int64_t force, size_t **cuts)
{
    const int64_t origin = t->bounds[0], half = target / 2;
    size_t n = 0, cap = (size_t)t->nseg + 16;
    int64_t *b = malloc((cap + 1) * sizeof(*b));
    size_t *from = malloc(cap * sizeof(*from));
    const size_t *old = *cuts;

    if (!b || !from)
        goto nomem;
    for (long i = 0; i < t->nseg; i++) {
        int64_t b0 = t->bounds[i], b1 = t->bounds[i + 1];
        size_t last = i + 1 < t->nseg ? old[i + 1] : nkeys;
        int64_t m = b1 - b0 > force ? origin + ((b0 - origin) / target + 1) * target : b1;
        for (int first = 1; first || m < b1 - half; first = 0) {
            int64_t at = first ? b0 : m;
            size_t k = old[i];
            if (!first && m - b0 < half) {
                m += target;
                continue;
            }
            if (n == cap) {
                int64_t *nb = realloc(b, (cap * 2 + 1) * sizeof(*b));
                if (nb)
                    b = nb;
                size_t *nf = nb ? realloc(from, cap * 2 * sizeof(*from)) : NULL;
                if (!nf)
                    goto nomem;
                from = nf;
                cap *= 2;
            }
            for (size_t j = old[i] + 1; j < last; j++)     /* keyframe at or before */
                if (key_pts[j] <= at && key_pts[j] > key_pts[k])
                    k = j;
            b[n] = at;
            from[n++] = k;
            if (!first) {
                if (m > INT64_MAX - target)
                    break;
                m += target;
            }
        }
    }
    b[n] = t->bounds[t->nseg];
    free(t->bounds);
    t->bounds = b;
    t->nseg = (long)n;
    free(*cuts);
    *cuts = from;
    return 0;
nomem:
    free(b);
    free(from);
    return -ENOMEM;
}

/* One encoded rung of the ladder. */
static int build_rung(struct title *t, const struct probe_stream *v,
                      const size_t *key_pkt, const size_t *cuts,
                      const struct ladder_choice *c, const struct title_options *o,
                      const long *frames, const uint64_t *src_bytes)
{
    struct title_rendition *r = new_rendition(t, REND_VIDEO, REND_ENCODE, v->index, v->tb);

    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "%dp", c->height);
    r->width = c->width_px;
    r->height = c->height_px;
    r->bit_rate = c->bit_rate;
    r->rotation = v->rotation;
    r->filters = vfilter_detect(v->par, v->dovi_compat);
    video_ranges(r, t, v, key_pkt, cuts);
    /* the level for the rung's size, rate and frame rate: the encoder is
     * told the level CODECS names (title_rendition_level) */
    h264_rung_codecs(o->video.preset, r->width, r->height, t->frame_rate, r->bit_rate,
                     r->codecs, sizeof(r->codecs));
    /* each segment's budget follows what the source spent on it, up to
     * the rung's rate bound; a few frames of slack: reordered pictures
     * near the cuts */
    const struct budget_source src = {
        .codec = v->par->codec_id, .width = v->par->width, .height = v->par->height,
    };
    for (long i = 0; i < t->nseg; i++) {
        int64_t ms = title_segment_ms(t, i);
        uint64_t es = budget_video_payload_bytes(&src, src_bytes[i], frames[i] + 4, ms,
                                                 r->width, r->height, r->bit_rate);
        r->sizes[i] = t->format == TITLE_FORMAT_FMP4
                    ? fmp4_segment_bytes(FMP4_VIDEO, frames[i] + 4,
                                         es + (uint64_t)(frames[i] + 4) * FMP4_NAL_GROWTH_PER_FRAME)
                    : tssize_h264_segment_bytes(es, frames[i] + 4, ms);
    }
    if (t->format == TITLE_FORMAT_FMP4) {
        memcpy(r->codecs, "avc3", 4);       /* parameter sets in band */
        return cmaf_rung_init(t, r);
    }
    return 0;
}

/* What the source's video spends, in bit/s: the bytes of its packets from
 * the first keyframe on (none an edit list discards) over the title's
 * duration; 0 when unknown. */
static int64_t source_video_rate(const struct title *t, const struct probe_stream *v,
                                 size_t first)
{
    uint64_t bytes = 0;
    int64_t ms = plan_ms(t->bounds[0], t->bounds[t->nseg], t->tb.num, t->tb.den);
    for (size_t i = first; i < v->npkts; i++)
        if (!(v->pkts[i].flags & PROBE_PKT_DISCARD))
            bytes += v->pkts[i].size;
    return ms > 0 ? (int64_t)(bytes * 8000 / (uint64_t)ms) : 0;
}

/* The video renditions: the copied original (H.264) and the ladder,
 * fitted to the source (ladder_select). */
static int build_video(struct title *t, const struct probe_stream *v,
                       const size_t *key_pkt, const size_t *cuts, int forced,
                       const struct title_options *o)
{
    struct ladder_choice choice[LADDER_MAX];
    long *frames = malloc((size_t)t->nseg * sizeof(*frames));
    uint64_t *src_bytes = malloc((size_t)t->nseg * sizeof(*src_bytes));
    int ret = 0;

    if (!frames || !src_bytes) {
        free(frames);
        free(src_bytes);
        return -ENOMEM;
    }
    /* MPEG-TS cannot say "rotate on display": a rotated source is only
     * offered upright, in the transcoded rungs; a copy cannot cut between
     * keyframes */
    if (t->format != TITLE_FORMAT_FMP4 &&
        v->par->codec_id == AV_CODEC_ID_H264 && !v->rotation && !forced &&
        (ret = build_original(t, v, key_pkt, cuts)) < 0)
        goto done;
    if (t->format == TITLE_FORMAT_FMP4 && !forced &&
        (ret = build_original_fmp4(t, v, key_pkt, cuts)) < 0)
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
    struct ladder_source src = {
        .display_w = (int)(dw + 0.5), .display_h = (int)(dh + 0.5),
        .bit_rate = source_video_rate(t, v, key_pkt[0]),
        .cost_pct = ladder_codec_cost_pct(avcodec_get_name(v->par->codec_id)),
        .original = t->nrends > 0,     /* the copy is all there is so far */
        .fps = t->frame_rate,
    };
    int n = ladder_select(&o->ladder, &src, choice);
    if (n > 0) {
        struct title_rendition shape = { .range = NULL };
        int64_t *range = malloc(((size_t)t->nseg + 1) * sizeof(*range));
        if (!range) {
            ret = -ENOMEM;
            goto done;
        }
        shape.range = range;
        video_ranges(&shape, t, v, key_pkt, cuts);
        ret = segment_frames(t, &shape, v, key_pkt, cuts, forced, frames, src_bytes);
        free(range);
        if (ret < 0)
            goto done;
    }
    for (int i = 0; i < n; i++)
        if ((ret = build_rung(t, v, key_pkt, cuts, &choice[i], o, frames, src_bytes)) < 0)
            goto done;
done:
    free(frames);
    free(src_bytes);
    return ret;
}

/* One AAC-LC stereo rendition of a source audio track, on the plan: its
 * segments are whole 1024-sample frames on a grid that starts at the
 * title's first video keyframe, cut at the frame nearest each boundary. */
static int build_audio(struct title *t, const struct probe_stream *a,
                       int ordinal, int first_default, const struct title_options *o,
                       int64_t bit_rate, const char *suffix)
{
    int rate = o->audio_sample_rate;
    struct title_rendition *r = new_rendition(t, REND_AUDIO, REND_ENCODE, a->index,
                                              (AVRational){ 1, rate });
    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "%d%s", ordinal, suffix);
    r->channels = 2;
    r->bit_rate = bit_rate;
    r->is_default = first_default;
    snprintf(r->codecs, sizeof(r->codecs), "mp4a.40.2");
    if (a->language)
        snprintf(r->language, sizeof(r->language), "%s", hls_language_tag(a->language));
    if (a->name && *a->name)
        snprintf(r->label, sizeof(r->label), "%s", a->name);
    else if (a->language)
        snprintf(r->label, sizeof(r->label), "%s", hls_language_tag(a->language));
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
    /* what the source spent on each segment's samples: its packets by
     * decode time on the output's sample grid, but for its silent ones
     * (by their size, or decoded: probe.c) after another silent one. The
     * encoder gets sound only around the packets that are not silent:
     * each covers its samples and SOUND_REACH more on both sides (the
     * resampler's and a frame's transform reach into the next); everything
     * else (silent packets, holes, before the first packet and after the
     * last) is silence to it. */
    uint64_t *src_bytes = calloc((size_t)t->nseg, sizeof(*src_bytes));
    int64_t *sound = calloc((size_t)t->nseg, sizeof(*sound));
    if (!src_bytes || !sound) {
        free(src_bytes);
        free(sound);
        return -ENOMEM;
    }
    enum AVCodecID codec = a->par->codec_id;
    int channels = a->par->ch_layout.nb_channels;
    int was_silent = 0;
    int64_t lo = 0, hi = 0;         /* the run of sound being gathered
                                       (none while hi == lo)             */
    for (size_t k = 0; k < a->npkts; k++) {
        int64_t at = av_rescale_q(a->pkts[k].dts, a->tb, out_tb);
        long s = segment_of(r->range, t->nseg, at);
        int quiet = (a->pkts[k].flags & PROBE_PKT_SILENT) ||
                    budget_audio_packet_silent(codec, channels, a->pkts[k].size);
        if (s >= 0 && !(quiet && was_silent))
            src_bytes[s] += a->pkts[k].size;
        was_silent = quiet;
        if (quiet)
            continue;
        /* its samples reach the next packet, or SOUND_SPAN_MAX past a hole */
        int64_t next = k + 1 < a->npkts ? av_rescale_q(a->pkts[k + 1].dts, a->tb, out_tb) : at;
        int64_t upto = next > at && next - at <= SOUND_SPAN_MAX ? next : at + SOUND_SPAN_MAX;
        if (hi > lo && at - SOUND_REACH <= hi) {
            hi = upto + SOUND_REACH > hi ? upto + SOUND_REACH : hi;
            continue;
        }
        if (hi > lo)
            add_sound(r->range, t->nseg, lo, hi, sound);
        lo = at - SOUND_REACH;
        hi = upto + SOUND_REACH;
    }
    if (hi > lo)
        add_sound(r->range, t->nseg, lo, hi, sound);
    for (long i = 0; i < t->nseg; i++) {
        long frames = (long)((r->range[i + 1] - r->range[i]) / 1024);
        int64_t quiet = r->range[i + 1] - r->range[i] - sound[i];
        uint64_t aac = budget_audio_payload_bytes(codec, channels, src_bytes[i], frames,
                                                  (long)(quiet / 1024), rate, r->bit_rate);
        /* the segment's rate, rounded up; the bound itself when capped */
        uint64_t f = frames > 0 ? (uint64_t)frames : 1;
        int64_t seg_rate = (int64_t)((aac * 8 * (uint64_t)rate + f * 1024 - 1) / (f * 1024));
        r->sizes[i] = ladder_audio_segment_bytes(seg_rate < r->bit_rate ? seg_rate : r->bit_rate,
                                                 rate, frames);
        if (t->format == TITLE_FORMAT_FMP4) {
            /* the same AAC budget and headroom, in fMP4's boxes */
            uint64_t es = ladder_audio_payload_bytes(seg_rate < r->bit_rate ? seg_rate : r->bit_rate,
                                                     rate, frames);
            r->sizes[i] = fmp4_segment_bytes(FMP4_AUDIO, frames, es + es * 5 / 100);
        }
    }
    free(sound);
    free(src_bytes);
    if (t->format == TITLE_FORMAT_FMP4)
        return cmaf_audio_init(t, r, rate, r->bit_rate);
    return 0;
}

/* The AAC 5.1 rendition "K-6ch" of a multichannel track whose codec is
 * not copied (DTS, TrueHD, FLAC, Opus, Vorbis ...): the stereo
 * rendition's plan and sample grid, three times its budget and rate. */
static int build_audio_aac51(struct title *t, int ordinal)
{
    const struct title_rendition *stereo = &t->rends[t->nrends - 1];
    struct title_rendition *r = new_rendition(t, REND_AUDIO, REND_ENCODE, stereo->src_index,
                                              stereo->tb);
    if (!r)
        return -ENOMEM;
    stereo = r - 1;
    snprintf(r->name, sizeof(r->name), "%d-6ch", ordinal);
    r->channels = 6;
    r->bit_rate = stereo->bit_rate * 3;
    memcpy(r->codecs, stereo->codecs, sizeof(r->codecs));
    memcpy(r->language, stereo->language, sizeof(r->language));
    snprintf(r->label, sizeof(r->label), "%.48s 5.1", stereo->label);
    memcpy(r->range, stereo->range, ((size_t)t->nseg + 1) * sizeof(*r->range));
    int rate = stereo->tb.den;
    for (long i = 0; i < t->nseg; i++) {
        long frames = (long)((r->range[i + 1] - r->range[i]) / 1024);
        uint64_t f = frames > 0 ? (uint64_t)frames : 1;
        int64_t ms = (int64_t)(f * 1024 * 1000 / (uint64_t)rate) + 1;
        r->sizes[i] = t->format == TITLE_FORMAT_FMP4
            ? fmp4_segment_bytes(FMP4_AUDIO, frames,
                                 3 * fmp4_payload_bytes(FMP4_AUDIO, frames, stereo->sizes[i]))
            : tssize_aac_segment_bytes(3 * tssize_aac_payload_bytes(stereo->sizes[i], frames, ms),
                                       frames, ms);
    }
    if (t->format == TITLE_FORMAT_FMP4)
        return cmaf_audio_init(t, r, rate, r->bit_rate);
    return 0;
}

/* A multichannel track's second rendition, "K-Nch" beside the stereo "K":
 * the source's AC-3, E-AC-3 or AAC-LC copied, on the plan (segment i
 * holds the packets whose decode time lies in [bounds[i], bounds[i + 1])),
 * its sizes in closed form from the packet index; AAC 5.1 for other
 * codecs (build_audio_aac51). */
static int build_audio_multi(struct title *t, const struct probe_stream *a, int ordinal,
                             const char *format)
{
    const AVCodecParameters *par = a->par;
    int channels = par->ch_layout.nb_channels;
    int aac_lc = par->codec_id == AV_CODEC_ID_AAC && par->extradata_size >= 2 &&
                 par->extradata[0] >> 3 == 2 && !(format && strstr(format, "mpegts"));
    if (channels <= 2)
        return 0;
    if (channels > 8 ||
        (par->codec_id != AV_CODEC_ID_AC3 && par->codec_id != AV_CODEC_ID_EAC3 && !aac_lc))
        return build_audio_aac51(t, ordinal);
    struct title_rendition *r = new_rendition(t, REND_AUDIO, REND_COPY, a->index, a->tb);
    if (!r)
        return -ENOMEM;
    /* the stereo rendition of the track is the one before */
    const struct title_rendition *stereo = &t->rends[t->nrends - 2];
    snprintf(r->name, sizeof(r->name), "%d-%dch", ordinal, channels);
    r->channels = channels;
    memcpy(r->language, stereo->language, sizeof(r->language));
    snprintf(r->label, sizeof(r->label), "%.48s %d.%d", stereo->label,
             channels - (channels >= 6), channels >= 6);
    snprintf(r->codecs, sizeof(r->codecs), "%s", par->codec_id == AV_CODEC_ID_AC3 ? "ac-3"
             : par->codec_id == AV_CODEC_ID_EAC3 ? "ec-3" : "mp4a.40.2");
    for (long i = 0; i < t->nseg; i++)
        r->range[i] = av_rescale_q(t->bounds[i], t->tb, a->tb);
    r->range[t->nseg] = INT64_MAX;
    for (long i = 0; i < t->nseg; i++)
        r->sizes[i] = t->format == TITLE_FORMAT_FMP4 ? fmp4_segment_bytes(FMP4_AUDIO, 0, 0)
                                                     : tssize_table_bytes(title_segment_ms(t, i));
    for (size_t k = 0; k < a->npkts; k++) {
        long s = segment_of(r->range, t->nseg, a->pkts[k].dts);
        uint64_t size = a->pkts[k].size;
        if (s < 0)
            continue;
        if (t->format == TITLE_FORMAT_FMP4)
            r->sizes[s] += fmp4_segment_bytes(FMP4_AUDIO, 1, size) -
                           fmp4_segment_bytes(FMP4_AUDIO, 0, 0);
        else        /* a PES of its own at most; AAC gains an ADTS header */
            r->sizes[s] += tssize_pes_bytes(size + (aac_lc ? TSSIZE_ADTS_BYTES : 0));
    }
    if (t->format == TITLE_FORMAT_FMP4) {
        int ret = cmaf_copy_init(t, r, a);
        if (ret < 0) {
            log_info("title: %s audio cannot be carried in fMP4 as it is: AAC 5.1 instead",
                     avcodec_get_name(par->codec_id));
            t->nrends--;
            free(r->range);
            free(r->sizes);
            free(r->init.data);
            memset(r, 0, sizeof(*r));
            return ret == AVERROR(ENOMEM) ? -ENOMEM : build_audio_aac51(t, ordinal);
        }
    }
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

/* The video packets' timeline, checked: a packet far off from both of
 * its neighbours is an outlier (outlier[i] = 1), left out of the plan; a
 * forward jump that the packets after it confirm starts a new part (two
 * recordings joined), whose threshold, halfway across the gap in the
 * source's clock (microseconds), goes into split[*nsplit]. Returns 1 with
 * 'why' set when the timeline cannot be planned: a jump back, too many
 * parts, or most packets far off each other. */
static int timeline_check(const struct probe_stream *v, int64_t jump,
                          uint8_t *outlier, int64_t *split, int *nsplit,
                          char *why, size_t size)
{
    size_t n = v->npkts, prev = SIZE_MAX, marked = 0;
    double tb = av_q2d(v->tb);

    *nsplit = 0;
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
        double gap = (double)(pk->dts - v->pkts[prev].dts) * tb;
        if (pk->dts < v->pkts[prev].dts || *nsplit == TIMELINE_JUMPS_MAX) {
            snprintf(why, size, "timestamps jump %s by %.0f s at packet %zu of %zu "
                     "(a joined recording or a damaged file)%s: the timeline "
                     "cannot be planned", gap < 0 ? "back" : "ahead", fabs(gap), i, n,
                     gap < 0 ? "" : ", after too many such jumps");
            return 1;
        }
        int64_t mid = v->pkts[prev].dts + (pk->dts - v->pkts[prev].dts) / 2;
        split[(*nsplit)++] = av_rescale_q(mid, v->tb, AV_TIME_BASE_Q);
        log_info("title: timestamps jump ahead by %.0f s at video packet %zu of %zu: "
                 "a joined recording, the part after it re-timed", gap, i, n);
        prev = i;
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

/* Each part of a joined source moved back to follow the one before it:
 * over every stream, the part after split[k] starts at its earliest time
 * (at_us) and is moved to one video frame past the latest time before
 * split[k]. The probe's packets are re-timed in place (outliers, which
 * the plan leaves out, with the part their decode time falls in). */
static void retime_parts(struct probe *p, const int64_t *split, int nsplit,
                         const uint8_t *outlier, struct timeline *tl)
{
    struct probe_stream *v = p->video;
    int64_t frame_us = 40000;
    if (v->npkts > 1 && v->avg_rate.num > 0 && v->avg_rate.den > 0)
        frame_us = av_rescale(AV_TIME_BASE, v->avg_rate.den, v->avg_rate.num);

    tl->n = 0;
    for (int k = 0; k < nsplit; k++) {
        int64_t lo = k ? split[k - 1] : INT64_MIN, hi = k + 1 < nsplit ? split[k + 1] : INT64_MAX;
        int64_t before = INT64_MIN, after = INT64_MAX;
        for (int si = -1; si < p->naudio; si++) {
            const struct probe_stream *st = si < 0 ? v : &p->audio[si];
            for (size_t i = 0; i < st->npkts; i++) {
                if (si < 0 && outlier[i])
                    continue;
                const struct probe_packet *pk = &st->pkts[i];
                int64_t t[2] = { pk->dts, pk->pts };
                for (int j = 0; j < 2; j++) {
                    if (t[j] == AV_NOPTS_VALUE)
                        continue;
                    int64_t us = av_rescale_q(t[j], st->tb, AV_TIME_BASE_Q);
                    if (us >= lo && us < split[k] && us > before)
                        before = us;
                    if (us >= split[k] && us < hi && us < after)
                        after = us;
                }
            }
        }
        if (before == INT64_MIN || after == INT64_MAX || after - before <= frame_us)
            continue;
        tl->jump[tl->n].at_us = after;
        tl->jump[tl->n++].delta_us = after - before - frame_us;
    }
    for (int si = -1; si < p->naudio; si++) {
        struct probe_stream *st = si < 0 ? v : &p->audio[si];
        for (size_t i = 0; i < st->npkts; i++) {
            struct probe_packet *pk = &st->pkts[i];
            int64_t moved = pk->dts - timeline_retime(tl, st->tb, pk->dts);
            pk->dts -= moved;
            if (pk->pts != AV_NOPTS_VALUE)
                pk->pts -= moved;
        }
    }
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

int title_build(struct probe *p, const struct title_key *key,
                const struct title_options *o, struct title **out)
{
    double segment_time = o->segment_time;
    const struct probe_stream *v = p->video;
    struct title *t = NULL;
    size_t *key_pkt = NULL, *cuts = NULL, nkeys = 0;
    int64_t *key_pts = NULL;
    uint8_t *outlier = NULL;
    const char *reason = NULL;      /* why the title cannot be served */
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
    t->format = o->format;

    /* timestamps are evidence, not truth: a packet far off from both of
     * its neighbours is an outlier, left out of the plan; after a jump
     * ahead that the packets after it confirm, the rest is re-timed to
     * follow on; a jump back cannot be planned (ERROR) */
    int64_t jump = av_rescale_q(llround(TITLE_JUMP_S(segment_time) * 1000),
                                (AVRational){ 1, 1000 }, v->tb);
    if (!(outlier = calloc(v->npkts ? v->npkts : 1, 1))) {
        ret = -ENOMEM;
        goto fail;
    }
    char why[200];
    int64_t split[TIMELINE_JUMPS_MAX];
    int nsplit = 0;
    if (timeline_check(v, jump, outlier, split, &nsplit, why, sizeof(why))) {
        reason = why;
        goto unservable;
    }

    if (nsplit)
        retime_parts(p, split, nsplit, outlier, &t->timeline);

    /* keyframes and their presentation times */
    /* a keyframe an edit list discards is not shown: no cut there, as
     * long as the stream has another keyframe */
    int skip_discarded = 0;
    for (size_t i = 0; i < v->npkts; i++)
        if ((v->pkts[i].flags & PROBE_PKT_KEY) && !(v->pkts[i].flags & PROBE_PKT_DISCARD) &&
            !outlier[i])
            skip_discarded = 1;
    /* but where the edit list starts between keyframes, the title starts
     * at the first picture it shows, decoded from the last keyframe it
     * discards (probe.c read the presentation times of that GOP) */
    size_t lead = v->npkts;
    int64_t shown = INT64_MAX;
    if (skip_discarded) {
        size_t kept = 0;
        while (kept < v->npkts && (!(v->pkts[kept].flags & PROBE_PKT_KEY) ||
                                   (v->pkts[kept].flags & PROBE_PKT_DISCARD) || outlier[kept]))
            kept++;
        for (size_t i = 0; i < kept; i++)
            if ((v->pkts[i].flags & PROBE_PKT_KEY) && !outlier[i])
                lead = i;
        for (size_t i = lead; lead < kept && i < v->npkts; i++)
            if (!(v->pkts[i].flags & PROBE_PKT_DISCARD) && !outlier[i] &&
                v->pkts[i].pts != AV_NOPTS_VALUE && v->pkts[i].pts < shown)
                shown = v->pkts[i].pts;
        if (lead < kept && (v->pkts[kept].pts == AV_NOPTS_VALUE || shown >= v->pkts[kept].pts))
            lead = v->npkts;        /* nothing shown before the keyframe kept */
    }
    for (size_t i = 0; i < v->npkts; i++)
        if ((v->pkts[i].flags & PROBE_PKT_KEY) && !outlier[i] &&
            (i == lead || !(skip_discarded && (v->pkts[i].flags & PROBE_PKT_DISCARD)))) {
            const struct probe_packet *pk = &v->pkts[i];
            key_pkt[nkeys] = i;
            key_pts[nkeys++] = i == lead ? shown
                             : pk->pts != AV_NOPTS_VALUE ? pk->pts : pk->dts + v->pts_offset;
        }
    if (!nkeys) {
        reason = "no video keyframe has a timestamp in line with the packets around it";
        goto unservable;
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
    if ((t->frame_rate = framerate_of(v, key_pkt[0])) < 0) {
        ret = -ENOMEM;
        goto fail;
    }

    if (!(t->bounds = malloc(((size_t)nseg + 1) * sizeof(*t->bounds))) ||
        !(t->rends = calloc((size_t)p->naudio * 2 + 1 + LADDER_MAX, sizeof(*t->rends)))) {
        ret = -ENOMEM;
        goto fail;
    }
    for (long i = 0; i < nseg; i++)
        t->bounds[i] = key_pts[cuts[i]];
    t->bounds[nseg] = end > t->bounds[nseg - 1] ? end : t->bounds[nseg - 1] + 1;

    /* no keyframe for too long: cuts between keyframes */
    int64_t force = av_rescale_q(llround(TITLE_FORCE_S(segment_time) * 1000),
                                 (AVRational){ 1, 1000 }, v->tb);
    int forced = 0;
    for (long i = 0; i < nseg && !forced; i++)
        forced = t->bounds[i + 1] - t->bounds[i] > force;
    if (forced && (ret = force_cuts(t, key_pts, nkeys, target > 0 ? target : 1,
                                    force, &cuts)) < 0)
        goto fail;
    /* a first segment that starts after its keyframe is planned as forced
     * ones are (frames by presentation time; no copy, which cannot cut
     * there) */
    forced |= lead < v->npkts;

    if ((ret = build_video(t, v, key_pkt, cuts, forced, o)) < 0)
        goto fail;
    if (!t->nrends) {
        reason = "video has no usable picture size";
        goto unservable;
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
        if ((ret = build_audio(t, a, i, is_default, o, o->audio_bit_rate, "")) < 0)
            goto fail;
        /* the same at a rate for cellular networks, for the smallest
         * variant (hls.c) */
        if (o->audio_bit_rate > TITLE_CELL_AUDIO_RATE &&
            (ret = build_audio(t, a, i, is_default, o, TITLE_CELL_AUDIO_RATE,
                               TITLE_CELL_AUDIO_SUFFIX)) < 0)
            goto fail;
        if ((ret = build_audio_multi(t, a, i, p->format)) < 0)
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
                reason = why;
                goto unservable;
            }
    /* the text subtitles read with the index are the title's now */
    t->subs = p->subs;
    t->nsubs = p->nsubs;
    t->sidecar_stamp = p->sidecar_stamp;
    p->subs = NULL;
    p->nsubs = 0;
    for (int i = 0; i < t->nsubs && t->timeline.n; i++)
        for (size_t k = 0; k < t->subs[i]->ncues; k++) {
            struct subtitle_cue *c = &t->subs[i]->cues[k];
            c->start_ms = timeline_retime(&t->timeline, (AVRational){ 1, 1000 }, c->start_ms);
            c->end_ms = timeline_retime(&t->timeline, (AVRational){ 1, 1000 }, c->end_ms);
        }
    if ((ret = hls_make_playlists(t)) < 0)
        goto fail;
    free(outlier);
    free(key_pkt);
    free(key_pts);
    free(cuts);
    *out = t;
    return 0;
unservable:
    ret = 0;
fail:
    free(outlier);
    free(key_pkt);
    free(key_pts);
    free(cuts);
    title_free(&t);
    return reason ? title_build_error(key, reason, out) : ret;
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
        free(t->rends[i].init.data);
    }
    free(t->rends);
    for (int i = 0; i < t->nsubs; i++)
        subtitle_track_free(&t->subs[i]);
    free(t->subs);
    free(t->bounds);
    free(t->key_bytes);
    free(t->start_ms);
    free(t->source_path);
    free(t->master);
    free(t->error);
    trick_free(&t->trick);
    free(t);
    *pt = NULL;
}
