/*
 * test_record: the title record (record.c): a record written before the
 * field tables still reads, and writes back to the same bytes; a round
 * trip keeps every stored field; a record of another version, a
 * truncated one, or one with bytes after its end is refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hlsfs/log.h"
#include "hlsfs/record.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/title.h"

/* Written by title_serialize of the code before record.c (record version
 * 7): a title of two segments with a copied video of keyframes by pts and
 * an encoded audio rendition (the values of test_old_record), and an
 * error title; made version 8 by hand: the magic's version byte, the
 * format after the bounds (MPEG-TS), and each rendition's filters (0),
 * VIDEO-RANGE (none) and init segment (none) after its sizes. Text
 * subtitles keep that layout for a title without subtitle tracks: the
 * tests read the fixtures with the current version in their magic
 * (from_old). */
static const char old_title_hex[] =
    "485449380000000008070605040302012a0000000000000040e2010000000000"
    "fbffffffffffffff7017000000000000efbefecacefaedfe0000000001000000"
    "00000000905f01000000000002000000000000006e4ec9010000000002000000"
    "00000000e80300000000000078630100000000009bbf02000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "00000000080000006f726967696e616c00000000000000000100000000000000"
    "905f010000000000260000000000000004000000000000000100000000000000"
    "bb0b000000000000800200000000000068010000000000000000000000000000"
    "00000000000000000b000000617663312e3634303031650000000000000000de"
    "030000000000006e63010000000000ffffffffffffff7f7049000000000000e0"
    "9200000000000000000000000000000000000000000000010000000000000001"
    "0000000000000000f40100000000000000000000000000010000003101000000"
    "00000000010000000000000080bb000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000002000000000000000100000000000000090000006d7034612e34302e"
    "3202000000656e07000000456e676c697368000000000000000000bc00000000"
    "00000078010000000000a0110000000000005c12000000000000000000000000"
    "00000000000000000000";

static const char old_error_hex[] =
    "485449380000000008070605040302012a0000000000000040e2010000000000"
    "fbffffffffffffff7017000000000000efbefecacefaedfe090000006e6f2076"
    "6964656f0a000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000";

static uint8_t *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; b && i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (uint8_t)v;
    }
    *len = n;
    return b;
}

/* An old fixture with the current version in its magic. */
static uint8_t *from_old(const char *hex, size_t *len)
{
    uint8_t *b = from_hex(hex, len);
    if (b && *len > 3)
        b[3] = TITLE_RECORD_VERSION;
    return b;
}

static void check_same_bytes(const struct title *t, const uint8_t *want, size_t want_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(record_write(t, &buf, &len), 0);
    CHECK_INT(len, want_len);
    CHECK(buf && len == want_len && !memcmp(buf, want, len),
          "the record written again differs from the one read");
    free(buf);
}

static void test_old_record(void)
{
    size_t len;
    uint8_t *buf = from_old(old_title_hex, &len);
    struct title *t = NULL;

    check_begin("record/old-record-reads");
    CHECK_INT(record_read(buf, len, &t), 0);
    if (t) {
        CHECK(!memcmp(t->key.magic, "HTI", 3) && t->key.magic[3] == TITLE_RECORD_VERSION,
              "magic");
        CHECK_INT(t->key.dev, 0x0102030405060708ull);
        CHECK_INT(t->key.ino, 42);
        CHECK_INT(t->key.size, 123456);
        CHECK_INT(t->key.mtime_ns, -5);
        CHECK_INT(t->key.segment_ms, 6000);
        CHECK_INT(t->key.options_hash, 0xfeedfacecafebeefull);
        CHECK(!t->error, "no error");
        CHECK_INT(t->tb.num, 1);
        CHECK_INT(t->tb.den, 90000);
        CHECK_INT(t->nseg, 2);
        CHECK_INT(llround(t->frame_rate * 1e6), 29970030);
        CHECK_INT(t->bounds[0], 1000);
        CHECK_INT(t->bounds[1], 91000);
        CHECK_INT(t->bounds[2], 180123);
        CHECK_INT(t->nrends, 2);
    }
    if (t && t->nrends == 2) {
        const struct title_rendition *v = &t->rends[0], *a = &t->rends[1];
        CHECK_INT(v->kind, REND_VIDEO);
        CHECK_INT(v->mode, REND_COPY);
        CHECK_STR(v->name, "original");
        CHECK_INT(v->tb.den, 90000);
        CHECK_INT(v->ps_bound, 38);
        CHECK_INT(v->length_size, 4);
        CHECK_INT(v->key_by_pts, 1);
        CHECK_INT(v->dts_shift, 3003);
        CHECK_INT(v->width, 640);
        CHECK_INT(v->height, 360);
        CHECK_STR(v->codecs, "avc1.64001e");
        CHECK_INT(v->range[0], 990);
        CHECK_INT(v->range[2], INT64_MAX);
        CHECK_INT(v->sizes[0], 18800);
        CHECK_INT(v->sizes[1], 37600);
        CHECK_INT(v->filters, 0);
        CHECK_INT(a->kind, REND_AUDIO);
        CHECK_INT(a->mode, REND_ENCODE);
        CHECK_INT(a->bit_rate, 128000);
        CHECK_STR(a->name, "1");
        CHECK_INT(a->src_index, 1);
        CHECK_INT(a->tb.den, 48000);
        CHECK_INT(a->channels, 2);
        CHECK_INT(a->is_default, 1);
        CHECK_STR(a->codecs, "mp4a.40.2");
        CHECK_STR(a->language, "en");
        CHECK_STR(a->label, "English");
        CHECK_INT(a->range[1], 48128);
        CHECK_INT(a->sizes[1], 4700);
        /* derived on reading */
        CHECK(t->master && strstr(t->master, "avc1.64001e,mp4a.40.2"), "master playlist");
        CHECK(v->playlist && strstr(v->playlist, "#EXTINF:1.000,"), "media playlist");
        check_same_bytes(t, buf, len);
    }
    title_free(&t);
    free(buf);
    check_end();

    buf = from_old(old_error_hex, &len);
    check_begin("record/old-error-record-reads");
    CHECK_INT(record_read(buf, len, &t), 0);
    if (t) {
        CHECK_STR(t->error, "no video\n");
        CHECK_INT(t->error_len, 9);
        CHECK_INT(t->nrends, 0);
        check_same_bytes(t, buf, len);
    }
    title_free(&t);
    free(buf);
    check_end();
}

/* A title of three segments whose fields are all unlike their defaults. */
static void test_round_trip(void)
{
    int64_t bounds[4] = { -3000, 0, 400000, 9000000000LL };
    int64_t vr[4] = { -3003, -3, 399000, 8999999999LL };
    int64_t ar[4] = { 0, 1024, 2048, 4096 };
    uint64_t vs[3] = { 188, 1880000, (uint64_t)1 << 40 }, as[3] = { 376, 564, 752 };
    struct title_rendition r[2] = {
        { .kind = REND_VIDEO, .mode = REND_ENCODE, .bit_rate = 2800000,
          .rotation = 270, .name = "720p", .src_index = 3, .tb = { 1001, 30000 },
          .range = vr, .sizes = vs, .ps_bound = 77, .length_size = 2,
          .key_by_pts = 0, .dts_shift = -7, .width = 720, .height = 1280,
          .filters = 5, .codecs = "avc1.64001f", .label = "" },
        { .kind = REND_AUDIO, .mode = REND_ENCODE, .bit_rate = 96000,
          .name = "0", .src_index = 5, .tb = { 1, 44100 }, .range = ar, .sizes = as,
          .channels = 2, .is_default = 1, .codecs = "mp4a.40.2",
          .language = "de", .label = "Deutsch (Kommentar)" },
    };
    static uint8_t init[] = { 0, 0, 0, 8, 'f', 't', 'y', 'p', 0xff, 0 };
    r[0].init = (struct title_blob){ init, sizeof(init) };
    memcpy(r[0].video_range, "PQ", 3);
    struct title t = {
        .tb = { 1, 1000 }, .nseg = 3, .bounds = bounds, .frame_rate = 59.94,
        .rends = r, .nrends = 2, .format = TITLE_FORMAT_FMP4,
    };
    uint64_t keys[3] = { 981, 0, 123456789 };
    t.key_bytes = keys;
    t.key_px = 1920 * 1080;
    struct title *back = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    memcpy(t.key.magic, "HTI", 3);
    t.key.magic[3] = TITLE_RECORD_VERSION;
    t.key.ino = 7;
    t.key.segment_ms = 4000;
    check_begin("record/round-trip");
    CHECK_INT(record_write(&t, &buf, &len), 0);
    CHECK_INT(record_read(buf, len, &back), 0);
    if (back) {
        CHECK(!memcmp(&back->key, &t.key, sizeof(t.key)), "key");
        CHECK_INT(back->tb.num, 1);
        CHECK_INT(back->tb.den, 1000);
        CHECK_INT(back->nseg, 3);
        CHECK_INT(llround(back->frame_rate * 100), 5994);
        CHECK_INT(back->nrends, 2);
        CHECK_INT(back->format, TITLE_FORMAT_FMP4);
        for (long i = 0; i <= 3; i++)
            CHECK_INT(back->bounds[i], bounds[i]);
        /* the source's keyframe bytes (KEYS1), which plan the I-frames */
        CHECK_INT(back->key_px, 1920 * 1080);
        for (long i = 0; back->key_bytes && i < 3; i++)
            CHECK_INT(back->key_bytes[i], keys[i]);
        CHECK(back->key_bytes != NULL, "keyframe bytes read back");
    }
    for (int k = 0; back && k < back->nrends && k < 2; k++) {
        const struct title_rendition *a = &back->rends[k], *b = &r[k];
        CHECK_INT(a->kind, b->kind);
        CHECK_INT(a->mode, b->mode);
        CHECK_INT(a->bit_rate, b->bit_rate);
        CHECK_INT(a->rotation, b->rotation);
        CHECK_STR(a->name, b->name);
        CHECK_INT(a->src_index, b->src_index);
        CHECK_INT(a->tb.num, b->tb.num);
        CHECK_INT(a->tb.den, b->tb.den);
        CHECK_INT(a->ps_bound, b->ps_bound);
        CHECK_INT(a->length_size, b->length_size);
        CHECK_INT(a->key_by_pts, b->key_by_pts);
        CHECK_INT(a->dts_shift, b->dts_shift);
        CHECK_INT(a->width, b->width);
        CHECK_INT(a->height, b->height);
        CHECK_INT(a->channels, b->channels);
        CHECK_INT(a->is_default, b->is_default);
        CHECK_INT(a->filters, b->filters);
        CHECK_STR(a->codecs, b->codecs);
        CHECK_STR(a->language, b->language);
        CHECK_STR(a->label, b->label);
        CHECK_STR(a->video_range, b->video_range);
        CHECK_INT(a->init.len, b->init.len);
        CHECK(a->init.len == b->init.len &&
              (!a->init.len || !memcmp(a->init.data, b->init.data, a->init.len)),
              "init segment");
        for (long i = 0; i <= 3; i++)
            CHECK_INT(a->range[i], b->range[i]);
        for (long i = 0; i < 3; i++)
            CHECK_INT(a->sizes[i], b->sizes[i]);
    }
    if (back)
        check_same_bytes(back, buf, len);
    title_free(&back);
    free(buf);
    check_end();
}

/* Text subtitle tracks: stored after the renditions, every cue back. */
static void test_subtitles(void)
{
    size_t len;
    uint8_t *buf = from_old(old_title_hex, &len), *out = NULL;
    struct title *t = NULL, *back = NULL;
    size_t olen = 0;

    check_begin("record/subtitles");
    CHECK_INT(record_read(buf, len, &t), 0);
    if (t && (t->subs = calloc(2, sizeof(*t->subs)))) {
        for (int i = 0; i < 2; i++)
            t->subs[t->nsubs++] = subtitle_track_new();
        snprintf(t->subs[0]->language, sizeof(t->subs[0]->language), "eng");
        snprintf(t->subs[0]->name, sizeof(t->subs[0]->name), "English");
        t->subs[0]->is_default = 1;
        subtitle_track_add(t->subs[0], 0, 1500, "<i>one</i>\ntwo");
        subtitle_track_add(t->subs[0], 1200, 1800, "caf\xc3\xa9");
        snprintf(t->subs[1]->name, sizeof(t->subs[1]->name), "Forced");
        t->subs[1]->forced = 1;
        t->subs[1]->sdh = 1;
        subtitle_track_add(t->subs[1], -40, 30, "early");
        CHECK_INT(record_write(t, &out, &olen), 0);
        CHECK(olen > len, "subtitles stored");
        CHECK_INT(record_read(out, olen, &back), 0);
    }
    if (back) {
        CHECK_INT(back->nsubs, 2);
        for (int i = 0; i < back->nsubs && i < 2; i++) {
            const struct subtitle_track *a = back->subs[i], *b = t->subs[i];
            CHECK_STR(a->language, b->language);
            CHECK_STR(a->name, b->name);
            CHECK_INT(a->forced, b->forced);
            CHECK_INT(a->is_default, b->is_default);
            CHECK_INT(a->sdh, b->sdh);
            CHECK_INT(a->ncues, b->ncues);
            for (size_t k = 0; k < a->ncues && k < b->ncues; k++) {
                CHECK_INT(a->cues[k].start_ms, b->cues[k].start_ms);
                CHECK_INT(a->cues[k].end_ms, b->cues[k].end_ms);
                CHECK_STR(a->cues[k].text, b->cues[k].text);
            }
            /* derived on reading */
            CHECK(a->sizes && a->playlist && strstr(a->playlist, "00000.vtt"), "derived");
        }
        CHECK(back->master && strstr(back->master, "TYPE=SUBTITLES") &&
              strstr(back->master, "SUBTITLES=\"subs\""), "master names the subtitles");
        check_same_bytes(back, out, olen);
        for (size_t n = len + 1; n < olen; n++) {
            struct title *cut = NULL;
            if (record_read(out, n, &cut) != -EINVAL) {
                CHECK(0, "a record cut to %zu of %zu bytes read", n, olen);
                title_free(&cut);
                break;
            }
        }
    }
    title_free(&back);
    title_free(&t);
    free(out);
    free(buf);
    check_end();
}

static void test_refused(void)
{
    size_t len;
    uint8_t *buf = from_old(old_title_hex, &len);
    uint8_t *longer = malloc(len + 1);
    struct title *t = NULL;
    int bad = 0;

    check_begin("record/other-version-refused");
    buf[3] = TITLE_RECORD_VERSION + 1;
    CHECK_INT(record_read(buf, len, &t), -EINVAL);
    CHECK(!t, "no title");
    buf[3] = TITLE_RECORD_VERSION - 1;
    CHECK_INT(record_read(buf, len, &t), -EINVAL);
    buf[3] = TITLE_RECORD_VERSION;
    buf[0] = 'X';
    CHECK_INT(record_read(buf, len, &t), -EINVAL);
    buf[0] = 'H';
    CHECK_INT(record_read(buf, len, &t), 0);     /* the bytes restored */
    title_free(&t);
    check_end();

    check_begin("record/truncated-refused");
    for (size_t n = 0; n < len; n++) {
        int ret = record_read(buf, n, &t);
        if (ret != -EINVAL || t) {
            if (!bad++)
                CHECK(0, "a record cut to %zu of %zu bytes gave %d", n, len, ret);
            title_free(&t);
        }
    }
    if (longer) {
        memcpy(longer, buf, len);
        longer[len] = 0;
        CHECK_INT(record_read(longer, len + 1, &t), -EINVAL);   /* a byte more */
        title_free(&t);
    }
    check_end();
    free(longer);
    free(buf);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_setup(0, LOG_LVL_ERROR);
    test_old_record();
    test_round_trip();
    test_subtitles();
    test_refused();
    return check_summary("test_record");
}
