/*
 * produce: the one entry point that makes a segment, and its log line.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>

#include "hlsfs/audio.h"
#include "hlsfs/iframe.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/produce.h"
#include "hlsfs/remux.h"
#include "hlsfs/thumbs.h"
#include "hlsfs/segmux.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"
#include "hlsfs/trick.h"
#include "hlsfs/tssize.h"
#include "hlsfs/workbound.h"

/* How far under its segment's budget the AAC encoder aims: the headroom
 * the plan leaves it (ladder_audio_segment_bytes). */
#define AUDIO_HEADROOM_PCT 5

/* The AAC rate a segment is encoded at first: what its planned size
 * leaves after the MPEG-TS framing and the headroom, over its samples;
 * never above the rendition's rate. From the record's fields alone. */
static int64_t audio_segment_rate(const struct title *t, const struct title_rendition *r,
                                  long seg, int sample_rate)
{
    int64_t n = (r->range[seg + 1] - r->range[seg]) / 1024;
    uint64_t f = n > 0 ? (uint64_t)n : 1;
    int64_t ms = (int64_t)(f * 1024 * 1000 / (uint64_t)sample_rate) + 1;
    uint64_t es = segmux_audio_payload(t, r->sizes[seg], (long)f, ms);
    /* rounded up: a capped segment gets exactly the rendition's rate */
    uint64_t aac = (es * 100 + 99 + AUDIO_HEADROOM_PCT) / (100 + AUDIO_HEADROOM_PCT);
    uint64_t rate = aac * 8 * (uint64_t)sample_rate / (f * 1024);
    return rate < (uint64_t)r->bit_rate ? (int64_t)rate : r->bit_rate;
}

struct audio_sink {
    struct mux              *mux;
    const AVCodecParameters *par;
    AVPacket                *framed;
    int                      raw;     /* fMP4: frames without ADTS        */
};

/* Each AAC frame gets its ADTS header, as the size plan assumed. */
static int audio_to_mux(void *opaque, const AVPacket *pkt)
{
    struct audio_sink *s = opaque;
    int ret;
    if (s->raw)
        return mux_write(s->mux, pkt);
    av_packet_unref(s->framed);
    if ((ret = av_new_packet(s->framed, pkt->size + MUX_ADTS_HEADER)) < 0)
        return ret;
    if ((ret = mux_adts_header(s->par, pkt->size, s->framed->data)) < 0)
        return ret;
    memcpy(s->framed->data + MUX_ADTS_HEADER, pkt->data, (size_t)pkt->size);
    s->framed->pts = pkt->pts;
    s->framed->dts = pkt->dts;
    s->framed->flags = AV_PKT_FLAG_KEY;
    return mux_write(s->mux, s->framed);
}

static int audio_segment(const char *path, const struct source_io *io,
                         const struct title *t, const struct title_rendition *r,
                         long seg, const struct title_options *o,
                         const struct work_bound *bound, uint8_t **out, size_t *len)
{
    struct audio_params ap = { .sample_rate = o->audio_sample_rate,
                               .bit_rate = audio_segment_rate(t, r, seg, o->audio_sample_rate),
                               .bound = bound,
                               .timeline = &t->timeline,
                               .channels = r->channels > 2 ? r->channels : 0 };
    AVCodecParameters *par = avcodec_parameters_alloc();
    struct audio_sink sink = { 0 };
    uint64_t bytes = 0;
    int ret;

    *out = NULL;
    *len = 0;
    if (!par || !(sink.framed = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    /* a segment over its bound is encoded again at a lower rate */
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((ret = audio_output_parameters(&ap, par)) < 0 ||
            (ret = segmux_open(t, r, seg, par, r->tb, 0, &sink.mux)) < 0)
            goto done;
        sink.par = par;
        sink.raw = t->format == TITLE_FORMAT_FMP4;
        ret = audio_encode_segment(path, io, r->src_index, r->range[seg], r->range[seg + 1],
                                   &ap, audio_to_mux, &sink);
        if (ret < 0 || (ret = mux_finish(sink.mux, &bytes)) < 0)
            goto done;
        log_debug("%s: audio/%s segment %ld: %" PRIu64 " bytes at %" PRId64 " bit/s for the "
                  "planned %" PRIu64, path, r->name, seg, bytes, ap.bit_rate, r->sizes[seg]);
        ret = mux_take(sink.mux, r->sizes[seg], out, len);
        mux_free(&sink.mux);
        if (ret != -EOVERFLOW)
            break;
        log_warn("%s: audio/%s segment %ld: %" PRIu64 " bytes over the planned %"
                 PRIu64 ", encoding again at a lower rate", path, r->name, seg,
                 bytes, r->sizes[seg]);
        ap.bit_rate = ap.bit_rate * 3 / 4;
    }
done:
    if (work_bound_stopped(bound)) {    /* what was made may be cut short */
        log_info("%s: audio/%s segment %ld: stopped (shutting down)", path, r->name, seg);
        free(*out);
        *out = NULL;
        *len = 0;
        ret = -ECANCELED;
    } else if (ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT)) {
        log_error("%s: audio/%s segment %ld: gave up: the segment took longer "
                  "than its bound", path, r->name, seg);
        ret = -EIO;
    } else if (ret < 0) {
        char err[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, err, sizeof(err));
        log_error("%s: audio/%s segment %ld: %s", path, r->name, seg, err);
        ret = -EIO;
    }
    mux_free(&sink.mux);
    av_packet_free(&sink.framed);
    avcodec_parameters_free(&par);
    return ret;
}

int produce_segment(const char *path, const struct source_io *io,
                    const struct title *t, const struct title_rendition *r,
                    long seg, const struct title_options *o,
                    const atomic_int *stop, uint8_t **out, size_t *len)
{
    struct work_bound bound;

    /* the media time the work covers: the segment, and for video the
     * lead-in from the keyframe it is decoded from */
    double media_s = (double)title_segment_ms(t, seg) / 1000.0;
    if (r->kind == REND_VIDEO && r->range[seg] != INT64_MIN) {
        int64_t from = av_rescale_q(r->range[seg], r->tb, t->tb);
        if (from < t->bounds[seg])
            media_s += (double)(t->bounds[seg] - from) * av_q2d(t->tb);
    }
    work_bound_init(&bound, stop, media_s);
    return produce_segment_within(path, io, t, r, seg, o, &bound, out, len);
}

int produce_segment_within(const char *path, const struct source_io *io,
                           const struct title *t,
                           const struct title_rendition *r, long seg,
                           const struct title_options *o,
                           const struct work_bound *bound, uint8_t **out,
                           size_t *len)
{
    struct timespec t0, t1;
    int ret;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (r->mode == REND_COPY)
        ret = remux_segment(path, io, t, r, seg, bound, out, len);
    else if (r->kind == REND_VIDEO)
        ret = transcode_segment(path, io, t, r, seg, &o->video, bound, out, len);
    else
        ret = audio_segment(path, io, t, r, seg, o, bound, out, len);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        uint64_t size = r->sizes[seg];
        log_info("%s: %s %s/%s segment %ld made in %.0f ms (%.2fx realtime, "
                 "%.1f%% padding)", path,
                 r->mode == REND_COPY ? "copied" : "encoded",
                 r->kind == REND_VIDEO ? "video" : "audio", r->name, seg, ms,
                 ms > 0 ? (double)title_segment_ms(t, seg) / ms : 0.0,
                 size ? 100.0 * (double)(size - *len) / (double)size : 0.0);
    }
    return ret;
}

/* key = title key, rendition index (its low byte: the key bytes of every
 * cache written so far), rendition name. The key is the rendition's
 * identity in the scheduler and the store only: produce_scheduled gets the
 * rendition itself from .rend. */
void produce_rendition(const struct title *t, const struct title_rendition *r,
                       uint8_t *key, struct sched_rendition *out)
{
    size_t n = sizeof(t->key), name = strlen(r->name);
    memcpy(key, &t->key, n);
    key[n++] = (uint8_t)(r - t->rends);
    memcpy(key + n, r->name, name);
    n += name;
    *out = (struct sched_rendition){
        .key = key, .key_len = n, .nseg = t->nseg, .start_ms = t->start_ms,
        .sizes = r->sizes, .owner = (void *)t, .rend = r,
    };
}

const char *produce_kind_name(enum produce_kind k)
{
    static const char *const names[PRODUCE_NKINDS] = { "video", "audio", "copy", "trick" };
    return (unsigned)k < PRODUCE_NKINDS ? names[k] : "?";
}

/* key = title key, 0xFF (no rendition index: a title has fewer than 255
 * renditions), the name and its version, which changes with the bytes */
void produce_trick_rendition(const struct title *t, enum produce_trick which,
                             uint8_t *key, struct sched_rendition *out)
{
    const char *name = which == PRODUCE_IFRAMES ? "trick1/" TRICK_IFRAME_NAME : "trick1/thumbs";
    size_t n = sizeof(t->key), len = strlen(name);
    const struct trick *tr = t->trick;

    memcpy(key, &t->key, n);
    key[n++] = 0xFF;
    memcpy(key + n, name, len);
    n += len;
    if (which == PRODUCE_IFRAMES)
        *out = (struct sched_rendition){
            .key = key, .key_len = n, .nseg = tr->iframes.pic.n,
            .start_ms = tr->iframes.start_ms, .sizes = tr->iframes.sizes,
            .owner = (void *)t, .rend = &tr->iframes,
        };
    else
        *out = (struct sched_rendition){
            .key = key, .key_len = n, .nseg = tr->thumbs.nsprite,
            .start_ms = tr->thumbs.start_ms, .sizes = tr->thumbs.sizes,
            .owner = (void *)t, .rend = &tr->thumbs, .no_readahead = 1,
        };
}

/* The media time a set of pictures decodes: from each one's cut keyframe
 * to its time. */
static double pictures_media_s(const struct title *t, const struct trick_pictures *p,
                               long from, long n)
{
    const struct title_rendition *r = &t->rends[t->trick->rend];
    double s = 0;
    for (long k = from; k < from + n && k < p->n; k++) {
        long seg = p->seg[k];
        int64_t start = r->range[seg] == INT64_MIN ? t->bounds[seg]
                      : av_rescale_q(r->range[seg], r->tb, t->tb);
        if (start > t->bounds[seg])
            start = t->bounds[seg];
        s += (double)(p->pts[k] - start) * av_q2d(t->tb) + 1.0;
    }
    return s;
}

int produce_trick_item(const char *path, const struct source_io *io,
                       const struct title *t, enum produce_trick which, long i,
                       const struct title_options *o, const atomic_int *stop,
                       uint8_t **out, size_t *len)
{
    const struct trick *tr = t->trick;
    struct work_bound bound;
    struct timespec t0, t1;
    int ret;

    if (!tr)
        return -EINVAL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (which == PRODUCE_IFRAMES) {
        if (i < 0 || i >= tr->iframes.pic.n)
            return -EINVAL;
        work_bound_init(&bound, stop, pictures_media_s(t, &tr->iframes.pic, i, 1));
        ret = iframe_segment(path, io, t, i, &o->video, &bound, out, len);
    } else {
        if (i < 0 || i >= tr->thumbs.nsprite)
            return -EINVAL;
        work_bound_init(&bound, stop, pictures_media_s(t, &tr->thumbs.pic,
                                                       i * TRICK_SPRITE_TILES,
                                                       TRICK_SPRITE_TILES));
        ret = thumbs_sprite(path, io, t, i, &o->video, &bound, out, len);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* a sprite's padding is inside it (thumbs.c logs none) */
        if (which == PRODUCE_IFRAMES)
            log_info("%s: made video/" TRICK_IFRAME_NAME " segment %ld in %.0f ms "
                     "(%.1f%% padding)", path, i, ms,
                     100.0 * (double)(tr->iframes.sizes[i] - *len) /
                         (double)tr->iframes.sizes[i]);
        else
            log_info("%s: made thumbs sprite %ld in %.0f ms", path, i, ms);
    }
    return ret;
}

static int trick_scheduled(struct produce_ctx *c, const struct title *t,
                           enum produce_trick which, long i, uint8_t **out, size_t *len)
{
    struct produce_counter *n = &c->count[PRODUCE_TRICK];
    struct timespec t0, t1;
    int ret;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ret = produce_trick_item(t->source_path, NULL, t, which, i, c->opts, &c->stop, out, len);
    malloc_trim(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        const int64_t *ms = which == PRODUCE_IFRAMES ? t->trick->iframes.start_ms
                                                     : t->trick->thumbs.start_ms;
        atomic_fetch_add(&n->made, 1);
        atomic_fetch_add(&n->busy_us,
                         (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
                                    (t1.tv_nsec - t0.tv_nsec) / 1000));
        atomic_fetch_add(&n->media_ms, (uint64_t)(ms[i + 1] - ms[i]));
    } else if (ret != -ECANCELED) {
        atomic_fetch_add(&n->failed, 1);
    }
    return ret;
}

int produce_scheduled(void *ctx, const struct sched_rendition *sr, long seg,
                      uint8_t **out, size_t *len)
{
    struct produce_ctx *c = ctx;
    const struct title *t = sr->owner;
    const struct title_rendition *r = sr->rend;
    struct produce_counter *n;
    struct timespec t0, t1;
    int ret;

    if (!t || !r)
        return -EINVAL;
    /* a trick-play rendition's view points at its part of t->trick */
    if (t->trick && (sr->rend == (const void *)&t->trick->iframes ||
                     sr->rend == (const void *)&t->trick->thumbs))
        return trick_scheduled(c, t, sr->rend == (const void *)&t->trick->iframes
                                     ? PRODUCE_IFRAMES : PRODUCE_THUMBS, seg, out, len);
    n = &c->count[r->mode == REND_COPY ? PRODUCE_COPY
                  : r->kind == REND_VIDEO ? PRODUCE_VIDEO : PRODUCE_AUDIO];
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ret = produce_segment(t->source_path, NULL, t, r, seg, c->opts, &c->stop, out, len);
    /* the decoder's and encoder's frames were freed: give the pages back
     * rather than keep them in this thread's heap until the next encode */
    malloc_trim(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        atomic_fetch_add(&n->made, 1);
        atomic_fetch_add(&n->busy_us,
                         (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
                                    (t1.tv_nsec - t0.tv_nsec) / 1000));
        atomic_fetch_add(&n->media_ms, (uint64_t)title_segment_ms(t, seg));
    } else if (ret != -ECANCELED) {
        atomic_fetch_add(&n->failed, 1);
    }
    return ret;
}
