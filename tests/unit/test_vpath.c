/*
 * test_vpath.c -- unit tests for src/vpath.c: video names, extensions,
 * title splits, the grammar below a title directory, segment names.
 */
#include "hlsfs/vpath.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_is_video_name(void)
{
    static const struct {
        const char *name;
        int want;
    } cases[] = {
        /* every video extension, lower case */
        { "a.mp4", 1 },   { "a.m4v", 1 },  { "a.mkv", 1 },  { "a.webm", 1 },
        { "a.mov", 1 },   { "a.avi", 1 },  { "a.ts", 1 },   { "a.m2ts", 1 },
        { "a.mts", 1 },   { "a.flv", 1 },  { "a.wmv", 1 },  { "a.mpg", 1 },
        { "a.mpeg", 1 },  { "a.3gp", 1 },  { "a.ogv", 1 },  { "a.vob", 1 },
        { "a.mxf", 1 },   { "a.divx", 1 }, { "a.asf", 1 },
        /* case-insensitive */
        { "Film.MKV", 1 }, { "film.Mp4", 1 }, { "X.WEBM", 1 }, { "x.M2TS", 1 },
        { "x.DivX", 1 },  { "X.3GP", 1 },  { "x.TS", 1 },
        /* the last dot decides */
        { "film.part.mkv", 1 }, { "film.mkv.part", 0 }, { "a.b.c.avi", 1 },
        { "..mkv", 1 },  { ".hidden.mp4", 1 }, { "my film (2001).mov", 1 },
        /* audio containers are not video */
        { "a.m4a", 0 },  { "a.m4b", 0 },  { "a.mp3", 0 },  { "a.flac", 0 },
        { "a.ogg", 0 },  { "a.opus", 0 }, { "a.wav", 0 },  { "a.aac", 0 },
        { "A.M4A", 0 },  { "A.FLAC", 0 },
        /* subtitles, images, other files */
        { "a.srt", 0 },  { "a.ass", 0 },  { "a.vtt", 0 },  { "a.sub", 0 },
        { "a.idx", 0 },  { "a.jpg", 0 },  { "a.png", 0 },  { "a.nfo", 0 },
        { "a.txt", 0 },
        /* near misses: prefixes, suffixes and fragments of extensions */
        { "a.mk", 0 },   { "a.mkvx", 0 }, { "a.s", 0 },    { "a.m2t", 0 },
        { "a.mpe", 0 },  { "a.mp", 0 },   { "a.mp4 ", 0 }, { "a. mp4", 0 },
        { "a.mp4~", 0 }, { "a.tss", 0 },  { "amkv", 0 },   { "a_mkv", 0 },
        /* only an extension, or none */
        { ".mkv", 0 },   { ".MP4", 0 },   { "mkv", 0 },    { "film", 0 },
        { "film.", 0 },  { ".", 0 },      { "..", 0 },     { "", 0 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        check_begin("is_video_name/\"%s\"", cases[i].name);
        CHECK_INT(vpath_is_video_name(cases[i].name), cases[i].want);
        check_end();
    }
    check_begin("is_video_name/NULL");
    CHECK_INT(vpath_is_video_name(NULL), 0);
    check_end();
}

static void test_ext(void)
{
    static const struct {
        const char *name;
        const char *want;
        long offset;   /* where the result must point, -1: anywhere */
    } cases[] = {
        { "Film.MKV", "MKV", 5 },
        { "film.mkv", "mkv", 5 },
        { "a.b.c", "c", 4 },
        { "film.part.mkv", "mkv", 10 },
        { "film.", "", 5 },
        { "film", "", -1 },
        { ".hidden", "", -1 },
        { ".mkv", "", -1 },
        { "..mkv", "mkv", 2 },
        { "", "", -1 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const char *got = vpath_ext(cases[i].name);

        check_begin("ext/\"%s\"", cases[i].name);
        CHECK_STR(got, cases[i].want);
        if (cases[i].offset >= 0)
            CHECK(got == cases[i].name + cases[i].offset,
                  "result does not point into the name at offset %ld",
                  cases[i].offset);
        check_end();
    }
}

static void test_next_title_split(void)
{
    static const struct {
        const char *path;
        size_t from;
        long want;
    } cases[] = {
        { "/a/b.mkv/video/x", 0, 8 },
        { "/a/b.mkv/master.m3u8", 0, 8 },
        { "/b.mkv", 0, 6 },
        { "/b.mkv/", 0, 6 },
        { "a.webm/x", 0, 6 },
        { "/Season 1/Ep 01.Mp4/master.m3u8", 0, 19 },
        { "/dir.mkv.d/x.MP4/", 0, 16 },
        { "//a.avi//", 0, 7 },
        { "/a.mkv/b.mp4/x", 0, 6 },
        { "/a.mkv/b.mp4/x", 6, 12 },   /* from at a '/' */
        { "/a.mkv/b.mp4/x", 7, 12 },   /* from at the start of a name */
        { "/film.mkv/source.mkv", 9, 20 },
        { "/a.mkv", 6, -1 },
        { "/a.mkv", 7, -1 },           /* from past the end */
        { "/a/b", 0, -1 },
        { "/a/.mkv/x", 0, -1 },
        { "/music/a.flac", 0, -1 },
        { "/a/b.srt", 0, -1 },
        { "/", 0, -1 },
        { "", 0, -1 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        check_begin("next_title_split/\"%s\"@%zu", cases[i].path,
                    cases[i].from);
        CHECK_INT(vpath_next_title_split(cases[i].path, cases[i].from),
                  cases[i].want);
        check_end();
    }
}

#define NAME31 "abcdefghijklmnopqrstuvwxyz01234"
#define NAME32 "abcdefghijklmnopqrstuvwxyz012345"

static void test_parse_accept(void)
{
    static const struct {
        const char *inner;
        const char *ext;
        enum vnode_kind kind;
        enum rend_kind rkind;   /* checked for KIND_DIR and below */
        const char *rend;       /* checked for REND_DIR and below */
        long segment;
        int digits;
    } cases[] = {
        { "", "mkv", VN_TITLE_DIR, 0, "", 0, 0 },
        { "/", "mkv", VN_TITLE_DIR, 0, "", 0, 0 },
        { "/master.m3u8", "mkv", VN_MASTER, 0, "", 0, 0 },
        { "/source.mkv", "mkv", VN_SOURCE, 0, "", 0, 0 },
        { "/source.MKV", "MKV", VN_SOURCE, 0, "", 0, 0 },
        { "/source.m2ts", "m2ts", VN_SOURCE, 0, "", 0, 0 },
        { "/ERROR", "mkv", VN_ERROR, 0, "", 0, 0 },
        { "/video", "mkv", VN_KIND_DIR, REND_VIDEO, "", 0, 0 },
        { "/video/", "mkv", VN_KIND_DIR, REND_VIDEO, "", 0, 0 },
        { "/audio", "mkv", VN_KIND_DIR, REND_AUDIO, "", 0, 0 },
        { "/audio/", "mkv", VN_KIND_DIR, REND_AUDIO, "", 0, 0 },
        { "/video/original", "mkv", VN_REND_DIR, REND_VIDEO, "original", 0, 0 },
        { "/video/720p/", "mkv", VN_REND_DIR, REND_VIDEO, "720p", 0, 0 },
        { "/video/a_b-9", "mkv", VN_REND_DIR, REND_VIDEO, "a_b-9", 0, 0 },
        { "/video/x", "mkv", VN_REND_DIR, REND_VIDEO, "x", 0, 0 },
        { "/video/" NAME31, "mkv", VN_REND_DIR, REND_VIDEO, NAME31, 0, 0 },
        { "/audio/0", "mkv", VN_REND_DIR, REND_AUDIO, "0", 0, 0 },
        { "/audio/7/", "mkv", VN_REND_DIR, REND_AUDIO, "7", 0, 0 },
        { "/audio/10", "mkv", VN_REND_DIR, REND_AUDIO, "10", 0, 0 },
        { "/audio/999", "mkv", VN_REND_DIR, REND_AUDIO, "999", 0, 0 },
        { "/video/720p/index.m3u8", "mkv", VN_PLAYLIST, REND_VIDEO, "720p",
          0, 0 },
        { "/audio/2/index.m3u8", "mkv", VN_PLAYLIST, REND_AUDIO, "2", 0, 0 },
        { "/video/720p/00042.ts", "mkv", VN_SEGMENT, REND_VIDEO, "720p",
          42, 5 },
        { "/video/original/00000.ts", "mkv", VN_SEGMENT, REND_VIDEO,
          "original", 0, 5 },
        { "/video/1080p/99999.ts", "mkv", VN_SEGMENT, REND_VIDEO, "1080p",
          99999, 5 },
        { "/audio/0/123456.ts", "mkv", VN_SEGMENT, REND_AUDIO, "0",
          123456, 6 },
        { "/video/x/000000001.ts", "mkv", VN_SEGMENT, REND_VIDEO, "x", 1, 9 },
        { "/video/720p/00042.m4s", "mkv", VN_SEGMENT, REND_VIDEO, "720p", 42, 5 },
        { "/audio/3/0000017.m4s", "mkv", VN_SEGMENT, REND_AUDIO, "3", 17, 7 },
        { "/video/original/init.mp4", "mkv", VN_INIT, REND_VIDEO, "original", 0, 0 },
        { "/audio/0/init.mp4", "mkv", VN_INIT, REND_AUDIO, "0", 0, 0 },
        { "/audio/0-6ch/00003.ts", "mkv", VN_SEGMENT, REND_AUDIO, "0-6ch", 3, 5 },
        { "/audio/1-32k/00003.ts", "mkv", VN_SEGMENT, REND_AUDIO, "1-32k", 3, 5 },
        { "/audio/12-8ch/index.m3u8", "mkv", VN_PLAYLIST, REND_AUDIO, "12-8ch", 0, 0 },
        { "/audio/3-10ch", "mkv", VN_REND_DIR, REND_AUDIO, "3-10ch", 0, 0 },
        { "/audio/12/999999999.ts", "mkv", VN_SEGMENT, REND_AUDIO, "12",
          999999999, 9 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct vnode v;
        int ret;

        memset(&v, 0x5a, sizeof(v));
        check_begin("parse_inner/accept/\"%s\"", cases[i].inner);
        ret = vpath_parse_inner(cases[i].inner, cases[i].ext, &v);
        CHECK_INT(ret, 0);
        if (ret == 0) {
            CHECK_INT(v.kind, cases[i].kind);
            if (cases[i].kind >= VN_KIND_DIR)
                CHECK_INT(v.rkind, cases[i].rkind);
            if (cases[i].kind >= VN_REND_DIR)
                CHECK_STR(v.rend, cases[i].rend);
            if (cases[i].kind == VN_SEGMENT) {
                CHECK_INT(v.segment, cases[i].segment);
                CHECK_INT(v.seg_digits, cases[i].digits);
                CHECK_INT(v.m4s, strstr(cases[i].inner, ".m4s") != NULL);
            }
        }
        check_end();
    }
}

static void test_parse_reject(void)
{
    static const struct {
        const char *inner;
        const char *ext;
    } cases[] = {
        /* not below the title directory, empty components */
        { "master.m3u8", "mkv" },       { "video", "mkv" },
        { "//", "mkv" },                { "//master.m3u8", "mkv" },
        { "/video//", "mkv" },          { "/video//720p", "mkv" },
        { "/video/720p//", "mkv" },     { "/video/720p//index.m3u8", "mkv" },
        { "/audio/0//00042.ts", "mkv" }, { "///", "mkv" },
        /* dot names */
        { "/.", "mkv" },  { "/..", "mkv" },  { "/video/.", "mkv" },
        { "/video/..", "mkv" },  { "/video/../master.m3u8", "mkv" },
        { "/video/720p/..", "mkv" },
        /* files with a trailing slash */
        { "/master.m3u8/", "mkv" },     { "/ERROR/", "mkv" },
        { "/source.mkv/", "mkv" },      { "/video/720p/index.m3u8/", "mkv" },
        { "/video/720p/00042.ts/", "mkv" },
        /* wrong names at the top */
        { "/MASTER.M3U8", "mkv" },      { "/master.m3u", "mkv" },
        { "/master.m3u8x", "mkv" },     { "/index.m3u8", "mkv" },
        { "/error", "mkv" },            { "/Video", "mkv" },
        { "/videos", "mkv" },           { "/AUDIO", "mkv" },
        { "/foo", "mkv" },              { "/00042.ts", "mkv" },
        /* source.EXT must match the given extension exactly */
        { "/source.MKV", "mkv" },       { "/source.mkv", "MKV" },
        { "/source.mp4", "mkv" },       { "/source.mkv", "mk" },
        { "/source.mk", "mkv" },        { "/source", "mkv" },
        { "/source.", "" },             { "/source.", NULL },
        { "/source.mkv", NULL },        { "/Source.mkv", "mkv" },
        /* bad video rendition names */
        { "/video/720P", "mkv" },       { "/video/7 20p", "mkv" },
        { "/video/a.b", "mkv" },        { "/video/" NAME32, "mkv" },
        { "/video/index.m3u8", "mkv" }, { "/video/00042.ts", "mkv" },
        /* bad audio track numbers */
        { "/audio/00", "mkv" },         { "/audio/01", "mkv" },
        { "/audio/1000", "mkv" },       { "/audio/-1", "mkv" },
        { "/audio/+1", "mkv" },         { "/audio/a", "mkv" },
        { "/audio/original", "mkv" },   { "/audio/1a", "mkv" },
        { "/audio/index.m3u8", "mkv" },
        /* bad names inside a rendition */
        { "/video/720p/Index.m3u8", "mkv" },
        { "/video/720p/index.m3u", "mkv" },
        { "/video/720p/master.m3u8", "mkv" },
        { "/video/720p/foo", "mkv" },
        { "/video/720p/0042.ts", "mkv" },        /* 4 digits */
        { "/video/720p/1234567890.ts", "mkv" },  /* 10 digits */
        { "/video/720p/00042.TS", "mkv" },
        { "/video/720p/00042", "mkv" },
        { "/video/720p/00042.t", "mkv" },
        { "/video/720p/00042.tsx", "mkv" },
        { "/video/720p/00042.ts.ts", "mkv" },
        { "/video/720p/.ts", "mkv" },
        { "/video/720p/0004a.ts", "mkv" },
        { "/video/720p/-0042.ts", "mkv" },
        { "/video/720p/+0042.ts", "mkv" },
        { "/video/720p/ 0042.ts", "mkv" },
        { "/video/720p/00042.mp4", "mkv" }, { "/video/720p/0042.m4s", "mkv" },
        { "/video/720p/init.m4s", "mkv" },  { "/video/720p/INIT.mp4", "mkv" },
        { "/video/init.mp4", "mkv" },       { "/init.mp4", "mkv" },
        { "/audio/0-6/index.m3u8", "mkv" }, { "/audio/0-0ch/index.m3u8", "mkv" },
        { "/audio/-6ch/index.m3u8", "mkv" }, { "/audio/01-6ch/index.m3u8", "mkv" },
        { "/audio/0-100ch/index.m3u8", "mkv" }, { "/audio/0-6CH/index.m3u8", "mkv" },
        { "/audio/0-6ch-x/index.m3u8", "mkv" }, { "/audio/0-64k/index.m3u8", "mkv" },
        { "/audio/-32k/index.m3u8", "mkv" },
        /* a kind directory that is not video or audio */
        { "/subs/0/index.m3u8", "mkv" },
        /* extra components */
        { "/master.m3u8/x", "mkv" },
        { "/ERROR/x", "mkv" },
        { "/video/720p/x/00042.ts", "mkv" },
        { "/video/720p/00042.ts/x", "mkv" },
        { "/audio/0/index.m3u8/x", "mkv" },
        { "/video/720p/index.m3u8/index.m3u8", "mkv" },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct vnode v;

        memset(&v, 0, sizeof(v));
        check_begin("parse_inner/reject/\"%s\" ext=%s", cases[i].inner,
                    cases[i].ext ? cases[i].ext : "NULL");
        CHECK_INT(vpath_parse_inner(cases[i].inner, cases[i].ext, &v),
                  -ENOENT);
        check_end();
    }
}

static void test_segment_digits(void)
{
    static const struct {
        long count;
        int want;
    } cases[] = {
        { LONG_MIN, 5 }, { -5, 5 },     { 0, 5 },        { 1, 5 },
        { 2, 5 },        { 1000, 5 },   { 99999, 5 },    { 100000, 5 },
        { 100001, 6 },   { 1000000, 6 }, { 1000001, 7 }, { 10000001, 8 },
        { 1000000000, 9 }, { 1000000001, 10 }, { LONG_MAX, 19 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        check_begin("segment_digits/%ld", cases[i].count);
        CHECK_INT(vpath_segment_digits(cases[i].count), cases[i].want);
        check_end();
    }
}

static void test_segment_name(void)
{
    static const struct {
        long index, count;
        size_t size;
        int ret;
        const char *want;     /* checked when ret >= 0 */
    } cases[] = {
        { 0, 1, 32, 8, "00000.ts" },
        { 42, 100, 32, 8, "00042.ts" },
        { 99999, 100000, 32, 8, "99999.ts" },
        { 5, 100001, 32, 9, "000005.ts" },
        { 100000, 100001, 32, 9, "100000.ts" },
        { 123, 5000000, 32, 10, "0000123.ts" },
        { 42, 100, 9, 8, "00042.ts" },          /* exactly fits */
        { 42, 100, 8, -ENAMETOOLONG, NULL },    /* no room for the NUL */
        { 42, 100, 1, -ENAMETOOLONG, NULL },
        { 5, 100001, 9, -ENAMETOOLONG, NULL },
        { -1, 100, 32, -EINVAL, NULL },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[32];
        int ret;

        memset(buf, 'X', sizeof(buf));
        check_begin("segment_name/%ld-of-%ld/size%zu", cases[i].index,
                    cases[i].count, cases[i].size);
        ret = vpath_segment_name(buf, cases[i].size, cases[i].index,
                                 cases[i].count);
        CHECK_INT(ret, cases[i].ret);
        if (cases[i].ret >= 0 && ret >= 0)
            CHECK_STR(buf, cases[i].want);
        CHECK(cases[i].size >= sizeof(buf) || buf[cases[i].size] == 'X',
              "wrote past the given size %zu", cases[i].size);
        check_end();
    }
}

/* Every name vpath_segment_name() makes is parsed back to the same index
 * and digit count. */
static void test_segment_roundtrip(void)
{
    static const struct {
        long index, count;
    } cases[] = {
        { 0, 1 }, { 7, 8 }, { 99999, 100000 }, { 0, 100001 },
        { 100000, 100001 }, { 999999999, 1000000000 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char name[32], inner[64];
        struct vnode v;
        int ret;

        for (int m4s = 0; m4s < 2; m4s++) {
            check_begin("segment_roundtrip/%ld-of-%ld%s", cases[i].index,
                        cases[i].count, m4s ? "/m4s" : "");
            ret = vpath_segment_name_as(name, sizeof(name), cases[i].index,
                                        cases[i].count, m4s);
            CHECK(ret > 0, "vpath_segment_name_as returned %d", ret);
            CHECK(strstr(name, m4s ? ".m4s" : ".ts") != NULL, "extension of %s", name);
            snprintf(inner, sizeof(inner), "/video/720p/%s", name);
            memset(&v, 0, sizeof(v));
            CHECK_INT(vpath_parse_inner(inner, "mkv", &v), 0);
            CHECK_INT(v.kind, VN_SEGMENT);
            CHECK_INT(v.segment, cases[i].index);
            CHECK_INT(v.seg_digits, vpath_segment_digits(cases[i].count));
            CHECK_INT(v.m4s, m4s);
            check_end();
        }
    }
}

/* thumbs/: the directory, its index and its sprites; anything else in
 * it, or a sprite name of another form, is not a name. */
static void test_parse_thumbs(void)
{
    static const struct {
        const char *inner;
        int ret;
        enum vnode_kind kind;
        long segment;
        int digits;
    } cases[] = {
        { "/thumbs", 0, VN_THUMB_DIR, 0, 0 },
        { "/thumbs/", 0, VN_THUMB_DIR, 0, 0 },
        { "/thumbs/thumbs.vtt", 0, VN_THUMB_INDEX, 0, 0 },
        { "/thumbs/00000.jpg", 0, VN_THUMB_SPRITE, 0, 5 },
        { "/thumbs/00042.jpg", 0, VN_THUMB_SPRITE, 42, 5 },
        { "/thumbs/123456.jpg", 0, VN_THUMB_SPRITE, 123456, 6 },
        { "/thumbs/thumbs.vtt/", -ENOENT, 0, 0, 0 },
        { "/thumbs/00000.jpg/", -ENOENT, 0, 0, 0 },
        { "/thumbs/0000.jpg", -ENOENT, 0, 0, 0 },
        { "/thumbs/1234567890.jpg", -ENOENT, 0, 0, 0 },
        { "/thumbs/00000.JPG", -ENOENT, 0, 0, 0 },
        { "/thumbs/00000.ts", -ENOENT, 0, 0, 0 },
        { "/thumbs/0000a.jpg", -ENOENT, 0, 0, 0 },
        { "/thumbs/.jpg", -ENOENT, 0, 0, 0 },
        { "/thumbs/index.m3u8", -ENOENT, 0, 0, 0 },
        { "/thumbs/Thumbs.vtt", -ENOENT, 0, 0, 0 },
        { "/thumbs/x/00000.jpg", -ENOENT, 0, 0, 0 },
        { "/thumbs//", -ENOENT, 0, 0, 0 },
        { "/Thumbs", -ENOENT, 0, 0, 0 },
        { "/thumb", -ENOENT, 0, 0, 0 },
        { "/video/720p/00000.jpg", -ENOENT, 0, 0, 0 },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct vnode v;
        int ret;

        memset(&v, 0x5a, sizeof(v));
        check_begin("parse_inner/thumbs/\"%s\"", cases[i].inner);
        ret = vpath_parse_inner(cases[i].inner, "mkv", &v);
        CHECK_INT(ret, cases[i].ret);
        if (ret == 0 && cases[i].ret == 0) {
            CHECK_INT(v.kind, cases[i].kind);
            if (cases[i].kind == VN_THUMB_SPRITE) {
                CHECK_INT(v.segment, cases[i].segment);
                CHECK_INT(v.seg_digits, cases[i].digits);
            }
        }
        check_end();
    }
    check_begin("sprite_name");
    char buf[32];
    CHECK_INT(vpath_sprite_name(buf, sizeof(buf), 3, 8), 9);
    CHECK_STR(buf, "00003.jpg");
    CHECK_INT(vpath_sprite_name(buf, sizeof(buf), 7, 1000001), 11);
    CHECK_STR(buf, "0000007.jpg");
    CHECK_INT(vpath_sprite_name(buf, 9, 3, 8), -ENAMETOOLONG);
    CHECK_INT(vpath_sprite_name(buf, sizeof(buf), -1, 8), -EINVAL);
    check_end();
}

int main(void)
{
    test_is_video_name();
    test_ext();
    test_next_title_split();
    test_parse_accept();
    test_parse_reject();
    test_segment_digits();
    test_segment_name();
    test_segment_roundtrip();
    test_parse_thumbs();
    return check_summary("test_vpath");
}
