/*
 * test_fmp4: the fMP4 segment format (fmp4.c, through mux.c's muxer):
 * the size model is exact for tables of sample counts and sizes of both
 * track kinds, and its inverse gives back the payload; a segment taken
 * into a planned size and read with its padding is a sequence of boxes
 * that ends exactly at the planned size (a 'free' box, or a longer mdat
 * for a slack under a box header); tfdt is the first sample's
 * presentation time plus the offset, with signed composition offsets;
 * Annex B samples become NAL lengths; init segments of each codec name
 * the CODECS their sample entries hold and a rotation in the track
 * header; a VP9 keyframe header gives its profile and pixel format.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/intreadwrite.h>

#include "check.h"
#include "hlsfs/fmp4.h"
#include "hlsfs/mux.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The offset of box 'type' among the boxes of [from, to), or -1. */
static long find_box(const uint8_t *b, long from, long to, const char *type)
{
    while (from + 8 <= to) {
        uint32_t size = AV_RB32(b + from);
        if (size < 8 || from + (long)size > to)
            return -1;
        if (!memcmp(b + from + 4, type, 4))
            return from;
        from += size;
    }
    return -1;
}

/* Top-level boxes of a whole segment: their types into 'types' (4 chars
 * each, up to 'max'); returns their count, or -1 unless they end exactly
 * at len. */
static int top_boxes(const uint8_t *b, uint64_t len, char *types, int max)
{
    uint64_t at = 0;
    int n = 0;
    while (at < len) {
        if (len - at < 8)
            return -1;
        uint32_t size = AV_RB32(b + at);
        if (size < 8 || at + size > len)
            return -1;
        if (n < max)
            memcpy(types + 4 * n, b + at + 4, 4);
        n++;
        at += size;
    }
    return n;
}

static void make_packet(AVPacket *pkt, int size, int64_t pts, int64_t dts, int key,
                        unsigned seed)
{
    av_new_packet(pkt, size);
    for (int i = 0; i < size; i++)
        pkt->data[i] = (uint8_t)(seed * 31 + (unsigned)i * 7 + 1);
    pkt->pts = pts;
    pkt->dts = dts;
    pkt->duration = 0;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
}

/* One segment of n samples of sizes from 'sizes' (cycled): video with a
 * B-frame pattern (pts two frames ahead of dts every other frame), or
 * audio of 1024-sample frames. */
static int write_segment(enum fmp4_kind kind, int n, const int *sizes, int nsizes,
                         uint8_t **out, size_t *len, uint64_t *total, uint64_t *payload,
                         uint64_t planned_slack)
{
    const struct fmp4_seg_config c = {
        .kind = kind, .tb = kind == FMP4_VIDEO ? (AVRational){ 1, 90000 } : (AVRational){ 1, 48000 },
        .track_tb = kind == FMP4_VIDEO ? (AVRational){ 1, 90000 } : (AVRational){ 1, 48000 },
        .sequence = 7,
    };
    struct mux *m = NULL;
    AVPacket *pkt = av_packet_alloc();
    int ret = mux_open_fmp4(&m, &c);
    *payload = 0;
    for (int i = 0; ret >= 0 && i < n; i++) {
        int size = sizes[i % nsizes];
        int64_t dts = kind == FMP4_VIDEO ? 90000 + i * 3600 : 48000 + i * 1024;
        int64_t pts = kind == FMP4_VIDEO ? dts + (i % 2 ? 0 : 7200) : dts;
        make_packet(pkt, size, pts, dts, i == 0, (unsigned)i);
        ret = mux_write(m, pkt);
        av_packet_unref(pkt);
        *payload += (uint64_t)size;
    }
    if (ret >= 0)
        ret = mux_finish(m, total);
    if (ret >= 0)
        ret = mux_take(m, *total + planned_slack, out, len);
    mux_free(&m);
    av_packet_free(&pkt);
    return ret;
}

static void test_size_model(void)
{
    static const int sizes_a[] = { 1 }, sizes_b[] = { 5000, 12, 300, 77777 },
                     sizes_c[] = { 371, 380, 402 };
    static const struct {
        enum fmp4_kind kind;
        int            n;
        const int     *sizes;
        int            nsizes;
    } cases[] = {
        { FMP4_VIDEO, 0, sizes_a, 1 },   { FMP4_VIDEO, 1, sizes_a, 1 },
        { FMP4_VIDEO, 150, sizes_b, 4 }, { FMP4_VIDEO, 601, sizes_c, 3 },
        { FMP4_AUDIO, 1, sizes_c, 3 },   { FMP4_AUDIO, 282, sizes_c, 3 },
        { FMP4_AUDIO, 47, sizes_b, 4 },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        uint64_t total = 0, payload = 0;
        check_begin("size/%s-%d", cases[i].kind == FMP4_VIDEO ? "video" : "audio", cases[i].n);
        CHECK_INT(write_segment(cases[i].kind, cases[i].n, cases[i].sizes, cases[i].nsizes,
                                &buf, &len, &total, &payload, 0), 0);
        CHECK_INT(total, fmp4_segment_bytes(cases[i].kind, cases[i].n, payload));
        CHECK_INT(len, total);
        CHECK_INT(fmp4_payload_bytes(cases[i].kind, cases[i].n,
                                     fmp4_segment_bytes(cases[i].kind, cases[i].n, payload)),
                  payload);
        CHECK_INT(fmp4_payload_bytes(cases[i].kind, cases[i].n, 10), 0);
        char types[16];
        CHECK_INT(buf ? top_boxes(buf, len, types, 4) : -1, 2);
        CHECK(buf && !memcmp(types, "moofmdat", 8), "moof then mdat");
        free(buf);
        check_end();
    }
}

/* A segment planned 0..20 bytes over its size: read whole with its
 * padding, its boxes end exactly at the planned size. */
static void test_padding(void)
{
    static const int sizes[] = { 999, 31 };
    for (int slack = 0; slack <= 20; slack++) {
        uint8_t *buf = NULL, *whole = NULL, *piece = NULL;
        size_t len = 0;
        uint64_t total = 0, payload = 0;
        check_begin("padding/slack-%d", slack);
        CHECK_INT(write_segment(FMP4_VIDEO, 9, sizes, 2, &buf, &len, &total, &payload,
                                (uint64_t)slack), 0);
        uint64_t planned = total + (uint64_t)slack;
        CHECK_INT(len, slack && slack < FMP4_FREE_MIN ? planned : total);
        whole = malloc(planned + 16);
        piece = malloc(planned + 16);
        if (buf && whole && piece) {
            CHECK_INT(fmp4_read_padded(buf, len, planned, 0, whole, planned + 16), planned);
            char types[16];
            int n = top_boxes(whole, planned, types, 4);
            CHECK_INT(n, slack >= FMP4_FREE_MIN ? 3 : 2);
            if (n == 3)
                CHECK(!memcmp(types + 8, "free", 4), "the padding is a free box");
            /* any range reads as the same bytes */
            for (uint64_t off = 0; off < planned; off += 13) {
                size_t got = fmp4_read_padded(buf, len, planned, off, piece, 29);
                CHECK_INT(got, planned - off < 29 ? planned - off : 29);
                CHECK(!memcmp(piece, whole + off, got), "range at %llu", (unsigned long long)off);
            }
            CHECK_INT(fmp4_read_padded(buf, len, planned, planned, piece, 5), 0);
        }
        free(buf);
        free(whole);
        free(piece);
        check_end();
    }
    check_begin("padding/overflow");
    {
        uint8_t *buf = NULL;
        size_t len = 0;
        const struct fmp4_seg_config c = { .kind = FMP4_AUDIO, .tb = { 1, 48000 },
                                           .track_tb = { 1, 48000 }, .sequence = 1 };
        struct mux *m = NULL;
        AVPacket *pkt = av_packet_alloc();
        uint64_t total = 0;
        CHECK_INT(mux_open_fmp4(&m, &c), 0);
        make_packet(pkt, 100, 0, 0, 1, 1);
        CHECK_INT(mux_write(m, pkt), 0);
        CHECK_INT(mux_finish(m, &total), 0);
        CHECK_INT(mux_take(m, total - 1, &buf, &len), -EOVERFLOW);
        CHECK(!buf, "nothing handed over");
        mux_free(&m);
        av_packet_free(&pkt);
    }
    check_end();
}

/* tfdt, trun: the first sample's presentation time plus the offset,
 * signed composition offsets, durations from decode times. */
static void test_times(void)
{
    static const int sizes[] = { 100 };
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t total = 0, payload = 0;
    check_begin("times/video");
    CHECK_INT(write_segment(FMP4_VIDEO, 4, sizes, 1, &buf, &len, &total, &payload, 0), 0);
    if (buf) {
        long moof = find_box(buf, 0, (long)len, "moof");
        long traf = moof >= 0 ? find_box(buf, moof + 8, moof + (long)AV_RB32(buf + moof), "traf") : -1;
        long end = traf >= 0 ? traf + (long)AV_RB32(buf + traf) : -1;
        long tfdt = traf >= 0 ? find_box(buf, traf + 8, end, "tfdt") : -1;
        long trun = traf >= 0 ? find_box(buf, traf + 8, end, "trun") : -1;
        long mfhd = moof >= 0 ? find_box(buf, moof + 8, moof + (long)AV_RB32(buf + moof), "mfhd") : -1;
        CHECK(tfdt > 0 && trun > 0 && mfhd > 0, "boxes found");
        if (tfdt > 0 && trun > 0 && mfhd > 0) {
            CHECK_INT(AV_RB32(buf + mfhd + 12), 7);
            CHECK_INT(buf[tfdt + 8], 1);
            /* first pts 1 s + 7200 ticks, plus 1.4 s */
            CHECK_INT(AV_RB64(buf + tfdt + 12), 90000 + 7200 + 90000 * FMP4_OFFSET_MS / 1000);
            CHECK_INT(buf[trun + 8], 1);
            CHECK_INT(AV_RB32(buf + trun + 12), 4);
            CHECK_INT(AV_RB32(buf + trun + 16), AV_RB32(buf + moof) + 8);
            const uint8_t *e = buf + trun + 20;
            /* sample 0: key, offset 0; sample 1: pts == dts, so -7200 */
            CHECK_INT(AV_RB32(e), 3600);
            CHECK_INT(AV_RB32(e + 4), 100);
            CHECK_INT(AV_RB32(e + 8), 0x02000000);
            CHECK_INT((int32_t)AV_RB32(e + 12), 0);
            CHECK_INT(AV_RB32(e + 24), 0x01010000);
            CHECK_INT((int32_t)AV_RB32(e + 28), -7200);
            /* the last sample: the one before's duration */
            CHECK_INT(AV_RB32(e + 48), 3600);
        }
    }
    free(buf);
    check_end();
}

static void test_annexb(void)
{
    /* 4-byte, 3-byte and 3-byte start codes: NALs of 3, 2 and 4 bytes */
    static const uint8_t in[] = { 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3,
                                  0, 0, 1, 0x65, 4, 5, 6 };
    static const uint8_t want[] = { 0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 3,
                                    0, 0, 0, 4, 0x65, 4, 5, 6 };
    const struct fmp4_seg_config c = { .kind = FMP4_VIDEO, .tb = { 1, 25 },
                                       .track_tb = { 1, 90000 }, .sequence = 1, .annexb = 1 };
    struct mux *m = NULL;
    AVPacket *pkt = av_packet_alloc();
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t total = 0;
    check_begin("annexb/lengths");
    CHECK_INT(mux_open_fmp4(&m, &c), 0);
    av_new_packet(pkt, sizeof(in));
    memcpy(pkt->data, in, sizeof(in));
    pkt->pts = pkt->dts = 1;
    pkt->duration = 1;
    pkt->flags = AV_PKT_FLAG_KEY;
    CHECK_INT(mux_write(m, pkt), 0);
    CHECK_INT(mux_finish(m, &total), 0);
    CHECK_INT(total, fmp4_segment_bytes(FMP4_VIDEO, 1, sizeof(want)));
    /* the growth stays within the plan's allowance per frame */
    CHECK(sizeof(want) - sizeof(in) <= FMP4_NAL_GROWTH_PER_FRAME, "growth");
    CHECK_INT(mux_take(m, total, &buf, &len), 0);
    if (buf && len >= sizeof(want))
        CHECK(!memcmp(buf + len - sizeof(want), want, sizeof(want)), "NAL lengths");
    if (buf) {
        long moof = find_box(buf, 0, (long)len, "moof");
        /* times rescaled to the track's timescale: 1/25 s = 3600 */
        long traf = find_box(buf, moof + 8, moof + (long)AV_RB32(buf + moof), "traf");
        long tfdt = find_box(buf, traf + 8, traf + (long)AV_RB32(buf + traf), "tfdt");
        CHECK_INT(AV_RB64(buf + tfdt + 12), 3600 + 90000 * FMP4_OFFSET_MS / 1000);
    }
    free(buf);
    mux_free(&m);
    av_packet_free(&pkt);
    check_end();
}

static AVCodecParameters *params(enum AVMediaType type, enum AVCodecID id,
                                 const uint8_t *extra, int n)
{
    AVCodecParameters *p = avcodec_parameters_alloc();
    p->codec_type = type;
    p->codec_id = id;
    if (n) {
        p->extradata = av_mallocz((size_t)n + AV_INPUT_BUFFER_PADDING_SIZE);
        memcpy(p->extradata, extra, (size_t)n);
        p->extradata_size = n;
    }
    if (type == AVMEDIA_TYPE_VIDEO) {
        p->width = 1920;
        p->height = 1080;
        p->format = AV_PIX_FMT_YUV420P10;
    } else {
        p->sample_rate = 48000;
        av_channel_layout_default(&p->ch_layout, 6);
        p->bit_rate = 448000;
    }
    return p;
}

static void test_init(void)
{
    static const uint8_t avcc[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0 };
    static const uint8_t hvcc[23] = { 1, 0x02, 0x20, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 120,
                                      0xf0, 0, 0xfc, 0xfd, 0xfa, 0xfa, 0, 0, 0x0f, 0 };
    static const uint8_t av1c[] = { 0x81, 0x08, 0x4c, 0 };
    static const uint8_t asc[] = { 0x11, 0x90 };
    static const struct {
        const char    *name;
        enum AVMediaType type;
        enum AVCodecID id;
        const uint8_t *extra;
        int            n;
        int            rotation;
        const char    *codecs, *entry;
    } cases[] = {
        { "h264", AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_H264, avcc, sizeof(avcc), 0, "avc1.64001f", "avc1" },
        { "hevc", AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_HEVC, hvcc, sizeof(hvcc), 90, "hvc1.2.4.L120.B0", "hvc1" },
        { "av1", AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_AV1, av1c, sizeof(av1c), 270, "av01.0.08M.10", "av01" },
        { "vp9", AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_VP9, NULL, 0, 180, "vp09.02.40.10", "vp09" },
        { "aac", AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_AAC, asc, sizeof(asc), 0, "mp4a.40.2", "mp4a" },
        { "ac3", AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_AC3, NULL, 0, 0, "ac-3", "ac-3" },
        { "eac3", AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_EAC3, NULL, 0, 0, "ec-3", "ec-3" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        AVCodecParameters *par = params(cases[i].type, cases[i].id, cases[i].extra, cases[i].n);
        if (cases[i].id == AV_CODEC_ID_VP9)
            par->profile = 2;
        const struct fmp4_track trk = {
            .kind = cases[i].type == AVMEDIA_TYPE_VIDEO ? FMP4_VIDEO : FMP4_AUDIO,
            .par = par, .tb = { 1, 90000 }, .rotation = cases[i].rotation, .frame_rate = 30,
        };
        uint8_t *buf = NULL;
        size_t len = 0;
        char codecs[64] = "";
        char types[16];
        check_begin("init/%s", cases[i].name);
        CHECK_INT(fmp4_init_segment(&trk, &buf, &len, codecs, sizeof(codecs)), 0);
        CHECK_STR(codecs, cases[i].codecs);
        CHECK_INT(buf ? top_boxes(buf, len, types, 4) : -1, 2);
        CHECK(buf && !memcmp(types, "ftypmoov", 8), "ftyp then moov");
        if (buf) {
            /* the sample entry is in there, and the track header's matrix
             * says the rotation (its b entry: sin of the angle) */
            int found = 0;
            for (size_t k = 0; k + 4 <= len; k++)
                found |= !memcmp(buf + k, cases[i].entry, 4);
            CHECK(found, "sample entry %s", cases[i].entry);
            long tkhd = -1;
            for (size_t k = 0; k + 4 <= len && tkhd < 0; k++)
                if (!memcmp(buf + k, "tkhd", 4))
                    tkhd = (long)k - 4;
            CHECK(tkhd > 0, "tkhd");
            if (tkhd > 0) {
                int32_t b = (int32_t)AV_RB32(buf + tkhd + 48 + 4);
                int32_t a = (int32_t)AV_RB32(buf + tkhd + 48);
                int want_b = cases[i].rotation == 90 ? 0x10000 : cases[i].rotation == 270 ? -0x10000 : 0;
                int want_a = cases[i].rotation == 180 ? -0x10000 : cases[i].rotation ? 0 : 0x10000;
                CHECK_INT(b, want_b);
                CHECK_INT(a, want_a);
            }
        }
        free(buf);
        avcodec_parameters_free(&par);
        check_end();
    }
    check_begin("init/no-config");
    {
        AVCodecParameters *par = params(AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_HEVC, NULL, 0);
        const struct fmp4_track trk = { .kind = FMP4_VIDEO, .par = par, .tb = { 1, 1000 } };
        uint8_t *buf = NULL;
        size_t len = 0;
        char codecs[64];
        CHECK_INT(fmp4_init_segment(&trk, &buf, &len, codecs, sizeof(codecs)), AVERROR(EINVAL));
        CHECK(!buf, "nothing made");
        par->codec_id = AV_CODEC_ID_MPEG2VIDEO;
        CHECK_INT(fmp4_init_segment(&trk, &buf, &len, codecs, sizeof(codecs)), AVERROR(ENOSYS));
        avcodec_parameters_free(&par);
    }
    check_end();
}

static void test_vp9_header(void)
{
    /* frame_marker 2, profile 2 (low 0, high 1), show_existing 0, key
     * frame, show_frame 1, error_res 0, sync code, 10 bit, BT.709, limited */
    static const uint8_t key[] = { 0x92, 0x49, 0x83, 0x42, 0x20, 0x00, 0x00, 0x00 };
    static const uint8_t inter[] = { 0x96, 0x49, 0x83, 0x42, 0x04, 0x00, 0x00, 0x00 };
    AVCodecParameters *par = avcodec_parameters_alloc();
    check_begin("vp9/keyframe-header");
    par->profile = -99;
    CHECK_INT(fmp4_vp9_keyframe_params(par, inter, sizeof(inter)), 0);
    CHECK_INT(par->profile, -99);
    CHECK_INT(fmp4_vp9_keyframe_params(par, key, sizeof(key)), 1);
    CHECK_INT(par->profile, 2);
    CHECK_INT(par->format, AV_PIX_FMT_YUV420P10);
    CHECK_INT(par->color_space, AVCOL_SPC_BT709);
    CHECK_INT(par->color_range, AVCOL_RANGE_MPEG);
    avcodec_parameters_free(&par);
    check_end();
}

int main(void)
{
    test_size_model();
    test_padding();
    test_times();
    test_annexb();
    test_init();
    test_vp9_header();
    return check_summary("test_fmp4");
}
