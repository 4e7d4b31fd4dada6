/*
 * test_tssize: the MPEG-TS size model (tssize.c) against the real muxer
 * (mux.c, counting): for tables of frame sizes, frame rates, keyframe
 * spacings and stream kinds (H.264 in Annex B, in AVCC with 4- and 2-byte
 * NAL lengths; AAC with ADTS headers), the bytes the muxer writes never
 * exceed the model's bound, and the bound is not loose by more than about
 * a TS packet per PES.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>

#include "check.h"
#include "hlsfs/mux.h"
#include "hlsfs/tssize.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t sps[] = { 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50,
                               0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10 };
static const uint8_t pps[] = { 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0 };

enum layout { ANNEXB, AVCC4, AVCC2 };

/* Extradata of a layout: start codes and the parameter sets, or avcC. */
static int set_extradata(AVCodecParameters *par, enum layout l)
{
    uint8_t x[64];
    int n = 0;
    if (l == ANNEXB) {
        memcpy(x, "\0\0\0\1", 4);
        memcpy(x + 4, sps, sizeof(sps));
        n = 4 + (int)sizeof(sps);
        memcpy(x + n, "\0\0\0\1", 4);
        memcpy(x + n + 4, pps, sizeof(pps));
        n += 4 + (int)sizeof(pps);
    } else {
        x[n++] = 1;
        x[n++] = sps[1];
        x[n++] = sps[2];
        x[n++] = sps[3];
        x[n++] = 0xfc | (l == AVCC4 ? 3 : 1);
        x[n++] = 0xe1;
        x[n++] = 0;
        x[n++] = sizeof(sps);
        memcpy(x + n, sps, sizeof(sps));
        n += (int)sizeof(sps);
        x[n++] = 1;
        x[n++] = 0;
        x[n++] = sizeof(pps);
        memcpy(x + n, pps, sizeof(pps));
        n += (int)sizeof(pps);
    }
    if (!(par->extradata = av_mallocz((size_t)n + AV_INPUT_BUFFER_PADDING_SIZE)))
        return -ENOMEM;
    memcpy(par->extradata, x, (size_t)n);
    par->extradata_size = n;
    return 0;
}

/* A frame of 'size' bytes in layout l: NAL units of 'nal' bytes at most
 * (the first a slice of an IDR picture for a keyframe), filler bytes that
 * make no start code. */
static void fill_frame(uint8_t *d, int size, enum layout l, int key, int nal)
{
    int ls = l == AVCC2 ? 2 : 4, at = 0;
    memset(d, 0xab, (size_t)size);
    while (at < size) {
        int left = size - at, n = left - ls < nal ? left - ls : nal;
        if (left - ls - n < ls + 1)  /* no room for another unit after it */
            n = left - ls;
        if (l == ANNEXB) {
            memcpy(d + at, "\0\0\0\1", 4);
        } else if (ls == 4) {
            d[at] = (uint8_t)(n >> 24);
            d[at + 1] = (uint8_t)(n >> 16);
            d[at + 2] = (uint8_t)(n >> 8);
            d[at + 3] = (uint8_t)n;
        } else {
            d[at] = (uint8_t)(n >> 8);
            d[at + 1] = (uint8_t)n;
        }
        d[at + ls] = at == 0 && key ? 0x65 : 0x41;
        at += ls + n;
    }
}

/* frame sizes: a function of the frame number */
struct sizes {
    const char *name;
    int key, other;          /* bytes of a keyframe, of other frames      */
    int spread;              /* others vary by up to this much            */
};

static const struct sizes size_tables[] = {
    { "tiny", 40, 12, 0 },
    { "pes-edge", 157 - 6 - 40, 157 - 6, 2 },
    { "typical", 40000, 3000, 2500 },
    { "large", 300000, 60000, 50000 },
    { "mixed", 20000, 9000, 8999 },
};

static int frame_size(const struct sizes *s, long i, int key, uint32_t *rng)
{
    *rng = *rng * 1664525u + 1013904223u;
    int v = key ? s->key : s->other + (s->spread ? (int)(*rng >> 8) % (s->spread + 1) - s->spread / 2 : 0);
    return v < 8 ? 8 : v;
}

/* Mux 'frames' frames at 'fps' and compare with the model. */
static void video_case(enum layout l, const struct sizes *s, double fps, long frames,
                       long gop, int reorder, int nal)
{
    static const char *const lname[] = { "annexb", "avcc4", "avcc2" };
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct mux *m = NULL;
    AVRational tb = { 1, 90000 };
    uint64_t bound = 0, got = 0, growth = 0;
    uint32_t rng = 12345;
    int ps_bound = 0, length_size = 0;

    check_begin("tssize/h264/%s/%s/%.3gfps/%ld-frames/gop-%ld%s", lname[l], s->name, fps,
                frames, gop, reorder ? "/reordered" : "");
    CHECK(par && pkt, "allocation");
    if (!par || !pkt)
        goto done;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_H264;
    par->width = 1280;
    par->height = 720;
    CHECK_INT(set_extradata(par, l), 0);
    ps_bound = tssize_h264_insert_bound(par, &length_size);
    CHECK(ps_bound > 0, "insert bound %d", ps_bound);
    CHECK_INT(length_size, l == ANNEXB ? 0 : l == AVCC4 ? 4 : 2);
    CHECK_INT(mux_open(&m, par, tb, 1), 0);
    if (!m)
        goto done;
    double frame_ticks = 90000.0 / fps;
    for (long i = 0; i < frames; i++) {
        int key = i % gop == 0;
        int size = frame_size(s, i, key, &rng);
        if (av_new_packet(pkt, size) < 0)
            break;
        fill_frame(pkt->data, size, l, key, nal);
        pkt->dts = llround((double)i * frame_ticks);
        /* with reordering, pictures shown up to two frames after decoding */
        long shown = reorder && !key ? i + 1 + (i % 2) : i + (reorder ? 1 : 0);
        pkt->pts = llround((double)shown * frame_ticks);
        pkt->duration = llround(frame_ticks);
        pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
        CHECK_INT(mux_write(m, pkt), 0);
        bound += tssize_h264_frame_bytes((uint64_t)size, key, ps_bound, length_size);
        if (length_size == 2)   /* room for a start code per 3 bytes */
            growth += 2 * ((uint64_t)size / 3 + 1);
        av_packet_unref(pkt);
    }
    CHECK_INT(mux_finish(m, &got), 0);
    int64_t ms = llround((double)frames * 1000.0 / fps);
    bound += tssize_table_bytes(ms);
    CHECK(got % TSSIZE_PACKET == 0, "%llu bytes: not whole TS packets", (unsigned long long)got);
    CHECK(got <= bound, "the muxer wrote %llu bytes, the model's bound is %llu",
          (unsigned long long)got, (unsigned long long)bound);
    /* not loose: about one packet per frame for headers and the partial
     * last packet, the tables, and at most the parameter sets per
     * keyframe when none were needed */
    uint64_t keys = (uint64_t)((frames + gop - 1) / gop);
    uint64_t slack = ((uint64_t)frames + 6) * TSSIZE_PACKET +
                     keys * ((uint64_t)ps_bound / TSSIZE_PAYLOAD + 3) * TSSIZE_PACKET;
    slack += growth * TSSIZE_PACKET / TSSIZE_PAYLOAD + TSSIZE_PACKET;
    CHECK(bound <= got + slack, "bound %llu is more than %llu over the %llu written",
          (unsigned long long)bound, (unsigned long long)slack, (unsigned long long)got);
done:
    mux_free(&m);
    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
    check_end();
}

static void test_h264(void)
{
    static const double rates[] = { 1, 12, 23.976, 25, 30, 50, 59.94, 60, 120 };
    for (size_t r = 0; r < ARRAY_LEN(rates); r++)
        for (size_t s = 0; s < ARRAY_LEN(size_tables); s++) {
            long frames = (long)ceil(rates[r] * 6);          /* a 6 s segment */
            video_case(ANNEXB, &size_tables[s], rates[r], frames, frames, 0, 1 << 20);
            video_case(AVCC4, &size_tables[s], rates[r], frames, 12, 1, 1 << 20);
            video_case(AVCC2, &size_tables[s], rates[r], frames, frames, 1, 700);
        }
    /* long segments: the tables again every period */
    video_case(ANNEXB, &size_tables[0], 25, 25 * 65, 25 * 65, 0, 1 << 20);
    video_case(AVCC4, &size_tables[1], 60, 60 * 95, 600, 1, 1 << 20);
    /* NAL units of a few bytes: the most start-code growth */
    video_case(AVCC2, &size_tables[2], 30, 60, 30, 0, 3);
}

/* AAC frames of 1024 samples with their ADTS headers (as produce.c muxes
 * them) and the model of ladder.c's audio bound. */
static void aac_case(int sample_rate, long frames, int payload, int spread)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct mux *m = NULL;
    uint64_t es = 0, got = 0;
    uint32_t rng = 777;
    static const int rates[] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                 22050, 16000, 12000, 11025, 8000 };
    int index = 0;

    for (int i = 0; i < (int)ARRAY_LEN(rates); i++)
        if (rates[i] == sample_rate)
            index = i;
    check_begin("tssize/aac/%d/%ld-frames/%d-bytes", sample_rate, frames, payload);
    CHECK(par && pkt, "allocation");
    if (!par || !pkt)
        goto done;
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_AAC;
    par->sample_rate = sample_rate;
    av_channel_layout_default(&par->ch_layout, 2);
    par->frame_size = 1024;
    if (!(par->extradata = av_mallocz(2 + AV_INPUT_BUFFER_PADDING_SIZE)))
        goto done;
    par->extradata[0] = (uint8_t)((2 << 3) | (index >> 1));      /* AAC-LC */
    par->extradata[1] = (uint8_t)(((index & 1) << 7) | (2 << 3)); /* stereo */
    par->extradata_size = 2;
    CHECK_INT(mux_open(&m, par, (AVRational){ 1, sample_rate }, 1), 0);
    if (!m)
        goto done;
    for (long i = 0; i < frames; i++) {
        rng = rng * 1664525u + 1013904223u;
        int n = payload + (spread ? (int)(rng >> 8) % (spread + 1) - spread / 2 : 0);
        if (av_new_packet(pkt, n + MUX_ADTS_HEADER) < 0)
            break;
        CHECK_INT(mux_adts_header(par, n, pkt->data), 0);
        memset(pkt->data + MUX_ADTS_HEADER, 0x5a, (size_t)n);
        pkt->pts = pkt->dts = i * 1024;
        pkt->duration = 1024;
        pkt->flags = AV_PKT_FLAG_KEY;
        CHECK_INT(mux_write(m, pkt), 0);
        es += (uint64_t)n;
        av_packet_unref(pkt);
    }
    CHECK_INT(mux_finish(m, &got), 0);
    int64_t ms = (int64_t)((uint64_t)frames * 1024 * 1000 / (uint64_t)sample_rate) + 1;
    uint64_t bound = tssize_aac_segment_bytes(es, frames, ms);
    CHECK(got <= bound, "the muxer wrote %llu bytes, the model's bound is %llu",
          (unsigned long long)got, (unsigned long long)bound);
    /* not loose: a PES per 0.35 s (with one more per 59339 bytes), each
     * leaving a packet partly filled, and the tables */
    uint64_t pes = (es + (uint64_t)frames * MUX_ADTS_HEADER) / 59339 + (uint64_t)ms / 350 + 1;
    uint64_t slack = (pes + 6) * TSSIZE_PACKET;
    CHECK(bound <= got + slack, "bound %llu is more than %llu over the %llu written",
          (unsigned long long)bound, (unsigned long long)slack, (unsigned long long)got);
done:
    mux_free(&m);
    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
    check_end();
}

static void test_aac(void)
{
    /* 48 kHz, as hlsfs encodes; 0 to 576 kbit/s (a stereo frame's
     * most), frames varying around their mean as the encoder's do */
    static const int bytes[] = { 6, 85, 341, 683, 1024, 1536 };
    long six = 48000 * 6 / 1024;
    for (size_t b = 0; b < ARRAY_LEN(bytes); b++) {
        aac_case(48000, six, bytes[b], bytes[b] / 5);
        aac_case(48000, 1, bytes[b], 0);
    }
    aac_case(48000, 48000 * 70 / 1024, 341, 100);  /* the tables again */
    /* 128 ms frames: a PES closed by time holds three */
    aac_case(8000, 8000 * 6 / 1024, 85, 40);
    aac_case(44100, 44100 * 6 / 1024, 683, 300);
}

/* The model's pieces, in numbers. */
static void test_pieces(void)
{
    check_begin("tssize/pes");
    /* 19 bytes of PES header and 8 of adaptation field share the first
     * 184-byte payload of a TS packet with the frame */
    CHECK_INT((int)tssize_pes_bytes(157), 188);
    CHECK_INT((int)tssize_pes_bytes(158), 376);
    CHECK_INT((int)tssize_pes_bytes(157 + 184), 376);
    CHECK_INT((int)tssize_pes_bytes(158 + 184), 564);
    CHECK_INT((int)tssize_keyframe_bytes(), 376);
    check_end();
    check_begin("tssize/tables");
    /* SDT, PAT and PMT at the start, and again after each period */
    CHECK_INT((int)tssize_table_bytes(6000), 564);
    CHECK_INT((int)tssize_table_bytes(TSSIZE_TABLE_PERIOD_MS - 1001), 564);
    CHECK_INT((int)tssize_table_bytes(TSSIZE_TABLE_PERIOD_MS - 1000), 1128);
    CHECK_INT((int)tssize_table_bytes(2 * TSSIZE_TABLE_PERIOD_MS), 1692);
    check_end();
}

/* The H.264 segment bound inverted: the most elementary-stream bytes a
 * planned size leaves, exactly. */
static void test_h264_inverse(void)
{
    check_begin("tssize/h264_inverse");
    static const long frames[] = { 1, 5, 184, 254, 1000 };
    static const int64_t ms[] = { 40, 6000, 8367, 40000 };
    for (size_t fi = 0; fi < sizeof(frames) / sizeof(frames[0]); fi++)
        for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
            for (uint64_t es = 0; es < 3000000; es = es * 3 / 2 + 977) {
                uint64_t size = tssize_h264_segment_bytes(es, frames[fi], ms[mi]);
                uint64_t back = tssize_h264_payload_bytes(size, frames[fi], ms[mi]);
                CHECK(back >= es, "%llu bytes, %ld frames: %llu back",
                      (unsigned long long)es, frames[fi], (unsigned long long)back);
                CHECK(tssize_h264_segment_bytes(back, frames[fi], ms[mi]) <= size &&
                      tssize_h264_segment_bytes(back + 1, frames[fi], ms[mi]) > size,
                      "%llu bytes, %ld frames: %llu is not the most", (unsigned long long)es,
                      frames[fi], (unsigned long long)back);
            }
    for (size_t fi = 0; fi < sizeof(frames) / sizeof(frames[0]); fi++)
        for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
            for (uint64_t es = 0; es < 300000; es = es * 3 / 2 + 97) {
                uint64_t size = tssize_aac_segment_bytes(es, frames[fi], ms[mi]);
                uint64_t back = tssize_aac_payload_bytes(size, frames[fi], ms[mi]);
                CHECK(back >= es && tssize_aac_segment_bytes(back, frames[fi], ms[mi]) <= size &&
                      tssize_aac_segment_bytes(back + 1, frames[fi], ms[mi]) > size,
                      "AAC %llu bytes, %ld frames: %llu back", (unsigned long long)es,
                      frames[fi], (unsigned long long)back);
            }
    CHECK_INT((long long)tssize_h264_payload_bytes(0, 10, 6000), 0);
    CHECK_INT((long long)tssize_h264_payload_bytes(tssize_table_bytes(6000) + 188 * 10, 10, 6000), 0);
    check_end();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    av_log_set_level(AV_LOG_ERROR);
    test_pieces();
    test_h264();
    test_aac();
    test_h264_inverse();
    return check_summary("test_tssize");
}
