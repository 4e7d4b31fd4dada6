/*
 * test_subtitle.c -- unit tests for src/title/subtitle.c: sidecar names,
 * text encodings, ASS text to WebVTT, cue order and ends, the WebVTT
 * files of segments (sizes equal to the bytes, cues across boundaries in
 * both), sidecar files read through libavformat; and the subtitle parts
 * of vpath.c and playlist.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlsfs/playlist.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/vpath.h"

#include "check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_sidecar_kind(void)
{
    static const struct {
        const char *name, *ext, *lang;
        int forced, sdh, is_default;
    } cases[] = {
        { "film.srt", "srt", "", 0, 0, 0 },
        { "film.en.srt", "srt", "en", 0, 0, 0 },
        { "film.fr.forced.srt", "srt", "fr", 1, 0, 0 },
        { "film.forced.fr.srt", "srt", "fr", 1, 0, 0 },
        { "film.de.sdh.srt", "srt", "de", 0, 1, 0 },
        { "film.eng.cc.vtt", "vtt", "eng", 0, 1, 0 },
        { "film.pt-BR.default.ass", "ass", "pt-BR", 0, 0, 1 },
        { "film.ja.SSA", "ssa", "ja", 0, 0, 0 },
        { "film.EN.SRT", "srt", "EN", 0, 0, 0 },
        { "film.hi.srt", "srt", "hi", 0, 0, 0 },
        { "film.en.hi.srt", "srt", "en", 0, 1, 0 },
        /* not this source's */
        { "film.mkv", NULL, "", 0, 0, 0 },
        { "film.part2.srt", NULL, "", 0, 0, 0 },
        { "film2.srt", NULL, "", 0, 0, 0 },
        { "films.en.srt", NULL, "", 0, 0, 0 },
        { "other.en.srt", NULL, "", 0, 0, 0 },
        { "film.sub", NULL, "", 0, 0, 0 },
        { "film.director.srt", NULL, "", 0, 0, 0 },
        { "film.", NULL, "", 0, 0, 0 },
        { "film", NULL, "", 0, 0, 0 },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char lang[16];
        int forced = -1, sdh = -1, is_default = -1;
        if (!check_begin("sidecar_kind/%s", cases[i].name))
            continue;
        const char *ext = subtitle_sidecar_kind("film", cases[i].name, lang, sizeof(lang),
                                                &forced, &sdh, &is_default);
        CHECK_STR(ext, cases[i].ext);
        if (cases[i].ext) {
            CHECK_STR(lang, cases[i].lang);
            CHECK_INT(forced, cases[i].forced);
            CHECK_INT(sdh, cases[i].sdh);
            CHECK_INT(is_default, cases[i].is_default);
        }
        check_end();
    }
}

static void test_to_utf8(void)
{
    static const struct {
        const char *name;
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        { "ascii", "abc\n", 4, "abc\n" },
        { "utf8", "caf\xc3\xa9", 5, "caf\xc3\xa9" },
        { "utf8-bom", "\xef\xbb\xbf" "caf\xc3\xa9", 8, "caf\xc3\xa9" },
        { "latin1", "caf\xe9 cr\xe8me", 10, "caf\xc3\xa9 cr\xc3\xa8me" },
        { "cp1252", "\x93q\x94 \x80", 5, "\xe2\x80\x9cq\xe2\x80\x9d \xe2\x82\xac" },
        { "utf16le-bom", "\xff\xfe" "a\0\xe9\0", 6, "a\xc3\xa9" },
        { "utf16be-bom", "\xfe\xff" "\0a\0\xe9", 6, "a\xc3\xa9" },
        { "utf16le", "1\0\n\0a\0b\0", 8, "1\nab" },
        { "utf16be-pair", "\xfe\xff\xd8\x3d\xde\x00", 6, "\xf0\x9f\x98\x80" },
        { "nul-dropped", "a\0b", 3, "ab" },
        { "empty", "", 0, "" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *out = NULL;
        size_t len = 0;
        if (!check_begin("to_utf8/%s", cases[i].name))
            continue;
        CHECK_INT(subtitle_to_utf8((const uint8_t *)cases[i].in, cases[i].n, &out, &len), 0);
        CHECK_STR(out, cases[i].want);
        CHECK_INT(len, strlen(cases[i].want));
        free(out);
        check_end();
    }
}

static void test_ass_to_vtt(void)
{
    static const struct {
        const char *name, *in;
        int fields;
        const char *want;
    } cases[] = {
        { "event", "0,0,Default,,0,0,0,,Hello world", 1, "Hello world" },
        { "commas-in-text", "3,0,Default,Olly,0,0,0,,a, b, c", 1, "a, b, c" },
        { "italic", "0,0,D,,0,0,0,,{\\i1}it{\\i0} not", 1, "<i>it</i> not" },
        { "bold-700", "0,0,D,,0,0,0,,{\\b700}B{\\b0}", 1, "<b>B</b>" },
        { "nested", "0,0,D,,0,0,0,,{\\b1}a{\\i1}b{\\b0}c{\\i0}", 1,
          "<b>a<i>b</i></b><i>c</i>" },
        { "unclosed", "0,0,D,,0,0,0,,{\\u1}under", 1, "<u>under</u>" },
        { "reset", "0,0,D,,0,0,0,,{\\i1}a{\\r}b", 1, "<i>a</i>b" },
        { "newlines", "0,0,D,,0,0,0,,one\\Ntwo\\nthree", 1, "one\ntwo\nthree" },
        { "hard-space", "0,0,D,,0,0,0,,a\\hb", 1, "a b" },
        { "escape", "0,0,D,,0,0,0,,a < b & c --> d", 1, "a &lt; b &amp; c --&gt; d" },
        { "overrides-dropped", "0,0,D,,0,0,0,,{\\pos(10,20)\\c&HFF&}x", 1, "x" },
        { "drawing", "0,0,D,,0,0,0,,{\\p1}m 0 0 l 10 10{\\p0}text", 1, "text" },
        { "blank-lines", "0,0,D,,0,0,0,,\\N\\Na\\N \\N\\Nb\\N", 1, "a\nb" },
        { "empty", "0,0,D,,0,0,0,,{\\i1}{\\i0}", 1, "" },
        { "spaces-only", "0,0,D,,0,0,0,,   ", 1, "" },
        { "plain", "x < y\n\nz", 0, "x &lt; y\nz" },
        { "short-event", "0,0,D", 1, "" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (!check_begin("ass_to_vtt/%s", cases[i].name))
            continue;
        char *out = subtitle_ass_to_vtt(cases[i].in, cases[i].fields);
        CHECK_STR(out, cases[i].want);
        free(out);
        check_end();
    }
}

static void test_normalize(void)
{
    struct subtitle_track *t = subtitle_track_new();
    if (check_begin("normalize")) {
        subtitle_track_add(t, 5000, 6000, "c");
        subtitle_track_add(t, 1000, SUBTITLE_END_OPEN, "a");  /* open: until "b" */
        subtitle_track_add(t, 1000, 1500, "a2");   /* same start: after "a" */
        subtitle_track_add(t, 3000, 2000, "bad");  /* ends before it starts */
        subtitle_track_add(t, 2500, SUBTITLE_END_OPEN, "b");  /* until "c", not "bad" */
        subtitle_track_add(t, 9000, SUBTITLE_END_OPEN, "d");  /* open, last */
        subtitle_track_add(t, 6500, SUBTITLE_END_OPEN, "e");  /* open: until "d" */
        subtitle_track_add(t, -900, -300, "neg");  /* before 0, but known */
        subtitle_track_add(t, 7000, 8000, "");     /* empty: not added */
        subtitle_track_normalize(t);
        CHECK_INT(t->ncues, 7);
        if (t->ncues == 7 && !strcmp(t->cues[0].text, "neg")) {
            CHECK_INT(t->cues[0].end_ms, -300);
            free(t->cues[0].text);
            memmove(t->cues, t->cues + 1, 6 * sizeof(*t->cues));   /* the rest as before */
            t->cues[6].text = NULL;
            t->ncues = 6;
        } else {
            CHECK(0, "the cue before 0 is first");
        }
        if (t->ncues == 6) {
            CHECK_STR(t->cues[0].text, "a");
            CHECK_INT(t->cues[0].end_ms, 2500);
            CHECK_STR(t->cues[1].text, "a2");
            CHECK_STR(t->cues[2].text, "b");
            CHECK_INT(t->cues[2].end_ms, 5000);
            CHECK_STR(t->cues[3].text, "c");
            CHECK_STR(t->cues[4].text, "e");
            CHECK_INT(t->cues[4].end_ms, 9000);
            CHECK_STR(t->cues[5].text, "d");
            CHECK_INT(t->cues[5].end_ms, 9000 + SUBTITLE_OPEN_END_MS);
        }
        check_end();
    }
    subtitle_track_free(&t);
    CHECK(t == NULL, "freed");
}

/* The segment files of a track on a plan of 6 s segments starting at
 * 10 s of the source's clock. */
static void test_vtt_segments(void)
{
    static const int64_t start_ms[] = { 0, 6000, 12000, 18000 };
    static const int64_t durations[] = { 6000, 6000, 6000 };
    const struct subtitle_timing tm = {
        .nseg = 3, .start_ms = start_ms, .origin_ms = 10000, .mpegts = 1026000,
    };
    struct subtitle_track *t = subtitle_track_new();
    subtitle_track_add(t, 9000, 10500, "before the start");   /* seg 0, clamped */
    subtitle_track_add(t, 8000, 9999, "gone");                /* ends before: none */
    subtitle_track_add(t, 12000, 13000, "one");               /* seg 0 */
    subtitle_track_add(t, 15000, 17000, "across");            /* segs 0 and 1 */
    subtitle_track_add(t, 16000, 16000 + 14000, "long");      /* 1, 2 and 2's end */
    subtitle_track_add(t, 22000, 23000, "on the cut");        /* starts at 12 s: seg 2 */
    subtitle_track_add(t, 40000, 41000, "after the end");     /* last segment */
    subtitle_track_normalize(t);

    if (check_begin("vtt/derive")) {
        CHECK_INT(subtitle_derive(t, &tm, durations), 0);
        for (long i = -1; i < 3; i++) {
            size_t n = subtitle_vtt(t, &tm, i, NULL);
            char *buf = malloc(n + 1);
            size_t m = subtitle_vtt(t, &tm, i, buf);
            CHECK_INT(m, n);
            CHECK_INT(strlen(buf), n);
            CHECK_INT(n, i < 0 ? t->whole_size : t->sizes[i]);
            free(buf);
        }
        CHECK(t->playlist && strstr(t->playlist, "00002.vtt") &&
              strstr(t->playlist, "#EXTINF:6.000,") && !strstr(t->playlist, ".ts"),
              "playlist: %s", t->playlist ? t->playlist : "(null)");
        check_end();
    }
    const char *want[3] = {
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1026000,LOCAL:00:00:00.000\n\n"
        "00:00:00.000 --> 00:00:00.500\nbefore the start\n\n"
        "00:00:02.000 --> 00:00:03.000\none\n\n"
        "00:00:05.000 --> 00:00:07.000\nacross\n\n",
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1026000,LOCAL:00:00:00.000\n\n"
        "00:00:05.000 --> 00:00:07.000\nacross\n\n"
        "00:00:06.000 --> 00:00:20.000\nlong\n\n",
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1026000,LOCAL:00:00:00.000\n\n"
        "00:00:06.000 --> 00:00:20.000\nlong\n\n"
        "00:00:12.000 --> 00:00:13.000\non the cut\n\n"
        "00:00:30.000 --> 00:00:31.000\nafter the end\n\n",
    };
    for (long i = 0; i < 3; i++) {
        if (!check_begin("vtt/segment%ld", i))
            continue;
        char *buf = malloc(subtitle_vtt(t, &tm, i, NULL) + 1);
        subtitle_vtt(t, &tm, i, buf);
        CHECK_STR(buf, want[i]);
        free(buf);
        check_end();
    }
    if (check_begin("vtt/whole")) {
        char *buf = malloc(subtitle_vtt(t, &tm, -1, NULL) + 1);
        subtitle_vtt(t, &tm, -1, buf);
        CHECK(!strncmp(buf, "WEBVTT\n\n00:00:00.000 --> 00:00:00.500\nbefore", 44) &&
              !strstr(buf, "gone") && !strstr(buf, "X-TIMESTAMP-MAP") &&
              strstr(buf, "00:00:30.000 --> 00:00:31.000\nafter the end\n\n"), "%s", buf);
        free(buf);
        check_end();
    }
    subtitle_track_free(&t);
}

static void test_names(void)
{
    struct subtitle_track *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = subtitle_track_new();
    snprintf(t[0]->language, sizeof(t[0]->language), "eng");
    snprintf(t[1]->language, sizeof(t[1]->language), "en");
    snprintf(t[2]->language, sizeof(t[2]->language), "fr");
    t[2]->forced = 1;
    snprintf(t[3]->name, sizeof(t[3]->name), "Commentary");
    if (check_begin("names")) {
        subtitle_name_tracks(t, 4);
        CHECK_STR(t[0]->name, "English");
        CHECK_STR(t[1]->name, "English 2");
        CHECK_STR(t[2]->name, "French (forced)");
        CHECK_STR(t[3]->name, "Commentary");
        check_end();
    }
    for (int i = 0; i < 4; i++)
        subtitle_track_free(&t[i]);
}

static int write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(data, 1, n, f);
    return fclose(f);
}

/* Sidecar files read through libavformat, in name order. */
static void test_sidecars(void)
{
    char dir[] = "/tmp/test_subtitle_XXXXXX", path[256];
    struct subtitle_track **tracks = NULL;
    int n = 0;

    if (!check_begin("sidecars"))
        return;
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    static const char srt[] = "\xff\xfe" "1\0\n\0" "0\0" "0\0:\0" "0\0" "0\0:\0" "0\0" "1\0,\0"
        "5\0" "0\0" "0\0 \0-\0-\0>\0 \0" "0\0" "0\0:\0" "0\0" "0\0:\0" "0\0" "3\0,\0" "0\0"
        "0\0" "0\0\n\0" "<\0i\0>\0" "\xe9\0" "<\0/\0i\0>\0\n\0";
    static const char vtt[] = "WEBVTT\n\n00:00:02.000 --> 00:00:04.250\n<b>Bold</b> line\n";
    static const char ass[] =
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,20,&H00FFFFFF,&H00FFFFFF,&H00000000,&H00000000,0,0,0,0,100,"
        "100,0,0,1,1,0,2,10,10,10,1\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: 0,0:00:05.50,0:00:07.00,Default,,0,0,0,,{\\i1}Ass{\\i0} text\\Nsecond\n";
    snprintf(path, sizeof(path), "%s/film.mkv", dir);
    write_file(path, "x", 1);
    snprintf(path, sizeof(path), "%s/film.fr.forced.srt", dir);
    write_file(path, srt, sizeof(srt) - 1);
    snprintf(path, sizeof(path), "%s/film.de.sdh.vtt", dir);
    write_file(path, vtt, sizeof(vtt) - 1);
    snprintf(path, sizeof(path), "%s/film.ass", dir);
    write_file(path, ass, sizeof(ass) - 1);
    snprintf(path, sizeof(path), "%s/film.part2.srt", dir);
    write_file(path, vtt, sizeof(vtt) - 1);
    snprintf(path, sizeof(path), "%s/film.mkv", dir);
    uint64_t stamp = subtitle_sidecar_stamp(path);
    CHECK(stamp != 0, "a stamp for three sidecars");
    CHECK_INT(subtitle_sidecar_stamp(path), stamp);
    CHECK_INT(subtitle_sidecars(path, &tracks, &n), 0);
    CHECK_INT(n, 3);
    if (n == 3) {
        /* name order: film.ass, film.de.sdh.vtt, film.fr.forced.srt */
        CHECK_STR(tracks[0]->language, "");
        CHECK_INT(tracks[0]->ncues, 1);
        if (tracks[0]->ncues) {
            CHECK_INT(tracks[0]->cues[0].start_ms, 5500);
            CHECK_INT(tracks[0]->cues[0].end_ms, 7000);
            CHECK_STR(tracks[0]->cues[0].text, "<i>Ass</i> text\nsecond");
        }
        CHECK_STR(tracks[1]->language, "de");
        CHECK_INT(tracks[1]->sdh, 1);
        CHECK_INT(tracks[1]->ncues, 1);
        if (tracks[1]->ncues) {
            CHECK_INT(tracks[1]->cues[0].start_ms, 2000);
            CHECK_INT(tracks[1]->cues[0].end_ms, 4250);
            CHECK_STR(tracks[1]->cues[0].text, "<b>Bold</b> line");
        }
        CHECK_STR(tracks[2]->language, "fr");
        CHECK_INT(tracks[2]->forced, 1);
        CHECK_INT(tracks[2]->ncues, 1);
        if (tracks[2]->ncues) {
            CHECK_INT(tracks[2]->cues[0].start_ms, 1500);
            CHECK_INT(tracks[2]->cues[0].end_ms, 3000);
            CHECK_STR(tracks[2]->cues[0].text, "<i>\xc3\xa9</i>");
        }
    }
    for (int i = 0; i < n; i++)
        subtitle_track_free(&tracks[i]);
    free(tracks);
    /* another sidecar, or one changed: another stamp; none: 0 */
    snprintf(path, sizeof(path), "%s/film.es.srt", dir);
    write_file(path, vtt, sizeof(vtt) - 1);
    snprintf(path, sizeof(path), "%s/film.mkv", dir);
    uint64_t more = subtitle_sidecar_stamp(path);
    CHECK(more != 0 && more != stamp, "a new sidecar changes the stamp");
    snprintf(path, sizeof(path), "%s/film.es.srt", dir);
    write_file(path, vtt, sizeof(vtt) - 2);
    snprintf(path, sizeof(path), "%s/film.mkv", dir);
    CHECK(subtitle_sidecar_stamp(path) != more, "a changed sidecar changes the stamp");
    snprintf(path, sizeof(path), "%s/other.mkv", dir);
    CHECK_INT(subtitle_sidecar_stamp(path), 0);
    static const char *const names[] = { "film.mkv", "film.fr.forced.srt", "film.de.sdh.vtt",
                                         "film.ass", "film.part2.srt", "film.es.srt" };
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    check_end();
}

static void test_vpath_subtitles(void)
{
    static const struct {
        const char *inner;
        int ret;
        enum vnode_kind kind;
        const char *rend;
        long segment;
    } cases[] = {
        { "/subtitles", 0, VN_KIND_DIR, "", 0 },
        { "/subtitles/", 0, VN_KIND_DIR, "", 0 },
        { "/subtitles/0", 0, VN_REND_DIR, "0", 0 },
        { "/subtitles/12/", 0, VN_REND_DIR, "12", 0 },
        { "/subtitles/0.vtt", 0, VN_SUBTITLE_FILE, "0", 0 },
        { "/subtitles/3/index.m3u8", 0, VN_PLAYLIST, "3", 0 },
        { "/subtitles/3/00042.vtt", 0, VN_SEGMENT, "3", 42 },
        { "/subtitles/3/00042.ts", -ENOENT, VN_TITLE_DIR, "", 0 },
        { "/subtitles/03/index.m3u8", -ENOENT, VN_TITLE_DIR, "", 0 },
        { "/subtitles/0.vtt/", -ENOENT, VN_TITLE_DIR, "", 0 },
        { "/subtitles/x.vtt", -ENOENT, VN_TITLE_DIR, "", 0 },
        { "/subtitles/0/0042.vtt", -ENOENT, VN_TITLE_DIR, "", 0 },
        { "/audio/0/00042.vtt", -ENOENT, VN_TITLE_DIR, "", 0 },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct vnode v;
        if (!check_begin("vpath%s", cases[i].inner))
            continue;
        int ret = vpath_parse_inner(cases[i].inner, "mkv", &v);
        CHECK_INT(ret, cases[i].ret);
        if (ret == 0) {
            CHECK_INT(v.kind, cases[i].kind);
            CHECK_INT(v.rkind, REND_SUBTITLE);
            CHECK_STR(v.rend, cases[i].rend);
            CHECK_INT(v.segment, cases[i].segment);
        }
        check_end();
    }
}

static void test_master(void)
{
    const struct playlist_variant var[2] = {
        { .bandwidth = 1000, .avg_bandwidth = 900, .codecs = "avc1.64001f", .audio_group = "audio",
          .uri = "video/original/index.m3u8" },
        { .bandwidth = 500, .avg_bandwidth = 400, .uri = "video/360p/index.m3u8" },
    };
    const struct playlist_audio aud = { .group = "audio", .name = "Audio", .channels = 2,
                                        .uri = "audio/0/index.m3u8" };
    const struct playlist_subtitle subs[2] = {
        { .language = "en", .name = "English", .is_default = 1, .uri = "subtitles/0/index.m3u8" },
        { .language = NULL, .name = "Forced \"x\"", .forced = 1, .sdh = 1,
          .uri = "subtitles/1/index.m3u8" },
    };
    char *base = playlist_master(var, 2, &aud, 1);
    if (check_begin("master/subtitles")) {
        char *m = playlist_master_subtitles(base, subs, 2, "subs");
        CHECK(m != NULL, "made");
        const char *a = m ? strstr(m, "#EXT-X-MEDIA:TYPE=AUDIO") : NULL;
        const char *s0 = m ? strstr(m, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\","
                                       "LANGUAGE=\"en\",NAME=\"English\",DEFAULT=YES,"
                                       "AUTOSELECT=YES,FORCED=NO,URI=\"subtitles/0/index.m3u8\"\n")
                            : NULL;
        const char *s1 = m ? strstr(m, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\","
                                       "NAME=\"Forced _x_\",DEFAULT=NO,AUTOSELECT=YES,"
                                       "FORCED=YES,CHARACTERISTICS=") : NULL;
        const char *v0 = m ? strstr(m, "CODECS=\"avc1.64001f\",AUDIO=\"audio\","
                                       "SUBTITLES=\"subs\"\nvideo/original/index.m3u8\n") : NULL;
        const char *v1 = m ? strstr(m, "AVERAGE-BANDWIDTH=400,SUBTITLES=\"subs\"\n"
                                       "video/360p/index.m3u8\n") : NULL;
        CHECK(a && s0 && s1 && v0 && v1 && a < s0 && s0 < s1 && s1 < v0 && v0 < v1,
              "%s", m ? m : "(null)");
        free(m);
        m = playlist_master_subtitles(base, subs, 0, "subs");
        CHECK_STR(m, base);
        free(m);
        check_end();
    }
    free(base);
}

int main(void)
{
    test_sidecar_kind();
    test_to_utf8();
    test_ass_to_vtt();
    test_normalize();
    test_vtt_segments();
    test_names();
    test_sidecars();
    test_vpath_subtitles();
    test_master();
    return check_summary("test_subtitle");
}
