/*
 * transcode: a video rung's segment, from the source alone.
 *
 * demux from the segment's cut keyframe -> decode -> keep frames whose pts
 * lies in the plan's [bounds[seg], bounds[seg + 1]) -> scale to the rung
 * (and rotate upright) -> libx264, fresh per segment, first frame IDR, no
 * other keyframe -> MPEG-TS padded to the planned size. The decoder runs
 * on past the boundary only to release frames that belong before it
 * (reordered or open-GOP pictures); the next segment drops them.
 *
 * Rate control aims the elementary stream at 95 % of bit_rate x duration
 * (average bit rate); a segment that still overflows its planned size is
 * encoded again at a rate lowered in proportion to the overflow, never
 * truncated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "hlsfs/demux.h"
#include "hlsfs/ladder.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/probe.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"

#define ABR_TARGET   0.95    /* average rate, as a fraction of the bound  */
#define MAX_ATTEMPTS 4

int transcode_level(int w, int h)
{
    int64_t px = (int64_t)w * h;
    if (px <= 414720)
        return 30;
    if (px <= 921600)
        return 31;
    if (px <= 2097152)
        return 40;
    if (px <= 5652480)
        return 50;
    return 51;
}

/* Output picture before rotation (rotation swaps the sides). */
static void prerotate_size(const struct title_rendition *r, int *w, int *h)
{
    int swap = r->rotation == 90 || r->rotation == 270;
    *w = swap ? r->height : r->width;
    *h = swap ? r->width : r->height;
}

/* An encoder with the rung's settings at 'rate'. */
static int open_encoder(const struct title_rendition *r,
                        const struct transcode_config *cfg, AVRational tb,
                        AVRational fps, int64_t rate,
                        const AVFrame *props, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *enc;
    char params[128];
    int ret;

    *out = NULL;
    if (!codec)
        return AVERROR_ENCODER_NOT_FOUND;
    if (!(enc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    enc->width = r->width;
    enc->height = r->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){ 1, 1 };
    enc->time_base = tb;
    enc->framerate = fps.num > 0 ? fps : (AVRational){ 25, 1 };
    enc->thread_count = cfg->threads;
    enc->level = transcode_level(r->width, r->height);
    enc->flags |= AV_CODEC_FLAG_CLOSED_GOP;

    /* average bit rate, no VBV: x264's ABR lands close to its target over
     * a segment, and unlike a VBV cap it gives the same bytes whatever the
     * thread timing. The segment's bound is rate x duration; a segment
     * that comes out larger is encoded again at a lower rate. */
    enc->bit_rate = (int64_t)((double)rate * ABR_TARGET);
    if (props) {
        enc->color_primaries = props->color_primaries;
        enc->color_trc = props->color_trc;
        enc->colorspace = props->colorspace;
        enc->color_range = AVCOL_RANGE_MPEG;
    }
    av_opt_set(enc->priv_data, "preset", cfg->preset, 0);
    av_opt_set(enc->priv_data, "profile", "high", 0);
    av_opt_set(enc->priv_data, "forced-idr", "1", 0);
    /* slice threads, never frame threads: x264's frame threads let the
     * bytes depend on timing; slices of one frame do not */
    snprintf(params, sizeof(params), "keyint=infinite:scenecut=0:open-gop=0%s",
             cfg->threads > 1 ? ":sliced-threads=1" : "");
    av_opt_set(enc->priv_data, "x264-params", params, 0);
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        avcodec_free_context(&enc);
        return ret;
    }
    *out = enc;
    return 0;
}

int transcode_codecs(const struct title_rendition *r,
                     const struct transcode_config *cfg, char *buf, int size)
{
    AVCodecContext *enc = NULL;
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ret = AVERROR(ENOMEM);

    if (!frame || !pkt)
        goto done;
    /* the profile and level x264 writes in its SPS, from one gray frame */
    if ((ret = open_encoder(r, cfg, (AVRational){ 1, 25 }, (AVRational){ 25, 1 },
                            r->bit_rate, NULL, &enc)) < 0)
        goto done;
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = r->width;
    frame->height = r->height;
    if ((ret = av_frame_get_buffer(frame, 0)) < 0)
        goto done;
    for (int p = 0; p < 3; p++)
        memset(frame->data[p], 128, (size_t)frame->linesize[p] * (p ? (r->height + 1) / 2 : r->height));
    frame->pts = 0;
    if ((ret = avcodec_send_frame(enc, frame)) < 0 || (ret = avcodec_send_frame(enc, NULL)) < 0)
        goto done;
    ret = AVERROR_INVALIDDATA;
    while (avcodec_receive_packet(enc, pkt) >= 0) {
        for (int i = 0; i + 7 < pkt->size; i++)
            if (pkt->data[i] == 0 && pkt->data[i + 1] == 0 && pkt->data[i + 2] == 1 &&
                (pkt->data[i + 3] & 0x1f) == 7) {
                snprintf(buf, (size_t)size, "avc1.%02x%02x%02x", pkt->data[i + 4],
                         pkt->data[i + 5], pkt->data[i + 6]);
                ret = 0;
                break;
            }
        av_packet_unref(pkt);
    }
done:
    avcodec_free_context(&enc);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return ret;
}

/* Rotate a planar YUV 4:2:0 picture by 90, 180 or 270 degrees clockwise. */
static void rotate_plane(const uint8_t *src, int sls, int sw, int sh,
                         uint8_t *dst, int dls, int rotation)
{
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) {
            uint8_t v = src[(size_t)y * sls + x];
            int dx, dy;
            if (rotation == 90) {            /* dst is sh wide, sw high */
                dx = sh - 1 - y;
                dy = x;
            } else if (rotation == 270) {
                dx = y;
                dy = sw - 1 - x;
            } else {                         /* 180 */
                dx = sw - 1 - x;
                dy = sh - 1 - y;
            }
            dst[(size_t)dy * dls + dx] = v;
        }
}

static int rotate_frame(const AVFrame *src, AVFrame *dst, int rotation)
{
    for (int p = 0; p < 3; p++) {
        int sw = p ? (src->width + 1) / 2 : src->width;
        int sh = p ? (src->height + 1) / 2 : src->height;
        rotate_plane(src->data[p], src->linesize[p], sw, sh, dst->data[p],
                     dst->linesize[p], rotation);
    }
    return 0;
}

struct run {                    /* one attempt at a segment */
    AVFormatContext *fmt;
    AVCodecContext  *dec, *enc;
    struct SwsContext *sws;
    int              sws_w, sws_h, sws_fmt;   /* what sws was made for  */
    AVFrame         *frame, *scaled, *rotated;
    AVPacket        *pkt, *out_pkt;
    struct mux      *mux;
    int64_t          last_pts;
    int64_t          es_bytes;
    long             frames;
};

static void run_clear(struct run *u)
{
    avformat_close_input(&u->fmt);
    avcodec_free_context(&u->dec);
    avcodec_free_context(&u->enc);
    sws_freeContext(u->sws);
    av_frame_free(&u->frame);
    av_frame_free(&u->scaled);
    av_frame_free(&u->rotated);
    av_packet_free(&u->pkt);
    av_packet_free(&u->out_pkt);
    mux_free(&u->mux);
    memset(u, 0, sizeof(*u));
}

/* Drain encoded packets into the muxer. */
static int drain_encoder(struct run *u)
{
    int ret;
    while ((ret = avcodec_receive_packet(u->enc, u->out_pkt)) >= 0) {
        u->es_bytes += u->out_pkt->size;
        ret = mux_write(u->mux, u->out_pkt);
        av_packet_unref(u->out_pkt);
        if (ret < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

static int setup_output(struct run *u, const struct title_rendition *r,
                        const struct transcode_config *cfg, AVStream *st,
                        int64_t rate, const AVFrame *first)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    int pw, ph, ret;
    if (!par)
        return AVERROR(ENOMEM);
    AVRational fps = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    if ((ret = open_encoder(r, cfg, st->time_base, fps, rate, first, &u->enc)) < 0 ||
        (ret = avcodec_parameters_from_context(par, u->enc)) < 0 ||
        (ret = mux_open(&u->mux, par, u->enc->time_base, 0)) < 0)
        goto done;
    prerotate_size(r, &pw, &ph);
    u->scaled = av_frame_alloc();
    u->rotated = r->rotation ? av_frame_alloc() : NULL;
    if (!u->scaled || (r->rotation && !u->rotated)) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    u->scaled->format = AV_PIX_FMT_YUV420P;
    u->scaled->width = pw;
    u->scaled->height = ph;
    if ((ret = av_frame_get_buffer(u->scaled, 0)) < 0)
        goto done;
    if (u->rotated) {
        u->rotated->format = AV_PIX_FMT_YUV420P;
        u->rotated->width = r->width;
        u->rotated->height = r->height;
        if ((ret = av_frame_get_buffer(u->rotated, 0)) < 0)
            goto done;
    }
done:
    avcodec_parameters_free(&par);
    return ret;
}

/* Scale (and rotate) one decoded frame and give it to the encoder. */
static int encode_frame(struct run *u, const struct title_rendition *r, int threads,
                        AVFrame *in)
{
    int ret;
    /* (re)made when the decoder's output size or pixel format changes */
    if (!u->sws || in->width != u->sws_w || in->height != u->sws_h ||
        in->format != u->sws_fmt) {
        sws_freeContext(u->sws);
        if (!(u->sws = sws_alloc_context()))
            return AVERROR(ENOMEM);
        av_opt_set_int(u->sws, "srcw", in->width, 0);
        av_opt_set_int(u->sws, "srch", in->height, 0);
        av_opt_set_int(u->sws, "src_format", in->format, 0);
        av_opt_set_int(u->sws, "dstw", u->scaled->width, 0);
        av_opt_set_int(u->sws, "dsth", u->scaled->height, 0);
        av_opt_set_int(u->sws, "dst_format", AV_PIX_FMT_YUV420P, 0);
        av_opt_set_int(u->sws, "sws_flags", SWS_BICUBIC, 0);
        /* slices of the picture scaled at once: the same pixels */
        av_opt_set_int(u->sws, "threads", threads, 0);
        if ((ret = sws_init_context(u->sws, NULL, NULL)) < 0) {
            sws_freeContext(u->sws);
            u->sws = NULL;
            return ret;
        }
        u->sws_w = in->width;
        u->sws_h = in->height;
        u->sws_fmt = in->format;
    }
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(in->format);
    int full = in->color_range == AVCOL_RANGE_JPEG ||
               (d && strncmp(d->name, "yuvj", 4) == 0);
    const int *coef = sws_getCoefficients(in->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
                                                                           : SWS_CS_DEFAULT);
    sws_setColorspaceDetails(u->sws, coef, full, coef, 0, 0, 1 << 16, 1 << 16);
    if ((ret = av_frame_make_writable(u->scaled)) < 0)
        return ret;
    if ((ret = sws_scale_frame(u->sws, u->scaled, in)) < 0)
        return ret;
    AVFrame *out = u->scaled;
    if (u->rotated) {
        if ((ret = av_frame_make_writable(u->rotated)) < 0)
            return ret;
        rotate_frame(u->scaled, u->rotated, r->rotation);
        out = u->rotated;
    }
    out->pts = in->best_effort_timestamp;
    out->pict_type = u->frames == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    out->color_range = AVCOL_RANGE_MPEG;
    u->frames++;
    if ((ret = avcodec_send_frame(u->enc, out)) < 0)
        return ret;
    return drain_encoder(u);
}

/* Take the decoder's frames; *done once a frame at or past 'end' shows. */
static int take_frames(struct run *u, const struct title_rendition *r,
                       const struct transcode_config *cfg, AVStream *st,
                       int64_t start, int64_t end, int64_t rate,
                       int *done)
{
    int ret;
    while ((ret = avcodec_receive_frame(u->dec, u->frame)) >= 0) {
        int64_t pts = u->frame->best_effort_timestamp;
        if (pts == AV_NOPTS_VALUE || pts < start || pts <= u->last_pts) {
            av_frame_unref(u->frame);
            continue;
        }
        if (pts >= end) {
            av_frame_unref(u->frame);
            *done = 1;
            return 0;
        }
        u->last_pts = pts;
        if (!u->enc && (ret = setup_output(u, r, cfg, st, rate, u->frame)) < 0)
            return ret;
        ret = encode_frame(u, r, cfg->threads, u->frame);
        av_frame_unref(u->frame);
        if (ret < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* One attempt at 'rate'. On success *out holds the padded segment. */
static int transcode_attempt(const char *path, const struct title *t,
                             const struct title_rendition *r, long seg,
                             const struct transcode_config *cfg, int64_t rate,
                             uint8_t **out, uint64_t *bytes, const char **what)
{
    struct run u = { 0 };
    const AVCodec *codec;
    int64_t start = t->bounds[seg], end = t->bounds[seg + 1];
    int ret, done = 0, started;

    u.last_pts = INT64_MIN;
    *what = "open";
    if ((ret = probe_open_input(path, &u.fmt)) < 0)
        goto fail;
    if (r->src_index < 0 || (unsigned)r->src_index >= u.fmt->nb_streams) {
        ret = AVERROR_INVALIDDATA;
        goto fail;
    }
    AVStream *st = u.fmt->streams[r->src_index];
    for (unsigned i = 0; i < u.fmt->nb_streams; i++)
        u.fmt->streams[i]->discard = i == (unsigned)r->src_index ? AVDISCARD_DEFAULT
                                                                  : AVDISCARD_ALL;
    *what = "decoder";
    if (!(codec = avcodec_find_decoder(st->codecpar->codec_id)) ||
        !(u.dec = avcodec_alloc_context3(codec))) {
        ret = AVERROR_DECODER_NOT_FOUND;
        goto fail;
    }
    if ((ret = avcodec_parameters_to_context(u.dec, st->codecpar)) < 0)
        goto fail;
    u.dec->pkt_timebase = st->time_base;
    /* a decoder's frames are the same whatever its thread count */
    u.dec->thread_count = cfg->threads;
    if ((ret = avcodec_open2(u.dec, codec, NULL)) < 0)
        goto fail;
    if (!(u.frame = av_frame_alloc()) || !(u.pkt = av_packet_alloc()) ||
        !(u.out_pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }

    *what = "seek";
    int64_t cut = r->range[seg];
    if ((ret = demux_seek_before(u.fmt, r, cut, u.pkt)) < 0)
        goto fail;
    *what = "decode";
    started = 0;
    while (!done) {
        int64_t ts = demux_packet_time(r, u.pkt);
        if (!started) {
            /* from the segment's cut keyframe on */
            started = r->key_by_pts ? (u.pkt->flags & AV_PKT_FLAG_KEY) && ts == cut
                                    : ts != AV_NOPTS_VALUE && ts >= cut;
        }
        /* every packet reaches the decoder: when it has frames to give
         * first (EAGAIN), they are taken and the packet sent again */
        while (started && !done) {
            int sent = avcodec_send_packet(u.dec, u.pkt);
            if (sent < 0 && sent != AVERROR(EAGAIN) && sent != AVERROR_INVALIDDATA) {
                ret = sent;
                goto fail;
            }
            if (sent == AVERROR_INVALIDDATA)
                log_warn("%s: video segment %ld: undecodable packet skipped", path, seg);
            if ((ret = take_frames(&u, r, cfg, st, start, end, rate, &done)) < 0)
                goto fail;
            if (sent != AVERROR(EAGAIN))
                break;
        }
        av_packet_unref(u.pkt);
        if (done)
            break;
        if ((ret = demux_read(u.fmt, r, u.pkt, 0)) < 0) {
            if (ret != AVERROR_EOF)
                log_warn("%s: video segment %ld: read stopped early", path, seg);
            /* the end of the source: drain the decoder */
            avcodec_send_packet(u.dec, NULL);
            if ((ret = take_frames(&u, r, cfg, st, start, end, rate, &done)) < 0)
                goto fail;
            break;
        }
    }
    *what = "encode";
    if (!u.enc) {
        ret = AVERROR_INVALIDDATA;      /* not a single frame decoded */
        goto fail;
    }
    if ((ret = avcodec_send_frame(u.enc, NULL)) < 0 || (ret = drain_encoder(&u)) < 0)
        goto fail;
    *what = "mux";
    if ((ret = mux_finish(u.mux, bytes)) < 0)
        goto fail;
    ret = mux_take_padded(u.mux, r->sizes[seg], out);
    if (ret == -EOVERFLOW)
        ret = AVERROR(EOVERFLOW);
fail:
    run_clear(&u);
    return ret;
}

int transcode_segment(const char *path, const struct title *t,
                      const struct title_rendition *r, long seg,
                      const struct transcode_config *cfg, uint8_t **out)
{
    const char *what = "open";
    uint64_t bytes = 0;
    int64_t rate = r->bit_rate;
    int ret = 0;

    *out = NULL;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        ret = transcode_attempt(path, t, r, seg, cfg, rate, out, &bytes, &what);
        if (ret != AVERROR(EOVERFLOW))
            break;
        log_warn("%s: video/%s segment %ld: %" PRIu64 " bytes over the planned %"
                 PRIu64 ", encoding again at a lower rate", path, r->name, seg,
                 bytes, r->sizes[seg]);
        /* aim as far under the plan as this attempt was over it, and at
         * least 10 % lower */
        double cut = bytes ? (double)r->sizes[seg] / (double)bytes : 0.5;
        cut = cut * cut;
        rate = (int64_t)((double)rate * (cut < 0.9 ? cut : 0.9));
    }
    if (ret < 0) {
        char err[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, err, sizeof(err));
        log_error("%s: video/%s segment %ld: %s failed: %s", path, r->name, seg,
                  what, err);
        return -EIO;
    }
    return 0;
}
