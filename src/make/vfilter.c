/*
 * vfilter: a transcoded rung's libavfilter graph, one per segment.
 *
 *   buffer -> [bwdif] -> [zscale to linear light at the rung's size ->
 *   float RGB -> BT.709 primaries -> hable tone curve -> BT.709 transfer
 *   and matrix, limited range -> yuv420p] -> buffersink
 *
 * bwdif sends one frame per frame and deinterlaces only the frames the
 * decoder marks interlaced, so a source mixing progressive and interlaced
 * pictures keeps its progressive ones as they are. The tone-mapping chain
 * is the usual zscale + tonemap recipe (hable, no desaturation, 100 nits
 * nominal peak); scaling in its first step keeps the float work at the
 * rung's size. Every filter here works on each picture (or slice) alone,
 * from its input pixels only, so the pictures are the same whatever the
 * thread count and whichever run makes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>

#include "hlsfs/vfilter.h"

struct vfilter {
    struct vfilter_config cfg;
    AVFilterGraph   *graph;
    AVFilterContext *src, *sink;
    int              in_w, in_h, in_fmt;    /* what the graph was built for */
    int              ended;                 /* its end was sent             */
};

int vfilter_detect(const AVCodecParameters *par, int dovi_compat)
{
    int flags = 0;
    switch (par->field_order) {
    case AV_FIELD_TT: case AV_FIELD_BB: case AV_FIELD_TB: case AV_FIELD_BT:
        flags |= VFILTER_DEINTERLACE;
        break;
    default:
        break;
    }
    if (par->color_trc == AVCOL_TRC_SMPTE2084)
        flags |= VFILTER_TONEMAP_PQ;
    else if (par->color_trc == AVCOL_TRC_ARIB_STD_B67)
        flags |= VFILTER_TONEMAP_HLG;
    else if (par->color_trc == AVCOL_TRC_UNSPECIFIED) {
        /* Dolby Vision profile 8: the base layer's signal compatibility
         * (1 HDR10, 4 HLG, 6 BT.2100 PQ) says what it is */
        if (dovi_compat == 1 || dovi_compat == 6)
            flags |= VFILTER_TONEMAP_PQ;
        else if (dovi_compat == 4)
            flags |= VFILTER_TONEMAP_HLG;
    }
    return flags;
}

const char *vfilter_describe(int flags)
{
    static const char *const text[] = {
        "", ", deinterlaced", ", tone-mapped from PQ", ", deinterlaced, tone-mapped from PQ",
        ", tone-mapped from HLG", ", deinterlaced, tone-mapped from HLG",
    };
    flags &= VFILTER_DEINTERLACE | VFILTER_TONEMAP;
    if ((flags & VFILTER_TONEMAP) == VFILTER_TONEMAP)
        flags &= ~VFILTER_TONEMAP_HLG;      /* never both: PQ is tested first */
    return text[flags];
}

int vfilter_open(const struct vfilter_config *cfg, struct vfilter **out)
{
    struct vfilter *vf;
    *out = NULL;
    if (!cfg->flags || ((cfg->flags & VFILTER_TONEMAP) && (cfg->width <= 0 || cfg->height <= 0)))
        return AVERROR(EINVAL);
    if (!(vf = calloc(1, sizeof(*vf))))
        return AVERROR(ENOMEM);
    vf->cfg = *cfg;
    *out = vf;
    return 0;
}

void vfilter_reset(struct vfilter *vf)
{
    avfilter_graph_free(&vf->graph);
    vf->src = vf->sink = NULL;
    vf->ended = 0;
}

void vfilter_free(struct vfilter **vf)
{
    if (!*vf)
        return;
    vfilter_reset(*vf);
    free(*vf);
    *vf = NULL;
}

int vfilter_matches(const struct vfilter *vf, const AVFrame *f)
{
    return !vf->graph || (f->width == vf->in_w && f->height == vf->in_h && f->format == vf->in_fmt);
}

/* The chain between the source and the sink, as libavfilter's graph text. */
static void chain_text(const struct vfilter_config *cfg, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    if (cfg->flags & VFILTER_DEINTERLACE)
        n += (size_t)snprintf(buf + n, size - n, "bwdif=mode=send_frame:parity=auto:deint=interlaced");
    if ((cfg->flags & VFILTER_TONEMAP) && n < size)
        snprintf(buf + n, size - n,
                 "%szscale=w=%d:h=%d:f=bicubic:t=linear:npl=100,format=gbrpf32le,"
                 "zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
                 "zscale=t=bt709:m=bt709:r=tv,format=yuv420p",
                 n ? "," : "", cfg->width, cfg->height);
}

static int build_graph(struct vfilter *vf, const AVFrame *f)
{
    char args[256], chain[512];
    AVFilterInOut *outputs = NULL, *inputs = NULL;
    AVRational sar = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio : (AVRational){ 0, 1 };
    int ret;

    if (!(vf->graph = avfilter_graph_alloc()))
        return AVERROR(ENOMEM);
    vf->graph->nb_threads = vf->cfg.threads > 0 ? vf->cfg.threads : 1;
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, vf->cfg.time_base.num, vf->cfg.time_base.den,
             sar.num, sar.den);
    if ((ret = avfilter_graph_create_filter(&vf->src, avfilter_get_by_name("buffer"), "in",
                                            args, NULL, vf->graph)) < 0 ||
        (ret = avfilter_graph_create_filter(&vf->sink, avfilter_get_by_name("buffersink"), "out",
                                            NULL, NULL, vf->graph)) < 0)
        goto fail;
    if (!(outputs = avfilter_inout_alloc()) || !(inputs = avfilter_inout_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    outputs->name = av_strdup("in");
    outputs->filter_ctx = vf->src;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = vf->sink;
    if (!outputs->name || !inputs->name) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    chain_text(&vf->cfg, chain, sizeof(chain));
    if ((ret = avfilter_graph_parse_ptr(vf->graph, chain, &inputs, &outputs, NULL)) < 0 ||
        (ret = avfilter_graph_config(vf->graph, NULL)) < 0)
        goto fail;
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    vf->in_w = f->width;
    vf->in_h = f->height;
    vf->in_fmt = f->format;
    return 0;
fail:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    vfilter_reset(vf);
    return ret;
}

int vfilter_send(struct vfilter *vf, AVFrame *f)
{
    int ret;
    if (!f) {
        if (!vf->graph || vf->ended)
            return 0;
        vf->ended = 1;
        return av_buffersrc_add_frame(vf->src, NULL);
    }
    if (vf->cfg.flags & VFILTER_TONEMAP) {
        /* the stream's transfer, decided at analysis time, wins over a
         * frame's missing tags (a Dolby Vision base layer may have none);
         * BT.2020 where the frame names no matrix or primaries */
        f->color_trc = vf->cfg.flags & VFILTER_TONEMAP_PQ ? AVCOL_TRC_SMPTE2084
                                                         : AVCOL_TRC_ARIB_STD_B67;
        if (f->colorspace == AVCOL_SPC_UNSPECIFIED)
            f->colorspace = AVCOL_SPC_BT2020_NCL;
        if (f->color_primaries == AVCOL_PRI_UNSPECIFIED)
            f->color_primaries = AVCOL_PRI_BT2020;
        if (f->color_range == AVCOL_RANGE_UNSPECIFIED)
            f->color_range = AVCOL_RANGE_MPEG;
    }
    if (!vf->graph && (ret = build_graph(vf, f)) < 0) {
        av_frame_unref(f);
        return ret;
    }
    ret = av_buffersrc_add_frame_flags(vf->src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    av_frame_unref(f);
    return ret;
}

int vfilter_receive(struct vfilter *vf, AVFrame *f)
{
    int ret;
    if (!vf->graph)
        return AVERROR(EAGAIN);
    if ((ret = av_buffersink_get_frame(vf->sink, f)) < 0)
        return ret;
    if (f->pts != AV_NOPTS_VALUE)
        f->pts = av_rescale_q(f->pts, av_buffersink_get_time_base(vf->sink), vf->cfg.time_base);
    f->best_effort_timestamp = f->pts;
    if (vf->cfg.flags & VFILTER_TONEMAP) {
        f->color_primaries = AVCOL_PRI_BT709;
        f->color_trc = AVCOL_TRC_BT709;
        f->colorspace = AVCOL_SPC_BT709;
        f->color_range = AVCOL_RANGE_MPEG;
    }
    return 0;
}
