/*
 * test_playlist.c -- unit tests for src/playlist.c: exact media and master
 * playlist text, TARGETDURATION rounding, attribute omission, escaping.
 */
#include "hlsfs/playlist.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MEDIA_HEAD(target)                                                 \
    "#EXTM3U\n"                                                            \
    "#EXT-X-VERSION:3\n"                                                   \
    "#EXT-X-PLAYLIST-TYPE:VOD\n"                                           \
    "#EXT-X-INDEPENDENT-SEGMENTS\n"                                        \
    "#EXT-X-TARGETDURATION:" target "\n"                                   \
    "#EXT-X-MEDIA-SEQUENCE:0\n"

#define MASTER_HEAD                                                        \
    "#EXTM3U\n"                                                            \
    "#EXT-X-VERSION:3\n"                                                   \
    "#EXT-X-INDEPENDENT-SEGMENTS\n"

static void test_media_exact(void)
{
    static const int64_t d3[] = { 6006, 5005, 1234 };
    static const int64_t d1[] = { 61 };
    static const struct {
        const char *name;
        const int64_t *durations;
        long count;
        const char *want;
    } cases[] = {
        { "three-segments", d3, 3,
          MEDIA_HEAD("7")
          "#EXTINF:6.006,\n00000.ts\n"
          "#EXTINF:5.005,\n00001.ts\n"
          "#EXTINF:1.234,\n00002.ts\n"
          "#EXT-X-ENDLIST\n" },
        { "one-short-segment", d1, 1,
          MEDIA_HEAD("1")
          "#EXTINF:0.061,\n00000.ts\n"
          "#EXT-X-ENDLIST\n" },
        { "no-segments", NULL, 0,
          MEDIA_HEAD("1")
          "#EXT-X-ENDLIST\n" },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *text = playlist_media(cases[i].durations, cases[i].count);

        check_begin("media/exact/%s", cases[i].name);
        CHECK_STR(text, cases[i].want);
        free(text);
        check_end();
    }
}

static void test_media_target(void)
{
    static const struct {
        const char *name;
        int64_t durations[4];
        long count;
        long want;
    } cases[] = {
        { "6.006s-rounds-up-to-7", { 6006 }, 1, 7 },
        { "6.001s-rounds-up-to-7", { 6001 }, 1, 7 },
        { "6.000s-stays-6", { 6000 }, 1, 6 },
        { "5.999s-is-6", { 5999 }, 1, 6 },
        { "1.000s-is-1", { 1000 }, 1, 1 },
        { "0.999s-is-1", { 999 }, 1, 1 },
        { "0.001s-is-1", { 1 }, 1, 1 },
        { "zero-is-at-least-1", { 0 }, 1, 1 },
        { "max-in-the-middle", { 5999, 12001, 6000, 2000 }, 4, 13 },
        { "max-last", { 2000, 6000, 5999, 10000 }, 4, 10 },
        { "max-first", { 20500, 6000 }, 2, 21 },
        { "long-segment", { 3600000 }, 1, 3600 },
    };
    static const char key[] = "\n#EXT-X-TARGETDURATION:";
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *text = playlist_media(cases[i].durations, cases[i].count);
        const char *p = text ? strstr(text, key) : NULL;
        char *end = NULL;
        long got = -1;

        check_begin("media/targetduration/%s", cases[i].name);
        CHECK(text != NULL, "playlist_media returned NULL");
        CHECK(p != NULL, "no TARGETDURATION line");
        if (p) {
            got = strtol(p + strlen(key), &end, 10);
            CHECK(*end == '\n', "TARGETDURATION not followed by a newline");
            CHECK_INT(got, cases[i].want);
        }
        free(text);
        check_end();
    }
}

static void test_media_extinf(void)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        { 0, "#EXTINF:0.000,\n" },
        { 1, "#EXTINF:0.001,\n" },
        { 61, "#EXTINF:0.061,\n" },
        { 999, "#EXTINF:0.999,\n" },
        { 1000, "#EXTINF:1.000,\n" },
        { 6006, "#EXTINF:6.006,\n" },
        { 10000, "#EXTINF:10.000,\n" },
        { 123456, "#EXTINF:123.456,\n" },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *text = playlist_media(&cases[i].ms, 1);

        check_begin("media/extinf/%lldms", (long long)cases[i].ms);
        CHECK(text && strstr(text, cases[i].want),
              "no line \"%.*s\" in the playlist",
              (int)strlen(cases[i].want) - 1, cases[i].want);
        free(text);
        check_end();
    }
}

/* 100001 segments: the names get six digits, from the first to the last. */
static void test_media_six_digits(void)
{
    enum { COUNT = 100001 };
    int64_t *d = malloc(COUNT * sizeof(*d));
    char *text = NULL;
    long i;

    check_begin("media/100001-segments-six-digits");
    CHECK(d != NULL, "out of memory");
    if (d) {
        for (i = 0; i < COUNT; i++)
            d[i] = 6000;
        text = playlist_media(d, COUNT);
    }
    CHECK(text != NULL, "playlist_media returned NULL");
    if (text) {
        CHECK(strstr(text, "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:6.000,\n"
                           "000000.ts\n") != NULL,
              "first segment is not 000000.ts");
        CHECK(strstr(text, "\n#EXTINF:6.000,\n100000.ts\n#EXT-X-ENDLIST\n")
                  != NULL,
              "last segment is not 100000.ts followed by ENDLIST");
        CHECK(strstr(text, "\n00000.ts\n") == NULL,
              "a five-digit name in a six-digit playlist");
    }
    free(text);
    free(d);
    check_end();
}

static void test_media_invalid(void)
{
    static const int64_t neg[] = { 6000, -1 };
    static const int64_t ok[] = { 6000 };
    char *text;

    check_begin("media/invalid/negative-count");
    text = playlist_media(ok, -1);
    CHECK(text == NULL, "got a playlist for count -1");
    free(text);
    check_end();

    check_begin("media/invalid/null-durations");
    text = playlist_media(NULL, 2);
    CHECK(text == NULL, "got a playlist for NULL durations");
    free(text);
    check_end();

    check_begin("media/invalid/negative-duration");
    text = playlist_media(neg, 2);
    CHECK(text == NULL, "got a playlist with a negative duration");
    free(text);
    check_end();
}

static void test_master_exact(void)
{
    static const struct playlist_audio audios[] = {
        { "aud", "en", "English", 1, 2, "audio/0/index.m3u8" },
        { "aud", NULL, "Commentary", 0, 6, "audio/1/index.m3u8" },
    };
    static const struct playlist_variant variants[] = {
        { 3000000, 2500000, 1280, 720, 24000.0 / 1001.0,
          "avc1.64001f,mp4a.40.2", "aud", "video/720p/index.m3u8" },
        { 900000, 700000, 640, 360, 0.0, "avc1.42e01e", NULL,
          "video/360p/index.m3u8" },
    };
    static const char want[] =
        MASTER_HEAD
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"en\","
        "NAME=\"English\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\","
        "URI=\"audio/0/index.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\","
        "NAME=\"Commentary\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"6\","
        "URI=\"audio/1/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,"
        "RESOLUTION=1280x720,FRAME-RATE=23.976,"
        "CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aud\"\n"
        "video/720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,"
        "RESOLUTION=640x360,CODECS=\"avc1.42e01e\"\n"
        "video/360p/index.m3u8\n";
    char *text;

    check_begin("master/exact/two-audios-two-variants");
    text = playlist_master(variants, 2, audios, 2);
    CHECK_STR(text, want);
    free(text);
    check_end();

    check_begin("master/exact/empty");
    text = playlist_master(NULL, 0, NULL, 0);
    CHECK_STR(text, MASTER_HEAD);
    free(text);
    check_end();
}

static void test_master_audio_line(void)
{
    static const struct {
        const char *name;
        struct playlist_audio a;
        const char *want;   /* the whole EXT-X-MEDIA line */
    } cases[] = {
        { "language-null-omitted",
          { "g", NULL, "Track", 0, 2, "a.m3u8" },
          "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"Track\",DEFAULT=NO,"
          "AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" },
        { "language-empty-omitted",
          { "g", "", "Track", 1, 2, "a.m3u8" },
          "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"Track\",DEFAULT=YES,"
          "AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" },
        { "language-present",
          { "g", "fre", "Fran\xc3\xa7" "ais", 0, 1, "a.m3u8" },
          "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",LANGUAGE=\"fre\","
          "NAME=\"Fran\xc3\xa7" "ais\",DEFAULT=NO,AUTOSELECT=YES,"
          "CHANNELS=\"1\",URI=\"a.m3u8\"\n" },
        { "quotes-and-controls-escaped",
          { "g\"x", "e\"n", "Director's \"cut\"\n\tx\r\x01",
            1, 2, "a.m3u8" },
          "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g_x\",LANGUAGE=\"e_n\","
          "NAME=\"Director's _cut___x__\",DEFAULT=YES,AUTOSELECT=YES,"
          "CHANNELS=\"2\",URI=\"a.m3u8\"\n" },
        { "newline-in-language",
          { "g", "en\n#EXT-X-ENDLIST", "N", 0, 2, "a.m3u8" },
          "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\","
          "LANGUAGE=\"en_#EXT-X-ENDLIST\",NAME=\"N\",DEFAULT=NO,"
          "AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *text = playlist_master(NULL, 0, &cases[i].a, 1);
        const char *line = text;

        check_begin("master/audio/%s", cases[i].name);
        CHECK(text != NULL, "playlist_master returned NULL");
        if (text && strncmp(text, MASTER_HEAD, strlen(MASTER_HEAD)) == 0)
            line = text + strlen(MASTER_HEAD);
        CHECK_STR(line, cases[i].want);
        free(text);
        check_end();
    }
}

static void test_master_variant_line(void)
{
    static const struct {
        const char *name;
        struct playlist_variant v;
        const char *want;   /* the STREAM-INF line and the URI line */
    } cases[] = {
        { "frame-rate-0-omitted",
          { 100, 90, 640, 360, 0.0, "avc1.42e01e", "aud", "v.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=100,AVERAGE-BANDWIDTH=90,"
          "RESOLUTION=640x360,CODECS=\"avc1.42e01e\",AUDIO=\"aud\"\n"
          "v.m3u8\n" },
        { "audio-null-omitted",
          { 100, 90, 640, 360, 25.0, "avc1.42e01e", NULL, "v.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=100,AVERAGE-BANDWIDTH=90,"
          "RESOLUTION=640x360,FRAME-RATE=25.000,CODECS=\"avc1.42e01e\"\n"
          "v.m3u8\n" },
        { "frame-rate-29.97",
          { 100, 90, 1920, 1080, 30000.0 / 1001.0, "c", NULL, "v.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=100,AVERAGE-BANDWIDTH=90,"
          "RESOLUTION=1920x1080,FRAME-RATE=29.970,CODECS=\"c\"\n"
          "v.m3u8\n" },
        { "frame-rate-59.94",
          { 100, 90, 1920, 1080, 60000.0 / 1001.0, "c", NULL, "v.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=100,AVERAGE-BANDWIDTH=90,"
          "RESOLUTION=1920x1080,FRAME-RATE=59.940,CODECS=\"c\"\n"
          "v.m3u8\n" },
        { "frame-rate-120",
          { 100, 90, 1920, 1080, 120.0, "c", NULL, "v.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=100,AVERAGE-BANDWIDTH=90,"
          "RESOLUTION=1920x1080,FRAME-RATE=120.000,CODECS=\"c\"\n"
          "v.m3u8\n" },
        { "bandwidth-above-32-bits",
          { 5000000000ULL, 4294967296ULL, 3840, 2160, 24.0, "c", "a",
            "v.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=5000000000,"
          "AVERAGE-BANDWIDTH=4294967296,RESOLUTION=3840x2160,"
          "FRAME-RATE=24.000,CODECS=\"c\",AUDIO=\"a\"\n"
          "v.m3u8\n" },
        { "codecs-and-group-escaped",
          { 100, 90, 640, 360, 0.0, "avc1\",x", "a\"\nb", "v\n.m3u8" },
          "#EXT-X-STREAM-INF:BANDWIDTH=100,AVERAGE-BANDWIDTH=90,"
          "RESOLUTION=640x360,CODECS=\"avc1_,x\",AUDIO=\"a__b\"\n"
          "v_.m3u8\n" },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *text = playlist_master(&cases[i].v, 1, NULL, 0);
        const char *line = text;

        check_begin("master/variant/%s", cases[i].name);
        CHECK(text != NULL, "playlist_master returned NULL");
        if (text && strncmp(text, MASTER_HEAD, strlen(MASTER_HEAD)) == 0)
            line = text + strlen(MASTER_HEAD);
        CHECK_STR(line, cases[i].want);
        free(text);
        check_end();
    }
}

static void test_master_invalid(void)
{
    static const struct playlist_variant v_nouri = {
        100, 90, 640, 360, 0.0, "c", NULL, NULL
    };
    static const struct playlist_audio a_nouri = {
        "g", "en", "N", 1, 2, NULL
    };
    static const struct playlist_variant v = {
        100, 90, 640, 360, 0.0, "c", NULL, "v.m3u8"
    };
    char *text;

    check_begin("master/invalid/variant-without-uri");
    text = playlist_master(&v_nouri, 1, NULL, 0);
    CHECK(text == NULL, "got a playlist for a variant without a uri");
    free(text);
    check_end();

    check_begin("master/invalid/audio-without-uri");
    text = playlist_master(&v, 1, &a_nouri, 1);
    CHECK(text == NULL, "got a playlist for an audio without a uri");
    free(text);
    check_end();

    check_begin("master/invalid/negative-count");
    text = playlist_master(&v, -1, NULL, 0);
    CHECK(text == NULL, "got a playlist for nvariants -1");
    free(text);
    check_end();

    check_begin("master/invalid/null-variants");
    text = playlist_master(NULL, 1, NULL, 0);
    CHECK(text == NULL, "got a playlist for NULL variants");
    free(text);
    check_end();
}

int main(void)
{
    test_media_exact();
    test_media_target();
    test_media_extinf();
    test_media_six_digits();
    test_media_invalid();
    test_master_exact();
    test_master_audio_line();
    test_master_variant_line();
    test_master_invalid();
    return check_summary("test_playlist");
}
