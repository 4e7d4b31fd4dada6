/*
 * transcode: a video rung's segment, from the source alone.
 *
 * demux from the segment's cut keyframe -> decode -> keep frames whose pts
 * lies in the plan's [bounds[seg], bounds[seg + 1]) -> scale to the rung
 * (and rotate upright; deinterlaced or tone-mapped first when the rung
 * says so: vfilter.h) -> libx264, fresh per segment, first frame IDR, no
 * other keyframe, at the level the rung's CODECS names -> MPEG-TS padded
 * to the planned size. The decoder runs
 * on past the boundary only to release frames that belong before it
 * (reordered or open-GOP pictures); the next segment drops them.
 *
 * Decoding and scaling run on a thread of their own and hand pictures to
 * the encoding thread through a small bounded queue, in order; each side
 * also has 'threads' threads inside (decoder, scaler slices, x264 slices).
 * None of this changes a byte: the pictures and their order are the same.
 *
 * Rate control aims the elementary stream at 95 % of the segment's budget
 * (average bit rate): what its planned size (budget.h) leaves after the
 * MPEG-TS framing. A segment that overflows its planned size, or comes
 * out far under it, is encoded again at a constant rate factor searched
 * for to fill it (search_crf), the last resort a constant coarsest
 * quantiser; never truncated.
 */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/cpu.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "hlsfs/demux.h"
#include "hlsfs/ladder.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/segmux.h"
#include "hlsfs/source.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"
#include "hlsfs/tssize.h"
#include "hlsfs/vfilter.h"
#include "hlsfs/workbound.h"

#define ABR_TARGET   0.95    /* average rate, as a fraction of the bound  */
#define MIN_RATE     8000    /* bit/s no attempt aims under: libx264 counts
                                in kbit/s and refuses to open at 0; below
                                it, the coarsest quantiser             */
#define LAST_RESORT_QP 69    /* the last attempt's constant quantiser:
                                x264's coarsest                        */
#define UNDERSHOOT_PCT 90    /* a segment under this share of its plan ...  */
#define SPEND_AIM    0.95    /* ... is made again, aiming at this share, at
                                a constant rate factor (search_crf), at
                                most FILL_STEPS times ...               */
#define FILL_STEPS   4
#define CRF_FIRST    26.0    /* ... the first from this factor or coarser, */
#define CRF_STEP_MAX 18.0    /* ... at most this much finer than the last */
#define CRF_FINEST   4.0     /* ... and never finer than this             */
#define CRF_COARSEST 51.0
#define FLAT_GAIN    1.03    /* a finer factor that gained less than this
                                ends the search                        */

/* Output picture before rotation (rotation swaps the sides). */
static void prerotate_size(const struct title_rendition *r, int *w, int *h)
{
    int swap = r->rotation == 90 || r->rotation == 270;
    *w = swap ? r->height : r->width;
    *h = swap ? r->width : r->height;
}

/* A new w x h YUV 4:2:0 picture with its buffers, or NULL. */
static AVFrame *new_picture(int w, int h)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    if (av_frame_get_buffer(f, 0) < 0)
        av_frame_free(&f);
    return f;
}

/* x264's "asm" parameter for this machine: the CPU features libavutil
 * detects, without AVX-512. With x264's AVX-512 code the bytes of a
 * segment were seen to differ between runs; limited to AVX2 they did not.
 * Empty (x264's own detection) where there is no AVX-512 to leave out. */
static void x264_asm_param(char *buf, size_t size)
{
    buf[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    static const struct { int av; const char *name; } feats[] = {
        { AV_CPU_FLAG_MMXEXT, "MMX2" }, { AV_CPU_FLAG_SSE, "SSE" },
        { AV_CPU_FLAG_SSE2, "SSE2" },   { AV_CPU_FLAG_SSE3, "SSE3" },
        { AV_CPU_FLAG_SSSE3, "SSSE3" }, { AV_CPU_FLAG_SSE4, "SSE4.1" },
        { AV_CPU_FLAG_SSE42, "SSE4.2" }, { AV_CPU_FLAG_AVX, "AVX" },
        { AV_CPU_FLAG_XOP, "XOP" },     { AV_CPU_FLAG_FMA4, "FMA4" },
        { AV_CPU_FLAG_FMA3, "FMA3" },   { AV_CPU_FLAG_BMI1, "BMI1" },
        { AV_CPU_FLAG_BMI2, "BMI2" },   { AV_CPU_FLAG_AVX2, "AVX2" },
    };
    int flags = av_get_cpu_flags();
    size_t n = 0;
    if (!(flags & AV_CPU_FLAG_AVX512))
        return;
    n += (size_t)snprintf(buf + n, size - n, ":asm=");
    for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]) && n < size; i++)
        if (flags & feats[i].av)
            n += (size_t)snprintf(buf + n, size - n, "%s%s",
                                  buf[n - 1] == '=' ? "" : ",", feats[i].name);
#else
    (void)size;
#endif
}

/* An encoder with the rung's settings at 'rate' (at constant rate factor
 * 'crf' instead when that is above 0). */
static int open_encoder(const struct title_rendition *r,
                        const struct transcode_config *cfg, AVRational tb,
                        AVRational fps, int64_t rate, double crf,
                        const AVFrame *props, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *enc;
    char params[256], asm_param[160];
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
    /* the level the rendition's CODECS declares (h264.c chose it for the
     * rung's size, frame rate and rate), so that the SPS says the same */
    enc->level = title_rendition_level(r);
    enc->flags |= AV_CODEC_FLAG_CLOSED_GOP;

    /* average bit rate, no VBV: x264's ABR lands close to its target over
     * a segment, and unlike a VBV cap it gives the same bytes whatever the
     * thread timing. A segment that comes out over its size, or far
     * under it, is encoded again at a rate factor (search_crf). */
    enc->bit_rate = rate > 0 && crf <= 0 ? (int64_t)((double)rate * ABR_TARGET) : 0;
    if (crf > 0)
        /* filling a segment the average rate left far under its size:
         * a constant rate factor, which spends where the picture shows */
        av_opt_set_double(enc->priv_data, "crf", crf, 0);
    else if (rate <= 0)
        /* the last resort: a constant, coarsest quantiser, which takes
         * fewer bytes than any rate the budget could be missed at */
        av_opt_set_int(enc->priv_data, "qp", LAST_RESORT_QP, 0);
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
    x264_asm_param(asm_param, sizeof(asm_param));
    snprintf(params, sizeof(params), "keyint=infinite:scenecut=0:open-gop=0%s%s",
             cfg->threads > 1 ? ":sliced-threads=1" : "", asm_param);
    av_opt_set(enc->priv_data, "x264-params", params, 0);
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        avcodec_free_context(&enc);
        return ret;
    }
    *out = enc;
    return 0;
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

/* Pictures ready for the encoder, from the decoding thread to the
 * encoding one, in order. A bounded ring: the decoder waits when it is
 * full, the encoder when it is empty. */
#define QUEUE_FRAMES 8

struct frame_queue {
    pthread_mutex_t lock;
    pthread_cond_t  changed;
    AVFrame        *ring[QUEUE_FRAMES];
    int             head, count;
    int             ended;      /* the decoder put its last picture       */
    int             status;     /* once ended: 0 or its error             */
    int             abandoned;  /* the encoder stopped: put no more       */
};

static int queue_init(struct frame_queue *q)
{
    memset(q, 0, sizeof(*q));
    if (pthread_mutex_init(&q->lock, NULL))
        return AVERROR(ENOMEM);
    if (pthread_cond_init(&q->changed, NULL)) {
        pthread_mutex_destroy(&q->lock);
        return AVERROR(ENOMEM);
    }
    return 0;
}

static void queue_destroy(struct frame_queue *q)
{
    while (q->count) {
        av_frame_free(&q->ring[q->head]);
        q->head = (q->head + 1) % QUEUE_FRAMES;
        q->count--;
    }
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
}

/* Takes *f. Returns 0, or AVERROR_EXIT when the encoder has stopped. */
static int queue_put(struct frame_queue *q, AVFrame **f)
{
    int ret = 0;
    pthread_mutex_lock(&q->lock);
    while (q->count == QUEUE_FRAMES && !q->abandoned)
        pthread_cond_wait(&q->changed, &q->lock);
    if (q->abandoned) {
        ret = AVERROR_EXIT;
    } else {
        q->ring[(q->head + q->count) % QUEUE_FRAMES] = *f;
        q->count++;
        *f = NULL;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    av_frame_free(f);
    return ret;
}

static void queue_end(struct frame_queue *q, int status)
{
    pthread_mutex_lock(&q->lock);
    q->ended = 1;
    q->status = status;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
}

/* The next picture in *f, or NULL at the end (returns the decoder's
 * status then). */
static int queue_take(struct frame_queue *q, AVFrame **f)
{
    int ret = 0;
    *f = NULL;
    pthread_mutex_lock(&q->lock);
    while (!q->count && !q->ended)
        pthread_cond_wait(&q->changed, &q->lock);
    if (q->count) {
        *f = q->ring[q->head];
        q->head = (q->head + 1) % QUEUE_FRAMES;
        q->count--;
        pthread_cond_broadcast(&q->changed);
    } else {
        ret = q->status;
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

static void queue_abandon(struct frame_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->abandoned = 1;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
}

/* The decoding side of one attempt, run on a thread of its own: demux
 * from the cut keyframe, decode, keep the segment's frames, scale and
 * rotate them, queue them. */
struct decode_side {
    const char      *path;
    const struct source_io *io;     /* NULL: the file at path              */
    const struct title_rendition *r;
    const struct timeline *timeline;  /* the title's re-timing             */
    long             seg;
    int64_t          start, end;   /* the segment's pts range             */
    int64_t          far;          /* past end by more: a damaged pts     */
    int              threads;
    AVFormatContext *fmt;
    AVStream        *st;
    AVCodecContext  *dec;
    struct SwsContext *sws;
    int              sws_w, sws_h, sws_fmt;   /* what sws was made for  */
    AVFrame         *frame;
    AVPacket        *pkt;
    int64_t          last_pts;
    struct vfilter  *vf;           /* the rung's filters, NULL: none      */
    AVFrame         *filtered;
    int64_t          last_in;      /* the last frame given to vf          */
    long             frames;       /* queued so far                       */
    const struct work_bound *bound;  /* crossed: give up                  */
    long             packets, max_packets;  /* sent to the decoder, bound */
    const char      *what;         /* the step that failed                */
    struct frame_queue *queue;
};

static void decode_side_clear(struct decode_side *d)
{
    source_close_input(d->io, &d->fmt);
    avcodec_free_context(&d->dec);
    sws_freeContext(d->sws);
    d->sws = NULL;
    av_frame_free(&d->frame);
    av_packet_free(&d->pkt);
    vfilter_free(&d->vf);
    av_frame_free(&d->filtered);
}

/* Open the source and its decoder. Runs before the thread starts, so the
 * encoding side may read d->st. */
static int decode_side_open(struct decode_side *d)
{
    const AVCodec *codec;
    int ret;

    d->what = "open";
    if ((ret = source_open_input(d->path, d->io, d->bound, &d->fmt)) < 0)
        return ret;
    if (d->r->src_index < 0 || (unsigned)d->r->src_index >= d->fmt->nb_streams)
        return AVERROR_INVALIDDATA;
    d->st = d->fmt->streams[d->r->src_index];
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        d->fmt->streams[i]->discard = i == (unsigned)d->r->src_index ? AVDISCARD_DEFAULT
                                                                    : AVDISCARD_ALL;
    d->what = "decoder";
    if (!(codec = avcodec_find_decoder(d->st->codecpar->codec_id)) ||
        !(d->dec = avcodec_alloc_context3(codec)))
        return AVERROR_DECODER_NOT_FOUND;
    if ((ret = avcodec_parameters_to_context(d->dec, d->st->codecpar)) < 0)
        return ret;
    d->dec->pkt_timebase = d->st->time_base;
    /* a decoder's frames are the same whatever its thread count */
    d->dec->thread_count = d->threads;
    if ((ret = avcodec_open2(d->dec, codec, NULL)) < 0)
        return ret;
    if (!(d->frame = av_frame_alloc()) || !(d->pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    if (d->r->filters) {
        struct vfilter_config vc = {
            .flags = d->r->filters, .time_base = d->st->time_base, .threads = d->threads,
        };
        prerotate_size(d->r, &vc.width, &vc.height);
        d->what = "filters";
        if ((ret = vfilter_open(&vc, &d->vf)) < 0 || !(d->filtered = av_frame_alloc()))
            return ret < 0 ? ret : AVERROR(ENOMEM);
    }
    return 0;
}

/* Scale (and rotate) one decoded frame into a new picture for the queue. */
static int picture_of(struct decode_side *d, const AVFrame *in, AVFrame **out)
{
    const struct title_rendition *r = d->r;
    AVFrame *scaled = NULL, *pic = NULL;
    int pw, ph, ret;

    *out = NULL;
    prerotate_size(r, &pw, &ph);
    /* (re)made when the decoder's output size or pixel format changes */
    if (!d->sws || in->width != d->sws_w || in->height != d->sws_h ||
        in->format != d->sws_fmt) {
        sws_freeContext(d->sws);
        if (!(d->sws = sws_alloc_context())) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        av_opt_set_int(d->sws, "srcw", in->width, 0);
        av_opt_set_int(d->sws, "srch", in->height, 0);
        av_opt_set_int(d->sws, "src_format", in->format, 0);
        av_opt_set_int(d->sws, "dstw", pw, 0);
        av_opt_set_int(d->sws, "dsth", ph, 0);
        av_opt_set_int(d->sws, "dst_format", AV_PIX_FMT_YUV420P, 0);
        av_opt_set_int(d->sws, "sws_flags", SWS_BICUBIC, 0);
        /* slices of the picture scaled at once: the same pixels */
        av_opt_set_int(d->sws, "threads", d->threads, 0);
        if ((ret = sws_init_context(d->sws, NULL, NULL)) < 0) {
            sws_freeContext(d->sws);
            d->sws = NULL;
            goto fail;
        }
        d->sws_w = in->width;
        d->sws_h = in->height;
        d->sws_fmt = in->format;
    }
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(in->format);
    int full = in->color_range == AVCOL_RANGE_JPEG ||
               (desc && strncmp(desc->name, "yuvj", 4) == 0);
    const int *coef = sws_getCoefficients(in->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
                                                                           : SWS_CS_DEFAULT);
    sws_setColorspaceDetails(d->sws, coef, full, coef, 0, 0, 1 << 16, 1 << 16);
    if (!(scaled = new_picture(pw, ph))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = sws_scale_frame(d->sws, scaled, in)) < 0)
        goto fail;
    if (r->rotation) {
        if (!(pic = new_picture(r->width, r->height))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        rotate_frame(scaled, pic, r->rotation);
        av_frame_free(&scaled);
    } else {
        pic = scaled;
        scaled = NULL;
    }
    pic->pts = in->best_effort_timestamp;
    pic->pict_type = d->frames == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    /* what the encoder is set up with, from the first picture */
    pic->color_primaries = in->color_primaries;
    pic->color_trc = in->color_trc;
    pic->colorspace = in->colorspace;
    pic->color_range = AVCOL_RANGE_MPEG;
    *out = pic;
    return 0;
fail:
    av_frame_free(&scaled);
    av_frame_free(&pic);
    return ret;
}

/* Queue the filtered pictures that belong to the segment. */
static int take_filtered(struct decode_side *d)
{
    int ret;
    while ((ret = vfilter_receive(d->vf, d->filtered)) >= 0) {
        int64_t pts = d->filtered->pts;
        AVFrame *pic;
        if (pts == AV_NOPTS_VALUE || pts < d->start || pts >= d->end || pts <= d->last_pts) {
            av_frame_unref(d->filtered);
            continue;
        }
        d->last_pts = pts;
        if ((ret = work_bound_check(d->bound)) < 0) {
            av_frame_unref(d->filtered);
            return ret;
        }
        ret = picture_of(d, d->filtered, &pic);
        av_frame_unref(d->filtered);
        if (ret < 0 || (ret = queue_put(d->queue, &pic)) < 0)
            return ret;
        d->frames++;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* The end of the segment's frames: the filters' last pictures. */
static int end_filtered(struct decode_side *d)
{
    int ret = vfilter_send(d->vf, NULL);
    return ret < 0 ? ret : take_filtered(d);
}

/* With filters, every decoded frame from the cut keyframe on goes through
 * them, and the first at or past the segment's end too: a deinterlacer
 * looks at a picture's neighbours, and these are the same whichever run
 * makes the segment. What comes out is kept when its pts is the
 * segment's. *done once the frame past the end was given. */
static int filter_frame(struct decode_side *d, int *done)
{
    int64_t pts = d->frame->best_effort_timestamp;
    int ret, last = 0;
    if (pts == AV_NOPTS_VALUE || pts <= d->last_in) {
        av_frame_unref(d->frame);
        return 0;
    }
    if (pts >= d->end) {
        if ((uint64_t)pts - (uint64_t)d->end > (uint64_t)d->far) {
            av_frame_unref(d->frame);      /* a damaged timestamp */
            return 0;
        }
        last = 1;
    }
    d->last_in = pts;
    d->frame->pts = pts;
    if (!vfilter_matches(d->vf, d->frame)) {
        /* the decoder's picture changed size or format: the graph built
         * for the old one gives what it holds, and a new one follows */
        if ((ret = end_filtered(d)) < 0) {
            av_frame_unref(d->frame);
            return ret;
        }
        vfilter_reset(d->vf);
    }
    if ((ret = vfilter_send(d->vf, d->frame)) < 0 || (ret = take_filtered(d)) < 0)
        return ret;
    if (last) {
        *done = 1;
        return end_filtered(d);
    }
    return 0;
}

/* Queue the decoder's frames that belong to the segment; *done once a
 * frame at or past its end shows. */
static int take_frames(struct decode_side *d, int *done)
{
    int ret;
    while ((ret = avcodec_receive_frame(d->dec, d->frame)) >= 0) {
        int64_t pts = d->frame->best_effort_timestamp;
        AVFrame *pic;
        if (d->vf) {
            if ((ret = filter_frame(d, done)) < 0 || *done)
                return ret;
            continue;
        }
        if (pts == AV_NOPTS_VALUE || pts < d->start || pts <= d->last_pts) {
            av_frame_unref(d->frame);
            continue;
        }
        if (pts >= d->end) {
            /* a damaged timestamp far past the end (the plan left its
             * packet out) is dropped; a frame near the end ends it */
            uint64_t past = (uint64_t)pts - (uint64_t)d->end;
            av_frame_unref(d->frame);
            if (past > (uint64_t)d->far)
                continue;
            *done = 1;
            return 0;
        }
        d->last_pts = pts;
        if ((ret = work_bound_check(d->bound)) < 0) {
            av_frame_unref(d->frame);
            return ret;
        }
        ret = picture_of(d, d->frame, &pic);
        av_frame_unref(d->frame);
        if (ret < 0 || (ret = queue_put(d->queue, &pic)) < 0)
            return ret;
        d->frames++;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

static int decode_segment(struct decode_side *d)
{
    const struct title_rendition *r = d->r;
    int64_t cut = r->range[d->seg];
    int ret, done = 0, started = 0;

    d->what = "seek";
    if ((ret = demux_seek_before(d->fmt, r, d->timeline, cut, d->pkt)) < 0)
        return ret;
    d->what = "decode";
    while (!done) {
        int64_t ts = demux_packet_time(r, d->pkt);
        if (!started) {
            /* from the segment's cut keyframe on */
            started = r->key_by_pts ? (d->pkt->flags & AV_PKT_FLAG_KEY) && ts == cut
                                    : ts != AV_NOPTS_VALUE && ts >= cut;
        }
        /* every packet reaches the decoder: when it has frames to give
         * first (EAGAIN), they are taken and the packet sent again */
        if ((ret = work_bound_check(d->bound)) < 0)
            return ret;
        if (started && ++d->packets > d->max_packets) {
            log_error("%s: video segment %ld: %ld packets decoded without reaching "
                      "the segment's end", d->path, d->seg, d->max_packets);
            return AVERROR_INVALIDDATA;
        }
        while (started && !done) {
            int sent = avcodec_send_packet(d->dec, d->pkt);
            if (sent < 0 && sent != AVERROR(EAGAIN) && sent != AVERROR_INVALIDDATA)
                return sent;
            if (sent == AVERROR_INVALIDDATA)
                log_warn("%s: video segment %ld: undecodable packet skipped", d->path, d->seg);
            if ((ret = take_frames(d, &done)) < 0)
                return ret;
            if (sent != AVERROR(EAGAIN))
                break;
        }
        av_packet_unref(d->pkt);
        if (done)
            break;
        if ((ret = demux_read(d->fmt, r, d->timeline, d->pkt, 0)) < 0) {
            /* the file's error (I/O, permissions) fails the segment; the
             * content's ends the stream, as the same bytes always will */
            if (source_error_is_transient(ret))
                return ret;
            if (ret != AVERROR_EOF)
                log_warn("%s: video segment %ld: read stopped early", d->path, d->seg);
            /* the end of the source: drain the decoder (and the filters) */
            avcodec_send_packet(d->dec, NULL);
            if ((ret = take_frames(d, &done)) < 0 || done || !d->vf)
                return ret;
            return end_filtered(d);
        }
    }
    return 0;
}

static void *decode_main(void *arg)
{
    struct decode_side *d = arg;
    queue_end(d->queue, decode_segment(d));
    return NULL;
}

/* The encoding side of one attempt: x264 and the muxer. */
struct encode_side {
    AVCodecContext *enc;
    AVPacket       *pkt;
    struct mux     *mux;
    int64_t         qp_sum;     /* x264's quantiser of each frame, summed */
    long            qp_frames;
    long            frames;     /* packets x264 gave                    */
};

static void encode_side_clear(struct encode_side *e)
{
    avcodec_free_context(&e->enc);
    av_packet_free(&e->pkt);
    mux_free(&e->mux);
}

/* Drain encoded packets into the muxer. */
static int drain_encoder(struct encode_side *e)
{
    int ret;
    while ((ret = avcodec_receive_packet(e->enc, e->pkt)) >= 0) {
        size_t n = 0;
        const uint8_t *q = av_packet_get_side_data(e->pkt, AV_PKT_DATA_QUALITY_STATS, &n);
        if (q && n >= 4) {
            e->qp_sum += (int64_t)AV_RL32(q) / FF_QP2LAMBDA;
            e->qp_frames++;
        }
        e->frames++;
        ret = mux_write(e->mux, e->pkt);
        av_packet_unref(e->pkt);
        if (ret < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

static int encode_side_open(struct encode_side *e, const struct title *t,
                            const struct title_rendition *r, long seg,
                            const struct transcode_config *cfg, const AVStream *st,
                            int64_t rate, double crf, const AVFrame *first)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;
    if (!par || !(e->pkt = av_packet_alloc())) {
        avcodec_parameters_free(&par);
        return AVERROR(ENOMEM);
    }
    AVRational fps = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    if ((ret = open_encoder(r, cfg, st->time_base, fps, rate, crf, first, &e->enc)) >= 0 &&
        (ret = avcodec_parameters_from_context(par, e->enc)) >= 0)
        ret = segmux_open(t, r, seg, par, e->enc->time_base, 1, &e->mux);
    avcodec_parameters_free(&par);
    return ret;
}

/* The packets a segment may send to its decoder: four times what its
 * media time (with the lead-in from the keyframe it is decoded from) holds
 * at the title's frame rate (at least 60 fps), and 1000 more. A damaged
 * source whose timestamps never reach the segment's end stops there. */
long transcode_max_packets(const struct title *t, const struct title_rendition *r,
                           long seg)
{
    double tb = av_q2d(t->tb);
    double span = (double)(t->bounds[seg + 1] - t->bounds[seg]) * tb;
    double lead = r->range[seg] == INT64_MIN ? 0
                : (double)(t->bounds[seg] - av_rescale_q(r->range[seg], r->tb, t->tb)) * tb;
    double fps = t->frame_rate > 60 ? t->frame_rate : 60;
    double n = ((span > 0 ? span : 0) + (lead > 0 ? lead : 0) + 1) * fps * 4 + 1000;
    return n < 1e9 ? (long)n : 1000000000L;
}

int64_t transcode_segment_rate(const struct title *t, const struct title_rendition *r,
                               long seg)
{
    int64_t ms = title_segment_ms(t, seg);
    /* the frames the duration holds at the frame rate as the record keeps
     * it (millionths), so that a title built now and one read back count
     * the same; rounded down, as the plan allowed a few more, so that the
     * target does not fall below the budget */
    long long micro = llround(t->frame_rate * 1e6);
    uint64_t frames = ms > 0 && micro > 0 ? (uint64_t)ms * (uint64_t)micro / 1000000000ull : 1;
    if (ms <= 0)
        return r->bit_rate;
    uint64_t es = segmux_video_payload(t, r->sizes[seg], (long)(frames ? frames : 1), ms);
    uint64_t rate = es * 8000 / (uint64_t)ms;
    return rate < (uint64_t)r->bit_rate ? (int64_t)rate : r->bit_rate;
}

/* One attempt at 'rate' (or at rate factor 'crf' when above 0): the
 * decoding side on a thread of its own feeds this one, which encodes and
 * muxes, so both run at once. On success *out holds the segment's *len
 * bytes (padding not included). */
static int transcode_attempt(const char *path, const struct source_io *io, const struct title *t,
                             const struct title_rendition *r, long seg,
                             const struct transcode_config *cfg,
                             const struct work_bound *bound, int64_t rate, double crf,
                             uint8_t **out, size_t *len, uint64_t *bytes,
                             int *mean_qp, long *frames, const char **what)
{
    struct frame_queue queue;
    struct decode_side d = {
        .path = path, .io = io, .r = r, .timeline = &t->timeline, .seg = seg, .start = t->bounds[seg],
        .end = t->bounds[seg + 1], .far = title_jump(t, t->tb), .threads = cfg->threads, .last_pts = INT64_MIN,
        .last_in = INT64_MIN,
        .queue = &queue, .bound = bound,
        .max_packets = transcode_max_packets(t, r, seg),
    };
    struct encode_side e = { 0 };
    pthread_t decoder;
    AVFrame *pic = NULL;
    int ret, started = 0;

    if ((ret = queue_init(&queue)) < 0) {
        *what = "start";
        return ret;
    }
    if ((ret = decode_side_open(&d)) < 0) {
        *what = d.what;
        goto done;
    }
    if ((ret = pthread_create(&decoder, NULL, decode_main, &d))) {
        *what = "start";
        ret = AVERROR(ret);
        goto done;
    }
    started = 1;
    *what = "encode";
    while ((ret = queue_take(&queue, &pic)) >= 0 && pic) {
        if (!e.enc && (ret = encode_side_open(&e, t, r, seg, cfg, d.st, rate, crf, pic)) < 0)
            break;
        ret = avcodec_send_frame(e.enc, pic);
        av_frame_free(&pic);
        if (ret < 0 || (ret = drain_encoder(&e)) < 0)
            break;
    }
    av_frame_free(&pic);
    queue_abandon(&queue);
    pthread_join(decoder, NULL);
    started = 0;
    if (ret < 0) {
        /* the decoder's error is the one that counts when it ended first */
        if (queue.ended && queue.status < 0) {
            ret = queue.status;
            *what = d.what;
        }
        goto done;
    }
    if (!e.enc) {
        ret = AVERROR_INVALIDDATA;      /* not a single frame decoded */
        goto done;
    }
    if ((ret = avcodec_send_frame(e.enc, NULL)) < 0 || (ret = drain_encoder(&e)) < 0)
        goto done;
    *what = "mux";
    if ((ret = mux_finish(e.mux, bytes)) < 0)
        goto done;
    ret = mux_take(e.mux, r->sizes[seg], out, len);
    if (ret == -EOVERFLOW)
        ret = AVERROR(EOVERFLOW);
    if (mean_qp)
        *mean_qp = e.qp_frames ? (int)(e.qp_sum / e.qp_frames) : -1;
    if (frames)
        *frames = e.frames;
done:
    if (started) {
        queue_abandon(&queue);
        pthread_join(decoder, NULL);
    }
    encode_side_clear(&e);
    decode_side_clear(&d);
    queue_destroy(&queue);
    return ret;
}

/* The bound of one more attempt at a segment: a segment's work of its
 * own (the first attempt's bound is for making the segment at all). */
static void attempt_bound(const struct title *t, const struct title_rendition *r, long seg,
                          const struct work_bound *bound, struct work_bound *own)
{
    double media_s = (double)title_segment_ms(t, seg) / 1000.0;
    if (r->range[seg] != INT64_MIN) {
        int64_t from = av_rescale_q(r->range[seg], r->tb, t->tb);
        if (from < t->bounds[seg])
            media_s += (double)(t->bounds[seg] - from) * av_q2d(t->tb);
    }
    work_bound_init(own, bound->stop, media_s);
}

/* A segment whose first attempt (x264's average rate) came out far under
 * its planned size or over it: average rates miss small targets, as one
 * IDR takes most of a small budget and pictures that barely change cost
 * less than any rate asks, or more than a low one allows. Up to
 * FILL_STEPS more attempts at a constant rate factor: the first guessed
 * from the first attempt's mean quantiser (CRF_FIRST if that is finer,
 * when it fit), six steps for each doubling of the bytes wanted; the next
 * ones between the finest factor that fit and the coarsest that did not,
 * in the logarithm of the bytes. The bytes modelled are the picture's:
 * what a segment holds beyond one TS packet a frame and the tables, which
 * no factor changes. The largest that fits is kept (*len 0 and
 * AVERROR(EOVERFLOW) when none did). Its bytes depend only on the
 * attempts before, so they are as deterministic; running out of time
 * fails the segment, rather than keeping bytes that would depend on the
 * machine's load. */
static int search_crf(const char *path, const struct source_io *io, const struct title *t,
                      const struct title_rendition *r, long seg,
                      const struct transcode_config *cfg, const struct work_bound *bound,
                      int first_qp, long frames, uint64_t first_bytes,
                      uint8_t **out, size_t *len, const char **what)
{
    double fixed = (double)frames * TSSIZE_PACKET +
                   (double)tssize_table_bytes(title_segment_ms(t, seg));
    double target = (double)r->sizes[seg] * SPEND_AIM - fixed;
    double first = fmin(first_qp > 0 ? first_qp : CRF_FIRST, CRF_COARSEST);
    double fit_crf = -1, fit_len = 0, over_crf = -1, over_len = 0;

    if (target <= TSSIZE_PACKET)
        return *len ? 0 : AVERROR(EOVERFLOW);
    if (*len)
        fit_len = fmax((double)*len - fixed, TSSIZE_PACKET);
    else
        over_len = fmax((double)first_bytes - fixed, target + 1);
    for (int step = 0; step < FILL_STEPS && *len < r->sizes[seg] / 100 * UNDERSHOOT_PCT;
         step++) {
        double crf;
        if (!step && fit_len > 0)           /* the average rate fit */
            crf = fmin(first, CRF_FIRST) - fmin(CRF_STEP_MAX, 6.0 * log2(target / fit_len));
        else if (!step)                     /* it did not */
            crf = first + fmin(CRF_STEP_MAX, fmax(1.0, 6.0 * log2(over_len / target)));
        else if (fit_crf > 0 && over_crf > 0)
            crf = fit_crf + (over_crf - fit_crf) * (log(target) - log(fit_len)) /
                            (log(over_len) - log(fit_len));
        else if (fit_crf > 0)
            crf = fit_crf - fmin(CRF_STEP_MAX, 6.0 * log2(target / fit_len));
        else
            crf = over_crf + fmin(CRF_STEP_MAX, fmax(1.0, 6.0 * log2(over_len / target)));
        /* quarter steps, inside what is known */
        crf = floor(crf * 4 + 0.5) / 4;
        if (over_crf > 0 && crf < over_crf + 0.25)
            crf = over_crf + 0.25;
        if (fit_crf > 0 && crf > fit_crf - 0.25)
            crf = fit_crf - 0.25;
        crf = fmax(CRF_FINEST, fmin(CRF_COARSEST, crf));
        if ((fit_crf > 0 && crf >= fit_crf) || (over_crf > 0 && crf <= over_crf))
            break;              /* nothing left between the two */

        uint8_t *more = NULL;
        size_t more_len = 0;
        uint64_t bytes = 0;
        const char *more_what = NULL;
        struct work_bound own;
        if (bound)
            attempt_bound(t, r, seg, bound, &own);
        log_debug("%s: video/%s segment %ld: %" PRIu64 " bytes for the planned %" PRIu64
                  ", encoding again at rate factor %.2f", path, r->name, seg,
                  *len ? (uint64_t)*len : first_bytes, r->sizes[seg], crf);
        int ret = transcode_attempt(path, io, t, r, seg, cfg, bound ? &own : NULL, 0, crf,
                                    &more, &more_len, &bytes, NULL, NULL, &more_what);
        if (ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT)) {
            /* stopped or out of time: the bytes made so far alone would
             * depend on the machine's load, so the segment fails as any
             * segment past its bound */
            free(*out);
            *out = NULL;
            *len = 0;
            *what = more_what;
            return ret;
        }
        if (ret == AVERROR(EOVERFLOW)) {
            over_crf = crf;
            over_len = fmax((double)(bytes ? bytes : r->sizes[seg] + 1) - fixed, target + 1);
            if (crf >= CRF_COARSEST)
                break;
            continue;
        }
        if (ret < 0 || !more_len) {
            free(more);
            break;              /* any other failure: the last that fit stands */
        }
        /* a finer factor that adds next to nothing: the picture is all
         * there is to it (a still, a flat colour); finer ones would not
         * change that either */
        int flat = fit_crf > 0 && (double)more_len - fixed < fit_len * FLAT_GAIN;
        fit_crf = crf;
        fit_len = fmax((double)more_len - fixed, TSSIZE_PACKET);
        if (more_len > *len) {
            free(*out);
            *out = more;
            *len = more_len;
        } else {
            free(more);
        }
        if (flat)
            break;
    }
    return *len ? 0 : AVERROR(EOVERFLOW);
}

int transcode_segment(const char *path, const struct source_io *io, const struct title *t,
                      const struct title_rendition *r, long seg,
                      const struct transcode_config *cfg,
                      const struct work_bound *bound, uint8_t **out, size_t *len)
{
    const char *what = "open";
    uint64_t bytes = 0;
    int64_t rate = transcode_segment_rate(t, r, seg);
    int ret, qp = -1;
    long frames = 0;

    /* a rate libx264 would not take (it counts in kbit/s): the coarsest
     * quantiser instead */
    if (rate < MIN_RATE)
        rate = 0;
    *out = NULL;
    *len = 0;
    ret = transcode_attempt(path, io, t, r, seg, cfg, bound, rate, 0, out, len, &bytes,
                            &qp, &frames, &what);
    log_debug("%s: video/%s segment %ld: mean quantiser %d, %" PRIu64 " bytes for the "
              "planned %" PRIu64, path, r->name, seg, qp, bytes, r->sizes[seg]);
    if (rate > 0 && frames > 0 &&
        (ret == AVERROR(EOVERFLOW) ||
         (ret >= 0 && *len < r->sizes[seg] / 100 * UNDERSHOOT_PCT)))
        ret = search_crf(path, io, t, r, seg, cfg, bound, qp, frames, bytes, out, len, &what);
    if (ret == AVERROR(EOVERFLOW) && rate > 0) {
        /* no rate factor fit: the coarsest quantiser, which takes fewer
         * bytes than any rate */
        struct work_bound own;
        if (bound)
            attempt_bound(t, r, seg, bound, &own);
        log_warn("%s: video/%s segment %ld: over the planned %" PRIu64 " bytes at every "
                 "rate tried, encoding again at the coarsest quantiser", path, r->name, seg,
                 r->sizes[seg]);
        ret = transcode_attempt(path, io, t, r, seg, cfg, bound ? &own : NULL, 0, 0, out,
                                len, &bytes, NULL, NULL, &what);
    }
    if (work_bound_stopped(bound)) {    /* what was made may be cut short */
        log_info("%s: video/%s segment %ld: stopped (shutting down)", path, r->name, seg);
        free(*out);
        *out = NULL;
        *len = 0;
        return -ECANCELED;
    }
    if (ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT)) {
        log_error("%s: video/%s segment %ld: %s gave up: the segment took longer "
                  "than its bound", path, r->name, seg, what);
        return -EIO;
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

void transcode_x264_asm(char *buf, size_t size)
{
    x264_asm_param(buf, size);
}
