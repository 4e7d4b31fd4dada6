/*
 * test_vfilter: which filters a stream needs (vfilter_detect), and the
 * graphs on synthetic pictures: a combed frame comes out with its fields
 * agreeing, one frame per frame, pts kept; a progressive frame passes the
 * deinterlacer unchanged; a 10-bit PQ frame comes out 8-bit 4:2:0 at the
 * asked size tagged BT.709, the same pixels from a second graph; a change
 * of picture size is taken by a new graph.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>

#include "check.h"
#include "hlsfs/vfilter.h"

#define W 64
#define H 48

static void test_detect(void)
{
    AVCodecParameters par = { .field_order = AV_FIELD_PROGRESSIVE,
                              .color_trc = AVCOL_TRC_BT709 };
    check_begin("vfilter/detect");
    CHECK_INT(vfilter_detect(&par, -1), 0);
    par.field_order = AV_FIELD_UNKNOWN;
    CHECK_INT(vfilter_detect(&par, -1), 0);
    par.field_order = AV_FIELD_TT;
    CHECK_INT(vfilter_detect(&par, -1), VFILTER_DEINTERLACE);
    par.field_order = AV_FIELD_BB;
    CHECK_INT(vfilter_detect(&par, -1), VFILTER_DEINTERLACE);
    par.field_order = AV_FIELD_TB;
    par.color_trc = AVCOL_TRC_SMPTE2084;
    CHECK_INT(vfilter_detect(&par, -1), VFILTER_DEINTERLACE | VFILTER_TONEMAP_PQ);
    par.field_order = AV_FIELD_PROGRESSIVE;
    par.color_trc = AVCOL_TRC_ARIB_STD_B67;
    CHECK_INT(vfilter_detect(&par, -1), VFILTER_TONEMAP_HLG);
    /* Dolby Vision profile 8: the base layer's compatibility names the
     * transfer only when the stream does not */
    par.color_trc = AVCOL_TRC_UNSPECIFIED;
    CHECK_INT(vfilter_detect(&par, 1), VFILTER_TONEMAP_PQ);
    CHECK_INT(vfilter_detect(&par, 4), VFILTER_TONEMAP_HLG);
    CHECK_INT(vfilter_detect(&par, 2), 0);          /* SDR base layer */
    CHECK_INT(vfilter_detect(&par, 0), 0);          /* profile 5: no base layer */
    par.color_trc = AVCOL_TRC_BT709;
    CHECK_INT(vfilter_detect(&par, 4), 0);
    CHECK(!strcmp(vfilter_describe(0), ""), "no filter, no words");
    CHECK(!strcmp(vfilter_describe(VFILTER_DEINTERLACE | VFILTER_TONEMAP_HLG),
                  ", deinterlaced, tone-mapped from HLG"), "described");
    check_end();
}

/* Frame i of an edge moving right by 8 pixels a frame, bright left of it,
 * dark right of it; the bottom field (odd lines) half a frame later, 4
 * pixels on. Between the two edges the lines comb. */
#define EDGE_TOP(i)  (16 + 8 * (i))
#define EDGE_BOT(i)  (20 + 8 * (i))
#define BETWEEN(i)   (EDGE_TOP(i) + 2)

static AVFrame *woven(int w, int h, int i, int interlaced, int64_t pts)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            f->data[0][y * f->linesize[0] + x] = x < (y % 2 ? EDGE_BOT(i) : EDGE_TOP(i)) ? 200 : 40;
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < h / 2; y++)
            memset(f->data[p] + y * f->linesize[p], 128, (size_t)w / 2);
    f->interlaced_frame = interlaced;
    f->top_field_first = 1;
    f->pts = pts;
    return f;
}

/* The largest luma step between neighbouring lines in column x. */
static int comb(const AVFrame *f, int x)
{
    int worst = 0;
    for (int y = 3; y < f->height - 3; y++) {
        int d = abs(f->data[0][y * f->linesize[0] + x] -
                    f->data[0][(y - 1) * f->linesize[0] + x]);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* Send n frames (interlaced or not), end, collect: *out frames. */
static int run_deint(int interlaced, AVFrame **got, int max, int *n)
{
    struct vfilter_config cfg = { .flags = VFILTER_DEINTERLACE, .time_base = { 1, 90000 },
                                  .threads = 2 };
    struct vfilter *vf = NULL;
    int ret;
    *n = 0;
    if ((ret = vfilter_open(&cfg, &vf)) < 0)
        return ret;
    for (int i = 0; i < 4 && ret >= 0; i++) {
        AVFrame *f = woven(W, H, i, interlaced, 3003 * i);
        ret = f ? vfilter_send(vf, f) : -1;
        av_frame_free(&f);
        while (ret >= 0 && *n < max) {
            AVFrame *o = av_frame_alloc();
            if (vfilter_receive(vf, o) < 0) {
                av_frame_free(&o);
                break;
            }
            got[(*n)++] = o;
        }
    }
    if (ret >= 0)
        ret = vfilter_send(vf, NULL);
    while (ret >= 0 && *n < max) {
        AVFrame *o = av_frame_alloc();
        if (vfilter_receive(vf, o) < 0) {
            av_frame_free(&o);
            break;
        }
        got[(*n)++] = o;
    }
    vfilter_free(&vf);
    CHECK(!vf, "freed");
    return ret;
}

static void test_deinterlace(void)
{
    AVFrame *got[8] = { 0 };
    int n;

    check_begin("vfilter/deinterlace-combed");
    CHECK_INT(run_deint(1, got, 8, &n), 0);
    CHECK_INT(n, 4);                               /* one frame per frame */
    for (int i = 0; i < n; i++) {
        CHECK_INT(got[i]->pts, 3003 * i);           /* in the stream's time base */
        CHECK(comb(got[i], BETWEEN(i)) < 40, "frame %d still combed: lines differ by %d", i,
              comb(got[i], BETWEEN(i)));
        av_frame_free(&got[i]);
    }
    check_end();

    check_begin("vfilter/progressive-untouched");
    CHECK_INT(run_deint(0, got, 8, &n), 0);
    CHECK_INT(n, 4);
    for (int i = 0; i < n; i++) {
        CHECK_INT(comb(got[i], BETWEEN(i)), 160);   /* the lines as they were */
        av_frame_free(&got[i]);
    }
    check_end();
}

/* A 10-bit PQ frame through the tone-mapping graph to 32x24. */
static AVFrame *tonemapped(int64_t pts)
{
    struct vfilter_config cfg = { .flags = VFILTER_TONEMAP_PQ, .width = 32, .height = 24,
                                  .time_base = { 1, 1000 }, .threads = 1 };
    struct vfilter *vf = NULL;
    AVFrame *f = av_frame_alloc(), *o = av_frame_alloc();
    int ok = f && o && vfilter_open(&cfg, &vf) == 0;
    if (ok) {
        f->format = AV_PIX_FMT_YUV420P10LE;
        f->width = W;
        f->height = H;
        ok = av_frame_get_buffer(f, 0) == 0;
    }
    if (ok) {
        for (int p = 0; p < 3; p++)
            for (int y = 0; y < (p ? H / 2 : H); y++) {
                uint16_t *row = (uint16_t *)(f->data[p] + y * f->linesize[p]);
                for (int x = 0; x < (p ? W / 2 : W); x++)
                    row[x] = p ? 512 : 64 + (x * 876) / W;   /* grey: no gamut clipping */
            }
        f->color_trc = AVCOL_TRC_UNSPECIFIED;    /* the stream's decision holds */
        f->color_primaries = AVCOL_PRI_BT2020;
        f->colorspace = AVCOL_SPC_BT2020_NCL;
        f->color_range = AVCOL_RANGE_MPEG;
        f->pts = pts;
        ok = vfilter_send(vf, f) == 0 && vfilter_send(vf, NULL) == 0 &&
             vfilter_receive(vf, o) == 0;
    }
    av_frame_free(&f);
    vfilter_free(&vf);
    if (!ok)
        av_frame_free(&o);
    return o;
}

static void test_tonemap(void)
{
    AVFrame *a, *b;
    check_begin("vfilter/tonemap-pq");
    a = tonemapped(40);
    b = tonemapped(40);
    CHECK(a && b, "a picture out");
    if (a && b) {
        CHECK_INT(a->format, AV_PIX_FMT_YUV420P);
        CHECK_INT(a->width, 32);
        CHECK_INT(a->height, 24);
        CHECK_INT(a->pts, 40);
        CHECK_INT(a->color_primaries, AVCOL_PRI_BT709);
        CHECK_INT(a->color_trc, AVCOL_TRC_BT709);
        CHECK_INT(a->colorspace, AVCOL_SPC_BT709);
        CHECK_INT(a->color_range, AVCOL_RANGE_MPEG);
        /* the grey ramp stays a rising ramp from limited-range black
         * (the bicubic scaler may overshoot white a little) */
        const uint8_t *row = a->data[0] + 12 * a->linesize[0];
        int rising = 1;
        for (int x = 1; x < 32; x++)
            rising &= row[x] >= row[x - 1];
        CHECK(row[0] >= 16 && row[0] < 40 && row[31] > 200 && rising,
              "luma ramp %d..%d, rising %d", row[0], row[31], rising);
        int same = 1;
        for (int y = 0; y < 24; y++)
            same &= !memcmp(a->data[0] + y * a->linesize[0], b->data[0] + y * b->linesize[0], 32);
        CHECK(same, "two graphs gave different pixels");
    }
    av_frame_free(&a);
    av_frame_free(&b);
    check_end();
}

static void test_size_change(void)
{
    struct vfilter_config cfg = { .flags = VFILTER_DEINTERLACE, .time_base = { 1, 25 },
                                  .threads = 1 };
    struct vfilter *vf = NULL;
    AVFrame *f = NULL, *o = av_frame_alloc();
    int n = 0;

    check_begin("vfilter/size-change-new-graph");
    CHECK_INT(vfilter_open(&cfg, &vf), 0);
    f = woven(W, H, 0, 1, 0);
    CHECK(vfilter_matches(vf, f), "any frame matches before the first");
    CHECK_INT(vfilter_send(vf, f), 0);
    av_frame_free(&f);
    f = woven(W * 2, H * 2, 1, 1, 1);
    CHECK(!vfilter_matches(vf, f), "a larger frame does not match");
    CHECK_INT(vfilter_send(vf, NULL), 0);
    while (vfilter_receive(vf, o) == 0) {
        CHECK_INT(o->width, W);
        av_frame_unref(o);
        n++;
    }
    vfilter_reset(vf);
    CHECK_INT(vfilter_send(vf, f), 0);
    av_frame_free(&f);
    CHECK_INT(vfilter_send(vf, NULL), 0);
    while (vfilter_receive(vf, o) == 0) {
        CHECK_INT(o->width, W * 2);
        CHECK_INT(o->pts, 1);
        av_frame_unref(o);
        n++;
    }
    CHECK_INT(n, 2);
    av_frame_free(&o);
    vfilter_free(&vf);
    check_end();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_detect();
    test_deinterlace();
    test_tonemap();
    test_size_change();
    return check_summary("test_vfilter");
}
