/*
 * remux: copy one segment's packets of one stream into MPEG-TS.
 *
 * The source is opened afresh for every segment and read from a point at
 * or before the segment's first packet, so the segment depends on nothing
 * but the source and the plan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>

#include "hlsfs/demux.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/source.h"
#include "hlsfs/remux.h"
#include "hlsfs/segmux.h"
#include "hlsfs/transcode.h"
#include "hlsfs/title.h"
#include "hlsfs/workbound.h"

/* A segment's packets, in decode order. */
struct packet_list {
    AVPacket **pkts;
    size_t     n, cap;
};

/* A packet without timestamp joins the previous one, as in the probe. */
static int list_append_to_last(struct packet_list *l, const AVPacket *pkt)
{
    AVPacket *last = l->pkts[l->n - 1];
    int old = last->size, ret;
    if ((ret = av_packet_make_writable(last)) < 0 ||
        (ret = av_grow_packet(last, pkt->size)) < 0)
        return ret;
    memcpy(last->data + old, pkt->data, (size_t)pkt->size);
    return 0;
}

static int list_push(struct packet_list *l, AVPacket *pkt)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        AVPacket **p = realloc(l->pkts, cap * sizeof(*p));
        if (!p)
            return AVERROR(ENOMEM);
        l->pkts = p;
        l->cap = cap;
    }
    if (!(l->pkts[l->n] = av_packet_alloc()))
        return AVERROR(ENOMEM);
    av_packet_move_ref(l->pkts[l->n++], pkt);
    return 0;
}

static void list_clear(struct packet_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        av_packet_free(&l->pkts[i]);
    free(l->pkts);
    memset(l, 0, sizeof(*l));
}

/* Matroska-style sources: decode times made from presentation times,
 * exactly as the size plan made them. */
static int set_decode_times(const struct title_rendition *r, struct packet_list *l)
{
    int64_t *pts = malloc((l->n ? l->n : 1) * sizeof(*pts));
    int64_t *dts = malloc((l->n ? l->n : 1) * sizeof(*dts));
    int ret = AVERROR(ENOMEM);
    if (pts && dts) {
        for (size_t i = 0; i < l->n; i++)
            pts[i] = l->pkts[i]->pts;
        ret = mux_decode_times(pts, l->n, r->dts_shift, dts);
        for (size_t i = 0; ret == 0 && i < l->n; i++)
            l->pkts[i]->dts = dts[i];
        ret = ret < 0 ? AVERROR(ENOMEM) : 0;
    }
    free(pts);
    free(dts);
    return ret;
}

/* How far a is past b (0 when it is not), without overflow. */
static int64_t i64_past(int64_t a, int64_t b)
{
    uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : 0;
    return d > INT64_MAX ? INT64_MAX : (int64_t)d;
}

/* Read the packets of segment [start, end) into l. A packet more than
 * 'far' past the end (or, for the last segment, past last_end, the end of
 * the title) is a damaged timestamp, skipped. */
static int collect_segment(AVFormatContext *fmt, const struct title_rendition *r,
                           const struct timeline *tl, int64_t start, int64_t end, AVPacket *pkt,
                           struct packet_list *l, const struct work_bound *bound,
                           long max_packets, int64_t last_end, int64_t far)
{
    int ret = 0, started = !r->key_by_pts, prev_kept = 0;
    long read = 0;
    while (ret >= 0) {
        if ((ret = work_bound_check(bound)) < 0)
            break;
        if (++read > max_packets) {
            ret = AVERROR_INVALIDDATA;
            break;
        }
        int64_t ts = demux_packet_time(r, pkt);
        int key = !!(pkt->flags & AV_PKT_FLAG_KEY);
        if (ts == AV_NOPTS_VALUE) {
            if (prev_kept && (ret = list_append_to_last(l, pkt)) < 0)
                return ret;
            av_packet_unref(pkt);
            ret = demux_read(fmt, r, tl, pkt, 0);
            continue;
        }
        if (r->key_by_pts) {
            /* from the cut keyframe to the next cut keyframe */
            if (key && ts == start)
                started = 1;
            else if (started && key && ts == end)
                break;
        } else if (ts >= end) {
            /* a damaged timestamp far past the end (the plan left it
             * out) is passed over; the next segment's packets end it */
            if (i64_past(ts, end == INT64_MAX ? last_end : end) <= far)
                break;
            av_packet_unref(pkt);
            ret = demux_read(fmt, r, tl, pkt, 0);
            continue;
        }
        prev_kept = started && ts >= start;
        if (prev_kept && (ret = list_push(l, pkt)) < 0)
            return ret;
        av_packet_unref(pkt);
        ret = demux_read(fmt, r, tl, pkt, 0);
    }
    av_packet_unref(pkt);
    if (ret < 0 && ret != AVERROR_EOF)
        return ret;
    if (r->key_by_pts)
        return started ? set_decode_times(r, l) : AVERROR_INVALIDDATA;
    return 0;
}

static int open_annexb(const AVCodecParameters *par, AVRational tb, AVBSFContext **out)
{
    const AVBitStreamFilter *f = av_bsf_get_by_name("h264_mp4toannexb");
    AVBSFContext *bsf = NULL;
    int ret;
    *out = NULL;
    if (!f)
        return AVERROR_BSF_NOT_FOUND;
    if ((ret = av_bsf_alloc(f, &bsf)) < 0)
        return ret;
    if ((ret = avcodec_parameters_copy(bsf->par_in, par)) < 0 ||
        (bsf->time_base_in = tb, (ret = av_bsf_init(bsf)) < 0)) {
        av_bsf_free(&bsf);
        return ret;
    }
    *out = bsf;
    return 0;
}

/* Send one packet through the filter (if any) into the muxer. */
static int emit(struct mux *m, AVBSFContext *bsf, AVPacket *pkt)
{
    int ret;
    if (pkt->pts == AV_NOPTS_VALUE)
        pkt->pts = pkt->dts;
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    if (!bsf)
        return mux_write(m, pkt);
    if ((ret = av_bsf_send_packet(bsf, pkt)) < 0)
        return ret;
    while ((ret = av_bsf_receive_packet(bsf, pkt)) >= 0) {
        ret = mux_write(m, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) ? 0 : ret;
}

int remux_segment(const char *path, const struct source_io *io, const struct title *t,
                  const struct title_rendition *r, long seg,
                  const struct work_bound *bound, uint8_t **out, size_t *len)
{
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVCodecParameters *par = NULL;
    AVBSFContext *bsf = NULL;
    struct mux *m = NULL;
    struct packet_list list = { 0 };
    uint64_t bytes = 0;
    const char *what = "open";
    int ret;

    *out = NULL;
    *len = 0;
    if (!pkt)
        return -ENOMEM;
    if ((ret = source_open_input(path, io, bound, &fmt)) < 0)
        goto fail;
    what = "streams";
    if (r->src_index < 0 || (unsigned)r->src_index >= fmt->nb_streams) {
        ret = AVERROR_INVALIDDATA;
        goto fail;
    }
    AVStream *st = fmt->streams[r->src_index];
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = st == fmt->streams[i] ? AVDISCARD_DEFAULT
                                                         : AVDISCARD_ALL;
    if (!(par = avcodec_parameters_alloc()) ||
        avcodec_parameters_copy(par, st->codecpar) < 0) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    what = "filter";
    if (r->kind == REND_VIDEO && r->length_size && t->format != TITLE_FORMAT_FMP4) {
        if ((ret = open_annexb(st->codecpar, st->time_base, &bsf)) < 0)
            goto fail;
        av_freep(&par->extradata);      /* as planned: the filter inserts it */
        par->extradata_size = 0;
    }
    what = "mux";
    if ((ret = segmux_open(t, r, seg, par, st->time_base, 0, &m)) < 0)
        goto fail;

    int64_t start = r->range[seg], end = r->range[seg + 1];
    what = "seek";
    if ((ret = demux_seek_before(fmt, r, &t->timeline, start, pkt)) < 0 && ret != AVERROR_EOF)
        goto fail;
    what = "read";
    if (ret >= 0 && (ret = collect_segment(fmt, r, &t->timeline, start, end, pkt, &list, bound,
                                                transcode_max_packets(t, r, seg),
                                                av_rescale_q(t->bounds[t->nseg], t->tb, r->tb),
                                                title_jump(t, r->tb))) < 0)
        goto fail;
    what = "mux";
    for (size_t i = 0; i < list.n; i++)
        if ((ret = emit(m, bsf, list.pkts[i])) < 0)
            goto fail;
    if ((ret = mux_finish(m, &bytes)) < 0)
        goto fail;
    if ((ret = mux_take(m, r->sizes[seg], out, len)) < 0) {
        if (ret == -EOVERFLOW)
            log_error("%s: %s/%s segment %ld: %" PRIu64 " bytes, more than the "
                      "planned %" PRIu64, path, r->kind == REND_VIDEO ? "video" : "audio",
                      r->name, seg, bytes, r->sizes[seg]);
        ret = -EIO;
        goto done;
    }
    ret = 0;
    if (work_bound_stopped(bound)) {    /* what was read may be cut short */
        free(*out);
        *out = NULL;
        *len = 0;
        ret = -ECANCELED;
    }
    goto done;
fail:
    if (work_bound_stopped(bound)) {
        ret = -ECANCELED;
        goto done;
    }
    {
        char err[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, err, sizeof(err));
        log_error("%s: %s/%s segment %ld: %s failed: %s", path,
                  r->kind == REND_VIDEO ? "video" : "audio", r->name, seg, what, err);
        ret = -EIO;
    }
done:
    list_clear(&list);
    mux_free(&m);
    av_bsf_free(&bsf);
    avcodec_parameters_free(&par);
    av_packet_free(&pkt);
    source_close_input(io, &fmt);
    return ret;
}
