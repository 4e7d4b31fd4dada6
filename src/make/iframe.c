/*
 * iframe: a segment of the I-frame rendition, from the source alone.
 *
 * picture.c gives the picture the source shows at the segment's time,
 * scaled to the rendition's size; a fresh libx264 encodes it as one IDR
 * at a constant rate factor (the finest, in quarter steps from 1 to 51,
 * then quantisers to x264's coarsest, whose result fits the planned
 * size, found by bisection, so that the picture takes its size rather
 * than null packets; that size follows the source's keyframe there,
 * budget.h), with pts and dts the
 * picture's time
 * in the title's clock, so that it lines up with the other renditions;
 * mux.c writes it as MPEG-TS. The padding up to the planned size is made
 * by readers, as for every TS segment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

#include "hlsfs/iframe.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/picture.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"
#include "hlsfs/trick.h"
#include "hlsfs/workbound.h"

/* The steps searched: rate factors in quarter steps from CRF_FINEST (the
 * picture nearly as the source has it) to CRF_COARSEST, then constant
 * quantisers past 51 up to x264's coarsest, QP_COARSEST. */
#define CRF_STEPS    4
#define CRF_FINEST   (1 * CRF_STEPS)
#define CRF_COARSEST (51 * CRF_STEPS)
#define QP_COARSEST  69
#define STEP_LAST    (CRF_COARSEST + QP_COARSEST - 51)

static int open_encoder(const struct trick_iframes *f, const struct transcode_config *cfg,
                        AVRational tb, int crf, const AVFrame *pic, AVCodecContext **out)
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
    enc->width = f->width;
    enc->height = f->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){ 1, 1 };
    enc->time_base = tb;
    enc->framerate = (AVRational){ 1, 1 };
    enc->thread_count = 1;
    enc->max_b_frames = 0;
    enc->level = f->level;
    enc->flags |= AV_CODEC_FLAG_CLOSED_GOP;
    enc->color_primaries = pic->color_primaries;
    enc->color_trc = pic->color_trc;
    enc->colorspace = pic->colorspace;
    enc->color_range = AVCOL_RANGE_MPEG;
    av_opt_set(enc->priv_data, "preset", cfg->preset, 0);
    av_opt_set(enc->priv_data, "profile", "high", 0);
    if (crf <= CRF_COARSEST)
        av_opt_set_double(enc->priv_data, "crf", (double)crf / CRF_STEPS, 0);
    else
        av_opt_set_int(enc->priv_data, "qp", 51 + crf - CRF_COARSEST, 0);
    transcode_x264_asm(asm_param, sizeof(asm_param));
    /* one picture, an IDR anyway: keyint=1 would flag the SPS as an
     * intra-only profile (constraint_set3), which CODECS does not name */
    snprintf(params, sizeof(params), "keyint=infinite:scenecut=0:open-gop=0%s", asm_param);
    av_opt_set(enc->priv_data, "x264-params", params, 0);
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        avcodec_free_context(&enc);
        return ret;
    }
    *out = enc;
    return 0;
}

/* One attempt at step 'crf' (rate factor crf / CRF_STEPS up to
 * CRF_COARSEST, a quantiser past 51 beyond): the segment's bytes, or
 * -EOVERFLOW. */
static int encode_attempt(const struct title *t, const struct trick_iframes *f, long i,
                          const struct transcode_config *cfg, int crf, const AVFrame *pic,
                          uint8_t **out, size_t *len, uint64_t *bytes)
{
    AVCodecContext *enc = NULL;
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct mux *mux = NULL;
    int ret, flushed = 0;

    if (!par || !pkt) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    if ((ret = open_encoder(f, cfg, t->tb, crf, pic, &enc)) < 0 ||
        (ret = avcodec_parameters_from_context(par, enc)) < 0 ||
        (ret = mux_open(&mux, par, enc->time_base, 0)) < 0 ||
        (ret = avcodec_send_frame(enc, pic)) < 0)
        goto done;
    for (;;) {
        ret = avcodec_receive_packet(enc, pkt);
        if (ret == AVERROR(EAGAIN) && !flushed) {
            if ((ret = avcodec_send_frame(enc, NULL)) < 0)
                goto done;
            flushed = 1;
            continue;
        }
        if (ret == AVERROR_EOF || ret == AVERROR(EAGAIN))
            break;
        if (ret < 0)
            goto done;
        pkt->pts = pkt->dts = pic->pts;
        ret = mux_write(mux, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto done;
    }
    if ((ret = mux_finish(mux, bytes)) < 0)
        goto done;
    ret = mux_take(mux, f->sizes[i], out, len);
done:
    mux_free(&mux);
    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
    avcodec_free_context(&enc);
    return ret;
}

int iframe_segment(const char *path, const struct source_io *io, const struct title *t,
                   long i, const struct transcode_config *cfg,
                   const struct work_bound *bound, uint8_t **out, size_t *len)
{
    const struct trick *tr = t->trick;
    const struct trick_iframes *f = &tr->iframes;
    struct picture_source *ps = NULL;
    AVFrame *pic = NULL;
    uint64_t bytes = 0;
    const char *what = "open";
    int ret;

    *out = NULL;
    *len = 0;
    if (i < 0 || i >= f->pic.n)
        return -EINVAL;
    if ((ret = picture_open(&ps, path, io, t, &t->rends[tr->rend], cfg->threads, bound)) < 0 ||
        (ret = picture_at(ps, f->pic.pts[i], f->pic.seg[i], f->width, f->height,
                          AV_PIX_FMT_YUV420P, &pic)) < 0) {
        what = picture_step(ps);
        goto done;
    }
    what = "encode";
    /* the finest rate factor whose IDR fits: bytes fall as it rises */
    int lo = CRF_FINEST, hi = STEP_LAST, found = 0;
    while (lo <= hi) {
        int crf = lo + (hi - lo) / 2;
        uint8_t *seg = NULL;
        size_t seg_len = 0;
        if ((ret = work_bound_check(bound)) < 0)
            break;
        ret = encode_attempt(t, f, i, cfg, crf, pic, &seg, &seg_len, &bytes);
        if (ret == -EOVERFLOW) {
            lo = crf + 1;
            continue;
        }
        if (ret < 0)
            break;
        free(*out);
        *out = seg;
        *len = seg_len;
        found = 1;
        hi = crf - 1;
    }
    if (ret >= 0 || (ret == -EOVERFLOW && found))
        ret = found ? 0 : -EOVERFLOW;
done:
    picture_close(&ps);
    av_frame_free(&pic);
    if (work_bound_stopped(bound)) {    /* what was made may be cut short */
        free(*out);
        *out = NULL;
        *len = 0;
        return -ECANCELED;
    }
    if (ret < 0) {
        char err[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, err, sizeof(err));
        log_error("%s: video/" TRICK_IFRAME_NAME " segment %ld: %s failed: %s", path, i,
                  what, ret == -EOVERFLOW ? "larger than planned at the coarsest quantiser"
                                          : err);
        free(*out);
        *out = NULL;
        *len = 0;
        return -EIO;
    }
    return 0;
}
