/*
 * thumbs: a thumbnail sprite, from the source alone.
 *
 * Each tile is the picture (picture.c) at its thumbnail's time, scaled to
 * the tile size in full-range YUV 4:2:0 and copied into the sprite, left
 * to right, top to bottom; tiles past the last picture stay black. The
 * sprite is encoded by libavcodec's JPEG encoder at a fixed quantiser
 * (bit-exact mode: no encoder version in the file), coarser again while
 * it exceeds its planned size, and padded to exactly that size (jpegpad).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "hlsfs/jpegpad.h"
#include "hlsfs/log.h"
#include "hlsfs/picture.h"
#include "hlsfs/thumbs.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"
#include "hlsfs/trick.h"
#include "hlsfs/workbound.h"

/* JPEG quantiser scales tried, finest first. */
static const int qscales[] = { 3, 5, 8, 12, 18, 31 };

/* Copy a tile into the sprite at (x, y), both even. */
static void put_tile(AVFrame *sprite, const AVFrame *tile, int x, int y)
{
    for (int p = 0; p < 3; p++) {
        int sx = p ? x / 2 : x, sy = p ? y / 2 : y;
        int w = p ? tile->width / 2 : tile->width, h = p ? tile->height / 2 : tile->height;
        for (int row = 0; row < h; row++)
            memcpy(sprite->data[p] + (size_t)(sy + row) * sprite->linesize[p] + sx,
                   tile->data[p] + (size_t)row * tile->linesize[p], (size_t)w);
    }
}

static int encode_jpeg(const AVFrame *sprite, int qscale, AVPacket *pkt)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *enc;
    int ret;

    if (!codec)
        return AVERROR_ENCODER_NOT_FOUND;
    if (!(enc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    enc->width = sprite->width;
    enc->height = sprite->height;
    enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    enc->color_range = AVCOL_RANGE_JPEG;
    enc->time_base = (AVRational){ 1, 1 };
    enc->thread_count = 1;
    enc->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
    enc->global_quality = qscale * FF_QP2LAMBDA;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0)
        goto done;
    AVFrame *f = av_frame_clone(sprite);
    if (!f) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    f->quality = enc->global_quality;
    f->pts = 0;
    ret = avcodec_send_frame(enc, f);
    av_frame_free(&f);
    if (ret < 0 || (ret = avcodec_send_frame(enc, NULL)) < 0)
        goto done;
    ret = avcodec_receive_packet(enc, pkt);
done:
    avcodec_free_context(&enc);
    return ret;
}

int thumbs_sprite(const char *path, const struct source_io *io, const struct title *t,
                  long s, const struct transcode_config *cfg,
                  const struct work_bound *bound, uint8_t **out, size_t *len)
{
    const struct trick *tr = t->trick;
    const struct trick_thumbs *th = &tr->thumbs;
    struct picture_source *ps = NULL;
    AVFrame *sprite = NULL, *tile = NULL;
    AVPacket *pkt = NULL;
    const char *what = "open";
    int w, h, ret;

    *out = NULL;
    *len = 0;
    if (s < 0 || s >= th->nsprite)
        return -EINVAL;
    trick_sprite_size(th, s, &w, &h);
    if (!(sprite = av_frame_alloc()) || !(pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    sprite->format = AV_PIX_FMT_YUVJ420P;
    sprite->width = w;
    sprite->height = h;
    sprite->color_range = AVCOL_RANGE_JPEG;
    if ((ret = av_frame_get_buffer(sprite, 0)) < 0)
        goto done;
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < (p ? h / 2 : h); y++)
            memset(sprite->data[p] + (size_t)y * sprite->linesize[p], p ? 128 : 0,
                   (size_t)(p ? w / 2 : w));
    if ((ret = picture_open(&ps, path, io, t, &t->rends[tr->rend], cfg->threads, bound)) < 0) {
        what = picture_step(ps);
        goto done;
    }
    long first = s * TRICK_SPRITE_TILES, n = trick_sprite_tiles(th, s);
    for (long k = 0; k < n; k++) {
        if ((ret = picture_at(ps, th->pic.pts[first + k], th->pic.seg[first + k], th->tile_w,
                              th->tile_h, AV_PIX_FMT_YUVJ420P, &tile)) < 0) {
            what = picture_step(ps);
            goto done;
        }
        put_tile(sprite, tile, (int)(k % TRICK_SPRITE_COLS) * th->tile_w,
                 (int)(k / TRICK_SPRITE_COLS) * th->tile_h);
        av_frame_free(&tile);
    }
    what = "encode";
    for (size_t q = 0; q < sizeof(qscales) / sizeof(qscales[0]); q++) {
        if ((ret = work_bound_check(bound)) < 0 ||
            (ret = encode_jpeg(sprite, qscales[q], pkt)) < 0)
            break;
        ret = jpegpad(pkt->data, (size_t)pkt->size, th->sizes[s], out);
        if (ret != -EOVERFLOW)
            break;
        log_warn("%s: thumbs sprite %ld: %d bytes over the planned %" PRIu64 " at "
                 "quantiser %d, encoding again coarser", path, s, pkt->size, th->sizes[s],
                 qscales[q]);
        av_packet_unref(pkt);
    }
    if (ret >= 0)
        *len = (size_t)th->sizes[s];
done:
    picture_close(&ps);
    av_frame_free(&tile);
    av_frame_free(&sprite);
    av_packet_free(&pkt);
    if (work_bound_stopped(bound)) {    /* what was made may be cut short */
        free(*out);
        *out = NULL;
        *len = 0;
        return -ECANCELED;
    }
    if (ret < 0) {
        char err[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, err, sizeof(err));
        log_error("%s: thumbs sprite %ld: %s failed: %s", path, s, what,
                  ret == -EOVERFLOW ? "larger than planned at the coarsest quantiser" : err);
        free(*out);
        *out = NULL;
        *len = 0;
        return -EIO;
    }
    return 0;
}
