/*
 * picture: one picture of a title's video at a given time, for the
 * trick-play producers. The source is opened once per job; every picture
 * gets a fresh decoder, is decoded from the cut keyframe of its plan
 * segment (as transcode.c starts that segment) up to the first frame past
 * its time, and the last frame at or before that time is kept, scaled to
 * the size asked and rotated upright as the rungs are. A source its rungs
 * tone-map (HDR, vfilter.h) is tone-mapped the same way, by a fresh graph
 * per picture; deinterlacing, which needs the neighbouring frames, is
 * left to the rungs (a small picture shows little of the combing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "hlsfs/demux.h"
#include "hlsfs/log.h"
#include "hlsfs/picture.h"
#include "hlsfs/source.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"
#include "hlsfs/vfilter.h"
#include "hlsfs/workbound.h"

struct picture_source {
    const char              *path;
    const struct source_io  *io;
    const struct title      *t;
    const struct title_rendition *r;
    const struct work_bound *bound;
    int                      threads;
    AVFormatContext         *fmt;
    AVStream                *st;
    AVPacket                *pkt;
    AVFrame                 *frame;
    const char              *what;
};

int picture_open(struct picture_source **out, const char *path,
                 const struct source_io *io, const struct title *t,
                 const struct title_rendition *r, int threads,
                 const struct work_bound *bound)
{
    struct picture_source *ps = calloc(1, sizeof(*ps));
    int ret;

    *out = NULL;
    if (!ps)
        return AVERROR(ENOMEM);
    *ps = (struct picture_source){ .path = path, .io = io, .t = t, .r = r,
                                   .bound = bound, .threads = threads, .what = "open" };
    if ((ret = source_open_input(path, io, bound, &ps->fmt)) < 0)
        goto fail;
    if (r->src_index < 0 || (unsigned)r->src_index >= ps->fmt->nb_streams) {
        ret = AVERROR_INVALIDDATA;
        goto fail;
    }
    ps->st = ps->fmt->streams[r->src_index];
    for (unsigned i = 0; i < ps->fmt->nb_streams; i++)
        ps->fmt->streams[i]->discard = i == (unsigned)r->src_index ? AVDISCARD_DEFAULT
                                                                  : AVDISCARD_ALL;
    if (!(ps->pkt = av_packet_alloc()) || !(ps->frame = av_frame_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    *out = ps;
    return 0;
fail:
    picture_close(&ps);
    return ret;
}

void picture_close(struct picture_source **pps)
{
    struct picture_source *ps = pps ? *pps : NULL;
    if (!ps)
        return;
    source_close_input(ps->io, &ps->fmt);
    av_packet_free(&ps->pkt);
    av_frame_free(&ps->frame);
    free(ps);
    *pps = NULL;
}

const char *picture_step(const struct picture_source *ps)
{
    return ps ? ps->what : "open";
}

static int open_decoder(struct picture_source *ps, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_decoder(ps->st->codecpar->codec_id);
    AVCodecContext *dec;
    int ret;

    *out = NULL;
    if (!codec || !(dec = avcodec_alloc_context3(codec)))
        return AVERROR_DECODER_NOT_FOUND;
    if ((ret = avcodec_parameters_to_context(dec, ps->st->codecpar)) < 0) {
        avcodec_free_context(&dec);
        return ret;
    }
    dec->pkt_timebase = ps->st->time_base;
    /* a decoder's frames are the same whatever its thread count */
    dec->thread_count = ps->threads;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0) {
        avcodec_free_context(&dec);
        return ret;
    }
    *out = dec;
    return 0;
}

/* Take the decoder's frames: *best becomes the last one at or before
 * 'pts' (or the first after it when none is); *done once a frame past
 * 'pts' shows. Frames before the segment's start (pictures an open GOP
 * leads with) and damaged timestamps far past 'pts' are passed over. */
static int take_frames(struct picture_source *ps, AVCodecContext *dec, int64_t start,
                       int64_t pts, AVFrame **best, int *done)
{
    int64_t far = title_jump(ps->t, ps->t->tb);
    int ret;

    while ((ret = avcodec_receive_frame(dec, ps->frame)) >= 0) {
        int64_t p = ps->frame->best_effort_timestamp;
        if (p == AV_NOPTS_VALUE || p < start ||
            (p > pts && (uint64_t)p - (uint64_t)pts > (uint64_t)far) ||
            (*best && p <= (*best)->pts)) {
            av_frame_unref(ps->frame);
            continue;
        }
        if (p > pts && *best) {
            av_frame_unref(ps->frame);
            *done = 1;
            return 0;
        }
        if (!*best && !(*best = av_frame_alloc())) {
            av_frame_unref(ps->frame);
            return AVERROR(ENOMEM);
        }
        av_frame_unref(*best);
        av_frame_move_ref(*best, ps->frame);
        (*best)->pts = p;
        if (p > pts) {
            *done = 1;
            return 0;
        }
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* The decoded frame shown at pts, from the cut keyframe of seg. */
static int decode_at(struct picture_source *ps, int64_t pts, long seg, AVFrame **best)
{
    const struct title_rendition *r = ps->r;
    const struct title *t = ps->t;
    int64_t cut = r->range[seg];
    long packets = 0, max_packets = transcode_max_packets(t, r, seg);
    AVCodecContext *dec = NULL;
    int ret, done = 0, started = 0;

    ps->what = "decoder";
    if ((ret = open_decoder(ps, &dec)) < 0)
        return ret;
    ps->what = "seek";
    if ((ret = demux_seek_before(ps->fmt, r, &t->timeline, cut, ps->pkt)) < 0)
        goto done;
    ps->what = "decode";
    while (!done) {
        int64_t ts = demux_packet_time(r, ps->pkt);
        if (!started)
            started = r->key_by_pts ? (ps->pkt->flags & AV_PKT_FLAG_KEY) && ts == cut
                                    : ts != AV_NOPTS_VALUE && ts >= cut;
        if ((ret = work_bound_check(ps->bound)) < 0)
            goto done;
        if (started && ++packets > max_packets) {
            ret = AVERROR_INVALIDDATA;
            goto done;
        }
        while (started && !done) {
            int sent = avcodec_send_packet(dec, ps->pkt);
            if (sent < 0 && sent != AVERROR(EAGAIN) && sent != AVERROR_INVALIDDATA) {
                ret = sent;
                goto done;
            }
            if ((ret = take_frames(ps, dec, t->bounds[seg], pts, best, &done)) < 0)
                goto done;
            if (sent != AVERROR(EAGAIN))
                break;
        }
        av_packet_unref(ps->pkt);
        if (done)
            break;
        if ((ret = demux_read(ps->fmt, r, &t->timeline, ps->pkt, 0)) < 0) {
            if (source_error_is_transient(ret))
                goto done;
            /* the end of the source: what the decoder still holds */
            avcodec_send_packet(dec, NULL);
            ret = take_frames(ps, dec, t->bounds[seg], pts, best, &done);
            break;
        }
    }
    if (ret >= 0 && !*best)
        ret = AVERROR_INVALIDDATA;      /* not a single frame decoded */
done:
    av_packet_unref(ps->pkt);
    avcodec_free_context(&dec);
    return ret < 0 ? ret : 0;
}

/* Rotate one plane by 90, 180 or 270 degrees clockwise. */
static void turn_plane(const uint8_t *src, int sls, int sw, int sh, uint8_t *dst,
                       int dls, int rotation)
{
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) {
            int dx = rotation == 90 ? sh - 1 - y : rotation == 270 ? y : sw - 1 - x;
            int dy = rotation == 90 ? x : rotation == 270 ? sw - 1 - x : sh - 1 - y;
            dst[(size_t)dy * dls + dx] = src[(size_t)y * sls + x];
        }
}

static AVFrame *new_frame(int w, int h, enum AVPixelFormat format)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->format = format;
    f->width = w;
    f->height = h;
    if (av_frame_get_buffer(f, 0) < 0)
        av_frame_free(&f);
    return f;
}

static int scale_to(const AVFrame *in, int w, int h, enum AVPixelFormat format,
                    int rotation, AVFrame **out)
{
    int swap = rotation == 90 || rotation == 270;
    int pw = swap ? h : w, ph = swap ? w : h;
    int dst_full = format == AV_PIX_FMT_YUVJ420P;
    struct SwsContext *sws = sws_alloc_context();
    AVFrame *scaled = NULL, *pic = NULL;
    int ret;

    *out = NULL;
    if (!sws)
        return AVERROR(ENOMEM);
    av_opt_set_int(sws, "srcw", in->width, 0);
    av_opt_set_int(sws, "srch", in->height, 0);
    av_opt_set_int(sws, "src_format", in->format, 0);
    av_opt_set_int(sws, "dstw", pw, 0);
    av_opt_set_int(sws, "dsth", ph, 0);
    av_opt_set_int(sws, "dst_format", format, 0);
    av_opt_set_int(sws, "sws_flags", SWS_BICUBIC, 0);
    if ((ret = sws_init_context(sws, NULL, NULL)) < 0)
        goto done;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(in->format);
    int full = in->color_range == AVCOL_RANGE_JPEG ||
               (desc && strncmp(desc->name, "yuvj", 4) == 0);
    const int *coef = sws_getCoefficients(in->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
                                                                           : SWS_CS_DEFAULT);
    sws_setColorspaceDetails(sws, coef, full, coef, dst_full, 0, 1 << 16, 1 << 16);
    if (!(scaled = new_frame(pw, ph, format))) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    if ((ret = sws_scale_frame(sws, scaled, in)) < 0)
        goto done;
    if (rotation == 90 || rotation == 180 || rotation == 270) {
        if (!(pic = new_frame(w, h, format))) {
            ret = AVERROR(ENOMEM);
            goto done;
        }
        for (int p = 0; p < 3; p++)
            turn_plane(scaled->data[p], scaled->linesize[p], p ? pw / 2 : pw,
                       p ? ph / 2 : ph, pic->data[p], pic->linesize[p], rotation);
    } else {
        pic = scaled;
        scaled = NULL;
    }
    pic->color_range = dst_full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    pic->color_primaries = in->color_primaries;
    pic->color_trc = in->color_trc;
    pic->colorspace = in->colorspace;
    *out = pic;
    pic = NULL;
    ret = 0;
done:
    av_frame_free(&scaled);
    av_frame_free(&pic);
    sws_freeContext(sws);
    return ret;
}

/* *f tone-mapped to BT.709 SDR at pw x ph (before rotation), in place. */
static int tone_map(struct picture_source *ps, int flags, int pw, int ph, AVFrame **f)
{
    struct vfilter_config vc = { .flags = flags, .width = pw, .height = ph,
                                 .time_base = ps->st->time_base, .threads = 1 };
    struct vfilter *vf = NULL;
    AVFrame *out = av_frame_alloc();
    int ret;

    if (!out)
        return AVERROR(ENOMEM);
    if ((ret = vfilter_open(&vc, &vf)) >= 0 && (ret = vfilter_send(vf, *f)) >= 0 &&
        (ret = vfilter_send(vf, NULL)) >= 0 && (ret = vfilter_receive(vf, out)) >= 0) {
        av_frame_free(f);
        *f = out;
        out = NULL;
    }
    av_frame_free(&out);
    vfilter_free(&vf);
    return ret < 0 ? ret : 0;
}

int picture_at(struct picture_source *ps, int64_t pts, long seg, int w, int h,
               enum AVPixelFormat format, AVFrame **pic)
{
    int flags = ps->r->mode == REND_ENCODE ? ps->r->filters & VFILTER_TONEMAP : 0;
    int swap = ps->r->rotation == 90 || ps->r->rotation == 270;
    AVFrame *best = NULL;
    int ret;

    *pic = NULL;
    if (seg < 0 || seg >= ps->t->nseg || w < 2 || h < 2 || (w | h) & 1)
        return AVERROR(EINVAL);
    if ((ret = decode_at(ps, pts, seg, &best)) >= 0 && flags) {
        ps->what = "filters";
        ret = tone_map(ps, flags, swap ? h : w, swap ? w : h, &best);
    }
    if (ret >= 0) {
        ps->what = "scale";
        if ((ret = scale_to(best, w, h, format, ps->r->rotation, pic)) >= 0)
            (*pic)->pts = pts;
    }
    av_frame_free(&best);
    return ret;
}
