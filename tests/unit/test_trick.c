/*
 * test_trick: the pure parts of trick play: how many pictures a title
 * gets and which plan segment each lies in (trick.c), the thumbnails'
 * WebVTT (every region inside its sprite, the cues covering the title),
 * the I-frame playlist, what trick_make derives for a title (sizes, the
 * master's EXT-X-I-FRAME-STREAM-INF line), and JPEG padding (jpegpad.c):
 * exact sizes, well-formed comment segments, and a padded JPEG decoding
 * to the same picture as the unpadded one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "check.h"
#include "hlsfs/jpegpad.h"
#include "hlsfs/title.h"
#include "hlsfs/trick.h"

static void test_count(void)
{
    static const struct { long long ms, step; int up; long n; } cases[] = {
        { 0, 1000, 0, 1 },        { 400, 1000, 0, 1 },     { 999, 1000, 0, 1 },
        { 1000, 1000, 0, 1 },     { 1999, 1000, 0, 1 },    { 2000, 1000, 0, 2 },
        { 17064, 1000, 0, 17 },   { 17999, 1000, 0, 17 },  { 0, 10000, 1, 1 },
        { 9999, 10000, 1, 1 },    { 10000, 10000, 1, 1 },  { 10001, 10000, 1, 2 },
        { 7200000, 10000, 1, 720 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_begin("count/%lld-every-%lld%s", cases[i].ms, cases[i].step,
                    cases[i].up ? "-up" : "");
        CHECK_INT(trick_count(cases[i].ms, cases[i].step, cases[i].up), cases[i].n);
        check_end();
    }
}

/* A plan of 6 s segments at 90 kHz from 10 s, the last 2.5 s. */
#define NSEG 4
static const int64_t bounds[NSEG + 1] = { 900000, 1440000, 1980000, 2520000, 2745000 };
static const int64_t start_ms[NSEG + 1] = { 0, 6000, 12000, 18000, 20500 };

static void test_pictures(void)
{
    struct trick_pictures p;
    check_begin("pictures/times-and-segments");
    CHECK_INT(trick_pictures(&p, start_ms, bounds, NSEG, 1, 90000, 1000,
                             trick_count(20500, 1000, 0)), 0);
    CHECK_INT(p.n, 20);
    for (long k = 0; k < p.n; k++) {
        CHECK_INT(p.pts[k], bounds[0] + k * 90000);
        CHECK(bounds[p.seg[k]] <= p.pts[k] && p.pts[k] < bounds[p.seg[k] + 1],
              "picture %ld at %lld not in its segment %ld", k, (long long)p.pts[k], p.seg[k]);
    }
    CHECK_INT(p.seg[5], 0);
    CHECK_INT(p.seg[6], 1);
    CHECK_INT(p.seg[19], 3);
    free(p.pts);
    free(p.seg);
    check_end();

    check_begin("pictures/clamped-to-the-title");
    /* more pictures than the title holds: the late ones show its end */
    CHECK_INT(trick_pictures(&p, start_ms, bounds, NSEG, 1, 90000, 10000, 4), 0);
    CHECK_INT(p.pts[2], bounds[0] + 20 * 90000);
    CHECK_INT(p.pts[3], bounds[NSEG] - 1);
    CHECK_INT(p.seg[3], NSEG - 1);
    free(p.pts);
    free(p.seg);
    CHECK_INT(trick_pictures(&p, start_ms, bounds, NSEG, 0, 90000, 1000, 3), -EINVAL);
    CHECK_INT(trick_pictures(&p, start_ms, bounds, NSEG, 1, 90000, 1000, 0), -EINVAL);
    check_end();
}

/* Parse "HH:MM:SS.mmm" into ms, -1 when malformed. */
static long long vtt_ms(const char *s)
{
    int h, m, sec, ms, n = 0;
    if (sscanf(s, "%2d:%2d:%2d.%3d%n", &h, &m, &sec, &ms, &n) != 4 || n != 12)
        return -1;
    return ((h * 60LL + m) * 60 + sec) * 1000 + ms;
}

/* The VTT of a title of 'total_ms' (tiles w x h): cues in order without
 * gaps from 0 to the end, each region a whole tile inside its sprite. */
static void check_vtt(long long total_ms, int tw, int th)
{
    struct trick_thumbs t = { .tile_w = tw, .tile_h = th };
    t.pic.n = trick_count(total_ms, TRICK_THUMB_MS, 1);
    t.nsprite = (t.pic.n + TRICK_SPRITE_TILES - 1) / TRICK_SPRITE_TILES;
    char *vtt = trick_thumbs_vtt(&t, total_ms);
    CHECK(vtt != NULL, "no text");
    if (!vtt)
        return;
    CHECK(!strncmp(vtt, "WEBVTT\n\n", 8), "starts %.10s", vtt);
    long long at = 0;
    long cues = 0;
    for (const char *p = strstr(vtt, "\n\n"); p; p = strstr(p, "\n\n")) {
        char file[32];
        long sprite;
        int x, y, w, h, n = 0;
        p += 2;
        long long from = vtt_ms(p), to = strlen(p) > 17 ? vtt_ms(p + 17) : -1;
        CHECK(from == at && to > from && !strncmp(p + 12, " --> ", 5),
              "cue %ld: %.29s, want it to start at %lld", cues, p, at);
        const char *line = strchr(p, '\n');
        if (!line || sscanf(line + 1, "%31[0-9].jpg#xywh=%d,%d,%d,%d%n", file, &x, &y, &w, &h,
                            &n) != 5) {
            CHECK(0, "cue %ld: bad region line", cues);
            break;
        }
        sprite = strtol(file, NULL, 10);
        CHECK(strlen(file) == 5, "sprite name %s", file);
        CHECK_INT(sprite, cues / TRICK_SPRITE_TILES);
        int sw, sh;
        trick_sprite_size(&t, sprite, &sw, &sh);
        CHECK(w == tw && h == th && x >= 0 && y >= 0 && x + w <= sw && y + h <= sh &&
              x % tw == 0 && y % th == 0,
              "cue %ld: %d,%d,%d,%d outside sprite %ld of %dx%d", cues, x, y, w, h, sprite, sw, sh);
        at = to;
        cues++;
        p = line + 1;
    }
    CHECK_INT(cues, t.pic.n);
    CHECK(at == total_ms || (total_ms == 0 && at == 1), "cues end at %lld, the title at %lld",
          at, total_ms);
    free(vtt);
}

static void test_vtt(void)
{
    static const struct { long long ms; int w, h; } cases[] = {
        { 17064, 160, 90 }, { 10000, 160, 90 }, { 5000, 160, 284 }, { 999999, 160, 120 },
        { 7200000, 160, 90 }, { 1000001, 160, 68 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_begin("vtt/%lldms-%dx%d", cases[i].ms, cases[i].w, cases[i].h);
        check_vtt(cases[i].ms, cases[i].w, cases[i].h);
        check_end();
    }
    check_begin("vtt/sprite-sizes");
    struct trick_thumbs t = { .tile_w = 160, .tile_h = 90 };
    int w, h;
    t.pic.n = 123;
    trick_sprite_size(&t, 0, &w, &h);
    CHECK(w == 1600 && h == 900, "sprite 0 %dx%d", w, h);
    CHECK_INT(trick_sprite_tiles(&t, 1), 23);
    trick_sprite_size(&t, 1, &w, &h);
    CHECK(w == 1600 && h == 270, "sprite 1 %dx%d", w, h);
    t.pic.n = 4;
    trick_sprite_size(&t, 0, &w, &h);
    CHECK(w == 640 && h == 90, "a short title's sprite %dx%d", w, h);
    check_end();
}

static void test_playlist(void)
{
    static const int64_t ms[] = { 0, 1000, 2000, 3400 };
    check_begin("iframe-playlist");
    char *pl = trick_iframe_playlist(ms, 3);
    CHECK_STR(pl, "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                  "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-I-FRAMES-ONLY\n"
                  "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
                  "#EXTINF:1.000,\n00000.ts\n#EXTINF:1.000,\n00001.ts\n"
                  "#EXTINF:1.400,\n00002.ts\n#EXT-X-ENDLIST\n");
    free(pl);
    CHECK(trick_iframe_playlist(ms, 0) == NULL, "a playlist of nothing");
    check_end();
}

/* A title of the plan above with a 270x180 and a 1080x720 rung: the
 * pictures take the larger's shape. */
static void test_make(void)
{
    struct title *t = calloc(1, sizeof(*t));
    struct title_rendition *rends = calloc(2, sizeof(*rends)), *r = &rends[1];
    check_begin("make/title");
    t->tb = (AVRational){ 1, 90000 };
    t->nseg = NSEG;
    t->bounds = malloc(sizeof(bounds));
    t->start_ms = malloc(sizeof(start_ms));
    memcpy(t->bounds, bounds, sizeof(bounds));
    memcpy(t->start_ms, start_ms, sizeof(start_ms));
    t->master = strdup("#EXTM3U\n");
    t->master_len = strlen(t->master);
    rends[0] = (struct title_rendition){ .kind = REND_VIDEO, .mode = REND_ENCODE,
                                         .width = 270, .height = 180 };
    snprintf(rends[0].codecs, sizeof(rends[0].codecs), "avc1.64000c");
    r->kind = REND_VIDEO;
    r->mode = REND_ENCODE;
    r->width = 1080;
    r->height = 720;
    snprintf(r->codecs, sizeof(r->codecs), "avc1.64001f");
    t->rends = rends;
    t->nrends = 2;
    CHECK_INT(trick_make(t), 0);
    const struct trick *tr = t->trick;
    CHECK(tr != NULL, "no trick files");
    if (tr) {
        const struct trick_iframes *f = &tr->iframes;
        /* 720 x 320 / 1080 = 213.3: the nearest even height */
        CHECK(f->width == 320 && f->height == 214, "I-frames %dx%d", f->width, f->height);
        CHECK_INT(f->pic.n, 20);
        CHECK_INT(f->start_ms[20], 20500);
        for (long i = 0; i < f->pic.n; i++)
            CHECK(f->sizes[i] % 188 == 0 && f->sizes[i] > trick_iframe_es_bound(320, 214),
                  "segment %ld: %llu bytes", i, (unsigned long long)f->sizes[i]);
        CHECK(!strncmp(f->codecs, "avc1.6400", 9), "CODECS %s", f->codecs);
        char want[256];
        snprintf(want, sizeof(want), "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%llu,"
                 "AVERAGE-BANDWIDTH=%llu,RESOLUTION=320x214,CODECS=\"%s\","
                 "URI=\"video/iframes/index.m3u8\"\n", (unsigned long long)f->peak_bps,
                 (unsigned long long)f->avg_bps, f->codecs);
        CHECK_STR(t->master, want);
        CHECK_INT(t->master_len, strlen(want));
        /* the last segment is 1.5 s: the peak is a whole second's */
        CHECK_INT(f->peak_bps, f->sizes[0] * 8);
        const struct trick_thumbs *th = &tr->thumbs;
        CHECK(th->tile_w == 160 && th->tile_h == 106, "tiles %dx%d", th->tile_w, th->tile_h);
        CHECK_INT(th->pic.n, 3);
        CHECK_INT(th->nsprite, 1);
        CHECK_INT(th->sizes[0], trick_sprite_bytes(480, 106));
        CHECK_INT(th->vtt_len, strlen(th->vtt));
        /* made once: a second call changes nothing */
        CHECK_INT(trick_make(t), 0);
        CHECK_INT(t->master_len, strlen(want));
    }
    trick_free(&t->trick);
    CHECK(t->trick == NULL, "trick_free leaves the pointer");
    free(t->bounds);
    free(t->start_ms);
    free(t->master);
    free(rends);
    free(t);
    check_end();
}

/* Walk a JPEG's markers up to SOS: 0 when every segment's length is in
 * bounds; the comment bytes in *com. */
static int walk_markers(const uint8_t *d, size_t n, size_t *com)
{
    size_t i = 2;
    *com = 0;
    while (i + 4 <= n) {
        if (d[i] != 0xFF)
            return -1;
        uint8_t m = d[i + 1];
        size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
        if (len < 2 || i + 2 + len > n)
            return -1;
        if (m == 0xFE)
            *com += 2 + len;
        if (m == 0xDA)
            return 0;
        i += 2 + len;
    }
    return -1;
}

/* A small JPEG from libavcodec, or NULL when there is no encoder. */
static AVPacket *small_jpeg(void)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ok = 0;
    if (!enc || !f || !pkt)
        goto done;
    enc->width = f->width = 64;
    enc->height = f->height = 48;
    enc->pix_fmt = f->format = AV_PIX_FMT_YUVJ420P;
    enc->time_base = (AVRational){ 1, 1 };
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (avcodec_open2(enc, codec, NULL) < 0 || av_frame_get_buffer(f, 0) < 0)
        goto done;
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < (p ? 24 : 48); y++)
            for (int x = 0; x < (p ? 32 : 64); x++)
                f->data[p][y * f->linesize[p] + x] = (uint8_t)(x * 3 + y * 5 + p * 40);
    ok = avcodec_send_frame(enc, f) >= 0 && avcodec_send_frame(enc, NULL) >= 0 &&
         avcodec_receive_packet(enc, pkt) >= 0;
done:
    avcodec_free_context(&enc);
    av_frame_free(&f);
    if (!ok)
        av_packet_free(&pkt);
    return pkt;
}

/* The luma of a decoded JPEG, malloc'd (64 x 48), or NULL. */
static uint8_t *decode_luma(const uint8_t *d, size_t n)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *dec = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    uint8_t *out = NULL;
    if (!dec || !pkt || !f || avcodec_open2(dec, codec, NULL) < 0 ||
        av_new_packet(pkt, (int)n) < 0)
        goto done;
    memcpy(pkt->data, d, n);
    if (avcodec_send_packet(dec, pkt) < 0 || avcodec_receive_frame(dec, f) < 0 ||
        f->width != 64 || f->height != 48 || !(out = malloc(64 * 48)))
        goto done;
    for (int y = 0; y < 48; y++)
        memcpy(out + y * 64, f->data[0] + y * f->linesize[0], 64);
done:
    avcodec_free_context(&dec);
    av_packet_free(&pkt);
    av_frame_free(&f);
    return out;
}

static void test_jpegpad(void)
{
    AVPacket *pkt = small_jpeg();
    if (!check_begin("jpegpad/sizes-and-decode"))
        goto done;
    if (!pkt) {
        check_skip("no JPEG encoder");
        goto done;
    }
    size_t n = (size_t)pkt->size;
    uint8_t *ref = decode_luma(pkt->data, n);
    CHECK(ref != NULL, "the unpadded JPEG does not decode");
    /* pads of every awkward length: none, the least, around one comment
     * segment's most, several segments */
    const uint64_t pads[] = { 0, 4, 5, 7, 100, 65536, 65537, 65538, 65540, 65541, 131074,
                              131075, 300001 };
    for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
        uint8_t *out = NULL;
        size_t com = 0;
        int ret = jpegpad(pkt->data, n, n + pads[i], &out);
        CHECK(ret == 0, "pad %llu: %d", (unsigned long long)pads[i], ret);
        if (ret)
            continue;
        CHECK(walk_markers(out, (size_t)(n + pads[i]), &com) == 0,
              "pad %llu: bad marker segments", (unsigned long long)pads[i]);
        CHECK(com >= pads[i], "pad %llu: %zu comment bytes", (unsigned long long)pads[i], com);
        CHECK(!memcmp(out + n + pads[i] - 2, "\xFF\xD9", 2), "pad %llu: no EOI at the end",
              (unsigned long long)pads[i]);
        uint8_t *y = decode_luma(out, (size_t)(n + pads[i]));
        CHECK(y && ref && !memcmp(y, ref, 64 * 48), "pad %llu: decodes differently",
              (unsigned long long)pads[i]);
        free(y);
        free(out);
    }
    uint8_t *out = NULL;
    CHECK_INT(jpegpad(pkt->data, n, n + 3, &out), -EOVERFLOW);
    CHECK_INT(jpegpad(pkt->data, n, n + 1, &out), -EOVERFLOW);
    CHECK_INT(jpegpad(pkt->data, n, n - 1, &out), -EOVERFLOW);
    CHECK_INT(jpegpad((const uint8_t *)"\x00\x01\x02\x03\x04", 5, 100, &out), -EINVAL);
    CHECK(out == NULL, "a refused pad left output");
    free(ref);
    check_end();
done:
    av_packet_free(&pkt);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_count();
    test_pictures();
    test_vtt();
    test_playlist();
    test_make();
    test_jpegpad();
    return check_summary("test_trick");
}
